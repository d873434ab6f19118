#!/usr/bin/env bash
# scripts/fuzz-cpu.sh [--rounds R] [--max N] [--repeat K] [--targets "T1 ..."] LABEL=ROOT[@SUFFIX]...
#
# CPU seconds per input of fuzz targets on fixed inputs, independent of the
# machine's load (as far as CPU time is): for each target, the first N
# (default 400) files of this tree's committed corpus fuzz/corpus/TARGET are
# copied to a scratch directory (nothing is written into the corpus) and
# run once each by ROOT/build/fuzz-libfuzzerSUFFIX/fuzz/TARGET (SUFFIX
# -fast: the throughput build without ASan/UBSan, preset fuzz-libfuzzer-fast;
# the libFuzzer binary given files runs each once; with --repeat K the list
# is given K times, so each runs K times, the later ones on a warm process,
# and the total is large against the 4 ms of CPU-time accounting), user + sys CPU seconds
# from /usr/bin/time; minus the CPU of the same binary given one empty
# input (start-up: ASan, the backend list, libpython for fuzz_diff),
# divided by the number of runs. R rounds (default 3), the LABELs
# alternating within a round. Prints a markdown table: target, inputs, then
# per LABEL the per-round microseconds per input and the implied executions
# per second per core (1 / the mean), and /proc/loadavg at the start and
# end. Exit 2 on bad arguments.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "fuzz-cpu.sh: $*" >&2; exit 2; }
rounds=3 max=400 repeat=1
targets="fuzz_alloc fuzz_oom fuzz_diff fuzz_gc fuzz_frag fuzz_retention fuzz_trace fuzz_objscript"
roots=()
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || usage "--rounds needs a positive integer"; rounds=$2; shift 2 ;;
    --max) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || usage "--max needs a positive integer"; max=$2; shift 2 ;;
    --repeat) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || usage "--repeat needs a positive integer"; repeat=$2; shift 2 ;;
    --targets) [ $# -ge 2 ] || usage "--targets needs a list"; targets=$2; shift 2 ;;
    *=*) roots+=("$1"); shift ;;
    *) usage "unknown argument '$1'" ;;
  esac
done
[ ${#roots[@]} -ge 1 ] || usage "give at least one LABEL=ROOT"
bin_of() {   # LABEL=ROOT[@SUFFIX] TARGET
  local rs=${1#*=} suffix=
  case $rs in *@*) suffix=${rs#*@} rs=${rs%%@*} ;; esac
  echo "$rs/build/fuzz-libfuzzer$suffix/fuzz/$2"
}
for lr in "${roots[@]}"; do
  for t in $targets; do
    [ -x "$(bin_of "$lr" "$t")" ] || usage "$(bin_of "$lr" "$t"): no such binary (build it first)"
  done
done
here=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:symbolize=0}
cpu() {   # BIN FILES... -> user+sys seconds
  local bin=$1; shift
  /usr/bin/time -f '%U %S' -o "$tmp/time" "$bin" "$@" >"$tmp/log" 2>&1 || {
    echo "fuzz-cpu.sh: $bin failed:" >&2; tail -5 "$tmp/log" >&2; exit 1; }
  awk '{printf "%.3f", $1 + $2}' "$tmp/time"
}
echo "loadavg at start: $(cat /proc/loadavg)" >&2
printf '| target | inputs |'; for lr in "${roots[@]}"; do printf ' %s µs/input (rounds) | %s execs/s/core |' "${lr%%=*}" "${lr%%=*}"; done; echo
printf '|---|---:|'; for lr in "${roots[@]}"; do printf -- '---|---:|'; done; echo
for t in $targets; do
  rm -rf "$tmp/in"; mkdir -p "$tmp/in"
  ls "$here/fuzz/corpus/$t" | head -n "$max" | while read -r f; do cp "$here/fuzz/corpus/$t/$f" "$tmp/in/"; done
  : >"$tmp/empty"
  one=("$tmp"/in/*)
  files=()
  for k in $(seq "$repeat"); do files+=("${one[@]}"); done
  n=${#files[@]}
  declare -A per=()
  for r in $(seq "$rounds"); do
    for lr in "${roots[@]}"; do
      bin=$(bin_of "$lr" "$t")
      base=$(cpu "$bin" "$tmp/empty")
      all=$(cpu "$bin" "${files[@]}")
      per[${lr%%=*}]+=" $(awk -v a="$all" -v b="$base" -v n="$n" 'BEGIN {printf "%.0f", (a - b) / n * 1e6}')"
    done
  done
  printf '| %s | %d |' "$t" "${#one[@]}"
  for lr in "${roots[@]}"; do
    v=${per[${lr%%=*}]}
    eps=$(echo "$v" | awk '{s = 0; for (i = 1; i <= NF; i++) s += $i; m = s / NF; printf "%.0f", (m > 0 ? 1e6 / m : 0)}')
    printf ' %s |  %s |' "$(echo $v | sed 's/ /, /g')" "$eps"
  done
  echo
  unset per
done
echo "loadavg at end: $(cat /proc/loadavg)" >&2
