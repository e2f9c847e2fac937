// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pack-module.c - the entry points of zeolite-pack.so (see archive-ops.h):
 * the pack step, the only part of zeolite that needs libcrypto.
 */
#include "archive-ops.h"

#ifdef ZEOLITE_PACK_MODULE
__attribute__((visibility("default"))) const PackOps zeolite_pack_ops = {
	.version = PACK_OPS_VERSION,
	.size = sizeof(PackOps),
	.pack_tree = pack_tree,
	.pack_result_done = pack_result_done,
};
#endif
