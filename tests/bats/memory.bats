#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Peak memory (issue 15): a cold prepare, tree or image, stays within the
# decompressor's own need + 8 MiB, measured as the decompressor alone of
# the same file (`xz -dc`, `zstd -dc`) by GNU time's maximum resident set
# size (the largest process of each command's tree).
load lib

SLACK_KB=8192
# meson test sets MALLOC_PERTURB_, which makes malloc touch every page it
# hands out (xz's whole 64 MiB dictionary, for one): measure as users run.
unset MALLOC_PERTURB_

peak_kb() {
	/usr/bin/time -f %M -o "$WORK/rss" "$@" > /dev/null 2> "$WORK/rss.err" || {
		cat "$WORK/rss.err" >&2
		return 1
	}
	tail -n 1 "$WORK/rss"
}

# within NAME DECOMPRESSOR_KB -- CMD...: CMD's peak is at most DECOMP + slack.
within() {
	local name=$1 dec=$2 got
	shift 3
	got=$(peak_kb "$@")
	echo "# $name: ${got} kB peak, decompressor alone ${dec} kB, bound $((dec + SLACK_KB)) kB" >&3
	[ "$got" -le $((dec + SLACK_KB)) ]
}

guru() {
	[ -f "$SHARED_DATA/guru-snapshot.tar.xz" ] || skip "no $SHARED_DATA/guru-snapshot.tar.xz"
	echo "$SHARED_DATA/guru-snapshot.tar.xz"
}

@test "cold prepare of the GURU .tar.xz (64 MiB dictionary): tree and image within xz -dc + 8 MiB" {
	local f dec
	f=$(guru)
	dec=$(peak_kb xz -dc "$f")
	within "prepare (tree)" "$dec" -- "${Z[@]}" prepare "$f"
	rm -rf "$STORE"
	within "prepare --image" "$dec" -- "${Z[@]}" prepare --image "$f"
}

@test "cold prepare --image of a .tar.zst within zstd -dc + 8 MiB" {
	local f dec
	f=$(guru)
	xz -dc "$f" | zstd -q -o "$WORK/guru.tar.zst"
	dec=$(peak_kb zstd -dc "$WORK/guru.tar.zst")
	within "prepare --image" "$dec" -- "${Z[@]}" prepare --image "$WORK/guru.tar.zst"
}

# The bound must not grow with the archive: twice GURU's bytes through an
# 8 MiB dictionary that the stream fills many times over.
@test "peak memory does not grow with the archive: 70 MiB through an 8 MiB dictionary (image; bench/rss.sh has 1.3 GB trees)" {
	local f dec
	f=$(guru)
	mkdir -p "$WORK/two/a" "$WORK/two/b"
	tar -C "$WORK/two/a" -xJf "$f"
	tar -C "$WORK/two/b" -xJf "$f"
	tar -C "$WORK/two" -cf - a b | xz -6 -T2 > "$WORK/two.tar.xz"
	rm -rf "$WORK/two"
	dec=$(peak_kb xz -dc "$WORK/two.tar.xz")
	within "prepare --image" "$dec" -- "${Z[@]}" prepare --image "$WORK/two.tar.xz"
}

# Nor with the number of entries: 100,000 empty files in 1,000 directories
# (the converter's tables are spilled to a sorted file, not held; tar2sqfs,
# which holds them, peaks at 30.8 MB here against xz -dc's 10.2).
@test "peak memory does not grow with the entries: prepare --image of 100,000 files within xz -dc + 8 MiB" {
	local dec
	python3 - "$WORK/many.tar" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for d in range(1000):
        for f in range(100):
            i = tarfile.TarInfo(f"dir-{d:04d}/file-with-a-longer-name-{f:04d}.ebuild")
            i.mtime = 1600000000
            t.addfile(i)
PY
	xz -6 -T2 "$WORK/many.tar"
	dec=$(peak_kb xz -dc "$WORK/many.tar.xz")
	within "prepare --image" "$dec" -- "${Z[@]}" prepare --image "$WORK/many.tar.xz"
	img=$("${Z[@]}" prepare --image "$WORK/many.tar.xz")
	[ "$(rdsquashfs -q -l /dir-0999 "$img" | wc -l)" -ge 100 ]
}
