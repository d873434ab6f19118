#!/usr/bin/env bash
# scripts/gcbench.sh [--objects N] [--backend B] [--rounds K] — one run of both
# sides of the gcbench comparison: `pymemlab gcbench` (our collector over
# backend B, default system) and scripts/gcbench-cpython.py (the machine's
# python3, or $PYTHON, e.g. PYTHON=/usr/bin/python3.11 for Debian's build),
# alternated K times (default 3) on the same graph, then the median ns per
# tracked object of each and their ratio.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
objects=1000000 backend=system rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --objects) objects=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "gcbench.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
bin=${PYMEMLAB:-build/release/pymemlab}
py=${PYTHON:-python3}
if [ ! -x "$bin" ]; then
  scripts/build.sh release
fi
ours=() theirs=()
for ((i = 0; i < rounds; i++)); do
  o=$("$bin" gcbench --objects "$objects" --backend "$backend" --json)
  p=$("$py" scripts/gcbench-cpython.py --objects "$objects" --json)
  echo "$o"
  echo "$p"
  ours+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ns_per_object"])' "$o")")
  theirs+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ns_per_object"])' "$p")")
done
python3 - "${ours[*]}" "${theirs[*]}" "$backend" "$("$py" -c 'import platform; print(platform.python_version())')" <<'PY'
import statistics, sys
ours = [float(x) for x in sys.argv[1].split()]
theirs = [float(x) for x in sys.argv[2].split()]
mo, mt = statistics.median(ours), statistics.median(theirs)
print("median ns per tracked object: pymemlab/%s %.1f, CPython %s %.1f: %.2fx faster"
      % (sys.argv[3], mo, sys.argv[4], mt, mt / mo))
PY
