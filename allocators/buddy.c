/* allocators/buddy.c — the `buddy` backend: a binary buddy system.
 *
 * Entry points: pm_buddy_ops (the allocator_ops table), pm_buddy_free_blocks
 * and pm_buddy_orders (buddy.h, introspection for tests).
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
 *    mapped == meta_bytes + regions * region_size + large_bytes
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
#include "buddy.h"
#include "pm_addrset.h"
#include "pm_asan.h"
#include "pm_assert.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum {
    BUDDY_MIN_ORDER_LO = 4,     /* 16 B: a free block holds two links */
    BUDDY_MAX_ORDER_HI = 30,    /* 1 GiB regions at most */
    BUDDY_DEFAULT_MIN = 4,
    BUDDY_DEFAULT_MAX = 20,     /* 1 MiB regions */
    BUDDY_LEVELS = BUDDY_MAX_ORDER_HI - BUDDY_MIN_ORDER_LO + 1,
    BUDDY_KEEP_EMPTY_MAX = 1024,
    BUDDY_SLOT_LARGE = 1,       /* key tag: a large block (address | 1) */
    BUDDY_SLOT_REGION = 2,      /* key tag: a region (base | 2), so base 0 is never a key */
};

struct buddy_free {             /* the first 16 bytes of every free block */
    struct buddy_free *next;    /* circular list of one level, via the sentinel */
    struct buddy_free *prev;
};
_Static_assert(sizeof(struct buddy_free) == (size_t)1 << BUDDY_MIN_ORDER_LO,
               "the links fill the smallest block exactly");
_Static_assert(PM_ALIGNMENT == 1 << BUDDY_MIN_ORDER_LO,
               "every block is at least PM_ALIGNMENT-aligned");

struct buddy_group {            /* state of 64 consecutive granules of a region */
    uint64_t used;              /* bit q: an allocated block starts at granule q */
    uint64_t free;              /* bit q: a free block starts at q, on its list */
    uint64_t code;              /* level code, see the header comment */
};
_Static_assert(sizeof(struct buddy_group) == 24, "three words per 64 granules");
_Static_assert(BUDDY_LEVELS - 1 < 64, "a level code of a region fits in one word");

struct buddy_slot {             /* a two-word entry of the ownership table (pm_addrset.h) */
    uintptr_t key;              /* region base | 2, or large address | 1; 0: empty */
    uintptr_t val;              /* region: its state, region_size >> (min_order + 6)
                                   groups (slot_groups); large block: bytes mapped */
};
_Static_assert(sizeof(struct buddy_slot) == 2 * sizeof(uintptr_t), "four slots per cache line");

struct pm_heap {
    /* hot: every malloc and free */
    uint64_t avail;             /* bit j: lists[j] is not empty */
    uintptr_t region_mask;      /* region_size - 1 */
    size_t slow_from;           /* requests >= this take a whole region or more:
                                   region_size / 2 + 1, or 0 if top == 0 */
    size_t granule_mask;        /* 2^min_order - 1 */
    unsigned min_order;         /* log2 of the smallest block, bytes */
    unsigned top;               /* max_order - min_order: the level of a region */
    struct pm_addrset slots;    /* ownership table: regions and large blocks; a key's
                                   home is its region number (no hash, see below) */
    /* One counter store per operation: level j blocks handed out and given
     * back, cumulative. used_bytes = sum_j (nalloc[j] - nfreed[j]) << (j + min_order)
     * + large_bytes; a realloc that changes a level in place counts in both
     * (and in `inplace`, which nmalloc and nfree leave out). */
    uint64_t nalloc[BUDDY_LEVELS];
    uint64_t nfreed[BUDDY_LEVELS];
    struct buddy_free lists[BUDDY_LEVELS];  /* sentinels, one per level */
    /* cold */
    size_t region_size;         /* 2^max_order bytes */
    size_t meta_size;           /* bytes mapped for one region's groups */
    size_t self_size;           /* bytes mapped for this struct */
    uint64_t regions;           /* regions mapped now, empty ones included */
    uint64_t empty_regions;     /* wholly free regions kept, on lists[top] */
    uint64_t keep_empty;        /* at most this many empty regions are kept */
    uint64_t large_blocks, large_bytes;   /* directly mapped blocks now, bytes */
    uint64_t large_nmalloc, large_nfree;  /* cumulative */
    uint64_t inplace;           /* reallocs that changed a block's level in place */
    uint64_t misuse;
    struct pm_config cfg;
    struct pm_os os;
};

