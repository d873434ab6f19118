#!/usr/bin/env bash
# tests/cli/fuzz.sh — the fuzzing tools from the command line (fuzz/README.md):
# scripts/fuzz.sh and scripts/fuzz-smoke.sh reject bad arguments with one
# line and exit 2 before building anything; the corpus replayers report
# unreadable paths and empty corpora; PM_FUZZ_BACKEND selects a backend (an
# unknown one aborts naming the known ones); an oracle violation aborts with
# one line "fuzz: TARGET: ..." (shown with the test-only backend whose
# check() fails on purpose); a bare reference backend is refused. Needs $PYMEMLAB and $PM_SOURCE_DIR (ctest).
set -u
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"
bin=$(dirname "$PYMEMLAB")/fuzz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# expect_exit CODE FIRST-LINE-GLOB CMD... : exit code and the first line of stderr
expect_exit() {
    local want=$1 glob=$2 rc=0 err
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    err=$(head -n 1 "$tmp/err")
    [ "$rc" = "$want" ] || bad "$*: exit $rc, want $want (stderr: $(cat "$tmp/err"))"
    [[ "$err" == $glob ]] || bad "$*: stderr '$err' does not match '$glob'"
}
one_line() {   # the last command's stderr is exactly one line
    [ "$(wc -l <"$tmp/err")" = 1 ] || bad "$1: stderr is not one line: $(cat "$tmp/err")"
}

fz=$PM_SOURCE_DIR/scripts/fuzz.sh
expect_exit 2 'fuzz.sh: a target is required: *' bash "$fz"; one_line "fuzz.sh"
expect_exit 2 "fuzz.sh: unknown target 'fuzz_nope' (known: *" bash "$fz" fuzz_nope; one_line "fuzz.sh fuzz_nope"
expect_exit 2 "fuzz.sh: --engine must be libfuzzer or afl, not 'honggfuzz'" bash "$fz" fuzz_alloc --engine honggfuzz
expect_exit 2 "fuzz.sh: --time must be a whole number of seconds >= 1, not '1m'" bash "$fz" fuzz_alloc --time 1m
expect_exit 2 "fuzz.sh: --jobs must be 1..64, not '0'" bash "$fz" fuzz_alloc --jobs 0
expect_exit 2 "fuzz.sh: unknown argument '--fast' *" bash "$fz" fuzz_alloc --fast
expect_exit 2 'fuzz.sh: --time needs a value' bash "$fz" fuzz_alloc --time
expect_exit 2 'fuzz.sh: --backend applies to fuzz_alloc, fuzz_oom, fuzz_frag and fuzz_retention, not fuzz_trace' \
    bash "$fz" fuzz_trace --backend buddy
expect_exit 2 "fuzz-smoke.sh: SECONDS must be a whole number >= 1, not 'x'" \
    bash "$PM_SOURCE_DIR/scripts/fuzz-smoke.sh" x

# scripts/fuzz-cpu.sh: bad arguments and missing binaries, one line, exit 2
expect_exit 2 "fuzz-cpu.sh: give at least one LABEL=ROOT" bash "$PM_SOURCE_DIR/scripts/fuzz-cpu.sh"
expect_exit 2 "fuzz-cpu.sh: --rounds needs a positive integer" \
    bash "$PM_SOURCE_DIR/scripts/fuzz-cpu.sh" --rounds 0 a=.
expect_exit 2 "fuzz-cpu.sh: --repeat needs a positive integer" \
    bash "$PM_SOURCE_DIR/scripts/fuzz-cpu.sh" --repeat x a=.
expect_exit 2 "fuzz-cpu.sh: unknown argument '--bogus'" bash "$PM_SOURCE_DIR/scripts/fuzz-cpu.sh" --bogus
expect_exit 2 "fuzz-cpu.sh: $tmp/none/build/fuzz-libfuzzer-fast/fuzz/fuzz_alloc: no such binary (build it first)" \
    bash "$PM_SOURCE_DIR/scripts/fuzz-cpu.sh" "a=$tmp/none@-fast"

# scripts/fuzz-where.sh: bad arguments, one line, exit 2 (before building)
expect_exit 2 "fuzz-where.sh: name at least one target (e.g. fuzz_alloc)" bash "$PM_SOURCE_DIR/scripts/fuzz-where.sh"
expect_exit 2 "fuzz-where.sh: no corpus fuzz/corpus/fuzz_nope (not a fuzz target)" \
    bash "$PM_SOURCE_DIR/scripts/fuzz-where.sh" fuzz_nope
