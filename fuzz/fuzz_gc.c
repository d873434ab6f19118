/* fuzz/fuzz_gc.c — the cycle collector (objects/gc.c) against an
 * independent reachability oracle.
 *
 * Input: operations on an object graph over debug:system (automatic
 * collection disabled, so that only the input's collections run and the
 * shadow is exact at every step). Each op is a byte (low 4 bits) and its
 * arguments; a node argument is a byte picking among the nodes reachable
 * from the roots (ops never touch an object the program could not reach):
 *   0-1  new instance of class (op >> 4) % 3      2 new list      3 new dict
 *   4    new tuple: count byte (0..4), node bytes
 *   5-7  link A B K: list A: insert B at K (after the marker) / append;
 *        dict A: A["kK"] = B; instance A: A.aK = B (K: one byte)
 *   8-9  unlink A K: del list item / dict key / attribute
 *   10   drop A: the harness's own reference to A goes
 *   11   weakref A with a callback (A an instance)
 *   12   partial collection gc.collect(byte % 2) (see examined)
 *   15   full collection (gc.collect(2))
 *   13   class (byte % 3) gets finalizers: byte >> 2 bit 0 tp_finalize,
 *        bit 1 legacy tp_del, bit 2: the finalizer resurrects (the
 *        harness takes a new reference to self)
 * Every input runs once per collector (gen311, gen313, inc314, pep848).
 *   14   clear gc.garbage
 * New objects are roots (the harness holds one reference). A list, dict or
 * tuple holds a hidden marker instance that dies exactly with it; every
 * instance node and every marker has a probe weakref, which is how the
 * oracle sees whether an object is alive.
 *
 * THE SHADOW: nodes with their out-edges (list items in order, dict values
 * and attributes by key), roots, gc.garbage as a multiset, the classes'
 * finalizer flags, each node's generation (see examined), each instance's
 * attribute storage (inline values, or a materialised __dict__ with a
 * generation of its own: see op_link; a younger __dict__ holds the
 * attributes from outside a collection of its instance's generation). New
 * objects enter generation 0. Refcount deaths cascade at once: an object no
 * root, live node or garbage entry refers to dies (a tp_finalize class:
 * finalized; a legacy class: tp_del), except that a tp_finalize object not
 * finalized yet whose finalizer resurrects survives (PEP 442: the finalizer
 * runs once, from the dealloc), is tracked again and so re-enters
 * generation 0. A collection examines a set S (all live nodes for a full
 * one, the nodes of the collected generations for a partial one; for an
 * increment of inc314 or pep848, gc.collect(1), the set the collector's
 * pacing chose, read back from what it did: op_increment); U = the
 * nodes of S not reachable from the roots, gc.garbage and the nodes outside
 * S; G = legacy objects of U; everything in U reachable from G is kept, the
 * rest of U is collected: its weakrefs cleared first, then tp_finalize once
 * per object not finalized yet; the resurrecting ones (and all they reach)
 * survive with a root; clearing the rest may drop the last references to
 * kept objects, which then die by refcount (or are resurrected from there,
 * into generation 0, off the collection's list of kept objects); the legacy
 * objects still on it are appended to gc.garbage (CPython's order:
 * delete_garbage, then handle_legacy_finalizers); the other survivors of S
 * go to the generation the collector moves them to.
 *
 * CHECKED after every op: every node is alive exactly when the shadow says
 * (probe weakrefs), every live node's reference count equals roots + edges
 * from live nodes + gc.garbage entries, tp_finalize ran exactly once on each
 * dead object of a finalizing class and at most once on any, tp_del on
 * exactly those that died by refcount with the flag, each callback weakref
 * fired exactly when its referent died and saw it dead, gc.garbage holds
 * the shadow's multiset; after every drop, collection and garbage clear,
 * and every 8 ops: every live node is tracked, in the generation list the
 * shadow says (pm_gc_contains' answer, read from one walk of the lists:
 * locate; pep848's aging spaces are one list there, which of them is
 * checked by the collections of the oldest), and
 * pm_objspace_check() is clean. At the end: roots
 * dropped, flags off, garbage cleared, a full collection leaves no node
 * alive, the space leaves no block.
 */
#include "fuzz_common.h"
#include "pm_object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GC_NODES 48             /* nodes per input */
#define GC_EDGES 12             /* out-edges per node */
#define GC_KEYS 8               /* dict keys k0..k7, attributes a0..a7 */
#define GC_WEAKREFS 16
#define GC_CLASSES 3

enum gk { GK_INSTANCE, GK_LIST, GK_DICT, GK_TUPLE };

/* the collectors the shadow knows (COL_OTHER: any other name, which is none
 * of these) */
enum gcol { COL_GEN311, COL_GEN313, COL_INC314, COL_PEP848, COL_OTHER };

struct gnode {
    enum gk kind;
    unsigned cls;               /* GK_INSTANCE: class index */
    pm_object_t *o;             /* valid while alive */
    uint32_t serial;            /* identity (addresses get reused) */
    pm_object_t *probe;         /* weakref to the instance or the marker */
    bool alive, rooted;
    /* edges: list items in order; dict/instance: edge[k] for key k, -1 if none */
    int edge[GC_EDGES];
    unsigned nedges;            /* list, tuple: items; dict/instance: GC_KEYS */
    unsigned gen;               /* the shadow's generation (see gen_of_collect) */
    bool probe_cleared;         /* the collector cleared its weakrefs (then resurrected) */
    bool retracked;             /* resurrected from a refcount death (see shadow_cascade) */
    /* GK_INSTANCE: its attributes live in inline values of `cap` entries
     * until a key does not fit, then in a materialised __dict__ (a GC object
     * of its own, tracked in generation 0 when made: see op_link) */
    unsigned cap;
    bool hasdict, dtracked;
    unsigned dgen;
    unsigned finalized;         /* tp_finalize calls seen */
    unsigned legacy_dels;       /* tp_del calls seen */
    bool want_finalized;        /* the shadow's verdict */
    unsigned want_legacy_dels;
};

struct gweak {
    pm_object_t *wr;
    int target;
    unsigned fired;
    bool want_fired;            /* the shadow: its referent died or the collector cleared it */
    bool target_dead_when_fired;
};

struct gstate {
    pm_objspace_t *sp;
    const struct allocator_ops *ops;
    pm_heap_t *heap;
    struct fz_misuse mis;
    pm_object_t *cls[GC_CLASSES];
    pm_object_t *marker_cls;
    pm_object_t *cbobj;         /* the callback object of every weakref */
    bool fin[GC_CLASSES], legacy[GC_CLASSES], resurrect[GC_CLASSES];
    /* each class's shared keys (CPython 3.11's split dict of the instances'
     * attribute names): index of attribute k or -1, entries, usable */
    int kix[GC_CLASSES][GC_KEYS];
    unsigned kn[GC_CLASSES], kusable[GC_CLASSES];
    const char *collector;      /* the space's collector (every input runs on each) */
    enum gcol col;              /* the same, named once (is_collector) */
    struct gnode n[GC_NODES];
    unsigned nn;
    struct gweak w[GC_WEAKREFS];
    unsigned nw;
    unsigned garbage[GC_NODES]; /* multiset: entries of node i in gc.garbage */
    uint64_t nops;
};

