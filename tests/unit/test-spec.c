// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-spec.c - unit tests for spec.c: one test per syntax rule and per
 * message, the sample specs under tests/data/specs, and (when SHARED_DATA
 * is set) the gentoo/releng corpus.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "spec.h"

#define HEX40 "0123456789abcdef0123456789abcdef01234567"

/* A minimal valid stage3 spec, to which tests append lines. */
#define STAGE3_BASE                              \
	"subarch: amd64\n"                       \
	"target: stage3\n"                       \
	"version_stamp: openrc-1\n"              \
	"rel_type: 23.0-default\n"               \
	"profile: default/linux/amd64/23.0\n"    \
	"snapshot_treeish: " HEX40 "\n"          \
	"source_subpath: 23.0-default/stage1-amd64-openrc-1\n"

typedef struct Fixture {
	Spec spec;
	Diags diags;
	int parse_r;
	int validate_r;
} Fixture;

static int setup(void **state)
{
	Fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	Fixture *f = *state;
	spec_done(&f->spec);
	diags_done(&f->diags);
	free(f);
	return 0;
}

static void parse(Fixture *f, const char *text)
{
	f->parse_r = spec_parse("t.spec", text, strlen(text), &f->spec, &f->diags);
}

static void parse_validate(Fixture *f, const char *text)
{
	parse(f, text);
	f->validate_r = spec_validate(&f->spec, &f->diags);
}

