/* allocators/pymalloc.c — the `pymalloc` backend: CPython's small-object
 * allocator design (Objects/obmalloc.c), rebuilt as an instance.
 *
 * Entry points: pm_pymalloc_ops, pm_pymalloc_report(), pm_pymalloc_pool_info()
 * (pymalloc.h). This file holds the hot paths; the walks and checks
 * (stats, the report, pool_info, check() and the validity predicates of the
 * expensive asserts) are in pymalloc_check.c, over pymalloc_internal.h. Options: preset=3.8|3.9|3.10|3.11|3.12|3.13 (py38 = 3.8,
 * py310 = 3.10; default 3.11), arena=SIZE, pool=SIZE,
 * large=system|segfit|os, placement=os|aligned|unaligned.
 *
 * Versions (docs/cpython-versions.md has the table against each version's
 * Objects/obmalloc.c). A preset sets the geometry (3.8, 3.9: 256 KiB arenas
 * of 4 KiB pools; 3.10+: 1 MiB of 16 KiB) and the version's rules: 3.8
 * unmaps every arena whose pools are all free, 3.9+ keeps one; the report
 * has no arena map section before 3.10, and 3.10's radix nodes (48-bit keys,
 * 10/10/8 bits) are smaller than 3.11's (64-bit keys, 15/15/14 bits): for
 * 3.10 the report counts the nodes CPython 3.10 would make (map310_note),
 * while ownership always uses our own tree below. arena= and pool= after a
 * preset change the geometry and keep the version's rules.
 *
 * Placement. An arena is one mapping of exactly arena_size bytes, as
 * CPython's (placement=os): the kernel places consecutive mappings next to
 * each other, so arenas come in runs that share one alignment, and every
 * other mapping the heap makes (arena table, bitmap region, radix nodes) is
 * a whole number of pools so as not to break a run. placement=aligned maps
 * every arena on a pool boundary (all pools usable), placement=unaligned
 * one page past one (one pool lost per arena): fixed placement for
 * experiments, and for matching a recorded CPython whose report shows all
 * its arenas aligned or all not.
 *
 * Large requests (0 and > 512 bytes). CPython hands them to malloc
 * (PyMem_RawMalloc; 0 bytes asks for 1), a realloc of a block pymalloc does
 * not own goes to PyMem_RawRealloc whatever the new size ("we punt"), and a
 * free of one to PyMem_RawFree; "owns" is the arena test. By default
 * (large=system) the model does exactly that with the C library's
 * malloc/calloc/realloc/free: a pointer in no carved pool of ours (the
 * radix test below) is the C library's. Unlike CPython, the live large
 * blocks are also kept in the hash set below (not to decide ownership: so
 * that destroy() frees them as an instance should, check() counts them,
 * and a foreign or double free is reported as misuse instead of reaching
 * free(); about one hash probe per large call, with the set's shape as
 * constants), with a counter of them (CPython keeps the count,
 * raw_allocated_blocks); stats() sums their malloc_usable_size() over the
 * set, so that no call pays for the byte figure. Injected OS faults reach only the set's
 * own mapping, and the OS account (mapped, peak mapped:
 * `backend_peak_mapped`) covers the small-object heap and the set only;
 * the process RSS (replay's footprint) includes the C library's heap, as
 * for CPython. trim() calls malloc_trim(0), as the system backend. large=segfit (the default before
 * issue 14 item 7) sends them to an inner segfit instance that maps
 * through this heap's own OS account (pm_config.account), so mapped bytes,
 * faults and destroy cover it, and its misuse reports come back as
 * pymalloc's: the accounted path the fuzzers use. large=os keeps the older
 * path below: a mapping per block with an 8-entry cache (a grown list's
 * item array then costs an mmap, a copy and an munmap per resize: 2.6
 * us/op against 0.24 on a growth trace).
 *
 * Layout. Requests of 1..512 bytes map to 32 classes, class = (n - 1) >> 4,
 * block = (class + 1) * 16. Arenas (arena_size bytes, page-aligned mappings
 * from the OS layer) hold pools (pool_size bytes, a power of two, aligned to
 * their size); an arena whose start is not pool-aligned loses one pool. Each
 * pool serves one class at a time and starts with the 48-byte pool header.
 * Arenas are carved into pools lazily (pool_address is the high-water mark)
 * and pools into blocks lazily (nextoffset / maxnextoffset).
 *
 * Lists, as in CPython:
 *  - used[c]: circular doubly linked list of pools of class c that have both
 *    used and free blocks. A pool that fills up is unlinked; a free into a
 *    full pool links it back at the front.
 *  - arena->freepools: singly linked list of empty pools; any class may take
 *    one. An empty pool goes to the front.
 *  - usable_arenas: arenas with nfreepools > 0, doubly linked and sorted by
 *    ascending nfreepools so that the fullest arena serves new pools and
 *    nearly empty arenas drain. nfp2lasta[k] is the rightmost arena with
 *    nfreepools == k, which keeps the re-sort after a pool release O(1).
 *  - An arena whose pools are all free is unmapped, except that one wholly
 *    free arena is kept (the one at the tail of usable_arenas, CPython's
 *    rule since 3.9; we additionally never keep a second one, which CPython
 *    can do when arenas of 63 and 64 pools mix). trim() releases the kept
 *    one. Version 3.8 keeps none.
 *  - The arena table starts at 16 entries and doubles; it only grows when
 *    usable_arenas is empty, so no list pointer into it goes stale.
 *
 * Ownership. A three-level radix tree over the 64 address bits above
 * log2(chunk), chunk = 64 pools (1 MiB for py310, 256 KiB for py38: the
 * arena size, as in CPython, and root/mid/bottom take 15/15/14 bits for
 * py310, so the nodes have CPython 3.11's sizes). Each 8-byte bottom entry
 * is a mask of the chunk's 64 pool-sized slots: bit k set = slot k is a
 * carved pool of one of our arenas. That handles arenas not aligned to the
 * chunk (one chunk holds the end of one arena and the start of the next)
 * and answers "is this a pool of ours" with one bit test, excluding the
 * bytes an unaligned arena loses and pools not carved yet, so the pool
 * header of an accepted pointer is always valid. Nodes are made when an
 * arena is mapped (carving never fails) and kept until destroy, as in
 * CPython.
 *
 * Double frees. Each arena has an allocation bitmap, one bit per 16-byte
 * granule of the arena (set = a block starts here and is handed out),
 * outside the pool headers so that pools hold exactly CPython's block
 * counts. The bitmaps live in a region of their own (arena i's at
 * bitmap_base + i * arena_size/128), which grows with the arena table, so
 * arenas stay plain arena-sized mappings. CPython pads the pool header's
 * first field (a union of the 4-byte count and a pointer) to 8 bytes; we
 * keep the count in the low 4 and, in the otherwise unused high 4, the
 * offset of the pool's slice of the bitmap from bitmap_base, so malloc and
 * free reach the bit with one add of a heap field. Cost: 0.78% of the arena
 * (8 KiB per 1 MiB arena, 2 KiB per 256 KiB arena) and one
 * read-modify-write of a bitmap word per malloc and per free. The offset
 * is 32 bits: at most 4 GiB of bitmap, i.e. 512 GiB of arenas.
 * free/realloc/usable_size of a pointer in no arena mapping and not a live
 * large block is FOREIGN_POINTER; one inside an arena but not the start of
 * a carved block (pool header, interior, lost alignment bytes, uncarved
 * pool, not 16-aligned) is MISALIGNED_POINTER; a carved block start whose
 * bit is clear is DOUBLE_FREE (a large block whose mapping is still in the
 * cache too).
 *
 * Speed. free() is compiled three times: with the py310 and py38 geometry
 * as constants (shifts and masks fold into the instructions) and a generic
 * copy reading them from the heap; the heap's `shape` picks one. Each
 * first tries the bottom node of the newest arena (a range compare instead
 * of two dependent loads); a py310 heap's pointer there takes a path with
 * no dispatch at all. Calls are counted only in malloc, per class (see
 * pymalloc_stats); live_blocks is summed from the pools. The trade-offs
 * were measured against libpython3.11's PyObject_Malloc/PyObject_Free in
 * the loop of harness/cli/micro.c.
 *
 * large=os (0 bytes and > 512 bytes): the shared large-block path
 * (pm_large.h, as segfit's): one mapping per block with a 16-byte header,
 * live blocks kept in an open-addressing hash set keyed by address (foreign
 * and double frees detected), freed mappings kept in its cache of
 * LARGE_CACHE_SLOTS entries reused by size (at most 25% bigger than
 * needed), emptied by trim().
 *
 * realloc of a small block keeps it in place when the new size fits its
 * block and is more than 3/4 of it; otherwise it moves (CPython's rule).
 *
 * ASan (pm_asan.h, builds with PM_ASAN=1). Every byte of an arena's pools
 * that is not in a block handed out is poisoned: a fresh arena is poisoned
 * whole (not its bitmap tail), a pool header is unpoisoned when the pool is
 * carved (pool headers are never poisoned again), blocks are unpoisoned
 * when handed out and poisoned whole when freed; the never-carved tail of a
 * pool above nextoffset, the bytes an unaligned arena loses and uncarved
 * pools stay poisoned. A block handed out is unpoisoned over its class size
 * (usable_size(): code may write that far), so an overflow into the class
 * rounding is not seen; realloc in place stays in the class, so needs
 * nothing. The 8-byte free-list link of a free block is opened around each
 * access (LINK_OPEN/LINK_CLOSE: pool_extend, check()); malloc unpoisons the
 * block it pops before reading the link. A large=os mapping kept in the
 * cache is poisoned until reused; arenas and cached mappings are
 * unpoisoned before munmap. Large blocks of the large=segfit path are the
 * inner segfit's to poison, those of the default large=system ASan's own
 * allocator's. No code in other builds.
 */
