#!/usr/bin/env bash
# tests/cli/compare.sh — `pymemlab compare DIR_A DIR_B [--json]` on results
# folders written by hand, where the answer is known:
#  - A against an identical copy: every ratio exactly 1, every interval
#    holds 1, every verdict "not distinguishable", footprint ratios 1;
#  - A against B = A with every ns/op doubled and the peak footprint x1.5:
#    ratio exactly 2.00 (a median of doubled values), interval above 1
#    (A's reps are 10..15 ns, B's 20..30), "slower"; peak footprint 1.50;
#  - B against A: 0.50, "faster";
#  - text output carries the same;
#  - folders that differ (a backend, a workload, a workload's parameters),
#    a missing folder, a folder without results, one argument: one line,
#    exit 2.
set -euo pipefail
P=${PYMEMLAB:?set PYMEMLAB to the pymemlab binary}
SRC=${PM_SOURCE_DIR:?}
# shellcheck source=tests/cli/lib.bash
source "$(dirname "$0")/lib.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
py=$(command -v python3)

# results.jsonl records with every column (names from harness/engine/result_fields.def)
mk() {  # mk DIR NS_FACTOR FP_FACTOR [BACKENDS] [PARAMS_OF_W2]
  "$py" - "$SRC/harness/engine/result_fields.def" "$@" <<'EOF'
import json, os, re, sys
hdr, d, f, fp = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
backends = (sys.argv[5] if len(sys.argv) > 5 else "pymalloc,system").split(",")
p2 = sys.argv[6] if len(sys.argv) > 6 else "gen churn ops=1M seed=42"
cols = re.findall(r"PM_FIELD\((\w+), [SUD],", open(hdr).read())
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, "results.jsonl"), "w") as out:
    for w, params in (("w1", "gen fifo ops=1M seed=42"), ("w2", p2)):
        for b in backends:
            for rep in range(1, 7):
                r = {c: None for c in cols}
                r.update(workload=w, kind="gen", backend=b, rep=rep, status="ok", ops=1000000,
                         ns_per_op=(9 + rep) * f, time_mode="cold", loaded=0, params=params)
                if rep == 1:
                    r.update(peak_footprint_bytes=int(1000000 * fp), final_footprint_bytes=500000)
                out.write(json.dumps(r) + "\n")
EOF
}
mk A 1 1
mk same 1 1
mk double 2 1.5
mk fewer 1 1 pymalloc
mk other 1 1 pymalloc,system "gen churn ops=2M seed=42"

jget() { "$py" -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2], {"d": d}))' "$@"; }

# 1. identical
"$P" compare A same --json >s.json || fail "compare A same failed"
[ "$(jget s.json "len(d['rows'])")" = 4 ] || fail "not 4 rows (2 workloads x 2 backends)"
[ "$(jget s.json "sorted({float(r['ratio']) for r in d['rows']})")" = "[1.0]" ] || fail "identical folders: ratios are not all 1"
[ "$(jget s.json "all(r['ratio_ci_lo'] <= 1 <= r['ratio_ci_hi'] for r in d['rows'])")" = True ] ||
  fail "identical folders: an interval does not hold 1"
[ "$(jget s.json "sorted({r['verdict'] for r in d['rows']})")" = "['not distinguishable']" ] ||
  fail "identical folders: a verdict is not 'not distinguishable'"
[ "$(jget s.json "d['not_distinguishable']")" = 4 ] || fail "summary count of n.d. is not 4"
[ "$(jget s.json "sorted({float(r['peak_footprint_ratio']) for r in d['rows']})")" = "[1.0]" ] || fail "footprint ratio not 1"

# 2. doubled
"$P" compare A double --json >d.json || fail "compare A double failed"
[ "$(jget d.json "sorted({float(r['ratio']) for r in d['rows']})")" = "[2.0]" ] || fail "doubled: ratios $(jget d.json "[r['ratio'] for r in d['rows']]") are not 2"
[ "$(jget d.json "all(r['ratio_ci_lo'] > 1 for r in d['rows'])")" = True ] || fail "doubled: an interval reaches 1"
[ "$(jget d.json "sorted({r['verdict'] for r in d['rows']})")" = "['slower']" ] || fail "doubled: not every verdict is slower"
[ "$(jget d.json "sorted({float(r['peak_footprint_ratio']) for r in d['rows']})")" = "[1.5]" ] || fail "peak footprint ratio not 1.5"
[ "$(jget d.json "sorted({float(r['final_footprint_ratio']) for r in d['rows']})")" = "[1.0]" ] || fail "final footprint ratio not 1"
[ "$(jget d.json "d['slower']")" = 4 ] || fail "summary count of slower is not 4"
"$P" compare double A --json >h.json
[ "$(jget h.json "sorted({(float(r['ratio']), r['verdict']) for r in d['rows']})")" = "[(0.5, 'faster')]" ] ||
  fail "halved: not 0.5 and faster"
"$P" compare A double >d.txt
has '^w1  *pymalloc  *6/6  *12.50  *25.00  2.00 \[[0-9.]*, [0-9.]*\]  *slower  *1.50  *1.00  *0/6 0/6$' d.txt ||
  fail "text row for w1/pymalloc is not as expected: $(cat d.txt)"
has '^4 slower, 0 faster, 0 not distinguishable' d.txt || fail "text summary line missing"

# 3. bad input
expect_usage_error "pymemlab: compare: the folders differ: backend 'system' is in A only" compare A fewer
expect_usage_error "pymemlab: compare: the folders differ: backend 'system' is in A only" compare A fewer --json
expect_usage_error "pymemlab: compare: the folders differ: workload 'w2' has parameters 'gen churn ops=1M seed=42' in A, 'gen churn ops=2M seed=42' in other" \
  compare A other
expect_usage_error "pymemlab: compare: nope: not a results folder" compare A nope
mkdir empty
expect_usage_error "pymemlab: compare: empty: no results (results.jsonl missing or empty)" compare empty A
expect_usage_error "pymemlab: compare: two results folders expected (compare DIR_A DIR_B ?--json?)" compare A
expect_usage_error "pymemlab: compare: unknown option '--frob' (see 'pymemlab help compare')" compare A same --frob
echo "compare: ok"
