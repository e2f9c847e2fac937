#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# make-busybox-seed.sh - build a tiny seed root filesystem for tests from a
# statically linked busybox (Debian's busybox-static): /bin/busybox, one
# symlink per applet, /etc/passwd and /etc/group, and the directories a
# Gentoo stage has (/tmp 1777, /var/tmp, /var/db/repos, /usr/bin, ...).
#
# usage: make-busybox-seed.sh [-b BUSYBOX] [-H HOOK]... DIR
#        make-busybox-seed.sh [-b BUSYBOX] [-H HOOK]... -o FILE.tar.xz
#
#   DIR          create the tree in DIR (created if missing; must be empty)
#   -o FILE      write a tarball instead (GNU tar --xattrs --numeric-owner,
#                xz-compressed, members named ./...)
#   -b BUSYBOX   the static busybox to copy (default: busybox in PATH)
#   -H HOOK      run HOOK ROOT after the tree is built, to add extra files
#                (the root is also in $SEED_ROOT); may be given many times.
#                Applets are symlinks to busybox: rm -f one before writing
#                a file in its place, or the script fails (busybox changed)
#
# Exits 0 on success, 64 on usage errors, 1 on other failures.
set -eu

prog=${0##*/}
busybox=
out=
hooks=

usage() {
	echo "usage: $prog [-b BUSYBOX] [-H HOOK]... (DIR | -o FILE.tar.xz)" >&2
	exit 64
}

die() {
	echo "$prog: $*" >&2
	exit 1
}

while getopts b:H:o:h opt; do
	case $opt in
	b) busybox=$OPTARG ;;
	H) hooks="$hooks
$OPTARG" ;;
	o) out=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))

if [ -n "$out" ]; then
	[ $# -eq 0 ] || usage
else
	[ $# -eq 1 ] || usage
fi

if [ -z "$busybox" ]; then
	busybox=$(command -v busybox) || die "busybox not found (install busybox-static or use -b)"
fi
if ! [ -f "$busybox" ] || ! [ -x "$busybox" ]; then
	die "$busybox: not an executable file"
fi
# A dynamically linked busybox would need its libraries in the root.
if command -v file >/dev/null 2>&1; then
	case $(file -L "$busybox") in
	*"dynamically linked"*) die "$busybox: dynamically linked; need busybox-static" ;;
	esac
fi

tmp=
# shellcheck disable=SC2317 # called through trap
cleanup() {
	if [ -n "$tmp" ]; then
		rm -rf -- "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

if [ -n "$out" ]; then
	tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/busybox-seed.XXXXXX")
	root=$tmp/root
	mkdir "$root"
else
	root=$1
	mkdir -p -- "$root"
	[ -z "$(ls -A -- "$root")" ] || die "$root: not empty"
fi
root=$(cd -- "$root" && pwd -P)

umask 022
for d in bin sbin etc etc/portage dev proc sys run root home mnt opt \
	usr usr/bin usr/sbin usr/lib usr/share usr/local usr/local/bin \
	var var/db var/db/repos var/db/pkg var/cache var/cache/distfiles \
	var/cache/binpkgs var/lib var/log var/tmp tmp; do
	mkdir -p "$root/$d"
done
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 0700 "$root/root"

cp -- "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"

# One symlink per applet, at the path busybox itself would use.  Never call
# `busybox --install`: without a chroot it writes to the host's /bin.  The
# links are relative (bin/ls -> busybox, usr/bin/awk -> ../../bin/busybox):
# an absolute /bin/busybox link, written through by a hook on the host
# (`echo > "$root/bin/ping"`), would overwrite the host's busybox.
"$busybox" --list-full | while IFS= read -r applet; do
	case $applet in
	""|/*|*..*|*//*) continue ;;
	bin/busybox) continue ;;
	esac
	case $applet in
	*/*) dir=${applet%/*} ;;
	*) dir=. ;;
	esac
	if [ "$dir" = bin ]; then
		target=busybox
	elif [ "$dir" = . ]; then
		target=bin/busybox
	else
		# one ../ per component of $dir
		target=$(printf '%s\n' "$dir" | sed 's|[^/][^/]*|..|g')/bin/busybox
	fi
	mkdir -p "$root/$dir"
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s "$target" "$root/$applet"
done
[ -L "$root/bin/sh" ] || ln -s busybox "$root/bin/sh"

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
portage:x:250:250:portage:/var/lib/portage/home:/sbin/nologin
nobody:x:65534:65534:nobody:/var/empty:/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
bin:x:1:
daemon:x:2:
tty:x:5:
wheel:x:10:root
portage:x:250:portage
nogroup:x:65533:
nobody:x:65534:
EOF
cat >"$root/etc/shadow" <<'EOF'
root:*:10770:0:::::
portage:!:10770:0:::::
nobody:*:10770:0:::::
EOF
chmod 0600 "$root/etc/shadow"
echo "busybox-seed" >"$root/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
printf 'NAME="busybox seed"\nID=busybox-seed\n' >"$root/etc/os-release"

# Hooks: one per line in $hooks (the first line is empty).  To replace an
# applet, a hook must remove its symlink first: rm -f "$1/bin/ping".
old_ifs=$IFS
IFS='
'
for hook in $hooks; do
	IFS=$old_ifs
	SEED_ROOT=$root "$hook" "$root" || die "hook $hook failed"
done
IFS=$old_ifs
# A hook that wrote through an applet symlink clobbered the seed's busybox.
cmp -s -- "$busybox" "$root/bin/busybox" ||
	die "a hook overwrote $root/bin/busybox (wrote through an applet symlink? rm -f it first)"

if [ -n "$out" ]; then
	owner=
	[ "$(id -u)" -eq 0 ] || owner="--owner=0 --group=0"
	# shellcheck disable=SC2086 # $owner is two words or none
	tar --xattrs --numeric-owner $owner --sort=name -C "$root" -cJf "$out.tmp" . \
		|| { rm -f -- "$out.tmp"; die "tar failed"; }
	mv -f -- "$out.tmp" "$out"
fi
exit 0