#include "pymalloc_internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char BACKEND[] = "pymalloc";

/* Makes sure the leaf for a exists. False on OOM (nodes already made stay). */
static bool radix_ensure(pm_heap_t *h, uintptr_t a)
{
    void ***slot = (void ***)&h->root[a >> h->geom.root_shift];
    if (!*slot) {
        void **mid = pm_os_map(&h->os, sizeof(void *) << h->mid_bits);
        if (!mid)
            return false;
        *slot = mid;
        if (h->mid_count < PM_RADIX_DIR)
            h->dir_mid[h->mid_count] = (uint32_t)(a >> h->geom.root_shift);
        h->mid_count++;
    }
    void **bslot = &(*slot)[(a >> h->geom.mid_shift) & h->geom.mid_mask];
    if (!*bslot) {
        void *bot = pm_os_map(&h->os, sizeof(struct pm_leaf) << h->bot_bits);
        if (!bot)
            return false;
        *bslot = bot;
        if (h->bot_count < PM_RADIX_DIR)
            h->dir_bot[h->bot_count] = a >> h->geom.mid_shift;
        h->bot_count++;
    }
    return true;
}

/* Sets (carved) or clears the slot bit of the pool at address pool. */
static void radix_mark_pool(pm_heap_t *h, uintptr_t pool, bool carved)
{
    struct pm_leaf *e = radix_leaf(h, pool);
    pm_assert_internal(e != NULL);
    uint64_t bit = (uint64_t)1 << ((pool >> h->geom.pool_shift) & (SLOTS_PER_CHUNK - 1));
    e->pools = carved ? e->pools | bit : e->pools & ~bit;
}

/* Makes the leaves for every chunk arena [start, start + A) touches. */
static bool radix_reserve(pm_heap_t *h, uintptr_t start)
{
    uintptr_t c = (uintptr_t)1 << h->geom.chunk_shift;
    uintptr_t end = start + h->arena_size;
    for (uintptr_t chunk = start & ~(c - 1); chunk < end; chunk += c)
        if (!radix_ensure(h, chunk))
            return false;
    return true;
}

/* ------------------------------------------------------------------ arenas */

/* Makes the bitmap region hold the bitmap of arena slot `idx`: doubles it
 * (arena i's bitmap is at i * bitmap_bytes, so the pool headers' offsets
 * stay valid when the region moves). Like the arena table, it is a whole
 * number of pools: then it shifts arenas mapped next to it by whole pools,
 * which keeps their alignment (CPython's table lives on the malloc heap,
 * away from the arenas). */
static bool bitmap_region_fit(pm_heap_t *h, size_t idx)
{
    size_t need = (idx + 1) * h->bitmap_bytes;
    if (need <= h->bitmap_map_size)
        return true;
    if (need > (size_t)UINT32_MAX + 1)
        return false;            /* bitmap_off is 32 bits */
    size_t bsize = h->bitmap_map_size ? h->bitmap_map_size : h->pool_size;
    while (bsize < need)
        bsize *= 2;
    uint8_t *bm = pm_os_map(&h->os, bsize);
    if (!bm)
        return false;
    if (h->bitmap_map_size) {
        memcpy(bm, h->bitmap_base, h->bitmap_map_size);
        pm_os_unmap(&h->os, h->bitmap_base, h->bitmap_map_size);
    }
    h->bitmap_base = bm;
    h->bitmap_map_size = bsize;
    return true;
}

static bool arena_table_grow(pm_heap_t *h)
{
    uint32_t old = h->maxarenas;
    uint32_t n = old ? old * 2 : ARENA_TABLE_INITIAL;
    if (n < old || n > (UINT32_MAX >> 1))
        return false;
    pm_assert_internal(h->usable_arenas == NULL && h->unused_arena_objects == NULL);
    size_t tsize = pm_round_up((size_t)n * sizeof(struct pm_arena), h->pool_size);
    struct pm_arena *t = pm_os_map(&h->os, tsize);
    if (!t)
        return false;
    if (old) {
        memcpy(t, h->arenas, (size_t)old * sizeof *t);
        pm_os_unmap(&h->os, h->arenas, h->table_map_size);
    }
    h->table_map_size = tsize;
    for (uint32_t i = old; i < n; i++) {
        t[i].address = 0;
        t[i].nextarena = i + 1 < n ? &t[i + 1] : NULL;
    }
    h->arenas = t;
    h->maxarenas = n;
    h->unused_arena_objects = &t[old];
    return true;
}

/* Maps arena_size bytes for an arena as the placement option says. Its
 * contents need not be zero (as CPython's: a pool's header is written when
 * the pool is carved, a block before it is handed out), so a recycled
 * range is taken as it is (pm_os_map_any). */
