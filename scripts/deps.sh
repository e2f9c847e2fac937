#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install the Debian packages zeolite's build, tests and demo need; say
# what is installed; do nothing when everything is present.
set -eu

packages="meson ninja-build pkg-config gcc git python3 make
libarchive-dev nettle-dev libssl-dev libcmocka-dev libsquashfs-dev squashfs-tools-ng
bats clang libclang-rt-14-dev valgrind cppcheck scdoc zsh
busybox-static xz-utils zstd bzip2 gzip tar util-linux mount time
lzip lzop squashfs-tools attr libcap2-bin
munge slurmctld slurmd slurm-client"
# `scripts/deps.sh bench`: also what the benchmarks need.
[ "${1:-}" = bench ] && packages="$packages hyperfine e2fsprogs squashfs-tools"

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "zeolite: missing Debian packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "zeolite: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
# On a new machine the package lists are empty until the first update.
if ! apt-get install -y --no-install-recommends $missing; then
	apt-get update
	apt-get install -y --no-install-recommends $missing
fi
