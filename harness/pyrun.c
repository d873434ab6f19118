/* harness/pyrun.c — a Python-like workload run live on a backend: the
 * sampled run (memory, GC, series), the timed runs, the JSON record and the
 * series CSV. See pyrun.h for the definitions and docs/metrics.md.
 *
 * Entry points: pm_pyrun_check, pm_pyrun_measure, pm_pyrun_time,
 * pm_pyrun_json, pm_pyrun_write_series, pm_pyrun_result_free.
 */
#include "pyrun.h"
#include "fresh.h"
#include "metrics.h"
#include "replay.h"
#include "stats.h"
#include "pm_object.h"
#include "python/pywl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* ---- setup ---- */

static void result_identify(struct pm_pyrun_result *r, const char *workload,
                            const char *backend_spec, double scale, uint64_t seed)
{
    snprintf(r->workload, sizeof r->workload, "%s", workload);
    snprintf(r->backend, sizeof r->backend, "%s", backend_spec);
    r->scale = scale;
    r->seed = seed;
}

static const struct pywl *find_workload(const char *name, char err[PM_ERR_LEN])
{
    const struct pywl *wl = pywl_find(name);
    if (!wl) {
        char names[200];
        pywl_names(names, sizeof names);
        snprintf(err, PM_ERR_LEN, "unknown workload '%s' (known: %s)", name, names);
    }
    return wl;
}

/* A fresh backend instance: PM_PYRUN_USAGE if the spec is bad. */
static pm_heap_t *open_backend(const char *spec, const struct pm_pyrun_opts *o,
                               const struct allocator_ops **ops, char err[PM_ERR_LEN])
{
    struct pm_config cfg = {.on_misuse = o->on_misuse, .misuse_ctx = o->misuse_ctx};
    if (o->ops) {
        err[0] = 0;
        pm_heap_t *h = o->ops->create(&cfg, err);
        if (!h && !err[0])
            snprintf(err, PM_ERR_LEN, "backend '%s': create failed", o->ops->name);
        *ops = o->ops;
        return h;
    }
    return pm_backend_create(spec, &cfg, ops, err);
}

static int check_params(const char *workload, double scale, uint64_t seed,
                        const struct pywl **wl, char err[PM_ERR_LEN])
{
    *wl = find_workload(workload, err);
    if (!*wl)
        return PM_PYRUN_USAGE;
    struct pywl_params p = {scale, seed};
    if (pywl_check_params(&p, err) < 0)
        return PM_PYRUN_USAGE;
    return PM_PYRUN_OK;
}

int pm_pyrun_check(const char *workload, const char *backend_spec, double scale, uint64_t seed,
                   const struct pm_pyrun_opts *opts, char err[PM_ERR_LEN])
{
    static const struct pm_pyrun_opts none;
    const struct pm_pyrun_opts *o = opts ? opts : &none;
    const struct pywl *wl;
    int rc = check_params(workload, scale, seed, &wl, err);
    if (rc)
        return rc;
    if (o->gc && !pm_gc_collector_known(o->gc)) {
        snprintf(err, PM_ERR_LEN, "pyrun: unknown collector '%.64s' (known: gen311, gen313, "
                 "inc314, pep848)", o->gc);
        return PM_PYRUN_USAGE;
    }
    if (!o->ops)    /* a fresh process: this one must not initialise a global backend */
        return pm_replay_check_spec(backend_spec, err) ? PM_PYRUN_USAGE : PM_PYRUN_OK;
    const struct allocator_ops *ops;
    pm_heap_t *h = open_backend(backend_spec, o, &ops, err);
    if (!h)
        return PM_PYRUN_USAGE;
    ops->destroy(h);
    return PM_PYRUN_OK;
}

/* "WORKLOAD on BACKEND: MESSAGE", clipped to one err line. */
static void run_error(char err[PM_ERR_LEN], const char *workload, const char *spec,
                      const char *msg)
{
    snprintf(err, PM_ERR_LEN, "%.32s on %.64s: %.150s", workload, spec, msg);
}

/* Destroys space and backend; a block left over is the workload's leak. */
static int close_run(pm_objspace_t *sp, const struct allocator_ops *ops, pm_heap_t *h,
                     const char *workload, char err[PM_ERR_LEN])
{
    uint64_t left = sp ? pm_objspace_destroy(sp) : 0;
    ops->destroy(h);
    if (left) {
        snprintf(err, PM_ERR_LEN, "%s: %llu block(s) still live after the space was destroyed",
                 workload, (unsigned long long)left);
        return PM_PYRUN_FAIL;
    }
    return PM_PYRUN_OK;
}

