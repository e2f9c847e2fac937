#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/prepare.py - the snapshot cache's figures, each side by side in one run.

On a ::gentoo-sized tree (GURU copied under renamed category prefixes,
about 180k files; built and cached by bench/snapshot.sh's build_tree under
$BENCH_CACHE), prints:

  1. cold `zeolite prepare` of a .tar.xz and of a .tar.zst vs GNU `tar -x` of
     the same file (goal <= 1.0), and vs `tar -x; sync -f` (zeolite syncs what
     it unpacked before publishing it: G2/G3 need it);
  2. warm `zeolite prepare` (already ready) vs starting /bin/true (goal <= 3x);
  3. 8 concurrent cold prepares vs one (goal <= 1.15x wall, 1 unpack).

The two sides of each ratio alternate within every round (A B, then B A),
so machine drift hits both; the figure is the median of the per-round
ratios, with min and max as the spread.

Every cold run unpacks into a freshly made ext4 filesystem (a sparse image
on a loop device, made and mounted before the clock starts).  On a
filesystem where many files were just deleted (the previous round's tree),
ext4 spends most of its time creating inodes in recently_deleted(), and how
much depends on what was deleted when: perf showed 80% of the system time
there, and the same `tar -x` took 12 s or 85 s.  BENCH_FS=dir unpacks into
plain directories under BENCH_CACHE instead.

Usage: bench/prepare.py [ROUNDS]    (default 3)
Environment: ZEOLITE (default build/zeolite), BENCH_CACHE, SHARED_DATA,
BENCH_FS (ext4 or dir), BENCH_ONLY (cold,warm,concurrent).
"""
import json
import os
import statistics
import subprocess
import sys
import time

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZEOLITE = os.environ.get("ZEOLITE", os.path.join(SRCDIR, "build", "zeolite"))
CACHE = os.environ.get("BENCH_CACHE", "/var/tmp/zeolite-bench")
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
TREE = os.path.join(CACHE, "tree-x20")
WORK = os.path.join(CACHE, "prepare-run")
FS = os.environ.get("BENCH_FS", "ext4")
IMAGE = os.path.join(CACHE, "prepare-fs.img")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=True, **kw)


def ensure_inputs():
    if not os.path.isdir(os.path.join(TREE, ".git")):
        # bench/snapshot.sh builds and caches the tree; ask it for 0 rounds.
        sh([os.path.join(SRCDIR, "bench", "snapshot.sh"), "--build-only"])
    files = {}
    for ext, comp in (("tar.xz", "xz -T0 -6"), ("tar.zst", "zstd -T0 -q -6")):
        path = os.path.join(CACHE, "gentoo-bench." + ext)
        if not os.path.exists(path):
            print(f"making {path} ...", file=sys.stderr)
            sh(f"git -C {TREE} archive --format=tar HEAD | {comp} > {path}.tmp && mv {path}.tmp {path}")
        files[ext] = path
    nfiles = int(subprocess.check_output(f"git -C {TREE} ls-files | wc -l", shell=True))
    return files, nfiles


def rmtree(path):
    subprocess.run(["rm", "-rf", path], check=False)  # much faster than shutil's


def unmount(path):
    while os.path.ismount(path):
        sh(["umount", path])


def fresh(path):
    """An empty directory PATH; with BENCH_FS=ext4 the root of a new filesystem."""
    unmount(path)
    rmtree(path)
    os.makedirs(path, mode=0o755)
    if FS == "ext4":
        if os.path.exists(IMAGE):
            os.unlink(IMAGE)
        sh(["truncate", "-s", "16G", IMAGE])
        sh(["mkfs.ext4", "-q", "-F", IMAGE])
        sh(["mount", "-o", "loop", IMAGE, path])


def release(path):
    unmount(path)
    rmtree(path)
    if os.path.exists(IMAGE):
        os.unlink(IMAGE)


def timed(fn):
    sh("sync")  # earlier writeback must not be charged to the next run
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def zprepare(store, snap, n=1):
    procs = [subprocess.Popen([ZEOLITE, "-c", "/dev/null", "--storedir", store, "--json", "prepare", snap],
                              stdout=subprocess.PIPE) for _ in range(n)]
    actions = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"zeolite prepare failed ({p.returncode})")
        actions.append(json.loads(out)["action"])
    return actions


def ratio_line(name, ratios, goal, a_times, b_times, a_name, b_name):
    med = statistics.median(ratios)
    print(f"{name}: {med:.3f}  (spread {min(ratios):.3f}-{max(ratios):.3f} over {len(ratios)} rounds; "
          f"goal {goal}; {a_name} median {statistics.median(a_times):.2f} s, "
          f"{b_name} median {statistics.median(b_times):.2f} s)", flush=True)


def bench_cold(files):
    for ext, snap in files.items():
        ratios, ratios_sync, zt, tt, tst = [], [], [], [], []
        for r in range(ROUNDS):
            order = ["z", "t", "ts"] if r % 2 == 0 else ["ts", "t", "z"]
            got = {}
            for side in order:
                d = os.path.join(WORK, side)
                fresh(d)
                if side == "z":
                    got[side], _ = timed(lambda: zprepare(d, snap))
                elif side == "t":
                    got[side], _ = timed(lambda: sh(["tar", "-xf", snap, "-C", d]))
                else:
                    got[side], _ = timed(lambda: sh(f"tar -xf {snap} -C {d} && sync -f {d}"))
                release(d)
            zt.append(got["z"]); tt.append(got["t"]); tst.append(got["ts"])
            ratios.append(got["z"] / got["t"])
            ratios_sync.append(got["z"] / got["ts"])
            print(f"  .{ext} round {r + 1}: zeolite {got['z']:.1f} s, tar -x {got['t']:.1f} s, "
                  f"tar -x; sync {got['ts']:.1f} s", file=sys.stderr, flush=True)
        ratio_line(f"cold prepare .{ext} / tar -x", ratios, "<= 1.0", zt, tt, "zeolite", "tar")
        ratio_line(f"cold prepare .{ext} / (tar -x; sync)", ratios_sync, "<= 1.0", zt, tst, "zeolite",
                   "tar+sync")


def bench_warm(files):
    store = os.path.join(WORK, "warm")
    os.makedirs(store, exist_ok=True)
    zprepare(store, files["tar.zst"])
    ratios, zt, tt = [], [], []
    for r in range(max(ROUNDS, 3)):
        out = os.path.join(WORK, "warm.json")
        cmds = [f"{ZEOLITE} -c /dev/null --storedir {store} prepare {files['tar.zst']}", "/bin/true"]
        if r % 2:
            cmds.reverse()
        sh(["hyperfine", "-N", "--style", "none", "--warmup", "20", "--runs", "300",
            "--export-json", out] + cmds, stdout=subprocess.DEVNULL)
        res = {x["command"]: x["median"] for x in json.load(open(out))["results"]}
        z = next(v for k, v in res.items() if k != "/bin/true")
        t = res["/bin/true"]
        zt.append(z); tt.append(t)
        ratios.append(z / t)
    ratio_line("warm prepare / /bin/true", ratios, "<= 3", zt, tt, "zeolite", "true")
    print(f"    (zeolite warm median {statistics.median(zt) * 1000:.2f} ms, "
          f"true {statistics.median(tt) * 1000:.2f} ms)")


def bench_concurrent(files):
    snap = files["tar.zst"]
    ratios, one, eight, unpacks = [], [], [], []
    for r in range(ROUNDS):
        order = [1, 8] if r % 2 == 0 else [8, 1]
        got = {}
        for n in order:
            d = os.path.join(WORK, f"c{n}")
            fresh(d)
            got[n], actions = timed(lambda: zprepare(d, snap, n))
            if n == 8:
                unpacks.append(actions.count("unpacked"))
            release(d)
        one.append(got[1]); eight.append(got[8])
        print(f"  concurrent round {r + 1}: 1 prepare {got[1]:.1f} s, 8 prepares {got[8]:.1f} s, "
              f"unpacks {unpacks[-1]}", file=sys.stderr, flush=True)
        ratios.append(got[8] / got[1])
    ratio_line("8 concurrent cold prepares / 1", ratios, "<= 1.15", eight, one, "8", "1")
    print(f"    unpacks per round of 8: {unpacks}")


def main():
    files, nfiles = ensure_inputs()
    rmtree(WORK)
    os.makedirs(WORK)
    print(f"tree: {nfiles} files; {', '.join(f'{os.path.basename(p)} {os.path.getsize(p) >> 20} MiB' for p in files.values())}; "
          f"{ROUNDS} rounds; {os.cpu_count()} CPUs; cold runs on {'a fresh ext4 each' if FS == 'ext4' else 'plain directories'}",
          flush=True)
    try:
        what = os.environ.get("BENCH_ONLY", "cold,warm,concurrent").split(",")
        if "warm" in what:
            bench_warm(files)
        if "cold" in what:
            bench_cold(files)
        if "concurrent" in what:
            bench_concurrent(files)
    finally:
        for d in ("z", "t", "ts", "c1", "c8"):
            release(os.path.join(WORK, d))
        rmtree(WORK)


if __name__ == "__main__":
    main()
