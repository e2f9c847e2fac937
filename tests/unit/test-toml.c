// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "toml.h"

/* Parse TEXT as "t.toml" and compare its JSON with JSON. */
static void check_json(const char *text, const char *json)
{
	Diags d = { 0 };
	Buf b = { 0 };
	TomlValue *root = NULL;
	int r = toml_parse("t.toml", text, strlen(text), &root, &d);

	if (r < 0)
		print_error("unexpected error: %s\n", d.n ? d.v[0].msg : "(none)");
	assert_int_equal(r, 0);
	assert_int_equal(d.n, 0);
	assert_non_null(root);
	toml_to_json(root, &b);
	assert_string_equal(b.data, json);
	buf_done(&b);
	toml_free(root);
	diags_done(&d);
}

/* Parse LEN bytes of TEXT as "t.toml"; expect exactly the diagnostic MSG. */
static void check_err_len(const char *text, size_t len, const char *msg)
{
	Diags d = { 0 };
	TomlValue *root = (TomlValue *) 1;
	int r = toml_parse("t.toml", text, len, &root, &d);

	assert_int_equal(r, -EINVAL);
	assert_null(root);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.n_errors, 1);
	assert_string_equal(d.v[0].msg, msg);
	diags_done(&d);
}

static void check_err(const char *text, const char *msg)
{
	check_err_len(text, strlen(text), msg);
}

