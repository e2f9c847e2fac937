#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The command line contract (DESIGN.md §5): help, version, exit statuses,
# one-line error messages.
load lib

@test "--help goes to stdout, exit 0, lists the commands that exist" {
	run --separate-stderr "$ZEOLITE" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: zeolite [OPTIONS] COMMAND [ARGS...]"* ]]
	for c in check snapshot prepare status gc; do
		[[ "$output" == *"  $c "* ]]
	done
	[[ "$output" == *"-S SNAPSHOT"* ]]
	[ -z "$stderr" ]
}

@test "-h is --help" {
	run "$ZEOLITE" -h
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: zeolite"* ]]
}

@test "--version and -V print the version" {
	run "$ZEOLITE" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^zeolite\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	run "$ZEOLITE" -V
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^zeolite\ [0-9] ]]
}

@test "no command: exit 64 and a hint" {
	run --separate-stderr "$ZEOLITE"
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "zeolite: no command given" ]
	[ "${stderr_lines[1]}" = "Try 'zeolite --help' for more information." ]
}

@test "unknown command: exit 64" {
	run --separate-stderr "$ZEOLITE" frobnicate
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "zeolite: unknown command 'frobnicate'" ]
}

@test "unknown option: exit 64 naming it" {
	run --separate-stderr "$ZEOLITE" --bogus check x
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "zeolite: unknown option '--bogus'" ]
	run --separate-stderr "$ZEOLITE" -x check
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "zeolite: unknown option '-x'" ]
}

@test "missing option argument: exit 64" {
	run --separate-stderr "$ZEOLITE" --storedir
	[ "$status" -eq 64 ]
	[[ "${stderr_lines[0]}" == "zeolite: "*"--storedir"* ]]
}

@test "--lock-timeout must be a number of seconds" {
	run --separate-stderr "$ZEOLITE" --lock-timeout soon status
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "zeolite: --lock-timeout: 'soon' is not a number of seconds" ]
	run --separate-stderr "$ZEOLITE" --lock-timeout -1 status
	[ "$status" -eq 64 ]
}

@test "every command has its own --help" {
	for c in check snapshot prepare status gc; do
		run --separate-stderr "$ZEOLITE" "$c" --help
		[ "$status" -eq 0 ]
		[[ "$output" == "Usage: zeolite $c"* ]]
	done
}

@test "command usage errors: exit 64" {
	run "$ZEOLITE" check
	[ "$status" -eq 64 ]
	run "${Z[@]}" prepare
	[ "$status" -eq 64 ]
	run "${Z[@]}" prepare a b
	[ "$status" -eq 64 ]
	run "${Z[@]}" prepare --hold a
	[ "$status" -eq 64 ]
	run "${Z[@]}" gc --keep many
	[ "$status" -eq 64 ]
	run "${Z[@]}" status extra
	[ "$status" -eq 64 ]
	run "${Z[@]}" snapshot --format zip
	[ "$status" -eq 64 ]
}

@test "a missing config file given with -c: exit 65 naming it" {
	run --separate-stderr "$ZEOLITE" -c "$WORK/nope.conf" check x.spec
	[ "$status" -eq 65 ]
	[[ "${stderr_lines[0]}" == "zeolite: $WORK/nope.conf: "* ]]
}

@test "an error is one line on stderr, nothing on stdout" {
	run --separate-stderr "${Z[@]}" prepare no-such-snapshot
	[ "$status" -eq 65 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "zeolite: prepare: snapshot 'no-such-snapshot': not found"* ]]
}
