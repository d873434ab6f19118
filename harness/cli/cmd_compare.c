/* harness/cli/cmd_compare.c — `pymemlab compare DIR_A DIR_B [--json]`: two
 * results folders of the same workloads and backends (e.g. before and after
 * a change, or two machines), side by side.
 *
 * Per workload x backend: B/A = median ns/op of B's ok reps over A's, with
 * the bootstrap 95% interval of that ratio (stats.h pm_ci_ratio, fixed
 * seed); the verdict is "not distinguishable" when the interval holds 1,
 * else "slower" (lo > 1) or "faster" (hi < 1); fewer than 2 ok reps on a
 * side give no interval and no verdict ("too few reps"). Footprint: the
 * ratios B/A of the peak and final footprint (medians over the reps that
 * have them: the sampled run is rep 1's only, so these have no interval).
 * Each row also says how many reps of each side ran on a loaded machine
 * (column `loaded`): a verdict from loaded reps is to be read with care.
 *
 * The folders must hold the same workloads (by name, with the same
 * parameters) and the same backends, else one line naming the first
 * difference, exit 2. Only the latest record of each run counts
 * (pm_results_latest), as in `table`.
 */
#include "cli.h"
#include "opts.h"
#include "results.h"
#include "stats.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct side {
    const char *dir;
    struct pm_result *rows;
    size_t n;
    char commit[64], started[32];
};

static void load_side(struct side *s)
{
    struct stat st;
    if (stat(s->dir, &st) || !S_ISDIR(st.st_mode))
        pm_usage_error("compare: %s: not a results folder", s->dir);
    char err[PM_ERR_LEN];
    long partial;
    if (pm_results_load(s->dir, &s->rows, &s->n, &partial, err))
        pm_usage_error("compare: %s", err);
    if (!s->n)
        pm_usage_error("compare: %s: no results (results.jsonl missing or empty)", s->dir);
    s->n = pm_results_latest(s->rows, s->n);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/provenance.json", s->dir);
    snprintf(s->commit, sizeof s->commit, "unknown");
    cJSON *p = pm_read_json_file(path, err);
    if (p) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "pymemlab"), "commit");
        if (cJSON_IsString(c))
            snprintf(s->commit, sizeof s->commit, "%.12s", c->valuestring);
        const cJSON *ss = cJSON_GetObjectItemCaseSensitive(p, "sessions");
        const cJSON *first = cJSON_IsArray(ss) ? cJSON_GetArrayItem(ss, 0) : NULL;
        const cJSON *t = first ? cJSON_GetObjectItemCaseSensitive(first, "started") : NULL;
        if (cJSON_IsString(t))
            snprintf(s->started, sizeof s->started, "%.30s", t->valuestring);
        cJSON_Delete(p);
    }
}

/* The distinct values of a string column, in order of first appearance. */
static size_t distinct(const struct side *s, size_t off, const char **out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const char *v = (const char *)&s->rows[i] + off;
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++)
            seen = !strcmp(out[j], v);
        if (!seen && k < cap)
            out[k++] = v;
    }
    return k;
}

static const char *params_of(const struct side *s, const char *workload)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->rows[i].workload, workload))
            return s->rows[i].params;
    return NULL;
}

/* Exits 2 naming the first value of `what` one side has and the other lacks. */
static void same_set(const char *what, const struct side *a, const struct side *b, size_t off)
{
    enum { CAP = 4096 };
    static const char *va[CAP], *vb[CAP];
    size_t na = distinct(a, off, va, CAP), nb = distinct(b, off, vb, CAP);
    for (int pass = 0; pass < 2; pass++) {
        const char **x = pass ? vb : va, **y = pass ? va : vb;
        size_t nx = pass ? nb : na, ny = pass ? na : nb;
        for (size_t i = 0; i < nx; i++) {
            bool found = false;
            for (size_t j = 0; j < ny && !found; j++)
                found = !strcmp(x[i], y[j]);
            if (!found)
                pm_usage_error("compare: the folders differ: %s '%s' is in %s only", what, x[i],
                               pass ? b->dir : a->dir);
        }
    }
}

/* ns/op of the ok reps (and how many were loaded), footprints. */
static size_t collect(const struct side *s, const char *w, const char *bk, double *ns, size_t cap,
                      unsigned *loaded, double *peak_fp, double *final_fp)
{
    size_t k = 0, nf = 0, nfin = 0;
    double pf[64], ff[64];
    *loaded = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct pm_result *r = &s->rows[i];
        if (strcmp(r->workload, w) || strcmp(r->backend, bk) || strcmp(r->status, "ok"))
            continue;
        if (isfinite(r->ns_per_op) && k < cap) {
            ns[k++] = r->ns_per_op;
            if (r->loaded != PM_STAT_NA && r->loaded)
                (*loaded)++;
        }
        if (r->peak_footprint_bytes != PM_STAT_NA && nf < 64)
            pf[nf++] = (double)r->peak_footprint_bytes;
        if (r->final_footprint_bytes != PM_STAT_NA && nfin < 64)
            ff[nfin++] = (double)r->final_footprint_bytes;
    }
    *peak_fp = pm_median(pf, nf);
    *final_fp = pm_median(ff, nfin);
    return k;
}