/* name, TOML text, expected JSON (as tomllib + json.dumps print it) */
#define JSON_CASES(X) \
	X(empty, "", "{}") \
	X(blank_lines, "\n\n  \t\n", "{}") \
	X(comment_only, "# hi\n#\n", "{}") \
	X(comment_after_value, "a = 1 # c\n", "{\"a\": 1}") \
	X(comment_no_space, "a = 1#c\n", "{\"a\": 1}") \
	X(comment_unicode, "# ünï 🙂\ta\na = 1\n", "{\"a\": 1}") \
	X(no_final_newline, "a = 1", "{\"a\": 1}") \
	X(crlf, "a = 1\r\nb = 2\r\n", "{\"a\": 1, \"b\": 2}") \
	X(crlf_in_multiline, "a = \"\"\"x\r\ny\"\"\"\r\n", "{\"a\": \"x\\ny\"}") \
	X(whitespace_around, " \t a \t = \t 1 \t \n", "{\"a\": 1}") \
	X(basic_string, "a = \"hello\"\n", "{\"a\": \"hello\"}") \
	X(basic_empty, "a = \"\"\n", "{\"a\": \"\"}") \
	X(escape_b, "a = \"\\b\"\n", "{\"a\": \"\\b\"}") \
	X(escape_t, "a = \"\\t\"\n", "{\"a\": \"\\t\"}") \
	X(escape_n, "a = \"\\n\"\n", "{\"a\": \"\\n\"}") \
	X(escape_f, "a = \"\\f\"\n", "{\"a\": \"\\f\"}") \
	X(escape_r, "a = \"\\r\"\n", "{\"a\": \"\\r\"}") \
	X(escape_quote, "a = \"\\\"\"\n", "{\"a\": \"\\\"\"}") \
	X(escape_backslash, "a = \"\\\\\"\n", "{\"a\": \"\\\\\"}") \
	X(escape_u4, "a = \"\\u00e9\\u20AC\"\n", "{\"a\": \"é€\"}") \
	X(escape_u8, "a = \"\\U0001F600\"\n", "{\"a\": \"😀\"}") \
	X(escape_control, "a = \"\\u0001\\u001F\"\n", "{\"a\": \"\\u0001\\u001f\"}") \
	X(escape_del, "a = \"\\u007f\"\n", "{\"a\": \"\x7f\"}") \
	X(tab_in_string, "a = \"x\ty\"\n", "{\"a\": \"x\\ty\"}") \
	X(hash_in_string, "a = \"#x\"\n", "{\"a\": \"#x\"}") \
	X(utf8_in_string, "a = \"日本\"\n", "{\"a\": \"日本\"}") \
	X(literal_string, "a = 'C:\\x\\y'\n", "{\"a\": \"C:\\\\x\\\\y\"}") \
	X(literal_quotes, "a = 'say \"hi\"'\n", "{\"a\": \"say \\\"hi\\\"\"}") \
	X(ml_basic, "a = \"\"\"x\ny\"\"\"\n", "{\"a\": \"x\\ny\"}") \
	X(ml_basic_first_newline, "a = \"\"\"\nx\"\"\"\n", "{\"a\": \"x\"}") \
	X(ml_basic_only_newline, "a = \"\"\"\n\"\"\"\n", "{\"a\": \"\"}") \
	X(ml_basic_line_ending_backslash, "a = \"\"\"x \\\n   \n  y\"\"\"\n", "{\"a\": \"x y\"}") \
	X(ml_basic_backslash_blanks, "a = \"\"\"x\\  \t\n y\"\"\"\n", "{\"a\": \"xy\"}") \
	X(ml_basic_quotes_inside, "a = \"\"\"a\"\"b\"\"\"\n", "{\"a\": \"a\\\"\\\"b\"}") \
	X(ml_basic_four_quotes, "a = \"\"\"x\"\"\"\"\n", "{\"a\": \"x\\\"\"}") \
	X(ml_basic_five_quotes, "a = \"\"\"x\"\"\"\"\"\n", "{\"a\": \"x\\\"\\\"\"}") \
	X(ml_basic_escapes, "a = \"\"\"\\t\\\"\\u00e9\"\"\"\n", "{\"a\": \"\\t\\\"é\"}") \
	X(ml_basic_empty, "a = \"\"\"\"\"\"\n", "{\"a\": \"\"}") \
	X(ml_literal, "a = '''x\\n\ny'''\n", "{\"a\": \"x\\\\n\\ny\"}") \
	X(ml_literal_first_newline, "a = '''\nx'''\n", "{\"a\": \"x\"}") \
	X(ml_literal_extra_quotes, "a = '''x'''''\n", "{\"a\": \"x''\"}") \
	X(ml_literal_inner_quotes, "a = '''it's ''ok'''\n", "{\"a\": \"it's ''ok\"}") \
	X(integer, "a = 42\n", "{\"a\": 42}") \
	X(integer_plus, "a = +42\n", "{\"a\": 42}") \
	X(integer_minus, "a = -17\n", "{\"a\": -17}") \
	X(integer_zero_signs, "a = +0\nb = -0\n", "{\"a\": 0, \"b\": 0}") \
	X(integer_underscores, "a = 1_000_000\n", "{\"a\": 1000000}") \
	X(integer_max, "a = 9223372036854775807\n", "{\"a\": 9223372036854775807}") \
	X(integer_min, "a = -9223372036854775808\n", "{\"a\": -9223372036854775808}") \
	X(integer_hex, "a = 0xDEAD_beef\n", "{\"a\": 3735928559}") \
	X(integer_hex_max, "a = 0x7FFFFFFFFFFFFFFF\n", "{\"a\": 9223372036854775807}") \
	X(integer_oct, "a = 0o755\n", "{\"a\": 493}") \
	X(integer_bin, "a = 0b1101_0110\n", "{\"a\": 214}") \
	X(bool_true, "a = true\n", "{\"a\": true}") \
	X(bool_false, "a = false\n", "{\"a\": false}") \
	X(array, "a = [1, 2, 3]\n", "{\"a\": [1, 2, 3]}") \
	X(array_empty, "a = []\nb = [ ]\n", "{\"a\": [], \"b\": []}") \
	X(array_trailing_comma, "a = [1, 2,]\n", "{\"a\": [1, 2]}") \
	X(array_multiline, "a = [\n  1,\n  2\n]\n", "{\"a\": [1, 2]}") \
	X(array_comments, "a = [ # c\n 1, # d\n # e\n 2 # f\n , # g\n]\n", "{\"a\": [1, 2]}") \
	X(array_nested, "a = [[1, 2], [[]], []]\n", "{\"a\": [[1, 2], [[]], []]}") \
	X(array_mixed, "a = [1, 'x', true, [2]]\n", "{\"a\": [1, \"x\", true, [2]]}") \
	X(array_strings_all_kinds, "a = [\"a\", 'b', \"\"\"c\"\"\", '''d''']\n", \
	  "{\"a\": [\"a\", \"b\", \"c\", \"d\"]}") \
	X(bare_keys, "A-z_09 = 1\n1234 = 2\n", "{\"1234\": 2, \"A-z_09\": 1}") \
	X(key_true_is_a_key, "true = false\n", "{\"true\": false}") \
	X(quoted_key, "\"a b\" = 1\n'c.d' = 2\n", "{\"a b\": 1, \"c.d\": 2}") \
	X(quoted_key_empty, "\"\" = 1\n", "{\"\": 1}") \
	X(quoted_key_escape, "\"\\u00e9\\t\" = 1\n", "{\"é\\t\": 1}") \
	X(dotted_key, "a.b = 1\na.c = 2\n", "{\"a\": {\"b\": 1, \"c\": 2}}") \
	X(dotted_key_spaces, "a . b . c = 1\n", "{\"a\": {\"b\": {\"c\": 1}}}") \
	X(dotted_key_quoted, "site.\"google.com\" = true\n", "{\"site\": {\"google.com\": true}}") \
	X(dotted_key_number, "3.14 = 1\n", "{\"3\": {\"14\": 1}}") \
	X(table, "[t]\na = 1\n", "{\"t\": {\"a\": 1}}") \
	X(table_empty, "[t]\n", "{\"t\": {}}") \
	X(table_sub, "[a.b]\nc = 1\n", "{\"a\": {\"b\": {\"c\": 1}}}") \
	X(table_spaces, "[ a . b ]\n", "{\"a\": {\"b\": {}}}") \
	X(table_quoted, "[a.\"b.c\".'d']\n", "{\"a\": {\"b.c\": {\"d\": {}}}}") \
	X(table_super_after_sub, "[a.b]\nx = 1\n[a]\ny = 2\n", \
	  "{\"a\": {\"b\": {\"x\": 1}, \"y\": 2}}") \
	X(table_sub_of_dotted, "[f]\na.c = 1\n[f.a.t]\ns = 1\n", \
	  "{\"f\": {\"a\": {\"c\": 1, \"t\": {\"s\": 1}}}}") \
	X(table_comment, "[t] # c\n", "{\"t\": {}}") \
	X(dotted_in_table, "[t]\na.b = 1\n", "{\"t\": {\"a\": {\"b\": 1}}}") \
	X(dotted_into_implicit, "[p.q.r]\n[p]\nq.s = 1\n", \
	  "{\"p\": {\"q\": {\"r\": {}, \"s\": 1}}}") \
	X(json_sorted, "b = 1\na = 2\n[c]\nz = 1\ny = 2\n", \
	  "{\"a\": 2, \"b\": 1, \"c\": {\"y\": 2, \"z\": 1}}") \
	X(json_sorted_codepoints, "\"é\" = 1\nz = 2\nA = 3\n", "{\"A\": 3, \"z\": 2, \"é\": 1}")

