# SPDX-License-Identifier: GPL-2.0-or-later
# stage1.sh - zeolite's stage1 target, run inside the build chroot.
#
# A stage1 is the profile's build-time package set (its packages.build,
# stacked over the profile's parents) merged into an empty root,
# clst_root_path (/tmp/stage1root), using the seed stage as the toolchain.
# That root, not the chroot, is what zeolite packs.
#
# Usage: /bin/sh stage1.sh {setup|build|preclean|clean}

case $0 in
*/*) zt_dir=${0%/*} ;;
*) zt_dir=. ;;
esac
# shellcheck source=functions.sh
. "$zt_dir/functions.sh"

: "${clst_root_path:=/tmp/stage1root}"

# update_seed: bring the seed itself up to date before building from it.
stage1_update_seed() {
	case ${clst_update_seed:-no} in
	yes) ;;
	no | "")
		zt_log "not updating the seed (update_seed is not 'yes')"
		return 0 ;;
	*) zt_die "update_seed must be 'yes' or 'no', not '$clst_update_seed'" ;;
	esac
	# Without update_seed_command, bring the toolchain up to date.
	zt_cmd=${clst_update_seed_command:---update --deep --newuse --complete-graph --rebuild-if-new-ver sys-devel/gcc}
	zt_log "updating the seed stage"
	# The seed's own packages are not cached as binary packages.
	# shellcheck disable=SC2086 # lists of words
	run_emerge $clst_emerge_opts --root=/ --buildpkg=n $zt_cmd
}

# The root's bare directories; baselayout (merged next) fills in the rest,
# including the /bin, /lib and /sbin links of a merged-usr profile, so no
# such directory is made here.
stage1_skeleton() {
	zt_r=${clst_root_path%/}
	mkdir -p "$zt_r"
	for zt_d in etc dev proc sys run home var/db/pkg; do
		mkdir -p "$zt_r/$zt_d"
	done
	mkdir -p "$zt_r/root" "$zt_r/tmp" "$zt_r/var/tmp"
	chmod 0700 "$zt_r/root"
	chmod 1777 "$zt_r/tmp" "$zt_r/var/tmp"
}

step_build() {
	[ "$clst_root_path" != / ] || zt_die "stage1 needs its own root (clst_root_path), not /"
	zt_profile_dir
	zt_pkgs=$(zt_profile_stack packages.build) ||
		zt_die "cannot read packages.build of profile '$clst_profile'"
	# One line: the atoms, separated by single blanks.
	# shellcheck disable=SC2086,SC2116
	zt_pkgs=$(echo $zt_pkgs)
	[ -n "$zt_pkgs" ] ||
		zt_die "profile '$clst_profile' lists no packages in packages.build: is $zt_pdir a profile?"
	zt_log "packages.build: $zt_pkgs"

	stage1_update_seed
	stage1_skeleton

	zt_bootstrap_use=
	if zt_have portageq; then
		zt_bootstrap_use=$(portageq envvar BOOTSTRAP_USE 2>/dev/null) || zt_bootstrap_use=
	fi
	zt_bindist=
	zt_option bindist && zt_bindist=bindist

	# A known-good baselayout first, on its own, so that the root's /etc,
	# /usr layout and links exist before anything else is merged.
	# shellcheck disable=SC2030,SC2031 # USE is meant for that emerge only
	(
		export USE="${USE:-} -build"
		# shellcheck disable=SC2086
		run_emerge $clst_emerge_opts --root="$clst_root_path" --oneshot --nodeps sys-apps/baselayout
	)
	# Then the build set, with only the flags the profile asks for when
	# bootstrapping ("-* build"), as the Gentoo stage1 procedure does.
	# shellcheck disable=SC2030,SC2031
	(
		export USE="-* build $zt_bindist ${clst_catalyst_use:-} $zt_bootstrap_use ${clst_hostuse:-}"
		export FEATURES="${FEATURES:-} nodoc noman noinfo"
		# shellcheck disable=SC2086
		run_emerge $clst_emerge_opts --root="$clst_root_path" --oneshot $zt_pkgs
	)
}

# The stage1 root ships without documentation, compiled Python or a
# timezone link into a zoneinfo it may not have.
step_preclean() {
	zt_r=${clst_root_path%/}
	[ -d "$zt_r" ] || zt_die "stage1 root $clst_root_path does not exist: did build run?"
	for zt_d in man doc info; do
		zt_empty_dir_glob "$zt_r/usr/share/$zt_d"
	done
	find "$zt_r/" -xdev -type f \( -name '*.pyc' -o -name '*.pyo' \) -exec rm -f {} +
	if [ -f "$zt_r/usr/share/zoneinfo/Factory" ]; then
		rm -f "$zt_r/etc/localtime"
		cp "$zt_r/usr/share/zoneinfo/Factory" "$zt_r/etc/localtime"
	elif [ ! -e "$zt_r/etc/localtime" ]; then
		echo UTC > "$zt_r/etc/TZ"
	fi
	zt_rm_portage_tmp /
	zt_rm_portage_tmp "$clst_root_path"
}

zt_main "$@"
