/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cache-internal.h - what cache.c and cache-id.c share; not for other
 * modules.
 */
#ifndef ZEOLITE_CACHE_INTERNAL_H
#define ZEOLITE_CACHE_INTERNAL_H

#include "cache.h"

#define CACHE_ID_HEX_LEN 32

/* The directory fd of KIND in the store. */
int cache_kind_fd(const Store *st, CacheKind k);
/* The id (32 hex digits) of a SHA-256 digest; the caller frees it. */
char *cache_id_of_digest(const unsigned char md[32]);
/* Whether S[0..N) is an id. */
bool cache_valid_id(const char *s, size_t n);
/* Remove every fingerprint record of KIND_DIR_FD that names ID. */
void cache_drop_fingerprints(int kind_dir_fd, const char *id);

#endif