/* ---- bits ---------------------------------------------------------------- */

static inline uint64_t bit_at(uint64_t g) { return UINT64_C(1) << (g & 63); }

/* Level of the block starting at granule q of group gr (from its code). */
static inline unsigned code_level(const struct buddy_group *gr, unsigned q)
{
    return (unsigned)__builtin_ctzll(~(gr->code >> q));
}

/* The code bits of a block of level j starting at granule g (in its group). */
static inline uint64_t code_mask(uint64_t g, unsigned j)
{
    return ((UINT64_C(1) << j) - 1) << (g & 63);
}

/* Level of a request: bit length of (n - 1) | (granule - 1), minus min_order.
 * n == 0 is served as n == 1. */
static inline unsigned size_level(const pm_heap_t *h, size_t n)
{
    size_t m = ((n | (n == 0)) - 1) | h->granule_mask;
    return (unsigned)(64 - __builtin_clzll((unsigned long long)m)) - h->min_order;
}

static inline struct buddy_free *block_at(uintptr_t base, uint64_t g, unsigned min_order)
{
    return (struct buddy_free *)(base + (g << min_order));
}

/* ---- ownership table ----------------------------------------------------- */

/* Home slot: the region number (address >> max_order) modulo the table size.
 * No multiplicative hash: mmap places regions mostly side by side, so
 * consecutive region numbers fill consecutive slots without collisions, and
 * the lookup on every free and malloc saves a multiply's latency. */
static bool slots_init(struct pm_addrset *t, struct pm_os *os, unsigned max_order)
{
    size_t cap = pm_os_page_size() / sizeof(struct buddy_slot);   /* one page */
    return pm_addrset_init(t, os, cap, 2, max_order, false);
}

static inline struct buddy_slot *slot_of(uintptr_t *e) { return (struct buddy_slot *)e; }
static inline struct buddy_slot *slot_at(const pm_heap_t *h, size_t i)
{
    return slot_of(pm_addrset_entry(&h->slots, i));
}

/* The entry of the region based at base, or NULL. */
static inline struct buddy_slot *region_find(const pm_heap_t *h, uintptr_t base)
{
    return slot_of(pm_addrset_find(&h->slots, base | BUDDY_SLOT_REGION));
}

static inline struct buddy_group *slot_groups(const struct buddy_slot *s)
{
    return (struct buddy_group *)s->val;
}
static inline size_t slot_size(const struct buddy_slot *s) { return (size_t)s->val; }
static inline uintptr_t slot_addr(const struct buddy_slot *s)
{
    return s->key & ~(uintptr_t)(BUDDY_SLOT_LARGE | BUDDY_SLOT_REGION);
}

/* Adds an entry; room must have been reserved (pm_addrset_reserve). */
static void slot_insert(pm_heap_t *h, uintptr_t key, uintptr_t val)
{
    uintptr_t *e = pm_addrset_insert(&h->slots, key);
    pm_assert_internal(e != NULL);
    e[1] = val;
}

static void slot_remove(pm_heap_t *h, struct buddy_slot *s)
{
    pm_addrset_remove_entry(&h->slots, &s->key);
}

