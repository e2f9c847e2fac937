// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config.c - the configuration file, in catalyst.conf's TOML shape.
 *
 * Every key catalyst 4.1 reads from catalyst.conf is known here, plus
 * zeolite's lock_timeout.  Unlike catalyst, an unknown key, a table or a
 * value of the wrong type is an error: a typo must not silently fall back
 * to a default.  A file is checked completely before any of it is applied,
 * so a bad file leaves the Config as it was.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack-modes.h"
#include "spec.h"
#include "toml.h"

#define CONFIG_MAX_SIZE (1024 * 1024)

typedef enum KeyKind {
	KEY_STRING,        /* char *; gets %(key)s substitution */
	KEY_STRV,          /* char **: an array of strings */
	KEY_DIGESTS,       /* char **: an array of digest names */
	KEY_DIGEST_FORMAT, /* char *: "bsd" or "linux" */
	KEY_COMPRESSION,   /* char *: a compression mode of pack-modes.h */
	KEY_CACHE_FORMAT,  /* char *: "image" or "tree" */
	KEY_JOBS,          /* long, >= 1 */
	KEY_LOAD,          /* char *: a number > 0, as text */
	KEY_TMPFS,         /* var_tmpfs_portage: size in GiB, >= 0 */
	KEY_TIMEOUT,       /* unsigned long (seconds, days), >= 0 */
} KeyKind;

typedef struct ConfigKey {
	const char *name;
	KeyKind kind;
	size_t offset;
} ConfigKey;

#define STR(name, field) { name, KEY_STRING, offsetof(Config, field) }

static const ConfigKey config_keys[] = {
	STR("binhost", binhost),
	{ "cache_format", KEY_CACHE_FORMAT, offsetof(Config, cache_format) },
	{ "compression_mode", KEY_COMPRESSION, offsetof(Config, compression_mode) },
	{ "digests", KEY_DIGESTS, offsetof(Config, digests) },
	{ "digest_format", KEY_DIGEST_FORMAT, offsetof(Config, digest_format) },
	{ "distcc_hosts", KEY_STRV, offsetof(Config, distcc_hosts) },
	STR("distdir", distdir),
	STR("envscript", envscript),
	{ "jobs", KEY_JOBS, offsetof(Config, jobs) },
	STR("jobserver-fifo", jobserver_fifo),
	{ "load-average", KEY_LOAD, offsetof(Config, load_average) },
	{ "lock_timeout", KEY_TIMEOUT, offsetof(Config, lock_timeout) },
	{ "log_retention_days", KEY_TIMEOUT, offsetof(Config, log_retention_days) },
	{ "options", KEY_STRV, offsetof(Config, options) },
	STR("port_logdir", port_logdir),
	STR("repo_basedir", repo_basedir),
	STR("repo_name", repo_name),
	STR("repo_openpgp_key_path", repo_openpgp_key_path),
	STR("repos_storedir", repos_storedir),
	STR("sharedir", sharedir),
	STR("storedir", storedir),
	STR("target_distdir", target_distdir),
	STR("target_logdir", target_logdir),
	STR("target_pkgdir", target_pkgdir),
	{ "var_tmpfs_portage", KEY_TMPFS, offsetof(Config, var_tmpfs_portage_size) },
};

/* The digests catalyst can always compute (python's
 * hashlib.algorithms_guaranteed, less the variable-length shake_*). */
static const char *const valid_digests[] = {
	"blake2b", "blake2s", "md5", "sha1", "sha224", "sha256", "sha384", "sha512",
	"sha3_224", "sha3_256", "sha3_384", "sha3_512",
};

static char **field_str(Config *c, const ConfigKey *k)
{
	return (char **) ((char *) c + k->offset);
}

static char ***field_strv(Config *c, const ConfigKey *k)
{
	return (char ***) ((char *) c + k->offset);
}

static int find_key(const char *name, size_t len)
{
	for (size_t i = 0; i < ELEMENTSOF(config_keys); i++)
		if (strlen(config_keys[i].name) == len && strncmp(config_keys[i].name, name, len) == 0)
			return (int) i;
	return -1;
}

static char **strv_new(const char *const *v, size_t n)
{
	char **r = xcalloc(n + 1, sizeof(*r));

	for (size_t i = 0; i < n; i++)
		r[i] = xstrdup(v[i]);
	return r;
}

