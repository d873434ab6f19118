#!/usr/bin/env bash
# tests/cli/plot.sh — `pymemlab plot` on the folders a user makes, checked
# through the figures' data files (DIR/plots/data) and the SVGs:
#  - any baseline or none: a folder without cpython and system, a single
#    backend, only null, a baseline that did not run; every figure drawn,
#    gnuplot silent (no warning);
#  - null (no memory figures) left out of every memory figure and named as
#    left out; its timing kept;
#  - the geometric-mean figure against a known answer computed here from
#    results.jsonl;
#  - throughput: the baseline and "not distinguishable" rows hollow (flag 0);
#  - latency: a median of 0 ns drawn on the "< resolution" row, not at 0;
#    the title gives the sampling rate the runs used (--latency-every 16);
#  - every SVG carries the stamp (commit, date UTC, load);
#  - phase marks of a workload that has them become vertical lines.
set -euo pipefail
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"
source "$PM_SOURCE_DIR/tests/cli/lib.bash"
command -v gnuplot >/dev/null || fail "gnuplot missing (scripts/bootstrap.sh installs gnuplot-nox)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tiny=$PM_SOURCE_DIR/tests/suites/tiny.suite

run() {  # OUT BACKENDS WORKLOADS [more run options]
  local out=$1 be=$2 wl=$3; shift 3
  "$PYMEMLAB" run --suite "$tiny" --backends "$be" --workloads "$wl" --reps 3 --out "$tmp/$out" "$@" \
    >"$tmp/$out.run" 2>&1 || fail "run $out: $(tail -3 "$tmp/$out.run")"
}
plot() {  # DIR: exit 0, nothing on stderr (a gnuplot warning is a failure)
  "$PYMEMLAB" plot "$tmp/$1" >"$tmp/$1.plot" 2>"$tmp/$1.plot.err" || fail "plot $1: exit $? $(cat "$tmp/$1.plot.err")"
  [ ! -s "$tmp/$1.plot.err" ] || fail "plot $1 printed on stderr: $(head -5 "$tmp/$1.plot.err")"
}

# ---- no cpython, no system: the baseline is the first backend timed ----
run nobase pymalloc,segfit,null web,gen-churn --latency-every 16
plot nobase
for f in throughput geomean footprint frag4 retention latency memory-web memory-gen-churn; do
  for e in png svg; do [ -s "$tmp/nobase/plots/$f.$e" ] || fail "nobase: no $f.$e"; done
done
grep -q 'baseline: pymalloc' "$tmp/nobase/plots/throughput.svg" || fail "nobase: throughput does not name pymalloc as the baseline"
grep -q 'one call in 16 timed' "$tmp/nobase/plots/latency.svg" || fail "latency: title lacks the runs' sampling rate (16)"
grep -q 'one call in 64' "$tmp/nobase/plots/latency.svg" && fail "latency: hard-coded 64"

# null: timing kept, memory figures without it
d=$tmp/nobase/plots/data
grep -q '^MEM_BACKENDS = "pymalloc segfit"$' "$d/tics.gp" || fail "null among the memory backends: $(grep MEM_ "$d/tics.gp")"
grep -q '^NOMEM_NOTE = ".*null' "$d/tics.gp" || fail "null not named as left out"
python3 - "$d" <<'PY' || fail "null in a memory figure's data"
import sys
d = sys.argv[1]
heat = [l.split() for l in open(d + "/frag4.dat") if not l.startswith("#")]
assert {int(c[0]) for c in heat} == {0, 1}, "frag4 has a column per memory backend only"
for c in heat:
    assert c[2] == "?" or float(c[2]) >= 0, c     # the old null cell showed -0.79
blocks = open(d + "/footprint.dat").read().split("\n\n\n")
assert len([b for b in blocks if b.strip()]) == 3, "pymalloc, segfit, peak live"
thr = [b for b in open(d + "/throughput.dat").read().split("\n\n\n") if b.strip()]
assert len(thr) == 3 and "null" in thr[2], "throughput keeps null"
PY
for f in memory-web memory-gen-churn footprint frag4 retention; do
  grep -q '>null<' "$tmp/nobase/plots/$f.svg" && fail "$f.svg shows null"
done
grep -q '>null<' "$tmp/nobase/plots/throughput.svg" || fail "throughput.svg lacks null"

# the geometric mean: a known answer from results.jsonl
python3 - "$tmp/nobase" <<'PY' || fail "geomean.dat differs from the geometric mean computed from results.jsonl"
import json, math, statistics, sys
d = sys.argv[1]
recs = [json.loads(l) for l in open(d + "/results.jsonl")]
ns = {}
for r in recs:
    if r["status"] == "ok" and r["ns_per_op"] is not None:
        ns.setdefault((r["workload"], r["backend"]), []).append(r["ns_per_op"])
