/* allocators/null.c — the `null` backend: measures the replay loop's own cost
 * (trace decoding, slot table, indirect calls, timing).
 *
 * Bump allocation inside one ring of `ring` bytes (default 4 MiB, so it stays
 * in cache and never page-faults after the first lap); free does nothing.
 * When the ring is used up the bump pointer wraps to its start, so blocks
 * alias older ones: null does NOT keep the contents of live blocks, and the
 * contract suite exempts it from the content and overlap checks. Requests
 * larger than a quarter of the ring get their own mapping (kept until
 * destroy). realloc returns a fresh block without copying: copying is
 * allocator work, not the replay loop's.
 */
#include "allocator.h"
#include "pm_assert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct big {                    /* a request too large for the ring */
    struct big *next;
    size_t size;                /* bytes mapped, header included */
};

struct pm_heap {
    struct pm_config cfg;
    struct pm_os os;
    char *ring;                 /* ring_size bytes */
    size_t ring_size;
    size_t cur;                 /* bump offset into ring */
    struct big *bigs;
    struct pm_stats st;
};

#define NULL_HDR 16             /* bytes before each block: its size */

static pm_heap_t *null_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    uint64_t ring = 4u << 20;
    struct pm_opt_iter it = {cfg->options};
    const char *k, *v;
    size_t kl, vl;
    int r;
    while ((r = pm_opt_next(&it, &k, &kl, &v, &vl, err)) > 0) {
        if (pm_opt_key_is(k, kl, "ring")) {
            if (!pm_parse_size(v, vl, &ring) || ring < 65536 || ring > (1ull << 34)) {
                snprintf(err, PM_ERR_LEN, "null: bad ring size '%.*s' (64K..16G)", (int)vl, v);
                return NULL;
            }
        } else {
            snprintf(err, PM_ERR_LEN, "null: unknown option '%.*s' (known: ring)", (int)kl, k);
            return NULL;
        }
    }
    if (r < 0)
        return NULL;
    struct pm_os os;
    pm_os_init(&os, &cfg->faults);
    pm_heap_t *h = pm_os_map(&os, sizeof *h);
    /* (contents never read before written: calloc zeroes; a recycled
     * range is taken as it is) */
    char *mem = h ? pm_os_map_any(&os, ring, pm_os_page_size(), NULL) : NULL;
    if (!mem) {
        if (h)
            pm_os_unmap(&os, h, sizeof *h);
        snprintf(err, PM_ERR_LEN, "null: out of memory");
        return NULL;
    }
    h->cfg = *cfg;
    h->ring = mem;
    h->ring_size = ring;
    h->st.arenas = 1;
    h->os = os;
    return h;
}

static void null_destroy(pm_heap_t *h)
{
    struct pm_os os = h->os;
    for (struct big *b = h->bigs, *next; b; b = next) {
        next = b->next;
        pm_os_unmap(&os, b, b->size);
    }
    pm_os_unmap(&os, h->ring, h->ring_size);
    pm_os_unmap(&os, h, sizeof *h);
}

static void *null_big(pm_heap_t *h, size_t n)
{
    if (n > ((size_t)1 << 40)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t sz = n + NULL_HDR + 16;
    struct big *b = pm_os_map_any(&h->os, sz, pm_os_page_size(), NULL);
    if (!b)
        return NULL;
    b->next = h->bigs;
    b->size = sz;
    h->bigs = b;
    h->st.large_blocks++;
    char *p = (char *)b + 16;
    *(size_t *)p = n;
    return p + NULL_HDR;
}

/* The large path, out of line so that the ring path needs no saved
 * registers (it is what the replay overhead is measured with). */
static __attribute__((noinline, cold)) void *null_malloc_big(pm_heap_t *h, size_t n)
{
    char *p = null_big(h, n);
    if (p)
        h->st.nmalloc++;
    return p;
}

static void *null_malloc(pm_heap_t *h, size_t n)
{
    if (__builtin_expect(n > h->ring_size / 4, 0))
        return null_malloc_big(h, n);
    size_t need = NULL_HDR + ((n + 15) & ~(size_t)15);
    size_t cur = h->cur;
    if (cur + need > h->ring_size)
        cur = 0;
    char *p = h->ring + cur + NULL_HDR;
    h->cur = cur + need;
    *(size_t *)(p - NULL_HDR) = n;
    h->st.nmalloc++;     /* live_blocks = nmalloc - nfree, in stats() */
    return p;
}

static void *null_calloc(pm_heap_t *h, size_t k, size_t n)
{
    size_t total;
    if (!pm_calloc_bytes(k, n, &total))
        return NULL;
    void *p = null_malloc(h, total);
    if (p)
        memset(p, 0, total);
    return p;
}

static void null_free(pm_heap_t *h, void *p)
{
    if (p) {
        h->st.nfree++;
    }
}

static size_t null_usable(pm_heap_t *h, void *p)
{
    (void)h;
    return *(size_t *)((char *)p - NULL_HDR);
}

/* No copy: copying is allocator work (an allocator that grows in place
 * avoids it), and null keeps no contents anyway. */
static void *null_realloc(pm_heap_t *h, void *p, size_t n)
{
    void *q = null_malloc(h, n);
    if (q && p)
        null_free(h, p);
    return q;
}

static void null_stats(pm_heap_t *h, struct pm_stats *out)
{
    *out = h->st;
    out->live_blocks = h->st.nmalloc - h->st.nfree;
    out->mapped_bytes = h->os.mapped;
    out->peak_mapped_bytes = h->os.peak_mapped;
    out->used_bytes = PM_STAT_NA;
    out->meta_bytes = sizeof *h;
    out->pools = 0;
}

static unsigned long null_check(pm_heap_t *h, char msg[PM_ERR_LEN])
{
    struct pm_check_report r = {.msg = msg, .who = "null"};
    msg[0] = 0;
    if (h->cur > h->ring_size)
        pm_check_fail(&r, "bump offset %zu past ring end %zu", h->cur, h->ring_size);
    return r.bad;
}

static void null_trim(pm_heap_t *h) { (void)h; }
static struct pm_os *null_os(pm_heap_t *h) { return &h->os; }

/* null with its memory figures reported (test-only, hidden from `backends`):
 * the harness's own-memory test replays on it, since null does nothing
 * with memory beyond its ring, what footprint it shows above the ring is
 * the harness's. */
#define NULL_OPS_BODY                                                                         \
    .create = null_create, .destroy = null_destroy, .malloc = null_malloc,                    \
    .calloc = null_calloc, .realloc = null_realloc, .free = null_free,                        \
    .usable_size = null_usable, .stats = null_stats, .check = null_check, .trim = null_trim,  \
    .os = null_os

const struct allocator_ops pm_test_null_ops = {
    .name = "test-null",
    .description = "null with its memory figures shown (tests of the harness's own memory)",
    .flags = PM_BACKEND_TEST_ONLY | PM_BACKEND_NO_CONTENTS,
    NULL_OPS_BODY,
};

const struct allocator_ops pm_null_ops = {
    .name = "null",
    .description = "bump allocation in a 4 MiB ring, free is a no-op: the replay loop's own cost",
    /* blocks alias: nothing read back is what was written, and its memory is
     * not a heap's */
    .flags = PM_BACKEND_NO_MEMORY | PM_BACKEND_NO_CONTENTS,
    NULL_OPS_BODY,
};
