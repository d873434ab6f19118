/* workloads/python/survivors.c — `survivors`: load many small records,
 * keep a sample of 1%, drop the rest, and carry on with light work: the
 * case in which a Python process's RSS does not go down (a data-loading
 * script that keeps `data[::100]`, a server that keeps 1% of what it parsed
 * at start-up in a cache).
 *
 * Phase "alloc": `data = [(i, s) for i in range(n)]` with short strs, and
 * mixed in (i, x) float tuples and 1-item lists, so several size classes
 * interleave. Phase "free": `keep = data[::100]; del data` — 99% of the
 * objects are freed, and the 1% that survive are spread evenly over every
 * page, pool and arena the data filled. Phase "quiet": a stretch of light
 * work (small dicts and strs made and dropped), as the process carries on.
 * The end hook comes after the quiet phase, with `keep` still alive: the
 * footprint there against the peak is the retention CPython users ask about.
 * Scale 1: 1000000 records (about 150 MB live at the peak), 2500000 quiet
 * steps.
 */
#include "pywl_impl.h"

static int survivors_run(pm_objspace_t *sp, const struct pywl_params *p,
                         const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    struct pywl_w wst;
    struct pywl_w *w = &wst;
    w_init(w, sp, p, 6, hooks, err);
    uint64_t n = w_scaled(p, 1000000), quiet = w_scaled(p, 2500000);
    pm_object_t *data = w_list(w), *keep = w_list(w);
    w_phase(w, "alloc");
    for (uint64_t i = 0; i < n && !w->failed; i++) {
        uint64_t r = w_below(w, 10);
        pm_object_t *rec;
        if (r < 8) {
            rec = w_tuple2(w, w_int(w, (int64_t)i), w_text(w, 8 + w_below(w, 17)));
        } else if (r < 9) {
            rec = w_tuple2(w, w_int(w, (int64_t)i), w_float(w, (double)i / 7));
        } else {
            rec = w_list(w);
            w_append_steal(w, rec, w_int(w, (int64_t)i));
        }
        w_append_steal(w, data, rec);
        w_tick(w);
    }
    w_phase(w, "free");
    for (size_t i = 0; data && !w->failed && i < pm_list_size(data); i += 100)
        w_append(w, keep, pm_list_get(data, i));
    w_clear(w, &data);
    w_phase(w, "quiet");
    for (uint64_t i = 0; i < quiet && !w->failed; i++) {
        pm_object_t *d = w_dict(w);
        w_setkey_steal(w, d, "ts", w_float(w, (double)i));
        w_setkey_steal(w, d, "msg", w_text(w, 8 + w_below(w, 40)));
        w_drop(w, d);
        w_tick(w);
    }
    w_tick(w);
    w_end(w);
    w_drop(w, keep);
    w_drop(w, data);
    return w_status(w);
}

const struct pywl pywl_survivors = {
    .name = "survivors",
    .summary = "allocate many small records, keep every 100th, drop the rest, then idle: RSS stays up",
    .description =
        "A data-loading script or a server warming up: a million small records ((int, str) "
        "tuples mixed with float tuples and 1-item lists) are built, every 100th is kept "
        "(`keep = data[::100]`) and the rest dropped, then the process carries on with light "
        "work. The 1% survivors pin a page, pool or arena each, so an allocator that returns "
        "memory to the OS only in whole arenas keeps almost all of the peak: with CPython 3.11 "
        "about 95% of the peak RSS stays, with pymalloc and glibc malloc alike. Measures "
        "retention under scattered survivors and the reuse of the freed space by the quiet "
        "phase.",
    .scale_unit = "1000000 records, 2500000 quiet steps",
    .default_scale = 1.0,
    .run = survivors_run,
};
