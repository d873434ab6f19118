/* workloads/trace/tracestats.h — what a trace asks of an allocator, in numbers:
 * op counts by kind and domain, live-set peaks, a size histogram over
 * pymalloc's classes, the share of requests a pymalloc-style allocator would
 * serve, exact block lifetime quantiles overall and per class, realloc
 * growth and shrinkage. Used by `pymemlab trace stats`.
 *
 * Definitions (README "trace stats" repeats them):
 *  - ops are counted as replay counts them: allocator calls only (phase
 *    marks are not ops), 1-based: "op N" is the N-th call, and a peak "at op
 *    N" is reached right after it.
 *  - a request is an alloc, calloc, aligned or realloc; its size is
 *    calloc's count * size, the others' size (realloc: the new size).
 *  - size classes: class 0 is a 0-byte request; classes 1..32 are pymalloc's
 *    16-byte classes (class c holds 16(c-1)+1 .. 16c bytes); class 33 is
 *    above 512 bytes.
 *  - a pymalloc-style allocator serves alloc, calloc and realloc requests of
 *    1..512 bytes; in a domain-tagged trace (any op with a domain) only those
 *    of the obj and mem domains, as CPython's does.
 *  - a block's lifetime is (index of its free) - (index of its alloc), in
 *    ops; a realloc does not end it; its class is that of the allocating
 *    request. Blocks never freed are counted apart, not in the quantiles.
 *    Quantiles are exact (nearest rank: the smallest v with at least q * n
 *    lifetimes <= v), found with a histogram pass and, where a bucket holds
 *    more than one value, refining passes over the trace: memory stays
 *    proportional to the live slots (three uint64 per slot) plus a fixed
 *    table (~1 MiB), never to the number of blocks.
 *
 * Entry point: pm_trace_stats.
 */
#ifndef PM_TRACESTATS_H
#define PM_TRACESTATS_H

#include "trace.h"
#include "pm_api.h"

PM_API_BEGIN

#define PM_STATS_CLASSES 34      /* 0: 0 bytes, 1..32: pymalloc classes, 33: > 512 */
#define PM_STATS_GROUPS (1 + PM_STATS_CLASSES)   /* lifetime groups: all, then each class */

struct pm_lifetimes {
    uint64_t count;              /* blocks freed */
    uint64_t p50, p90, p99, max; /* ops; 0 when count == 0 */
};

struct pm_trace_stats {
    uint64_t ops;                       /* allocator calls (phase marks excluded) */
    uint64_t phases;                    /* phase marks */
    uint64_t kind_domain[7][4];         /* [enum pm_op_kind][enum pm_domain]: op counts */
    bool tagged;                        /* some op carries a domain */
    uint64_t peak_live_bytes, peak_live_bytes_op;     /* first op where live bytes peak */
    uint64_t peak_live_blocks, peak_live_blocks_op;
    uint64_t final_live_bytes, final_live_blocks;
    uint64_t requests, requested_bytes;               /* alloc, calloc, aligned, realloc */
    uint64_t pymalloc_requests, pymalloc_bytes;       /* those a pymalloc-style allocator serves */
    uint64_t realloc_grow, realloc_shrink, realloc_same;
    uint64_t class_allocs[PM_STATS_CLASSES];          /* alloc, calloc, aligned by class */
    uint64_t class_reallocs[PM_STATS_CLASSES];        /* reallocs by the new size's class */
    uint64_t class_bytes[PM_STATS_CLASSES];           /* bytes requested by allocs of the class */
    struct pm_lifetimes life[PM_STATS_GROUPS];        /* [0] all blocks, [1 + c] class c */
    uint64_t live_at_end[PM_STATS_GROUPS];            /* blocks never freed, same groups */
    unsigned passes;                    /* passes over the trace (1 + refining passes) */
    /* what a lenient read dropped (pm_trace_cursor's fields) */
    bool finished;
    uint64_t dropped_bytes, missing_ops;
};

/* Class of a request of n bytes (see above). */
static inline unsigned pm_stats_class(uint64_t n)
{
    return n == 0 ? 0 : n > 512 ? PM_STATS_CLASSES - 1 : (unsigned)((n - 1) >> 4) + 1;
}

/* Reads t (leniently: an unfinished or cut trace up to its last whole op)
 * and fills *s. 0, or -1 with err "op N at byte B: problem" (a malformed
 * trace) or "out of memory ...". */
int pm_trace_stats(struct pm_trace *t, bool lenient, struct pm_trace_stats *s, char err[PM_ERR_LEN]);

PM_API_END
#endif
