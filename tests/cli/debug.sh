#!/usr/bin/env bash
# tests/cli/debug.sh — the debug:NAME wrapper from the command line: a short
# micro run over system, and bad specs (exit 2, one "pymemlab: ..." line).
set -uo pipefail
: "${PYMEMLAB:?PYMEMLAB must point at the pymemlab binary}"
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run NAME EXPECTED_RC EXPECTED_STDERR ARGS...: stderr must match the bash
# pattern (literal text, * for any), or be empty when the pattern is "".
run() {
  local name=$1 want_rc=$2 want_err=$3
  shift 3
  "$PYMEMLAB" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  [ "$rc" = "$want_rc" ] || fail "$name: exit $rc, expected $want_rc (stderr: $(cat "$tmp/err"))"
  if [ -n "$want_err" ]; then
    [[ "$(cat "$tmp/err")" == $want_err ]] || fail "$name: stderr '$(cat "$tmp/err")', expected '$want_err'"
  elif [ -s "$tmp/err" ]; then
    fail "$name: unexpected stderr: $(cat "$tmp/err")"
  fi
}

run micro 0 "" micro --backend debug:system --ops 200K
grep -q '^debug:system .* 200000 ops .* ns/op' "$tmp/out" || fail "micro: output '$(cat "$tmp/out")'"

run json 0 "" micro --backend debug:system --ops 10K --live 1000 --json
grep -q '"backend":"debug:system"' "$tmp/out" || fail "json: output '$(cat "$tmp/out")'"

# the list of known backends grows as backends are added
run nosuch 2 "pymemlab: unknown backend 'nosuch' (known: *debug:NAME*)" micro --backend debug:nosuch
run no-inner 2 "pymemlab: backend 'debug' wraps another: write debug:NAME" micro --backend debug
run empty-inner 2 "pymemlab: debug: no inner backend (write debug:NAME, e.g. debug:system)" \
  micro --backend debug:
run inner-option 2 "pymemlab: backend 'system' takes no options ('x=1')" \
  micro --backend debug:system,x=1

run backends 0 "" backends
grep -q '^debug:NAME  *available  *as wrapped ' "$tmp/out" || fail "backends: no debug:NAME line in '$(cat "$tmp/out")'"

[ "$fails" = 0 ] && echo "cli debug: all passed"
exit $((fails > 0))
