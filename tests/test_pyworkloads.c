/* tests/test_pyworkloads.c — the Python-like workloads (workloads/python/)
 * and their measurement (harness/engine/pyrun.c).
 *
 *  - every workload is deterministic for a seed: the request stream recorded
 *    through a wrapper over `system` is the same twice, the same over the
 *    test-local OS-backed backend, and different for another seed;
 *  - every workload runs on `system`, on every own backend of the registry
 *    and on test-osbump, calls its hooks as documented (phases, samples, the
 *    end hook once), keeps the space consistent, and leaves nothing alive
 *    once the space is destroyed;
 *  - a backend that starts refusing requests half-way makes the run fail
 *    with MemoryError and nothing leaks;
 *  - each workload does what its paragraph in docs/workloads.md says
 *    (survivors keeps ~1%, cycles feeds the collector, build reallocs, ...);
 *  - pm_pyrun_measure / pm_pyrun_time: figures consistent with their
 *    definitions, M(t) from the OS layer, bad input rejected.
 *
 * Scales are small (a few hundred thousand requests per run).
 */
#include "pm_objtest.h"
#include "pyrun.h"
#include "python/pywl.h"

#include <cjson/cJSON.h>
#include <math.h>

/* A small scale per workload: about 100k-300k requests. */
static double test_scale(const char *name)
{
    static const struct { const char *name; double scale; } t[] = {
        {"json", 0.01}, {"compiler", 0.02}, {"web", 0.01}, {"cycles", 0.01},
        {"build", 0.01}, {"survivors", 0.02}, {"churn", 0.02}, {"service", 0.05},
        {"bigheap", 0.01},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(t[i].name, name))
            return t[i].scale;
    return 0.01;
}

/* ---- what the hooks saw ---- */

#define MAXPH 16
struct seen {
    pm_objspace_t *sp;
    int samples, ends;
    int nph;
    const char *ph[MAXPH];
    uint64_t ph_live[MAXPH];        /* L when the phase started */
    uint64_t ph_max[MAXPH];         /* max L seen by the sampling hook in the phase */
    uint64_t ph_ops[MAXPH];         /* requests when the phase started */
    uint64_t end_live, end_ops;
    int64_t end_collected;          /* the collector's total at the end hook */
};

static uint64_t live_now(pm_objspace_t *sp, uint64_t *requests)
{
    struct pm_objspace_stats st;
    pm_objspace_counters(sp, &st);
    if (requests)
        *requests = st.requests;
    return st.live_bytes;
}

static void seen_sample(void *ctx)
{
    struct seen *s = ctx;
    s->samples++;
    uint64_t l = live_now(s->sp, NULL);
    if (s->nph && l > s->ph_max[s->nph - 1])
        s->ph_max[s->nph - 1] = l;
}

static void seen_phase(void *ctx, const char *name)
{
    struct seen *s = ctx;
    assert_true(s->nph < MAXPH);
    s->ph[s->nph] = name;
    s->ph_live[s->nph] = s->ph_max[s->nph] = live_now(s->sp, &s->ph_ops[s->nph]);
    s->nph++;
}

static void seen_end(void *ctx)
{
    struct seen *s = ctx;
    s->ends++;
    s->end_live = live_now(s->sp, &s->end_ops);
    struct pm_gc_gen_stats gs[3];
    pm_gc_get_stats(s->sp, gs);
    s->end_collected = (int64_t)(gs[0].collected + gs[1].collected + gs[2].collected);
}

static int seen_find(const struct seen *s, const char *name)
{
    for (int i = 0; i < s->nph; i++)
        if (!strcmp(s->ph[i], name))
            return i;
    fail_msg("phase '%s' never marked", name);
    return -1;
}

/* Runs workload `wl` on an open space with the recording hooks. */
static int run_seen(const struct pywl *wl, pm_objspace_t *sp, double scale, uint64_t seed,
                    struct seen *s, char err[PM_ERR_LEN])
{
    memset(s, 0, sizeof *s);
    s->sp = sp;
    struct pywl_hooks h = {.ctx = s, .sample = seen_sample, .phase = seen_phase,
                           .end = seen_end};
    struct pywl_params p = {scale, seed};
    return pywl_run(wl, sp, &p, &h, err);
}

