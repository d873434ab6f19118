/* allocators/debug_check.c — the debug wrapper's stats() and check()
 * (the inner's check, the live set, the pads and id of every live block),
 * off the file of its allocation paths (debug.c).
 */
#include "debug_internal.h"

#include <stdio.h>

void debug_stats(pm_heap_t *h, struct pm_stats *out)
{
    struct pm_stats in;
    h->in_ops->stats(h->in, &in);
    uint64_t overhead = (uint64_t)DBG_EXTRA * h->live.count;
    *out = in;
    if (in.mapped_bytes != PM_STAT_NA)
        out->mapped_bytes = in.mapped_bytes + h->os.mapped;
    if (in.peak_mapped_bytes != PM_STAT_NA)
        out->peak_mapped_bytes = in.peak_mapped_bytes + h->os.peak_mapped;
    if (in.meta_bytes != PM_STAT_NA) {
        out->meta_bytes = in.meta_bytes + overhead + h->os.mapped;
        if (in.used_bytes != PM_STAT_NA)
            out->used_bytes = in.used_bytes - overhead;
    }
    out->live_blocks = h->live.count;
    out->nmalloc = h->nmalloc;
    out->nfree = h->nfree;
    out->misuse = (in.misuse != PM_STAT_NA ? in.misuse : 0) + h->misuse;
}

/* One line naming the first damaged byte of a live block, for check(). */
static void check_describe(const pm_heap_t *h, const unsigned char *p, enum dbg_fault f,
                           char msg[PM_ERR_LEN])
{
    char idt[8];
    size_t n = size_read(p - DBG_HEAD);
    int w = snprintf(msg, PM_ERR_LEN, "%s: live block p=%p (%zu bytes, API %s): ", h->name,
                     (const void *)p, n, api_text(p[-(ptrdiff_t)DBG_S], idt));
    if (w < 0 || w >= PM_ERR_LEN)
        return;
    char *m = msg + w;
    size_t left = PM_ERR_LEN - (size_t)w;
    switch (f) {
    case DBG_BAD_LEAD:
        for (size_t i = DBG_S - 1; i >= 1; i--)
            if (p[-(ptrdiff_t)i] != DBG_FORBIDDEN) {
                snprintf(m, left, "bad leading pad byte (at p-%zu: 0x%02x)", i, p[-(ptrdiff_t)i]);
                break;
            }
        break;
    case DBG_BAD_ID:
        snprintf(m, left, "bad ID (not 'r', 'm' or 'o')");
        break;
    case DBG_BAD_SIZE:
        snprintf(m, left, "bad size field (does not fit the inner block of %zu bytes)",
                 h->in_ops->usable_size(h->in, (void *)(p - DBG_HEAD)));
        break;
    case DBG_BAD_TAIL:
    case DBG_OK:
        for (size_t i = 0; i < DBG_S; i++)
            if (p[n + i] != DBG_FORBIDDEN) {
                snprintf(m, left, "bad trailing pad byte (at tail+%zu: 0x%02x)", i, p[n + i]);
                break;
            }
        break;
    }
}

/* The inner's check, then the live set's own invariants and the pads and id
 * of every live block: O(cap + sum of pads). Reports, never aborts. */
unsigned long debug_check(pm_heap_t *h, char msg[PM_ERR_LEN])
{
    struct pm_check_report r = {.msg = msg, .who = h->name};
    msg[0] = 0;
    if (h->in_ops->check)
        r.bad = h->in_ops->check(h->in, msg);
    const struct pm_addrset *s = &h->live;
    if (pm_addrset_cap(s) < DBG_SET_MIN || !pm_addrset_valid(s))
        pm_check_fail(&r, "live set broken (cap %zu, count %zu; an entry unreachable from its"
                      " home slot, or a wrong count)", pm_addrset_cap(s), s->count);
    for (size_t i = 0; i < pm_addrset_cap(s); i++) {
        uintptr_t key = s->slot[i];
        if (!key)
            continue;
        if (key % PM_ALIGNMENT) {
            pm_check_fail(&r, "live set holds misaligned pointer %p", (void *)key);
            continue;
        }
        const unsigned char *p = (const unsigned char *)key;
        enum dbg_fault f = block_verify(h, p, 0, true);
        if (f != DBG_OK) {
            if (!r.bad++)
                check_describe(h, p, f, msg);
        }
    }
    if (h->nmalloc - h->nfree != s->count)
        pm_check_fail(&r, "%llu mallocs - %llu frees != %zu live blocks",
                      (unsigned long long)h->nmalloc, (unsigned long long)h->nfree, s->count);
    if (h->inner_dups)
        pm_check_fail(&r, "the inner backend handed out a live block again (%llu times)",
                      (unsigned long long)h->inner_dups);
    return r.bad;
}
