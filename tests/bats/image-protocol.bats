#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The cache protocol for the image kind (issue 15): what crash.bats,
# prepare.bats and concurrency.bats assert of trees, asserted of images.
# A converter killed (kill -9) at any step is detected by the next one,
# which starts over; a waiter's wait is bounded and names the holder;
# readers that outlast killed converters all get a whole image; hostile
# archives are refused and leave nothing in the cache.
load lib

json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

setup_file() {
	export IMGDIR=$(mktemp -d /var/tmp/zeolite-imgproto.XXXXXX)
	# A small tree plus 4 MiB that does not compress, so that the
	# conversion reports progress and has a middle (unpack-half).
	mkdir -p "$IMGDIR/src/cat/pkg" "$IMGDIR/src/profiles"
	for i in $(seq 1 300); do echo "EAPI=8 $i" > "$IMGDIR/src/cat/pkg/pkg-$i.ebuild"; done
	head -c 4194304 /dev/urandom > "$IMGDIR/src/profiles/blob"
	tar -C "$IMGDIR/src" -cJf "$IMGDIR/snap.tar.xz" .
	printf '' > "$IMGDIR/empty.conf"
	"$ZEOLITE" -c "$IMGDIR/empty.conf" --storedir "$IMGDIR/refstore" prepare --image "$IMGDIR/snap.tar.xz" \
		> "$IMGDIR/ref.path"
	# For random instants: the real GURU tree.
	cp "$SHARED_DATA/guru-snapshot.tar.xz" "$IMGDIR/real.tar.xz"
	"$ZEOLITE" -c "$IMGDIR/empty.conf" --storedir "$IMGDIR/refstore" prepare --image "$IMGDIR/real.tar.xz" \
		> "$IMGDIR/realref.path"
}

teardown_file() {
	rm -rf "$IMGDIR"
}

no_staging_left() {
	[ -z "$(ls -A "$STORE/cache/images" 2>/dev/null | grep '^\.tmp\.' || true)" ]
}

# Nothing is left writing into this test's store.
no_converter_left() {
	no_process_writes_in "$STORE"
}

# kill -9 the converter paused at POINT; check what the next one does.
crash_at() {
	local point=$1 expect_action=$2 expect_recovered=$3
	rm -f "$WORK/notify"; mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=$point ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${Z[@]}" prepare --image "$IMGDIR/snap.tar.xz" > /dev/null 2>&1 &
	local bg=$!
	echo $bg >> "$WORK/pids"
	read -r got pid < "$WORK/notify"
	[ "$got" = "$point" ]
	kill -9 "$pid"
	wait "$bg" || true
	no_converter_left
	run --separate-stderr "${Z[@]}" --json prepare --image "$IMGDIR/snap.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = "$expect_action" ] || { echo "$point: $output"; false; }
	if [ "$expect_recovered" = yes ]; then
		[[ "$stderr" == *"by pid $pid on "*"did not finish; starting over"* ]] ||
			{ echo "$point: stderr: $stderr"; false; }
	else
		[[ "$stderr" != *"did not finish"* ]]
	fi
	cmp "$(json_field path <<< "$output")" "$(cat "$IMGDIR/ref.path")"
	no_staging_left
	rm -rf "$STORE"
}

@test "image: killed after taking the lock" { crash_at locked unpacked no; }
@test "image: killed after cleaning leftovers" { crash_at cleaned unpacked no; }
@test "image: killed with an empty staging entry" { crash_at staging unpacked yes; }
@test "image: killed half-way through the conversion" { crash_at unpack-half unpacked yes; }
@test "image: killed after the conversion, before the stamp and sync" { crash_at filled unpacked yes; }
@test "image: killed after sync, before the rename" { crash_at synced unpacked yes; }
@test "image: killed right after the publishing rename" { crash_at renamed reused no; }
@test "image: killed after the directory fsync" { crash_at dir-synced reused no; }
@test "image: killed after publishing" { crash_at published reused no; }

@test "image: exit at each step (ZEOLITE_TEST_EXIT_AT) leaves nothing trusted" {
	for point in staging unpack-half filled synced; do
		run env ZEOLITE_TEST_EXIT_AT=$point "${Z[@]}" prepare --image "$IMGDIR/snap.tar.xz"
		[ "$status" -eq 99 ]
		run --separate-stderr "${Z[@]}" prepare --image "$IMGDIR/snap.tar.xz"
		[ "$status" -eq 0 ]
		[[ "$stderr" == *"did not finish; starting over"* ]]
		cmp "$output" "$(cat "$IMGDIR/ref.path")"
		rm -rf "$STORE"
	done
}

