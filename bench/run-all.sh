#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# `make bench`: every benchmark, one after another (not part of make check).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export ZEOLITE="${1:-$top/build/zeolite}"
"$top/bench/prepare.py" "${ROUNDS:-3}"
"$top/bench/snapshot.sh" "${ROUNDS:-3}"
"$top/bench/build-start.sh" "${ROUNDS:-5}"
"$top/bench/pack.sh"
"$top/bench/image.sh" "${ROUNDS:-3}"
"$top/bench/snapshot.sh" --repo "${ROUNDS:-3}"
"$top/bench/build-cold.sh" "${ROUNDS:-3}"
"$top/bench/rss.sh"
"$top/bench/release.sh" "${ROUNDS:-3}"
