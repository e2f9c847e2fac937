#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# G3: a preparer killed (kill -9) at any step is detected by the next one,
# which says so, discards the leftovers and starts over; nobody ever gets
# a path to a partial tree.
load lib

json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

setup_file() {
	export SNAPDIR=$(mktemp -d /var/tmp/zeolite-crash.XXXXXX)
	# For the named steps: a small tree plus 4 MiB that does not compress,
	# so that the unpack reports progress (every MiB) and has a middle.
	mkdir -p "$SNAPDIR/ref/cat/pkg" "$SNAPDIR/ref/profiles"
	for i in $(seq 1 300); do echo "EAPI=8 $i" > "$SNAPDIR/ref/cat/pkg/pkg-$i.ebuild"; done
	head -c 4194304 /dev/urandom > "$SNAPDIR/ref/profiles/blob"
	tar -C "$SNAPDIR/ref" -cJf "$SNAPDIR/guru.tar.xz" .
	# For random instants: the real GURU tree, which takes a while.
	cp "$SHARED_DATA/guru-snapshot.tar.xz" "$SNAPDIR/real.tar.xz"
	mkdir "$SNAPDIR/realref"
	tar -C "$SNAPDIR/realref" -xf "$SNAPDIR/real.tar.xz"
	tree_digest "$SNAPDIR/realref" > "$SNAPDIR/realref.digest"
}

teardown_file() {
	rm -rf "$SNAPDIR"
}

ref_digest() {
	[ -f "$SNAPDIR/ref.digest" ] || tree_digest "$SNAPDIR/ref" > "$SNAPDIR/ref.digest"
	cat "$SNAPDIR/ref.digest"
}

# kill -9 the preparer paused at POINT; check what the next one does.
crash_at() {
	local point=$1 expect_action=$2 expect_recovered=$3
	rm -f "$WORK/notify"; mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=$point ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${Z[@]}" prepare "$SNAPDIR/guru.tar.xz" > /dev/null 2>&1 &
	local bg=$!
	echo $bg >> "$WORK/pids"
	read -r got pid < "$WORK/notify"
	[ "$got" = "$point" ]
	kill -9 "$pid"
	wait "$bg" || true
	run --separate-stderr "${Z[@]}" --json prepare "$SNAPDIR/guru.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = "$expect_action" ] || { echo "$point: $output"; false; }
	if [ "$expect_recovered" = yes ]; then
		[[ "$stderr" == *"previous preparation of 'guru.tar.xz' by pid $pid on "*"did not finish; starting over"* ]] ||
			{ echo "$point: stderr: $stderr"; false; }
	else
		[[ "$stderr" != *"did not finish"* ]]
	fi
	[ "$(tree_digest "$(json_field path <<< "$output")")" = "$(ref_digest)" ]
	[ -z "$(ls -A "$STORE/cache/snapshots" | grep '^\.tmp\.' || true)" ]
	rm -rf "$STORE"
}

@test "killed after taking the lock" { crash_at locked unpacked no; }
@test "killed after cleaning leftovers" { crash_at cleaned unpacked no; }
@test "killed with an empty staging tree" { crash_at staging unpacked yes; }
@test "killed half-way through the unpack" { crash_at unpack-half unpacked yes; }
@test "killed after the unpack, before the stamp and sync" { crash_at filled unpacked yes; }
@test "killed after sync, before the rename" { crash_at synced unpacked yes; }
@test "killed right after the publishing rename" { crash_at renamed reused no; }
@test "killed after publishing" { crash_at published reused no; }
@test "killed in the directory fsync after the rename" { crash_at renamed reused no; }
@test "killed after the directory fsync" { crash_at dir-synced reused no; }

# Issue 12: the entry is published by the rename; a preparer that then
# stalls (the directory fsync of a slow disk) holds nobody up.
@test "a preparer stalled in the directory fsync after its rename: waiters and newcomers get the tree, exit 0" {
	mkfifo "$WORK/notify" "$WORK/resume" "$WORK/wnotify" "$WORK/wresume"
	ZEOLITE_TEST_PAUSE_AT=filled,renamed ZEOLITE_TEST_NOTIFY="$WORK/notify" ZEOLITE_TEST_RESUME="$WORK/resume" \
		"${Z[@]}" prepare "$SNAPDIR/guru.tar.xz" > /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r got pid < "$WORK/notify"
	[ "$got" = filled ]
	# A waiter that finds the entry not ready and waits for the preparer.
	ZEOLITE_TEST_PAUSE_AT=waiting ZEOLITE_TEST_NOTIFY="$WORK/wnotify" ZEOLITE_TEST_RESUME="$WORK/wresume" \
		"${Z[@]}" --lock-timeout 5 --json prepare "$SNAPDIR/guru.tar.xz" > "$WORK/waiter.json" 2> "$WORK/waiter.err" &
	waiter=$!
	echo $waiter >> "$WORK/pids"
	read -r got _ < "$WORK/wnotify"
	[ "$got" = waiting ]
	echo go > "$WORK/wresume"
	echo go > "$WORK/resume"
	read -r got _ < "$WORK/notify"
	[ "$got" = renamed ]   # published; the preparer is stuck before its fsync
	rc=0; wait $waiter || rc=$?
	cat "$WORK/waiter.err"
	[ "$rc" -eq 0 ]
	[ "$(json_field action < "$WORK/waiter.json")" = waited ]
	[ "$(tree_digest "$(json_field path < "$WORK/waiter.json")")" = "$(ref_digest)" ]
	run --separate-stderr "${Z[@]}" --lock-timeout 0 --json prepare "$SNAPDIR/guru.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = reused ]
	kill -9 "$pid"
}

