/* harness/micro.c — `pymemlab micro`: the built-in churn micro-benchmark.
 *
 * Fills `live` slots with blocks of 16..512 bytes (uniform), then repeats:
 * pick a random slot, free its block, malloc a new one of a random size and
 * write its first and last byte. One op is one call (a free or a malloc), so
 * --ops 20M is 10M free+malloc pairs. The random numbers come from an
 * xorshift generator inlined in the loop; its cost is in the `null` backend's
 * figure, which is the loop's own overhead. One backend per process.
 */
#include "cli.h"
#include "metrics.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static inline size_t pick_size(uint64_t r) { return 16 + (size_t)(r % 497); }

int cmd_micro(int argc, char **argv)
{
    const char *backend = NULL;
    uint64_t ops = 20000000, live = 100000, seed = 42;
    int json = 0;
    static const struct option lo[] = {
        {"backend", required_argument, 0, 'b'}, {"ops", required_argument, 0, 'n'},
        {"live", required_argument, 0, 'l'},    {"seed", required_argument, 0, 's'},
        {"json", no_argument, 0, 'j'},          {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        switch (c) {
        case 'b': backend = optarg; break;
        case 'n': ops = pm_arg_count("--ops", optarg, 2, UINT64_C(1) << 40); break;
        case 'l': live = pm_arg_count("--live", optarg, 1, UINT64_C(1) << 28); break;
        case 's': seed = pm_arg_count("--seed", optarg, 0, UINT64_MAX); break;
        case 'j': json = 1; break;
        default: pm_bad_option("micro", c, argv);
        }
    }
    if (optind < argc)
        pm_usage_error("micro: unexpected argument '%s'", argv[optind]);
    if (!backend)
        pm_usage_error("micro: --backend is required (see 'pymemlab backends')");

    const struct allocator_ops *o;
    pm_heap_t *h = pm_cli_backend(backend, &o);
    void **slot = calloc(live, sizeof *slot);
    if (!slot)
        pm_run_error("micro: cannot allocate %llu slots", (unsigned long long)live);
    uint64_t rng = seed * 0x9E3779B97F4A7C15u + 1;
    for (uint64_t i = 0; i < live; i++) {
        size_t n = pick_size(xorshift(&rng));
        char *p = o->malloc(h, n);
        if (!p)
            pm_run_error("micro: %s: out of memory while filling", backend);
        p[0] = p[n - 1] = 1;
        slot[i] = p;
    }
    uint64_t pairs = ops / 2;
    uint64_t t0 = pm_now_ns();
    for (uint64_t k = 0; k < pairs; k++) {
        uint64_t r = xorshift(&rng);
        uint64_t i = (r >> 32) % live;
        size_t n = pick_size(r);
        o->free(h, slot[i]);
        char *p = o->malloc(h, n);
        if (__builtin_expect(!p, 0))
            pm_run_error("micro: %s: out of memory at op %llu", backend, (unsigned long long)(2 * k));
        p[0] = p[n - 1] = (char)k;
        slot[i] = p;
    }
    uint64_t t1 = pm_now_ns();
    double ns = (double)(t1 - t0) / (double)(2 * pairs);
    uint64_t rss = pm_rss_anon_bytes();
    for (uint64_t i = 0; i < live; i++)
        o->free(h, slot[i]);
    free(slot);
    o->destroy(h);
    if (json)
        printf("{\"backend\":\"%s\",\"ops\":%llu,\"live\":%llu,\"seed\":%llu,"
               "\"ns_per_op\":%.3f,\"rss_anon_bytes\":%llu}\n",
               backend, (unsigned long long)(2 * pairs), (unsigned long long)live,
               (unsigned long long)seed, ns, (unsigned long long)rss);
    else
        printf("%-12s %10llu ops  %8.2f ns/op  (live %llu, 16..512 B, seed %llu)\n", backend,
               (unsigned long long)(2 * pairs), ns, (unsigned long long)live, (unsigned long long)seed);
    return PM_EXIT_OK;
}
