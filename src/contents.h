/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * contents.h - a stage's CONTENTS.gz, as catalyst writes it, and the owner
 * names of the stage's own accounts.
 *
 * catalyst's gen_contents_file() stores, gzip'd, what pyDeComp's
 * ContentsMap prints for the tarball: `tar --xattrs -tvf TARBALL` (GNU
 * tar), its stdout, a newline, and its stderr (empty).  So CONTENTS is
 * one line per entry in archive order, then one empty line:
 *
 *   drwxr-xr-x  root/root         0 2024-05-01 12:00 ./
 *   -rwsr-xr-x  root/root     81312 2024-05-01 12:00 ./bin/su
 *   -rwxr-xr-x* root/root     45032 2024-05-01 12:00 ./bin/ping
 *   lrwxrwxrwx  root/root         0 2024-05-01 12:00 ./bin/sh -> bash
 *   hrwxr-xr-x  root/root         0 2024-05-01 12:00 ./bin/ls link to ./bin/busybox
 *   crw-rw-rw-  root/root       1,3 2024-05-01 12:00 ./dev/null
 *   drwxr-xr-x  250/250           0 2024-05-01 12:00 ./var/db/x
 *
 * i.e. "MODE X OWNER SIZE YYYY-MM-DD HH:MM NAME":
 *   MODE   ls-style, 'h' first for a hardlink;
 *   X      '*' when the entry carries xattrs in the archive, else ' '
 *          (GNU tar's column of --xattrs listings);
 *   OWNER  "uname/gname" from the header, the number for a missing name;
 *   SIZE   file size, 0 for non-files and hardlinks, "MAJOR,MINOR" for
 *          devices; "OWNER SIZE" is right-aligned to a width that starts
 *          at 19 and only grows (GNU tar's rule);
 *   time   the mtime in the local time zone (TZ), as tar prints it;
 *   NAME   with a backslash and control characters as "\\", "\n", "\t",
 *          "\ooo" (tar's escape quoting; other bytes as they are, as
 *          tar prints them in a UTF-8 locale).
 */
#ifndef ZEOLITE_CONTENTS_H
#define ZEOLITE_CONTENTS_H

#include <sys/stat.h>

#include "pack-sink.h"
#include "util.h"

/* ---- owner names ---- */

typedef struct OwnerId {
	unsigned id;
	char *name;
} OwnerId;

typedef struct OwnerNames {
	OwnerId *users, *groups;
	size_t n_users, n_groups;
} OwnerNames;

/*
 * Read etc/passwd and etc/group below ROOT_FD (the tree being packed,
 * never the host's: the names are the stage's own), without following a
 * symlink out of the tree (a file that is missing, a symlink or unreadable
 * gives no names).  The first name of an id wins, as getpwuid()'s does.
 * Always succeeds; release with owner_names_done().
 */
void owner_names_load(int root_fd, OwnerNames *ret);
const char *owner_names_user(const OwnerNames *o, unsigned uid);  /* NULL: no name */
const char *owner_names_group(const OwnerNames *o, unsigned gid);
void owner_names_done(OwnerNames *o);

/* ---- the listing ---- */

typedef struct ContentsEntry {
	const char *name;      /* archive name ("./", "./etc/", "./etc/passwd") */
	const struct stat *st; /* mode, uid, gid, size, rdev, mtime */
	const char *uname, *gname; /* NULL: the number */
	const char *symlink;   /* target, or NULL */
	const char *hardlink;  /* first name of the file, or NULL */
	bool xattrs;           /* the entry carries xattrs in the archive */
} ContentsEntry;

typedef struct Contents {
	struct archive *gz;
	Sink sink;
	Buf listing; /* lines not yet handed to the gzip writer */
	int ugswidth;
} Contents;

/* Start writing CONTENTS.gz into F, hashed with MDS[0..N) (see
 * pack-sink.h).  0, or -errno with *RET_ERR "pack: CONTENTS: ...". */
int contents_open(Contents *c, OutFile *f, const EVP_MD *const *mds, size_t n, char **ret_err);

/* One line.  0, or -errno with *RET_ERR. */
int contents_add(Contents *c, const ContentsEntry *e, char **ret_err);

/* Raw text (a listing made elsewhere: `unsquashfs -ll`'s).  0, or -errno
 * with *RET_ERR. */
int contents_add_raw(Contents *c, const char *text, size_t n, char **ret_err);

/* The final empty line, then close the gzip stream (nothing is fsync'd).
 * 0, or -errno with *RET_ERR. */
int contents_close(Contents *c, char **ret_err);

/* Release C (after a failure too: what is still buffered is discarded). */
void contents_done(Contents *c);

/* Append S to B quoted as in CONTENTS; and the same as a new string. */
void contents_put_quoted(Buf *b, const char *s);
char *contents_quoted(const char *s);

#endif
