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
 * and unused; they are zeroed again when it is handed out): one list in
 * address order, where adjacent ranges are merged as they come in, and one
 * in age order for eviction. Its other bytes are what its last user left:
 * they are zeroed when (the part of) it is handed out to a caller that
 * needs zeros (pm_os_map, pm_os_map_aligned), not when it enters (a range
 * taken by pm_os_map_any, or unmapped from the cache, is never zeroed). */
struct cache_range {
    size_t size;                     /* page multiple */
    struct cache_range *lower, *higher;   /* address order */
    struct cache_range *older, *newer;    /* age order */
};

static struct {
    struct cache_range *lowest;
    struct cache_range *oldest, *newest;
    uint64_t n, bytes, max_bytes, max_entries;
    uint64_t hits, misses;
} cache;
static uint64_t kernel_mapped;   /* mmap'd here minus munmap'd here */

static void kernel_unmap(void *p, size_t size)
{
    int saved = errno;
    munmap(p, size);
    errno = saved;
    kernel_mapped -= size;
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

/* Unlinks r from both lists; its header bytes are zeroed. */
static void cache_unlink(struct cache_range *r)
{
    if (r->lower)
        r->lower->higher = r->higher;
    else
        cache.lowest = r->higher;
    if (r->higher)
        r->higher->lower = r->lower;
    age_unlink(r);
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

void pm_os_cache_set(uint64_t max_bytes, unsigned max_entries)
{
    cache.max_bytes = max_entries ? max_bytes : 0;
    cache.max_entries = cache.max_bytes ? max_entries : 0;
    cache_shrink(cache.max_bytes, cache.max_entries);
}

void pm_os_cache_flush(void) { cache_shrink(0, 0); }

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

/* Zeroes the resident pages of [p, p + size) that are not zero already:
 * what a fresh mapping reads as. Pages not resident (never touched, or
 * decommitted) read as zero. */
static __attribute__((noinline, no_sanitize_address)) void zero_resident(char *p, size_t size)
{
    size_t page = pm_os_page_size(), npages = size / page;
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
}

/* Links [p, p + size) into the cache as its newest range, merged with a
 * cached range that ends where it starts or starts where it ends. */
static void cache_insert(char *p, size_t size)
{
    struct cache_range *below = NULL, *above = cache.lowest;
    while (above && (char *)above < p) {
        below = above;
        above = above->higher;
    }
    cache.n++;
    cache.bytes += size;
    struct cache_range *r;
    if (below && (char *)below + below->size == p) {   /* grow the range below */
        r = below;
        r->size += size;
        age_unlink(r);
        cache.n--;
    } else {
        r = (struct cache_range *)p;
        *r = (struct cache_range){.size = size, .lower = below, .higher = above};
        if (below)
            below->higher = r;
        else
            cache.lowest = r;
        if (above)
            above->lower = r;
    }
    if (above && (char *)r + r->size == (char *)above) {   /* swallow the range above */
        r->higher = above->higher;
        if (above->higher)
            above->higher->lower = r;
        age_unlink(above);
        r->size += above->size;
        memset(above, 0, sizeof *above);
        cache.n--;
    }
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
 * smallest range that holds it (what is left on either side stays cached).
 * (Cutting matters: the cache once served exact sizes only, and each large
 * block of a new size was then a fresh mapping whose pages fault one by
 * one, ~9 us each on this project's VMs: half of fuzz_diff's time.) */
static char *cache_take(size_t size, size_t align, bool zero)
{
    if (!cache.max_entries)
        return NULL;
    struct cache_range *best = NULL;
    char *best_at = NULL;
    for (struct cache_range *r = cache.lowest; r; r = r->higher) {
        char *at = (char *)pm_round_up((uintptr_t)r, align);
        if (at + size > (char *)r + r->size)
            continue;
        if (!best || r->size < best->size) {
            best = r;
            best_at = at;
            if (r->size == size)
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
    if (zero) {
        int saved = errno;
        zero_resident(best_at, size);
        errno = saved;
    }
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
    if (cache.max_entries)
        zero_resident(p, size);   /* reads as zero as after madvise, without refaults */
    else
        madvise(p, size, MADV_DONTNEED);
    errno = saved;
    os->decommitted += size;
}
