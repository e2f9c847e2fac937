// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * plan.c - spec + config + subarch table -> Plan (plan.h).
 */
#include "plan.h"
#include "archive-ops.h"
#include "main.h"
#include "make-conf.h"
#include "plan-repos.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "build-config.h"

static const char *const plan_steps[] = { "setup", "build", "preclean", "clean" };

static bool has_option(const Config *c, const char *o)
{
	return config_has_option(c, o);
}

/* The value of KEY as one string: words joined by spaces; NULL if unset. */
static char *spec_joined(const Spec *s, const char *key)
{
	const SpecEntry *e = spec_get(s, key);
	Buf b = { 0 };

	if (!e)
		return NULL;
	for (char **w = e->words; *w; w++) {
		if (w != e->words)
			buf_putc(&b, ' ');
		buf_puts(&b, *w);
	}
	return buf_steal(&b);
}

static unsigned spec_line(const Spec *s, const char *key)
{
	const SpecEntry *e = spec_get(s, key);
	return e ? e->line : 1;
}

/* ---- resolving inputs ------------------------------------------------- */

/* A path component that could reach outside its directory is bad input. */
static bool safe_relpath(const char *p)
{
	if (!*p || p[0] == '/')
		return false;
	for (const char *s = p; *s;) {
		size_t n = strcspn(s, "/");
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		while (*s == '/')
			s++;
	}
	return true;
}

const char *plan_jobserver_in_chroot(const char *host)
{
	/* /dev and /run are the sandbox's own: a mount point there never
	 * ships in the stage. */
	if (strncmp(host, "/dev/", 5) == 0 || strncmp(host, "/run/", 5) == 0)
		return host;
	return PLAN_JOBSERVER_FIFO;
}

/* plan_make_pending_seed(): the seed another build of the run makes. */
static bool plan_seed_pending;

static int find_seed(Plan *b, char **ret_err)
{
	const char *sub = spec_get_string(b->spec, "source_subpath");
	_cleanup_free_ char *builds = xasprintf("%s/builds", b->st->path);
	_cleanup_free_ char *e = NULL;
	Seed seed;
	int r;

	if (plan_seed_pending) {
		b->seed_name = xstrdup(sub);
		b->seed_path = xasprintf("%s/%s", builds, sub);
		b->seed_target = xstrdup(b->seed_path);
		if (!seed_format_of(sub, &b->seed_format))
			b->seed_format = SEED_TARBALL;
		return 0;
	}
	r = seed_resolve(b->st->builds_fd, builds, sub, &seed, &e);
	if (r < 0) {
		*ret_err = xasprintf("%s:%u: %s", b->spec_path, spec_line(b->spec, "source_subpath"), e);
		return r;
	}
	b->seed_name = TAKE_PTR(seed.name);
	b->seed_path = TAKE_PTR(seed.path);
	b->seed_target = TAKE_PTR(seed.target);
	b->seed_format = seed.format;
	seed_done(&seed);
	return 0;
}

