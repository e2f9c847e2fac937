// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * toml2json FILE - print FILE's TOML parse as JSON, in the shape of
 * python3's tomllib + json.dumps(sort_keys=True, ensure_ascii=False), for
 * the differential test.  Exits 0, or 65 with the diagnostics on stderr.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "toml.h"
#include "util.h"

int main(int argc, char **argv)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_(diags_done) Diags d = { 0 };
	_cleanup_(buf_done) Buf b = { 0 };
	TomlValue *root = NULL;
	size_t len = 0;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: toml2json FILE\n");
		return EXIT_USAGE;
	}
	r = read_file_at(AT_FDCWD, argv[1], 64 << 20, &text, &len);
	if (r < 0) {
		fprintf(stderr, "toml2json: %s: %s\n", argv[1], strerror(-r));
		return EXIT_FAIL;
	}
	r = toml_parse(argv[1], text, len, &root, &d);
	if (r < 0) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.v[i].msg);
		return EXIT_DATAERR;
	}
	toml_to_json(root, &b);
	toml_free(root);
	buf_putc(&b, '\n');
	if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0)
		return EXIT_FAIL;
	return EXIT_OK;
}