/* ---- every workload on one backend ---- */

static const char *spec;

static void test_runs_clean(void **state)
{
    (void)state;
    for (const struct pywl *const *w = pywl_all; *w; w++) {
        struct pmo_env e;
        pmo_env_open(&e, spec, NULL);
        struct seen s;
        char err[PM_ERR_LEN];
        int rc = run_seen(*w, e.sp, test_scale((*w)->name), 7, &s, err);
        if (rc)
            fail_msg("%s on %s: %s", (*w)->name, spec, err);
        assert_int_equal(s.ends, 1);
        assert_true(s.nph >= 1);
        assert_true(s.samples >= 10);
        assert_true(s.ph_ops[0] <= s.end_ops);
        for (int i = 1; i < s.nph; i++)
            assert_true(s.ph_ops[i - 1] <= s.ph_ops[i]);
        /* the workload holds nothing but its cyclic garbage */
        assert_int_equal(pm_objspace_error(e.sp, NULL), PM_ERR_NONE);
        pm_gc_collect(e.sp, 2);
        struct pm_objspace_stats st;
        pm_objspace_stats(e.sp, &st);
        if (st.objects_alive != 0)
            fail_msg("%s on %s: %llu objects alive after the run and a collection",
                     (*w)->name, spec, (unsigned long long)st.objects_alive);
        pmo_env_close(&e);      /* check, destroy == 0 left, backend check */
    }
}

/* ---- determinism ---- */

struct recrun {
    const struct allocator_ops *in;
    pm_heap_t *ih;
    struct pmo_rec *rec;
    pm_objspace_t *sp;
};

static void record_gc(struct recrun *r, const char *s, const struct pywl *wl, uint64_t seed,
                      const char *gc);

static void record(struct recrun *r, const char *s, const struct pywl *wl, uint64_t seed)
{
    record_gc(r, s, wl, seed, NULL);
}

/* As record, under the collector `gc` (NULL: the default). */
static void record_gc(struct recrun *r, const char *s, const struct pywl *wl, uint64_t seed,
                      const char *gc)
{
    if (!strcmp(s, "test-osbump")) {
        struct pm_config c = {0};
        char e[PM_ERR_LEN];
        r->in = &pmo_osbump_ops;
        r->ih = pmo_osbump_create(&c, e);
    } else {
        r->ih = pmt_create(s, &r->in);
    }
    r->rec = pmo_rec_new(r->in, r->ih);
    char err[PM_ERR_LEN];
    struct pm_objspace_config cfg = {.seed = seed, .gc = gc};
    r->sp = pm_objspace_create(&pmo_rec_ops, (pm_heap_t *)r->rec, &cfg, err);
    assert_non_null(r->sp);
    struct pywl_params p = {test_scale(wl->name), seed};
    if (pywl_run(wl, r->sp, &p, NULL, err))
        fail_msg("%s: %s", wl->name, err);
    if (pm_objspace_destroy(r->sp))
        fail_msg("%s: blocks left after destroy", wl->name);
}

static void record_free(struct recrun *r)
{
    r->in->destroy(r->ih);
    pmo_rec_delete(r->rec);
}

/* Index of the first differing event, or SIZE_MAX if the streams are equal. */
static size_t first_diff(const struct pmo_rec *a, const struct pmo_rec *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        const struct pmo_event *x = &a->ev[i], *y = &b->ev[i];
        if (x->op != y->op || x->dom != y->dom || x->id != y->id || x->size != y->size)
            return i;
    }
    return a->n == b->n ? SIZE_MAX : n;
}

