/* harness/cli/cmd_pyrun.c — `pymemlab pyrun WORKLOAD --backend B [--scale N]
 * [--seed S] [--reps N] [--json] [--series FILE] [--sample-every N]
 * [--latency-every N] [--gc NAME] [--gc-threshold T0,T1,T2] [--gc-held]
 * [--gc-pauses FILE]` and
 * `pymemlab pyrun --list`: runs one Python-like workload
 * (workloads/python/, docs/workloads.md) live on a backend and prints the
 * metrics (docs/metrics.md): first one sampled run (memory figures,
 * the collector's counts, the series), and --reps (default 6) unsampled
 * timed runs, each in a fresh process (cold or warm, --mode), run first so
 * that this process has not used the backend when they fork (ns per op:
 * median with its 95% interval, min, max).
 *
 * --json prints one object with the keys `replay --json` uses (`workload`
 * in place of `trace`) plus gc_collections, gc_collected, gc_uncollectable,
 * gc_time_ns, seed and scale (pm_pyrun_json). --series FILE writes the
 * memory series as CSV (pm_pyrun_write_series).
 *
 * --gc NAME runs the workload under that collector (gen311 default, gen313,
 * inc314, pep848: objects/pm_object.h), --gc-threshold replaces its
 * thresholds (gc.set_threshold), --gc-held measures the garbage held at
 * samples 16 sampling intervals apart (an O(heap) pass each, docs/gc.md) and the bytes examined.
 * The measured run also reports every collection's pause (p50, p99, max,
 * total) and the objects examined; --gc-pauses FILE writes its pauses, one
 * per line in ns, in order (every other one past 65536, pyrun.h).
 *
 * Exit codes: 0 ok; 1 the run failed (MemoryError, leaked blocks); 2 bad
 * input (unknown workload or backend, bad value), with one line on stderr
 * and no series file created.
 */
#include "cli.h"
#include "opts.h"
#include "fileio.h"
#include "pyrun.h"
#include "replay.h"
#include "stats.h"
#include "python/pywl.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void pyrun_list(void)
{
    for (const struct pywl *const *w = pywl_all; *w; w++)
        printf("%-10s %s\n", (*w)->name, (*w)->summary);
}

static void print_bytes(const char *label, uint64_t v)
{
    if (v == PM_STAT_NA)
        printf("%-26s -\n", label);
    else
        printf("%-26s %llu (%.1f MiB)\n", label, (unsigned long long)v, (double)v / 1048576.0);
}

static void print_ratio(const char *label, double v)
{
    if (isfinite(v))
        printf("%-26s %.3f\n", label, v);
    else
        printf("%-26s -\n", label);
}

static void print_text(const struct pm_pyrun_result *r)
{
    printf("pyrun %s on %s (scale %g, seed %llu)\n", r->rec.workload, r->rec.backend, r->rec.scale,
           (unsigned long long)r->rec.seed);
    printf("%-26s %llu\n", "ops", (unsigned long long)r->rec.ops);
    struct pm_ci ci;
    pm_ci_median(r->ns_per_op_rep, r->reps < 64 ? r->reps : 64, &ci);
    printf("%-26s %.2f [%.2f, %.2f] (%.1f%% interval; min %.2f, max %.2f; %u %s reps, each in a "
           "fresh process)\n", "ns_per_op", r->rec.ns_per_op, ci.lo, ci.hi, 100 * ci.level,
           r->ns_per_op_min, r->ns_per_op_max, r->reps, pm_time_mode_name((enum pm_time_mode)r->mode));
    printf("%-26s %.5f\n", "minflt_per_op", r->rec.minflt_per_op);
    print_bytes("peak_live_bytes", r->rec.peak_live_bytes);
    print_bytes("final_live_bytes", r->rec.final_live_bytes);
    print_bytes("peak_footprint_bytes", r->rec.peak_footprint_bytes);
    print_bytes("final_footprint_bytes", r->rec.final_footprint_bytes);
    print_ratio("frag4", r->rec.frag4);
    print_ratio("frag3", r->rec.frag3);
    print_ratio("frag_at_peak_live", r->rec.frag_at_peak_live);
    print_ratio("retention", r->rec.retention);
    print_ratio("retention_trimmed", r->rec.retention_trimmed);
    print_bytes("backend_peak_mapped_bytes", r->rec.backend_peak_mapped_bytes);
    printf("%-26s %llu (collected %llu, uncollectable %llu), %.3f ms\n", "gc_collections",
           (unsigned long long)r->rec.gc_collections, (unsigned long long)r->rec.gc_collected,
           (unsigned long long)r->rec.gc_uncollectable, (double)r->rec.gc_time_ns / 1e6);
    printf("%-26s %s: %llu pauses, p50 %.0f ns, p99 %.0f ns, max %llu ns, total %.3f ms\n",
           "gc_pauses", r->rec.gc, (unsigned long long)r->rec.gc_pauses, r->rec.gc_pause_p50_ns,
           r->rec.gc_pause_p99_ns, (unsigned long long)r->rec.gc_pause_max_ns,
           (double)r->rec.gc_pause_total_ns / 1e6);
    printf("%-26s %llu objects (at most %llu in one collection)\n", "gc_examined",
           (unsigned long long)r->rec.gc_examined, (unsigned long long)r->rec.gc_examined_max);
    if (r->rec.gc_peak_garbage_held_bytes != PM_STAT_NA)
        print_bytes("gc_peak_garbage_held", r->rec.gc_peak_garbage_held_bytes);
    printf("%-26s", "phases");
    for (size_t i = 0; i < r->nphases; i++)
        printf(" %s@%llu", r->phases[i].name, (unsigned long long)r->phases[i].op);
    printf("\n%-26s %zu samples, every %llu ops\n", "series", r->nseries,
           (unsigned long long)r->sample_every);
    if (r->rec.lat_samples != PM_STAT_NA)
        printf("%-26s p50 %.1f  p99 %.1f  p99.9 %.1f  max %.0f (%llu samples, timer floor %.1f subtracted)\n",
               "latency_ns", r->rec.lat_p50_ns, r->rec.lat_p99_ns, r->rec.lat_p999_ns,
               r->rec.lat_max_ns, (unsigned long long)r->rec.lat_samples, r->rec.lat_floor_ns);
}

