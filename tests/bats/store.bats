#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Opening the store: layout made, unsafe stores refused with exit 65 and
# nothing in them changed.
load lib

@test "the store layout is created (by a command that writes)" {
	run "${Z[@]}" gc
	[ "$status" -eq 0 ]
	for d in snapshots cache/snapshots cache/seeds builds tmp packages kerncache locks; do
		[ -d "$STORE/$d" ]
	done
	[ "$(stat -c %a "$STORE")" = 755 ]
}

@test "a symlinked storedir is refused" {
	mkdir "$WORK/real"
	ln -s "$WORK/real" "$STORE"
	run --separate-stderr "${Z[@]}" status
	[ "$status" -eq 65 ]
	[ "${stderr_lines[0]}" = "zeolite: store '$STORE': '$STORE' is a symlink" ]
	[[ "${stderr_lines[1]}" == "zeolite: hint: point storedir"* ]]
	[ -z "$(ls -A "$WORK/real")" ]
}

@test "a group-writable storedir is refused" {
	mkdir -m 775 "$STORE"
	chmod 775 "$STORE"
	run --separate-stderr "${Z[@]}" status
	[ "$status" -eq 65 ]
	[[ "${stderr_lines[0]}" == *"'$STORE' is writable by group or others (mode 0775)" ]]
	[[ "${stderr_lines[1]}" == "zeolite: hint: chmod go-w"* ]]
	[ -z "$(ls -A "$STORE")" ]
}

@test "a part of the store owned by someone else is refused, nothing changed" {
	"${Z[@]}" gc >/dev/null
	echo data > "$STORE/snapshots/keep.sqfs"
	chown 4321:4321 "$STORE/cache"
	before=$(cd "$STORE" && find . -printf '%p %m %u\n' | sort)
	run --separate-stderr "${Z[@]}" prepare keep.sqfs
	[ "$status" -eq 65 ]
	[[ "${stderr_lines[0]}" == *"'$STORE/cache' is owned by uid 4321, not by uid 0 who runs zeolite" ]]
	[[ "${stderr_lines[1]}" == "zeolite: hint: chown "*"--storedir"* ]]
	after=$(cd "$STORE" && find . -printf '%p %m %u\n' | sort)
	[ "$before" = "$after" ]
	[ "$(cat "$STORE/snapshots/keep.sqfs")" = data ]
}

@test "a symlink in place of a store directory is refused" {
	mkdir -p "$STORE"
	ln -s /etc "$STORE/snapshots"
	run --separate-stderr "${Z[@]}" status
	[ "$status" -eq 65 ]
	[[ "${stderr_lines[0]}" == *"'$STORE/snapshots' is a symlink" ]]
}

@test "storedir comes from the config, --storedir overrides it" {
	printf 'storedir = "%s/fromconf"\n' "$WORK" > "$WORK/z.conf"
	run "$ZEOLITE" -c "$WORK/z.conf" gc
	[ "$status" -eq 0 ]
	[ -d "$WORK/fromconf/snapshots" ]
	run "$ZEOLITE" -c "$WORK/z.conf" --storedir "$WORK/flag" gc
	[ "$status" -eq 0 ]
	[ -d "$WORK/flag/snapshots" ]
}

@test "status lists snapshot files, not the lock files catalyst's snapshot leaves beside them" {
	mkdir -p "$STORE/snapshots"
	make_snapshot "$STORE/snapshots/gentoo-stable.tar.xz" 10
	: > "$STORE/snapshots/gentoo-stable.lock"
	run "${Z[@]}" status
	[ "$status" -eq 0 ]
	[[ "$output" == *"gentoo-stable.tar.xz"* ]]
	[[ "$output" != *"gentoo-stable.lock"* ]]
}
