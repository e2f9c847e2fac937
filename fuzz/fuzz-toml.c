// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the TOML parser: any input must either parse (and
 * print as JSON) or fail with at least one diagnostic, never crash, leak
 * or succeed with a diagnostic.  The first byte picks the parse flags.
 */
#include <stdint.h>
#include <stdlib.h>

#include "toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Diags d = { 0 };
	Buf b = { 0 };
	TomlValue *root = NULL;
	unsigned flags = 0;
	int r;

	if (size > 0 && data[0] == 0xff) {
		flags = TOML_ALLOW_FLOAT;
		data++;
		size--;
	}
	r = toml_parse_full("fuzz.toml", (const char *) data, size, flags, &root, &d);
	if (r < 0) {
		if (root || d.n_errors == 0)
			abort();
	} else {
		if (!root || d.n != 0)
			abort();
		toml_to_json(root, &b);
		if (!b.data || (b.data[0] != '{'))
			abort();
	}
	toml_free(root);
	buf_done(&b);
	diags_done(&d);
	return 0;
}
