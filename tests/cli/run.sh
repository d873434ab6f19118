#!/usr/bin/env bash
# tests/cli/run.sh — the suite runner and its folders: `pymemlab run`,
# `merge`, `plot`, on tests/suites/tiny.suite and small suites made here.
#
#  - isolation: test-crash, test-hang and test-abort runs are recorded as
#    failed (signal, timeout, signal with the message the run printed), every
#    other run completes;
#  - --resume after the runner was killed with SIGKILL mid-way gives the same
#    final set of results as an uninterrupted run;
#  - the CSV header and the JSON keys are exactly the columns docs/main-job.md
#    documents; CSV and JSONL hold the same records;
#  - --emit-jobs lines run one cell each; merge combines them, and refuses
#    incomparable folders, the same run twice, an --out with results;
#  - every built-in suite parses (through --emit-jobs: checked, not run);
#  - plot draws the PNG and SVG files, and gnuplot missing is exit 2;
#  - bad input: one line, exit 2, no result file created or changed.
set -euo pipefail
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"
source "$PM_SOURCE_DIR/tests/cli/lib.bash"
status=0
fail() { echo "FAIL: $*" >&2; status=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tiny=$PM_SOURCE_DIR/tests/suites/tiny.suite
asan=0
if asan_build; then asan=1; fi

# records SUMMARY: "workload backend rep status failure" per line, sorted,
# plus checks that results.csv holds the same records as results.jsonl
records() {   # DIR
  python3 - "$1" <<'EOF'
import csv, json, sys
d = sys.argv[1]
js = [json.loads(l) for l in open(d + "/results.jsonl")]
with open(d + "/results.csv", newline="") as f:
    rows = list(csv.DictReader(f))
assert len(rows) == len(js), (len(rows), len(js))
for r, j in zip(rows, js):
    for k, v in j.items():
        if v is None:
            assert r[k] == "", (k, r[k])
        elif isinstance(v, str):
            assert r[k] == v, (k, r[k], v)
        else:
            assert abs(float(r[k]) - v) <= 1e-6 * max(1, abs(v)), (k, r[k], v)
for j in sorted(js, key=lambda j: (j["workload"], j["backend"], j["rep"])):
    print(j["workload"], j["backend"], j["rep"], j["status"], j["failure"] or "-")
EOF
}

# ---- isolation: a crash, a hang, an abort; the other runs complete ----
"$PYMEMLAB" run --suite "$tiny" --workloads web,gen-churn --reps 1 --timeout 3 \
  --backends system,test-crash,after=300,test-hang,after=300,test-abort,after=300 \
  --out "$tmp/iso" >"$tmp/iso.out" 2>"$tmp/iso.err" || fail "isolation: exit $? ($(tail -2 "$tmp/iso.err"))"
python3 - "$tmp/iso" <<'EOF' || fail "isolation: records"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1] + "/results.jsonl")]
assert len(recs) == 8, len(recs)
for r in recs:
    b = r["backend"]
    if b == "system":
        assert r["status"] == "ok" and r["failure"] is None and r["reason"] is None, r
        assert r["ns_per_op"] > 0 and r["ops"] > 0 and r["peak_live_bytes"] > 0, r
        assert r["lat_samples"] > 0 and r["series"], r
        # the record the run measured reaches the folder whole: the collector's
        # name (a string field, lost by the pipe before one record) and the
        # major faults (a field added by one line of harness/engine/result_fields.def)
        assert r["majflt_per_op"] is not None and r["majflt_per_op"] >= 0, r
        if r["kind"] == "py":
            assert r["gc"] == "gen311", r
        else:
            assert r["gc"] is None, r
    elif b.startswith("test-crash"):
        assert r["status"] == "failed" and r["failure"] == "signal", r
        # under ASan, ASan catches the signal, reports and exits
        assert r["reason"] == "signal 11 (SIGSEGV)" or \
            r["reason"].startswith("signal (sanitizer report): AddressSanitizer: SEGV on unknown address"), r
    elif b.startswith("test-hang"):
        assert r["status"] == "failed" and r["failure"] == "timeout", r
        assert r["reason"].startswith("timeout: killed after 3 s"), r
        assert 2.9 < r["wall_s"] < 30, r
    elif b.startswith("test-abort"):
        assert r["status"] == "failed" and r["failure"] == "signal", r
        assert r["reason"] == ("signal 6 (SIGABRT): pymemlab: test-abort: foreign pointer at "
                               "(nil): deliberate misuse report (tests only)"), r
    else:
        assert False, b
