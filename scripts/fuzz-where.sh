#!/usr/bin/env bash
# scripts/fuzz-where.sh [--repeat K] [--max N] TARGET...
#
# Where a fuzz target's time goes on fixed inputs: perf records (call
# graphs) the throughput build build/fuzz-libfuzzer-fast/fuzz/TARGET (preset
# fuzz-libfuzzer-fast; built first if missing) running the first N (default
# 400) files of fuzz/corpus/TARGET K times each (default 20; copied to a
# scratch directory, nothing is written into the corpus), and
# scripts/fuzz-where.py splits the samples inside LLVMFuzzerTestOneInput
# into check(), the content oracle, create, destroy, fuzz_gc's shadow, the
# backend calls and the rest. Shares of samples, not times: run
# scripts/fuzz-cpu.sh for CPU per input. Needs perf. Exit 2 on bad
# arguments.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "fuzz-where.sh: $*" >&2; exit 2; }
repeat=20 max=400 targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --repeat) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || usage "--repeat needs a positive integer"; repeat=$2; shift 2 ;;
    --max) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || usage "--max needs a positive integer"; max=$2; shift 2 ;;
    -*) usage "unknown option '$1'" ;;
    *) [ -d "fuzz/corpus/$1" ] || usage "no corpus fuzz/corpus/$1 (not a fuzz target)"; targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -ge 1 ] || usage "name at least one target (e.g. fuzz_alloc)"
command -v perf >/dev/null || usage "perf is not installed"
for t in "${targets[@]}"; do
  [ -x "build/fuzz-libfuzzer-fast/fuzz/$t" ] || { scripts/build.sh fuzz-libfuzzer-fast; break; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in "${targets[@]}"; do
  rm -rf "$tmp/in"; mkdir "$tmp/in"
  ls "fuzz/corpus/$t" | head -n "$max" | while read -r f; do cp "fuzz/corpus/$t/$f" "$tmp/in/"; done
  one=("$tmp"/in/*) files=()
  for k in $(seq "$repeat"); do files+=("${one[@]}"); done
  perf record -q -g -o "$tmp/perf.data" "build/fuzz-libfuzzer-fast/fuzz/$t" "${files[@]}" >"$tmp/log" 2>&1 ||
    { echo "fuzz-where.sh: $t failed:" >&2; tail -5 "$tmp/log" >&2; exit 1; }
  echo "== $t (${#one[@]} inputs x $repeat)"
  perf script -i "$tmp/perf.data" -F ip,sym 2>/dev/null | python3 scripts/fuzz-where.py
done
