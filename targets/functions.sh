# SPDX-License-Identifier: GPL-2.0-or-later
# functions.sh - helpers shared by zeolite's target scripts.
#
# zeolite runs, inside the build chroot and for each step in turn,
#     /bin/sh /usr/share/zeolite/targets/<target>.sh <step>
# with a clean environment holding the spec as clst_* variables (see
# docs/build-scripts.md).  A target script sources this file, replaces the
# step_* functions it needs and ends with `zt_main "$@"`.
#
# Everything here is POSIX sh: it must run under busybox sh, dash and bash.
# Word splitting of list variables (clst_stage4_packages, clst_emerge_opts,
# ...) is intended, so globbing is off (set -f); code that wants a glob
# turns it on for that line only.

set -eu
set -f

ZT_STEPS="setup build preclean clean"
zt_step=${1:-}

# --- messages ------------------------------------------------------------

zt_log() {
	printf 'zeolite-target: %s: %s\n' "${zt_step:-?}" "$*"
}

zt_warn() {
	printf 'zeolite-target: %s: warning: %s\n' "${zt_step:-?}" "$*" >&2
}

zt_die() {
	printf 'zeolite-target: %s: error: %s\n' "${zt_step:-?}" "$*" >&2
	exit 1
}

# Does the command NAME exist (a builtin, a function or a file in PATH)?
# (No /dev/null needed.)
zt_have() {
	[ -n "$(command -v "$1")" ]
}

# --- the environment zeolite passes ----------------------------------------

# Fill in what a caller running a script by hand may leave out.  zeolite
# always passes all of these.
zt_defaults() {
	: "${clst_repo_name:=gentoo}"
	: "${clst_repo_basedir:=/var/db/repos}"
	: "${clst_port_conf:=/etc/portage}"
	: "${clst_distdir:=/var/cache/distfiles}"
	: "${clst_pkgcache_path:=/var/cache/binpkgs}"
	: "${clst_emerge_opts:=}"
	: "${clst_options:=}"
	: "${clst_profile:=}"
	: "${clst_target:=}"
	: "${clst_root_path:=/}"
	case $clst_root_path in
	/*) ;;
	*) zt_die "clst_root_path '$clst_root_path' is not an absolute path" ;;
	esac
	zt_repo_dir=${clst_repo_basedir%/}/$clst_repo_name
}

# Is OPTION one of the words of clst_options (e.g. "pkgcache bindist")?
zt_option() {
	case " $clst_options " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# --- running emerge --------------------------------------------------------

# run_emerge ARG...: run emerge with these arguments, saying so first; any
# non-zero status ends the step.  Environment for emerge (USE, FEATURES)
# is set by the caller with `export` inside a ( subshell ).
run_emerge() {
	zt_have emerge || zt_die "emerge not found in PATH ($PATH)"
	zt_log "running: emerge $*"
	zt_rc=0
	emerge "$@" || zt_rc=$?
	[ "$zt_rc" -eq 0 ] || zt_die "emerge $* failed with status $zt_rc"
}

# --- profiles --------------------------------------------------------------

# zt_profile_dir: set zt_pdir to the directory of clst_profile inside the
# repository.
zt_profile_dir() {
	[ -n "$clst_profile" ] || zt_die "clst_profile is not set (spec key 'profile')"
	zt_pdir=$zt_repo_dir/profiles/$clst_profile
}

# zt_setup_profile: point $clst_port_conf/make.profile at the spec's profile
# with a relative symlink (../../var/db/repos/<repo>/profiles/<profile>),
# what `eselect profile set` would do.
zt_setup_profile() {
	zt_profile_dir
	[ -d "$zt_pdir" ] || zt_die "profile '$clst_profile' not found: no directory $zt_pdir"
	mkdir -p "$clst_port_conf"
	# One "../" per component of clst_port_conf leads back to /.
	zt_up=
	zt_rest=${clst_port_conf#/}
	while [ -n "$zt_rest" ]; do
		zt_up="../$zt_up"
		case $zt_rest in
		*/*) zt_rest=${zt_rest#*/} ;;
		*) zt_rest= ;;
		esac
	done
	zt_link=${zt_up}${zt_pdir#/}
	if [ -e "$clst_port_conf/make.profile" ] || [ -L "$clst_port_conf/make.profile" ]; then
		rm -rf "$clst_port_conf/make.profile"
	fi
	ln -s "$zt_link" "$clst_port_conf/make.profile"
	zt_log "profile: $clst_port_conf/make.profile -> $zt_link"
}

