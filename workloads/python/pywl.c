/* workloads/python/pywl.c — the registry of Python-like workloads and the
 * helpers they share (pywl_impl.h): seeding, distributions, the poisoning
 * wrappers over the object API.
 *
 * Entry points: pywl_all, pywl_find, pywl_names, pywl_check_params,
 * pywl_run; w_* (internal, see pywl_impl.h).
 */
#include "pywl_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const struct pywl *const pywl_all[] = {
    &pywl_json, &pywl_compiler, &pywl_web, &pywl_cycles, &pywl_build, &pywl_survivors,
    &pywl_churn, &pywl_service, &pywl_bigheap, NULL,
};

char pywl_zeros[PYWL_ZEROS];

const struct pywl *pywl_find(const char *name)
{
    for (const struct pywl *const *w = pywl_all; *w; w++)
        if (!strcmp((*w)->name, name))
            return *w;
    return NULL;
}

void pywl_names(char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = 0;
    for (const struct pywl *const *w = pywl_all; *w; w++) {
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", (*w)->name);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
}

int pywl_check_params(const struct pywl_params *p, char err[PM_ERR_LEN])
{
    if (!(p->scale >= PYWL_SCALE_MIN && p->scale <= PYWL_SCALE_MAX)) {
        snprintf(err, PM_ERR_LEN, "scale %g out of range (%g..%g)", p->scale, PYWL_SCALE_MIN,
                 PYWL_SCALE_MAX);
        return -1;
    }
    return 0;
}

int pywl_run(const struct pywl *wl, pm_objspace_t *sp, const struct pywl_params *p,
             const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    static const struct pywl_hooks none;
    if (pywl_check_params(p, err) < 0)
        return -1;
    err[0] = 0;
    return wl->run(sp, p, hooks ? hooks : &none, err);
}

/* ---- the run state ---- */

void w_init(struct pywl_w *w, pm_objspace_t *sp, const struct pywl_params *p, uint64_t salt,
            const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    static const struct pywl_hooks none;
    w->sp = sp;
    w->hooks = hooks ? hooks : &none;
    w->failed = false;
    w->err = err;
    pm_rng_seed(&w->rng, p->seed ^ (salt * 0xD1B54A32D192ED03u));
    /* printable ASCII without the quote and backslash, as JSON would keep */
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,:;/=+*#@!?()[]{}<>";
    for (size_t i = 0; i < PYWL_TEXT; i++)
        w->text[i] = alphabet[w_below(w, sizeof alphabet - 1)];
}

uint64_t w_scaled(const struct pywl_params *p, double base)
{
    double v = floor(base * p->scale + 0.5);
    return v < 1 ? 1 : (uint64_t)v;
}

void w_fail(struct pywl_w *w)
{
    if (w->failed)
        return;
    w->failed = true;
    const char *msg = NULL;
    pm_objspace_error(w->sp, &msg);
    snprintf(w->err, PM_ERR_LEN, "%s", msg && *msg ? msg : "object layer call failed");
}

void w_fail_msg(struct pywl_w *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, PM_ERR_LEN, fmt, ap);
    va_end(ap);
}

/* ---- distributions ---- */

double w_pareto(struct pywl_w *w, double alpha, double xmin, double cap)
{
    double u = 1.0 - w_unit(w);                     /* (0, 1] */
    double x = xmin / pow(u, 1.0 / alpha);
    return x > cap ? cap : x;
}

double w_lognormal(struct pywl_w *w, double median, double sigma, double cap)
{
    /* Box-Muller, one of the pair */
    double u1 = 1.0 - w_unit(w), u2 = w_unit(w);
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    double x = median * exp(sigma * z);
    return x > cap ? cap : x;
}

double w_loguniform(struct pywl_w *w, double lo, double hi)
{
    return lo * exp(w_unit(w) * log(hi / lo));
}

uint64_t w_zipf(struct pywl_w *w, uint64_t n)
{
    double k = floor(exp(w_unit(w) * log((double)n + 1.0))) - 1.0;
    if (k < 0)
        return 0;
    return k >= (double)n ? n - 1 : (uint64_t)k;
}

/* ---- objects ---- */

pm_object_t *w_check(struct pywl_w *w, pm_object_t *o)
{
    if (!o)
        w_fail(w);
    return o;
}

int w_check_rc(struct pywl_w *w, int rc)
{
    if (rc < 0)
        w_fail(w);
    return rc;
}

pm_object_t *w_int(struct pywl_w *w, int64_t v)
{
    return w->failed ? NULL : w_check(w, pm_int_new(w->sp, v));
}

pm_object_t *w_float(struct pywl_w *w, double v)
{
    return w->failed ? NULL : w_check(w, pm_float_new(w->sp, v));
}

pm_object_t *w_str(struct pywl_w *w, const char *s, size_t n)
{
    return w->failed ? NULL : w_check(w, pm_str_new(w->sp, s, n));
}

pm_object_t *w_cstr(struct pywl_w *w, const char *s) { return w_str(w, s, strlen(s)); }

pm_object_t *w_istr(struct pywl_w *w, const char *s)
{
    return w->failed ? NULL : w_check(w, pm_str_new_interned(w->sp, s, strlen(s)));
}

