/* harness/cli/cmd_replay.c — `pymemlab replay TRACE --backend B ...`.
 *
 * One sampled run (the footprint figures), then --reps timed runs without
 * sampling (ns_per_op = median with its interval, stats.h), each in a fresh
 * process forked from this one, which never uses the backend itself: every
 * backend, global or per-instance, is measured from the same process
 * history (replay.h: timing modes). The machine's load is read before and
 * after. Prints a small report, or with --json one object per line (keys
 * documented in README).
 */
#include "cli.h"
#include "opts.h"
#include "metrics.h"
#include "replay.h"
#include "stats.h"

#include <math.h>
#include <sys/resource.h>

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The option table: the parser, --help, the usage line and the completion
 * come from it (opts.h). */
static const struct pm_cli_opt replay_opts[] = {
    PM_CLI_OPT("backend", 'b', PM_CLI_BACKEND, "B", NULL, "the backend, NAME[,key=value...] (see 'pymemlab backends')",
     .flags = PM_CLI_REQUIRED),
    PM_CLI_OPT("reps", 'r', PM_CLI_COUNT, "N", PM_CLI_STR(PM_CI_MIN_N), "timed repetitions after the sampled run (0: the sampled run only)",
     .min = 0, .max = 1000),
    PM_CLI_OPT("mode", 'm', PM_CLI_ENUM, "MODE", "cold",
     "cold: a fresh process per timed rep; warm: the reps follow each other in one process", .values = "cold warm"),
    PM_CLI_OPT("timed-only", 'T', PM_CLI_FLAG, NULL, NULL, "only the timed reps: no sampled run, no memory figures"),
    PM_CLI_OPT("json", 'j', PM_CLI_FLAG, NULL, NULL, "one JSON object instead of the text report"),
    PM_CLI_OPT("check-every", 'c', PM_CLI_COUNT, "N", "never", "run the backend's check() every N ops of the sampled run",
     .min = 1, .max = UINT64_MAX),
    PM_CLI_OPT("sample-every", 's', PM_CLI_COUNT, "N", "ops/4000",
     "sample footprint and live bytes every N ops", .min = 1, .max = UINT64_MAX),
    PM_CLI_OPT("series", 'S', PM_CLI_FILE, "FILE", NULL, "write the sampled series (CSV) to FILE"),
    PM_CLI_OPT("domain", 'd', PM_CLI_ENUM, "D", "all",
     "replay only the ops of one API domain (pymalloc: obj and mem)",
     .values = "obj mem raw pymalloc all"),
    PM_CLI_OPT("touch", 't', PM_CLI_ENUM, "T", "pages",
     "what is written into each block: nothing, one byte a page, or all of it", .values = "none pages full"),
    PM_CLI_OPT("lenient", 'l', PM_CLI_FLAG, NULL, NULL, "replay the whole ops of an unfinished or damaged recording"),
    PM_CLI_OPT("engine", 'e', PM_CLI_ENUM, "E", "windows", "the timing loop: decoded windows, or one op at a time", .values = "windows per-op"),
    PM_CLI_OPT("latency-every", 'L', PM_CLI_COUNT, "N", "off",
     "time one call in N in the sampled run (latency percentiles)", .min = 1, .max = UINT64_C(1) << 32),
    {0},
};

const struct pm_cli_spec pm_spec_replay = {
    .name = "replay", .args = "TRACE", .opts = replay_opts,
    .summary = "replay a trace on a backend: ns/op, footprint, fragmentation, retention",
};

/* One replay command: its options, then what each step adds. */
struct replay_cmd {
    const char *backend, *series_path, *domain, *path;
    uint64_t reps;
    int timed_only, json;
    enum pm_time_mode mode;
    struct pm_replay_opts o;
    struct pm_trace *t;
    struct pm_replay_scan scan;
    struct pm_replay_result r;
    struct pm_timing *tm;       /* reps timings */
    struct pm_load load;
    double own_cpu;
    bool loaded;
};

