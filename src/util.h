/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util.h - small helpers shared by every module: cleanup attributes,
 * ownership transfer, dying allocators, a growable string and a list of
 * diagnostics.
 *
 * Modules below main.c return >= 0 on success and -errno on failure and
 * never print; the x* allocators are the one exception (they die on OOM).
 */
#ifndef ZEOLITE_UTIL_H
#define ZEOLITE_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* sysexits-style exit statuses (DESIGN.md §5). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 64,
	EXIT_DATAERR = 65,  /* bad input: spec, archive, unsafe store */
	EXIT_NOINPUT = 66,  /* a file or the store does not exist */
	EXIT_CANTCREAT = 73, /* cannot create the store or an output */
	EXIT_IOERR = 74,    /* read or write error */
	EXIT_TEMPFAIL = 75, /* gave up waiting for a lock */
	EXIT_NOPERM = 77,   /* needs root */
	EXIT_CONFIG = 78,   /* bad config file */
};

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _unused_ __attribute__((unused))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Hand ownership out of a cleanup variable. */
#define TAKE_FD(fd) ({ int _t = (fd); (fd) = -EBADF; _t; })
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })

_noreturn_ void die_oom(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
/* Grow *P (an array of *CAP elements of SIZE bytes) to hold at least NEED. */
void xgrow(void *p, size_t *cap, size_t need, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);

/* Free a NULL-terminated vector of strings and the vector. */
void strv_free(char **v);
size_t strv_length(char *const *v);

/* A growable NUL-terminated byte buffer. */
typedef struct Buf {
	char *data;
	size_t len;
	size_t cap;
} Buf;

void buf_putc(Buf *b, char c);
void buf_put(Buf *b, const char *s, size_t n);
void buf_puts(Buf *b, const char *s);
void buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
/* Append S as a JSON string literal, quotes included, escaped as python's
 * json.dumps(ensure_ascii=False) does (the TOML differential test relies on it). */
void buf_put_json_string(Buf *b, const char *s);
/* Return the data (never NULL) and reset B; the caller owns the result. */
char *buf_steal(Buf *b);
void buf_done(Buf *b);

/*
 * Diagnostics: the parsers collect every problem they find as one
 * complete message ("FILE:LINE: what is wrong") so that `zeolite check`
 * can print them all.  Warnings do not make a file invalid.
 */
typedef struct Diag {
	char *msg;
	bool warning;
} Diag;

typedef struct Diags {
	Diag *v;
	size_t n;
	size_t cap;
	size_t n_errors;
} Diags;

void diags_add(Diags *d, bool warning, const char *fmt, ...) _printf_(3, 4);
void diags_addv(Diags *d, bool warning, const char *fmt, va_list ap);
void diags_done(Diags *d);

/* Parse a non-negative decimal integer that fits in a long; -EINVAL else. */
int parse_ulong(const char *s, unsigned long *ret);

/* Read a whole file (relative to DIR_FD) into memory, NUL-terminated.
 * Returns 0 or -errno; refuses files larger than MAX bytes with -EFBIG. */
int read_file_at(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_len);

/* Write all of BUF to FD, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t n);

/* Monotonic time in milliseconds. */
int64_t now_ms(void);

#endif
