// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * arch.c - subarch lookup: <sharedir>/arch/NAME.toml overrides, then the
 * built-in table (arch-table.c).  See arch.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "arch.h"
#include "arch-table.h"
#include "toml.h"
#include "util.h"

void subarch_done(Subarch *s)
{
	if (!s)
		return;
	free(s->arch);
	free(s->section);
	free(s->name);
	free(s->chost);
	free(s->common_flags);
	free(s->cpu_flags_var);
	free(s->cpu_flags);
	free(s->use);
	free(s->hostuse);
	free(s->setarch_arch);
	free(s->setarch_if_build);
	free(s->personality);
	memset(s, 0, sizeof(*s));
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

bool subarch_builtin_known(const char *name)
{
	for (size_t i = 0; i < arch_table_len; i++)
		if (strcmp(arch_table[i].name, name) == 0)
			return true;
	return false;
}

static void set_personality(Subarch *s, const char *machine)
{
	free(s->personality);
	s->personality = NULL;
	if (s->setarch_arch && s->setarch_if_build && machine &&
	    strcmp(s->setarch_if_build, machine) == 0)
		s->personality = xstrdup(s->setarch_arch);
}

static bool lookup_builtin(const char *name, Subarch *ret)
{
	for (size_t i = 0; i < arch_table_len; i++) {
		const ArchRow *r = &arch_table[i];
		if (strcmp(r->name, name) != 0)
			continue;
		*ret = (Subarch) {
			.arch = xstrdup(r->arch),
			.section = xstrdup(r->section),
			.name = xstrdup(r->name),
			.chost = dup_or_null(r->chost),
			.common_flags = dup_or_null(r->common_flags),
			.cpu_flags_var = dup_or_null(r->cpu_flags_var),
			.cpu_flags = dup_or_null(r->cpu_flags),
			.use = dup_or_null(r->use),
		};
		for (size_t j = 0; j < arch_setarch_len; j++)
			if (strcmp(arch_setarch[j].section, r->section) == 0) {
				ret->setarch_arch = xstrdup(arch_setarch[j].arch);
				ret->setarch_if_build = xstrdup(arch_setarch[j].if_build);
			}
		return true;
	}
	return false;
}

/* A TOML string, or an array of strings joined by spaces. */
static int toml_words(const char *path, const char *key, const TomlValue *v, bool allow_array,
		      char **ret, char **ret_err)
{
	if (v->type == TOML_STRING) {
		*ret = xstrdup(v->str);
		return 0;
	}
	if (v->type == TOML_ARRAY && allow_array) {
		Buf b = {0};
		for (size_t i = 0; i < v->n; i++) {
			if (v->items[i]->type != TOML_STRING) {
				buf_done(&b);
				*ret_err = xasprintf("%s:%u: %s: items must be strings, not %s", path,
						     v->items[i]->line, key,
						     toml_type_name(v->items[i]->type));
				return -EINVAL;
			}
			if (i > 0)
				buf_putc(&b, ' ');
			buf_puts(&b, v->items[i]->str);
		}
		*ret = buf_steal(&b);
		return 0;
	}
	*ret_err = xasprintf("%s:%u: %s must be %s, not %s", path, v->line, key,
			     allow_array ? "an array of strings" : "a string", toml_type_name(v->type));
	return -EINVAL;
}

static int fill_from_toml(const char *path, const char *arch, const char *section,
			  const char *name, const TomlValue *t, const TomlValue *root,
			  Subarch *ret, char **ret_err)
{
	Subarch s = {
		.arch = xstrdup(arch),
		.section = xstrdup(section),
		.name = xstrdup(name),
	};
	int r = 0;

	if (t->type != TOML_TABLE) {
		*ret_err = xasprintf("%s:%u: %s.%s must be a table, not %s", path, t->line, section,
				     name, toml_type_name(t->type));
		r = -EINVAL;
		goto fail;
	}
	for (size_t i = 0; i < t->n && r == 0; i++) {
		const char *k = t->keys[i];
		const TomlValue *v = t->items[i];
		if (strcmp(k, "COMMON_FLAGS") == 0)
			r = toml_words(path, k, v, false, &s.common_flags, ret_err);
		else if (strcmp(k, "CHOST") == 0)
			r = toml_words(path, k, v, false, &s.chost, ret_err);
		else if (strcmp(k, "USE") == 0)
			r = toml_words(path, k, v, true, &s.use, ret_err);
		else if (strcmp(k, "HOSTUSE") == 0)
			r = toml_words(path, k, v, true, &s.hostuse, ret_err);
		else if (strncmp(k, "CPU_FLAGS_", 10) == 0 && k[10] && !s.cpu_flags_var) {
			s.cpu_flags_var = xstrdup(k);
			r = toml_words(path, k, v, true, &s.cpu_flags, ret_err);
		} else {
			*ret_err = xasprintf("%s:%u: %s.%s: key '%s' is not supported (zeolite knows "
					     "COMMON_FLAGS, CHOST, one CPU_FLAGS_*, USE, HOSTUSE)",
					     path, v->line, section, name, k);
			r = -EINVAL;
		}
	}
	if (r < 0)
		goto fail;

	const TomlValue *sa = toml_get(root, "setarch");
	if (sa && sa->type == TOML_TABLE) {
		const TomlValue *e = toml_get(sa, section);
		if (e) {
			const TomlValue *a = e->type == TOML_TABLE ? toml_get(e, "arch") : NULL;
			const TomlValue *b = e->type == TOML_TABLE ? toml_get(e, "if_build") : NULL;
			if (!a || !b || a->type != TOML_STRING || b->type != TOML_STRING) {
				*ret_err = xasprintf("%s:%u: setarch.%s needs string keys arch and if_build",
						     path, e->line, section);
				r = -EINVAL;
				goto fail;
			}
			s.setarch_arch = xstrdup(a->str);
			s.setarch_if_build = xstrdup(b->str);
		}
	}
	*ret = s;
	return 0;
fail:
	subarch_done(&s);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 and *RET filled when found in DIR's overrides, 0 when not, or -errno. */
static int lookup_overrides(const char *dir, const char *name, Subarch *ret, char **ret_err)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		int r = -errno;
		*ret_err = xasprintf("%s: %s", dir, strerror(errno));
		return r;
	}
	char **files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l <= 5 || strcmp(de->d_name + l - 5, ".toml") != 0)
			continue;
		xgrow(&files, &cap, n + 2, sizeof(*files));
		files[n++] = xstrdup(de->d_name);
		files[n] = NULL;
	}
	closedir(d);
	if (n > 1)
		qsort(files, n, sizeof(*files), name_cmp);

	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, files[i]);
		_cleanup_free_ char *arch = xstrndup(files[i], strlen(files[i]) - 5);
		_cleanup_free_ char *text = NULL;
		size_t len;
		r = read_file_at(AT_FDCWD, path, 16 << 20, &text, &len);
		if (r < 0) {
			*ret_err = xasprintf("%s: %s", path, strerror(-r));
			break;
		}
		TomlValue *root = NULL;
		Diags diags = {0};
		r = toml_parse(path, text, len, &root, &diags);
		if (r < 0) {
			*ret_err = xstrdup(diags.n ? diags.v[0].msg : path);
			diags_done(&diags);
			break;
		}
		diags_done(&diags);
		for (size_t j = 0; j < root->n; j++) {
			const char *sec = root->keys[j];
			const TomlValue *t = root->items[j];
			if (strncmp(sec, arch, strlen(arch)) != 0 || t->type != TOML_TABLE)
				continue;
			const TomlValue *sub = toml_get(t, name);
			if (!sub)
				continue;
			r = fill_from_toml(path, arch, sec, name, sub, root, ret, ret_err);
			if (r == 0)
				r = 1;
			break;
		}
		toml_free(root);
	}
	strv_free(files);
	return r;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 64;
	size_t prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t c = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < c)
				c = prev[j] + 1;
			if (cur[j - 1] + 1 < c)
				c = cur[j - 1] + 1;
			cur[j] = c;
		}
		memcpy(prev, cur, sizeof(prev));
	}
	return prev[lb];
}

int subarch_lookup_for_machine(const char *sharedir, const char *name, const char *machine,
			       Subarch *ret, char **ret_err)
{
	Subarch s = {0};
	*ret_err = NULL;

	if (sharedir) {
		_cleanup_free_ char *dir = xasprintf("%s/arch", sharedir);
		int r = lookup_overrides(dir, name, &s, ret_err);
		if (r < 0)
			return r;
		if (r > 0) {
			set_personality(&s, machine);
			*ret = s;
			return 0;
		}
	}
	if (lookup_builtin(name, &s)) {
		set_personality(&s, machine);
		*ret = s;
		return 0;
	}

	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; i < arch_table_len; i++) {
		size_t dist = edit_distance(name, arch_table[i].name);
		if (dist < best_d) {
			best_d = dist;
			best = arch_table[i].name;
		}
	}
	if (best)
		*ret_err = xasprintf("unknown subarch '%s' (did you mean '%s'?)", name, best);
	else
		*ret_err = xasprintf("unknown subarch '%s'", name);
	return -ENOENT;
}

int subarch_lookup(const char *sharedir, const char *name, Subarch *ret, char **ret_err)
{
	struct utsname u;
	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	return subarch_lookup_for_machine(sharedir, name, u.machine, ret, ret_err);
}
