/* harness/cli/trace_stats.c — `pymemlab trace stats TRACE [--json] [--lenient]`:
 * what a trace asks of an allocator (definitions: workloads/tracestats.h,
 * README "trace stats"). Text report, or with --json one object on one line.
 *
 * Entry point: cmd_trace_stats.
 */
#include "cli.h"
#include "opts.h"
#include "trace_cmds.h"
#include "tracestats.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const dom_key[4] = {"none", "raw", "mem", "obj"};

/* "1-16", "0", ">512" */
static void class_label(unsigned c, char buf[16])
{
    if (c == 0)
        snprintf(buf, 16, "0");
    else if (c == PM_STATS_CLASSES - 1)
        snprintf(buf, 16, ">512");
    else
        snprintf(buf, 16, "%u-%u", 16 * (c - 1) + 1, 16 * c);
}

static cJSON *life_json(const struct pm_lifetimes *l, uint64_t live)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "freed", (double)l->count);
    cJSON_AddNumberToObject(o, "live_at_end", (double)live);
    if (l->count) {
        cJSON_AddNumberToObject(o, "p50", (double)l->p50);
        cJSON_AddNumberToObject(o, "p90", (double)l->p90);
        cJSON_AddNumberToObject(o, "p99", (double)l->p99);
        cJSON_AddNumberToObject(o, "max", (double)l->max);
    } else {
        cJSON_AddNullToObject(o, "p50");
        cJSON_AddNullToObject(o, "p90");
        cJSON_AddNullToObject(o, "p99");
        cJSON_AddNullToObject(o, "max");
    }
    return o;
}

static void print_json(struct pm_trace *t, const struct pm_trace_stats *s, bool lenient)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "trace", pm_trace_name(t));
    cJSON_AddBoolToObject(j, "finished", s->finished);
    if (lenient) {
        cJSON_AddNumberToObject(j, "dropped_bytes", (double)s->dropped_bytes);
        cJSON_AddNumberToObject(j, "missing_ops", (double)s->missing_ops);
    }
    cJSON_AddNumberToObject(j, "ops", (double)s->ops);
    cJSON_AddNumberToObject(j, "phases", (double)s->phases);
    cJSON *kinds = cJSON_AddObjectToObject(j, "kinds");
    cJSON *doms = cJSON_AddObjectToObject(j, "domains");
    for (unsigned d = 0; d < 4; d++) {
        cJSON *o = cJSON_AddObjectToObject(doms, dom_key[d]);
        for (unsigned k = PM_OP_ALLOC; k <= PM_OP_ALIGNED; k++)
            cJSON_AddNumberToObject(o, pm_trace_kind_name(k), (double)s->kind_domain[k][d]);
    }
    for (unsigned k = PM_OP_ALLOC; k <= PM_OP_ALIGNED; k++) {
        uint64_t n = 0;
        for (unsigned d = 0; d < 4; d++)
            n += s->kind_domain[k][d];
        cJSON_AddNumberToObject(kinds, pm_trace_kind_name(k), (double)n);
    }
    cJSON_AddBoolToObject(j, "tagged", s->tagged);
    cJSON_AddNumberToObject(j, "peak_live_bytes", (double)s->peak_live_bytes);
    cJSON_AddNumberToObject(j, "peak_live_bytes_op", (double)s->peak_live_bytes_op);
    cJSON_AddNumberToObject(j, "peak_live_blocks", (double)s->peak_live_blocks);
    cJSON_AddNumberToObject(j, "peak_live_blocks_op", (double)s->peak_live_blocks_op);
    cJSON_AddNumberToObject(j, "final_live_bytes", (double)s->final_live_bytes);
    cJSON_AddNumberToObject(j, "final_live_blocks", (double)s->final_live_blocks);
    cJSON_AddNumberToObject(j, "requests", (double)s->requests);
    cJSON_AddNumberToObject(j, "requested_bytes", (double)s->requested_bytes);
    cJSON_AddNumberToObject(j, "pymalloc_requests", (double)s->pymalloc_requests);
    cJSON_AddNumberToObject(j, "pymalloc_fraction",
                            s->requests ? (double)s->pymalloc_requests / (double)s->requests : 0.0);
    cJSON_AddNumberToObject(j, "pymalloc_bytes_fraction",
                            s->requested_bytes ? (double)s->pymalloc_bytes / (double)s->requested_bytes : 0.0);
    cJSON_AddNumberToObject(j, "realloc_grow", (double)s->realloc_grow);
    cJSON_AddNumberToObject(j, "realloc_shrink", (double)s->realloc_shrink);
    cJSON_AddNumberToObject(j, "realloc_same", (double)s->realloc_same);
    cJSON_AddItemToObject(j, "lifetime", life_json(&s->life[0], s->live_at_end[0]));
    cJSON *cls = cJSON_AddArrayToObject(j, "classes");
    for (unsigned c = 0; c < PM_STATS_CLASSES; c++) {
        char lab[16];
        class_label(c, lab);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "class", c);
        cJSON_AddStringToObject(o, "bytes", lab);
        cJSON_AddNumberToObject(o, "allocs", (double)s->class_allocs[c]);
        cJSON_AddNumberToObject(o, "alloc_bytes", (double)s->class_bytes[c]);
        cJSON_AddNumberToObject(o, "reallocs", (double)s->class_reallocs[c]);
        cJSON_AddItemToObject(o, "lifetime", life_json(&s->life[1 + c], s->live_at_end[1 + c]));
        cJSON_AddItemToArray(cls, o);
    }
    cJSON_AddNumberToObject(j, "passes", s->passes);
    char *str = cJSON_PrintUnformatted(j);
    puts(str);
    free(str);
    cJSON_Delete(j);
}

