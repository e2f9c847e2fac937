#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# zeolite plan --format slurm against a real Slurm: munged, slurmctld and
# slurmd (Debian's munge, slurmctld, slurmd, slurm-client) configured here
# for one node on localhost, started by setup_file and stopped by
# teardown_file.  The whole graph completes through Slurm in dependency
# order; a failing build's dependents never run.  Skipped, saying why,
# when the daemons are not installed or do not start.
load lib

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

setup_file() {
	local b
	for b in munged munge slurmctld slurmd sbatch scontrol sinfo; do
		if ! command -v "$b" > /dev/null && ! [ -x "/usr/sbin/$b" ]; then
			skip "$b is not installed (Debian: apt-get install munge slurmctld slurmd slurm-client; scripts/deps.sh installs them)"
		fi
	done
	export PATH="$PATH:/usr/sbin"
	export FIX=$(mktemp -d /var/tmp/zeolite-slurm.XXXXXX)
	chmod 0755 "$FIX"
	S="$FIX/slurm"
	mkdir -p "$S/state" "$S/spool" "$S/munge"
	chmod 0700 "$S/munge"
	head -c 1024 /dev/urandom > "$S/munge/munge.key"
	chmod 0600 "$S/munge/munge.key"
	if ! munged -f --socket="$S/munge/sock" --key-file="$S/munge/munge.key" --log-file="$S/munge/log" \
		--pid-file="$S/munge/pid" --seed-file="$S/munge/seed" > "$S/munged.out" 2>&1; then
		skip "munged does not start here: $(tail -1 "$S/munged.out")"
	fi
	local host
	host=$(hostname -s)
	cat > "$S/slurm.conf" <<CONF
ClusterName=zeolite-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$S/munge/sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=3600
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=zeolite Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
	export SLURM_CONF="$S/slurm.conf"
	if ! slurmctld -f "$SLURM_CONF" -i > "$S/ctld.out" 2>&1 || ! slurmd -f "$SLURM_CONF" > "$S/d.out" 2>&1 ||
		! wait_for sh -c '[ "$(sinfo -h -o %t)" = idle ]'; then
		skip "slurmctld/slurmd do not start here: $(tail -2 "$S/slurmctld.log" "$S/slurmd.log" 2>/dev/null | tr '\n' ' ')"
	fi
	"$SRCDIR/tests/seed/make-fixtures.sh" "$ZEOLITE" "$FIX/store" "$FIX" > "$FIX/fixtures.log" 2>&1
	export ZEOLITE_TARGETS_DIR="$SRCDIR/targets"
	printf '#!/bin/sh\necho "failing on purpose" >&2\nexit 3\n' > "$FIX/fail.sh"
	chmod 0755 "$FIX/fail.sh"
}

# Stop what setup_file started, by its pid files, and wait for each.
teardown_file() {
	local f p
	[ -n "${FIX:-}" ] || return 0
	for f in "$FIX/slurm/slurmd.pid" "$FIX/slurm/slurmctld.pid" "$FIX/slurm/munge/pid"; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		kill "$p" 2>/dev/null || continue
		wait_for sh -c "! kill -0 $p" || kill -9 "$p" 2>/dev/null || true
	done
	rm -rf "$FIX"
}

setup() {
	WORK=$(mktemp -d /var/tmp/zeolite-bats.XXXXXX)
	Z=("$ZEOLITE" -c "$FIX/zeolite.conf")
	OUT="$FIX/store/builds/23.0-default"
	T=t$BATS_TEST_NUMBER
}

teardown() {
	scancel --name=zeolite-test-barrier > /dev/null 2>&1 || true
	rm -rf "$WORK"
}

spec() {
	local file=$1 target=$2 stamp=$3 src=$4 fs=${5:-}
	{
		echo "target: $target"
		echo "version_stamp: $stamp"
		echo "source_subpath: $src"
		grep -E '^(subarch|rel_type|profile|snapshot_treeish|compression_mode):' "$FIX/stage3.spec"
		[ "$target" != stage1 ] || echo "update_seed: no"
		if [ "$target" = stage4 ]; then
			echo "stage4/packages: app-editors/vim"
			[ -z "$fs" ] || echo "stage4/fsscript: $fs"
		fi
	} > "$WORK/$file"
}