static void gc_totals(pm_objspace_t *sp, uint64_t out[4])
{
    struct pm_gc_gen_stats gs[PM_GC_NUM_GENERATIONS];
    pm_gc_get_stats(sp, gs);
    memset(out, 0, 4 * sizeof out[0]);
    for (int g = 0; g < PM_GC_NUM_GENERATIONS; g++) {
        out[0] += gs[g].collections;
        out[1] += gs[g].collected;
        out[2] += gs[g].uncollectable;
        out[3] += gs[g].time_ns;
    }
}

/* ---- per-request latency: a wrapper between the space and the backend ---- */

struct lat_wrap {
    const struct allocator_ops *in; /* the backend */
    pm_heap_t *ih;
    uint64_t k;                     /* requests seen */
    struct pm_lat lat;
};

static inline struct lat_wrap *lw(pm_heap_t *h) { return (struct lat_wrap *)(void *)h; }

/* Times the call `expr` when request k is due; `res` declared by the caller. */
#define LW_TIMED(w, expr)                                                     \
    do {                                                                      \
        if (!pm_lat_due(&(w)->lat, ++(w)->k)) {                               \
            expr;                                                             \
        } else {                                                              \
            uint64_t t0_ = pm_lat_ticks();                                    \
            expr;                                                             \
            pm_lat_add(&(w)->lat, (w)->k, pm_lat_ticks() - t0_);              \
        }                                                                     \
    } while (0)

static void *lw_malloc(pm_heap_t *h, size_t n)
{
    struct lat_wrap *w = lw(h);
    void *p;
    LW_TIMED(w, p = w->in->malloc(w->ih, n));
    return p;
}

static void *lw_calloc(pm_heap_t *h, size_t k, size_t n)
{
    struct lat_wrap *w = lw(h);
    void *p;
    LW_TIMED(w, p = w->in->calloc(w->ih, k, n));
    return p;
}

static void *lw_realloc(pm_heap_t *h, void *q, size_t n)
{
    struct lat_wrap *w = lw(h);
    void *p;
    LW_TIMED(w, p = w->in->realloc(w->ih, q, n));
    return p;
}

static void lw_free(pm_heap_t *h, void *q)
{
    struct lat_wrap *w = lw(h);
    LW_TIMED(w, w->in->free(w->ih, q));
}

static void *lw_malloc_dom(pm_heap_t *h, size_t n, enum pm_domain d)
{
    struct lat_wrap *w = lw(h);
    void *p;
    LW_TIMED(w, p = w->in->malloc_dom(w->ih, n, d));
    return p;
}

static void lw_free_dom(pm_heap_t *h, void *q, enum pm_domain d)
{
    struct lat_wrap *w = lw(h);
    LW_TIMED(w, w->in->free_dom(w->ih, q, d));
}

/* The ops the space calls: the backend's, with the request entry points
 * wrapped (the space uses nothing else). */
static void lat_wrap_ops(struct allocator_ops *out, const struct allocator_ops *in)
{
    *out = *in;
    out->malloc = lw_malloc;
    out->calloc = lw_calloc;
    out->realloc = lw_realloc;
    out->free = lw_free;
    out->malloc_dom = in->malloc_dom ? lw_malloc_dom : NULL;
    out->free_dom = in->free_dom ? lw_free_dom : NULL;
}

/* ---- the sampled run ---- */

struct probe {
    pm_objspace_t *sp;
    const struct allocator_ops *ops;
    pm_heap_t *heap;
    struct pm_os *os;               /* NULL: the backend has no OS-layer account */
    uint64_t baseline;              /* anonymous RSS before the space, bytes */
    uint64_t req0;                  /* the space's requests at creation */
    uint64_t every, next;           /* sampling interval and next sample, ops */
    bool adaptive;
    struct pm_pyrun_sample *rows;
    size_t n, cap;
    struct pm_pyrun_sample at_live; /* the sample at the largest L seen */
    struct pm_pyrun_sample at_fp;   /* the sample with the largest F */
    bool have_live, have_fp;
    uint64_t live_next;             /* no new peak-live read before this op */
    struct pm_pyrun_result *res;
    bool ended;
    uint64_t end_requests;          /* the space's requests when the end hook ran */
    uint64_t harness_requests;      /* requests made by the final collection */
    uint64_t gc[4];                 /* the collector's totals at the end hook */
    bool gc_held;                   /* garbage held at samples */
    uint64_t held_peak, held_next;  /* next op at which to measure it */
    /* pauses: a buffer touched before the baseline */
    uint64_t *pause;
    size_t npause, pause_stride, pause_seen;
    uint64_t pause_max, pause_total, examined, examined_max, examined_bytes;
};

