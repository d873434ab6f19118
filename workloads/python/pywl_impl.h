/* workloads/python/pywl_impl.h — what the workloads share (not for use
 * outside workloads/python/): the per-run state, a seeded PRNG with the
 * distributions the workloads draw from, and "poisoning" wrappers over the
 * object API.
 *
 * Poisoning: the first failing object call (MemoryError, or any error)
 * records its message and marks the run failed; from then on every wrapper
 * is a no-op returning NULL, so a workload writes its steps straight through
 * and checks w->failed once per iteration, then drops what it holds (every
 * drop is NULL-safe) and returns -1. The `_steal` wrappers take ownership of
 * their new-reference arguments (they always drop them), which is how
 * nested constructors compose: w_append_steal(w, l, w_int(w, 5)).
 *
 * Strings: short strs are cut from a per-run block of random printable
 * ASCII (`text`), so their characters are real (dict keys hash and compare
 * them). Strs whose characters nothing reads (a serialiser's joined output,
 * the result of concatenations) take them from pywl_zeros, a block that is
 * never written: read from the zero page, it adds nothing to the process's
 * RSS, where a C-side copy buffer would add its pages to the footprint that
 * is being measured. Request sizes and lifetimes are exact either way.
 */
#ifndef PYWL_IMPL_H
#define PYWL_IMPL_H

#include "pm_random.h"
#include "pywl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PYWL_TEXT 4096              /* bytes of random text per run */
#define PYWL_ZEROS (16u << 20)      /* longest str made from pywl_zeros, bytes */

extern char pywl_zeros[PYWL_ZEROS]; /* never written: reads map the zero page */

struct pywl_w {
    pm_objspace_t *sp;
    const struct pywl_hooks *hooks; /* never NULL (an empty set when none given) */
    struct pm_rng rng;              /* xoshiro256** (pm_random.h) */
    bool failed;                    /* an object call failed: every wrapper is a no-op */
    char *err;                      /* the caller's err[PM_ERR_LEN] */
    char text[PYWL_TEXT];           /* random printable ASCII */
};

/* Seeds the PRNG from (seed, salt) and fills the text block. */
void w_init(struct pywl_w *w, pm_objspace_t *sp, const struct pywl_params *p, uint64_t salt,
            const struct pywl_hooks *hooks, char err[PM_ERR_LEN]);
