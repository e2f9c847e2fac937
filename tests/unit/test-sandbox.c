// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for sandbox.c: real namespaces, overlayfs, loop-mounted
 * squashfs, on a busybox seed made by tests/seed/make-busybox-seed.sh.
 * They need root; without mount namespaces every test is skipped.
 *
 * After every run each test checks that its own /proc/self/mountinfo (in a
 * private mount namespace of the test process)
 * is byte for byte what it was before and that no loop device is left
 * attached to the test image.  Teardown refuses to rm -rf anything while
 * the host's mount table mentions the test directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "sandbox.h"

#define REPO "/var/db/repos/gentoo"
#define HOSTNAME "zeolite-sbx"

static const char *skip_reason;
static char base[] = "/var/tmp/zeolite-test-sandbox.XXXXXX";
static char seed[PATH_MAX], snap_tree[PATH_MAX], snap_image[PATH_MAX];

typedef struct T {
	char dir[PATH_MAX];
	char upper[PATH_MAX + 16], work[PATH_MAX + 16], root[PATH_MAX + 16];
	int log_fd;
	char *argv[4];
	char *mountinfo_before;
	pid_t kill_pid;         /* a sandbox PID 1 for teardown to kill and reap */
	SandboxBind binds[2];
	SandboxConfig c;
} T;

static char *envp[] = { "PATH=/usr/bin:/usr/sbin:/bin:/sbin", "HOME=/root", "LC_ALL=C", NULL };

/* ---- helpers ---------------------------------------------------------- */

