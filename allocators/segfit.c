/* allocators/segfit.c — the `segfit` backend: size-segregated free lists
 * over large aligned regions, with a two-level bitmap index in the spirit of
 * TLSF (Masmano et al.), boundary tags and immediate coalescing, plus
 * bounded exact-size quick lists for small blocks.
 *
 * Entry points: pm_segfit_ops (allocator.h), pm_segfit_block_size,
 * pm_segfit_mapping, pm_segfit_info (segfit.h).
 *
 * LAYOUT
 *  Region: R bytes (option region=, a power of two), mapped aligned to R so
 *  that its base is p & ~(R-1). It starts with struct seg_region and the
 *  side map, H bytes in all; then blocks tile [base + H + 8, base + R - 8)
 *  exactly; the last 8 bytes are a sentinel header (size 0, busy) that stops
 *  forward coalescing.
 *  Block: an 8-byte header (size | flags) then the payload, which is
 *  16-byte aligned; sizes are multiples of 16, at least 32. A free block
 *  keeps its bin links after the header and a copy of its size in its last
 *  8 bytes (the footer), which the next block reaches through its PREV_FREE
 *  flag. So a used block costs 8 bytes of header; usable = size - 8.
 *  Side map: one byte per 32 bytes of the region (3.1% of it). Blocks are
 *  at least 32 bytes, so at most one payload starts in a 32-byte window; its
 *  byte says where (bit 0: at +16) and what (bits 1..7): free, cached, used
 *  with its size class (size / 16 + 2, up to 2000 bytes) or used and larger.
 *  0 = no block starts there. It answers "is p a block, in which state, of
 *  which size" without reading the block.
 *  Large: requests above `large` bytes get their own mapping with a 16-byte
 *  header (mapping size, magic), kept in a hash set keyed by address.
 *
 * FREE BLOCK INDEX (TLSF-like, our own code)
 *  bin(s): sizes below 16 * SL are binned exactly (fl 0, sl = s / 16); above,
 *  fl = log2(s) - log2(16 * SL) + 1 and sl = the next log2(SL) bits of s.
 *  fl_bitmap bit f <=> sl_bitmap[f] != 0; sl_bitmap[f] bit k <=> bins[f][k]
 *  is not empty. malloc looks at the head of bin(s) (taken if it fits), else
 *  at the first non-empty bin above it, found with two ctz: O(1), every
 *  block there fits (good fit, the same as TLSF's rounded-up search plus
 *  one look at the request's own bin). The rest is split off when >= 32
 *  bytes and goes back to its bin. free merges with free neighbours at once
 *  (boundary tags), so no two free blocks are adjacent.
 *
 * EXACT-SIZE FAST PATH (the one deviation from immediate coalescing)
 *  Blocks of requests up to 512 bytes (block sizes 32..528, 33 classes) go,
 *  on free, onto a LIFO list of their exact size — up to `quick` blocks per
 *  class (default 64, quick=0 turns it off) — instead of being coalesced,
 *  like dlmalloc's fastbins or glibc's tcache. They stay busy in the
 *  boundary tags, so neighbours do not merge with them; a malloc of the same
 *  block size takes the head. The lists are flushed (every cached block
 *  freed for real, with coalescing) before a new region is mapped and on
 *  trim(), so cached blocks never make the heap grow; at most quick * 33
 *  blocks (~0.6 MB at 64) are held back. A flush costs one real free per
 *  cached block, each pushed once: amortized O(1) per free. The usual
 *  trade: deferred coalescing of recently freed small blocks for speed; on
 *  a shuffled 16..4096-byte workload it sometimes costs one more region
 *  (tests/test_segfit.c, fragmentation).
 *
 * REGIONS GIVEN BACK
 *  seg_region.live counts busy bytes (used + cached). A region whose live
 *  drops to 0 is one free block; it goes on the empty list and stays usable.
 *  When the empty regions exceed `release` bytes the oldest are unmapped;
 *  trim() flushes the quick lists, unmaps every empty region and gives back
 *  (MADV_DONTNEED) the whole pages inside the remaining free blocks.
 *
 * MISUSE (reported through cfg->on_misuse, see allocator.h)
 *  free/realloc of p: p % 16 != 0 -> misaligned pointer; p & ~(R-1) not in
 *  the region set and p not in the large set -> foreign pointer. In a
 *  region the side map decides, exactly: no block starts at p -> the block
 *  holding p (the nearest entry below) is free or cached -> double free (a
 *  stale pointer whose block was merged), used -> foreign pointer "not a
 *  block start"; a free or cached block at p -> double free. A free that
 *  leaves the fast path also checks the header against the side map
 *  (busy, same size) -> foreign pointer "block header damaged" (an overrun
 *  from the block before); the fast path does not read the header, so
 *  such damage shows there only in check(). A large block is unmapped on
 *  free, so a second free of it reports a foreign pointer.
 *
 * WHERE THE TIME GOES
 *  Small-object churn (pymemlab micro: 100k live blocks of 16..512 bytes,
 *  free a random one, malloc a random size) runs the quick lists about 98%
 *  of the time (1.3% of mallocs and 2.3% of frees take the slow path at
 *  quick=64). free: a probe of the region set (one hot page), the side-map
 *  byte (the map is 1/32 of the heap: mostly an L2/L3 hit) and a push that
 *  writes the link into the block; it never waits for the block's header,
 *  which is usually a cache miss (the block was last touched when it was
 *  allocated) and which glibc's free must load before it can do anything.
 *  malloc: a pop of a block freed shortly before (still cached) and a side
 *  byte. That is why segfit runs this benchmark in about half glibc's time;
 *  reading the header in free instead made it only 5-10% faster than glibc
 *  under load. The slow path (and every call with quick=0, which is ~1.5x
 *  glibc's time here) spends its time in cache misses on neighbours: the
 *  footer and header of both neighbours for coalescing, the two list
 *  neighbours of a free neighbour unlinked, the old head of the bin
 *  inserted into; the bitmap search itself (two ctz) is negligible.
 *  Regions cost an mmap and a page fault per page on first touch; trim()
 *  walks every bin.
 *
 * INVARIANTS (check() verifies them all)
 *  sum of block sizes in a region = R - H - 16; no two adjacent free blocks;
 *  next->PREV_FREE <=> block free, and then footer = size; each free block
 *  is in bins[bin(size)]; bitmaps as above; side map entries = block starts
 *  with their state and size; quick list entries = blocks cached in the
 *  side map; region.live = sum of busy block sizes; busy_bytes = sum of
 *  region.live; used_bytes = busy_bytes - cached_bytes - 8 * small live +
 *  large usable; os.mapped = R * regions + large mappings + tables + heap.
 *
 * ASAN (pm_asan.h, builds with PM_ASAN=1)
 *  Every byte of a region's block area that is not in a block handed out
 *  is poisoned, so ASan reports a use after free or an overflow into a
 *  free neighbour. A free block is poisoned whole: header, links, footer.
 *  A used block is open over its header and payload (size bytes, so all of
 *  usable_size(), rounding slack included). A cached block keeps its header
 *  open (it is busy in the boundary tags) and its payload poisoned. The
 *  region header, side map and sentinel are never poisoned. block_release
 *  poisons the block it frees first; block_use opens the part it hands
 *  out, and a split keeps the rest poisoned (a realloc that shrinks in
 *  place gives its tail back through block_release, a grow opens the
 *  neighbour it absorbs). Writes to a free block's header, footer or links
 *  open exactly those bytes around the store (HDR_/WORD_/LINKS_/QLINK_OPEN
 *  and _CLOSE); reads go through HDR/NEXT/PREV/WORD, which open the word if
 *  it is poisoned and leave it as they found it, so neighbours of unknown
 *  state and check() on a damaged heap never change the poisoning. Regions
 *  are unpoisoned before munmap; large blocks need nothing (unmapped on
 *  free). No code in other builds: the macros are plain accesses there.
 */