static int find_snapshot(Plan *b, char **ret_err)
{
	static const char *const exts[] = { ".sqfs", ".tar.xz", ".tar.zst", ".tar.bz2", ".tar.gz" };
	const char *key = spec_get(b->spec, "snapshot_treeish") ? "snapshot_treeish" : "snapshot";
	const char *v = spec_get_string(b->spec, key);
	struct stat s;

	if (!v) {
		*ret_err = xasprintf("%s: no snapshot_treeish or snapshot", b->spec_path);
		return -EINVAL;
	}
	if (strcmp(key, "snapshot") == 0 && v[0] == '/') {
		/* catalyst 3: a file */
		if (stat(v, &s) < 0 || !S_ISREG(s.st_mode)) {
			*ret_err = xasprintf("%s:%u: snapshot '%s' not found", b->spec_path, spec_line(b->spec, key), v);
			return -ENOENT;
		}
		b->snapshot_path = xstrdup(v);
		b->snapshot_name = xstrdup(strrchr(v, '/') + 1);
	} else {
		if (!safe_relpath(v) || strchr(v, '/')) {
			*ret_err = xasprintf("%s:%u: bad %s '%s'", b->spec_path, spec_line(b->spec, key), key, v);
			return -EINVAL;
		}
		/* catalyst 4: <repo_name>-<treeish>.sqfs; catalyst 3: a name. */
		const char *prefixes[] = { b->repo_name, NULL };
		for (size_t p = 0; p < ELEMENTSOF(prefixes) && !b->snapshot_name; p++)
			for (size_t i = 0; i < ELEMENTSOF(exts) && !b->snapshot_name; i++) {
				_cleanup_free_ char *n = prefixes[p] ? xasprintf("%s-%s%s", prefixes[p], v, exts[i])
								     : xasprintf("%s%s", v, exts[i]);
				if (fstatat(b->st->snapshots_fd, n, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(s.st_mode))
					b->snapshot_name = TAKE_PTR(n);
			}
		if (!b->snapshot_name && fstatat(b->st->snapshots_fd, v, &s, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(s.st_mode))
			b->snapshot_name = xstrdup(v);
		if (!b->snapshot_name) {
			*ret_err = xasprintf("%s:%u: snapshot '%s' not found in %s/snapshots/ (make it with: "
					     "zeolite snapshot %s)",
					     b->spec_path, spec_line(b->spec, key), v, b->st->path, v);
			return -ENOENT;
		}
		b->snapshot_path = xasprintf("%s/snapshots/%s", b->st->path, b->snapshot_name);
	}
	size_t n = strlen(b->snapshot_name);
	b->snapshot_is_image = n > 5 && strcmp(b->snapshot_name + n - 5, ".sqfs") == 0;
	return 0;
}

/* rename_regexp: catalyst's `sed -E -e EXPR` on the output's full path
 * (pack-modes.h). */
static int apply_rename_regexp(Plan *b, const char *expr, char **ret_err)
{
	_cleanup_free_ char *e = NULL;
	char *n = NULL;
	int r = pack_rename_regexp(expr, b->out_dir, b->out_name, &n, &e);

	if (r < 0) {
		*ret_err = xasprintf("%s:%u: %s", b->spec_path, spec_line(b->spec, "rename_regexp"), e);
		return r;
	}
	free(b->out_name);
	b->out_name = n;
	return 0;
}

static char *find_targets_dir(void)
{
	const char *env = secure_getenv("ZEOLITE_TARGETS_DIR");
	char exe[PATH_MAX];
	ssize_t n;

	if (env)
		return xstrdup(env);
	/* A build tree: <src>/build/zeolite with <src>/targets. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			_cleanup_free_ char *p = xasprintf("%s/../targets/stage3.sh", exe);
			if (access(p, R_OK) == 0)
				return xasprintf("%s/../targets", exe);
		}
	}
	return xstrdup(DATADIR "/targets");
}

/* stage4/root_overlay: each word an existing directory, checked up front. */
static int check_root_overlay(const Plan *b, char **ret_err)
{
	const SpecEntry *e = spec_get(b->spec, "stage4/root_overlay");

	for (char **w = e ? e->words : NULL; w && *w; w++) {
		struct stat s;

		if (stat(*w, &s) < 0 || !S_ISDIR(s.st_mode)) {
			*ret_err = xasprintf("%s:%u: stage4/root_overlay '%s' is not a directory", b->spec_path,
					     e->line, *w);
			return -EINVAL;
		}
	}
	return 0;
}

/* Every host path the spec names, checked before anything is locked. */
static int check_paths(const Plan *b, char **ret_err)
{
	const char *confdir = spec_get_string(b->spec, "portage_confdir");
	const char *fsscript = spec_get_string(b->spec, "stage4/fsscript");
	const SpecEntry *interp = spec_get(b->spec, "interpreter");
	struct stat s;

	if (confdir && (stat(confdir, &s) < 0 || !S_ISDIR(s.st_mode))) {
		*ret_err = xasprintf("%s:%u: portage_confdir '%s' is not a directory", b->spec_path,
				     spec_line(b->spec, "portage_confdir"), confdir);
		return -EINVAL;
	}
	if (fsscript && (stat(fsscript, &s) < 0 || !S_ISREG(s.st_mode))) {
		*ret_err = xasprintf("%s:%u: stage4/fsscript '%s' is not a file", b->spec_path,
				     spec_line(b->spec, "stage4/fsscript"), fsscript);
		return -EINVAL;
	}
	if (b->cfg->envscript && (stat(b->cfg->envscript, &s) < 0 || !S_ISREG(s.st_mode))) {
		*ret_err = xasprintf("envscript '%s' (config) is not a file", b->cfg->envscript);
		return -EINVAL;
	}
	for (char **w = interp ? interp->words : NULL; w && *w; w++)
		if ((*w)[0] != '/' || stat(*w, &s) < 0 || !S_ISREG(s.st_mode)) {
			*ret_err = xasprintf("%s:%u: interpreter '%s' is not an absolute path to a file", b->spec_path,
					     interp->line, *w);
			return -EINVAL;
		}
	return 0;
}

static int plan_resolve(Plan *b, char **ret_err)
{
	const char *mode, *rx;
	int r;

	b->target = spec_get_string(b->spec, "target");
	b->subarch = spec_get_string(b->spec, "subarch");
	b->rel_type = spec_get_string(b->spec, "rel_type");
	b->version_stamp = spec_get_string(b->spec, "version_stamp");
	b->repo_name = b->cfg->repo_name;
	if (!safe_relpath(b->rel_type) || strchr(b->subarch, '/') || strchr(b->version_stamp, '/')) {
		*ret_err = xasprintf("%s: rel_type, subarch and version_stamp must be plain names", b->spec_path);
		return -EINVAL;
	}
	b->name = xasprintf("%s-%s-%s", b->target, b->subarch, b->version_stamp);
	b->work = xasprintf("%s/tmp/%s/%s", b->st->path, b->rel_type, b->name);
	/* The link to the latest run's log (build-log.h); each run has its own. */
	b->log = xasprintf("%s/logs/%s/%s-latest.log", b->st->path, b->rel_type, b->name);
	b->lock = xasprintf("%s/tmp/%s/%s.lock", b->st->path, b->rel_type, b->name);
	b->profile = spec_get_string(b->spec, "profile");
	b->out_dir = xasprintf("%s/builds/%s", b->st->path, b->rel_type);
	b->autoresume = has_option(b->cfg, "autoresume");
	b->keepwork = has_option(b->cfg, "keepwork");
	b->timeout = effective_lock_timeout(b->cfg, b->spec);

	mode = spec_get_string(b->spec, "compression_mode");
	if (!mode)
		mode = b->cfg->compression_mode;
	r = pack_compression_from_mode(mode, &b->compression, &b->threads);
	if (r < 0) {
		*ret_err = xasprintf("%s:%u: compression_mode '%s' cannot pack a stage tarball", b->spec_path,
				     spec_line(b->spec, "compression_mode"), mode);
		return -EINVAL;
	}
	b->out_name = xasprintf("%s.%s", b->name, pack_mode_extension(mode));
	rx = spec_get_string(b->spec, "rename_regexp");
	if (rx) {
		r = apply_rename_regexp(b, rx, ret_err);
		if (r < 0)
			return r;
	}
	r = find_seed(b, ret_err);
	if (r < 0)
		return r;
	r = find_snapshot(b, ret_err);
	if (r < 0)
		return r;
	r = check_root_overlay(b, ret_err);
	if (r < 0)
		return r;
	r = check_paths(b, ret_err);
	if (r < 0)
		return r;
	b->targets_dir = find_targets_dir();
	{
		_cleanup_free_ char *script = xasprintf("%s/%s.sh", b->targets_dir, b->target);
		if (access(script, R_OK) < 0) {
			*ret_err = xasprintf("target script '%s' not found (set ZEOLITE_TARGETS_DIR?)", script);
			return -ENOENT;
		}
	}
	b->script = xasprintf(PLAN_TARGETS_DIR "/%s.sh", b->target);
	return 0;
}

/* catalyst's sanitize_name: ".-/" become "_". */
static char *sanitize(const char *k)
{
	char *v = xstrdup(k);
	for (char *p = v; *p; p++)
		if (*p == '/' || *p == '-' || *p == '.')
			*p = '_';
	return v;
}

static void env_set(char ***env, size_t *n, size_t *cap, const char *name, const char *value)
{
	size_t l = strlen(name);

	for (size_t i = 0; i < *n; i++)
		if (strncmp((*env)[i], name, l) == 0 && (*env)[i][l] == '=') {
			free((*env)[i]);
			(*env)[i] = xasprintf("%s=%s", name, value);
			return;
		}
	xgrow(env, cap, *n + 2, sizeof(char *));
	(*env)[(*n)++] = xasprintf("%s=%s", name, value);
	(*env)[*n] = NULL;
}

/* catalyst's setup_environment: a setting whose name has "path" in it
 * loses its trailing slashes ("/" becomes ""). */
static void env_setting(char ***env, size_t *n, size_t *cap, const char *key, const char *value)
{
	_cleanup_free_ char *k = sanitize(key);
	_cleanup_free_ char *name = xasprintf("clst_%s", k);
	_cleanup_free_ char *v = xstrdup(value ? value : "");

	if (strstr(key, "path"))
		for (size_t l = strlen(v); l > 0 && v[l - 1] == '/'; l--)
			v[l - 1] = '\0';
	env_set(env, n, cap, name, v);
}

/*
 * The environment of the target scripts, as catalyst's setup_environment
 * exports its settings: every spec key as clst_<key> (".-/" as "_", lists
 * joined by spaces), each option as clst_<OPTION>=true, the derived
 * settings catalyst computes (target_subpath, target_profile, root_path,
 * hostarch, ...), MAKEOPTS; and zeolite's in-chroot paths where zeolite's
 * layout differs from catalyst's (docs/plan-json.md lists them).
 */
static char **plan_env(const Plan *b)
{
	char **env = NULL;
	size_t n = 0, cap = 0;
	Buf opts = { 0 };
	struct utsname u;
	_cleanup_free_ char *subpath = xasprintf("%s/%s", b->rel_type, b->name);
	_cleanup_free_ char *subpath_unv = xasprintf("%s/%s-%s", b->rel_type, b->target, b->subarch);

#define SET(k, v) env_set(&env, &n, &cap, (k), (v))
#define SETTING(k, v) env_setting(&env, &n, &cap, (k), (v))

	/* catalyst's TargetBase: PATH and TERM, nothing else of the host. */
	SET("PATH", "/bin:/sbin:/usr/bin:/usr/sbin");
	SET("TERM", getenv("TERM") ? getenv("TERM") : "dumb");
	/* The config's settings (catalyst's confdefaults where unset). */
	SETTING("repo_name", b->repo_name);
	SETTING("repo_basedir", b->cfg->repo_basedir ? b->cfg->repo_basedir : "/var/db/repos");
	SETTING("port_conf", "/etc/portage");
	SETTING("make_conf", "/etc/portage/make.conf");
	SETTING("repos_conf", "/etc/portage/repos.conf");
	SETTING("binrepos_conf", "/etc/portage/binrepos.conf");
	SETTING("distdir", b->distdir);
	SETTING("target_distdir", b->target_distdir);
	SETTING("target_pkgdir", b->target_pkgdir);
	SETTING("pkgdir", "/var/cache/binpkgs");
	SETTING("port_tmpdir", "/var/tmp/portage");
	SETTING("target_logdir", b->cfg->target_logdir ? b->cfg->target_logdir : "/var/log/portage");
	SETTING("storedir", b->st->path);
	SETTING("sharedir", b->cfg->sharedir);
	if (b->cfg->compression_mode)
		SETTING("compression_mode", b->cfg->compression_mode);
	if (b->cfg->digest_format)
		SETTING("digest_format", b->cfg->digest_format);
	/* The spec, as catalyst's settings take it: the <target>/ keys its
	 * set_use, set_fsscript, set_rcadd, set_rcdel, set_groups and
	 * set_users move (and delete) are exported under their new names. */
	for (size_t i = 0; i < b->spec->n; i++) {
		static const char *const moved[] = { "use", "fsscript", "rcadd", "rcdel", "groups", "users" };
		const SpecEntry *e = &b->spec->v[i];
		_cleanup_free_ char *v = spec_joined(b->spec, e->key);
		size_t tl = strlen(b->target);
		if (strncmp(e->key, b->target, tl) == 0 && e->key[tl] == '/' &&
		    spec_word_in(e->key + tl + 1, moved, ELEMENTSOF(moved)))
			continue;
		SETTING(e->key, v);
	}
	{
		_cleanup_free_ char *ku = xasprintf("%s/use", b->target), *kg = xasprintf("%s/groups", b->target),
				    *kus = xasprintf("%s/users", b->target);
		_cleanup_free_ char *vu = spec_joined(b->spec, ku), *vus = spec_joined(b->spec, kus);
		_cleanup_free_ char *vg = spec_joined(b->spec, kg);
		const SpecEntry *g = spec_get(b->spec, kg);
		/* groups: one word is split on commas, a list is taken as it is. */
		if (g && g->n_words == 1)
			for (char *c = vg; *c; c++)
				if (*c == ',')
					*c = ' ';
		SETTING("use", vu ? vu : "");
		SETTING("groups", vg ? vg : "");
		SETTING("users", vus ? vus : "");
		SETTING("ssh_public_keys", "");
	}
	/* catalyst's derived settings; catalyst_use is what set_catalyst_use
	 * leaves (bindist with the option, else nothing). */
	SETTING("catalyst_use", has_option(b->cfg, "bindist") ? "bindist" : "");
	SETTING("spec_prefix", b->target);
	SETTING("target_profile", b->profile);
	SETTING("hostarch", b->subarch);
	SETTING("buildarch", uname(&u) == 0 ? u.machine : "");
	SETTING("target_subpath", subpath);
	SETTING("target_subpath_unversioned", subpath_unv);
	SETTING("source_path", b->seed_path);
	/* catalyst's set_target_path: builds/<target_subpath>, no slash. */
	{
		_cleanup_free_ char *tp = xasprintf("%s/builds/%s", b->st->path, subpath);
		SETTING("target_path", tp);
	}
	SETTING("chroot_path", b->work);
	{
		bool s1 = strcmp(b->target, "stage1") == 0;
		_cleanup_free_ char *sp = xasprintf("%s%s", b->work, s1 ? "/tmp/stage1root" : "");
		Buf cl = { 0 };
		SETTING("stage_path", sp);
		/* set_cleanables, stage1's and stage4's changes included */
		buf_puts(&cl, "/etc/machine-id");
		if (strcmp(b->target, "stage4") != 0)
			buf_puts(&cl, " /etc/resolv.conf");
		buf_puts(&cl, " /etc/sandbox.d/99catalyst /var/tmp/* /tmp/*");
		if (s1)
			buf_puts(&cl, " /etc/portage/package*");
		SETTING("cleanables", cl.data);
		buf_done(&cl);
	}
	SET("clst_CHROOT", b->arch.personality ? (strcmp(b->arch.personality, "linux32") == 0
						      ? "setarch linux32 chroot" : "setarch s390 chroot")
					       : "chroot");
	SETTING("shdir", PLAN_TARGETS_DIR);
	/* catalyst: "/tmp/stage1root" for stage1, "/" (exported as "") else. */
	SETTING("root_path", strcmp(b->target, "stage1") == 0 ? "/tmp/stage1root" : "/");
	/* set_pkgcache_path runs only with pkgcache: the host's path. */
	if (b->pkgcache)
		SETTING("pkgcache_path", b->pkgcache_path);
	if (b->cfg->port_logdir) {
		SETTING("port_logdir", b->cfg->port_logdir);
		SET("PORTAGE_LOGDIR", b->cfg->target_logdir ? b->cfg->target_logdir : "/var/log/portage");
	}
	if (b->ccache_dir)
		SET("CCACHE_DIR", "/var/tmp/ccache");
	if (b->cfg->envscript)
		SETTING("envscript", b->cfg->envscript);
	if (b->cfg->binhost && *b->cfg->binhost)
		SETTING("binhost", b->cfg->binhost);
	if (b->cfg->var_tmpfs_portage || config_origin(b->cfg, "var_tmpfs_portage").file) {
		_cleanup_free_ char *v = xasprintf("%ld", b->cfg->var_tmpfs_portage_size);
		SETTING("var_tmpfs_portage", v);
	}
	/* The subarch's settings (arch/NAME.toml), as catalyst merges them into
	 * its settings: CPU_FLAGS_*, USE and HOSTUSE as lists. */
	if (b->arch.cpu_flags_var && b->arch.cpu_flags) {
		_cleanup_free_ char *name = xasprintf("clst_%s", b->arch.cpu_flags_var);
		SET(name, b->arch.cpu_flags);
	}
	if (b->arch.use)
		SET("clst_USE", b->arch.use);
	if (b->arch.hostuse)
		SET("clst_HOSTUSE", b->arch.hostuse);
	/* COMMON_FLAGS .. CHOST as write_make_conf uses them (the spec's,
	 * the seed's make.conf's or the subarch's). */
	for (char **v = b->make_conf_vars; v && *v; v++) {
		_cleanup_free_ char *name = xasprintf("clst_%s", *v);
		char *eq = strchr(name, '=');
		*eq = '\0';
		SET(name, eq + 1);
	}
	if (b->fsscript_chroot)
		SETTING("fsscript", b->fsscript_chroot);
	/* catalyst moves <target>/rcadd, /rcdel to rcadd, rcdel. */
	{
		_cleanup_free_ char *ka = xasprintf("%s/rcadd", b->target), *kd = xasprintf("%s/rcdel", b->target);
		_cleanup_free_ char *va = spec_joined(b->spec, ka), *vd = spec_joined(b->spec, kd);
		if (va)
			SETTING("rcadd", va);
		if (vd)
			SETTING("rcdel", vd);
	}
	for (char **o = b->cfg->options; o && *o; o++) {
		_cleanup_free_ char *k = sanitize(*o);
		for (char *c = k; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char) (*c - 'a' + 'A');
		_cleanup_free_ char *name = xasprintf("clst_%s", k);
		SET(name, "true");
		buf_printf(&opts, "%s%s", opts.len ? " " : "", *o);
	}
	SET("clst_options", opts.data ? opts.data : "");
	buf_done(&opts);
	if (arg_verbose > 0)
		SET("clst_VERBOSE", "true");
	{
		Buf ro = { 0 };
		for (size_t i = 0; b->root_overlays[i]; i++)
			buf_printf(&ro, "%s%s/%zu", ro.len ? " " : "", PLAN_ROOT_OVERLAY_DIR, i);
		if (ro.len)
			SET("clst_root_overlay", ro.data);
		buf_done(&ro);
	}
	/* setup_environment: jobs and load-average only when set; MAKEOPTS
	 * and NINJAOPTS always (maybe empty); MAKEFLAGS with jobserver-fifo. */
	{
		Buf mo = { 0 }, no = { 0 };
		if (b->cfg->jobs > 0) {
			_cleanup_free_ char *j = xasprintf("%ld", b->cfg->jobs);
			SET("clst_jobs", j);
			buf_printf(&mo, "-j%ld", b->cfg->jobs);
		}
		if (b->cfg->load_average) {
			SET("clst_load_average", b->cfg->load_average);
			buf_printf(&mo, "%s-l%s", mo.len ? " " : "", b->cfg->load_average);
		}
		SET("MAKEOPTS", mo.data ? mo.data : "");
		if (b->cfg->jobserver_fifo) {
			if (b->cfg->load_average)
				buf_printf(&no, "-l%s", b->cfg->load_average);
			else if (mo.data)
				buf_puts(&no, mo.data);
		}
		SET("NINJAOPTS", no.data ? no.data : "");
		if (b->cfg->jobserver_fifo) {
			Buf mf = { 0 };
			if (b->cfg->load_average)
				buf_printf(&mf, "-l%s ", b->cfg->load_average);
			buf_printf(&mf, "--jobserver-auth=fifo:%s", plan_jobserver_in_chroot(b->cfg->jobserver_fifo));
			SET("MAKEFLAGS", mf.data);
			buf_done(&mf);

		}
		buf_done(&mo);
		buf_done(&no);
	}
#undef SET
#undef SETTING
	return env;
}

const char *plan_getenv(const Plan *p, const char *name)
{
	size_t l = strlen(name);
	for (char **e = p->env; e && *e; e++)
		if (strncmp(*e, name, l) == 0 && (*e)[l] == '=')
			return *e + l + 1;
	return NULL;
}

static char **spec_words(const Spec *s, const char *key)
{
	const SpecEntry *e = spec_get(s, key);
	char **v = calloc(e ? e->n_words + 1 : 1, sizeof(char *));

	if (!v)
		die_oom();
	for (size_t i = 0; e && i < e->n_words; i++)
		v[i] = xstrdup(e->words[i]);
	return v;
}

static int render_make_conf(Plan *b, const char *seed_text, char **ret_err)
{
	_cleanup_free_ char *ku = xasprintf("%s/use", b->target), *kc = xasprintf("%s/catalyst_use", b->target);
	const SpecEntry *use = spec_get(b->spec, ku), *cuse = spec_get(b->spec, kc);
	_cleanup_free_ char *common = spec_joined(b->spec, "common_flags"), *cflags = spec_joined(b->spec, "cflags"),
			    *cxxflags = spec_joined(b->spec, "cxxflags"), *fcflags = spec_joined(b->spec, "fcflags"),
			    *fflags = spec_joined(b->spec, "fflags"), *ldflags = spec_joined(b->spec, "ldflags");
	_cleanup_free_ char *e = NULL;
	char *mb = NULL, *ms = NULL, **vars = NULL;
	int r;

	MakeConfInput in = {
		.target = b->target,
		.subarch = &b->arch,
		.seed_make_conf = seed_text,
		.chost = spec_get_string(b->spec, "chost"),
		.common_flags = common,
		.cflags = cflags,
		.cxxflags = cxxflags,
		.fcflags = fcflags,
		.fflags = fflags,
		.ldflags = ldflags,
		.use = use ? use->words : NULL,
		.catalyst_use = cuse ? cuse->words : NULL,
		.bindist = has_option(b->cfg, "bindist"),
		.sticky_config = has_option(b->cfg, "sticky-config"),
		.target_distdir = b->cfg->target_distdir,
		.target_pkgdir = b->cfg->target_pkgdir,
	};
	r = make_conf_render_vars(&in, &mb, &ms, &vars, &e);
	if (r < 0) {
		*ret_err = xasprintf("%s: make.conf: %s", b->spec_path, e ? e : strerror(-r));
		return r;
	}
	free(b->make_conf_build);
	free(b->make_conf_shipped);
	b->make_conf_build = mb;
	b->make_conf_shipped = ms;
	strv_free(b->make_conf_vars);
	b->make_conf_vars = vars;
	/* Once the environment exists (plan_set_seed_make_conf()), its
	 * clst_CHOST, clst_COMMON_FLAGS, ... follow. */
	if (b->env) {
		strv_free(b->env);
		b->env = plan_env(b);
	}
	return 0;
}

int plan_set_seed_make_conf(Plan *p, const char *text, char **ret_err)
{
	int r = render_make_conf(p, text, ret_err);
	if (r >= 0)
		p->make_conf_seed_read = true;
	return r;
}


static void add_mount(Plan *p, const char *source, const char *target, const char *kind, bool ro)
{
	p->mounts = realloc(p->mounts, (p->n_mounts + 1) * sizeof(PlanMount));
	if (!p->mounts)
		die_oom();
	p->mounts[p->n_mounts++] = (PlanMount) {
		.source = xstrdup(source), .target = xstrdup(target), .kind = kind, .read_only = ro,
	};
}

int plan_check_options(const Config *cfg, Diags *d)
{
	ConfigOrigin o = config_origin(cfg, "options");
	_cleanup_free_ char *where = o.file ? xasprintf("%s:%u", o.file, o.line) : xstrdup("options");
	size_t errors = d->n_errors;
	const char *names[64];
	size_t n = 0;

	for (size_t i = 0; i < spec_options_n && n < ELEMENTSOF(names); i++)
		names[n++] = spec_options[i].name;
	for (char **w = cfg->options; w && *w; w++) {
		const SpecOption *opt = spec_option_lookup(*w);
		if (opt && opt->refused)
			diags_add(d, false, "%s: option '%s' is not supported by zeolite: %s", where, *w, opt->refused);
		else if (opt && opt->note)
			diags_add(d, true, "%s: option '%s' has no effect: %s", where, *w, opt->note);
		else if (!opt) {
			const char *hint = spec_did_you_mean(*w, names, n);
			if (hint)
				diags_add(d, false, "%s: unknown option '%s' (did you mean '%s'?)", where, *w, hint);
			else
				diags_add(d, false, "%s: unknown option '%s'", where, *w);
		}
	}
	return d->n_errors > errors ? -EINVAL : 0;
}

int plan_make(const Config *cfg, const Store *st, const Spec *spec, const char *spec_path, Plan *b, char **ret_err)
{
	_cleanup_free_ char *e = NULL;
	const char *fs;
	int r;

	*b = (Plan) { .cfg = cfg, .spec = spec, .st = st, .spec_path = spec_path };
	b->root_overlays = spec_words(spec, "stage4/root_overlay");
	b->interpreters = spec_words(spec, "interpreter");
	b->steps = plan_steps;
	b->n_steps = ELEMENTSOF(plan_steps);
	r = plan_resolve(b, ret_err);
	if (r < 0)
		return r;
	r = subarch_lookup(cfg->sharedir, b->subarch, &b->arch, &e);
	if (r < 0) {
		*ret_err = xasprintf("%s:%u: %s", spec_path, spec_line(spec, "subarch"), e ? e : strerror(-r));
		return r == -ENOENT ? -EINVAL : r;
	}
	r = plan_repos(b, ret_err);
	if (r < 0)
		return r;
	/* catalyst's config_profile_link: "repo:path" names a profile of
	 * another repository, which must be one the build mounts. */
	if (b->profile && strchr(b->profile, ':')) {
		size_t n = (size_t) (strchr(b->profile, ':') - b->profile);
		bool found = false;
		for (size_t i = 0; i < b->n_repos; i++)
			if (strlen(b->repos[i].name) == n && strncmp(b->profile, b->repos[i].name, n) == 0)
				found = true;
		if (!found) {
			*ret_err = xasprintf("%s:%u: profile '%s' is in repository '%.*s', which is neither the "
					     "snapshot's ('%s') nor one of spec 'repos'",
					     spec_path, spec_line(spec, "profile"), b->profile, (int) n, b->profile,
					     b->repo_name);
			return -EINVAL;
		}
	}
	if (spec_get_string(spec, "portage_confdir"))
		b->confdir = xstrdup(spec_get_string(spec, "portage_confdir"));
	fs = spec_get_string(spec, "stage4/fsscript");
	if (fs) {
		const char *base = strrchr(fs, '/') ? strrchr(fs, '/') + 1 : fs;
		b->fsscript = xstrdup(fs);
		b->fsscript_chroot = xasprintf("/tmp/%s", base);
	}
	/* catalyst: packages/<rel_type>/<target>-<subarch>, or with
	 * versioned_cache .../<target>-<subarch>-<version_stamp>. */
	if (spec_get_string(spec, "pkgcache_path"))
		b->pkgcache_path = xstrdup(spec_get_string(spec, "pkgcache_path"));
	else if (has_option(cfg, "versioned_cache"))
		b->pkgcache_path = xasprintf("%s/packages/%s/%s", st->path, b->rel_type, b->name);
	else
		b->pkgcache_path = xasprintf("%s/packages/%s/%s-%s", st->path, b->rel_type, b->target, b->subarch);
	b->distdir = xstrdup(cfg->distdir);
	b->target_distdir = xstrdup(cfg->target_distdir ? cfg->target_distdir : "/var/cache/distfiles");
	b->target_pkgdir = xstrdup(cfg->target_pkgdir ? cfg->target_pkgdir : "/var/cache/binpkgs");
	b->pkgcache = has_option(cfg, "pkgcache");
	b->use_images = cfg->cache_format && strcmp(cfg->cache_format, "image") == 0;
	b->repo_dir = xstrdup(b->repos[0].location);
	b->binrepos_conf = plan_binrepos_text(b);
	if (cfg->jobserver_fifo)
		b->sandbox_conf = xasprintf("SANDBOX_WRITE=\"%s\"", plan_jobserver_in_chroot(cfg->jobserver_fifo));
	/* ccache: the host's CCACHE_DIR (or /var/tmp/ccache) at /var/tmp/ccache. */
	if (has_option(cfg, "ccache")) {
		const char *cc = secure_getenv("CCACHE_DIR");
		struct stat cs;
		b->ccache_dir = xstrdup(cc && *cc ? cc : "/var/tmp/ccache");
		if (stat(b->ccache_dir, &cs) < 0 || !S_ISDIR(cs.st_mode)) {
			*ret_err = xasprintf("option ccache: compiler cache support can't be enabled (can't find %s)",
					     b->ccache_dir);
			return -EINVAL;
		}
	}
	if (cfg->port_logdir)
		b->port_logdir = xasprintf("%s/%s/%s", cfg->port_logdir, b->rel_type, b->name);
	r = render_make_conf(b, NULL, ret_err);
	if (r < 0)
		return r;
	b->env = plan_env(b);

	/* catalyst's MOUNT_DEFAULTS, in its order (proc, dev, devpts, shm and
	 * run are the sandbox's own), the repositories first. */
	add_mount(b, b->seed_target, "/", "overlay-lower", true);
	add_mount(b, b->snapshot_path, b->repo_dir, b->snapshot_is_image ? "squashfs" : "bind", true);
	for (size_t i = 1; i < b->n_repos; i++)
		add_mount(b, b->repos[i].source, b->repos[i].location, b->repos[i].image ? "squashfs" : "bind", true);
	add_mount(b, b->targets_dir, PLAN_TARGETS_DIR, "bind", true);
	add_mount(b, b->distdir, b->target_distdir, "bind", false);
	if (b->pkgcache)
		add_mount(b, b->pkgcache_path, b->target_pkgdir, "bind", false);
	/* var_tmpfs_portage: any value set (0 too: an unlimited tmpfs). */
	if (cfg->var_tmpfs_portage || config_origin(cfg, "var_tmpfs_portage").file) {
		_cleanup_free_ char *o = xasprintf("size=%ldG", cfg->var_tmpfs_portage_size);
		add_mount(b, o, "/var/tmp/portage", "tmpfs", false);
	}
	if (b->port_logdir)
		add_mount(b, b->port_logdir, cfg->target_logdir ? cfg->target_logdir : "/var/log/portage", "bind",
			  false);
	if (b->ccache_dir)
		add_mount(b, b->ccache_dir, "/var/tmp/ccache", "bind", false);
	if (cfg->jobserver_fifo)
		add_mount(b, cfg->jobserver_fifo, plan_jobserver_in_chroot(cfg->jobserver_fifo), "fifo", false);
	return 0;
}

int plan_make_pending_seed(const Config *cfg, const Store *st, const Spec *spec, const char *spec_path, Plan *b,
			   char **ret_err)
{
	int r;

	plan_seed_pending = true;
	r = plan_make(cfg, st, spec, spec_path, b, ret_err);
	plan_seed_pending = false;
	return r;
}

void plan_done(Plan *b)
{
	free(b->name);
	free(b->work);
	free(b->log);
	free(b->lock);
	free(b->seed_name);
	free(b->seed_path);
	free(b->seed_target);
	free(b->snapshot_name);
	free(b->snapshot_path);
	free(b->out_dir);
	free(b->out_name);
	free(b->targets_dir);
	free(b->script);
	free(b->pkgcache_path);
	free(b->distdir);
	free(b->repo_dir);
	for (size_t i = 0; i < b->n_repos; i++) {
		free(b->repos[i].source);
		free(b->repos[i].name);
		free(b->repos[i].location);
		free(b->repos[i].conf);
	}
	free(b->repos);
	free(b->binrepos_conf);
	free(b->sandbox_conf);
	free(b->ccache_dir);
	free(b->port_logdir);
	free(b->target_distdir);
	free(b->target_pkgdir);
	free(b->confdir);
	free(b->fsscript);
	free(b->fsscript_chroot);
	strv_free(b->root_overlays);
	strv_free(b->interpreters);
	subarch_done(&b->arch);
	free(b->make_conf_build);
	free(b->make_conf_shipped);
	strv_free(b->make_conf_vars);
	strv_free(b->env);
	for (size_t i = 0; i < b->n_mounts; i++) {
		free(b->mounts[i].source);
		free(b->mounts[i].target);
	}
	free(b->mounts);
	*b = (Plan) { 0 };
}

void plan_print_text(const Plan *b, FILE *f)
{
	const char *confdir = b->confdir;

	fprintf(f, "build %s (%s)\n", b->name, b->spec_path);
	fprintf(f, "  target      %s, subarch %s, profile %s\n", b->target, b->subarch,
	       spec_get_string(b->spec, "profile"));
	if (strcmp(b->seed_path, b->seed_target) != 0)
		fprintf(f, "  seed        %s -> %s\n", b->seed_path, b->seed_target);
	else
		fprintf(f, "  seed        %s\n", b->seed_path);
	fprintf(f, "  snapshot    %s (%s)\n", b->snapshot_path,
	       b->snapshot_is_image ? "loop-mounted read-only" : "unpacked through the cache, bind-mounted read-only");
	fprintf(f, "  repository  %s\n", b->repo_dir);
	for (size_t i = 1; i < b->n_repos; i++)
		fprintf(f, "  repository  %s (%s%s, read-only%s)\n", b->repos[i].location, b->repos[i].source,
			b->repos[i].image ? ", loop-mounted" : "", b->repos[i].keep ? "; keep_repos" : "");
	fprintf(f, "  confdir     %s\n", confdir ? confdir : "-");
	{
		const SpecEntry *e = spec_get(b->spec, "stage4/root_overlay");
		for (char **w = e ? e->words : NULL; w && *w; w++)
			fprintf(f, "  overlay     %s\n", *w);
	}
	fprintf(f, "  scripts     %s/%s.sh\n", b->targets_dir, b->target);
	fprintf(f, "  work        %s\n", b->work);
	fprintf(f, "  log         %s\n", b->log);
	fprintf(f, "  output      %s/%s (+ .CONTENTS.gz; .DIGESTS and .sha256 with digests)\n", b->out_dir,
		b->out_name);
	fprintf(f, "  lock        %s (lock_timeout %lu s)\n", b->lock, b->timeout);
	if (b->pkgcache)
		fprintf(f, "  packages    %s (at %s)\n", b->pkgcache_path, b->target_pkgdir);
	else
		fprintf(f, "  packages    - (no pkgcache option)\n");
}


