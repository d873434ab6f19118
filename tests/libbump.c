/* tests/libbump.c — libbump.so, a small allocator with the C malloc API, for
 * the `lib:PATH` backend's tests (tests/test_lib.c, tests/cli/lib.sh): a
 * library a user could have written, loaded by pymemlab with lib:PATH and
 * preloaded natively by `validate`.
 *
 * Design (chosen so that its footprint can be computed by hand):
 *  - memory comes in chunks of 64 MiB (or one chunk of the size of a larger
 *    request), mmap'ed anonymous and private, never touched by the
 *    allocator except for block headers;
 *  - a block is a 16-byte header (the block's size) followed by the request
 *    rounded up to 16 bytes; blocks are laid out back to back from the
 *    start of the current chunk; a request that does not fit in what is left
 *    of the chunk starts a new one (the tail stays untouched);
 *  - free never reuses memory: it only counts; malloc_trim, when no block is
 *    live, unmaps every chunk and starts over (returns 1), else returns 0;
 *  - realloc always moves (malloc, copy, free); calloc is malloc (memory is
 *    never reused, so it is still zero from mmap);
 *  - memalign, posix_memalign, aligned_alloc, valloc and pvalloc too, so
 *    that preloaded into a program no block comes from glibc;
 *  - one spin lock: safe with threads.
 * libbump_counters() exports its counters for the tests.
 *
 * So n requests of s bytes (s a multiple of 16) touch n * (s + 16) bytes
 * from the start of a chunk: ceil(n * (s + 16) / 4096) pages.
 */
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define CHUNK ((size_t)64 << 20)
#define HDR 16

struct chunk {
    char *base;
    size_t size;
};

static struct chunk chunks[4096];
static size_t nchunks;
static char *cur, *end;                 /* free space of the current chunk */
static uint64_t nmalloc, nfree, live;
static int lock_word;

static void lock(void)
{
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        ;
}

static void unlock(void)
{
    __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

/* A block of n bytes whose start is a multiple of align (16..CHUNK). */
static void *bump(size_t n, size_t align)
{
    if (n > CHUNK * 64) {
        errno = ENOMEM;
        return NULL;
    }
    size_t sz = (n + 15) & ~(size_t)15;
    if (!sz)
        sz = 16;
    lock();
    char *p = NULL;
    for (int tries = 0; tries < 2 && !p; tries++) {
        if (cur) {
            uintptr_t a = ((uintptr_t)cur + HDR + align - 1) & ~(uintptr_t)(align - 1);
            if (a + sz <= (uintptr_t)end && a + sz > a)
                p = (char *)a;
        }
        if (!p) {
            if (nchunks == sizeof chunks / sizeof *chunks)
                break;
            size_t want = sz + HDR + align > CHUNK ? ((sz + HDR + align + 4095) & ~(size_t)4095) : CHUNK;
            void *m = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED)
                break;
            chunks[nchunks++] = (struct chunk){m, want};
            cur = m;
            end = (char *)m + want;
        }
    }
    if (p) {
        ((size_t *)(void *)(p - HDR))[0] = sz;
        cur = p + sz;
        nmalloc++;
        live++;
    }
    unlock();
    if (!p)
        errno = ENOMEM;
    return p;
}

EXPORT void *malloc(size_t n)
{
    return bump(n, 16);
}

EXPORT void free(void *p)
{
    if (!p)
        return;
    lock();
    nfree++;
    live--;
    unlock();
}

EXPORT size_t malloc_usable_size(void *p)
{
    return p ? ((size_t *)p)[-2] : 0;
}

EXPORT void *calloc(size_t k, size_t n)
{
    if (n && k > SIZE_MAX / n) {
        errno = ENOMEM;
        return NULL;
    }
    return bump(k * n, 16);     /* never-reused mmap memory: already zero */
}

#ifndef LIBBUMP_NO_REALLOC
EXPORT void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    void *q = malloc(n);
    if (!q)
        return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    free(p);
    return q;
}
#endif

EXPORT int malloc_trim(size_t pad)
{
    (void)pad;
    int done = 0;
    lock();
    if (live == 0 && nchunks) {
        for (size_t i = 0; i < nchunks; i++)
            munmap(chunks[i].base, chunks[i].size);
        nchunks = 0;
        cur = end = NULL;
        done = 1;
    }
    unlock();
    return done;
}

EXPORT void *memalign(size_t align, size_t n)
{
    if (align < 16)
        align = 16;
    if (align & (align - 1) || align > CHUNK) {
        errno = EINVAL;
        return NULL;
    }
    return bump(n, align);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) || align & (align - 1))
        return EINVAL;
    int saved = errno;
    void *p = memalign(align, n);
    int e = errno;
    errno = saved;
    if (!p)
        return e;
    *out = p;
    return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

EXPORT void *valloc(size_t n)
{
    return memalign(4096, n);
}

EXPORT void *pvalloc(size_t n)
{
    return memalign(4096, (n + 4095) & ~(size_t)4095);
}

/* For the tests: calls and live blocks so far, and the current chunk. */
EXPORT void libbump_counters(uint64_t out[3], uintptr_t chunk[2]);
EXPORT void libbump_counters(uint64_t out[3], uintptr_t chunk[2])
{
    lock();
    out[0] = nmalloc;
    out[1] = nfree;
    out[2] = live;
    chunk[0] = nchunks ? (uintptr_t)chunks[nchunks - 1].base : 0;
    chunk[1] = nchunks ? (uintptr_t)end : 0;
    unlock();
}
