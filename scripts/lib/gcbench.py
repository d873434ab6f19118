#!/usr/bin/env python3
"""scripts/lib/gcbench.py — the driver behind scripts/gcbench.sh (see its --help).

  gcbench.py --pymemlab BIN --python PY --objects N --backend B --rounds K
             --gcs "NAME ..." --out DIR --commit C
  gcbench.py --table-only DIR      table.md and meta.json again from DIR/runs.jsonl

One full collection of the gcbench graph (N tracked containers as
`a = []; b = [a]; a.append(b)` repeated N/2 times, every other `a` kept) under
each of our collectors (`pymemlab gcbench --gc NAME`) and under CPython's own
gc (scripts/gcbench-cpython.py run by PY), alternated K rounds: round r runs
every collector once, then CPython once, each in a fresh process.

Known answer, checked before anything is written: the builder leaves
2 * floor(floor(N/2) / 2) containers unreachable; every run, on both sides,
must report exactly that many collected, and ours must have tracked N + 2
objects (the containers, the keep list, gc.garbage). A run that does not:
one line naming it, exit 1, DIR left as it was.

Per run: the 1-minute load average before and after, and the harness's
`loaded` rule (harness/engine/metrics.c pm_load_is_loaded): from /proc/stat,
the CPUs busy over the run minus the run's own CPU (user + sys of the child
over its wall time) above 0.5, or steal above 5%, is a loaded run.

Writes DIR/runs.jsonl (one line per run), DIR/meta.json (machine, date,
commit, load, command) and DIR/table.md: per side, the median over the
rounds of ns per tracked object and of the collection's ms, each with its
95% interval from the order statistics (as pm_ci_median: with fewer than 9
rounds that is [min, max], under 95% below 6), and per collector the median of the per-round
ratio CPython / ours with its interval; where the two sides' intervals
overlap the table says "not distinguishable". Bad arguments: one line, exit
2, before anything runs.
"""
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pm_ci import ci_median, verdict  # noqa: E402

PROG = "gcbench.sh"
GCS = ("gen311", "gen313", "inc314", "pep848")


def die(msg, code=2):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(code)

def g3(x):
    """three significant digits"""
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def cpu_snap():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    return busy, v[7], busy + v[3] + v[4]


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_one(cmd, side):
    """runs cmd, returns its JSON and the load figures of the run"""
    l0 = load1()
    s0 = cpu_snap()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s1 = cpu_snap()
    l1 = load1()
    if p.returncode != 0:
        die(f"{side}: {' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[:300]}", 1)
    try:
        d = json.loads(p.stdout.strip().splitlines()[-1])
        float(d["ns_per_object"]), int(d["collected"]), int(d["objects"]), int(d["collection_ns"])
    except (ValueError, KeyError, IndexError, TypeError):
        die(f"{side}: {' '.join(cmd)} printed no gcbench JSON: {p.stdout.strip()[:300]}", 1)
    own = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / wall if wall > 0 else float("nan")
    total = s1[2] - s0[2]
    ncpu = os.cpu_count() or 1
    busy = (s1[0] - s0[0]) / total * ncpu if total > 0 else float("nan")
    steal = 100.0 * (s1[1] - s0[1]) / total if total > 0 else float("nan")
    loaded = (not math.isnan(steal) and steal > 5.0) or (not math.isnan(busy) and busy - own > 0.5)
    d.update(side=side, wall_s=round(wall, 4), own_cpus=round(own, 3), busy_cpus=round(busy, 3),
             steal_pct=round(steal, 2), load1_start=l0, load1_end=l1, loaded=bool(loaded))
    return d