static uint8_t *arena_map(pm_heap_t *h)
{
    size_t page = pm_os_page_size();
    if (h->placement == PLACE_OS)
        return pm_os_map_any(&h->os, h->arena_size, page, NULL);
    if (h->placement == PLACE_ALIGNED)
        return pm_os_map_any(&h->os, h->arena_size, h->pool_size, NULL);
    /* unaligned: map a pool more, keep [pool boundary + page, + A) */
    uint8_t *m = pm_os_map_any(&h->os, h->arena_size + h->pool_size, h->pool_size, NULL);
    if (!m)
        return NULL;
    pm_os_unmap(&h->os, m, page);
    pm_os_unmap(&h->os, m + page + h->arena_size, h->pool_size - page);
    return m + page;
}

/* Version 3.10's report: note the radix nodes CPython 3.10 makes for an
 * arena at a (arena_map_mark_used: the node of a, and of a + A when a is
 * not A-aligned). It never frees them. */
static void map310_note_key(uint64_t *keys, uint32_t *n, uint64_t key)
{
    uint32_t k = *n < MAP310_KEYS ? *n : MAP310_KEYS;
    for (uint32_t i = 0; i < k; i++)
        if (keys[i] == key)
            return;
    if (*n < MAP310_KEYS)
        keys[*n] = key;
    if (*n < UINT32_MAX)
        (*n)++;
}

static void map310_note(pm_heap_t *h, uintptr_t a)
{
    const unsigned addr_bits = 48;
    map310_note_key(h->map310_mid, &h->map310_nmid, (uint64_t)a >> (addr_bits - h->map310_top_bits));
    map310_note_key(h->map310_bot, &h->map310_nbot,
                    (uint64_t)a >> (h->map310_arena_bits + h->map310_bot_bits));
}

/* Maps a new arena into a free table slot. NULL on OOM. Only called when
 * usable_arenas is empty. */
static struct pm_arena *arena_new(pm_heap_t *h)
{
    if (!h->unused_arena_objects && !arena_table_grow(h))
        return NULL;
    struct pm_arena *ao = h->unused_arena_objects;
    if (!bitmap_region_fit(h, (size_t)(ao - h->arenas)))
        return NULL;
    uint8_t *mem = arena_map(h);
    if (!mem)
        return NULL;
    uintptr_t a = (uintptr_t)mem;
    if (!radix_reserve(h, a)) {
        pm_os_unmap(&h->os, mem, h->arena_size);
        return NULL;
    }
    if (h->version == 310) {
        map310_note(h, a);
        if (a & (((uintptr_t)1 << h->map310_arena_bits) - 1))
            map310_note(h, a + h->arena_size);
    }
    PM_POISON(mem, h->arena_size);   /* nothing handed out yet */
    h->bot_hint_first = (a >> h->geom.mid_shift) << (h->geom.mid_shift - h->geom.chunk_shift);
    h->bot_hint = ((void **)h->root[a >> h->geom.root_shift])[(a >> h->geom.mid_shift)
                                                             & h->geom.mid_mask];
    if (h->shape == SHAPE_PY310)
        h->hint310_first = h->bot_hint_first;
    h->unused_arena_objects = ao->nextarena;
    uintptr_t first = arena_first_pool(h, a);
    ao->address = a;
    ao->pool_address = (uint8_t *)first;
    ao->ntotalpools = h->pools_per_arena - (first != a);
    ao->nfreepools = ao->ntotalpools;
    ao->freepools = NULL;
    ao->nextarena = ao->prevarena = NULL;
    h->ntimes_arena_allocated++;
    h->narenas_current++;
    if (h->narenas_current > h->narenas_highwater)
        h->narenas_highwater = h->narenas_current;
    h->nwhole_free++;
    return ao;
}

/* Unmaps an arena that is not (or no longer) linked in usable_arenas. */
static void arena_release(pm_heap_t *h, struct pm_arena *ao)
{
    for (uintptr_t b = arena_first_pool(h, ao->address); b < (uintptr_t)ao->pool_address;
         b += h->pool_size)
        radix_mark_pool(h, b, false);
    PM_UNPOISON((void *)ao->address, h->arena_size);   /* the shadow outlives the mapping */
    pm_os_unmap(&h->os, (void *)ao->address, h->arena_size);
    ao->address = 0;
    ao->nextarena = h->unused_arena_objects;
    h->unused_arena_objects = ao;
    h->narenas_current--;
}

/* Unlinks ao (nfreepools == nf) from usable_arenas, fixing nfp2lasta. */
static void usable_unlink(pm_heap_t *h, struct pm_arena *ao)
{
    uint32_t nf = ao->nfreepools;
    if (h->nfp2lasta[nf] == ao) {
        struct pm_arena *p = ao->prevarena;
        h->nfp2lasta[nf] = (p && p->nfreepools == nf) ? p : NULL;
    }
    if (ao->prevarena)
        ao->prevarena->nextarena = ao->nextarena;
    else
        h->usable_arenas = ao->nextarena;
    if (ao->nextarena)
        ao->nextarena->prevarena = ao->prevarena;
}

/* ------------------------------------------------------------------- pools */

static inline void used_link_front(pm_heap_t *h, pm_pool *pool, unsigned c)
{
    pm_pool *head = &h->used[c].pool;
    pm_pool *next = head->nextpool;
    pool->nextpool = next;
    pool->prevpool = head;
    next->prevpool = pool;
    head->nextpool = pool;
}

static inline void used_unlink(pm_pool *pool)
{
    pm_pool *next = pool->nextpool, *prev = pool->prevpool;
    next->prevpool = prev;
    prev->nextpool = next;
}

/* The free list ran dry: carve one more block, or unlink the full pool. */
static void pool_extend(pm_pool *pool, unsigned c)
{
    if (pool->nextoffset <= pool->maxnextoffset) {
        uint8_t *bp = (uint8_t *)pool + pool->nextoffset;
        pool->nextoffset += class_size(c);
        LINK_OPEN(bp);          /* carved free: poisoned but for the link access */
        *(uint8_t **)bp = NULL;
        LINK_CLOSE(bp);
        pool->freeblock = bp;
        return;
    }
    used_unlink(pool);
}

/* used[c] is empty: take a pool from the fullest usable arena. Returns the
 * first block, marked allocated, or NULL on OOM. */
