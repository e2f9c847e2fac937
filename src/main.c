// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - the command line: global options, dispatch, messages and exit
 * statuses.  The only file that prints to the user and calls exit().
 */
#include "build-log.h"
#include "config.h"
#include "json.h"
#include "progress.h"
#include "util.h"
#include "main.h"
#include "plan.h"
#include "spec.h"
#include "store.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"

/* getopt letters of the catalyst aliases below (each takes an argument). */
#define ALIAS_OPTS "f:s:S:"
/* catalyst's build flags, accepted before -f and handed to build. */
#define BUILD_FLAG_OPTS "apPTF"

/* Global options (DESIGN.md §5). */
static char **arg_configs;
static size_t arg_n_configs, arg_cap_configs;
static const char *arg_storedir;
static long arg_lock_timeout = -1; /* seconds; -1: not given */
bool arg_json;
int arg_verbose;
bool arg_quiet;
bool arg_catalyst_alias;

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

int command_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "zeolite: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'zeolite %s --help' for more information.\n", cmd);
	return EXIT_USAGE;
}

static bool log_level_explicit;

/* 'S' with every ' as '\'' (POSIX sh). */
static void buf_put_sh_word(Buf *b, const char *s)
{
	buf_putc(b, '\'');
	for (; *s; s++)
		if (*s == '\'')
			buf_puts(b, "'\\''");
		else
			buf_putc(b, *s);
	buf_putc(b, '\'');
}

void global_options_shell(Buf *b)
{
	for (size_t i = 0; i < arg_n_configs; i++) {
		_cleanup_free_ char *abs = realpath(arg_configs[i], NULL);
		buf_puts(b, " -c ");
		buf_put_sh_word(b, abs ? abs : arg_configs[i]);
	}
	if (arg_storedir) {
		_cleanup_free_ char *abs = realpath(arg_storedir, NULL);
		buf_puts(b, " --storedir ");
		buf_put_sh_word(b, abs ? abs : arg_storedir);
	}
	if (arg_lock_timeout >= 0)
		buf_printf(b, " --lock-timeout %ld", arg_lock_timeout);
}

/* The options every command takes (main.h).  Returns 0 when C was one and
 * was applied, 1 when C is not a global option, EXIT_USAGE (message
 * printed, for CMD or for zeolite itself when CMD is NULL) on a bad
 * argument. */
