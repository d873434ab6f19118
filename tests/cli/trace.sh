#!/usr/bin/env bash
# tests/cli/trace.sh — `pymemlab trace` from the command line: the
# gen -> convert -> convert round trip is byte-identical, and every bad input
# is one line "pymemlab: ..." with exit code 2 and no output file created or
# changed. Run by ctest with $PYMEMLAB set to the binary.
set -euo pipefail
P=${PYMEMLAB:?set PYMEMLAB to the pymemlab binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_error "exact stderr line" cmd args... : exit 2, exactly that one line
expect_error() {
    local want=$1; shift
    local code=0
    "$@" >out.stdout 2>out.stderr || code=$?
    if [ "$code" -ne 2 ]; then fail "$*: exit $code, expected 2"; fi
    if [ "$(cat out.stderr)" != "$want" ]; then
        fail "$*: stderr was '$(cat out.stderr)', expected '$want'"
    fi
    if [ "$(wc -l <out.stderr)" -ne 1 ]; then fail "$*: stderr is not one line"; fi
}

# --- round trip: gen -> convert (text) -> convert (binary) -> cmp, every pattern
for pat in lifo fifo churn growth survivors; do
    case $pat in
        survivors) opts=(--live 3000 --keep-every 7 --again 100) ;;
        growth) opts=(--ops 20000 --live 30 --max-len 2000) ;;
        *) opts=(--ops 20000 --live 200) ;;
    esac
    "$P" trace gen "$pat" "${opts[@]}" --seed 3 -o "$pat.pmt" >/dev/null
    "$P" trace convert "$pat.pmt" "$pat.txt" >/dev/null
    "$P" trace convert "$pat.txt" "$pat.2.pmt" >/dev/null
    cmp "$pat.pmt" "$pat.2.pmt" || fail "$pat: binary -> text -> binary differs"
    "$P" trace dump "$pat.2.pmt" >"$pat.dump.txt"
    cmp "$pat.txt" "$pat.dump.txt" || fail "$pat: dump differs from convert's text"
    "$P" trace gen "$pat" "${opts[@]}" --seed 3 -o "$pat.again.pmt" >/dev/null
    cmp "$pat.pmt" "$pat.again.pmt" || fail "$pat: the same options gave another file"
done
# --to overrides the extension; gen writes text for .txt
"$P" trace convert churn.pmt churn.as-text.pmt --to text >/dev/null
cmp churn.txt churn.as-text.pmt || fail "convert --to text"
"$P" trace gen churn --ops 20000 --live 200 --seed 3 -o churn.gen.txt >/dev/null
cmp churn.txt churn.gen.txt || fail "gen -o x.txt writes the text form"

# --- a small trace whose bytes are known (docs/trace-format.md)
cat >a.txt <<'T'
pmtrace 1
@ops 4
@slots 2
alloc 0 128
alloc 1 16
free 0
free 1
T
"$P" trace convert a.txt a.pmt >/dev/null
[ "$(wc -c <a.pmt)" -eq 53 ] || fail "a.pmt is $(wc -c <a.pmt) bytes, expected 53"

# truncated stream: strict is an error, lenient reads the whole ops
head -c 52 a.pmt >cut.pmt
expect_error "pymemlab: cut.pmt: op 3 at byte 50: stream cut inside a free: 2 of its 3 bytes are in the file" \
    "$P" trace dump cut.pmt
[ ! -s out.stdout ] || fail "dump of a bad trace printed something"
expect_error "pymemlab: cut.pmt: op 3 at byte 50: stream cut inside a free: 2 of its 3 bytes are in the file" \
    "$P" trace convert cut.pmt cut.txt
[ ! -e cut.txt ] && [ ! -e cut.txt.tmp ] || fail "convert of a bad trace created its output"
"$P" trace convert --lenient cut.pmt cut.txt >/dev/null 2>lenient.err || fail "lenient convert failed"
grep -q "read leniently: 3 whole ops; dropped 2 bytes of a partial op; 1 ops the header promised are missing" \
    lenient.err || fail "lenient note: $(cat lenient.err)"
