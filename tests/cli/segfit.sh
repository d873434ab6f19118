#!/usr/bin/env bash
# tests/cli/segfit.sh — the segfit backend from the command line: listed by
# `pymemlab backends`; every invalid option is one line "pymemlab: segfit:
# ..." on stderr and exit code 2; valid options run.
set -u
fail() { echo "FAIL: $*"; exit 1; }

out=$("$PYMEMLAB" backends) || fail "backends exited $?"
grep -Eq '^segfit +available +per-instance +segregated fit' <<<"$out" || fail "segfit not listed: $out"

expect_usage() {   # spec, expected stderr
    local err rc
    err=$("$PYMEMLAB" micro --backend "$1" --ops 2 2>&1 >/dev/null)
    rc=$?
    [ "$rc" -eq 2 ] || fail "$1: exit code $rc, expected 2 (stderr: $err)"
    [ "$err" = "$2" ] || fail "$1: stderr '$err', expected '$2'"
}
expect_usage segfit,region=0 "pymemlab: segfit: bad region size '0' (a power of two, 64K..1G)"
expect_usage segfit,region=3M "pymemlab: segfit: bad region size '3M' (a power of two, 64K..1G)"
expect_usage segfit,large=0 "pymemlab: segfit: bad large threshold '0' (a size > 0)"
expect_usage segfit,region=1M,large=1M \
    "pymemlab: segfit: large threshold 1048576 does not fit in a region of 1048576 bytes (at most 1015736)"
expect_usage segfit,sl=3 "pymemlab: segfit: bad sl '3' (subdivisions: a power of two, 1..64)"
expect_usage segfit,quick=-1 "pymemlab: segfit: bad quick '-1' (cached blocks per size, 0..4096)"
expect_usage segfit,release=1X "pymemlab: segfit: bad release amount '1X' (a size, 0 = unmap at once)"
expect_usage segfit,bins=8 "pymemlab: segfit: unknown option 'bins' (known: region, large, release, sl, quick)"
expect_usage segfit,=1 "pymemlab: segfit: malformed option '=1' (expected key=value)"
expect_usage segfit:system "pymemlab: backend 'segfit' takes no inner backend ('segfit:system')"

out=$("$PYMEMLAB" micro --backend segfit,region=64K,large=4K,release=0,sl=8,quick=0 --ops 20000 --live 500) \
    || fail "valid options rejected"
grep -q 'ns/op' <<<"$out" || fail "micro printed: $out"
echo "ok"
