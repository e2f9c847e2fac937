#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# A store on GlusterFS shared by two clients (issue 14 item 4, DESIGN.md
# §6): setup_file starts a glusterd of its own (working directory in a
# temporary directory), creates one volume with one brick under /var/tmp
# and mounts it twice with FUSE: A and B are two separate glusterfs
# clients, whose fcntl locks only the volume's locks translator
# arbitrates.  The herd, kill -9 and lock_timeout tests of prepare run
# from both mounts at once.  teardown_file unmounts, stops and deletes the
# volume and stops the daemons it started, also after a failure.  Skipped,
# saying why, only when glusterd is not installed or does not start.
load lib

setup_file() {
	local b
	export PATH="$PATH:/usr/sbin"
	for b in glusterd gluster glusterfs; do
		command -v "$b" > /dev/null ||
			skip "$b is not installed (Debian: apt-get install glusterfs-server glusterfs-client; scripts/deps.sh installs them)"
	done
	[ "$(id -u)" = 0 ] || skip "glusterd needs root"
	[ -c /dev/fuse ] || skip "no /dev/fuse: the FUSE mounts cannot be made here"
	if python3 -c 'import socket; socket.create_connection(("127.0.0.1", 24007), 1)' 2> /dev/null; then
		skip "port 24007 is in use (a glusterd runs already): this test starts its own"
	fi
	export GL=$(mktemp -d /var/tmp/zeolite-gluster.XXXXXX)
	export VOL=zeolite$$
	mkdir -p "$GL/wd" "$GL/brick" "$GL/a" "$GL/b" "$GL/log"
	sed -e "s|^\( *option working-directory\).*|\1 $GL/wd|" /etc/glusterfs/glusterd.vol > "$GL/glusterd.vol"
	cp -r /var/lib/glusterd/groups /var/lib/glusterd/hooks "$GL/wd/" 2> /dev/null || true
	if ! glusterd -f "$GL/glusterd.vol" -p "$GL/glusterd.pid" -l "$GL/log/glusterd.log" > "$GL/glusterd.out" 2>&1 ||
		! wait_for gluster --mode=script pool list; then
		skip "glusterd does not start here: $(tail -3 "$GL/glusterd.out" "$GL/log/glusterd.log" 2> /dev/null | tr '\n' ' ')"
	fi
	# A loopback brick: the host's name, not "localhost" (refused); force,
	# since the brick is not on a mount point of its own.
	gluster --mode=script volume create "$VOL" "$(hostname):$GL/brick" force
	gluster --mode=script volume start "$VOL"
	mount_client a
	mount_client b
	grep -q " $GL/a .* fuse.glusterfs " /proc/self/mountinfo
	grep -q " $GL/b .* fuse.glusterfs " /proc/self/mountinfo
}

# mount_client NAME: a glusterfs FUSE client of the volume at $GL/NAME.
mount_client() {
	glusterfs --volfile-server="$(hostname)" --volfile-id="$VOL" --pid-file="$GL/client-$1.pid" \
		-l "$GL/log/client-$1.log" "$GL/$1"
	wait_for mountpoint -q "$GL/$1"
}

teardown_file() {
	local m p f
	[ -n "${GL:-}" ] || return 0
	for m in a b; do
		# By /proc/self/mountinfo: a dead client's mount fails mountpoint(1).
		grep -q " $GL/$m " /proc/self/mountinfo && { umount "$GL/$m" || umount -l "$GL/$m" || true; }
		if [ -f "$GL/client-$m.pid" ]; then
			p=$(cat "$GL/client-$m.pid")
			kill -9 "$p" 2> /dev/null || true
		fi
	done
	if [ -f "$GL/glusterd.pid" ]; then
		# The brick's glusterfsd: started by our glusterd for our volume.
		gluster --mode=script volume stop "$VOL" force > /dev/null 2>&1 || true
		for f in $(find "$GL/wd/vols/$VOL" /var/run/gluster/vols/"$VOL" -name '*.pid' 2> /dev/null); do
			p=$(cat "$f" 2> /dev/null) && [ -n "$p" ] && kill -9 "$p" 2> /dev/null || true
		done
		gluster --mode=script volume delete "$VOL" > /dev/null 2>&1 || true
		p=$(cat "$GL/glusterd.pid")
		kill "$p" 2> /dev/null && { wait_for sh -c "! kill -0 $p" || kill -9 "$p" 2> /dev/null || true; }
	fi
	rm -rf "$GL"
}

