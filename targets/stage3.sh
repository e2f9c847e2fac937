# SPDX-License-Identifier: GPL-2.0-or-later
# stage3.sh - zeolite's stage3 target, run inside the build chroot.
#
# A stage3 is @system rebuilt from scratch (-e) with the stage2's
# toolchain, build-time dependencies included, so that every package of the
# result was built by the final compiler and libraries; preclean depcleans
# it and empties the world file, as catalyst.
#
# Usage: /bin/sh stage3.sh {setup|build|preclean|clean}

case $0 in
*/*) zt_dir=${0%/*} ;;
*) zt_dir=. ;;
esac
# shellcheck source=functions.sh
. "$zt_dir/functions.sh"

step_build() {
	[ -z "$clst_root_path" ] || zt_die "stage3 builds in /, not in '$clst_root_path'"
	zt_chroot_functions
	CONFIG_PROTECT="-* /etc/locale.gen"
	export CONFIG_PROTECT
	printf '%s\n' "$ZT_LOCALES" > /etc/locale.gen
	run_merge -e --update --deep --with-bdeps=y @system
	# The modified /etc/locale.gen gives way to the packaged one.
	if zt_have etc-update; then
		etc-update --automode -5 || zt_warn "etc-update failed"
	fi
}

# preclean: cleanup_stages (stage3's depclean and the world reset).

zt_main "$@"
