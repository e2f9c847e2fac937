#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# zeolite build -j N: the specs of one command line as a graph (a spec
# whose source_subpath is another's output waits for it), at most N at a
# time, failures skipping their dependents only, refusals before anything
# runs, the summary table.  Real builds from the busybox fixtures.
load lib

setup_file() {
	export FIX=$(mktemp -d /var/tmp/zeolite-graph.XXXXXX)
	"$SRCDIR/tests/seed/make-fixtures.sh" "$ZEOLITE" "$FIX/store" "$FIX" > "$FIX/fixtures.log" 2>&1
	export ZEOLITE_TARGETS_DIR="$SRCDIR/targets"
	printf '#!/bin/sh\necho "failing on purpose" >&2\nexit 3\n' > "$FIX/fail.sh"
	chmod 0755 "$FIX/fail.sh"
}

teardown_file() {
	rm -rf "$FIX"
}

setup() {
	WORK=$(mktemp -d /var/tmp/zeolite-bats.XXXXXX)
	Z=("$ZEOLITE" -c "$FIX/zeolite.conf")
	OUT="$FIX/store/builds/23.0-default"
	# Each test its own version stamps: outputs never collide.
	T=t$BATS_TEST_NUMBER
}

teardown() {
	rm -rf "$WORK"
}

# spec FILE TARGET STAMP SOURCE [FSSCRIPT]: a spec of the fixtures' shape.
spec() {
	local file=$1 target=$2 stamp=$3 src=$4 fs=${5:-}
	{
		echo "target: $target"
		echo "version_stamp: $stamp"
		echo "source_subpath: $src"
		grep -E '^(subarch|rel_type|profile|snapshot_treeish|compression_mode):' "$FIX/stage3.spec"
		[ "$target" != stage1 ] || echo "update_seed: no"
		if [ "$target" = stage4 ]; then
			echo "stage4/packages: app-editors/vim"
			[ -z "$fs" ] || echo "stage4/fsscript: $fs"
		fi
	} > "$WORK/$file"
}

SEED=23.0-default/stage3-amd64-openrc-latest

# The line number of the first stderr line matching PATTERN (grep -E).
line_of() {
	grep -n -E -m1 -- "$1" "$WORK/err" | cut -d: -f1
}

@test "a chain runs in order, the independent build beside it; the table lists each" {
	spec s3.spec stage3 $T-a $SEED
	spec s4.spec stage4 $T-b 23.0-default/stage3-amd64-$T-a
	spec s4b.spec stage4 $T-c 23.0-default/stage4-amd64-$T-b
	spec s1.spec stage1 $T-d $SEED
	# Listed with the last of the chain first: the order comes from the graph.
	run --separate-stderr "${Z[@]}" build -j 2 "$WORK/s4b.spec" "$WORK/s4.spec" "$WORK/s3.spec" "$WORK/s1.spec"
	printf '%s\n' "$stderr" > "$WORK/err"
	[ "$status" -eq 0 ]
	for b in stage3-amd64-$T-a stage4-amd64-$T-b stage4-amd64-$T-c stage1-amd64-$T-d; do
		[ -f "$OUT/$b.tar.xz" ]
		[[ "$output" == *"$b  "*"done"*" s  $OUT/$b.tar.xz"* ]]
	done
	[ "$(echo "$output" | head -1 | tr -s ' ')" = "BUILD RESULT DURATION OUTPUT, OR WHAT FAILED" ]
	# Each starts only after its seed's build is done.
	[ "$(line_of "build stage3-amd64-$T-a: done$")" -lt "$(line_of "build stage4-amd64-$T-b: started")" ]
	[ "$(line_of "build stage4-amd64-$T-b: done$")" -lt "$(line_of "build stage4-amd64-$T-c: started")" ]
	# The two without a dependency start together.
	[ "$(line_of "build stage1-amd64-$T-d: started")" -lt "$(line_of "build stage3-amd64-$T-a: done$")" ]
	# Every line of a build carries its name.
	grep -q "^\[stage4-amd64-$T-b\] zeolite: build stage4-amd64-$T-b: step 'build'$" "$WORK/err"
	grep -q "^\[stage4-amd64-$T-b\] $OUT/stage4-amd64-$T-b.tar.xz$" "$WORK/err"
}

