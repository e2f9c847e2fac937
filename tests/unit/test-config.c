// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

/* "config.h" alone would find meson's generated one in the build root */
#include "src/config.h"

static char tmpdir[] = "/tmp/test-config.XXXXXX";
static unsigned n_files;

/* Write TEXT to a new file in tmpdir; return its path (caller frees). */
static char *write_conf(const char *text)
{
	char *path = xasprintf("%s/%u.conf", tmpdir, n_files++);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, text, strlen(text)), 0);
	close(fd);
	return path;
}

/* Load TEXT over C; return config_load's result. */
static int load(Config *c, const char *text, Diags *d, char **ret_path)
{
	char *path = write_conf(text);
	int r = config_load(c, path, d);

	if (ret_path)
		*ret_path = path;
	else
		free(path);
	return r;
}

/* Load TEXT into a fresh config and expect exactly MSG (FILE: is added). */
static void check_load_error(const char *text, const char *msg)
{
	Config c;
	Diags d = { 0 };
	char *path, *want;

	config_init(&c);
	assert_int_equal(load(&c, text, &d, &path), -EINVAL);
	want = xasprintf("%s:%s", path, msg);
	if (d.n != 1)
		print_error("got %zu diagnostics, first: %s\n", d.n, d.n ? d.v[0].msg : "");
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].msg, want);
	/* nothing of a bad file is applied */
	assert_string_equal(c.storedir, CONFIG_DEFAULT_STOREDIR);
	assert_int_equal(strv_length(c.files), 0);
	free(want);
	free(path);
	diags_done(&d);
	config_done(&c);
}

/* Load TEXT; expect config_finish to fail with exactly MSG. */
static void check_finish_error(const char *text, const char *msg)
{
	Config c;
	Diags d = { 0 };
	char *path, *want;

	config_init(&c);
	assert_int_equal(load(&c, text, &d, &path), 0);
	assert_int_equal(config_finish(&c, &d), -EINVAL);
	want = strncmp(msg, "built-in", 8) == 0 ? xstrdup(msg) : xasprintf("%s:%s", path, msg);
	if (d.n != 1)
		print_error("got %zu diagnostics, first: %s\n", d.n, d.n ? d.v[0].msg : "");
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].msg, want);
	free(want);
	free(path);
	diags_done(&d);
	config_done(&c);
}

