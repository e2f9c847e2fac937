// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pack-tree - pack TREE into OUTDIR as NAME with pack_tree(), for the
 * fault-injection tests of tests/bats/pack.bats (strace -e inject on this
 * process hits the pack step's calls only).
 *   pack-tree TREE OUTDIR NAME [DIGEST...]
 * with gzip, or the catalyst compression_mode in $PACK_MODE (its extension
 * too); $PACK_DIGEST_FORMAT is the digest_format, $PACK_TARBALL the
 * tarball's file name (as after rename_regexp).
 * Exit 0: published (a warning may be on stderr); 1: failed, message on
 * stderr; 64: usage.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "pack.h"

static void note(const char *msg, void *userdata)
{
	(void) userdata;
	fprintf(stderr, "pack-tree: %s\n", msg);
}

int main(int argc, char **argv)
{
	PackResult res = { 0 };
	char *err = NULL;
	int root_fd, out_fd, r;

	if (argc < 4) {
		fprintf(stderr, "usage: pack-tree TREE OUTDIR NAME [DIGEST...]\n");
		return 64;
	}
	root_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	out_fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0 || out_fd < 0) {
		perror("pack-tree: open");
		return 1;
	}
	const char *mode = getenv("PACK_MODE");
	PackCompression c = PACK_GZIP;
	int threads = 0;
	_cleanup_free_ char *tarball = NULL;

	if (mode && pack_compression_from_mode(mode, &c, &threads) < 0) {
		fprintf(stderr, "pack-tree: unknown mode '%s'\n", mode);
		return 64;
	}
	if (getenv("PACK_TARBALL"))
		tarball = xstrdup(getenv("PACK_TARBALL"));
	else if (mode)
		tarball = xasprintf("%s.%s", argv[3], pack_mode_extension(mode));
	PackRequest req = {
		.root_fd = root_fd,
		.out_dir_fd = out_fd,
		.name = argv[3],
		.tarball = tarball,
		.compression = c,
		.threads = threads,
		.level = -1,
		.digest_format = getenv("PACK_DIGEST_FORMAT"),
		.digests = argc > 4 ? argv + 4 : NULL,
		.note = note,
	};
	r = pack_tree(&req, &res, &err);
	if (r < 0) {
		fprintf(stderr, "pack-tree: %s\n", err);
		free(err);
		return 1;
	}
	if (res.warning)
		fprintf(stderr, "pack-tree: warning: %s\n", res.warning);
	pack_result_done(&res);
	return 0;
}