@test "exit at each step (ZEOLITE_TEST_EXIT_AT) leaves nothing trusted" {
	for point in staging unpack-half filled synced; do
		run env ZEOLITE_TEST_EXIT_AT=$point "${Z[@]}" prepare "$SNAPDIR/guru.tar.xz"
		[ "$status" -eq 99 ]
		run --separate-stderr "${Z[@]}" prepare "$SNAPDIR/guru.tar.xz"
		[ "$status" -eq 0 ]
		[[ "$stderr" == *"did not finish; starting over"* ]]
		[ "$(tree_digest "$output")" = "$(ref_digest)" ]
		rm -rf "$STORE"
	done
}

@test "kill -9 at random instants while readers wait: no reader sees a partial tree" {
	for round in 1 2 3; do
		# The preparer is killed after a random 0-1.5 s; readers queued
		# behind it take over.  Every path any reader prints is complete.
		timeout -s KILL "$((RANDOM % 1500))e-3" "${Z[@]}" prepare "$SNAPDIR/real.tar.xz" \
			> "$WORK/victim.out" 2>/dev/null &
		victim=$!
		for r in 1 2 3; do
			"${Z[@]}" --json prepare "$SNAPDIR/real.tar.xz" > "$WORK/reader.$r" 2> "$WORK/reader.$r.err" &
			echo $! >> "$WORK/readers"
		done
		wait $victim || true
		while read -r p; do wait "$p"; done < "$WORK/readers"
		rm "$WORK/readers"
		unpacked=0
		for r in 1 2 3; do
			path=$(json_field path < "$WORK/reader.$r")
			[ "$(tree_digest "$path")" = "$(cat "$SNAPDIR/realref.digest")" ]
			[ "$(json_field action < "$WORK/reader.$r")" = unpacked ] && unpacked=$((unpacked + 1))
		done
		[ "$unpacked" -le 1 ]
		if [ -s "$WORK/victim.out" ]; then
			[ "$(tree_digest "$(cat "$WORK/victim.out")")" = "$(cat "$SNAPDIR/realref.digest")" ]
		fi
		rm -rf "$STORE"
	done
}

# The image kind (cache/images/) shares the protocol: the same at each step.
# The image kind killed at each step, at random instants, and hostile
# tarballs: tests/bats/image-protocol.bats.

@test "prepare --image: a waiter gives up after lock_timeout naming the converter; a malformed image entry is replaced" {
	command -v tar2sqfs > /dev/null || skip "no tar2sqfs"
	rm -f "$WORK/notify"; mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=filled ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${Z[@]}" prepare --image "$SNAPDIR/guru.tar.xz" > /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ pid < "$WORK/notify"
	run --separate-stderr "${Z[@]}" --lock-timeout 1 prepare --image "$SNAPDIR/guru.tar.xz"
	[ "$status" -eq 75 ]
	[[ "$stderr" == *"image of cache entry 'guru.tar.xz' ("*") is held by pid $pid on "*"gave up after 1 s (lock_timeout)" ]] || { echo "$stderr"; false; }
	kill -9 "$pid"
	run --separate-stderr "${Z[@]}" --json prepare --image "$SNAPDIR/guru.tar.xz"
	[ "$status" -eq 0 ]
	img=$(json_field path <<< "$output")
	entry=$(dirname "$(dirname "$img")")
	want=$(sha256sum < "$img")
	rm "$img"   # a tree without its image
	run --separate-stderr "${Z[@]}" --json prepare --image "$SNAPDIR/guru.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = unpacked ]
	[[ "$stderr" == *"cache entry $entry was malformed (no image file)"* ]] || { echo "$stderr"; false; }
	[ "$(sha256sum < "$img")" = "$want" ]
}
