// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * build-jobs.c - many builds at once over their dependency graph
 * (build-jobs.h).
 *
 * The parent is one poll(2) loop over: a self-pipe written by its SIGCHLD
 * handler, and each running build's output pipe.  A build ends when
 * waitpid() reaps it; what is left in its pipe is read then (without
 * waiting for processes it may have left holding the pipe).
 */
#include "build-jobs.h"
#include "fs.h"
#include "jobserver.h"
#include "json.h"
#include "log.h"
#include "main.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- checking --------------------------------------------------------- */

void build_graph_done(int n, Graph *g, Spec *specs, Plan *plans)
{
	for (int i = 0; plans && i < n; i++)
		plan_done(&plans[i]);
	for (int i = 0; specs && i < n; i++)
		spec_done(&specs[i]);
	free(plans);
	free(specs);
	graph_done(g);
}

int build_graph_load(const char *cmd, const Config *cfg, const Store *st, int n, char **paths, Graph *g,
		     Spec **ret_specs, Plan **ret_plans)
{
	Spec *specs = xcalloc((size_t) n, sizeof(Spec));
	Plan *plans = xcalloc((size_t) n, sizeof(Plan));
	_cleanup_free_ char *gerr = NULL;
	int bad = 0;

	*ret_specs = specs;
	*ret_plans = plans;
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *err = NULL, *out = NULL;
		Diags d = { 0 };
		int r = spec_load(paths[i], &specs[i], &d);
		if (r >= 0)
			r = spec_validate(&specs[i], &d);
		if (print_diags(&d) != EXIT_OK || r < 0) {
			diags_done(&d);
			bad++;
			continue;
		}
		diags_done(&d);
		r = plan_make_pending_seed(cfg, st, &specs[i], paths[i], &plans[i], &err);
		if (r < 0) {
			log_error("%s: %s", cmd, err);
			bad++;
			continue;
		}
		out = xasprintf("%s/%s", plans[i].rel_type, plans[i].out_name);
		graph_add(g, plans[i].name, out, spec_get_string(&specs[i], "source_subpath"), paths[i],
			  spec_get(&specs[i], "source_subpath") ? spec_get(&specs[i], "source_subpath")->line : 0);
	}
	if (bad) {
		log_error("%s: %d of %d specs are not valid; nothing was done", cmd, bad, n);
		return EXIT_DATAERR;
	}
	if (graph_link(g, &gerr) < 0) {
		for (char *s = gerr, *e; s && *s; s = e) {
			e = strchr(s, '\n');
			if (e)
				*e++ = '\0';
			log_error("%s: %s", cmd, s);
		}
		log_error("%s: the specs do not make a graph of builds; nothing was done", cmd);
		return EXIT_DATAERR;
	}
	/* A seed from outside the set must exist now, as for a plain build. */
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *err = NULL;
		if (g->v[i].dep != GRAPH_NONE)
			continue;
		plan_done(&plans[i]);
		if (plan_make(cfg, st, &specs[i], paths[i], &plans[i], &err) < 0) {
			log_error("%s: %s", cmd, err);
			bad++;
		}
	}
	if (bad) {
		log_error("%s: %d of %d specs are not valid; nothing was done", cmd, bad, n);
		return EXIT_DATAERR;
	}
	return EXIT_OK;
}

/* ---- running ---------------------------------------------------------- */

typedef struct Job {
	pid_t pid;
	int out_fd;          /* the child's stdout and stderr, or -1 */
	Buf line;            /* a partial line */
	char *last_error;    /* the child's last "zeolite: " line */
	int64_t start_ms, end_ms;
	int status;          /* wait status */
	JobserverSlot *slot; /* its FIFO, or NULL */
} Job;

static int sigchld_pipe[2] = { -1, -1 };

static void on_sigchld(int sig)
{
	int saved = errno;

	(void) sig;
	(void) !write(sigchld_pipe[1], "x", 1);
	errno = saved;
}

static void job_line(const GraphNode *n, Job *j, const char *s, size_t len)
{
	fprintf(stderr, "[%s] %.*s\n", n->name, (int) len, s);
	if (len > 9 && memcmp(s, "zeolite: ", 9) == 0) {
		free(j->last_error);
		j->last_error = xstrndup(s + 9, len - 9);
	}
}

