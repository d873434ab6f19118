/* allocators/buddy_internal.h — what the buddy backend's hot paths
 * (buddy.c) share with its walks and checks (buddy_check.c: stats(),
 * check(), pm_buddy_free_blocks/orders): the layout, the heap, the
 * ownership table, the free lists and the block predicates. Private to those
 * two files; the design is in buddy.c's file comment.
 */
#ifndef PM_BUDDY_INTERNAL_H
#define PM_BUDDY_INTERNAL_H

#include "buddy.h"
#include "pm_addrset.h"
#include "pm_large.h"
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
     * + large.mapped; a realloc that changes a level in place counts in both
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
    struct pm_large large;      /* blocks above region_size (pm_large.h, no header: the
                                   table keeps each one's mapping size) */
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
static inline bool slots_init(struct pm_addrset *t, struct pm_os *os, unsigned max_order)
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
static inline void slot_insert(pm_heap_t *h, uintptr_t key, uintptr_t val)
{
    uintptr_t *e = pm_addrset_insert(&h->slots, key);
    pm_assert_internal(e != NULL);
    e[1] = val;
}

static inline void slot_remove(pm_heap_t *h, struct buddy_slot *s)
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

enum group_field { FIELD_USED, FIELD_FREE, FIELD_CODE };

static inline uint64_t group_word(const struct buddy_group *gr, enum group_field f)
{
    return f == FIELD_USED ? gr->used : f == FIELD_FREE ? gr->free : gr->code;
}

/* Any bit of field f set for granules [g, g + len)? */
static inline bool range_any(const struct buddy_group *groups, enum group_field f, uint64_t g, uint64_t len)
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
static inline enum block_fault block_fault(const pm_heap_t *h, const struct buddy_group *groups, uint64_t g,
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

/* buddy_check.c */
void buddy_stats(pm_heap_t *h, struct pm_stats *out);
unsigned long buddy_check(pm_heap_t *h, char msg[PM_ERR_LEN]);

#endif
