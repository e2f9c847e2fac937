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

# The locales catalyst writes to /etc/locale.gen for the build.
# shellcheck disable=SC2034 # used by the target scripts
ZT_LOCALES='
C.UTF-8 UTF-8
'

# Fill in what a caller running a script by hand may leave out.  zeolite
# always passes all of these.  Every word of clst_options becomes
# clst_<WORD>=true (upper case, "-" and "." as "_") unless already set:
# catalyst gives its scripts its options that way (clst_PKGCACHE,
# clst_BINDIST, ...), and these scripts read only that form.
zt_defaults() {
	: "${clst_repo_name:=gentoo}"
	: "${clst_repo_basedir:=/var/db/repos}"
	: "${clst_port_conf:=/etc/portage}"
	: "${clst_make_conf:=${clst_port_conf%/}/make.conf}"
	: "${clst_distdir:=/var/cache/distfiles}"
	: "${clst_pkgcache_path:=/var/cache/binpkgs}"
	: "${clst_options:=}"
	: "${clst_profile:=${clst_target_profile:-}}"
	: "${clst_target:=}"
	: "${clst_root_path:=}"
	# catalyst's root_path is empty for stage2-4 (it strips the "/").
	[ "$clst_root_path" != / ] || clst_root_path=
	case $clst_root_path in
	"" | /*) ;;
	*) zt_die "clst_root_path '$clst_root_path' is not an absolute path" ;;
	esac
	zt_repo_dir=${clst_repo_basedir%/}/$clst_repo_name
	for zt_o in $clst_options; do
		zt_v=clst_$(printf '%s' "$zt_o" | tr 'a-z.-' 'A-Z__')
		case $zt_v in
		*[!A-Za-z0-9_]*) zt_die "option '$zt_o' cannot be a variable name" ;;
		esac
		eval ": \"\${$zt_v:=true}\""
	done
}

# zt_root: the root the stage is built in: clst_root_path, "/" if empty.
zt_root() {
	printf '%s\n' "${clst_root_path:-/}"
}

# Is OPTION (lower case, as in the config) one of the build's options?
zt_option() {
	zt_v=clst_$(printf '%s' "$1" | tr 'a-z.-' 'A-Z__')
	eval "[ -n \"\${$zt_v:-}\" ]"
}

# --- catalyst's chroot environment ------------------------------------------

# zt_update_env_settings: env-update, then /etc/profile and the config's
# envscript (zeolite copies it to /tmp/envscript) sourced into this shell,
# as catalyst's update_env_settings does.  They are not written for set -eu
# or set -f, so those are off while they run.
zt_update_env_settings() {
	if [ -x /usr/sbin/env-update ]; then
		/usr/sbin/env-update || zt_warn "env-update failed"
	fi
	set +euf
	# shellcheck disable=SC1091
	[ ! -f /etc/profile ] || . /etc/profile
	# shellcheck disable=SC1091
	[ ! -f /tmp/envscript ] || . /tmp/envscript
	set -euf
}

# zt_setup_emerge_opts: zt_emerge_opts and zt_bootstrap_opts from the
# clst_* flags, as catalyst's setup_emerge_opts: --verbose or --quiet,
# --fetchonly (FETCH), --jobs, --load-average, and with PKGCACHE (unless
# the seed is being updated) --usepkg --buildpkg --binpkg-respect-use=y
# --newuse.
zt_setup_emerge_opts() {
	if [ -n "${clst_VERBOSE:-}" ]; then
		zt_emerge_opts=--verbose
		zt_bootstrap_opts=-v
	else
		zt_emerge_opts=--quiet
		zt_bootstrap_opts=-q
	fi
	if [ -n "${clst_FETCH:-}" ]; then
		zt_emerge_opts="$zt_emerge_opts --fetchonly"
		zt_bootstrap_opts="$zt_bootstrap_opts -f"
	fi
	[ -z "${clst_jobs:-}" ] || zt_emerge_opts="$zt_emerge_opts --jobs $clst_jobs"
	[ -z "${clst_load_average:-}" ] ||
		zt_emerge_opts="$zt_emerge_opts --load-average $clst_load_average"
	if [ -n "${clst_PKGCACHE:-}" ] &&
		{ [ -z "${clst_update_seed:-}" ] || [ "$clst_update_seed" = no ]; }; then
		zt_emerge_opts="$zt_emerge_opts --usepkg --buildpkg --binpkg-respect-use=y --newuse"
		zt_bootstrap_opts="$zt_bootstrap_opts -r"
	fi
}
zt_emerge_opts=
zt_bootstrap_opts=

# zt_setup_features: the emerge options, and FEATURES as catalyst's
# setup_features sets them (replacing the environment's): -news
# binpkg-multi-instance clean-logs parallel-install, plus ccache or distcc
# when those options are on (their packages merged into / first).
zt_setup_features() {
	zt_setup_emerge_opts
	zt_features="-news binpkg-multi-instance clean-logs parallel-install"
	# zeolite's addition: under a jobserver (jobserver-fifo, build -j),
	# portage >= 3.0.74 takes a token per emerge job.
	case "${MAKEFLAGS:-}" in
	*--jobserver-auth=*) zt_features="$zt_features jobserver-token" ;;
	esac
	FEATURES=$zt_features
	export FEATURES
	if [ -n "${clst_CCACHE:-}" ]; then
		zt_features="$zt_features ccache"
		ROOT=/ run_merge --oneshot --noreplace dev-util/ccache
	fi
	if [ -n "${clst_DISTCC:-}" ]; then
		zt_features="$zt_features distcc"
		DISTCC_HOSTS=${clst_distcc_hosts:-}
		export DISTCC_HOSTS
		if grep -q '^distcc:' /etc/passwd 2>/dev/null; then
			ROOT=/ run_merge --oneshot --noreplace sys-devel/distcc
		else
			ROOT=/ run_merge --oneshot sys-devel/distcc
		fi
		mkdir -p /etc/distcc
		printf '%s\n' "${clst_distcc_hosts:-}" > /etc/distcc/hosts
	fi
	if [ -n "${clst_ICECREAM:-}" ]; then
		ROOT=/ run_merge --oneshot --noreplace sys-devel/icecream
		PATH="/usr/lib/icecc/bin:$PATH"
		PREROOTPATH=/usr/lib/icecc/bin
		export PATH PREROOTPATH
	fi
	FEATURES=$zt_features
	export FEATURES
}

# zt_chroot_functions: what sourcing catalyst's chroot-functions.sh does
# by default (RUN_DEFAULT_FUNCS unset): update_env_settings and
# setup_features.  The preclean scripts skip it (RUN_DEFAULT_FUNCS=no) and
# so run emerge without options.
zt_chroot_functions() {
	zt_update_env_settings
	zt_setup_features
}

# --- running emerge --------------------------------------------------------

# run_merge ARG...: emerge as catalyst's run_merge runs it:
# EMERGE_WARNING_DELAY=0 CLEAN_DELAY=0, CONFIG_PROTECT="-*" unless it
# already starts with "-*", ROOT from the environment, the options of
# zt_setup_emerge_opts first; with the VERBOSE option a --pretend --tree
# run before.  Any non-zero status ends the step.  Arguments are split
# on blanks as catalyst's are.  Give emerge other variables (USE) with
# `export` inside a ( subshell ) around the call.
run_merge() {
	zt_have emerge || zt_die "emerge not found in PATH ($PATH)"
	EMERGE_WARNING_DELAY=0
	CLEAN_DELAY=0
	export EMERGE_WARNING_DELAY CLEAN_DELAY
	case ${CONFIG_PROTECT:-} in
	"-*"*) ;;
	*) CONFIG_PROTECT="-*"; export CONFIG_PROTECT ;;
	esac
	# shellcheck disable=SC2048,SC2086 # split as catalyst does
	set -- $zt_emerge_opts $*
	if [ -n "${clst_VERBOSE:-}" ]; then
		zt_log "running: ROOT=${ROOT:-} emerge $* -pt"
		zt_rc=0
		ROOT=${ROOT:-} emerge "$@" -pt || zt_rc=$?
		[ "$zt_rc" -eq 0 ] || zt_die "emerge $* -pt failed with status $zt_rc"
	fi
	zt_log "running: ${ROOT:+ROOT=$ROOT }emerge $*"
	zt_rc=0
	ROOT=${ROOT:-} emerge "$@" || zt_rc=$?
	[ "$zt_rc" -eq 0 ] || zt_die "emerge $* failed with status $zt_rc"
}

# run_emerge: the name earlier zeolite scripts used.
run_emerge() {
	run_merge "$@"
}

# zt_make_conf_add LINE: append LINE to make.conf, marked so that
# zt_make_conf_drop removes exactly the lines it added (catalyst adds and
# deletes its USE lines with sed the same way).  Nothing happens when
# there is no make.conf, as in catalyst.
ZT_MARK='# zeolite-target: temporary'
zt_make_conf_add() {
	[ -e "$clst_make_conf" ] || return 0
	printf '%s %s\n' "$1" "$ZT_MARK" >> "$clst_make_conf"
}
zt_make_conf_drop() {
	[ -e "$clst_make_conf" ] || return 0
	sed -i -e "/ $ZT_MARK\$/d" "$clst_make_conf"
}

# zt_cleanup_stages: catalyst's cleanup_stages, run at preclean: stage3
# depcleans (--with-bdeps=y); stage1-3 start with an empty world file;
# the bindist USE lines leave make.conf; emerge.log and the elog files go.
zt_cleanup_stages() {
	if [ -n "${clst_DISTCC:-}" ]; then
		rm -f /etc/distcc/hosts
	fi
	case $clst_target in
	stage3) run_merge --depclean --with-bdeps=y ;;
	*) zt_log "skipping depclean for $clst_target" ;;
	esac
	case $clst_target in
	stage1 | stage2 | stage3)
		zt_log "resetting /var/lib/portage/world"
		mkdir -p /var/lib/portage
		rm -f /var/lib/portage/world
		: > /var/lib/portage/world ;;
	*) zt_log "keeping the world file of $clst_target" ;;
	esac
	if [ -e "$clst_make_conf" ]; then
		# shellcheck disable=SC2016 # the literal ${USE}
		sed -i -e '/USE="${USE} bindist"/d' -e '/USE="bindist"/d' "$clst_make_conf"
	fi
	rm -f /var/log/emerge.log
	set +f
	rm -f /var/log/portage/elog/*
	set -f
}

# --- profiles --------------------------------------------------------------

# zt_profile_dir: set zt_pdir to the directory of clst_profile: under
# profiles/ of the build's repository, or of REPO for "REPO:PATH" (as
# catalyst's target_profile).
zt_profile_dir() {
	[ -n "$clst_profile" ] || zt_die "clst_profile is not set (spec key 'profile')"
	case $clst_profile in
	*:*) zt_pdir=${clst_repo_basedir%/}/${clst_profile%%:*}/profiles/${clst_profile#*:} ;;
	*) zt_pdir=$zt_repo_dir/profiles/$clst_profile ;;
	esac
}

# zt_relpath FROMDIR TO: TO (absolute) relative to the directory FROMDIR
# (absolute, no symlinks in the way): one "../" per component of FROMDIR.
zt_relpath() {
	zt_up=
	zt_rest=${1#/}
	zt_rest=${zt_rest%/}
	while [ -n "$zt_rest" ]; do
		zt_up="../$zt_up"
		case $zt_rest in
		*/*) zt_rest=${zt_rest#*/} ;;
		*) zt_rest= ;;
		esac
	done
	printf '%s%s\n' "$zt_up" "${2#/}"
}

