# Copyright 2026 zeolite authors
# Distributed under the terms of the GNU General Public License v2

EAPI=8

inherit git-r3 meson

DESCRIPTION="A stage builder for Gentoo release engineering, with a shared snapshot cache"
HOMEPAGE="https://example.invalid/zeolite"
EGIT_REPO_URI="https://example.invalid/zeolite.git"

LICENSE="GPL-2+"
SLOT="0"
IUSE="test"
RESTRICT="!test? ( test )"

RDEPEND="
	>=app-arch/libarchive-3.6:=
	>=sys-fs/squashfs-tools-ng-1.2:=
	dev-libs/openssl:=
"
DEPEND="${RDEPEND}"
BDEPEND="
	app-text/scdoc
	virtual/pkgconfig
	test? ( dev-util/bats )
"

src_configure() {
	local emesonargs=(
		$(meson_use test tests)
		-Dtest_hooks=false
	)
	meson_src_configure
}

src_test() {
	meson_src_test --suite unit
}
