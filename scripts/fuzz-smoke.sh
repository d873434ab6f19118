#!/usr/bin/env bash
# scripts/fuzz-smoke.sh [SECONDS] — CI's bounded fuzzing run (fuzz/README.md).
# Builds the libFuzzer targets (preset fuzz-libfuzzer), runs each one from
# its committed corpus fuzz/corpus/TARGET for SECONDS (default and maximum
# 10; less when there are many targets, so the runs stay within 90 s in
# all), new inputs going to a temporary directory (the corpus is not
# changed). Prints one line per target; on a crash prints the end of the
# fuzzer's log and the input that crashed, copied to
# build/fuzz-smoke/crash-TARGET-*, and exits 1 once every target has run.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
[[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -ge 1 ] || { echo "fuzz-smoke.sh: SECONDS must be a whole number >= 1, not '$secs'" >&2; exit 2; }
[ "$secs" -le 10 ] || secs=10
scripts/build.sh fuzz-libfuzzer
bins=()
for b in build/fuzz-libfuzzer/fuzz/fuzz_*; do
  [ -f "$b" ] && [ -x "$b" ] && bins+=("$b")
done
[ ${#bins[@]} -gt 0 ] || { echo "fuzz-smoke.sh: no fuzz target was built" >&2; exit 1; }
[ $((secs * ${#bins[@]})) -le 90 ] || secs=$((90 / ${#bins[@]}))
[ "$secs" -ge 1 ] || secs=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p build/fuzz-smoke
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
fail=0
for bin in "${bins[@]}"; do
  t=$(basename "$bin")
  mkdir -p "$work/$t/new" "fuzz/corpus/$t"
  # A fixed seed (PM_FUZZ_SEED, default 1): CI explores the same way every
  # time, so a red CI names a reproducible input, not a lucky one; campaigns
  # (scripts/fuzz.sh) use random seeds.
  args=(-seed="${PM_FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -artifact_prefix="$work/$t/")
  [ -f "fuzz/dict/$t.dict" ] && args+=(-dict="fuzz/dict/$t.dict")
  if "$bin" "${args[@]}" "$work/$t/new" "fuzz/corpus/$t" >"$work/$t.log" 2>&1; then
    echo "fuzz-smoke: $t: ok, $(grep -oE '#[0-9]+' "$work/$t.log" | tail -1 | tr -d '#') runs in ${secs}s"
  else
    fail=1
    echo "fuzz-smoke: $t: CRASH"
    tail -n 40 "$work/$t.log" | sed 's/^/    /'
    for a in "$work/$t"/crash-* "$work/$t"/leak-* "$work/$t"/timeout-* "$work/$t"/oom-*; do
      [ -f "$a" ] || continue
      cp "$a" "build/fuzz-smoke/$(basename "$a" | sed "s/^\([a-z]*\)-/\1-$t-/")"
      echo "    input: build/fuzz-smoke/$(basename "$a" | sed "s/^\([a-z]*\)-/\1-$t-/") (reproduce: $bin FILE)"
    done
  fi
done
exit $fail
