#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The operator's day (issue 13): a log per run with its header, time-stamped
# steps and result; -v off a terminal; status of a running build; the
# summary after several builds; build --json.  Real builds from the
# busybox fixtures (tests/seed/make-fixtures.sh).
load lib

setup_file() {
	export FIX=$(mktemp -d /var/tmp/zeolite-operator.XXXXXX)
	"$SRCDIR/tests/seed/make-fixtures.sh" "$ZEOLITE" "$FIX/store" "$FIX" > "$FIX/fixtures.log" 2>&1
	export ZEOLITE_TARGETS_DIR="$SRCDIR/targets"
}

teardown_file() {
	rm -rf "$FIX"
}

setup() {
	WORK=$(mktemp -d /var/tmp/zeolite-bats.XXXXXX)
	Z=("$ZEOLITE" -c "$FIX/zeolite.conf")
	LOGS="$FIX/store/logs/23.0-default"
}

@test "each run has its own log: header, time-stamped steps with durations, result; -latest links the last" {
	run --separate-stderr "${Z[@]}" build "$FIX/stage3.spec"
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	first=$(readlink "$LOGS/stage3-amd64-openrc-fixture-latest.log")
	[[ "$first" =~ ^stage3-amd64-openrc-fixture-[0-9]{8}T[0-9]{6}Z(-[0-9]+)?\.log$ ]]
	log="$LOGS/$first"
	sum=$(sha256sum "$FIX/stage3.spec" | cut -d' ' -f1)
	grep -qx "# zeolite [0-9.]*" "$log"
	grep -q "^# command: .*zeolite -c $FIX/zeolite.conf build $FIX/stage3.spec$" "$log"
	grep -qx "# spec: $FIX/stage3.spec" "$log"
	grep -qx "# spec sha256: $sum" "$log"
	grep -qx "# target: stage3" "$log"
	grep -q "^# output: $FIX/store/builds/23.0-default/stage3-amd64-openrc-fixture.tar.xz$" "$log"
	grep -Eq "^[0-9-]{10}T[0-9:]{8}Z zeolite: seed .*\(id [0-9a-f]{32}\)|\(image \)" "$log"
	grep -Eq "^[0-9-]{10}T[0-9:]{8}Z zeolite: step '[a-z]+' started$" "$log"
	grep -Eq "^[0-9-]{10}T[0-9:]{8}Z zeolite: step '[a-z]+' done in [0-9]+\.[0-9] s$" "$log"
	tail -n 1 "$log" | grep -Eq "^[0-9-]{10}T[0-9:]{8}Z zeolite: result: built .*stage3-amd64-openrc-fixture.tar.xz in [0-9.]+ s$"
	# A second run: a second log, the link follows it, the first is kept.
	run --separate-stderr "${Z[@]}" build "$FIX/stage3.spec"
	[ "$status" -eq 0 ]
	second=$(readlink "$LOGS/stage3-amd64-openrc-fixture-latest.log")
	[ "$second" != "$first" ]
	[ -f "$LOGS/$first" ] && [ -f "$LOGS/$second" ]
	[ "$(grep -c 'zeolite: result: ' "$LOGS/$second")" -eq 1 ]
	# gc: log_retention_days; never the -latest target.
	touch -d '40 days ago' "$LOGS/$first" "$LOGS/$second"
	run "${Z[@]}" gc --dry-run
	[[ "$output" == *"logs/23.0-default/$first (build log, "*"would remove: older than log_retention_days"* ]]
	[[ "$output" != *"$second"* ]]
	run "${Z[@]}" gc
	[ ! -e "$LOGS/$first" ]
	[ -f "$LOGS/$second" ]
}

@test "-v off a terminal shows the scripts' output; without it only the log has it" {
	run --separate-stderr "${Z[@]}" build "$FIX/stage3.spec"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"zeolite-target:"* ]]
	run --separate-stderr "${Z[@]}" -v build "$FIX/stage3.spec"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"zeolite-target:"* ]]
	run --separate-stderr "${Z[@]}" -q -v build "$FIX/stage3.spec"
	[ "$status" -eq 64 ]
}