static void parse_options(struct replay_cmd *rc, int argc, char **argv)
{
    struct pm_replay_opts *o = &rc->o;
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_replay, argc, argv, &v)) != -1) {
        switch (c) {
        case 'b': rc->backend = v.s; break;
        case 'r': rc->reps = v.u; break;
        case 'j': rc->json = 1; break;
        case 'T': rc->timed_only = 1; break;
        case 'l': o->lenient = true; break;
        case 'c': o->check_every = v.u; break;
        case 's': o->sample_every = v.u; break;
        case 'S': rc->series_path = v.s; break;
        case 'L': o->latency_every = v.u; break;
        case 'd':
            rc->domain = optarg;
            if (!pm_replay_parse_domains(optarg, &o->domains))
                pm_usage_error("replay: bad value for --domain: '%s' (expected obj, mem, raw, pymalloc or all)", optarg);
            break;
        case 't':
            if (!strcmp(optarg, "none")) o->touch = PM_TOUCH_NONE;
            else if (!strcmp(optarg, "pages")) o->touch = PM_TOUCH_PAGES;
            else if (!strcmp(optarg, "full")) o->touch = PM_TOUCH_FULL;
            else pm_usage_error("replay: bad value for --touch: '%s' (expected none, pages or full)", optarg);
            break;
        case 'e':
            if (!strcmp(optarg, "windows")) o->engine = PM_ENGINE_WINDOWS;
            else if (!strcmp(optarg, "per-op")) o->engine = PM_ENGINE_PER_OP;
            else pm_usage_error("replay: bad value for --engine: '%s' (expected windows or per-op)", optarg);
            break;
        case 'm':
            if (!pm_time_mode_parse(optarg, &rc->mode))
                pm_usage_error("replay: bad value for --mode: '%s' (expected cold or warm)", optarg);
            break;
        default: pm_bad_option("replay", c, argv);
        }
    }
    if (optind != argc - 1)
        pm_usage_error(optind >= argc ? "replay: a TRACE argument is required"
                                      : "replay: one TRACE argument expected, got '%s'",
                       argv[argc - 1]);
    rc->path = argv[optind];
}

/* Everything that exits 2, before any output file is touched. */
static void check_input(struct replay_cmd *rc)
{
    const struct pm_replay_opts *o = &rc->o;
    if (!rc->backend)
        pm_usage_error("replay: --backend is required (see 'pymemlab backends')");
    if (rc->series_path)    /* before any work: exit 2 on a path that cannot be written */
        pm_cli_out_check("replay", rc->series_path);
    if (rc->timed_only && (rc->series_path || o->check_every || o->latency_every))
        pm_usage_error("replay: --timed-only makes no sampled run: it takes no --series, --check-every or --latency-every");
    if (rc->timed_only && !rc->reps)
        pm_usage_error("replay: --timed-only needs --reps of at least 1");
    const char *path = rc->path;

    /* Validate the backend spec before touching any output file (in a
     * fresh process: this one must not initialise a global backend). */
    char err[PM_ERR_LEN];
    if (pm_replay_check_spec(rc->backend, err))
        pm_usage_error("%s", err);
    if (pm_trace_open(path, &rc->t, err))
        pm_usage_error("%s", err);
    if ((o->lenient ? pm_replay_scan_lenient : pm_replay_scan)(rc->t, o->domains, &rc->scan, err))
        pm_usage_error("%s: %s", path, err);
    if (o->lenient && !pm_trace_finished(rc->t))
        fprintf(stderr, "pymemlab: note: %s: the recording did not finish: replaying its %llu whole ops\n", path,
                (unsigned long long)pm_trace_op_count(rc->t));
    if (rc->scan.ops == 0)
        pm_usage_error("%s: no ops to replay%s", path,
                       o->domains ? " in the chosen domain (is the trace domain-tagged?)" : "");
}

/* The sampled run (with --series written through a .tmp file renamed on
 * success), unless --timed-only. */
