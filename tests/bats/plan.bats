#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# zeolite build --dry-run: what a build would use, resolved before anything
# is locked, unpacked or written.  Stores of empty files: --dry-run never
# reads a seed or snapshot, only finds them.
load lib

setup() {
	WORK=$(mktemp -d /var/tmp/zeolite-bats.XXXXXX)
	STORE="$WORK/store"
	printf '' > "$WORK/empty.conf"
	Z=("$ZEOLITE" -c "$WORK/empty.conf" --storedir "$STORE")
	export ZEOLITE_TARGETS_DIR="$SRCDIR/targets"
	mkdir -p "$STORE/builds/rel" "$STORE/snapshots"
	: > "$STORE/snapshots/gentoo-abc.sqfs"
}

# spec NAME SOURCE_SUBPATH [EXTRA LINES]: a stage3 spec in $WORK/NAME.spec
spec() {
	{
		printf 'subarch: amd64\ntarget: stage3\nversion_stamp: %s\nrel_type: rel\n' "$1"
		printf 'profile: default/linux/amd64/23.0\nsnapshot_treeish: abc\nsource_subpath: %s\n' "$2"
		[ -z "${3:-}" ] || printf '%s\n' "$3"
	} > "$WORK/$1.spec"
}

@test "seed: the exact file first, no extension added twice" {
	: > "$STORE/builds/rel/stage3-latest.tar.xz"
	: > "$STORE/builds/rel/stage3-latest.tar.xz.tar.xz.DIGESTS"
	spec a rel/stage3-latest.tar.xz
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/a.spec"
	[ "$status" -eq 0 ]
	[[ "$output" == *"seed        $STORE/builds/rel/stage3-latest.tar.xz"$'\n'* ]]
}

@test "seed: NAME.* without CONTENTS, CONTENTS.gz, DIGESTS, sha256" {
	for e in .tar.xz .tar.xz.CONTENTS .tar.xz.CONTENTS.gz .tar.xz.DIGESTS .tar.xz.sha256; do
		: > "$STORE/builds/rel/s1$e"
	done
	spec a rel/s1
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/a.spec"
	[ "$status" -eq 0 ]
	[[ "$output" == *"seed        $STORE/builds/rel/s1.tar.xz"$'\n'* ]]
}

@test "seed: two matches are ambiguous, exit 65 naming both" {
	: > "$STORE/builds/rel/s2.tar.xz"
	: > "$STORE/builds/rel/s2.tar.bz2"
	spec a rel/s2
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/a.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"a.spec:7: seed 'rel/s2' is ambiguous"* ]]
	[[ "$stderr" == *"rel/s2.tar.bz2"* && "$stderr" == *"rel/s2.tar.xz"* ]]
}

@test "seed: catalyst-auto's -latest symlink is followed; a dangling one is refused" {
	: > "$STORE/builds/rel/stage1-amd64-20260101T000000Z.tar.xz"
	ln -s stage1-amd64-20260101T000000Z.tar.xz "$STORE/builds/rel/stage1-amd64-latest.tar.xz"
	spec a rel/stage1-amd64-latest
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/a.spec"
	[ "$status" -eq 0 ]
	[[ "$output" == *"seed        $STORE/builds/rel/stage1-amd64-latest.tar.xz -> $STORE/builds/rel/stage1-amd64-20260101T000000Z.tar.xz"* ]]
	ln -s nowhere.tar.xz "$STORE/builds/rel/dead.tar.xz"
	spec b rel/dead
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/b.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"is not a regular file"* ]]
}

@test "seed: every extension catalyst reads is found" {
	for e in .tar.xz .tar.zst .tar.zstd .tar.pzstd .tar.bz2 .tbz2 .tar.gz .tgz .tar .tar.lz .tar.lzma .tar.lz4 .squashfs .sfs .sqfs; do
		: > "$STORE/builds/rel/x$e"
		spec "v${e//./_}" rel/x
		run --separate-stderr "${Z[@]}" build --dry-run "$WORK/v${e//./_}.spec"
		[ "$status" -eq 0 ]
		[[ "$output" == *"seed        $STORE/builds/rel/x$e"$'\n'* ]]
		rm "$STORE/builds/rel/x$e"
	done
}

@test "seed: with seedcache a tmp/<source_subpath>/ directory is not used, and build says so" {
	printf 'options = ["seedcache"]\n' > "$WORK/sc.conf"
	mkdir -p "$STORE/tmp/rel/s3" && : > "$STORE/builds/rel/s3.tar.xz"
	spec a rel/s3
	run --separate-stderr "$ZEOLITE" -c "$WORK/sc.conf" --storedir "$STORE" --json build --dry-run "$WORK/a.spec"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"sc.conf:1: option 'seedcache' has no effect: zeolite keeps no build root in tmp/"* ]]
	[[ "$output" == *'"seed":{"name":"rel/s3.tar.xz","path":"'"$STORE"'/builds/rel/s3.tar.xz"'* ]] || { echo "$output"; false; }
}

