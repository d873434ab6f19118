#!/usr/bin/env bash
# tests/cli/validate.sh — `pymemlab validate`:
#  - tests/validate_prog (a known pattern: 32 MiB live at the peak, every
#    byte written) under `system` and preloaded jemalloc: the predicted peak
#    within 8% of the native one. Why 8%: the pattern is deterministic and
#    the replay makes the same calls, so what is left is the harness's own
#    pages (the replay's slot table, 16 bytes per slot = 1.5 MiB here = 4.5%
#    until harness/engine/replay.c keeps it out of the footprint) plus sampling
#    (the native peak is a plateau of tens of ms, sampled every 250 us);
#  - its non-heap row is measured: at least the 0.75 MiB of its static
#    pointer arrays (.bss), well under the peak;
#  - a Python one-liner end to end (cpython and system, one rep): every
#    figure present, the replay within 15% on system;
#  - a native run that fails under one allocator only is reported (exit 1,
#    FAILED in the table, native_failed in JSON), never dropped;
#  - bad input: one line "pymemlab: ...", exit 2, nothing written.
# In an ASan build the replay's `system` is ASan's malloc (redzones,
# quarantine), so the tolerances are not checked there; everything else is.
set -euo pipefail
P=${PYMEMLAB:?set PYMEMLAB to the pymemlab binary}
PROG=$(dirname "$P")/tests/validate_prog
[ -x "$PROG" ] || { echo "FAIL: $PROG is missing (build the validate_prog target)" >&2; exit 1; }
# shellcheck source=tests/cli/lib.bash
source "$(dirname "$0")/lib.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
unset PYTHONMALLOC
py=$(command -v python3.11 || command -v python3)

# jq is not a dependency: read the JSON with python3's json module.
asan=0
if asan_build "$P"; then asan=1; fi
jget() { "$py" -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2], {"d": d}))' "$@"; }

# 1. the C program, system + jemalloc
"$P" validate --reps 1 --allocators system,jemalloc --json --out out1 -- "$PROG" pattern >v1.json ||
  fail "validate on validate_prog failed: $(cat v1.json)"
for i in 0 1; do
  a=$(jget v1.json "d['allocators'][$i]['allocator']")
  err=$(jget v1.json "d['allocators'][$i]['peak_error_pct']")
  nat=$(jget v1.json "d['allocators'][$i]['native_peak_bytes']")
  nh=$(jget v1.json "d['allocators'][$i]['nonheap_bytes']")
  src=$(jget v1.json "d['allocators'][$i]['native_runs'][0]['end_source']")
  [ "$asan" = 1 ] || awk -v e="$err" 'BEGIN {exit !(e >= -8 && e <= 8)}' || fail "$a: peak error $err% is outside 8%"
  awk -v n="$nat" 'BEGIN {exit !(n > 32 * 1048576 && n < 40 * 1048576)}' || fail "$a: native peak $n is not about 32 MiB"
  awk -v n="$nh" 'BEGIN {exit !(n >= 0.75 * 1048576 && n < 8 * 1048576)}' || fail "$a: non-heap $nh is not the .bss"
  [ "$src" = probe ] || fail "$a: the end value came from '$src', not the probe"
done
[ -f out1/validate.json ] && [ -f out1/table.txt ] && [ -f out1/trace.pmt ] && [ -f out1/native-malloc.csv ] ||
  fail "--out did not get validate.json, table.txt, trace.pmt and the native series"
has '^non-heap' out1/table.txt || fail "no non-heap row in the table"

# 2. a Python one-liner
"$P" validate --reps 1 --allocators cpython,system --json -- "$py" -c 'x = [str(i) * 4 for i in range(100000)]' \
  >v2.json || fail "validate on a python one-liner failed"
[ "$(jget v2.json "d['python']")" = True ] || fail "the one-liner was not taken for Python"
for i in 0 1; do
  [ "$(jget v2.json "d['allocators'][$i]['ok']")" = True ] || fail "one-liner: allocator $i not ok"
done
err=$(jget v2.json "d['allocators'][1]['peak_error_pct']")
[ "$asan" = 1 ] || awk -v e="$err" 'BEGIN {exit !(e >= -15 && e <= 15)}' ||
  fail "one-liner on system: peak error $err% outside 15%"

# 3. a native run that fails under one allocator only: reported, exit 1
rc=0
"$P" validate --reps 1 --allocators system,mimalloc -- "$PROG" fail-under mimalloc >v3.txt 2>v3.err || rc=$?
[ "$rc" = 1 ] || fail "a failing native run gave exit $rc, want 1"
has '^mimalloc .*1 of 1 native runs FAILED' v3.txt || fail "the failed runs are not in the table: $(cat v3.txt)"
has '^system ' v3.txt || fail "the good allocator's row is missing"
has 'native run 1 of .*(mimalloc) failed: exit 3' v3.err || fail "no message for the failed run: $(cat v3.err)"

# 4. bad input
expect_usage_error "pymemlab: validate: needs a COMMAND*" validate --reps 1
expect_usage_error "pymemlab: validate: allocator 'segfit' has no replay backend*" validate --allocators segfit -- true
expect_usage_error "pymemlab: validate: allocator 'cpython' needs a Python command*" validate --allocators cpython -- true
expect_usage_error "pymemlab: validate: 'false' failed while being recorded (exit 1)*" validate --out never -- false
expect_usage_error "pymemlab: validate: '/nonexistent/cmd' failed while being recorded*cannot run*" validate -- /nonexistent/cmd
expect_usage_error "pymemlab: bad value for --reps*" validate --reps 0 -- true
[ ! -e never ] || fail "bad input wrote the --out directory"
echo "validate: ok"