@test "-j N: never more than N builds at once" {
	for i in 1 2 3; do spec s$i.spec stage1 $T-$i $SEED; done
	run --separate-stderr "${Z[@]}" build -j 1 "$WORK/s1.spec" "$WORK/s2.spec" "$WORK/s3.spec"
	[ "$status" -eq 0 ]
	# One at a time: each start is followed by its own end before the next start.
	printf '%s\n' "$stderr" | grep -E '^zeolite: build [^ ]+: (started|done$|failed)' |
		sed -E 's/^zeolite: build ([^ ]+): (started|done|failed).*/\2 \1/' > "$WORK/events"
	[ "$(wc -l < "$WORK/events")" -eq 6 ]
	awk '$1 == "started" { if (cur != "") exit 1; cur = $2 } $1 == "done" { if (cur != $2) exit 1; cur = "" }' \
		"$WORK/events"
	[[ "$stderr" == *"started (pid "*", 1 of at most 1 running)"* ]]
	[[ "$stderr" != *"2 of at most"* ]]
}

@test "a failure skips its dependents with the reason, never the independent builds; exit non-zero" {
	spec s3.spec stage3 $T-a $SEED
	spec bad.spec stage4 $T-bad 23.0-default/stage3-amd64-$T-a "$FIX/fail.sh"
	spec dep.spec stage4 $T-dep 23.0-default/stage4-amd64-$T-bad
	spec dep2.spec stage4 $T-dep2 23.0-default/stage4-amd64-$T-dep
	spec s1.spec stage1 $T-ind $SEED
	run --separate-stderr "${Z[@]}" build -j 2 "$WORK/s3.spec" "$WORK/bad.spec" "$WORK/dep.spec" "$WORK/dep2.spec" \
		"$WORK/s1.spec"
	[ "$status" -eq 1 ]
	# This run's log (zeolite(1) LOGS), a regular expression.
	log="$FIX/store/logs/23.0-default/stage4-amd64-$T-bad-[0-9]{8}T[0-9]{6}Z(-[0-9]+)?\.log"
	echo "$output" | grep -E "^stage4-amd64-$T-bad +failed +[0-9.]+ s  step 'build' failed: exit status [0-9]+ \(log: $log\)$" || { echo "$output"; false; }
	echo "$output" | grep -E "^stage4-amd64-$T-dep +skipped +-  its seed's build stage4-amd64-$T-bad failed$"
	echo "$output" | grep -E "^stage4-amd64-$T-dep2 +skipped +-  its seed's build stage4-amd64-$T-dep was skipped$"
	echo "$output" | grep -E "^stage1-amd64-$T-ind +done "
	echo "$output" | grep -E "^stage3-amd64-$T-a +done "
	grep -q "failing on purpose" "$FIX/store/logs/23.0-default/stage4-amd64-$T-bad-latest.log"
	# The skipped ones never started.
	[[ "$stderr" != *"build stage4-amd64-$T-dep: started"* ]]
	[[ "$stderr" != *"[stage4-amd64-$T-dep]"* ]]
	[ ! -e "$OUT/stage4-amd64-$T-bad.tar.xz" ]
	[ ! -e "$OUT/stage4-amd64-$T-dep.tar.xz" ]
	[ -f "$OUT/stage1-amd64-$T-ind.tar.xz" ]
}

@test "--fail-fast: nothing starts after the first failure" {
	spec bad.spec stage4 $T-bad $SEED "$FIX/fail.sh"
	spec s1.spec stage1 $T-later $SEED
	run --separate-stderr "${Z[@]}" build -j 1 --fail-fast "$WORK/bad.spec" "$WORK/s1.spec"
	[ "$status" -eq 1 ]
	echo "$output" | grep -E "^stage4-amd64-$T-bad +failed "
	echo "$output" | grep -E "^stage1-amd64-$T-later +skipped +-  --fail-fast: stage4-amd64-$T-bad failed$"
	[ ! -e "$OUT/stage1-amd64-$T-later.tar.xz" ]
	# --keep-going (the default) builds it.
	run --separate-stderr "${Z[@]}" build -j 1 --fail-fast --keep-going "$WORK/bad.spec" "$WORK/s1.spec"
	[ "$status" -eq 1 ]
	[ -f "$OUT/stage1-amd64-$T-later.tar.xz" ]
}

