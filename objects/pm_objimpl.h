/* objects/pm_objimpl.h — internals of the object layer shared by its files:
 * object layouts (with CPython 3.11's 64-bit sizes, asserted), the type
 * table, the space struct, the memory helpers that count requested bytes,
 * and the GC-list primitives. Not for use outside objects/.
 *
 * Memory helpers: every request goes through om_malloc/om_calloc/om_realloc/
 * om_free (PyMem domain) or gc_alloc / obj_alloc (PyObject domain); each
 * knows the size it asked for, so the space counts live requested bytes
 * exactly and never calls usable_size().
 */
#ifndef PM_OBJIMPL_H
#define PM_OBJIMPL_H

#include "pm_object.h"
#include "pm_assert.h"

#include <stddef.h>
#include <string.h>

typedef int (*pm_visit_fn)(pm_object_t *o, void *arg);

enum {
    TPF_GC = 1u << 0,               /* has a GC header (Py_TPFLAGS_HAVE_GC) */
    TPF_HEAPTYPE = 1u << 1,         /* instances of a user class */
    TPF_MANAGED_DICT = 1u << 2,     /* 16-byte pre-header: values + dict pointers */
};

struct pm_type {
    const char *name;
    enum pm_kind kind;
    unsigned flags;                 /* TPF_* */
    size_t basicsize;               /* tp_basicsize, bytes (GC header excluded) */
    size_t itemsize;                /* tp_itemsize, bytes per item */
    size_t preheader;               /* bytes in front of the GC header (managed dict: 16) */
    size_t weaklistoffset;          /* offset of the weakref list pointer, 0: none */
    void (*dealloc)(pm_objspace_t *sp, pm_object_t *o);
    int (*traverse)(pm_object_t *o, pm_visit_fn visit, void *arg);
    int (*clear)(pm_objspace_t *sp, pm_object_t *o);    /* tp_clear, may be NULL */
    void (*finalize)(pm_objspace_t *sp, pm_object_t *o); /* tp_finalize, may be NULL */
    void (*del)(pm_objspace_t *sp, pm_object_t *o);     /* legacy tp_del, may be NULL */
};

/* ---- layouts (offsets and sizes are CPython 3.11's on 64-bit) ---- */

struct pm_int {                     /* PyLongObject */
    pm_object_t ob;
    int64_t size;                   /* ob_size: digits, negative for negative values */
    uint32_t digit[];               /* 30-bit digits; allocated: max(|size|, 1) */
};
#define PM_INT_HEADER 24u
_Static_assert(offsetof(struct pm_int, digit) == PM_INT_HEADER, "long digits at 24");
#define PM_INT_SHIFT 30
#define PM_INT_MASK ((uint32_t)((1u << PM_INT_SHIFT) - 1))

struct pm_float {                   /* PyFloatObject */
    pm_object_t ob;
    double value;
};
_Static_assert(sizeof(struct pm_float) == 24, "float is 24 bytes");

struct pm_str {                     /* PyASCIIObject, compact ASCII */
    pm_object_t ob;
    int64_t length;                 /* characters */
    int64_t hash;                   /* -1: not computed */
    uint32_t state;                 /* STR_INTERNED | STR_COMPACT_ASCII */
    uint32_t pad;
    void *wstr;                     /* unused, kept for the size */
};
_Static_assert(sizeof(struct pm_str) == 48, "PyASCIIObject is 48 bytes");
#define STR_INTERNED 1u
#define STR_STATIC 2u
static inline char *str_data(const pm_object_t *o) { return (char *)o + sizeof(struct pm_str); }
/* request size: 48 + length + 1 (the NUL) */

struct pm_bytes {                   /* PyBytesObject */
    pm_object_t ob;
    int64_t size;                   /* ob_size */
    int64_t hash;                   /* ob_shash */
};
#define PM_BYTES_HEADER 32u
_Static_assert(sizeof(struct pm_bytes) == PM_BYTES_HEADER, "bytes data at 32");
static inline char *bytes_data(const pm_object_t *o) { return (char *)o + PM_BYTES_HEADER; }
/* request size: 33 + length */

struct pm_tuple {                   /* PyTupleObject */
    pm_object_t ob;
    int64_t size;                   /* ob_size */
    pm_object_t *item[];
};
_Static_assert(sizeof(struct pm_tuple) == 24, "tuple header is 24 bytes");