/* name, TOML text, the one expected diagnostic */
#define ERR_CASES(X) \
	X(nul_byte, "a = 1\n\0", 7, "t.toml:2: NUL bytes are not allowed") \
	X(utf8_bad_byte, "a = 1\n#\xff\n", 9, "t.toml:2: invalid UTF-8") \
	X(utf8_overlong, "#\xc0\xaf", 3, "t.toml:1: invalid UTF-8") \
	X(utf8_overlong3, "#\xe0\x80\xaf", 4, "t.toml:1: invalid UTF-8") \
	X(utf8_surrogate, "#\xed\xa0\x80", 4, "t.toml:1: invalid UTF-8") \
	X(utf8_too_big, "#\xf4\x90\x80\x80", 5, "t.toml:1: invalid UTF-8") \
	X(utf8_truncated, "#\xe2\x82", 3, "t.toml:1: invalid UTF-8") \
	X(utf8_bad_continuation, "#\xe2\x28\xa1", 4, "t.toml:1: invalid UTF-8")

#define ERR_CASES_STR(X) \
	X(bom, "\xef\xbb\xbf" "a = 1\n", "t.toml:1: expected a key, found a byte order mark (U+FEFF)") \
	X(lone_cr, "a = 1\rb = 2\n", "t.toml:1: carriage return not followed by a newline") \
	X(lone_cr_blank, "\r\n\r", "t.toml:2: carriage return not followed by a newline") \
	X(cr_in_string, "a = \"x\ry\"\n", \
	  "t.toml:1: carriage return not followed by a newline in a string") \
	X(cr_in_comment, "#x\ry\n", "t.toml:1: carriage return not followed by a newline in a comment") \
	X(cr_in_array, "a = [1,\r2]\n", "t.toml:1: carriage return not followed by a newline") \
	X(control_in_comment, "# \x01\n", "t.toml:1: control character U+0001 in a comment") \
	X(del_in_comment, "# \x7f\n", "t.toml:1: control character U+007F in a comment") \
	X(control_in_string, "a = \"\x1b\"\n", "t.toml:1: control character U+001B in a string") \
	X(control_in_literal, "a = '\x7f'\n", "t.toml:1: control character U+007F in a string") \
	X(control_in_ml_literal, "a = '''\n\x02'''\n", \
	  "t.toml:2: control character U+0002 in a string") \
	X(control_in_array_comment, "a = [ # \x03\n]\n", \
	  "t.toml:1: control character U+0003 in a comment") \
	X(invalid_escape, "a = \"\\q\"\n", "t.toml:1: invalid escape sequence '\\q'") \
	X(invalid_escape_x, "\n\na = \"ok \\x41\"\n", "t.toml:3: invalid escape sequence '\\x'") \
	X(invalid_escape_space, "a = \"\\ \"\n", \
	  "t.toml:1: invalid escape sequence: backslash followed by ' '") \
	X(invalid_escape_newline, "a = \"\\\n\"\n", \
	  "t.toml:1: invalid escape sequence: backslash followed by end of line") \
	X(escape_u_short, "a = \"\\u12\"\n", "t.toml:1: escape \\u needs exactly 4 hex digits") \
	X(escape_u_nonhex, "a = \"\\u12G4\"\n", "t.toml:1: escape \\u needs exactly 4 hex digits") \
	X(escape_U_short, "a = \"\\U0001F60\"\n", "t.toml:1: escape \\U needs exactly 8 hex digits") \
	X(escape_surrogate, "a = \"\\uDFFF\"\n", \
	  "t.toml:1: escape \\uDFFF is not a Unicode scalar value") \
	X(escape_too_big, "a = \"\\U00110000\"\n", \
	  "t.toml:1: escape \\U00110000 is not a Unicode scalar value") \
	X(escape_nul, "a = \"\\u0000\"\n", "t.toml:1: NUL characters in strings are not supported") \
	X(ml_backslash_text, "a = \"\"\"x\\ y\"\"\"\n", \
	  "t.toml:1: a backslash followed by blanks must end the line") \
	X(unterminated_basic, "a = \"x\nb = 1\n", "t.toml:1: unterminated string") \
	X(unterminated_basic_eof, "a = \"x\\", "t.toml:1: unterminated string") \
	X(unterminated_literal, "a = 'x\n", "t.toml:1: unterminated string") \
	X(unterminated_ml_basic, "x = 1\na = \"\"\"x\n\n\"\"\n", "t.toml:2: unterminated string") \
	X(unterminated_ml_basic_backslash, "a = \"\"\"x\\  ", "t.toml:1: unterminated string") \
	X(unterminated_ml_literal, "a = '''x\n''\n", "t.toml:1: unterminated string") \
	X(six_quotes, "a = \"\"\"x\"\"\"\"\"\"\n", \
	  "t.toml:1: expected end of line after the value, found '\"'") \
	X(key_missing, "= 1\n", "t.toml:1: expected a key, found '='") \
	X(key_empty_part, "a..b = 1\n", "t.toml:1: expected a key after '.', found '.'") \
	X(key_trailing_dot, "a. = 1\n", "t.toml:1: expected a key after '.', found '='") \
	X(key_no_equals, "a 1\n", "t.toml:1: expected '=' after key 'a', found '1'") \
	X(key_colon, "storedir: \"/x\"\n", "t.toml:1: expected '=' after key 'storedir', found ':'") \
	X(key_newline, "a\n= 1\n", "t.toml:1: expected '=' after key 'a', found end of line") \
	X(key_eof, "a.\"b c\"", "t.toml:1: expected '=' after key 'a.\"b c\"', found end of file") \
	X(key_unicode_bare, "é = 1\n", "t.toml:1: expected a key, found 'é'") \
	X(value_missing, "a =\n", "t.toml:1: expected a value, found end of line") \
	X(value_missing_eof, "a = ", "t.toml:1: expected a value, found end of file") \
	X(value_bare_word, "a = yes\n", "t.toml:1: invalid value 'yes' (strings must be quoted)") \
	X(value_truex, "a = truex\n", "t.toml:1: invalid value 'truex' (strings must be quoted)") \
	X(value_True, "a = True\n", "t.toml:1: invalid value 'True' (strings must be quoted)") \
	X(value_junk, "a = @\n", "t.toml:1: expected a value, found '@'") \
	X(value_dot, "a = .5\n", "t.toml:1: expected a value, found '.'") \
	X(two_values, "a = 1 2\n", "t.toml:1: expected end of line after the value, found '2'") \
	X(two_keys_one_line, "a = 1 b = 2\n", \
	  "t.toml:1: expected end of line after the value, found 'b'") \
	X(int_leading_zero, "a = 012\n", "t.toml:1: invalid number '012': leading zeros are not allowed") \
	X(int_leading_zero_neg, "a = -01\n", \
	  "t.toml:1: invalid number '-01': leading zeros are not allowed") \
	X(int_double_underscore, "a = 1__2\n", "t.toml:1: invalid number '1__2'") \
	X(int_trailing_underscore, "a = 1_\n", "t.toml:1: invalid number '1_'") \
	X(int_sign_only, "a = -\n", "t.toml:1: invalid number '-'") \
	X(int_double_sign, "a = +-1\n", "t.toml:1: invalid number '+-1'") \
	X(int_hex_empty, "a = 0x\n", "t.toml:1: invalid number '0x'") \
	X(int_hex_upper_X, "a = 0XFF\n", "t.toml:1: invalid number '0XFF'") \
	X(int_hex_signed, "a = -0x1\n", "t.toml:1: invalid number '-0x1'") \
	X(int_hex_underscore_first, "a = 0x_1\n", "t.toml:1: invalid number '0x_1'") \
	X(int_oct_digit, "a = 0o8\n", "t.toml:1: invalid number '0o8'") \
	X(int_bin_digit, "a = 0b12\n", "t.toml:1: invalid number '0b12'") \
	X(int_trailing_dot, "a = 1.\n", "t.toml:1: invalid number '1.'") \
	X(int_minus_after, "a = 1-2\n", "t.toml:1: invalid number '1-2'") \
	X(float_exp_empty, "a = 1e\n", "t.toml:1: invalid number '1e'") \
	X(float_dot_exp, "a = 1.e5\n", "t.toml:1: invalid number '1.e5'") \
	X(infinity, "a = infinity\n", "t.toml:1: invalid number 'infinity'") \
	X(int_too_big, "a = 9223372036854775808\n", \
	  "t.toml:1: integers outside the 64-bit range are not supported") \
	X(int_too_small, "a = -9223372036854775809\n", \
	  "t.toml:1: integers outside the 64-bit range are not supported") \
	X(hex_too_big, "a = 0x8000000000000000\n", \
	  "t.toml:1: integers outside the 64-bit range are not supported") \
	X(float, "a = 3.14\n", "t.toml:1: floats are not supported") \
	X(float_exp, "a = 1e6\n", "t.toml:1: floats are not supported") \
	X(float_exp_signed, "a = -2E-2\n", "t.toml:1: floats are not supported") \
	X(float_inf, "a = +inf\n", "t.toml:1: floats are not supported") \
	X(float_nan, "a = nan\n", "t.toml:1: floats are not supported") \
	X(float_in_array, "a = [\n1,\n2.5]\n", "t.toml:3: floats are not supported") \
	X(date, "a = 1979-05-27\n", "t.toml:1: dates are not supported") \
	X(datetime, "a = 1979-05-27T07:32:00Z\n", "t.toml:1: dates are not supported") \
	X(time, "a = 07:32:00\n", "t.toml:1: times are not supported") \
	X(inline_table, "a = { b = 1 }\n", "t.toml:1: inline tables are not supported") \
	X(array_of_tables, "[[a]]\n", "t.toml:1: arrays of tables ([[...]]) are not supported") \
	X(array_unterminated, "a = [1,\n2\n", "t.toml:1: unterminated array") \
	X(array_unterminated_empty, "a = [\n# c\n", "t.toml:1: unterminated array") \
	X(array_double_comma, "a = [1,,2]\n", "t.toml:1: expected a value, found ','") \
	X(array_no_comma, "a = [1 2]\n", "t.toml:1: expected ',' or ']' in array, found '2'") \
	X(header_unclosed, "[a\nb = 1\n", \
	  "t.toml:1: expected ']' at the end of the table header, found end of line") \
	X(header_empty, "[]\n", "t.toml:1: expected a key, found ']'") \
	X(header_trailing, "[a] b = 1\n", \
	  "t.toml:1: expected end of line after the table header, found 'b'") \
	X(header_trailing_dot, "[a.]\n", "t.toml:1: expected a key after '.', found ']'") \
	X(duplicate_key, "a = 1\nb = 2\na = 3\n", \
	  "t.toml:3: duplicate key 'a' (first defined on line 1)") \
	X(duplicate_key_quoted, "a = 1\n\"a\" = 2\n", \
	  "t.toml:2: duplicate key 'a' (first defined on line 1)") \
	X(duplicate_dotted, "a.b = 1\na.b = 2\n", \
	  "t.toml:2: duplicate key 'a.b' (first defined on line 1)") \
	X(duplicate_in_table, "[t]\nx = 1\n\nx = 2\n", \
	  "t.toml:4: duplicate key 'x' (first defined on line 2)") \
	X(value_over_dotted, "a.b = 1\na = 2\n", \
	  "t.toml:2: duplicate key 'a' (first defined on line 1)") \
	X(key_over_implicit_table, "[a.b]\n[a]\nb = 1\n", \
	  "t.toml:3: duplicate key 'b' (first defined on line 1)") \
	X(dotted_over_value, "a = 1\na.b = 2\n", \
	  "t.toml:2: key 'a' is already an integer (defined on line 1)") \
	X(dotted_over_array, "a = []\na.b.c = 2\n", \
	  "t.toml:2: key 'a' is already an array (defined on line 1)") \
	X(table_twice, "[a]\nx = 1\n\n[a]\n", \
	  "t.toml:4: table [a] defined twice (first defined on line 1)") \
	X(table_sub_twice, "[a.b]\n[a.b]\n", \
	  "t.toml:2: table [a.b] defined twice (first defined on line 1)") \
	X(table_after_dotted, "a.b = 1\n[a]\n", \
	  "t.toml:2: table [a] defined twice (first defined on line 1)") \
	X(table_over_dotted_sub, "[f]\napple.color = 1\n[f.apple]\n", \
	  "t.toml:3: table [f.apple] defined twice (first defined on line 2)") \
	X(table_over_value, "a = 1\n[a]\n", \
	  "t.toml:2: table [a] conflicts with key 'a' defined on line 1") \
	X(table_through_value, "[a]\nb = 'x'\n[a.b.c]\n", \
	  "t.toml:3: table [a.b.c] conflicts with key 'a.b' defined on line 2") \
	X(dotted_into_header_table, "[a.b]\nc = 1\n[a]\nb.d = 2\n", \
	  "t.toml:4: cannot add to table [a.b] with dotted keys: it was defined on line 1")

