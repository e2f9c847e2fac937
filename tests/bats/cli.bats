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

@test "a missing config file given with -c: exit 66 naming it" {
	run --separate-stderr "$ZEOLITE" -c "$WORK/nope.conf" check x.spec
	[ "$status" -eq 66 ]
	[[ "${stderr_lines[0]}" == "zeolite: $WORK/nope.conf: "* ]]
}

@test "an error is one line on stderr, nothing on stdout" {
	run --separate-stderr "${Z[@]}" prepare no-such-snapshot
	[ "$status" -eq 65 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "zeolite: prepare: snapshot 'no-such-snapshot': not found"* ]]
}

# ---- options and operands in any order (issue 10) ----------------------

@test "every command: options after operands are options; unknown ones named per command" {
	for cmd in build check snapshot prepare status gc; do
		run --separate-stderr "${Z[@]}" $cmd OPERAND --help
		[ "$status" -eq 0 ]
		[[ "$output" == "Usage: zeolite $cmd"* ]]
		run --separate-stderr "${Z[@]}" $cmd OPERAND --x
		[ "$status" -eq 64 ]
		[ "${stderr_lines[0]}" = "zeolite: $cmd: unknown option '--x'" ]
		[ "${stderr_lines[1]}" = "Try 'zeolite $cmd --help' for more information." ]
		run --separate-stderr "${Z[@]}" $cmd -Y
		[ "$status" -eq 64 ]
		[ "${stderr_lines[0]}" = "zeolite: $cmd: unknown option '-Y'" ]
	done
}

@test "build SPEC --dry-run reads --dry-run as an option, not a second spec" {
	printf 'target: stage3\n' > "$WORK/x.spec"
	run --separate-stderr "${Z[@]}" build "$WORK/x.spec" --dry-run
	[[ "$stderr" != *"--dry-run"* ]]
	[ ! -e "$STORE/tmp" ] || [ -z "$(ls -A "$STORE/tmp")" ]
	# --enter-chroot after the operand is seen (and, without a terminal,
	# refused) before anything is read
	run --separate-stderr "${Z[@]}" build "$WORK/x.spec" --enter-chroot < /dev/null
	[ "$status" -eq 64 ]
	[[ "${stderr_lines[0]}" == "zeolite: build: --enter-chroot needs a terminal on stdin" ]]
}

@test "-- ends the options: what follows is an operand" {
	run --separate-stderr "${Z[@]}" check -- --help
	[ "$status" -ne 0 ]
	[[ "$output" != *"Usage:"* ]]
	[[ "$stderr" == *"--help"* ]]
}

@test "global options are accepted after the command and after -f" {
	run --separate-stderr "$ZEOLITE" status -c "$WORK/missing.conf"
	[ "$status" -eq 66 ]
	[[ "$stderr" == *"$WORK/missing.conf: cannot read config file"* ]]
	run --separate-stderr "$ZEOLITE" -f "$WORK/x.spec" -c "$WORK/missing.conf"
	[ "$status" -eq 66 ]
	[[ "$stderr" == *"$WORK/missing.conf: cannot read config file"* ]]
}

@test "--enter-chroot is read, never ignored, in every position; -F is read in every position" {
	for args in "--enter-chroot -f S" "-f S --enter-chroot" "build S --enter-chroot" "--enter-chroot build S"; do
		run --separate-stderr "${Z[@]}" $args < /dev/null
		[ "$status" -eq 64 ]
		[[ "${stderr_lines[0]}" == *"--enter-chroot needs a terminal on stdin" ]]
	done
	for args in "-F -f $WORK/no.spec" "-f $WORK/no.spec -F" "--fetchonly -f $WORK/no.spec" "build $WORK/no.spec --fetchonly"; do
		run --separate-stderr "${Z[@]}" $args
		[ "$status" -eq 65 ]
		[[ "$stderr" == *"no.spec"* ]]
	done
}

@test "--log-level: a bad level is a usage error; --log-file takes the messages" {
	run --separate-stderr "${Z[@]}" --log-level loud status
	[ "$status" -eq 64 ]
	[[ "${stderr_lines[0]}" == "zeolite: --log-level: 'loud' is not one of"* ]]
	run --separate-stderr "${Z[@]}" --log-file "$WORK/log" -c "$WORK/missing.conf" status
	[ "$status" -eq 66 ]
	grep -q 'error   : .*missing.conf: cannot read config file' "$WORK/log"
	[[ "$stderr" == *"missing.conf: cannot read config file"* ]]
}

@test "--help names git-treeish and every catalyst flag" {
	run --separate-stderr "$ZEOLITE" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"git-treeish"* ]]
	for f in -a -p -P -T -F -d --log-level --log-file --color --nocolor --enter-chroot --file --snapshot --configs -V -v; do
		[[ "$output" == *" $f"* ]]
	done
}

@test "catalyst's --trace, --profile, --versioned-cachedir are refused in every position; --unversioned-cachedir is its default" {
	for f in --trace --profile --versioned-cachedir; do
		for args in "$f -f S" "-f S $f" "build S $f" "$f status"; do
			run --separate-stderr "${Z[@]}" $args
			[ "$status" -eq 64 ]
			[[ "${stderr_lines[0]}" == "zeolite: "*"$f "*"(nothing was done)" ]]
		done
	done
	mkdir -p "$STORE"
	run --separate-stderr "${Z[@]}" --unversioned-cachedir status
	[ "$status" -eq 0 ]
	run --separate-stderr "${Z[@]}" status --unversioned-cachedir
	[ "$status" -eq 0 ]
}

@test "each catalyst build flag in each of catalyst's positions reaches the spec" {
	for f in -a --clear-autoresume -p --purge -P --purgeonly -T --purgetmponly -F --fetchonly; do
		for args in "$f -f $WORK/no.spec" "-f $WORK/no.spec $f" "$f --file $WORK/no.spec" \
			"build $WORK/no.spec $f" "$f build $WORK/no.spec" "-c $WORK/empty.conf $f -f $WORK/no.spec" \
			"$f -c $WORK/empty.conf -f $WORK/no.spec -d" "-d --log-level info $f -f $WORK/no.spec --nocolor"; do
			run --separate-stderr "${Z[@]}" $args
			[ "$status" -eq 65 ]
			[[ "$stderr" == *"no.spec"* ]]
		done
	done
}
