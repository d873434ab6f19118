/* harness/engine/pyrun.c — a Python-like workload run live on a backend: the
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
#include "series.h"
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

void pm_pyrun_result_init(struct pm_pyrun_result *r)
{
    memset(r, 0, sizeof *r);
    pm_result_init(&r->rec);
    r->ns_per_op_min = r->ns_per_op_max = NAN;
    r->gc_examined_bytes = PM_STAT_NA;
}

static void result_identify(struct pm_pyrun_result *r, const char *workload,
                            const char *backend_spec, double scale, uint64_t seed)
{
    snprintf(r->rec.workload, sizeof r->rec.workload, "%s", workload);
    snprintf(r->rec.backend, sizeof r->rec.backend, "%s", backend_spec);
    r->rec.scale = scale;
    r->rec.seed = seed;
    snprintf(r->rec.time_mode, sizeof r->rec.time_mode, "%s",
             pm_time_mode_name((enum pm_time_mode)r->mode));
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
    struct pm_mem_points pts;       /* F(T), max L, trimmed F: the end hook's */
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
    r->rec.final_live_bytes = st.live_bytes;
    p->pts.final_footprint = s.footprint_bytes;
    p->pts.peak_live = st.peak_live_bytes;
    gc_totals(p->sp, p->gc);
    /* Own backends only, as in replay: a reference's stats() is a snapshot
     * taken now, not a peak over the run. */
    r->rec.backend_peak_mapped_bytes = p->os ? p->os->peak_mapped : PM_STAT_NA;
    p->end_requests = st.requests;
    p->ended = true;
    /* gc.collect() and the allocator's trim, with the long-lived state alive */
    pm_gc_collect(p->sp, 2);
    if (p->ops->trim)
        p->ops->trim(p->heap);
    pm_objspace_counters(p->sp, &st);
    p->harness_requests = st.requests - p->end_requests;
    uint64_t rss = pm_rss_anon_bytes();
    p->pts.trimmed_footprint = rss > p->baseline ? rss - p->baseline : 0;
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

static void result_reset_measure(struct pm_pyrun_result *r)
{
    free(r->series);
    r->series = NULL;
    free(r->gc_pause_ns);
    r->gc_pause_ns = NULL;
    r->nseries = 0;
    r->nphases = 0;
    r->measured = false;
    r->gc_npause = 0;
    r->gc_examined_bytes = PM_STAT_NA;
    /* the measured run's fields: null until it fills them */
    struct pm_result *c = &r->rec;
    c->peak_live_bytes = c->final_live_bytes = PM_STAT_NA;
    pm_result_no_memory(c);
    c->gc_collections = c->gc_collected = c->gc_uncollectable = PM_STAT_NA;
    c->gc[0] = 0;
    c->gc_pauses = c->gc_pause_max_ns = c->gc_pause_total_ns = PM_STAT_NA;
    c->gc_examined = c->gc_examined_max = c->gc_peak_garbage_held_bytes = PM_STAT_NA;
    c->gc_pause_p50_ns = c->gc_pause_p99_ns = NAN;
    struct pm_lat_summary none = {0};
    pm_result_set_latency(c, &none);
}

/* The probe of a measured run, its buffers allocated and touched now, so
 * that their pages are in the baseline. 0, or -1 with err. */
static int probe_init(struct probe *p, struct pm_pyrun_result *res, const struct pm_pyrun_opts *o,
                      char err[PM_ERR_LEN])
{
    *p = (struct probe){.res = res, .adaptive = o->sample_every == 0};
    p->every = o->sample_every ? o->sample_every : PM_PYRUN_FIRST_EVERY;
    p->cap = p->adaptive ? PM_PYRUN_SERIES_CAP : PM_PYRUN_SERIES_CAP_FIXED;
    p->rows = calloc(p->cap + 1, sizeof *p->rows);
    if (!p->rows) {
        snprintf(err, PM_ERR_LEN, "pyrun: out of memory for the series");
        return -1;
    }
    memset(p->rows, 0xff, (p->cap + 1) * sizeof *p->rows);
    p->pause = malloc(PM_PYRUN_MAX_PAUSES * sizeof *p->pause);
    if (!p->pause) {
        free(p->rows);
        snprintf(err, PM_ERR_LEN, "pyrun: out of memory for the pauses");
        return -1;
    }
    memset(p->pause, 0xff, PM_PYRUN_MAX_PAUSES * sizeof *p->pause);
    p->pause_stride = 1;
    p->gc_held = o->gc_held;
    return 0;
}

/* The measured run's collector figures (issue 20) into the record. */
static void record_gc(const struct probe *p, pm_objspace_t *sp, const struct pm_pyrun_opts *o,
                      struct pm_pyrun_result *res)
{
    struct pm_result *rec = &res->rec;
    rec->gc_collections = p->gc[0];
    rec->gc_collected = p->gc[1];
    rec->gc_uncollectable = p->gc[2];
    if (res->reps == 0)
        rec->gc_time_ns = p->gc[3];
    snprintf(rec->gc, sizeof rec->gc, "%s", pm_gc_collector(sp));
    rec->gc_pauses = p->pause_seen;
    rec->gc_pause_max_ns = p->pause_max;
    rec->gc_pause_total_ns = p->pause_total;
    rec->gc_examined = p->examined;
    rec->gc_examined_max = p->examined_max;
    res->gc_examined_bytes = o->gc_held ? p->examined_bytes : PM_STAT_NA;
    rec->gc_peak_garbage_held_bytes = o->gc_held ? p->held_peak : PM_STAT_NA;
    if (p->npause) {
        double *d = malloc(p->npause * sizeof *d);
        if (d) {
            for (size_t i = 0; i < p->npause; i++)
                d[i] = (double)p->pause[i];
            rec->gc_pause_p50_ns = pm_quantile(d, p->npause, 0.50);
            rec->gc_pause_p99_ns = pm_quantile(d, p->npause, 0.99);
            free(d);
        }
    }
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
        res->rec.ns_per_op = res->ns_per_op_min = res->ns_per_op_max = NAN;

