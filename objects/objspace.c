/* objects/objspace.c — the space: creation and destruction, the static
 * objects, memory requests with exact accounting, errors, deallocation with
 * the trashcan, hashing and equality, and the scalar types (None, bool, int,
 * float).
 *
 * Entry points: pm_objspace_create, pm_objspace_destroy, pm_objspace_stats,
 * pm_object_dealloc, pm_object_hash, pm_object_equal, pm_int_new,
 * pm_int_new_bits, pm_float_new; internal om_* / obj_* / gc_alloc helpers.
 *
 * The space is one backend request: the struct, then a statics area holding
 * what CPython 3.11 keeps in static storage (None, False, True, the small
 * ints -5..256, the empty tuple, the empty and 1-byte bytes, the empty and
 * 1-character ASCII strs, the `object` base class).
 *
 * Trashcan: deallocating an object may deallocate what it holds, and so on.
 * Past TRASH_UNWIND_LEVEL nested GC-object deallocations, the object is put
 * on a list chained through its GC header (it is untracked, so the header
 * is free) and destroyed when the outermost deallocation returns: the C
 * stack depth stays bounded whatever the nesting of the data.
 */
#include "pm_objimpl.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

/* ---- errors ---- */

int om_error(pm_objspace_t *sp, enum pm_err_kind kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sp->err, sizeof sp->err, fmt, ap);
    va_end(ap);
    sp->err_kind = kind;
    return -1;
}

void *om_nomem(pm_objspace_t *sp, size_t n)
{
    om_error(sp, PM_ERR_NOMEM, "MemoryError: backend '%s' refused %zu bytes", sp->ops->name, n);
    return NULL;
}

enum pm_err_kind pm_objspace_error(const pm_objspace_t *sp, const char **msg)
{
    if (msg)
        *msg = sp->err;
    return sp->err_kind;
}

void pm_objspace_clear_error(pm_objspace_t *sp)
{
    sp->err_kind = PM_ERR_NONE;
    sp->err[0] = 0;
}

const struct allocator_ops *pm_objspace_ops(const pm_objspace_t *sp) { return sp->ops; }
pm_heap_t *pm_objspace_heap(const pm_objspace_t *sp) { return sp->heap; }

/* ---- memory ---- */

static inline void account_alloc(pm_objspace_t *sp, size_t n)
{
    sp->live_bytes += n;
    sp->live_blocks++;
    sp->gc.alloc_bytes += n;        /* pep848's trigger: gross bytes requested */
    if (sp->live_bytes > sp->peak_live_bytes)
        sp->peak_live_bytes = sp->live_bytes;
}

static inline void account_free(pm_objspace_t *sp, size_t n)
{
    pm_assert_internal(sp->live_bytes >= n && sp->live_blocks > 0);
    sp->live_bytes -= n;
    sp->live_blocks--;
}

void *om_malloc(pm_objspace_t *sp, size_t n)
{
    sp->requests++;
    void *p = sp->ops->malloc(sp->heap, n);
    if (!p) {
        sp->failed_requests++;
        return om_nomem(sp, n);
    }
    account_alloc(sp, n);
    return p;
}

void *om_calloc(pm_objspace_t *sp, size_t count, size_t n)
{
    sp->requests++;
    if (n && count > SIZE_MAX / n) {
        sp->failed_requests++;
        return om_nomem(sp, SIZE_MAX);
    }
    void *p = sp->ops->calloc(sp->heap, count, n);
    if (!p) {
        sp->failed_requests++;
        return om_nomem(sp, count * n);
    }
    account_alloc(sp, count * n);
    return p;
}

void *om_realloc(pm_objspace_t *sp, void *p, size_t old_n, size_t new_n)
{
    sp->requests++;
    void *q = sp->ops->realloc(sp->heap, p, new_n);
    if (!q) {
        sp->failed_requests++;
        return om_nomem(sp, new_n);
    }
    if (p)
        account_free(sp, old_n);
    account_alloc(sp, new_n);
    return q;
}

