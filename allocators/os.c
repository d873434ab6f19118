/* allocators/os.c — mmap/munmap/madvise with per-instance accounting and
 * fault injection. See os.h. Never prints; failures return NULL with errno. */
#include "os.h"
#include "pm_asan.h"
#include "pm_assert.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_size_cached;
static uint64_t total_mapped;   /* over every instance: destroy must bring it back */

uint64_t pm_os_total_mapped(void) { return total_mapped; }

/* ---- the mapping cache (os.h) ---- */

/* A cached range keeps its bookkeeping in its own first bytes (it is ours
 * and unused; they are zeroed again when it is handed out): a list per
 * size class (pages, by powers of two) for lookups, one list in age order
 * for eviction, and two hash indexes, by start and by end address, through
 * which a range coming in finds a cached neighbour to merge with in O(1)
 * (a list in address order cost a scan per call: with thousands of ranges
 * cached, fuzz_frag spent a third of its time there). Its other bytes are
 * what its last user left: they are zeroed when (the part of) it is handed
 * out to a caller that needs zeros (pm_os_map, pm_os_map_aligned), not when
 * it enters (a range taken by pm_os_map_any, or unmapped from the cache, is
 * never zeroed). */
struct cache_range {
    size_t size;                     /* page multiple */
    struct cache_range *next_class, *prev_class;   /* its size class */
    struct cache_range *older, *newer;             /* age order */
};

#define CACHE_CLASSES 48             /* floor(log2(pages)) */
#define CACHE_MAX_ENTRIES 65536u     /* pm_os_cache_set's limit is clamped to this */
#define CACHE_SCAN 32                /* ranges looked at per size class and lookup */

static struct {
    struct cache_range *cls[CACHE_CLASSES];
    struct cache_range *oldest, *newest;
    uint64_t n, bytes, max_bytes, max_entries;
    uint64_t hits, misses;
    struct index_slot *by_start, *by_end;   /* open addressing, linear probing */
    unsigned index_bits;             /* 2^bits slots each, >= 4 per entry; 0: none */
} cache;
static uint64_t kernel_mapped;   /* mmap'd here minus munmap'd here */

static void kernel_unmap(void *p, size_t size)
{
    int saved = errno;
    munmap(p, size);
    errno = saved;
    kernel_mapped -= size;
}

static unsigned size_class(size_t size)
{
    size_t pages = size / pm_os_page_size();
    unsigned c = 63u - (unsigned)__builtin_clzll((unsigned long long)(pages ? pages : 1));
    return c < CACHE_CLASSES ? c : CACHE_CLASSES - 1;
}

/* ---- the address indexes: the key of a range is its start (by_start) or
 * its end (by_end), kept in the slot next to it (a probe then reads no
 * range header: each is on a page of its own, a TLB miss) ---- */

struct index_slot {
    uintptr_t key;                   /* 0: empty */
    struct cache_range *r;
};

static size_t index_home(uintptr_t key)
{
    return (size_t)(((uint64_t)key >> 12) * 0x9E3779B97F4A7C15u >> (64 - cache.index_bits));
}

static uintptr_t range_key(const struct cache_range *r, bool end)
{
    return (uintptr_t)r + (end ? r->size : 0);
}

static void index_add(struct index_slot *t, struct cache_range *r, bool end)
{
    size_t mask = ((size_t)1 << cache.index_bits) - 1;
    uintptr_t key = range_key(r, end);
    size_t i = index_home(key);
    while (t[i].key)
        i = (i + 1) & mask;
    t[i] = (struct index_slot){key, r};
}

static struct cache_range *index_find(const struct index_slot *t, uintptr_t key)
{
    size_t mask = ((size_t)1 << cache.index_bits) - 1;
    for (size_t i = index_home(key); t[i].key; i = (i + 1) & mask)
        if (t[i].key == key)
            return t[i].r;
    return NULL;
}

