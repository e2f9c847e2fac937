// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * spec-keys.c - which spec keys each target accepts.
 *
 * The sets follow catalyst 4.1 (gentoo/catalyst): StageBase's required and
 * valid values in catalyst/base/stagebase.py, the per-target additions in
 * catalyst/targets/stage1.py .. stage4.py, and the boot/kernel/<name>/...
 * family added by StageBase.set_valid_build_kernel_vars().  zeolite adds
 * lock_timeout and keeps accepting catalyst 3's snapshot key.
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
	{ "profile",                   ALL, REQ | ONE },
	{ "rel_type",                  ALL, REQ | ONE },
	{ "source_subpath",            ALL, REQ | ONE },
	{ "subarch",                   ALL, REQ | ONE },
	{ "target",                    ALL, REQ | ONE },
	{ "version_stamp",             ALL, REQ | ONE },
	/* snapshot_treeish (catalyst 4) or snapshot (catalyst 3): one of them
	 * is required; spec.c checks that. */
	{ "snapshot_treeish",          ALL, ONE },
	{ "snapshot",                  ALL, ONE },
	/* StageBase: valid for every stage target */
	{ "asflags",                   ALL, 0 },
	{ "binrepo_path",              ALL, ONE },
	{ "catalyst_use",              ALL, 0 },
	{ "cbuild",                    ALL, ONE },
	{ "cflags",                    ALL, 0 },
	{ "common_flags",              ALL, 0 },
	{ "compression_mode",          ALL, ONE },
	{ "cxxflags",                  ALL, 0 },
	{ "decompressor_search_order", ALL, 0 },
	{ "fcflags",                   ALL, 0 },
	{ "fflags",                    ALL, 0 },
	{ "hostuse",                   ALL, 0 },
	{ "install_mask",              ALL, 0 },
	{ "interpreter",               ALL, 0 },
	{ "keep_repos",                ALL, 0 },
	{ "kerncache_path",            ALL, ONE },
	{ "ldflags",                   ALL, 0 },
	{ "pkgcache_path",             ALL, ONE },
	{ "portage_confdir",           ALL, ONE },
	{ "portage_prefix",            ALL, ONE },
	{ "rename_regexp",             ALL, 0 },
	{ "repos",                     ALL, 0 },
	/* zeolite */
	{ "lock_timeout",              ALL, ONE },
	/* stage1.py */
	{ "update_seed",               S1, ONE },
	{ "update_seed_command",       S1, 0 },
	/* stage1.py and stage2.py */
	{ "chost",                     S1 | S2, ONE },
	/* stage4.py */
	{ "stage4/packages",           S4, REQ },
	{ "boot/kernel",               S4, 0 },
	{ "stage4/empty",              S4, 0 },
	{ "stage4/fsscript",           S4, ONE },
	{ "stage4/gk_mainargs",        S4, 0 },
	{ "stage4/groups",             S4, 0 },
	{ "stage4/linuxrc",            S4, ONE },
	{ "stage4/rcadd",              S4, 0 },
	{ "stage4/rcdel",              S4, 0 },
	{ "stage4/rm",                 S4, 0 },
	{ "stage4/root_overlay",       S4, 0 },
	{ "stage4/ssh_public_keys",    S4, 0 },
	{ "stage4/unmerge",            S4, 0 },
	{ "stage4/use",                S4, 0 },
	{ "stage4/users",              S4, 0 },
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
