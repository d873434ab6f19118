/* allocators/pm_random.h — the project's pseudo-random generators, one copy
 * each, header-only (inlined into the loops that draw). Not for anything
 * secret; chosen for speed and for streams that never change: generated
 * traces and workloads are reproducible from their seed, on every machine
 * and compiler (integer arithmetic only).
 *
 *   pm_splitmix64   splitmix64 (Steele, Lea, Flood): seeds the others and
 *                   serves one-off draws (bootstrap resampling).
 *   struct pm_rng   xoshiro256** (Blackman, Vigna), seeded with four
 *                   splitmix64 draws: the trace generators and the
 *                   Python-like workloads. pm_rng_below is Lemire's
 *                   multiply-shift (bias < n / 2^64).
 *   pm_xorshift64   Marsaglia's 13/7/17 xorshift: one register of state,
 *                   for loops where the generator's own cost must stay
 *                   small (micro, latency sampling gaps, tests).
 *
 * Changing any of them changes every generated trace and workload run.
 */
#ifndef PM_RANDOM_H
#define PM_RANDOM_H

#include <stdint.h>

static inline uint64_t pm_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

struct pm_rng {
    uint64_t s[4];
};

static inline void pm_rng_seed(struct pm_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = pm_splitmix64(&seed);
}

static inline uint64_t pm_rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t pm_rng_next(struct pm_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = pm_rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = pm_rotl64(s[3], 45);
    return out;
}

/* Uniform in [0, n), n >= 1. */
static inline uint64_t pm_rng_below(struct pm_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)pm_rng_next(r) * n) >> 64);
}

/* Uniform in [0, 1), 53 bits. */
static inline double pm_rng_unit(struct pm_rng *r) { return (double)(pm_rng_next(r) >> 11) * 0x1p-53; }

/* The next state (nonzero if *s was). */
static inline uint64_t pm_xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

#endif
