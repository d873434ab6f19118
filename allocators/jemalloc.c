/* allocators/jemalloc.c — the `jemalloc` reference backend: Debian's
 * libjemalloc.so.2, dlopen'ed (reflib.h says why it is never linked).
 *
 * Entry point: pm_jemalloc_ops.
 *
 * Each instance owns a private arena (mallctl "arenas.create") AND a private
 * explicit thread cache ("tcache.create"); every call passes
 * MALLOCX_ARENA(a) | MALLOCX_TCACHE(tc). No block of the arena can sit in a
 * cache shared with other instances, so "arena.<i>.destroy" stays exact (the
 * tcache is destroyed first, flushing its blocks back to the arena), while
 * malloc/free keep jemalloc's fast tcache path, as an application calling
 * malloc() sees it. (Bypassing the tcache instead, MALLOCX_TCACHE_NONE, costs
 * 3-5x: every op then locks the arena's bin; measured 104-150 ns/op against
 * 20-35 ns/op on the micro benchmark.) trim flushes the tcache before the
 * purge; stats() flushes it too, so its counts are exact.
 * Destroy returns the arena's pages (RSS) but, with jemalloc's default
 * opt.retain on 64-bit Linux, not its address space: each destroyed arena
 * leaves about 2 MiB of VSZ behind (measured), the index itself is reused.
 *
 * jemalloc uses initial-exec TLS; it can be dlopen'ed only with a larger
 * static TLS surplus (GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536,
 * set by harness/cli/main.c's re-exec and by ctest). Without it, dlopen fails and
 * the backend is unavailable with dlerror's reason.
 *
 * Requests are rounded to a multiple of 16 (pm_ref_size): jemalloc's 8-byte
 * class is only 8-aligned, and mallocx(0) is undefined. trim = "arena.<i>.
 * purge". Stats are per arena from "stats.arenas.<i>.*" after an "epoch"
 * refresh (Debian builds with stats; without them the fields are NA): mapped,
 * base + internal metadata, small + large allocated bytes and counts, slabs
 * (as pools). Peak is the max of the samples taken by stats(). No check().
 */
#include "allocator.h"
#include "pm_assert.h"
#include "reflib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if PM_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>

static struct {
    __typeof__(&mallocx) mallocx;
    __typeof__(&rallocx) rallocx;
    __typeof__(&dallocx) dallocx;
    __typeof__(&sallocx) sallocx;
    __typeof__(&mallctl) mallctl;
} je;

static const struct pm_refsym je_syms[] = {
    {"mallocx", &je.mallocx, false},
    {"rallocx", &je.rallocx, false},
    {"dallocx", &je.dallocx, false},
    {"sallocx", &je.sallocx, false},
    {"mallctl", &je.mallctl, false},
    {NULL, NULL, false},
};

static struct pm_reflib je_lib = {.soname = "libjemalloc.so.2", .syms = je_syms};

/* Rewritten with the run-time version once the library is loaded. */
static char je_description[160] =
    "jemalloc (Debian libjemalloc.so.2), private arena and tcache per instance";

static bool je_have_stats;      /* "config.stats": Debian builds with stats */

struct pm_heap {
    unsigned arena;             /* index from "arenas.create" */
    unsigned tcache;            /* index from "tcache.create" */
    int flags;                  /* MALLOCX_ARENA(arena) | MALLOCX_TCACHE(tcache) */
    uint64_t peak_mapped;       /* max mapped_bytes seen by stats() */
};

static const char *je_unavailable(void)
{
    static bool described;
    const char *why = pm_reflib_load(&je_lib);
    if (!why && !described) {
        described = true;
        const char *ver = NULL;
        size_t len = sizeof ver;
        bool st = false;
        size_t stlen = sizeof st;
        if (je.mallctl("config.stats", &st, &stlen, NULL, 0) == 0)
            je_have_stats = st;
        if (je.mallctl("version", &ver, &len, NULL, 0) == 0 && ver)
            snprintf(je_description, sizeof je_description,
                     "jemalloc %.*s (Debian libjemalloc.so.2), private arena and tcache per instance",
                     (int)strcspn(ver, "-"), ver);
    }
    return why;
}

