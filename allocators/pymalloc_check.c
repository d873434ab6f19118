/* allocators/pymalloc_check.c — the pymalloc backend's walks and checks,
 * off the hot-path file (pymalloc.c): stats(), pm_pymalloc_report(),
 * pm_pymalloc_pool_info() and check(). Never on a malloc or free path.
 */
#include "pymalloc_internal.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------- walks */

/* Per-class totals over every carved pool in use. */
struct pool_census {
    size_t pools[NCLASSES];      /* pools with count > 0 */
    size_t blocks[NCLASSES];     /* blocks in use */
    size_t unused_pools;         /* sum of nfreepools */
    size_t unaligned_arenas;     /* arenas that lost a pool to alignment */
};

static void pool_census_take(const pm_heap_t *h, struct pool_census *pc)
{
    memset(pc, 0, sizeof *pc);
    for (uint32_t i = 0; i < h->maxarenas; i++) {
        const struct pm_arena *ao = &h->arenas[i];
        if (!ao->address)
            continue;
        uintptr_t first = arena_first_pool(h, ao->address);
        pc->unused_pools += ao->nfreepools;
        pc->unaligned_arenas += first != ao->address;
        for (uintptr_t b = first; b < (uintptr_t)ao->pool_address; b += h->pool_size) {
            const pm_pool *pool = (const pm_pool *)b;
            if (pool->ref.count == 0 || pool->szidx >= NCLASSES)
                continue;
            pc->pools[pool->szidx]++;
            pc->blocks[pool->szidx] += pool->ref.count;
        }
    }
}

static size_t used_bytes_small(const struct pool_census *pc)
{
    size_t s = 0;
    for (unsigned c = 0; c < NCLASSES; c++)
        s += pc->blocks[c] * class_size(c);
    return s;
}

static size_t pools_in_use(const struct pool_census *pc)
{
    size_t s = 0;
    for (unsigned c = 0; c < NCLASSES; c++)
        s += pc->pools[c];
    return s;
}

/* Metadata: this struct's mapping (with nfp2lasta and the radix root), the
 * arena table, radix nodes, the bitmap tail of each arena mapping, the
 * headers of pools in use, the large-block set and headers. */
static size_t meta_bytes(const pm_heap_t *h, const struct pool_census *pc)
{
    size_t page = pm_os_page_size();
    return pm_round_up(h->heap_map_size, page)
         + pm_round_up(h->table_map_size, page) + pm_round_up(h->bitmap_map_size, page)
         + (size_t)h->mid_count * pm_round_up(sizeof(void *) << h->mid_bits, page)
         + (size_t)h->bot_count * pm_round_up(sizeof(struct pm_leaf) << h->bot_bits, page)
         + pools_in_use(pc) * POOL_OVERHEAD
         + (h->big.set.slot ? pm_round_up(pm_addrset_bytes(&h->big.set), page) : 0)
         + (h->large == LARGE_OS ? h->big.count * PM_LARGE_HDR : 0);
}

/* Usable bytes of the live large blocks: large=system sums
 * malloc_usable_size() over the set here (O(set slots), as the pool census
 * is O(pools)), so that malloc and free keep no byte counter; large=os
 * keeps one (big.usable). */
static uint64_t large_used_bytes(const pm_heap_t *h)
{
    if (h->large != LARGE_SYSTEM)
        return h->big.usable;
    uint64_t bytes = 0;
    for (size_t i = 0; h->big.set.slot && i < pm_addrset_cap(&h->big.set); i++)
        if (h->big.set.slot[i])
            bytes += malloc_usable_size((void *)h->big.set.slot[i]);
    return bytes;
}