expect_exit 2 "fuzz-where.sh: --repeat needs a positive integer" \
    bash "$PM_SOURCE_DIR/scripts/fuzz-where.sh" --repeat 0 fuzz_alloc
# its classifier on a hand-made perf script (innermost frame first): 10
# samples, 8 inside the target: check() 3 (leaf_bits under pymalloc_check,
# pymalloc_check under debug_check, seg_check), backend calls 1, content 2
# (verify_block; a memset called by fz_heap_realloc), OS layer 1, other 1
sample() { printf 'x\n'; for f in "$@"; do printf '\t 0 %s+0x1\n' "$f"; done; printf '\n'; }
{
    sample leaf_bits pymalloc_check fz_heap_check fz_heap_op LLVMFuzzerTestOneInput main
    sample pymalloc_check debug_check fz_heap_misuse fz_heap_op LLVMFuzzerTestOneInput main
    sample seg_check fz_heap_close LLVMFuzzerTestOneInput main
    sample pool_alloc_new pymalloc_malloc fz_heap_malloc fz_heap_op LLVMFuzzerTestOneInput main
    sample fz_diff_at verify_block fz_heap_verify fz_heap_after_op LLVMFuzzerTestOneInput main
    sample __memset_avx512_unaligned_erms fz_heap_realloc fz_heap_op LLVMFuzzerTestOneInput main
    sample zero_resident map pm_os_map LLVMFuzzerTestOneInput main
    sample fz_u8 fz_heap_step LLVMFuzzerTestOneInput main
    sample fuzzer::Fuzzer::RunOne main
    sample __libc_start_main
} >"$tmp/perf.txt"
python3 "$PM_SOURCE_DIR/scripts/fuzz-where.py" <"$tmp/perf.txt" >"$tmp/where" 2>&1 || bad "fuzz-where.py failed: $(cat "$tmp/where")"
want="10 samples, 8 (80%) inside LLVMFuzzerTestOneInput:
  check()                   37.5%
  content oracle            25.0%
  create                     0.0%
  destroy                    0.0%
  shadow model (fuzz_gc)     0.0%
  backend calls             12.5%
  OS layer (map, re-zero)   12.5%
  page faults                0.0%
  the target's other work   12.5%"
[ "$(cat "$tmp/where")" = "$want" ] || bad "fuzz-where.py on the hand-made samples printed:
$(cat "$tmp/where")"
printf 'x\n\t 0 main\n\n' | python3 "$PM_SOURCE_DIR/scripts/fuzz-where.py" >/dev/null 2>"$tmp/err"
[ $? = 2 ] && one_line "fuzz-where.py without samples in the target" || bad "fuzz-where.py: no sample in the target is not exit 2"

# fuzz_trace: an error message cut to PM_ERR_LEN ("...") is cut earlier
# when the trace is opened as /proc/self/fd/N than as "input": the same
# error, not a difference (found by the fuzz smoke once fuzz_trace ran 15x
# faster; the oracle failed with "errors differ" before)
echo 'cG10cmFjZSAxCkBvcHMgNjAKQHNsb3RzIDgKQG1ldGEgZ2VuZXJhdG9yPXB5bWVtbGFiIHRyYWNlIGdlbgpAbWV0YSBwYXR0ZXJuPWxpZm8KQG1ldGEgb3BzPTYwCkBtZXRhIGxpdmU9MTAKQG1ldGEgcwEDJAEDJAEDJAEDAQIEIQI4BCECNgQhAiQEIQIuAgQDJAEDJAEDJAEDJAEDAcEEIQI3BCECKwQhAhQEIQI3BCECMgQhAggEIQI1AgQDJAEDZWVkPTEKQG1ldGEgc2l6ZXM9cHl0aG9uCmFsbG9jIDAgNTgKYWxsb2MgMSA0NAphbGxvYyAyIDE4CmFsbG9jIDMgNDYKYWxsb2MgNCA2MwphbGxvYyA1IDE1OQphbGxvYyA2ICM4CmFsbG9jIDcgNjYKZnJlZSA3CmZyZWUgNgpmcmVlIDUKZnJlZSA0CmZyMwplZSBmcmVlIDIKZnJlZSAxCmZyZWUgMAphbGxvYyAwIDIKYWxsb2MgMSA1NgphbGxvYyAyIDU0CmFsbG9jIDMgMzYKYWxsb2MgNCA0NgpmcmVlIDQKZnJlZSAzCmZyZWUgMgpmcmVlIDEKZnJlZSAwCmFsbG9jIDAgMTkzCmFsbG9jIDEgNTUKYWxsb2MgMiA0MwphbGxvYyAzIDIwCmFsbG9jIDQgNTUKYWxsb2MgNSA1MAphbGxvYyA2IDgKYWxsb2MgNyA1MwpmcmVlIDcKZnJlZSA2CmZyZWUgNQpmcmVlIDQKZnJlZSAzCmZyZWUgMgpmcmVlIDEKZnJlZSAwCmFsbG9jIDAgNTcKYWxsb2MgMSAxNdUxCmEBAH/83bNYBzcKYWxsb2MgMyA4MAphbGxvYyA0IDY4CmZyZWUgNApmcmVlIDMKZnJlZSAyCmZyZWUgAAAAAAAAAP//////////AAAAAAAAAABNAAAAAAAAAGdlbmVyYXRvcj1weW1lbWxhYiB0cmFjZSBnZW4KcGF0dGVybj1saWZvCm9wcz02MApsaXZlPTEwCnNlZWQ9MQpzaXplcz1weXRob24KAwE6BCECLAQhAhIEIQIuBCECPwQhAp8EIQI6BCECQgIEAyQBAyQBAyQBAyQBAyQBAyQBAyQBAwECBCECOAQhAjYEIQIkBCECLgIEAyQBAyQBAyQBAyQBAwHBBCECNwQhAisEIQIUBCECNwQhAjIEIQIIBCECNQIEAyQBAyQBAyQBAyQBAyQBAyQBAyQBA2VlIDEKZnJlZSAwCmFsbG9jIDAgMjUKYWxsb2MgMSA1OAphbGxvYyAyIDU1CmFsbG9jIDMAMTU0CmZyZWUgMwpmcmVlIDIKZnJlZSAxCmZyZWUgMAo=' | base64 -d >"$tmp/cut-error"
"$bin/fuzz_trace_replay" "$tmp/cut-error" >"$tmp/out" 2>&1 || bad "fuzz_trace on a cut error message: $(cat "$tmp/out")"

