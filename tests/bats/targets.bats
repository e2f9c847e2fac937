#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The target scripts (targets/*.sh) run in a plain chroot: a busybox seed
# with tests/seed/emerge-standin as emerge and a small fake repository, the
# way `zeolite build` runs them (clean environment, clst_* variables, one
# step at a time).  Needs root (chroot) and Debian's busybox-static.
bats_require_minimum_version 1.5.0

: "${SRCDIR:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
BUSYBOX=${BUSYBOX:-/bin/busybox}
PROFILE=default/linux/amd64/23.0
PATHVAR=PATH=/bin:/sbin:/usr/bin:/usr/sbin  # catalyst's TargetBase PATH

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for chroot"
	[ -x "$BUSYBOX" ] || skip "needs a static busybox at $BUSYBOX"
	WORK=$(mktemp -d /var/tmp/zeolite-targets.XXXXXX)
	ROOT=$WORK/root
	make_seed "$ROOT"
	make_repo "$ROOT/var/db/repos/gentoo"
	LOG=$ROOT/var/log/emerge-standin.log
}

teardown() {
	[ -z "${WORK:-}" ] || rm -rf "$WORK"
}

# A busybox root: every applet linked, root's passwd and group, the
# stand-in emerge, zeolite's targets where zeolite bind-mounts them, and
# the make.conf zeolite would write.
make_seed() {
	local r=$1 d
	for d in bin sbin usr/bin usr/sbin etc/portage/repos.conf tmp var/tmp var/log \
		root home var/cache/distfiles var/cache/binpkgs usr/share/zeolite; do
		mkdir -p "$r/$d"
	done
	chmod 1777 "$r/tmp" "$r/var/tmp"
	# zeolite mounts a minimal /dev; the tests need only /dev/null.
	mkdir -p "$r/dev"
	mknod -m 0666 "$r/dev/null" c 1 3
	cp "$BUSYBOX" "$r/bin/busybox"
	chroot "$r" /bin/busybox --install -s
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$r/etc/passwd"
	printf 'root:x:0:root\nwheel:x:10:root\nusers:x:100:\nnogroup:x:65534:\n' > "$r/etc/group"
	install -m 0755 "$SRCDIR/tests/seed/emerge-standin" "$r/usr/bin/emerge"
	cp -r "$SRCDIR/targets" "$r/usr/share/zeolite/targets"
	printf 'COMMON_FLAGS="-O2 -pipe"\nUSE="bindist"\n' > "$r/etc/portage/make.conf"
	printf '[gentoo]\nlocation = /var/db/repos/gentoo\n' > "$r/etc/portage/repos.conf/zeolite.conf"
}

# A fake ::gentoo: 23.0 -> default/linux -> base, and 23.0 -> gentoo:arch/amd64
# (the "repo:path" form), each with a packages.build; default/linux removes
# one of base's atoms again.
make_repo() {
	local g=$1 p=$1/profiles
	mkdir -p "$p/base" "$p/default/linux/amd64/23.0" "$p/arch/amd64"
	echo gentoo > "$p/repo_name"
	printf '# the base set\nsys-apps/baselayout\nsys-libs/glibc\n\nsys-apps/dropped-later\n' \
		> "$p/base/packages.build"
	printf '../../base\n' > "$p/default/linux/parent"
	printf 'sys-devel/gcc   # a comment\n-sys-apps/dropped-later\n' > "$p/default/linux/packages.build"
	printf '../..\ngentoo:arch/amd64\n' > "$p/default/linux/amd64/23.0/parent"
	printf '>=sys-devel/binutils-2.40\n' > "$p/arch/amd64/packages.build"
	# "packages" (the system set): catalyst's build.py puts an atom it can
	# read (no "*" prefix) in place of packages.build's CATEGORY/NAME.
	printf '*>=sys-apps/baselayout-2\n*sys-devel/gcc\n' > "$p/base/packages"
	printf '>=sys-libs/glibc-2.38\n' > "$p/default/linux/packages"
	mkdir -p "$g/scripts"
}

# run_step TARGET STEP [NAME=VALUE...]: run one step as zeolite does, with a
# clean environment; SHELL_CMD (default /bin/sh) is the shell.
run_step() {
	local target=$1 step=$2 rootpath=/
	shift 2
	[ "$target" != stage1 ] || rootpath=/tmp/stage1root
	chroot "$ROOT" /usr/bin/env -i "$PATHVAR" TERM=dumb \
		clst_target="$target" clst_subarch=amd64 clst_rel_type=23.0-default \
		clst_version_stamp=test clst_profile="$PROFILE" \
		clst_snapshot_treeish=0123abcd clst_source_subpath=23.0-default/seed \
		clst_root_path="$rootpath" clst_repo_name=gentoo \
		clst_repo_basedir=/var/db/repos clst_distdir=/var/cache/distfiles \
		clst_pkgcache_path=/var/cache/binpkgs clst_jobs=2 clst_load_average=2 \
		clst_options="pkgcache bindist" \
		clst_port_conf=/etc/portage \
		"$@" \
		${SHELL_CMD:-/bin/sh} "/usr/share/zeolite/targets/$target.sh" "$step"
}

# run_target TARGET [NAME=VALUE...]: every step in order; stops at the first
# failure (bats' run captures the status and output).
run_target() {
	local target=$1 step
	shift
	for step in setup build preclean clean; do
		run_step "$target" "$step" "$@" || return
	done
}

# Copy the host's bash and the libraries it needs into the seed.
add_bash() {
	local lib
	command -v ldd >/dev/null || skip "needs ldd to copy bash"
	for lib in $(ldd /bin/bash | grep -o '/[^ ]*'); do
		mkdir -p "$ROOT$(dirname "$lib")"
		cp -L "$lib" "$ROOT$lib"
	done
	cp /bin/bash "$ROOT/usr/local/bash" 2>/dev/null || {
		mkdir -p "$ROOT/usr/local"
		cp /bin/bash "$ROOT/usr/local/bash"
	}
}