/* Read what the pipe has now; at EOF (or with FINAL, when nothing more is
 * there) close it and flush the partial line. */
static void job_read(const GraphNode *n, Job *j, bool final)
{
	char buf[8192];

	while (j->out_fd >= 0) {
		ssize_t k = read(j->out_fd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN && !final)
			return;
		if (k <= 0) {
			close(j->out_fd);
			j->out_fd = -1;
			break;
		}
		buf_put(&j->line, buf, (size_t) k);
		for (char *nl; j->line.len && (nl = memchr(j->line.data, '\n', j->line.len));) {
			size_t len = (size_t) (nl - j->line.data);
			job_line(n, j, j->line.data, len);
			memmove(j->line.data, nl + 1, j->line.len - len - 1);
			j->line.len -= len + 1;
			j->line.data[j->line.len] = '\0';
		}
	}
	if (j->line.len) {
		job_line(n, j, j->line.data, j->line.len);
		j->line.len = 0;
	}
	fflush(stderr);
}

static int job_start(const Graph *g, size_t i, Job *jobs, Jobserver *js, const BuildJobsOptions *o)
{
	Job *j = &jobs[i];
	int p[2];
	pid_t pid;

	if (js) {
		int r = jobserver_slot_new(js, g->v[i].name, &j->slot);
		if (r < 0) {
			log_error("build %s: jobserver: %s", g->v[i].name, strerror(-r));
			return r;
		}
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	j->start_ms = now_ms();
	pid_t parent = getpid();
	pid = fork();
	if (pid < 0) {
		int r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = SIG_DFL };
		/* zeolite killed: its builds go with it (their sandboxes follow). */
		(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(EXIT_FAIL);
		(void) sigaction(SIGCHLD, &sa, NULL);
		close(sigchld_pipe[0]);
		close(sigchld_pipe[1]);
		for (size_t k = 0; k < g->n; k++)
			if (jobs[k].out_fd >= 0)
				close(jobs[k].out_fd);
		close(p[0]);
		if (dup2(p[1], STDOUT_FILENO) < 0 || dup2(p[1], STDERR_FILENO) < 0)
			_exit(EXIT_FAIL);
		close(p[1]);
		if (js)
			jobserver_child(js);
		int r = o->run(o->userdata, g->v[i].label, j->slot ? jobserver_slot_path(j->slot) : NULL);
		fflush(stdout);
		fflush(stderr);
		_exit(r);
	}
	close(p[1]);
	(void) fcntl(p[0], F_SETFL, O_NONBLOCK);
	j->pid = pid;
	j->out_fd = p[0];
	return 0;
}

static const char *fmt_duration(char *buf, size_t size, const Job *j, GraphState s)
{
	if (s == GRAPH_SKIPPED || s == GRAPH_WAITING)
		return "-";
	snprintf(buf, size, "%.1f s", (double) (j->end_ms - j->start_ms) / 1000.0);
	return buf;
}

/* --json: the table as one JSON document (docs/many-builds.md). */
static void print_json(const Graph *g, const Job *jobs, const Plan *plans)
{
	Buf b = { 0 };

	buf_puts(&b, "{\"builds\":[");
	for (size_t i = 0; i < g->n; i++) {
		const GraphNode *n = &g->v[i];
		_cleanup_free_ char *out = xasprintf("%s/%s", plans[i].out_dir, plans[i].out_name);
		if (i)
			buf_putc(&b, ',');
		buf_puts(&b, "{\"name\":");
		buf_put_json_string(&b, n->name);
		buf_puts(&b, ",\"spec\":");
		buf_put_json_string(&b, n->label);
		buf_puts(&b, ",\"result\":");
		buf_put_json_string(&b, graph_state_name(n->state));
		if (n->state == GRAPH_DONE || n->state == GRAPH_FAILED)
			buf_printf(&b, ",\"duration_s\":%.1f", (double) (jobs[i].end_ms - jobs[i].start_ms) / 1000.0);
		if (n->state == GRAPH_DONE) {
			buf_puts(&b, ",\"output\":");
			buf_put_json_string(&b, out);
		} else if (n->reason) {
			buf_puts(&b, ",\"reason\":");
			buf_put_json_string(&b, n->reason);
		}
		buf_puts(&b, ",\"log\":");
		buf_put_json_string(&b, plans[i].log);
		buf_putc(&b, '}');
	}
	buf_puts(&b, "]}");
	printf("%s\n", b.data);
	buf_done(&b);
	fflush(stdout);
}

static void print_table(const Graph *g, const Job *jobs, const Plan *plans)
{
	if (arg_json) {
		print_json(g, jobs, plans);
		json_failure_reported();
		return;
	}
	int w = (int) strlen("BUILD");

	for (size_t i = 0; i < g->n; i++)
		if ((int) strlen(g->v[i].name) > w)
			w = (int) strlen(g->v[i].name);
	printf("%-*s  %-7s  %9s  %s\n", w, "BUILD", "RESULT", "DURATION", "OUTPUT, OR WHAT FAILED");
	for (size_t i = 0; i < g->n; i++) {
		const GraphNode *n = &g->v[i];
		char d[32];
		printf("%-*s  %-7s  %9s  ", w, n->name, graph_state_name(n->state),
		       fmt_duration(d, sizeof(d), &jobs[i], n->state));
		if (n->state == GRAPH_DONE)
			printf("%s/%s\n", plans[i].out_dir, plans[i].out_name);
		else if (n->state == GRAPH_FAILED) {
			/* A step's failure names its run's log already (build-log.h);
			 * otherwise the -latest link of the build's logs. */
			bool named = n->reason && strstr(n->reason, "(log: ");
			printf("%s%s%s%s\n", n->reason ? n->reason : "failed", named ? "" : " (log: ",
			       named ? "" : plans[i].log, named ? "" : ")");
		} else
			printf("%s\n", n->reason ? n->reason : "");
	}
	fflush(stdout);
}

/* Why job J failed, from its wait status and last message. */
static char *failure_reason(const GraphNode *n, const Job *j)
{
	_cleanup_free_ char *prefix = xasprintf("build %s: ", n->name);

	if (WIFSIGNALED(j->status))
		return xasprintf("killed by signal %d", WTERMSIG(j->status));
	if (j->last_error) {
		const char *s = j->last_error;
		if (strncmp(s, prefix, strlen(prefix)) == 0)
			s += strlen(prefix);
		else if (strncmp(s, "build: ", 7) == 0)
			s += 7;
		return xasprintf("%s", s);
	}
	return xasprintf("exit status %d", WEXITSTATUS(j->status));
}

static int run_graph(Graph *g, const Plan *plans, Jobserver *js, const BuildJobsOptions *o)
{
	Job *jobs = xcalloc(g->n, sizeof(Job));
	struct pollfd *pfd = xcalloc(g->n + 1, sizeof(struct pollfd));
	struct sigaction sa = { .sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP }, old_sa;
	unsigned running = 0;
	bool stop = false;
	int ret = EXIT_OK;

	for (size_t i = 0; i < g->n; i++)
		jobs[i].out_fd = -1;
	if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("build: pipe: %m");
		free(jobs);
		free(pfd);
		return EXIT_FAIL;
	}
	sigemptyset(&sa.sa_mask);
	(void) sigaction(SIGCHLD, &sa, &old_sa);

	while (graph_unfinished(g)) {
		size_t i, np = 0;
		while (!stop && running < o->jobs && (i = graph_next_ready(g)) != GRAPH_NONE) {
			int r = job_start(g, i, jobs, js, o);
			g->v[i].state = GRAPH_RUNNING;
			if (r < 0) {
				_cleanup_free_ char *why = xasprintf("could not start: %s", strerror(-r));
				jobs[i].start_ms = jobs[i].end_ms = now_ms();
				graph_finish(g, i, false, why);
				if (ret == EXIT_OK)
					ret = EXIT_FAIL;
				continue;
			}
			log_info("build %s: started (pid %ld, %u of at most %u running)", g->v[i].name, (long) jobs[i].pid,
				 running + 1, o->jobs);
			running++;
		}
		if (running == 0)
			break; /* nothing can start: all skipped or stopped */
		pfd[np++] = (struct pollfd) { .fd = sigchld_pipe[0], .events = POLLIN };
		for (size_t k = 0; k < g->n; k++)
			if (jobs[k].out_fd >= 0)
				pfd[np++] = (struct pollfd) { .fd = jobs[k].out_fd, .events = POLLIN };
		if (poll(pfd, np, js ? jobserver_tick_ms(js) : -1) < 0 && errno != EINTR) {
			log_error("build: poll: %m");
			ret = EXIT_FAIL;
			break;
		}
		for (size_t k = 0; k < g->n; k++)
			if (jobs[k].out_fd >= 0)
				job_read(&g->v[k], &jobs[k], false);
		{
			char b[64];
			while (read(sigchld_pipe[0], b, sizeof(b)) > 0)
				;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			for (size_t k = 0; k < g->n; k++) {
				Job *j = &jobs[k];
				if (j->pid != pid || g->v[k].state != GRAPH_RUNNING)
					continue;
				j->status = status;
				j->end_ms = now_ms();
				job_read(&g->v[k], j, true);
				running--;
				if (j->slot) {
					unsigned held_back = 0, lost = 0;
					jobserver_slot_end(js, &j->slot, &held_back, &lost);
					log_info("build %s: jobserver: %u token(s) back to the pool: %u from its FIFO, "
						 "%u lost with its processes",
						 g->v[k].name, held_back + lost, held_back, lost);
				}
				bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
				_cleanup_free_ char *why = ok ? NULL : failure_reason(&g->v[k], j);
				graph_finish(g, k, ok, why);
				if (ok)
					log_info("build %s: done", g->v[k].name);
				else {
					log_error("build %s: failed: %s", g->v[k].name, why);
					if (ret == EXIT_OK)
						ret = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_FAIL;
					if (o->fail_fast && !stop) {
						_cleanup_free_ char *w = xasprintf("--fail-fast: %s failed", g->v[k].name);
						stop = true;
						graph_skip_waiting(g, w);
					}
				}
			}
		}
		if (js)
			jobserver_balance(js);
	}
	(void) sigaction(SIGCHLD, &old_sa, NULL);
	close(sigchld_pipe[0]);
	close(sigchld_pipe[1]);
	sigchld_pipe[0] = sigchld_pipe[1] = -1;
	print_table(g, jobs, plans);
	for (size_t i = 0; i < g->n; i++) {
		buf_done(&jobs[i].line);
		free(jobs[i].last_error);
		if (jobs[i].out_fd >= 0)
			close(jobs[i].out_fd);
	}
	free(jobs);
	free(pfd);
	return ret;
}

