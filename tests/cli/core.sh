#!/usr/bin/env bash
# tests/cli/core.sh — the command line's front door: help, backends, micro,
# table, and every bad-input path giving one line and exit code 2.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$PYMEMLAB" help | has "^  micro " || fail "help lists micro"
"$PYMEMLAB" help micro | has -- "--backend B" || fail "help micro"
rc=0; "$PYMEMLAB" >/dev/null 2>&1 || rc=$?; [ $rc = 2 ] || fail "no command: exit $rc"
rc=0; "$PYMEMLAB" frobnicate >/dev/null 2>&1 || rc=$?; [ $rc = 2 ] || fail "unknown command: exit $rc"
expect_usage_error "pymemlab: help: unknown command 'nope'" help nope

# backends: one line per backend, and the columns
list=$("$PYMEMLAB" backends)
for b in null system; do grep -q "^$b  *available  *" <<<"$list" || fail "backends: $b"; done
grep -q "^system .* global " <<<"$list" || fail "system is global"
grep -q "^null .* per-instance " <<<"$list" || fail "null is per-instance"
expect_usage_error "pymemlab: backends: takes no arguments ('x')" backends x

# micro: output and JSON keys
out=$("$PYMEMLAB" micro --backend system --ops 20000 --live 100 --json)
for k in '"backend":"system"' '"ops":20000' '"ns_per_op":'; do
  grep -q "$k" <<<"$out" || fail "micro --json lacks $k: $out"
done
expect_usage_error "pymemlab: micro: --backend is required (see 'pymemlab backends')" micro
expect_usage_error "pymemlab: unknown backend 'nosuch' (known: *system*)" micro --backend nosuch
expect_usage_error "pymemlab: bad value for --ops: 'abc' (expected a whole number, K/M/G allowed)" micro --backend system --ops abc
expect_usage_error "pymemlab: bad value for --ops: 1 (expected 2..*)" micro --backend system --ops 1
expect_usage_error "pymemlab: bad value for --live: '-5' *" micro --backend system --live -5
expect_usage_error "pymemlab: micro: unknown option '--bogus' (see 'pymemlab help micro')" micro --bogus
expect_usage_error "pymemlab: micro: option '--backend' needs a value *" micro --backend
expect_usage_error "pymemlab: micro: unexpected argument 'extra'" micro --backend system extra
expect_usage_error "pymemlab: backend 'system' takes no options ('x=1')" micro --backend system,x=1
expect_usage_error "pymemlab: null: bad ring size '1' (64K..16G)" micro --backend null,ring=1

# --version, and -h/--help on every command (exit 0, its usage line); after
# `--` they belong to the program a command runs
out=$("$PYMEMLAB" --version) || fail "--version: exit $?"
grep -q "^pymemlab, commit .*, .* build, " <<<"$out" && grep -q "^results format 2" <<<"$out" &&
  grep -Eq "^  (system|mimalloc|jemalloc|tcmalloc|cpython) " <<<"$out" || fail "--version: $out"
# (the commands as `pymemlab help` lists them, which must include these)
cmds=$("$PYMEMLAB" help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}' | grep -v '^help$')
for c in backends micro replay compare table gcbench objrun trace debugstats pyrun run plot merge report validate completion; do
  grep -qx "$c" <<<"$cmds" || fail "pymemlab help does not list $c"
done
for cmd in $cmds; do
  for flag in -h --help; do
    out=$("$PYMEMLAB" $cmd $flag) || fail "$cmd $flag: exit $?"
    grep -q "^usage: pymemlab $cmd\b" <<<"$out" || fail "$cmd $flag: $out"
    # every option of its table is described, and -h/--help itself
    grep -q "^  -h, --help" <<<"$out" || fail "$cmd $flag does not describe -h/--help: $out"
  done
done
out=$("$PYMEMLAB" trace gen --help) || fail "trace gen --help: exit $?"
grep -q "^usage: pymemlab trace gen PATTERN -o OUT " <<<"$out" && grep -q -- "--keep-every K" <<<"$out" ||
  fail "trace gen --help: $out"
out=$("$PYMEMLAB" replay nosuch.pmt --backend system --help) || fail "replay ... --help: exit $?"
"$PYMEMLAB" trace record -o "$tmp/help.pmt" -- true --help >/dev/null 2>&1 || fail "record -- true --help: exit $?"
[ -s "$tmp/help.pmt" ] || fail "record -- true --help: --help after -- was taken as the command's"

# table: reads replay-style JSON lines
# (an older line without ns_per_op_reps counts as one rep)
cat >"$tmp/r.jsonl" <<'J'
{"trace":"t/a.pmt","backend":"system","ns_per_op":20,"peak_footprint_bytes":1048576,"frag4":0.5,"retention":0.9}
{"trace":"t/a.pmt","backend":"null","ns_per_op":4,"peak_footprint_bytes":null,"frag4":null,"retention":null}
{"trace":"t/a.pmt","backend":"pymalloc","ns_per_op":10,"peak_footprint_bytes":2097152,"frag4":0.25,"retention":1}
J
out=$("$PYMEMLAB" table "$tmp/r.jsonl")
grep -Eq "^a\.pmt +pymalloc +\? +10\.00 \[10\.00, 10\.00\]\* +0\.50 \[0\.50, 0\.50\] +not distinguishable +6\.00 +- +2\.0 +0\.250 +1\.000" <<<"$out" ||
  fail "table row: $out"
grep -Eq "^a\.pmt +null .* +- +- +-$" <<<"$out" || fail "table: null's memory figures are not '-': $out"
# reps: intervals; disjoint intervals are ranked, overlapping ones are not
cat >"$tmp/r2.jsonl" <<'J'
{"trace":"b.pmt","backend":"cpython","time_mode":"cold","ns_per_op_reps":[20,21,22,20,21,22]}
{"trace":"b.pmt","backend":"pymalloc","time_mode":"cold","ns_per_op_reps":[10,11,12,10,11,12]}
{"trace":"b.pmt","backend":"segfit","time_mode":"cold","ns_per_op_reps":[19,25,30,24,23,26]}
J
out=$("$PYMEMLAB" table "$tmp/r2.jsonl")
grep -Eq "^b\.pmt +pymalloc +cold +11\.00 \[10\.00, 12\.00\] .* faster" <<<"$out" || fail "table: faster: $out"
grep -Eq "^b\.pmt +segfit +cold +24\.50 \[19\.00, 30\.00\] .* not distinguishable" <<<"$out" || fail "table: n.d.: $out"
expect_usage_error "pymemlab: table: --baseline 'nope' has no results in $tmp/r2.jsonl" table "$tmp/r2.jsonl" --baseline nope
echo '{"trace":"x"' >"$tmp/bad.jsonl"
expect_usage_error "pymemlab: $tmp/bad.jsonl:1: not a JSON object" table "$tmp/bad.jsonl"
expect_usage_error "pymemlab: table: $tmp/none.jsonl: cannot open: No such file or directory" table "$tmp/none.jsonl"
# a NUL byte in a metadata key (found by fuzz_trace; its reproducer in the corpus): refused like
# any other bad key
expect_usage_error "pymemlab: *metadata key*" trace info "$PM_SOURCE_DIR/fuzz/corpus/fuzz_trace/d6aa4c4301bc311df8c079c65e134c4c0db53333"
echo ok