def publish(out, runs, a, n, rounds, gcs, expected, pyver, start, end, load_start, load_end, cpu=None):
    """checks the known answer, then writes DIR/runs.jsonl, meta.json and table.md"""
    # the known answer: both sides collected what the builder made unreachable
    for d in runs:
        if d["collected"] != expected:
            die(f"{d['side']} round {d['round']}: collected {d['collected']}, but the graph of {n} containers "
                f"has {expected} unreachable: the figure is not published", 1)
        if d["side"] != "cpython" and d["objects"] != n + 2:
            die(f"{d['side']} round {d['round']}: tracked {d['objects']} objects, not {n + 2} "
                "(the containers, the keep list, gc.garbage)", 1)
        if d["side"] == "cpython" and d["objects"] < n:
            die(f"cpython round {d['round']}: tracked {d['objects']} objects, fewer than the {n} containers", 1)

    sides = gcs + ["cpython"]
    stats = {}
    for s in sides:
        rs = [d for d in runs if d["side"] == s]
        stats[s] = dict(ns=ci_median([d["ns_per_object"] for d in rs]),
                        ms=ci_median([d["collection_ns"] / 1e6 for d in rs]),
                        objects=sorted({d["objects"] for d in rs}),
                        loaded=[d["round"] for d in rs if d["loaded"]], n=len(rs))
    byround = {(d["side"], d["round"]): d for d in runs}
    ratios = {}
    for g in gcs:
        ratios[g] = ci_median([byround[("cpython", r)]["ns_per_object"] / byround[(g, r)]["ns_per_object"]
                               for r in range(1, rounds + 1)])

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if cpu is None and line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cpu = cpu or "?"
    nloaded = sum(d["loaded"] for d in runs)
    cpyname = f"CPython {pyver} gc.collect()"
    lines = [
        "# One full collection: pymemlab's collectors against CPython's own gc (gcbench)",
        "",
        f"Machine: {platform.node() or '?'}, {os.cpu_count()} CPUs ({cpu}); "
        f"{time.strftime('%Y-%m-%d %H:%M', start)} UTC; commit {a['commit']}; backend {a['backend']}; "
        f"{n} containers, {expected} of them in unreachable 2-cycles; {rounds} round(s), each every collector "
        f"then {cpyname} ({a['python']}), each run a fresh process; 1-minute load average "
        f"{load_start:.2f} at the start and {load_end:.2f} at the end; {nloaded} of {len(runs)} runs loaded.",
        "",
        "Each cell: median over the rounds [95% interval from the order statistics, as pm_ci_median; with fewer "
        "than 9 rounds that is [min, max], whose coverage is under 95% below 6]. ns per tracked object = the collection's wall time / the objects tracked when it "
        "started (CPython: len(gc.get_objects()), the interpreter's own objects included). Known answer, checked "
        "on every run: collected = the unreachable containers the builder made (both sides), and our tracked "
        "objects = containers + 2. A run is loaded when other work kept more than half a CPU busy during it "
        "(the harness's rule). Timings are wall time: taken on a loaded machine they measure the scheduler too.",
        "",
        "| collector | ns per tracked object | collection (ms) | tracked objects | collected | loaded rounds |",
        "|---|---|---|---|---|---|",
    ]
    for s in sides:
        st = stats[s]
        name = f"cpython-{pyver}" if s == "cpython" else s
        ld = f"{len(st['loaded'])} of {st['n']}" + (f" ({', '.join(map(str, st['loaded']))})" if st["loaded"] else "")
        objs = str(st["objects"][0]) if len(st["objects"]) == 1 else f"{st['objects'][0]}-{st['objects'][-1]}"
        lines.append(f"| {name} | {g3(st['ns'][0])} [{g3(st['ns'][1])}, {g3(st['ns'][2])}] | "
                     f"{g3(st['ms'][0])} [{g3(st['ms'][1])}, {g3(st['ms'][2])}] | {objs} | {expected} | {ld} |")
    lines += ["", f"| collector | {cpyname} / collector, per round | verdict |", "|---|---|---|"]
    c = stats["cpython"]["ns"]
    for g in gcs:
        rt = ratios[g]
        lines.append(f"| {g} | {rt[0]:.2f} [{rt[1]:.2f}, {rt[2]:.2f}] | {verdict(stats[g]['ns'], c)} |")
    lines += ["", "Runs (every field, per run): runs.jsonl; machine and command: meta.json.", ""]

    meta = {"commit": a["commit"], "date_utc": time.strftime("%Y-%m-%d %H:%M", start),
            "end_utc": time.strftime("%Y-%m-%d %H:%M", end), "machine": platform.node(), "cpus": os.cpu_count(),
            "cpu": cpu, "kernel": platform.release(), "load1_start": load_start, "load1_end": load_end,
            "loaded_runs": nloaded, "runs": len(runs), "python": a["python"], "python_version": pyver,
            "backend": a["backend"], "objects": n, "expected_collected": expected, "rounds": rounds, "gcs": gcs,
            "command": f"scripts/gcbench.sh --objects {n} --backend {a['backend']} --rounds {rounds} "
                       f"--gcs \"{' '.join(gcs)}\" --out {out}" + (f" (PYTHON={a['python']})")}
    os.makedirs(out, exist_ok=True)
    for name, text in (("runs.jsonl", "".join(json.dumps(d, sort_keys=True) + "\n" for d in runs)),
                       ("meta.json", json.dumps(meta, indent=1) + "\n"), ("table.md", "\n".join(lines))):
        tmp = os.path.join(out, name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(out, name))
    print("\n".join(lines))
    print(f"gcbench: {out}/table.md, runs.jsonl, meta.json", file=sys.stderr)
    return 0


