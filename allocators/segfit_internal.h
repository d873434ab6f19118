/* allocators/segfit_internal.h — what the segfit backend's hot paths
 * (segfit.c) share with its walks and checks (segfit_check.c: stats(),
 * pm_segfit_info(), check()): the layout, the heap, the small helpers and
 * the validity predicates of one block. Private to those two files; the
 * design is in segfit.c's file comment.
 */
#ifndef PM_SEGFIT_INTERNAL_H
#define PM_SEGFIT_INTERNAL_H

#include "segfit.h"
#include "pm_addrset.h"
#include "pm_large.h"
#include "pm_asan.h"
#include "pm_assert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- layout constants ---- */

#define SEG_ALIGN 16u
#define SEG_HDR 8u                 /* header bytes of a block */
#define SEG_MIN_BLOCK 32u          /* header + two links + footer */
#define SEG_BUSY 1u                /* block used or cached */
#define SEG_PREV_FREE 2u           /* the previous block is free: footer valid */
#define SEG_FLAGS 15u
#define SEG_SIZE_MASK (~(uint64_t)SEG_FLAGS)
/* side map codes (see struct seg_region): byte = code << 1 | half */
#define SEG_SIDE_FREE 1u           /* a free block (in the bins) */
#define SEG_SIDE_CACHED 2u         /* a block in a quick list */
#define SEG_SIDE_USED_BIG 3u       /* a used block above SEG_SIDE_MAX_SIZE */
#define SEG_SIDE_CLASS0 2u         /* used block of s bytes: code = s / 16 + 2 */
#define SEG_SIDE_MAX_SIZE 2000u    /* largest block size with its own code (127) */
#define SEG_FL_MAX 32              /* first-level classes */
#define SEG_SL_MAX 64              /* second-level classes at most */
#define SEG_QUICK_MAX_REQ ((size_t)PM_SMALL_MAX)
#define SEG_QUICK_MAX_BLOCK 528u   /* block size of a 512-byte request */
#define SEG_QUICK_CLASSES (SEG_QUICK_MAX_BLOCK / 16 + 1)
#define SEG_REGION_MIN ((size_t)64 << 10)
#define SEG_REGION_MAX ((size_t)1 << 30)

struct seg_block {
    uint64_t hdr;               /* block size in bytes | SEG_* flags */
    struct seg_block *next;     /* free: next in bin; cached: next in quick list */
    struct seg_block *prev;     /* free: previous in bin (NULL at the head) */
};

struct seg_region {
    struct seg_region *next, *prev;   /* every region of the heap */
    struct seg_region *enext, *eprev; /* regions with live == 0 (empty list) */
    uint64_t live;                    /* bytes of busy blocks (used + cached) */
    uint8_t side[];                   /* R/32 bytes: the side map */
};

_Static_assert(sizeof(struct seg_block) == 24, "free block: header + two links");
_Static_assert(SEG_MIN_BLOCK >= sizeof(struct seg_block) + 8, "room for the footer");
_Static_assert(SEG_MIN_BLOCK % SEG_ALIGN == 0, "block sizes are multiples of 16");
_Static_assert(PM_LARGE_HDR % SEG_ALIGN == 0, "large payload alignment");
_Static_assert(SEG_ALIGN == PM_ALIGNMENT, "the contract's alignment");
_Static_assert(SEG_HDR + SEG_ALIGN / 2 == SEG_ALIGN, "header at 8 mod 16, payload at 0 mod 16");
_Static_assert(SEG_QUICK_MAX_BLOCK == ((SEG_QUICK_MAX_REQ + SEG_HDR + 15) & ~(size_t)15),
               "quick lists cover requests up to PM_SMALL_MAX");
