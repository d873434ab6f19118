/* harness/replay.c — the replay loop. See replay.h for entry points.
 *
 * One loop body serves both kinds of run; `measure` is a compile-time
 * constant in each caller, so the timed run carries no sampling, live-byte
 * bookkeeping, latency or check() branches.
 *
 * Latency (measured run, opts.latency_every = N): one op in N on average
 * (latency.h) is timed around the allocator call alone — not the decoding,
 * not the write replay makes into a new block (--touch) — and counted in a
 * histogram allocated before the footprint baseline.
 *
 * Aligned ops: the interface has no aligned allocation, so replay emulates
 * it the way a C program over plain malloc would: allocate size + alignment,
 * use the first aligned address inside, free the base. This is counted in
 * the time and the footprint of every backend alike.
 */
#include "replay.h"
#include "metrics.h"
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The slot table: base[s] is the pointer the backend returned for slot s
 * (what free takes), size[s] its requested bytes (sampled runs only, for
 * L(t)). Split so that a timed run touches 8 bytes per slot. */
struct slots {
    char **base;
    uint64_t *size;    /* NULL in timed runs */
    uint64_t n;
};

/* The trace is decoded in chunks of PM_REPLAY_CHUNK ops into a buffer, and
 * only the execution of each chunk is timed: decoding and validating costs
 * about 4.7 ns/op (`pymemlab trace bench`), which no allocator does, so it
 * is kept out of ns_per_op (the clock is read twice per chunk: ~0.02 ns/op).
 * A chunk (1020 ops of 24 bytes) fits the level-1 data cache with room to
 * spare, so executing it reads back what decoding just wrote (a 2048-op
 * chunk did not: 48 KiB). Within a chunk the slot entry of the op PM_REPLAY_PREFETCH ahead is
 * prefetched: a trace names its victims at random among many live slots,
 * and without this the slot-table misses dominated the cost the loop adds
 * to every backend (measured: 63% of the null backend's time on a 100k-live
 * churn). */
#define PM_REPLAY_CHUNK 1020
#define PM_REPLAY_PREFETCH 16

bool pm_replay_parse_domains(const char *s, unsigned *mask)
{
    if (!strcmp(s, "all"))
        *mask = 0;
    else if (!strcmp(s, "obj"))
        *mask = 1u << PM_DOMAIN_OBJ;
    else if (!strcmp(s, "mem"))
        *mask = 1u << PM_DOMAIN_MEM;
    else if (!strcmp(s, "raw"))
        *mask = 1u << PM_DOMAIN_RAW;
    else if (!strcmp(s, "pymalloc"))
        *mask = (1u << PM_DOMAIN_OBJ) | (1u << PM_DOMAIN_MEM);
    else
        return false;
    return true;
}

static inline bool domain_wanted(unsigned mask, unsigned d)
{
    return mask == 0 || (mask >> d) & 1u;
}

static inline uint64_t op_bytes(const struct pm_trace_op *op)
{
    return op->kind == PM_OP_CALLOC ? op->size * op->arg : op->size;
}

static int replay_scan(struct pm_trace *t, unsigned domains, bool lenient, struct pm_replay_scan *out,
                       char err[PM_ERR_LEN])
{
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    /* The size table grows with the highest slot seen, not with the header's
     * slot count: the header is only confirmed at the end of the stream, and
     * a corrupt one must not make us allocate for 2^32 slots. */
    uint64_t cap = 0, *size = NULL;
    memset(out, 0, sizeof *out);
    uint64_t live = 0;
    int r = (lenient ? pm_trace_cursor_init_lenient(&c, t) : pm_trace_cursor_init(&c, t)) ? -1 : 1;
    while (r > 0 && (r = pm_trace_next(&c, &op)) > 0) {
        if (op.kind == PM_OP_PHASE || !domain_wanted(domains, op.domain))
            continue;
        if (op.slot >= cap) {
            uint64_t ncap = cap ? cap : 1024;
            while (ncap <= op.slot)
                ncap *= 2;
            uint64_t *ns = realloc(size, ncap * sizeof *ns);
            if (!ns) {
                free(size);
                snprintf(err, PM_ERR_LEN, "cannot allocate a table of %llu slots",
                         (unsigned long long)ncap);
                return -1;
            }
            memset(ns + cap, 0, (ncap - cap) * sizeof *ns);
            size = ns;
            cap = ncap;
        }
        out->ops++;
        switch (op.kind) {
        case PM_OP_FREE:
            live -= size[op.slot];
            size[op.slot] = 0;
            break;
        case PM_OP_REALLOC:
            live -= size[op.slot];
            /* fall through */
        default:
            size[op.slot] = op_bytes(&op);
            live += size[op.slot];
            break;
        }
        if (live > out->peak_live_bytes) {
            out->peak_live_bytes = live;
            out->peak_live_op = out->ops;
        }
    }
    free(size);
    out->final_live_bytes = live;
    if (r < 0) {
        snprintf(err, PM_ERR_LEN, "%s", c.err);
        return -1;
    }
    return 0;
}

