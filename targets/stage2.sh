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
	[ "$clst_root_path" = / ] || zt_die "stage2 builds in /, not in '$clst_root_path'"
	export FEATURES="${FEATURES:-} nodoc noman noinfo -news"
	zt_bootstrap=$zt_repo_dir/scripts/bootstrap.sh
	if [ -f "$zt_bootstrap" ]; then
		# bootstrap.sh is a bash script; it runs emerge itself and reads
		# EMERGE_DEFAULT_OPTS, so the build's options travel there.
		zt_shell=/bin/sh
		zt_have bash && zt_shell=$(command -v bash)
		export EMERGE_DEFAULT_OPTS="${EMERGE_DEFAULT_OPTS:-} $clst_emerge_opts"
		zt_log "running: $zt_shell $zt_bootstrap"
		zt_rc=0
		"$zt_shell" "$zt_bootstrap" || zt_rc=$?
		[ "$zt_rc" -eq 0 ] || zt_die "$zt_bootstrap failed with status $zt_rc"
	else
		zt_log "$zt_bootstrap not found: rebuilding the toolchain with emerge"
		# shellcheck disable=SC2086 # a list of words
		run_emerge $clst_emerge_opts --oneshot sys-devel/gcc sys-libs/glibc sys-devel/binutils
	fi
}

zt_main "$@"