void config_init(Config *c)
{
	/* catalyst 4.1's confdefaults, with zeolite's names where the
	 * product differs (storedir, sharedir). */
	*c = (Config) {
		.storedir = xstrdup(CONFIG_DEFAULT_STOREDIR),
		.sharedir = xstrdup(CONFIG_DEFAULT_SHAREDIR),
		.distdir = xstrdup("/var/cache/distfiles"),
		.repo_basedir = xstrdup("/var/db/repos"),
		.repo_name = xstrdup("gentoo"),
		.repos_storedir = xstrdup("%(storedir)s/repos"),
		.target_distdir = xstrdup("/var/cache/distfiles"),
		.target_pkgdir = xstrdup("/var/cache/binpkgs"),
		.target_logdir = xstrdup("/var/log/portage"),
		.repo_openpgp_key_path = xstrdup("/usr/share/openpgp-keys/gentoo-release.asc"),
		.compression_mode = xstrdup("lbzip2"),
		.digest_format = xstrdup("linux"),
		.cache_format = xstrdup("image"),
		/* catalyst has no default digests: without the key, no DIGESTS. */
		.digests = strv_new(NULL, 0),
		.options = strv_new(NULL, 0),
		.distcc_hosts = strv_new(NULL, 0),
		.lock_timeout = CONFIG_DEFAULT_LOCK_TIMEOUT,
		.log_retention_days = CONFIG_DEFAULT_LOG_RETENTION_DAYS,
		.files = strv_new(NULL, 0),
		.origins = xcalloc(ELEMENTSOF(config_keys), sizeof(ConfigOrigin)),
	};
}

void config_done(Config *c)
{
	for (size_t i = 0; i < ELEMENTSOF(config_keys); i++) {
		const ConfigKey *k = &config_keys[i];

		switch (k->kind) {
		case KEY_STRING:
		case KEY_DIGEST_FORMAT:
		case KEY_COMPRESSION:
		case KEY_CACHE_FORMAT:
		case KEY_LOAD:
			free(*field_str(c, k));
			break;
		case KEY_STRV:
		case KEY_DIGESTS:
			strv_free(*field_strv(c, k));
			break;
		case KEY_JOBS:
		case KEY_TMPFS:
		case KEY_TIMEOUT:
			break;
		}
	}
	strv_free(c->files);
	free(c->origins);
	*c = (Config) { 0 };
}

bool config_has_option(const Config *c, const char *option)
{
	for (char **o = c->options; o && *o; o++)
		if (strcmp(*o, option) == 0)
			return true;
	return false;
}

ConfigOrigin config_origin(const Config *c, const char *key)
{
	int i = find_key(key, strlen(key));
	ConfigOrigin none = { 0 };

	if (i < 0 || !c->origins)
		return none;
	return c->origins[i];
}

/* ---- loading --------------------------------------------------------- */

