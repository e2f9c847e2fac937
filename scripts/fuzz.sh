#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run the libFuzzer targets side by side for SECONDS each, seeded from
# tests/data; print executions and crashes of each.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -u
build=$1 secs=${2:-600}
top=$(cd "$(dirname "$0")/.." && pwd)

run_one() {
	t=$1
	corpus="$build/corpus-$t"
	mkdir -p "$corpus"
	case $t in
	spec) seeds="$top/tests/data/specs" ;;
	toml) seeds="$top/tests/data/toml $top/tests/data/conf" ;;
	esac
	# shellcheck disable=SC2086
	"$build/fuzz/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$build/fuzz-$t-" "$corpus" $seeds > "$build/fuzz-$t.log" 2>&1
	echo $? > "$build/fuzz-$t.rc"
}

echo "fuzzing spec and toml for ${secs}s each, side by side"
run_one spec & run_one toml &
wait
status=0
for t in spec toml; do
	rc=$(cat "$build/fuzz-$t.rc")
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz-$t.log" | grep -o '[0-9]*$')
	crashes=$(find "$build" -maxdepth 1 -name "fuzz-$t-crash-*" -o -maxdepth 1 -name "fuzz-$t-leak-*" \
		-o -maxdepth 1 -name "fuzz-$t-timeout-*" | wc -l)
	echo "fuzz-$t: ${execs:-?} executions, $crashes crashes (exit $rc)"
	[ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ] || status=1
done
exit $status
