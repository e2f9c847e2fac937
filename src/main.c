// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - the command line: global options, dispatch, messages and exit
 * statuses.  The only file that prints to the user and calls exit().
 */
#include "config.h"
#include "util.h"
#include "main.h"
#include "spec.h"
#include "store.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "build-config.h"

/* getopt letters of the catalyst aliases below (each takes an argument). */
#define ALIAS_OPTS "f:s:S:"

/* Global options (DESIGN.md §5). */
static char **arg_configs;
static size_t arg_n_configs, arg_cap_configs;
static const char *arg_storedir;
static long arg_lock_timeout = -1; /* seconds; -1: not given */
bool arg_json;
int arg_verbose;
bool arg_quiet;

void log_error(const char *fmt, ...)
{
	va_list ap;

	fputs("zeolite: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (arg_quiet)
		return;
	fputs("zeolite: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("zeolite: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'zeolite --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

int print_diags(const Diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].warning)
			fprintf(stderr, "zeolite: warning: %s\n", d->v[i].msg);
		else
			fprintf(stderr, "zeolite: %s\n", d->v[i].msg);
	}
	return d->n_errors ? EXIT_DATAERR : EXIT_OK;
}

int load_config(Config *c)
{
	Diags d = { 0 };
	int r;

	config_init(c);
	if (arg_n_configs == 0) {
		r = config_load(c, CONFIG_DEFAULT_PATH, &d);
		if (r == -ENOENT)
			r = 0;
	} else {
		r = 0;
		for (size_t i = 0; i < arg_n_configs && r >= 0; i++) {
			r = config_load(c, arg_configs[i], &d);
			if (r < 0 && d.n_errors == 0)
				diags_add(&d, false, "%s: cannot read config file: %s", arg_configs[i],
					  strerror(-r));
		}
	}
	if (r >= 0)
		r = config_finish(c, &d);
	if (print_diags(&d) != EXIT_OK || r < 0) {
		diags_done(&d);
		return EXIT_DATAERR;
	}
	diags_done(&d);
	if (arg_storedir) {
		free(c->storedir);
		c->storedir = xstrdup(arg_storedir);
	}
	return EXIT_OK;
}

unsigned long effective_lock_timeout(const Config *c, const Spec *spec)
{
	unsigned long v;

	if (arg_lock_timeout >= 0)
		return (unsigned long) arg_lock_timeout;
	if (spec) {
		const char *s = spec_get_string(spec, "lock_timeout");
		if (s && parse_ulong(s, &v) == 0)
			return v;
	}
	return c->lock_timeout;
}

int open_store(const Config *c, Store *ret)
{
	_cleanup_free_ char *why = NULL;
	int r = store_open(c->storedir, ret, &why);

	if (r >= 0)
		return EXIT_OK;
	log_error("store '%s': %s", c->storedir, why ? why : strerror(-r));
	return r == -EPERM || r == -EINVAL ? EXIT_DATAERR : EXIT_FAIL;
}

int load_config_and_store(Config *c, Store *ret)
{
	int r = load_config(c);

	return r != EXIT_OK ? r : open_store(c, ret);
}

/* ---- zeolite check ---------------------------------------------------- */

static int cmd_check(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{}
	};
	_cleanup_(config_done) Config cfg = { 0 };
	int c, r, ret = EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: zeolite check [--json] SPEC...\n\n"
			       "Validate spec files against the config without touching the store.\n"
			       "Silent with exit status 0 when all are valid; each problem is printed\n"
			       "as FILE:LINE: and the exit status is 65 otherwise.\n\n"
			       "      --json   print each parsed spec as one JSON object per line\n");
			return EXIT_OK;
		case 'j':
			arg_json = true;
			break;
		default:
			return usage_error("check: bad option");
		}
	}
	if (optind >= argc)
		return usage_error("check: no spec file given");

	r = load_config(&cfg);
	if (r != EXIT_OK)
		return r;

	for (int i = optind; i < argc; i++) {
		_cleanup_(spec_done) Spec spec = { 0 };
		Diags d = { 0 };

		/* Keys are validated once the syntax is right: a half-parsed
		 * file would give "missing key" errors that are not true. */
		if (spec_load(argv[i], &spec, &d) >= 0)
			(void) spec_validate(&spec, &d);
		if (print_diags(&d) != EXIT_OK)
			ret = EXIT_DATAERR;
		else if (arg_json) {
			Buf b = { 0 };
			spec_to_json(&spec, &b);
			puts(b.data ? b.data : "{}");
			buf_done(&b);
		}
		diags_done(&d);
	}
	return ret;
}

/* ---- dispatch --------------------------------------------------------- */

typedef struct Command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} Command;

