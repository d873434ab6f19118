/* harness/engine/stats.c — see stats.h. */
#include "stats.h"
#include "pm_random.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Finite values of x, sorted, into a malloc'd array; *m their count. */
static double *sorted_finite(const double *x, size_t n, size_t *m)
{
    double *s = malloc((n ? n : 1) * sizeof *s);
    *m = 0;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            s[(*m)++] = x[i];
    qsort(s, *m, sizeof *s, cmp_d);
    return s;
}

static double median_sorted(const double *s, size_t m)
{
    return m % 2 ? s[m / 2] : (s[m / 2 - 1] + s[m / 2]) / 2.0;
}

double pm_median(const double *x, size_t n)
{
    size_t m;
    double *s = sorted_finite(x, n, &m);
    double r = s && m ? median_sorted(s, m) : NAN;
    free(s);
    return r;
}

double pm_quantile(const double *x, size_t n, double q)
{
    size_t m;
    double *s = sorted_finite(x, n, &m);
    double r = NAN;
    if (s && m) {
        double h = (double)(m - 1) * (q < 0 ? 0 : q > 1 ? 1 : q);
        size_t lo = (size_t)floor(h);
        size_t hi = lo + 1 < m ? lo + 1 : lo;
        r = s[lo] + (h - (double)lo) * (s[hi] - s[lo]);
    }
    free(s);
    return r;
}

/* P(Bin(n, 1/2) <= j), summed in log space so that large n do not overflow. */
static double binom_half_cdf(size_t n, size_t j)
{
    double sum = 0.0;
    for (size_t i = 0; i <= j && i <= n; i++)
        sum += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) -
                   (double)n * log(2.0));
    return sum;
}

void pm_ci_median(const double *x, size_t n, struct pm_ci *out)
{
    size_t m;
    double *s = sorted_finite(x, n, &m);
    *out = (struct pm_ci){.n = m, .med = NAN, .lo = NAN, .hi = NAN, .level = NAN};
    if (!s || m == 0) {
        free(s);
        return;
    }
    out->med = median_sorted(s, m);
    size_t k = 1;               /* 1-based order statistic of the lower end */
    double cover = 1.0 - 2.0 * binom_half_cdf(m, 0);
    while (2 * (k + 1) <= m + 1) {
        double c = 1.0 - 2.0 * binom_half_cdf(m, k);
        if (c < PM_CI_LEVEL)
            break;
        k++;
        cover = c;
    }
    out->lo = s[k - 1];
    out->hi = s[m - k];
    out->level = m == 1 ? 0.0 : cover;
    free(s);
}

static double resample_median(const double *s, size_t m, double *tmp, uint64_t *st)
{
    for (size_t i = 0; i < m; i++)
        tmp[i] = s[pm_splitmix64(st) % m];
    qsort(tmp, m, sizeof *tmp, cmp_d);
    return median_sorted(tmp, m);
}

void pm_ci_ratio(const double *a, size_t na, const double *b, size_t nb, unsigned resamples,
                 struct pm_ci *out)
{
    size_t ma, mb;
    double *sa = sorted_finite(a, na, &ma), *sb = sorted_finite(b, nb, &mb);
    unsigned B = resamples ? resamples : 2000;
    double *tmp = malloc(((ma > mb ? ma : mb) + 1) * sizeof *tmp);
    double *r = malloc(B * sizeof *r);
    *out = (struct pm_ci){.n = ma < mb ? ma : mb, .med = NAN, .lo = NAN, .hi = NAN, .level = PM_CI_LEVEL};
    if (sa && sb && tmp && r && ma && mb && median_sorted(sb, mb) != 0.0) {
        out->med = median_sorted(sa, ma) / median_sorted(sb, mb);
        uint64_t st = 0x5EEDu;  /* fixed: the same samples always give the same interval */
        unsigned k = 0;
        for (unsigned i = 0; i < B; i++) {
            double den = resample_median(sb, mb, tmp, &st);
            double num = resample_median(sa, ma, tmp, &st);
            if (den != 0.0)
                r[k++] = num / den;
        }
        if (k) {
            qsort(r, k, sizeof *r, cmp_d);
            double q = (1.0 - PM_CI_LEVEL) / 2.0;
            size_t ilo = (size_t)floor(q * (k - 1)), ihi = (size_t)ceil((1.0 - q) * (k - 1));
            out->lo = r[ilo];
            out->hi = r[ihi];
        }
    }
    free(sa);
    free(sb);
    free(tmp);
    free(r);
}