static int run_cmd(const char *fmt, ...) _printf_(1, 2);
static int run_cmd(const char *fmt, ...)
{
	_cleanup_free_ char *cmd = NULL;
	va_list ap;
	int st;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	if (!cmd)
		return -1;
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* First line of a command's output, malloc'd (empty string on no output). */
static char *cmd_output(const char *cmd)
{
	char line[512] = "";
	FILE *f = popen(cmd, "r");

	assert_non_null(f);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	assert_int_equal(pclose(f), 0);
	return xstrdup(line);
}

static char *host_mountinfo(void)
{
	char *text = NULL;
	size_t len;

	assert_int_equal(read_file_at(AT_FDCWD, "/proc/self/mountinfo", 8 << 20, &text, &len), 0);
	return text;
}

static char *tree_digest(const char *dir)
{
	char cmd[PATH_MAX + 128];

	snprintf(cmd, sizeof(cmd), "tar --sort=name --numeric-owner -cf - -C '%s' . | sha256sum", dir);
	return cmd_output(cmd);
}

/* Is a loop device still attached to PATH?  (What losetup -j reads.) */
static bool loop_attached(const char *path)
{
	char real[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (!realpath(path, real))
		return false;
	d = opendir("/sys/block");
	assert_non_null(d);
	while ((de = readdir(d))) {
		char p[600], *text = NULL;
		size_t len;

		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", de->d_name);
		if (read_file_at(AT_FDCWD, p, 8192, &text, &len) == 0) {
			if (strncmp(text, real, strlen(real)) == 0 &&
			    (text[strlen(real)] == '\n' || text[strlen(real)] == ' '))
				found = true;
			free(text);
		}
	}
	closedir(d);
	return found;
}

static void assert_host_clean(const T *t)
{
	_cleanup_free_ char *now = host_mountinfo();

	assert_string_equal(now, t->mountinfo_before);
	assert_false(loop_attached(snap_image));
}

static char *read_log(const T *t)
{
	Buf b = { 0 };
	char buf[4096];
	off_t off = 0;
	ssize_t n;

	while ((n = pread(t->log_fd, buf, sizeof(buf), off)) > 0) {
		buf_put(&b, buf, (size_t) n);
		off += n;
	}
	assert_true(n == 0);
	return buf_steal(&b);
}

static void set_script(T *t, const char *script)
{
	t->argv[0] = "/bin/sh";
	t->argv[1] = "-c";
	t->argv[2] = (char *) script;
	t->argv[3] = NULL;
}

/* Run SCRIPT; assert the sandbox worked and the script exited 0. */
static char *run_ok(T *t, const char *script)
{
	char *err = NULL;
	int status = -1, r;

	set_script(t, script);
	assert_int_equal(ftruncate(t->log_fd, 0), 0);
	assert_int_equal(lseek(t->log_fd, 0, SEEK_SET), 0);
	r = sandbox_run(&t->c, &status, &err);
	if (r < 0)
		fail_msg("sandbox_run: %d %s", r, err ? err : "(no message)");
	char *log = read_log(t);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("script status %#x, log:\n%s", status, log);
	assert_host_clean(t);
	return log;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

/* Options of the mount at MOUNT_POINT in a mountinfo text, or NULL. */
static char *mount_options(const char *mountinfo, const char *mount_point)
{
	_cleanup_free_ char *copy = xstrdup(mountinfo);
	char *save = NULL, *result = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char mp[PATH_MAX], opts[512];

		if (sscanf(line, "%*s %*s %*s %*s %4095s %511s", mp, opts) == 2 &&
		    strcmp(mp, mount_point) == 0) {
			free(result);   /* the last one wins: it is on top */
			result = xstrdup(opts);
		}
	}
	return result;
}

static bool has_option(const char *opts, const char *opt)
{
	_cleanup_free_ char *s = xasprintf(",%s,", opts);
	_cleanup_free_ char *o = xasprintf(",%s,", opt);

	return strstr(s, o) != NULL;
}

static int write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		return -errno;
	int r = write_all(fd, text, strlen(text));
	close(fd);
	return r;
}

/* Refuse to delete while any mount on the host is under BASE. */
static int remove_tree(const char *dir)
{
	_cleanup_free_ char *mi = NULL;
	size_t len;

	if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", 8 << 20, &mi, &len) < 0)
		return -1;
	if (strstr(mi, base))
		return -1;
	return run_cmd("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

/* ---- fixtures ----------------------------------------------------------- */

static const char *seed_script(void)
{
	static char path[PATH_MAX];
	const char *src = getenv("SRCDIR");

	snprintf(path, sizeof(path), "%s/tests/seed/make-busybox-seed.sh", src ? src : ".");
	return path;
}

static int group_setup(void **state)
{
	pid_t pid;
	int st;

	(void) state;
	if (geteuid() != 0) {
		skip_reason = "not root";
		return 0;
	}
	/* Can we have namespaces at all? */
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(unshare(CLONE_NEWNS | CLONE_NEWPID) == 0 ? 0 : 1);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		skip_reason = "no mount namespaces";
		return 0;
	}
	if (run_cmd("command -v gensquashfs >/dev/null && command -v busybox >/dev/null") != 0) {
		skip_reason = "gensquashfs or busybox missing";
		return 0;
	}

	strcpy(base, "/var/tmp/zeolite-test-sandbox.XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(seed, sizeof(seed), "%s/seed", base);
	snprintf(snap_tree, sizeof(snap_tree), "%s/snap", base);
	snprintf(snap_image, sizeof(snap_image), "%s/snap.sqfs", base);
	if (run_cmd("sh '%s' '%s'", seed_script(), seed) != 0)
		return -1;
	if (run_cmd("mkdir -p '%1$s/metadata' '%1$s/profiles' '%1$s/sys-apps/foo' && "
		    "echo 'masters =' > '%1$s/metadata/layout.conf' && "
		    "echo gentoo > '%1$s/profiles/repo_name' && "
		    "echo 'EAPI=8' > '%1$s/sys-apps/foo/foo-1.ebuild'", snap_tree) != 0)
		return -1;
	if (run_cmd("gensquashfs -q -D '%s' '%s' >/dev/null", snap_tree, snap_image) != 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void) state;
	if (skip_reason)
		return 0;
	return remove_tree(base);
}

static int setup(void **state)
{
	T *t = xcalloc(1, sizeof(*t));

	*state = t;
	t->log_fd = -EBADF;
	if (skip_reason)
		return 0;
	snprintf(t->dir, sizeof(t->dir), "%s/t.XXXXXX", base);
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->upper, sizeof(t->upper), "%s/upper", t->dir);
	snprintf(t->work, sizeof(t->work), "%s/work", t->dir);
	snprintf(t->root, sizeof(t->root), "%s/root", t->dir);
	t->log_fd = memfd_create("sandbox-log", MFD_CLOEXEC);
	if (t->log_fd < 0)
		return -1;
	t->mountinfo_before = host_mountinfo();
	t->c = (SandboxConfig) {
		.lower = seed,
		.upper = t->upper,
		.overlay_work = t->work,
		.root = t->root,
		.snapshot_image = snap_image,
		.repo_target = REPO,
		.hostname = HOSTNAME,
		.argv = t->argv,
		.envp = envp,
		.log_fd = t->log_fd,
	};
	set_script(t, "true");
	return 0;
}

static int teardown(void **state)
{
	T *t = *state;
	int r = 0;

	if (t->kill_pid > 0) {
		(void) kill(t->kill_pid, SIGKILL);
		(void) waitpid(t->kill_pid, NULL, 0);
	}
	(void) prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
	if (t->log_fd >= 0)
		close(t->log_fd);
	if (t->dir[0])
		r = remove_tree(t->dir);
	free(t->mountinfo_before);
	free(t);
	return r;
}

#define SKIP_IF_NEEDED() do { if (skip_reason) { print_message("skip: %s\n", skip_reason); skip(); } } while (0)

/* ---- tests ---------------------------------------------------------- */

/* 1: the command runs, as root, with our hostname and the snapshot. */
static void test_basic(void **state)
{
	T *t = *state;
	SKIP_IF_NEEDED();

	_cleanup_free_ char *log = run_ok(t, "echo hi; id -u; hostname; ls " REPO);
	assert_string_equal(log, "hi\n0\n" HOSTNAME "\nmetadata\nprofiles\nsys-apps\n");

	/* The command's own failure is its status, not an error. */
	char *err = NULL;
	int status = -1;
	set_script(t, "exit 7");
	assert_int_equal(sandbox_run(&t->c, &status, &err), 0);
	assert_null(err);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	set_script(t, "kill -9 $$");   /* PID 1 may not kill itself with a signal */
	assert_int_equal(sandbox_run(&t->c, &status, &err), 0);
	assert_host_clean(t);
}

/* 1b: personality "linux32" is setarch linux32: a 64-bit x86 host says i686. */
static void test_personality(void **state)
{
	T *t = *state;
	SKIP_IF_NEEDED();
	struct utsname u;
	assert_int_equal(uname(&u), 0);

	_cleanup_free_ char *plain = run_ok(t, "uname -m");
	_cleanup_free_ char *want = xasprintf("%s\n", u.machine);
	assert_string_equal(plain, want);
	t->c.personality = "linux32";
	_cleanup_free_ char *log = run_ok(t, "uname -m");
	if (strcmp(u.machine, "x86_64") == 0)
		assert_string_equal(log, "i686\n");
	t->c.personality = "bogus";
	char *err = NULL;
	int status;
	assert_int_equal(sandbox_run(&t->c, &status, &err), -EINVAL);
	assert_non_null(strstr(err, "personality"));
	free(err);
	t->c.personality = NULL;
	assert_host_clean(t);
}

/* 2: the snapshot is read-only, loop-mounted or bound. */
static void check_snapshot_ro(T *t)
{
	_cleanup_free_ char *log = run_ok(t,
		"cat " REPO "/profiles/repo_name; "
		"touch " REPO "/x 2>&1; echo rc=$?; "
		"mkdir " REPO "/d 2>&1; echo rc=$?");
	assert_non_null(strstr(log, "gentoo\n"));
	assert_non_null(strstr(log, "Read-only file system"));
	assert_true(has_line(log, "rc=1"));
	assert_null(strstr(log, "rc=0"));
}

static void test_snapshot_ro_image(void **state)
{
	T *t = *state;
	SKIP_IF_NEEDED();
	check_snapshot_ro(t);
}

static void test_snapshot_ro_tree(void **state)
{
	T *t = *state;
	SKIP_IF_NEEDED();

	_cleanup_free_ char *before = tree_digest(snap_tree);
	t->c.snapshot_image = NULL;
	t->c.snapshot_tree = snap_tree;
	check_snapshot_ro(t);
	_cleanup_free_ char *after = tree_digest(snap_tree);
	assert_string_equal(before, after);
}

/* 3: writes land in the upper dir; the shared lower tree never changes. */
static void test_writes_go_to_upper(void **state)
{
	T *t = *state;
	char p[PATH_MAX * 2];
	struct stat st;
	SKIP_IF_NEEDED();

	_cleanup_free_ char *before = tree_digest(seed);
	_cleanup_free_ char *log = run_ok(t,
		"echo hello > /etc/hello && rm /etc/hostname && chmod 700 /tmp && "
		"mkdir -p /var/tmp/portage/x && cat /etc/hello");
	assert_string_equal(log, "hello\n");
	_cleanup_free_ char *after = tree_digest(seed);
	assert_string_equal(before, after);

	snprintf(p, sizeof(p), "%s/etc/hello", t->upper);
	_cleanup_free_ char *text = NULL;
	size_t len;
	assert_int_equal(read_file_at(AT_FDCWD, p, 100, &text, &len), 0);
	assert_string_equal(text, "hello\n");
	/* The removal is a whiteout in the upper dir. */
	snprintf(p, sizeof(p), "%s/etc/hostname", t->upper);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	snprintf(p, sizeof(p), "%s/etc/hostname", seed);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));

	/* A second run on the same upper sees the first one's work. */
	_cleanup_free_ char *log2 = run_ok(t, "cat /etc/hello; test -e /etc/hostname || echo gone");
	assert_string_equal(log2, "hello\ngone\n");
}

