#!/usr/bin/env bash
# tests/cli/rel_objects.sh — issue 19, the object layer's commands: objrun
# --record-trace leaves no OUT.tmp when the script fails (item 9); backends
# that keep no block contents (null, debug:null) are refused by pyrun, objrun
# and gcbench, and skipped with a note by run's object workloads (item 10).
source "$PM_SOURCE_DIR/tests/cli/reliability.bash"

# ---- item 9: objrun --record-trace leaves no OUT.tmp when the script fails ----
printf 'a = list\ncollect\nexpect collected 5\n' >fails.txt
rc=0; "$P" objrun fails.txt --backend system --record-trace rec.pmt >/dev/null 2>rec.err || rc=$?
[ "$rc" = 1 ] || fail "objrun of a failing script: exit $rc, want 1 ($(cat rec.err))"
[ ! -e rec.pmt ] && [ ! -e rec.pmt.tmp ] || fail "a failed objrun --record-trace left $(ls rec.pmt*)"
printf 'a = list\ndel a\n' >passes.txt
"$P" objrun passes.txt --backend system --record-trace rec.pmt >/dev/null 2>rec.err ||
  fail "objrun --record-trace after a failed one: $(cat rec.err)"
[ -s rec.pmt ] || fail "no trace recorded after a failed attempt"

# ---- item 10: backends that keep no block contents are refused where contents matter ----
printf 'a = list\ndel a\n' >tiny.txt
for b in null debug:null; do
  expect2 "pymemlab: pyrun: backend '$b' does not keep the contents of its blocks: object workloads cannot run on it" \
    pyrun web --scale 0.001 --backend "$b"
  expect2 "pymemlab: objrun: backend '$b' does not keep the contents of its blocks: object workloads cannot run on it" \
    objrun tiny.txt --backend "$b"
  expect2 "pymemlab: gcbench: backend '$b' does not keep the contents of its blocks: object workloads cannot run on it" \
    gcbench --objects 100 --backend "$b"
done
# run: skipped for object workloads (with a note), as null always was; trace workloads still run
printf 'reps 1\ntimeout 60\npy web scale=0.001 seed=3\ngen churn ops=20K live=500 seed=7\n' >mixed.suite
"$P" run --suite mixed.suite --backends system,debug:null --out r10 >/dev/null 2>r10.err || fail "run r10: $(cat r10.err)"
has "keep no block contents" r10.err || fail "run r10: no note about the skipped runs: $(cat r10.err)"
got=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    j = json.loads(l); print(j["workload"], j["backend"], j["status"])' r10/results.jsonl | sort | tr '\n' ';')
[ "$got" = "gen-churn debug:null ok;gen-churn system ok;web system ok;" ] || fail "run r10 records: $got"

exit $status
