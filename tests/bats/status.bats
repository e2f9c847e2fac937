#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# status and gc --dry-run only read the store: nothing created, a
# read-only store works, a user cannot squat the store; the commands that
# write need root up front (77); status for people: headers, human units,
# running builds, no stale or self-waiting preparers; gc names what it frees.
load lib

NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

teardown() {
	umount "$WORK/ro" 2>/dev/null || true
	if [ -f "$WORK/pids" ]; then
		while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$WORK/pids"
	fi
	rm -rf "$WORK"
}

@test "status of a missing store: does not exist, exit 66, nothing created" {
	run --separate-stderr "${Z[@]}" status
	[ "$status" -eq 66 ]
	[ "${stderr_lines[0]}" = "zeolite: store '$STORE': '$STORE' does not exist" ]
	[[ "${stderr_lines[1]}" == "zeolite: hint: "* ]]
	[ ! -e "$STORE" ]
	run --separate-stderr "${Z[@]}" gc --dry-run
	[ "$status" -eq 66 ]
	[ ! -e "$STORE" ]
}

@test "a non-root status creates nothing; root then uses the store" {
	chmod 755 "$WORK"
	run --separate-stderr "${NOBODY[@]}" "${Z[@]}" status
	[ "$status" -eq 66 ]
	[ ! -e "$STORE" ]
	make_snapshot "$WORK/s.tar.gz" 5
	chmod 644 "$WORK/s.tar.gz"
	run --separate-stderr "${Z[@]}" prepare "$WORK/s.tar.gz"
	[ "$status" -eq 0 ]
	[ "$(stat -c %u "$STORE")" = 0 ]
	# A user reads root's store without changing it.
	before=$(cd "$STORE" && find . -printf '%p %m %u %T@\n' | sort)
	run --separate-stderr "${NOBODY[@]}" "${Z[@]}" status
	[ "$status" -eq 0 ]
	[[ "$output" == *"s.tar.gz"* ]]
	[ "$before" = "$(cd "$STORE" && find . -printf '%p %m %u %T@\n' | sort)" ]
}

@test "commands that write need root: 77 before anything is done" {
	chmod 755 "$WORK"
	printf 'subarch: amd64\n' > "$WORK/x.spec"
	for args in "build $WORK/x.spec" "prepare x" "snapshot" "gc"; do
		run --separate-stderr "${NOBODY[@]}" "${Z[@]}" $args
		[ "$status" -eq 77 ] || { echo "$args: $status $stderr"; false; }
		[[ "${stderr_lines[0]}" == "zeolite: ${args%% *}: needs root"*"nothing was done" ]]
		[[ "${stderr_lines[1]}" == "zeolite: hint: run it as root"* ]]
		[ ! -e "$STORE" ]
	done
	# A dry run does not need root (it fails here on the spec, not on 77).
	run --separate-stderr "${NOBODY[@]}" "${Z[@]}" build --dry-run "$WORK/x.spec"
	[ "$status" -ne 77 ]
	[ "$status" -ne 0 ]
}

@test "status and gc --dry-run work on a read-only store" {
	make_snapshot "$WORK/s.tar.gz" 5
	"${Z[@]}" prepare "$WORK/s.tar.gz" > /dev/null
	mkdir "$WORK/ro"
	mount --bind "$STORE" "$WORK/ro"
	mount -o remount,bind,ro "$WORK/ro"
	run --separate-stderr "$ZEOLITE" -c "$WORK/empty.conf" --storedir "$WORK/ro" status
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	[[ "$output" == *"s.tar.gz"* ]]
	run --separate-stderr "$ZEOLITE" -c "$WORK/empty.conf" --storedir "$WORK/ro" gc --dry-run --keep 0
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	[[ "$output" == *"would remove: unused"* ]]
	[[ "$output" == *"would free "* ]]
	run --separate-stderr "$ZEOLITE" -c "$WORK/empty.conf" --storedir "$WORK/ro" --json status
	[ "$status" -eq 0 ]
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["version"] == 1 and d["cache"][0]["ready"], d' <<< "$output"
}