static void print_life(const struct pm_lifetimes *l, uint64_t live)
{
    if (l->count)
        printf("%10" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %10" PRIu64 " %9" PRIu64, l->count, l->p50,
               l->p90, l->p99, l->max, live);
    else
        printf("%10d %8s %8s %8s %10s %9" PRIu64, 0, "-", "-", "-", "-", live);
}

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

static void print_text(struct pm_trace *t, const struct pm_trace_stats *s, bool lenient)
{
    printf("trace          %s (%s)\n", pm_trace_name(t), s->finished ? "finished" : "recording did not finish");
    if (lenient)
        printf("lenient        dropped %" PRIu64 " bytes of a partial op, %" PRIu64 " ops the header promised "
               "are missing\n",
               s->dropped_bytes, s->missing_ops);
    printf("ops            %" PRIu64 " (and %" PRIu64 " phase marks)\n", s->ops, s->phases);
    printf("%-14s %10s %10s %10s %10s %10s\n", "by domain", "none", "raw", "mem", "obj", "all");
    for (unsigned k = PM_OP_ALLOC; k <= PM_OP_ALIGNED; k++) {
        uint64_t n = 0;
        printf("  %-12s", pm_trace_kind_name(k));
        for (unsigned d = 0; d < 4; d++) {
            printf(" %10" PRIu64, s->kind_domain[k][d]);
            n += s->kind_domain[k][d];
        }
        printf(" %10" PRIu64 "\n", n);
    }
    printf("peak live      %" PRIu64 " bytes at op %" PRIu64 "; %" PRIu64 " blocks at op %" PRIu64 "\n",
           s->peak_live_bytes, s->peak_live_bytes_op, s->peak_live_blocks, s->peak_live_blocks_op);
    printf("final live     %" PRIu64 " bytes in %" PRIu64 " blocks\n", s->final_live_bytes, s->final_live_blocks);
    printf("requests       %" PRIu64 " (alloc, calloc, aligned, realloc), %" PRIu64 " bytes\n", s->requests,
           s->requested_bytes);
    printf("pymalloc       would serve %.2f%% of the requests (%.2f%% of the bytes): 1..512 bytes%s\n",
           pct(s->pymalloc_requests, s->requests), pct(s->pymalloc_bytes, s->requested_bytes),
           s->tagged ? ", obj and mem domains" : " (the trace has no domains: all of them)");
    printf("reallocs       %" PRIu64 " grow, %" PRIu64 " shrink, %" PRIu64 " same size\n", s->realloc_grow,
           s->realloc_shrink, s->realloc_same);
    printf("lifetimes      in ops, of freed blocks; blocks never freed are counted apart\n");
    printf("%-14s %10s %10s %8s %10s %8s %8s %8s %10s %9s\n", "class (bytes)", "allocs", "MiB", "reallocs",
           "freed", "p50", "p90", "p99", "max", "live end");
    uint64_t allocs = 0, abytes = 0, reallocs = 0;
    for (unsigned c = 0; c < PM_STATS_CLASSES; c++) {
        allocs += s->class_allocs[c];
        abytes += s->class_bytes[c];
        reallocs += s->class_reallocs[c];
    }
    printf("  %-12s %10" PRIu64 " %10.1f %8" PRIu64 " ", "all", allocs, (double)abytes / 1048576.0, reallocs);
    print_life(&s->life[0], s->live_at_end[0]);
    printf("\n");
    for (unsigned c = 0; c < PM_STATS_CLASSES; c++) {
        if (!s->class_allocs[c] && !s->class_reallocs[c])
            continue;
        char lab[16];
        class_label(c, lab);
        printf("  %-12s %10" PRIu64 " %10.1f %8" PRIu64 " ", lab, s->class_allocs[c],
               (double)s->class_bytes[c] / 1048576.0, s->class_reallocs[c]);
        print_life(&s->life[1 + c], s->live_at_end[1 + c]);
        printf("\n");
    }
}

