/* objects/list.c — list: 16 (GC header) + 40 bytes; the item array is a
 * separate PyMem block of 8 * allocated bytes, created by calloc(n, 8) in
 * PyList_New(n) and resized by realloc with list_resize's rule (3.11):
 *
 *   no realloc if allocated >= newsize >= allocated / 2; otherwise
 *   new_allocated = (newsize + (newsize >> 3) + 6) & ~3, or (newsize + 3) & ~3
 *   when growing by more than that over-allocation; 0 when newsize == 0.
 *
 * Free list of 80 list objects (their item arrays are freed first).
 *
 * Entry points: pm_list_new, pm_list_append, pm_list_insert, pm_list_set,
 * pm_list_delete, pm_list_clear, pm_list_size, pm_list_allocated, pm_list_get;
 * list_clear_freelist (internal).
 */
#include "pm_objimpl.h"

#define LIST_BASIC sizeof(struct pm_list)

static int list_resize(pm_objspace_t *sp, struct pm_list *l, int64_t newsize)
{
    int64_t allocated = l->allocated;
    if (allocated >= newsize && newsize >= (allocated >> 1)) {
        l->size = newsize;
        return 0;
    }
    size_t ns = (size_t)newsize;
    size_t new_allocated = (ns + (ns >> 3) + 6) & ~(size_t)3;
    if (newsize - l->size > (int64_t)(new_allocated - ns))
        new_allocated = (ns + 3) & ~(size_t)3;
    if (newsize == 0)
        new_allocated = 0;
    if (new_allocated > ((size_t)1 << 40)) {
        om_nomem(sp, SIZE_MAX);
        return -1;
    }
    pm_object_t **items = om_realloc(sp, l->item, 8 * (size_t)l->allocated, 8 * new_allocated);
    if (!items)
        return -1;
    l->item = items;
    l->size = newsize;
    l->allocated = (int64_t)new_allocated;
    return 0;
}

/* _list_clear: detach the items first, then drop them, then free the array. */
static int list_tp_clear(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_list *l = (struct pm_list *)o;
    pm_object_t **item = l->item;
    if (item) {
        int64_t n = l->size;
        size_t bytes = 8 * (size_t)l->allocated;
        l->size = 0;
        l->item = NULL;
        l->allocated = 0;
        while (--n >= 0)
            pm_xdecref(sp, item[n]);
        om_free(sp, item, bytes);
    }
    return 0;
}

static void list_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_list *l = (struct pm_list *)o;
    gc_untrack(sp, o);
    if (l->item) {
        for (int64_t i = l->size; i-- > 0;)
            pm_xdecref(sp, l->item[i]);
        om_free(sp, l->item, 8 * (size_t)l->allocated);
    }
    obj_forget(sp);
    if (!(sp->cfg.flags & PM_OBJ_NO_FREELIST_LIST) && sp->list_numfree < LIST_MAXFREELIST) {
        sp->list_free[sp->list_numfree++] = l;
        return;
    }
    gc_free(sp, o, LIST_BASIC);
}

static int list_traverse(pm_object_t *o, pm_visit_fn visit, void *arg)
{
    struct pm_list *l = (struct pm_list *)o;
    for (int64_t i = l->size; i-- > 0;)
        if (l->item[i]) {
            int r = visit(l->item[i], arg);
            if (r)
                return r;
        }
    return 0;
}

const struct pm_type pm_type_list = {
    .name = "list", .kind = PM_KIND_LIST, .flags = TPF_GC, .basicsize = LIST_BASIC,
    .dealloc = list_dealloc, .traverse = list_traverse, .clear = list_tp_clear,
};

void list_clear_freelist(pm_objspace_t *sp)
{
    while (sp->list_numfree > 0) {
        struct pm_list *l = sp->list_free[--sp->list_numfree];
        gc_free(sp, &l->ob, LIST_BASIC);
    }
}