EOF
[ -s "$tmp/iso/logs/web__test-abort+after=300__1.stderr" ] || fail "isolation: no stderr log of the abort"
grep -q "web on test-crash,after=300: 1 of 1 failed: signal" "$tmp/iso/summary.md" ||
  fail "isolation: summary.md does not list the crash"
grep -q "^gen-churn" "$tmp/iso.out" || fail "isolation: no summary on stdout"
[ $status = 0 ] && echo "ok: isolation (crash, hang, abort recorded; the rest ran)"

# ---- the columns: exactly those of docs/main-job.md ----
doc=$(awk '/<!-- results-columns:begin -->/{f=1; next} /<!-- results-columns:end -->/{f=0} f && /^\| `/ { gsub(/^\| `|`.*$/, ""); printf "%s%s", sep, $0; sep="," }' \
  "$PM_SOURCE_DIR/docs/main-job.md")
[ -n "$doc" ] || fail "docs/main-job.md: no results-columns table"
[ "$(head -n1 "$tmp/iso/results.csv")" = "$doc" ] || fail "CSV header differs from docs/main-job.md: $(head -n1 "$tmp/iso/results.csv") vs $doc"
python3 - "$tmp/iso/results.jsonl" "$doc" <<'EOF' || fail "JSON keys differ from docs/main-job.md"
import json, sys
want = sys.argv[2].split(",")
for l in open(sys.argv[1]):
    assert list(json.loads(l).keys()) == want
EOF
records "$tmp/iso" >/dev/null || fail "CSV and JSONL disagree"
[ $status = 0 ] && echo "ok: CSV header and JSON keys are those of docs/main-job.md"

# ---- --resume after a SIGKILL gives the same results ----
cat >"$tmp/slow.suite" <<'EOF'
reps 2
timeout 60
py web scale=0.02 seed=3
gen churn ops=300K live=5K seed=7
gen fifo ops=300K live=5K
EOF
be=pymalloc,system,null
"$PYMEMLAB" run --suite "$tmp/slow.suite" --backends "$be" --out "$tmp/A" >/dev/null 2>"$tmp/A.err" ||
  fail "uninterrupted run: exit $?"
"$PYMEMLAB" run --suite "$tmp/slow.suite" --backends "$be" --out "$tmp/B" >/dev/null 2>"$tmp/B.err" &
pid=$!
for _ in $(seq 1 400); do
  n=$( (wc -l <"$tmp/B/results.jsonl") 2>/dev/null || echo 0)
  [ "$n" -ge 4 ] && break
  sleep 0.02
done
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
done_before=$(wc -l <"$tmp/B/results.jsonl")
total=$(wc -l <"$tmp/A/results.jsonl")
[ "$done_before" -lt "$total" ] || fail "resume: the runner was not killed mid-way ($done_before of $total)"
expect_usage_error "pymemlab: run: $tmp/B already holds results (--resume continues that run; or choose another --out)" \
  run --suite "$tmp/slow.suite" --backends "$be" --out "$tmp/B"
"$PYMEMLAB" run --suite "$tmp/slow.suite" --backends "$be" --out "$tmp/B" --resume >/dev/null 2>"$tmp/B2.err" ||
  fail "resume: exit $?"