    struct probe p;
    if (probe_init(&p, res, o, err))
        return PM_PYRUN_FAIL;
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
    if (wrc < 0 || !p.ended) {      /* a workload must call its end hook */
        close_run(sp, p.ops, h, workload, err);
        if (wrc < 0)
            run_error(err, workload, backend_spec, werr);
        else
            snprintf(err, PM_ERR_LEN, "%s: the workload did not mark its end", workload);
        free(p.rows);
        free(p.pause);
        free(wrap);
        return PM_PYRUN_FAIL;
    }
    struct pm_result *rec = &res->rec;
    rec->ops = st.requests - p.req0 - p.harness_requests;
    res->measure_wall_ns = t1 - t0;
    record_gc(&p, sp, o, res);
    res->gc_pause_ns = p.pause;
    res->gc_npause = p.npause;
    p.pause = NULL;
    rc = close_run(sp, p.ops, h, workload, err);
    if (wrap) {                     /* the teardown's requests are timed too */
        pm_lat_stop(&wrap->lat);
        struct pm_lat_summary lat;
        pm_lat_summarize(&wrap->lat, &lat);
        pm_result_set_latency(rec, &lat);
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
    p.pts.peak_footprint = p.at_fp.footprint_bytes;
    p.pts.live_at_peak_footprint = p.at_fp.live_bytes;
    p.pts.footprint_at_peak_live = p.at_live.footprint_bytes;
    p.pts.live_at_peak_live = p.at_live.live_bytes;
    pm_result_derive(rec, &p.pts);
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
    uint64_t ops, gc_ns, minflt, majflt;
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
    out->majflt = (uint64_t)(ru1.ru_majflt - ru0.ru_majflt);
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
    double *gcns = calloc(reps, sizeof *gcns), *mflt = calloc(reps, sizeof *mflt);
    if (!ns || !gcns || !flt || !mflt) {
        free(ns);
        free(gcns);
        free(flt);
        free(mflt);
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
        mflt[i] = out.ops ? (double)out.majflt / (double)out.ops : NAN;
        gcns[i] = (double)out.gc_ns;
        if (i < sizeof res->ns_per_op_rep / sizeof res->ns_per_op_rep[0])
            res->ns_per_op_rep[i] = ns[i];
    }
    if (rc == PM_PYRUN_OK) {
        res->reps = reps;
        res->mode = o->mode;
        snprintf(res->rec.time_mode, sizeof res->rec.time_mode, "%s",
                 pm_time_mode_name((enum pm_time_mode)o->mode));
        res->rec.ops = ops;
        pm_result_set_timing(&res->rec, ns, flt, mflt, reps);
        qsort(ns, reps, sizeof *ns, cmp_double);
        res->ns_per_op_min = ns[0];
        res->ns_per_op_max = ns[reps - 1];
        res->rec.gc_time_ns = (uint64_t)pm_median(gcns, reps);
    }
    free(ns);
    free(gcns);
    free(flt);
    free(mflt);
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
    unsigned have = (m ? PM_J_P_MEASURED : 0) | (r->reps ? PM_J_P_TIMED : 0);
    if (pm_result_json_add(o, &r->rec, PM_J_P, have)) {
        cJSON_Delete(o);
        return NULL;
    }
    /* what is not a record field: the reps and their interval, the bytes
     * examined, the seed (as a string above 2^53, where a JSON number is
     * not exact) */
    cJSON_AddNumberToObject(o, "reps", r->reps);
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
    }
    if (m)
        add_u64(o, "gc_examined_bytes", r->gc_examined_bytes, r->gc_examined_bytes != PM_STAT_NA);
    if (r->rec.seed <= (UINT64_C(1) << 53))
        cJSON_AddNumberToObject(o, "seed", (double)r->rec.seed);
    else {
        char s[24];
        snprintf(s, sizeof s, "%llu", (unsigned long long)r->rec.seed);
        cJSON_AddStringToObject(o, "seed", s);
    }
    return o;
}

int pm_pyrun_write_series(FILE *f, const struct pm_pyrun_result *r, char err[PM_ERR_LEN])
{
    bool held = r->rec.gc_peak_garbage_held_bytes != PM_STAT_NA && r->measured;
    unsigned cols = PM_SERIES_MARK | (held ? PM_SERIES_HELD : 0);
    pm_series_header(f, cols);
    for (size_t i = 0; i < r->nseries; i++) {
        const struct pm_pyrun_sample *s = &r->series[i];
        struct pm_series_row row = {.op = s->op, .live_bytes = s->live_bytes,
                                    .footprint_bytes = s->footprint_bytes,
                                    .mapped_bytes = s->mapped_bytes,
                                    .garbage_held_bytes = s->garbage_held_bytes};
        switch (s->mark) {
        case PM_PYRUN_PHASE:
            row.mark = "phase:";
            row.phase = r->phases[s->phase].name;
            break;
        case PM_PYRUN_PEAK_LIVE: row.mark = "peak_live"; break;
        case PM_PYRUN_END: row.mark = "end"; break;
        default: break;
        }
        pm_series_row(f, cols, &row);
    }
    return pm_series_flush(f, err) ? PM_PYRUN_FAIL : PM_PYRUN_OK;
}

void pm_pyrun_result_free(struct pm_pyrun_result *r)
{
    free(r->series);
    r->series = NULL;
    free(r->gc_pause_ns);
    r->gc_pause_ns = NULL;
    r->nseries = 0;
}
