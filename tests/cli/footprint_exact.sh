#!/usr/bin/env bash
# tests/cli/footprint_exact.sh — the footprint of hand-computed traces on
# `system`, exact to the byte, through both paths that measure it: `pymemlab
# replay` (its sampled run in a process forked from the command) and
# `pymemlab run` (the runner's child). F(t) is the process's anonymous RSS
# above the baseline taken just before the first op (docs/metrics.md), so
# anything of the harness's own that faults in after the baseline shows
# here. Until 2026-12-07 the replay loop's 24 KiB decode buffer (a local of
# the loop's frame) did: replay reported 4 or 5 pages too many, run 0 or 1,
# depending on where the stack lay (docs/corrections.md item 3).
# tests/cli/footprint_null.sh checks the same on the backend that does
# nothing with memory, quickly; this one is slow (600 MB of blocks, twice).
#
# The cases (page = 4096 bytes; glibc 2.36 defaults: a request of 128 KiB or
# more is an mmap of request + 16 bytes of header + 8, rounded up to pages):
#  A. 3000 x alloc 200,000 bytes, then the frees: each block 49 pages; peak
#     3000 * 49 pages = 602,112,000; everything unmapped at the end: 0.
#  B. 1000 x alloc 150,000, then the frees: 37 pages each, 151,552,000.
#  Z. one alloc of 0 bytes and its free (the smallest replayable trace: an
#     empty one is refused): glibc serves it from the heap it already has:
#     0 and 0.
set -euo pipefail
# shellcheck source=tests/cli/lib.bash
. "$(dirname "$0")/lib.bash"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

mk() {  # mk COUNT SIZE FILE
  awk -v n="$1" -v s="$2" 'BEGIN { print "pmtrace 1"; print "@ops " 2 * n; print "@slots " n
    for (i = 0; i < n; i++) print "alloc " i " " s
    for (i = 0; i < n; i++) print "free " i }' >"$3"
}
mk 3000 200000 a.txt
mk 1000 150000 b.txt
printf 'pmtrace 1\nalloc 0 0\nfree 0\n' >z.txt

# jget KEY... < JSON-LINES: the values of the KEYs (numbers or strings) on
# each line, space-separated ("missing" for an absent key). No python: its
# start-up (a pyenv shim here) would be most of this test's time.
jget() {
  awk -v keys="$*" 'BEGIN { n = split(keys, K, " ") }
    { out = ""
      for (i = 1; i <= n; i++) {
        v = "missing"
        if (match($0, "\"" K[i] "\":(\"[^\"]*\"|[^,}]*)")) {
          v = substr($0, RSTART + length(K[i]) + 3, RLENGTH - length(K[i]) - 3); gsub(/"/, "", v)
        }
        out = out (i > 1 ? " " : "") v
      }
      print out }'
}
# replay_fp TRACE BACKEND [OPTIONS...]: "PEAK FINAL" of the sampled run
replay_fp() {
  local t=$1 b=$2; shift 2
  "$PYMEMLAB" replay "$t" --backend "$b" --reps 0 --json "$@" >r.json ||
    fail "replay $t --backend $b $* failed"
  jget peak_footprint_bytes final_footprint_bytes <r.json
}
# run_fp BACKEND: "WORKLOAD STATUS PEAK FINAL" lines of `run` over a.txt, b.txt, z.txt
run_fp() {
  printf 'trace a.txt\ntrace b.txt\ntrace z.txt\nreps 1\n' >fp.suite
  rm -rf out
  "$PYMEMLAB" run --suite fp.suite --backends "$1" --out out >run.log 2>&1 ||
    fail "run --backends $1 failed: $(tail -3 run.log)"
  jget workload status peak_footprint_bytes final_footprint_bytes <out/results.jsonl
}
want() {  # want WHAT GOT EXPECTED
  [ "$2" = "$3" ] || fail "$1: peak/final footprint '$2', want '$3' (bytes; the difference is the harness's)"
}

# Under ASan `system` is ASan's allocator, not glibc: these figures are glibc's.
if ldd "$PYMEMLAB" | has libasan; then
  echo "ok (skipped under ASan: system is not glibc there)"
  exit 0
fi
want "replay a.txt system" "$(replay_fp a.txt system)" "602112000 0"
want "replay b.txt system" "$(replay_fp b.txt system)" "151552000 0"
want "replay z.txt system" "$(replay_fp z.txt system)" "0 0"
want "run system" "$(run_fp system | tr '\n' ' ')" "a ok 602112000 0 b ok 151552000 0 z ok 0 0 "
echo ok
