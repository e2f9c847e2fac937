#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# G5: gc never removes a held entry, keeps the newest N per repository,
# removes leftovers of crashed preparations, and never waits.
load lib

@test "a held tree stays unchanged while a newer snapshot is prepared and gc runs" {
	make_snapshot "$WORK/gentoo-old.tar.xz" 30
	make_snapshot "$WORK/gentoo-new.tar.xz" 31
	mkfifo "$WORK/held" "$WORK/release"
	"${Z[@]}" prepare --hold "$WORK/gentoo-old.tar.xz" -- \
		sh -c 'echo "$ZEOLITE_SNAPSHOT_PATH" > "$1"; read x < "$2"' sh "$WORK/held" "$WORK/release" &
	holder=$!
	echo $holder >> "$WORK/pids"
	old=$(cat "$WORK/held")
	before=$(tree_digest "$old")
	new=$("${Z[@]}" prepare "$WORK/gentoo-new.tar.xz")
	[ "$new" != "$old" ]
	run "${Z[@]}" gc
	[ "$status" -eq 0 ]
	[[ "$output" == *"kept: in use"* ]]
	[ "$(tree_digest "$old")" = "$before" ]
	[ -d "$new" ]
	echo go > "$WORK/release"
	wait $holder
	run "${Z[@]}" gc
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed: unused"* ]]
	[ ! -e "$old" ]
	[ -d "$new" ]   # the newest of the repository is kept
}

@test "--keep N and --dry-run" {
	for i in 1 2 3; do
		make_snapshot "$WORK/gentoo-$i.tar.gz" $((10 + i))
		"${Z[@]}" prepare "$WORK/gentoo-$i.tar.gz" > "$WORK/path.$i"
	done
	run "${Z[@]}" gc --keep 2 --dry-run
	[ "$status" -eq 0 ]
	[ "$(grep -c 'would remove' <<< "$output")" -eq 1 ]
	for i in 1 2 3; do [ -d "$(cat "$WORK/path.$i")" ]; done
	run "${Z[@]}" gc --keep 2
	[ ! -e "$(cat "$WORK/path.1")" ]
	[ -d "$(cat "$WORK/path.2")" ] && [ -d "$(cat "$WORK/path.3")" ]
	run "${Z[@]}" gc --keep 0
	[ -z "$(ls "$STORE/cache/snapshots" | grep -v '\.lock$' || true)" ]
}

@test "gc removes leftovers of a crashed preparation but not a live one" {
	make_snapshot "$WORK/gentoo-x.tar.xz" 30
	run env ZEOLITE_TEST_EXIT_AT=filled "${Z[@]}" prepare "$WORK/gentoo-x.tar.xz"
	[ "$status" -eq 99 ]
	[ -n "$(ls -A "$STORE/cache/snapshots" | grep '^\.tmp\.')" ]
	# A live preparation of another snapshot, paused.
	make_snapshot "$WORK/gentoo-y.tar.xz" 30
	mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=filled ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${Z[@]}" prepare "$WORK/gentoo-y.tar.xz" > /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ pid < "$WORK/notify"
	t0=$(date +%s%N)
	run "${Z[@]}" gc
	[ "$status" -eq 0 ]
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 2000 ]   # never waits
	[ "$(grep -c 'leftovers of an unfinished preparation' <<< "$output")" -eq 1 ]
	[ "$(ls -A "$STORE/cache/snapshots" | grep -c '^\.tmp\.')" -eq 1 ]   # the live one
	kill -9 "$pid"
}

@test "a FIFO in locks/ or at <id>.lock blocks neither status nor gc, and prepare replaces it" {
	make_snapshot "$WORK/gentoo-f.tar.gz" 40
	path=$("${Z[@]}" prepare "$WORK/gentoo-f.tar.gz")
	id=$(basename "$(dirname "$path")")
	lock="$STORE/cache/snapshots/$id.lock"
	[ -f "$lock" ]
	rm "$lock"
	mkfifo "$lock" "$STORE/locks/planted"
	# Before the fix each of these blocked forever in open(2).
	run timeout 30 "${Z[@]}" status
	[ "$status" -eq 0 ]
	run timeout 30 "${Z[@]}" gc --dry-run
	[ "$status" -eq 0 ]
	run timeout 30 "${Z[@]}" prepare "$WORK/gentoo-f.tar.gz"
	[ "$status" -eq 0 ]
	[ "$output" = "$path" ]
	[ -f "$lock" ] && [ ! -p "$lock" ]
}

# Issue 12: a pack killed while publishing leaves .tmp.* files or an
# unfinished stage in builds/; gc removes them (as the next pack there does).
@test "gc removes leftovers of killed packs in builds/, not a live pack's stage" {
	mkdir -p "$STORE"
	mkdir -p "$STORE/builds/default/sub"
	head -c 100000 /dev/urandom > "$STORE/builds/default/.tmp.stage3-amd64.tar.xz.aBc123"
	mkdir "$STORE/builds/default/sub/.zeolite-pack.dead1"
	echo partial > "$STORE/builds/default/sub/.zeolite-pack.dead1/stage3.tar.xz"
	mkdir "$STORE/builds/default/.zeolite-pack.live1"
	mkfifo "$WORK/locked" "$WORK/release"
	flock -x "$STORE/builds/default/.zeolite-pack.live1" sh -c 'echo > "$1"; read x < "$2"' sh "$WORK/locked" "$WORK/release" &
	echo $! >> "$WORK/pids"
	read -r _ < "$WORK/locked"
	run "${Z[@]}" gc
	[ "$status" -eq 0 ]
	[[ "$output" == *"builds/default: removed the leftover temporary file '.tmp.stage3-amd64.tar.xz.aBc123'"* ]]
	[[ "$output" == *"builds/default/sub: removed the unfinished output set '.zeolite-pack.dead1'"* ]]
	[ ! -e "$STORE/builds/default/.tmp.stage3-amd64.tar.xz.aBc123" ]
	[ ! -e "$STORE/builds/default/sub/.zeolite-pack.dead1" ]
	[ -d "$STORE/builds/default/.zeolite-pack.live1" ]
	echo go > "$WORK/release"
}

@test "gc that cannot remove an entry says so, not 'removed', and fails" {
	command -v strace > /dev/null || skip "no strace"
	make_snapshot "$WORK/gentoo-r.tar.gz" 10
	path=$("${Z[@]}" prepare "$WORK/gentoo-r.tar.gz")
	run --separate-stderr strace -f -qq -o /dev/null -e trace=renameat -e inject=renameat:error=EIO \
		"${Z[@]}" gc --keep 0
	[ "$status" -eq 1 ]
	[[ "$output" == *"not removed: moving it into .trash/ and deleting it: Input/output error"* ]] || { echo "$output"; false; }
	[[ "$output" != *"removed: unused"* ]]
	[[ "$stderr" == "zeolite: gc: in $STORE/cache: not everything could be removed (see above): Input/output error" ]] || { echo "$stderr"; false; }
	[ -d "$path" ]
	run "${Z[@]}" gc --keep 0
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed: unused"* ]]
	[ ! -e "$path" ]
}
