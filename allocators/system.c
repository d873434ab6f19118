/* allocators/system.c — the `system` reference backend: glibc malloc.
 *
 * Global by nature: every instance shares the process heap, so destroy() does
 * not free blocks the caller left live, and stats are process-wide
 * (mallinfo2: mapped = arena + mmap'd chunks, used = in-use bytes). trim()
 * calls malloc_trim(0). No check(): glibc has no heap walk we can call
 * without it aborting on corruption.
 */
#include "allocator.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct pm_heap {
    struct pm_config cfg;
    uint64_t peak_mapped;       /* max mapped seen by stats() */
    uint64_t nmalloc, nfree;
};

static pm_heap_t *system_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    if (cfg->options && *cfg->options) {
        snprintf(err, PM_ERR_LEN, "backend 'system' takes no options ('%s')", cfg->options);
        return NULL;
    }
    pm_heap_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, PM_ERR_LEN, "system: out of memory");
        return NULL;
    }
    h->cfg = *cfg;
    return h;
}

static void system_destroy(pm_heap_t *h) { free(h); }

static void *system_malloc(pm_heap_t *h, size_t n)
{
    (void)h;
    return malloc(n ? n : 1);
}

static void *system_calloc(pm_heap_t *h, size_t k, size_t n)
{
    (void)h;
    size_t total;
    if (!pm_calloc_bytes(k, n, &total))   /* checked here: ASan's calloc aborts on it */
        return NULL;
    if (total == 0)
        return calloc(1, 1);        /* a unique pointer for a zero-byte request */
    return calloc(k, n);
}

static void *system_realloc(pm_heap_t *h, void *p, size_t n)
{
    (void)h;
    return realloc(p, n ? n : 1);
}

static void system_free(pm_heap_t *h, void *p)
{
    (void)h;
    free(p);
}

static size_t system_usable(pm_heap_t *h, void *p)
{
    (void)h;
    return malloc_usable_size(p);
}

static void system_stats(pm_heap_t *h, struct pm_stats *out)
{
    struct mallinfo2 mi = mallinfo2();
    uint64_t mapped = (uint64_t)mi.arena + (uint64_t)mi.hblkhd;
    if (mapped > h->peak_mapped)
        h->peak_mapped = mapped;
    *out = (struct pm_stats){
        .mapped_bytes = mapped,
        .peak_mapped_bytes = h->peak_mapped,
        .used_bytes = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd,
        .meta_bytes = PM_STAT_NA,
        .live_blocks = PM_STAT_NA,
        .nmalloc = PM_STAT_NA,
        .nfree = PM_STAT_NA,
        .arenas = PM_STAT_NA,
        .pools = PM_STAT_NA,
        .large_blocks = (uint64_t)mi.hblks,
        .misuse = 0,
    };
}

static void system_trim(pm_heap_t *h)
{
    (void)h;
    malloc_trim(0);
}

const struct allocator_ops pm_system_ops = {
    .name = "system",
    .description = "glibc malloc (ptmalloc2), the process-wide C heap",
    .flags = PM_BACKEND_GLOBAL | PM_BACKEND_REFERENCE,
    .create = system_create,
    .destroy = system_destroy,
    .malloc = system_malloc,
    .calloc = system_calloc,
    .realloc = system_realloc,
    .free = system_free,
    .usable_size = system_usable,
    .stats = system_stats,
    .check = NULL,
    .trim = system_trim,
};