static struct gstate g;

static const char *kind_name(enum gk k)
{
    static const char *const names[] = {"instance", "list", "dict", "tuple"};
    return names[k];
}

/* ---- hooks ---- */

static struct gnode *node_of(pm_object_t *o)
{
    for (unsigned i = 0; i < g.nn; i++)
        if (g.n[i].o == o && g.n[i].serial == o->serial)
            return &g.n[i];
    return NULL;
}

static void hook_finalize(pm_objspace_t *sp, void *ctx, pm_object_t *self)
{
    (void)sp;
    (void)ctx;
    struct gnode *x = node_of(self);
    FZ_REQUIRE(x, "tp_finalize called on an object that is no node (%s)", pm_object_type_name(self));
    x->finalized++;
    if (g.resurrect[x->cls])
        pm_incref(self);        /* resurrection: the harness holds it again */
}

static void hook_legacy(pm_objspace_t *sp, void *ctx, pm_object_t *self)
{
    (void)sp;
    (void)ctx;
    struct gnode *x = node_of(self);
    FZ_REQUIRE(x, "tp_del called on an object that is no node (%s)", pm_object_type_name(self));
    x->legacy_dels++;
}

static void hook_callback(pm_objspace_t *sp, void *ctx, pm_object_t *cb, pm_object_t *wr)
{
    (void)ctx;
    FZ_REQUIRE(cb == g.cbobj, "a weakref callback got the wrong callback object");
    for (unsigned i = 0; i < g.nw; i++)
        if (g.w[i].wr == wr) {
            g.w[i].fired++;
            g.w[i].target_dead_when_fired = pm_weakref_get(sp, wr) == pm_none(sp);
            return;
        }
    fz_fail("a weakref callback for a weakref the harness did not make");
}

/* ---- the shadow ---- */

static bool is_map(const struct gnode *x) { return x->kind == GK_DICT || x->kind == GK_INSTANCE; }

/* Marks in `seen` everything reachable from the marked ones (live nodes). */
static void reach(bool seen[GC_NODES])
{
    unsigned stack[GC_NODES * GC_EDGES + GC_NODES], top = 0;
    for (unsigned i = 0; i < g.nn; i++)
        if (seen[i])
            stack[top++] = i;
    while (top) {
        const struct gnode *x = &g.n[stack[--top]];
        for (unsigned e = 0; e < x->nedges; e++) {
            int t = x->edge[e];
            if (t >= 0 && g.n[t].alive && !seen[t]) {
                seen[t] = true;
                stack[top++] = (unsigned)t;
            }
        }
    }
}

static void roots_of(bool seen[GC_NODES])
{
    for (unsigned i = 0; i < GC_NODES; i++)
        seen[i] = i < g.nn && g.n[i].alive && (g.n[i].rooted || g.garbage[i]);
}

/* Expected reference counts of every node: roots + gc.garbage entries +
 * edges from live nodes (meaningful for live nodes). */
static void refs_all(unsigned refs[GC_NODES])
{
    unsigned nn = g.nn;     /* a local: refs[] could alias g for the compiler */
    for (unsigned i = 0; i < nn; i++)
        refs[i] = g.n[i].rooted + g.garbage[i];
    for (unsigned j = 0; j < nn; j++) {
        const struct gnode *x = &g.n[j];
        if (x->alive)
            for (unsigned e = 0, ne = x->nedges; e < ne; e++)
                if (x->edge[e] >= 0)
                    refs[x->edge[e]]++;
    }
}

/* Node i dies (its edges go). */
static void shadow_die(unsigned i, bool by_refcount)
{
    struct gnode *x = &g.n[i];
    unsigned c = x->cls;
    if (x->kind == GK_INSTANCE && g.fin[c] && !x->want_finalized)
        x->want_finalized = true;
    if (by_refcount && x->kind == GK_INSTANCE && g.legacy[c])
        x->want_legacy_dels++;
    x->alive = false;
    for (unsigned k = 0; k < g.nw; k++)
        if (g.w[k].target == (int)i)
            g.w[k].want_fired = true;
}

/* A node of a class whose finalizer resurrects, not finalized yet. */
static bool resurrects(const struct gnode *x)
{
    return x->kind == GK_INSTANCE && g.fin[x->cls] && g.resurrect[x->cls] && !x->want_finalized;
}

/* Refcount deaths, cascading (a worklist of nodes whose count hit 0).
 * refs[] ends as refs_all() would compute it afterwards for every live node:
 * a death takes its edges off the counts of the live nodes they reach, a
 * resurrected node (count 0) holds a root now, and nothing else changes. */
static void shadow_cascade_refs(unsigned refs[GC_NODES])
{
    unsigned work[GC_NODES], top = 0;
    refs_all(refs);
    for (unsigned i = 0; i < g.nn; i++)
        if (g.n[i].alive && refs[i] == 0)
            work[top++] = i;
    while (top) {
        unsigned i = work[--top];
        if (resurrects(&g.n[i])) {
            /* subtype_dealloc: untracked, tracked again for the finalizer
             * (PyObject_CallFinalizerFromDealloc), which runs first and
             * resurrects it: it stays tracked, now in the young generation
             * (0; it left whatever list it was on, even a collection's
             * `finalizers`); its weakrefs stay */
            g.n[i].want_finalized = true;
            g.n[i].rooted = true;
            refs[i] = 1;
            g.n[i].gen = 0;
            g.n[i].retracked = true;
            continue;
        }
        shadow_die(i, true);
        for (unsigned e = 0; e < g.n[i].nedges; e++) {
            int t = g.n[i].edge[e];
            if (t >= 0 && g.n[t].alive && --refs[t] == 0)
                work[top++] = (unsigned)t;
        }
    }
}

static void shadow_cascade(void)
{
    unsigned refs[GC_NODES];
    shadow_cascade_refs(refs);
}

/* The collection the op runs (generation, and which nodes it examines) as
 * each collector defines it, modelled from the documentation, not the code:
 *  gen311, gen313: gc.collect(g) examines generations 0..g, survivors go to
 *    g+1 (2 stays 2); gen 0..2 in the shadow.
 *  inc314: gc.collect(0) examines the young generation (0), survivors go to
 *    the old one (2); gc.collect(2) everything. gc.collect(1), an increment
 *    paced by work_to_do: see op_increment.
 *  pep848: nodes age through the nursery (0) and the aging spaces 1..A (A =
 *    5 for threshold1 10), old = A + 1; gc.collect(0) examines the oldest
 *    aging space only, survivors to old, every younger space ages by one.
 *    gc.collect(1), increments of the old generation: see op_increment. */
