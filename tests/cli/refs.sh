#!/usr/bin/env bash
# tests/cli/refs.sh — the reference backends from the command line: listed
# with their run-time versions, runnable, and a failed dlopen makes a backend
# unavailable with dlerror's reason (exit 2 naming it), not a crash.
set -euo pipefail
: "${PYMEMLAB:?}"
fail() { echo "FAIL: $*" >&2; exit 1; }
has() { grep "$@" >/dev/null; }   # not grep -q in a pipeline: see tests/cli/lib.bash

list=$("$PYMEMLAB" backends)
for b in mimalloc jemalloc tcmalloc cpython; do
  line=$(grep "^$b " <<<"$list") || fail "$b not listed"
  # a backend built without its headers is allowed to be unavailable
  if grep -q "unavailable: built without" <<<"$line"; then echo "skip $b: $line"; continue; fi
  grep -q " available " <<<"$line" || fail "$b: $line"
  "$PYMEMLAB" micro --backend "$b" --ops 20000 --live 1000 --json | has "\"backend\":\"$b\"" \
    || fail "micro --backend $b"
done
grep -q "^mimalloc .*per-instance .*mimalloc [0-9]" <<<"$list" || fail "mimalloc version: $list"
grep -q "^cpython .*global .*CPython 3\.11\.[0-9]" <<<"$list" || fail "cpython version: $list"

# The re-exec in main.c supplies jemalloc's static TLS when the caller did not.
env -u GLIBC_TUNABLES "$PYMEMLAB" micro --backend jemalloc --ops 2000 --live 100 >/dev/null \
  || fail "jemalloc without GLIBC_TUNABLES (re-exec)"

# Without the surplus and without the re-exec, dlopen fails: one line, exit 2.
rc=0
err=$(env -u GLIBC_TUNABLES PM_NO_REEXEC=1 "$PYMEMLAB" micro --backend jemalloc --ops 2000 2>&1 >/dev/null) || rc=$?
[ "$rc" = 2 ] || fail "exit $rc, want 2 ($err)"
[ "$(wc -l <<<"$err")" = 1 ] || fail "not one line: $err"
[[ "$err" == "pymemlab: backend 'jemalloc' is unavailable: "*"libjemalloc.so.2: cannot allocate memory in static TLS block" ]] \
  || fail "message: $err"
echo ok