static PM_NOINLINE uint8_t *pool_alloc_new(pm_heap_t *h, unsigned c)
{
    if (!h->usable_arenas) {
        struct pm_arena *fresh = arena_new(h);
        if (!fresh)
            return NULL;
        h->usable_arenas = fresh;
        pm_assert_internal(h->nfp2lasta[fresh->nfreepools] == NULL);
        h->nfp2lasta[fresh->nfreepools] = fresh;
        pm_assert_expensive(pymalloc_arenas_valid(h) && pymalloc_arena_valid(h, fresh));
    }
    struct pm_arena *ao = h->usable_arenas;
    pm_assert_internal(ao->address != 0 && ao->nfreepools > 0);
    if (ao->nfreepools == ao->ntotalpools)
        h->nwhole_free--;
    /* ao is the leftmost (smallest nfreepools): decrementing keeps order. */
    if (h->nfp2lasta[ao->nfreepools] == ao)
        h->nfp2lasta[ao->nfreepools] = NULL;
    if (ao->nfreepools > 1) {
        pm_assert_internal(h->nfp2lasta[ao->nfreepools - 1] == NULL);
        h->nfp2lasta[ao->nfreepools - 1] = ao;
    }
    pm_pool *pool = ao->freepools;
    if (pool) {
        ao->freepools = pool->nextpool;
    } else {
        pool = (pm_pool *)ao->pool_address;
        uintptr_t pa = (uintptr_t)pool;
        PM_UNPOISON(pool, POOL_OVERHEAD);   /* the header; the blocks stay poisoned */
        pool->arenaindex = (uint32_t)(ao - h->arenas);
        pool->szidx = DUMMY_SZIDX;
        pool->ref.bitmap_off = pool_bitmap_off(h, ao, pa);
        ao->pool_address += h->pool_size;
        radix_mark_pool(h, pa, true);
    }
    if (--ao->nfreepools == 0) {
        h->usable_arenas = ao->nextarena;
        if (h->usable_arenas)
            h->usable_arenas->prevarena = NULL;
    }
    used_link_front(h, pool, c);
    pool->ref.count = 1;
    uint8_t *bp;
    if (pool->szidx == c) {
        /* last used for this class: header and free list still valid */
        bp = pool->freeblock;
        PM_UNPOISON(bp, class_size(c));     /* handed out: the link goes with it */
        pool->freeblock = *(uint8_t **)bp;
    } else {
        unsigned size = class_size(c);
        pool->szidx = c;
        bp = (uint8_t *)pool + POOL_OVERHEAD;
        PM_UNPOISON(bp, size);
        pool->nextoffset = POOL_OVERHEAD + size;
        pool->maxnextoffset = (uint32_t)(h->pool_size - size);
        pool->freeblock = NULL;
    }
    if (!pool->freeblock)
        pool_extend(pool, c);
    *pool_bitmap_word(h, pool, (uintptr_t)bp) |= bitmap_mask((uintptr_t)bp);
    h->used[c].nmalloc++;
    pm_assert_expensive(pymalloc_pool_valid(h, pool) && pymalloc_arena_valid(h, ao) &&
                        pymalloc_usable_valid(h, ao));
    return bp;
}

/* After pool_release kept the arena: the pool, the arena and its place in
 * usable_arenas (and its neighbours' places: the arena may have moved).
 * Referenced by asserts only (unevaluated below level 3). */
static __attribute__((unused)) bool pool_release_valid(const pm_heap_t *h, const pm_pool *pool, const struct pm_arena *ao)
{
    return pymalloc_pool_valid(h, pool) && pymalloc_arena_valid(h, ao) &&
           pymalloc_usable_valid(h, ao) && (!ao->prevarena || pymalloc_usable_valid(h, ao->prevarena)) &&
           (!ao->nextarena || pymalloc_usable_valid(h, ao->nextarena));
}

/* The pool just became empty and is unlinked from used[]: give it to its
 * arena's freepools and do the arena bookkeeping (CPython's 4 cases). */
static PM_NOINLINE void pool_release(pm_heap_t *h, pm_pool *pool)
{
    struct pm_arena *ao = &h->arenas[pool->arenaindex];
    pool->nextpool = ao->freepools;
    ao->freepools = pool;
    uint32_t nf = ao->nfreepools;
    struct pm_arena *lastnf = h->nfp2lasta[nf];   /* NULL when nf == 0 */
    if (lastnf == ao) {
        struct pm_arena *p = ao->prevarena;
        h->nfp2lasta[nf] = (p && p->nfreepools == nf) ? p : NULL;
    }
    bool linked = nf > 0;
    ao->nfreepools = ++nf;

    if (nf == ao->ntotalpools) {
        /* Case 1: wholly free. Keep it only if it is (or would be) the tail
         * of usable_arenas and no other wholly free arena is kept. */
        bool tail = linked ? ao->nextarena == NULL : h->usable_arenas == NULL;
        if (!tail || h->nwhole_free || !h->keep_free_arena) {
            if (linked) {
                if (ao->prevarena)
                    ao->prevarena->nextarena = ao->nextarena;
                else
                    h->usable_arenas = ao->nextarena;
                if (ao->nextarena)
                    ao->nextarena->prevarena = ao->prevarena;
            }
            arena_release(h, ao);
            pm_assert_expensive(pymalloc_arenas_valid(h));
            return;
        }
        h->nwhole_free++;
    }
    if (nf == 1) {
        /* Case 2: was full, not in the list: smallest count goes first. */
        ao->nextarena = h->usable_arenas;
        ao->prevarena = NULL;
        if (h->usable_arenas)
            h->usable_arenas->prevarena = ao;
        h->usable_arenas = ao;
        if (!h->nfp2lasta[1])
            h->nfp2lasta[1] = ao;
        pm_assert_expensive(pool_release_valid(h, pool, ao));
        return;
    }
    if (!h->nfp2lasta[nf])
        h->nfp2lasta[nf] = ao;
    if (ao == lastnf) {
        pm_assert_expensive(pool_release_valid(h, pool, ao));
        return;                 /* Case 4: still in order */
    }
    /* Case 3: slide ao right, to just after lastnf. */
    pm_assert_internal(lastnf != NULL && ao->nextarena != NULL);
    if (ao->prevarena)
        ao->prevarena->nextarena = ao->nextarena;
    else
        h->usable_arenas = ao->nextarena;
    ao->nextarena->prevarena = ao->prevarena;
    ao->prevarena = lastnf;
    ao->nextarena = lastnf->nextarena;
    if (ao->nextarena)
        ao->nextarena->prevarena = ao;
    lastnf->nextarena = ao;
    pm_assert_expensive(pool_release_valid(h, pool, ao));
}

/* ------------------------------------------------------------ small blocks */

/* m = request - 1, 0..511: class m >> 4, whose sentinel is at byte
 * (m >> 4) * 64 = (m << 2) & ~63 of used[]. */
static PM_ALWAYS_INLINE uint8_t *small_alloc(pm_heap_t *h, size_t m)
{
    struct pm_used_head *head = (struct pm_used_head *)((uint8_t *)h->used + ((m << 2) & ~(size_t)63));
    pm_pool *sentinel = &head->pool;
    pm_pool *pool = sentinel->nextpool;
    if (PM_UNLIKELY(pool == sentinel))
        return pool_alloc_new(h, (unsigned)(m >> 4));
    head->nmalloc++;
    pool->ref.count++;
    uint8_t *bp = pool->freeblock;
    pm_assert_internal(bp != NULL);
    PM_UNPOISON(bp, class_size((unsigned)(m >> 4)));   /* handed out, link included */
    if (PM_UNLIKELY((pool->freeblock = *(uint8_t **)bp) == NULL))
        pool_extend(pool, pool->szidx);
    uint64_t *w = pool_bitmap_word(h, pool, (uintptr_t)bp);
    *w = *w | bitmap_mask((uintptr_t)bp);
    pm_assert_expensive(pool->freeblock || pymalloc_pool_valid(h, pool));   /* it became full */
    return bp;
}

/* p is a valid live block of pool; its bitmap bit is already cleared. */
static PM_ALWAYS_INLINE void small_free(pm_heap_t *h, pm_pool *pool, uint8_t *p)
{
    uint8_t *last = pool->freeblock;
    *(uint8_t **)p = last;
    PM_POISON(p, class_size(pool->szidx));   /* free: poisoned whole, link written */
    pool->freeblock = p;
    uint32_t count = --pool->ref.count;
    if (PM_UNLIKELY(last == NULL)) {
        /* the pool was full and unlinked */
        if (PM_UNLIKELY(count == 0)) {
            pool_release(h, pool);
        } else {
            used_link_front(h, pool, pool->szidx);
            pm_assert_expensive(pymalloc_pool_valid(h, pool));
        }
        return;
    }
    if (PM_UNLIKELY(count == 0)) {
        used_unlink(pool);
        pool_release(h, pool);
    }
}