static void test_defaults(void **state)
{
	Config c;
	Diags d = { 0 };

	(void) state;
	config_init(&c);
	assert_int_equal(config_finish(&c, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(c.storedir, "/var/tmp/zeolite");
	assert_string_equal(c.sharedir, "/usr/share/zeolite");
	assert_string_equal(c.distdir, "/var/cache/distfiles");
	assert_string_equal(c.repo_basedir, "/var/db/repos");
	assert_string_equal(c.repo_name, "gentoo");
	assert_string_equal(c.repos_storedir, "/var/tmp/zeolite/repos");
	assert_string_equal(c.target_distdir, "/var/cache/distfiles");
	assert_string_equal(c.target_pkgdir, "/var/cache/binpkgs");
	assert_string_equal(c.target_logdir, "/var/log/portage");
	assert_string_equal(c.repo_openpgp_key_path, "/usr/share/openpgp-keys/gentoo-release.asc");
	assert_string_equal(c.compression_mode, "lbzip2");
	assert_string_equal(c.digest_format, "linux");
	assert_int_equal(strv_length(c.digests), 0); /* catalyst: none */
	assert_non_null(c.options);
	assert_null(c.options[0]);
	assert_non_null(c.distcc_hosts);
	assert_null(c.distcc_hosts[0]);
	assert_null(c.port_logdir);
	assert_null(c.envscript);
	assert_null(c.binhost);
	assert_null(c.jobserver_fifo);
	assert_null(c.load_average);
	assert_int_equal(c.jobs, 0);
	assert_false(c.var_tmpfs_portage);
	assert_int_equal(c.var_tmpfs_portage_size, 0);
	assert_int_equal(c.lock_timeout, CONFIG_DEFAULT_LOCK_TIMEOUT);
	assert_int_equal(strv_length(c.files), 0);
	assert_false(config_has_option(&c, "pkgcache"));
	config_done(&c);
}

static void test_sample_file(void **state)
{
	const char *srcdir = getenv("SRCDIR");
	Config c;
	Diags d = { 0 };
	char *path;

	(void) state;
	if (!srcdir)
		skip();
	path = xasprintf("%s/tests/data/conf/catalyst.conf", srcdir);
	config_init(&c);
	assert_int_equal(config_load(&c, path, &d), 0);
	assert_int_equal(config_finish(&c, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(c.compression_mode, "xz");
	assert_string_equal(c.envscript, "/etc/zeolite/zeolitrc");
	assert_string_equal(c.port_logdir, "/var/tmp/zeolite/logs");
	assert_string_equal(c.repos_storedir, "/var/tmp/zeolite/repos");
	assert_string_equal(c.jobserver_fifo, "/run/zeolite/jobserver");
	assert_string_equal(c.binhost, "https://example.org/binpkgs/");
	assert_string_equal(c.load_average, "4");
	assert_int_equal(c.jobs, 4);
	assert_true(c.var_tmpfs_portage);
	assert_int_equal(c.var_tmpfs_portage_size, 16);
	assert_int_equal(c.lock_timeout, 600);
	assert_int_equal(strv_length(c.distcc_hosts), 2);
	assert_true(config_has_option(&c, "pkgcache"));
	assert_true(config_has_option(&c, "bindist"));
	assert_false(config_has_option(&c, "ccache"));
	assert_string_equal(c.files[0], path);
	free(path);
	diags_done(&d);
	config_done(&c);
}

static void test_arch_file_is_not_a_config(void **state)
{
	const char *srcdir = getenv("SRCDIR");
	Config c;
	Diags d = { 0 };
	char *path, *want;

	(void) state;
	if (!srcdir)
		skip();
	path = xasprintf("%s/tests/data/conf/amd64-arch.conf", srcdir);
	config_init(&c);
	assert_int_equal(config_load(&c, path, &d), -EINVAL);
	assert_int_equal(d.n, 3);
	/* [setarch.x86] makes setarch implicitly; it is reported as written */
	want = xasprintf("%s:4: table [setarch.x86] is not allowed: the config file has only top-level keys",
			 path);
	assert_string_equal(d.v[0].msg, want);
	free(want);
	free(path);
	diags_done(&d);
	config_done(&c);
}

static void test_merge(void **state)
{
	Config c;
	Diags d = { 0 };
	char *p1, *p2;

	(void) state;
	config_init(&c);
	assert_int_equal(load(&c, "storedir = '/srv/a'\njobs = 2\noptions = ['pkgcache']\n"
			 "digests = ['md5']\n", &d, &p1), 0);
	assert_int_equal(load(&c, "# second\njobs = 8\noptions = ['ccache', 'keepwork']\n"
			 "lock_timeout = 0\n", &d, &p2), 0);
	assert_int_equal(config_finish(&c, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(c.storedir, "/srv/a");
	assert_string_equal(c.repos_storedir, "/srv/a/repos");
	assert_int_equal(c.jobs, 8);
	assert_int_equal(c.lock_timeout, 0);
	assert_false(config_has_option(&c, "pkgcache"));
	assert_true(config_has_option(&c, "ccache"));
	assert_true(config_has_option(&c, "keepwork"));
	assert_string_equal(c.digests[0], "md5");
	assert_null(c.digests[1]);
	assert_int_equal(strv_length(c.files), 2);
	assert_string_equal(c.files[0], p1);
	assert_string_equal(c.files[1], p2);
	assert_ptr_equal(c.origins[0].file, NULL); /* binhost: built-in */
	free(p1);
	free(p2);
	diags_done(&d);
	config_done(&c);
}

static void test_substitution(void **state)
{
	Config c;
	Diags d = { 0 };

	(void) state;
	config_init(&c);
	assert_int_equal(load(&c, "port_logdir = '%(storedir)s/logs'\n"
			 "envscript = '%(sharedir)s/rc-%(repo_name)s-%(jobs)s-%(lock_timeout)s'\n"
			 "binhost = 'http://x/100%%/%(target_pkgdir)s'\n"
			 "target_pkgdir = '%(repos_storedir)s/pkg'\n"
			 "jobs = 3\n"
			 "load-average = 2.5\n"
			 "jobserver-fifo = '%(load-average)s|%(digest_format)s|%(var_tmpfs_portage)s'\n",
			 &d, NULL), 0);
	/* a later file's storedir is what %(storedir)s means */
	assert_int_equal(load(&c, "storedir = '/later'\nsharedir = '/sh'\n", &d, NULL), 0);
	assert_int_equal(config_finish(&c, &d), 0);
	assert_int_equal(d.n, 0);
	assert_string_equal(c.port_logdir, "/later/logs");
	assert_string_equal(c.envscript, "/sh/rc-gentoo-3-3600");
	assert_string_equal(c.target_pkgdir, "/later/repos/pkg");
	assert_string_equal(c.binhost, "http://x/100%//later/repos/pkg");
	assert_string_equal(c.jobserver_fifo, "2.5|linux|0");
	assert_string_equal(c.load_average, "2.5");
	/* once only: a second call must not read the '%' again */
	assert_int_equal(config_finish(&c, &d), 0);
	assert_string_equal(c.binhost, "http://x/100%//later/repos/pkg");
	diags_done(&d);
	config_done(&c);
}

static void test_subst_unknown(void **state)
{
	(void) state;
	check_finish_error("\nport_logdir = '%(nope)s/logs'\n",
			   "2: 'port_logdir' refers to unknown key 'nope'");
}

static void test_subst_unset(void **state)
{
	(void) state;
	check_finish_error("port_logdir = '%(envscript)s'\n",
			   "1: 'port_logdir' refers to 'envscript', which is not set");
}

static void test_subst_unset_jobs(void **state)
{
	(void) state;
	check_finish_error("port_logdir = '%(jobs)s'\n",
			   "1: 'port_logdir' refers to 'jobs', which is not set");
}

static void test_subst_array(void **state)
{
	(void) state;
	check_finish_error("port_logdir = '%(digests)s'\n",
			   "1: 'port_logdir' refers to 'digests', which is an array, not a string");
}

static void test_subst_self(void **state)
{
	(void) state;
	check_finish_error("storedir = '%(storedir)s/x'\n",
			   "1: recursive reference: storedir -> storedir");
}

static void test_subst_cycle_through_default(void **state)
{
	(void) state;
	check_finish_error("storedir = '%(repos_storedir)s/x'\n",
			   "1: recursive reference: storedir -> repos_storedir -> storedir");
}

static void test_subst_cycle(void **state)
{
	(void) state;
	check_finish_error("envscript = '%(binhost)s'\nbinhost = '%(port_logdir)s'\n"
			   "port_logdir = '%(envscript)s'\n",
			   "2: recursive reference: binhost -> port_logdir -> envscript -> binhost");
}

static void test_subst_bad_percent(void **state)
{
	(void) state;
	check_finish_error("binhost = '50%'\n",
			   "1: 'binhost': a '%' must start '%(key)s' (or be written '%%')");
}

static void test_subst_unterminated(void **state)
{
	(void) state;
	check_finish_error("binhost = '%(storedir'\n", "1: 'binhost': unterminated '%(' reference");
}

static void test_subst_conversion(void **state)
{
	(void) state;
	check_finish_error("binhost = '%(jobs)d'\njobs = 1\n",
			   "1: 'binhost': only '%(key)s' references are supported, not '%(jobs)d'");
}

static void test_type_string(void **state)
{
	(void) state;
	check_load_error("storedir = 1\n", "1: 'storedir' must be a string");
}

static void test_type_string_array(void **state)
{
	(void) state;
	check_load_error("\ndistdir = ['/a']\n", "2: 'distdir' must be a string");
}

static void test_type_array(void **state)
{
	(void) state;
	check_load_error("options = 'pkgcache ccache'\n", "1: 'options' must be an array of strings");
}

static void test_type_array_item(void **state)
{
	(void) state;
	check_load_error("distcc_hosts = [\n  'a',\n  2,\n]\n",
			 "3: 'distcc_hosts' must be an array of strings");
}

static void test_type_integer(void **state)
{
	(void) state;
	check_load_error("jobs = '4'\n", "1: 'jobs' must be an integer");
}

static void test_type_integer_bool(void **state)
{
	(void) state;
	check_load_error("lock_timeout = true\n", "1: 'lock_timeout' must be an integer");
}

static void test_type_integer_float(void **state)
{
	(void) state;
	check_load_error("var_tmpfs_portage = 1.5\n", "1: 'var_tmpfs_portage' must be an integer");
}

static void test_jobs_zero(void **state)
{
	(void) state;
	check_load_error("jobs = 0\n", "1: 'jobs' must be at least 1");
}

static void test_lock_timeout_negative(void **state)
{
	(void) state;
	check_load_error("lock_timeout = -1\n", "1: 'lock_timeout' must not be negative");
}

static void test_tmpfs_negative(void **state)
{
	(void) state;
	check_load_error("var_tmpfs_portage = -2\n", "1: 'var_tmpfs_portage' must not be negative");
}

static void test_load_average_type(void **state)
{
	(void) state;
	check_load_error("load-average = '4'\n", "1: 'load-average' must be a number");
}

static void test_load_average_negative(void **state)
{
	(void) state;
	check_load_error("load-average = -0.5\n", "1: 'load-average' must not be negative");
	/* emerge exits 2 on --load-average 0 */
	check_load_error("load-average = 0\n", "1: 'load-average' must be greater than 0 (emerge refuses --load-average 0)");
	check_load_error("load-average = 0.0\n", "1: 'load-average' must be greater than 0 (emerge refuses --load-average 0)");
	check_load_error("load-average = +0.0\n", "1: 'load-average' must be greater than 0 (emerge refuses --load-average 0)");
}

static void test_load_average_values(void **state)
{
	Config c;
	Diags d = { 0 };

	(void) state;
	config_init(&c);
	assert_int_equal(load(&c, "load-average = +1_2.5\n", &d, NULL), 0);
	assert_string_equal(c.load_average, "12.5");
	assert_int_equal(load(&c, "load-average = 3\n", &d, NULL), 0);
	assert_string_equal(c.load_average, "3");
	assert_int_equal(d.n, 0);
	config_done(&c);
}

static void test_float_elsewhere(void **state)
{
	(void) state;
	check_load_error("storedir = 1.0\n", "1: 'storedir' must be a string");
}

static void test_digest_unknown(void **state)
{
	(void) state;
	check_load_error("digests = ['sha512', 'crc32']\n",
			 "1: unknown digest 'crc32' in 'digests' (valid: blake2b, blake2s, md5, sha1, "
			 "sha224, sha256, sha384, sha512, sha3_224, sha3_256, sha3_384, sha3_512)");
}

static void test_compression_mode_unknown(void **state)
{
	Config c;
	Diags d = { 0 };

	(void) state;
	/* What the packer cannot write is refused, as in a spec. */
	check_load_error("compression_mode = 'rsync'\n",
			 "1: unknown compression_mode \"rsync\" (one of: lbzip2, bzip2, lzip, lzma, lzop, "
			 "tar, xz, pixz, pixz_i, zstd, pzstd, gzip, squashfs_xz, squashfs_gzip, "
			 "squashfs_zstd, squashfs_pzstd, lbzip2_x, bzip2_x, tar_x, xz_x, pixz_x, gzip_x)");
	config_init(&c);
	assert_int_equal(load(&c, "compression_mode = 'squashfs_zstd'\n", &d, NULL), 0);
	assert_string_equal(c.compression_mode, "squashfs_zstd");
	config_done(&c);
	diags_done(&d);
}

static void test_digest_all_valid(void **state)
{
	Config c;
	Diags d = { 0 };

	(void) state;
	config_init(&c);
	assert_int_equal(load(&c, "digests = ['blake2b', 'blake2s', 'md5', 'sha1', 'sha224', "
			 "'sha256', 'sha384', 'sha512', 'sha3_224', 'sha3_256', 'sha3_384', "
			 "'sha3_512']\n", &d, NULL), 0);
	assert_int_equal(strv_length(c.digests), 12);
	assert_int_equal(load(&c, "digests = []\n", &d, NULL), 0);
	assert_int_equal(strv_length(c.digests), 0);
	config_done(&c);
	diags_done(&d);
}

static void test_digest_format(void **state)
{
	(void) state;
	check_load_error("digest_format = 'gnu'\n",
			 "1: 'digest_format' must be \"bsd\" or \"linux\", not \"gnu\"");
}

static void test_digest_format_bsd(void **state)
{
	Config c;
	Diags d = { 0 };

	(void) state;
	config_init(&c);
	assert_int_equal(load(&c, "digest_format = 'bsd'\n", &d, NULL), 0);
	assert_string_equal(c.digest_format, "bsd");
	config_done(&c);
}

static void test_unknown_key(void **state)
{
	(void) state;
	check_load_error("storedir = '/x'\nfoo = 1\n", "2: unknown key 'foo'");
}

static void test_unknown_key_catalyst2(void **state)
{
	(void) state;
	/* older catalyst keys are not silently ignored either */
	check_load_error("snapshot_cache = '/x'\n", "1: unknown key 'snapshot_cache'");
}

static void test_table(void **state)
{
	(void) state;
	check_load_error("[main]\nstoredir = '/x'\n",
			 "1: table [main] is not allowed: the config file has only top-level keys");
}

static void test_subtable(void **state)
{
	(void) state;
	check_load_error("\n[a.b]\nstoredir = '/x'\n",
			 "2: table [a.b] is not allowed: the config file has only top-level keys");
}

static void test_dotted_key(void **state)
{
	(void) state;
	check_load_error("storedir.path = '/x'\n",
			 "1: dotted key 'storedir.path' is not allowed: the config file has only top-level keys");
}

static void test_parse_error(void **state)
{
	(void) state;
	check_load_error("storedir = /x\n", "1: expected a value, found '/'");
}

static void test_all_errors_reported(void **state)
{
	Config c;
	Diags d = { 0 };

	(void) state;
	config_init(&c);
	assert_int_equal(load(&c, "foo = 1\njobs = 'x'\nstoredir = '/new'\nbar = 2\n", &d, NULL),
			 -EINVAL);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.n_errors, 3);
	assert_non_null(strstr(d.v[0].msg, ":1: unknown key 'foo'"));
	assert_non_null(strstr(d.v[1].msg, ":2: 'jobs' must be an integer"));
	assert_non_null(strstr(d.v[2].msg, ":4: unknown key 'bar'"));
	assert_string_equal(c.storedir, CONFIG_DEFAULT_STOREDIR);
	diags_done(&d);
	config_done(&c);
}

static void test_missing_file(void **state)
{
	Config c;
	Diags d = { 0 };
	char *path = xasprintf("%s/does-not-exist.conf", tmpdir);

	(void) state;
	config_init(&c);
	assert_int_equal(config_load(&c, path, &d), -ENOENT);
	assert_int_equal(d.n, 0);
	free(path);
	config_done(&c);
}

static void test_unreadable(void **state)
{
	Config c;
	Diags d = { 0 };
	char *want = xasprintf("%s: cannot read: Is a directory", tmpdir);

	(void) state;
	config_init(&c);
	assert_int_equal(config_load(&c, tmpdir, &d), -EISDIR);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].msg, want);
	free(want);
	diags_done(&d);
	config_done(&c);
}

static void test_empty_file(void **state)
{
	Config c;
	Diags d = { 0 };

	(void) state;
	config_init(&c);
	assert_int_equal(load(&c, "# nothing\n", &d, NULL), 0);
	assert_int_equal(strv_length(c.files), 1);
	assert_int_equal(config_finish(&c, &d), 0);
	assert_string_equal(c.repos_storedir, "/var/tmp/zeolite/repos");
	config_done(&c);
}

static int setup(void **state)
{
	(void) state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void) state;
	for (unsigned i = 0; i < n_files; i++) {
		char *p = xasprintf("%s/%u.conf", tmpdir, i);
		(void) unlink(p);
		free(p);
	}
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_sample_file),
		cmocka_unit_test(test_arch_file_is_not_a_config),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_substitution),
		cmocka_unit_test(test_subst_unknown),
		cmocka_unit_test(test_subst_unset),
		cmocka_unit_test(test_subst_unset_jobs),
		cmocka_unit_test(test_subst_array),
		cmocka_unit_test(test_subst_self),
		cmocka_unit_test(test_subst_cycle_through_default),
		cmocka_unit_test(test_subst_cycle),
		cmocka_unit_test(test_subst_bad_percent),
		cmocka_unit_test(test_subst_unterminated),
		cmocka_unit_test(test_subst_conversion),
		cmocka_unit_test(test_type_string),
		cmocka_unit_test(test_type_string_array),
		cmocka_unit_test(test_type_array),
		cmocka_unit_test(test_type_array_item),
		cmocka_unit_test(test_type_integer),
		cmocka_unit_test(test_type_integer_bool),
		cmocka_unit_test(test_type_integer_float),
		cmocka_unit_test(test_jobs_zero),
		cmocka_unit_test(test_lock_timeout_negative),
		cmocka_unit_test(test_tmpfs_negative),
		cmocka_unit_test(test_load_average_type),
		cmocka_unit_test(test_load_average_negative),
		cmocka_unit_test(test_load_average_values),
		cmocka_unit_test(test_float_elsewhere),
		cmocka_unit_test(test_digest_unknown),
		cmocka_unit_test(test_compression_mode_unknown),
		cmocka_unit_test(test_digest_all_valid),
		cmocka_unit_test(test_digest_format),
		cmocka_unit_test(test_digest_format_bsd),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_unknown_key_catalyst2),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_subtable),
		cmocka_unit_test(test_dotted_key),
		cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_empty_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
