// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-make-conf.c - make_conf_render() against catalyst 4.1's
 * write_make_conf() (texts written out by hand from its code), the seed's
 * flags for stage2-4, the subarch flags of every releng subarch, and the
 * seed make.conf reader.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch.h"
#include "make-conf.h"
#include "util.h"

#define HEAD \
	"# These settings were set by the catalyst build script that automatically\n" \
	"# built this stage.\n" \
	"# Please consult /usr/share/portage/config/make.conf.example for a more\n" \
	"# detailed example.\n"
#define TAIL \
	"\n# This sets the language of build output to English.\n" \
	"# Please keep this setting intact when reporting bugs.\n" \
	"LC_MESSAGES=C.UTF-8\n"
#define CHOST_NOTE \
	"\n# WARNING: Changing your CHOST is not something that should be done lightly.\n" \
	"# Please consult https://wiki.gentoo.org/wiki/Changing_the_CHOST_variable before changing.\n"
#define USE_NOTE \
	"# These are the USE and USE_EXPAND flags that were used for\n" \
	"# building in addition to what is provided by the profile.\n"
#define BINDIST_NOTE "\n# NOTE: This stage was built with the bindist USE flag enabled\n"
#define SAME_FLAGS \
	"CFLAGS=\"${COMMON_FLAGS}\"\n" \
	"CXXFLAGS=\"${COMMON_FLAGS}\"\n" \
	"FCFLAGS=\"${COMMON_FLAGS}\"\n" \
	"FFLAGS=\"${COMMON_FLAGS}\"\n"

static const char seed_conf[] =
	"# the seed's own make.conf\n"
	"COMMON_FLAGS=\"-O2 -pipe -march=x86-64-v3\"\n"
	"CFLAGS=\"${COMMON_FLAGS}\"\n"
	"CXXFLAGS=\"${COMMON_FLAGS}\"\n"
	"FCFLAGS=\"${COMMON_FLAGS}\"\n"
	"FFLAGS=\"${COMMON_FLAGS}\"\n"
	"export LDFLAGS='-Wl,-O1'\n"
	"CHOST=\"x86_64-pc-linux-gnu\"   # trailing comment\n"
	"USE=\"seedonly\"\n"
	"MAKEOPTS=\"-j99\"\n";

static Subarch lookup(const char *name)
{
	Subarch s = {0};
	_cleanup_free_ char *err = NULL;
	assert_int_equal(subarch_lookup_for_machine(NULL, name, "x86_64", &s, &err), 0);
	return s;
}

static void render(const MakeConfInput *in, char **build, char **shipped)
{
	_cleanup_free_ char *err = NULL;
	int r = make_conf_render(in, build, shipped, &err);
	if (r < 0)
		fail_msg("make_conf_render: %s", err ? err : "?");
}

static void test_stage1_golden(void **state)
{
	(void)state;
	Subarch s = lookup("i486");
	char *use[] = { "foo", "bar", "foo", NULL };
	MakeConfInput in = {
		.target = "stage1", .subarch = &s, .seed_make_conf = seed_conf,
		.use = use, .bindist = true,
	};
	char *build, *shipped;
	render(&in, &build, &shipped);
	assert_string_equal(build, HEAD
		"COMMON_FLAGS=\"-O2 -march=i486 -pipe\"\n" SAME_FLAGS
		CHOST_NOTE "CHOST=\"i486-pc-linux-gnu\"\n"
		BINDIST_NOTE USE_NOTE "USE=\"bar bindist foo\"\n" TAIL);
	/* what ships is cleaned for stage1 too (catalyst ships the build's
	 * copy in the stage1 root: docs/arch.md) */
	assert_string_equal(shipped, HEAD
		"COMMON_FLAGS=\"-O2 -march=i486 -pipe\"\n" SAME_FLAGS
		CHOST_NOTE "CHOST=\"i486-pc-linux-gnu\"\n"
		BINDIST_NOTE USE_NOTE "USE=\"bar foo\"\n" TAIL);
	free(build);
	free(shipped);

	/* the spec's stage1 keys win over the table; LDFLAGS gets the warning */
	in.chost = "i486-zeo-linux-gnu";
	in.common_flags = "-O1";
	in.cflags = "-O1";
	in.cxxflags = "-O3";
	in.ldflags = "-Wl,--as-needed";
	in.bindist = false;
	in.use = NULL;
	render(&in, &build, &shipped);
	assert_string_equal(build, HEAD
		"COMMON_FLAGS=\"-O1\"\n"
		"CFLAGS=\"${COMMON_FLAGS}\"\n"
		"CXXFLAGS=\"-O3\"\n"
		"FCFLAGS=\"${COMMON_FLAGS}\"\n"
		"FFLAGS=\"${COMMON_FLAGS}\"\n"
		"# LDFLAGS is unsupported.  USE AT YOUR OWN RISK!\n"
		"LDFLAGS=\"-Wl,--as-needed\"\n"
		CHOST_NOTE "CHOST=\"i486-zeo-linux-gnu\"\n" TAIL);
	free(build);
	free(shipped);
	subarch_done(&s);
}

