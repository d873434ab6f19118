#!/usr/bin/env bash
# tests/cli/gcbench.sh — `pymemlab gcbench` on a small graph: exact collected
# count (half of the containers), the JSON keys, the error convention; and
# scripts/gcbench-cpython.py on the same graph when python3 is there.
# Issue 20: every collector (--gc) collects the same half; pyrun, objrun and
# gcbench refuse an unknown --gc or a bad --gc-threshold with exit 2 and one
# line, writing nothing (no series file).
set -euo pipefail
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"
status=0
fail() { echo "FAIL: $*" >&2; status=1; }

for b in system $("$PYMEMLAB" backends |
    awk 'NR > 1 && $2 == "available" && $3 == "per-instance" && $1 != "null" { print $1 }'); do
  js=$("$PYMEMLAB" gcbench --objects 20000 --backend "$b" --json) || { fail "$b: exit $?"; continue; }
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["backend"] == sys.argv[2], d
assert d["objects"] == 20002 and d["containers"] == 20000, d
assert d["collected"] == 10000, d
assert d["ns_per_object"] > 0, d
' "$js" "$b" || fail "$b: $js"
  out=$("$PYMEMLAB" gcbench --objects 1000 --backend "$b")
  grep -q "collected 500 in" <<<"$out" || fail "$b text: $out"
done

js=$(python3 "$PM_SOURCE_DIR/scripts/gcbench-cpython.py" --objects 20000 --json)
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["collected"] == 10000 and d["objects"] >= 20000 and d["ns_per_object"] > 0, d
' "$js" || fail "cpython: $js"

