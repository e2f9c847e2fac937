/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * spec.h - catalyst-spec(5) files: parsing and per-target validation.
 *
 * Syntax (zeolite-spec(5)): "key: value", split on the first ':' of a line
 * that starts at column 0; the value is split on whitespace into words (one
 * word is a string, several a list); indented continuation lines (leading
 * space or tab) extend the previous key, even when they contain ':' (slot
 * atoms such as sys-libs/glibc:2.2); blank and comment lines do not end a
 * key; '#' starts a comment anywhere; a word wrapped in double (or single)
 * quotes loses them; "%(key)s" on a key's line is the value of a key set
 * on an earlier line and "%%" is '%' (catalyst's `value % values`; any
 * other '%' is an error); a repeated key is an error naming both lines; an empty
 * value is a warning and the key is dropped.  The text must be UTF-8 without
 * NUL bytes or control characters other than whitespace.
 *
 * Every problem is added to a Diags list as "FILE:LINE: message"; the
 * functions return 0 when no error (warnings allowed) was found and a
 * negative errno otherwise (-EINVAL for bad content), so that callers can
 * report all problems at once.
 */
#ifndef ZEOLITE_SPEC_H
#define ZEOLITE_SPEC_H

#include "util.h"

typedef struct SpecEntry {
	char *key;
	char **words; /* NULL-terminated, at least one word */
	size_t n_words;
	unsigned line;
} SpecEntry;

typedef struct Spec {
	char *path; /* as given, used in messages */
	SpecEntry *v;
	size_t n;
	size_t cap;
} Spec;

/* Parse TEXT (LEN bytes, may contain NULs, which are an error) named PATH.
 * *RET is always initialised and must be released with spec_done().
 * Returns 0, or -EINVAL if an error was added to D. */
int spec_parse(const char *path, const char *text, size_t len, Spec *ret, Diags *d);

/* Read and parse the file PATH (at most SPEC_MAX_SIZE bytes); an unreadable
 * file is one diagnostic "PATH: cannot read: REASON" and the read error is
 * returned (-ENOENT, -EACCES, -EISDIR, -EFBIG, ...).  *RET is always
 * initialised. */
#define SPEC_MAX_SIZE (16u * 1024 * 1024)
int spec_load(const char *path, Spec *ret, Diags *d);

/* Validate keys and values for the spec's target (catalyst 4.1 required
 * and allowed sets for stage1..stage4, plus zeolite's lock_timeout and
 * catalyst 3's snapshot).  Unsupported targets (livecd-*, netboot,
 * diskimage-*, embedded, ...) get one "not supported" diagnostic.
 * Returns 0, or -EINVAL if an error was added to D. */
int spec_validate(const Spec *s, Diags *d);

const SpecEntry *spec_get(const Spec *s, const char *key);
/* The value of KEY if it is a single word, else NULL. */
const char *spec_get_string(const Spec *s, const char *key);

/* Append S as one JSON object: key -> string (one word) or list, in file
 * order, without a trailing newline. */
void spec_to_json(const Spec *s, Buf *b);

void spec_done(Spec *s);

/*
 * Tables (spec-keys.c), from catalyst 4.1: catalyst/base/stagebase.py,
 * catalyst/targets/stage[1-4].py and pyDeComp's definitions.py.
 */
enum {
	SPEC_STAGE1 = 1 << 0,
	SPEC_STAGE2 = 1 << 1,
	SPEC_STAGE3 = 1 << 2,
	SPEC_STAGE4 = 1 << 3,
	SPEC_STAGES = SPEC_STAGE1 | SPEC_STAGE2 | SPEC_STAGE3 | SPEC_STAGE4,
};

enum {
	SPEC_KEY_REQUIRED = 1 << 0, /* for every target in .targets */
	SPEC_KEY_SINGLE = 1 << 1,   /* one word, never a list */
};

typedef struct SpecKey {
	const char *name;
	unsigned targets; /* SPEC_STAGE* bits where the key is allowed */
	unsigned flags;   /* SPEC_KEY_* */
	/* Not NULL: catalyst knows the key, zeolite does not honour it, and
	 * check refuses it with this reason (never silently ignored). */
	const char *refused;
} SpecKey;

/* An option of catalyst.conf's "options" (or catalyst's command line). */
typedef struct SpecOption {
	const char *name;
	const char *refused; /* as SpecKey.refused */
	/* Accepted, but what it asks for does not happen in zeolite, as it
	 * does not in catalyst for the targets zeolite builds: said as a
	 * warning by check and build (never silently ignored). */
	const char *note;
} SpecOption;
extern const SpecOption spec_options[];
extern const size_t spec_options_n;
const SpecOption *spec_option_lookup(const char *name);

/* The word of SET nearest to WORD (edit distance at most 2, less than
 * WORD's length), or NULL: for "did you mean" hints. */
const char *spec_did_you_mean(const char *word, const char *const *set, size_t n);
/* Likewise over the keys allowed for target bit TARGET. */
const char *spec_key_did_you_mean(const char *word, unsigned target);

typedef struct SpecTarget {
	const char *name;
	unsigned bit; /* SPEC_STAGE*, or 0 for a catalyst target zeolite does not build */
} SpecTarget;

extern const SpecKey spec_keys[];
extern const size_t spec_keys_n;
extern const SpecTarget spec_targets[];
extern const size_t spec_targets_n;
/* Sub-keys of boot/kernel/<name>/ (one <name> per word of boot/kernel). */
extern const char *const spec_kernel_subkeys[];
extern const size_t spec_kernel_subkeys_n;
/* Valid decompressor_search_order words (compression_mode: pack-modes.h). */
extern const char *const spec_decompression_modes[];
extern const size_t spec_decompression_modes_n;

const SpecKey *spec_key_lookup(const char *name);
/* NULL if NAME is not a catalyst target at all. */
const SpecTarget *spec_target_lookup(const char *name);
bool spec_word_in(const char *word, const char *const *set, size_t n);

#endif
