#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0-or-later
# meson install lays out every file (issue 13 item 9); the shell files parse.

setup_file() {
	export BUILDDIR=$(dirname "$ZEOLITE")
	export DEST=$(mktemp -d)
	meson install -C "$BUILDDIR" --no-rebuild --quiet --destdir "$DEST" >/dev/null
	export PREFIX=$(meson introspect "$BUILDDIR" --buildoptions |
		python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
}

teardown_file() {
	rm -rf "$DEST"
}

@test "meson install lays out the binary, module, targets, man pages, sample, completions, docs" {
	local root="$DEST$PREFIX"
	[ -x "$root/bin/zeolite" ]
	compgen -G "$root/lib*/zeolite/zeolite-archive.so" || compgen -G "$root/lib/*/zeolite/zeolite-archive.so"
	compgen -G "$root/lib*/zeolite/zeolite-pack.so" || compgen -G "$root/lib/*/zeolite/zeolite-pack.so"
	[ -r "$root/share/zeolite/targets/stage3.sh" ]
	[ -r "$root/share/man/man1/zeolite.1" ]
	[ -r "$root/share/man/man5/zeolite-spec.5" ]
	[ -r "$root/share/man/man5/zeolite.conf.5" ]
	compgen -G "$DEST/*etc/zeolite/zeolite.conf.sample" || compgen -G "$root/etc/zeolite/zeolite.conf.sample"
	{ ! compgen -G "$DEST/*etc/zeolite/zeolite.conf" && ! [ -e "$root/etc/zeolite/zeolite.conf" ]; } || false
	[ -r "$root/share/bash-completion/completions/zeolite" ]
	[ -r "$root/share/zsh/site-functions/_zeolite" ]
	[ -r "$root/share/doc/zeolite/COPYING" ]
	[ -r "$root/share/doc/zeolite/NEWS" ]
}

@test "the installed binary looks for its module and targets where they are installed" {
	local root="$DEST$PREFIX" so
	so=$(cd "$DEST" && find . -name zeolite-archive.so | head -1)
	grep -qaF "$(dirname "${so#.}")" "$root/bin/zeolite"
	grep -qaF "$PREFIX/share/zeolite" "$root/bin/zeolite"
}

@test "the sample config parses and is all defaults" {
	local sample
	sample=$(find "$DEST" -name zeolite.conf.sample | head -1)
	run "$ZEOLITE" -c "$sample" --help
	[ "$status" -eq 0 ]
	sed 's/^#\([a-z]\)/\1/' "$sample" > "$BATS_TEST_TMPDIR/all.conf"
	run "$ZEOLITE" -c "$BATS_TEST_TMPDIR/all.conf" check "$SRCDIR/examples"/*.spec
	[[ "$output" != *"all.conf"* ]]
}

@test "completions, ebuild and sample parse as shell" {
	bash -n "$SRCDIR/completions/zeolite.bash"
	bash -n "$SRCDIR/contrib/gentoo/zeolite-9999.ebuild"
	if command -v zsh >/dev/null; then
		zsh -n "$SRCDIR/completions/_zeolite"
	fi
}

@test "systemd units verify where systemd-analyze exists" {
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	run systemd-analyze verify "$SRCDIR/contrib/systemd/zeolite-nightly.timer" \
		"$SRCDIR/contrib/systemd/zeolite-nightly.service"
	[[ "$output" != *"zeolite-nightly"*"rror"* ]]
}
