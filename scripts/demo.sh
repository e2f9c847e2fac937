#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make demo`: zeolite's main job on a bundled default.
#  1. check the example specs (examples/*.spec);
#  2. make a seed stage from Debian's busybox-static (with a stand-in for
#     emerge: there is no Gentoo stage and no network here) and a snapshot of
#     a small bundled repository (tests/seed/make-fixtures.sh);
#  3. snapshot the real GURU repository and prepare it from four processes
#     at once: one unpacks, three wait;
#  4. run three stage builds of different targets at once (stage1, stage3,
#     stage4), sharing that snapshot and that seed;
#  5. print the outputs, their digests, the time each took, and status.
set -euo pipefail
zeolite=$(realpath "${1:-build/zeolite}")
top=$(cd "$(dirname "$0")/.." && pwd)
data=${SHARED_DATA:-$top/../shared/data}
demo=${ZEOLITE_DEMO_DIR:-/var/tmp/zeolite-demo}
export ZEOLITE_TARGETS_DIR=$top/targets

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

step "zeolite check examples/*.spec (silent: all valid)"
"$zeolite" -c "$top/examples/zeolite.conf" check "$top"/examples/*.spec
echo "exit status 0"
step "what zeolite understood of examples/stage4-amd64.spec"
"$zeolite" -c "$top/examples/zeolite.conf" check --json "$top/examples/stage4-amd64.spec" | python3 -m json.tool

step "a seed stage from busybox-static, a snapshot of a small repository"
rm -rf "$demo"
mkdir -p "$demo"
"$top/tests/seed/make-fixtures.sh" "$zeolite" "$demo/store" "$demo" > "$demo/fixtures.log" 2>&1 ||
	{ cat "$demo/fixtures.log"; exit 1; }
z=("$zeolite" -c "$demo/zeolite.conf")
ls -l "$demo/store/builds/23.0-default" "$demo/store/snapshots"
id=$(cat "$demo/treeish")

step "zeolite snapshot of the GURU repository; four concurrent prepares"
mkdir -p "$demo/guru"
tar -C "$demo/guru" -xf "$data/guru-snapshot.tar.xz"
guru=$("${z[@]}" snapshot --repo "$demo/guru" --repo-name guru --format tar.xz)
echo "$guru"
t0=$(date +%s%N)
for i in 1 2 3 4; do "${z[@]}" --json prepare "$guru" > "$demo/prepare.$i.json" & done
wait
cat "$demo"/prepare.*.json
echo "four prepares: $(ms "$t0") ms; again (ready):"
t0=$(date +%s%N)
"${z[@]}" prepare "$guru" > /dev/null
echo "$(ms "$t0") ms"

step "three stage builds at once, sharing one seed and one snapshot"
for t in stage1 stage3 stage4; do
	sed -e "s/^snapshot_treeish: .*/snapshot: gentoo-$id.tar.xz/" "$demo/$t.spec" > "$demo/$t-demo.spec"
	"${z[@]}" build --dry-run "$demo/$t-demo.spec" | head -1
done
for t in stage1 stage3 stage4; do
	( t0=$(date +%s%N)
	  "${z[@]}" build "$demo/$t-demo.spec" > "$demo/$t.out" 2> "$demo/$t.err"
	  echo "$t: exit $? in $(ms "$t0") ms" ) &
done
wait
for t in stage1 stage3 stage4; do
	if [ ! -s "$demo/$t.out" ]; then cat "$demo/$t.err"; exit 1; fi
done
grep -h -e 'unpacked)' -e 'waited)' -e 'reused)' "$demo"/*.err || true

step "the outputs and their digests"
for t in stage1 stage3 stage4; do
	f=$(cat "$demo/$t.out")
	ls -l "$f" "$f.CONTENTS.gz" "$f.DIGESTS"
	cat "$f.DIGESTS"
	echo "  $(zcat "$f.CONTENTS.gz" | wc -l) entries; the stand-in emerge's work:"
	tar -tf "$f" | grep '^./usr/share/standin/' | sed 's/^/    /'
done

step "zeolite status"
"${z[@]}" status

echo
echo "Everything is in $demo; remove it with: rm -rf $demo"
