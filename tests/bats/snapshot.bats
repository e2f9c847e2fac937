#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `zeolite snapshot` (catalyst -s): git and plain-directory sources, the
# sqfs / tar.xz / tar.zst outputs, atomic publication and failure paths.
#
# Environment: ZEOLITE (the binary), SHARED_DATA (../shared/data).

bats_require_minimum_version 1.5.0

GIT=(git -c user.name=zeolite-test -c user.email=test@zeolite.invalid
	-c init.defaultBranch=main -c commit.gpgsign=false -c core.hooksPath=/dev/null)

setup_file() {
	: "${ZEOLITE:?set ZEOLITE to the zeolite binary}"
	: "${SHARED_DATA:=${SRCDIR:-.}/../shared/data}"
	export SHARED_DATA
	# The user's git configuration must not change what we test.
	export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
}

setup() {
	TMP=$(mktemp -d)
	STORE=$TMP/store
	mkdir -m 0755 "$STORE"
	REPO=$TMP/repo
	make_small_repo "$REPO"
}

teardown() {
	[ -z "${HOLDER:-}" ] || kill "$HOLDER" 2>/dev/null || true
	[ -z "${MNT:-}" ] || ! mountpoint -q "$MNT" || umount "$MNT"
	[ -z "${SMALL:-}" ] || ! mountpoint -q "$SMALL" || umount "$SMALL"
	rm -rf "$TMP"
}

make_small_repo() {
	local d=$1
	mkdir -p "$d/app-misc/hello/files" "$d/profiles" "$d/metadata"
	printf 'EAPI=8\nDESCRIPTION="hello"\n' >"$d/app-misc/hello/hello-1.ebuild"
	printf '#!/bin/sh\necho hi\n' >"$d/app-misc/hello/files/run.sh"
	chmod 0755 "$d/app-misc/hello/files/run.sh"
	ln -s hello-1.ebuild "$d/app-misc/hello/latest.ebuild"
	echo gentoo >"$d/profiles/repo_name"
	printf 'masters =\n' >"$d/metadata/layout.conf"
	"${GIT[@]}" -C "$d" init -q
	"${GIT[@]}" -C "$d" add -A
	"${GIT[@]}" -C "$d" commit -q -m first
	echo 'KEYWORDS="~amd64"' >>"$d/app-misc/hello/hello-1.ebuild"
	"${GIT[@]}" -C "$d" commit -q -a -m second
	"${GIT[@]}" -C "$d" tag v2
}

# snapshot ARGS...: run zeolite snapshot against $STORE, stdout/stderr apart.
snapshot() {
	run --separate-stderr "$ZEOLITE" --storedir "$STORE" snapshot "$@"
}

no_tmp_files() {
	local left
	left=$(find "$STORE/snapshots" -name '.tmp.*' 2>/dev/null)
	[ -z "$left" ] || { echo "left behind: $left"; return 1; }
}

# Snapshot files (not catalyst's <name>.lock, not <name>.source records).
snapshot_count() {
	find "$STORE/snapshots" -mindepth 1 -maxdepth 1 ! -name '*.lock' ! -name '*.source' 2>/dev/null | wc -l
}

# unpack FILE DIR: extract any snapshot format into DIR.
unpack() {
	mkdir -p "$2"
	case $1 in
	*.sqfs) sqfs2tar "$1" | tar -x -C "$2" ;;
	*) tar -x -f "$1" -C "$2" ;;
	esac
}

git_tree() {
	mkdir -p "$3"
	git -C "$1" archive --format=tar "$2" | tar -x -C "$3"
}

