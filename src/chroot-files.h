/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chroot-files.h - what zeolite puts into a build root before the target
 * script's steps run, and takes out again before packing: the host-side
 * half of catalyst's chroot_setup() and clean() (catalyst/base/stagebase.py).
 *
 * Both work on the overlay's upper layer UPPER (the build's changes over
 * the seed tree SEED_TREE) while nothing is mounted on it.  Paths inside
 * UPPER are resolved with RESOLVE_IN_ROOT, so a symlink the build left
 * there never leads outside it.
 *
 * chroot_files_in(): portage_confdir, the build's make.conf, repos.conf
 * entries (none for the main repository at its default location),
 * binrepos.conf (config binhost + spec binrepo_path), the jobserver's
 * /etc/sandbox.d/99catalyst, the interpreters, the fsscript, the root
 * overlays, the host's resolv.conf and hosts (the seed's hosts kept as
 * hosts.catalyst) and the config's envscript as /tmp/envscript.
 *
 * chroot_files_out(): the seed's hosts back; resolv.conf gone (stage4:
 * kept when the build wrote its own); envscript, 99catalyst, the
 * interpreters and zeolite's repos.conf entries (but keep_repos') gone;
 * the mount points zeolite made (the targets directory, the repositories
 * but keep_repos', the ccache directory) gone with the empty directories
 * above them the seed does not have; the repo basedir (and kept mount
 * points) chowned to the stage's portage user, as catalyst's clean; and
 * last the make.conf that ships, exactly plan->make_conf_shipped, in the
 * stage's root.
 */
#ifndef ZEOLITE_CHROOT_FILES_H
#define ZEOLITE_CHROOT_FILES_H

#include "plan.h"

int chroot_files_in(const Plan *p, const char *upper, const char *seed_tree, char **ret_err);
int chroot_files_out(const Plan *p, const char *upper, const char *seed_tree, char **ret_err);

/* Run ARGV (searched in PATH) and wait: 0 on exit status 0, else -EIO. */
int chroot_run_argv(char *const argv[]);

#endif