struct pm_list {                    /* PyListObject */
    pm_object_t ob;
    int64_t size;                   /* ob_size: items in use */
    pm_object_t **item;             /* ob_item: `allocated` slots, PyMem */
    int64_t allocated;              /* slots; 0 <= size <= allocated */
};
_Static_assert(sizeof(struct pm_list) == 40, "list is 40 bytes");

struct pm_dictkeys {                /* PyDictKeysObject header */
    int64_t refcnt;                 /* dk_refcnt */
    uint8_t log2_size;              /* dk_log2_size: index slots = 1 << log2_size */
    uint8_t log2_index_bytes;       /* dk_log2_index_bytes */
    uint8_t kind;                   /* DK_GENERAL / DK_UNICODE / DK_SPLIT */
    uint8_t pad;
    uint32_t version;
    int64_t usable;                 /* dk_usable: entries still free */
    int64_t nentries;               /* dk_nentries: entries used (deleted ones too) */
    /* char indices[1 << log2_index_bytes]; entries[usable at creation] */
};
_Static_assert(sizeof(struct pm_dictkeys) == 32, "PyDictKeysObject header is 32 bytes");
#define DK_GENERAL 0
#define DK_UNICODE 1
#define DK_SPLIT 2
struct pm_dict_entry { int64_t hash; pm_object_t *key; pm_object_t *value; };
struct pm_dict_uentry { pm_object_t *key; pm_object_t *value; };
_Static_assert(sizeof(struct pm_dict_entry) == 24, "PyDictKeyEntry is 24 bytes");
_Static_assert(sizeof(struct pm_dict_uentry) == 16, "PyDictUnicodeEntry is 16 bytes");

struct pm_dict {                    /* PyDictObject */
    pm_object_t ob;
    int64_t used;                   /* ma_used: live entries */
    uint64_t version_tag;           /* ma_version_tag */
    struct pm_dictkeys *keys;       /* ma_keys (the space's empty keys when empty) */
    void *values;                   /* ma_values: always NULL (no split dicts) */
};
_Static_assert(sizeof(struct pm_dict) == 48, "dict is 48 bytes");

struct pm_weakref {                 /* PyWeakReference */
    pm_object_t ob;
    pm_object_t *object;            /* wr_object: referent, or None once cleared */
    pm_object_t *callback;          /* wr_callback or NULL */
    int64_t hash;
    struct pm_weakref *prev, *next; /* the referent's list of weakrefs */
    void *vectorcall;               /* unused, kept for the size */
};
_Static_assert(sizeof(struct pm_weakref) == 64, "PyWeakReference is 64 bytes");

/* A user class (PyHeapTypeObject is 904 bytes plus 40 per slot member and
 * one; we keep our fields at the front and request CPython's size). */
#define PM_HEAPTYPE_BASICSIZE 904u
#define PM_HEAPTYPE_ITEMSIZE 40u
struct pm_class {
    pm_object_t ob;
    struct pm_type tp;              /* the type of its instances */
    pm_object_t *weaklist;          /* weakrefs to the class */
    pm_object_t *name;              /* str */
    pm_object_t *dict;              /* the class namespace (dict) */
    pm_object_t *bases;             /* tuple (object,) */
    pm_object_t *mro;               /* tuple (cls, object): a reference cycle */
    struct pm_dictkeys *cached_keys;/* shared keys of instance dicts, NULL: no __dict__ */
    pm_object_t *slot_names;        /* tuple of str, member slots in order, or NULL */
    size_t nslots;                  /* member slots */
    bool is_static;                 /* the `object` base: not in the heap */
};
_Static_assert(sizeof(struct pm_class) <= PM_HEAPTYPE_BASICSIZE, "class fits in 904 bytes");

/* An instance: [values*, dict*] pre-header if managed dict, GC header,
 * ob, member slots, then the weakref list if __weakref__. */
struct pm_instance {
    pm_object_t ob;
    pm_object_t *slot[];
};

static inline struct pm_class *class_of_type(const struct pm_type *tp)
{
    return (struct pm_class *)((char *)tp - offsetof(struct pm_class, tp));
}

/* ---- the collector's state ---- */

struct pm_gc_generation {
    struct pm_gc_head head;         /* circular list of tracked objects */
    int64_t threshold;              /* collect when count > threshold */
    int64_t count;                  /* gen 0: GC allocations - frees; others: younger collections */
};

