/* workloads/trace/tracegen.c — generated traces: lifo, fifo, churn, growth,
 * survivors, adversary (documented with their options in docs/patterns.md;
 * the adversary's constructions and figures in docs/worst-cases.md).
 *
 * Every pattern is a function of its options and seed only (integer
 * arithmetic, our own PRNG: xoshiro256** seeded by splitmix64), so the same
 * options give a byte-identical file on any machine. Slots are handed out as
 * a recorder would: a freed slot is reused first (LIFO).
 *
 * Entry points: pm_tracegen, pm_tracegen_parse_sizes, pm_tracegen_patterns.
 */
#include "trace.h"
#include "pm_assert.h"
#include "pm_random.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const struct pm_tracegen_pattern pm_tracegen_patterns[] = {
    {"lifo", PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_SEED | PM_GEN_SIZES,
     "stack rounds: push a random number (1..live) of blocks, pop them in reverse"},
    {"fifo", PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_SEED | PM_GEN_SIZES,
     "a queue of live blocks: free the oldest, allocate a new one"},
    {"churn", PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_SEED | PM_GEN_SIZES | PM_GEN_REALLOC_FRAC,
     "random frees and allocs (and reallocs) around a steady live set, then free all"},
    {"growth", PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_SEED | PM_GEN_MAX_LEN,
     "lists growing by realloc with CPython's list over-allocation rule"},
    {"survivors", PM_GEN_LIVE | PM_GEN_SEED | PM_GEN_SIZES | PM_GEN_KEEP_EVERY | PM_GEN_AGAIN,
     "allocate N small blocks, free all but every k-th, optionally allocate again"},
    {"adversary", PM_GEN_AGAINST | PM_GEN_LIVE_MAX | PM_GEN_SIZES,
     "the worst-case construction against one backend (docs/worst-cases.md)"},
    {NULL, 0, NULL},
};

/* Requests per pymalloc size class (class i: 16i+1 .. 16i+16 bytes) made by
 * Debian's CPython 3.11.2 compiling the stdlib and running a mixed object
 * workload, counted by scripts/python-size-classes.sh (docs/patterns.md). */
static const uint32_t python_class_counts[32] = {
    895347, 2077105, 1734081, 4318480, 250083, 15110, 30146, 229894,
    2676,   315370,  45060,   17406,   114905, 72144, 2806,  5715,
    1958,   39262,   7972,    1512,    912,    895,   805,   745,
    5729,   971,     564,     642,     456,    417,   352,   4947,
};

/* ---- generator state ---- */

struct gen {
    struct pm_trace_writer *w;
    struct pm_rng rng;
    char *err;                  /* PM_ERR_LEN */
    const char *pattern;
    unsigned sizes;             /* enum pm_sizes_kind */
    uint64_t size_min, size_span;
    uint64_t cum[32], total;    /* python: cumulative class counts */
    uint32_t *free_slots;       /* LIFO stack of freed slots */
    size_t nfree, free_cap;
    uint64_t next_slot;         /* slots handed out ever */
};

