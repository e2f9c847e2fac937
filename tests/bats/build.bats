#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# zeolite build: real chroots from a busybox seed, real namespaces and
# mounts, the stand-in emerge (tests/seed/emerge-standin) in place of
# portage's.  The fixtures (seed, snapshot, specs) are made once per file.
load lib

setup_file() {
	export FIX=$(mktemp -d /var/tmp/zeolite-build.XXXXXX)
	FIXTURE_OPTIONS='"autoresume"' "$SRCDIR/tests/seed/make-fixtures.sh" "$ZEOLITE" "$FIX/store" "$FIX" > "$FIX/fixtures.log" 2>&1
	export ZEOLITE_TARGETS_DIR="$SRCDIR/targets"
}

teardown_file() {
	umount "$FIX/store/builds/small" 2>/dev/null || true
	rm -rf "$FIX"
}

setup() {
	WORK=$(mktemp -d /var/tmp/zeolite-bats.XXXXXX)
	Z=("$ZEOLITE" -c "$FIX/zeolite.conf")
	OUT="$FIX/store/builds/23.0-default"
	our_mounts > "$WORK/mounts.before"
}

teardown() {
	if [ -f "$WORK/pids" ]; then
		while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$WORK/pids"
	fi
	rm -rf "$WORK"
}

# The mounts under this file's fixtures and this test's work directory
# (other test runs on the machine may mount and unmount elsewhere).
our_mounts() {
	awk -v fix="$FIX/" -v work="$WORK/" 'index($5, fix) == 1 || index($5, work) == 1 { print $5, $9, $10 }' \
		/proc/self/mountinfo | sort
}

# No loop device is left holding an image of STORE's cache.
no_image_loops() {
	! losetup -a | grep -F "$1/cache/images/"
}

mounts_unchanged() {
	our_mounts > "$WORK/mounts.after"
	diff "$WORK/mounts.before" "$WORK/mounts.after"
}

@test "--dry-run resolves every input and builds nothing" {
	run --separate-stderr "${Z[@]}" build --dry-run "$FIX/stage3.spec"
	[ "$status" -eq 0 ]
	[[ "$output" == *"seed        $FIX/store/builds/23.0-default/stage3-amd64-openrc-latest.tar.xz"* ]]
	[[ "$output" == *"snapshot    $FIX/store/snapshots/gentoo-$(cat "$FIX/treeish").sqfs (loop-mounted read-only)"* ]]
	[[ "$output" == *"output      $OUT/stage3-amd64-openrc-fixture.tar.xz"* ]]
	[ ! -e "$OUT/stage3-amd64-openrc-fixture.tar.xz" ]
}

@test "stage3: the tarball has emerge's work, owners, modes, xattrs; DIGESTS and CONTENTS are right" {
	run --separate-stderr "${Z[@]}" build "$FIX/stage3.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	tarball="$OUT/stage3-amd64-openrc-fixture.tar.xz"
	[ "$output" = "$tarball" ]
	tar -tvf "$tarball" > "$WORK/list"
	grep -q ' ./usr/share/standin/sys-apps_baselayout$' "$WORK/list"
	grep -q ' ./var/log/emerge-standin.log$' "$WORK/list"
	grep -q '^-rwsr-xr-x root/root .* ./usr/bin/suid-helper$' "$WORK/list" # the stage's owner names
	tar --numeric-owner -tvf "$tarball" | grep -q '^-rw-r--r-- 1234/5678 .* ./home/builder/file$'
	grep -q 'emerge.*@system' <(tar -xOf "$tarball" ./var/log/emerge-standin.log)
	# xattrs survive seed -> cache -> overlay -> tarball.
	mkdir "$WORK/x"
	tar --xattrs --xattrs-include='*' -C "$WORK/x" -xpf "$tarball" ./bin/ping
	python3 -c 'import os,struct,sys; v=os.getxattr(sys.argv[1], "security.capability"); assert v[:20] == struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0), v; assert os.getxattr(sys.argv[1], "user.pax.flags") == b"em"' "$WORK/x/bin/ping"
	# DIGESTS: the sha512 line verifies with sha512sum -c.
	cd "$OUT"
	grep -A2 '^# SHA512 HASH' "$tarball.DIGESTS" | grep -v '^#' | grep ' stage3-amd64-openrc-fixture.tar.xz$' > "$WORK/sha512"
	[ -s "$WORK/sha512" ]
	sha512sum -c "$WORK/sha512"
	grep -q '^# BLAKE2B HASH' "$tarball.DIGESTS"
	# CONTENTS lists what the tarball holds, as catalyst's tar --xattrs -tvf
	# (catalyst's: tar's listing, then an empty line; outputs.bats has the format)
	diff <(zcat "$tarball.CONTENTS.gz" | sed '$d') <(tar --xattrs -tvf "$tarball")
	mounts_unchanged
	# Nothing half-written, no work directory left.
	[ -z "$(ls -A "$OUT" | grep -e '^\.tmp' || true)" ]
	[ ! -e "$FIX/store/tmp/23.0-default/stage3-amd64-openrc-fixture" ]
}

