/* workloads/trace/tracestats.c — trace statistics (definitions in tracestats.h).
 *
 * One streaming pass computes everything but the lifetime quantiles, and a
 * log-linear histogram of lifetimes per group (exact below 128 ops, 64
 * buckets per power of two above). A quantile whose bucket is wider than one
 * value is then narrowed by refining passes, each splitting the bucket in
 * REFINE_SPLIT and counting only the lifetimes that fall in it, until it is
 * one value wide: at most 4 more passes for any trace (bucket widths are
 * powers of two up to 2^57), usually none or one.
 *
 * Entry point: pm_trace_stats.
 */
#include "tracestats.h"

#include <inttypes.h>
#include <stdlib.h>

#define HIST_EXACT 128                               /* lifetimes below: one bucket each */
#define HIST_SUB 64                                  /* buckets per power of two above */
#define HIST_BUCKETS (HIST_EXACT + (64 - 7) * HIST_SUB)
#define REFINE_SPLIT 4096
#define NQ 3                                         /* p50, p90, p99 */
_Static_assert(HIST_EXACT == 2 * HIST_SUB, "bucket arithmetic below assumes 2^7 and 2^6");

static const unsigned q_pct[NQ] = {50, 90, 99};

static unsigned hist_bucket(uint64_t v)
{
    if (v < HIST_EXACT)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);   /* >= 7 */
    return HIST_EXACT + (e - 7) * HIST_SUB + (unsigned)((v >> (e - 6)) & (HIST_SUB - 1));
}

/* First value and width (a power of two) of bucket b. */
static void hist_range(unsigned b, uint64_t *lo, uint64_t *width)
{
    if (b < HIST_EXACT) {
        *lo = b;
        *width = 1;
        return;
    }
    unsigned e = (b - HIST_EXACT) / HIST_SUB + 7, sub = (b - HIST_EXACT) % HIST_SUB;
    *lo = (uint64_t)(HIST_SUB + sub) << (e - 6);
    *width = UINT64_C(1) << (e - 6);
}

/* One quantile being narrowed: the value of rank `rank` (1-based) among
 * the group's lifetimes in [lo, lo + width). */
struct target {
    unsigned group, q;
    uint64_t lo, width, rank;
    uint64_t *counts;            /* REFINE_SPLIT sub-buckets of width / REFINE_SPLIT (at least 1) */
};

struct walk {
    uint64_t *born;              /* op (1-based) that allocated the slot's block; 0: slot free */
    uint64_t *size;              /* the block's bytes */
    uint8_t *cls;                /* the allocating request's class */
    uint64_t cap;                /* entries in the arrays */
    uint64_t (*hist)[HIST_BUCKETS];   /* [group][bucket], first pass only */
    struct target *tg;           /* refining passes: the open targets */
    unsigned ntg;
};

static int cover(struct walk *w, uint64_t slot, char err[PM_ERR_LEN])
{
    if (slot < w->cap)
        return 0;
    uint64_t cap = w->cap ? w->cap : 1024;
    while (cap <= slot)
        cap *= 2;
    uint64_t *b = realloc(w->born, cap * sizeof *b);
    if (b)
        w->born = b;
    uint64_t *z = b ? realloc(w->size, cap * sizeof *z) : NULL;
    if (z)
        w->size = z;
    uint8_t *c = z ? realloc(w->cls, cap) : NULL;
    if (!c) {
        snprintf(err, PM_ERR_LEN, "out of memory for a table of %" PRIu64 " slots", cap);
        return -1;
    }
    w->cls = c;
    memset(w->born + w->cap, 0, (cap - w->cap) * sizeof *w->born);
    memset(w->size + w->cap, 0, (cap - w->cap) * sizeof *w->size);
    memset(w->cls + w->cap, 0, cap - w->cap);
    w->cap = cap;
    return 0;
}