static int check_strv(const char *path, const ConfigKey *k, const TomlValue *v, Diags *d)
{
	if (v->type != TOML_ARRAY) {
		diags_add(d, false, "%s:%u: '%s' must be an array of strings", path, v->line, k->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < v->n; i++)
		if (v->items[i]->type != TOML_STRING) {
			diags_add(d, false, "%s:%u: '%s' must be an array of strings", path,
				  v->items[i]->line, k->name);
			return -EINVAL;
		}
	return 0;
}

static int check_integer(const char *path, const ConfigKey *k, const TomlValue *v, int64_t min,
			 const char *range_msg, Diags *d)
{
	if (v->type != TOML_INTEGER) {
		diags_add(d, false, "%s:%u: '%s' must be an integer", path, v->line, k->name);
		return -EINVAL;
	}
	if (v->integer < min || (uint64_t) v->integer > LONG_MAX) {
		diags_add(d, false, "%s:%u: '%s' %s", path, v->line, k->name, range_msg);
		return -EINVAL;
	}
	return 0;
}

static int check_value(const char *path, const ConfigKey *k, const TomlValue *v, Diags *d)
{
	int r;

	switch (k->kind) {
	case KEY_STRING:
		if (v->type != TOML_STRING) {
			diags_add(d, false, "%s:%u: '%s' must be a string", path, v->line, k->name);
			return -EINVAL;
		}
		return 0;
	case KEY_DIGEST_FORMAT:
		if (v->type != TOML_STRING) {
			diags_add(d, false, "%s:%u: '%s' must be a string", path, v->line, k->name);
			return -EINVAL;
		}
		if (strcmp(v->str, "bsd") != 0 && strcmp(v->str, "linux") != 0) {
			diags_add(d, false, "%s:%u: '%s' must be \"bsd\" or \"linux\", not \"%s\"", path,
				  v->line, k->name, v->str);
			return -EINVAL;
		}
		return 0;
	case KEY_COMPRESSION:
		if (v->type != TOML_STRING) {
			diags_add(d, false, "%s:%u: '%s' must be a string", path, v->line, k->name);
			return -EINVAL;
		}
		/* Exactly the modes the packer writes, as for a spec's key. */
		if (!pack_mode_find(v->str)) {
			_cleanup_free_ char *all = pack_mode_names();

			diags_add(d, false, "%s:%u: unknown compression_mode \"%s\" (one of: %s)", path,
				  v->line, v->str, all);
			return -EINVAL;
		}
		return 0;
	case KEY_CACHE_FORMAT:
		if (v->type != TOML_STRING) {
			diags_add(d, false, "%s:%u: '%s' must be a string", path, v->line, k->name);
			return -EINVAL;
		}
		if (strcmp(v->str, "image") != 0 && strcmp(v->str, "tree") != 0) {
			diags_add(d, false, "%s:%u: '%s' must be \"image\" or \"tree\", not \"%s\"", path,
				  v->line, k->name, v->str);
			return -EINVAL;
		}
		return 0;
	case KEY_STRV:
		return check_strv(path, k, v, d);
	case KEY_DIGESTS:
		r = check_strv(path, k, v, d);
		if (r < 0)
			return r;
		for (size_t i = 0; i < v->n; i++) {
			bool ok = false;

			for (size_t j = 0; j < ELEMENTSOF(valid_digests); j++)
				if (strcmp(v->items[i]->str, valid_digests[j]) == 0)
					ok = true;
			if (!ok) {
				_cleanup_(buf_done) Buf b = { 0 };

				for (size_t j = 0; j < ELEMENTSOF(valid_digests); j++)
					buf_printf(&b, "%s%s", j ? ", " : "", valid_digests[j]);
				diags_add(d, false, "%s:%u: unknown digest '%s' in 'digests' (valid: %s)",
					  path, v->items[i]->line, v->items[i]->str, b.data);
				r = -EINVAL;
			}
		}
		return r;
	case KEY_JOBS:
		return check_integer(path, k, v, 1, "must be at least 1", d);
	case KEY_TMPFS:
		return check_integer(path, k, v, 0, "must not be negative", d);
	case KEY_TIMEOUT:
		return check_integer(path, k, v, 0, "must not be negative", d);
	case KEY_LOAD:
		/* emerge exits 2 on "--load-average 0" (checked with the real
		 * portage, docs/testing.md): refused here instead. */
		if (v->type == TOML_INTEGER)
			return check_integer(path, k, v, 1, "must be greater than 0 (emerge refuses --load-average 0)", d);
		if (v->type != TOML_FLOAT) {
			diags_add(d, false, "%s:%u: '%s' must be a number", path, v->line, k->name);
			return -EINVAL;
		}
		if (v->str[0] == '-') {
			diags_add(d, false, "%s:%u: '%s' must not be negative", path, v->line, k->name);
			return -EINVAL;
		}
		if (!(strtod(v->str, NULL) > 0)) {
			diags_add(d, false, "%s:%u: '%s' must be greater than 0 (emerge refuses --load-average 0)", path,
				  v->line, k->name);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static void apply_value(Config *c, const ConfigKey *k, const TomlValue *v)
{
	switch (k->kind) {
	case KEY_STRING:
	case KEY_DIGEST_FORMAT:
	case KEY_COMPRESSION:
	case KEY_CACHE_FORMAT:
		free(*field_str(c, k));
		*field_str(c, k) = xstrdup(v->str);
		break;
	case KEY_LOAD:
		free(*field_str(c, k));
		if (v->type == TOML_INTEGER)
			*field_str(c, k) = xasprintf("%" PRId64, v->integer);
		else
			*field_str(c, k) = xstrdup(v->str[0] == '+' ? v->str + 1 : v->str);
		break;
	case KEY_STRV:
	case KEY_DIGESTS: {
		char **l = xcalloc(v->n + 1, sizeof(*l));

		for (size_t i = 0; i < v->n; i++)
			l[i] = xstrdup(v->items[i]->str);
		strv_free(*field_strv(c, k));
		*field_strv(c, k) = l;
		break;
	}
	case KEY_JOBS:
		c->jobs = (long) v->integer;
		break;
	case KEY_TMPFS:
		c->var_tmpfs_portage_size = (long) v->integer;
		c->var_tmpfs_portage = v->integer > 0;
		break;
	case KEY_TIMEOUT:
		*(unsigned long *) ((char *) c + k->offset) = (unsigned long) v->integer;
		break;
	}
}

static void toml_freep(TomlValue **v)
{
	toml_free(*v);
}

/* The header that made table T (named NAME): T's own, or for a table
 * made implicitly by [t.sub], the first such sub-table's. */
static char *table_header_name(const char *name, const TomlValue *t)
{
	_cleanup_(buf_done) Buf b = { 0 };

	buf_puts(&b, name);
	while (!t->defined) {
		size_t i;

		for (i = 0; i < t->n; i++)
			if (t->items[i]->type == TOML_TABLE)
				break;
		if (i == t->n)
			break;
		buf_printf(&b, ".%s", t->keys[i]);
		t = t->items[i];
	}
	return buf_steal(&b);
}

int config_load(Config *c, const char *path, Diags *d)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_(toml_freep) TomlValue *root = NULL;
	const char *file;
	size_t len = 0, n;
	int r, ret = 0;

	r = read_file_at(AT_FDCWD, path, CONFIG_MAX_SIZE, &text, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0) {
		diags_add(d, false, "%s: cannot read: %s", path,
			  r == -EFBIG ? "file too large" : strerror(-r));
		return r;
	}
	r = toml_parse_full(path, text, len, TOML_ALLOW_FLOAT, &root, d);
	if (r < 0)
		return r;

	for (size_t i = 0; i < root->n; i++) {
		const char *name = root->keys[i];
		const TomlValue *v = root->items[i];
		int idx;

		if (v->type == TOML_TABLE) {
			if (v->defined || !v->dotted_section) {
				_cleanup_free_ char *header = table_header_name(name, v);

				diags_add(d, false,
					  "%s:%u: table [%s] is not allowed: the config file has only top-level keys",
					  path, v->line, header);
			} else
				diags_add(d, false,
					  "%s:%u: dotted key '%s.%s' is not allowed: the config file has only top-level keys",
					  path, v->line, name, v->n > 0 ? v->keys[0] : "");
			ret = -EINVAL;
			continue;
		}
		idx = find_key(name, strlen(name));
		if (idx < 0) {
			const char *names[ELEMENTSOF(config_keys)];
			const char *hint;

			for (size_t j = 0; j < ELEMENTSOF(config_keys); j++)
				names[j] = config_keys[j].name;
			hint = spec_did_you_mean(name, names, ELEMENTSOF(config_keys));
			if (hint)
				diags_add(d, false, "%s:%u: unknown key '%s' (did you mean '%s'?)", path, v->line, name,
					  hint);
			else
				diags_add(d, false, "%s:%u: unknown key '%s'", path, v->line, name);
			ret = -EINVAL;
			continue;
		}
		r = check_value(path, &config_keys[idx], v, d);
		if (r < 0)
			ret = r;
	}
	if (ret < 0)
		return ret;

	n = strv_length(c->files);
	c->files = xrealloc(c->files, (n + 2) * sizeof(*c->files));
	c->files[n] = xstrdup(path);
	c->files[n + 1] = NULL;
	file = c->files[n];

	for (size_t i = 0; i < root->n; i++) {
		int idx = find_key(root->keys[i], strlen(root->keys[i]));

		apply_value(c, &config_keys[idx], root->items[i]);
		c->origins[idx] = (ConfigOrigin) { .file = file, .line = root->items[i]->line };
	}
	return 0;
}

/* ---- %(key)s substitution ------------------------------------------- */

enum { EXPAND_TODO, EXPAND_BUSY, EXPAND_DONE };

typedef struct Expander {
	Config *c;
	Diags *d;
	int state[ELEMENTSOF(config_keys)];
	int stack[ELEMENTSOF(config_keys)];
	size_t depth;
} Expander;

static void origin_fail(Expander *E, int idx, const char *fmt, ...) _printf_(3, 4);
static void origin_fail(Expander *E, int idx, const char *fmt, ...)
{
	const ConfigOrigin *o = &E->c->origins[idx];
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		die_oom();
	va_end(ap);
	if (o->file)
		diags_add(E->d, false, "%s:%u: %s", o->file, o->line, msg);
	else
		diags_add(E->d, false, "built-in default of '%s': %s", config_keys[idx].name, msg);
}

static int expand_key(Expander *E, int idx);

/* Append the value of key REF (referenced from key IDX) to B. */
static int put_reference(Expander *E, int idx, int ref, Buf *b)
{
	const ConfigKey *k = &config_keys[ref];
	Config *c = E->c;
	int r;

	switch (k->kind) {
	case KEY_STRING:
	case KEY_DIGEST_FORMAT:
	case KEY_COMPRESSION:
	case KEY_CACHE_FORMAT:
	case KEY_LOAD:
		if (k->kind == KEY_STRING) {
			r = expand_key(E, ref);
			if (r < 0)
				return r;
		}
		if (!*field_str(c, k)) {
			origin_fail(E, idx, "'%s' refers to '%s', which is not set",
				    config_keys[idx].name, k->name);
			return -EINVAL;
		}
		buf_puts(b, *field_str(c, k));
		return 0;
	case KEY_JOBS:
		if (c->jobs <= 0) {
			origin_fail(E, idx, "'%s' refers to '%s', which is not set",
				    config_keys[idx].name, k->name);
			return -EINVAL;
		}
		buf_printf(b, "%ld", c->jobs);
		return 0;
	case KEY_TMPFS:
		buf_printf(b, "%ld", c->var_tmpfs_portage_size);
		return 0;
	case KEY_TIMEOUT:
		buf_printf(b, "%lu", *(const unsigned long *) ((const char *) c + k->offset));
		return 0;
	case KEY_STRV:
	case KEY_DIGESTS:
		break;
	}
	origin_fail(E, idx, "'%s' refers to '%s', which is an array, not a string",
		    config_keys[idx].name, k->name);
	return -EINVAL;
}

static int expand_key(Expander *E, int idx)
{
	const ConfigKey *k = &config_keys[idx];
	char **field = field_str(E->c, k);
	_cleanup_(buf_done) Buf b = { 0 };
	const char *s = *field;
	int r;

	if (E->state[idx] == EXPAND_DONE)
		return 0;
	if (E->state[idx] == EXPAND_BUSY) {
		/* report the cycle where it started */
		_cleanup_(buf_done) Buf path = { 0 };
		size_t first = 0;

		while (E->stack[first] != idx)
			first++;
		for (size_t i = first; i < E->depth; i++)
			buf_printf(&path, "%s -> ", config_keys[E->stack[i]].name);
		buf_puts(&path, k->name);
		origin_fail(E, idx, "recursive reference: %s", path.data);
		return -ELOOP;
	}
	if (!s || !strchr(s, '%')) {
		E->state[idx] = EXPAND_DONE;
		return 0;
	}

	E->state[idx] = EXPAND_BUSY;
	E->stack[E->depth++] = idx;
	r = 0;
	while (*s) {
		const char *pct = strchr(s, '%');
		const char *name, *close;
		int ref;

		if (!pct) {
			buf_puts(&b, s);
			break;
		}
		buf_put(&b, s, (size_t) (pct - s));
		if (pct[1] == '%') {
			buf_putc(&b, '%');
			s = pct + 2;
			continue;
		}
		if (pct[1] != '(') {
			origin_fail(E, idx, "'%s': a '%%' must start '%%(key)s' (or be written '%%%%')",
				    k->name);
			r = -EINVAL;
			break;
		}
		name = pct + 2;
		close = strchr(name, ')');
		if (!close) {
			origin_fail(E, idx, "'%s': unterminated '%%(' reference", k->name);
			r = -EINVAL;
			break;
		}
		if (close[1] != 's') {
			origin_fail(E, idx, "'%s': only '%%(key)s' references are supported, not '%.*s'",
				    k->name, (int) (close - pct + (close[1] ? 2 : 1)), pct);
			r = -EINVAL;
			break;
		}
		ref = find_key(name, (size_t) (close - name));
		if (ref < 0) {
			origin_fail(E, idx, "'%s' refers to unknown key '%.*s'", k->name,
				    (int) (close - name), name);
			r = -EINVAL;
			break;
		}
		r = put_reference(E, idx, ref, &b);
		if (r < 0)
			break;
		s = close + 2;
	}
	E->depth--;
	if (r < 0) {
		/* do not report this key again from another reference */
		E->state[idx] = EXPAND_DONE;
		return r;
	}
	free(*field);
	*field = buf_steal(&b);
	E->state[idx] = EXPAND_DONE;
	return 0;
}

int config_finish(Config *c, Diags *d)
{
	Expander E = { .c = c, .d = d };
	int ret = 0;

	if (c->finished)
		return 0;
	/* keys set in files first, so that a cycle through a default is
	 * reported at the line that made it */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < ELEMENTSOF(config_keys); i++) {
			if (config_keys[i].kind != KEY_STRING)
				continue;
			if ((pass == 0) != (c->origins[i].file != NULL))
				continue;
			if (expand_key(&E, (int) i) < 0)
				ret = -EINVAL;
		}
	c->finished = true;
	return ret;
}
