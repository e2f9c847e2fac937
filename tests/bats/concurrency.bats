#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# G1: N concurrent prepares of one cold snapshot cost one unpack and all
# get the same complete tree.
load lib

json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

@test "16 concurrent prepares of a cold snapshot: one unpack, one tree (5 rounds)" {
	n=${ZEOLITE_TEST_CONCURRENCY:-16}
	for round in 1 2 3 4 5; do
		make_snapshot "$WORK/gentoo-r$round.tar.xz" 300
		mkdir "$WORK/ref$round" && tar -C "$WORK/ref$round" -xf "$WORK/gentoo-r$round.tar.xz"
		want=$(tree_digest "$WORK/ref$round")
		# Start them all at once: each waits for a shared lock on a
		# barrier file that we hold exclusively, then all go together.
		exec {barrier}> "$WORK/barrier"
		flock -x "$barrier"
		for i in $(seq 1 "$n"); do
			( exec {barrier}>&-   # not ours: only the parent holds it
			  flock -s "$WORK/barrier" true
			  exec "${Z[@]}" --json prepare "$WORK/gentoo-r$round.tar.xz" ) > "$WORK/out.$round.$i" &
			echo $! >> "$WORK/pids.$round"
		done
		exec {barrier}>&-
		while read -r p; do wait "$p"; done < "$WORK/pids.$round"
		unpacked=0 others=0 paths=""
		for i in $(seq 1 "$n"); do
			a=$(json_field action < "$WORK/out.$round.$i")
			case "$a" in
			unpacked) unpacked=$((unpacked + 1)) ;;
			waited|reused) others=$((others + 1)) ;;
			esac
			paths="$paths$(json_field path < "$WORK/out.$round.$i")\n"
		done
		echo "round $round: $unpacked unpacked, $others waited/reused"
		[ "$unpacked" -eq 1 ]
		[ "$others" -eq $((n - 1)) ]
		[ "$(printf "$paths" | sort -u | wc -l)" -eq 1 ]
		[ "$(tree_digest "$(printf "$paths" | head -1)")" = "$want" ]
	done
}

@test "concurrent prepares of different snapshots proceed side by side" {
	make_snapshot "$WORK/a.tar.xz" 50
	make_snapshot "$WORK/b.tar.zst" 50
	rm -f "$WORK/notify"; mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=staging ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${Z[@]}" prepare "$WORK/a.tar.xz" > /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ pid < "$WORK/notify"
	# a is busy; b is not blocked by it.
	run "${Z[@]}" --lock-timeout 0 --json prepare "$WORK/b.tar.zst"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = unpacked ]
	run "${Z[@]}" status
	[[ "$output" == *"preparing: pid $pid on "* ]]
	kill -9 "$pid"
}