rc=0
err=$("$PYMEMLAB" gcbench --objects x --backend system 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "^pymemlab: bad value for --objects: 'x'" <<<"$err" || fail "bad --objects: $rc $err"
rc=0
err=$("$PYMEMLAB" gcbench --objects 100 2>&1) || rc=$?
[ "$rc" = 2 ] && [ "$err" = "pymemlab: gcbench: --backend is required (see 'pymemlab backends')" ] ||
  fail "no backend: $rc $err"
for g in gen311 gen313 inc314 pep848; do
  js=$("$PYMEMLAB" gcbench --objects 20000 --backend system --gc "$g" --json) || { fail "$g: exit $?"; continue; }
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["gc"] == sys.argv[2] and d["collected"] == 10000 and d["objects"] == 20002, d
' "$js" "$g" || fail "gcbench --gc $g: $js"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for cmd in "gcbench --objects 100 --backend system" "pyrun cycles --backend system --series $tmp/s.csv" \
           "objrun $PM_SOURCE_DIR/tests/objscripts/class_cycle.txt --backend system"; do
  name=${cmd%% *}
  rc=0
  # shellcheck disable=SC2086
  err=$("$PYMEMLAB" $cmd --gc gen312 2>&1) || rc=$?
  [ "$rc" = 2 ] && [ "$err" = "pymemlab: $name: unknown collector for --gc: 'gen312' (known: gen311, gen313, inc314, pep848)" ] ||
    fail "$name --gc gen312: $rc $err"
  for bad in 1,2 1,2,3,4 a,b,c -1,2,3 "1,,3"; do
    rc=0
    # shellcheck disable=SC2086
    err=$("$PYMEMLAB" $cmd --gc-threshold "$bad" 2>&1) || rc=$?
    [ "$rc" = 2 ] && [ "$err" = "pymemlab: $name: bad value for --gc-threshold: '$bad' (expected T0,T1,T2: three integers 0..2147483648)" ] ||
      fail "$name --gc-threshold $bad: $rc $err"
  done
done
[ ! -e "$tmp/s.csv" ] || fail "pyrun wrote a series after a usage error"
# pyrun --gc NAME: the JSON names the collector and its pauses; --gc-held the
# garbage held and a sixth series column
js=$("$PYMEMLAB" pyrun service --backend system --scale 0.02 --reps 1 --gc inc314 --gc-held \
     --gc-threshold 100,10,0 --series "$tmp/s.csv" --json)
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["gc"] == "inc314", d
assert d["gc_pauses"] > 0 and d["gc_pause_max_ns"] >= d["gc_pause_p99_ns"] >= d["gc_pause_p50_ns"] > 0, d
assert d["gc_pause_total_ns"] >= d["gc_pause_max_ns"] and d["gc_examined"] > 0, d
assert d["gc_peak_garbage_held_bytes"] > 0 and d["gc_examined_bytes"] > 0, d
' "$js" || fail "pyrun --gc inc314: $js"
head -1 "$tmp/s.csv" | grep -qx "op,live_bytes,footprint_bytes,mapped_bytes,mark,garbage_held_bytes" ||
  fail "series header: $(head -1 "$tmp/s.csv")"

# scripts/gcbench.sh: both sides alternated, the table with intervals and
# load; the known answer checked on every run before anything is written
g=$tmp/g
PYTHON=python3 "$PM_SOURCE_DIR/scripts/gcbench.sh" --objects 20000 --rounds 2 --gcs "gen311 inc314" \
  --out "$g" >"$tmp/gb.out" 2>&1 || fail "gcbench.sh: exit $? $(tail -3 "$tmp/gb.out")"
python3 - "$g" <<'PY' || fail "gcbench.sh output: $(cat "$g/table.md" 2>&1 | head -20)"
import json, re, sys
d = sys.argv[1]
runs = [json.loads(l) for l in open(d + "/runs.jsonl")]
assert [r["side"] for r in runs] == ["gen311", "inc314", "cpython"] * 2, runs
assert [r["round"] for r in runs] == [1, 1, 1, 2, 2, 2], runs
for r in runs:
    assert r["collected"] == 10000 and isinstance(r["loaded"], bool), r
    assert r["load1_start"] >= 0 and r["load1_end"] >= 0 and r["wall_s"] > 0, r
meta = json.load(open(d + "/meta.json"))
assert meta["rounds"] == 2 and meta["expected_collected"] == 10000 and meta["runs"] == 6, meta
assert meta["commit"] and meta["cpus"] >= 1 and "load1_start" in meta, meta
t = open(d + "/table.md").read()
assert re.search(r"^Machine: .*; \d{4}-\d\d-\d\d \d\d:\d\d UTC; commit \S+; backend system; 20000 containers, 10000 of them", t, re.M), t
assert re.search(r"1-minute load average [0-9.]+ at the start and [0-9.]+ at the end; \d+ of 6 runs loaded", t), t
rows = re.findall(r"^\| (gen311|inc314|cpython-[0-9.]+) \| ([0-9.e+]+) \[([0-9.e+]+), ([0-9.e+]+)\] \| .* \| 10000 \| (\d) of 2", t, re.M)
assert len(rows) == 3, t
for _, m, lo, hi, _ in rows:
    assert float(lo) <= float(m) <= float(hi), t
assert re.search(r"^\| gen311 \| [0-9.]+ \[[0-9.]+, [0-9.]+\] \| (faster|slower|not distinguishable) \|$", t, re.M), t
PY
# the 95% interval of a median, as pm_ci_median: [x(k), x(n+1-k)] with the
# widest k whose coverage is still 95% (n = 10: [x2, x9]; below 9: [min, max])
python3 - "$PM_SOURCE_DIR/scripts/lib/gcbench.py" <<'PY' || fail "gcbench.py ci_median"
import importlib.util, sys
spec = importlib.util.spec_from_file_location("gcbench", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
for n, want in ((2, (1.5, 1, 2)), (6, (3.5, 1, 6)), (8, (4.5, 1, 8)), (9, (5, 2, 8)), (10, (5.5, 2, 9)), (20, (10.5, 6, 15))):
    got = m.ci_median(list(range(n, 0, -1)))
    assert got == want, (n, got, want)
PY
# scripts/gc-table.py (gc-compare.sh's table) the same: 6 reps of 1..6 ms give [1, 6]
mkdir -p "$tmp/gt"
python3 -c '
import json
for r in range(1, 7):
    print(json.dumps({"workload": "w", "gc": "gen311", "rep": r, "scale": 1, "gc_pauses": 3, "load1_start": 0.1,
                      "load1_end": 0.1, "gc_pause_p99_ns": r * 1e6, "gc_pause_max_ns": r * 1e6,
                      "gc_pause_total_ns": r * 1e6, "gc_examined_max": 5, "peak_footprint_bytes": 1048576,
                      "gc_peak_garbage_held_bytes": 0}))' >"$tmp/gt/runs.jsonl"
python3 "$PM_SOURCE_DIR/scripts/gc-table.py" "$tmp/gt" system abc1234 >/dev/null || fail "gc-table.py: exit $?"
grep -q '^| w | gen311 | 1 | 3 | 3.5 \[1, 6\] | 3.5 \[1, 6\] |' "$tmp/gt/table.md" || fail "gc-table.py interval: $(grep '^| w' "$tmp/gt/table.md")"
# --table-only: the same table again from runs.jsonl and meta.json
cp "$g/table.md" "$tmp/t1"
"$PM_SOURCE_DIR/scripts/gcbench.sh" --out "$g" --table-only >/dev/null 2>&1 || fail "gcbench.sh --table-only: exit $?"
cmp -s "$g/table.md" "$tmp/t1" || fail "gcbench.sh --table-only changed table.md: $(diff "$tmp/t1" "$g/table.md")"
cp "$g/table.md" "$tmp/table.before"
# a CPython side that collects the wrong number: exit 1, nothing overwritten
cat >"$tmp/fakepy" <<'SH'
#!/bin/sh
case $1 in -c) echo 3.11.0 ;; *) echo '{"backend": "cpython-3.11.0", "objects": 20100, "containers": 20000, "collected": 9998, "collection_ns": 1000, "ns_per_object": 0.05}' ;; esac
SH
chmod +x "$tmp/fakepy"
rc=0
err=$(PYTHON=$tmp/fakepy "$PM_SOURCE_DIR/scripts/gcbench.sh" --objects 20000 --rounds 1 --gcs gen311 --out "$g" 2>&1 >/dev/null) || rc=$?
[ "$rc" = 1 ] && grep -q "^gcbench.sh: cpython round 1: collected 9998, but the graph of 20000 containers has 10000 unreachable" <<<"$err" ||
  fail "wrong known answer: $rc $err"
cmp -s "$g/table.md" "$tmp/table.before" || fail "gcbench.sh overwrote table.md after a failed known answer"
# bad arguments: one line, exit 2, no folder made
for args in "--rounds 0" "--objects x" "--gcs gen312" "--out $tmp/no/such/dir" "--backend nosuch" "--rounds" "--frob 1"; do
  rc=0
  # shellcheck disable=SC2086
  err=$("$PM_SOURCE_DIR/scripts/gcbench.sh" --out "$tmp/bad" $args 2>&1) || rc=$?
  [ "$rc" = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q "^gcbench.sh: " <<<"$err" || fail "gcbench.sh $args: $rc $err"
  [ ! -e "$tmp/bad" ] || fail "gcbench.sh $args: made $tmp/bad"
done
[ $status = 0 ] && echo "ok: gcbench"
exit $status
