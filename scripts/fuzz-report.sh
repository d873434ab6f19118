#!/usr/bin/env bash
# scripts/fuzz-report.sh [--time S] [--targets "T1 T2 ..."] [--engines "libfuzzer afl"]
#
# The campaign report of fuzz/README.md: every target (default: all eight)
# on every engine (default: libFuzzer and AFL++) for S seconds each
# (default 600), one core per campaign, the engines of one target side by
# side (2 cores), through scripts/fuzz.sh (which merges new inputs into
# its work copy of the corpus, build/fuzz-ENGINE/work/TARGET/corpus, never
# into fuzz/corpus/, and saves worst cases). Writes out/fuzz-report-STAMP/report.md:
# one row per target and engine (executions, execs/s, corpus growth,
# crashes) and the worst-case tables of fuzz_frag and fuzz_retention.
# Exit 1 if any campaign found a crash, 2 on bad arguments.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "fuzz-report.sh: $*" >&2; exit 2; }
time=600
targets="fuzz_alloc fuzz_diff fuzz_oom fuzz_trace fuzz_objscript fuzz_gc fuzz_frag fuzz_retention"
engines="libfuzzer afl"
while [ $# -gt 0 ]; do
  case $1 in
    --time) [ $# -ge 2 ] || usage "--time needs a value"; time=$2; shift 2 ;;
    --targets) [ $# -ge 2 ] || usage "--targets needs a value"; targets=$2; shift 2 ;;
    --engines) [ $# -ge 2 ] || usage "--engines needs a value"; engines=$2; shift 2 ;;
    *) usage "unknown argument '$1' ([--time S] [--targets \"T ...\"] [--engines \"libfuzzer afl\"])" ;;
  esac
done
[[ $time =~ ^[0-9]+$ ]] && [ "$time" -ge 1 ] || usage "--time must be a whole number of seconds >= 1, not '$time'"
for e in $engines; do case $e in libfuzzer|afl) ;; *) usage "unknown engine '$e' (libfuzzer, afl)" ;; esac; done

stamp=$(date -u +%Y%m%d-%H%M%S)
dir=out/fuzz-report-$stamp
mkdir -p "$dir"
# build both first, so that the campaigns' clocks start together
for e in $engines; do
  scripts/build.sh "fuzz-$e" >"$dir/build-$e.log" 2>&1 || {
    echo "fuzz-report.sh: building for $e failed, see $dir/build-$e.log" >&2; exit 2; }
done

found=0
for t in $targets; do
  pids=()
  for e in $engines; do
    echo "$(date -u +%H:%M:%S) $t on $e, ${time}s" >&2
    scripts/fuzz.sh "$t" --engine "$e" --time "$time" >"$dir/$t-$e.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || found=1; done
done

row() {   # target engine -> one markdown row from the fuzz.sh log
  local t=$1 e=$2 log=$dir/$1-$2.log execs eps corpus result
  if [ "$e" = libfuzzer ]; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  else
    execs=$(grep -o 'main execs_done=[0-9]*' "$log" | tail -1 | cut -d= -f2)
    eps=$(grep -o 'main execs_per_sec=[0-9.]*' "$log" | tail -1 | cut -d= -f2)
  fi
  corpus=$(sed -n 's/^ *[^ ]*corpus[^ ]*: \([0-9]* -> [0-9]*\) inputs/\1/p' "$log" | tail -1)
  if grep -q '^== no crash found' "$log"; then result="no finding"; else result="**crash**, see $log"; fi
  printf '| %s | %s | %s s | %s | %s | %s | %s |\n' "$t" "$e" "$time" "${execs:--}" "${eps:--}" "${corpus:--}" "$result"
}

{
  echo "Fuzz campaigns, $(date -u '+%Y-%m-%d') on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores;"
  echo "commit $(git rev-parse --short HEAD), one core per campaign, ASan + UBSan (\`scripts/fuzz-report.sh --time $time\`)."
  echo
  echo "| target | engine | time | executions | execs/s | corpus (inputs before -> after) | result |"
  echo "| --- | --- | ---: | ---: | ---: | --- | --- |"
  for t in $targets; do for e in $engines; do row "$t" "$e"; done; done
  for t in $targets; do
    case $t in fuzz_frag|fuzz_retention) ;; *) continue ;; esac
    for e in $engines; do
      echo
      echo "Worst cases, $t on $e:"
      echo
      echo '```'
      sed -n '/^-- worst cases/,$p' "$dir/$t-$e.log" | grep -v '^== no crash\|^== crashes' || true
      echo '```'
    done
  done
} >"$dir/report.md"
cat "$dir/report.md"
exit $found
