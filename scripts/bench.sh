#!/usr/bin/env bash
# scripts/bench.sh — the benchmark behind the speed tables (docs/corrections.md), in one run:
#   1. `pymemlab micro` (20M ops, 100k live blocks of 16..512 B) per backend,
#   2. `pymemlab replay` of a 20M-op churn trace (CPython-like sizes) per backend,
#      and on null with the per-op dispatch (`--engine per-op`),
# in each timing mode (cold, warm: docs/metrics.md), ROUNDS interleaved rounds
# (default 6): round r runs one rep of every backend before round r+1, each
# rep in a fresh process. Each figure is the median of the rounds with its
# 95% interval, ratios to cpython with theirs, "not distinguishable" where
# the intervals overlap (`pymemlab table`); the machine's load before and
# after every rep is recorded and reps on a loaded machine are flagged.
# Writes out/bench-<date>/report.md and prints it.
#   PM_ROUNDS=10 scripts/bench.sh      more rounds
#   PM_MODES=cold scripts/bench.sh     one mode
#   PM_BACKENDS="pymalloc cpython,version=3.12" scripts/bench.sh   (default: every available
#                                      backend but the other CPython versions, and debug:pymalloc)
#   PM_OPS=2M scripts/bench.sh         a shorter run
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
  "") ;;
  *) echo "bench.sh: unexpected argument '$1' (see --help)" >&2; exit 2 ;;
esac
scripts/bootstrap.sh run
scripts/build.sh release
bin=build/release/pymemlab
rounds=${PM_ROUNDS:-6}
ops=${PM_OPS:-20M}
modes=${PM_MODES:-cold warm}
stamp=$(date -u +%Y%m%d-%H%M%S)
dir=out/bench-$stamp
mkdir -p "$dir"
if [ -n "${PM_BACKENDS:-}" ]; then
  backends=$PM_BACKENDS
else
  backends="$("$bin" backends | awk 'NR > 1 && $2 == "available" && $1 !~ /[:,]/ {print $1}') debug:pymalloc"
fi
"$bin" trace gen churn --ops "$ops" --sizes python -o "$dir/churn.pmt" >/dev/null
t0=$(date +%s)
for mode in $modes; do
  for r in $(seq "$rounds"); do
    for b in $backends; do
      printf '%s round %d/%d %-14s\r' "$mode" "$r" "$rounds" "$b" >&2
      "$bin" micro --backend "$b" --ops "$ops" --reps 1 --mode "$mode" --json >>"$dir/micro-$mode.jsonl"
      "$bin" replay "$dir/churn.pmt" --backend "$b" --reps 1 --mode "$mode" --json >>"$dir/replay-$mode.jsonl"
    done
    # the replay loop's cost with the dispatch of one branch per op (docs/corrections.md)
    "$bin" replay "$dir/churn.pmt" --backend null --engine per-op --reps 1 --mode "$mode" --json |
      sed 's/"backend":"null"/"backend":"null (per-op dispatch)"/' >>"$dir/replay-$mode.jsonl"
  done
done
printf '\n' >&2
t1=$(date +%s)

merge() { python3 scripts/lib/merge-rounds.py "$1" "$2"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $cpu, $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r);"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)'), $rounds interleaved rounds per mode, every rep in a fresh process (\`scripts/bench.sh\`, $((t1 - t0)) s)."
  for mode in $modes; do
    echo
    echo "### $mode ($ops ops)"
    echo
    echo '```'
    merge "$dir/micro-$mode.jsonl" micro >"$dir/micro-$mode.merged.jsonl"
    merge "$dir/replay-$mode.jsonl" churn >"$dir/replay-$mode.merged.jsonl"
    cat "$dir/micro-$mode.merged.jsonl" "$dir/replay-$mode.merged.jsonl" >"$dir/all-$mode.jsonl"
    "$bin" table "$dir/all-$mode.jsonl"
    echo '```'
    python3 - "$dir/micro-$mode.jsonl" "$dir/replay-$mode.jsonl" <<'PY'
import json, sys
n = loaded = 0
l1 = []
for f in sys.argv[1:]:
    for line in open(f):
        d = json.loads(line)
        n += 1
        ld = d.get("load", {})
        loaded += 1 if ld.get("loaded") else 0
        if "load1_start" in ld:
            l1.append(ld["load1_start"])
print()
if l1:
    print(f"Machine load during the replay reps: 1-minute load average {min(l1):.2f} to {max(l1):.2f}; "
          f"{loaded} of {n} replay reps flagged loaded (other work above 0.5 CPU, or steal above 5%).")
PY
  done
  echo
  echo "Decoding the churn trace (not part of ns/op): $("$bin" trace bench "$dir/churn.pmt" --reps 3 | sed 's/^[^;]*; //')."
} | tee "$dir/report.md"
rm -f "$dir/churn.pmt"