static void probe_gc_event(pm_objspace_t *sp, void *ctx, const struct pm_gc_event *ev)
{
    (void)sp;
    struct probe *p = ctx;
    if (p->ended)
        return;                     /* the harness's own collection at the end hook */
    p->pause_total += ev->pause_ns;
    if (ev->pause_ns > p->pause_max)
        p->pause_max = ev->pause_ns;
    p->examined += ev->examined;
    p->examined_bytes += ev->examined_bytes;
    if (ev->examined > p->examined_max)
        p->examined_max = ev->examined;
    if (p->pause_seen++ % p->pause_stride)
        return;
    if (p->npause == PM_PYRUN_MAX_PAUSES) {   /* keep every other one from now on */
        size_t k = 0;
        for (size_t i = 0; i < p->npause; i += 2)
            p->pause[k++] = p->pause[i];
        p->npause = k;
        p->pause_stride *= 2;
        if ((p->pause_seen - 1) % p->pause_stride)
            return;
    }
    p->pause[p->npause++] = ev->pause_ns;
}

static struct pm_pyrun_sample probe_read_held(struct probe *p, uint64_t op, uint64_t live,
                                             bool row)
{
    uint64_t held = PM_STAT_NA;
    /* at most one pass per 16 sampling intervals: the pass is O(heap) */
    if (row && p->gc_held && op >= p->held_next) {  /* before the RSS read: its stack is unmapped */
        p->held_next = op + 16 * p->every;
        struct pm_gc_garbage_held gh;
        if (pm_gc_garbage_held(p->sp, &gh) == 0) {
            held = gh.bytes;
            if (held > p->held_peak)
                p->held_peak = held;
        }
    }
    uint64_t rss = pm_rss_anon_bytes();
    return (struct pm_pyrun_sample){
        .op = op,
        .live_bytes = live,
        .footprint_bytes = rss > p->baseline ? rss - p->baseline : 0,
        .mapped_bytes = p->os ? p->os->mapped : PM_STAT_NA,
        .garbage_held_bytes = held,
    };
}

/* A sample for the series (garbage held measured when due). */
static struct pm_pyrun_sample probe_read(struct probe *p, uint64_t op, uint64_t live)
{
    return probe_read_held(p, op, live, true);
}

/* Keeps the samples at the largest F and (marked rows) the largest L. */
static void probe_note(struct probe *p, const struct pm_pyrun_sample *s)
{
    if (!p->have_fp || s->footprint_bytes > p->at_fp.footprint_bytes) {
        p->at_fp = *s;
        p->have_fp = true;
    }
    if (s->mark != PM_PYRUN_ROW && (!p->have_live || s->live_bytes > p->at_live.live_bytes)) {
        p->at_live = *s;
        p->at_live.mark = PM_PYRUN_ROW;
        p->have_live = true;
    }
}

/* Halves the regular rows (marked rows stay) and doubles the interval. */
static void probe_decimate(struct probe *p)
{
    size_t k = 0, regular = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->rows[i].mark == PM_PYRUN_ROW && regular++ % 2)
            continue;
        p->rows[k++] = p->rows[i];
    }
    if (k == p->n)                  /* all marked: drop the oldest half */
        k = 0;
    p->n = k;
    p->every *= 2;
}

static void probe_add(struct probe *p, const struct pm_pyrun_sample *s)
{
    if (p->n == p->cap)
        probe_decimate(p);
    p->rows[p->n++] = *s;
}

static void probe_sample(void *ctx)
{
    struct probe *p = ctx;
    if (p->ended)
        return;
    struct pm_objspace_stats st;
    pm_objspace_counters(p->sp, &st);
    uint64_t op = st.requests - p->req0;
    if ((!p->have_live || st.live_bytes > p->at_live.live_bytes) && op >= p->live_next) {
        p->at_live = probe_read_held(p, op, st.live_bytes, false);   /* not a row */
        p->have_live = true;
        p->live_next = op + (p->every / 8 ? p->every / 8 : 1);
        probe_note(p, &p->at_live);
    }
    if (op >= p->next) {
        struct pm_pyrun_sample s = probe_read(p, op, st.live_bytes);
        probe_add(p, &s);
        probe_note(p, &s);
        p->next = op + p->every;
    }
}

static void probe_phase(void *ctx, const char *name)
{
    struct probe *p = ctx;
    if (p->ended)
        return;
    struct pm_objspace_stats st;
    pm_objspace_counters(p->sp, &st);
    struct pm_pyrun_sample s = probe_read(p, st.requests - p->req0, st.live_bytes);
    struct pm_pyrun_result *r = p->res;
    if (r->nphases < PM_PYRUN_MAX_PHASES) {
        s.mark = PM_PYRUN_PHASE;
        s.phase = (uint16_t)r->nphases;
        r->phases[r->nphases++] = (struct pm_pyrun_phase){s.op, name};
    }
    probe_add(p, &s);
    probe_note(p, &s);
}