void om_free(pm_objspace_t *sp, void *p, size_t n)
{
    if (!p)
        return;
    sp->requests++;
    account_free(sp, n);
    sp->ops->free(sp->heap, p);
}

void *obj_alloc(pm_objspace_t *sp, size_t n)
{
    sp->requests++;
    void *p = sp->ops->malloc_dom && sp->ops->free_dom
                  ? sp->ops->malloc_dom(sp->heap, n, PM_DOMAIN_OBJ)
                  : sp->ops->malloc(sp->heap, n);
    if (!p) {
        sp->failed_requests++;
        return om_nomem(sp, n);
    }
    account_alloc(sp, n);
    return p;
}

void obj_free(pm_objspace_t *sp, void *p, size_t n)
{
    sp->requests++;
    account_free(sp, n);
    if (sp->ops->malloc_dom && sp->ops->free_dom)
        sp->ops->free_dom(sp->heap, p, PM_DOMAIN_OBJ);
    else
        sp->ops->free(sp->heap, p);
}

/* ---- statics ---- */

#define SP_HEADER_BYTES pm_round_up(sizeof(struct pm_objspace), 16)
#define STATIC_INT_BYTES 32u     /* 24 + one digit, rounded */
#define STATIC_BYTES_BYTES 48u   /* 33 + 1 byte, rounded */
#define STATIC_STR_BYTES 64u     /* 48 + 1 char + NUL, rounded */
#define STATICS_BYTES                                                                   \
    (16u + 2u * STATIC_INT_BYTES + (SMALL_INT_MAX - SMALL_INT_MIN + 1) * STATIC_INT_BYTES \
     + 48u + 257u * STATIC_BYTES_BYTES + 129u * STATIC_STR_BYTES                           \
     + pm_round_up(sizeof(struct pm_gc_head) + sizeof(struct pm_class), 16))

void *statics_carve(pm_objspace_t *sp, size_t *off, size_t n)
{
    char *p = (char *)sp + SP_HEADER_BYTES + *off;
    *off += pm_round_up(n, 16);
    pm_assert(*off <= STATICS_BYTES);
    return p;
}

static pm_object_t *static_int(pm_objspace_t *sp, size_t *off, const struct pm_type *tp,
                               int64_t v)
{
    struct pm_int *o = statics_carve(sp, off, STATIC_INT_BYTES);
    obj_init(sp, &o->ob, tp);
    sp->objects_alive--;            /* statics are not counted as alive */
    uint64_t mag = v < 0 ? (uint64_t)-v : (uint64_t)v;
    o->size = v == 0 ? 0 : (v < 0 ? -1 : 1);
    o->digit[0] = (uint32_t)mag;
    return &o->ob;
}

static void statics_init(pm_objspace_t *sp)
{
    size_t off = 0;
    sp->none = statics_carve(sp, &off, sizeof(pm_object_t));
    obj_init(sp, sp->none, &pm_type_none);
    sp->objects_alive--;
    sp->false_ = static_int(sp, &off, &pm_type_bool, 0);
    sp->true_ = static_int(sp, &off, &pm_type_bool, 1);
    for (int v = SMALL_INT_MIN; v <= SMALL_INT_MAX; v++)
        sp->small_ints[v - SMALL_INT_MIN] = static_int(sp, &off, &pm_type_int, v);
    /* the empty tuple: a GC type, never tracked */
    char *t = statics_carve(sp, &off, sizeof(struct pm_gc_head) + sizeof(struct pm_tuple));
    struct pm_tuple *et = (struct pm_tuple *)(t + sizeof(struct pm_gc_head));
    obj_init(sp, &et->ob, &pm_type_tuple);
    sp->objects_alive--;
    et->size = 0;
    sp->empty_tuple = &et->ob;
    for (int i = -1; i < 256; i++) {
        struct pm_bytes *b = statics_carve(sp, &off, STATIC_BYTES_BYTES);
        obj_init(sp, &b->ob, &pm_type_bytes);
        sp->objects_alive--;
        b->size = i < 0 ? 0 : 1;
        b->hash = -1;
        char *d = bytes_data(&b->ob);
        if (i >= 0)
            d[0] = (char)i;
        d[b->size] = 0;
        if (i < 0)
            sp->empty_bytes = &b->ob;
        else
            sp->bytes1[i] = &b->ob;
    }
    str_init_statics(sp, &off);
    class_init_object_base(sp, &off);
    pm_assert(off == STATICS_BYTES);
    /* Py_EMPTY_KEYS: log2 size 3, no usable entries, every index empty */
    sp->empty_keys.refcnt = 1;
    sp->empty_keys.log2_size = 3;
    sp->empty_keys.log2_index_bytes = 3;
    sp->empty_keys.kind = DK_UNICODE;
    sp->empty_keys.usable = 0;
    sp->empty_keys.nentries = 0;
    memset(sp->empty_keys_indices, 0xff, sizeof sp->empty_keys_indices);
}

