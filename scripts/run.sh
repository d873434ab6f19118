#!/usr/bin/env bash
# scripts/run.sh — the main job: bootstrap, build (release), run a suite on
# every available backend with `pymemlab run` (docs/suites.md), then draw
# its plots with `pymemlab plot` and its page with `pymemlab report`. The
# results folder holds results.csv, results.jsonl, summary.md,
# provenance.json, series/, plots/, report.html.
#
#   scripts/run.sh                      the default suite (8 minutes on 2 quiet cores, 2026-12-07)
#   PM_SUITE=quick scripts/run.sh       about 75 s; PM_SUITE=full: opt-in, about an hour
#   PM_SUITE=path/to/my.suite scripts/run.sh
#   PM_OUT=res scripts/run.sh           results folder (default out/SUITE-DATE)
#   PM_BACKENDS=pymalloc,cpython scripts/run.sh   only these backends
#   PM_REPS=5 scripts/run.sh            repetitions (default: the suite's)
#   scripts/run.sh --resume --out res   other arguments go to `pymemlab run`
#   PM_RECORD=0 scripts/run.sh          do not record the real-Python traces: the
#                                       default and full suites replay
#                                       workloads/traces/python-*.pmt, recorded
#                                       here first by scripts/record-python.sh
#                                       when none is there (about 2 minutes on
#                                       2 cores), so a first run compares with
#                                       results/; PM_RECORD=1 records them again
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${PM_SUITE:-default}
record=${PM_RECORD:-auto}
case $record in
  auto) if [ "$suite" = default ] || [ "$suite" = full ]; then
          compgen -G 'workloads/traces/python-*.pmt' >/dev/null && record=0 || record=1
        else record=0; fi ;;
  0|1) ;;
  *) echo "run.sh: PM_RECORD must be auto, 0 or 1, not '$record'" >&2; exit 2 ;;
esac
scripts/bootstrap.sh run
scripts/build.sh release
bin=build/release/pymemlab
if [ "$record" = 1 ]; then
  echo "== recording the real-Python traces (scripts/record-python.sh; PM_RECORD=0 skips)"
  if command -v python3 >/dev/null; then
    scripts/record-python.sh >/dev/null
  else
    echo "== no python3 on PATH: the suite runs without the real-Python traces"
  fi
fi
out=${PM_OUT:-out/$(basename "$suite" .suite)-$(date -u +%Y%m%d-%H%M%S)}
args=(--suite "$suite")
[ -n "${PM_BACKENDS:-}" ] && args+=(--backends "$PM_BACKENDS")
[ -n "${PM_REPS:-}" ] && args+=(--reps "$PM_REPS")
# an --out among the extra arguments wins
for a in "$@"; do
  if [ "$a" = "--out" ]; then out=""; fi
done
[ -n "$out" ] && args+=(--out "$out")
"$bin" run "${args[@]}" "$@"
if [ -z "$out" ]; then   # the folder given with --out
  prev=""
  for a in "$@"; do
    if [ "$prev" = "--out" ]; then out=$a; fi
    prev=$a
  done
fi
"$bin" plot "$out"
"$bin" report "$out"
echo "results: $out (report.html, summary.md, results.csv, plots/)"
