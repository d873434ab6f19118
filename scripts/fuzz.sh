#!/usr/bin/env bash
# scripts/fuzz.sh TARGET [--engine libfuzzer|afl] [--backend SPEC] [--time S] [--jobs N] [--seeds]
#                        [--merge-into-tree]
#
# Builds the fuzz targets (preset fuzz-libfuzzer or fuzz-afl: build/fuzz-*),
# fuzzes TARGET (fuzz/README.md) for S seconds (default 600) on N cores
# (default 1) starting from its committed corpus fuzz/corpus/TARGET (and,
# with --seeds, from fresh fuzz/seeds.py output) with fuzz/dict/TARGET.dict
# where there is one, then minimises the new inputs and merges them into
# build/fuzz-ENGINE/work/TARGET/corpus (a copy of fuzz/corpus/TARGET plus
# what the run added; the tracked corpus is never written unless
# --merge-into-tree says so) and prints where crashes went. TARGET `all`
# runs every target in turn for S seconds each.
#
#   --merge-into-tree   merge into fuzz/corpus/TARGET itself (to commit).
#
#   --engine libfuzzer  (default) -fork=N for N > 1; new inputs merged back
#                       with -merge=1 -use_counters=0 (only inputs that reach
#                       new edges: the committed corpus stays small; the full
#                       corpus stays in the work directory for the next run).
#   --engine afl        AFL++ afl-fuzz, one -M instance and N-1 -S ones; the
#                       queues (which hold the corpus too) are minimised with
#                       afl-cmin -e (edges, no hit counts) and the inputs of
#                       the result not yet in the corpus are added.
#   --backend SPEC      fuzz_alloc, fuzz_oom, fuzz_frag, fuzz_retention: every
#                       input runs on SPEC (PM_FUZZ_BACKEND), e.g. buddy,
#                       debug:buddy,max=64K.
#
# fuzz_frag and fuzz_retention save each new worst case as a raw trace in
# build/fuzz-ENGINE/work/TARGET/worst/ (PM_FUZZ_WORST_DIR) and end with a
# table: the worst figure per backend next to Robson's bound.
#   --seeds             also start from fuzz/seeds.py's seeds.
#
# Work files: build/fuzz-ENGINE/work/TARGET/. Exit 0 if no crash was found,
# 1 if one was (paths printed), 2 on bad arguments (one line).
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(fuzz_alloc fuzz_diff fuzz_oom fuzz_trace fuzz_objscript fuzz_gc fuzz_frag fuzz_retention)
usage() { echo "fuzz.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || usage "a target is required: ${TARGETS[*]} or all"
target=$1
shift
engine=libfuzzer backend="" time=600 jobs=1 seeds=0 into_tree=0
while [ $# -gt 0 ]; do
  case $1 in
    --engine) [ $# -ge 2 ] || usage "--engine needs a value"; engine=$2; shift 2 ;;
    --backend) [ $# -ge 2 ] || usage "--backend needs a value"; backend=$2; shift 2 ;;
    --time) [ $# -ge 2 ] || usage "--time needs a value"; time=$2; shift 2 ;;
    --jobs) [ $# -ge 2 ] || usage "--jobs needs a value"; jobs=$2; shift 2 ;;
    --seeds) seeds=1; shift ;;
    --merge-into-tree) into_tree=1; shift ;;
    *) usage "unknown argument '$1' (TARGET [--engine libfuzzer|afl] [--backend B] [--time S] [--jobs N] [--seeds] [--merge-into-tree])" ;;
  esac
done
case $engine in libfuzzer|afl) ;; *) usage "--engine must be libfuzzer or afl, not '$engine'" ;; esac
[[ $time =~ ^[0-9]+$ ]] && [ "$time" -ge 1 ] || usage "--time must be a whole number of seconds >= 1, not '$time'"
[[ $jobs =~ ^[0-9]+$ ]] && [ "$jobs" -ge 1 ] && [ "$jobs" -le 64 ] || usage "--jobs must be 1..64, not '$jobs'"
if [ "$target" = all ]; then
  list=("${TARGETS[@]}")
else
  found=0
  for t in "${TARGETS[@]}"; do [ "$t" = "$target" ] && found=1; done
  [ $found = 1 ] || usage "unknown target '$target' (known: ${TARGETS[*]}, all)"
  list=("$target")