int build_jobs(const Config *cfg, const Store *st, int n, char **paths, const BuildJobsOptions *o)
{
	Graph g = { 0 };
	Spec *specs = NULL;
	Plan *plans = NULL;
	Jobserver *js = NULL;
	int ret;

	ret = build_graph_load("build", cfg, st, n, paths, &g, &specs, &plans);
	if (ret != EXIT_OK)
		goto out;
	if (o->dry_run) {
		size_t *order = graph_order(&g);
		for (size_t k = 0; k < g.n; k++) {
			size_t i = order[k];
			if (g.v[i].dep != GRAPH_NONE && !arg_json)
				printf("# after %s (the build that makes its seed)\n", g.v[g.v[i].dep].name);
			if (arg_json) {
				Buf j = { 0 };
				plan_to_json(&plans[i], &j);
				printf("%s\n", j.data);
				buf_done(&j);
				continue;
			}
			plan_print_text(&plans[i], stdout);
		}
		free(order);
		goto out;
	}
	if (!cfg->jobserver_fifo) {
		_cleanup_free_ char *err = NULL;
		if (jobserver_new(st, cfg->jobs > 0 ? (unsigned) cfg->jobs : o->jobs, &js, &err) < 0) {
			log_error("build: jobserver: %s", err);
			ret = EXIT_FAIL;
			goto out;
		}
	}
	if (js)
		log_info("jobserver: %u tokens for the run (%s)", jobserver_tokens(js), jobserver_dir(js));
	ret = run_graph(&g, plans, js, o);
	if (js)
		log_info("jobserver: %u of %u tokens in the pool", jobserver_pool(js), jobserver_tokens(js));
	jobserver_free(js);
out:
	build_graph_done(n, &g, specs, plans);
	return ret;
}
