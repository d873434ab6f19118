#!/usr/bin/env bash
# scripts/worst-search.sh — one worst-case search campaign (docs/worst-cases.md,
# "What the fuzzers can reach"): libFuzzer's fuzz_frag or fuzz_retention on one
# backend, from a scratch corpus dir (new units go there, never into the tree)
# and the committed corpus, until a CPU-time budget is spent or the figure
# reaches a target. Every 10 s it logs CPU seconds (the fuzzer's utime +
# stime), the best figure saved so far and the load average to OUT/progress;
# /usr/bin/time -v writes OUT/time.txt at the end.
#
#   scripts/worst-search.sh TARGET BACKEND CPU_SECONDS TARGET_FIGURE OUT [BUILD]
#
# TARGET fuzz_frag|fuzz_retention; BUILD the build dir holding fuzz/TARGET
# (default build/fuzz-noasan: the fuzz-libfuzzer preset with
# -DPM_FUZZ_SANITIZE=OFF). OUT must not exist. Runs under nice -n 10.
# PM_WORST_RESUME=DIR: continue an earlier campaign, whose OUT was DIR: its
# corpus is read after the new scratch dir (the CPU seconds of the two runs
# add up; OUT/progress counts this run's only).
set -u
die() { echo "worst-search.sh: $*" >&2; exit 2; }
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit 0
fi
[ $# -ge 5 ] || die "usage: TARGET BACKEND CPU_SECONDS TARGET_FIGURE OUT [BUILD]"
target=$1 backend=$2 budget=$3 goal=$4 out=$5
root=$(cd "$(dirname "$0")/.." && pwd)
build=${6:-$root/build/fuzz-noasan}
case $target in fuzz_frag|fuzz_retention) ;; *) die "TARGET '$target': not fuzz_frag or fuzz_retention" ;; esac
[[ $budget =~ ^[0-9]+$ ]] || die "CPU_SECONDS '$budget': not a whole number"
[[ $goal =~ ^[0-9]+([.][0-9]+)?$ ]] || die "TARGET_FIGURE '$goal': not a number"
bin=$build/fuzz/$target
[ -x "$bin" ] || die "$bin: no such fuzzer (cmake --preset fuzz-libfuzzer -B build/fuzz-noasan -DPM_FUZZ_SANITIZE=OFF)"
[ -e "$out" ] && die "$out: exists (give a new directory)"
resume=()
if [ -n "${PM_WORST_RESUME:-}" ]; then
  [ -d "$PM_WORST_RESUME/corpus" ] || die "PM_WORST_RESUME=$PM_WORST_RESUME: no corpus dir there"
  resume=("$PM_WORST_RESUME/corpus")
fi
mkdir -p "$out/corpus" "$out/worst" || die "$out: cannot create"
metric=${target#fuzz_}
tck=$(getconf CLK_TCK)
PM_FUZZ_WORST_DIR=$out/worst PM_FUZZ_BACKEND=$backend \
  /usr/bin/time -v -o "$out/time.txt" nice -n 10 "$bin" "$out/corpus" "${resume[@]}" "$root/fuzz/corpus/$target" \
  -max_len=1024 -len_control=0 -timeout=120 -rss_limit_mb=4096 \
  -dict="$root/fuzz/dict/$target.dict" -print_final_stats=1 >"$out/log" 2>&1 &
tpid=$!
sleep 2
fpid=$(pgrep -P "$tpid" | head -1)
[ -n "$fpid" ] || die "the fuzzer did not start (see $out/log)"
start=$(date +%s)
best() { ls "$out/worst" | sed -n "s/^$metric-.*-\([0-9.]*\)\.pmt$/\1/p" | sort -g | tail -1; }
while kill -0 "$fpid" 2>/dev/null; do
  read -r -a f < "/proc/$fpid/stat" || break
  cpu=$(( (f[13] + f[14]) / tck ))
  b=$(best); b=${b:-0}
  echo "$(( $(date +%s) - start )) $cpu $b $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/progress"
  if [ "$cpu" -ge "$budget" ] || awk -v b="$b" -v g="$goal" 'BEGIN{exit !(b >= g)}'; then
    kill -INT "$fpid"
    break
  fi
  sleep 10
done
wait "$tpid"
echo "done: best $(best) after $(tail -1 "$out/progress" | cut -d' ' -f2) CPU s; $(grep -E 'number_of_executed_units' "$out/log")"
