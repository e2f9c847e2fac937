// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * spec.c - parse catalyst-spec(5) files and check them against the key
 * sets of their target (see spec.h for the syntax, spec-keys.c for the sets).
 */
#include "spec.h"

#include "pack-modes.h"

#include <fcntl.h>
#include <string.h>

#define SUPPORTED_TARGETS "stage1, stage2, stage3, stage4"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Find the first byte that makes TEXT something other than UTF-8 text:
 * a NUL, a control character other than whitespace, or a malformed
 * sequence.  Returns 0 if there is none, else 1 with the line number and a
 * message suffix stored in *RET_LINE and *RET_MSG (owned by the caller).
 */
static int text_check(const char *text, size_t len, unsigned *ret_line, char **ret_msg)
{
	const unsigned char *p = (const unsigned char *) text;
	unsigned line = 1;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t more;

		if (c < 0x80) {
			if (c == '\n')
				line++;
			else if (c == 0) {
				*ret_line = line;
				*ret_msg = xstrdup("NUL byte (not a text file?)");
				return 1;
			} else if ((c < 0x20 && !is_blank((char) c)) || c == 0x7f) {
				*ret_line = line;
				*ret_msg = xasprintf("control character 0x%02x", c);
				return 1;
			}
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			more = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			more = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			more = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			goto bad;
		if (len - i - 1 < more)
			goto bad;
		for (size_t k = 1; k <= more; k++) {
			unsigned char cc = p[i + k];
			if (cc < lo || cc > hi)
				goto bad;
			lo = 0x80;
			hi = 0xbf;
		}
		i += more + 1;
	}
	return 0;
bad:
	*ret_line = line;
	*ret_msg = xstrdup("invalid UTF-8");
	return 1;
}

/* Parser state beside the Spec being filled. */
typedef struct Parser {
	Spec *s;
	Diags *d;
	size_t *words_cap; /* per entry, parallel to s->v */
	size_t *table;     /* open addressing: entry index + 1, 0 = free */
	size_t table_size; /* a power of two */
} Parser;

static uint64_t hash_key(const char *k)
{
	uint64_t h = 14695981039346656037ull;

	for (; *k; k++) {
		h ^= (unsigned char) *k;
		h *= 1099511628211ull;
	}
	return h;
}

/* Return the slot of KEY in the table: holding it, or free. */
static size_t table_slot(const Parser *p, const char *key)
{
	size_t mask = p->table_size - 1;
	size_t i = (size_t) hash_key(key) & mask;

	while (p->table[i] && strcmp(p->s->v[p->table[i] - 1].key, key) != 0)
		i = (i + 1) & mask;
	return i;
}

static void table_grow(Parser *p)
{
	size_t size = p->table_size ? p->table_size * 2 : 64;

	free(p->table);
	p->table = xcalloc(size, sizeof(*p->table));
	p->table_size = size;
	for (size_t n = 0; n < p->s->n; n++)
		p->table[table_slot(p, p->s->v[n].key)] = n + 1;
}

static SpecEntry *entry_add(Parser *p, char *key, unsigned line)
{
	Spec *s = p->s;
	size_t old_cap = s->cap;
	SpecEntry *e;

	if ((s->n + 1) * 2 > p->table_size)
		table_grow(p);
	xgrow(&s->v, &s->cap, s->n + 1, sizeof(*s->v));
	if (s->cap != old_cap)
		p->words_cap = xrealloc(p->words_cap, s->cap * sizeof(*p->words_cap));
	p->words_cap[s->n] = 1;
	e = &s->v[s->n];
	*e = (SpecEntry) {
		.key = key,
		.words = xcalloc(1, sizeof(char *)),
		.line = line,
	};
	p->table[table_slot(p, key)] = ++s->n;
	return e;
}