static int gen_fail(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int gen_fail(struct gen *g, const char *fmt, ...)
{
    char problem[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    snprintf(g->err, PM_ERR_LEN, "gen %s: %s", g->pattern, problem);
    return -1;
}

static int emit(struct gen *g, unsigned kind, unsigned dom, uint32_t slot, uint64_t size)
{
    struct pm_trace_op op = {.kind = (uint8_t)kind, .domain = (uint8_t)dom, .slot = slot, .size = size};
    if (pm_trace_writer_op(g->w, &op)) {
        snprintf(g->err, PM_ERR_LEN, "%s", pm_trace_writer_error(g->w));
        return -1;
    }
    return 0;
}

static int emit_phase(struct gen *g, uint32_t n) { return emit(g, PM_OP_PHASE, 0, n, 0); }

static uint64_t size_pick(struct gen *g)
{
    if (g->sizes == PM_SIZES_UNIFORM)
        return g->size_min + pm_rng_below(&g->rng, g->size_span);
    uint64_t r = pm_rng_below(&g->rng, g->total);
    unsigned c = 0;
    while (r >= g->cum[c])
        c++;
    return 16 * (uint64_t)c + 1 + pm_rng_below(&g->rng, 16);
}

static int64_t slot_get(struct gen *g)
{
    if (g->nfree)
        return g->free_slots[--g->nfree];
    if (g->next_slot == g->free_cap) {   /* free_cap >= next_slot keeps slot_put infallible */
        size_t n = g->free_cap ? 2 * g->free_cap : 4096;
        uint32_t *f = realloc(g->free_slots, n * sizeof *f);
        if (!f)
            return -1;
        g->free_slots = f;
        g->free_cap = n;
    }
    return (int64_t)g->next_slot++;
}

static void slot_put(struct gen *g, uint32_t s)
{
    pm_assert(g->nfree < g->free_cap);
    g->free_slots[g->nfree++] = s;
}

static int alloc_new(struct gen *g, unsigned dom, uint64_t size, uint32_t *slot)
{
    int64_t s = slot_get(g);
    if (s < 0)
        return gen_fail(g, "out of memory");
    *slot = (uint32_t)s;
    return emit(g, PM_OP_ALLOC, dom, *slot, size);
}

static int free_slot(struct gen *g, unsigned dom, uint32_t s)
{
    slot_put(g, s);
    return emit(g, PM_OP_FREE, dom, s, 0);
}

static int meta_u64(struct gen *g, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return pm_trace_writer_meta(g->w, key, buf);
}

/* ---- patterns ---- */

static int gen_lifo(struct gen *g, const struct pm_tracegen_opts *o)
{
    uint64_t left = o->ops;
    while (left >= 2) {
        uint64_t d = 1 + pm_rng_below(&g->rng, o->live);
        if (d > left / 2)
            d = left / 2;
        for (uint64_t i = 0; i < d; i++)
            if (emit(g, PM_OP_ALLOC, 0, (uint32_t)i, size_pick(g)))
                return -1;
        for (uint64_t i = d; i-- > 0;)
            if (emit(g, PM_OP_FREE, 0, (uint32_t)i, 0))
                return -1;
        left -= 2 * d;
    }
    return 0;
}

static int gen_fifo(struct gen *g, const struct pm_tracegen_opts *o)
{
    uint64_t n = o->live;
    if (o->ops < 2 * n + 2)
        return gen_fail(g, "--ops %" PRIu64 " is too small for --live %" PRIu64 " (needs at least %" PRIu64 ")",
                        o->ops, n, 2 * n + 2);
    pm_trace_writer_meta(g->w, "phase.1", "queue full");
    pm_trace_writer_meta(g->w, "phase.2", "draining");
    for (uint64_t i = 0; i < n; i++)
        if (emit(g, PM_OP_ALLOC, 0, (uint32_t)i, size_pick(g)))
            return -1;
    if (emit_phase(g, 1))
        return -1;
    uint64_t steps = (o->ops - 2 * n - 2) / 2, head = 0;
    for (uint64_t k = 0; k < steps; k++) {
        if (emit(g, PM_OP_FREE, 0, (uint32_t)head, 0) || emit(g, PM_OP_ALLOC, 0, (uint32_t)head, size_pick(g)))
            return -1;
        head = head + 1 == n ? 0 : head + 1;
    }
    if (emit_phase(g, 2))
        return -1;
    for (uint64_t k = 0; k < n; k++) {
        if (emit(g, PM_OP_FREE, 0, (uint32_t)head, 0))
            return -1;
        head = head + 1 == n ? 0 : head + 1;
    }
    return 0;
}

/* The live set as a dense array (random choice in O(1)) with each slot's
 * position in it. */
struct liveset {
    uint32_t *slots;    /* n live slots */
    uint32_t *pos;      /* pos[slot]: index in slots */
    uint64_t n, cap;    /* cap covers every slot number handed out */
};

static int liveset_add(struct liveset *ls, uint32_t s)
{
    if (s >= ls->cap || ls->n >= ls->cap) {
        uint64_t c = ls->cap ? 2 * ls->cap : 4096;
        while (c <= s)
            c *= 2;
        uint32_t *a = realloc(ls->slots, c * sizeof *a);
        if (!a)
            return -1;
        ls->slots = a;
        uint32_t *b = realloc(ls->pos, c * sizeof *b);
        if (!b)
            return -1;
        ls->pos = b;
        ls->cap = c;
    }
    ls->pos[s] = (uint32_t)ls->n;
    ls->slots[ls->n++] = s;
    return 0;
}

static uint32_t liveset_remove_at(struct liveset *ls, uint64_t i)
{
    uint32_t s = ls->slots[i], last = ls->slots[--ls->n];
    ls->slots[i] = last;
    ls->pos[last] = (uint32_t)i;
    return s;
}

static int gen_churn(struct gen *g, const struct pm_tracegen_opts *o)
{
    uint64_t target = o->live, ops = o->ops;
    if (ops < 2 * target + 2)
        return gen_fail(g, "--ops %" PRIu64 " is too small for --live %" PRIu64 " (needs at least %" PRIu64 ")",
                        ops, target, 2 * target + 2);
    pm_trace_writer_meta(g->w, "phase.1", "live set full");
    pm_trace_writer_meta(g->w, "phase.2", "steady state done: draining");
    struct liveset ls = {0};
    int rc = -1;
    uint64_t emitted = 0;
    uint64_t thr = (uint64_t)(o->realloc_frac * 9007199254740992.0);   /* frac * 2^53 */
    for (uint64_t i = 0; i < target; i++) {
        uint32_t s = 0;
        if (alloc_new(g, 0, size_pick(g), &s) || liveset_add(&ls, s))
            goto out;
    }
    if (emit_phase(g, 1))
        goto out;
    emitted = target + 1;
    /* Budget b = ops - emitted - live - 1 (the final phase mark and one free
     * per live block still to come). A free keeps b, an alloc takes 2, a
     * realloc 1; at b == 1 only a realloc fits, and some block is then live
     * (b reaches 1 only through an alloc or a realloc), so the trace has
     * exactly `ops` ops. */
    for (;;) {
        uint64_t b = ops - emitted - ls.n - 1;
        if (b == 0)
            break;
        bool do_realloc = b == 1 || (ls.n && thr && (pm_rng_next(&g->rng) >> 11) < thr);
        if (do_realloc) {
            pm_assert(ls.n > 0);
            uint32_t s = ls.slots[pm_rng_below(&g->rng, ls.n)];
            if (emit(g, PM_OP_REALLOC, 0, s, size_pick(g)))
                goto out;
        } else if (pm_rng_below(&g->rng, 2 * target) < ls.n) {
            uint32_t s = liveset_remove_at(&ls, pm_rng_below(&g->rng, ls.n));
            if (free_slot(g, 0, s))
                goto out;
        } else {
            uint32_t s = 0;
            if (alloc_new(g, 0, size_pick(g), &s))
                goto out;
            if (liveset_add(&ls, s)) {
                gen_fail(g, "out of memory");
                goto out;
            }
        }
        emitted++;
    }
    if (emit_phase(g, 2))
        goto out;
    for (uint64_t i = 0; i < ls.n; i++)
        if (emit(g, PM_OP_FREE, 0, ls.slots[i], 0))
            goto out;
    rc = 0;
out:
    free(ls.slots);
    free(ls.pos);
    return rc;
}

/* CPython 3.9+ list_resize for an append to a list with `allocated` slots:
 * new_allocated = (newsize + (newsize >> 3) + 6) & ~3, newsize = allocated + 1. */
static uint64_t list_grow(uint64_t allocated)
{
    uint64_t newsize = allocated + 1;
    return (newsize + (newsize >> 3) + 6) & ~(uint64_t)3;
}

#define LIST_OBJECT_BYTES 56   /* PyListObject (40) + PyGC_Head (16), 64-bit 3.11 */
#define LIST_ITEM_BYTES 8      /* one PyObject * per allocated item */

struct list {
    uint32_t obj, items;  /* slots of the object and of its item array */
    bool has_items;       /* ob_item allocated (CPython leaves it NULL while empty) */
    uint64_t allocated;   /* items the array has room for */
    uint64_t target;      /* the length this list grows to */
};

/* Log-uniform by octave: an octave 2^k .. 2^(k+1)-1 (capped at max) uniformly,
 * then a length in it uniformly: integers only, so deterministic everywhere. */
static uint64_t list_target(struct gen *g, uint64_t max_len)
{
    unsigned octaves = 0;
    while (octaves < 63 && (UINT64_C(1) << octaves) <= max_len)
        octaves++;
    uint64_t lo = UINT64_C(1) << pm_rng_below(&g->rng, octaves);
    uint64_t hi = 2 * lo - 1 < max_len ? 2 * lo - 1 : max_len;
    return lo + pm_rng_below(&g->rng, hi - lo + 1);
}

static int list_create(struct gen *g, struct list *l, uint64_t max_len)
{
    l->has_items = false;
    l->allocated = 0;
    l->target = list_target(g, max_len);
    return alloc_new(g, PM_DOMAIN_OBJ, LIST_OBJECT_BYTES, &l->obj);
}

static int list_destroy(struct gen *g, struct list *l)
{
    if (l->has_items && free_slot(g, PM_DOMAIN_MEM, l->items))
        return -1;
    return free_slot(g, PM_DOMAIN_OBJ, l->obj);
}

static int list_append_resize(struct gen *g, struct list *l)
{
    l->allocated = list_grow(l->allocated);
    uint64_t bytes = l->allocated * LIST_ITEM_BYTES;
    if (!l->has_items) {
        l->has_items = true;
        return alloc_new(g, PM_DOMAIN_MEM, bytes, &l->items);
    }
    return emit(g, PM_OP_REALLOC, PM_DOMAIN_MEM, l->items, bytes);
}

static int gen_growth(struct gen *g, const struct pm_tracegen_opts *o)
{
    uint64_t n = o->live, ops = o->ops;
    if (ops < 2 * n + 2)
        return gen_fail(g, "--ops %" PRIu64 " is too small for --live %" PRIu64 " (needs at least %" PRIu64 ")",
                        ops, n, 2 * n + 2);
    pm_trace_writer_meta(g->w, "phase.1", "lists created");
    pm_trace_writer_meta(g->w, "phase.2", "draining");
    pm_trace_writer_meta(g->w, "pattern.rule", "items = (n + (n >> 3) + 6) & ~3 for n = allocated + 1");
    struct list *lists = calloc(n, sizeof *lists);
    if (!lists)
        return gen_fail(g, "out of memory for %" PRIu64 " lists", n);
    int rc = -1;
    for (uint64_t i = 0; i < n; i++)
        if (list_create(g, &lists[i], o->max_len))
            goto out;
    if (emit_phase(g, 1))
        goto out;
    uint64_t emitted = n + 1, drain = n, with_items = 0;
    /* Budget b = ops - emitted - drain - 1, drain = frees still owed (one per
     * list object and item array). A resize of an existing array takes 1, a
     * first item array 2, replacing a finished list 2. At b == 1 a resize of
     * some list with items (even past its target) fills the last op. */
    for (;;) {
        uint64_t b = ops - emitted - drain - 1;
        if (b == 0)
            break;
        uint64_t i = pm_rng_below(&g->rng, n);
        struct list *l = &lists[i];
        if (b == 1) {
            if (!with_items)
                break;   /* no 1-op step exists: the trace has ops - 1 ops */
            while (!lists[i].has_items)
                i = i + 1 == n ? 0 : i + 1;
            if (list_append_resize(g, &lists[i]))
                goto out;
            emitted++;
        } else if (l->allocated >= l->target) {
            uint64_t e = 2 + l->has_items;
            with_items -= l->has_items;
            drain -= l->has_items;
            if (list_destroy(g, l) || list_create(g, l, o->max_len))
                goto out;
            emitted += e;
        } else {
            bool first = !l->has_items;
            if (list_append_resize(g, l))
                goto out;
            emitted++;
            drain += first;
            with_items += first;
        }
    }
    if (emit_phase(g, 2))
        goto out;
    for (uint64_t i = 0; i < n; i++)
        if (list_destroy(g, &lists[i]))
            goto out;
    rc = 0;
out:
    free(lists);
    return rc;
}

static int gen_survivors(struct gen *g, const struct pm_tracegen_opts *o)
{
    uint64_t n = o->live, k = o->keep_every;
    pm_trace_writer_meta(g->w, "phase.1", "all blocks allocated");
    pm_trace_writer_meta(g->w, "phase.2", "all but every k-th block freed");
    if (o->again)
        pm_trace_writer_meta(g->w, "phase.3", "allocated again");
    for (uint64_t i = 0; i < n; i++) {
        uint32_t s = 0;
        if (alloc_new(g, 0, size_pick(g), &s))
            return -1;
    }
    if (emit_phase(g, 1))
        return -1;
    for (uint64_t i = 0; i < n; i++)
        if (i % k && free_slot(g, 0, (uint32_t)i))
            return -1;
    if (emit_phase(g, 2))
        return -1;
    for (uint64_t j = 0; j < o->again; j++) {
        uint32_t s = 0;
        if (alloc_new(g, 0, size_pick(g), &s))
            return -1;
    }
    if (o->again && emit_phase(g, 3))
        return -1;
    return 0;
}

/* ---- adversary (docs/worst-cases.md) ---- */

/* Geometry of the backends at their defaults, as docs/worst-cases.md uses
 * it. The figures derived from it are written into the trace's metadata;
 * tests/cli/worst.sh replays the trace and holds them against replay's. */
#define ADV_PY_POOL 16384u             /* pymalloc: pool bytes */
#define ADV_PY_POOL_HDR 48u            /* pool header */
#define ADV_PY_ARENA_MAP ((uint64_t)(1u << 20) + (1u << 20) / 128)   /* arena + bitmap */
#define ADV_PY_POOLS_MIN 63u           /* pools per arena when it is not pool-aligned */
#define ADV_BUDDY_REGION ((uint64_t)1 << 20)
#define ADV_BUDDY_META ((uint64_t)24576)   /* 3 bits per 16-byte granule, pages */
#define ADV_SEG_REGION ((uint64_t)1 << 20)
#define ADV_SEG_CAP (ADV_SEG_REGION - ADV_SEG_REGION / 32 - 48)   /* block bytes per region */
#define ADV_INF (UINT64_C(1) << 62)

struct adv_blk {
    uint64_t addr;       /* model address: pymalloc pool number; buddy byte offset;
                            segfit region << 32 | offset in its block area */
    uint32_t slot;
    uint32_t req;        /* bytes requested */
    uint32_t block;      /* bytes of the block it gets */
};

struct adv {
    struct gen *g;
    bool emit;           /* false: a dry run that only computes the figures */
    struct adv_blk *b;   /* live blocks, by ascending model address */
    size_t n, cap;
    uint64_t live, peak_live;
    uint64_t top;        /* buddy: next fresh byte; pymalloc: pools carved */
    uint64_t region, off;   /* segfit: current region, bytes used in it */
    uint32_t phases;
};

static int adv_alloc(struct adv *a, uint64_t req, uint64_t block, uint64_t addr)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 4096;
        struct adv_blk *b = realloc(a->b, cap * sizeof *b);
        if (!b)
            return gen_fail(a->g, "out of memory");
        a->b = b;
        a->cap = cap;
    }
    uint32_t slot = 0;
    if (a->emit) {
        if (alloc_new(a->g, 0, req, &slot))
            return -1;
    }
    a->b[a->n++] = (struct adv_blk){addr, slot, (uint32_t)req, (uint32_t)block};
    a->live += req;
    if (a->live > a->peak_live)
        a->peak_live = a->live;
    return 0;
}