setup() {
	WORK=$(mktemp -d /var/tmp/zeolite-bats.XXXXXX)
	printf '' > "$WORK/empty.conf"
	# One store, seen through the two clients.
	T=t$BATS_TEST_NUMBER
	ZA=("$ZEOLITE" -c "$WORK/empty.conf" --storedir "$GL/a/$T/store")
	ZB=("$ZEOLITE" -c "$WORK/empty.conf" --storedir "$GL/b/$T/store")
	mkdir "$GL/a/$T"
}

teardown() {
	if [ -f "$WORK/pids" ]; then
		while read -r p; do kill -9 "$p" 2> /dev/null || true; done < "$WORK/pids"
	fi
	rm -rf "$WORK"
	rm -rf "$GL/a/$T" || true   # A's client may be the one a test killed
}

json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

# snap NAME [N]: a snapshot on the volume, as $GL/a/$T/NAME (= $GL/b/$T/NAME).
snap() {
	make_snapshot "$WORK/$1" "${2:-50}"
	cp "$WORK/$1" "$GL/a/$T/$1"
}

# paused SIDE POINT SNAPSHOT: a prepare from mount SIDE stopped at test
# point POINT holding the entry's lock; prints its pid.
paused() {
	local z=("$ZEOLITE" -c "$WORK/empty.conf" --storedir "$GL/$1/$T/store")
	rm -f "$WORK/notify"; mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=$2 ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${z[@]}" prepare "$GL/$1/$T/$3" > "$WORK/paused.out" 2>&1 &
	echo $! >> "$WORK/pids"
	# Bounded: a prepare that fails before POINT never writes.
	line=$(timeout 120 head -n 1 "$WORK/notify") || { cat "$WORK/paused.out" >&2; return 1; }
	echo "${line#* }"
}

# make_store: the store made from A (a first prepare makes it).
make_store() {
	make_snapshot "$WORK/init.tar.gz" 1
	"${ZA[@]}" prepare "$WORK/init.tar.gz" > /dev/null
	[ -d "$GL/b/$T/store/cache/snapshots" ]
}

@test "the store is on fuse.glusterfs, no warning; O_TMPFILE and RENAME_NOREPLACE are missing there" {
	run --separate-stderr "${ZA[@]}" prepare "$(make_snapshot "$WORK/init.tar.gz" 1; echo "$WORK/init.tar.gz")"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	run --separate-stderr "${ZB[@]}" status
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(stat -f -c %t "$GL/a/$T/store")" = 65735546 ]
	# What zeolite must do without (lock.c, cache.c fall back).
	run python3 -c 'import os,sys; os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o644)' "$GL/a/$T"
	[ "$status" -ne 0 ]
}

