// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-arch.c - the subarch table against catalyst's own arch/NAME.toml
 * (read in place from $SHARED_DATA/catalyst-arch with zeolite's TOML
 * parser), every subarch a releng spec uses, unknown names, setarch,
 * and <sharedir>/arch overrides.
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
#include <unistd.h>

#include "arch.h"
#include "toml.h"
#include "util.h"

static const char *shared_data(void)
{
	const char *s = getenv("SHARED_DATA");
	return s ? s : "../shared/data";
}

/* Join a TOML string or array of strings; NULL when V is NULL. */
static char *joined(const TomlValue *v)
{
	if (!v)
		return NULL;
	if (v->type == TOML_STRING)
		return xstrdup(v->str);
	assert_int_equal(v->type, TOML_ARRAY);
	Buf b = {0};
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			buf_putc(&b, ' ');
		buf_puts(&b, v->items[i]->str);
	}
	return buf_steal(&b);
}

static void assert_same_str(const char *what, const char *name, const char *want, const char *got)
{
	if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
		fail_msg("%s of %s: catalyst '%s', zeolite '%s'", what, name, want ? want : "(none)",
			 got ? got : "(none)");
}

/* Check NAME's lookup against catalyst's toml; returns whether the toml
 * has it.  CHECKED counts the comparisons. */
static bool check_against_toml(const char *name, unsigned *checked)
{
	_cleanup_free_ char *dir = xasprintf("%s/catalyst-arch", shared_data());
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	bool found = false;
	while (!found && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= 5 || strcmp(de->d_name + l - 5, ".toml") != 0)
			continue;
		_cleanup_free_ char *arch = xstrndup(de->d_name, l - 5);
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
		_cleanup_free_ char *text = NULL;
		size_t len;
		assert_int_equal(read_file_at(AT_FDCWD, path, 1 << 20, &text, &len), 0);
		TomlValue *root = NULL;
		Diags diags = {0};
		assert_int_equal(toml_parse(path, text, len, &root, &diags), 0);
		diags_done(&diags);
		for (size_t i = 0; i < root->n && !found; i++) {
			if (strncmp(root->keys[i], arch, strlen(arch)) != 0)
				continue;
			const TomlValue *t = toml_get(root->items[i], name);
			if (!t)
				continue;
			found = true;
			Subarch s = {0};
			_cleanup_free_ char *err = NULL;
			assert_int_equal(subarch_lookup_for_machine(NULL, name, "x86_64", &s, &err), 0);
			assert_string_equal(s.arch, arch);
			assert_string_equal(s.section, root->keys[i]);
			assert_string_equal(s.name, name);
			const TomlValue *cf = toml_get(t, "COMMON_FLAGS");
			const TomlValue *ch = toml_get(t, "CHOST");
			assert_same_str("COMMON_FLAGS", name, cf ? cf->str : NULL, s.common_flags);
			assert_same_str("CHOST", name, ch ? ch->str : NULL, s.chost);
			const char *var = NULL;
			for (size_t k = 0; k < t->n; k++)
				if (strncmp(t->keys[k], "CPU_FLAGS_", 10) == 0)
					var = t->keys[k];
			assert_same_str("CPU_FLAGS_* name", name, var, s.cpu_flags_var);
			_cleanup_free_ char *flags = joined(var ? toml_get(t, var) : NULL);
			assert_same_str(var ? var : "CPU_FLAGS_*", name, flags, s.cpu_flags);
			_cleanup_free_ char *use = joined(toml_get(t, "USE"));
			assert_same_str("USE", name, use, s.use);
			/* catalyst's setarch: [setarch.<section>] with if_build
			 * == platform.machine(). */
			const TomlValue *sa = toml_get(root, "setarch");
			const TomlValue *e = sa ? toml_get(sa, root->keys[i]) : NULL;
			const char *want = NULL;
			if (e && strcmp(toml_get(e, "if_build")->str, "x86_64") == 0)
				want = toml_get(e, "arch")->str;
			assert_same_str("personality on x86_64", name, want, s.personality);
			subarch_done(&s);
			(*checked)++;
		}
		toml_free(root);
	}
	closedir(d);
	return found;
}

/* Every subarch of every catalyst toml. */
static void test_every_catalyst_subarch(void **state)
{
	(void)state;
	_cleanup_free_ char *dir = xasprintf("%s/catalyst-arch", shared_data());
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	unsigned checked = 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= 5 || strcmp(de->d_name + l - 5, ".toml") != 0)
			continue;
		_cleanup_free_ char *arch = xstrndup(de->d_name, l - 5);
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
		_cleanup_free_ char *text = NULL;
		size_t len;
		assert_int_equal(read_file_at(AT_FDCWD, path, 1 << 20, &text, &len), 0);
		TomlValue *root = NULL;
		Diags diags = {0};
		assert_int_equal(toml_parse(path, text, len, &root, &diags), 0);
		diags_done(&diags);
		for (size_t i = 0; i < root->n; i++) {
			if (strncmp(root->keys[i], arch, strlen(arch)) != 0)
				continue;
			const TomlValue *t = root->items[i];
			for (size_t k = 0; k < t->n; k++)
				assert_true(check_against_toml(t->keys[k], &checked));
		}
		toml_free(root);
	}
	closedir(d);
	/* catalyst 4.1 knows 175 subarches. */
	assert_int_equal(checked, 175);
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
				size_t e = strcspn(s, " \t\r");
				xgrow(v, cap, *n + 2, sizeof(**v));
				(*v)[(*n)++] = xstrndup(s, e);
				(*v)[*n] = NULL;
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	closedir(d);
}

