#!/usr/bin/env bash
# scripts/python-size-classes.sh — measures how CPython's small allocation
# requests spread over pymalloc's 32 size classes; the source of the `python`
# size distribution of `pymemlab trace gen` (docs/patterns.md).
#
# Runs Debian's python3.11 with PYTHONMALLOC=malloc (so every PyMem/PyObject
# request reaches malloc) under a tiny LD_PRELOAD counter built from the C
# below, over a fixed workload: import a set of stdlib modules, then compile
# (in memory, nothing written) every top-level .py file of the stdlib, then a
# run-time mix: 100000 dicts holding ints, strs, floats, lists, tuples and
# instances, a json round trip of them, a regex scan, a Counter, a sort, and
# textwrap.
# Counts malloc(n), calloc(k, n) as k*n and realloc(p, n) as requests of n
# bytes; prints, per class (n-1)>>4 for 1 <= n <= 512, the count and its share
# in parts per 10000. Usage: scripts/python-size-classes.sh [PYTHON]
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
py=${1:-/usr/bin/python3.11}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/count.c" <<'C'
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
extern void *__libc_malloc(size_t), *__libc_calloc(size_t, size_t), *__libc_realloc(void *, size_t);
static unsigned long long hist[34]; /* 0: n == 0, 1..32: classes 0..31, 33: n > 512 */
static void count(size_t n) { hist[n == 0 ? 0 : n > 512 ? 33 : 1 + ((n - 1) >> 4)]++; }
void *malloc(size_t n) { count(n); return __libc_malloc(n); }
void *calloc(size_t k, size_t n) { count(k * n); return __libc_calloc(k, n); }
void *realloc(void *p, size_t n) { count(n); return __libc_realloc(p, n); }
__attribute__((destructor)) static void report(void)
{
    char buf[64];
    for (int i = 0; i < 34; i++) {
        int len = snprintf(buf, sizeof buf, "%d %llu\n", i, hist[i]);
        if (write(2, buf, (size_t)len) < 0)
            return;
    }
}
C
cc -O2 -shared -fPIC -o "$tmp/count.so" "$tmp/count.c"
cat >"$tmp/work.py" <<'PY'
import glob, os, sys
import json, re, collections, decimal, fractions, datetime, email.parser, xml.dom.minidom, argparse, typing, dataclasses, enum, pathlib, textwrap, difflib
lib = os.path.dirname(os.__file__)
for path in sorted(glob.glob(os.path.join(lib, "*.py"))):
    with open(path, "rb") as f:
        src = f.read()
    try:
        compile(src, path, "exec")
    except SyntaxError:
        pass
# run time: objects, containers, strings, json, regex, sorting
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
rows = [{"id": i, "name": "item%d" % i, "tags": ["t%d" % (i % 7), "u"], "pos": Point(i, -i),
         "ratio": i / 7.0, "pair": (i, str(i))} for i in range(100000)]
text = json.dumps([{k: v for k, v in r.items() if k != "pos"} for r in rows])
back = json.loads(text)
words = re.findall(r"[a-z]+[0-9]*", text[:2000000])
counts = collections.Counter(words)
back.sort(key=lambda r: (r["name"][::-1], r["ratio"]))
lines = textwrap.wrap(" ".join(words[:200000]), 60)
del rows, back, words, counts, lines, text
PY
PYTHONHASHSEED=0 PYTHONMALLOC=malloc PYTHONDONTWRITEBYTECODE=1 LD_PRELOAD="$tmp/count.so" "$py" "$tmp/work.py" 2>"$tmp/hist" >/dev/null
awk '$1 >= 1 && $1 <= 32 { small += $2; c[$1 - 1] = $2 }
     $1 == 0 { zero = $2 } $1 == 33 { big = $2 }
     END { printf "# %d small requests (1..512 bytes), %d of 0 bytes, %d over 512\n", small, zero, big;
           printf "# class size count per10000\n";
           for (i = 0; i < 32; i++) printf "%5d %4d %12d %6.0f\n", i, (i + 1) * 16, c[i], 10000 * c[i] / small }' "$tmp/hist"
