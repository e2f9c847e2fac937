// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pack.h"

static void test_modes(void **state)
{
	PackCompression c;
	int t;
	(void) state;
	(void) c; (void) t;
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_modes) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
