#!/usr/bin/env python3
"""scripts/gc-table.py DIR BACKEND COMMIT — the table and figure data of
scripts/gc-compare.sh (issue 20) from DIR/runs.jsonl: DIR/table.md (workload x
collector, median over reps with a 95% interval from the order statistics, as
the harness's pm_ci_median) and DIR/plots/ (pause CDFs and garbage-held
series of rep 1, lists.gp for scripts/plots/gc.gp). The commit and date
in the table and on the figures are those of the runs, from DIR/meta.json
(written by gc-compare.sh when it runs them); COMMIT and the current time
are used only when that file is missing (and then it is written). --help
prints this."""
import json, os, platform, subprocess, sys, time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from pm_ci import ci_median  # noqa: E402

if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
    print(__doc__)
    sys.exit(0)
if len(sys.argv) != 4:
    print("gc-table.py: usage: gc-table.py DIR BACKEND COMMIT", file=sys.stderr)
    sys.exit(2)
d, backend, commit = sys.argv[1:]
path = os.path.join(d, "runs.jsonl")
try:
    runs = [json.loads(l) for l in open(path) if l.strip()]
except (OSError, ValueError) as e:
    print("gc-table.py: %s: %s" % (path, e), file=sys.stderr)
    sys.exit(2)


meta_path = os.path.join(d, "meta.json")
try:
    meta = json.load(open(meta_path))
    commit, when = meta["commit"], meta["date_utc"]
except FileNotFoundError:
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    with open(meta_path, "w") as f:
        json.dump({"commit": commit, "date_utc": when}, f)
        f.write("\n")
except (OSError, ValueError, KeyError) as e:
    print("gc-table.py: %s: %s" % (meta_path, e), file=sys.stderr)
    sys.exit(2)

workloads, gcs = [], []
for r in runs:
    if r["workload"] not in workloads:
        workloads.append(r["workload"])
    if r["gc"] not in gcs:
        gcs.append(r["gc"])
cols = [("gc_pause_p99_ns", "pause p99 (ms)", 1e6), ("gc_pause_max_ns", "pause max (ms)", 1e6),
        ("gc_pause_total_ns", "total GC time (ms)", 1e6),
        ("gc_examined_max", "most objects examined by one collection", 1),
        ("peak_footprint_bytes", "peak footprint (MiB)", 2 ** 20),
        ("gc_peak_garbage_held_bytes", "peak garbage held (MiB)", 2 ** 20)]
loads = [r["load1_start"] for r in runs] + [r["load1_end"] for r in runs]
nrep = max(r["rep"] for r in runs)
out = []
out.append("# Collector comparison (issue 20)\n")
out.append("Machine: %s, %d CPUs; %s UTC; commit %s; backend %s; %d rep(s) per cell, same "
           "seed (same requests), each a fresh `pymemlab pyrun --reps 1 --gc NAME --gc-held`; "
           "1-minute load average during the runs %.1f to %.1f%s." % (
               platform.node() or "?", os.cpu_count(),
               when, commit, backend,
               nrep, min(loads), max(loads),
               # the same rule as the harness's loaded flag, on the load average:
               # more than the one CPU these runs use kept busy
               " (the machine was shared: timings are loaded)" if max(loads) > 1.5 else ""))
out.append("Each cell: median over the reps [95% interval from the order statistics, as "
           "pm_ci_median; with fewer than 9 reps that is [min, max], whose coverage is under 95% below 6]. Pauses and GC time come from the measured "
           "run, which also samples memory; garbage held is exact at the samples where it is "
           "taken (docs/gc.md). Where two collectors' intervals overlap they are not "
           "distinguishable.\n")
out.append("| workload | collector | scale | collections | " + " | ".join(c[1] for c in cols) + " |")
out.append("|---|---|---|---|" + "---|" * len(cols))
for w in workloads:
    for g in gcs:
        rs = [r for r in runs if r["workload"] == w and r["gc"] == g]
        if not rs:
            continue
        cells = []
        for key, _, div in cols:
            c = ci_median([(r.get(key) if r.get(key) is not None else float("nan")) / div for r in rs])
            cells.append("-" if c is None else "%.3g [%.3g, %.3g]" % c)
        coll = ci_median([r["gc_pauses"] for r in rs])
        out.append("| %s | %s | %g | %d | %s |" % (w, g, rs[0]["scale"], coll[0], " | ".join(cells)))
open(os.path.join(d, "table.md"), "w").write("\n".join(out) + "\n")
print("\n".join(out))

pd = os.path.join(d, "plots")
os.makedirs(pd, exist_ok=True)
for w in workloads:
    for g in gcs:
        p = os.path.join(d, "pauses", "%s-%s-1.txt" % (w, g))
        xs = sorted(int(x) for x in open(p)) if os.path.exists(p) else []
        with open(os.path.join(pd, "pausecdf-%s-%s.dat" % (w, g)), "w") as f:
            f.write("# pause_ms fraction_of_collections_at_most\n")
            for i, x in enumerate(xs):
                f.write("%.6f %.6f\n" % (max(x, 1) / 1e6, (i + 1) / len(xs)))
            if not xs:
                f.write("? ?\n")
        s = os.path.join(d, "series", "%s-%s-1.csv" % (w, g))
        with open(os.path.join(pd, "held-%s-%s.dat" % (w, g)), "w") as f:
            f.write("# op_millions garbage_held_MiB live_MiB\n")
            if os.path.exists(s):
                hdr = None
                for line in open(s):
                    v = line.rstrip("\n").split(",")
                    if hdr is None:
                        hdr = v
                        continue
                    row = dict(zip(hdr, v))
                    if row.get("garbage_held_bytes"):
                        f.write("%.6f %.6f %.6f\n" % (int(row["op"]) / 1e6,
                                int(row["garbage_held_bytes"]) / 2 ** 20,
                                int(row["live_bytes"]) / 2 ** 20))
with open(os.path.join(pd, "lists.gp"), "w") as f:
    f.write('workloads = "%s"\ngcs = "%s"\n' % (" ".join(workloads), " ".join(gcs)))