grep -q '^@ops 3$' cut.txt || fail "lenient output does not have 3 ops"

# wrong magic, wrong version
cp a.pmt magic.pmt
printf 'X' | dd of=magic.pmt bs=1 seek=6 conv=notrunc status=none
expect_error 'pymemlab: magic.pmt: byte 0: bad magic (not a pymemlab trace: expected "PMTRACE\0")' \
    "$P" trace convert magic.pmt magic.txt
[ ! -e magic.txt ] || fail "output created for a bad magic"
cp a.pmt version.pmt
printf '\002' | dd of=version.pmt bs=1 seek=8 conv=notrunc status=none
expect_error "pymemlab: version.pmt: byte 8: unsupported trace version 2 (this build reads version 1)" \
    "$P" trace dump version.pmt

# a bad op in the binary form: the output file is left as it was
sed 's/^free 1$/free 0/' a.txt >notlive.txt
expect_error "pymemlab: notlive.txt:7: free of slot 0 which is not live" "$P" trace convert notlive.txt x.pmt
[ ! -e x.pmt ] || fail "convert of a bad text trace created its output"
head -c 50 a.pmt >notlive.pmt && printf '\002\004' >>notlive.pmt   # op 3: free 0 again (02 04)
echo old >existing.pmt
expect_error "pymemlab: notlive.pmt: op 3 at byte 50: free of slot 0 which is not live" \
    "$P" trace convert notlive.pmt existing.pmt
[ "$(cat existing.pmt)" = old ] || fail "an existing output was changed"
[ ! -e existing.pmt.tmp ] || fail "a .tmp was left behind"

# header counts against the stream
sed 's/^@ops 4$/@ops 5/' a.txt >fewer.txt
expect_error "pymemlab: fewer.txt:2: the header says 5 ops but the trace has 4" "$P" trace dump fewer.txt
"$P" trace convert a.txt a5.pmt >/dev/null
printf '\005' | dd of=a5.pmt bs=1 seek=16 conv=notrunc status=none
expect_error "pymemlab: a5.pmt: op 4 at byte 53: the stream ends after 4 ops but the header says 5" \
    "$P" trace info a5.pmt
sed 's/^alloc 1 16$/alocc 1 16/' a.txt >op.txt
expect_error "pymemlab: op.txt:5: unknown op 'alocc' (known: alloc, calloc, realloc, free, aligned, phase)" \
    "$P" trace dump op.txt

# command-line mistakes
expect_error "pymemlab: gen: unknown pattern 'heap' (known: lifo, fifo, churn, growth, survivors, adversary)" \
    "$P" trace gen heap -o heap.pmt
[ ! -e heap.pmt ] && [ ! -e heap.pmt.tmp ] || fail "gen of an unknown pattern created a file"
expect_error "pymemlab: gen survivors: --ops does not apply to this pattern (see docs/patterns.md)" \
    "$P" trace gen survivors --ops 10 -o s.pmt
[ ! -e s.pmt ] || fail "gen with a bad option created a file"
expect_error "pymemlab: trace gen: -o OUT is required" "$P" trace gen churn
expect_error "pymemlab: trace gen: bad value for --sizes: 'zipf' (expected python or uniform:MIN-MAX)" \
    "$P" trace gen churn --sizes zipf -o z.pmt
expect_error "pymemlab: gen churn: --ops 10 is too small for --live 100000 (needs at least 200002)" \
    "$P" trace gen churn --ops 10 -o z.pmt
expect_error "pymemlab: trace convert: bad value for --to: 'xml' (expected text or binary)" \
    "$P" trace convert a.pmt a.xml --to xml
expect_error "pymemlab: nope.pmt: cannot open: No such file or directory" "$P" trace dump nope.pmt
expect_error "pymemlab: trace: unknown subcommand 'play' (known: gen, convert, dump, info, bench, record, import, stats)" "$P" trace play
expect_error "pymemlab: trace: needs a subcommand: gen, convert, dump, info, bench, record, import, stats (see 'pymemlab help trace')" \
    "$P" trace
[ ! -e z.pmt ] || fail "a failed gen created its output"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "trace.sh: all passed"