bool pm_ci_overlap(const struct pm_ci *a, const struct pm_ci *b)
{
    if (!isfinite(a->lo) || !isfinite(a->hi) || !isfinite(b->lo) || !isfinite(b->hi))
        return false;
    return a->lo <= b->hi && b->lo <= a->hi;
}

void pm_ci_geomean_ratio(const double *const *a, const size_t *na, const double *const *b,
                         const size_t *nb, size_t k, unsigned resamples, struct pm_ci *out)
{
    unsigned B = resamples ? resamples : 2000;
    *out = (struct pm_ci){.n = 0, .med = NAN, .lo = NAN, .hi = NAN, .level = PM_CI_LEVEL};
    double **sa = calloc(k ? k : 1, sizeof *sa), **sb = calloc(k ? k : 1, sizeof *sb);
    size_t *ma = calloc(k ? k : 1, sizeof *ma), *mb = calloc(k ? k : 1, sizeof *mb);
    size_t longest = 1;
    for (size_t i = 0; i < k; i++) {
        longest = na[i] > longest ? na[i] : longest;
        longest = nb[i] > longest ? nb[i] : longest;
    }
    double *tmp = malloc((longest + 1) * sizeof *tmp), *r = malloc(B * sizeof *r);
    if (!sa || !sb || !ma || !mb || !tmp || !r)
        goto done;
    /* the pairs with samples on both sides and a non-zero denominator */
    size_t used = 0;
    double logsum = 0;
    for (size_t i = 0; i < k; i++) {
        sa[used] = sorted_finite(a[i], na[i], &ma[used]);
        sb[used] = sorted_finite(b[i], nb[i], &mb[used]);
        if (!sa[used] || !sb[used] || !ma[used] || !mb[used] || median_sorted(sb[used], mb[used]) == 0.0 ||
            median_sorted(sa[used], ma[used]) <= 0.0) {
            free(sa[used]);
            free(sb[used]);
            continue;
        }
        logsum += log(median_sorted(sa[used], ma[used]) / median_sorted(sb[used], mb[used]));
        used++;
    }
    if (!used)
        goto done;
    out->n = used;
    out->med = exp(logsum / (double)used);
    uint64_t st = 0x5EEDu;  /* fixed, as pm_ci_ratio */
    unsigned got = 0;
    for (unsigned it = 0; it < B; it++) {
        double s = 0;
        bool ok = true;
        for (size_t i = 0; i < used && ok; i++) {
            double den = resample_median(sb[i], mb[i], tmp, &st);
            double num = resample_median(sa[i], ma[i], tmp, &st);
            ok = den > 0.0 && num > 0.0;
            if (ok)
                s += log(num / den);
        }
        if (ok)
            r[got++] = exp(s / (double)used);
    }
    if (got) {
        qsort(r, got, sizeof *r, cmp_d);
        double q = (1.0 - PM_CI_LEVEL) / 2.0;
        out->lo = r[(size_t)floor(q * (got - 1))];
        out->hi = r[(size_t)ceil((1.0 - q) * (got - 1))];
    }
    for (size_t i = 0; i < used; i++) {
        free(sa[i]);
        free(sb[i]);
    }
done:
    free(sa);
    free(sb);
    free(ma);
    free(mb);
    free(tmp);
    free(r);
}