@test "build A B C with C invalid: exit 65 before anything is locked, unpacked or written" {
	: > "$STORE/builds/rel/s.tar.xz"
	spec a rel/s
	spec b rel/s
	spec c rel/s "portage_confdir: $WORK/no-such-confdir"
	"${Z[@]}" build --dry-run "$WORK/a.spec" > /dev/null # opening makes the store's layout
	find "$STORE" -printf '%p %s %T@\n' | sort > "$WORK/before"
	run --separate-stderr "${Z[@]}" build "$WORK/a.spec" "$WORK/b.spec" "$WORK/c.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"c.spec:8: portage_confdir '$WORK/no-such-confdir' is not a directory"* ]]
	[[ "$stderr" == *"1 of 3 specs are not valid; nothing was built"* ]]
	[[ "$stderr" != *"step"* ]]
	find "$STORE" -printf '%p %s %T@\n' | sort > "$WORK/after"
	diff "$WORK/before" "$WORK/after"
}

@test "every referenced path is checked up front: fsscript, interpreter, root_overlay" {
	: > "$STORE/builds/rel/s.tar.xz"
	spec a rel/s "interpreter: /no/such/qemu"
	"${Z[@]}" check "$WORK/a.spec"
	run --separate-stderr "${Z[@]}" build "$WORK/a.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"a.spec:8: interpreter '/no/such/qemu' is not an absolute path to a file"* ]]
	[ -z "$(ls -A "$STORE/tmp")" ]
	spec b rel/s "stage4/fsscript: /no/such/script
stage4/packages: app-misc/hello"
	sed -i 's/^target: stage3/target: stage4/' "$WORK/b.spec"
	run --separate-stderr "${Z[@]}" build "$WORK/b.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"b.spec:8: stage4/fsscript '/no/such/script' is not a file"* ]]
	[ -z "$(ls -A "$STORE/tmp")" ]
}

@test "an unsubstituted placeholder has its own message, in check and build" {
	: > "$STORE/builds/rel/s.tar.xz"
	spec a rel/s 'portage_confdir: @REPO_DIR@/releases/portage/stages'
	run --separate-stderr "${Z[@]}" check "$WORK/a.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"a.spec:8: 'portage_confdir' has the placeholder @REPO_DIR@ left unsubstituted"* ]]
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/a.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"placeholder @REPO_DIR@"* ]]
}

@test "--dry-run --json: one object per spec with the plan's keys" {
	: > "$STORE/builds/rel/s.tar.xz"
	spec a rel/s
	spec b rel/s
	sed -i 's/^target: stage3/target: stage1/' "$WORK/b.spec"
	printf 'options = ["bindist", "pkgcache"]\n' > "$WORK/o.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/o.conf" --storedir "$STORE" build --dry-run --json "$WORK/a.spec" "$WORK/b.spec"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	printf '%s\n' "${lines[0]}" > "$WORK/a.json"
	printf '%s\n' "${lines[1]}" > "$WORK/b.json"
	python3 - "$WORK/a.json" "$WORK/b.json" "$STORE" <<'PY'
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2])); store = sys.argv[3]
for k in ("spec", "seed", "snapshot", "outputs", "steps", "mounts", "make_conf_build",
          "make_conf_shipped", "environment"):
    assert k in a, k
e = a["environment"]
assert a["steps"] == ["setup", "build", "preclean", "clean"]
assert e["clst_BINDIST"] == "true" and e["clst_PKGCACHE"] == "true", e
assert e["clst_root_path"] == "", e["clst_root_path"]
assert b["environment"]["clst_root_path"] == "/tmp/stage1root"
assert e["clst_target_profile"] == "default/linux/amd64/23.0"
assert e["clst_make_conf"] == "/etc/portage/make.conf"
assert e["clst_repos_conf"] == "/etc/portage/repos.conf"
assert e["clst_target_subpath"] == "rel/stage3-amd64-a"
assert e["clst_hostarch"] == "amd64"
assert a["pkgcache_path"] == store + "/packages/rel/stage3-amd64", a["pkgcache_path"]
assert b["pkgcache_path"] == store + "/packages/rel/stage1-amd64", b["pkgcache_path"]
assert a["seed"]["path"] == store + "/builds/rel/s.tar.xz"
assert "COMMON_FLAGS" in a["make_conf_build"]
assert any(m["target"] == "/var/cache/binpkgs" for m in a["mounts"])
PY
}

