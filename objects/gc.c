/* objects/gc.c — the generational cycle collector, following CPython 3.11's
 * algorithm (Modules/gcmodule.c) over our GC headers.
 *
 * Entry points: pm_gc_collect, pm_gc_enable/disable/isenabled,
 * pm_gc_set_threshold/get_threshold, pm_gc_get_count, pm_gc_get_stats,
 * pm_gc_count_objects, pm_gc_get_objects, pm_gc_contains, pm_gc_foreach,
 * pm_gc_foreach_bounded, pm_gc_freeze,
 * pm_gc_unfreeze, pm_gc_get_freeze_count, pm_gc_is_tracked,
 * pm_gc_is_finalized, pm_gc_track/untrack, pm_gc_garbage,
 * pm_gc_add_callback/remove_callback, pm_gc_external_refs,
 * pm_objspace_check; gc_track, gc_untrack, gc_collect_generations,
 * gc_space_init, gc_space_fini (internal).
 *
 * Counting: count[0] = GC allocations - GC frees (never below 0; objects
 * taken from or put on free lists are neither); a GC allocation that makes
 * count[0] > threshold[0] runs gc_collect_generations: the oldest generation
 * whose count exceeds its threshold is collected, except that generation 2
 * is skipped while long_lived_pending < long_lived_total / 4. Collecting
 * generation g: count[g+1] += 1, count[0..g] = 0.
 *
 * One collection of generation g (collect_main):
 *  1. merge generations 0..g-1 into g ("young"); old = g+1 (or young if g=2)
 *  2. update_refs: gc_refs = refcount, COLLECTING set (gc_prev holds gc_refs)
 *  3. subtract_refs: every young object's traverse decrements the gc_refs of
 *     the young objects it references: what is left counts outside references
 *  4. move_unreachable: objects with gc_refs > 0 are reachable, and so is all
 *     they reach; the rest move to `unreachable` (gc_next's UNREACHABLE bit)
 *  5. survivors: tuples holding only untracked items are untracked (and dicts
 *     in full collections); they move to `old`; long_lived_pending/total
 *  6. objects with a legacy tp_del, and all they reach, move to `finalizers`
 *  7. weakrefs to unreachable objects are cleared; callbacks run only for
 *     weakrefs that are themselves reachable
 *  8. tp_finalize runs on each unreachable object not yet finalized (once)
 *  9. if a finalizer ran, reachability inside `unreachable` is computed again:
 *     resurrected objects (and what they reach) move to `old`
 * 10. tp_clear on what is left breaks the cycles; refcounting frees the rest
 * 11. `finalizers` objects with tp_del are appended to gc.garbage, all move
 *     to `old`; a full collection also empties the free lists. If the append
 *     fails (MemoryError) the rest are not appended but stay tracked in
 *     `old`: a later collection finds them again (see
 *     handle_legacy_finalizers for the semantics and CPython's)
 * Returned: collected (freed by step 10, plus weakrefs freed after their
 * callback in step 7) + uncollectable (size of `finalizers`).
 *
 * Step 9 is skipped when no finalizer ran in step 8 (nothing else can make an
 * unreachable object reachable: every weakref to one is cleared first); 3.11
 * always runs it. A collection started while one runs (from a finalizer or a
 * callback) returns 0 at once, as in 3.11.
 */
#include "pm_objimpl.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>


static uint64_t gc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- gc_refs and flags in gc_prev ---- */

static inline uintptr_t gc_get_refs(const struct pm_gc_head *g) { return g->gc_prev >> PM_GC_PREV_SHIFT; }
static inline void gc_set_refs(struct pm_gc_head *g, uintptr_t refs)
{
    g->gc_prev = (g->gc_prev & ~GC_PREV_MASK) | (refs << PM_GC_PREV_SHIFT);
}
#define GC_PREV_KEEP (PM_GC_PREV_FINALIZED | PM_GC_PREV_OLDSPACE)
static inline void gc_reset_refs(struct pm_gc_head *g, uintptr_t refs)
{
    g->gc_prev = (g->gc_prev & GC_PREV_KEEP) | PM_GC_PREV_COLLECTING
                 | (refs << PM_GC_PREV_SHIFT);
}
static inline void gc_decref(struct pm_gc_head *g) { g->gc_prev -= (uintptr_t)1 << PM_GC_PREV_SHIFT; }
static inline bool gc_is_collecting(const struct pm_gc_head *g)
{
    return (g->gc_prev & PM_GC_PREV_COLLECTING) != 0;
}
static inline void gc_clear_collecting(struct pm_gc_head *g) { g->gc_prev &= ~PM_GC_PREV_COLLECTING; }

/* The old-space bit (inc314, pep848; gen311/gen313 never read it) */
static inline bool gc_is_visited(const struct pm_gc_state *gc, const struct pm_gc_head *g)
{
    return (g->gc_prev & PM_GC_PREV_OLDSPACE) == gc->visited;
}

static inline void gc_set_space(struct pm_gc_head *g, uintptr_t bit)
{
    g->gc_prev = (g->gc_prev & ~PM_GC_PREV_OLDSPACE) | bit;
}

/* ---- lists ---- */

static void gc_list_merge(struct pm_gc_head *from, struct pm_gc_head *to)
{
    if (gc_list_is_empty(from))
        return;
    struct pm_gc_head *to_tail = gc_prev(to);
    struct pm_gc_head *from_head = gc_next(from), *from_tail = gc_prev(from);
    to_tail->gc_next = (uintptr_t)from_head;
    gc_set_prev(from_head, to_tail);
    from_tail->gc_next = (uintptr_t)to;
    gc_set_prev(to, from_tail);
    gc_list_init(from);
}

static void gc_list_move(struct pm_gc_head *node, struct pm_gc_head *list)
{
    struct pm_gc_head *prev = gc_prev(node), *next = gc_next(node);
    prev->gc_next = (uintptr_t)next;
    gc_set_prev(next, prev);
    gc_list_append(node, list);
}

static size_t gc_list_size(const struct pm_gc_head *list)
{
    size_t n = 0;
    for (const struct pm_gc_head *g = gc_next(list); g != list; g = gc_next(g))
        n++;
    return n;
}

/* ---- invariants of the phases (pm_assert_expensive) ----
 *
 * Small predicates over one list, asserted after each phase of a collection
 * in the asan preset (PM_ASSERT_LEVEL 3; unevaluated below it), on the
 * lists that phase walked anyway: the checks cost a constant factor of the
 * collection's own work. A list of n
 * objects is walked at most bound + 1 steps (bound: the tracked objects), so
 * a broken ring makes a predicate false, never a loop. Never abort. */

enum gc_expect {
    GC_EXPECT_PLAIN,                /* a ring: prev links, no COLLECTING, no UNREACHABLE bit */
    GC_EXPECT_REFS,                 /* update_refs done: COLLECTING, gc_refs == refcount */
    GC_EXPECT_SUBTRACTED,           /* subtract_refs done: COLLECTING, gc_refs <= refcount */
    GC_EXPECT_UNREACHABLE,          /* move_unreachable's output: a ring, COLLECTING, each
                                       link but the last to the head tagged UNREACHABLE */
    GC_EXPECT_CANDIDATES,           /* tagging cleared: a ring, COLLECTING */
};

static __attribute__((unused)) bool gc_list_valid(const pm_objspace_t *sp,
                                                   const struct pm_gc_head *list,
                                                   enum gc_expect e)
{
    bool ring = e == GC_EXPECT_PLAIN || e == GC_EXPECT_UNREACHABLE || e == GC_EXPECT_CANDIDATES;
    bool collecting = e != GC_EXPECT_PLAIN;
    size_t bound = (size_t)sp->gc.heap_size, n = 0;
    const struct pm_gc_head *prev = list;
    uintptr_t next = list->gc_next;
    for (;;) {
        if (e == GC_EXPECT_UNREACHABLE && prev != list) {
            if (!(next & PM_GC_NEXT_UNREACHABLE))
                return false;
            next &= ~PM_GC_NEXT_UNREACHABLE;
        } else if (next & PM_GC_NEXT_UNREACHABLE) {
            return false;
        }
        const struct pm_gc_head *g = (const struct pm_gc_head *)next;
        if (!g)
            return false;
        if (ring && gc_prev(g) != prev)
            return false;
        if (g == list)
            return true;
        if (++n > bound || gc_is_collecting(g) != collecting)
            return false;
        const pm_object_t *op = from_gc(g);
        if (!type_is_gc(op->type) || op->refcnt <= 0)
            return false;
        if (e == GC_EXPECT_REFS && gc_get_refs(g) != (uintptr_t)op->refcnt)
            return false;
        if (e == GC_EXPECT_SUBTRACTED && gc_get_refs(g) > (uintptr_t)op->refcnt)
            return false;
        prev = g;
        next = g->gc_next;
    }
}