int pm_replay_scan(struct pm_trace *t, unsigned domains, struct pm_replay_scan *out,
                   char err[PM_ERR_LEN])
{
    return replay_scan(t, domains, false, out, err);
}

int pm_replay_scan_lenient(struct pm_trace *t, unsigned domains, struct pm_replay_scan *out,
                           char err[PM_ERR_LEN])
{
    return replay_scan(t, domains, true, out, err);
}

static inline void touch(char *p, uint64_t n, enum pm_touch how)
{
    if (how == PM_TOUCH_NONE || n == 0)
        return;
    if (how == PM_TOUCH_FULL) {
        memset(p, 0xA5, n);
        return;
    }
    for (uint64_t i = 0; i < n; i += 4096)
        p[i] = 1;
    p[n - 1] = 1;
}

struct sampler {
    FILE *series;
    uint64_t baseline;
    struct pm_replay_result *r;
    struct pm_os *os;           /* NULL for reference backends */
    struct pm_lat *lat;         /* per-op latency sampler, NULL: off */
};

static void sample(struct sampler *s, uint64_t opno, uint64_t live)
{
    uint64_t rss = pm_rss_anon_bytes();
    uint64_t f = rss > s->baseline ? rss - s->baseline : 0;
    struct pm_replay_result *r = s->r;
    r->samples++;
    if (f > r->peak_footprint_bytes || r->samples == 1) {
        r->peak_footprint_bytes = f;
        r->peak_footprint_op = opno;
        r->live_at_peak_footprint = live;
    }
    if (opno == r->scan.peak_live_op)
        r->footprint_at_peak_live = f;
    r->final_footprint_bytes = f;
    if (s->series)
        fprintf(s->series, "%llu,%llu,%llu,%lld\n", (unsigned long long)opno,
                (unsigned long long)live, (unsigned long long)f,
                s->os ? (long long)s->os->mapped : -1LL);
}

/* Executes ops[0..n) (already decoded and validated). `measure` is a
 * compile-time constant at each call site. Returns 0, or 1 on a backend
 * failure (err filled). *k counts ops executed, *live is L(t). */