static const struct pm_cli_opt pyrun_opts[] = {
    PM_CLI_OPT("backend", 'b', PM_CLI_BACKEND, "B", NULL,
               "the backend, NAME[,key=value...] (see 'pymemlab backends'); it must keep block contents",
               .flags = PM_CLI_REQUIRED),
    PM_CLI_OPT("scale", 'n', PM_CLI_DOUBLE, "X", "1", "the workload's size, 1 = as documented",
               .dmin = PYWL_SCALE_MIN, .dmax = PYWL_SCALE_MAX),
    PM_CLI_OPT("seed", 's', PM_CLI_COUNT, "S", "1", "the workload's random seed", .min = 0, .max = UINT64_MAX),
    PM_CLI_OPT("reps", 'r', PM_CLI_COUNT, "N", PM_CLI_STR(PM_CI_MIN_N), "timed repetitions after the sampled run",
               .min = 1, .max = 1000),
    PM_CLI_OPT("mode", 'm', PM_CLI_ENUM, "MODE", "cold",
               "cold: a fresh process per timed rep; warm: the reps follow each other in one process",
               .values = "cold warm"),
    PM_CLI_OPT("json", 'j', PM_CLI_FLAG, NULL, NULL, "one JSON object instead of the text report"),
    PM_CLI_OPT("series", 'o', PM_CLI_FILE, "FILE", NULL, "write the sampled memory series (CSV) to FILE"),
    PM_CLI_OPT("sample-every", 'e', PM_CLI_COUNT, "N", "the workload's own", "sample the memory every N ops",
               .min = 1, .max = UINT64_C(1) << 40),
    PM_CLI_OPT("latency-every", 'L', PM_CLI_COUNT, "N", "off",
               "time one call in N in the sampled run (latency percentiles)", .min = 1, .max = UINT64_C(1) << 32),
    PM_CLI_OPT("gc", 'g', PM_CLI_GC, "NAME", "gen311", "the cycle collector (docs/gc.md)"),
    PM_CLI_OPT("gc-threshold", 't', PM_CLI_STRING, "T0,T1,T2", "the collector's own",
               "the collector's thresholds: three integers 0..2147483648", .values = "700,10,10 2000,10,10"),
    PM_CLI_OPT("gc-held", 'H', PM_CLI_FLAG, NULL, NULL,
               "measure the garbage the collector holds at samples (an O(heap) pass each)"),
    PM_CLI_OPT("gc-pauses", 'P', PM_CLI_FILE, "FILE", NULL, "write every collection's pause (ns), one a line"),
    PM_CLI_OPT("list", 'l', PM_CLI_FLAG, NULL, NULL, "list the workloads (then no WORKLOAD)"),
    {0},
};

const struct pm_cli_spec pm_spec_pyrun = {
    .name = "pyrun", .args = "WORKLOAD", .opts = pyrun_opts,
    .summary = "run a Python-like workload (docs/workloads.md) live on a backend: time, footprint, "
               "fragmentation, retention, GC",
};

/* --series and --pauses, each written whole to FILE.tmp and renamed over
 * FILE (an existing file is kept until then); the first error into serr. */
static void write_files(const struct pm_pyrun_result *res, const char *series, const char *pauses_file,
                        char serr[PM_ERR_LEN])
{
    if (series) {
        struct pm_out so;
        if (pm_out_open(&so, series, serr) == 0) {
            if (pm_pyrun_write_series(so.f, res, serr))
                pm_out_abort(&so);
            else
                pm_out_commit(&so, true, serr);
        }
    }
    if (pauses_file && !serr[0]) {
        struct pm_out po;
        if (pm_out_open(&po, pauses_file, serr) == 0) {
            for (size_t i = 0; i < res->gc_npause; i++)
                fprintf(po.f, "%llu\n", (unsigned long long)res->gc_pause_ns[i]);
            if (fflush(po.f) || ferror(po.f)) {
                snprintf(serr, PM_ERR_LEN, "cannot write %s", pauses_file);
                pm_out_abort(&po);
            } else {
                pm_out_commit(&po, true, serr);
            }
        }
    }
}