@test "status: column headers, human units, times with their zone" {
	mkdir -p "$STORE/snapshots"
	head -c 4096 /dev/zero > "$STORE/snapshots/gentoo-4k.tar.xz"
	run --separate-stderr env TZ=UTC "${Z[@]}" status
	[ "$status" -eq 0 ]
	[[ "$output" == *"NAME"*"SIZE"*"MODIFIED"* ]]
	[[ "$output" == *"KIND"*"ID"*"STATE"*"SIZE"*"PREPARED"*"SOURCE"* ]]
	[[ "$output" == *"gentoo-4k.tar.xz"*" 4 KiB "*" UTC"* ]]
	[[ "$output" != *"MiB"* ]] || [[ "$output" == *"disk: "* ]]
	[[ "$output" == *$'\n'"disk: snapshots 4 KiB, cache 0 B; "*" free of "* ]]
}

@test "a preparer killed with -9 is not shown as preparing; a preparer is not its own waiter" {
	make_snapshot "$WORK/s.tar.gz" 50
	mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=unpack-half ZEOLITE_TEST_NOTIFY="$WORK/notify" "${Z[@]}" prepare "$WORK/s.tar.gz" \
		> /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ pid < "$WORK/notify"
	run "${Z[@]}" status
	[ "$status" -eq 0 ]
	[ "$(grep -c "pid $pid " <<< "$output")" -eq 1 ]
	[[ "$output" == *"preparing: pid $pid on "* ]]
	[[ "$output" != *"waiting: pid $pid "* ]]
	kill -9 "$pid"
	while kill -0 "$pid" 2>/dev/null; do wait "$pid" 2>/dev/null || true; done
	run "${Z[@]}" status
	[ "$status" -eq 0 ]
	[[ "$output" != *"preparing: pid $pid"* ]]
	[[ "$output" != *" preparing "* ]]
	run "${Z[@]}" --json status
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert all(e["preparer"] is None for e in d["cache"]), d' <<< "$output"
}

@test "gc names the source, size and age of what it removes, and the total" {
	make_snapshot "$WORK/s.tar.gz" 5
	"${Z[@]}" prepare "$WORK/s.tar.gz" > /dev/null
	run "${Z[@]}" gc --keep 0 --dry-run
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^snapshots/[0-9a-f]{32}\ \(s\.tar\.gz,\ [0-9]+\ B,\ prepared\ [0-9]+\ s\ ago\):\ would\ remove:\ unused$ ]]
	[[ "${lines[1]}" =~ ^would\ free\ [0-9]+\ B\ in\ 1\ entry$ ]]
	run "${Z[@]}" --json gc --keep 0
	[ "$status" -eq 0 ]
	python3 -c '
import json,sys
d = json.load(sys.stdin)
assert d["version"] == 1 and d["dry_run"] is False and d["entries"] == 1, d
r = d["removed"][0]
assert r["source"] == "s.tar.gz" and r["size"] > 0 and r["removed"] and d["freed"] == r["size"], d' <<< "$output"
	run "${Z[@]}" gc
	[ "${lines[-1]}" = "nothing to remove" ]
}

@test "status lists running builds from their locks, only while the lock is held" {
	mkdir -p "$STORE/tmp/23.0-default"
	printf 'pid=%s\nstep=build\nstart=%s\nstep_start=%s\nlog=/var/log/x.log\n' $$ "$(date +%s)" "$(date +%s)" \
		> "$STORE/tmp/23.0-default/stage3-x.run"
	mkfifo "$WORK/locked" "$WORK/go"
	# A POSIX record lock on byte 0, as the build's OFD lock (they conflict).
	python3 -c '
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, 0)
open(sys.argv[2], "w").write("x\n")
open(sys.argv[3]).read()' "$STORE/tmp/23.0-default/stage3-x.lock" "$WORK/locked" "$WORK/go" &
	echo $! >> "$WORK/pids"
	cat "$WORK/locked" > /dev/null
	run "${Z[@]}" status
	[ "$status" -eq 0 ]
	[[ "$output" == *"BUILD"*"STEP"*"PID"*"HOST"*"SINCE"*"ELAPSED"*"LOG"* ]]
	[[ "$output" == *"23.0-default/stage3-x"*" build "*"/var/log/x.log"* ]]
	run "${Z[@]}" --json status
	python3 -c 'import json,sys; b=json.load(sys.stdin)["builds"]; assert len(b)==1 and b[0]["name"]=="stage3-x" and b[0]["step"]=="build" and b[0]["log"]=="/var/log/x.log", b' <<< "$output"
	echo > "$WORK/go"
	wait
	run "${Z[@]}" status
	[[ "$output" != *"stage3-x"* ]]
}

