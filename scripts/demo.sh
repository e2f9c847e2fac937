#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make demo`: zeolite's main job as far as it exists, on bundled examples
# and the real GURU snapshot beside the checkout.
#  1. check the example specs and show what was understood;
#  2. snapshot the GURU repository (a plain directory) to .tar.xz;
#  3. prepare it from four processes at once: one unpacks, three wait;
#  4. prepare again (costs nothing), status, gc.
set -euo pipefail
zeolite=$(realpath "${1:-build/zeolite}")
top=$(cd "$(dirname "$0")/.." && pwd)
data=${SHARED_DATA:-$top/../shared/data}
demo=${ZEOLITE_DEMO_DIR:-/var/tmp/zeolite-demo}
z=("$zeolite" -c "$top/examples/zeolite.conf" --storedir "$demo/store")

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "zeolite check examples/*.spec (silent: all valid)"
"${z[@]}" check "$top"/examples/*.spec
echo "exit status $?"
step "what zeolite understood of examples/stage4-amd64.spec (--json)"
"${z[@]}" check --json "$top/examples/stage4-amd64.spec" | python3 -m json.tool

step "a bad spec is reported as FILE:LINE (exit 65)"
bad=$(mktemp /tmp/zeolite-demo-XXXXXX.spec)
trap 'rm -f "$bad"' EXIT
sed -e 's/^target: stage3/target: livecd-stage1/' -e '$a frobnicate: 1' "$top/examples/stage3-amd64.spec" > "$bad"
"${z[@]}" check "$bad" || echo "exit status $?"

step "zeolite snapshot: the GURU repository ($data/guru-snapshot.tar.xz)"
rm -rf "$demo"
mkdir -p "$demo/guru"
tar -C "$demo/guru" -xf "$data/guru-snapshot.tar.xz"
t0=$(date +%s%N)
name=$("${z[@]}" snapshot --repo "$demo/guru" --repo-name guru --format tar.xz)
echo "$name  ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
"${z[@]}" snapshot --repo "$demo/guru" --repo-name guru --format tar.xz > /dev/null

step "four concurrent prepares of $name: one unpacks, the others wait"
t0=$(date +%s%N)
for i in 1 2 3 4; do
	"${z[@]}" --json prepare "$name" > "$demo/prepare.$i.json" &
done
wait
for i in 1 2 3 4; do cat "$demo/prepare.$i.json"; done
echo "all four: $(( ($(date +%s%N) - t0) / 1000000 )) ms"

step "prepare again: already ready, nothing is unpacked"
t0=$(date +%s%N)
"${z[@]}" --json prepare "$name"
echo "$(( ($(date +%s%N) - t0) / 1000000 )) ms"

step "zeolite status"
"${z[@]}" status

step "zeolite gc --dry-run"
"${z[@]}" gc --dry-run --keep 0
echo
echo "The store is $demo/store; remove it with: rm -rf $demo"