pm_objspace_t *pm_objspace_create(const struct allocator_ops *ops, pm_heap_t *heap,
                                  const struct pm_objspace_config *cfg, char err[PM_ERR_LEN])
{
    size_t total = SP_HEADER_BYTES + STATICS_BYTES;
    if (cfg && !pm_gc_collector_known(cfg->gc)) {
        snprintf(err, PM_ERR_LEN, "object space: unknown collector '%.64s' (gen311, gen313, "
                 "inc314, pep848)", cfg->gc);
        return NULL;
    }
    pm_objspace_t *sp = ops->malloc(heap, total);
    if (!sp) {
        snprintf(err, PM_ERR_LEN, "object space: backend '%s' refused %zu bytes", ops->name,
                 total);
        return NULL;
    }
    memset(sp, 0, total);
    sp->ops = ops;
    sp->heap = heap;
    if (cfg)
        sp->cfg = *cfg;
    if (sp->cfg.key_items_max == 0)
        sp->cfg.key_items_max = PM_KEY_ITEMS_MAX;
    sp->self_size = total;
    sp->requests = 1;
    sp->live_bytes = sp->peak_live_bytes = total;
    sp->live_blocks = 1;
    sp->next_serial = 1;
    statics_init(sp);
    gc_space_init(sp);
    if (!sp->gc.garbage) {
        snprintf(err, PM_ERR_LEN, "object space: %.200s", sp->err);
        ops->free(heap, sp);
        return NULL;
    }
    return sp;
}

uint64_t pm_objspace_destroy(pm_objspace_t *sp)
{
    gc_space_fini(sp);
    uint64_t left = sp->live_blocks - 1;
    const struct allocator_ops *ops = sp->ops;
    pm_heap_t *heap = sp->heap;
    ops->free(heap, sp);
    return left;
}

void pm_objspace_set_hooks(pm_objspace_t *sp, const struct pm_objspace_hooks *hooks)
{
    static const struct pm_objspace_hooks none;
    sp->hooks = hooks ? *hooks : none;
}

void pm_objspace_stats(const pm_objspace_t *sp, struct pm_objspace_stats *out)
{
    *out = (struct pm_objspace_stats){
        .live_bytes = sp->live_bytes,
        .peak_live_bytes = sp->peak_live_bytes,
        .live_blocks = sp->live_blocks,
        .requests = sp->requests,
        .failed_requests = sp->failed_requests,
        .objects_alive = sp->objects_alive,
        .gc_tracked = pm_gc_count_objects(sp, -1) + pm_gc_count_objects(sp, 3),
    };
}

void pm_objspace_counters(const pm_objspace_t *sp, struct pm_objspace_stats *out)
{
    *out = (struct pm_objspace_stats){
        .live_bytes = sp->live_bytes,
        .peak_live_bytes = sp->peak_live_bytes,
        .live_blocks = sp->live_blocks,
        .requests = sp->requests,
        .failed_requests = sp->failed_requests,
        .objects_alive = sp->objects_alive,
    };
}


