/* allocators/segfit.h — introspection of the `segfit` backend for tests and
 * reports (the allocator itself is used through pm_segfit_ops, allocator.h).
 *
 * Entry points: pm_segfit_block_size, pm_segfit_mapping, pm_segfit_info.
 */
#ifndef PM_SEGFIT_H
#define PM_SEGFIT_H

#include "allocator.h"
#include "pm_api.h"

PM_API_BEGIN

extern const struct allocator_ops pm_segfit_ops;

/* Block size (header included, multiple of 16, >= 32) that serves a request
 * of n bytes from a region. */
size_t pm_segfit_block_size(size_t n);

/* The bin (first level fl, second level sl) of a free block of block_size
 * bytes for an index with sl_count (a power of two, 1..64) subdivisions per
 * power of two. block_size: a multiple of 16, >= 32. */
void pm_segfit_mapping(size_t block_size, unsigned sl_count, unsigned *fl, unsigned *sl);

/* What a heap walk would find, from the allocator's counters. */
struct pm_segfit_info {
    uint64_t free_blocks;      /* blocks in the bins */
    uint64_t free_bytes;       /* sum of their block sizes */
    uint64_t largest_free;     /* largest block in the bins, bytes */
    uint64_t cached_blocks;    /* blocks in the exact-size quick lists */
    uint64_t cached_bytes;     /* sum of their block sizes */
    uint64_t regions;          /* regions mapped */
    uint64_t empty_regions;    /* regions with no busy block, kept for reuse */
    uint64_t region_size;      /* bytes per region */
    uint64_t large_threshold;  /* requests above it are mapped directly */
};
/* h must be a segfit heap. */
void pm_segfit_info(pm_heap_t *h, struct pm_segfit_info *out);

PM_API_END
#endif