static void test_deterministic(void **state)
{
    (void)state;
    for (const struct pywl *const *w = pywl_all; *w; w++) {
        struct recrun a, b, c, d;
        record(&a, "system", *w, 3);
        record(&b, "system", *w, 3);
        record(&c, "test-osbump", *w, 3);
        record(&d, "system", *w, 4);
        size_t ab = first_diff(a.rec, b.rec), ac = first_diff(a.rec, c.rec);
        size_t ad = first_diff(a.rec, d.rec);
        size_t n = a.rec->n;
        record_free(&a);
        record_free(&b);
        record_free(&c);
        record_free(&d);
        if (ab != SIZE_MAX)
            fail_msg("%s: two runs with seed 3 differ at request %zu", (*w)->name, ab);
        if (ac != SIZE_MAX)
            fail_msg("%s: system and test-osbump differ at request %zu", (*w)->name, ac);
        if (ad == SIZE_MAX)
            fail_msg("%s: seeds 3 and 4 give the same stream", (*w)->name);
        if (n < 50000)
            fail_msg("%s: only %zu requests at the test scale", (*w)->name, n);
    }
}

/* issue 20: the same workload under the same collector makes the same
 * request stream, for every collector (the workloads that exercise the
 * collector); and a collector changes the stream where it frees at other
 * times (service: cycles are freed by each collector's own schedule). */
static void test_deterministic_per_collector(void **state)
{
    (void)state;
    static const char *const wls[] = {"service", "bigheap", "cycles"};
    const char *const *gcs = pm_gc_collector_names();
    for (size_t i = 0; i < sizeof wls / sizeof wls[0]; i++) {
        const struct pywl *w = pywl_find(wls[i]);
        assert_non_null(w);
        for (const char *const *g = gcs; *g; g++) {
            struct recrun a, b;
            record_gc(&a, "system", w, 3, *g);
            record_gc(&b, "system", w, 3, *g);
            size_t ab = first_diff(a.rec, b.rec);
            record_free(&a);
            record_free(&b);
            if (ab != SIZE_MAX)
                fail_msg("%s under %s: two runs with seed 3 differ at request %zu", w->name, *g, ab);
        }
        if (!strcmp(w->name, "service")) {
            struct recrun a, b;
            record_gc(&a, "system", w, 3, "gen311");
            record_gc(&b, "system", w, 3, "inc314");
            size_t ab = first_diff(a.rec, b.rec);
            record_free(&a);
            record_free(&b);
            if (ab == SIZE_MAX)
                fail_msg("service: gen311 and inc314 make the same stream (is the collector used?)");
        }
    }
}

/* ---- MemoryError half-way: the run fails cleanly ---- */

static void test_memoryerror_midway(void **state)
{
    (void)state;
    for (const struct pywl *const *w = pywl_all; *w; w++) {
        for (int frac = 1; frac <= 3; frac++) {
            struct pmo_env e;
            pmo_env_open(&e, "system", NULL);
            struct pmo_fail f = {.in = e.ops, .ih = e.heap};
            char err[PM_ERR_LEN];
            pm_objspace_t *sp = pm_objspace_create(&pmo_fail_ops, (pm_heap_t *)&f, NULL, err);
            assert_non_null(sp);
            /* requests of a full run, counted on a first space */
            static uint64_t total[16];
            size_t wi = (size_t)(w - pywl_all);
            if (!total[wi]) {
                struct seen s;
                assert_int_equal(run_seen(*w, sp, test_scale((*w)->name), 7, &s, err), 0);
                total[wi] = f.calls;
                pm_objspace_destroy(sp);
                sp = pm_objspace_create(&pmo_fail_ops, (pm_heap_t *)&f, NULL, err);
                assert_non_null(sp);
            }
            f.fail_from = f.calls + total[wi] * (uint64_t)frac / 4;
            struct seen s;
            int rc = run_seen(*w, sp, test_scale((*w)->name), 7, &s, err);
            if (rc != -1)
                fail_msg("%s: no failure with requests failing from %d/4", (*w)->name, frac);
            if (!strstr(err, "MemoryError"))
                fail_msg("%s: error '%s' is not MemoryError", (*w)->name, err);
            assert_int_equal(s.ends, 0);
            f.fail_from = 0;
            pmo_check(sp);
            uint64_t left = pm_objspace_destroy(sp);
            if (left)
                fail_msg("%s: %llu block(s) leaked after a MemoryError at %d/4", (*w)->name,
                         (unsigned long long)left, frac);
            pmo_env_close(&e);
        }
    }
}