static const Command commands[] = {
	{ "build", cmd_build, "build the stage a spec describes (catalyst -f)" },
	{ "check", cmd_check, "validate spec files (silent when valid)" },
	{ "snapshot", cmd_snapshot, "make a snapshot of an ebuild repository (catalyst -s)" },
	{ "prepare", cmd_prepare, "make a snapshot's unpacked tree ready in the cache (catalyst -S)" },
	{ "status", cmd_status, "list snapshots, cache entries and who uses them" },
	{ "gc", cmd_gc, "remove cache entries nobody uses" },
};

/* catalyst's short options, mapped to commands once those exist. */
static const struct {
	char opt;
	const char *command;
	const char *help;
} aliases[] = {
	{ 'f', "build", "SPEC       same as: build SPEC" },
	{ 's', "snapshot", "TREEISH    same as: snapshot TREEISH" },
	{ 'S', "prepare", "SNAPSHOT   same as: prepare SNAPSHOT" },
};

static bool command_alias(int c, const char **ret)
{
	for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
		if (aliases[i].opt == c) {
			*ret = aliases[i].command;
			return true;
		}
	return false;
}

static void help(void)
{
	printf("Usage: zeolite [OPTIONS] COMMAND [ARGS...]\n\n"
	       "A stage builder for Gentoo-style release engineering, with a snapshot\n"
	       "cache shared safely by many concurrent builds.\n\nCommands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\nOptions:\n"
	       "  -c, --config FILE         read FILE (catalyst.conf's TOML shape); may be\n"
	       "                            repeated, later files override earlier ones\n"
	       "                            (default " CONFIG_DEFAULT_PATH ")\n"
	       "      --storedir DIR        the store (default " CONFIG_DEFAULT_STOREDIR ")\n"
	       "      --lock-timeout SECS   give up waiting for a busy lock after SECS\n"
	       "                            (0: do not wait; default %lu)\n"
	       "      --json                machine-readable output\n"
	       "  -v, --verbose             say more\n"
	       "  -q, --quiet               say less\n"
	       "  -h, --help                show this help\n"
	       "  -V, --version             show the version\n"
	       "\nExit status: 0 success, 1 a build or step failed, 64 usage error,\n"
	       "65 bad input (spec, config, archive, store), 75 gave up waiting for a lock.\n"
	       "See zeolite(1) and zeolite-spec(5).\n",
	       CONFIG_DEFAULT_LOCK_TIMEOUT);
	printf("\ncatalyst's options are accepted as aliases:\n");
	for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
		printf("  -%c %s\n", aliases[i].opt, aliases[i].help);
}

static const Command *find_command(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void free_configs(void)
{
	free(arg_configs);
}

int main(int argc, char **argv)
{
	enum { OPT_STOREDIR = CHAR_MAX + 1, OPT_LOCK_TIMEOUT, OPT_JSON };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "config", required_argument, NULL, 'c' },
		{ "storedir", required_argument, NULL, OPT_STOREDIR },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{}
	};
	const char *alias = NULL;
	const Command *cmd;
	unsigned long v;
	int c;

	atexit(free_configs);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hVc:vq" ALIAS_OPTS, options, NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			return EXIT_OK;
		case 'V':
			printf("%s\n", PACKAGE_STRING);
			return EXIT_OK;
		case 'c':
			xgrow(&arg_configs, &arg_cap_configs, arg_n_configs + 1, sizeof(char *));
			arg_configs[arg_n_configs++] = optarg;
			break;
		case OPT_STOREDIR:
			arg_storedir = optarg;
			break;
		case OPT_LOCK_TIMEOUT:
			if (parse_ulong(optarg, &v) < 0 || v > INT_MAX / 1000)
				return usage_error("--lock-timeout: '%s' is not a number of seconds", optarg);
			arg_lock_timeout = (long) v;
			break;
		case OPT_JSON:
			arg_json = true;
			break;
		case 'v':
			arg_verbose++;
			break;
		case 'q':
			arg_quiet = true;
			break;
		case '?':
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (command_alias(c, &alias))
				goto dispatch_alias;
			return usage_error("unknown option");
		}
	}

	if (optind >= argc)
		return usage_error("no command given");
	cmd = find_command(argv[optind]);
	if (!cmd)
		return usage_error("unknown command '%s'", argv[optind]);
	return cmd->run(argc - optind, argv + optind);

dispatch_alias:
	/* catalyst habits: -f SPEC, -s TREEISH, -S SNAPSHOT.  The alias's
	 * argument becomes the command's first operand; remaining arguments
	 * follow it. */
	{
		cmd = find_command(alias);
		int n = argc - optind + 2;
		char **nv = xcalloc((size_t) n + 1, sizeof(char *));
		int r;

		nv[0] = (char *) alias;
		nv[1] = optarg;
		for (int i = optind; i < argc; i++)
			nv[i - optind + 2] = argv[i];
		r = cmd->run(n, nv);
		free(nv);
		return r;
	}
}