@test "targets: every script is POSIX sh (dash -n, shellcheck -s sh) and has an SPDX line" {
	local f
	for f in "$SRCDIR"/targets/*.sh "$SRCDIR/tests/seed/emerge-standin"; do
		grep -q '^# SPDX-License-Identifier: GPL-2.0-or-later$' "$f"
		if command -v dash >/dev/null; then dash -n "$f"; fi
		"$BUSYBOX" sh -n "$f"
	done
	command -v shellcheck >/dev/null || skip "shellcheck not installed"
	cd "$SRCDIR/targets"
	shellcheck -x -s sh ./*.sh
	shellcheck -s sh "$SRCDIR/tests/seed/emerge-standin"
}

@test "setup points make.profile at the spec's profile, relative to /" {
	run_step stage3 setup
	[ -L "$ROOT/etc/portage/make.profile" ]
	[ "$(readlink "$ROOT/etc/portage/make.profile")" = "../../var/db/repos/gentoo/profiles/$PROFILE" ]
	chroot "$ROOT" /bin/sh -c 'test -d /etc/portage/make.profile/'
	# A second setup replaces the link (and a directory left there).
	rm "$ROOT/etc/portage/make.profile"
	mkdir "$ROOT/etc/portage/make.profile"
	run_step stage3 setup
	[ -L "$ROOT/etc/portage/make.profile" ]
}

@test "setup fails, naming the profile, when the profile does not exist" {
	run -1 run_step stage3 setup clst_profile=default/linux/nonesuch
	[[ "$output" == *"zeolite-target: setup: error: profile 'default/linux/nonesuch' not found"* ]]
}

@test "an unknown step, or no step, fails" {
	run -1 run_step stage3 install
	[[ "$output" == *"unknown step 'install'"* ]]
	run -1 chroot "$ROOT" /usr/bin/env -i "$PATHVAR" /bin/sh /usr/share/zeolite/targets/stage3.sh
	[[ "$output" == *"usage:"* ]]
}

# The emerge options catalyst's setup_emerge_opts gives for the options
# "pkgcache bindist", jobs 2 and load-average 2.
OPTS="--quiet --jobs 2 --load-average 2 --usepkg --buildpkg --binpkg-respect-use=y --newuse"
FEATURES_BASE="-news binpkg-multi-instance clean-logs parallel-install"

# env_of PATTERN: the environment the stand-in recorded for its first call
# whose arguments match the extended regular expression PATTERN.
env_of() {
	awk -v pat="$1" '
		/^=== emerge / && !found { cur = ($0 ~ pat); next }
		/^=== end$/ { if (cur) found = 1; cur = 0; next }
		cur { print }' "$ROOT/var/log/emerge-standin.env"
}

@test "stage1: baselayout first with USE=build, then packages.build with -* build, catalyst's environment and options" {
	mkdir -p "$ROOT/tmp/junk" "$ROOT/var/tmp/portage/sys-devel/gcc-0"
	touch "$ROOT/tmp/.hidden" "$ROOT/var/log/emerge.log"
	run run_target stage1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"zeolite-target: build: packages.build: sys-apps/baselayout >=sys-libs/glibc-2.38 sys-devel/gcc >=sys-devel/binutils-2.40"* ]]
	# No seed update unless asked: two calls, baselayout alone first.
	[ "$(grep -c . "$LOG")" -eq 2 ]
	[ "$(sed -n 1p "$LOG")" = "ROOT=/tmp/stage1root USE=\"build\" emerge $OPTS --oneshot --nodeps sys-apps/baselayout" ]
	[ "$(sed -n 2p "$LOG")" = "ROOT=/tmp/stage1root USE=\"-* build bindist\" emerge $OPTS --implicit-system-deps=n --oneshot sys-apps/baselayout >=sys-libs/glibc-2.38 sys-devel/gcc >=sys-devel/binutils-2.40" ]
	! grep -q dropped-later "$LOG"
	# catalyst's run_merge environment.
	env_of 'sys-apps/baselayout$' > "$WORK/env1"
	grep -qx 'CONFIG_PROTECT=-\*' "$WORK/env1"
	grep -qx 'CLEAN_DELAY=0' "$WORK/env1"
	grep -qx 'EMERGE_WARNING_DELAY=0' "$WORK/env1"
	grep -qx 'ROOT=/tmp/stage1root' "$WORK/env1"
	grep -qx "FEATURES=$FEATURES_BASE nodoc noman noinfo" "$WORK/env1"
	# make.conf is back as it was but for catalyst's bindist line.
	! grep -q 'zeolite-target\|CATALYST_USE\|build' "$ROOT/etc/portage/make.conf"
	! grep -q '^USE="bindist"' "$ROOT/etc/portage/make.conf"
	grep -q '^COMMON_FLAGS="-O2 -pipe"$' "$ROOT/etc/portage/make.conf"
	# The root has its own make.conf and make.profile, the locale is set.
	[ -f "$ROOT/tmp/stage1root/etc/portage/make.conf" ]
	[ "$(readlink "$ROOT/tmp/stage1root/etc/portage/make.profile")" = "../../../../var/db/repos/gentoo/profiles/$PROFILE" ]
	grep -qx 'C.UTF-8 UTF-8' "$ROOT/etc/locale.gen"
	[ "$(cat "$ROOT/tmp/stage1root/etc/env.d/02locale")" = LANG=C.UTF-8 ]
	[ "$(cat "$ROOT/etc/env.d/02locale")" = LANG=C.UTF-8 ]
	local p
	for p in sys-apps/baselayout sys-libs/glibc sys-devel/gcc sys-devel/binutils; do
		[ -f "$ROOT/tmp/stage1root/var/db/pkg/$p-0/CONTENTS" ]
		[ -f "$ROOT/var/cache/binpkgs/$p-0.gpkg.tar" ]
		[ ! -e "$ROOT/var/db/pkg/$p-0" ]
	done
	[ "$(cat "$ROOT/tmp/stage1root/usr/share/standin/sys-devel_binutils")" = ">=sys-devel/binutils-2.40" ]
	# preclean: the world file reset, TZ without zoneinfo.
	[ -f "$ROOT/var/lib/portage/world" ] && [ ! -s "$ROOT/var/lib/portage/world" ]
	[ "$(cat "$ROOT/tmp/stage1root/etc/TZ")" = UTC ]
	[ -d "$ROOT/tmp/stage1root/etc" ]
	[ ! -e "$ROOT/var/tmp/portage" ]
}

@test "stage1 clean: the build-only files leave the stage1 root" {
	local s=$ROOT/tmp/stage1root
	run_step stage1 setup
	run_step stage1 build
	mkdir -p "$s/etc/portage/package.use/releng" "$s/etc/portage/package.mask" \
		"$s/etc/portage/patches/sys-libs/glibc" "$s/var/tmp/x" "$s/tmp"
	touch "$s/etc/machine-id" "$s/etc/passwd-" "$s/etc/group-" "$s/etc/._cfg0000_os-release" \
		"$s/var/tmp/x/y" "$s/tmp/z" "$s/etc/portage/package.mask/releng"
	printf 'COMMON_FLAGS="-O2"\n' >> "$s/etc/portage/make.conf"
	mkdir -p "$s/etc/sandbox.d"
	touch "$s/etc/resolv.conf" "$s/etc/sandbox.d/99catalyst"
	run run_step stage1 clean clst_portage_prefix=releng
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e "$s/etc/machine-id" ] && [ ! -e "$s/etc/passwd-" ] && [ ! -e "$s/etc/group-" ]
	[ ! -e "$s/etc/._cfg0000_os-release" ]
	[[ "$output" == *"warning: removing $s"*"._cfg0000_os-release"* ]] || [[ "$output" == *"warning: removing /tmp/stage1root/etc/._cfg0000_os-release"* ]]
	[ ! -e "$s/etc/portage/patches" ]
	[ -z "$(ls -A "$s/var/tmp")" ] && [ -z "$(ls -A "$s/tmp")" ]
	# stage1's cleanables include /etc/portage/package*.
	[ -z "$(ls -d "$s"/etc/portage/package* 2>/dev/null)" ]
	# the root's cleanables (in / zeolite restores them itself)
	[ ! -e "$s/etc/resolv.conf" ] && [ ! -e "$s/etc/sandbox.d/99catalyst" ]
	# make.conf is zeolite's to write after the last step
	grep -q '^COMMON_FLAGS="-O2"$' "$s/etc/portage/make.conf"
	[ -L "$s/etc/portage/make.profile" ]
}

@test "clean: portage_prefix entries go unless sticky-config" {
	local c=$ROOT/etc/portage d
	for d in package.accept_keywords package.mask package.use package.env env; do
		mkdir -p "$c/$d"
		echo '*/* ~amd64' > "$c/$d/releng"
		echo kept > "$c/$d/mine"
	done
	mkdir -p "$c/profile/package.use.mask/releng"
	run_step stage3 clean clst_portage_prefix=releng clst_options="sticky-config"
	[ -f "$c/package.mask/releng" ] && [ -d "$c/profile/package.use.mask/releng" ]
	run_step stage3 clean clst_portage_prefix=releng
	for d in package.accept_keywords package.mask package.use package.env env; do
		[ ! -e "$c/$d/releng" ]
		[ "$(cat "$c/$d/mine")" = kept ]
	done
	[ ! -e "$c/profile/package.use.mask/releng" ]
	run -1 run_step stage3 clean clst_portage_prefix=../x
	[[ "$output" == *"contains '..'"* ]]
}