@test "stage4 from a tarball snapshot: packages, users, root overlay, fsscript; the snapshot is read-only in the chroot" {
	id=$(cat "$FIX/treeish")
	sed -e "s/^snapshot_treeish: .*/snapshot: gentoo-$id.tar.xz/" "$FIX/stage4.spec" > "$WORK/stage4.spec"
	# The seed as the cache holds it: a tree, or (cache_format "image") an image.
	seed_entries() { ls -d "$FIX"/store/cache/seeds/*/tree "$FIX"/store/cache/images/*/tree 2>/dev/null; }
	[ -n "$(seed_entries)" ]
	# (only the entries there now: the tarball snapshot becomes an image
	# of its own in cache/images/ during the build)
	entries=$(seed_entries || true)
	before=$(for d in $entries; do tree_digest "$d"; done)
	run --separate-stderr "${Z[@]}" build "$WORK/stage4.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	tarball="$OUT/stage4-amd64-desktop-fixture.tar.xz"
	tar -tf "$tarball" > "$WORK/list"
	grep -qx './usr/share/standin/app-editors_vim' "$WORK/list"
	grep -qx './usr/share/standin/sys-libs_glibc' "$WORK/list"
	[ "$(tar -xOf "$tarball" ./root/fsscript-marker)" = "fsscript ran" ]
	# stage4/root_overlay: laid over / (dot files and modes kept), before
	# the fsscript, and its staging copy is gone.
	[ "$(tar -xOf "$tarball" ./etc/motd)" = "built by zeolite" ]
	[ "$(tar -xOf "$tarball" ./root/fsscript-saw-motd)" = "built by zeolite" ]
	tar -tvf "$tarball" ./root/.overlay-marker | grep -q '^-rw------- '
	! grep -q 'zeolite-root-overlay' "$WORK/list" || false
	tar -xOf "$tarball" ./etc/passwd | grep -q '^releng:'
	[[ "$(tar -xOf "$tarball" ./root/snapshot-write.err)" == *"Read-only file system"* ]]
	# The shared seed tree is unchanged by builds.
	[ "$(for d in $entries; do tree_digest "$d"; done)" = "$before" ]
	mounts_unchanged
}

