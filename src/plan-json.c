// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * plan-json.c - a Plan as one JSON object on one line (build --dry-run
 * --json).  The keys are documented in docs/plan-json.md; a key is added,
 * never renamed or removed.
 */
#include "plan.h"

#include <string.h>

static void key(Buf *b, bool *first, const char *k)
{
	if (!*first)
		buf_putc(b, ',');
	*first = false;
	buf_put_json_string(b, k);
	buf_putc(b, ':');
}

static void str_or_null(Buf *b, const char *v)
{
	if (v)
		buf_put_json_string(b, v);
	else
		buf_puts(b, "null");
}

static void kv(Buf *b, bool *first, const char *k, const char *v)
{
	key(b, first, k);
	str_or_null(b, v);
}

static void strv(Buf *b, char *const *v)
{
	buf_putc(b, '[');
	for (size_t i = 0; v && v[i]; i++) {
		if (i)
			buf_putc(b, ',');
		buf_put_json_string(b, v[i]);
	}
	buf_putc(b, ']');
}

void plan_to_json(const Plan *p, Buf *b)
{
	bool first = true;

	buf_putc(b, '{');
	kv(b, &first, "spec", p->spec_path);
	kv(b, &first, "name", p->name);
	kv(b, &first, "target", p->target);
	kv(b, &first, "subarch", p->subarch);
	kv(b, &first, "rel_type", p->rel_type);
	kv(b, &first, "version_stamp", p->version_stamp);
	kv(b, &first, "profile", p->profile);
	key(b, &first, "seed");
	{
		bool f = true;
		buf_putc(b, '{');
		kv(b, &f, "name", p->seed_name);
		kv(b, &f, "path", p->seed_path);
		kv(b, &f, "target", p->seed_target);
		kv(b, &f, "format", p->seed_format == SEED_SQUASHFS ? "squashfs" : "tarball");
		buf_putc(b, '}');
	}
	key(b, &first, "snapshot");
	{
		bool f = true;
		buf_putc(b, '{');
		kv(b, &f, "name", p->snapshot_name);
		kv(b, &f, "path", p->snapshot_path);
		kv(b, &f, "format", p->snapshot_is_image ? "squashfs" : "tarball");
		kv(b, &f, "repo_name", p->repo_name);
		kv(b, &f, "mounted_at", p->repo_dir);
		buf_putc(b, '}');
	}
	key(b, &first, "outputs");
	{
		_cleanup_free_ char *t = xasprintf("%s/%s", p->out_dir, p->out_name);
		_cleanup_free_ char *c = xasprintf("%s.CONTENTS.gz", t);
		_cleanup_free_ char *d = xasprintf("%s.DIGESTS", t);
		_cleanup_free_ char *h = xasprintf("%s.sha256", t);
		bool f = true;
		buf_putc(b, '{');
		kv(b, &f, "tarball", t);
		kv(b, &f, "contents", c);
		/* As catalyst: DIGESTS and .sha256 only with digests configured. */
		if (p->cfg->digests && p->cfg->digests[0]) {
			kv(b, &f, "digests", d);
			kv(b, &f, "sha256", h);
		}
		buf_putc(b, '}');
	}
	key(b, &first, "steps");
	buf_putc(b, '[');
	for (size_t i = 0; i < p->n_steps; i++) {
		if (i)
			buf_putc(b, ',');
		buf_put_json_string(b, p->steps[i]);
	}
	buf_putc(b, ']');
	key(b, &first, "mounts");
	buf_putc(b, '[');
	for (size_t i = 0; i < p->n_mounts; i++) {
		bool f = true;
		if (i)
			buf_putc(b, ',');
		buf_putc(b, '{');
		kv(b, &f, "source", p->mounts[i].source);
		kv(b, &f, "target", p->mounts[i].target);
		kv(b, &f, "kind", p->mounts[i].kind);
		key(b, &f, "read_only");
		buf_puts(b, p->mounts[i].read_only ? "true" : "false");
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
	key(b, &first, "repos");
	buf_putc(b, '[');
	for (size_t i = 0; i < p->n_repos; i++) {
		bool f = true;
		if (i)
			buf_putc(b, ',');
		buf_putc(b, '{');
		kv(b, &f, "name", p->repos[i].name);
		kv(b, &f, "source", p->repos[i].source);
		kv(b, &f, "location", p->repos[i].location);
		kv(b, &f, "repos_conf", p->repos[i].conf);
		key(b, &f, "keep");
		buf_puts(b, p->repos[i].keep ? "true" : "false");
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
	kv(b, &first, "binrepos_conf", p->binrepos_conf);
	kv(b, &first, "make_conf_build", p->make_conf_build);
	kv(b, &first, "make_conf_shipped", p->make_conf_shipped);
	key(b, &first, "make_conf_seed_read");
	buf_puts(b, p->make_conf_seed_read ? "true" : "false");
	key(b, &first, "environment");
	buf_putc(b, '{');
	for (size_t i = 0; p->env && p->env[i]; i++) {
		const char *eq = strchr(p->env[i], '=');
		_cleanup_free_ char *n = xstrndup(p->env[i], (size_t) (eq - p->env[i]));
		if (i)
			buf_putc(b, ',');
		buf_put_json_string(b, n);
		buf_putc(b, ':');
		buf_put_json_string(b, eq + 1);
	}
	buf_putc(b, '}');
	kv(b, &first, "portage_confdir", p->confdir);
	key(b, &first, "root_overlay");
	strv(b, p->root_overlays);
	kv(b, &first, "fsscript", p->fsscript);
	key(b, &first, "interpreter");
	strv(b, p->interpreters);
	kv(b, &first, "personality", p->arch.personality);
	kv(b, &first, "work", p->work);
	kv(b, &first, "log", p->log);
	kv(b, &first, "lock", p->lock);
	kv(b, &first, "pkgcache_path", p->pkgcache_path);
	kv(b, &first, "distdir", p->distdir);
	key(b, &first, "autoresume");
	buf_puts(b, p->autoresume ? "true" : "false");
	buf_putc(b, '}');
}
