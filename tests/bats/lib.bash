# SPDX-License-Identifier: GPL-2.0-or-later
bats_require_minimum_version 1.5.0
# Shared set-up for the bats tests: a private work dir per test (removed
# even when the test fails), a store in it, and helpers.
: "${ZEOLITE:?set ZEOLITE to the binary}"
: "${SHARED_DATA:=$(cd "$BATS_TEST_DIRNAME/../../../shared/data" 2>/dev/null && pwd)}"

setup() {
	WORK=$(mktemp -d /var/tmp/zeolite-bats.XXXXXX)
	STORE="$WORK/store"
	# No system config: each test says what it wants.
	printf '' > "$WORK/empty.conf"
	Z=("$ZEOLITE" -c "$WORK/empty.conf" --storedir "$STORE")
}

teardown() {
	# Kill anything a test left running (each test records its pids).
	if [ -f "$WORK/pids" ]; then
		while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$WORK/pids"
	fi
	rm -rf "$WORK"
}

# No process has a file open under DIR (a converter or unpacker killed
# with its parent must not go on writing into the store).
no_process_writes_in() {
	local dir=$1 fd t
	for fd in /proc/[0-9]*/fd/*; do
		t=$(readlink "$fd" 2>/dev/null) || continue
		[[ "$t" != "$dir"/* ]] || { echo "${fd%/fd/*} still has $t open"; return 1; }
	done
}

# Make a small snapshot tarball FILE with N files (default 50) under
# top-level directory TOP ("" for none).
make_snapshot() {
	local file=$1 n=${2:-50} top=${3:-}
	local src="$WORK/src.$$.$RANDOM" i
	mkdir -p "$src/$top/cat-a/pkg/files" "$src/$top/profiles"
	for i in $(seq 1 "$n"); do
		echo "EAPI=8 # $i $file" > "$src/$top/cat-a/pkg/pkg-$i.ebuild"
	done
	echo "gentoo" > "$src/$top/profiles/repo_name"
	ln -s ../profiles "$src/$top/cat-a/link"
	local z
	case "$file" in
	*.tar.xz) z=--xz ;;
	*.tar.zst) z=--zstd ;;
	*.tar.bz2) z=--bzip2 ;;
	*) z=--gzip ;;
	esac
	tar -C "$src" $z -cf "$file" "${top:-.}"
	rm -rf "$src"
}

# Tree digest: paths, types, modes, link targets and contents.
tree_digest() {
	(cd "$1" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort && \
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}

# wait_for COMMAND...: up to 60 s for COMMAND to succeed.  Only for what a
# test cannot be told of: a third-party daemon's readiness (glusterd,
# slurmctld: neither writes a file or a pipe when it is ready) or the end
# of a process that is not the shell's child.  Everything zeolite does is
# synchronised on its own files, FIFOs and locks instead.
wait_for() {
	local i
	for i in $(seq 1 120); do
		"$@" > /dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}
