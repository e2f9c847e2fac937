// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * toml.c - the TOML subset described in toml.h.
 *
 * The parser follows TOML 1.0 as python3's tomllib reads it (the
 * differential test compares the two): the text is checked to be UTF-8
 * and CRLF is read as LF before anything else, and the table rules use
 * tomllib's model (a table defined by a header, or by dotted keys in
 * another header's section, is closed).  It stops at the first error,
 * because what follows a malformed line cannot be trusted.
 */
#include "toml.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TOML_MAX_DEPTH 128

typedef struct Parser {
	const char *path;
	const char *s;   /* the normalised text, NUL-terminated */
	const char *p;   /* the cursor */
	unsigned flags;
	Diags *d;
	TomlValue *root;
	TomlValue *cur;  /* the table the last header opened */
	char *cur_name;  /* its name as written, "" for the root */
	unsigned section;
	unsigned depth;
	/* line_at() cache */
	const char *line_pos;
	unsigned line_no;
} Parser;

/* A key as written: its parts, unescaped. */
typedef struct Key {
	char **parts;
	size_t n;
	size_t cap;
} Key;

static void key_done(Key *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->parts[i]);
	free(k->parts);
	*k = (Key) { 0 };
}

static unsigned line_at(Parser *P, const char *pos)
{
	if (!P->line_pos || pos < P->line_pos) {
		P->line_pos = P->s;
		P->line_no = 1;
	}
	for (const char *q = P->line_pos; q < pos; q++)
		if (*q == '\n')
			P->line_no++;
	P->line_pos = pos;
	return P->line_no;
}

static int fail_line(Parser *P, unsigned line, const char *fmt, ...) _printf_(3, 4);
static int fail_line(Parser *P, unsigned line, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		die_oom();
	va_end(ap);
	diags_add(P->d, false, "%s:%u: %s", P->path, line, msg);
	return -EINVAL;
}

#define fail_at(P, pos, ...) fail_line((P), line_at((P), (pos)), __VA_ARGS__)
#define fail(P, ...) fail_at((P), (P)->p, __VA_ARGS__)

/* Describe the character at S for a message: 'x', or a name. */
static const char *describe(const char *s, char buf[static 16])
{
	unsigned char c = (unsigned char) *s;

	if (c == '\0')
		return "end of file";
	if (c == '\n')
		return "end of line";
	if (c == '\r')
		return "a carriage return";
	if (c == '\t')
		return "a tab";
	if (c < 0x20 || c == 0x7f) {
		snprintf(buf, 16, "U+%04X", c);
		return buf;
	}
	if (c < 0x80) {
		snprintf(buf, 16, "'%c'", c);
		return buf;
	}
	if (strncmp(s, "\xef\xbb\xbf", 3) == 0)
		return "a byte order mark (U+FEFF)";
	/* a whole UTF-8 sequence (the text is valid UTF-8) */
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	buf[0] = '\'';
	memcpy(buf + 1, s, n);
	buf[n + 1] = '\'';
	buf[n + 2] = '\0';
	return buf;
}

const char *toml_type_name(TomlType t)
{
	switch (t) {
	case TOML_STRING:
		return "a string";
	case TOML_INTEGER:
		return "an integer";
	case TOML_BOOL:
		return "a boolean";
	case TOML_ARRAY:
		return "an array";
	case TOML_TABLE:
		return "a table";
	case TOML_FLOAT:
		return "a float";
	}
	return "a value";
}

/* ---- values ---------------------------------------------------------- */

static TomlValue *value_new(TomlType type, unsigned line)
{
	TomlValue *v = xcalloc(1, sizeof(*v));

	v->type = type;
	v->line = line;
	return v;
}