/* Split [A, B) on whitespace and append the words to entry IDX. */
static void entry_add_words(Parser *p, size_t idx, const char *a, const char *b)
{
	SpecEntry *e = &p->s->v[idx];

	while (a < b) {
		const char *w;

		while (a < b && is_blank(*a))
			a++;
		w = a;
		while (a < b && !is_blank(*a))
			a++;
		if (w == a)
			break;
		/* Strip one pair of surrounding quotes. */
		if (a - w >= 2 && (*w == '"' || *w == '\'') && a[-1] == *w) {
			if (a - w == 2)
				continue;
			xgrow(&e->words, &p->words_cap[idx], e->n_words + 2, sizeof(char *));
			e->words[e->n_words++] = xstrndup(w + 1, (size_t) (a - w - 2));
		} else {
			xgrow(&e->words, &p->words_cap[idx], e->n_words + 2, sizeof(char *));
			e->words[e->n_words++] = xstrndup(w, (size_t) (a - w));
		}
		e->words[e->n_words] = NULL;
	}
}

static void entry_free(SpecEntry *e)
{
	free(e->key);
	strv_free(e->words);
}

/*
 * catalyst's `value % values` on a key line's value [A, B): "%(key)s" is
 * the value of a key set on an earlier line, "%%" is '%'.  A key that is
 * not set yet, or holds several words, or any other '%' is an error
 * (catalyst's Python would raise, or paste a list's repr).  Returns the
 * expanded text, or NULL with the error added to P->d.
 */
static char *expand_value(Parser *p, const char *path, unsigned line, const char *a, const char *b)
{
	Buf out = { 0 };

	for (const char *q = a; q < b; q++) {
		const char *close, *k;
		size_t idx = 0;

		if (*q != '%') {
			buf_putc(&out, *q);
			continue;
		}
		if (q + 1 < b && q[1] == '%') {
			buf_putc(&out, '%');
			q++;
			continue;
		}
		close = q + 1 < b && q[1] == '(' ? memchr(q + 2, ')', (size_t) (b - q - 2)) : NULL;
		if (!close || close + 1 >= b || close[1] != 's') {
			diags_add(p->d, false, "%s:%u: '%%' starts neither %%(key)s nor %%%% (catalyst expands "
				  "%%(key)s in values; write a literal '%%' as %%%%)", path, line);
			buf_done(&out);
			return NULL;
		}
		_cleanup_free_ char *key = xstrndup(q + 2, (size_t) (close - q - 2));
		if (p->table_size) {
			size_t slot = table_slot(p, key);
			idx = p->table[slot];
		}
		if (!idx) {
			diags_add(p->d, false, "%s:%u: %%(%s)s names no key set on an earlier line", path, line, key);
			buf_done(&out);
			return NULL;
		}
		const SpecEntry *e = &p->s->v[idx - 1];
		if (e->n_words != 1) {
			diags_add(p->d, false, "%s:%u: %%(%s)s names a key with %zu words (line %u); only a "
				  "single word can be put in a value", path, line, key, e->n_words, e->line);
			buf_done(&out);
			return NULL;
		}
		for (k = e->words[0]; *k; k++)
			buf_putc(&out, *k);
		q = close + 1;
	}
	return buf_steal(&out);
}

enum {
	CUR_NONE = -1, /* no key yet: a continuation line is an error */
	CUR_SKIP = -2, /* after a bad key line: ignore its continuation lines */
};