/* Frees the blocks whose keep[] is false, keeping the others in order. */
static int adv_thin(struct adv *a, const bool *keep)
{
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (keep[i]) {
            a->b[j++] = a->b[i];
            continue;
        }
        a->live -= a->b[i].req;
        if (a->emit && free_slot(a->g, 0, a->b[i].slot))
            return -1;
    }
    a->n = j;
    a->phases++;
    return a->emit ? emit_phase(a->g, a->phases) : 0;
}

/* pymalloc: for each size class in turn, allocate as many blocks of the
 * smallest request of the class as the live bound allows (they fill fresh
 * pools: no pool of the class exists yet), then free all but the first
 * block of each pool. The pools stay pinned and only their class can use
 * their free blocks, so each class adds about max-live bytes of pools. */
static int adv_pymalloc(struct adv *a, uint64_t lo, uint64_t hi, uint64_t max_live, bool **keep)
{
    for (unsigned c = 0; c < 32; c++) {
        uint64_t block = 16 * (uint64_t)(c + 1), req = 16 * (uint64_t)c + 1;
        if (req < lo)
            req = lo;
        if (req > block)
            continue;
        if (req > hi)
            break;
        uint64_t per_pool = (ADV_PY_POOL - ADV_PY_POOL_HDR) / block, first = a->n;
        uint64_t count = (max_live - a->live) / req;
        for (uint64_t i = 0; i < count; i++)
            if (adv_alloc(a, req, block, a->top + i / per_pool))
                return -1;
        a->top += (count + per_pool - 1) / per_pool;
        bool *k = realloc(*keep, (a->n + 1) * sizeof **keep);
        if (!k)
            return gen_fail(a->g, "out of memory");
        *keep = k;
        for (size_t i = 0; i < a->n; i++)
            k[i] = i < first || (i - first) % per_pool == 0;
        if (adv_thin(a, k))
            return -1;
    }
    /* then one block in every 32nd pool: each arena (63 or 64 pools) keeps
     * one, so every arena stays mapped (the retention figure) */
    for (size_t i = 0; i < a->n; i++)
        (*keep)[i] = a->b[i].addr % 32 == 0;
    return adv_thin(a, *keep);
}