#define PEP_AGING 5
#define PEP_OLD (PEP_AGING + 1)

static bool is_collector(enum gcol c) { return g.col == c; }

/* Whether an object of the shadow's generation gen is examined by a
 * collection of `generation` (see above). */
static bool examined(int generation, unsigned gen)
{
    if (generation == 2)
        return true;
    if (is_collector(COL_GEN311) || is_collector(COL_GEN313))
        return gen <= (unsigned)generation;
    if (is_collector(COL_INC314))
        return gen == 0;
    return gen == PEP_AGING;
}

/* The generation the survivors of a collection of `generation` go to. */
static unsigned survivors_gen(int generation)
{
    if (is_collector(COL_GEN311) || is_collector(COL_GEN313))
        return generation == 2 ? 2 : (unsigned)generation + 1;
    return is_collector(COL_INC314) ? 2 : PEP_OLD;
}

/* The collection's graph: vertex i < GC_NODES is node i, vertex GC_NODES + i
 * the materialised __dict__ of instance node i. An instance with one refers
 * to it alone; the dict refers to the attributes. */
#define GV (2 * GC_NODES)

static bool vexists(unsigned v)
{
    if (v < GC_NODES)
        return v < g.nn && g.n[v].alive;
    const struct gnode *x = &g.n[v - GC_NODES];
    return v - GC_NODES < g.nn && x->alive && x->hasdict;
}

/* Out-edges of vertex v into out[]; returns how many. */
static unsigned vedges(unsigned v, unsigned out[GC_EDGES])
{
    const struct gnode *x = &g.n[v < GC_NODES ? v : v - GC_NODES];
    if (v < GC_NODES && x->kind == GK_INSTANCE && x->hasdict) {
        out[0] = GC_NODES + v;
        return 1;
    }
    unsigned n = 0;
    for (unsigned e = 0; e < x->nedges; e++)
        if (x->edge[e] >= 0 && g.n[x->edge[e]].alive)
            out[n++] = (unsigned)x->edge[e];
    return n;
}

/* Marks in `seen` every vertex reachable from the marked ones. */
static void vreach(bool seen[GV])
{
    unsigned stack[GV * GC_EDGES + GV], top = 0, out[GC_EDGES];
    for (unsigned v = 0; v < GV; v++)
        if (seen[v] && vexists(v))
            stack[top++] = v;
    while (top) {
        unsigned v = stack[--top];
        unsigned n = vedges(v, out);
        for (unsigned k = 0; k < n; k++)
            if (!seen[out[k]] && vexists(out[k])) {
                seen[out[k]] = true;
                stack[top++] = out[k];
            }
    }
}

/* A collection that examines the vertices of in[]: survivors of in[] go
 * to generation `target`; untrack_dicts: 3.11's full collections; pep_age:
 * pep848's young collection (the younger spaces age by one). */
static void shadow_collect_set(const bool in[GV], unsigned target, bool untrack_dicts,
                               bool pep_age)
{
    bool reachable[GV] = {0}, legacy[GC_NODES] = {0}, kept[GV] = {0}, back[GV] = {0};
    unsigned out[GC_EDGES];
    /* externally held: roots, gc.garbage, references from live objects
     * outside the examined set (an instance's __dict__ of a younger
     * generation is one: what it holds survives a collection of the
     * instance's generation) */
    roots_of(reachable);
    for (unsigned v = 0; v < GV; v++)
        if (vexists(v) && !in[v])
            for (unsigned k = 0, n = vedges(v, out); k < n; k++)
                reachable[out[k]] = true;
    vreach(reachable);
    bool U[GV] = {0};
    for (unsigned v = 0; v < GV; v++)
        U[v] = in[v] && !reachable[v];
    /* G: the legacy objects of U; everything they reach is kept */
    for (unsigned i = 0; i < g.nn; i++)
        legacy[i] = kept[i] = U[i] && g.n[i].kind == GK_INSTANCE && g.legacy[g.n[i].cls];
    vreach(kept);
    bool C[GV] = {0};
    for (unsigned v = 0; v < GV; v++)
        C[v] = U[v] && !kept[v];
    for (unsigned i = 0; i < g.nn; i++) {
        if (!C[i])
            continue;
        /* weakrefs to the collectable set are cleared first (3.11 order) */
        g.n[i].probe_cleared = true;
        for (unsigned k = 0; k < g.nw; k++)
            if (g.w[k].target == (int)i)
                g.w[k].want_fired = true;
    }
    /* finalizers run once on each; the resurrecting ones take a root */
    bool ran = false;
    for (unsigned i = 0; i < g.nn; i++) {
        struct gnode *x = &g.n[i];
        if (!C[i] || x->kind != GK_INSTANCE || !g.fin[x->cls] || x->want_finalized)
            continue;
        ran = true;
        if (g.resurrect[x->cls])
            back[i] = x->rooted = true;
        x->want_finalized = true;
    }
    /* resurrection: what a resurrected object reaches survives */
    if (ran)
        vreach(back);
    /* (a collected __dict__ is its instance's: C[GC_NODES + i] implies C[i]
     * and back[GC_NODES + i] follows back[i]) */
    for (unsigned i = 0; i < g.nn; i++)
        if (C[i] && !back[i])
            shadow_die(i, false);
    /* survivors (kept and resurrected included) move on; the cascade may
     * send some of them back to generation 0. 3.11's full collections
     * untrack the surviving dicts that hold no container (survivors_untrack,
     * before the finalizers: the reachable ones): an instance's __dict__
     * whose attributes were all deleted */
    bool moved[GC_NODES] = {0}, dmoved[GC_NODES] = {0};
    for (unsigned i = 0; i < g.nn; i++) {
        struct gnode *x = &g.n[i];
        x->retracked = false;
        if (in[i] && x->alive) {
            x->gen = target;
            moved[i] = true;
        }
        if (in[GC_NODES + i] && x->alive) {
            x->dgen = target;
            dmoved[i] = true;
            if (untrack_dicts && reachable[GC_NODES + i] && vedges(GC_NODES + i, out) == 0)
                x->dtracked = false;
        }
    }
    shadow_cascade();
    /* A kept object (legacy, or reached from one) whose last reference went
     * with the collected ones died by refcount above: gone, or resurrected
     * by its tp_finalize and then tracked again in generation 0, off the
     * collection's `finalizers` list: not appended to gc.garbage either
     * (CPython 3.11's subtype_dealloc untracks it, handle_legacy_finalizers
     * walks that list afterwards). */
    for (unsigned i = 0; i < g.nn; i++) {
        if (g.n[i].retracked)
            moved[i] = false;
        if (legacy[i] && g.n[i].alive && !g.n[i].retracked)
            g.garbage[i]++;
    }
    /* pep848's young collection: every younger space ages by one (the
     * nursery, objects tracked again above included, to the first aging
     * space) */
    if (pep_age)
        for (unsigned i = 0; i < g.nn; i++) {
            struct gnode *x = &g.n[i];
            if (!moved[i] && x->alive && x->gen < PEP_AGING)
                x->gen++;
            if (!dmoved[i] && x->alive && x->hasdict && x->dtracked && x->dgen < PEP_AGING)
                x->dgen++;
        }
}