int spec_parse(const char *path, const char *text, size_t len, Spec *ret, Diags *d)
{
	Parser p = { .s = ret, .d = d };
	size_t errors = d->n_errors;
	const char *pos = text, *end = text + len;
	ssize_t cur = CUR_NONE;
	unsigned line = 0;

	*ret = (Spec) { .path = xstrdup(path) };

	{
		_cleanup_free_ char *msg = NULL;
		unsigned bad_line;

		if (text_check(text, len, &bad_line, &msg)) {
			diags_add(d, false, "%s:%u: %s", path, bad_line, msg);
			return -EINVAL;
		}
	}
	/* A UTF-8 byte order mark is not part of the first key. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		pos += 3;

	while (pos < end) {
		const char *eol = memchr(pos, '\n', (size_t) (end - pos));
		const char *a = pos, *b, *hash, *colon, *k;

		if (!eol)
			eol = end;
		pos = eol < end ? eol + 1 : end;
		line++;

		b = eol;
		hash = memchr(a, '#', (size_t) (b - a));
		if (hash)
			b = hash;
		k = a;
		while (k < b && is_blank(*k))
			k++;
		if (k == b)
			continue; /* blank or comment line */

		if (is_blank(*a)) {
			/* Indented: continues the previous key, ':' or not. */
			if (cur == CUR_NONE) {
				diags_add(d, false, "%s:%u: continuation line before any key", path, line);
				cur = CUR_SKIP;
			} else if (cur >= 0)
				entry_add_words(&p, (size_t) cur, a, b);
			continue;
		}

		colon = memchr(a, ':', (size_t) (b - a));
		if (!colon) {
			diags_add(d, false, "%s:%u: expected 'key: value'", path, line);
			cur = CUR_SKIP;
			continue;
		}
		k = colon;
		while (k > a && is_blank(k[-1]))
			k--;
		if (k == a) {
			diags_add(d, false, "%s:%u: empty key before ':'", path, line);
			cur = CUR_SKIP;
			continue;
		}

		_cleanup_free_ char *key = xstrndup(a, (size_t) (k - a));
		if (strpbrk(key, " \t\r\v\f")) {
			diags_add(d, false, "%s:%u: invalid key '%s' (keys contain no whitespace)",
				  path, line, key);
			cur = CUR_SKIP;
			continue;
		}
		if (p.table_size) {
			size_t slot = table_slot(&p, key);
			if (p.table[slot]) {
				diags_add(d, false, "%s:%u: duplicate key '%s' (first set at line %u)",
					  path, line, key, ret->v[p.table[slot] - 1].line);
				cur = CUR_SKIP;
				continue;
			}
		}
		_cleanup_free_ char *expanded = NULL;
		if (memchr(colon + 1, '%', (size_t) (b - colon - 1))) {
			expanded = expand_value(&p, path, line, colon + 1, b);
			if (!expanded) {
				cur = CUR_SKIP;
				continue;
			}
		}
		entry_add(&p, TAKE_PTR(key), line);
		cur = (ssize_t) (ret->n - 1);
		if (expanded)
			entry_add_words(&p, (size_t) cur, expanded, expanded + strlen(expanded));
		else
			entry_add_words(&p, (size_t) cur, colon + 1, b);
	}

	/* Drop keys that got no words at all. */
	{
		size_t j = 0;

		for (size_t i = 0; i < ret->n; i++) {
			SpecEntry *e = &ret->v[i];

			if (e->n_words == 0) {
				diags_add(d, true, "%s:%u: key '%s' has an empty value; ignored",
					  path, e->line, e->key);
				entry_free(e);
			} else
				ret->v[j++] = *e;
		}
		ret->n = j;
	}

	free(p.words_cap);
	free(p.table);
	return d->n_errors > errors ? -EINVAL : 0;
}

int spec_load(const char *path, Spec *ret, Diags *d)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = read_file_at(AT_FDCWD, path, SPEC_MAX_SIZE, &text, &len);
	if (r < 0) {
		*ret = (Spec) { .path = xstrdup(path) };
		if (r == -EFBIG)
			diags_add(d, false, "%s: cannot read: larger than %u MiB", path,
				  SPEC_MAX_SIZE / (1024 * 1024));
		else
			diags_add(d, false, "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
	return spec_parse(path, text, len, ret, d);
}

const SpecEntry *spec_get(const Spec *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].key, key) == 0)
			return &s->v[i];
	return NULL;
}

const char *spec_get_string(const Spec *s, const char *key)
{
	const SpecEntry *e = spec_get(s, key);

	return e && e->n_words == 1 ? e->words[0] : NULL;
}

