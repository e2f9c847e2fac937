#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 12 item 5: `zeolite prepare` under fault injection.  strace makes
# the Nth call of one syscall fail with one errno (-e inject=SYS:error=E:
# when=N; strace counts calls per thread, so "the Nth" is the Nth of each
# thread), for every syscall that opens, writes, syncs, renames, links or
# locks.  For every run:
#   - it exits 0 with a whole tree, or non-zero (not a crash) with one
#     message that names the operation's error and a path or the snapshot;
#   - nothing is published that is not whole (any cache/<kind>/<id> there
#     holds the reference tree);
#   - the next plain run succeeds, gives the reference tree and leaves no
#     .tmp.* behind.
# ZEOLITE_FAULTS=full (make check-faults): every call of every syscall,
# 4 errnos, tree and image entries.  Otherwise (make check): EIO at the
# first, middle and last call of each syscall, tree entries only.
load lib

json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

SYSCALLS="openat mkdir mkdirat write pwrite64 fsync syncfs renameat renameat2 unlinkat linkat symlinkat fcntl"

setup_file() {
	command -v strace > /dev/null || return 0
	export FDIR=$(mktemp -d /var/tmp/zeolite-faults.XXXXXX)
	mkdir -p "$FDIR/src/profiles" "$FDIR/src/cat-a/pkg/files"
	for i in $(seq 1 40); do echo "EAPI=8 $i" > "$FDIR/src/cat-a/pkg/pkg-$i.ebuild"; done
	echo gentoo > "$FDIR/src/profiles/repo_name"
	ln -s ../profiles "$FDIR/src/cat-a/link"
	tar -C "$FDIR/src" -cJf "$FDIR/snap.tar.xz" .
	tree_digest "$FDIR/src" > "$FDIR/ref.digest"
	sha256sum < "$FDIR/snap.tar.xz" | cut -c1-32 > "$FDIR/id"
}

teardown_file() {
	[ -z "${FDIR:-}" ] || rm -rf "$FDIR"
}

strerror() {
	python3 -c 'import errno,os,sys; print(os.strerror(getattr(errno, sys.argv[1])))' "$1"
}

# Whatever is published under the id must be whole.
check_published() {
	local kind=$1 e="$STORE/cache/$1/$(cat "$FDIR/id")"
	[ -e "$e" ] || [ -L "$e" ] || return 0
	[ -d "$e" ] && [ ! -L "$e" ] && [ -f "$e/stamp" ] || { echo "malformed entry published: $(ls -la "$e")"; return 1; }
	if [ "$kind" = images ]; then
		[ -f "$e/tree/image.sqfs" ] || { echo "image entry without its image"; return 1; }
		rdsquashfs -q -l / "$e/tree/image.sqfs" > /dev/null || { echo "a broken image published"; return 1; }
	else
		[ "$(tree_digest "$e/tree")" = "$(cat "$FDIR/ref.digest")" ] || { echo "a partial tree published"; return 1; }
	fi
}

# The path a run printed is whole.
check_served() {
	local kind=$1 p=$2
	if [ "$kind" = images ]; then
		[ -f "$p" ] && rdsquashfs -q -l / "$p" > /dev/null
	else
		[ "$(tree_digest "$p")" = "$(cat "$FDIR/ref.digest")" ]
	fi
}

