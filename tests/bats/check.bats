#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# zeolite check: silent and 0 when valid, FILE:LINE problems and 65 else.
load lib

SPECS="$BATS_TEST_DIRNAME/../data/specs"

@test "valid specs: silent, exit 0" {
	run --separate-stderr "${Z[@]}" check "$SPECS/good-stage1.spec" "$SPECS/good-stage4.spec" "$SPECS/good-catalyst3.spec"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	# catalyst 4.1's own catalyst.conf options line checks (with two warnings).
	printf 'options = ["autoresume", "bindist", "kerncache", "pkgcache", "seedcache"]\n' > "$WORK/catalyst.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/catalyst.conf" --storedir "$STORE" check "$SPECS/good-stage1.spec"
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 2 ]
}

@test "an empty value is a warning; the spec is still valid" {
	run --separate-stderr "${Z[@]}" check "$SPECS/warn-stage3.spec"
	[ "$status" -eq 0 ]
	[ "$stderr" = "zeolite: warning: $SPECS/warn-stage3.spec:11: key 'chost' has an empty value; ignored" ]
}

@test "every problem is reported as FILE:LINE, exit 65" {
	run --separate-stderr "${Z[@]}" check "$SPECS/bad-values.spec"
	[ "$status" -eq 65 ]
	[ "${#stderr_lines[@]}" -eq 6 ]
	for l in "${stderr_lines[@]}"; do
		[[ "$l" =~ ^zeolite:\ .*/bad-values\.spec:[0-9]+:\  ]]
	done
	[[ "$stderr" == *"bad-values.spec:8: lock_timeout must be a non-negative integer (seconds), not '-5'"* ]]
	[[ "$stderr" == *"bad-values.spec:10: unknown key 'frobnicate' for target stage3"* ]]
	[[ "$stderr" == *"bad-values.spec:2: missing required key 'profile'"* ]]
	[[ "$stderr" == *"bad-values.spec:7: unknown compression_mode 'rar'"* ]]
}

@test "syntax errors: duplicate keys name both lines" {
	run --separate-stderr "${Z[@]}" check "$SPECS/bad-syntax.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"bad-syntax.spec:4: duplicate key 'subarch' (first set at line 2)"* ]]
	[[ "$stderr" == *"bad-syntax.spec:3: expected 'key: value'"* ]]
}

@test "unsupported targets are named as such" {
	run --separate-stderr "${Z[@]}" check "$SPECS/bad-livecd.spec"
	[ "$status" -eq 65 ]
	[ "$stderr" = "zeolite: $SPECS/bad-livecd.spec:3: target 'livecd-stage1' is not supported by zeolite (supported: stage1, stage2, stage3, stage4)" ]
}

@test "a binary file is refused, not misread" {
	run --separate-stderr "${Z[@]}" check "$SPECS/bad-nul.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"bad-nul.spec:2: NUL byte"* ]]
}

@test "a missing spec file: exit 65 naming it" {
	run --separate-stderr "${Z[@]}" check "$WORK/none.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == "zeolite: $WORK/none.spec: "* ]]
}

