// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * graph.c - the dependency graph of one command line's builds (graph.h).
 *
 * Each spec has one source_subpath, so each node has at most one
 * dependency: the graph is a forest, or has cycles, which following the
 * dependency chain from every node finds.
 */
#include "graph.h"
#include "util.h"

#include <errno.h>
#include <string.h>

size_t graph_add(Graph *g, const char *name, const char *output, const char *seed, const char *label,
		 unsigned seed_line)
{
	GraphNode *n;

	g->v = realloc(g->v, (g->n + 1) * sizeof(*g->v));
	if (!g->v)
		die_oom();
	n = &g->v[g->n];
	*n = (GraphNode) {
		.name = xstrdup(name),
		.output = xstrdup(output),
		.seed = xstrdup(seed),
		.label = xstrdup(label),
		.seed_line = seed_line,
		.dep = GRAPH_NONE,
		.state = GRAPH_WAITING,
	};
	return g->n++;
}

bool graph_seed_matches(const char *seed, const char *output)
{
	static const char *const side[] = { "CONTENTS", "CONTENTS.gz", "DIGESTS", "sha256" };
	size_t n = strlen(seed);

	if (strcmp(seed, output) == 0)
		return true;
	if (strncmp(seed, output, n) != 0 || output[n] != '.' || !output[n + 1])
		return false;
	for (size_t i = 0; i < ELEMENTSOF(side); i++)
		if (strcmp(output + n + 1, side[i]) == 0)
			return false;
	return true;
}

static void where(Buf *b, const GraphNode *n)
{
	if (n->seed_line)
		buf_printf(b, "%s:%u: ", n->label, n->seed_line);
	else
		buf_printf(b, "%s: ", n->label);
}

int graph_link(Graph *g, char **ret_err)
{
	Buf err = { 0 };

	for (size_t i = 0; i < g->n; i++) {
		g->v[i].dep = GRAPH_NONE;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(g->v[i].output, g->v[j].output) == 0) {
				buf_printf(&err, "%s: writes builds/%s, as %s does\n", g->v[i].label, g->v[i].output,
					   g->v[j].label);
				break;
			}
			if (strcmp(g->v[i].name, g->v[j].name) == 0) {
				buf_printf(&err, "%s: is build %s, as %s is (the same work directory, lock and log)\n",
					   g->v[i].label, g->v[i].name, g->v[j].label);
				break;
			}
		}
	}
	for (size_t i = 0; i < g->n; i++) {
		GraphNode *n = &g->v[i];
		for (size_t j = 0; j < g->n; j++) {
			if (!graph_seed_matches(n->seed, g->v[j].output))
				continue;
			if (n->dep != GRAPH_NONE) {
				where(&err, n);
				buf_printf(&err, "source_subpath '%s' matches the outputs of %s and %s: ambiguous\n",
					   n->seed, g->v[n->dep].label, g->v[j].label);
				break;
			}
			n->dep = j;
		}
	}
	/* Cycles: from each node, follow its chain at most N steps. */
	for (size_t i = 0; i < g->n; i++) {
		size_t k = g->v[i].dep, steps = 0;
		bool smallest = true;
		while (k != GRAPH_NONE && k != i && steps++ < g->n)
			k = g->v[k].dep;
		if (k != i)
			continue;
		/* Report each cycle once: from its first node. */
		for (k = g->v[i].dep; k != i; k = g->v[k].dep)
			if (k < i)
				smallest = false;
		if (!smallest)
			continue;
		where(&err, &g->v[i]);
		buf_printf(&err, "a cycle: %s", g->v[i].name);
		k = i;
		do {
			k = g->v[k].dep;
			buf_printf(&err, " <- %s", g->v[k].name);
		} while (k != i);
		buf_puts(&err, " (each built from the next one's output)\n");
	}
	if (err.len) {
		err.data[--err.len] = '\0';
		*ret_err = buf_steal(&err);
		return -EINVAL;
	}
	buf_done(&err);
	return 0;
}

size_t graph_next_ready(const Graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].state == GRAPH_WAITING &&
		    (g->v[i].dep == GRAPH_NONE || g->v[g->v[i].dep].state == GRAPH_DONE))
			return i;
	return GRAPH_NONE;
}

void graph_finish(Graph *g, size_t i, bool ok, const char *why)
{
	bool changed = true;

	g->v[i].state = ok ? GRAPH_DONE : GRAPH_FAILED;
	if (ok)
		return;
	free(g->v[i].reason);
	g->v[i].reason = why ? xstrdup(why) : NULL;
	/* Dependents, directly or not, until nothing changes. */
	while (changed) {
		changed = false;
		for (size_t j = 0; j < g->n; j++) {
			GraphNode *n = &g->v[j];
			if (n->state != GRAPH_WAITING || n->dep == GRAPH_NONE)
				continue;
			if (g->v[n->dep].state != GRAPH_FAILED && g->v[n->dep].state != GRAPH_SKIPPED)
				continue;
			n->state = GRAPH_SKIPPED;
			free(n->reason);
			n->reason = g->v[n->dep].state == GRAPH_FAILED
					    ? xasprintf("its seed's build %s failed", g->v[n->dep].name)
					    : xasprintf("its seed's build %s was skipped", g->v[n->dep].name);
			changed = true;
		}
	}
}

void graph_skip_waiting(Graph *g, const char *why)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].state == GRAPH_WAITING) {
			g->v[i].state = GRAPH_SKIPPED;
			free(g->v[i].reason);
			g->v[i].reason = xstrdup(why);
		}
}

bool graph_unfinished(const Graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].state == GRAPH_WAITING || g->v[i].state == GRAPH_RUNNING)
			return true;
	return false;
}

/* Depth of node I: how many builds come before it in its chain. */
static size_t depth(const Graph *g, size_t i)
{
	size_t d = 0;

	for (size_t k = g->v[i].dep; k != GRAPH_NONE && d <= g->n; k = g->v[k].dep)
		d++;
	return d;
}

size_t *graph_order(const Graph *g)
{
	size_t *o = xcalloc(g->n ? g->n : 1, sizeof(size_t)), k = 0;

	/* By depth, then as added: each after its dependency. */
	for (size_t d = 0; k < g->n && d <= g->n; d++)
		for (size_t i = 0; i < g->n; i++)
			if (depth(g, i) == d)
				o[k++] = i;
	return o;
}

const char *graph_state_name(GraphState s)
{
	static const char *const names[] = {
		[GRAPH_WAITING] = "waiting", [GRAPH_RUNNING] = "running", [GRAPH_DONE] = "done",
		[GRAPH_FAILED] = "failed",   [GRAPH_SKIPPED] = "skipped",
	};
	return names[s];
}

void graph_done(Graph *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].name);
		free(g->v[i].output);
		free(g->v[i].seed);
		free(g->v[i].label);
		free(g->v[i].reason);
	}
	free(g->v);
	*g = (Graph) { 0 };
}
