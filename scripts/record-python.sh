#!/usr/bin/env bash
# scripts/record-python.sh — the `python-real` workloads: records real Python
# programs (scripts/python-real/*.py, standard library only) run on the
# machine's python3 into workloads/traces/python-NAME.pmt (generated on
# demand, not committed), and prints each trace's `trace stats`.
#
#   scripts/record-python.sh                 record every program, print the statistics
#   scripts/record-python.sh --overhead [N]  also run each program N times (default 5) unrecorded
#                                            and recorded, alternating: median CPU and wall time
#   scripts/record-python.sh --replay [R]    also replay each trace on every available backend,
#                                            --domain pymalloc and --domain all, in R interleaved
#                                            rounds (default 6): round r replays every backend once
#                                            (a timed rep in a fresh process; the memory figures in
#                                            round 1) before round r+1; median, 95% interval, ratio
#                                            to cpython and "not distinguishable" by `pymemlab table`
#   PM_MODE=warm ...                         the timing mode of --replay (default cold)
#   PYTHON=/usr/bin/python3.11 ...           another interpreter (default: python3 on PATH,
#                                            resolved to its real executable, past any pyenv shim)
#   PM_SCALE=2 ...                           bigger programs (each program's own knob)
#   PM_BACKENDS="cpython buddy" ...          only these backends for --replay
#   ONLY="json_roundtrip ast_parse" ...      only these programs
# PYTHONHASHSEED is 0 unless set (fewer differences between recordings; a
# recording is still not bit-for-bit repeatable: temporary file names,
# address-based hashes and the like vary, so op counts differ by a fraction
# of a percent from run to run).
# Results (statistics, overhead, replay JSON lines and tables) go to
# out/python-real-<date>/.
set -euo pipefail
cd "$(dirname "$0")/.."
overhead=0 runs=5 replay=0 reps=6
while [ $# -gt 0 ]; do
  case $1 in
    --overhead) overhead=1; if [[ ${2:-} =~ ^[0-9]+$ ]]; then runs=$2; shift; fi ;;
    --replay) replay=1; if [[ ${2:-} =~ ^[0-9]+$ ]]; then reps=$2; shift; fi ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "record-python.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
export PYTHONHASHSEED=${PYTHONHASHSEED:-0}
scripts/build.sh release
bin=build/release/pymemlab
py=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
out=${PM_OUT:-out/python-real-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p workloads/traces "$out"
progs=${ONLY:-$(cd scripts/python-real && ls *.py | sed 's/\.py$//')}
echo "== $("$py" -c 'import sys; print(sys.version.split()[0])') ($py), output $out"

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

recorded=()
for p in $progs; do
  src=scripts/python-real/$p.py
  trace=workloads/traces/python-$p.pmt
  rm -f "$trace" "$trace.tmp"   # a .tmp left by an interrupted run of this script
  code=0
  "$bin" trace record -o "$trace" -- "$py" "$src" 2>"$out/$p.record.txt" || code=$?
  if grep -q "exited with status 77 " "$out/$p.record.txt"; then
    echo "== $p: skipped (the interpreter lacks what it needs)"
    rm -f "$trace"
    continue
  fi
  [ "$code" -eq 0 ] || { cat "$out/$p.record.txt" >&2; echo "record-python.sh: recording $p failed" >&2; exit 1; }
  recorded+=("$p")
  "$bin" trace stats "$trace" >"$out/$p.stats.txt"
  "$bin" trace stats --json "$trace" >"$out/$p.stats.json"
  echo "== $p: $(head -1 "$out/$p.record.txt" | sed 's/^trace record: //')"
  sed -n '3,13p' "$out/$p.stats.txt"
done

if [ "$overhead" = 1 ]; then
  echo
  echo "== recording overhead: median of $runs alternated runs (CPU = user + sys of the program)"
  printf '%-18s %10s %10s %7s %10s %10s %7s\n' program "cpu plain" "cpu rec" ratio "wall plain" "wall rec" ratio |
    tee "$out/overhead.txt"
  for p in "${recorded[@]}"; do
    : >"$out/t.plain"
    : >"$out/t.rec"
    for ((i = 0; i < runs; i++)); do
      TIMEFORMAT='%R %U %S'
      { time "$py" "scripts/python-real/$p.py" >/dev/null 2>&1; } 2>>"$out/t.plain"
      "$bin" trace record -o "$out/overhead.pmt" -- "$py" "scripts/python-real/$p.py" 2>"$out/t.log" >/dev/null
      # the recorded program's own times, as trace record reports them (wait4)
      sed -n 's/.* after \([0-9.]*\) s (CPU \([0-9.]*\) s user, \([0-9.]*\) s sys)/\1 \2 \3/p' "$out/t.log" >>"$out/t.rec"
      rm -f "$out/overhead.pmt"
    done
    cp=$(awk '{print $2 + $3}' "$out/t.plain" | median)
    cr=$(awk '{print $2 + $3}' "$out/t.rec" | median)
    wp=$(awk '{print $1}' "$out/t.plain" | median)
    wr=$(awk '{print $1}' "$out/t.rec" | median)
    awk -v p="$p" -v cp="$cp" -v cr="$cr" -v wp="$wp" -v wr="$wr" \
      'BEGIN {printf "%-18s %10.2f %10.2f %6.2fx %10.2f %10.2f %6.2fx\n", p, cp, cr, cr / cp, wp, wr, wr / wp}' |
      tee -a "$out/overhead.txt"
  done
  rm -f "$out/t.plain" "$out/t.rec" "$out/t.log"
fi

if [ "$replay" = 1 ]; then
  if [ -n "${PM_BACKENDS:-}" ]; then
    backends=$PM_BACKENDS
  else
    backends=$("$bin" backends | awk 'NR > 1 && $2 == "available" && $1 !~ /:/ {print $1}')
  fi
  mode=${PM_MODE:-cold}
  for d in pymalloc all; do
    raw="$out/replay-$d.rounds.jsonl" res="$out/replay-$d.jsonl"
    : >"$raw"
    for p in "${recorded[@]}"; do
      for r in $(seq "$reps"); do
        for b in $backends; do
          printf '== replay %-18s round %d/%d %-10s --domain %-8s\r' "$p" "$r" "$reps" "$b" "$d" >&2
          extra=--timed-only
          [ "$r" = 1 ] && extra=
          "$bin" replay "workloads/traces/python-$p.pmt" --backend "$b" --domain "$d" --reps 1 \
            --mode "$mode" $extra --json >>"$raw"
        done
      done
    done
    python3 scripts/lib/merge-rounds.py "$raw" >"$res"
    printf '\n' >&2
    echo
    echo "== replay --domain $d, $mode: ns/op median of $reps interleaved rounds (trace decoding excluded)"
    "$bin" table "$res" | tee "$out/replay-$d.txt"
  done
fi
echo
echo "traces: workloads/traces/python-*.pmt; results: $out"