# Run "$@" on a pseudo-terminal (script(1)); the screen goes to $WORK/screen.
on_tty() {
	script -q -e -c "$(printf '%q ' "$@")" "$WORK/screen" > /dev/null
}

@test "progress on a terminal: a lock wait names the holder and the time left; none off a terminal" {
	make_snapshot "$WORK/s.tar.gz" 50
	mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=unpack-half ZEOLITE_TEST_NOTIFY="$WORK/notify" "${Z[@]}" prepare "$WORK/s.tar.gz" \
		> /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ pid < "$WORK/notify"
	run on_tty "${Z[@]}" --lock-timeout 1 prepare "$WORK/s.tar.gz"
	[ "$status" -eq 75 ]
	grep -q $'\r\e\\[Kwaiting for pid '"$pid"' on [^ ]* (.*prepare .*s.tar.gz.*); giving up in [01] s' "$WORK/screen"
	run --separate-stderr "${Z[@]}" --lock-timeout 1 prepare "$WORK/s.tar.gz"
	[ "$status" -eq 75 ]
	[[ "$stderr" != *$'\r'* ]]
	[[ "$stderr" != *"waiting for pid"* ]]
	# -q: no progress line either.
	run on_tty "${Z[@]}" -q --lock-timeout 1 prepare "$WORK/s.tar.gz"
	[ "$status" -eq 75 ]
	if grep -q 'waiting for pid' "$WORK/screen"; then false; fi
}

@test "progress on a terminal: the unpack's percentage; none off a terminal" {
	mkdir -p "$WORK/big/profiles"
	echo gentoo > "$WORK/big/profiles/repo_name"
	head -c 8388608 /dev/urandom > "$WORK/big/blob"
	tar -C "$WORK/big" -cf "$WORK/big.tar" .
	run on_tty "${Z[@]}" prepare "$WORK/big.tar"
	[ "$status" -eq 0 ]
	grep -Eq $'\r\e\\[Kpreparing big.tar: [0-9]+% \\([0-9.]+ of [0-9.]+ MiB read\\)' "$WORK/screen"
	"${Z[@]}" gc --keep 0 > /dev/null
	run --separate-stderr "${Z[@]}" prepare "$WORK/big.tar"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"preparing big.tar"* ]]
}

@test "progress on a terminal: a snapshot's MiB written; none off a terminal" {
	mkdir -p "$WORK/repo/profiles"
	echo gentoo > "$WORK/repo/profiles/repo_name"
	head -c 12582912 /dev/urandom > "$WORK/repo/blob"
	mkdir -p "$STORE"
	run on_tty "${Z[@]}" snapshot --repo "$WORK/repo" --format tar.xz
	[ "$status" -eq 0 ]
	grep -Eq $'\r\e\\[Ksnapshot gentoo-\\(directory\\): [0-9.]+ MiB written, [0-9]+ s' "$WORK/screen" ||
		{ cat -v "$WORK/screen" | tail -3; false; }
	rm -f "$STORE"/snapshots/gentoo-*
	run --separate-stderr "${Z[@]}" snapshot --repo "$WORK/repo" --format tar.xz
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"MiB written"* ]]
}

@test "a takeover is announced when it happens, not when the waiter is done" {
	make_snapshot "$WORK/s.tar.gz" 50
	mkfifo "$WORK/notify" "$WORK/notify2"
	ZEOLITE_TEST_PAUSE_AT=unpack-half ZEOLITE_TEST_NOTIFY="$WORK/notify" "${Z[@]}" prepare "$WORK/s.tar.gz" \
		> /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ pid < "$WORK/notify"
	# The waiter stops right after it took over ("cleaned").
	ZEOLITE_TEST_PAUSE_AT=cleaned ZEOLITE_TEST_NOTIFY="$WORK/notify2" "${Z[@]}" prepare "$WORK/s.tar.gz" \
		> /dev/null 2> "$WORK/waiter.err" &
	echo $! >> "$WORK/pids"
	kill -9 "$pid"
	read -r _ wpid < "$WORK/notify2"
	grep -q "previous preparation of 's.tar.gz' by pid $pid on .* did not finish; starting over" "$WORK/waiter.err"
	kill -9 "$wpid"
}