void pymalloc_stats(pm_heap_t *h, struct pm_stats *out)
{
    struct pool_census pc;
    pool_census_take(h, &pc);
    /* Only allocations are counted (per class, in the sentinel line malloc
     * reads anyway; a heap-wide counter pair cost ~5% in `pymemlab micro`).
     * nfree = nmalloc - live. A realloc that moves counts as one of each. */
    uint64_t live = h->big.count, nmalloc = h->big.nmalloc;
    for (unsigned c = 0; c < NCLASSES; c++) {
        live += pc.blocks[c];
        nmalloc += h->used[c].nmalloc;
    }
    uint64_t large_used = h->inner ? 0 : large_used_bytes(h), large_meta = 0;
    uint64_t large_live = h->big.count;
    uint64_t misuse_n = h->misuse;
    if (h->inner) {
        struct pm_stats is;
        h->inner_ops->stats(h->inner, &is);
        large_used = is.used_bytes;
        large_meta = is.meta_bytes;
        large_live = is.live_blocks;
        live += is.live_blocks;
        nmalloc += is.nmalloc;
    }
    *out = (struct pm_stats){
        .mapped_bytes = h->os.mapped,        /* the inner instance's included */
        .peak_mapped_bytes = h->os.peak_mapped,
        .used_bytes = used_bytes_small(&pc) + large_used,
        .meta_bytes = meta_bytes(h, &pc) + large_meta,
        .live_blocks = live,
        .nmalloc = nmalloc,
        .nfree = nmalloc - live,
        .arenas = h->narenas_current,
        .pools = pools_in_use(&pc),
        .large_blocks = large_live,
        .misuse = misuse_n,
    };
}

bool pm_pymalloc_report(const struct allocator_ops *ops, pm_heap_t *h,
                        struct pm_pymalloc_report *out)
{
    if (ops != &pm_pymalloc_ops || !h)
        return false;
    struct pool_census pc;
    pool_census_take(h, &pc);
    memset(out, 0, sizeof *out);
    out->small_threshold = PM_SMALL_MAX;
    out->nclasses = NCLASSES;
    for (unsigned c = 0; c < NCLASSES; c++) {
        struct pm_pymalloc_class_row *r = &out->rows[c];
        unsigned size = class_size(c);
        r->cls = c;
        r->size = size;
        r->pools = pc.pools[c];
        r->blocks_in_use = pc.blocks[c];
        r->avail_blocks = pc.pools[c] * pool_capacity(h, c) - pc.blocks[c];
        out->bytes_in_allocated_blocks += r->blocks_in_use * size;
        out->bytes_in_available_blocks += r->avail_blocks * size;
        out->bytes_lost_pool_headers += r->pools * POOL_OVERHEAD;
        out->bytes_lost_quantization += r->pools * ((h->pool_size - POOL_OVERHEAD) % size);
    }
    out->arenas_allocated_total = h->ntimes_arena_allocated;
    out->arenas_current = h->narenas_current;
    out->arenas_reclaimed = h->ntimes_arena_allocated - h->narenas_current;
    out->arenas_highwater = h->narenas_highwater;
    out->arena_size = h->arena_size;
    out->pool_size = h->pool_size;
    out->unused_pools = pc.unused_pools;
    out->bytes_lost_arena_alignment = pc.unaligned_arenas * h->pool_size;
    out->total = out->bytes_in_allocated_blocks + out->bytes_in_available_blocks
               + out->unused_pools * out->pool_size + out->bytes_lost_pool_headers
               + out->bytes_lost_quantization + out->bytes_lost_arena_alignment;
    out->version = h->version;
    out->has_arena_map = h->version >= 310;
    if (h->version == 310) {     /* CPython 3.10's nodes, not ours (map310_note) */
        out->map_mid_nodes = h->map310_nmid;
        out->map_bot_nodes = h->map310_nbot;
        out->map_root_bytes = sizeof(void *) << h->map310_top_bits;
        out->map_mid_bytes = h->map310_nmid * (sizeof(void *) << h->map310_top_bits);
        out->map_bot_bytes = h->map310_nbot * (sizeof(struct pm_leaf) << h->map310_bot_bits);
    } else {
        out->map_mid_nodes = h->mid_count;
        out->map_bot_nodes = h->bot_count;
        out->map_root_bytes = sizeof(void *) << h->root_bits;
        out->map_mid_bytes = h->mid_count * (sizeof(void *) << h->mid_bits);
        out->map_bot_bytes = h->bot_count * (sizeof(struct pm_leaf) << h->bot_bits);
    }
    out->map_total = out->map_root_bytes + out->map_mid_bytes + out->map_bot_bytes;
    return true;
}

/* Is p a live small block of h? (No misuse report.) */
static bool small_live(const pm_heap_t *h, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    if ((a & (PM_ALIGNMENT - 1)) || !radix_owns_g(h, a, h->geom))
        return false;
    return (*pool_bitmap_word(h, pool_of(h, p), a) & bitmap_mask(a)) != 0;
}