static double ratio(double b, double a)
{
    return isfinite(a) && isfinite(b) && a > 0 ? b / a : NAN;
}

static void json_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static void fmt(char *buf, size_t len, const char *f, double v)
{
    if (isfinite(v))
        snprintf(buf, len, f, v);
    else
        snprintf(buf, len, "-");
}

static const struct pm_cli_opt compare_opts[] = {
    PM_CLI_OPT("json", 'j', PM_CLI_FLAG, NULL, NULL, "one JSON object instead of the text table"),
    {0},
};

const struct pm_cli_spec pm_spec_compare = {
    .name = "compare", .args = "DIR_A DIR_B", .opts = compare_opts,
    .summary = "compare two results folders (same workloads and backends): B/A ns/op with 95% intervals, "
               "footprint ratios",
};

/* One workload x backend pair compared. */
struct pair {
    const char *workload, *backend;
    size_t na, nb;              /* reps with a timing */
    unsigned la, lb;            /* of which loaded */
    double ma, mb;              /* median ns/op */
    struct pm_ci ci;            /* B/A */
    const char *verdict;
    double rp, rf;              /* B/A peak and final footprint */
};

/* The pair's figures; false if it did not run at all (null skips object
 * workloads). Counts the verdicts. */
static bool compare_pair(const struct side *a, const struct side *b, const char *w, const char *bk,
                         struct pair *p, unsigned *slower, unsigned *faster, unsigned *nd)
{
    double xa[256], xb[256], pfa, pfb, ffa, ffb;
    p->workload = w;
    p->backend = bk;
    p->na = collect(a, w, bk, xa, 256, &p->la, &pfa, &ffa);
    p->nb = collect(b, w, bk, xb, 256, &p->lb, &pfb, &ffb);
    bool present = false;   /* the pair ran at all (null skips object workloads) */
    for (size_t i = 0; i < a->n && !present; i++)
        present = !strcmp(a->rows[i].workload, w) && !strcmp(a->rows[i].backend, bk);
    if (!present)
        return false;
    p->ci = (struct pm_ci){0, NAN, NAN, NAN, NAN};
    if (!p->na || !p->nb) {
        p->verdict = "no data";
    } else {
        pm_ci_ratio(xb, p->nb, xa, p->na, 0, &p->ci);
        if (p->na < 2 || p->nb < 2) {
            p->ci.lo = p->ci.hi = NAN;
            p->verdict = "too few reps";
        } else if (!isfinite(p->ci.lo) || !isfinite(p->ci.hi)) {
            p->verdict = "no data";
        } else if (p->ci.lo <= 1.0 && p->ci.hi >= 1.0) {
            p->verdict = "not distinguishable";
            (*nd)++;
        } else if (p->ci.lo > 1.0) {
            p->verdict = "slower";
            (*slower)++;
        } else {
            p->verdict = "faster";
            (*faster)++;
        }
    }
    p->ma = pm_median(xa, p->na);
    p->mb = pm_median(xb, p->nb);
    p->rp = ratio(pfb, pfa);
    p->rf = ratio(ffb, ffa);
    return true;
}

static cJSON *pair_json(const struct pair *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "workload", p->workload);
    cJSON_AddStringToObject(o, "backend", p->backend);
    cJSON_AddNumberToObject(o, "reps_a", (double)p->na);
    cJSON_AddNumberToObject(o, "reps_b", (double)p->nb);
    json_num(o, "ns_per_op_a", p->ma);
    json_num(o, "ns_per_op_b", p->mb);
    json_num(o, "ratio", p->ci.med);
    json_num(o, "ratio_ci_lo", p->ci.lo);
    json_num(o, "ratio_ci_hi", p->ci.hi);
    cJSON_AddStringToObject(o, "verdict", p->verdict);
    json_num(o, "peak_footprint_ratio", p->rp);
    json_num(o, "final_footprint_ratio", p->rf);
    cJSON_AddNumberToObject(o, "loaded_a", p->la);
    cJSON_AddNumberToObject(o, "loaded_b", p->lb);
    return o;
}

