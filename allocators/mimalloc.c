/* allocators/mimalloc.c — the `mimalloc` reference backend: Debian's
 * libmimalloc.so.2, dlopen'ed (reflib.h says why it is never linked).
 *
 * Entry point: pm_mimalloc_ops.
 *
 * Each instance owns a private mimalloc heap (mi_heap_new): blocks come from
 * that heap's pages only, destroy is mi_heap_destroy (frees every block of
 * the heap at once, the pages go back to mimalloc's segment cache and from
 * there to the OS on mimalloc's schedule), trim is mi_heap_collect(heap,
 * true). A mimalloc heap belongs to the thread that created it: instances
 * must be used from that thread (the harness is single-threaded).
 *
 * Requests are rounded to a multiple of 16 (pm_ref_size) so that every block
 * is 16-aligned as the contract requires; mimalloc's own classes of 8, 24, 40
 * and 56 bytes are only 8-aligned. No misuse detection (mimalloc has no cheap
 * ownership test for arbitrary pointers) and no check().
 *
 * Stats come from walking the heap's pages (mi_heap_visit_blocks without the
 * blocks, O(pages)): mapped = bytes reserved by the heap's pages (segment
 * headers and cached free segments, shared by the thread, not counted),
 * used = blocks in use * block size, pools = pages. Peak is the max of the
 * samples taken by stats().
 */
#include "allocator.h"
#include "reflib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#if PM_HAVE_MIMALLOC
#include <mimalloc.h>

static struct {
    __typeof__(&mi_version) version;
    __typeof__(&mi_heap_new) heap_new;
    __typeof__(&mi_heap_destroy) heap_destroy;
    __typeof__(&mi_heap_malloc) heap_malloc;
    __typeof__(&mi_heap_zalloc) heap_zalloc;
    __typeof__(&mi_heap_realloc) heap_realloc;
    __typeof__(&mi_heap_collect) heap_collect;
    __typeof__(&mi_heap_visit_blocks) heap_visit_blocks;
    __typeof__(&mi_free) free;
    __typeof__(&mi_usable_size) usable_size;
} mim;

static const struct pm_refsym mim_syms[] = {
    {"mi_version", &mim.version, false},
    {"mi_heap_new", &mim.heap_new, false},
    {"mi_heap_destroy", &mim.heap_destroy, false},
    {"mi_heap_malloc", &mim.heap_malloc, false},
    {"mi_heap_zalloc", &mim.heap_zalloc, false},
    {"mi_heap_realloc", &mim.heap_realloc, false},
    {"mi_heap_collect", &mim.heap_collect, false},
    {"mi_heap_visit_blocks", &mim.heap_visit_blocks, false},
    {"mi_free", &mim.free, false},
    {"mi_usable_size", &mim.usable_size, false},
    {NULL, NULL, false},
};

static struct pm_reflib mim_lib = {.soname = "libmimalloc.so.2", .syms = mim_syms};

/* Rewritten with the run-time version once the library is loaded. */
static char mim_description[128] = "mimalloc (Debian libmimalloc.so.2), private heap per instance";

struct pm_heap {
    mi_heap_t *heap;            /* the instance's private heap */
    uint64_t peak_mapped;       /* max mapped_bytes seen by stats() */
};

static const char *mim_unavailable(void)
{
    static bool described;
    const char *why = pm_reflib_load(&mim_lib);
    if (!why && !described) {
        described = true;
        int v = mim.version();   /* 209 == 2.0.9 */
        snprintf(mim_description, sizeof mim_description,
                 "mimalloc %d.%d.%d (Debian libmimalloc.so.2), private heap per instance",
                 v / 100, v / 10 % 10, v % 10);
    }
    return why;
}

static pm_heap_t *mim_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    pm_heap_t *h = pm_reflib_instance("mimalloc", mim_unavailable(), cfg, sizeof *h, err);
    if (!h)
        return NULL;
    h->heap = mim.heap_new();
    if (!h->heap) {
        free(h);
        snprintf(err, PM_ERR_LEN, "mimalloc: mi_heap_new failed");
        return NULL;
    }
    return h;
}

static void mim_destroy(pm_heap_t *h)
{
    mim.heap_destroy(h->heap);
    free(h);
}

static void *mim_malloc(pm_heap_t *h, size_t n)
{
    size_t sz = pm_ref_size(n);
    void *p = sz ? mim.heap_malloc(h->heap, sz) : NULL;
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *mim_calloc(pm_heap_t *h, size_t k, size_t n)
{
    size_t total;
    if (!pm_calloc_bytes(k, n, &total))
        return NULL;
    size_t sz = pm_ref_size(total);
    void *p = sz ? mim.heap_zalloc(h->heap, sz) : NULL;
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *mim_realloc(pm_heap_t *h, void *p, size_t n)
{
    size_t sz = pm_ref_size(n);
    void *q = sz ? mim.heap_realloc(h->heap, p, sz) : NULL;
    if (!q)
        errno = ENOMEM;
    return q;
}

static void mim_free(pm_heap_t *h, void *p)
{
    (void)h;
    mim.free(p);
}

static size_t mim_usable(pm_heap_t *h, void *p)
{
    (void)h;
    return mim.usable_size(p);
}

struct mim_tally {
    uint64_t reserved, used_bytes, blocks, pages;
};

static bool mim_tally_area(const mi_heap_t *heap, const mi_heap_area_t *area, void *block,
                          size_t block_size, void *arg)
{
    (void)heap;
    (void)block;
    (void)block_size;
    struct mim_tally *t = arg;
    t->reserved += area->reserved;
    t->used_bytes += (uint64_t)area->used * area->block_size;
    t->blocks += area->used;
    t->pages++;
    return true;
}

static void mim_stats(pm_heap_t *h, struct pm_stats *out)
{
    struct mim_tally t = {0};
    mim.heap_visit_blocks(h->heap, false, mim_tally_area, &t);
    if (t.reserved > h->peak_mapped)
        h->peak_mapped = t.reserved;
    *out = (struct pm_stats){
        .mapped_bytes = t.reserved,
        .peak_mapped_bytes = h->peak_mapped,
        .used_bytes = t.used_bytes,
        .meta_bytes = PM_STAT_NA,
        .live_blocks = t.blocks,
        .nmalloc = PM_STAT_NA,
        .nfree = PM_STAT_NA,
        .arenas = PM_STAT_NA,
        .pools = t.pages,
        .large_blocks = PM_STAT_NA,
        .misuse = 0,
    };
}

static void mim_trim(pm_heap_t *h)
{
    mim.heap_collect(h->heap, true);
}

#define MIM_DESCRIPTION mim_description
#define MIM_OP(f) f

#else /* !PM_HAVE_MIMALLOC */

static const char *mim_unavailable(void) { return "built without mimalloc headers"; }
#define MIM_DESCRIPTION "mimalloc, private heap per instance"
#define MIM_OP(f) NULL

#endif

const struct allocator_ops pm_mimalloc_ops = {
    .name = "mimalloc",
    .description = MIM_DESCRIPTION,
    .flags = PM_BACKEND_REFERENCE,
    .unavailable = mim_unavailable,
    .create = MIM_OP(mim_create),
    .destroy = MIM_OP(mim_destroy),
    .malloc = MIM_OP(mim_malloc),
    .calloc = MIM_OP(mim_calloc),
    .realloc = MIM_OP(mim_realloc),
    .free = MIM_OP(mim_free),
    .usable_size = MIM_OP(mim_usable),
    .stats = MIM_OP(mim_stats),
    .check = NULL,
    .trim = MIM_OP(mim_trim),
};
