#!/usr/bin/env bash
# scripts/fuzz-speed.sh [--time S] [--targets "T1 T2 ..."] LABEL=ROOT[@SUFFIX]...
#
# Executions per second of fuzz targets, one campaign at a time (one core),
# for each LABEL=ROOT given: ROOT is a source tree whose build/fuzz-libfuzzer
# and build/fuzz-afl hold the engine binaries (e.g. before=/tmp/old
# after=.); ROOT@-fast takes build/fuzz-libfuzzer-fast and build/fuzz-afl-fast
# (the throughput builds without ASan/UBSan) instead. Every campaign starts from a fresh copy of this tree's committed
# corpus fuzz/corpus/TARGET (nothing is written into it) and runs S seconds
# (default 60) under `nice -n 10`; libFuzzer's figure is its
# stat::average_exec_per_sec, AFL++'s execs_per_sec of fuzzer_stats (both
# over the whole run, the corpus load included). Prints a markdown table
# (target, engine, then execs/s per LABEL) and /proc/loadavg before and
# after each campaign; "stopped" where a libFuzzer campaign ended on a
# finding (its artifact stays in the scratch directory, never in the tree).
# Exit 2 on bad arguments.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "fuzz-speed.sh: $*" >&2; exit 2; }
time=60
targets="fuzz_alloc fuzz_diff fuzz_oom fuzz_gc fuzz_frag fuzz_retention fuzz_trace fuzz_objscript"
roots=()
while [ $# -gt 0 ]; do
  case $1 in
    --time) time=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    *=*) roots+=("$1"); shift ;;
    *) usage "unknown argument '$1'" ;;
  esac
done
[ ${#roots[@]} -ge 1 ] || usage "give at least one LABEL=ROOT"
here=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A eps
export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:symbolize=0:detect_leaks=0}
for t in $targets; do
  for e in libfuzzer afl; do
    for lr in "${roots[@]}"; do
      label=${lr%%=*} root=${lr#*=} suffix=
      case $root in *@*) suffix=${root#*@} root=${root%%@*} ;; esac
      bin=$root/build/fuzz-$e$suffix/fuzz/$t
      [ -x "$bin" ] || { eps[$t,$e,$label]=-; continue; }
      rm -rf "$tmp/in" "$tmp/out" "$tmp/new"
      mkdir -p "$tmp/in" "$tmp/new"
      cp "$here/fuzz/corpus/$t"/* "$tmp/in/"
      echo "loadavg before $t $e $label: $(cat /proc/loadavg)" >&2
      if [ $e = libfuzzer ]; then
        rm -f "$tmp"/art-*
        ASAN_OPTIONS= nice -n 10 "$bin" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
          -artifact_prefix="$tmp/art-" -print_final_stats=1 "$tmp/new" "$tmp/in" >"$tmp/log" 2>&1 || true
        eps[$t,$e,$label]=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/log")
        # a crash or timeout stops the campaign: its rate is no speed
        if ls "$tmp"/art-* >/dev/null 2>&1; then
          eps[$t,$e,$label]=stopped
          echo "$t $e $label: stopped by a finding: $(grep -m1 -E 'ERROR|fuzz: ' "$tmp/log" || echo '?')" >&2
        fi
      else
        nice -n 10 afl-fuzz -i "$tmp/in" -o "$tmp/out" -m none -t 5000 -V "$time" -- "$bin" >"$tmp/log" 2>&1 || true
        eps[$t,$e,$label]=$(awk -F' *: *' '/^execs_per_sec/{printf "%d", $2}' "$tmp/out/default/fuzzer_stats" 2>/dev/null)
      fi
      echo "loadavg after  $t $e $label: $(cat /proc/loadavg) -> ${eps[$t,$e,$label]:-?} execs/s" >&2
    done
  done
done
printf '| target | engine |'; for lr in "${roots[@]}"; do printf ' %s execs/s |' "${lr%%=*}"; done; echo
printf '|---|---|'; for lr in "${roots[@]}"; do printf -- '---:|'; done; echo
for t in $targets; do
  for e in libfuzzer afl; do
    printf '| %s | %s |' "$t" "$e"
    for lr in "${roots[@]}"; do printf ' %s |' "${eps[$t,$e,${lr%%=*}]:--}"; done
    echo
  done
done