/* ---- what each workload's paragraph says ---- */

static const struct pywl *wl_named(const char *name)
{
    const struct pywl *w = pywl_find(name);
    assert_non_null(w);
    return w;
}

/* survivors: after the free phase about 1% of the peak is live; it stays so
 * through the quiet phase. (Free lists off: they would keep up to 2000
 * freed tuples on top, 1.5% at this scale, 0.07% at scale 1.) */
static void test_survivors_keeps_one_percent(void **state)
{
    (void)state;
    struct pmo_env e;
    struct pm_objspace_config cfg = {.flags = PM_OBJ_NO_FREELISTS};
    pmo_env_open(&e, "system", &cfg);
    struct seen s;
    char err[PM_ERR_LEN];
    assert_int_equal(run_seen(wl_named("survivors"), e.sp, 0.05, 1, &s, err), 0);
    int a = seen_find(&s, "alloc"), q = seen_find(&s, "quiet");
    seen_find(&s, "free");
    uint64_t base = s.ph_live[a];
    double peak = (double)(s.ph_live[seen_find(&s, "free")] - base);
    double kept = (double)(s.ph_live[q] - base) / peak;
    double at_end = (double)(s.end_live - base) / peak;
    if (kept < 0.007 || kept > 0.015)
        fail_msg("survivors keeps %.4f of the peak after the free phase, want ~0.01", kept);
    if (fabs(at_end - kept) > 0.002)
        fail_msg("survivors: live moved from %.4f to %.4f during the quiet phase", kept, at_end);
    pmo_env_close(&e);
}

/* cycles: the collector frees most of the nodes (strong documents are
 * cyclic garbage); weakref documents are freed without it. */
static void test_cycles_feeds_collector(void **state)
{
    (void)state;
    struct pmo_env e;
    pmo_env_open(&e, "system", NULL);
    struct seen s;
    char err[PM_ERR_LEN];
    /* the scale at which full collections have run a few times */
    assert_int_equal(run_seen(wl_named("cycles"), e.sp, 0.1, 1, &s, err), 0);
    seen_find(&s, "steady");
    struct pm_gc_gen_stats gs[3];
    pm_gc_get_stats(e.sp, gs);
    if (s.end_collected < 1000)
        fail_msg("cycles: the collector freed only %lld objects", (long long)s.end_collected);
    /* the dropped documents are all collectable: nothing uncollectable */
    assert_int_equal(gs[0].uncollectable + gs[1].uncollectable + gs[2].uncollectable, 0);
    /* and the last documents, dropped at the teardown, are cyclic garbage */
    int64_t got = pm_gc_collect(e.sp, 2);
    assert_true(got > 100);
    pmo_env_close(&e);
}

/* build: list growth is realloc; concatenation makes strs of ever larger
 * sizes, through the large-block path. */
static void test_build_reallocs(void **state)
{
    (void)state;
    struct recrun r;
    record(&r, "system", wl_named("build"), 5);
    size_t reallocs = 0, grow = 0;
    uint64_t largest_obj = 0;
    for (size_t i = 0; i < r.rec->n; i++) {
        const struct pmo_event *ev = &r.rec->ev[i];
        if (ev->op == 'r')
            reallocs++;
        if (ev->op == 'r' && i && ev->size > 512)
            grow++;
        if ((ev->op == 'M' || ev->op == 'm') && ev->size > largest_obj)
            largest_obj = ev->size;
    }
    record_free(&r);
    if (reallocs < 200)
        fail_msg("build: only %zu reallocs", reallocs);
    if (grow < 20)
        fail_msg("build: only %zu reallocs above 512 bytes", grow);
    if (largest_obj < 4096)
        fail_msg("build: largest object %llu bytes: no large strs",
                 (unsigned long long)largest_obj);
}

