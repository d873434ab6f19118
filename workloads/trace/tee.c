/* workloads/trace/tee.c — see tee.h. */
#include "tee.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pm_heap {
    const struct allocator_ops *ops;   /* inner */
    pm_heap_t *inner;
    struct pm_trace_writer *w;
    struct pm_slotmap slots;
    uint8_t domain;
    bool failed;                       /* recording stopped */
    char err[PM_ERR_LEN];
};

static void tee_fail(pm_heap_t *h, const char *why)
{
    if (!h->failed) {
        h->failed = true;
        snprintf(h->err, sizeof h->err, "%s", why);
    }
}

static void tee_write(pm_heap_t *h, uint8_t kind, int64_t slot, uint64_t size, uint64_t arg)
{
    if (h->failed)
        return;
    if (slot < 0) {
        tee_fail(h, "out of memory for the slot map");
        return;
    }
    struct pm_trace_op op = {.kind = kind, .domain = h->domain, .slot = (uint32_t)slot,
                             .size = size, .arg = arg};
    int saved = errno;
    if (pm_trace_writer_op(h->w, &op)) {
        const char *why = pm_trace_writer_error(h->w);   /* names the file and the errno */
        tee_fail(h, why && *why ? why : "the trace writer failed");
    }
    errno = saved;
}

static void *tee_malloc(pm_heap_t *h, size_t n)
{
    void *p = h->ops->malloc(h->inner, n);
    if (p)
        tee_write(h, PM_OP_ALLOC, pm_slotmap_put(&h->slots, p), n, 0);
    return p;
}

static void *tee_calloc(pm_heap_t *h, size_t k, size_t n)
{
    void *p = h->ops->calloc(h->inner, k, n);
    if (p)
        tee_write(h, PM_OP_CALLOC, pm_slotmap_put(&h->slots, p), n, k);
    return p;
}

static void *tee_realloc(pm_heap_t *h, void *p, size_t n)
{
    if (!p)
        return tee_malloc(h, n);
    void *q = h->ops->realloc(h->inner, p, n);
    if (q) {
        /* the block keeps its slot: take frees it, put reuses it first */
        int64_t s = pm_slotmap_take(&h->slots, p);
        int64_t t = pm_slotmap_put(&h->slots, q);
        if (s >= 0 && t != s)
            tee_fail(h, "slot map did not keep a reallocated block's slot");
        tee_write(h, PM_OP_REALLOC, t, n, 0);
    }
    return q;
}

static void tee_free(pm_heap_t *h, void *p)
{
    if (!p)
        return;
    int64_t s = pm_slotmap_take(&h->slots, p);
    h->ops->free(h->inner, p);
    if (s >= 0)
        tee_write(h, PM_OP_FREE, s, 0, 0);
}

static size_t tee_usable(pm_heap_t *h, void *p)
{
    return h->ops->usable_size ? h->ops->usable_size(h->inner, p) : 0;
}

static void tee_stats(pm_heap_t *h, struct pm_stats *out) { h->ops->stats(h->inner, out); }

static unsigned long tee_check(pm_heap_t *h, char msg[PM_ERR_LEN])
{
    msg[0] = 0;
    return h->ops->check ? h->ops->check(h->inner, msg) : 0;
}

static void tee_trim(pm_heap_t *h)
{
    if (h->ops->trim)
        h->ops->trim(h->inner);
}

static struct pm_os *tee_os(pm_heap_t *h) { return h->ops->os ? h->ops->os(h->inner) : NULL; }

static const struct allocator_ops tee_ops = {
    .name = "tee",
    .description = "records every request into a trace (wraps another backend)",
    .flags = PM_BACKEND_WRAPPER | PM_BACKEND_TEST_ONLY,
    .malloc = tee_malloc,
    .calloc = tee_calloc,
    .realloc = tee_realloc,
    .free = tee_free,
    .usable_size = tee_usable,
    .stats = tee_stats,
    .check = tee_check,
    .trim = tee_trim,
    .os = tee_os,
};

pm_heap_t *pm_tee_open(const struct allocator_ops *inner_ops, pm_heap_t *inner,
                       struct pm_trace_writer *w, enum pm_domain domain,
                       const struct allocator_ops **ops_out, char err[PM_ERR_LEN])
{
    pm_heap_t *h = calloc(1, sizeof *h);
    if (!h || pm_slotmap_init(&h->slots)) {
        free(h);
        snprintf(err, PM_ERR_LEN, "tee: out of memory");
        return NULL;
    }
    h->ops = inner_ops;
    h->inner = inner;
    h->w = w;
    h->domain = (uint8_t)domain;
    *ops_out = &tee_ops;
    return h;
}

void pm_tee_close(pm_heap_t *h)
{
    if (!h)
        return;
    pm_slotmap_destroy(&h->slots);
    free(h);
}

const char *pm_tee_error(const pm_heap_t *h) { return h->failed ? h->err : NULL; }