pm_object_t *w_text(struct pywl_w *w, size_t n)
{
    if (n > PYWL_TEXT)
        n = PYWL_TEXT;
    size_t off = w_below(w, PYWL_TEXT - n + 1);
    return w_str(w, w->text + off, n);
}

pm_object_t *w_blank(struct pywl_w *w, size_t n)
{
    if (n > PYWL_ZEROS) {
        w_fail_msg(w, "str of %zu characters is longer than the workloads' limit (%u)", n,
                   PYWL_ZEROS);
        return NULL;
    }
    return w_str(w, pywl_zeros, n);
}

pm_object_t *w_bytes(struct pywl_w *w, size_t n)
{
    if (n > PYWL_TEXT)
        n = PYWL_TEXT;
    size_t off = w_below(w, PYWL_TEXT - n + 1);
    return w->failed ? NULL : w_check(w, pm_bytes_new(w->sp, w->text + off, n));
}

pm_object_t *w_list(struct pywl_w *w)
{
    return w->failed ? NULL : w_check(w, pm_list_new(w->sp, 0, NULL));
}

pm_object_t *w_dict(struct pywl_w *w)
{
    return w->failed ? NULL : w_check(w, pm_dict_new(w->sp));
}

pm_object_t *w_new(struct pywl_w *w, pm_object_t *cls)
{
    return w->failed || !cls ? NULL : w_check(w, pm_instance_new(w->sp, cls));
}

pm_object_t *w_class(struct pywl_w *w, const char *name, size_t nslots,
                     const char *const *slots)
{
    return w->failed ? NULL : w_check(w, pm_class_new(w->sp, name, nslots, slots));
}

pm_object_t *w_tuple_steal(struct pywl_w *w, size_t n, pm_object_t *const *items)
{
    pm_object_t *t = NULL;
    bool ok = !w->failed;
    for (size_t i = 0; i < n; i++)
        ok = ok && items[i];
    if (ok)
        t = w_check(w, pm_tuple_new(w->sp, n, items));
    else
        w_fail_msg(w, "tuple item missing");     /* only after an earlier failure */
    for (size_t i = 0; i < n; i++)
        pm_xdecref(w->sp, items[i]);
    return t;
}

pm_object_t *w_tuple2(struct pywl_w *w, pm_object_t *a, pm_object_t *b)
{
    pm_object_t *it[2] = {a, b};
    return w_tuple_steal(w, 2, it);
}

pm_object_t *w_tuple3(struct pywl_w *w, pm_object_t *a, pm_object_t *b, pm_object_t *c)
{
    pm_object_t *it[3] = {a, b, c};
    return w_tuple_steal(w, 3, it);
}

void w_append(struct pywl_w *w, pm_object_t *l, pm_object_t *o)
{
    if (!w->failed && l && o)
        w_check_rc(w, pm_list_append(w->sp, l, o));
}

void w_append_steal(struct pywl_w *w, pm_object_t *l, pm_object_t *o)
{
    w_append(w, l, o);
    pm_xdecref(w->sp, o);
}

void w_lset(struct pywl_w *w, pm_object_t *l, int64_t i, pm_object_t *o)
{
    if (!w->failed && l && o)
        w_check_rc(w, pm_list_set(w->sp, l, i, o));
}

void w_lset_steal(struct pywl_w *w, pm_object_t *l, int64_t i, pm_object_t *o)
{
    w_lset(w, l, i, o);
    pm_xdecref(w->sp, o);
}

void w_ldel(struct pywl_w *w, pm_object_t *l, int64_t i)
{
    if (!w->failed && l)
        w_check_rc(w, pm_list_delete(w->sp, l, i));
}

void w_setitem(struct pywl_w *w, pm_object_t *d, pm_object_t *k, pm_object_t *v)
{
    if (!w->failed && d && k && v)
        w_check_rc(w, pm_dict_set(w->sp, d, k, v));
}

void w_setitem_steal(struct pywl_w *w, pm_object_t *d, pm_object_t *k, pm_object_t *v)
{
    w_setitem(w, d, k, v);
    pm_xdecref(w->sp, k);
    pm_xdecref(w->sp, v);
}

void w_setkey_steal(struct pywl_w *w, pm_object_t *d, const char *name, pm_object_t *v)
{
    w_setitem_steal(w, d, w_istr(w, name), v);
}

void w_delitem(struct pywl_w *w, pm_object_t *d, pm_object_t *k)
{
    if (!w->failed && d && k)
        w_check_rc(w, pm_dict_delete(w->sp, d, k));
}

pm_object_t *w_getitem(struct pywl_w *w, pm_object_t *d, pm_object_t *k)
{
    return w->failed || !d || !k ? NULL : pm_dict_get(w->sp, d, k);
}

void w_setattr(struct pywl_w *w, pm_object_t *o, const char *name, pm_object_t *v)
{
    if (!w->failed && o && v)
        w_check_rc(w, pm_setattr(w->sp, o, name, v));
}

void w_setattr_steal(struct pywl_w *w, pm_object_t *o, const char *name, pm_object_t *v)
{
    w_setattr(w, o, name, v);
    pm_xdecref(w->sp, v);
}