/* json: the large phase is a peak well above the small phases, and memory
 * comes back down after it (live, not footprint). */
static void test_json_phases(void **state)
{
    (void)state;
    struct pmo_env e;
    pmo_env_open(&e, "system", NULL);
    struct seen s;
    char err[PM_ERR_LEN];
    assert_int_equal(run_seen(wl_named("json"), e.sp, 0.02, 1, &s, err), 0);
    assert_int_equal(s.nph, 3);
    assert_string_equal(s.ph[0], "small");
    assert_string_equal(s.ph[1], "large");
    assert_string_equal(s.ph[2], "small");
    uint64_t base = s.ph_live[0];
    uint64_t small = s.ph_max[0] - base, large = s.ph_max[1] - base;
    if (large < 10 * small)
        fail_msg("json: large phase peak %llu vs small %llu", (unsigned long long)large,
                 (unsigned long long)small);
    assert_true(s.end_live - base < large / 10);
    pmo_env_close(&e);
}

/* web: the cache fills, then evictions keep it (and live bytes) bounded. */
static void test_web_cache_bounded(void **state)
{
    (void)state;
    struct pmo_env e;
    pmo_env_open(&e, "system", NULL);
    struct seen s;
    char err[PM_ERR_LEN];
    assert_int_equal(run_seen(wl_named("web"), e.sp, 0.05, 1, &s, err), 0);
    int st = seen_find(&s, "steady"), rf = seen_find(&s, "refill");
    assert_true(st < rf);
    /* steady state: live at most a little above where it was when the cache filled */
    if ((double)s.ph_max[st] > 1.15 * (double)s.ph_live[st])
        fail_msg("web: live grew from %llu to %llu while the cache was full",
                 (unsigned long long)s.ph_live[st], (unsigned long long)s.ph_max[st]);
    /* cache_clear() dropped the cache (1000 entries at this scale): the
     * collector freed its ring of links and the records they held */
    if (s.end_collected < 1000)
        fail_msg("web: the collector freed %lld objects", (long long)s.end_collected);
    pmo_env_close(&e);
}

/* compiler: the symbol table lives across modules (live grows in the initial
 * phase, then holds), and every module leaves scopes as cyclic garbage. */
static void test_compiler_symtab(void **state)
{
    (void)state;
    struct pmo_env e;
    pmo_env_open(&e, "system", NULL);
    struct seen s;
    char err[PM_ERR_LEN];
    assert_int_equal(run_seen(wl_named("compiler"), e.sp, 0.04, 1, &s, err), 0);
    int in = seen_find(&s, "initial"), inc = seen_find(&s, "incremental");
    uint64_t grown = s.ph_live[inc] - s.ph_live[in];
    assert_true(grown > 100000);
    double drift = (double)s.end_live / (double)s.ph_live[inc];
    if (drift < 0.8 || drift > 1.25)
        fail_msg("compiler: live went from %llu to %llu in the incremental phase",
                 (unsigned long long)s.ph_live[inc], (unsigned long long)s.end_live);
    assert_true(s.end_collected > 100);
    pmo_env_close(&e);
}

/* churn: ramp, steady, drain; the drain leaves about a tenth (free lists
 * off, as they would keep 2000 popped entries on top at this small scale). */
static void test_churn_drain(void **state)
{
    (void)state;
    struct pmo_env e;
    struct pm_objspace_config cfg = {.flags = PM_OBJ_NO_FREELISTS};
    pmo_env_open(&e, "system", &cfg);
    struct seen s;
    char err[PM_ERR_LEN];
    assert_int_equal(run_seen(wl_named("churn"), e.sp, 0.05, 1, &s, err), 0);
    seen_find(&s, "ramp");
    seen_find(&s, "steady");
    int d = seen_find(&s, "drain");
    double left = (double)s.end_live / (double)s.ph_live[d];
    if (left < 0.03 || left > 0.3)
        fail_msg("churn: the drain left %.3f of the live bytes", left);
    pmo_env_close(&e);
}

