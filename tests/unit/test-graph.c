// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for graph.c: edges by the seed rule, refusals, order,
 * failure propagation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static void test_seed_rule(void **state)
{
	(void) state;
	assert_true(graph_seed_matches("r/stage1-a-1", "r/stage1-a-1.tar.xz"));
	assert_true(graph_seed_matches("r/stage1-a-1.tar.xz", "r/stage1-a-1.tar.xz"));
	assert_false(graph_seed_matches("r/stage1-a-1", "r/stage1-a-10.tar.xz"));
	assert_false(graph_seed_matches("r/stage1-a-1", "r/stage1-a-1.CONTENTS.gz"));
	assert_false(graph_seed_matches("r/stage1-a-1", "r/stage1-a-1.DIGESTS"));
	assert_false(graph_seed_matches("r/stage1-a-1", "r/stage1-a-1."));
	assert_false(graph_seed_matches("q/stage1-a-1", "r/stage1-a-1.tar.xz"));
}

/* stage1 -> stage3 -> stage4, an independent stage3, in a mixed order. */
static void chain(Graph *g)
{
	graph_add(g, "stage4-a-1", "r/stage4-a-1.tar.xz", "r/stage3-a-1", "s4.spec", 3);
	graph_add(g, "stage3-a-1", "r/stage3-a-1.tar.xz", "r/stage1-a-1", "s3.spec", 3);
	graph_add(g, "stage1-a-1", "r/stage1-a-1.tar.xz", "r/seed-latest", "s1.spec", 3);
	graph_add(g, "stage3-b-1", "r/stage3-b-1.tar.xz", "r/seed-latest", "b3.spec", 3);
}

static void test_order_and_run(void **state)
{
	Graph g = { 0 };
	char *err = NULL;
	size_t *o, i;

	(void) state;
	chain(&g);
	assert_int_equal(graph_link(&g, &err), 0);
	assert_null(err);
	assert_int_equal(g.v[0].dep, 1);
	assert_int_equal(g.v[1].dep, 2);
	assert_int_equal(g.v[2].dep, GRAPH_NONE);
	o = graph_order(&g);
	assert_int_equal(o[0], 2);
	assert_int_equal(o[1], 3);
	assert_int_equal(o[2], 1);
	assert_int_equal(o[3], 0);
	free(o);
	/* Ready: stage1 and the independent stage3 only. */
	i = graph_next_ready(&g);
	assert_int_equal(i, 2);
	g.v[i].state = GRAPH_RUNNING;
	i = graph_next_ready(&g);
	assert_int_equal(i, 3);
	g.v[i].state = GRAPH_RUNNING;
	assert_int_equal(graph_next_ready(&g), GRAPH_NONE);
	graph_finish(&g, 2, true, NULL);
	assert_int_equal(graph_next_ready(&g), 1);
	g.v[1].state = GRAPH_RUNNING;
	graph_finish(&g, 1, true, NULL);
	assert_int_equal(graph_next_ready(&g), 0);
	g.v[0].state = GRAPH_RUNNING;
	graph_finish(&g, 0, true, NULL);
	assert_true(graph_unfinished(&g));
	graph_finish(&g, 3, true, NULL);
	assert_false(graph_unfinished(&g));
	graph_done(&g);
}

static void test_failure_propagates(void **state)
{
	Graph g = { 0 };
	char *err = NULL;

	(void) state;
	chain(&g);
	assert_int_equal(graph_link(&g, &err), 0);
	g.v[2].state = GRAPH_RUNNING;
	graph_finish(&g, 2, false, "step 'build' failed");
	assert_int_equal(g.v[2].state, GRAPH_FAILED);
	assert_string_equal(g.v[2].reason, "step 'build' failed");
	assert_int_equal(g.v[1].state, GRAPH_SKIPPED);
	assert_string_equal(g.v[1].reason, "its seed's build stage1-a-1 failed");
	assert_int_equal(g.v[0].state, GRAPH_SKIPPED);
	assert_string_equal(g.v[0].reason, "its seed's build stage3-a-1 was skipped");
	/* The independent one is untouched and still ready. */
	assert_int_equal(g.v[3].state, GRAPH_WAITING);
	assert_int_equal(graph_next_ready(&g), 3);
	graph_skip_waiting(&g, "--fail-fast");
	assert_int_equal(g.v[3].state, GRAPH_SKIPPED);
	assert_false(graph_unfinished(&g));
	graph_done(&g);
}

static void test_cycle(void **state)
{
	Graph g = { 0 };
	char *err = NULL;

	(void) state;
	graph_add(&g, "stage3-a-1", "r/stage3-a-1.tar.xz", "r/stage1-a-1", "s3.spec", 4);
	graph_add(&g, "stage1-a-1", "r/stage1-a-1.tar.xz", "r/stage3-a-1", "s1.spec", 5);
	graph_add(&g, "stage4-a-1", "r/stage4-a-1.tar.xz", "r/stage3-a-1", "s4.spec", 6);
	assert_int_equal(graph_link(&g, &err), -EINVAL);
	assert_string_equal(err, "s3.spec:4: a cycle: stage3-a-1 <- stage1-a-1 <- stage3-a-1 "
				 "(each built from the next one's output)");
	free(err);
	graph_done(&g);
	/* A spec that is its own seed. */
	graph_add(&g, "stage3-a-1", "r/stage3-a-1.tar.xz", "r/stage3-a-1", "s3.spec", 4);
	assert_int_equal(graph_link(&g, &err), -EINVAL);
	assert_non_null(strstr(err, "a cycle: stage3-a-1 <- stage3-a-1"));
	free(err);
	graph_done(&g);
}

static void test_duplicates(void **state)
{
	Graph g = { 0 };
	char *err = NULL;

	(void) state;
	graph_add(&g, "stage3-a-1", "r/stage3-a-1.tar.xz", "r/seed", "x.spec", 2);
	graph_add(&g, "stage3-a-1", "r/stage3-a-1.tar.xz", "r/seed", "y.spec", 2);
	assert_int_equal(graph_link(&g, &err), -EINVAL);
	assert_string_equal(err, "y.spec: writes builds/r/stage3-a-1.tar.xz, as x.spec does");
	free(err);
	graph_done(&g);
	/* Same name, other compression: the same work directory. */
	graph_add(&g, "stage3-a-1", "r/stage3-a-1.tar.xz", "r/seed", "x.spec", 2);
	graph_add(&g, "stage3-a-1", "r/stage3-a-1.tar.zst", "r/seed", "y.spec", 2);
	graph_add(&g, "stage4-a-1", "r/stage4-a-1.tar.xz", "r/stage3-a-1", "z.spec", 7);
	assert_int_equal(graph_link(&g, &err), -EINVAL);
	assert_non_null(strstr(err, "y.spec: is build stage3-a-1, as x.spec is"));
	assert_non_null(strstr(err, "z.spec:7: source_subpath 'r/stage3-a-1' matches the outputs of x.spec and "
				    "y.spec: ambiguous"));
	free(err);
	graph_done(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seed_rule),
		cmocka_unit_test(test_order_and_run),
		cmocka_unit_test(test_failure_propagates),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_duplicates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
