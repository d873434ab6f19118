/* allocators/segfit.c — the `segfit` backend: size-segregated free lists
 * over large aligned regions, with a two-level bitmap index in the spirit of
 * TLSF (Masmano et al.), boundary tags and immediate coalescing, plus
 * bounded exact-size quick lists for small blocks.
 *
 * Entry points: pm_segfit_ops (allocator.h), pm_segfit_block_size,
 * pm_segfit_mapping, pm_segfit_info (segfit.h). This file holds the hot
 * paths; stats(), pm_segfit_info() and check() are in segfit_check.c, over
 * segfit_internal.h (layout, helpers, the block predicates).
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
 *  header (mapping size, magic), kept in a hash set keyed by address: the
 *  shared large-block path, pm_large.h (its header level).
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
#include "segfit_internal.h"

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

size_t pm_segfit_block_size(size_t n)
{
    return n <= SEG_MIN_BLOCK - SEG_HDR ? SEG_MIN_BLOCK : (n + SEG_HDR + 15) & ~(size_t)15;
}

void pm_segfit_mapping(size_t block_size, unsigned sl_count, unsigned *fl, unsigned *sl)
{
    mapping(block_size, floor_log2(sl_count), fl, sl);
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



/* Maps a region; returns its one free block, not in any bin. NULL on OOM. */
static struct seg_block *region_new(pm_heap_t *h)
{
    bool zeroed;
    struct seg_region *r = pm_os_map_any(h->acct, h->region_size, h->region_size, &zeroed);
    if (!r)
        return NULL;
    if (!zeroed)   /* recycled: only the header and side map must start cleared */
        memset(r, 0, h->region_hdr);
    if (!set_add(h->acct, &h->regions, (uintptr_t)r)) {
        pm_os_unmap(h->acct, r, h->region_size);
        errno = ENOMEM;
        return NULL;
    }
    /* links and side map start cleared */
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
        if (pm_large_find(&h->large, p))
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

/* A mapping each (pm_large.h); the set was mapped at create. */
static void *large_malloc(pm_heap_t *h, size_t n, bool zero)
{
    void *p = pm_large_alloc(&h->large, h->acct, n, zero, 0);
    if (p) {
        h->st.large_blocks++;
        h->st.live_blocks++;
        h->st.nmalloc++;
    }
    return p;
}

static void large_free(pm_heap_t *h, void *p)
{
    pm_large_free_entry(&h->large, h->acct, pm_large_find(&h->large, p));
    h->st.large_blocks--;
    h->st.live_blocks--;
    h->st.nfree++;
}

/* ---- malloc / free ---- */

__attribute__((noinline)) static void *seg_malloc_slow(pm_heap_t *h, size_t n)
{
    if (n > h->large_threshold)
        return large_malloc(h, n, false);
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
    if (total > h->large_threshold)
        return large_malloc(h, total, true);
    void *p = seg_malloc(h, total);
    if (p)
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
    if (pm_large_find(&h->large, p))
        return pm_large_usable(p);
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
        old = pm_large_usable(p);
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
    pm_large_init(&h->large, 0, 0);
    if (!pm_addrset_init(&h->large.set, h->acct, set_cap, 1, floor_log2(pm_os_page_size()), true)) {
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
    pm_large_fini(&h->large, h->acct);
    pm_addrset_fini(&h->regions, h->acct);
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