/* buddy and segfit: Robson's ladder. Phase k allocates blocks of size B_k
 * (B_0 the smallest, doubling) with the smallest request that gets such a
 * block, as many as the live bound allows; they go to fresh memory, as no
 * free block of B_k or more exists in the memory used so far. Then as many
 * blocks as possible are freed (the old ones too) such that still no free
 * block of B_{k+1} can form there: buddy keeps the first live block of
 * each aligned window of B_{k+1} bytes, segfit keeps a block only where
 * freeing it would leave a hole of B_{k+1} or more (coalescing is
 * immediate, so a hole is all the bytes between two live blocks). */
static uint64_t adv_segfit_block(uint64_t req)
{
    uint64_t b = (req + 8 + 15) & ~(uint64_t)15;
    return b < 32 ? 32 : b;
}

static int adv_ladder(struct adv *a, bool buddy, uint64_t lo, uint64_t hi, uint64_t max_live, bool **keep)
{
    uint64_t B[40], R[40];
    unsigned levels = 0;
    for (unsigned k = 0; k < 30 && levels < 40; k++) {
        uint64_t blk = (buddy ? 16 : 32) << k, req;
        if (buddy)
            req = k == 0 ? lo : (blk / 2 + 1 > lo ? blk / 2 + 1 : lo);
        else
            req = k == 0 ? lo : (blk - 23 > lo ? blk - 23 : lo);
        if (req > hi)
            break;
        bool fits = buddy ? req <= blk && (blk == 16 || req > blk / 2) : adv_segfit_block(req) == blk;
        if (!fits || req == 0)
            continue;
        B[levels] = blk;
        R[levels++] = req;
    }
    if (!levels)
        return gen_fail(a->g, "no block size of %s fits --sizes %" PRIu64 "-%" PRIu64,
                        buddy ? "buddy" : "segfit", lo, hi);
    for (unsigned k = 0; k <= levels; k++) {
        if (k < levels) {
            uint64_t count = (max_live - a->live) / R[k];
            if (buddy)
                a->top = (a->top + B[k] - 1) & ~(B[k] - 1);
            for (uint64_t i = 0; i < count; i++) {
                uint64_t addr;
                if (buddy) {
                    addr = a->top;
                    a->top += B[k];
                } else {
                    if (a->off + B[k] > ADV_SEG_CAP) {
                        a->region++;
                        a->off = 0;
                    }
                    addr = a->region << 32 | a->off;
                    a->off += B[k];
                }
                if (adv_alloc(a, R[k], B[k], addr))
                    return -1;
            }
        }
        bool *kp = realloc(*keep, (a->n + 1) * sizeof **keep);
        if (!kp)
            return gen_fail(a->g, "out of memory");
        *keep = kp;
        /* after the last phase: one block per region, so every region
         * stays mapped (the retention figure) */
        bool last = k == levels;
        uint64_t w = last ? (buddy ? ADV_BUDDY_REGION : UINT64_C(1) << 32) : B[k + 1 < levels ? k + 1 : k] * (k + 1 < levels ? 1 : 2);
        uint64_t kept_win = UINT64_MAX, kept_end = 0, kept_region = UINT64_MAX;
        for (size_t i = 0; i < a->n; i++) {
            const struct adv_blk *b = &a->b[i];
            if (buddy || last) {
                uint64_t win = b->addr / w;
                kp[i] = win != kept_win;
                if (kp[i])
                    kept_win = win;
                continue;
            }
            uint64_t rg = b->addr >> 32, o = b->addr & 0xffffffffu;
            uint64_t prev_end = rg == kept_region ? kept_end : 0;
            uint64_t next = i + 1 < a->n && (a->b[i + 1].addr >> 32) == rg ? a->b[i + 1].addr & 0xffffffffu
                            : rg < a->region                             ? ADV_SEG_CAP
                                                                         : ADV_INF;
            kp[i] = next - prev_end >= w;
            if (kp[i]) {
                kept_region = rg;
                kept_end = o + b->block;
            }
        }
        if (adv_thin(a, kp))
            return -1;
    }
    return 0;
}