/* ---- free lists ----------------------------------------------------------
 *
 * Circular through the sentinel lists[j], whose own prev is never read. The
 * first element's prev is allowed to be stale: pop then need not write into
 * the new first block (usually an old, uncached line); push repairs it.
 * Invariant: every element but the first has prev == its predecessor.
 *
 * Under ASan free blocks are poisoned: each access to the links of a block
 * is bracketed by LINKS_OPEN / LINKS_CLOSE (no code in other builds). */

#if PM_ASAN_ON
/* Not a sentinel: the links are in a (poisoned) free block. */
static inline bool links_poisoned(const pm_heap_t *h, const struct buddy_free *b)
{
    return (uintptr_t)b - (uintptr_t)h->lists >= sizeof h->lists;
}
#define LINKS_OPEN(h, b)                                                \
    do {                                                                \
        if (links_poisoned((h), (b)))                                   \
            PM_UNPOISON((b), sizeof(struct buddy_free));                \
    } while (0)
#define LINKS_CLOSE(h, b)                                               \
    do {                                                                \
        if (links_poisoned((h), (b)))                                   \
            PM_POISON((b), sizeof(struct buddy_free));                  \
    } while (0)
#else
#define LINKS_OPEN(h, b) ((void)0)
#define LINKS_CLOSE(h, b) ((void)0)
#endif

static inline void list_push(pm_heap_t *h, unsigned j, struct buddy_free *b)
{
    struct buddy_free *s = &h->lists[j], *first = s->next;
    LINKS_OPEN(h, b);
    b->next = first;
    LINKS_OPEN(h, first);
    first->prev = b;            /* the old first (or the sentinel) */
    LINKS_CLOSE(h, first);
    b->prev = s;                /* after it: two plain stores, not one vector store */
    LINKS_CLOSE(h, b);
    s->next = b;
    if (!(h->avail & (UINT64_C(1) << j)))   /* store only on a change: stores queue */
        h->avail |= UINT64_C(1) << j;
}

static inline struct buddy_free *list_pop(pm_heap_t *h, unsigned j)
{
    struct buddy_free *s = &h->lists[j], *b = s->next;
    pm_assert_internal(b != s);
    LINKS_OPEN(h, b);
    s->next = b->next;          /* the new first keeps a stale prev */
    LINKS_CLOSE(h, b);
    if (s->next == s)
        h->avail &= ~(UINT64_C(1) << j);
    return b;
}

static inline void list_unlink(pm_heap_t *h, unsigned j, struct buddy_free *b)
{
    LINKS_OPEN(h, b);
    struct buddy_free *s = &h->lists[j], *prev = s->next == b ? s : b->prev, *next = b->next;
    LINKS_CLOSE(h, b);
    LINKS_OPEN(h, prev);
    prev->next = next;
    LINKS_CLOSE(h, prev);
    LINKS_OPEN(h, next);
    next->prev = prev;
    LINKS_CLOSE(h, next);
    if (s->next == s)
        h->avail &= ~(UINT64_C(1) << j);
}

/* The links of a listed block, read for walks (check, trim, introspection). */
static inline struct buddy_free links_read(const pm_heap_t *h, const struct buddy_free *b)
{
    LINKS_OPEN(h, b);
    struct buddy_free l = *b;
    LINKS_CLOSE(h, b);
    (void)h;
    return l;
}

/* ---- regions ------------------------------------------------------------- */

/* Maps a new region; returns its base with the whole-region block (level top)
 * coded but neither used nor free, or NULL (ENOMEM). */
static __attribute__((noinline, cold)) uintptr_t region_new(pm_heap_t *h,
                                                           struct buddy_group **groups_out)
{
    if (!pm_addrset_reserve(&h->slots, &h->os))
        return 0;
    struct buddy_group *groups = pm_os_map(&h->os, h->meta_size);
    if (!groups)
        return 0;
    void *base = pm_os_map_aligned(&h->os, h->region_size, h->region_size);
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

enum group_field { FIELD_USED, FIELD_FREE, FIELD_CODE };

static uint64_t group_word(const struct buddy_group *gr, enum group_field f)
{
    return f == FIELD_USED ? gr->used : f == FIELD_FREE ? gr->free : gr->code;
}

/* Any bit of field f set for granules [g, g + len)? */
static bool range_any(const struct buddy_group *groups, enum group_field f, uint64_t g, uint64_t len)
{
    while (len) {
        unsigned q = (unsigned)(g & 63);
        uint64_t take = 64 - q < len ? 64 - q : len;
        uint64_t mask = take == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << take) - 1) << q;
        if (group_word(&groups[g >> 6], f) & mask)
            return true;
        g += take;
        len -= take;
    }
    return false;
}