/* ---- GC allocation ---- */

pm_object_t *gc_alloc(pm_objspace_t *sp, const struct pm_type *tp, size_t basic)
{
    size_t n = tp->preheader + sizeof(struct pm_gc_head) + basic;
    char *mem = obj_alloc(sp, n);
    if (!mem)
        return NULL;
    if (tp->preheader)
        memset(mem, 0, tp->preheader);
    struct pm_gc_head *g = (struct pm_gc_head *)(mem + tp->preheader);
    g->gc_next = g->gc_prev = 0;
    /* _PyObject_GC_Link: count the allocation, maybe collect */
    struct pm_gc_state *gc = &sp->gc;
    gc->gen[0].count++;
    if (gc->enabled && gc->gen[0].threshold && !gc->collecting && gc_collection_due(sp))
        gc_collect_generations(sp);
    return from_gc(g);
}

void gc_free(pm_objspace_t *sp, pm_object_t *o, size_t basic)
{
    const struct pm_type *tp = o->type;
    if (obj_is_tracked(o))
        gc_untrack(sp, o);
    if (sp->gc.gen[0].count > 0)
        sp->gc.gen[0].count--;
    obj_free(sp, (char *)as_gc(o) - tp->preheader,
             tp->preheader + sizeof(struct pm_gc_head) + basic);
}

/* ---- deallocation and the trashcan ---- */

static void trash_destroy_chain(pm_objspace_t *sp)
{
    while (sp->trash_later) {
        pm_object_t *o = sp->trash_later;
        struct pm_gc_head *g = as_gc(o);
        sp->trash_later = (pm_object_t *)(g->gc_prev & GC_PREV_MASK);
        g->gc_prev &= ~GC_PREV_MASK;
        sp->trash_nesting++;
        o->type->dealloc(sp, o);
        sp->trash_nesting--;
    }
}

void pm_object_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    const struct pm_type *tp = o->type;
    pm_assert(!obj_is_static(sp, o));
    if (!type_is_gc(tp)) {
        tp->dealloc(sp, o);
        return;
    }
    if (sp->trash_nesting >= TRASH_UNWIND_LEVEL) {
        gc_untrack(sp, o);
        struct pm_gc_head *g = as_gc(o);
        g->gc_prev = (g->gc_prev & ~GC_PREV_MASK) | (uintptr_t)sp->trash_later;
        sp->trash_later = o;
        return;
    }
    sp->trash_nesting++;
    tp->dealloc(sp, o);
    sp->trash_nesting--;
    if (sp->trash_nesting == 0 && sp->trash_later)
        trash_destroy_chain(sp);
}

/* ---- kinds, sizes, hashing, equality ---- */

enum pm_kind pm_object_kind(const pm_object_t *o) { return o->type->kind; }
const char *pm_object_type_name(const pm_object_t *o) { return o->type->name; }
bool pm_object_is_gc(const pm_object_t *o) { return type_is_gc(o->type); }

size_t pm_object_sizeof(const pm_object_t *o)
{
    const struct pm_type *tp = o->type;
    size_t pre = type_is_gc(tp) ? tp->preheader + sizeof(struct pm_gc_head) : 0;
    switch (tp->kind) {
    case PM_KIND_INT:
    case PM_KIND_BOOL: {
        const struct pm_int *i = (const struct pm_int *)o;
        size_t nd = (size_t)(i->size < 0 ? -i->size : i->size);
        return PM_INT_HEADER + 4 * nd;      /* int.__sizeof__ counts ob_size digits */
    }
    case PM_KIND_STR:
        return sizeof(struct pm_str) + (size_t)((const struct pm_str *)o)->length + 1;
    case PM_KIND_BYTES:
        return PM_BYTES_HEADER + 1 + (size_t)((const struct pm_bytes *)o)->size;
    case PM_KIND_TUPLE:
        return pre + sizeof(struct pm_tuple) + 8 * pm_tuple_size(o);
    case PM_KIND_LIST:
        return pre + sizeof(struct pm_list) + 8 * (size_t)((const struct pm_list *)o)->allocated;
    case PM_KIND_DICT: {
        const struct pm_dict *d = (const struct pm_dict *)o;
        size_t k = d->keys->refcnt == 1 ? pm_dict_keys_bytes(o) : 0;
        return pre + sizeof(struct pm_dict) + k;
    }
    case PM_KIND_CLASS:
        return pre + PM_HEAPTYPE_BASICSIZE
               + PM_HEAPTYPE_ITEMSIZE * (((const struct pm_class *)o)->nslots + 1);
    default:
        return pre + tp->basicsize;
    }
}