static void probe_end(void *ctx)
{
    struct probe *p = ctx;
    if (p->ended)
        return;
    struct pm_pyrun_result *r = p->res;
    struct pm_objspace_stats st;
    pm_objspace_counters(p->sp, &st);
    struct pm_pyrun_sample s = probe_read(p, st.requests - p->req0, st.live_bytes);
    s.mark = PM_PYRUN_END;
    probe_add(p, &s);
    probe_note(p, &s);
    r->final_live_bytes = st.live_bytes;
    r->final_footprint_bytes = s.footprint_bytes;
    r->peak_live_bytes = st.peak_live_bytes;
    gc_totals(p->sp, p->gc);
    /* Own backends only, as in replay: a reference's stats() is a snapshot
     * taken now, not a peak over the run. */
    r->backend_peak_mapped_bytes = p->os ? p->os->peak_mapped : PM_STAT_NA;
    p->end_requests = st.requests;
    p->ended = true;
    /* gc.collect() and the allocator's trim, with the long-lived state alive */
    pm_gc_collect(p->sp, 2);
    if (p->ops->trim)
        p->ops->trim(p->heap);
    pm_objspace_counters(p->sp, &st);
    p->harness_requests = st.requests - p->end_requests;
    uint64_t rss = pm_rss_anon_bytes();
    r->trimmed_footprint_bytes = rss > p->baseline ? rss - p->baseline : 0;
}

/* Puts the peak-live sample into the series at its place (if not there). */
static void probe_insert_peak(struct probe *p)
{
    if (!p->have_live)
        return;
    size_t i = 0;
    while (i < p->n && p->rows[i].op < p->at_live.op)
        i++;
    if (i < p->n && p->rows[i].op == p->at_live.op && p->rows[i].mark == PM_PYRUN_ROW) {
        p->rows[i].mark = PM_PYRUN_PEAK_LIVE;
        return;
    }
    if (p->n == p->cap) {
        probe_decimate(p);
        probe_insert_peak(p);
        return;
    }
    memmove(&p->rows[i + 1], &p->rows[i], (p->n - i) * sizeof p->rows[0]);
    p->rows[i] = p->at_live;
    p->rows[i].mark = PM_PYRUN_PEAK_LIVE;
    p->n++;
}

static double ratio_minus_one(uint64_t f, uint64_t l)
{
    return l ? (double)f / (double)l - 1.0 : NAN;
}

static void result_reset_measure(struct pm_pyrun_result *r)
{
    free(r->series);
    r->series = NULL;
    free(r->gc_pause_ns);
    r->gc_pause_ns = NULL;
    r->nseries = 0;
    r->nphases = 0;
    r->frag4 = r->frag3 = r->frag_at_peak_live = r->retention = r->retention_trimmed = NAN;
    r->backend_peak_mapped_bytes = PM_STAT_NA;
    r->measured = false;
    free(r->gc_pause_ns);
    r->gc_pause_ns = NULL;
    r->gc_npause = 0;
    r->gc_pauses = 0;
    r->gc_pause_p50_ns = r->gc_pause_p99_ns = NAN;
    r->gc_pause_max_ns = r->gc_pause_total_ns = r->gc_examined = r->gc_examined_max = 0;
    r->gc_examined_bytes = r->gc_peak_garbage_held_bytes = PM_STAT_NA;
    memset(&r->latency, 0, sizeof r->latency);
}

int pm_pyrun_measure(const char *workload, const char *backend_spec, double scale,
                     uint64_t seed, const struct pm_pyrun_opts *opts,
                     struct pm_pyrun_result *res, char err[PM_ERR_LEN])
{
    static const struct pm_pyrun_opts none;
    const struct pm_pyrun_opts *o = opts ? opts : &none;
    const struct pywl *wl;
    int rc = check_params(workload, scale, seed, &wl, err);
    if (rc)
        return rc;
    result_identify(res, workload, backend_spec, scale, seed);
    result_reset_measure(res);
    if (res->reps == 0)
        res->ns_per_op = res->ns_per_op_min = res->ns_per_op_max = NAN;

