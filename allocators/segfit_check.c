/* allocators/segfit_check.c — the segfit backend's walks and checks, off
 * the hot-path file (segfit.c): stats(), pm_segfit_info() and check(), which
 * walks every region with the block predicates of segfit_internal.h.
 */
#include "segfit_internal.h"

#include <stdio.h>
#include <string.h>

void seg_stats(pm_heap_t *h, struct pm_stats *out)
{
    *out = h->st;
    uint64_t small_live = h->st.live_blocks - h->st.large_blocks;
    out->mapped_bytes = h->acct->mapped;
    out->peak_mapped_bytes = h->acct->peak_mapped;
    out->used_bytes = h->busy_bytes - h->cached_bytes - SEG_HDR * small_live + h->large.usable;
    out->meta_bytes = heap_struct_bytes()
                    + pm_addrset_bytes(&h->regions) + pm_addrset_bytes(&h->large.set)
                    + h->st.arenas * (h->region_hdr + 2 * SEG_HDR)
                    + SEG_HDR * small_live
                    + PM_LARGE_HDR * h->st.large_blocks;
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

/* Bytes of p[0..n) that are not zero. The side map is mostly zeros: 64
 * bytes at a time are skipped when they all are (a byte loop over it was
 * the most of check()'s time in fuzz_alloc). */
static uint64_t count_nonzero(const uint8_t *p, size_t n)
{
    uint64_t k = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint64_t w[8], any = 0;
        memcpy(w, p + i, sizeof w);
        for (unsigned j = 0; j < 8; j++)
            any |= w[j];
        if (!any)
            continue;
        for (unsigned j = 0; j < 64; j++)
            k += p[i + j] != 0;
    }
    for (; i < n; i++)
        k += p[i] != 0;
    return k;
}

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
    uint64_t marked = count_nonzero(r->side, h->region_size / 32);   /* with the codes
                                                                        checked above: marks = starts */
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
        if (!h->sl_bitmap[fl]) {   /* the common case, 64 empty bins: all NULL is all there is to see */
            uintptr_t any = 0;
            for (unsigned sl = 0; sl < SEG_SL_MAX; sl++)
                any |= (uintptr_t)h->bins[fl][sl];
            if (!any)
                continue;
        }
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

unsigned long seg_check(pm_heap_t *h, char msg[PM_ERR_LEN])
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
    char why[PM_ERR_LEN];
    if (!pm_large_valid(&h->large, why, sizeof why))
        pm_check_fail(&c, "%s", why);
    for (size_t i = 0; i < pm_addrset_cap(&h->large.set); i++) {
        uintptr_t p = h->large.set.slot[i];
        if (p && pm_large_hdr_ok((void *)p) && pm_large_usable((void *)p) <= h->large_threshold)
            pm_check_fail(&c, "large block %p of %zu usable bytes is not above the threshold %zu", (void *)p,
                          pm_large_usable((void *)p), h->large_threshold);
    }
    uint64_t nlarge = h->large.count, lmapped = h->large.mapped, lusable = h->large.usable;
    if (nlarge != h->st.large_blocks)
        pm_check_fail(&c, "large blocks: %llu live, stats %llu", (unsigned long long)nlarge,
                      (unsigned long long)h->st.large_blocks);
    /* totals */
    if (w.busy_bytes != h->busy_bytes)
        pm_check_fail(&c, "busy bytes: walk %llu, counter %llu", (unsigned long long)w.busy_bytes,
                 (unsigned long long)h->busy_bytes);
    if (w.used_blocks + nlarge != h->st.live_blocks)
        pm_check_fail(&c, "live blocks: walk %llu small + %llu large, stats %llu", (unsigned long long)w.used_blocks,
                 (unsigned long long)nlarge, (unsigned long long)h->st.live_blocks);
    uint64_t mapped = heap_struct_bytes() + pm_addrset_bytes(&h->regions) + pm_addrset_bytes(&h->large.set)
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
