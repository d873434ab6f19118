/* fuzz/fuzz_model.h — one backend instance driven by fuzz input, with a
 * shadow model as the oracle (fuzz_alloc, fuzz_oom).
 *
 * Entry points: fz_heap_open / fz_heap_close (create and destroy, with the
 * leak check), fz_heap_malloc / _calloc / _realloc / _free / _trim / _check /
 * _misuse (one operation each, checked), fz_heap_after_op (the per-operation
 * invariants), fz_heap_verify (contents).
 *
 * THE SHADOW. Up to FZ_SLOTS live blocks, each with its address, requested
 * size, usable size and fill byte; an interval set of [p, p + usable) sorted
 * by address (binary search: an insertion that overlaps a neighbour is an
 * overlap of two live blocks, and no other interval changes, so checking
 * the neighbours on every insertion keeps "no two live blocks overlap" true
 * at all times). Every block is filled over its whole usable size with a
 * byte derived from its slot and the operation count (snmalloc's fill
 * byte), so a block that changes under us, or a stale copy, shows.
 *
 * THE FILL (what "contents" means below). A block of up to FZ_DENSE bytes
 * is filled whole. A larger one: its first FZ_DENSE bytes, its last
 * FZ_STRIPE bytes, and in every FZ_STRIDE-long stretch between them one
 * window of FZ_STRIPE bytes at an offset hashed from its fill byte (so it
 * moves from block to block and input to input: over many inputs every
 * offset is sampled); fz_filled_range. A write into a large block outside
 * these windows is not seen by this block's content check (the others' and
 * ASan's poisoning of free memory still apply); calloc's zeroes are checked
 * over the same part. Filling and comparing every
 * byte of blocks up to 4 MiB, and the page faults of filling fresh pages,
 * made most of the run time.
 *
 * CHECKED, every operation: the result's alignment (16), usable_size >= n,
 * no overlap, calloc's zeroes, realloc's kept prefix, NULL exactly when it
 * must (sizes >= FZ_HUGE and calloc overflow: NULL + ENOMEM; otherwise
 * never, unless faults are allowed and this very call saw a mapping fail),
 * a failed realloc leaving its block intact; then fz_heap_after_op: the
 * first and last FZ_EDGE bytes of every live block, stats (live_blocks ==
 * shadow count, used_bytes >= requested bytes, peak_mapped >= mapped, live
 * usable bytes <= mapped), and every FZ_CHECK_EVERY operations all contents
 * and check() == 0. Close: all contents, check(), every block freed and
 * stats at zero (after an odd number of ops the blocks stay live instead,
 * for destroy to free), trim, destroy, and pm_os_total_mapped() back to its
 * value before create. Any violation: fz_fail (abort).
 *
 * Costs are bounded: at most FZ_LIVE_BUDGET usable bytes live, and at most
 * FZ_LARGE_BUDGET bytes requested in large requests (FZ_LARGE bytes and up:
 * malloc, calloc or realloc) over the whole input; a request that would
 * pass either is skipped, not made. A large request costs page faults,
 * fills and (realloc) copies of up to megabytes: without the second bound
 * one input of large reallocs cost milliseconds (fuzz/README.md, "Speed").
 */
#ifndef PM_FUZZ_MODEL_H
#define PM_FUZZ_MODEL_H

#include "fuzz_common.h"

#define FZ_SLOTS 64
#define FZ_LIVE_BUDGET ((uint64_t)8 << 20)    /* usable bytes live at most */
#define FZ_CHECK_EVERY 64                      /* ops between full checks */
#define FZ_EDGE 32                             /* bytes checked at each end after every op */
#define FZ_STALE 8                             /* freed pointers remembered for misuse */
#define FZ_DENSE 4096                          /* bytes of a block filled whole */
#define FZ_STRIDE 65536                        /* then one window per this many bytes */
#define FZ_STRIPE 256                          /* bytes of a window, and of the filled tail */
#define FZ_LARGE ((size_t)65536)               /* a request of this many bytes or more is large */
#define FZ_LARGE_BUDGET ((uint64_t)4 << 20)    /* large bytes requested per input at most */

