/* fuzz/fuzz_diff.c — differential: one operation sequence on every own
 * backend that keeps contents (each at its defaults; null is left out, its
 * blocks alias) and on `system`, the reference. Every observable result must
 * agree with system's:
 *   - NULL: never for a request system serves (no faults here); a request of
 *     FZ_HUGE bytes or more, or an overflowing calloc, is NULL + ENOMEM on
 *     every own backend (system is not asked: ASan and libFuzzer's malloc
 *     limit would abort the process, not return NULL);
 *   - contents: the same bytes are written into every backend's block, and
 *     after every operation the block it touched reads the same on every
 *     backend (every DF_COMPARE_EVERY operations and at the end: every
 *     block); realloc keeps min(old, new) bytes; calloc's memory is zero;
 *   - usable_size >= the size requested, 16-byte alignment;
 * and at the end every block is freed and each own backend's destroy gives
 * back every byte it mapped.
 *
 * Input: operations, each an op byte (low 3 bits), a slot byte and
 * arguments:
 *   0-1 malloc SIZE SEED     2 calloc COUNT SIZE     3-4 realloc SIZE SEED
 *   5 free                   6 write OFF16 LEN16 SEED  7 trim, then compare all
 * SIZE is fz_size; COUNT one byte (0..23, or 2^28.. from 0xE0 up); SEED one
 * byte: the bytes written are a function of it, the slot and the offset.
 */
#include "fuzz_common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DF_SLOTS 32
#define DF_BUDGET ((uint64_t)4 << 20)   /* requested bytes live, per backend */
#define DF_COMPARE_EVERY 8

struct df_heap {
    const struct fz_backend *b;
    pm_heap_t *h;
    struct fz_misuse mis;
    unsigned char *p[DF_SLOTS];
};

struct df {
    struct df_heap heap[FZ_MAX_BACKENDS];   /* heap[0] is system, the reference */
    size_t nheaps;
    size_t n[DF_SLOTS];                     /* requested size of each live slot */
    bool live[DF_SLOTS];
    uint64_t live_bytes;                    /* sum of n over live slots */
    uint64_t nops;
    uint64_t mapped_before;
};

/* The bytes written: a window of a fixed pseudo-random table, at an offset
 * that depends on the seed and the slot (copied, not computed per byte:
 * per-byte hashing of megabyte blocks took most of the run time). */
static unsigned char pattern_table[2 * 65536];

static void write_pattern(unsigned char *p, size_t from, size_t to, unsigned seed, unsigned slot)
{
    if (!pattern_table[0]) {
        uint32_t x = 0x9E3779B9u;
        for (size_t i = 0; i < sizeof pattern_table / 2; i++) {
            x = x * 1664525u + 1013904223u;
            pattern_table[i] = pattern_table[i + 65536] = (unsigned char)(x >> 24);
        }
        pattern_table[0] = pattern_table[65536] = 1;   /* also marks the table made */
    }
    size_t off = (seed * 977u + slot * 131u + from) & 0xFFFF;
    while (from < to) {
        size_t n = to - from < 65536 ? to - from : 65536;
        memcpy(p + from, pattern_table + off, n);
        from += n;
        off = (off + n) & 0xFFFF;
    }
}

/* Every backend's block of slot reads as the reference's. */
static void compare_slot(const struct df *d, unsigned slot, const char *when)
{
    if (!d->live[slot])
        return;
    const unsigned char *ref = d->heap[0].p[slot];
    for (size_t k = 1; k < d->nheaps; k++) {
        const unsigned char *q = d->heap[k].p[slot];
        if (memcmp(q, ref, d->n[slot]) != 0) {
            size_t i = 0;
            while (q[i] == ref[i])
                i++;
            fz_fail("%s: slot %u, %s: byte %zu of %zu is %#x, %s has %#x (op %llu)",
                    d->heap[k].b->spec, slot, when, i, d->n[slot], q[i], d->heap[0].b->spec,
                    ref[i], (unsigned long long)d->nops);
        }
    }
}

static void compare_all(const struct df *d, const char *when)
{
    for (unsigned s = 0; s < DF_SLOTS; s++)
        compare_slot(d, s, when);
}