/* Is KEY boot/kernel/<name>/<subkey> for a <name> listed in KERNELS? */
static bool is_kernel_key(const char *key, const SpecEntry *kernels)
{
	static const char prefix[] = "boot/kernel/";
	const char *rest;

	if (!kernels || strncmp(key, prefix, sizeof(prefix) - 1) != 0)
		return false;
	rest = key + sizeof(prefix) - 1;
	for (size_t i = 0; i < kernels->n_words; i++) {
		size_t n = strlen(kernels->words[i]);

		if (strncmp(rest, kernels->words[i], n) == 0 && rest[n] == '/' &&
		    spec_word_in(rest + n + 1, spec_kernel_subkeys, spec_kernel_subkeys_n))
			return true;
	}
	return false;
}

/* Check the value of a key that is allowed for the target. */
static void check_value(const Spec *s, const SpecEntry *e, const SpecKey *k, Diags *d)
{
	const char *w = e->words[0];

	if ((k->flags & SPEC_KEY_SINGLE) && e->n_words > 1) {
		diags_add(d, false, "%s:%u: key '%s' takes a single word, not a list of %zu",
			  s->path, e->line, e->key, e->n_words);
		return;
	}

	if (strcmp(e->key, "compression_mode") == 0) {
		/* Exactly the modes the packer writes (pack-modes.h). */
		if (!pack_mode_find(w)) {
			_cleanup_free_ char *all = pack_mode_names();
			diags_add(d, false, "%s:%u: unknown compression_mode '%s' (one of: %s)",
				  s->path, e->line, w, all);
		}
	} else if (strcmp(e->key, "rename_regexp") == 0) {
		/* catalyst runs it through sed -E: so does check. */
		_cleanup_free_ char *err = NULL;

		if (pack_rename_regexp(w, NULL, NULL, NULL, &err) < 0)
			diags_add(d, false, "%s:%u: %s", s->path, e->line, err);
	} else if (strcmp(e->key, "decompressor_search_order") == 0) {
		for (size_t i = 0; i < e->n_words; i++)
			if (!spec_word_in(e->words[i], spec_decompression_modes,
					  spec_decompression_modes_n))
				diags_add(d, false,
					  "%s:%u: unknown decompressor '%s' in decompressor_search_order",
					  s->path, e->line, e->words[i]);
	} else if (strcmp(e->key, "lock_timeout") == 0) {
		unsigned long v;

		if (parse_ulong(w, &v) < 0)
			diags_add(d, false,
				  "%s:%u: lock_timeout must be a non-negative integer (seconds), not '%s'",
				  s->path, e->line, w);
	} else if (strcmp(e->key, "update_seed") == 0) {
		if (strcmp(w, "yes") != 0 && strcmp(w, "no") != 0)
			diags_add(d, false, "%s:%u: update_seed must be 'yes' or 'no', not '%s'",
				  s->path, e->line, w);
	}
}

/* The first "@NAME@" (NAME of A-Z, 0-9, _) in W, as catalyst-auto's
 * placeholders; its length in *RET_LEN. */
static const char *find_placeholder(const char *w, size_t *ret_len)
{
	for (const char *p = strchr(w, '@'); p; p = strchr(p + 1, '@')) {
		size_t n = 1;
		while ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9') || p[n] == '_')
			n++;
		if (n > 1 && p[n] == '@') {
			*ret_len = n + 1;
			return p;
		}
	}
	return NULL;
}

