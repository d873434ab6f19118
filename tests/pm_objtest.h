/* tests/pm_objtest.h — helpers shared by the object-layer tests
 * (test_objects.c, test_gc.c), header-only so that no shared file changes:
 *
 *  pmo_specs()      the backends every object test runs on: `system` and every
 *                   own backend of the registry (references other than system,
 *                   wrappers, test-only backends and `null` are skipped)
 *  pmo_pad_ops      test-local backend: glibc malloc behind a header of varying
 *                   size, so addresses and usable sizes differ from `system`
 *  pmo_osbump_ops   test-local own backend over the OS layer (os.h): size
 *                   classes carved from 64 KiB chunks; OS faults reach it
 *  pmo_rec_*        a recording wrapper: the request stream (op, block id,
 *                   size, domain) that the object layer makes, block ids dense
 *                   in allocation order, so streams compare across backends
 *  pmo_fail_*       a failing wrapper: every request from number N fails
 */
#ifndef PM_OBJTEST_H
#define PM_OBJTEST_H

#include "pm_test.h"
#include "pm_object.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PMO_UNUSED __attribute__((unused))

/* ---- the backends to run on ---- */

static PMO_UNUSED size_t pmo_specs(const char *out[], size_t max)
{
    size_t n = 0;
    for (const struct allocator_ops *const *b = pm_backends; *b && n < max; b++) {
        const struct allocator_ops *o = *b;
        if (o->flags & (PM_BACKEND_WRAPPER | PM_BACKEND_TEST_ONLY))
            continue;
        if ((o->flags & PM_BACKEND_REFERENCE) && strcmp(o->name, "system"))
            continue;
        if (!strcmp(o->name, "null"))
            continue;
        if (o->unavailable && o->unavailable())
            continue;
        out[n++] = o->name;
    }
    return n;
}

/* ---- pad: glibc behind a varying header ---- */

struct pmo_pad { uint64_t serial; };

static PMO_UNUSED pm_heap_t *pmo_pad_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    (void)cfg;
    (void)err;
    return (pm_heap_t *)calloc(1, sizeof(struct pmo_pad));
}
static PMO_UNUSED void pmo_pad_destroy(pm_heap_t *h) { free(h); }
static PMO_UNUSED void *pmo_pad_malloc(pm_heap_t *h, size_t n)
{
    struct pmo_pad *p = (struct pmo_pad *)h;
    size_t pad = 32 + 16 * (size_t)(p->serial++ % 7);
    char *m = malloc(n + pad + 48);
    if (!m)
        return NULL;
    ((size_t *)m)[0] = pad;
    ((size_t *)(m + pad))[-1] = n + 48;     /* usable size: larger than asked */
    ((size_t *)(m + pad))[-2] = pad;
    return m + pad;
}
static PMO_UNUSED void pmo_pad_free(pm_heap_t *h, void *q)
{
    (void)h;
    if (q)
        free((char *)q - ((size_t *)q)[-2]);
}
static PMO_UNUSED size_t pmo_pad_usable(pm_heap_t *h, void *q)
{
    (void)h;
    return ((size_t *)q)[-1];
}
static PMO_UNUSED void *pmo_pad_calloc(pm_heap_t *h, size_t k, size_t n)
{
    if (n && k > SIZE_MAX / n)
        return NULL;
    void *q = pmo_pad_malloc(h, k * n);
    if (q)
        memset(q, 0, k * n);
    return q;
}
static PMO_UNUSED void *pmo_pad_realloc(pm_heap_t *h, void *q, size_t n)
{
    void *r = pmo_pad_malloc(h, n);
    if (r && q) {
        size_t old = pmo_pad_usable(h, q) - 48;
        memcpy(r, q, old < n ? old : n);
        pmo_pad_free(h, q);
    }
    return r;
}
static PMO_UNUSED void pmo_pad_stats(pm_heap_t *h, struct pm_stats *out)
{
    (void)h;
    memset(out, 0xff, sizeof *out);
}
static PMO_UNUSED void pmo_pad_trim(pm_heap_t *h) { (void)h; }

static const struct allocator_ops pmo_pad_ops PMO_UNUSED = {
    .name = "test-pad", .description = "glibc behind a varying header",
    .flags = PM_BACKEND_TEST_ONLY, .create = pmo_pad_create, .destroy = pmo_pad_destroy,
    .malloc = pmo_pad_malloc, .calloc = pmo_pad_calloc, .realloc = pmo_pad_realloc,
    .free = pmo_pad_free, .usable_size = pmo_pad_usable, .stats = pmo_pad_stats,
    .trim = pmo_pad_trim,
};

