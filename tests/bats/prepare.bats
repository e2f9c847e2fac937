#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# zeolite prepare: formats, names, reuse, leases, timeouts, bad archives.
load lib

json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

@test "a .tar.xz is unpacked once, then reused; the tree equals tar -x" {
	make_snapshot "$WORK/gentoo-1.tar.xz" 40
	run --separate-stderr "${Z[@]}" --json prepare "$WORK/gentoo-1.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = unpacked ]
	path=$(json_field path <<< "$output")
	id=$(json_field id <<< "$output")
	[ "$path" = "$STORE/cache/snapshots/$id/tree" ]
	mkdir "$WORK/ref" && tar -C "$WORK/ref" -xf "$WORK/gentoo-1.tar.xz"
	[ "$(tree_digest "$path")" = "$(tree_digest "$WORK/ref")" ]
	[ -L "$path/cat-a/link" ]

	run --separate-stderr "${Z[@]}" --json prepare "$WORK/gentoo-1.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = reused ]
	[ "$(json_field waited_ms <<< "$output")" = 0 ]
	# Without --json: just the path.
	run --separate-stderr "${Z[@]}" prepare "$WORK/gentoo-1.tar.xz"
	[ "$output" = "$path" ]
}

@test "every tarball compression and squashfs give the same tree" {
	make_snapshot "$WORK/ref.tar" 30
	mkdir "$WORK/ref" && tar -C "$WORK/ref" -xf "$WORK/ref.tar"
	want=$(tree_digest "$WORK/ref")
	xz -k -c "$WORK/ref.tar" > "$WORK/s.tar.xz"
	zstd -q -c "$WORK/ref.tar" > "$WORK/s.tar.zst"
	bzip2 -c "$WORK/ref.tar" > "$WORK/s.tar.bz2"
	gzip -c "$WORK/ref.tar" > "$WORK/s.tar.gz"
	tar2sqfs --quiet --no-skip "$WORK/s.sqfs" < "$WORK/ref.tar"
	for f in s.tar.xz s.tar.zst s.tar.bz2 s.tar.gz s.sqfs; do
		run --separate-stderr "${Z[@]}" prepare "$WORK/$f"
		[ "$status" -eq 0 ]
		[ "$(tree_digest "$output")" = "$want" ] || { echo "differs: $f"; false; }
	done
}

@test "names are found in snapshots/, with or without extension" {
	"${Z[@]}" gc > /dev/null
	make_snapshot "$STORE/snapshots/gentoo-abc123.tar.zst" 10
	make_snapshot "$STORE/snapshots/portage-20190214.tar.xz" 10 portage
	run --separate-stderr "${Z[@]}" --json prepare gentoo-abc123
	[ "$status" -eq 0 ]
	[ "$(json_field snapshot <<< "$output")" = gentoo-abc123.tar.zst ]
	id1=$(json_field id <<< "$output")
	run --separate-stderr "${Z[@]}" --json prepare gentoo-abc123.tar.zst
	[ "$(json_field id <<< "$output")" = "$id1" ]
	[ "$(json_field action <<< "$output")" = reused ]
	# catalyst 3 name; its single top-level directory is stripped.
	run --separate-stderr "${Z[@]}" prepare portage-20190214
	[ "$status" -eq 0 ]
	[ -f "$output/profiles/repo_name" ]
	[ ! -e "$output/portage" ]
	# A bare name is a name in snapshots/, even when a file here has it:
	# the message says how to give the file.
	make_snapshot "$WORK/here.tar.gz" 5
	cd "$WORK"
	run --separate-stderr "${Z[@]}" prepare here.tar.gz
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"'here.tar.gz': not found (neither a file nor a name in snapshots/); for the file in the current directory, give ./here.tar.gz" ]]
	run --separate-stderr "${Z[@]}" prepare ./here.tar.gz
	[ "$status" -eq 0 ]
}

@test "the id is the content, not the name" {
	make_snapshot "$WORK/a.tar.gz" 5
	cp "$WORK/a.tar.gz" "$WORK/b.tar.gz"
	a=$("${Z[@]}" prepare "$WORK/a.tar.gz")
	run --separate-stderr "${Z[@]}" --json prepare "$WORK/b.tar.gz"
	[ "$(json_field path <<< "$output")" = "$a" ]
	[ "$(json_field action <<< "$output")" = reused ]
}