static inline __attribute__((always_inline)) int
replay_chunk(const struct pm_trace_op *ops_buf, unsigned n, const struct allocator_ops *ops,
             pm_heap_t *h, struct slots *sl, const struct pm_replay_opts *o, const bool measure,
             struct sampler *smp, uint64_t every, uint64_t *kp, uint64_t *livep,
             uint64_t *next_sample, char err[PM_ERR_LEN])
{
    const unsigned dom = o->domains;
    const enum pm_touch how = o->touch;
    char **const base = sl->base;
    uint64_t *const size = sl->size;
    const uint64_t peak_op = measure ? smp->r->scan.peak_live_op : 0;
    struct pm_lat *const lat = measure ? smp->lat : NULL;
    uint64_t k = *kp, live = *livep;
    const struct pm_trace_op *op = ops_buf;
    for (unsigned i = 0; i < n; i++) {
        if (i + PM_REPLAY_PREFETCH < n)
            __builtin_prefetch(&base[ops_buf[i + PM_REPLAY_PREFETCH].slot], 1);
        op = &ops_buf[i];
        if (op->kind == PM_OP_PHASE) {
            if (measure)
                sample(smp, k, live);
            continue;
        }
        if (dom && !domain_wanted(dom, op->domain))
            continue;
        k++;
        char **s = &base[op->slot];
        char *p;
        /* latency: t0 before the call, LAT_END right after it */
        const bool timed = measure && lat && pm_lat_due(lat, k);
        const uint64_t t0 = timed ? pm_lat_ticks() : 0;
#define LAT_END() do { if (timed) pm_lat_add(lat, k, pm_lat_ticks() - t0); } while (0)
        switch (op->kind) {
        case PM_OP_ALLOC:
            p = ops->malloc(h, op->size);
            LAT_END();
            if (__builtin_expect(!p, 0))
                goto oom;
            touch(p, op->size, how);
            break;
        case PM_OP_CALLOC:
            p = ops->calloc(h, op->arg, op->size);
            LAT_END();
            if (__builtin_expect(!p, 0))
                goto oom;
            break;
        case PM_OP_REALLOC:
            p = ops->realloc(h, *s, op->size);
            LAT_END();
            if (__builtin_expect(!p, 0))
                goto oom;
            touch(p, op->size, how);
            if (measure)
                live -= size[op->slot];
            break;
        case PM_OP_FREE:
            ops->free(h, *s);
            LAT_END();
            *s = NULL;
            if (measure) {
                live -= size[op->slot];
                size[op->slot] = 0;
            }
            goto after;
        case PM_OP_ALIGNED: {
            p = ops->malloc(h, op->size + op->arg);
            LAT_END();
            if (__builtin_expect(!p, 0))
                goto oom;
            char *u = (char *)(((uintptr_t)p + op->arg - 1) & ~(uintptr_t)(op->arg - 1));
            touch(u, op->size, how);
            break;
        }
        default:
            __builtin_unreachable(); /* the cursor returns only the kinds above */
        }
#undef LAT_END
        *s = p;
        if (measure) {
            size[op->slot] = op_bytes(op);
            live += size[op->slot];
        }
    after:
        if (measure) {
            if (k == *next_sample || k == peak_op) {
                sample(smp, k, live);
                if (k == *next_sample)
                    *next_sample += every;
            }
            if (o->check_every && k % o->check_every == 0) {
                char msg[PM_ERR_LEN] = "";
                unsigned long bad = ops->check(h, msg);
                if (bad) {
                    snprintf(err, PM_ERR_LEN, "check() found %lu violation(s) after op %llu: %.160s",
                             bad, (unsigned long long)k, msg);
                    *kp = k;
                    return 1;
                }
            }
        }
    }
    *kp = k;
    *livep = live;
    return 0;
oom:
    snprintf(err, PM_ERR_LEN, "op %llu: backend '%s' returned NULL (out of memory) for %llu bytes",
             (unsigned long long)k, ops->name, (unsigned long long)op_bytes(op));
    *kp = k;
    return 1;
}

/* Timed runs execute the ops in windows of PM_REPLAY_WIN ops. On a trace
 * whose allocs and frees are interleaved at random (churn), a loop that
 * branches on each op's kind mispredicts about every other op, and that
 * misprediction, not the allocator, was the largest cost of replaying on
 * the null backend. So the decoder (untimed) classifies each window whose
 * ops are all allocs and frees by its kind pattern (bit j set: op j is a
 * free), and the timed loop jumps once per window to code specialised for
 * that pattern, in which every call site always calls the same function:
 * at most one unpredictable jump per window instead of one per op. A
 * window holding anything else (realloc, calloc, aligned, a phase mark, an
 * op outside the replayed domains) goes through the per-op loop. The
 * backend sees the same calls in the same order either way.
 *
 * (A JIT that compiled each chunk into straight-line code was tried and
 * measured slower: executing freshly written code costs more than the
 * mispredictions it removes, 13.5 against 8 ns/op on the null backend.) */
