/* harness/cmd_table.c — `pymemlab table FILE.jsonl [--baseline B]`: reads
 * result objects (one JSON object per line, as `replay --json` writes them)
 * and prints one table: per trace and backend ns/op, peak footprint, frag4,
 * retention, and ns/op relative to the baseline backend of the same trace
 * (default: cpython if present, else system). */
#include "cli.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct row {
    char trace[64], backend[48];
    double ns, peak_fp, frag4, retention, null_ns;
};

static double num(const cJSON *o, const char *k, const char *path, unsigned line)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNull(v))
        return -1;
    if (!cJSON_IsNumber(v))
        pm_usage_error("%s:%u: missing number '%s'", path, line, k);
    return v->valuedouble;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int cmd_table(int argc, char **argv)
{
    const char *baseline = NULL;
    static const struct option lo[] = {{"baseline", required_argument, 0, 'b'}, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        if (c == 'b')
            baseline = optarg;
        else
            pm_bad_option("table", c, argv);
    }
    if (optind != argc - 1)
        pm_usage_error("table: one FILE.jsonl argument expected");
    const char *path = argv[optind];
    FILE *f = fopen(path, "r");
    if (!f)
        pm_usage_error("table: cannot read '%s'", path);
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
            cap = cap ? 2 * cap : 64;
            rows = realloc(rows, cap * sizeof *rows);
            if (!rows)
                pm_run_error("table: out of memory");
        }
        struct row *r = &rows[n++];
        snprintf(r->trace, sizeof r->trace, "%s", base_name(tr->valuestring));
        snprintf(r->backend, sizeof r->backend, "%s", be->valuestring);
        r->ns = num(o, "ns_per_op", path, lineno);
        r->peak_fp = num(o, "peak_footprint_bytes", path, lineno);
        r->frag4 = num(o, "frag4", path, lineno);
        r->retention = num(o, "retention", path, lineno);
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    if (!n)
        pm_usage_error("%s: no results", path);
    printf("%-22s %-16s %9s %8s %9s %13s %7s %9s\n", "trace", "backend", "ns/op", "x base",
           "-null ns", "peak fp MiB", "frag4", "retention");
    for (size_t i = 0; i < n; i++) {
        const char *want = baseline;
        double base = -1, null_ns = -1;
        for (size_t k = 0; k < n; k++) {
            if (strcmp(rows[k].trace, rows[i].trace))
                continue;
            if (!strcmp(rows[k].backend, "null"))
                null_ns = rows[k].ns;
        }
        if (!want) {
            want = "system";
            for (size_t k = 0; k < n; k++)
                if (!strcmp(rows[k].trace, rows[i].trace) && !strcmp(rows[k].backend, "cpython"))
                    want = "cpython";
        }
        for (size_t k = 0; k < n; k++)
            if (!strcmp(rows[k].trace, rows[i].trace) && !strcmp(rows[k].backend, want))
                base = rows[k].ns;
        const struct row *r = &rows[i];
        char ratio[16] = "-", net[16] = "-";
        if (base > 0 && r->ns >= 0)
            snprintf(ratio, sizeof ratio, "%.2f", r->ns / base);
        if (null_ns >= 0 && r->ns >= 0)
            snprintf(net, sizeof net, "%.2f", r->ns - null_ns);
        printf("%-22s %-16s %9.2f %8s %9s %13.1f %7.3f %9.3f\n", r->trace, r->backend, r->ns, ratio,
               net, r->peak_fp / 1048576.0, r->frag4, r->retention);
    }
    free(rows);
    return PM_EXIT_OK;
}
