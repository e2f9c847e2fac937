#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# Config files through the command line: catalyst.conf works with -c,
# repeated -c override in order, errors are FILE:LINE and exit 78 (EX_CONFIG).
load lib

CONF="$BATS_TEST_DIRNAME/../data/conf"

@test "a catalyst.conf given with -c works" {
	mkdir "$STORE"
	run --separate-stderr "$ZEOLITE" -c "$CONF/catalyst.conf" --storedir "$STORE" status
	[ "$status" -eq 0 ]
}

@test "later -c files override earlier ones" {
	printf 'storedir = "%s/one"\nlock_timeout = 5\n' "$WORK" > "$WORK/1.conf"
	printf 'storedir = "%s/two"\n' "$WORK" > "$WORK/2.conf"
	run "$ZEOLITE" -c "$WORK/1.conf" -c "$WORK/2.conf" gc
	[ "$status" -eq 0 ]
	[ -d "$WORK/two/snapshots" ]
	[ ! -e "$WORK/one" ]
}

@test "%(storedir)s substitution" {
	printf 'storedir = "%s/sub"\nport_logdir = "%%(storedir)s/logs"\n' "$WORK" > "$WORK/s.conf"
	run "$ZEOLITE" -c "$WORK/s.conf" gc
	[ "$status" -eq 0 ]
	printf 'port_logdir = "%%(nosuch)s/logs"\n' > "$WORK/bad.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/bad.conf" status
	[ "$status" -eq 78 ]
	[[ "$stderr" == "zeolite: $WORK/bad.conf:1: "* ]]
}

@test "a bad config: FILE:LINE, exit 78, store untouched" {
	printf 'storedir = "%s/x"\njobs = "many"\n' "$WORK" > "$WORK/bad.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/bad.conf" status
	[ "$status" -eq 78 ]
	[[ "$stderr" == "zeolite: $WORK/bad.conf:2: "*"jobs"* ]]
	[ ! -e "$WORK/x" ]
	printf 'lock_timeout = 1.5\n' > "$WORK/float.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/float.conf" status
	[ "$status" -eq 78 ]
	[[ "$stderr" == "zeolite: $WORK/float.conf:1: "* ]]
	printf 'frobnicate = 1\n' > "$WORK/unknown.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/unknown.conf" status
	[ "$status" -eq 78 ]
	[ "$stderr" = "zeolite: $WORK/unknown.conf:1: unknown key 'frobnicate'" ]
	printf 'x = [1,\n' > "$WORK/syntax.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/syntax.conf" status
	[ "$status" -eq 78 ]
	[[ "$stderr" == "zeolite: $WORK/syntax.conf:"* ]]
}

# ---- config discovery without -c (issue 10) ----------------------------

@test "no -c: /etc/zeolite/zeolite.conf first, else /etc/catalyst/catalyst.conf" {
	etc="$WORK/etc"
	mkdir -p "$etc/catalyst" "$etc/zeolite" "$WORK/cstore" "$WORK/zstore"
	printf 'storedir = "%s"\n' "$WORK/cstore" > "$etc/catalyst/catalyst.conf"
	run --separate-stderr env ZEOLITE_TEST_SYSCONFDIR="$etc" "$ZEOLITE" status
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "store $WORK/cstore" ]
	printf 'storedir = "%s"\n' "$WORK/zstore" > "$etc/zeolite/zeolite.conf"
	run --separate-stderr env ZEOLITE_TEST_SYSCONFDIR="$etc" "$ZEOLITE" status
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "store $WORK/zstore" ]
}

@test "a catalyst.conf that sets no storedir means catalyst's /var/tmp/catalyst, found in /etc or given with -c" {
	[ "$(id -u)" -eq 0 ] && command -v unshare > /dev/null || skip "needs root and unshare for a private /var/tmp"
	etc=$(mktemp -d /tmp/zeolite-etc.XXXXXX)
	mkdir -p "$etc/catalyst"
	printf 'options = ["bindist"]\n' > "$etc/catalyst/catalyst.conf"
	printf 'options = ["bindist"]\n' > "$etc/other.conf"
	# /var/tmp is a tmpfs in a mount namespace of its own: nothing real is touched
	run --separate-stderr unshare -m sh -c 'mount -t tmpfs none /var/tmp &&
		mkdir /var/tmp/catalyst /var/tmp/zeolite &&
		ZEOLITE_TEST_SYSCONFDIR="$1" "$2" status | head -n1 &&
		"$2" -c "$1/catalyst/catalyst.conf" status | head -n1 &&
		"$2" -c "$1/other.conf" status | head -n1' sh "$etc" "$ZEOLITE"
	rm -rf "$etc"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "store /var/tmp/catalyst" ]
	[ "${lines[1]}" = "store /var/tmp/catalyst" ]
	[ "${lines[2]}" = "store /var/tmp/zeolite" ]
}