void toml_free(TomlValue *v)
{
	if (!v)
		return;
	free(v->str);
	for (size_t i = 0; i < v->n; i++) {
		toml_free(v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v);
}

static void array_append(TomlValue *a, TomlValue *v)
{
	xgrow(&a->items, &a->cap, a->n + 1, sizeof(*a->items));
	a->items[a->n++] = v;
}

static void table_add(TomlValue *t, const char *key, TomlValue *v)
{
	size_t cap = t->cap;

	xgrow(&t->items, &t->cap, t->n + 1, sizeof(*t->items));
	xgrow(&t->keys, &cap, t->n + 1, sizeof(*t->keys));
	t->keys[t->n] = xstrdup(key);
	t->items[t->n++] = v;
}

const TomlValue *toml_get(const TomlValue *table, const char *key)
{
	if (!table || table->type != TOML_TABLE)
		return NULL;
	for (size_t i = 0; i < table->n; i++)
		if (strcmp(table->keys[i], key) == 0)
			return table->items[i];
	return NULL;
}

static TomlValue *table_get(TomlValue *t, const char *key)
{
	return (TomlValue *) toml_get(t, key);
}

/* ---- text preparation ---------------------------------------------- */

/* Check that TEXT is UTF-8 as TOML requires (no overlong forms, no
 * surrogates, nothing above U+10FFFF) and has no NUL; copy it with CRLF
 * read as LF. */
static int prepare_text(Parser *P, const char *text, size_t len, char **ret)
{
	const unsigned char *s = (const unsigned char *) text;
	_cleanup_free_ char *out = xmalloc(len + 1);
	unsigned line = 1;
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;

		if (c == '\0')
			return fail_line(P, line, "NUL bytes are not allowed");
		if (c < 0x80) {
			if (c == '\r' && i + 1 < len && s[i + 1] == '\n') {
				i++;
				continue;
			}
			if (c == '\n')
				line++;
			out[o++] = (char) c;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			cp = c & 0x07;
		} else
			return fail_line(P, line, "invalid UTF-8");
		if (len - i < n)
			return fail_line(P, line, "invalid UTF-8");
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return fail_line(P, line, "invalid UTF-8");
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return fail_line(P, line, "invalid UTF-8");
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}

/* ---- lexing ---------------------------------------------------------- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_bare(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ctrl(char c)
{
	unsigned char u = (unsigned char) c;
	return (u < 0x20 && c != '\t') || u == 0x7f;
}

static int bad_char(Parser *P, const char *what)
{
	char buf[16];

	if (*P->p == '\r')
		return fail(P, "carriage return not followed by a newline in %s", what);
	return fail(P, "control character %s in %s", describe(P->p, buf), what);
}

static void skip_ws(Parser *P)
{
	while (is_ws(*P->p))
		P->p++;
}

/* At '#': skip to the end of the line (not past the newline). */
static int skip_comment(Parser *P)
{
	if (*P->p != '#')
		return 0;
	for (P->p++; *P->p && *P->p != '\n'; P->p++)
		if (is_ctrl(*P->p))
			return bad_char(P, "a comment");
	return 0;
}

/* After a statement: blanks, a comment, then a newline or the end. */
static int end_of_line(Parser *P, const char *what)
{
	char buf[16];
	int r;

	skip_ws(P);
	r = skip_comment(P);
	if (r < 0)
		return r;
	if (*P->p == '\n') {
		P->p++;
		return 0;
	}
	if (*P->p == '\0')
		return 0;
	if (*P->p == '\r')
		return fail(P, "carriage return not followed by a newline");
	return fail(P, "expected end of line after %s, found %s", what, describe(P->p, buf));
}

/* Blanks, newlines and comments, as allowed inside arrays. */
static int skip_array_ws(Parser *P)
{
	for (;;) {
		int r;

		skip_ws(P);
		r = skip_comment(P);
		if (r < 0)
			return r;
		if (*P->p == '\n')
			P->p++;
		else if (*P->p == '\r')
			return fail(P, "carriage return not followed by a newline");
		else
			return 0;
	}
}

static void put_utf8(Buf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char) cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char) (0xc0 | (cp >> 6));
		u[1] = (char) (0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char) (0xe0 | (cp >> 12));
		u[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char) (0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char) (0xf0 | (cp >> 18));
		u[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char) (0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_put(b, u, n);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* At a backslash in a basic string: append what it stands for. */
static int parse_escape(Parser *P, bool multiline, Buf *b)
{
	const char *esc = P->p;
	char c = P->p[1];
	char buf[16];

	if (multiline && (c == ' ' || c == '\t' || c == '\n')) {
		/* line-ending backslash: drop blanks and newlines up to the
		 * next other character */
		P->p++;
		skip_ws(P);
		if (*P->p != '\n') {
			if (*P->p == '\0')
				return 0; /* the caller reports the open string */
			return fail_at(P, esc, "a backslash followed by blanks must end the line");
		}
		while (is_ws(*P->p) || *P->p == '\n')
			P->p++;
		return 0;
	}

	P->p += 2;
	switch (c) {
	case 'b':
		buf_putc(b, '\b');
		return 0;
	case 't':
		buf_putc(b, '\t');
		return 0;
	case 'n':
		buf_putc(b, '\n');
		return 0;
	case 'f':
		buf_putc(b, '\f');
		return 0;
	case 'r':
		buf_putc(b, '\r');
		return 0;
	case '"':
		buf_putc(b, '"');
		return 0;
	case '\\':
		buf_putc(b, '\\');
		return 0;
	case 'u':
	case 'U': {
		int len = c == 'u' ? 4 : 8;
		uint32_t cp = 0;

		for (int i = 0; i < len; i++) {
			int h = hexval(P->p[i]);
			if (h < 0)
				return fail_at(P, esc, "escape \\%c needs exactly %d hex digits", c, len);
			cp = (cp << 4) | (uint32_t) h;
		}
		P->p += len;
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return fail_at(P, esc, "escape \\%c%.*s is not a Unicode scalar value", c, len,
				       esc + 2);
		if (cp == 0)
			return fail_at(P, esc, "NUL characters in strings are not supported");
		put_utf8(b, cp);
		return 0;
	}
	case '\0':
		P->p--;
		return 0; /* the caller reports the open string */
	default:
		if ((unsigned char) c > 0x20 && (unsigned char) c < 0x7f)
			return fail_at(P, esc, "invalid escape sequence '\\%c'", c);
		return fail_at(P, esc, "invalid escape sequence: backslash followed by %s",
			       describe(esc + 1, buf));
	}
}

/* A basic string "..." or """...""", the cursor at its first quote. */
static int parse_basic_string(Parser *P, bool multiline, char **ret)
{
	const char *start = P->p;
	_cleanup_(buf_done) Buf b = { 0 };
	int r;

	P->p += multiline ? 3 : 1;
	if (multiline && *P->p == '\n')
		P->p++;
	for (;;) {
		char c = *P->p;

		if (c == '\0' || (c == '\n' && !multiline))
			return fail_at(P, start, "unterminated string");
		if (c == '"') {
			if (!multiline) {
				P->p++;
				break;
			}
			if (P->p[1] == '"' && P->p[2] == '"') {
				P->p += 3;
				/* up to two more quotes belong to the string */
				for (int i = 0; i < 2 && *P->p == '"'; i++, P->p++)
					buf_putc(&b, '"');
				break;
			}
			buf_putc(&b, '"');
			P->p++;
		} else if (c == '\\') {
			r = parse_escape(P, multiline, &b);
			if (r < 0)
				return r;
		} else if (c == '\n') {
			buf_putc(&b, '\n');
			P->p++;
		} else if (is_ctrl(c)) {
			return bad_char(P, "a string");
		} else {
			buf_putc(&b, c);
			P->p++;
		}
	}
	*ret = buf_steal(&b);
	return 0;
}

/* A literal string '...' or '''...''', the cursor at its first quote. */
static int parse_literal_string(Parser *P, bool multiline, char **ret)
{
	const char *start = P->p;
	const char *q;
	size_t extra = 0;

	P->p += multiline ? 3 : 1;
	if (multiline && *P->p == '\n')
		P->p++;
	for (q = P->p;; q++) {
		if (*q == '\0' || (*q == '\n' && !multiline))
			return fail_at(P, start, "unterminated string");
		if (*q == '\'' && (!multiline || (q[1] == '\'' && q[2] == '\'')))
			break;
		if (*q != '\n' && is_ctrl(*q)) {
			P->p = q;
			return bad_char(P, "a string");
		}
	}
	if (multiline)
		for (; extra < 2 && q[3 + extra] == '\''; extra++)
			;
	*ret = xstrndup(P->p, (size_t) (q - P->p) + extra);
	P->p = q + (multiline ? 3 : 1) + extra;
	return 0;
}

/* ---- keys ------------------------------------------------------------ */

static int parse_key(Parser *P, Key *k)
{
	char buf[16];

	for (;;) {
		char *part = NULL;
		int r;

		skip_ws(P);
		if (*P->p == '"') {
			r = parse_basic_string(P, false, &part);
			if (r < 0)
				return r;
		} else if (*P->p == '\'') {
			r = parse_literal_string(P, false, &part);
			if (r < 0)
				return r;
		} else {
			const char *s = P->p;

			while (is_bare(*P->p))
				P->p++;
			if (P->p == s) {
				if (k->n > 0)
					return fail(P, "expected a key after '.', found %s",
						    describe(P->p, buf));
				return fail(P, "expected a key, found %s", describe(P->p, buf));
			}
			part = xstrndup(s, (size_t) (P->p - s));
		}
		xgrow(&k->parts, &k->cap, k->n + 1, sizeof(*k->parts));
		k->parts[k->n++] = part;
		skip_ws(P);
		if (*P->p != '.')
			return 0;
		P->p++;
	}
}

/* KEY's first N parts as written for a message: a.b."c d" */
static char *key_name(const Key *k, size_t n)
{
	_cleanup_(buf_done) Buf b = { 0 };

	for (size_t i = 0; i < n; i++) {
		const char *s = k->parts[i];
		bool bare = *s != '\0';

		for (const char *q = s; *q; q++)
			if (!is_bare(*q))
				bare = false;
		if (i > 0)
			buf_putc(&b, '.');
		if (bare)
			buf_puts(&b, s);
		else {
			buf_putc(&b, '"');
			buf_puts(&b, s);
			buf_putc(&b, '"');
		}
	}
	return buf_steal(&b);
}

/* ---- scalars --------------------------------------------------------- */

/* Digits of RADIX with single underscores between them; at least one. */
static bool scan_digits(const char **pp, int radix)
{
	const char *p = *pp;
	bool any = false;

	for (;;) {
		int h = hexval(*p);

		if (h >= 0 && h < radix) {
			any = true;
			p++;
		} else if (*p == '_' && any) {
			h = hexval(p[1]);
			if (h < 0 || h >= radix)
				break;
			p++;
		} else
			break;
	}
	*pp = p;
	return any;
}

/* Characters that may not directly follow a number. */
static bool sticks_to_number(char c)
{
	return is_bare(c) || c == '.' || c == '+' || c == ':';
}

static int bad_number(Parser *P, const char *start)
{
	const char *e = start;

	while (*e && (sticks_to_number(*e) || *e == '-'))
		e++;
	if ((start[0] == '0' || ((start[0] == '+' || start[0] == '-') && start[1] == '0')) &&
	    is_digit(start[start[0] == '0' ? 1 : 2]))
		return fail_at(P, start, "invalid number '%.*s': leading zeros are not allowed",
			       (int) (e - start), start);
	return fail_at(P, start, "invalid number '%.*s'", (int) (e - start), start);
}

static int parse_number(Parser *P, TomlValue **ret, unsigned line)
{
	const char *start = P->p;
	const char *p = P->p;
	uint64_t limit = INT64_MAX, v = 0;
	bool neg = false, is_float = false;
	int radix = 10;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b')) {
		radix = p[1] == 'x' ? 16 : p[1] == 'o' ? 8 : 2;
		p += 2;
		if (!scan_digits(&p, radix))
			return bad_number(P, start);
	} else {
		if (*p == '+' || *p == '-') {
			neg = *p == '-';
			if (neg)
				limit = (uint64_t) INT64_MAX + 1;
			p++;
		}
		if (strncmp(p, "inf", 3) == 0 || strncmp(p, "nan", 3) == 0) {
			p += 3;
			if (sticks_to_number(*p))
				return bad_number(P, start);
			if (P->flags & TOML_ALLOW_FLOAT)
				return fail_at(P, start, "inf and nan are not supported");
			return fail_at(P, start, "floats are not supported");
		}
		if (*p == '0')
			p++;
		else if (!scan_digits(&p, 10))
			return bad_number(P, start);
		if (p[0] == '.' && is_digit(p[1])) {
			p++;
			scan_digits(&p, 10);
			is_float = true;
		}
		if (*p == 'e' || *p == 'E') {
			const char *e = p + 1;

			if (*e == '+' || *e == '-')
				e++;
			if (is_digit(*e)) {
				scan_digits(&e, 10);
				p = e;
				is_float = true;
			}
		}
	}
	if (sticks_to_number(*p) || (*p == '-' && radix == 10))
		return bad_number(P, start);
	P->p = p;

	if (is_float) {
		_cleanup_(buf_done) Buf b = { 0 };

		if (!(P->flags & TOML_ALLOW_FLOAT))
			return fail_at(P, start, "floats are not supported");
		for (const char *q = start; q < p; q++)
			if (*q != '_')
				buf_putc(&b, *q);
		*ret = value_new(TOML_FLOAT, line);
		(*ret)->str = buf_steal(&b);
		return 0;
	}

	for (const char *q = start + (radix != 10 ? 2 : 0); q < p; q++) {
		int h = hexval(*q);

		if (h < 0 || h >= radix)
			continue; /* sign, underscores */
		if (v > (limit - (uint64_t) h) / (uint64_t) radix)
			return fail_at(P, start, "integers outside the 64-bit range are not supported");
		v = v * (uint64_t) radix + (uint64_t) h;
	}
	*ret = value_new(TOML_INTEGER, line);
	(*ret)->integer = neg ? (int64_t) (0 - v) : (int64_t) v;
	return 0;
}