/* ---- validity predicates ------------------------------------------------
 *
 * The invariants of one block, from its region's state words alone. check()
 * tiles every region with them; the expensive asserts (PM_ASSERT_LEVEL 3,
 * the asan preset) call them after every change of the block structure (a
 * split, a merge), at the change that would break them. */

enum block_fault {
    BLOCK_OK,
    BLOCK_NO_START,             /* neither used nor free: blocks do not tile */
    BLOCK_USED_AND_FREE,
    BLOCK_BAD_LEVEL,            /* level too high, misaligned or past the region */
    BLOCK_OVERLAP,              /* another block starts inside it */
    BLOCK_STRAY_CODE,           /* level-code bits inside it past its own */
    BLOCK_NOT_COALESCED,        /* free, and so is its buddy at the same level */
};

/* The fault of the block starting at granule g (of a region with
 * 2^top granules); its level in *lv (when not BLOCK_NO_START). */
static enum block_fault block_fault(const pm_heap_t *h, const struct buddy_group *groups, uint64_t g,
                                    unsigned *lv)
{
    uint64_t n = UINT64_C(1) << h->top;
    const struct buddy_group *gr = &groups[g >> 6];
    bool u = (gr->used & bit_at(g)) != 0, f = (gr->free & bit_at(g)) != 0;
    if (!u && !f)
        return BLOCK_NO_START;
    unsigned l = *lv = code_level(gr, (unsigned)(g & 63));
    uint64_t len = UINT64_C(1) << (l < 63 ? l : 63);
    if (l > h->top || (g & (len - 1)) || g + len > n)
        return BLOCK_BAD_LEVEL;
    if (u && f)
        return BLOCK_USED_AND_FREE;
    if (len > 1 && (range_any(groups, FIELD_USED, g + 1, len - 1) || range_any(groups, FIELD_FREE, g + 1, len - 1)))
        return BLOCK_OVERLAP;
    if (range_any(groups, FIELD_CODE, g + l, len - l))
        return BLOCK_STRAY_CODE;
    if (f && l < h->top) {
        uint64_t gb = g ^ len;
        const struct buddy_group *bg = &groups[gb >> 6];
        if ((bg->free & bit_at(gb)) && code_level(bg, (unsigned)(gb & 63)) == l)
            return BLOCK_NOT_COALESCED;
    }
    return BLOCK_OK;
}

