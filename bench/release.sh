#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/release.sh - a release of 6 specs built at once (issue 14 item 5):
#
#   stage3-amd64-rel-a -> stage4-amd64-rel-a      (a chain: the stage4's
#   stage3-amd64-rel-b -> stage4-amd64-rel-b       seed is the stage3's output)
#   stage4-amd64-rel-c, stage4-amd64-rel-d         (from the fixtures' seed)
#
# The issue asks for stage1 -> stage3 chains.  With the tests' busybox
# fixtures a stage1's output cannot seed anything: the stand-in emerge only
# writes its records into /tmp/stage1root, so the stage1 tarball has no
# /bin/sh, no busybox and no emerge for a stage2/stage3 to chroot into.  A
# stage3 is built in place on its seed, so its output is a whole root: the
# chains here are stage3 -> stage4, the closest honest chain.
#
# Each build's emerge of @system does timed CPU work through the
# jobserver: the seed's /usr/bin/emerge is a wrapper around the stand-in
# that, as make does, runs job 0 in its implicit slot and takes a token
# from MAKEFLAGS' FIFO for each of the other JOBS_PER_EMERGE - 1 jobs, each
# job a fixed shell loop of LOOPS iterations (fixed CPU work, not a fixed
# time: contention shows as longer walls), giving the token back after it.
# (The busybox seed has no make.)  The config's `jobs` is JOBS.
#
# Sides, alternating over ROUNDS rounds (A B, B A, ...), each from an empty
# cache/ and tmp/ and without the six outputs:
#   A  zeolite build -j 3 SPEC...           (one command, one jobserver)
#   B  zeolite build -j 1 SPEC, one command per spec in dependency order
#      (each its own jobserver with the same `jobs` tokens)
# Printed: wall(A) / sum(B), and wall(A) / the critical path (the longest
# chain of B's builds: max(stage3-a + stage4-a, stage3-b + stage4-b,
# stage4-c, stage4-d)); median and spread.  During each side /proc/loadavg
# is sampled every 0.5 s: the 1-minute load at the end and the mean and
# peak of the runnable tasks (the whole machine's, the sampler excluded),
# against `jobs`.
#
# Usage: bench/release.sh [ROUNDS]   (default 3)
# Environment: ZEOLITE, BENCH_CACHE, JOBS (nproc), JOBS_PER_EMERGE (4),
#              LOOPS (400000).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-${ROUNDS:-3}}
zeolite=$(realpath "${ZEOLITE:-$top/build/zeolite}")
cache=${BENCH_CACHE:-/var/tmp/zeolite-bench}
jobs=${JOBS:-$(nproc)}
per=${JOBS_PER_EMERGE:-4}
loops=${LOOPS:-400000}
fix=$cache/release
die() { echo "bench/release.sh: $*" >&2; exit 1; }
command -v python3 > /dev/null || die "python3 is not installed"

rm -rf "$fix"
mkdir -p "$fix"
"$top/tests/seed/make-fixtures.sh" "$zeolite" "$fix/store" "$fix" > "$fix/fixtures.log" 2>&1 ||
	die "fixtures failed: see $fix/fixtures.log"
store=$fix/store
sed -i -e "s/^jobs = .*/jobs = $jobs/" "$fix/zeolite.conf"
grep -qx "jobs = $jobs" "$fix/zeolite.conf" || die "no 'jobs' line in the fixtures' config"

