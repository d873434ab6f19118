#!/usr/bin/env bash
# tests/cli/replay.sh — `pymemlab replay` from the command line: the JSON
# keys, the series file, --check-every, --domain, and the bad-input paths
# (exit 2, one line, no output file created).
set -euo pipefail
. "$(dirname "$0")/lib.bash"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$PYMEMLAB" trace gen churn --ops 20000 --live 500 --seed 3 -o "$tmp/churn.pmt" >/dev/null
out=$("$PYMEMLAB" replay "$tmp/churn.pmt" --backend system --reps 2 --json)
for k in backend trace ops ns_per_op peak_live_bytes final_live_bytes peak_footprint_bytes \
         final_footprint_bytes frag4 frag3 frag_at_peak_live retention retention_trimmed \
         backend_peak_mapped_bytes; do
  grep -q "\"$k\":" <<<"$out" || fail "replay --json lacks $k: $out"
done
# 20000 ops in the file, 2 of them phase marks: 19998 allocator calls
grep -q '"ops":19998' <<<"$out" || fail "ops: $out"
grep -q '"backend_peak_mapped_bytes":null' <<<"$out" || fail "system cannot say its peak mapped: $out"
grep -q '"final_live_bytes":0' <<<"$out" || fail "churn drains: $out"
out=$("$PYMEMLAB" replay "$tmp/churn.pmt" --backend null --reps 1 --json)
# null measures the loop only: its memory figures are not applicable (null), never numbers
for k in peak_footprint_bytes final_footprint_bytes frag4 frag3 frag_at_peak_live retention \
         retention_trimmed backend_peak_mapped_bytes; do
  grep -q "\"$k\":null" <<<"$out" || fail "null: $k is not null: $out"
done
"$PYMEMLAB" replay "$tmp/churn.pmt" --backend null --reps 1 | has "not applicable" ||
  fail "null: the text report does not say its memory figures are not applicable"

# text report
"$PYMEMLAB" replay "$tmp/churn.pmt" --backend system --reps 1 | has "^frag4 " || fail "text report"

# series: header and one row per sample
"$PYMEMLAB" replay "$tmp/churn.pmt" --backend null --reps 0 --sample-every 1000 --series "$tmp/s.csv" >/dev/null
[ "$(head -1 "$tmp/s.csv")" = "op,live_bytes,footprint_bytes,mapped_bytes" ] || fail "series header"
rows=$(($(wc -l <"$tmp/s.csv") - 1))
[ "$rows" -ge 20 ] || fail "series rows: $rows"
[ ! -e "$tmp/s.csv.tmp" ] || fail "series temp file left behind"

# --check-every: stops at the first violation, names the op, exit 1
rc=0; err=$("$PYMEMLAB" replay "$tmp/churn.pmt" --backend test-badcheck,after=700 --check-every 100 --reps 0 2>&1) || rc=$?
[ $rc = 1 ] || fail "--check-every: exit $rc"
[[ "$err" == "pymemlab: $tmp/churn.pmt: test-badcheck,after=700: check() found 1 violation(s) after op "*": test-badcheck: deliberate violation after "*" mallocs" ]] \
  || fail "--check-every message: $err"

# --domain on a domain-tagged trace (growth tags obj and mem)
"$PYMEMLAB" trace gen growth --ops 5000 -o "$tmp/growth.pmt" >/dev/null
all=$("$PYMEMLAB" replay "$tmp/growth.pmt" --backend system --reps 0 --json)
obj=$("$PYMEMLAB" replay "$tmp/growth.pmt" --backend system --reps 0 --json --domain obj)
n_all=$(grep -o '"ops":[0-9]*' <<<"$all" | cut -d: -f2); n_obj=$(grep -o '"ops":[0-9]*' <<<"$obj" | cut -d: -f2)
[ "$n_obj" -gt 0 ] && [ "$n_obj" -lt "$n_all" ] || fail "--domain obj replays a part: $n_obj of $n_all"
expect_usage_error "pymemlab: $tmp/churn.pmt: no ops to replay in the chosen domain (is the trace domain-tagged?)" \
  replay "$tmp/churn.pmt" --backend system --domain obj

