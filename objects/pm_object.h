/* objects/pm_object.h — the object layer: refcounted Python-like objects and
 * a generational cycle collector, over any allocator backend.
 *
 * Entry points
 *   space     pm_objspace_create / pm_objspace_destroy / pm_objspace_stats /
 *             pm_objspace_counters / pm_objspace_check / pm_objspace_set_hooks /
 *             pm_objspace_error
 *   refcounts pm_incref / pm_decref
 *   types     pm_int_new pm_int_new_bits pm_float_new pm_str_new
 *             pm_str_new_interned pm_bytes_new pm_tuple_new pm_list_new
 *             pm_dict_new pm_class_new pm_instance_new pm_weakref_new
 *   contents  pm_list_* pm_dict_* pm_tuple_* pm_setattr pm_getattr
 *             pm_delattr pm_weakref_get
 *   gc        pm_gc_* (gc.c): collect, thresholds, counts, stats, freeze,
 *             get_objects, callbacks, garbage
 *
 * A space (struct pm_objspace) owns everything: one allocator instance
 * (ops + heap), the static objects (None, small ints, singletons), free lists,
 * the intern table, the collector's generations. There are no globals:
 * several spaces live side by side. Every byte an object needs comes from the
 * space's allocator, through requests whose sizes are CPython 3.11's (64-bit);
 * the space counts the requested bytes (live and peak).
 *
 * Determinism: the sequence of requests made to the backend depends only on
 * the calls made (the workload) and the config (seed, switches) — never on the
 * backend, on block addresses or on usable_size(). Identity hashes come from
 * a per-space serial number, not from addresses.
 *
 * Ownership: constructors return a new reference; container operations
 * borrow their arguments (they take their own reference, as PyList_Append);
 * getters return borrowed references. On failure a call returns NULL or -1
 * and leaves a one-line reason in pm_objspace_error(); PM_ERR_NOMEM is the
 * MemoryError path: nothing leaks and the collector's lists stay whole.
 *
 * Library code: never prints, never exits.
 */
#ifndef PM_OBJECT_H
#define PM_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allocator.h"
#include "pm_api.h"

PM_API_BEGIN

typedef struct pm_objspace pm_objspace_t;
typedef struct pm_object pm_object_t;
struct pm_type;

/* The object header (CPython's PyObject, 16 bytes). ob_refcnt is 8 bytes in
 * CPython; we keep the same 8 bytes but split them: the low 32 bits count
 * references (a count above 2^32-1 is out of scope), the high 32 bits hold the
 * object's serial number in its space, the source of identity hashes. */
struct pm_object {
    uint32_t refcnt;                /* references held */
    uint32_t serial;                /* creation number in the space (identity hash) */
    const struct pm_type *type;     /* ob_type */
};
_Static_assert(sizeof(struct pm_object) == 16, "PyObject is 16 bytes on 64-bit");

/* The GC header in front of every GC-capable object, laid out as 3.11's
 * PyGC_Head. gc_next == 0 means untracked. gc_prev holds the previous
 * pointer in its high bits and two flags in its low bits; during a
 * collection its high bits hold gc_refs instead (value << 2). gc_next's bit 0
 * marks "tentatively unreachable" inside move_unreachable. */
struct pm_gc_head {
    uintptr_t gc_next;              /* next in generation list | UNREACHABLE bit */
    uintptr_t gc_prev;              /* prev pointer or gc_refs << 2 | COLLECTING | FINALIZED */
};
_Static_assert(sizeof(struct pm_gc_head) == 16, "PyGC_Head is 16 bytes on 64-bit");