@test "a corrupt or truncated archive: exit 65, nothing left in the cache" {
	make_snapshot "$WORK/good.tar.xz" 200
	size=$(stat -c %s "$WORK/good.tar.xz")
	head -c $((size / 2)) "$WORK/good.tar.xz" > "$WORK/trunc.tar.xz"
	cp "$WORK/good.tar.xz" "$WORK/flip.tar.xz"
	printf '\xff\xff\xff\xff' | dd of="$WORK/flip.tar.xz" bs=1 seek=$((size / 2)) conv=notrunc status=none
	echo "not an archive at all" > "$WORK/junk.tar.xz"
	: > "$WORK/empty.tar.gz"
	"${Z[@]}" prepare "$WORK/good.tar.xz" > /dev/null
	before=$(cd "$STORE/cache" && find . | sort)
	for f in trunc.tar.xz flip.tar.xz junk.tar.xz empty.tar.gz; do
		run --separate-stderr "${Z[@]}" prepare "$WORK/$f"
		[ "$status" -eq 65 ] || { echo "$f: status $status"; false; }
		[[ "$stderr" == "zeolite: prepare: snapshot '$f': "* ]]
		[ -z "$(ls -A "$STORE/cache/snapshots" | grep '^\.tmp\.' || true)" ]
	done
	after=$(cd "$STORE/cache" && find . | grep -v -e '\.lock$' -e '^./snapshots/.fingerprints' | sort)
	[ "$(echo "$before" | grep -v -e '\.lock$' -e '^./snapshots/.fingerprints')" = "$after" ]
}

@test "--hold runs the command with the path and holds the lease" {
	make_snapshot "$WORK/gentoo-h.tar.xz" 10
	run --separate-stderr "${Z[@]}" prepare --hold "$WORK/gentoo-h.tar.xz" -- \
		sh -c 'test -f "$ZEOLITE_SNAPSHOT_PATH/profiles/repo_name" && exit 7'
	[ "$status" -eq 7 ]
	# While held, status lists the holder; gc keeps the entry.
	mkfifo "$WORK/held" "$WORK/release"
	"${Z[@]}" prepare --hold "$WORK/gentoo-h.tar.xz" -- \
		sh -c 'echo "$ZEOLITE_SNAPSHOT_PATH" > "$1"; read x < "$2"' sh "$WORK/held" "$WORK/release" &
	holder=$!
	echo $holder >> "$WORK/pids"
	path=$(cat "$WORK/held")
	run "${Z[@]}" status
	[[ "$output" == *"using: pid $holder on "* ]]
	run "${Z[@]}" --json status
	echo "$output" | python3 -c 'import json,sys; d=json.load(sys.stdin); e=d["cache"][0]; assert e["in_use"] and e["holders"][0]["state"]=="using", d'
	run "${Z[@]}" gc --keep 0
	[ "$status" -eq 0 ]
	[[ "$output" == *"kept: in use"* ]]
	[ -d "$path" ]
	echo go > "$WORK/release"
	wait $holder
	run "${Z[@]}" gc --keep 0
	[[ "$output" == *"removed: unused"* ]]
	[ ! -d "$path" ]
}

# Start a prepare that stops at test point $2 while holding the lock; wait
# until it says it is there.  Prints its pid.
start_paused() {
	local snap=$1 point=$2
	rm -f "$WORK/notify"; mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=$point ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${Z[@]}" prepare "$snap" > "$WORK/paused.out" 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ pid < "$WORK/notify"
	echo "$pid"
}

@test "a waiter gives up after --lock-timeout 1 with exit 75 naming the holder" {
	make_snapshot "$WORK/gentoo-t.tar.xz" 10
	holder=$(start_paused "$WORK/gentoo-t.tar.xz" staging)
	t0=$(date +%s%N)
	run --separate-stderr "${Z[@]}" --lock-timeout 1 prepare "$WORK/gentoo-t.tar.xz"
	t1=$(date +%s%N)
	[ "$status" -eq 75 ]
	ms=$(( (t1 - t0) / 1000000 ))
	echo "waited $ms ms"
	[ "$ms" -ge 1000 ] && [ "$ms" -le 1500 ]
	[[ "$stderr" == "zeolite: prepare: snapshot cache entry 'gentoo-t.tar.xz' ("*") is held by pid $holder on $(hostname) ("*"zeolite"*"prepare"*", since "*"); gave up after 1 s (lock_timeout)" ]]
	[ "${#stderr_lines[@]}" -eq 1 ]

	t0=$(date +%s%N)
	run --separate-stderr "${Z[@]}" --lock-timeout 0 prepare "$WORK/gentoo-t.tar.xz"
	t1=$(date +%s%N)
	[ "$status" -eq 75 ]
	[ $(( (t1 - t0) / 1000000 )) -lt 500 ]
	[[ "$stderr" == *"held by pid $holder "*"not waiting (lock_timeout 0)" ]]
	kill -9 "$holder"
}

