/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * image-mount.h - a build's images, mounted where only the build sees them.
 *
 * A build that takes its seed and snapshot as images (cache_format =
 * "image") mounts them read-only in zeolite's own mount namespace, made
 * private to the process first: no other process sees the mounts, and
 * when the process dies, however it dies, the kernel drops them and the
 * loop devices (LO_FLAGS_AUTOCLEAR) go with them.  The sandbox's child,
 * cloned into a copy of that namespace, finds them at the same paths.
 */
#ifndef ZEOLITE_IMAGE_MOUNT_H
#define ZEOLITE_IMAGE_MOUNT_H

#include <stdbool.h>

/* Give this process its own mount namespace, private (no propagation in
 * or out), once; later calls do nothing.  Must run before any thread is
 * started.  Returns 0 or -errno with *RET_ERR. */
int mount_ns_private(char **ret_err);

/* Mount the squashfs image IMAGE read-only at TARGET (created, mode 0755,
 * if missing) in our private namespace (mount_ns_private() first).  SNAPSHOT:
 * nosuid and nodev too (a seed keeps its setuid files and devices: it is
 * an overlay's lower layer).  Returns 0 or -errno with *RET_ERR naming the
 * step. */
int image_mount(const char *image, const char *target, bool snapshot, char **ret_err);

/* Detach what image_mount() mounted at TARGET (idempotent). */
void image_umount(const char *target);

/* The repository root of a mounted snapshot image at MNT: MNT itself, or
 * its one directory when that is all its root holds (a portage-*.tar.xz
 * made into an image keeps its top-level "portage/"; the tree cache strips
 * it the same way: unpack.h).  Caller frees. */
char *image_repo_root(const char *mnt);

#endif