/* ---- osbump: an own backend over the OS layer ---- */

#define PMO_CHUNK (64u << 10)
#define PMO_CLASSES 64                      /* 16..1024 bytes */
struct pmo_block { size_t cls; size_t size; };   /* 16-byte header; cls == 0: big */
struct pmo_big { struct pmo_big *next, *prev; size_t mapped; size_t pad; };
struct pmo_osbump {
    struct pm_os os;
    void *chunks;                           /* chained through their first word */
    char *cur, *end;                        /* carving in the newest chunk */
    void *free[PMO_CLASSES + 1];
    struct pmo_big bigs;                    /* circular list head */
    uint64_t live;
};

static PMO_UNUSED pm_heap_t *pmo_osbump_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    struct pm_os os;
    pm_os_init(&os, &cfg->faults);
    struct pmo_osbump *b = pm_os_map(&os, sizeof *b);
    if (!b) {
        snprintf(err, PM_ERR_LEN, "osbump: out of memory");
        return NULL;
    }
    b->os = os;
    b->bigs.next = b->bigs.prev = &b->bigs;
    return (pm_heap_t *)b;
}

static PMO_UNUSED void pmo_osbump_destroy(pm_heap_t *h)
{
    struct pmo_osbump *b = (struct pmo_osbump *)h;
    struct pm_os os = b->os;
    for (void *c = b->chunks, *next; c; c = next) {
        next = *(void **)c;
        pm_os_unmap(&os, c, PMO_CHUNK);
    }
    for (struct pmo_big *g = b->bigs.next, *next; g != &b->bigs; g = next) {
        next = g->next;
        pm_os_unmap(&os, g, g->mapped);
    }
    pm_os_unmap(&os, b, sizeof *b);
}

static PMO_UNUSED void *pmo_osbump_malloc(pm_heap_t *h, size_t n)
{
    struct pmo_osbump *b = (struct pmo_osbump *)h;
    size_t cls = (n + 15) / 16;
    if (cls == 0)
        cls = 1;
    struct pmo_block *blk;
    if (cls <= PMO_CLASSES) {
        if (b->free[cls]) {
            blk = b->free[cls];
            b->free[cls] = *(void **)blk;
        } else {
            size_t need = 16 + cls * 16;
            if (!b->cur || b->cur + need > b->end) {
                char *c = pm_os_map(&b->os, PMO_CHUNK);
                if (!c)
                    return NULL;
                *(void **)c = b->chunks;
                b->chunks = c;
                b->cur = c + 16;
                b->end = c + PMO_CHUNK;
            }
            blk = (struct pmo_block *)b->cur;
            b->cur += need;
        }
        blk->cls = cls;
    } else {
        if (n > ((size_t)1 << 40))
            return NULL;
        size_t mapped = sizeof(struct pmo_big) + 16 + n;
        struct pmo_big *g = pm_os_map(&b->os, mapped);
        if (!g)
            return NULL;
        g->mapped = mapped;
        g->next = b->bigs.next;
        g->prev = &b->bigs;
        b->bigs.next->prev = g;
        b->bigs.next = g;
        blk = (struct pmo_block *)(g + 1);
        blk->cls = 0;
    }
    blk->size = n;
    b->live++;
    return blk + 1;
}

static PMO_UNUSED void pmo_osbump_free(pm_heap_t *h, void *q)
{
    struct pmo_osbump *b = (struct pmo_osbump *)h;
    if (!q)
        return;
    struct pmo_block *blk = (struct pmo_block *)q - 1;
    b->live--;
    if (blk->cls) {
        *(void **)blk = b->free[blk->cls];
        b->free[blk->cls] = blk;
        return;
    }
    struct pmo_big *g = (struct pmo_big *)blk - 1;
    g->prev->next = g->next;
    g->next->prev = g->prev;
    pm_os_unmap(&b->os, g, g->mapped);
}

static PMO_UNUSED size_t pmo_osbump_usable(pm_heap_t *h, void *q)
{
    (void)h;
    struct pmo_block *blk = (struct pmo_block *)q - 1;
    return blk->cls ? blk->cls * 16 : blk->size;
}