static int all_lists(pm_objspace_t *sp, struct pm_gc_head **lists, const char **names);

/* Between collections: every list of the space is a plain ring, and they
 * hold every tracked object. */
static __attribute__((unused)) bool gc_space_valid(pm_objspace_t *sp)
{
    struct pm_gc_head *lists[PM_GC_NUM_GENERATIONS + PM_GC_MAX_AGING + 1];
    const char *names[PM_GC_NUM_GENERATIONS + PM_GC_MAX_AGING + 1];
    int nl = all_lists(sp, lists, names);
    size_t n = 0;
    for (int l = 0; l < nl; l++) {
        if (!gc_list_valid(sp, lists[l], GC_EXPECT_PLAIN))
            return false;
        n += gc_list_size(lists[l]);
    }
    return (int64_t)n == sp->gc.heap_size;
}

void gc_track(pm_objspace_t *sp, pm_object_t *o)
{
    pm_assert_internal(type_is_gc(o->type) && !obj_is_tracked(o));
    struct pm_gc_head *g = as_gc(o);
    g->gc_prev |= sp->gc.track_bit;
    gc_list_append(g, &sp->gc.gen[0].head);
    sp->gc.heap_size++;
}

void gc_untrack(pm_objspace_t *sp, pm_object_t *o)
{
    struct pm_gc_head *g = as_gc(o);
    if (!g->gc_next)
        return;
    gc_list_remove(g);
    g->gc_prev &= PM_GC_PREV_FINALIZED;
    sp->gc.heap_size--;
}

void pm_gc_track(pm_objspace_t *sp, pm_object_t *o)
{
    if (type_is_gc(o->type) && !obj_is_tracked(o))
        gc_track(sp, o);
}

void pm_gc_untrack(pm_objspace_t *sp, pm_object_t *o)
{
    if (type_is_gc(o->type))
        gc_untrack(sp, o);
}

bool pm_gc_is_tracked(const pm_object_t *o) { return type_is_gc(o->type) && obj_is_tracked(o); }

bool pm_gc_is_finalized(const pm_object_t *o)
{
    return type_is_gc(o->type) && (as_gc(o)->gc_prev & PM_GC_PREV_FINALIZED);
}

/* ---- traversal with fast paths for the common containers ---- */

