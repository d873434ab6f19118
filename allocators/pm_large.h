/* allocators/pm_large.h — the large-block path: one mapping per block.
 *
 * Used by segfit (requests above its `large` threshold), buddy (above its
 * region size) and pymalloc with large=os. Header-only, like pm_addrset.h:
 * it inlines into the backend that calls it.
 *
 * Two levels:
 *
 *   pm_large_map / pm_large_unmap: a mapping of round_up(hdr + n, page)
 *   bytes from the owner's OS account (os.h), so counted in its `mapped`
 *   and subject to its fault injection; the block starts `hdr` bytes in.
 *   The counters (live blocks, usable and mapped bytes, calls) and an
 *   optional cache of freed mappings live here. The caller registers the
 *   block where its ownership test will look for it. buddy does this
 *   (hdr 0): its one ownership table answers "region or large block?" in
 *   one probe and keeps the mapping size beside the key, so its blocks need
 *   no header and stay page-aligned.
 *
 *   pm_large_alloc / pm_large_find / pm_large_free / pm_large_usable: the
 *   same with a 16-byte header {mapping size, PM_LARGE_MAGIC ^ mapping
 *   address} before the block and the live blocks' addresses in the
 *   struct's own pm_addrset (1-word keys). segfit and pymalloc (large=os)
 *   do this: their ownership tests look at regions or arenas first, and a
 *   pointer in none of them is a large block iff the set has it.
 *
 * The cache (cache_slots > 0, at most PM_LARGE_CACHE_SLOTS): a freed mapping
 * of at most cache_max_map bytes is kept instead of unmapped (oldest
 * evicted when full), poisoned under ASan while kept (pm_asan.h), and
 * reused by a later request whose mapping it covers with at most 25% to
 * spare (the smallest such); a reused mapping is zeroed over the request
 * only when zero memory was asked for (calloc), since a fresh one reads
 * zero anyway. Kept mappings count in the OS account's `mapped` (they are
 * mapped) and in `cached_bytes` here.
 *
 * Requests above PM_LARGE_MAX fail with ENOMEM before any system call (no
 * machine here maps 64 TiB; the bound also keeps hdr + n + page from
 * overflowing).
 *
 * Invariants (pm_large_valid checks what the struct alone can):
 *   count == live blocks; usable == sum of (mapping - hdr) over them;
 *   mapped == sum of their mappings; with the set: set.count == count;
 *   nmalloc - nfree == count; ncached <= cache_slots <= PM_LARGE_CACHE_SLOTS.
 */
#ifndef PM_LARGE_H
#define PM_LARGE_H

#include "os.h"
#include "pm_addrset.h"
#include "pm_asan.h"
#include "pm_assert.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PM_LARGE_HDR 16u
#define PM_LARGE_MAGIC UINT64_C(0x70796d616c6c6f63)
#define PM_LARGE_MAX ((size_t)1 << 46)
#define PM_LARGE_CACHE_SLOTS 8u
#define PM_LARGE_SET_INITIAL 512u      /* one page of 1-word slots */

struct pm_large_hdr {
    uint64_t map_size;          /* bytes of the mapping, header included */
    uint64_t magic;             /* PM_LARGE_MAGIC ^ mapping address */
};
_Static_assert(sizeof(struct pm_large_hdr) == PM_LARGE_HDR, "large header keeps 16-byte alignment");

struct pm_large_cached {
    void *base;
    size_t size;
};

struct pm_large {
    struct pm_addrset set;      /* header level: block addresses; slot NULL = not mapped yet */
    uint64_t count;             /* live blocks */
    uint64_t usable;            /* sum of their usable bytes (mapping - hdr) */
    uint64_t mapped;            /* sum of their mappings */
    uint64_t nmalloc, nfree;    /* blocks handed out and freed, ever */
    uint64_t cached_bytes;      /* sum of cache[].size */
    size_t cache_max_map;       /* larger mappings are never kept */
    unsigned cache_slots;       /* 0: no cache */
    unsigned ncached;           /* cache[0..ncached), oldest first */
    struct pm_large_cached cache[PM_LARGE_CACHE_SLOTS];
};

/* An empty path (no set mapped yet, nothing cached). */
static inline void pm_large_init(struct pm_large *l, unsigned cache_slots, size_t cache_max_map)
{
    memset(l, 0, sizeof *l);
    pm_assert(cache_slots <= PM_LARGE_CACHE_SLOTS);
    l->cache_slots = cache_slots;
    l->cache_max_map = cache_max_map;
}

/* Mapping bytes for a request of n with hdr bytes before it; 0 with errno
 * ENOMEM above PM_LARGE_MAX. */
static inline size_t pm_large_map_size(size_t n, size_t hdr)
{
    if (n > PM_LARGE_MAX) {
        errno = ENOMEM;
        return 0;
    }
    return pm_round_up(n + hdr, pm_os_page_size());
}