static inline uint64_t req_bytes(const struct pm_trace_op *op)
{
    return op->kind == PM_OP_CALLOC ? op->size * op->arg : op->size;
}

/* A freed block's lifetime v in group g (class + 1). */
static inline void lifetime(struct walk *w, struct pm_trace_stats *s, bool first, unsigned g, uint64_t v)
{
    if (first) {
        unsigned b = hist_bucket(v);
        w->hist[0][b]++;
        w->hist[g][b]++;
        for (unsigned i = 0; i < 2; i++) {
            struct pm_lifetimes *l = &s->life[i ? g : 0];
            l->count++;
            if (v > l->max)
                l->max = v;
        }
        return;
    }
    for (unsigned i = 0; i < w->ntg; i++) {
        struct target *t = &w->tg[i];
        if ((t->group == 0 || t->group == g) && v >= t->lo && v - t->lo < t->width) {
            uint64_t step = t->width / REFINE_SPLIT ? t->width / REFINE_SPLIT : 1;
            t->counts[(v - t->lo) / step]++;
        }
    }
}

/* One pass over the trace. The first computes everything; the others only
 * count lifetimes for the open targets. */
static int walk_pass(struct pm_trace *t, bool lenient, bool first, struct walk *w, struct pm_trace_stats *s,
                     char err[PM_ERR_LEN])
{
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    uint64_t k = 0, live = 0, blocks = 0;
    uint64_t small_any = 0, small_any_bytes = 0, small_pm = 0, small_pm_bytes = 0;
    if (w->cap) {
        memset(w->born, 0, w->cap * sizeof *w->born);
        memset(w->size, 0, w->cap * sizeof *w->size);
    }
    int r = lenient ? pm_trace_cursor_init_lenient(&c, t) : pm_trace_cursor_init(&c, t);
    while (r == 0 && (r = pm_trace_next(&c, &op)) == 1) {
        r = 0;
        if (op.kind == PM_OP_PHASE) {
            s->phases += first;
            continue;
        }
        k++;
        if (cover(w, op.slot, err))
            return -1;
        uint64_t n = req_bytes(&op);
        unsigned cl = pm_stats_class(n);
        if (op.kind == PM_OP_FREE) {
            lifetime(w, s, first, 1u + w->cls[op.slot], k - w->born[op.slot]);
            w->born[op.slot] = 0;
            live -= w->size[op.slot];
            blocks--;
        } else if (op.kind == PM_OP_REALLOC) {
            uint64_t old = w->size[op.slot];
            live = live - old + n;
            w->size[op.slot] = n;
            if (first) {
                s->realloc_grow += n > old;
                s->realloc_shrink += n < old;
                s->realloc_same += n == old;
                s->class_reallocs[cl]++;
            }
        } else {   /* ALLOC, CALLOC, ALIGNED */
            w->born[op.slot] = k;
            w->size[op.slot] = n;
            w->cls[op.slot] = (uint8_t)cl;
            live += n;
            blocks++;
            if (first) {
                s->class_allocs[cl]++;
                s->class_bytes[cl] += n;
            }
        }
        if (!first)
            continue;
        s->kind_domain[op.kind][op.domain]++;
        s->tagged |= op.domain != PM_DOMAIN_NONE;
        if (op.kind != PM_OP_FREE) {
            s->requests++;
            s->requested_bytes += n;
            if (op.kind != PM_OP_ALIGNED && n >= 1 && n <= 512) {
                small_any++;
                small_any_bytes += n;
                if (op.domain == PM_DOMAIN_OBJ || op.domain == PM_DOMAIN_MEM) {
                    small_pm++;
                    small_pm_bytes += n;
                }
            }
        }
        if (live > s->peak_live_bytes) {
            s->peak_live_bytes = live;
            s->peak_live_bytes_op = k;
        }
        if (blocks > s->peak_live_blocks) {
            s->peak_live_blocks = blocks;
            s->peak_live_blocks_op = k;
        }
    }
    if (r < 0) {
        snprintf(err, PM_ERR_LEN, "%s", c.err);
        return -1;
    }
    if (first) {
        s->ops = k;
        s->final_live_bytes = live;
        s->final_live_blocks = blocks;
        s->pymalloc_requests = s->tagged ? small_pm : small_any;
        s->pymalloc_bytes = s->tagged ? small_pm_bytes : small_any_bytes;
        s->finished = pm_trace_finished(t);
        s->dropped_bytes = c.dropped_bytes;
        s->missing_ops = c.missing_ops;
        for (uint64_t i = 0; i < w->cap; i++)
            if (w->born[i]) {
                s->live_at_end[0]++;
                s->live_at_end[1 + w->cls[i]]++;
            }
    }
    s->passes++;
    return 0;
}