@test "git: snapshot is named <repo>-<full commit>.sqfs and has the commit's files" {
	commit=$(git -C "$REPO" rev-parse HEAD)
	snapshot --repo-name repo --git-dir "$REPO"
	[ "$status" -eq 0 ]
	[ "$output" = "repo-$commit.sqfs" ]
	f=$STORE/snapshots/$output
	[ -f "$f" ]
	[ "$(stat -c %a "$f")" = 644 ]
	run rdsquashfs -l /app-misc/hello "$f"
	[ "$status" -eq 0 ]
	[[ $output == *hello-1.ebuild* ]]
	[[ $output == *"latest.ebuild -> hello-1.ebuild"* ]]
	run -0 bash -c "sqfs2tar '$f' | tar -t"
	[[ $output == *profiles/repo_name* ]]
	[[ $output == *app-misc/hello/files/run.sh* ]]
	no_tmp_files
}

@test "git: sqfs content equals git archive of the commit (data, symlink, exec bit)" {
	snapshot --repo-name repo --git-dir "$REPO"
	[ "$status" -eq 0 ]
	unpack "$STORE/snapshots/$output" "$TMP/a"
	git_tree "$REPO" HEAD "$TMP/b"
	diff -r --no-dereference "$TMP/a" "$TMP/b"
	[ -x "$TMP/a/app-misc/hello/files/run.sh" ]
	[ ! -x "$TMP/a/app-misc/hello/hello-1.ebuild" ]
	[ "$(readlink "$TMP/a/app-misc/hello/latest.ebuild")" = hello-1.ebuild ]
}

@test "git: a tree-ish other than the commit (tag, HEAD~1) names the snapshot as given, a link to the commit's" {
	c1=$(git -C "$REPO" rev-parse HEAD~1)
	c2=$(git -C "$REPO" rev-parse v2)
	snapshot --repo-name repo --git-dir "$REPO" HEAD~1
	[ "$status" -eq 0 ]
	[ "$output" = "repo-HEAD~1.sqfs" ]
	[[ $stderr == *"Creating repo tree snapshot $c1 from $REPO"* ]]
	# One file under two names, the tree-ish's and the commit's
	[ "$(stat -c %i "$STORE/snapshots/repo-HEAD~1.sqfs")" = "$(stat -c %i "$STORE/snapshots/repo-$c1.sqfs")" ]
	unpack "$STORE/snapshots/$output" "$TMP/a"
	git_tree "$REPO" "$c1" "$TMP/b"
	diff -r --no-dereference "$TMP/a" "$TMP/b"
	# The record beside it: what the name meant when it was made
	grep -qx "treeish=HEAD~1" "$STORE/snapshots/repo-HEAD~1.sqfs.source"
	grep -qx "commit=$c1" "$STORE/snapshots/repo-HEAD~1.sqfs.source"
	grep -qx "tree=$(git -C "$REPO" rev-parse "$c1^{tree}")" "$STORE/snapshots/repo-HEAD~1.sqfs.source"
	grep -qx "file=repo-$c1.sqfs" "$STORE/snapshots/repo-HEAD~1.sqfs.source"
	snapshot --repo-name repo --git-dir "$REPO" v2
	[ "$status" -eq 0 ]
	[ "$output" = "repo-v2.sqfs" ]
	[ -f "$STORE/snapshots/repo-$c2.sqfs" ]
	# The full commit names it once
	snapshot --repo-name repo --git-dir "$REPO" "$c2"
	[ "$status" -eq 0 ]
	[ "$output" = "repo-$c2.sqfs" ]
	[[ $stderr == *"already exists"* ]]
	[ ! -e "$STORE/snapshots/repo-$c2.sqfs.source" ]
	[ "$(snapshot_count)" -eq 4 ]
	no_tmp_files
}