/* Removes r (keyed as it is now) with backward-shift deletion. */
static void index_remove(struct index_slot *t, const struct cache_range *r, bool end)
{
    size_t mask = ((size_t)1 << cache.index_bits) - 1;
    uintptr_t key = range_key(r, end);
    size_t i = index_home(key);
    while (t[i].key != key) {
        pm_assert(t[i].key != 0);
        i = (i + 1) & mask;
    }
    for (size_t j = (i + 1) & mask; t[j].key; j = (j + 1) & mask) {
        size_t home = index_home(t[j].key);
        /* t[j] may move to the hole at i if its home is not in (i, j] */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t[i] = t[j];
            i = j;
        }
    }
    t[i] = (struct index_slot){0, NULL};
}

/* ---- the lists ---- */

static void class_link(struct cache_range *r)
{
    struct cache_range **head = &cache.cls[size_class(r->size)];
    r->prev_class = NULL;
    r->next_class = *head;
    if (*head)
        (*head)->prev_class = r;
    *head = r;
}

static void class_unlink(struct cache_range *r)
{
    if (r->prev_class)
        r->prev_class->next_class = r->next_class;
    else
        cache.cls[size_class(r->size)] = r->next_class;
    if (r->next_class)
        r->next_class->prev_class = r->prev_class;
    r->next_class = r->prev_class = NULL;
}

static void age_unlink(struct cache_range *r)
{
    if (r->older)
        r->older->newer = r->newer;
    else
        cache.oldest = r->newer;
    if (r->newer)
        r->newer->older = r->older;
    else
        cache.newest = r->older;
    r->older = r->newer = NULL;
}

static void age_push_newest(struct cache_range *r)
{
    r->older = cache.newest;
    r->newer = NULL;
    if (cache.newest)
        cache.newest->newer = r;
    else
        cache.oldest = r;
    cache.newest = r;
}

/* Takes r out of every list and index; its header bytes are zeroed. */
static void cache_unlink(struct cache_range *r)
{
    class_unlink(r);
    age_unlink(r);
    index_remove(cache.by_start, r, false);
    index_remove(cache.by_end, r, true);
    cache.n--;
    cache.bytes -= r->size;
    memset(r, 0, sizeof *r);
}

static void cache_shrink(uint64_t max_bytes, uint64_t max_entries)
{
    while (cache.oldest && (cache.bytes > max_bytes || cache.n > max_entries)) {
        struct cache_range *r = cache.oldest;
        size_t size = r->size;
        cache_unlink(r);
        kernel_unmap(r, size);
    }
}

/* Makes the indexes 2^bits slots each (0: none), in memory of their own
 * (bookkeeping, not counted as mapped), filled from the age list. They
 * start small and double when a quarter full: a lookup is a cache miss
 * into them, and fuzz_frag makes thousands per input. False (the old ones
 * kept) if the memory cannot be had. */
