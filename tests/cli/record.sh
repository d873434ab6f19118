#!/usr/bin/env bash
# tests/cli/record.sh — `pymemlab trace record` (the preloaded recorder),
# `trace import --format mtrace` and `trace stats` from the command line:
#  - tests/record_prog (built with the tests) with a known allocation sequence
#    gives exactly the expected trace; threads, fork (child left out), _exit
#    (finished), exec (the new image's trace), SIGKILL (an unfinished trace
#    the reader accepts leniently up to its last whole op, reported);
#  - python3 -c ... gives a valid trace with obj-domain ops that replays on
#    every available backend (both with the PyMem hooks and in the
#    PYTHONMALLOC=malloc fallback), for the pyenv-style python on PATH and
#    Debian's /usr/bin/python3.11 when present;
#  - mtrace import of a hand-written log (exact trace and counts) and of a
#    log glibc writes for record_prog;
#  - bad input: one line "pymemlab: ...", exit 2, no output file.
# Run by ctest with $PYMEMLAB set to the binary.
set -euo pipefail
P=${PYMEMLAB:?set PYMEMLAB to the pymemlab binary}
PROG=$(dirname "$P")/tests/record_prog
[ -x "$PROG" ] || { echo "FAIL: $PROG is missing (build the record_prog target)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset PYTHONMALLOC PYTHONDEVMODE PM_RECORD_NO_HOOKS PM_RECORDER_LIB   # the defaults are under test
cd "$tmp"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
has() { grep "$@" >/dev/null; }   # not grep -q in a pipeline: see tests/cli/lib.bash

# expect_error "stderr glob" cmd args... : exit 2, exactly one line matching
expect_error() {
    local want=$1; shift
    local code=0
    "$@" >out.stdout 2>out.stderr || code=$?
    [ "$code" -eq 2 ] || fail "$*: exit $code, expected 2 (stderr: $(cat out.stderr))"
    [ "$(wc -l <out.stderr)" -eq 1 ] || fail "$*: stderr is not one line: $(cat out.stderr)"
    # shellcheck disable=SC2053
    [[ "$(cat out.stderr)" == $want ]] || fail "$*: stderr '$(cat out.stderr)' does not match '$want'"
}
ops_of() { "$P" trace dump "$@" | grep -v '^[@p]'; }

# --- the known sequence, op for op (slots: LIFO reuse of freed slots)
cat >seq.expected <<'T'
alloc 0 100
calloc 1 10 20
realloc 0 5000
aligned 2 48 64
aligned 3 8192 4096
alloc 4 24
free 1
alloc 1 33
free 1
alloc 1 0
free 2
free 0
alloc 0 7
free 3
free 4
free 1
free 0
T
"$P" trace record -o seq.pmt -- "$PROG" seq 2>seq.log || fail "record seq: exit $? ($(cat seq.log))"
ops_of seq.pmt >seq.got
diff seq.expected seq.got >/dev/null || fail "record seq: trace differs: $(diff seq.expected seq.got | head -5)"
"$P" trace info seq.pmt | has "finished" || fail "record seq: not finished"
for k in "command=$PROG seq" "recorder.mode=all" "exe=" "date=20" "pid=" "recorder.end=exit"; do
    "$P" trace info seq.pmt | has "meta *$k" || fail "record seq: no metadata '$k'"
done
[ ! -e seq.pmt.tmp ] || fail "record seq: seq.pmt.tmp left behind"

# exec: the trace is the new image's (the old image's malloc(12345) is gone)
"$P" trace record -o exec.pmt -- "$PROG" exec 2>/dev/null || fail "record exec: exit $?"
ops_of exec.pmt >exec.got
diff seq.expected exec.got >/dev/null || fail "record exec: trace differs from seq"

# threads: 4 x 10000 malloc/free pairs, serialised into one valid trace
"$P" trace record -o thr.pmt -- "$PROG" threads 2>/dev/null || fail "record threads: exit $?"
n=$("$P" trace dump thr.pmt | grep -c '^alloc ' || true)
[ "$n" -ge 40000 ] || fail "record threads: $n allocs, expected >= 40000"

# fork: the child's 100 mallocs and its free are left out
"$P" trace record -o fork.pmt -- "$PROG" fork 2>/dev/null || fail "record fork: exit $?"
[ "$(ops_of fork.pmt | tr '\n' ';')" = "alloc 0 111;free 0;" ] || fail "record fork: $(ops_of fork.pmt | tr '\n' ';')"

# _exit: the trace is finished all the same
"$P" trace record -o exit.pmt -- "$PROG" exit 2>/dev/null || fail "record exit: exit $?"
[ "$(ops_of exit.pmt | tr '\n' ';')" = "alloc 0 10;alloc 1 20;" ] || fail "record _exit: $(ops_of exit.pmt | tr '\n' ';')"
"$P" trace info exit.pmt | has "recorder.end=_exit" || fail "record _exit: recorder.end"

# SIGKILL: every op before the kill is kept (5000 allocs, 3333 frees), the
# header stays unfinished, the strict reader refuses and the lenient one reads.
code=0
"$P" trace record -o kill.pmt -- "$PROG" kill 5000 2>kill.log || code=$?
[ "$code" -eq 1 ] || fail "record kill: exit $code, expected 1"
grep -q "was killed before the recording finished: kill.pmt keeps the 8333 whole ops" kill.log ||
    fail "record kill: no truncation report: $(cat kill.log)"
expect_error "pymemlab: kill.pmt: op 0 at byte *: the recording did not finish (the header's op count is unknown; 8333 whole ops follow): read it leniently to replay them" \
    "$P" trace stats kill.pmt
"$P" trace stats --lenient --json kill.pmt >kill.json 2>kill.err || fail "stats --lenient kill.pmt: exit $?"
grep -q '"finished":false' kill.json || fail "stats --lenient: finished"
grep -q '"ops":8333' kill.json || fail "stats --lenient: ops: $(head -c 300 kill.json)"
grep -q "read leniently: 8333 whole ops (the recording did not finish)" kill.err || fail "stats --lenient: no note"
"$P" replay --lenient kill.pmt --backend system --reps 1 >/dev/null 2>&1 || fail "replay --lenient kill.pmt"
# trace record killed along with its command: OUT.tmp keeps the ops and the
# recorder's zero-filled tail; --salvage cuts and renames it.
"$P" trace record -o both.pmt -- "$PROG" kill 3000 2>/dev/null || true
mv both.pmt both.pmt.tmp
head -c 100000 /dev/zero >>both.pmt.tmp
"$P" trace info --lenient both.pmt.tmp >/dev/null 2>&1 && fail "a zero tail read as ops"
"$P" trace record --salvage both.pmt.tmp -o both.pmt 2>salv.log || fail "salvage: exit $?"
grep -q "both.pmt: 5000 ops (unfinished; 100000 bytes of preallocated tail cut)" salv.log || fail "salvage: $(cat salv.log)"
[ ! -e both.pmt.tmp ] || fail "salvage: the .tmp is still there"
expect_error "pymemlab: trace record: no-such.tmp: cannot open: No such file or directory" \
    "$P" trace record --salvage no-such.tmp -o x.pmt
# A trace cut inside its last op: the lenient reader drops it, and says so
# (the recorder's own cut, after a death mid-op, is tested in test_recorder.c).
"$P" trace record -o kill2.pmt -- "$PROG" kill 30 2>/dev/null || true
ops=$("$P" trace info --lenient kill2.pmt | awk '/^ops/ {print $2}')
head -c -1 kill2.pmt >part.pmt
"$P" trace stats --lenient --json part.pmt >part.json 2>part.err || fail "stats --lenient part.pmt: exit $?"
grep -q "\"ops\":$((ops - 1))" part.json || fail "part.pmt: ops, expected $((ops - 1)): $(head -c 200 part.json)"
grep -q "dropped [1-9][0-9]* bytes of a partial op" part.err || fail "part.pmt: no dropped-bytes note: $(cat part.err)"

# --- Python: domain-tagged ops; replays on every available backend
backends=$("$P" backends | awk 'NR > 1 && $2 == "available" && $1 !~ /:/ {print $1}')
pyprog='import json; d = {str(i): [i, str(i) * 3] for i in range(3000)}; s = json.dumps(d); assert json.loads(s) == d'
pythons=()
command -v python3 >/dev/null && pythons+=(python3)
[ -x /usr/bin/python3.11 ] && pythons+=(/usr/bin/python3.11)
[ ${#pythons[@]} -gt 0 ] || echo "SKIP: no python3" >&2
i=0
for py in "${pythons[@]}"; do
    i=$((i + 1))
    "$P" trace record -o py$i.pmt -- "$py" -c "$pyprog" 2>py$i.log || fail "record $py: exit $? ($(cat py$i.log))"
    "$P" trace stats --json py$i.pmt >py$i.json || fail "stats py$i.pmt"
    obj=$(sed 's/.*"obj":{"alloc":\([0-9]*\).*/\1/' py$i.json)
    [ "$obj" -gt 10000 ] || fail "record $py: $obj obj-domain allocs"
    grep -q '"none":{"alloc":0,"calloc":0,"realloc":0,"free":0' py$i.json || fail "record $py: plain ops in python-domains mode"
    "$P" trace info py$i.pmt | has "meta *python.version=3" || fail "record $py: no python.version"
    "$P" trace info py$i.pmt | has "meta *recorder.error" && fail "record $py: recorder.error set"
    for b in $backends; do
        for d in all pymalloc; do
            "$P" replay py$i.pmt --backend "$b" --domain $d --reps 1 --json >/dev/null 2>py.err ||
                fail "replay $py's trace on $b --domain $d: $(cat py.err)"
        done
    done
done
if [ ${#pythons[@]} -gt 0 ]; then
    py=${pythons[0]}
    # --all: the plain malloc calls too, and no request twice (raw-domain
    # blocks are malloc's, recorded once, as raw)
    PYTHONHASHSEED=0 "$P" trace record --all -o pyall.pmt -- "$py" -c "$pyprog" 2>/dev/null || fail "record --all: exit $?"
    PYTHONHASHSEED=0 "$P" trace record -o pydom.pmt -- "$py" -c "$pyprog" 2>/dev/null || fail "record: exit $?"
    "$P" trace stats --json pyall.pmt >pyall.json
    "$P" trace stats --json pydom.pmt >pydom.json
    grep -q '"none":{"alloc":[1-9]' pyall.json || fail "record --all: no plain mallocs"
    # the same domain ops in both modes (a raw request is not also a plain
    # malloc op); CPython's stream varies by a few ops from run to run
    dom_ops() { sed 's/.*"domains":{\(.*\)},"tagged".*/\1/' "$1" | tr -c '0-9\n' ' ' | awk '{for (i = 6; i <= NF; i++) s += $i} END {print s}'; }
    raw_ops() { sed 's/.*"raw":{"alloc":\([0-9]*\),"calloc":\([0-9]*\),"realloc":\([0-9]*\),"free":\([0-9]*\).*/\1 \2 \3 \4/' "$1"; }
    [ "$(raw_ops pyall.json)" = "$(raw_ops pydom.json)" ] || fail "record --all: raw ops $(raw_ops pyall.json), without --all $(raw_ops pydom.json)"
    a=$(dom_ops pyall.json) b=$(dom_ops pydom.json)
    [ $((a > b ? a - b : b - a)) -le 50 ] || fail "record --all: $a domain ops, without --all $b"
    # no hooks: PYTHONMALLOC=malloc and plain interposition (domain none)
    PM_RECORD_NO_HOOKS=1 "$P" trace record -o pyfb.pmt -- "$py" -c "$pyprog" 2>/dev/null || fail "fallback: exit $?"
    "$P" trace info pyfb.pmt | has "recorder.mode=malloc (python-domains fallback" || fail "fallback: mode"
    "$P" trace stats --json pyfb.pmt >pyfb.json
    grep -q '"obj":{"alloc":0,' pyfb.json || fail "fallback: obj ops"
    nalloc=$(sed 's/.*"none":{"alloc":\([0-9]*\).*/\1/' pyfb.json)
    [ "$nalloc" -gt 10000 ] || fail "fallback: only $nalloc allocs (pymalloc not bypassed?)"
    "$P" replay pyfb.pmt --backend system --reps 1 >/dev/null || fail "fallback: replay"
    # PYTHONMALLOC set: CPython replaces the hooks; said before and after
    PYTHONMALLOC=pymalloc "$P" trace record -o pym.pmt -- "$py" -c "$pyprog" 2>pym.log || true
    grep -q "warning: PYTHONMALLOC=pymalloc is set" pym.log || fail "PYTHONMALLOC: no warning"
    grep -q "the interpreter replaced the PyMem hooks" pym.log || fail "PYTHONMALLOC: hooks loss not reported"
fi

# --- mtrace import: a hand-written log with every line kind
cat >hand.log <<'T'
= Start
@ ./prog:[0x401136] + 0x1000 0x64
@ /lib/x86_64-linux-gnu/libc.so.6:(__libc_start_main+0x80)[0x7f00] + 0x2000 0x10
+ 0x3000 0
@ ./prog:[0x1] - 0x9999
@ ./a prog with spaces:[0x2] < 0x1000
@ ./a prog with spaces:[0x2] > 0x4000 0x1388
@ ./prog:[0x3] < 0x5000
@ ./prog:[0x3] > 0x5000 0x20
@ ./prog:[0x4] + (nil) 0x4000000000000000
@ ./prog:[0x5] ! 0x2000 0x4000000000000000
@ ./prog:[0x6] + 0x2000 0x30

@ ./prog:[0x7] < 0x4000
@ ./prog:[0x7] > 0x4000 0x10
- 0x3000
= End
T
cat >hand.expected <<'T'
alloc 0 100
alloc 1 16
alloc 2 0
realloc 0 5000
alloc 3 32
free 1
alloc 1 48
realloc 0 16
free 2
T
"$P" trace import --format mtrace hand.log -o hand.pmt >hand.out 2>hand.err || fail "import hand.log: exit $?"
ops_of hand.pmt >hand.got
diff hand.expected hand.got >/dev/null || fail "import hand.log: $(diff hand.expected hand.got | head -5)"
grep -q "1 frees of pointers the log never allocated were dropped" hand.err || fail "import: unknown free not reported: $(cat hand.err)"
grep -q "1 reallocs of pointers the log never allocated were recorded as allocs" hand.err || fail "import: unknown realloc"
grep -q "1 allocations at an address still live in the log" hand.err || fail "import: missed free"
grep -q "2 failed requests" hand.err || fail "import: failed requests"
"$P" trace info hand.pmt | has "meta *import.unknown_frees=1" || fail "import: metadata"
"$P" trace import --format mtrace hand.log -o hand.txt >/dev/null 2>&1 || fail "import to .txt"
head -1 hand.txt | has "^pmtrace 1" || fail "import -o x.txt: not the text form"

# a log glibc writes (libc_malloc_debug.so.0 + MALLOC_TRACE around the known sequence)
dbg=$(ls /usr/lib/*/libc_malloc_debug.so.0 /lib/*/libc_malloc_debug.so.0 2>/dev/null | head -1 || true)
if [ -n "$dbg" ]; then
    MALLOC_TRACE=$tmp/glibc.log LD_PRELOAD=$dbg "$PROG" mtrace || fail "record_prog mtrace: exit $?"
    "$P" trace import --format mtrace glibc.log -o glibc.pmt >/dev/null || fail "import glibc.log"
    # mtrace logs calloc and the aligned allocations as plain allocations
    sed -e 's/^calloc 1 10 20$/alloc 1 200/' -e 's/^aligned \([0-9]*\) \([0-9]*\) [0-9]*$/alloc \1 \2/' \
        seq.expected >glibc.expected
    ops_of glibc.pmt >glibc.got
    diff glibc.expected glibc.got >/dev/null || fail "import glibc.log: $(diff glibc.expected glibc.got | head -5)"
else
    echo "SKIP: no libc_malloc_debug.so.0" >&2
fi

# --- bad input: one line, exit 2, no output file
printf '= Start\n+ 0x1000 0x10\nthis is not mtrace\n' >garbage.log
expect_error "pymemlab: garbage.log:3: unrecognised mtrace line 'this is not mtrace' (expected *)" \
    "$P" trace import --format mtrace garbage.log -o g.pmt
printf '+ 0x1000 0x1g\n' >badsize.log
expect_error "pymemlab: badsize.log:1: bad size '0x1g' (expected 0x... or a decimal number)" \
    "$P" trace import --format mtrace badsize.log -o g.pmt
printf '@ x < 0x1000\n- 0x1000\n' >badpair.log
expect_error "pymemlab: badpair.log:1: a realloc's '<' line without its '>' line" \
    "$P" trace import --format mtrace badpair.log -o g.pmt
expect_error "pymemlab: trace import: unknown --format 'valgrind' (known: mtrace)" \
    "$P" trace import --format valgrind hand.log -o g.pmt
expect_error "pymemlab: trace import: no-such.log: cannot open: No such file or directory" \
    "$P" trace import --format mtrace no-such.log -o g.pmt
expect_error "pymemlab: trace import: --format is required (known: mtrace)" "$P" trace import hand.log -o g.pmt
[ ! -e g.pmt ] && [ ! -e g.pmt.tmp ] || fail "a failed import left an output file"
expect_error "pymemlab: trace record: needs a COMMAND to run *" "$P" trace record -o r.pmt
expect_error "pymemlab: trace record: needs a COMMAND to run *" "$P" trace record -o r.pmt --
expect_error "pymemlab: trace record: -o OUT is required *" "$P" trace record -- "$PROG" seq
expect_error "pymemlab: trace record: cannot run 'no-such-command-xyz': No such file or directory" \
    "$P" trace record -o r.pmt -- no-such-command-xyz
expect_error "pymemlab: trace record: --python-domains and --all exclude each other" \
    "$P" trace record -o r.pmt --all --python-domains -- "$PROG" seq
expect_error "pymemlab: trace: unknown option '--bogus' *" "$P" trace record --bogus -o r.pmt -- "$PROG"
[ ! -e r.pmt ] && [ ! -e r.pmt.tmp ] || fail "a failed record left an output file"
touch busy.pmt.tmp
expect_error "pymemlab: trace record: */busy.pmt.tmp exists *" "$P" trace record -o busy.pmt -- "$PROG" seq
PM_RECORDER_LIB=/no/such/lib.so expect_error "pymemlab: trace record: the recorder library '/no/such/lib.so' is missing *" \
    "$P" trace record -o r.pmt -- "$PROG" seq
expect_error "pymemlab: trace stats: needs a TRACE *" "$P" trace stats
expect_error "pymemlab: trace: unknown option '--jsn' *" "$P" trace stats --jsn seq.pmt

[ "$failures" -eq 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
echo "record: all passed"
