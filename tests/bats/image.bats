#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# prepare --image: a tarball becomes one squashfs image in cache/images/,
# under the same protocol as trees (one maker, waiters, kill -9, digests).
load lib

json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

# A seed-like tarball: owners, setuid, a hardlink, a device node, a FIFO,
# a symlink, security.capability and a user xattr, 3 MiB that does not
# compress (so the conversion has a middle).
make_seed_tar() {
	local out=$1 r="$WORK/seedsrc"
	mkdir -p "$r/bin" "$r/etc" "$r/dev" "$r/home/u"
	printf 'root:x:0:0::/root:/bin/sh\n' > "$r/etc/passwd"
	head -c 3145728 /dev/urandom > "$r/bin/blob"
	printf '#!/bin/sh\n' > "$r/bin/su" && chmod 4755 "$r/bin/su"
	ln "$r/bin/su" "$r/bin/su-again"
	ln -s ../bin/su "$r/etc/su-link"
	mknod "$r/dev/null" c 1 3
	mkfifo "$r/dev/fifo"
	chown 1000:100 "$r/home/u"
	printf 'ping\n' > "$r/bin/ping"
	python3 - "$r" <<'PY'
import os, struct, sys
r = sys.argv[1]
# VFS_CAP_REVISION_2, cap_net_raw (13) permitted+effective
os.setxattr(r + "/bin/ping", "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0))
os.setxattr(r + "/bin/blob", "user.foo", b"bar")
PY
	tar --xattrs --xattrs-include='*' -C "$r" -cJf "$out" .
}

# What a stage keeps of a tree: names, types, modes, owners, sizes, link
# targets, hardlink groups, file contents, xattrs.
listing() {
	(cd "$1" && find . -printf '%p %y %m %U:%G %s %l %n\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum &&
		python3 -c '
import os, sys
for d, ds, fs in os.walk("."):
    for n in sorted(ds + fs):
        p = os.path.join(d, n)
        for a in sorted(os.listxattr(p, follow_symlinks=False)):
            print(p, a, os.getxattr(p, a, follow_symlinks=False).hex())
' | LC_ALL=C sort)
}

@test "prepare --image: one image in cache/images/, reused after, equal to the tarball" {
	make_seed_tar "$WORK/seed.tar.xz"
	run --separate-stderr "${Z[@]}" --json prepare --image "$WORK/seed.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = unpacked ]
	img=$(json_field path <<< "$output")
	id=$(json_field id <<< "$output")
	[ "$img" = "$STORE/cache/images/$id/tree/image.sqfs" ]
	[ "$(head -c 4 "$img")" = hsqs ]
	mkdir "$WORK/from-tar" "$WORK/from-img"
	tar --xattrs --xattrs-include='*' -C "$WORK/from-tar" -xf "$WORK/seed.tar.xz"
	sqfs2tar "$img" | tar --xattrs --xattrs-include='*' -C "$WORK/from-img" -xf -
	diff <(listing "$WORK/from-tar") <(listing "$WORK/from-img")
	# The things a stage must keep, explicitly.
	listing "$WORK/from-img" | grep -q '^./bin/su f 4755 0:0 .* 2$'
	listing "$WORK/from-img" | grep -q '^./home/u d 755 1000:100 '
	listing "$WORK/from-img" | grep -q '^./bin/ping security.capability '
	[ -c "$WORK/from-img/dev/null" ]

	run --separate-stderr "${Z[@]}" --json prepare --image "$WORK/seed.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = reused ]
	[ "$(json_field path <<< "$output")" = "$img" ]
	# The tree cache is a separate kind: untouched.
	[ -z "$(ls -A "$STORE/cache/snapshots")" ]
}

@test "an image is byte-for-byte the same when made twice from the same tarball" {
	make_seed_tar "$WORK/seed.tar.xz"
	a=$("${Z[@]}" prepare --image "$WORK/seed.tar.xz")
	b=$("$ZEOLITE" -c "$WORK/empty.conf" --storedir "$WORK/store2" prepare --image "$WORK/seed.tar.xz")
	[ "$a" != "$b" ]
	cmp "$a" "$b"
	# Whatever the number of threads the converter runs with.
	c=$(taskset -c 0 "$ZEOLITE" -c "$WORK/empty.conf" --storedir "$WORK/store3" prepare --image "$WORK/seed.tar.xz")
	cmp "$a" "$c"
}

@test "8 concurrent prepare --image of a cold tarball: one conversion, one image" {
	make_seed_tar "$WORK/seed.tar.xz"
	exec {barrier}> "$WORK/barrier"
	flock -x "$barrier"
	for i in 1 2 3 4 5 6 7 8; do
		( exec {barrier}>&-
		  flock -s "$WORK/barrier" true
		  exec "${Z[@]}" --json prepare --image "$WORK/seed.tar.xz" ) > "$WORK/out.$i" &
		echo $! >> "$WORK/herd"
	done
	exec {barrier}>&-
	while read -r p; do wait "$p"; done < "$WORK/herd"
	made=0
	for i in 1 2 3 4 5 6 7 8; do
		[ "$(json_field action < "$WORK/out.$i")" = unpacked ] && made=$((made + 1))
		json_field path < "$WORK/out.$i" >> "$WORK/paths"
	done
	[ "$made" -eq 1 ]
	[ "$(sort -u "$WORK/paths" | wc -l)" -eq 1 ]
}

@test "a converter killed half-way is detected; the next one starts over and publishes a whole image" {
	make_seed_tar "$WORK/seed.tar.xz"
	ref=$("$ZEOLITE" -c "$WORK/empty.conf" --storedir "$WORK/ref" prepare --image "$WORK/seed.tar.xz")
	mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=unpack-half ZEOLITE_TEST_NOTIFY="$WORK/notify" \
		"${Z[@]}" prepare --image "$WORK/seed.tar.xz" > /dev/null 2>&1 &
	bg=$!
	echo $bg >> "$WORK/pids"
	read -r got pid < "$WORK/notify"
	[ "$got" = unpack-half ]
	kill -9 "$pid"
	wait "$bg" || true
	run --separate-stderr "${Z[@]}" --json prepare --image "$WORK/seed.tar.xz"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"did not finish; starting over"* ]]
	cmp "$(json_field path <<< "$output")" "$ref"
	[ -z "$(ls -A "$STORE/cache/images" | grep '^\.tmp\.' || true)" ]
	# Nothing is left writing into this store.
	no_process_writes_in "$STORE"
}