@test "stage1 updates the seed first with update_seed: yes, without the package cache options" {
	run run_target stage1 clst_update_seed=yes \
		clst_update_seed_command="--update --deep @system"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p "$LOG")" = 'ROOT=/ USE="bindist" emerge --quiet --jobs 2 --load-average 2 --buildpkg=n --update --deep @system' ]
	[ -f "$ROOT/var/db/pkg/sys-libs/glibc-0/CONTENTS" ]
	# The build itself has them again.
	[ "$(sed -n 2p "$LOG")" = "ROOT=/tmp/stage1root USE=\"build\" emerge $OPTS --oneshot --nodeps sys-apps/baselayout" ]
	# Without a command: catalyst's @world update.
	rm "$LOG"
	run_step stage1 build clst_update_seed=yes
	[ "$(sed -n 1p "$LOG")" = 'ROOT=/ USE="bindist" emerge --quiet --jobs 2 --load-average 2 --buildpkg=n --update --deep --newuse @world' ]
}

@test "stage1 refuses an update_seed that is neither yes nor no" {
	run -1 run_step stage1 build clst_update_seed=maybe
	[[ "$output" == *"invalid setting for update_seed: 'maybe'"* ]]
}

@test "stage1 fails when the profile has no packages.build" {
	rm "$ROOT"/var/db/repos/gentoo/profiles/*/packages.build \
		"$ROOT"/var/db/repos/gentoo/profiles/*/*/packages.build \
		"$ROOT"/var/db/repos/gentoo/profiles/*/*/*/packages.build 2>/dev/null || true
	run -1 run_step stage1 build
	echo "$output"
	[[ "$output" == *"lists no packages in packages.build"* ]]
	[ ! -e "$LOG" ]
}

@test "stage1 fails on a profile whose parent does not exist" {
	echo ../nonesuch >> "$ROOT/var/db/repos/gentoo/profiles/$PROFILE/parent"
	run -1 run_step stage1 build
	[[ "$output" == *"profile directory"*"nonesuch does not exist"* ]]
	[ ! -e "$LOG" ]
}

@test "options: VERBOSE and FETCH change the emerge options as catalyst's; /etc/profile and the envscript are sourced" {
	printf 'export FROM_PROFILE=yes\n' > "$ROOT/etc/profile"
	printf 'export FROM_ENVSCRIPT="$FROM_PROFILE"\n' > "$ROOT/tmp/envscript"
	run_step stage3 setup
	run_step stage3 build clst_options="verbose fetch" clst_load_average=
	[ "$(sed -n 1p "$LOG")" = 'ROOT=/ USE="bindist" emerge --verbose --fetchonly --jobs 2 -e --update --deep --with-bdeps=y @system -pt' ]
	[ "$(sed -n 2p "$LOG")" = 'ROOT=/ USE="bindist" emerge --verbose --fetchonly --jobs 2 -e --update --deep --with-bdeps=y @system' ]
	env_of ' @system$' > "$WORK/env"
	grep -qx 'FROM_ENVSCRIPT=yes' "$WORK/env"
	grep -qx 'CONFIG_PROTECT=-\* /etc/locale.gen' "$WORK/env"
	grep -qx "FEATURES=$FEATURES_BASE" "$WORK/env"
}

@test "stage2 rebuilds the toolchain when the repository has no bootstrap.sh" {
	run run_target stage2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$LOG")" = "ROOT=/ USE=\"bindist\" emerge $OPTS --oneshot sys-devel/gcc sys-libs/glibc sys-devel/binutils" ]
	[ -f "$ROOT/var/db/pkg/sys-devel/gcc-0/CONTENTS" ]
	[ ! -s "$ROOT/var/lib/portage/world" ]
}

@test "stage2 runs the repository's scripts/bootstrap.sh with catalyst's options, and fails with it" {
	cat > "$ROOT/var/db/repos/gentoo/scripts/bootstrap.sh" <<-'EOS'
	echo "bootstrap: $* CONFIG_PROTECT=$CONFIG_PROTECT FEATURES=$FEATURES" > /var/log/bootstrap-ran
	emerge --oneshot sys-devel/binutils || exit 1
	[ -z "${BOOTSTRAP_FAIL:-}" ] || exit 3
	EOS
	run_target stage2
	[ "$(cat "$ROOT/var/log/bootstrap-ran")" = "bootstrap: -q -r CONFIG_PROTECT=-* /etc/locale.gen FEATURES=$FEATURES_BASE nodoc noman noinfo" ]
	[ "$(cat "$LOG")" = 'ROOT=/ USE="bindist" emerge --oneshot sys-devel/binutils' ]
	run -1 run_step stage2 build BOOTSTRAP_FAIL=1
	[[ "$output" == *"bootstrap.sh failed with status 3"* ]]
}

@test "stage3 rebuilds @system from scratch, then depcleans and resets the world file" {
	mkdir -p "$ROOT/var/lib/portage" "$ROOT/var/log/portage/elog"
	echo app-editors/vim > "$ROOT/var/lib/portage/world"
	touch "$ROOT/var/log/portage/elog/x.log"
	printf 'USE="${USE} bindist"\n' >> "$ROOT/etc/portage/make.conf"
	run run_target stage3
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sed -n 1p "$LOG")" = "ROOT=/ USE=\"bindist bindist\" emerge $OPTS -e --update --deep --with-bdeps=y @system" ]
	# preclean runs emerge without options, as catalyst's preclean does.
	[ "$(sed -n 2p "$LOG")" = 'ROOT=/ USE="bindist bindist" emerge --depclean --with-bdeps=y' ]
	[ "$(grep -c . "$LOG")" -eq 2 ]
	env_of ' @system$' | grep -qx 'CONFIG_PROTECT=-\* /etc/locale.gen'
	env_of 'depclean' | grep -qx 'CONFIG_PROTECT=-\*'
	[ -f "$ROOT/var/lib/portage/world" ] && [ ! -s "$ROOT/var/lib/portage/world" ]
	! grep -q bindist "$ROOT/etc/portage/make.conf"
	[ ! -e "$ROOT/var/log/portage/elog/x.log" ]
	[ -f "$ROOT/var/db/pkg/sys-apps/busybox-standin-0/CONTENTS" ]
	[ -f "$ROOT/var/cache/binpkgs/sys-libs/glibc-0.gpkg.tar" ]
}

# The stage4 of the tests: packages, groups, users, services, an fsscript,
# rm and empty.
stage4_env=(
	clst_stage4_packages="app-editors/vim =dev-vcs/git-2.43.0-r1 sys-libs/glibc:2.2"
	clst_stage4_use="-bindist wayland"
	clst_stage4_groups="builders,staff"
	clst_stage4_users="releng alice=wheel,builders"
	clst_stage4_rcadd="sshd|default net.eth0"
	clst_stage4_rm="/root/.bash_history /opt/gone-*"
	clst_stage4_empty="/var/cache/emptyme /var/nonesuch"
	clst_stage4_fsscript=/host/path/fsscript.sh
	clst_fsscript=/tmp/zeolite-fsscript
)

