/* objects/class.c — user classes and their instances.
 *
 * A class (a heap type) is one GC object of 16 + 904 + 40 * (slots + 1)
 * bytes, as type_new's PyType_GenericAlloc, plus: its name (an interned str),
 * its namespace dict ({'__module__': '__main__', '__doc__': None}), the
 * bases tuple (object,), the mro tuple (cls, object) — a reference cycle, so
 * a dropped class is only freed by the collector, as in CPython — and, when
 * instances have a __dict__, the shared keys object instances' attributes
 * are keyed by (768 bytes: 64 one-byte indices, 42 unicode entries, 30 of
 * them usable). Not modelled (about 300 bytes in 3.11): the __dict__ and
 * __weakref__ descriptors and the weakref in object.__subclasses__.
 *
 * An instance is laid out as 3.11's:
 *   [values*, dict*] pre-header (16 bytes) when it has a __dict__,
 *   GC header (16), refcount + type (16), member slots (8 each),
 *   weakref list (8) when it has __weakref__.
 * So `class A: pass` instances request 56 bytes, and a class with
 * __slots__ = ('a', 'b') 48. With a __dict__, attributes live in a values
 * array (PyMem, round_up(n + 2, 8) + 8 * n bytes) indexed by the class's
 * shared keys, n = the keys' entries + usable, after 3.11's rule that each
 * new instance takes one usable entry away while more than one is left.
 * An attribute the shared keys cannot hold materialises a real dict (a
 * combined table; 3.11 first makes a split dict, then converts it).
 *
 * Finalizers: pm_class_set_finalizers gives instances a tp_finalize (run at
 * most once per object, from dealloc or by the collector; PEP 442) and/or a
 * legacy tp_del (run from dealloc only; the collector moves cycles holding
 * one to gc.garbage). Both call the space's hooks; either may resurrect.
 *
 * Entry points: pm_class_new, pm_class_set_finalizers, pm_class_name,
 * pm_instance_new, pm_object_class, pm_setattr, pm_getattr, pm_delattr,
 * pm_instance_has_dict; class_init_object_base, object_call_finalizer,
 * object_finalize_from_dealloc (internal).
 */
#include "pm_objimpl.h"


static size_t class_basic(size_t nslots)
{
    return PM_HEAPTYPE_BASICSIZE + PM_HEAPTYPE_ITEMSIZE * (nslots + 1);
}

/* ---- the pre-header of managed-dict instances ---- */

static inline pm_object_t ***values_ptr(pm_object_t *o)
{
    return (pm_object_t ***)((char *)o - 2 * sizeof(struct pm_gc_head));
}

static inline pm_object_t **dict_ptr(pm_object_t *o)
{
    return (pm_object_t **)((char *)o - 2 * sizeof(struct pm_gc_head) + sizeof(void *));
}

/* values arrays: prefix bytes (last: prefix size, one before: capacity) */
static size_t values_prefix(size_t cap) { return pm_round_up(cap + 2, 8); }
static size_t values_cap(pm_object_t **values) { return ((uint8_t *)values)[-2]; }

static void values_free(pm_objspace_t *sp, pm_object_t **values)
{
    size_t cap = values_cap(values);
    size_t prefix = values_prefix(cap);
    om_free(sp, (char *)values - prefix, prefix + 8 * cap);
}

static pm_object_t **values_new(pm_objspace_t *sp, size_t cap)
{
    size_t prefix = values_prefix(cap);
    char *mem = om_malloc(sp, prefix + 8 * cap);
    if (!mem)
        return NULL;
    memset(mem, 0, prefix + 8 * cap);
    mem[prefix - 1] = (char)prefix;
    mem[prefix - 2] = (char)cap;
    return (pm_object_t **)(mem + prefix);
}

/* values[from..cap) are all NULL */
static __attribute__((unused)) bool values_tail_clear(pm_object_t *const *values, size_t from,
                                                      size_t cap)
{
    for (size_t i = from; i < cap; i++)
        if (values[i])
            return false;
    return true;
}

