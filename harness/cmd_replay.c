/* harness/cmd_replay.c — `pymemlab replay TRACE --backend B ...`.
 *
 * One sampled run first (fresh process state: the footprint figures), then
 * --reps timed runs without sampling (ns_per_op = median). Prints a small
 * report, or with --json one object per line (keys documented in README).
 */
#include "cli.h"
#include "metrics.h"
#include "replay.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int cmd_replay(int argc, char **argv)
{
    const char *backend = NULL, *series_path = NULL, *domain = "all";
    uint64_t reps = 3;
    int json = 0;
    struct pm_replay_opts o = {.touch = PM_TOUCH_PAGES};
    static const struct option lo[] = {
        {"backend", required_argument, 0, 'b'},      {"reps", required_argument, 0, 'r'},
        {"json", no_argument, 0, 'j'},               {"check-every", required_argument, 0, 'c'},
        {"sample-every", required_argument, 0, 's'}, {"series", required_argument, 0, 'S'},
        {"domain", required_argument, 0, 'd'},       {"touch", required_argument, 0, 't'},
        {"lenient", no_argument, 0, 'l'},            {"latency-every", required_argument, 0, 'L'},
        {"engine", required_argument, 0, 'e'},
        {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        switch (c) {
        case 'b': backend = optarg; break;
        case 'r': reps = pm_arg_count("--reps", optarg, 0, 1000); break;
        case 'j': json = 1; break;
        case 'l': o.lenient = true; break;
        case 'c': o.check_every = pm_arg_count("--check-every", optarg, 1, UINT64_MAX); break;
        case 's': o.sample_every = pm_arg_count("--sample-every", optarg, 1, UINT64_MAX); break;
        case 'S': series_path = optarg; break;
        case 'L': o.latency_every = pm_arg_count("--latency-every", optarg, 1, UINT64_C(1) << 32); break;
        case 'd':
            domain = optarg;
            if (!pm_replay_parse_domains(optarg, &o.domains))
                pm_usage_error("replay: bad value for --domain: '%s' (expected obj, mem, raw, pymalloc or all)", optarg);
            break;
        case 't':
            if (!strcmp(optarg, "none")) o.touch = PM_TOUCH_NONE;
            else if (!strcmp(optarg, "pages")) o.touch = PM_TOUCH_PAGES;
            else if (!strcmp(optarg, "full")) o.touch = PM_TOUCH_FULL;
            else pm_usage_error("replay: bad value for --touch: '%s' (expected none, pages or full)", optarg);
            break;
        case 'e':
            if (!strcmp(optarg, "windows")) o.engine = PM_ENGINE_WINDOWS;
            else if (!strcmp(optarg, "per-op")) o.engine = PM_ENGINE_PER_OP;
            else pm_usage_error("replay: bad value for --engine: '%s' (expected windows or per-op)", optarg);
            break;
        default: pm_bad_option("replay", c, argv);
        }
    }
    if (optind != argc - 1)
        pm_usage_error(optind >= argc ? "replay: a TRACE argument is required"
                                      : "replay: one TRACE argument expected, got '%s'",
                       argv[argc - 1]);
    if (!backend)
        pm_usage_error("replay: --backend is required (see 'pymemlab backends')");
    const char *path = argv[optind];

    /* Validate the backend spec before touching any output file. */
    const struct allocator_ops *ops;
    pm_heap_t *probe = pm_cli_backend(backend, &ops);
    ops->destroy(probe);

    char err[PM_ERR_LEN];
    struct pm_trace *t;
    if (pm_trace_open(path, &t, err))
        pm_usage_error("%s", err);
    struct pm_replay_scan scan;
    if ((o.lenient ? pm_replay_scan_lenient : pm_replay_scan)(t, o.domains, &scan, err))
        pm_usage_error("%s: %s", path, err);
    if (o.lenient && !pm_trace_finished(t))
        fprintf(stderr, "pymemlab: note: %s: the recording did not finish: replaying its %llu whole ops\n", path,
                (unsigned long long)pm_trace_op_count(t));
    if (scan.ops == 0)
        pm_usage_error("%s: no ops to replay%s", path,
                       o.domains ? " in the chosen domain (is the trace domain-tagged?)" : "");

    char tmp[4096];
    if (series_path) {
        snprintf(tmp, sizeof tmp, "%s.tmp", series_path);
        o.series = fopen(tmp, "w");
        if (!o.series)
            pm_usage_error("replay: cannot write --series file '%s'", tmp);
    }
    struct pm_replay_result r;
    int rc = pm_replay_measure(t, backend, &o, &scan, &r, err);
    if (o.series) {
        if (fclose(o.series) || (rc == 0 && rename(tmp, series_path))) {
            remove(tmp);
            pm_run_error("replay: cannot write --series file '%s'", series_path);
        }
        if (rc)
            remove(tmp);
    }
    if (rc == 2)
        pm_usage_error("%s: %s", path, err);
    if (rc)
        pm_run_error("%s: %s: %s", path, backend, err);

    struct pm_replay_opts timed = o;
    timed.series = NULL;
    timed.check_every = 0;
    timed.latency_every = 0;
    uint64_t *ns = calloc(reps ? reps : 1, sizeof *ns);
    for (uint64_t i = 0; i < reps; i++) {
        rc = pm_replay_time(t, backend, &timed, &ns[i], err);
        if (rc)
            pm_run_error("%s: %s: %s", path, backend, err);
    }
    qsort(ns, reps, sizeof *ns, cmp_u64);
    double ops_d = (double)scan.ops;
    double med = reps ? (double)(reps % 2 ? ns[reps / 2] : (ns[reps / 2 - 1] + ns[reps / 2]) / 2) / ops_d : 0;
    double mn = reps ? (double)ns[0] / ops_d : 0, mx = reps ? (double)ns[reps - 1] / ops_d : 0;

    if (json) {
        cJSON *j = pm_replay_json(backend, path, domain, &r, reps, ns);
        if (j)
            cJSON_AddStringToObject(j, "engine", o.engine == PM_ENGINE_PER_OP ? "per-op" : "windows");
        char *s = j ? cJSON_PrintUnformatted(j) : NULL;
        if (!s)
            pm_run_error("replay: out of memory writing JSON");
        puts(s);
        free(s);
        cJSON_Delete(j);
    } else {
        printf("trace                 %s (%llu ops, %llu slots)\n", path,
               (unsigned long long)scan.ops, (unsigned long long)pm_trace_slot_count(t));
        printf("backend               %s\n", backend);
        if (reps)
            printf("ns/op                 %.2f  (median of %llu; min %.2f, max %.2f; %s dispatch)\n",
                   med, (unsigned long long)reps, mn, mx,
                   o.engine == PM_ENGINE_PER_OP ? "per-op" : "windowed");
        printf("peak live bytes       %llu  (at op %llu)\n", (unsigned long long)scan.peak_live_bytes,
               (unsigned long long)scan.peak_live_op);
        printf("peak footprint bytes  %llu  (at op %llu)\n", (unsigned long long)r.peak_footprint_bytes,
               (unsigned long long)r.peak_footprint_op);
        printf("final live / footprint %llu / %llu\n", (unsigned long long)scan.final_live_bytes,
               (unsigned long long)r.final_footprint_bytes);
        printf("frag4 %.4f  frag3 %.4f  frag_at_peak_live %.4f\n", r.frag4, r.frag3, r.frag_at_peak_live);
        printf("retention %.4f  retention_trimmed %.4f\n", r.retention, r.retention_trimmed);
        if (r.backend_peak_mapped != PM_STAT_NA)
            printf("backend peak mapped   %llu\n", (unsigned long long)r.backend_peak_mapped);
        if (r.latency.samples)
            printf("latency ns            p50 %.1f  p99 %.1f  p99.9 %.1f  max %.0f  (%llu samples, timer floor %.1f subtracted)\n",
                   r.latency.p50_ns, r.latency.p99_ns, r.latency.p999_ns, r.latency.max_ns,
                   (unsigned long long)r.latency.samples, r.latency.floor_ns);
    }
    free(ns);
    pm_trace_close(t);
    return PM_EXIT_OK;
}
