#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/image.sh - cold `zeolite prepare --image` of a ::gentoo-sized
# .tar.xz against what a tree cache costs, `tar -xJf` of the same file plus
# `sync -f` (issue 15: the ratio must be <= 0.25), and the peak RSS of each
# and of `xz -dc` alone.
#
# The tarball is bench/snapshot.sh's tree (GURU copied COPIES times, about
# 180,000 files), packed once with `tar -cJf` and cached under $BENCH_CACHE.
# The two sides run alternately (A B, B A, ...), one hyperfine run each per
# round; every zeolite run starts from a fresh storedir and every tar run
# from an empty directory.
#
# Usage: bench/image.sh [ROUNDS]   (default 5)
# Environment: ZEOLITE, SHARED_DATA, BENCH_CACHE, COPIES (as bench/snapshot.sh).

set -euo pipefail

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${1:-5}
ZEOLITE=${ZEOLITE:-$SRCDIR/build/zeolite}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/zeolite-bench}
COPIES=${COPIES:-20}
export ZEOLITE BENCH_CACHE COPIES
TREE=$BENCH_CACHE/tree-x$COPIES
TARBALL=$BENCH_CACHE/tree-x$COPIES.tar.xz

die() { echo "bench/image.sh: $*" >&2; exit 1; }
for tool in hyperfine python3 xz tar /usr/bin/time; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

"$SRCDIR/bench/snapshot.sh" --build-only
if [ ! -s "$TARBALL" ]; then
	echo "packing $TARBALL ..." >&2
	tar -C "$TREE" --exclude=./.git -cf - . | xz -T0 -6 > "$TARBALL.tmp"
	mv "$TARBALL.tmp" "$TARBALL"
fi

WORK=$(mktemp -d "$BENCH_CACHE/image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
printf '' > "$WORK/empty.conf"

A_NAME="zeolite prepare --image"
A_PREP="rm -rf $WORK/store"
A_CMD="$ZEOLITE -c $WORK/empty.conf --storedir $WORK/store prepare --image $TARBALL >/dev/null"
B_NAME="tar -xJf + sync -f"
B_PREP="rm -rf $WORK/tree && mkdir $WORK/tree && sync -f $WORK"
B_CMD="tar -C $WORK/tree -xJf $TARBALL && sync -f $WORK/tree"

echo "tarball: $TARBALL ($(du -h "$TARBALL" | cut -f1)); $ROUNDS rounds, $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
bash -c "$A_PREP && $A_CMD" || die "zeolite prepare --image failed"
bash -c "$B_PREP && $B_CMD" || die "tar -xJf failed"

for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then
		order=(--prepare "$A_PREP" -n "$A_NAME" "$A_CMD" --prepare "$B_PREP" -n "$B_NAME" "$B_CMD")
	else
		order=(--prepare "$B_PREP" -n "$B_NAME" "$B_CMD" --prepare "$A_PREP" -n "$A_NAME" "$A_CMD")
	fi
	hyperfine --style none --runs 1 --export-json "$WORK/round-$r.json" "${order[@]}" >/dev/null 2>&1 ||
		die "hyperfine failed in round $r"
	echo "round $r/$ROUNDS done; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done

# Peak RSS (kB) of each side and of the decompressor alone.
rss() { /usr/bin/time -f %M -o "$WORK/rss" bash -c "$1" >/dev/null 2>&1; cat "$WORK/rss"; }
bash -c "$A_PREP"
RSS_A=$(rss "$A_CMD")
bash -c "$B_PREP"
RSS_B=$(rss "tar -C $WORK/tree -xJf $TARBALL")
RSS_XZ=$(rss "xz -dc $TARBALL")

python3 - "$WORK" "$ROUNDS" "$A_NAME" "$B_NAME" "$RSS_A" "$RSS_B" "$RSS_XZ" <<'PY'
import json, statistics as st, sys
work, rounds, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rss_a, rss_b, rss_xz = (int(x) for x in sys.argv[5:8])
t = {a: [], b: []}
for r in range(1, rounds + 1):
    for res in json.load(open(f"{work}/round-{r}.json"))["results"]:
        t[res["command"]].append(res["times"][0])
def line(name, xs):
    sd = st.stdev(xs) if len(xs) > 1 else 0.0
    print(f"{name:26s} mean {st.mean(xs):7.3f} s ± {sd:.3f}  "
          f"(median {st.median(xs):.3f}, min {min(xs):.3f}, max {max(xs):.3f}, n={len(xs)})")
line(a, t[a])
line(b, t[b])
ratios = [x / y for x, y in zip(t[a], t[b])]
sd = st.stdev(ratios) if len(ratios) > 1 else 0.0
print(f"ratio image / tar+sync: mean {st.mean(ratios):.3f} ± {sd:.3f} "
      f"(median {st.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}; per round)")
print(f"peak RSS: zeolite prepare --image {rss_a/1024:.1f} MiB, tar -xJf {rss_b/1024:.1f} MiB, "
      f"xz -dc {rss_xz/1024:.1f} MiB")
PY