static void shadow_collect(int generation)
{
    bool in[GV] = {0};
    for (unsigned i = 0; i < g.nn; i++) {
        const struct gnode *x = &g.n[i];
        in[i] = x->alive && examined(generation, x->gen);
        /* an untracked (empty) __dict__ is in no generation */
        in[GC_NODES + i] = vexists(GC_NODES + i) && x->dtracked && examined(generation, x->dgen);
    }
    shadow_collect_set(in, survivors_gen(generation),
                       generation == 2 && (is_collector(COL_GEN311) || is_collector(COL_GEN313)),
                       generation == 0 && is_collector(COL_PEP848));
}

/* ---- checks ---- */

/* The generation list (pm_gc_contains) holding an object of the shadow's
 * generation gen: gen311/gen313 0..2 as such; inc314 0 young, 2 old;
 * pep848 0 the nursery, 1 any aging space (the API does not tell them
 * apart), 2 old. */
static int gen_list_of(unsigned gen)
{
    if (is_collector(COL_PEP848))
        return gen == 0 ? 0 : gen <= PEP_AGING ? 1 : 2;
    return (int)gen;
}

/* Which generations' lists hold the live nodes (and, with dicts, their
 * tracked __dict__s): bit l of where[v] set when pm_gc_contains(g.sp, l, o)
 * would say true for vertex v's object o (l 0..2 with bit l of gens; the
 * other bits are 0, not to be read), found by one walk of the lists
 * instead of one per object (a small hash of the vertices' addresses;
 * two vertices at one address both get the bit, as both would from
 * pm_gc_contains). False if the lists held more objects than the space
 * tracks (a list that does not return to its head): the callers then ask
 * pm_gc_contains object by object, as they did before. */
#define LOC_SLOTS 256           /* > 2 * GV: short probes */

static struct {
    const pm_object_t *o[LOC_SLOTS];
    unsigned char v[LOC_SLOTS];
    uint32_t stamp[LOC_SLOTS];  /* a slot is used when stamp == cur */
    uint32_t cur;
    unsigned bit;               /* 1 << the generation being walked */
    unsigned *where;
} loc;

static unsigned loc_hash(const pm_object_t *o)
{
    return (unsigned)(((uint32_t)((uintptr_t)o >> 4) * 0x9E3779B1u) >> 24) % LOC_SLOTS;
}

static void loc_visit(void *ctx, pm_object_t *o)
{
    (void)ctx;
    for (unsigned h = loc_hash(o); loc.stamp[h] == loc.cur; h = (h + 1) % LOC_SLOTS)
        if (loc.o[h] == o)
            loc.where[loc.v[h]] |= loc.bit;
}

static void loc_insert(const pm_object_t *o, unsigned v)
{
    unsigned h = loc_hash(o);
    while (loc.stamp[h] == loc.cur)
        h = (h + 1) % LOC_SLOTS;
    loc.stamp[h] = loc.cur;
    loc.o[h] = o;
    loc.v[h] = (unsigned char)v;
}

static bool locate(unsigned where[GV], bool dicts, unsigned gens)
{
    if (++loc.cur == 0) {       /* wrapped: forget every stamp */
        memset(loc.stamp, 0, sizeof loc.stamp);
        loc.cur = 1;
    }
    memset(where, 0, GV * sizeof *where);
    for (unsigned i = 0; i < g.nn; i++) {
        const struct gnode *x = &g.n[i];
        if (!x->alive)
            continue;
        loc_insert(x->o, i);
        const pm_object_t *d = dicts && x->hasdict && x->dtracked ? pm_instance_dict(x->o) : NULL;
        if (d)
            loc_insert(d, GC_NODES + i);
    }
    loc.where = where;
    for (unsigned l = 0; l < 3; l++) {
        loc.bit = 1u << l;
        if ((gens & loc.bit) && !pm_gc_foreach_bounded(g.sp, (int)l, loc_visit, NULL))
            return false;
    }
    return true;
}

/* Whether the lists of generation l hold vertex v's object o: from where[]
 * if locate() succeeded (located), else pm_gc_contains. */
static bool in_list(bool located, const unsigned where[GV], unsigned v, int l,
                    const pm_object_t *o)
{
    return located ? (where[v] >> l) & 1 : pm_gc_contains(g.sp, l, o);
}

/* deep: also pm_objspace_check (a walk of every tracked object). refs: the
 * expected counts as refs_all() computes them now (NULL: computed here). */