    struct probe p = {.res = res, .adaptive = o->sample_every == 0};
    p.every = o->sample_every ? o->sample_every : PM_PYRUN_FIRST_EVERY;
    p.cap = p.adaptive ? PM_PYRUN_SERIES_CAP : PM_PYRUN_SERIES_CAP_FIXED;
    /* touched now, so that its pages are in the baseline */
    p.rows = calloc(p.cap + 1, sizeof *p.rows);
    if (!p.rows) {
        snprintf(err, PM_ERR_LEN, "pyrun: out of memory for the series");
        return PM_PYRUN_FAIL;
    }
    memset(p.rows, 0xff, (p.cap + 1) * sizeof *p.rows);
    p.pause = malloc(PM_PYRUN_MAX_PAUSES * sizeof *p.pause);
    if (!p.pause) {
        free(p.rows);
        snprintf(err, PM_ERR_LEN, "pyrun: out of memory for the pauses");
        return PM_PYRUN_FAIL;
    }
    memset(p.pause, 0xff, PM_PYRUN_MAX_PAUSES * sizeof *p.pause);
    p.pause_stride = 1;
    p.gc_held = o->gc_held;
    pm_heap_t *h = open_backend(backend_spec, o, &p.ops, err);
    if (!h) {
        free(p.rows);
        free(p.pause);
        return PM_PYRUN_USAGE;
    }
    p.heap = h;
    p.os = p.ops->os ? p.ops->os(h) : NULL;
    /* the space's view of the backend: itself, or the latency wrapper */
    const struct allocator_ops *sp_ops = p.ops;
    pm_heap_t *sp_heap = h;
    struct allocator_ops wops;
    struct lat_wrap *wrap = NULL;
    if (o->latency_every) {
        wrap = malloc(sizeof *wrap);    /* written now: in the baseline */
        if (!wrap) {
            p.ops->destroy(h);
            free(p.rows);
            free(p.pause);
            snprintf(err, PM_ERR_LEN, "pyrun: out of memory for the latency histogram");
            return PM_PYRUN_FAIL;
        }
        wrap->in = p.ops;
        wrap->ih = h;
        wrap->k = 0;
        pm_lat_init(&wrap->lat, o->latency_every);
        lat_wrap_ops(&wops, p.ops);
        sp_ops = &wops;
        sp_heap = (pm_heap_t *)(void *)wrap;
    }
    struct pm_objspace_config cfg = {.flags = o->space_flags, .seed = seed, .gc = o->gc};
    pm_rss_anon_bytes();            /* opens /proc/self/statm before the baseline */
    p.baseline = pm_rss_anon_bytes();
    if (wrap)
        pm_lat_start(&wrap->lat);
    char serr[PM_ERR_LEN];
    pm_objspace_t *sp = pm_objspace_create(sp_ops, sp_heap, &cfg, serr);
    if (!sp) {
        run_error(err, workload, backend_spec, serr);
        p.ops->destroy(h);
        free(p.rows);
        free(p.pause);
        free(wrap);
        return PM_PYRUN_FAIL;
    }
    p.sp = sp;
    if (o->gc_threshold_set)
        pm_gc_set_threshold(sp, o->gc_threshold[0], o->gc_threshold[1], o->gc_threshold[2]);
    pm_gc_set_observer(sp, probe_gc_event, &p, o->gc_held);
    struct pm_objspace_stats st;
    pm_objspace_counters(sp, &st);
    p.req0 = st.requests;
    p.next = 0;
    struct pywl_hooks hooks = {.ctx = &p, .sample = probe_sample, .phase = probe_phase,
                               .end = probe_end};
    struct pywl_params params = {scale, seed};
    char werr[PM_ERR_LEN];
    uint64_t t0 = pm_now_ns();
    int wrc = pywl_run(wl, sp, &params, &hooks, werr);
    uint64_t t1 = pm_now_ns();
    pm_objspace_counters(sp, &st);
    if (wrc < 0) {
        close_run(sp, p.ops, h, workload, err);
        run_error(err, workload, backend_spec, werr);
        free(p.rows);
        free(p.pause);
        free(wrap);
        return PM_PYRUN_FAIL;
    }
    if (!p.ended) {                 /* a workload must call its end hook */
        close_run(sp, p.ops, h, workload, err);
        snprintf(err, PM_ERR_LEN, "%s: the workload did not mark its end", workload);
        free(p.rows);
        free(p.pause);
        free(wrap);
        return PM_PYRUN_FAIL;
    }
    res->ops = st.requests - p.req0 - p.harness_requests;
    res->measure_wall_ns = t1 - t0;
    res->gc_collections = p.gc[0];
    res->gc_collected = p.gc[1];
    res->gc_uncollectable = p.gc[2];
    if (res->reps == 0)
        res->gc_time_ns = p.gc[3];
    snprintf(res->gc, sizeof res->gc, "%s", pm_gc_collector(sp));
    res->gc_pauses = p.pause_seen;
    res->gc_pause_max_ns = p.pause_max;
    res->gc_pause_total_ns = p.pause_total;
    res->gc_examined = p.examined;
    res->gc_examined_max = p.examined_max;
    res->gc_examined_bytes = o->gc_held ? p.examined_bytes : PM_STAT_NA;
    res->gc_peak_garbage_held_bytes = o->gc_held ? p.held_peak : PM_STAT_NA;
    if (p.npause) {
        double *d = malloc(p.npause * sizeof *d);
        if (d) {
            for (size_t i = 0; i < p.npause; i++)
                d[i] = (double)p.pause[i];
            res->gc_pause_p50_ns = pm_quantile(d, p.npause, 0.50);
            res->gc_pause_p99_ns = pm_quantile(d, p.npause, 0.99);
            free(d);
        }
    }
    res->gc_pause_ns = p.pause;
    res->gc_npause = p.npause;
    p.pause = NULL;
    rc = close_run(sp, p.ops, h, workload, err);
    if (wrap) {                     /* the teardown's requests are timed too */
        pm_lat_stop(&wrap->lat);
        pm_lat_summarize(&wrap->lat, &res->latency);
        free(wrap);
    }
    if (rc) {
        free(p.rows);
        free(p.pause);
        return rc;
    }
    probe_insert_peak(&p);
    res->series = p.rows;
    res->nseries = p.n;
    res->sample_every = p.every;
    res->peak_footprint_bytes = p.at_fp.footprint_bytes;
    res->frag4 = ratio_minus_one(res->peak_footprint_bytes, res->peak_live_bytes);
    res->frag3 = ratio_minus_one(p.at_fp.footprint_bytes, p.at_fp.live_bytes);
    res->frag_at_peak_live = ratio_minus_one(p.at_live.footprint_bytes, p.at_live.live_bytes);
    if (res->peak_footprint_bytes) {
        res->retention = (double)res->final_footprint_bytes / (double)res->peak_footprint_bytes;
        res->retention_trimmed =
            (double)res->trimmed_footprint_bytes / (double)res->peak_footprint_bytes;
    }
    res->measured = true;
    return PM_PYRUN_OK;
}

