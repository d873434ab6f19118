#!/usr/bin/env bash
# tests/cli/worst.sh — every worst case the fuzzers saved in fuzz/worst/
# (fuzz_frag, fuzz_retention) reproduces its figure through `pymemlab
# replay` on the backend its metadata names:
#   frag      = backend_peak_mapped_bytes / peak_live_bytes
#   retention = (mapped - live at the end) / peak live, from the last --series row
# A worst case is a trace (METRIC-SPEC-VALUE.pmt) or, when its trace would
# be megabytes (a fill of 8 MiB of 16-byte blocks is 524,288 ops), the
# fuzzer's input (METRIC-SPEC-VALUE.in, SPEC as PM_FUZZ_BACKEND takes it,
# with a layout-independent figure: pymalloc's default placement=os maps
# arenas where mmap puts them, and whether they are pool-aligned changes the
# figure by up to 1.5%): the corpus replayer (fuzz_METRIC_replay, next to
# pymemlab) runs it on SPEC and writes its trace, whose name must carry
# VALUE and which must then reproduce as above.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
: "${PM_SOURCE_DIR:?}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
# exact (to the 6 decimals saved), but under ASan within 1%: its shadow
# pages count in the footprint on some kernels (6.18), and with unaligned
# placement not always alike, in the fuzzer's replayer and in `pymemlab
# replay` both
tol=0; asan_build && tol=0.01
# within GOT WANT FLOOR: |GOT - WANT| <= max(FLOOR, tol * WANT)
within() { python3 -c "import sys; g, w, f, t = map(float, sys.argv[1:]); sys.exit(abs(g - w) > max(f, t * w))" "$1" "$2" "$3" "$tol"; }
check_pmt() {   # FILE: replay it, compare with its fuzz.value
  local f=$1 info metric backend want got
  info=$("$PYMEMLAB" trace info "$f")
  meta() { sed -n "s/^meta  *fuzz\.$1=//p" <<<"$info"; }
  metric=$(meta metric) backend=$(meta backend) want=$(meta value)
  [ -n "$metric" ] && [ -n "$backend" ] && [ -n "$want" ] || fail "$f: no fuzz.metric/backend/value metadata"
  "$PYMEMLAB" replay "$f" --backend "$backend" --reps 0 --json --series "$tmp/s.csv" >"$tmp/r.json" ||
    fail "$f: replay on $backend failed"
  got=$(python3 - "$metric" "$tmp/r.json" "$tmp/s.csv" <<'EOF'
import json, sys
metric, rj, series = sys.argv[1:]
j = json.load(open(rj))
if metric == "frag":
    print("%.6f" % (j["backend_peak_mapped_bytes"] / j["peak_live_bytes"]))
else:
    last = open(series).read().split()[-1].split(",")   # op,live,footprint,mapped
    print("%.6f" % ((int(last[3]) - int(last[1])) / j["peak_live_bytes"]))
EOF
)
  within "$got" "$want" 5e-6 ||
    fail "$f: $metric on $backend: replay gives $got, the fuzzer saved $want"
  n=$((n + 1))
}
for f in "$PM_SOURCE_DIR"/fuzz/worst/*.pmt; do
  [ -f "$f" ] || continue
  check_pmt "$f"
done
for f in "$PM_SOURCE_DIR"/fuzz/worst/*.in; do
  [ -f "$f" ] || continue
  name=$(basename "$f" .in)
  metric=${name%%-*} value=${name##*-}
  spec=${name#"$metric"-}
  spec=${spec%-"$value"}
  replayer=$(dirname "$PYMEMLAB")/fuzz/fuzz_${metric}_replay
  [ -x "$replayer" ] || fail "$f: no $replayer"
  rm -rf "$tmp/w" && mkdir "$tmp/w"
  PM_FUZZ_BACKEND=$spec PM_FUZZ_WORST_DIR=$tmp/w "$replayer" "$f" >/dev/null 2>&1 || fail "$f: $replayer failed"
  set -- "$tmp/w"/*.pmt
  [ $# = 1 ] && [ -f "$1" ] || fail "$f: $replayer wrote $# traces, want 1"
  reached=$(basename "$1" .pmt); reached=${reached##*-}
  within "$reached" "$value" 0 ||
    fail "$f: $replayer on $spec reached $reached, not $value"
  check_pmt "$1"
done
[ $n -gt 0 ] || fail "no worst-case traces in $PM_SOURCE_DIR/fuzz/worst"
echo "ok: $n worst cases reproduce"