prepare_stage4() {
	cat > "$ROOT/tmp/zeolite-fsscript" <<-'EOS'
	#!/bin/sh
	echo "fsscript ran; users: $(cut -d: -f1 /etc/passwd | tr '\n' ' ')" > /root/fsscript-marker
	echo history > /root/.bash_history
	EOS
	chmod +x "$ROOT/tmp/zeolite-fsscript"
	mkdir -p "$ROOT/opt/gone-1/sub" "$ROOT/opt/kept" "$ROOT/var/cache/emptyme/sub"
	touch "$ROOT/opt/gone-2" "$ROOT/var/cache/emptyme/a" "$ROOT/var/cache/emptyme/.b" \
		"$ROOT/var/cache/emptyme/sub/c"
	mkdir -p "$ROOT/var/lib/portage"
	echo app-misc/kept > "$ROOT/var/lib/portage/world"
	# OpenRC's rc-update, as a recorder
	printf '#!/bin/sh\necho "rc-update $*" >> /var/log/rc-update.log\n' > "$ROOT/sbin/rc-update"
	chmod +x "$ROOT/sbin/rc-update"
}

check_stage4() {
	[ "$(sed -n 1p "$LOG")" = "ROOT=/ USE=\"bindist\" emerge $OPTS -u @system" ]
	[ "$(sed -n 2p "$LOG")" = "ROOT=/ USE=\"bindist\" emerge $OPTS app-editors/vim =dev-vcs/git-2.43.0-r1 sys-libs/glibc:2.2" ]
	[ "$(grep -c . "$LOG")" -eq 2 ]
	[ -f "$ROOT/var/db/pkg/app-editors/vim-0/CONTENTS" ]
	[ -f "$ROOT/var/db/pkg/dev-vcs/git-0/CONTENTS" ]
	[ "$(cat "$ROOT/usr/share/standin/dev-vcs_git")" = "=dev-vcs/git-2.43.0-r1" ]
	# groups (a one-word value split on commas, as catalyst) and users
	grep -q '^builders:x:1000:alice$' "$ROOT/etc/group"
	grep -q '^staff:x:1001:$' "$ROOT/etc/group"
	grep -q '^releng:x:1000:1002::/home/releng:/bin/sh$' "$ROOT/etc/passwd"
	grep -q '^releng:x:1002:$' "$ROOT/etc/group"
	grep -q '^alice:x:1001:1003::/home/alice:/bin/sh$' "$ROOT/etc/passwd"
	grep -q '^wheel:x:10:root,alice$' "$ROOT/etc/group"
	[ "$(stat -c %u:%g "$ROOT/home/releng")" = 1000:1002 ]
	# services, through rc-update (the missing runlevel made); nothing of
	# zeolite's own records them
	[ "$(cat "$ROOT/var/log/rc-update.log")" = "$(printf 'rc-update add sshd default\nrc-update add net.eth0 default')" ]
	[ -d "$ROOT/etc/runlevels/default" ]
	[ ! -e "$ROOT/etc/zeolite-services" ]
	# catalyst's order: the fsscript before the users, rm after the fsscript
	[ "$(cat "$ROOT/root/fsscript-marker")" = "fsscript ran; users: root nobody " ]
	[ ! -e "$ROOT/root/.bash_history" ]
	[ ! -e "$ROOT/opt/gone-1" ]
	[ ! -e "$ROOT/opt/gone-2" ]
	[ -d "$ROOT/opt/kept" ]
	[ -d "$ROOT/var/cache/emptyme" ]
	[ -z "$(ls -A "$ROOT/var/cache/emptyme")" ]
	[ ! -e "$ROOT/var/nonesuch" ]
	# stage4 keeps its world file; clean removed the fsscript's copy
	[ "$(cat "$ROOT/var/lib/portage/world")" = app-misc/kept ]
	[ ! -e "$ROOT/tmp/zeolite-fsscript" ]
}

@test "stage4: packages, root overlay, fsscript; then services; then rm, groups, users, empty (catalyst's order)" {
	prepare_stage4
	run run_target stage4 "${stage4_env[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	check_stage4
	# The steps' order in the output.
	printf '%s\n' "$output" | grep -o 'running fsscript\|rc-update add sshd\|removing /root/.bash_history\|adding group builders\|adding user releng\|emptying /var/cache/emptyme' > "$WORK/order"
	[ "$(cat "$WORK/order")" = "$(printf '%s\n' 'running fsscript' 'rc-update add sshd' 'removing /root/.bash_history' 'adding group builders' 'adding user releng' 'emptying /var/cache/emptyme')" ]
}

@test "stage4 works the same under bash" {
	add_bash
	prepare_stage4
	SHELL_CMD=/usr/local/bash run run_target stage4 "${stage4_env[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	check_stage4
}

@test "stage1 and stage3 work the same under bash" {
	add_bash
	SHELL_CMD=/usr/local/bash run run_target stage1
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q -- '--implicit-system-deps=n --oneshot sys-apps/baselayout >=sys-libs/glibc-2.38 sys-devel/gcc >=sys-devel/binutils-2.40$' "$LOG"
	grep -q '^ROOT=/tmp/stage1root USE="build" emerge .* --nodeps sys-apps/baselayout$' "$LOG"
	rm "$LOG"
	SHELL_CMD=/usr/local/bash run_target stage3
	grep -q -- ' -e --update --deep --with-bdeps=y @system$' "$LOG"
	# A missing profile fails under bash too (set -e is off in $(...)).
	SHELL_CMD=/usr/local/bash run -1 run_step stage1 build clst_profile=default/nonesuch
}

@test "stage4: a package emerge cannot merge fails the build step" {
	run_step stage4 setup
	run -1 run_step stage4 build clst_stage4_packages="app-editors/vim fail/fail" \
		clst_stage4_fsscript=/x clst_fsscript=/tmp/nonesuch
	echo "$output"
	[[ "$output" == *'emerge: there are no ebuilds to satisfy "fail/fail".'* ]]
	[[ "$output" == *"zeolite-target: build: error: emerge "*"fail/fail failed with status 1"* ]]
	grep -q 'fail/fail$' "$LOG"
	# emerge merged nothing of that call, and the step stopped there.
	[ ! -e "$ROOT/var/db/pkg/app-editors/vim-0" ]
	[[ "$output" != *"fsscript"* ]]
}

@test "stage4: a failing fsscript fails the build step" {
	run_step stage4 setup
	printf '#!/bin/sh\nexit 7\n' > "$ROOT/tmp/fs"
	chmod +x "$ROOT/tmp/fs"
	run -1 run_step stage4 build clst_stage4_packages=app-editors/vim clst_fsscript=/tmp/fs
	[[ "$output" == *"fsscript /tmp/fs failed with status 7"* ]]
	# stage4/fsscript without zeolite's copy is a contract error, not skipped.
	run -1 run_step stage4 build clst_stage4_packages=app-editors/vim clst_stage4_fsscript=/x.sh
	[[ "$output" == *"clst_fsscript"*"is not"* ]]
}