static const struct pm_cli_opt stats_opts[] = {
    PM_CLI_OPT("json", 'j', PM_CLI_FLAG, NULL, NULL, "one JSON object instead of the text report"),
    PM_CLI_OPT("lenient", 'l', PM_CLI_FLAG, NULL, NULL, "read the whole ops of an unfinished or damaged recording"),
    {0},
};

const struct pm_cli_spec pm_spec_trace_stats = {
    .name = "trace stats", .args = "TRACE", .opts = stats_opts,
    .summary = "statistics of a trace: sizes, lifetimes, live bytes per domain",
};

int cmd_trace_stats(int argc, char **argv)
{
    bool json = false, lenient = false;
    const char *path = NULL;
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_trace_stats, argc, argv, &v)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'l')
            lenient = true;
    }
    for (int i = optind; i < argc; i++) {
        if (path)
            pm_usage_error("trace stats: unexpected argument '%s' (one TRACE)", argv[i]);
        path = argv[i];
    }
    if (!path)
        pm_usage_error("trace stats: needs a TRACE (see 'pymemlab help trace')");
    char err[PM_ERR_LEN];
    struct pm_trace *t;
    if (pm_trace_open(path, &t, err))
        pm_usage_error("%s", err);
    struct pm_trace_stats *s = malloc(sizeof *s);
    if (!s)
        pm_run_error("trace stats: out of memory");
    if (pm_trace_stats(t, lenient, s, err))
        pm_usage_error("%s: %s", path, err);
    if (lenient && (s->dropped_bytes || s->missing_ops || !s->finished))
        fprintf(stderr,
                "pymemlab: note: %s: read leniently: %" PRIu64 " whole ops%s; dropped %" PRIu64
                " bytes of a partial op; %" PRIu64 " ops the header promised are missing\n",
                path, s->ops + s->phases, s->finished ? "" : " (the recording did not finish)", s->dropped_bytes,
                s->missing_ops);
    if (json)
        print_json(t, s, lenient);
    else
        print_text(t, s, lenient);
    free(s);
    pm_trace_close(t);
    return PM_EXIT_OK;
}