/* ---- the measurement ---- */

static void test_pyrun_measure_osbump(void **state)
{
    (void)state;
    struct pm_pyrun_opts o = {.ops = &pmo_osbump_ops, .reps = 2};
    struct pm_pyrun_result r;
    pm_pyrun_result_init(&r);
    char err[PM_ERR_LEN];
    int rc = pm_pyrun_measure("survivors", "test-osbump", 0.05, 1, &o, &r, err);
    if (rc)
        fail_msg("measure: %s", err);
    assert_true(r.measured);
    assert_true(r.rec.ops > 100000);
    assert_true(r.nseries > 100);
    assert_true(r.rec.peak_live_bytes >= r.rec.final_live_bytes);
    assert_true(r.rec.peak_footprint_bytes >= r.rec.final_footprint_bytes);
    assert_true(r.rec.backend_peak_mapped_bytes != PM_STAT_NA);
    assert_true(r.rec.backend_peak_mapped_bytes >= r.rec.peak_live_bytes);
    /* the series: op order, M known, marks for each phase, the peak and the end */
    int phases = 0, peaks = 0, ends = 0;
    uint64_t maxf = 0;
    for (size_t i = 0; i < r.nseries; i++) {
        const struct pm_pyrun_sample *s = &r.series[i];
        if (i)
            assert_true(s->op >= r.series[i - 1].op);
        assert_true(s->mapped_bytes != PM_STAT_NA);
        assert_true(s->live_bytes <= r.rec.peak_live_bytes);
        if (s->footprint_bytes > maxf)
            maxf = s->footprint_bytes;
        phases += s->mark == PM_PYRUN_PHASE;
        peaks += s->mark == PM_PYRUN_PEAK_LIVE;
        ends += s->mark == PM_PYRUN_END;
    }
    assert_int_equal(phases, 3);
    assert_int_equal((int)r.nphases, 3);
    assert_int_equal(peaks, 1);
    assert_int_equal(ends, 1);
    assert_true(maxf <= r.rec.peak_footprint_bytes);
    assert_string_equal(r.phases[2].name, "quiet");
    /* the definitions */
    assert_true(fabs(r.rec.frag4 - ((double)r.rec.peak_footprint_bytes / (double)r.rec.peak_live_bytes - 1))
                < 1e-9);
    assert_true(fabs(r.rec.retention - (double)r.rec.final_footprint_bytes /
                                       (double)r.rec.peak_footprint_bytes) < 1e-9);
    assert_true(r.rec.retention >= 0 && r.rec.retention <= 1);
    /* the timed runs make the same requests, but for the teardown after the
     * final collection (which emptied the free lists) */
    uint64_t measured_ops = r.rec.ops;
    rc = pm_pyrun_time("survivors", "test-osbump", 0.05, 1, &o, &r, err);
    if (rc)
        fail_msg("time: %s", err);
    assert_int_equal(r.reps, 2);
    uint64_t diff = r.rec.ops > measured_ops ? r.rec.ops - measured_ops : measured_ops - r.rec.ops;
    if (diff > measured_ops / 100)
        fail_msg("timed runs made %llu requests, the measured one %llu",
                 (unsigned long long)r.rec.ops, (unsigned long long)measured_ops);
    assert_true(r.rec.ns_per_op > 0 && r.ns_per_op_min <= r.rec.ns_per_op && r.rec.ns_per_op <= r.ns_per_op_max);
    cJSON *j = pm_pyrun_json(&r);
    assert_non_null(j);
    static const char *const keys[] = {
        "backend", "workload", "ops", "reps", "ns_per_op", "ns_per_op_min", "ns_per_op_max",
        "peak_live_bytes", "final_live_bytes", "peak_footprint_bytes", "final_footprint_bytes",
        "frag4", "frag3", "frag_at_peak_live", "retention", "retention_trimmed",
        "backend_peak_mapped_bytes", "gc_collections", "gc_collected", "gc_uncollectable",
        "gc_time_ns", "seed", "scale"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(j, keys[i]))
            fail_msg("JSON key '%s' missing", keys[i]);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "backend_peak_mapped_bytes")));
    cJSON_Delete(j);
    /* the series as CSV: header and one line per sample */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(pm_pyrun_write_series(f, &r, err), 0);
    fclose(f);
    assert_true(!strncmp(buf, "op,live_bytes,footprint_bytes,mapped_bytes,mark\n", 48));
    size_t lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, r.nseries + 1);
    assert_non_null(strstr(buf, ",phase:quiet\n"));
    free(buf);
    pm_pyrun_result_free(&r);
}

