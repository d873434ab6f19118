/* harness/cli/cmd_table.c — `pymemlab table FILE.jsonl|DIR [--baseline B]`.
 *
 * FILE.jsonl: result objects, one per line, as `replay --json` writes them.
 * One row per trace and backend: ns/op (median) with its 95% interval from
 * the reps (`ns_per_op_reps`, stats.h), the ratio to the baseline backend of
 * the same trace (default: cpython if present, else system) with its
 * bootstrap interval, "not distinguishable" where the two ns/op intervals
 * overlap, the null backend's time subtracted, minor faults per op, peak
 * footprint, frag4, retention ("-" where not applicable), the timing mode,
 * and "LOADED" for a replay taken on a loaded machine.
 *
 * DIR: a results folder of `pymemlab run` (either format version): its
 * summary table, as summary.md has it.
 */
#include "cli.h"
#include "opts.h"
#include "fileio.h"
#include "results.h"
#include "stats.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_REPS 1000

struct row {
    char trace[64], backend[48], mode[8];
    double reps[MAX_REPS];
    size_t nreps;
    struct pm_ci ns;
    double peak_fp, frag4, retention, flt;
    bool loaded;
};

static double num(const cJSON *o, const char *k, const char *path, unsigned line)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v))
        return NAN;
    if (!cJSON_IsNumber(v))
        pm_usage_error("%s:%u: '%s' is not a number", path, line, k);
    return v->valuedouble;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int table_dir(const char *dir, const char *baseline)
{
    char err[PM_ERR_LEN];
    if (pm_results_check_version(dir, NULL, err))
        pm_usage_error("table: %s", err);
    struct pm_result *rows = NULL;
    size_t n = 0;
    long partial;
    if (pm_results_load(dir, &rows, &n, &partial, err))
        pm_usage_error("table: %s", err);
    if (!n)
        pm_usage_error("table: %s: no results", dir);
    struct pm_summary s;
    if (pm_summary_build(rows, n, baseline, &s))
        pm_run_error("table: out of memory");
    pm_summary_print(stdout, &s, false);
    pm_summary_free(&s);
    free(rows);
    return PM_EXIT_OK;
}

static void fmt_num(char *buf, size_t len, double v, const char *fmt, double scale)
{
    if (isfinite(v))
        snprintf(buf, len, fmt, v / scale);
    else
        snprintf(buf, len, "-");
}

static const struct pm_cli_opt table_opts[] = {
    PM_CLI_OPT("baseline", 'b', PM_CLI_BACKEND, "B", "cpython, else system, else the first",
               "the backend every other is compared with"),
    {0},
};

const struct pm_cli_spec pm_spec_table = {
    .name = "table", .args = "RESULTS.jsonl|DIR", .opts = table_opts,
    .summary = "print a comparison table (intervals, not distinguishable) from replay --json lines or a "
               "results folder",
};

/* One replay --json line into r. */
static void parse_row(const cJSON *o, const char *path, unsigned lineno, struct row *r)
{
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(o, "trace");
    const cJSON *be = cJSON_GetObjectItemCaseSensitive(o, "backend");
    snprintf(r->trace, sizeof r->trace, "%s", base_name(tr->valuestring));
    snprintf(r->backend, sizeof r->backend, "%s", be->valuestring);
    const cJSON *reps = cJSON_GetObjectItemCaseSensitive(o, "ns_per_op_reps");
    const cJSON *x;
    cJSON_ArrayForEach(x, reps) {
        if (r->nreps < MAX_REPS && cJSON_IsNumber(x))
            r->reps[r->nreps++] = x->valuedouble;
    }
    if (!r->nreps && isfinite(num(o, "ns_per_op", path, lineno)))  /* older replay --json */
        r->reps[r->nreps++] = num(o, "ns_per_op", path, lineno);
    pm_ci_median(r->reps, r->nreps, &r->ns);
    r->peak_fp = num(o, "peak_footprint_bytes", path, lineno);
    r->frag4 = num(o, "frag4", path, lineno);
    r->retention = num(o, "retention", path, lineno);
    r->flt = num(o, "minflt_per_op", path, lineno);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "time_mode");
    snprintf(r->mode, sizeof r->mode, "%s", cJSON_IsString(m) ? m->valuestring : "?");
    r->loaded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(o, "load"), "loaded"));
}

/* One line of the table: r against its baseline (--baseline, else
 * cpython where the trace has it, else system) and the null backend. */
