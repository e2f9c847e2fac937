#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# corpus.bats - every spec of gentoo/releng (copied under
# $SHARED_DATA/releng-specs/releases) through `zeolite check`: the 364
# stage1-stage4 specs are accepted silently, the 42 others (livecd,
# diskimage, netboot) are rejected with exit 65 and "not supported".
#
# The placeholders catalyst-auto substitutes before running catalyst are
# replaced with plausible values, as catalyst-auto does with sed.

bats_require_minimum_version 1.5.0

setup_file() {
	: "${ZEOLITE:?ZEOLITE must name the zeolite binary}"
	export CORPUS_SRC="${SHARED_DATA:-}/releng-specs/releases"
	export CORPUS_DIR
	CORPUS_DIR="$(mktemp -d "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/corpus.XXXXXX")"
	[ -d "$CORPUS_SRC" ] || return 0

	# An empty config file, so that the host's config plays no part.
	: >"$CORPUS_DIR/zeolite.toml"

	(cd "$CORPUS_SRC" && find . -name '*.spec' -type f) | sort >"$CORPUS_DIR/all.list"
	while IFS= read -r f; do
		mkdir -p "$CORPUS_DIR/specs/$(dirname "$f")"
		sed -e 's/@TIMESTAMP@/20250101T000000Z/g' \
		    -e 's/@TREEISH@/0123456789abcdef0123456789abcdef01234567/g' \
		    -e 's|@REPO_DIR@|/var/tmp/releng|g' \
		    -e 's/@DATESTAMP@/20250101/g' \
		    "$CORPUS_SRC/$f" >"$CORPUS_DIR/specs/$f"
	done <"$CORPUS_DIR/all.list"

	# Sort by the target the spec names.
	: >"$CORPUS_DIR/stages.list"
	: >"$CORPUS_DIR/others.list"
	while IFS= read -r f; do
		t="$(sed -n 's/^target:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$CORPUS_DIR/specs/$f")"
		case "$t" in
		stage1 | stage2 | stage3 | stage4) echo "$CORPUS_DIR/specs/$f" >>"$CORPUS_DIR/stages.list" ;;
		*) echo "$CORPUS_DIR/specs/$f $t" >>"$CORPUS_DIR/others.list" ;;
		esac
	done <"$CORPUS_DIR/all.list"
}

teardown_file() {
	[ -n "${CORPUS_DIR:-}" ] && rm -rf "$CORPUS_DIR"
}

setup() {
	[ -d "$CORPUS_SRC" ] || skip "no releng corpus under \$SHARED_DATA"
}

zeolite_check() {
	"$ZEOLITE" --config "$CORPUS_DIR/zeolite.toml" check "$@"
}

@test "corpus: 406 specs, 364 stage1-stage4 and 42 other targets" {
	[ "$(grep -c . "$CORPUS_DIR/all.list")" -eq 406 ]
	[ "$(grep -c . "$CORPUS_DIR/stages.list")" -eq 364 ]
	[ "$(grep -c . "$CORPUS_DIR/others.list")" -eq 42 ]
	# No placeholder is left behind.
	run grep -rl '@[A-Z_]*@' "$CORPUS_DIR/specs"
	[ "$status" -eq 1 ]
}

@test "corpus: every stage1-stage4 spec is accepted silently" {
	local -a files
	mapfile -t files <"$CORPUS_DIR/stages.list"
	[ "${#files[@]}" -eq 364 ]
	run --separate-stderr zeolite_check "${files[@]}"
	if [ "$status" -ne 0 ] || [ -n "$output" ] || [ -n "$stderr" ]; then
		echo "exit $status"
		echo "$output"
		echo "$stderr" | head -50
		false
	fi
}

@test "corpus: every other spec is rejected as not supported (exit 65)" {
	local f t n=0 bad=0
	while read -r f t; do
		run --separate-stderr zeolite_check "$f"
		n=$((n + 1))
		if [ "$status" -ne 65 ] ||
		   [ "$stderr" != "zeolite: $f:$(grep -n '^target:' "$f" | cut -d: -f1): target '$t' is not supported by zeolite (supported: stage1, stage2, stage3, stage4)" ]; then
			echo "$f: exit $status: $stderr"
			bad=$((bad + 1))
		fi
	done <"$CORPUS_DIR/others.list"
	[ "$n" -eq 42 ]
	[ "$bad" -eq 0 ]
}

@test "corpus: the other targets are livecd, diskimage and netboot" {
	run sh -c "cut -d' ' -f2 '$CORPUS_DIR/others.list' | sort | uniq -c | awk '{print \$2\"=\"\$1}' | tr '\n' ' '"
	[ "$output" = "diskimage-stage1=6 diskimage-stage2=6 livecd-stage1=12 livecd-stage2=15 netboot=3 " ]
}

@test "corpus: --json prints one object per accepted spec" {
	local -a files
	mapfile -t files < <(head -n 20 "$CORPUS_DIR/stages.list")
	run --separate-stderr zeolite_check --json "${files[@]}"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 20 ]
	for l in "${lines[@]}"; do
		[[ "$l" == '{"'*'}' ]]
	done
}

# A store laid out as catalyst-auto leaves it (tests/tools/catalyst-store.py):
# dated seeds, "-latest" symlinks, snapshots named by treeish, @REPO_DIR@ the
# corpus itself (its releases/portage holds releng's portage_confdir trees).
@test "corpus: build --dry-run resolves all 364 stage specs in a catalyst-auto store" {
	local out="$CORPUS_DIR/catalyst"
	python3 "$SRCDIR/tests/tools/catalyst-store.py" "$CORPUS_SRC" "$out" "$SHARED_DATA/releng-specs"
	mapfile -t files <"$out/stages.list"
	[ "${#files[@]}" -eq 364 ]
	[ -L "$out/store/builds/23.0-default/stage3-amd64-openrc-latest.tar.xz" ]
	run --separate-stderr env ZEOLITE_TARGETS_DIR="$SRCDIR/targets" \
		"$ZEOLITE" --config "$CORPUS_DIR/zeolite.toml" --storedir "$out/store" build --dry-run --json "${files[@]}"
	[ -z "$stderr" ] || { printf '%s\n' "$stderr" | head -20; false; }
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 364 ]
	printf '%s\n' "${lines[@]}" | python3 -c '
import json, os, sys
n = 0
for l in sys.stdin:
    p = json.loads(l)
    assert os.path.isfile(p["seed"]["target"]), p["seed"]
    assert p["snapshot"]["name"] == "gentoo-5bbf8fb.sqfs", p["snapshot"]
    c = p["portage_confdir"]
    assert c is None or os.path.isdir(c), c
    n += 1
assert n == 364
'
}

@test "corpus: build --dry-run refuses the 42 other specs as unsupported" {
	local out="$CORPUS_DIR/catalyst"
	[ -f "$out/others.list" ] || python3 "$SRCDIR/tests/tools/catalyst-store.py" "$CORPUS_SRC" "$out" "$SHARED_DATA/releng-specs"
	mapfile -t files <"$out/others.list"
	[ "${#files[@]}" -eq 42 ]
	run --separate-stderr "$ZEOLITE" --config "$CORPUS_DIR/zeolite.toml" --storedir "$out/store" build --dry-run "${files[@]}"
	[ "$status" -eq 65 ]
	[ -z "$output" ]
	[ "$(grep -c 'is not supported by zeolite' <<<"$stderr")" -eq 42 ]
}