#define TRAVERSE_INLINE(op, VISIT, ARG)                                         \
    do {                                                                        \
        const struct pm_type *tp_ = (op)->type;                                 \
        if (tp_ == &pm_type_list) {                                             \
            struct pm_list *l_ = (struct pm_list *)(op);                        \
            for (int64_t i_ = 0; i_ < l_->size; i_++)                           \
                if (l_->item[i_])                                               \
                    VISIT(l_->item[i_], ARG);                                   \
        } else if (tp_ == &pm_type_tuple) {                                     \
            struct pm_tuple *t_ = (struct pm_tuple *)(op);                      \
            for (int64_t i_ = 0; i_ < t_->size; i_++)                           \
                if (t_->item[i_])                                               \
                    VISIT(t_->item[i_], ARG);                                   \
        } else {                                                                \
            tp_->traverse((op), visit_##VISIT, (ARG));                          \
        }                                                                       \
    } while (0)

/* subtract_refs' visitor */
static inline void decref_ref(pm_object_t *o, void *arg)
{
    (void)arg;
    if (type_is_gc(o->type)) {
        struct pm_gc_head *g = as_gc(o);
        if (gc_is_collecting(g))
            gc_decref(g);
    }
}
static int visit_decref_ref(pm_object_t *o, void *arg)
{
    decref_ref(o, arg);
    return 0;
}

/* move_unreachable's visitor: o is referenced by a reachable object. */
static inline void reachable_ref(pm_object_t *o, void *arg)
{
    struct pm_gc_head *young = arg;
    if (!type_is_gc(o->type))
        return;
    struct pm_gc_head *g = as_gc(o);
    /* objects of other generations, and young objects already scanned, have
     * COLLECTING clear */
    if (!gc_is_collecting(g))
        return;
    if (g->gc_next & PM_GC_NEXT_UNREACHABLE) {
        /* tentatively moved to unreachable: bring it back to the end of
         * young, where the scan will reach it again. The unreachable list's
         * next pointers carry the bit, so unlink by hand. */
        struct pm_gc_head *prev = gc_prev(g);
        struct pm_gc_head *next = (struct pm_gc_head *)(g->gc_next & ~PM_GC_NEXT_UNREACHABLE);
        prev->gc_next = g->gc_next;         /* keeps the bit */
        gc_set_prev(next, prev);
        gc_list_append(g, young);
        gc_set_refs(g, 1);
    } else if (gc_get_refs(g) == 0) {
        gc_set_refs(g, 1);                  /* not scanned yet: mark reachable */
    }
}
static int visit_reachable_ref(pm_object_t *o, void *arg)
{
    reachable_ref(o, arg);
    return 0;
}

static size_t update_refs(struct pm_gc_head *containers)
{
    size_t n = 0;
    for (struct pm_gc_head *g = gc_next(containers); g != containers; g = gc_next(g)) {
        pm_object_t *op = from_gc(g);
        pm_assert_internal(op->refcnt > 0);
        gc_reset_refs(g, op->refcnt);
        n++;
    }
    return n;
}

/* The bytes examined (observer set): getsizeof of every candidate. */
static uint64_t list_bytes(const struct pm_gc_head *list)
{
    uint64_t b = 0;
    for (const struct pm_gc_head *g = gc_next(list); g != list; g = gc_next(g))
        b += pm_object_sizeof(from_gc(g));
    return b;
}

static void subtract_refs(struct pm_gc_head *containers)
{
    for (struct pm_gc_head *g = gc_next(containers); g != containers; g = gc_next(g)) {
        pm_object_t *op = from_gc(g);
        __builtin_prefetch(gc_next(g));
        TRAVERSE_INLINE(op, decref_ref, NULL);
    }
}

/* What move_unreachable saw among the reachable objects, so that later
 * passes over them can be skipped when they would do nothing. */
struct reach_counts {
    size_t reachable;               /* objects left in young */
    size_t tuples, dicts;           /* of which tuples, dicts */
};

static void move_unreachable(struct pm_gc_head *young, struct pm_gc_head *unreachable,
                             struct reach_counts *rc)
{
    struct pm_gc_head *prev = young;
    struct pm_gc_head *g = gc_next(young);
    size_t reachable = 0, tuples = 0, dicts = 0;
    while (g != young) {
        if (gc_get_refs(g)) {
            /* reachable from outside: everything it references is too. The
             * traversal may append to young, so read next only after it. */
            pm_object_t *op = from_gc(g);
            TRAVERSE_INLINE(op, reachable_ref, young);
            g->gc_prev = (g->gc_prev & GC_PREV_KEEP) | (uintptr_t)prev;
            prev = g;
            reachable++;
            tuples += op->type == &pm_type_tuple;
            dicts += op->type == &pm_type_dict;
        } else {
            /* maybe unreachable: move it (young is singly linked here) */
            prev->gc_next = g->gc_next;
            struct pm_gc_head *last = gc_prev(unreachable);
            last->gc_next = PM_GC_NEXT_UNREACHABLE | (uintptr_t)g;
            gc_set_prev(g, last);
            g->gc_next = PM_GC_NEXT_UNREACHABLE | (uintptr_t)unreachable;
            unreachable->gc_prev = (uintptr_t)g;
        }
        g = (struct pm_gc_head *)prev->gc_next;
    }
    young->gc_prev = (uintptr_t)prev;
    unreachable->gc_next &= ~PM_GC_NEXT_UNREACHABLE;
    if (rc)
        *rc = (struct reach_counts){reachable, tuples, dicts};
}

static void deduce_unreachable(pm_objspace_t *sp, struct pm_gc_head *base,
                               struct pm_gc_head *unreachable, struct reach_counts *rc)
{
    if (sp->gc.observe_bytes)
        sp->gc.examined_bytes += list_bytes(base);
    sp->gc.examined += update_refs(base);
    pm_assert_expensive(gc_list_valid(sp, base, GC_EXPECT_REFS));
    subtract_refs(base);
    pm_assert_expensive(gc_list_valid(sp, base, GC_EXPECT_SUBTRACTED));
    gc_list_init(unreachable);
    move_unreachable(base, unreachable, rc);
    pm_assert_expensive(gc_list_valid(sp, base, GC_EXPECT_PLAIN) &&
                        gc_list_valid(sp, unreachable, GC_EXPECT_UNREACHABLE) &&
                        (!rc || rc->reachable == gc_list_size(base)));
}

/* Survivors: untrack atomic tuples (and dicts when `full`); returns how many
 * were untracked. */
static size_t survivors_untrack(pm_objspace_t *sp, struct pm_gc_head *young, bool full)
{
    size_t untracked = 0;
    struct pm_gc_head *next;
    for (struct pm_gc_head *g = gc_next(young); g != young; g = next) {
        next = gc_next(g);
        pm_object_t *op = from_gc(g);
        if (op->type == &pm_type_tuple)
            tuple_maybe_untrack(sp, op);
        else if (full && op->type == &pm_type_dict)
            dict_maybe_untrack(sp, op);
        else
            continue;
        untracked += g->gc_next == 0;
    }
    return untracked;
}

/* What the unreachable set holds, found in the pass that clears the
 * UNREACHABLE bits and moves out objects with legacy finalizers: the later
 * passes for weakrefs and finalizers run only if there is work for them. */
struct unreach_info {
    size_t n;                       /* objects left in unreachable */
    bool weakrefs;                  /* a weakref, or an object with weakrefs */
    bool finalizers;                /* an object with tp_finalize not yet run */
};

static void move_legacy_finalizers(struct pm_gc_head *unreachable, struct pm_gc_head *finalizers,
                                   struct unreach_info *info)
{
    struct pm_gc_head *next;
    size_t n = 0;
    bool weak = false, fin = false;
    for (struct pm_gc_head *g = gc_next(unreachable); g != unreachable; g = next) {
        pm_assert_internal(g->gc_next & PM_GC_NEXT_UNREACHABLE);
        g->gc_next &= ~PM_GC_NEXT_UNREACHABLE;
        next = gc_next(g);
        pm_object_t *op = from_gc(g);
        const struct pm_type *tp = op->type;
        if (tp->del) {
            gc_clear_collecting(g);
            gc_list_move(g, finalizers);
            continue;
        }
        n++;
        weak |= tp == &pm_type_weakref || (tp->weaklistoffset && *weaklist_ptr(op));
        fin |= tp->finalize && !(g->gc_prev & PM_GC_PREV_FINALIZED);
    }
    *info = (struct unreach_info){n, weak, fin};
}

static int visit_move(pm_object_t *o, void *arg)
{
    if (type_is_gc(o->type)) {
        struct pm_gc_head *g = as_gc(o);
        if (gc_is_collecting(g)) {
            gc_list_move(g, arg);
            gc_clear_collecting(g);
        }
    }
    return 0;
}

/* Returns how many objects came over from the unreachable set. */
static size_t move_legacy_finalizer_reachable(struct pm_gc_head *finalizers)
{
    size_t before = 0, after = 0;
    for (struct pm_gc_head *g = gc_next(finalizers); g != finalizers; g = gc_next(g))
        before++;
    for (struct pm_gc_head *g = gc_next(finalizers); g != finalizers; g = gc_next(g)) {
        pm_object_t *op = from_gc(g);
        op->type->traverse(op, visit_move, finalizers);
        after++;
    }
    return after - before;
}

static int64_t handle_weakrefs(pm_objspace_t *sp, struct pm_gc_head *unreachable,
                               struct pm_gc_head *old)
{
    struct pm_gc_head wrcb_to_call;
    gc_list_init(&wrcb_to_call);
    int64_t freed = 0;
    for (struct pm_gc_head *g = gc_next(unreachable); g != unreachable; g = gc_next(g)) {
        pm_object_t *op = from_gc(g);
        if (op->type == &pm_type_weakref)
            weakref_clear_ref(sp, (struct pm_weakref *)op);   /* garbage weakref: no callback */
        if (!op->type->weaklistoffset)
            continue;
        struct pm_weakref **list = weaklist_ptr(op);
        while (*list) {
            struct pm_weakref *wr = *list;
            weakref_clear_ref(sp, wr);
            if (!wr->callback)
                continue;
            struct pm_gc_head *wg = as_gc(&wr->ob);
            if (gc_is_collecting(wg))
                continue;           /* the weakref is garbage too: no callback */
            pm_incref(&wr->ob);
            gc_list_move(wg, &wrcb_to_call);
        }
    }
    while (!gc_list_is_empty(&wrcb_to_call)) {
        struct pm_gc_head *g = gc_next(&wrcb_to_call);
        struct pm_weakref *wr = (struct pm_weakref *)from_gc(g);
        weakref_call_callback(sp, wr);
        pm_decref(sp, &wr->ob);
        if (gc_next(&wrcb_to_call) == g) {
            /* still alive: to `old`. It may come from outside the
             * collected region (the pending space, another aging space);
             * under inc314 and pep848 every collection's `old` is the
             * visited space, so it takes the visited bit (gen311/gen313
             * never read it). tests/test_gc.c
             * test_weakref_callback_from_old_space. */
            gc_set_space(g, sp->gc.visited);
            gc_list_move(g, old);
        } else {
            freed++;
        }
    }
    return freed;
}

/* tp_finalize on each object once; returns how many ran. */
static size_t finalize_garbage(pm_objspace_t *sp, struct pm_gc_head *collectable)
{
    struct pm_gc_head seen;
    gc_list_init(&seen);
    size_t ran = 0;
    while (!gc_list_is_empty(collectable)) {
        struct pm_gc_head *g = gc_next(collectable);
        pm_object_t *op = from_gc(g);
        gc_list_move(g, &seen);
        if (!(g->gc_prev & PM_GC_PREV_FINALIZED) && op->type->finalize) {
            g->gc_prev |= PM_GC_PREV_FINALIZED;
            pm_incref(op);
            op->type->finalize(sp, op);
            ran++;
            pm_decref(sp, op);
        }
    }
    gc_list_merge(&seen, collectable);
    return ran;
}

static void handle_resurrected_objects(pm_objspace_t *sp, struct pm_gc_head *unreachable,
                                       struct pm_gc_head *still_unreachable,
                                       struct pm_gc_head *old)
{
    for (struct pm_gc_head *g = gc_next(unreachable); g != unreachable; g = gc_next(g))
        gc_clear_collecting(g);
    deduce_unreachable(sp, unreachable, still_unreachable, NULL);
    for (struct pm_gc_head *g = gc_next(still_unreachable); g != still_unreachable;
         g = gc_next(g))
        g->gc_next &= ~PM_GC_NEXT_UNREACHABLE;
    gc_list_merge(unreachable, old);
}

static void delete_garbage(pm_objspace_t *sp, struct pm_gc_head *collectable,
                           struct pm_gc_head *old)
{
    while (!gc_list_is_empty(collectable)) {
        struct pm_gc_head *g = gc_next(collectable);
        pm_object_t *op = from_gc(g);
        pm_assert_internal(op->refcnt > 0);
        if (op->type->clear) {
            pm_incref(op);
            op->type->clear(sp, op);
            pm_decref(sp, op);
        }
        if (gc_next(collectable) == g) {
            gc_clear_collecting(g);     /* survived its clear: may die later */
            gc_list_move(g, old);
        }
    }
}

/* Step 11: objects with a legacy tp_del go to gc.garbage, then the whole
 * `finalizers` set (those and what they reach) moves to `old`.
 *
 * When the append fails (the backend refused the growth of gc.garbage's
 * item array: MemoryError), we stop appending and carry on, as 3.11 does
 * (handle_legacy_finalizers: _PyErr_Clear, break). CPython up to 3.7 kept
 * the exception set instead and collect() ended in Py_FatalError("unexpected
 * exception during garbage collection"); a library that never exits cannot
 * do that, and aborting a collection half-way would leave the lists in the
 * middle of a move. What the failure leaves, and why it is safe:
 *  - every object of `finalizers` is in `old` with COLLECTING and the
 *    UNREACHABLE bit clear, its refcount untouched: an ordinary tracked
 *    object. The ones appended are reachable from gc.garbage; the others are
 *    referenced by nothing but their own cycle, exactly as before the
 *    collection.
 *  - the next collection that reaches them finds the unappended ones
 *    unreachable again, counts them uncollectable again and retries the
 *    append; once their class loses its legacy finalizer
 *    (pm_class_set_finalizers) a collection frees them like any cycle. So a
 *    failed append loses nothing and leaks nothing: it only delays the
 *    objects' appearance in gc.garbage.
 *  - the collection still returns (and counts in the stats) every object of
 *    `finalizers` as uncollectable, appended or not (3.11 does the same).
 *  - the space's last error is what it was before the collection: a
 *    collection is not a failed call (3.11 clears the MemoryError too), and
 *    a stale PM_ERR_NOMEM would make a later NULL without an error, such as
 *    pm_dict_get's "no such key", read as a MemoryError. The refused request
 *    shows in pm_objspace_stats' failed_requests. */
static void handle_legacy_finalizers(pm_objspace_t *sp, struct pm_gc_head *finalizers,
                                     struct pm_gc_head *old)
{
    if (gc_list_is_empty(finalizers))
        return;
    bool append = sp->gc.garbage != NULL;
    enum pm_err_kind err_kind = sp->err_kind;
    char err[PM_ERR_LEN];
    memcpy(err, sp->err, sizeof err);
    for (struct pm_gc_head *g = gc_next(finalizers); g != finalizers && append; g = gc_next(g)) {
        pm_object_t *op = from_gc(g);
        if (op->type->del && pm_list_append(sp, sp->gc.garbage, op) < 0) {
            append = false;         /* MemoryError: the rest stay in `old` only */
            sp->err_kind = err_kind;
            memcpy(sp->err, err, sizeof err);
        }
    }
    gc_list_merge(finalizers, old);
}

void gc_clear_freelists(pm_objspace_t *sp)
{
    tuple_clear_freelist(sp);
    float_clear_freelist(sp);
    list_clear_freelist(sp);
    dict_clear_freelist(sp);
}

/* ---- one collection of a region (all collectors) ----
 *
 * Collects the objects of `young`: survivors (and resurrected objects) go to
 * `old`; young == old is a full collection of that list. untrack_dicts: the
 * survivors pass also untracks dicts (3.11's full collections). */
struct region {
    size_t candidates;              /* objects of young at the start */
    size_t survivors;               /* reachable, minus tuples/dicts untracked */
    int64_t collected, uncollectable;
};

static void collect_region(pm_objspace_t *sp, struct pm_gc_head *young, struct pm_gc_head *old,
                           bool untrack_dicts, struct region *r)
{
    uint64_t examined0 = sp->gc.examined;
    struct pm_gc_head unreachable;
    struct reach_counts rc;
    deduce_unreachable(sp, young, &unreachable, &rc);
    r->candidates = (size_t)(sp->gc.examined - examined0);

    bool full = young == old;
    size_t survivors = rc.reachable;
    if (rc.tuples || (untrack_dicts && rc.dicts))
        survivors -= survivors_untrack(sp, young, untrack_dicts);
    r->survivors = survivors;
    if (!full)
        gc_list_merge(young, old);

    struct pm_gc_head finalizers;
    gc_list_init(&finalizers);
    struct unreach_info ui;
    move_legacy_finalizers(&unreachable, &finalizers, &ui);
    if (!gc_list_is_empty(&finalizers))
        ui.n -= move_legacy_finalizer_reachable(&finalizers);
    pm_assert_expensive(gc_list_valid(sp, &unreachable, GC_EXPECT_CANDIDATES) &&
                        gc_list_valid(sp, &finalizers, GC_EXPECT_PLAIN) &&
                        ui.n == gc_list_size(&unreachable));

    int64_t m = ui.weakrefs ? handle_weakrefs(sp, &unreachable, old) : 0;
    size_t ran = ui.finalizers ? finalize_garbage(sp, &unreachable) : 0;

    struct pm_gc_head final_unreachable;
    gc_list_init(&final_unreachable);
    if (ran) {
        handle_resurrected_objects(sp, &unreachable, &final_unreachable, old);
        ui.n = gc_list_size(&final_unreachable);
    } else {
        gc_list_merge(&unreachable, &final_unreachable);
    }
    pm_assert_expensive(ui.n == gc_list_size(&final_unreachable));
    m += (int64_t)ui.n;
    delete_garbage(sp, &final_unreachable, old);

    int64_t n = gc_list_is_empty(&finalizers) ? 0 : (int64_t)gc_list_size(&finalizers);
    handle_legacy_finalizers(sp, &finalizers, old);
    /* `old` is walked only when it is what was collected: a young
     * collection's checks stay proportional to its own work */
    pm_assert_expensive(!full || gc_list_valid(sp, old, GC_EXPECT_PLAIN));
    r->collected = m;
    r->uncollectable = n;
}

/* ---- the collectors ---- */

struct pm_gc_collector {
    const char *name;
    const char *describe;
    int64_t thresholds[PM_GC_NUM_GENERATIONS];
    bool incremental;               /* uses the pending/visited old spaces */
    bool untrack_dicts;             /* full collections untrack dicts (3.11-3.13) */
    bool young_visited;             /* pep848: young objects carry the visited bit */
    bool bytes_trigger;             /* pep848: threshold0 KiB of GC allocations */
    /* gc.collect(generation): returns the kind of collection it ran */
    const char *(*collect)(pm_objspace_t *sp, int generation, struct region *r);
    /* the automatic collection (gc_collect_generations): generation for the
     * callbacks, or -1 when none is due after all */
    int (*auto_generation)(pm_objspace_t *sp);
};

static uint64_t gc_clock(const pm_objspace_t *sp)
{
    return sp->cfg.gc_clock ? sp->cfg.gc_clock(sp->cfg.gc_clock_ctx) : gc_now_ns();
}


static void list_set_space(struct pm_gc_head *list, uintptr_t bit)
{
    for (struct pm_gc_head *g = gc_next(list); g != list; g = gc_next(g))
        gc_set_space(g, bit);
}

/* -- gen311, gen313: 3.11's collect() and collect_generations() -- */

static const char *const gen_kinds[PM_GC_NUM_GENERATIONS] = {"gen0", "gen1", "gen2"};

static const char *gen_collect(pm_objspace_t *sp, int generation, struct region *r)
{
    struct pm_gc_state *gc = &sp->gc;
    if (generation + 1 < PM_GC_NUM_GENERATIONS)
        gc->gen[generation + 1].count += 1;
    for (int i = 0; i <= generation; i++)
        gc->gen[i].count = 0;
    for (int i = 0; i < generation; i++)
        gc_list_merge(&gc->gen[i].head, &gc->gen[generation].head);
    struct pm_gc_head *young = &gc->gen[generation].head;
    struct pm_gc_head *old = generation < PM_GC_NUM_GENERATIONS - 1
                                 ? &gc->gen[generation + 1].head : young;
    bool full = young == old;
    collect_region(sp, young, old, full && gc->col->untrack_dicts, r);
    if (!full) {
        if (generation == PM_GC_NUM_GENERATIONS - 2)
            gc->long_lived_pending += (int64_t)r->survivors;
    } else {
        gc->long_lived_pending = 0;
        gc->long_lived_total = (int64_t)r->survivors;
    }
    if (generation == PM_GC_NUM_GENERATIONS - 1)
        gc_clear_freelists(sp);
    return gen_kinds[generation];
}

static int gen_auto_generation(pm_objspace_t *sp)
{
    struct pm_gc_state *gc = &sp->gc;
    for (int i = PM_GC_NUM_GENERATIONS - 1; i >= 0; i--) {
        if (gc->gen[i].count > gc->gen[i].threshold) {
            if (i == PM_GC_NUM_GENERATIONS - 1 && gc->long_lived_pending < gc->long_lived_total / 4)
                continue;
            return i;
        }
    }
    return -1;
}

/* -- inc314 and pep848: old space in two halves, pending and visited -- */

#define OLD_VISITED(gc) (&(gc)->gen[1].head)
#define OLD_PENDING(gc) (&(gc)->gen[2].head)

/* 3.14's completed_scavenge: the visited space becomes the pending one. The
 * lists stay fixed (gen[1] visited, gen[2] pending): visited objects move
 * to pending, and either the meaning of the bit flips (O(young): young
 * objects are given their bit again) or, with a permanent generation whose
 * objects must stay "visited", the moved objects get the other bit (O(old)). */
static void completed_scavenge(struct pm_gc_state *gc)
{
    pm_assert_internal(gc_list_is_empty(OLD_PENDING(gc)));
    if (gc_list_is_empty(&gc->permanent)) {
        gc->visited ^= PM_GC_PREV_OLDSPACE;
        gc->track_bit = gc->col->young_visited ? gc->visited : gc->visited ^ PM_GC_PREV_OLDSPACE;
        list_set_space(&gc->gen[0].head, gc->track_bit);
        for (int i = 0; i < gc->naging; i++)
            list_set_space(&gc->aging[i], gc->track_bit);
        gc_list_merge(OLD_VISITED(gc), OLD_PENDING(gc));
    } else {
        gc_list_merge(OLD_VISITED(gc), OLD_PENDING(gc));
        list_set_space(OLD_PENDING(gc), gc->visited ^ PM_GC_PREV_OLDSPACE);
    }
    gc->work_to_do = 0;
}

struct closure_arg {
    struct pm_gc_state *gc;
    struct pm_gc_head *container;
    size_t size;
};

/* visit_add_to_container: a tracked object not yet visited joins the region */
static int visit_add_to_region(pm_object_t *o, void *arg)
{
    struct closure_arg *ca = arg;
    if (!type_is_gc(o->type) || !obj_is_tracked(o))
        return 0;
    struct pm_gc_head *g = as_gc(o);
    if (!gc_is_visited(ca->gc, g)) {
        gc_set_space(g, ca->gc->visited);
        gc_list_move(g, ca->container);
        ca->size++;
    }
    return 0;
}

/* expand_region_transitively_reachable: from g (already in the container,
 * its last object) to the end of the container. */
static size_t expand_region(struct pm_gc_state *gc, struct pm_gc_head *container,
                            struct pm_gc_head *g)
{
    struct closure_arg ca = {gc, container, 0};
    for (; g != container; g = gc_next(g)) {
        pm_object_t *op = from_gc(g);
        op->type->traverse(op, visit_add_to_region, &ca);
    }
    return ca.size;
}

/* Takes the first pending object and the transitive closure of what it
 * reaches among unvisited objects into `increment`; returns how many. */
static size_t take_closure(struct pm_gc_state *gc, struct pm_gc_head *increment)
{
    struct pm_gc_head *g = gc_next(OLD_PENDING(gc));
    gc_list_move(g, increment);
    gc_set_space(g, gc->visited);
    return 1 + expand_region(gc, increment, g);
}

/* Full collection of either incremental collector: everything to visited,
 * one region, then a completed scan. */
static const char *old_full(pm_objspace_t *sp, struct region *r)
{
    struct pm_gc_state *gc = &sp->gc;
    struct pm_gc_head *visited = OLD_VISITED(gc);
    for (int i = gc->naging - 1; i >= 0; i--)
        gc_list_merge(&gc->aging[i], &gc->gen[0].head);
    gc_list_merge(&gc->gen[0].head, OLD_PENDING(gc));
    list_set_space(OLD_PENDING(gc), gc->visited);
    gc_list_merge(OLD_PENDING(gc), visited);
    collect_region(sp, visited, visited, false, r);
    for (int i = 0; i < PM_GC_NUM_GENERATIONS; i++)
        gc->gen[i].count = 0;
    completed_scavenge(gc);
    gc_clear_freelists(sp);
    return "full";
}

/* inc314 young collection (gc.collect(0)): survivors to visited */
static const char *inc_young(pm_objspace_t *sp, struct region *r)
{
    struct pm_gc_state *gc = &sp->gc;
    list_set_space(&gc->gen[0].head, gc->visited);
    collect_region(sp, &gc->gen[0].head, OLD_VISITED(gc), false, r);
    gc->gen[0].count = 0;
    gc->gen[1].count++;
    return "young";
}

#define SCAN_RATE_DIVISOR 10

static int64_t inc_scale_factor(const struct pm_gc_state *gc)
{
    return gc->gen[1].threshold < 2 ? 2 : gc->gen[1].threshold;
}

/* inc314: 3.14's gc_collect_increment, without the marking phase (the
 * object layer has no interpreter roots: stacks, sysdict, builtins). */
static const char *inc_increment(pm_objspace_t *sp, struct region *r)
{
    struct pm_gc_state *gc = &sp->gc;
    /* assess_work_to_do */
    int64_t new_objects = gc->gen[0].count;
    int64_t heap_fraction = gc->heap_size / SCAN_RATE_DIVISOR / inc_scale_factor(gc);
    if (heap_fraction > 2 * new_objects)
        heap_fraction = 2 * new_objects;
    gc->gen[0].count = 0;
    gc->work_to_do += new_objects + heap_fraction;
    if (gc->work_to_do < 0)
        return "increment";
    struct pm_gc_head increment;
    gc_list_init(&increment);
    list_set_space(&gc->gen[0].head, gc->visited);
    gc_list_merge(&gc->gen[0].head, &increment);
    int64_t size = (int64_t)gc_list_size(&increment);
    while (size < gc->work_to_do && !gc_list_is_empty(OLD_PENDING(gc)))
        size += (int64_t)take_closure(gc, &increment);
    collect_region(sp, &increment, OLD_VISITED(gc), false, r);
    gc->work_to_do -= size;
    if (gc_list_is_empty(OLD_PENDING(gc)))
        completed_scavenge(gc);
    return "increment";
}

static const char *inc_collect(pm_objspace_t *sp, int generation, struct region *r)
{
    switch (generation) {
    case 0:
        return inc_young(sp, r);
    case 1:
        return inc_increment(sp, r);
    default:
        return old_full(sp, r);
    }
}

static int inc_auto_generation(pm_objspace_t *sp)
{
    return sp->gc.gen[0].count > sp->gc.gen[0].threshold ? 1 : -1;
}

/* -- pep848 -- */

/* Aging spaces: threshold1 half spaces, rounded up to even, in pairs. */
static int pep_aging_spaces(const struct pm_gc_state *gc)
{
    int64_t t1 = gc->gen[1].threshold < 0 ? 0 : gc->gen[1].threshold;
    int64_t n = (t1 + 1) / 2;
    return n > PM_GC_MAX_AGING ? PM_GC_MAX_AGING : (int)n;
}

/* threshold1 changed: surplus spaces merge into the new oldest one */
static void pep_resize_aging(struct pm_gc_state *gc)
{
    int n = pep_aging_spaces(gc);
    for (int i = gc->naging - 1; i >= n && i > 0; i--)
        gc_list_merge(&gc->aging[i], &gc->aging[i - 1]);
    if (n == 0 && gc->naging > 0)
        gc_list_merge(&gc->aging[0], &gc->gen[0].head);
    gc->naging = n;
}

/* young_collection(): the oldest aging space (the nursery when there is
 * none) is collected, survivors to visited; spaces age by one. */
static const char *pep_young(pm_objspace_t *sp, struct region *r)
{
    struct pm_gc_state *gc = &sp->gc;
    pep_resize_aging(gc);
    int n = gc->naging;
    struct pm_gc_head *oldest = n ? &gc->aging[n - 1] : &gc->gen[0].head;
    collect_region(sp, oldest, OLD_VISITED(gc), false, r);
    gc->work_to_do += (int64_t)(r->candidates - (size_t)r->collected);
    for (int i = n - 1; i > 0; i--)
        gc_list_merge(&gc->aging[i - 1], &gc->aging[i]);
    if (n)
        gc_list_merge(&gc->gen[0].head, &gc->aging[0]);
    gc->gen[0].count = 0;
    return "young";
}

/* old_collection(): increments (transitive closures from the least recently
 * scanned pending object) while work_to_do > 0; survivors cost work, garbage
 * found adds twice its size. No scan_reachable: no interpreter roots. */
static const char *pep_old(pm_objspace_t *sp, struct region *r)
{
    struct pm_gc_state *gc = &sp->gc;
    *r = (struct region){0};
    while (gc->work_to_do > 0) {
        if (gc_list_is_empty(OLD_PENDING(gc))) {
            completed_scavenge(gc);
            break;
        }
        struct pm_gc_head increment;
        gc_list_init(&increment);
        take_closure(gc, &increment);
        struct region ri;
        collect_region(sp, &increment, OLD_VISITED(gc), false, &ri);
        int64_t survivors = (int64_t)ri.candidates - ri.collected;
        gc->work_to_do -= survivors;
        gc->work_to_do += 2 * ri.collected;
        r->candidates += ri.candidates;
        r->survivors += ri.survivors;
        r->collected += ri.collected;
        r->uncollectable += ri.uncollectable;
    }
    return "old";
}

static const char *pep_collect(pm_objspace_t *sp, int generation, struct region *r)
{
    switch (generation) {
    case 0:
        return pep_young(sp, r);
    case 1:
        return pep_old(sp, r);
    default:
        return old_full(sp, r);
    }
}

/* Called when alloc_bytes (gross bytes requested, every request: the PEP's
 * "gross memory allocated") reached threshold0 KiB: young and old alternate,
 * the first being old (the PEP's young_next = False). */
static int pep_auto_generation(pm_objspace_t *sp)
{
    struct pm_gc_state *gc = &sp->gc;
    gc->alloc_bytes = 0;
    bool young = gc->young_next;
    gc->young_next = !young;
    return young ? 0 : 1;
}

static const struct pm_gc_collector collectors[] = {
    {"gen311", "CPython 3.8-3.12: generations 0/1/2, thresholds 700/10/10, long-lived rule",
     {700, 10, 10}, false, true, false, false, gen_collect, gen_auto_generation},
    {"gen313", "CPython 3.13, 3.14.5+, 3.15: as gen311 with threshold0 2000",
     {2000, 10, 10}, false, true, false, false, gen_collect, gen_auto_generation},
    {"inc314", "CPython 3.14.0-3.14.4: young + increments of the old generation (no mark phase)",
     {2000, 10, 0}, true, false, false, false, inc_collect, inc_auto_generation},
    {"pep848", "PEP 848 draft: nursery, aging spaces, incremental old; threshold0 KiB",
     {2000, 10, 10}, true, false, true, true, pep_collect, pep_auto_generation},
};
#define NCOLLECTORS (sizeof collectors / sizeof collectors[0])

static const char *const collector_names[NCOLLECTORS + 1] = {"gen311", "gen313", "inc314",
                                                             "pep848", NULL};

const char *const *pm_gc_collector_names(void) { return collector_names; }

static const struct pm_gc_collector *collector_find(const char *name)
{
    if (!name || !*name)
        return &collectors[0];
    for (size_t i = 0; i < NCOLLECTORS; i++)
        if (!strcmp(collectors[i].name, name))
            return &collectors[i];
    return NULL;
}

bool pm_gc_collector_known(const char *name) { return collector_find(name) != NULL; }
const char *pm_gc_collector(const pm_objspace_t *sp) { return sp->gc.col->name; }

const char *pm_gc_collector_describe(const char *name)
{
    const struct pm_gc_collector *c = collector_find(name);
    return c ? c->describe : NULL;
}

void pm_gc_set_observer(pm_objspace_t *sp, pm_gc_observer_fn fn, void *ctx, bool bytes)
{
    sp->gc.observer = fn;
    sp->gc.observer_ctx = ctx;
    sp->gc.observe_bytes = fn && bytes;
}


/* One collection, timed, counted in the stats, given to the observer. */
static int64_t run_collection(pm_objspace_t *sp, int generation, int64_t *collected,
                              int64_t *uncollectable)
{
    struct pm_gc_state *gc = &sp->gc;
    gc->examined = gc->examined_bytes = 0;
    uint64_t t0 = gc_clock(sp);
    struct region r = {0};
    /* the whole space around a collection of the oldest generation only,
     * whose work is already proportional to it (every collection would make
     * a growing heap's run quadratic) */
    bool oldest = generation == PM_GC_NUM_GENERATIONS - 1;
    pm_assert_expensive(!oldest || gc_space_valid(sp));
    const char *kind = gc->col->collect(sp, generation, &r);
    pm_assert_expensive(!oldest || gc_space_valid(sp));
    uint64_t t1 = gc_clock(sp);
    struct pm_gc_gen_stats *st = &gc->stats[generation];
    st->collections++;
    st->collected += (uint64_t)r.collected;
    st->uncollectable += (uint64_t)r.uncollectable;
    st->time_ns += t1 - t0;
    *collected = r.collected;
    *uncollectable = r.uncollectable;
    if (gc->observer) {
        struct pm_gc_event ev = {
            .generation = generation, .kind = kind, .automatic = gc->automatic,
            .start_ns = t0, .pause_ns = t1 - t0, .examined = gc->examined,
            .examined_bytes = gc->examined_bytes, .collected = r.collected,
            .uncollectable = r.uncollectable,
        };
        gc->observer(sp, gc->observer_ctx, &ev);
    }
    return r.collected + r.uncollectable;
}

static void invoke_callbacks(pm_objspace_t *sp, bool start, int generation, int64_t collected,
                             int64_t uncollectable)
{
    struct pm_gc_state *gc = &sp->gc;
    int n = gc->ncb;
    if (!n)
        return;
    struct pm_gc_callback cbs[PM_GC_MAX_CALLBACKS];
    memcpy(cbs, gc->cb, sizeof cbs);    /* a callback may remove itself */
    for (int i = 0; i < n; i++)
        cbs[i].fn(sp, cbs[i].ctx, start, generation, collected, uncollectable);
}

static int64_t collect_with_callback(pm_objspace_t *sp, int generation)
{
    invoke_callbacks(sp, true, generation, 0, 0);
    int64_t collected, uncollectable;
    int64_t r = run_collection(sp, generation, &collected, &uncollectable);
    invoke_callbacks(sp, false, generation, collected, uncollectable);
    return r;
}

void gc_collect_generations(pm_objspace_t *sp)
{
    struct pm_gc_state *gc = &sp->gc;
    gc->collecting = true;
    int g = gc->col->auto_generation(sp);
    if (g >= 0) {
        gc->automatic = true;
        collect_with_callback(sp, g);
        gc->automatic = false;
    }
    gc->collecting = false;
}

int64_t pm_gc_collect(pm_objspace_t *sp, int generation)
{
    if (generation < 0 || generation >= PM_GC_NUM_GENERATIONS) {
        om_error(sp, PM_ERR_VALUE, "invalid generation %d", generation);
        return -1;
    }
    if (sp->gc.collecting)
        return 0;
    sp->gc.collecting = true;
    int64_t r = collect_with_callback(sp, generation);
    sp->gc.collecting = false;
    return r;
}

/* ---- the gc module's other functions ---- */

void pm_gc_enable(pm_objspace_t *sp) { sp->gc.enabled = true; }
void pm_gc_disable(pm_objspace_t *sp) { sp->gc.enabled = false; }
bool pm_gc_isenabled(const pm_objspace_t *sp) { return sp->gc.enabled; }

void pm_gc_set_threshold(pm_objspace_t *sp, int64_t t0, int64_t t1, int64_t t2)
{
    sp->gc.gen[0].threshold = t0;
    sp->gc.gen[1].threshold = t1;
    sp->gc.gen[2].threshold = t2;
    if (sp->gc.col->bytes_trigger && !sp->gc.collecting)
        pep_resize_aging(&sp->gc);
}

void pm_gc_get_threshold(const pm_objspace_t *sp, int64_t out[3])
{
    for (int i = 0; i < 3; i++)
        out[i] = sp->gc.gen[i].threshold;
}

void pm_gc_get_count(const pm_objspace_t *sp, int64_t out[3])
{
    for (int i = 0; i < 3; i++)
        out[i] = sp->gc.gen[i].count;
}

void pm_gc_get_stats(const pm_objspace_t *sp, struct pm_gc_gen_stats out[3])
{
    memcpy(out, sp->gc.stats, sizeof sp->gc.stats);
}

/* The lists holding generation g (0..2) under the space's collector, 3:
 * the permanent generation. inc314: 0 young, 1 none (3.14's gc.get_objects(1)
 * is empty), 2 the old spaces; pep848: 1 is the aging spaces. */
#define MAX_GEN_LISTS (PM_GC_MAX_AGING + 2)
static int gen_lists(const pm_objspace_t *sp, int generation, const struct pm_gc_head **out)
{
    const struct pm_gc_state *gc = &sp->gc;
    if (generation == 3) {
        out[0] = &gc->permanent;
        return 1;
    }
    if (!gc->col->incremental || generation == 0) {
        out[0] = &gc->gen[generation].head;
        return 1;
    }
    if (generation == 1) {
        for (int i = 0; i < gc->naging; i++)
            out[i] = &gc->aging[i];
        return gc->naging;
    }
    out[0] = OLD_VISITED(gc);
    out[1] = OLD_PENDING(gc);
    return 2;
}

size_t pm_gc_count_objects(const pm_objspace_t *sp, int generation)
{
    if (generation < 0)
        return pm_gc_count_objects(sp, 0) + pm_gc_count_objects(sp, 1)
               + pm_gc_count_objects(sp, 2);
    if (generation > 3)
        return 0;
    const struct pm_gc_head *lists[MAX_GEN_LISTS];
    int n = gen_lists(sp, generation, lists);
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += gc_list_size(lists[i]);
    return total;
}

bool pm_gc_contains(const pm_objspace_t *sp, int generation, const pm_object_t *o)
{
    if (generation < 0) {
        for (int i = 0; i < 3; i++)
            if (pm_gc_contains(sp, i, o))
                return true;
        return false;
    }
    const struct pm_gc_head *lists[MAX_GEN_LISTS];
    int n = gen_lists(sp, generation, lists);
    for (int i = 0; i < n; i++)
        for (const struct pm_gc_head *g = gc_next(lists[i]); g != lists[i]; g = gc_next(g))
            if (from_gc(g) == o)
                return true;
    return false;
}

pm_object_t *pm_gc_get_objects(pm_objspace_t *sp, int generation)
{
    if (generation < -1 || generation > 2) {
        om_error(sp, PM_ERR_VALUE, "generation parameter must be less than the number of "
                                   "available generations (%d)", PM_GC_NUM_GENERATIONS);
        return NULL;
    }
    pm_object_t *result = pm_list_new(sp, 0, NULL);
    if (!result)
        return NULL;
    int lo = generation < 0 ? 0 : generation, hi = generation < 0 ? 2 : generation;
    for (int i = lo; i <= hi; i++) {
        const struct pm_gc_head *lists[MAX_GEN_LISTS];
        int n = gen_lists(sp, i, lists);
        for (int k = 0; k < n; k++)
            for (const struct pm_gc_head *g = gc_next(lists[k]); g != lists[k]; g = gc_next(g)) {
                pm_object_t *op = from_gc(g);
                if (op == result)
                    continue;
                if (pm_list_append(sp, result, op) < 0) {
                    pm_decref(sp, result);
                    return NULL;
                }
            }
    }
    return result;
}

void pm_gc_foreach(pm_objspace_t *sp, int generation, void (*fn)(void *ctx, pm_object_t *o),
                   void *ctx)
{
    int lo = generation < 0 ? 0 : generation, hi = generation < 0 ? 3 : generation;
    for (int i = lo; i <= hi && i <= 3; i++) {
        const struct pm_gc_head *lists[MAX_GEN_LISTS];
        int n = gen_lists(sp, i, lists);
        for (int k = 0; k < n; k++)
            for (const struct pm_gc_head *g = gc_next(lists[k]); g != lists[k]; g = gc_next(g))
                fn(ctx, from_gc(g));
    }
}

bool pm_gc_foreach_bounded(pm_objspace_t *sp, int generation,
                           void (*fn)(void *ctx, pm_object_t *o), void *ctx)
{
    int lo = generation < 0 ? 0 : generation, hi = generation < 0 ? 3 : generation;
    int64_t left = sp->gc.heap_size;
    for (int i = lo; i <= hi && i <= 3; i++) {
        const struct pm_gc_head *lists[MAX_GEN_LISTS];
        int n = gen_lists(sp, i, lists);
        for (int k = 0; k < n; k++)
            for (const struct pm_gc_head *g = gc_next(lists[k]); g != lists[k]; g = gc_next(g)) {
                if (left-- <= 0)
                    return false;
                fn(ctx, from_gc(g));
            }
    }
    return true;
}

void pm_gc_freeze(pm_objspace_t *sp)
{
    struct pm_gc_state *gc = &sp->gc;
    if (gc->col->incremental) {
        /* 3.14: the permanent generation must be "visited" */
        for (int i = 0; i < gc->naging; i++) {
            list_set_space(&gc->aging[i], gc->visited);
            gc_list_merge(&gc->aging[i], &gc->permanent);
        }
        for (int i = 0; i < PM_GC_NUM_GENERATIONS; i++)
            list_set_space(&gc->gen[i].head, gc->visited);
    }
    for (int i = 0; i < PM_GC_NUM_GENERATIONS; i++) {
        gc_list_merge(&sp->gc.gen[i].head, &sp->gc.permanent);
        sp->gc.gen[0].count = 0;
    }
}

void pm_gc_unfreeze(pm_objspace_t *sp)
{
    /* incremental collectors: into the visited space (3.14's _PyGC_Unfreeze) */
    gc_list_merge(&sp->gc.permanent, sp->gc.col->incremental ? OLD_VISITED(&sp->gc)
                                                             : &sp->gc.gen[2].head);
}

size_t pm_gc_get_freeze_count(const pm_objspace_t *sp) { return gc_list_size(&sp->gc.permanent); }

pm_object_t *pm_gc_garbage(pm_objspace_t *sp) { return sp->gc.garbage; }

int pm_gc_add_callback(pm_objspace_t *sp, pm_gc_callback_fn fn, void *ctx)
{
    if (sp->gc.ncb >= PM_GC_MAX_CALLBACKS)
        return om_error(sp, PM_ERR_VALUE, "at most %d gc callbacks", PM_GC_MAX_CALLBACKS);
    sp->gc.cb[sp->gc.ncb].fn = fn;
    sp->gc.cb[sp->gc.ncb].ctx = ctx;
    sp->gc.ncb++;
    return 0;
}

void pm_gc_remove_callback(pm_objspace_t *sp, pm_gc_callback_fn fn, void *ctx)
{
    for (int i = 0; i < sp->gc.ncb; i++)
        if (sp->gc.cb[i].fn == fn && sp->gc.cb[i].ctx == ctx) {
            memmove(&sp->gc.cb[i], &sp->gc.cb[i + 1],
                    (size_t)(sp->gc.ncb - i - 1) * sizeof sp->gc.cb[0]);
            sp->gc.ncb--;
            return;
        }
}

/* ---- the space's collector state ---- */

void gc_space_init(pm_objspace_t *sp)
{
    struct pm_gc_state *gc = &sp->gc;
    gc->col = collector_find(sp->cfg.gc);
    if (!gc->col)
        gc->col = &collectors[0];       /* pm_objspace_create refused unknown names */
    for (int i = 0; i < PM_GC_NUM_GENERATIONS; i++) {
        gc_list_init(&gc->gen[i].head);
        gc->gen[i].threshold = gc->col->thresholds[i];
        gc->gen[i].count = 0;
    }
    for (int i = 0; i < PM_GC_MAX_AGING; i++)
        gc_list_init(&gc->aging[i]);
    /* the old-space bit: gen311/gen313 never read it (new objects get 0) */
    gc->visited = gc->col->incremental ? 0 : PM_GC_PREV_OLDSPACE;
    gc->track_bit = gc->col->young_visited ? gc->visited : 0;
    if (gc->col->incremental && !gc->col->young_visited)
        gc->track_bit = PM_GC_PREV_OLDSPACE;
    gc->work_to_do = gc->col->bytes_trigger ? -100000 : 0;
    gc->bytes_trigger = gc->col->bytes_trigger;
    gc->naging = gc->col->bytes_trigger ? pep_aging_spaces(gc) : 0;
    gc_list_init(&gc->permanent);
    gc->enabled = true;
    gc->garbage = pm_list_new(sp, 0, NULL);     /* _PyGC_Init */
    if (gc->garbage)
        sp->objects_alive--;                    /* the space's own */
}

static void intern_clear(pm_objspace_t *sp)
{
    pm_object_t *d = sp->interned;
    if (!d)
        return;
    /* give the dict its two references back (_PyUnicode_ClearInterned) */
    size_t pos = 0;
    pm_object_t *k;
    while (pm_dict_next(d, &pos, &k, NULL)) {
        k->refcnt += 2;
        ((struct pm_str *)k)->state &= ~STR_INTERNED;
    }
    sp->interned = NULL;
    sp->objects_alive++;
    pm_decref(sp, d);
}

void gc_space_fini(pm_objspace_t *sp)
{
    struct pm_gc_state *gc = &sp->gc;
    gc->ncb = 0;
    pm_object_t *garbage = gc->garbage;
    gc->garbage = NULL;
    if (garbage) {
        sp->objects_alive++;
        pm_decref(sp, garbage);
    }
    pm_gc_unfreeze(sp);
    /* Finalizers may make new garbage: collect again while a round changed
     * something (freed objects, or made or freed any through a finalizer).
     * Uncollectable cycles (legacy finalizers: there is no gc.garbage any more
     * to keep them) change nothing, so they cost one round, not eight; they
     * stay allocated and pm_objspace_destroy reports their blocks. */
    for (int round = 0; round < 8 && !gc->collecting; round++) {
        const struct pm_gc_gen_stats *st = &gc->stats[PM_GC_NUM_GENERATIONS - 1];
        uint64_t collected = st->collected, alive = sp->objects_alive;
        pm_gc_collect(sp, PM_GC_NUM_GENERATIONS - 1);
        if (st->collected == collected && sp->objects_alive == alive)
            break;
    }
    intern_clear(sp);
    gc_clear_freelists(sp);
}

/* ---- consistency check and external references ---- */

struct refs_walk {
    unsigned long bad;
    char *msg;
    void (*fn)(void *ctx, pm_object_t *o, int64_t external);
    void *ctx;
};

static void refs_bad(struct refs_walk *w, const char *fmt, const char *a, unsigned long b)
{
    if (w->bad++ == 0 && w->msg)
        snprintf(w->msg, PM_ERR_LEN, fmt, a, b);
}

static int visit_check_decref(pm_object_t *o, void *arg)
{
    if (!type_is_gc(o->type))
        return 0;
    struct pm_gc_head *g = as_gc(o);
    if (!gc_is_collecting(g))
        return 0;
    if (gc_get_refs(g) == 0)
        refs_bad(arg, "a tracked %s has more references from tracked objects than its "
                      "refcount (%lu)", o->type->name, o->refcnt);
    else
        gc_decref(g);
    return 0;
}

/* Every list of the space: generations, aging spaces, permanent. */
#define MAX_LISTS (PM_GC_NUM_GENERATIONS + PM_GC_MAX_AGING + 1)
static int all_lists(pm_objspace_t *sp, struct pm_gc_head **lists, const char **names)
{
    static const char *const aging_names[PM_GC_MAX_AGING] = {
        "aging0", "aging1", "aging2", "aging3", "aging4", "aging5", "aging6", "aging7",
        "aging8", "aging9", "aging10", "aging11", "aging12", "aging13", "aging14", "aging15"};
    int n = 0;
    for (int i = 0; i < PM_GC_NUM_GENERATIONS; i++) {
        names[n] = gen_kinds[i];
        lists[n++] = &sp->gc.gen[i].head;
    }
    for (int i = 0; i < sp->gc.naging; i++) {
        names[n] = aging_names[i];
        lists[n++] = &sp->gc.aging[i];
    }
    names[n] = "permanent";
    lists[n++] = &sp->gc.permanent;
    return n;
}

/* The old-space bit each list's objects must carry (incremental
 * collectors); -1: not checked. */
static intptr_t list_space(const pm_objspace_t *sp, const struct pm_gc_head *list)
{
    const struct pm_gc_state *gc = &sp->gc;
    if (!gc->col->incremental)
        return -1;
    if (list == OLD_VISITED(gc) || list == &gc->permanent)
        return (intptr_t)gc->visited;
    if (list == OLD_PENDING(gc))
        return (intptr_t)(gc->visited ^ PM_GC_PREV_OLDSPACE);
    return (intptr_t)gc->track_bit;     /* young, aging */
}

static unsigned long refs_walk_all(pm_objspace_t *sp, struct refs_walk *w)
{
    struct pm_gc_head *lists[MAX_LISTS];
    const char *names[MAX_LISTS];
    int nl = all_lists(sp, lists, names);
    uint64_t limit = sp->objects_alive + 1;
    /* links and flags first: only a sound list can be walked further */
    for (int l = 0; l < nl; l++) {
        struct pm_gc_head *list = lists[l];
        intptr_t space = list_space(sp, list);
        uint64_t n = 0;
        for (struct pm_gc_head *g = list; ; g = gc_next(g)) {
            struct pm_gc_head *next = (struct pm_gc_head *)(g->gc_next & ~PM_GC_NEXT_UNREACHABLE);
            if (!next || gc_prev(next) != g) {
                refs_bad(w, "list %s: broken link after %lu objects", names[l], (unsigned long)n);
                return w->bad;
            }
            if (next == list)
                break;
            pm_object_t *op = from_gc(next);
            if (next->gc_next & PM_GC_NEXT_UNREACHABLE || gc_is_collecting(next))
                refs_bad(w, "tracked %s with collection flags left set (%lu)", op->type->name, n);
            if (!type_is_gc(op->type) || op->refcnt == 0)
                refs_bad(w, "tracked object of type %s with refcount %lu", op->type->name,
                         op->refcnt);
            if (space >= 0 && (intptr_t)(next->gc_prev & PM_GC_PREV_OLDSPACE) != space)
                refs_bad(w, "list %s: object with the wrong old-space bit (%lu)", names[l],
                         (unsigned long)n);
            if (++n > limit) {
                refs_bad(w, "list %s does not return to its head (%lu objects)", names[l],
                         (unsigned long)n);
                return w->bad;
            }
        }
    }
    if (w->bad)
        return w->bad;
    for (int l = 0; l < nl; l++)
        update_refs(lists[l]);
    for (int l = 0; l < nl; l++)
        for (struct pm_gc_head *g = gc_next(lists[l]); g != lists[l]; g = gc_next(g)) {
            pm_object_t *op = from_gc(g);
            op->type->traverse(op, visit_check_decref, w);
        }
    for (int l = 0; l < nl; l++) {
        struct pm_gc_head *prev = lists[l];
        for (struct pm_gc_head *g = gc_next(lists[l]); g != lists[l]; g = gc_next(g)) {
            if (w->fn)
                w->fn(w->ctx, from_gc(g), (int64_t)gc_get_refs(g));
            g->gc_prev = (g->gc_prev & GC_PREV_KEEP) | (uintptr_t)prev;
            prev = g;
        }
        lists[l]->gc_prev = (uintptr_t)prev;
    }
    return w->bad;
}

/* ---- garbage held (measurement) ---- */

static int visit_mark_reachable(pm_object_t *o, void *arg)
{
    pm_object_t ***top = arg;
    if (!type_is_gc(o->type))
        return 0;
    struct pm_gc_head *g = as_gc(o);
    if (gc_is_collecting(g)) {
        gc_clear_collecting(g);
        *(*top)++ = o;
    }
    return 0;
}

struct held_walk {
    pm_objspace_t *sp;
    uint64_t bytes;
    int dir;                        /* -1: count down, +1: restore */
};

/* Non-GC referents of garbage: their refcount drops by one per reference
 * from the garbage; the ones reaching 0 are held only by it. Restored after. */
static int visit_nongc_held(pm_object_t *o, void *arg)
{
    struct held_walk *hw = arg;
    if (type_is_gc(o->type) || obj_is_static(hw->sp, o))
        return 0;
    if (hw->dir < 0) {
        if (--o->refcnt == 0)
            hw->bytes += pm_object_sizeof(o);
    } else {
        o->refcnt++;
    }
    return 0;
}

int pm_gc_garbage_held(pm_objspace_t *sp, struct pm_gc_garbage_held *out)
{
    *out = (struct pm_gc_garbage_held){0};
    if (sp->gc.collecting)
        return -1;
    struct pm_gc_head *lists[MAX_LISTS];
    const char *names[MAX_LISTS];
    int nl = all_lists(sp, lists, names);
    size_t n = 0;
    for (int l = 0; l < nl; l++)
        n += gc_list_size(lists[l]);
    out->tracked = n;
    /* mmap, not malloc: unmapped afterwards, so a footprint read after
     * the pass does not include it */
    size_t stack_bytes = (n + 1) * sizeof(pm_object_t *);
    void *mem = mmap(NULL, stack_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -1;
    pm_object_t **stack = mem;
    /* external references: as update_refs + subtract_refs over everything */
    for (int l = 0; l < nl; l++)
        update_refs(lists[l]);
    for (int l = 0; l < nl; l++)
        subtract_refs(lists[l]);
    /* reachable: COLLECTING cleared, from the externally referenced */
    pm_object_t **top = stack;
    for (int l = 0; l < nl; l++)
        for (struct pm_gc_head *g = gc_next(lists[l]); g != lists[l]; g = gc_next(g))
            if (gc_get_refs(g) && gc_is_collecting(g)) {
                gc_clear_collecting(g);
                *top++ = from_gc(g);
            }
    while (top > stack) {
        pm_object_t *op = *--top;
        op->type->traverse(op, visit_mark_reachable, &top);
    }
    struct held_walk hw = {sp, 0, -1};
    for (int dir = -1; dir <= 1; dir += 2) {
        hw.dir = dir;
        for (int l = 0; l < nl; l++)
            for (struct pm_gc_head *g = gc_next(lists[l]); g != lists[l]; g = gc_next(g)) {
                if (!gc_is_collecting(g))
                    continue;
                pm_object_t *op = from_gc(g);
                if (dir < 0) {
                    out->objects++;
                    hw.bytes += pm_object_sizeof(op);
                }
                op->type->traverse(op, visit_nongc_held, &hw);
            }
    }
    out->bytes = hw.bytes;
    /* restore prev pointers and flags */
    for (int l = 0; l < nl; l++) {
        struct pm_gc_head *prev = lists[l];
        for (struct pm_gc_head *g = gc_next(lists[l]); g != lists[l]; g = gc_next(g)) {
            g->gc_prev = (g->gc_prev & GC_PREV_KEEP) | (uintptr_t)prev;
            prev = g;
        }
        lists[l]->gc_prev = (uintptr_t)prev;
    }
    munmap(mem, stack_bytes);
    return 0;
}

unsigned long pm_objspace_check(pm_objspace_t *sp, char msg[PM_ERR_LEN])
{
    msg[0] = 0;
    if (sp->gc.collecting)
        return 0;                   /* the lists are in flux */
    struct refs_walk w = {.msg = msg};
    refs_walk_all(sp, &w);
    if (sp->trash_later && !w.bad++)
        snprintf(msg, PM_ERR_LEN, "trashcan list not empty outside a deallocation");
    return w.bad;
}

unsigned long pm_gc_external_refs(pm_objspace_t *sp,
                                  void (*fn)(void *ctx, pm_object_t *o, int64_t external),
                                  void *ctx, char msg[PM_ERR_LEN])
{
    msg[0] = 0;
    if (sp->gc.collecting)
        return 0;
    struct refs_walk w = {.msg = msg, .fn = fn, .ctx = ctx};
    return refs_walk_all(sp, &w);
}
