#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Differential test of the TOML parser against python3's tomllib.
# Every *.toml and *.conf under $SRCDIR/tests/data goes through both
# $TOML2JSON and tomllib + json.dumps(sort_keys=True, ensure_ascii=False):
#   - tests/data/toml/bad-*.toml: tomllib rejects it and toml2json exits 65;
#   - tests/data/toml/unsupported-*.toml: valid TOML outside zeolite's
#     subset: tomllib accepts it, toml2json exits 65 saying "not supported";
#   - any other file: if tomllib accepts it, both print the same JSON; if
#     tomllib rejects it, toml2json must reject it too.

setup() {
	: "${TOML2JSON:?set TOML2JSON to the toml2json binary}"
	: "${SRCDIR:?set SRCDIR to the source tree}"
	PY=/usr/bin/python3
	[ -x "$PY" ] || PY=python3
	"$PY" -c 'import tomllib' 2>/dev/null || skip "python3 has no tomllib"
	DATA="$SRCDIR/tests/data"
}

# tomllib's JSON for $1 on stdout; fails if tomllib rejects the file.
py_json() {
	"$PY" -c 'import tomllib,json,sys; print(json.dumps(tomllib.load(open(sys.argv[1],"rb")), sort_keys=True, ensure_ascii=False))' "$1"
}

# Succeeds if tomllib accepts $1 (json.dumps cannot print dates, so this
# is separate from py_json).
py_ok() {
	"$PY" -c 'import tomllib,sys; tomllib.load(open(sys.argv[1],"rb"))' "$1"
}

data_files() {
	find "$DATA" -type f \( -name '*.toml' -o -name '*.conf' \) | LC_ALL=C sort
}

@test "toml-diff: there is test data" {
	[ "$(data_files | grep -c '/toml/bad-')" -ge 20 ]
	[ "$(data_files | grep -c '/toml/unsupported-')" -ge 5 ]
	[ "$(data_files | grep -vc -e '/toml/bad-' -e '/toml/unsupported-')" -ge 10 ]
}

@test "toml-diff: valid files give the same JSON as tomllib" {
	local f ours theirs rc failed=0 n=0
	while read -r f; do
		case "$f" in */toml/bad-*|*/toml/unsupported-*) continue ;; esac
		if ! py_ok "$f" 2>/dev/null; then
			# not TOML at all: we must refuse it too
			rc=0
			"$TOML2JSON" "$f" >/dev/null 2>&1 || rc=$?
			if [ "$rc" -ne 65 ]; then
				echo "# $f: tomllib rejects it but toml2json exited $rc"
				failed=1
			fi
			continue
		fi
		theirs=$(py_json "$f")
		rc=0
		ours=$("$TOML2JSON" "$f" 2>&1) || rc=$?
		n=$((n + 1))
		if [ "$rc" -ne 0 ] || [ "$ours" != "$theirs" ]; then
			echo "# $f (toml2json exit $rc)"
			echo "#   toml2json: $ours"
			echo "#   tomllib:   $theirs"
			failed=1
		fi
	done < <(data_files)
	echo "# compared $n files"
	[ "$n" -gt 0 ]
	[ "$failed" -eq 0 ]
}

@test "toml-diff: bad files are rejected by both, with FILE:LINE" {
	local f out rc failed=0
	while read -r f; do
		case "$f" in */toml/bad-*) ;; *) continue ;; esac
		if py_ok "$f" >/dev/null 2>&1; then
			echo "# $f: tomllib accepts it (not a bad file)"
			failed=1
		fi
		rc=0
		out=$("$TOML2JSON" "$f" 2>&1 >/dev/null) || rc=$?
		if [ "$rc" -ne 65 ]; then
			echo "# $f: toml2json exited $rc, not 65"
			failed=1
		elif ! [[ "$out" =~ ^"$f":[0-9]+:\ . ]]; then
			echo "# $f: message not in FILE:LINE: form: $out"
			failed=1
		fi
	done < <(data_files)
	[ "$failed" -eq 0 ]
}

@test "toml-diff: unsupported files are TOML that we refuse as not supported" {
	local f out rc failed=0
	while read -r f; do
		case "$f" in */toml/unsupported-*) ;; *) continue ;; esac
		if ! py_ok "$f" >/dev/null 2>&1; then
			echo "# $f: tomllib rejects it (should be a bad-* file)"
			failed=1
		fi
		rc=0
		out=$("$TOML2JSON" "$f" 2>&1 >/dev/null) || rc=$?
		if [ "$rc" -ne 65 ]; then
			echo "# $f: toml2json exited $rc, not 65"
			failed=1
		elif ! [[ "$out" =~ ^"$f":[0-9]+:\ .*not\ supported ]]; then
			echo "# $f: expected 'FILE:LINE: ... not supported', got: $out"
			failed=1
		fi
	done < <(data_files)
	[ "$failed" -eq 0 ]
}

@test "toml-diff: toml2json usage and missing file" {
	run "$TOML2JSON"
	[ "$status" -eq 64 ]
	run "$TOML2JSON" "$BATS_TEST_TMPDIR/nonexistent.toml"
	[ "$status" -ne 0 ]
	[ "$status" -ne 65 ]
}
