#!/usr/bin/env python3
"""scripts/lib/speed-vs-obmalloc.py RUNS.jsonl — the tables of
scripts/speed-vs-obmalloc.sh from its raw `replay --json` lines (each with
program, version and set added): per trace, mode and domain the speed-up
obmalloc ns/op / model ns/op with a bootstrap 95% interval and a verdict;
per mode and domain the geometric mean with its interval. With `null`
runs (--floor): the replay loop's own cost (null does nothing) and the
allocator-only speed-up (obmalloc - null) / (model - null), its interval
resampling all three. Markdown on stdout.

Statistics as the harness's (harness/engine/stats.c): the median's interval is
distribution-free, [x(k), x(n+1-k)] with the largest k whose binomial
coverage is at least 95% (min..max below 6 samples, whose level is then
printed); a ratio's interval is the 2.5/97.5 percentile of 2000 bootstrap
resamples (fixed seed); "not distinguishable" where the two ns/op
intervals overlap. The geometric mean's interval resamples every trace's
reps on both sides together."""
import json
import math
import random
import sys
from collections import OrderedDict

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
from pm_ci import ci_median as _ci, median, verdict  # noqa: E402


def ci_median(x):
    """(median, lo, hi, level) as pm_ci_median."""
    return _ci(x, with_level=True)

RESAMPLES = 2000
SEED = 20261207


def resample(rng, x):
    return [x[rng.randrange(len(x))] for _ in x]


def speedup_ci(ref, model, rng):
    est = median(ref) / median(model)
    boot = sorted(median(resample(rng, ref)) / median(resample(rng, model))
                  for _ in range(RESAMPLES))
    return est, boot[int(0.025 * RESAMPLES)], boot[int(0.975 * RESAMPLES) - 1]


def net_speedup_ci(ref, model, floor, rng):
    """(obmalloc - null) / (model - null): the speed-up of the allocators
    alone, the replay loop's cost (the null backend's) taken out. None
    where the model's median is not above the floor's."""
    def net(r, m, f):
        d = median(m) - median(f)
        return (median(r) - median(f)) / d if d > 0 else float("nan")
    est = net(ref, model, floor)
    boot = sorted(net(resample(rng, ref), resample(rng, model), resample(rng, floor))
                  for _ in range(RESAMPLES))
    if est != est or any(b != b for b in boot):
        return None
    return est, boot[int(0.025 * RESAMPLES)], boot[int(0.975 * RESAMPLES) - 1]


def geomean_net_ci(triples, rng):
    def gm(ts):
        vals = []
        for r, m, f in ts:
            d = median(m) - median(f)
            n = median(r) - median(f)
            if d <= 0 or n <= 0:
                return float("nan")
            vals.append(math.log(n / d))
        return math.exp(sum(vals) / len(vals))
    est = gm(triples)
    boot = sorted(gm([(resample(rng, r), resample(rng, m), resample(rng, f)) for r, m, f in triples])
                  for _ in range(RESAMPLES))
    if est != est or any(b != b for b in boot):
        return None
    return est, boot[int(0.025 * RESAMPLES)], boot[int(0.975 * RESAMPLES) - 1]


def geomean_ci(pairs, rng):
    est = math.exp(sum(math.log(median(r) / median(m)) for r, m in pairs) / len(pairs))
    boot = []
    for _ in range(RESAMPLES):
        boot.append(math.exp(sum(math.log(median(resample(rng, r)) / median(resample(rng, m)))
                                 for r, m in pairs) / len(pairs)))
    boot.sort()
    return est, boot[int(0.025 * RESAMPLES)], boot[int(0.975 * RESAMPLES) - 1]


