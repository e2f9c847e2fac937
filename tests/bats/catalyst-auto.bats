#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# catalyst-auto's (gentoo/releng tools/catalyst-auto) command lines,
# verbatim, with `catalyst` being zeolite, against a store laid out as
# catalyst 4 lays it out (a catalyst.conf naming storedir, the bare
# repos_storedir/gentoo.git), and catalyst's own locks (fasteners:
# fcntl.lockf on the whole file) held by a stand-in for catalyst.
load lib

GIT=(git -c user.name=zeolite-test -c user.email=test@zeolite.invalid
	-c init.defaultBranch=master -c commit.gpgsign=false -c core.hooksPath=/dev/null)

setup() {
	WORK=$(mktemp -d /var/tmp/zeolite-bats.XXXXXX)
	STORE="$WORK/store"
	export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
	export ZEOLITE_TARGETS_DIR="$SRCDIR/targets"
	# `catalyst` in PATH is zeolite, as catalyst-auto finds it
	mkdir "$WORK/bin"
	ln -s "$ZEOLITE" "$WORK/bin/catalyst"
	export PATH="$WORK/bin:$PATH"
	mkdir -p "$STORE/builds/23.0-default" "$STORE/repos"
	# catalyst.conf as a catalyst user has it (TOML), only storedir changed
	CATALYST_CONFIG="$WORK/catalyst.conf"
	printf 'storedir = "%s"\nrepos_storedir = "%%(storedir)s/repos"\noptions = ["autoresume", "bindist", "pkgcache"]\n' \
		"$STORE" > "$CATALYST_CONFIG"
	# the ebuild repository, cloned bare as catalyst's -s stable clones it
	mkdir -p "$WORK/src/profiles"
	echo gentoo > "$WORK/src/profiles/repo_name"
	"${GIT[@]}" -C "$WORK/src" init -q
	"${GIT[@]}" -C "$WORK/src" add -A
	"${GIT[@]}" -C "$WORK/src" commit -q -m one
	"${GIT[@]}" -C "$WORK/src" branch stable
	git clone -q --bare "$WORK/src" "$STORE/repos/gentoo.git"
	COMMIT=$(git -C "$WORK/src" rev-parse stable)
	# a seed as catalyst-auto publishes it: a dated file and a -latest link
	: > "$STORE/builds/23.0-default/stage3-amd64-openrc-20260101T000000Z.tar.xz"
	ln -s stage3-amd64-openrc-20260101T000000Z.tar.xz \
		"$STORE/builds/23.0-default/stage3-amd64-openrc-latest.tar.xz"
	specpath="$WORK/stage3-amd64-openrc.spec"
	printf '%s\n' 'subarch: amd64' 'target: stage3' 'version_stamp: openrc-@TIMESTAMP@' \
		'rel_type: 23.0-default' 'profile: default/linux/amd64/23.0' 'snapshot_treeish: @TREEISH@' \
		'source_subpath: 23.0-default/stage3-amd64-openrc-latest.tar.xz' 'compression_mode: pixz' > "$specpath"
}

teardown() {
	[ -z "${HOLDER:-}" ] || kill "$HOLDER" 2>/dev/null || true
	if [ -f "$WORK/pids" ]; then
		while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$WORK/pids"
	fi
	rm -rf "$WORK"
}


# catalyst-auto's sed over the spec
fix_spec() {
	sed -i -e "s:@TIMESTAMP@:${TIMESTAMP}:g" -e "s:@TREEISH@:${TREEISH}:g" "$specpath"
}

# catalyst_lock FILE: a stand-in for catalyst holds fasteners'
# InterProcessLock on FILE until a line is written to $WORK/release.
catalyst_lock() {
	mkdir -p "$(dirname "$1")"
	mkfifo "$WORK/locked" "$WORK/release"
	python3 -c '
import fcntl, sys
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").write("locked\n")
open(sys.argv[3]).read()
' "$1" "$WORK/locked" "$WORK/release" >/dev/null 2>&1 &
	HOLDER=$!
	read -r _ < "$WORK/locked"
}

lockf_try() {
	python3 -c '
import fcntl, sys
fcntl.lockf(open(sys.argv[1], "a"), fcntl.LOCK_EX | fcntl.LOCK_NB)
' "$1" 2>/dev/null
}

@test "catalyst --help | grep -q git-treeish" {
	catalyst --help | grep -q "git-treeish"
}

@test "catalyst -c CONF -s stable: the commit read back from the Creating line, as catalyst-auto reads it" {
	snapshot_log=$(mktemp --tmpdir="$WORK")
	catalyst -c "${CATALYST_CONFIG}" -s stable > "${snapshot_log}" 2>&1
	read TREEISH gitdir <<<$(grep -Eo 'Creating .* tree snapshot [0-9a-f]{40} from .*' "${snapshot_log}" | cut -d' ' -f5,7)
	[ "$TREEISH" = "$COMMIT" ]
	[ "$gitdir" = "$STORE/repos/gentoo.git" ]
	TIMESTAMP=$(git -C "${gitdir}" show --no-patch --format=%cd --date=format:%Y%m%dT%H%M%SZ "${TREEISH}")
	[ -f "$STORE/snapshots/gentoo-$TREEISH.sqfs" ]
	# the older path: -s TIMESTAMP is any tree-ish git can resolve... a
	# timestamp is not one: bad input, not a usage error
	run --separate-stderr catalyst -c "${CATALYST_CONFIG}" -s "${TIMESTAMP}"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"'${TIMESTAMP}' is not a commit"* ]]
}

