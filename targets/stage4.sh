# SPDX-License-Identifier: GPL-2.0-or-later
# stage4.sh - zeolite's stage4 target, run inside the build chroot.
#
# A stage4 is a stage3 plus the spec's packages (stage4/packages), root
# overlays and fsscript, services, groups and users, trimmed by
# stage4/unmerge, stage4/rm and stage4/empty.  catalyst's order maps onto
# zeolite's steps so:
#   build     @system updated, the packages, root_overlay, fsscript
#   preclean  cleanup_stages, rc-update (rcadd, rcdel), unmerge
#   clean     rm, groups, users, empty, then the common cleanup
# stage4/use reaches emerge through the make.conf zeolite writes.
#
# Usage: /bin/sh stage4.sh {setup|build|preclean|clean}

case $0 in
*/*) zt_dir=${0%/*} ;;
*) zt_dir=. ;;
esac
# shellcheck source=functions.sh
. "$zt_dir/functions.sh"

# Without the shadow or busybox tools (a minimal root), users and groups
# are written into the files directly: ids from 1000 up, above the highest
# in use; a locked password in /etc/shadow when that file exists.

# stage4_next_id FILE: one more than the highest id >= 1000 in FILE.
stage4_next_id() {
	awk -F: 'BEGIN { m = 999 } $3 >= 1000 && $3 < 60000 && $3 > m { m = $3 } END { print m + 1 }' "$1"
}

stage4_file_group() {
	zt_gid=$(stage4_next_id /etc/group) || zt_die "cannot read /etc/group"
	printf '%s:x:%s:\n' "$1" "$zt_gid" >> /etc/group
	if [ -f /etc/gshadow ]; then
		printf '%s:!::\n' "$1" >> /etc/gshadow
	fi
}

stage4_file_user() {
	zt_uid=$(stage4_next_id /etc/passwd) || zt_die "cannot read /etc/passwd"
	# The user's own group, with the same number when that is free.
	if ! grep -q "^$1:" /etc/group; then
		if awk -F: -v g="$zt_uid" '$3 == g { f = 1 } END { exit !f }' /etc/group; then
			stage4_file_group "$1"
		else
			printf '%s:x:%s:\n' "$1" "$zt_uid" >> /etc/group
			[ ! -f /etc/gshadow ] || printf '%s:!::\n' "$1" >> /etc/gshadow
		fi
	fi
	zt_gid=$(awk -F: -v n="$1" '$1 == n { print $3 }' /etc/group)
	zt_sh=/bin/sh
	[ ! -x /bin/bash ] || zt_sh=/bin/bash
	printf '%s:x:%s:%s::/home/%s:%s\n' "$1" "$zt_uid" "$zt_gid" "$1" "$zt_sh" >> /etc/passwd
	if [ -f /etc/shadow ]; then
		printf '%s:!:%s:0:99999:7:::\n' "$1" "$(($(date +%s) / 86400))" >> /etc/shadow
	fi
	mkdir -p "/home/$1"
	chmod 0700 "/home/$1"
	chown "$zt_uid:$zt_gid" "/home/$1"
}

# stage4_file_member USER GROUP: add USER to GROUP's member list.
stage4_file_member() {
	grep -q "^$2:" /etc/group || zt_die "cannot add $1 to group $2: no such group"
	awk -F: -v OFS=: -v u="$1" -v g="$2" '
		$1 == g {
			n = split($4, m, ",")
			for (i = 1; i <= n; i++) if (m[i] == u) { print; next }
			$4 = ($4 == "" ? u : $4 "," u)
		}
		{ print }' /etc/group > /etc/group.zeolite-new
	cat /etc/group.zeolite-new > /etc/group
	rm -f /etc/group.zeolite-new
}

# stage4/groups: NAME ...
# catalyst splits a one-word value on commas: "wheel,audio" is two groups.
stage4_groups() {
	zt_gl=$(printf '%s' "${clst_groups:-${clst_stage4_groups:-}}" | tr ',' ' ')
	for zt_g in $zt_gl; do
		if grep -q "^$zt_g:" /etc/group 2>/dev/null; then
			zt_log "group $zt_g exists"
		elif zt_have groupadd; then
			zt_log "adding group $zt_g"
			groupadd "$zt_g" || zt_die "groupadd $zt_g failed"
		elif zt_have addgroup; then
			zt_log "adding group $zt_g"
			addgroup "$zt_g" || zt_die "addgroup $zt_g failed"
		else
			zt_log "adding group $zt_g (to /etc/group: no groupadd or addgroup)"
			stage4_file_group "$zt_g"
		fi
	done
}

# stage4/users: NAME or NAME=GROUP,GROUP... (supplementary groups, which
# must exist: the system's or those of stage4/groups).
stage4_users() {
	for zt_u in ${clst_users:-${clst_stage4_users:-}}; do
		zt_name=${zt_u%%=*}
		zt_grps=
		case $zt_u in
		*=*) zt_grps=${zt_u#*=} ;;
		esac
		[ -n "$zt_name" ] || zt_die "stage4/users: empty user name in '$zt_u'"
		if grep -q "^$zt_name:" /etc/passwd 2>/dev/null; then
			zt_log "user $zt_name exists"
			zt_new=
		else
			zt_new=yes
		fi
		if zt_have useradd; then
			if [ -n "$zt_new" ]; then
				zt_log "adding user $zt_name${zt_grps:+ (groups $zt_grps)}"
				useradd -m ${zt_grps:+-G "$zt_grps"} "$zt_name" ||
					zt_die "useradd $zt_name failed"
			elif [ -n "$zt_grps" ]; then
				usermod -a -G "$zt_grps" "$zt_name" ||
					zt_die "usermod $zt_name failed"
			fi
		elif zt_have adduser; then
			# busybox: adduser makes the user (and its own group),
			# addgroup USER GROUP adds it to a group.
			if [ -n "$zt_new" ]; then
				zt_log "adding user $zt_name${zt_grps:+ (groups $zt_grps)}"
				adduser -D "$zt_name" || zt_die "adduser $zt_name failed"
			fi
			zt_old_ifs=$IFS
			IFS=,
			for zt_g in $zt_grps; do
				IFS=$zt_old_ifs
				addgroup "$zt_name" "$zt_g" ||
					zt_die "adding $zt_name to group $zt_g failed"
			done
			IFS=$zt_old_ifs
		else
			if [ -n "$zt_new" ]; then
				zt_log "adding user $zt_name${zt_grps:+ (groups $zt_grps)} (to /etc/passwd: no useradd or adduser)"
				stage4_file_user "$zt_name"
			fi
			zt_old_ifs=$IFS
			IFS=,
			for zt_g in $zt_grps; do
				IFS=$zt_old_ifs
				stage4_file_member "$zt_name" "$zt_g"
			done
			IFS=$zt_old_ifs
		fi
	done
}

# stage4_service add|del SERVICE|RUNLEVEL: as catalyst's rc-update.sh
# (a missing runlevel is created for add); on a stage without OpenRC's
# rc-update, systemctl enable/disable (zeolite's addition); with neither
# the step fails: nothing is recorded to ship instead.
stage4_service() {
	zt_svc=${2%%|*}
	zt_lvl=default
	case $2 in
	*'|'*) zt_lvl=${2#*|} ;;
	esac
	[ -n "$zt_svc" ] || zt_die "stage4/rc$1: no service in '$2'"
	[ -n "$zt_lvl" ] || zt_lvl=default
	if zt_have rc-update; then
		if [ "$1" = add ] && [ ! -d "/etc/runlevels/$zt_lvl" ]; then
			zt_log "runlevel $zt_lvl does not exist: creating it"
			mkdir -p "/etc/runlevels/$zt_lvl"
		fi
		zt_log "rc-update $1 $zt_svc $zt_lvl"
		rc-update "$1" "$zt_svc" "$zt_lvl" || zt_die "rc-update $1 $zt_svc $zt_lvl failed"
	elif zt_have systemctl; then
		zt_act=enable
		[ "$1" = add ] || zt_act=disable
		zt_log "systemctl $zt_act $zt_svc"
		systemctl "$zt_act" "$zt_svc" || zt_die "systemctl $zt_act $zt_svc failed"
	else
		zt_die "stage4/rc$1 '$2': the stage has neither rc-update nor systemctl"
	fi
}

stage4_services() {
	for zt_s in ${clst_rcadd:-${clst_stage4_rcadd:-}}; do
		stage4_service add "$zt_s"
	done
	for zt_s in ${clst_rcdel:-${clst_stage4_rcdel:-}}; do
		stage4_service del "$zt_s"
	done
}

# stage4/root_overlay: zeolite copied each directory into the chroot
# ($clst_root_overlay lists the copies, in the spec's order); lay them over
# / as they are, owners and modes included, later ones winning.  The copies
# stay until the clean step empties /tmp, so a resumed build step finds
# them again.
stage4_root_overlay() {
	[ -n "${clst_root_overlay:-}" ] || return 0
	for zt_d in $clst_root_overlay; do
		[ -d "$zt_d" ] || zt_die "root overlay $zt_d is missing in the chroot"
		zt_log "laying root overlay $zt_d over /"
		cp -a "$zt_d/." / || zt_die "copying root overlay $zt_d failed"
	done
}

stage4_fsscript() {
	if [ -z "${clst_fsscript:-}" ]; then
		[ -z "${clst_stage4_fsscript:-}" ] ||
			zt_die "stage4/fsscript is set but clst_fsscript (its copy in the chroot) is not"
		return 0
	fi
	[ -f "$clst_fsscript" ] || zt_die "fsscript $clst_fsscript does not exist"
	zt_log "running fsscript $clst_fsscript"
	zt_rc=0
	if [ -x "$clst_fsscript" ]; then
		"$clst_fsscript" || zt_rc=$?
	else
		/bin/sh "$clst_fsscript" || zt_rc=$?
	fi
	[ "$zt_rc" -eq 0 ] || zt_die "fsscript $clst_fsscript failed with status $zt_rc"
}

step_build() {
	[ -z "$clst_root_path" ] || zt_die "stage4 builds in /, not in '$clst_root_path'"
	zt_chroot_functions
	zt_log "bringing the system up to date using the profile's USE flags"
	run_merge -u @system
	zt_pkgs=${clst_packages:-${clst_stage4_packages:-}}
	[ -n "$zt_pkgs" ] || zt_die "stage4/packages is empty"
	zt_log "emerging packages using stage4 USE flags"
	run_merge "$zt_pkgs"
	stage4_root_overlay
	stage4_fsscript
}

step_preclean() {
	zt_update_env_settings
	zt_cleanup_stages
	stage4_services
	zt_unmerge=${clst_stage4_unmerge:-}
	if [ -n "$zt_unmerge" ]; then
		zt_chroot_functions
		run_merge -C "$zt_unmerge"
	fi
}

# stage4/rm entries may be shell patterns, as catalyst's clear_path globs.
stage4_rm() {
	for zt_p in ${clst_stage4_rm:-}; do
		zt_check_path stage4/rm "$zt_p"
		zt_clear_path "$(zt_under_root "$zt_p")"
	done
}

# stage4/empty: each directory emptied, kept; symlinks and missing paths
# skipped with a warning, as catalyst.
stage4_empty() {
	for zt_p in ${clst_stage4_empty:-}; do
		zt_check_path stage4/empty "$zt_p"
		zt_f=$(zt_under_root "$zt_p")
		if [ -L "$zt_f" ] || [ ! -d "$zt_f" ]; then
			zt_warn "not a directory or does not exist, skipping empty: $zt_p"
			continue
		fi
		zt_log "emptying $zt_f"
		zt_empty_dir_glob "$zt_f"
	done
}

step_clean() {
	stage4_rm
	stage4_groups
	stage4_users
	stage4_empty
	zt_clean_stage /
	zt_rm_portage_tmp /
	rm -f /var/log/emerge.log /var/log/emerge-fetch.log
	zt_mountpoint /var/log/portage || zt_empty_dir_glob /var/log/portage
}

zt_main "$@"
