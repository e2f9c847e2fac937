/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * graph.h - the builds of one command line as a dependency graph
 * (`zeolite build -j N`, `zeolite plan`; docs/many-builds.md).
 *
 * A node is one spec: its build name (<target>-<subarch>-<version_stamp>),
 * its output relative to builds/ (<rel_type>/<tarball>, as plan_make()
 * names it) and its source_subpath.  A node depends on another when its
 * source_subpath would resolve to that node's output by catalyst's seed
 * rule (seed.h): the output is builds/SUB itself, or SUB.<anything> other
 * than the side files SUB.CONTENTS, SUB.CONTENTS.gz, SUB.DIGESTS and
 * SUB.sha256.
 *
 * graph_link() refuses, with "FILE:LINE: ..." messages: two nodes with
 * the same output or the same build name (the same work directory, lock
 * and log), a source_subpath matching the outputs of two nodes, and a
 * cycle.  Then the scheduler asks graph_next_ready() for a node whose
 * dependencies are all done and reports each end with graph_finish(); a
 * failure makes every node depending on it, directly or not, skipped with
 * a reason naming the failed build.  Pure data: no I/O.
 */
#ifndef ZEOLITE_GRAPH_H
#define ZEOLITE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>

typedef enum GraphState {
	GRAPH_WAITING,
	GRAPH_RUNNING,
	GRAPH_DONE,
	GRAPH_FAILED,
	GRAPH_SKIPPED,
} GraphState;

typedef struct GraphNode {
	char *name;    /* the build's name */
	char *output;  /* relative to builds/ */
	char *seed;    /* source_subpath */
	char *label;   /* the spec file, for messages */
	unsigned seed_line; /* source_subpath's line in it (0: unknown) */
	size_t dep;    /* the node it depends on, or GRAPH_NONE */
	GraphState state;
	char *reason;  /* GRAPH_SKIPPED: why; GRAPH_FAILED: what failed (maybe NULL) */
} GraphNode;

#define GRAPH_NONE ((size_t) -1)

typedef struct Graph {
	GraphNode *v;
	size_t n;
} Graph;

/* Add a node (strings copied); returns its index. */
size_t graph_add(Graph *g, const char *name, const char *output, const char *seed, const char *label,
		 unsigned seed_line);

/* Whether source_subpath SEED resolves to OUTPUT (both relative to builds/). */
bool graph_seed_matches(const char *seed, const char *output);

/* Find the edges and check the graph.  Returns 0, or -EINVAL with
 * *RET_ERR set to every problem found, one line each (caller frees). */
int graph_link(Graph *g, char **ret_err);

/* A waiting node whose dependency is done (or that has none), the first
 * in the order added; GRAPH_NONE if there is none now. */
size_t graph_next_ready(const Graph *g);

/* Node I ended: done if OK, else failed (WHY may be NULL) and its
 * dependents skipped. */
void graph_finish(Graph *g, size_t i, bool ok, const char *why);

/* Every waiting node skipped with reason WHY (--fail-fast). */
void graph_skip_waiting(Graph *g, const char *why);

/* Whether any node is waiting or running. */
bool graph_unfinished(const Graph *g);

/* The nodes in an order where each comes after its dependency (stable:
 * otherwise the order added).  Returns an array of N indices (caller
 * frees).  Only after graph_link() succeeded. */
size_t *graph_order(const Graph *g);

const char *graph_state_name(GraphState s);

void graph_done(Graph *g);

#endif
