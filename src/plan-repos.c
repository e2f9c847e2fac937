// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * plan-repos.c - the repositories a build sees (the snapshot and spec
 * repos, keep_repos) and binrepos.conf, for plan.c (plan-repos.h).
 */
#include "plan-repos.h"
#include "image-mount.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- repositories, binrepos, host directories ------------------------- */

/* First line of FILE below DIR_FD, blanks trimmed; NULL if none. */
static char *first_line(int dir_fd, const char *file)
{
	_cleanup_free_ char *t = NULL;
	size_t n;

	if (read_file_at(dir_fd, file, 65536, &t, &n) < 0)
		return NULL;
	char *s = t + strspn(t, " \t");
	s[strcspn(s, "\r\n")] = '\0';
	for (size_t l = strlen(s); l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t'); l--)
		s[l - 1] = '\0';
	return *s ? xstrdup(s) : NULL;
}

/* The name of the repository in directory PATH, as portage's RepoConfig
 * finds it: metadata/layout.conf repo-name, else profiles/repo_name. */
static char *repo_name_of_dir(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *layout = NULL;
	size_t n;

	if (fd < 0)
		return NULL;
	if (read_file_at(fd, "metadata/layout.conf", 1024 * 1024, &layout, &n) == 0) {
		for (char *l = layout, *e; l && *l; l = e) {
			e = strchr(l, '\n');
			if (e)
				*e++ = '\0';
			l += strspn(l, " \t");
			if (strncmp(l, "repo-name", 9) != 0)
				continue;
			l += 9;
			l += strspn(l, " \t");
			if (*l != '=')
				continue;
			l++;
			l += strspn(l, " \t");
			for (size_t k = strlen(l); k > 0 && strchr(" \t\r", l[k - 1]); k--)
				l[k - 1] = '\0';
			if (*l)
				return xstrdup(l);
		}
	}
	return first_line(fd, "profiles/repo_name");
}

/* The name of the repository in squashfs image PATH, as catalyst's
 * get_repo_name_from_squash: the image is mounted read-only, in a child's
 * own mount namespace, on a temporary directory; nothing outlives the
 * child.  NULL with *RET_ERR when it cannot be read. */
static char *repo_name_of_image(const char *path, char **ret_err)
{
	int p[2];
	pid_t pid;
	Buf out = { 0 };
	int status;

	if (pipe2(p, O_CLOEXEC) < 0) {
		*ret_err = xasprintf("pipe: %m");
		return NULL;
	}
	pid = fork();
	if (pid < 0) {
		*ret_err = xasprintf("fork: %m");
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	if (pid == 0) {
		char tmp[] = "/tmp/zeolite-repo-XXXXXX";
		char *e = NULL, *name = NULL, *root;
		close(p[0]);
		if (mount_ns_private(&e) < 0 || !mkdtemp(tmp)) {
			dprintf(p[1], "!%s", e ? e : strerror(errno));
			_exit(1);
		}
		if (image_mount(path, tmp, true, &e) < 0) {
			dprintf(p[1], "!%s", e);
			(void) rmdir(tmp);
			_exit(1);
		}
		root = image_repo_root(tmp);
		name = repo_name_of_dir(root);
		if (name)
			dprintf(p[1], "%s", name);
		image_umount(tmp);
		(void) rmdir(tmp);
		_exit(0);
	}
	close(p[1]);
	for (;;) {
		char buf[256];
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		buf_put(&out, buf, (size_t) n);
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out.len && out.data[0] == '!') {
		*ret_err = xstrdup(out.data + 1);
		buf_done(&out);
		return NULL;
	}
	if (!out.len) {
		buf_done(&out);
		return NULL;
	}
	return buf_steal(&out);
}

static bool repo_name_ok(const char *n)
{
	if (!*n || n[0] == '-' || n[0] == '.')
		return false;
	for (const char *c = n; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
		      *c == '-'))
			return false;
	return true;
}

static void add_repo(Plan *b, const char *source, const char *name, bool main, bool image)
{
	PlanRepo *r;

	b->repos = xrealloc(b->repos, (b->n_repos + 1) * sizeof(*b->repos));
	r = &b->repos[b->n_repos++];
	*r = (PlanRepo) {
		.source = xstrdup(source),
		.name = xstrdup(name),
		.location = xasprintf("%s/%s", strcmp(b->cfg->repo_basedir, "/") == 0 ? "" : b->cfg->repo_basedir, name),
		.main = main,
		.image = image,
	};
	/* process_repos: no entry for the main repository at portage's
	 * default location (/var/db/repos/gentoo); the main repository
	 * elsewhere is main-repo of [DEFAULT]. */
	if (main && strcmp(r->location, "/var/db/repos/gentoo") == 0)
		r->conf = NULL;
	else if (main)
		r->conf = xasprintf("[DEFAULT]\nmain-repo = %s\n\n[%s]\nlocation = %s\n\n", name, name, r->location);
	else
		r->conf = xasprintf("[%s]\nlocation = %s\n\n", name, r->location);
}

/* The snapshot and spec repos (directories, read-only) with their
 * repos.conf entries; keep_repos marks those whose entries ship. */
int plan_repos(Plan *b, char **ret_err)
{
	const SpecEntry *e = spec_get(b->spec, "repos"), *k = spec_get(b->spec, "keep_repos");

	add_repo(b, b->snapshot_path, b->repo_name, true, b->snapshot_is_image);
	if (e && strcmp(b->target, "stage1") == 0)
		log_warning("%s:%u: repos for a stage1: using an overlay for earlier stages could cause build "
			    "issues (catalyst's warning)",
			    b->spec_path, e->line);
	for (char **w = e ? e->words : NULL; w && *w; w++) {
		struct stat st;
		_cleanup_free_ char *name = NULL;

		if ((*w)[0] != '/' || stat(*w, &st) < 0) {
			*ret_err = xasprintf("%s:%u: repos: '%s' is not an absolute path to a directory or .sqfs",
					     b->spec_path, e->line, *w);
			return -EINVAL;
		}
		size_t l = strlen(*w);
		bool image = S_ISREG(st.st_mode) && l > 5 && strcmp(*w + l - 5, ".sqfs") == 0;
		if (!S_ISDIR(st.st_mode) && !image) {
			*ret_err = xasprintf("%s:%u: repos: '%s' is neither a directory nor a .sqfs file", b->spec_path,
					     e->line, *w);
			return -EINVAL;
		}
		if (image) {
			_cleanup_free_ char *why = NULL;
			name = repo_name_of_image(*w, &why);
			if (why) {
				*ret_err = xasprintf("%s:%u: repos: cannot read the name of repository %s: %s",
						     b->spec_path, e->line, *w, why);
				return -EINVAL;
			}
		} else
			name = repo_name_of_dir(*w);
		if (!name || !repo_name_ok(name)) {
			*ret_err = xasprintf("%s:%u: repos: missing name in repository %s (no profiles/repo_name or "
					     "metadata/layout.conf repo-name)",
					     b->spec_path, e->line, *w);
			return -EINVAL;
		}
		for (size_t i = 0; i < b->n_repos; i++)
			if (strcmp(b->repos[i].name, name) == 0) {
				*ret_err = xasprintf("%s:%u: repos: '%s' is repository '%s', which the build has "
						     "already (%s)",
						     b->spec_path, e->line, *w, name, b->repos[i].source);
				return -EINVAL;
			}
		add_repo(b, *w, name, false, image);
	}
	for (char **w = k ? k->words : NULL; w && *w; w++) {
		bool found = false;
		for (size_t i = 0; i < b->n_repos; i++)
			if (strcmp(b->repos[i].name, *w) == 0)
				found = b->repos[i].keep = true;
		/* catalyst warns and goes on; a name that matches nothing is
		 * a spec error here. */
		if (!found) {
			*ret_err = xasprintf("%s:%u: keep_repos references unknown repo '%s'", b->spec_path, k->line,
					     *w);
			return -EINVAL;
		}
	}
	return 0;
}

/* write_binrepos_conf: only when the config has a binhost and the spec a
 * binrepo_path. */
char *plan_binrepos_text(const Plan *b)
{
	const char *path = spec_get_string(b->spec, "binrepo_path");

	if (!b->cfg->binhost || !*b->cfg->binhost || !path)
		return NULL;
	return xasprintf("# These settings were set by the catalyst build script that automatically\n"
			 "# built this stage.\n"
			 "# Please consider using a local mirror.\n\n"
			 "[gentoo]\n"
			 "priority = 1\n"
			 "sync-uri = %s%s\n"
			 "location = /var/cache/binhost/gentoo\n"
			 "verify-signature = true\n",
			 b->cfg->binhost, path);
}