#define PM_REPLAY_WIN 6
#define PM_REPLAY_WIN_OTHER 0xFFu
_Static_assert((1u << PM_REPLAY_WIN) <= PM_REPLAY_WIN_OTHER, "patterns fit below the marker");
_Static_assert(PM_REPLAY_CHUNK % PM_REPLAY_WIN == 0, "a chunk is whole windows");

static void chunk_windows(const struct pm_trace_op *buf, unsigned n, unsigned dom, uint8_t *win)
{
    for (unsigned w = 0; w < n / PM_REPLAY_WIN; w++) {
        const struct pm_trace_op *op = &buf[w * PM_REPLAY_WIN];
        unsigned pat = 0, other = 0;
        for (unsigned j = 0; j < PM_REPLAY_WIN; j++) {
            other |= (op[j].kind != PM_OP_ALLOC && op[j].kind != PM_OP_FREE) |
                     !domain_wanted(dom, op[j].domain);
            pat |= (unsigned)(op[j].kind == PM_OP_FREE) << j;
        }
        win[w] = (uint8_t)(other ? PM_REPLAY_WIN_OTHER : pat);
    }
}

typedef void *(*malloc_fn)(pm_heap_t *, size_t);
typedef void (*free_fn)(pm_heap_t *, void *);

/* One window of pattern `pat` (a constant at each call site). Returns 0,
 * or j + 1 when op[j] got NULL (then its slot is unchanged). */
static inline __attribute__((always_inline)) unsigned
run_window(const unsigned pat, const struct pm_trace_op *op, malloc_fn mal, free_fn fre,
           pm_heap_t *h, char **base, enum pm_touch how)
{
#pragma GCC unroll 8
    for (unsigned j = 0; j < PM_REPLAY_WIN; j++) {
        char **s = &base[op[j].slot];
        if (pat >> j & 1) {
            fre(h, *s);
            *s = NULL;
        } else {
            char *p = mal(h, op[j].size);
            if (__builtin_expect(!p, 0))
                return j + 1;
            touch(p, op[j].size, how);
            *s = p;
        }
    }
    return 0;
}

#define REP8(M, b) M(b) M(b + 1) M(b + 2) M(b + 3) M(b + 4) M(b + 5) M(b + 6) M(b + 7)
#define REP64(M) REP8(M, 0) REP8(M, 8) REP8(M, 16) REP8(M, 24) REP8(M, 32) REP8(M, 40) \
                 REP8(M, 48) REP8(M, 56)
_Static_assert(PM_REPLAY_WIN == 6, "REP64 lists the 2^6 patterns");

/* The timed run's execution of a chunk: windows, then the per-op loop for
 * windows of other ops and the tail. Same contract as replay_chunk. */
__attribute__((noinline)) static int replay_chunk_timed(const struct pm_trace_op *buf, unsigned n, const uint8_t *win,
                              const struct allocator_ops *ops, pm_heap_t *h, struct slots *sl,
                              const struct pm_replay_opts *o, uint64_t *kp, char err[PM_ERR_LEN])
{
    const malloc_fn mal = ops->malloc;
    const free_fn fre = ops->free;
    char **const base = sl->base;
    const enum pm_touch how = o->touch;
    const unsigned nw = n / PM_REPLAY_WIN, ahead = (PM_REPLAY_PREFETCH + PM_REPLAY_WIN - 1) / PM_REPLAY_WIN;
    uint64_t live = 0, next = 0;
    for (unsigned w = 0; w < nw; w++) {
        const struct pm_trace_op *op = &buf[w * PM_REPLAY_WIN];
        if (w + ahead < nw)
            for (unsigned j = 0; j < PM_REPLAY_WIN; j++)
                __builtin_prefetch(&base[op[ahead * PM_REPLAY_WIN + j].slot], 1);
        unsigned bad;
        switch (win[w]) {
#define WIN_CASE(x) case x: bad = run_window(x, op, mal, fre, h, base, how); break;
        REP64(WIN_CASE)
#undef WIN_CASE
        default: {
            int rc = replay_chunk(op, PM_REPLAY_WIN, ops, h, sl, o, false, NULL, 0, kp, &live,
                                  &next, err);
            if (rc)
                return rc;
            continue;
        }
        }
        if (__builtin_expect(bad != 0, 0)) {
            snprintf(err, PM_ERR_LEN, "op %llu: backend '%s' returned NULL (out of memory) for %llu bytes",
                     (unsigned long long)(*kp + bad), ops->name,
                     (unsigned long long)op[bad - 1].size);
            *kp += bad;
            return 1;
        }
        *kp += PM_REPLAY_WIN;
    }
    return replay_chunk(&buf[nw * PM_REPLAY_WIN], n - nw * PM_REPLAY_WIN, ops, h, sl, o, false,
                        NULL, 0, kp, &live, &next, err);
}

