/* tests/test_objects.c — the object layer (objects/): request sizes against
 * CPython 3.11's (figures from sys.getsizeof and tracemalloc on Debian's
 * 3.11), list and dict growth, free lists and their switches, interning,
 * the trashcan (1M-deep structures), refcount invariants, determinism of the
 * request stream across backends, and the MemoryError path (requests and OS
 * mappings failing from some point, then lifted).
 *
 * Runs on `system`, every own backend in the registry and two test-local
 * backends (pm_objtest.h). Every test ends with the space's consistency
 * check and a destroy that must find no leaked block.
 */
#include "pm_objtest.h"

static const char *spec;
static struct pmo_env E;
#define SP (E.sp)

static int setup(void **state)
{
    (void)state;
    pmo_env_open(&E, spec, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pmo_env_close(&E);
    return 0;
}

/* ---- a space behind the recording wrapper ---- */

struct recenv {
    const struct allocator_ops *in;
    pm_heap_t *ih;
    struct pmo_rec *rec;
    pm_objspace_t *sp;
};

static void recenv_open(struct recenv *r, const char *s, const struct pm_objspace_config *cfg)
{
    struct pmo_env e = {0};
    if (!strcmp(s, "test-pad")) {
        e.ops = &pmo_pad_ops;
        e.heap = pmo_pad_create(NULL, NULL);
    } else if (!strcmp(s, "test-osbump")) {
        struct pm_config c = {0};
        char err[PM_ERR_LEN];
        e.ops = &pmo_osbump_ops;
        e.heap = pmo_osbump_create(&c, err);
    } else {
        e.heap = pmt_create(s, &e.ops);
    }
    r->in = e.ops;
    r->ih = e.heap;
    r->rec = pmo_rec_new(e.ops, e.heap);
    char err[PM_ERR_LEN];
    r->sp = pm_objspace_create(&pmo_rec_ops, (pm_heap_t *)r->rec, cfg, err);
    if (!r->sp)
        fail_msg("%s: %s", s, err);
}

static void recenv_close(struct recenv *r)
{
    pmo_check(r->sp);
    uint64_t left = pm_objspace_destroy(r->sp);
    if (left)
        fail_msg("%s: %llu block(s) leaked", r->in->name, (unsigned long long)left);
    pmt_check_clean(r->in, r->ih);
    r->in->destroy(r->ih);
    pmo_rec_delete(r->rec);
}

/* The size of the last request of kind `op` ('M' object, 'c' calloc, ...). */
static uint64_t last_size(struct recenv *r, char op)
{
    for (size_t i = r->rec->n; i-- > 0;)
        if (r->rec->ev[i].op == op)
            return r->rec->ev[i].size;
    return UINT64_MAX;
}

static size_t nevents(struct recenv *r) { return r->rec->n; }

/* ---- sizes ---- */

static void test_request_sizes(void **state)
{
    (void)state;
    struct recenv r;
    recenv_open(&r, spec, NULL);
    pm_objspace_t *sp = r.sp;
    struct { int64_t v; unsigned bits; uint64_t size, getsizeof; } ints[] = {
        {1000000000, 0, 28, 28}, {(int64_t)1 << 30, 0, 32, 32}, {(int64_t)1 << 60, 0, 36, 36},
        {-((int64_t)1 << 40), 0, 32, 32}, {0, 101, 40, 40},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        size_t before = nevents(&r);
        pm_object_t *o = ints[i].bits ? pm_int_new_bits(sp, ints[i].bits, false)
                                      : pm_int_new(sp, ints[i].v);
        assert_int_equal(nevents(&r), before + 1);
        assert_int_equal(last_size(&r, 'M'), ints[i].size);
        assert_int_equal(pm_object_sizeof(o), ints[i].getsizeof);
        pm_decref(sp, o);
    }
    size_t before = nevents(&r);
    pm_object_t *small = pm_int_new(sp, 256), *small2 = pm_int_new(sp, 256);
    assert_ptr_equal(small, small2);                    /* small-int cache */
    assert_int_equal(nevents(&r), before);
    pm_decref(sp, small);
    pm_decref(sp, small2);

    pm_object_t *f = pm_float_new(sp, 1.5);
    assert_int_equal(last_size(&r, 'M'), 24);
    pm_object_t *s = pm_str_new(sp, "hello", 5);
    assert_int_equal(last_size(&r, 'M'), 54);           /* 49 + len */
    assert_int_equal(pm_object_sizeof(s), 54);
    pm_object_t *b = pm_bytes_new(sp, "hello", 5);
    assert_int_equal(last_size(&r, 'M'), 38);           /* 33 + len */
    pm_object_t *items[3] = {f, s, b};
    pm_object_t *t = pm_tuple_new(sp, 3, items);
    assert_int_equal(last_size(&r, 'M'), 64);           /* 16 + 24 + 8n */
    assert_int_equal(pm_object_sizeof(t), 64);
    before = nevents(&r);
    pm_object_t *l = pm_list_new(sp, 3, items);
    assert_int_equal(nevents(&r), before + 2);
    assert_int_equal(r.rec->ev[before].size, 56);       /* 16 + 40 */
    assert_int_equal(r.rec->ev[before + 1].op, 'c');    /* PyMem_Calloc(3, 8) */
    assert_int_equal(r.rec->ev[before + 1].size, 24);
    /* PyList_New(3): exactly 3 slots (the literal [1, 2, 3] goes through
     * list_extend, which rounds to even: 88 there) */
    assert_int_equal(pm_object_sizeof(l), 80);
    before = nevents(&r);
    pm_object_t *d = pm_dict_new(sp);
    assert_int_equal(nevents(&r), before + 1);
    assert_int_equal(last_size(&r, 'M'), 64);
    assert_int_equal(pm_object_sizeof(d), 64);
    pm_dict_set(sp, d, s, f);
    assert_int_equal(last_size(&r, 'M'), 120);          /* unicode keys, 8 slots */
    assert_int_equal(pm_object_sizeof(d), 184);
    pm_object_t *d2 = pm_dict_new(sp);
    pm_dict_set(sp, d2, f, f);
    assert_int_equal(last_size(&r, 'M'), 160);          /* general keys */
    assert_int_equal(pm_object_sizeof(d2), 224);
    pm_dict_set(sp, d, f, f);                           /* convert: 16 slots */
    assert_int_equal(last_size(&r, 'M'), 288);
    assert_int_equal(pm_object_sizeof(d), 352);

    before = nevents(&r);
    pm_object_t *cls = pm_class_new(sp, "A", 0, NULL);
    assert_int_equal(r.rec->ev[before].size, 960);      /* 16 + 904 + 40 */
    assert_int_equal(last_size(&r, 'M'), 768);          /* the shared keys */
    before = nevents(&r);
    pm_object_t *a = pm_instance_new(sp, cls);
    assert_int_equal(nevents(&r), before + 2);
    assert_int_equal(r.rec->ev[before].size, 56);       /* 16 pre + 16 gc + 24 */
    assert_int_equal(r.rec->ev[before + 1].size, 264);  /* values: 32 + 8 * 29 */
    assert_int_equal(pm_object_sizeof(a), 56);
    pm_object_t *w = pm_weakref_new(sp, a, NULL);
    assert_int_equal(last_size(&r, 'M'), 80);
    const char *slots[] = {"x", "y"};
    before = nevents(&r);
    pm_object_t *scls = pm_class_new(sp, "S", 2, slots);
    assert_int_equal(r.rec->ev[before].size, 1040);     /* 16 + 904 + 40 * 3 */
    pm_object_t *si = pm_instance_new(sp, scls);
    assert_int_equal(last_size(&r, 'M'), 48);           /* 16 gc + 16 + 2 slots */
    assert_int_equal(pm_object_sizeof(si), 48);
    const char *wslots[] = {"x", "__weakref__"};
    pm_object_t *wcls = pm_class_new(sp, "W", 2, wslots);
    pm_object_t *wi = pm_instance_new(sp, wcls);
    assert_int_equal(last_size(&r, 'M'), 48);           /* 16 gc + 16 + slot + weaklist */

    pm_object_t *all[] = {f, s, b, t, l, d, d2, a, w, si, wi, cls, scls, wcls};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        pm_decref(sp, all[i]);
    pm_gc_collect(sp, 2);
    recenv_close(&r);
}

/* Instances take one usable entry of the shared keys each (3.11's
 * init_inline_values): values arrays shrink from 29 slots down to 1. */
static void test_instance_values_sizes(void **state)
{
    (void)state;
    struct recenv r;
    recenv_open(&r, spec, NULL);
    pm_objspace_t *sp = r.sp;
    pm_object_t *cls = pm_class_new(sp, "A", 0, NULL);
    pm_object_t *keep = pm_list_new(sp, 0, NULL);
    for (int i = 0; i < 40; i++) {
        pm_object_t *a = pm_instance_new(sp, cls);
        size_t cap = i < 28 ? (size_t)(29 - i) : 1;
        assert_int_equal(last_size(&r, 'm'), pm_round_up(cap + 2, 8) + 8 * cap);
        pm_list_append(sp, keep, a);
        pm_decref(sp, a);
    }
    /* the last instance has room for one attribute; a second materialises
     * a dict (64) with combined unicode keys (120) */
    pm_object_t *a = pm_list_get(keep, 39);
    pm_object_t *one = pm_int_new(sp, 1);
    size_t before = nevents(&r);
    assert_int_equal(pm_setattr(sp, a, "x", one), 0);
    assert_int_equal(nevents(&r), before);
    assert_false(pm_instance_has_dict(a));
    assert_int_equal(pm_setattr(sp, a, "y", one), 0);
    assert_true(pm_instance_has_dict(a));
    assert_ptr_equal(pm_getattr(sp, a, "x"), one);
    assert_ptr_equal(pm_getattr(sp, a, "y"), one);
    assert_int_equal(pm_delattr(sp, a, "x"), 0);
    assert_null(pm_getattr(sp, a, "x"));
    assert_int_equal(pm_objspace_error(sp, NULL), PM_ERR_ATTR);
    /* an earlier instance stores a name the shared keys hold in its values;
     * a name they cannot hold any more ("y": the keys are full) needs a dict */
    pm_object_t *b = pm_list_get(keep, 0);
    assert_int_equal(pm_setattr(sp, b, "x", one), 0);
    assert_false(pm_instance_has_dict(b));
    assert_int_equal(pm_setattr(sp, b, "y", one), 0);
    assert_true(pm_instance_has_dict(b));
    pm_decref(sp, one);
    pm_decref(sp, keep);
    pm_decref(sp, cls);
    pm_gc_collect(sp, 2);
    recenv_close(&r);
}

/* Values observed on CPython 3.11: allocated slots after each growth. */
static void test_list_growth(void **state)
{
    (void)state;
    static const size_t grow[] = {4, 8, 16, 24, 32, 40, 52, 64, 76, 92, 108};
    pm_object_t *l = pm_list_new(SP, 0, NULL);
    pm_object_t *x = pm_none(SP);
    size_t k = 0;
    for (int i = 0; i < 100; i++) {
        size_t before = pm_list_allocated(l);
        assert_int_equal(pm_list_append(SP, l, x), 0);
        if (pm_list_allocated(l) != before)
            assert_int_equal(pm_list_allocated(l), grow[k++]);
    }
    assert_int_equal(k, sizeof grow / sizeof *grow);
    pm_decref(SP, l);
    static const size_t shrink[] = {60, 36, 24, 16, 12, 8, 4, 0};
    pm_object_t *items[100];
    for (int i = 0; i < 100; i++)
        items[i] = x;
    l = pm_list_new(SP, 100, items);
    assert_int_equal(pm_list_allocated(l), 100);
    k = 0;
    for (int i = 0; i < 100; i++) {
        size_t before = pm_list_allocated(l);
        assert_int_equal(pm_list_delete(SP, l, -1), 0);
        if (pm_list_allocated(l) != before)
            assert_int_equal(pm_list_allocated(l), shrink[k++]);
    }
    assert_int_equal(k, sizeof shrink / sizeof *shrink);
    assert_int_equal(pm_list_insert(SP, l, 0, x), 0);
    assert_int_equal(pm_list_allocated(l), 4);
    pm_object_t *one = pm_int_new(SP, 1);
    assert_int_equal(pm_list_insert(SP, l, -100, one), 0);
    assert_ptr_equal(pm_list_get(l, 0), one);
    assert_int_equal(pm_list_set(SP, l, 5, one), -1);
    assert_int_equal(pm_objspace_error(SP, NULL), PM_ERR_INDEX);
    pm_decref(SP, one);
    pm_decref(SP, l);
}

/* sys.getsizeof(d) on 3.11 after n insertions: str keys, then int keys. */
static void test_dict_growth(void **state)
{
    (void)state;
    static const struct { int n; size_t str_size, int_size; } at[] = {
        {1, 184, 224}, {6, 272, 352}, {11, 464, 632}, {22, 832, 1168},
        {43, 1584, 2264}, {86, 3328, 4688}, {171, 6576, 9304},
    };
    for (int pass = 0; pass < 2; pass++) {
        pm_object_t *d = pm_dict_new(SP);
        size_t k = 0, last = pm_object_sizeof(d);
        for (int i = 0; i < 200; i++) {
            char name[16];
            snprintf(name, sizeof name, "k%d", i);
            pm_object_t *key = pass == 0 ? pm_str_new(SP, name, strlen(name))
                                         : pm_int_new(SP, 1000 + i);
            pm_object_t *v = pm_int_new(SP, i);
            assert_int_equal(pm_dict_set(SP, d, key, v), 0);
            pm_decref(SP, key);
            pm_decref(SP, v);
            size_t now = pm_object_sizeof(d);
            if (now != last) {
                assert_int_equal(i + 1, at[k].n);
                assert_int_equal(now, pass == 0 ? at[k].str_size : at[k].int_size);
                k++;
                last = now;
            }
        }
        assert_int_equal(k, 7);
        assert_int_equal(pm_dict_size(d), 200);
        /* lookups by value */
        pm_object_t *key = pass == 0 ? pm_str_new(SP, "k123", 4) : pm_int_new(SP, 1123);
        pm_object_t *v = pm_dict_get(SP, d, key);
        assert_non_null(v);
        int64_t iv;
        assert_true(pm_int_as_int64(v, &iv));
        assert_int_equal(iv, 123);
        assert_int_equal(pm_dict_delete(SP, d, key), 0);
        assert_null(pm_dict_get(SP, d, key));
        assert_int_equal(pm_dict_delete(SP, d, key), -1);
        assert_int_equal(pm_objspace_error(SP, NULL), PM_ERR_KEY);
        pm_decref(SP, key);
        pm_decref(SP, d);
    }
    /* deleting every entry, then inserting: a fresh 8-slot table (184) */
    pm_object_t *d = pm_dict_new(SP);
    pm_object_t *keys[5];
    for (int i = 0; i < 5; i++) {
        char name[4] = {'k', (char)('0' + i), 0};
        keys[i] = pm_str_new(SP, name, 2);
        pm_dict_set(SP, d, keys[i], keys[i]);
    }
    for (int i = 0; i < 5; i++)
        pm_dict_delete(SP, d, keys[i]);
    assert_int_equal(pm_object_sizeof(d), 184);
    pm_dict_set(SP, d, keys[0], keys[0]);
    assert_int_equal(pm_object_sizeof(d), 184);
    for (int i = 0; i < 5; i++)
        pm_decref(SP, keys[i]);
    /* numbers: 1, 1.0 and True are one key; lists are unhashable */
    pm_object_t *one = pm_int_new(SP, 1), *onef = pm_float_new(SP, 1.0);
    pm_dict_set(SP, d, one, one);
    assert_ptr_equal(pm_dict_get(SP, d, onef), one);
    assert_ptr_equal(pm_dict_get(SP, d, pm_bool(SP, true)), one);
    pm_object_t *l = pm_list_new(SP, 0, NULL);
    assert_int_equal(pm_dict_set(SP, d, l, one), -1);
    assert_int_equal(pm_objspace_error(SP, NULL), PM_ERR_TYPE);
    pm_decref(SP, l);
    pm_decref(SP, one);
    pm_decref(SP, onef);
    pm_decref(SP, d);
}

/* ---- interning ---- */

/* t = (t, t), 60 times over: a key of 2^60 items that CPython 3.11 would
 * hash for ever is refused at once (pm_object.h, key_items_max); a flat key
 * of 100000 ints and a shared key inside the budget still work, and the
 * budget counts items as the recursion visits them. */
static void test_key_expansion_budget(void **state)
{
    (void)state;
    struct pmo_env e;
    struct pm_objspace_config cfg = {.key_items_max = 1000};
    pmo_env_open(&e, spec, &cfg);
    pm_objspace_t *sp = e.sp;
    pm_object_t *d = pm_dict_new(sp), *one = pm_int_new(sp, 1);
    pm_object_t *t = pm_tuple_new(sp, 0, NULL);
    for (int k = 0; k < 60; k++) {
        pm_object_t *items[2] = {t, t};
        pm_object_t *u = pm_tuple_new(sp, 2, items);
        pm_decref(sp, t);
        t = u;
        if (k == 7) {                       /* 2^9 - 1 = 511 items: inside */
            assert_int_equal(pm_dict_set(sp, d, t, one), 0);
            assert_ptr_equal(pm_dict_get(sp, d, t), one);
        }
        if (k == 8) {                       /* 1023 items: one tuple too many */
            assert_int_equal(pm_dict_set(sp, d, t, one), -1);
            const char *msg;
            assert_int_equal(pm_objspace_error(sp, &msg), PM_ERR_VALUE);
            assert_string_equal(msg, "key too large: its nested tuples expand to more than 1000 items");
        }
    }
    assert_int_equal(pm_dict_set(sp, d, t, one), -1);     /* 2^61 - 1 items, refused at once */
    assert_int_equal(pm_objspace_error(sp, NULL), PM_ERR_VALUE);
    assert_int_equal(pm_dict_size(d), 1);
    pm_decref(sp, t);
    pm_decref(sp, d);
    pm_decref(sp, one);
    pmo_env_close(&e);

    pmo_env_open(&e, spec, NULL);                         /* the default budget */
    sp = e.sp;
    d = pm_dict_new(sp);
    pm_object_t **ints = calloc(100000, sizeof *ints);
    assert_non_null(ints);
    for (int i = 0; i < 100000; i++)
        ints[i] = pm_int_new(sp, i);
    t = pm_tuple_new(sp, 100000, ints);
    for (int i = 0; i < 100000; i++)
        pm_decref(sp, ints[i]);
    free(ints);
    assert_int_equal(pm_dict_set(sp, d, t, t), 0);
    assert_ptr_equal(pm_dict_get(sp, d, t), t);
    pm_decref(sp, t);
    pm_decref(sp, d);
    pmo_env_close(&e);
}

static void test_interning(void **state)
{
    (void)state;
    pm_object_t *a = pm_str_new_interned(SP, "spam_eggs", 9);
    pm_object_t *b = pm_str_new_interned(SP, "spam_eggs", 9);
    pm_object_t *c = pm_str_new(SP, "spam_eggs", 9);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    assert_true(pm_str_is_interned(a));
    assert_false(pm_str_is_interned(c));
    assert_int_equal(a->refcnt, 2);                     /* the table's refs are not counted */
    size_t n = pm_intern_count(SP);
    pm_decref(SP, a);
    pm_decref(SP, b);                                   /* mortal: leaves the table */
    assert_int_equal(pm_intern_count(SP), n - 1);
    pm_decref(SP, c);
    pm_object_t *x = pm_str_new_interned(SP, "x", 1);   /* 1-char strs: static singletons */
    assert_ptr_equal(x, pm_str_new(SP, "x", 1));
    pm_decref(SP, x);
    pm_decref(SP, x);
    assert_null(pm_str_new(SP, "caf\xc3\xa9", 5));      /* ASCII only */
    assert_int_equal(pm_objspace_error(SP, NULL), PM_ERR_VALUE);
}

static void test_interning_off(void **state)
{
    (void)state;
    struct pmo_env e;
    struct pm_objspace_config cfg = {.flags = PM_OBJ_NO_INTERN};
    pmo_env_open(&e, spec, &cfg);
    pm_object_t *a = pm_str_new_interned(e.sp, "spam_eggs", 9);
    pm_object_t *b = pm_str_new_interned(e.sp, "spam_eggs", 9);
    assert_ptr_not_equal(a, b);
    assert_int_equal(pm_intern_count(e.sp), 0);
    pm_decref(e.sp, a);
    pm_decref(e.sp, b);
    pmo_env_close(&e);
}

/* ---- free lists ---- */

static uint64_t requests(pm_objspace_t *sp)
{
    struct pm_objspace_stats st;
    pm_objspace_stats(sp, &st);
    return st.requests;
}

struct fl_case { const char *name; unsigned flag; int keep; };

static pm_object_t *fl_make(pm_objspace_t *sp, int which, int i)
{
    switch (which) {
    case 0: return pm_float_new(sp, i + 0.5);
    case 1: { pm_object_t *it[3] = {pm_none(sp), pm_none(sp), pm_none(sp)};
              return pm_tuple_new(sp, 3, it); }
    case 2: return pm_list_new(sp, 0, NULL);
    default: return pm_dict_new(sp);
    }
}

static void test_free_lists(void **state)
{
    (void)state;
    static const struct fl_case cases[] = {
        {"float", PM_OBJ_NO_FREELIST_FLOAT, 100}, {"tuple", PM_OBJ_NO_FREELIST_TUPLE, 2000},
        {"list", PM_OBJ_NO_FREELIST_LIST, 80}, {"dict", PM_OBJ_NO_FREELIST_DICT, 80},
    };
    for (int which = 0; which < 4; which++) {
        for (int off = 0; off < 2; off++) {
            struct pmo_env e;
            struct pm_objspace_config cfg = {.flags = off ? cases[which].flag : 0};
            pmo_env_open(&e, spec, &cfg);
            int n = cases[which].keep + 50;
            pm_object_t **objs = calloc((size_t)n, sizeof *objs);
            pm_gc_disable(e.sp);
            for (int i = 0; i < n; i++)
                objs[i] = fl_make(e.sp, which, i);
            uint64_t r0 = requests(e.sp);
            for (int i = 0; i < n; i++)
                pm_decref(e.sp, objs[i]);
            uint64_t frees = requests(e.sp) - r0;
            /* kept: cases[which].keep objects; the rest go to the backend */
            assert_int_equal(frees, off ? (uint64_t)n : 50u);
            r0 = requests(e.sp);
            for (int i = 0; i < cases[which].keep; i++)
                objs[i] = fl_make(e.sp, which, i);
            assert_int_equal(requests(e.sp) - r0, off ? (uint64_t)cases[which].keep : 0u);
            for (int i = 0; i < cases[which].keep; i++)
                pm_decref(e.sp, objs[i]);
            /* a full collection empties the free lists */
            r0 = requests(e.sp);
            pm_gc_enable(e.sp);
            pm_gc_collect(e.sp, 2);
            assert_int_equal(requests(e.sp) - r0, off ? 0u : (uint64_t)cases[which].keep);
            free(objs);
            pmo_env_close(&e);
        }
    }
}

/* Tuples: lengths 1..20 have free lists, 21 does not; empty is a singleton. */
static void test_tuple_free_list_lengths(void **state)
{
    (void)state;
    pm_object_t *items[21];
    for (int i = 0; i < 21; i++)
        items[i] = pm_none(SP);
    assert_ptr_equal(pm_tuple_new(SP, 0, NULL), pm_tuple_new(SP, 0, NULL));
    pm_object_t *e = pm_tuple_new(SP, 0, NULL);
    pm_decref(SP, e);
    pm_decref(SP, e);
    pm_decref(SP, e);
    for (int len = 1; len <= 21; len++) {
        pm_object_t *t = pm_tuple_new(SP, (size_t)len, items);
        uint64_t r0 = requests(SP);
        pm_decref(SP, t);
        assert_int_equal(requests(SP) - r0, len <= 20 ? 0u : 1u);
    }
    pm_gc_collect(SP, 2);
}

/* ---- the trashcan ---- */

static void test_deep_list_dealloc(void **state)
{
    (void)state;
    enum { DEPTH = 1000000 };
    pm_object_t *cur = pm_list_new(SP, 0, NULL);
    for (int i = 1; i < DEPTH; i++) {
        pm_object_t *next = pm_list_new(SP, 1, &cur);
        pm_decref(SP, cur);
        cur = next;
    }
    struct pm_objspace_stats st;
    pm_objspace_stats(SP, &st);
    assert_true(st.objects_alive >= DEPTH);
    pm_decref(SP, cur);                         /* 1M nested deallocations */
    pm_objspace_stats(SP, &st);
    assert_true(st.objects_alive < 10);
}

static void test_deep_tuple_and_dict_dealloc(void **state)
{
    (void)state;
    enum { DEPTH = 300000 };
    pm_object_t *cur = pm_tuple_new(SP, 0, NULL);
    for (int i = 1; i < DEPTH; i++) {
        pm_object_t *next = pm_tuple_new(SP, 1, &cur);
        pm_decref(SP, cur);
        cur = next;
    }
    pm_decref(SP, cur);
    pm_object_t *key = pm_str_new_interned(SP, "next", 4);
    cur = pm_dict_new(SP);
    for (int i = 1; i < DEPTH; i++) {
        pm_object_t *next = pm_dict_new(SP);
        pm_dict_set(SP, next, key, cur);
        pm_decref(SP, cur);
        cur = next;
    }
    pm_decref(SP, cur);
    pm_decref(SP, key);
    struct pm_objspace_stats st;
    pm_objspace_stats(SP, &st);
    assert_true(st.objects_alive < 10);
}

/* ---- invariants ---- */

static void count_external(void *ctx, pm_object_t *o, int64_t external)
{
    int64_t *sum = ctx;
    (void)o;
    sum[0] += external;
    sum[1]++;
}

static void test_refcount_invariants_and_check(void **state)
{
    (void)state;
    pm_gc_collect(SP, 2);
    int64_t base[2] = {0, 0};
    char msg[PM_ERR_LEN];
    assert_int_equal(pm_gc_external_refs(SP, count_external, base, msg), 0);
    /* a -> b -> c -> a, and we hold a only */
    pm_object_t *a = pm_list_new(SP, 0, NULL), *b = pm_list_new(SP, 0, NULL);
    pm_object_t *c = pm_dict_new(SP);
    pm_list_append(SP, a, b);
    pm_list_append(SP, b, c);
    pm_object_t *k = pm_int_new(SP, 7);
    pm_dict_set(SP, c, k, a);
    pm_decref(SP, k);
    pm_decref(SP, b);
    pm_decref(SP, c);
    int64_t now[2] = {0, 0};
    assert_int_equal(pm_gc_external_refs(SP, count_external, now, msg), 0);
    assert_int_equal(now[1] - base[1], 3);
    assert_int_equal(now[0] - base[0], 1);              /* our one reference */
    /* a refcount one too small is a violation the check reports */
    b = pm_list_get(a, 0);
    pm_list_append(SP, a, b);                           /* b: 2 references, both from a */
    b->refcnt--;
    assert_int_equal(pm_objspace_check(SP, msg), 1);
    assert_non_null(strstr(msg, "more references"));
    b->refcnt++;
    pmo_check(SP);
    pm_decref(SP, a);
    assert_int_equal(pm_gc_collect(SP, 2), 3);
}

static void test_two_spaces_side_by_side(void **state)
{
    (void)state;
    struct pmo_env other;
    pmo_env_open(&other, "test-osbump", NULL);
    pm_object_t *l1 = pm_list_new(SP, 0, NULL), *l2 = pm_list_new(other.sp, 0, NULL);
    pm_list_append(SP, l1, l1);
    pm_list_append(other.sp, l2, l2);
    pm_decref(SP, l1);
    assert_int_equal(pm_gc_collect(SP, 2), 1);
    assert_true(pm_gc_contains(other.sp, 0, l2));
    pm_decref(other.sp, l2);
    assert_int_equal(pm_gc_collect(other.sp, 2), 1);
    pmo_env_close(&other);
}

/* ---- a seeded workload over every type ---- */

#define WL_SLOTS 48
struct wl {
    pm_objspace_t *sp;
    pm_object_t *slot[WL_SLOTS];
    pm_object_t *cls[3];            /* plain, finalizer, slots */
    pm_object_t *resurrect;         /* list finalizers append to, every 3rd call */
    uint64_t rng;
    int finalized, callbacks;
    int nomem;                      /* calls that failed with MemoryError */
    bool expect_ok;
};

static void wl_finalize(pm_objspace_t *sp, void *ctx, pm_object_t *self)
{
    struct wl *w = ctx;
    if (++w->finalized % 3 == 0 && w->resurrect)
        pm_list_append(sp, w->resurrect, self);
}

static void wl_callback(pm_objspace_t *sp, void *ctx, pm_object_t *cb, pm_object_t *wr)
{
    (void)cb;
    struct wl *w = ctx;
    w->callbacks++;
    assert_ptr_equal(pm_weakref_get(sp, wr), pm_none(sp));
}

static void wl_failed(struct wl *w)
{
    const char *msg;
    enum pm_err_kind k = pm_objspace_error(w->sp, &msg);
    if (k == PM_ERR_NOMEM) {
        w->nomem++;
        if (w->expect_ok)
            fail_msg("unexpected MemoryError: %s", msg);
    }
    pm_objspace_clear_error(w->sp);
}

static pm_object_t *wl_new(struct wl *w, unsigned kind, uint64_t r)
{
    pm_objspace_t *sp = w->sp;
    char buf[32];
    switch (kind) {
    case 0: return pm_int_new(sp, (int64_t)(r % 100000) - 50);
    case 1: return pm_int_new_bits(sp, 60 + (unsigned)(r % 200), false);
    case 2: return pm_float_new(sp, (double)(r % 1000) / 7.0);
    case 3: snprintf(buf, sizeof buf, "s%llu", (unsigned long long)(r % 500));
            return (r & 1) ? pm_str_new_interned(sp, buf, strlen(buf))
                           : pm_str_new(sp, buf, strlen(buf));
    case 4: return pm_bytes_new(sp, NULL, (size_t)(r % 40));
    case 5: { pm_object_t *it[4];
              size_t n = r % 5;
              for (size_t i = 0; i < n; i++) {
                  it[i] = w->slot[(r >> (8 + 4 * i)) % WL_SLOTS];
                  if (!it[i])
                      it[i] = pm_none(sp);
              }
              return pm_tuple_new(sp, n, it); }
    case 6: return pm_list_new(sp, 0, NULL);
    case 7: return pm_dict_new(sp);
    case 8: case 9: case 10: return pm_instance_new(sp, w->cls[kind - 8]);
    default: {
        pm_object_t *target = w->slot[r % WL_SLOTS];
        if (!target || pm_object_kind(target) != PM_KIND_INSTANCE)
            return pm_float_new(sp, 0.25);
        pm_object_t *cb = (r >> 20) & 1 ? w->slot[(r >> 24) % WL_SLOTS] : NULL;
        return pm_weakref_new(sp, target, cb);
    }
    }
}

static void wl_step(struct wl *w)
{
    pm_objspace_t *sp = w->sp;
    uint64_t r = pmt_rand(&w->rng);
    unsigned op = (unsigned)(r % 16);
    size_t i = (r >> 8) % WL_SLOTS, j = (r >> 16) % WL_SLOTS;
    pm_object_t *o = w->slot[i], *x = w->slot[j] ? w->slot[j] : pm_none(sp);
    static const char *names[] = {"a", "b", "c", "x", "y"};
    const char *name = names[(r >> 28) % 5];
    int rc = 0;
    if (op < 6 || !o) {
        pm_object_t *n = wl_new(w, (unsigned)((r >> 32) % 12), r >> 36);
        if (!n) {
            wl_failed(w);
            return;
        }
        w->slot[i] = n;
        pm_xdecref(sp, o);
        return;
    }
    switch (pm_object_kind(o)) {
    case PM_KIND_LIST:
        if (op < 10)
            rc = pm_list_append(sp, o, x);
        else if (op < 12)
            rc = pm_list_insert(sp, o, (int64_t)(r >> 40) % 7 - 3, x);
        else if (pm_list_size(o))
            rc = op < 14 ? pm_list_delete(sp, o, (int64_t)((r >> 40) % pm_list_size(o)))
                         : pm_list_set(sp, o, 0, x);
        break;
    case PM_KIND_DICT: {
        pm_object_t *key = (r >> 40) & 1 ? pm_str_new_interned(sp, name, strlen(name))
                                         : pm_int_new(sp, (int64_t)((r >> 41) % 1000));
        if (!key) {
            rc = -1;
            break;
        }
        if (op < 12)
            rc = pm_dict_set(sp, o, key, x);
        else if (pm_dict_get(sp, o, key))
            rc = pm_dict_delete(sp, o, key);
        pm_decref(sp, key);
        break;
    }
    case PM_KIND_INSTANCE:
        if (op < 12)
            rc = pm_setattr(sp, o, name, x);
        else if (pm_getattr(sp, o, name))
            rc = pm_delattr(sp, o, name);
        else
            pm_objspace_clear_error(sp);
        break;
    default:
        if (op == 15 && (r >> 40) % 8 == 0) {
            pm_gc_collect(sp, (int)((r >> 44) % 3));
        } else {
            w->slot[i] = NULL;
            pm_decref(sp, o);
        }
        break;
    }
    if (rc < 0)
        wl_failed(w);
}

static void wl_begin(struct wl *w, pm_objspace_t *sp, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    w->sp = sp;
    w->rng = seed * 0x9E3779B97F4A7C15u + 1;
    struct pm_objspace_hooks hooks = {.ctx = w, .finalize = wl_finalize,
                                      .weakref_callback = wl_callback};
    pm_objspace_set_hooks(sp, &hooks);
    pm_gc_set_threshold(sp, 50, 5, 5);                  /* many automatic collections */
    w->cls[0] = pm_class_new(sp, "Plain", 0, NULL);
    w->cls[1] = pm_class_new(sp, "Fin", 0, NULL);
    const char *slots[] = {"a", "b", "__weakref__"};
    w->cls[2] = pm_class_new(sp, "Slotted", 3, slots);
    w->resurrect = pm_list_new(sp, 0, NULL);
    assert_non_null(w->cls[0]);
    assert_non_null(w->cls[1]);
    assert_non_null(w->cls[2]);
    assert_non_null(w->resurrect);
    pm_class_set_finalizers(w->cls[1], true, false);
}

static void wl_end(struct wl *w)
{
    pm_objspace_t *sp = w->sp;
    for (size_t i = 0; i < WL_SLOTS; i++) {
        pm_xdecref(sp, w->slot[i]);
        w->slot[i] = NULL;
    }
    pm_object_t *res = w->resurrect;
    w->resurrect = NULL;
    pm_decref(sp, res);
    for (int i = 0; i < 3; i++)
        pm_decref(sp, w->cls[i]);
    while (pm_gc_collect(sp, 2) > 0)
        ;
    pm_objspace_set_hooks(sp, NULL);
    struct pm_objspace_stats st;
    pm_objspace_stats(sp, &st);
    if (st.objects_alive != 0)
        fail_msg("%llu objects alive after the workload", (unsigned long long)st.objects_alive);
}

static void test_workload_invariants(void **state)
{
    (void)state;
    struct wl w;
    wl_begin(&w, SP, 7);
    w.expect_ok = true;
    for (int k = 0; k < 20000; k++) {
        wl_step(&w);
        if (k % 1000 == 999)
            pmo_check(SP);
    }
    assert_true(w.finalized > 0);
    assert_true(w.callbacks > 0);
    struct pm_gc_gen_stats st[3];
    pm_gc_get_stats(SP, st);
    assert_true(st[0].collections > 10);
    assert_true(st[2].collected > 0);
    wl_end(&w);
}

/* ---- determinism: the request stream depends on the workload only ---- */

static struct pmo_rec *record_workload_gc(const char *s, uint64_t seed, int steps,
                                          struct recenv *keep, const char *gc, bool held)
{
    struct pm_objspace_config cfg = {.gc = gc};
    recenv_open(keep, s, &cfg);
    struct wl w;
    wl_begin(&w, keep->sp, seed);
    w.expect_ok = true;
    for (int k = 0; k < steps; k++) {
        wl_step(&w);
        if (held && k % 500 == 0) {     /* the measurement pass must not change the stream */
            struct pm_gc_garbage_held h;
            assert_int_equal(pm_gc_garbage_held(keep->sp, &h), 0);
        }
    }
    wl_end(&w);
    return keep->rec;
}

static struct pmo_rec *record_workload(const char *s, uint64_t seed, int steps,
                                       struct recenv *keep)
{
    return record_workload_gc(s, seed, steps, keep, NULL, false);
}

static bool same_stream(const struct pmo_rec *a, const struct pmo_rec *b, char *why, size_t len)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        const struct pmo_event *x = &a->ev[i], *y = &b->ev[i];
        if (x->op != y->op || x->dom != y->dom || x->id != y->id || x->size != y->size) {
            snprintf(why, len, "event %zu: %c%u #%llu %llu vs %c%u #%llu %llu", i, x->op, x->dom,
                     (unsigned long long)x->id, (unsigned long long)x->size, y->op, y->dom,
                     (unsigned long long)y->id, (unsigned long long)y->size);
            return false;
        }
    }
    if (a->n != b->n) {
        snprintf(why, len, "%zu events vs %zu", a->n, b->n);
        return false;
    }
    return true;
}