# sweep KIND ERRNOS MODE: MODE "all" (every call) or "sample".
sweep() {
	local kind=$1 errnos=$2 mode=$3 flag=
	[ "$kind" = images ] && flag=--image
	local runs=0 failed=0 clear=0 wrong=0 nextfail=0 unclear=""
	for sys in $SYSCALLS; do
		rm -rf "$STORE"
		strace -f -qq -e trace=$sys -o "$WORK/count" "${Z[@]}" prepare $flag "$FDIR/snap.tar.xz" > /dev/null
		local n=$(grep -c "$sys(" "$WORK/count" || true)
		[ "$n" -gt 0 ] || continue
		local points
		if [ "$mode" = all ]; then points=$(seq 1 "$n"); else points=$(printf '%s\n' 1 $(( (n + 1) / 2 )) "$n" | sort -un); fi
		for err in $errnos; do
			local text=$(strerror "$err")
			for at in $points; do
				rm -rf "$STORE"
				run --separate-stderr timeout 120 strace -f -qq -o /dev/null -e trace=$sys \
					-e inject=$sys:error=$err:when=$at "${Z[@]}" prepare $flag "$FDIR/snap.tar.xz"
				runs=$((runs + 1))
				local what="$kind $sys:$err:when=$at"
				[ "$status" -lt 124 ] && [ "$status" -ne 99 ] || { echo "$what: status $status: $stderr"; return 1; }
				if [ "$status" -eq 0 ]; then
					check_served "$kind" "$output" || { echo "$what: exit 0 but not whole: $output"; wrong=$((wrong + 1)); }
				else
					failed=$((failed + 1))
					# The errno's text (a lock conflict may say either of
					# POSIX's EACCES and EAGAIN), and more than the snapshot's
					# name: "snapshot 'x': Input/output error" is not clear.
					local rest=${stderr#"zeolite: prepare: snapshot 'snap.tar.xz': "}
					if { [[ "$stderr" == "zeolite: "*"$text"* ]] ||
					     [[ $sys = fcntl && $err = EACCES && "$stderr" == *"Resource temporarily unavailable"* ]] ||
					     [[ "$stderr" == "zeolite: prepare: cannot load zeolite-archive.so "* ]]; } &&
					   [ "$rest" != "$text" ]; then
						clear=$((clear + 1))
					else
						unclear="$unclear
$what: $stderr"
					fi
				fi
				check_published "$kind" || { echo "$what"; wrong=$((wrong + 1)); }
				run --separate-stderr "${Z[@]}" prepare $flag "$FDIR/snap.tar.xz"
				if [ "$status" -ne 0 ] || ! check_served "$kind" "$output" ||
				   ls -A "$STORE/cache/$kind" | grep -q '^\.tmp\.'; then
					echo "$what: next run: $status $stderr"
					nextfail=$((nextfail + 1))
				fi
			done
		done
	done
	echo "# $kind ($mode, $errnos): $runs runs, $failed failed, $clear with a clear message, wrongly published $wrong, failed next runs $nextfail" >&3
	[ -z "$unclear" ] || echo "unclear messages:$unclear"
	[ "$wrong" -eq 0 ] && [ "$nextfail" -eq 0 ] && [ -z "$unclear" ]
}

@test "prepare under fault injection: a sample (EIO at the first, middle and last call of each syscall)" {
	command -v strace > /dev/null || skip "no strace"
	[ "${ZEOLITE_FAULTS:-}" != full ] || skip "the full sweep runs instead"
	sweep snapshots EIO sample
}

@test "prepare --image under fault injection: a sample (EIO at the first, middle and last call of each syscall)" {
	command -v strace > /dev/null || skip "no strace"
	[ "${ZEOLITE_FAULTS:-}" != full ] || skip "the full sweep runs instead"
	sweep images EIO sample
}

@test "prepare under fault injection: every call of each syscall, 4 errnos (ZEOLITE_FAULTS=full)" {
	command -v strace > /dev/null || skip "no strace"
	[ "${ZEOLITE_FAULTS:-}" = full ] || skip "make check-faults runs the full sweep"
	sweep snapshots "EIO ENOSPC EACCES EROFS" all
}

@test "prepare --image under fault injection: every call of each syscall (ZEOLITE_FAULTS=full)" {
	command -v strace > /dev/null || skip "no strace"
	[ "${ZEOLITE_FAULTS:-}" = full ] || skip "make check-faults runs the full sweep"
	sweep images "EIO ENOSPC" all
}

# The pack step (tests/bats/pack.bats has the full sweep, PACK_FAULTS=1):
# a sample, so that `make check` covers it too.  After each fault no side
# file stands without its tarball or beside another build's (the .sha256
# and DIGESTS there verify against the tarball), and the next run is clean.
pack_set_consistent() {
	local d=$1 T=s.tar.gz
	if [ ! -e "$d/$T" ]; then
		[ -z "$(ls "$d" | grep "^$T\." || true)" ] || { echo "side files without their tarball"; return 1; }
		return 0
	fi
	# While a committed set rolls forward the tarball may stand without
	# its side files for a moment (docs/build.md, "Outputs"); never with
	# another build's.
	[ ! -e "$d/$T.sha256" ] || (cd "$d" && sha256sum -c --quiet "$T.sha256") ||
		{ echo ".sha256 does not match"; return 1; }
	[ ! -e "$d/$T.DIGESTS" ] ||
		(cd "$d" && grep -A1 '^# SHA512 HASH$' "$T.DIGESTS" | grep -v -e '^#' -e '^--$' | grep -v CONTENTS |
			sha512sum -c --quiet) || { echo "DIGESTS do not match"; return 1; }
}

@test "the pack step under fault injection: a sample (EIO at the first, middle and last call)" {
	command -v strace > /dev/null || skip "no strace"
	[ -n "${PACK_TREE:-}" ] || skip "no pack-tree"
	mkdir -p "$WORK/v1/etc" "$WORK/v2/etc" "$WORK/out"
	echo one > "$WORK/v1/etc/version"
	echo two > "$WORK/v2/etc/version"
	runs=0 failed=0
	for sys in openat write fsync renameat renameat2 unlinkat; do
		rm -rf "$WORK/out"; mkdir "$WORK/out"
		"$PACK_TREE" "$WORK/v1" "$WORK/out" s sha512
		n=$(strace -f -qq -e trace=$sys -o /dev/stdout "$PACK_TREE" "$WORK/v2" "$WORK/out" s sha512 2>/dev/null | grep -c "$sys(" || true)
		[ "$n" -gt 0 ] || continue
		for at in $(printf '%s\n' 1 $(( (n + 1) / 2 )) "$n" | sort -un); do
			rm -rf "$WORK/out"; mkdir "$WORK/out"
			"$PACK_TREE" "$WORK/v1" "$WORK/out" s sha512
			run --separate-stderr strace -f -qq -o /dev/null -e trace=$sys -e inject=$sys:error=EIO:when=$at \
				"$PACK_TREE" "$WORK/v2" "$WORK/out" s sha512
			runs=$((runs + 1))
			[ "$status" -lt 124 ] || { echo "$sys #$at: status $status"; false; }
			pack_set_consistent "$WORK/out" || { echo "$sys #$at"; ls -a "$WORK/out"; false; }
			if [ "$status" -ne 0 ]; then
				failed=$((failed + 1))
				[[ "$stderr" == *"Input/output error"* ]] || { echo "$sys #$at: unclear: $stderr"; false; }
			fi
			run --separate-stderr "$PACK_TREE" "$WORK/v2" "$WORK/out" s sha512
			[ "$status" -eq 0 ] || { echo "$sys #$at: next run: $stderr"; false; }
			pack_set_consistent "$WORK/out"
			tar -xOzf "$WORK/out/s.tar.gz" ./etc/version | grep -q two
			[ -z "$(ls -A "$WORK/out" | grep '^\.' || true)" ] || { echo "$sys #$at: leftovers: $(ls -A "$WORK/out")"; false; }
		done
	done
	echo "# pack (sample, EIO): $runs runs, $failed failed, inconsistent 0, failed next runs 0" >&3
}