/* The block at granule g is valid and of level j (for the asserts). */
__attribute__((unused)) static bool block_ok(const pm_heap_t *h, const struct buddy_group *groups,
                                             uint64_t g, unsigned j)
{
    unsigned lv = 0;
    return block_fault(h, groups, g, &lv) == BLOCK_OK && lv == j;
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

static __attribute__((noinline)) void *large_malloc(pm_heap_t *h, size_t n)
{
    if (n > SIZE_MAX / 2) {
        errno = ENOMEM;
        return NULL;
    }
    size_t size = pm_round_up(n, pm_os_page_size());
    if (!pm_addrset_reserve(&h->slots, &h->os))
        return NULL;
    void *p = pm_os_map(&h->os, size);
    if (!p)
        return NULL;
    slot_insert(h, (uintptr_t)p | BUDDY_SLOT_LARGE, size);
    h->large_blocks++;
    h->large_bytes += size;
    h->large_nmalloc++;
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
    pm_os_unmap(&h->os, p, size);
    h->large_blocks--;
    h->large_bytes -= size;
    h->large_nfree++;
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
        return n > h->region_size ? large_malloc(h, n) : malloc_split(h, h->top);
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
    void *p = buddy_malloc(h, total);
    if (p && total <= h->region_size)   /* large blocks are fresh, zeroed mappings */
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
        if (n > h->region_size && n <= SIZE_MAX / 2 && pm_round_up(n, pm_os_page_size()) == old)
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

struct buddy_totals {
    uint64_t used;              /* bytes in blocks handed out, large included */
    uint64_t nmalloc, nfree;    /* live blocks = nmalloc - nfree */
};

static struct buddy_totals heap_totals(const pm_heap_t *h)
{
    struct buddy_totals t = {h->large_bytes, h->large_nmalloc - h->inplace,
                             h->large_nfree - h->inplace};
    for (unsigned j = 0; j <= h->top; j++) {
        t.used += (h->nalloc[j] - h->nfreed[j]) << (j + h->min_order);
        t.nmalloc += h->nalloc[j];
        t.nfree += h->nfreed[j];
    }
    return t;
}

static uint64_t heap_meta_bytes(const pm_heap_t *h, uint64_t regions)
{
    return h->self_size + pm_addrset_bytes(&h->slots) + regions * h->meta_size;
}

static void buddy_stats(pm_heap_t *h, struct pm_stats *out)
{
    struct buddy_totals t = heap_totals(h);
    *out = (struct pm_stats){
        .mapped_bytes = h->os.mapped,
        .peak_mapped_bytes = h->os.peak_mapped,
        .used_bytes = t.used,
        .meta_bytes = heap_meta_bytes(h, h->regions),
        .live_blocks = t.nmalloc - t.nfree,
        .nmalloc = t.nmalloc,
        .nfree = t.nfree,
        .arenas = h->regions,
        .pools = h->regions - h->empty_regions,   /* regions with a block in use */
        .large_blocks = h->large_blocks,
        .misuse = h->misuse,
    };
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
    for (unsigned j = 0; j < BUDDY_LEVELS; j++)
        h->lists[j].next = h->lists[j].prev = &h->lists[j];
    h->cfg = *cfg;
    h->cfg.options = NULL;   /* the caller's string need not outlive create */
    h->os = os;
    return h;
}

/* ---- check --------------------------------------------------------------- */

struct check_ctx {
    struct pm_check_report r;               /* the count and first message */
    uint64_t used, live, empty;             /* from the region walk */
    uint64_t regions, large, large_bytes;   /* from the table */
    uint64_t free_blocks[BUDDY_LEVELS];     /* free blocks per level, region walk */
    uint64_t live_level[BUDDY_LEVELS];      /* used blocks per level, region walk */
};


static void check_region(const pm_heap_t *h, uintptr_t base, const struct buddy_group *groups,
                         struct check_ctx *c)
{
    uint64_t n = UINT64_C(1) << h->top;
    unsigned mo = h->min_order;
    if (n < 64 && (range_any(groups, FIELD_USED, n, 64 - n) || range_any(groups, FIELD_FREE, n, 64 - n) ||
                   range_any(groups, FIELD_CODE, n, 64 - n)))
        pm_check_fail(&c->r, "region %p has state bits past its end", (void *)base);
    for (uint64_t g = 0; g < n;) {
        void *addr = (void *)(base + (g << mo));
        unsigned lv = 0;
        enum block_fault why = block_fault(h, groups, g, &lv);
        uint64_t len = UINT64_C(1) << (lv < 63 ? lv : 63);
        switch (why) {
        case BLOCK_OK:
            break;
        case BLOCK_NO_START:
            pm_check_fail(&c->r, "no block starts at %p: blocks do not tile region %p", addr, (void *)base);
            return;
        case BLOCK_BAD_LEVEL:
            pm_check_fail(&c->r, "block %p has level %u, which does not fit region %p", addr, lv,
                      (void *)base);
            return;
        case BLOCK_USED_AND_FREE:
            pm_check_fail(&c->r, "block %p is marked both used and free", addr);
            break;
        case BLOCK_OVERLAP:
            pm_check_fail(&c->r, "another block starts inside the %zu-byte block %p: blocks overlap",
                      (size_t)len << mo, addr);
            break;
        case BLOCK_STRAY_CODE:
            pm_check_fail(&c->r, "stray level-code bits inside the %zu-byte block %p", (size_t)len << mo,
                      addr);
            break;
        case BLOCK_NOT_COALESCED:   /* reported once, at the lower buddy */
            if (!(g & len))
                pm_check_fail(&c->r, "free buddies %p and %p of %zu bytes are not coalesced", addr,
                          (void *)(base + ((g ^ len) << mo)), (size_t)len << mo);
            break;
        }
        if (groups[g >> 6].used & bit_at(g)) {
            c->used += (uint64_t)len << mo;
            c->live++;
            c->live_level[lv]++;
        } else {
            c->free_blocks[lv]++;
            if (lv == h->top)
                c->empty++;
        }
        g += len;
    }
}

static void check_lists(const pm_heap_t *h, struct check_ctx *c)
{
    uint64_t bound = c->regions << h->top;   /* no list can be longer */
    unsigned mo = h->min_order;
    if (h->avail >> h->top >> 1)
        pm_check_fail(&c->r, "avail has bits above the top level: %#llx", (unsigned long long)h->avail);
    for (unsigned j = 0; j <= h->top; j++) {
        const struct buddy_free *sent = &h->lists[j], *prev = sent;
        uint64_t count = 0;
        bool nonempty = sent->next != sent;
        if (nonempty != ((h->avail >> j) & 1))
            pm_check_fail(&c->r, "avail bit %u is %d but list %u is %s", j, (int)((h->avail >> j) & 1), j,
                      nonempty ? "not empty" : "empty");
        for (const struct buddy_free *b = sent->next; b != sent; prev = b, b = links_read(h, b).next) {
            uintptr_t a = (uintptr_t)b, base = a & ~h->region_mask;
            const struct buddy_slot *s = region_find(h, base);
            if (!s) {
                pm_check_fail(&c->r, "list of %zu-byte blocks holds %p, outside every region",
                          (size_t)1 << (j + mo), (const void *)b);
                break;
            }
            if (++count > bound) {
                pm_check_fail(&c->r, "list of %zu-byte blocks does not come back to its head",
                          (size_t)1 << (j + mo));
                break;
            }
            if (prev != sent && links_read(h, b).prev != prev)   /* the first's prev may be stale */
                pm_check_fail(&c->r, "block %p on list %u has a wrong prev link", (const void *)b, j);
            uint64_t g = (a - base) >> mo;
            const struct buddy_group *gr = &slot_groups(s)[g >> 6];
            if (((a - base) & (((uintptr_t)1 << (j + mo)) - 1)) || !(gr->free & bit_at(g)) ||
                code_level(gr, (unsigned)(g & 63)) != j)
                pm_check_fail(&c->r, "block %p on the list of %zu-byte blocks is not marked free at that size",
                          (const void *)b, (size_t)1 << (j + mo));
        }
        if (count != c->free_blocks[j])
            pm_check_fail(&c->r, "%llu blocks of %zu bytes are marked free but %llu are on their list",
                      (unsigned long long)c->free_blocks[j], (size_t)1 << (j + mo),
                      (unsigned long long)count);
    }
}

static unsigned long buddy_check(pm_heap_t *h, char msg[PM_ERR_LEN])
{
    struct check_ctx c = {.r = {.msg = msg, .who = "buddy"}};
    msg[0] = 0;
    if (!pm_addrset_valid(&h->slots))
        pm_check_fail(&c.r, "ownership table broken (%zu entries counted; an entry cannot be "
                  "found from its home slot, or the count is wrong)", h->slots.count);
    for (size_t i = 0; i < pm_addrset_cap(&h->slots); i++) {
        const struct buddy_slot *e = slot_at(h, i);
        if (!e->key)
            continue;
        if (e->key & BUDDY_SLOT_LARGE) {
            c.large++;
            c.large_bytes += slot_size(e);
            if (slot_size(e) <= h->region_size || (e->key & (pm_os_page_size() - 1) & ~(uintptr_t)1))
                pm_check_fail(&c.r, "large block %#lx has a bad size %zu or address",
                          (unsigned long)e->key, slot_size(e));
        } else if (!(e->key & BUDDY_SLOT_REGION) || (slot_addr(e) & h->region_mask)) {
            pm_check_fail(&c.r, "region %#lx is not aligned to its size", (unsigned long)e->key);
        } else {
            c.regions++;
            check_region(h, slot_addr(e), slot_groups(e), &c);
        }
    }
    check_lists(h, &c);
    uint64_t meta = heap_meta_bytes(h, c.regions);
    struct buddy_totals t = heap_totals(h);
    if (c.regions != h->regions || c.large != h->large_blocks || c.large_bytes != h->large_bytes)
        pm_check_fail(&c.r, "%llu regions and %llu large blocks (%llu bytes) found, "
                      "stats say %llu, %llu (%llu)",
                  (unsigned long long)c.regions, (unsigned long long)c.large,
                  (unsigned long long)c.large_bytes, (unsigned long long)h->regions,
                  (unsigned long long)h->large_blocks, (unsigned long long)h->large_bytes);
    if (c.used + c.large_bytes != t.used)
        pm_check_fail(&c.r, "blocks in use add up to %llu bytes, stats say %llu",
                  (unsigned long long)(c.used + c.large_bytes), (unsigned long long)t.used);
    if (c.live + c.large != t.nmalloc - t.nfree)
        pm_check_fail(&c.r, "%llu blocks in use found, stats say %llu (nmalloc %llu - nfree %llu)",
                  (unsigned long long)(c.live + c.large), (unsigned long long)(t.nmalloc - t.nfree),
                  (unsigned long long)t.nmalloc, (unsigned long long)t.nfree);
    for (unsigned j = 0; j <= h->top; j++)
        if (h->nalloc[j] - h->nfreed[j] != c.live_level[j])
            pm_check_fail(&c.r, "%llu blocks of %zu bytes in use found, counters say %llu",
                      (unsigned long long)c.live_level[j], (size_t)1 << (j + h->min_order),
                      (unsigned long long)(h->nalloc[j] - h->nfreed[j]));
    if (c.empty != h->empty_regions || h->empty_regions > h->keep_empty)
        pm_check_fail(&c.r, "%llu empty regions found, stats say %llu (keep at most %llu)",
                  (unsigned long long)c.empty, (unsigned long long)h->empty_regions,
                  (unsigned long long)h->keep_empty);
    if (h->os.mapped != meta + c.regions * h->region_size + c.large_bytes)
        pm_check_fail(&c.r, "%llu bytes mapped, but metadata + regions + large blocks = %llu",
                  (unsigned long long)h->os.mapped,
                  (unsigned long long)(meta + c.regions * h->region_size + c.large_bytes));
    return c.r.bad;
}

/* ---- introspection (buddy.h) --------------------------------------------- */

size_t pm_buddy_free_blocks(pm_heap_t *h, unsigned order)
{
    if (order < h->min_order || order > h->min_order + h->top)
        return 0;
    const struct buddy_free *s = &h->lists[order - h->min_order];
    size_t n = 0;
    for (const struct buddy_free *b = s->next; b != s; b = links_read(h, b).next)
        n++;
    return n;
}

void pm_buddy_orders(pm_heap_t *h, unsigned *min_order, unsigned *max_order)
{
    *min_order = h->min_order;
    *max_order = h->min_order + h->top;
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
