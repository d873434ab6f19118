#!/usr/bin/env bash
# scripts/speed-vs-obmalloc.sh — is the pymalloc model as fast as the real
# obmalloc it models? For every CPython version available here (a pyenv
# python V and the `cpython,version=V` backend) and every recorded real
# program of the fidelity set (scripts/fidelity/*.py, recorded on python V)
# and the validation set (scripts/lib/validation-programs.bash, recorded on
# Debian's python3 3.11; `sort` is not a Python program and is left out),
# replays the trace on `pymalloc,preset=V` and on `cpython,version=V` in
# each timing mode (cold, warm) and domain (--domain pymalloc: what
# CPython's PyObject_/PyMem_ allocator sees; all: raw requests too), in
# ROUNDS interleaved rounds of REPS fresh-process reps each (round r times
# every backend of a trace before round r+1). Per trace: the speed-up
# obmalloc ns/op / model ns/op (above 1 = the model is faster) with a
# bootstrap 95% interval (2000 resamples of the reps, fixed seed, as
# `pymemlab table`), and a verdict: faster / slower when the two ns/op
# intervals (distribution-free, of the median) do not overlap, else "not
# distinguishable". Per mode and domain: the geometric mean of the
# speed-ups with a bootstrap interval (the reps of every trace resampled
# together). The machine's load is recorded per rep; loaded reps are
# counted and the table says so.
#
#   scripts/speed-vs-obmalloc.sh                 the default run (every version, both sets,
#                                                both modes and domains, 1 round of 3 reps:
#                                                a few minutes once the traces are recorded)
#   --rounds N --reps N                          more samples (6 or more per backend give a
#                                                95% interval of the median: e.g. --rounds 3 --reps 3)
#   --versions "3.11 3.12"   --sets fidelity     a subset (sets: fidelity, validation)
#   --modes cold   --domains pymalloc            a subset
#   --before                                     also time pymalloc,preset=V,large=segfit (the model's
#                                                accounted large path, its default before issue 14 item 7)
#   --floor                                      also time the `null` backend (does nothing: its ns/op
#                                                is the replay loop's own cost) and report the
#                                                allocator-only speed-up (obmalloc - null) / (model - null)
#   --traces DIR                                 where traces are recorded and reused (default
#                                                out/speed-traces; delete it to record again)
#   --out FILE                                   the report (default docs/speed-vs-obmalloc.md)
# Raw JSON lines go next to the traces (DIR/runs-DATE.jsonl).
set -euo pipefail
usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; }
die() { echo "speed-vs-obmalloc.sh: $*" >&2; exit 2; }
versions="3.8 3.9 3.10 3.11 3.12 3.13" sets="fidelity validation" modes="cold warm"
domains="pymalloc all" rounds=1 reps=3 before=0 floor=0 traces=out/speed-traces out=docs/speed-vs-obmalloc.md
args=("$@")
need() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"; }
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --versions) need "$@"; versions=$2; shift 2 ;;
    --sets) need "$@"; sets=$2; shift 2 ;;
    --modes) need "$@"; modes=$2; shift 2 ;;
    --domains) need "$@"; domains=$2; shift 2 ;;
    --rounds) need "$@"; rounds=$2; shift 2 ;;
    --reps) need "$@"; reps=$2; shift 2 ;;
    --before) before=1; shift ;;
    --floor) floor=1; shift ;;
    --traces) need "$@"; traces=$2; shift 2 ;;
    --out) need "$@"; out=$2; shift 2 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds: '$rounds' is not a positive integer"
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "--reps: '$reps' is not a positive integer"
for s in $sets; do case $s in fidelity|validation) ;; *) die "--sets: unknown set '$s' (fidelity, validation)" ;; esac; done
for m in $modes; do case $m in cold|warm) ;; *) die "--modes: unknown mode '$m' (cold, warm)" ;; esac; done
for d in $domains; do case $d in pymalloc|all) ;; *) die "--domains: unknown domain '$d' (pymalloc, all)" ;; esac; done
for v in $versions; do case $v in 3.8|3.9|3.10|3.11|3.12|3.13) ;; *) die "--versions: unknown version '$v' (3.8 .. 3.13)" ;; esac; done
[ -n "$sets" ] && [ -n "$modes" ] && [ -n "$domains" ] && [ -n "$versions" ] || die "an empty list (see --help)"
[ -d "$(dirname "$out")" ] || die "--out: folder '$(dirname "$out")' does not exist"
out=$(realpath -m "$out") traces=$(realpath -m "$traces")
cd "$(dirname "$0")/.."
scripts/build.sh release
bin=build/release/pymemlab
mkdir -p "$traces"
export PYTHONHASHSEED=0
unset PYTHONMALLOC PYTHONDEVMODE
root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
skipped=()

# record T CMD...: records the trace T unless it is there already.
record() {
  local t=$1; shift
  [ -s "$t" ] && return 0
  rm -f "$t" "$t.tmp"
  if ! "$bin" trace record -o "$t" -- "$@" >/dev/null 2>"$t.log"; then
    echo "speed-vs-obmalloc: recording $(basename "$t") failed: $(tail -1 "$t.log")" >&2
    rm -f "$t" "$t.tmp"
    return 1
  fi
  rm -f "$t.log"
}