@test "stage4: rm and empty refuse relative paths, '..' and /" {
	run -1 run_step stage4 clean clst_stage4_rm=etc/passwd
	[[ "$output" == *"stage4/rm: 'etc/passwd' is not an absolute path"* ]]
	run -1 run_step stage4 clean clst_stage4_rm=/var/../etc
	[[ "$output" == *"contains '..'"* ]]
	run -1 run_step stage4 clean clst_stage4_empty=//
	[[ "$output" == *"refusing to touch '/'"* ]]
	[ -f "$ROOT/etc/passwd" ]
}

@test "stage4: unmerge runs emerge -C in preclean, with catalyst's options" {
	run_step stage4 setup
	run_step stage4 build clst_stage4_packages="app-editors/vim dev-vcs/git"
	run_step stage4 preclean clst_stage4_unmerge=app-editors/vim
	# (preclean's cleanup_stages took catalyst's USE="bindist" out of make.conf)
	grep -qx "ROOT=/ emerge $OPTS -C app-editors/vim" "$LOG"
	env_of ' -C app-editors/vim$' | grep -qx 'CLEAN_DELAY=0'
	[ ! -e "$ROOT/var/db/pkg/app-editors/vim-0" ]
	[ -e "$ROOT/var/db/pkg/dev-vcs/git-0" ]
}

@test "stand-in emerge: options, atoms, sets and failures" {
	run_step stage3 setup
	local e=(chroot "$ROOT" /usr/bin/env -i "$PATHVAR" emerge)
	# argparse's exit status 2, as portage's emerge
	run -2 "${e[@]}" --frobnicate sys-apps/foo
	[[ "$output" == *"emerge: error: unrecognized arguments: --frobnicate"* ]]
	run -2 "${e[@]}" -uDZ @world
	[[ "$output" == *"unrecognized arguments: -Z"* ]]
	run -2 "${e[@]}" --with-bdeps
	run -1 "${e[@]}" @nonesuch
	run -1 "${e[@]}" --root=/nonesuch sys-apps/foo
	run -1 "${e[@]}" --oneshot
	"${e[@]}" --info
	"${e[@]}" --depclean
	"${e[@]}" -1uDNq --jobs --load-average 3 --with-bdeps y --keep-going y \
		'>=dev-lang/python-3.12.1_rc2-r1:3.12/3.12[sqlite]::gentoo' '~sys-apps/a-1.2b*' vim
	[ -f "$ROOT/var/db/pkg/dev-lang/python-0/CONTENTS" ]
	[ -f "$ROOT/var/db/pkg/sys-apps/a-0/CONTENTS" ]
	[ -f "$ROOT/var/db/pkg/standin/vim-0/CONTENTS" ]
	[ ! -e "$ROOT/var/cache/binpkgs/dev-lang" ]
	mkdir "$ROOT/tmp/r"
	chroot "$ROOT" /usr/bin/env -i "$PATHVAR" ROOT=/tmp/r PKGDIR=/tmp/pk USE=foo emerge -b @system
	[ -f "$ROOT/tmp/r/var/db/pkg/sys-apps/baselayout-0/CONTENTS" ]
	[ -f "$ROOT/tmp/pk/sys-apps/busybox-standin-0.gpkg.tar" ]
	grep -qx 'ROOT=/tmp/r USE="bindist foo" emerge -b @system' "$LOG"
	grep -q 'obj /usr/share/standin/sys-libs_glibc [0-9a-f]\{32\} [0-9]*$' \
		"$ROOT/tmp/r/var/db/pkg/sys-libs/glibc-0/CONTENTS"
	# One environment record a call, refused calls included.
	[ "$(grep -c '^=== emerge ' "$ROOT/var/log/emerge-standin.env")" -eq "$(grep -c . "$LOG")" ]
	env_of '^=== emerge -b @system$' | grep -qx 'PKGDIR=/tmp/pk'
}

@test "stand-in emerge: option values are checked as portage's emerge checks them" {
	run_step stage3 setup
	local e=(chroot "$ROOT" /usr/bin/env -i "$PATHVAR" emerge --pretend)
	# Each of these exits 2 with the real emerge (docs/testing.md).
	local bad
	for bad in --binpkg-respect-use=yes --buildpkg=yes --with-bdeps=yes --implicit-system-deps=no \
		--newuse=y --oneshot=y --noreplace=y --nospinner=y --ignore-default-opts=y \
		--load-average=0 '--load-average 0.0' -l0 '--backtrack x/y' --deep=x --jobs=x \
		'--implicit-system-deps x/y' '--color x/y'; do
		# shellcheck disable=SC2086 # split on purpose
		run -2 "${e[@]}" $bad x/y
		[[ "$output" == *"emerge: error: "* ]]
	done
	run -2 "${e[@]}" --oneshot=y x/y
	[[ "$output" == *"argument --oneshot: ignored explicit argument 'y'"* ]]
	run -2 "${e[@]}" --buildpkg=yes x/y
	[[ "$output" == *"argument --buildpkg: invalid choice: 'yes' (choose from 'True', 'y', 'n')"* ]]
	run -2 "${e[@]}" --load-average 0 x/y
	[[ "$output" == *"Invalid --load-average parameter: '0'"* ]]
	# ... and each of these it accepts.
	local good
	for good in -j2 '-j 2' -uDN '--jobs 0' '--jobs x/y' --jobs=y '--binpkg-respect-use x/y' \
		'--binpkg-respect-use y' --binpkg-respect-use=True '--deep 3' '--load-average 2.5' \
		'--backtrack 30' '--with-bdeps y' --verbose-conflicts --update-if-installed \
		'--rebuilt-binaries x/y' '--exclude x/z' --buildpkg=n --implicit-system-deps=n \
		'-X x/z' -Xx/z '-A n' -W -d -r; do
		# shellcheck disable=SC2086 # split on purpose
		run -0 "${e[@]}" $good x/y
	done
}

@test "stand-in emerge: an unresolvable profile fails as portage's emerge does" {
	local e=(chroot "$ROOT" /usr/bin/env -i "$PATHVAR" emerge)
	run -1 "${e[@]}" sys-apps/foo
	[[ "$output" == *"!!! Your current profile is invalid."* ]]
	[ ! -e "$ROOT/var/db/pkg/sys-apps/foo-0" ]
	"${e[@]}" --info
	"${e[@]}" --version
	ln -s ../../var/db/repos/gentoo/profiles/nonesuch "$ROOT/etc/portage/make.profile"
	run -1 "${e[@]}" --depclean
	[[ "$output" == *"profile is invalid"* ]]
	run_step stage3 setup
	"${e[@]}" sys-apps/foo
}

@test "stand-in emerge: repos.conf with an empty sync-type warns, one it cannot parse fails" {
	run_step stage3 setup
	local e=(chroot "$ROOT" /usr/bin/env -i "$PATHVAR" emerge)
	run --separate-stderr "${e[@]}" sys-apps/foo
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"sync-type"* ]]
	# An empty sync-type over portage's default sync-uri for ::gentoo.
	printf '[gentoo]\nlocation = /var/db/repos/gentoo\nsync-type =\nauto-sync = no\n' \
		> "$ROOT/etc/portage/repos.conf/zeolite.conf"
	run --separate-stderr "${e[@]}" sys-apps/foo
	[ "$status" -eq 0 ]
	[ "$stderr" = "!!! Repository 'gentoo' has sync-uri attribute, but is missing sync-type attribute" ]
	printf '[x]\nlocation = /x\nsync-uri = https://example.org/x.git\n' > "$ROOT/etc/portage/repos.conf/x.conf"
	run --separate-stderr "${e[@]}" sys-apps/foo
	[[ "$stderr" == *"Repository 'x' has sync-uri attribute, but is missing sync-type attribute"* ]]
	rm "$ROOT/etc/portage/repos.conf/x.conf"
	printf 'location = /x\n' > "$ROOT/etc/portage/repos.conf/zeolite.conf"
	run -1 "${e[@]}" sys-apps/foo
	[[ "$output" == *"!!! Error while reading repo config file: File contains no section headers."* ]]
	printf '[x]\nthis is not an option\n' > "$ROOT/etc/portage/repos.conf/zeolite.conf"
	run -1 "${e[@]}" sys-apps/foo
	[[ "$output" == *"Source contains parsing errors"* ]]
	rm "$ROOT/etc/portage/repos.conf/zeolite.conf"
	ln -s /nonesuch "$ROOT/etc/portage/repos.conf/gone.conf"
	run -1 "${e[@]}" sys-apps/foo
	[[ "$output" == *"!!! Error while reading repo config file:"* ]]
}

