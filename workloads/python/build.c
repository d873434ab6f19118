/* workloads/python/build.c — `build`: building lists and strs piece by
 * piece, as report generators, log processors and template engines do
 * (`out = []; for row in rows: out.append(...)`, `s += piece`, `''.join`).
 *
 * Phase "lists": lists of log-uniform length (16 to 200000 items)
 * built by appending one item at a time — ints as [i for i in range(n)],
 * short strs, or (int, float) tuples — so the item array grows by
 * list_resize's rule, one realloc per step of the over-allocation; each
 * finished list replaces one of 4 kept results (the old one is freed).
 * Phase "concat": strs grown by `s = s + piece` to a log-uniform final
 * length (64 B to 64 KiB): every step allocates a str one piece longer
 * and frees the previous one, so the sizes walk up through every small
 * size class and then through the large-block path; the final str replaces
 * a kept result. (CPython resizes the str in place, by realloc, when the
 * name holds its only reference; the object API has no str resize, so this
 * is the general case of a str referenced elsewhere: a new str each time.)
 * Phase "join": lists of 16 to 100000 pieces joined with ''.join into one
 * str (the idiom that avoids the quadratic copy).
 * Scale 1: 250 lists, 300 concatenated strs (64 B to 64 KiB), 400 joins;
 * lengths log-uniform.
 */
#include "pywl_impl.h"

#include <stdio.h>

#define BUILD_KEEP 4

struct build {
    struct pywl_w w;
    pm_object_t *results;           /* name -> the last results (replaced) */
};

static void build_keep(struct build *b, const char *kind, pm_object_t *o)
{
    char name[32];
    snprintf(name, sizeof name, "%s%u", kind, (unsigned)w_below(&b->w, BUILD_KEEP));
    w_setkey_steal(&b->w, b->results, name, o);
}

static void build_list(struct build *b)
{
    struct pywl_w *w = &b->w;
    uint64_t n = (uint64_t)w_loguniform(w, 16, 200000);
    uint64_t kind = w_below(w, 3);
    pm_object_t *l = w_list(w);
    for (uint64_t i = 0; i < n && !w->failed; i++) {
        pm_object_t *item;
        if (kind == 0)
            item = w_int(w, (int64_t)i);
        else if (kind == 1)
            item = w_text(w, 1 + w_below(w, 12));
        else
            item = w_tuple2(w, w_int(w, (int64_t)i), w_float(w, (double)i * 0.5));
        w_append_steal(w, l, item);
        w_tick(w);
    }
    build_keep(b, "list", l);
}

static void build_concat(struct build *b)
{
    struct pywl_w *w = &b->w;
    uint64_t final = (uint64_t)w_loguniform(w, 64, 64 << 10);
    pm_object_t *s = w_blank(w, 0);
    size_t len = 0;
    while (len < final && !w->failed) {
        size_t k = 8 + w_below(w, 73);
        pm_object_t *piece = w_text(w, k);            /* e.g. a formatted field */
        len += k;
        pm_object_t *t = w_blank(w, len);             /* s + piece */
        w_drop(w, piece);
        w_drop(w, s);
        s = t;
        w_tick(w);
    }
    build_keep(b, "str", s);
}

static void build_join(struct build *b)
{
    struct pywl_w *w = &b->w;
    uint64_t n = (uint64_t)w_loguniform(w, 16, 100000);
    pm_object_t *parts = w_list(w);
    size_t len = 0;
    for (uint64_t i = 0; i < n && !w->failed; i++) {
        size_t k = 1 + w_below(w, 40);
        w_append_steal(w, parts, w_text(w, k));
        len += k;
        w_tick(w);
    }
    pm_object_t *s = w_blank(w, len);
    w_drop(w, parts);
    build_keep(b, "join", s);
}

static int build_run(pm_objspace_t *sp, const struct pywl_params *p,
                     const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    struct build b = {0};
    struct pywl_w *w = &b.w;
    w_init(w, sp, p, 5, hooks, err);
    b.results = w_dict(w);
    uint64_t lists = w_scaled(p, 250), strs = w_scaled(p, 300), joins = w_scaled(p, 400);
    w_phase(w, "lists");
    for (uint64_t i = 0; i < lists && !w->failed; i++) {
        build_list(&b);
        w_tick(w);
    }
    w_phase(w, "concat");
    for (uint64_t i = 0; i < strs && !w->failed; i++) {
        build_concat(&b);
        w_tick(w);
    }
    w_phase(w, "join");
    for (uint64_t i = 0; i < joins && !w->failed; i++) {
        build_join(&b);
        w_tick(w);
    }
    w_end(w);
    w_clear(w, &b.results);
    return w_status(w);
}

const struct pywl pywl_build = {
    .name = "build",
    .summary = "lists grown by append (realloc), strs grown by concatenation, ''.join",
    .description =
        "A report generator, log processor or template engine: lists of log-uniform "
        "length built one append at a time (the item array grows by list_resize's "
        "over-allocation, one realloc per step), strs grown by repeated concatenation "
        "(each step a new str one piece longer, the previous one freed: sizes walk through "
        "every small size class into the large-block path), and lists of pieces joined "
        "into one str; each finished result replaces an older one. Stresses realloc growth "
        "in place versus by copy, blocks above the small-object threshold, and the "
        "fragmentation left by many different sizes freed in turn.",
    .scale_unit = "250 lists (16..200000 items), 300 concatenated strs (64 B..64 KiB), 400 joins (16..100000 pieces)",
    .default_scale = 1.0,
    .run = build_run,
};