/* Issue 20: for each collector, the same workload makes the same request
 * stream on this backend as on `system`, with or without garbage-held
 * passes; and the incremental collectors' streams differ from gen311's
 * (gen313 differs from gen311 only in its default threshold0, which the
 * workload sets itself: the same stream). */
static void test_determinism_per_collector(void **state)
{
    (void)state;
    enum { STEPS = 6000 };
    struct recenv base;
    struct pmo_rec *g311 = record_workload_gc("system", 11, STEPS, &base, "gen311", false);
    for (const char *const *c = pm_gc_collector_names(); *c; c++) {
        struct recenv ref, other;
        struct pmo_rec *a = record_workload_gc("system", 11, STEPS, &ref, *c, false);
        struct pmo_rec *b = record_workload_gc(spec, 11, STEPS, &other, *c, true);
        char why[200];
        bool same = same_stream(a, b, why, sizeof why);
        bool incremental = !strcmp(*c, "inc314") || !strcmp(*c, "pep848");
        bool differs = incremental ? !same_stream(a, g311, why, sizeof why) : true;
        recenv_close(&other);
        recenv_close(&ref);
        if (!same)
            fail_msg("%s: system vs %s (garbage-held passes): %s", *c, spec, why);
        if (!differs)
            fail_msg("%s makes the same stream as gen311", *c);
    }
    recenv_close(&base);
}