# --- whole builds: zeolite build from the busybox seed (make-fixtures.sh) ---

# build_fixture: the fixtures of tests/seed/make-fixtures.sh once per file,
# with the options bindist and pkgcache; the stand-in copies its records to
# the distdir's standin-log/.
setup_file() {
	[ "$(id -u)" -eq 0 ] && [ -n "${ZEOLITE:-}" ] && [ -x "$ZEOLITE" ] || return 0
	export FIX=$(mktemp -d /var/tmp/zeolite-targets-fix.XXXXXX)
	FIXTURE_OPTIONS='"bindist", "pkgcache"' "$SRCDIR/tests/seed/make-fixtures.sh" \
		"$ZEOLITE" "$FIX/store" "$FIX" > "$FIX/fixtures.log" 2>&1 || {
		cat "$FIX/fixtures.log" >&2
		return 1
	}
	export ZEOLITE_TARGETS_DIR="$SRCDIR/targets"
}

teardown_file() {
	[ -z "${FIX:-}" ] || rm -rf "$FIX"
}

# zbuild SPEC: build SPEC with zeolite; the tarball's path in $tarball and
# its listing in $WORK/list; the stand-in's records in $SL.
zbuild() {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	SL=$FIX/distfiles/standin-log
	rm -rf "$SL"
	mkdir -p "$SL"
	run --separate-stderr "$ZEOLITE" -c "$FIX/zeolite.conf" build "$1"
	echo "$stderr"
	[ "$status" -eq 0 ]
	tarball=$output
	tar -tvf "$tarball" > "$WORK/list"
	LOG=$SL/emerge-standin.log
}

# no_build_only_files: the tarball has none of the files catalyst's clean
# removes, and its make.conf has neither the build's MAKEOPTS nor bindist.
no_build_only_files() {
	! grep -E ' \./etc/machine-id$| \./etc/[^/]*-$| \./var/tmp/.| \./etc/portage/patches| \./etc/portage/package\.[a-z_]*/releng$| \./etc/\._cfg' "$WORK/list"
	tar -xOf "$tarball" ./etc/portage/make.conf > "$WORK/make.conf"
	# (catalyst's "# NOTE: ... bindist USE flag enabled" comment may stay)
	! grep -q '^[^#]*MAKEOPTS' "$WORK/make.conf"
	! grep -q '^[^#]*USE=.*bindist' "$WORK/make.conf"
}

# catalyst_env PATTERN: the call's environment has catalyst's variables.
catalyst_env() {
	awk -v pat="$1" '
		/^=== emerge / && !found { cur = ($0 ~ pat); next }
		/^=== end$/ { if (cur) found = 1; cur = 0; next }
		cur { print }' "$SL/emerge-standin.env" > "$WORK/env"
	[ -s "$WORK/env" ]
	grep -q '^CONFIG_PROTECT=-\*' "$WORK/env"
	grep -qx 'CLEAN_DELAY=0' "$WORK/env"
	grep -qx 'EMERGE_WARNING_DELAY=0' "$WORK/env"
	# setup_environment's: no HOME of the host, no clst_emerge_opts
	# (catalyst computes the options in the chroot), jobs as set, the
	# load average not (it is not), MAKEOPTS and NINJAOPTS
	! grep -q '^HOME=\|^clst_emerge_opts=\|^clst_load_average=' "$WORK/env"
	grep -qx 'clst_jobs=2' "$WORK/env"
	grep -qx 'MAKEOPTS=-j2' "$WORK/env"
	grep -qx 'NINJAOPTS=' "$WORK/env"
	grep -qx 'PATH=/bin:/sbin:/usr/bin:/usr/sbin' "$WORK/env"
	grep -qx 'clst_BINDIST=true' "$WORK/env"
	grep -qx 'clst_PKGCACHE=true' "$WORK/env"
	grep -qx 'clst_hostarch=amd64' "$WORK/env"
	grep -q '^clst_target_path='"$FIX"'/store/builds/23\.0-default/stage[0-9]-amd64-[a-z-]*[^/]$' "$WORK/env"
}

@test "zeolite build stage3: catalyst's options and environment, depclean, empty world, no build-only files" {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	mkdir -p "$WORK/conf/package.use" "$WORK/conf/package.accept_keywords"
	echo '*/* ~amd64' > "$WORK/conf/package.accept_keywords/releng"
	echo 'sys-libs/glibc -multilib' > "$WORK/conf/package.use/releng"
	echo 'app-editors/vim minimal' > "$WORK/conf/package.use/mine"
	sed -e 's/^version_stamp: .*/version_stamp: targets-fixture/' "$FIX/stage3.spec" > "$WORK/stage3.spec"
	printf 'portage_confdir: %s\nportage_prefix: releng\n' "$WORK/conf" >> "$WORK/stage3.spec"
	zbuild "$WORK/stage3.spec"
	grep -q -- '--quiet --jobs 2 .*--usepkg --buildpkg --binpkg-respect-use=y --newuse -e --update --deep --with-bdeps=y @system$' "$LOG"
	grep -q 'emerge --depclean --with-bdeps=y$' "$LOG"
	catalyst_env ' @system$'
	grep -qx 'CONFIG_PROTECT=-\* /etc/locale.gen' "$WORK/env"
	grep -qx 'FEATURES=-news binpkg-multi-instance clean-logs parallel-install' "$WORK/env"
	no_build_only_files
	grep -q ' \./etc/portage/package\.use/mine$' "$WORK/list"
	[ -z "$(tar -xOf "$tarball" ./var/lib/portage/world)" ]
}

@test "zeolite build stage1: the first baselayout merge had USE=build; the root has make.conf and make.profile" {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	zbuild "$FIX/stage1.spec"
	line=$(grep -m1 'sys-apps/baselayout' "$LOG")
	[[ "$line" == 'ROOT=/tmp/stage1root USE="build" emerge '*' --oneshot --nodeps sys-apps/baselayout' ]]
	grep -q -- '--implicit-system-deps=n --oneshot sys-apps/baselayout sys-libs/glibc sys-devel/gcc sys-devel/binutils$' "$LOG"
	catalyst_env 'nodeps sys-apps/baselayout$'
	grep -qx 'ROOT=/tmp/stage1root' "$WORK/env"
	grep -q ' \./etc/portage/make\.conf$' "$WORK/list"
	grep -q ' \./etc/portage/make\.profile -> ' "$WORK/list"
	grep -q ' \./etc/env\.d/02locale$' "$WORK/list"
	no_build_only_files
}