@test "lock_timeout: command line > config > built-in default" {
	make_snapshot "$WORK/gentoo-c.tar.xz" 10
	holder=$(start_paused "$WORK/gentoo-c.tar.xz" staging)
	echo 'lock_timeout = 0' > "$WORK/zero.conf"
	t0=$(date +%s%N)
	run "$ZEOLITE" -c "$WORK/zero.conf" --storedir "$STORE" prepare "$WORK/gentoo-c.tar.xz"
	[ "$status" -eq 75 ]
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 500 ]
	t0=$(date +%s%N)
	run "$ZEOLITE" -c "$WORK/zero.conf" --storedir "$STORE" --lock-timeout 1 prepare "$WORK/gentoo-c.tar.xz"
	[ "$status" -eq 75 ]
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -ge 1000 ]
	kill -9 "$holder"
}

@test "a waiter that outlasts the preparer gets the finished tree" {
	make_snapshot "$WORK/gentoo-w.tar.xz" 10
	holder=$(start_paused "$WORK/gentoo-w.tar.xz" filled)
	"${Z[@]}" --json prepare "$WORK/gentoo-w.tar.xz" > "$WORK/waiter.json" &
	waiter=$!
	echo $waiter >> "$WORK/pids"
	kill -9 "$holder"
	wait $waiter
	[ "$(json_field action < "$WORK/waiter.json")" = unpacked ]
	[ "$(json_field recovered < "$WORK/waiter.json")" = True ]
}

# Issue 12 item 1: a snapshot rewritten in place while it is prepared.
# Two 3 MiB members; the preparer stops at hook POINT, the file is
# rewritten (same inode) with a copy whose second member differs, the
# preparer goes on.  Its entry must not be published under the old id,
# and a pristine copy must then give the right tree.
rewrite_at() {
	local point=$1
	mkdir -p "$WORK/a/profiles" "$WORK/b/profiles"
	head -c 3145728 /dev/urandom > "$WORK/a/profiles/one"
	head -c 3145728 /dev/urandom > "$WORK/a/profiles/two"
	cp "$WORK/a/profiles/one" "$WORK/b/profiles/one"
	head -c 3145728 /dev/urandom > "$WORK/b/profiles/two"
	tar -C "$WORK/a" --mtime=@0 -cf "$WORK/old.tar" profiles/one profiles/two
	tar -C "$WORK/b" --mtime=@0 -cf "$WORK/new.tar" profiles/one profiles/two
	cp "$WORK/old.tar" "$WORK/pristine.tar"
	cp "$WORK/old.tar" "$WORK/gentoo-rw.tar"
	mkfifo "$WORK/notify" "$WORK/resume"
	ZEOLITE_TEST_PAUSE_AT=$point ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		ZEOLITE_TEST_RESUME="$WORK/resume" \
		"${Z[@]}" prepare "$WORK/gentoo-rw.tar" > "$WORK/out" 2> "$WORK/err" &
	bg=$!
	echo $bg >> "$WORK/pids"
	read -r _ < "$WORK/notify"
	cp "$WORK/new.tar" "$WORK/gentoo-rw.tar"   # in place: same inode
	echo go > "$WORK/resume"
	rc=0; wait $bg || rc=$?
	cat "$WORK/err"
	[ "$rc" -eq 75 ]
	grep -q "changed while it was" "$WORK/err"
	run "${Z[@]}" --json prepare "$WORK/pristine.tar"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = unpacked ]
	p=$(json_field path <<< "$output")
	cmp "$p/two" "$WORK/a/profiles/two"
	[ -z "$(ls -A "$STORE/cache/snapshots" | grep '^\.tmp\.' || true)" ]
}

@test "a snapshot rewritten in place half-way through its unpack is not published under its old id" {
	rewrite_at unpack-half
}

@test "a snapshot rewritten between hashing and unpacking is not published under its old id" {
	# The stat is stable during the unpack: only the digest of the bytes
	# as unpacked can tell.
	rewrite_at locked
}

@test "prepare of a FIFO is refused at once, not a wait in open(2)" {
	mkfifo "$WORK/fifo.tar.xz"
	run timeout 30 "${Z[@]}" prepare "$WORK/fifo.tar.xz"
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ]
	[[ "$output" == *"not a regular file"* ]]
}

