/* workloads/objscript/objscript_run.c — the runner of object scripts
 * (format: docs/objscript.md; entry points in pm_objscript.h; the parser,
 * objscript_parse.c, hands it the statements of objscript_internal.h).
 *
 * The run keeps one strong reference per bound name; finalizers and weakref
 * callbacks of the script's classes are the space's hooks, pointing back at
 * the run. Names in messages are the parser's escaped forms.
 *
 * Library code: never prints; tables in the C heap (see pm_objscript.h).
 */
#include "objscript_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- running ---- */

struct fin_mode {
    const pm_object_t *cls;
    unsigned fin;
    int list;                       /* resurrection list slot */
};

struct pm_objscript_run {
    const struct pm_objscript *sc;
    pm_objspace_t *sp;
    struct pm_objscript_io io;
    pm_object_t **slot;             /* one strong reference per bound name */
    struct pm_objscript_stats st;
    struct fin_mode *modes;
    size_t nmodes, modes_cap;
    int64_t inner;                  /* the last collection run by a finalizer */
    char hook_err[PM_ERR_LEN];      /* a problem met inside a hook */
    const struct stmt *cur;
    char *err;
    bool finishing;                 /* pm_objscript_finish is dropping the names */
};

static int rerr(struct pm_objscript_run *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rerr(struct pm_objscript_run *r, int status, const char *fmt, ...)
{
    char msg[PM_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->err, PM_ERR_LEN, "%.100s:%d: %.140s", r->sc->file, r->cur ? r->cur->line : 0,
             msg);
    return status;
}

/* A failed call of the object layer: MemoryError fails the run, anything
 * else is a mistake in the script. */
static int space_err(struct pm_objscript_run *r, const char *what)
{
    const char *msg;
    enum pm_err_kind k = pm_objspace_error(r->sp, &msg);
    int status = k == PM_ERR_NOMEM ? PM_OBJSCRIPT_FAILED : PM_OBJSCRIPT_BAD;
    int rc = rerr(r, status, "%s: %s", what, *msg ? msg : "failed");
    pm_objspace_clear_error(r->sp);
    return rc;
}

static const struct fin_mode *mode_of(struct pm_objscript_run *r, const pm_object_t *cls)
{
    for (size_t i = 0; i < r->nmodes; i++)
        if (r->modes[i].cls == cls)
            return &r->modes[i];
    return NULL;
}

static void hook_finalize(pm_objspace_t *sp, void *ctx, pm_object_t *self)
{
    struct pm_objscript_run *r = ctx;
    r->st.finalized++;
    const struct fin_mode *m = mode_of(r, pm_object_class(self));
    if (!m)
        return;
    if (m->fin & FIN_RESURRECT) {
        pm_object_t *l = r->slot[m->list];
        if (r->finishing) {
            /* finish has unbound every name, as CPython's shutdown clears the
             * modules' globals: the __del__'s NameError would be ignored
             * there; the object is not resurrected and goes */
        } else if (l && pm_object_kind(l) == PM_KIND_LIST) {
            if (pm_list_append(sp, l, self) < 0 && !r->hook_err[0])
                snprintf(r->hook_err, PM_ERR_LEN, "resurrecting in a finalizer: MemoryError");
        } else if (!r->hook_err[0]) {
            snprintf(r->hook_err, PM_ERR_LEN, "finalizer: '%s' is not a list",
                     r->sc->names[m->list]);
        }
    }
    if (m->fin & FIN_COLLECT)
        r->inner = pm_gc_collect(sp, 2);
    pm_objspace_clear_error(sp);
}

static void hook_legacy(pm_objspace_t *sp, void *ctx, pm_object_t *self)
{
    (void)sp;
    (void)self;
    struct pm_objscript_run *r = ctx;
    r->st.legacy_dels++;
}

static void hook_callback(pm_objspace_t *sp, void *ctx, pm_object_t *cb, pm_object_t *wr)
{
    (void)cb;
    struct pm_objscript_run *r = ctx;
    r->st.callbacks++;
    if (pm_weakref_get(sp, wr) != pm_none(sp) && !r->hook_err[0])
        snprintf(r->hook_err, PM_ERR_LEN, "a weakref callback saw a live referent");
}

struct pm_objscript_run *pm_objscript_start(const struct pm_objscript *sc, pm_objspace_t *sp,
                                            const struct pm_objscript_io *io)
{
    struct pm_objscript_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->sc = sc;
    r->sp = sp;
    if (io)
        r->io = *io;
    r->slot = calloc((size_t)sc->nnames + 1, sizeof *r->slot);
    if (!r->slot) {
        free(r);
        return NULL;
    }
    struct pm_objspace_hooks hooks = {
        .ctx = r, .finalize = hook_finalize, .legacy_del = hook_legacy,
        .weakref_callback = hook_callback,
    };
    pm_objspace_set_hooks(sp, &hooks);
    return r;
}

const struct pm_objscript_stats *pm_objscript_stats(const struct pm_objscript_run *r)
{
    return &r->st;
}

static void bind(struct pm_objscript_run *r, int slot, pm_object_t *o)
{
    pm_object_t *old = r->slot[slot];
    r->slot[slot] = o;
    pm_xdecref(r->sp, old);
}

/* Evaluates an operand: a borrowed reference in *out; literals make a new
 * object, returned in *owned as well (drop it after use). */
static int eval(struct pm_objscript_run *r, const struct value *v, pm_object_t **out,
                pm_object_t **owned)
{
    pm_objspace_t *sp = r->sp;
    *owned = NULL;
    switch (v->kind) {
    case V_NAME:
        *out = r->slot[v->name];
        if (!*out)
            return rerr(r, PM_OBJSCRIPT_BAD, "name '%s' is not bound", r->sc->names[v->name]);
        return 0;
    case V_NONE:
        *out = pm_none(sp);
        return 0;
    case V_INT:
        *owned = pm_int_new(sp, v->i);
        break;
    case V_FLOAT:
        *owned = pm_float_new(sp, v->f);
        break;
    case V_STR: {
        /* as code constants: identifier-like strings are interned */
        bool ident = v->n > 0 && (isalpha((unsigned char)v->s[0]) || v->s[0] == '_');
        for (size_t i = 0; ident && i < v->n; i++)
            ident = isalnum((unsigned char)v->s[i]) || v->s[i] == '_';
        *owned = ident ? pm_str_new_interned(sp, v->s, v->n) : pm_str_new(sp, v->s, v->n);
        break;
    }
    }
    if (!*owned)
        return space_err(r, "literal");
    *out = *owned;
    return 0;
}

static const char *vname(const struct pm_objscript_run *r, const struct value *v)
{
    return v->kind == V_NAME ? r->sc->names[v->name] : "the value";
}

static int want_kind(struct pm_objscript_run *r, const struct value *v, pm_object_t *o,
                     enum pm_kind k, const char *what)
{
    if (pm_object_kind(o) != k)
        return rerr(r, PM_OBJSCRIPT_BAD, "%s is a %s, not a %s", vname(r, v),
                    pm_object_type_name(o), what);
    return 0;
}

static int index_of(struct pm_objscript_run *r, const struct value *v, pm_object_t *o,
                    int64_t *i)
{
    if (!pm_int_as_int64(o, i))
        return rerr(r, PM_OBJSCRIPT_BAD, "%s is not a small int index", vname(r, v));
    return 0;
}

static int set_mode(struct pm_objscript_run *r, pm_object_t *cls, const struct stmt *s)
{
    struct fin_mode *m = (struct fin_mode *)mode_of(r, cls);
    if (!m) {
        if (r->nmodes == r->modes_cap) {
            size_t cap = r->modes_cap ? 2 * r->modes_cap : 8;
            struct fin_mode *nm = realloc(r->modes, cap * sizeof *nm);
            if (!nm)
                return rerr(r, PM_OBJSCRIPT_FAILED, "out of memory");
            r->modes = nm;
            r->modes_cap = cap;
        }
        m = &r->modes[r->nmodes++];
        m->cls = cls;
    }
    m->fin = s->fin;
    m->list = s->fin_list;
    if (pm_class_set_finalizers(cls, (s->fin & FIN_FINALIZE) != 0, (s->fin & FIN_LEGACY) != 0))
        return rerr(r, PM_OBJSCRIPT_BAD, "%s is not a user class", vname(r, &s->v[0]));
    return 0;
}

static int do_binding(struct pm_objscript_run *r, const struct stmt *s)
{
    pm_objspace_t *sp = r->sp;
    pm_object_t *o = NULL, *a = NULL, *b = NULL, *owned_a = NULL, *owned_b = NULL;
    int rc = 0;
    switch (s->op) {
    case B_VALUE:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        o = owned_a ? owned_a : pm_incref(a);
        owned_a = NULL;
        break;
    case B_INT: o = pm_int_new(sp, s->n[0]); break;
    case B_INT_BITS: o = pm_int_new_bits(sp, (unsigned)s->n[0], s->n[1] != 0); break;
    case B_FLOAT: o = pm_float_new(sp, s->v[0].f); break;
    case B_STR: o = pm_str_new(sp, s->word, (size_t)s->n[0]); break;
    case B_ISTR: o = pm_str_new_interned(sp, s->word, (size_t)s->n[0]); break;
    case B_BYTES: o = pm_bytes_new(sp, NULL, (size_t)s->n[0]); break;
    case B_TUPLE:
    case B_LIST:
    case B_DICT: {
        pm_object_t *items[128], *owned[128];
        pm_object_t **it = s->nv <= 128 ? items : malloc((size_t)s->nv * sizeof *it);
        pm_object_t **ow = s->nv <= 128 ? owned : calloc((size_t)s->nv, sizeof *ow);
        if (!it || !ow) {
            if (it != items)
                free(it);
            if (ow != owned)
                free(ow);
            return rerr(r, PM_OBJSCRIPT_FAILED, "out of memory");
        }
        int k = 0;
        for (; k < s->nv && rc == 0; k++)
            rc = eval(r, &s->v[k], &it[k], &ow[k]);
        if (rc == 0) {
            if (s->op == B_TUPLE) {
                o = pm_tuple_new(sp, (size_t)s->nv, it);
            } else if (s->op == B_LIST) {
                o = pm_list_new(sp, (size_t)s->nv, it);
            } else {
                o = pm_dict_new(sp);
                for (int i = 0; o && i < s->nv; i += 2)
                    if (pm_dict_set(sp, o, it[i], it[i + 1]) < 0) {
                        pm_decref(sp, o);
                        o = NULL;
                    }
            }
            if (!o)
                rc = space_err(r, s->op == B_TUPLE ? "tuple" : s->op == B_LIST ? "list" : "dict");
        }
        for (int i = 0; i < k; i++)
            pm_xdecref(sp, ow[i]);
        if (it != items)
            free(it);
        if (ow != owned)
            free(ow);
        if (rc)
            return rc;
        break;
    }
    case B_CLASS:
        o = pm_class_new(sp, s->word, s->has_slots ? (size_t)s->nwords : 0,
                         s->has_slots ? (const char *const *)s->words : NULL);
        break;
    case B_NEW:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        o = pm_instance_new(sp, a);
        break;
    case B_WEAKREF:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        if (s->nv > 1 && (rc = eval(r, &s->v[1], &b, &owned_b))) {
            pm_xdecref(sp, owned_a);
            return rc;
        }
        o = pm_weakref_new(sp, a, b);
        break;
    case B_GETATTR:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        o = pm_getattr(sp, a, s->word);
        if (o)
            pm_incref(o);
        break;
    case B_ITEM:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        if ((rc = eval(r, &s->v[1], &b, &owned_b))) {
            pm_xdecref(sp, owned_a);
            return rc;
        }
        if (pm_object_kind(a) == PM_KIND_DICT) {
            o = pm_dict_get(sp, a, b);
            if (!o && pm_objspace_error(sp, NULL) == PM_ERR_NONE)
                rc = rerr(r, PM_OBJSCRIPT_BAD, "key not in %s", vname(r, &s->v[0]));
        } else {
            int64_t i;
            enum pm_kind k = pm_object_kind(a);
            size_t n = k == PM_KIND_LIST ? pm_list_size(a) : k == PM_KIND_TUPLE ? pm_tuple_size(a) : 0;
            if (k != PM_KIND_LIST && k != PM_KIND_TUPLE)
                rc = rerr(r, PM_OBJSCRIPT_BAD, "%s is a %s: no items", vname(r, &s->v[0]),
                          pm_object_type_name(a));
            else if ((rc = index_of(r, &s->v[1], b, &i)) == 0) {
                if (i < 0)
                    i += (int64_t)n;
                if (i < 0 || (size_t)i >= n)
                    rc = rerr(r, PM_OBJSCRIPT_BAD, "index out of range");
                else
                    o = k == PM_KIND_LIST ? pm_list_get(a, (size_t)i) : pm_tuple_get(a, (size_t)i);
            }
        }
        if (o)
            pm_incref(o);
        break;
    case B_DEREF:
        if ((rc = eval(r, &s->v[0], &a, &owned_a)))
            return rc;
        if ((rc = want_kind(r, &s->v[0], a, PM_KIND_WEAKREF, "weakref")) == 0)
            o = pm_incref(pm_weakref_get(sp, a));
        break;
    case B_OBJECTS:
        o = pm_gc_get_objects(sp, (int)s->n[0]);
        break;
    case B_GARBAGE:
        o = pm_incref(pm_gc_garbage(sp));
        break;
    default:
        break;
    }
    pm_xdecref(sp, owned_a);
    pm_xdecref(sp, owned_b);
    if (rc)
        return rc;
    if (!o) {
        static const char *const what[] = {
            [B_VALUE] = "value", [B_INT] = "int", [B_INT_BITS] = "int", [B_FLOAT] = "float",
            [B_STR] = "str", [B_ISTR] = "istr", [B_BYTES] = "bytes", [B_TUPLE] = "tuple",
            [B_LIST] = "list", [B_DICT] = "dict", [B_CLASS] = "class", [B_NEW] = "new",
            [B_WEAKREF] = "weakref", [B_GETATTR] = "getattr", [B_ITEM] = "item",
            [B_DEREF] = "deref", [B_OBJECTS] = "objects", [B_GARBAGE] = "garbage",
        };
        return space_err(r, what[s->op]);
    }
    bind(r, s->target, o);
    return 0;
}

static int64_t expect_actual(struct pm_objscript_run *r, const struct stmt *s, pm_object_t *a,
                             pm_object_t *b, int *rc)
{
    pm_objspace_t *sp = r->sp;
    int64_t c[3];
    struct pm_gc_gen_stats gs[3];
    struct pm_objspace_stats os;
    switch (s->ex) {
    case X_COLLECTED: return r->st.last_collected;
    case X_UNCOLLECTABLE: return r->st.last_uncollectable;
    case X_RETURNED: return r->st.last_returned;
    case X_GARBAGE: return (int64_t)pm_list_size(pm_gc_garbage(sp));
    case X_FINALIZED: return (int64_t)r->st.finalized;
    case X_LEGACY: return (int64_t)r->st.legacy_dels;
    case X_CALLBACKS: return (int64_t)r->st.callbacks;
    case X_INNER: return r->inner;
    case X_ALIVE_OBJECTS:
        pm_objspace_stats(sp, &os);
        return (int64_t)os.objects_alive;
    case X_COUNT:
        pm_gc_get_count(sp, c);
        return c[s->n[1]];
    case X_OBJECTS: return (int64_t)pm_gc_count_objects(sp, (int)s->n[1]);
    case X_COLLECTIONS:
        pm_gc_get_stats(sp, gs);
        return (int64_t)gs[s->n[1]].collections;
    case X_LEN:
        switch (pm_object_kind(a)) {
        case PM_KIND_LIST: return (int64_t)pm_list_size(a);
        case PM_KIND_TUPLE: return (int64_t)pm_tuple_size(a);
        case PM_KIND_DICT: return (int64_t)pm_dict_size(a);
        case PM_KIND_STR: { size_t n; pm_str_data(a, &n); return (int64_t)n; }
        default:
            *rc = rerr(r, PM_OBJSCRIPT_BAD, "%s (a %s) has no len", vname(r, &s->v[0]),
                       pm_object_type_name(a));
            return 0;
        }
    case X_REFCOUNT: return (int64_t)a->refcnt;
    case X_SIZEOF: return (int64_t)pm_object_sizeof(a);
    default:
        (void)b;
        return 0;
    }
}

static int do_expect(struct pm_objscript_run *r, const struct stmt *s)
{
    pm_objspace_t *sp = r->sp;
    pm_object_t *a = NULL, *b = NULL, *oa = NULL, *ob = NULL;
    int rc = 0;
    if (s->nv >= 1 && (rc = eval(r, &s->v[0], &a, &oa)))
        return rc;
    if (s->nv >= 2 && (rc = eval(r, &s->v[1], &b, &ob))) {
        pm_xdecref(sp, oa);
        return rc;
    }
    bool ok = true;
    char got[96] = "";
    switch (s->ex) {
    case X_DEAD:
    case X_ALIVE:
        if ((rc = want_kind(r, &s->v[0], a, PM_KIND_WEAKREF, "weakref")))
            break;
        ok = (pm_weakref_get(sp, a) == pm_none(sp)) == (s->ex == X_DEAD);
        snprintf(got, sizeof got, "its referent is %s",
                 pm_weakref_get(sp, a) == pm_none(sp) ? "dead" : "alive");
        break;
    case X_TRACKED:
    case X_UNTRACKED:
        ok = pm_gc_is_tracked(a) == (s->ex == X_TRACKED);
        snprintf(got, sizeof got, "it is %stracked", pm_gc_is_tracked(a) ? "" : "un");
        break;
    case X_INTERNED:
        ok = pm_object_kind(a) == PM_KIND_STR && pm_str_is_interned(a);
        snprintf(got, sizeof got, "it is not an interned str");
        break;
    case X_SAME:
        ok = a == b;
        snprintf(got, sizeof got, "they are different objects");
        break;
    default: {
        int64_t v = expect_actual(r, s, a, b, &rc);
        ok = v == s->n[0];
        snprintf(got, sizeof got, "got %lld", (long long)v);
        break;
    }
    }
    pm_xdecref(sp, oa);
    pm_xdecref(sp, ob);
    if (rc)
        return rc;
    if (!ok) {
        char what[120];
        if (s->nv == 0 && s->ex != X_COUNT && s->ex != X_OBJECTS && s->ex != X_COLLECTIONS)
            snprintf(what, sizeof what, "expect %s %lld", s->word, (long long)s->n[0]);
        else if (s->ex == X_COUNT || s->ex == X_OBJECTS || s->ex == X_COLLECTIONS)
            snprintf(what, sizeof what, "expect %s %lld %lld", s->word, (long long)s->n[1],
                     (long long)s->n[0]);
        else if (s->ex == X_LEN || s->ex == X_REFCOUNT || s->ex == X_SIZEOF)
            snprintf(what, sizeof what, "expect %s %s %lld", s->word, vname(r, &s->v[0]),
                     (long long)s->n[0]);
        else if (s->ex == X_SAME)
            snprintf(what, sizeof what, "expect same %s %s", vname(r, &s->v[0]),
                     vname(r, &s->v[1]));
        else
            snprintf(what, sizeof what, "expect %s %s", s->word, vname(r, &s->v[0]));
        return rerr(r, PM_OBJSCRIPT_FAILED, "%s: %s", what, got);
    }
    return 0;
}

static int do_statement(struct pm_objscript_run *r, const struct stmt *s)
{
    pm_objspace_t *sp = r->sp;
    pm_object_t *a = NULL, *b = NULL, *c = NULL, *oa = NULL, *ob = NULL, *oc = NULL;
    int rc = 0, lrc = 0;
    int64_t i;
    if (s->op == S_DEL) {
        for (int k = 0; k < s->nv; k++) {
            int slot = s->v[k].name;
            if (!r->slot[slot])
                return rerr(r, PM_OBJSCRIPT_BAD, "name '%s' is not bound", r->sc->names[slot]);
            pm_object_t *o = r->slot[slot];
            r->slot[slot] = NULL;
            pm_decref(sp, o);
        }
        return 0;
    }
    if (s->nv >= 1 && (rc = eval(r, &s->v[0], &a, &oa)))
        return rc;
    if (s->nv >= 2 && (rc = eval(r, &s->v[1], &b, &ob)))
        goto out;
    if (s->nv >= 3 && (rc = eval(r, &s->v[2], &c, &oc)))
        goto out;
    switch (s->op) {
    case S_APPEND:
        if (!(rc = want_kind(r, &s->v[0], a, PM_KIND_LIST, "list")))
            lrc = pm_list_append(sp, a, b);
        break;
    case S_INSERT:
        if (!(rc = want_kind(r, &s->v[0], a, PM_KIND_LIST, "list"))
            && !(rc = index_of(r, &s->v[1], b, &i)))
            lrc = pm_list_insert(sp, a, i, c);
        break;
    case S_SETITEM:
        if (pm_object_kind(a) == PM_KIND_DICT)
            lrc = pm_dict_set(sp, a, b, c);
        else if (!(rc = want_kind(r, &s->v[0], a, PM_KIND_LIST, "list or dict"))
                 && !(rc = index_of(r, &s->v[1], b, &i)))
            lrc = pm_list_set(sp, a, i, c);
        break;
    case S_DELITEM:
        if (pm_object_kind(a) == PM_KIND_DICT)
            lrc = pm_dict_delete(sp, a, b);
        else if (!(rc = want_kind(r, &s->v[0], a, PM_KIND_LIST, "list or dict"))
                 && !(rc = index_of(r, &s->v[1], b, &i)))
            lrc = pm_list_delete(sp, a, i);
        break;
    case S_CLEAR:
        if (pm_object_kind(a) == PM_KIND_DICT)
            lrc = pm_dict_clear(sp, a);
        else if (!(rc = want_kind(r, &s->v[0], a, PM_KIND_LIST, "list or dict")))
            lrc = pm_list_clear(sp, a);
        break;
    case S_SETATTR:
        lrc = pm_setattr(sp, a, s->word, b);
        break;
    case S_DELATTR:
        lrc = pm_delattr(sp, a, s->word);
        break;
    case S_FINALIZER:
        if (pm_object_kind(a) != PM_KIND_CLASS)
            rc = rerr(r, PM_OBJSCRIPT_BAD, "%s is not a class", vname(r, &s->v[0]));
        else
            rc = set_mode(r, a, s);
        break;
    default:
        break;
    }
    if (!rc && lrc < 0) {
        static const char *const what[] = {
            [S_APPEND] = "append", [S_INSERT] = "insert", [S_SETITEM] = "setitem",
            [S_DELITEM] = "delitem", [S_CLEAR] = "clear", [S_SETATTR] = "setattr",
            [S_DELATTR] = "delattr",
        };
        rc = space_err(r, s->op <= S_DELATTR && what[s->op] ? what[s->op] : "statement");
    }
out:
    pm_xdecref(sp, oa);
    pm_xdecref(sp, ob);
    pm_xdecref(sp, oc);
    return rc;
}

int pm_objscript_exec(struct pm_objscript_run *r, char err[PM_ERR_LEN])
{
    const struct pm_objscript *sc = r->sc;
    pm_objspace_t *sp = r->sp;
    r->err = err;
    err[0] = 0;
    int64_t left[16];
    int depth = 0, rc = 0;
    uint64_t every = r->io.sample_every ? r->io.sample_every : 1000;
    for (size_t pc = 0; pc < sc->n && rc == 0; pc++) {
        const struct stmt *s = &sc->st[pc];
        r->cur = s;
        r->st.statements++;
        if (r->io.sample && r->st.statements % every == 0)
            r->io.sample(r->io.ctx);
        switch (s->op) {
        case S_REPEAT:
            if (s->n[0] == 0) {
                pc = (size_t)s->jump;
            } else {
                left[depth++] = s->n[0];
            }
            continue;
        case S_END:
            if (--left[depth - 1] > 0)
                pc = (size_t)s->jump;
            else
                depth--;
            continue;
        case S_COLLECT: {
            struct pm_gc_gen_stats a[3], b[3];
            pm_gc_get_stats(sp, a);
            int64_t ret = pm_gc_collect(sp, (int)s->n[0]);
            pm_gc_get_stats(sp, b);
            int g = (int)s->n[0];
            r->st.collects++;
            r->st.last_returned = ret;
            r->st.last_collected = (int64_t)(b[g].collected - a[g].collected);
            r->st.last_uncollectable = (int64_t)(b[g].uncollectable - a[g].uncollectable);
            if (r->io.on_collect)
                r->io.on_collect(r->io.ctx, s->line, g, ret, r->st.last_collected,
                                 r->st.last_uncollectable);
            if (r->io.sample)
                r->io.sample(r->io.ctx);
            break;
        }
        case S_GC_ENABLE: pm_gc_enable(sp); break;
        case S_GC_DISABLE: pm_gc_disable(sp); break;
        case S_GC_FREEZE: pm_gc_freeze(sp); break;
        case S_GC_UNFREEZE: pm_gc_unfreeze(sp); break;
        case S_GC_THRESHOLD: {
            int64_t t[3];
            pm_gc_get_threshold(sp, t);
            for (int k = 0; k < s->nn; k++)
                t[k] = s->n[k];
            pm_gc_set_threshold(sp, t[0], t[1], t[2]);
            break;
        }
        case S_EXPECT:
            rc = do_expect(r, s);
            break;
        default:
            rc = s->target >= 0 ? do_binding(r, s) : do_statement(r, s);
            break;
        }
        if (!rc && r->hook_err[0])
            rc = rerr(r, PM_OBJSCRIPT_FAILED, "%s", r->hook_err);
    }
    if (r->io.sample)
        r->io.sample(r->io.ctx);
    return rc;
}

/* ---- the end of a run: invariants, then everything must go ---- */

struct name_count {
    const pm_object_t **keys;
    int64_t *counts;
    size_t mask;
};

static size_t nc_slot(const struct name_count *m, const pm_object_t *o)
{
    size_t i = (size_t)(((uintptr_t)o >> 4) * 0x9E3779B97F4A7C15u) & m->mask;
    while (m->keys[i] && m->keys[i] != o)
        i = (i + 1) & m->mask;
    return i;
}

struct ext_check {
    struct name_count *m;
    pm_object_t *garbage;
    unsigned long bad;
    char msg[PM_ERR_LEN];
};

static void ext_visit(void *ctx, pm_object_t *o, int64_t external)
{
    struct ext_check *c = ctx;
    size_t i = nc_slot(c->m, o);
    int64_t names = c->m->keys[i] ? c->m->counts[i] : 0;
    if (o == c->garbage)
        names++;                    /* the space's own reference */
    if (external != names && c->bad++ == 0)
        snprintf(c->msg, sizeof c->msg,
                 "refcount invariant: a tracked %s has %lld references from outside the "
                 "tracked objects but %lld name%s bound to it", pm_object_type_name(o),
                 (long long)external, (long long)names, names == 1 ? "" : "s");
}

static void collect_class(void *ctx, pm_object_t *o)
{
    struct { pm_object_t **v; size_t n, cap; } *cl = ctx;
    if (pm_object_kind(o) != PM_KIND_CLASS)
        return;
    if (cl->n == cl->cap) {
        size_t cap = cl->cap ? 2 * cl->cap : 16;
        pm_object_t **nv = realloc(cl->v, cap * sizeof *nv);
        if (!nv)
            return;
        cl->v = nv;
        cl->cap = cap;
    }
    cl->v[cl->n++] = o;
}

int pm_objscript_finish(struct pm_objscript_run *r, char err[PM_ERR_LEN])
{
    pm_objspace_t *sp = r->sp;
    r->err = err;
    r->cur = NULL;
    err[0] = 0;
    /* 1. each tracked object: outside references == names bound to it */
    int nn = r->sc->nnames;
    size_t cap = 16;
    while (cap < 2 * (size_t)nn + 2)
        cap *= 2;
    struct name_count m = {calloc(cap, sizeof *m.keys), calloc(cap, sizeof *m.counts), cap - 1};
    if (!m.keys || !m.counts) {
        free(m.keys);
        free(m.counts);
        return rerr(r, PM_OBJSCRIPT_FAILED, "out of memory");
    }
    for (int i = 0; i < nn; i++)
        if (r->slot[i]) {
            size_t k = nc_slot(&m, r->slot[i]);
            m.keys[k] = r->slot[i];
            m.counts[k]++;
        }
    struct ext_check c = {.m = &m, .garbage = pm_gc_garbage(sp)};
    char msg[PM_ERR_LEN];
    unsigned long bad = pm_gc_external_refs(sp, ext_visit, &c, msg);
    free(m.keys);
    free(m.counts);
    if (bad)
        return rerr(r, PM_OBJSCRIPT_FAILED, "consistency: %s", msg);
    if (c.bad)
        return rerr(r, PM_OBJSCRIPT_FAILED, "%s", c.msg);
    /* 2. drop every name; what is left must be collectable. Every name is
     * unbound first, then the references go: finalizers and weakref callbacks
     * still run as objects die, as at CPython's shutdown, but find no name
     * bound, whatever the order of the names (a resurrecting finalizer
     * resurrects nothing: hook_finalize). The finalizers are removed only
     * before the collections below, so that legacy tp_del cannot keep
     * anything alive for ever. */
    pm_object_t **held = r->slot;
    r->slot = calloc((size_t)nn + 1, sizeof *r->slot);
    if (!r->slot) {
        r->slot = held;
        return rerr(r, PM_OBJSCRIPT_FAILED, "out of memory");
    }
    r->finishing = true;
    for (int i = 0; i < nn; i++)
        pm_xdecref(sp, held[i]);
    free(held);
    pm_gc_unfreeze(sp);
    for (int round = 0; round < 100; round++) {
        pm_list_clear(sp, pm_gc_garbage(sp));
        struct { pm_object_t **v; size_t n, cap; } classes = {0};
        pm_gc_foreach(sp, -1, collect_class, &classes);
        for (size_t i = 0; i < classes.n; i++)
            pm_class_set_finalizers(classes.v[i], false, false);
        free(classes.v);
        if (pm_gc_collect(sp, 2) == 0 && pm_list_size(pm_gc_garbage(sp)) == 0)
            break;
    }
    if (pm_objspace_check(sp, msg))
        return rerr(r, PM_OBJSCRIPT_FAILED, "consistency after the script: %s", msg);
    struct pm_objspace_stats os;
    pm_objspace_stats(sp, &os);
    if (os.objects_alive)
        return rerr(r, PM_OBJSCRIPT_FAILED, "%llu object(s) still alive after dropping every "
                                           "name and collecting (a leak)",
                    (unsigned long long)os.objects_alive);
    if (r->hook_err[0])
        return rerr(r, PM_OBJSCRIPT_FAILED, "%s", r->hook_err);
    return 0;
}

void pm_objscript_end(struct pm_objscript_run *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->sc->nnames; i++)
        pm_xdecref(r->sp, r->slot[i]);
    pm_objspace_set_hooks(r->sp, NULL);
    free(r->slot);
    free(r->modes);
    free(r);
}
