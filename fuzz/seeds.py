#!/usr/bin/env python3
"""fuzz/seeds.py OUT [--pymemlab PATH] -- writes seed inputs for every fuzz
target into OUT/<target>/ (deterministic: same output every run).

The seeds are the starting point of the committed corpora in fuzz/corpus/:
scripts/fuzz.sh --seed runs this, fuzzes each target briefly and keeps a
minimised merge (libFuzzer -merge=1). They follow the input encodings
documented at the top of each fuzz/<target>.c and in fuzz/fuzz_model.h:

  fuzz_alloc, fuzz_oom  backend selector 0..15 (every registered own backend
                        and variant, several times over), then op sequences
                        that reach every operation: sizes in every range,
                        realloc growth and shrinking, calloc overflow,
                        misuse of each kind, trim, check; fuzz_oom adds
                        create fault plans and FAIL_NTH/FAIL_FROM/LIFT.
  fuzz_diff             the same kinds of sequences in its own encoding.
  fuzz_trace            traces from `pymemlab trace gen` (binary and text,
                        with metadata), cut, unfinished and damaged copies;
                        glibc mtrace logs (one glibc wrote, hand-made ones
                        with every line kind and the importer's repairs).
  fuzz_objscript        tests/objscripts/*.txt and small scripts per statement.
  fuzz_frag,            alloc/free programs that fill the live limit, free in
  fuzz_retention        patterns (every k-th, a size class, a range) and refill
                        with other sizes (fuzz/fuzz_worst.h encoding).
  fuzz_gc               object graphs: cycles through instances, lists, dicts
                        and tuples, finalizers (tp_finalize, legacy), weakref
                        callbacks, gc.garbage cleared, full collections.
"""
import argparse
import os
import random
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def size_bytes(n):
    """fz_size encoding of n (fuzz_common.c)."""
    if n < 1024:
        return bytes([n >> 4, n & 15])
    if n < 65536:
        return bytes([0x60]) + struct.pack('<H', n)
    if n < 5 << 20:
        return bytes([0xA0]) + struct.pack('<I', n)[:3]
    raise ValueError(n)


def edge_bytes(k, d):
    """fz_size range 4: 2^k + d."""
    return bytes([0x80, k, d + 32])


def huge_bytes(i):
    return bytes([0xE0 | i])


class Ops:
    """fuzz_model.h op encoding."""

    def __init__(self):
        self.b = bytearray()

    def malloc(self, slot, size):
        self.b += bytes([0, slot]) + (size if isinstance(size, bytes) else size_bytes(size))

    def calloc(self, slot, count_byte, size):
        self.b += bytes([4, slot, count_byte]) + (size if isinstance(size, bytes) else size_bytes(size))

    def realloc(self, slot, size):
        self.b += bytes([6, slot]) + (size if isinstance(size, bytes) else size_bytes(size))

    def free(self, slot):
        self.b += bytes([9, slot])

    def trim(self):
        self.b += bytes([13, 0])   # even slot byte: trim

    def misuse(self, slot, kind, use_realloc, arg):
        self.b += bytes([14, slot, (arg << 3) | (4 if use_realloc else 0) | kind])

    def check(self):
        self.b += bytes([13, 1])   # odd slot byte: check

    def raw(self, data):
        self.b += data


