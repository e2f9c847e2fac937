#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# catalyst-auto's (gentoo/releng tools/catalyst-auto) three command lines,
# verbatim, through zeolite's catalyst aliases.  The build lines are given a
# spec that cannot resolve: what is tested is that zeolite reads them as
# catalyst does (exit 65 on the spec, not 64 on the command line).
load lib

catalyst() { "$ZEOLITE" --storedir "$STORE" "$@"; }

@test "catalyst -a -c CONF -f SPEC: parsed, reaches the spec" {
	CATALYST_CONFIG="$WORK/empty.conf"
	specpath="$WORK/missing.spec"
	run --separate-stderr catalyst -a -c "${CATALYST_CONFIG}" -f "${specpath}"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"missing.spec"* ]]
}

@test "catalyst --purgetmponly -c CONF -f SPEC: parsed, reaches the spec" {
	CATALYST_CONFIG="$WORK/empty.conf"
	specpath="$WORK/missing.spec"
	run --separate-stderr catalyst --purgetmponly -c "${CATALYST_CONFIG}" -f "${specpath}"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"missing.spec"* ]]
}

@test "catalyst -c CONF -s TREEISH: parsed, reaches the repository" {
	CATALYST_CONFIG="$WORK/empty.conf"
	run --separate-stderr catalyst -c "${CATALYST_CONFIG}" -s 20260101T000000Z
	[ "$status" -ne 64 ]
	[[ "$stderr" != *"unknown option"* ]]
}

@test "catalyst --help | grep -q git-treeish" {
	catalyst --help | grep -q "git-treeish"
}