#define PM_GC_PREV_FINALIZED  ((uintptr_t)1)    /* tp_finalize already ran */
#define PM_GC_PREV_COLLECTING ((uintptr_t)2)    /* in the set being collected */
#define PM_GC_PREV_OLDSPACE   ((uintptr_t)4)    /* inc314/pep848: the old-space bit
                                                   (3.14's _PyGC_NEXT_MASK_OLD_SPACE_1) */
#define PM_GC_PREV_SHIFT      3
#define PM_GC_NEXT_UNREACHABLE ((uintptr_t)1)

#define PM_GC_NUM_GENERATIONS 3

/* ---- the space ---- */

enum {
    PM_OBJ_NO_FREELIST_FLOAT = 1u << 0,    /* float free list (100) off */
    PM_OBJ_NO_FREELIST_TUPLE = 1u << 1,    /* tuple free lists (len 1..20 x 2000) off */
    PM_OBJ_NO_FREELIST_LIST  = 1u << 2,    /* list free list (80) off */
    PM_OBJ_NO_FREELIST_DICT  = 1u << 3,    /* dict (80) and dict-keys (80) free lists off */
    PM_OBJ_NO_FREELISTS      = 0xfu,
    PM_OBJ_NO_INTERN         = 1u << 4,    /* pm_str_new_interned makes a fresh str */
};

struct pm_objspace_config {
    unsigned flags;                 /* PM_OBJ_* switches */
    uint64_t seed;                  /* string hash seed (PYTHONHASHSEED) */
    uint64_t key_items_max;         /* dict keys: most items their nested tuples may
                                       expand to (0: PM_KEY_ITEMS_MAX), see below */
    /* ---- collector selection (issue 20) ---- */
    const char *gc;                 /* collector name (pm_gc_collector_names), NULL: gen311 */
    /* Clock for collection pauses (ns); NULL: CLOCK_MONOTONIC. A fake clock
     * makes pause figures exact in tests. */
    uint64_t (*gc_clock)(void *ctx);
    void *gc_clock_ctx;
};

/* Hashing and comparing a tuple key visits its items recursively, a tuple
 * shared n times n times: t = (t, t) repeated k times makes a key of 2^k
 * items, which CPython 3.11 hashes for ever. A dict key whose expansion
 * exceeds key_items_max is refused with ValueError ("key too large") before
 * anything is hashed, so a dict operation costs at most that many visits.
 * The default is far above any real key. */
#define PM_KEY_ITEMS_MAX (UINT64_C(1) << 24)

enum pm_err_kind {
    PM_ERR_NONE = 0,
    PM_ERR_NOMEM,                   /* MemoryError: a backend request failed */
    PM_ERR_TYPE,                    /* TypeError */
    PM_ERR_INDEX,                   /* IndexError */
    PM_ERR_KEY,                     /* KeyError */
    PM_ERR_ATTR,                    /* AttributeError */
    PM_ERR_VALUE,                   /* ValueError */
};

/* Calls into "Python code". The layer has no interpreter: what a finalizer or
 * a weakref callback does is up to whoever drives the space (a C test, the
 * object-script interpreter). Every hook may be NULL (then it does nothing),
 * may allocate, free, run a collection, or resurrect its argument by storing
 * a new reference to it somewhere. */
struct pm_objspace_hooks {
    void *ctx;
    /* tp_finalize (PEP 442 __del__) of an instance of a class marked with
     * pm_class_set_finalizers(cls, true, _): runs at most once per object. */
    void (*finalize)(pm_objspace_t *sp, void *ctx, pm_object_t *self);
    /* legacy tp_del of a class marked with pm_class_set_finalizers(cls, _, true):
     * runs when the refcount drops to 0; the collector never calls it (a cycle
     * holding such an object goes to the garbage list). */
    void (*legacy_del)(pm_objspace_t *sp, void *ctx, pm_object_t *self);
    /* The callback object given to pm_weakref_new, "called" with the weakref
     * whose referent just died (pm_weakref_get(wr) is already None). */
    void (*weakref_callback)(pm_objspace_t *sp, void *ctx, pm_object_t *callback,
                             pm_object_t *wr);
};

/* Memory accounting of a space, requested sizes (never usable sizes). */
struct pm_objspace_stats {
    uint64_t live_bytes;            /* sum of requested bytes of live blocks */
    uint64_t peak_live_bytes;       /* max of live_bytes */
    uint64_t live_blocks;           /* blocks requested and not freed */
    uint64_t requests;              /* malloc + calloc + realloc + free calls made */
    uint64_t failed_requests;       /* requests the backend refused (NULL) */
    uint64_t objects_alive;         /* objects created minus destroyed, excluding the
                                       statics and the space's own (gc.garbage, the
                                       intern dict) */
    uint64_t gc_tracked;            /* objects in the generation lists (permanent included) */
};

pm_objspace_t *pm_objspace_create(const struct allocator_ops *ops, pm_heap_t *heap,
                                  const struct pm_objspace_config *cfg,
                                  char err[PM_ERR_LEN]);
/* Drops the space's own references (garbage list, intern table, free lists),
 * runs full collections (again while one changes something, at most 8) and
 * frees the space. Returns the number of blocks the space requested and did
 * not free: 0 unless objects are still alive, i.e. the caller still holds
 * references, or cycles hold objects with a legacy finalizer (gc.garbage is
 * gone, so they are uncollectable for good, as at CPython's shutdown). Those
 * blocks stay allocated in the backend (destroying the backend releases
 * them); the objects must not be used any more. */
uint64_t pm_objspace_destroy(pm_objspace_t *sp);
void pm_objspace_set_hooks(pm_objspace_t *sp, const struct pm_objspace_hooks *hooks);
void pm_objspace_stats(const pm_objspace_t *sp, struct pm_objspace_stats *out);
/* The same in O(1), without gc_tracked (left 0, as counting it walks the
 * collector's lists): for samplers that run every few requests. */
void pm_objspace_counters(const pm_objspace_t *sp, struct pm_objspace_stats *out);
/* Walks the collector's lists: link consistency, flags clear, per-list
 * counts, and that no tracked object has more references from other tracked
 * objects than its refcount. Returns the number of violations and a message
 * for the first; never aborts. */
unsigned long pm_objspace_check(pm_objspace_t *sp, char msg[PM_ERR_LEN]);
/* The last error: kind and one line. */
enum pm_err_kind pm_objspace_error(const pm_objspace_t *sp, const char **msg);
void pm_objspace_clear_error(pm_objspace_t *sp);
const struct allocator_ops *pm_objspace_ops(const pm_objspace_t *sp);
pm_heap_t *pm_objspace_heap(const pm_objspace_t *sp);

/* ---- reference counts ---- */

void pm_object_dealloc(pm_objspace_t *sp, pm_object_t *o); /* refcnt reached 0 */

static inline pm_object_t *pm_incref(pm_object_t *o)
{
    o->refcnt++;
    return o;
}

static inline void pm_decref(pm_objspace_t *sp, pm_object_t *o)
{
    if (--o->refcnt == 0)
        pm_object_dealloc(sp, o);
}

static inline void pm_xdecref(pm_objspace_t *sp, pm_object_t *o)
{
    if (o)
        pm_decref(sp, o);
}

/* ---- types ---- */

enum pm_kind {
    PM_KIND_NONE, PM_KIND_BOOL, PM_KIND_INT, PM_KIND_FLOAT, PM_KIND_STR, PM_KIND_BYTES,
    PM_KIND_TUPLE, PM_KIND_LIST, PM_KIND_DICT, PM_KIND_CLASS, PM_KIND_INSTANCE,
    PM_KIND_WEAKREF, PM_KIND_COUNT
};

enum pm_kind pm_object_kind(const pm_object_t *o);
const char *pm_object_type_name(const pm_object_t *o);
bool pm_object_is_gc(const pm_object_t *o);     /* the type has a GC header */
/* sys.getsizeof(o): __sizeof__ plus the GC header (and pre-header) if any. */
size_t pm_object_sizeof(const pm_object_t *o);
/* hash(o), equality as Python's == for the value types, identity otherwise. */
int64_t pm_object_hash(pm_objspace_t *sp, pm_object_t *o);
bool pm_object_equal(pm_object_t *a, pm_object_t *b);

pm_object_t *pm_none(pm_objspace_t *sp);            /* borrowed singletons */
pm_object_t *pm_bool(pm_objspace_t *sp, bool v);

pm_object_t *pm_int_new(pm_objspace_t *sp, int64_t v);
/* An int of `bits` significant bits (value 2**bits - 1): sized by 30-bit digits. */
pm_object_t *pm_int_new_bits(pm_objspace_t *sp, unsigned bits, bool negative);
bool pm_int_as_int64(const pm_object_t *o, int64_t *out);
pm_object_t *pm_float_new(pm_objspace_t *sp, double v);
double pm_float_value(const pm_object_t *o);

/* ASCII only (bytes >= 0x80 are rejected with PM_ERR_VALUE). */
pm_object_t *pm_str_new(pm_objspace_t *sp, const char *s, size_t n);
pm_object_t *pm_str_new_interned(pm_objspace_t *sp, const char *s, size_t n);
const char *pm_str_data(const pm_object_t *o, size_t *len);
bool pm_str_is_interned(const pm_object_t *o);
size_t pm_intern_count(const pm_objspace_t *sp);
pm_object_t *pm_bytes_new(pm_objspace_t *sp, const void *p, size_t n);

/* Items are borrowed (the tuple takes its own references). n == 0 gives the
 * empty-tuple singleton. */
pm_object_t *pm_tuple_new(pm_objspace_t *sp, size_t n, pm_object_t *const *items);
size_t pm_tuple_size(const pm_object_t *t);
pm_object_t *pm_tuple_get(const pm_object_t *t, size_t i);

pm_object_t *pm_list_new(pm_objspace_t *sp, size_t n, pm_object_t *const *items);
size_t pm_list_size(const pm_object_t *l);
size_t pm_list_allocated(const pm_object_t *l);
pm_object_t *pm_list_get(const pm_object_t *l, size_t i);
int pm_list_append(pm_objspace_t *sp, pm_object_t *l, pm_object_t *item);
/* Python's list.insert: index clamped to [0, len] (negative counts from the end). */
int pm_list_insert(pm_objspace_t *sp, pm_object_t *l, int64_t index, pm_object_t *item);
int pm_list_set(pm_objspace_t *sp, pm_object_t *l, int64_t index, pm_object_t *item);
int pm_list_delete(pm_objspace_t *sp, pm_object_t *l, int64_t index);
int pm_list_clear(pm_objspace_t *sp, pm_object_t *l);

pm_object_t *pm_dict_new(pm_objspace_t *sp);
size_t pm_dict_size(const pm_object_t *d);
pm_object_t *pm_dict_get(pm_objspace_t *sp, pm_object_t *d, pm_object_t *key);
int pm_dict_set(pm_objspace_t *sp, pm_object_t *d, pm_object_t *key, pm_object_t *value);
/* 0 removed, -1 error (PM_ERR_KEY when absent). */
int pm_dict_delete(pm_objspace_t *sp, pm_object_t *d, pm_object_t *key);
int pm_dict_clear(pm_objspace_t *sp, pm_object_t *d);
/* Bytes of the keys object (0 for the shared empty keys). */
size_t pm_dict_keys_bytes(const pm_object_t *d);
/* Iteration in insertion order: *pos starts at 0; returns false at the end. */
bool pm_dict_next(const pm_object_t *d, size_t *pos, pm_object_t **key, pm_object_t **value);

/* A user class. slots == NULL: instances have a __dict__ and __weakref__.
 * Otherwise the names listed become slots; "__dict__" and "__weakref__" in
 * the list add those. */
pm_object_t *pm_class_new(pm_objspace_t *sp, const char *name, size_t nslots,
                          const char *const *slots);
/* Gives the class a tp_finalize (__del__, PEP 442) and/or a legacy tp_del;
 * both call the space's hooks. -1 if cls is not a user class. */
int pm_class_set_finalizers(pm_object_t *cls, bool finalize, bool legacy_del);
const char *pm_class_name(const pm_object_t *cls);
pm_object_t *pm_instance_new(pm_objspace_t *sp, pm_object_t *cls);
pm_object_t *pm_object_class(const pm_object_t *inst);     /* borrowed */
/* Attributes of instances (slots, then __dict__) and classes (their dict). */
int pm_setattr(pm_objspace_t *sp, pm_object_t *o, const char *name, pm_object_t *value);
pm_object_t *pm_getattr(pm_objspace_t *sp, pm_object_t *o, const char *name); /* borrowed */
int pm_delattr(pm_objspace_t *sp, pm_object_t *o, const char *name);
bool pm_instance_has_dict(const pm_object_t *inst);        /* materialised __dict__ */
pm_object_t *pm_instance_dict(const pm_object_t *inst);    /* that __dict__ (borrowed), or NULL */

/* weakref.ref(obj[, callback]). Only classes and instances whose class has
 * __weakref__ can be referenced (as in CPython, lists, dicts, ints... cannot):
 * PM_ERR_TYPE otherwise. Without a callback an existing plain ref is reused. */
pm_object_t *pm_weakref_new(pm_objspace_t *sp, pm_object_t *obj, pm_object_t *callback);
pm_object_t *pm_weakref_get(pm_objspace_t *sp, pm_object_t *wr);  /* borrowed; None if dead */
size_t pm_weakref_count(const pm_object_t *obj);

/* ---- the collector (gc.c) ---- */

struct pm_gc_gen_stats {
    uint64_t collections;           /* collections of this generation */
    uint64_t collected;             /* objects freed (weakrefs freed by callbacks included) */
    uint64_t uncollectable;         /* objects moved to the garbage list's keeping */
    uint64_t time_ns;               /* wall time spent in these collections */
};

/* gc.collect(generation): returns collected + uncollectable (0 when a
 * collection is already running, e.g. called from a finalizer). */
int64_t pm_gc_collect(pm_objspace_t *sp, int generation);
void pm_gc_enable(pm_objspace_t *sp);
void pm_gc_disable(pm_objspace_t *sp);
bool pm_gc_isenabled(const pm_objspace_t *sp);
void pm_gc_set_threshold(pm_objspace_t *sp, int64_t t0, int64_t t1, int64_t t2);
void pm_gc_get_threshold(const pm_objspace_t *sp, int64_t out[3]);
void pm_gc_get_count(const pm_objspace_t *sp, int64_t out[3]);
void pm_gc_get_stats(const pm_objspace_t *sp, struct pm_gc_gen_stats out[3]);
/* Tracked objects of generation 0..2, all three for -1, the permanent
 * generation for 3. Does not allocate. */
size_t pm_gc_count_objects(const pm_objspace_t *sp, int generation);
/* gc.get_objects(generation): a new list (generation -1: all). */
pm_object_t *pm_gc_get_objects(pm_objspace_t *sp, int generation);
bool pm_gc_contains(const pm_objspace_t *sp, int generation, const pm_object_t *o);
/* Calls fn on every tracked object of a generation (0..2, 3: permanent, -1:
 * all four). fn must not track, untrack or free objects. */
void pm_gc_foreach(pm_objspace_t *sp, int generation, void (*fn)(void *ctx, pm_object_t *o),
                   void *ctx);
/* pm_gc_foreach that walks at most as many objects as the space tracks:
 * false, having stopped there, if the lists held more (a broken list that
 * does not return to its head: pm_gc_foreach would not end). */
bool pm_gc_foreach_bounded(pm_objspace_t *sp, int generation,
                           void (*fn)(void *ctx, pm_object_t *o), void *ctx);
void pm_gc_freeze(pm_objspace_t *sp);
void pm_gc_unfreeze(pm_objspace_t *sp);
size_t pm_gc_get_freeze_count(const pm_objspace_t *sp);
bool pm_gc_is_tracked(const pm_object_t *o);
bool pm_gc_is_finalized(const pm_object_t *o);
void pm_gc_track(pm_objspace_t *sp, pm_object_t *o);
void pm_gc_untrack(pm_objspace_t *sp, pm_object_t *o);
/* gc.garbage (borrowed list): objects with legacy finalizers found in
 * unreachable cycles. If appending to it fails (MemoryError), the collection
 * goes on: the objects not appended stay tracked, still counted
 * uncollectable, and the next collection retries the append (or frees them
 * once their class has no legacy finalizer); the space's error is left as it
 * was. See handle_legacy_finalizers in gc.c. */
pm_object_t *pm_gc_garbage(pm_objspace_t *sp);
/* gc.callbacks: called with start=true before and start=false after each
 * collection. At most PM_GC_MAX_CALLBACKS; returns -1 when full. */
#define PM_GC_MAX_CALLBACKS 8
typedef void (*pm_gc_callback_fn)(pm_objspace_t *sp, void *ctx, bool start, int generation,
                                  int64_t collected, int64_t uncollectable);
/* For each tracked object (permanent generation included), calls fn with its
 * references from outside the tracked objects: refcount minus references
 * from tracked containers. fn must not touch the space. Returns the number
 * of violations found on the way (as pm_objspace_check). */
unsigned long pm_gc_external_refs(pm_objspace_t *sp,
                                  void (*fn)(void *ctx, pm_object_t *o, int64_t external),
                                  void *ctx, char msg[PM_ERR_LEN]);
int pm_gc_add_callback(pm_objspace_t *sp, pm_gc_callback_fn fn, void *ctx);
void pm_gc_remove_callback(pm_objspace_t *sp, pm_gc_callback_fn fn, void *ctx);

/* ---- collectors (issue 20) ----
 * A space runs one collector, chosen by name at creation (config.gc):
 *   gen311  3.8-3.12: generations 0/1/2, thresholds 700/10/10, the
 *           long-lived-objects rule (the default)
 *   gen313  3.13, 3.14.5+, 3.15: the same design, threshold0 2000
 *   inc314  3.14.0-3.14.4: young generation plus increments of the old
 *           one (pending/visited spaces), work_to_do pacing
 *   pep848  PEP 848 draft: nursery, aging spaces, old pending/visited;
 *           young and old (incremental) collections alternate, triggered
 *           by gross bytes requested (threshold0 KiB, all requests: objects
 *           and their arrays), checked at GC allocations
 * gc/gcmodule.c describes each and where the model had to choose. */
/* NULL-terminated list of the collector names. */
const char *const *pm_gc_collector_names(void);
bool pm_gc_collector_known(const char *name);
const char *pm_gc_collector(const pm_objspace_t *sp);       /* this space's */
/* One line describing a collector (NULL if unknown). */
const char *pm_gc_collector_describe(const char *name);

/* What one collection did, given to the observer after it ends. */
struct pm_gc_event {
    int generation;                 /* 0, 1, 2 as gc.callbacks see it */
    const char *kind;               /* "gen0" "gen1" "gen2" "young" "increment" "old" "full" */
    bool automatic;                 /* triggered by allocation, not gc.collect() */
    uint64_t start_ns, pause_ns;    /* gc_clock at start, and end - start */
    uint64_t examined;              /* objects whose references the collection
                                       examined (update_refs candidates, resurrection
                                       passes included) */
    uint64_t examined_bytes;        /* sys.getsizeof of those objects */
    int64_t collected, uncollectable;
};
typedef void (*pm_gc_observer_fn)(pm_objspace_t *sp, void *ctx, const struct pm_gc_event *ev);
/* One observer (NULL: none). bytes: the collector also sums the bytes
 * examined (one getsizeof per candidate, inside the pause; else
 * examined_bytes is 0). */
void pm_gc_set_observer(pm_objspace_t *sp, pm_gc_observer_fn fn, void *ctx, bool bytes);

/* Garbage held: tracked objects unreachable from outside the tracked
 * objects (and what only they hold), i.e. cyclic garbage not yet freed.
 * An exact O(heap) reachability pass over every list, with a work stack of
 * 8 bytes per tracked object mapped from the OS and unmapped at the end
 * (never the space's backend: the request stream is unchanged; nor libc's
 * heap: a footprint read afterwards does not see it), restoring every
 * list's order and flags. Returns 0, or -1
 * (out of libc memory, or called during a collection). */
struct pm_gc_garbage_held {
    uint64_t objects;               /* GC objects unreachable */
    uint64_t bytes;                 /* their getsizeof, plus getsizeof of the
                                       non-GC objects only they reference */
    uint64_t tracked;               /* tracked objects walked */
};
int pm_gc_garbage_held(pm_objspace_t *sp, struct pm_gc_garbage_held *out);

PM_API_END
#endif
