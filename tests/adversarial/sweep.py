#!/usr/bin/env python3
"""tests/adversarial/sweep.py - the adversarial sweep of issue 19, kept.

Generates about 400 cases a careful, hostile user would try (malformed
binary and text traces, mtrace logs, object scripts, suite files, command
line options, output paths, corrupted results folders, kill -9 / Ctrl-C /
SIGTERM mid-run, two runs into one folder, a full disk on a small tmpfs,
misuse on every own backend, out-of-memory limits), runs each in a fresh
temporary folder against one pymemlab binary with a time limit, and
classifies what happened:

  clear-error  exit 2, exactly one line on stderr starting "pymemlab: ",
               nothing created, no file that was there changed (by hash)
  ok           the correct result: exit 0 and, where the answer is known,
               checked (op counts, round trips, complete results folders);
               or exit 1 where the case expects a reported failure (an
               out-of-memory run, a full disk) with one line naming it and
               nothing lost
  crash        a signal, a sanitizer report, an exit code other than 0/1/2,
               or a multi-line trace (a backtrace) on stderr
  hang         the time limit passed
  lost         a file that was there changed or vanished, a results folder
               whose results.csv and results.jsonl disagree, or a result
               reported ok that is incomplete
  other        anything else (said what: accepted bad input, exit 1 after
               partial work, a wordy error...)

usage: sweep.py --pymemlab BIN [--label NAME] [--quick] [--only CAT,...]
                [--json OUT] [--list] [-v]
  --quick      the ctest subset: every case of the fast categories whose
               number is a multiple of 6, plus the first of each category
               (under a minute); exit 1 if any case is crash, hang, lost
               or other
  --json OUT   write every case's outcome (for report.py)
  --list       print the cases and run nothing
Exit: 0 when every case was clear-error or ok, 1 otherwise, 2 bad usage.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import re
import struct
import subprocess
import sys
import tempfile
import time

# Under ASan, malloc is ASan's: a request glibc would refuse with NULL
# (2^40 bytes and more: pymalloc's large requests go to the C library since
# large=system) aborts the process unless allocator_may_return_null=1, which
# makes it return NULL as glibc does, with one warning line that classify()
# drops (ASAN_NULL_WARNING); every other sanitizer line is still a crash.
ASAN_ENV = "detect_leaks=1:abort_on_error=0:allocator_may_return_null=1"
ASAN_NULL_WARNING = re.compile(r"^==\d+==WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]+ bytes$")

SAN = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
       "MemorySanitizer", "Segmentation fault", "Assertion `", "assertion failed", "SUMMARY: ")


class Case:
    def __init__(self, cat, name, argv, files=None, setup=None, timeout=20, protect=True,
                 expect="any", check=None, ok1=None, runner=None, allow_new=(), slow=False,
                 skip_asan=False):
        self.cat, self.name, self.argv = cat, name, argv
        self.files = files or {}          # name -> bytes (or str)
        self.setup = setup                # f(dir) after files are written
        self.timeout = timeout
        self.expect = expect              # "error": exit 0 is accepting bad input
        self.check = check                # f(dir, out, err) -> None or "lost: ..." / "why"
        self.ok1 = ok1                    # substring: exit 1 with it on stderr (one line) is ok
        self.runner = runner              # f(case, dir, binary) -> (outcome, note)
        self.allow_new = allow_new        # paths a clear error may leave (a lock file)
        self.slow = slow
        self.skip_asan = skip_asan        # (e.g. RLIMIT_AS: ASan reserves terabytes)


# ---------------------------------------------------------------- helpers
def sh(binary, *args, cwd=None, timeout=60):
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def snapshot(d):
    out = {}
    for root, dirs, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            rel = os.path.relpath(p, d)
            try:
                st = os.lstat(p)
                if os.path.islink(p) or not os.path.isfile(p):
                    out[rel] = "special"
                    continue
                with open(p, "rb") as fh:
                    out[rel] = hashlib.sha256(fh.read()).hexdigest()
            except OSError:
                out[rel] = "unreadable"
        for x in dirs:
            out[os.path.relpath(os.path.join(root, x), d) + "/"] = "dir"
    return out


def csv_jsonl_agree(folder):
    """None if results.csv and results.jsonl of folder agree, else why."""
    import csv
    j = os.path.join(folder, "results.jsonl")
    c = os.path.join(folder, "results.csv")
    if not os.path.exists(j) and not os.path.exists(c):
        return None
    try:
        recs = [json.loads(l) for l in open(j) if l.strip()] if os.path.exists(j) else []
    except ValueError as e:
        return "results.jsonl is not JSON lines: %s" % e
    rows = list(csv.DictReader(open(c, newline=""))) if os.path.exists(c) else []
    if len(rows) != len(recs):
        return "results.csv has %d rows, results.jsonl %d records" % (len(rows), len(recs))
    for r, k in zip(rows, recs):
        if (r.get("workload"), r.get("backend"), r.get("status")) != (
                k.get("workload"), k.get("backend"), k.get("status")):
            return "csv row %s/%s/%s vs jsonl %s/%s/%s" % (
                r.get("workload"), r.get("backend"), r.get("status"),
                k.get("workload"), k.get("backend"), k.get("status"))
    return None


def leftover_procs(marker):
    """PIDs of live processes whose command line mentions marker."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().replace(b"\0", b" ")
            stat = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        if marker.encode() in cmd and stat.rsplit(")", 1)[1].split()[0] != "Z":
            pids.append(int(p))
    return pids


# ---------------------------------------------------------------- running
def run_case(case, binary, keep=False):
    d = tempfile.mkdtemp(prefix="pm-adv-")
    mounts = []
    try:
        for name, data in case.files.items():
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
        if case.setup:
            r = case.setup(d, binary)
            if isinstance(r, list):
                mounts = r
        if case.runner:
            return case.runner(case, d, binary)
        before = snapshot(d)
        t0 = time.monotonic()
        try:
            p = subprocess.run([binary, *case.argv], cwd=d, capture_output=True,
                               timeout=case.timeout, stdin=subprocess.DEVNULL,
                               env=dict(os.environ, ASAN_OPTIONS=ASAN_ENV))
        except subprocess.TimeoutExpired:
            return "hang", "no answer after %d s" % case.timeout
        return classify(case, d, p.returncode, p.stdout, p.stderr, before, time.monotonic() - t0)
    finally:
        for m in mounts:
            subprocess.run(["umount", "-l", m], capture_output=True)
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


def classify(case, d, rc, out, err, before, secs=0):
    case.last_rc = rc
    text = err.decode("utf-8", "replace")
    text = "".join(l for l in text.splitlines(keepends=True) if not ASAN_NULL_WARNING.match(l.rstrip("\n")))
    err = text.encode()
    lines = [l for l in text.splitlines()]
    for m in SAN:
        if m in text:
            return "crash", "%s on stderr: %s" % (m, first(text, m))
    if rc < 0:
        return "crash", "signal %d (%s)" % (-rc, signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else "?")
    if rc not in (0, 1, 2):
        return "crash", "exit %d: %s" % (rc, short(text))
    after = snapshot(d)
    may = getattr(case, "may_change", ())
    changed = [k for k, v in before.items() if k in getattr(case, "must_keep", before) and after.get(k) != v
               and not k.endswith("/") and not any(k == m or (m.endswith("/") and k.startswith(m)) for m in may)]
    if changed:
        return "lost", "changed or removed: %s (exit %d: %s)" % (", ".join(changed[:4]), rc, short(text))
    for k in after:   # results folders this case wrote into
        touched = any(after.get(k + f) != before.get(k + f) for f in ("results.jsonl", "results.csv"))
        if k.endswith("/") and touched and os.path.exists(os.path.join(d, k, "results.jsonl")):
            why = csv_jsonl_agree(os.path.join(d, k))
            if why:
                return "lost", "%s: %s" % (k, why)
    new = [k for k in after if k not in before and k not in case.allow_new]
    if rc == 2:
        if len(lines) != 1:
            return "other", "exit 2 with %d lines on stderr: %s" % (len(lines), short(text))
        if not lines[0].startswith("pymemlab: "):
            return "other", "exit 2, message not 'pymemlab: ...': %s" % short(text)
        if any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in lines[0]):
            return "other", "exit 2, a control byte echoed raw: %r" % lines[0][:200]
        if new:
            return "other", "exit 2 but wrote %s: %s" % (", ".join(new[:4]), short(text))
        return "clear-error", lines[0]
    if rc == 1:
        if case.ok1 and case.ok1 in text:
            if case.check:
                why = case.check(d, out, err)
                if why:
                    return ("lost" if why.startswith("lost") else "other"), why
            return "ok", "exit 1 as expected: " + lines[-1]
        return "other", "exit 1: %s" % short(text)
    # rc 0
    if case.expect == "error":
        return "other", "accepted (exit 0): %s" % short(out.decode("utf-8", "replace") + text)
    if case.check:
        why = case.check(d, out, err)
        if why:
            return ("lost" if why.startswith("lost") else "other"), why
        return "ok", "exit 0, the answer checked"
    return "ok", "exit 0 (accepted: valid input, no known answer to check)"