/* 4: PID and UTS namespaces. */
static void test_namespaces(void **state)
{
	T *t = *state;
	char host_before[256], host_after[256];
	SKIP_IF_NEEDED();

	assert_int_equal(gethostname(host_before, sizeof(host_before)), 0);
	_cleanup_free_ char *log = run_ok(t,
		"echo pid=$$; echo ppid=$PPID; ls /proc | grep -c '^[0-9]'; hostname");
	assert_true(has_line(log, "pid=1"));
	assert_true(has_line(log, "ppid=0"));
	assert_true(has_line(log, HOSTNAME));
	/* sh, ls and grep at most (ls may already be gone). */
	unsigned long n = 0;
	const char *p = strstr(log, "ppid=0\n");
	assert_non_null(p);
	p += strlen("ppid=0\n");
	assert_int_equal(sscanf(p, "%lu", &n), 1);
	assert_true(n >= 1 && n <= 3);
	assert_int_equal(gethostname(host_after, sizeof(host_after)), 0);
	assert_string_equal(host_before, host_after);
}

/* 5: mount flags inside: repo ro,nosuid,nodev; /sys ro; binds as asked. */
static void test_mount_flags(void **state)
{
	T *t = *state;
	char rw[PATH_MAX + 8], ro[PATH_MAX + 8], p[PATH_MAX * 2];
	struct stat st;
	SKIP_IF_NEEDED();

	snprintf(rw, sizeof(rw), "%s/rw", t->dir);
	snprintf(ro, sizeof(ro), "%s/ro", t->dir);
	assert_int_equal(mkdir(rw, 0755), 0);
	assert_int_equal(mkdir(ro, 0755), 0);
	snprintf(p, sizeof(p), "%s/file", ro);
	assert_int_equal(write_text(p, "ro data\n", 0644), 0);
	t->binds[0] = (SandboxBind) { .source = rw, .target = "/var/cache/distfiles" };
	t->binds[1] = (SandboxBind) { .source = ro, .target = "/opt/new/ro", .read_only = true };
	t->c.binds = t->binds;
	t->c.n_binds = 2;

	_cleanup_free_ char *log = run_ok(t,
		"echo written > /var/cache/distfiles/f; "
		"touch /opt/new/ro/x 2>/dev/null && echo ro-writable; cat /opt/new/ro/file; "
		"test -c /dev/null && test -c /dev/zero && test -c /dev/urandom && echo devs; "
		"test -L /dev/ptmx && test -c /dev/pts/ptmx && echo pts; "
		"echo x > /dev/shm/x && echo x > /run/x && echo tmpfs; "
		"cat /proc/self/mountinfo");
	assert_null(strstr(log, "ro-writable"));
	assert_true(has_line(log, "ro data"));
	assert_true(has_line(log, "devs"));
	assert_true(has_line(log, "pts"));
	assert_true(has_line(log, "tmpfs"));

	struct { const char *mp; const char *want[4]; } cases[] = {
		{ REPO, { "ro", "nosuid", "nodev" } },
		{ "/sys", { "ro" } },
		{ "/proc", { "nosuid", "nodev", "noexec" } },
		{ "/dev", { "nosuid" } },
		{ "/dev/shm", { "nosuid", "nodev" } },
		{ "/run", { "nosuid", "nodev" } },
		{ "/var/cache/distfiles", { "rw", "nosuid", "nodev" } },
		{ "/opt/new/ro", { "ro", "nosuid", "nodev" } },
		{ "/", { "rw" } },
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *opts = mount_options(log, cases[i].mp);
		if (!opts)
			fail_msg("no mount at %s in:\n%s", cases[i].mp, log);
		for (size_t j = 0; j < ELEMENTSOF(cases[i].want) && cases[i].want[j]; j++)
			if (!has_option(opts, cases[i].want[j]))
				fail_msg("%s has options %s, want %s", cases[i].mp, opts,
					 cases[i].want[j]);
	}
	/* The devpts is a new instance: only our ptys. */
	assert_non_null(strstr(log, " /dev/pts "));
	/* The write through the rw bind is on the host. */
	snprintf(p, sizeof(p), "%s/f", rw);
	assert_int_equal(stat(p, &st), 0);
	/* The host's directories were not touched for mount points. */
	snprintf(p, sizeof(p), "%s/opt/new", seed);
	assert_int_equal(stat(p, &st), -1);
}