static void check_all(const char *when, bool deep, const unsigned *refs)
{
    unsigned own[GC_NODES], where[GV];
    if (!refs) {
        refs_all(own);
        refs = own;
    }
    bool located = false;
    if (deep) {
        unsigned gens = 0;  /* the lists the nodes are expected in */
        for (unsigned i = 0; i < g.nn; i++)
            if (g.n[i].alive)
                gens |= 1u << gen_list_of(g.n[i].gen);
        located = locate(where, false, gens);
    }
    for (unsigned i = 0; i < g.nn; i++) {
        struct gnode *x = &g.n[i];
        bool alive = pm_weakref_get(g.sp, x->probe) != pm_none(g.sp);
        bool want_alive = x->alive && !x->probe_cleared;
        FZ_REQUIRE(alive == want_alive, "%s: %s: %s node %u's probe is %s, the oracle says %s (op %llu)",
                   g.collector, when, kind_name(x->kind), i, alive ? "alive" : "dead",
                   want_alive ? "alive" : x->alive ? "cleared (resurrected)" : "dead",
                   (unsigned long long)g.nops);
        if (x->alive && deep) {
            int lists = gen_list_of(x->gen);
            FZ_REQUIRE(pm_gc_is_tracked(x->o) && in_list(located, where, i, lists, x->o),
                       "%s: %s: %s node %u is %s, the oracle says it is in generation %u (list %d) (op %llu)",
                       g.collector, when, kind_name(x->kind), i,
                       !pm_gc_is_tracked(x->o) ? "untracked"
                       : pm_gc_contains(g.sp, 0, x->o) ? "in list 0"
                       : pm_gc_contains(g.sp, 1, x->o) ? "in list 1"
                       : pm_gc_contains(g.sp, 2, x->o) ? "in list 2" : "in no generation",
                       x->gen, lists, (unsigned long long)g.nops);
        }
        if (x->alive) {
            unsigned want = refs[i];
            FZ_REQUIRE(x->o->refcnt == want, "%s: %s node %u has refcount %u, expected %u (op %llu)",
                       when, kind_name(x->kind), i, x->o->refcnt, want, (unsigned long long)g.nops);
        }
        FZ_REQUIRE(x->finalized == x->want_finalized,
                   "%s: %s node %u (%s) was finalized %u time(s), expected %u (op %llu)", when,
                   kind_name(x->kind), i, x->alive ? "alive" : "dead", x->finalized,
                   (unsigned)x->want_finalized, (unsigned long long)g.nops);
        FZ_REQUIRE(x->legacy_dels == x->want_legacy_dels,
                   "%s: node %u got %u tp_del call(s), expected %u (op %llu)", when, i,
                   x->legacy_dels, x->want_legacy_dels, (unsigned long long)g.nops);
    }
    for (unsigned k = 0; k < g.nw; k++) {
        const struct gweak *w = &g.w[k];
        bool dead = w->want_fired;
        FZ_REQUIRE(w->fired == (unsigned)dead,
                   "%s: %s: the callback of weakref %u to node %u (%s) fired %u time(s) (op %llu)",
                   g.collector, when, k, w->target, dead ? "dead" : "alive", w->fired,
                   (unsigned long long)g.nops);
        FZ_REQUIRE(!w->fired || w->target_dead_when_fired,
                   "%s: weakref %u's callback saw its referent alive", when, k);
    }
    /* gc.garbage: the shadow's multiset */
    pm_object_t *gl = pm_gc_garbage(g.sp);
    unsigned want = 0;
    for (unsigned i = 0; i < g.nn; i++)
        want += g.garbage[i];
    FZ_REQUIRE(pm_list_size(gl) == want, "%s: gc.garbage holds %zu objects, expected %u (op %llu)",
               when, pm_list_size(gl), want, (unsigned long long)g.nops);
    for (size_t j = 0; j < pm_list_size(gl); j++) {
        struct gnode *x = node_of(pm_list_get(gl, j));
        FZ_REQUIRE(x && g.garbage[x - g.n], "%s: gc.garbage[%zu] is not a legacy node the oracle kept",
                   when, j);
    }
    if (!deep)
        return;
    char msg[PM_ERR_LEN];
    unsigned long bad = pm_objspace_check(g.sp, msg);
    FZ_REQUIRE(!bad, "%s: objspace check: %s (op %llu)", when, msg, (unsigned long long)g.nops);
}

/* ---- operations ---- */

/* The nodes reachable from the roots, in order: what pick chooses among.
 * One op's picks share it (nothing changes the shadow between them). */
struct picks {
    unsigned cnt, idx[GC_NODES];
};

static void reachable_nodes(struct picks *p)
{
    bool seen[GC_NODES] = {0};
    roots_of(seen);
    reach(seen);
    p->cnt = 0;
    for (unsigned i = 0; i < g.nn; i++)
        if (seen[i])
            p->idx[p->cnt++] = i;
}

/* The n-th node reachable from the roots, by byte b; -1 if none. */
static int pick(const struct picks *p, unsigned b)
{
    return p->cnt ? (int)p->idx[b % p->cnt] : -1;
}

static pm_object_t *need(pm_object_t *o, const char *what)
{
    if (!o) {
        const char *msg = "";
        pm_objspace_error(g.sp, &msg);
        fz_fail("%s failed: %s", what, msg);
    }
    return o;
}

static void need_ok(int r, const char *what)
{
    if (r < 0) {
        const char *msg = "";
        pm_objspace_error(g.sp, &msg);
        fz_fail("%s failed: %s", what, msg);
    }
}

static struct gnode *new_node(enum gk kind, pm_object_t *o)
{
    struct gnode *x = &g.n[g.nn];
    *x = (struct gnode){.kind = kind, .o = o, .serial = o->serial, .alive = true, .rooted = true};
    for (unsigned e = 0; e < GC_EDGES; e++)
        x->edge[e] = -1;
    x->nedges = is_map(x) ? GC_KEYS : 0;
    pm_object_t *probe_of = o;
    if (kind != GK_INSTANCE) {   /* the marker: first item, or value of key "m" */
        pm_object_t *m = need(pm_instance_new(g.sp, g.marker_cls), "marker");
        probe_of = m;
        if (kind == GK_LIST) {
            need_ok(pm_list_append(g.sp, o, m), "list append");
        } else if (kind == GK_DICT) {
            pm_object_t *k = need(pm_str_new(g.sp, "m", 1), "str");
            need_ok(pm_dict_set(g.sp, o, k, m), "dict set");
            pm_decref(g.sp, k);
        }
        if (kind != GK_TUPLE)
            pm_decref(g.sp, m);   /* the container holds it now */
    }
    x->probe = need(pm_weakref_new(g.sp, probe_of, NULL), "probe weakref");
    g.nn++;
    return x;
}

static void op_new(enum gk kind, unsigned cls, struct fz_in *in)
{
    if (g.nn == GC_NODES)
        return;
    pm_object_t *o = NULL;
    switch (kind) {
    case GK_INSTANCE: {
        o = need(pm_instance_new(g.sp, g.cls[cls]), "instance");
        struct gnode *x = new_node(kind, o);
        x->cls = cls;
        /* init_inline_values: each instance takes a usable entry of the
         * shared keys away (while more than one is left); its values have
         * room for the keys there are and the usable ones */
        if (g.kusable[cls] > 1)
            g.kusable[cls]--;
        x->cap = g.kn[cls] + g.kusable[cls];
        return;
    }
    case GK_LIST:
        o = need(pm_list_new(g.sp, 0, NULL), "list");
        new_node(kind, o);
        return;
    case GK_DICT:
        o = need(pm_dict_new(g.sp), "dict");
        new_node(kind, o);
        return;
    case GK_TUPLE: {
        unsigned cnt = fz_u8(in) % 5;
        pm_object_t *items[5];
        int t[5];
        pm_object_t *m = need(pm_instance_new(g.sp, g.marker_cls), "marker");
        items[0] = m;
        unsigned k = 1;
        struct picks p;
        reachable_nodes(&p);
        for (unsigned i = 0; i < cnt; i++) {
            int a = pick(&p, fz_u8(in));
            if (a < 0)
                break;
            t[k - 1] = a;
            items[k++] = g.n[a].o;
        }
        o = need(pm_tuple_new(g.sp, k, items), "tuple");
        pm_decref(g.sp, m);
        /* new_node would make another marker: build the node by hand */
        struct gnode *x = &g.n[g.nn];
        *x = (struct gnode){.kind = kind, .o = o, .serial = o->serial, .alive = true, .rooted = true};
        for (unsigned e = 0; e < GC_EDGES; e++)
            x->edge[e] = -1;
        for (unsigned i = 0; i + 1 < k; i++)
            x->edge[i] = t[i];
        x->nedges = k - 1;
        x->probe = need(pm_weakref_new(g.sp, m, NULL), "probe weakref");
        g.nn++;
        return;
    }
    }
}

