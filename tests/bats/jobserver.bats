#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# build -j's jobserver (no jobserver-fifo in the config): `jobs` tokens for
# the whole run, a FIFO per build bound at /run/zeolite-jobserver and named
# by MAKEFLAGS, tokens of a killed build given back.  The builds' fsscripts
# are jobserver clients as make is one (job 0 in the implicit slot, every
# other job with a token), recording in the distdir how many jobs run.
load lib

setup_file() {
	export FIX=$(mktemp -d /var/tmp/zeolite-jobserver.XXXXXX)
	"$SRCDIR/tests/seed/make-fixtures.sh" "$ZEOLITE" "$FIX/store" "$FIX" > "$FIX/fixtures.log" 2>&1
	export ZEOLITE_TARGETS_DIR="$SRCDIR/targets"
	grep -qx 'jobs = 2' "$FIX/zeolite.conf"
}

teardown_file() {
	rm -rf "$FIX"
}

setup() {
	WORK=$(mktemp -d /var/tmp/zeolite-bats.XXXXXX)
	Z=("$ZEOLITE" -c "$FIX/zeolite.conf")
	T=t$BATS_TEST_NUMBER
	D="$FIX/distfiles/js-$T" # /var/cache/distfiles/js-$T in the chroot
	mkdir -p "$D"
}

teardown() {
	if [ -f "$WORK/pids" ]; then
		while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$WORK/pids"
	fi
	rm -rf "$WORK" "$D"
}

# client FILE TAG JOBS [EXTRA]: an fsscript running JOBS jobs under the
# jobserver; EXTRA (shell) runs first, with the FIFO open on fd 3.
client() {
	cat > "$1" <<SH
#!/bin/sh
set -e
tag=$2 n=$3 d=/var/cache/distfiles/js-$T
echo "MAKEFLAGS=\$MAKEFLAGS" > "\$d/env.\$tag"
echo "FEATURES=\$FEATURES" >> "\$d/env.\$tag"
fifo=\${MAKEFLAGS##*--jobserver-auth=fifo:}
fifo=\${fifo%% *}
[ -p "\$fifo" ] && echo "fifo \$fifo" >> "\$d/env.\$tag"
exec 3<>"\$fifo"
${4:-}
work() {
	mkdir "\$d/run.\$tag.\$1"
	ls "\$d" | grep -c '^run\.' >> "\$d/counts"
	i=0
	while [ \$i -lt 20000 ]; do i=\$((i + 1)); done
	rmdir "\$d/run.\$tag.\$1"
}
work 0 &
j=1
while [ \$j -lt \$n ]; do
	dd bs=1 count=1 <&3 > /dev/null 2>&1
	( work \$j; printf + >&3 ) &
	j=\$((j + 1))
done
wait
SH
	chmod 0755 "$1"
}

# spec FILE STAMP FSSCRIPT: a stage4 from the fixtures' seed.
spec() {
	sed -e "s|^version_stamp:.*|version_stamp: $2|" -e "s|^stage4/fsscript:.*|stage4/fsscript: $3|" \
		-e '/^stage4\/root_overlay:/d' "$FIX/stage4.spec" > "$1"
}

@test "jobs = 2, three builds at once: never more than 2 + 3 jobs; MAKEFLAGS, FEATURES; the pool full at the end" {
	for t in a b c; do
		client "$WORK/$t.sh" $t 5
		spec "$WORK/$t.spec" $T-$t "$WORK/$t.sh"
	done
	run --separate-stderr "${Z[@]}" build -j 3 "$WORK/a.spec" "$WORK/b.spec" "$WORK/c.spec"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"zeolite: jobserver: 2 tokens for the run"* ]]
	for t in a b c; do
		grep -qx "MAKEFLAGS=--jobserver-auth=fifo:/run/zeolite-jobserver" "$D/env.$t"
		grep -q "^FEATURES=.* jobserver-token" "$D/env.$t"
		grep -qx "fifo /run/zeolite-jobserver" "$D/env.$t"
	done
	# 3 builds x 5 jobs, each job counting the jobs running as it starts.
	[ "$(wc -l < "$D/counts")" -eq 15 ]
	max=$(sort -n "$D/counts" | tail -1)
	echo "at most $max jobs at once"
	[ "$max" -le 5 ]
	[[ "$stderr" == *"zeolite: jobserver: 2 of 2 tokens in the pool"* ]]
	# The FIFOs are gone with the run.
	[ -z "$(find "$FIX/store/tmp" -maxdepth 1 -name 'jobserver-*')" ]
}

