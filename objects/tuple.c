/* objects/tuple.c — tuple: 16 (GC header) + 24 + 8 * len bytes, tracked at
 * creation and untracked by the collector once it holds only objects that
 * cannot be in a cycle. Free lists for lengths 1..20, 2000 each (3.11),
 * chained through item[0]; a tuple from a free list is not counted in
 * count[0] (no GC allocation happens). The empty tuple is a static singleton.
 *
 * Entry points: pm_tuple_new, pm_tuple_size, pm_tuple_get;
 * tuple_maybe_untrack, tuple_clear_freelist (internal).
 */
#include "pm_objimpl.h"

static size_t tuple_basic(size_t n) { return sizeof(struct pm_tuple) + 8 * n; }

static void tuple_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_tuple *t = (struct pm_tuple *)o;
    size_t n = (size_t)t->size;
    pm_assert(n > 0);
    gc_untrack(sp, o);
    for (size_t i = n; i-- > 0;)
        pm_xdecref(sp, t->item[i]);
    obj_forget(sp);
    if (n <= TUPLE_MAXSAVESIZE && !(sp->cfg.flags & PM_OBJ_NO_FREELIST_TUPLE)
        && sp->tuple_numfree[n - 1] < TUPLE_MAXFREELIST) {
        t->item[0] = sp->tuple_free[n - 1];
        sp->tuple_free[n - 1] = o;
        sp->tuple_numfree[n - 1]++;
        return;
    }
    gc_free(sp, o, tuple_basic(n));
}

static int tuple_traverse(pm_object_t *o, pm_visit_fn visit, void *arg)
{
    struct pm_tuple *t = (struct pm_tuple *)o;
    for (int64_t i = t->size; i-- > 0;)
        if (t->item[i]) {
            int r = visit(t->item[i], arg);
            if (r)
                return r;
        }
    return 0;
}

/* tp_clear is NULL for tuples, as in CPython: cycles through tuples are
 * broken by clearing the other containers in them. */
const struct pm_type pm_type_tuple = {
    .name = "tuple", .kind = PM_KIND_TUPLE, .flags = TPF_GC,
    .basicsize = sizeof(struct pm_tuple), .itemsize = 8,
    .dealloc = tuple_dealloc, .traverse = tuple_traverse,
};

void tuple_clear_freelist(pm_objspace_t *sp)
{
    for (size_t k = 0; k < TUPLE_MAXSAVESIZE; k++) {
        while (sp->tuple_free[k]) {
            struct pm_tuple *t = (struct pm_tuple *)sp->tuple_free[k];
            sp->tuple_free[k] = t->item[0];
            gc_free(sp, &t->ob, tuple_basic(k + 1));
        }
        sp->tuple_numfree[k] = 0;
    }
}

pm_object_t *pm_tuple_new(pm_objspace_t *sp, size_t n, pm_object_t *const *items)
{
    if (n == 0)
        return pm_incref(sp->empty_tuple);
    if (n > ((size_t)1 << 36)) {
        om_error(sp, PM_ERR_VALUE, "tuple of %zu items is too long", n);
        return NULL;
    }
    struct pm_tuple *t;
    if (n <= TUPLE_MAXSAVESIZE && sp->tuple_free[n - 1]) {
        t = (struct pm_tuple *)sp->tuple_free[n - 1];
        sp->tuple_free[n - 1] = t->item[0];
        sp->tuple_numfree[n - 1]--;
    } else {
        t = (struct pm_tuple *)gc_alloc(sp, &pm_type_tuple, tuple_basic(n));
        if (!t)
            return NULL;
    }
    obj_init(sp, &t->ob, &pm_type_tuple);
    t->size = (int64_t)n;
    for (size_t i = 0; i < n; i++)
        t->item[i] = items && items[i] ? pm_incref(items[i]) : NULL;
    gc_track(sp, &t->ob);
    return &t->ob;
}

size_t pm_tuple_size(const pm_object_t *o) { return (size_t)((const struct pm_tuple *)o)->size; }

pm_object_t *pm_tuple_get(const pm_object_t *o, size_t i)
{
    const struct pm_tuple *t = (const struct pm_tuple *)o;
    pm_assert(i < (size_t)t->size);
    return t->item[i];
}

/* _PyTuple_MaybeUntrack: untrack when every item is present and cannot be
 * part of a cycle. */
void tuple_maybe_untrack(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_tuple *t = (struct pm_tuple *)o;
    for (int64_t i = 0; i < t->size; i++) {
        pm_object_t *e = t->item[i];
        if (!e || obj_may_be_tracked(e))
            return;
    }
    gc_untrack(sp, o);
}
