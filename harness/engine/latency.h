/* harness/engine/latency.h — per-op latency, sampled: one allocator call in N
 * (on average) is timed with the cycle counter and counted in a log-linear
 * histogram; p50, p99, p99.9 and max come out in ns.
 *
 * Entry points
 *   pm_lat_init      the sampler: interval N, the timer's floor
 *   pm_lat_due       is op number k one to time? (inline, one compare)
 *   pm_lat_ticks     the timer (inline)
 *   pm_lat_add       counts one sample and draws the next op to time
 *   pm_lat_start / pm_lat_stop   bracket the run: ticks -> ns calibration
 *   pm_lat_summarize p50, p99, p99.9, max in ns
 *   pm_lat_json      adds the lat_* keys to a cJSON object
 *
 * The timer. x86-64: rdtscp (it waits for the instructions before it, so the
 * call has finished when the end is read; no fences: an lfence costs ~20 ns
 * on the reference machine, more than the calls measured). The TSC is
 * converted to ns with a calibration over the measured run itself: the TSC
 * and CLOCK_MONOTONIC are read at pm_lat_start and pm_lat_stop (at least
 * 10 ms apart), ns_per_tick = delta ns / delta ticks. Elsewhere:
 * clock_gettime(CLOCK_MONOTONIC) (ticks are ns). The floor — the median
 * reading of an empty timed interval, over 255 tries at init — is subtracted
 * from every sample (clamped at 0), so a sample is the time of the call, not
 * of the call plus the timer (documented in docs/suites.md). Resolution: the
 * counter's step; on the reference machine (an AMD EPYC VM) the TSC moves in
 * steps of 26 cycles, 10 ns, so figures near 10-20 ns are coarse.
 *
 * Which ops. The gap to the next timed op is drawn uniformly from 1..2N-1
 * (mean N) with a fixed-seed PRNG, not a fixed stride: traces are periodic
 * (churn alternates free and malloc), and a stride of N would time one kind
 * of op only.
 *
 * Histogram: 32 sub-buckets per power of two (relative error < 1/32, about
 * 3%); values below 32 ticks exact; max kept exactly. 16 KiB, allocated by
 * the caller (inside struct pm_lat), so nothing is allocated while sampling.
 */
#ifndef PM_LATENCY_H
#define PM_LATENCY_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#define PM_LAT_TSC 1
#else
#include "metrics.h"
#define PM_LAT_TSC 0
#endif

#include "pm_api.h"

PM_API_BEGIN

#define PM_LAT_SUB_BITS 5                           /* 32 sub-buckets per octave */
#define PM_LAT_BUCKETS (64u << PM_LAT_SUB_BITS)      /* 2048 counters */
#define PM_LAT_DEFAULT_EVERY 64

struct pm_lat {
    uint64_t every;             /* N: mean ops between timed ops */
    uint64_t next;              /* the op number (1-based) to time next */
    uint64_t rng;               /* xorshift64 state for the gaps */
    uint64_t floor;             /* ticks of an empty timed interval (least seen) */
    uint64_t count;             /* samples */
    uint64_t max;               /* largest sample, ticks (floor subtracted) */
    uint64_t t0_ticks, t0_ns;   /* pm_lat_start */
    double ns_per_tick;         /* set by pm_lat_stop (1 without a TSC) */
    uint64_t bucket[PM_LAT_BUCKETS];
};

struct pm_lat_summary {
    uint64_t samples;           /* 0: no latency figures (the others are then 0) */
    double p50_ns, p99_ns, p999_ns, max_ns;
    double floor_ns;            /* the timer's floor that was subtracted */
};

static inline uint64_t pm_lat_ticks(void)
{
#if PM_LAT_TSC
    unsigned aux;
    return __rdtscp(&aux);
#else
    return pm_now_ns();
#endif
}

/* every >= 1. Measures the floor. */
void pm_lat_init(struct pm_lat *l, uint64_t every);
static inline bool pm_lat_due(const struct pm_lat *l, uint64_t k) { return k == l->next; }
/* One sample of `ticks` (end - start); draws the next op after `k`. */
void pm_lat_add(struct pm_lat *l, uint64_t k, uint64_t ticks);
void pm_lat_start(struct pm_lat *l);
void pm_lat_stop(struct pm_lat *l);
void pm_lat_summarize(const struct pm_lat *l, struct pm_lat_summary *out);
/* Adds lat_samples, lat_p50_ns, lat_p99_ns, lat_p999_ns, lat_max_ns and
 * lat_floor_ns (a summary without samples: nothing). */
struct cJSON;
void pm_lat_json(struct cJSON *o, const struct pm_lat_summary *s);

PM_API_END
#endif