# Three builds at once from one new seed and one new tarball snapshot:
# one conversion (image) or unpack (tree) of each, shared by all three.
concurrent_builds() {
	local format=$1
	# A fresh store so that nothing is cached yet.
	rm -rf "$WORK/store"
	cp -a "$FIX/store" "$WORK/store"
	rm -rf "$WORK/store/cache" "$WORK/store/builds/23.0-default"/stage*-fixture*
	sed "s|^storedir = .*|storedir = \"$WORK/store\"|" "$FIX/zeolite.conf" > "$WORK/z.conf"
	echo "cache_format = \"$format\"" >> "$WORK/z.conf"
	id=$(cat "$FIX/treeish")
	for t in stage1 stage3 stage4; do
		sed -e "s/^snapshot_treeish: .*/snapshot: gentoo-$id.tar.xz/" "$FIX/$t.spec" > "$WORK/$t.spec"
	done
	for t in stage1 stage3 stage4; do
		"$ZEOLITE" -c "$WORK/z.conf" build "$WORK/$t.spec" > "$WORK/$t.out" 2> "$WORK/$t.err" &
		echo $! >> "$WORK/pids"
	done
	# Each build's exit status, for the record: twice in 20 full runs all
	# three (or two) ended with nothing on stderr while other suites ran.
	while read -r p; do st=0; wait "$p" || st=$?; echo "build pid $p: exit status $st"; done < "$WORK/pids"
	rm "$WORK/pids"
	cat "$WORK"/*.err
	[ "$(cat "$WORK"/*.err | grep -c 'seed 23.0-default/stage3-amd64-openrc-latest.tar.xz (unpacked)')" -eq 1 ]
	[ "$(cat "$WORK"/*.err | grep -Ec 'snapshot gentoo-[0-9a-f]+\.tar\.xz \(unpacked\)')" -eq 1 ]
	for t in stage1 stage3 stage4; do [ -s "$(cat "$WORK/$t.out")" ]; done
	entries() { ls "$WORK/store/cache/$1" | grep -vc -e '\.lock$' -e '^\.' || true; }
	if [ "$format" = image ]; then
		[ "$(entries images)" -eq 2 ]
		[ "$(entries seeds)" -eq 0 ]
		[ "$(entries snapshots)" -eq 0 ]
	else
		[ "$(entries seeds)" -eq 1 ]
		[ "$(entries snapshots)" -eq 1 ]
		[ "$(entries images)" -eq 0 ]
	fi
	# stage1's tarball is the separate root it built.
	tar -tf "$(cat "$WORK/stage1.out")" | grep -qx './usr/share/standin/sys-devel_gcc'
	! tar -tf "$(cat "$WORK/stage1.out")" | grep -qx './bin/busybox'
	mounts_unchanged
	no_image_loops "$WORK/store"
}

@test "three concurrent builds from one seed and one snapshot, as images: one conversion of each" {
	concurrent_builds image
}

@test "three concurrent builds from one seed and one snapshot, as trees: one unpack of each" {
	concurrent_builds tree
}

@test "a second build of the same target waits, then exits 75 naming the holder" {
	mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=build-locked ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${Z[@]}" build "$FIX/stage3.spec" > /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ pid < "$WORK/notify"
	t0=$(date +%s%N)
	run --separate-stderr "${Z[@]}" --lock-timeout 1 build "$FIX/stage3.spec"
	[ "$status" -eq 75 ]
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -ge 1000 ]
	[[ "$stderr" == *"build 'stage3-amd64-openrc-fixture' is held by pid $pid on "*"gave up after 1 s (lock_timeout)"* ]]
}

@test "kill -9 while the build runs: every process and mount goes; autoresume finishes it" {
	mkfifo "$FIX/distfiles/block.fifo" "$FIX/distfiles/alive.fifo"
	"${Z[@]}" build "$FIX/stage4.spec" > "$WORK/out" 2> "$WORK/err" &
	zpid=$!
	echo $zpid >> "$WORK/pids"
	# The fsscript (inside the sandbox) holds alive.fifo open for writing
	# until it dies: reading it to EOF waits for every process that has it.
	exec 4< "$FIX/distfiles/alive.fifo"
	read -r inner <&4
	[ -n "$inner" ]
	kill -9 "$zpid"
	wait "$zpid" || true
	timeout 30 cat <&4 > /dev/null   # EOF: the sandbox's processes are gone
	exec 4<&-
	rm -f "$FIX/distfiles/block.fifo" "$FIX/distfiles/alive.fifo"
	mounts_unchanged
	[ -z "$(losetup -j "$FIX/store/snapshots/gentoo-$(cat "$FIX/treeish").sqfs")" ]
	no_image_loops "$FIX/store"
	[ ! -e "$OUT/stage4-amd64-desktop-fixture.tar.xz.DIGESTS.new" ]
	[ -z "$(ls -A "$OUT" | grep '^\.tmp' || true)" ]
	# setup was done and recorded: the next run resumes after it.
	run --separate-stderr "${Z[@]}" build "$FIX/stage4.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"step 'setup' already done (autoresume)"* ]]
	[ -s "$OUT/stage4-amd64-desktop-fixture.tar.xz" ]
}

@test "kill -9 at each step of a build: nothing half-written; autoresume resumes and finishes" {
	sed -e 's/^version_stamp: .*/version_stamp: killed/' "$FIX/stage3.spec" > "$WORK/killed.spec"
	for point in build-locked inputs-ready setup build preclean clean packing; do
		rm -f "$WORK/notify"; mkfifo "$WORK/notify"
		ZEOLITE_TEST_PAUSE_AT=$point ZEOLITE_TEST_NOTIFY="$WORK/notify" \
			"${Z[@]}" build "$WORK/killed.spec" > /dev/null 2>&1 &
		bg=$!
		echo $bg >> "$WORK/pids"
		read -r got pid < "$WORK/notify"
		[ "$got" = "$point" ]
		kill -9 "$pid"
		wait "$bg" || true
		mounts_unchanged
		[ -z "$(ls -A "$OUT" | grep -e '^\.tmp' -e 'killed.*\.tmp' || true)" ]
		[ ! -e "$OUT/stage3-amd64-killed.tar.xz" ]
	done
	# Every step up to packing was recorded: the next run only packs.
	run --separate-stderr "${Z[@]}" build "$WORK/killed.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	for step in setup build preclean clean; do
		[[ "$stderr" == *"step '$step' already done (autoresume)"* ]]
	done
	[ -s "$OUT/stage3-amd64-killed.tar.xz" ]
	mounts_unchanged
}