static PMO_UNUSED void *pmo_osbump_calloc(pm_heap_t *h, size_t k, size_t n)
{
    if (n && k > SIZE_MAX / n)
        return NULL;
    void *q = pmo_osbump_malloc(h, k * n);
    if (q)
        memset(q, 0, k * n);
    return q;
}

static PMO_UNUSED void *pmo_osbump_realloc(pm_heap_t *h, void *q, size_t n)
{
    if (q && n <= pmo_osbump_usable(h, q) && ((struct pmo_block *)q - 1)->cls) {
        ((struct pmo_block *)q - 1)->size = n;
        return q;
    }
    void *r = pmo_osbump_malloc(h, n);
    if (r && q) {
        size_t old = ((struct pmo_block *)q - 1)->size;
        memcpy(r, q, old < n ? old : n);
        pmo_osbump_free(h, q);
    }
    return r;
}

static PMO_UNUSED void pmo_osbump_stats(pm_heap_t *h, struct pm_stats *out)
{
    struct pmo_osbump *b = (struct pmo_osbump *)h;
    memset(out, 0xff, sizeof *out);
    out->mapped_bytes = b->os.mapped;
    out->peak_mapped_bytes = b->os.peak_mapped;
    out->live_blocks = b->live;
}
static PMO_UNUSED struct pm_os *pmo_osbump_os(pm_heap_t *h) { return &((struct pmo_osbump *)h)->os; }

static const struct allocator_ops pmo_osbump_ops PMO_UNUSED = {
    .name = "test-osbump", .description = "size classes over the OS layer",
    .flags = PM_BACKEND_TEST_ONLY, .create = pmo_osbump_create, .destroy = pmo_osbump_destroy,
    .malloc = pmo_osbump_malloc, .calloc = pmo_osbump_calloc, .realloc = pmo_osbump_realloc,
    .free = pmo_osbump_free, .usable_size = pmo_osbump_usable, .stats = pmo_osbump_stats,
    .trim = pmo_pad_trim, .os = pmo_osbump_os,
};

/* ---- the recording wrapper ---- */

struct pmo_event {
    char op;                                /* m c r f (M F: with a domain) */
    uint8_t dom;
    uint64_t id;                            /* block id: dense, allocation order */
    uint64_t size;
};

struct pmo_rec {
    const struct allocator_ops *in;
    pm_heap_t *ih;
    struct pmo_event *ev;
    size_t n, cap;
    void **keys;                            /* open addressing: pointer -> id */
    uint64_t *ids;
    size_t mask, used;
    uint64_t next_id;
};

static PMO_UNUSED void pmo_rec_push(struct pmo_rec *r, char op, uint8_t dom, uint64_t id,
                                    uint64_t size)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 4096;
        r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
    }
    r->ev[r->n++] = (struct pmo_event){op, dom, id, size};
}

static PMO_UNUSED size_t pmo_rec_slot(struct pmo_rec *r, void *p)
{
    size_t i = (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15u) & r->mask;
    while (r->keys[i] && r->keys[i] != p)
        i = (i + 1) & r->mask;
    return i;
}

static PMO_UNUSED void pmo_rec_put(struct pmo_rec *r, void *p, uint64_t id)
{
    if (2 * (r->used + 1) > r->mask + 1) {
        void **ok = r->keys;
        uint64_t *oi = r->ids;
        size_t om = r->mask;
        r->mask = om ? 2 * om + 1 : 1023;
        r->keys = calloc(r->mask + 1, sizeof *r->keys);
        r->ids = calloc(r->mask + 1, sizeof *r->ids);
        r->used = 0;
        for (size_t i = 0; ok && i <= om; i++)
            if (ok[i] && ok[i] != (void *)1) {
                size_t s = pmo_rec_slot(r, ok[i]);
                r->keys[s] = ok[i];
                r->ids[s] = oi[i];
                r->used++;
            }
        free(ok);
        free(oi);
    }
    size_t s = pmo_rec_slot(r, p);
    if (!r->keys[s])
        r->used++;
    r->keys[s] = p;
    r->ids[s] = id;
}

/* Removes p (backward-shift deletion) and returns its id. */
static PMO_UNUSED uint64_t pmo_rec_take(struct pmo_rec *r, void *p)
{
    size_t i = pmo_rec_slot(r, p);
    if (!r->keys[i])
        return UINT64_MAX;
    uint64_t id = r->ids[i];
    r->keys[i] = NULL;
    r->used--;
    for (size_t j = (i + 1) & r->mask; r->keys[j]; j = (j + 1) & r->mask) {
        void *k = r->keys[j];
        uint64_t kid = r->ids[j];
        r->keys[j] = NULL;
        r->used--;
        pmo_rec_put(r, k, kid);
    }
    return id;
}