#include "segfit.h"
#include "pm_addrset.h"
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
#define SEG_LARGE_HDR 16u
#define SEG_LARGE_MAGIC UINT64_C(0x5e6f17a76e5e6f17)
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

struct seg_large {
    uint64_t map_size;          /* bytes mapped, header included, page multiple */
    uint64_t magic;             /* SEG_LARGE_MAGIC */
};

_Static_assert(sizeof(struct seg_block) == 24, "free block: header + two links");
_Static_assert(SEG_MIN_BLOCK >= sizeof(struct seg_block) + 8, "room for the footer");
_Static_assert(SEG_MIN_BLOCK % SEG_ALIGN == 0, "block sizes are multiples of 16");
_Static_assert(sizeof(struct seg_large) == SEG_LARGE_HDR, "large header keeps 16-byte alignment");
_Static_assert(SEG_LARGE_HDR % SEG_ALIGN == 0, "large payload alignment");
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
    /* large blocks */
    struct pm_addrset larges;   /* payload addresses */
    uint64_t large_usable;      /* sum of usable bytes of large blocks */
    uint64_t large_mapped;      /* sum of their mapping sizes */
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

size_t pm_segfit_block_size(size_t n)
{
    return n <= SEG_MIN_BLOCK - SEG_HDR ? SEG_MIN_BLOCK : (n + SEG_HDR + 15) & ~(size_t)15;
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

void pm_segfit_mapping(size_t block_size, unsigned sl_count, unsigned *fl, unsigned *sl)
{
    mapping(block_size, floor_log2(sl_count), fl, sl);
}

/* Adds key (not present), growing the set first if needed. false on OOM. */
static bool set_add(struct pm_os *os, struct pm_addrset *s, uintptr_t key)
{
    if (!pm_addrset_reserve(s, os))
        return false;
    uintptr_t *e = pm_addrset_insert(s, key);
    pm_assert_internal(e != NULL);
    (void)e;
    return true;
}

/* ---- the free block index ---- */

static void bin_insert(pm_heap_t *h, struct seg_block *b, size_t size)
{
    unsigned fl, sl;
    mapping(size, h->sl_log, &fl, &sl);
    pm_assert_internal(fl < SEG_FL_MAX && sl < (1u << h->sl_log));
    struct seg_block *head = h->bins[fl][sl];
    LINKS_OPEN(b);
    b->next = head;
    b->prev = NULL;
    LINKS_CLOSE(b);
    if (head) {
        LINKS_OPEN(head);
        head->prev = b;
        LINKS_CLOSE(head);
    }
    h->bins[fl][sl] = b;
    h->sl_bitmap[fl] |= UINT64_C(1) << sl;
    h->fl_bitmap |= UINT64_C(1) << fl;
    h->free_bytes += size;
    h->free_blocks++;
}

static void bin_remove(pm_heap_t *h, struct seg_block *b, size_t size)
{
    unsigned fl, sl;
    mapping(size, h->sl_log, &fl, &sl);
    LINKS_OPEN(b);
    if (b->prev) {
        LINKS_OPEN(b->prev);
        b->prev->next = b->next;
        LINKS_CLOSE(b->prev);
    } else {
        pm_assert_internal(h->bins[fl][sl] == b);
        h->bins[fl][sl] = b->next;
        if (!b->next) {
            h->sl_bitmap[fl] &= ~(UINT64_C(1) << sl);
            if (!h->sl_bitmap[fl])
                h->fl_bitmap &= ~(UINT64_C(1) << fl);
        }
    }
    if (b->next) {
        LINKS_OPEN(b->next);
        b->next->prev = b->prev;
        LINKS_CLOSE(b->next);
    }
    LINKS_CLOSE(b);
    h->free_bytes -= size;
    h->free_blocks--;
}

/* Takes a free block of at least `size` bytes out of the bins, or NULL. */
static struct seg_block *bin_take(pm_heap_t *h, size_t size)
{
    unsigned fl, sl;
    mapping(size, h->sl_log, &fl, &sl);
    struct seg_block *b = h->bins[fl][sl];
    if (b && SIZE(b) >= size) {
        bin_remove(h, b, SIZE(b));
        return b;
    }
    /* every block in a bin above bin(size) is larger than size */
    uint64_t slmap = sl + 1 < 64 ? h->sl_bitmap[fl] & (~UINT64_C(0) << (sl + 1)) : 0;
    if (!slmap) {
        uint64_t flmap = h->fl_bitmap & (~UINT64_C(0) << (fl + 1));
        if (!flmap)
            return NULL;
        fl = (unsigned)__builtin_ctzll(flmap);
        slmap = h->sl_bitmap[fl];
        pm_assert_internal(slmap != 0);
    }
    sl = (unsigned)__builtin_ctzll(slmap);
    b = h->bins[fl][sl];
    pm_assert_internal(b && SIZE(b) >= size);
    bin_remove(h, b, SIZE(b));
    return b;
}

/* ---- regions ---- */

static void empty_push(pm_heap_t *h, struct seg_region *r)
{
    r->eprev = NULL;
    r->enext = h->empty_head;
    if (h->empty_head)
        h->empty_head->eprev = r;
    else
        h->empty_tail = r;
    h->empty_head = r;
    h->empty_bytes += h->region_size;
}

static void empty_remove(pm_heap_t *h, struct seg_region *r)
{
    if (r->eprev)
        r->eprev->enext = r->enext;
    else
        h->empty_head = r->enext;
    if (r->enext)
        r->enext->eprev = r->eprev;
    else
        h->empty_tail = r->eprev;
    r->enext = r->eprev = NULL;
    h->empty_bytes -= h->region_size;
}

static inline struct seg_block *region_first(const pm_heap_t *h, struct seg_region *r)
{
    return blk_at(r, h->region_hdr + SEG_HDR);
}

static inline struct seg_block *region_sentinel(const pm_heap_t *h, struct seg_region *r)
{
    return blk_at(r, h->region_size - SEG_HDR);
}

/* Maps a region; returns its one free block, not in any bin. NULL on OOM. */
static struct seg_block *region_new(pm_heap_t *h)
{
    struct seg_region *r = pm_os_map_aligned(h->acct, h->region_size, h->region_size);
    if (!r)
        return NULL;
    if (!set_add(h->acct, &h->regions, (uintptr_t)r)) {
        pm_os_unmap(h->acct, r, h->region_size);
        errno = ENOMEM;
        return NULL;
    }
    /* the mapping is zero-filled: links and side map start cleared */
    r->next = h->region_list;
    if (h->region_list)
        h->region_list->prev = r;
    h->region_list = r;
    h->st.arenas++;
    struct seg_block *b = region_first(h, r);
    b->hdr = h->max_block;                          /* free, prev busy */
    *blk_footer(b, h->max_block) = h->max_block;
    region_sentinel(h, r)->hdr = SEG_BUSY | SEG_PREV_FREE;
    side_set(r, b, SEG_SIDE_FREE);
    /* the block area, up to the sentinel: one free block, nothing handed out */
    PM_POISON((char *)r + h->region_hdr, h->region_size - h->region_hdr - SEG_HDR);
    empty_push(h, r);           /* live == 0 until block_use takes from it */
    return b;
}

/* Unmaps an empty region (its one free block is in the bins). */
static void region_release(pm_heap_t *h, struct seg_region *r)
{
    pm_assert_internal(r->live == 0);
    struct seg_block *b = region_first(h, r);
    pm_assert_internal(SIZE(b) == h->max_block && !(HDR(b) & SEG_BUSY));
    bin_remove(h, b, h->max_block);
    empty_remove(h, r);
    if (r->prev)
        r->prev->next = r->next;
    else
        h->region_list = r->next;
    if (r->next)
        r->next->prev = r->prev;
    pm_addrset_remove(&h->regions, (uintptr_t)r);
    h->st.arenas--;
    PM_UNPOISON(r, h->region_size);             /* the shadow outlives the mapping */
    pm_os_unmap(h->acct, r, h->region_size);
}

static void region_emptied(pm_heap_t *h, struct seg_region *r)
{
    empty_push(h, r);
    while (h->empty_bytes > h->release_keep)
        region_release(h, h->empty_tail);       /* the longest unused first */
}

/* ---- validity predicates ----
 *
 * The invariants of one block, O(1), safe on any block reached by walking a
 * valid region. check() walks every region with them; the expensive asserts
 * (PM_ASSERT_LEVEL 3, the asan preset) call them after every change of the
 * block structure (a split in block_use, a merge in block_release), where a
 * broken invariant is caught at the change that broke it. */

/* Is the size of b plausible (a walk can step over b)? */
static bool block_size_ok(const pm_heap_t *h, struct seg_region *r, struct seg_block *b)
{
    size_t size = SIZE(b);
    return size >= SEG_MIN_BLOCK && size % SEG_ALIGN == 0 &&
           size <= (size_t)((char *)region_sentinel(h, r) - (char *)b);
}

/* NULL if block b of region r is valid given whether the block before it is
 * free; else what is wrong. A free block: side code FREE, footer == size, no
 * free block before it (coalesced). A busy one: side code of its size, or
 * CACHED (quick lists, small sizes only). Both: PREV_FREE == prev_free. */
static const char *block_fault(const pm_heap_t *h, struct seg_region *r, struct seg_block *b,
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
__attribute__((unused)) static bool block_and_next_ok(const pm_heap_t *h, struct seg_region *r, struct seg_block *b)
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
__attribute__((unused)) static bool block_in_bin(const pm_heap_t *h, struct seg_block *b, size_t size)
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

/* ---- block state changes (slow path) ---- */

/* Makes free block b (out of the bins) a used block of `size` bytes,
 * splitting off the rest if it can stand alone. Returns the block's size. */
static size_t block_use(pm_heap_t *h, struct seg_region *r, struct seg_block *b, size_t size)
{
    PM_UNPOISON(b, size);                       /* header and payload handed out (size <= have) */
    size_t have = blk_size(b);
    pm_assert_internal(!(b->hdr & (SEG_BUSY | SEG_PREV_FREE)) && have >= size);
    if (r->live == 0)
        empty_remove(h, r);
    if (have - size >= SEG_MIN_BLOCK) {
        struct seg_block *rest = blk_at(b, size);
        size_t rest_size = have - size;
        HDR_OPEN(rest);                         /* the rest stays free: poisoned */
        rest->hdr = rest_size;                  /* free, prev (b) busy */
        HDR_CLOSE(rest);
        WORD_OPEN(blk_footer(rest, rest_size));
        *blk_footer(rest, rest_size) = rest_size;
        WORD_CLOSE(blk_footer(rest, rest_size));
        side_set(r, rest, SEG_SIDE_FREE);
        bin_insert(h, rest, rest_size);         /* next block keeps PREV_FREE */
        have = size;
    } else {
        PM_UNPOISON(b, have);                   /* the slack too: usable_size() counts it */
        blk_at(b, have)->hdr &= ~(uint64_t)SEG_PREV_FREE;
    }
    b->hdr = have | SEG_BUSY;
    side_set(r, b, side_code_used(have));
    r->live += have;
    h->busy_bytes += have;
    pm_assert_expensive(block_and_next_ok(h, r, b));
    return have;
}

/* Frees busy block b (not cached) of `size` bytes: merges it with free
 * neighbours, puts the result in its bin, and notes an emptied region. */
static void block_release(pm_heap_t *h, struct seg_region *r, struct seg_block *b, size_t size)
{
    pm_assert_internal(r->live >= size);
    r->live -= size;
    h->busy_bytes -= size;
    PM_POISON(b, size);                         /* free from here on, header included */
    struct seg_block *next = blk_at(b, size);
    if (!(HDR(next) & SEG_BUSY)) {
        size_t ns = SIZE(next);
        bin_remove(h, next, ns);
        side_clear(r, next);
        size += ns;
    }
    if (HDR(b) & SEG_PREV_FREE) {
        size_t ps = (size_t)WORD((uint64_t *)b - 1);   /* the footer of prev */
        struct seg_block *prev = blk_before(b, ps);
        pm_assert_internal(SIZE(prev) == ps && !(HDR(prev) & SEG_BUSY));
        bin_remove(h, prev, ps);
        side_clear(r, b);
        b = prev;
        size += ps;
    }
    HDR_OPEN(b);
    b->hdr = size;                              /* prev is busy: flags clear */
    HDR_CLOSE(b);
    side_set(r, b, SEG_SIDE_FREE);
    WORD_OPEN(blk_footer(b, size));
    *blk_footer(b, size) = size;
    WORD_CLOSE(blk_footer(b, size));
    blk_at(b, size)->hdr |= SEG_PREV_FREE;      /* busy or the sentinel: open */
    bin_insert(h, b, size);
    pm_assert_expensive(block_and_next_ok(h, r, b) && block_in_bin(h, b, size));
    if (r->live == 0)
        region_emptied(h, r);
}

/* Frees every cached block for real. */
static void quick_flush(pm_heap_t *h)
{
    for (unsigned c = 0; c < SEG_QUICK_CLASSES; c++) {
        struct seg_block *b = h->quick[c];
        while (b) {
            QLINK_OPEN(b);
            struct seg_block *next = b->next;
            QLINK_CLOSE(b);
            block_release(h, region_of_block(h, b), b, blk_size(b));
            b = next;
        }
        h->quick[c] = NULL;
        h->quick_count[c] = 0;
    }
    h->cached_bytes = 0;
}

/* ---- misuse ---- */

static void seg_misuse(pm_heap_t *h, enum pm_misuse_kind kind, const void *p, const char *detail)
{
    pm_misuse_report(&h->cfg, &h->st.misuse, "segfit", kind, p, detail);
}

/* No payload starts at p (16-aligned, inside region r): find the block
 * holding p through the side map and name the misuse. */
static void misuse_not_start(pm_heap_t *h, struct seg_region *r, const void *p)
{
    size_t w = side_index(r, p);
    unsigned v = r->side[w];
    /* a block starting in p's window holds p only if it starts before it */
    if (!(v && (v & 1) < side_half(p)))
        for (v = 0; w > 0 && !v;)
            v = r->side[--w];
    if (!v) {
        seg_misuse(h, PM_MISUSE_FOREIGN_POINTER, p, "inside the region header");
        return;
    }
    void *start = (char *)r + 32 * w + 16 * (v & 1);
    char detail[96];
    unsigned code = v >> 1;
    if (code == SEG_SIDE_FREE || code == SEG_SIDE_CACHED) {
        snprintf(detail, sizeof detail, "inside the free block at %p", start);
        seg_misuse(h, PM_MISUSE_DOUBLE_FREE, p, detail);
    } else {
        snprintf(detail, sizeof detail, "not a block start (inside the block at %p)", start);
        seg_misuse(h, PM_MISUSE_FOREIGN_POINTER, p, detail);
    }
}

/* Full validation of p for free/realloc (the fast free path does the
 * common case itself). Returns p's region if p is a used block whose
 * header agrees with the side map; NULL with *large set if p is a large
 * block; NULL with *large clear after reporting misuse. */
static struct seg_region *block_check_used(pm_heap_t *h, void *p, bool *large)
{
    uintptr_t a = (uintptr_t)p;
    *large = false;
    if (a & (SEG_ALIGN - 1)) {
        seg_misuse(h, PM_MISUSE_MISALIGNED_POINTER, p, "");
        return NULL;
    }
    struct seg_region *r = (struct seg_region *)(a & h->region_mask);
    if (!pm_addrset_has(&h->regions, (uintptr_t)r)) {
        if (pm_addrset_has(&h->larges, a))
            *large = true;
        else
            seg_misuse(h, PM_MISUSE_FOREIGN_POINTER, p, "");
        return NULL;
    }
    unsigned code = side_code(r, p);
    if (code == 0) {
        misuse_not_start(h, r, p);
        return NULL;
    }
    if (code == SEG_SIDE_FREE || code == SEG_SIDE_CACHED) {
        seg_misuse(h, PM_MISUSE_DOUBLE_FREE, p, "");
        return NULL;
    }
    uint64_t hdr = blk_of_payload(p)->hdr;
    size_t size = (size_t)(hdr & SEG_SIZE_MASK);
    if (!(hdr & SEG_BUSY) || side_code_used(size) != code) {
        seg_misuse(h, PM_MISUSE_FOREIGN_POINTER, p, "block header damaged");
        return NULL;
    }
    return r;
}

/* ---- large blocks ---- */

static void *large_malloc(pm_heap_t *h, size_t n)
{
    size_t page = pm_os_page_size();
    if (n > SIZE_MAX / 4) {
        errno = ENOMEM;
        return NULL;
    }
    size_t map_size = pm_round_up(n + SEG_LARGE_HDR, page);
    struct seg_large *l = pm_os_map(h->acct, map_size);
    if (!l)
        return NULL;
    void *p = (char *)l + SEG_LARGE_HDR;
    if (!set_add(h->acct, &h->larges, (uintptr_t)p)) {
        pm_os_unmap(h->acct, l, map_size);
        errno = ENOMEM;
        return NULL;
    }
    l->map_size = map_size;
    l->magic = SEG_LARGE_MAGIC;
    h->large_usable += map_size - SEG_LARGE_HDR;
    h->large_mapped += map_size;
    h->st.large_blocks++;
    h->st.live_blocks++;
    h->st.nmalloc++;
    return p;
}

static inline struct seg_large *large_hdr(void *p) { return (struct seg_large *)((char *)p - SEG_LARGE_HDR); }

static void large_free(pm_heap_t *h, void *p)
{
    struct seg_large *l = large_hdr(p);
    size_t map_size = (size_t)l->map_size;
    pm_addrset_remove(&h->larges, (uintptr_t)p);
    h->large_usable -= map_size - SEG_LARGE_HDR;
    h->large_mapped -= map_size;
    h->st.large_blocks--;
    h->st.live_blocks--;
    h->st.nfree++;
    pm_os_unmap(h->acct, l, map_size);
}

/* ---- malloc / free ---- */

__attribute__((noinline)) static void *seg_malloc_slow(pm_heap_t *h, size_t n)
{
    if (n > h->large_threshold)
        return large_malloc(h, n);
    size_t size = pm_segfit_block_size(n);
    struct seg_block *b = bin_take(h, size);
    if (!b && h->cached_bytes) {
        quick_flush(h);         /* cached blocks never make the heap grow */
        b = bin_take(h, size);
    }
    if (!b) {
        b = region_new(h);
        if (!b)
            return NULL;
    }
    block_use(h, region_of_block(h, b), b, size);
    h->st.nmalloc++;
    h->st.live_blocks++;
    return blk_payload(b);
}

static void *seg_malloc(pm_heap_t *h, size_t n)
{
    if (__builtin_expect(n <= h->quick_max_req, 1)) {
        size_t c = n <= SEG_MIN_BLOCK - SEG_HDR ? SEG_MIN_BLOCK / 16 : (n + SEG_HDR + 15) >> 4;
        struct seg_block *b = h->quick[c];
        if (b) {
            PM_UNPOISON(blk_payload(b), (c << 4) - SEG_HDR);   /* cached: header already open */
            h->quick[c] = b->next;
            h->quick_count[c]--;
            side_set(region_of_block(h, b), b, (unsigned)c + SEG_SIDE_CLASS0);
            h->cached_bytes -= c << 4;
            h->st.nmalloc++;
            h->st.live_blocks++;
            return blk_payload(b);
        }
    }
    return seg_malloc_slow(h, n);
}

static void *seg_calloc(pm_heap_t *h, size_t k, size_t n)
{
    size_t total;
    if (!pm_calloc_bytes(k, n, &total))
        return NULL;
    void *p = seg_malloc(h, total);
    if (p && total <= h->large_threshold)       /* large mappings are zero-filled */
        memset(p, 0, total);
    return p;
}

/* Puts used block b (class c = size / 16, region r) on its quick list. */
static inline void quick_push(pm_heap_t *h, struct seg_region *r, struct seg_block *b, size_t c)
{
    b->next = h->quick[c];
    PM_POISON(blk_payload(b), (c << 4) - SEG_HDR);   /* link written; the header stays open */
    h->quick[c] = b;
    h->quick_count[c]++;
    side_set(r, b, SEG_SIDE_CACHED);
    h->cached_bytes += c << 4;
    h->st.nfree++;
    h->st.live_blocks--;
}

/* Frees a validated used region block: onto its quick list if it has one
 * with room, else for real. */
static void region_block_free(pm_heap_t *h, struct seg_region *r, void *p)
{
    struct seg_block *b = blk_of_payload(p);
    size_t size = blk_size(b);
    if (size <= h->quick_max_block && h->quick_count[size >> 4] < h->quick_cap) {
        quick_push(h, r, b, size >> 4);
        return;
    }
    h->st.nfree++;
    h->st.live_blocks--;
    block_release(h, r, b, size);
}

static void seg_free(pm_heap_t *h, void *p)
{
    uintptr_t a = (uintptr_t)p;
    /* fast path: a used block whose quick list has room. The side map gives
     * its class, so the block's header is not read (it is usually a cache
     * miss: the block was touched last when it was allocated). */
    if (__builtin_expect(a && !(a & (SEG_ALIGN - 1)), 1)) {
        struct seg_region *r = (struct seg_region *)(a & h->region_mask);
        if (__builtin_expect(pm_addrset_has(&h->regions, (uintptr_t)r), 1)) {
            unsigned code = side_code(r, p);
            size_t c = code - SEG_SIDE_CLASS0;
            if (__builtin_expect(code > SEG_SIDE_USED_BIG && c <= h->quick_max_block >> 4 &&
                                 h->quick_count[c] < h->quick_cap, 1)) {
                quick_push(h, r, blk_of_payload(p), c);
                return;
            }
        }
    }
    if (!p)
        return;
    bool large;
    struct seg_region *r = block_check_used(h, p, &large);
    if (r)
        region_block_free(h, r, p);
    else if (large)
        large_free(h, p);
}

static size_t seg_usable(pm_heap_t *h, void *p)
{
    uintptr_t a = (uintptr_t)p;
    if (pm_addrset_has(&h->regions, a & h->region_mask))
        return blk_size(blk_of_payload(p)) - SEG_HDR;
    if (pm_addrset_has(&h->larges, a))
        return (size_t)large_hdr(p)->map_size - SEG_LARGE_HDR;
    return 0;
}

/* Resizes region block b in place to `size` bytes if it can (shrink, or grow
 * into a free next block). */
static bool block_resize(pm_heap_t *h, struct seg_region *r, struct seg_block *b, size_t size)
{
    size_t have = blk_size(b);
    if (size > have) {
        struct seg_block *next = blk_at(b, have);
        if (HDR(next) & SEG_BUSY)
            return false;
        size_t ns = SIZE(next);
        if (have + ns < size)
            return false;
        /* absorb next, then give back the tail below */
        bin_remove(h, next, ns);
        side_clear(r, next);
        PM_UNPOISON(next, ns);                  /* part of the used block now */
        blk_at(b, have + ns)->hdr &= ~(uint64_t)SEG_PREV_FREE;
        b->hdr += ns;
        r->live += ns;
        h->busy_bytes += ns;
        have += ns;
    }
    if (have - size >= SEG_MIN_BLOCK) {
        struct seg_block *tail = blk_at(b, size);
        tail->hdr = (have - size) | SEG_BUSY;   /* a used block (open), then freed (poisoned) */
        b->hdr = size | (b->hdr & SEG_FLAGS);
        block_release(h, r, tail, have - size);
        have = size;
    }
    side_set(r, b, side_code_used(have));
    return true;
}

static void *seg_realloc(pm_heap_t *h, void *p, size_t n)
{
    if (!p)
        return seg_malloc(h, n);
    bool large;
    struct seg_region *r = block_check_used(h, p, &large);
    if (!r && !large)
        return NULL;                            /* misuse reported, call ignored */
    if (n > SIZE_MAX / 4) {
        errno = ENOMEM;
        return NULL;
    }
    size_t old;
    if (r) {
        struct seg_block *b = blk_of_payload(p);
        if (n <= h->large_threshold && block_resize(h, r, b, pm_segfit_block_size(n)))
            return p;
        old = blk_size(b) - SEG_HDR;
    } else {
        old = (size_t)large_hdr(p)->map_size - SEG_LARGE_HDR;
        if (n <= old && n > h->large_threshold && n >= old / 2)
            return p;                           /* keep a large block that still fits well */
    }
    void *q = seg_malloc(h, n);
    if (!q)
        return NULL;
    memcpy(q, p, old < n ? old : n);
    if (r)
        region_block_free(h, r, p);
    else
        large_free(h, p);
    return q;
}

/* ---- trim, stats ---- */

/* Gives back the whole pages inside every free block (the mapping stays;
 * they read as zero when touched again). The block's header and links at
 * its start and its footer at its end stay outside the range. */
static void free_pages_decommit(pm_heap_t *h)
{
    size_t page = pm_os_page_size();
    for (unsigned fl = 0; fl < SEG_FL_MAX; fl++) {
        if (!(h->fl_bitmap >> fl & 1))
            continue;
        for (unsigned sl = 0; sl < SEG_SL_MAX; sl++)
            for (struct seg_block *b = h->bins[fl][sl]; b; b = NEXT(b)) {
                uintptr_t lo = pm_round_up((uintptr_t)b + sizeof *b, page);
                uintptr_t hi = ((uintptr_t)b + SIZE(b) - 8) & ~(uintptr_t)(page - 1);
                if (hi > lo)
                    pm_os_decommit(h->acct, (void *)lo, hi - lo);
            }
    }
}

#if PM_ASSERT_LEVEL >= 3
static unsigned long seg_check(pm_heap_t *h, char msg[PM_ERR_LEN]);

/* For pm_assert_expensive: the whole-heap walk finds nothing. */
static bool heap_is_valid(pm_heap_t *h)
{
    char msg[PM_ERR_LEN];
    return seg_check(h, msg) == 0;
}
#endif

static void seg_trim(pm_heap_t *h)
{
    quick_flush(h);
    while (h->empty_tail)
        region_release(h, h->empty_tail);
    free_pages_decommit(h);
#if PM_ASSERT_LEVEL >= 3
    pm_assert_expensive(heap_is_valid(h));
#endif
}

static uint64_t heap_struct_bytes(void) { return pm_round_up(sizeof(struct pm_heap), pm_os_page_size()); }

static void seg_stats(pm_heap_t *h, struct pm_stats *out)
{
    *out = h->st;
    uint64_t small_live = h->st.live_blocks - h->st.large_blocks;
    out->mapped_bytes = h->acct->mapped;
    out->peak_mapped_bytes = h->acct->peak_mapped;
    out->used_bytes = h->busy_bytes - h->cached_bytes - SEG_HDR * small_live + h->large_usable;
    out->meta_bytes = heap_struct_bytes()
                    + pm_addrset_bytes(&h->regions) + pm_addrset_bytes(&h->larges)
                    + h->st.arenas * (h->region_hdr + 2 * SEG_HDR)
                    + SEG_HDR * small_live
                    + SEG_LARGE_HDR * h->st.large_blocks;
    out->pools = 0;                             /* no pools in this design */
}

void pm_segfit_info(pm_heap_t *h, struct pm_segfit_info *out)
{
    uint64_t largest = 0, cached = 0;
    if (h->fl_bitmap) {
        unsigned fl = floor_log2(h->fl_bitmap);
        for (struct seg_block *b = h->bins[fl][floor_log2(h->sl_bitmap[fl])]; b; b = NEXT(b))
            if (SIZE(b) > largest)
                largest = SIZE(b);
    }
    for (unsigned c = 0; c < SEG_QUICK_CLASSES; c++)
        cached += h->quick_count[c];
    *out = (struct pm_segfit_info){
        .free_blocks = h->free_blocks,
        .free_bytes = h->free_bytes,
        .largest_free = largest,
        .cached_blocks = cached,
        .cached_bytes = h->cached_bytes,
        .regions = h->st.arenas,
        .empty_regions = h->empty_bytes / h->region_size,
        .region_size = h->region_size,
        .large_threshold = h->large_threshold,
    };
}

/* ---- check ---- */

/* Totals found by walking the regions. */
struct seg_walk {
    uint64_t free_blocks, free_bytes;
    uint64_t cached_blocks, cached_bytes;
    uint64_t used_blocks, busy_bytes;
    uint64_t regions, empty;
};

static void chk_region(pm_heap_t *h, struct seg_region *r, struct pm_check_report *c, struct seg_walk *w)
{
    char *end = (char *)region_sentinel(h, r);
    struct seg_block *b = region_first(h, r);
    bool prev_free = false;
    uint64_t blocks = 0, busy = 0;
    while ((char *)b < end) {
        uint64_t hdr = HDR(b);
        size_t size = SIZE(b);
        const char *why = block_fault(h, r, b, prev_free);
        if (why) {
            pm_check_fail(c, "block %p (%s, %zu bytes) in region %p: %s", blk_payload(b),
                     hdr & SEG_BUSY ? "busy" : "free", size, (void *)r, why);
            if (!block_size_ok(h, r, b))
                return;         /* cannot walk on */
        }
        blocks++;
        if (!(hdr & SEG_BUSY)) {
            w->free_blocks++;
            w->free_bytes += size;
        } else {
            busy += size;
            if (side_code(r, blk_payload(b)) == SEG_SIDE_CACHED) {
                w->cached_blocks++;
                w->cached_bytes += size;
            } else
                w->used_blocks++;
        }
        prev_free = !(hdr & SEG_BUSY);
        b = blk_at(b, size);
    }
    if ((char *)b != end)
        pm_check_fail(c, "region %p: blocks end at %p, not at the sentinel %p", (void *)r, (void *)b, (void *)end);
    else if ((b->hdr & ~(uint64_t)SEG_PREV_FREE) != SEG_BUSY || !!(b->hdr & SEG_PREV_FREE) != prev_free)
        pm_check_fail(c, "region %p: sentinel header %#llx damaged", (void *)r, (unsigned long long)b->hdr);
    uint64_t marked = 0;        /* with the codes checked above: marks = starts */
    for (size_t i = 0; i < h->region_size / 32; i++)
        marked += r->side[i] != 0;
    if (marked != blocks)
        pm_check_fail(c, "region %p: %llu side map entries for %llu blocks", (void *)r,
                 (unsigned long long)marked, (unsigned long long)blocks);
    if (r->live != busy)
        pm_check_fail(c, "region %p: live %llu != busy bytes walked %llu", (void *)r,
                 (unsigned long long)r->live, (unsigned long long)busy);
    w->busy_bytes += busy;
}

/* Is b a block start inside one of our regions? (safe on any pointer) */
static bool chk_is_block(pm_heap_t *h, struct seg_block *b)
{
    uintptr_t a = (uintptr_t)b;
    struct seg_region *r = (struct seg_region *)(a & h->region_mask);
    if (a % SEG_ALIGN != SEG_HDR || !pm_addrset_has(&h->regions, (uintptr_t)r))
        return false;
    if (a < (uintptr_t)region_first(h, r) || a >= (uintptr_t)region_sentinel(h, r))
        return false;
    return side_code(r, blk_payload(b)) != 0;
}

static void chk_bins(pm_heap_t *h, struct pm_check_report *c, const struct seg_walk *w)
{
    uint64_t n = 0, bytes = 0;
    unsigned sl_count = 1u << h->sl_log;
    for (unsigned fl = 0; fl < SEG_FL_MAX; fl++) {
        if (!!(h->fl_bitmap >> fl & 1) != (h->sl_bitmap[fl] != 0))
            pm_check_fail(c, "fl bitmap bit %u disagrees with sl bitmap %#llx", fl,
                     (unsigned long long)h->sl_bitmap[fl]);
        if (sl_count < 64 && h->sl_bitmap[fl] >> sl_count)
            pm_check_fail(c, "sl bitmap %u has bits beyond %u subdivisions", fl, sl_count);
        for (unsigned sl = 0; sl < SEG_SL_MAX; sl++) {
            struct seg_block *b = h->bins[fl][sl], *prev = NULL;
            bool bit = h->sl_bitmap[fl] >> sl & 1;
            if (sl >= sl_count) {
                if (b)
                    pm_check_fail(c, "bin (%u,%u) beyond the %u subdivisions is not empty", fl, sl, sl_count);
                continue;
            }
            if (bit != (b != NULL))
                pm_check_fail(c, "bin (%u,%u): bitmap bit %d but list %s", fl, sl, bit, b ? "non-empty" : "empty");
            for (; b; prev = b, b = NEXT(b)) {
                if (n > w->free_blocks) {
                    pm_check_fail(c, "bins hold more entries than the %llu free blocks (cycle?)",
                             (unsigned long long)w->free_blocks);
                    return;
                }
                if (!chk_is_block(h, b)) {
                    pm_check_fail(c, "bin (%u,%u) entry %p is not a block of this heap", fl, sl, (void *)b);
                    return;
                }
                if (HDR(b) & SEG_BUSY)
                    pm_check_fail(c, "bin (%u,%u) entry %p is not free", fl, sl, blk_payload(b));
                unsigned f, s;
                mapping(SIZE(b), h->sl_log, &f, &s);
                if (f != fl || s != sl)
                    pm_check_fail(c, "free block %p of %zu bytes is in bin (%u,%u), belongs in (%u,%u)",
                             blk_payload(b), SIZE(b), fl, sl, f, s);
                if (PREV(b) != prev)
                    pm_check_fail(c, "bin (%u,%u) entry %p: back link broken", fl, sl, blk_payload(b));
                n++;
                bytes += SIZE(b);
            }
        }
    }
    if (n != w->free_blocks || bytes != w->free_bytes)
        pm_check_fail(c, "bins hold %llu blocks / %llu bytes, the walk found %llu free blocks / %llu bytes",
                 (unsigned long long)n, (unsigned long long)bytes,
                 (unsigned long long)w->free_blocks, (unsigned long long)w->free_bytes);
    if (n != h->free_blocks || bytes != h->free_bytes)
        pm_check_fail(c, "free counters %llu blocks / %llu bytes, bins hold %llu / %llu",
                 (unsigned long long)h->free_blocks, (unsigned long long)h->free_bytes,
                 (unsigned long long)n, (unsigned long long)bytes);
}

static void chk_quick(pm_heap_t *h, struct pm_check_report *c, const struct seg_walk *w)
{
    uint64_t n = 0, bytes = 0;
    for (unsigned k = 0; k < SEG_QUICK_CLASSES; k++) {
        uint64_t in_list = 0;
        if (h->quick_count[k] > h->quick_cap)
            pm_check_fail(c, "quick list %u holds %u blocks, cap %u", k, h->quick_count[k], h->quick_cap);
        for (struct seg_block *b = h->quick[k]; b; b = NEXT(b)) {
            if (in_list > h->quick_count[k] || in_list > h->quick_cap) {
                pm_check_fail(c, "quick list %u longer than its count %u (cycle?)", k, h->quick_count[k]);
                return;
            }
            if (!chk_is_block(h, b)) {
                pm_check_fail(c, "quick list %u entry %p is not a block of this heap", k, (void *)b);
                return;
            }
            if (!(HDR(b) & SEG_BUSY) || side_code(region_of_block(h, b), blk_payload(b)) != SEG_SIDE_CACHED)
                pm_check_fail(c, "quick list %u entry %p is not marked cached", k, blk_payload(b));
            if (SIZE(b) != (size_t)k << 4)
                pm_check_fail(c, "quick list %u entry %p has size %zu", k, blk_payload(b), SIZE(b));
            in_list++;
            bytes += SIZE(b);
        }
        if (in_list != h->quick_count[k])
            pm_check_fail(c, "quick list %u holds %llu blocks, count says %u", k,
                     (unsigned long long)in_list, h->quick_count[k]);
        n += in_list;
    }
    if (n != w->cached_blocks || bytes != w->cached_bytes || bytes != h->cached_bytes)
        pm_check_fail(c, "quick lists hold %llu blocks / %llu bytes, walk found %llu / %llu, counter %llu",
                 (unsigned long long)n, (unsigned long long)bytes, (unsigned long long)w->cached_blocks,
                 (unsigned long long)w->cached_bytes, (unsigned long long)h->cached_bytes);
}

static unsigned long seg_check(pm_heap_t *h, char msg[PM_ERR_LEN])
{
    struct pm_check_report c = {.msg = msg, .who = "segfit"};
    struct seg_walk w = {0};
    msg[0] = 0;
    /* regions: the list, the set and the empty list agree */
    uint64_t max_regions = h->regions.count, nonlive = 0;
    for (struct seg_region *r = h->region_list, *prev = NULL; r; prev = r, r = r->next) {
        if (w.regions >= max_regions) {
            pm_check_fail(&c, "region list longer than the region set (%llu)", (unsigned long long)max_regions);
            break;
        }
        if ((uintptr_t)r & ~h->region_mask || !pm_addrset_has(&h->regions, (uintptr_t)r)) {
            pm_check_fail(&c, "region %p is not aligned or not in the region set", (void *)r);
            break;
        }
        if (r->prev != prev)
            pm_check_fail(&c, "region %p: back link broken", (void *)r);
        w.regions++;
        nonlive += r->live == 0;
        chk_region(h, r, &c, &w);
    }
    if (w.regions != h->regions.count || w.regions != h->st.arenas)
        pm_check_fail(&c, "%llu regions listed, %zu in the set, stats say %llu", (unsigned long long)w.regions,
                 h->regions.count, (unsigned long long)h->st.arenas);
    for (struct seg_region *r = h->empty_tail; r; r = r->eprev) {
        if (w.empty++ > w.regions) {
            pm_check_fail(&c, "empty list longer than the region list (cycle?)");
            break;
        }
        if (r->live != 0)
            pm_check_fail(&c, "region %p on the empty list has %llu live bytes", (void *)r, (unsigned long long)r->live);
    }
    if (nonlive != w.empty || w.empty * h->region_size != h->empty_bytes)
        pm_check_fail(&c, "%llu regions without live bytes, %llu on the empty list, empty_bytes %llu",
                 (unsigned long long)nonlive, (unsigned long long)w.empty, (unsigned long long)h->empty_bytes);
    if (h->empty_bytes > h->release_keep)
        pm_check_fail(&c, "empty regions hold %llu bytes, above release=%zu", (unsigned long long)h->empty_bytes,
                 h->release_keep);
    if (c.bad)
        return c.bad;          /* the lists below may point into bad regions */
    chk_bins(h, &c, &w);
    chk_quick(h, &c, &w);
    /* large blocks */
    uint64_t nlarge = 0, lmapped = 0, lusable = 0;
    size_t page = pm_os_page_size();
    for (size_t i = 0; i < pm_addrset_cap(&h->larges); i++) {
        uintptr_t p = h->larges.slot[i];
        if (!p)
            continue;
        nlarge++;
        struct seg_large *l = large_hdr((void *)p);
        if (((uintptr_t)l & (page - 1)) || l->magic != SEG_LARGE_MAGIC || l->map_size % page ||
            l->map_size <= h->large_threshold) {
            pm_check_fail(&c, "large block %p: header damaged", (void *)p);
            continue;
        }
        lmapped += l->map_size;
        lusable += l->map_size - SEG_LARGE_HDR;
    }
    if (nlarge != h->larges.count || nlarge != h->st.large_blocks || lmapped != h->large_mapped ||
        lusable != h->large_usable)
        pm_check_fail(&c, "large blocks: %llu in the set (count %zu, stats %llu), %llu bytes mapped (counter %llu)",
                 (unsigned long long)nlarge, h->larges.count, (unsigned long long)h->st.large_blocks,
                 (unsigned long long)lmapped, (unsigned long long)h->large_mapped);
    /* totals */
    if (w.busy_bytes != h->busy_bytes)
        pm_check_fail(&c, "busy bytes: walk %llu, counter %llu", (unsigned long long)w.busy_bytes,
                 (unsigned long long)h->busy_bytes);
    if (w.used_blocks + nlarge != h->st.live_blocks)
        pm_check_fail(&c, "live blocks: walk %llu small + %llu large, stats %llu", (unsigned long long)w.used_blocks,
                 (unsigned long long)nlarge, (unsigned long long)h->st.live_blocks);
    uint64_t mapped = heap_struct_bytes() + pm_addrset_bytes(&h->regions) + pm_addrset_bytes(&h->larges)
                    + w.regions * h->region_size + lmapped;
    if (h->acct == &h->os && mapped != h->acct->mapped)   /* a shared account holds others' too */
        pm_check_fail(&c, "OS layer maps %llu bytes, regions + large + tables + heap = %llu",
                 (unsigned long long)h->acct->mapped, (unsigned long long)mapped);
    if (w.regions * (h->max_block) != w.free_bytes + w.busy_bytes)
        pm_check_fail(&c, "blocks do not tile the regions: %llu free + %llu busy != %llu",
                 (unsigned long long)w.free_bytes, (unsigned long long)w.busy_bytes,
                 (unsigned long long)(w.regions * h->max_block));
    struct pm_stats st;
    seg_stats(h, &st);
    if (st.used_bytes != w.busy_bytes - w.cached_bytes - SEG_HDR * w.used_blocks + lusable)
        pm_check_fail(&c, "used_bytes %llu disagrees with the walk", (unsigned long long)st.used_bytes);
    if (st.nmalloc - st.nfree != st.live_blocks)
        pm_check_fail(&c, "nmalloc %llu - nfree %llu != live blocks %llu", (unsigned long long)st.nmalloc,
                 (unsigned long long)st.nfree, (unsigned long long)st.live_blocks);
    return c.bad;
}

/* ---- create / destroy ---- */

static bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

static size_t region_hdr_for(size_t region)
{
    return pm_round_up(sizeof(struct seg_region) + region / 32, SEG_ALIGN);
}

/* Unmaps the heap struct itself, through a copy of its own account when
 * that account lives inside the struct. */
static void seg_unmap_self(pm_heap_t *h)
{
    if (h->acct == &h->os) {
        struct pm_os os = h->os;
        pm_os_unmap(&os, h, sizeof *h);
    } else {
        pm_os_unmap(h->acct, h, sizeof *h);
    }
}

static pm_heap_t *seg_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    uint64_t region = 1u << 20, large = 256u << 10, release = 4u << 20, sl = 32, quick = 64;
    bool large_set = false;
    struct pm_opt_iter it = {cfg->options};
    const char *k, *v;
    size_t kl, vl;
    int rc;
    while ((rc = pm_opt_next(&it, &k, &kl, &v, &vl, err)) > 0) {
        if (pm_opt_key_is(k, kl, "region")) {
            if (!pm_parse_size(v, vl, &region) || !is_pow2(region) || region < SEG_REGION_MIN ||
                region > SEG_REGION_MAX) {
                snprintf(err, PM_ERR_LEN, "segfit: bad region size '%.*s' (a power of two, 64K..1G)",
                         (int)vl, v);
                return NULL;
            }
        } else if (pm_opt_key_is(k, kl, "large")) {
            if (!pm_parse_size(v, vl, &large) || large == 0) {
                snprintf(err, PM_ERR_LEN, "segfit: bad large threshold '%.*s' (a size > 0)", (int)vl, v);
                return NULL;
            }
            large_set = true;
        } else if (pm_opt_key_is(k, kl, "release")) {
            if (!pm_parse_size(v, vl, &release) || release > ((uint64_t)1 << 40)) {
                snprintf(err, PM_ERR_LEN, "segfit: bad release amount '%.*s' (a size, 0 = unmap at once)",
                         (int)vl, v);
                return NULL;
            }
        } else if (pm_opt_key_is(k, kl, "sl")) {
            if (!pm_parse_size(v, vl, &sl) || !is_pow2(sl) || sl > SEG_SL_MAX) {
                snprintf(err, PM_ERR_LEN, "segfit: bad sl '%.*s' (subdivisions: a power of two, 1..64)",
                         (int)vl, v);
                return NULL;
            }
        } else if (pm_opt_key_is(k, kl, "quick")) {
            if (!pm_parse_size(v, vl, &quick) || quick > 4096) {
                snprintf(err, PM_ERR_LEN, "segfit: bad quick '%.*s' (cached blocks per size, 0..4096)",
                         (int)vl, v);
                return NULL;
            }
        } else {
            snprintf(err, PM_ERR_LEN, "segfit: unknown option '%.*s' (known: region, large, release, sl, quick)",
                     (int)kl, k);
            return NULL;
        }
    }
    if (rc < 0) {
        char why[PM_ERR_LEN - 16];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, PM_ERR_LEN, "segfit: %s", why);
        return NULL;
    }
    size_t hdr = region_hdr_for(region);
    size_t max_block = region - hdr - 2 * SEG_HDR;
    size_t max_large = max_block - SEG_HDR;     /* the request an empty region serves */
    if (!large_set && large > region / 4)
        large = region / 4;
    if (large > max_large) {
        snprintf(err, PM_ERR_LEN, "segfit: large threshold %llu does not fit in a region of %llu "
                 "bytes (at most %zu)", (unsigned long long)large, (unsigned long long)region, max_large);
        return NULL;
    }

    struct pm_os os;
    struct pm_os *acct = cfg->account;
    if (!acct) {
        pm_os_init(&os, &cfg->faults);
        acct = &os;
    }
    pm_heap_t *h = pm_os_map(acct, sizeof *h);
    if (!h) {
        snprintf(err, PM_ERR_LEN, "segfit: out of memory");
        return NULL;
    }
    if (acct == &os) {
        h->os = os;
        h->acct = &h->os;
    } else {
        h->acct = acct;
    }
    size_t set_cap = pm_os_page_size() / sizeof(uintptr_t);   /* one page each */
    if (!pm_addrset_init(&h->regions, h->acct, set_cap, 1, floor_log2(region), true)) {
        seg_unmap_self(h);
        snprintf(err, PM_ERR_LEN, "segfit: out of memory");
        return NULL;
    }
    if (!pm_addrset_init(&h->larges, h->acct, set_cap, 1, floor_log2(pm_os_page_size()), true)) {
        pm_addrset_fini(&h->regions, h->acct);
        seg_unmap_self(h);
        snprintf(err, PM_ERR_LEN, "segfit: out of memory");
        return NULL;
    }
    h->cfg = *cfg;
    h->cfg.options = NULL;      /* the caller's string may not outlive create */
    h->region_size = region;
    h->region_mask = ~(uintptr_t)(region - 1);
    h->region_hdr = hdr;
    h->max_block = max_block;
    h->large_threshold = large;
    h->release_keep = release;
    h->sl_log = floor_log2(sl);
    h->fl_shift = h->sl_log + 4;
    h->quick_cap = (uint32_t)quick;
    h->quick_max_req = large < SEG_QUICK_MAX_REQ ? large : SEG_QUICK_MAX_REQ;
    h->quick_max_block = pm_segfit_block_size(h->quick_max_req);
    pm_assert(floor_log2(max_block) - h->fl_shift + 1 < SEG_FL_MAX);
    return h;
}

