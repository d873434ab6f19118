/* workloads/python/churn.c — `churn`: a steady stream of objects of mixed
 * types with heavy-tailed lifetimes, as a long-running asyncio service
 * whose timers, sessions, cached values and buffers each live as long as
 * their own logic says (a TTL cache, asyncio's timer heap, a scheduler).
 *
 * The clock is the number of objects allocated so far. Each step allocates
 * one object — an int, a float, a str or bytes of lognormal length (bytes
 * sometimes above 512, the large-block path), a tuple, a list or dict of a
 * few items, an instance of a __slots__ class or of a class with a
 * __dict__ — gives it a lifetime, and pushes (death, seq, obj) onto a heapq
 * (a list kept as a binary heap, as asyncio keeps its TimerHandles); the
 * entries whose death has come are popped and dropped first. Lifetimes are
 * a mixture: 60% lognormal with median 100 steps and sigma 1.5
 * (temporaries), 40% Pareto with alpha 1.1 from a twentieth of the run up
 * (sessions, caches; the scale stretches them with the run): a heavy tail,
 * so the live set keeps growing slowly and the heap holds objects of every
 * age.
 *
 * Phases: "ramp" (the first tenth of the steps), "steady", then "drain":
 * time jumps forward, entries are popped in death order until a tenth of
 * the live set remains (the longest-lived objects, scattered over the heap);
 * the end hook comes there.
 * Scale 1: 800000 steps (objects allocated).
 */
#include "pywl_impl.h"

struct churn {
    struct pywl_w w;
    pm_object_t *heap;              /* list of (death, seq, obj) */
    pm_object_t *c_slots, *c_dict;
};

static int64_t churn_key(pm_object_t *e, int64_t *seq)
{
    int64_t d = 0;
    pm_int_as_int64(pm_tuple_get(e, 0), &d);
    pm_int_as_int64(pm_tuple_get(e, 1), seq);
    return d;
}

static bool churn_less(pm_object_t *a, pm_object_t *b)
{
    int64_t sa, sb;
    int64_t da = churn_key(a, &sa), db = churn_key(b, &sb);
    return da < db || (da == db && sa < sb);
}

/* heapq._siftdown: the item at pos moves up towards the root. */
static void churn_sift_up(struct churn *c, size_t pos)
{
    struct pywl_w *w = &c->w;
    pm_object_t *h = c->heap;
    pm_object_t *item = w_ref(pm_list_get(h, pos));
    while (pos > 0 && !w->failed) {
        size_t parent = (pos - 1) / 2;
        pm_object_t *pe = pm_list_get(h, parent);
        if (!churn_less(item, pe))
            break;
        w_lset(w, h, (int64_t)pos, pe);
        pos = parent;
    }
    w_lset(w, h, (int64_t)pos, item);
    w_drop(w, item);
}

/* heapq._siftup: the item at pos moves down to a leaf, then up. */
static void churn_sift_down(struct churn *c, size_t pos)
{
    struct pywl_w *w = &c->w;
    pm_object_t *h = c->heap;
    size_t n = pm_list_size(h), start = pos;
    pm_object_t *item = w_ref(pm_list_get(h, pos));
    size_t child = 2 * pos + 1;
    while (child < n && !w->failed) {
        if (child + 1 < n && !churn_less(pm_list_get(h, child), pm_list_get(h, child + 1)))
            child++;
        w_lset(w, h, (int64_t)pos, pm_list_get(h, child));
        pos = child;
        child = 2 * pos + 1;
    }
    w_lset(w, h, (int64_t)pos, item);
    w_drop(w, item);
    /* then up, as heapq does (the item may belong above the leaf) */
    while (pos > start && !w->failed) {
        size_t parent = (pos - 1) / 2;
        pm_object_t *pe = pm_list_get(h, parent), *it = pm_list_get(h, pos);
        if (!churn_less(it, pe))
            break;
        pm_object_t *t = w_ref(it);
        w_lset(w, h, (int64_t)pos, pe);
        w_lset(w, h, (int64_t)parent, t);
        w_drop(w, t);
        pos = parent;
    }
}

/* heappush(heap, entry): steals entry. */
static void churn_push(struct churn *c, pm_object_t *entry)
{
    w_append_steal(&c->w, c->heap, entry);
    if (!c->w.failed)
        churn_sift_up(c, pm_list_size(c->heap) - 1);
}

/* heappop(heap), dropped. */
static void churn_pop(struct churn *c)
{
    struct pywl_w *w = &c->w;
    size_t n = pm_list_size(c->heap);
    pm_object_t *last = w_ref(pm_list_get(c->heap, n - 1));
    w_ldel(w, c->heap, -1);
    if (n > 1 && !w->failed) {
        w_lset(w, c->heap, 0, last);            /* drops the old root */
        churn_sift_down(c, 0);
    }
    w_drop(w, last);
}

