#!/usr/bin/env bash
# tests/cli/rel_run.sh — issue 19, the suite runner: a suite's gen
# parameters are checked before the results folder is made (item 7); a
# folder in use is refused (item 5); results.csv is rebuilt from
# results.jsonl on --resume (item 6); the runner's helpers die with it and
# the temporary traces of interrupted generations are removed (item 4); a
# run whose series cannot be written is recorded failed, with the reason,
# and --resume runs it again (item 8).
source "$PM_SOURCE_DIR/tests/cli/reliability.bash"

# ---- item 7: a suite's gen parameters are checked before the folder is made ----
printf 'gen churn ops=10 live=500\n' >bad-ops.suite
expect2 "pymemlab: bad-ops.suite:1: gen churn: --ops 10 is too small for --live 500 (needs at least 1002)" \
  run --suite bad-ops.suite --backends system --out r7
[ ! -e r7 ] || fail "run of a suite with bad gen parameters created its folder"
printf 'gen churn sizes=uniform:100-10\n' >bad-sizes.suite
expect2 "pymemlab: bad-sizes.suite:1: gen churn: --sizes uniform:100-10 needs MIN <= MAX < 2^40" \
  run --suite bad-sizes.suite --backends system --out r7
[ ! -e r7 ] || fail "run of a suite with bad gen sizes created its folder"

# a small suite for the runner cases below: one generated trace, one backend
printf 'reps 2\ntimeout 60\ngen churn ops=20K live=500 seed=7\n' >small.suite
run_small() { "$P" run --suite small.suite --backends system "$@" >/dev/null 2>run.err; }

# ---- item 5: a results folder in use is refused, before anything is written ----
mkdir r5
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(30)' r5/.lock &
holder=$!
for _ in $(seq 50); do flock -n r5/.lock true 2>/dev/null || break; sleep 0.1; done
expect2 "pymemlab: run: r5 is in use by another run or merge (r5/.lock is locked); wait for it to end or choose another --out" \
  run --suite small.suite --backends system --out r5
expect2 "pymemlab: run: r5 is in use by another run or merge (r5/.lock is locked); wait for it to end or choose another --out" \
  run --suite small.suite --backends system --out r5 --resume
[ -z "$(ls r5)" ] || fail "a refused run wrote into the locked folder: $(ls r5)"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
run_small --out r5 || fail "run after the lock was released: $(cat run.err)"

# ---- item 6: results.csv is rebuilt from results.jsonl on --resume ----
csv_vs_jsonl() {   # DIR -> "CSV_ROWS JSONL_RECORDS"
  python3 -c '
import csv, sys
d = sys.argv[1]
try:
    js = [l for l in open(d + "/results.jsonl") if l.strip()]
except FileNotFoundError:
    js = []
with open(d + "/results.csv", newline="") as f:
    rows = list(csv.DictReader(f))
print(len(rows), len(js))' "$1"
}
run_small --out r6 || fail "run r6: $(cat run.err)"
: >r6/results.jsonl
run_small --out r6 --resume || fail "resume r6 (empty jsonl): $(cat run.err)"
[ "$(csv_vs_jsonl r6)" = "2 2" ] || fail "resume with an empty results.jsonl: csv rows, jsonl records = $(csv_vs_jsonl r6)"
rm r6/results.jsonl
run_small --out r6 --resume || fail "resume r6 (no jsonl): $(cat run.err)"
[ "$(csv_vs_jsonl r6)" = "2 2" ] || fail "resume with no results.jsonl: csv rows, jsonl records = $(csv_vs_jsonl r6)"

