#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/build-cold.sh - builds that start from a seed and a tarball snapshot
# nobody has converted yet (issue 15):
#
#  1. first build start from a new ~1 GB .tar.xz seed (spec -> first target
#     script running, the seed and snapshot not cached; with cache_format
#     "image" each becomes one squashfs image) against `tar -xJf` of that
#     seed + `sync -f` (goal <= 0.3);
#  2. 8 such builds started at once (different version_stamps, one seed,
#     one snapshot) against one alone: the wall-clock ratio (goal <= 1.15)
#     and how many conversions happened (goal: one of each);
#  3. peak RSS of each side, and of `xz -dc` of the seed alone.
#
# The seed is the tests' busybox seed plus filler: GURU unpacked COPIES
# times (many small files) and real shared libraries from /usr/lib up to
# BIG_MB MB (large files), packed once with `xz -T0 -6` and cached under
# $BENCH_CACHE/build-cold.  The snapshot is the tests' fixture repository
# with GURU's categories added, as a .tar.xz snapshot.  Every round starts
# from an empty cache/ (builds/ and snapshots/ are kept); the sides
# alternate (A B, B A, ...).  The timed build is the whole command: the
# target's first script records that it ran and exits 3, so the time
# includes tearing the sandbox down.
#
# Usage: bench/build-cold.sh [ROUNDS]   (default 3)
# Environment: ZEOLITE, SHARED_DATA, BENCH_CACHE, COPIES (10), BIG_MB (650).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
zeolite=$(realpath "${ZEOLITE:-$top/build/zeolite}")
data=${SHARED_DATA:-$top/../shared/data}
cache=${BENCH_CACHE:-/var/tmp/zeolite-bench}
copies=${COPIES:-10}
big_mb=${BIG_MB:-650}
fix=$cache/build-cold
die() { echo "bench/build-cold.sh: $*" >&2; exit 1; }
for tool in python3 xz tar /usr/bin/time; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

seed_cache=$cache/build-cold-seed-x$copies-$big_mb.tar.xz
rm -rf "$fix"
mkdir -p "$fix"
"$top/tests/seed/make-fixtures.sh" "$zeolite" "$fix/store" "$fix" > "$fix/fixtures.log" 2>&1 ||
	die "fixtures failed: see $fix/fixtures.log"
store=$fix/store
seed="$store/builds/23.0-default/stage3-amd64-openrc-latest.tar.xz"

if [ ! -s "$seed_cache" ]; then
	echo "making the ~1 GB seed $seed_cache ..." >&2
	mkdir "$fix/seedroot"
	tar -C "$fix/seedroot" --xattrs --xattrs-include='*' --numeric-owner -xpf "$seed"
	for i in $(seq 1 "$copies"); do
		mkdir -p "$fix/seedroot/usr/share/filler/$i"
		tar -C "$fix/seedroot/usr/share/filler/$i" -xf "$data/guru-snapshot.tar.xz"
	done
	python3 - "$fix/seedroot/usr/lib/filler" "$big_mb" <<'PY'
import os, shutil, sys
dst, left = sys.argv[1], int(sys.argv[2]) << 20
os.makedirs(dst, exist_ok=True)
n = 0
while left > 0:
    for root, _, files in os.walk("/usr/lib"):
        for f in files:
            p = os.path.join(root, f)
            if left <= 0 or os.path.islink(p) or not os.path.isfile(p) or os.path.getsize(p) < 65536:
                continue
            shutil.copyfile(p, os.path.join(dst, f"{n}-{f}"))
            left -= os.path.getsize(p)
            n += 1
PY
	tar -C "$fix/seedroot" --xattrs --xattrs-include='*' --numeric-owner -cf - . |
		xz -T0 -6 > "$seed_cache.tmp"
	mv "$seed_cache.tmp" "$seed_cache"
	rm -rf "$fix/seedroot"
fi
cp "$seed_cache" "$seed"
seed_mb=$(xz --robot -l "$seed" | awk '$1 == "totals" { printf "%d", $5 / 1048576 }')
nfiles=$(tar -tf "$seed" | wc -l)