@test "git: a branch that moved gets its name and record replaced; one that did not is left alone" {
	c1=$(git -C "$REPO" rev-parse HEAD~1)
	c2=$(git -C "$REPO" rev-parse HEAD)
	git -C "$REPO" branch stable "$c1"
	snapshot --repo-name repo --git-dir "$REPO" stable
	[ "$status" -eq 0 ]
	before=$(stat -c '%i %y' "$STORE/snapshots/repo-stable.sqfs" "$STORE/snapshots/repo-stable.sqfs.source")
	snapshot --repo-name repo --git-dir "$REPO" stable
	[ "$status" -eq 0 ]
	[[ $stderr == *"already exists"* ]]
	[ "$(stat -c '%i %y' "$STORE/snapshots/repo-stable.sqfs" "$STORE/snapshots/repo-stable.sqfs.source")" = "$before" ]
	git -C "$REPO" branch -f stable "$c2"
	snapshot --repo-name repo --git-dir "$REPO" stable
	[ "$status" -eq 0 ]
	[[ $stderr != *"already exists"* ]]
	grep -qx "commit=$c2" "$STORE/snapshots/repo-stable.sqfs.source"
	[ "$(stat -c %i "$STORE/snapshots/repo-stable.sqfs")" = "$(stat -c %i "$STORE/snapshots/repo-$c2.sqfs")" ]
	[ -f "$STORE/snapshots/repo-$c1.sqfs" ]
	no_tmp_files
}

@test "git: a tree-ish that cannot be a file name is refused, naming its commit" {
	git -C "$REPO" branch rel/x HEAD
	c=$(git -C "$REPO" rev-parse HEAD)
	snapshot --repo-name repo --git-dir "$REPO" rel/x
	[ "$status" -eq 65 ]
	[[ $stderr == *"tree-ish 'rel/x' cannot name a file in snapshots/"*"give its commit, $c"* ]]
	[ "$(snapshot_count)" -eq 0 ]
}

# catalyst_lock FILE: hold catalyst's lock on FILE (fasteners.InterProcessLock:
# fcntl.lockf, the whole file) in the background until a line is written to
# $TMP/release; $HOLDER is its pid.
catalyst_lock() {
	mkfifo "$TMP/locked" "$TMP/release"
	python3 -c '
import fcntl, sys
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").write("locked\n")
open(sys.argv[3]).read()
' "$1" "$TMP/locked" "$TMP/release" >/dev/null 2>&1 &
	HOLDER=$!
	read -r _ < "$TMP/locked"
}

# lockf_try FILE: 0 if catalyst could take its lock on FILE now.
lockf_try() {
	python3 -c '
import fcntl, sys
fcntl.lockf(open(sys.argv[1], "a"), fcntl.LOCK_EX | fcntl.LOCK_NB)
' "$1" 2>/dev/null
}

@test "catalyst's snapshot lock (lockf on snapshots/<repo>-<treeish>.lock) and zeolite's exclude each other" {
	mkdir -p "$STORE/snapshots"
	catalyst_lock "$STORE/snapshots/repo-v2.lock"
	run --separate-stderr "$ZEOLITE" --storedir "$STORE" --lock-timeout 0 snapshot --repo-name repo --git-dir "$REPO" v2
	echo > "$TMP/release"
	wait "$HOLDER"
	[ "$status" -eq 75 ]
	[[ $stderr == *"snapshots/repo-v2.lock is held by pid $HOLDER ("*"python3 -c"*"); not waiting (lock_timeout 0)"* ]]
	[ "$(snapshot_count)" -eq 0 ]

	# While zeolite writes (its tar2sqfs paused), catalyst cannot lock
	# either name.
	mkdir "$TMP/bin"
	mkfifo "$TMP/in-tar2sqfs" "$TMP/go"
	printf '#!/bin/sh\necho >"%s"; read -r _ <"%s"\nPATH=%s exec tar2sqfs "$@"\n' \
		"$TMP/in-tar2sqfs" "$TMP/go" "$PATH" >"$TMP/bin/tar2sqfs"
	chmod +x "$TMP/bin/tar2sqfs"
	PATH=$TMP/bin:$PATH "$ZEOLITE" --storedir "$STORE" snapshot --repo-name repo --git-dir "$REPO" v2 \
		>"$TMP/out" 2>&1 &
	z=$!
	read -r _ < "$TMP/in-tar2sqfs"
	c2=$(git -C "$REPO" rev-parse v2)
	run lockf_try "$STORE/snapshots/repo-v2.lock"
	run2=$status
	run lockf_try "$STORE/snapshots/repo-$c2.lock"
	echo > "$TMP/go"
	wait "$z"
	[ "$run2" -ne 0 ]
	[ "$status" -ne 0 ]
	[ "$(tail -n1 "$TMP/out")" = "repo-v2.sqfs" ]
	# Free again once zeolite is done
	lockf_try "$STORE/snapshots/repo-v2.lock"
}

