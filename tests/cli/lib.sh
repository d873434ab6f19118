#!/usr/bin/env bash
# tests/cli/lib.sh — the lib:PATH[,name=NAME] backend end to end, over
# tests/libbump.so (tests/libbump.c: a bump allocator whose footprint can be
# computed by hand):
#  - replay's figures for a hand-computed trace: 1000 blocks of 4080 bytes
#    (16-byte header each: 1000 pages exactly), then all freed (bump never
#    reuses: retention 1), then trim (libbump's malloc_trim unmaps
#    everything: what is left is not the library's blocks);
#  - the backend is shown by its NAME (replay --json, run's results, table,
#    plot data), the full spec kept beside it;
#  - a suite file names it with a `backend` line, relative to the suite;
#  - validate preloads the library natively and replays on it;
#  - bad input: missing file, library without realloc, bad name: one line,
#    exit 2, nothing written.
set -euo pipefail
P=${PYMEMLAB:?set PYMEMLAB to the pymemlab binary}
B=${PM_LIBBUMP:?set PM_LIBBUMP to tests/libbump.so}
NR=${PM_LIBBUMP_NOREALLOC:?}
PROG=$(dirname "$P")/tests/validate_prog
# shellcheck source=tests/cli/lib.bash
source "$(dirname "$0")/lib.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
py=$(command -v python3)
jget() { "$py" -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2], {"d": d}))' "$@"; }

# 1. hand-computed figures
{ echo "pmtrace 1"; echo "@ops 2000"; echo "@slots 1000"
  for i in $(seq 0 999); do echo "alloc $i 4080"; done
  for i in $(seq 0 999); do echo "free $i"; done; } >b.txt
"$P" replay b.txt --backend "lib:$B,name=bump" --json --sample-every 1 --reps 3 >r.json ||
  fail "replay on lib:libbump failed"
[ "$(jget r.json "d['backend']")" = bump ] || fail "replay --json backend is not the NAME"
[ "$(jget r.json "d['spec']")" = "lib:$B,name=bump" ] || fail "replay --json lost the spec"
[ "$(jget r.json "d['ops']")" = 2000 ] || fail "ops $(jget r.json "d['ops']") != 2000"
[ "$(jget r.json "d['peak_live_bytes']")" = 4080000 ] || fail "peak live != 4080000"
pk=$(jget r.json "d['peak_footprint_bytes']")
fin=$(jget r.json "d['final_footprint_bytes']")
tr=$(jget r.json "d['trimmed_footprint_bytes']")
# the library's blocks: 1000 x (16 + 4080) bytes = 1000 pages, no more, no less
[ $((pk - tr)) = 4096000 ] || fail "peak footprint $pk - trimmed $tr != 1000 pages (4096000)"
asan=0
if asan_build "$P"; then asan=1; fi
# (under ASan the shadow of the poisoned blocks may stay resident: 126
# pages on kernel 6.18; the release build checks this exactly)
[ "$asan" = 1 ] || [ "$tr" -lt 32768 ] ||
  fail "after trim $tr bytes are left (want under 8 pages: the library's own .bss)"
[ "$fin" = "$pk" ] || fail "bump frees nothing: final footprint $fin != peak $pk"
[ "$(jget r.json "d['retention']")" = 1.0 ] || [ "$(jget r.json "d['retention']")" = 1 ] ||
  fail "retention $(jget r.json "d['retention']") != 1"
awk -v f="$(jget r.json "d['frag4']")" -v p="$pk" 'BEGIN {e = p / 4080000 - 1; exit !(f > e - 1e-9 && f < e + 1e-9)}' ||
  fail "frag4 is not peak footprint / peak live - 1"
# the timed run's faults: one per page of blocks (1000), plus a few (not
# under ASan, whose shadow memory faults too)
[ "$asan" = 1 ] || awk -v m="$(jget r.json "d['minflt_per_op']")" 'BEGIN {exit !(m * 2000 >= 1000 && m * 2000 <= 1010)}' ||
  fail "minor faults per op $(jget r.json "d['minflt_per_op']") are not 1000 / 2000"