static void assert_words(const SpecEntry *e, const char *const *want, size_t n)
{
	assert_non_null(e);
	assert_int_equal(e->n_words, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(e->words[i], want[i]);
	assert_null(e->words[n]);
}

/* Exactly one diagnostic, with this text and severity. */
static void assert_one_diag(Fixture *f, bool warning, const char *msg)
{
	assert_int_equal(f->diags.n, 1);
	assert_string_equal(f->diags.v[0].msg, msg);
	assert_int_equal(f->diags.v[0].warning, warning);
}

static void assert_no_diags(Fixture *f)
{
	for (size_t i = 0; i < f->diags.n; i++)
		print_message("unexpected: %s\n", f->diags.v[i].msg);
	assert_int_equal(f->diags.n, 0);
}

/* ---- syntax ---- */

static void test_single_word_is_string(void **state)
{
	Fixture *f = *state;

	parse(f, "subarch: amd64\n");
	assert_int_equal(f->parse_r, 0);
	assert_no_diags(f);
	assert_int_equal(f->spec.n, 1);
	assert_string_equal(f->spec.v[0].key, "subarch");
	assert_int_equal(f->spec.v[0].line, 1);
	assert_string_equal(spec_get_string(&f->spec, "subarch"), "amd64");
	assert_string_equal(f->spec.path, "t.spec");
}

static void test_several_words_are_list(void **state)
{
	Fixture *f = *state;
	static const char *const want[] = { "--update", "--deep", "@world" };

	parse(f, "update_seed_command:   --update\t--deep  @world  \n");
	assert_int_equal(f->parse_r, 0);
	assert_words(spec_get(&f->spec, "update_seed_command"), want, 3);
	assert_null(spec_get_string(&f->spec, "update_seed_command"));
	assert_null(spec_get(&f->spec, "nope"));
	assert_null(spec_get_string(&f->spec, "nope"));
}

static void test_split_on_first_colon(void **state)
{
	Fixture *f = *state;

	parse(f, "profile: gentoo:default/linux/amd64/23.0\nkey:value\nspaced  :\tv\n");
	assert_int_equal(f->parse_r, 0);
	assert_string_equal(spec_get_string(&f->spec, "profile"), "gentoo:default/linux/amd64/23.0");
	assert_string_equal(spec_get_string(&f->spec, "key"), "value");
	assert_string_equal(spec_get_string(&f->spec, "spaced"), "v");
}

static void test_continuation_lines(void **state)
{
	Fixture *f = *state;
	static const char *const want[] = { "a", "b", "c", "d", "e" };

	parse(f, "list: a\n\tb c\n    d\n \t e\nnext: x\n");
	assert_int_equal(f->parse_r, 0);
	assert_no_diags(f);
	assert_words(spec_get(&f->spec, "list"), want, 5);
	assert_string_equal(spec_get_string(&f->spec, "next"), "x");
}

static void test_continuation_with_colon(void **state)
{
	Fixture *f = *state;
	static const char *const want[] = { "sys-libs/glibc:2.2", "dev-lang/python:3.12", "x:" };

	parse(f, "stage4/packages:\n\tsys-libs/glibc:2.2\n\tdev-lang/python:3.12 x:\n");
	assert_int_equal(f->parse_r, 0);
	assert_no_diags(f);
	assert_int_equal(f->spec.n, 1);
	assert_words(spec_get(&f->spec, "stage4/packages"), want, 3);
}

static void test_blank_and_comment_lines_keep_key(void **state)
{
	Fixture *f = *state;
	static const char *const want[] = { "a", "b" };

	parse(f, "# head\nlist:\n\n\t# inside\n\ta\n# column 0 comment\n\n\tb\n");
	assert_int_equal(f->parse_r, 0);
	assert_no_diags(f);
	assert_words(spec_get(&f->spec, "list"), want, 2);
}

static void test_comment_anywhere(void **state)
{
	Fixture *f = *state;
	static const char *const want[] = { "a" };

	parse(f, "k: v# trailing\nlist: a #b c\n\t#d\nx: y#\n");
	assert_int_equal(f->parse_r, 0);
	assert_string_equal(spec_get_string(&f->spec, "k"), "v");
	assert_words(spec_get(&f->spec, "list"), want, 1);
	assert_string_equal(spec_get_string(&f->spec, "x"), "y");
}

static void test_quotes_stripped(void **state)
{
	Fixture *f = *state;
	static const char *const want[] = { "-O2", "-pipe", "'half", "mixed\"", "x'" };

	parse(f, "cflags: \"-O2\" '-pipe' 'half mixed\" \"x'\"\nempty: \"\" ''\nq: \"a'\"\n");
	assert_words(spec_get(&f->spec, "cflags"), want, 5);
	/* A word that is only quotes vanishes; the key is then empty. */
	assert_null(spec_get(&f->spec, "empty"));
	assert_string_equal(spec_get_string(&f->spec, "q"), "a'");
	assert_one_diag(f, true, "t.spec:2: key 'empty' has an empty value; ignored");
	assert_int_equal(f->parse_r, 0);
}

static void test_percent_expansion(void **state)
{
	Fixture *f = *state;
	static const char *const want[] = { "-O2", "50%", "amd64-x", "-pipe" };

	parse(f, "subarch: amd64\nversion_stamp: openrc-%(subarch)s\n"
		 "cflags: -O2 50%% %(subarch)s-x -pipe\n  %(not)s-expanded\n");
	assert_int_equal(f->parse_r, 0);
	assert_no_diags(f);
	assert_string_equal(spec_get_string(&f->spec, "version_stamp"), "openrc-amd64");
	{
		const SpecEntry *e = spec_get(&f->spec, "cflags");
		assert_non_null(e);
		assert_int_equal(e->n_words, 5);
		for (size_t i = 0; i < 4; i++)
			assert_string_equal(e->words[i], want[i]);
		assert_string_equal(e->words[4], "%(not)s-expanded");
	}
}

static void test_percent_errors(void **state)
{
	Fixture *f = *state;

	parse(f, "a: %(b)s\nb: x y\nc: %(b)s\nd: 5%\ne: %(b\nf: ok\n");
	assert_int_equal(f->parse_r, -EINVAL);
	assert_int_equal(f->diags.n, 4);
	assert_string_equal(f->diags.v[0].msg, "t.spec:1: %(b)s names no key set on an earlier line");
	assert_string_equal(f->diags.v[1].msg,
			    "t.spec:3: %(b)s names a key with 2 words (line 2); only a single word can be put in a value");
	assert_string_equal(f->diags.v[2].msg, "t.spec:4: '%' starts neither %(key)s nor %% (catalyst expands "
			    "%(key)s in values; write a literal '%' as %%)");
	assert_null(spec_get(&f->spec, "a"));
	assert_string_equal(spec_get_string(&f->spec, "f"), "ok");
}

static void test_crlf_bom_no_final_newline(void **state)
{
	Fixture *f = *state;
	static const char *const want[] = { "a", "b" };

	parse(f, "\xef\xbb\xbftarget: stage1\r\nlist: a\r\n\tb\r\nlast: z");
	assert_int_equal(f->parse_r, 0);
	assert_no_diags(f);
	assert_string_equal(spec_get_string(&f->spec, "target"), "stage1");
	assert_words(spec_get(&f->spec, "list"), want, 2);
	assert_string_equal(spec_get_string(&f->spec, "last"), "z");
}

static void test_utf8_values(void **state)
{
	Fixture *f = *state;

	parse(f, "comment_key: caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7\n");
	assert_int_equal(f->parse_r, 0);
	assert_no_diags(f);
	assert_int_equal(spec_get(&f->spec, "comment_key")->n_words, 3);
}

static void test_empty_input(void **state)
{
	Fixture *f = *state;

	parse(f, "");
	assert_int_equal(f->parse_r, 0);
	assert_no_diags(f);
	assert_int_equal(f->spec.n, 0);
	spec_done(&f->spec);
	parse(f, "\n\n# only comments\n   \n");
	assert_int_equal(f->parse_r, 0);
	assert_int_equal(f->spec.n, 0);
}

static void test_continuation_before_key(void **state)
{
	Fixture *f = *state;

	parse(f, "# comment\n\tfoo\n\tbar\nk: v\n");
	assert_int_equal(f->parse_r, -EINVAL);
	/* Reported once, not once per line. */
	assert_one_diag(f, false, "t.spec:2: continuation line before any key");
	assert_string_equal(spec_get_string(&f->spec, "k"), "v");
}

static void test_line_without_colon(void **state)
{
	Fixture *f = *state;

	parse(f, "k: v\nstray words\n\tcont\n");
	assert_int_equal(f->parse_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:2: expected 'key: value'");
	/* The continuation of the bad line is not added to the previous key. */
	assert_string_equal(spec_get_string(&f->spec, "k"), "v");
}

static void test_duplicate_key(void **state)
{
	Fixture *f = *state;

	parse(f, "a: 1\nsubarch: amd64\nb: 2\nsubarch: x86\n\tmore\n");
	assert_int_equal(f->parse_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:4: duplicate key 'subarch' (first set at line 2)");
	assert_string_equal(spec_get_string(&f->spec, "subarch"), "amd64");
}

static void test_duplicate_of_empty_key(void **state)
{
	Fixture *f = *state;

	parse(f, "a:\na: 1\n");
	assert_int_equal(f->parse_r, -EINVAL);
	assert_int_equal(f->diags.n, 2);
	assert_string_equal(f->diags.v[0].msg, "t.spec:2: duplicate key 'a' (first set at line 1)");
	assert_string_equal(f->diags.v[1].msg, "t.spec:1: key 'a' has an empty value; ignored");
}

static void test_many_keys(void **state)
{
	Fixture *f = *state;
	Buf b = { 0 };

	/* Enough keys to grow the duplicate table several times. */
	for (int i = 0; i < 5000; i++)
		buf_printf(&b, "key%d: %d\n", i, i);
	buf_puts(&b, "key1234: again\n");
	parse(f, b.data);
	buf_done(&b);
	assert_int_equal(f->spec.n, 5000);
	assert_one_diag(f, false, "t.spec:5001: duplicate key 'key1234' (first set at line 1235)");
	assert_string_equal(spec_get_string(&f->spec, "key4999"), "4999");
}

static void test_empty_value_warning(void **state)
{
	Fixture *f = *state;

	parse(f, "a: 1\nempty:   # nothing\n\n# still nothing\nb: 2\n");
	assert_int_equal(f->parse_r, 0);
	assert_one_diag(f, true, "t.spec:2: key 'empty' has an empty value; ignored");
	assert_int_equal(f->diags.n_errors, 0);
	assert_null(spec_get(&f->spec, "empty"));
	assert_int_equal(f->spec.n, 2);
	assert_string_equal(f->spec.v[1].key, "b");
}

static void test_empty_key(void **state)
{
	Fixture *f = *state;

	parse(f, "  \n: value\n");
	assert_int_equal(f->parse_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:2: empty key before ':'");
}

static void test_key_with_whitespace(void **state)
{
	Fixture *f = *state;

	parse(f, "two words: value\n\tcont\n");
	assert_int_equal(f->parse_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:1: invalid key 'two words' (keys contain no whitespace)");
	assert_int_equal(f->spec.n, 0);
}

static void test_nul_byte(void **state)
{
	Fixture *f = *state;
	static const char text[] = "a: 1\nb: 2\x00 3\nc: 4\n";

	f->parse_r = spec_parse("t.spec", text, sizeof(text) - 1, &f->spec, &f->diags);
	assert_int_equal(f->parse_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:2: NUL byte (not a text file?)");
	assert_int_equal(f->spec.n, 0);
	assert_string_equal(f->spec.path, "t.spec");
}

static void test_invalid_utf8(void **state)
{
	Fixture *f = *state;
	static const char *const bad[] = {
		"a: \xff\n",
		"a: \xc3\n",             /* truncated */
		"a: \xc0\xaf\n",         /* overlong */
		"a: \xed\xa0\x80\n",     /* surrogate */
		"a: \xf4\x90\x80\x80\n", /* above U+10FFFF */
		"a: \xe2\x82",           /* truncated at end of input */
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		parse(f, bad[i]);
		assert_int_equal(f->parse_r, -EINVAL);
		assert_one_diag(f, false, "t.spec:1: invalid UTF-8");
		spec_done(&f->spec);
		diags_done(&f->diags);
	}
}

static void test_control_character(void **state)
{
	Fixture *f = *state;

	parse(f, "a: 1\n\nb: \x1b[31m\n");
	assert_int_equal(f->parse_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:3: control character 0x1b");
}

static void test_all_errors_reported(void **state)
{
	Fixture *f = *state;

	parse(f, "\tx\nk: 1\nbad\nk: 2\n: z\nempty:\n");
	assert_int_equal(f->parse_r, -EINVAL);
	assert_int_equal(f->diags.n, 5);
	assert_int_equal(f->diags.n_errors, 4);
	assert_string_equal(f->diags.v[0].msg, "t.spec:1: continuation line before any key");
	assert_string_equal(f->diags.v[1].msg, "t.spec:3: expected 'key: value'");
	assert_string_equal(f->diags.v[2].msg, "t.spec:4: duplicate key 'k' (first set at line 2)");
	assert_string_equal(f->diags.v[3].msg, "t.spec:5: empty key before ':'");
	assert_string_equal(f->diags.v[4].msg, "t.spec:6: key 'empty' has an empty value; ignored");
}

/* ---- JSON ---- */

static void test_to_json(void **state)
{
	Fixture *f = *state;
	_cleanup_free_ char *json = NULL;
	Buf b = { 0 };

	parse(f, "target: stage1\nlist: a\n\tb:2\nq: \"x\\\"y\"\n");
	spec_to_json(&f->spec, &b);
	json = buf_steal(&b);
	assert_string_equal(json, "{\"target\":\"stage1\",\"list\":[\"a\",\"b:2\"],\"q\":\"x\\\\\\\"y\"}");
}

static void test_to_json_empty(void **state)
{
	Fixture *f = *state;
	_cleanup_free_ char *json = NULL;
	Buf b = { 0 };

	parse(f, "");
	spec_to_json(&f->spec, &b);
	json = buf_steal(&b);
	assert_string_equal(json, "{}");
}

/* ---- validation ---- */

static void test_valid_stage3(void **state)
{
	Fixture *f = *state;

	parse_validate(f, STAGE3_BASE "compression_mode: pixz\nlock_timeout: 0\n"
			  "decompressor_search_order: xz bzip2\ninterpreter: /a /b\n");
	assert_int_equal(f->parse_r, 0);
	assert_int_equal(f->validate_r, 0);
	assert_no_diags(f);
}

static void test_missing_target(void **state)
{
	Fixture *f = *state;

	parse_validate(f, "subarch: amd64\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:1: missing required key 'target'");
}

static void test_target_list(void **state)
{
	Fixture *f = *state;

	parse_validate(f, "a: b\ntarget: stage1 stage3\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:2: key 'target' takes a single word, not a list of 2");
}

static void test_unsupported_targets(void **state)
{
	Fixture *f = *state;
	static const char *const targets[] = {
		"livecd-stage1", "livecd-stage2", "netboot", "diskimage-stage1",
		"diskimage-stage2", "embedded", "netboot2", "grp", "tinderbox", "snapshot",
	};

	for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
		_cleanup_free_ char *text = xasprintf("subarch: amd64\ntarget: %s\nlivecd/use: x\n",
						      targets[i]);
		_cleanup_free_ char *want = xasprintf(
			"t.spec:2: target '%s' is not supported by zeolite "
			"(supported: stage1, stage2, stage3, stage4)", targets[i]);

		parse_validate(f, text);
		assert_int_equal(f->validate_r, -EINVAL);
		assert_one_diag(f, false, want);
		spec_done(&f->spec);
		diags_done(&f->diags);
	}
}

static void test_unknown_target(void **state)
{
	Fixture *f = *state;

	parse_validate(f, "target: stage5\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false,
			"t.spec:1: unknown target 'stage5' (supported: stage1, stage2, stage3, stage4)");
}

static void test_unknown_key(void **state)
{
	Fixture *f = *state;

	parse_validate(f, STAGE3_BASE "foo: bar\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:8: unknown key 'foo' for target stage3");
}

static void test_key_of_other_target(void **state)
{
	Fixture *f = *state;

	/* update_seed is stage1's, stage4/packages stage4's, chost stage1/2's. */
	parse_validate(f, STAGE3_BASE "update_seed: yes\nstage4/packages: a\nchost: x\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_int_equal(f->diags.n, 3);
	assert_string_equal(f->diags.v[0].msg, "t.spec:8: unknown key 'update_seed' for target stage3");
	assert_string_equal(f->diags.v[1].msg, "t.spec:9: unknown key 'stage4/packages' for target stage3");
	assert_string_equal(f->diags.v[2].msg, "t.spec:10: unknown key 'chost' for target stage3");
}

static void test_missing_required(void **state)
{
	Fixture *f = *state;

	parse_validate(f, "# c\n\ntarget: stage1\nsubarch: amd64\nversion_stamp: 1\nrel_type: r\n"
			  "profile: p\nsnapshot_treeish: " HEX40 "\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:3: missing required key 'source_subpath'");
}

static void test_missing_snapshot(void **state)
{
	Fixture *f = *state;

	parse_validate(f, "subarch: amd64\ntarget: stage2\nversion_stamp: 1\nrel_type: r\n"
			  "profile: p\nsource_subpath: s\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false,
			"t.spec:2: missing required key 'snapshot_treeish' (or catalyst 3's 'snapshot')");
}

static void test_catalyst3_snapshot(void **state)
{
	Fixture *f = *state;

	parse_validate(f, "subarch: amd64\ntarget: stage2\nversion_stamp: 1\nrel_type: r\n"
			  "profile: p\nsource_subpath: s\nsnapshot: 20170101\n");
	assert_int_equal(f->validate_r, 0);
	assert_no_diags(f);
}

static void test_both_snapshots(void **state)
{
	Fixture *f = *state;

	parse_validate(f, STAGE3_BASE "snapshot: 20170101\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false,
			"t.spec:8: 'snapshot' conflicts with 'snapshot_treeish' (line 6); set only one");
}

static void test_single_word_keys(void **state)
{
	Fixture *f = *state;
	static const char *const keys[] = {
		"subarch", "version_stamp", "rel_type", "profile", "source_subpath",
		"snapshot_treeish", "compression_mode", "lock_timeout", "portage_confdir",
	};

	for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
		Buf b = { 0 };
		_cleanup_free_ char *text = NULL, *want = NULL;

		buf_puts(&b, "target: stage3\n");
		for (size_t j = 0; j < ELEMENTSOF(keys); j++)
			buf_printf(&b, "%s: %s\n", keys[j], i == j ? "a b c" : "0");
		text = buf_steal(&b);
		want = xasprintf("t.spec:%zu: key '%s' takes a single word, not a list of 3",
				 i + 2, keys[i]);
		parse_validate(f, text);
		assert_int_equal(f->validate_r, -EINVAL);
		/* lock_timeout 0 is fine; compression_mode 0 is not. */
		assert_true(f->diags.n >= 1);
		{
			bool found = false;
			for (size_t k = 0; k < f->diags.n; k++)
				found |= strcmp(f->diags.v[k].msg, want) == 0;
			if (!found)
				print_message("missing: %s\n", want);
			assert_true(found);
		}
		spec_done(&f->spec);
		diags_done(&f->diags);
	}
}

static void test_compression_mode(void **state)
{
	Fixture *f = *state;
	static const char *const good[] = {
		"lbzip2", "lbzip2_x", "bzip2", "tar", "xz", "pixz", "pixz_i", "gzip",
		"zstd", "pzstd", "squashfs_zstd", "squashfs_pzstd", "gzip_x", "lzip", "lzma", "lzop",
	};
	/* rsync copies a tree (catalyst's capture cannot use it); pigz, zstd_x
	 * are no pyDeComp modes. */
	static const char *const bad[] = { "rsync", "pigz", "zstd_x", "squashfs" };

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		_cleanup_free_ char *text = xasprintf(STAGE3_BASE "compression_mode: %s\n", good[i]);

		parse_validate(f, text);
		assert_int_equal(f->validate_r, 0);
		assert_no_diags(f);
		spec_done(&f->spec);
	}

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *text = xasprintf(STAGE3_BASE "compression_mode: %s\n", bad[i]);

		parse_validate(f, text);
		assert_int_equal(f->validate_r, -EINVAL);
		spec_done(&f->spec);
		diags_done(&f->diags);
	}

	parse_validate(f, STAGE3_BASE "compression_mode: rar\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false,
			"t.spec:8: unknown compression_mode 'rar' (one of: lbzip2, bzip2, lzip, lzma, "
			"lzop, tar, xz, pixz, pixz_i, zstd, pzstd, gzip, squashfs_xz, squashfs_gzip, "
			"squashfs_zstd, squashfs_pzstd, lbzip2_x, bzip2_x, tar_x, xz_x, pixz_x, gzip_x)");
}

static void test_decompressor_search_order(void **state)
{
	Fixture *f = *state;

	parse_validate(f, STAGE3_BASE "decompressor_search_order: xz zip squashfs rar\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_int_equal(f->diags.n, 2);
	assert_string_equal(f->diags.v[0].msg,
			    "t.spec:8: unknown decompressor 'zip' in decompressor_search_order");
	assert_string_equal(f->diags.v[1].msg,
			    "t.spec:8: unknown decompressor 'rar' in decompressor_search_order");
}

static void test_lock_timeout(void **state)
{
	Fixture *f = *state;
	static const char *const good[] = { "0", "30", "86400" };
	static const char *const bad[] = { "-1", "abc", "1.5", "+3", "99999999999999999999999" };

	for (size_t i = 0; i < ELEMENTSOF(good); i++) {
		_cleanup_free_ char *text = xasprintf(STAGE3_BASE "lock_timeout: %s\n", good[i]);

		parse_validate(f, text);
		assert_int_equal(f->validate_r, 0);
		assert_no_diags(f);
		spec_done(&f->spec);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *text = xasprintf(STAGE3_BASE "lock_timeout: %s\n", bad[i]);
		_cleanup_free_ char *want = xasprintf(
			"t.spec:8: lock_timeout must be a non-negative integer (seconds), not '%s'",
			bad[i]);

		parse_validate(f, text);
		assert_int_equal(f->validate_r, -EINVAL);
		assert_one_diag(f, false, want);
		spec_done(&f->spec);
		diags_done(&f->diags);
	}
}

static void test_update_seed(void **state)
{
	Fixture *f = *state;

	parse_validate(f, "subarch: amd64\ntarget: stage1\nversion_stamp: 1\nrel_type: r\n"
			  "profile: p\nsource_subpath: s\nsnapshot_treeish: t\n"
			  "update_seed: maybe\nchost: x86_64-pc-linux-gnu\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:8: update_seed must be 'yes' or 'no', not 'maybe'");
}

#define STAGE4_BASE                               \
	"subarch: amd64\n"                        \
	"target: stage4\n"                        \
	"version_stamp: 1\n"                      \
	"rel_type: r\n"                           \
	"profile: p\n"                            \
	"snapshot_treeish: t\n"                   \
	"source_subpath: s\n"

static void test_stage4_requires_packages(void **state)
{
	Fixture *f = *state;

	parse_validate(f, STAGE4_BASE "stage4/use: x\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:2: missing required key 'stage4/packages'");
}

static void test_stage4_kernel_keys(void **state)
{
	Fixture *f = *state;

	parse_validate(f, STAGE4_BASE
		       "stage4/packages: a\n"
		       "boot/kernel: gentoo hppa64\n"
		       "boot/kernel/gentoo/sources: gentoo-sources\n"
		       "boot/kernel/gentoo/config: /c\n"
		       "boot/kernel/hppa64/dracut_args: --xz\n"
		       "boot/kernel/hppa64/gk_kernargs: --kernel-cc='gcc -m64'\n"
		       "boot/kernel/other/sources: x\n"
		       "boot/kernel/gentoo/bogus: x\n"
		       "boot/kernel/gentoo: x\n"
		       "stage4/fsscript: /s.sh\n"
		       "stage4/users: a b\n");
	assert_int_equal(f->validate_r, -EINVAL);
	/* boot/kernel is refused (no kernels yet); its sub-keys need no
	 * message of their own, unknown ones still get one */
	assert_int_equal(f->diags.n, 4);
	assert_string_equal(f->diags.v[0].msg,
			    "t.spec:9: key 'boot/kernel' is not supported by zeolite: zeolite does not build kernels yet");
	assert_string_equal(f->diags.v[1].msg,
			    "t.spec:14: unknown key 'boot/kernel/other/sources' for target stage4");
	assert_string_equal(f->diags.v[2].msg,
			    "t.spec:15: unknown key 'boot/kernel/gentoo/bogus' for target stage4");
	assert_string_equal(f->diags.v[3].msg,
			    "t.spec:16: unknown key 'boot/kernel/gentoo' for target stage4");
}

static void test_kernel_keys_need_boot_kernel(void **state)
{
	Fixture *f = *state;

	parse_validate(f, STAGE4_BASE "stage4/packages: a\nboot/kernel/gentoo/sources: x\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:9: unknown key 'boot/kernel/gentoo/sources' for target stage4");
}

static void test_boot_kernel_only_stage4(void **state)
{
	Fixture *f = *state;

	parse_validate(f, STAGE3_BASE "boot/kernel: gentoo\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:8: unknown key 'boot/kernel' for target stage3");
}

static void test_validate_empty_spec(void **state)
{
	Fixture *f = *state;

	parse_validate(f, "");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false, "t.spec:1: missing required key 'target'");
}

static void test_validate_unnamed(void **state)
{
	Fixture *f = *state;

	/* A Spec that never went through spec_parse() has no path. */
	f->validate_r = spec_validate(&f->spec, &f->diags);
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false, "<spec>:1: missing required key 'target'");
}

/* ---- files ---- */

static char *data_path(const char *name)
{
	const char *srcdir = getenv("SRCDIR");

	return xasprintf("%s/tests/data/specs/%s", srcdir ? srcdir : ".", name);
}

static void load_validate(Fixture *f, const char *name, char **ret_path)
{
	*ret_path = data_path(name);
	f->parse_r = spec_load(*ret_path, &f->spec, &f->diags);
	if (f->parse_r == 0 || f->parse_r == -EINVAL)
		f->validate_r = spec_validate(&f->spec, &f->diags);
}

static void test_load_missing(void **state)
{
	Fixture *f = *state;

	f->parse_r = spec_load("/nonexistent/x.spec", &f->spec, &f->diags);
	assert_int_equal(f->parse_r, -ENOENT);
	assert_one_diag(f, false, "/nonexistent/x.spec: cannot read: No such file or directory");
	assert_int_equal(f->spec.n, 0);
}

static void test_load_directory(void **state)
{
	Fixture *f = *state;

	f->parse_r = spec_load("/", &f->spec, &f->diags);
	assert_int_equal(f->parse_r, -EISDIR);
	assert_one_diag(f, false, "/: cannot read: Is a directory");
}

static void test_data_good(void **state)
{
	Fixture *f = *state;
	static const char *const files[] = {
		"good-stage1.spec", "good-stage4.spec", "good-catalyst3.spec",
	};

	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		_cleanup_free_ char *path = NULL;

		load_validate(f, files[i], &path);
		assert_int_equal(f->parse_r, 0);
		assert_int_equal(f->validate_r, 0);
		assert_no_diags(f);
		spec_done(&f->spec);
	}
}

static void test_data_good_stage4_content(void **state)
{
	Fixture *f = *state;
	_cleanup_free_ char *path = NULL;
	static const char *const pkgs[] = { "sys-libs/glibc:2.2", "media-libs/mesa", "sys-auth/pambase" };

	load_validate(f, "good-stage4.spec", &path);
	assert_words(spec_get(&f->spec, "stage4/packages"), pkgs, 3);
}

static void test_data_warn(void **state)
{
	Fixture *f = *state;
	_cleanup_free_ char *path = NULL, *want = NULL;
	static const char *const cflags[] = { "-O2", "-pipe" };

	load_validate(f, "warn-stage3.spec", &path);
	assert_int_equal(f->parse_r, 0);
	assert_int_equal(f->validate_r, 0);
	want = xasprintf("%s:11: key 'chost' has an empty value; ignored", path);
	assert_one_diag(f, true, want);
	assert_words(spec_get(&f->spec, "cflags"), cflags, 2);
}

static void test_data_bad(void **state)
{
	Fixture *f = *state;
	static const struct {
		const char *file;
		const char *msgs[8];
	} cases[] = {
		{ "bad-syntax.spec", {
			"1: continuation line before any key",
			"3: expected 'key: value'",
			"4: duplicate key 'subarch' (first set at line 2)",
			"5: empty key before ':'",
			"6: invalid key 'two words' (keys contain no whitespace)",
			"1: missing required key 'target'",
		} },
		{ "bad-livecd.spec", {
			"3: target 'livecd-stage1' is not supported by zeolite "
			"(supported: stage1, stage2, stage3, stage4)",
		} },
		{ "bad-nul.spec", {
			"2: NUL byte (not a text file?)",
			"1: missing required key 'target'",
		} },
		{ "bad-values.spec", {
			"1: key 'subarch' takes a single word, not a list of 2",
			"7: unknown compression_mode 'rar' (one of: lbzip2, bzip2, lzip, lzma, lzop, "
			"tar, xz, pixz, pixz_i, zstd, pzstd, gzip, squashfs_xz, squashfs_gzip, "
			"squashfs_zstd, squashfs_pzstd, lbzip2_x, bzip2_x, tar_x, xz_x, pixz_x, gzip_x)",
			"8: lock_timeout must be a non-negative integer (seconds), not '-5'",
			"9: unknown key 'update_seed' for target stage3",
			"10: unknown key 'frobnicate' for target stage3",
			"2: missing required key 'profile'",
		} },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *path = NULL;
		size_t n = 0;

		load_validate(f, cases[i].file, &path);
		assert_int_equal(f->validate_r, -EINVAL);
		while (n < ELEMENTSOF(cases[i].msgs) && cases[i].msgs[n])
			n++;
		if (f->diags.n != n)
			for (size_t k = 0; k < f->diags.n; k++)
				print_message("%s\n", f->diags.v[k].msg);
		assert_int_equal(f->diags.n, n);
		for (size_t k = 0; k < n; k++) {
			_cleanup_free_ char *want = xasprintf("%s:%s", path, cases[i].msgs[k]);
			assert_string_equal(f->diags.v[k].msg, want);
			assert_false(f->diags.v[k].warning);
		}
		spec_done(&f->spec);
		diags_done(&f->diags);
	}
}

static void test_placeholder_unsubstituted(void **state)
{
	Fixture *f = *state;

	parse_validate(f, STAGE3_BASE "portage_confdir: @REPO_DIR@/releases/portage/stages\n"
				      "cflags: -O2 @world\n");
	assert_int_equal(f->validate_r, -EINVAL);
	assert_one_diag(f, false,
			"t.spec:8: 'portage_confdir' has the placeholder @REPO_DIR@ left unsubstituted "
			"(catalyst-auto replaces @TIMESTAMP@, @TREEISH@, @REPO_DIR@ and @DATESTAMP@ with sed "
			"before catalyst runs)");
}

/* ---- the gentoo/releng corpus ---- */

static char *replace_all(const char *s, const char *from, const char *to)
{
	Buf b = { 0 };
	size_t n = strlen(from);
	const char *p;

	while ((p = strstr(s, from))) {
		buf_put(&b, s, (size_t) (p - s));
		buf_puts(&b, to);
		s = p + n;
	}
	buf_puts(&b, s);
	return buf_steal(&b);
}

typedef struct Corpus {
	unsigned accepted;
	unsigned unsupported;
	unsigned other;
} Corpus;

static void corpus_check(const char *path, Corpus *c)
{
	static const char *const subst[][2] = {
		{ "@TIMESTAMP@", "20250101T000000Z" },
		{ "@TREEISH@", HEX40 },
		{ "@REPO_DIR@", "/var/tmp/releng" },
		{ "@DATESTAMP@", "20250101" },
	};
	_cleanup_free_ char *text = NULL;
	Spec s;
	Diags d = { 0 };
	size_t len;

	assert_int_equal(read_file_at(AT_FDCWD, path, SPEC_MAX_SIZE, &text, &len), 0);
	for (size_t i = 0; i < ELEMENTSOF(subst); i++) {
		char *t = replace_all(text, subst[i][0], subst[i][1]);
		free(text);
		text = t;
	}
	spec_parse(path, text, strlen(text), &s, &d);
	spec_validate(&s, &d);
	if (d.n == 0)
		c->accepted++;
	else if (d.n == 1 && strstr(d.v[0].msg, "is not supported by zeolite"))
		c->unsupported++;
	else {
		c->other++;
		for (size_t i = 0; i < d.n; i++)
			print_message("%s\n", d.v[i].msg);
	}
	spec_done(&s);
	diags_done(&d);
}

static void corpus_walk(const char *dir, Corpus *c)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
		struct stat st;

		if (name[0] != '.' && lstat(path, &st) == 0) {
			size_t l = strlen(name);

			if (S_ISDIR(st.st_mode))
				corpus_walk(path, c);
			else if (S_ISREG(st.st_mode) && l > 5 && strcmp(name + l - 5, ".spec") == 0)
				corpus_check(path, c);
		}
		free(names[i]);
	}
	free(names);
}

