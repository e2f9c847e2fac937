// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cmd-plan.c - `zeolite plan SPEC...`: the graph `build -j` would run
 * (build-jobs.h), printed for a person, as JSON, as a Makefile whose
 * targets run `zeolite build`, or as a shell script submitting one Slurm
 * job per build with sbatch --dependency=afterok (docs/many-builds.md).
 *
 * Everything is checked as `build -j` checks it (exit 65 with nothing
 * printed on stdout otherwise); nothing is locked, built or written.  The
 * commands written name the specs and config files by absolute path and
 * zeolite by the path it runs from (overridable: ZEOLITE=).
 */
#include "build-jobs.h"
#include "main.h"
#include "util.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum PlanFormat {
	FORMAT_TEXT,
	FORMAT_JSON,
	FORMAT_MAKE,
	FORMAT_SLURM,
} PlanFormat;

static void put_sh_word(Buf *b, const char *s)
{
	buf_putc(b, '\'');
	for (; *s; s++)
		if (*s == '\'')
			buf_puts(b, "'\\''");
		else
			buf_putc(b, *s);
	buf_putc(b, '\'');
}

/* "zeolite -c ... build 'SPEC'" with $ZEOLITE for zeolite (sh or make). */
static char *build_command(const char *zeolite_var, const char *spec)
{
	_cleanup_free_ char *abs = realpath(spec, NULL);
	Buf b = { 0 };

	buf_puts(&b, zeolite_var);
	global_options_shell(&b);
	buf_puts(&b, " build ");
	put_sh_word(&b, abs ? abs : spec);
	return buf_steal(&b);
}

