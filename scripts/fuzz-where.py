#!/usr/bin/env python3
"""scripts/fuzz-where.py — reads `perf script -F ip,sym` (call graphs) on
stdin and prints where the samples inside LLVMFuzzerTestOneInput went, each
sample counted once, under the outermost of these frames on its stack
(nearest the target's entry): check() (the backends' and the object
layer's consistency checks), the content oracle (fills, edge and full
checks, fuzz_diff's compares), create, destroy, fuzz_gc's shadow model,
the backend call it is in (malloc, free, ...); a sample under none of
them (its frames lost to inlining or tail calls) by its innermost frames:
a memset/memmove/memcmp called by the model (content oracle), the OS
layer's mapping and re-zeroing, page faults; else "the target's other
work". Shares are approximate: perf's call graphs (frame pointers) lose
frames in optimised code. Used by scripts/fuzz-where.sh; exit 2 if no sample is inside
the target."""
import collections
import re
import sys

CATEGORIES = [
    ("check()", r"(pymalloc|seg|buddy|debug|null)_check|pm_objspace_check|pm_gc_contains|check_all"),
    ("content oracle", r"verify_block|fz_heap_verify|fz_diff_at|compare_all|compare_slot|compare_classes|write_pattern|adopt"),
    ("create", r"pm_backend_create|fz_heap_open"),
    ("destroy", r"\w+_destroy"),
    ("shadow model (fuzz_gc)", r"shadow_\w+|reach|roots_of|refs_all|vreach|vexists|vedges|reachable_nodes|probe_dead|locate|loc_\w+"),
    ("backend calls", r"(debug|pymalloc|seg|buddy|null)_(malloc|free|realloc|calloc|trim|stats|usable_size)"),
]
RX = [(name, re.compile("^(?:%s)$" % rx)) for name, rx in CATEGORIES]
# Samples under none of those (frames lost to inlining and tail calls) go
# by their innermost frames: the OS layer's mapping and re-zeroing, the
# target's own fills and copies (memset/memmove called from the model),
# page faults; else "the target's other work".
LEAVES = [
    ("OS layer (map, re-zero)", re.compile(r"^(zero_resident|page_is_zero|mincore|map|pm_os_\w+|cache_\w+|__munmap|munmap|mmap64|__mmap)$")),
    ("page faults", re.compile(r"^(exc_page_fault|asm_exc_page_fault)$")),
]
FILL = re.compile(r"^__(memset|memmove|memcpy|memcmp)\w*$")
MODEL = re.compile(r"^(fz_heap_\w+|df_\w+)$")   # or the target itself (stack of 1)
EXTRA = [name for name, _ in LEAVES]


def by_leaf(stack):
    if stack and FILL.match(stack[0]) and (len(stack) == 1 or MODEL.match(stack[1])):
        return "content oracle"
    for f in stack:
        for name, rx in LEAVES:
            if rx.match(f):
                return name
    return "the target's other work"


def samples(lines):
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
        elif line[0] in " \t":
            parts = line.split()
            if len(parts) >= 2:
                frames.append(parts[1].split("+")[0])
        else:
            frames = []
    if frames:
        yield frames


def main():
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return
    if sys.argv[1:]:
        print("fuzz-where.py: no arguments (reads perf script output on stdin); --help", file=sys.stderr)
        sys.exit(2)
    total = inside = 0
    count = collections.Counter()
    for frames in samples(sys.stdin):
        total += 1
        if "LLVMFuzzerTestOneInput" not in frames:
            continue
        inside += 1
        stack = frames[:frames.index("LLVMFuzzerTestOneInput")]   # innermost first
        name = next((n for f in reversed(stack) for n, rx in RX if rx.match(f)), None)
        if name is None:
            name = by_leaf(stack)
        count[name] += 1
    if not inside:
        print("fuzz-where.py: no sample inside LLVMFuzzerTestOneInput (perf record -g?)", file=sys.stderr)
        sys.exit(2)
    print("%d samples, %d (%.0f%%) inside LLVMFuzzerTestOneInput:" % (total, inside, 100.0 * inside / total))
    for name in [n for n, _ in CATEGORIES] + EXTRA + ["the target's other work"]:
        print("  %-24s %5.1f%%" % (name, 100.0 * count[name] / inside))


if __name__ == "__main__":
    main()