/* 5b: a tmpfs "bind" (var_tmpfs_portage): a new tmpfs with its options. */
static void test_tmpfs_bind(void **state)
{
	T *t = *state;
	SKIP_IF_NEEDED();

	t->binds[0] = (SandboxBind) { .target = "/var/tmp/portage", .tmpfs_options = "size=1m" };
	t->c.binds = t->binds;
	t->c.n_binds = 1;
	_cleanup_free_ char *log = run_ok(t, "echo x > /var/tmp/portage/f && echo wrote; "
					     "grep ' /var/tmp/portage ' /proc/self/mountinfo");
	assert_true(has_line(log, "wrote"));
	const char *l = strstr(log, " /var/tmp/portage ");
	assert_non_null(l);
	assert_non_null(strstr(l, " - tmpfs "));
	assert_non_null(strstr(l, "size=1024k"));
	_cleanup_free_ char *opts = mount_options(log, "/var/tmp/portage");
	assert_non_null(opts);
	assert_true(has_option(opts, "nosuid"));
	assert_true(has_option(opts, "nodev"));
}

/* 6: nothing is left on the host: mount table and loop devices. */
static void test_host_untouched(void **state)
{
	T *t = *state;
	SKIP_IF_NEEDED();

	/* The image really was loop-mounted. */
	_cleanup_free_ char *log = run_ok(t, "grep ' " REPO " ' /proc/self/mountinfo");
	assert_non_null(strstr(log, " squashfs /dev/loop"));
	/* run_ok() checked the host; run a few more times to catch leaks. */
	for (int i = 0; i < 3; i++)
		free(run_ok(t, "true"));
	_cleanup_free_ char *out = NULL;
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "losetup -j '%s'", snap_image);
	out = cmd_output(cmd);
	assert_string_equal(out, "");
}

