/* harness/cli/cmd_gcbench.c — `pymemlab gcbench [--objects N] --backend B
 * [--json] [--gc NAME] [--gc-threshold T0,T1,T2]`: the cost of one full
 * collection per tracked object, under the collector NAME (gen311 default;
 * a full collection is one region for every collector, so the figure
 * compares the collectors' fixed costs; JSON adds the key gc).
 *
 * Builds N tracked containers as the Python statements
 *     a = []; b = [a]; a.append(b)
 * repeated N/2 times with automatic collection off, keeping every other `a`
 * in a list: half of the containers sit in reachable 2-cycles, half in
 * unreachable ones. Then times one gc.collect() (generation 2) and divides
 * by the objects tracked when it started (the N containers, the keep list
 * and gc.garbage). scripts/gcbench-cpython.py builds the same graph in
 * python3 and divides by len(gc.get_objects()) (its own objects included);
 * scripts/gcbench.sh runs both.
 *
 * JSON keys: backend, objects (tracked objects in the collection), containers
 * (N), collected, collection_ns, ns_per_object.
 */
#include "cli.h"
#include "opts.h"
#include "metrics.h"
#include "pm_object.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

static const struct pm_cli_opt gcbench_opts[] = {
    PM_CLI_OPT("backend", 'b', PM_CLI_BACKEND, "B", NULL,
               "the backend, NAME[,key=value...] (see 'pymemlab backends'); it must keep block contents",
               .flags = PM_CLI_REQUIRED),
    PM_CLI_OPT("objects", 'n', PM_CLI_COUNT, "N", "1M", "tracked containers, half in unreachable 2-cycles",
               .min = 2, .max = UINT64_C(1) << 32),
    PM_CLI_OPT("gc", 'g', PM_CLI_GC, "NAME", "gen311", "the cycle collector (docs/gc.md)"),
    PM_CLI_OPT("gc-threshold", 't', PM_CLI_STRING, "T0,T1,T2", "the collector's own",
               "the collector's thresholds: three integers 0..2147483648", .values = "700,10,10 2000,10,10"),
    PM_CLI_OPT("json", 'j', PM_CLI_FLAG, NULL, NULL, "one JSON object instead of the text report"),
    {0},
};

const struct pm_cli_spec pm_spec_gcbench = {
    .name = "gcbench", .opts = gcbench_opts,
    .summary = "time one full collection of N containers, half in unreachable 2-cycles (ns per tracked object)",
};

int cmd_gcbench(int argc, char **argv)
{
    const char *backend = NULL, *gc = NULL;
    uint64_t n = 1000000;
    int json = 0;
    int64_t gc_threshold[3];
    bool gc_threshold_set = false;
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_gcbench, argc, argv, &v)) != -1) {
        switch (c) {
        case 'b': backend = v.s; break;
        case 'n': n = v.u; break;
        case 'j': json = 1; break;
        case 'g': gc = pm_cli_gc_name("gcbench", optarg); break;
        case 't':
            pm_cli_gc_thresholds("gcbench", optarg, gc_threshold);
            gc_threshold_set = true;
            break;
        default: pm_bad_option("gcbench", c, argv);
        }
    }
    if (optind < argc)
        pm_usage_error("gcbench: unexpected argument '%s'", argv[optind]);
    if (!backend)
        pm_usage_error("gcbench: --backend is required (see 'pymemlab backends')");

    pm_cli_need_contents("gcbench", backend);
    const struct allocator_ops *ops;
    pm_heap_t *heap = pm_cli_backend(backend, &ops);
    char err[PM_ERR_LEN];
    struct pm_objspace_config cfg = {.gc = gc};
    pm_objspace_t *sp = pm_objspace_create(ops, heap, &cfg, err);
    if (!sp)
        pm_run_error("gcbench: %s", err);
    if (gc_threshold_set)
        pm_gc_set_threshold(sp, gc_threshold[0], gc_threshold[1], gc_threshold[2]);
    const char *gc_name = pm_gc_collector(sp);
    pm_gc_collect(sp, 2);
    pm_gc_disable(sp);
    pm_object_t *keep = pm_list_new(sp, 0, NULL);
    if (!keep)
        pm_run_error("gcbench: %s: out of memory", backend);
    for (uint64_t i = 0; i < n / 2; i++) {
        pm_object_t *a = pm_list_new(sp, 0, NULL);
        pm_object_t *b = a ? pm_list_new(sp, 1, &a) : NULL;
        if (!b || pm_list_append(sp, a, b) < 0 || (i % 2 == 0 && pm_list_append(sp, keep, a) < 0))
            pm_run_error("gcbench: %s: out of memory after %llu pairs", backend,
                         (unsigned long long)i);
        pm_decref(sp, a);
        pm_decref(sp, b);
    }
    size_t tracked = pm_gc_count_objects(sp, -1);
    uint64_t t0 = pm_now_ns();
    int64_t collected = pm_gc_collect(sp, 2);
    uint64_t t1 = pm_now_ns();
    double ns = (double)(t1 - t0) / (double)tracked;

    pm_decref(sp, keep);
    pm_gc_collect(sp, 2);
    uint64_t left = pm_objspace_destroy(sp);
    ops->destroy(heap);
    if (left)
        pm_run_error("gcbench: %llu block(s) left after destroy", (unsigned long long)left);
    if (json)
        printf("{\"backend\": \"%s\", \"objects\": %zu, \"containers\": %llu, "
               "\"collected\": %lld, \"collection_ns\": %llu, \"ns_per_object\": %.2f, "
               "\"gc\": \"%s\"}\n",
               backend, tracked, (unsigned long long)n, (long long)collected,
               (unsigned long long)(t1 - t0), ns, gc_name);
    else
        printf("gcbench %-10s %zu tracked objects, collected %lld in %.2f ms: %.1f ns per "
               "tracked object\n", backend, tracked, (long long)collected,
               (double)(t1 - t0) / 1e6, ns);
    return PM_EXIT_OK;
}
