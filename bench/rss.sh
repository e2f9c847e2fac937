#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/rss.sh - peak memory (issue 15: a cold prepare, tree or image, and
# the pack step within the (de)compressor's own need + 8 MiB, whatever the
# archive's size).  Peak RSS is GNU time's %M: the largest single process
# of the command (`prepare --image` converts in zeolite's process; the last
# column is what `tar2sqfs`, which holds every entry, takes for the same
# stream, for comparison).  MALLOC_PERTURB_ is unset: it makes malloc touch
# every page it hands out.
#
# Archives: GURU as shipped (.tar.xz, 64 MiB dictionary, 34 MiB of tar),
# GURU as .tar.zst (zstd -19), and the ::gentoo-sized tree of
# bench/snapshot.sh as .tar.xz (xz -6, 1.3 GB of tar; bench/image.sh packs
# it).  The pack step is bench/pack-driver (pack_tree(), as a build's pack
# child runs it) on bench/pack.sh's tree against `xz -T$(nproc) -6` of the
# same tar stream.
#
# Usage: bench/rss.sh        Environment: BUILD, SHARED_DATA, BENCH_CACHE.
set -euo pipefail
unset MALLOC_PERTURB_
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
ZEOLITE=${ZEOLITE:-$BUILD/zeolite}
SHARED_DATA=${SHARED_DATA:-$top/../shared/data}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/zeolite-bench}
die() { echo "bench/rss.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is not installed"

WORK=$(mktemp -d "$BENCH_CACHE/rss.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
printf '' > "$WORK/empty.conf"
peak() { /usr/bin/time -f %M -o "$WORK/t" bash -c "$1" > /dev/null 2>&1 || die "failed: $1"; tail -n 1 "$WORK/t"; }
z="$ZEOLITE -c $WORK/empty.conf --storedir $WORK/store"
t2s="tar2sqfs --quiet --no-skip --force --compressor lz4 --num-jobs $(nproc) --defaults uid=0,gid=0,mode=0755,mtime=0 $WORK/x.sqfs"

row() { # NAME DECOMPRESS-CMD ARCHIVE
	local name=$1 dec=$2 f=$3 d tree img t2
	d=$(peak "$dec $f")
	rm -rf "$WORK/store"; tree=$(peak "$z prepare $f")
	rm -rf "$WORK/store"; img=$(peak "$z prepare --image $f")
	rm -rf "$WORK/store"
	t2=$(peak "$dec $f | $t2s")
	awk -v n="$name" -v d="$d" -v t="$tree" -v i="$img" -v s="$t2" 'BEGIN {
		printf "%-34s %9d %9d %+7.1f %9d %+7.1f %9d\n", n, d, t, (t - d) / 1024, i, (i - d) / 1024, s }'
}

xz -dc "$SHARED_DATA/guru-snapshot.tar.xz" | zstd -q -19 -o "$WORK/guru.tar.zst"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs" >&2
printf '%-34s %9s %9s %7s %9s %7s %9s\n' archive "dec kB" "tree kB" "+MiB" "image kB" "+MiB" "tar2sqfs"
row "GURU .tar.xz (64 MiB dict)" "xz -dc" "$SHARED_DATA/guru-snapshot.tar.xz"
row "GURU .tar.zst (zstd -19)" "zstd -dc" "$WORK/guru.tar.zst"
big=$BENCH_CACHE/tree-x20.tar.xz
if [ -s "$big" ]; then
	row "tree-x20 .tar.xz (1.3 GB of tar)" "xz -dc" "$big"
else
	echo "(no $big: run bench/image.sh first for the ::gentoo-sized row)" >&2
fi

# The pack step.
PTREE=$BENCH_CACHE/pack-tree
if [ -e "$PTREE/.complete" ] && [ -r "$BUILD/src/libzeolitearchive.a" ]; then
	cc -O2 -D_GNU_SOURCE -I"$BUILD" -I"$top/src" "$top/bench/pack-driver.c" \
		"$BUILD/src/libzeolitearchive.a" "$BUILD/src/libzeolitecore.a" \
		$(pkg-config --libs libarchive libsquashfs1 nettle libcrypto) -o "$WORK/pack-driver"
	mkdir "$WORK/out"
	p=$(peak "$WORK/pack-driver $PTREE $WORK/out zeolite xz 6 $(nproc)")
	c=$(peak "tar -cf - -C $PTREE . | xz -T$(nproc) -6 > $WORK/out/pipeline.tar.xz")
	awk -v p="$p" -v c="$c" -v n="$(nproc)" 'BEGIN {
		printf "pack step (xz -6, %d threads): %d kB; xz -T%d -6 alone %d kB (%+.1f MiB)\n", n, p, n, c, (p - c) / 1024 }'
else
	echo "(no $PTREE or static libraries: run bench/pack.sh first for the pack step)" >&2
fi