rows = [l.split() for l in open(d + "/plots/data/geomean.dat") if not l.startswith("#")]
got = {r[6]: (float(r[1]), float(r[2]), float(r[3]), int(r[4]), int(r[5])) for r in rows}
for be in ("pymalloc", "segfit", "null"):
    logs = [math.log(statistics.median(ns[(w, be)]) / statistics.median(ns[(w, "pymalloc")]))
            for w in ("web", "gen-churn") if (w, be) in ns]
    want = math.exp(sum(logs) / len(logs))
    g = got[be]
    assert abs(g[0] - want) <= 1e-4 * want, (be, g, want)
    assert g[1] <= g[0] <= g[2], (be, g)
    assert g[4] == len(logs), (be, g)
    assert g[3] == (0 if g[1] <= 1 <= g[2] else 1), (be, g)
assert got["pymalloc"][0] == 1.0 and got["pymalloc"][3] == 0, got["pymalloc"]
PY
# throughput: the baseline's own rows are hollow (flag 0)
awk '/^# pymalloc/ {b=1; next} /^# / {b=0} b && NF == 6 && $1 != -99 && $5 != 0 {bad=1} END {exit bad}' "$d/throughput.dat" \
  || fail "throughput: the baseline drawn as distinguishable from itself"

# the stamp on every figure: commit, date, load
commit=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['pymemlab']['commit'][:7])" "$tmp/nobase/provenance.json")
for s in "$tmp"/nobase/plots/*.svg; do
  grep -q "pymemlab $commit.* UTC · load " "$s" || fail "$(basename "$s"): no stamp 'pymemlab $commit ... UTC · load'"
done
# phase marks: web has them (warmup, steady, ...)
grep -q '^set arrow 101 ' "$d/marks-web.gp" || fail "memory-web: no phase marks"
grep -q '>warmup<' "$tmp/nobase/plots/memory-web.svg" || fail "memory-web.svg: no phase label"

# ---- a latency median of 0 ns (below the timer's step) ----
cp -r "$tmp/nobase" "$tmp/zero"
rm -rf "$tmp/zero/plots"
python3 - "$tmp/zero/results.jsonl" <<'PY'
import json, sys
p = sys.argv[1]
recs = [json.loads(l) for l in open(p)]
for r in recs:
    if r["backend"] == "segfit" and r["workload"] == "web":
        r["lat_p50_ns"] = 0
        r["lat_p99_ns"] = 20.0
open(p, "w").write("".join(json.dumps(r) + "\n" for r in recs))
PY
plot zero
python3 - "$tmp/zero/plots/data" <<'PY' || fail "latency: a 0 ns median not on the resolution row"
import sys
d = sys.argv[1]
res = float([l.split("=")[1] for l in open(d + "/tics.gp") if l.startswith("LAT_RES")][0])
blocks = [b for b in open(d + "/latency.dat").read().split("\n\n\n") if b.strip()]
seg = [l.split() for l in blocks[1].splitlines() if not l.startswith("#") and l.split()[0] != "-99"]
web = [r for r in seg if r[5] == "web"][0]
assert res > 0 and abs(float(web[1]) - res / 2) < 1e-4 * res, (web, res)
for b in blocks:
    for l in b.splitlines():
        if not l.startswith("#"):
            assert all(v == "?" or float(v) > 0 for v in l.split()[1:5]), l
PY
grep -q '&lt; [0-9]* ns (resolution)' "$tmp/zero/plots/latency.svg" || fail "latency.svg: no '< N ns (resolution)' row"

# ---- a baseline with no runs (provenance names one that did not run) ----
cp -r "$tmp/nobase" "$tmp/gone"
rm -rf "$tmp/gone/plots"
python3 - "$tmp/gone/provenance.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["config"]["baseline"] = "nope"
json.dump(d, open(sys.argv[1], "w"))
PY
plot gone
grep -q 'no ratio to draw: the baseline (nope) has no ok runs' "$tmp/gone/plots/geomean.svg" || fail "gone: geomean does not say why it is empty"

# ---- a single backend ----
run single system web,surv
plot single
for f in throughput geomean footprint latency; do [ -s "$tmp/single/plots/$f.png" ] || fail "single: no $f.png"; done

# ---- only null: timing figures, no memory figure ----
run onlynull null gen-churn,surv
plot onlynull
for f in throughput geomean latency; do [ -s "$tmp/onlynull/plots/$f.png" ] || fail "onlynull: no $f.png"; done
for f in footprint frag4 retention memory-surv; do [ -e "$tmp/onlynull/plots/$f.png" ] && fail "onlynull: drew $f.png"; done
echo "ok: plot"