static void op_link(int a, int b, unsigned k)
{
    struct gnode *x = &g.n[a], *y = &g.n[b];
    char name[4] = {x->kind == GK_DICT ? 'k' : 'a', (char)('0' + k % GC_KEYS), 0};
    switch (x->kind) {
    case GK_LIST: {
        if (x->nedges == GC_EDGES)
            return;
        unsigned pos = (k >> 3) % (x->nedges + 1);   /* among the items after the marker */
        need_ok(pm_list_insert(g.sp, x->o, (int64_t)pos + 1, y->o), "list insert");
        memmove(&x->edge[pos + 1], &x->edge[pos], (x->nedges - pos) * sizeof *x->edge);
        x->edge[pos] = b;
        x->nedges++;
        return;
    }
    case GK_DICT: {
        pm_object_t *key = need(pm_str_new(g.sp, name, 2), "str");
        need_ok(pm_dict_set(g.sp, x->o, key, y->o), "dict set");
        pm_decref(g.sp, key);
        x->edge[k % GC_KEYS] = b;
        return;
    }
    case GK_INSTANCE: {
        /* the attribute goes into the inline values if its name is (or can
         * be added) in the class's shared keys at an index the values have
         * room for; otherwise the values move into a new __dict__, tracked
         * (it holds containers) in generation 0. A __dict__ emptied and then
         * untracked by a full collection is tracked again, in 0. */
        unsigned c = x->cls, key = k % GC_KEYS;
        if (!x->hasdict) {
            int ix = g.kix[c][key];
            if (ix < 0 && g.kusable[c] > 0) {
                ix = g.kix[c][key] = (int)g.kn[c]++;
                g.kusable[c]--;
            }
            if (ix < 0 || (unsigned)ix >= x->cap) {
                x->hasdict = x->dtracked = true;
                x->dgen = 0;
            }
        } else if (!x->dtracked) {
            x->dtracked = true;
            x->dgen = 0;
        }
        need_ok(pm_setattr(g.sp, x->o, name, y->o), "setattr");
        x->edge[key] = b;
        FZ_REQUIRE(pm_instance_has_dict(x->o) == x->hasdict,
                   "%s: instance node %d: __dict__ %s after setting a%u, the oracle says %s (op %llu)",
                   g.collector, a, pm_instance_has_dict(x->o) ? "materialised" : "not materialised",
                   key, x->hasdict ? "materialised" : "not", (unsigned long long)g.nops);
        return;
    }
    case GK_TUPLE:
        return;   /* immutable */
    }
}

static void op_unlink(int a, unsigned k)
{
    struct gnode *x = &g.n[a];
    char name[4] = {x->kind == GK_DICT ? 'k' : 'a', (char)('0' + k % GC_KEYS), 0};
    switch (x->kind) {
    case GK_LIST: {
        if (!x->nedges)
            return;
        unsigned pos = k % x->nedges;
        need_ok(pm_list_delete(g.sp, x->o, (int64_t)pos + 1), "list delete");
        memmove(&x->edge[pos], &x->edge[pos + 1], (x->nedges - pos - 1) * sizeof *x->edge);
        x->nedges--;
        return;
    }
    case GK_DICT: {
        if (x->edge[k % GC_KEYS] < 0)
            return;
        pm_object_t *key = need(pm_str_new(g.sp, name, 2), "str");
        need_ok(pm_dict_delete(g.sp, x->o, key), "dict delete");
        pm_decref(g.sp, key);
        x->edge[k % GC_KEYS] = -1;
        return;
    }
    case GK_INSTANCE:
        if (x->edge[k % GC_KEYS] < 0)
            return;
        need_ok(pm_delattr(g.sp, x->o, name), "delattr");
        x->edge[k % GC_KEYS] = -1;
        return;
    case GK_TUPLE:
        return;
    }
}

static void op_drop(int a)
{
    struct gnode *x = &g.n[a];
    if (!x->rooted)
        return;
    x->rooted = false;
    /* decide the shadow first: hooks run inside the decref */
    shadow_cascade();
    pm_decref(g.sp, x->o);
}

static void op_weakref(int a)
{
    struct gnode *x = &g.n[a];
    if (x->kind != GK_INSTANCE || g.nw == GC_WEAKREFS)
        return;
    g.w[g.nw].wr = need(pm_weakref_new(g.sp, x->o, g.cbobj), "weakref");
    g.w[g.nw].target = a;
    g.w[g.nw].want_fired = false;
    g.w[g.nw].fired = 0;
    g.nw++;
}

static bool probe_dead(const struct gnode *x)
{
    return pm_weakref_get(g.sp, x->probe) == pm_none(g.sp);
}

/* gc.collect(1) of inc314 and pep848: an increment of the old generation.
 * Which objects it examines depends on the collector's pacing (work_to_do)
 * and on the order of its lists, which the shadow does not model. So the
 * collection runs first and the oracle reads what it did from the probes:
 * E = the nodes whose probe it cleared (a legacy instance's probe is
 * cleared only by a refcount death: not in E) and those it appended to
 * gc.garbage. Every node of E must have been unreachable at the start
 * (from the roots and gc.garbage); then the shadow collects exactly E (and
 * the __dict__s of E's instances), with the same rules as any collection:
 * if E is not what a correct collection of some set examines (a node freed
 * while a survivor refers to it, a finalizer run twice or not at all, a
 * resurrection not followed, a refcount death missed, a legacy object not
 * appended...), the checks after the op see a node, refcount, finalizer
 * count, callback or gc.garbage entry differ. Survivors' generations are
 * read from the lists (they are not predicted for this op; the checks of
 * the next collections rely on them). A node whose probe was already
 * cleared (resurrected by an earlier collection) could die unseen: while
 * one is alive the op runs gc.collect(0) instead, as before. */
