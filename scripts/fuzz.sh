#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run each libFuzzer target for SECONDS; print executions and crashes.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -u
build=$1 secs=${2:-600}
top=$(cd "$(dirname "$0")/.." && pwd)
status=0
for t in spec toml; do
	corpus="$top/fuzz/corpus-$t"
	mkdir -p "$corpus"
	case $t in
	spec) seeds="$top/tests/data/specs" ;;
	toml) seeds="$top/tests/data/toml $top/tests/data/conf" ;;
	esac
	log="$build/fuzz-$t.log"
	echo "fuzz-$t: ${secs}s"
	# shellcheck disable=SC2086
	"$build/fuzz/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$build/fuzz-$t-" "$corpus" $seeds > "$log" 2>&1
	rc=$?
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	crashes=$(ls "$build"/fuzz-$t-crash-* "$build"/fuzz-$t-leak-* "$build"/fuzz-$t-timeout-* 2>/dev/null | wc -l)
	echo "fuzz-$t: ${execs:-?} executions, $crashes crashes (exit $rc)"
	[ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] || status=1
done
exit $status