@test "git: GIT_DIR and GIT_WORK_TREE in the environment do not change the repository" {
	other=$TMP/other
	mkdir -p "$other"
	printf 'x\n' >"$other/unrelated"
	"${GIT[@]}" -C "$other" init -q
	"${GIT[@]}" -C "$other" add -A
	"${GIT[@]}" -C "$other" commit -q -m other
	commit=$(git -C "$REPO" rev-parse HEAD)
	GIT_DIR=$other/.git GIT_WORK_TREE=$other GIT_INDEX_FILE=$other/.git/index \
		snapshot --repo-name repo --git-dir "$REPO" --format tar.xz
	[ "$status" -eq 0 ]
	[ "$output" = "repo-$commit.tar.xz" ]
	run -0 tar -tf "$STORE/snapshots/$output"
	[[ $output == *profiles/repo_name* ]]
	[[ $output != *unrelated* ]]
}

@test "git: the repository name defaults to gentoo and --repo-name changes it" {
	commit=$(git -C "$REPO" rev-parse HEAD)
	snapshot --git-dir "$REPO"
	[ "$status" -eq 0 ]
	[ "$output" = "gentoo-$commit.sqfs" ]
	snapshot --repo-name guru --git-dir "$REPO"
	[ "$status" -eq 0 ]
	[ "$output" = "guru-$commit.sqfs" ]
}

@test "git: --format tar.xz and tar.zst write tarballs of the commit" {
	commit=$(git -C "$REPO" rev-parse HEAD)
	git_tree "$REPO" HEAD "$TMP/ref"
	for fmt in tar.xz tar.zst; do
		snapshot --repo-name repo --git-dir "$REPO" --format "$fmt"
		[ "$status" -eq 0 ]
		[ "$output" = "repo-$commit.$fmt" ]
		f=$STORE/snapshots/$output
		run -0 tar -tf "$f"
		[[ $output == *app-misc/hello/hello-1.ebuild* ]]
		[[ $output == *app-misc/hello/latest.ebuild* ]]
		unpack "$f" "$TMP/$fmt"
		diff -r --no-dereference "$TMP/$fmt" "$TMP/ref"
		[ -x "$TMP/$fmt/app-misc/hello/files/run.sh" ]
	done
	run -0 xz -t "$STORE/snapshots/repo-$commit.tar.xz"
	run -0 zstd -q -t "$STORE/snapshots/repo-$commit.tar.zst"
	no_tmp_files
}

@test "a second run is a no-op: says 'already exists', file untouched" {
	snapshot --repo-name repo --git-dir "$REPO"
	[ "$status" -eq 0 ]
	name=$output
	# Inode and nanosecond mtime: a rewrite would change one of them.
	before=$(stat -c '%i %y %s' "$STORE/snapshots/$name")
	snapshot --repo-name repo --git-dir "$REPO"
	[ "$status" -eq 0 ]
	[ "$output" = "$name" ]
	[[ $stderr == *"already exists"* ]]
	[ "$(stat -c '%i %y %s' "$STORE/snapshots/$name")" = "$before" ]
	[ "$(snapshot_count)" -eq 1 ]
}