grep -q "resuming $tmp/B: " "$tmp/B2.err" || fail "resume: no 'resuming' line: $(cat "$tmp/B2.err")"
python3 - "$tmp/A" "$tmp/B" <<'EOF' || fail "resume: results differ from an uninterrupted run"
import json, sys
def latest(d):
    out = {}
    for l in open(d + "/results.jsonl"):
        r = json.loads(l)
        out[(r["workload"], r["backend"], r["rep"])] = r
    return out
a, b = latest(sys.argv[1]), latest(sys.argv[2])
assert a.keys() == b.keys(), (sorted(a.keys() ^ b.keys()))
for k in a:
    assert a[k]["status"] == b[k]["status"] == "ok", (k, a[k]["status"], b[k]["status"])
    for f in ("ops", "peak_live_bytes", "final_live_bytes", "params", "kind", "seed", "series"):
        assert a[k][f] == b[k][f], (k, f, a[k][f], b[k][f])
# each run ran once to the end: no ok run twice
seen = {}
for l in open(sys.argv[2] + "/results.jsonl"):
    r = json.loads(l)
    if r["status"] == "ok":
        key = (r["workload"], r["backend"], r["rep"])
        assert key not in seen, ("ran twice", key)
        seen[key] = 1
EOF
[ "$(records "$tmp/A")" = "$(records "$tmp/B")" ] || fail "resume: record sets differ"
# memory figures and series come from rep 1 only (the sampled run)
n_series=$(ls "$tmp/B/series" | wc -l)
n_rep1=$(grep -c '"rep":1,' "$tmp/A/results.jsonl")
[ "$n_series" = "$n_rep1" ] || fail "resume: $n_series series files for $n_rep1 runs of rep 1"
python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['sessions']; assert len(s)==2 and s[1]['runs_done']>0, s" \
  "$tmp/B/provenance.json" || fail "resume: provenance sessions"
[ $status = 0 ] && echo "ok: --resume after SIGKILL ($done_before of $total done before) gives the same results"

# ---- another configuration: refused, nothing changed ----
sums() { md5sum "$1"/results.csv "$1"/results.jsonl "$1"/provenance.json; }
before=$(sums "$tmp/A")
expect_usage_error "pymemlab: run: $tmp/A holds results of another configuration (reps differ); --force continues it anyway" \
  run --suite "$tmp/slow.suite" --backends "$be" --reps 3 --resume --out "$tmp/A"
expect_usage_error "pymemlab: run: $tmp/A holds results of another configuration (backends differ); --force continues it anyway" \
  run --suite "$tmp/slow.suite" --backends pymalloc,system --resume --out "$tmp/A"
sed 's/seed=3/seed=4/' "$tmp/slow.suite" >"$tmp/slow2.suite"
expect_usage_error "pymemlab: run: $tmp/A holds results of another configuration (workloads differ); --force continues it anyway" \
  run --suite "$tmp/slow2.suite" --backends "$be" --resume --out "$tmp/A"
expect_usage_error "pymemlab: run: $tmp/A already holds results (--resume continues that run; or choose another --out)" \
  run --suite "$tmp/slow2.suite" --backends "$be" --out "$tmp/A"
[ "$(sums "$tmp/A")" = "$before" ] || fail "a refused run changed the results folder"
# resuming a complete folder runs nothing
"$PYMEMLAB" run --suite "$tmp/slow.suite" --backends "$be" --out "$tmp/A" --resume >/dev/null 2>"$tmp/A3.err" ||
  fail "resume of a complete folder: exit $?"
grep -q "0 to go" "$tmp/A3.err" || fail "resume of a complete folder: $(cat "$tmp/A3.err")"
[ "$(wc -l <"$tmp/A/results.jsonl")" = "$total" ] || fail "resume of a complete folder added records"
# --force continues it with the new configuration: only the new rep runs
"$PYMEMLAB" run --suite "$tmp/slow.suite" --backends "$be" --reps 3 --resume --force --out "$tmp/A" \
  >"$tmp/A4.out" 2>"$tmp/A4.err" || fail "resume --force: exit $?"
