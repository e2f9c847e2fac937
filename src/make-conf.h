/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * make-conf.h - the etc/portage/make.conf of a stage, as catalyst 4.1's
 * StageBase.write_make_conf() writes it: once for the build (setup=True,
 * at chroot setup) and once for what ships (setup=False, at clean, unless
 * sticky-config), then with cleanup_stages' removal of the bindist USE
 * lines.  docs/arch.md has the per-target details.
 *
 * Pure text in, text out: no files are read or written here.
 */
#ifndef ZEOLITE_MAKE_CONF_H
#define ZEOLITE_MAKE_CONF_H

#include <stdbool.h>

#include "arch.h"

typedef struct MakeConfInput {
	const char *target;          /* "stage1", "stage2", "stage3", "stage4"... */
	const Subarch *subarch;      /* from subarch_lookup() */
	/* The text of the seed's etc/portage/make.conf (catalyst reads the
	 * seed's file, sourced by bash, for every target: stage1 and stage2
	 * take some variables from the spec instead, see docs/arch.md).
	 * NULL when the seed has none. */
	const char *seed_make_conf;
	/* Spec keys, NULL when absent.  catalyst honours them per target:
	 * stage1 chost/common_flags/cflags/cxxflags/fcflags/fflags/ldflags,
	 * stage2 chost/cflags/cxxflags/ldflags; others ignore them. */
	const char *chost;
	const char *common_flags;
	const char *cflags;
	const char *cxxflags;
	const char *fcflags;
	const char *fflags;
	const char *ldflags;
	char *const *use;            /* spec <target>/use, NULL-terminated, or NULL */
	char *const *catalyst_use;   /* spec <target>/catalyst_use, or NULL */
	/* Options (catalyst.conf "options" and the spec's). */
	bool bindist;
	bool sticky_config;
	/* The config's target_distdir / target_pkgdir; NULL (or catalyst's
	 * defaults /var/cache/distfiles, /var/cache/binpkgs) writes nothing. */
	const char *target_distdir;
	const char *target_pkgdir;
} MakeConfInput;

/*
 * Render both texts.  *RET_BUILD: the make.conf the build runs with;
 * *RET_SHIPPED: the make.conf left in the stage.  Both malloc'd.
 * Returns 0, or -EINVAL with *RET_ERR (malloc'd) saying what is wrong
 * (a seed make.conf zeolite cannot read: "make.conf:LINE: ...").
 */
int make_conf_render(const MakeConfInput *in, char **ret_build, char **ret_shipped, char **ret_err);

/* As make_conf_render(), and *RET_VARS (when not NULL): the settings
 * write_make_conf used, "NAME=value" for each of COMMON_FLAGS, CFLAGS,
 * CXXFLAGS, FCFLAGS, FFLAGS, LDFLAGS, ASFLAGS, CBUILD, CHOST that is set,
 * NULL-terminated (strv_free()): catalyst exports them as clst_NAME. */
int make_conf_render_vars(const MakeConfInput *in, char **ret_build, char **ret_shipped, char ***ret_vars,
			  char **ret_err);

/*
 * Parse make.conf TEXT the way catalyst's read_makeconf() sees it after
 * bash sourced it: NAME=value assignments, quotes, ${VAR}/$VAR expansion
 * from earlier assignments, comments, backslash-newline.  Sets *RET to a
 * NULL-terminated array of "NAME", "value" pairs (strv_free()).
 * -EINVAL with *RET_ERR "make.conf:LINE: ..." on what it cannot read
 * (command substitution, source, ...).
 */
int make_conf_parse(const char *text, char ***ret, char **ret_err);

/* The value of NAME in pairs from make_conf_parse(), or NULL. */
const char *make_conf_get(char *const *pairs, const char *name);

#endif