#define DEFINE_JSON(name, text, json) \
	static void test_json_##name(void **state) \
	{ \
		(void) state; \
		check_json(text, json); \
	}
#define DEFINE_ERR(name, text, len, msg) \
	static void test_err_##name(void **state) \
	{ \
		(void) state; \
		check_err_len(text, len, msg); \
	}
#define DEFINE_ERR_STR(name, text, msg) \
	static void test_err_##name(void **state) \
	{ \
		(void) state; \
		check_err(text, msg); \
	}
JSON_CASES(DEFINE_JSON)
ERR_CASES(DEFINE_ERR)
ERR_CASES_STR(DEFINE_ERR_STR)

static void test_nested_too_deep(void **state)
{
	char text[600];
	size_t n = 0;

	(void) state;
	n += (size_t) sprintf(text, "a = ");
	for (int i = 0; i < 200; i++)
		text[n++] = '[';
	text[n] = '\0';
	check_err(text, "t.toml:1: arrays nested more than 128 deep are not supported");
}

static void test_len_is_respected(void **state)
{
	const char text[] = "a = 1\nb = oops";
	TomlValue *root = NULL;
	Diags d = { 0 };

	(void) state;
	assert_int_equal(toml_parse("t.toml", text, 5, &root, &d), 0);
	assert_int_equal(toml_get(root, "a")->integer, 1);
	assert_null(toml_get(root, "b"));
	toml_free(root);
	diags_done(&d);
}

