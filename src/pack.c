// SPDX-License-Identifier: GPL-2.0-or-later
/* pack.c - being written (issue 4); not reachable from any command yet. */
#include "pack.h"

int pack_tree(const PackRequest *req, PackResult *ret, char **ret_err)
{
	(void) req;
	(void) ret;
	*ret_err = xstrdup("packing is not implemented yet");
	return -ENOSYS;
}
