#!/usr/bin/env bash
# tests/cli/adversary.sh — `pymemlab trace gen adversary --against B`
# (docs/worst-cases.md): the trace's replay on B reproduces the figures
# derived in its metadata within 2% (frag = backend_peak_mapped_bytes /
# peak_live_bytes; retention = (mapped - live at the end) / peak live, from
# the last --series row), the peak live is exact, every figure is above
# Robson's bound, and bad options are refused (exit 2, one line).
set -euo pipefail
. "$(dirname "$0")/lib.bash"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for b in pymalloc segfit buddy; do
  f=$tmp/adv-$b.pmt
  "$PYMEMLAB" trace gen adversary --against "$b" --live-max 2M -o "$f" >/dev/null || fail "gen adversary --against $b failed"
  info=$("$PYMEMLAB" trace info "$f")
  meta() { sed -n "s/^meta  *adversary\.$1=//p" <<<"$info"; }
  "$PYMEMLAB" replay "$f" --backend "$b" --reps 0 --json --series "$tmp/s.csv" >"$tmp/r.json" ||
    fail "$b: replay failed"
  python3 - "$b" "$tmp/r.json" "$tmp/s.csv" "$(meta derived_frag)" "$(meta derived_retention)" \
    "$(meta derived_peak_live)" "$(meta robson_ratio)" <<'PY' || fail "$b: the replay does not reproduce the derived figures"
import json, sys
b, rj, series, frag, ret, live, robson = sys.argv[1:]
j = json.load(open(rj))
got_frag = j["backend_peak_mapped_bytes"] / j["peak_live_bytes"]
last = open(series).read().split()[-1].split(",")   # op,live,footprint,mapped
got_ret = (int(last[3]) - int(last[1])) / j["peak_live_bytes"]
ok = (j["peak_live_bytes"] == int(live) and abs(got_frag / float(frag) - 1) <= 0.02
      and abs(got_ret / float(ret) - 1) <= 0.02 and got_frag > float(robson))
print("%s: frag %.4f (derived %s), retention %.4f (derived %s), Robson %s" % (b, got_frag, frag, got_ret, ret, robson),
      file=sys.stderr)
sys.exit(0 if ok else 1)
PY
done
expect_usage_error "*--against pymalloc|segfit|buddy is required*" trace gen adversary -o "$tmp/x.pmt"
expect_usage_error "*--against tcmalloc: known are pymalloc, segfit, buddy*" trace gen adversary --against tcmalloc -o "$tmp/x.pmt"
expect_usage_error "*needs --sizes uniform:MIN-MAX*" trace gen adversary --against buddy --sizes python -o "$tmp/x.pmt"
expect_usage_error "*--against does not apply*" trace gen lifo --against buddy -o "$tmp/x.pmt"
echo "ok: adversary traces reproduce their derived figures"
