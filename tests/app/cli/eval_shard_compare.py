#!/usr/bin/python3
"""Sharded `den2moe eval` (--nproc N) against a single-process run: every result file of DIR_ONE
exists in DIR_MANY and no other; JSON files are equal after removing the timing fields
("seconds", "evaluation_time": wall time of the rank that ran the task), summary.csv equal after
blanking its seconds column; every other file byte for byte. Prints which fields were ignored and
SHARDED_SAME, or each difference and exit 1.

usage: eval_shard_compare.py DIR_ONE DIR_MANY
"""
import csv
import io
import json
import os
import sys

TIMING = {"seconds", "evaluation_time"}


def strip(j, seen):
    if isinstance(j, dict):
        out = {}
        for k, v in j.items():
            if k in TIMING:
                seen.add(k)
                continue
            out[k] = strip(v, seen)
        return out
    if isinstance(j, list):
        return [strip(v, seen) for v in j]
    return j


def files(d):
    out = set()
    for root, _, names in os.walk(d):
        for n in names:
            out.add(os.path.relpath(os.path.join(root, n), d))
    return out


def main():
    one, many = sys.argv[1], sys.argv[2]
    a, b = files(one), files(many)
    bad = []
    if a != b:
        bad.append("file lists differ: only single %s, only sharded %s" % (sorted(a - b), sorted(b - a)))
    seen = set()
    for f in sorted(a & b):
        x, y = open(os.path.join(one, f), "rb").read(), open(os.path.join(many, f), "rb").read()
        if f.endswith(".json"):
            same = strip(json.loads(x), seen) == strip(json.loads(y), seen)
        elif f.endswith("summary.csv"):
            def rows(t):
                r = list(csv.reader(io.StringIO(t.decode())))
                col = r[0].index("seconds")
                seen.add("summary.csv:seconds")
                return [row[:col] + row[col + 1:] for row in r]
            same = rows(x) == rows(y)
        else:
            same = x == y
        print("%-60s %s" % (f, "same" if same else "DIFFERENT"))
        if not same:
            bad.append(f)
    if not a:
        bad.append("no result files in %s" % one)
    print("ignored timing fields: %s" % ", ".join(sorted(seen)))
    if bad:
        print("differences: %s" % bad)
        sys.exit(1)
    print("SHARDED_SAME (%d files)" % len(a))


if __name__ == "__main__":
    main()