static void op_increment(void)
{
    bool reachable[GV] = {0}, dead0[GC_NODES] = {0}, alive0[GC_NODES] = {0};
    unsigned garbage0[GC_NODES] = {0};
    roots_of(reachable);
    vreach(reachable);
    for (unsigned i = 0; i < g.nn; i++) {
        alive0[i] = g.n[i].alive;
        dead0[i] = probe_dead(&g.n[i]);
        garbage0[i] = g.garbage[i];
    }
    pm_gc_collect(g.sp, 1);
    unsigned garbage1[GC_NODES] = {0};
    pm_object_t *gl = pm_gc_garbage(g.sp);
    for (size_t j = 0; j < pm_list_size(gl); j++) {
        struct gnode *x = node_of(pm_list_get(gl, j));
        FZ_REQUIRE(x, "%s: gc.collect(1) put an object that is no node in gc.garbage (op %llu)",
                   g.collector, (unsigned long long)g.nops);
        garbage1[x - g.n]++;
    }
    bool in[GV] = {0}, kept[GV] = {0};
    for (unsigned i = 0; i < g.nn; i++) {
        const struct gnode *x = &g.n[i];
        if (!alive0[i])
            continue;
        bool legacy = x->kind == GK_INSTANCE && g.legacy[x->cls];
        bool cleared = !dead0[i] && probe_dead(x) && !legacy;
        bool appended = garbage1[i] > garbage0[i];
        FZ_REQUIRE(garbage1[i] <= garbage0[i] + 1 && garbage1[i] >= garbage0[i],
                   "%s: gc.collect(1) changed node %u's entries in gc.garbage from %u to %u (op %llu)",
                   g.collector, i, garbage0[i], garbage1[i], (unsigned long long)g.nops);
        if (!cleared && !appended)
            continue;
        FZ_REQUIRE(!reachable[i], "%s: gc.collect(1) %s %s node %u, reachable from the roots (op %llu)",
                   g.collector, appended ? "put in gc.garbage" : "cleared the weakrefs of",
                   kind_name(x->kind), i, (unsigned long long)g.nops);
        in[i] = true;
        in[GC_NODES + i] = vexists(GC_NODES + i) && x->dtracked;
        kept[i] = appended;
    }
    /* what an appended (legacy) object reaches and is unreachable from the
     * roots is kept with it: in the set too, except a legacy instance not
     * appended (outside the increment: an examined one would be in
     * gc.garbage; inside, the shadow would append it) */
    vreach(kept);
    for (unsigned v = 0; v < GV; v++) {
        const struct gnode *x = &g.n[v < GC_NODES ? v : v - GC_NODES];
        bool legacy = v < GC_NODES && x->kind == GK_INSTANCE && g.legacy[x->cls];
        if (kept[v] && !reachable[v] && vexists(v) && !legacy && (v < GC_NODES || x->dtracked))
            in[v] = true;
    }
    unsigned gen0[GC_NODES], dgen0[GC_NODES];
    for (unsigned i = 0; i < g.nn; i++) {
        gen0[i] = g.n[i].gen;
        dgen0[i] = g.n[i].dgen;
    }
    shadow_collect_set(in, is_collector(COL_INC314) ? 2 : PEP_OLD, false, false);
    /* the generations of everything the increment moved: from the lists.
     * pep848: a node in an aging space that an appended legacy object
     * reaches is in the set (kept with it) but stays where it is (aging
     * objects carry the visited bit, so the increment's closure leaves
     * them out; found while writing the read-back inputs): an object in
     * an aging space after the op keeps the space it had, and must have
     * had one (an increment never moves an object into one). */
    bool pep = is_collector(COL_PEP848);
    unsigned where[GV];
    bool located = locate(where, true, 1u << 0 | 1u << 2 | (pep ? 1u << 1 : 0));
    for (unsigned i = 0; i < g.nn; i++) {
        struct gnode *x = &g.n[i];
        if (!x->alive)
            continue;
        if (in_list(located, where, i, 0, x->o))
            x->gen = 0;
        else if (in_list(located, where, i, 2, x->o))
            x->gen = is_collector(COL_INC314) ? 2 : PEP_OLD;
        else if (pep && in_list(located, where, i, 1, x->o)) {
            FZ_REQUIRE(alive0[i] && gen0[i] >= 1 && gen0[i] <= PEP_AGING,
                       "%s: gc.collect(1) moved node %u into an aging space (op %llu)",
                       g.collector, i, (unsigned long long)g.nops);
            x->gen = gen0[i];
        }
        pm_object_t *d = x->hasdict && x->dtracked ? pm_instance_dict(x->o) : NULL;
        if (d && in_list(located, where, GC_NODES + i, 0, d))
            x->dgen = 0;
        else if (d && in_list(located, where, GC_NODES + i, 2, d))
            x->dgen = is_collector(COL_INC314) ? 2 : PEP_OLD;
        else if (d && pep && in_list(located, where, GC_NODES + i, 1, d)) {
            FZ_REQUIRE(alive0[i] && dgen0[i] >= 1 && dgen0[i] <= PEP_AGING,
                       "%s: gc.collect(1) moved node %u's __dict__ into an aging space (op %llu)",
                       g.collector, i, (unsigned long long)g.nops);
            x->dgen = dgen0[i];
        }
    }
}

/* gc.collect(generation); an increment of inc314 or pep848 (generation 1)
 * through op_increment, or as gc.collect(0) while it could not be seen. */
static void op_collect(int generation)
{
    if (generation == 1 && !is_collector(COL_GEN311) && !is_collector(COL_GEN313)) {
        bool unseen = false;
        for (unsigned i = 0; i < g.nn; i++)
            unseen |= g.n[i].alive && g.n[i].probe_cleared;
        if (!unseen) {
            op_increment();
            return;
        }
        generation = 0;
    }
    shadow_collect(generation);
    pm_gc_collect(g.sp, generation);
}

static void op_clear_garbage(void)
{
    memset(g.garbage, 0, sizeof g.garbage);
    shadow_cascade();
    need_ok(pm_list_clear(g.sp, pm_gc_garbage(g.sp)), "garbage clear");
}

static void op_finalizers(unsigned b)
{
    unsigned c = b % GC_CLASSES;
    g.fin[c] = (b >> 2) & 1;
    g.legacy[c] = (b >> 3) & 1;
    g.resurrect[c] = (b >> 4) & 1;
    need_ok(pm_class_set_finalizers(g.cls[c], g.fin[c], g.legacy[c]), "set finalizers");
}

/* ---- the run ---- */

static void open_space(const char *collector)
{
    char err[PM_ERR_LEN];
    memset(&g, 0, sizeof g);
    g.collector = collector;
    static const char *const cols[COL_OTHER] = {"gen311", "gen313", "inc314", "pep848"};
    g.col = COL_OTHER;
    for (unsigned c = 0; c < COL_OTHER; c++)
        if (!strcmp(collector, cols[c]))
            g.col = (enum gcol)c;
    struct pm_config cfg = {.on_misuse = fz_misuse_record, .misuse_ctx = &g.mis};
    g.heap = pm_backend_create("debug:system", &cfg, &g.ops, err);
    FZ_REQUIRE(g.heap, "debug:system: %s", err);
    struct pm_objspace_config ocfg = {.gc = collector};
    g.sp = pm_objspace_create(g.ops, g.heap, &ocfg, err);
    FZ_REQUIRE(g.sp, "objspace: %s", err);
    pm_gc_disable(g.sp);
    struct pm_objspace_hooks hooks = {.finalize = hook_finalize, .legacy_del = hook_legacy,
                                      .weakref_callback = hook_callback};
    pm_objspace_set_hooks(g.sp, &hooks);
    static const char *const names[GC_CLASSES] = {"C0", "C1", "C2"};
    for (unsigned c = 0; c < GC_CLASSES; c++)
        g.cls[c] = need(pm_class_new(g.sp, names[c], 0, NULL), "class");
    g.marker_cls = need(pm_class_new(g.sp, "Marker", 0, NULL), "class");
    for (unsigned c = 0; c < GC_CLASSES; c++) {
        g.kusable[c] = 30;   /* SHARED_KEYS_MAX_SIZE, CPython 3.11's too */
        for (unsigned k = 0; k < GC_KEYS; k++)
            g.kix[c][k] = -1;
    }
    g.cbobj = need(pm_list_new(g.sp, 0, NULL), "list");
}