static int gen_adversary(struct gen *g, const struct pm_tracegen_opts *o)
{
    bool py = !strcmp(o->against, "pymalloc"), buddy = !strcmp(o->against, "buddy");
    if (!py && !buddy && strcmp(o->against, "segfit"))
        return gen_fail(g, "--against %s: known are pymalloc, segfit, buddy", o->against);
    if (o->sizes != PM_SIZES_UNIFORM)
        return gen_fail(g, "needs --sizes uniform:MIN-MAX (the size range the adversary may use)");
    uint64_t lo = o->size_min ? o->size_min : 1, hi = o->size_max, max_live = o->live_max;
    struct adv a = {0};
    bool *keep = NULL;
    int rc = 0;
    uint64_t mapped = 0;
    /* a dry run for the figures (metadata precedes the ops), then the trace */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        free(a.b);
        a = (struct adv){.g = g, .emit = pass == 1};
        rc = py ? adv_pymalloc(&a, lo, hi, max_live, &keep) : adv_ladder(&a, buddy, lo, hi, max_live, &keep);
        if (rc || pass == 1)
            break;
        if (py)
            mapped = (a.top + ADV_PY_POOLS_MIN - 1) / ADV_PY_POOLS_MIN * ADV_PY_ARENA_MAP;
        else if (buddy)
            mapped = (a.top + ADV_BUDDY_REGION - 1) / ADV_BUDDY_REGION * (ADV_BUDDY_REGION + ADV_BUDDY_META);
        else
            mapped = (a.region + 1) * ADV_SEG_REGION;
        if (!a.peak_live) {
            rc = gen_fail(g, "--live-max %" PRIu64 " is below the smallest request", max_live);
            break;
        }
        char buf[64];
        pm_trace_writer_meta(g->w, "adversary.against", o->against);
        meta_u64(g, "adversary.derived_peak_mapped", mapped);
        meta_u64(g, "adversary.derived_peak_live", a.peak_live);
        meta_u64(g, "adversary.derived_final_live", a.live);
        snprintf(buf, sizeof buf, "%.4f", (double)mapped / (double)a.peak_live);
        pm_trace_writer_meta(g->w, "adversary.derived_frag", buf);
        snprintf(buf, sizeof buf, "%.4f", (double)(mapped - a.live) / (double)a.peak_live);
        pm_trace_writer_meta(g->w, "adversary.derived_retention", buf);
        /* Robson (1974) for sizes lo..hi (n = hi / lo units) and this peak live */
        double n = (double)hi / (double)lo, m = (double)a.peak_live / (double)lo;
        snprintf(buf, sizeof buf, "%.4f", (m * (log2(n) / 2 + 1) - n + 1) / m);
        pm_trace_writer_meta(g->w, "adversary.robson_ratio", buf);
        meta_u64(g, "adversary.phases", a.phases);
    }
    free(a.b);
    free(keep);
    return rc;
}

