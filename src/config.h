/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.h - zeolite.conf / catalyst.conf (TOML shape).
 *
 * config_init() sets the built-in defaults; each config_load() merges one
 * file over what is there (later files override earlier ones, as with
 * catalyst's repeated -c).  String values get catalyst's %(key)s
 * substitution against the other top-level keys once all files are loaded
 * (config_finish()).
 */
#ifndef ZEOLITE_CONFIG_H
#define ZEOLITE_CONFIG_H

#include "util.h"

#define CONFIG_DEFAULT_PATH "/etc/zeolite/zeolite.conf"
#define CONFIG_DEFAULT_STOREDIR "/var/tmp/zeolite"
/* Read when there is no CONFIG_DEFAULT_PATH and no -c; a catalyst.conf
 * that sets no storedir means catalyst's default store. */
#define CONFIG_CATALYST_PATH "/etc/catalyst/catalyst.conf"
#define CATALYST_DEFAULT_STOREDIR "/var/tmp/catalyst"
/* gc keeps build logs this many days (log_retention_days). */
#define CONFIG_DEFAULT_LOG_RETENTION_DAYS 30UL
/* Built-in lock_timeout in seconds (DESIGN.md G4: finite, documented). */
#define CONFIG_DEFAULT_LOCK_TIMEOUT 3600UL
/* catalyst's sharedir is /usr/share/catalyst; ours holds the targets. */
#define CONFIG_DEFAULT_SHAREDIR "/usr/share/zeolite"

/* Where a key's value came from: FILE is one of Config.files (NULL for a
 * built-in default) and LINE its line there. */
typedef struct ConfigOrigin {
	const char *file;
	unsigned line;
} ConfigOrigin;

typedef struct Config {
	char *storedir;
	char *sharedir;
	char *distdir;
	char *repo_basedir;
	char *repo_name;
	char *repos_storedir;
	char *target_distdir;
	char *target_pkgdir;
	char *target_logdir;
	char *port_logdir;
	char *envscript;
	char *binhost;
	char *repo_openpgp_key_path;
	char *compression_mode;
	char *digest_format;
	char *cache_format; /* "image" (default) or "tree": what builds take from the cache */
	char *jobserver_fifo;
	char **digests;     /* NULL-terminated */
	char **options;     /* NULL-terminated */
	char **distcc_hosts;
	long jobs;
	char *load_average; /* kept as text: catalyst accepts int or float */
	bool var_tmpfs_portage;
	long var_tmpfs_portage_size;
	unsigned long lock_timeout; /* seconds */
	unsigned long log_retention_days; /* gc removes older build logs */
	char **files;       /* files loaded, for messages */
	ConfigOrigin *origins; /* per key (config.c's key table), for messages */
	bool finished;      /* config_finish() ran: no more substitution */
} Config;

/* Set the built-in defaults (see config.c for each and where it comes
 * from).  Strings that are not set are NULL; string vectors are empty,
 * never NULL; jobs 0 and load_average NULL mean "not set". */
void config_init(Config *c);
/* Load PATH over C.  A missing file is -ENOENT with no diagnostic (the
 * caller decides whether that matters); bad content is -EINVAL with
 * diagnostics "FILE:LINE: ..." in D. */
int config_load(Config *c, const char *path, Diags *d);
/* Apply %(key)s substitution (and %% for a percent sign) to the string
 * values, recursively; -EINVAL with a diagnostic on an unknown, unset or
 * recursive reference.  Call once, after the last config_load(); later
 * calls do nothing. */
int config_finish(Config *c, Diags *d);
bool config_has_option(const Config *c, const char *option);
/* Where KEY's value came from ({ NULL, 0 } for a default). */
ConfigOrigin config_origin(const Config *c, const char *key);
void config_done(Config *c);

#endif