@test "zeolite build stage4: catalyst's order and options, no build-only files" {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	zbuild "$FIX/stage4.spec"
	[ "$(grep -c . "$LOG")" -eq 2 ]
	sed -n 1p "$LOG" | grep -q -- '--newuse -u @system$'
	sed -n 2p "$LOG" | grep -q -- '--newuse app-editors/vim sys-libs/glibc:2.2$'
	catalyst_env ' -u @system$'
	no_build_only_files
	tar -xOf "$tarball" ./etc/passwd | grep -q '^releng:'
}

@test "zeolite build: no repos.conf entry of zeolite's ships, and emerge warns of no empty sync-type" {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	sed -e 's/^version_stamp: .*/version_stamp: reposconf/' "$FIX/stage3.spec" > "$WORK/s3.spec"
	zbuild "$WORK/s3.spec"
	[[ "$stderr" != *"missing sync-type attribute"* ]]
	! grep -q ' \./etc/portage/repos\.conf' "$WORK/list"
	# no empty mount point of zeolite's: the repository, the targets
	! grep -q ' \./var/db/repos/gentoo/\?$' "$WORK/list"
	! grep -q ' \./usr/share/zeolite' "$WORK/list"
}

@test "zeolite build: spec repos are mounted read-only with repos.conf entries; keep_repos keeps the entry" {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	mkdir -p "$WORK/extra/profiles" "$WORK/extra/metadata" "$WORK/kept/profiles"
	echo extra > "$WORK/extra/profiles/repo_name"
	printf 'masters = gentoo\nrepo-name = extra\n' > "$WORK/extra/metadata/layout.conf"
	echo kept > "$WORK/kept/profiles/repo_name"
	# a .sqfs repository too, named inside it
	mkdir -p "$WORK/sq/profiles" "$WORK/sq/app-misc/sqpkg"
	echo sqrepo > "$WORK/sq/profiles/repo_name"
	echo 'EAPI=8' > "$WORK/sq/app-misc/sqpkg/sqpkg-1.ebuild"
	mksquashfs "$WORK/sq" "$WORK/sq.sqfs" -quiet -no-progress > /dev/null
	printf '#!/bin/sh\ncat /etc/portage/repos.conf/extra.conf > /root/saw-extra-conf\nls /var/db/repos/extra/profiles > /root/saw-extra\ntouch /var/db/repos/extra/x 2> /root/extra-write.err || true\nls /var/db/repos/sqrepo/app-misc/sqpkg > /root/saw-sq\ncat /etc/portage/repos.conf/sqrepo.conf > /root/saw-sq-conf\n' > "$WORK/fs.sh"
	sed -e 's/^version_stamp: .*/version_stamp: repos/' -e "s|^stage4/fsscript: .*|stage4/fsscript: $WORK/fs.sh|" \
		"$FIX/stage4.spec" > "$WORK/s4.spec"
	printf 'repos: %s %s %s\nkeep_repos: kept\n' "$WORK/extra" "$WORK/kept" "$WORK/sq.sqfs" >> "$WORK/s4.spec"
	zbuild "$WORK/s4.spec"
	tar -xOf "$tarball" ./root/saw-sq | grep -qx sqpkg-1.ebuild
	tar -xOf "$tarball" ./root/saw-sq-conf | grep -qx 'location = /var/db/repos/sqrepo'
	! grep -q ' \./var/db/repos/sqrepo/\?$\| \./etc/portage/repos\.conf/sqrepo\.conf$' "$WORK/list"
	# the image is unmounted again, its mount point gone
	! grep -q "$FIX/store/tmp/" /proc/self/mountinfo
	tar -xOf "$tarball" ./root/saw-extra-conf > "$WORK/extra.conf"
	[ "$(cat "$WORK/extra.conf")" = "$(printf '[extra]\nlocation = /var/db/repos/extra')" ]
	tar -xOf "$tarball" ./root/saw-extra | grep -qx repo_name
	tar -xOf "$tarball" ./root/extra-write.err | grep -q 'Read-only file system'
	# extra's entry and mount point are gone, kept's stay (as catalyst's clean)
	! grep -q ' \./etc/portage/repos\.conf/extra\.conf$' "$WORK/list"
	! grep -q ' \./var/db/repos/extra/\?$' "$WORK/list"
	tar -xOf "$tarball" ./etc/portage/repos.conf/kept.conf | grep -qx 'location = /var/db/repos/kept'
	grep -q ' \./var/db/repos/kept/\?$' "$WORK/list"
	# an unknown keep_repos name, a repository without a name: check refuses
	sed -e '/^keep_repos:/d' "$WORK/s4.spec" > "$WORK/bad.spec"
	echo 'keep_repos: nonesuch' >> "$WORK/bad.spec"
	run --separate-stderr "$ZEOLITE" -c "$FIX/zeolite.conf" build --dry-run "$WORK/bad.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"bad.spec:"*": keep_repos references unknown repo 'nonesuch'"* ]]
	mkdir -p "$WORK/noname"
	sed -e "s|^repos: .*|repos: $WORK/noname|" -e '/^keep_repos:/d' "$WORK/s4.spec" > "$WORK/noname.spec"
	run --separate-stderr "$ZEOLITE" -c "$FIX/zeolite.conf" build --dry-run "$WORK/noname.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"missing name in repository $WORK/noname"* ]]
}

@test "zeolite build: the package cache is packages/<rel_type>/<target>-<subarch>" {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	rm -rf "$FIX/store/packages"
	sed -e 's/^version_stamp: .*/version_stamp: pkgcache/' "$FIX/stage1.spec" > "$WORK/s1.spec"
	zbuild "$WORK/s1.spec"
	ls "$FIX/store/packages/23.0-default/stage1-amd64/sys-apps/baselayout-0.gpkg.tar"
	grep -q -- '--usepkg --buildpkg --binpkg-respect-use=y --newuse .*--implicit-system-deps=n' "$LOG"
	sed -e 's/^version_stamp: .*/version_stamp: pkgcache/' "$FIX/stage3.spec" > "$WORK/s3.spec"
	zbuild "$WORK/s3.spec"
	ls "$FIX/store/packages/23.0-default/stage3-amd64/sys-apps/baselayout-0.gpkg.tar"
	# stage3 did not get stage1's packages
	[ ! -e "$FIX/store/packages/23.0-default/stage3-amd64/sys-devel/gcc-0.gpkg.tar" ]
}

