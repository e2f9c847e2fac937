# SPDX-License-Identifier: GPL-2.0-or-later
# stage2.sh - zeolite's stage2 target, run inside the build chroot.
#
# A stage2 is a stage1 whose toolchain has been rebuilt by itself: the
# repository's scripts/bootstrap.sh when the repository has one (::gentoo
# does), else binutils, gcc and glibc merged once more.
#
# Usage: /bin/sh stage2.sh {setup|build|preclean|clean}

case $0 in
*/*) zt_dir=${0%/*} ;;
*) zt_dir=. ;;
esac
# shellcheck source=functions.sh
. "$zt_dir/functions.sh"

step_build() {
	[ -z "$clst_root_path" ] || zt_die "stage2 builds in /, not in '$clst_root_path'"
	zt_chroot_functions
	FEATURES="${FEATURES:-} nodoc noman noinfo"
	CONFIG_PROTECT="-* /etc/locale.gen"
	export FEATURES CONFIG_PROTECT
	printf '%s\n' "$ZT_LOCALES" > /etc/locale.gen
	zt_bootstrap=$zt_repo_dir/scripts/bootstrap.sh
	if [ -f "$zt_bootstrap" ]; then
		zt_shell=/bin/sh
		zt_have bash && zt_shell=$(command -v bash)
		zt_log "running: $zt_bootstrap $zt_bootstrap_opts"
		zt_rc=0
		# shellcheck disable=SC2086 # a list of options
		"$zt_shell" "$zt_bootstrap" $zt_bootstrap_opts || zt_rc=$?
		[ "$zt_rc" -eq 0 ] || zt_die "$zt_bootstrap failed with status $zt_rc"
	else
		zt_log "$zt_bootstrap not found: rebuilding the toolchain with emerge"
		run_merge --oneshot sys-devel/gcc sys-libs/glibc sys-devel/binutils
	fi
	# The modified /etc/locale.gen gives way to the packaged one.
	if zt_have etc-update; then
		etc-update --automode -5 || zt_warn "etc-update failed"
	fi
}

zt_main "$@"