fi
if [ -n "$backend" ]; then
  for t in "${list[@]}"; do
    case $t in fuzz_alloc|fuzz_oom|fuzz_frag|fuzz_retention) ;;
      *) usage "--backend applies to fuzz_alloc, fuzz_oom, fuzz_frag and fuzz_retention, not $t" ;; esac
  done
  export PM_FUZZ_BACKEND=$backend
fi

preset=fuzz-$engine
build=build/$preset
echo "== build ($preset)"
scripts/build.sh "$preset"
if [ $seeds = 1 ]; then
  scripts/build.sh release   # seeds.py asks pymemlab for traces
  rm -rf "$build/work/seeds"
  python3 fuzz/seeds.py "$build/work/seeds" --pymemlab build/release/pymemlab
fi

# Sanitizer settings: crash on the first report, no leak check at exit in AFL
# (LeakSanitizer runs per input under libFuzzer).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

crashed=0

# Where new inputs are merged: the tracked corpus only when asked; else a
# fresh copy of it in the work directory (prints its path).
merge_dest() {
  local t=$1 work=$2
  if [ $into_tree = 1 ]; then
    echo "fuzz/corpus/$t"
  else
    rm -rf "$work/corpus"
    mkdir -p "$work/corpus"
    cp "fuzz/corpus/$t"/* "$work/corpus/" 2>/dev/null || true
    echo "$work/corpus"
  fi
}

# fuzz_frag / fuzz_retention: where worst cases go, and their table.
worst_setup() {
  case $1 in fuzz_frag|fuzz_retention) mkdir -p "$2/worst"; export PM_FUZZ_WORST_DIR=$PWD/$2/worst ;;
    *) unset PM_FUZZ_WORST_DIR ;; esac
}
worst_table() {
  local dir=$2/worst
  case $1 in fuzz_frag|fuzz_retention) ;; *) return 0 ;; esac
  echo "-- worst cases saved in $dir (replay: build/release/pymemlab replay FILE --backend SPEC --json)"
  printf '   %-36s %10s %12s %12s  %s\n' backend "${1#fuzz_}" "peak live" Robson file
  for f in "$dir"/*.pmt; do
    [ -f "$f" ] || continue
    grep -a -o 'fuzz\.[a-z_]*=[^[:cntrl:]]*' "$f" | tr '\n' ' '
    echo "file=$f"
  done | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); k = kv[1]; v = substr($i, length(k) + 2); m[k] = v }
                 b = m["fuzz.backend"]; if (!(b in best) || m["fuzz.value"] + 0 > best[b] + 0) {
                   best[b] = m["fuzz.value"]; live[b] = m["fuzz.peak_live"]; rob[b] = m["fuzz.robson_ratio"]; file[b] = m["file"] } }
           END { for (b in best) printf "   %-36s %10.4f %12d %12s  %s\n", b, best[b], live[b], rob[b], file[b] }' | sort
}

run_libfuzzer() {
  local t=$1 bin=$build/fuzz/$1 work=$build/work/$1
  mkdir -p "$work/new" "$work/crashes"
  local args=(-max_total_time="$time" -timeout=10 -rss_limit_mb=2048 -max_len=4096
              -artifact_prefix="$work/crashes/" -print_final_stats=1)
  [ -f "fuzz/dict/$t.dict" ] && args+=(-dict="fuzz/dict/$t.dict")
  [ "$jobs" -gt 1 ] && args+=(-fork="$jobs")
  local dirs=("$work/new" "fuzz/corpus/$t")
  [ $seeds = 1 ] && dirs+=("$build/work/seeds/$t")
  worst_setup "$t" "$work"
  echo "== $t: libFuzzer, ${time}s on $jobs core(s)${backend:+, backend $backend}; log $work/log"
  local before
  before=$(find "$work/crashes" -type f | wc -l)
  touch "$work/log.start"
  "$bin" "${args[@]}" "${dirs[@]}" >"$work/log" 2>&1 || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$work/log" || \
    grep -E '#[0-9]+ +DONE|cov:' "$work/log" | tail -1 || true
  local dest n0 n1
  dest=$(merge_dest "$t" "$work")
  echo "-- merging inputs with new edges into $dest (-merge=1 -use_counters=0)"
  n0=$(find "$dest" -type f | wc -l)
  local merge_from=("$work/new")
  [ $seeds = 1 ] && merge_from+=("$build/work/seeds/$t")
  "$bin" -merge=1 -use_counters=0 -rss_limit_mb=2048 -timeout=10 "$dest" "${merge_from[@]}" >"$work/merge.log" 2>&1 || \
    { echo "merge failed, see $work/merge.log" >&2; crashed=1; }
  n1=$(find "$dest" -type f | wc -l)
  echo "   $dest: $n0 -> $n1 inputs"
  if [ "$(find "$work/crashes" -type f | wc -l)" -gt "$before" ] || grep -qE '^==[0-9]+== ?ERROR|^SUMMARY: ' "$work/log"; then
    crashed=1
    echo "!! $t found a crash: see $work/log; inputs:"
    find "$work/crashes" -type f -newer "$work/log.start" | head -5 | sed 's/^/   /'
    echo "   reproduce: $bin FILE"
  fi
}

run_afl() {
  local t=$1 bin=$build/fuzz/$1 work=$build/work/$1
  rm -rf "$work/out" "$work/cmin" "$work/in"
  mkdir -p "$work/in"
  cp "fuzz/corpus/$t"/* "$work/in/" 2>/dev/null || true
  [ $seeds = 1 ] && cp "$build/work/seeds/$t"/* "$work/in/"
  [ "$(find "$work/in" -type f | wc -l)" -gt 0 ] || printf '\0' >"$work/in/empty"
  export AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
  export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:symbolize=0:detect_leaks=0}
  local args=(-i "$work/in" -o "$work/out" -m none -t 5000 -V "$time")
  [ -f "fuzz/dict/$t.dict" ] && args+=(-x "fuzz/dict/$t.dict")
  worst_setup "$t" "$work"
  echo "== $t: AFL++, ${time}s on $jobs core(s)${backend:+, backend $backend}; logs $work/out/*.log"
  mkdir -p "$work/out"
  local pids=()
  afl-fuzz "${args[@]}" -M main -- "$bin" >"$work/out/main.log" 2>&1 &
  pids+=($!)
  for ((i = 1; i < jobs; i++)); do
    afl-fuzz "${args[@]}" -S "s$i" -- "$bin" >"$work/out/s$i.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  for s in "$work/out"/*/fuzzer_stats; do
    [ -f "$s" ] || continue
    awk -F' *: *' '/^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|run_time)/{printf "   %s %s=%s", FILENAME ~ /main/ ? "main" : "sec", $1, $2} END{print ""}' "$s"
  done
  local dest
  dest=$(merge_dest "$t" "$work")
  echo "-- minimising the queues (afl-cmin) and adding new inputs to $dest"
  local q=("$work/out"/*/queue)
  mkdir -p "$work/allq"
  for d in "${q[@]}"; do cp "$d"/id:* "$work/allq/" 2>/dev/null || true; done
  if AFL_QUIET=1 afl-cmin -e -i "$work/allq" -o "$work/cmin" -m none -t 5000 -- "$bin" >"$work/cmin.log" 2>&1; then
    local n0 n1
    n0=$(find "$dest" -type f | wc -l)
    declare -A have=()
    for f in "$dest"/*; do [ -f "$f" ] && have[$(sha1sum <"$f" | cut -c1-40)]=1; done
    for f in "$work/cmin"/*; do
      h=$(sha1sum <"$f" | cut -c1-40)
      [ -n "${have[$h]:-}" ] || cp "$f" "$dest/$h"
    done
    n1=$(find "$dest" -type f | wc -l)
    echo "   $dest: $n0 -> $n1 inputs"
  else
    echo "afl-cmin failed, see $work/cmin.log" >&2
  fi
  rm -rf "$work/allq"
  local crashes
  crashes=$(find "$work/out" -path '*/crashes/id:*' -type f | wc -l)
  if [ "$crashes" -gt 0 ]; then
    crashed=1
    echo "!! $t: $crashes crash(es) in $work/out/*/crashes/:"
    find "$work/out" -path '*/crashes/id:*' -type f | head -5 | sed 's/^/   /'
    echo "   reproduce: $bin FILE"
  fi
}

for t in "${list[@]}"; do
  "run_$engine" "$t"
  worst_table "$t" "$build/work/$t"
done
[ $crashed = 0 ] && echo "== no crash found" || echo "== crashes found (see above)"
exit $crashed