static void test_determinism_across_backends(void **state)
{
    (void)state;
    enum { STEPS = 6000 };
    struct recenv ref, other;
    struct pmo_rec *a = record_workload("system", 11, STEPS, &ref);
    struct pmo_rec *b = record_workload(spec, 11, STEPS, &other);
    char why[200];
    bool same = same_stream(a, b, why, sizeof why);
    size_t n = a->n;
    recenv_close(&other);
    if (!same) {
        recenv_close(&ref);
        fail_msg("system vs %s: %s", spec, why);
    }
    if (n < 4000)
        fail_msg("only %zu requests recorded", n);
    /* a different seed gives a different stream */
    b = record_workload(spec, 12, STEPS, &other);
    assert_false(same_stream(a, b, why, sizeof why));
    recenv_close(&other);
    recenv_close(&ref);
}

/* ---- the MemoryError path ---- */

/* Every request from number k on fails (and, in a second pass, only
 * request k): every call fails cleanly, the lists stay whole, and after
 * the fault is lifted the space works and frees everything. */
static void test_oom_every_request(void **state)
{
    (void)state;
    enum { STEPS = 400 };
    /* how many requests does the workload make? */
    struct recenv probe;
    record_workload(spec, 5, STEPS, &probe);
    size_t total = probe.rec->n;
    recenv_close(&probe);
    size_t stride = total / 300 + 1;
    for (int mode = 0; mode < 2; mode++) {
        for (size_t k = 1; k < total; k += stride) {
            struct pmo_env e;
            pmo_env_open(&e, spec, NULL);
            struct pmo_fail f = {.in = e.ops, .ih = e.heap};
            char err[PM_ERR_LEN];
            pm_objspace_t *sp = pm_objspace_create(&pmo_fail_ops, (pm_heap_t *)&f, NULL, err);
            assert_non_null(sp);
            struct wl w;
            wl_begin(&w, sp, 5);
            f.fail_from = f.calls + k;
            for (int s = 0; s < STEPS; s++) {
                wl_step(&w);
                if (mode == 1 && f.calls >= f.fail_from)
                    f.fail_from = 0;                    /* fail once */
            }
            pmo_check(sp);
            f.fail_from = 0;                            /* lifted */
            for (int s = 0; s < 50; s++)
                wl_step(&w);
            wl_end(&w);
            pmo_check(sp);
            uint64_t left = pm_objspace_destroy(sp);
            if (left)
                fail_msg("%s: fail at %zu (mode %d): %llu blocks leaked", spec, k, mode,
                         (unsigned long long)left);
            pmo_env_close(&e);
        }
    }
}

