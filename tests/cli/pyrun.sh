#!/usr/bin/env bash
# tests/cli/pyrun.sh — `pymemlab pyrun`: --list; every workload on `system`
# and one on every available per-instance backend but `null`, with --json
# (the keys of `replay --json` plus the GC figures, numbers sane, the
# request count the same on every backend) and --series; text output; then
# the error convention: bad input exits 2 with one line on stderr, nothing on
# stdout, and no series file.
set -euo pipefail
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"
source "$PM_SOURCE_DIR/tests/cli/lib.bash"
status=0
fail() { echo "FAIL: $*" >&2; status=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --list: one line per workload, name then summary
list=$("$PYMEMLAB" pyrun --list)
names=$(awk '{ print $1 }' <<<"$list" | tr '\n' ' ')
[ "$names" = "json compiler web cycles build survivors churn service bigheap " ] || fail "--list names: $names"
[ "$(wc -l <<<"$list")" = 9 ] || fail "--list: $(wc -l <<<"$list") lines"
awk 'NF < 4 { exit 1 }' <<<"$list" || fail "--list: a line without a summary: $list"

check_json() {   # JSON BACKEND WORKLOAD SCALE SEED
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
be, wl, scale, seed = sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
keys = ["backend", "workload", "ops", "reps", "ns_per_op", "ns_per_op_min", "ns_per_op_max",
        "peak_live_bytes", "final_live_bytes", "peak_footprint_bytes", "final_footprint_bytes",
        "frag4", "frag3", "frag_at_peak_live", "retention", "retention_trimmed",
        "backend_peak_mapped_bytes", "gc_collections", "gc_collected", "gc_uncollectable",
        "gc_time_ns", "seed", "scale"]
missing = [k for k in keys if k not in d]
assert not missing, ("missing", missing)
assert d["backend"] == be and d["workload"] == wl, d
assert d["seed"] == seed and abs(d["scale"] - scale) < 1e-12, d
assert isinstance(d["ops"], int) and d["ops"] > 0, d
assert d["reps"] == 2, d
assert d["ns_per_op_min"] <= d["ns_per_op"] <= d["ns_per_op_max"] and d["ns_per_op"] > 0, d
assert d["peak_live_bytes"] > 0 and d["peak_live_bytes"] >= d["final_live_bytes"] >= 0, d
assert d["peak_footprint_bytes"] >= 0 and d["final_footprint_bytes"] >= 0, d
assert d["peak_footprint_bytes"] >= d["final_footprint_bytes"], d
for k in ("frag4", "frag3", "frag_at_peak_live"):
    assert d[k] is None or d[k] >= -1, (k, d)
for k in ("retention", "retention_trimmed"):
    assert d[k] is None or 0 <= d[k] <= 2, (k, d)
# (system under ASan reports 0: mallinfo is then ASan mallinfo)
assert d["backend_peak_mapped_bytes"] is None or d["backend_peak_mapped_bytes"] >= 0, d
for k in ("gc_collections", "gc_collected", "gc_uncollectable", "gc_time_ns"):
    assert isinstance(d[k], int) and d[k] >= 0, (k, d)
print(d["ops"])
' "$@"
}

declare -A ops_of
for w in json compiler web cycles build survivors churn; do
  js=$("$PYMEMLAB" pyrun "$w" --backend system --scale 0.01 --seed 5 --reps 2 --json) ||
    { fail "$w system: exit $?"; continue; }
  [ "$(wc -l <<<"$js")" = 1 ] || fail "$w: --json printed more than one line"
  ops_of[$w]=$(check_json "$js" system "$w" 0.01 5) || fail "$w system: $js"
done
echo "ok: every workload --json on system"

for b in $("$PYMEMLAB" backends |
    awk 'NR > 1 && $2 == "available" && $3 == "per-instance" && $1 != "null" { print $1 }'); do
  js=$("$PYMEMLAB" pyrun web --backend "$b" --scale 0.01 --seed 5 --reps 2 --json) ||
    { fail "web $b: exit $?"; continue; }
  ops=$(check_json "$js" "$b" web 0.01 5) || { fail "web $b: $js"; continue; }
  [ "$ops" = "${ops_of[web]}" ] || fail "web on $b made $ops requests, on system ${ops_of[web]}"
  echo "ok: web --json on $b"
done

# another seed, another stream
ops2=$(check_json "$("$PYMEMLAB" pyrun churn --backend system --scale 0.01 --seed 6 --reps 2 --json)" system churn 0.01 6)
[ "$ops2" != "${ops_of[churn]}" ] || fail "churn: seeds 5 and 6 made the same number of requests"

# the series
"$PYMEMLAB" pyrun survivors --backend system --scale 0.02 --reps 1 --series "$tmp/s.csv" >"$tmp/out.txt" ||
  fail "--series: exit $?"
[ "$(head -n1 "$tmp/s.csv")" = "op,live_bytes,footprint_bytes,mapped_bytes,mark" ] || fail "series header"
[ "$(wc -l <"$tmp/s.csv")" -gt 50 ] || fail "series: $(wc -l <"$tmp/s.csv") lines"
for m in phase:alloc phase:free phase:quiet peak_live end; do
  grep -q ",$m\$" "$tmp/s.csv" || fail "series: no '$m' row"
done
awk -F, 'NR > 1 && ($1 < prev || NF != 5) { exit 1 } NR > 1 { prev = $1 }' "$tmp/s.csv" ||
  fail "series: rows not in op order or not 5 fields"
for k in ops ns_per_op peak_live_bytes peak_footprint_bytes frag4 retention retention_trimmed \
    gc_collections phases series; do
  grep -q "^$k " "$tmp/out.txt" || fail "text output: no '$k' line"
done
# a fixed interval: about one row per 1000 requests (churn samples at every step)
"$PYMEMLAB" pyrun churn --backend system --scale 0.02 --reps 1 --sample-every 1000 \
  --series "$tmp/e.csv" >/dev/null || fail "--sample-every: exit $?"
n=$(($(wc -l <"$tmp/e.csv") - 1))
ops=$(check_json "$("$PYMEMLAB" pyrun churn --backend system --scale 0.02 --reps 2 --json)" system churn 0.02 1)
[ "$n" -ge $((ops * 9 / 10 / 1000)) ] && [ "$n" -le $((ops / 1000 + 10)) ] ||
  fail "--sample-every 1000: $n rows for $ops ops"
[ $status = 0 ] && echo "ok: series and text output"

# bad input: exit 2, one line, no stdout, no series file
bad() {   # GLOB ARGS...
  local want=$1; shift
  expect_usage_error "$want" "$@" --series "$tmp/bad.csv"
  [ ! -e "$tmp/bad.csv" ] || { rm -f "$tmp/bad.csv"; fail "pyrun $*: series file created"; }
}
bad "pymemlab: pyrun: unknown workload 'nosuch' (known: json, compiler, web, cycles, build, survivors, churn, service, bigheap)" \
  pyrun nosuch --backend system
bad "pymemlab: unknown backend 'nosuch' (known: *)" pyrun json --backend nosuch
bad "pymemlab: bad value for --scale: '0' (expected a number in 0.0001..10000)" pyrun json --backend system --scale 0
bad "pymemlab: bad value for --scale: 'x' *" pyrun json --backend system --scale x
bad "pymemlab: bad value for --scale: '1e9' *" pyrun json --backend system --scale 1e9
bad "pymemlab: bad value for --seed: 'x' *" pyrun json --backend system --seed x
bad "pymemlab: bad value for --seed: '-1' *" pyrun json --backend system --seed -1
bad "pymemlab: bad value for --reps: 0 (expected 1..1000)" pyrun json --backend system --reps 0
bad "pymemlab: bad value for --sample-every: 0 (expected 1..*)" pyrun json --backend system --sample-every 0
bad "pymemlab: pyrun: --backend is required (see 'pymemlab backends')" pyrun json
bad "pymemlab: pyrun: a workload is required (see 'pymemlab pyrun --list')" pyrun --backend system
bad "pymemlab: pyrun: unexpected argument 'web'" pyrun json web --backend system
bad "pymemlab: pyrun: unknown option '--frob' (see 'pymemlab help pyrun')" pyrun json --backend system --frob
bad "pymemlab: backend 'null' takes no inner backend*" pyrun json --backend null:system
expect_usage_error "pymemlab: pyrun: --list takes no workload ('json')" pyrun --list json
expect_usage_error "pymemlab: pyrun: $tmp/no/such/dir.csv: folder $tmp/no/such: No such file or directory" \
  pyrun json --backend system --scale 0.001 --series "$tmp/no/such/dir.csv"
[ $status = 0 ] && echo "ok: error convention"
exit $status