static bool index_resize(unsigned bits)
{
    struct index_slot *t = NULL;
    size_t bytes = sizeof(struct index_slot) << bits;
    if (bits) {
        int saved = errno;
        void *a = mmap(NULL, 2 * bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        errno = saved;
        if (a == MAP_FAILED)
            return false;
        t = a;
    }
    if (cache.by_start)
        munmap(cache.by_start, 2 * (sizeof(struct index_slot) << cache.index_bits));
    cache.by_start = t;
    cache.by_end = t ? t + ((size_t)1 << bits) : NULL;
    cache.index_bits = bits;
    for (struct cache_range *r = t ? cache.oldest : NULL; r; r = r->newer) {
        index_add(cache.by_start, r, false);
        index_add(cache.by_end, r, true);
    }
    return true;
}

void pm_os_cache_set(uint64_t max_bytes, unsigned max_entries)
{
    if (max_entries > CACHE_MAX_ENTRIES)
        max_entries = CACHE_MAX_ENTRIES;
    cache.max_bytes = max_entries ? max_bytes : 0;
    cache.max_entries = cache.max_bytes ? max_entries : 0;
    cache_shrink(cache.max_bytes, cache.max_entries);
    if (!cache.max_entries)
        index_resize(0);
    else if (!cache.index_bits && !index_resize(10))
        cache.max_bytes = cache.max_entries = 0;   /* no memory for the indexes: no cache */
}

void pm_os_cache_flush(void) { cache_shrink(0, 0); }

const char *pm_os_cache_invalid(void)
{
    uint64_t n = 0, bytes = 0, in_classes = 0;
    for (struct cache_range *r = cache.oldest; r; r = r->newer) {
        n++;
        bytes += r->size;
        if (index_find(cache.by_start, (uintptr_t)r) != r)
            return "a range is not found by its start";
        if (index_find(cache.by_end, (uintptr_t)r + r->size) != r)
            return "a range is not found by its end";
        if (index_find(cache.by_end, (uintptr_t)r) ||
            index_find(cache.by_start, (uintptr_t)r + r->size))
            return "two cached ranges adjoin (not merged)";
        if (r->newer && r->newer->older != r)
            return "age list broken";
    }
    for (unsigned c = 0; c < CACHE_CLASSES; c++)
        for (struct cache_range *r = cache.cls[c]; r; r = r->next_class) {
            in_classes++;
            if (size_class(r->size) != c)
                return "a range in the wrong size class";
        }
    if (n != cache.n || in_classes != n || bytes != cache.bytes)
        return "counts disagree";
    return NULL;
}

static int decommit_fill = -1;

void pm_os_cache_decommit_fill(int byte) { decommit_fill = byte; }

void pm_os_cache_scribble(unsigned char byte)
{
    for (struct cache_range *r = cache.oldest; r; r = r->newer)
        memset(r + 1, byte, r->size - sizeof *r);
}

void pm_os_cache_info(struct pm_os_cache_info *out)
{
    out->cached_bytes = cache.bytes;
    out->cached_ranges = cache.n;
    out->kernel_mapped = kernel_mapped;
    out->hits = cache.hits;
    out->misses = cache.misses;
}

/* True if the page at p reads as zero. Reading costs no fault: a page only
 * ever read is mapped to the kernel's zero page, which mincore() counts as
 * resident, and writing zeros into it would take a copy-on-write fault and
 * a TLB flush per page (measured: the largest single cost of a fuzz input
 * before this test). */
__attribute__((no_sanitize_address)) static bool page_is_zero(const char *p, size_t page)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    enum { CHUNK = 64 };   /* 512 bytes per test: a loop the compiler vectorises */
    for (size_t i = 0; i < page / sizeof *w; i += CHUNK) {
        uint64_t acc = 0;
        for (size_t j = 0; j < CHUNK; j++)
            acc |= w[i + j];
        if (acc)
            return false;
    }
    return true;
}

/* Up to this many pages, zero_resident reads every page instead of asking
 * mincore() which are resident: the system call cost more than reading a
 * few pages (mincore was 9% of fuzz_alloc's campaign profile, most of it on
 * ranges of 1-4 pages). */
enum { ZERO_NO_MINCORE = 8 };

/* Zeroes the resident pages of [p, p + size) that are not zero already:
 * what a fresh mapping reads as. Pages not resident (never touched, or
 * decommitted) read as zero. errno is kept. */
