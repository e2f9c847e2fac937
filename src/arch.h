/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * arch.h - the subarch table: what catalyst's arch/NAME.toml says about a
 * subarch (COMMON_FLAGS, CHOST, CPU_FLAGS_*, USE) and whether the build
 * runs under another personality (catalyst's [setarch.<arch>] tables).
 *
 * zeolite carries its own table (arch-table.c, written from the facts in
 * catalyst 4.1's arch/NAME.toml).  <sharedir>/arch/NAME.toml files in
 * catalyst's format override it: a subarch found in any of them wins over
 * the built-in entry of that name (docs/arch.md).
 */
#ifndef ZEOLITE_ARCH_H
#define ZEOLITE_ARCH_H

#include <stdbool.h>

typedef struct Subarch {
	char *arch;          /* the toml file name: "amd64", "x86", "arm", "ppc" */
	char *section;       /* the toml table it sits in: "ppc64" for [ppc64.power8] */
	char *name;          /* the subarch: "i686", "armv7a_hardfp" */
	char *chost;         /* CHOST, or NULL when the toml gives none */
	char *common_flags;  /* COMMON_FLAGS, or NULL when the toml gives none */
	char *cpu_flags_var; /* "CPU_FLAGS_X86", or NULL when the toml gives none */
	char *cpu_flags;     /* its flags joined by spaces ("mmx sse"), or NULL */
	char *use;           /* USE joined by spaces ("altivec ibm"), or NULL */
	char *hostuse;       /* HOSTUSE joined by spaces (no built-in has it), or NULL */
	/* catalyst's [setarch.<section>]: run under setarch ARCH when the
	 * host's machine (uname -m) is IF_BUILD.  NULL when none. */
	char *setarch_arch;     /* "linux32", "s390" */
	char *setarch_if_build; /* "x86_64", "ppc64", "sparc64", "s390x" */
	/* setarch_arch when setarch_if_build is the machine the lookup was
	 * made for (this host's uname -m for subarch_lookup()), else NULL. */
	char *personality;
} Subarch;

/*
 * Find subarch NAME.  First in SHAREDIR/arch/NAME.toml (SHAREDIR may be NULL
 * or lack arch/: then only the built-in table), then in the built-in table.
 * As catalyst, a file NAME.toml is searched in its tables whose name starts
 * with the file's name (x86.toml: [x86.*]; ppc.toml: [ppc.*], [ppc64.*]).
 *
 * Returns 0 and fills *RET (release with subarch_done()); -ENOENT with
 * *RET_ERR "unknown subarch 'amd65' (did you mean 'amd64'?)"; -EINVAL with
 * *RET_ERR "FILE:LINE: what is wrong" for a bad override file; other
 * -errno for I/O errors.  *RET_ERR is malloc'd, the caller frees it.
 */
int subarch_lookup(const char *sharedir, const char *name, Subarch *ret, char **ret_err);

/* As subarch_lookup(), personality computed for MACHINE (a uname -m
 * string) instead of this host's: for tests and plans made for another
 * build host. */
int subarch_lookup_for_machine(const char *sharedir, const char *name, const char *machine,
			       Subarch *ret, char **ret_err);

/* Whether NAME is a subarch of the built-in table. */
bool subarch_builtin_known(const char *name);

/* Free what S holds and zero it; S may be zeroed already. */
void subarch_done(Subarch *s);

#endif
