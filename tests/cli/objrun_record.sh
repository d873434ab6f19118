#!/usr/bin/env bash
# tests/cli/objrun_record.sh — `objrun --record-trace`: the object layer's
# requests, teed into a raw trace, are the same on every backend (byte-
# identical files), replay cleanly, and a bad output path is exit 2 with no
# file left behind.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
script="$PM_SOURCE_DIR/tests/objscripts/class_cycle.txt"
first=
for b in $("$PYMEMLAB" backends | awk 'NR > 1 && $2 == "available" && $3 == "per-instance" && $1 != "null" && $1 !~ /:/ {print $1}') system; do
  "$PYMEMLAB" objrun "$script" --backend "$b" --record-trace "$tmp/$b.pmt" --json >/dev/null
  [ -s "$tmp/$b.pmt" ] || fail "$b: no trace written"
  if [ -z "$first" ]; then first=$b; continue; fi
  cmp -s "$tmp/$first.pmt" "$tmp/$b.pmt" || fail "the trace recorded on $b differs from the one on $first"
done
info=$("$PYMEMLAB" trace info "$tmp/system.pmt")
grep -Eq "^domains +none 0 raw 0 mem 0 obj [1-9]" <<<"$info" || fail "ops tagged obj: $info"
grep -q "final 0" <<<"$info" || fail "everything freed at the end: $info"
"$PYMEMLAB" replay "$tmp/system.pmt" --backend pymalloc --reps 1 --check-every 1 >/dev/null || fail "replay of the recorded trace"
expect_usage_error "pymemlab: objrun: $tmp/nodir/x.pmt*" objrun "$script" --backend system --record-trace "$tmp/nodir/x.pmt"
[ ! -e "$tmp/nodir" ] || fail "created something for a bad path"
echo ok