# zt_profile_walk DIR [DEPTH]: print DIR's profile stack, one directory a
# line, parents first, DIR last: what portage stacks for make.profile.
# "parent" lines are paths relative to the profile, absolute paths, or
# "repo:path" (path under that repository's profiles/).  Runs in a subshell
# so that the recursion keeps its own variables.
zt_profile_walk() (
	dir=$1
	depth=${2:-0}
	[ "$depth" -lt 64 ] || zt_die "profile parents nest deeper than 64 levels at $dir (a loop?)"
	[ -d "$dir" ] || zt_die "profile directory $dir does not exist"
	if [ -f "$dir/parent" ]; then
		while IFS= read -r line || [ -n "$line" ]; do
			line=${line%%#*}
			# shellcheck disable=SC2086 # split off blanks
			set -- $line
			[ $# -gt 0 ] || continue
			case $1 in
			/*) p=$1 ;;
			*:*) p=${clst_repo_basedir%/}/${1%%:*}/profiles/${1#*:} ;;
			*) p=$dir/$1 ;;
			esac
			zt_profile_walk "$p" $((depth + 1)) || exit 1
		done < "$dir/parent"
	fi
	printf '%s\n' "$dir"
)

# zt_profile_stack FILE: stack FILE (e.g. packages.build) over the profile
# stack of clst_profile, the way portage stacks incremental lists: parents
# first; "-atom" removes an atom a parent added, "-*" removes all so far.
# Prints the resulting atoms in order, one a line.  (bash does not keep
# set -e inside $(...), so every status here is checked explicitly.)
zt_profile_stack() {
	zt_profile_dir
	zt_dirs=$(zt_profile_walk "$zt_pdir") || return 1
	zt_files=
	for zt_d in $zt_dirs; do
		[ -f "$zt_d/$1" ] && zt_files="$zt_files $zt_d/$1"
	done
	[ -n "$zt_files" ] || return 0
	# shellcheck disable=SC2086 # a list of file names without blanks
	awk '
		{ sub(/#.*/, "") }
		{
			for (i = 1; i <= NF; i++) {
				a = $i
				if (a == "-*") {
					for (k in on) on[k] = 0
				} else if (substr(a, 1, 1) == "-") {
					on[substr(a, 2)] = 0
				} else {
					if (!(a in seen)) { order[++n] = a; seen[a] = 1 }
					on[a] = 1
				}
			}
		}
		END {
			for (i = 1; i <= n; i++)
				if (on[order[i]] && !(order[i] in done)) {
					print order[i]
					done[order[i]] = 1
				}
		}' $zt_files
}

# --- removing things safely ------------------------------------------------

# zt_under_root PATH: PATH as seen from clst_root_path.
zt_under_root() {
	if [ "$clst_root_path" = / ]; then
		printf '%s\n' "$1"
	else
		printf '%s%s\n' "${clst_root_path%/}" "$1"
	fi
}

