/* harness/cli/micro.c — `pymemlab micro`: the built-in churn micro-benchmark.
 *
 * Fills `live` slots with blocks of 16..512 bytes (uniform), then repeats:
 * pick a random slot, free its block, malloc a new one of a random size and
 * write its first and last byte. One op is one call (a free or a malloc), so
 * --ops 20M is 10M free+malloc pairs. The random numbers come from an
 * xorshift generator inlined in the loop; its cost is in the `null` backend's
 * figure, which is the loop's own overhead. One backend per process.
 */
#include "cli.h"
#include "opts.h"
#include "fresh.h"
#include "metrics.h"
#include "pm_random.h"
#include "replay.h"
#include "stats.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static inline size_t pick_size(uint64_t r) { return 16 + (size_t)(r % 497); }

struct micro_args {
    const char *backend;
    uint64_t ops, live, seed;
    enum pm_time_mode mode;
};

struct micro_out {
    double ns_per_op, minflt_per_op;
    uint64_t rss;
    int pid;
};

/* The churn loop: ops/2 free+malloc pairs; returns its wall ns. */
static int churn(const struct allocator_ops *o, pm_heap_t *h, void **slot, uint64_t live,
                 uint64_t pairs, uint64_t *rng, uint64_t *ns, char err[PM_ERR_LEN])
{
    uint64_t t0 = pm_now_ns();
    for (uint64_t k = 0; k < pairs; k++) {
        uint64_t r = pm_xorshift64(rng);
        uint64_t i = (r >> 32) % live;
        size_t n = pick_size(r);
        o->free(h, slot[i]);
        char *p = o->malloc(h, n);
        if (__builtin_expect(!p, 0)) {
            slot[i] = NULL;
            snprintf(err, PM_ERR_LEN, "out of memory at op %llu", (unsigned long long)(2 * k));
            return 1;
        }
        p[0] = p[n - 1] = (char)k;
        slot[i] = p;
    }
    *ns = pm_now_ns() - t0;
    return 0;
}

/* One timed rep, in a fresh process (fresh.h). Cold: fill, then the timed
 * churn; warm: fill, an untimed churn, then the timed one. */