struct fz_blk {
    unsigned char *p;           /* NULL: slot empty */
    size_t n;                   /* bytes requested */
    size_t usable;              /* usable_size(p) (n where unknown), filled */
    unsigned char fill;         /* the byte over [p, p + usable) */
};

struct fz_iv {                  /* [lo, hi): a live block's usable bytes */
    uintptr_t lo, hi;
    unsigned slot;
};

struct fz_heap {
    const struct fz_backend *b;
    pm_heap_t *h;
    struct fz_misuse mis;       /* ctx of the misuse handler */
    struct fz_blk slot[FZ_SLOTS];
    struct fz_iv iv[FZ_SLOTS];  /* sorted by lo, niv entries */
    unsigned niv;
    unsigned live;              /* slots in use */
    uint64_t req_bytes;         /* sum of n over live blocks */
    uint64_t usable_bytes;      /* sum of usable over live blocks */
    uint64_t large_bytes;       /* bytes of the large requests made so far */
    uint64_t nops;              /* operations so far */
    void *stale[FZ_STALE];      /* recently freed pointers (ring) */
    unsigned nstale;
    uint64_t mapped_before;     /* pm_os_total_mapped() before create */
    bool faults_ok;             /* fuzz_oom: a call whose mapping failed may return NULL */
    uint64_t nulls;             /* NULLs accepted because a mapping failed */
};

/* Creates the backend with cfg_faults (NULL: none). Returns false if create
 * failed, which is only allowed with faults (then the leak check has run). */
bool fz_heap_open(struct fz_heap *m, const struct fz_backend *b,
                  const struct pm_os_faults *create_faults);
void fz_heap_close(struct fz_heap *m);

void fz_heap_malloc(struct fz_heap *m, unsigned slot, size_t n);
void fz_heap_calloc(struct fz_heap *m, unsigned slot, size_t count, size_t n);
void fz_heap_realloc(struct fz_heap *m, unsigned slot, size_t n);
void fz_heap_free(struct fz_heap *m, unsigned slot);
void fz_heap_trim(struct fz_heap *m);
void fz_heap_check(struct fz_heap *m);
/* A misuse the backend must report and ignore (FZ_MISUSE_SAFE only; else
 * nothing): `sel` picks a stale, interior, misaligned or foreign pointer,
 * and free or realloc. */
void fz_heap_misuse(struct fz_heap *m, unsigned sel, unsigned slot);
void fz_heap_after_op(struct fz_heap *m);
/* All live blocks' contents (full) or their edges. */
void fz_heap_verify(struct fz_heap *m, bool full);

/* One operation decoded from the input (the op encoding fuzz_alloc and
 * fuzz_oom share), then fz_heap_after_op. An op is a byte (its low 4 bits:
 * 0-3 and 15 malloc, 4-5 calloc, 6-8 realloc, 9-12 free, 13 check (odd slot
 * byte) or trim (even), 14 misuse), a slot byte, then the op's arguments (sizes: fz_size; calloc's
 * count: one byte, 0..23, or 2^28..2^59 from 0xE0 up; misuse: one byte).
 * fz_heap_step reads the op byte and returns false at the end of the input;
 * fz_heap_op takes an op byte the caller read. */
bool fz_heap_step(struct fz_heap *m, struct fz_in *in);

/* Range i (0, 1, ...) of the filled part of a block of `usable` bytes with
 * fill byte `salt` (THE FILL above): false past the last. */
bool fz_filled_range(size_t usable, unsigned salt, size_t i, size_t *from, size_t *len);
bool fz_heap_op(struct fz_heap *m, unsigned op, struct fz_in *in);

#endif