@test "image: a waiter gives up after --lock-timeout 1 with exit 75 naming the holder; 0 does not wait" {
	rm -f "$WORK/notify"; mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=staging ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${Z[@]}" prepare --image "$IMGDIR/snap.tar.xz" > /dev/null 2>&1 &
	echo $! >> "$WORK/pids"
	read -r _ holder < "$WORK/notify"
	t0=$(date +%s%N)
	run --separate-stderr "${Z[@]}" --lock-timeout 1 prepare --image "$IMGDIR/snap.tar.xz"
	t1=$(date +%s%N)
	[ "$status" -eq 75 ]
	ms=$(( (t1 - t0) / 1000000 ))
	[ "$ms" -ge 1000 ] && [ "$ms" -le 1800 ] || { echo "waited $ms ms"; false; }
	[[ "$stderr" == *"is held by pid $holder on $(hostname) ("*"zeolite"*"prepare"*"gave up after 1 s (lock_timeout)" ]] ||
		{ echo "stderr: $stderr"; false; }
	t0=$(date +%s%N)
	run --separate-stderr "${Z[@]}" --lock-timeout 0 prepare --image "$IMGDIR/snap.tar.xz"
	t1=$(date +%s%N)
	[ "$status" -eq 75 ]
	[ $(( (t1 - t0) / 1000000 )) -lt 800 ]
	[[ "$stderr" == *"held by pid $holder "*"not waiting (lock_timeout 0)" ]]
	kill -9 "$holder"
	# ... and once the holder is dead, the next one converts.
	run --separate-stderr "${Z[@]}" prepare --image "$IMGDIR/snap.tar.xz"
	[ "$status" -eq 0 ]
	cmp "$output" "$(cat "$IMGDIR/ref.path")"
}

@test "image: kill -9 at random instants while readers wait: every reader gets the whole image" {
	ref=$(cat "$IMGDIR/realref.path")
	for round in 1 2 3; do
		timeout -s KILL "$((RANDOM % 1200))e-3" "${Z[@]}" prepare --image "$IMGDIR/real.tar.xz" \
			> "$WORK/victim.out" 2>/dev/null &
		victim=$!
		for r in 1 2 3; do
			"${Z[@]}" --json prepare --image "$IMGDIR/real.tar.xz" > "$WORK/reader.$r" 2> "$WORK/reader.$r.err" &
			echo $! >> "$WORK/readers"
		done
		wait $victim || true
		while read -r p; do wait "$p"; done < "$WORK/readers"
		rm "$WORK/readers"
		made=0
		for r in 1 2 3; do
			cmp "$(json_field path < "$WORK/reader.$r")" "$ref"
			[ "$(json_field action < "$WORK/reader.$r")" = unpacked ] && made=$((made + 1))
		done
		[ "$made" -le 1 ]
		if [ -s "$WORK/victim.out" ]; then cmp "$(cat "$WORK/victim.out")" "$ref"; fi
		no_converter_left
		no_staging_left
		rm -rf "$STORE"
	done
}

# hostile NAME: a tarball whose entries try to leave the image's root.
hostile() {
	python3 - "$WORK/$1.tar" "$1" <<'PY'
import io, sys, tarfile
out, kind = sys.argv[1], sys.argv[2]
t = tarfile.open(out, "w", format=tarfile.GNU_FORMAT)
def add(name, data=b"x", **kw):
    i = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(i, k, v)
    if i.type == tarfile.REGTYPE:
        i.size = len(data)
        t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
add("ok", b"fine")
if kind == "dotdot":
    add("../escaped")
elif kind == "absolute":
    add("/etc/escaped")
elif kind == "inner-dotdot":
    add("a/../../escaped")
elif kind == "hardlink-out":
    add("hl", type=tarfile.LNKTYPE, linkname="../../etc/passwd")
elif kind == "hardlink-abs":
    add("hl", type=tarfile.LNKTYPE, linkname="/etc/passwd")
t.close()
PY
	xz -f "$WORK/$1.tar"
}

@test "image: hostile archives are refused (exit 65, naming the entry) and leave nothing in the cache" {
	for kind in dotdot absolute inner-dotdot hardlink-out hardlink-abs; do
		hostile "$kind"
		run --separate-stderr "${Z[@]}" prepare --image "$WORK/$kind.tar.xz"
		[ "$status" -eq 65 ] || { echo "$kind: status $status: $stderr"; false; }
		[[ "$stderr" == *"$kind.tar.xz"*"escapes"* ]] || { echo "$kind: $stderr"; false; }
		no_staging_left
		[ -z "$(find "$STORE/cache/images" -mindepth 1 -maxdepth 1 ! -name '*.lock' ! -name .fingerprints 2>/dev/null)" ] ||
			{ echo "$kind left:"; ls -la "$STORE/cache/images"; false; }
		no_converter_left
	done
	[ ! -e /etc/escaped ] && [ ! -e "$WORK/escaped" ] && [ ! -e "$STORE/cache/escaped" ]
}
