#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# A build on an image seed (issue 15): what the seed tarball says of a file
# the build does not touch — owner, mode with setuid/setgid/sticky, type,
# device numbers, hardlink groups, security.capability and user.pax.flags,
# content — is what the stage says, after the seed went tarball -> squashfs
# image -> overlayfs lower layer -> packed stage.  And the build leaves no
# loop device or mount behind.
load lib

setup_file() {
	export FIX=$(mktemp -d /var/tmp/zeolite-imgseed.XXXXXX)
	"$SRCDIR/tests/seed/make-fixtures.sh" "$ZEOLITE" "$FIX/store" "$FIX" > "$FIX/fixtures.log" 2>&1
	echo 'cache_format = "image"' >> "$FIX/zeolite.conf"
	export ZEOLITE_TARGETS_DIR="$SRCDIR/targets"
	# The seed, with a corner of everything a stage holds.
	local seed="$FIX/store/builds/23.0-default/stage3-amd64-openrc-latest.tar.xz" r="$FIX/seedroot"
	mkdir "$r"
	tar -C "$r" --xattrs --xattrs-include='*' --numeric-owner -xpf "$seed"
	local t="$r/opt/corner"
	mkdir -p "$t/sticky" "$t/owned"
	chmod 1777 "$t/sticky"
	printf 'suid\n' > "$t/suid" && chmod 4755 "$t/suid"
	printf 'sgid\n' > "$t/sgid" && chown 0:5 "$t/sgid" && chmod 2711 "$t/sgid"
	printf 'private\n' > "$t/private" && chmod 0600 "$t/private"
	printf 'one inode\n' > "$t/hl-a" && ln "$t/hl-a" "$t/hl-b" && ln "$t/hl-a" "$t/owned/hl-c"
	chmod 4755 "$t/hl-a"
	printf 'mine\n' > "$t/owned/file" && chown -R 4321:8765 "$t/owned"
	mknod "$t/null" c 1 3 && mknod "$t/loop9" b 7 9
	mkfifo "$t/fifo"
	ln -s ../corner/suid "$t/link"
	printf 'cap\n' > "$t/cap"
	python3 - "$t" <<'PY'
import os, struct, sys
t = sys.argv[1]
os.setxattr(t + "/cap", "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0))
os.setxattr(t + "/cap", "user.pax.flags", b"em")
PY
	tar -C "$r" --xattrs --xattrs-include='*' --numeric-owner -cJf "$seed" .
	rm -rf "$r"
}

teardown_file() {
	rm -rf "$FIX"
}

# What a stage keeps of DIR/opt/corner: one line per entry.
corner() {
	python3 - "$1/opt/corner" <<'PY'
import os, stat, sys
top = sys.argv[1]
groups = {}
for root, dirs, files in os.walk(top):
    for n in sorted(dirs + files):
        p = os.path.join(root, n)
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            groups.setdefault(st.st_ino, []).append(os.path.relpath(p, top))
lines = []
for root, dirs, files in os.walk(top):
    for n in dirs + files:
        p = os.path.join(root, n)
        st = os.lstat(p)
        rel = os.path.relpath(p, top)
        x = []
        for k in ("security.capability", "user.pax.flags"):
            try:
                x.append(k + "=" + os.getxattr(p, k, follow_symlinks=False).hex())
            except OSError:
                pass
        extra = ""
        if stat.S_ISREG(st.st_mode):
            extra = open(p, "rb").read().hex()
            if st.st_ino in groups:
                extra += " links=" + ",".join(sorted(groups[st.st_ino]))
        elif stat.S_ISLNK(st.st_mode):
            extra = os.readlink(p)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            extra = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        lines.append(f"{rel} {oct(st.st_mode)} {st.st_uid}:{st.st_gid} {extra} {' '.join(x)}")
print("\n".join(sorted(lines)))
PY
}

@test "image seed: owners, modes, setuid, devices, hardlinks and xattrs of the seed reach the stage unchanged" {
	local seed="$FIX/store/builds/23.0-default/stage3-amd64-openrc-latest.tar.xz"
	run --separate-stderr "$ZEOLITE" -c "$FIX/zeolite.conf" --json build "$FIX/stage3.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	# The seed went through the image path.
	[ -n "$(ls "$FIX"/store/cache/images/*/tree/image.sqfs 2>/dev/null)" ]
	[ -z "$(ls "$FIX"/store/cache/seeds/ 2>/dev/null | grep -v '^\.' || true)" ]
	mkdir "$WORK/seed" "$WORK/stage"
	tar -C "$WORK/seed" --xattrs --xattrs-include='*' --numeric-owner -xpf "$seed" ./opt/corner
	tar -C "$WORK/stage" --xattrs --xattrs-include='*' --numeric-owner -xpf \
		"$FIX/store/builds/23.0-default/stage3-amd64-openrc-fixture.tar.xz" ./opt/corner
	corner "$WORK/seed" > "$WORK/seed.list"
	corner "$WORK/stage" > "$WORK/stage.list"
	grep -q '^hl-a .*links=hl-a,hl-b,owned/hl-c' "$WORK/seed.list"
	grep -q '^loop9 0o60644 0:0 7:9' "$WORK/seed.list"
	diff -u "$WORK/seed.list" "$WORK/stage.list"
	# Nothing of the build is left mounted or attached.
	[ -z "$(losetup -a | grep -F "$FIX/store/cache/images/" || true)" ]
	[ -z "$(awk -v s="$FIX/" 'index($5, s) == 1' /proc/self/mountinfo)" ]
}