def table_only(d):
    """the table and meta again from DIR/runs.jsonl and DIR/meta.json (no run)"""
    try:
        with open(os.path.join(d, "meta.json")) as f:
            m = json.load(f)
        with open(os.path.join(d, "runs.jsonl")) as f:
            runs = [json.loads(line) for line in f if line.strip()]
        a = {"commit": m["commit"], "backend": m["backend"], "python": m["python"]}
        start = time.strptime(m["date_utc"], "%Y-%m-%d %H:%M")
        end = time.strptime(m["end_utc"], "%Y-%m-%d %H:%M")
        args = (a, int(m["objects"]), int(m["rounds"]), list(m["gcs"]), int(m["expected_collected"]),
                m["python_version"], start, end, float(m["load1_start"]), float(m["load1_end"]), m["cpu"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        die(f"--table-only {d}: {e}")
    return publish(d, runs, *args)


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    if argv and argv[0] == "--table-only":
        if len(argv) != 2:
            die("--table-only takes one folder")
        return table_only(argv[1])
    a = {}
    it = iter(argv)
    for k in it:
        if not k.startswith("--") or k[2:] not in ("pymemlab", "python", "objects", "backend", "rounds", "gcs", "out", "commit"):
            die(f"unknown argument '{k}'")
        v = next(it, None)
        if v is None:
            die(f"{k} needs a value")
        a[k[2:]] = v
    for k in ("pymemlab", "python", "objects", "backend", "rounds", "gcs", "out", "commit"):
        if k not in a:
            die(f"--{k} is required")
    try:
        n = int(a["objects"])
        rounds = int(a["rounds"])
    except ValueError:
        die(f"--objects and --rounds take integers: '{a['objects']}', '{a['rounds']}'")
    if n < 4:
        die(f"--objects must be at least 4: '{a['objects']}'")
    if rounds < 1:
        die(f"--rounds must be at least 1: '{a['rounds']}'")
    gcs = a["gcs"].split()
    if not gcs:
        die("--gcs: no collector")
    for g in gcs:
        if g not in GCS:
            die(f"--gcs: unknown collector '{g}' (known: {', '.join(GCS)})")
    out = a["out"]
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        die(f"--out {out}: its folder {parent} does not exist")
    if os.path.exists(out) and not os.path.isdir(out):
        die(f"--out {out}: exists and is not a folder")
    if not os.access(a["pymemlab"], os.X_OK):
        die(f"{a['pymemlab']}: not an executable (scripts/build.sh release)")
    here = os.path.dirname(os.path.abspath(__file__))
    cpy_script = os.path.join(here, "..", "gcbench-cpython.py")
    try:
        pyver = subprocess.run([a["python"], "-c", "import platform; print(platform.python_version())"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        die(f"PYTHON={a['python']}: cannot run it")
    # the backend is checked by pymemlab itself (a tiny graph): its one line, exit 2
    p = subprocess.run([a["pymemlab"], "gcbench", "--objects", "4", "--backend", a["backend"], "--json"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        die(f"--backend {a['backend']}: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else 'exit %d' % p.returncode}")
    pairs = n // 2
    expected = 2 * (pairs // 2)

    start = time.gmtime()
    load_start = load1()
    runs = []
    for r in range(1, rounds + 1):
        for g in gcs:
            d = run_one([a["pymemlab"], "gcbench", "--objects", str(n), "--backend", a["backend"], "--gc", g, "--json"], g)
            d["round"] = r
            runs.append(d)
        d = run_one([a["python"], cpy_script, "--objects", str(n), "--json"], "cpython")
        d["round"] = r
        runs.append(d)
        print(f"gcbench: round {r} of {rounds}: " + ", ".join(
            f"{x['side']} {x['ns_per_object']:.1f} ns{' (loaded)' if x['loaded'] else ''}" for x in runs[-len(gcs) - 1:]),
            file=sys.stderr)
    load_end = load1()
    end = time.gmtime()

    return publish(out, runs, a, n, rounds, gcs, expected, pyver, start, end, load_start, load_end)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