[ "$(wc -l <"$tmp/A/results.jsonl")" = $((total * 3 / 2)) ] || fail "resume --force: $(wc -l <"$tmp/A/results.jsonl") records"
python3 -c "import json,sys; p=json.load(open(sys.argv[1])); assert p['config']['reps']==3, p['config']" \
  "$tmp/A/provenance.json" || fail "resume --force: the configuration was not replaced"
grep -q "3/3" "$tmp/A4.out" || fail "resume --force: the summary does not count 3 reps"
[ $status = 0 ] && echo "ok: another configuration refused, nothing overwritten; --force continues it"

# ---- --jobs 2: the same runs, two at a time ----
"$PYMEMLAB" run --suite "$tmp/slow.suite" --backends "$be" --jobs 2 --out "$tmp/J" >/dev/null 2>"$tmp/J.err" ||
  fail "--jobs 2: exit $?"
[ "$(records "$tmp/J")" = "$(records "$tmp/B")" ] || fail "--jobs 2: records differ"
[ $status = 0 ] && echo "ok: --jobs 2"

# ---- --emit-jobs, then merge ----
"$PYMEMLAB" run --suite "$tiny" --backends pymalloc,system --reps 1 --emit-jobs "$tmp/jobs.txt" \
  --out "$tmp/M" >"$tmp/emit.out" 2>/dev/null || fail "--emit-jobs: exit $?"
[ "$(wc -l <"$tmp/jobs.txt")" = 6 ] || fail "--emit-jobs: $(wc -l <"$tmp/jobs.txt") lines, want 6"
[ ! -e "$tmp/M" ] || fail "--emit-jobs created the results folder"
grep -q -- "--only 'web:pymalloc:1' --out '$tmp/M/part-0001'" "$tmp/jobs.txt" || fail "--emit-jobs: line 1: $(head -1 "$tmp/jobs.txt")"
bash "$tmp/jobs.txt" >/dev/null 2>"$tmp/jobs.err" || fail "running the job lines: exit $? $(tail -3 "$tmp/jobs.err")"
[ "$(ls -d "$tmp"/M/part-* | wc -l)" = 6 ] || fail "jobs: not 6 part folders"
"$PYMEMLAB" merge "$tmp"/M/part-* --out "$tmp/M" >"$tmp/merge.out" 2>&1 || fail "merge: exit $? $(cat "$tmp/merge.out")"
"$PYMEMLAB" run --suite "$tiny" --backends pymalloc,system --reps 1 --out "$tmp/D" >/dev/null 2>&1 ||
  fail "direct run: exit $?"
[ "$(records "$tmp/M")" = "$(records "$tmp/D")" ] || fail "merge: records differ from a direct run"
[ "$(ls "$tmp/M/series" | wc -l)" = 6 ] || fail "merge: series not copied"
[ -s "$tmp/M/summary.md" ] || fail "merge: no summary.md"
python3 -c "import json,sys; p=json.load(open(sys.argv[1])); assert len(p['merged_from'])==6 and p['config']['only'] is None, p" \
  "$tmp/M/provenance.json" || fail "merge: provenance"
# refusals: another commit, the same run twice, an --out with results
cp -r "$tmp/M/part-0001" "$tmp/other"
python3 -c "
import json,sys; p=json.load(open(sys.argv[1])); p['pymemlab']['commit']='0000000000000000000000000000000000000000'
json.dump(p, open(sys.argv[1],'w'))" "$tmp/other/provenance.json"
expect_usage_error "pymemlab: merge: $tmp/M/part-0002 and $tmp/other are not comparable: commit '*' vs '0000000000000000000000000000000000000000' (--force merges them anyway)" \
  merge "$tmp/M/part-0002" "$tmp/other" --out "$tmp/X"
