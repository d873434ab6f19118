/* allocators/buddy.c — the `buddy` backend: a binary buddy system.
 *
 * Entry points: pm_buddy_ops (the allocator_ops table), pm_buddy_free_blocks
 * and pm_buddy_orders (buddy.h, introspection for tests). This file holds
 * the hot paths; stats(), check() and the introspection are in
 * buddy_check.c, over buddy_internal.h (layout, ownership table, free lists,
 * block predicates).
 *
 * DESIGN
 *  Blocks are powers of two from 2^min_order (default 16 B, the granule) to
 *  2^max_order (default 1 MiB, one region). A block of level j (0 = granule,
 *  top = max_order - min_order = a whole region) holds 2^j granules and
 *  starts at a granule index g with g % 2^j == 0; its buddy starts at
 *  g ^ 2^j. Regions are mapped aligned to their size (pm_os_map_aligned), so a
 *  pointer's region base is p & ~(region - 1). Blocks carry NO header: a 16-byte
 *  request gets a 16-byte block, a 17-byte one 32 bytes, so the only internal
 *  fragmentation is the rounding to a power of two.
 *
 *  State lives outside the blocks, in one array of struct buddy_group per
 *  region (its own mapping), three bits per granule (2.3% of the region):
 *     used[g]  an allocated block starts at g
 *     free[g]  a free block starts at g (and is on the free list of its level)
 *     code     a block of level j at g has code bits g..g+j-1 set and every
 *              other code bit inside it clear, so level = ctz(~(code >> q)).
 *              The code fits in the block's own granules (j + 1 <= 2^j) and in
 *              one word (a block of >= 64 granules starts a group).
 *  So "is p an allocated block, and of which size" is one group read, and
 *  double frees, interior and misaligned pointers are caught in O(1) on the
 *  fast path; only the error message walks (at most top + 1 probes).
 *  Ownership: an open-addressing table keyed by region base (and by the
 *  address of each large block), so foreign pointers are never dereferenced.
 *  Large blocks are mapped and counted by the shared path (pm_large.h,
 *  without its header: this table keeps each one's mapping size beside its
 *  key, so one probe answers "region or large block, and how big").
 *
 *  Free lists: one per level, intrusive (the links fill the first 16 bytes of
 *  a free block), doubly linked around a sentinel in the heap, so unlinking a
 *  buddy during coalescing is O(1); `avail` has bit j set iff list j is not
 *  empty, so the smallest level >= j with a free block is one ctz. malloc:
 *  level = bit length of (n-1)|(granule-1) - min_order, pop that list or split
 *  a larger block (each split pushes the upper half); free: clear the used
 *  bit, merge with the buddy while it is free at the same level, push.
 *  Requests above 2^max_order are mapped directly (page-rounded) and kept in
 *  the same table (key = address | 1). A region that becomes wholly
 *  free is unmapped, except that keep_empty (default 1) empty regions stay
 *  cached on the top-level list against map/unmap thrashing; trim() releases
 *  them and decommits the pages of free blocks of >= 2 pages past their first
 *  (the links).
 *
 *  ASan (pm_asan.h, builds with PM_ASAN=1): every byte of a region that is
 *  not in a block handed out is poisoned, so a use after free or an overflow
 *  into a free neighbour is reported by ASan; a block handed out is
 *  unpoisoned over its whole 2^level bytes (its usable size: an overflow
 *  into the rounding slack is not seen). The free-list code opens the 16
 *  link bytes of a free block around each access (LINKS_OPEN/LINKS_CLOSE;
 *  the sentinels in the heap struct are never poisoned). Large blocks need
 *  nothing (munmap'ed on free); regions are unpoisoned before munmap.
 *
 *  Invariants (check() verifies them all):
 *    blocks tile each region: sum over blocks of 2^level == 2^top granules
 *    no free block has a free buddy of the same level (fully coalesced)
 *    block on list j  <=>  free[g] set and level(g) == j
 *    used_bytes == sum of used block sizes + large bytes
 *      == sum_j (nalloc[j] - nfreed[j]) * 2^(j + min_order) + large bytes
 *    mapped == meta_bytes + regions * region_size + large.mapped
 *
 *  Why 1 MiB regions by default: the same size as CPython 3.10+ arenas, so the
 *  granularity at which memory returns to the OS matches pymalloc's; it bounds
 *  the rounding loss of the largest buddy blocks at 512 KiB (above it requests
 *  are mapped exactly, as glibc's mmap threshold does); and the per-region
 *  state (24 KiB) is one mapping of a few pages. 4 MiB would only cut the
 *  number of regions and table entries, which are not where the time goes.
 *
 * WHERE THE TIME GOES (for README). Measured on `pymemlab micro` (100,000
 * live blocks of 16..512 B, random free-then-malloc): the heap settles at 34
 * regions, 35.0 MB of blocks for ~26.4 MB requested (264 B on average),
 * 0.84 MB of state (meta_bytes). Per
 * 1,000 frees only 2 merge with a buddy, and 998 of 1,000 mallocs pop their
 * own level (72% of them a block freed within the last 10 frees, still in
 * cache). So the steady state is: free = table probe (a few hot lines) + one
 * read of the block's group, which also holds the buddy's state for blocks
 * under 1 KiB (a cache miss: the state of a random old block) + writing the
 * links into the block itself (another miss, prefetched at entry so the two
 * overlap); malloc = pop a recently freed block + table probe + two bit
 * flips in a group that is still cached. A perf profile (cpu-clock) of that
 * run: 49% of samples in malloc, 27% in free, 17% in the benchmark loop; in
 * free, most on the group read and on the first instruction at entry; in
 * malloc, 90% on the first store, right after loading the popped block's
 * link. Our reading: the store queue fills up, since every free stores into
 * a cold line (the freed block) and the other stores of a free+malloc pair
 * (about 20 with the benchmark's own and the calls') queue behind it. Consistent with that, what made it
 * faster was fewer stores per call: one counter per call, hot paths kept
 * small so that only two registers are saved (merging, splitting, new
 * regions, large blocks and misuse reports are out of line), `avail`
 * written only when it changes, no write into the new first block on pop.
 * Instructions (cachegrind): ~80 per free and ~60 per malloc; glibc's free
 * and malloc ~95 and ~70 in the same run.
 * Coalescing and splitting chains (bounded by top = 16 levels) would dominate
 * a workload whose frees leave buddies free, e.g. freeing in address order.
 * The price is memory, not time: a third more than requested for sizes
 * spread over whole octaves (see tests/test_buddy.c for the exact value).
 */