/* Host pids of processes whose pid namespace is NS ("pid:[N]"); with
 * INNER_PID > 0 only the one that is INNER_PID inside it. */
static pid_t find_in_pid_ns(const char *ns, pid_t inner_pid, int *ret_count)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	int count = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char p[300], link[64] = "", *status = NULL;
		unsigned long pid;
		size_t len;
		ssize_t n;

		if (parse_ulong(de->d_name, &pid) < 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%lu/ns/pid", pid);
		n = readlink(p, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, ns) != 0)
			continue;
		count++;
		if (inner_pid <= 0) {
			found = (pid_t) pid;
			continue;
		}
		snprintf(p, sizeof(p), "/proc/%lu/status", pid);
		if (read_file_at(AT_FDCWD, p, 65536, &status, &len) == 0) {
			const char *l = strstr(status, "\nNSpid:");
			if (l) {
				const char *end = strchr(l + 1, '\n');
				const char *last = end;
				while (last > l && last[-1] != '\t' && last[-1] != ' ')
					last--;
				if (strtol(last, NULL, 10) == inner_pid)
					found = (pid_t) pid;
			}
			free(status);
		}
	}
	closedir(d);
	if (ret_count)
		*ret_count = count;
	return found;
}

/*
 * 7: kill -9 of the caller takes the whole sandbox down.
 *
 * A stand-in for zeolite (a forked child) runs the sandbox; the script
 * starts `sleep 1000` in the background and writes its pid to a FIFO in a
 * rw bind, then waits.  The test finds the sandbox's PID 1 (the stand-in's
 * child), records its pid namespace and, through NSpid in /proc/PID/status,
 * the host pid of the sleep, on which it opens a pidfd.  Then it SIGKILLs
 * the stand-in.  This process is a child subreaper, so the orphaned PID 1
 * is reparented to it and can be reaped: it must have died of SIGKILL.  The
 * sleep's pidfd must become readable (the process exited), no process may
 * remain in the namespace, and the host's mount table and loop devices
 * must be as before.  No sleeps: every wait is on an fd, with a 60 s guard.
 */
