/* allocators/os.h — the OS page layer: the only way our own backends get
 * memory. Counts bytes mapped per instance (struct pm_os) and injects faults.
 *
 * Entry points: pm_os_init, pm_os_map, pm_os_map_aligned, pm_os_unmap,
 * pm_os_decommit, pm_os_set_faults, pm_os_page_size.
 *
 * Invariant: os->mapped == sum of sizes of live mappings (page-rounded);
 * os->peak_mapped >= os->mapped.
 */
#ifndef PM_OS_H
#define PM_OS_H

#include <stddef.h>
#include <stdint.h>

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
void pm_os_unmap(struct pm_os *os, void *p, size_t size);
/* Gives the pages' memory back while keeping the mapping; they read as zero
 * afterwards. Does not change os->mapped (address space stays reserved). */
void pm_os_decommit(struct pm_os *os, void *p, size_t size);

static inline size_t pm_round_up(size_t n, size_t align)
{
    return (n + align - 1) & ~(align - 1);
}

#endif
