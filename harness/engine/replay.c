/* harness/engine/replay.c — the replay loop. See replay.h for entry points.
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
#include "series.h"
#include "fresh.h"
#include "metrics.h"
#include "stats.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- harness memory that must not grow during a measured run ---- */

/* Writes every page of [p, p + n) through a volatile pointer: the writes
 * cannot be removed, so the pages are resident (and counted in the
 * footprint baseline) once this returns. Zeros, so a zeroed table stays
 * zeroed. */
static void pages_touch(void *p, size_t n)
{
    volatile char *c = p;
    for (size_t i = 0; i < n; i += 4096)
        c[i] = 0;
    if (n)
        c[n - 1] = 0;
}

/* Touches the stack below the caller's frame: what the calls the replay
 * loop makes (the backend's, the sampler's) will use. The loop's own
 * locals (its 24 KiB decode buffer) are in the caller's frame, above this
 * one: replay_loop touches them itself. */
__attribute__((noinline)) static void stack_touch(void)
{
    volatile char pad[96 << 10];
    for (size_t i = 0; i < sizeof pad; i += 4096)
        pad[i] = 0;
    pad[sizeof pad - 1] = 0;
}

/* A zeroed table of `bytes` in an anonymous mapping of its own, resident on
 * return: never glibc's heap, whose state (its mmap threshold moves when a
 * large block is freed) the `system` backend would inherit. NULL if it
 * cannot be mapped. */
static void *table_map(size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    pages_touch(p, bytes);
    return p;
}

static void table_unmap(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes ? bytes : 1);
}