static void test_values_and_lines(void **state)
{
	const char text[] = "# head\n"
			    "s = 'x'\n"
			    "i = -5\n"
			    "\n"
			    "b = true\n"
			    "l = [\n  1,\n  'two',\n]\n"
			    "[t.u]\n"
			    "k = 1\n";
	const TomlValue *v, *t;
	TomlValue *root = NULL;
	Diags d = { 0 };

	(void) state;
	assert_int_equal(toml_parse("t.toml", text, strlen(text), &root, &d), 0);
	assert_int_equal(root->type, TOML_TABLE);

	v = toml_get(root, "s");
	assert_int_equal(v->type, TOML_STRING);
	assert_string_equal(v->str, "x");
	assert_int_equal(v->line, 2);

	v = toml_get(root, "i");
	assert_int_equal(v->type, TOML_INTEGER);
	assert_int_equal(v->integer, -5);
	assert_int_equal(v->line, 3);

	v = toml_get(root, "b");
	assert_int_equal(v->type, TOML_BOOL);
	assert_true(v->boolean);
	assert_int_equal(v->line, 5);

	v = toml_get(root, "l");
	assert_int_equal(v->type, TOML_ARRAY);
	assert_int_equal(v->n, 2);
	assert_int_equal(v->line, 6);
	assert_int_equal(v->items[0]->line, 7);
	assert_int_equal(v->items[1]->line, 8);
	assert_string_equal(v->items[1]->str, "two");

	t = toml_get(root, "t");
	assert_int_equal(t->type, TOML_TABLE);
	assert_false(t->defined);
	t = toml_get(t, "u");
	assert_true(t->defined);
	assert_int_equal(t->line, 10);
	assert_int_equal(toml_get(t, "k")->line, 11);

	assert_null(toml_get(root, "nope"));
	assert_null(toml_get(toml_get(root, "s"), "x"));
	assert_null(toml_get(NULL, "x"));
	toml_free(root);
	toml_free(NULL);
	diags_done(&d);
}

