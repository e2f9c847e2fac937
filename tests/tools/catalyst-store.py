#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""catalyst-store.py SRC OUT REPO_DIR: lay out a store the way
gentoo/releng's catalyst-auto leaves one, for the releng specs under SRC.

- OUT/specs/...: every *.spec of SRC with catalyst-auto's placeholders
  substituted by sed's rules (@REPO_DIR@ = REPO_DIR, @TREEISH@ a short
  hash, @TIMESTAMP@, @DATESTAMP@);
- OUT/store/builds/: each source_subpath as catalyst-auto publishes it: a
  dated file (name@TIMESTAMP@: built earlier in the same run) or, for a
  "-latest" name, a symlink to an older dated file; each with .CONTENTS.gz,
  .DIGESTS and .sha256 beside it, as catalyst writes them;
- OUT/store/snapshots/gentoo-<treeish>.sqfs: catalyst 4's snapshot name;
- OUT/stages.list, OUT/others.list: stage1-4 specs, and the others.

The host has no qemu-user binaries and the corpus no shell scripts: the
interpreter and stage4/fsscript paths are rewritten to stand-ins in
OUT/host/ (the only change beyond catalyst-auto's sed).
Files are empty: `build --dry-run` finds them, it never reads them.
"""
import os
import re
import sys

src, out, repo_dir = sys.argv[1:4]
TREEISH = "5bbf8fb"
TIMESTAMP = "20260601T000000Z"
OLDER = "20260501T000000Z"
EXTS = (".tar.xz", ".tar.zstd", ".tar.zst", ".tar.bz2", ".tar.gz", ".tar")

store = os.path.join(out, "store")
host = os.path.join(out, "host")
for d in ("builds", "snapshots"):
    os.makedirs(os.path.join(store, d), exist_ok=True)
os.makedirs(host, exist_ok=True)
open(os.path.join(store, "snapshots", "gentoo-%s.sqfs" % TREEISH), "w").close()


def touch(p):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if not os.path.lexists(p):
        open(p, "w").close()


def publish(sub):
    ext = next((e for e in EXTS if sub.endswith(e)), None)
    base = sub[: -len(ext)] if ext else sub
    ext = ext or ".tar.xz"
    b = os.path.join(store, "builds")
    if "-latest" in base:
        dated = base.replace("-latest", "-" + OLDER)
        for tail in ("", ".CONTENTS.gz", ".DIGESTS", ".sha256"):
            touch(os.path.join(b, dated + ext + tail))
            link = os.path.join(b, base + ext + tail)
            if not os.path.lexists(link):
                os.symlink(os.path.basename(dated + ext + tail), link)
    else:
        for tail in ("", ".CONTENTS.gz", ".DIGESTS", ".sha256"):
            touch(os.path.join(b, base + ext + tail))


stages, others = [], []
for root, _, files in os.walk(src):
    for f in sorted(files):
        if not f.endswith(".spec"):
            continue
        rel = os.path.relpath(os.path.join(root, f), src)
        text = open(os.path.join(root, f)).read()
        text = (text.replace("@TIMESTAMP@", TIMESTAMP).replace("@TREEISH@", TREEISH)
                .replace("@REPO_DIR@", repo_dir).replace("@DATESTAMP@", TIMESTAMP[:8]))

        def word(m):
            p = os.path.join(host, m.group(0).lstrip("/"))
            touch(p)
            return p

        def standin(m):
            return m.group(1) + re.sub(r"/\S+", word, m.group(2))

        # The value with its continuation lines.
        for key in ("interpreter", "stage4/fsscript"):
            text = re.sub(r"^(%s:)([^\n]*(?:\n[ \t][^\n]*)*)" % key, standin, text, flags=re.M)
        dst = os.path.join(out, "specs", rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        open(dst, "w").write(text)
        m = re.search(r"^target:\s*(\S+)", text, re.M)
        t = m.group(1) if m else ""
        if t in ("stage1", "stage2", "stage3", "stage4"):
            stages.append(dst)
            m = re.search(r"^source_subpath:\s*(\S+)", text, re.M)
            if m:
                publish(m.group(1))
        else:
            others.append(dst)
open(os.path.join(out, "stages.list"), "w").write("".join(s + "\n" for s in sorted(stages)))
open(os.path.join(out, "others.list"), "w").write("".join(s + "\n" for s in sorted(others)))
