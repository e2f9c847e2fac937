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

# setup: the chroot's profile link and, as catalyst's stage1 controller
# and config_profile_link do, an /etc/portage in the root holding a copy
# of the chroot's make.conf and its own make.profile link.
step_setup() {
	[ -n "$clst_root_path" ] || zt_die "stage1 needs its own root (clst_root_path), not /"
	zt_r=${clst_root_path%/}
	mkdir -p "$zt_r/etc" "$zt_r$clst_port_conf"
	zt_setup_profile
	if [ -f "$clst_make_conf" ]; then
		cp "$clst_make_conf" "$zt_r$clst_port_conf/"
	else
		zt_warn "$clst_make_conf does not exist (zeolite writes it)"
	fi
	mkdir -p /var/tmp /var/log
	chmod 1777 /var/tmp 2>/dev/null || true
}

# update_seed: bring the seed itself up to date before building from it,
# with the emerge options of an update (no package cache) and
# --buildpkg=n, then the options of the build again.
stage1_update_seed() {
	case ${clst_update_seed:-} in
	"")
		zt_log "skipping seed stage update"
		return 0 ;;
	yes) ;;
	no) return 0 ;;
	*) zt_die "invalid setting for update_seed: '$clst_update_seed' (yes or no)" ;;
	esac
	zt_log "updating the seed stage"
	# shellcheck disable=SC2086 # lists of words
	ROOT=/ run_merge --buildpkg=n ${clst_update_seed_command:---update --deep --newuse @world}
	clst_update_seed=no zt_setup_emerge_opts
}

# The locale catalyst sets up before the build set: /etc/locale.gen with
# C.UTF-8, LANG=C.UTF-8 in env.d of the chroot and of the root.
stage1_locale() {
	printf '%s\n' "$ZT_LOCALES" > /etc/locale.gen
	for zt_etc in /etc "${clst_root_path%/}/etc"; do
		mkdir -p "$zt_etc/env.d"
		echo LANG=C.UTF-8 > "$zt_etc/env.d/02locale"
	done
	zt_update_env_settings
}

step_build() {
	[ -n "$clst_root_path" ] || zt_die "stage1 needs its own root (clst_root_path), not /"
	zt_chroot_functions
	zt_profile_dir
	zt_pkgs=$(zt_stage1_packages) ||
		zt_die "cannot read packages.build of profile '$clst_profile'"
	# One line: the atoms, separated by single blanks.
	# shellcheck disable=SC2086,SC2116
	zt_pkgs=$(echo $zt_pkgs)
	[ -n "$zt_pkgs" ] ||
		zt_die "your profile seems to be broken: profile '$clst_profile' lists no packages in packages.build (is $zt_pdir a profile?)"
	zt_log "packages.build: $zt_pkgs"

	zt_bindist=
	[ -z "${clst_BINDIST:-}" ] || zt_bindist=bindist
	zt_bootstrap_use=
	if zt_have portageq; then
		zt_bootstrap_use=$(portageq envvar BOOTSTRAP_USE 2>/dev/null) || zt_bootstrap_use=
	fi
	FEATURES="${FEATURES:-} nodoc noman noinfo"
	export FEATURES

	# The seed gets bindist while it is updated (openssl, openssh).
	zt_make_conf_add "USE=\"$zt_bindist ${USE:-}\""
	stage1_update_seed
	zt_make_conf_drop

	ROOT=$clst_root_path
	export ROOT
	mkdir -p "$ROOT"

	# A known-good baselayout first, with USE=build: its pkg_preinst
	# makes the root's directory layout.
	zt_make_conf_add "USE=\"${USE:-} build\""
	run_merge --oneshot --nodeps sys-apps/baselayout
	zt_make_conf_drop

	stage1_locale

	# Then the build set, with the flags catalyst gives it: "-* build",
	# bindist, catalyst_use, BOOTSTRAP_USE and the arch's HOSTUSE.
	zt_make_conf_add "CATALYST_USE=\"-* build $zt_bindist ${clst_CATALYST_USE:-}\""
	# shellcheck disable=SC2016 # ${CATALYST_USE} is make.conf's
	zt_make_conf_add 'USE="${CATALYST_USE} '"${USE:-} $zt_bootstrap_use ${clst_HOSTUSE:-}\""
	for zt_ue in ${clst_HOSTUSEEXPAND:-}; do
		case $zt_ue in
		*[!A-Za-z0-9_]*) zt_die "HOSTUSEEXPAND name '$zt_ue' is not a variable name" ;;
		esac
		zt_uev=
		eval "zt_uev=\${clst_$zt_ue:-}"
		zt_make_conf_add "$zt_ue=\"$zt_uev\""
	done
	# shellcheck disable=SC2086 # a list of atoms
	run_merge --implicit-system-deps=n --oneshot $zt_pkgs
	zt_make_conf_drop

	# locale-gen does not honour ROOT: run it for the root explicitly.
	if zt_have locale-gen; then
		zt_rc=0
		if locale-gen -V 2>&1 | grep -q '^locale-gen-2\.'; then
			locale-gen --destdir "$ROOT/" || zt_rc=$?
		else
			locale-gen --config /etc/locale.gen --prefix "$ROOT/" || zt_rc=$?
		fi
		[ "$zt_rc" -eq 0 ] || zt_die "locale-gen failed"
	fi
}

# preclean, as catalyst's stage1 preclean-chroot.sh: the root's
# /etc/localtime to zoneinfo's Factory (or /etc/TZ = UTC without
# zoneinfo), no man, doc or info pages; then cleanup_stages.
step_preclean() {
	zt_r=${clst_root_path%/}
	[ -d "$zt_r" ] || zt_die "stage1 root $clst_root_path does not exist: did build run?"
	ROOT=$clst_root_path
	export ROOT
	zt_update_env_settings
	if [ -d "$zt_r/usr/share/zoneinfo" ]; then
		rm -f "$zt_r/etc/localtime"
		ln -s ../usr/share/zoneinfo/Factory "$zt_r/etc/localtime"
	else
		echo UTC > "$zt_r/etc/TZ"
	fi
	for zt_d in man doc info; do
		zt_empty_dir_glob "$zt_r/usr/share/$zt_d"
	done
	unset ROOT
	zt_cleanup_stages
}

zt_main "$@"