@test "a tarball rewritten in place during its conversion is not published under its old id" {
	make_seed_tar "$WORK/old.tar.xz"
	cp "$WORK/old.tar.xz" "$WORK/pristine.tar.xz"
	cp "$WORK/old.tar.xz" "$WORK/rw.tar.xz"
	rm -rf "$WORK/seedsrc"
	make_seed_tar "$WORK/new.tar.xz"
	mkfifo "$WORK/notify" "$WORK/resume"
	ZEOLITE_TEST_PAUSE_AT=unpack-half ZEOLITE_TEST_NOTIFY="$WORK/notify" ZEOLITE_TEST_RESUME="$WORK/resume" \
		"${Z[@]}" prepare --image "$WORK/rw.tar.xz" > /dev/null 2> "$WORK/err" &
	bg=$!
	echo $bg >> "$WORK/pids"
	read -r _ < "$WORK/notify"
	cp "$WORK/new.tar.xz" "$WORK/rw.tar.xz"   # same inode
	echo go > "$WORK/resume"
	rc=0; wait $bg || rc=$?
	cat "$WORK/err"
	[ "$rc" -ne 0 ]
	[ -z "$(ls -A "$STORE/cache/images" | grep -v '\.lock$' | grep -v '^\.fingerprints$' || true)" ]
	run --separate-stderr "${Z[@]}" --json prepare --image "$WORK/pristine.tar.xz"
	[ "$status" -eq 0 ]
	[ "$(json_field action <<< "$output")" = unpacked ]
}

