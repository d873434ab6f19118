/* fuzz/fuzz_common.h — what the fuzz targets share (fuzz/README.md).
 *
 * Entry points: the libFuzzer prototypes; struct fz_in and fz_u8/fz_u16/
 * fz_u24/fz_size (input bytes -> numbers; past the end they read zeros, so
 * every input decodes); fz_fail and FZ_REQUIRE (the oracle's verdict: one
 * line on stderr, then abort(), the crash a fuzzer needs); fz_backends,
 * fz_env_backend (which backends a target drives: every own backend of the
 * registry, so a backend is fuzzed by being registered); fz_misuse_record (a
 * misuse handler that fails unless a report was expected); fz_diff_at (fast
 * comparison of memory against a fill byte).
 */
#ifndef PM_FUZZ_COMMON_H
#define PM_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allocator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- input bytes ---- */

struct fz_in {
    const uint8_t *p;           /* next byte */
    const uint8_t *end;         /* one past the last */
};

static inline bool fz_more(const struct fz_in *in) { return in->p < in->end; }
static inline unsigned fz_u8(struct fz_in *in) { return in->p < in->end ? *in->p++ : 0; }
static inline unsigned fz_u16(struct fz_in *in)
{
    unsigned lo = fz_u8(in);
    return lo | fz_u8(in) << 8;
}
static inline unsigned fz_u24(struct fz_in *in)
{
    unsigned lo = fz_u16(in);
    return lo | fz_u8(in) << 16;
}

/* Requests at or above this size can never be served (no 2^48-byte mapping
 * exists on x86-64 user space): every backend must return NULL + ENOMEM. */
#define FZ_HUGE ((size_t)1 << 48)

/* A request size. The first byte's top three bits pick a range:
 *   0-2  0..1023, every value (size classes, PM_SMALL_MAX)
 *   3    0..65535
 *   4    2^k + d, k 0..22, d -32..32 (power-of-two edges: buddy orders, pages)
 *   5    0..3 MiB (large blocks, region-sized requests)
 *   6    multiples of 16 up to 4080
 *   7    impossible: SIZE_MAX, SIZE_MAX - 15, SIZE_MAX / 2 (+ 1), 2^62, 2^48, ...
 * Sizes >= FZ_HUGE only come from range 7. */
size_t fz_size(struct fz_in *in);

/* ---- verdicts ---- */

/* The target's name, set by each target (for fz_fail's message). */
extern const char *fz_target;

/* Prints "fuzz: TARGET: message" on stderr and aborts. */
_Noreturn void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define FZ_REQUIRE(cond, ...)                                                 \
    do {                                                                      \
        if (__builtin_expect(!(cond), 0))                                     \
            fz_fail(__VA_ARGS__);                                             \
    } while (0)

/* $PM_FUZZ_VERBOSE set and not "0": targets print one line per input on
 * stderr (what it did), for looking at a corpus. */
bool fz_verbose(void);

/* ---- backends ---- */

enum fz_props {
    FZ_ALIASES = 1u << 0,       /* blocks may alias (null): no content or overlap checks */
    FZ_MISUSE_SAFE = 1u << 1,   /* reports double/foreign/interior frees and ignores them */
    FZ_DEBUG = 1u << 2,         /* the debug:NAME wrapper */
    FZ_GLOBAL = 1u << 3,        /* one process heap (system): no per-instance accounting */
};

struct fz_backend {
    char spec[80];              /* for pm_backend_create: "buddy", "debug:buddy,max=64K" */
    const struct allocator_ops *ops;
    unsigned props;             /* enum fz_props */
};

/* What fz_backends lists. Own backends (not reference, wrapper or test-only,
 * with an OS layer, available) are always in. */
enum {
    FZ_WITH_VARIANTS = 1u << 0, /* own backends again with the options of fz_variants */
    FZ_WITH_DEBUG = 1u << 1,    /* debug:NAME over each own backend that keeps contents */
    FZ_WITH_ALIASING = 1u << 2, /* own backends whose blocks alias (null) */
    FZ_WITH_SYSTEM = 1u << 3,   /* the `system` reference */
};

#define FZ_MAX_BACKENDS 32

/* Fills out[] (cap entries) in registry order; returns the count. */
size_t fz_backends(struct fz_backend *out, size_t cap, unsigned which);
/* Properties of a backend spec (the registry's ops for it given). */
unsigned fz_props_of(const char *spec, const struct allocator_ops *ops);
/* The backend named by $PM_FUZZ_BACKEND, or NULL if unset. An unknown name
 * fails at once (fz_fail), naming the known ones. */
const struct fz_backend *fz_env_backend(void);
/* The backend for this input: chosen by byte `sel` among the list, unless
 * $PM_FUZZ_BACKEND names one (then sel is ignored; corpora stay valid). */
const struct fz_backend *fz_pick(const struct fz_backend *list, size_t n, unsigned sel);

/* ---- recycled mappings (speed) ---- */

/* Call at the start of every input of a target that creates heaps. The
 * first call turns on the OS layer's mapping cache (os.h; FZ_CACHE_BYTES,
 * unless $PM_FUZZ_RECYCLE=0), so a heap created per input gets its arenas
 * back from the previous input, zeroed, without mmap, munmap or page
 * faults; and the C library's malloc keeps the memory it is given (large
 * blocks from its heap, no trimming: mallopt). The leak check through the cache: every FZ_FLUSH_EVERY inputs
 * and at exit, the cache is unmapped and the layer must then hold exactly
 * what it held before the first input (nothing a destroyed heap left). */
#define FZ_CACHE_BYTES ((uint64_t)512 << 20)
#define FZ_CACHE_RANGES 65536
#define FZ_FLUSH_EVERY 4096
void fz_recycle(void);
/* The mapping cache only, the C library's malloc left as it is: for a
 * target whose large callocs (fuzz_trace's cursor bitmaps, up to 512 MiB)
 * should stay lazily zero mappings rather than heap memory cleared by
 * calloc. */
void fz_recycle_maps(void);

/* ---- misuse reports ---- */

struct fz_misuse {
    unsigned expected;          /* reports the current call may make */
    unsigned calls;             /* reports received while expected */
    enum pm_misuse_kind kind;   /* the last one's */
    const void *ptr;
};
/* pm_misuse_fn: counts an expected report, fails on any other. */
void fz_misuse_record(void *ctx, const char *backend, enum pm_misuse_kind kind, const void *ptr,
                      const char *detail);

/* ---- memory contents ---- */

/* Index of the first of p[0..n) that is not `byte`, or n. */
size_t fz_diff_at(const unsigned char *p, size_t n, unsigned char byte);

#endif