static void test_kill9_of_caller(void **state)
{
	T *t = *state;
	char rw[PATH_MAX + 8], fifo[PATH_MAX + 16], buf[64] = "", ns[64] = "", p[64];
	int status, count = -1;
	ssize_t n;
	SKIP_IF_NEEDED();

	snprintf(rw, sizeof(rw), "%s/rw", t->dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", rw);
	assert_int_equal(mkdir(rw, 0755), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	t->binds[0] = (SandboxBind) { .source = rw, .target = "/rw" };
	t->c.binds = t->binds;
	t->c.n_binds = 1;
	set_script(t, "sleep 1000 & echo $! > /rw/fifo; wait");

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	pid_t standin = fork();
	assert_true(standin >= 0);
	if (standin == 0) {
		char *err = NULL;
		int st;
		_exit(sandbox_run(&t->c, &st, &err) == 0 ? 0 : 3);
	}
	int standin_fd = (int) syscall(SYS_pidfd_open, standin, 0);
	assert_true(standin_fd >= 0);
	int fifo_fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(fifo_fd >= 0);
	struct pollfd pfd[2] = {
		{ .fd = fifo_fd, .events = POLLIN },
		{ .fd = standin_fd, .events = POLLIN },
	};
	assert_int_equal(poll(pfd, 2, 60000), 1);
	assert_true(pfd[0].revents & POLLIN);   /* not: the stand-in died */
	n = read(fifo_fd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	close(fifo_fd);
	long inner_sleep = strtol(buf, NULL, 10);
	assert_true(inner_sleep > 1);

	/* The sandbox's PID 1: the stand-in's only child. */
	pid_t init = 0;
	{
		DIR *d = opendir("/proc");
		struct dirent *de;
		assert_non_null(d);
		while ((de = readdir(d))) {
			char path[300], *stat_text = NULL, *rp;
			unsigned long pid;
			size_t len;
			int ppid = 0;

			if (parse_ulong(de->d_name, &pid) < 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%lu/stat", pid);
			if (read_file_at(AT_FDCWD, path, 4096, &stat_text, &len) < 0)
				continue;
			rp = strrchr(stat_text, ')');
			if (rp && sscanf(rp + 1, " %*c %d", &ppid) == 1 && ppid == standin)
				init = (pid_t) pid;
			free(stat_text);
		}
		closedir(d);
	}
	assert_true(init > 0);
	t->kill_pid = init;
	int init_fd = (int) syscall(SYS_pidfd_open, init, 0);
	assert_true(init_fd >= 0);
	snprintf(p, sizeof(p), "/proc/%d/ns/pid", init);
	n = readlink(p, ns, sizeof(ns) - 1);
	assert_true(n > 0);
	ns[n] = '\0';
	pid_t sleep_pid = find_in_pid_ns(ns, (pid_t) inner_sleep, &count);
	assert_true(sleep_pid > 0);
	assert_true(count >= 2);        /* sh and sleep */
	int sleep_fd = (int) syscall(SYS_pidfd_open, sleep_pid, 0);
	assert_true(sleep_fd >= 0);

	assert_int_equal(kill(standin, SIGKILL), 0);
	assert_int_equal(waitpid(standin, &status, 0), standin);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* PID 1 is ours now (subreaper): it died of PDEATHSIG. */
	struct pollfd ip = { .fd = init_fd, .events = POLLIN };
	assert_int_equal(poll(&ip, 1, 60000), 1);
	close(init_fd);
	assert_int_equal(waitpid(init, &status, 0), init);
	t->kill_pid = 0;
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	struct pollfd sp = { .fd = sleep_fd, .events = POLLIN };
	assert_int_equal(poll(&sp, 1, 60000), 1);
	close(sleep_fd);
	close(standin_fd);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);

	find_in_pid_ns(ns, 0, &count);
	assert_int_equal(count, 0);
	assert_host_clean(t);
}

/* 8: a failing step is -errno with a message that names it. */
static void test_failures(void **state)
{
	T *t = *state;
	char bad[PATH_MAX + 32];
	char *err = NULL;
	int status = 12345;
	SKIP_IF_NEEDED();

	snprintf(bad, sizeof(bad), "%s/no-such-lower", t->dir);
	t->c.lower = bad;
	assert_int_equal(sandbox_run(&t->c, &status, &err), -ENOENT);
	assert_int_equal(status, 12345);
	assert_non_null(err);
	assert_non_null(strstr(err, "lower"));
	assert_non_null(strstr(err, bad));
	assert_non_null(strstr(err, "No such file or directory"));
	free(err);
	err = NULL;
	t->c.lower = seed;

	/* A missing snapshot image. */
	snprintf(bad, sizeof(bad), "%s/no-such-image.sqfs", t->dir);
	t->c.snapshot_image = bad;
	assert_int_equal(sandbox_run(&t->c, &status, &err), -ENOENT);
	assert_non_null(strstr(err, "loop-mount"));
	assert_non_null(strstr(err, bad));
	free(err);
	err = NULL;

	/* Not a squashfs: the kernel refuses the mount. */
	t->c.snapshot_image = seed_script();
	assert_true(sandbox_run(&t->c, &status, &err) < 0);
	assert_non_null(strstr(err, "loop-mount"));
	free(err);
	err = NULL;
	t->c.snapshot_image = snap_image;

	t->argv[0] = "/no/such/binary";
	assert_int_equal(sandbox_run(&t->c, &status, &err), -ENOENT);
	assert_non_null(strstr(err, "execute /no/such/binary"));
	free(err);
	err = NULL;
	set_script(t, "true");

	/* A bind whose source is missing. */
	t->binds[0] = (SandboxBind) { .source = bad, .target = "/x" };
	t->c.binds = t->binds;
	t->c.n_binds = 1;
	assert_int_equal(sandbox_run(&t->c, &status, &err), -ENOENT);
	assert_non_null(strstr(err, bad));
	free(err);
	err = NULL;
	t->c.n_binds = 0;

	/* Bad configs never fork. */
	t->c.repo_target = "/var/db/../../etc";
	assert_int_equal(sandbox_run(&t->c, &status, &err), -EINVAL);
	assert_non_null(strstr(err, "invalid sandbox config"));
	free(err);
	err = NULL;
	t->c.repo_target = REPO;
	t->argv[0] = "bin/sh";
	assert_int_equal(sandbox_run(&t->c, &status, &err), -EINVAL);
	free(err);
	err = NULL;
	t->argv[0] = "/bin/sh";
	t->c.log_fd = 1000;
	assert_int_equal(sandbox_run(&t->c, &status, NULL), -EINVAL);
	t->c.log_fd = t->log_fd;
	assert_int_equal(status, 12345);
	assert_host_clean(t);
}

/* Make a seed whose hook plants symlinks (HOOK_BODY, shell, $1 = root). */
static void make_hostile_seed(T *t, char *ret_seed, size_t size, const char *hook_body)
{
	char hook[PATH_MAX + 16];

	snprintf(hook, sizeof(hook), "%s/hook.sh", t->dir);
	_cleanup_free_ char *text = xasprintf("#!/bin/sh\nset -e\n%s\n", hook_body);
	assert_int_equal(write_text(hook, text, 0755), 0);
	snprintf(ret_seed, size, "%s/seed", t->dir);
	assert_int_equal(run_cmd("sh '%s' -H '%s' '%s'", seed_script(), hook, ret_seed), 0);
	t->c.lower = ret_seed;
}

/* 9a: /var/db/repos -> /etc in the seed: the snapshot lands in the root's
 * /etc, never the host's. */
static void test_planted_symlink_repo(void **state)
{
	T *t = *state;
	char s[PATH_MAX + 16];
	struct stat st;
	SKIP_IF_NEEDED();

	make_hostile_seed(t, s, sizeof(s),
		"rm -rf \"$1/var/db/repos\"; ln -s /etc \"$1/var/db/repos\"\n"
		"rm -rf \"$1/sys\"; ln -s ../../../../../../../../../../etc/zeolite-sys \"$1/sys\"\n"
		"mkdir \"$1/etc/zeolite-sys\"");
	assert_int_equal(lstat("/etc/gentoo", &st), -1);
	assert_int_equal(lstat("/etc/zeolite-sys", &st), -1);
	_cleanup_free_ char *log = run_ok(t,
		"cat /etc/gentoo/profiles/repo_name; "
		"test -d /etc/zeolite-sys/kernel && echo sys-inside; "
		"grep -c -e ' /etc/gentoo ' -e ' /etc/zeolite-sys ' /proc/self/mountinfo");
	assert_string_equal(log, "gentoo\nsys-inside\n2\n");
	/* nothing under the host's /etc */
	assert_int_equal(lstat("/etc/gentoo", &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(lstat("/etc/zeolite-sys", &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* 9b: /dev and /run point at a real host directory: the sandbox refuses
 * (the target does not exist inside the root) and the host dir is left
 * alone. */
static void test_planted_symlink_dev(void **state)
{
	T *t = *state;
	char s[PATH_MAX + 16], host_dir[PATH_MAX + 16];
	char *err = NULL;
	int status;
	SKIP_IF_NEEDED();

	snprintf(host_dir, sizeof(host_dir), "%s/host-dir", t->dir);
	assert_int_equal(mkdir(host_dir, 0755), 0);
	_cleanup_free_ char *hook = xasprintf(
		"rm -rf \"$1/dev\"; ln -s '%s' \"$1/dev\"\n", host_dir);
	make_hostile_seed(t, s, sizeof(s), hook);
	assert_int_equal(sandbox_run(&t->c, &status, &err), -ENOENT);
	assert_non_null(strstr(err, "/dev"));
	free(err);
	DIR *d = opendir(host_dir);
	struct dirent *de;
	int entries = 0;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			entries++;
	closedir(d);
	assert_int_equal(entries, 0);
	assert_host_clean(t);

	/* The same with a relative symlink that climbs out with "..". */
	assert_int_equal(run_cmd("rm -rf '%s' '%s' '%s' '%s'", s, t->upper, t->work, t->root), 0);
	_cleanup_free_ char *hook2 = xasprintf(
		"rm -rf \"$1/run\"; ln -s ../../../../../../../../../..'%s' \"$1/run\"\n", host_dir);
	make_hostile_seed(t, s, sizeof(s), hook2);
	err = NULL;
	assert_int_equal(sandbox_run(&t->c, &status, &err), -ENOENT);
	assert_non_null(strstr(err, "/run"));
	free(err);
	assert_host_clean(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_personality, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_ro_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_ro_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes_go_to_upper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tmpfs_bind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mount_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_of_caller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_symlink_repo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_symlink_dev, setup, teardown),
	};

	/* The mount table compared before and after each test is this
	 * process's own: a private mount namespace, so that other processes
	 * mounting on the host meanwhile (parallel tests) do not change it,
	 * while anything the sandbox leaked into its caller's namespace still
	 * shows. */
	if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		perror("mount --make-rprivate /");
		return 1;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