/* Every subarch a releng spec uses is known and says what catalyst says. */
static void test_releng_subarches(void **state)
{
	(void)state;
	_cleanup_free_ char *dir = xasprintf("%s/releng-specs", shared_data());
	char **names = NULL;
	size_t n = 0, cap = 0;
	collect_subarches(dir, &names, &n, &cap);
	assert_true(n > 100);
	unsigned checked = 0;
	for (size_t i = 0; i < n; i++) {
		if (!check_against_toml(names[i], &checked))
			fail_msg("releng subarch %s is not in catalyst's toml", names[i]);
		assert_true(subarch_builtin_known(names[i]));
	}
	assert_int_equal(checked, n);
	strv_free(names);
}

static void test_unknown(void **state)
{
	(void)state;
	Subarch s = {0};
	char *err = NULL;
	assert_int_equal(subarch_lookup(NULL, "amd65", &s, &err), -ENOENT);
	assert_non_null(err);
	assert_non_null(strstr(err, "'amd65'"));
	assert_non_null(strstr(err, "did you mean 'amd64'"));
	free(err);
	assert_int_equal(subarch_lookup(NULL, "zzzzzzzzzzz", &s, &err), -ENOENT);
	assert_string_equal(err, "unknown subarch 'zzzzzzzzzzz'");
	free(err);
	assert_false(subarch_builtin_known("amd65"));
	subarch_done(&s);
}

static void test_personality(void **state)
{
	(void)state;
	static const struct {
		const char *name, *machine, *want;
	} cases[] = {
		{ "i686", "x86_64", "linux32" },
		{ "i686", "i686", NULL },
		{ "amd64", "x86_64", NULL },
		{ "ppc", "ppc64", "linux32" },
		{ "power9le", "ppc64le", NULL },
		{ "sparc", "sparc64", "linux32" },
		{ "sparc64", "sparc64", NULL },
		{ "s390", "s390x", "s390" },
		{ "s390x", "s390x", NULL },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		Subarch s = {0};
		_cleanup_free_ char *err = NULL;
		assert_int_equal(subarch_lookup_for_machine(NULL, cases[i].name, cases[i].machine, &s, &err), 0);
		assert_same_str("personality", cases[i].name, cases[i].want, s.personality);
		subarch_done(&s);
	}
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_override(void **state)
{
	(void)state;
	char tmp[] = "/tmp/test-arch.XXXXXX";
	assert_non_null(mkdtemp(tmp));
	_cleanup_free_ char *ad = xasprintf("%s/arch", tmp);
	_cleanup_free_ char *f = xasprintf("%s/x86.toml", ad);
	_cleanup_free_ char *g = xasprintf("%s/zz.toml", ad);
	assert_int_equal(mkdir(ad, 0755), 0);
	write_text(f, "[setarch.x86]\narch = \"linux32\"\nif_build = \"x86_64\"\n\n"
		      "[x86.i686]\nCOMMON_FLAGS = \"-O3 -march=i686\"\nCHOST = \"i686-zeo-linux-gnu\"\n"
		      "CPU_FLAGS_X86 = [\"mmx\", \"sse\"]\n"
		      "[x86.newcpu]\nCOMMON_FLAGS = \"-O2 -march=new\"\n");
	Subarch s = {0};
	char *err = NULL;
	assert_int_equal(subarch_lookup_for_machine(tmp, "i686", "x86_64", &s, &err), 0);
	assert_string_equal(s.common_flags, "-O3 -march=i686");
	assert_string_equal(s.chost, "i686-zeo-linux-gnu");
	assert_string_equal(s.cpu_flags_var, "CPU_FLAGS_X86");
	assert_string_equal(s.cpu_flags, "mmx sse");
	assert_string_equal(s.personality, "linux32");
	subarch_done(&s);
	/* a new subarch, and the built-in ones the file does not name */
	assert_int_equal(subarch_lookup_for_machine(tmp, "newcpu", "x86_64", &s, &err), 0);
	assert_string_equal(s.common_flags, "-O2 -march=new");
	assert_null(s.chost);
	subarch_done(&s);
	assert_int_equal(subarch_lookup_for_machine(tmp, "i486", "x86_64", &s, &err), 0);
	assert_string_equal(s.chost, "i486-pc-linux-gnu");
	subarch_done(&s);

	/* a key zeolite does not know: FILE:LINE */
	write_text(g, "[zz.thing]\nCOMMON_FLAGS = \"-O2\"\nFOO = \"bar\"\n");
	assert_int_equal(subarch_lookup_for_machine(tmp, "thing", "x86_64", &s, &err), -EINVAL);
	_cleanup_free_ char *want = xasprintf("%s:3: zz.thing: key 'FOO'", g);
	assert_non_null(strstr(err, want));
	free(err);
	/* a broken file */
	write_text(g, "[zz.thing\n");
	assert_int_equal(subarch_lookup_for_machine(tmp, "thing", "x86_64", &s, &err), -EINVAL);
	assert_non_null(strstr(err, g));
	free(err);

	assert_int_equal(unlink(f), 0);
	assert_int_equal(unlink(g), 0);
	assert_int_equal(rmdir(ad), 0);
	assert_int_equal(rmdir(tmp), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_catalyst_subarch),
		cmocka_unit_test(test_releng_subarches),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_personality),
		cmocka_unit_test(test_override),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
