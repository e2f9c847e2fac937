// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * spec-keys.c - which spec keys each target accepts.
 *
 * The sets follow catalyst 4.1 (gentoo/catalyst): StageBase's required and
 * valid values in catalyst/base/stagebase.py, the per-target additions in
 * catalyst/targets/stage1.py .. stage4.py, and the boot/kernel/<name>/...
 * family added by StageBase.set_valid_build_kernel_vars().  zeolite adds
 * lock_timeout and keeps accepting catalyst 3's snapshot key.  A key with a
 * "refused" reason is one catalyst knows and zeolite does not honour:
 * spec_validate() reports it as an error, never ignores it.  The options
 * of catalyst.conf are here too (plan_check_options() checks them), and
 * the edit-distance hints for unknown keys and options.
 */
#include "spec.h"

#include <string.h>

#define ALL SPEC_STAGES
#define S1 SPEC_STAGE1
#define S2 SPEC_STAGE2
#define S4 SPEC_STAGE4
#define REQ SPEC_KEY_REQUIRED
#define ONE SPEC_KEY_SINGLE

const SpecKey spec_keys[] = {
	/* StageBase: required for every stage target */
	{ "profile",                   ALL, REQ | ONE, NULL },
	{ "rel_type",                  ALL, REQ | ONE, NULL },
	{ "source_subpath",            ALL, REQ | ONE, NULL },
	{ "subarch",                   ALL, REQ | ONE, NULL },
	{ "target",                    ALL, REQ | ONE, NULL },
	{ "version_stamp",             ALL, REQ | ONE, NULL },
	/* snapshot_treeish (catalyst 4) or snapshot (catalyst 3): one of them
	 * is required; spec.c checks that. */
	{ "snapshot_treeish",          ALL, ONE, NULL },
	{ "snapshot",                  ALL, ONE, NULL },
	/* StageBase: valid for every stage target */
	{ "asflags",                   ALL, 0, "catalyst 4.1 accepts it and never uses it: ASFLAGS comes from the seed's make.conf" },
	{ "binrepo_path",              ALL, ONE, NULL },
	{ "catalyst_use",              ALL, 0, "catalyst 4.1 accepts it and never uses it: its set_catalyst_use() reads <target>/catalyst_use, a key no stage target accepts" },
	{ "cbuild",                    ALL, ONE, "catalyst 4.1 uses it only to name the build arch; CBUILD comes from the seed's make.conf" },
	{ "cflags",                    ALL, 0, NULL },
	{ "common_flags",              ALL, 0, NULL },
	{ "compression_mode",          ALL, ONE, NULL },
	{ "cxxflags",                  ALL, 0, NULL },
	{ "decompressor_search_order", ALL, 0, NULL },
	{ "fcflags",                   ALL, 0, NULL },
	{ "fflags",                    ALL, 0, NULL },
	{ "hostuse",                   ALL, 0, "catalyst 4.1 ignores it (HOSTUSE comes from the subarch's arch/*.toml)" },
	{ "install_mask",              ALL, 0, "catalyst 4.1 uses it only for the embedded target, which zeolite does not build" },
	{ "interpreter",               ALL, 0, NULL },
	{ "keep_repos",                ALL, 0, NULL },
	{ "kerncache_path",            ALL, ONE, "zeolite builds no kernels (boot/kernel), so it has no kernel cache" },
	{ "ldflags",                   ALL, 0, NULL },
	{ "pkgcache_path",             ALL, ONE, NULL },
	{ "portage_confdir",           ALL, ONE, NULL },
	{ "portage_prefix",            ALL, ONE, NULL },
	{ "rename_regexp",             ALL, 0, NULL },
	{ "repos",                     ALL, 0, NULL },
	/* zeolite */
	{ "lock_timeout",              ALL, ONE, NULL },
	/* stage1.py */
	{ "update_seed",               S1, ONE, NULL },
	{ "update_seed_command",       S1, 0, NULL },
	/* stage1.py and stage2.py */
	{ "chost",                     S1 | S2, ONE, NULL },
	/* stage4.py */
	{ "stage4/packages",           S4, REQ, NULL },
	{ "boot/kernel",               S4, 0, "zeolite does not build kernels yet" },
	{ "stage4/empty",              S4, 0, NULL },
	{ "stage4/fsscript",           S4, ONE, NULL },
	{ "stage4/gk_mainargs",        S4, 0, "genkernel arguments: zeolite does not build kernels yet" },
	{ "stage4/groups",             S4, 0, NULL },
	{ "stage4/linuxrc",            S4, ONE, "an initramfs linuxrc: zeolite does not build kernels yet" },
	{ "stage4/rcadd",              S4, 0, NULL },
	{ "stage4/rcdel",              S4, 0, NULL },
	{ "stage4/rm",                 S4, 0, NULL },
	{ "stage4/root_overlay",       S4, 0, NULL },
	{ "stage4/ssh_public_keys",    S4, 0, "not supported by zeolite yet (copy the keys with stage4/root_overlay)" },
	{ "stage4/unmerge",            S4, 0, NULL },
	{ "stage4/use",                S4, 0, NULL },
	{ "stage4/users",              S4, 0, NULL },
};
const size_t spec_keys_n = ELEMENTSOF(spec_keys);