static pm_heap_t *je_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    pm_heap_t *h = pm_reflib_instance("jemalloc", je_unavailable(), cfg, sizeof *h, err);
    if (!h)
        return NULL;
    size_t len = sizeof h->arena;
    int rc = je.mallctl("arenas.create", &h->arena, &len, NULL, 0);
    if (rc) {
        free(h);
        snprintf(err, PM_ERR_LEN, "jemalloc: arenas.create failed: %s", strerror(rc));
        return NULL;
    }
    len = sizeof h->tcache;
    rc = je.mallctl("tcache.create", &h->tcache, &len, NULL, 0);
    if (rc) {
        char name[64];
        snprintf(name, sizeof name, "arena.%u.destroy", h->arena);
        je.mallctl(name, NULL, NULL, NULL, 0);
        free(h);
        snprintf(err, PM_ERR_LEN, "jemalloc: tcache.create failed: %s", strerror(rc));
        return NULL;
    }
    h->flags = MALLOCX_ARENA(h->arena) | MALLOCX_TCACHE(h->tcache);
    return h;
}

/* Runs the mallctl "arena.<i>.<verb>" that takes no arguments. */
static int je_arena_ctl(const pm_heap_t *h, const char *verb)
{
    char name[64];
    snprintf(name, sizeof name, "arena.%u.%s", h->arena, verb);
    return je.mallctl(name, NULL, NULL, NULL, 0);
}

/* Flushes (ctl "flush") or destroys the instance's tcache. */
static void je_tcache_ctl(const pm_heap_t *h, const char *verb)
{
    char name[64];
    unsigned tc = h->tcache;
    snprintf(name, sizeof name, "tcache.%s", verb);
    je.mallctl(name, NULL, NULL, &tc, sizeof tc);
}

static void je_destroy(pm_heap_t *h)
{
    int saved = errno;
    je_tcache_ctl(h, "destroy");
    int rc = je_arena_ctl(h, "destroy");
    pm_assert(rc == 0);
    free(h);
    errno = saved;
}