static void print_row(const struct row *rows, size_t n, const struct row *r, const char *baseline)
{
    const char *want = baseline;
    const struct row *null_row = NULL, *base = NULL;
    for (size_t k = 0; k < n; k++)
        if (!strcmp(rows[k].trace, r->trace) && !strcmp(rows[k].backend, "null"))
            null_row = &rows[k];
    if (!want) {
        want = "system";
        for (size_t k = 0; k < n; k++)
            if (!strcmp(rows[k].trace, r->trace) && !strcmp(rows[k].backend, "cpython"))
                want = "cpython";
    }
    for (size_t k = 0; k < n; k++)
        if (!strcmp(rows[k].trace, r->trace) && !strcmp(rows[k].backend, want))
            base = &rows[k];
    char ns[64] = "-", ratio[64] = "-", vs[32] = "-", net[16] = "-", flt[16], fp[16], fr[16], re[16];
    if (r->ns.n)
        snprintf(ns, sizeof ns, "%.2f [%.2f, %.2f]%s", r->ns.med, r->ns.lo, r->ns.hi,
                 r->ns.level < PM_CI_LEVEL - 1e-9 ? "*" : "");
    if (base && base->ns.n && r->ns.n) {
        struct pm_ci rc;
        pm_ci_ratio(r->reps, r->nreps, base->reps, base->nreps, 0, &rc);
        snprintf(ratio, sizeof ratio, "%.2f [%.2f, %.2f]", rc.med, rc.lo, rc.hi);
        if (base == r)
            snprintf(vs, sizeof vs, "baseline");
        else if (pm_ci_overlap(&r->ns, &base->ns) || r->ns.n < 2 || base->ns.n < 2)
            snprintf(vs, sizeof vs, "not distinguishable");
        else
            snprintf(vs, sizeof vs, "%s", rc.med < 1 ? "faster" : "slower");
    }
    if (null_row && null_row->ns.n && r->ns.n)
        snprintf(net, sizeof net, "%.2f", r->ns.med - null_row->ns.med);
    fmt_num(flt, sizeof flt, r->flt, "%.5f", 1);
    fmt_num(fp, sizeof fp, r->peak_fp, "%.1f", 1048576.0);
    fmt_num(fr, sizeof fr, r->frag4, "%.3f", 1);
    fmt_num(re, sizeof re, r->retention, "%.3f", 1);
    printf("%-22s %-16s %-5s %24s %22s %-20s %9s %10s %11s %7s %9s%s\n", r->trace, r->backend, r->mode,
           ns, ratio, vs, net, flt, fp, fr, re, r->loaded ? "  LOADED" : "");
}

int cmd_table(int argc, char **argv)
{
    const char *baseline = NULL;
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_table, argc, argv, &v)) != -1)
        if (c == 'b')
            baseline = v.s;
    if (optind != argc - 1)
        pm_usage_error("table: one FILE.jsonl or results folder argument expected");
    const char *path = argv[optind];
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return table_dir(path, baseline);
    char ferr[PM_ERR_LEN];
    uint64_t fsize;
    int fd = pm_file_open_read(path, UINT64_C(1) << 30, &fsize, ferr);   /* regular files only */
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f)
        pm_usage_error("table: %s", ferr);
    struct row *rows = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    unsigned lineno = 0;
    while (getline(&line, &lcap, f) > 0) {
        lineno++;
        if (line[0] == '\n')
            continue;
        cJSON *o = cJSON_Parse(line);
        if (!o)
            pm_usage_error("%s:%u: not a JSON object", path, lineno);
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(o, "trace");
        const cJSON *be = cJSON_GetObjectItemCaseSensitive(o, "backend");
        if (!cJSON_IsString(tr) || !cJSON_IsString(be))
            pm_usage_error("%s:%u: missing 'trace' or 'backend'", path, lineno);
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            rows = realloc(rows, cap * sizeof *rows);
            if (!rows)
                pm_run_error("table: out of memory");
        }
        struct row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        parse_row(o, path, lineno, r);
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    if (!n)
        pm_usage_error("%s: no results", path);
    if (baseline) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = !strcmp(rows[k].backend, baseline);
        if (!found)
            pm_usage_error("table: --baseline '%s' has no results in %s", baseline, path);
    }
    printf("%-22s %-16s %-5s %24s %22s %-20s %9s %10s %11s %7s %9s\n", "trace", "backend", "mode",
           "ns/op [95% CI]", "x base [95% CI]", "vs base", "-null ns", "faults/op", "peak fp MiB",
           "frag4", "retention");
    bool any_loaded = false;
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        print_row(rows, n, r, baseline);
        any_loaded |= r->loaded;
    }
    printf("\nns/op: median of the reps with its 95%% interval (order statistics; * fewer than 6 reps: "
           "min..max, below 95%%). x base: ratio of medians, bootstrap interval. not distinguishable: "
           "the two ns/op intervals overlap.%s\n",
           any_loaded ? " LOADED: taken while other work kept the machine busy." : "");
    free(rows);
    return PM_EXIT_OK;
}