static void sampled_run(struct replay_cmd *rc)
{
    struct pm_replay_opts *o = &rc->o;
    const char *series_path = rc->series_path, *path = rc->path;
    char tmp[4096], err[PM_ERR_LEN];
    if (series_path) {
        snprintf(tmp, sizeof tmp, "%s.tmp", series_path);
        o->series = fopen(tmp, "w");
        if (!o->series)
            pm_usage_error("replay: cannot write --series file '%s'", tmp);
    }
    int rc2 = 0;
    if (rc->timed_only) {   /* the memory figures are not measured: null */
        pm_replay_result_unmeasured(&rc->r, &rc->scan);
    } else {
        rc2 = pm_replay_measure_fresh(rc->t, rc->backend, o, &rc->scan, &rc->r, err);
    }
    if (o->series) {
        if (fclose(o->series) || (rc2 == 0 && rename(tmp, series_path))) {
            remove(tmp);
            pm_run_error("replay: cannot write --series file '%s'", series_path);
        }
        if (rc2)
            remove(tmp);
    }
    if (rc2 == 2)
        pm_usage_error("%s: %s", path, err);
    if (rc2)
        pm_run_error("%s: %s: %s", path, rc->backend, err);
}

/* The sampled run, then the timed reps, with the machine's load between
 * the start and the end. */