static void test_releng_corpus(void **state)
{
	const char *shared = getenv("SHARED_DATA");
	_cleanup_free_ char *dir = NULL;
	Corpus c = { 0 };
	struct stat st;

	(void) state;
	if (!shared || !*shared)
		skip();
	dir = xasprintf("%s/releng-specs/releases", shared);
	if (stat(dir, &st) < 0)
		skip();
	corpus_walk(dir, &c);
	assert_int_equal(c.other, 0);
	assert_int_equal(c.accepted, 364);
	assert_int_equal(c.unsupported, 42);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_single_word_is_string),
		T(test_several_words_are_list),
		T(test_split_on_first_colon),
		T(test_continuation_lines),
		T(test_continuation_with_colon),
		T(test_blank_and_comment_lines_keep_key),
		T(test_comment_anywhere),
		T(test_quotes_stripped),
		T(test_percent_expansion),
		T(test_percent_errors),
		T(test_crlf_bom_no_final_newline),
		T(test_utf8_values),
		T(test_empty_input),
		T(test_continuation_before_key),
		T(test_line_without_colon),
		T(test_duplicate_key),
		T(test_duplicate_of_empty_key),
		T(test_many_keys),
		T(test_empty_value_warning),
		T(test_empty_key),
		T(test_key_with_whitespace),
		T(test_nul_byte),
		T(test_invalid_utf8),
		T(test_control_character),
		T(test_all_errors_reported),
		T(test_to_json),
		T(test_to_json_empty),
		T(test_valid_stage3),
		T(test_missing_target),
		T(test_target_list),
		T(test_unsupported_targets),
		T(test_unknown_target),
		T(test_unknown_key),
		T(test_key_of_other_target),
		T(test_missing_required),
		T(test_missing_snapshot),
		T(test_catalyst3_snapshot),
		T(test_both_snapshots),
		T(test_single_word_keys),
		T(test_compression_mode),
		T(test_decompressor_search_order),
		T(test_lock_timeout),
		T(test_update_seed),
		T(test_stage4_requires_packages),
		T(test_stage4_kernel_keys),
		T(test_kernel_keys_need_boot_kernel),
		T(test_boot_kernel_only_stage4),
		T(test_validate_empty_spec),
		T(test_validate_unnamed),
		T(test_load_missing),
		T(test_load_directory),
		T(test_data_good),
		T(test_data_good_stage4_content),
		T(test_data_warn),
		T(test_data_bad),
		T(test_placeholder_unsubstituted),
		T(test_releng_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