def first(text, m):
    i = text.index(m)
    return text[i:i + 160].splitlines()[0]


def short(t, n=200):
    t = t.strip().replace("\n", " | ")
    return t if len(t) <= n else t[:n] + "..."


# ---------------------------------------------------------------- inputs
def make_trace(binary, d, name="t.pmt", *extra):
    args = list(extra) or ["--ops", "200", "--live", "20"]
    subprocess.run([binary, "trace", "gen", "churn", *args, "-o", os.path.join(d, name)],
                   check=True, capture_output=True)
    return open(os.path.join(d, name), "rb").read()


def expect_ops(n):
    def check(d, out, err):
        s = out.decode()
        if ("ops          %d\n" % n) not in s and ('"ops":%d,' % n) not in s and ("(%d ops" % n) not in s:
            return "the answer (%d ops) is not in the output: %s" % (n, short(s))
    return check


def self_checked(d, out, err):
    """objrun's exit 0 is the answer checked: the script's expect lines and
    the refcount and no-leak invariants held"""
    return None


def cases_binary(binary, base):
    """malformed binary traces: truncations at every header field and in
    the stream, bit flips in the header and the stream, bad numbers"""
    cs = []
    good = base
    cmds = [["trace", "info", "x.pmt"], ["replay", "x.pmt", "--backend", "pymalloc", "--reps", "1"],
            ["trace", "convert", "x.pmt", "y.txt"], ["trace", "stats", "x.pmt"],
            ["trace", "dump", "x.pmt"], ["replay", "x.pmt", "--backend", "segfit", "--reps", "1", "--timed-only"]]
    meta_len = struct.unpack_from("<Q", good, 32)[0]
    stream = 40 + meta_len
    cuts = [0, 1, 7, 8, 11, 12, 15, 16, 23, 24, 31, 32, 39, 40, 41, stream - 1, stream, stream + 1,
            stream + 2, stream + 5, len(good) // 2, len(good) - 2, len(good) - 1]
    for i, c in enumerate(cuts):
        cs.append(Case("binary-trace", "truncated at byte %d" % c, cmds[i % len(cmds)],
                       files={"x.pmt": good[:c]}, expect="error"))
    rnd = random.Random(19)
    flips = list(range(0, 40)) + [stream + rnd.randrange(len(good) - stream) for _ in range(24)]
    for i, off in enumerate(flips):
        b = bytearray(good)
        bit = rnd.randrange(8)
        b[off] ^= 1 << bit
        cs.append(Case("binary-trace", "bit %d of byte %d flipped" % (bit, off), cmds[i % len(cmds)],
                       files={"x.pmt": bytes(b)}))
    def field(off, val, fmt="<Q"):
        b = bytearray(good)
        struct.pack_into(fmt, b, off, val)
        return bytes(b)
    bad = [("op_count 0", field(16, 0)), ("op_count 2^64-1 (unknown) but finished", field(16, 2**64 - 1)),
           ("op_count +1", field(16, struct.unpack_from("<Q", good, 16)[0] + 1)),
           ("slot_count 0", field(24, 0)), ("slot_count 2^28", field(24, 1 << 28)),
           ("slot_count 2^32", field(24, 1 << 32)), ("slot_count 2^32+1", field(24, (1 << 32) + 1)),
           ("slot_count 2^64-1", field(24, 2**64 - 1)), ("meta_len 2^64-1", field(32, 2**64 - 1)),
           ("meta_len 17 MiB", field(32, 17 << 20)), ("meta_len past the end", field(32, len(good))),
           ("version 0", field(8, 0, "<I")), ("version 2", field(8, 2, "<I")),
           ("flags bit 1", field(12, 3, "<I")), ("flags unfinished", field(12, 0, "<I")),
           ("magic lowercase", b"pmtrace\0" + good[8:]), ("header only", good[:40]),
           ("NUL metadata byte", good[:41] + b"\0" + good[42:]),
           ("op len byte 0", good[:stream] + b"\0" + good[stream + 1:]),
           ("op len byte 1", good[:stream] + b"\1" + good[stream + 1:]),
           ("op len byte 255", good[:stream] + b"\xff" + good[stream + 1:]),
           ("kind 7", good[:stream + 1] + b"\x07" + good[stream + 2:]),
           ("kind 0", good[:stream + 1] + b"\x00" + good[stream + 2:]),
           ("garbage appended", good + b"\x03\x01\x10"),
           ("empty file", b""), ("only the magic", good[:8]),
           ("1 MiB of zeros", b"\0" * (1 << 20)), ("random bytes with the magic", good[:8] + bytes(rnd.randrange(256) for _ in range(4000)))]
    for i, (n, data) in enumerate(bad):
        cs.append(Case("binary-trace", n, cmds[i % len(cmds)], files={"x.pmt": data}))
    # a top slot: the slot-table bomb (item 1): 2^28 and 2^31 slots, one alloc in the top slot
    for bits in (28, 31, 32):
        top = (1 << bits) - 1
        def bomb(d, b, top=top):
            open(os.path.join(d, "bomb.txt"), "w").write("pmtrace 1\nalloc %d 16\nfree %d\n" % (top, top))
            subprocess.run([b, "trace", "convert", "bomb.txt", "bomb.pmt"], cwd=d, capture_output=True)
        cs.append(Case("binary-trace", "one alloc in slot 2^%d-1 (slot-table bomb)" % bits,
                       ["replay", "bomb.pmt", "--backend", "pymalloc", "--reps", "1"], setup=bomb,
                       timeout=30))
    # known answers on the good trace
    n = struct.unpack_from("<Q", good, 16)[0]
    cs.append(Case("binary-trace", "valid trace: info", ["trace", "info", "x.pmt"], files={"x.pmt": good},
                   check=expect_ops(n)))
    def roundtrip(d, out, err):
        a = subprocess.run([binary_of[0], "trace", "dump", "x.pmt"], cwd=d, capture_output=True).stdout
        b = subprocess.run([binary_of[0], "trace", "dump", "y.txt"], cwd=d, capture_output=True).stdout
        if a != b or not a:
            return "lost: the converted trace dumps differently"
    cs.append(Case("binary-trace", "valid trace: convert round trip", ["trace", "convert", "x.pmt", "y.txt"],
                   files={"x.pmt": good}, check=roundtrip))
    for be in ("pymalloc", "segfit", "buddy", "null", "debug:pymalloc", "debug:segfit", "debug:buddy"):
        cs.append(Case("binary-trace", "valid trace: replay --json on " + be,
                       ["replay", "x.pmt", "--backend", be, "--reps", "1", "--json", "--check-every", "7"],
                       files={"x.pmt": good}, check=expect_ops(n - 2)))   # (its 2 phase marks are not replayed)
    return cs


binary_of = [None]


TEXT_BAD = [
    ("no header", "alloc 0 16\nfree 0\n"),
    ("wrong version", "pmtrace 2\nalloc 0 16\nfree 0\n"),
    ("header with junk", "pmtrace 1 x\nalloc 0 16\nfree 0\n"),
    ("empty", ""),
    ("only header", "pmtrace 1\n"),
    ("unknown op", "pmtrace 1\nmalloc 0 16\n"),
    ("negative size", "pmtrace 1\nalloc 0 -16\nfree 0\n"),
    ("size 2^40", "pmtrace 1\nalloc 0 1099511627776\nfree 0\n"),
    ("size 2^64", "pmtrace 1\nalloc 0 18446744073709551616\nfree 0\n"),
    ("size hex", "pmtrace 1\nalloc 0 0x10\nfree 0\n"),
    ("size with suffix", "pmtrace 1\nalloc 0 16K\nfree 0\n"),
    ("size float", "pmtrace 1\nalloc 0 1.5\nfree 0\n"),
    ("missing size", "pmtrace 1\nalloc 0\nfree 0\n"),
    ("extra field", "pmtrace 1\nalloc 0 16 7\nfree 0\n"),
    ("slot 2^32", "pmtrace 1\nalloc 4294967296 16\nfree 4294967296\n"),
    ("slot negative", "pmtrace 1\nalloc -1 16\nfree -1\n"),
    ("free of a free slot", "pmtrace 1\nalloc 0 16\nfree 0\nfree 0\n"),
    ("alloc into a live slot", "pmtrace 1\nalloc 0 16\nalloc 0 16\n"),
    ("realloc of a free slot", "pmtrace 1\nrealloc 0 16\n"),
    ("calloc overflow", "pmtrace 1\ncalloc 0 4294967296 4294967296\nfree 0\n"),
    ("calloc over the limit", "pmtrace 1\ncalloc 0 1048576 1048576\nfree 0\n"),
    ("aligned 3", "pmtrace 1\naligned 0 16 3\nfree 0\n"),
    ("aligned 4", "pmtrace 1\naligned 0 16 4\nfree 0\n"),
    ("aligned 2^31", "pmtrace 1\naligned 0 16 2147483648\nfree 0\n"),
    ("phase with a size", "pmtrace 1\nphase 1 2\n"),
    ("bad domain", "pmtrace 1\nalloc 0 16 dom=heap\nfree 0\n"),
    ("metadata without =", "pmtrace 1\n@meta novalue\nalloc 0 16\nfree 0\n"),
    ("metadata duplicate", "pmtrace 1\n@meta a=1\n@meta a=2\nalloc 0 16\nfree 0\n"),
    ("metadata bad key", "pmtrace 1\n@meta k y=1\nalloc 0 16\nfree 0\n"),
    ("@ops wrong", "pmtrace 1\n@ops 5\nalloc 0 16\nfree 0\n"),
    ("@slots wrong", "pmtrace 1\n@slots 9\nalloc 0 16\nfree 0\n"),
    ("@ops huge", "pmtrace 1\n@ops 99999999999999999999\nalloc 0 16\nfree 0\n"),
    ("@slots 2^40", "pmtrace 1\n@slots 1099511627776\nalloc 0 16\nfree 0\n"),
    ("metadata after ops", "pmtrace 1\nalloc 0 16\n@meta a=1\nfree 0\n"),
    ("NUL byte in a line", "pmtrace 1\nalloc 0 1\x006\nfree 0\n"),
    ("control bytes", "pmtrace 1\nal\x1b[2Jloc 0 16\nfree 0\n"),
    ("CRLF lines", "pmtrace 1\r\nalloc 0 16\r\nfree 0\r\n"),
    ("no final newline", "pmtrace 1\nalloc 0 16\nfree 0"),
    ("tabs between fields", "pmtrace 1\nalloc\t0\t16\nfree\t0\n"),
    ("line of 1 MiB", "pmtrace 1\nalloc 0 " + "1" * (1 << 20) + "\nfree 0\n"),
    ("invalid UTF-8", "pmtrace 1\nalloc 0 16\nfree 0\n\xff\xfe\n"),
    ("comment lines", "pmtrace 1\n# a comment\nalloc 0 16\nfree 0\n"),
    ("blank lines", "pmtrace 1\n\n\nalloc 0 16\n\nfree 0\n"),
    ("leading blanks", "pmtrace 1\n   alloc 0 16\nfree 0\n"),
    ("live at the end (no free)", "pmtrace 1\nalloc 0 16\n"),
]


def cases_text():
    cs = []
    cmds = [["trace", "info", "x.txt"], ["replay", "x.txt", "--backend", "buddy", "--reps", "1"],
            ["trace", "convert", "x.txt", "y.pmt"], ["trace", "stats", "x.txt", "--json"]]
    for i, (n, data) in enumerate(TEXT_BAD):
        for j in (0, 2) if i % 2 == 0 else (1, 3):
            cs.append(Case("text-trace", n, cmds[j],
                           files={"x.txt": data.encode("latin-1")}))
    cs.append(Case("text-trace", "valid: replay on segfit with check",
                   ["replay", "x.txt", "--backend", "segfit", "--reps", "1", "--check-every", "1", "--json"],
                   files={"x.txt": "pmtrace 1\nalloc 0 16\ncalloc 1 3 5\nrealloc 0 400\naligned 2 64 4096\nfree 0\nfree 1\nfree 2\n"},
                   check=expect_ops(7)))
    # big metadata (item 11) and many keys (item 2)
    cs.append(Case("text-trace", "17 MiB of metadata", ["trace", "info", "x.txt"],
                   setup=lambda d, b: open(os.path.join(d, "x.txt"), "w").write(
                       "pmtrace 1\n" + "".join("@meta k%d=%s\n" % (i, "x" * (1 << 20)) for i in range(17))
                       + "alloc 0 16\nfree 0\n")))
    cs.append(Case("text-trace", "200k metadata keys", ["trace", "info", "x.txt"],
                   setup=lambda d, b: open(os.path.join(d, "x.txt"), "w").write(
                       "pmtrace 1\n" + "".join("@meta k%d=v\n" % i for i in range(200000))
                       + "alloc 0 16\nfree 0\n"), check=expect_ops(2)))
    cs.append(Case("text-trace", "a FIFO as the trace", ["trace", "info", "fifo"],
                   setup=lambda d, b: os.mkfifo(os.path.join(d, "fifo"))))
    cs.append(Case("text-trace", "a folder as the trace", ["replay", "adir", "--backend", "system"],
                   setup=lambda d, b: os.mkdir(os.path.join(d, "adir"))))
    cs.append(Case("text-trace", "/dev/zero as the trace", ["trace", "info", "/dev/zero"]))
    cs.append(Case("text-trace", "missing file", ["trace", "info", "nosuch.pmt"]))
    cs.append(Case("text-trace", "unreadable file (mode 000; root reads anyway)", ["trace", "info", "x.txt"],
                   files={"x.txt": "pmtrace 1\nalloc 0 16\nfree 0\n"},
                   setup=lambda d, b: os.chmod(os.path.join(d, "x.txt"), 0)))
    return cs


MTRACE_BAD = [
    ("empty", ""),
    ("no Start", "@ ./a:[0x1] + 0x10 0x20\n"),
    ("bad address", "= Start\n@ ./a:[0x1] + 0xZZ 0x20\n= End\n"),
    ("bad size", "= Start\n@ ./a:[0x1] + 0x10 twenty\n= End\n"),
    ("size too big", "= Start\n@ ./a:[0x1] + 0x10 0xffffffffffffffffff\n= End\n"),
    ("unknown op", "= Start\n@ ./a:[0x1] * 0x10 0x20\n= End\n"),
    ("missing size", "= Start\n@ ./a:[0x1] + 0x10\n= End\n"),
    ("free unknown", "= Start\n@ ./a:[0x1] - 0x10\n= End\n"),
    ("realloc half", "= Start\n@ ./a:[0x1] < 0x10\n= End\n"),
    ("realloc other half", "= Start\n@ ./a:[0x1] > 0x10 0x20\n= End\n"),
    ("double alloc same address", "= Start\n@ ./a:[0x1] + 0x10 0x20\n@ ./a:[0x1] + 0x10 0x20\n= End\n"),
    ("failed alloc", "= Start\n@ ./a:[0x1] + (nil) 0x4000000000000000\n= End\n"),
    ("failed realloc", "= Start\n@ ./a:[0x1] + 0x10 0x20\n@ ./a:[0x1] ! 0x10 0x40\n= End\n"),
    ("caller with spaces", "= Start\n@ ./my prog:[0x1] + 0x10 0x20\n@ ./a:[0x1] - 0x10\n= End\n"),
    ("no caller", "= Start\n+ 0x10 0x20\n- 0x10\n= End\n"),
    ("garbage line", "= Start\nhello world\n= End\n"),
    ("NUL byte", "= Start\n@ ./a:[0x1] + 0x10\0 0x20\n= End\n"),
    ("control bytes", "= Start\n@ ./a:[0x1] + 0x5\x1b[2J 0x10\n"),
    ("no End", "= Start\n@ ./a:[0x1] + 0x10 0x20\n"),
    ("two Starts", "= Start\n@ ./a:[0x1] + 0x10 0x20\n= Start\n@ ./a:[0x1] - 0x10\n= End\n"),
    ("size 2^40", "= Start\n@ ./a:[0x1] + 0x10 0x10000000000\n@ ./a:[0x1] - 0x10\n= End\n"),
    ("binary junk", "\x00\x01\x02\x03" * 100),
    ("1 MiB line", "= Start\n@ " + "a" * (1 << 20) + " + 0x10 0x20\n= End\n"),
    ("CRLF", "= Start\r\n@ ./a:[0x1] + 0x10 0x20\r\n@ ./a:[0x1] - 0x10\r\n= End\r\n"),
    ("only End", "= End\n"),
]


def cases_mtrace():
    cs = []
    for i, (n, data) in enumerate(MTRACE_BAD):
        cs.append(Case("mtrace", n, ["trace", "import", "--format", "mtrace", "x.log", "-o", "y.pmt"],
                       files={"x.log": data.encode("latin-1")}))
    def imported(d, out, err):
        r = subprocess.run([binary_of[0], "trace", "info", "y.pmt"], cwd=d, capture_output=True)
        if b"ops          4\n" not in r.stdout:
            return "lost: the imported trace is not 2 allocs + 2 frees: " + short(r.stdout.decode() + r.stderr.decode())
    cs.append(Case("mtrace", "valid log (2 allocs, a realloc, frees)",
                   ["trace", "import", "--format", "mtrace", "x.log", "-o", "y.pmt"],
                   files={"x.log": "= Start\n@ ./a:[0x1] + 0x10 0x20\n@ ./a:[0x1] + 0x40 0x20\n"
                                   "@ ./a:[0x1] - 0x10\n@ ./a:[0x1] - 0x40\n= End\n"}, check=imported))
    cs.append(Case("mtrace", "a FIFO as the log", ["trace", "import", "--format", "mtrace", "f", "-o", "y.pmt"],
                   setup=lambda d, b: os.mkfifo(os.path.join(d, "f"))))
    cs.append(Case("mtrace", "unknown format", ["trace", "import", "--format", "ltrace", "x.log", "-o", "y.pmt"],
                   files={"x.log": "= Start\n= End\n"}))
    return cs


OBJ_BAD = [
    ("unbound name", "del a\n"), ("syntax", "a = = list\n"), ("unknown statement", "frobnicate a\n"),
    ("unknown kind", "a = widget\n"), ("unterminated string", 'a = str "abc\n'),
    ("bad escape", 'a = str "\\q"\n'), ("int overflow", "a = int 99999999999999999999999\n"),
    ("int bits huge", "a = int bits 999999999999\n"), ("bytes huge", "a = bytes 99999999999999\n"),
    ("bytes negative", "a = bytes -1\n"), ("repeat without end", "repeat 3\na = list\n"),
    ("end without repeat", "end\n"), ("repeat nesting 17", "repeat 2\n" * 17 + "a = list\n" + "end\n" * 17),
    ("repeat huge", "repeat 9999999999999\na = list\nend\n"), ("repeat 0", "repeat 0\na = list\nend\n"),
    ("collect 3", "collect 3\n"), ("gc threshold negative", "gc threshold -1\n"),
    ("expect fails", "a = list\ncollect\nexpect collected 5\n"),
    ("item out of range", "a = list\nb = item a 5\n"), ("item of an int", "a = int 3\nb = item a 0\n"),
    ("setattr on int", "a = int 3\nsetattr a x a\n"), ("getattr missing", "C = class C\no = new C\nx = getattr o nope\n"),
    ("new of a non-class", "a = list\no = new a\n"), ("weakref to int", "a = int 5\nw = weakref a\n"),
    ("deref of a non-weakref", "a = list\nb = deref a\n"), ("finalizer bad mode", "C = class C\nfinalizer C explode\n"),
    ("resurrect without list", "C = class C\nfinalizer C resurrect\n"), ("objects 5", "x = objects 5\n"),
    ("kind word as name", "list = list\n"), ("name starting with digit", "1a = list\n"),
    ("NUL byte", "a = li\0st\n"), ("control bytes", "a = li\x1b[31mst\n"), ("1 MiB line", "a = str " + "x" * (1 << 20) + "\n"),
    ("slots with duplicate", "C = class C slots a a\n"), ("dict odd pairs", "d = dict 1\n"),
    ("insert into a dict", "d = dict\ninsert d 0 d\n"), ("delitem missing key", "d = dict\ndelitem d 1\n"),
    ("expect on unknown", "expect frobs 1\n"), ("empty script", ""), ("only comments", "# nothing\n"),
    ("invalid UTF-8", "a = str \xff\xfe\n"), ("float nan", "a = float nan\n"), ("float huge", "a = float 1e999\n"),
]


def cases_objscript():
    cs = []
    for i, (n, data) in enumerate(OBJ_BAD):
        be = ["system", "pymalloc", "segfit", "buddy", "debug:pymalloc"][i % 5]
        argv = ["objrun", "s.txt", "--backend", be]
        if i % 4 == 3:
            argv += ["--record-trace", "rec.pmt"]
        c = Case("objscript", n, argv, files={"s.txt": data.encode("latin-1")},
                 ok1="pymemlab: s.txt:" if n in ("expect fails", "item out of range") else None)
        cs.append(c)
    here = os.path.dirname(os.path.abspath(__file__))
    odir = os.path.join(here, "..", "objscripts")
    for f in sorted(os.listdir(odir))[:8]:
        cs.append(Case("objscript", "valid: tests/objscripts/" + f,
                       ["objrun", "s.txt", "--backend", "pymalloc", "--json"],
                       files={"s.txt": open(os.path.join(odir, f), "rb").read()}, check=self_checked))
    cs.append(Case("objscript", "a FIFO as the script", ["objrun", "f", "--backend", "system"],
                   setup=lambda d, b: os.mkfifo(os.path.join(d, "f"))))
    return cs


SUITE_BAD = [
    ("unknown kind", "bench churn\n"), ("gen unknown pattern", "gen chrun\n"),
    ("gen bad option", "gen churn frob=1\n"), ("gen ops=0", "gen churn ops=0\n"),
    ("gen ops too small for live", "gen churn ops=10 live=500\n"),
    ("gen sizes MIN>MAX", "gen churn sizes=uniform:100-10\n"),
    ("gen option not for pattern", "gen survivors ops=1K\n"), ("gen ops=-1", "gen churn ops=-1\n"),
    ("gen ops=1T", "gen churn ops=1T\n"), ("py unknown", "py nosuch\n"), ("py scale 0", "py web scale=0\n"),
    ("py scale nan", "py web scale=nan\n"), ("py scale huge", "py web scale=1e9\n"),
    ("trace missing", "trace nosuch.pmt\n"), ("trace glob matches none", "trace none/*.pmt\n"),
    ("trace bad domain", "trace x.pmt domain=heap\n"), ("reps 0", "reps 0\ngen churn ops=2K live=10\n"),
    ("reps -1", "reps -1\ngen churn\n"), ("reps huge", "reps 99999999999\ngen churn\n"),
    ("timeout 0", "timeout 0\ngen churn\n"), ("timeout x", "timeout x\ngen churn\n"),
    ("duplicate names", "gen churn ops=2K live=10\ngen churn ops=3K live=10\n"),
    ("name with slash", "gen churn name=a/b\n"), ("name too long", "gen churn name=" + "a" * 60 + "\n"),
    ("empty suite", ""), ("only comments", "# none\n"), ("NUL byte", "gen ch\0urn\n"),
    ("control bytes", "gen ch\x1b[31murn\n"), ("1 MiB line", "gen churn name=" + "a" * (1 << 20) + "\n"),
    ("trace of a malformed file", "trace bad.txt\n"), ("gen = without value", "gen churn ops=\n"),
    ("tabs", "gen\tchurn\tops=2K\tlive=10\n"), ("CRLF", "reps 1\r\ngen churn ops=2K live=10\r\n"),
    ("missing suite", None),
]


def cases_suite():
    cs = []
    for n, data in SUITE_BAD:
        files = {"bad.txt": "pmtrace 1\nfree 0\n", "x.pmt": b""}
        if data is not None:
            files["s.suite"] = data.encode("latin-1")
        cs.append(Case("suite", n, ["run", "--suite", "./s.suite", "--backends", "system", "--out", "r",
                                    "--reps", "1"] if n not in ("reps 0", "reps -1", "reps huge") else
                       ["run", "--suite", "./s.suite", "--backends", "system", "--out", "r"],
                       files=files, timeout=60))
    cs.append(Case("suite", "unknown built-in suite", ["run", "--suite", "nosuch", "--out", "r"]))
    def complete(n):
        def check(d, out, err):
            why = csv_jsonl_agree(os.path.join(d, "r"))
            if why:
                return "lost: " + why
            recs = [json.loads(l) for l in open(os.path.join(d, "r", "results.jsonl"))]
            if len(recs) != n or any(r["status"] != "ok" for r in recs):
                return "lost: %d records (want %d), statuses %s" % (len(recs), n, sorted({r["status"] for r in recs}))
        return check
    cs.append(Case("suite", "valid: 2 workloads x 2 backends x 2 reps",
                   ["run", "--suite", "./s.suite", "--backends", "system,pymalloc", "--out", "r"],
                   files={"s.suite": "reps 2\ntimeout 60\ngen churn ops=20K live=500 seed=7\n"
                                     "trace t.txt\n", "t.txt": "pmtrace 1\nalloc 0 16\nfree 0\n"},
                   check=complete(8), timeout=120))
    return cs


CLI_BAD = [
    [], ["nosuch"], ["micro"], ["micro", "--backend"], ["micro", "--backend", "nosuch"],
    ["micro", "--backend", "system", "--ops", "-1"], ["micro", "--backend", "system", "--ops", "0"],
    ["micro", "--backend", "system", "--ops", "1e99"], ["micro", "--backend", "system", "--ops", "99999999999999999999999"],
    ["micro", "--backend", "system", "--ops", "12abc"], ["micro", "--backend", "system", "--live", "0"],
    ["micro", "--backend", "system", "--reps", "0"], ["micro", "--backend", "system", "--reps", "100000"],
    ["micro", "--backend", "system", "--mode", "tepid"], ["micro", "--backend", "system", "--seed", "x"],
    ["micro", "--backend", "system", "--frob"], ["micro", "--backend", "system", "-x"],
    ["micro", "--backend", "system,x=1"], ["micro", "--backend", "pymalloc,preset=2.7"],
    ["micro", "--backend", "pymalloc,preset="], ["micro", "--backend", "buddy,max=3"],
    ["micro", "--backend", "buddy,max=1T"], ["micro", "--backend", "buddy,min=64,max=32"],
    ["micro", "--backend", "buddy,keep_empty=-1"], ["micro", "--backend", "segfit,frob=1"],
    ["micro", "--backend", "debug:"],
    ["micro", "--backend", "debug:nosuch"], ["micro", "--backend", "cpython,version=2.7"],
    ["micro", "--backend", ",,,"], ["micro", "--backend", ""],
    ["replay"], ["replay", "x.pmt"], ["replay", "x.pmt", "--backend", "system", "--domain", "heap"],
    ["replay", "x.pmt", "--backend", "system", "--touch", "some"],
    ["replay", "x.pmt", "--backend", "system", "--engine", "turbo"],
    ["replay", "x.pmt", "--backend", "system", "--check-every", "0"],
    ["replay", "x.pmt", "--backend", "system", "--sample-every", "-5"],
    ["replay", "x.pmt", "--backend", "system", "--latency-every", "0"],
    ["replay", "x.pmt", "y.pmt", "--backend", "system"],
    ["table"], ["table", "nosuch"], ["table", "x.pmt"], ["table", "r.jsonl", "--baseline", "nosuch"],
    ["gcbench", "--backend", "system", "--objects", "0"], ["gcbench", "--backend", "system", "--objects", "1T"],
    ["gcbench"], ["objrun"], ["objrun", "s.txt"], ["trace"], ["trace", "nosuch"],
    ["trace", "gen"], ["trace", "gen", "nosuch", "-o", "o.pmt"], ["trace", "gen", "churn"],
    ["trace", "gen", "churn", "--ops", "0", "-o", "o.pmt"], ["trace", "gen", "churn", "--sizes", "uniform:1", "-o", "o.pmt"],
    ["trace", "gen", "churn", "--realloc-frac", "2", "-o", "o.pmt"], ["trace", "gen", "adversary", "-o", "o.pmt"],
    ["trace", "gen", "adversary", "--against", "system", "-o", "o.pmt"],
    ["trace", "convert", "x.pmt"], ["trace", "convert", "x.pmt", "o.pmt", "--to", "xml"],
    ["trace", "record", "-o", "o.pmt"], ["trace", "record", "-o", "o.pmt", "--", "/nonexistent/prog"],
    ["trace", "record", "--salvage", "nosuch.tmp", "-o", "o.pmt"], ["trace", "import", "x.log", "-o", "o.pmt"],
    ["debugstats", "--backend", "segfit"], ["debugstats", "--backend", "pymalloc", "--exercise", "-1"],
    ["debugstats", "--backend", "pymalloc", "x.pmt", "--at-phase", "99"],
    ["pyrun", "nosuch", "--backend", "system"], ["pyrun", "web", "--backend", "system", "--scale", "0"],
    ["pyrun", "web", "--backend", "system", "--scale", "nan"], ["pyrun", "web", "--backend", "system", "--scale", "inf"],
    ["pyrun", "web", "--backend", "system", "--scale", "-1"], ["pyrun", "web"],
    ["run", "--suite", "quick", "--backends", "nosuch", "--out", "r"], ["run", "--suite", "quick", "--backends", "", "--out", "r"],
    ["run", "--suite", "quick", "--jobs", "0", "--out", "r"], ["run", "--suite", "quick", "--timeout", "0", "--out", "r"],
    ["run", "--suite", "quick", "--mem-limit", "1K", "--out", "r"], ["run", "--suite", "quick", "--mem-limit", "lots", "--out", "r"],
    ["run", "--suite", "quick", "--only", "x", "--out", "r"], ["run", "--suite", "quick", "--workloads", "nosuch", "--out", "r"],
    ["run", "--suite", "quick", "--force", "--out", "r"], ["run", "--suite", "quick", "--baseline", "nosuch", "--out", "r"],
    ["run", "--suite", "quick", "--reps", "0", "--out", "r"], ["run", "--suite", "quick", "--series-every", "0", "--out", "r"],
    ["plot"], ["plot", "nosuch"], ["merge"], ["merge", "--out", "m"], ["merge", "nosuch", "--out", "m"],
    ["validate"], ["validate", "--allocators", "nosuch", "--", "true"], ["validate", "--reps", "0", "--", "true"],
    ["help", "nosuch"], ["--versio"], ["backends", "extra"],
    ["micro", "--backend", "sys\x1b[2Jtem"], ["replay", "x\x1b[31m.pmt", "--backend", "system"],
    ["nosuch\x07\x1b[2J"], ["run", "--suite", "s\x1b[2J", "--out", "r"], ["table", "r\ttab\nline"],
    ["trace", "gen", "ch\x1burn", "-o", "o.pmt"], ["pyrun", "we\x1bb", "--backend", "system"],
    ["micro", "--backend", "system", "--ops", "1\x1b[2J"],
]


def cases_cli():
    cs = []
    files = {"x.pmt": "pmtrace 1\nalloc 0 16\nfree 0\n", "s.txt": "a = list\n", "x.log": "= Start\n= End\n",
             "r.jsonl": "", "s.suite": "reps 1\ngen churn ops=2K live=10\n"}
    for a in CLI_BAD:
        if a[:1] == ["micro"]:
            a = a + ["--ops", "10K", "--reps", "1"] if "--ops" not in a else a + ["--reps", "1"]
        a = ["./s.suite" if x == "quick" else x for x in a]
        cs.append(Case("options", " ".join(a) or "(no arguments)", a, files=files, expect="error"))
    for a, chk in ((["--version"], None), (["help", "run"], None), (["backends"], None),
                   (["micro", "--backend", "pymalloc", "--ops", "10K", "--reps", "1"], None),
                   (["pyrun", "--list"], None), (["micro", "--backend", "debug:debug:system", "--ops", "10K", "--reps", "1"], None)):
        cs.append(Case("options", "valid: " + " ".join(a), a, files=files, check=chk))
    return cs


# ---------------------------------------------------------------- outputs
WRITERS = [
    ("trace gen", ["trace", "gen", "churn", "--ops", "2000", "--live", "10", "-o", "{}"]),
    ("trace convert", ["trace", "convert", "in.pmt", "{}"]),
    ("trace import", ["trace", "import", "--format", "mtrace", "in.log", "-o", "{}"]),
    ("trace record", ["trace", "record", "-o", "{}", "--", "true"]),
    ("objrun --record-trace", ["objrun", "ok.txt", "--backend", "system", "--record-trace", "{}"]),
    ("pyrun --series", ["pyrun", "json", "--scale", "0.001", "--backend", "system", "--series", "{}", "--reps", "1"]),
    ("replay --series", ["replay", "in.pmt", "--backend", "system", "--series", "{}", "--reps", "1"]),
    ("run --emit-jobs", ["run", "--suite", "s.suite", "--backends", "system", "--emit-jobs", "{}"]),
]


def out_setup(d, binary):
    subprocess.run([binary, "trace", "gen", "churn", "--ops", "2000", "--live", "10", "-o", "in.pmt"],
                   cwd=d, capture_output=True, check=True)
    open(os.path.join(d, "in.log"), "w").write("= Start\n@ ./a:[0x1] + 0x10 0x20\n@ ./a:[0x1] - 0x10\n= End\n")
    open(os.path.join(d, "ok.txt"), "w").write("a = list\ndel a\n")
    open(os.path.join(d, "s.suite"), "w").write("reps 1\ngen churn ops=2K live=10\n")


def full_tmpfs(size):
    def setup(d, binary):
        out_setup(d, binary)
        os.mkdir(os.path.join(d, "full"))
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", os.path.join(d, "full")],
                           capture_output=True)
        if r.returncode:
            raise RuntimeError("cannot mount a tmpfs: " + r.stderr.decode())
        # a precious file already there, filling most of it
        with open(os.path.join(d, "full", "keep.pmt"), "wb") as f:
            f.write(b"precious " * 1000)
        return [os.path.join(d, "full")]
    return setup