static pm_object_t *churn_object(struct churn *c)
{
    struct pywl_w *w = &c->w;
    uint64_t r = w_below(w, 100);
    if (r < 12)
        return w_int(w, (int64_t)(w_rand(w) >> 3));
    if (r < 22)
        return w_float(w, w_unit(w));
    if (r < 42)
        return w_text(w, (size_t)w_lognormal(w, 16, 1.2, PYWL_TEXT));
    if (r < 50)
        return w_bytes(w, (size_t)w_lognormal(w, 64, 1.5, PYWL_TEXT));
    if (r < 60) {
        pm_object_t *it[4] = {0};
        size_t n = 2 + w_below(w, 3);
        for (size_t i = 0; i < n; i++)
            it[i] = i % 2 ? w_text(w, 4 + w_below(w, 12)) : w_int(w, (int64_t)w_below(w, 1000));
        return w_tuple_steal(w, n, it);
    }
    if (r < 72) {
        pm_object_t *l = w_list(w);
        for (uint64_t i = 0, n = w_below(w, 9); i < n; i++)
            w_append_steal(w, l, w_int(w, (int64_t)w_below(w, 100000)));
        return l;
    }
    if (r < 84) {
        pm_object_t *d = w_dict(w);
        for (uint64_t i = 0, n = w_range(w, 1, 6); i < n; i++)
            w_setitem_steal(w, d, w_text(w, 3 + w_below(w, 8)), w_int(w, (int64_t)i));
        return d;
    }
    static const char *const attrs[] = {"a", "b", "c", "d", "e"};
    if (r < 92) {
        pm_object_t *o = w_new(w, c->c_slots);
        for (int i = 0; i < 3; i++)
            w_setattr_steal(w, o, attrs[i], w_int(w, (int64_t)w_below(w, 5000)));
        return o;
    }
    pm_object_t *o = w_new(w, c->c_dict);
    for (uint64_t i = 0, n = w_range(w, 2, 5); i < n; i++)
        w_setattr_steal(w, o, attrs[i], w_text(w, 4 + w_below(w, 20)));
    return o;
}

static uint64_t churn_lifetime(struct churn *c, uint64_t steps)
{
    struct pywl_w *w = &c->w;
    if (w_chance(w, 0.6))
        return 1 + (uint64_t)w_lognormal(w, 100, 1.5, (double)steps);
    double xmin = (double)steps / 20 > 100 ? (double)steps / 20 : 100;
    return (uint64_t)w_pareto(w, 1.1, xmin, 10.0 * (double)steps);
}

static int64_t churn_head(struct churn *c)
{
    int64_t seq;
    return churn_key(pm_list_get(c->heap, 0), &seq);
}

static int churn_run(pm_objspace_t *sp, const struct pywl_params *p,
                     const struct pywl_hooks *hooks, char err[PM_ERR_LEN])
{
    struct churn c = {0};
    struct pywl_w *w = &c.w;
    w_init(w, sp, p, 7, hooks, err);
    static const char *const slots[] = {"a", "b", "c"};
    c.c_slots = w_class(w, "Point", 3, slots);
    c.c_dict = w_class(w, "Record", 0, NULL);
    c.heap = w_list(w);
    uint64_t steps = w_scaled(p, 800000), seq = 0;
    w_phase(w, "ramp");
    for (uint64_t t = 0; t < steps && !w->failed; t++) {
        if (t == steps / 10)
            w_phase(w, "steady");
        while (!w->failed && pm_list_size(c.heap) && churn_head(&c) <= (int64_t)t) {
            churn_pop(&c);
            w_tick(w);
        }
        pm_object_t *obj = churn_object(&c);
        int64_t death = (int64_t)(t + churn_lifetime(&c, steps));
        churn_push(&c, w_tuple3(w, w_int(w, death), w_int(w, (int64_t)seq++), obj));
        w_tick(w);
    }
    w_phase(w, "drain");
    size_t target = c.heap ? pm_list_size(c.heap) / 10 : 0;
    while (!w->failed && c.heap && pm_list_size(c.heap) > target) {
        churn_pop(&c);
        w_tick(w);
    }
    w_tick(w);
    w_end(w);
    w_clear(w, &c.heap);
    w_clear(w, &c.c_slots);
    w_clear(w, &c.c_dict);
    return w_status(w);
}

const struct pywl pywl_churn = {
    .name = "churn",
    .summary = "steady churn of mixed objects with heavy-tailed (lognormal + Pareto) lifetimes on a heapq",
    .description =
        "A long-running service (asyncio timers, a TTL cache, a scheduler): every step "
        "allocates one object of a mixed type (ints, floats, strs and bytes of lognormal "
        "length, tuples, small lists and dicts, __slots__ and __dict__ instances) with a "
        "lifetime drawn from a heavy-tailed mixture (lognormal temporaries, Pareto-tailed "
        "long-lived objects), keeps it on a heapq ordered by death time, and drops whatever "
        "has died. The live set mixes every age and size, so the heap is never empty and "
        "never compact: fragmentation under steady churn; a final drain down to a tenth of "
        "the live set shows how much memory the allocator gives back when the survivors "
        "are the oldest objects.",
    .scale_unit = "800000 steps (objects allocated)",
    .default_scale = 1.0,
    .run = churn_run,
};
