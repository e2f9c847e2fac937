/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * plan-repos.h - plan.c's repositories and binrepos.conf.
 *
 * plan_repos(): P->repos[0] is the snapshot (P->snapshot_path, named
 * P->repo_name), then each word of spec "repos" (a directory, or a .sqfs
 * whose name is read from inside it), at <repo_basedir>/<name>, with the
 * repos.conf entry catalyst's process_repos writes; "keep_repos" marks
 * those whose entry and mount point ship.  0, or -EINVAL with *RET_ERR
 * "FILE:LINE: ...".
 *
 * plan_binrepos_text(): binrepos.conf/gentoo.conf as catalyst's
 * write_binrepos_conf, or NULL without the config's binhost or the spec's
 * binrepo_path.
 */
#ifndef ZEOLITE_PLAN_REPOS_H
#define ZEOLITE_PLAN_REPOS_H

#include "plan.h"

int plan_repos(Plan *p, char **ret_err);
char *plan_binrepos_text(const Plan *p);

#endif