@test "a bad tree-ish is bad input (exit 65) and leaves nothing behind" {
	snapshot --repo-name repo --git-dir "$REPO" no-such-branch
	[ "$status" -eq 65 ]
	[[ $stderr == *no-such-branch* ]]
	[[ $stderr == *"not a commit"* ]]
	# A tree-ish that looks like an option never reaches git as one.
	snapshot --repo-name repo --git-dir "$REPO" -- --output=$TMP/pwned
	[ "$status" -eq 65 ]
	[ ! -e "$TMP/pwned" ]
	# A tree is not a commit.
	tree=$(git -C "$REPO" rev-parse 'HEAD^{tree}')
	snapshot --repo-name repo --git-dir "$REPO" "$tree"
	[ "$status" -eq 65 ]
	[ "$(snapshot_count)" -eq 0 ]
}

@test "a directory that is not a git repository is bad input (exit 65)" {
	mkdir "$TMP/notgit"
	snapshot --repo-name repo --git-dir "$TMP/notgit"
	[ "$status" -eq 65 ]
	[[ $stderr == *"$TMP/notgit"* ]]
	snapshot --repo-name repo --git-dir "$TMP/does-not-exist"
	[ "$status" -eq 65 ]
	[ "$(snapshot_count)" -eq 0 ]
}

@test "plain directory: same content gives the same id, one changed byte another" {
	plain=$TMP/plain
	cp -a "$REPO" "$plain"
	snapshot --repo-name repo --repo "$plain"
	[ "$status" -eq 0 ]
	first=$output
	[[ $first =~ ^repo-[0-9a-f]{32,64}\.sqfs$ ]]

	# A copy with other mtimes and without .git: same content, same id.
	mkdir "$TMP/copy"
	(cd "$plain" && tar --exclude=./.git -cf - .) | tar -x -m -C "$TMP/copy"
	snapshot --repo-name repo --repo "$TMP/copy"
	[ "$status" -eq 0 ]
	[ "$output" = "$first" ]
	[[ $stderr == *"already exists"* ]]

	# One byte of data.
	sed -i 's/hello/hellp/' "$TMP/copy/app-misc/hello/hello-1.ebuild"
	snapshot --repo-name repo --repo "$TMP/copy"
	[ "$status" -eq 0 ]
	[ "$output" != "$first" ]
	second=$output

	# A permission bit.
	chmod +x "$TMP/copy/profiles/repo_name"
	snapshot --repo-name repo --repo "$TMP/copy"
	[ "$status" -eq 0 ]
	[ "$output" != "$second" ]
	[ "$output" != "$first" ]
	third=$output

	# A symlink target.
	ln -sfn files/run.sh "$TMP/copy/app-misc/hello/latest.ebuild"
	snapshot --repo-name repo --repo "$TMP/copy"
	[ "$status" -eq 0 ]
	[ "$output" != "$third" ]
	[ "$(snapshot_count)" -eq 4 ]
	no_tmp_files
}

@test "plain directory: the snapshot holds the tree (not .git), owned by root" {
	plain=$TMP/plain
	cp -a "$REPO" "$plain"
	mkdir -p "$plain/sub/.git" && echo keep >"$plain/sub/.git/x"
	for fmt in sqfs tar.xz tar.zst; do
		snapshot --repo-name repo --repo "$plain" --format "$fmt"
		[ "$status" -eq 0 ]
		[[ $output == *".$fmt" ]]
		f=$STORE/snapshots/$output
		unpack "$f" "$TMP/out-$fmt"
		diff -r --no-dereference --exclude=.git "$plain" "$TMP/out-$fmt"
		[ ! -e "$TMP/out-$fmt/.git" ]
		[ -f "$TMP/out-$fmt/sub/.git/x" ]
		[ -x "$TMP/out-$fmt/app-misc/hello/files/run.sh" ]
		[ "$(readlink "$TMP/out-$fmt/app-misc/hello/latest.ebuild")" = hello-1.ebuild ]
	done
	run -0 tar -tvf "$STORE/snapshots/${output%.tar.zst}.tar.xz"
	[ -z "$(grep -v ' 0/0 ' <<<"$output")" ]
}