@test "herd: 8 concurrent prepares of one cold snapshot, 4 from each client: one unpack, one tree (3 rounds)" {
	n=${ZEOLITE_TEST_CONCURRENCY:-8}
	# The store made first, from A (docs/shared-stores.md: creating it
	# from two clients at once can fail on one of them).
	make_store
	for round in 1 2 3; do
		snap "gentoo-r$round.tar.xz" 100
		mkdir "$WORK/ref$round" && tar -C "$WORK/ref$round" -xf "$WORK/gentoo-r$round.tar.xz"
		want=$(tree_digest "$WORK/ref$round")
		exec {barrier}> "$WORK/barrier"
		flock -x "$barrier"
		for i in $(seq 1 "$n"); do
			side=a; [ $((i % 2)) -eq 0 ] && side=b
			( exec {barrier}>&-
			  flock -s "$WORK/barrier" true
			  exec "$ZEOLITE" -c "$WORK/empty.conf" --storedir "$GL/$side/$T/store" --lock-timeout 120 \
				--json prepare "$GL/$side/$T/gentoo-r$round.tar.xz" ) > "$WORK/out.$round.$i" 2> "$WORK/err.$round.$i" &
			echo $! >> "$WORK/pids.$round"
		done
		exec {barrier}>&-
		while read -r p; do wait "$p" || { cat "$WORK"/err.$round.*; false; }; done < "$WORK/pids.$round"
		unpacked=0 others=0 paths=""
		for i in $(seq 1 "$n"); do
			a=$(json_field action < "$WORK/out.$round.$i")
			case "$a" in
			unpacked) unpacked=$((unpacked + 1)) ;;
			waited | reused) others=$((others + 1)) ;;
			esac
			p=$(json_field path < "$WORK/out.$round.$i")
			paths="$paths${p#"$GL"/[ab]}\n"
		done
		echo "round $round: $unpacked unpacked, $others waited/reused"
		[ "$unpacked" -eq 1 ]
		[ "$others" -eq $((n - 1)) ]
		[ "$(printf "$paths" | sort -u | wc -l)" -eq 1 ]
		p=$(printf "$paths" | head -1)
		[ "$(tree_digest "$GL/a$p")" = "$want" ]
		[ "$(tree_digest "$GL/b$p")" = "$want" ]
	done
}

