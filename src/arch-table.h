/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * arch-table.h - the shape of the built-in subarch table (arch-table.c).
 * Only arch.c reads it.
 */
#ifndef ZEOLITE_ARCH_TABLE_H
#define ZEOLITE_ARCH_TABLE_H

#include <stddef.h>

typedef struct ArchRow {
	const char *arch, *section, *name;
	const char *chost, *common_flags;   /* NULL: not given */
	const char *cpu_flags_var, *cpu_flags;
	const char *use;
} ArchRow;

typedef struct ArchSetarch {
	const char *section, *arch, *if_build;
} ArchSetarch;

extern const ArchRow arch_table[];
extern const size_t arch_table_len;
extern const ArchSetarch arch_setarch[];
extern const size_t arch_setarch_len;

#endif