/* Decodes chunk after chunk and executes each; *ns (timed runs) gets the
 * wall time of the execution only. Returns 0, 1 (backend failure) or 2
 * (malformed trace). */
static inline __attribute__((always_inline)) int
replay_loop(struct pm_trace *t, const struct allocator_ops *ops, pm_heap_t *h,
            struct slots *sl, const struct pm_replay_opts *o, const bool measure,
            struct sampler *smp, uint64_t every, uint64_t *ns, char err[PM_ERR_LEN])
{
    struct pm_trace_cursor c;
    struct pm_trace_op buf[PM_REPLAY_CHUNK];
    uint8_t win[PM_REPLAY_CHUNK / PM_REPLAY_WIN];
    uint64_t k = 0, live = 0, next_sample = every, elapsed = 0;
    int r = (o->lenient ? pm_trace_cursor_init_lenient(&c, t) : pm_trace_cursor_init(&c, t)) ? -1 : 1;
    while (r > 0) {
        unsigned n = 0;
        while (n < PM_REPLAY_CHUNK && (r = pm_trace_next(&c, &buf[n])) > 0)
            n++;
        int rc;
        if (measure) {
            rc = replay_chunk(buf, n, ops, h, sl, o, true, smp, every, &k, &live, &next_sample, err);
        } else {
            const bool per_op = o->engine == PM_ENGINE_PER_OP;
            if (!per_op)
                chunk_windows(buf, n, o->domains, win);
            uint64_t t0 = pm_now_ns();
            rc = per_op ? replay_chunk(buf, n, ops, h, sl, o, false, NULL, 0, &k, &live, &next_sample, err)
                        : replay_chunk_timed(buf, n, win, ops, h, sl, o, &k, err);
            elapsed += pm_now_ns() - t0;
        }
        if (rc)
            return rc;
    }
    if (ns)
        *ns = elapsed;
    if (r < 0) {
        snprintf(err, PM_ERR_LEN, "%s", c.err);
        return 2;
    }
    if (measure)
        sample(smp, k, live);
    return 0;
}

/* Allocates and touches the slot table (before the footprint baseline). */
static int slots_new(struct pm_trace *t, bool with_sizes, struct slots *sl, char err[PM_ERR_LEN])
{
    uint64_t n = pm_trace_slot_count(t);
    sl->n = n;
    sl->base = calloc(n ? n : 1, sizeof *sl->base);
    sl->size = with_sizes ? calloc(n ? n : 1, sizeof *sl->size) : NULL;
    if (!sl->base || (with_sizes && !sl->size)) {
        free(sl->base);
        free(sl->size);
        snprintf(err, PM_ERR_LEN, "cannot allocate a table of %llu slots", (unsigned long long)n);
        return -1;
    }
    memset(sl->base, 0, (n ? n : 1) * sizeof *sl->base);
    if (sl->size)
        memset(sl->size, 0, (n ? n : 1) * sizeof *sl->size);
    return 0;
}

/* Frees the blocks still live (untimed) and the table. */
static void slots_free_all(struct slots *sl, const struct allocator_ops *ops, pm_heap_t *h)
{
    for (uint64_t i = 0; i < sl->n; i++)
        if (sl->base[i])
            ops->free(h, sl->base[i]);
    free(sl->base);
    free(sl->size);
}

