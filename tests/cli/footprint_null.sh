#!/usr/bin/env bash
# tests/cli/footprint_null.sh — the footprint the backend that does nothing
# with memory shows, exact to the byte, through `pymemlab replay` and
# `pymemlab run`, under several placements of the stack. F(t) is the
# process's anonymous RSS above the baseline taken just before the first op
# (docs/metrics.md): every page the harness faults in after the baseline
# shows in it. Until 2026-12-07 the replay loop's 24 KiB decode buffer (a
# local of the loop's frame) did: replay reported 4 or 5 pages too many,
# run 0 or 1, depending on where the stack lay (docs/corrections.md item 3).
# The same on glibc's mmap'd blocks, slowly: tests/cli/footprint_exact.sh.
#
# `test-null` is null with its figures shown: a 4 MiB ring mapped but not
# touched at create, a 16-byte header before each block, blocks laid end to
# end and back to the start when the next one does not fit. Page = 4096.
#  A. 3000 x alloc 200,000, then the frees: 20 blocks of 16 + 200,000 bytes
#     fit a lap (4,000,320 bytes). With --touch pages (every page of each
#     block; the runner's) the first lap touches pages 0..976: 977 pages =
#     4,001,792, kept to the end (null frees nothing). With --touch none only
#     the 20 headers are written, each on its own page: 81,920.
#  B. 1000 x alloc 150,000: 27 blocks of 150,016 bytes a lap (4,050,432):
#     989 pages = 4,050,944 touched; 27 header pages = 110,592 untouched.
#  Z. one alloc of 0 bytes and its free: its header's page, 4,096.
# The stack's placement moves with the size of the environment (and with
# ASLR within a page): each case runs under several environment sizes, so a
# page that faults in only at some placements is caught.
set -euo pipefail
# shellcheck source=tests/cli/lib.bash
. "$(dirname "$0")/lib.bash"
# shellcheck source=tests/cli/footprint.bash
. "$(dirname "$0")/footprint.bash"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fp_traces

# Under ASan the shadow (1/8) of the ring the null backend poisons stays
# resident on some kernels (6.18: +123 pages on 4001792, seen 2026-12-07;
# not on the machines before): the exact figures are the release build's.
if asan_build; then
  echo "ok (skipped under ASan: its shadow pages count in the footprint on some kernels)"
  exit 0
fi

for pad in 0 1300 2600; do
  export PM_TEST_STACK_PAD
  PM_TEST_STACK_PAD=$(head -c "$pad" /dev/zero | tr '\0' x)
  want "replay a.txt test-null (env +$pad)" "$(replay_fp a.txt test-null)" "4001792 4001792"
  want "run test-null (env +$pad)" "$(run_fp test-null | tr '\n' ' ')" \
    "a ok 4001792 4001792 b ok 4050944 4050944 z ok 4096 4096 "
done
unset PM_TEST_STACK_PAD
want "replay a.txt test-null --touch none" "$(replay_fp a.txt test-null --touch none)" "81920 81920"
want "replay b.txt test-null --touch none" "$(replay_fp b.txt test-null --touch none)" "110592 110592"
want "replay b.txt test-null" "$(replay_fp b.txt test-null)" "4050944 4050944"
want "replay z.txt test-null" "$(replay_fp z.txt test-null)" "4096 4096"
# the options that keep memory of their own (made resident before the
# baseline), and the per-op loop
want "replay a.txt test-null --latency-every 64 --series" \
  "$(replay_fp a.txt test-null --latency-every 64 --series a.csv)" "4001792 4001792"
want "replay a.txt test-null --engine per-op --sample-every 1000" \
  "$(replay_fp a.txt test-null --engine per-op --sample-every 1000)" "4001792 4001792"
want "replay a.txt test-null --check-every 100" \
  "$(replay_fp a.txt test-null --check-every 100 --touch none)" "81920 81920"
echo ok
