#!/usr/bin/env bash
# tests/cli/gcbench.sh — `pymemlab gcbench` on a small graph: exact collected
# count (half of the containers), the JSON keys, the error convention; and
# scripts/gcbench-cpython.py on the same graph when python3 is there.
set -euo pipefail
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"
status=0
fail() { echo "FAIL: $*" >&2; status=1; }

for b in system $("$PYMEMLAB" backends |
    awk 'NR > 1 && $2 == "available" && $3 == "per-instance" && $1 != "null" { print $1 }'); do
  js=$("$PYMEMLAB" gcbench --objects 20000 --backend "$b" --json) || { fail "$b: exit $?"; continue; }
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["backend"] == sys.argv[2], d
assert d["objects"] == 20002 and d["containers"] == 20000, d
assert d["collected"] == 10000, d
assert d["ns_per_object"] > 0, d
' "$js" "$b" || fail "$b: $js"
  out=$("$PYMEMLAB" gcbench --objects 1000 --backend "$b")
  grep -q "collected 500 in" <<<"$out" || fail "$b text: $out"
done

js=$(python3 "$PM_SOURCE_DIR/scripts/gcbench-cpython.py" --objects 20000 --json)
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["collected"] >= 10000 and d["objects"] >= 20000 and d["ns_per_object"] > 0, d
' "$js" || fail "cpython: $js"

rc=0
err=$("$PYMEMLAB" gcbench --objects x --backend system 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "^pymemlab: bad value for --objects: 'x'" <<<"$err" || fail "bad --objects: $rc $err"
rc=0
err=$("$PYMEMLAB" gcbench --objects 100 2>&1) || rc=$?
[ "$rc" = 2 ] && [ "$err" = "pymemlab: gcbench: --backend is required (see 'pymemlab backends')" ] ||
  fail "no backend: $rc $err"
[ $status = 0 ] && echo "ok: gcbench"
exit $status