pm_object_t *pm_list_new(pm_objspace_t *sp, size_t n, pm_object_t *const *items)
{
    if (n > ((size_t)1 << 36)) {
        om_error(sp, PM_ERR_VALUE, "list of %zu items is too long", n);
        return NULL;
    }
    struct pm_list *l;
    if (sp->list_numfree > 0) {
        l = sp->list_free[--sp->list_numfree];
    } else {
        l = (struct pm_list *)gc_alloc(sp, &pm_type_list, LIST_BASIC);
        if (!l)
            return NULL;
    }
    obj_init(sp, &l->ob, &pm_type_list);
    l->size = 0;
    l->allocated = 0;
    l->item = NULL;
    if (n > 0) {
        l->item = om_calloc(sp, n, 8);
        if (!l->item) {
            pm_decref(sp, &l->ob);      /* back to the free list, as PyList_New */
            return NULL;
        }
        for (size_t i = 0; i < n; i++)
            l->item[i] = items && items[i] ? pm_incref(items[i]) : NULL;
        l->size = l->allocated = (int64_t)n;
    }
    gc_track(sp, &l->ob);
    return &l->ob;
}

size_t pm_list_size(const pm_object_t *o) { return (size_t)((const struct pm_list *)o)->size; }

size_t pm_list_allocated(const pm_object_t *o)
{
    return (size_t)((const struct pm_list *)o)->allocated;
}

pm_object_t *pm_list_get(const pm_object_t *o, size_t i)
{
    const struct pm_list *l = (const struct pm_list *)o;
    pm_assert(i < (size_t)l->size);
    return l->item[i];
}

static int list_check(pm_objspace_t *sp, pm_object_t *o)
{
    if (o->type->kind != PM_KIND_LIST)
        return om_error(sp, PM_ERR_TYPE, "'%s' object is not a list", o->type->name);
    return 0;
}

int pm_list_append(pm_objspace_t *sp, pm_object_t *o, pm_object_t *item)
{
    if (list_check(sp, o) < 0)
        return -1;
    struct pm_list *l = (struct pm_list *)o;
    int64_t n = l->size;
    if (l->allocated > n) {         /* the fast path of 3.11's _PyList_AppendTakeRef */
        l->item[n] = pm_incref(item);
        l->size = n + 1;
        return 0;
    }
    if (list_resize(sp, l, n + 1) < 0)
        return -1;
    l->item[n] = pm_incref(item);
    return 0;
}

int pm_list_insert(pm_objspace_t *sp, pm_object_t *o, int64_t where, pm_object_t *item)
{
    if (list_check(sp, o) < 0)
        return -1;
    struct pm_list *l = (struct pm_list *)o;
    int64_t n = l->size;
    if (where < 0) {
        where += n;
        if (where < 0)
            where = 0;
    }
    if (where > n)
        where = n;
    if (list_resize(sp, l, n + 1) < 0)
        return -1;
    memmove(&l->item[where + 1], &l->item[where], (size_t)(n - where) * sizeof(pm_object_t *));
    l->item[where] = pm_incref(item);
    return 0;
}

static int list_index(pm_objspace_t *sp, struct pm_list *l, int64_t *i)
{
    if (*i < 0)
        *i += l->size;
    if (*i < 0 || *i >= l->size)
        return om_error(sp, PM_ERR_INDEX, "list index out of range");
    return 0;
}

int pm_list_set(pm_objspace_t *sp, pm_object_t *o, int64_t i, pm_object_t *item)
{
    if (list_check(sp, o) < 0)
        return -1;
    struct pm_list *l = (struct pm_list *)o;
    if (list_index(sp, l, &i) < 0)
        return -1;
    pm_object_t *old = l->item[i];
    l->item[i] = pm_incref(item);
    pm_xdecref(sp, old);
    return 0;
}

/* del l[i]: list_ass_slice with one item removed: shift, resize, then drop
 * the removed item (after the list is consistent again). */
int pm_list_delete(pm_objspace_t *sp, pm_object_t *o, int64_t i)
{
    if (list_check(sp, o) < 0)
        return -1;
    struct pm_list *l = (struct pm_list *)o;
    if (list_index(sp, l, &i) < 0)
        return -1;
    pm_object_t *old = l->item[i];
    int64_t n = l->size;
    memmove(&l->item[i], &l->item[i + 1], (size_t)(n - i - 1) * sizeof(pm_object_t *));
    if (list_resize(sp, l, n - 1) < 0) {
        /* shrinking realloc failed: undo the shift, report MemoryError */
        memmove(&l->item[i + 1], &l->item[i], (size_t)(n - i - 1) * sizeof(pm_object_t *));
        l->item[i] = old;
        return -1;
    }
    pm_xdecref(sp, old);
    return 0;
}

int pm_list_clear(pm_objspace_t *sp, pm_object_t *o)
{
    if (list_check(sp, o) < 0)
        return -1;
    return list_tp_clear(sp, o);
}