# zt_profile_link CONFDIR: CONFDIR/make.profile -> the profile, relative.
zt_profile_link() {
	mkdir -p "$1"
	zt_link=$(zt_relpath "$1" "$zt_pdir")
	if [ -e "$1/make.profile" ] || [ -L "$1/make.profile" ]; then
		rm -rf "$1/make.profile"
	fi
	ln -s "$zt_link" "$1/make.profile"
	zt_log "profile: $1/make.profile -> $zt_link"
}

# zt_setup_profile: point $clst_port_conf/make.profile at the spec's profile
# with a relative symlink (../../var/db/repos/<repo>/profiles/<profile>),
# what `eselect profile set` would do; with a clst_root_path, the root's
# make.profile too, pointing at the same directory of the chroot (as
# catalyst's config_profile_link).
zt_setup_profile() {
	zt_profile_dir
	[ -d "$zt_pdir" ] || zt_die "profile '$clst_profile' not found: no directory $zt_pdir"
	zt_profile_link "$clst_port_conf"
	[ -z "$clst_root_path" ] ||
		zt_profile_link "${clst_root_path%/}$clst_port_conf"
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
	# As portage's stack_lists: an atom keeps its place while it stays;
	# removed and added again, it goes to the end.
	awk '
		{ sub(/#.*/, "") }
		{
			for (i = 1; i <= NF; i++) {
				a = $i
				if (a == "-*") {
					for (k in pos) delete pos[k]
				} else if (substr(a, 1, 1) == "-") {
					delete pos[substr(a, 2)]
				} else if (!(a in pos)) {
					pos[a] = ++n
					at[n] = a
				}
			}
		}
		END {
			for (i = 1; i <= n; i++)
				if ((at[i] in pos) && pos[at[i]] == i)
					print at[i]
		}' $zt_files
}

# zt_stage1_packages: the package list catalyst's stage1 build.py gives
# emerge: packages.build stacked over the profile; each atom of the
# stacked "packages" that dep_getkey() can read (so none with a "*"
# prefix) replaces the first packages.build entry that is exactly its
# CATEGORY/NAME, versions and operators included.  One atom a line.
zt_stage1_packages() {
	zt_b=$(zt_profile_stack packages.build) || return 1
	zt_p=$(zt_profile_stack packages) || return 1
	printf '%s\n' "$zt_p" | awk -v b="$zt_b" '
		BEGIN { nb = split(b, B, "\n") }
		NF == 0 || /^\*/ { next }
		{
			k = $1
			sub(/^!!?/, "", k)
			op = 0
			if (k ~ /^(<=|>=|<|>|=|~)/) { op = 1; sub(/^(<=|>=|<|>|=|~)/, "", k) }
			sub(/::.*$/, "", k)
			sub(/\[.*$/, "", k)
			sub(/:.*$/, "", k)
			if (op) {
				sub(/\*$/, "", k)
				sub(/-[0-9]+(\.[0-9]+)*[a-z]?((_alpha|_beta|_pre|_rc|_p)[0-9]*)*(-r[0-9]+)?$/, "", k)
			}
			for (i = 1; i <= nb; i++)
				if (B[i] == k) { B[i] = $1; break }
		}
		END { for (i = 1; i <= nb; i++) if (B[i] != "") print B[i] }'
}

# --- removing things safely ------------------------------------------------

# zt_under_root PATH: PATH as seen from clst_root_path.
zt_under_root() {
	printf '%s%s\n' "${clst_root_path%/}" "$1"
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

# zt_empty_dir DIR [KEEP]: remove everything inside DIR (dot files too)
# but KEEP, keep DIR.  Entries on another filesystem (a mount point) are
# left alone, with a warning, so that nothing mounted into the chroot is
# ever reached.
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

# zt_clear_path PATTERN: remove what the shell pattern PATTERN names
# (files or whole trees), as catalyst's clear_path does with a glob.
zt_clear_path() {
	set +f
	# shellcheck disable=SC2086 # a pattern, meant to be expanded
	for zt_f in $1; do
		set -f
		if [ -e "$zt_f" ] || [ -L "$zt_f" ]; then
			zt_log "removing $zt_f"
			rm -rf "$zt_f"
		fi
	done
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
	[ -f "$clst_make_conf" ] ||
		zt_warn "$clst_make_conf does not exist (zeolite writes it)"
	mkdir -p /var/tmp /var/log
	chmod 1777 /var/tmp 2>/dev/null || true
}

step_build() {
	zt_die "target '${clst_target:-?}' has no build step"
}

step_preclean() {
	zt_update_env_settings
	zt_cleanup_stages
}

# The directories of /etc/portage that catalyst clears of the
# portage_prefix entry.
ZT_PREFIX_DIRS="package.accept_keywords package.keywords package.mask package.unmask
package.use package.env env profile/package.use.force profile/package.use.mask"

# zt_clean_stage: the part of catalyst's clean() that works inside the
# stage (STAGE is the stage's root: clst_root_path, or /):
#   - its cleanables: /etc/machine-id, /var/tmp/*, /tmp/* (a mount point,
#     and in / the stage1 root, are kept), for stage1 /etc/portage/package*
#     and the root's /etc/resolv.conf and /etc/sandbox.d/99catalyst; in /
#     those two are zeolite's business (it restores the seed's files);
#   - portage_prefix's entries in /etc/portage/package.* and env, unless
#     the sticky-config option is on;
#   - /etc/portage/patches, with a warning;
#   - the backups /etc/*- (find -maxdepth 1);
#   - and, which catalyst needs not as its emerge never writes them,
#     /etc ._cfg????_* files, each with a warning.
# The stage's make.conf is left alone: zeolite writes the one that ships
# after the last step (catalyst's write_make_conf(setup=False)).
zt_clean_stage() {
	zt_s=${1%/}
	rm -f "$zt_s/etc/machine-id"
	if [ -n "$zt_s" ]; then
		rm -f "$zt_s/etc/resolv.conf" "$zt_s/etc/sandbox.d/99catalyst"
	fi
	zt_empty_dir_glob "$zt_s/var/tmp"
	if [ -d "$zt_s/tmp" ]; then
		zt_keep=
		case $zt_s:$clst_root_path in
		:/tmp/?*)
			zt_keep=${clst_root_path#/tmp/}
			zt_keep=/tmp/${zt_keep%%/*} ;;
		esac
		zt_empty_dir_glob "$zt_s/tmp" "$zt_keep"
		chmod 1777 "$zt_s/tmp" 2>/dev/null || true
	fi
	[ "$clst_target" != stage1 ] || zt_clear_path "$zt_s$clst_port_conf/package*"
	if [ -n "${clst_portage_prefix:-}" ] && ! zt_option sticky-config; then
		zt_check_path portage_prefix "/${clst_portage_prefix}"
		for zt_d in $ZT_PREFIX_DIRS; do
			zt_f=$zt_s$clst_port_conf/$zt_d/$clst_portage_prefix
			if [ -e "$zt_f" ] || [ -L "$zt_f" ]; then
				zt_log "removing portage_prefix entry $zt_f"
				rm -rf "$zt_f"
			fi
		done
	fi
	if [ -e "$zt_s$clst_port_conf/patches" ]; then
		zt_warn "removing $zt_s$clst_port_conf/patches: patches never ship in a stage"
		rm -rf "$zt_s$clst_port_conf/patches"
	fi
	if [ -d "$zt_s/etc" ]; then
		find "$zt_s/etc/" -maxdepth 1 -name '*-' -exec rm -rf {} +
		zt_cfgs=$(find "$zt_s/etc/" -xdev -name '._cfg[0-9][0-9][0-9][0-9]_*' -print) ||
			zt_die "cannot search $zt_s/etc for ._cfg files"
		zt_old_ifs=$IFS
		IFS='
'
		for zt_f in $zt_cfgs; do
			zt_warn "removing $zt_f: emerge ran without CONFIG_PROTECT=-*"
			rm -f "$zt_f"
		done
		IFS=$zt_old_ifs
	fi
}

# zt_mountpoint DIR: is DIR a mount point (another device than its parent)?
zt_mountpoint() {
	[ -d "$1" ] && zt_have stat || return 1
	[ "$(stat -c %d "$1" 2>/dev/null)" != "$(stat -c %d "$1/.." 2>/dev/null)" ]
}

# clean: zt_clean_stage on the stage (for stage1 the root in
# clst_root_path), then what else no stage should ship: portage's build
# directory and logs in the chroot.
step_clean() {
	zt_clean_stage "$(zt_root)"
	zt_rm_portage_tmp /
	rm -f /var/log/emerge.log /var/log/emerge-fetch.log
	# (port_logdir: the host's log directory is mounted there)
	zt_mountpoint /var/log/portage || zt_empty_dir_glob /var/log/portage
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
	zt_log "target ${clst_target:-?}, root $(zt_root)"
	"step_$1"
	zt_log "done"
}
