#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/pack.sh - zeolite's packer (pack_tree(): pax tar + xz, with
# CONTENTS.gz and DIGESTS, fsync'd) against the plain pipeline
# `tar -cf - -C tree . | xz -T0 -6 > out` on a ~1 GB tree.
#
# The tree is GURU (../shared/data/guru-snapshot.tar.xz, ~34 MB of small
# files) unpacked $COPIES times, plus real shared libraries copied from
# /usr/lib up to $BIG_MB MB (large, compressible files, like a stage's
# /usr/lib).  It is cached under $BENCH_CACHE/pack-tree.
#
# zeolite's side is bench/pack-driver.c, compiled here against the static
# libraries of the build directory.  The two commands run alternately
# (A B, B A, ...), one hyperfine run each per round; the script prints each
# side's mean and spread, the time ratio zeolite/pipeline (goal <= 1.0) and
# the size ratio of the two .tar.xz files (goal within 1%).
#
# Usage: bench/pack.sh [ROUNDS]        (default 3)
# Environment: BUILD (default build), SHARED_DATA, BENCH_CACHE, COPIES (8),
#              BIG_MB (700), LEVEL (6).

set -euo pipefail

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-3}
BUILD=${BUILD:-$SRCDIR/build}
SHARED_DATA=${SHARED_DATA:-$SRCDIR/../shared/data}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/zeolite-bench}
COPIES=${COPIES:-8}
BIG_MB=${BIG_MB:-700}
LEVEL=${LEVEL:-6}
TREE=$BENCH_CACHE/pack-tree
OUT=$BENCH_CACHE/pack-out
DRIVER=$BENCH_CACHE/pack-driver

die() { echo "bench/pack.sh: $*" >&2; exit 1; }

for tool in hyperfine python3 xz tar cc pkg-config; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[ -r "$SHARED_DATA/guru-snapshot.tar.xz" ] || die "cannot read guru-snapshot.tar.xz (set SHARED_DATA)"
[ -r "$BUILD/src/libzeolitearchive.a" ] || die "build $BUILD first (ninja -C $BUILD)"

mkdir -p "$BENCH_CACHE" "$OUT"
cc -O2 -D_GNU_SOURCE -I"$BUILD" -I"$SRCDIR/src" "$SRCDIR/bench/pack-driver.c" \
	"$BUILD/src/libzeolitearchive.a" "$BUILD/src/libzeolitecore.a" \
	$(pkg-config --libs libarchive libsquashfs1 nettle libcrypto) -o "$DRIVER"

if [ ! -e "$TREE/.complete" ]; then
	echo "bench/pack.sh: building $TREE" >&2
	rm -rf "$TREE" "$TREE.tmp"
	mkdir -p "$TREE.tmp/small" "$TREE.tmp/big"
	for i in $(seq 1 "$COPIES"); do
		mkdir "$TREE.tmp/small/c$i"
		tar -xJf "$SHARED_DATA/guru-snapshot.tar.xz" -C "$TREE.tmp/small/c$i"
	done
	# Large files: real shared objects, up to BIG_MB MB.
	find /usr/lib -xdev -type f -name '*.so*' -size +200k -printf '%s %p\n' 2>/dev/null |
		sort -k2 | awk -v max=$((BIG_MB * 1024 * 1024)) \
			'{ if (tot + $1 > max) exit; tot += $1; print $2 }' |
		while read -r f; do
			d=$TREE.tmp/big$(dirname "$f")
			mkdir -p "$d" && cp -p "$f" "$d/"
		done
	touch "$TREE.tmp/.complete"
	mv "$TREE.tmp" "$TREE"
fi
echo "bench/pack.sh: tree $(du -sh --apparent-size "$TREE" | cut -f1)," \
	"$(find "$TREE" | wc -l) entries; $(nproc) CPUs; xz -$LEVEL" >&2

A="$DRIVER $TREE $OUT zeolite xz $LEVEL $(nproc)"
B="tar -cf - -C $TREE . | xz -T0 -$LEVEL > $OUT/pipeline.tar.xz"
PREP="rm -f $OUT/*"

for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
	for x in $order; do
		if [ "$x" = A ]; then cmd=$A; else cmd=$B; fi
		hyperfine --runs 1 --prepare "$PREP" --export-json "$BENCH_CACHE/pack-$x-$r.json" \
			--style none "$cmd" >/dev/null 2>&1 || die "run $x failed: $cmd"
		if [ "$x" = A ]; then out=zeolite; else out=pipeline; fi
		stat -c %s "$OUT/$out.tar.xz" > "$BENCH_CACHE/pack-$x.size"
	done
done

python3 - "$BENCH_CACHE" "$ROUNDS" <<'PY'
import json, statistics, sys
cache, rounds = sys.argv[1], int(sys.argv[2])
def times(x):
    return [json.load(open(f"{cache}/pack-{x}-{r}.json"))["results"][0]["times"][0]
            for r in range(1, rounds + 1)]
a, b = times("A"), times("B")
def show(name, t):
    print(f"{name:9s} mean {statistics.mean(t):7.2f} s  min {min(t):7.2f}  max {max(t):7.2f}"
          f"  stdev {statistics.stdev(t) if len(t) > 1 else 0:5.2f}  runs {len(t)}")
show("zeolite", a)
show("pipeline", b)
ratios = [x / y for x, y in zip(a, b)]
print(f"time ratio zeolite/pipeline: median {statistics.median(ratios):.3f}"
      f" (per round {min(ratios):.3f} .. {max(ratios):.3f}; ratio of the means"
      f" {statistics.mean(a) / statistics.mean(b):.3f}; goal <= 1.0)")
sa = int(open(f"{cache}/pack-A.size").read()); sb = int(open(f"{cache}/pack-B.size").read())
print(f"size: zeolite {sa} B, pipeline {sb} B, ratio {sa / sb:.4f} (goal within 1%)")
PY
