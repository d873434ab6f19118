#!/usr/bin/env bash
# scripts/gc-compare.sh [--out DIR] [--reps N] [--backend B] [--workloads "W:SCALE ..."]
#     [--gcs "NAME ..."] [--table-only] — the collector comparison of docs/gc.md
# (issue 20): every workload under every collector, N reps each (default 3,
# same seed: the request stream is the same, the timings vary), each rep one
# `pymemlab pyrun W --reps 1 --gc NAME --gc-held --json --series ...` in a
# fresh process. Writes into DIR (default results/gc): runs.jsonl (one line
# per run, with the 1-minute load average before and after it), series/
# (the memory series of each run, garbage_held_bytes included), pauses/
# (every collection's pause of each run, ns, one per line), table.md (workload x collector:
# median over the reps of pause p99 and max, total GC time, peak footprint,
# peak garbage held, each with its 95% interval from the order statistics of
# the reps, as pm_ci_median: with 3 reps the interval is [min, max]; where
# two collectors' intervals overlap the table says nothing about their order)
# and the figures gc-pauses.png, gc-held.png (scripts/plots/gc.gp).
# --table-only rebuilds table.md and the figures from DIR/runs.jsonl.
# Defaults: backend pymalloc; workloads service:0.25 bigheap:0.25 cycles:0.1
# web:0.25; collectors gen311 gen313 inc314 pep848.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/gc reps=3 backend=pymalloc table_only=0
workloads="service:0.25 bigheap:0.25 cycles:0.1 web:0.25"
gcs="gen311 gen313 inc314 pep848"
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --workloads) workloads=$2; shift 2 ;;
    --gcs) gcs=$2; shift 2 ;;
    --table-only) table_only=1; shift ;;
    *) echo "gc-compare.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
case $reps in ''|*[!0-9]*|0) echo "gc-compare.sh: bad value for --reps: '$reps'" >&2; exit 2 ;; esac
bin=${PYMEMLAB:-build/release/pymemlab}
[ -x "$bin" ] || scripts/build.sh release
for g in $gcs; do
  case $g in gen311|gen313|inc314|pep848) ;; *) echo "gc-compare.sh: unknown collector '$g'" >&2; exit 2 ;; esac
done
for ws in $workloads; do
  "$bin" pyrun --list | awk '{print $1}' | grep -qx "${ws%%:*}" ||
    { echo "gc-compare.sh: unknown workload '${ws%%:*}'" >&2; exit 2; }
done
mkdir -p "$out/series" "$out/pauses"
if [ $table_only = 0 ]; then
  : > "$out/runs.jsonl.tmp"
  for ((r = 1; r <= reps; r++)); do
    for ws in $workloads; do
      w=${ws%%:*} scale=${ws#*:}
      for g in $gcs; do
        l0=$(cut -d' ' -f1 /proc/loadavg)
        s="series/$w-$g-$r.csv"
        js=$("$bin" pyrun "$w" --backend "$backend" --scale "$scale" --reps 1 --gc "$g" --gc-held \
             --json --series "$out/$s" --gc-pauses "$out/pauses/$w-$g-$r.txt")
        l1=$(cut -d' ' -f1 /proc/loadavg)
        python3 -c 'import json, sys
d = json.loads(sys.argv[1]); d.update(rep=int(sys.argv[2]), load1_start=float(sys.argv[3]),
    load1_end=float(sys.argv[4]), series=sys.argv[5]); print(json.dumps(d))' \
          "$js" "$r" "$l0" "$l1" "$s" >> "$out/runs.jsonl.tmp"
        echo "gc-compare: $w/$g rep $r done (load $l0 -> $l1)" >&2
      done
    done
  done
  mv "$out/runs.jsonl.tmp" "$out/runs.jsonl"
  rm -f "$out/meta.json"     # gc-table.py writes the commit and date of these runs
fi
python3 scripts/gc-table.py "$out" "$backend" "$(git rev-parse --short HEAD)"
if command -v gnuplot >/dev/null; then
  stamp=$(python3 -c 'import json, sys; m = json.load(open(sys.argv[1]))
print("pymemlab %s · %s UTC" % (m["commit"], m["date_utc"]))' "$out/meta.json")
  gnuplot -e "dir='$out'" -e "STAMP='$stamp'" scripts/plots/gc.gp
fi
