/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * plan.h - a build plan: a spec, the config and the subarch table turned
 * once into everything a build does (issue 11 item 1).  The executor
 * (cmd-build.c) reads the plan, never the spec; `build --dry-run` prints
 * it, `--dry-run --json` prints it as JSON (plan-json.c, docs/plan-json.md).
 *
 * plan_make() only reads: the spec, the config, the store's builds/ and
 * snapshots/ directories (to find the seed and the snapshot), and the host
 * paths the spec names (to check they exist).  It never locks, unpacks or
 * writes, so every spec of a command line can be planned before the first
 * build starts.
 */
#ifndef ZEOLITE_PLAN_H
#define ZEOLITE_PLAN_H

#include "arch.h"
#include "config.h"
#include "pack.h"
#include "seed.h"
#include "spec.h"
#include "store.h"

#include <stdio.h>

/* Where the stage4/root_overlay copies wait in the chroot. */
#define PLAN_ROOT_OVERLAY_DIR "/tmp/zeolite-root-overlay"
/* Where the target scripts are bind-mounted in the chroot. */
#define PLAN_TARGETS_DIR "/usr/share/zeolite/targets"

/* Where a jobserver-fifo outside /dev and /run is bound in the chroot. */
#define PLAN_JOBSERVER_FIFO "/run/zeolite-jobserver"
/* The chroot path of jobserver FIFO HOST: HOST itself under /dev/ or
 * /run/ (the sandbox's own file systems), else PLAN_JOBSERVER_FIFO.  The
 * FIFO is bind-mounted there; MAKEFLAGS and SANDBOX_WRITE name it. */
const char *plan_jobserver_in_chroot(const char *host);

typedef struct PlanMount {
	char *source;   /* host path */
	char *target;   /* path in the chroot */
	const char *kind; /* "bind", "squashfs", "overlay-lower", ... */
	bool read_only;
} PlanMount;

/* A repository the build sees: the snapshot (main) or one of spec repos. */
typedef struct PlanRepo {
	char *source;   /* host: the snapshot, or a repos directory */
	char *name;     /* its repo_name */
	char *location; /* in the chroot: <repo_basedir>/<name> */
	char *conf;     /* repos.conf/<name>.conf as catalyst's process_repos writes it, or NULL (none) */
	bool main;      /* the snapshot */
	bool image;     /* a .sqfs (loop-mounted), not a directory */
	bool keep;      /* keep_repos names it: its entry and mount point ship */
} PlanRepo;

typedef struct Plan {
	const Config *cfg;
	const Spec *spec;
	const Store *st;
	const char *spec_path;
	const char *target;
	const char *subarch;
	const char *rel_type;
	const char *version_stamp;
	const char *profile;
	const char *repo_name;
	char *name;             /* <target>-<subarch>-<version_stamp> */
	char *work;             /* absolute: tmp/<rel_type>/<name> */
	char *log;              /* absolute: logs/<rel_type>/<name>-latest.log (build-log.h) */
	char *lock;             /* absolute: tmp/<rel_type>/<name>.lock */
	char *seed_name;        /* file under builds/ */
	char *seed_path;
	char *seed_target;      /* the file seed_path's symlinks end at */
	SeedFormat seed_format;
	char *snapshot_name;    /* file under snapshots/ (or a path) */
	char *snapshot_path;
	bool snapshot_is_image;
	bool use_images;        /* cache_format "image": tarballs become images (image.h) */
	char *out_dir;          /* builds/<rel_type> */
	char *out_name;         /* file name of the tarball (rename_regexp applied) */
	char *targets_dir;      /* host directory of the target scripts */
	char *script;           /* the target script's path in the chroot */
	char *pkgcache_path;    /* host: packages/<rel_type>/<target>-<subarch> unless set */
	char *distdir;          /* host */
	char *repo_dir;         /* in the chroot: /var/db/repos/<repo_name> */
	char *confdir;          /* portage_confdir, or NULL */
	char *fsscript;         /* host path, or NULL */
	char *fsscript_chroot;  /* /tmp/<basename of fsscript>, or NULL */
	char **root_overlays;   /* host paths, NULL-terminated (maybe empty) */
	char **interpreters;    /* host paths, NULL-terminated (maybe empty) */
	Subarch arch;           /* from subarch_lookup() */
	char *make_conf_build;  /* etc/portage/make.conf during the build */
	char *make_conf_shipped;/* ... and in the stage that ships */
	bool make_conf_seed_read; /* the seed's make.conf was taken into account */
	char **make_conf_vars;  /* "CHOST=...", ... as write_make_conf used them (make-conf.h) */
	char **env;             /* "NAME=value", NULL-terminated: the scripts' environment */
	PlanMount *mounts;
	size_t n_mounts;
	PlanRepo *repos;        /* [0] is the snapshot, then spec repos in order */
	size_t n_repos;
	char *binrepos_conf;    /* etc/portage/binrepos.conf/gentoo.conf (binhost + binrepo_path), or NULL */
	char *sandbox_conf;     /* etc/sandbox.d/99catalyst (jobserver-fifo), or NULL */
	char *ccache_dir;       /* host directory bound at /var/tmp/ccache (option ccache), or NULL */
	char *port_logdir;      /* host: <port_logdir>/<target_subpath>, bound at target_logdir, or NULL */
	char *target_distdir;   /* in the chroot: where distdir is bound */
	char *target_pkgdir;    /* in the chroot: where the package cache is bound (option pkgcache) */
	bool pkgcache;          /* option pkgcache: the package cache is mounted */
	const char *const *steps; /* the target script's steps, in order */
	size_t n_steps;
	PackCompression compression;
	int threads;
	bool autoresume;
	bool keepwork;
	unsigned long timeout;  /* seconds */
} Plan;

/*
 * Make the plan of SPEC (already loaded and validated; SPEC_PATH for
 * messages).  Returns 0, or a negative errno with *RET_ERR set to
 * "FILE:LINE: what is wrong" (caller frees).  Release *RET with plan_done()
 * either way.
 */
int plan_make(const Config *cfg, const Store *st, const Spec *spec, const char *spec_path, Plan *ret,
	      char **ret_err);

/*
 * plan_make(), but the seed is not looked for: builds/<source_subpath> is
 * taken to be what another build of the same run will make (build -j,
 * plan; graph.h).  Everything else is checked as plan_make() does; the
 * build itself plans again with plan_make() once its seed exists.
 */
int plan_make_pending_seed(const Config *cfg, const Store *st, const Spec *spec, const char *spec_path, Plan *ret,
			   char **ret_err);

/* The config's options: catalyst's that zeolite honours pass; one it
 * does not honour, or an unknown word (with a "did you mean" hint), is an
 * error "FILE:LINE: ..." in D.  Returns 0 or -EINVAL. */
int plan_check_options(const Config *cfg, Diags *d);

/* Render the make.conf texts again with the seed's etc/portage/make.conf
 * (TEXT, or NULL when it has none): stage2-4 keep its flags and CHOST. */
int plan_set_seed_make_conf(Plan *p, const char *text, char **ret_err);

/* The value of environment variable NAME in the plan, or NULL. */
const char *plan_getenv(const Plan *p, const char *name);

/* The human-readable plan (build --dry-run). */
void plan_print_text(const Plan *p, FILE *f);
/* One JSON object, one line (build --dry-run --json): plan-json.c. */
void plan_to_json(const Plan *p, Buf *b);

void plan_done(Plan *p);

#endif
