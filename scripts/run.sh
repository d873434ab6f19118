#!/usr/bin/env bash
# scripts/run.sh — the main job: bootstrap, build, generate the synthetic
# traces, replay each on every available backend (one process per replay),
# and print one comparison table. Results go to out/run-<date>/ (JSON lines,
# the table, the traces' provenance).
#
#   scripts/run.sh                 default sizes (about 5 minutes on 2 cores)
#   PM_OPS=2M scripts/run.sh       smaller traces, for a quick look
#   PM_BACKENDS="pymalloc cpython" scripts/run.sh   only these backends
#   PM_REPS=5 scripts/run.sh       timed repetitions per replay (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh release
bin=build/release/pymemlab
ops=${PM_OPS:-20M}
reps=${PM_REPS:-3}
out=${PM_OUT:-out/run-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out/traces"

if [ -n "${PM_BACKENDS:-}" ]; then
  backends=$PM_BACKENDS
else
  # every available backend that is not a wrapper
  backends=$("$bin" backends | awk 'NR > 1 && $2 == "available" && $1 !~ /:/ {print $1}')
fi

echo "== generating traces ($ops ops) into $out/traces"
"$bin" trace gen churn    --ops "$ops" --sizes python        -o "$out/traces/churn.pmt"
"$bin" trace gen churn    --ops "$ops" --sizes uniform:16-512 -o "$out/traces/churn-uniform.pmt"
"$bin" trace gen lifo     --ops "$ops"                        -o "$out/traces/lifo.pmt"
"$bin" trace gen fifo     --ops "$ops"                        -o "$out/traces/fifo.pmt"
"$bin" trace gen growth   --ops "$ops"                        -o "$out/traces/growth.pmt"
"$bin" trace gen survivors --live 1000000 --keep-every 100 --again 200000 -o "$out/traces/survivors.pmt"

results="$out/results.jsonl"
: >"$results"
for t in "$out"/traces/*.pmt; do
  for b in $backends; do
    printf '== %-20s %-10s\r' "$(basename "$t")" "$b" >&2
    "$bin" replay "$t" --backend "$b" --reps "$reps" --json >>"$results"
  done
done
printf '\n' >&2
{
  echo "pymemlab run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "ns/op: median of $reps timed runs (trace decoding excluded); x base: ns/op over the baseline (cpython); -null ns: minus the null backend (the replay loop's own cost)"
  echo
  "$bin" table "$results"
} | tee "$out/table.txt"
echo
echo "results: $results"
