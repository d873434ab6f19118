# tests/cli/footprint.bash — what footprint_null.sh and footprint_exact.sh
# share: the hand-computed traces (written by each test with mk: a.txt,
# b.txt, z.txt; the cases are described in each test) and the helpers that
# read the footprint figures of `replay` and `run` and compare them.
# Sourced after lib.bash; it only defines functions.
mk() {  # mk COUNT SIZE FILE
  awk -v n="$1" -v s="$2" 'BEGIN { print "pmtrace 1"; print "@ops " 2 * n; print "@slots " n
    for (i = 0; i < n; i++) print "alloc " i " " s
    for (i = 0; i < n; i++) print "free " i }' >"$3"
}
# fp_traces: writes the cases' traces a.txt, b.txt and z.txt here.
fp_traces() {
  mk 3000 200000 a.txt
  mk 1000 150000 b.txt
  printf 'pmtrace 1\nalloc 0 0\nfree 0\n' >z.txt
}

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
