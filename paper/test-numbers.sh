#!/usr/bin/env bash
# paper/test-numbers.sh SRC — the ctest paper_numbers (no LaTeX needed):
# the paper's numbers are generated from the committed results and the text
# cites no other. Checks that
#   1. scripts/lib/paper_numbers.py gen reads the committed results/ and the
#      checker passes paper/*.tex as committed;
#   2. the checker fails (exit 1, FILE:LINE and the number) on a number typed
#      into the text by hand, in a sentence, a caption and \code{}, and on a
#      \pmn key that does not exist;
#   3. a results change changes the generated number;
#   4. the generator refuses results whose summary disagrees with
#      results.csv, a gcbench table whose median or known answer disagrees
#      with its runs.jsonl, a missing results file and a bad allow list: one line,
#      exit 2, the earlier output left as it was.
set -uo pipefail
SRC=${1:-${PM_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}}
PN=(python3 "$SRC/scripts/lib/paper_numbers.py")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# 1. the committed results and text
"${PN[@]}" gen --root "$SRC" --out "$tmp/numbers.tex" 2>"$tmp/err" || fail "gen on the committed results: $(cat "$tmp/err")"
grep -q '^\\pmdef{geo.pymalloc}{' "$tmp/numbers.tex" || fail "numbers.tex has no geo.pymalloc"
grep -q '^\\pmdef{tab.jw}{' "$tmp/numbers.tex" || fail "numbers.tex has no J&W table"
"${PN[@]}" check "$SRC"/paper/*.tex --numbers "$tmp/numbers.tex" --allow "$SRC/paper/allowed-numbers.txt" >"$tmp/out" 2>&1 ||
  fail "check on the committed paper: $(cat "$tmp/out")"

# 2. planted hand-typed numbers and a bad key
plant() {  # plant NAME TEXT EXPECTED-IN-OUTPUT
  mkdir -p "$tmp/$1"
  awk -v t="$2" '{print} /^\\section\{Results\}/ {print t}' "$SRC/paper/pymemlab.tex" >"$tmp/$1/pymemlab.tex"
  grep -qF -- "$2" "$tmp/$1/pymemlab.tex" || { fail "$1: could not plant"; return; }
  line=$(grep -nF -- "$2" "$tmp/$1/pymemlab.tex" | head -1 | cut -d: -f1)
  "${PN[@]}" check "$tmp/$1/pymemlab.tex" --numbers "$tmp/numbers.tex" --allow "$SRC/paper/allowed-numbers.txt" >"$tmp/out" 2>&1
  rc=$?
  [ $rc = 1 ] || fail "$1: checker exit $rc, not 1: $(cat "$tmp/out")"
  grep -qF "pymemlab.tex:$line: $3" "$tmp/out" || fail "$1: checker did not name line $line and '$3': $(cat "$tmp/out")"
}
plant sentence 'The model is 1.37 times faster than obmalloc.' "hand-typed number '1.37'"
plant caption '\caption{Peak footprint at load 3.2 on two CPUs}' "hand-typed number '3.2'"
plant code 'measured at commit \code{abc1234}.' "hand-typed number '1234'"
plant percent 'within 7\% of the native peak.' "hand-typed number '7'"
plant key 'a ratio of \pmn{geo.nosuch}.' '\pmn{geo.nosuch}: no such number'

# 3. a results change rebuilds the number
mkdir -p "$tmp/root"
cp -r "$SRC/results" "$tmp/root/results"
mkdir -p "$tmp/root/docs"
cp "$SRC/docs/speed-vs-obmalloc.md" "$SRC/docs/worst-cases.md" "$tmp/root/docs/"
awk '$7 == "pymalloc" && $1 !~ /^#/ {$2 = 1.234567} {print}' "$SRC/results/plots/data/geomean.dat" >"$tmp/root/results/plots/data/geomean.dat"
"${PN[@]}" gen --root "$tmp/root" --out "$tmp/changed.tex" 2>"$tmp/err" || fail "gen on changed results: $(cat "$tmp/err")"
grep -qx '\\pmdef{geo.pymalloc}{1.23}' "$tmp/changed.tex" || fail "a changed geomean.dat did not change geo.pymalloc: $(grep 'geo.pymalloc}' "$tmp/changed.tex")"
grep -qx '\\pmdef{geo.pymalloc}{1.23}' "$tmp/numbers.tex" && fail "the committed results give geo.pymalloc 1.23 too: the change test proves nothing"

# 4. bad input: one line, exit 2, the earlier output untouched
expect_bad() {  # expect_bad NAME EXPECTED-MESSAGE CMD...
  local name=$1 msg=$2; shift 2
  cp "$tmp/numbers.tex" "$tmp/out.tex"
  "$@" >"$tmp/out" 2>&1
  rc=$?
  [ $rc = 2 ] || fail "$name: exit $rc, not 2: $(cat "$tmp/out")"
  [ "$(wc -l <"$tmp/out")" = 1 ] || fail "$name: not one line: $(cat "$tmp/out")"
  grep -qF -- "$msg" "$tmp/out" || fail "$name: message lacks '$msg': $(cat "$tmp/out")"
  cmp -s "$tmp/numbers.tex" "$tmp/out.tex" || fail "$name: the earlier output was changed"
}
cp "$SRC/results/summary.md" "$tmp/summary.orig"
sed -i 's/^| python-json_roundtrip | pymalloc | 6\/6 | [0-9.]* \[/| python-json_roundtrip | pymalloc | 6\/6 | 71.6 [/' "$tmp/root/results/summary.md"
grep -q '^| python-json_roundtrip | pymalloc | 6/6 | 71.6 \[' "$tmp/root/results/summary.md" || fail "could not plant a wrong median"
expect_bad median "python-json_roundtrip on pymalloc: ns/op median 71.6 but results.csv" "${PN[@]}" gen --root "$tmp/root" --out "$tmp/out.tex"
cp "$tmp/summary.orig" "$tmp/root/results/summary.md"
rm "$tmp/root/results/gc/table.md"
expect_bad missing "results/gc/table.md: missing" "${PN[@]}" gen --root "$tmp/root" --out "$tmp/out.tex"
cp "$SRC/results/gc/table.md" "$tmp/root/results/gc/table.md"
# the collection against CPython's (results/gc/vs-cpython): the known answer
# and the table's medians are checked against runs.jsonl
V=$tmp/root/results/gc/vs-cpython
cp "$V/runs.jsonl" "$tmp/runs.orig"
sed -i '1s/"collected": [0-9]*/"collected": 7/' "$V/runs.jsonl"
expect_bad gcb-known "collected 7, the graph's known answer is" "${PN[@]}" gen --root "$tmp/root" --out "$tmp/out.tex"
cp "$tmp/runs.orig" "$V/runs.jsonl"
cp "$V/table.md" "$tmp/gcb.orig"
sed -i 's/^| gen311 | [0-9.e+]* \[/| gen311 | 99999 [/' "$V/table.md"
grep -q '^| gen311 | 99999 \[' "$V/table.md" || fail "could not plant a wrong gcbench median"
expect_bad gcb-median "gen311: ns per tracked object median 99999 but" "${PN[@]}" gen --root "$tmp/root" --out "$tmp/out.tex"
cp "$tmp/gcb.orig" "$V/table.md"
# a validation error whose sign or size is not (predicted - native) / native
cp "$tmp/root/results/validation/table.csv" "$tmp/valcsv.orig"
awk -F, -v OFS=, 'NR == 2 {$5 = -$5 - 1} {print}' "$tmp/valcsv.orig" >"$tmp/root/results/validation/table.csv"
expect_bad val-sign "is not (predicted - native) / native" "${PN[@]}" gen --root "$tmp/root" --out "$tmp/out.tex"
cp "$tmp/valcsv.orig" "$tmp/root/results/validation/table.csv"
rm "$V/table.md"
expect_bad gcb-missing "results/gc/vs-cpython/table.md: missing" "${PN[@]}" gen --root "$tmp/root" --out "$tmp/out.tex"
cp "$tmp/gcb.orig" "$V/table.md"
printf '3.11\n' >"$tmp/allow.txt"
expect_bad allow "allow.txt:1: an allowed phrase needs its reason" \
  "${PN[@]}" check "$SRC/paper/pymemlab.tex" --numbers "$tmp/numbers.tex" --allow "$tmp/allow.txt"
expect_bad outdir "its folder" "${PN[@]}" gen --root "$SRC" --out "$tmp/nonexistent/numbers.tex"

[ $fails = 0 ] || { echo "paper_numbers: $fails failure(s)" >&2; exit 1; }
echo "paper_numbers: ok (generated from results/, planted numbers caught, changes followed, bad input refused)"