@test "after a build: its output, size, SHA-512 and step times" {
	run --separate-stderr "${Z[@]}" build "$FIX/stage3.spec"
	[ "$status" -eq 0 ]
	sum=$(sha512sum < "$output" | cut -d' ' -f1)
	[[ "$stderr" == *"build stage3-"*": $output, "*", SHA-512 $sum; steps: setup "*" s, build "*" s"* ]] ||
		{ echo "$stderr"; false; }
}

@test "progress on a terminal: the pack step's MiB in, MiB out and rate; none off a terminal" {
	script -q -e -c "$(printf '%q ' "${Z[@]}" build "$FIX/stage3.spec")" "$WORK/screen" > /dev/null
	grep -Eq $'\r\e\\[Kbuild stage3-[^ ]*: packing stage3-[^ ]*\\.tar\\.xz: [0-9]+ MiB in, [0-9]+ MiB out, [0-9]+ MiB/s' "$WORK/screen" ||
		{ cat -v "$WORK/screen" | tail -5; false; }
	run --separate-stderr "${Z[@]}" build "$FIX/stage3.spec"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"MiB out"* ]]
	[[ "$stderr" != *$'\r'* ]]
}

@test "a failed build: the log's result line names the step; build --json has the result" {
	sed -e 's/^version_stamp: .*/version_stamp: failing/' -e 's|^\tapp-editors/vim|\tfail/fail|' "$FIX/stage4.spec" > "$WORK/fail.spec"
	run --separate-stderr "${Z[@]}" --json build "$WORK/fail.spec" "$FIX/stage3.spec"
	[ "$status" -eq 1 ]
	printf '%s\n' "${lines[@]}" | python3 "$SRCDIR/tests/tools/json-keys.py" "$SRCDIR/docs/json.md" build
	log=$LOGS/$(readlink "$LOGS/stage4-amd64-failing-latest.log")
	tail -n 1 "$log" | grep -q "zeolite: result: failed after .* s: step 'build' failed"
	printf '%s\n' "${lines[@]}" | python3 -c '
import json, sys
objs = [json.loads(l) for l in sys.stdin]
b = {o["build"]: o for o in objs if "build" in o}
f = b["23.0-default/stage4-amd64-failing"]
assert f["version"] == 1 and f["result"] == "failed" and f["failed_step"] == "build" and f["log"].endswith(".log"), f
ok = b["23.0-default/stage3-amd64-openrc-fixture"]
assert ok["result"] == "built" and ok["output"].endswith("stage3-amd64-openrc-fixture.tar.xz") and ok["steps"], ok
err = [o for o in objs if o.get("ok") is False]
assert len(err) == 1 and err[0]["command"] == "build" and err[0]["exit_status"] == 1, objs'
	# Without --json: the summary table after more than one build.
	run --separate-stderr "${Z[@]}" build "$WORK/fail.spec" "$FIX/stage3.spec"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"BUILD"*"RESULT"*"DURATION"* ]]
	[[ "$stderr" == *"23.0-default/stage4-amd64-failing"*"failed"*"step 'build', $LOGS/stage4-amd64-failing-"* ]]
	[[ "$stderr" == *"23.0-default/stage3-amd64-openrc-fixture"*"built"*"stage3-amd64-openrc-fixture.tar.xz"* ]]
}

@test "status lists a running build with its step and log" {
	mkfifo "$WORK/notify"
	ZEOLITE_TEST_PAUSE_AT=build ZEOLITE_TEST_NOTIFY="$WORK/notify" "${Z[@]}" build "$FIX/stage3.spec" \
		> /dev/null 2>&1 &
	bpid=$!
	read -r _ pid < "$WORK/notify"
	run "${Z[@]}" status
	kill -9 "$bpid" 2>/dev/null || true
	wait "$bpid" 2>/dev/null || true
	[ "$status" -eq 0 ]
	[[ "$output" == *"23.0-default/stage3-amd64-openrc-fixture"*" build "*"$pid "*"$LOGS/stage3-amd64-openrc-fixture-"* ]]
	run "${Z[@]}" status
	[[ "$output" != *"23.0-default/stage3-amd64-openrc-fixture "* ]]
}