/* Is `pool` (inside arena ao) carved, and is `a` the start of a carved block
 * in it? */
static bool small_block_start(const pm_heap_t *h, const struct pm_arena *ao,
                              const pm_pool *pool, uintptr_t a)
{
    uintptr_t first = arena_first_pool(h, ao->address);
    if ((uintptr_t)pool < first || (uint8_t *)pool >= ao->pool_address)
        return false;
    if (pool->szidx >= NCLASSES)
        return false;
    uintptr_t off = a - (uintptr_t)pool;
    unsigned size = class_size(pool->szidx);
    return off >= POOL_OVERHEAD && off < pool->nextoffset && (off - POOL_OVERHEAD) % size == 0;
}

static void misuse(pm_heap_t *h, enum pm_misuse_kind kind, const void *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void misuse(pm_heap_t *h, enum pm_misuse_kind kind, const void *p, const char *fmt, ...)
{
    char detail[PM_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    int saved = errno;
    pm_misuse_report(&h->cfg, &h->misuse, BACKEND, kind, p, detail);
    errno = saved;
}

/* p is inside an arena's pools but failed the fast validity test. */
static PM_NOINLINE void small_misuse(pm_heap_t *h, const void *p, const char *call)
{
    uintptr_t a = (uintptr_t)p;
    const struct pm_arena *ao = arena_containing(h, a);
    pm_pool *pool = pool_of(h, p);
    if (!ao) {
        misuse(h, PM_MISUSE_FOREIGN_POINTER, p, "%s: not a block of this heap", call);
        return;
    }
    if ((a & (PM_ALIGNMENT - 1)) == 0 && small_block_start(h, ao, pool, a) &&
        !bitmap_test(h, ao, a)) {
        misuse(h, PM_MISUSE_DOUBLE_FREE, p, "%s: block of %u bytes in pool %p is already free",
               call, class_size(pool->szidx), (void *)pool);
        return;
    }
    misuse(h, PM_MISUSE_MISALIGNED_POINTER, p,
           "%s: not the start of a block handed out (offset %lu in pool %p)", call,
           (unsigned long)(a - (uintptr_t)pool), (void *)pool);
}

/* ----------------------------------------------------------- large blocks */

/* Room for one more entry (load <= 1/2); the set is mapped on first use. */
static bool large_set_reserve(pm_heap_t *h)
{
    return pm_large_reserve(&h->big, &h->os, 4);
}

/* large=system's set operations, with the set's fixed shape (width 1,
 * shift 4, Fibonacci spread: large_set_reserve) as constants, inlined into
 * the paths that make one on every large malloc and free. */
#define SYS_SET_ARGS 1, 4, true

static PM_ALWAYS_INLINE uintptr_t *system_find(const pm_heap_t *h, const void *p)
{
    return h->big.set.slot ? pm_addrset_find_k(&h->big.set, (uintptr_t)p, SYS_SET_ARGS) : NULL;
}

static PM_ALWAYS_INLINE void system_remove(pm_heap_t *h, uintptr_t *e)
{
    pm_addrset_remove_entry_k(&h->big.set, e, SYS_SET_ARGS);
}

static PM_ALWAYS_INLINE void system_put(pm_heap_t *h, const void *p)
{
    pm_addrset_insert_k(&h->big.set, (uintptr_t)p, SYS_SET_ARGS);
}

/* large_set_reserve with its common case (mapped, room left) inline. */
static PM_ALWAYS_INLINE bool system_reserve(pm_heap_t *h)
{
    const struct pm_addrset *s = &h->big.set;
    if (PM_LIKELY(s->slot != NULL && 2 * (s->count + 1) <= pm_addrset_cap(s)))
        return true;
    return large_set_reserve(h);
}

/* large=os: the shared path's header level with its cache (pm_large.h). */
static PM_NOINLINE void *large_alloc(pm_heap_t *h, size_t n, bool zero)
{
    return pm_large_alloc(&h->big, &h->os, n, zero, 4);
}

/* p is in no arena's pools: a large block, or misuse. */
static PM_NOINLINE void large_bad_pointer(pm_heap_t *h, const void *p, const char *call)
{
    const struct pm_arena *ao = arena_containing(h, (uintptr_t)p);
    if (ao)
        misuse(h, PM_MISUSE_MISALIGNED_POINTER, p,
               "%s: inside arena %#lx but not in one of its pools", call,
               (unsigned long)ao->address);
    else if (h->large == LARGE_OS && pm_large_in_cache(&h->big, p, PM_LARGE_HDR))
        misuse(h, PM_MISUSE_DOUBLE_FREE, p, "%s: large block is already free", call);
    else
        misuse(h, PM_MISUSE_FOREIGN_POINTER, p, "%s: not a block of this heap", call);
}

/* Frees the live large=os block in slot i of the set. */
static void large_release(pm_heap_t *h, size_t i)
{
    pm_large_free_entry(&h->big, &h->os, pm_addrset_entry(&h->big.set, i));
}

/* large=system: the C library's heap, as CPython's PyMem_RawMalloc
 * (0 bytes asks for 1). Live blocks are kept in the large set (not for
 * ownership, which the arena test decides before we get here: so that
 * destroy() frees them, check() counts them and a foreign or double free
 * is reported instead of reaching free()) and counted; their usable bytes
 * are summed over the set by stats() (pymalloc_check.c), not kept per
 * call. */
static PM_ALWAYS_INLINE void *system_alloc(pm_heap_t *h, size_t n, bool zero)
{
    if (PM_UNLIKELY(n > PM_LARGE_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    if (PM_UNLIKELY(!system_reserve(h)))
        return NULL;
    void *p = zero ? calloc(1, n ? n : 1) : malloc(n ? n : 1);
    if (PM_LIKELY(p != NULL)) {
        system_put(h, p);
        h->big.count++;
        h->big.nmalloc++;
    }
    return p;
}

/* free() of a pointer that is not in an arena's pools (NULL included). */
static PM_NOINLINE void large_free(pm_heap_t *h, void *p)
{
    if (!p)
        return;
    if (PM_LIKELY(h->large == LARGE_SYSTEM)) {
        uintptr_t *e = system_find(h, p);
        if (PM_UNLIKELY(!e)) {
            large_bad_pointer(h, p, "free");
            return;
        }
        system_remove(h, e);
        h->big.count--;
        free(p);
        return;
    }
    if (h->inner) {
        if (arena_containing(h, (uintptr_t)p))
            large_bad_pointer(h, p, "free");
        else
            h->inner_ops->free(h->inner, p);
        return;
    }
    size_t i = large_find(h, p);
    if (i == SIZE_MAX) {
        large_bad_pointer(h, p, "free");
        return;
    }
    large_release(h, i);
}

/* ---------------------------------------------------------------- the ops */

/* 0 and > 512 bytes: the inner instance, or a mapping of our own. */
static PM_NOINLINE void *large_any(pm_heap_t *h, size_t n, bool zero)
{
    if (h->large == LARGE_SYSTEM)
        return system_alloc(h, n, zero);
    if (h->inner)
        return zero ? h->inner_ops->calloc(h->inner, 1, n) : h->inner_ops->malloc(h->inner, n);
    return large_alloc(h, n, zero);
}

static PM_ALWAYS_INLINE void *alloc_any(pm_heap_t *h, size_t n)
{
    if (PM_LIKELY(n - 1 < PM_SMALL_MAX))
        return small_alloc(h, n - 1);
    return large_any(h, n, false);
}

static void *pymalloc_malloc(pm_heap_t *h, size_t n)
{
    return alloc_any(h, n);
}

static void *pymalloc_calloc(pm_heap_t *h, size_t k, size_t n)
{
    if (n && k > SIZE_MAX / n) {
        errno = ENOMEM;
        return NULL;
    }
    size_t total = k * n;
    void *p;
    if (total - 1 < PM_SMALL_MAX) {
        p = small_alloc(h, total - 1);
        if (p)
            memset(p, 0, total);
    } else {
        p = large_any(h, total, true);
    }
    return p;
}

/* free() of p whose radix leaf is e. Every call below is in tail
 * position, so the fast path needs no frame. */
static PM_ALWAYS_INLINE void free_leaf_g(pm_heap_t *h, void *p, const struct pm_leaf *e,
                                         const struct pm_geom g)
{
    uintptr_t a = (uintptr_t)p;
    if (PM_UNLIKELY(!leaf_has_pool(e, a, g))) {
        large_free(h, p);
        return;
    }
    pm_pool *pool = (pm_pool *)(a & ~g.pool_mask);
    uint64_t *w = pool_bitmap_word(h, pool, a);
    uint64_t m = bitmap_mask(a);
    uint64_t word = *w;
    if (PM_UNLIKELY(!(word & m))) {
        small_misuse(h, p, "free");
        return;
    }
    if (PM_UNLIKELY(a & (PM_ALIGNMENT - 1))) {
        small_misuse(h, p, "free (unaligned)");
        return;
    }
    *w = word ^ m;                       /* the bit is set: clear it */
    small_free(h, pool, p);
}

static PM_ALWAYS_INLINE void free_g(pm_heap_t *h, void *p, const struct pm_geom g)
{
    uintptr_t a = (uintptr_t)p;
    const struct pm_leaf *e;
    uintptr_t k = (a >> g.chunk_shift) - h->bot_hint_first;
    if (PM_LIKELY(k <= g.bot_mask)) {
        e = &h->bot_hint[k];
    } else {
        e = radix_leaf_g(h, a, g);
        if (!e) {
            large_free(h, p);
            return;
        }
    }
    free_leaf_g(h, p, e, g);
}

/* Everything but a py310 heap's pointer in its newest bottom node. */
static PM_NOINLINE void free_slow(pm_heap_t *h, void *p)
{
    if (h->shape == SHAPE_PY310)
        free_g(h, p, GEOM_PY310);
    else if (h->shape == SHAPE_PY38)
        free_g(h, p, GEOM_PY38);
    else
        free_g(h, p, h->geom);
}

/* The default geometry's common case is tested first, with no dispatch:
 * hint310_first only matches addresses for a py310 heap. */
static void pymalloc_free(pm_heap_t *h, void *p)
{
    const struct pm_geom g = GEOM_PY310;
    uintptr_t k = ((uintptr_t)p >> g.chunk_shift) - h->hint310_first;
    if (PM_LIKELY(k <= g.bot_mask)) {
        free_leaf_g(h, p, &h->bot_hint[k], g);
        return;
    }
    free_slow(h, p);
}

/* Validates p. Returns the allocation-bit word of a live small block, or
 * NULL with *slot set for a live large block, or NULL with *slot ==
 * SIZE_MAX after reporting misuse. */
static uint64_t *pointer_lookup(pm_heap_t *h, void *p, size_t *slot, const char *call)
{
    uintptr_t a = (uintptr_t)p;
    if (radix_owns_g(h, a, h->geom)) {
        uint64_t *w = pool_bitmap_word(h, pool_of(h, p), a);
        if ((a & (PM_ALIGNMENT - 1)) || !(*w & bitmap_mask(a))) {
            small_misuse(h, p, call);
            *slot = SIZE_MAX;
            return NULL;
        }
        return w;
    }
    *slot = large_find(h, p);
    if (*slot == SIZE_MAX)
        large_bad_pointer(h, p, call);
    return NULL;
}

/* Frees a block pointer_lookup() validated. */
static void free_validated(pm_heap_t *h, void *p, uint64_t *w, size_t slot)
{
    if (w) {
        *w &= ~bitmap_mask((uintptr_t)p);
        small_free(h, pool_of(h, p), p);
    } else {
        large_release(h, slot);
    }
}

static void *pymalloc_realloc(pm_heap_t *h, void *p, size_t n)
{
    if (!p)
        return pymalloc_malloc(h, n);
    if (h->large == LARGE_SYSTEM && !radix_owns_g(h, (uintptr_t)p, h->geom)) {
        /* not ours: the C library's realloc whatever n is (CPython's
         * pymalloc_realloc "punts" to PyMem_RawRealloc) */
        uintptr_t *e = system_find(h, p);
        if (!e) {
            large_bad_pointer(h, p, "realloc");
            return NULL;
        }
        if (PM_UNLIKELY(n > PM_LARGE_MAX)) {
            errno = ENOMEM;
            return NULL;
        }
        void *q = realloc(p, n ? n : 1);
        if (q && q != p) {
            system_remove(h, e);     /* same count: no growth needed */
            system_put(h, q);
        }
        return q;
    }
    if (h->inner && !radix_owns_g(h, (uintptr_t)p, h->geom)) {
        /* not ours: the large path's realloc, whatever n is (CPython:
         * PyMem_RawRealloc for a block pymalloc does not own) */
        if (arena_containing(h, (uintptr_t)p)) {
            large_bad_pointer(h, p, "realloc");
            return NULL;
        }
        return h->inner_ops->realloc(h->inner, p, n);
    }
    size_t slot = 0;
    uint64_t *w = pointer_lookup(h, p, &slot, "realloc");
    size_t old;
    if (w) {
        old = class_size(pool_of(h, p)->szidx);
        if (n <= old && 4 * n > 3 * old)
            return p;           /* same class, or shrinking by less than 1/4 */
    } else {
        if (slot == SIZE_MAX)
            return NULL;
        old = pm_large_usable(p);
        if (n > PM_SMALL_MAX && n <= old && n > old / 2)
            return p;           /* fits its mapping, wastes less than half */
    }
    void *q = alloc_any(h, n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    if (w)                        /* a new arena may have moved the bitmap region */
        w = pool_bitmap_word(h, pool_of(h, p), (uintptr_t)p);
    else
        slot = large_find(h, p);  /* the set may have been rehashed */
    free_validated(h, p, w, slot);
    return q;
}

static size_t pymalloc_usable_size(pm_heap_t *h, void *p)
{
    if (!p)
        return 0;
    if (h->large == LARGE_SYSTEM && !radix_owns_g(h, (uintptr_t)p, h->geom)) {
        if (!system_find(h, p)) {
            large_bad_pointer(h, p, "usable_size");
            return 0;
        }
        return malloc_usable_size(p);
    }
    if (h->inner && !radix_owns_g(h, (uintptr_t)p, h->geom)) {
        if (arena_containing(h, (uintptr_t)p)) {
            large_bad_pointer(h, p, "usable_size");
            return 0;
        }
        return h->inner_ops->usable_size(h->inner, p);
    }
    size_t slot = 0;
    if (pointer_lookup(h, p, &slot, "usable_size"))
        return class_size(pool_of(h, p)->szidx);
    if (slot == SIZE_MAX)
        return 0;
    return pm_large_usable(p);
}

/* ----------------------------------------------------------- create/destroy */

struct geometry {
    uint64_t arena;              /* bytes */
    uint64_t pool;               /* bytes */
    enum pm_large_path large;         /* large= */
    unsigned version;            /* CPython emulated: 308, 309, 310, 311, 312, 313 */
    enum pm_placement placement; /* placement= */
};

/* The presets: one per CPython version (docs/cpython-versions.md), and the
 * older names. Geometry differs at 3.10; the arena release rule at 3.9;
 * the report's arena map section appears at 3.10 and its node sizes change
 * at 3.11. 3.12 and 3.13 behave as 3.11 for the default (GIL) build. */
static const struct preset {
    const char *name;
    unsigned version;
    uint32_t arena, pool;        /* bytes */
} presets[] = {
    {"3.8", 308, 256u << 10, 4u << 10},   {"3.9", 309, 256u << 10, 4u << 10},
    {"3.10", 310, 1u << 20, 16u << 10},   {"3.11", 311, 1u << 20, 16u << 10},
    {"3.12", 312, 1u << 20, 16u << 10},   {"3.13", 313, 1u << 20, 16u << 10},
    {"py38", 308, 256u << 10, 4u << 10},  {"py310", 310, 1u << 20, 16u << 10},
};

static bool geometry_parse(const struct pm_config *cfg, struct geometry *g, char err[PM_ERR_LEN])
{
    g->arena = 1u << 20;         /* 3.11 */
    g->pool = 16u << 10;
    g->large = LARGE_SYSTEM;
    g->version = 311;
    g->placement = PLACE_OS;
    struct pm_opt_iter it = {cfg->options};
    const char *k, *v;
    size_t kl, vl;
    int r;
    while ((r = pm_opt_next(&it, &k, &kl, &v, &vl, err)) > 0) {
        if (pm_opt_key_is(k, kl, "preset")) {
            const struct preset *ps = NULL;
            for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
                if (strlen(presets[i].name) == vl && !memcmp(v, presets[i].name, vl))
                    ps = &presets[i];
            if (!ps) {
                snprintf(err, PM_ERR_LEN,
                         "pymalloc: unknown preset '%.*s' (known: 3.8, 3.9, 3.10, 3.11, 3.12, "
                         "3.13; py38 = 3.8, py310 = 3.10)", (int)vl, v);
                return false;
            }
            g->arena = ps->arena;
            g->pool = ps->pool;
            g->version = ps->version;
        } else if (pm_opt_key_is(k, kl, "placement")) {
            static const char *const names[] = {"os", "aligned", "unaligned"};
            bool found = false;
            for (unsigned i = 0; i < 3; i++)
                if (strlen(names[i]) == vl && !memcmp(v, names[i], vl)) {
                    g->placement = (enum pm_placement)i;
                    found = true;
                }
            if (!found) {
                snprintf(err, PM_ERR_LEN,
                         "pymalloc: unknown placement '%.*s' (known: os, aligned, unaligned)",
                         (int)vl, v);
                return false;
            }
        } else if (pm_opt_key_is(k, kl, "arena") || pm_opt_key_is(k, kl, "pool")) {
            uint64_t *dst = k[0] == 'a' ? &g->arena : &g->pool;
            if (!pm_parse_size(v, vl, dst)) {
                snprintf(err, PM_ERR_LEN,
                         "pymalloc: bad %.*s size '%.*s' (expected bytes, K/M/G allowed)",
                         (int)kl, k, (int)vl, v);
                return false;
            }
        } else if (pm_opt_key_is(k, kl, "large")) {
            if (vl == 6 && !memcmp(v, "system", 6)) {
                g->large = LARGE_SYSTEM;
            } else if (vl == 2 && !memcmp(v, "os", 2)) {
                g->large = LARGE_OS;
            } else if (vl == 6 && !memcmp(v, "segfit", 6)) {
                g->large = LARGE_SEGFIT;
            } else {
                snprintf(err, PM_ERR_LEN,
                         "pymalloc: unknown large path '%.*s' (known: system, segfit, os)",
                         (int)vl, v);
                return false;
            }
        } else {
            snprintf(err, PM_ERR_LEN,
                     "pymalloc: unknown option '%.*s' (known: preset, arena, pool, large, placement)",
                     (int)kl, k);
            return false;
        }
    }
    if (r < 0) {
        char inner[PM_ERR_LEN];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, PM_ERR_LEN, "pymalloc: %.200s", inner);
        return false;
    }
    unsigned long long a = (unsigned long long)g->arena, p = (unsigned long long)g->pool;
    if (p == 0 || (p & (p - 1))) {
        snprintf(err, PM_ERR_LEN, "pymalloc: pool size %llu is not a power of two", p);
        return false;
    }
    if (p < POOL_MIN) {
        snprintf(err, PM_ERR_LEN,
                 "pymalloc: pool size %llu is too small for the %d-byte pool header and one "
                 "%d-byte block (at least %d)", p, POOL_OVERHEAD, PM_SMALL_MAX, POOL_MIN);
        return false;
    }
    if (a % p) {
        snprintf(err, PM_ERR_LEN, "pymalloc: arena size %llu is not a multiple of the pool size %llu",
                 a, p);
        return false;
    }
    if (a / p < 2) {
        snprintf(err, PM_ERR_LEN,
                 "pymalloc: arena size %llu holds fewer than 2 pools of %llu bytes (an arena "
                 "not aligned to the pool size loses one)", a, p);
        return false;
    }
    if (g->placement == PLACE_UNALIGNED && p <= pm_os_page_size()) {
        snprintf(err, PM_ERR_LEN,
                 "pymalloc: placement=unaligned needs pools larger than a page (%zu bytes): "
                 "every page-aligned arena is pool-aligned", pm_os_page_size());
        return false;
    }
    if (a > ARENA_MAX) {
        snprintf(err, PM_ERR_LEN, "pymalloc: arena size %llu is too large (at most %zu)", a,
                 ARENA_MAX);
        return false;
    }
    return true;
}

static bool geom_equal(const struct pm_geom *x, const struct pm_geom *y)
{
    return x->root_shift == y->root_shift && x->mid_shift == y->mid_shift &&
           x->chunk_shift == y->chunk_shift && x->pool_shift == y->pool_shift &&
           x->mid_mask == y->mid_mask && x->bot_mask == y->bot_mask &&
           x->pool_mask == y->pool_mask;
}

static void pymalloc_destroy(pm_heap_t *h);

/* Misuse the large path's instance detects is ours: reported as pymalloc's. */
static void inner_misuse(void *ctx, const char *backend, enum pm_misuse_kind kind,
                         const void *ptr, const char *detail)
{
    (void)backend;
    pm_heap_t *h = ctx;
    char d[PM_ERR_LEN];
    snprintf(d, sizeof d, "large block%s%.200s", *detail ? ": " : "", detail);
    int saved = errno;
    pm_misuse_report(&h->cfg, &h->misuse, BACKEND, kind, ptr, d);
    errno = saved;
}

static pm_heap_t *pymalloc_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    struct geometry g;
    if (!geometry_parse(cfg, &g, err))
        return NULL;
    unsigned pool_shift = (unsigned)__builtin_ctzll(g.pool);
    unsigned chunk_shift = pool_shift + 6;       /* 64 pool slots per leaf */
    unsigned key_bits = 64 - chunk_shift;
    unsigned bot_bits = key_bits / 3;
    unsigned mid_bits = (key_bits - bot_bits) / 2;
    unsigned root_bits = key_bits - bot_bits - mid_bits;
    uint32_t ppa = (uint32_t)(g.arena / g.pool);

    size_t off_nfp = pm_round_up(sizeof(struct pm_heap), 64);
    size_t off_root = pm_round_up(off_nfp + ((size_t)ppa + 1) * sizeof(struct pm_arena *), 64);
    size_t map_size = off_root + (sizeof(void *) << root_bits);

    struct pm_os os;
    pm_os_init(&os, &cfg->faults);
    uint8_t *mem = pm_os_map(&os, map_size);
    if (!mem) {
        snprintf(err, PM_ERR_LEN, "pymalloc: out of memory");
        return NULL;
    }
    pm_heap_t *h = (pm_heap_t *)mem;
    h->arena_size = (size_t)g.arena;
    h->pool_size = (size_t)g.pool;
    h->pools_per_arena = ppa;
    h->root_bits = root_bits;
    h->mid_bits = mid_bits;
    h->bot_bits = bot_bits;
    h->geom = (struct pm_geom){
        .root_shift = 64 - root_bits,
        .mid_shift = chunk_shift + bot_bits,
        .chunk_shift = chunk_shift,
        .pool_shift = pool_shift,
        .mid_mask = ((uintptr_t)1 << mid_bits) - 1,
        .bot_mask = ((uintptr_t)1 << bot_bits) - 1,
        .pool_mask = (uintptr_t)g.pool - 1,
    };
    const struct pm_geom py310 = GEOM_PY310, py38 = GEOM_PY38;
    h->shape = geom_equal(&h->geom, &py310) ? SHAPE_PY310
             : geom_equal(&h->geom, &py38) ? SHAPE_PY38 : SHAPE_GENERIC;
    h->bitmap_bytes = h->arena_size / BITMAP_DIV;
    h->placement = g.placement;
    h->version = g.version;
    h->keep_free_arena = g.version >= 309;
    if (g.version == 310) {
        unsigned ab = 63u - (unsigned)__builtin_clzll(g.arena);   /* CPython's ARENA_BITS */
        unsigned key = 48 > ab ? 48 - ab : 0;
        h->map310_arena_bits = ab;
        h->map310_top_bits = (key + 2) / 3;
        h->map310_bot_bits = key - 2 * h->map310_top_bits;
    }
    h->heap_map_size = map_size;
    h->nfp2lasta = (struct pm_arena **)(mem + off_nfp);
    h->root = (void **)(mem + off_root);
    for (unsigned c = 0; c < NCLASSES; c++) {
        h->used[c].pool.nextpool = h->used[c].pool.prevpool = &h->used[c].pool;
        h->used[c].pool.szidx = c;
    }
    h->bot_hint_first = UINTPTR_MAX >> 1;  /* no bottom node yet: no chunk number in range */
    h->hint310_first = UINTPTR_MAX >> 1;
    h->cfg = *cfg;
    h->cfg.options = NULL;      /* the caller's string may not outlive create */
    h->os = os;
    h->large = g.large;
    pm_large_init(&h->big, g.large == LARGE_OS ? LARGE_CACHE_SLOTS : 0, LARGE_CACHE_MAX_MAP);
    if (g.large == LARGE_SEGFIT) {
        struct pm_config icfg = {.on_misuse = inner_misuse, .misuse_ctx = h, .account = &h->os};
        char ierr[PM_ERR_LEN];
        h->inner = pm_backend_create("segfit", &icfg, &h->inner_ops, ierr);
        if (!h->inner) {
            pymalloc_destroy(h);
            snprintf(err, PM_ERR_LEN, "pymalloc: large path: %.200s", ierr);
            return NULL;
        }
    }
    return h;
}

static void pymalloc_destroy(pm_heap_t *h)
{
    if (h->inner)
        h->inner_ops->destroy(h->inner);   /* through our account: before the copy */
    struct pm_os os = h->os;
    for (uint32_t i = 0; i < h->maxarenas; i++)
        if (h->arenas[i].address) {
            PM_UNPOISON((void *)h->arenas[i].address, h->arena_size);
            pm_os_unmap(&os, (void *)h->arenas[i].address, h->arena_size);
        }
    if (h->arenas)
        pm_os_unmap(&os, h->arenas, h->table_map_size);
    if (h->bitmap_base)
        pm_os_unmap(&os, h->bitmap_base, h->bitmap_map_size);
    if (h->mid_count <= PM_RADIX_DIR && h->bot_count <= PM_RADIX_DIR) {
        for (uint64_t i = 0; i < h->bot_count; i++)
            pm_os_unmap(&os, radix_dir_bot(h, i), sizeof(struct pm_leaf) << h->bot_bits);
        for (uint64_t i = 0; i < h->mid_count; i++)
            pm_os_unmap(&os, h->root[h->dir_mid[i]], sizeof(void *) << h->mid_bits);
    } else {
        for (size_t r = 0; r < ((size_t)1 << h->root_bits); r++) {
            void **mid = h->root[r];
            if (!mid)
                continue;
            for (size_t m = 0; m <= h->geom.mid_mask; m++)
                if (mid[m])
                    pm_os_unmap(&os, mid[m], sizeof(struct pm_leaf) << h->bot_bits);
            pm_os_unmap(&os, mid, sizeof(void *) << h->mid_bits);
        }
    }
    if (h->large == LARGE_SYSTEM)       /* the C library's blocks: no header of ours */
        for (size_t i = 0; h->big.set.slot && i < pm_addrset_cap(&h->big.set); i++)
            if (h->big.set.slot[i])
                free((void *)h->big.set.slot[i]);
    if (h->large == LARGE_SYSTEM)
        pm_addrset_fini(&h->big.set, &os);
    else
        pm_large_fini(&h->big, &os);
    pm_os_unmap(&os, h, h->heap_map_size);
}

static void pymalloc_trim(pm_heap_t *h)
{
    if (h->nwhole_free) {
        for (struct pm_arena *ao = h->usable_arenas; ao; ao = ao->nextarena)
            if (ao->nfreepools == ao->ntotalpools) {
                usable_unlink(h, ao);
                h->nwhole_free--;
                arena_release(h, ao);
                pm_assert_expensive(pymalloc_arenas_valid(h));
                break;
            }
    }
    if (h->large == LARGE_SYSTEM)
        malloc_trim(0);          /* the C library's heap: process-wide, as the system backend */
    pm_large_cache_flush(&h->big, &h->os);
    if (h->inner)
        h->inner_ops->trim(h->inner);
}

static struct pm_os *pymalloc_os(pm_heap_t *h) { return &h->os; }

const struct allocator_ops pm_pymalloc_ops = {
    .name = "pymalloc",
    .description = "CPython's obmalloc design rebuilt: arenas, pools, 32 classes, radix-tree ownership; "
                   "0 and > 512 B to the C library's malloc (large=system)",
    .flags = 0,
    .create = pymalloc_create,
    .destroy = pymalloc_destroy,
    .malloc = pymalloc_malloc,
    .calloc = pymalloc_calloc,
    .realloc = pymalloc_realloc,
    .free = pymalloc_free,
    .usable_size = pymalloc_usable_size,
    .stats = pymalloc_stats,
    .check = pymalloc_check,
    .trim = pymalloc_trim,
    .os = pymalloc_os,
};