static void test_allow_float(void **state)
{
	const char text[] = "a = 4.0\nb = -1_000.5e+3\nc = 2\n";
	TomlValue *root = NULL;
	Diags d = { 0 };
	Buf b = { 0 };

	(void) state;
	assert_int_equal(toml_parse_full("t.toml", text, strlen(text), TOML_ALLOW_FLOAT, &root, &d), 0);
	assert_int_equal(toml_get(root, "a")->type, TOML_FLOAT);
	assert_string_equal(toml_get(root, "a")->str, "4.0");
	assert_string_equal(toml_get(root, "b")->str, "-1000.5e+3");
	toml_to_json(root, &b);
	assert_string_equal(b.data, "{\"a\": 4.0, \"b\": -1000.5e+3, \"c\": 2}");
	buf_done(&b);
	toml_free(root);

	root = (TomlValue *) 1;
	assert_int_equal(toml_parse_full("t.toml", "a = nan\n", 8, TOML_ALLOW_FLOAT, &root, &d),
			 -EINVAL);
	assert_null(root);
	assert_string_equal(d.v[0].msg, "t.toml:1: inf and nan are not supported");
	diags_done(&d);
}

static void test_type_names(void **state)
{
	(void) state;
	assert_string_equal(toml_type_name(TOML_STRING), "a string");
	assert_string_equal(toml_type_name(TOML_INTEGER), "an integer");
	assert_string_equal(toml_type_name(TOML_BOOL), "a boolean");
	assert_string_equal(toml_type_name(TOML_ARRAY), "an array");
	assert_string_equal(toml_type_name(TOML_TABLE), "a table");
	assert_string_equal(toml_type_name(TOML_FLOAT), "a float");
}