/* Checks a block just returned for n bytes. */
static void check_block(const struct df_heap *x, const unsigned char *p, size_t n, const char *what)
{
    FZ_REQUIRE(((uintptr_t)p & (PM_ALIGNMENT - 1)) == 0, "%s: %s(%zu) = %p: not %d-byte aligned",
               x->b->spec, what, n, (const void *)p, PM_ALIGNMENT);
    if (x->b->ops->usable_size) {
        size_t u = x->b->ops->usable_size(x->h, (void *)p);
        FZ_REQUIRE(u >= n, "%s: %s(%zu) = %p: usable_size %zu", x->b->spec, what, n,
                   (const void *)p, u);
    }
}

static void df_free(struct df *d, unsigned slot)
{
    if (!d->live[slot])
        return;
    for (size_t k = 0; k < d->nheaps; k++) {
        d->heap[k].b->ops->free(d->heap[k].h, d->heap[k].p[slot]);
        d->heap[k].p[slot] = NULL;
    }
    d->live[slot] = false;
    d->live_bytes -= d->n[slot];
}

/* malloc (count == 0 and !is_calloc) or calloc(count, n). */
static void df_alloc(struct df *d, unsigned slot, bool is_calloc, size_t count, size_t n,
                     unsigned seed)
{
    size_t total = n;
    bool impossible = is_calloc ? __builtin_mul_overflow(count, n, &total) || total >= FZ_HUGE
                                : n >= FZ_HUGE;
    const char *what = is_calloc ? "calloc" : "malloc";
    df_free(d, slot);
    if (!impossible && d->live_bytes + total > DF_BUDGET)
        return;
    for (size_t k = 0; k < d->nheaps; k++) {
        struct df_heap *x = &d->heap[k];
        if (impossible && (x->b->props & FZ_GLOBAL))
            continue;
        errno = 0;
        unsigned char *p = is_calloc ? x->b->ops->calloc(x->h, count, n) : x->b->ops->malloc(x->h, n);
        if (impossible) {
            FZ_REQUIRE(!p && errno == ENOMEM, "%s: %s(%zu, %zu) = %p (errno %d): must be NULL + ENOMEM",
                       x->b->spec, what, count, n, (void *)p, errno);
            continue;
        }
        FZ_REQUIRE(p, "%s: %s(%zu, %zu) = NULL (errno %d): a %zu-byte request every backend must serve",
                   x->b->spec, what, is_calloc ? count : n, is_calloc ? n : 0, errno, total);
        check_block(x, p, total, what);
        size_t z = is_calloc ? fz_diff_at(p, total, 0) : total;
        FZ_REQUIRE(z == total, "%s: calloc(%zu, %zu): byte %zu is %#x", x->b->spec, count, n, z,
                   z < total ? p[z] : 0);
        if (!is_calloc)
            write_pattern(p, 0, total, seed, slot);
        x->p[slot] = p;
    }
    if (impossible)
        return;
    d->live[slot] = true;
    d->n[slot] = total;
    d->live_bytes += total;
}

static void df_realloc(struct df *d, unsigned slot, size_t n, unsigned seed)
{
    bool impossible = n >= FZ_HUGE;
    size_t old = d->live[slot] ? d->n[slot] : 0;
    if (!impossible && d->live_bytes - old + n > DF_BUDGET)
        return;
    for (size_t k = 0; k < d->nheaps; k++) {
        struct df_heap *x = &d->heap[k];
        if (impossible && (x->b->props & FZ_GLOBAL))
            continue;
        errno = 0;
        unsigned char *p = x->b->ops->realloc(x->h, x->p[slot], n);
        if (impossible) {
            FZ_REQUIRE(!p && errno == ENOMEM, "%s: realloc(%zu) = %p (errno %d): must be NULL + ENOMEM",
                       x->b->spec, n, (void *)p, errno);
            continue;
        }
        FZ_REQUIRE(p, "%s: realloc(%p, %zu) = NULL (errno %d): a request every backend must serve",
                   x->b->spec, (void *)x->p[slot], n, errno);
        check_block(x, p, n, "realloc");
        x->p[slot] = p;
    }
    if (impossible) {
        compare_slot(d, slot, "after a failed realloc");
        return;
    }
    if (d->live[slot]) {
        d->n[slot] = old < n ? old : n;   /* the kept bytes must agree */
        compare_slot(d, slot, "after realloc");
    }
    for (size_t k = 0; k < d->nheaps; k++)
        write_pattern(d->heap[k].p[slot], old < n ? old : n, n, seed, slot);
    d->live[slot] = true;
    d->n[slot] = n;
    d->live_bytes += n - old;
}

