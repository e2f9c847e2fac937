/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * build-jobs.h - `zeolite build -j N SPEC...`: the specs as a graph
 * (graph.h), at most N builds at a time (docs/many-builds.md).
 *
 * build_jobs() first checks everything, as a plain `build` does: every
 * spec loads and validates, every plan resolves (a seed that another spec
 * of the set makes is taken as pending, plan_make_pending_seed()), and the
 * graph links (no duplicate output or build name, no ambiguous seed, no
 * cycle).  Any problem is EXIT_DATAERR (65) with nothing run.
 *
 * Then each build runs in a child process of its own (fork, no exec),
 * RUN(USERDATA, SPEC_PATH) there, as soon as its seed's build is done and
 * fewer than N run.  The child's stdout and stderr come back through a
 * pipe and are printed on stderr, each line prefixed with "[NAME] ".  A
 * failed build (exit status not 0, or killed) fails its dependents, which
 * are reported skipped with the reason; the independent builds go on
 * (--keep-going, the default).  With FAIL_FAST no build starts after the
 * first failure (the running ones finish) and the waiting ones are
 * skipped.  At the end a table on stdout: build, result, duration, and the
 * output or what failed and the log.
 *
 * With a jobserver (jobserver.h) each build gets its own FIFO, fed from
 * the run's pool; a build's tokens go back to the pool when it ends,
 * however it ends.
 *
 * Returns EXIT_OK when every build was done, else the exit status of the
 * first build that failed (EXIT_FAIL if it was killed).
 */
#ifndef ZEOLITE_BUILD_JOBS_H
#define ZEOLITE_BUILD_JOBS_H

#include "config.h"
#include "graph.h"
#include "plan.h"
#include "store.h"

#include <stdbool.h>

/* Runs one build in the child; returns its exit status.  JOBSERVER_FIFO is
 * the host path of the build's own jobserver FIFO, or NULL. */
typedef int (*BuildJobFn)(void *userdata, const char *spec_path, const char *jobserver_fifo);

typedef struct BuildJobsOptions {
	unsigned jobs;       /* builds at a time, >= 1 */
	bool fail_fast;
	bool dry_run;        /* print each plan in the graph's order, run nothing */
	BuildJobFn run;
	void *userdata;
} BuildJobsOptions;

/*
 * The checking half, for build -j and `zeolite plan`: load and validate
 * the N specs of PATHS, plan each (a seed made by another spec of the set
 * pending), link the graph; a build whose seed is not made by the set has
 * its seed looked for now.  Messages start with CMD.  Returns EXIT_OK with *G, *RET_SPECS and
 * *RET_PLANS (N each) filled, or EXIT_DATAERR with every problem printed.
 * Free with build_graph_done() either way.
 */
int build_graph_load(const char *cmd, const Config *cfg, const Store *st, int n, char **paths, Graph *g,
		     Spec **ret_specs, Plan **ret_plans);
void build_graph_done(int n, Graph *g, Spec *specs, Plan *plans);

int build_jobs(const Config *cfg, const Store *st, int n, char **paths, const BuildJobsOptions *o);

#endif