bool pm_pymalloc_pool_info(const struct allocator_ops *ops, pm_heap_t *h, const void *p,
                           struct pm_pymalloc_pool_info *info)
{
    if (ops != &pm_pymalloc_ops || !h || !p || !small_live(h, p))
        return false;
    const pm_pool *pool = pool_of(h, p);
    const struct pm_arena *ao = &h->arenas[pool->arenaindex];
    unsigned size = class_size(pool->szidx);
    bool in_used = false;
    for (const pm_pool *q = h->used[pool->szidx].pool.nextpool; q != &h->used[pool->szidx].pool;
         q = q->nextpool)
        if (q == pool) {
            in_used = true;
            break;
        }
    uintptr_t first = arena_first_pool(h, ao->address);
    *info = (struct pm_pymalloc_pool_info){
        .pool = (uintptr_t)pool,
        .szidx = pool->szidx,
        .block_size = size,
        .count = pool->ref.count,
        .carved = (pool->nextoffset - POOL_OVERHEAD) / size,
        .capacity = pool_capacity(h, pool->szidx),
        .in_usedpools = in_used,
        .arena_index = pool->arenaindex,
        .arena_address = ao->address,
        .arena_first_pool = first,
        .arena_nfreepools = ao->nfreepools,
        .arena_ntotalpools = ao->ntotalpools,
        .arena_ncarved = (unsigned)(((uintptr_t)ao->pool_address - first) / h->pool_size),
    };
    return true;
}

/* ------------------------------------------------------------------- check */

/* Bits set in x, inline: without -mpopcnt __builtin_popcountll is a call to
 * libgcc's __popcountdi2, which was 8-10% of fuzz_alloc's time in check()
 * (radix leaves and bitmaps are mostly zero words). */
