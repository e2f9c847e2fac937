// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * contents.c - CONTENTS.gz in the form of `tar --xattrs -tvf` and the
 * stage's owner names (see contents.h for the format).
 */
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "contents.h"

#define CONTENTS_BLOCK_SIZE (1 << 20)
#define CONTENTS_FLUSH (1u << 16)
#define OWNER_FILE_MAX (16u << 20)

/* ---- owner names ---- */

/* The content of etc/NAME below ROOT_FD, or NULL. */
static char *read_etc(int root_fd, const char *name)
{
	_cleanup_close_ int etc = -EBADF, fd = -EBADF;
	Buf b = {};
	char buf[8192];

	etc = openat(root_fd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (etc < 0)
		return NULL;
	fd = openat(etc, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > OWNER_FILE_MAX) {
			buf_done(&b);
			return NULL;
		}
		if (n == 0)
			break;
		buf_put(&b, buf, (size_t)n);
	}
	return b.data ? buf_steal(&b) : xstrdup("");
}

/* "name:x:ID:..." lines: the third field of passwd and group alike. */
static void parse_ids(char *text, OwnerId **ret, size_t *ret_n)
{
	size_t cap = 0;

	for (char *line = text, *next; line && *line; line = next) {
		char *f[3], *end;
		unsigned long id;
		bool seen = false;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		f[0] = line;
		f[1] = strchr(f[0], ':');
		if (!f[1] || f[1] == f[0])
			continue;
		*f[1]++ = '\0';
		f[2] = strchr(f[1], ':');
		if (!f[2])
			continue;
		f[2]++;
		errno = 0;
		id = strtoul(f[2], &end, 10);
		if (errno || end == f[2] || *end != ':' || id > UINT32_MAX || f[2][0] == '-')
			continue;
		for (size_t i = 0; i < *ret_n; i++)
			if ((*ret)[i].id == id)
				seen = true;
		if (seen)
			continue;
		xgrow(ret, &cap, *ret_n + 1, sizeof(**ret));
		(*ret)[(*ret_n)++] = (OwnerId) { .id = (unsigned)id, .name = xstrdup(f[0]) };
	}
}

void owner_names_load(int root_fd, OwnerNames *ret)
{
	_cleanup_free_ char *pw = read_etc(root_fd, "passwd");
	_cleanup_free_ char *gr = read_etc(root_fd, "group");

	*ret = (OwnerNames) {};
	if (pw)
		parse_ids(pw, &ret->users, &ret->n_users);
	if (gr)
		parse_ids(gr, &ret->groups, &ret->n_groups);
}

static const char *find_id(const OwnerId *ids, size_t n, unsigned id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i].id == id)
			return ids[i].name;
	return NULL;
}

const char *owner_names_user(const OwnerNames *o, unsigned uid)
{
	return find_id(o->users, o->n_users, uid);
}

const char *owner_names_group(const OwnerNames *o, unsigned gid)
{
	return find_id(o->groups, o->n_groups, gid);
}

void owner_names_done(OwnerNames *o)
{
	for (size_t i = 0; i < o->n_users; i++)
		free(o->users[i].name);
	for (size_t i = 0; i < o->n_groups; i++)
		free(o->groups[i].name);
	free(o->users);
	free(o->groups);
	*o = (OwnerNames) {};
}

/* ---- quoting ---- */

void contents_put_quoted(Buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\')
			buf_puts(b, "\\\\");
		else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\%03o", c);
		else
			buf_putc(b, (char)c);
	}
}

char *contents_quoted(const char *s)
{
	Buf b = {};

	contents_put_quoted(&b, s);
	return buf_steal(&b);
}

/* ---- the gzip'd listing ---- */

static int fail(Contents *c, char **ret_err)
{
	const char *msg = c->gz ? archive_error_string(c->gz) : NULL;
	int e = c->gz ? archive_errno(c->gz) : 0;

	if (c->sink.err) {
		*ret_err = xasprintf("pack: CONTENTS: %s", strerror(-c->sink.err));
		return c->sink.err;
	}
	*ret_err = xasprintf("pack: CONTENTS: %s", msg ? msg : "unknown error");
	return e > 0 ? -e : -EIO;
}

int contents_open(Contents *c, OutFile *f, const EVP_MD *const *mds, size_t n, char **ret_err)
{
	struct archive_entry *ae;
	int r;

	*c = (Contents) { .ugswidth = 19 };
	if (sink_open(&c->sink, f, mds, n) < 0) {
		*ret_err = xstrdup("pack: DIGESTS: cannot initialise the digests");
		return -EINVAL;
	}
	c->gz = archive_write_new();
	if (!c->gz)
		die_oom();
	if (archive_write_set_format_raw(c->gz) < ARCHIVE_OK ||
	    archive_write_add_filter_gzip(c->gz) < ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(c->gz, CONTENTS_BLOCK_SIZE) < ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(c->gz, 1) < ARCHIVE_OK)
		return fail(c, ret_err);
	/* Reproducible: no time stamp in the gzip header. */
	r = archive_write_set_filter_option(c->gz, "gzip", "timestamp", NULL);
	if (r < ARCHIVE_WARN)
		return fail(c, ret_err);
	if (archive_write_open2(c->gz, &c->sink, NULL, sink_write, NULL, NULL) < ARCHIVE_OK)
		return fail(c, ret_err);
	ae = archive_entry_new();
	if (!ae)
		die_oom();
	archive_entry_set_pathname(ae, "CONTENTS");
	archive_entry_set_filetype(ae, AE_IFREG);
	r = archive_write_header(c->gz, ae);
	archive_entry_free(ae);
	if (r < ARCHIVE_WARN)
		return fail(c, ret_err);
	return 0;
}

