#!/usr/bin/env bash
# tests/cli/debugstats.sh — `pymemlab debugstats`: bad input exits 2 with one
# line naming the problem; a good run prints a report whose Total line equals
# its "N arenas * S bytes/arena" line. Needs $PYMEMLAB.
set -u
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect_usage "message" args...: exit code 2, stderr exactly one line.
expect_usage() {
  local want=$1; shift
  "$PYMEMLAB" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local lines; lines=$(wc -l <"$tmp/err")
  if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || [ "$(cat "$tmp/err")" != "$want" ]; then
    echo "FAIL: pymemlab $*: rc=$rc, stderr:"; cat "$tmp/err"; echo "  wanted: $want"
    fails=$((fails + 1))
  fi
}

expect_usage "pymemlab: pymalloc: pool size 3000 is not a power of two" \
  debugstats --backend pymalloc,pool=3000
expect_usage "pymemlab: pymalloc: pool size 512 is too small for the 48-byte pool header and one 512-byte block (at least 1024)" \
  debugstats --backend pymalloc,pool=512
expect_usage "pymemlab: pymalloc: arena size 100000 is not a multiple of the pool size 16384" \
  debugstats --backend pymalloc,arena=100000
expect_usage "pymemlab: pymalloc: arena size 16384 holds fewer than 2 pools of 16384 bytes (an arena not aligned to the pool size loses one)" \
  debugstats --backend pymalloc,arena=16K
expect_usage "pymemlab: pymalloc: unknown option 'size' (known: preset, arena, pool, large, placement)" \
  debugstats --backend pymalloc,size=4K
expect_usage "pymemlab: pymalloc: unknown preset 'py27' (known: 3.8, 3.9, 3.10, 3.11, 3.12, 3.13; py38 = 3.8, py310 = 3.10)" \
  debugstats --backend pymalloc,preset=py27
expect_usage "pymemlab: pymalloc: bad pool size '4Q' (expected bytes, K/M/G allowed)" \
  debugstats --backend pymalloc,pool=4Q
expect_usage "pymemlab: debugstats: backend 'system' is not pymalloc (the report reads pymalloc's arenas and pools)" \
  debugstats --backend system
expect_usage "pymemlab: debugstats: --backend is required (pymalloc[,options])" \
  debugstats
expect_usage "pymemlab: bad value for --exercise: 'many' (expected a whole number, K/M/G allowed)" \
  debugstats --backend pymalloc --exercise many

# unknown backend: the registry's message, which lists the known names
"$PYMEMLAB" debugstats --backend nosuch >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ "$rc" -ne 2 ] || ! grep -q "^pymemlab: unknown backend 'nosuch' (known: .*pymalloc" "$tmp/err"; then
  echo "FAIL: unknown backend: rc=$rc"; cat "$tmp/err"; fails=$((fails + 1))
fi

# good runs: Total equals arenas * arena size, for both presets
for spec in pymalloc pymalloc,preset=py38 pymalloc,arena=512K,pool=8K; do
  if ! "$PYMEMLAB" debugstats --backend "$spec" --exercise 30000 >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: debugstats --backend $spec failed:"; cat "$tmp/err"; fails=$((fails + 1)); continue
  fi
  arenas=$(grep -E '^[0-9]+ arenas \* [0-9]+ bytes/arena' "$tmp/out" | sed 's/.*= *//; s/,//g')
  total=$(grep -E '^Total ' "$tmp/out" | head -1 | sed 's/.*= *//; s/,//g')
  header=$(head -1 "$tmp/out")
  if [ -z "$arenas" ] || [ "$arenas" != "$total" ] || [ "$arenas" -eq 0 ] ||
     [ "$header" != "Small block threshold = 512, in 32 size classes." ]; then
    echo "FAIL: $spec: arenas line '$arenas' vs Total '$total'"; cat "$tmp/out"; fails=$((fails + 1))
  fi
done

# after a trace, or at one of its phase marks: survivors' phase 1 is "all
# allocated" (20000 blocks live), its end keeps every 10th (2000 live)
"$PYMEMLAB" trace gen survivors --live 20000 --keep-every 10 --sizes uniform:16-16 -o "$tmp/s.pmt" >/dev/null
at1=$("$PYMEMLAB" debugstats --backend pymalloc --domain all "$tmp/s.pmt" --at-phase 1 | awk '$1 == 0 && $2 == 16 {print $4}')
end=$("$PYMEMLAB" debugstats --backend pymalloc --domain all "$tmp/s.pmt" | awk '$1 == 0 && $2 == 16 {print $4}')
if [ "$at1" != 20000 ] || [ "$end" != 2000 ]; then
  echo "FAIL: blocks in use of class 0 at phase 1 '$at1' (want 20000), at the end '$end' (want 2000)"
  fails=$((fails + 1))
fi
rc=0; "$PYMEMLAB" debugstats --backend pymalloc --domain all "$tmp/s.pmt" --at-phase 7 >/dev/null 2>"$tmp/err" || rc=$?
if [ "$rc" -ne 2 ] || [ "$(cat "$tmp/err")" != "pymemlab: $tmp/s.pmt: no phase mark 7 in the trace" ]; then
  echo "FAIL: missing phase: rc=$rc"; cat "$tmp/err"; fails=$((fails + 1))
fi

# --domain: the issue-14 three-op trace. CPython's pymalloc serves only obj and
# mem requests: by default 1 block in use (the untagged and raw ones are not
# its), 3 with --domain all, 1 with --domain raw.
printf 'pmtrace 1\n@ops 3\n@slots 3\nalloc 0 100 raw\nalloc 1 100\nalloc 2 100 obj\n' >"$tmp/three.txt"
for want in "default 1" "pymalloc 1" "all 3" "raw 1" "obj 1"; do
  set -- $want
  if [ "$1" = default ]; then args=(); else args=(--domain "$1"); fi
  got=$("$PYMEMLAB" debugstats --backend pymalloc "${args[@]}" "$tmp/three.txt" | awk '$1 == 6 && $2 == 112 {print $4}')
  if [ "$got" != "$2" ]; then
    echo "FAIL: three-op trace, --domain $1: blocks in use '$got' (want $2)"; fails=$((fails + 1))
  fi
done
expect_usage "pymemlab: $tmp/three.txt: no ops in the chosen domain (an untagged trace needs --domain all)" \
  debugstats --backend pymalloc --domain mem "$tmp/three.txt"
expect_usage "pymemlab: debugstats: bad value for --domain: 'heap' (expected obj, mem, raw, pymalloc or all)" \
  debugstats --backend pymalloc --domain heap "$tmp/three.txt"
expect_usage "pymemlab: debugstats: --domain needs a TRACE" \
  debugstats --backend pymalloc --domain all

[ "$fails" -eq 0 ] && echo "debugstats CLI: all checks passed"
exit $((fails > 0))