static inline pm_object_t **member_slots(pm_object_t *o) { return ((struct pm_instance *)o)->slot; }

/* ---- finalizers ---- */

static void instance_finalize(pm_objspace_t *sp, pm_object_t *o)
{
    if (sp->hooks.finalize)
        sp->hooks.finalize(sp, sp->hooks.ctx, o);
}

static void instance_del(pm_objspace_t *sp, pm_object_t *o)
{
    if (sp->hooks.legacy_del)
        sp->hooks.legacy_del(sp, sp->hooks.ctx, o);
}

void object_call_finalizer(pm_objspace_t *sp, pm_object_t *o)
{
    const struct pm_type *tp = o->type;
    if (!tp->finalize)
        return;
    if (type_is_gc(tp) && (as_gc(o)->gc_prev & PM_GC_PREV_FINALIZED))
        return;
    tp->finalize(sp, o);
    if (type_is_gc(tp))
        as_gc(o)->gc_prev |= PM_GC_PREV_FINALIZED;
}

bool object_finalize_from_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    pm_assert(o->refcnt == 0);
    o->refcnt = 1;                  /* temporarily resurrected */
    object_call_finalizer(sp, o);
    o->refcnt--;
    return o->refcnt > 0;
}

/* ---- instances ---- */

static void instance_clear_attrs(pm_objspace_t *sp, pm_object_t *o, bool free_values)
{
    if (!(o->type->flags & TPF_MANAGED_DICT))
        return;
    pm_object_t **dp = dict_ptr(o);
    if (*dp) {
        pm_object_t *d = *dp;
        *dp = NULL;
        pm_decref(sp, d);
        return;
    }
    pm_object_t **values = *values_ptr(o);
    if (!values)
        return;
    size_t cap = values_cap(values);
    for (size_t i = 0; i < cap; i++) {
        pm_object_t *v = values[i];
        values[i] = NULL;
        pm_xdecref(sp, v);
    }
    if (free_values) {
        values = *values_ptr(o);    /* a decref may have materialised a dict */
        *values_ptr(o) = NULL;
        if (values)
            values_free(sp, values);
    }
}

static void instance_clear_slots(pm_objspace_t *sp, pm_object_t *o)
{
    size_t n = class_of_type(o->type)->nslots;
    pm_object_t **slot = member_slots(o);
    for (size_t i = 0; i < n; i++) {
        pm_object_t *v = slot[i];
        slot[i] = NULL;
        pm_xdecref(sp, v);
    }
}

static void instance_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    const struct pm_type *tp = o->type;
    struct pm_class *cls = class_of_type(tp);
    gc_untrack(sp, o);
    if (tp->finalize) {
        gc_track(sp, o);
        if (object_finalize_from_dealloc(sp, o))
            return;                 /* resurrected */
        gc_untrack(sp, o);
    }
    if (tp->weaklistoffset)
        weakref_clear_all(sp, o);
    if (tp->del) {
        gc_track(sp, o);
        o->refcnt = 1;
        tp->del(sp, o);
        o->refcnt--;
        if (o->refcnt > 0)
            return;                 /* resurrected */
        gc_untrack(sp, o);
    }
    if ((tp->finalize || tp->del) && tp->weaklistoffset) {
        /* weakrefs made by the finalizer: cleared without callbacks */
        struct pm_weakref **wl = weaklist_ptr(o);
        while (*wl)
            weakref_clear_ref(sp, *wl);
    }
    instance_clear_slots(sp, o);
    instance_clear_attrs(sp, o, true);
    obj_forget(sp);
    gc_free(sp, o, tp->basicsize);
    pm_decref(sp, &cls->ob);
}

