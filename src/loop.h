/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loop.h - attach a squashfs image to a loop device for a read-only mount.
 */
#ifndef ZEOLITE_LOOP_H
#define ZEOLITE_LOOP_H

#include <limits.h>

/*
 * Attach IMAGE_FD read-only to a free loop device with LO_FLAGS_AUTOCLEAR,
 * so the device detaches itself when its last user (the mount, hence the
 * mount namespace holding it) goes away.  NODE_DIR_FD (or < 0) is a
 * directory where a device node is made for the device if /dev has none
 * (no udev); the node is unlinked at once.  Returns the open loop device
 * (keep it open until the mount holds the device: autoclear fires on the
 * last close) with NAME its path for mount(2), or -errno with *RET_WHAT a
 * static description of the step that failed.  Allocates nothing, prints
 * nothing: safe in sandbox.c's child.
 */
int loop_attach_ro(int image_fd, int node_dir_fd, char name[static PATH_MAX], const char **ret_what);

#endif