static void pair_print(const struct pair *p)
{
    char sa[32], sb[32], sr[48], sp[16], sf[16], sl[24], lo_s[16], hi_s[16];
    fmt(sa, sizeof sa, "%.2f", p->ma);
    fmt(sb, sizeof sb, "%.2f", p->mb);
    fmt(lo_s, sizeof lo_s, "%.2f", p->ci.lo);
    fmt(hi_s, sizeof hi_s, "%.2f", p->ci.hi);
    if (isfinite(p->ci.med))
        snprintf(sr, sizeof sr, "%.2f [%s, %s]", p->ci.med, lo_s, hi_s);
    else
        snprintf(sr, sizeof sr, "-");
    fmt(sp, sizeof sp, "%.2f", p->rp);
    fmt(sf, sizeof sf, "%.2f", p->rf);
    snprintf(sl, sizeof sl, "%u/%zu %u/%zu", p->la, p->na, p->lb, p->nb);
    char reps[24];
    snprintf(reps, sizeof reps, "%zu/%zu", p->na, p->nb);
    printf("%-20s %-22s %5s %11s %11s  %-20s %-19s %8s %8s %8s\n", p->workload, p->backend, reps, sa, sb, sr,
           p->verdict, sp, sf, sl);
}

/* The JSON document's head (with --json), else the text table's header. */
static cJSON *print_head(bool json, const struct side *a, const struct side *b, cJSON **jrows)
{
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON *ja = cJSON_AddObjectToObject(root, "a"), *jb = cJSON_AddObjectToObject(root, "b");
        cJSON_AddStringToObject(ja, "dir", a->dir);
        cJSON_AddStringToObject(ja, "commit", a->commit);
        cJSON_AddStringToObject(ja, "started", a->started);
        cJSON_AddStringToObject(jb, "dir", b->dir);
        cJSON_AddStringToObject(jb, "commit", b->commit);
        cJSON_AddStringToObject(jb, "started", b->started);
        cJSON_AddNumberToObject(root, "ci_level", PM_CI_LEVEL);
        *jrows = cJSON_AddArrayToObject(root, "rows");
        return root;
    }
    printf("A: %s (commit %s%s%s)\nB: %s (commit %s%s%s)\n", a->dir, a->commit, a->started[0] ? ", " : "",
           a->started, b->dir, b->commit, b->started[0] ? ", " : "", b->started);
    printf("B/A: median ns/op of B over A's, 95%% bootstrap interval; an interval holding 1 is not "
           "distinguishable\n\n");
    printf("%-20s %-22s %5s %11s %11s  %-20s %-19s %8s %8s %8s\n", "workload", "backend", "reps",
           "A ns/op", "B ns/op", "B/A [95% CI]", "verdict", "peakfp", "finalfp", "loaded");
    return NULL;
}

int cmd_compare(int argc, char **argv)
{
    bool json = false;
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_compare, argc, argv, &v)) != -1)
        if (c == 'j')
            json = true;
    if (argc - optind != 2)
        pm_usage_error("compare: two results folders expected (compare DIR_A DIR_B [--json])");
    struct side a = {.dir = argv[optind]}, b = {.dir = argv[optind + 1]};
    load_side(&a);
    load_side(&b);
    same_set("workload", &a, &b, offsetof(struct pm_result, workload));
    same_set("backend", &a, &b, offsetof(struct pm_result, backend));
    enum { CAP = 4096 };
    static const char *ws[CAP], *bs[CAP];
    size_t nw = distinct(&a, offsetof(struct pm_result, workload), ws, CAP);
    size_t nb = distinct(&a, offsetof(struct pm_result, backend), bs, CAP);
    for (size_t i = 0; i < nw; i++) {
        const char *pa = params_of(&a, ws[i]), *pb = params_of(&b, ws[i]);
        if (pa && pb && strcmp(pa, pb))
            pm_usage_error("compare: the folders differ: workload '%s' has parameters '%s' in %s, '%s' in %s",
                           ws[i], pa, a.dir, pb, b.dir);
    }

    cJSON *jrows = NULL;
    cJSON *root = print_head(json, &a, &b, &jrows);
    unsigned slower = 0, faster = 0, nd = 0;
    for (size_t w = 0; w < nw; w++)
        for (size_t k = 0; k < nb; k++) {
            struct pair p;
            if (!compare_pair(&a, &b, ws[w], bs[k], &p, &slower, &faster, &nd))
                continue;
            if (json)
                cJSON_AddItemToArray(jrows, pair_json(&p));
            else
                pair_print(&p);
        }
    if (json) {
        cJSON_AddNumberToObject(root, "slower", slower);
        cJSON_AddNumberToObject(root, "faster", faster);
        cJSON_AddNumberToObject(root, "not_distinguishable", nd);
        char *s = cJSON_Print(root);
        if (!s)
            pm_run_error("compare: out of memory");
        puts(s);
        free(s);
        cJSON_Delete(root);
    } else {
        printf("\n%u slower, %u faster, %u not distinguishable (B against A). peakfp, finalfp: B/A of the peak and "
               "final footprint (rep 1). loaded: reps taken on a loaded machine, A then B.\n",
               slower, faster, nd);
    }
    free(a.rows);
    free(b.rows);
    return PM_EXIT_OK;
}