_Static_assert(SEG_SL_MAX <= 64 && SEG_FL_MAX <= 64, "bitmaps are 64-bit words");
_Static_assert(sizeof(uint64_t) == sizeof(void *), "64-bit pointers assumed by the layout");
_Static_assert(SEG_MIN_BLOCK >= 32, "at most one payload starts in a 32-byte window of the side map");
_Static_assert((SEG_SIDE_MAX_SIZE / 16 + SEG_SIDE_CLASS0) << 1 <= 255, "side codes fit in a byte");
_Static_assert(SEG_SIDE_MAX_SIZE / 16 + SEG_SIDE_CLASS0 > SEG_SIDE_USED_BIG &&
               SEG_MIN_BLOCK / 16 + SEG_SIDE_CLASS0 > SEG_SIDE_USED_BIG, "class codes above the state codes");
_Static_assert(SEG_QUICK_MAX_BLOCK <= SEG_SIDE_MAX_SIZE, "quick-list sizes have their own side code");

struct pm_heap {
    /* hot: the fast paths read these */
    struct seg_block *quick[SEG_QUICK_CLASSES];   /* LIFO per block size / 16 */
    uint32_t quick_count[SEG_QUICK_CLASSES];      /* blocks in each list */
    uint32_t quick_cap;                           /* max blocks per list */
    size_t quick_max_req;                         /* requests served by quick lists */
    size_t quick_max_block;                       /* their block size */
    uintptr_t region_mask;                        /* ~(R - 1) */
    struct pm_addrset regions;                    /* region bases */
    uint64_t cached_bytes;                        /* sum of cached block sizes */
    struct pm_stats st;                           /* counters (mapped etc. filled by stats) */
    /* geometry and options */
    size_t region_size;         /* R, bytes */
    size_t region_hdr;          /* H, bytes: struct + side map, 16-multiple */
    size_t max_block;           /* R - H - 16: the block of an empty region */
    size_t large_threshold;     /* requests above it are mapped directly */
    size_t release_keep;        /* bytes of empty regions kept before unmapping */
    unsigned sl_log;            /* log2(second-level subdivisions) */
    unsigned fl_shift;          /* sl_log + 4: sizes below 1 << fl_shift are exact bins */
    /* free block index */
    uint64_t fl_bitmap;                           /* bit f <=> sl_bitmap[f] != 0 */
    uint64_t sl_bitmap[SEG_FL_MAX];               /* bit k <=> bins[f][k] != NULL */
    struct seg_block *bins[SEG_FL_MAX][SEG_SL_MAX];
    uint64_t free_bytes;        /* sum of free block sizes (in bins) */
    uint64_t free_blocks;       /* blocks in bins */
    uint64_t busy_bytes;        /* sum of region.live */
    /* regions */
    struct seg_region *region_list;               /* every region */
    struct seg_region *empty_head, *empty_tail;   /* live == 0, newest at head */
    uint64_t empty_bytes;       /* R * regions on the empty list */
    struct pm_large large;      /* blocks above large_threshold (pm_large.h) */
    struct pm_config cfg;
    struct pm_os os;            /* own OS account, unless cfg->account */
    struct pm_os *acct;         /* the account mapped through: &os or cfg->account */
};

/* ---- small helpers ---- */

static inline size_t blk_size(const struct seg_block *b) { return (size_t)(b->hdr & SEG_SIZE_MASK); }

static inline struct seg_block *blk_at(void *p, size_t off) { return (struct seg_block *)((char *)p + off); }
/* The block `off` bytes before p (p - off, never p + (0 - off): that wraps). */
static inline struct seg_block *blk_before(void *p, size_t off) { return (struct seg_block *)((char *)p - off); }
static inline uint64_t *blk_footer(struct seg_block *b, size_t size) { return (uint64_t *)((char *)b + size - 8); }
static inline void *blk_payload(struct seg_block *b) { return (char *)b + SEG_HDR; }
static inline struct seg_block *blk_of_payload(void *p) { return (struct seg_block *)((char *)p - SEG_HDR); }

static inline struct seg_region *region_of_block(const pm_heap_t *h, const void *b)
{
    return (struct seg_region *)((uintptr_t)b & h->region_mask);
}

/* ---- ASan: access to in-band data of free and cached blocks ---- */

