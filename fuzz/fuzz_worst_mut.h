/* fuzz/fuzz_worst_mut.h — a structure-aware mutator for fuzz_frag and
 * fuzz_retention (the input language of fuzz_worst.h, unchanged: existing
 * corpora and traces stay valid).
 *
 * Entry points: fw_parse (an input -> its op records), fw_mutate (one
 * mutation of an input, in place), fw_k_of / fw_k_arg (the keep op's K
 * encoding both ways), fw_pair (the bytes of one fill + keep pair). Both
 * targets' LLVMFuzzerCustomMutator calls fw_mutate; fuzz/fuzz_worst_afl.c
 * wraps the same function as an AFL++ custom mutator library.
 *
 * fw_mutate edits the op sequence rather than bytes. It pads a truncated
 * last op with zeros (the decoder reads zeros past the end, so the input
 * means the same) and then, chosen at random:
 *   - inserts a PAIR (fill blocks of size X up to the live bound, then keep
 *     one in K of that fill or, a quarter of the time, of all live blocks)
 *     at the end (most often), after a keep, or between any two ops;
 *   - changes a fill's size (to another of the extended op's sizes,
 *     fw_size_x, or the next one up or down in its family), possibly
 *     re-choosing the K of the keep that follows it;
 *   - changes a keep's K (re-chosen, or one encoding step up or down) or
 *     switches it between "of the last fill" and "of all";
 *   - deletes an op or a pair, swaps two pairs, duplicates a pair;
 *   - cleans: deletes every op other than the extended op's (fills, keeps,
 *     allocs of its sizes), or a run of such other ops;
 *   - sorts the pairs by the size of their fill, smallest first, dropping
 *     every other op (Robson's adversary, and every ladder, asks for
 *     larger blocks as it goes);
 *   - starts afresh: one to three new pairs and nothing else;
 *   - adds a rung: between two pairs whose fill sizes grow, a pair with a
 *     size strictly between them keeping one in 2 of all live blocks, and
 *     the keep before it made "one in 2 of all" too (or, with no such gap,
 *     a pair one size above the largest fill); two edits at once that a
 *     ladder needs to close a gap (docs/worst-cases.md);
 *   - or leaves it to libFuzzer's byte mutations (LLVMFuzzerMutate, with
 *     the dictionary) when that is linked in.
 * A third of the mutations start from the elite (the input with the highest
 * figure so far) rather than the input given; the kinds and the choices
 * within them adapt to what has reached new highs (fuzz_worst_mut.c).
 * K is chosen from generic geometry, not from any backend's construction:
 * how many blocks of that size (rounded to 16 bytes, to a power of two, or
 * with an 8-byte header) fit in 4 KiB, 16 KiB or 64 KiB, or a small value
 * (2..8), or any encodable K.
 */
#ifndef PM_FUZZ_WORST_MUT_H
#define PM_FUZZ_WORST_MUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's custom mutator hook (defined by fuzz_frag.c, fuzz_retention.c). */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#define FW_MAX_OPS 4096

struct fw_opref {
    uint32_t off;   /* offset of the op byte in the input */
    uint8_t len;    /* bytes of the op, its arguments included */
};

/* The arguments each op (op byte & 7) reads (fuzz_worst.h). */
extern const uint8_t fw_op_args[8];

/* Splits data (after the backend byte) into ops; returns how many (at most
 * max). *truncated is set when the last op's arguments run past the end. */
size_t fw_parse(const uint8_t *data, size_t size, struct fw_opref *ops, size_t max,
                int *truncated);

/* K of a keep op from its argument byte, and the largest argument whose K
 * is at most k (k >= 2). */
unsigned fw_k_of(unsigned arg);
unsigned fw_k_arg(unsigned k);

/* The 6 bytes of a pair: fill with size argument `size_arg`, keep one in
 * K(k_arg) of the last fill (all = 0) or of all live blocks (all = 1). */
void fw_pair(uint8_t out[6], unsigned size_arg, unsigned k_arg, int all);

/* One mutation of data[0..size) in place, within max bytes, from seed;
 * returns the new size (at least 1: the backend byte). */
size_t fw_mutate(uint8_t *data, size_t size, size_t max, unsigned seed);

/* The kinds of mutation, for tests: fw_mutate_kind applies one of them. */
enum fw_mut {
    FW_MUT_INSERT_PAIR,
    FW_MUT_FILL_SIZE,
    FW_MUT_KEEP_K,
    FW_MUT_DELETE,
    FW_MUT_SWAP,
    FW_MUT_DUP,
    FW_MUT_CLEAN,
    FW_MUT_SORT,
    FW_MUT_FRESH,
    FW_MUT_LADDER,
    FW_MUT_BYTES,
    FW_MUT_KINDS
};
/* The input data[0..size) (the last fw_mutate made, or one of the corpus)
 * reached a new highest figure: the choices that made it become likelier,
 * and it becomes the elite (fuzz_worst_mut.c, "adaptive choices"). */
void fw_mutate_reward(const uint8_t *data, size_t size);

size_t fw_mutate_kind(uint8_t *data, size_t size, size_t max, unsigned seed, enum fw_mut kind);

#endif