/* A kept mapping covering `need` bytes with at most 25% to spare, taken out
 * of the cache; NULL if none. */
static inline void *pm_large_cache_take(struct pm_large *l, size_t need, size_t *size)
{
    unsigned best = l->ncached;
    for (unsigned i = 0; i < l->ncached; i++) {
        size_t s = l->cache[i].size;
        if (s >= need && s - need <= need / 4 && (best == l->ncached || s < l->cache[best].size))
            best = i;
    }
    if (best == l->ncached)
        return NULL;
    void *base = l->cache[best].base;
    *size = l->cache[best].size;
    memmove(&l->cache[best], &l->cache[best + 1], (l->ncached - best - 1) * sizeof l->cache[0]);
    l->ncached--;
    l->cached_bytes -= *size;
    PM_UNPOISON(base, *size);
    return base;
}

/* Maps a block of n bytes (hdr bytes into its mapping), zero-filled when
 * `zero`; counts it live. *map_size receives the mapping's size. NULL with
 * errno ENOMEM (too large, or the OS layer failed). */
static inline void *pm_large_map(struct pm_large *l, struct pm_os *os, size_t n, size_t hdr,
                                 bool zero, size_t *map_size)
{
    *map_size = 0;
    size_t need = pm_large_map_size(n, hdr);
    if (!need)
        return NULL;
    size_t size = need;
    uint8_t *base = l->ncached ? (uint8_t *)pm_large_cache_take(l, need, &size) : NULL;
    if (base) {
        if (zero)
            memset(base + hdr, 0, n);
    } else if (!(base = (uint8_t *)(zero ? pm_os_map(os, need)
                                          : pm_os_map_any(os, need, pm_os_page_size(), NULL)))) {
        return NULL;   /* (a fresh mapping is zero; only calloc needs a recycled one zeroed) */
    }
    l->count++;
    l->usable += size - hdr;
    l->mapped += size;
    l->nmalloc++;
    *map_size = size;
    return base + hdr;
}

/* Gives back the mapping at base of map_size bytes, whose block (hdr bytes
 * in) was live: into the cache, or to the OS. */
static inline void pm_large_unmap(struct pm_large *l, struct pm_os *os, void *base, size_t map_size,
                                  size_t hdr)
{
    pm_assert_internal(l->count > 0 && l->mapped >= map_size);
    l->count--;
    l->usable -= map_size - hdr;
    l->mapped -= map_size;
    l->nfree++;
    if (!l->cache_slots || map_size > l->cache_max_map) {
        pm_os_unmap(os, base, map_size);
        return;
    }
    if (l->ncached == l->cache_slots) {     /* evict the oldest */
        PM_UNPOISON(l->cache[0].base, l->cache[0].size);
        pm_os_unmap(os, l->cache[0].base, l->cache[0].size);
        l->cached_bytes -= l->cache[0].size;
        memmove(&l->cache[0], &l->cache[1], (l->ncached - 1) * sizeof l->cache[0]);
        l->ncached--;
    }
    PM_POISON(base, map_size);              /* a freed block, header included, until reused */
    l->cache[l->ncached++] = (struct pm_large_cached){base, map_size};
    l->cached_bytes += map_size;
}

/* Unmaps every kept mapping (trim, destroy). */
static inline void pm_large_cache_flush(struct pm_large *l, struct pm_os *os)
{
    while (l->ncached) {
        struct pm_large_cached *c = &l->cache[--l->ncached];
        PM_UNPOISON(c->base, c->size);
        pm_os_unmap(os, c->base, c->size);
        l->cached_bytes -= c->size;
    }
}

/* Is p the block address of a kept (freed) mapping with hdr? A free of it
 * is a double free. */
static inline bool pm_large_in_cache(const struct pm_large *l, const void *p, size_t hdr)
{
    for (unsigned i = 0; i < l->ncached; i++)
        if ((const uint8_t *)l->cache[i].base + hdr == (const uint8_t *)p)
            return true;
    return false;
}

/* ---- the header level -------------------------------------------------- */

static inline struct pm_large_hdr *pm_large_hdr(const void *p)
{
    return (struct pm_large_hdr *)((uintptr_t)p - PM_LARGE_HDR);
}

/* Room for one more block in the set, mapping it on first use with
 * PM_LARGE_SET_INITIAL slots hashed above `shift` bits (an owner that wants
 * the set from the start calls pm_addrset_init on l->set itself). */
static inline bool pm_large_reserve(struct pm_large *l, struct pm_os *os, unsigned shift)
{
    if (!l->set.slot)
        return pm_addrset_init(&l->set, os, PM_LARGE_SET_INITIAL, 1, shift, true);
    return pm_addrset_reserve(&l->set, os);
}

/* A block of n bytes with its header, registered in the set. NULL with
 * errno ENOMEM. */