@test "a failing script: exit 1, the step named, nothing published" {
	sed -e 's/^version_stamp: .*/version_stamp: failing/' -e 's|^\tapp-editors/vim|\tfail/fail|' "$FIX/stage4.spec" > "$WORK/fail.spec"
	run --separate-stderr "${Z[@]}" build "$WORK/fail.spec"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"build stage4-amd64-failing: step 'build' failed: exit status 1 (log: "* ]]
	[ -z "$(ls "$OUT" | grep failing || true)" ]
}

@test "on a terminal the scripts' output reaches the screen as well as the log" {
	sed -e 's/^version_stamp: .*/version_stamp: tty/' -e 's|^\tapp-editors/vim|\tfail/fail|' "$FIX/stage4.spec" > "$WORK/tty.spec"
	cmd=$(printf '%q ' "${Z[@]}" build "$WORK/tty.spec")
	# script(1) runs the command on a pseudo-terminal and copies the screen.
	run script -q -e -c "$cmd" "$WORK/screen"
	[ "$status" -eq 1 ]
	log=$FIX/store/logs/23.0-default/stage4-amd64-tty-latest.log
	grep -q "zeolite-target: build: running: emerge .*fail/fail" "$log"
	grep -q "zeolite-target: build: running: emerge .*fail/fail" "$WORK/screen"
	grep -q "zeolite-target: build: error: emerge .* failed" "$WORK/screen"
	# Without a terminal the same lines go to the log only.
	run --separate-stderr "${Z[@]}" build "$WORK/tty.spec"
	[ "$status" -eq 1 ]
	[[ "$stderr" != *"zeolite-target:"* ]]
}

@test "a failing compressor (no space left): exit 1, nothing published, an older tarball kept" {
	sed -e 's/^rel_type: .*/rel_type: small/' "$FIX/stage3.spec" > "$WORK/small.spec"
	mkdir -p "$FIX/store/builds/small"
	echo old > "$FIX/store/builds/small/stage3-amd64-openrc-fixture.tar.xz"
	mount -t tmpfs -o size=64k,mode=0755 tmpfs "$FIX/store/builds/small"
	echo old > "$FIX/store/builds/small/stage3-amd64-openrc-fixture.tar.xz"
	run --separate-stderr "${Z[@]}" build "$WORK/small.spec"
	ls -la "$FIX/store/builds/small"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"pack"* ]]
	[ "$(cat "$FIX/store/builds/small/stage3-amd64-openrc-fixture.tar.xz")" = old ]
	[ "$(ls -A "$FIX/store/builds/small" | wc -l)" -eq 1 ]
	umount "$FIX/store/builds/small"
}