"$P" replay b.txt --backend "lib:$B" --reps 1 --timed-only | has '^backend  *bump (lib:' ||
  fail "replay's text does not name the backend bump (derived from libbump.so)"

"$P" pyrun json --backend "lib:$B" --scale 0.01 --reps 1 --json >pj.json &&
  [ "$(jget pj.json "d['backend']")" = bump ] ||
  fail "pyrun --json does not name the backend bump"

# 2. bad input: one line, exit 2
expect_usage_error "pymemlab: lib: /nonexistent/libx.so: No such file or directory" \
  replay b.txt --backend lib:/nonexistent/libx.so
expect_usage_error "pymemlab: lib: $NR does not define realloc (needs malloc, free and realloc)" \
  replay b.txt --backend "lib:$NR"
expect_usage_error "pymemlab: lib: cannot load $tmp/b.txt: *" replay b.txt --backend "lib:$tmp/b.txt"
expect_usage_error "pymemlab: lib: name 'system' is a built-in backend's: choose another" \
  replay b.txt --backend "lib:$B,name=system"
expect_usage_error "pymemlab: backend 'lib' needs a library: write lib:PATH?,name=NAME?" \
  replay b.txt --backend lib
expect_usage_error "pymemlab: lib: /nonexistent/libx.so: No such file or directory" \
  run --suite quick --backends system,lib:/nonexistent/libx.so --out "$tmp/bad"
[ ! -e "$tmp/bad" ] || fail "run with a bad lib wrote $tmp/bad"

# 3. a suite naming it; results, table, plot data show the NAME
mkdir -p s/libs
cp "$B" s/libs/libbump.so
cat >s/my.suite <<'EOF'
reps 2
backend system
backend lib:libs/libbump.so,name=bump
gen fifo ops=20K live=2K seed=1
trace ../b.txt
EOF
"$P" run --suite s/my.suite --out res >run.out 2>run.err || fail "run on the suite failed: $(cat run.err)"
bk=$("$py" -c 'import json
print(sorted({json.loads(l)["backend"] for l in open("res/results.jsonl")}))')
[ "$bk" = "['bump', 'system']" ] || fail "results backends $bk, want bump and system"
[ "$(grep -c '"status":"ok"' res/results.jsonl)" = 8 ] || fail "not 8 ok runs: $(grep -c '"status":"ok"' res/results.jsonl)"
[ "$(jget res/provenance.json "[b['spec'] for b in d['backends'] if b['name'] == 'bump'][0]")" = \
  "lib:$(realpath "$tmp")/s/libs/libbump.so,name=bump" ] ||
  fail "provenance does not keep the lib's spec (relative to the suite)"
"$P" table res | has '^  *bump  ' || fail "table does not show bump"
"$P" run --suite s/my.suite --out res --resume >/dev/null 2>run2.err || fail "resume failed: $(cat run2.err)"
has '8 of 8 runs done, 0 to go' run2.err || fail "resume did not find the bump runs done: $(cat run2.err)"
if command -v gnuplot >/dev/null; then
  "$P" plot res >/dev/null 2>plot.err || fail "plot failed: $(cat plot.err)"
  has '^# bump$' res/plots/data/throughput.dat || fail "plot data has no bump block"
fi

# 4. validate: preloaded natively, replayed on lib
if [ -x "$PROG" ]; then
  "$P" validate --reps 1 --allocators "system,lib:$B,name=bump" --json -- "$PROG" pattern >v.json ||
    fail "validate with lib failed: $(cat v.json)"
  [ "$(jget v.json "d['allocators'][1]['allocator']")" = bump ] || fail "validate's allocator is not named bump"
  [ "$(jget v.json "d['allocators'][1]['preload']")" = "$B" ] || fail "validate did not preload $B"
  err=$(jget v.json "d['allocators'][1]['peak_error_pct']")
  if [ "$asan" = 0 ]; then
    awk -v e="$err" 'BEGIN {exit !(e >= -8 && e <= 8)}' || fail "bump: validate peak error $err% outside 8%"
  fi
  expect_usage_error "pymemlab: validate: lib: /nonexistent/libx.so: No such file or directory" \
    validate --allocators lib:/nonexistent/libx.so -- "$PROG" pattern
fi
echo "lib: ok"
