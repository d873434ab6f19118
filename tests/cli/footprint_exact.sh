#!/usr/bin/env bash
# tests/cli/footprint_exact.sh — the footprint of hand-computed traces on
# `system`, exact to the byte, through both paths that measure it: `pymemlab
# replay` (its sampled run in a process forked from the command) and
# `pymemlab run` (the runner's child). F(t) is the process's anonymous RSS
# above the baseline taken just before the first op (docs/metrics.md), so
# anything of the harness's own that faults in after the baseline shows
# here. Until 2026-12-07 the replay loop's 24 KiB decode buffer (a local of
# the loop's frame) did: replay reported 4 or 5 pages too many, run 0 or 1,
# depending on where the stack lay (docs/corrections.md item 3).
# tests/cli/footprint_null.sh checks the same on the backend that does
# nothing with memory, quickly; this one is slow (600 MB of blocks, twice).
#
# The cases (page = 4096 bytes; glibc 2.36 defaults: a request of 128 KiB or
# more is an mmap of request + 16 bytes of header + 8, rounded up to pages):
#  A. 3000 x alloc 200,000 bytes, then the frees: each block 49 pages; peak
#     3000 * 49 pages = 602,112,000; everything unmapped at the end: 0.
#  B. 1000 x alloc 150,000, then the frees: 37 pages each, 151,552,000.
#  Z. one alloc of 0 bytes and its free (the smallest replayable trace: an
#     empty one is refused): glibc serves it from the heap it already has:
#     0 and 0.
set -euo pipefail
# shellcheck source=tests/cli/lib.bash
. "$(dirname "$0")/lib.bash"
# shellcheck source=tests/cli/footprint.bash
. "$(dirname "$0")/footprint.bash"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fp_traces

# Under ASan `system` is ASan's allocator, not glibc: these figures are glibc's.
if asan_build; then
  echo "ok (skipped under ASan: system is not glibc there)"
  exit 0
fi
want "replay a.txt system" "$(replay_fp a.txt system)" "602112000 0"
want "replay b.txt system" "$(replay_fp b.txt system)" "151552000 0"
want "replay z.txt system" "$(replay_fp z.txt system)" "0 0"
want "run system" "$(run_fp system | tr '\n' ' ')" "a ok 602112000 0 b ok 151552000 0 z ok 0 0 "
echo ok