#define PM_GC_MAX_AGING 16           /* pep848: most aging spaces */
struct pm_gc_collector;

struct pm_gc_state {
    /* gen311/gen313: generations 0, 1, 2. inc314/pep848: gen[0] young
     * (nursery), gen[1] the old visited space, gen[2] the old pending space
     * (fixed lists: a completed scan merges visited into pending). */
    struct pm_gc_generation gen[PM_GC_NUM_GENERATIONS];
    struct pm_gc_head permanent;    /* frozen objects */
    bool enabled;
    bool collecting;
    int64_t long_lived_total;       /* survivors of the last full collection */
    int64_t long_lived_pending;     /* survivors of gen-1 collections since */
    struct pm_gc_gen_stats stats[PM_GC_NUM_GENERATIONS];
    pm_object_t *garbage;           /* gc.garbage list */
    struct pm_gc_callback { pm_gc_callback_fn fn; void *ctx; } cb[PM_GC_MAX_CALLBACKS];
    int ncb;
    /* ---- collectors (issue 20) ---- */
    const struct pm_gc_collector *col;
    uintptr_t visited;              /* OLDSPACE bit value of visited objects (0 or bit) */
    uintptr_t track_bit;            /* OLDSPACE bit value given at gc_track */
    int64_t heap_size;              /* tracked objects (3.14's heap_size) */
    int64_t work_to_do;             /* inc314/pep848 pacing */
    uint64_t alloc_bytes;           /* pep848: gross bytes requested since the last
                                       automatic collection */
    bool young_next;                /* pep848: next automatic collection is young */
    bool bytes_trigger;             /* pep848: the trigger counts bytes */
    bool automatic;                 /* the running collection was triggered by allocation */
    int naging;                     /* pep848: aging spaces in use */
    struct pm_gc_head aging[PM_GC_MAX_AGING];   /* pep848: [0] youngest */
    pm_gc_observer_fn observer;
    void *observer_ctx;
    bool observe_bytes;
    uint64_t examined, examined_bytes;          /* of the running collection */
};

#define TUPLE_MAXSAVESIZE 20        /* tuples of len 1..20 are kept */
#define TUPLE_MAXFREELIST 2000
#define FLOAT_MAXFREELIST 100
#define LIST_MAXFREELIST 80
#define DICT_MAXFREELIST 80
#define TRASH_UNWIND_LEVEL 50       /* dealloc nesting before deferring */
#define SMALL_INT_MIN (-5)
#define SMALL_INT_MAX 256

struct pm_objspace {
    const struct allocator_ops *ops;
    pm_heap_t *heap;
    struct pm_objspace_config cfg;
    struct pm_objspace_hooks hooks;
    size_t self_size;               /* bytes of this block (space + statics) */

    /* accounting: requested sizes */
    uint64_t live_bytes, peak_live_bytes, live_blocks, requests, failed_requests;
    uint64_t objects_alive;
    uint32_t next_serial;

    enum pm_err_kind err_kind;
    char err[PM_ERR_LEN];

    struct pm_gc_state gc;

    /* trashcan: deallocs nested deeper than TRASH_UNWIND_LEVEL are deferred
     * on a list chained through the (untracked) objects' gc_prev. */
    int trash_nesting;
    pm_object_t *trash_later;

    /* free lists (3.11 sizes) */
    pm_object_t *float_free;        /* chained through ob.type */
    int float_numfree;
    pm_object_t *tuple_free[TUPLE_MAXSAVESIZE];  /* chained through item[0] */
    int tuple_numfree[TUPLE_MAXSAVESIZE];
    struct pm_list *list_free[LIST_MAXFREELIST];
    int list_numfree;
    struct pm_dict *dict_free[DICT_MAXFREELIST];
    int dict_numfree;
    struct pm_dictkeys *keys_free[DICT_MAXFREELIST];
    int keys_numfree;

    pm_object_t *interned;          /* dict str -> str, references not counted */