static int instance_traverse(pm_object_t *o, pm_visit_fn visit, void *arg)
{
    struct pm_class *cls = class_of_type(o->type);
    pm_object_t **slot = member_slots(o);
    int r;
    for (size_t i = 0; i < cls->nslots; i++)
        if (slot[i] && (r = visit(slot[i], arg)))
            return r;
    if (o->type->flags & TPF_MANAGED_DICT) {
        pm_object_t *d = *dict_ptr(o);
        pm_object_t **values = *values_ptr(o);
        if (d) {
            if ((r = visit(d, arg)))
                return r;
        } else if (values) {
            /* only the entries of the shared keys can hold a value (they
             * never shrink; the rest of the capacity stays NULL), as in
             * 3.11's _PyObject_VisitInstanceAttributes */
            size_t cap = values_cap(values), n = (size_t)cls->cached_keys->nentries;
            if (n > cap)
                n = cap;
            pm_assert_expensive(values_tail_clear(values, n, cap));
            for (size_t i = 0; i < n; i++)
                if (values[i] && (r = visit(values[i], arg)))
                    return r;
        }
    }
    return visit(&cls->ob, arg);
}

static int instance_tp_clear(pm_objspace_t *sp, pm_object_t *o)
{
    instance_clear_slots(sp, o);
    instance_clear_attrs(sp, o, false);
    return 0;
}

static pm_object_t *as_class(pm_objspace_t *sp, pm_object_t *o)
{
    if (o->type->kind != PM_KIND_CLASS || ((struct pm_class *)o)->is_static) {
        om_error(sp, PM_ERR_TYPE, "'%s' object is not a user class", o->type->name);
        return NULL;
    }
    return o;
}

pm_object_t *pm_instance_new(pm_objspace_t *sp, pm_object_t *clsobj)
{
    if (!as_class(sp, clsobj))
        return NULL;
    struct pm_class *cls = (struct pm_class *)clsobj;
    const struct pm_type *tp = &cls->tp;
    pm_object_t *o = gc_alloc(sp, tp, tp->basicsize);
    if (!o)
        return NULL;
    obj_init(sp, o, tp);
    memset(member_slots(o), 0, tp->basicsize - sizeof(pm_object_t));
    pm_incref(clsobj);
    gc_track(sp, o);
    if (tp->flags & TPF_MANAGED_DICT) {
        /* init_inline_values: each instance takes a usable entry away */
        struct pm_dictkeys *k = cls->cached_keys;
        if (k->usable > 1)
            k->usable--;
        size_t cap = (size_t)(k->nentries + k->usable);
        pm_object_t **values = values_new(sp, cap);
        if (!values) {
            pm_decref(sp, o);
            return NULL;
        }
        *values_ptr(o) = values;
    }
    return o;
}

pm_object_t *pm_object_class(const pm_object_t *o)
{
    if (o->type->kind != PM_KIND_INSTANCE)
        return NULL;
    return &class_of_type(o->type)->ob;
}

bool pm_instance_has_dict(const pm_object_t *o)
{
    return o->type->kind == PM_KIND_INSTANCE && (o->type->flags & TPF_MANAGED_DICT)
           && *dict_ptr((pm_object_t *)o) != NULL;
}

pm_object_t *pm_instance_dict(const pm_object_t *o)
{
    return pm_instance_has_dict(o) ? *dict_ptr((pm_object_t *)o) : NULL;
}

/* Index of a member slot named `name`, or -1. */
static int64_t slot_index(struct pm_class *cls, pm_object_t *name)
{
    if (!cls->slot_names)
        return -1;
    for (size_t i = 0; i < cls->nslots; i++)
        if (str_equal(pm_tuple_get(cls->slot_names, i), name))
            return (int64_t)i;
    return -1;
}

/* Moves the values into a new combined dict. */
static pm_object_t *instance_materialise_dict(pm_objspace_t *sp, pm_object_t *o)
{
    pm_object_t *d = pm_dict_new(sp);      /* may run a collection */
    if (!d)
        return NULL;
    if (*dict_ptr(o)) {                     /* a finalizer got there first */
        pm_decref(sp, d);
        return *dict_ptr(o);
    }
    pm_object_t **values = *values_ptr(o);
    struct pm_dictkeys *k = class_of_type(o->type)->cached_keys;
    if (values) {
        size_t cap = values_cap(values);
        for (size_t i = 0; i < cap; i++)
            if (values[i] && pm_dict_set(sp, d, sharedkeys_name(k, (int64_t)i), values[i]) < 0) {
                pm_decref(sp, d);
                return NULL;
            }
        *values_ptr(o) = NULL;
        for (size_t i = 0; i < cap; i++)
            pm_xdecref(sp, values[i]);
        values_free(sp, values);
    }
    *dict_ptr(o) = d;
    return d;
}