static void *je_malloc_(pm_heap_t *h, size_t n)
{
    size_t sz = pm_ref_size(n);
    void *p = sz ? je.mallocx(sz, h->flags) : NULL;
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *je_calloc_(pm_heap_t *h, size_t k, size_t n)
{
    size_t total;
    if (!pm_calloc_bytes(k, n, &total))
        return NULL;
    size_t sz = pm_ref_size(total);
    void *p = sz ? je.mallocx(sz, h->flags | MALLOCX_ZERO) : NULL;
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *je_realloc_(pm_heap_t *h, void *p, size_t n)
{
    if (!p)
        return je_malloc_(h, n);
    size_t sz = pm_ref_size(n);
    void *q = sz ? je.rallocx(p, sz, h->flags) : NULL;
    if (!q)
        errno = ENOMEM;
    return q;
}

static void je_free_(pm_heap_t *h, void *p)
{
    if (p)
        je.dallocx(p, h->flags);
}

static size_t je_usable(pm_heap_t *h, void *p)
{
    (void)h;
    return je.sallocx(p, 0);
}

/* Reads "stats.arenas.<arena>.<field>" of type size_t or uint64_t (by size);
 * PM_STAT_NA if unavailable. */
static uint64_t je_stat(const pm_heap_t *h, const char *field, size_t size)
{
    char name[96];
    snprintf(name, sizeof name, "stats.arenas.%u.%s", h->arena, field);
    union { size_t z; uint64_t u; } v = {0};
    size_t len = size;
    if (je.mallctl(name, &v, &len, NULL, 0) != 0 || len != size)
        return PM_STAT_NA;
    return size == sizeof(uint64_t) ? v.u : v.z;
}

/* a + b, NA if either is. */
static uint64_t je_na_add(uint64_t a, uint64_t b)
{
    return a == PM_STAT_NA || b == PM_STAT_NA ? PM_STAT_NA : a + b;
}

/* a - b, NA if either is. */
static uint64_t je_na_sub(uint64_t a, uint64_t b)
{
    return a == PM_STAT_NA || b == PM_STAT_NA ? PM_STAT_NA : a - b;
}

static void je_stats(pm_heap_t *h, struct pm_stats *out)
{
    int saved = errno;
    struct pm_stats st = {
        .mapped_bytes = PM_STAT_NA, .peak_mapped_bytes = PM_STAT_NA, .used_bytes = PM_STAT_NA,
        .meta_bytes = PM_STAT_NA, .live_blocks = PM_STAT_NA, .nmalloc = PM_STAT_NA,
        .nfree = PM_STAT_NA, .arenas = 1, .pools = PM_STAT_NA, .large_blocks = PM_STAT_NA,
        .misuse = 0,
    };
    uint64_t epoch = 1;
    size_t elen = sizeof epoch;
    /* Blocks parked in the tcache count as allocated in the arena's stats:
     * flush first so live_blocks and used_bytes are exact. */
    je_tcache_ctl(h, "flush");
    if (je_have_stats && je.mallctl("epoch", &epoch, &elen, &epoch, sizeof epoch) == 0) {
        const size_t Z = sizeof(size_t), U = sizeof(uint64_t);
        st.mapped_bytes = je_stat(h, "mapped", Z);
        st.meta_bytes = je_na_add(je_stat(h, "base", Z), je_stat(h, "internal", Z));
        st.used_bytes = je_na_add(je_stat(h, "small.allocated", Z), je_stat(h, "large.allocated", Z));
        uint64_t sm = je_stat(h, "small.nmalloc", U), sf = je_stat(h, "small.ndalloc", U);
        uint64_t lm = je_stat(h, "large.nmalloc", U), lf = je_stat(h, "large.ndalloc", U);
        st.nmalloc = je_na_add(sm, lm);
        st.nfree = je_na_add(sf, lf);
        st.live_blocks = je_na_sub(st.nmalloc, st.nfree);
        st.large_blocks = je_na_sub(lm, lf);
        unsigned nbins = 0;
        size_t nlen = sizeof nbins;
        if (je.mallctl("arenas.nbins", &nbins, &nlen, NULL, 0) == 0) {
            uint64_t slabs = 0;
            char field[48];
            for (unsigned j = 0; j < nbins && slabs != PM_STAT_NA; j++) {
                snprintf(field, sizeof field, "bins.%u.curslabs", j);
                slabs = je_na_add(slabs, je_stat(h, field, Z));
            }
            st.pools = slabs;
        }
        if (st.mapped_bytes != PM_STAT_NA && st.mapped_bytes > h->peak_mapped)
            h->peak_mapped = st.mapped_bytes;
        st.peak_mapped_bytes = h->peak_mapped;
    }
    *out = st;
    errno = saved;
}

static void je_trim(pm_heap_t *h)
{
    int saved = errno;
    je_tcache_ctl(h, "flush");
    int rc = je_arena_ctl(h, "purge");
    pm_assert(rc == 0);
    errno = saved;
}

#define JE_DESCRIPTION je_description
#define JE_OP(f) f

#else /* !PM_HAVE_JEMALLOC */

static const char *je_unavailable(void) { return "built without jemalloc headers"; }
#define JE_DESCRIPTION "jemalloc, private arena and tcache per instance"
#define JE_OP(f) NULL

#endif

const struct allocator_ops pm_jemalloc_ops = {
    .name = "jemalloc",
    .description = JE_DESCRIPTION,
    .flags = PM_BACKEND_REFERENCE,
    .unavailable = je_unavailable,
    .create = JE_OP(je_create),
    .destroy = JE_OP(je_destroy),
    .malloc = JE_OP(je_malloc_),
    .calloc = JE_OP(je_calloc_),
    .realloc = JE_OP(je_realloc_),
    .free = JE_OP(je_free_),
    .usable_size = JE_OP(je_usable),
    .stats = JE_OP(je_stats),
    .check = NULL,
    .trim = JE_OP(je_trim),
};