@test "an unknown subarch: exit 65 naming the spec line" {
	: > "$STORE/builds/rel/s.tar.xz"
	spec a rel/s
	sed -i 's/^subarch: amd64/subarch: amd65/' "$WORK/a.spec"
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/a.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"a.spec:1: unknown subarch 'amd65'"* ]]
}

@test "a 32-bit subarch on a 64-bit host runs under catalyst's setarch personality" {
	[ "$(uname -m)" = x86_64 ] || skip "needs an x86_64 host"
	: > "$STORE/builds/rel/s.tar.xz"
	spec a rel/s
	sed -i 's/^subarch: amd64/subarch: i686/' "$WORK/a.spec"
	run --separate-stderr "${Z[@]}" build --dry-run --json "$WORK/a.spec"
	[ "$status" -eq 0 ]
	python3 -c 'import json,sys; p=json.loads(sys.argv[1]); assert p["personality"] == "linux32", p["personality"]; assert "-march=i686" in p["make_conf_build"], p["make_conf_build"]' "$output"
	spec b rel/s
	run --separate-stderr "${Z[@]}" build --dry-run --json "$WORK/b.spec"
	python3 -c 'import json,sys; p=json.loads(sys.argv[1]); assert p["personality"] is None' "$output"
}

@test "profile repo:path naming another repository is refused up front" {
	: > "$STORE/builds/rel/s.tar.xz"
	spec a rel/s
	sed -i 's|^profile: .*|profile: myoverlay:default/linux/amd64|' "$WORK/a.spec"
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/a.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"a.spec:5: profile 'myoverlay:default/linux/amd64' is in repository 'myoverlay'"* ]]
	sed -i 's|^profile: .*|profile: gentoo:default/linux/amd64/23.0|' "$WORK/a.spec"
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/a.spec"
	[ "$status" -eq 0 ]
}

@test "profile repo:path may name a repository of spec repos" {
	: > "$STORE/builds/rel/s.tar.xz"
	mkdir -p "$WORK/ov/profiles"
	echo myoverlay > "$WORK/ov/profiles/repo_name"
	spec a rel/s "repos: $WORK/ov"
	sed -i 's|^profile: .*|profile: myoverlay:default/linux/amd64|' "$WORK/a.spec"
	run --separate-stderr "${Z[@]}" build --dry-run --json "$WORK/a.spec"
	[ "$status" -eq 0 ]
	python3 - "$output" "$WORK" <<'PY'
import json, sys
p = json.loads(sys.argv[1]); w = sys.argv[2]
r = p["repos"]
assert [x["name"] for x in r] == ["gentoo", "myoverlay"], r
assert r[0]["repos_conf"] is None, r[0]
assert r[1]["repos_conf"] == "[myoverlay]\nlocation = /var/db/repos/myoverlay\n\n", r[1]
assert {"source": w + "/ov", "target": "/var/db/repos/myoverlay", "kind": "bind", "read_only": True} in p["mounts"]
PY
}

@test "the plan's environment and mounts are catalyst's: subarch flags, options, config keys" {
	: > "$STORE/builds/rel/s.tar.xz"
	mkdir -p "$WORK/ccache"
	spec a rel/s 'binrepo_path: amd64/binpackages/23.0/x86-64'
	sed -i 's/^subarch: amd64/subarch: k8/' "$WORK/a.spec"
	printf 'options = ["ccache"]\nbinhost = "https://distfiles.gentoo.org/releases/"\nport_logdir = "%s/logs"\nvar_tmpfs_portage = 8\njobs = 3\nload-average = 2.5\njobserver-fifo = "/run/jobs.fifo"\n' "$WORK" > "$WORK/o.conf"
	CCACHE_DIR=$WORK/ccache run --separate-stderr "$ZEOLITE" -c "$WORK/o.conf" --storedir "$STORE" build --dry-run --json "$WORK/a.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	python3 - "$output" "$WORK" "$STORE" <<'PY'
import json, sys
p = json.loads(sys.argv[1]); w = sys.argv[2]; store = sys.argv[3]
e = p["environment"]
assert e["clst_CPU_FLAGS_X86"] == "mmx mmxext 3dnow 3dnowext sse sse2", e
assert e["clst_COMMON_FLAGS"] == "-O2 -march=k8 -pipe", e
assert e["clst_target_path"] == store + "/builds/rel/stage3-k8-a", e["clst_target_path"]
assert e["PATH"] == "/bin:/sbin:/usr/bin:/usr/sbin", e
for k in ("HOME", "clst_emerge_opts", "clst_pkgcache_path"):
    assert k not in e, k
assert e["clst_jobs"] == "3" and e["clst_load_average"] == "2.5", e
assert e["MAKEOPTS"] == "-j3 -l2.5" and e["NINJAOPTS"] == "-l2.5", e
assert e["MAKEFLAGS"] == "-l2.5 --jobserver-auth=fifo:/run/jobs.fifo", e
assert e["CCACHE_DIR"] == "/var/tmp/ccache" and e["clst_CCACHE"] == "true", e
assert e["PORTAGE_LOGDIR"] == "/var/log/portage", e
m = {x["target"]: x for x in p["mounts"]}
assert "/var/cache/binpkgs" not in m, m     # no pkgcache option
assert m["/var/tmp/ccache"]["source"] == w + "/ccache"
assert m["/var/tmp/portage"] == {"source": "size=8G", "target": "/var/tmp/portage", "kind": "tmpfs", "read_only": False}
assert m["/var/log/portage"]["source"] == w + "/logs/rel/stage3-k8-a"
assert p["binrepos_conf"].endswith("[gentoo]\npriority = 1\nsync-uri = https://distfiles.gentoo.org/releases/amd64/binpackages/23.0/x86-64\nlocation = /var/cache/binhost/gentoo\nverify-signature = true\n"), p["binrepos_conf"]
PY
	# ccache without the host's directory: refused, as catalyst
	rm -rf "$WORK/ccache"
	CCACHE_DIR=$WORK/ccache run --separate-stderr "$ZEOLITE" -c "$WORK/o.conf" --storedir "$STORE" build --dry-run "$WORK/a.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"can't find $WORK/ccache"* ]]
}