# bad input: one line, exit 2, no series file
printf 'pmtrace 1\nalloc 0 16\nfree 1\n' >"$tmp/bad.txt"
expect_usage_error "pymemlab: $tmp/bad.txt:3: free of slot 1 which is not live" \
  replay "$tmp/bad.txt" --backend system --series "$tmp/none.csv"
[ ! -e "$tmp/none.csv" ] && [ ! -e "$tmp/none.csv.tmp" ] || fail "series file created on bad input"
printf 'NOTATRACE' >"$tmp/junk.pmt"
expect_usage_error "pymemlab: $tmp/junk.pmt*" replay "$tmp/junk.pmt" --backend system
head -c 200 "$tmp/churn.pmt" >"$tmp/cut.pmt"
expect_usage_error "pymemlab: $tmp/cut.pmt*" replay "$tmp/cut.pmt" --backend system
expect_usage_error "pymemlab: $tmp/nosuch.pmt*" replay "$tmp/nosuch.pmt" --backend system
expect_usage_error "pymemlab: unknown backend 'nosuch' (known: *)" replay "$tmp/churn.pmt" --backend nosuch --series "$tmp/none.csv"
[ ! -e "$tmp/none.csv" ] || fail "series file created for an unknown backend"
expect_usage_error "pymemlab: replay: --backend is required (see 'pymemlab backends')" replay "$tmp/churn.pmt"
expect_usage_error "pymemlab: replay: a TRACE argument is required" replay --backend system
expect_usage_error "pymemlab: replay: bad value for --domain: 'heap' (expected obj, mem, raw, pymalloc or all)" \
  replay "$tmp/churn.pmt" --backend system --domain heap
expect_usage_error "pymemlab: replay: bad value for --touch: 'some' (expected none, pages or full)" \
  replay "$tmp/churn.pmt" --backend system --touch some
expect_usage_error "pymemlab: bad value for --check-every: 0 (expected 1..*)" \
  replay "$tmp/churn.pmt" --backend system --check-every 0
expect_usage_error "pymemlab: replay: bad value for --mode: 'hot' (expected cold or warm)" \
  replay "$tmp/churn.pmt" --backend system --mode hot

# ---- the harness's own memory is not in the footprint ----
# 2.1M live slots: a slot table of 16 bytes a slot (34 MiB) that faulted in
# during the measured run would show in the footprint. test-null is null
# with its memory figures shown: its only memory is its 4 MiB ring, so
# everything above ring + 1 MiB would be the harness's. (Before the fix:
# 33 MiB on this trace.)
"$PYMEMLAB" trace gen fifo --live 2100000 --ops 4300000 -o "$tmp/wide.pmt" >/dev/null
out=$("$PYMEMLAB" replay "$tmp/wide.pmt" --backend test-null --touch none --reps 1 --json)
python3 - "$out" <<'EOF2' || fail "harness memory in the footprint: $out"
import json, sys
d = json.loads(sys.argv[1])
assert d["peak_footprint_bytes"] <= (4 << 20) + (1 << 20), d["peak_footprint_bytes"]
EOF2
# the same in warm mode and for the timed reps: faults per op of the loop alone are near 0
out=$("$PYMEMLAB" replay "$tmp/wide.pmt" --backend test-null --touch none --reps 2 --mode warm --json)
python3 - "$out" <<'EOF2' || fail "warm: the timed loop faults: $out"
import json, sys
d = json.loads(sys.argv[1])
assert d["time_mode"] == "warm" and len(d["ns_per_op_reps"]) == 2
assert d["minflt_per_op"] < 0.001, d["minflt_per_op"]
EOF2

# ---- memory follows the slots used, never the header's claim ----
# one alloc and free in slot 2^28 - 1: refused before any table is made
printf 'pmtrace 1\nalloc 268435455 16\nfree 268435455\n' >"$tmp/bomb.txt"
expect_usage_error "pymemlab: $tmp/bomb.txt: op 0: slot 268435455 after only 0 allocations: the slot numbers are sparse, and a slot table for them would take 4.0 GiB (docs/trace-format.md: slots are dense)" \
  replay "$tmp/bomb.txt" --backend system
# a dense trace is not refused however high its slots go
"$PYMEMLAB" replay "$tmp/churn.pmt" --backend system --reps 1 >/dev/null || fail "dense trace refused"
echo ok