static int parse_value(Parser *P, TomlValue **ret);

static int parse_array(Parser *P, TomlValue **ret, unsigned line)
{
	const char *start = P->p;
	TomlValue *a;
	char buf[16];
	int r;

	if (P->depth >= TOML_MAX_DEPTH)
		return fail(P, "arrays nested more than %d deep are not supported", TOML_MAX_DEPTH);
	P->depth++;
	a = value_new(TOML_ARRAY, line);
	P->p++;
	r = skip_array_ws(P);
	if (r < 0)
		goto fail;
	while (*P->p != ']') {
		TomlValue *v;

		if (*P->p == '\0') {
			r = fail_at(P, start, "unterminated array");
			goto fail;
		}
		r = parse_value(P, &v);
		if (r < 0)
			goto fail;
		array_append(a, v);
		r = skip_array_ws(P);
		if (r < 0)
			goto fail;
		if (*P->p == ',') {
			P->p++;
			r = skip_array_ws(P);
			if (r < 0)
				goto fail;
		} else if (*P->p == '\0') {
			r = fail_at(P, start, "unterminated array");
			goto fail;
		} else if (*P->p != ']') {
			r = fail(P, "expected ',' or ']' in array, found %s", describe(P->p, buf));
			goto fail;
		}
	}
	P->p++;
	P->depth--;
	*ret = a;
	return 0;
fail:
	toml_free(a);
	return r;
}