/* Hash of integers as CPython: the value modulo 2**61 - 1, sign kept,
 * -1 mapped to -2. */
#define HASH_MODULUS (((uint64_t)1 << 61) - 1)

static int64_t hash_fix(int64_t h) { return h == -1 ? -2 : h; }

static int64_t int_hash(const struct pm_int *v)
{
    int64_t n = v->size < 0 ? -v->size : v->size;
    unsigned __int128 x = 0;
    for (int64_t i = n - 1; i >= 0; i--)
        x = ((x << PM_INT_SHIFT) | v->digit[i]) % HASH_MODULUS;
    int64_t h = (int64_t)x;
    return hash_fix(v->size < 0 ? -h : h);
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    x ^= x >> 31;
    return x;
}

static int64_t float_hash(double v)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 9.2e18) {
        int64_t iv = (int64_t)v;
        uint64_t mag = iv < 0 ? (uint64_t)-iv : (uint64_t)iv;
        int64_t h = (int64_t)(mag % HASH_MODULUS);
        return hash_fix(iv < 0 ? -h : h);
    }
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return hash_fix((int64_t)(mix64(bits) >> 2));
}

int64_t pm_object_hash(pm_objspace_t *sp, pm_object_t *o)
{
    switch (o->type->kind) {
    case PM_KIND_INT:
    case PM_KIND_BOOL:
        return int_hash((const struct pm_int *)o);
    case PM_KIND_FLOAT:
        return float_hash(((struct pm_float *)o)->value);
    case PM_KIND_STR:
        return str_hash(sp, o);
    case PM_KIND_BYTES: {
        struct pm_bytes *b = (struct pm_bytes *)o;
        if (b->hash == -1) {
            uint64_t h = 0xcbf29ce484222325u ^ sp->cfg.seed;
            const unsigned char *d = (const unsigned char *)bytes_data(o);
            for (int64_t i = 0; i < b->size; i++)
                h = (h ^ d[i]) * 0x100000001b3u;
            b->hash = hash_fix((int64_t)(mix64(h) >> 1));
        }
        return b->hash;
    }
    case PM_KIND_TUPLE: {
        /* xxHash-style combination as 3.8+ tuplehash, over item hashes */
        uint64_t acc = 0x27D4EB2F165667C5u;
        size_t n = pm_tuple_size(o);
        for (size_t i = 0; i < n; i++) {
            uint64_t lane = (uint64_t)pm_object_hash(sp, pm_tuple_get(o, i));
            acc += lane * 0xC2B2AE3D27D4EB4Fu;
            acc = (acc << 31) | (acc >> 33);
            acc *= 0x9E3779B185EBCA87u;
        }
        acc += n ^ (0x27D4EB2F165667C5u ^ 3527539u);
        return hash_fix((int64_t)acc);
    }
    default:
        /* identity: the serial number, never the address */
        return hash_fix((int64_t)mix64(o->serial) >> 1);
    }
}

static bool is_number(const pm_object_t *o)
{
    enum pm_kind k = o->type->kind;
    return k == PM_KIND_INT || k == PM_KIND_BOOL || k == PM_KIND_FLOAT;
}