static void test_diags_appended(void **state)
{
	Diags d = { 0 };
	TomlValue *root = NULL;

	(void) state;
	diags_add(&d, true, "earlier warning");
	assert_int_equal(toml_parse("x.toml", "a = \n", 5, &root, &d), -EINVAL);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.n_errors, 1);
	assert_string_equal(d.v[1].msg, "x.toml:1: expected a value, found end of line");
	diags_done(&d);
}

static void test_json_escapes(void **state)
{
	TomlValue v = { .type = TOML_STRING, .str = (char *) "\"\\\n\r\t\b\f\x01\x1f\x7f/é" };
	Buf b = { 0 };

	(void) state;
	toml_to_json(&v, &b);
	assert_string_equal(b.data, "\"\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\x7f/é\"");
	buf_done(&b);
}

#define LIST_JSON(name, text, json) cmocka_unit_test(test_json_##name),
#define LIST_ERR(name, text, len, msg) cmocka_unit_test(test_err_##name),
#define LIST_ERR_STR(name, text, msg) cmocka_unit_test(test_err_##name),

int main(void)
{
	const struct CMUnitTest tests[] = {
		JSON_CASES(LIST_JSON)
		ERR_CASES(LIST_ERR)
		ERR_CASES_STR(LIST_ERR_STR)
		cmocka_unit_test(test_nested_too_deep),
		cmocka_unit_test(test_len_is_respected),
		cmocka_unit_test(test_values_and_lines),
		cmocka_unit_test(test_allow_float),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_diags_appended),
		cmocka_unit_test(test_json_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
