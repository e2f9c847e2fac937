// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz-spec.c - libFuzzer target: parse arbitrary bytes as a spec file,
 * validate it and render it as JSON.  Every input must be answered with
 * diagnostics, never a crash, a leak or undefined behaviour.
 */
#include <stdlib.h>
#include <string.h>

#include "spec.h"

/* Like assert(), but also with NDEBUG. */
#define CHECK(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Spec s;
	Diags d = { 0 };
	Buf b = { 0 };
	int r;

	r = spec_parse("fuzz.spec", (const char *) data, size, &s, &d);
	CHECK(r == 0 || r == -EINVAL);
	CHECK((r == 0) == (d.n_errors == 0));
	for (size_t i = 0; i < s.n; i++) {
		CHECK(s.v[i].n_words >= 1);
		CHECK(s.v[i].words[s.v[i].n_words] == NULL);
		CHECK(spec_get(&s, s.v[i].key) == &s.v[i]);
	}
	r = spec_validate(&s, &d);
	CHECK(r == 0 || r == -EINVAL);
	spec_to_json(&s, &b);
	CHECK(b.data && b.data[0] == '{' && b.data[b.len - 1] == '}');
	CHECK(strlen(b.data) == b.len);
	for (size_t i = 0; i < d.n; i++)
		CHECK(strncmp(d.v[i].msg, "fuzz.spec:", 10) == 0);

	buf_done(&b);
	spec_done(&s);
	diags_done(&d);
	return 0;
}