static int instance_setattr(pm_objspace_t *sp, pm_object_t *o, pm_object_t *name,
                            pm_object_t *value)
{
    struct pm_class *cls = class_of_type(o->type);
    int64_t si = slot_index(cls, name);
    if (si >= 0) {
        pm_object_t *old = member_slots(o)[si];
        member_slots(o)[si] = value ? pm_incref(value) : NULL;
        if (!old && !value)
            return om_error(sp, PM_ERR_ATTR, "%s", str_data(name));
        pm_xdecref(sp, old);
        return 0;
    }
    if (!(o->type->flags & TPF_MANAGED_DICT))
        return om_error(sp, PM_ERR_ATTR, "'%s' object has no attribute '%s'", o->type->name,
                        str_data(name));
    pm_object_t *d = *dict_ptr(o);
    pm_object_t **values = *values_ptr(o);
    if (!d && values) {
        int64_t ix = sharedkeys_lookup(sp, cls->cached_keys, name, value != NULL);
        if (ix >= 0 && (size_t)ix < values_cap(values)) {
            pm_object_t *old = values[ix];
            if (!value && !old)
                return om_error(sp, PM_ERR_ATTR, "'%s' object has no attribute '%s'",
                                o->type->name, str_data(name));
            values[ix] = value ? pm_incref(value) : NULL;
            pm_xdecref(sp, old);
            return 0;
        }
        if (!value)
            return om_error(sp, PM_ERR_ATTR, "'%s' object has no attribute '%s'",
                            o->type->name, str_data(name));
    }
    if (!d) {
        d = instance_materialise_dict(sp, o);
        if (!d)
            return -1;
    }
    if (!value) {
        if (pm_dict_delete(sp, d, name) < 0)
            return om_error(sp, PM_ERR_ATTR, "'%s' object has no attribute '%s'",
                            o->type->name, str_data(name));
        return 0;
    }
    return pm_dict_set(sp, d, name, value);
}

static pm_object_t *instance_getattr(pm_objspace_t *sp, pm_object_t *o, pm_object_t *name)
{
    struct pm_class *cls = class_of_type(o->type);
    int64_t si = slot_index(cls, name);
    if (si >= 0)
        return member_slots(o)[si];
    if (o->type->flags & TPF_MANAGED_DICT) {
        pm_object_t *d = *dict_ptr(o);
        pm_object_t **values = *values_ptr(o);
        if (d) {
            pm_object_t *v = pm_dict_get(sp, d, name);
            if (v)
                return v;
        } else if (values) {
            int64_t ix = sharedkeys_lookup(sp, cls->cached_keys, name, false);
            if (ix >= 0 && (size_t)ix < values_cap(values) && values[ix])
                return values[ix];
        }
    }
    return pm_dict_get(sp, cls->dict, name);
}

static int attr_op(pm_objspace_t *sp, pm_object_t *o, const char *cname, pm_object_t *value,
                   pm_object_t **out)
{
    enum pm_kind k = o->type->kind;
    if (k != PM_KIND_INSTANCE && !(k == PM_KIND_CLASS && !((struct pm_class *)o)->is_static))
        return om_error(sp, PM_ERR_ATTR, "'%s' object has no settable attributes",
                        o->type->name);
    pm_object_t *name = pm_str_new_interned(sp, cname, strlen(cname));
    if (!name)
        return -1;
    int r = 0;
    if (out) {
        *out = k == PM_KIND_INSTANCE ? instance_getattr(sp, o, name)
                                     : pm_dict_get(sp, ((struct pm_class *)o)->dict, name);
        if (!*out)
            r = om_error(sp, PM_ERR_ATTR, "'%s' object has no attribute '%s'",
                         k == PM_KIND_INSTANCE ? o->type->name : "type", cname);
    } else if (k == PM_KIND_INSTANCE) {
        r = instance_setattr(sp, o, name, value);
    } else if (value) {
        r = pm_dict_set(sp, ((struct pm_class *)o)->dict, name, value);
    } else if (pm_dict_delete(sp, ((struct pm_class *)o)->dict, name) < 0) {
        r = om_error(sp, PM_ERR_ATTR, "type object has no attribute '%s'", cname);
    }
    pm_decref(sp, name);
    return r;
}