static int global_option(const char *cmd, int c, const char *arg)
{
	unsigned long v;
	LogLevel l;
	int r;

	switch (c) {
	case 'c':
		xgrow(&arg_configs, &arg_cap_configs, arg_n_configs + 1, sizeof(char *));
		arg_configs[arg_n_configs++] = (char *) arg;
		return 0;
	case OPT_GLOBAL_STOREDIR:
		arg_storedir = arg;
		return 0;
	case OPT_GLOBAL_LOCK_TIMEOUT:
		if (parse_ulong(arg, &v) < 0 || v > INT_MAX / 1000)
			return cmd ? command_usage_error(cmd, "--lock-timeout: '%s' is not a number of seconds", arg)
				   : usage_error("--lock-timeout: '%s' is not a number of seconds", arg);
		arg_lock_timeout = (long) v;
		return 0;
	case 'd':
		if (!log_level_explicit)
			log_set_level(LOG_LEVEL_DEBUG);
		return 0;
	case 'v':
		/* -v: the scripts' output on stderr; -vv: debug messages too. */
		arg_verbose++;
		if (arg_verbose >= 2 && !log_level_explicit)
			log_set_level(LOG_LEVEL_DEBUG);
		return 0;
	case 'q':
		arg_quiet = true;
		if (!log_level_explicit && log_get_level() > LOG_LEVEL_WARNING)
			log_set_level(LOG_LEVEL_WARNING);
		return 0;
	case 'V':
		printf("%s\n", PACKAGE_STRING);
		exit(EXIT_OK);
	case OPT_GLOBAL_LOG_LEVEL:
		if (log_level_from_string(arg, &l) < 0)
			return cmd ? command_usage_error(cmd, "--log-level: '%s' is not one of critical, error, "
						     "warning, notice, info, debug", arg)
				   : usage_error("--log-level: '%s' is not one of critical, error, warning, "
						 "notice, info, debug", arg);
		log_set_level(l);
		log_level_explicit = true;
		return 0;
	case OPT_GLOBAL_LOG_FILE:
		r = log_set_file(arg);
		if (r < 0) {
			fprintf(stderr, "zeolite: --log-file '%s': %s\n", arg, strerror(-r));
			exit(EXIT_FAIL);
		}
		return 0;
	case OPT_GLOBAL_COLOR:
		log_set_color(1);
		return 0;
	case OPT_GLOBAL_NOCOLOR:
		log_set_color(0);
		return 0;
	case OPT_GLOBAL_TRACE:
	case OPT_GLOBAL_PROFILE: {
		const char *o = c == OPT_GLOBAL_TRACE ? "--trace" : "--profile";
		return cmd ? command_usage_error(cmd, "%s is a developer option of catalyst's Python; zeolite "
						 "has none like it (nothing was done)", o)
			   : usage_error("%s is a developer option of catalyst's Python; zeolite has none like "
					 "it (nothing was done)", o);
	}
	case OPT_GLOBAL_VERSIONED_CACHEDIR:
		/* catalyst 4.1 parses it and never reads it: its effect is
		 * options = ["versioned_cache"] in catalyst.conf. */
		return cmd ? command_usage_error(cmd, "--versioned-cachedir is not supported; set options = "
						 "[\"versioned_cache\"] in the config (nothing was done)")
			   : usage_error("--versioned-cachedir is not supported; set options = "
					 "[\"versioned_cache\"] in the config (nothing was done)");
	case OPT_GLOBAL_UNVERSIONED_CACHEDIR:
		/* catalyst's default, and zeolite's (without versioned_cache). */
		return 0;
	default:
		return 1;
	}
}

/* The long option of LONGOPTS nearest to the mistyped "--WORD[=...]". */
static const char *option_hint(const char *what, const struct option *longopts)
{
	const char *names[128];
	size_t n = 0;
	char word[64];

	if (!longopts || strncmp(what, "--", 2) != 0)
		return NULL;
	snprintf(word, sizeof(word), "%.*s", (int) strcspn(what + 2, "="), what + 2);
	for (const struct option *o = longopts; o->name && n < ELEMENTSOF(names); o++)
		names[n++] = o->name;
	return spec_did_you_mean(word, names, n);
}

static int bad_option(const char *cmd, char **argv, const struct option *longopts)
{
	char shortopt[3] = { '-', (char) optopt, 0 };
	const char *what = optopt ? shortopt : argv[optind - 1];
	const char *hint = optopt ? NULL : option_hint(what, longopts);

	if (hint)
		return cmd ? command_usage_error(cmd, "unknown option '%s' (did you mean '--%s'?)", what, hint)
			   : usage_error("unknown option '%s' (did you mean '--%s'?)", what, hint);
	return cmd ? command_usage_error(cmd, "unknown option '%s'", what) : usage_error("unknown option '%s'", what);
}

static int missing_argument(const char *cmd, char **argv)
{
	char shortopt[3] = { '-', (char) optopt, 0 };
	const char *what = argv[optind - 1];

	/* "-l" clustered as "-xl": name the letter, not the cluster. */
	if (optopt && optopt < CHAR_MAX + 1 && !(what[0] == '-' && what[1] == '-'))
		what = shortopt;
	return cmd ? command_usage_error(cmd, "option '%s' needs an argument", what)
		   : usage_error("option '%s' needs an argument", what);
}

void command_getopt_reset(void)
{
	/* glibc only resets its internal state (the permutation, the
	 * position inside a cluster of short options) on optind = 0. */
	optind = 0;
	opterr = 0;
}