# odd_tree DIR: the shapes a squashfs writer gets wrong: multi-block and
# block-sized files, duplicate data, empty files and directories, a
# directory past one 256-entry listing run, 8-bit names, long symlinks,
# special modes.
odd_tree() {
	local d=$1 i
	mkdir -p "$d/big" "$d/empty-dir" "$d/many" "$d/sticky" "$d/caf$(printf '\xc3\xa9')"
	head -c 400000 /dev/urandom >"$d/big/random"
	cp "$d/big/random" "$d/big/random-copy"
	head -c 1500000 /dev/urandom >"$d/big/large"
	cp "$d/big/large" "$d/big/large-copy"
	head -c 131072 /dev/zero >"$d/big/one-block"
	head -c 131073 /dev/zero >"$d/big/one-block-and-a-byte"
	seq 1 200000 >"$d/big/text"
	: >"$d/empty-file"
	for i in $(seq 1 600); do echo "$i" >"$d/many/f$i"; done
	echo x >"$d/caf$(printf '\xc3\xa9')/$(printf 'na\xefve\xff')"
	ln -s "$(printf 'x%.0s' $(seq 1 300))" "$d/long-link"
	ln -s ../big/random "$d/sticky/to-random"
	chmod 1777 "$d/sticky"
	chmod 4755 "$d/big/text"
	chmod 0600 "$d/empty-file"
	chmod 0700 "$d/empty-dir"
}

@test "plain directory: the image is written in-process, mounts as the tree, and is the same twice" {
	plain=$TMP/odd
	odd_tree "$plain"
	snapshot --repo-name repo --repo "$plain"
	[ "$status" -eq 0 ]
	img=$STORE/snapshots/$output

	# The kernel's reader and libsquashfs's agree with the source.
	MNT=$TMP/mnt
	mkdir "$MNT"
	mount -t squashfs -o loop,ro "$img" "$MNT"
	diff -r --no-dereference "$plain" "$MNT"
	listing() { (cd "$1" && find . -mindepth 1 -printf '%M %U:%G %P -> %l\n' | LC_ALL=C sort); }
	# Set-user-ID is not a permission bit the id covers: it is dropped.
	[ "$(listing "$MNT")" = "$(listing "$plain" | sed 's/^-rwsr/-rwxr/')" ]
	[ "$(stat -c %a "$MNT/sticky")" = 1777 ]
	[ "$(stat -c %a "$MNT/big/text")" = 755 ]
	[ "$(stat -c %U:%G "$MNT/big/random")" = root:root ]
	umount "$MNT"
	# Duplicate data is stored once (up to 1 MiB by a file's digest, above
	# block by block): the copies' inodes point at the same blocks.
	for f in random large; do
		a=$(rdsquashfs -s "/big/$f" "$img" | grep -E 'Blocks start|Fragment')
		b=$(rdsquashfs -s "/big/$f-copy" "$img" | grep -E 'Blocks start|Fragment')
		[ -n "$a" ] && [ "$a" = "$b" ]
	done
	[ "$(stat -c %s "$img")" -lt 2500000 ]
	unpack "$img" "$TMP/via-sqfs2tar"
	diff -r --no-dereference "$plain" "$TMP/via-sqfs2tar"

	# Reproducible: the same tree into another store gives the same bytes
	# (mtimes are kept from the tree, so a copy with other mtimes would
	# not, though it names the same content id).
	mkdir "$TMP/store2"
	run --separate-stderr "$ZEOLITE" --storedir "$TMP/store2" snapshot --repo-name repo --repo "$plain"
	[ "$status" -eq 0 ]
	cmp "$img" "$TMP/store2/snapshots/$output"
	no_tmp_files
}