def alloc_programs(rng):
    """Op sequences for fuzz_alloc / fuzz_oom (without the leading bytes)."""
    progs = []
    # 1. small sizes, every size class edge, freed in reverse (coalescing)
    o = Ops()
    for i, n in enumerate([0, 1, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 127, 128, 129, 255,
                           256, 257, 511, 512, 513, 1023]):
        o.malloc(i, n)
    o.check()
    for i in reversed(range(22)):
        o.free(i)
    o.check()
    progs.append(o)
    # 2. realloc growth and shrinking through every range
    o = Ops()
    o.malloc(1, 24)
    for n in [40, 100, 500, 1000, 4000, 20000, 70000, 300000, 1100000, 3000000, 1000, 16, 0, 5000]:
        o.realloc(1, n)
    o.realloc(2, 64)          # realloc(NULL)
    o.realloc(2, huge_bytes(0))
    o.check()
    progs.append(o)
    # 3. calloc: zeroes after dirty frees, overflow, zero counts
    o = Ops()
    for i in range(8):
        o.malloc(i, 200 + 16 * i)
    for i in range(8):
        o.free(i)
    o.calloc(3, 7, 24)
    o.calloc(4, 0, 100)
    o.calloc(5, 23, 0)
    o.calloc(6, 0xFF, 64)      # 2^59 * 64: overflow
    o.calloc(7, 0xE4, 16)      # 2^32 * 16: impossible
    o.calloc(8, 2, 1 << 20)
    o.check()
    progs.append(o)
    # 4. power-of-two edges, large blocks, trim
    o = Ops()
    s = 0
    for k in range(4, 23, 2):
        for d in (-1, 0, 1):
            o.malloc(s % 64, edge_bytes(k, d))
            s += 1
    o.trim()
    for i in range(0, 64, 2):
        o.free(i)
    o.trim()
    o.check()
    progs.append(o)
    # 5. misuse of each kind, free and realloc
    o = Ops()
    o.malloc(0, 64)
    o.malloc(1, 64)
    o.malloc(2, 3000)
    o.malloc(3, 2 << 20)
    o.free(1)
    for kind in range(4):
        for r in (False, True):
            o.misuse(0 if kind != 1 else 2, kind, r, kind * 3 + 1)
    o.misuse(3, 1, False, 30)    # interior of a large block
    o.free(0)
    o.misuse(0, 0, False, 0)     # stale after merging
    o.check()
    progs.append(o)
    # 6. impossible sizes
    o = Ops()
    for i in range(8):
        o.malloc(i, huge_bytes(i))
        o.realloc(9, huge_bytes(i))
    progs.append(o)
    # 7-10. random churn
    for r in range(4):
        o = Ops()
        for _ in range(120):
            slot = rng.randrange(24)
            c = rng.random()
            if c < 0.45:
                n = rng.choice([rng.randrange(1, 600), rng.randrange(600, 70000),
                                rng.randrange(70000, 1 << 21)] if r % 2 else [rng.randrange(1, 600)])
                o.malloc(slot, n)
            elif c < 0.55:
                o.calloc(slot, rng.randrange(1, 20), rng.randrange(1, 300))
            elif c < 0.7:
                o.realloc(slot, rng.randrange(0, 3000 if r < 2 else 600000))
            elif c < 0.97:
                o.free(slot)
            elif c < 0.985:
                o.trim()
            else:
                o.check()
        progs.append(o)
    return progs


def fault(kind, k):
    """fuzz_oom fault ops: 'nth' (k 0..7), 'from' (k 0..3), 'lift'."""
    if kind == 'nth':
        return bytes([0xF0 | k])
    if kind == 'from':
        return bytes([0xF8 | k])
    return bytes([0xFC])


def gen_alloc(out, rng):
    progs = alloc_programs(rng)
    n = 0
    for sel in range(16):
        p = progs[sel % len(progs)]
        write(out, 'fuzz_alloc', 'sel%02d-prog%02d' % (sel, sel % len(progs)), bytes([sel]) + p.b)
        n += 1
    for i, p in enumerate(progs):
        write(out, 'fuzz_alloc', 'prog%02d-sel%02d' % (i, i + 5), bytes([i + 5]) + p.b)


def gen_oom(out, rng):
    progs = alloc_programs(rng)
    for sel in range(16):
        for plan in (0, 1, 2, 3):
            if plan and sel % 4:
                continue
            o = Ops()
            o.malloc(0, 100)
            o.malloc(1, 3000)
            o.raw(fault('from', sel % 4))
            for i in range(2, 40):
                o.malloc(i, 100 + 37 * i)
            o.malloc(40, 2 << 20)
            o.realloc(0, 5000)
            o.calloc(41, 3, 100)
            o.check()
            o.raw(fault('lift', 0))
            o.malloc(42, 70000)
            o.raw(fault('nth', sel % 8))
            for i in range(43, 60):
                o.malloc(i, 1 << (i - 40))
            o.raw(fault('nth', 0))
            o.realloc(43, 1 << 20)
            o.trim()
            write(out, 'fuzz_oom', 'sel%02d-plan%d' % (sel, plan), bytes([sel, plan if plan else 9]) + o.b)
    for i, p in enumerate(progs):
        cut = len(p.b) // 3
        b = bytes(p.b[:cut]) + fault('from', i % 4) + bytes(p.b[cut:2 * cut]) + fault('lift', 0) + \
            bytes(p.b[2 * cut:])
        write(out, 'fuzz_oom', 'prog%02d' % i, bytes([i, 9]) + b)


