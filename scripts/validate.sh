#!/usr/bin/env bash
# scripts/validate.sh — the validation suite: does replaying a recorded
# program predict what it really does under each allocator? Runs
# `pymemlab validate` on real programs nobody wrote for this project
# (standard-library tools and Debian-packaged programs, on inputs made by
# scripts/validation/make-inputs.py) and writes results/validation/:
#   PROGRAM.json, PROGRAM.txt   each program's `validate --json` and table
#   table.md, table.csv         program x allocator: native, predicted, error %;
#                               Kendall's tau of the allocator ranking per program
#   predicted-vs-native.png     predicted against native peak, y = x, one colour per allocator
#   env.txt                     machine load, kernel, versions at the time of the run
#
#   scripts/validate.sh                    every program, 3 reps
#   REPS=5 ONLY="json_tool xml" scripts/validate.sh
#   PM_SCALE=2 ...                          bigger inputs
#   VALIDATE_ARGS="--replay-glibc dynamic --allocators cpython,system" PM_OUT=... ...
#                                           extra `validate` options
# Method and discussion: docs/validation.md.
set -euo pipefail
case ${1:-} in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "validate.sh: unexpected argument '$1' (see --help; options are environment variables)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
reps=${REPS:-3}
scale=${PM_SCALE:-1}
bin=build/release/pymemlab
out=${PM_OUT:-results/validation}
work=${PM_WORK:-out/validation-inputs}
nice -n 10 scripts/build.sh release
mkdir -p "$out" "$work"
py=/usr/bin/python3          # Debian's CPython 3.11: the same obmalloc as the `cpython` backend
pyenv_py=$(ls /root/.pyenv/versions/3.11.*/bin/python3.11 2>/dev/null | head -1 || true)
if [ ! -f "$work/.done-$scale" ]; then
  echo "== making inputs in $work (scale $scale)"
  "$py" scripts/validation/make-inputs.py "$work" "$scale"
  touch "$work/.done-$scale"
fi
W=$(cd "$work" && pwd)
. scripts/lib/validation-programs.bash
progs=${ONLY:-$VALIDATION_PROGRAMS}
# the tree's state before env.txt is opened for writing (the redirection
# below truncates it first, which alone would make a clean tree look dirty)
commit="$(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')"
{
  echo "date $(date -u +%FT%TZ)"
  echo "loadavg $(cat /proc/loadavg)"
  echo "kernel $(uname -r); THP $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
  echo "python $("$py" -c 'import sys; print(sys.version.split()[0])') ($py); unittest_json on ${pyenv_py:-none}"
  echo "commit $commit"
  echo "reps $reps scale $scale; validate options: ${VALIDATE_ARGS:-none}"
} >"$out/env.txt"
cat "$out/env.txt"
status=0
for p in $progs; do
  cmd_of "$p"
  [ ${#c[@]} -gt 0 ] || { echo "== $p: skipped (not available here)"; continue; }
  echo "== $p: ${c[*]}"
  rm -rf "$out/$p.d"
  code=0
  # shellcheck disable=SC2086  # VALIDATE_ARGS is a list of options
  "$bin" validate --reps "$reps" ${VALIDATE_ARGS:-} --json --out "$out/$p.d" -- "${c[@]}" >"$out/$p.json" || code=$?
  cp "$out/$p.d/table.txt" "$out/$p.txt" 2>/dev/null || true
  rm -f "$out/$p.d/trace.pmt"
  [ -f "$out/$p.txt" ] && cat "$out/$p.txt"
  [ "$code" -eq 0 ] || { echo "validate.sh: $p: validate exited $code" >&2; status=1; }
done
echo "loadavg_end $(cat /proc/loadavg)" >>"$out/env.txt"
"$py" scripts/validation/summarize.py "$out"
gnuplot -e "dir='$out'" scripts/plots/validation.gp
echo "results: $out (table.md, table.csv, predicted-vs-native.png)"
exit $status