@test "one bad spec among good ones: 65, only the bad one reported" {
	run --separate-stderr "${Z[@]}" check "$SPECS/good-stage1.spec" "$SPECS/bad-livecd.spec" "$SPECS/good-stage4.spec"
	[ "$status" -eq 65 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
}

@test "--json prints each spec as an object: strings and lists" {
	run --separate-stderr "${Z[@]}" check --json "$SPECS/good-stage4.spec" "$SPECS/good-stage1.spec"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	python3 - "${lines[0]}" "$SPECS/good-stage4.spec" <<'PY'
import json, sys
o = json.loads(sys.argv[1])
assert o["version"] == 1 and o["file"] == sys.argv[2] and o["ok"] is True and o["errors"] == [], o
d = o["spec"]
assert d["target"] == "stage4", d
assert d["stage4/packages"] == ["sys-libs/glibc:2.2", "media-libs/mesa", "sys-auth/pambase"], d
assert d["stage4/rcadd"] == ["sshd|default", "net.eth0|boot"], d
assert d["stage4/rm"] == ["/root/.bash_history", "/var/log/*.log"], d
PY
	# The global --json works too.
	run "${Z[@]}" --json check "$SPECS/good-stage1.spec"
	[ "$status" -eq 0 ]
	python3 -c 'import json,sys; json.loads(sys.argv[1])' "$output"
}

@test "keys zeolite does not honour are refused with a reason; a misspelt key gets a hint" {
	cat > "$WORK/refused.spec" <<-'EOF'
	subarch: amd64
	target: stage4
	version_stamp: x
	rel_type: r
	profile: default/linux/amd64/23.0
	snapshot_treeish: abc
	source_subpath: r/seed
	stage4/packages: app-misc/foo
	asflags: -O2
	cbuild: x86_64-pc-linux-gnu
	hostuse: foo
	install_mask: /usr/share/doc
	kerncache_path: /var/tmp/kc
	boot/kernel: gentoo
	boot/kernel/gentoo/sources: gentoo-kernel
	stage4/linuxrc: /x
	stage4/gk_mainargs: --lvm
	stage4/ssh_public_keys: root=/k.pub
	stage4/pacakges: app-misc/bar
	EOF
	run --separate-stderr "${Z[@]}" check "$WORK/refused.spec"
	[ "$status" -eq 65 ]
	[ "${#stderr_lines[@]}" -eq 10 ]
	local k l=9
	for k in asflags cbuild hostuse install_mask kerncache_path boot/kernel; do
		[[ "$stderr" == *"refused.spec:$l: key '$k' is not supported by zeolite: "* ]]
		l=$((l + 1))
		[ "$k" != boot/kernel ] || l=$((l + 1))
	done
	for k in stage4/linuxrc stage4/gk_mainargs stage4/ssh_public_keys; do
		[[ "$stderr" == *"refused.spec:$l: key '$k' is not supported by zeolite: "* ]]
		l=$((l + 1))
	done
	[[ "$stderr" == *"refused.spec:19: unknown key 'stage4/pacakges' for target stage4 (did you mean 'stage4/packages'?)"* ]]
}

@test "options zeolite does not honour, and unknown ones, are refused naming the config line" {
	printf 'jobs = 2
options = ["pkgcache", "distcc", "icecream", "kerncache", "seedcache", "pkgcahce", "frobnicate"]
' > "$WORK/opts.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/opts.conf" --storedir "$STORE" check "$SPECS/good-stage1.spec"
	[ "$status" -eq 65 ]
	[ "${#stderr_lines[@]}" -eq 6 ]
	local o
	for o in distcc icecream; do
		[[ "$stderr" == *"zeolite: $WORK/opts.conf:2: option '$o' is not supported by zeolite: "* ]]
	done
	# catalyst's default catalyst.conf sets these two: accepted, and said
	# to have no effect (as in catalyst for the targets zeolite builds).
	for o in kerncache seedcache; do
		[[ "$stderr" == *"$WORK/opts.conf:2: option '$o' has no effect: "* ]]
	done
	[[ "$stderr" == *"$WORK/opts.conf:2: unknown option 'pkgcahce' (did you mean 'pkgcache'?)"* ]]
	[[ "$stderr" == *"$WORK/opts.conf:2: unknown option 'frobnicate'"* ]]
	# the options catalyst has and zeolite honours pass
	printf 'options = ["autoresume", "bindist", "clear-autoresume", "fetch", "keepwork", "pkgcache", "purge", "sticky-config", "versioned_cache"]
' > "$WORK/ok.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/ok.conf" --storedir "$STORE" check "$SPECS/good-stage1.spec"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
}

@test "check does not touch the store" {
	run "${Z[@]}" check "$SPECS/good-stage1.spec"
	[ "$status" -eq 0 ]
	[ ! -e "$STORE" ]
}

@test "%(key)s in a value is the value of a key set earlier, as catalyst expands it; %% is '%'" {
	mkdir -p "$STORE/builds/r" "$STORE/snapshots"
	: > "$STORE/builds/r/stage3-amd64-latest.tar.xz"
	: > "$STORE/snapshots/gentoo-abc.sqfs"
	printf '%s\n' 'subarch: amd64' 'target: stage3' 'version_stamp: openrc-%(subarch)s' 'rel_type: r' \
		'profile: default/linux/%(subarch)s/23.0' 'snapshot_treeish: abc' \
		'source_subpath: r/stage3-%(subarch)s-latest' 'cflags: -O2 %% -pipe' > "$WORK/e.spec"
	"${Z[@]}" check "$WORK/e.spec"
	run --separate-stderr env ZEOLITE_TARGETS_DIR="$SRCDIR/targets" "${Z[@]}" --json build --dry-run "$WORK/e.spec"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"version_stamp":"openrc-amd64"'* ]]
	[[ "$output" == *'"profile":"default/linux/amd64/23.0"'* ]]
	[[ "$output" == *'"seed":{"name":"r/stage3-amd64-latest.tar.xz"'* ]]
	printf '%s\n' 'subarch: amd64' 'target: stage3' 'version_stamp: %(later)s' 'rel_type: 50%' \
		'cflags: -O2' '  -pipe' 'later: x' 'x: %(cflags)s' > "$WORK/f.spec"
	run --separate-stderr "${Z[@]}" check "$WORK/f.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"f.spec:3: %(later)s names no key set on an earlier line"* ]]
	[[ "$stderr" == *"f.spec:4: '%' starts neither %(key)s nor %%"* ]]
	[[ "$stderr" == *"f.spec:8: %(cflags)s names a key with 2 words (line 5)"* ]]
}