static bool int_equal(const struct pm_int *a, const struct pm_int *b)
{
    if (a->size != b->size)
        return false;
    int64_t n = a->size < 0 ? -a->size : a->size;
    return memcmp(a->digit, b->digit, (size_t)n * sizeof(uint32_t)) == 0;
}

static double number_as_double(const pm_object_t *o)
{
    if (o->type->kind == PM_KIND_FLOAT)
        return ((const struct pm_float *)o)->value;
    const struct pm_int *v = (const struct pm_int *)o;
    int64_t n = v->size < 0 ? -v->size : v->size;
    double x = 0;
    for (int64_t i = n - 1; i >= 0; i--)
        x = x * (double)(1u << PM_INT_SHIFT) + v->digit[i];
    return v->size < 0 ? -x : x;
}

bool pm_object_equal(pm_object_t *a, pm_object_t *b)
{
    if (a == b)
        return true;
    enum pm_kind ka = a->type->kind, kb = b->type->kind;
    if (is_number(a) && is_number(b)) {
        if (ka != PM_KIND_FLOAT && kb != PM_KIND_FLOAT)
            return int_equal((const struct pm_int *)a, (const struct pm_int *)b);
        return number_as_double(a) == number_as_double(b);
    }
    if (ka != kb)
        return false;
    switch (ka) {
    case PM_KIND_STR:
        return str_equal(a, b);
    case PM_KIND_BYTES: {
        const struct pm_bytes *x = (const struct pm_bytes *)a, *y = (const struct pm_bytes *)b;
        return x->size == y->size && memcmp(bytes_data(a), bytes_data(b), (size_t)x->size) == 0;
    }
    case PM_KIND_TUPLE: {
        size_t n = pm_tuple_size(a);
        if (n != pm_tuple_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!pm_object_equal(pm_tuple_get(a, i), pm_tuple_get(b, i)))
                return false;
        return true;
    }
    default:
        return false;
    }
}

/* ---- None and bool ---- */

static void static_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    (void)sp;
    (void)o;
    pm_assert(!"a static object's refcount reached zero");
}

const struct pm_type pm_type_none = {
    .name = "NoneType", .kind = PM_KIND_NONE, .basicsize = 16, .dealloc = static_dealloc,
};
const struct pm_type pm_type_bool = {
    .name = "bool", .kind = PM_KIND_BOOL, .basicsize = PM_INT_HEADER, .itemsize = 4,
    .dealloc = static_dealloc,
};

pm_object_t *pm_none(pm_objspace_t *sp) { return sp->none; }
pm_object_t *pm_bool(pm_objspace_t *sp, bool v) { return v ? sp->true_ : sp->false_; }

/* ---- int ---- */

static void int_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_int *v = (struct pm_int *)o;
    size_t nd = (size_t)(v->size < 0 ? -v->size : v->size);
    obj_forget(sp);
    obj_free(sp, o, PM_INT_HEADER + 4 * (nd ? nd : 1));
}

const struct pm_type pm_type_int = {
    .name = "int", .kind = PM_KIND_INT, .basicsize = PM_INT_HEADER, .itemsize = 4,
    .dealloc = int_dealloc,
};

/* _PyLong_New: 24 + 4 * max(ndigits, 1) bytes. */
static struct pm_int *int_alloc(pm_objspace_t *sp, size_t ndigits)
{
    size_t n = PM_INT_HEADER + 4 * (ndigits ? ndigits : 1);
    struct pm_int *v = obj_alloc(sp, n);
    if (!v)
        return NULL;
    obj_init(sp, &v->ob, &pm_type_int);
    v->size = (int64_t)ndigits;
    v->digit[0] = 0;
    return v;
}