@test "prepare --image refuses what is not a convertible tarball, saying why" {
	tar2sqfs --quiet "$WORK/s.sqfs" < /dev/null 2>/dev/null || { mkdir "$WORK/e"; tar -C "$WORK/e" -cf - . | tar2sqfs --quiet "$WORK/s.sqfs"; }
	run "${Z[@]}" prepare --image "$WORK/s.sqfs"
	[ "$status" -eq 65 ]
	[[ "$output" == *"an image already"* ]]
	make_snapshot "$WORK/s.tar.gz" 5
	cp "$WORK/s.tar.gz" "$WORK/s.cpio"
	run "${Z[@]}" prepare --image "$WORK/s.cpio"
	[ "$status" -eq 65 ]
	[[ "$output" == *"--image needs a tarball"* ]]
	echo garbage > "$WORK/bad.tar.xz"
	run "${Z[@]}" prepare --image "$WORK/bad.tar.xz"
	[ "$status" -ne 0 ]
	[[ "$output" == *"bad.tar.xz: "* ]]
	# tar2sqfs itself takes a truncated plain tar for a whole one.
	make_snapshot "$WORK/whole.tar.gz" 40
	gzip -dc "$WORK/whole.tar.gz" | head -c 3000 > "$WORK/cut.tar"
	run "${Z[@]}" prepare --image "$WORK/cut.tar"
	[ "$status" -eq 65 ]
	[[ "$output" == *"cut.tar: "* ]]
	# Every tarball compression converts, and all give the same image.
	gzip -dc "$WORK/whole.tar.gz" > "$WORK/w.tar"
	xz -c "$WORK/w.tar" > "$WORK/w.tar.xz"
	bzip2 -c "$WORK/w.tar" > "$WORK/w.tbz2"
	zstd -q -c "$WORK/w.tar" > "$WORK/w.tar.zstd"
	gzip -n -c "$WORK/w.tar" > "$WORK/w.tgz"
	sums=$(for f in "$WORK"/w.tar "$WORK"/w.tar.xz "$WORK"/w.tbz2 "$WORK"/w.tar.zstd "$WORK"/w.tgz; do cmp_img=$("${Z[@]}" prepare --image "$f") && sha256sum < "$cmp_img"; done | sort -u | wc -l)
	[ "$sums" -eq 1 ]
	[ -z "$(ls -A "$STORE/cache/images" | grep '^\.tmp\.' || true)" ]
}

# A tarball of one entry that no squashfs image can hold: KIND is acl,
# xattr (outside user./trusted./security.) or link (to nothing).
odd_tarball() {
	python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
path, kind = sys.argv[1], sys.argv[2]
with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as t:
    ok = tarfile.TarInfo("ok/file")
    t.addfile(ok, io.BytesIO(b""))
    i = tarfile.TarInfo("ok/odd")
    if kind == "acl":
        i.pax_headers = {"SCHILY.acl.access": "user::rw-,user:1000:r--,group::r--,mask::r--,other::r--"}
    elif kind == "xattr":
        i.pax_headers = {"SCHILY.xattr.system.odd": "x"}
    else:
        i.type = tarfile.LNKTYPE
        i.linkname = "ok/nowhere"
    t.addfile(i, io.BytesIO(b""))
PY
}

@test "prepare --image refuses what an image cannot hold (ACLs, system.* xattrs, a link to nothing), naming the entry; a tree refuses ACLs" {
	for kind in acl xattr link; do
		odd_tarball "$WORK/$kind.tar.gz" "$kind"
		run --separate-stderr "${Z[@]}" prepare --image "$WORK/$kind.tar.gz"
		echo "$kind: $status $stderr"
		[ "$status" -eq 65 ]
		case $kind in
		acl) [[ "$stderr" == *"entry 'ok/odd' has ACLs, which a squashfs image cannot keep"* ]] ;;
		xattr) [[ "$stderr" == *"'ok/odd': squashfs cannot store the xattr 'system.odd'"* ]] ;;
		link) [[ "$stderr" == *"a hard link to 'ok/nowhere', which the tarball does not have"* ]] ;;
		esac
	done
	# Nothing was published, nothing half-made is left.
	[ -z "$(ls -A "$STORE/cache/images" | grep -v '\.lock$' | grep -v '^\.fingerprints$' || true)" ]
	# A tree does not drop the ACLs either.
	run --separate-stderr "${Z[@]}" prepare "$WORK/acl.tar.gz"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"entry 'ok/odd': has ACLs, which zeolite does not restore"* ]]
}

@test "gc removes an unused image entry and keeps one in use" {
	make_seed_tar "$WORK/seed.tar.xz"
	img=$("${Z[@]}" prepare --image "$WORK/seed.tar.xz")
	mkfifo "$WORK/held" "$WORK/release"
	# The held command says it runs, then blocks until the test releases it.
	"${Z[@]}" prepare --image --hold "$WORK/seed.tar.xz" -- sh -c 'echo in > "$0"; read -r _ < "$1"' \
		"$WORK/held" "$WORK/release" &
	holder=$!
	read -r _ < "$WORK/held"
	"${Z[@]}" gc --keep 0
	[ -f "$img" ]
	echo > "$WORK/release"
	wait "$holder"
	"${Z[@]}" gc --keep 0
	[ ! -e "$img" ]
}