/* ---- the timed runs ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}


/* One timed rep (run in a fresh process). */
struct time_args {
    const struct pywl *wl;
    const char *workload, *backend_spec;
    const struct pm_pyrun_opts *o;
    struct pm_objspace_config cfg;
    struct pywl_params params;
};

struct time_out {
    double ns_per_op;
    uint64_t ops, gc_ns, minflt;
};

/* One run of the workload on a new space over h; *ns its wall time. */
static int time_once(const struct time_args *a, const struct allocator_ops *bops, pm_heap_t *h,
                     struct time_out *out, uint64_t *ns, char err[PM_ERR_LEN])
{
    char serr[PM_ERR_LEN];
    pm_objspace_t *sp = pm_objspace_create(bops, h, &a->cfg, serr);
    if (!sp) {
        run_error(err, a->workload, a->backend_spec, serr);
        return PM_PYRUN_FAIL;
    }
    if (a->o->gc_threshold_set)
        pm_gc_set_threshold(sp, a->o->gc_threshold[0], a->o->gc_threshold[1],
                            a->o->gc_threshold[2]);
    struct pm_objspace_stats st;
    pm_objspace_counters(sp, &st);
    uint64_t req0 = st.requests;
    char werr[PM_ERR_LEN];
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t t0 = pm_now_ns();
    int wrc = pywl_run(a->wl, sp, &a->params, NULL, werr);
    uint64_t t1 = pm_now_ns();
    getrusage(RUSAGE_SELF, &ru1);
    pm_objspace_counters(sp, &st);
    uint64_t g[4];
    gc_totals(sp, g);
    if (wrc < 0) {
        pm_objspace_destroy(sp);
        run_error(err, a->workload, a->backend_spec, werr);
        return PM_PYRUN_FAIL;
    }
    uint64_t left = pm_objspace_destroy(sp);
    if (left) {
        snprintf(err, PM_ERR_LEN, "%s: %llu block(s) still live after the space was destroyed",
                 a->workload, (unsigned long long)left);
        return PM_PYRUN_FAIL;
    }
    out->ops = st.requests - req0;
    out->gc_ns = g[3];
    out->minflt = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt);
    *ns = t1 - t0;
    return PM_PYRUN_OK;
}