#define HDR_OPEN(b) PM_UNPOISON((b), SEG_HDR)
#define HDR_CLOSE(b) PM_POISON((b), SEG_HDR)
#define WORD_OPEN(w) PM_UNPOISON((w), sizeof(uint64_t))
#define WORD_CLOSE(w) PM_POISON((w), sizeof(uint64_t))
#define LINKS_OPEN(b) PM_UNPOISON(&(b)->next, 2 * sizeof(struct seg_block *))
#define LINKS_CLOSE(b) PM_POISON(&(b)->next, 2 * sizeof(struct seg_block *))
#define QLINK_OPEN(b) PM_UNPOISON(&(b)->next, sizeof(struct seg_block *))
#define QLINK_CLOSE(b) PM_POISON(&(b)->next, sizeof(struct seg_block *))

#if PM_ASAN_ON
/* Reads of one word of in-band data in any state: opened if poisoned, and
 * left as found. */
static inline uint64_t word_peek(const uint64_t *w)
{
    bool was = PM_POISONED(w);
    WORD_OPEN(w);
    uint64_t v = *w;
    if (was)
        WORD_CLOSE(w);
    return v;
}

static inline struct seg_block *link_peek(struct seg_block *const *l)
{
    bool was = PM_POISONED(l);
    PM_UNPOISON(l, sizeof *l);
    struct seg_block *v = *l;
    if (was)
        PM_POISON(l, sizeof *l);
    return v;
}
#define WORD(w) word_peek(w)
#define HDR(b) word_peek(&(b)->hdr)
#define NEXT(b) link_peek(&(b)->next)
#define PREV(b) link_peek(&(b)->prev)
#else
#define WORD(w) (*(w))
#define HDR(b) ((b)->hdr)
#define NEXT(b) ((b)->next)
#define PREV(b) ((b)->prev)
#endif
/* blk_size() of a block whose header may be poisoned (a free block). */
#define SIZE(b) ((size_t)(HDR(b) & SEG_SIZE_MASK))

/* Side map: one byte per 32-byte window of the region, describing the block
 * whose payload starts in that window (at most one: blocks are >= 32 bytes).
 * 0: none; else code << 1 | half, half = payload at window + 16. */
static inline size_t side_index(const struct seg_region *r, const void *payload)
{
    return (size_t)((uintptr_t)payload - (uintptr_t)r) >> 5;
}

static inline unsigned side_half(const void *payload) { return (unsigned)((uintptr_t)payload >> 4) & 1; }

static inline unsigned side_code_used(size_t size)
{
    return size <= SEG_SIDE_MAX_SIZE ? (unsigned)(size >> 4) + SEG_SIDE_CLASS0 : SEG_SIDE_USED_BIG;
}

static inline void side_set(struct seg_region *r, struct seg_block *b, unsigned code)
{
    void *p = blk_payload(b);
    r->side[side_index(r, p)] = (uint8_t)(code << 1 | side_half(p));
}

static inline void side_clear(struct seg_region *r, struct seg_block *b)
{
    r->side[side_index(r, blk_payload(b))] = 0;
}

/* The code of the block whose payload is p, or 0 if no payload starts at p. */
static inline unsigned side_code(const struct seg_region *r, const void *p)
{
    unsigned v = r->side[side_index(r, p)];
    return (v & 1) == side_half(p) ? v >> 1 : 0;
}


static inline unsigned floor_log2(size_t s) { return 63u - (unsigned)__builtin_clzll((unsigned long long)s); }

static inline void mapping(size_t s, unsigned sl_log, unsigned *fl, unsigned *sl)
{
    unsigned fl_shift = sl_log + 4;
    if (s < ((size_t)1 << fl_shift)) {
        *fl = 0;
        *sl = (unsigned)(s >> 4);
    } else {
        unsigned l = floor_log2(s);
        *fl = l - fl_shift + 1;
        *sl = (unsigned)(s >> (l - sl_log)) ^ (1u << sl_log);
    }
}



static inline struct seg_block *region_first(const pm_heap_t *h, struct seg_region *r)
{
    return blk_at(r, h->region_hdr + SEG_HDR);
}