int command_getopt(int argc, char **argv, const char *cmd, const char *shortopts, const struct option *longopts)
{
	for (;;) {
		int c = getopt_long(argc, argv, shortopts, longopts, NULL);
		int r;

		if (c == -1)
			return -1;
		if (c == '?') {
			(void) bad_option(cmd, argv, longopts);
			return COMMAND_GETOPT_USAGE;
		}
		if (c == ':') {
			(void) missing_argument(cmd, argv);
			return COMMAND_GETOPT_USAGE;
		}
		r = global_option(cmd, c, optarg);
		if (r == 1)
			return c;
		if (r != 0)
			return COMMAND_GETOPT_USAGE;
	}
}

int print_diags(const Diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].warning)
			log_warning("warning: %s", d->v[i].msg);
		else
			log_error("%s", d->v[i].msg);
	}
	return d->n_errors ? EXIT_DATAERR : EXIT_OK;
}

int load_config(Config *c)
{
	bool unreadable = false;
	Diags d = { 0 };
	int r;

	if (arg_quiet && arg_verbose)
		return usage_error("-q and -v together: give one of them");
	if (arg_quiet)
		progress_disable();

	config_init(c);
	if (arg_n_configs == 0) {
		/* The search order (zeolite(1) FILES): /etc/zeolite/zeolite.conf,
		 * else catalyst's /etc/catalyst/catalyst.conf, whose storedir
		 * defaults to catalyst's /var/tmp/catalyst.  The test suite
		 * redirects /etc with ZEOLITE_TEST_SYSCONFDIR. */
		const char *etc = getenv("ZEOLITE_TEST_SYSCONFDIR");
		_cleanup_free_ char *zconf = xasprintf("%s/zeolite/zeolite.conf", etc ? etc : "/etc");
		_cleanup_free_ char *cconf = xasprintf("%s/catalyst/catalyst.conf", etc ? etc : "/etc");

		r = config_load(c, zconf, &d);
		if (r == -ENOENT && d.n_errors == 0) {
			free(c->storedir);
			c->storedir = xstrdup(CATALYST_DEFAULT_STOREDIR);
			r = config_load(c, cconf, &d);
			if (r == -ENOENT && d.n_errors == 0) {
				free(c->storedir);
				c->storedir = xstrdup(CONFIG_DEFAULT_STOREDIR);
				r = 0;
			}
		}
	} else {
		/* catalyst -c .../catalyst.conf (catalyst-auto's habit): a
		 * catalyst.conf that sets no storedir means catalyst's store. */
		for (size_t i = 0; i < arg_n_configs; i++) {
			const char *base = strrchr(arg_configs[i], '/');
			if (strcmp(base ? base + 1 : arg_configs[i], "catalyst.conf") == 0) {
				free(c->storedir);
				c->storedir = xstrdup(CATALYST_DEFAULT_STOREDIR);
			}
		}
		r = 0;
		for (size_t i = 0; i < arg_n_configs && r >= 0; i++) {
			r = config_load(c, arg_configs[i], &d);
			if (r < 0 && d.n_errors == 0) {
				diags_add(&d, false, "%s: cannot read config file: %s", arg_configs[i],
					  strerror(-r));
				unreadable = true;
			}
		}
	}
	/* --storedir before the %(storedir)s substitution, so that
	 * repos_storedir and the like follow it. */
	if (r >= 0 && arg_storedir) {
		free(c->storedir);
		c->storedir = xstrdup(arg_storedir);
	}
	if (r >= 0)
		r = config_finish(c, &d);
	if (print_diags(&d) != EXIT_OK || r < 0) {
		diags_done(&d);
		/* sysexits: a config file that is not there (or not readable)
		 * is missing input; one that is wrong is a config error. */
		return unreadable ? EXIT_NOINPUT : EXIT_CONFIG;
	}
	diags_done(&d);
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

/* What to do about a store store_open() refused (WHY names the path). */
static void store_hint(const char *path, const char *why, int r)
{
	if (r == -ENOENT)
		log_error("hint: check storedir (or --storedir); a store is made by the first build, "
			  "snapshot or prepare, run as root");
	else if (why && strstr(why, "is owned by uid"))
		log_error("hint: chown the store to the user who runs zeolite (chown -R %u '%s'), "
			  "or use --storedir DIR for a store of your own", (unsigned) geteuid(), path);
	else if (why && strstr(why, "writable by group or others"))
		log_error("hint: chmod go-w the directory named above, or use --storedir DIR");
	else if (why && strstr(why, "is a symlink"))
		log_error("hint: point storedir (or --storedir) at the real directory");
}

static int store_error(const Config *c, int r, const char *why)
{
	log_error("store '%s': %s", c->storedir, why ? why : strerror(-r));
	store_hint(c->storedir, why, r);
	switch (r) {
	case -EPERM:
	case -EINVAL:
		return EXIT_DATAERR;
	case -ENOENT:
		return EXIT_NOINPUT;
	case -EACCES:
	case -EROFS:
	case -ENOSPC:
	case -EDQUOT:
		return EXIT_CANTCREAT;
	default:
		return EXIT_IOERR;
	}
}

int open_store(const Config *c, Store *ret)
{
	_cleanup_free_ char *why = NULL;
	int r = store_open(c->storedir, ret, &why);

	return r >= 0 ? EXIT_OK : store_error(c, r, why);
}

int open_store_readonly(const Config *c, Store *ret)
{
	_cleanup_free_ char *why = NULL;
	int r = store_open_readonly(c->storedir, ret, &why);

	return r >= 0 ? EXIT_OK : store_error(c, r, why);
}

int load_config_and_store(Config *c, Store *ret)
{
	int r = load_config(c);

	return r != EXIT_OK ? r : open_store(c, ret);
}

int load_config_and_store_readonly(Config *c, Store *ret)
{
	int r = load_config(c);

	return r != EXIT_OK ? r : open_store_readonly(c, ret);
}

int require_root(const char *cmd)
{
	if (geteuid() == 0)
		return EXIT_OK;
	log_error("%s: needs root (stages keep their owners, and the store is root's); "
		  "nothing was done", cmd);
	log_error("hint: run it as root (sudo zeolite %s ...)%s", cmd,
		  strcmp(cmd, "build") == 0 ? ", or see the plan without root: zeolite build --dry-run" : "");
	return EXIT_NOPERM;
}

/* ---- zeolite check ---------------------------------------------------- */

static int cmd_check(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		GLOBAL_LONG_OPTIONS,
		{}
	};
	_cleanup_(config_done) Config cfg = { 0 };
	int c, r, ret = EXIT_OK;

	command_getopt_reset();
	while ((c = command_getopt(argc, argv, "check", COMMAND_SHORT_OPTS "h", options)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: zeolite check [--json] SPEC...\n\n"
			       "Validate spec files against the config without touching the store.\n"
			       "Silent with exit status 0 when all are valid; each problem is printed\n"
			       "as FILE:LINE: and the exit status is 65 otherwise.\n\n"
			       "      --json   print one JSON object per file, valid or not: file, ok,\n"
			       "               errors, warnings and the parsed spec (docs/json.md)\n");
			return EXIT_OK;
		case 'j':
			arg_json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return command_usage_error("check", "no spec file given");

	r = load_config(&cfg);
	if (r != EXIT_OK)
		return r;
	{
		/* The config's options too: none silently ignored (plan.h). */
		Diags od = { 0 };
		if (plan_check_options(&cfg, &od) < 0)
			ret = EXIT_DATAERR;
		print_diags(&od);
		diags_done(&od);
	}

	for (int i = optind; i < argc; i++) {
		_cleanup_(spec_done) Spec spec = { 0 };
		Diags d = { 0 };

		/* Keys are validated once the syntax is right: a half-parsed
		 * file would give "missing key" errors that are not true. */
		bool loaded = spec_load(argv[i], &spec, &d) >= 0;
		if (loaded)
			(void) spec_validate(&spec, &d);
		if (arg_json) {
			/* One object per file, valid or not (docs/json.md); the
			 * messages still go to stderr as well. */
			Buf b = { 0 };
			json_begin(&b);
			json_key_string(&b, "file", argv[i]);
			buf_printf(&b, ", \"ok\": %s", d.n_errors ? "false" : "true");
			json_diags(&b, &d, argv[i]);
			buf_puts(&b, ", \"spec\": ");
			if (loaded && !d.n_errors)
				spec_to_json(&spec, &b);
			else
				buf_puts(&b, "null");
			buf_putc(&b, '}');
			puts(b.data);
			buf_done(&b);
		}
		if (print_diags(&d) != EXIT_OK)
			ret = EXIT_DATAERR;
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
	{ "plan", cmd_plan, "print the graph of builds specs make (JSON, Makefile, Slurm script)" },
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
	{ 'f', "build", "-f, --file SPEC           same as: build SPEC" },
	{ 's', "snapshot", "-s, --snapshot TREEISH    same as: snapshot TREEISH (any git-treeish)" },
	{ 'S', "prepare", "-S SNAPSHOT               same as: prepare SNAPSHOT" },
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
	       "  -v, --verbose             the scripts' output on stderr too, terminal or not\n"
	       "  -q, --quiet               say less (--log-level warning; not with -v)\n"
	       "  -d, --debug               --log-level debug\n"
	       "      --log-level LEVEL     critical, error, warning, notice, info (default)\n"
	       "                            or debug\n"
	       "      --log-file FILE       messages to FILE instead of stderr (errors to both)\n"
	       "      --color, --nocolor    colour the level of errors and warnings always,\n"
	       "                            never (default: when stderr is a terminal)\n"
	       "  -h, --help                show this help\n"
	       "  -V, --version             show the version\n"
	       "\nExit status: 0 success, 1 a build or step failed, 64 usage error,\n"
	       "65 bad input (spec, archive, unsafe store), 66 missing input (store,\n"
	       "config file), 73 cannot create, 74 I/O error, 75 gave up waiting for a\n"
	       "lock, 77 needs root, 78 bad config file.\n"
	       "See zeolite(1) and zeolite-spec(5).\n",
	       CONFIG_DEFAULT_LOCK_TIMEOUT);
	printf("\ncatalyst's options are accepted as aliases, in catalyst's positions\n"
	       "(the options above before or after them):\n");
	for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
		printf("  %s\n", aliases[i].help);
	printf("  -a, --clear-autoresume    with -f: build -a\n"
	       "  -p, --purge               with -f: build -p\n"
	       "  -P, --purgeonly           with -f: build -P\n"
	       "  -T, --purgetmponly        with -f: build -T\n"
	       "  -F, --fetchonly           with -f: build -F\n"
	       "      --enter-chroot        with -f: build --enter-chroot\n"
	       "  -c, --configs FILE        same as --config\n"
	       "      --unversioned-cachedir  accepted: the default\n"
	       "      --versioned-cachedir  refused: set options = [\"versioned_cache\"]\n"
	       "      --trace, --profile    refused: catalyst's Python developer options\n");
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

/* Run CMD; under --json a failure also prints the error object on stdout
 * (check's objects already say which file failed and why). */
static int run_command(const Command *cmd, int argc, char **argv)
{
	int r = cmd->run(argc, argv);

	if (r != EXIT_OK && arg_json && strcmp(cmd->name, "check") != 0 && !json_failure_was_reported())
		json_print_error(cmd->name, r, log_first_error());
	return r;
}

int main(int argc, char **argv)
{
	enum { OPT_ENTER_CHROOT = CHAR_MAX + 1, OPT_JSON };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, OPT_JSON },
		GLOBAL_LONG_OPTIONS,
		/* catalyst's build flags (handed to build) */
		{ "clear-autoresume", no_argument, NULL, 'a' },
		{ "purge", no_argument, NULL, 'p' },
		{ "purgeonly", no_argument, NULL, 'P' },
		{ "purgetmponly", no_argument, NULL, 'T' },
		{ "fetchonly", no_argument, NULL, 'F' },
		{ "enter-chroot", no_argument, NULL, OPT_ENTER_CHROOT },
		/* catalyst's commands */
		{ "file", required_argument, NULL, 'f' },
		{ "snapshot", required_argument, NULL, 's' },
		{}
	};
	const char *alias = NULL;
	const Command *cmd;
	char **forward;
	size_t n_forward = 0;
	int c, r;

	atexit(free_configs);
	build_log_set_command_line(argc, argv);
	forward = xcalloc((size_t) argc + 1, sizeof(char *));
	opterr = 0;
	optind = 0;
	/* "+": the first operand is the command, and what follows it is the
	 * command's to parse. */
	while ((c = getopt_long(argc, argv, "+:hc:dvqV" BUILD_FLAG_OPTS ALIAS_OPTS, options,
				NULL)) != -1) {
		switch (c) {
		case 'h':
			help();
			free(forward);
			return EXIT_OK;
		case OPT_JSON:
			arg_json = true;
			break;
		case 'a':
		case 'p':
		case 'P':
		case 'T':
		case 'F':
		case OPT_ENTER_CHROOT:
			forward[n_forward++] = c == OPT_ENTER_CHROOT ? "--enter-chroot"
					       : c == 'a' ? "-a" : c == 'p' ? "-p" : c == 'P' ? "-P"
					       : c == 'T' ? "-T" : "-F";
			break;
		case '?':
			free(forward);
			return bad_option(NULL, argv, options);
		case ':':
			free(forward);
			return missing_argument(NULL, argv);
		default:
			if (command_alias(c, &alias))
				goto dispatch_alias;
			r = global_option(NULL, c, optarg);
			if (r != 0) {
				free(forward);
				return r == 1 ? usage_error("unknown option") : r;
			}
		}
	}

	if (optind >= argc) {
		r = n_forward ? usage_error("'%s' needs -f SPEC or a command", forward[0])
			      : usage_error("no command given");
		free(forward);
		return r;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		const char *names[ELEMENTSOF(commands)];
		const char *hint;

		for (size_t i = 0; i < ELEMENTSOF(commands); i++)
			names[i] = commands[i].name;
		hint = spec_did_you_mean(argv[optind], names, ELEMENTSOF(commands));
		r = hint ? usage_error("unknown command '%s' (did you mean '%s'?)", argv[optind], hint)
			 : usage_error("unknown command '%s'", argv[optind]);
		free(forward);
		return r;
	}
	if (n_forward == 0) {
		free(forward);
		return run_command(cmd, argc - optind, argv + optind);
	}
	{
		/* zeolite -a build SPEC: the build flags go to the command. */
		int n = argc - optind + (int) n_forward;
		char **nv = xcalloc((size_t) n + 1, sizeof(char *));

		nv[0] = argv[optind];
		for (size_t i = 0; i < n_forward; i++)
			nv[1 + i] = forward[i];
		for (int i = optind + 1; i < argc; i++)
			nv[i - optind + (int) n_forward] = argv[i];
		free(forward);
		r = run_command(cmd, n, nv);
		free(nv);
		return r;
	}

dispatch_alias:
	/* catalyst habits: -f SPEC, -s TREEISH, -S SNAPSHOT.  The command gets
	 * the build flags seen so far, then the alias's argument as its first
	 * operand, then the remaining arguments (options among them are the
	 * command's to parse, global ones included). */
	{
		int n = argc - optind + 2 + (int) n_forward;
		char **nv = xcalloc((size_t) n + 1, sizeof(char *));
		int k = 0;

		cmd = find_command(alias);
		arg_catalyst_alias = true;
		nv[k++] = (char *) alias;
		for (size_t i = 0; i < n_forward; i++)
			nv[k++] = forward[i];
		nv[k++] = optarg;
		for (int i = optind; i < argc; i++)
			nv[k++] = argv[i];
		free(forward);
		r = run_command(cmd, n, nv);
		free(nv);
		return r;
	}
}
