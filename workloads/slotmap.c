/* workloads/slotmap.c — pointer -> dense slot map for trace writers that see
 * pointers (the recorder, the object layer). A freed slot is reused before a
 * new one is handed out (LIFO), so slot numbers stay below the peak number of
 * live blocks plus one.
 *
 * Memory comes from mmap only (no malloc), so a malloc interposer can use the
 * map from inside malloc. Open addressing, linear probing, backward-shift
 * deletion (no tombstones), load factor <= 1/2.
 * Invariants: live + free_top == next_slot <= free_cap (so take never needs
 * memory and never fails for a mapped pointer).
 *
 * Entry points: pm_slotmap_init, pm_slotmap_destroy, pm_slotmap_put,
 * pm_slotmap_take, pm_slotmap_get (declared in trace.h).
 */
#include "trace.h"
#include "pm_assert.h"

#include <sys/mman.h>

static void *map_bytes(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void unmap_bytes(void *p, size_t n)
{
    if (p)
        munmap(p, n);
}

/* Fibonacci hashing: the top bits of the product. (Bits 32 and up, masked,
 * clustered badly on CPython's pymalloc addresses: 73 probes per lookup on
 * a recorded json run, against 0.3 with the top bits.) */
static size_t hash_ptr(uintptr_t k, size_t cap)
{
    uint64_t h = (uint64_t)k * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> (64 - __builtin_ctzll((unsigned long long)cap)));
}

static int table_alloc(struct pm_slotmap *m, size_t cap)
{
    uintptr_t *k = map_bytes(cap * sizeof *k);
    uint32_t *v = map_bytes(cap * sizeof *v);
    if (!k || !v) {
        unmap_bytes(k, cap * sizeof *k);
        unmap_bytes(v, cap * sizeof *v);
        return -1;
    }
    m->keys = k;   /* mmap'd memory is zero: every entry empty */
    m->vals = v;
    m->cap = cap;
    return 0;
}

int pm_slotmap_init(struct pm_slotmap *m)
{
    memset(m, 0, sizeof *m);
    if (table_alloc(m, 1024))
        return -1;
    m->free_cap = 1024;
    m->free_slots = map_bytes(m->free_cap * sizeof *m->free_slots);
    if (!m->free_slots) {
        pm_slotmap_destroy(m);
        return -1;
    }
    return 0;
}

void pm_slotmap_destroy(struct pm_slotmap *m)
{
    unmap_bytes(m->keys, m->cap * sizeof *m->keys);
    unmap_bytes(m->vals, m->cap * sizeof *m->vals);
    unmap_bytes(m->free_slots, m->free_cap * sizeof *m->free_slots);
    memset(m, 0, sizeof *m);
}

static void insert(struct pm_slotmap *m, uintptr_t k, uint32_t slot)
{
    size_t i = hash_ptr(k, m->cap);
    while (m->keys[i])
        i = (i + 1) & (m->cap - 1);
    m->keys[i] = k;
    m->vals[i] = slot;
}

static int grow(struct pm_slotmap *m)
{
    struct pm_slotmap old = *m;
    if (table_alloc(m, old.cap * 2)) {
        *m = old;
        return -1;
    }
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            insert(m, old.keys[i], old.vals[i]);
    unmap_bytes(old.keys, old.cap * sizeof *old.keys);
    unmap_bytes(old.vals, old.cap * sizeof *old.vals);
    return 0;
}

static size_t find(const struct pm_slotmap *m, uintptr_t k)
{
    size_t i = hash_ptr(k, m->cap);
    while (m->keys[i] && m->keys[i] != k)
        i = (i + 1) & (m->cap - 1);
    return i;
}

int64_t pm_slotmap_get(const struct pm_slotmap *m, const void *ptr)
{
    uintptr_t k = (uintptr_t)ptr;
    if (!k)
        return -1;
    size_t i = find(m, k);
    return m->keys[i] ? (int64_t)m->vals[i] : -1;
}

/* free_cap >= next_slot >= free_top always, so take never needs memory. */
static int grow_free(struct pm_slotmap *m)
{
    size_t n = m->free_cap * 2;
    uint32_t *f = map_bytes(n * sizeof *f);
    if (!f)
        return -1;
    memcpy(f, m->free_slots, m->free_top * sizeof *f);
    unmap_bytes(m->free_slots, m->free_cap * sizeof *m->free_slots);
    m->free_slots = f;
    m->free_cap = n;
    return 0;
}

int64_t pm_slotmap_put(struct pm_slotmap *m, const void *ptr)
{
    uintptr_t k = (uintptr_t)ptr;
    if (!k || m->keys[find(m, k)])
        return -2;
    if ((m->live + 1) * 2 > m->cap && grow(m))
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
    insert(m, k, slot);
    m->live++;
    pm_assert_internal(m->live + m->free_top == m->next_slot);
    return slot;
}

int64_t pm_slotmap_take(struct pm_slotmap *m, const void *ptr)
{
    uintptr_t k = (uintptr_t)ptr;
    if (!k)
        return -1;
    size_t i = find(m, k);
    if (!m->keys[i])
        return -1;
    uint32_t slot = m->vals[i];
    /* backward-shift deletion keeps every probe chain unbroken */
    size_t j = i;
    for (;;) {
        j = (j + 1) & (m->cap - 1);
        if (!m->keys[j])
            break;
        size_t h = hash_ptr(m->keys[j], m->cap);
        /* move keys[j] into the hole at i unless its home lies in (i, j] */
        bool home_between = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (!home_between) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->free_slots[m->free_top++] = slot;
    m->live--;
    pm_assert_internal(m->live + m->free_top == m->next_slot);
    return slot;
}