@test "kill -9 of the preparer on A while a waiter on B waits: B takes over, recovers, the tree is whole" {
	snap gentoo-k.tar.xz 100
	mkdir "$WORK/ref" && tar -C "$WORK/ref" -xf "$WORK/gentoo-k.tar.xz"
	holder=$(paused a filled gentoo-k.tar.xz)
	[ -n "$holder" ]
	# The waiter stops once it found PREPARE held (from the other client),
	# registered as waiting; then it goes on into the blocking wait.
	mkfifo "$WORK/wnotify" "$WORK/wresume"
	ZEOLITE_TEST_PAUSE_AT=waiting ZEOLITE_TEST_NOTIFY="$WORK/wnotify" ZEOLITE_TEST_RESUME="$WORK/wresume" \
		"${ZB[@]}" --lock-timeout 120 --json prepare "$GL/b/$T/gentoo-k.tar.xz" > "$WORK/waiter.json" 2> "$WORK/waiter.err" &
	waiter=$!
	echo $waiter >> "$WORK/pids"
	line=$(timeout 120 head -n 1 "$WORK/wnotify") || { cat "$WORK/waiter.err"; false; }
	[ "$line" = "waiting $waiter" ]
	run "${ZB[@]}" status
	[[ "$output" == *"preparing: pid $holder on "* ]]
	timeout 60 sh -c 'echo go > "$1"' sh "$WORK/wresume"
	kill -9 "$holder"
	rc=0
	wait "$waiter" || rc=$?
	cat "$WORK/waiter.err"
	[ "$rc" -eq 0 ]
	[ "$(json_field action < "$WORK/waiter.json")" = unpacked ]
	[ "$(json_field recovered < "$WORK/waiter.json")" = True ]
	p=$(json_field path < "$WORK/waiter.json")
	[ "$(tree_digest "$p")" = "$(tree_digest "$WORK/ref")" ]
	[ "$(tree_digest "$GL/a${p#"$GL"/b}")" = "$(tree_digest "$WORK/ref")" ]
	# A's side reuses it.
	run "${ZA[@]}" --json prepare "$GL/a/$T/gentoo-k.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = reused ]
}

@test "lock_timeout across the clients: a waiter on B gives up after 1 s naming the holder on A; 0 does not wait" {
	snap gentoo-t.tar.xz 10
	holder=$(paused a staging gentoo-t.tar.xz)
	[ -n "$holder" ]
	t0=$(date +%s%N)
	run --separate-stderr "${ZB[@]}" --lock-timeout 1 prepare "$GL/b/$T/gentoo-t.tar.xz"
	t1=$(date +%s%N)
	[ "$status" -eq 75 ]
	ms=$(( (t1 - t0) / 1000000 ))
	echo "waited $ms ms"
	[ "$ms" -ge 1000 ] && [ "$ms" -le 3000 ]
	[[ "$stderr" == "zeolite: prepare: snapshot cache entry 'gentoo-t.tar.xz' ("*") is held by pid $holder on $(hostname) ("*"zeolite"*"prepare"*", since "*"); gave up after 1 s (lock_timeout)" ]]
	[ "${#stderr_lines[@]}" -eq 1 ]

	t0=$(date +%s%N)
	run --separate-stderr "${ZB[@]}" --lock-timeout 0 prepare "$GL/b/$T/gentoo-t.tar.xz"
	t1=$(date +%s%N)
	[ "$status" -eq 75 ]
	[ $(( (t1 - t0) / 1000000 )) -lt 1000 ]
	[[ "$stderr" == *"held by pid $holder "*"not waiting (lock_timeout 0)" ]]
	kill -9 "$holder"
}

@test "a store on an untested shared filesystem (NFS, a FUSE other than GlusterFS) warns, naming it; the store works" {
	# f_type faked (test hook): no NFS client or other FUSE filesystem here.
	mkdir "$WORK/s"
	run --separate-stderr env ZEOLITE_TEST_FSTYPE=6969 "$ZEOLITE" -c "$WORK/empty.conf" --storedir "$WORK/s" status
	[ "$status" -eq 0 ]
	[[ "$stderr" == "zeolite: '$WORK/s' is on NFS: zeolite's locks were not shown to hold between the clients of this filesystem; do not share it between hosts (docs/shared-stores.md)" ]]
	run --separate-stderr env ZEOLITE_TEST_FSTYPE=65735546 "$ZEOLITE" -c "$WORK/empty.conf" --storedir "$WORK/s" status
	[ "$status" -eq 0 ]
	[[ "$stderr" == "zeolite: '$WORK/s' is on "*" (FUSE): zeolite's locks were not shown"* ]]
	run --separate-stderr "$ZEOLITE" -c "$WORK/empty.conf" --storedir "$WORK/s" status
	[ -z "$stderr" ]
}

@test "A's glusterfs client killed (-9, as a host dying) while its preparer holds the lock: B takes over" {
	make_store
	snap gentoo-h.tar.xz 100
	mkdir "$WORK/ref" && tar -C "$WORK/ref" -xf "$WORK/gentoo-h.tar.xz"
	holder=$(paused a filled gentoo-h.tar.xz)
	[ -n "$holder" ]
	run --separate-stderr "${ZB[@]}" --lock-timeout 0 prepare "$GL/b/$T/gentoo-h.tar.xz"
	[ "$status" -eq 75 ]
	kill -9 "$(cat "$GL/client-a.pid")"
	# The brick drops the dead client's locks when its connection closes.
	run --separate-stderr "${ZB[@]}" --lock-timeout 60 --json prepare "$GL/b/$T/gentoo-h.tar.xz"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = unpacked ]
	[ "$(json_field recovered <<< "$output")" = True ]
	[ "$(tree_digest "$(json_field path <<< "$output")")" = "$(tree_digest "$WORK/ref")" ]
	kill -9 "$holder"
	umount "$GL/a" || umount -l "$GL/a"
	mount_client a
	run "${ZA[@]}" --json prepare "$GL/a/$T/gentoo-h.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = reused ]
}
