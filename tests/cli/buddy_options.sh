#!/usr/bin/env bash
# tests/cli/buddy_options.sh — the buddy backend from the command line: bad
# options give one line "pymemlab: buddy: ..." on stderr and exit code 2; good
# ones run; `pymemlab backends` lists buddy. Needs $PYMEMLAB (set by ctest).
set -u
fail=0

expect_usage_error() {   # spec, the exact stderr
    local out code
    out=$("$PYMEMLAB" micro --backend "$1" --ops 2 2>&1 >/dev/null)
    code=$?
    if [ "$code" != 2 ] || [ "$out" != "$2" ]; then
        echo "FAIL: --backend $1: exit $code, stderr '$out'; want exit 2, '$2'"
        fail=1
    fi
}

expect_usage_error 'buddy,min=0' 'pymemlab: buddy: min must not be zero'
expect_usage_error 'buddy,max=0' 'pymemlab: buddy: max must not be zero'
expect_usage_error 'buddy,max=3M' 'pymemlab: buddy: max=3M is not a power of two (blocks and regions are 2^k bytes)'
expect_usage_error 'buddy,min_order=21,max_order=20' \
    'pymemlab: buddy: smallest block 2097152 bytes is above the region size 1048576 bytes (min > max)'
expect_usage_error 'buddy,min=64K,max=32K' \
    'pymemlab: buddy: smallest block 65536 bytes is above the region size 32768 bytes (min > max)'
expect_usage_error 'buddy,colour=red' \
    "pymemlab: buddy: unknown option 'colour' (known: min, max, min_order, max_order, keep_empty)"
expect_usage_error 'buddy:system' "pymemlab: backend 'buddy' takes no inner backend ('buddy:system')"

for spec in buddy buddy,min=32,max=64K buddy,max_order=22,keep_empty=0; do
    if ! out=$("$PYMEMLAB" micro --backend "$spec" --ops 20K --live 1000 2>&1); then
        echo "FAIL: --backend $spec did not run: $out"
        fail=1
    fi
done

if ! "$PYMEMLAB" backends | grep '^buddy  *available  *per-instance  *binary buddy system' >/dev/null; then
    echo "FAIL: 'pymemlab backends' has no buddy line"
    fail=1
fi
exit $fail