@test "catalyst -a -c CONF -f SPEC: a spec fixed up by catalyst-auto resolves and builds from the -latest seed" {
	catalyst -c "${CATALYST_CONFIG}" -s stable > "$WORK/snap.log" 2>&1
	TREEISH=$COMMIT TIMESTAMP=20260102T000000Z fix_spec
	# up to the build's lock, then stop (a test hook): what is tested is the
	# command line and the resolution of catalyst's names
	run --separate-stderr env ZEOLITE_TEST_EXIT_AT=build-locked \
		catalyst -a -c "${CATALYST_CONFIG}" -f "${specpath}"
	[ "$status" -eq 99 ]
	[ -d "$STORE/tmp/23.0-default/stage3-amd64-openrc-20260102T000000Z" ]
	run --separate-stderr catalyst -a -c "${CATALYST_CONFIG}" -f "${specpath}" --dry-run --json
	[ "$status" -eq 0 ]
	[[ "$output" == *'"seed":{"name":"23.0-default/stage3-amd64-openrc-latest.tar.xz"'* ]]
	[[ "$output" == *'"snapshot":{"name":"gentoo-'"$COMMIT"'.sqfs"'* ]]
}

@test "catalyst --purgetmponly -c CONF -f SPEC: the work directory goes, nothing is built" {
	catalyst -c "${CATALYST_CONFIG}" -s stable > "$WORK/snap.log" 2>&1
	TREEISH=$COMMIT TIMESTAMP=20260102T000000Z fix_spec
	mkdir -p "$STORE/tmp/23.0-default/stage3-amd64-openrc-20260102T000000Z/etc"
	run --separate-stderr catalyst --purgetmponly -c "${CATALYST_CONFIG}" -f "${specpath}"
	[ "$status" -eq 0 ]
	[ ! -e "$STORE/tmp/23.0-default/stage3-amd64-openrc-20260102T000000Z" ]
	[ -z "$(ls -A "$STORE/builds/23.0-default" | grep -v '^stage3-amd64-openrc-\(20260101T000000Z\|latest\)\.tar\.xz$' || true)" ]
}

@test "catalyst's build lock (lockf on tmp/<rel_type>/<name>.lock) excludes zeolite, naming catalyst's pid" {
	catalyst -c "${CATALYST_CONFIG}" -s stable > "$WORK/snap.log" 2>&1
	TREEISH=$COMMIT TIMESTAMP=20260102T000000Z fix_spec
	catalyst_lock "$STORE/tmp/23.0-default/stage3-amd64-openrc-20260102T000000Z.lock"
	run --separate-stderr catalyst --lock-timeout 0 -a -c "${CATALYST_CONFIG}" -f "${specpath}"
	echo > "$WORK/release"
	wait "$HOLDER"
	[ "$status" -eq 75 ]
	[[ "$stderr" == *"build 'stage3-amd64-openrc-20260102T000000Z' is held by pid $HOLDER ("*"python3 -c"*"); not waiting (lock_timeout 0)"* ]]
	[ ! -e "$STORE/tmp/23.0-default/stage3-amd64-openrc-20260102T000000Z" ]
}

@test "zeolite's build lock excludes catalyst's" {
	catalyst -c "${CATALYST_CONFIG}" -s stable > "$WORK/snap.log" 2>&1
	TREEISH=$COMMIT TIMESTAMP=20260102T000000Z fix_spec
	mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=build-locked ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		catalyst -a -c "${CATALYST_CONFIG}" -f "${specpath}" > /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ pid < "$WORK/notify"
	run lockf_try "$STORE/tmp/23.0-default/stage3-amd64-openrc-20260102T000000Z.lock"
	kill -9 "$pid"
	[ "$status" -ne 0 ]
	wait || true
	lockf_try "$STORE/tmp/23.0-default/stage3-amd64-openrc-20260102T000000Z.lock"
}

@test "catalyst -F -c CONF -f SPEC: the steps run emerge --fetchonly, nothing is packed, the work directory goes" {
	# a real build from the busybox seed and the stand-in emerge
	fix="$WORK/fix"
	FIXTURE_OPTIONS='"autoresume"' "$SRCDIR/tests/seed/make-fixtures.sh" "$ZEOLITE" "$fix/store" "$fix" > "$WORK/fixtures.log" 2>&1
	mkdir "$fix/distfiles/standin-log"
	run --separate-stderr catalyst -F -c "$fix/zeolite.conf" -f "$fix/stage3.spec"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[[ "$stderr" == *"fetched only (-F), nothing packed"* ]]
	grep -q -- '--fetchonly.* @system$' "$fix/distfiles/standin-log/emerge-standin.log"
	[ -z "$(ls -A "$fix/store/builds/23.0-default" | grep -v '^stage3-amd64-openrc-latest' || true)" ]
	[ -z "$(ls -A "$fix/store/tmp/23.0-default" | grep -v '\.\(lock\|log\)$' || true)" ]
	# the plan says so too
	run --separate-stderr catalyst -c "$fix/zeolite.conf" -f "$fix/stage3.spec" --fetchonly --dry-run --json
	[ "$status" -eq 0 ]
	[[ "$output" == *'"clst_FETCH":"true"'* ]]
}