int pm_setattr(pm_objspace_t *sp, pm_object_t *o, const char *name, pm_object_t *value)
{
    return attr_op(sp, o, name, value, NULL);
}

pm_object_t *pm_getattr(pm_objspace_t *sp, pm_object_t *o, const char *name)
{
    pm_object_t *v = NULL;
    return attr_op(sp, o, name, NULL, &v) < 0 ? NULL : v;
}

int pm_delattr(pm_objspace_t *sp, pm_object_t *o, const char *name)
{
    return attr_op(sp, o, name, NULL, NULL);
}

/* ---- classes ---- */

static void class_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_class *cls = (struct pm_class *)o;
    pm_assert(!cls->is_static);
    gc_untrack(sp, o);
    weakref_clear_all(sp, o);
    pm_object_t *refs[] = {cls->dict, cls->bases, cls->mro, cls->name, cls->slot_names};
    cls->dict = cls->bases = cls->mro = cls->name = cls->slot_names = NULL;
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++)
        pm_xdecref(sp, refs[i]);
    if (cls->cached_keys)
        dictkeys_free(sp, cls->cached_keys);
    obj_forget(sp);
    gc_free(sp, o, class_basic(cls->nslots));
}

static int class_traverse(pm_object_t *o, pm_visit_fn visit, void *arg)
{
    struct pm_class *cls = (struct pm_class *)o;
    pm_object_t *refs[] = {cls->dict, cls->mro, cls->bases, cls->slot_names};
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++)
        if (refs[i]) {
            int r = visit(refs[i], arg);
            if (r)
                return r;
        }
    return 0;
}

/* type_clear: empty the namespace and drop the mro (breaks cls <-> mro). */
static int class_tp_clear(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_class *cls = (struct pm_class *)o;
    if (cls->dict)
        pm_dict_clear(sp, cls->dict);
    pm_object_t *mro = cls->mro;
    cls->mro = NULL;
    pm_xdecref(sp, mro);
    return 0;
}

const struct pm_type pm_type_class = {
    .name = "type", .kind = PM_KIND_CLASS, .flags = TPF_GC,
    .basicsize = PM_HEAPTYPE_BASICSIZE, .itemsize = PM_HEAPTYPE_ITEMSIZE,
    .weaklistoffset = offsetof(struct pm_class, weaklist),
    .dealloc = class_dealloc, .traverse = class_traverse, .clear = class_tp_clear,
};

/* `object` is a static type: not a GC object, never freed. */
static const struct pm_type pm_type_class_static = {
    .name = "type", .kind = PM_KIND_CLASS, .basicsize = PM_HEAPTYPE_BASICSIZE,
    .dealloc = NULL,
};

void class_init_object_base(pm_objspace_t *sp, size_t *off)
{
    char *mem = statics_carve(sp, off, sizeof(struct pm_gc_head) + sizeof(struct pm_class));
    struct pm_class *cls = (struct pm_class *)(mem + sizeof(struct pm_gc_head));
    obj_init(sp, &cls->ob, &pm_type_class_static);
    sp->objects_alive--;
    cls->is_static = true;
    cls->tp.name = "object";
    cls->tp.kind = PM_KIND_INSTANCE;
    sp->object_class = &cls->ob;
}

const char *pm_class_name(const pm_object_t *o)
{
    const struct pm_class *cls = (const struct pm_class *)o;
    return cls->tp.name;
}