static inline void *pm_large_alloc(struct pm_large *l, struct pm_os *os, size_t n, bool zero,
                                   unsigned shift)
{
    if (n > PM_LARGE_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    if (!pm_large_reserve(l, os, shift))
        return NULL;
    size_t size;
    uint8_t *p = (uint8_t *)pm_large_map(l, os, n, PM_LARGE_HDR, zero, &size);
    if (!p)
        return NULL;
    struct pm_large_hdr *hd = pm_large_hdr(p);
    hd->map_size = size;
    hd->magic = PM_LARGE_MAGIC ^ (uint64_t)(uintptr_t)hd;
    uintptr_t *e = pm_addrset_insert(&l->set, (uintptr_t)p);
    pm_assert_internal(e != NULL);
    (void)e;
    return p;
}

/* The set's entry of block p, or NULL (not a live block of this path). */
static inline uintptr_t *pm_large_find(const struct pm_large *l, const void *p)
{
    return l->set.slot ? pm_addrset_find(&l->set, (uintptr_t)p) : NULL;
}

/* Usable bytes of live block p. */
static inline size_t pm_large_usable(const void *p)
{
    return (size_t)pm_large_hdr(p)->map_size - PM_LARGE_HDR;
}

/* Is the header of block p intact? (check(); never aborts) */
static inline bool pm_large_hdr_ok(const void *p)
{
    const struct pm_large_hdr *hd = pm_large_hdr(p);
    size_t page = pm_os_page_size();
    return !(((uintptr_t)hd) & (page - 1)) && hd->magic == (PM_LARGE_MAGIC ^ (uint64_t)(uintptr_t)hd) &&
           hd->map_size > PM_LARGE_HDR && !(hd->map_size & (page - 1));
}

/* Frees the live block whose set entry is e. */
static inline void pm_large_free_entry(struct pm_large *l, struct pm_os *os, uintptr_t *e)
{
    void *p = (void *)e[0];
    struct pm_large_hdr *hd = pm_large_hdr(p);
    pm_assert_internal(hd->magic == (PM_LARGE_MAGIC ^ (uint64_t)(uintptr_t)hd));
    size_t size = (size_t)hd->map_size;
    pm_addrset_remove_entry(&l->set, e);
    pm_large_unmap(l, os, hd, size, PM_LARGE_HDR);
}

/* Unmaps every live block, the kept mappings and the set (destroy). */
static inline void pm_large_fini(struct pm_large *l, struct pm_os *os)
{
    for (size_t i = 0; l->set.slot && i < pm_addrset_cap(&l->set); i++) {
        void *p = (void *)l->set.slot[i];
        if (p) {
            struct pm_large_hdr *hd = pm_large_hdr(p);
            pm_os_unmap(os, hd, (size_t)hd->map_size);
        }
    }
    pm_addrset_fini(&l->set, os);
    pm_large_cache_flush(l, os);
    l->count = l->usable = l->mapped = 0;
}

/* The header level's invariants, O(set): every key a block with an intact
 * header, counters equal to what the headers sum to, the set well formed.
 * Writes a one-line reason and returns false on the first that fails. */
static inline bool pm_large_valid(const struct pm_large *l, char *why, size_t len)
{
    uint64_t n = 0, usable = 0, mapped = 0;
    for (size_t i = 0; l->set.slot && i < pm_addrset_cap(&l->set); i++) {
        const void *p = (const void *)l->set.slot[i];
        if (!p)
            continue;
        if (!pm_large_hdr_ok(p)) {
            snprintf(why, len, "large block %p: header damaged", p);
            return false;
        }
        n++;
        usable += pm_large_usable(p);
        mapped += pm_large_hdr(p)->map_size;
    }
    if (n != l->count || usable != l->usable || mapped != l->mapped || l->nmalloc - l->nfree != n) {
        snprintf(why, len, "large blocks: %llu in the set holding %llu usable / %llu mapped bytes; "
                 "counters say %llu, %llu, %llu (%llu allocated - %llu freed)",
                 (unsigned long long)n, (unsigned long long)usable, (unsigned long long)mapped,
                 (unsigned long long)l->count, (unsigned long long)l->usable, (unsigned long long)l->mapped,
                 (unsigned long long)l->nmalloc, (unsigned long long)l->nfree);
        return false;
    }
    if (l->set.slot && !pm_addrset_valid(&l->set)) {
        snprintf(why, len, "large-block set malformed (%zu keys, %zu slots)", l->set.count,
                 pm_addrset_cap(&l->set));
        return false;
    }
    if (l->ncached > l->cache_slots || l->cache_slots > PM_LARGE_CACHE_SLOTS) {
        snprintf(why, len, "large cache holds %u of %u entries", l->ncached, l->cache_slots);
        return false;
    }
    return true;
}

#endif