@test "a cycle is exit 65 before anything runs" {
	spec a.spec stage3 $T-a 23.0-default/stage3-amd64-$T-b
	spec b.spec stage3 $T-b 23.0-default/stage3-amd64-$T-a
	spec ok.spec stage1 $T-ok $SEED
	run --separate-stderr "${Z[@]}" build -j 2 "$WORK/ok.spec" "$WORK/a.spec" "$WORK/b.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"zeolite: build: $WORK/a.spec:3: a cycle: stage3-amd64-$T-a <- stage3-amd64-$T-b <- stage3-amd64-$T-a"* ]]
	[[ "$stderr" == *"nothing was done"* ]]
	[[ "$stderr" != *"started"* ]]
	[ -z "$output" ]
	[ ! -e "$OUT/stage1-amd64-$T-ok.tar.xz" ]
	[ ! -e "$FIX/store/tmp/23.0-default/stage1-amd64-$T-ok" ]
}

@test "two specs writing the same output are exit 65 before anything runs" {
	spec a.spec stage1 $T-same $SEED
	cp "$WORK/a.spec" "$WORK/b.spec"
	run --separate-stderr "${Z[@]}" build -j 2 "$WORK/a.spec" "$WORK/b.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"zeolite: build: $WORK/b.spec: writes builds/23.0-default/stage1-amd64-$T-same.tar.xz, as $WORK/a.spec does"* ]]
	[[ "$stderr" != *"started"* ]]
	[ ! -e "$OUT/stage1-amd64-$T-same.tar.xz" ]
	# Same build name, other compression: the same work directory, refused too.
	sed 's/^compression_mode:.*/compression_mode: zstd/' "$WORK/a.spec" > "$WORK/c.spec"
	run --separate-stderr "${Z[@]}" build -j 2 "$WORK/a.spec" "$WORK/c.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"$WORK/c.spec: is build stage1-amd64-$T-same, as $WORK/a.spec is"* ]]
}

@test "a seed neither in the store nor made by the set is exit 65 before anything runs" {
	spec ok.spec stage1 $T-ok $SEED
	spec lost.spec stage4 $T-lost 23.0-default/stage3-amd64-nowhere
	run --separate-stderr "${Z[@]}" build -j 2 "$WORK/ok.spec" "$WORK/lost.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"$WORK/lost.spec:3: "*"stage3-amd64-nowhere"* ]]
	[[ "$stderr" != *"started"* ]]
	[ ! -e "$OUT/stage1-amd64-$T-ok.tar.xz" ]
}

@test "-j --dry-run prints each plan in the graph's order, builds nothing" {
	spec s3.spec stage3 $T-a $SEED
	spec s4.spec stage4 $T-b 23.0-default/stage3-amd64-$T-a
	run --separate-stderr "${Z[@]}" build -j 2 --dry-run "$WORK/s4.spec" "$WORK/s3.spec"
	[ "$status" -eq 0 ]
	[[ "$output" == *"# after stage3-amd64-$T-a (the build that makes its seed)"* ]]
	[[ "$output" == *"seed        $OUT/stage3-amd64-$T-a"* ]]
	[ "$(echo "$output" | grep -n "output      $OUT/stage3-amd64-$T-a.tar.xz" | cut -d: -f1)" -lt \
	  "$(echo "$output" | grep -n "output      $OUT/stage4-amd64-$T-b.tar.xz" | cut -d: -f1)" ]
	[ ! -e "$OUT/stage3-amd64-$T-a.tar.xz" ]
}

@test "bad -j arguments are usage errors" {
	spec s1.spec stage1 $T-x $SEED
	for a in 0 x -1 1025; do
		run --separate-stderr "${Z[@]}" build -j "$a" "$WORK/s1.spec"
		[ "$status" -eq 64 ]
		[[ "$stderr" == *"-j: '$a' is not a number of builds (1-1024)"* ]]
	done
	run --separate-stderr "${Z[@]}" build --fail-fast "$WORK/s1.spec"
	[ "$status" -eq 64 ]
	[[ "$stderr" == *"--fail-fast needs -j N"* ]]
}

@test "plan: the graph in order, as text and JSON; nothing built" {
	spec s4.spec stage4 $T-b 23.0-default/stage3-amd64-$T-a
	spec s3.spec stage3 $T-a $SEED
	run --separate-stderr "${Z[@]}" plan "$WORK/s4.spec" "$WORK/s3.spec"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -v '^ ' | tr '\n' ' ')" = "stage3-amd64-$T-a stage4-amd64-$T-b " ]
	[[ "$output" == *"seed    builds/23.0-default/stage3-amd64-$T-a (made by stage3-amd64-$T-a)"* ]]
	run --separate-stderr "${Z[@]}" plan --json "$WORK/s4.spec" "$WORK/s3.spec"
	[ "$status" -eq 0 ]
	echo "$output" | python3 -c '