int pm_class_set_finalizers(pm_object_t *o, bool finalize, bool legacy_del)
{
    if (o->type != &pm_type_class)
        return -1;                  /* not a user class (or `object`) */
    struct pm_class *cls = (struct pm_class *)o;
    cls->tp.finalize = finalize ? instance_finalize : NULL;
    cls->tp.del = legacy_del ? instance_del : NULL;
    return 0;
}

pm_object_t *pm_class_new(pm_objspace_t *sp, const char *name, size_t nslots,
                          const char *const *slots)
{
    bool has_dict = slots == NULL, has_weak = slots == NULL;
    size_t members = 0;
    for (size_t i = 0; slots && i < nslots; i++) {
        if (!strcmp(slots[i], "__dict__"))
            has_dict = true;
        else if (!strcmp(slots[i], "__weakref__"))
            has_weak = true;
        else
            members++;
    }
    struct pm_class *cls = (struct pm_class *)gc_alloc(sp, &pm_type_class, class_basic(members));
    if (!cls)
        return NULL;
    memset((char *)cls + sizeof(pm_object_t), 0, sizeof *cls - sizeof(pm_object_t));
    obj_init(sp, &cls->ob, &pm_type_class);
    cls->nslots = members;
    /* until complete, the instance type is a plain one (dealloc-safe) */
    pm_object_t *o = &cls->ob;
    cls->name = pm_str_new_interned(sp, name, strlen(name));
    if (!cls->name)
        goto fail;
    cls->tp.name = pm_str_data(cls->name, NULL);
    cls->tp.kind = PM_KIND_INSTANCE;
    cls->tp.flags = TPF_GC | TPF_HEAPTYPE | (has_dict ? TPF_MANAGED_DICT : 0);
    cls->tp.basicsize = sizeof(pm_object_t) + 8 * members + (has_weak ? 8 : 0);
    cls->tp.preheader = has_dict ? 2 * sizeof(void *) : 0;
    cls->tp.weaklistoffset = has_weak ? sizeof(pm_object_t) + 8 * members : 0;
    cls->tp.dealloc = instance_dealloc;
    cls->tp.traverse = instance_traverse;
    cls->tp.clear = instance_tp_clear;

    cls->dict = pm_dict_new(sp);
    if (!cls->dict)
        goto fail;
    pm_object_t *k = pm_str_new_interned(sp, "__module__", 10);
    pm_object_t *v = k ? pm_str_new_interned(sp, "__main__", 8) : NULL;
    int r = v ? pm_dict_set(sp, cls->dict, k, v) : -1;
    pm_xdecref(sp, k);
    pm_xdecref(sp, v);
    if (r < 0)
        goto fail;
    k = pm_str_new_interned(sp, "__doc__", 7);
    r = k ? pm_dict_set(sp, cls->dict, k, sp->none) : -1;
    pm_xdecref(sp, k);
    if (r < 0)
        goto fail;
    cls->bases = pm_tuple_new(sp, 1, &sp->object_class);
    if (!cls->bases)
        goto fail;
    pm_object_t *mro[2] = {o, sp->object_class};
    cls->mro = pm_tuple_new(sp, 2, mro);
    if (!cls->mro)
        goto fail;
    if (members) {
        cls->slot_names = pm_tuple_new(sp, members, NULL);
        if (!cls->slot_names)
            goto fail;
        struct pm_tuple *t = (struct pm_tuple *)cls->slot_names;
        size_t j = 0;
        for (size_t i = 0; i < nslots; i++) {
            if (!strcmp(slots[i], "__dict__") || !strcmp(slots[i], "__weakref__"))
                continue;
            t->item[j] = pm_str_new_interned(sp, slots[i], strlen(slots[i]));
            if (!t->item[j])
                goto fail;
            j++;
        }
    }
    if (has_dict) {
        cls->cached_keys = sharedkeys_new(sp);
        if (!cls->cached_keys)
            goto fail;
    }
    gc_track(sp, o);
    return o;
fail:
    /* the mro tuple holds a reference to the class: drop it first */
    pm_xdecref(sp, cls->mro);
    cls->mro = NULL;
    pm_decref(sp, o);
    return NULL;
}
