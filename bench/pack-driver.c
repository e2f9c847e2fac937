// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench/pack-driver.c - run pack_tree() on a directory, for bench/pack.sh.
 *
 * Usage: pack-driver ROOT OUT_DIR NAME MODE [LEVEL [THREADS]]
 * MODE is a catalyst compression_mode (xz, pixz, zstd, gzip, tar, ...).
 * Digests are sha512 and blake2b, as in DESIGN.md §4 step 6.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "pack.h"

int main(int argc, char **argv)
{
	char *digests[] = { "sha512", "blake2b", NULL };
	PackRequest req = { .level = -1, .digests = digests };
	PackResult res = {};
	char *err = NULL;
	int r;

	if (argc < 5 || argc > 7) {
		fprintf(stderr, "usage: %s ROOT OUT_DIR NAME MODE [LEVEL [THREADS]]\n", argv[0]);
		return 64;
	}
	if (pack_compression_from_mode(argv[4], &req.compression, &req.threads) < 0) {
		fprintf(stderr, "pack-driver: unknown mode '%s'\n", argv[4]);
		return 64;
	}
	if (argc > 5)
		req.level = atoi(argv[5]);
	if (argc > 6)
		req.threads = atoi(argv[6]);
	req.root_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	req.out_dir_fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (req.root_fd < 0 || req.out_dir_fd < 0) {
		perror("pack-driver: open");
		return 1;
	}
	req.name = argv[3];
	r = pack_tree(&req, &res, &err);
	if (r < 0) {
		fprintf(stderr, "pack-driver: %s\n", err);
		free(err);
		return 1;
	}
	fprintf(stderr, "pack-driver: %s: %llu entries, %llu bytes in, %llu bytes out\n",
		res.tarball, (unsigned long long)res.entries, (unsigned long long)res.bytes_in,
		(unsigned long long)res.bytes_out);
	pack_result_done(&res);
	close(req.root_fd);
	close(req.out_dir_fd);
	return 0;
}