def gen_diff(out, rng):
    def sz(n):
        return n if isinstance(n, bytes) else size_bytes(n)
    progs = []
    b = bytearray()
    for i, n in enumerate([0, 1, 16, 17, 100, 512, 513, 4096, 70000, 1 << 20, 3 << 20]):
        b += bytes([0, i]) + sz(n) + bytes([i * 7])
    for i, n in enumerate([5, 0, 40, 100000, 16, 2 << 20, 1, 700, 513, 64, 9]):
        b += bytes([3, i]) + sz(n) + bytes([i])
    b += bytes([6, 3]) + struct.pack('<HH', 10, 200) + bytes([9])
    b += bytes([2, 20, 7]) + sz(24) + bytes([2, 21, 0xFF]) + sz(64) + bytes([2, 22, 0]) + sz(1000)
    b += bytes([2, 23, 0xE0]) + sz(0)   # huge count, size 0: system's calloc bug, worked around
    b += bytes([0, 24]) + huge_bytes(3) + bytes([0])
    b += bytes([3, 1]) + huge_bytes(0) + bytes([0])
    b += bytes([7, 0])
    for i in range(0, 11, 2):
        b += bytes([5, i])
    b += bytes([7, 0])
    progs.append(b)
    for r in range(5):
        b = bytearray()
        for _ in range(150):
            slot = rng.randrange(16)
            c = rng.random()
            if c < 0.35:
                b += bytes([0, slot]) + sz(rng.choice([rng.randrange(600), rng.randrange(600, 66000)])) + \
                    bytes([rng.randrange(256)])
            elif c < 0.45:
                b += bytes([2, slot, rng.randrange(20)]) + sz(rng.randrange(400))
            elif c < 0.65:
                b += bytes([3, slot]) + sz(rng.randrange(8000 if r % 2 else 600)) + bytes([rng.randrange(256)])
            elif c < 0.75:
                b += bytes([6, slot]) + struct.pack('<HH', rng.randrange(600), rng.randrange(600)) + \
                    bytes([rng.randrange(256)])
            elif c < 0.98:
                b += bytes([5, slot])
            else:
                b += bytes([7, slot])
        progs.append(b)
    for i, b in enumerate(progs):
        write(out, 'fuzz_diff', 'prog%02d' % i, bytes(b))