static void close_space(void)
{
    if (fz_verbose()) {
        unsigned alive = 0, fin = 0, dels = 0, fired = 0, garbage = 0;
        for (unsigned i = 0; i < g.nn; i++) {
            alive += g.n[i].alive;
            fin += g.n[i].finalized;
            dels += g.n[i].legacy_dels;
            garbage += g.garbage[i];
        }
        for (unsigned k = 0; k < g.nw; k++)
            fired += g.w[k].fired;
        fprintf(stderr, "fuzz_gc: %llu ops, %u nodes (%u alive), %u in gc.garbage, %u finalized, "
                        "%u tp_del, %u of %u weakref callbacks fired\n",
                (unsigned long long)g.nops, g.nn, alive, garbage, fin, dels, fired, g.nw);
    }
    /* a finalizer may resurrect a node dropped here: drop until none is held */
    for (bool again = true; again;) {
        again = false;
        for (unsigned i = 0; i < g.nn; i++)
            if (g.n[i].alive && g.n[i].rooted) {
                op_drop((int)i);
                again = true;
            }
    }
    for (unsigned c = 0; c < GC_CLASSES; c++)
        op_finalizers(c);   /* flags off */
    op_clear_garbage();
    op_collect(2);
    check_all("at the end", true, NULL);
    for (unsigned i = 0; i < g.nn; i++)
        FZ_REQUIRE(!g.n[i].alive, "%s: node %u alive at the end", g.collector, i);
    for (unsigned i = 0; i < g.nn; i++)
        pm_decref(g.sp, g.n[i].probe);
    for (unsigned k = 0; k < g.nw; k++)
        pm_decref(g.sp, g.w[k].wr);
    pm_decref(g.sp, g.cbobj);
    for (unsigned c = 0; c < GC_CLASSES; c++)
        pm_decref(g.sp, g.cls[c]);
    pm_decref(g.sp, g.marker_cls);
    uint64_t left = pm_objspace_destroy(g.sp);
    FZ_REQUIRE(left == 0, "%llu block(s) left in the backend", (unsigned long long)left);
    g.ops->destroy(g.heap);
}

/* PM_FUZZ_GC_TRACE=1: the op and every node's state on stderr (debugging) */
static bool gc_trace(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("PM_FUZZ_GC_TRACE");
        on = e && !strcmp(e, "1");
    }
    return on;
}

static void trace_state(unsigned op)
{
    unsigned refs[GC_NODES];
    refs_all(refs);
    fprintf(stderr, "%s op %llu: %u (kind %u); classes (fin legacy resurrect):", g.collector,
            (unsigned long long)g.nops, op, op & 15);
    for (unsigned c = 0; c < GC_CLASSES; c++)
        fprintf(stderr, " %u%u%u", g.fin[c], g.legacy[c], g.resurrect[c]);
    fprintf(stderr, "; garbage:");
    for (unsigned i = 0; i < g.nn; i++)
        if (g.garbage[i])
            fprintf(stderr, " %u*%u", i, g.garbage[i]);
    fprintf(stderr, "\n");
    for (unsigned i = 0; i < g.nn; i++) {
        const struct gnode *x = &g.n[i];
        if (x->hasdict)
            fprintf(stderr, "  dict of %u: gen %u%s\n", i, x->dgen, x->dtracked ? "" : " untracked");
        fprintf(stderr, "  %u %s%s%s gen %u%s%s", i, kind_name(x->kind),
                x->kind == GK_INSTANCE ? (x->cls == 0 ? "0" : x->cls == 1 ? "1" : "2") : "",
                x->alive ? "" : " dead", x->gen, x->rooted ? " root" : "",
                x->want_finalized ? " fin" : "");
        if (x->alive)
            fprintf(stderr, " rc %u/%u list %d ->", x->o->refcnt, refs[i],
                    !pm_gc_is_tracked(x->o) ? -1 : pm_gc_contains(g.sp, 0, x->o) ? 0
                    : pm_gc_contains(g.sp, 1, x->o) ? 1 : pm_gc_contains(g.sp, 2, x->o) ? 2 : 3);
        for (unsigned e = 0; x->alive && e < x->nedges; e++)
            if (x->edge[e] >= 0)
                fprintf(stderr, " %d", x->edge[e]);
        fprintf(stderr, "\n");
    }
}

static void run_input(const uint8_t *data, size_t size, const char *collector)
{
    struct fz_in in = {data, data + size};
    open_space(collector);
    while (fz_more(&in)) {
        unsigned op = fz_u8(&in);
        int a, b;
        struct picks p;
        switch (op & 15) {
        case 0:
        case 1:
            op_new(GK_INSTANCE, (op >> 4) % GC_CLASSES, &in);
            break;
        case 2:
            op_new(GK_LIST, 0, &in);
            break;
        case 3:
            op_new(GK_DICT, 0, &in);
            break;
        case 4:
            op_new(GK_TUPLE, 0, &in);
            break;
        case 5:
        case 6:
        case 7:
            reachable_nodes(&p);
            a = pick(&p, fz_u8(&in));
            b = pick(&p, fz_u8(&in));
            if (a >= 0 && b >= 0)
                op_link(a, b, fz_u8(&in));
            break;
        case 8:
        case 9:
            reachable_nodes(&p);
            a = pick(&p, fz_u8(&in));
            if (a >= 0)
                op_unlink(a, fz_u8(&in));
            break;
        case 10:
            reachable_nodes(&p);
            a = pick(&p, fz_u8(&in));
            if (a >= 0)
                op_drop(a);
            break;
        case 11:
            reachable_nodes(&p);
            a = pick(&p, fz_u8(&in));
            if (a >= 0)
                op_weakref(a);
            break;
        case 13:
            op_finalizers(fz_u8(&in));
            break;
        case 14:
            op_clear_garbage();
            break;
        case 12:
            op_collect(fz_u8(&in) % 2);
            break;
        default:
            op_collect(2);
            break;
        }
        unsigned refs[GC_NODES];
        shadow_cascade_refs(refs);  /* the shadow does not change until the checks */
        if (gc_trace())
            trace_state(op);
        g.nops++;
        /* the collector's lists: after ops that free objects, and every 8 ops */
        unsigned k = op & 15;
        check_all("after the op", k == 10 || k == 12 || k == 14 || k == 15 || g.nops % 8 == 0,
                  refs);
    }
    close_space();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_target = "fuzz_gc";
    fz_recycle();
    for (const char *const *c = pm_gc_collector_names(); *c; c++)
        run_input(data, size, *c);
    return 0;
}