SEED=23.0-default/stage3-amd64-openrc-latest

# Submit the plan of the given specs from $WORK, then wait (sbatch --wait on
# a job after all of them) until every job has ended.
submit_and_wait() {
	"${Z[@]}" plan --format slurm "$@" > "$WORK/submit.sh"
	(cd "$WORK" && sh ./submit.sh) > "$WORK/jobs"
	cat "$WORK/jobs"
	local ids
	ids=$(cut -d' ' -f2 "$WORK/jobs" | paste -sd:)
	(cd "$WORK" && timeout 900 sbatch --wait --job-name=zeolite-test-barrier --dependency="afterany:$ids" \
		--wrap true) > /dev/null
}

# job NAME: its Slurm job id; field FIELD of `scontrol show job`.
job() { awk -v n="$1" '$1 == n { print $2 }' "$WORK/jobs"; }
field() { scontrol show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

@test "slurm: the whole graph completes through Slurm, each build after its seed's" {
	spec s3.spec stage3 $T-a $SEED
	spec s4.spec stage4 $T-b 23.0-default/stage3-amd64-$T-a
	spec s4b.spec stage4 $T-c 23.0-default/stage4-amd64-$T-b
	spec s1.spec stage1 $T-d $SEED
	submit_and_wait "$WORK/s4b.spec" "$WORK/s4.spec" "$WORK/s3.spec" "$WORK/s1.spec"
	for b in stage3-amd64-$T-a stage4-amd64-$T-b stage4-amd64-$T-c stage1-amd64-$T-d; do
		id=$(job "$b")
		[ -n "$id" ]
		echo "$b: job $id $(field "$id" JobState)"
		[ "$(field "$id" JobState)" = COMPLETED ]
		[ -f "$OUT/$b.tar.xz" ]
		grep -qx "$OUT/$b.tar.xz" "$WORK/slurm-$id.out"
	done
	# In dependency order: the seed's job ended before its dependent started.
	a=$(job stage3-amd64-$T-a) b=$(job stage4-amd64-$T-b) c=$(job stage4-amd64-$T-c)
	[ "$(field "$b" Dependency)" = "(null)" ] || [[ "$(field "$b" Dependency)" == afterok:$a* ]]
	[[ ! "$(field "$a" EndTime)" > "$(field "$b" StartTime)" ]]
	[[ ! "$(field "$b" EndTime)" > "$(field "$c" StartTime)" ]]
	grep -q "zeolite: build stage4-amd64-$T-c: seed 23.0-default/stage4-amd64-$T-b.tar.xz" "$WORK/slurm-$c.out"
}

@test "slurm: a failing build's dependents never run; the independent ones do" {
	spec s3.spec stage3 $T-a $SEED
	spec bad.spec stage4 $T-bad 23.0-default/stage3-amd64-$T-a "$FIX/fail.sh"
	spec dep.spec stage4 $T-dep 23.0-default/stage4-amd64-$T-bad
	spec dep2.spec stage4 $T-dep2 23.0-default/stage4-amd64-$T-dep
	spec s1.spec stage1 $T-ind $SEED
	submit_and_wait "$WORK/s3.spec" "$WORK/bad.spec" "$WORK/dep.spec" "$WORK/dep2.spec" "$WORK/s1.spec"
	[ "$(field "$(job stage3-amd64-$T-a)" JobState)" = COMPLETED ]
	[ "$(field "$(job stage1-amd64-$T-ind)" JobState)" = COMPLETED ]
	[ "$(field "$(job stage4-amd64-$T-bad)" JobState)" = FAILED ]
	for b in stage4-amd64-$T-dep stage4-amd64-$T-dep2; do
		id=$(job "$b")
		echo "$b: job $id $(field "$id" JobState) $(field "$id" Reason)"
		[ "$(field "$id" JobState)" = CANCELLED ]
		[ ! -e "$WORK/slurm-$id.out" ]
		[ ! -e "$OUT/$b.tar.xz" ]
	done
	[ -f "$OUT/stage1-amd64-$T-ind.tar.xz" ]
}