# Issue 12: what is at cache/snapshots/<id> and is not a whole entry is
# leftovers: said, replaced; gc removes it too.
@test "an empty directory, a stray file or symlink, or a bad stamp at <id> is replaced, not served" {
	make_snapshot "$WORK/gentoo-m.tar.gz" 20
	mkdir "$WORK/ref" && tar -C "$WORK/ref" -xf "$WORK/gentoo-m.tar.gz"
	want=$(tree_digest "$WORK/ref")
	run --separate-stderr "${Z[@]}" --json prepare "$WORK/gentoo-m.tar.gz"
	[ "$status" -eq 0 ]
	id=$(json_field id <<< "$output")
	entry="$STORE/cache/snapshots/$id"
	mkdir "$WORK/elsewhere"
	for how in emptydir file symlink badstamp nostamp notree; do
		rm -rf "$entry"
		case $how in
		emptydir) mkdir "$entry" ;;
		file) echo stray > "$entry" ;;
		symlink) ln -s "$WORK/elsewhere" "$entry" ;;
		badstamp) mkdir -p "$entry/tree"; echo "format=1" > "$entry/stamp" ;;
		nostamp) mkdir -p "$entry/tree" ;;
		notree) mkdir "$entry"; printf 'format=1\nid=%s\nkind=snapshots\n' "$id" > "$entry/stamp" ;;
		esac
		run "${Z[@]}" status
		[[ "$output" == *"$id  malformed: "* ]] || { echo "$how: $output"; false; }
		run --separate-stderr timeout 60 "${Z[@]}" --json prepare "$WORK/gentoo-m.tar.gz"
		[ "$status" -eq 0 ] || { echo "$how: $status $stderr"; false; }
		[ "$(json_field action <<< "$output")" = unpacked ] || { echo "$how: $output"; false; }
		[[ "$stderr" == *"cache entry $entry was malformed ("*"): removed as leftovers"* ]] || { echo "$how: $stderr"; false; }
		[ "$(tree_digest "$(json_field path <<< "$output")")" = "$want" ]
		[ -d "$entry" ] && [ ! -L "$entry" ]
	done
	[ -d "$WORK/elsewhere" ]   # a symlink's target is not touched
	# gc removes one too, and says so.
	rm -rf "$entry"; mkdir "$entry"
	run "${Z[@]}" gc
	[ "$status" -eq 0 ]
	[[ "$output" == *"snapshots/$id: removed: malformed entry (no stamp)"* ]]
	[ ! -e "$entry" ]
}

@test "lock_timeout bounds the wait for another process hashing the same file, which is named" {
	make_snapshot "$WORK/gentoo-hh.tar.xz" 10
	rm -f "$WORK/notify"; mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=hashing ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${Z[@]}" prepare "$WORK/gentoo-hh.tar.xz" > /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ hasher < "$WORK/notify"
	t0=$(date +%s%N)
	run --separate-stderr "${Z[@]}" --lock-timeout 0 prepare "$WORK/gentoo-hh.tar.xz"
	[ "$status" -eq 75 ]
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 2000 ]
	[[ "$stderr" == "zeolite: prepare: the digest of 'gentoo-hh.tar.xz' is being computed by pid $hasher on "*"not waiting (lock_timeout 0)" ]] || { echo "$stderr"; false; }
	t0=$(date +%s%N)
	run --separate-stderr "${Z[@]}" --lock-timeout 1 prepare "$WORK/gentoo-hh.tar.xz"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$status" -eq 75 ]
	[ "$ms" -ge 1000 ] && [ "$ms" -lt 4000 ]
	[[ "$stderr" == *"is being computed by pid $hasher on "*"gave up waiting (lock_timeout)" ]]
	# A hasher that dies frees the lock at once.
	kill -9 "$hasher"
	run --separate-stderr "${Z[@]}" --lock-timeout 0 prepare "$WORK/gentoo-hh.tar.xz"
	[ "$status" -eq 0 ]
}

@test "a waiter names zeolite gc while gc removes the entry" {
	make_snapshot "$WORK/gentoo-g1.tar.gz" 10
	"${Z[@]}" prepare "$WORK/gentoo-g1.tar.gz" > /dev/null
	rm -f "$WORK/notify"; mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=gc-removing ZEOLITE_TEST_NOTIFY="$WORK/notify" "${Z[@]}" gc --keep 0 > /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ gc < "$WORK/notify"
	run --separate-stderr "${Z[@]}" --lock-timeout 0 prepare "$WORK/gentoo-g1.tar.gz"
	[ "$status" -eq 75 ]
	[[ "$stderr" == *"is held by pid $gc on "*" gc "*"zeolite gc removing it"*"not waiting (lock_timeout 0)" ]] || { echo "$stderr"; false; }
	kill -9 "$gc"
}