def cases_outputs():
    cs = []
    problems = [
        ("a folder", lambda d: os.mkdir(os.path.join(d, "o")), "o"),
        ("a folder with a trailing /", lambda d: os.mkdir(os.path.join(d, "o")), "o/"),
        ("a missing folder", None, "nodir/o"),
        ("a file used as a folder", None, "in.pmt/o"),
        ("a leftover o.tmp", lambda d: open(os.path.join(d, "o.tmp"), "w").close(), "o"),
        ("a dangling symlink", lambda d: os.symlink("/nonexistent/x", os.path.join(d, "o")), "o"),
        # a character device (a private /dev/full: never the machine's own,
        # which an output renamed into place would replace) and a FIFO
        ("a character device", lambda d: os.mknod(os.path.join(d, "o"), 0o20666, os.makedev(1, 7))
         if os.geteuid() == 0 else os.mkfifo(os.path.join(d, "o")), "o"),
        ("a FIFO", lambda d: os.mkfifo(os.path.join(d, "o")), "o"),
        ("an empty name", None, ""),
        ("a read-only folder (root writes anyway)", lambda d: (os.mkdir(os.path.join(d, "ro")), os.chmod(os.path.join(d, "ro"), 0o500)), "ro/o"),
    ]
    for pname, prep, path in problems:
        for wname, argv in WRITERS:
            def setup(d, b, prep=prep):
                out_setup(d, b)
                if prep:
                    prep(d)
            c = Case("output-paths", "%s: %s" % (wname, pname), [a.replace("{}", path) for a in argv],
                     setup=setup, timeout=60)
            if pname == "a dangling symlink":   # replaced whole, as an existing file is; its target untouched
                c.may_change = ("o",)
            cs.append(c)
    # an existing file is replaced whole by a good result
    for wname, argv in WRITERS:
        if wname == "run --emit-jobs":
            continue
        def setup(d, b):
            out_setup(d, b)
            open(os.path.join(d, "o"), "w").write("precious\n")
        def replaced(d, out, err):
            s = open(os.path.join(d, "o"), "rb").read()
            if s == b"precious\n" or not s:
                return "lost: the existing file was not replaced by the result"
            if os.path.exists(os.path.join(d, "o.tmp")):
                return "o.tmp left behind"
        c = Case("output-paths", "%s over an existing file" % wname, [a.replace("{}", "o") for a in argv],
                 setup=setup, check=replaced, timeout=60)
        c.may_change = ("o",)
        cs.append(c)
    # a read-only file system
    def rofs(d, b):
        out_setup(d, b)
        os.mkdir(os.path.join(d, "ro"))
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", os.path.join(d, "ro")], check=True)
        return [os.path.join(d, "ro")]
    for wname, argv in WRITERS:
        cs.append(Case("output-paths", "%s: a read-only file system" % wname,
                       [a.replace("{}", "ro/o") for a in argv], setup=rofs, timeout=60))
    cs.append(Case("output-paths", "run --out a read-only file system",
                   ["run", "--suite", "s.suite", "--backends", "system", "--out", "ro/r"], setup=rofs))
    cs.append(Case("output-paths", "run --out an existing file",
                   ["run", "--suite", "s.suite", "--backends", "system", "--out", "in.pmt"], setup=out_setup))
    return cs