# A tarball snapshot of GURU's size, replacing the fixture's .sqfs.
treeish=$(cat "$fix/treeish")
rm -f "$store/snapshots/gentoo-$treeish".*
tar -C "$fix/repo" -xf "$data/guru-snapshot.tar.xz"
echo gentoo > "$fix/repo/profiles/repo_name"
snap=$("$zeolite" -c "$fix/zeolite.conf" snapshot --repo "$fix/repo" --repo-name gentoo --format tar.xz)
treeish=${snap#gentoo-}
treeish=${treeish%.tar.xz}

# Eight specs: the fixture's stage3 under eight version_stamps.
for i in $(seq 1 8); do
	sed -e "s/^version_stamp:.*/version_stamp: cold$i/" -e "s/^snapshot_treeish:.*/snapshot_treeish: $treeish/" \
		"$fix/stage3.spec" > "$fix/cold$i.spec"
done
mkdir -p "$fix/targets"
printf '#!/bin/sh\ntouch "/var/cache/distfiles/started.$clst_version_stamp"\nexit 3\n' > "$fix/targets/stage3.sh"
export ZEOLITE_TARGETS_DIR=$fix/targets
z=("$zeolite" -c "$fix/zeolite.conf" -q)
cold() { rm -rf "$store/cache" "$store/tmp" "$fix/distfiles"/started.*; sync -f "$store"; }
started() { find "$fix/distfiles" -name 'started.*' | wc -l; }

A() { "${z[@]}" build "$fix/cold1.spec" 2>/dev/null || true; }
B() { tar -C "$fix/untar" -xJf "$seed" && sync -f "$fix/untar"; }
C() {
	local i pids=()
	for i in $(seq 1 8); do "${z[@]}" build "$fix/cold$i.spec" 2>/dev/null & pids+=($!); done
	wait "${pids[@]}" || true
}
now() { date +%s%N; }

cold; A; [ "$(started)" = 1 ] || die "the build did not start (see $store/logs)"
echo "seed: $seed_mb MiB uncompressed, $nfiles entries, $(du -m "$seed" | cut -f1) MiB .tar.xz;" \
	"snapshot $snap; $rounds rounds, $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
r1=() r8=() convs=()
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) -eq 1 ]; then order="A B C"; else order="C B A"; fi
	for side in $order; do
		cold; rm -rf "$fix/untar"; mkdir "$fix/untar"; sync -f "$fix"
		t0=$(now); $side; eval "t_$side=\$(( \$(now) - t0 ))"
		case $side in
		A) [ "$(started)" = 1 ] || die "round $r: the build did not start" ;;
		C) [ "$(started)" = 8 ] || die "round $r: $(started) of 8 builds started"
		   convs+=("$(find "$store/cache/images" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)") ;;
		esac
	done
	r1+=("$(python3 -c "print($t_A / $t_B)")")
	r8+=("$(python3 -c "print($t_C / $t_A)")")
	echo "round $r: cold build start $((t_A / 1000000)) ms, tar -xJf + sync $((t_B / 1000000)) ms," \
		"8 at once $((t_C / 1000000)) ms, images made ${convs[-1]}; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
rm -rf "$fix/untar"

rss() { /usr/bin/time -f %M -o "$fix/rss" bash -c "$1" > /dev/null 2>&1 || true; tail -n 1 "$fix/rss"; }
cold; rss_a=$(rss "${z[*]} build $fix/cold1.spec")
rm -rf "$fix/untar"; mkdir "$fix/untar"; rss_b=$(rss "tar -C $fix/untar -xJf $seed")
rm -rf "$fix/untar"; rss_xz=$(rss "xz -dc $seed")
python3 - "$rss_a" "$rss_b" "$rss_xz" "${convs[*]}" "${r1[*]}" "${r8[*]}" <<'PY'
import statistics as st, sys
a, b, x = (int(v) / 1024 for v in sys.argv[1:4])
convs = sys.argv[4].split()
r1 = [float(v) for v in sys.argv[5].split()]
r8 = [float(v) for v in sys.argv[6].split()]
print(f"cold build start / (tar -xJf + sync -f) of the seed: {st.median(r1):.3f} "
      f"(spread {min(r1):.3f}-{max(r1):.3f}, {len(r1)} rounds; goal <= 0.3)")
print(f"8 concurrent cold builds / one: {st.median(r8):.3f} (spread {min(r8):.3f}-{max(r8):.3f}; "
      f"goal <= 1.15); images made per round (seed + snapshot): {' '.join(convs)} (goal: 2)")
print(f"peak RSS: cold build {a:.1f} MiB (largest process), tar -xJf {b:.1f} MiB, xz -dc {x:.1f} MiB")
PY