[ ! -e "$tmp/X" ] || fail "a refused merge created its --out"
cp -r "$tmp/M/part-0001" "$tmp/twice"
expect_usage_error "pymemlab: merge: run web:pymalloc:1 is in both $tmp/M/part-0001 and $tmp/twice (--force keeps the later folder's)" \
  merge "$tmp/M/part-0001" "$tmp/twice" --out "$tmp/X"
expect_usage_error "pymemlab: merge: $tmp/D already holds results; choose another --out" \
  merge "$tmp/M/part-0001" --out "$tmp/D"
expect_usage_error "pymemlab: merge: $tmp/nowhere is not a results folder (no provenance.json)" \
  merge "$tmp/nowhere" --out "$tmp/X"
"$PYMEMLAB" merge "$tmp/M/part-0002" "$tmp/other" --out "$tmp/F" --force >/dev/null 2>&1 || fail "merge --force: exit $?"
[ "$(wc -l <"$tmp/F/results.jsonl")" = 2 ] || fail "merge --force: records"
[ $status = 0 ] && echo "ok: --emit-jobs and merge (and its refusals)"

# ---- every built-in suite parses (checked through --emit-jobs, not run) ----
for s in quick default full; do
  "$PYMEMLAB" run --suite "$s" --emit-jobs "$tmp/$s.jobs" --out "$tmp/$s" >/dev/null 2>"$tmp/$s.err" ||
    { fail "suite $s: exit $? $(cat "$tmp/$s.err")"; continue; }
  [ "$(wc -l <"$tmp/$s.jobs")" -gt 50 ] || fail "suite $s: $(wc -l <"$tmp/$s.jobs") jobs"
done
[ $status = 0 ] && echo "ok: quick, default and full parse"

# ---- the memory limit (not under ASan: it needs terabytes of address space) ----
if [ $asan = 0 ]; then
  printf 'py survivors scale=0.2\n' >"$tmp/big.suite"
  "$PYMEMLAB" run --suite "$tmp/big.suite" --backends system --reps 1 --mem-limit 40M --out "$tmp/L" \
    >/dev/null 2>&1 || fail "mem-limit: exit $?"
  python3 -c "
import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]
assert len(r)==1 and r[0]['status']=='failed' and 'MemoryError' in r[0]['reason'], r" "$tmp/L/results.jsonl" ||
    fail "mem-limit: not a failed run with MemoryError: $(cat "$tmp/L/results.jsonl")"
  [ $status = 0 ] && echo "ok: --mem-limit makes a run fail with MemoryError"
fi

# ---- plot ----
if command -v gnuplot >/dev/null; then
  "$PYMEMLAB" plot "$tmp/A" >"$tmp/plot.out" 2>&1 || fail "plot: exit $? $(cat "$tmp/plot.out")"
  for f in throughput footprint frag4 retention latency memory-web memory-gen-churn memory-gen-fifo; do
    for e in png svg; do
      [ -s "$tmp/A/plots/$f.$e" ] || fail "plot: no $f.$e"
    done
  done
  [ $status = 0 ] && echo "ok: plot"
fi
PYMEMLAB_GNUPLOT=/nonexistent/gnuplot expect_usage_error \
  "pymemlab: plot: gnuplot not found (install gnuplot-nox, or set PYMEMLAB_GNUPLOT)" plot "$tmp/A"
expect_usage_error "pymemlab: plot: $tmp/nowhere is not a results folder (no results.jsonl)" plot "$tmp/nowhere"

# ---- bad input: one line, exit 2, nothing written ----
cd "$tmp"
expect_usage_error "pymemlab: unknown suite 'nosuch' (known: default, full, quick; or give a file path)" \
  run --suite nosuch --out "$tmp/bad"
expect_usage_error "pymemlab: run: unknown backend 'nosuch' in --backends (known: *)" \
  run --suite "$tiny" --backends system,nosuch --out "$tmp/bad"
