#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# The outputs as catalyst 4.1 writes them: each compression_mode's file
# name and format (pyDeComp's definitions), CONTENTS.gz as `tar --xattrs
# -tvf` (or `unsquashfs -ll`) prints it, DIGESTS and .sha256 per digests
# and digest_format, catalyst's xattr set, owner names, rename_regexp.
# pack-tree (tests/tools/pack-tree.c) runs the pack step alone on a tree;
# zeolite check / build --dry-run show what a spec's naming becomes.
load lib

setup() {
	WORK=$(mktemp -d /var/tmp/zeolite-outputs.XXXXXX)
	STORE="$WORK/store"
	printf '' > "$WORK/empty.conf"
	Z=("$ZEOLITE" -c "$WORK/empty.conf" --storedir "$STORE")
	export ZEOLITE_TARGETS_DIR="$SRCDIR/targets"
	T="$WORK/tree"
	mkdir -p "$T/etc" "$T/bin" "$T/var/lib/portage" "$T/home/u" "$WORK/out"
	printf 'root:x:0:0:root:/root:/bin/sh\nportage:x:250:250::/var/lib/portage/home:/bin/false\nalias:x:250:250::/:/bin/false\n' > "$T/etc/passwd"
	printf 'root:x:0:\nportage:x:250:\n' > "$T/etc/group"
	echo ping > "$T/bin/ping"
	chmod 4755 "$T/bin/ping"
	setfattr -n user.pax.flags -v em "$T/bin/ping"
	setfattr -n user.foo -v bar "$T/bin/ping"
	setcap cap_net_raw+ep "$T/bin/ping"
	setfattr -n user.foo -v bar "$T/etc/group"
	ln -s ping "$T/bin/p"
	ln "$T/bin/ping" "$T/bin/ping2"
	echo x > "$T/home/u/f"
	chown 250:250 "$T/var/lib/portage"
	chown 1234:250 "$T/home/u/f"
	mkfifo "$T/fifo"
	mknod "$T/null" c 1 3
	touch -h -d 2024-05-01T12:00:00Z "$T"/bin/* "$T"/etc/* "$T/home/u/f" "$T/fifo" "$T/null"
}

teardown() {
	rm -rf "$WORK"
}

# pack MODE [DIGEST...]: pack the tree with PACK_MODE=MODE into $WORK/out as "s".
pack() {
	local mode=$1
	shift
	rm -rf "$WORK/out"
	mkdir "$WORK/out"
	PACK_MODE=$mode "$PACK_TREE" "$T" "$WORK/out" s "$@"
}

# The program GNU tar reads a catalyst extension with.
prog_of() {
	case $1 in
	*.tar.bz2) echo bzip2 ;;
	*.tar.lzip) echo lzip ;;
	*.tar.lzma) echo lzma ;;
	*.tar.lzop) echo lzop ;;
	*.tar.xz) echo xz ;;
	*.tar.zstd | *.tar.pzstd) echo zstd ;;
	*.tar.gz) echo gzip ;;
	*.tar) echo cat ;;
	esac
}

@test "every compression mode: catalyst's file name, readable, CONTENTS is tar --xattrs -tvf's listing" {
	local m ext prog
	for m in lbzip2:tar.bz2 bzip2:tar.bz2 lzip:tar.lzip lzma:tar.lzma lzop:tar.lzop tar:tar \
		xz:tar.xz pixz:tar.xz pixz_i:tar.xz zstd:tar.zstd pzstd:tar.pzstd gzip:tar.gz \
		xz_x:tar.xz gzip_x:tar.gz lbzip2_x:tar.bz2 tar_x:tar; do
		ext=${m#*:} m=${m%%:*}
		prog=$(prog_of "s.$ext")
		command -v "$prog" > /dev/null || { echo "# no $prog: $m not read back" >&3; continue; }
		pack "$m" sha512
		[ "$(ls "$WORK/out")" = "$(printf '%s\n' "s.$ext" "s.$ext.CONTENTS.gz" "s.$ext.DIGESTS" "s.$ext.sha256")" ] ||
			{ echo "$m: $(ls "$WORK/out")"; false; }
		if [ "$prog" = cat ]; then
			tar --xattrs -tvf "$WORK/out/s.$ext" > "$WORK/list"
		else
			tar -I "$prog" --xattrs -tvf "$WORK/out/s.$ext" > "$WORK/list"
		fi
		echo >> "$WORK/list" # ContentsMap: stdout, "\n", stderr
		zcat "$WORK/out/s.$ext.CONTENTS.gz" | cmp - "$WORK/list" || { echo "$m: CONTENTS differs"; false; }
		(cd "$WORK/out" && sha256sum -c --quiet "s.$ext.sha256") || { echo "$m: .sha256"; false; }
	done
}

@test "compression modes catalyst lacks, or that copy instead of pack, are refused by check" {
	mkdir -p "$STORE/builds/rel" "$STORE/snapshots"
	for m in rsync pigz zstd_x squashfs; do
		printf 'subarch: amd64\ntarget: stage3\nversion_stamp: v\nrel_type: rel\nprofile: p\nsnapshot_treeish: abc\nsource_subpath: rel/s\ncompression_mode: %s\n' "$m" > "$WORK/a.spec"
		run --separate-stderr "${Z[@]}" check "$WORK/a.spec"
		[ "$status" -eq 65 ]
		[[ "$stderr" == *"a.spec:8: unknown compression_mode '$m'"* ]]
	done
	run ! env PACK_MODE=rsync "$PACK_TREE" "$T" "$WORK/out" s
}

@test "squashfs_* modes: a .squashfs image with 1 MiB blocks, catalyst's xattrs; CONTENTS is unsquashfs -ll's" {
	command -v tar2sqfs && command -v unsquashfs || skip "no tar2sqfs or unsquashfs"
	local m comp
	for m in squashfs_xz:xz squashfs_gzip:gzip squashfs_zstd:zstd squashfs_pzstd:zstd; do
		comp=${m#*:} m=${m%%:*}
		pack "$m" sha512
		[ "$(ls "$WORK/out")" = "$(printf '%s\n' s.squashfs s.squashfs.CONTENTS.gz s.squashfs.DIGESTS s.squashfs.sha256)" ]
		unsquashfs -s "$WORK/out/s.squashfs" > "$WORK/super"
		grep -qx "Compression $comp" "$WORK/super"
		grep -qx "Block size 1048576" "$WORK/super"
		{ unsquashfs -ll "$WORK/out/s.squashfs"; echo; } > "$WORK/list"
		zcat "$WORK/out/s.squashfs.CONTENTS.gz" | cmp - "$WORK/list"
		grep -q ' squashfs-root/bin/p -> ping$' "$WORK/list"
		(cd "$WORK/out" && sha256sum -c --quiet s.squashfs.sha256)
	done
	rdsquashfs -x /bin/ping "$WORK/out/s.squashfs" > "$WORK/xattrs"
	grep -q '^security.capability=' "$WORK/xattrs"
	grep -qx 'user.pax.flags=em' "$WORK/xattrs"
	! grep -q user.foo "$WORK/xattrs"
	[ -z "$(rdsquashfs -x /etc/group "$WORK/out/s.squashfs")" ]
	unsquashfs -d "$WORK/x" "$WORK/out/s.squashfs" > /dev/null
	[ "$(stat -c '%a %u:%g' "$WORK/x/bin/ping" "$WORK/x/home/u/f")" = "$(printf '4755 0:0\n644 1234:250')" ]
}

@test "CONTENTS: the xattr column, the tree's owner names, local times, tar's quoting, a final empty line" {
	tab="$T/etc/ta"$'\t'"b"
	echo x > "$tab"
	touch -d 2024-05-01T12:00:00Z "$tab"
	TZ=XST-5:30 pack gzip
	zcat "$WORK/out/s.tar.gz.CONTENTS.gz" > "$WORK/c"
	cat "$WORK/c"
	# '*' for an entry with xattrs in the archive, ' ' otherwise (--xattrs).
	grep -q '^-rwsr-xr-x\* root/root         5 2024-05-01 17:30 ./bin/ping$' "$WORK/c"
	grep -q '^hrwsr-xr-x  root/root         0 2024-05-01 17:30 ./bin/ping2 link to ./bin/ping$' "$WORK/c"
	grep -q '^lrwxrwxrwx  root/root         0 2024-05-01 17:30 ./bin/p -> ping$' "$WORK/c"
	# user.foo alone is not kept: no xattrs, no '*'.
	grep -q '^-rw-r--r--  root/root        25 2024-05-01 17:30 ./etc/group$' "$WORK/c"
	# Names from the tree's etc/passwd and etc/group, the first of an id;
	# the number where the tree has no name.
	grep -q '^drwxr-xr-x  portage/portage   0 .* ./var/lib/portage/$' "$WORK/c"
	grep -q '^-rw-r--r--  1234/portage      2 .* ./home/u/f$' "$WORK/c"
	grep -q '^crw-r--r--  root/root       1,3 .* ./null$' "$WORK/c"
	grep -q '^prw-r--r--  root/root         0 .* ./fifo$' "$WORK/c"
	grep -q ' ./etc/ta\\tb$' "$WORK/c"
	[ -z "$(tail -n 1 "$WORK/c")" ]
	# Line for line what GNU tar prints in the same zone, plus the empty line.
	cmp "$WORK/c" <(TZ=XST-5:30 tar --xattrs -tvf "$WORK/out/s.tar.gz"; echo)
	# The names are in the headers: tar without --numeric-owner shows them.
	tar -tvf "$WORK/out/s.tar.gz" ./var/lib/portage/ | grep -q ' portage/portage '
	tar --numeric-owner -tvf "$WORK/out/s.tar.gz" ./var/lib/portage/ | grep -q ' 250/250 '
}

@test "xattrs: security.capability and user.pax.flags are packed, other xattrs are not" {
	pack xz
	mkdir "$WORK/x"
	tar --xattrs --xattrs-include='*' -C "$WORK/x" -xpf "$WORK/out/s.tar.xz"
	getfattr -d -m - --absolute-names "$WORK/x/bin/ping" > "$WORK/xattrs"
	cat "$WORK/xattrs"
	grep -q '^security.capability=' "$WORK/xattrs"
	grep -qx 'user.pax.flags="em"' "$WORK/xattrs"
	! grep -q user.foo "$WORK/xattrs"
	[ -z "$(getfattr -d -m - --absolute-names "$WORK/x/etc/group")" ]
	getcap "$WORK/x/bin/ping" | grep -q cap_net_raw
}

@test "DIGESTS: catalyst's '# NAME HASH' lines for the tarball then CONTENTS.gz; bsd format; .sha256" {
	pack xz sha512 blake2b
	cd "$WORK/out"
	cat s.tar.xz.DIGESTS
	[ "$(grep -c '' s.tar.xz.DIGESTS)" = 8 ]
	[ "$(sed -n '1p;3p;5p;7p' s.tar.xz.DIGESTS | tr '\n' ' ')" = "# SHA512 HASH # BLAKE2B HASH # SHA512 HASH # BLAKE2B HASH " ]
	[ "$(sed -n '2p;4p' s.tar.xz.DIGESTS | awk '{print $2}' | sort -u)" = s.tar.xz ]
	[ "$(sed -n '6p;8p' s.tar.xz.DIGESTS | awk '{print $2}' | sort -u)" = s.tar.xz.CONTENTS.gz ]
	sed -n '2p;6p' s.tar.xz.DIGESTS | sha512sum -c --strict
	sed -n '4p;8p' s.tar.xz.DIGESTS | b2sum -c --strict
	[ "$(cat s.tar.xz.sha256)" = "$(printf '# SHA256 HASH\n%s  s.tar.xz' "$(sha256sum s.tar.xz | cut -d' ' -f1)")" ]
	sha256sum -c s.tar.xz.sha256
	cd "$WORK"
	PACK_DIGEST_FORMAT=bsd pack xz sha512
	cd "$WORK/out"
	[ "$(sed -n 1p s.tar.xz.DIGESTS)" = "# SHA512 HASH" ]
	[ "$(sed -n 2p s.tar.xz.DIGESTS)" = "SHA512 (s.tar.xz) = $(sha512sum s.tar.xz | cut -d' ' -f1)" ]
	[ "$(sed -n 4p s.tar.xz.DIGESTS)" = "SHA512 (s.tar.xz.CONTENTS.gz) = $(sha512sum s.tar.xz.CONTENTS.gz | cut -d' ' -f1)" ]
	grep -v '^#' s.tar.xz.DIGESTS | sha512sum -c --strict
	[ "$(sed -n 2p s.tar.xz.sha256)" = "SHA256 (s.tar.xz) = $(sha256sum s.tar.xz | cut -d' ' -f1)" ]
	sha256sum -c s.tar.xz.sha256
}

@test "no digests configured: no DIGESTS and no .sha256, as catalyst" {
	pack pixz
	[ "$(ls "$WORK/out")" = "$(printf '%s\n' s.tar.xz s.tar.xz.CONTENTS.gz)" ]
}

@test "rename_regexp: sed -E on the full path (releng's stage4w .wsl); the side files follow; errors refused" {
	mkdir -p "$STORE/builds/rel" "$STORE/snapshots"
	: > "$STORE/snapshots/gentoo-abc.sqfs"
	: > "$STORE/builds/rel/seed.tar.xz"
	base='subarch: amd64\ntarget: stage4\nversion_stamp: w\nrel_type: rel\nprofile: p\nsnapshot_treeish: abc\nsource_subpath: rel/seed.tar.xz\ncompression_mode: pixz\nstage4/packages: app-misc/foo\n'
	# releng's stage4-wsl spec, word for word.
	printf "${base}rename_regexp: %s\n" 's_.tar.xz$_.wsl_' > "$WORK/w.spec"
	run --separate-stderr "${Z[@]}" check "$WORK/w.spec"
	[ "$status" -eq 0 ]
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/w.spec"
	[ "$status" -eq 0 ]
	[[ "$output" == *"output      $STORE/builds/rel/stage4-amd64-w.wsl "* ]]
	# The expression sees the full path: a directory name matches too.
	printf "${base}rename_regexp: %s\n" 's_rel/stage4_rel/stage4w_' > "$WORK/p.spec"
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/p.spec"
	[ "$status" -eq 0 ]
	[[ "$output" == *"output      $STORE/builds/rel/stage4w-amd64-w.tar.xz "* ]]
	# What sed refuses, check refuses.
	printf "${base}rename_regexp: %s\n" 's_(_x_' > "$WORK/bad.spec"
	run --separate-stderr "${Z[@]}" check "$WORK/bad.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"bad.spec:10: rename_regexp 's_(_x_': sed: -e expression #1, char 6: Unmatched ( or \\("* ]]
	# The set is published in builds/<rel_type>/: a rename out of it is refused.
	printf "${base}rename_regexp: %s\n" 's_builds/rel_builds/other_' > "$WORK/out.spec"
	run --separate-stderr "${Z[@]}" build --dry-run "$WORK/out.spec"
	[ "$status" -eq 65 ]
	[[ "$stderr" == *"out.spec:10: rename_regexp 's_builds/rel_builds/other_' makes '$STORE/builds/other/stage4-amd64-w.tar.xz'"* ]]
	# The side files are named after the renamed tarball.
	PACK_MODE=pixz PACK_TARBALL=s.wsl "$PACK_TREE" "$T" "$WORK/out" s sha512
	[ "$(ls "$WORK/out")" = "$(printf '%s\n' s.wsl s.wsl.CONTENTS.gz s.wsl.DIGESTS s.wsl.sha256)" ]
	grep -q '  s.wsl$' "$WORK/out/s.wsl.DIGESTS"
	grep -q '  s.wsl.CONTENTS.gz$' "$WORK/out/s.wsl.DIGESTS"
	(cd "$WORK/out" && sha256sum -c --quiet s.wsl.sha256)
	xz -t "$WORK/out/s.wsl"
}

@test "squashfs: a failing tar2sqfs is named with its own words, and nothing is published" {
	command -v tar2sqfs || skip "no tar2sqfs"
	mkdir "$WORK/bin"
	printf '#!/bin/sh\necho "tar2sqfs: no room for the image" >&2\nexit 1\n' > "$WORK/bin/tar2sqfs"
	chmod +x "$WORK/bin/tar2sqfs"
	# Small (the stream fits in the pipe) and large (the packer meets EPIPE).
	for size in 1 4096; do
		head -c "${size}k" /dev/urandom > "$T/blob"
		run --separate-stderr env PATH="$WORK/bin:$PATH" PACK_MODE=squashfs_xz "$PACK_TREE" "$T" "$WORK/out" s sha512
		[ "$status" -eq 1 ]
		[[ "$stderr" == *"pack: tar2sqfs failed with exit status 1: tar2sqfs: no room for the image"* ]] ||
			{ echo "$size: $stderr"; false; }
		[ -z "$(ls -A "$WORK/out")" ]
	done
}

@test "a real build: releng's stage4w rename gives .wsl and .wsl.DIGESTS; a seed's user.foo is dropped, security.capability kept; a .tar.lzip output seeds a build" {
	FIX="$WORK/fix"
	mkdir -p "$FIX"
	"$SRCDIR/tests/seed/make-fixtures.sh" "$ZEOLITE" "$FIX/store" "$FIX" > "$FIX/fixtures.log" 2>&1 ||
		{ cat "$FIX/fixtures.log"; false; }
	rel="$FIX/store/builds/23.0-default"
	# The fixture seed, with an xattr catalyst's tar leaves out.
	mkdir "$WORK/seed"
	tar --xattrs --xattrs-include='*' -C "$WORK/seed" -xpf "$rel/stage3-amd64-openrc-latest.tar.xz"
	setfattr -n user.foo -v bar "$WORK/seed/bin/ping"
	tar --xattrs --xattrs-include='*' -C "$WORK/seed" -cJf "$rel/stage3-amd64-xattr.tar.xz" .
	sed -e 's/^version_stamp: .*/version_stamp: wsl/' \
		-e 's|^source_subpath: .*|source_subpath: 23.0-default/stage3-amd64-xattr|' \
		-e 's/^compression_mode: .*/compression_mode: pixz/' "$FIX/stage3.spec" > "$WORK/w.spec"
	printf 'rename_regexp: %s\n' 's_.tar.xz$_.wsl_' >> "$WORK/w.spec"
	run --separate-stderr "$ZEOLITE" -c "$FIX/zeolite.conf" build "$WORK/w.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	w="$rel/stage3-amd64-wsl.wsl"
	[ "$output" = "$w" ]
	[ "$(cd "$rel" && ls stage3-amd64-wsl*)" = "$(printf '%s\n' stage3-amd64-wsl.wsl stage3-amd64-wsl.wsl.CONTENTS.gz stage3-amd64-wsl.wsl.DIGESTS stage3-amd64-wsl.wsl.sha256)" ]
	grep -q '  stage3-amd64-wsl.wsl$' "$w.DIGESTS"
	grep -q '  stage3-amd64-wsl.wsl.CONTENTS.gz$' "$w.DIGESTS"
	(cd "$rel" && sha256sum -c stage3-amd64-wsl.wsl.sha256)
	cmp <(zcat "$w.CONTENTS.gz") <(tar -I xz --xattrs -tvf "$w"; echo)
	mkdir "$WORK/x"
	tar -I xz --xattrs --xattrs-include='*' -C "$WORK/x" -xpf "$w" ./bin/ping
	getfattr -d -m - --absolute-names "$WORK/x/bin/ping" > "$WORK/xattrs"
	cat "$WORK/xattrs"
	grep -q '^security.capability=' "$WORK/xattrs"
	grep -qx 'user.pax.flags="em"' "$WORK/xattrs"
	! grep -q user.foo "$WORK/xattrs"
	# No digests in the config: no DIGESTS, no .sha256; zstd is .tar.zstd.
	grep -v '^digests' "$FIX/zeolite.conf" > "$WORK/nodigests.conf"
	sed -e 's/^version_stamp: .*/version_stamp: zstd/' -e 's/^compression_mode: .*/compression_mode: zstd/' \
		"$FIX/stage3.spec" > "$WORK/z.spec"
	run --separate-stderr "$ZEOLITE" -c "$WORK/nodigests.conf" build "$WORK/z.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "$rel/stage3-amd64-zstd.tar.zstd" ]
	[ "$(cd "$rel" && ls stage3-amd64-zstd*)" = "$(printf '%s\n' stage3-amd64-zstd.tar.zstd stage3-amd64-zstd.tar.zstd.CONTENTS.gz)" ]
	zstd -t "$output"
	# An output of each of catalyst's other names is a seed again.
	command -v lzip > /dev/null || return 0
	sed -e 's/^version_stamp: .*/version_stamp: lz/' -e 's/^compression_mode: .*/compression_mode: lzip/' \
		"$FIX/stage3.spec" > "$WORK/l.spec"
	run --separate-stderr "$ZEOLITE" -c "$WORK/nodigests.conf" build "$WORK/l.spec"
	[ "$status" -eq 0 ]
	[ "$output" = "$rel/stage3-amd64-lz.tar.lzip" ]
	sed -e 's/^version_stamp: .*/version_stamp: from-lz/' \
		-e 's|^source_subpath: .*|source_subpath: 23.0-default/stage3-amd64-lz|' "$FIX/stage3.spec" > "$WORK/s.spec"
	run --separate-stderr "$ZEOLITE" -c "$WORK/nodigests.conf" build "$WORK/s.spec"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"seed 23.0-default/stage3-amd64-lz.tar.lzip"* ]]
	tar -I xz -tf "$output" ./bin/ping
}