    /* static objects, carved from the statics area after this struct */
    pm_object_t *none;
    pm_object_t *true_, *false_;
    pm_object_t *small_ints[SMALL_INT_MAX - SMALL_INT_MIN + 1];
    pm_object_t *empty_tuple;
    pm_object_t *empty_bytes;
    pm_object_t *bytes1[256];
    pm_object_t *empty_str;
    pm_object_t *str1[128];
    pm_object_t *object_class;      /* `object`: base of every user class */
    struct pm_dictkeys empty_keys;  /* Py_EMPTY_KEYS */
    unsigned char empty_keys_indices[8];
};

/* ---- errors ---- */
int om_error(pm_objspace_t *sp, enum pm_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *om_nomem(pm_objspace_t *sp, size_t n);  /* sets PM_ERR_NOMEM, returns NULL */

/* ---- memory (PyMem domain: item arrays, keys, values) ---- */
void *om_malloc(pm_objspace_t *sp, size_t n);
void *om_calloc(pm_objspace_t *sp, size_t count, size_t n);
void *om_realloc(pm_objspace_t *sp, void *p, size_t old_n, size_t new_n);
void om_free(pm_objspace_t *sp, void *p, size_t n);
/* PyObject domain: non-GC objects */
void *obj_alloc(pm_objspace_t *sp, size_t n);
void obj_free(pm_objspace_t *sp, void *p, size_t n);
/* GC objects: request preheader + 16 + basic; count[0]++ and maybe a
 * collection (before the object is initialised, as 3.11). Returns the object
 * address (after the GC header), uninitialised except gc head zeroed. */
pm_object_t *gc_alloc(pm_objspace_t *sp, const struct pm_type *tp, size_t basic);
/* Frees a GC object allocated with gc_alloc: untracks, count[0]-- (not below 0). */
void gc_free(pm_objspace_t *sp, pm_object_t *o, size_t basic);

/* Initialises header fields of a fresh object: refcnt 1, serial, type. */
static inline void obj_init(pm_objspace_t *sp, pm_object_t *o, const struct pm_type *tp)
{
    o->refcnt = 1;
    o->serial = sp->next_serial++;
    o->type = tp;
    sp->objects_alive++;
}
/* Statics live in the space's own block. */
static inline bool obj_is_static(const pm_objspace_t *sp, const pm_object_t *o)
{
    const char *p = (const char *)o, *base = (const char *)sp;
    return p >= base && p < base + sp->self_size;
}

/* An object leaves for a free list or is freed. */
static inline void obj_forget(pm_objspace_t *sp) { sp->objects_alive--; }

/* ---- GC head primitives ---- */
static inline struct pm_gc_head *as_gc(const pm_object_t *o)
{
    return (struct pm_gc_head *)o - 1;
}
static inline pm_object_t *from_gc(const struct pm_gc_head *g)
{
    return (pm_object_t *)(g + 1);
}
static inline bool type_is_gc(const struct pm_type *tp) { return (tp->flags & TPF_GC) != 0; }
static inline bool obj_is_tracked(const pm_object_t *o) { return as_gc(o)->gc_next != 0; }
#define GC_PREV_MASK (~(uintptr_t)7)
static inline struct pm_gc_head *gc_next(const struct pm_gc_head *g)
{
    return (struct pm_gc_head *)g->gc_next;
}
static inline struct pm_gc_head *gc_prev(const struct pm_gc_head *g)
{
    return (struct pm_gc_head *)(g->gc_prev & GC_PREV_MASK);
}
static inline void gc_set_prev(struct pm_gc_head *g, struct pm_gc_head *p)
{
    g->gc_prev = (g->gc_prev & ~GC_PREV_MASK) | (uintptr_t)p;
}
static inline void gc_list_init(struct pm_gc_head *l)
{
    l->gc_next = l->gc_prev = (uintptr_t)l;
}
static inline bool gc_list_is_empty(const struct pm_gc_head *l)
{
    return l->gc_next == (uintptr_t)l;
}
static inline void gc_list_append(struct pm_gc_head *node, struct pm_gc_head *list)
{
    struct pm_gc_head *last = (struct pm_gc_head *)list->gc_prev;
    gc_set_prev(node, last);
    last->gc_next = (uintptr_t)node;
    node->gc_next = (uintptr_t)list;
    list->gc_prev = (uintptr_t)node;
}
static inline void gc_list_remove(struct pm_gc_head *node)
{
    struct pm_gc_head *prev = gc_prev(node), *next = gc_next(node);
    prev->gc_next = (uintptr_t)next;
    gc_set_prev(next, prev);
    node->gc_next = 0;
}
/* May be tracked: a GC object other than an untracked tuple (CPython's
 * _PyObject_GC_MAY_BE_TRACKED). */
static inline bool obj_may_be_tracked(const pm_object_t *o)
{
    if (!type_is_gc(o->type))
        return false;
    if (o->type->kind == PM_KIND_TUPLE)
        return obj_is_tracked(o);
    return true;
}
void gc_track(pm_objspace_t *sp, pm_object_t *o);
void gc_untrack(pm_objspace_t *sp, pm_object_t *o);   /* no-op if untracked */
void gc_clear_freelists(pm_objspace_t *sp);           /* full collection */
void gc_space_init(pm_objspace_t *sp);
void gc_space_fini(pm_objspace_t *sp);

/* ---- per-type entry points used across files ---- */
extern const struct pm_type pm_type_none, pm_type_bool, pm_type_int, pm_type_float,
    pm_type_str, pm_type_bytes, pm_type_tuple, pm_type_list, pm_type_dict, pm_type_class,
    pm_type_weakref;

int64_t str_hash(pm_objspace_t *sp, pm_object_t *s);
/* Finds a str key by content (the intern table); entry index or -1. */
int64_t dict_lookup_ascii(pm_objspace_t *sp, pm_object_t *d, const char *s, size_t n,
                          int64_t hash, pm_object_t **found);
struct pm_dictkeys *sharedkeys_new(pm_objspace_t *sp);
void gc_collect_generations(pm_objspace_t *sp);
/* gc_alloc: is an automatic collection due? pep848 counts gross bytes
 * requested (threshold0 KiB), the others GC allocations - frees. */
static inline bool gc_collection_due(const pm_objspace_t *sp)
{
    const struct pm_gc_state *gc = &sp->gc;
    if (gc->bytes_trigger)
        return gc->alloc_bytes >= (uint64_t)gc->gen[0].threshold * 1024u;
    return gc->gen[0].count > gc->gen[0].threshold;
}
bool str_equal(const pm_object_t *a, const pm_object_t *b);
void tuple_maybe_untrack(pm_objspace_t *sp, pm_object_t *t);
void dict_maybe_untrack(pm_objspace_t *sp, pm_object_t *d);
void tuple_clear_freelist(pm_objspace_t *sp);
void list_clear_freelist(pm_objspace_t *sp);
void dict_clear_freelist(pm_objspace_t *sp);
void float_clear_freelist(pm_objspace_t *sp);
/* dict keys objects (dict.c), also used for the classes' shared keys */
struct pm_dictkeys *dictkeys_new(pm_objspace_t *sp, unsigned log2_size, int kind);
void dictkeys_free(pm_objspace_t *sp, struct pm_dictkeys *k);
size_t dictkeys_bytes(const struct pm_dictkeys *k);
/* Shared keys: index of an interned name, inserting if room; -1: absent/full. */
int64_t sharedkeys_lookup(pm_objspace_t *sp, struct pm_dictkeys *k, pm_object_t *name,
                          bool insert);
pm_object_t *sharedkeys_name(struct pm_dictkeys *k, int64_t ix);
/* Weakrefs: clear every weakref to o and run callbacks (PyObject_ClearWeakRefs). */
void weakref_clear_all(pm_objspace_t *sp, pm_object_t *o);
/* _PyWeakref_ClearRef: unlink wr from its referent, wr_object = None. */
void weakref_clear_ref(pm_objspace_t *sp, struct pm_weakref *wr);
static inline struct pm_weakref **weaklist_ptr(pm_object_t *o)
{
    return (struct pm_weakref **)((char *)o + o->type->weaklistoffset);
}
void weakref_call_callback(pm_objspace_t *sp, struct pm_weakref *wr);
/* tp_finalize from dealloc: true when the object was resurrected. */
bool object_finalize_from_dealloc(pm_objspace_t *sp, pm_object_t *o);
/* Runs tp_finalize once (sets FINALIZED). */
void object_call_finalizer(pm_objspace_t *sp, pm_object_t *o);
/* Statics: carve from the area after the space struct. */
void *statics_carve(pm_objspace_t *sp, size_t *off, size_t n);
void class_init_object_base(pm_objspace_t *sp, size_t *off);
void str_init_statics(pm_objspace_t *sp, size_t *off);

#endif