import json, sys
g = json.load(sys.stdin)["builds"]
t = sys.argv[1]; out = sys.argv[2]
assert [b["name"] for b in g] == ["stage3-amd64-%s-a" % t, "stage4-amd64-%s-b" % t], g
assert g[0]["after"] == [] and g[1]["after"] == ["stage3-amd64-%s-a" % t], g
assert g[1]["output"] == out + "/stage4-amd64-%s-b.tar.xz" % t, g
assert g[1]["source_subpath"] == "23.0-default/stage3-amd64-%s-a" % t, g
' "$T" "$OUT"
	[ ! -e "$OUT/stage3-amd64-$T-a.tar.xz" ]
	# The same refusals as build -j.
	spec c.spec stage3 $T-c 23.0-default/stage3-amd64-$T-c
	run --separate-stderr "${Z[@]}" plan --format make "$WORK/c.spec"
	[ "$status" -eq 65 ]
	[ -z "$output" ]
	[[ "$stderr" == *"zeolite: plan: $WORK/c.spec:3: a cycle: stage3-amd64-$T-c <- stage3-amd64-$T-c"* ]]
	run --separate-stderr "${Z[@]}" plan --format yaml "$WORK/s3.spec"
	[ "$status" -eq 64 ]
}

@test "plan --format make: make -j runs the builds in the graph's order" {
	spec s4.spec stage4 $T-b 23.0-default/stage3-amd64-$T-a
	spec s3.spec stage3 $T-a $SEED
	spec s1.spec stage1 $T-c $SEED
	"${Z[@]}" plan --format make "$WORK/s4.spec" "$WORK/s3.spec" "$WORK/s1.spec" > "$WORK/Makefile"
	grep -qx "stage4-amd64-$T-b: stage3-amd64-$T-a" "$WORK/Makefile"
	grep -qx "stage3-amd64-$T-a:" "$WORK/Makefile"
	run make -j 2 -C "$WORK" -f Makefile all
	[ "$status" -eq 0 ]
	for b in stage3-amd64-$T-a stage4-amd64-$T-b stage1-amd64-$T-c; do [ -f "$OUT/$b.tar.xz" ]; done
	[[ "$output" == *"zeolite: build stage4-amd64-$T-b: seed 23.0-default/stage3-amd64-$T-a.tar.xz"* ]]
}

