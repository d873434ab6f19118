#!/usr/bin/env bash
# tests/cli/rel_memlimit.sh — a large recorded trace (a real python3
# building ~60 MiB of strings) replayed under `run --mem-limit` on every own
# backend: nothing crashes, each run is recorded failed with the
# out-of-memory reason naming the op, and without the limit the same runs
# are ok. Not under ASan (its shadow memory needs terabytes of address
# space), nor without python3.
set -uo pipefail
source "$(dirname "$0")/lib.bash"
if asan_build; then echo "skipped: ASan"; exit 0; fi
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYMEMLAB" trace record -o "$tmp/big.pmt" -- python3 -c \
  'x = [str(i) * 4 for i in range(600000)]; y = {i: (i, str(i)) for i in range(200000)}' \
  >/dev/null 2>"$tmp/rec.err" || fail "record: $(cat "$tmp/rec.err")"
printf 'trace %s domain=all name=big\n' "$tmp/big.pmt" >"$tmp/big.suite"
be=pymalloc,segfit,buddy
"$PYMEMLAB" run --suite "$tmp/big.suite" --backends "$be" --reps 1 --mem-limit 96M --out "$tmp/L" \
  >/dev/null 2>"$tmp/L.err" || fail "run under --mem-limit: exit $? ($(tail -2 "$tmp/L.err"))"
python3 - "$tmp/L/results.jsonl" <<'PY' || fail "under --mem-limit: $(cat "$tmp/L/results.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert sorted(r["backend"] for r in rows) == ["buddy", "pymalloc", "segfit"], rows
for r in rows:
    assert r["status"] == "failed" and r["failure"] == "error", (r["backend"], r["failure"], r["reason"])
    assert "returned NULL (out of memory)" in r["reason"] and r["reason"].startswith("op "), r["reason"]
PY
"$PYMEMLAB" run --suite "$tmp/big.suite" --backends "$be" --reps 1 --mem-limit none --out "$tmp/N" \
  >/dev/null 2>"$tmp/N.err" || fail "run without a limit: exit $?"
python3 - "$tmp/N/results.jsonl" <<'PY' || fail "without a limit: $(cat "$tmp/N/results.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3 and all(r["status"] == "ok" for r in rows), rows
assert all(r["peak_live_bytes"] > 48 << 20 for r in rows), [r["peak_live_bytes"] for r in rows]
PY
echo "ok: out of memory under --mem-limit is a recorded failure on every own backend, never a crash"