static int make_heap(const char *spec, const struct allocator_ops **ops, pm_heap_t **h,
                     char err[PM_ERR_LEN])
{
    struct pm_config cfg = {.on_misuse = pm_cli_misuse_abort};
    *h = pm_backend_create(spec, &cfg, ops, err);
    return *h ? 0 : 2;
}

int pm_replay_measure(struct pm_trace *t, const char *spec, const struct pm_replay_opts *o,
                      const struct pm_replay_scan *scan, struct pm_replay_result *r,
                      char err[PM_ERR_LEN])
{
    const struct allocator_ops *ops;
    pm_heap_t *h;
    memset(r, 0, sizeof *r);
    r->scan = *scan;
    if (make_heap(spec, &ops, &h, err))
        return 2;
    if (o->check_every && !ops->check) {
        ops->destroy(h);
        snprintf(err, PM_ERR_LEN, "backend '%s' has no check(); --check-every needs one", ops->name);
        return 2;
    }
    struct slots slots;
    if (slots_new(t, true, &slots, err)) {
        ops->destroy(h);
        return 1;
    }
    uint64_t every = o->sample_every ? o->sample_every : scan->ops / 4000;
    if (every == 0)
        every = 1;
    struct sampler smp = {
        .series = o->series,
        .r = r,
        .os = ops->os ? ops->os(h) : NULL,
    };
    if (o->latency_every) {
        /* allocated and written before the baseline */
        smp.lat = malloc(sizeof *smp.lat);
        if (!smp.lat) {
            slots_free_all(&slots, ops, h);
            ops->destroy(h);
            snprintf(err, PM_ERR_LEN, "out of memory for the latency histogram");
            return 1;
        }
        pm_lat_init(smp.lat, o->latency_every);
    }
    if (o->series)
        fprintf(o->series, "op,live_bytes,footprint_bytes,mapped_bytes\n");
    smp.baseline = pm_rss_anon_bytes();
    if (smp.lat)
        pm_lat_start(smp.lat);
    int rc = replay_loop(t, ops, h, &slots, o, true, &smp, every, NULL, err);
    if (smp.lat) {
        pm_lat_stop(smp.lat);
        pm_lat_summarize(smp.lat, &r->latency);
        free(smp.lat);
    }
    if (rc == 0) {
        if (ops->trim)
            ops->trim(h);
        uint64_t rss = pm_rss_anon_bytes();
        r->trimmed_footprint_bytes = rss > smp.baseline ? rss - smp.baseline : 0;
        /* Own backends only: a reference's stats() is a snapshot, not a
         * peak over the run. */
        r->backend_peak_mapped = smp.os ? smp.os->peak_mapped : PM_STAT_NA;
    }
    slots_free_all(&slots, ops, h);
    ops->destroy(h);
    if (rc)
        return rc;
    double pl = (double)scan->peak_live_bytes, pf = (double)r->peak_footprint_bytes;
    r->frag4 = pl > 0 ? pf / pl - 1.0 : 0.0;
    r->frag3 = r->live_at_peak_footprint ? pf / (double)r->live_at_peak_footprint - 1.0 : 0.0;
    r->frag_at_peak_live = pl > 0 ? (double)r->footprint_at_peak_live / pl - 1.0 : 0.0;
    r->retention = pf > 0 ? (double)r->final_footprint_bytes / pf : 0.0;
    r->retention_trimmed = pf > 0 ? (double)r->trimmed_footprint_bytes / pf : 0.0;
    return 0;
}

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
    if (v == PM_STAT_NA)
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, (double)v);
}