static inline size_t popcount64(uint64_t x)
{
    if (!x)
        return 0;
    x = x - ((x >> 1) & 0x5555555555555555u);
    x = (x & 0x3333333333333333u) + ((x >> 2) & 0x3333333333333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fu;
    return (size_t)((x * 0x0101010101010101u) >> 56);
}

/* Bits set in the n entries of bottom node bot. Eight entries are ORed
 * before any is counted: a node is 2^14 or more entries, almost all zero,
 * and one test per entry made this loop 90% of check() (fuzz_alloc's
 * campaign profile); the OR of eight vectorises. */
static size_t leaf_bits(const struct pm_leaf *bot, size_t n)
{
    size_t bits = 0, e = 0;
    for (; e + 8 <= n; e += 8) {
        uint64_t any = 0;
        for (size_t k = 0; k < 8; k++)
            any |= bot[e + k].pools;
        if (any)
            for (size_t k = 0; k < 8; k++)
                bits += popcount64(bot[e + k].pools);
    }
    for (; e < n; e++)
        bits += popcount64(bot[e].pools);
    return bits;
}

/* Bits set in arena ao's bitmap for [from, to) (16-byte aligned addresses). */
static size_t bitmap_count(const pm_heap_t *h, const struct pm_arena *ao, uintptr_t from,
                           uintptr_t to)
{
    const uint64_t *bm = arena_bitmap(h, ao);
    size_t n = 0;
    uintptr_t b0 = (from - ao->address) >> GRANULE_SHIFT, b1 = (to - ao->address) >> GRANULE_SHIFT;
    for (uintptr_t b = b0; b < b1;) {
        if ((b & 63) == 0 && b + 64 <= b1) {
            n += popcount64(bm[b >> 6]);
            b += 64;
        } else {
            n += (bm[b >> 6] >> (b & 63)) & 1;
            b++;
        }
    }
    return n;
}

/* The link of free block b, which the caller has validated (a carved block
 * of the pool, its allocation bit clear). */
static inline const uint8_t *link_read(const uint8_t *b)
{
    LINK_OPEN(b);
    const uint8_t *next = *(uint8_t *const *)b;
    LINK_CLOSE(b);
    return next;
}

/* One carved pool of arena i: header, blocks, free list, bitmap. Counts
 * empty and partly used pools. */
static void check_pool(const pm_heap_t *h, struct pm_check_report *ck, const struct pm_arena *ao,
                       uint32_t i, const pm_pool *pool, size_t *empty, size_t *partial)
{
    uintptr_t pa = (uintptr_t)pool;
    if (pool->arenaindex != i)
        pm_check_fail(ck, "pool %p: arenaindex %u, expected %u", (const void *)pool, pool->arenaindex, i);
    uint32_t bm_off = pool_bitmap_off(h, ao, pa);
    if (pool->ref.bitmap_off != bm_off)
        pm_check_fail(ck, "pool %p: bitmap offset %u, expected %u", (const void *)pool,
                  pool->ref.bitmap_off, bm_off);
    size_t bits = bitmap_count(h, ao, pa, pa + h->pool_size);
    if (pool->ref.count == 0) {
        (*empty)++;
        if (bits)
            pm_check_fail(ck, "empty pool %p has %zu allocation bits set", (const void *)pool, bits);
        return;
    }
    if (pool->szidx >= NCLASSES) {
        pm_check_fail(ck, "pool %p in use with bad class %u", (const void *)pool, pool->szidx);
        return;
    }
    unsigned size = class_size(pool->szidx);
    unsigned cap = pool_capacity(h, pool->szidx);
    if (pool->maxnextoffset != h->pool_size - size ||
        pool->nextoffset < POOL_OVERHEAD + size || (pool->nextoffset - POOL_OVERHEAD) % size ||
        pool->nextoffset > pool->maxnextoffset + size) {
        pm_check_fail(ck, "pool %p: nextoffset %u / maxnextoffset %u invalid for %u-byte blocks",
                  (const void *)pool, pool->nextoffset, pool->maxnextoffset, size);
        return;
    }
    unsigned carved = (pool->nextoffset - POOL_OVERHEAD) / size;
    if (pool->ref.count > carved) {
        pm_check_fail(ck, "pool %p: %u blocks in use but only %u carved", (const void *)pool,
                  pool->ref.count, carved);
        return;
    }
    if (bits != pool->ref.count)
        pm_check_fail(ck, "pool %p: %u blocks in use but %zu allocation bits", (const void *)pool,
                  pool->ref.count, bits);
    size_t nfree = 0;
    size_t limit = carved - pool->ref.count;
    for (const uint8_t *b = pool->freeblock; b; b = link_read(b)) {
        uintptr_t off = (uintptr_t)b - pa;
        if ((uintptr_t)b < pa || off >= pool->nextoffset || off < POOL_OVERHEAD ||
            (off - POOL_OVERHEAD) % size) {
            pm_check_fail(ck, "pool %p: free list entry %p outside the carved blocks",
                      (const void *)pool, (const void *)b);
            return;
        }
        if (bitmap_test(h, ao, (uintptr_t)b)) {
            pm_check_fail(ck, "pool %p: free block %p is marked allocated", (const void *)pool,
                      (const void *)b);
            return;
        }
        if (++nfree > limit) {
            pm_check_fail(ck, "pool %p: free list longer than %zu (duplicate or cycle)",
                      (const void *)pool, limit);
            return;
        }
    }
    if (nfree != limit)
        pm_check_fail(ck, "pool %p: %zu free + %u used != %u carved blocks", (const void *)pool, nfree,
                  pool->ref.count, carved);
    if (!pool->freeblock && (pool->ref.count != cap || carved != cap))
        pm_check_fail(ck, "pool %p: no free block but %u of %u in use", (const void *)pool,
                  pool->ref.count, cap);
    if (pool->freeblock)
        partial[pool->szidx]++;
}

/* Mapped arena slot i: its geometry, the radix tree's marks, freepools and
 * nfreepools. deep: also every carved pool (check_pool, counting the partly
 * used ones per class in partial) and no allocation bit outside them. */
static void check_arena(const pm_heap_t *h, struct pm_check_report *ck, uint32_t i, bool deep,
                        size_t *partial, size_t *carved_total)
{
    const struct pm_arena *ao = &h->arenas[i];
    uintptr_t a = ao->address;
    uintptr_t first = arena_first_pool(h, a);
    if (a & (pm_os_page_size() - 1))
        pm_check_fail(ck, "arena %u at %#lx is not page aligned", i, (unsigned long)a);
    uint32_t total = h->pools_per_arena - (first != a);
    if (ao->ntotalpools != total) {
        pm_check_fail(ck, "arena %u: ntotalpools %u, expected %u", i, ao->ntotalpools, total);
        return;
    }
    uintptr_t end = first + (uintptr_t)total * h->pool_size;
    uintptr_t pa = (uintptr_t)ao->pool_address;
    if (pa < first || pa > end || ((pa - first) & h->geom.pool_mask)) {
        pm_check_fail(ck, "arena %u: pool_address %#lx outside [%#lx, %#lx]", i,
                      (unsigned long)pa, (unsigned long)first, (unsigned long)end);
        return;
    }
    size_t carved = (pa - first) / h->pool_size;
    *carved_total += carved;
    for (uintptr_t b = first; b < end; b += h->pool_size)
        if (radix_owns_g(h, b, h->geom) != (b < pa)) {
            pm_check_fail(ck, "arena %u: radix tree says pool %#lx is %scarved", i,
                          (unsigned long)b, b < pa ? "not " : "");
            break;
        }
    size_t empty = 0;
    for (uintptr_t b = first; b < pa; b += h->pool_size) {
        if (deep)
            check_pool(h, ck, ao, i, (const pm_pool *)b, &empty, partial);
        else
            empty += ((const pm_pool *)b)->ref.count == 0;
    }
    if (deep) {
        size_t bits_all = bitmap_count(h, ao, a, a + h->arena_size);
        size_t bits_pools = bitmap_count(h, ao, first, pa);
        if (bits_all != bits_pools)
            pm_check_fail(ck, "arena %u: %zu allocation bits outside carved pools", i,
                          bits_all - bits_pools);
    }
    /* freepools: carved, empty, no cycle, as many as the empty pools */
    size_t nfp = 0;
    for (const pm_pool *q = ao->freepools; q; q = q->nextpool) {
        uintptr_t qa = (uintptr_t)q;
        if (qa < first || qa >= pa || ((qa - first) & h->geom.pool_mask)) {
            pm_check_fail(ck, "arena %u: freepools entry %p is not a carved pool", i,
                          (const void *)q);
            break;
        }
        if (q->ref.count) {
            pm_check_fail(ck, "arena %u: freepools entry %p has %u blocks in use", i,
                          (const void *)q, q->ref.count);
            break;
        }
        if (++nfp > carved) {
            pm_check_fail(ck, "arena %u: freepools list has a cycle", i);
            break;
        }
    }
    if (nfp != empty)
        pm_check_fail(ck, "arena %u: %zu pools on freepools but %zu empty carved pools", i, nfp,
                      empty);
    size_t expect_free = empty + (end - pa) / h->pool_size;
    if (ao->nfreepools != expect_free)
        pm_check_fail(ck, "arena %u: nfreepools %u, expected %zu", i, ao->nfreepools, expect_free);
}

static void check_arenas(const pm_heap_t *h, struct pm_check_report *ck, size_t *partial,
                         size_t *n_usable, size_t *n_whole, size_t *carved_total)
{
    size_t narenas = 0, nunused_slots = 0;
    for (uint32_t i = 0; i < h->maxarenas; i++) {
        const struct pm_arena *ao = &h->arenas[i];
        if (!ao->address) {
            nunused_slots++;
            continue;
        }
        narenas++;
        check_arena(h, ck, i, true, partial, carved_total);
        *n_usable += ao->nfreepools > 0;
        *n_whole += ao->nfreepools == ao->ntotalpools;
    }
    if (narenas != h->narenas_current)
        pm_check_fail(ck, "%zu arenas mapped but narenas_current is %llu", narenas,
                  (unsigned long long)h->narenas_current);
    if (h->narenas_highwater < h->narenas_current ||
        h->ntimes_arena_allocated < h->narenas_current)
        pm_check_fail(ck, "arena counters: total %llu, highwater %llu, current %llu",
                  (unsigned long long)h->ntimes_arena_allocated,
                  (unsigned long long)h->narenas_highwater, (unsigned long long)h->narenas_current);
    size_t nunused = 0;
    for (const struct pm_arena *ao = h->unused_arena_objects; ao; ao = ao->nextarena) {
        if (ao < h->arenas || ao >= h->arenas + h->maxarenas || ao->address) {
            pm_check_fail(ck, "unused arena list holds a bad entry %p", (const void *)ao);
            break;
        }
        if (++nunused > nunused_slots) {
            pm_check_fail(ck, "unused arena list has a cycle");
            break;
        }
    }
    if (nunused != nunused_slots)
        pm_check_fail(ck, "%zu unused arena slots but %zu on the unused list", nunused_slots, nunused);
}

static void check_usedpools(const pm_heap_t *h, struct pm_check_report *ck, const size_t *partial,
                            size_t carved_total)
{
    for (unsigned c = 0; c < NCLASSES; c++) {
        const pm_pool *head = &h->used[c].pool;
        size_t n = 0;
        const pm_pool *prev = head;
        for (const pm_pool *q = head->nextpool; q != head; prev = q, q = q->nextpool) {
            if (q->prevpool != prev) {
                pm_check_fail(ck, "usedpools[%u]: broken prev link at %p", c, (const void *)q);
                break;
            }
            const struct pm_arena *ao = arena_containing(h, (uintptr_t)q);
            if (!ao || !radix_owns_g(h, (uintptr_t)q, h->geom) ||
                q->arenaindex != (uint32_t)(ao - h->arenas) ||
                ((uintptr_t)q & h->geom.pool_mask)) {
                pm_check_fail(ck, "usedpools[%u]: %p is not a carved pool", c, (const void *)q);
                break;
            }
            if (q->szidx != c || q->ref.count == 0 || !q->freeblock) {
                pm_check_fail(ck, "usedpools[%u]: pool %p has class %u, %u in use, freeblock %p", c,
                          (const void *)q, q->szidx, q->ref.count, (void *)q->freeblock);
                break;
            }
            if (++n > carved_total) {
                pm_check_fail(ck, "usedpools[%u] has a cycle", c);
                break;
            }
        }
        if (n != partial[c])
            pm_check_fail(ck, "usedpools[%u] links %zu pools but %zu are partly used", c, n, partial[c]);
    }
}

static void check_usable_arenas(const pm_heap_t *h, struct pm_check_report *ck, size_t n_usable,
                                size_t n_whole)
{
    size_t n = 0, groups = 0, whole = 0;
    const struct pm_arena *prev = NULL;
    for (const struct pm_arena *ao = h->usable_arenas; ao; prev = ao, ao = ao->nextarena) {
        if (ao < h->arenas || ao >= h->arenas + h->maxarenas || !ao->address) {
            pm_check_fail(ck, "usable_arenas holds a bad entry %p", (const void *)ao);
            return;
        }
        if (ao->prevarena != prev) {
            pm_check_fail(ck, "usable_arenas: broken prev link at arena %td", ao - h->arenas);
            return;
        }
        if (ao->nfreepools == 0)
            pm_check_fail(ck, "usable_arenas: arena %td has no free pool", ao - h->arenas);
        if (prev && prev->nfreepools > ao->nfreepools)
            pm_check_fail(ck, "usable_arenas not sorted: %u free pools before %u", prev->nfreepools,
                      ao->nfreepools);
        whole += ao->nfreepools == ao->ntotalpools;
        if (!ao->nextarena || ao->nextarena->nfreepools != ao->nfreepools) {
            groups++;
            if (ao->nfreepools <= h->pools_per_arena && h->nfp2lasta[ao->nfreepools] != ao)
                pm_check_fail(ck, "nfp2lasta[%u] is not the rightmost arena with %u free pools",
                          ao->nfreepools, ao->nfreepools);
        }
        if (++n > h->maxarenas) {
            pm_check_fail(ck, "usable_arenas has a cycle");
            return;
        }
    }
    if (n != n_usable)
        pm_check_fail(ck, "usable_arenas links %zu arenas but %zu have free pools", n, n_usable);
    size_t set = 0;
    for (uint32_t k = 0; k <= h->pools_per_arena; k++)
        set += h->nfp2lasta[k] != NULL;
    if (h->nfp2lasta[0])
        pm_check_fail(ck, "nfp2lasta[0] is set");
    if (set != groups)
        pm_check_fail(ck, "nfp2lasta has %zu entries for %zu groups of equal free pools", set, groups);
    if (whole != n_whole || whole != h->nwhole_free)
        pm_check_fail(ck, "wholly free arenas: %zu listed, %zu mapped, counter %u", whole, n_whole,
                  h->nwhole_free);
    if (n_whole > 1)
        pm_check_fail(ck, "%zu wholly free arenas kept (at most 1)", n_whole);
}

static void check_large(const pm_heap_t *h, struct pm_check_report *ck, uint64_t *mapped)
{
    if (h->large == LARGE_OS) {     /* the shared path's own check (pm_large.h) */
        char why[PM_ERR_LEN];
        if (!pm_large_valid(&h->big, why, sizeof why))
            pm_check_fail(ck, "%s", why);
        *mapped += h->big.mapped + h->big.cached_bytes;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; h->big.set.slot && i < pm_addrset_cap(&h->big.set); i++) {
        const void *p = (const void *)h->big.set.slot[i];
        if (!p)
            continue;
        n++;                            /* the C library's block: no header of ours */
        if (large_find(h, p) != i)
            pm_check_fail(ck, "large block %p: not reachable by its hash", p);
        if (radix_leaf(h, (uintptr_t)p) && leaf_has_pool(radix_leaf(h, (uintptr_t)p),
                                                         (uintptr_t)p, h->geom))
            pm_check_fail(ck, "large block %p lies in a carved pool", p);
    }
    /* large=system keeps no byte counter (stats() sums the set) */
    if (n != h->big.count)
        pm_check_fail(ck, "large blocks: %zu in the set, counter says %llu", n,
                      (unsigned long long)h->big.count);
    if (h->big.set.slot && !pm_addrset_valid(&h->big.set))
        pm_check_fail(ck, "large set: count %zu of %zu slots, or a key not reachable from its home",
                      h->big.set.count, pm_addrset_cap(&h->big.set));
}

unsigned long pymalloc_check(pm_heap_t *h, char msg[PM_ERR_LEN])
{
    struct pm_check_report ck = {.msg = msg, .who = "pymalloc"};
    msg[0] = 0;
    size_t partial[NCLASSES] = {0};
    size_t n_usable = 0, n_whole = 0, carved_total = 0;
    check_arenas(h, &ck, partial, &n_usable, &n_whole, &carved_total);
    check_usedpools(h, &ck, partial, carved_total);
    check_usable_arenas(h, &ck, n_usable, n_whole);

    if (h->bot_hint &&
        radix_leaf(h, h->bot_hint_first << h->geom.chunk_shift) != h->bot_hint)
        pm_check_fail(&ck, "bottom-node hint does not match the radix tree");

    /* radix nodes: those of the directory (struct pm_heap), or the whole
     * tree when there are more. Through the directory, a node pointer
     * written into the root or a mid node by something other than
     * radix_ensure is not seen (the whole walk counted it); every mark in
     * every node made is still counted. */
    size_t mids = 0, bots = 0, slot_bits = 0;
    if (h->mid_count <= PM_RADIX_DIR && h->bot_count <= PM_RADIX_DIR) {
        for (uint64_t i = 0; i < h->mid_count; i++) {
            uint32_t r = h->dir_mid[i];
            bool dup = false;
            for (uint64_t j = 0; j < i; j++)
                dup |= h->dir_mid[j] == r;
            if (((size_t)r >> h->root_bits) == 0 && h->root[r] && !dup)
                mids++;
        }
        for (uint64_t i = 0; i < h->bot_count; i++) {
            bool dup = false;
            for (uint64_t j = 0; j < i; j++)
                dup |= h->dir_bot[j] == h->dir_bot[i];
            const struct pm_leaf *bot = radix_dir_bot(h, i);
            if (!bot || dup)
                continue;
            bots++;
            slot_bits += leaf_bits(bot, h->geom.bot_mask + 1);
        }
    } else {
        for (size_t r = 0; r < ((size_t)1 << h->root_bits); r++) {
            void **mid = h->root[r];
            if (!mid)
                continue;
            mids++;
            for (size_t m = 0; m <= h->geom.mid_mask; m++) {
                const struct pm_leaf *bot = mid[m];
                if (!bot)
                    continue;
                bots++;
                slot_bits += leaf_bits(bot, h->geom.bot_mask + 1);
            }
        }
    }
    if (mids != h->mid_count || bots != h->bot_count)
        pm_check_fail(&ck, "radix tree has %zu mid and %zu bottom nodes, counters say %llu and %llu",
                  mids, bots, (unsigned long long)h->mid_count, (unsigned long long)h->bot_count);
    if (slot_bits != carved_total)
        pm_check_fail(&ck, "radix tree marks %zu pools but %zu are carved", slot_bits, carved_total);

    /* every byte the OS layer counts is accounted for */
    size_t page = pm_os_page_size();
    uint64_t mapped = pm_round_up(h->heap_map_size, page)
                    + h->narenas_current * h->arena_size
                    + pm_round_up(h->table_map_size, page)   /* pools under a page: */
                    + pm_round_up(h->bitmap_map_size, page)  /* the OS layer maps pages */
                    + mids * pm_round_up(sizeof(void *) << h->mid_bits, page)
                    + bots * pm_round_up(sizeof(struct pm_leaf) << h->bot_bits, page)
                    + (h->big.set.slot ? pm_round_up(pm_addrset_bytes(&h->big.set), page) : 0);
    check_large(h, &ck, &mapped);
    if (h->inner) {
        /* the shared account also holds the inner instance's mappings */
        char imsg[PM_ERR_LEN];
        unsigned long ibad = h->inner_ops->check(h->inner, imsg);
        if (ibad)
            pm_check_fail(&ck, "large path: %.200s", imsg);
        ck.bad += ibad ? ibad - 1 : 0;
        if (mapped > h->os.mapped)
            pm_check_fail(&ck, "OS layer counts %llu bytes mapped, the arenas alone account for %llu",
                      (unsigned long long)h->os.mapped, (unsigned long long)mapped);
    } else if (mapped != h->os.mapped) {
        pm_check_fail(&ck, "OS layer counts %llu bytes mapped, the heap accounts for %llu",
                  (unsigned long long)h->os.mapped, (unsigned long long)mapped);
    }
    return ck.bad;
}

/* ------------------------------------------- predicates of the expensive asserts
 * Small checks of one structure that pymalloc.c asserts (pm_assert_expensive,
 * PM_ASSERT_LEVEL 3: the asan preset) after each change of it; the same code
 * as check() above, on one pool or arena. Never abort. */

#define PREDICATE_REPORT(r)                                                    \
    char r##_msg[PM_ERR_LEN];                                                  \
    struct pm_check_report r = {.msg = r##_msg, .who = "pymalloc"}

/* A carved pool: header, blocks, free list and bitmap agree (check_pool);
 * a partly used one is linked in its class's used ring. */
bool pymalloc_pool_valid(const pm_heap_t *h, const pm_pool *pool)
{
    PREDICATE_REPORT(r);
    if (pool->arenaindex >= h->maxarenas || !h->arenas[pool->arenaindex].address)
        return false;
    size_t empty = 0, partial[NCLASSES] = {0};
    check_pool(h, &r, &h->arenas[pool->arenaindex], pool->arenaindex, pool, &empty, partial);
    if (pool->ref.count && pool->freeblock &&
        (pool->nextpool->prevpool != pool || pool->prevpool->nextpool != pool))
        return false;
    return r.bad == 0;
}

/* A mapped arena: geometry, radix marks, freepools and nfreepools agree
 * (check_arena without the pool contents: O(pools per arena)). */
bool pymalloc_arena_valid(const pm_heap_t *h, const struct pm_arena *ao)
{
    PREDICATE_REPORT(r);
    if (ao < h->arenas || ao >= h->arenas + h->maxarenas || !ao->address)
        return false;
    size_t partial[NCLASSES] = {0}, carved = 0;
    check_arena(h, &r, (uint32_t)(ao - h->arenas), false, partial, &carved);
    return r.bad == 0;
}

/* ao's place in usable_arenas, O(1): an arena with free pools is linked
 * both ways between neighbours with no more and no fewer free pools, and
 * nfp2lasta[nf] is the rightmost arena of its group; one without is not the
 * head. */
bool pymalloc_usable_valid(const pm_heap_t *h, const struct pm_arena *ao)
{
    uint32_t nf = ao->nfreepools;
    if (nf == 0)
        return h->usable_arenas != ao;
    const struct pm_arena *p = ao->prevarena, *n = ao->nextarena;
    if (p ? p->nextarena != ao || p->nfreepools > nf : h->usable_arenas != ao)
        return false;
    if (n && (n->prevarena != ao || n->nfreepools < nf))
        return false;
    const struct pm_arena *last = nf <= h->pools_per_arena ? h->nfp2lasta[nf] : NULL;
    return last && last->nfreepools == nf && !(last->nextarena && last->nextarena->nfreepools == nf);
}

/* The arena lists after an arena is mapped or unmapped: usable_arenas
 * sorted and linked, nfp2lasta, the wholly free count (check_usable_arenas),
 * O(arena table). */
bool pymalloc_arenas_valid(const pm_heap_t *h)
{
    PREDICATE_REPORT(r);
    size_t n_usable = 0, n_whole = 0, mapped = 0;
    for (uint32_t i = 0; i < h->maxarenas; i++)
        if (h->arenas[i].address) {
            mapped++;
            n_usable += h->arenas[i].nfreepools > 0;
            n_whole += h->arenas[i].nfreepools == h->arenas[i].ntotalpools;
        }
    check_usable_arenas(h, &r, n_usable, n_whole);
    return r.bad == 0 && mapped == h->narenas_current;
}