@test "plan --format slurm: one sbatch per build, afterok on the seed's job, dependents cancelled on failure" {
	spec s4.spec stage4 $T-b 23.0-default/stage3-amd64-$T-a
	spec s3.spec stage3 $T-a $SEED
	spec s1.spec stage1 $T-c $SEED
	"${Z[@]}" plan --format slurm "$WORK/s4.spec" "$WORK/s3.spec" "$WORK/s1.spec" > "$WORK/submit.sh"
	sh -n "$WORK/submit.sh"
	# A stand-in sbatch: records its options and job script, prints an id.
	cat > "$WORK/sbatch" <<'SH'
#!/bin/sh
n=$(($(cat "$SB/n" 2>/dev/null || echo 100) + 1))
echo $n > "$SB/n"
echo "$*" > "$SB/args.$n"
cat > "$SB/script.$n"
echo "$n;cluster"
SH
	chmod +x "$WORK/sbatch"
	SB=$WORK SBATCH=$WORK/sbatch run sh "$WORK/submit.sh"
	[ "$status" -eq 0 ]
	[ "$output" = "stage3-amd64-$T-a 101
stage1-amd64-$T-c 102
stage4-amd64-$T-b 103" ]
	[ "$(cat "$WORK/args.101")" = "--parsable --job-name=stage3-amd64-$T-a" ]
	[ "$(cat "$WORK/args.103")" = "--parsable --job-name=stage4-amd64-$T-b --dependency=afterok:101 --kill-on-invalid-dep=yes" ]
	grep -qx "exec \"\$z\" -c '$FIX/zeolite.conf' build '$WORK/s4.spec'" "$WORK/script.103"
	# The job script runs the build (ZEOLITE from the environment).
	ZEOLITE=$ZEOLITE run sh "$WORK/script.102"
	[ "$status" -eq 0 ]
	[ -f "$OUT/stage1-amd64-$T-c.tar.xz" ]
}

@test "zeolite killed: its builds go with it" {
	spec s4.spec stage4 $T-a $SEED "$FIX/fsscript.sh"
	mkfifo "$FIX/distfiles/block.fifo" "$FIX/distfiles/alive.fifo"
	"${Z[@]}" build -j 1 "$WORK/s4.spec" > "$WORK/out" 2> "$WORK/err" &
	zpid=$!
	# The fsscript (in the build's sandbox) holds alive.fifo open until it dies.
	exec 8< "$FIX/distfiles/alive.fifo"
	read -r inner <&8
	[ -n "$inner" ]
	kill -9 "$zpid"
	wait "$zpid" || true
	# EOF: every process of the build has gone.
	run timeout 60 cat <&8
	exec 8<&-
	# A build that survived (the bug) is let go, not left blocked.
	timeout 5 sh -c "echo > '$FIX/distfiles/block.fifo'" || true
	rm -f "$FIX/distfiles/block.fifo" "$FIX/distfiles/alive.fifo"
	[ "$status" -eq 0 ]
	pid=$(sed -n "s/^zeolite: build stage4-amd64-$T-a: started (pid \([0-9]*\),.*/\1/p" "$WORK/err")
	[ -n "$pid" ]
	# Gone, or a zombie waiting for its new parent to reap it.
	[ ! -e "/proc/$pid" ] || grep -q '^State:[[:space:]]*Z' "/proc/$pid/status"
}

@test "-j --json: the summary as one JSON document" {
	spec s3.spec stage3 $T-a $SEED
	spec bad.spec stage4 $T-bad 23.0-default/stage3-amd64-$T-a "$FIX/fail.sh"
	spec dep.spec stage4 $T-dep 23.0-default/stage4-amd64-$T-bad
	run --separate-stderr "${Z[@]}" build -j 2 --json "$WORK/s3.spec" "$WORK/bad.spec" "$WORK/dep.spec"
	[ "$status" -eq 1 ]
	echo "$output" | python3 -c '
import json, sys
t, out, logs = sys.argv[1:4]
b = {x["name"]: x for x in json.load(sys.stdin)["builds"]}
a = b["stage3-amd64-%s-a" % t]
assert a["result"] == "done" and a["output"] == out + "/stage3-amd64-%s-a.tar.xz" % t and a["duration_s"] >= 0, a
bad = b["stage4-amd64-%s-bad" % t]
assert bad["result"] == "failed" and "step '"'"'build'"'"' failed" in bad["reason"], bad
assert bad["log"] == logs + "/stage4-amd64-%s-bad-latest.log" % t, bad
dep = b["stage4-amd64-%s-dep" % t]
assert dep["result"] == "skipped" and "duration_s" not in dep, dep
assert dep["reason"] == "its seed'"'"'s build stage4-amd64-%s-bad failed" % t, dep
' "$T" "$OUT" "$FIX/store/logs/23.0-default"
	# -n: one plan object per line, in the graph's order.
	run --separate-stderr "${Z[@]}" build -j 2 -n --json "$WORK/bad.spec" "$WORK/s3.spec"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | wc -l)" -eq 2 ]
	echo "$output" | head -1 | python3 -c 'import json, sys; assert json.load(sys.stdin)["name"].startswith("stage3-")'
}

@test "plan --format make: a failed build's dependents never run under make -k, the others do" {
	spec bad.spec stage4 $T-bad $SEED "$FIX/fail.sh"
	spec dep.spec stage4 $T-dep 23.0-default/stage4-amd64-$T-bad
	spec s1.spec stage1 $T-ind $SEED
	"${Z[@]}" plan --format make "$WORK/bad.spec" "$WORK/dep.spec" "$WORK/s1.spec" > "$WORK/Makefile"
	run make -k -j 2 -C "$WORK" -f Makefile all
	[ "$status" -ne 0 ]
	[ -f "$OUT/stage1-amd64-$T-ind.tar.xz" ]
	[ ! -e "$OUT/stage4-amd64-$T-dep.tar.xz" ]
	[[ "$output" != *"build stage4-amd64-$T-dep:"* ]]
}