@test "plain directory: a full disk fails the image with the reason, leaving nothing behind" {
	plain=$TMP/plain
	mkdir "$plain"
	head -c 3000000 /dev/urandom >"$plain/incompressible"
	SMALL=$TMP/small
	mkdir "$SMALL"
	mount -t tmpfs -o size=1m,mode=0755 tmpfs "$SMALL"
	run --separate-stderr "$ZEOLITE" --storedir "$SMALL" snapshot --repo-name repo --repo "$plain"
	[ "$status" -ne 0 ]
	[ "$status" -ne 65 ]
	[[ $stderr == *"No space left on device"* ]]
	left=$(find "$SMALL/snapshots" -mindepth 1 ! -name '*.lock' ! -name '*.source')
	[ -z "$left" ] || { echo "left behind: $left"; false; }
}

@test "a failing tar2sqfs fails the snapshot and leaves nothing under the final name" {
	mkdir "$TMP/bin"
	printf '#!/bin/sh\ncat >/dev/null\necho "tar2sqfs: simulated failure" >&2\nexit 1\n' \
		>"$TMP/bin/tar2sqfs"
	chmod +x "$TMP/bin/tar2sqfs"
	PATH=$TMP/bin:$PATH snapshot --repo-name repo --git-dir "$REPO"
	[ "$status" -ne 0 ]
	[ "$status" -ne 65 ]
	[[ $stderr == *tar2sqfs* ]]
	[ "$(snapshot_count)" -eq 0 ]

	# Same when it dies without reading its input (git gets SIGPIPE).
	printf '#!/bin/sh\nexit 3\n' >"$TMP/bin/tar2sqfs"
	PATH=$TMP/bin:$PATH snapshot --repo-name repo --git-dir "$REPO"
	[ "$status" -ne 0 ]
	[[ $stderr == *"tar2sqfs failed with exit status 3"* ]]
	[ "$(snapshot_count)" -eq 0 ]

	# A plain directory's image is written in-process: no tar2sqfs.
	PATH=$TMP/bin:$PATH snapshot --repo-name repo --repo "$REPO"
	[ "$status" -eq 0 ]
	[ "$(snapshot_count)" -eq 1 ]
	rm -f "$STORE/snapshots/$output"

	# And the next good run works.
	snapshot --repo-name repo --git-dir "$REPO"
	[ "$status" -eq 0 ]
	[ "$(snapshot_count)" -eq 1 ]
}

@test "a failing git archive fails the snapshot" {
	# A commit whose blob is missing: rev-parse succeeds, archive fails.
	commit=$(git -C "$REPO" rev-parse HEAD)
	blob=$(git -C "$REPO" rev-parse HEAD:metadata/layout.conf)
	rm -f "$REPO/.git/objects/${blob:0:2}/${blob:2}"
	for fmt in sqfs tar.zst; do
		snapshot --repo-name repo --git-dir "$REPO" --format "$fmt"
		[ "$status" -ne 0 ]
		[[ $stderr == *"git archive"* ]]
	done
	[ "$(snapshot_count)" -eq 0 ]
}

@test "concurrent runs of one snapshot: all succeed, one file" {
	for i in 1 2 3 4; do
		"$ZEOLITE" --storedir "$STORE" snapshot --repo-name repo --git-dir "$REPO" \
			>"$TMP/out.$i" 2>"$TMP/err.$i" &
	done
	for i in 1 2 3 4; do
		wait -n || false
	done
	commit=$(git -C "$REPO" rev-parse HEAD)
	for i in 1 2 3 4; do
		[ "$(cat "$TMP/out.$i")" = "repo-$commit.sqfs" ]
	done
	[ "$(snapshot_count)" -eq 1 ]
	run -0 rdsquashfs -l / "$STORE/snapshots/repo-$commit.sqfs"
}