def gen_trace(out, pymemlab):
    if not pymemlab:
        print('seeds.py: no --pymemlab: fuzz_trace gets hand-made seeds only', file=sys.stderr)
    tmp = tempfile.mkdtemp()
    made = []
    if pymemlab:
        gens = [
            ['lifo', '--ops', '60', '--live', '10', '--seed', '1'],
            ['fifo', '--ops', '60', '--live', '10', '--seed', '2', '--sizes', 'uniform:1-5000'],
            ['churn', '--ops', '80', '--live', '12', '--seed', '3', '--realloc-frac', '0.3'],
            ['growth', '--ops', '60', '--live', '3', '--seed', '4', '--max-len', '40'],
            ['survivors', '--live', '30', '--seed', '5', '--keep-every', '3', '--again', '10'],
        ]
        for i, g in enumerate(gens):
            path = os.path.join(tmp, 'g%d.pmt' % i)
            subprocess.run([pymemlab, 'trace', 'gen'] + g + ['-o', path], check=True,
                           stdout=subprocess.DEVNULL)
            txt = path[:-4] + '.txt'
            subprocess.run([pymemlab, 'trace', 'convert', path, txt], check=True, stdout=subprocess.DEVNULL)
            made.append((g[0], open(path, 'rb').read(), open(txt, 'rb').read()))
    for name, binary, text in made:
        write(out, 'fuzz_trace', name + '.pmt', binary)
        write(out, 'fuzz_trace', name + '.txt', text)
        write(out, 'fuzz_trace', name + '-cut.pmt', binary[:len(binary) * 2 // 3])
        unfinished = bytearray(binary)
        unfinished[12] &= ~1
        unfinished[16:24] = b'\xff' * 8
        unfinished[24:32] = b'\0' * 8
        write(out, 'fuzz_trace', name + '-unfinished.pmt', bytes(unfinished[:len(binary) - 3]))
        bad = bytearray(binary)
        bad[-2] ^= 0x40
        write(out, 'fuzz_trace', name + '-damaged.pmt', bytes(bad))
        write(out, 'fuzz_trace', name + '-cut.txt', text[:len(text) // 2])
    # hand-made: the example of docs/trace-format.md, every op kind in text form
    write(out, 'fuzz_trace', 'doc-example.txt',
          b'pmtrace 1\n@ops 4\n@slots 2\nalloc 0 128\nalloc 1 16\nfree 0\nfree 1\n')
    hdr = b'PMTRACE\0' + struct.pack('<IIQQQ', 1, 1, 4, 2, 0)
    write(out, 'fuzz_trace', 'doc-example.pmt', hdr + bytes.fromhex('030180' '04210210' '032401' '032402'))
    write(out, 'fuzz_trace', 'every-kind.txt',
          b'pmtrace 1\n@ops 9\n@slots 4\n@meta phase.1=warm up\n@meta cmd=seeds\n'
          b'phase 1\nalloc 0 24 obj\ncalloc 1 10 16 mem\naligned 2 100 4096 raw\n'
          b'realloc 0 4000 obj\nfree 1\nalloc 3 0\nfree 0 obj\nfree 2 raw\n')
    write(out, 'fuzz_trace', 'empty', b'')
    write(out, 'fuzz_trace', 'magic-only', b'PMTRACE\0')
    # mtrace logs (fuzz_trace also imports every input as one): what glibc
    # wrote for tests/record_prog.c's known sequence (MALLOC_TRACE with
    # libc_malloc_debug.so.0; the program's path shortened) ...
    rp = b'@ ./record_prog:[0x%x] '
    glibc = [(0x1576, b'+ 0x562938b834a0 0x64'), (0x1588, b'+ 0x562938b83510 0xc8'),
             (0x1598, b'< 0x562938b834a0'), (0x1598, b'> 0x562938b835e0 0x1388'),
             (0x15af, b'+ 0x562938b849c0 0x30'), (0x15c6, b'+ 0x562938b85000 0x2000'),
             (0x15d8, b'+ 0x562938b832a0 0x18'), (0x15e3, b'- 0x562938b83510'),
             (0x15ef, b'+ 0x562938b84a20 0x21'), (0x15f9, b'- 0x562938b84a20'),
             (0x1603, b'+ 0x562938b84a50 0'), (0x1617, b'- 0x562938b849c0'),
             (0x161f, b'- 0x562938b835e0'), (0x1629, b'+ 0x562938b84a70 0x7'),
             (0x1634, b'- 0x562938b85000'), (0x163c, b'- 0x562938b832a0'),
             (0x1644, b'- 0x562938b84a50'), (0x164c, b'- 0x562938b84a70')]
    write(out, 'fuzz_trace', 'mtrace-glibc.log',
          b'= Start\n' + b''.join(rp % c + l + b'\n' for c, l in glibc) + b'= End\n')
    # ... every line kind, callers with spaces, unknown frees and reallocs, a
    # missed free, failed requests, a size over 1 TiB, a CRLF blank line
    # (tests/cli/record.sh, tests/test_recorder.c) ...
    write(out, 'fuzz_trace', 'mtrace-every-line.log',
          b'= Start\n@ ./prog:[0x401136] + 0x1000 0x64\n'
          b'@ /lib/x86_64-linux-gnu/libc.so.6:(__libc_start_main+0x80)[0x7f00] + 0x2000 0x10\n'
          b'+ 0x3000 0\n@ ./prog:[0x1] - 0x9999\n@ ./a prog with spaces:[0x2] < 0x1000\n'
          b'@ ./a prog with spaces:[0x2] > 0x4000 0x1388\n@ ./prog:[0x3] < 0x5000\n'
          b'@ ./prog:[0x3] > 0x5000 0x20\n@ ./prog:[0x4] + (nil) 0x4000000000000000\n'
          b'@ ./prog:[0x5] ! 0x2000 0x4000000000000000\n@ ./prog:[0x6] + 0x2000 0x30\n\r\n'
          b'@ ./prog:[0x7] < 0x4000\n@ ./prog:[0x7] > 0x4000 0x10\n- 0x3000\n'
          b'@ ./prog:[0x8] + 0x6000 20000000000000\n= End\n')
    # ... reused addresses (missed frees, also under a realloc that moves),
    # a realloc over 1 TiB (the block leaves the trace), free(NULL), a failed
    # realloc, decimal and 0X sizes ...
    write(out, 'fuzz_trace', 'mtrace-repairs.log',
          b'= Start\n+ 0x1000 0x10\n+ 0x1000 0x20\n+ 0x2000 0x30\n< 0x1000\n> 0x2000 0x40\n'
          b'< 0x2000\n> 0x3000 0x20000000000\n- (nil)\n< 0x9000\n> (nil) 0x10\n'
          b'+ 0x4000 0X1f\n+ 0x5000 17\n= End\n')
    # ... and a realloc whose '>' line never comes (an error)
    write(out, 'fuzz_trace', 'mtrace-unpaired.log',
          b'= Start\n+ 0x1000 0x10\n@ ./prog:[0x2] < 0x1000\n= End\n')


def gen_objscript(out):
    d = os.path.join(ROOT, 'tests', 'objscripts')
    for f in sorted(os.listdir(d)):
        if f.endswith('.txt'):
            write(out, 'fuzz_objscript', f, open(os.path.join(d, f), 'rb').read())
    small = {
        'bindings.txt': b'a = int 5\nb = int bits 100 neg\nc = float 2.5\nd = str "hi there"\n'
                        b'e = istr name\nf = bytes 10\nt = tuple a b c\nl = list a t\n'
                        b'm = dict a b "k" l\nx = item l 1\nn = none\n',
        'classes.txt': b'C = class C slots x __dict__ __weakref__\no = new C\nsetattr o x o\n'
                       b'setattr o y 3\ndelattr o y\nw = weakref o callback C\ndel o\ncollect\n'
                       b'expect dead w\nz = deref w\n',
        'lists.txt': b'l = list\nappend l l\ninsert l 0 5\nsetitem l 1 none\ndelitem l 0\nclear l\n'
                     b'repeat 3\nappend l l\nend\nexpect len l 3\n',
        'gc.txt': b'gc disable\ngc threshold 5 2 2\ngc enable\ngc freeze\ng = garbage\n'
                  b'o = objects all\ngc unfreeze\ncollect 0\ncollect 1\nexpect count 0 0\n',
        'finalizers.txt': b'C = class C\nfinalizer C legacy\na = new C\nsetattr a me a\ndel a\ncollect\n'
                          b'expect uncollectable 1\nL = list\nfinalizer C resurrect L finalize\n'
                          b'b = new C\nsetattr b me b\ndel b\ncollect\nfinalizer C collect\n',
        'errors.txt': b'x = item y 3\n',
    }
    for name, text in small.items():
        write(out, 'fuzz_objscript', name, text)


class Gc:
    """fuzz_gc op encoding (fuzz/fuzz_gc.c). Node arguments are picks among
    the reachable nodes, in creation order while nothing has been dropped."""

    def __init__(self):
        self.b = bytearray()

    def inst(self, cls):
        self.b += bytes([cls << 4])

    def lst(self):
        self.b += bytes([2])

    def dct(self):
        self.b += bytes([3])

    def tup(self, *items):
        self.b += bytes([4, len(items)] + list(items))

    def link(self, a, b, k=0):
        self.b += bytes([5, a, b, k])

    def unlink(self, a, k=0):
        self.b += bytes([8, a, k])

    def drop(self, a):
        self.b += bytes([10, a])

    def weakref(self, a):
        self.b += bytes([11, a])

    def collect(self):
        self.b += bytes([12])

    def fin(self, cls, finalize, legacy):
        b = cls + 3 * next(k for k in range(22) if ((cls + 3 * k) >> 2 & 3) == (finalize | legacy << 1))
        self.b += bytes([13, b])

    def clear_garbage(self):
        self.b += bytes([14])


def gen_gc(out):
    progs = {}
    g = Gc()   # a cycle of two instances with finalizers, weakref callbacks
    g.fin(1, 1, 0)
    g.inst(1); g.inst(1); g.link(0, 1); g.link(1, 0); g.weakref(0); g.weakref(1)
    g.drop(1); g.drop(0); g.collect()   # picks count reachable nodes: drop from the top
    progs['finalize-cycle'] = g
    g = Gc()   # a legacy cycle goes to gc.garbage, then is freed once the flag is off
    g.fin(2, 0, 1)
    g.inst(2); g.inst(0); g.link(0, 1); g.link(1, 0); g.drop(1); g.drop(0); g.collect()
    g.clear_garbage(); g.collect(); g.fin(2, 0, 0); g.clear_garbage(); g.collect()
    progs['legacy-garbage'] = g
    g = Gc()   # containers: list <-> dict <-> tuple, self loops
    g.lst(); g.dct(); g.inst(0); g.tup(0, 1, 2); g.link(0, 0); g.link(0, 1, 8); g.link(1, 0, 3)
    g.link(1, 3, 4); g.link(2, 2, 1); g.unlink(0, 0); g.drop(3); g.drop(2); g.collect()
    g.drop(1); g.drop(0); g.collect()
    progs['containers'] = g
    g = Gc()   # refcount deaths with finalizers, a chain
    g.fin(0, 1, 1)
    for _ in range(6):
        g.inst(0)
    for i in range(5):
        g.link(i, i + 1)
    g.weakref(5)
    for _ in range(6):
        g.drop(0)
    g.collect()
    progs['chain'] = g
    g = Gc()   # a big mixed graph
    for i in range(12):
        [g.inst, lambda c: g.lst(), lambda c: g.dct()][i % 3](i % 3)
    for i in range(30):
        g.link((i * 7) % 12, (i * 5 + 3) % 12, i)
    g.weakref(0); g.weakref(3); g.fin(1, 1, 0)
    for i in range(11, -1, -1):
        g.drop(i)
    g.collect(); g.unlink(0, 1); g.collect()
    progs['mixed'] = g
    for name, g in progs.items():
        write(out, 'fuzz_gc', name, bytes(g.b))


def gen_worst(out):
    def run(k, count=256):       # count blocks of 16 << k bytes
        return bytes([2, count - 1, k])

    progs = {}
    progs['fill-16k'] = bytes([0]) + run(10) * 3
    # Robson-style: small blocks, free every other, then the next size up
    b = bytes([0]) + run(6) * 16 + bytes([5, 0, 0]) + run(7) * 8 + bytes([5, 0, 1]) + run(8) * 8
    progs['every-other-grow'] = b
    # leave one block of every 17: retention, pinned regions
    progs['pin-1-in-17'] = bytes([0]) + run(6) * 32 + bytes([5, 15, 0])
    # mixed sizes, free a size class, refill
    b = bytes([0])
    for k in range(11):
        b += run(k, 64)
    b += bytes([6, 5, 6, 7]) + run(9, 128) + bytes([7, 0, 0, 200])
    progs['classes'] = b
    for sel in range(1, 4):
        progs['fill-16k-sel%d' % sel] = bytes([sel]) + run(10) * 3
        progs['every-other-sel%d' % sel] = bytes([sel]) + run(6) * 16 + bytes([5, 0, 0]) + run(7) * 8
    for t in ('fuzz_frag', 'fuzz_retention'):
        for name, data in progs.items():
            write(out, t, name, data)


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('out')
    ap.add_argument('--pymemlab')
    a = ap.parse_args()
    rng = random.Random(0x5EED)
    gen_alloc(a.out, rng)
    gen_oom(a.out, rng)
    gen_diff(a.out, rng)
    gen_trace(a.out, a.pymemlab)
    gen_objscript(a.out)
    gen_gc(a.out)
    gen_worst(a.out)


if __name__ == '__main__':
    main()
