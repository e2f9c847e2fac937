#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# --json contracts: every object parses, has "version": 1 and exactly the
# keys docs/json.md lists (tests/tools/json-keys.py); failures print the
# error object on stdout.
load lib

SPECS="$BATS_TEST_DIRNAME/../data/specs"

keys() {
	python3 "$SRCDIR/tests/tools/json-keys.py" "$SRCDIR/docs/json.md" "$1"
}

@test "check --json: one object per file, invalid ones included, keys as documented" {
	run --separate-stderr "${Z[@]}" check --json "$SPECS/good-stage1.spec" "$SPECS/bad-livecd.spec" "$SPECS/bad-syntax.spec"
	[ "$status" -eq 65 ]
	[ "${#lines[@]}" -eq 3 ]
	printf '%s\n' "${lines[@]}" | keys check
	printf '%s\n' "${lines[@]}" | python3 -c '
import json, sys
o = [json.loads(l) for l in sys.stdin]
assert [x["ok"] for x in o] == [True, False, False], o
assert o[0]["file"].endswith("good-stage1.spec") and o[0]["spec"]["target"] == "stage1", o[0]
assert o[1]["file"].endswith("bad-livecd.spec") and o[1]["spec"] is None, o[1]
assert o[1]["errors"][0]["line"] == 3 and "livecd-stage1" in o[1]["errors"][0]["message"], o[1]'
}

@test "status --json, gc --json, prepare --json: keys as documented" {
	make_snapshot "$WORK/s.tar.gz" 5
	run --separate-stderr "${Z[@]}" --json prepare "$WORK/s.tar.gz"
	[ "$status" -eq 0 ]
	keys prepare <<< "$output"
	mkdir -p "$STORE/snapshots"
	cp "$WORK/s.tar.gz" "$STORE/snapshots/gentoo-x.tar.gz"
	mkfifo "$WORK/held" "$WORK/release"
	"${Z[@]}" prepare --hold "$WORK/s.tar.gz" -- sh -c 'echo x > "$1"; read x < "$2"' sh "$WORK/held" "$WORK/release" &
	echo $! >> "$WORK/pids"
	cat "$WORK/held" > /dev/null
	run --separate-stderr "${Z[@]}" status --json
	[ "$status" -eq 0 ]
	keys status <<< "$output"
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["cache"][0]["holders"] and d["snapshots"], d' <<< "$output"
	echo > "$WORK/release"
	wait
	run --separate-stderr "${Z[@]}" gc --json --keep 0
	[ "$status" -eq 0 ]
	keys gc <<< "$output"
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["entries"] == 1 and d["removed"][0]["source"] == "s.tar.gz", d' <<< "$output"
}

@test "snapshot --json: keys as documented" {
	mkdir -p "$WORK/repo/profiles" "$WORK/repo/cat/pkg"
	echo gentoo > "$WORK/repo/profiles/repo_name"
	echo 'EAPI=8' > "$WORK/repo/cat/pkg/pkg-1.ebuild"
	run --separate-stderr "${Z[@]}" snapshot --json --repo "$WORK/repo" --format tar.xz
	[ "$status" -eq 0 ] || { echo "$stderr"; false; }
	keys snapshot <<< "$output"
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["created"] and d["snapshot"].endswith(".tar.xz"), d' <<< "$output"
}

@test "a failure under --json prints the error object on stdout" {
	run --separate-stderr "${Z[@]}" --json status
	[ "$status" -eq 66 ]
	keys error <<< "$output"
	python3 -c '
import json,sys
d = json.load(sys.stdin)
assert d["ok"] is False and d["command"] == "status" and d["exit_status"] == 66 and "does not exist" in d["error"], d' <<< "$output"
	[[ "$stderr" == *"does not exist"* ]]
}

@test "the checker fails on an undocumented or a missing key" {
	run keys prepare <<< '{"version": 1, "snapshot": "x", "id": "i", "path": "p", "action": "reused", "waited_ms": 0, "recovered": false, "extra": 1}'
	[ "$status" -ne 0 ]
	[[ "$output" == *"undocumented ['extra']"* ]]
	run keys prepare <<< '{"version": 1, "snapshot": "x"}'
	[ "$status" -ne 0 ]
	[[ "$output" == *"missing"* ]]
}
