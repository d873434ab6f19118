/* harness/metrics.h — clocks and the process footprint, and the metric
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

#include <stdint.h>
#include <time.h>

static inline uint64_t pm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Anonymous resident bytes of this process (RssAnon), from /proc/self/statm
 * (resident - shared pages). Returns 0 if unreadable. About 2 us a call. */
uint64_t pm_rss_anon_bytes(void);

#endif