def fmt_ci(est, lo, hi, digits=2):
    return f"{est:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    groups = OrderedDict()   # (mode, domain) -> OrderedDict((version, set, program) -> {kind: row})
    for n, line in enumerate(open(sys.argv[1]), 1):
        try:
            d = json.loads(line)
        except ValueError:
            sys.exit(f"speed-vs-obmalloc.py: {sys.argv[1]}:{n}: not a JSON object")
        b = d["backend"]
        kind = ("obmalloc" if b.startswith("cpython") else "floor" if b == "null" else
                "before" if "large=segfit" in b else "model")
        g = groups.setdefault((d["time_mode"], d["domain"]), OrderedDict())
        row = g.setdefault((d["version"], d["set"], d["program"]), {}).setdefault(
            kind, {"reps": [], "calls": 0, "loaded": 0, "ops": d["ops"], "backend": b})
        row["reps"] += [x for x in d["ns_per_op_reps"] if x == x]
        row["calls"] += 1
        row["loaded"] += 1 if d.get("load", {}).get("loaded") else 0
    rng = random.Random(SEED)
    any_before = any("before" in r for g in groups.values() for r in g.values())
    any_floor = any("floor" in r for g in groups.values() for r in g.values())
    summary = []
    levels = set()
    for (mode, domain), g in groups.items():
        print(f"## {mode} mode, --domain {domain}")
        print()
        head = ("| CPython | set | program | ops | obmalloc ns/op | model ns/op | speed-up [95% CI] | verdict |"
                + (" before: speed-up [95% CI] |" if any_before else "")
                + (" null ns/op (loop floor) | allocator-only speed-up [95% CI] |" if any_floor else "")
                + " loaded runs |")
        print(head)
        print("|" + " --- |" * (head.count("|") - 1))
        pairs, pairs_before, triples = [], [], []
        verdicts = {"faster": 0, "slower": 0, "not distinguishable": 0}
        for (version, set_, prog), rows in g.items():
            if "obmalloc" not in rows or "model" not in rows or not rows["obmalloc"]["reps"] \
                    or not rows["model"]["reps"]:
                print(f"| {version} | {set_} | {prog} | | | | missing runs | |" + (" |" if any_before else "")
                      + (" | |" if any_floor else ""))
                continue
            ref, mod = rows["obmalloc"], rows["model"]
            cr, cm = ci_median(ref["reps"]), ci_median(mod["reps"])
            levels.update((round(cr[3], 4), round(cm[3], 4)))
            est, lo, hi = speedup_ci(ref["reps"], mod["reps"], rng)
            v = verdict(cm, cr)
            verdicts[v] += 1
            pairs.append((ref["reps"], mod["reps"]))
            cells = [version, set_, prog, str(ref["ops"]),
                     fmt_ci(cr[0], cr[1], cr[2], 1), fmt_ci(cm[0], cm[1], cm[2], 1),
                     fmt_ci(est, lo, hi), v]
            if any_before:
                if "before" in rows and rows["before"]["reps"]:
                    pairs_before.append((ref["reps"], rows["before"]["reps"]))
                    cells.append(fmt_ci(*speedup_ci(ref["reps"], rows["before"]["reps"], rng)))
                else:
                    cells.append("")
            if any_floor:
                if "floor" in rows and rows["floor"]["reps"]:
                    fl = rows["floor"]["reps"]
                    cf = ci_median(fl)
                    net = net_speedup_ci(ref["reps"], mod["reps"], fl, rng)
                    cells += [fmt_ci(cf[0], cf[1], cf[2], 1), fmt_ci(*net) if net else "n/a"]
                    triples.append((ref["reps"], mod["reps"], fl))
                else:
                    cells += ["", ""]
            loaded = sum(r["loaded"] for r in rows.values())
            calls = sum(r["calls"] for r in rows.values())
            cells.append(f"{loaded} of {calls}")
            print("| " + " | ".join(cells) + " |")
        print()
        gm = geomean_ci(pairs, rng) if pairs else None
        gmb = geomean_ci(pairs_before, rng) if pairs_before else None
        gmn = geomean_net_ci(triples, rng) if triples else None
        summary.append((mode, domain, len(pairs), gm, gmb, verdicts, gmn))
    print("## Geometric mean of the speed-ups")
    print()
    print("| mode | domain | traces | geometric mean [95% CI] | goal 1.25 | faster | slower | not distinguishable |"
          + (" before: geometric mean [95% CI] |" if any_before else "")
          + (" allocator-only geometric mean [95% CI] |" if any_floor else ""))
    print("| --- | --- | ---: | --- | --- | ---: | ---: | ---: |" + (" --- |" if any_before else "")
          + (" --- |" if any_floor else ""))
    for mode, domain, n, gm, gmb, v, gmn in summary:
        if gm is None:
            continue
        goal = ("met" if gm[1] >= 1.25 else "not met" if gm[2] < 1.25
                else "not distinguishable from 1.25")
        line = (f"| {mode} | {domain} | {n} | {fmt_ci(*gm)} | {goal} | {v['faster']} | {v['slower']} | "
                f"{v['not distinguishable']} |")
        if any_before:
            line += f" {fmt_ci(*gmb) if gmb else ''} |"
        if any_floor:
            line += f" {fmt_ci(*gmn) if gmn else 'n/a'} |"
        print(line)
    print()
    lv = ", ".join(f"{x:.1%}" for x in sorted(levels))
    print("Speed-up: obmalloc ns/op ÷ model ns/op, ratio of medians (above 1: the model is faster); "
          "ns/op: median [interval of the median] of the fresh-process reps "
          f"(coverage of those intervals: {lv}; 95% needs 6 reps or more). Verdict: faster or slower only "
          "where the two ns/op intervals do not overlap. Loaded runs: `replay` invocations the "
          "harness flagged as taken while other work kept the machine busy (their figures are "
          "not comparable with a quiet run)."
          + (" Loop floor: the `null` backend's ns/op on the same trace, mode and domain (it does "
             "nothing: what remains is the replay loop's own cost, which both sides pay); "
             "allocator-only speed-up: (obmalloc - null) / (model - null), ratio of medians with a "
             "bootstrap interval resampling all three; n/a where a resample's model median is not "
             "above the floor's." if any_floor else ""))


if __name__ == "__main__":
    main()
