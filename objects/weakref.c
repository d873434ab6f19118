/* objects/weakref.c — weak references (PyWeakReference: 16 + 64 bytes, a GC
 * object that traverses its callback).
 *
 * The referent keeps a doubly linked list of its weakrefs (its weaklist
 * slot); plain refs without a callback sit at the head and are shared
 * (weakref.ref(x) returns the existing one). When the referent dies by
 * refcount, every weakref is cleared first and then the callbacks run, each
 * with its weakref (PyObject_ClearWeakRefs, including its tuple of
 * (weakref, callback) pairs when more than one is left). The collector
 * clears weakrefs to garbage itself and runs only the callbacks of weakrefs
 * that are not garbage (gc.c). A weakref whose referent's refcount is 0
 * reads as dead, as 3.11's PyWeakref_GET_OBJECT.
 *
 * Entry points: pm_weakref_new, pm_weakref_get, pm_weakref_count;
 * weakref_clear_ref, weakref_clear_all, weakref_call_callback (internal).
 */
#include "pm_objimpl.h"

static bool is_basic(const struct pm_weakref *wr) { return wr->callback == NULL; }

/* clear_weakref: unlink from the referent and drop the callback. */
static void weakref_unlink(pm_objspace_t *sp, struct pm_weakref *wr)
{
    if (wr->object != sp->none) {
        struct pm_weakref **list = weaklist_ptr(wr->object);
        if (*list == wr)
            *list = wr->next;
        wr->object = sp->none;
        if (wr->prev)
            wr->prev->next = wr->next;
        if (wr->next)
            wr->next->prev = wr->prev;
        wr->prev = wr->next = NULL;
    }
}

void weakref_clear_ref(pm_objspace_t *sp, struct pm_weakref *wr)
{
    weakref_unlink(sp, wr);         /* the callback is kept */
}

static void weakref_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_weakref *wr = (struct pm_weakref *)o;
    gc_untrack(sp, o);
    weakref_unlink(sp, wr);
    pm_object_t *cb = wr->callback;
    wr->callback = NULL;
    pm_xdecref(sp, cb);
    obj_forget(sp);
    gc_free(sp, o, sizeof(struct pm_weakref));
}

static int weakref_traverse(pm_object_t *o, pm_visit_fn visit, void *arg)
{
    struct pm_weakref *wr = (struct pm_weakref *)o;
    return wr->callback ? visit(wr->callback, arg) : 0;
}

static int weakref_tp_clear(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_weakref *wr = (struct pm_weakref *)o;
    weakref_unlink(sp, wr);
    pm_object_t *cb = wr->callback;
    wr->callback = NULL;
    pm_xdecref(sp, cb);
    return 0;
}

const struct pm_type pm_type_weakref = {
    .name = "weakref", .kind = PM_KIND_WEAKREF, .flags = TPF_GC,
    .basicsize = sizeof(struct pm_weakref),
    .dealloc = weakref_dealloc, .traverse = weakref_traverse, .clear = weakref_tp_clear,
};

pm_object_t *pm_weakref_new(pm_objspace_t *sp, pm_object_t *obj, pm_object_t *callback)
{
    if (!obj->type->weaklistoffset) {
        om_error(sp, PM_ERR_TYPE, "cannot create weak reference to '%s' object",
                 obj->type->name);
        return NULL;
    }
    if (callback == sp->none)
        callback = NULL;
    struct pm_weakref **list = weaklist_ptr(obj);
    if (!callback && *list && is_basic(*list))
        return pm_incref(&(*list)->ob);
    struct pm_weakref *wr =
        (struct pm_weakref *)gc_alloc(sp, &pm_type_weakref, sizeof(struct pm_weakref));
    if (!wr)
        return NULL;
    obj_init(sp, &wr->ob, &pm_type_weakref);
    wr->object = obj;
    wr->callback = callback ? pm_incref(callback) : NULL;
    wr->hash = -1;
    wr->vectorcall = NULL;
    /* the allocation may have run a collection: read the list again */
    struct pm_weakref *head = *list;
    if (!callback && head && is_basic(head)) {
        /* a plain ref appeared meanwhile: use it */
        wr->object = sp->none;
        wr->prev = wr->next = NULL;
        pm_decref(sp, &wr->ob);
        return pm_incref(&head->ob);
    }
    if (!callback || !head || !is_basic(head)) {
        wr->prev = NULL;            /* insert_head */
        wr->next = head;
        if (head)
            head->prev = wr;
        *list = wr;
    } else {
        wr->prev = head;            /* insert_after the plain ref */
        wr->next = head->next;
        if (head->next)
            head->next->prev = wr;
        head->next = wr;
    }
    gc_track(sp, &wr->ob);
    return &wr->ob;
}