# zt_check_path WHAT PATH: refuse paths that are not absolute, that name
# the root itself, or that climb with "..".
zt_check_path() {
	case $2 in
	/*) ;;
	*) zt_die "$1: '$2' is not an absolute path" ;;
	esac
	case /$2/ in
	*/../*) zt_die "$1: '$2' contains '..'" ;;
	esac
	[ -n "$(printf '%s' "$2" | tr -d /)" ] || zt_die "$1: refusing to touch '/'"
}

# zt_empty_dir DIR: remove everything inside DIR (dot files too), keep DIR.
# Entries on another filesystem (a mount point) are left alone, with a
# warning, so that nothing mounted into the chroot is ever reached.
zt_empty_dir() {
	[ -d "$1" ] && [ ! -L "$1" ] || return 0
	zt_dev=
	zt_have stat && zt_dev=$(stat -c %d "$1" 2>/dev/null) || zt_dev=
	for zt_e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
		[ -e "$zt_e" ] || [ -L "$zt_e" ] || continue
		if [ -n "${2:-}" ] && [ "$zt_e" = "$2" ]; then
			continue
		fi
		if [ -n "$zt_dev" ] && [ -d "$zt_e" ] && [ ! -L "$zt_e" ] &&
			[ "$(stat -c %d "$zt_e" 2>/dev/null)" != "$zt_dev" ]; then
			zt_warn "not removing $zt_e: it is a mount point"
			continue
		fi
		rm -rf "$zt_e"
	done
}
# The loop above needs globbing; turn it on only while it runs.
zt_empty_dir_glob() {
	set +f
	zt_empty_dir "$@"
	set -f
}

# zt_rm_portage_tmp [ROOT]: remove portage's build directory.
zt_rm_portage_tmp() {
	zt_r=${1:-/}
	zt_r=${zt_r%/}
	if [ -d "$zt_r/var/tmp/portage" ]; then
		zt_log "removing $zt_r/var/tmp/portage"
		zt_empty_dir_glob "$zt_r/var/tmp/portage"
		rmdir "$zt_r/var/tmp/portage" 2>/dev/null || true
	fi
}

# --- the common steps --------------------------------------------------------

step_setup() {
	zt_setup_profile
	[ -f "$clst_port_conf/make.conf" ] ||
		zt_warn "$clst_port_conf/make.conf does not exist (zeolite writes it)"
	mkdir -p /var/tmp /var/log "$clst_distdir"
	chmod 1777 /var/tmp 2>/dev/null || true
}

step_build() {
	zt_die "target '${clst_target:-?}' has no build step"
}

step_preclean() {
	zt_rm_portage_tmp /
}

# clean: what no stage should ship: portage's build directory, /tmp (but not
# the stage1 root inside it), the build's portage logs.  The same inside
# clst_root_path when that is not /.
step_clean() {
	zt_roots=/
	[ "$clst_root_path" = / ] || zt_roots="/ $clst_root_path"
	for zt_root in $zt_roots; do
		zt_rm_portage_tmp "$zt_root"
		zt_r=${zt_root%/}
		if [ -d "$zt_r/tmp" ]; then
			zt_log "emptying $zt_r/tmp"
			# Keep the stage1 root (or the top directory holding it)
			# when it lives in this /tmp.
			zt_keep=
			case $zt_root:$clst_root_path in
			/:/tmp/?*)
				zt_keep=${clst_root_path#/tmp/}
				zt_keep=/tmp/${zt_keep%%/*} ;;
			esac
			zt_empty_dir_glob "$zt_r/tmp" "$zt_keep"
			chmod 1777 "$zt_r/tmp" 2>/dev/null || true
		fi
		rm -f "$zt_r/var/log/emerge.log" "$zt_r/var/log/emerge-fetch.log"
		zt_empty_dir_glob "$zt_r/var/log/portage"
	done
}

# --- dispatch ------------------------------------------------------------------

# zt_main STEP: run one step.  Target scripts end with `zt_main "$@"`.
zt_main() {
	[ $# -eq 1 ] || zt_die "usage: $0 {$(echo "$ZT_STEPS" | tr ' ' '|')}"
	case " $ZT_STEPS " in
	*" $1 "*) ;;
	*) zt_die "unknown step '$1' (steps: $ZT_STEPS)" ;;
	esac
	zt_step=$1
	zt_defaults
	umask 022
	cd /
	zt_log "target ${clst_target:-?}, root $clst_root_path"
	"step_$1"
	zt_log "done"
}