@test "target_distdir and target_pkgdir: where distdir and the package cache are mounted, in make.conf" {
	: > "$STORE/builds/rel/s.tar.xz"
	spec a rel/s
	printf 'options = ["pkgcache"]\ntarget_distdir = "/var/tmp/distfiles"\ntarget_pkgdir = "/var/tmp/binpkgs"\n' > "$WORK/o.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/o.conf" --storedir "$STORE" build --dry-run --json "$WORK/a.spec"
	[ "$status" -eq 0 ]
	python3 - "$output" "$STORE" <<'PY'
import json, sys
p = json.loads(sys.argv[1]); store = sys.argv[2]
m = {x["target"]: x for x in p["mounts"]}
assert m["/var/tmp/distfiles"]["kind"] == "bind" and not m["/var/tmp/distfiles"]["read_only"], m
assert m["/var/tmp/binpkgs"]["source"] == store + "/packages/rel/stage3-amd64", m
assert "/var/cache/distfiles" not in m and "/var/cache/binpkgs" not in m, m
for t in ("make_conf_build", "make_conf_shipped"):
    assert 'DISTDIR="/var/tmp/distfiles"\n' in p[t] and 'PKGDIR="/var/tmp/binpkgs"\n' in p[t], p[t]
e = p["environment"]
assert e["clst_target_distdir"] == "/var/tmp/distfiles" and e["clst_target_pkgdir"] == "/var/tmp/binpkgs", e
PY
}

@test "versioned_cache and sticky-config: the package cache path, the make.conf that ships" {
	: > "$STORE/builds/rel/s.tar.xz"
	spec a rel/s 'stage4/packages: app-misc/foo
stage4/use: foo'
	sed -i 's/^target: stage3/target: stage4/' "$WORK/a.spec"
	printf 'options = ["pkgcache", "versioned_cache", "bindist", "sticky-config"]\n' > "$WORK/s.conf"
	printf 'options = ["pkgcache", "bindist"]\n' > "$WORK/n.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/s.conf" --storedir "$STORE" build --dry-run --json "$WORK/a.spec"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" > "$WORK/s.json"
	run --separate-stderr "$ZEOLITE" -c "$WORK/n.conf" --storedir "$STORE" build --dry-run --json "$WORK/a.spec"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" > "$WORK/n.json"
	python3 - "$WORK/s.json" "$WORK/n.json" "$STORE" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); n = json.load(open(sys.argv[2])); store = sys.argv[3]
assert s["pkgcache_path"] == store + "/packages/rel/stage4-amd64-a", s["pkgcache_path"]
assert n["pkgcache_path"] == store + "/packages/rel/stage4-amd64", n["pkgcache_path"]
# the build's USE has bindist; with sticky-config it ships, else not
assert 'USE="bindist foo"\n' in s["make_conf_build"] and 'USE="bindist foo"\n' in n["make_conf_build"]
assert 'USE="bindist foo"\n' in s["make_conf_shipped"], s["make_conf_shipped"]
assert 'USE="foo"\n' in n["make_conf_shipped"], n["make_conf_shipped"]
PY
}
