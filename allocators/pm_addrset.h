/* allocators/pm_addrset.h — the one open-addressing set of addresses, used
 * by segfit (regions, large blocks), buddy (its ownership table), debug (the
 * live set) and the trace slot map. Header-only: the lookups inline into the
 * fast paths that make them.
 *
 * Keys are nonzero addresses (0 marks an empty slot; a table fresh from the
 * OS layer is all zero). An entry is `width` words: the key, then with width
 * 2 one value word the caller owns (buddy keeps the region's state pointer
 * or a large block's size next to its key, one cache line for both; the slot
 * map keeps the slot number). Linear probing with backward-shift deletion,
 * no tombstones; load <= 1/2 (reserve grows by doubling before it is
 * exceeded).
 *
 * Home slot of a key k, with s = k >> shift (shift drops the alignment bits
 * every key shares):
 *   spread: the top `bits` bits of s * 2^64/phi (Fibonacci hashing; low
 *           bits of heap addresses cluster);
 *   else:   s mod cap (buddy: keys are region numbers, which mmap mostly
 *           hands out side by side, so they fill consecutive slots without
 *           collisions and the lookup on every malloc and free saves the
 *           multiply's latency).
 *
 * Tables are mapped through the OS layer (os.h): counted in the owner's
 * `mapped` and subject to its fault injection. The set does not keep the
 * account: calls that map or unmap take it.
 *
 * Invariants (pm_addrset_valid checks them): count == nonzero keys <= cap/2;
 * every key is reachable from its home slot without crossing an empty slot.
 */
#ifndef PM_ADDRSET_H
#define PM_ADDRSET_H

#include "os.h"
#include "pm_assert.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pm_addrset {
    uintptr_t *slot;            /* cap * width words */
    size_t mask;                /* cap - 1, cap a power of two */
    size_t count;               /* keys stored */
    unsigned char width;        /* words per entry: 1 or 2 */
    unsigned char shift;        /* keys are >> shift before hashing */
    unsigned char bits;         /* log2(cap) */
    bool spread;                /* Fibonacci hashing, else identity */
};

static inline size_t pm_addrset_cap(const struct pm_addrset *s) { return s->mask + 1; }

/* Bytes of the table (what it maps). */
static inline size_t pm_addrset_bytes(const struct pm_addrset *s)
{
    return pm_addrset_cap(s) * s->width * sizeof(uintptr_t);
}

/* The entry of slot i (its key is entry[0], 0 if the slot is empty). */
static inline uintptr_t *pm_addrset_entry(const struct pm_addrset *s, size_t i)
{
    return s->slot + i * s->width;
}

/* The _k functions take the set's width, shift and spread as arguments
 * (which must equal the set's own): a caller whose set has one fixed shape
 * passes constants and the compiler folds them into the probe loop (the
 * pymalloc backend's large set, on every large malloc and free). The
 * functions without _k pass the set's fields. */
#define PM_ADDRSET_INLINE static inline __attribute__((always_inline))

PM_ADDRSET_INLINE size_t pm_addrset_home_k(const struct pm_addrset *s, uintptr_t key,
                                           unsigned shift, bool spread)
{
    uint64_t k = (uint64_t)(key >> shift);
    if (spread)
        return (size_t)((k * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - s->bits));
    return (size_t)k & s->mask;
}

static inline size_t pm_addrset_home(const struct pm_addrset *s, uintptr_t key)
{
    return pm_addrset_home_k(s, key, s->shift, s->spread);
}

PM_ADDRSET_INLINE uintptr_t *pm_addrset_find_k(const struct pm_addrset *s, uintptr_t key,
                                               unsigned width, unsigned shift, bool spread)
{
    pm_assert_internal(width == s->width && shift == s->shift && spread == s->spread);
    if (!key)
        return NULL;
    for (size_t i = pm_addrset_home_k(s, key, shift, spread);; i = (i + 1) & s->mask) {
        uintptr_t *e = s->slot + i * width;
        if (e[0] == key)
            return e;
        if (!e[0])
            return NULL;
    }
}

/* The entry of key, or NULL. key 0 is never found. */
static inline uintptr_t *pm_addrset_find(const struct pm_addrset *s, uintptr_t key)
{
    return pm_addrset_find_k(s, key, s->width, s->shift, s->spread);
}

static inline bool pm_addrset_has(const struct pm_addrset *s, uintptr_t key)
{
    return pm_addrset_find(s, key) != NULL;
}

/* An empty set of cap entries (a power of two >= 2) of width words. false
 * (and errno ENOMEM) if the OS layer has no memory. */
static inline bool pm_addrset_init(struct pm_addrset *s, struct pm_os *os, size_t cap,
                                   unsigned width, unsigned shift, bool spread)
{
    pm_assert(cap >= 2 && !(cap & (cap - 1)) && (width == 1 || width == 2) && shift < 64);
    s->mask = cap - 1;
    s->count = 0;
    s->width = (unsigned char)width;
    s->shift = (unsigned char)shift;
    s->bits = (unsigned char)__builtin_ctzll((unsigned long long)cap);
    s->spread = spread;
    s->slot = pm_os_map(os, cap * width * sizeof(uintptr_t));   /* NULL: fini is a no-op */
    return s->slot != NULL;
}