/* ---- entry ---- */

bool pm_tracegen_parse_sizes(const char *s, struct pm_tracegen_opts *o)
{
    if (!strcmp(s, "python")) {
        o->sizes = PM_SIZES_PYTHON;
        return true;
    }
    if (strncmp(s, "uniform:", 8))
        return false;
    s += 8;
    const char *dash = strchr(s, '-');
    uint64_t lo, hi;
    if (!dash || !pm_parse_size(s, (size_t)(dash - s), &lo) || !pm_parse_size(dash + 1, strlen(dash + 1), &hi))
        return false;
    o->sizes = PM_SIZES_UNIFORM;
    o->size_min = lo;
    o->size_max = hi;
    return true;
}

static const char *option_name(unsigned bit)
{
    switch (bit) {
    case PM_GEN_OPS: return "--ops";
    case PM_GEN_LIVE: return "--live";
    case PM_GEN_SEED: return "--seed";
    case PM_GEN_SIZES: return "--sizes";
    case PM_GEN_KEEP_EVERY: return "--keep-every";
    case PM_GEN_REALLOC_FRAC: return "--realloc-frac";
    case PM_GEN_AGAIN: return "--again";
    case PM_GEN_MAX_LEN: return "--max-len";
    case PM_GEN_AGAINST: return "--against";
    case PM_GEN_LIVE_MAX: return "--live-max";
    default: return "?";
    }
}