#include "buddy_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- regions ------------------------------------------------------------- */

/* Maps a new region; returns its base with the whole-region block (level top)
 * coded but neither used nor free, or NULL (ENOMEM). */
static __attribute__((noinline, cold)) uintptr_t region_new(pm_heap_t *h,
                                                           struct buddy_group **groups_out)
{
    if (!pm_addrset_reserve(&h->slots, &h->os))
        return 0;
    /* the codes start at zero: a recycled range is cleared here, a few
     * pages, cheaper than the OS layer's zeroing of it (mincore and a scan) */
    bool zeroed;
    struct buddy_group *groups = pm_os_map_any(&h->os, h->meta_size, pm_os_page_size(), &zeroed);
    if (!groups)
        return 0;
    if (!zeroed)
        memset(groups, 0, h->meta_size);
    /* a block's links are written when it is put on a list: the region
     * need not be zero (a recycled range is taken as it is) */
    void *base = pm_os_map_any(&h->os, h->region_size, h->region_size, NULL);
    if (!base) {
        pm_os_unmap(&h->os, groups, h->meta_size);
        return 0;
    }
    PM_POISON(base, h->region_size);   /* nothing of it is handed out yet */
    slot_insert(h, (uintptr_t)base | BUDDY_SLOT_REGION, (uintptr_t)groups);
    groups[0].code = code_mask(0, h->top);
    h->regions++;
    *groups_out = groups;
    return (uintptr_t)base;
}

