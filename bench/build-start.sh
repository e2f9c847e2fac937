#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/build-start.sh - how long a build takes to start (spec -> first
# target script running) with the seed already in the cache, against
# unpacking the same seed with GNU tar (goal: <= 0.1x).
#
# The seed is the busybox seed of the tests plus a ~stage3-sized filler (the
# GURU tree copied COPIES times under /usr/share/filler: about 9k files per
# copy).  The build uses a targets directory whose setup step only records
# that it ran and fails, so the timed run is: parse, lock, take the snapshot
# and seed leases, build the sandbox (overlayfs, namespaces, mounts), start
# the script, tear down.  The two commands alternate, one run each per round.
#
# Usage: bench/build-start.sh [ROUNDS]   (default 10)
# Environment: ZEOLITE (default build/zeolite), COPIES (default 10),
#              BENCH_CACHE (default /var/tmp/zeolite-bench), SHARED_DATA.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-10}
zeolite=$(realpath "${ZEOLITE:-$top/build/zeolite}")
data=${SHARED_DATA:-$top/../shared/data}
cache=${BENCH_CACHE:-/var/tmp/zeolite-bench}
copies=${COPIES:-10}
fix=$cache/build-start
rm -rf "$fix"
mkdir -p "$fix"

# Fixtures, with a bigger seed.
"$top/tests/seed/make-fixtures.sh" "$zeolite" "$fix/store" "$fix" > "$fix/fixtures.log" 2>&1
seed="$fix/store/builds/23.0-default/stage3-amd64-openrc-latest.tar.xz"
if [ "$copies" -gt 0 ]; then
	# Rebuild the seed with filler.
	mkdir "$fix/seedroot"
	tar -C "$fix/seedroot" --xattrs --xattrs-include='*' --numeric-owner -xpf "$seed"
	for i in $(seq 1 "$copies"); do
		mkdir -p "$fix/seedroot/usr/share/filler/$i"
		tar -C "$fix/seedroot/usr/share/filler/$i" -xf "$data/guru-snapshot.tar.xz"
	done
	tar -C "$fix/seedroot" --xattrs --xattrs-include='*' --numeric-owner -cf - . | xz -T0 -3 > "$seed"
	rm -rf "$fix/seedroot"
fi
nfiles=$(tar -tf "$seed" | wc -l)

# Targets whose first step records that it ran, then stops the build.
mkdir -p "$fix/targets"
printf '#!/bin/sh\necho started > /var/cache/distfiles/started\nexit 3\n' > "$fix/targets/stage3.sh"
export ZEOLITE_TARGETS_DIR=$fix/targets
z=("$zeolite" -c "$fix/zeolite.conf" -q)
# Warm: the seed (and snapshot) go into the cache once.
"${z[@]}" build "$fix/stage3.spec" 2>/dev/null || true
[ -f "$fix/distfiles/started" ] || { echo "the build did not start" >&2; exit 1; }

A="${z[*]} build $fix/stage3.spec 2>/dev/null; test -f $fix/distfiles/started"
B="tar -xf $seed -C $fix/untar"
ratios=()
for r in $(seq 1 "$rounds"); do
	rm -f "$fix/distfiles/started"; rm -rf "$fix/untar"; mkdir "$fix/untar"; sync
	if [ $((r % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
	for side in $order; do
		if [ "$side" = A ]; then cmd=$A; else cmd=$B; fi
		t0=$(date +%s%N)
		bash -c "$cmd" || { [ "$side" = B ] || { echo "the build did not start" >&2; exit 1; }; }
		eval "t_$side=$(( $(date +%s%N) - t0 ))"
	done
	ratios+=("$(python3 -c "print($t_A / $t_B)")")
	echo "round $r: build start $((t_A / 1000000)) ms, tar -x $((t_B / 1000000)) ms" >&2
done
python3 - "$nfiles" "${ratios[@]}" <<'PY'
import statistics, sys
n = sys.argv[1]; r = [float(x) for x in sys.argv[2:]]
print(f"build start (cached seed of {n} entries) / tar -x of the seed: {statistics.median(r):.4f} "
      f"(spread {min(r):.4f}-{max(r):.4f}, {len(r)} rounds; goal <= 0.1)")
PY
rm -rf "$fix/untar"