pm_object_t *pm_int_new(pm_objspace_t *sp, int64_t value)
{
    if (value >= SMALL_INT_MIN && value <= SMALL_INT_MAX)
        return pm_incref(sp->small_ints[value - SMALL_INT_MIN]);
    uint64_t mag = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    size_t nd = 0;
    for (uint64_t t = mag; t; t >>= PM_INT_SHIFT)
        nd++;
    struct pm_int *v = int_alloc(sp, nd);
    if (!v)
        return NULL;
    for (size_t i = 0; i < nd; i++, mag >>= PM_INT_SHIFT)
        v->digit[i] = (uint32_t)(mag & PM_INT_MASK);
    if (value < 0)
        v->size = -v->size;
    return &v->ob;
}

pm_object_t *pm_int_new_bits(pm_objspace_t *sp, unsigned bits, bool negative)
{
    if (bits < 63)
        return pm_int_new(sp, negative ? -(int64_t)(((uint64_t)1 << bits) - 1)
                                        : (int64_t)(((uint64_t)1 << bits) - 1));
    if (bits > (1u << 24)) {
        om_error(sp, PM_ERR_VALUE, "int of %u bits is too large", bits);
        return NULL;
    }
    size_t nd = (bits + PM_INT_SHIFT - 1) / PM_INT_SHIFT;
    struct pm_int *v = int_alloc(sp, nd);
    if (!v)
        return NULL;
    for (size_t i = 0; i < nd; i++) {
        unsigned left = bits - (unsigned)i * PM_INT_SHIFT;
        v->digit[i] = left >= PM_INT_SHIFT ? PM_INT_MASK : (uint32_t)((1u << left) - 1);
    }
    if (negative)
        v->size = -v->size;
    return &v->ob;
}

bool pm_int_as_int64(const pm_object_t *o, int64_t *out)
{
    if (o->type->kind != PM_KIND_INT && o->type->kind != PM_KIND_BOOL)
        return false;
    const struct pm_int *v = (const struct pm_int *)o;
    int64_t n = v->size < 0 ? -v->size : v->size;
    if (n > 3)
        return false;
    unsigned __int128 mag = 0;
    for (int64_t i = n - 1; i >= 0; i--)
        mag = (mag << PM_INT_SHIFT) | v->digit[i];
    if (mag > (unsigned __int128)INT64_MAX + (v->size < 0))
        return false;
    *out = v->size < 0 ? (int64_t)(0 - (uint64_t)mag) : (int64_t)mag;
    return true;
}

/* ---- float (free list of 100, chained through ob.type) ---- */

static void float_dealloc(pm_objspace_t *sp, pm_object_t *o)
{
    obj_forget(sp);
    if ((sp->cfg.flags & PM_OBJ_NO_FREELIST_FLOAT) || sp->float_numfree >= FLOAT_MAXFREELIST) {
        obj_free(sp, o, sizeof(struct pm_float));
        return;
    }
    sp->float_numfree++;
    o->type = (const struct pm_type *)(void *)sp->float_free;
    sp->float_free = o;
}

void float_clear_freelist(pm_objspace_t *sp)
{
    while (sp->float_free) {
        pm_object_t *o = sp->float_free;
        sp->float_free = (pm_object_t *)(void *)o->type;
        obj_free(sp, o, sizeof(struct pm_float));
    }
    sp->float_numfree = 0;
}

const struct pm_type pm_type_float = {
    .name = "float", .kind = PM_KIND_FLOAT, .basicsize = sizeof(struct pm_float),
    .dealloc = float_dealloc,
};

pm_object_t *pm_float_new(pm_objspace_t *sp, double value)
{
    struct pm_float *f;
    if (sp->float_free) {
        f = (struct pm_float *)sp->float_free;
        sp->float_free = (pm_object_t *)(void *)f->ob.type;
        sp->float_numfree--;
    } else {
        f = obj_alloc(sp, sizeof *f);
        if (!f)
            return NULL;
    }
    obj_init(sp, &f->ob, &pm_type_float);
    f->value = value;
    return &f->ob;
}

double pm_float_value(const pm_object_t *o) { return ((const struct pm_float *)o)->value; }