expect_usage_error "pymemlab: pymalloc: *" run --suite "$tiny" --backends pymalloc,preset=nope --out "$tmp/bad"
expect_usage_error "pymemlab: run: unknown workload 'nosuch' in --workloads (suite tiny has: web, gen-churn, surv)" \
  run --suite "$tiny" --workloads web,nosuch --out "$tmp/bad"
printf 'py json scale=0.01\ngen churn ops=1K live=100\nfrob x\n' >"$tmp/badline.suite"
expect_usage_error "pymemlab: $tmp/badline.suite:3: unknown line kind 'frob' (expected py, gen, trace, reps, timeout or backend)" \
  run --suite "$tmp/badline.suite" --out "$tmp/bad"
printf 'trace /nonexistent/t.pmt\n' >"$tmp/missing.suite"
expect_usage_error "pymemlab: $tmp/missing.suite:1: trace '/nonexistent/t.pmt' not found *" \
  run --suite "$tmp/missing.suite" --out "$tmp/bad"
printf 'garbage\n' >"$tmp/garbage.pmt"
printf 'trace garbage.pmt\n' >"$tmp/garbage.suite"
expect_usage_error "pymemlab: $tmp/garbage.suite:1: $tmp/garbage.pmt*" run --suite "$tmp/garbage.suite" --out "$tmp/bad"
expect_usage_error "pymemlab: run: bad value for --only: 'web' (expected WORKLOAD:BACKEND:REP)" \
  run --suite "$tiny" --only web --out "$tmp/bad"
expect_usage_error "pymemlab: run: --only: backend 'jemalloc' is not among the suite's backends" \
  run --suite "$tiny" --backends system --only web:jemalloc:1 --out "$tmp/bad"
expect_usage_error "pymemlab: bad value for --reps: 0 (expected 1..1000)" run --suite "$tiny" --reps 0
expect_usage_error "pymemlab: bad value for --timeout: 'x' *" run --suite "$tiny" --timeout x
expect_usage_error "pymemlab: run: unknown option '--frob' (see 'pymemlab help run')" run --frob
expect_usage_error "pymemlab: run: unexpected argument 'x' (see 'pymemlab help run')" run x
[ ! -e "$tmp/bad" ] || fail "bad input created the results folder"
[ ! -e "$tmp/out" ] || fail "bad input created out/"
[ $status = 0 ] && echo "ok: bad input"

# ---- a results folder of format 1 (before timing modes) still loads ----
mkdir -p "$tmp/v1"
python3 - "$tmp/iso" "$tmp/v1" <<'EOF2' || fail "making a format-1 folder"
import json, sys
src, dst = sys.argv[1], sys.argv[2]
v2 = {"time_mode", "minflt_per_op", "load1_start", "load1_end", "steal_pct", "busy_cpus", "own_cpus", "loaded"}
with open(dst + "/results.jsonl", "w") as out:
    for line in open(src + "/results.jsonl"):
        d = {k: v for k, v in json.loads(line).items() if k not in v2}
        out.write(json.dumps(d) + "\n")
p = json.load(open(src + "/provenance.json"))
del p["results_version"]
p["config"].pop("time_mode", None)
json.dump(p, open(dst + "/provenance.json", "w"))
EOF2
"$PYMEMLAB" table "$tmp/v1" >/dev/null || fail "table cannot read a format-1 folder"
"$PYMEMLAB" plot "$tmp/v1" >/dev/null 2>&1 || fail "plot cannot read a format-1 folder"
sed -i 's/^{/{"results_version": 9, /' "$tmp/v1/provenance.json"
expect_usage_error "pymemlab: table: $tmp/v1: results format version 9; this pymemlab reads versions 1 to 2" table "$tmp/v1"
expect_usage_error "pymemlab: plot: $tmp/v1: results format version 9; this pymemlab reads versions 1 to 2" plot "$tmp/v1"
[ $status = 0 ] && echo "ok: results of format 1 load, newer formats are refused"
exit $status
