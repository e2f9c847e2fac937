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
	python3 - "${lines[0]}" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
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
options = ["pkgcache", "distcc", "icecream", "kerncache", "seedcache", "fetch", "pkgcahce", "frobnicate"]
' > "$WORK/opts.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/opts.conf" --storedir "$STORE" check "$SPECS/good-stage1.spec"
	[ "$status" -eq 65 ]
	[ "${#stderr_lines[@]}" -eq 7 ]
	local o
	for o in distcc icecream kerncache seedcache fetch; do
		[[ "$stderr" == *"zeolite: $WORK/opts.conf:2: option '$o' is not supported by zeolite: "* ]]
	done
	[[ "$stderr" == *"$WORK/opts.conf:2: unknown option 'pkgcahce' (did you mean 'pkgcache'?)"* ]]
	[[ "$stderr" == *"$WORK/opts.conf:2: unknown option 'frobnicate'"* ]]
	# the options catalyst has and zeolite honours pass
	printf 'options = ["autoresume", "bindist", "clear-autoresume", "keepwork", "pkgcache", "purge", "sticky-config", "versioned_cache"]
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