@test "a published entry whose directory fsync fails: exit 0 and a warning naming the directory" {
	command -v strace > /dev/null || skip "no strace"
	make_snapshot "$WORK/gentoo-fs.tar.gz" 10
	# The last fsync of a cold prepare is the cache directory's.
	n=$(strace -f -qq -e trace=fsync -o "$WORK/trace" "${Z[@]}" prepare "$WORK/gentoo-fs.tar.gz" > /dev/null && grep -c 'fsync(' "$WORK/trace")
	rm -rf "$STORE"
	run --separate-stderr strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=EIO:when=$n \
		"${Z[@]}" prepare "$WORK/gentoo-fs.tar.gz"
	[ "$status" -eq 0 ] || { echo "$status $stderr"; false; }
	[ -f "$output/profiles/repo_name" ]
	[[ "$stderr" == *"published, but fsync of the directory $STORE/cache/snapshots failed: Input/output error"* ]] || { echo "$stderr"; false; }
	run --separate-stderr "${Z[@]}" --json prepare "$WORK/gentoo-fs.tar.gz"
	[ "$(json_field action <<< "$output")" = reused ]
}

@test "bad archives exit 65 with one short line: a name too long, a non-empty directory replaced" {
	python3 - "$WORK" <<'PY'
import io, sys, tarfile
def add(t, name, kind=tarfile.REGTYPE, data=b"x"):
    i = tarfile.TarInfo(name); i.type = kind; i.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    i.size = 0 if kind == tarfile.DIRTYPE else len(data)
    t.addfile(i, None if kind == tarfile.DIRTYPE else io.BytesIO(data))
with tarfile.open(sys.argv[1] + "/long.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "profiles", tarfile.DIRTYPE); add(t, "profiles/" + "n" * 10000)
with tarfile.open(sys.argv[1] + "/replace.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "d", tarfile.DIRTYPE); add(t, "d/x"); add(t, "d")
PY
	for f in long.tar replace.tar; do
		run --separate-stderr "${Z[@]}" prepare "$WORK/$f"
		echo "$f: $status: $stderr"
		[ "$status" -eq 65 ]
		[ "${#stderr_lines[@]}" -eq 1 ] && [ "${#stderr}" -lt 600 ]
		[[ "$stderr" == "zeolite: prepare: snapshot '$f': "* ]]
		[ -z "$(ls -A "$STORE/cache/snapshots" | grep -v -e '\.lock$' -e '^\.fingerprints$' || true)" ]
	done
}

@test "a symlink in snapshots/ is followed; a FIFO there is refused at once" {
	make_snapshot "$WORK/gentoo-real.tar.gz" 10
	"${Z[@]}" gc > /dev/null
	ln -s "$WORK/gentoo-real.tar.gz" "$STORE/snapshots/gentoo-ln.tar.gz"
	run --separate-stderr "${Z[@]}" prepare gentoo-ln
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	[ -f "$output/profiles/repo_name" ]
	mkfifo "$STORE/snapshots/gentoo-fifo.tar.gz"
	run --separate-stderr timeout 30 "${Z[@]}" prepare gentoo-fifo
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"gentoo-fifo.tar.gz': not a regular file" ]]
}

@test "directory modes and mtimes are the archive's, also when an archive comes back into a directory it left" {
	python3 - "$WORK/order.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
def d(name, mtime, mode=0o755, uid=0):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mtime = mtime; i.mode = mode; i.uid = uid
    t.addfile(i)
def f(name):
    i = tarfile.TarInfo(name); i.size = 2; i.mtime = 5000
    t.addfile(i, io.BytesIO(b"x\n"))
d("d", 1000); d("d/sub", 2000, 0o700, 42); f("d/sub/f"); d("d/sub/deep", 3000); f("d/sub/deep/g")
f("e")
f("d/late")            # back into d after leaving it
f("d/sub/deep/later")  # and into a directory two levels down
d("x", 4000); f("x/y")
t.close()
PY
	run --separate-stderr "${Z[@]}" prepare "$WORK/order.tar"
	[ "$status" -eq 0 ]
	cd "$output"
	[ "$(stat -c '%Y %a' d)" = "1000 755" ]
	[ "$(stat -c '%Y %a' d/sub)" = "2000 700" ]
	[ "$(stat -c '%Y' d/sub/deep)" = 3000 ]
	[ "$(stat -c '%Y' x)" = 4000 ]
	[ -f d/late ] && [ -f d/sub/deep/later ]
}
