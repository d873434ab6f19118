/* workloads/trace/slotmap.c — pointer -> dense slot map for trace writers that see
 * pointers (the recorder, the object layer). A freed slot is reused before a
 * new one is handed out (LIFO), so slot numbers stay below the peak number of
 * live blocks plus one.
 *
 * Memory comes from mmap only, through the OS layer (no malloc), so a malloc
 * interposer can use the map from inside malloc. The table is a pm_addrset
 * (allocators/pm_addrset.h) of two-word entries: pointer, slot.
 * Invariants: map.count + free_top == next_slot <= free_cap (so take never
 * needs memory and never fails for a mapped pointer).
 *
 * Entry points: pm_slotmap_init, pm_slotmap_destroy, pm_slotmap_put,
 * pm_slotmap_take, pm_slotmap_get (declared in trace.h).
 */
#include "trace.h"
#include "pm_assert.h"

/* Fibonacci hashing of whole addresses: the top bits of the product. (Bits
 * 32 and up, masked, clustered badly on CPython's pymalloc addresses: 73
 * probes per lookup on a recorded json run, against 0.3 with the top bits.) */
enum { SLOTMAP_CAP0 = 1024 };

int pm_slotmap_init(struct pm_slotmap *m)
{
    memset(m, 0, sizeof *m);
    pm_os_init(&m->os, NULL);
    if (!pm_addrset_init(&m->map, &m->os, SLOTMAP_CAP0, 2, 0, true))
        return -1;
    m->free_cap = SLOTMAP_CAP0;
    m->free_slots = pm_os_map(&m->os, m->free_cap * sizeof *m->free_slots);
    if (!m->free_slots) {
        pm_slotmap_destroy(m);
        return -1;
    }
    return 0;
}

void pm_slotmap_destroy(struct pm_slotmap *m)
{
    pm_addrset_fini(&m->map, &m->os);
    if (m->free_slots)
        pm_os_unmap(&m->os, m->free_slots, m->free_cap * sizeof *m->free_slots);
    memset(m, 0, sizeof *m);
}

int64_t pm_slotmap_get(const struct pm_slotmap *m, const void *ptr)
{
    const uintptr_t *e = pm_addrset_find(&m->map, (uintptr_t)ptr);
    return e ? (int64_t)e[1] : -1;
}

/* free_cap >= next_slot >= free_top always, so take never needs memory. */
static int grow_free(struct pm_slotmap *m)
{
    size_t n = m->free_cap * 2;
    uint32_t *f = pm_os_map(&m->os, n * sizeof *f);
    if (!f)
        return -1;
    memcpy(f, m->free_slots, m->free_top * sizeof *f);
    pm_os_unmap(&m->os, m->free_slots, m->free_cap * sizeof *m->free_slots);
    m->free_slots = f;
    m->free_cap = n;
    return 0;
}

int64_t pm_slotmap_put(struct pm_slotmap *m, const void *ptr)
{
    uintptr_t k = (uintptr_t)ptr;
    if (!k || pm_addrset_has(&m->map, k))
        return -2;
    if (!pm_addrset_reserve(&m->map, &m->os))
        return -1;
    uint32_t slot;
    if (m->free_top) {
        slot = m->free_slots[--m->free_top];
    } else {
        if (m->next_slot >= PM_TRACE_MAX_SLOTS)
            return -1;
        if (m->next_slot == m->free_cap && grow_free(m))
            return -1;
        slot = (uint32_t)m->next_slot++;
    }
    pm_addrset_insert(&m->map, k)[1] = slot;
    pm_assert_internal(m->map.count + m->free_top == m->next_slot);
    return slot;
}

int64_t pm_slotmap_take(struct pm_slotmap *m, const void *ptr)
{
    uintptr_t *e = pm_addrset_find(&m->map, (uintptr_t)ptr);
    if (!e)
        return -1;
    uint32_t slot = (uint32_t)e[1];
    pm_addrset_remove_entry(&m->map, e);
    m->free_slots[m->free_top++] = slot;
    pm_assert_internal(m->map.count + m->free_top == m->next_slot);
    return slot;
}