static void fmt_bytes(char *buf, size_t len, double b)
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (b >= 1024 && u < 5) {
        b /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

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
     * a corrupt one must not make us allocate for 2^32 slots. A slot far
     * above the allocations seen so far is refused before the table grows
     * to it: a dense numbering (the recorder's, the generators') never
     * names a slot above the number of allocations before it. */
    uint64_t cap = 0, *size = NULL, allocs = 0;
    memset(out, 0, sizeof *out);
    uint64_t live = 0;
    int r = (lenient ? pm_trace_cursor_init_lenient(&c, t) : pm_trace_cursor_init(&c, t)) ? -1 : 1;
    while (r > 0 && (r = pm_trace_next(&c, &op)) > 0) {
        if (op.kind == PM_OP_PHASE || !domain_wanted(domains, op.domain))
            continue;
        if (op.slot >= cap) {
            if (op.slot > 2 * allocs + PM_REPLAY_SLOT_SLACK) {
                char b[32];
                fmt_bytes(b, sizeof b, ((double)op.slot + 1) * 16);
                snprintf(err, PM_ERR_LEN,
                         "op %llu: slot %llu after only %llu allocations: the slot numbers are "
                         "sparse, and a slot table for them would take %s (docs/trace-format.md: "
                         "slots are dense)",
                         (unsigned long long)(c.index - 1), (unsigned long long)op.slot,
                         (unsigned long long)allocs, b);
                table_unmap(size, cap * sizeof *size);
                return -1;
            }
            uint64_t ncap = cap ? cap : 1024;
            while (ncap <= op.slot)
                ncap *= 2;
            uint64_t *ns = cap ? mremap(size, cap * sizeof *ns, ncap * sizeof *ns, MREMAP_MAYMOVE)
                               : mmap(NULL, ncap * sizeof *ns, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (ns == MAP_FAILED) {
                table_unmap(size, cap * sizeof *size);
                snprintf(err, PM_ERR_LEN, "cannot allocate a table of %llu slots",
                         (unsigned long long)ncap);
                return -1;
            }
            size = ns;      /* new pages of an anonymous mapping read as zero */
            cap = ncap;
        }
        if (op.slot + 1 > out->nslots)
            out->nslots = op.slot + 1;
        out->ops++;
        switch (op.kind) {
        case PM_OP_FREE:
            live -= size[op.slot];
            size[op.slot] = 0;
            break;
        case PM_OP_REALLOC:
            live -= size[op.slot];
            size[op.slot] = op_bytes(&op);
            live += size[op.slot];
            break;
        default:
            allocs++;
            size[op.slot] = op_bytes(&op);
            live += size[op.slot];
            break;
        }
        if (live > out->peak_live_bytes) {
            out->peak_live_bytes = live;
            out->peak_live_op = out->ops;
        }
    }
    table_unmap(size, cap * sizeof *size);
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
    if (f > r->pts.peak_footprint || r->samples == 1) {
        r->pts.peak_footprint = f;
        r->peak_footprint_op = opno;
        r->pts.live_at_peak_footprint = live;
    }
    if (opno == r->scan.peak_live_op)
        r->pts.footprint_at_peak_live = f;
    r->pts.final_footprint = f;
    if (s->series) {
        struct pm_series_row row = {.op = opno, .live_bytes = live, .footprint_bytes = f,
                                    .mapped_bytes = s->os ? s->os->mapped : PM_STAT_NA};
        pm_series_row(s->series, 0, &row);
    }
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
 * wall time of the execution only, *flt (timed runs, may be NULL) the page
 * faults of the whole loop. Before the first op it makes resident what the
 * loop itself will touch (the cursor's liveness bitmap, up to the slots
 * used; the stack; the trace's pages, which are file-backed), then, in a
 * measured run, takes the footprint baseline. Returns 0, 1 (backend
 * failure) or 2 (malformed trace). */
static inline __attribute__((always_inline)) int
replay_loop(struct pm_trace *t, const struct allocator_ops *ops, pm_heap_t *h,
            struct slots *sl, const struct pm_replay_opts *o, const bool measure,
            struct sampler *smp, uint64_t every, uint64_t *ns, struct pm_timing *flt,
            char err[PM_ERR_LEN])
{
    struct pm_trace_cursor c;
    struct pm_trace_op buf[PM_REPLAY_CHUNK];
    uint8_t win[PM_REPLAY_CHUNK / PM_REPLAY_WIN];
    uint64_t k = 0, live = 0, next_sample = every, elapsed = 0;
    int r = (o->lenient ? pm_trace_cursor_init_lenient(&c, t) : pm_trace_cursor_init(&c, t)) ? -1 : 1;
    if (r > 0) {
        pages_touch(c.live, (size_t)((sl->n + 63) / 64) * sizeof(uint64_t));
        pm_trace_prefault(t);
    }
    /* The decode buffer is in this frame, not below it: untouched, its pages
     * (up to 6 of them, however many no earlier call had used at this depth
     * of the stack) would fault in with the first chunk, after the
     * baseline, and count in F(t). */
    pages_touch(buf, sizeof buf);
    pages_touch(win, sizeof win);
    stack_touch();
    struct rusage ru0;
    if (flt)
        getrusage(RUSAGE_SELF, &ru0);
    if (measure) {
        pm_rss_anon_bytes();        /* opens /proc/self/statm first */
        smp->baseline = pm_rss_anon_bytes();
        if (smp->lat)
            pm_lat_start(smp->lat);
    }
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
    if (flt) {
        struct rusage ru1;
        getrusage(RUSAGE_SELF, &ru1);
        flt->minflt = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt);
        flt->majflt = (uint64_t)(ru1.ru_majflt - ru0.ru_majflt);
        flt->ops = k;
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

/* Maps the slot table for the slots the trace uses (scan->nslots), resident
 * before the footprint baseline (see replay.h). */
static int slots_new(const struct pm_replay_scan *scan, bool with_sizes, struct slots *sl,
                     char err[PM_ERR_LEN])
{
    uint64_t n = scan->nslots;
    sl->n = n;
    sl->base = table_map((size_t)n * sizeof *sl->base);
    sl->size = with_sizes ? table_map((size_t)n * sizeof *sl->size) : NULL;
    if (!sl->base || (with_sizes && !sl->size)) {
        table_unmap(sl->base, (size_t)n * sizeof *sl->base);
        table_unmap(sl->size, (size_t)n * sizeof *sl->size);
        char b[32];
        fmt_bytes(b, sizeof b, (double)n * (with_sizes ? 16 : 8));
        snprintf(err, PM_ERR_LEN, "cannot map a table of %llu slots (%s)", (unsigned long long)n, b);
        return -1;
    }
    return 0;
}

/* Frees the blocks still live (untimed). */
static void slots_free_blocks(struct slots *sl, const struct allocator_ops *ops, pm_heap_t *h)
{
    for (uint64_t i = 0; i < sl->n; i++)
        if (sl->base[i]) {
            ops->free(h, sl->base[i]);
            sl->base[i] = NULL;
        }
}

/* Frees the blocks still live (untimed) and the table. */
static void slots_free_all(struct slots *sl, const struct allocator_ops *ops, pm_heap_t *h)
{
    slots_free_blocks(sl, ops, h);
    table_unmap(sl->base, (size_t)sl->n * sizeof *sl->base);
    table_unmap(sl->size, (size_t)sl->n * sizeof *sl->size);
    sl->base = NULL;
    sl->size = NULL;
}

/* The caller's misuse policy (opts): the CLI's aborts with a message. */
static int make_heap(const char *spec, const struct pm_replay_opts *o,
                     const struct allocator_ops **ops, pm_heap_t **h, char err[PM_ERR_LEN])
{
    struct pm_config cfg = {.on_misuse = o ? o->on_misuse : NULL,
                            .misuse_ctx = o ? o->misuse_ctx : NULL};
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
    pm_result_init(&r->rec);
    if (make_heap(spec, o, &ops, &h, err))
        return 2;
    if (o->check_every && !ops->check) {
        ops->destroy(h);
        snprintf(err, PM_ERR_LEN, "backend '%s' has no check(); --check-every needs one", ops->name);
        return 2;
    }
    struct slots slots;
    if (slots_new(scan, true, &slots, err)) {
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
    if (o->series)     /* stdio allocates the file's buffer now, before the baseline */
        pm_series_header(o->series, 0);
    int rc = replay_loop(t, ops, h, &slots, o, true, &smp, every, NULL, NULL, err);
    struct pm_lat_summary lat = {0};
    if (smp.lat) {
        pm_lat_stop(smp.lat);
        pm_lat_summarize(smp.lat, &lat);
        free(smp.lat);
    }
    if (rc == 0) {
        if (ops->trim)
            ops->trim(h);
        uint64_t rss = pm_rss_anon_bytes();
        r->pts.trimmed_footprint = rss > smp.baseline ? rss - smp.baseline : 0;
        /* Own backends only: a reference's stats() is a snapshot, not a
         * peak over the run. */
        r->rec.backend_peak_mapped_bytes = smp.os ? smp.os->peak_mapped : PM_STAT_NA;
    }
    slots_free_all(&slots, ops, h);
    ops->destroy(h);
    if (rc)
        return rc;
    r->rec.ops = scan->ops;
    r->rec.final_live_bytes = scan->final_live_bytes;
    r->pts.peak_live = r->pts.live_at_peak_live = scan->peak_live_bytes;
    pm_result_derive(&r->rec, &r->pts);
    pm_result_set_latency(&r->rec, &lat);
    if (pm_backend_spec_flags(spec) & PM_BACKEND_NO_MEMORY) {
        r->no_memory = true;
        pm_result_no_memory(&r->rec);
    }
    return 0;
}

void pm_replay_result_unmeasured(struct pm_replay_result *r, const struct pm_replay_scan *scan)
{
    memset(r, 0, sizeof *r);
    r->scan = *scan;
    pm_result_init(&r->rec);
    r->rec.ops = scan->ops;
    r->rec.peak_live_bytes = scan->peak_live_bytes;
    r->rec.final_live_bytes = scan->final_live_bytes;
    r->no_memory = true;
    pm_result_no_memory(&r->rec);
}

static void add_u64(cJSON *o, const char *k, uint64_t v)
{
    if (v == PM_STAT_NA)
        cJSON_AddNullToObject(o, k);
    else
        cJSON_AddNumberToObject(o, k, (double)v);
}

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

/* ns/op and faults/op of each timed rep (NAN without ops). */
static void per_op(const struct pm_replay_scan *scan, const struct pm_timing *tm, uint64_t reps,
                   double *ns, double *flt, double *mflt)
{
    double ops_d = (double)scan->ops;
    for (uint64_t i = 0; i < reps; i++) {
        ns[i] = scan->ops ? (double)tm[i].ns / ops_d : NAN;
        flt[i] = scan->ops ? (double)tm[i].minflt / ops_d : NAN;
        mflt[i] = scan->ops ? (double)tm[i].majflt / ops_d : NAN;
    }
}

int pm_replay_record(const struct pm_replay_result *r, const char *backend, uint64_t reps,
                     const struct pm_timing *tm, enum pm_time_mode mode, struct pm_result *out,
                     struct pm_ci *ci)
{
    const struct pm_replay_scan *scan = &r->scan;
    double *ns = calloc(reps ? reps : 1, sizeof *ns), *flt = calloc(reps ? reps : 1, sizeof *flt);
    double *mflt = calloc(reps ? reps : 1, sizeof *mflt);
    if (!ns || !flt || !mflt) {
        free(ns);
        free(flt);
        free(mflt);
        return -1;
    }
    *out = r->rec;
    snprintf(out->backend, sizeof out->backend, "%s", backend);
    snprintf(out->time_mode, sizeof out->time_mode, "%s", pm_time_mode_name(mode));
    out->ops = scan->ops;
    out->peak_live_bytes = scan->peak_live_bytes;
    out->final_live_bytes = scan->final_live_bytes;
    per_op(scan, tm, reps, ns, flt, mflt);
    pm_result_set_timing(out, ns, flt, mflt, reps);
    struct pm_ci c;
    pm_ci_median(ns, reps, &c);
    out->ns_per_op = c.med;
    if (ci)
        *ci = c;
    free(ns);
    free(flt);
    free(mflt);
    return 0;
}

cJSON *pm_replay_json(const char *backend, const char *trace, const char *domain,
                      const struct pm_replay_result *r, uint64_t reps, const struct pm_timing *tm,
                      enum pm_time_mode mode)
{
    const struct pm_replay_scan *scan = &r->scan;
    struct pm_result *rec = malloc(sizeof *rec);
    double *ns = calloc(reps ? reps : 1, sizeof *ns), *flt = calloc(reps ? reps : 1, sizeof *flt);
    double *mflt = calloc(reps ? reps : 1, sizeof *mflt);
    cJSON *j = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    struct pm_ci ci;
    if (!rec || !ns || !flt || !mflt || !j || !arr ||
        pm_replay_record(r, backend, reps, tm, mode, rec, &ci) || pm_result_json_add(j, rec, PM_J_R, 0))
        goto oom;
    per_op(scan, tm, reps, ns, flt, mflt);
    double mn = NAN, mx = NAN;
    for (uint64_t i = 0; i < reps; i++) {
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(ns[i]));
        if (!(ns[i] >= mn))
            mn = ns[i];
        if (!(ns[i] <= mx))
            mx = ns[i];
    }
    /* what is not a record field: the trace, the reps, the interval */
    cJSON_AddStringToObject(j, "trace", trace);
    cJSON_AddStringToObject(j, "domain", domain);
    add_u64(j, "reps", reps);
    cJSON_AddItemToObject(j, "ns_per_op_reps", arr);
    arr = NULL;
    add_num(j, "ns_per_op_ci_lo", ci.lo);
    add_num(j, "ns_per_op_ci_hi", ci.hi);
    add_num(j, "ci_level", ci.level);
    add_num(j, "ns_per_op_min", mn);
    add_num(j, "ns_per_op_max", mx);
    add_u64(j, "peak_live_op", scan->peak_live_op);
    add_u64(j, "peak_footprint_op", r->no_memory ? PM_STAT_NA : r->peak_footprint_op);
    add_u64(j, "samples", r->samples);
    free(rec);
    free(ns);
    free(flt);
    free(mflt);
    return j;
oom:
    free(rec);
    free(ns);
    free(flt);
    free(mflt);
    cJSON_Delete(j);
    cJSON_Delete(arr);
    return NULL;
}

const char *pm_time_mode_name(enum pm_time_mode m)
{
    return m == PM_TIME_WARM ? "warm" : "cold";
}

bool pm_time_mode_parse(const char *s, enum pm_time_mode *m)
{
    if (!strcmp(s, "cold"))
        *m = PM_TIME_COLD;
    else if (!strcmp(s, "warm"))
        *m = PM_TIME_WARM;
    else
        return false;
    return true;
}

int pm_replay_time_on(struct pm_trace *t, const struct allocator_ops *ops, pm_heap_t *h,
                      const struct pm_replay_opts *o, const struct pm_replay_scan *scan,
                      struct pm_timing *tm, char err[PM_ERR_LEN])
{
    struct slots slots;
    memset(tm, 0, sizeof *tm);
    tm->pid = (int)getpid();
    if (slots_new(scan, false, &slots, err))
        return 1;
    int rc = replay_loop(t, ops, h, &slots, o, false, NULL, 0, &tm->ns, tm, err);
    slots_free_all(&slots, ops, h);
    return rc;
}

int pm_replay_time(struct pm_trace *t, const char *spec, const struct pm_replay_opts *o,
                   const struct pm_replay_scan *scan, enum pm_time_mode mode,
                   struct pm_timing *tm, char err[PM_ERR_LEN])
{
    const struct allocator_ops *ops;
    pm_heap_t *h;
    if (make_heap(spec, o, &ops, &h, err))
        return 2;
    int rc = 0;
    if (mode == PM_TIME_WARM)   /* the untimed pass: every block freed at its end */
        rc = pm_replay_time_on(t, ops, h, o, scan, tm, err);
    if (rc == 0)
        rc = pm_replay_time_on(t, ops, h, o, scan, tm, err);
    ops->destroy(h);
    return rc;
}

struct fresh_args {
    struct pm_trace *t;
    const char *spec;
    const struct pm_replay_opts *o;
    const struct pm_replay_scan *scan;
    enum pm_time_mode mode;
};

static int fresh_time(void *arg, void *out, char err[PM_ERR_LEN])
{
    struct fresh_args *a = arg;
    return pm_replay_time(a->t, a->spec, a->o, a->scan, a->mode, out, err);
}

int pm_replay_time_fresh(struct pm_trace *t, const char *spec, const struct pm_replay_opts *o,
                         const struct pm_replay_scan *scan, enum pm_time_mode mode,
                         struct pm_timing *tm, char err[PM_ERR_LEN])
{
    struct fresh_args a = {t, spec, o, scan, mode};
    return pm_fresh_call(fresh_time, &a, tm, sizeof *tm, NULL, err);
}

static int fresh_measure(void *arg, void *out, char err[PM_ERR_LEN])
{
    struct fresh_args *a = arg;
    int rc = pm_replay_measure(a->t, a->spec, a->o, a->scan, out, err);
    errno = 0;
    if (a->o->series && (fflush(a->o->series) || ferror(a->o->series)) && rc == 0) {
        snprintf(err, PM_ERR_LEN, "cannot write the series: %s", strerror(errno ? errno : EIO));
        rc = 1;
    }
    return rc;
}

int pm_replay_measure_fresh(struct pm_trace *t, const char *spec, const struct pm_replay_opts *o,
                            const struct pm_replay_scan *scan, struct pm_replay_result *r,
                            char err[PM_ERR_LEN])
{
    struct fresh_args a = {t, spec, o, scan, PM_TIME_COLD};
    if (o->series)
        fflush(o->series);
    return pm_fresh_call(fresh_measure, &a, r, sizeof *r, NULL, err);
}

static int fresh_check(void *arg, void *out, char err[PM_ERR_LEN])
{
    (void)out;
    const struct allocator_ops *ops;
    pm_heap_t *h;
    if (make_heap(arg, NULL, &ops, &h, err))
        return 2;
    ops->destroy(h);
    return 0;
}

int pm_replay_check_spec(const char *spec, char err[PM_ERR_LEN])
{
    char dummy;
    return pm_fresh_call(fresh_check, (void *)spec, &dummy, sizeof dummy, NULL, err);
}

int pm_replay_into(struct pm_trace *t, const struct allocator_ops *ops, pm_heap_t *h,
                   const struct pm_replay_opts *o, const struct pm_replay_scan *scan,
                   uint32_t stop_phase, struct pm_replay_held *held, char err[PM_ERR_LEN])
{
    struct slots sl;
    memset(held, 0, sizeof *held);
    if (slots_new(scan, false, &sl, err))
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
