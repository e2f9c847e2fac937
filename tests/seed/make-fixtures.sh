#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make-fixtures.sh - everything a stage build needs, made here from Debian's
# busybox-static (there is no Gentoo stage and no network on these machines):
#
#   OUT/zeolite.conf       storedir STORE, repo_name gentoo, distdir OUT/distfiles
#   STORE/builds/23.0-default/stage3-amd64-openrc-latest.tar.xz
#                          the seed: busybox rootfs + the stand-in emerge, a
#                          file with a security.capability xattr, a file owned
#                          by 1234:5678, a setuid file, and build-only files
#                          (/etc/machine-id, /etc/passwd-, /var/tmp/leftover,
#                          /etc/portage/patches) that no stage may ship
#   OUT/repo/              a tiny ebuild repository with a 2-level profile
#   STORE/snapshots/gentoo-<id>.sqfs and gentoo-<id>.tar.xz (zeolite snapshot)
#   OUT/treeish            <id>
#   OUT/stage{1,3,4}.spec  specs using them (OUT/fsscript.sh for stage4)
#
# usage: make-fixtures.sh ZEOLITE STORE OUT
set -euo pipefail
zeolite=$1 store=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

mkdir -p "$out/distfiles"
cat > "$out/zeolite.conf" <<CONF
storedir = "$store"
repo_name = "gentoo"
distdir = "$out/distfiles"
digests = ["sha512", "blake2b"]
compression_mode = "xz"
options = [${FIXTURE_OPTIONS:-}]
jobs = 2
CONF
z=("$zeolite" -c "$out/zeolite.conf")
"${z[@]}" gc > /dev/null   # creates the store (status only reads)

# The seed.
hook="$out/seed-hook.sh"
cat > "$hook" <<HOOK
#!/bin/sh
set -e
root=\$1
install -m 0755 "$here/emerge-standin" "\$root/usr/bin/emerge"
rm -f "\$root/bin/ping"   # a busybox applet link: replace it, never write through it
printf '#!/bin/sh\necho ping\n' > "\$root/bin/ping"
chmod 0755 "\$root/bin/ping"
python3 -c 'import os,struct,sys; os.setxattr(sys.argv[1], "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)); os.setxattr(sys.argv[1], "user.pax.flags", b"em")' "\$root/bin/ping"
mkdir -p "\$root/home/builder"
echo owned > "\$root/home/builder/file"
chown -R 1234:5678 "\$root/home/builder"
printf '#!/bin/sh\n' > "\$root/usr/bin/suid-helper"
chmod 4755 "\$root/usr/bin/suid-helper"
# Build-only files a stage must not ship (catalyst's clean removes them).
echo 0123456789abcdef0123456789abcdef > "\$root/etc/machine-id"
cp "\$root/etc/passwd" "\$root/etc/passwd-"
echo leftover > "\$root/var/tmp/leftover"
mkdir -p "\$root/etc/portage/patches/sys-libs/glibc"
echo hack > "\$root/etc/portage/patches/sys-libs/glibc/local.patch"
HOOK
chmod +x "$hook"
mkdir -p "$store/builds/23.0-default"
"$here/make-busybox-seed.sh" -H "$hook" -o "$store/builds/23.0-default/stage3-amd64-openrc-latest.tar.xz"

# The repository: profiles/default/linux/amd64/23.0 -> ../../../base chain.
repo="$out/repo"
rm -rf "$repo"
mkdir -p "$repo/profiles/base" "$repo/profiles/default/linux/amd64/23.0" "$repo/metadata" \
	"$repo/sys-apps/baselayout" "$repo/app-editors/vim"
echo gentoo > "$repo/profiles/repo_name"
printf 'masters =\nthin-manifests = true\n' > "$repo/metadata/layout.conf"
printf 'sys-apps/baselayout\nsys-libs/glibc\n' > "$repo/profiles/base/packages.build"
echo '../../../../base' > "$repo/profiles/default/linux/amd64/23.0/parent"
printf 'sys-devel/gcc\nsys-devel/binutils\n' > "$repo/profiles/default/linux/amd64/23.0/packages.build"
echo 'EAPI=8' > "$repo/sys-apps/baselayout/baselayout-2.ebuild"
echo 'EAPI=8' > "$repo/app-editors/vim/vim-9.ebuild"
sqfs=$("${z[@]}" snapshot --repo "$repo" --repo-name gentoo --format sqfs)
txz=$("${z[@]}" snapshot --repo "$repo" --repo-name gentoo --format tar.xz)
id=${sqfs#gentoo-}
id=${id%.sqfs}
echo "$id" > "$out/treeish"

cat > "$out/fsscript.sh" <<'FS'
#!/bin/sh
# stage4/fsscript: runs inside the chroot at the end of the build.
echo "fsscript ran" > /root/fsscript-marker
# The root overlay is in place before the fsscript runs.
cp /etc/motd /root/fsscript-saw-motd 2>/dev/null || true
# The snapshot is read-only: record what a write gets.
if touch /var/db/repos/gentoo/zeolite-write-test 2> /root/snapshot-write.err; then
	echo "WRITABLE" > /root/snapshot-write.err
fi
# A hook for tests: block here while a FIFO in the distdir says so.
# It keeps alive.fifo open until it dies, so the test can wait for that.
if [ -p /var/cache/distfiles/block.fifo ]; then
	exec 3> /var/cache/distfiles/alive.fifo
	echo $$ >&3
	read -r _ < /var/cache/distfiles/block.fifo
fi
FS
chmod 0755 "$out/fsscript.sh"

# stage4/root_overlay: laid over / before the fsscript runs.
rm -rf "$out/overlay"
mkdir -p "$out/overlay/etc" "$out/overlay/root"
echo "built by zeolite" > "$out/overlay/etc/motd"
echo "dot file" > "$out/overlay/root/.overlay-marker"
chmod 0600 "$out/overlay/root/.overlay-marker"

common="subarch: amd64
rel_type: 23.0-default
profile: default/linux/amd64/23.0
snapshot_treeish: $id
compression_mode: xz"
cat > "$out/stage1.spec" <<SPEC
target: stage1
version_stamp: openrc-fixture
source_subpath: 23.0-default/stage3-amd64-openrc-latest
update_seed: no
$common
SPEC
cat > "$out/stage3.spec" <<SPEC
target: stage3
version_stamp: openrc-fixture
source_subpath: 23.0-default/stage3-amd64-openrc-latest
$common
SPEC
cat > "$out/stage4.spec" <<SPEC
target: stage4
version_stamp: desktop-fixture
source_subpath: 23.0-default/stage3-amd64-openrc-latest
$common
stage4/packages:
	app-editors/vim
	sys-libs/glibc:2.2
stage4/users: releng
stage4/fsscript: $out/fsscript.sh
stage4/root_overlay: $out/overlay
stage4/rm: /root/.ash_history
SPEC