def cases_full_disk():
    """a 256 KiB tmpfs with a precious file in it; every writer asked to
    write more than fits: exit 1 (or 2) saying so, the precious file kept,
    no partial output under the name asked for, no .tmp left"""
    cs = []
    big = [
        ("trace gen", ["trace", "gen", "churn", "--ops", "400K", "--live", "1000", "-o", "full/{}"]),
        ("trace convert to text", ["trace", "convert", "big.pmt", "full/{}"]),
        ("trace convert to binary", ["trace", "convert", "big.pmt", "full/{}", "--to", "binary"]),
        ("replay --series", ["replay", "big.pmt", "--backend", "pymalloc", "--series", "full/{}", "--sample-every", "1", "--reps", "1"]),
        ("pyrun --series", ["pyrun", "json", "--scale", "0.05", "--backend", "pymalloc", "--series", "full/{}", "--sample-every", "1", "--reps", "1"]),
        ("objrun --record-trace", ["objrun", "loop.txt", "--backend", "pymalloc", "--record-trace", "full/{}"]),
        ("trace import", ["trace", "import", "--format", "mtrace", "big.log", "-o", "full/{}"]),
    ]
    def setup(d, b):
        mounts = full_tmpfs("256k")(d, b)
        subprocess.run([b, "trace", "gen", "churn", "--ops", "100K", "--live", "1000", "-o", "big.pmt"],
                       cwd=d, check=True, capture_output=True)
        open(os.path.join(d, "loop.txt"), "w").write("l = list\nrepeat 200000\nx = str abcdefgh\nappend l x\nend\n")
        with open(os.path.join(d, "big.log"), "w") as f:
            f.write("= Start\n")
            for i in range(200000):
                f.write("@ ./a:[0x1] + 0x%x 0x20\n" % (0x1000 + 64 * i))
            f.write("= End\n")
        return mounts
    for wname, argv in big:
        for target in ("new.out", "keep.pmt"):
            def check(d, out, err, target=target, case_ref=[]):
                left = [f for f in os.listdir(os.path.join(d, "full")) if f.endswith(".tmp")]
                if left:
                    return "left %s on the full disk" % left
                p = os.path.join(d, "full", target)
                rc = case_ref[0].last_rc
                if rc != 0:   # failed: nothing under the name asked for, the old file intact
                    if target == "new.out" and os.path.exists(p):
                        return "lost: a partial new.out was left under the name asked for"
                    if target == "keep.pmt" and open(p, "rb").read() != b"precious " * 1000:
                        return "lost: the existing file was changed by a failed write"
                elif target.endswith((".pmt", ".out")) and "series" not in " ".join(case_ref[0].argv):
                    r = subprocess.run([binary_of[0], "trace", "info", p], capture_output=True)
                    if r.returncode:   # reported done: it must be whole
                        return "lost: exit 0 but the output is not a whole trace: " + short(r.stderr.decode())
            c = Case("full-disk", "%s into %s" % (wname, "a new file" if target == "new.out" else "an existing file"),
                     [a.replace("{}", target) for a in argv], setup=setup, check=check,
                     ok1="No space left on device", timeout=120)
            check.__defaults__[1].append(c)
            c.must_keep = ()
            cs.append(c)
    # a run whose folder is on the full disk
    def runcheck(d, out, err):
        r = os.path.join(d, "full", "r")
        why = csv_jsonl_agree(r) if os.path.isdir(r) else None
        if why:
            return "lost: " + why
    def run_setup(d, b):
        m = setup(d, b)
        open(os.path.join(d, "s.suite"), "w").write("reps 2\ngen churn ops=200K live=2000\npy json scale=0.02\n")
        return m
    c = Case("full-disk", "run --out a full disk", ["run", "--suite", "s.suite", "--backends", "system,pymalloc",
                                                     "--out", "full/r"], setup=run_setup, check=runcheck,
             ok1="No space left on device", timeout=180)
    c.must_keep = ("full/keep.pmt",)
    cs.append(c)
    # the traces elsewhere: the runs' own writes (series, results) meet the full disk
    def run2check(d, out, err):
        r = os.path.join(d, "full", "r")
        if not os.path.isdir(r):
            return None
        why = csv_jsonl_agree(r)
        if why:
            return "lost: " + why
        for x in runs_of(r):
            if x["status"] == "ok" and x.get("series") and not os.path.getsize(os.path.join(r, x["series"])):
                return "lost: run %s/%s ok with an empty series" % (x["workload"], x["backend"])
            if x["status"] == "ok" and x["rep"] == 1 and not x.get("series"):
                return "lost: run %s/%s rep 1 ok without its series" % (x["workload"], x["backend"])
    def run2_setup(d, b):
        m = setup(d, b)
        open(os.path.join(d, "s.suite"), "w").write("reps 2\ngen churn ops=200K live=2000\npy json scale=0.05\n")
        return m
    c = Case("full-disk", "run --out a full disk, traces elsewhere",
             ["run", "--suite", "s.suite", "--backends", "system,pymalloc", "--out", "full/r", "--traces-dir", "tr",
              "--series-every", "1"], setup=run2_setup, check=run2check, ok1="No space left on device", timeout=240)
    c.must_keep = ("full/keep.pmt",)
    cs.append(c)
    # trace record of a python program on the full disk
    c = Case("full-disk", "trace record of python3 onto a full disk",
             ["trace", "record", "-o", "full/rec.pmt", "--", "python3", "-c", "l=[str(i) for i in range(300000)]"],
             setup=setup, ok1="disk", timeout=120)
    c.must_keep = ("full/keep.pmt",)
    cs.append(c)
    return cs