@test "a missing stage4/root_overlay: exit 65 naming the spec line, before any work" {
	sed -e "s|^stage4/root_overlay: .*|stage4/root_overlay: $WORK/no-such-overlay|" "$FIX/stage4.spec" > "$WORK/nooverlay.spec"
	line=$(grep -n '^stage4/root_overlay:' "$WORK/nooverlay.spec" | cut -d: -f1)
	run --separate-stderr "${Z[@]}" build "$WORK/nooverlay.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"nooverlay.spec:$line: stage4/root_overlay '$WORK/no-such-overlay' is not a directory"* ]]
	[[ "$stderr" != *"step 'setup'"* ]]
}

@test "a missing seed or snapshot: exit 65 naming it" {
	sed -e 's|^source_subpath: .*|source_subpath: 23.0-default/no-such-seed|' "$FIX/stage3.spec" > "$WORK/noseed.spec"
	run --separate-stderr "${Z[@]}" build "$WORK/noseed.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"noseed.spec:"*"seed '23.0-default/no-such-seed' not found"* ]]
	sed -e 's|^snapshot_treeish: .*|snapshot_treeish: 0000000000000000000000000000000000000000|' "$FIX/stage3.spec" > "$WORK/nosnap.spec"
	run --separate-stderr "${Z[@]}" build "$WORK/nosnap.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"nosnap.spec:"*"snapshot '0000000000000000000000000000000000000000' not found"* ]]
	run --separate-stderr "${Z[@]}" build "$SRCDIR/tests/data/specs/bad-livecd.spec"
	[ "$status" -eq 65 ]
}

@test "a failed build, then a plain rebuild: nothing of the failed run is in the output; -a clears too" {
	sed -e 's/^options = .*/options = []/' "$FIX/zeolite.conf" > "$WORK/plain.conf"
	printf '#!/bin/sh\necho failed-run > /root/failed-run-marker\nexit 3\n' > "$WORK/failing-fs.sh"
	sed -e 's/^version_stamp: .*/version_stamp: rerun/' -e "s|^stage4/fsscript: .*|stage4/fsscript: $WORK/failing-fs.sh|" \
		"$FIX/stage4.spec" > "$WORK/rerun.spec"
	run --separate-stderr "$ZEOLITE" -c "$WORK/plain.conf" build "$WORK/rerun.spec"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"step 'build' failed"* ]]
	# The failed run's upper layer is there (it is what would have leaked).
	[ -f "$FIX/store/tmp/23.0-default/stage4-amd64-rerun/upper/root/failed-run-marker" ]
	printf '#!/bin/sh\nexit 0\n' > "$WORK/failing-fs.sh"
	run --separate-stderr "$ZEOLITE" -c "$WORK/plain.conf" build "$WORK/rerun.spec"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"work directory cleared (no autoresume)"* ]]
	tar -tJf "$OUT/stage4-amd64-rerun.tar.xz" > "$WORK/list"
	grep -q 'root/fsscript-saw-motd\|etc/motd' "$WORK/list"
	! grep -q failed-run-marker "$WORK/list"

	# With autoresume, -a clears as well.
	printf '#!/bin/sh\necho failed-run > /root/failed-run-marker\nexit 3\n' > "$WORK/failing-fs.sh"
	run --separate-stderr "${Z[@]}" build "$WORK/rerun.spec"
	[ "$status" -eq 1 ]
	printf '#!/bin/sh\nexit 0\n' > "$WORK/failing-fs.sh"
	run --separate-stderr "${Z[@]}" build -a "$WORK/rerun.spec"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"work directory cleared (-a)"* ]]
	! tar -tJf "$OUT/stage4-amd64-rerun.tar.xz" | grep -q failed-run-marker
	rm -f "$OUT"/stage4-amd64-rerun.*
}

