#!/usr/bin/env bash
# tests/cli/reliability.sh — issue 19, "nothing lost, nothing hung": each
# defect found by adversarial testing, from the command line.
#
#  - metadata duplicate check is linear: 200k keys open in seconds (item 2);
#  - every input is a regular file: a FIFO with no writer is refused at once,
#    "not a regular file", for traces, object scripts, suite files and mtrace
#    logs (item 3);
#  - text metadata over the 16 MiB cap is refused by the text parser (11);
#  and the items below, each in its own section.
set -euo pipefail
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"
source "$PM_SOURCE_DIR/tests/cli/lib.bash"
status=0
fail() { echo "FAIL: $*" >&2; status=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
P=$PYMEMLAB

# expect2 "glob" ARGS... : exit 2, one line on stderr matching the glob,
# within 20 s (a hang is a failure, not a stuck test).
expect2() {
  local want=$1; shift
  local rc=0
  timeout 20 "$P" "$@" >e2.out 2>e2.err </dev/null || rc=$?
  local err; err=$(cat e2.err)
  [ "$rc" = 2 ] || { fail "pymemlab $*: exit $rc, want 2 (stderr: $err)"; return 0; }
  [ "$(wc -l <e2.err)" = 1 ] || fail "pymemlab $*: not one line: $err"
  [[ "$err" == $want ]] || fail "pymemlab $*: '$err' does not match '$want'"
}

# ---- item 2: 200k metadata keys open in linear time ----
python3 - <<'EOF'
with open("meta200k.txt", "w") as f:
    f.write("pmtrace 1\n")
    for i in range(200000):
        f.write("@meta k%d=v\n" % i)
    f.write("alloc 0 16\nfree 0\n")
EOF
rc=0; timeout 30 "$P" trace info meta200k.txt >meta.out 2>meta.err || rc=$?
[ "$rc" = 0 ] || fail "200k metadata keys: exit $rc (124 = still reading after 30 s): $(head -c 300 meta.err)"
# a duplicate among them is still found, at its line
python3 -c "
with open('meta200k.txt') as f: s = f.read()
open('metadup.txt', 'w').write(s.replace('alloc 0 16', '@meta k123456=again\nalloc 0 16'))"
expect2 "pymemlab: metadup.txt:200002: duplicate metadata key 'k123456'" trace info metadup.txt

# ---- item 3: FIFOs are refused, never waited on ----
mkfifo fifo
expect2 "pymemlab: fifo: not a regular file" trace info fifo
expect2 "pymemlab: fifo: not a regular file" replay fifo --backend system
expect2 "pymemlab: objrun: fifo: not a regular file" objrun fifo --backend system
expect2 "pymemlab: ./fifo: not a regular file" run --suite ./fifo --out fifo-run
[ ! -e fifo-run ] || fail "run --suite FIFO created its folder"
expect2 "pymemlab: trace import: fifo: not a regular file" trace import --format mtrace fifo -o fifo.pmt
[ ! -e fifo.pmt ] || fail "import of a FIFO created its output"
# folders too
mkdir adir
expect2 "pymemlab: adir: not a regular file" trace info adir
expect2 "pymemlab: objrun: adir: not a regular file" objrun adir --backend system

# ---- item 11: text metadata over the 16 MiB cap ----
python3 - <<'EOF'
with open("bigmeta.txt", "w") as f:
    f.write("pmtrace 1\n")
    v = "x" * (1 << 20)
    for i in range(17):
        f.write("@meta k%d=%s\n" % (i, v))
    f.write("alloc 0 16\nfree 0\n")
EOF
expect2 "pymemlab: bigmeta.txt:17: metadata over the 16 MiB limit" trace info bigmeta.txt
expect2 "pymemlab: bigmeta.txt:17: metadata over the 16 MiB limit" replay bigmeta.txt --backend system
expect2 "pymemlab: bigmeta.txt:17: metadata over the 16 MiB limit" trace convert bigmeta.txt big.pmt
[ ! -e big.pmt ] || fail "convert of over-limit metadata created its output"

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
expect2 "pymemlab: run: r5 is in use by another run (r5/.lock is locked); wait for it to end or choose another --out" \
  run --suite small.suite --backends system --out r5
expect2 "pymemlab: run: r5 is in use by another run (r5/.lock is locked); wait for it to end or choose another --out" \
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