static void print_json(const struct pm_pyrun_result *res)
{
    cJSON *o = pm_pyrun_json(res);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (!s)
        pm_run_error("pyrun: out of memory writing JSON");
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

int cmd_pyrun(int argc, char **argv)
{
    const char *backend = NULL, *series = NULL;
    double scale = -1;
    uint64_t seed = 1, every = 0, lat_every = 0;
    unsigned reps = PM_CI_MIN_N;
    enum pm_time_mode mode = PM_TIME_COLD;
    int json = 0, list = 0;
    const char *gc = NULL;
    int64_t gc_threshold[3];
    bool gc_threshold_set = false, gc_held = false;
    const char *pauses_file = NULL;
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_pyrun, argc, argv, &v)) != -1) {
        switch (c) {
        case 'b': backend = v.s; break;
        case 'n': scale = v.d; break;
        case 's': seed = v.u; break;
        case 'r': reps = (unsigned)v.u; break;
        case 'm':
            if (!pm_time_mode_parse(optarg, &mode))
                pm_usage_error("pyrun: bad value for --mode: '%s' (expected cold or warm)", optarg);
            break;
        case 'j': json = 1; break;
        case 'o': series = v.s; break;
        case 'e': every = v.u; break;
        case 'l': list = 1; break;
        case 'L': lat_every = v.u; break;
        case 'g': gc = pm_cli_gc_name("pyrun", optarg); break;
        case 't':
            pm_cli_gc_thresholds("pyrun", optarg, gc_threshold);
            gc_threshold_set = true;
            break;
        case 'H': gc_held = true; break;
        case 'P': pauses_file = v.s; break;
        default: pm_bad_option("pyrun", c, argv);
        }
    }
    if (list) {
        if (optind < argc)
            pm_usage_error("pyrun: --list takes no workload ('%s')", argv[optind]);
        pyrun_list();
        return PM_EXIT_OK;
    }
    if (optind >= argc)
        pm_usage_error("pyrun: a workload is required (see 'pymemlab pyrun --list')");
    if (optind + 1 < argc)
        pm_usage_error("pyrun: unexpected argument '%s'", argv[optind + 1]);
    const char *workload = argv[optind];
    const struct pywl *wl = pywl_find(workload);
    if (!wl) {
        char names[200];
        pywl_names(names, sizeof names);
        pm_usage_error("pyrun: unknown workload '%s' (known: %s)", workload, names);
    }
    if (!backend)
        pm_usage_error("pyrun: --backend is required (see 'pymemlab backends')");
    if (scale < 0)
        scale = wl->default_scale;

    struct pm_pyrun_opts opts = {.sample_every = every, .reps = reps,
                                 .on_misuse = pm_cli_misuse_abort, .latency_every = lat_every,
                                 .mode = mode, .gc = gc, .gc_threshold_set = gc_threshold_set,
                                 .gc_held = gc_held};
    if (gc_threshold_set)
        memcpy(opts.gc_threshold, gc_threshold, sizeof gc_threshold);
    char err[PM_ERR_LEN];
    int rc = pm_pyrun_check(workload, backend, scale, seed, &opts, err);
    if (rc)
        pm_usage_error("%s", err);
    pm_cli_need_contents("pyrun", backend);
    /* the series: checked now, written to SERIES.tmp after the runs, renamed
     * over SERIES only when whole (an existing file is kept until then) */
    if (series)
        pm_cli_out_check("pyrun", series);
    if (pauses_file)
        pm_cli_out_check("pyrun", pauses_file);

    struct pm_pyrun_result res;
    pm_pyrun_result_init(&res);
    rc = pm_pyrun_time(workload, backend, scale, seed, &opts, &res, err);
    if (!rc)
        rc = pm_pyrun_measure(workload, backend, scale, seed, &opts, &res, err);
    char serr[PM_ERR_LEN] = "";
    if (!rc)
        write_files(&res, series, pauses_file, serr);
    if (rc) {
        pm_pyrun_result_free(&res);
        if (rc == PM_PYRUN_USAGE)
            pm_usage_error("%s", err);
        pm_run_error("%s", err);
    }
    /* shown as in results: a lib:PATH backend by its NAME (the spec was checked) */
    if (pm_backend_label(backend, res.rec.backend, sizeof res.rec.backend, err))
        snprintf(res.rec.backend, sizeof res.rec.backend, "%.127s", backend);
    if (json)
        print_json(&res);
    else
        print_text(&res);
    pm_pyrun_result_free(&res);
    if (serr[0])   /* the figures above are whole; the series file is what failed */
        pm_run_error("pyrun: %s (the series is not written; the figures above are complete)", serr);
    return PM_EXIT_OK;
}