@test "zeolite build: the interpreter, resolv.conf and hosts are the host's business; make.conf is the plan's" {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	printf '#!/bin/sh\necho qemu\n' > "$WORK/qemu-fake-static"
	chmod 0755 "$WORK/qemu-fake-static"
	printf '#!/bin/sh\nls -l %s > /root/saw-interpreter\necho "nameserver 192.0.2.1" > /etc/resolv.conf\n' \
		"$WORK/qemu-fake-static" > "$WORK/fs.sh"
	sed -e 's/^version_stamp: .*/version_stamp: hostbiz/' -e "s|^stage4/fsscript: .*|stage4/fsscript: $WORK/fs.sh|" \
		"$FIX/stage4.spec" > "$WORK/s4.spec"
	echo "interpreter: $WORK/qemu-fake-static" >> "$WORK/s4.spec"
	"$ZEOLITE" -c "$FIX/zeolite.conf" --json build --dry-run "$WORK/s4.spec" | jq -j .make_conf_shipped > "$WORK/planned"
	zbuild "$WORK/s4.spec"
	tar -xOf "$tarball" ./root/saw-interpreter | grep -q qemu-fake-static
	! grep -q "qemu-fake-static" "$WORK/list"
	! grep -q " \.${WORK}" "$WORK/list"
	# stage4 keeps the resolv.conf its fsscript wrote (catalyst's stage4
	# takes resolv.conf off its cleanables); the seed's hosts is back
	[ "$(tar -xOf "$tarball" ./etc/resolv.conf)" = "nameserver 192.0.2.1" ]
	[ "$(tar -xOf "$tarball" ./etc/hosts)" = "$(printf '127.0.0.1 localhost\n::1 localhost')" ]
	! grep -q ' \./etc/hosts\.catalyst$\| \./etc/zeolite-services$\| \./etc/sandbox\.d' "$WORK/list"
	# the make.conf in the stage is exactly the plan's make_conf_shipped
	tar -xOf "$tarball" ./etc/portage/make.conf > "$WORK/shipped"
	diff "$WORK/planned" "$WORK/shipped"
	# stage3: no resolv.conf at all (a cleanable)
	sed -e 's/^version_stamp: .*/version_stamp: hostbiz/' "$FIX/stage3.spec" > "$WORK/s3.spec"
	echo "interpreter: $WORK/qemu-fake-static" >> "$WORK/s3.spec"
	zbuild "$WORK/s3.spec"
	! grep -q ' \./etc/resolv\.conf' "$WORK/list"
	! grep -q "qemu-fake-static" "$WORK/list"
}

@test "zeolite build stage3 from a seed with a make.conf: its flags and CHOST survive, as catalyst's" {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	local b="$FIX/store/builds/23.0-default"
	mkdir "$WORK/seed"
	tar -C "$WORK/seed" -xpf "$b/stage3-amd64-openrc-latest.tar.xz"
	mkdir -p "$WORK/seed/etc/portage"
	printf 'COMMON_FLAGS="-O3 -march=znver3 -pipe"\nCFLAGS="${COMMON_FLAGS}"\nCHOST="x86_64-zeo-linux-gnu"\nMAKEOPTS="-j64"\nUSE="seedflag"\n' \
		> "$WORK/seed/etc/portage/make.conf"
	tar -C "$WORK/seed" -cJf "$b/seed-with-makeconf.tar.xz" .
	sed -e 's/^version_stamp: .*/version_stamp: makeconf/' \
		-e 's|^source_subpath: .*|source_subpath: 23.0-default/seed-with-makeconf|' "$FIX/stage3.spec" > "$WORK/s3.spec"
	zbuild "$WORK/s3.spec"
	rm -f "$b/seed-with-makeconf.tar.xz"
	tar -xOf "$tarball" ./etc/portage/make.conf > "$WORK/make.conf"
	cat "$WORK/make.conf"
	grep -qx 'COMMON_FLAGS="-O3 -march=znver3 -pipe"' "$WORK/make.conf"
	grep -qx 'CFLAGS="${COMMON_FLAGS}"' "$WORK/make.conf"
	grep -qx 'CHOST="x86_64-zeo-linux-gnu"' "$WORK/make.conf"
	# catalyst writes its own make.conf: the seed's MAKEOPTS and USE go
	! grep -q 'MAKEOPTS\|seedflag' "$WORK/make.conf"
	# and the scripts saw the seed's CHOST
	catalyst_env ' @system$'
	grep -qx 'clst_CHOST=x86_64-zeo-linux-gnu' "$WORK/env"
}

@test "zeolite build from a seed that has the repository: it is gone from the stage, repo_basedir chowned to portage" {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	local b="$FIX/store/builds/23.0-default"
	mkdir "$WORK/seed"
	tar -C "$WORK/seed" -xpf "$b/stage3-amd64-openrc-latest.tar.xz"
	mkdir -p "$WORK/seed/var/db/repos/gentoo/profiles"
	echo stale > "$WORK/seed/var/db/repos/gentoo/profiles/stale-file"
	chmod 0750 "$WORK/seed/var/db/repos"
	# the stage's portage user: catalyst's clean chowns repo_basedir to it
	echo 'portage:x:250:250:portage:/var/lib/portage/home:/bin/false' >> "$WORK/seed/etc/passwd"
	echo 'portage:x:250:' >> "$WORK/seed/etc/group"
	tar -C "$WORK/seed" -cJf "$b/seed-with-repo.tar.xz" .
	sed -e 's/^version_stamp: .*/version_stamp: seedrepo/' \
		-e 's|^source_subpath: .*|source_subpath: 23.0-default/seed-with-repo|' "$FIX/stage3.spec" > "$WORK/s3.spec"
	zbuild "$WORK/s3.spec"
	rm -f "$b/seed-with-repo.tar.xz"
	# catalyst's clean removes the repository's location, whatever it held
	! grep -q ' \./var/db/repos/gentoo' "$WORK/list"
	tar --numeric-owner -tvf "$tarball" ./var/db/repos/ | grep -q '^drwxr-x--- 250/250 '
}

@test "zeolite build with ccache, var_tmpfs_portage and port_logdir: mounted as catalyst's, none of their mount points ships" {
	[ -n "${FIX:-}" ] || skip "needs ZEOLITE and root"
	mkdir -p "$WORK/ccache" "$WORK/logs"
	sed -e 's/^options = \[/options = ["ccache", /' "$FIX/zeolite.conf" > "$WORK/cc.conf"
	printf 'var_tmpfs_portage = 1\nport_logdir = "%s/logs"\n' "$WORK" >> "$WORK/cc.conf"
	printf '#!/bin/sh\necho cached > /var/tmp/ccache/marker\necho log > /var/log/portage/build.log\ngrep " /var/tmp/portage " /proc/self/mountinfo > /root/saw-tmpfs\n' > "$WORK/fs.sh"
	sed -e 's/^version_stamp: .*/version_stamp: ccache/' -e "s|^stage4/fsscript: .*|stage4/fsscript: $WORK/fs.sh|" \
		"$FIX/stage4.spec" > "$WORK/s4.spec"
	SL=$FIX/distfiles/standin-log
	rm -rf "$SL" && mkdir -p "$SL"
	CCACHE_DIR=$WORK/ccache run --separate-stderr "$ZEOLITE" -c "$WORK/cc.conf" build "$WORK/s4.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	tarball=$output
	tar -tvf "$tarball" > "$WORK/list"
	# the host's directories got the writes
	[ "$(cat "$WORK/ccache/marker")" = cached ]
	[ "$(cat "$WORK/logs/23.0-default/stage4-amd64-ccache/build.log")" = log ]
	tar -xOf "$tarball" ./root/saw-tmpfs | grep -q ' - tmpfs '
	! grep -q ' \./var/tmp/ccache\| \./var/tmp/portage\| \./var/log/portage/build\.log' "$WORK/list"
	# ccache merged first, FEATURES and CCACHE_DIR as catalyst's
	grep -q 'ROOT=/ .*emerge .*--oneshot --noreplace dev-util/ccache$' "$SL/emerge-standin.log"
	LOG=$SL/emerge-standin.log
	catalyst_env ' -u @system$'
	grep -qx 'FEATURES=-news binpkg-multi-instance clean-logs parallel-install ccache' "$WORK/env"
	grep -qx 'CCACHE_DIR=/var/tmp/ccache' "$WORK/env"
	grep -qx 'PORTAGE_LOGDIR=/var/log/portage' "$WORK/env"
}