/* Every target catalyst has known (catalyst/targets/, hyphenated as in
 * specs); only the stages are built by zeolite. */
const SpecTarget spec_targets[] = {
	{ "stage1",           SPEC_STAGE1 },
	{ "stage2",           SPEC_STAGE2 },
	{ "stage3",           SPEC_STAGE3 },
	{ "stage4",           SPEC_STAGE4 },
	{ "diskimage-stage1", 0 },
	{ "diskimage-stage2", 0 },
	{ "embedded",         0 },
	{ "grp",              0 },
	{ "livecd-stage1",    0 },
	{ "livecd-stage2",    0 },
	{ "netboot",          0 },
	{ "netboot2",         0 },
	{ "snapshot",         0 },
	{ "tinderbox",        0 },
};
const size_t spec_targets_n = ELEMENTSOF(spec_targets);

const char *const spec_kernel_subkeys[] = {
	"aliases",
	"config",
	"console",
	"distkernel",
	"dracut_args",
	"extraversion",
	"gk_action",
	"gk_kernargs",
	"initramfs_overlay",
	"packages",
	"softlevel",
	"sources",
	"use",
};
const size_t spec_kernel_subkeys_n = ELEMENTSOF(spec_kernel_subkeys);

/* DECOMPRESS_DEFINITIONS of pyDeComp: the union of the releases catalyst 3
 * and 4 use, so that older *_x modes keep working.  (compression_mode:
 * pack-modes.c.) */
const char *const spec_decompression_modes[] = {
	"rsync",
	"lbzip2", "lbzip2_x",
	"bzip2", "bzip2_x",
	"lzip",
	"lzma",
	"lzop",
	"tar", "tar_x",
	"xz", "xz_x",
	"pixz", "pixz_x",
	"zstd",
	"pzstd",
	"gzip", "gzip_x",
	"squashfs",
};
const size_t spec_decompression_modes_n = ELEMENTSOF(spec_decompression_modes);

/* catalyst 4.1's options: those of catalyst.conf's "options" that its
 * code reads, and those its command-line flags add (-a -p -P -T -F,
 * --enter-chroot). */
const SpecOption spec_options[] = {
	{ "autoresume", NULL, NULL },
	{ "bindist", NULL, NULL },
	{ "ccache", NULL, NULL },
	{ "clear-autoresume", NULL, NULL },
	{ "distcc", "zeolite does not support distcc yet", NULL },
	{ "enter-chroot", "zeolite does not support entering the chroot yet", NULL },
	{ "fetch", NULL, NULL },
	{ "icecream", "zeolite does not support icecream yet", NULL },
	{ "keepwork", NULL, NULL },
	{ "kerncache", NULL,
	  "only kernel builds use the kernel cache, and the stage targets (catalyst's and zeolite's) build none" },
	{ "pkgcache", NULL, NULL },
	{ "purge", NULL, NULL },
	{ "purgeonly", NULL, NULL },
	{ "purgetmponly", NULL, NULL },
	{ "seedcache", NULL,
	  "zeolite keeps no build root in tmp/ to reuse, so a seed is always its file under builds/ (what "
	  "catalyst does when tmp/<source_subpath>/ is absent); zeolite's own seed cache (cache/) serves later builds" },
	{ "sticky-config", NULL, NULL },
	{ "versioned_cache", NULL, NULL },
};
const size_t spec_options_n = ELEMENTSOF(spec_options);

const SpecOption *spec_option_lookup(const char *name)
{
	for (size_t i = 0; i < spec_options_n; i++)
		if (strcmp(spec_options[i].name, name) == 0)
			return &spec_options[i];
	return NULL;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64 + 1];

	if (la > 64 || lb > 64)
		return (size_t) -1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *spec_did_you_mean(const char *word, const char *const *set, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, set[i]);
		if (d < best_d && d < strlen(word)) {
			best_d = d;
			best = set[i];
		}
	}
	return best;
}

const char *spec_key_did_you_mean(const char *word, unsigned target)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (size_t i = 0; i < spec_keys_n; i++) {
		size_t d;
		if (!(spec_keys[i].targets & target))
			continue;
		d = edit_distance(word, spec_keys[i].name);
		if (d < best_d && d < strlen(word)) {
			best_d = d;
			best = spec_keys[i].name;
		}
	}
	return best;
}

const SpecKey *spec_key_lookup(const char *name)
{
	for (size_t i = 0; i < spec_keys_n; i++)
		if (strcmp(spec_keys[i].name, name) == 0)
			return &spec_keys[i];
	return NULL;
}

const SpecTarget *spec_target_lookup(const char *name)
{
	for (size_t i = 0; i < spec_targets_n; i++)
		if (strcmp(spec_targets[i].name, name) == 0)
			return &spec_targets[i];
	return NULL;
}

bool spec_word_in(const char *word, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(set[i], word) == 0)
			return true;
	return false;
}
