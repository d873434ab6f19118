#!/usr/bin/env bash
# scripts/gcbench.sh [--objects N] [--backend B] [--rounds K] [--gcs "NAME ..."]
#     [--out DIR] [--table-only] — one full collection of the same graph under our collectors
# (`pymemlab gcbench --gc NAME` over backend B, default system) and under
# CPython's own gc (scripts/gcbench-cpython.py run by $PYTHON, default Debian's
# /usr/bin/python3: 3.11.2, the obmalloc of the `cpython` backend), alternated
# K rounds (default 10), each run a fresh process. The graph: N tracked
# containers (default 1000000), `a = []; b = [a]; a.append(b)` N/2 times,
# every other `a` kept: half of them in unreachable 2-cycles.
# Before writing, every run must have collected exactly the containers the
# builder made unreachable (both sides) and ours must have tracked N + 2
# objects; otherwise one line, exit 1, DIR unchanged.
# Writes DIR (default results/gc/vs-cpython): table.md (per collector and
# CPython: ns per tracked object and the collection's ms, medians over the
# rounds with 95% intervals from the order statistics; the ratio CPython /
# ours per round with its interval; loaded rounds), runs.jsonl (every run,
# with its 1-minute load average before and after and its `loaded` flag, the
# harness's rule) and meta.json (machine, date, commit, load, command).
# Defaults: collectors gen311 gen313 inc314 pep848. The published run is
# exactly `scripts/gcbench.sh` (docs/gc.md, docs/paper.md).
# --table-only rebuilds table.md and meta.json from DIR/runs.jsonl (no run).
# Bad arguments: one line, exit 2, before anything runs.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
objects=1000000 backend=system rounds=10 gcs="gen311 gen313 inc314 pep848" out=results/gc/vs-cpython table_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --objects|--backend|--rounds|--gcs|--out)
      [ $# -ge 2 ] || { echo "gcbench.sh: $1 needs a value" >&2; exit 2; }
      case $1 in
        --objects) objects=$2 ;; --backend) backend=$2 ;; --rounds) rounds=$2 ;;
        --gcs) gcs=$2 ;; --out) out=$2 ;;
      esac
      shift 2 ;;
    --table-only) table_only=1; shift ;;
    *) echo "gcbench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ $table_only = 0 ] || exec python3 scripts/lib/gcbench.py --table-only "$out"
bin=${PYMEMLAB:-build/release/pymemlab}
py=${PYTHON:-/usr/bin/python3}
[ -x "$py" ] || py=$(command -v "$py" || echo "$py")
if [ ! -x "$bin" ]; then
  scripts/build.sh release
fi
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo '+dirty')"
exec python3 scripts/lib/gcbench.py --pymemlab "$bin" --python "$py" --objects "$objects" \
  --backend "$backend" --rounds "$rounds" --gcs "$gcs" --out "$out" --commit "$commit"
