#!/usr/bin/env bash
# scripts/bench.sh — the benchmark behind README's speed tables, in one run:
#   1. `pymemlab micro` (20M ops, 100k live blocks of 16..512 B) per backend,
#   2. `pymemlab replay` of a 20M-op churn trace (CPython-like sizes) per backend,
#      and on null with the per-op dispatch (`--engine per-op`),
# each backend in its own process, ROUNDS interleaved rounds (default 3),
# median reported. Writes a markdown report to out/bench-<date>.md and stdout.
#   PM_ROUNDS=5 scripts/bench.sh      more rounds
#   PM_BACKENDS="pymalloc cpython" scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh release
bin=build/release/pymemlab
rounds=${PM_ROUNDS:-3}
ops=${PM_OPS:-20M}
stamp=$(date -u +%Y%m%d-%H%M%S)
dir=out/bench-$stamp
mkdir -p "$dir"
if [ -n "${PM_BACKENDS:-}" ]; then
  backends=$PM_BACKENDS
else
  backends="$("$bin" backends | awk 'NR > 1 && $2 == "available" && $1 !~ /:/ {print $1}') debug:pymalloc"
fi
"$bin" trace gen churn --ops "$ops" --sizes python -o "$dir/churn.pmt" >/dev/null

for r in $(seq "$rounds"); do
  for b in $backends; do
    printf 'round %d/%d %-14s\r' "$r" "$rounds" "$b" >&2
    "$bin" micro --backend "$b" --ops "$ops" --json >>"$dir/micro.jsonl"
    "$bin" replay "$dir/churn.pmt" --backend "$b" --reps 1 --json >>"$dir/replay.jsonl"
  done
  # the replay loop's cost with the dispatch of one branch per op (README)
  "$bin" replay "$dir/churn.pmt" --backend null --engine per-op --reps 1 --json >>"$dir/perop.jsonl"
done
printf '\n' >&2

# median of the ns_per_op values of one backend in a JSON-lines file
median() {
  grep -F "\"backend\":\"$2\"" "$1" 2>/dev/null | sed 's/.*"ns_per_op":\([0-9.]*\).*/\1/' |
    sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) printf "%.2f", v[(NR+1)/2]; else printf "%.2f", (v[NR/2]+v[NR/2+1])/2}'
}
field() { grep -F "\"backend\":\"$2\"" "$1" | tail -1 | sed "s/.*\"$3\":\([0-9.e+-]*\).*/\1/"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
base_m=$(median "$dir/micro.jsonl" cpython); base_r=$(median "$dir/replay.jsonl" cpython)
{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $cpu, $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r);"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), median of $rounds interleaved rounds, one process per run (\`scripts/bench.sh\`)."
  echo
  echo "| backend | micro ns/op | x cpython | churn replay ns/op | x cpython | churn peak footprint MiB | churn frag4 |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for b in $backends; do
    m=$(median "$dir/micro.jsonl" "$b"); r=$(median "$dir/replay.jsonl" "$b")
    xm=$(awk -v a="$m" -v b="$base_m" 'BEGIN {if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b}')
    xr=$(awk -v a="$r" -v b="$base_r" 'BEGIN {if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b}')
    fp=$(field "$dir/replay.jsonl" "$b" peak_footprint_bytes); f4=$(field "$dir/replay.jsonl" "$b" frag4)
    fp=$(awk -v v="$fp" 'BEGIN {printf "%.1f", v / 1048576}'); f4=$(awk -v v="$f4" 'BEGIN {printf "%.3f", v}')
    echo "| \`$b\` | $m | $xm | $r | $xr | $fp | $f4 |"
  done
  echo
  echo "The replay loop's own cost with one dispatch per op instead of per window (\`replay --backend null --engine per-op\`): $(median "$dir/perop.jsonl" null) ns/op."
  echo
  echo "Decoding the churn trace (not part of ns/op): $("$bin" trace bench "$dir/churn.pmt" --reps 3 | sed 's/^[^;]*; //')."
} | tee "$dir/report.md"
rm -f "$dir/churn.pmt"