static inline void pm_addrset_fini(struct pm_addrset *s, struct pm_os *os)
{
    if (s->slot)
        pm_os_unmap(os, s->slot, pm_addrset_bytes(s));
    s->slot = NULL;
    s->count = 0;
}

/* Adds key (nonzero) with room reserved; returns its entry (the caller sets
 * the value), or NULL if key was already in (set unchanged). */
PM_ADDRSET_INLINE uintptr_t *pm_addrset_insert_k(struct pm_addrset *s, uintptr_t key,
                                                 unsigned width, unsigned shift, bool spread)
{
    pm_assert_internal(key != 0);
    pm_assert_internal(width == s->width && shift == s->shift && spread == s->spread);
    size_t i = pm_addrset_home_k(s, key, shift, spread);
    uintptr_t *e;
    for (; (e = s->slot + i * width)[0]; i = (i + 1) & s->mask)
        if (e[0] == key)
            return NULL;
    pm_assert_internal(2 * (s->count + 1) <= pm_addrset_cap(s));
    e[0] = key;
    s->count++;
    return e;
}

static inline uintptr_t *pm_addrset_insert(struct pm_addrset *s, uintptr_t key)
{
    return pm_addrset_insert_k(s, key, s->width, s->shift, s->spread);
}

/* Moves the set into a fresh table of cap entries (>= 2 * count); false (set
 * unchanged) if the OS layer has no memory. */
static inline bool pm_addrset_resize(struct pm_addrset *s, struct pm_os *os, size_t cap)
{
    struct pm_addrset n;
    pm_assert_internal(2 * s->count <= cap);
    if (!pm_addrset_init(&n, os, cap, s->width, s->shift, s->spread))
        return false;
    for (size_t i = 0; i <= s->mask; i++) {
        const uintptr_t *e = pm_addrset_entry(s, i);
        if (e[0]) {
            uintptr_t *d = pm_addrset_insert(&n, e[0]);
            for (unsigned w = 1; w < s->width; w++)
                d[w] = e[w];
        }
    }
    pm_addrset_fini(s, os);
    *s = n;
    return true;
}

/* Makes room for one more key (load <= 1/2), doubling the table if needed.
 * false (set unchanged) if the OS layer has no memory. */
static inline bool pm_addrset_reserve(struct pm_addrset *s, struct pm_os *os)
{
    if (__builtin_expect(2 * (s->count + 1) <= pm_addrset_cap(s), 1))
        return true;
    return pm_addrset_resize(s, os, 2 * pm_addrset_cap(s));
}

/* Removes the entry e (from find or insert), shifting back the later
 * entries of its probe run so that every key stays reachable from its home
 * slot: the entry at j may fill the hole at i iff its home is not in (i, j]. */
PM_ADDRSET_INLINE void pm_addrset_remove_entry_k(struct pm_addrset *s, uintptr_t *e,
                                                 unsigned width, unsigned shift, bool spread)
{
    pm_assert_internal(width == s->width && shift == s->shift && spread == s->spread);
    size_t i = (size_t)(e - s->slot) >> (width - 1);   /* width is 1 or 2: no division */
    for (size_t j = (i + 1) & s->mask;; j = (j + 1) & s->mask) {
        uintptr_t *ej = s->slot + j * width;
        if (!ej[0])
            break;
        /* distance from its home to j, and from the hole i to j (mod cap):
         * the entry stays iff its home is in (i, j] */
        size_t home = pm_addrset_home_k(s, ej[0], shift, spread);
        bool stays = ((j - home) & s->mask) < ((j - i) & s->mask);
        if (!stays) {
            uintptr_t *ei = s->slot + i * width;
            for (unsigned w = 0; w < width; w++)
                ei[w] = ej[w];
            i = j;
        }
    }
    s->slot[i * width] = 0;
    s->count--;
}

static inline void pm_addrset_remove_entry(struct pm_addrset *s, uintptr_t *e)
{
    pm_addrset_remove_entry_k(s, e, s->width, s->shift, s->spread);
}

/* Removes key; false if it was not in. */
static inline bool pm_addrset_remove(struct pm_addrset *s, uintptr_t key)
{
    uintptr_t *e = pm_addrset_find(s, key);
    if (e)
        pm_addrset_remove_entry(s, e);
    return e != NULL;
}

/* The invariants, O(cap): count matches the keys, load <= 1/2, and find
 * reaches every key at its own slot. Never aborts. */
static inline bool pm_addrset_valid(const struct pm_addrset *s)
{
    size_t n = 0;
    for (size_t i = 0; i <= s->mask; i++) {
        const uintptr_t *e = pm_addrset_entry(s, i);
        if (!e[0])
            continue;
        n++;
        if (pm_addrset_find(s, e[0]) != e)
            return false;
    }
    return n == s->count && 2 * n <= pm_addrset_cap(s);
}

#endif
