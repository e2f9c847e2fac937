// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * make-conf.c - catalyst 4.1's make.conf, computed (see make-conf.h and
 * docs/arch.md), and a reader for the seed's make.conf.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "make-conf.h"
#include "util.h"

/* ---- reading a make.conf as bash would source it ---- */

typedef struct Vars {
	char **v; /* name, value, name, value, ..., NULL */
	size_t n, cap;
} Vars;

const char *make_conf_get(char *const *pairs, const char *name)
{
	const char *found = NULL;
	for (size_t i = 0; pairs && pairs[i] && pairs[i + 1]; i += 2)
		if (strcmp(pairs[i], name) == 0)
			found = pairs[i + 1];
	return found;
}

static void vars_set(Vars *vs, const char *name, char *value)
{
	for (size_t i = 0; i < vs->n; i += 2)
		if (strcmp(vs->v[i], name) == 0) {
			free(vs->v[i + 1]);
			vs->v[i + 1] = value;
			return;
		}
	xgrow(&vs->v, &vs->cap, vs->n + 3, sizeof(*vs->v));
	vs->v[vs->n++] = xstrdup(name);
	vs->v[vs->n++] = value;
	vs->v[vs->n] = NULL;
}

static bool name_start(char c)
{
	return c == '_' || isalpha((unsigned char)c);
}

static bool name_char(char c)
{
	return c == '_' || isalnum((unsigned char)c);
}

typedef struct Reader {
	const char *p;
	unsigned line;
	char *err;
} Reader;

static int fail(Reader *r, const char *what)
{
	if (!r->err)
		r->err = xasprintf("make.conf:%u: %s", r->line, what);
	return -EINVAL;
}

/* At '$': expand ${NAME} or $NAME into B. */
static int expand(Reader *r, const Vars *vs, Buf *b)
{
	const char *p = r->p + 1;
	const char *start, *end;
	if (*p == '{') {
		start = ++p;
		while (name_char(*p))
			p++;
		if (*p != '}' || p == start || !name_start(*start))
			return fail(r, "only ${NAME} and $NAME expansions are supported");
		end = p++;
	} else if (name_start(*p)) {
		start = p;
		while (name_char(*p))
			p++;
		end = p;
	} else if (*p == '(')
		return fail(r, "command substitution is not supported");
	else {
		buf_putc(b, '$');
		r->p = p;
		return 0;
	}
	_cleanup_free_ char *name = xstrndup(start, end - start);
	const char *v = make_conf_get(vs->v, name);
	if (v)
		buf_puts(b, v);
	r->p = p;
	return 0;
}

/* Read one shell word (the value of an assignment) into B. */
static int read_word(Reader *r, const Vars *vs, Buf *b)
{
	int k;
	for (;;) {
		char c = *r->p;
		if (c == '\0' || c == '\n' || c == ' ' || c == '\t' || c == ';')
			return 0;
		if (c == '`')
			return fail(r, "command substitution is not supported");
		if (c == '\'') {
			const char *e = strchr(r->p + 1, '\'');
			if (!e)
				return fail(r, "unterminated '");
			for (const char *q = r->p + 1; q < e; q++)
				if (*q == '\n')
					r->line++;
			buf_put(b, r->p + 1, e - r->p - 1);
			r->p = e + 1;
		} else if (c == '"') {
			r->p++;
			for (;;) {
				c = *r->p;
				if (c == '\0')
					return fail(r, "unterminated \"");
				if (c == '"') {
					r->p++;
					break;
				}
				if (c == '`')
					return fail(r, "command substitution is not supported");
				if (c == '$') {
					if ((k = expand(r, vs, b)) < 0)
						return k;
					continue;
				}
				if (c == '\\' && strchr("$`\"\\\n", r->p[1])) {
					if (r->p[1] == '\n')
						r->line++;
					else
						buf_putc(b, r->p[1]);
					r->p += 2;
					continue;
				}
				if (c == '\n')
					r->line++;
				buf_putc(b, c);
				r->p++;
			}
		} else if (c == '$') {
			if ((k = expand(r, vs, b)) < 0)
				return k;
		} else if (c == '\\') {
			if (r->p[1] == '\n')
				r->line++;
			else if (r->p[1])
				buf_putc(b, r->p[1]);
			else
				return fail(r, "backslash at end of file");
			r->p += 2;
		} else if (strchr("|&<>()", c))
			return fail(r, "only NAME=value assignments are supported");
		else {
			buf_putc(b, c);
			r->p++;
		}
	}
}