static void seg_destroy(pm_heap_t *h)
{
    for (struct seg_region *r = h->region_list, *next; r; r = next) {
        next = r->next;
        PM_UNPOISON(r, h->region_size);
        pm_os_unmap(h->acct, r, h->region_size);
    }
    for (size_t i = 0; i < pm_addrset_cap(&h->larges); i++)
        if (h->larges.slot[i]) {
            struct seg_large *l = large_hdr((void *)h->larges.slot[i]);
            pm_os_unmap(h->acct, l, (size_t)l->map_size);
        }
    pm_addrset_fini(&h->regions, h->acct);
    pm_addrset_fini(&h->larges, h->acct);
    seg_unmap_self(h);
}

static struct pm_os *seg_os(pm_heap_t *h) { return h->acct; }

const struct allocator_ops pm_segfit_ops = {
    .name = "segfit",
    .description = "segregated fit: TLSF-style two-level bins, boundary tags, coalescing, quick lists",
    .flags = 0,
    .create = seg_create,
    .destroy = seg_destroy,
    .malloc = seg_malloc,
    .calloc = seg_calloc,
    .realloc = seg_realloc,
    .free = seg_free,
    .usable_size = seg_usable,
    .stats = seg_stats,
    .check = seg_check,
    .trim = seg_trim,
    .os = seg_os,
};