# ---------------------------------------------------------------- results folders
def make_results(binary, d, name="r"):
    open(os.path.join(d, "s.suite"), "w").write("reps 2\ntimeout 60\ngen churn ops=20K live=500 seed=7\n")
    subprocess.run([binary, "run", "--suite", "s.suite", "--backends", "system,pymalloc", "--out", name],
                   cwd=d, check=True, capture_output=True)


def cases_results():
    cs = []
    def corrupt(f, how):
        def setup(d, b):
            make_results(b, d)
            p = os.path.join(d, "r", f)
            s = open(p, "rb").read() if os.path.exists(p) else b""
            open(p, "wb").write(how(s)) if how else os.remove(p)
        return setup
    muts = [
        ("results.jsonl", "truncated mid-record", lambda s: s[:len(s) * 2 // 3]),
        ("results.jsonl", "a line of garbage", lambda s: s + b"{not json\n"),
        ("results.jsonl", "empty", lambda s: b""),
        ("results.jsonl", "deleted", None),
        ("results.jsonl", "a record with a wrong type", lambda s: s.replace(b'"rep":1', b'"rep":"one"', 1)),
        ("results.jsonl", "a record missing its workload", lambda s: s.replace(b'"workload":', b'"w0rkload":', 1)),
        ("results.jsonl", "NUL bytes", lambda s: s[:50] + b"\0" * 20 + s[70:]),
        ("results.jsonl", "a 2 MiB line", lambda s: s + b'{"workload":"' + b"x" * (2 << 20) + b'"}\n'),
        ("results.jsonl", "an array, not objects", lambda s: b"[1,2,3]\n"),
        ("results.jsonl", "duplicated records", lambda s: s + s),
        ("results.jsonl", "negative numbers", lambda s: s.replace(b'"ns_per_op":', b'"ns_per_op":-', 1)),
        ("results.jsonl", "huge numbers", lambda s: s.replace(b'"rep":1', b'"rep":1e400', 1)),
        ("results.jsonl", "control bytes in a name", lambda s: s.replace(b'"gen-churn"', b'"gen\\u001b[2Jchurn"', 1)),
        ("results.csv", "garbage", lambda s: b"a,b,c\n1,2\n"),
        ("results.csv", "deleted", None),
        ("results.csv", "truncated", lambda s: s[:len(s) // 2]),
        ("provenance.json", "garbage", lambda s: b"{{{"),
        ("provenance.json", "deleted", None),
        ("provenance.json", "empty", lambda s: b""),
        ("provenance.json", "an array", lambda s: b"[]"),
        ("provenance.json", "a wrong commit", lambda s: s.replace(b'"commit":"', b'"commit":"X', 1)),
    ]
    cmds = [("table", ["table", "r"]), ("merge", ["merge", "r", "--out", "m"]),
            ("run --resume", ["run", "--suite", "s.suite", "--backends", "system,pymalloc", "--out", "r", "--resume"])]
    for f, how, fn in muts:
        for cname, argv in cmds:
            def check(d, out, err, cname=cname):
                for x in ("r", "m"):
                    p = os.path.join(d, x)
                    if os.path.isdir(p):
                        why = csv_jsonl_agree(p)
                        if why and not (x == "r" and cname != "run --resume"):
                            return "lost: %s: %s" % (x, why)
                if cname == "run --resume":
                    recs = [json.loads(l) for l in open(os.path.join(d, "r", "results.jsonl")) if l.strip()]
                    have = {(r.get("workload"), r.get("backend"), r.get("rep")) for r in recs if r.get("status") == "ok"}
                    if len(have) != 4:
                        return "lost: after --resume %d of the 4 runs are ok in results.jsonl" % len(have)
            c = Case("results-folder", "%s %s: %s" % (f, how, cname), argv, setup=corrupt(f, fn),
                     check=check, timeout=120)
            if cname == "run --resume":
                c.may_change = ("r/",)   # resume reruns what is missing; the check counts the runs
            cs.append(c)
    cs.append(Case("results-folder", "table of a folder with only a .lock", ["table", "r"],
                   setup=lambda d, b: (os.mkdir(os.path.join(d, "r")), open(os.path.join(d, "r", ".lock"), "w").close())))
    cs.append(Case("results-folder", "merge of a folder into itself", ["merge", "r", "--out", "r"],
                   setup=lambda d, b: make_results(b, d)))
    cs.append(Case("results-folder", "merge into a folder with results", ["merge", "r", "--out", "r2"],
                   setup=lambda d, b: (make_results(b, d), make_results(b, d, "r2"))))
    return cs


# ---------------------------------------------------------------- signals and concurrency
SIG_SUITE = "reps 2\ntimeout 60\ngen churn ops=300K live=2000 seed=7\npy json scale=0.02\n"


def runs_of(folder):
    p = os.path.join(folder, "results.jsonl")
    if not os.path.exists(p):
        return []
    return [json.loads(l) for l in open(p) if l.strip()]


def signal_runner(sig, after):
    def runner(case, d, binary):
        open(os.path.join(d, "s.suite"), "w").write(SIG_SUITE)
        argv = [binary, "run", "--suite", "s.suite", "--backends", "system,pymalloc", "--out", "r"]
        p = subprocess.Popen(argv, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, start_new_session=(sig == signal.SIGINT))
        time.sleep(after)
        if sig == signal.SIGINT:       # Ctrl-C: the whole foreground process group
            os.killpg(p.pid, sig)
        else:
            p.send_signal(sig)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            return "hang", "the runner did not stop within 30 s of %s" % sig.name
        time.sleep(0.5)
        left = leftover_procs(d)
        if left:
            for x in left:
                os.kill(x, signal.SIGKILL)
            return "other", "processes left behind after %s: %s" % (sig.name, left)
        why = csv_jsonl_agree(os.path.join(d, "r")) if os.path.isdir(os.path.join(d, "r")) else None
        if why:
            return "lost", "after %s: %s" % (sig.name, why)
        if any(f.endswith(".tmp") for f in os.listdir(os.path.join(d, "r", "traces"))
               if os.path.isdir(os.path.join(d, "r", "traces"))) if os.path.isdir(os.path.join(d, "r")) else False:
            pass  # removed by the next run (tested by rel_run.sh)
        t = err.decode("utf-8", "replace")
        for m in SAN:
            if m in t:
                return "crash", "%s after %s: %s" % (m, sig.name, first(t, m))
        # resume must finish the matrix: 2 workloads x 2 backends x 2 reps
        try:
            r = subprocess.run(argv + ["--resume"], cwd=d, capture_output=True, timeout=120,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return "hang", "--resume after %s did not finish in 120 s" % sig.name
        if r.returncode != 0:
            return "other", "--resume after %s: exit %d: %s" % (sig.name, r.returncode, short(r.stderr.decode()))
        why = csv_jsonl_agree(os.path.join(d, "r"))
        if why:
            return "lost", "after %s and --resume: %s" % (sig.name, why)
        ok = {(x["workload"], x["backend"], x["rep"]) for x in runs_of(os.path.join(d, "r")) if x["status"] == "ok"}
        if len(ok) != 8:
            return "lost", "after %s and --resume: %d of 8 runs ok" % (sig.name, len(ok))
        return "ok", "stopped by %s after %.1f s (exit %s); --resume completed 8 of 8 runs" % (
            sig.name, after, p.returncode)
    return runner


def two_runner(second):
    def runner(case, d, binary):
        open(os.path.join(d, "s.suite"), "w").write(SIG_SUITE)
        base = [binary, "run", "--suite", "s.suite", "--backends", "system,pymalloc", "--out", "r"]
        if second == "merge":
            make_results(binary, d, "other")
            open(os.path.join(d, "s.suite"), "w").write(SIG_SUITE)
        p1 = subprocess.Popen(base, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(os.path.join(d, "r", ".lock")):
                break
            time.sleep(0.05)
        argv2 = {"run": base, "resume": base + ["--resume"], "merge": [binary, "merge", "other", "--out", "r"],
                 "emit": base[:-2] + ["--out", "r", "--only", "gen-churn:system:1"]}[second]
        p2 = subprocess.run(argv2, cwd=d, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
        try:
            p1.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            p1.kill()
            return "hang", "the first run did not finish"
        e2 = p2.stderr.decode()
        if p1.returncode != 0:
            return "other", "the first run: exit %d" % p1.returncode
        why = csv_jsonl_agree(os.path.join(d, "r"))
        if why:
            return "lost", why
        recs = runs_of(os.path.join(d, "r"))
        if len(recs) != 8 or any(x["status"] != "ok" for x in recs):
            return "lost", "%d records (want 8 ok ones) after a second %s" % (len(recs), second)
        if p2.returncode == 2 and len(e2.splitlines()) == 1 and "is in use by another run" in e2:
            return "clear-error", e2.strip()
        return "other", "the second %s: exit %d: %s" % (second, p2.returncode, short(e2))
    return runner


def cases_signals():
    cs = []
    for sig in (signal.SIGKILL, signal.SIGINT, signal.SIGTERM):
        for after in (0.3, 1.0, 2.5):
            cs.append(Case("signals", "%s at %.1f s, then --resume" % (sig.name, after), [],
                           runner=signal_runner(sig, after), slow=True))
    for second in ("run", "resume", "merge", "emit"):
        cs.append(Case("two-runs", "a %s into a folder a run holds" % second, [], runner=two_runner(second), slow=True))
    return cs


# ---------------------------------------------------------------- misuse, OOM
def cases_misuse():
    cs = []
    own = ["pymalloc", "segfit", "buddy", "null", "debug:pymalloc", "debug:segfit", "debug:buddy", "debug:null",
           "pymalloc,preset=3.8", "buddy,max=64K"]
    traces = {
        "2^40-1 bytes": "pmtrace 1\nalloc 0 1099511627775\nfree 0\n",
        "calloc 2^20 x 2^19": "pmtrace 1\ncalloc 0 1048576 524288\nfree 0\n",
        "aligned 1 GiB": "pmtrace 1\naligned 0 16 1073741824\nfree 0\n",
        "realloc to 0 and back": "pmtrace 1\nalloc 0 100\nrealloc 0 0\nrealloc 0 5000\nfree 0\n",
        "size 0 x 1000": "pmtrace 1\n" + "".join("alloc %d 0\n" % i for i in range(1000)) + "".join("free %d\n" % i for i in range(1000)),
        "realloc growth to 64 MiB": "pmtrace 1\nalloc 0 1\n" + "".join("realloc 0 %d\n" % (1 << k) for k in range(1, 27)) + "free 0\n",
    }
    def replayed(nops):
        inner = expect_ops(nops)
        def check(d, out, err):   # exit 0: every op replayed (exit 1: the out-of-memory line, ok1)
            return None if err and b"out of memory" in err else inner(d, out, err)
        return check
    for be in own:
        for tn, t in traces.items():
            cs.append(Case("misuse", "%s on %s" % (tn, be),
                           ["replay", "x.txt", "--backend", be, "--reps", "1", "--check-every", "1"],
                           files={"x.txt": t}, ok1="out of memory", timeout=180 if "aligned" in tn else 60,
                           check=replayed(len(t.splitlines()) - 1)))
        cs.append(Case("misuse", "objrun on " + be, ["objrun", "s.txt", "--backend", be],
                       files={"s.txt": "a = list\nappend a a\ndel a\ncollect\nexpect collected 1\n"},
                       check=self_checked))
        cs.append(Case("misuse", "gcbench on " + be, ["gcbench", "--backend", be, "--objects", "1000"]))
    cs.append(Case("misuse", "debugstats on segfit", ["debugstats", "--backend", "segfit"]))
    cs.append(Case("misuse", "debugstats on debug:pymalloc", ["debugstats", "--backend", "debug:pymalloc"]))
    return cs


def cases_oom():
    cs = []
    def setup(d, b):   # 128 blocks of 1 MiB live at once: over every limit below
        open(os.path.join(d, "g.pmt"), "w").write("pmtrace 1\n" + "".join("alloc %d 1048576\n" % i for i in range(128))
                                                  + "".join("free %d\n" % i for i in range(128)))
        open(os.path.join(d, "s.suite"), "w").write("reps 1\ntimeout 60\ntrace g.pmt\npy json scale=0.3\n")
    for be in ("pymalloc", "segfit", "buddy", "system", "debug:pymalloc", "debug:segfit", "debug:buddy"):
        def check(d, out, err):
            recs = runs_of(os.path.join(d, "r"))
            why = csv_jsonl_agree(os.path.join(d, "r"))
            if why:
                return "lost: " + why
            if len(recs) != 2:
                return "lost: %d records, want 2" % len(recs)
            g = [x for x in recs if x["workload"] == "g"]
            if not g or g[0]["status"] == "ok" or "out of memory" not in (g[0].get("reason") or ""):
                return "the 128 MiB trace under --mem-limit 24M: %s" % (g and (g[0]["status"], g[0].get("reason")))
            if "signal" in (g[0].get("reason") or ""):
                return "a run under --mem-limit died: %s" % g[0].get("reason")
        cs.append(Case("oom", "run --mem-limit 24M on " + be,
                       ["run", "--suite", "s.suite", "--backends", be, "--out", "r", "--mem-limit", "24M"],
                       setup=setup, check=check, timeout=120, skip_asan=True))
        def limit():
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (64 << 20, 64 << 20))
        def runner(case, d, b, be=be):
            setup(d, b)
            try:
                p = subprocess.run([b, "replay", "g.pmt", "--backend", be, "--reps", "1"], cwd=d,
                                   capture_output=True, timeout=60, preexec_fn=limit, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                return "hang", "replay under RLIMIT_AS 64M"
            case.ok1 = "out of memory"
            return classify(case, d, p.returncode, p.stdout, p.stderr, snapshot(d))
        cs.append(Case("oom", "replay under RLIMIT_AS 64 MiB on " + be, [], runner=runner, skip_asan=True))
    return cs


CATS = ["binary-trace", "text-trace", "mtrace", "objscript", "suite", "options", "output-paths",
        "full-disk", "results-folder", "signals", "two-runs", "misuse", "oom"]


def all_cases(binary):
    binary_of[0] = binary
    d = tempfile.mkdtemp(prefix="pm-adv-base-")
    try:
        good = make_trace(binary, d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    cs = (cases_binary(binary, good) + cases_text() + cases_mtrace() + cases_objscript() + cases_suite()
          + cases_cli() + cases_outputs() + cases_full_disk() + cases_results() + cases_signals()
          + cases_misuse() + cases_oom())
    return cs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pymemlab", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--asan", action="store_true", help="the binary is an ASan build (skips RLIMIT_AS cases)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--match", default="")
    ap.add_argument("--json")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    binary = os.path.abspath(a.pymemlab)
    if b"__asan_init" in open(binary, "rb").read():
        a.asan = True
    cs = all_cases(binary)
    for i, c in enumerate(cs):
        c.num = i
    if a.only:
        cs = [c for c in cs if c.cat in a.only.split(",")]
    if a.match:
        cs = [c for c in cs if a.match in c.name]
    for c in cs:
        c.needs_root = c.cat == "full-disk" or "read-only file system" in c.name
    if os.geteuid() != 0:   # no tmpfs can be mounted: said, not hidden
        print("sweep: not root: the %d cases on a small tmpfs are left out" % sum(c.needs_root for c in cs))
        cs = [c for c in cs if not c.needs_root]
    if a.quick:
        seen = set()
        pick = []
        for c in cs:
            if c.slow or c.cat in ("full-disk", "oom", "signals", "two-runs"):
                if c.cat in seen:
                    continue
            if c.cat not in seen or (c.num % 6 == 0 and not c.slow and c.cat not in ("full-disk", "oom")):
                pick.append(c)
                seen.add(c.cat)
        cs = pick
    if a.list:
        for c in cs:
            print("%3d %-15s %s" % (c.num, c.cat, c.name))
        return 0
    res = []
    skipped = []
    start = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.monotonic()
    for c in cs:
        if a.asan and c.skip_asan:
            skipped.append("%s (ASan reserves terabytes of address space: no RLIMIT_AS)" % c.name)
            continue
        t = time.monotonic()
        try:
            outcome, note = run_case(c, binary, a.keep)
        except Exception as e:  # a broken case is reported, not hidden
            outcome, note = "other", "the sweep itself failed on this case: %r" % e
        res.append({"num": c.num, "cat": c.cat, "name": c.name, "argv": c.argv, "outcome": outcome,
                    "note": note, "secs": round(time.monotonic() - t, 2)})
        if a.v or outcome not in ("clear-error", "ok"):
            print("%-11s %3d %s: %s: %s" % (outcome, c.num, c.cat, c.name, note), flush=True)
    tot = {}
    for r in res:
        tot[r["outcome"]] = tot.get(r["outcome"], 0) + 1
    print("%s%d cases in %.0f s: %s" % (a.label + ": " if a.label else "", len(res), time.monotonic() - t0,
                                        ", ".join("%s %d" % kv for kv in sorted(tot.items()))))
    if a.json:
        commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
        json.dump({"label": a.label, "binary": binary, "asan": a.asan, "results": res, "skipped": skipped,
                   "commit": commit, "start": start, "secs": round(time.monotonic() - t0),
                   "load": open("/proc/loadavg").read().split()[:3]}, open(a.json, "w"), indent=1)
    return 0 if all(r["outcome"] in ("clear-error", "ok") for r in res) else 1


if __name__ == "__main__":
    sys.exit(main())