static __attribute__((noinline, cold)) void region_release(pm_heap_t *h, struct buddy_slot *s)
{
    void *base = (void *)slot_addr(s);
    struct buddy_group *groups = slot_groups(s);
    slot_remove(h, s);
    PM_UNPOISON(base, h->region_size);   /* the shadow outlives the mapping */
    pm_os_unmap(&h->os, base, h->region_size);
    pm_os_unmap(&h->os, groups, h->meta_size);
    h->regions--;
}

/* Splits the block of level k at granule g down to level j, pushing each
 * upper half on its list; the lower part keeps g and becomes level j. */
static inline void block_split(pm_heap_t *h, struct buddy_group *groups, uintptr_t base,
                               uint64_t g, unsigned k, unsigned j)
{
    while (k > j) {
        k--;
        uint64_t gu = g + (UINT64_C(1) << k);
        struct buddy_group *gh = &groups[gu >> 6];
        groups[g >> 6].code &= ~(bit_at(g) << k);   /* lower: k + 1 ones -> k */
        gh->code |= code_mask(gu, k);
        gh->free |= bit_at(gu);
        PM_POISON(block_at(base, gu, h->min_order), (size_t)1 << (k + h->min_order));
        list_push(h, k, block_at(base, gu, h->min_order));
        pm_assert_expensive(block_ok(h, groups, gu, k));
    }
}

/* Frees the block of level j at granule g (already marked not used): merges
 * with free buddies, then lists it, or releases or caches an empty region.
 * buddy_free inlines the common case (no free buddy) and calls this for the rest. */
static __attribute__((noinline)) void block_merge(pm_heap_t *h, struct buddy_slot *s,
                                                  uintptr_t base, uint64_t g, unsigned j)
{
    struct buddy_group *groups = slot_groups(s);
    unsigned top = h->top, mo = h->min_order;
    while (j < top) {
        uint64_t gb = g ^ (UINT64_C(1) << j);
        struct buddy_group *bg = &groups[gb >> 6];
        if (!(bg->free & bit_at(gb)) || code_level(bg, (unsigned)(gb & 63)) != j)
            break;
        bg->free &= ~bit_at(gb);
        list_unlink(h, j, block_at(base, gb, mo));
        uint64_t gu = g | (UINT64_C(1) << j), gl = g & ~(UINT64_C(1) << j);
        groups[gu >> 6].code &= ~code_mask(gu, j);
        groups[gl >> 6].code |= bit_at(gl) << j;
        g = gl;
        j++;
    }
    if (__builtin_expect(j == top, 0)) {
        if (h->empty_regions >= h->keep_empty) {
            region_release(h, s);
            return;
        }
        h->empty_regions++;
    }
    groups[g >> 6].free |= bit_at(g);
    list_push(h, j, block_at(base, g, mo));
    pm_assert_expensive(block_ok(h, groups, g, j));
}

/* ---- misuse -------------------------------------------------------------- */

/* The block of a region containing granule g: its start, level in *lv. */
static uint64_t block_enclosing(const pm_heap_t *h, const struct buddy_group *groups,
                                uint64_t g, unsigned *lv)
{
    for (unsigned j = 0; j <= h->top; j++) {
        uint64_t gs = g & ~((UINT64_C(1) << j) - 1);
        const struct buddy_group *gr = &groups[gs >> 6];
        if ((gr->used | gr->free) & bit_at(gs)) {
            unsigned l = code_level(gr, (unsigned)(gs & 63));
            if (g < gs + (UINT64_C(1) << l)) {
                *lv = l;
                return gs;
            }
        }
    }
    *lv = h->top;   /* only in a corrupted heap */
    return 0;
}

/* p is not a block this heap handed out: finds out why and reports it
 * through the misuse policy. `op` prefixes the detail ("" for free). */
