/* allocators/buddy_check.c — the buddy backend's walks and checks, off the
 * hot-path file (buddy.c): stats(), check(), which tiles every region with
 * the block predicates of buddy_internal.h, and the introspection of buddy.h.
 */
#include "buddy_internal.h"

#include <stdio.h>
#include <string.h>

struct buddy_totals {
    uint64_t used;              /* bytes in blocks handed out, large included */
    uint64_t nmalloc, nfree;    /* live blocks = nmalloc - nfree */
};

static struct buddy_totals heap_totals(const pm_heap_t *h)
{
    struct buddy_totals t = {h->large.mapped, h->large.nmalloc - h->inplace,
                             h->large.nfree - h->inplace};
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

void buddy_stats(pm_heap_t *h, struct pm_stats *out)
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
        .large_blocks = h->large.count,
        .misuse = h->misuse,
    };
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

unsigned long buddy_check(pm_heap_t *h, char msg[PM_ERR_LEN])
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
    if (c.regions != h->regions || c.large != h->large.count || c.large_bytes != h->large.mapped)
        pm_check_fail(&c.r, "%llu regions and %llu large blocks (%llu bytes) found, "
                      "stats say %llu, %llu (%llu)",
                  (unsigned long long)c.regions, (unsigned long long)c.large,
                  (unsigned long long)c.large_bytes, (unsigned long long)h->regions,
                  (unsigned long long)h->large.count, (unsigned long long)h->large.mapped);
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