static int micro_rep(void *arg, void *outp, char err[PM_ERR_LEN])
{
    const struct micro_args *a = arg;
    struct micro_out *out = outp;
    out->pid = (int)getpid();
    const struct allocator_ops *o;
    struct pm_config cfg = {.on_misuse = pm_cli_misuse_abort};
    pm_heap_t *h = pm_backend_create(a->backend, &cfg, &o, err);
    if (!h)
        return 2;
    void **slot = mmap(NULL, a->live * sizeof *slot, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (slot == MAP_FAILED) {
        o->destroy(h);
        snprintf(err, PM_ERR_LEN, "cannot map %llu slots", (unsigned long long)a->live);
        return 1;
    }
    uint64_t rng = a->seed * 0x9E3779B97F4A7C15u + 1;
    int rc = 0;
    for (uint64_t i = 0; i < a->live && !rc; i++) {
        size_t n = pick_size(pm_xorshift64(&rng));
        char *p = o->malloc(h, n);
        if (!p) {
            snprintf(err, PM_ERR_LEN, "out of memory while filling");
            rc = 1;
            break;
        }
        p[0] = p[n - 1] = 1;
        slot[i] = p;
    }
    uint64_t pairs = a->ops / 2, ns = 0;
    if (!rc && a->mode == PM_TIME_WARM)
        rc = churn(o, h, slot, a->live, pairs, &rng, &ns, err);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    if (!rc)
        rc = churn(o, h, slot, a->live, pairs, &rng, &ns, err);
    getrusage(RUSAGE_SELF, &ru1);
    out->ns_per_op = (double)ns / (double)(2 * pairs);
    out->minflt_per_op = (double)(ru1.ru_minflt - ru0.ru_minflt) / (double)(2 * pairs);
    out->rss = pm_rss_anon_bytes();
    for (uint64_t i = 0; i < a->live; i++)
        if (slot[i])
            o->free(h, slot[i]);
    munmap(slot, a->live * sizeof *slot);
    o->destroy(h);
    return rc;
}

static const struct pm_cli_opt micro_opts[] = {
    PM_CLI_OPT("backend", 'b', PM_CLI_BACKEND, "B", NULL, "the backend, NAME[,key=value...] (see 'pymemlab backends')",
               .flags = PM_CLI_REQUIRED),
    PM_CLI_OPT("ops", 'n', PM_CLI_COUNT, "N", "20M", "free-then-malloc pairs", .min = 2, .max = UINT64_C(1) << 40),
    PM_CLI_OPT("live", 'l', PM_CLI_COUNT, "N", "100K", "live blocks kept (the churn's working set)", .min = 1,
               .max = UINT64_C(1) << 28),
    PM_CLI_OPT("seed", 's', PM_CLI_COUNT, "S", "42", "random seed of the sizes and the order", .min = 0,
               .max = UINT64_MAX),
    PM_CLI_OPT("reps", 'r', PM_CLI_COUNT, "N", PM_CLI_STR(PM_CI_MIN_N), "timed repetitions", .min = 1, .max = 1000),
    PM_CLI_OPT("mode", 'm', PM_CLI_ENUM, "MODE", "cold",
               "cold: a fresh process per rep; warm: the reps follow each other in one process",
               .values = "cold warm"),
    PM_CLI_OPT("json", 'j', PM_CLI_FLAG, NULL, NULL, "one JSON object instead of the text report"),
    {0},
};

const struct pm_cli_spec pm_spec_micro = {
    .name = "micro", .opts = micro_opts,
    .summary = "random free-then-malloc churn micro-benchmark (ns per op)",
};

int cmd_micro(int argc, char **argv)
{
    const char *backend = NULL;
    uint64_t ops = 20000000, live = 100000, seed = 42, reps = PM_CI_MIN_N;
    enum pm_time_mode mode = PM_TIME_COLD;
    int json = 0;
    struct pm_cli_val v;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_micro, argc, argv, &v)) != -1) {
        switch (c) {
        case 'b': backend = v.s; break;
        case 'n': ops = v.u; break;
        case 'l': live = v.u; break;
        case 's': seed = v.u; break;
        case 'r': reps = v.u; break;
        case 'j': json = 1; break;
        case 'm':
            if (!pm_time_mode_parse(optarg, &mode))
                pm_usage_error("micro: bad value for --mode: '%s' (expected cold or warm)", optarg);
            break;
        default: pm_bad_option("micro", c, argv);
        }
    }
    if (optind < argc)
        pm_usage_error("micro: unexpected argument '%s'", argv[optind]);
    if (!backend)
        pm_usage_error("micro: --backend is required (see 'pymemlab backends')");
    char err[PM_ERR_LEN];
    if (pm_replay_check_spec(backend, err))
        pm_usage_error("%s", err);
    struct micro_args a = {backend, ops, live, seed, mode};
    double *ns = calloc(reps, sizeof *ns), *flt = calloc(reps, sizeof *flt);
    if (!ns || !flt)
        pm_run_error("micro: out of memory");
    uint64_t rss = 0;
    for (uint64_t i = 0; i < reps; i++) {
        struct micro_out out;
        int rc = pm_fresh_call(micro_rep, &a, &out, sizeof out, NULL, err);
        if (rc == 2)
            pm_usage_error("%s", err);
        if (rc)
            pm_run_error("micro: %s: %s", backend, err);
        ns[i] = out.ns_per_op;
        flt[i] = out.minflt_per_op;
        rss = out.rss;
    }
    struct pm_ci ci;
    pm_ci_median(ns, reps, &ci);
    double fl = pm_median(flt, reps);
    uint64_t n_ops = ops / 2 * 2;
    if (json) {
        printf("{\"backend\":\"%s\",\"ops\":%llu,\"live\":%llu,\"seed\":%llu,\"reps\":%llu,"
               "\"time_mode\":\"%s\",\"ns_per_op\":%.3f,\"ns_per_op_ci_lo\":%.3f,"
               "\"ns_per_op_ci_hi\":%.3f,\"ci_level\":%.4f,\"ns_per_op_reps\":[",
               backend, (unsigned long long)n_ops, (unsigned long long)live,
               (unsigned long long)seed, (unsigned long long)reps, pm_time_mode_name(mode), ci.med,
               ci.lo, ci.hi, ci.level);
        for (uint64_t i = 0; i < reps; i++)
            printf("%s%.3f", i ? "," : "", ns[i]);
        printf("],\"minflt_per_op\":%.6f,\"rss_anon_bytes\":%llu}\n", fl, (unsigned long long)rss);
    } else {
        printf("%-12s %10llu ops  %8.2f ns/op [%.2f, %.2f] (%.1f%% interval, %llu %s reps in fresh "
               "processes; %.5f faults/op; live %llu, 16..512 B, seed %llu)\n",
               backend, (unsigned long long)n_ops, ci.med, ci.lo, ci.hi, 100 * ci.level,
               (unsigned long long)reps, pm_time_mode_name(mode), fl, (unsigned long long)live,
               (unsigned long long)seed);
    }
    free(ns);
    free(flt);
    return PM_EXIT_OK;
}