@test "guru: snapshot of a real ebuild repository matches its commit" {
	guru=$TMP/guru
	mkdir "$guru"
	tar -xJf "$SHARED_DATA/guru-snapshot.tar.xz" -C "$guru"
	"${GIT[@]}" -C "$guru" init -q
	"${GIT[@]}" -C "$guru" add -A
	"${GIT[@]}" -C "$guru" commit -q -m guru
	commit=$(git -C "$guru" rev-parse HEAD)
	snapshot --repo-name guru --git-dir "$guru"
	[ "$status" -eq 0 ]
	[ "$output" = "guru-$commit.sqfs" ]
	f=$STORE/snapshots/$output
	unpack "$f" "$TMP/a"
	git_tree "$guru" HEAD "$TMP/b"
	diff -r --no-dereference "$TMP/a" "$TMP/b"
	n_git=$(git -C "$guru" ls-files | wc -l)
	n_sqfs=$(sqfs2tar "$f" | tar -t | grep -cv '/$')
	[ "$n_git" -eq "$n_sqfs" ]
	[ "$n_git" -gt 9000 ]

	snapshot --repo-name guru --git-dir "$guru" --format tar.zst
	[ "$status" -eq 0 ]
	run -0 tar -tf "$STORE/snapshots/guru-$commit.tar.zst"
	[ "$(grep -cv '/$' <<<"$output")" -eq "$n_git" ]
	no_tmp_files
}

@test "catalyst -s: repos_storedir/<repo_name>.git by default (branch, tag, short hash); catalyst's Creating line" {
	git clone -q --bare "$REPO" "$STORE/repos/gentoo.git"
	printf '' > "$TMP/empty.conf"
	c1=$(git -C "$REPO" rev-parse HEAD~1)
	c2=$(git -C "$REPO" rev-parse HEAD)
	git -C "$STORE/repos/gentoo.git" branch stable "$c1"
	mkdir -p "$STORE/builds/rel"
	: > "$STORE/builds/rel/seed.tar.xz"
	for t in stable:$c1 v2:$c2 "${c1:0:7}:$c1"; do
		run --separate-stderr "$ZEOLITE" -c "$TMP/empty.conf" --storedir "$STORE" -s "${t%%:*}"
		[ "$status" -eq 0 ]
		[ "${lines[0]}" = "Creating gentoo tree snapshot ${t#*:} from $STORE/repos/gentoo.git" ]
		# named after the tree-ish as given, as catalyst names it
		[ "${lines[1]}" = "gentoo-${t%%:*}.sqfs" ]
		[ -f "$STORE/snapshots/${lines[1]}" ]
		grep -qx "commit=${t#*:}" "$STORE/snapshots/${lines[1]}.source"
		[ "${t%%:*}" != stable ] || log=$output
		# and a spec naming the tree-ish finds it
		printf 'subarch: amd64\ntarget: stage3\nversion_stamp: t\nrel_type: rel\nprofile: default/linux/amd64/23.0\nsnapshot_treeish: %s\nsource_subpath: rel/seed.tar.xz\n' \
			"${t%%:*}" > "$TMP/t.spec"
		run --separate-stderr env ZEOLITE_TARGETS_DIR="$SRCDIR/targets" "$ZEOLITE" -c "$TMP/empty.conf" \
			--storedir "$STORE" --json build --dry-run "$TMP/t.spec"
		[ "$status" -eq 0 ]
		[[ "$output" == *'"snapshot":{"name":"gentoo-'"${t%%:*}"'.sqfs"'* ]]
	done
	# catalyst-auto's parse of the line
	read -r TREEISH gitdir <<<"$(printf '%s\n' "$log" | grep -Eo 'Creating .* tree snapshot [0-9a-f]{40} from .*' | cut -d' ' -f5,7)"
	[ "$TREEISH" = "$c1" ] && [ "$gitdir" = "$STORE/repos/gentoo.git" ]
}