static int flush(Contents *c, bool force, char **ret_err)
{
	la_ssize_t n;

	if (c->listing.len == 0 || (!force && c->listing.len < CONTENTS_FLUSH))
		return 0;
	n = archive_write_data(c->gz, c->listing.data, c->listing.len);
	if (n < 0 || (size_t)n != c->listing.len)
		return fail(c, ret_err);
	c->listing.len = 0;
	c->listing.data[0] = '\0';
	return 0;
}

static void mode_string(mode_t mode, bool hardlink, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	char t;

	switch (mode & S_IFMT) {
	case S_IFDIR: t = 'd'; break;
	case S_IFLNK: t = 'l'; break;
	case S_IFCHR: t = 'c'; break;
	case S_IFBLK: t = 'b'; break;
	case S_IFIFO: t = 'p'; break;
	case S_IFSOCK: t = 's'; break;
	default: t = '-'; break;
	}
	out[0] = hardlink ? 'h' : t;
	for (int i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	if (mode & S_ISUID)
		out[3] = (mode & S_IXUSR) ? 's' : 'S';
	if (mode & S_ISGID)
		out[6] = (mode & S_IXGRP) ? 's' : 'S';
	if (mode & S_ISVTX)
		out[9] = (mode & S_IXOTH) ? 't' : 'T';
	out[10] = '\0';
}

int contents_add(Contents *c, const ContentsEntry *e, char **ret_err)
{
	const struct stat *st = e->st;
	char mode[11], user[32], group[32], size[48], date[64];
	const char *u = e->uname, *g = e->gname;
	time_t t = st->st_mtim.tv_sec;
	struct tm tm;
	int pad;

	mode_string(st->st_mode, e->hardlink != NULL, mode);
	if (!u || !*u) {
		snprintf(user, sizeof(user), "%u", (unsigned)st->st_uid);
		u = user;
	}
	if (!g || !*g) {
		snprintf(group, sizeof(group), "%u", (unsigned)st->st_gid);
		g = group;
	}
	if (!e->hardlink && (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)))
		snprintf(size, sizeof(size), "%u,%u", major(st->st_rdev), minor(st->st_rdev));
	else if (!e->hardlink && S_ISREG(st->st_mode))
		snprintf(size, sizeof(size), "%llu", (unsigned long long)st->st_size);
	else
		snprintf(size, sizeof(size), "0");
	/* tar prints the local time (TZ). */
	if (localtime_r(&t, &tm))
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
	else
		snprintf(date, sizeof(date), "%lld", (long long)t);

	pad = (int)(strlen(u) + 1 + strlen(g) + 1 + strlen(size));
	if (pad > c->ugswidth)
		c->ugswidth = pad;
	buf_printf(&c->listing, "%s%c %s/%s %*s %s ", mode, e->xattrs ? '*' : ' ', u, g,
		   c->ugswidth - pad + (int)strlen(size), size, date);
	contents_put_quoted(&c->listing, e->name);
	if (e->symlink) {
		buf_puts(&c->listing, " -> ");
		contents_put_quoted(&c->listing, e->symlink);
	} else if (e->hardlink) {
		buf_puts(&c->listing, " link to ");
		contents_put_quoted(&c->listing, e->hardlink);
	}
	buf_putc(&c->listing, '\n');
	return flush(c, false, ret_err);
}

int contents_add_raw(Contents *c, const char *text, size_t n, char **ret_err)
{
	buf_put(&c->listing, text, n);
	return flush(c, false, ret_err);
}

int contents_close(Contents *c, char **ret_err)
{
	int r;

	/* ContentsMap joins tar's stdout and its (empty) stderr with "\n". */
	buf_putc(&c->listing, '\n');
	r = flush(c, true, ret_err);
	if (r < 0)
		return r;
	if (archive_write_close(c->gz) < ARCHIVE_WARN)
		return fail(c, ret_err);
	if (archive_write_free(c->gz) < ARCHIVE_WARN) {
		c->gz = NULL;
		*ret_err = xstrdup("pack: CONTENTS: cannot finish the gzip stream");
		return -EIO;
	}
	c->gz = NULL;
	return 0;
}

void contents_done(Contents *c)
{
	if (c->gz) {
		/* See pack.c's free_archive(): close, with what is flushed discarded. */
		c->sink.discard = true;
		archive_write_close(c->gz);
		archive_write_free(c->gz);
		c->gz = NULL;
	}
	sink_done(&c->sink);
	buf_done(&c->listing);
}