static void test_pyrun_measure_system(void **state)
{
    (void)state;
    struct pm_pyrun_result r;
    pm_pyrun_result_init(&r);
    char err[PM_ERR_LEN];
    int rc = pm_pyrun_measure("cycles", "system", 0.05, 1, NULL, &r, err);
    if (rc)
        fail_msg("measure: %s", err);
    assert_true(r.rec.gc_collections > 0 && r.rec.gc_collected > 0);
    assert_true(r.series[0].mapped_bytes == PM_STAT_NA);   /* no OS-layer account */
    assert_true(isnan(r.rec.ns_per_op));                       /* not timed */
    cJSON *j = pm_pyrun_json(&r);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "ns_per_op")));
    cJSON_Delete(j);
    pm_pyrun_result_free(&r);
}

static void test_pyrun_bad_input(void **state)
{
    (void)state;
    struct pm_pyrun_result r;
    pm_pyrun_result_init(&r);
    char err[PM_ERR_LEN];
    assert_int_equal(pm_pyrun_measure("nosuch", "system", 1, 1, NULL, &r, err), PM_PYRUN_USAGE);
    assert_string_equal(err, "unknown workload 'nosuch' (known: json, compiler, web, cycles, "
                             "build, survivors, churn, service, bigheap)");
    assert_int_equal(pm_pyrun_measure("json", "nosuch", 1, 1, NULL, &r, err), PM_PYRUN_USAGE);
    assert_non_null(strstr(err, "unknown backend 'nosuch'"));
    assert_int_equal(pm_pyrun_time("json", "system", 0, 1, NULL, &r, err), PM_PYRUN_USAGE);
    assert_non_null(strstr(err, "scale 0 out of range"));
    assert_int_equal(pm_pyrun_check("json", "system", 1e9, 1, NULL, err), PM_PYRUN_USAGE);
    assert_int_equal(pm_pyrun_check("json", "system", 1, 1, NULL, err), PM_PYRUN_OK);
    assert_null(r.series);
}

static int run_backend(const char *s)
{
    spec = s;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_runs_clean)};
    char name[128];
    snprintf(name, sizeof name, "pyworkloads[%s]", s);
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}

int main(void)
{
    const char *specs[32];
    size_t n = pmo_specs(specs, 30);
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += run_backend(specs[i]);
    failed += run_backend("test-osbump");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_deterministic_per_collector),
        cmocka_unit_test(test_memoryerror_midway),
        cmocka_unit_test(test_survivors_keeps_one_percent),
        cmocka_unit_test(test_cycles_feeds_collector),
        cmocka_unit_test(test_build_reallocs),
        cmocka_unit_test(test_json_phases),
        cmocka_unit_test(test_web_cache_bounded),
        cmocka_unit_test(test_compiler_symtab),
        cmocka_unit_test(test_churn_drain),
        cmocka_unit_test(test_pyrun_measure_osbump),
        cmocka_unit_test(test_pyrun_measure_system),
        cmocka_unit_test(test_pyrun_bad_input),
    };
    failed += cmocka_run_group_tests_name("pyworkloads", tests, NULL, NULL);
    return failed ? 1 : 0;
}