static bool digits_then(const char *p, int n, char c)
{
	for (int i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return false;
	return p[n] == c;
}

static int parse_value(Parser *P, TomlValue **ret)
{
	unsigned line = line_at(P, P->p);
	const char *p = P->p;
	char buf[16];
	char *s = NULL;
	int r;

	switch (*p) {
	case '"':
	case '\'': {
		bool ml = p[1] == p[0] && p[2] == p[0];

		if (*p == '"')
			r = parse_basic_string(P, ml, &s);
		else
			r = parse_literal_string(P, ml, &s);
		if (r < 0)
			return r;
		*ret = value_new(TOML_STRING, line);
		(*ret)->str = s;
		return 0;
	}
	case 't':
	case 'f': {
		bool t = *p == 't';
		const char *word = t ? "true" : "false";
		size_t n = strlen(word);

		if (strncmp(p, word, n) != 0 || is_bare(p[n]))
			break;
		P->p += n;
		*ret = value_new(TOML_BOOL, line);
		(*ret)->boolean = t;
		return 0;
	}
	case '[':
		return parse_array(P, ret, line);
	case '{':
		return fail(P, "inline tables are not supported");
	case '\n':
	case '\0':
		return fail(P, "expected a value, found %s", describe(p, buf));
	default:
		break;
	}
	if (digits_then(p, 4, '-'))
		return fail(P, "dates are not supported");
	if (digits_then(p, 2, ':'))
		return fail(P, "times are not supported");
	if (is_digit(*p) || *p == '+' || *p == '-' || strncmp(p, "inf", 3) == 0 ||
	    strncmp(p, "nan", 3) == 0)
		return parse_number(P, ret, line);
	if (is_bare(*p)) {
		const char *e = p;

		while (is_bare(*e))
			e++;
		return fail(P, "invalid value '%.*s' (strings must be quoted)", (int) (e - p), p);
	}
	return fail(P, "expected a value, found %s", describe(p, buf));
}

/* ---- statements ------------------------------------------------------ */

static int parse_header(Parser *P)
{
	const char *start = P->p;
	unsigned line = line_at(P, start);
	_cleanup_(key_done) Key k = { 0 };
	_cleanup_free_ char *name = NULL;
	TomlValue *t = P->root, *child;
	char buf[16];
	int r;

	if (P->p[1] == '[')
		return fail(P, "arrays of tables ([[...]]) are not supported");
	P->p++;
	r = parse_key(P, &k);
	if (r < 0)
		return r;
	if (*P->p != ']')
		return fail(P, "expected ']' at the end of the table header, found %s",
			    describe(P->p, buf));
	P->p++;
	r = end_of_line(P, "the table header");
	if (r < 0)
		return r;

	P->section++;
	name = key_name(&k, k.n);
	for (size_t i = 0; i < k.n; i++) {
		child = table_get(t, k.parts[i]);
		if (!child) {
			child = value_new(TOML_TABLE, line);
			table_add(t, k.parts[i], child);
		} else if (child->type != TOML_TABLE) {
			_cleanup_free_ char *prefix = key_name(&k, i + 1);
			return fail_line(P, line,
					 "table [%s] conflicts with key '%s' defined on line %u",
					 name, prefix, child->line);
		} else if (i == k.n - 1 && (child->defined || child->dotted_section)) {
			return fail_line(P, line, "table [%s] defined twice (first defined on line %u)",
					 name, child->line);
		}
		t = child;
	}
	t->defined = true;
	t->line = line;
	P->cur = t;
	free(P->cur_name);
	P->cur_name = TAKE_PTR(name);
	return 0;
}

static int parse_keyval(Parser *P)
{
	unsigned line = line_at(P, P->p);
	_cleanup_(key_done) Key k = { 0 };
	TomlValue *t = P->cur, *child, *v;
	char buf[16];
	int r;

	r = parse_key(P, &k);
	if (r < 0)
		return r;
	if (*P->p != '=') {
		_cleanup_free_ char *name = key_name(&k, k.n);
		return fail(P, "expected '=' after key '%s', found %s", name, describe(P->p, buf));
	}
	P->p++;
	skip_ws(P);
	r = parse_value(P, &v);
	if (r < 0)
		return r;
	r = end_of_line(P, "the value");
	if (r < 0)
		goto fail;

	for (size_t i = 0; i + 1 < k.n; i++) {
		child = table_get(t, k.parts[i]);
		if (!child) {
			child = value_new(TOML_TABLE, line);
			child->dotted_section = P->section;
			table_add(t, k.parts[i], child);
		} else if (child->type != TOML_TABLE) {
			_cleanup_free_ char *prefix = key_name(&k, i + 1);
			r = fail_line(P, line, "key '%s' is already %s (defined on line %u)", prefix,
				      toml_type_name(child->type), child->line);
			goto fail;
		} else if (child->defined ||
			   (child->dotted_section && child->dotted_section != P->section)) {
			_cleanup_free_ char *prefix = key_name(&k, i + 1);
			r = fail_line(P, line,
				      "cannot add to table [%s%s%s] with dotted keys: it was defined on line %u",
				      P->cur_name, *P->cur_name ? "." : "", prefix, child->line);
			goto fail;
		} else {
			child->dotted_section = P->section;
		}
		t = child;
	}
	child = table_get(t, k.parts[k.n - 1]);
	if (child) {
		_cleanup_free_ char *name = key_name(&k, k.n);
		r = fail_line(P, line, "duplicate key '%s' (first defined on line %u)", name,
			      child->line);
		goto fail;
	}
	table_add(t, k.parts[k.n - 1], v);
	return 0;
fail:
	toml_free(v);
	return r;
}

int toml_parse_full(const char *path, const char *text, size_t len, unsigned flags,
		    TomlValue **ret, Diags *d)
{
	_cleanup_free_ char *s = NULL;
	Parser P = {
		.path = path,
		.flags = flags,
		.d = d,
		.section = 1,
	};
	int r;

	*ret = NULL;
	r = prepare_text(&P, text, len, &s);
	if (r < 0)
		return r;
	P.s = P.p = s;
	P.cur_name = xstrdup("");
	P.root = P.cur = value_new(TOML_TABLE, 1);
	P.root->defined = true;

	while (*P.p) {
		skip_ws(&P);
		if (*P.p == '#' || *P.p == '\n' || *P.p == '\0' || *P.p == '\r')
			r = end_of_line(&P, "blanks");
		else if (*P.p == '[')
			r = parse_header(&P);
		else
			r = parse_keyval(&P);
		if (r < 0) {
			free(P.cur_name);
			toml_free(P.root);
			return r;
		}
	}
	free(P.cur_name);
	*ret = P.root;
	return 0;
}

int toml_parse(const char *path, const char *text, size_t len, TomlValue **ret, Diags *d)
{
	return toml_parse_full(path, text, len, 0, ret, d);
}

/* ---- JSON ------------------------------------------------------------ */

static int cmp_keys(const void *a, const void *b, void *userdata)
{
	const TomlValue *t = userdata;
	size_t i = *(const size_t *) a, j = *(const size_t *) b;

	return strcmp(t->keys[i], t->keys[j]);
}

void toml_to_json(const TomlValue *v, Buf *b)
{
	switch (v->type) {
	case TOML_STRING:
		buf_put_json_string(b, v->str);
		break;
	case TOML_FLOAT:
		buf_puts(b, v->str);
		break;
	case TOML_INTEGER:
		buf_printf(b, "%" PRId64, v->integer);
		break;
	case TOML_BOOL:
		buf_puts(b, v->boolean ? "true" : "false");
		break;
	case TOML_ARRAY:
		buf_putc(b, '[');
		for (size_t i = 0; i < v->n; i++) {
			if (i > 0)
				buf_puts(b, ", ");
			toml_to_json(v->items[i], b);
		}
		buf_putc(b, ']');
		break;
	case TOML_TABLE: {
		_cleanup_free_ size_t *order = xcalloc(v->n, sizeof(*order));

		for (size_t i = 0; i < v->n; i++)
			order[i] = i;
		/* keys are unique, so the order is total and qsort's lack of
		 * stability does not matter */
		qsort_r(order, v->n, sizeof(*order), cmp_keys, (void *) v);
		buf_putc(b, '{');
		for (size_t i = 0; i < v->n; i++) {
			if (i > 0)
				buf_puts(b, ", ");
			buf_put_json_string(b, v->keys[order[i]]);
			buf_puts(b, ": ");
			toml_to_json(v->items[order[i]], b);
		}
		buf_putc(b, '}');
		break;
	}
	}
}