static PMO_UNUSED void *pmo_rec_malloc(pm_heap_t *h, size_t n)
{
    struct pmo_rec *r = (struct pmo_rec *)h;
    void *p = r->in->malloc(r->ih, n);
    uint64_t id = r->next_id++;
    pmo_rec_push(r, 'm', 0, p ? id : UINT64_MAX, n);
    if (p)
        pmo_rec_put(r, p, id);
    return p;
}
static PMO_UNUSED void *pmo_rec_calloc(pm_heap_t *h, size_t k, size_t n)
{
    struct pmo_rec *r = (struct pmo_rec *)h;
    void *p = r->in->calloc(r->ih, k, n);
    uint64_t id = r->next_id++;
    pmo_rec_push(r, 'c', 0, p ? id : UINT64_MAX, (uint64_t)k * n);
    if (p)
        pmo_rec_put(r, p, id);
    return p;
}
static PMO_UNUSED void *pmo_rec_realloc(pm_heap_t *h, void *q, size_t n)
{
    struct pmo_rec *r = (struct pmo_rec *)h;
    void *p = r->in->realloc(r->ih, q, n);
    if (!p) {
        pmo_rec_push(r, 'r', 0, UINT64_MAX, n);
        return NULL;
    }
    uint64_t id = q ? pmo_rec_take(r, q) : r->next_id++;
    pmo_rec_push(r, 'r', 0, id, n);
    pmo_rec_put(r, p, id);
    return p;
}
static PMO_UNUSED void pmo_rec_free(pm_heap_t *h, void *q)
{
    struct pmo_rec *r = (struct pmo_rec *)h;
    if (q)
        pmo_rec_push(r, 'f', 0, pmo_rec_take(r, q), 0);
    r->in->free(r->ih, q);
}
static PMO_UNUSED void *pmo_rec_malloc_dom(pm_heap_t *h, size_t n, enum pm_domain d)
{
    struct pmo_rec *r = (struct pmo_rec *)h;
    void *p = r->in->malloc_dom ? r->in->malloc_dom(r->ih, n, d) : r->in->malloc(r->ih, n);
    uint64_t id = r->next_id++;
    pmo_rec_push(r, 'M', (uint8_t)d, p ? id : UINT64_MAX, n);
    if (p)
        pmo_rec_put(r, p, id);
    return p;
}
static PMO_UNUSED void pmo_rec_free_dom(pm_heap_t *h, void *q, enum pm_domain d)
{
    struct pmo_rec *r = (struct pmo_rec *)h;
    pmo_rec_push(r, 'F', (uint8_t)d, pmo_rec_take(r, q), 0);
    if (r->in->free_dom)
        r->in->free_dom(r->ih, q, d);
    else
        r->in->free(r->ih, q);
}
static PMO_UNUSED size_t pmo_rec_usable(pm_heap_t *h, void *q)
{
    struct pmo_rec *r = (struct pmo_rec *)h;
    return r->in->usable_size(r->ih, q);
}
static PMO_UNUSED void pmo_rec_stats(pm_heap_t *h, struct pm_stats *out)
{
    struct pmo_rec *r = (struct pmo_rec *)h;
    r->in->stats(r->ih, out);
}

static const struct allocator_ops pmo_rec_ops PMO_UNUSED = {
    .name = "test-rec", .description = "records requests", .flags = PM_BACKEND_TEST_ONLY,
    .malloc = pmo_rec_malloc, .calloc = pmo_rec_calloc, .realloc = pmo_rec_realloc,
    .free = pmo_rec_free, .usable_size = pmo_rec_usable, .stats = pmo_rec_stats,
    .trim = pmo_pad_trim, .malloc_dom = pmo_rec_malloc_dom, .free_dom = pmo_rec_free_dom,
};

static PMO_UNUSED struct pmo_rec *pmo_rec_new(const struct allocator_ops *in, pm_heap_t *ih)
{
    struct pmo_rec *r = calloc(1, sizeof *r);
    r->in = in;
    r->ih = ih;
    return r;
}