static void df_write(struct df *d, unsigned slot, size_t off, size_t len, unsigned seed)
{
    if (!d->live[slot] || !d->n[slot])
        return;
    off %= d->n[slot];
    if (len > d->n[slot] - off)
        len = d->n[slot] - off;
    for (size_t k = 0; k < d->nheaps; k++)
        write_pattern(d->heap[k].p[slot], off, off + len, seed ^ 0x5A, slot);
}

static void df_open(struct df *d, const struct fz_backend *list, size_t n)
{
    memset(d, 0, sizeof *d);
    d->mapped_before = pm_os_total_mapped();
    for (size_t i = 0; i < n; i++) {
        struct df_heap *x = &d->heap[d->nheaps++];
        x->b = &list[i];
        struct pm_config cfg = {.on_misuse = fz_misuse_record, .misuse_ctx = &x->mis};
        char err[PM_ERR_LEN];
        x->h = pm_backend_create(x->b->spec, &cfg, NULL, err);
        FZ_REQUIRE(x->h, "%s: create failed: %s", x->b->spec, err);
    }
}

static void df_close(struct df *d)
{
    compare_all(d, "at the end");
    for (unsigned s = 0; s < DF_SLOTS; s++)
        df_free(d, s);
    for (size_t k = 0; k < d->nheaps; k++) {
        struct df_heap *x = &d->heap[k];
        if (x->b->ops->check) {
            char msg[PM_ERR_LEN];
            unsigned long bad = x->b->ops->check(x->h, msg);
            FZ_REQUIRE(!bad, "%s: check() found %lu violation(s): %s", x->b->spec, bad, msg);
        }
        x->b->ops->destroy(x->h);
    }
    uint64_t now = pm_os_total_mapped();
    FZ_REQUIRE(now == d->mapped_before, "destroy left %lld bytes mapped",
               (long long)(now - d->mapped_before));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz_backend list[FZ_MAX_BACKENDS];
    static size_t n;
    static struct df d;
    if (!n) {
        fz_target = "fuzz_diff";
        struct fz_backend all[FZ_MAX_BACKENDS];
        size_t got = fz_backends(all, FZ_MAX_BACKENDS, FZ_WITH_SYSTEM);
        for (size_t i = 0; i < got; i++)   /* system first: the reference */
            if (all[i].props & FZ_GLOBAL)
                list[n++] = all[i];
        if (n != 1)
            fz_fail("no `system` backend in the registry");
        for (size_t i = 0; i < got; i++)
            if (!(all[i].props & FZ_GLOBAL))
                list[n++] = all[i];
    }
    fz_recycle();
    struct fz_in in = {data, data + size};
    df_open(&d, list, n);
    while (fz_more(&in)) {
        unsigned op = fz_u8(&in) & 7, slot = fz_u8(&in) % DF_SLOTS;
        switch (op) {
        case 0:
        case 1: {
            size_t sz = fz_size(&in);
            df_alloc(&d, slot, false, 0, sz, fz_u8(&in));
            break;
        }
        case 2: {
            unsigned c = fz_u8(&in);
            size_t count = c < 0xE0 ? c % 24 : (size_t)1 << (28 + (c & 31));
            df_alloc(&d, slot, true, count, fz_size(&in), 0);
            break;
        }
        case 3:
        case 4: {
            size_t sz = fz_size(&in);
            df_realloc(&d, slot, sz, fz_u8(&in));
            break;
        }
        case 5:
            df_free(&d, slot);
            break;
        case 6: {
            size_t off = fz_u16(&in), len = fz_u16(&in);
            df_write(&d, slot, off, len, fz_u8(&in));
            break;
        }
        default:
            for (size_t k = 0; k < d.nheaps; k++)
                if (d.heap[k].b->ops->trim)
                    d.heap[k].b->ops->trim(d.heap[k].h);
            compare_all(&d, "after trim");
            break;
        }
        d.nops++;
        compare_slot(&d, slot, "after the operation");
        if (d.nops % DF_COMPARE_EVERY == 0)
            compare_all(&d, "periodic comparison");
    }
    df_close(&d);
    return 0;
}