static int time_fresh(void *arg, void *outp, char err[PM_ERR_LEN])
{
    const struct time_args *a = arg;
    struct time_out *out = outp;
    const struct allocator_ops *bops;
    pm_heap_t *h = open_backend(a->backend_spec, a->o, &bops, err);
    if (!h)
        return PM_PYRUN_USAGE;
    uint64_t ns = 0;
    int rc = PM_PYRUN_OK;
    if (a->o->mode == PM_TIME_WARM)     /* the untimed pass on the same instance */
        rc = time_once(a, bops, h, out, &ns, err);
    if (rc == PM_PYRUN_OK)
        rc = time_once(a, bops, h, out, &ns, err);
    bops->destroy(h);
    out->ns_per_op = out->ops ? (double)ns / (double)out->ops : NAN;
    return rc;
}

int pm_pyrun_time(const char *workload, const char *backend_spec, double scale, uint64_t seed,
                  const struct pm_pyrun_opts *opts, struct pm_pyrun_result *res,
                  char err[PM_ERR_LEN])
{
    static const struct pm_pyrun_opts none;
    const struct pm_pyrun_opts *o = opts ? opts : &none;
    const struct pywl *wl;
    int rc = check_params(workload, scale, seed, &wl, err);
    if (rc)
        return rc;
    if (!res->measured) {
        result_identify(res, workload, backend_spec, scale, seed);
        result_reset_measure(res);
    }
    unsigned reps = o->reps ? o->reps : 1;
    double *ns = calloc(reps, sizeof *ns), *flt = calloc(reps, sizeof *flt);
    double *gcns = calloc(reps, sizeof *gcns);
    if (!ns || !gcns || !flt) {
        free(ns);
        free(gcns);
        free(flt);
        snprintf(err, PM_ERR_LEN, "pyrun: out of memory");
        return PM_PYRUN_FAIL;
    }
    struct time_args a = {.wl = wl, .workload = workload, .backend_spec = backend_spec, .o = o,
                          .cfg = {.flags = o->space_flags, .seed = seed, .gc = o->gc},
                          .params = {scale, seed}};
    uint64_t ops = 0;
    for (unsigned i = 0; i < reps; i++) {
        struct time_out out;
        rc = pm_fresh_call(time_fresh, &a, &out, sizeof out, NULL, err);
        if (rc)
            break;
        ops = out.ops;
        ns[i] = out.ns_per_op;
        flt[i] = out.ops ? (double)out.minflt / (double)out.ops : NAN;
        gcns[i] = (double)out.gc_ns;
        if (i < sizeof res->ns_per_op_rep / sizeof res->ns_per_op_rep[0])
            res->ns_per_op_rep[i] = ns[i];
    }
    if (rc == PM_PYRUN_OK) {
        res->reps = reps;
        res->mode = o->mode;
        res->ops = ops;
        res->ns_per_op = pm_median(ns, reps);
        res->minflt_per_op = pm_median(flt, reps);
        qsort(ns, reps, sizeof *ns, cmp_double);
        res->ns_per_op_min = ns[0];
        res->ns_per_op_max = ns[reps - 1];
        res->gc_time_ns = (uint64_t)pm_median(gcns, reps);
    }
    free(ns);
    free(gcns);
    free(flt);
    return rc;
}

/* ---- output ---- */

static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void add_u64(cJSON *o, const char *k, uint64_t v, bool known)
{
    if (known && v != PM_STAT_NA)
        cJSON_AddNumberToObject(o, k, (double)v);
    else
        cJSON_AddNullToObject(o, k);
}