static PMO_UNUSED void pmo_rec_delete(struct pmo_rec *r)
{
    free(r->ev);
    free(r->keys);
    free(r->ids);
    free(r);
}

/* ---- the failing wrapper ---- */

struct pmo_fail {
    const struct allocator_ops *in;
    pm_heap_t *ih;
    uint64_t calls;                         /* allocation requests seen */
    uint64_t fail_from;                     /* 0: never; else requests >= this fail */
};

static PMO_UNUSED bool pmo_fail_now(struct pmo_fail *f)
{
    f->calls++;
    return f->fail_from && f->calls >= f->fail_from;
}
static PMO_UNUSED void *pmo_fail_malloc(pm_heap_t *h, size_t n)
{
    struct pmo_fail *f = (struct pmo_fail *)h;
    return pmo_fail_now(f) ? NULL : f->in->malloc(f->ih, n);
}
static PMO_UNUSED void *pmo_fail_calloc(pm_heap_t *h, size_t k, size_t n)
{
    struct pmo_fail *f = (struct pmo_fail *)h;
    return pmo_fail_now(f) ? NULL : f->in->calloc(f->ih, k, n);
}
static PMO_UNUSED void *pmo_fail_realloc(pm_heap_t *h, void *q, size_t n)
{
    struct pmo_fail *f = (struct pmo_fail *)h;
    return pmo_fail_now(f) ? NULL : f->in->realloc(f->ih, q, n);
}
static PMO_UNUSED void pmo_fail_free(pm_heap_t *h, void *q)
{
    struct pmo_fail *f = (struct pmo_fail *)h;
    f->in->free(f->ih, q);
}
static PMO_UNUSED size_t pmo_fail_usable(pm_heap_t *h, void *q)
{
    struct pmo_fail *f = (struct pmo_fail *)h;
    return f->in->usable_size(f->ih, q);
}

static const struct allocator_ops pmo_fail_ops PMO_UNUSED = {
    .name = "test-fail", .description = "fails requests from N", .flags = PM_BACKEND_TEST_ONLY,
    .malloc = pmo_fail_malloc, .calloc = pmo_fail_calloc, .realloc = pmo_fail_realloc,
    .free = pmo_fail_free, .usable_size = pmo_fail_usable, .stats = pmo_pad_stats,
    .trim = pmo_pad_trim,
};

/* ---- a space on a spec ---- */

struct pmo_env {
    const struct allocator_ops *ops;
    pm_heap_t *heap;
    pm_objspace_t *sp;
};

static PMO_UNUSED void pmo_env_open(struct pmo_env *e, const char *spec,
                                    const struct pm_objspace_config *cfg)
{
    if (!strcmp(spec, "test-pad")) {
        e->ops = &pmo_pad_ops;
        e->heap = pmo_pad_create(NULL, NULL);
    } else if (!strcmp(spec, "test-osbump")) {
        struct pm_config c = {0};
        char err[PM_ERR_LEN];
        e->ops = &pmo_osbump_ops;
        e->heap = pmo_osbump_create(&c, err);
    } else {
        e->heap = pmt_create(spec, &e->ops);
    }
    char err[PM_ERR_LEN];
    e->sp = pm_objspace_create(e->ops, e->heap, cfg, err);
    if (!e->sp)
        fail_msg("%s: %s", spec, err);
}

/* Destroys the space (expecting no leak) and the backend. A leak is
 * reported after the backend is checked and destroyed (which gives an own
 * backend's blocks back), so a test that failed half-way, leaving objects
 * alive, does not also leave the backend behind. */
static PMO_UNUSED void pmo_env_close(struct pmo_env *e)
{
    char msg[PM_ERR_LEN];
    unsigned long bad = pm_objspace_check(e->sp, msg);
    if (bad)
        fail_msg("%s: objspace check: %lu violation(s): %s", e->ops->name, bad, msg);
    uint64_t left = pm_objspace_destroy(e->sp);
    e->sp = NULL;
    pmt_check_clean(e->ops, e->heap);
    e->ops->destroy(e->heap);
    if (left)
        fail_msg("%s: %llu block(s) leaked at destroy", e->ops->name, (unsigned long long)left);
}

static PMO_UNUSED void pmo_check(pm_objspace_t *sp)
{
    char msg[PM_ERR_LEN];
    unsigned long bad = pm_objspace_check(sp, msg);
    if (bad)
        fail_msg("objspace check: %lu violation(s): %s", bad, msg);
}

#endif