static __attribute__((noinline, no_sanitize_address)) void zero_resident(char *p, size_t size)
{
    int saved = errno;
    size_t page = pm_os_page_size(), npages = size / page;
    if (npages <= ZERO_NO_MINCORE) {
        /* A few pages: reading each costs less than asking the kernel
         * (a page never touched reads through the zero page, no copy). */
        for (size_t i = 0; i < npages; i++)
            if (!page_is_zero(p + i * page, page))
                memset(p + i * page, 0, page);
        errno = saved;
        return;
    }
    unsigned char vec[1024];
    for (size_t first = 0; first < npages; first += sizeof vec) {
        size_t k = npages - first < sizeof vec ? npages - first : sizeof vec;
        if (mincore(p + first * page, k * page, vec) != 0) {
            memset(p + first * page, 0, k * page);   /* cannot tell: zero it all */
            continue;
        }
        for (size_t i = 0; i < k;) {
            if (!(vec[i] & 1)) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < k && (vec[j] & 1) && !page_is_zero(p + (first + j) * page, page))
                j++;
            if (j == i) {   /* resident and already zero */
                i++;
                continue;
            }
            memset(p + (first + i) * page, 0, (j - i) * page);
            i = j;
        }
    }
    errno = saved;
}

/* Links [p, p + size) into the cache as its newest range, merged with a
 * cached range that ends where it starts or starts where it ends. */
static void cache_insert(char *p, size_t size)
{
    struct cache_range *r = index_find(cache.by_end, (uintptr_t)p);
    if (r) {   /* grow the range below */
        class_unlink(r);
        age_unlink(r);
        index_remove(cache.by_end, r, true);
        r->size += size;
    } else {
        if ((cache.n + 2) * 4 > (uint64_t)1 << cache.index_bits && !index_resize(cache.index_bits + 1))
            cache_shrink(0, 0);   /* (cannot grow the indexes: start again, empty) */
        r = (struct cache_range *)p;
        *r = (struct cache_range){.size = size};
        index_add(cache.by_start, r, false);
        cache.n++;
    }
    cache.bytes += size;
    struct cache_range *above = index_find(cache.by_start, (uintptr_t)p + size);
    if (above) {   /* swallow the range above */
        size_t more = above->size;
        cache_unlink(above);   /* (takes its bytes and count out) */
        cache.bytes += more;
        r->size += more;
    }
    index_add(cache.by_end, r, true);
    class_link(r);
    age_push_newest(r);
}

/* Keeps [p, p + size) for reuse; false if the cache is off or it does not fit. */
static bool cache_put(char *p, size_t size)
{
    if (!cache.max_entries || size > cache.max_bytes)
        return false;
    cache_shrink(cache.max_bytes - size, cache.max_entries - 1);
    PM_UNPOISON(p, size);
    cache_insert(p, size);
    return true;
}

/* `size` bytes aligned to `align` out of the cache, zeroed if `zero`, or
 * NULL: a range of exactly that size if there is one, else cut from the
 * first range that holds it in its size class or the next ones up (what is
 * left on either side stays cached). Cutting spares a fresh mapping for
 * each block of a new size, whose pages then fault one by one (~9 us each
 * on this project's VMs). */
static char *cache_take(size_t size, size_t align, bool zero)
{
    if (!cache.max_entries)
        return NULL;
    struct cache_range *best = NULL;
    char *best_at = NULL;
    /* in this size class a range of exactly this size (one that holds it
     * then starts aligned), else the first that holds it; in the classes
     * up, the first that holds it (CACHE_SCAN ranges per class) */
    for (unsigned c = size_class(size); !best && c < CACHE_CLASSES; c++) {
        unsigned k = 0;
        for (struct cache_range *r = cache.cls[c]; r && k < CACHE_SCAN; r = r->next_class, k++) {
            char *at = (char *)pm_round_up((uintptr_t)r, align);
            if (at + size > (char *)r + r->size)
                continue;
            if (!best || r->size == size) {
                best = r;
                best_at = at;
            }
            if (r->size == size || c != size_class(size))
                break;
        }
    }
    if (!best) {
        cache.misses++;
        return NULL;
    }
    char *base = (char *)best, *end = base + best->size;
    cache_unlink(best);
    cache.hits++;
    if (best_at > base)
        cache_insert(base, (size_t)(best_at - base));
    if (best_at + size < end)
        cache_insert(best_at + size, (size_t)(end - best_at - size));
    cache_shrink(cache.max_bytes, cache.max_entries);   /* a cut can leave two ranges */
    if (zero)
        zero_resident(best_at, size);
    return best_at;
}