/* stage3: the seed's flags and CHOST survive, not its USE or MAKEOPTS;
 * what ships has no catalyst_use and no bindist. */
static void test_stage3_keeps_seed(void **state)
{
	(void)state;
	Subarch s = lookup("amd64");
	char *use[] = { "bar", NULL };
	char *cuse[] = { "foo", NULL };
	MakeConfInput in = {
		.target = "stage3", .subarch = &s, .seed_make_conf = seed_conf,
		.use = use, .catalyst_use = cuse, .bindist = true,
		.common_flags = "-Ospec", .chost = "spec-chost", /* ignored by stage3 */
	};
	char *build, *shipped;
	render(&in, &build, &shipped);
	const char *flags = HEAD
		"COMMON_FLAGS=\"-O2 -pipe -march=x86-64-v3\"\n" SAME_FLAGS
		"# LDFLAGS is unsupported.  USE AT YOUR OWN RISK!\n"
		"LDFLAGS=\"-Wl,-O1\"\n"
		CHOST_NOTE "CHOST=\"x86_64-pc-linux-gnu\"\n";
	_cleanup_free_ char *want_build = xasprintf("%s%s%sUSE=\"bar bindist foo\"\n%s", flags,
						    BINDIST_NOTE, USE_NOTE, TAIL);
	_cleanup_free_ char *want_shipped = xasprintf("%s%s%sUSE=\"bar\"\n%s", flags,
						      BINDIST_NOTE, USE_NOTE, TAIL);
	assert_string_equal(build, want_build);
	assert_string_equal(shipped, want_shipped);
	assert_null(strstr(build, "MAKEOPTS"));
	assert_null(strstr(build, "seedonly"));
	free(build);
	free(shipped);

	/* only bindist: USE="bindist" while building, no USE line shipped */
	in.use = NULL;
	in.catalyst_use = NULL;
	render(&in, &build, &shipped);
	assert_non_null(strstr(build, "\nUSE=\"bindist\"\n"));
	assert_null(strstr(shipped, "USE=\""));
	free(build);
	free(shipped);

	/* sticky-config ships the build's text, less cleanup_stages' bindist line */
	in.sticky_config = true;
	render(&in, &build, &shipped);
	_cleanup_free_ char *want = xasprintf("%s%s%s%s", flags, BINDIST_NOTE, USE_NOTE, TAIL);
	assert_string_equal(shipped, want);
	free(build);
	free(shipped);
	subarch_done(&s);
}

/* stage2: CHOST/CFLAGS/CXXFLAGS/LDFLAGS from the spec, the rest from the seed. */
static void test_stage2_mix(void **state)
{
	(void)state;
	Subarch s = lookup("i686");
	MakeConfInput in = {
		.target = "stage2", .subarch = &s, .seed_make_conf = seed_conf,
		.chost = "i686-pc-linux-gnu", .cflags = "-O3",
	};
	char *build, *shipped;
	render(&in, &build, &shipped);
	assert_string_equal(build, HEAD
		"COMMON_FLAGS=\"-O2 -pipe -march=x86-64-v3\"\n"
		"CFLAGS=\"-O3\"\n"
		"CXXFLAGS=\"${COMMON_FLAGS}\"\n"
		"FCFLAGS=\"${COMMON_FLAGS}\"\n"
		"FFLAGS=\"${COMMON_FLAGS}\"\n"
		CHOST_NOTE "CHOST=\"i686-pc-linux-gnu\"\n" TAIL);
	assert_string_equal(shipped, build);
	free(build);
	free(shipped);
	subarch_done(&s);
}

static void test_no_seed_no_flags(void **state)
{
	(void)state;
	Subarch s = lookup("x86"); /* [x86.x86] is empty */
	MakeConfInput in = {
		.target = "stage4", .subarch = &s,
		.target_distdir = "/srv/distfiles", .target_pkgdir = "/var/cache/binpkgs",
	};
	char *build, *shipped;
	render(&in, &build, &shipped);
	assert_string_equal(build, HEAD "COMMON_FLAGS=\"${COMMON_FLAGS}\"\n" SAME_FLAGS
				       "DISTDIR=\"/srv/distfiles\"\n" TAIL);
	free(build);
	free(shipped);
	subarch_done(&s);
}

