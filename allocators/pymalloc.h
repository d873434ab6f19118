/* allocators/pymalloc.h — what the pymalloc backend offers beyond
 * allocator_ops: the sys._debugmallocstats()-style report and a read-only
 * view of one pool and its arena (for tests and researchers).
 *
 * Entry points: pm_pymalloc_ops (the backend), pm_pymalloc_report(),
 * pm_pymalloc_pool_info(). Both functions take the ops the heap was created
 * with and return false when that is not pymalloc, so callers can hand them
 * any heap. Nothing here prints: harness/cli/debugstats.c formats the report.
 *
 * Report invariants (as CPython's _PyObject_DebugMallocStats):
 *   total == bytes_in_allocated_blocks + bytes_in_available_blocks
 *            + unused_pools * pool_size + bytes_lost_pool_headers
 *            + bytes_lost_quantization + bytes_lost_arena_alignment
 *         == arenas_current * arena_size
 *   map_total == map_root_bytes + map_mid_bytes + map_bot_bytes
 */
#ifndef PM_PYMALLOC_H
#define PM_PYMALLOC_H

#include "allocator.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pm_api.h"

PM_API_BEGIN

#define PM_PYMALLOC_NCLASSES 32         /* PM_SMALL_MAX / PM_ALIGNMENT */
#define PM_PYMALLOC_POOL_OVERHEAD 48    /* bytes of pool header */

extern const struct allocator_ops pm_pymalloc_ops;

struct pm_pymalloc_class_row {
    unsigned cls;                /* size class index, 0..31 */
    unsigned size;               /* block size in bytes, (cls + 1) * 16 */
    size_t pools;                /* pools of this class holding >= 1 block */
    size_t blocks_in_use;        /* blocks handed out */
    size_t avail_blocks;         /* pools * blocks per pool - blocks_in_use
                                    (free and not yet carved blocks) */
};

struct pm_pymalloc_report {
    unsigned small_threshold;    /* bytes, 512 */
    unsigned nclasses;           /* 32; rows with pools == 0 are not printed */
    struct pm_pymalloc_class_row rows[PM_PYMALLOC_NCLASSES];

    size_t arenas_allocated_total;   /* arenas ever mapped */
    size_t arenas_reclaimed;         /* total - current */
    size_t arenas_highwater;         /* max arenas mapped at once */
    size_t arenas_current;           /* arenas mapped now */
    size_t arena_size;               /* bytes per arena */
    size_t pool_size;                /* bytes per pool */

    size_t bytes_in_allocated_blocks;  /* sum of blocks_in_use * size */
    size_t bytes_in_available_blocks;  /* sum of avail_blocks * size */
    size_t unused_pools;               /* free + never carved pools, all arenas */
    size_t bytes_lost_pool_headers;    /* 48 per pool in use */
    size_t bytes_lost_quantization;    /* (pool - 48) % size, per pool in use */
    size_t bytes_lost_arena_alignment; /* one pool per arena not pool-aligned */
    size_t total;                      /* sum of the six lines above (bytes) */

    unsigned version;            /* CPython emulated: 308 .. 313 */
    bool has_arena_map;          /* 3.10+: the report has the arena map section */
    /* The ownership radix tree (CPython 3.10+ "arena map"): for version 3.10
     * the nodes CPython 3.10 would hold (48-bit keys), else ours, which
     * have 3.11's sizes. */
    size_t map_mid_nodes;        /* interior nodes allocated */
    size_t map_bot_nodes;        /* leaf nodes allocated */
    size_t map_root_bytes;       /* bytes of the root node */
    size_t map_mid_bytes;        /* map_mid_nodes * bytes per mid node */
    size_t map_bot_bytes;        /* map_bot_nodes * bytes per bottom node */
    size_t map_total;            /* root + mid + bot bytes */
};

/* Fills *out from heap h. Returns false (out untouched) unless
 * ops == &pm_pymalloc_ops. O(pools). */
bool pm_pymalloc_report(const struct allocator_ops *ops, pm_heap_t *h,
                        struct pm_pymalloc_report *out);

/* The pool holding small block p and its arena. */
struct pm_pymalloc_pool_info {
    uintptr_t pool;              /* pool address (p rounded down to the pool size) */
    unsigned szidx;              /* size class of the pool's blocks */
    unsigned block_size;         /* bytes */
    unsigned count;              /* blocks in use */
    unsigned carved;             /* blocks carved so far (in use + on the free list) */
    unsigned capacity;           /* blocks per pool: (pool - 48) / block_size */
    bool in_usedpools;           /* linked in usedpools[szidx] (neither full nor empty) */
    size_t arena_index;          /* index in the arena table */
    uintptr_t arena_address;     /* start of the arena's mapping */
    uintptr_t arena_first_pool;  /* first pool (arena start rounded up to a pool) */
    unsigned arena_nfreepools;   /* free + never carved pools */
    unsigned arena_ntotalpools;  /* pools in the arena: arena/pool, minus 1 if not aligned */
    unsigned arena_ncarved;      /* pools carved so far (pool_address high-water mark) */
};

/* Fills *info for a live small block p. Returns false if ops is not pymalloc
 * or p is not a live small block of h (no misuse is reported). */
bool pm_pymalloc_pool_info(const struct allocator_ops *ops, pm_heap_t *h, const void *p,
                           struct pm_pymalloc_pool_info *info);

PM_API_END
#endif
