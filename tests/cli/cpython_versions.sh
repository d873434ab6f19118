#!/usr/bin/env bash
# tests/cli/cpython_versions.sh — `cpython,version=V`: each version found on
# the machine replays a trace; an absent one (forced with PM_LIBPYTHON_V
# pointing nowhere) is "unavailable: <why>" in `backends`, a one-line error
# (exit 2) when asked for, and skipped by the contract suite, saying so; a
# library of the wrong version is refused. Needs $PYMEMLAB.
set -euo pipefail
. "$(dirname "$0")/lib.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'pmtrace 1\n@ops 6\n@slots 3\nalloc 0 100 obj\nalloc 1 1000 mem\nrealloc 0 200 obj\nalloc 2 16 obj\nfree 1 mem\nfree 0 obj\n' >"$tmp/t.txt"

"$PYMEMLAB" backends >"$tmp/b"
n=0
for v in 3.8 3.9 3.10 3.11 3.12 3.13; do
  line=$(grep -E "^cpython,version=$v +" "$tmp/b") || fail "backends: no line for version $v"
  if [[ "$line" == *" available "* ]]; then
    "$PYMEMLAB" replay "$tmp/t.txt" --backend "cpython,version=$v" --reps 1 --json >"$tmp/r.json" ||
      fail "replay on cpython,version=$v failed"
    has '"ops":6' "$tmp/r.json" || has '"ops": 6' "$tmp/r.json" || fail "cpython,version=$v: $(cat "$tmp/r.json")"
    n=$((n + 1))
  else
    echo "cpython,version=$v skipped: ${line#*unavailable: }"
  fi
done
echo "ok: $n versions replayed"

# an absent version
PM_LIBPYTHON_3_9=/nonexistent/libpython3.9.so.1.0 "$PYMEMLAB" backends >"$tmp/b"
has -E '^cpython,version=3\.9 +unavailable: PM_LIBPYTHON_3_9=/nonexistent/libpython3\.9\.so\.1\.0: no such file' "$tmp/b" ||
  fail "backends with PM_LIBPYTHON_3_9 unset: $(grep '^cpython,version=3.9' "$tmp/b")"
PM_LIBPYTHON_3_9=/nonexistent/libpython3.9.so.1.0 expect_usage_error \
  "pymemlab: cpython,version=3.9: unavailable: PM_LIBPYTHON_3_9=/nonexistent/libpython3.9.so.1.0: no such file" \
  replay "$tmp/t.txt" --backend cpython,version=3.9
expect_usage_error "pymemlab: cpython: unknown version '3.7' (known: 3.8, 3.9, 3.10, 3.11, 3.12, 3.13)" \
  replay "$tmp/t.txt" --backend cpython,version=3.7
expect_usage_error "pymemlab: cpython: unknown option 'ver' (known: version)" \
  replay "$tmp/t.txt" --backend cpython,ver=3.12

# a library of another version is refused
lib313=$(sed -n 's/^cpython,version=3\.13 .*obmalloc (\(.*\)), .*/\1/p' "$tmp/b")
if [ -n "$lib313" ]; then
  PM_LIBPYTHON_3_12=$lib313 expect_usage_error "pymemlab: cpython,version=3.12: unavailable: $lib313 is CPython 3.13.*" \
    replay "$tmp/t.txt" --backend cpython,version=3.12
fi

# the contract suite skips an absent version, saying so
if [ -n "${PM_TEST_CONTRACT:-}" ] && [ -x "$PM_TEST_CONTRACT" ]; then
  PM_LIBPYTHON_3_9=/nonexistent "$PM_TEST_CONTRACT" >"$tmp/c" 2>&1 || fail "contract suite failed: $(tail "$tmp/c")"
  has 'contract\[cpython,version=3.9\]: skipped, unavailable: PM_LIBPYTHON_3_9=/nonexistent: no such file' "$tmp/c" ||
    fail "contract suite did not say it skipped 3.9"
fi
echo "cpython versions CLI: all checks passed"
