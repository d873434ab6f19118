/* fuzz/fuzz_worst.h — worst-case search (fuzz_frag, fuzz_retention), in
 * the manner of PerfFuzz / FuzzFactory: the input is an alloc/free sequence
 * replayed on one backend, and the figure it reaches is fed back to the
 * fuzzer as coverage, so inputs that reach new highs are kept.
 *
 * Entry point: fw_run (the body of both targets' LLVMFuzzerTestOneInput).
 *
 * THE INPUT: byte 0 picks the backend among the own backends that keep
 * contents, with their option variants ($PM_FUZZ_BACKEND overrides: fuzz
 * one backend per campaign to get its worst case); then ops, an op byte
 * (low 3 bits) and its arguments:
 *   0   alloc SIZE       one block into a free slot
 *   1   extended SUB ARG (SUB % 4): 0 fill: blocks of size X(ARG) until
 *                        the live bound or the slots stop it; 1 keep one
 *                        in K: free all but every K-th live block of the
 *                        last fill, in allocation order (K = ARG + 2 below
 *                        64, then steps of 4 and 8 up to 1338); 2 the same
 *                        over every live block; 3 alloc X(ARG). X(b): the
 *                        smallest request of pymalloc class b (b < 32), of
 *                        buddy block 16 << (b - 32) (b < 43), of segfit
 *                        block 32 << (b - 43) (b < 53), else SIZE's rule.
 *                        (The ops docs/worst-cases.md's constructions are
 *                        made of; before, op 1 was alloc SIZE.)
 *   2   run COUNT SIZE   COUNT + 1 blocks (1..256) of SIZE
 *   3-4 free SLOT16      the block in that slot (modulo the slots used)
 *   5   every STRIDE PHASE   free every (STRIDE % 16 + 2)-th live block,
 *                        in slot order, from the PHASE-th
 *   6   class K          free every live block of size class K % 11
 *                        (sizes in [16 * 2^k, 16 * 2^(k+1)))
 *   7   range FROM LEN   free the live blocks of slots FROM16 .. + LEN
 * SIZE is one byte: below 0x80 a power of two 16 << (b % 11) (16 B .. 16
 * KiB), else 16 + (b & 0x7f) * 128. Live bytes never exceed FW_MAX_LIVE (an
 * alloc that would pass it is skipped), slots are FW_SLOTS (a fill stops there).
 *
 * THE FIGURES (M: bytes the backend has mapped, stats.mapped_bytes and
 * peak_mapped_bytes, metadata included; L: requested bytes live):
 *   frag       max M / max L
 *   retention  (M(T) - L(T)) / max L at the end T of the sequence: memory
 *              still mapped beyond what is live, relative to the peak
 * both 0 unless max L >= FW_MIN_PEAK (so a region mapped for one small
 * block does not count as fragmentation). Level = figure * 8, capped at
 * 255: libFuzzer extra counters (backend, level), every level up to the
 * one reached (so only a new high is new coverage, and the best input owns
 * the rarest features), and the same per phase: (backend, p, level) for
 * the figure reached when the (p+1)-th fill begins, p = 1..16 (the
 * stepping stones: inputs whose first p fills do best); for AFL++, one
 * distinct branch per final level in this code (afl-clang-fast instruments it).
 * The mutator (fuzz_worst_mut.h) edits the op sequence.
 *
 * THE WORST CASES: with $PM_FUZZ_WORST_DIR set, each input that reaches a
 * level above the best this process has seen for its backend is written
 * there as a raw binary trace (METRIC-SPEC-VALUE.pmt; metadata
 * fuzz.metric, fuzz.backend, fuzz.value, peak_mapped, peak_live,
 * final_mapped, final_live). `pymemlab replay FILE --backend SPEC --json`
 * reproduces frag as backend_peak_mapped_bytes / peak_live_bytes, and
 * retention from the last row of --series (mapped_bytes, live_bytes).
 * Robson's bound for the same M and size range: fw_robson_ratio.
 */
#ifndef PM_FUZZ_WORST_H
#define PM_FUZZ_WORST_H

#include "fuzz_common.h"

#define FW_SLOTS ((unsigned)1 << 19)   /* 8 MiB of 16-byte blocks */
#define FW_ORDER ((unsigned)1 << 20)   /* allocation-order entries (live and stale) */
#define FW_MAX_LIVE ((uint64_t)8 << 20)   /* bytes live at most */
#define FW_MIN_PEAK ((uint64_t)4 << 20)   /* figures count from this peak live up */
#define FW_MIN_SIZE 16
#define FW_MAX_SIZE 16384

enum fw_metric { FW_FRAG, FW_RETENTION };

int fw_run(const uint8_t *data, size_t size, enum fw_metric metric);

/* The extended op's size for argument b (the dictionary: the smallest
 * request of pymalloc class b, b < 32; of buddy block 16 << (b - 32), b < 43;
 * of segfit block 32 << (b - 43), b < 53; else SIZE's rule). */
size_t fw_size_x(unsigned b);
/* SIZE's rule (the op byte's argument of ops 0 and 2). Both in fuzz_worst_mut.c. */
size_t fw_size_of_byte(unsigned b);

/* Robson (1974): with block sizes powers of two from 1 to n units and at
 * most M units live, some program forces every non-moving allocator to a
 * store of M (log2(n) / 2 + 1) - n + 1 units. This returns that over M for
 * n = FW_MAX_SIZE / FW_MIN_SIZE and M = max_live / FW_MIN_SIZE. */
double fw_robson_ratio(uint64_t max_live);

#endif