cJSON *pm_pyrun_json(const struct pm_pyrun_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool m = r->measured;
    cJSON_AddStringToObject(o, "backend", r->backend);
    cJSON_AddStringToObject(o, "workload", r->workload);
    add_u64(o, "ops", r->ops, m || r->reps);
    cJSON_AddNumberToObject(o, "reps", r->reps);
    add_num(o, "ns_per_op", r->reps ? r->ns_per_op : NAN);
    add_num(o, "ns_per_op_min", r->reps ? r->ns_per_op_min : NAN);
    add_num(o, "ns_per_op_max", r->reps ? r->ns_per_op_max : NAN);
    if (r->reps) {
        unsigned n = r->reps < 64 ? r->reps : 64;
        struct pm_ci ci;
        pm_ci_median(r->ns_per_op_rep, n, &ci);
        add_num(o, "ns_per_op_ci_lo", ci.lo);
        add_num(o, "ns_per_op_ci_hi", ci.hi);
        add_num(o, "ci_level", ci.level);
        cJSON *arr = cJSON_AddArrayToObject(o, "ns_per_op_reps");
        for (unsigned i = 0; arr && i < n; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(r->ns_per_op_rep[i]));
        add_num(o, "minflt_per_op", r->minflt_per_op);
    }
    cJSON_AddStringToObject(o, "time_mode", pm_time_mode_name((enum pm_time_mode)r->mode));
    add_u64(o, "peak_live_bytes", r->peak_live_bytes, m);
    add_u64(o, "final_live_bytes", r->final_live_bytes, m);
    add_u64(o, "peak_footprint_bytes", r->peak_footprint_bytes, m);
    add_u64(o, "final_footprint_bytes", r->final_footprint_bytes, m);
    add_num(o, "frag4", m ? r->frag4 : NAN);
    add_num(o, "frag3", m ? r->frag3 : NAN);
    add_num(o, "frag_at_peak_live", m ? r->frag_at_peak_live : NAN);
    add_num(o, "retention", m ? r->retention : NAN);
    add_num(o, "retention_trimmed", m ? r->retention_trimmed : NAN);
    add_u64(o, "backend_peak_mapped_bytes", r->backend_peak_mapped_bytes, m);
    add_u64(o, "gc_collections", r->gc_collections, m);
    add_u64(o, "gc_collected", r->gc_collected, m);
    add_u64(o, "gc_uncollectable", r->gc_uncollectable, m);
    add_u64(o, "gc_time_ns", r->gc_time_ns, m || r->reps);
    /* issue 20 */
    if (m) {
        cJSON_AddStringToObject(o, "gc", r->gc);
        add_u64(o, "gc_pauses", r->gc_pauses, true);
        add_num(o, "gc_pause_p50_ns", r->gc_pause_p50_ns);
        add_num(o, "gc_pause_p99_ns", r->gc_pause_p99_ns);
        add_u64(o, "gc_pause_max_ns", r->gc_pause_max_ns, true);
        add_u64(o, "gc_pause_total_ns", r->gc_pause_total_ns, true);
        add_u64(o, "gc_examined", r->gc_examined, true);
        add_u64(o, "gc_examined_max", r->gc_examined_max, true);
        add_u64(o, "gc_examined_bytes", r->gc_examined_bytes, r->gc_examined_bytes != PM_STAT_NA);
        add_u64(o, "gc_peak_garbage_held_bytes", r->gc_peak_garbage_held_bytes,
                r->gc_peak_garbage_held_bytes != PM_STAT_NA);
    }
    /* a seed above 2^53 does not fit a JSON number exactly: write it as a string then */
    if (r->seed <= (UINT64_C(1) << 53))
        cJSON_AddNumberToObject(o, "seed", (double)r->seed);
    else {
        char s[24];
        snprintf(s, sizeof s, "%llu", (unsigned long long)r->seed);
        cJSON_AddStringToObject(o, "seed", s);
    }
    cJSON_AddNumberToObject(o, "scale", r->scale);
    pm_lat_json(o, &r->latency);
    return o;
}

int pm_pyrun_write_series(FILE *f, const struct pm_pyrun_result *r, char err[PM_ERR_LEN])
{
    bool held = r->gc_peak_garbage_held_bytes != PM_STAT_NA && r->measured;
    fprintf(f, "op,live_bytes,footprint_bytes,mapped_bytes,mark%s\n",
            held ? ",garbage_held_bytes" : "");
    for (size_t i = 0; i < r->nseries; i++) {
        const struct pm_pyrun_sample *s = &r->series[i];
        fprintf(f, "%llu,%llu,%llu,", (unsigned long long)s->op,
                (unsigned long long)s->live_bytes, (unsigned long long)s->footprint_bytes);
        if (s->mapped_bytes != PM_STAT_NA)
            fprintf(f, "%llu", (unsigned long long)s->mapped_bytes);
        switch (s->mark) {
        case PM_PYRUN_PHASE: fprintf(f, ",phase:%s", r->phases[s->phase].name); break;
        case PM_PYRUN_PEAK_LIVE: fprintf(f, ",peak_live"); break;
        case PM_PYRUN_END: fprintf(f, ",end"); break;
        default: fprintf(f, ","); break;
        }
        if (held && s->garbage_held_bytes != PM_STAT_NA)
            fprintf(f, ",%llu", (unsigned long long)s->garbage_held_bytes);
        else if (held)
            fprintf(f, ",");
        fprintf(f, "\n");
    }
    errno = 0;
    if (fflush(f) || ferror(f)) {   /* (a failed earlier write leaves ENOSPC in the stream's next flush) */
        snprintf(err, PM_ERR_LEN, "cannot write the series: %s", strerror(errno ? errno : EIO));
        return PM_PYRUN_FAIL;
    }
    return PM_PYRUN_OK;
}

void pm_pyrun_result_free(struct pm_pyrun_result *r)
{
    free(r->series);
    r->series = NULL;
    free(r->gc_pause_ns);
    r->gc_pause_ns = NULL;
    r->nseries = 0;
}