static void collect_subarches(const char *dir, char ***v, size_t *n, size_t *cap)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		assert_int_equal(stat(p, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			collect_subarches(p, v, n, cap);
			continue;
		}
		size_t l = strlen(de->d_name);
		if (l <= 5 || strcmp(de->d_name + l - 5, ".spec") != 0)
			continue;
		_cleanup_free_ char *text = NULL;
		size_t len;
		assert_int_equal(read_file_at(AT_FDCWD, p, 1 << 20, &text, &len), 0);
		for (char *line = text; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			if (strncmp(line, "subarch:", 8) == 0) {
				char *s = line + 8;
				s += strspn(s, " \t");
				xgrow(v, cap, *n + 2, sizeof(**v));
				(*v)[(*n)++] = xstrndup(s, strcspn(s, " \t\r"));
				(*v)[*n] = NULL;
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	closedir(d);
}

/* Every releng subarch: stage1's make.conf has the table's COMMON_FLAGS
 * and CHOST (test-arch checks the table against catalyst's toml). */
static void test_releng_stage1(void **state)
{
	(void)state;
	const char *sd = getenv("SHARED_DATA");
	_cleanup_free_ char *dir = xasprintf("%s/releng-specs", sd ? sd : "../shared/data");
	char **names = NULL;
	size_t n = 0, cap = 0;
	collect_subarches(dir, &names, &n, &cap);
	assert_true(n > 100);
	for (size_t i = 0; i < n; i++) {
		Subarch s = lookup(names[i]);
		MakeConfInput in = { .target = "stage1", .subarch = &s, .seed_make_conf = seed_conf };
		char *build, *shipped;
		render(&in, &build, &shipped);
		_cleanup_free_ char *cf = xasprintf("\nCOMMON_FLAGS=\"%s\"\n",
						    s.common_flags ? s.common_flags : "${COMMON_FLAGS}");
		if (!strstr(build, cf))
			fail_msg("%s: no %s in\n%s", names[i], cf, build);
		if (s.chost) {
			_cleanup_free_ char *ch = xasprintf("\nCHOST=\"%s\"\n", s.chost);
			if (!strstr(build, ch))
				fail_msg("%s: no %s", names[i], ch);
		} else
			assert_null(strstr(build, "CHOST="));
		free(build);
		free(shipped);
		subarch_done(&s);
	}
	strv_free(names);
}

static void test_parse(void **state)
{
	(void)state;
	char **v = NULL;
	char *err = NULL;
	assert_int_equal(make_conf_parse("A=1\nB=\"$A ${A}x\"\\\n C='$A'\nexport D=a\\ b\"c\"'d'\n"
					 "E=\"multi\nline\"; F=\\$A\n", &v, &err), 0);
	assert_string_equal(make_conf_get(v, "A"), "1");
	assert_string_equal(make_conf_get(v, "B"), "1 1x");
	assert_string_equal(make_conf_get(v, "C"), "$A");
	assert_string_equal(make_conf_get(v, "D"), "a bcd");
	assert_string_equal(make_conf_get(v, "E"), "multi\nline");
	assert_string_equal(make_conf_get(v, "F"), "$A");
	assert_null(make_conf_get(v, "G"));
	strv_free(v);

	assert_int_equal(make_conf_parse("A=1\n\nB=\"$(uname -m)\"\n", &v, &err), -EINVAL);
	assert_string_equal(err, "make.conf:3: command substitution is not supported");
	free(err);
	assert_int_equal(make_conf_parse("source /etc/foo\n", &v, &err), -EINVAL);
	assert_non_null(strstr(err, "make.conf:1:"));
	free(err);

	/* a seed make.conf zeolite cannot read fails the render */
	Subarch s = lookup("amd64");
	MakeConfInput in = { .target = "stage3", .subarch = &s, .seed_make_conf = "X=\"${Y:-z}\"\n" };
	char *build = NULL, *shipped = NULL;
	assert_int_equal(make_conf_render(&in, &build, &shipped, &err), -EINVAL);
	assert_non_null(strstr(err, "make.conf:1:"));
	free(err);
	subarch_done(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stage1_golden),
		cmocka_unit_test(test_stage3_keeps_seed),
		cmocka_unit_test(test_stage2_mix),
		cmocka_unit_test(test_no_seed_no_flags),
		cmocka_unit_test(test_releng_stage1),
		cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
