// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for util.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static void test_buf(void **state)
{
	Buf b = { 0 };
	char *s;

	(void) state;
	buf_puts(&b, "ab");
	buf_putc(&b, 'c');
	buf_printf(&b, "%d-%s", 42, "x");
	assert_string_equal(b.data, "abc42-x");
	assert_int_equal(b.len, 7);
	s = buf_steal(&b);
	assert_string_equal(s, "abc42-x");
	assert_null(b.data);
	free(s);
	s = buf_steal(&b);
	assert_string_equal(s, "");
	free(s);
}

static void test_json_string(void **state)
{
	Buf b = { 0 };

	(void) state;
	buf_put_json_string(&b, "a\"b\\c\nd\te\x01 é");
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\te\\u0001 é\"");
	buf_done(&b);
}

static void test_parse_ulong(void **state)
{
	unsigned long v = 7;

	(void) state;
	assert_int_equal(parse_ulong("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_ulong("600", &v), 0);
	assert_int_equal(v, 600);
	assert_int_equal(parse_ulong("", &v), -EINVAL);
	assert_int_equal(parse_ulong("-1", &v), -EINVAL);
	assert_int_equal(parse_ulong("1.5", &v), -EINVAL);
	assert_int_equal(parse_ulong(" 1", &v), -EINVAL);
	assert_int_equal(parse_ulong("99999999999999999999999", &v), -ERANGE);
	assert_int_equal(v, 600);
}

static void test_diags(void **state)
{
	Diags d = { 0 };

	(void) state;
	diags_add(&d, true, "%s:%u: warning", "f", 1u);
	diags_add(&d, false, "%s:%u: error", "f", 2u);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.n_errors, 1);
	assert_string_equal(d.v[1].msg, "f:2: error");
	assert_true(d.v[0].warning);
	diags_done(&d);
	assert_int_equal(d.n, 0);
}

static void test_read_file(void **state)
{
	char path[] = "/tmp/zeolite-test-util.XXXXXX";
	char *data = NULL;
	size_t len = 0;
	int fd;

	(void) state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, "hello\0world", 11), 0);
	close(fd);
	assert_int_equal(read_file_at(AT_FDCWD, path, 100, &data, &len), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(data, "hello\0world", 12);
	free(data);
	assert_int_equal(read_file_at(AT_FDCWD, path, 5, &data, &len), -EFBIG);
	assert_int_equal(read_file_at(AT_FDCWD, "/tmp", 5, &data, &len), -EISDIR);
	unlink(path);
	assert_int_equal(read_file_at(AT_FDCWD, path, 100, &data, &len), -ENOENT);
}

static void test_strv(void **state)
{
	char **v = xcalloc(3, sizeof(char *));

	(void) state;
	v[0] = xstrdup("a");
	v[1] = xstrndup("bcd", 2);
	assert_int_equal(strv_length(v), 2);
	assert_string_equal(v[1], "bc");
	strv_free(v);
	strv_free(NULL);
	assert_int_equal(strv_length(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_parse_ulong),
		cmocka_unit_test(test_diags),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_strv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
