/* harness/engine/stats.h — the statistics every timing report uses.
 *
 * Entry points
 *   pm_ci_median      median of n samples with a distribution-free interval
 *                     from order statistics (exact binomial coverage)
 *   pm_ci_ratio       the ratio of two medians with a bootstrap percentile
 *                     interval (fixed seed: the same data give the same
 *                     interval)
 *   pm_ci_geomean_ratio  the geometric mean of several such ratios (one per
 *                     workload), bootstrap interval
 *   pm_ci_overlap     whether two intervals overlap: then the two figures
 *                     are "not distinguishable" and are not ranked
 *
 * The median's interval is [x(k), x(n+1-k)] of the sorted samples, with the
 * largest k whose coverage 1 - 2 P(Bin(n, 1/2) <= k - 1) is at least the
 * level asked for (0.95). Below 6 samples no k reaches 95% (n = 5: k = 1
 * covers 93.75%); the interval is then min..max and `level` says what it
 * covers, so a report can print the true level. Nothing here prints.
 */
#ifndef PM_STATS_H
#define PM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include "pm_api.h"

PM_API_BEGIN

#define PM_CI_LEVEL 0.95
#define PM_CI_MIN_N 6           /* the fewest samples whose min..max covers the median at 95% */

struct pm_ci {
    size_t n;                   /* samples used (finite values) */
    double med;                 /* median; NAN when n == 0 */
    double lo, hi;              /* interval; NAN when n == 0 */
    double level;               /* its coverage (exact for the median; nominal for ratios) */
};

/* NAN values are skipped. */
void pm_ci_median(const double *x, size_t n, struct pm_ci *out);
/* median(a) / median(b), interval from `resamples` bootstrap resamples of
 * each (2000 if 0). NAN fields when either side has no sample or median(b)
 * is 0. */
void pm_ci_ratio(const double *a, size_t na, const double *b, size_t nb, unsigned resamples,
                 struct pm_ci *out);
/* The geometric mean over k pairs (a[i], b[i]) of median(a[i]) / median(b[i])
 * (pairs without samples on both sides, or with a median <= 0, left out;
 * out->n = the pairs used), interval from `resamples` bootstrap resamples
 * (2000 if 0) of every sample set at once (fixed seed). */
void pm_ci_geomean_ratio(const double *const *a, const size_t *na, const double *const *b,
                         const size_t *nb, size_t k, unsigned resamples, struct pm_ci *out);
/* Both intervals known and overlapping (closed intervals). */
bool pm_ci_overlap(const struct pm_ci *a, const struct pm_ci *b);
/* Median of n values (NAN skipped); NAN if none. */
double pm_median(const double *x, size_t n);
/* The q-quantile (0 <= q <= 1) of n values (NAN skipped), linear
 * interpolation between order statistics (R's type 7: p50 of 1..4 is 2.5,
 * p99 of 1..100 is 99.01); NAN if none. Issue 20: GC pause p50/p99. */
double pm_quantile(const double *x, size_t n, double q);

PM_API_END
#endif