/* The pattern's defaults applied to what was not given, and every parameter
 * rule checked (range and ops-for-live): what pm_tracegen_check promises and
 * pm_tracegen relies on. err: "gen PATTERN: problem". */
static int tracegen_resolve(const char *pattern, const struct pm_tracegen_opts *given,
                            struct pm_tracegen_opts *out, char err[PM_ERR_LEN])
{
    const struct pm_tracegen_pattern *pat = pm_tracegen_patterns;
    while (pat->name && strcmp(pat->name, pattern))
        pat++;
    if (!pat->name) {
        snprintf(err, PM_ERR_LEN, "gen: unknown pattern '%.64s' (known: lifo, fifo, churn, growth, survivors, adversary)",
                 pattern);
        return -1;
    }
    for (unsigned bit = 1; bit <= PM_GEN_LIVE_MAX; bit <<= 1)
        if ((given->set & bit) && !(pat->takes & bit)) {
            snprintf(err, PM_ERR_LEN, "gen %s: %s does not apply to this pattern (see docs/patterns.md)",
                     pat->name, option_name(bit));
            return -1;
        }
    /* defaults for what was not given */
    struct pm_tracegen_opts o = *given;
    bool is_lifo = !strcmp(pattern, "lifo"), is_growth = !strcmp(pattern, "growth"),
         is_surv = !strcmp(pattern, "survivors"), is_adv = !strcmp(pattern, "adversary");
    if (is_adv && !(given->set & PM_GEN_AGAINST)) {
        snprintf(err, PM_ERR_LEN, "gen adversary: --against pymalloc|segfit|buddy is required");
        return -1;
    }
    if (!(o.set & PM_GEN_OPS))
        o.ops = 20000000;
    if (!(o.set & PM_GEN_LIVE))
        o.live = is_lifo || is_growth ? 1000 : is_surv ? 1000000 : 100000;
    if (!(o.set & PM_GEN_SEED))
        o.seed = 42;
    if (!(o.set & PM_GEN_SIZES)) {
        o.sizes = is_adv ? PM_SIZES_UNIFORM : PM_SIZES_PYTHON;
        o.size_min = 16;        /* adversary: the range fuzz_frag searches */
        o.size_max = 16384;
    }
    if (!(o.set & PM_GEN_LIVE_MAX))
        o.live_max = (uint64_t)8 << 20;
    if (!(o.set & PM_GEN_KEEP_EVERY))
        o.keep_every = 100;
    if (!(o.set & PM_GEN_AGAIN))
        o.again = 0;
    if (!(o.set & PM_GEN_REALLOC_FRAC))
        o.realloc_frac = 0;
    if (!(o.set & PM_GEN_MAX_LEN))
        o.max_len = 10000;