size_t pm_os_page_size(void)
{
    if (!page_size_cached)
        page_size_cached = (size_t)sysconf(_SC_PAGESIZE);
    return page_size_cached;
}

void pm_os_init(struct pm_os *os, const struct pm_os_faults *faults)
{
    memset(os, 0, sizeof *os);
    if (faults)
        os->faults = *faults;
}

void pm_os_set_faults(struct pm_os *os, const struct pm_os_faults *faults)
{
    static const struct pm_os_faults none;
    os->faults = faults ? *faults : none;
}

/* Decides whether map call number os->map_calls (already incremented) fails. */
static int fault_injected(const struct pm_os *os)
{
    uint64_t k = os->map_calls;
    if (os->faults.fail_nth && k == os->faults.fail_nth)
        return 1;
    if (os->faults.fail_from && k >= os->faults.fail_from)
        return 1;
    return 0;
}

static void account_map(struct pm_os *os, size_t size)
{
    os->mapped += size;
    total_mapped += size;
    if (os->mapped > os->peak_mapped)
        os->peak_mapped = os->mapped;
}

void *pm_os_map(struct pm_os *os, size_t size)
{
    return pm_os_map_aligned(os, size, pm_os_page_size());
}

static void *map(struct pm_os *os, size_t size, size_t align, bool zero, bool *zeroed)
{
    size_t page = pm_os_page_size();
    pm_assert(align >= page && (align & (align - 1)) == 0);
    os->map_calls++;
    if (size == 0 || size > SIZE_MAX / 2 - align || fault_injected(os)) {
        os->failed_maps++;
        errno = ENOMEM;
        return NULL;
    }
    size = pm_round_up(size, page);
    char *hit = cache_take(size, align, zero);
    if (hit) {
        account_map(os, size);
        *zeroed = zero;
        return hit;
    }
    size_t span = align > page ? size + align - page : size;
    int saved = errno;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        os->failed_maps++;
        errno = ENOMEM;
        return NULL;
    }
    if (span != size) {
        char *start = (char *)pm_round_up((uintptr_t)p, align);
        size_t head = (size_t)(start - p);
        size_t tail = span - head - size;
        if (head)
            munmap(p, head);
        if (tail)
            munmap(start + size, tail);
        p = start;
    }
    kernel_mapped += size;
    errno = saved;
    account_map(os, size);
    *zeroed = true;
    return p;
}

void *pm_os_map_aligned(struct pm_os *os, size_t size, size_t align)
{
    bool zeroed;
    return map(os, size, align, true, &zeroed);
}

void *pm_os_map_any(struct pm_os *os, size_t size, size_t align, bool *zeroed)
{
    bool z;
    return map(os, size, align, false, zeroed ? zeroed : &z);
}

void pm_os_unmap(struct pm_os *os, void *p, size_t size)
{
    if (!p)
        return;
    size = pm_round_up(size, pm_os_page_size());
    pm_assert(os->mapped >= size);
    if (!cache_put(p, size))
        kernel_unmap(p, size);
    os->mapped -= size;
    total_mapped -= size;
    os->unmap_calls++;
}

void pm_os_decommit(struct pm_os *os, void *p, size_t size)
{
    size_t page = pm_os_page_size();
    pm_assert(((uintptr_t)p & (page - 1)) == 0);
    size = size & ~(page - 1);
    if (!size)
        return;
    int saved = errno;
    if (cache.max_entries && !PM_ASAN_ON) {
        /* kept as they are (not under ASan: the pages are poisoned, free
           memory of the backend's, and stay so) */
        if (decommit_fill >= 0)
            memset(p, decommit_fill, size);
    } else {
        madvise(p, size, MADV_DONTNEED);
    }
    errno = saved;
    os->decommitted += size;
}