# ---- item 4: the runner's helpers die with it; their temporary traces go ----
printf 'gen churn ops=100M live=1000 seed=1\n' >long.suite
"$P" run --suite long.suite --backends system --out r4 >/dev/null 2>r4.err &
runner=$!
tmpf=
for _ in $(seq 100); do
  tmpf=$(ls r4/traces/*.pmt.*.pmt.tmp 2>/dev/null | head -1) || true
  [ -n "$tmpf" ] && break
  sleep 0.1
done
if [ -z "$tmpf" ]; then
  fail "no generation started in 10 s: $(cat r4.err)"
  kill -9 "$runner" 2>/dev/null || true
else
  hpid=${tmpf%.pmt.tmp}; hpid=${hpid##*.}
  kill -9 "$runner"
  wait "$runner" 2>/dev/null || true
  gone=0
  for _ in $(seq 30); do
    if ! kill -0 "$hpid" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$hpid/stat" 2>/dev/null)" = Z ]; then gone=1; break; fi
    sleep 0.1
  done
  if [ "$gone" = 0 ]; then
    fail "the generation helper $hpid outlived its runner"
    kill -9 "$hpid" 2>/dev/null || true
  fi
fi
# stale temporary traces of dead helpers are removed; a live PID's are kept
mkdir -p r4b/traces
sh -c 'exit 0' & dead=$!; wait "$dead" || true
: >"r4b/traces/gen-churn-0badc0de.pmt.$dead.pmt.tmp"
: >"r4b/traces/gen-churn-0badc0de.pmt.$dead.pmt"
: >"r4b/traces/gen-churn-0badc0de.pmt.$$.pmt.tmp"
run_small --out r4b || fail "run r4b: $(cat run.err)"
[ ! -e "r4b/traces/gen-churn-0badc0de.pmt.$dead.pmt.tmp" ] && [ ! -e "r4b/traces/gen-churn-0badc0de.pmt.$dead.pmt" ] ||
  fail "stale temporary traces of a dead helper were kept: $(ls r4b/traces)"
[ -e "r4b/traces/gen-churn-0badc0de.pmt.$$.pmt.tmp" ] || fail "a live process's temporary trace was removed"

# ---- item 8: a run whose series cannot be written is recorded failed, with the reason ----
printf 'reps 1\ntimeout 60\ngen churn ops=20K live=500 seed=7\n' >one.suite
mkdir -p r8/series
ln -s /dev/full r8/series/gen-churn__system__1.csv.tmp   # every write: ENOSPC
"$P" run --suite one.suite --backends system --out r8 >/dev/null 2>r8.err || fail "run r8: exit $? ($(cat r8.err))"
got=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    j = json.loads(l); print(j["status"], j["series"], j["reason"])' r8/results.jsonl)
[ "$got" = "failed None exit 1: pymemlab: run: cannot write the series file r8/series/gen-churn__system__1.csv: No space left on device" ] ||
  fail "a run whose series could not be written: $got"
# --resume runs it again, and with a writable series folder it is ok
rm -f r8/series/gen-churn__system__1.csv.tmp   # (the failed run removed it)
"$P" run --suite one.suite --backends system --out r8 --resume >/dev/null 2>r8.err || fail "resume r8: $(cat r8.err)"
got=$(python3 -c '
import json, sys
print(json.loads(open(sys.argv[1]).readlines()[-1])["series"])' r8/results.jsonl)
[ "$got" = "series/gen-churn__system__1.csv" ] && [ -s r8/series/gen-churn__system__1.csv ] ||
  fail "resume after a lost series: series $got"

# ---- merge --out takes the lock run takes ----
# a folder a running `run` holds: refused, exit 2, one line, nothing written
printf 'gen churn ops=100M live=1000 seed=2\n' >longm.suite
"$P" run --suite longm.suite --backends system --out rm >/dev/null 2>rm.err &
runner=$!
for _ in $(seq 100); do [ -e rm/.lock ] && ! flock -n rm/.lock true 2>/dev/null && break; sleep 0.1; done
expect2 "pymemlab: merge: rm is in use by another run or merge (rm/.lock is locked); wait for it to end or choose another --out" \
  merge r5 --out rm
# (the run itself writes results.csv, logs... meanwhile: what only a merge writes is looked for)
! grep -q merged_from rm/provenance.json 2>/dev/null && [ ! -e rm/summary.md ] ||
  fail "a refused merge wrote into the folder a run holds: $(ls -A rm)"
kill -9 "$runner" 2>/dev/null || true
wait "$runner" 2>/dev/null || true
# and a run into a folder a merge holds (a holder of the same lock) is refused the same way
mkdir mm
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.flock(f, fcntl.LOCK_EX); time.sleep(30)' mm/.lock &
holder=$!
for _ in $(seq 50); do flock -n mm/.lock true 2>/dev/null || break; sleep 0.1; done
expect2 "pymemlab: merge: mm is in use by another run or merge (mm/.lock is locked); wait for it to end or choose another --out" \
  merge r5 --out mm
[ "$(ls -A mm)" = .lock ] || fail "a refused merge wrote into a locked folder: $(ls -A mm)"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
"$P" merge r5 --out mm >/dev/null 2>mm.err || fail "merge after the lock was released: $(cat mm.err)"
[ -s mm/results.jsonl ] || fail "merge after the lock was released wrote no results"
# a folder with no records yet merges as 0 records (under UBSan: no memcpy from NULL)
mkdir -p empty && cp r5/provenance.json empty/ && : >empty/results.jsonl
"$P" merge empty r5 --out me >/dev/null 2>me.err || fail "merge of an empty folder: $(cat me.err)"
[ "$(wc -l <me/results.jsonl)" = "$(wc -l <r5/results.jsonl)" ] || fail "merge of an empty folder and r5: $(wc -l <me/results.jsonl) records"

# ---- results.jsonl records are checked, not half-read: a wrong type, a control byte ----
cp -r r5 rt && sed -i '1s/"rep":1/"rep":"one"/' rt/results.jsonl
expect2 "pymemlab: table: rt/results.jsonl:1: not a result record ('rep' is not a count)" table rt
expect2 "pymemlab: run: rt/results.jsonl:1: not a result record ('rep' is not a count)" \
  run --suite small.suite --backends system --out rt --resume
cp -r r5 rc && sed -i '1s/"workload":"gen-churn"/"workload":"gen\\u001b[2Jchurn"/' rc/results.jsonl
expect2 "pymemlab: table: rc/results.jsonl:1: not a result record ('workload' holds a control byte)" table rc

exit $status