/* max(1, round(base * scale)) */
uint64_t w_scaled(const struct pywl_params *p, double base);
/* Records the space's last error (first failure only) and poisons the run. */
void w_fail(struct pywl_w *w);
/* A failure that is not the object layer's: fmt is the reason. */
void w_fail_msg(struct pywl_w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The run's status: 0, or -1 after a failure. */
static inline int w_status(const struct pywl_w *w) { return w->failed ? -1 : 0; }

/* ---- hooks ---- */

static inline void w_tick(struct pywl_w *w)
{
    if (w->hooks->sample)
        w->hooks->sample(w->hooks->ctx);
}

static inline void w_phase(struct pywl_w *w, const char *name)
{
    if (w->hooks->phase && !w->failed)
        w->hooks->phase(w->hooks->ctx, name);
}

static inline void w_end(struct pywl_w *w)
{
    if (w->hooks->end && !w->failed)
        w->hooks->end(w->hooks->ctx);
}

/* ---- random numbers (xoshiro256**, pm_random.h) ---- */

static inline uint64_t w_rand(struct pywl_w *w) { return pm_rng_next(&w->rng); }

/* Uniform in [0, n); n > 0. */
static inline uint64_t w_below(struct pywl_w *w, uint64_t n) { return pm_rng_below(&w->rng, n); }

/* Uniform in [lo, hi]. */
static inline uint64_t w_range(struct pywl_w *w, uint64_t lo, uint64_t hi)
{
    return lo + w_below(w, hi - lo + 1);
}

/* Uniform in [0, 1). */
static inline double w_unit(struct pywl_w *w) { return pm_rng_unit(&w->rng); }

/* true with probability p */
static inline bool w_chance(struct pywl_w *w, double p) { return w_unit(w) < p; }

/* Pareto(alpha) with minimum xmin, capped at cap. */
double w_pareto(struct pywl_w *w, double alpha, double xmin, double cap);
/* Lognormal with the given median and sigma (of the log), capped at cap. */
double w_lognormal(struct pywl_w *w, double median, double sigma, double cap);
/* Log-uniform in [lo, hi]: every factor of 10 equally likely. */
double w_loguniform(struct pywl_w *w, double lo, double hi);
/* Zipf(1)-like rank in [0, n): P(k) ~ 1/(k+1) (log-uniform). */
uint64_t w_zipf(struct pywl_w *w, uint64_t n);

/* ---- objects: constructors return a new reference, or NULL once failed ---- */

pm_object_t *w_check(struct pywl_w *w, pm_object_t *o);    /* NULL -> w_fail */
int w_check_rc(struct pywl_w *w, int rc);                   /* < 0 -> w_fail */

pm_object_t *w_int(struct pywl_w *w, int64_t v);
pm_object_t *w_float(struct pywl_w *w, double v);
pm_object_t *w_str(struct pywl_w *w, const char *s, size_t n);
pm_object_t *w_cstr(struct pywl_w *w, const char *s);      /* NUL-terminated */
pm_object_t *w_istr(struct pywl_w *w, const char *s);      /* interned */
/* A str of n random characters (n <= PYWL_TEXT). */
pm_object_t *w_text(struct pywl_w *w, size_t n);
/* A str of n characters nothing reads (n <= PYWL_ZEROS). */
pm_object_t *w_blank(struct pywl_w *w, size_t n);
pm_object_t *w_bytes(struct pywl_w *w, size_t n);          /* n <= PYWL_TEXT */
pm_object_t *w_list(struct pywl_w *w);
pm_object_t *w_dict(struct pywl_w *w);
pm_object_t *w_new(struct pywl_w *w, pm_object_t *cls);    /* an instance */
pm_object_t *w_class(struct pywl_w *w, const char *name, size_t nslots,
                     const char *const *slots);
/* A tuple of n new references (stolen; a NULL among them fails the run). */
pm_object_t *w_tuple_steal(struct pywl_w *w, size_t n, pm_object_t *const *items);
pm_object_t *w_tuple2(struct pywl_w *w, pm_object_t *a, pm_object_t *b);   /* steals */
pm_object_t *w_tuple3(struct pywl_w *w, pm_object_t *a, pm_object_t *b, pm_object_t *c);

/* ---- container operations (o borrowed unless _steal) ---- */

void w_append(struct pywl_w *w, pm_object_t *l, pm_object_t *o);
void w_append_steal(struct pywl_w *w, pm_object_t *l, pm_object_t *o);
void w_lset(struct pywl_w *w, pm_object_t *l, int64_t i, pm_object_t *o);
void w_lset_steal(struct pywl_w *w, pm_object_t *l, int64_t i, pm_object_t *o);
void w_ldel(struct pywl_w *w, pm_object_t *l, int64_t i);
void w_setitem(struct pywl_w *w, pm_object_t *d, pm_object_t *k, pm_object_t *v);
void w_setitem_steal(struct pywl_w *w, pm_object_t *d, pm_object_t *k, pm_object_t *v);
/* d[name] = v with an interned str key; steals v. */
void w_setkey_steal(struct pywl_w *w, pm_object_t *d, const char *name, pm_object_t *v);
void w_delitem(struct pywl_w *w, pm_object_t *d, pm_object_t *k);
/* d.get(k): borrowed, NULL when absent (or failed). */
pm_object_t *w_getitem(struct pywl_w *w, pm_object_t *d, pm_object_t *k);
void w_setattr_steal(struct pywl_w *w, pm_object_t *o, const char *name, pm_object_t *v);
void w_setattr(struct pywl_w *w, pm_object_t *o, const char *name, pm_object_t *v);

/* A new reference to o; NULL-safe. */
static inline pm_object_t *w_ref(pm_object_t *o) { return o ? pm_incref(o) : NULL; }

/* Drops a reference; NULL-safe. */
static inline void w_drop(struct pywl_w *w, pm_object_t *o) { pm_xdecref(w->sp, o); }

/* Drops *o and sets it to NULL. */
static inline void w_clear(struct pywl_w *w, pm_object_t **o)
{
    pm_object_t *t = *o;
    *o = NULL;
    pm_xdecref(w->sp, t);
}

/* ---- the workloads (one file each) ---- */

extern const struct pywl pywl_json, pywl_compiler, pywl_web, pywl_cycles, pywl_build,
    pywl_survivors, pywl_churn, pywl_service, pywl_bigheap;

#endif