static __attribute__((noinline, cold)) void pointer_misuse(pm_heap_t *h, const void *p,
                                                          const char *op)
{
    char d[PM_ERR_LEN];
    enum pm_misuse_kind kind;
    uintptr_t a = (uintptr_t)p, base = a & ~h->region_mask;
    struct buddy_slot *s = region_find(h, base);
    if (s) {
        unsigned lv;
        uint64_t gs = block_enclosing(h, slot_groups(s), (a - base) >> h->min_order, &lv);
        uintptr_t start = base + (gs << h->min_order);
        size_t size = (size_t)1 << (lv + h->min_order);
        bool is_free = (slot_groups(s)[gs >> 6].free & bit_at(gs)) != 0;
        if (is_free && !((a - start) & h->granule_mask)) {
            kind = PM_MISUSE_DOUBLE_FREE;
            snprintf(d, sizeof d, "%salready free (free %zu-byte block at %p)", op, size,
                     (void *)start);
        } else {
            kind = PM_MISUSE_MISALIGNED_POINTER;
            snprintf(d, sizeof d, "%s%zu bytes into the %s%zu-byte block at %p", op,
                     (size_t)(a - start), is_free ? "free " : "", size, (void *)start);
        }
    } else {
        kind = PM_MISUSE_FOREIGN_POINTER;
        snprintf(d, sizeof d, "%snot in any buddy region or large block", op);
        for (size_t i = 0; i < pm_addrset_cap(&h->slots); i++) {
            const struct buddy_slot *e = slot_at(h, i);
            uintptr_t start = slot_addr(e);
            if ((e->key & BUDDY_SLOT_LARGE) && a > start && a - start < slot_size(e)) {
                kind = PM_MISUSE_MISALIGNED_POINTER;
                snprintf(d, sizeof d, "%s%zu bytes into the large %zu-byte block at %p", op,
                         (size_t)(a - start), slot_size(e), (void *)start);
                break;
            }
        }
    }
    pm_misuse_report(&h->cfg, &h->misuse, "buddy", kind, p, d);
}

/* ---- large blocks -------------------------------------------------------- */