static void measure(struct replay_cmd *rc)
{
    struct pm_cpu_snap snap0, snap1;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_CHILDREN, &ru0);
    pm_cpu_snap_take(&snap0);
    uint64_t wall0 = pm_now_ns();
    sampled_run(rc);

    struct pm_replay_opts timed = rc->o;
    timed.series = NULL;
    timed.check_every = 0;
    timed.latency_every = 0;
    rc->tm = calloc(rc->reps ? rc->reps : 1, sizeof *rc->tm);
    if (!rc->tm)
        pm_run_error("replay: out of memory");
    char err[PM_ERR_LEN];
    for (uint64_t i = 0; i < rc->reps; i++)
        if (pm_replay_time_fresh(rc->t, rc->backend, &timed, &rc->scan, rc->mode, &rc->tm[i], err))
            pm_run_error("%s: %s: %s", rc->path, rc->backend, err);
    uint64_t wall1 = pm_now_ns();
    pm_cpu_snap_take(&snap1);
    getrusage(RUSAGE_CHILDREN, &ru1);
    pm_load_between(&snap0, &snap1, &rc->load);
    rc->own_cpu = ((double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                   (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                   (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                   (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6) /
                  ((double)(wall1 - wall0) / 1e9);
    rc->loaded = pm_load_is_loaded(&rc->load, rc->own_cpu, 0.0);
}

/* --json: the record with the engine and the load, on one line. */
static void print_json(const struct replay_cmd *rc, cJSON *j)
{
    const struct pm_load *load = &rc->load;
    cJSON_AddStringToObject(j, "engine", rc->o.engine == PM_ENGINE_PER_OP ? "per-op" : "windows");
    cJSON *ld = cJSON_AddObjectToObject(j, "load");
    if (ld) {
        cJSON_AddNumberToObject(ld, "load1_start", isfinite(load->load1_start) ? load->load1_start : -1);
        cJSON_AddNumberToObject(ld, "load1_end", isfinite(load->load1_end) ? load->load1_end : -1);
        cJSON_AddNumberToObject(ld, "steal_pct", isfinite(load->steal_pct) ? load->steal_pct : -1);
        cJSON_AddNumberToObject(ld, "busy_cpus", isfinite(load->busy_cpus) ? load->busy_cpus : -1);
        cJSON_AddNumberToObject(ld, "own_cpus", rc->own_cpu);
        cJSON_AddBoolToObject(ld, "loaded", rc->loaded);
    }
    char *s = cJSON_PrintUnformatted(j);
    if (!s)
        pm_run_error("replay: out of memory writing JSON");
    puts(s);
    free(s);
}

/* The text report. */
static void print_text(const struct replay_cmd *rc, const cJSON *j, const char *label)
{
    const char *backend = rc->backend;
    const struct pm_replay_scan *scan = &rc->scan;
    const struct pm_replay_result *r = &rc->r;
    const struct pm_load *load = &rc->load;
    uint64_t reps = rc->reps;
    const cJSON *med = cJSON_GetObjectItemCaseSensitive(j, "ns_per_op");
    const cJSON *cilo = cJSON_GetObjectItemCaseSensitive(j, "ns_per_op_ci_lo");
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(j, "ns_per_op_ci_hi");
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(j, "ci_level");
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(j, "minflt_per_op");
    printf("trace                 %s (%llu ops, %llu slots used)\n", rc->path,
           (unsigned long long)scan->ops, (unsigned long long)scan->nslots);
    if (strcmp(label, backend))
        printf("backend               %s (%s)\n", label, backend);
    else
        printf("backend               %s\n", backend);
    if (reps && cJSON_IsNumber(med))
        printf("ns/op                 %.2f  [%.2f, %.2f] (%.1f%% interval of the median of %llu %s reps, "
               "each in a fresh process; %s dispatch)\n",
               med->valuedouble, cilo->valuedouble, hi->valuedouble, 100.0 * lv->valuedouble,
               (unsigned long long)reps, pm_time_mode_name(rc->mode),
               rc->o.engine == PM_ENGINE_PER_OP ? "per-op" : "windowed");
    if (reps && cJSON_IsNumber(fl))
        printf("page faults/op        %.5f  (minor, median of the timed reps)\n", fl->valuedouble);
    printf("peak live bytes       %llu  (at op %llu)\n", (unsigned long long)scan->peak_live_bytes,
           (unsigned long long)scan->peak_live_op);
    if (rc->timed_only) {
        printf("footprint, frag, retention: not measured (--timed-only)\n");
    } else if (r->no_memory) {
        printf("footprint, frag, retention: not applicable (%s keeps no heap of a program's shape)\n",
               backend);
    } else {
        printf("peak footprint bytes  %llu  (at op %llu)\n", (unsigned long long)r->rec.peak_footprint_bytes,
               (unsigned long long)r->peak_footprint_op);
        printf("final live / footprint %llu / %llu\n", (unsigned long long)scan->final_live_bytes,
               (unsigned long long)r->rec.final_footprint_bytes);
        printf("frag4 %.4f  frag3 %.4f  frag_at_peak_live %.4f\n", r->rec.frag4, r->rec.frag3,
               r->rec.frag_at_peak_live);
        printf("retention %.4f  retention_trimmed %.4f\n", r->rec.retention, r->rec.retention_trimmed);
        if (r->rec.backend_peak_mapped_bytes != PM_STAT_NA)
            printf("backend peak mapped   %llu\n", (unsigned long long)r->rec.backend_peak_mapped_bytes);
    }
    if (r->rec.lat_samples != PM_STAT_NA)
        printf("latency ns            p50 %.1f  p99 %.1f  p99.9 %.1f  max %.0f  (%llu samples, timer floor %.1f subtracted)\n",
               r->rec.lat_p50_ns, r->rec.lat_p99_ns, r->rec.lat_p999_ns, r->rec.lat_max_ns,
               (unsigned long long)r->rec.lat_samples, r->rec.lat_floor_ns);
    printf("machine load          %.2f -> %.2f (1-min average); %.2f CPUs busy, %.2f of them this "
           "replay's; steal %.1f%%%s\n",
           load->load1_start, load->load1_end, load->busy_cpus, rc->own_cpu, load->steal_pct,
           rc->loaded ? "  LOADED: timings are not comparable with a quiet run" : "");
}

int cmd_replay(int argc, char **argv)
{
    struct replay_cmd rc = {
        .domain = "all", .reps = PM_CI_MIN_N, .mode = PM_TIME_COLD,
        .o = {.touch = PM_TOUCH_PAGES, .on_misuse = pm_cli_misuse_abort},
    };
    parse_options(&rc, argc, argv);
    check_input(&rc);
    measure(&rc);

    /* results and tables show a lib:PATH backend by its NAME */
    char label[128], err[PM_ERR_LEN];
    if (pm_backend_label(rc.backend, label, sizeof label, err))
        pm_usage_error("replay: %s", err);
    cJSON *j = pm_replay_json(label, rc.path, rc.domain, &rc.r, rc.reps, rc.tm, rc.mode);
    if (!j)
        pm_run_error("replay: out of memory writing JSON");
    if (strcmp(label, rc.backend))
        cJSON_AddStringToObject(j, "spec", rc.backend);
    if (rc.json)
        print_json(&rc, j);
    else
        print_text(&rc, j, label);
    cJSON_Delete(j);
    free(rc.tm);
    pm_trace_close(rc.t);
    return PM_EXIT_OK;
}