pm_object_t *pm_weakref_get(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_weakref *wr = (struct pm_weakref *)o;
    pm_assert(o->type == &pm_type_weakref);
    if (wr->object == sp->none || wr->object->refcnt == 0)
        return sp->none;
    return wr->object;
}

size_t pm_weakref_count(const pm_object_t *obj)
{
    if (!obj->type->weaklistoffset)
        return 0;
    size_t n = 0;
    for (struct pm_weakref *w = *weaklist_ptr((pm_object_t *)obj); w; w = w->next)
        n++;
    return n;
}

void weakref_call_callback(pm_objspace_t *sp, struct pm_weakref *wr)
{
    if (wr->callback && sp->hooks.weakref_callback)
        sp->hooks.weakref_callback(sp, sp->hooks.ctx, wr->callback, &wr->ob);
}

static void handle_callback(pm_objspace_t *sp, struct pm_weakref *wr, pm_object_t *callback)
{
    if (sp->hooks.weakref_callback)
        sp->hooks.weakref_callback(sp, sp->hooks.ctx, callback, &wr->ob);
}

/* PyObject_ClearWeakRefs, called by deallocs of weakly referenceable objects. */
void weakref_clear_all(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_weakref **list = weaklist_ptr(o);
    if (!*list)
        return;
    /* plain refs first: no callbacks to run */
    if (*list && is_basic(*list))
        weakref_unlink(sp, *list);
    if (!*list)
        return;
    size_t count = 0;
    for (struct pm_weakref *w = *list; w; w = w->next)
        count++;
    if (count == 1) {
        struct pm_weakref *wr = *list;
        pm_object_t *cb = wr->callback;
        wr->callback = NULL;
        weakref_unlink(sp, wr);
        if (cb) {
            if (wr->ob.refcnt > 0)
                handle_callback(sp, wr, cb);
            pm_decref(sp, cb);
        }
        return;
    }
    pm_object_t *pairs = pm_tuple_new(sp, 2 * count, NULL);
    if (!pairs) {
        /* MemoryError: clear them all, callbacks dropped unrun */
        while (*list) {
            struct pm_weakref *wr = *list;
            pm_object_t *cb = wr->callback;
            wr->callback = NULL;
            weakref_unlink(sp, wr);
            pm_xdecref(sp, cb);
        }
        return;
    }
    /* the allocation may have run a collection that changed the list */
    struct pm_tuple *t = (struct pm_tuple *)pairs;
    for (size_t i = 0; i < count && *list; i++) {
        struct pm_weakref *wr = *list;
        if (wr->ob.refcnt > 0) {
            t->item[2 * i] = pm_incref(&wr->ob);
            t->item[2 * i + 1] = wr->callback;
        } else {
            pm_xdecref(sp, wr->callback);
        }
        wr->callback = NULL;
        weakref_unlink(sp, wr);
    }
    while (*list) {                 /* refs added by that collection: no callbacks */
        struct pm_weakref *wr = *list;
        pm_object_t *cb = wr->callback;
        wr->callback = NULL;
        weakref_unlink(sp, wr);
        pm_xdecref(sp, cb);
    }
    for (size_t i = 0; i < count; i++)
        if (t->item[2 * i + 1])
            handle_callback(sp, (struct pm_weakref *)t->item[2 * i], t->item[2 * i + 1]);
    pm_decref(sp, pairs);
}