@test "a build killed holding tokens: they go back to the pool, the next build gets them all" {
	mkfifo "$D/took.fifo" "$D/block.fifo"
	# A takes both tokens, says so, and blocks until it is killed.
	client "$WORK/a.sh" a 1 'dd bs=1 count=2 <&3 > /dev/null 2>&1
echo took > "$d/took.fifo"
read -r _ < "$d/block.fifo"'
	# B, after A: both tokens within 30 s, or it fails.
	client "$WORK/b.sh" b 1 'timeout 30 dd bs=1 count=2 <&3 > "$d/got.b" 2>/dev/null
printf ++ >&3'
	spec "$WORK/a.spec" $T-a "$WORK/a.sh"
	spec "$WORK/b.spec" $T-b "$WORK/b.sh"
	"${Z[@]}" build -j 1 "$WORK/a.spec" "$WORK/b.spec" > "$WORK/out" 2> "$WORK/err" &
	echo $! >> "$WORK/pids"
	zpid=$!
	[ "$(timeout 120 cat "$D/took.fifo")" = took ]
	pid=$(sed -n "s/^zeolite: build stage4-amd64-$T-a: started (pid \([0-9]*\),.*/\1/p" "$WORK/err")
	[ -n "$pid" ]
	kill -9 "$pid"
	status=0
	wait "$zpid" || status=$?
	cat "$WORK/err"
	[ "$status" -eq 1 ]
	grep -q "build stage4-amd64-$T-a: jobserver: 2 token(s) back to the pool: 0 from its FIFO, 2 lost with its processes" "$WORK/err"
	grep -E "^stage4-amd64-$T-a +failed .* killed by signal 9" "$WORK/out"
	grep -E "^stage4-amd64-$T-b +done " "$WORK/out"
	[ "$(cat "$D/got.b")" = "++" ]
	grep -q "zeolite: jobserver: 2 of 2 tokens in the pool" "$WORK/err"
}

@test "a configured jobserver-fifo is bound into the chroot as it is, not brokered; a missing one is exit 65" {
	mkfifo "$WORK/js.fifo"
	exec 7<>"$WORK/js.fifo"
	printf +++ >&7
	{ cat "$FIX/zeolite.conf"; echo "jobserver-fifo = \"$WORK/js.fifo\""; } > "$WORK/js.conf"
	client "$WORK/a.sh" a 4
	spec "$WORK/a.spec" $T-a "$WORK/a.sh"
	run --separate-stderr "$ZEOLITE" -c "$WORK/js.conf" build "$WORK/a.spec"
	[ "$status" -eq 0 ]
	grep -qx "MAKEFLAGS=--jobserver-auth=fifo:/run/zeolite-jobserver" "$D/env.a"
	grep -qx "fifo /run/zeolite-jobserver" "$D/env.a"
	[ "$(wc -l < "$D/counts")" -eq 4 ]
	[[ "$stderr" != *"tokens for the run"* ]]
	# Every token taken from it was written back.
	[ "$(timeout 10 dd bs=1 count=3 <&7 2>/dev/null)" = "+++" ]
	exec 7>&-
	{ cat "$FIX/zeolite.conf"; echo "jobserver-fifo = \"$WORK/none.fifo\""; } > "$WORK/none.conf"
	run --separate-stderr "$ZEOLITE" -c "$WORK/none.conf" build -j 2 "$WORK/a.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"zeolite: build: jobserver-fifo '$WORK/none.fifo': No such file or directory; nothing was built"* ]]
	[[ "$stderr" != *"started"* ]]
}
