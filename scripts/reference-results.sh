#!/usr/bin/env bash
# scripts/reference-results.sh — refreshes results/, the committed reference
# run of the default suite: runs it (scripts/run.sh: bootstrap, build, run,
# plot) into a fresh folder, then copies into results/ what is worth
# committing: results.csv, results.jsonl, summary.md, provenance.json, the
# plots (PNG, SVG and their data), and the series of repetition 1 only,
# thinned to every 16th row (rows with a mark and the last row kept), which
# is what the memory-over-time plots draw. `pymemlab plot results` redraws
# the plots from these files.
#
#   scripts/reference-results.sh          (PM_SUITE etc. as for run.sh)
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
out=${PM_OUT:-out/reference-$(date -u +%Y%m%d-%H%M%S)}
PM_OUT=$out scripts/run.sh "$@"
rm -rf results.new
mkdir -p results.new/series
cp "$out"/results.csv "$out"/results.jsonl "$out"/summary.md "$out"/provenance.json results.new/
cp -r "$out"/plots results.new/plots
for f in "$out"/series/*__1.csv; do
  [ -e "$f" ] || continue
  awk -F, 'NR == 1 || (NF >= 5 && $5 != "") || (NR - 2) % 16 == 0 { print; last = NR; next }
           { held = $0; heldnr = NR }
           END { if (heldnr > last) print held }' "$f" >"results.new/series/$(basename "$f")"
done
# results/ also holds other suites' folders (validation/, fidelity/): only
# what this script writes is replaced
mkdir -p results
rm -rf results/series results/plots results/results.csv results/results.jsonl results/summary.md \
  results/provenance.json
mv results.new/* results/
rmdir results.new
build/release/pymemlab plot results >/dev/null
echo "results/ refreshed from $out ($(du -sh results | cut -f1))"