@test "did you mean: mistyped commands, long options and config keys" {
	run --separate-stderr "$ZEOLITE" biuld x.spec
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "zeolite: unknown command 'biuld' (did you mean 'build'?)" ]
	run --separate-stderr "$ZEOLITE" --stordir /x status
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "zeolite: unknown option '--stordir' (did you mean '--storedir'?)" ]
	run --separate-stderr "$ZEOLITE" -c "$FIX/zeolite.conf" gc --dry-rn
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "zeolite: gc: unknown option '--dry-rn' (did you mean '--dry-run'?)" ]
	printf 'lock_timout = 5\n' > "$WORK/typo.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/typo.conf" status
	[ "$status" -eq 78 ]
	[ "$stderr" = "zeolite: $WORK/typo.conf:1: unknown key 'lock_timout' (did you mean 'lock_timeout'?)" ]
	run --separate-stderr "$ZEOLITE" frobnicate
	[ "${stderr_lines[0]}" = "zeolite: unknown command 'frobnicate'" ]
}

# The mounts under this file's fixtures (other tests may mount elsewhere).
fix_mounts() {
	awk -v fix="$FIX/" 'index($5, fix) == 1 { print $5, $9, $10 }' /proc/self/mountinfo | sort
}

@test "--enter-chroot: a shell in the build's sandbox, snapshot read-only; nothing left after exit or kill -9" {
	fix_mounts > "$WORK/mounts.before"
	printf 'test -f /var/db/repos/gentoo/profiles/repo_name && echo REPO-OK\ntouch /var/db/repos/gentoo/x 2>/dev/null || echo RO-OK\necho $$ > /tmp/shell-pid; echo OVERLAY-OK\nexit 3\n' > "$WORK/in"
	run script -q -e -c "$(printf '%q ' "${Z[@]}" build --enter-chroot "$FIX/stage3.spec")" "$WORK/screen" < "$WORK/in"
	[ "$status" -eq 0 ] || { cat "$WORK/screen"; false; }
	grep -q REPO-OK "$WORK/screen"
	grep -q RO-OK "$WORK/screen"
	grep -q "left the sandbox (shell exit status 3)" "$WORK/screen"
	# The shell wrote in the overlay: the work directory has it.
	[ -f "$FIX/store/tmp/23.0-default/stage3-amd64-openrc-fixture/upper/tmp/shell-pid" ]
	[ "$(fix_mounts)" = "$(cat "$WORK/mounts.before")" ]
	# kill -9 of zeolite while the shell runs: the shell and the mounts go.
	# The shell holds alive.fifo (in the distdir, bound into the sandbox)
	# open for writing: its first line says it runs, and its EOF that
	# every process of the sandbox is gone.
	mkfifo "$WORK/go"
	rm -f "$FIX/distfiles/alive.fifo"; mkfifo "$FIX/distfiles/alive.fifo"
	( printf 'exec 3> /var/cache/distfiles/alive.fifo; echo STARTED >&3\n'; cat "$WORK/go"; printf 'exit\n' ) | \
		script -q -e -c "$(printf '%q ' "${Z[@]}" build --enter-chroot "$FIX/stage3.spec")" "$WORK/screen2" > /dev/null &
	spid=$!
	echo $spid >> "$WORK/pids"
	exec 4< "$FIX/distfiles/alive.fifo"
	read -r line <&4 || { cat "$WORK/screen2"; false; }
	[ "$line" = STARTED ]
	zpid=$(pgrep -f -n -- "build --enter-chroot $FIX/stage3.spec" -P "$(pgrep -P $spid | head -1)" || pgrep -f -n -- "zeolite .*build --enter-chroot $FIX/stage3.spec")
	kill -9 "$zpid"
	echo > "$WORK/go" || true
	wait $spid || true
	timeout 30 cat <&4 > /dev/null   # EOF: the sandbox's processes are gone
	exec 4<&-
	rm -f "$FIX/distfiles/alive.fifo"
	[ "$(fix_mounts)" = "$(cat "$WORK/mounts.before")" ]
	# No process is left chrooted in the work directory.
	[ -z "$(for p in /proc/[0-9]*; do readlink "$p/root" 2>/dev/null; done | grep -F "$FIX/" || true)" ]
}