# The seed again, its emerge the CPU-burning jobserver client.
cat > "$fix/emerge-wrapper" <<SH
#!/bin/sh
# bench/release.sh's emerge: $per jobs of $loops loops for @system, then the stand-in.
work=
case " \$* " in *" @system "*) work=yes ;; esac
case " \$* " in *" -p"* | *" --pretend "*) work= ;; esac
if [ -n "\$work" ]; then
	burn() { i=0; while [ \$i -lt $loops ]; do i=\$((i + 1)); done; }
	fifo=
	case \${MAKEFLAGS:-} in *--jobserver-auth=fifo:*)
		fifo=\${MAKEFLAGS##*--jobserver-auth=fifo:}; fifo=\${fifo%% *} ;;
	esac
	[ -p "\$fifo" ] || { echo "emerge-wrapper: no jobserver FIFO in MAKEFLAGS='\${MAKEFLAGS:-}'" >&2; exit 1; }
	exec 3<>"\$fifo"
	burn &
	j=1
	while [ \$j -lt $per ]; do
		t=\$(dd bs=1 count=1 <&3 2>/dev/null)
		( burn; printf %s "\$t" >&3 ) &
		j=\$((j + 1))
	done
	wait
	exec 3>&-
fi
exec /usr/bin/emerge-standin "\$@"
SH
cat > "$fix/seed-hook.sh" <<HOOK
#!/bin/sh
set -e
install -m 0755 "$top/tests/seed/emerge-standin" "\$1/usr/bin/emerge-standin"
install -m 0755 "$fix/emerge-wrapper" "\$1/usr/bin/emerge"
HOOK
chmod +x "$fix/seed-hook.sh"
seed=$store/builds/23.0-default/stage3-amd64-openrc-latest.tar.xz
rm -f "$seed"
"$top/tests/seed/make-busybox-seed.sh" -H "$fix/seed-hook.sh" -o "$seed" >> "$fix/fixtures.log" 2>&1 ||
	die "the seed failed: see $fix/fixtures.log"

# The six specs.
for x in a b; do
	sed -e "s/^version_stamp:.*/version_stamp: rel-$x/" "$fix/stage3.spec" > "$fix/s3$x.spec"
	sed -e "s/^version_stamp:.*/version_stamp: rel-$x/" \
		-e "s|^source_subpath:.*|source_subpath: 23.0-default/stage3-amd64-rel-$x|" \
		"$fix/stage4.spec" > "$fix/s4$x.spec"
done
for x in c d; do
	sed -e "s/^version_stamp:.*/version_stamp: rel-$x/" "$fix/stage4.spec" > "$fix/s4$x.spec"
done
order=(s3a s3b s4a s4b s4c s4d)   # a dependency order for side B
specs=()
for s in "${order[@]}"; do specs+=("$fix/$s.spec"); done
export ZEOLITE_TARGETS_DIR=$top/targets
z=("$zeolite" -c "$fix/zeolite.conf" -q)
"${z[@]}" plan "${specs[@]}" > "$fix/plan" || die "plan failed"

clean() {
	rm -rf "$store/cache" "$store/tmp" "$store"/builds/23.0-default/stage[34]-amd64-rel-*
	sync -f "$store"
}
now() { date +%s%N; }
# Samples of /proc/loadavg into $fix/load.$1 until $fix/sampling goes.
sample_start() {
	: > "$fix/load.$1"
	touch "$fix/sampling"
	( while [ -e "$fix/sampling" ]; do cat /proc/loadavg >> "$fix/load.$1"; sleep 0.5; done ) &
	sampler=$!
}
sample_stop() { rm -f "$fix/sampling"; wait "$sampler"; }
A() {
	"${z[@]}" build -j 3 "${specs[@]}" > "$fix/A.out" 2> "$fix/A.err" ||
		die "build -j 3 failed: see $fix/A.out, $fix/A.err"
}
B() {
	local s t
	: > "$fix/B.times"
	for s in "${order[@]}"; do
		t=$(now)
		"${z[@]}" build -j 1 "$fix/$s.spec" > "$fix/B.out" 2> "$fix/B.err" ||
			die "build $s failed: see $fix/B.out, $fix/B.err"
		echo "$s $(( $(now) - t ))" >> "$fix/B.times"
	done
}

echo "release: 6 specs (stage3->stage4 x2, stage4 x2), jobs = $jobs, $per jobs x $loops loops" \
	"per build, $rounds rounds, $(nproc) CPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
results=$fix/results
: > "$results"
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) -eq 1 ]; then sides="A B"; else sides="B A"; fi
	for side in $sides; do
		clean
		sample_start "$side.$r"
		t0=$(now); $side; t=$(( $(now) - t0 ))
		sample_stop
		eval "t_$side=$t"
		[ "$(find "$store/builds/23.0-default" -name 'stage[34]-amd64-rel-*.tar.xz' | wc -l)" = 6 ] ||
			die "round $r side $side: not 6 outputs"
	done
	# shellcheck disable=SC2154 # t_A, t_B: set by eval above
	python3 - "$r" "$t_A" "$fix/B.times" "$fix/load.A.$r" "$fix/load.B.$r" "$jobs" >> "$results" <<'PY'
import sys
r, ta, btimes, la, lb, jobs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
b = {k: int(v) for k, v in (l.split() for l in open(btimes))}
total = sum(b.values())
crit = max(b["s3a"] + b["s4a"], b["s3b"] + b["s4b"], b["s4c"], b["s4d"])
def load(f):
    rows = [l.split() for l in open(f)]
    run = [int(x[3].split("/")[0]) - 1 for x in rows]
    return float(rows[-1][0]), sum(run) / len(run), max(run)
l1a, ma, pa = load(la)
l1b, mb, pb = load(lb)
print(r, ta / 1e9, total / 1e9, crit / 1e9, ta / total, ta / crit, l1a, ma, pa, l1b, mb, pb)
PY
	read -r _ wa sb cp ra rc l1a ma pa l1b mb pb < <(tail -n 1 "$results")
	printf 'round %d: build -j 3 %.1f s; one by one %.1f s (critical path %.1f s); ratios %.3f, %.3f;' \
		"$r" "$wa" "$sb" "$cp" "$ra" "$rc" >&2
	printf ' load during -j 3: 1-min %.2f, runnable mean %.1f peak %d; one by one: %.2f, %.1f, %d\n' \
		"$l1a" "$ma" "$pa" "$l1b" "$mb" "$pb" >&2
done
python3 - "$results" "$jobs" <<'PY'
import statistics as st, sys
rows = [[float(x) for x in l.split()] for l in open(sys.argv[1])]
jobs = sys.argv[2]
def f(i, fmt="{:.3f}"):
    v = [r[i] for r in rows]
    return f"{fmt.format(st.median(v))} (spread {fmt.format(min(v))}-{fmt.format(max(v))})"
print(f"wall of build -j 3: {f(1, '{:.1f}')} s; one by one: sum {f(2, '{:.1f}')} s, critical path {f(3, '{:.1f}')} s; {len(rows)} rounds")
print(f"build -j 3 / sum of the builds one by one: {f(4)}")
print(f"build -j 3 / the critical path: {f(5)}")
print(f"load during build -j 3 (jobs = {jobs}): 1-min average at the end {f(6, '{:.2f}')}, "
      f"runnable tasks mean {f(7, '{:.1f}')}, peak {f(8, '{:.0f}')}")
print(f"load one by one: 1-min {f(9, '{:.2f}')}, runnable mean {f(10, '{:.1f}')}, peak {f(11, '{:.0f}')}")
PY
