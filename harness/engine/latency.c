/* harness/engine/latency.c — the sampled latency histogram. See latency.h. */
#include "latency.h"
#include "metrics.h"
#include "pm_random.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

_Static_assert(PM_LAT_BUCKETS >= (59u << PM_LAT_SUB_BITS) + (1u << PM_LAT_SUB_BITS),
               "the histogram covers every 64-bit value");

/* The gap to the next timed op: uniform in 1..2N-1 (mean N). */
static uint64_t next_gap(struct pm_lat *l)
{
    return l->every <= 1 ? 1 : 1 + pm_xorshift64(&l->rng) % (2 * l->every - 1);
}

void pm_lat_init(struct pm_lat *l, uint64_t every)
{
    memset(l, 0, sizeof *l);
    l->every = every ? every : 1;
    l->rng = UINT64_C(0x9E3779B97F4A7C15);
    l->next = next_gap(l);
    l->ns_per_tick = 1.0;
    /* the floor: the median of 255 empty intervals (the timer's typical
     * cost; its least reading would leave part of it in every sample) */
    enum { TRIES = 255 };
    uint64_t d[TRIES];
    for (int i = 0; i < TRIES; i++) {
        uint64_t a = pm_lat_ticks();
        uint64_t b = pm_lat_ticks();
        d[i] = b - a;
    }
    for (int i = 1; i < TRIES; i++)         /* insertion sort: 255 values */
        for (int j = i; j > 0 && d[j - 1] > d[j]; j--) {
            uint64_t t = d[j];
            d[j] = d[j - 1];
            d[j - 1] = t;
        }
    l->floor = d[TRIES / 2];
}

static unsigned bucket_of(uint64_t v)
{
    if (v < (1u << PM_LAT_SUB_BITS))
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);     /* e >= SUB_BITS */
    unsigned shift = e - PM_LAT_SUB_BITS;
    unsigned sub = (unsigned)(v >> shift) & ((1u << PM_LAT_SUB_BITS) - 1);
    return ((shift + 1) << PM_LAT_SUB_BITS) + sub;
}

/* The middle of a bucket's range, in ticks. */
static double bucket_value(unsigned i)
{
    if (i < (1u << PM_LAT_SUB_BITS))
        return (double)i;
    unsigned shift = (i >> PM_LAT_SUB_BITS) - 1;
    unsigned sub = i & ((1u << PM_LAT_SUB_BITS) - 1);
    double low = (double)(((uint64_t)(1u << PM_LAT_SUB_BITS) + sub) << shift);
    return low + (double)((uint64_t)1 << shift) / 2.0;
}

void pm_lat_add(struct pm_lat *l, uint64_t k, uint64_t ticks)
{
    uint64_t v = ticks > l->floor ? ticks - l->floor : 0;
    l->bucket[bucket_of(v)]++;
    l->count++;
    if (v > l->max)
        l->max = v;
    l->next = k + next_gap(l);
}

void pm_lat_start(struct pm_lat *l)
{
    l->t0_ns = pm_now_ns();
    l->t0_ticks = pm_lat_ticks();
}

void pm_lat_stop(struct pm_lat *l)
{
#if PM_LAT_TSC
    /* at least 10 ms between the two readings: a short run still gets a
     * calibration good to ~0.1% */
    uint64_t ns;
    while ((ns = pm_now_ns()) - l->t0_ns < 10000000u)
        ;
    uint64_t ticks = pm_lat_ticks();
    l->ns_per_tick = ticks > l->t0_ticks ? (double)(ns - l->t0_ns) / (double)(ticks - l->t0_ticks) : 1.0;
#else
    l->ns_per_tick = 1.0;
#endif
}

static double quantile(const struct pm_lat *l, double q)
{
    uint64_t rank = (uint64_t)ceil(q * (double)l->count);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < PM_LAT_BUCKETS; i++) {
        seen += l->bucket[i];
        if (seen >= rank) {
            double v = bucket_value(i);
            return v > (double)l->max ? (double)l->max : v;
        }
    }
    return (double)l->max;
}

void pm_lat_summarize(const struct pm_lat *l, struct pm_lat_summary *out)
{
    memset(out, 0, sizeof *out);
    if (!l->count)
        return;
    double k = l->ns_per_tick;
    out->samples = l->count;
    out->p50_ns = quantile(l, 0.50) * k;
    out->p99_ns = quantile(l, 0.99) * k;
    out->p999_ns = quantile(l, 0.999) * k;
    out->max_ns = (double)l->max * k;
    out->floor_ns = (double)l->floor * k;
}

void pm_lat_json(cJSON *o, const struct pm_lat_summary *s)
{
    if (!s->samples)
        return;
    cJSON_AddNumberToObject(o, "lat_samples", (double)s->samples);
    cJSON_AddNumberToObject(o, "lat_p50_ns", s->p50_ns);
    cJSON_AddNumberToObject(o, "lat_p99_ns", s->p99_ns);
    cJSON_AddNumberToObject(o, "lat_p999_ns", s->p999_ns);
    cJSON_AddNumberToObject(o, "lat_max_ns", s->max_ns);
    cJSON_AddNumberToObject(o, "lat_floor_ns", s->floor_ns);
}
