/* harness/cli/figures.c — see figures.h. */
#include "figures.h"

#include "allocator.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the ok ns/op values of one (workload, backend) */
static size_t reps_of(const struct pm_result *rows, size_t n, const char *w, const char *b, double *out,
                      size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++)
        if (!strcmp(rows[i].workload, w) && !strcmp(rows[i].backend, b) && !strcmp(rows[i].status, "ok") &&
            isfinite(rows[i].ns_per_op))
            out[k++] = rows[i].ns_per_op;
    return k;
}

int pm_geomeans(const struct pm_result *rows, size_t n, const struct pm_summary *s, struct pm_geo *out)
{
    size_t nw = s->nworkloads ? s->nworkloads : 1;
    size_t cap = n ? n : 1;
    double *pool = malloc(2 * nw * cap * sizeof *pool);
    const double **a = calloc(nw, sizeof *a), **b = calloc(nw, sizeof *b);
    size_t *na = calloc(nw, sizeof *na), *nb = calloc(nw, sizeof *nb);
    int rc = -1;
    if (!pool || !a || !b || !na || !nb)
        goto done;
    for (size_t k = 0; k < s->nbackends; k++) {
        const char *be = s->backends[k];
        size_t used = 0;
        bool few = false;
        for (size_t w = 0; w < s->nworkloads; w++) {
            const char *base = pm_summary_baseline_for(s, s->workloads[w]);
            if (!base)
                continue;
            double *pa = pool + 2 * used * cap, *pb = pa + cap;
            size_t ka = reps_of(rows, n, s->workloads[w], be, pa, cap);
            size_t kb = reps_of(rows, n, s->workloads[w], base, pb, cap);
            if (!ka || !kb)
                continue;
            few |= ka < 2 || kb < 2;
            a[used] = pa;
            b[used] = pb;
            na[used] = ka;
            nb[used] = kb;
            used++;
        }
        pm_ci_geomean_ratio(a, na, b, nb, used, 0, &out[k].ci);
        out[k].indistinct = few || !isfinite(out[k].ci.lo) ||
                            (out[k].ci.lo <= 1.0 && out[k].ci.hi >= 1.0);
    }
    rc = 0;
done:
    free(pool);
    free(a);
    free(b);
    free(na);
    free(nb);
    return rc;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* "2026-12-07T02:40:48Z" -> "2026-12-07 02:40" */
static void when(const cJSON *v, char *buf, size_t len, bool date)
{
    if (!cJSON_IsString(v) || strlen(v->valuestring) < 16) {
        snprintf(buf, len, "?");
        return;
    }
    const char *t = v->valuestring;
    if (date)
        snprintf(buf, len, "%.10s %.5s", t, t + 11);
    else
        snprintf(buf, len, "%.5s", t + 11);
}

void pm_fig_stamp(const cJSON *prov, char *buf, size_t len)
{
    const cJSON *pm = get(prov, "pymemlab");
    const cJSON *commit = get(pm, "commit");
    const cJSON *sess = get(prov, "sessions");
    const cJSON *last = cJSON_IsArray(sess) ? cJSON_GetArrayItem(sess, cJSON_GetArraySize(sess) - 1) : NULL;
    const cJSON *first = cJSON_IsArray(sess) ? cJSON_GetArrayItem(sess, 0) : NULL;
    char c[16] = "?", t0[32], t1[32], load[64] = "load ?";
    if (cJSON_IsString(commit))
        snprintf(c, sizeof c, "%.7s", commit->valuestring);
    when(get(first, "started"), t0, sizeof t0, true);
    bool same_day = cJSON_IsString(get(first, "started")) && cJSON_IsString(get(last, "finished")) &&
                    !strncmp(get(first, "started")->valuestring, get(last, "finished")->valuestring, 10);
    when(get(last, "finished"), t1, sizeof t1, !same_day);
    const cJSON *l0 = get(last, "load_start"), *lm = get(last, "load_max");
    const cJSON *cpus = get(get(prov, "machine"), "cpus");
    if (cJSON_IsNumber(l0) && cJSON_IsNumber(lm))
        snprintf(load, sizeof load, "load %.1f-%.1f", l0->valuedouble, fmax(l0->valuedouble, lm->valuedouble));
    char cp[32] = "";
    if (cJSON_IsNumber(cpus))
        snprintf(cp, sizeof cp, " on %d CPUs", cpus->valueint);
    snprintf(buf, len, "pymemlab %s%s · %s-%s UTC · %s%s", c, cJSON_IsTrue(get(pm, "dirty")) ? "+dirty" : "", t0,
             t1, load, cp);
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

unsigned pm_fig_lat_every(const cJSON *prov, const struct pm_result *rows, size_t n)
{
    const cJSON *e = get(get(prov, "config"), "latency_every");
    if (cJSON_IsNumber(e) && e->valuedouble >= 1)
        return (unsigned)e->valuedouble;
    double *r = malloc((n ? n : 1) * sizeof *r);
    size_t k = 0;
    for (size_t i = 0; r && i < n; i++)
        if (!strcmp(rows[i].status, "ok") && rows[i].lat_samples != PM_STAT_NA && rows[i].lat_samples &&
            rows[i].ops != PM_STAT_NA)
            r[k++] = (double)rows[i].ops / (double)rows[i].lat_samples;
    unsigned every = 0;
    if (k) {
        qsort(r, k, sizeof *r, cmp_d);
        every = (unsigned)lround(r[k / 2]);
    }
    free(r);
    return every;
}

bool pm_fig_has_memory(const char *backend)
{
    return !(pm_backend_spec_flags(backend) & PM_BACKEND_NO_MEMORY);
}