    struct gen g = {.err = err, .pattern = pat->name};
    if (o.live < 1 || o.live > (UINT64_C(1) << 31))
        return gen_fail(&g, "--live %" PRIu64 " is outside 1..2^31", o.live);
    if (o.sizes == PM_SIZES_UNIFORM && (o.size_min > o.size_max || o.size_max > PM_TRACE_MAX_SIZE))
        return gen_fail(&g, "--sizes uniform:%" PRIu64 "-%" PRIu64 " needs MIN <= MAX < 2^40", o.size_min,
                        o.size_max);
    if (o.keep_every < 1 || !(o.realloc_frac >= 0 && o.realloc_frac <= 1) || o.max_len < 1 ||
        o.max_len > (UINT64_C(1) << 32) || o.again > (UINT64_C(1) << 31))
        return gen_fail(&g, "--keep-every >= 1, --realloc-frac in 0..1, --max-len in 1..2^32, --again <= 2^31");
    /* fifo, churn and growth fill their live set, then drain it */
    if ((!strcmp(pattern, "fifo") || !strcmp(pattern, "churn") || is_growth) && o.ops < 2 * o.live + 2)
        return gen_fail(&g, "--ops %" PRIu64 " is too small for --live %" PRIu64 " (needs at least %" PRIu64 ")",
                        o.ops, o.live, 2 * o.live + 2);
    *out = o;
    return 0;
}

int pm_tracegen_check(const char *pattern, const struct pm_tracegen_opts *o, char err[PM_ERR_LEN])
{
    struct pm_tracegen_opts resolved;
    return tracegen_resolve(pattern, o, &resolved, err);
}

int pm_tracegen(const char *pattern, const struct pm_tracegen_opts *given, struct pm_trace_writer *w,
                char err[PM_ERR_LEN])
{
    struct pm_tracegen_opts o;
    if (tracegen_resolve(pattern, given, &o, err))
        return -1;
    const struct pm_tracegen_pattern *pat = pm_tracegen_patterns;
    while (strcmp(pat->name, pattern))
        pat++;
    bool is_lifo = !strcmp(pattern, "lifo"), is_growth = !strcmp(pattern, "growth"),
         is_adv = !strcmp(pattern, "adversary");
    struct gen g = {.w = w, .err = err, .pattern = pattern, .sizes = o.sizes};
    g.size_min = o.size_min;
    g.size_span = o.size_max - o.size_min + 1;
    for (unsigned c = 0; c < 32; c++) {
        g.total += python_class_counts[c];
        g.cum[c] = g.total;
    }
    pm_rng_seed(&g.rng, o.seed);

    /* metadata: the pattern and every option that shapes it */
    char buf[96];
    pm_trace_writer_meta(w, "generator", "pymemlab trace gen");
    pm_trace_writer_meta(w, "pattern", pattern);
    if (pat->takes & PM_GEN_OPS)
        meta_u64(&g, "ops", o.ops);
    if (is_adv) {
        meta_u64(&g, "live_max", o.live_max);
    } else {
        meta_u64(&g, "live", o.live);
        meta_u64(&g, "seed", o.seed);
    }
    if (pat->takes & PM_GEN_SIZES) {
        if (o.sizes == PM_SIZES_UNIFORM)
            snprintf(buf, sizeof buf, "uniform:%" PRIu64 "-%" PRIu64, o.size_min, o.size_max);
        else
            snprintf(buf, sizeof buf, "python");
        pm_trace_writer_meta(w, "sizes", buf);
    }
    if (pat->takes & PM_GEN_REALLOC_FRAC) {
        snprintf(buf, sizeof buf, "%.17g", o.realloc_frac);
        pm_trace_writer_meta(w, "realloc_frac", buf);
    }
    if (pat->takes & PM_GEN_MAX_LEN)
        meta_u64(&g, "max_len", o.max_len);
    if (pat->takes & PM_GEN_KEEP_EVERY) {
        meta_u64(&g, "keep_every", o.keep_every);
        meta_u64(&g, "again", o.again);
    }
    if (pm_trace_writer_error(w)) {
        snprintf(err, PM_ERR_LEN, "%s", pm_trace_writer_error(w));
        return -1;
    }
    int rc = is_lifo                       ? gen_lifo(&g, &o)
             : !strcmp(pattern, "fifo")    ? gen_fifo(&g, &o)
             : !strcmp(pattern, "churn")   ? gen_churn(&g, &o)
             : is_growth                   ? gen_growth(&g, &o)
             : is_adv                      ? gen_adversary(&g, &o)
                                           : gen_survivors(&g, &o);
    free(g.free_slots);
    if (!rc && pm_trace_writer_error(w)) {   /* e.g. a phase label the writer refused */
        snprintf(err, PM_ERR_LEN, "%s", pm_trace_writer_error(w));
        rc = -1;
    }
    return rc;
}
