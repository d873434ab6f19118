/* harness/engine/metrics.h — clocks and the process footprint, and the metric
 * definitions every report uses (also in README):
 *
 *  L(t)  live bytes: sum of requested sizes of live blocks, exact.
 *  F(t)  footprint: anonymous RSS of the process minus the baseline taken
 *        just before the first op (the mmap'd trace file is file-backed and
 *        so not counted). M(t): bytes the backend mapped (own backends).
 *  ns_per_op          wall time of the replay loop / T, runs without sampling
 *  peak_live_bytes    max L;  peak_footprint_bytes  max F
 *  frag4              max F / max L - 1      (Johnstone & Wilson measure 4)
 *  frag3              F(tF) / L(tF) - 1 at tF = argmax F          (measure 3)
 *  frag_at_peak_live  F(tL) / L(tL) - 1 at tL = argmax L          (measure 2)
 *  retention          F(T) / max F; retention_trimmed: the same after trim()
 */
#ifndef PM_METRICS_H
#define PM_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "pm_api.h"

PM_API_BEGIN

static inline uint64_t pm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Anonymous resident bytes of this process (RssAnon), from /proc/self/statm
 * (resident - shared pages). Returns 0 if unreadable. About 2 us a call. */
uint64_t pm_rss_anon_bytes(void);

/* ---- machine load around a measurement ----
 * A snapshot of /proc/stat's "cpu" line and /proc/loadavg; two of them give
 * what else the machine did meanwhile. busy = user + nice + system + irq +
 * softirq + steal jiffies; total adds idle and iowait. */
struct pm_cpu_snap {
    unsigned long long busy, steal, total; /* jiffies, all CPUs */
    double load1;                          /* 1-minute load average; -1 unknown */
    bool ok;                               /* /proc/stat was read */
};

struct pm_load {
    double load1_start, load1_end;  /* 1-minute load average before and after */
    double steal_pct;               /* CPU steal over the interval, % of all CPU time */
    double busy_cpus;               /* CPUs busy on average over the interval, ours included */
};

void pm_cpu_snap_take(struct pm_cpu_snap *s);
/* NAN fields where a snapshot could not be read. */
void pm_load_between(const struct pm_cpu_snap *a, const struct pm_cpu_snap *b, struct pm_load *out);
/* A run is on a loaded machine when the CPUs other processes kept busy
 * (busy_cpus minus what the run itself used, `own_cpus`, minus `expected`
 * other CPUs known to be ours) exceed PM_LOAD_OTHER_MAX, or steal exceeds
 * PM_LOAD_STEAL_MAX %. */
#define PM_LOAD_OTHER_MAX 0.5
#define PM_LOAD_STEAL_MAX 5.0
bool pm_load_is_loaded(const struct pm_load *l, double own_cpus, double expected);

PM_API_END
#endif
