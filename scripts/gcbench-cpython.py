#!/usr/bin/env python3
"""scripts/gcbench-cpython.py [--objects N] [--json] — the gcbench graph in
CPython: N tracked containers built as `a = []; b = [a]; a.append(b)`
repeated N/2 times with the collector off, every other `a` kept in a list;
then one timed gc.collect(), divided by the objects the collector tracks when
it starts (len(gc.get_objects()): the interpreter's own objects included).
Prints the same keys as `pymemlab gcbench --json`; `collected` is the known
answer that scripts/gcbench.sh checks: 2 * floor(floor(N/2) / 2), the
containers left unreachable."""
import argparse
import gc
import json
import platform
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=1000000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.objects < 2:
        print("gcbench-cpython.py: --objects must be at least 2", file=sys.stderr)
        return 2
    gc.collect()
    gc.disable()
    keep = []
    for i in range(args.objects // 2):
        a = []
        b = [a]
        a.append(b)
        if i % 2 == 0:
            keep.append(a)
    del a, b
    tracked = len(gc.get_objects())
    t0 = time.perf_counter_ns()
    collected = gc.collect()
    t1 = time.perf_counter_ns()
    name = "cpython-" + platform.python_version()
    ns = (t1 - t0) / tracked
    if args.json:
        print(json.dumps({"backend": name, "objects": tracked, "containers": args.objects,
                          "collected": collected, "collection_ns": t1 - t0,
                          "ns_per_object": round(ns, 2)}))
    else:
        print("gcbench %-10s %d tracked objects, collected %d in %.2f ms: %.1f ns per "
              "tracked object" % (name, tracked, collected, (t1 - t0) / 1e6, ns))
    del keep
    return 0


if __name__ == "__main__":
    sys.exit(main())