# cases: "label version set trace" lines
cases=()
have_version() { "$bin" backends 2>/dev/null | awk -v b="cpython,version=$1" '$1 == b && $2 == "available" {f = 1} END {exit !f}'; }
for v in $versions; do
  if ! have_version "$v"; then skipped+=("$v: cpython,version=$v unavailable ($("$bin" backends | awk -v b="cpython,version=$v" '$1 == b {$1 = ""; print}' | sed 's/^ *//'))"); continue; fi
  for s in $sets; do
    case $s in
      fidelity)
        py=$(ls -d "$root"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -1 || true)
        if [ -z "$py" ]; then skipped+=("fidelity on $v: no pyenv python$v under $root"); continue; fi
        for prog in scripts/fidelity/*.py; do
          name=$(basename "$prog" .py)
          [ "$name" = run ] && continue
          t=$traces/fid-$v-$name.pmt
          echo "speed-vs-obmalloc: trace $name on $v" >&2
          PYTHONPATH=$PWD/scripts record "$t" "$py" scripts/fidelity/run.py "$prog" &&
            cases+=("$name $v fidelity $t")
        done ;;
      validation)
        [ "$v" = 3.11 ] || continue      # the validation programs run on Debian's 3.11
        py=/usr/bin/python3
        pyenv_py=$(ls "$root"/versions/3.11.*/bin/python3.11 2>/dev/null | head -1 || true)
        work=out/validation-inputs
        if [ ! -f "$work/.done-1" ]; then
          mkdir -p "$work"
          "$py" scripts/validation/make-inputs.py "$work" 1 >/dev/null
          touch "$work/.done-1"
        fi
        W=$(cd "$work" && pwd)
        . scripts/lib/validation-programs.bash
        for p in $VALIDATION_PROGRAMS; do
          [ "$p" = sort ] && continue    # not a Python program: obmalloc is never its allocator
          cmd_of "$p"
          if [ ${#c[@]} -eq 0 ]; then skipped+=("validation $p: not available here"); continue; fi
          t=$traces/val-$p.pmt
          echo "speed-vs-obmalloc: trace $p" >&2
          record "$t" "${c[@]}" && cases+=("$p 3.11 validation $t")
        done ;;
    esac
  done
done
[ ${#cases[@]} -gt 0 ] || die "no trace to time (versions: $versions; skipped: ${skipped[*]:-none})"

stamp=$(date -u +%Y%m%d-%H%M%S)
raw=$traces/runs-$stamp.jsonl
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
total=$(( ${#cases[@]} * $(wc -w <<<"$modes") * $(wc -w <<<"$domains") * rounds ))
k=0
for cs in "${cases[@]}"; do
  read -r name v set t <<<"$cs"
  backends=("cpython,version=$v" "pymalloc,preset=$v")
  [ "$before" = 1 ] && backends+=("pymalloc,preset=$v,large=segfit")
  [ "$floor" = 1 ] && backends+=(null)
  for mode in $modes; do
    for dom in $domains; do
      for ((r = 1; r <= rounds; r++)); do
        k=$((k + 1))
        printf 'speed-vs-obmalloc: %d/%d %s %s %s %s round %d\n' "$k" "$total" "$v" "$name" "$mode" "$dom" "$r" >&2
        for b in "${backends[@]}"; do
          # to a file first: a consumer piped to replay (python3 -c) would
          # start up during its window, on the other CPU, and be other work
          # (docs/metrics.md, Machine load)
          "$bin" replay "$t" --backend "$b" --reps "$reps" --mode "$mode" --domain "$dom" --json >"$raw.line"
          python3 -c 'import json, sys
d = json.load(open(sys.argv[4]))
d.update(program=sys.argv[1], version=sys.argv[2], set=sys.argv[3])
print(json.dumps(d))' "$name" "$v" "$set" "$raw.line" >>"$raw"
        done
      done
    done
  done
done
t1=$(date +%s)
load1=$(cut -d' ' -f1-3 /proc/loadavg)
rm -f "$raw.line"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo "# The pymalloc model against the real obmalloc"
  echo
  echo "\`scripts/speed-vs-obmalloc.sh${args[*]:+ ${args[*]}}\` (rounds $rounds, reps $reps per round, \`--before\` $([ "$before" = 1 ] && echo on || echo off), \`--floor\` $([ "$floor" = 1 ] && echo on || echo off))."
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $cpu, $(nproc) cores, $(uname -r); commit $commit;"
  echo "$((t1 - t0)) s of timing; 1/5/15-minute load average $load0 before, $load1 after."
  [ ${#skipped[@]} -gt 0 ] && printf 'Skipped: %s.\n' "$(IFS=';'; echo "${skipped[*]}" | sed 's/;/; /g')"
  echo
  python3 scripts/lib/speed-vs-obmalloc.py "$raw"
  echo
  echo "Raw replay lines: \`$raw\` (not committed)."
} >"$tmp"
mv "$tmp" "$out"
trap - EXIT
cat "$out"