static inline struct seg_block *region_sentinel(const pm_heap_t *h, struct seg_region *r)
{
    return blk_at(r, h->region_size - SEG_HDR);
}


/* ---- validity predicates ----
 *
 * The invariants of one block, O(1), safe on any block reached by walking a
 * valid region. check() walks every region with them; the expensive asserts
 * (PM_ASSERT_LEVEL 3, the asan preset) call them after every change of the
 * block structure (a split in block_use, a merge in block_release), where a
 * broken invariant is caught at the change that broke it. */

/* Is the size of b plausible (a walk can step over b)? */
static inline bool block_size_ok(const pm_heap_t *h, struct seg_region *r, struct seg_block *b)
{
    size_t size = SIZE(b);
    return size >= SEG_MIN_BLOCK && size % SEG_ALIGN == 0 &&
           size <= (size_t)((char *)region_sentinel(h, r) - (char *)b);
}

/* NULL if block b of region r is valid given whether the block before it is
 * free; else what is wrong. A free block: side code FREE, footer == size, no
 * free block before it (coalesced). A busy one: side code of its size, or
 * CACHED (quick lists, small sizes only). Both: PREV_FREE == prev_free. */
static inline const char *block_fault(const pm_heap_t *h, struct seg_region *r, struct seg_block *b,
                               bool prev_free)
{
    uint64_t hdr = HDR(b);
    size_t size = SIZE(b);
    if (!block_size_ok(h, r, b))
        return "bad size";
    unsigned code = side_code(r, blk_payload(b));
    if (!(hdr & SEG_BUSY) ? code != SEG_SIDE_FREE : code != SEG_SIDE_CACHED && code != side_code_used(size))
        return "side map code disagrees with the header";
    if (!!(hdr & SEG_PREV_FREE) != prev_free)
        return prev_free ? "PREV_FREE flag clear after a free block" : "PREV_FREE flag set after a busy block";
    if (hdr & (SEG_FLAGS & ~(uint64_t)(SEG_BUSY | SEG_PREV_FREE)))
        return "unknown header flags";
    if (!(hdr & SEG_BUSY)) {
        if (WORD(blk_footer(b, size)) != size)
            return "footer differs from the size (damaged footer)";
        if (prev_free)
            return "adjacent to a free predecessor (not coalesced)";
    } else if (code == SEG_SIDE_CACHED && size > SEG_QUICK_MAX_BLOCK) {
        return "cached but larger than the quick lists' blocks";
    }
    return NULL;
}

/* b (free or busy, its predecessor busy) and the block after it are valid:
 * the state right after a merge or a split at b. */
static inline bool block_and_next_ok(const pm_heap_t *h, struct seg_region *r, struct seg_block *b)
{
    if (block_fault(h, r, b, false))
        return false;
    struct seg_block *n = blk_at(b, SIZE(b));
    bool b_free = !(HDR(b) & SEG_BUSY);
    if (n == region_sentinel(h, r))
        return (HDR(n) & ~(uint64_t)SEG_PREV_FREE) == SEG_BUSY && !!(HDR(n) & SEG_PREV_FREE) == b_free;
    return block_fault(h, r, n, b_free) == NULL;
}

/* Free block b of `size` bytes is on the list of its bin. */
static inline bool block_in_bin(const pm_heap_t *h, struct seg_block *b, size_t size)
{
    unsigned fl, sl;
    mapping(size, h->sl_log, &fl, &sl);
    if (!(h->fl_bitmap >> fl & 1) || !(h->sl_bitmap[fl] >> sl & 1))
        return false;
    for (struct seg_block *x = h->bins[fl][sl]; x; x = NEXT(x))
        if (x == b)
            return true;
    return false;
}

static inline uint64_t heap_struct_bytes(void) { return pm_round_up(sizeof(struct pm_heap), pm_os_page_size()); }

/* segfit_check.c */
void seg_stats(pm_heap_t *h, struct pm_stats *out);
unsigned long seg_check(pm_heap_t *h, char msg[PM_ERR_LEN]);

#endif
