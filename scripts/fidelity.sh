#!/usr/bin/env bash
# scripts/fidelity.sh — CPython's own pymalloc report against the model's,
# per CPython version, on real programs (docs/cpython-versions.md, Fidelity).
#
#   scripts/fidelity.sh [--out DIR] [--versions "3.8 3.10 ..."] [--placements "aligned unaligned os"]
#
# For every pyenv CPython of the versions (default 3.8 .. 3.13) and every
# program in scripts/fidelity/*.py (run by scripts/fidelity/run.py, which
# marks the trace at the end with CPython's report printed at that op):
# records it with `pymemlab trace record` (PYTHONHASHSEED=0), with CPython's
# arenas placed by PM_RECORD_ARENA_PLACEMENT=P (P = os: where the kernel
# puts them), replays it through `pymemlab debugstats --backend
# pymalloc,preset=V,placement=P --at-phase 1`, and compares the two
# reports. Writes DIR/V.md (a table per version: arenas, pools and blocks in
# use, native against model, per program and placement, and whether the
# reports are byte-identical), DIR/diffs/V-PROGRAM-P.diff for any that are
# not, DIR/reports/ (both reports), and DIR/summary.md. Default DIR:
# results/fidelity. A version that is not installed is skipped, saying so.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/fidelity
versions="3.8 3.9 3.10 3.11 3.12 3.13"
placements="aligned unaligned os"
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --versions) versions=$2; shift 2 ;;
    --placements) placements=$2; shift 2 ;;
    *) echo "fidelity.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
bin=${PYMEMLAB:-build/release/pymemlab}
[ -x "$bin" ] || { echo "fidelity.sh: $bin missing: scripts/build.sh release" >&2; exit 2; }
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
mkdir -p "$out/diffs" "$out/reports"
rm -f "$out"/diffs/*.diff
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PYTHONPATH="$PWD/scripts" PYTHONHASHSEED=0
unset PYTHONMALLOC PYTHONDEVMODE

# "arenas pools blocks" of a report: arenas allocated current, sums of the rows
totals() {
  awk '/^ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+$/ {p += $3; b += $4}
       /^# arenas allocated current/ {gsub(/[^0-9]/, "", $0); a = $0}
       END {printf "%s %d %d\n", a, p, b}' "$1"
}

summary="$out/summary.md"
{
  echo "# Fidelity: CPython's report against the model's"
  echo
  echo "\`scripts/fidelity.sh\`, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD), load average $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Placement P: CPython's arenas placed by \`PM_RECORD_ARENA_PLACEMENT=P\` and the model's by \`placement=P\`; \`os\`: both where the kernel puts them."
  echo
  echo "| version | programs | placement | byte-identical | arenas native / model (sum) |"
  echo "| --- | ---: | --- | ---: | --- |"
} >"$summary"

for v in $versions; do
  py=$(ls -d "$root"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$py" ]; then
    echo "fidelity: $v skipped: no pyenv python$v under $root" >&2
    echo "| $v | - | - | skipped: not installed | |" >>"$summary"
    continue
  fi
  full=$("$py" -c 'import platform; print(platform.python_version())')
  tab="$out/$v.md"
  {
    echo "# CPython $full ($py)"
    echo
    echo "| program | placement | ops | arenas native | arenas model | pools native | pools model | blocks in use native | blocks in use model | identical |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  } >"$tab"
  for pl in $placements; do
    case "$v:$pl" in 3.8:unaligned|3.9:unaligned) continue ;; esac   # 4 KiB pools: always aligned
    same=0 n=0 an=0 am=0
    for prog in scripts/fidelity/*.py; do
      name=$(basename "$prog" .py)
      [ "$name" = run ] && continue
      t="$tmp/$name.pmt"
      rm -f "$t" "$t.tmp"
      envp=()
      [ "$pl" != os ] && envp=(PM_RECORD_ARENA_PLACEMENT="$pl")
      if ! env "${envp[@]}" "$bin" trace record -o "$t" -- "$py" scripts/fidelity/run.py "$prog" \
           >"$tmp/out" 2>"$tmp/err"; then
        echo "fidelity: $v $name: recording failed: $(tail -2 "$tmp/err")" >&2
        echo "| $name | $pl | failed | | | | | | | |" >>"$tab"
        continue
      fi
      native="$out/reports/$v-$name-$pl.cpython.txt" model="$out/reports/$v-$name-$pl.model.txt"
      awk '/^Small block threshold/{n++} /^trace record: /{stop=1} n == 1 && !stop' "$tmp/err" >"$native"
      "$bin" debugstats --backend "pymalloc,preset=$v,placement=$pl" "$t" --at-phase 1 >"$model"
      ops=$("$bin" trace info "$t" | awk '$1 == "ops" {print $2}')
      read -r a1 p1 b1 <<<"$(totals "$native")"
      read -r a2 p2 b2 <<<"$(totals "$model")"
      if diff "$native" "$model" >"$out/diffs/$v-$name-$pl.diff"; then
        rm -f "$out/diffs/$v-$name-$pl.diff"; ident=yes; same=$((same + 1))
      else
        ident="no ([diff](diffs/$v-$name-$pl.diff))"
      fi
      n=$((n + 1)) an=$((an + a1)) am=$((am + a2))
      echo "| $name | $pl | $ops | $a1 | $a2 | $p1 | $p2 | $b1 | $b2 | $ident |" >>"$tab"
      echo "fidelity: $v $name $pl: arenas $a1/$a2 pools $p1/$p2 blocks $b1/$b2 identical $ident" >&2
    done
    echo "| $v ($full) | $n | $pl | $same of $n | $an / $am |" >>"$summary"
  done
done
echo "fidelity: wrote $summary" >&2