int make_conf_parse(const char *text, char ***ret, char **ret_err)
{
	Reader r = { .p = text ? text : "", .line = 1 };
	Vars vs = {0};
	int k = 0;

	*ret_err = NULL;
	while (*r.p && k == 0) {
		while (*r.p == ' ' || *r.p == '\t' || *r.p == ';')
			r.p++;
		if (*r.p == '\n') {
			r.line++;
			r.p++;
			continue;
		}
		if (*r.p == '\0')
			break;
		if (*r.p == '#') {
			while (*r.p && *r.p != '\n')
				r.p++;
			continue;
		}
		if (strncmp(r.p, "export", 6) == 0 && (r.p[6] == ' ' || r.p[6] == '\t')) {
			r.p += 6;
			while (*r.p == ' ' || *r.p == '\t')
				r.p++;
		}
		const char *s = r.p;
		if (!name_start(*s)) {
			k = fail(&r, "only NAME=value assignments are supported");
			break;
		}
		while (name_char(*r.p))
			r.p++;
		if (*r.p != '=') {
			k = fail(&r, "only NAME=value assignments are supported");
			break;
		}
		_cleanup_free_ char *name = xstrndup(s, r.p - s);
		r.p++;
		Buf b = {0};
		k = read_word(&r, &vs, &b);
		if (k < 0) {
			buf_done(&b);
			break;
		}
		vars_set(&vs, name, buf_steal(&b));
		/* What follows on the line: more assignments (as bash takes
		 * them), a comment, or something the loop refuses. */
	}
	if (k < 0) {
		strv_free(vs.v);
		*ret_err = r.err;
		return k;
	}
	if (!vs.v)
		vs.v = xcalloc(1, sizeof(*vs.v));
	*ret = vs.v;
	return 0;
}

/* ---- catalyst's write_make_conf ---- */

enum {
	F_COMMON, F_CFLAGS, F_CXXFLAGS, F_FCFLAGS, F_FFLAGS, F_LDFLAGS, F_ASFLAGS,
	F_CBUILD, F_CHOST, F_N,
};

static const char *const flag_names[F_N] = {
	"COMMON_FLAGS", "CFLAGS", "CXXFLAGS", "FCFLAGS", "FFLAGS", "LDFLAGS", "ASFLAGS",
	"CBUILD", "CHOST",
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_words(char ***v, size_t *n, size_t *cap, char *const *words)
{
	for (size_t i = 0; words && words[i]; i++) {
		xgrow(v, cap, *n + 2, sizeof(**v));
		(*v)[(*n)++] = xstrdup(words[i]);
		(*v)[*n] = NULL;
	}
}

static void add_split(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (!s)
		return;
	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		const char *e = s;
		while (*e && *e != ' ' && *e != '\t' && *e != '\n')
			e++;
		if (e > s) {
			xgrow(v, cap, *n + 2, sizeof(**v));
			(*v)[(*n)++] = xstrndup(s, e - s);
			(*v)[*n] = NULL;
		}
		s = e;
	}
}

static char *write_make_conf(const MakeConfInput *in, const char *const *set, bool setup)
{
	Buf b = {0};
	buf_puts(&b, "# These settings were set by the catalyst build script that automatically\n"
		     "# built this stage.\n"
		     "# Please consult /usr/share/portage/config/make.conf.example for a more\n"
		     "# detailed example.\n");
	for (int f = F_COMMON; f <= F_ASFLAGS; f++) {
		if (f == F_LDFLAGS || f == F_ASFLAGS) {
			if (!set[f])
				continue;
			buf_printf(&b, "# %s is unsupported.  USE AT YOUR OWN RISK!\n", flag_names[f]);
		}
		/* catalyst compares with COMMON_FLAGS even when that is unset
		 * (a KeyError there); here an unset COMMON_FLAGS equals nothing. */
		if (!set[f] || (f != F_COMMON && set[F_COMMON] && strcmp(set[f], set[F_COMMON]) == 0))
			buf_printf(&b, "%s=\"${COMMON_FLAGS}\"\n", flag_names[f]);
		else
			buf_printf(&b, "%s=\"%s\"\n", flag_names[f], set[f]);
	}
	if (set[F_CBUILD])
		buf_printf(&b, "\n# This should not be changed unless you know exactly what you are doing.  You\n"
			       "# should probably be using a different stage, instead.\n"
			       "CBUILD=\"%s\"\n", set[F_CBUILD]);
	if (set[F_CHOST])
		buf_printf(&b, "\n# WARNING: Changing your CHOST is not something that should be done lightly.\n"
			       "# Please consult https://wiki.gentoo.org/wiki/Changing_the_CHOST_variable before changing.\n"
			       "CHOST=\"%s\"\n", set[F_CHOST]);

	if (in->bindist)
		buf_puts(&b, "\n# NOTE: This stage was built with the bindist USE flag enabled\n");
	char **use = NULL;
	size_t n = 0, cap = 0;
	if (setup || in->sticky_config) {
		add_words(&use, &n, &cap, in->catalyst_use);
		if (in->bindist) {
			char *const bd[] = { (char *)"bindist", NULL };
			add_words(&use, &n, &cap, bd);
		}
	}
	if (in->subarch)
		add_split(&use, &n, &cap, in->subarch->hostuse);
	add_words(&use, &n, &cap, in->use);
	if (n > 0) {
		qsort(use, n, sizeof(*use), str_cmp);
		buf_puts(&b, "# These are the USE and USE_EXPAND flags that were used for\n"
			     "# building in addition to what is provided by the profile.\n"
			     "USE=\"");
		for (size_t i = 0; i < n; i++) {
			if (i > 0 && strcmp(use[i], use[i - 1]) == 0)
				continue;
			if (i > 0)
				buf_putc(&b, ' ');
			buf_puts(&b, use[i]);
		}
		buf_puts(&b, "\"\n");
	}
	strv_free(use);

	if (in->target_distdir && strcmp(in->target_distdir, "/var/cache/distfiles") != 0)
		buf_printf(&b, "DISTDIR=\"%s\"\n", in->target_distdir);
	if (in->target_pkgdir && strcmp(in->target_pkgdir, "/var/cache/binpkgs") != 0)
		buf_printf(&b, "PKGDIR=\"%s\"\n", in->target_pkgdir);

	buf_puts(&b, "\n# This sets the language of build output to English.\n"
		     "# Please keep this setting intact when reporting bugs.\n"
		     "LC_MESSAGES=C.UTF-8\n");
	return buf_steal(&b);
}

