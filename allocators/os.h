/* allocators/os.h — the OS page layer: the only way our own backends get
 * memory. Counts bytes mapped per instance (struct pm_os) and injects faults.
 *
 * Entry points: pm_os_init, pm_os_map, pm_os_map_aligned, pm_os_map_any, pm_os_unmap,
 * pm_os_decommit, pm_os_set_faults, pm_os_page_size; the mapping cache
 * (pm_os_cache_set, pm_os_cache_flush, pm_os_cache_info), off by default.
 *
 * Invariant: os->mapped == sum of sizes of live mappings (page-rounded);
 * os->peak_mapped >= os->mapped.
 */
#ifndef PM_OS_H
#define PM_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pm_api.h"

PM_API_BEGIN

/* Map calls are numbered from 1 per instance. Zero fields mean "off". */
struct pm_os_faults {
    uint64_t fail_nth;   /* call number fail_nth fails (once) */
    uint64_t fail_from;  /* every call numbered >= fail_from fails */
};

struct pm_os {
    uint64_t mapped;       /* bytes mapped now */
    uint64_t peak_mapped;  /* max of mapped */
    uint64_t decommitted;  /* bytes given back with MADV_DONTNEED, cumulative */
    uint64_t map_calls;    /* attempted map calls, failed ones included */
    uint64_t unmap_calls;
    uint64_t failed_maps;  /* injected or real failures */
    struct pm_os_faults faults;
};

void pm_os_init(struct pm_os *os, const struct pm_os_faults *faults);
void pm_os_set_faults(struct pm_os *os, const struct pm_os_faults *faults);
size_t pm_os_page_size(void);
/* Bytes mapped now through this layer by every instance of the process
 * (single-threaded accounting). Tests use it to see that destroy() gives
 * everything back, including the instance's own header. */
uint64_t pm_os_total_mapped(void);

/* Maps `size` bytes (rounded up to pages), zero-filled. NULL + ENOMEM on
 * failure, injected or real. */
void *pm_os_map(struct pm_os *os, size_t size);
/* Same, aligned to `align` (a power of two >= page size). Over-maps and
 * trims the excess, so only `size` (rounded) stays mapped and counted. */
void *pm_os_map_aligned(struct pm_os *os, size_t size, size_t align);
/* Same, but the contents are unspecified: a fresh mapping (zero) or, with
 * the cache on, a recycled range holding what its last user left, not
 * zeroed. *zeroed (if not NULL) says which. For memory its user initialises
 * before reading (pymalloc's arenas, buddy's and segfit's regions); that
 * user must not count on zeros, and the fuzz targets, which run with the
 * cache on, check that it does not. */
void *pm_os_map_any(struct pm_os *os, size_t size, size_t align, bool *zeroed);
void pm_os_unmap(struct pm_os *os, void *p, size_t size);
/* Gives the pages' memory back while keeping the mapping; they read as zero
 * afterwards. Does not change os->mapped (address space stays reserved).
 * With the cache on (fuzzing), the pages keep their memory and contents:
 * no page faults when they are used again (a fault costs ~9 us on this
 * project's VMs; fuzz_alloc spent a fifth of its time in them), and no
 * zeroing (fuzz_alloc's next largest cost): so with the cache on, as from
 * pm_os_map_any, the user must not count on zeros after a decommit (no
 * backend does; tests/test_os.c fills decommitted pages with
 * pm_os_cache_decommit_fill to check). Not under ASan, where they are given
 * back as without the cache (the backend has poisoned them). */
void pm_os_decommit(struct pm_os *os, void *p, size_t size);

/* THE MAPPING CACHE (for fuzzers: a heap created and destroyed per input
 * spent most of its time in mmap, munmap and the page faults of fresh
 * mappings). With a budget set, pm_os_unmap keeps a range in a per-process
 * cache instead of unmapping it (merged with a cached range it adjoins),
 * and pm_os_map(_aligned, _any) takes the memory from the cache before it
 * maps: a cached range of exactly the size asked (and aligned as asked),
 * else the part of the smallest cached range that holds it (the rest stays
 * cached).
 * What a fresh mapping promises still holds for a recycled one: it reads as
 * zero (each resident page, as mincore() reports it, is zeroed when the
 * range is handed out by pm_os_map or pm_os_map_aligned; pages never
 * touched read as zero already; pm_os_map_any skips the zeroing) and,
 * under ASan, it is unpoisoned. The accounting is that
 * of mappings: a cached range counts in no instance's `mapped` and not in
 * pm_os_total_mapped() (a destroy that gives everything back still brings
 * it to its value before create); the cache's own bytes are
 * pm_os_cache_info's. Fault injection applies before the cache is looked
 * at (a call that must fail fails). Single-threaded, like the accounting.
 *
 * pm_os_cache_set(max_bytes, max_entries): 0 turns the cache off (the
 * default) and unmaps what it holds; else ranges beyond either limit are
 * unmapped (oldest first). pm_os_cache_flush(): unmaps every cached range.
 * pm_os_cache_info: bytes and ranges held, and the bytes mapped from the
 * kernel by this layer and not yet unmapped (== pm_os_total_mapped() +
 * cached bytes: a leak check that sees through the cache). */
void pm_os_cache_set(uint64_t max_bytes, unsigned max_entries);
void pm_os_cache_flush(void);
/* Fills every cached range (but its bookkeeping) with `byte`: tests use it
 * to see that a user of pm_os_map_any does not count on zeros. */
void pm_os_cache_scribble(unsigned char byte);
/* With the cache on, pm_os_decommit fills the pages with `byte` (-1: leaves
 * them as they are, the default). For tests. */
void pm_os_cache_decommit_fill(int byte);
/* NULL if the cache's lists and indexes agree (every range found by its
 * start and end, none adjoining another, counts right); else what is wrong.
 * For tests. */
const char *pm_os_cache_invalid(void);
struct pm_os_cache_info {
    uint64_t cached_bytes;     /* in the cache now */
    uint64_t cached_ranges;
    uint64_t kernel_mapped;    /* mmap'd by this layer and not munmap'd */
    uint64_t hits, misses;     /* map calls served from the cache, not */
};
void pm_os_cache_info(struct pm_os_cache_info *out);

static inline size_t pm_round_up(size_t n, size_t align)
{
    return (n + align - 1) & ~(align - 1);
}

PM_API_END
#endif
