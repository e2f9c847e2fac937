#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Check zeolite's --json output against docs/json.md.

usage: json-keys.py DOCS SECTION < output

Each line of stdin is one JSON object of SECTION ("check", "status", "gc",
"prepare", "snapshot", "build", "error").  The keys of every object (and of
the nested objects named below) must be exactly the keys the document's
table lists: a key missing from the output, or an undocumented one, fails.
An object with "ok": false and "exit_status" is checked as the error object.
"""
import json
import re
import sys

# (section, key) -> the table (by its caption) of the objects under key.
NESTED = {
    ("check", "errors"): "diagnostic",
    ("check", "warnings"): "diagnostic",
    ("status", "builds"): "running build",
    ("status", "snapshots"): "snapshot file",
    ("status", "cache"): "cache entry",
    ("cache entry", "preparer"): "owner",
    ("cache entry", "holders"): "owner",
    ("gc", "removed"): "removal",
    ("build", "steps"): "step time",
}


def tables(path):
    """{section or caption: [keys]} from the markdown tables."""
    out = {}
    section = caption = None
    in_table = False
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        m = re.match(r"^## (.+)$", line)
        if m:
            section = m.group(1).strip().lower()
            if section == "error object":
                section = "error"
            caption = section
            in_table = False
            continue
        m = re.match(r"^An? ([a-z ]+):$", line)
        if m:
            caption = m.group(1).strip().lower()
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] in ("key", "") or set(cells[0]) <= set("-"):
                in_table = True
                continue
            m = re.match(r"^`([a-z_]+)`$", cells[0])
            if m and caption:
                out.setdefault(caption, []).append(m.group(1))
            continue
        if in_table and not line.strip():
            in_table = False
            if caption == section:
                caption = None
    return out


def check(obj, name, docs, where):
    want = set(docs.get(name, []))
    if not want:
        raise SystemExit(f"{where}: no table for '{name}' in the document")
    got = set(obj)
    if got != want:
        raise SystemExit(f"{where}: keys of '{name}' differ from docs/json.md: "
                         f"undocumented {sorted(got - want)}, missing {sorted(want - got)}")
    for key, value in obj.items():
        sub = NESTED.get((name, key))
        if not sub:
            continue
        for i, v in enumerate(value if isinstance(value, list) else [value]):
            if v is not None:
                check(v, sub, docs, f"{where}.{key}[{i}]")


def main():
    docs = tables(sys.argv[1])
    section = sys.argv[2]
    n = 0
    for i, line in enumerate(sys.stdin):
        if not line.strip():
            continue
        obj = json.loads(line)
        if obj.get("version") != 1:
            raise SystemExit(f"line {i + 1}: no \"version\": 1")
        name = "error" if obj.get("ok") is False and "exit_status" in obj else section
        check(obj, name, docs, f"line {i + 1}")
        n += 1
    if n == 0:
        raise SystemExit("no JSON object read")


if __name__ == "__main__":
    main()