static char *self_path(void)
{
	char p[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", p, sizeof(p) - 1);

	if (n <= 0)
		return xstrdup("zeolite");
	p[n] = '\0';
	return xstrdup(p);
}

static void print_text(const Graph *g, const size_t *order)
{
	for (size_t k = 0; k < g->n; k++) {
		const GraphNode *n = &g->v[order[k]];
		printf("%s\n  spec    %s\n  output  builds/%s\n  seed    builds/%s", n->name, n->label, n->output,
		       n->seed);
		if (n->dep != GRAPH_NONE)
			printf(" (made by %s)\n", g->v[n->dep].name);
		else
			printf(" (in the store)\n");
	}
}

static void print_json(const Graph *g, const size_t *order, const Plan *plans)
{
	Buf b = { 0 };

	buf_puts(&b, "{\"builds\":[");
	for (size_t k = 0; k < g->n; k++) {
		size_t i = order[k];
		const GraphNode *n = &g->v[i];
		_cleanup_free_ char *abs = realpath(n->label, NULL);
		_cleanup_free_ char *out = xasprintf("%s/%s", plans[i].out_dir, plans[i].out_name);
		if (k)
			buf_putc(&b, ',');
		buf_puts(&b, "{\"name\":");
		buf_put_json_string(&b, n->name);
		buf_puts(&b, ",\"spec\":");
		buf_put_json_string(&b, abs ? abs : n->label);
		buf_puts(&b, ",\"output\":");
		buf_put_json_string(&b, out);
		buf_puts(&b, ",\"source_subpath\":");
		buf_put_json_string(&b, n->seed);
		buf_puts(&b, ",\"after\":");
		if (n->dep != GRAPH_NONE) {
			buf_puts(&b, "[");
			buf_put_json_string(&b, g->v[n->dep].name);
			buf_puts(&b, "]");
		} else
			buf_puts(&b, "[]");
		buf_puts(&b, ",\"log\":");
		buf_put_json_string(&b, plans[i].log);
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}");
	printf("%s\n", b.data);
	buf_done(&b);
}

/* S with each $ doubled: make's own quoting. */
static char *make_escape(const char *s)
{
	Buf b = { 0 };

	for (; *s; s++) {
		if (*s == '$')
			buf_putc(&b, '$');
		buf_putc(&b, *s);
	}
	return buf_steal(&b);
}

static void print_make(const Graph *g, const size_t *order)
{
	_cleanup_free_ char *path = self_path();
	_cleanup_free_ char *self = make_escape(path);

	printf("# Written by zeolite plan --format make: one target per build, each after\n"
	       "# the build that makes its seed.  Run with: make -j N -f THIS-FILE [all|BUILD]\n"
	       "# (make -k: keep going past a failure, as build -j does).\n"
	       "ZEOLITE ?= %s\n\n.PHONY: all",
	       self);
	for (size_t k = 0; k < g->n; k++)
		printf(" %s", g->v[order[k]].name);
	printf("\nall:");
	for (size_t k = 0; k < g->n; k++)
		printf(" %s", g->v[order[k]].name);
	printf("\n");
	for (size_t k = 0; k < g->n; k++) {
		const GraphNode *n = &g->v[order[k]];
		_cleanup_free_ char *cmd = build_command("", n->label);
		_cleanup_free_ char *esc = make_escape(cmd);
		printf("\n%s:%s%s\n\t$(ZEOLITE)%s\n", n->name, n->dep != GRAPH_NONE ? " " : "",
		       n->dep != GRAPH_NONE ? g->v[n->dep].name : "", esc);
	}
}

/* A shell variable name for node I. */
static char *job_var(size_t i)
{
	return xasprintf("job_%zu", i);
}

static void print_slurm(const Graph *g, const size_t *order)
{
	_cleanup_free_ char *self = self_path();
	Buf zw = { 0 };

	put_sh_word(&zw, self);
	printf("#!/bin/sh\n"
	       "# Written by zeolite plan --format slurm: one Slurm job per build, each\n"
	       "# after the job of the build that makes its seed (afterok; a job whose\n"
	       "# dependency failed is cancelled, never run: --kill-on-invalid-dep).\n"
	       "# The hosts must share the store's builds/ and snapshots/.  Prints\n"
	       "# \"BUILD JOBID\" per job.  SBATCH: the sbatch to run; SBATCH_FLAGS: more\n"
	       "# of its options; ZEOLITE: the zeolite the jobs run.\n"
	       "set -eu\n"
	       "SBATCH=${SBATCH:-sbatch}\n");
	for (size_t k = 0; k < g->n; k++) {
		size_t i = order[k];
		const GraphNode *n = &g->v[i];
		_cleanup_free_ char *var = job_var(i);
		_cleanup_free_ char *cmd = build_command("exec \"$z\"", n->label);
		_cleanup_free_ char *dep = n->dep != GRAPH_NONE ? job_var(n->dep) : NULL;
		Buf name = { 0 };

		put_sh_word(&name, n->name);
		printf("\n# %s\n%s=$($SBATCH --parsable ${SBATCH_FLAGS:-} --job-name=%s", n->name, var, name.data);
		if (dep)
			printf(" --dependency=\"afterok:${%s%%%%;*}\" --kill-on-invalid-dep=yes", dep);
		printf(" <<'EOF'\n#!/bin/sh\nz=${ZEOLITE:-%s}\n%s\nEOF\n)\n", zw.data, cmd);
		printf("echo %s \"${%s%%%%;*}\"\n", name.data, var);
		buf_done(&name);
	}
	buf_done(&zw);
}

int cmd_plan(int argc, char **argv)
{
	enum { OPT_JSON = CHAR_MAX + 1, OPT_FORMAT };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "format", required_argument, NULL, OPT_FORMAT },
		GLOBAL_LONG_OPTIONS,
		{}
	};
	_cleanup_(config_done) Config cfg = { 0 };
	_cleanup_(store_close) Store st = STORE_INIT;
	PlanFormat format = arg_json ? FORMAT_JSON : FORMAT_TEXT;
	Graph g = { 0 };
	Spec *specs = NULL;
	Plan *plans = NULL;
	int c, r, n;

	command_getopt_reset();
	while ((c = command_getopt(argc, argv, "plan", COMMAND_SHORT_OPTS "h", options)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: zeolite plan [--json | --format text|json|make|slurm] SPEC...\n\n"
			       "Print the graph of builds the SPECs make, as `build -j` runs it: a\n"
			       "spec whose source_subpath is another's output comes after it.  Checks\n"
			       "what build checks; builds nothing.\n\n"
			       "      --json             the graph as JSON (same as --format json)\n"
			       "      --format make      a Makefile, one target per build running\n"
			       "                         zeolite build (make -j N -f FILE)\n"
			       "      --format slurm     a shell script submitting one Slurm job per\n"
			       "                         build (sbatch --dependency=afterok:...)\n");
			return EXIT_OK;
		case OPT_JSON:
			format = FORMAT_JSON;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "text") == 0)
				format = FORMAT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				format = FORMAT_JSON;
			else if (strcmp(optarg, "make") == 0)
				format = FORMAT_MAKE;
			else if (strcmp(optarg, "slurm") == 0)
				format = FORMAT_SLURM;
			else
				return command_usage_error("plan", "--format: '%s' is not one of text, json, make, slurm",
							   optarg);
			break;
		default:
			return EXIT_USAGE;
		}
	}
	n = argc - optind;
	if (n <= 0)
		return command_usage_error("plan", "no spec file given");
	r = load_config_and_store(&cfg, &st);
	if (r != EXIT_OK)
		return r;
	{
		Diags od = { 0 };
		int q = plan_check_options(&cfg, &od);
		print_diags(&od);
		diags_done(&od);
		if (q < 0)
			return EXIT_DATAERR;
	}
	r = build_graph_load("plan", &cfg, &st, n, argv + optind, &g, &specs, &plans);
	if (r == EXIT_OK) {
		size_t *order = graph_order(&g);
		switch (format) {
		case FORMAT_TEXT:
			print_text(&g, order);
			break;
		case FORMAT_JSON:
			print_json(&g, order, plans);
			break;
		case FORMAT_MAKE:
			print_make(&g, order);
			break;
		case FORMAT_SLURM:
			print_slurm(&g, order);
			break;
		}
		free(order);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			log_error("plan: cannot write the plan: %m");
			r = EXIT_FAIL;
		}
	}
	build_graph_done(n, &g, specs, plans);
	return r;
}