/* cleanup_stages (targets/support/chroot-functions.sh): sed deletes every
 * line that contains USE="${USE} bindist" or USE="bindist". */
static char *drop_bindist_lines(const char *text)
{
	Buf b = {0};
	const char *p = text;
	while (*p) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p + 1) : strlen(p);
		_cleanup_free_ char *line = xstrndup(p, l);
		if (!strstr(line, "USE=\"${USE} bindist\"") && !strstr(line, "USE=\"bindist\""))
			buf_put(&b, p, l);
		p += l;
	}
	return buf_steal(&b);
}

int make_conf_render(const MakeConfInput *in, char **ret_build, char **ret_shipped, char **ret_err)
{
	return make_conf_render_vars(in, ret_build, ret_shipped, NULL, ret_err);
}

int make_conf_render_vars(const MakeConfInput *in, char **ret_build, char **ret_shipped, char ***ret_vars,
			  char **ret_err)
{
	const char *set[F_N] = {0};
	const char *spec[F_N] = {
		[F_COMMON] = in->common_flags, [F_CFLAGS] = in->cflags, [F_CXXFLAGS] = in->cxxflags,
		[F_FCFLAGS] = in->fcflags, [F_FFLAGS] = in->fflags, [F_LDFLAGS] = in->ldflags,
		[F_CHOST] = in->chost,
	};
	/* Which variables the target takes from the spec instead of the
	 * seed's make.conf (catalyst's override_*() in stage1.py, stage2.py). */
	bool from_spec[F_N] = {0};
	const char *t = in->target ? in->target : "";
	if (strcmp(t, "stage1") == 0) {
		for (int f = F_COMMON; f <= F_LDFLAGS; f++)
			from_spec[f] = true;
		from_spec[F_CHOST] = true;
	} else if (strcmp(t, "stage2") == 0) {
		from_spec[F_CHOST] = from_spec[F_CFLAGS] = from_spec[F_CXXFLAGS] = true;
		from_spec[F_LDFLAGS] = true;
	}

	*ret_err = NULL;
	char **seed = NULL;
	if (in->seed_make_conf) {
		int r = make_conf_parse(in->seed_make_conf, &seed, ret_err);
		if (r < 0)
			return r;
	}
	if (in->subarch) {
		set[F_COMMON] = in->subarch->common_flags;
		set[F_CHOST] = in->subarch->chost;
	}
	for (int f = 0; f < F_N; f++) {
		const char *v = from_spec[f] ? spec[f] : make_conf_get(seed, flag_names[f]);
		if (v)
			set[f] = v;
	}

	char *build = write_make_conf(in, set, true);
	/* What ships: write_make_conf(setup=False) unless sticky-config, then
	 * cleanup_stages' removal of the bindist lines.  For stage1 too: catalyst
	 * rewrites the seed's make.conf there and ships the build's copy in the
	 * stage1 root (catalyst_use, bindist); zeolite cleans the one that
	 * ships (docs/arch.md). */
	char *shipped;
	{
		_cleanup_free_ char *clean = in->sticky_config ? xstrdup(build)
							       : write_make_conf(in, set, false);
		shipped = drop_bindist_lines(clean);
	}
	if (ret_vars) {
		char **v = xcalloc(F_N + 1, sizeof(*v));
		size_t k = 0;
		for (int f = 0; f < F_N; f++)
			if (set[f])
				v[k++] = xasprintf("%s=%s", flag_names[f], set[f]);
		*ret_vars = v;
	}
	strv_free(seed);
	*ret_build = build;
	*ret_shipped = shipped;
	return 0;
}
