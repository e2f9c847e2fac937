#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/snapshot.sh - `zeolite snapshot` (git source, .sqfs output) against
# the plain pipeline it wraps, `git archive | tar2sqfs`, with the same
# tar2sqfs options, on a ::gentoo-sized tree (about 180,000 files).
#
# The tree is GURU (../shared/data/guru-snapshot.tar.xz) copied 20 times
# under renamed category prefixes (cN-app-misc, ...), committed to git and
# cached under $BENCH_CACHE (default /var/tmp/zeolite-bench), so reruns skip
# building it.  The two commands run alternately (A B, B A, A B, ...), one
# hyperfine run each per round, so that drift of the machine hits both alike;
# each zeolite run starts from a fresh storedir.
#
# Usage: bench/snapshot.sh [ROUNDS]       (default 10)
#        bench/snapshot.sh --repo [ROUNDS] (plain directory: zeolite snapshot
#                                         --repo against mksquashfs)
#        bench/snapshot.sh --repo --unique [ROUNDS] (the same on a copy of
#                                         the tree whose every file is made
#                                         unique: nothing to deduplicate)
#        bench/snapshot.sh --build-only  (only build and cache the tree)
# Environment: ZEOLITE (default build/zeolite), SHARED_DATA, BENCH_CACHE,
#              COPIES (default 20).

set -euo pipefail

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ONLY=false
if [ "${1:-}" = --build-only ]; then BUILD_ONLY=true; shift; fi
# --repo: `zeolite snapshot --repo DIR` (a plain directory) against
# `mksquashfs DIR` with the same compressor and CPU count (issue 15: <= 1.0).
REPO_MODE=false
if [ "${1:-}" = --repo ]; then REPO_MODE=true; shift; fi
UNIQUE=false
if $REPO_MODE && [ "${1:-}" = --unique ]; then UNIQUE=true; shift; fi
ROUNDS=${1:-10}
ZEOLITE=${ZEOLITE:-$SRCDIR/build/zeolite}
SHARED_DATA=${SHARED_DATA:-$SRCDIR/../shared/data}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/zeolite-bench}
COPIES=${COPIES:-20}
GURU=$SHARED_DATA/guru-snapshot.tar.xz
TREE=$BENCH_CACHE/tree-x$COPIES
JOBS=$(nproc)
# Keep in step with SNAPSHOT_SQFS_COMPRESSOR and tar2sqfs_argv() in src/snapshot.c.
TAR2SQFS_OPTS="--quiet --no-skip --force --compressor gzip --num-jobs $JOBS --defaults uid=0,gid=0,mode=0755"

die() { echo "bench/snapshot.sh: $*" >&2; exit 1; }

for tool in git tar2sqfs mksquashfs hyperfine python3; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
[ -x "$ZEOLITE" ] || die "no zeolite binary at $ZEOLITE (set ZEOLITE)"
[ -r "$GURU" ] || die "cannot read $GURU (set SHARED_DATA)"

build_tree() {
	local base=$BENCH_CACHE/base stage=$TREE.tmp cat n
	echo "building the benchmark tree in $TREE ($COPIES copies of GURU) ..." >&2
	rm -rf "$base" "$stage"
	mkdir -p "$base" "$stage"
	tar -xJf "$GURU" -C "$base"
	cp -a "$base/." "$stage/"
	for ((n = 2; n <= COPIES; n++)); do
		# Categories are the top-level directories with a dash in the name.
		for cat in "$base"/*-*/; do
			cat=$(basename "$cat")
			cp -a "$base/$cat" "$stage/c$n-$cat"
		done
	done
	git -C "$stage" -c init.defaultBranch=main init -q
	git -C "$stage" -c gc.auto=0 add -A
	git -C "$stage" -c gc.auto=0 -c user.name=bench -c user.email=bench@zeolite.invalid \
		-c commit.gpgsign=false commit -q -m "benchmark tree: GURU x$COPIES"
	git -C "$stage" gc -q
	rm -rf "$base" "$TREE"
	mv "$stage" "$TREE"
}