int spec_validate(const Spec *s, Diags *d)
{
	size_t errors = d->n_errors;
	const SpecEntry *t, *kernels;
	const SpecTarget *target;
	const char *name;

	if (!s->path) {
		/* Messages need a name; keep the entries of S. */
		Spec named = *s;

		named.path = (char *) "<spec>";
		return spec_validate(&named, d);
	}

	t = spec_get(s, "target");
	if (!t) {
		diags_add(d, false, "%s:1: missing required key 'target'", s->path);
		return -EINVAL;
	}
	if (t->n_words != 1) {
		diags_add(d, false, "%s:%u: key 'target' takes a single word, not a list of %zu",
			  s->path, t->line, t->n_words);
		return -EINVAL;
	}
	name = t->words[0];
	target = spec_target_lookup(name);
	if (!target) {
		diags_add(d, false, "%s:%u: unknown target '%s' (supported: " SUPPORTED_TARGETS ")",
			  s->path, t->line, name);
		return -EINVAL;
	}
	if (!target->bit) {
		diags_add(d, false,
			  "%s:%u: target '%s' is not supported by zeolite (supported: " SUPPORTED_TARGETS ")",
			  s->path, t->line, name);
		return -EINVAL;
	}

	/* catalyst widens the valid set by boot/kernel/<name>/... for each
	 * kernel name, whatever the stage target. */
	kernels = spec_get(s, "boot/kernel");

	for (size_t i = 0; i < s->n; i++) {
		const SpecEntry *e = &s->v[i];
		const SpecKey *k = spec_key_lookup(e->key);

		for (size_t j = 0; j < e->n_words; j++) {
			size_t n;
			const char *p = find_placeholder(e->words[j], &n);
			if (p) {
				diags_add(d, false,
					  "%s:%u: '%s' has the placeholder %.*s left unsubstituted "
					  "(catalyst-auto replaces @TIMESTAMP@, @TREEISH@, @REPO_DIR@ and "
					  "@DATESTAMP@ with sed before catalyst runs)",
					  s->path, e->line, e->key, (int) n, p);
				break;
			}
		}
		if (k && (k->targets & target->bit) && k->refused)
			diags_add(d, false, "%s:%u: key '%s' is not supported by zeolite: %s",
				  s->path, e->line, e->key, k->refused);
		else if (k && (k->targets & target->bit))
			check_value(s, e, k, d);
		else if (is_kernel_key(e->key, kernels))
			; /* refused with boot/kernel itself */
		else {
			const char *hint = spec_key_did_you_mean(e->key, target->bit);
			if (hint)
				diags_add(d, false, "%s:%u: unknown key '%s' for target %s (did you mean '%s'?)",
					  s->path, e->line, e->key, name, hint);
			else
				diags_add(d, false, "%s:%u: unknown key '%s' for target %s",
					  s->path, e->line, e->key, name);
		}
	}

	for (size_t i = 0; i < spec_keys_n; i++) {
		const SpecKey *k = &spec_keys[i];

		if ((k->flags & SPEC_KEY_REQUIRED) && (k->targets & target->bit) &&
		    !spec_get(s, k->name))
			diags_add(d, false, "%s:%u: missing required key '%s'",
				  s->path, t->line, k->name);
	}

	{
		const SpecEntry *treeish = spec_get(s, "snapshot_treeish");
		const SpecEntry *snapshot = spec_get(s, "snapshot");

		if (!treeish && !snapshot)
			diags_add(d, false,
				  "%s:%u: missing required key 'snapshot_treeish' (or catalyst 3's 'snapshot')",
				  s->path, t->line);
		else if (treeish && snapshot)
			diags_add(d, false,
				  "%s:%u: 'snapshot' conflicts with 'snapshot_treeish' (line %u); set only one",
				  s->path, snapshot->line, treeish->line);
	}

	return d->n_errors > errors ? -EINVAL : 0;
}

void spec_to_json(const Spec *s, Buf *b)
{
	buf_putc(b, '{');
	for (size_t i = 0; i < s->n; i++) {
		const SpecEntry *e = &s->v[i];

		if (i)
			buf_putc(b, ',');
		buf_put_json_string(b, e->key);
		buf_putc(b, ':');
		if (e->n_words == 1)
			buf_put_json_string(b, e->words[0]);
		else {
			buf_putc(b, '[');
			for (size_t j = 0; j < e->n_words; j++) {
				if (j)
					buf_putc(b, ',');
				buf_put_json_string(b, e->words[j]);
			}
			buf_putc(b, ']');
		}
	}
	buf_putc(b, '}');
}

void spec_done(Spec *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		entry_free(&s->v[i]);
	free(s->v);
	free(s->path);
	*s = (Spec) { 0 };
}
