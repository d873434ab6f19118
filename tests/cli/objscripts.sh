#!/usr/bin/env bash
# tests/cli/objscripts.sh — every object script under tests/objscripts/ run by
# `pymemlab objrun` with exact counts (the scripts' `expect` lines) on
# `system` and on every available per-instance backend but `null` (the own
# backends), text and --json; then the error convention: a malformed script
# exits 2 with "pymemlab: FILE:LINE: <problem>", a failed expect exits 1
# naming its line.
set -euo pipefail
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"

backends=(system $("$PYMEMLAB" backends |
  awk 'NR > 1 && $2 == "available" && $3 == "per-instance" && $1 != "null" { print $1 }'))
status=0
fail() { echo "FAIL: $*" >&2; status=1; }

for b in "${backends[@]}"; do
  for s in "$PM_SOURCE_DIR"/tests/objscripts/*.txt; do
    name=$(basename "$s")
    if ! out=$("$PYMEMLAB" objrun "$s" --backend "$b" 2>&1); then
      fail "$b $name: $out"
      continue
    fi
    grep -q "^invariants *ok" <<<"$out" || fail "$b $name: no invariants line: $out"
    if ! js=$("$PYMEMLAB" objrun "$s" --backend "$b" --json 2>&1); then
      fail "$b $name --json: $js"
      continue
    fi
    python3 -c '
import json, sys
d = json.loads(sys.argv[1])
for k in ("collections", "collected", "uncollectable", "peak_live_bytes", "peak_footprint_bytes"):
    assert isinstance(d[k], int) and d[k] >= 0, k
assert d["peak_live_bytes"] > 0
' "$js" || fail "$b $name: bad JSON: $js"
  done
  echo "ok: $(ls "$PM_SOURCE_DIR"/tests/objscripts/*.txt | wc -l) scripts on $b"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect_error CODE "FIRST LINE OF STDERR" SCRIPT-TEXT
expect_error() {
  local code=$1 want=$2 text=$3
  printf '%s' "$text" > "$tmp/s.txt"
  local got rc=0
  got=$(cd "$tmp" && "$PYMEMLAB" objrun s.txt --backend system 2>&1 >/dev/null) || rc=$?
  got=$(head -n1 <<<"$got")
  [ "$rc" = "$code" ] || fail "exit $rc, want $code, for: $text ($got)"
  [ "$got" = "$want" ] || fail "stderr '$got', want '$want'"
}

expect_error 2 "pymemlab: s.txt:2: unknown statement 'frobnicate'" $'l = list\nfrobnicate l\n'
expect_error 2 "pymemlab: s.txt:3: unterminated string" $'# c\n\nx = str "abc\n'
expect_error 2 "pymemlab: s.txt:1: repeat without end" $'repeat 3\nl = list\n'
# an escape the docs do not list is an error, not a dropped backslash (the sweep's "bad escape")
expect_error 2 "pymemlab: s.txt:1: unknown escape '\\q' in a string (known: \\\" \\\\ \\n \\t)" $'a = str "\\q"\n'
expect_error 2 "pymemlab: s.txt:1: unknown escape '\\' + byte 0x01 in a string (known: \\\" \\\\ \\n \\t)" $'a = str "\\\x01"\n'
expect_error 2 "pymemlab: s.txt:1: end without repeat" $'end\n'
expect_error 2 "pymemlab: s.txt:1: unknown kind 'lst' (none int float str istr bytes tuple list dict class new weakref getattr item deref objects garbage)" $'l = lst 1 2\n'
expect_error 2 "pymemlab: s.txt:1: append takes 2 operands, not 1" $'append l\n'
expect_error 2 "pymemlab: s.txt:2: bad number 'x' (expected -1..9223372036854775807)" $'l = list\nexpect collected x\n'
expect_error 2 "pymemlab: s.txt:1: name 'l' is not bound" $'append l l\n'
expect_error 2 "pymemlab: s.txt:2: x is a int, not a list" $'x = int 5\nappend x x\n'
expect_error 2 "pymemlab: s.txt:2: weakref: cannot create weak reference to 'list' object" $'l = list\nw = weakref l\n'
expect_error 2 "pymemlab: s.txt:3: setattr: 'A' object has no attribute 'z'" $'S = class A slots x\ns = new S\nsetattr s z 1\n'
expect_error 2 "pymemlab: s.txt:6: setitem: RecursionError: key nested deeper than 1000" $'t = tuple\nrepeat 2000\n  t = tuple t\nend\nd = dict\nsetitem d t 1\n'
expect_error 1 "pymemlab: s.txt:3: expect len l 3: got 1" $'l = list\nappend l 5\nexpect len l 3\n'
expect_error 1 "pymemlab: s.txt:5: expect collected 0: got 1" $'l = list\nappend l l\ndel l\ncollect\nexpect collected 0\n'
# Found by fuzz_objscript (reproducers in fuzz/corpus/fuzz_objscript, fuzz/README.md):
# a quoted word with a newline or another control byte is escaped, the whole
# message one line ...
expect_whole_stderr() {
  local code=$1 want=$2 text=$3
  printf '%s' "$text" > "$tmp/s.txt"
  local got rc=0
  got=$(cd "$tmp" && "$PYMEMLAB" objrun s.txt --backend system 2>&1 >/dev/null) || rc=$?
  [ "$rc" = "$code" ] && [ "$got" = "$want" ] || fail "exit $rc, want $code, for: $text: stderr '$got', want '$want'"
}
expect_whole_stderr 2 "pymemlab: s.txt:1: unknown statement '\\n'" "$(cat "$PM_SOURCE_DIR/fuzz/corpus/fuzz_objscript/1d02614298e91e8f2d3b69ae0941fa8149a205a2")"
expect_whole_stderr 2 "pymemlab: s.txt:1: unknown statement '\\n'" '"\n"'
expect_whole_stderr 2 "pymemlab: s.txt:2: bad int 'a\\tb\\x01'" $'l = list\nx = int "a\\tb\x01"\n'
expect_whole_stderr 2 "pymemlab: s.txt:1: string \"\\xc3\\xa9\" is not ASCII" $'x = str "\xc3\xa9"\n'
# ... and a finalizer that resurrects into a list does not fail the teardown
# after the script, whichever name goes first
printf 'F = class F\na = new F\nfinalizer F resurrect keep\nkeep = list\n' > "$tmp/late.txt"
for s in "$PM_SOURCE_DIR/fuzz/corpus/fuzz_objscript/62caa6fd5e4dc6c87c1b39bc16d720a847d35870" \
         "$tmp/late.txt"; do
  out=$("$PYMEMLAB" objrun "$s" --backend system 2>&1) && grep -q "^invariants *ok" <<<"$out" ||
    fail "resurrecting finalizer at the end: $out"
done
rc=0
got=$("$PYMEMLAB" objrun "$tmp/missing.txt" --backend system 2>&1) || rc=$?
[ "$rc" = 2 ] && [ "$got" = "pymemlab: objrun: $tmp/missing.txt: cannot open: No such file or directory" ] ||
  fail "missing script: exit $rc: $got"
rc=0
got=$("$PYMEMLAB" objrun "$PM_SOURCE_DIR/tests/objscripts/sizes.txt" --backend nosuch 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "^pymemlab: unknown backend 'nosuch'" <<<"$got" || fail "bad backend: exit $rc: $got"
[ $status = 0 ] && echo "ok: error convention"
exit $status