/* OS mappings fail from some point: object creation reports MemoryError,
 * the collector's lists stay whole, and it all works again after. */
static void test_oom_os_faults(void **state)
{
    (void)state;
    if (!E.ops->os)
        skip();
    struct pm_os *os = E.ops->os(E.heap);
    pm_object_t *keep = pm_list_new(SP, 0, NULL);
    pm_object_t *cls = pm_class_new(SP, "A", 0, NULL);
    struct pm_os_faults f = {.fail_from = os->map_calls + 1};
    pm_os_set_faults(os, &f);
    int made = 0, failed = 0;
    for (int i = 0; i < 2000000 && failed < 50; i++) {
        pm_object_t *o;
        switch (i % 4) {
        case 0: o = pm_list_new(SP, 0, NULL); break;
        case 1: o = pm_instance_new(SP, cls); break;
        case 2: o = pm_str_new(SP, "some text of some length", 24); break;
        default: o = pm_dict_new(SP); break;
        }
        if (!o) {
            assert_int_equal(pm_objspace_error(SP, NULL), PM_ERR_NOMEM);
            pm_objspace_clear_error(SP);
            failed++;
            continue;
        }
        if (pm_list_append(SP, keep, o) < 0) {
            assert_int_equal(pm_objspace_error(SP, NULL), PM_ERR_NOMEM);
            failed++;
        } else {
            made++;
        }
        pm_decref(SP, o);
    }
    assert_true(failed >= 50);
    assert_true(made > 0);
    pmo_check(SP);
    assert_true(pm_gc_collect(SP, 2) >= 0);
    pmo_check(SP);
    pm_os_set_faults(os, NULL);
    for (int i = 0; i < 1000; i++) {
        pm_object_t *o = pm_list_new(SP, 0, NULL);
        assert_non_null(o);
        assert_int_equal(pm_list_append(SP, keep, o), 0);
        pm_decref(SP, o);
    }
    pm_decref(SP, keep);
    pm_decref(SP, cls);
    pm_gc_collect(SP, 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static int run_one(const char *s, bool quick)
{
    spec = s;
    const struct CMUnitTest tests[] = {
        T(test_request_sizes), T(test_instance_values_sizes), T(test_list_growth),
        T(test_dict_growth), T(test_key_expansion_budget), T(test_interning), T(test_interning_off), T(test_free_lists),
        T(test_tuple_free_list_lengths), T(test_deep_list_dealloc),
        T(test_deep_tuple_and_dict_dealloc), T(test_refcount_invariants_and_check),
        T(test_two_spaces_side_by_side), T(test_workload_invariants),
        T(test_determinism_across_backends), T(test_oom_every_request), T(test_oom_os_faults),
        T(test_determinism_per_collector),
    };
    const struct CMUnitTest quick_tests[] = {
        T(test_determinism_across_backends), T(test_oom_os_faults), T(test_request_sizes),
    };
    char name[128];
    snprintf(name, sizeof name, "objects[%s]", s);
    if (quick)
        return cmocka_run_group_tests_name(name, quick_tests, NULL, NULL);
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}

int main(void)
{
    const char *specs[32];
    size_t n = pmo_specs(specs, 30);
    int failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += run_one(specs[i], false);
    /* the test-local backends: other addresses and usable sizes; OS faults */
    failed += run_one("test-pad", true);
    failed += run_one("test-osbump", false);
    return failed ? 1 : 0;
}