cJSON *pm_replay_json(const char *backend, const char *trace, const char *domain,
                      const struct pm_replay_result *r, uint64_t reps, const uint64_t *ns)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    const struct pm_replay_scan *scan = &r->scan;
    double ops_d = (double)scan->ops;
    cJSON_AddStringToObject(j, "backend", backend);
    cJSON_AddStringToObject(j, "trace", trace);
    cJSON_AddStringToObject(j, "domain", domain);
    add_u64(j, "ops", scan->ops);
    add_u64(j, "reps", reps);
    if (reps && scan->ops) {
        double med = (double)(reps % 2 ? ns[reps / 2] : (ns[reps / 2 - 1] + ns[reps / 2]) / 2) / ops_d;
        cJSON_AddNumberToObject(j, "ns_per_op", med);
        cJSON_AddNumberToObject(j, "ns_per_op_min", (double)ns[0] / ops_d);
        cJSON_AddNumberToObject(j, "ns_per_op_max", (double)ns[reps - 1] / ops_d);
    } else {
        cJSON_AddNullToObject(j, "ns_per_op");
    }
    add_u64(j, "peak_live_bytes", scan->peak_live_bytes);
    add_u64(j, "peak_live_op", scan->peak_live_op);
    add_u64(j, "final_live_bytes", scan->final_live_bytes);
    add_u64(j, "peak_footprint_bytes", r->peak_footprint_bytes);
    add_u64(j, "peak_footprint_op", r->peak_footprint_op);
    add_u64(j, "final_footprint_bytes", r->final_footprint_bytes);
    add_u64(j, "trimmed_footprint_bytes", r->trimmed_footprint_bytes);
    cJSON_AddNumberToObject(j, "frag4", r->frag4);
    cJSON_AddNumberToObject(j, "frag3", r->frag3);
    cJSON_AddNumberToObject(j, "frag_at_peak_live", r->frag_at_peak_live);
    cJSON_AddNumberToObject(j, "retention", r->retention);
    cJSON_AddNumberToObject(j, "retention_trimmed", r->retention_trimmed);
    add_u64(j, "backend_peak_mapped_bytes", r->backend_peak_mapped);
    add_u64(j, "samples", r->samples);
    pm_lat_json(j, &r->latency);
    return j;
}

int pm_replay_time_on(struct pm_trace *t, const struct allocator_ops *ops, pm_heap_t *h,
                      const struct pm_replay_opts *o, uint64_t *ns, char err[PM_ERR_LEN])
{
    struct slots slots;
    if (slots_new(t, false, &slots, err))
        return 1;
    int rc = replay_loop(t, ops, h, &slots, o, false, NULL, 0, ns, err);
    slots_free_all(&slots, ops, h);
    return rc;
}

int pm_replay_time(struct pm_trace *t, const char *spec, const struct pm_replay_opts *o,
                   uint64_t *ns, char err[PM_ERR_LEN])
{
    const struct allocator_ops *ops;
    pm_heap_t *h;
    if (make_heap(spec, &ops, &h, err))
        return 2;
    int rc = pm_replay_time_on(t, ops, h, o, ns, err);
    ops->destroy(h);
    return rc;
}

int pm_replay_into(struct pm_trace *t, const struct allocator_ops *ops, pm_heap_t *h,
                   const struct pm_replay_opts *o, uint32_t stop_phase,
                   struct pm_replay_held *held, char err[PM_ERR_LEN])
{
    struct slots sl;
    memset(held, 0, sizeof *held);
    if (slots_new(t, false, &sl, err))
        return 1;
    held->base = sl.base;
    held->nslots = sl.n;
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    uint64_t k = 0, live = 0, next = 0;
    int r = pm_trace_cursor_init(&c, t) ? -1 : 1;
    while (r > 0 && (r = pm_trace_next(&c, &op)) > 0) {
        if (op.kind == PM_OP_PHASE && stop_phase && op.slot == stop_phase) {
            held->stopped_at_phase = true;
            break;
        }
        int rc = replay_chunk(&op, 1, ops, h, &sl, o, false, NULL, 0, &k, &live, &next, err);
        held->ops = k;
        if (rc)
            return rc;
    }
    if (r < 0) {
        snprintf(err, PM_ERR_LEN, "%s", c.err);
        return 2;
    }
    return 0;
}

void pm_replay_release(struct pm_replay_held *held, const struct allocator_ops *ops, pm_heap_t *h)
{
    struct slots sl = {.base = held->base, .size = NULL, .n = held->nslots};
    if (sl.base)
        slots_free_all(&sl, ops, h);
    memset(held, 0, sizeof *held);
}