static __attribute__((noinline)) void *large_malloc(pm_heap_t *h, size_t n, bool zero)
{
    if (n > PM_LARGE_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    if (!pm_addrset_reserve(&h->slots, &h->os))
        return NULL;
    size_t size;
    void *p = pm_large_map(&h->large, &h->os, n, 0, zero, &size);
    if (p)
        slot_insert(h, (uintptr_t)p | BUDDY_SLOT_LARGE, size);
    return p;
}

static inline struct buddy_slot *large_find(const pm_heap_t *h, uintptr_t a)
{
    if (a & (pm_os_page_size() - 1))
        return NULL;
    return slot_of(pm_addrset_find(&h->slots, a | BUDDY_SLOT_LARGE));
}

static __attribute__((noinline)) void large_free(pm_heap_t *h, struct buddy_slot *s)
{
    void *p = (void *)slot_addr(s);
    size_t size = slot_size(s);
    slot_remove(h, s);
    pm_large_unmap(&h->large, &h->os, p, size, 0);
}

/* ---- the interface ------------------------------------------------------- */

/* malloc when the list of level j is empty: split a larger free block or a
 * new region. */
static __attribute__((noinline)) void *malloc_split(pm_heap_t *h, unsigned j)
{
    uint64_t av = h->avail >> j;
    struct buddy_group *groups;
    uintptr_t b;
    unsigned k;
    if (av) {
        k = j + (unsigned)__builtin_ctzll(av);
        b = (uintptr_t)list_pop(h, k);
        struct buddy_slot *s = region_find(h, b & ~h->region_mask);
        pm_assert_internal(s != NULL);
        groups = slot_groups(s);
        if (k == h->top)
            h->empty_regions--;
    } else {
        b = region_new(h, &groups);
        if (!b)
            return NULL;
        k = h->top;
    }
    uintptr_t base = b & ~h->region_mask;
    uint64_t g = (b - base) >> h->min_order;
    struct buddy_group *gr = &groups[g >> 6];
    pm_assert_internal(!(gr->used & bit_at(g)) && code_level(gr, (unsigned)(g & 63)) == k);
    gr->free &= ~bit_at(g);
    block_split(h, groups, base, g, k, j);
    gr->used |= bit_at(g);
    h->nalloc[j]++;
    PM_UNPOISON((void *)b, (size_t)1 << (j + h->min_order));
    return (void *)b;
}

static void *buddy_malloc(pm_heap_t *h, size_t n)
{
    if (__builtin_expect(n >= h->slow_from, 0))   /* whole regions and large blocks */
        return n > h->region_size ? large_malloc(h, n, false) : malloc_split(h, h->top);
    unsigned j = size_level(h, n);
    if (__builtin_expect(!(h->avail & (UINT64_C(1) << j)), 0))
        return malloc_split(h, j);
    uintptr_t b = (uintptr_t)list_pop(h, j);
    uintptr_t base = b & ~h->region_mask;
    struct buddy_slot *s = region_find(h, base);
    pm_assert_internal(s != NULL);
    uint64_t g = (b - base) >> h->min_order;
    struct buddy_group *gr = &slot_groups(s)[g >> 6];
    pm_assert_internal((gr->free & bit_at(g)) && !(gr->used & bit_at(g)) &&
                       code_level(gr, (unsigned)(g & 63)) == j);
    gr->free &= ~bit_at(g);
    gr->used |= bit_at(g);
    h->nalloc[j]++;
    PM_UNPOISON((void *)b, (size_t)1 << (j + h->min_order));
    return (void *)b;
}

static void *buddy_calloc(pm_heap_t *h, size_t count, size_t n)
{
    size_t total;
    if (!pm_calloc_bytes(count, n, &total))
        return NULL;
    if (total > h->region_size)
        return large_malloc(h, total, true);
    void *p = buddy_malloc(h, total);
    if (p)
        memset(p, 0, total);
    return p;
}

/* The rest of free for the block at p of level j (already marked not used),
 * out of line so that buddy_free keeps few values live. */
static __attribute__((noinline)) void free_merge(pm_heap_t *h, void *p, unsigned j)
{
    uintptr_t a = (uintptr_t)p, base = a & ~h->region_mask;
    struct buddy_slot *s = region_find(h, base);
    pm_assert_internal(s != NULL);
    block_merge(h, s, base, (a - base) >> h->min_order, j);
}

/* free of a pointer outside every region: NULL, a large block or misuse. */
static __attribute__((noinline)) void free_outside(pm_heap_t *h, void *p)
{
    if (!p)
        return;
    struct buddy_slot *l = large_find(h, (uintptr_t)p);
    if (l)
        large_free(h, l);
    else
        pointer_misuse(h, p, "");
}

static void buddy_free(pm_heap_t *h, void *p)
{
    uintptr_t a = (uintptr_t)p, base = a & ~h->region_mask;
    /* the links go into p's line: start fetching it now, in parallel with
     * the state word (both are usually cache misses) */
    __builtin_prefetch(p, 1, 3);
    struct buddy_slot *s = region_find(h, base);
    if (__builtin_expect(s == NULL, 0)) {
        free_outside(h, p);
        return;
    }
    uint64_t g = (a - base) >> h->min_order;
    struct buddy_group *gr = &slot_groups(s)[g >> 6];
    if (__builtin_expect(!(gr->used & bit_at(g)) || (a & h->granule_mask), 0)) {
        pointer_misuse(h, p, "");
        return;
    }
    uint64_t code = gr->code, fr = gr->free;   /* one line, loaded together */
    unsigned q = (unsigned)(g & 63), j = (unsigned)__builtin_ctzll(~(code >> q));
    gr->used &= ~bit_at(g);
    h->nfreed[j]++;
    PM_POISON(p, (size_t)1 << (j + h->min_order));
    if (__builtin_expect(j < 6 && j < h->top, 1)) {   /* blocks < 64 granules: the buddy is */
        unsigned bq = q ^ (1u << j);                  /* in the same group, no new load */
        if (!((fr >> bq) & 1) || (unsigned)__builtin_ctzll(~(code >> bq)) != j) {
            gr->free = fr | bit_at(g);
            list_push(h, j, (struct buddy_free *)p);
            return;
        }
    }
    free_merge(h, p, j);   /* merging, a block of >= 64 granules, or a whole region */
}

/* The region block at p if it is handed out: its slot, granule and level. */
static bool block_lookup(const pm_heap_t *h, uintptr_t a, struct buddy_slot **s_out,
                         uint64_t *g_out, unsigned *lv_out)
{
    uintptr_t base = a & ~h->region_mask;
    struct buddy_slot *s = region_find(h, base);
    if (!s || (a & h->granule_mask))
        return false;
    uint64_t g = (a - base) >> h->min_order;
    const struct buddy_group *gr = &slot_groups(s)[g >> 6];
    if (!(gr->used & bit_at(g)))
        return false;
    *s_out = s;
    *g_out = g;
    *lv_out = code_level(gr, (unsigned)(g & 63));
    return true;
}

static size_t buddy_usable(pm_heap_t *h, void *p)
{
    struct buddy_slot *s;
    uint64_t g;
    unsigned lv;
    if (block_lookup(h, (uintptr_t)p, &s, &g, &lv))
        return (size_t)1 << (lv + h->min_order);
    s = p ? large_find(h, (uintptr_t)p) : NULL;
    return s ? slot_size(s) : 0;   /* not ours: 0, no misuse report (a query) */
}

/* Grows the block of level k at g to level j in place if the upper buddies
 * of every level in between are whole free blocks. */
static bool block_grow(pm_heap_t *h, struct buddy_slot *s, uint64_t g, unsigned k, unsigned j)
{
    struct buddy_group *groups = slot_groups(s);
    if (g & ((UINT64_C(1) << j) - 1))
        return false;
    for (unsigned l = k; l < j; l++) {
        uint64_t gb = g + (UINT64_C(1) << l);
        const struct buddy_group *bg = &groups[gb >> 6];
        if (!(bg->free & bit_at(gb)) || code_level(bg, (unsigned)(gb & 63)) != l)
            return false;
    }
    for (unsigned l = k; l < j; l++) {
        uint64_t gb = g + (UINT64_C(1) << l);
        struct buddy_group *bg = &groups[gb >> 6];
        bg->free &= ~bit_at(gb);
        list_unlink(h, l, block_at(slot_addr(s), gb, h->min_order));
        bg->code &= ~code_mask(gb, l);
        groups[g >> 6].code |= bit_at(g) << l;
    }
    return true;
}

static void *buddy_realloc(pm_heap_t *h, void *p, size_t n)
{
    if (!p)
        return buddy_malloc(h, n);
    uintptr_t a = (uintptr_t)p;
    struct buddy_slot *s;
    uint64_t g;
    unsigned k;
    size_t old;
    if (block_lookup(h, a, &s, &g, &k)) {
        old = (size_t)1 << (k + h->min_order);
        if (n <= h->region_size) {
            unsigned j = size_level(h, n);
            if (j == k)
                return p;
            if (j < k) {   /* shrink in place: the upper halves become free */
                block_split(h, slot_groups(s), slot_addr(s), g, k, j);
                h->nfreed[k]++;
                h->nalloc[j]++;
                h->inplace++;
                return p;
            }
            if (block_grow(h, s, g, k, j)) {
                PM_UNPOISON(p, (size_t)1 << (j + h->min_order));
                h->nfreed[k]++;
                h->nalloc[j]++;
                h->inplace++;
                return p;
            }
        }
    } else if ((s = large_find(h, a)) != NULL) {
        old = slot_size(s);
        if (n > h->region_size && n <= PM_LARGE_MAX && pm_round_up(n, pm_os_page_size()) == old)
            return p;
    } else {
        pointer_misuse(h, p, "realloc: ");
        return NULL;
    }
    void *q = buddy_malloc(h, n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    buddy_free(h, p);
    return q;
}

static void buddy_trim(pm_heap_t *h)
{
    while (h->avail & (UINT64_C(1) << h->top)) {
        struct buddy_free *b = list_pop(h, h->top);
        struct buddy_slot *s = region_find(h, (uintptr_t)b);
        pm_assert_internal(s != NULL);
        h->empty_regions--;
        region_release(h, s);
    }
    /* big free blocks: give back their pages past the first, which holds the links */
    size_t page = pm_os_page_size();
    for (unsigned j = 0; j < h->top; j++) {
        size_t size = (size_t)1 << (j + h->min_order);
        if (size < 2 * page)
            continue;
        for (struct buddy_free *b = h->lists[j].next; b != &h->lists[j]; b = links_read(h, b).next)
            pm_os_decommit(&h->os, (char *)b + page, size - page);
    }
}

static void buddy_destroy(pm_heap_t *h)
{
    struct pm_os os = h->os;
    for (size_t i = 0; i < pm_addrset_cap(&h->slots); i++) {
        const struct buddy_slot *e = slot_at(h, i);
        if (!e->key)
            continue;
        if (e->key & BUDDY_SLOT_LARGE) {
            pm_os_unmap(&os, (void *)slot_addr(e), slot_size(e));
        } else {
            PM_UNPOISON((void *)slot_addr(e), h->region_size);
            pm_os_unmap(&os, (void *)slot_addr(e), h->region_size);
            pm_os_unmap(&os, slot_groups(e), h->meta_size);
        }
    }
    pm_addrset_fini(&h->slots, &os);
    pm_os_unmap(&os, h, h->self_size);
}

static struct pm_os *buddy_os(pm_heap_t *h) { return &h->os; }

/* ---- options and create -------------------------------------------------- */

/* A whole number 0..max, digits only. */
static bool parse_uint(const char *v, size_t vl, unsigned max, unsigned *out)
{
    unsigned long x = 0;
    if (vl == 0 || vl > 9)
        return false;
    for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (unsigned long)(v[i] - '0');
    }
    if (x > max)
        return false;
    *out = (unsigned)x;
    return true;
}

/* Parses a power-of-two size option into an order; false with err filled. */
static bool parse_pow2(const char *key, const char *v, size_t vl, unsigned *order,
                       char err[PM_ERR_LEN])
{
    uint64_t x;
    if (!pm_parse_size(v, vl, &x)) {
        snprintf(err, PM_ERR_LEN, "buddy: bad size for %s: '%.*s' (expected bytes, K/M/G allowed)",
                 key, (int)vl, v);
        return false;
    }
    if (x == 0) {
        snprintf(err, PM_ERR_LEN, "buddy: %s must not be zero", key);
        return false;
    }
    if (x & (x - 1)) {
        snprintf(err, PM_ERR_LEN, "buddy: %s=%.*s is not a power of two (blocks and regions are 2^k bytes)",
                 key, (int)vl, v);
        return false;
    }
    *order = (unsigned)__builtin_ctzll(x);
    return true;
}

static pm_heap_t *buddy_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    unsigned min_order = BUDDY_DEFAULT_MIN, max_order = BUDDY_DEFAULT_MAX;
    const char *min_key = NULL, *max_key = NULL;
    uint64_t keep_empty = 1;
    struct pm_opt_iter it = {cfg->options};
    const char *k, *v;
    size_t kl, vl;
    int r;
    char perr[PM_ERR_LEN];
    while ((r = pm_opt_next(&it, &k, &kl, &v, &vl, perr)) > 0) {
        const char **which = NULL;
        const char *name = NULL;
        unsigned *dst = NULL;
        bool ok;
        if (pm_opt_key_is(k, kl, "min") || pm_opt_key_is(k, kl, "min_order")) {
            which = &min_key;
            dst = &min_order;
            name = kl == 3 ? "min" : "min_order";
        } else if (pm_opt_key_is(k, kl, "max") || pm_opt_key_is(k, kl, "max_order")) {
            which = &max_key;
            dst = &max_order;
            name = kl == 3 ? "max" : "max_order";
        } else if (pm_opt_key_is(k, kl, "keep_empty")) {
            unsigned x;
            if (!parse_uint(v, vl, BUDDY_KEEP_EMPTY_MAX, &x)) {
                snprintf(err, PM_ERR_LEN, "buddy: bad value for keep_empty: '%.*s' (expected 0..%d)",
                         (int)vl, v, BUDDY_KEEP_EMPTY_MAX);
                return NULL;
            }
            keep_empty = x;
            continue;
        } else {
            snprintf(err, PM_ERR_LEN,
                     "buddy: unknown option '%.*s' (known: min, max, min_order, max_order, keep_empty)",
                     (int)kl, k);
            return NULL;
        }
        if (*which && !strcmp(*which, name)) {
            snprintf(err, PM_ERR_LEN, "buddy: option '%s' given twice", name);
            return NULL;
        }
        if (*which) {
            snprintf(err, PM_ERR_LEN, "buddy: '%s' and '%s' both set the %s block size; give one",
                     *which, name, which == &min_key ? "smallest" : "largest (region)");
            return NULL;
        }
        *which = name;
        if (kl == 3) {
            ok = parse_pow2(name, v, vl, dst, err);
        } else {
            ok = parse_uint(v, vl, 63, dst);
            if (!ok)
                snprintf(err, PM_ERR_LEN,
                         "buddy: bad value for %s: '%.*s' (expected a whole number 0..63, log2 of bytes)",
                         name, (int)vl, v);
        }
        if (!ok)
            return NULL;
    }
    if (r < 0) {
        snprintf(err, PM_ERR_LEN, "buddy: %.240s", perr);
        return NULL;
    }
    unsigned page_order = (unsigned)__builtin_ctzll(pm_os_page_size());
    if (min_order < BUDDY_MIN_ORDER_LO) {
        snprintf(err, PM_ERR_LEN,
                 "buddy: smallest block %llu bytes is below 16 (a free block holds two links)",
                 1ull << min_order);
        return NULL;
    }
    if (max_order > BUDDY_MAX_ORDER_HI) {
        snprintf(err, PM_ERR_LEN, "buddy: region of 2^%u bytes is above 1 GiB (2^%d)", max_order,
                 BUDDY_MAX_ORDER_HI);
        return NULL;
    }
    if (min_order > max_order) {
        snprintf(err, PM_ERR_LEN,
                 "buddy: smallest block %llu bytes is above the region size %llu bytes (min > max)",
                 1ull << min_order, 1ull << max_order);
        return NULL;
    }
    if (max_order < page_order) {
        snprintf(err, PM_ERR_LEN, "buddy: region of %llu bytes is below the page size %llu bytes",
                 1ull << max_order, 1ull << page_order);
        return NULL;
    }

    struct pm_os os;
    pm_os_init(&os, &cfg->faults);
    size_t page = pm_os_page_size();
    pm_heap_t *h = pm_os_map(&os, sizeof *h);
    if (!h || !slots_init(&h->slots, &os, max_order)) {
        if (h)
            pm_os_unmap(&os, h, sizeof *h);
        snprintf(err, PM_ERR_LEN, "buddy: out of memory");
        return NULL;
    }
    h->min_order = min_order;
    h->top = max_order - min_order;
    h->granule_mask = ((size_t)1 << min_order) - 1;
    h->region_size = (size_t)1 << max_order;
    h->region_mask = h->region_size - 1;
    h->slow_from = h->top ? h->region_size / 2 + 1 : 0;
    size_t groups = ((size_t)1 << h->top) / 64;
    h->meta_size = pm_round_up((groups ? groups : 1) * sizeof(struct buddy_group), page);
    h->self_size = pm_round_up(sizeof *h, page);
    h->keep_empty = keep_empty;
    pm_large_init(&h->large, 0, 0);
    for (unsigned j = 0; j < BUDDY_LEVELS; j++)
        h->lists[j].next = h->lists[j].prev = &h->lists[j];
    h->cfg = *cfg;
    h->cfg.options = NULL;   /* the caller's string need not outlive create */
    h->os = os;
    return h;
}

const struct allocator_ops pm_buddy_ops = {
    .name = "buddy",
    .description = "binary buddy system: 2^k blocks of 16 B..1 MiB regions, "
                   "state bitmaps outside the blocks",
    .flags = 0,
    .create = buddy_create,
    .destroy = buddy_destroy,
    .malloc = buddy_malloc,
    .calloc = buddy_calloc,
    .realloc = buddy_realloc,
    .free = buddy_free,
    .usable_size = buddy_usable,
    .stats = buddy_stats,
    .check = buddy_check,
    .trim = buddy_trim,
    .os = buddy_os,
};