@test "host files: resolv.conf, hosts and envscript in the chroot for the build, none of them (nor a repos.conf for gentoo) in the stage" {
	cp "$FIX/zeolite.conf" "$WORK/env.conf"
	printf 'export ZEOLITE_ENVSCRIPT_RAN=yes\n' > "$WORK/envscript"
	printf 'envscript = "%s"\n' "$WORK/envscript" >> "$WORK/env.conf"
	printf '#!/bin/sh\ncp /etc/resolv.conf /root/saw-resolv 2>/dev/null || true\ncp /tmp/envscript /root/saw-envscript\ncp /etc/hosts /root/saw-hosts 2>/dev/null || true\n' > "$WORK/fs.sh"
	sed -e 's/^version_stamp: .*/version_stamp: hostfiles/' -e "s|^stage4/fsscript: .*|stage4/fsscript: $WORK/fs.sh|" \
		"$FIX/stage4.spec" > "$WORK/hf.spec"
	run --separate-stderr "$ZEOLITE" -c "$WORK/env.conf" build "$WORK/hf.spec"
	[ "$status" -eq 0 ]
	mkdir "$WORK/x"
	tar -C "$WORK/x" -xJf "$OUT/stage4-amd64-hostfiles.tar.xz"
	rm -f "$OUT"/stage4-amd64-hostfiles.*
	[ ! -e "$WORK/x/etc/resolv.conf" ] && [ ! -L "$WORK/x/etc/resolv.conf" ]
	[ ! -e "$WORK/x/etc/portage/repos.conf/zeolite.conf" ]
	[ ! -e "$WORK/x/etc/portage/repos.conf/gentoo.conf" ]
	[ ! -e "$WORK/x/tmp/envscript" ]
	[ ! -e "$WORK/x/etc/hosts.catalyst" ]
	cmp "$WORK/envscript" "$WORK/x/root/saw-envscript"
	if [ -f /etc/resolv.conf ]; then cmp /etc/resolv.conf "$WORK/x/root/saw-resolv"; fi
}

@test "a portage_confdir with group-writable directories (a umask 002 checkout) builds" {
	mkdir -p "$WORK/confdir/package.use/releng" "$WORK/confdir/package.accept_keywords"
	echo 'app-misc/foo bar' > "$WORK/confdir/package.use/releng/foo"
	chmod -R g+w "$WORK/confdir"
	{ sed -e 's/^version_stamp: .*/version_stamp: gwconf/' "$FIX/stage3.spec"; echo "portage_confdir: $WORK/confdir"; } > "$WORK/gw.spec"
	run --separate-stderr "${Z[@]}" build "$WORK/gw.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"Operation not permitted"* ]]
	tar -tJf "$OUT/stage3-amd64-gwconf.tar.xz" | grep -q 'etc/portage/package.use/releng/foo'
	rm -f "$OUT"/stage3-amd64-gwconf.*
}

@test "-P and -p empty the package cache as catalyst's purge; -T keeps it" {
	sed -e 's/^options = .*/options = ["pkgcache", "keepwork"]/' "$FIX/zeolite.conf" > "$WORK/pk.conf"
	sed -e 's/^version_stamp: .*/version_stamp: purge/' "$FIX/stage3.spec" > "$WORK/purge.spec"
	local pk="$FIX/store/packages/23.0-default/stage3-amd64" wk="$FIX/store/tmp/23.0-default/stage3-amd64-purge"
	run --separate-stderr "$ZEOLITE" -c "$WORK/pk.conf" build "$WORK/purge.spec"
	[ "$status" -eq 0 ]
	rm -f "$OUT"/stage3-amd64-purge.*
	ls "$pk"/sys-apps/baselayout-0.gpkg.tar
	[ -d "$wk" ]
	run --separate-stderr "$ZEOLITE" -c "$WORK/pk.conf" build -T "$WORK/purge.spec"
	[ "$status" -eq 0 ]
	[ ! -e "$wk" ]
	ls "$pk"/sys-apps/baselayout-0.gpkg.tar
	run --separate-stderr "$ZEOLITE" -c "$WORK/pk.conf" build -P "$WORK/purge.spec"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"package cache $pk purged"* ]]
	[ -d "$pk" ] && [ -z "$(ls -A "$pk")" ]
	[ ! -e "$OUT/stage3-amd64-purge.tar.xz" ]
}
