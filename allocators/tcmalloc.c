/* allocators/tcmalloc.c — the `tcmalloc` reference backend: gperftools'
 * libtcmalloc_minimal.so.4 (Debian), dlopen'ed (reflib.h says why it is never
 * linked).
 *
 * Entry point: pm_tcmalloc_ops.
 *
 * Global by nature (PM_BACKEND_GLOBAL): tcmalloc has one page heap and one
 * thread cache per thread, with no API for a private heap. Every instance
 * shares them; destroy frees only the instance record, not blocks the caller
 * left live. tc_malloc/tc_calloc/tc_realloc/tc_free/tc_malloc_size; trim is
 * MallocExtension_ReleaseFreeMemory. Requests are rounded to a multiple of 16
 * (pm_ref_size): tcmalloc's 8-byte class is only 8-aligned.
 *
 * Stats are process-wide, from MallocExtension_GetNumericProperty where the
 * library has it: mapped = generic.heap_size - tcmalloc.pageheap_unmapped_bytes,
 * used = generic.current_allocated_bytes; peak is the max of the samples
 * taken by stats(). No check(), no misuse detection.
 *
 * Under ASan it works: our calls bypass ASan's malloc. Its load-time
 * MallocExtension::Register() allocates 8 bytes through ASan's operator new
 * and keeps the pointer where LeakSanitizer cannot see it; reflib.c loads
 * libraries with leak detection disabled so this singleton is not reported.
 */
#include "allocator.h"
#include "reflib.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#if PM_HAVE_TCMALLOC
#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>

static struct {
    __typeof__(&tc_version) version;
    __typeof__(&tc_malloc) malloc;
    __typeof__(&tc_calloc) calloc;
    __typeof__(&tc_realloc) realloc;
    __typeof__(&tc_free) free;
    __typeof__(&tc_malloc_size) malloc_size;
    __typeof__(&MallocExtension_ReleaseFreeMemory) release;
    __typeof__(&MallocExtension_GetNumericProperty) property;   /* optional */
} tc;

static const struct pm_refsym tc_syms[] = {
    {"tc_version", &tc.version, false},
    {"tc_malloc", &tc.malloc, false},
    {"tc_calloc", &tc.calloc, false},
    {"tc_realloc", &tc.realloc, false},
    {"tc_free", &tc.free, false},
    {"tc_malloc_size", &tc.malloc_size, false},
    {"MallocExtension_ReleaseFreeMemory", &tc.release, false},
    {"MallocExtension_GetNumericProperty", &tc.property, true},
    {NULL, NULL, false},
};

static struct pm_reflib tc_lib = {.soname = "libtcmalloc_minimal.so.4", .syms = tc_syms};

/* Rewritten with the run-time version once the library is loaded. */
static char tc_description[128] =
    "tcmalloc (Debian libtcmalloc_minimal.so.4), process-wide heap and thread caches";

struct pm_heap {
    uint64_t peak_mapped;       /* max mapped_bytes seen by stats() */
};

static const char *tc_unavailable(void)
{
    static bool described;
    const char *why = pm_reflib_load(&tc_lib);
    if (!why && !described) {
        described = true;
        int major = 0, minor = 0;
        const char *patch = NULL;
        const char *v = tc.version(&major, &minor, &patch);
        snprintf(tc_description, sizeof tc_description,
                 "tcmalloc (%s, Debian libtcmalloc_minimal.so.4), process-wide heap and thread caches",
                 v ? v : "gperftools");
    }
    return why;
}

static pm_heap_t *tc_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    pm_heap_t *h = pm_reflib_instance("tcmalloc", tc_unavailable(), cfg, sizeof *h, err);
    return h;
}

static void tc_destroy(pm_heap_t *h) { free(h); }

static void *tc_malloc_(pm_heap_t *h, size_t n)
{
    (void)h;
    size_t sz = pm_ref_size(n);
    void *p = sz ? tc.malloc(sz) : NULL;
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *tc_calloc_(pm_heap_t *h, size_t k, size_t n)
{
    (void)h;
    size_t total;
    if (!pm_calloc_bytes(k, n, &total))
        return NULL;
    size_t sz = pm_ref_size(total);
    void *p = sz ? tc.calloc(1, sz) : NULL;
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *tc_realloc_(pm_heap_t *h, void *p, size_t n)
{
    (void)h;
    size_t sz = pm_ref_size(n);
    void *q = sz ? tc.realloc(p, sz) : NULL;
    if (!q)
        errno = ENOMEM;
    return q;
}

static void tc_free_(pm_heap_t *h, void *p)
{
    (void)h;
    tc.free(p);
}

static size_t tc_usable(pm_heap_t *h, void *p)
{
    (void)h;
    return tc.malloc_size(p);
}

/* One numeric property, PM_STAT_NA if the library lacks it. */
static uint64_t tc_property(const char *name)
{
    size_t v = 0;
    if (!tc.property || !tc.property(name, &v))
        return PM_STAT_NA;
    return v;
}

static void tc_stats(pm_heap_t *h, struct pm_stats *out)
{
    int saved = errno;
    uint64_t heap = tc_property("generic.heap_size");
    uint64_t unmapped = tc_property("tcmalloc.pageheap_unmapped_bytes");
    uint64_t mapped = heap == PM_STAT_NA || unmapped == PM_STAT_NA ? PM_STAT_NA : heap - unmapped;
    if (mapped != PM_STAT_NA && mapped > h->peak_mapped)
        h->peak_mapped = mapped;
    *out = (struct pm_stats){
        .mapped_bytes = mapped,
        .peak_mapped_bytes = mapped == PM_STAT_NA ? PM_STAT_NA : h->peak_mapped,
        .used_bytes = tc_property("generic.current_allocated_bytes"),
        .meta_bytes = PM_STAT_NA,
        .live_blocks = PM_STAT_NA,
        .nmalloc = PM_STAT_NA,
        .nfree = PM_STAT_NA,
        .arenas = PM_STAT_NA,
        .pools = PM_STAT_NA,
        .large_blocks = PM_STAT_NA,
        .misuse = 0,
    };
    errno = saved;
}

static void tc_trim(pm_heap_t *h)
{
    (void)h;
    int saved = errno;
    tc.release();
    errno = saved;
}

#define TC_DESCRIPTION tc_description
#define TC_OP(f) f

#else /* !PM_HAVE_TCMALLOC */

static const char *tc_unavailable(void) { return "built without gperftools (tcmalloc) headers"; }
#define TC_DESCRIPTION "tcmalloc (gperftools), process-wide heap and thread caches"
#define TC_OP(f) NULL

#endif

const struct allocator_ops pm_tcmalloc_ops = {
    .name = "tcmalloc",
    .description = TC_DESCRIPTION,
    .flags = PM_BACKEND_GLOBAL | PM_BACKEND_REFERENCE,
    .unavailable = tc_unavailable,
    .create = TC_OP(tc_create),
    .destroy = TC_OP(tc_destroy),
    .malloc = TC_OP(tc_malloc_),
    .calloc = TC_OP(tc_calloc_),
    .realloc = TC_OP(tc_realloc_),
    .free = TC_OP(tc_free_),
    .usable_size = TC_OP(tc_usable),
    .stats = TC_OP(tc_stats),
    .check = NULL,
    .trim = TC_OP(tc_trim),
};
