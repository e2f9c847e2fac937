# SPDX-License-Identifier: GPL-2.0-or-later
# stage3.sh - zeolite's stage3 target, run inside the build chroot.
#
# A stage3 is @system rebuilt from scratch (--emptytree) with the stage2's
# toolchain, build-time dependencies included, so that every package of the
# result was built by the final compiler and libraries.
#
# Usage: /bin/sh stage3.sh {setup|build|preclean|clean}

case $0 in
*/*) zt_dir=${0%/*} ;;
*) zt_dir=. ;;
esac
# shellcheck source=functions.sh
. "$zt_dir/functions.sh"

step_build() {
	[ "$clst_root_path" = / ] || zt_die "stage3 builds in /, not in '$clst_root_path'"
	# shellcheck disable=SC2086 # a list of words
	run_emerge $clst_emerge_opts --emptytree --update --deep --newuse --with-bdeps=y @system
}

zt_main "$@"