mkdir -p "$BENCH_CACHE"
if ! git -C "$TREE" rev-parse -q --verify HEAD >/dev/null 2>&1; then
	build_tree
fi
$BUILD_ONLY && exit 0
NFILES=$(git -C "$TREE" ls-files | wc -l)
COMMIT=$(git -C "$TREE" rev-parse HEAD)

WORK=$(mktemp -d "$BENCH_CACHE/run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

A_NAME="zeolite snapshot"
A_PREP="rm -rf $WORK/store && mkdir -m 0755 $WORK/store"
A_CMD="$ZEOLITE --storedir $WORK/store snapshot --repo-name gentoo --git-dir $TREE >/dev/null"
B_NAME="git archive | tar2sqfs"
B_PREP="rm -f $WORK/out.sqfs"
B_CMD="git -C $TREE archive --format=tar $COMMIT | tar2sqfs $TAR2SQFS_OPTS $WORK/out.sqfs"

# The tree with a line naming each file's path appended to it: the same
# shape, but no two files alike (GURU x20 is 95% copies).
build_unique() {
	local u=$1
	echo "building $u (every file unique) ..." >&2
	rm -rf "$u" "$u.tmp"
	python3 - "$TREE" "$u.tmp" <<'PY'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
for root, dirs, files in os.walk(src):
    if root == src and '.git' in dirs:
        dirs.remove('.git')
    rel = os.path.relpath(root, src)
    os.makedirs(os.path.join(dst, rel), exist_ok=True)
    for f in files:
        p, q = os.path.join(root, f), os.path.join(dst, rel, f)
        if os.path.islink(p):
            os.symlink(os.readlink(p), q)
            continue
        with open(p, 'rb') as a, open(q, 'wb') as b:
            b.write(a.read() + ("\n# %s\n" % os.path.join(rel, f)).encode())
        os.chmod(q, os.stat(p).st_mode & 0o7777)
PY
	mv "$u.tmp" "$u"
}

if $REPO_MODE; then
	if $UNIQUE; then
		[ -d "$TREE-unique" ] || build_unique "$TREE-unique"
		TREE=$TREE-unique
	fi
	A_NAME="zeolite snapshot --repo"
	A_CMD="$ZEOLITE --storedir $WORK/store snapshot --repo-name gentoo --repo $TREE --format sqfs >/dev/null"
	B_NAME="mksquashfs"
	B_CMD="mksquashfs $TREE $WORK/out.sqfs -quiet -no-progress -comp gzip -processors $JOBS -all-root -e .git"
fi

echo "tree: $TREE, $NFILES files, commit $COMMIT; $ROUNDS rounds, $JOBS CPUs" >&2

# Warm the page cache (and check both commands work) before timing.
bash -c "$A_PREP && $A_CMD" || die "zeolite snapshot failed"
bash -c "$B_PREP && $B_CMD" || die "git archive | tar2sqfs failed"

for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then
		order=(--prepare "$A_PREP" -n "$A_NAME" "$A_CMD" --prepare "$B_PREP" -n "$B_NAME" "$B_CMD")
	else
		order=(--prepare "$B_PREP" -n "$B_NAME" "$B_CMD" --prepare "$A_PREP" -n "$A_NAME" "$A_CMD")
	fi
	hyperfine --style none --runs 1 --export-json "$WORK/round-$r.json" "${order[@]}" >/dev/null 2>&1 ||
		die "hyperfine failed in round $r"
	echo "round $r/$ROUNDS done" >&2
done

python3 - "$WORK" "$ROUNDS" "$A_NAME" "$B_NAME" <<'EOF'
import json, statistics as st, sys
work, rounds, a, b = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
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
print(f"ratio {a} / {b}: mean {st.mean(ratios):.3f} ± {sd:.3f} "
      f"(median {st.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f}; per round)")
EOF