static uint64_t *q_slot(struct pm_lifetimes *l, unsigned q)
{
    return q == 0 ? &l->p50 : q == 1 ? &l->p90 : &l->p99;
}

int pm_trace_stats(struct pm_trace *t, bool lenient, struct pm_trace_stats *s, char err[PM_ERR_LEN])
{
    memset(s, 0, sizeof *s);
    struct walk w = {0};
    int rc = -1;
    w.hist = calloc(PM_STATS_GROUPS, sizeof *w.hist);
    w.tg = calloc(PM_STATS_GROUPS * NQ, sizeof *w.tg);
    if (!w.hist || !w.tg) {
        snprintf(err, PM_ERR_LEN, "out of memory for the lifetime histograms");
        goto out;
    }
    if (walk_pass(t, lenient, true, &w, s, err))
        goto out;
    /* Locate each quantile's bucket; those wider than one value stay open. */
    for (unsigned g = 0; g < PM_STATS_GROUPS; g++) {
        uint64_t n = s->life[g].count;
        if (n == 0)
            continue;
        for (unsigned q = 0; q < NQ; q++) {
            uint64_t rank = (n * q_pct[q] + 99) / 100, cum = 0;
            unsigned b = 0;
            while (b < HIST_BUCKETS - 1 && cum + w.hist[g][b] < rank)
                cum += w.hist[g][b++];
            struct target tg = {.group = g, .q = q, .rank = rank - cum};
            hist_range(b, &tg.lo, &tg.width);
            if (tg.width == 1) {
                *q_slot(&s->life[g], q) = tg.lo;
                continue;
            }
            tg.counts = calloc(REFINE_SPLIT, sizeof *tg.counts);
            if (!tg.counts) {
                snprintf(err, PM_ERR_LEN, "out of memory for the lifetime quantiles");
                goto out;
            }
            w.tg[w.ntg++] = tg;
        }
    }
    while (w.ntg) {
        if (walk_pass(t, lenient, false, &w, s, err))
            goto out;
        unsigned open = 0;
        for (unsigned i = 0; i < w.ntg; i++) {
            struct target *tg = &w.tg[i];
            uint64_t step = tg->width / REFINE_SPLIT ? tg->width / REFINE_SPLIT : 1, cum = 0;
            unsigned b = 0;
            while (b < REFINE_SPLIT - 1 && cum + tg->counts[b] < tg->rank)
                cum += tg->counts[b++];
            tg->lo += b * step;
            tg->width = step;
            tg->rank -= cum;
            if (step == 1) {
                *q_slot(&s->life[tg->group], tg->q) = tg->lo;
                free(tg->counts);
            } else {
                memset(tg->counts, 0, REFINE_SPLIT * sizeof *tg->counts);
                w.tg[open++] = *tg;
            }
        }
        w.ntg = open;
    }
    rc = 0;
out:
    for (unsigned i = 0; w.tg && i < w.ntg; i++)
        free(w.tg[i].counts);
    free(w.tg);
    free(w.hist);
    free(w.born);
    free(w.size);
    free(w.cls);
    return rc;
}
