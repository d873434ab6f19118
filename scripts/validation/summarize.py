"""scripts/validation/summarize.py DIR — gathers DIR/*.json (`pymemlab
validate --json`, one per program) into DIR/table.md, DIR/table.csv and
DIR/points.dat (the plot's data: one block per allocator)."""
import sys
if sys.argv[1:2] in (["-h"], ["--help"]):
    print(__doc__)
    sys.exit(0)
import glob
import json
import os
import sys

d = sys.argv[1]
MIB = 1048576.0
order = ["cpython", "pymalloc", "system", "mimalloc", "jemalloc", "tcmalloc"]
rows, taus = [], {}
for path in sorted(glob.glob(os.path.join(d, "*.json"))):
    prog = os.path.basename(path)[:-5]
    try:
        doc = json.load(open(path))
    except (ValueError, OSError):
        print("summarize: %s: not a validate document (the run failed?)" % path, file=sys.stderr)
        continue
    taus[prog] = doc.get("kendall_tau_peak")
    for a in doc["allocators"]:
        rows.append((prog, a))


def mib(v):
    return "" if v is None else "%.1f" % (v / MIB)


def pc(v):
    return "" if v is None else "%+.1f" % v


with open(os.path.join(d, "table.csv"), "w") as f:
    f.write("program,allocator,native_peak_bytes,predicted_peak_bytes,peak_error_pct,native_end_bytes,"
            "predicted_end_bytes,end_error_pct,nonheap_bytes,replay_peak_footprint_bytes,native_wall_s,"
            "native_cpu_s,replay_alloc_s,native_failed,kendall_tau_peak\n")
    for prog, a in rows:
        vals = [prog, a["allocator"]] + [a.get(k) for k in (
            "native_peak_bytes", "predicted_peak_bytes", "peak_error_pct", "native_end_bytes", "predicted_end_bytes",
            "end_error_pct", "nonheap_bytes", "replay_peak_footprint_bytes", "native_wall_s", "native_cpu_s",
            "replay_alloc_s", "native_failed")] + [taus[prog]]
        f.write(",".join("" if v is None else str(v) for v in vals) + "\n")

progs = sorted(taus)
allocs = [x for x in order if any(a["allocator"] == x for _, a in rows)]
get = {(p, a["allocator"]): a for p, a in rows}
with open(os.path.join(d, "table.md"), "w") as f:
    f.write("Peak anonymous RSS, MiB: native (median of reps) / predicted (replay + measured non-heap and start-up heap) / error %.\n\n")
    f.write("| program | " + " | ".join(allocs) + " | tau |\n")
    f.write("| --- |" + " ---: |" * len(allocs) + " ---: |\n")
    for p in progs:
        cells = []
        for x in allocs:
            a = get.get((p, x))
            if not a:
                cells.append("")
            elif a.get("native_failed"):
                cells.append("native FAILED (%d)" % a["native_failed"])
            elif not a.get("ok"):
                cells.append("replay FAILED")
            else:
                cells.append("%s / %s / %s" % (mib(a["native_peak_bytes"]), mib(a["predicted_peak_bytes"]),
                                               pc(a["peak_error_pct"])))
        t = taus[p]
        f.write("| %s | %s | %s |\n" % (p, " | ".join(cells), "" if t is None else "%.2f" % t))
    f.write("\nEnd of the program's work (RssAnon at exit), MiB: native / predicted / error %.\n\n")
    f.write("| program | " + " | ".join(allocs) + " |\n")
    f.write("| --- |" + " ---: |" * len(allocs) + "\n")
    for p in progs:
        cells = []
        for x in allocs:
            a = get.get((p, x))
            if not a or not a.get("ok"):
                cells.append("")
            else:
                cells.append("%s / %s / %s" % (mib(a["native_end_bytes"]), mib(a["predicted_end_bytes"]),
                                               pc(a["end_error_pct"])))
        f.write("| %s | %s |\n" % (p, " | ".join(cells)))
    f.write("\nNon-heap anonymous memory (smaps at exit), MiB, and the share of the native peak:\n\n")
    f.write("| program | " + " | ".join(allocs) + " |\n")
    f.write("| --- |" + " ---: |" * len(allocs) + "\n")
    for p in progs:
        cells = []
        for x in allocs:
            a = get.get((p, x))
            if not a or a.get("nonheap_bytes") is None or not a.get("native_peak_bytes"):
                cells.append("")
            else:
                cells.append("%s (%.0f%%)" % (mib(a["nonheap_bytes"]), 100.0 * a["nonheap_bytes"] / a["native_peak_bytes"]))
        f.write("| %s | %s |\n" % (p, " | ".join(cells)))
    ok = [a for _, a in rows if a.get("ok") and a.get("peak_error_pct") is not None]
    within = [a for a in ok if abs(a["peak_error_pct"]) <= 5]
    f.write("\n%d of %d program x allocator pairs within 5%% on peak; median |error| %.1f%%.\n"
            % (len(within), len(ok), sorted(abs(a["peak_error_pct"]) for a in ok)[len(ok) // 2] if ok else float("nan")))

# Points off by more than 3x (sort: a buffer requested far larger than it
# is written, see docs/validation.md) would squeeze the plot: listed in
# offscale.txt and named in the plot, not drawn.
off = []
with open(os.path.join(d, "points.dat"), "w") as f:
    for x in allocs:
        f.write("# %s\n" % x)
        for p in progs:
            a = get.get((p, x))
            if a and a.get("ok"):
                n, q = a["native_peak_bytes"] / MIB, a["predicted_peak_bytes"] / MIB
                if q > 3 * n or q < n / 3:
                    off.append((p, x, q, n))
                    continue
                f.write("%.3f %.3f %s\n" % (n, q, p))
        f.write("\n\n")
with open(os.path.join(d, "offscale.txt"), "w") as f:
    byprog = {}
    for p, x, q, n in off:
        byprog.setdefault(p, []).append((q, n))
    f.write("; ".join("off scale: %s, %d allocators, predicted %.0f-%.0f MiB vs native %.0f-%.0f"
                      % (p, len(v), min(q for q, _ in v), max(q for q, _ in v), min(n for _, n in v),
                         max(n for _, n in v)) for p, v in sorted(byprog.items())))
with open(os.path.join(d, "allocators.txt"), "w") as f:
    f.write(" ".join(allocs) + "\n")
print(open(os.path.join(d, "table.md")).read())
