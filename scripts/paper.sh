#!/usr/bin/env bash
# scripts/paper.sh — builds paper/pymemlab.pdf from the committed results:
# results/ (the default suite, validation/, fidelity/, gc/) and the two
# measured tables kept in docs/ (speed-vs-obmalloc.md, worst-cases.md).
#   1. paper/build/numbers.tex: every number and table the text cites,
#      written by scripts/lib/paper_numbers.py gen (which also checks the
#      summary's medians against results.csv), then the checker: a \pmn key
#      that does not exist, or a number typed into paper/*.tex by hand
#      (outside paper/allowed-numbers.txt), stops the build (exit 1);
#   2. the figures, vector PDF, drawn by the same gnuplot scripts as
#      `pymemlab plot` (scripts/plots/*.gp with PAPER_TERM set): pymemlab
#      plot on a copy of results/, gc.gp on results/gc/plots, validation.gp;
#   3. pdflatex (three passes) in paper/build, the PDF copied to
#      paper/pymemlab.pdf, and every page rendered to
#      paper/build/pages/page-N.png (pdftoppm) to look at.
#
#   scripts/paper.sh                 the PDF from the committed results
#   scripts/paper.sh --check         step 1 only (no LaTeX needed; the ctest
#                                    paper_numbers does this and more)
#   scripts/paper.sh --rerun[=LIST]  first remake results: LIST of suite
#                                    (scripts/reference-results.sh, the default),
#                                    validation (scripts/validate.sh), gc
#                                    (scripts/gc-compare.sh, then scripts/gcbench.sh
#                                    into results/gc/vs-cpython), fidelity
#                                    (scripts/fidelity.sh), speed
#                                    (scripts/speed-vs-obmalloc.sh, all versions)
#   --no-bootstrap                   do not call scripts/bootstrap.sh paper
#                                    (which installs LaTeX and poppler-utils)
# Environment: PYMEMLAB (default build/release/pymemlab, built if missing).
# Bad arguments: one line, exit 2, before anything runs.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=0 boot=1 rerun=""
for a in "$@"; do
  case "$a" in
    --check) check_only=1 ;;
    --no-bootstrap) boot=0 ;;
    --rerun) rerun=suite ;;
    --rerun=*)
      rerun=${a#--rerun=}
      for r in ${rerun//,/ }; do
        case "$r" in suite|validation|gc|fidelity|speed) ;;
          *) echo "paper.sh: --rerun: unknown part '$r' (suite, validation, gc, fidelity, speed)" >&2; exit 2 ;;
        esac
      done ;;
    *) echo "paper.sh: unknown argument '$a' (see scripts/paper.sh --help)" >&2; exit 2 ;;
  esac
done
if [ $check_only = 1 ] && [ -n "$rerun" ]; then
  echo "paper.sh: --check and --rerun together: --check reads the committed results only" >&2; exit 2
fi

B=paper/build
mkdir -p "$B"
numbers() {
  python3 scripts/lib/paper_numbers.py gen --root . --out "$B/numbers.tex"
  python3 scripts/lib/paper_numbers.py check paper/*.tex --numbers "$B/numbers.tex" --allow paper/allowed-numbers.txt
}
if [ $check_only = 1 ]; then
  numbers
  exit 0
fi

[ $boot = 0 ] || scripts/bootstrap.sh paper
for t in pdflatex pdftoppm gnuplot python3; do
  command -v "$t" >/dev/null || { echo "paper.sh: $t not found (scripts/bootstrap.sh paper installs it)" >&2; exit 2; }
done

P=${PYMEMLAB:-build/release/pymemlab}
if [ ! -x "$P" ]; then
  echo "== build (release): $P is missing"
  scripts/build.sh release
fi

for r in ${rerun//,/ }; do
  echo "== rerun: $r"
  case "$r" in
    suite) scripts/reference-results.sh ;;
    validation) scripts/validate.sh ;;
    gc) scripts/gc-compare.sh --reps 6 && scripts/gcbench.sh ;;
    fidelity) scripts/fidelity.sh --out results/fidelity ;;
    speed) scripts/speed-vs-obmalloc.sh --out docs/speed-vs-obmalloc.md ;;
  esac
done

echo "== numbers"
numbers

echo "== figures (vector, scripts/plots/*.gp with PAPER_TERM)"
F=$B/fig
rm -rf "$F" "$B/results"
mkdir -p "$F" "$B/results"
# the terminal: W and H are the figure's pixel size in the scripts
term="set terminal pdfcairo size W/110.0,H/110.0 font 'Sans,11' fontscale 0.8 linewidth 1.2 noenhanced"
cat >"$B/gnuplot-pdf" <<EOF
#!/bin/sh
exec $(command -v gnuplot) -e "PAPER_TERM=\"$term\"" "\$@"
EOF
chmod +x "$B/gnuplot-pdf"
# pymemlab plot draws from results.jsonl and the series: a copy, so that
# results/plots is left as committed
cp -r results/results.csv results/results.jsonl results/provenance.json results/summary.md results/series "$B/results/"
PYMEMLAB_GNUPLOT="$PWD/$B/gnuplot-pdf" "$P" plot "$B/results" --scripts "$PWD/scripts/plots" >"$B/plot.log" 2>&1 ||
  { cat "$B/plot.log" >&2; echo "paper.sh: pymemlab plot failed" >&2; exit 1; }
for f in "$B"/results/plots/*.png; do
  n=$(basename "$f" .png)
  mv "$f" "$F/$n.pdf"
done
mkdir -p "$B/gc"
cp -r results/gc/plots "$B/gc/"
"$B/gnuplot-pdf" -e "dir='$B/gc'" scripts/plots/gc.gp
mv "$B/gc/gc-pauses.png" "$F/gc-pauses.pdf"
mv "$B/gc/gc-held.png" "$F/gc-held.pdf"
mkdir -p "$B/validation"
cp results/validation/points.dat results/validation/allocators.txt results/validation/offscale.txt results/validation/env.txt "$B/validation/"
"$B/gnuplot-pdf" -e "dir='$B/validation'" scripts/plots/validation.gp
mv "$B/validation/predicted-vs-native.png" "$F/predicted-vs-native.pdf"
for f in "$F"/*.pdf; do
  head -c 5 "$f" | grep -q '%PDF-' || { echo "paper.sh: $f is not a PDF (gnuplot's PAPER_TERM not honoured?)" >&2; exit 1; }
done

echo "== LaTeX"
cp paper/*.tex "$B/"
(
  cd "$B"
  for pass in 1 2 3; do
    pdflatex -interaction=nonstopmode -halt-on-error pymemlab.tex >pdflatex.log 2>&1 ||
      { tail -30 pdflatex.log >&2; echo "paper.sh: pdflatex failed (pass $pass): $B/pdflatex.log" >&2; exit 1; }
  done
  if grep -E '^(LaTeX|Package) .*Warning: (Reference|Citation|There were undefined)' pdflatex.log >&2; then
    echo "paper.sh: undefined references ($B/pdflatex.log)" >&2; exit 1
  fi
)
cp "$B/pymemlab.pdf" paper/pymemlab.pdf
rm -rf "$B/pages"
mkdir -p "$B/pages"
pdftoppm -r 80 -png paper/pymemlab.pdf "$B/pages/page"
pages=$(pdfinfo paper/pymemlab.pdf 2>/dev/null | awk '/^Pages:/ {print $2}')
overfull=$(grep -c '^Overfull' "$B/pdflatex.log" || true)
echo "paper.sh: paper/pymemlab.pdf, ${pages:-?} pages ($overfull overfull boxes); pages as PNG in $B/pages/"