# the replayers
expect_exit 2 'usage: *' "$bin/fuzz_alloc_replay"
expect_exit 1 "replay: $tmp/none: No such file or directory" "$bin/fuzz_alloc_replay" "$tmp/none"
mkdir "$tmp/empty"
expect_exit 1 "replay: $tmp/empty holds no input" "$bin/fuzz_trace_replay" "$tmp/empty"
for t in "$bin"/fuzz_*_replay; do
    name=$(basename "$t" _replay)
    [ -d "$PM_SOURCE_DIR/fuzz/corpus/$name" ] || bad "$name has no corpus in fuzz/corpus/"
done

# PM_FUZZ_BACKEND: every fuzz_alloc and fuzz_oom input on one backend
printf '\0\0\0\x10\0\x01\0\0\x10\0\x02\0\0\x10\0\x0d\x01' >"$tmp/ops"
for spec in buddy debug:buddy 'buddy,max=64K,keep_empty=0' null; do
    for t in fuzz_alloc fuzz_oom; do
        PM_FUZZ_BACKEND=$spec "$bin/${t}_replay" "$tmp/ops" "$PM_SOURCE_DIR/fuzz/corpus/$t" \
            >/dev/null 2>"$tmp/err" || bad "PM_FUZZ_BACKEND=$spec $t: $(head -n 3 "$tmp/err")"
    done
done
expect_exit 134 'fuzz: fuzz_alloc: PM_FUZZ_BACKEND=nope: unknown backend (known: *' \
    env PM_FUZZ_BACKEND=nope "$bin/fuzz_alloc_replay" "$tmp/ops"

expect_exit 134 'fuzz: fuzz_alloc: system: a reference backend; fuzz it wrapped (debug:system) or through fuzz_diff' \
    env PM_FUZZ_BACKEND=system "$bin/fuzz_alloc_replay" "$tmp/ops"
env PM_FUZZ_BACKEND=debug:system "$bin/fuzz_alloc_replay" "$PM_SOURCE_DIR/fuzz/corpus/fuzz_alloc" \
    >/dev/null 2>"$tmp/err" || bad "PM_FUZZ_BACKEND=debug:system fuzz_alloc: $(head -n 3 "$tmp/err")"

# an oracle violation: check() of test-badcheck fails after 2 mallocs (it is
# glibc underneath, a global backend: through the debug wrapper)
expect_exit 134 'fuzz: fuzz_alloc: debug:test-badcheck,after=2: check() found 1 violation(s): test-badcheck: *' \
    env PM_FUZZ_BACKEND=debug:test-badcheck,after=2 "$bin/fuzz_alloc_replay" "$tmp/ops"

exit $fail
