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
 * THE REAL OBMALLOC. When libpython 3.11 is found (the `cpython` backend,
 * allocators/cpython.c: CPython's own obmalloc, dlopen'ed), it runs the same
 * operations too (contents compared as above; not asked the impossible
 * requests) and the pymalloc model at the 3.11 preset (`pymalloc,large=
 * segfit`: the default preset; the large path is not compared) must agree
 * with it:
 *   - usable sizes: a small request (1..512 bytes) gets a block of its size
 *     class, (n + 15) & ~15 bytes (CPython's INDEX2SIZE(size class), which
 *     the real obmalloc has no API to ask: the class counts below show which
 *     class it used);
 *   - per size class, every DF_COMPARE_EVERY operations, after trim, at the
 *     end and again after everything is freed: pools holding a block,
 *     blocks in use, available blocks, as sys._debugmallocstats() prints
 *     them (the real one: libpython's _PyObject_DebugMallocStats, parsed;
 *     the model's: pm_pymalloc_report). These do not depend on where arenas
 *     land. The arena lines do (an arena not pool-aligned has 63 pools, not
 *     64, so the same pools fill a different number of arenas; "unused
 *     pools" and the bytes lines derived from them follow), and the real
 *     obmalloc is one per process whose arenas outlive an input (3.9+ keeps
 *     a wholly free arena): they are not compared.
 * The real obmalloc is process-global (one per library per process): every
 * input frees all it allocated, so each starts from empty pools.
 *
 * Input: operations, each an op byte (low 3 bits), a slot byte and
 * arguments:
 *   0-1 malloc SIZE SEED     2 calloc COUNT SIZE     3-4 realloc SIZE SEED
 *   5 free                   6 write OFF16 LEN16 SEED  7 trim (every backend but
 *   system, the reference), then compare all
 * SIZE is fz_size; COUNT one byte (0..23, or 2^28.. from 0xE0 up); SEED one
 * byte: the bytes written are a function of it, the slot and the offset.
 */
#include "fuzz_common.h"
#include "cpython.h"
#include "pymalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DF_SLOTS 32
#define DF_BUDGET ((uint64_t)4 << 20)   /* requested bytes live, per backend */
#define DF_LARGE ((size_t)65536)          /* a request of this many bytes or more is large */
#define DF_LARGE_BUDGET ((uint64_t)1 << 20)   /* large bytes requested per input at most */
#define DF_COMPARE_EVERY 8
#define DF_MODEL "pymalloc,large=segfit"   /* fz_backends' pymalloc: preset 3.11 */
#define DF_REAL "cpython"                  /* version 3.11, the default */

struct df_heap {
    const struct fz_backend *b;
    pm_heap_t *h;
    struct fz_misuse mis;
    unsigned char *p[DF_SLOTS];
};

struct df {
    struct df_heap heap[FZ_MAX_BACKENDS + 1];   /* heap[0] is system, the reference */
    size_t nheaps;
    int model, real;                        /* heap indices of pymalloc (3.11) and cpython, or -1 */
    size_t n[DF_SLOTS];                     /* requested size of each live slot */
    bool live[DF_SLOTS];
    uint64_t live_bytes;                    /* sum of n over live slots */
    uint64_t large_bytes;                   /* bytes of the large requests made so far */
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

/* ---- the pymalloc model against the real obmalloc ---- */

/* CPython 3.11's size class of a small request (obmalloc.c: ALIGNMENT 16,
 * SMALL_REQUEST_THRESHOLD 512); -1 for 0 and large requests (raw malloc). */
static int py_class(size_t n)
{
    return n >= 1 && n <= 512 ? (int)((n - 1) >> 4) : -1;
}

/* The class table of a sys._debugmallocstats() text: rows[c] = {pools,
 * blocks in use, avail blocks}; classes not printed have none. */
static void parse_class_rows(const char *text, size_t rows[PM_PYMALLOC_NCLASSES][3])
{
    memset(rows, 0, sizeof(size_t) * PM_PYMALLOC_NCLASSES * 3);
    const char *p = strstr(text, "-----   ----");
    FZ_REQUIRE(p, "cpython: no class table in the debugmallocstats report");
    p = strchr(p, '\n');
    while (p && p[1] != '\n' && p[1]) {
        unsigned cls, size;
        size_t pools, used, avail;
        FZ_REQUIRE(sscanf(p + 1, "%u %u %zu %zu %zu", &cls, &size, &pools, &used, &avail) == 5 &&
                       cls < PM_PYMALLOC_NCLASSES && size == 16 * (cls + 1),
                   "cpython: unreadable class row in the debugmallocstats report: %.60s", p + 1);
        rows[cls][0] = pools;
        rows[cls][1] = used;
        rows[cls][2] = avail;
        p = strchr(p + 1, '\n');
    }
}

static void compare_classes(const struct df *d, const char *when)
{
    if (d->real < 0 || d->model < 0)
        return;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    FZ_REQUIRE(f, "open_memstream failed");
    bool ok = pm_cpython_debugmallocstats(f);
    fclose(f);
    FZ_REQUIRE(ok, "cpython: no debugmallocstats report");
    size_t real[PM_PYMALLOC_NCLASSES][3];
    parse_class_rows(text, real);
    free(text);
    struct pm_pymalloc_report r;
    const struct df_heap *m = &d->heap[d->model];
    FZ_REQUIRE(pm_pymalloc_report(m->b->ops, m->h, &r), "%s: no pymalloc report", m->b->spec);
    static const char *const what[3] = {"pools", "blocks in use", "avail blocks"};
    for (unsigned c = 0; c < PM_PYMALLOC_NCLASSES; c++) {
        size_t mine[3] = {r.rows[c].pools, r.rows[c].blocks_in_use, r.rows[c].avail_blocks};
        for (unsigned k = 0; k < 3; k++)
            FZ_REQUIRE(mine[k] == real[c][k],
                       "%s: class %u (%u bytes), %s: %s has %zu, the real obmalloc (cpython 3.11) "
                       "%zu (op %llu)", when, c, 16 * (c + 1), what[k], m->b->spec, mine[k],
                       real[c][k], (unsigned long long)d->nops);
    }
}

/* Checks a block just returned for n bytes. */
static void check_block(const struct df_heap *x, const unsigned char *p, size_t n, const char *what,
                        bool exact_class)
{
    FZ_REQUIRE(((uintptr_t)p & (PM_ALIGNMENT - 1)) == 0, "%s: %s(%zu) = %p: not %d-byte aligned",
               x->b->spec, what, n, (const void *)p, PM_ALIGNMENT);
    if (x->b->ops->usable_size) {
        size_t u = x->b->ops->usable_size(x->h, (void *)p);
        FZ_REQUIRE(u >= n, "%s: %s(%zu) = %p: usable_size %zu", x->b->spec, what, n,
                   (const void *)p, u);
        /* the model: a new small block is a block of CPython's class
         * (compare_classes shows the real one used that class). Not for
         * realloc: a shrink by less than a quarter stays in its block, a
         * large block stays large, as in CPython. */
        int c = py_class(n);
        FZ_REQUIRE(!exact_class || c < 0 || u == 16 * (size_t)(c + 1),
                   "%s: %s(%zu): usable_size %zu, CPython 3.11's size class %d has %d-byte blocks",
                   x->b->spec, what, n, u, c, 16 * (c + 1));
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

/* False if a request of n bytes would pass DF_LARGE_BUDGET (then it is
 * skipped, as one past DF_BUDGET); else counts it. Every large request is
 * written, copied and compared on every backend: one input of megabyte
 * reallocs cost tens of milliseconds (fuzz/README.md, "Speed"). */
static bool large_ok(struct df *d, size_t n, bool impossible)
{
    if (impossible || n < DF_LARGE)
        return true;
    if (d->large_bytes + n > DF_LARGE_BUDGET)
        return false;
    d->large_bytes += n;
    return true;
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
    if (!large_ok(d, total, impossible))
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
        check_block(x, p, total, what, (int)k == d->model);
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
    if (!large_ok(d, n, impossible))
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
        check_block(x, p, n, "realloc", false);
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
    d->model = d->real = -1;
    for (size_t i = 0; i < d->nheaps; i++) {
        if (!strcmp(d->heap[i].b->spec, DF_MODEL))
            d->model = (int)i;
        if (!strcmp(d->heap[i].b->spec, DF_REAL))
            d->real = (int)i;
    }
    static bool said;
    if (!said && fz_verbose()) {
        said = true;
        fprintf(stderr, "fuzz_diff: %zu backends; %s compared with the real obmalloc: %s\n",
                d->nheaps, DF_MODEL, d->model >= 0 && d->real >= 0 ? "yes" : "no");
    }
    compare_classes(d, "at the start");
}

static void df_close(struct df *d)
{
    compare_all(d, "at the end");
    compare_classes(d, "at the end");
    for (unsigned s = 0; s < DF_SLOTS; s++)
        df_free(d, s);
    compare_classes(d, "after freeing every block");
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
    static struct fz_backend list[FZ_MAX_BACKENDS + 1];
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
        /* the real obmalloc, when its library is here (a reference backend,
         * not in fz_backends' list) */
        const struct allocator_ops *py = pm_backend_find(DF_REAL);
        if (py && !(py->unavailable && py->unavailable())) {
            snprintf(list[n].spec, sizeof list[n].spec, "%s", DF_REAL);
            list[n].ops = py;
            list[n].props = fz_props_of(DF_REAL, py);
            n++;
        } else if (fz_verbose()) {
            fprintf(stderr, "fuzz_diff: cpython unavailable (%s): the pymalloc model is not "
                            "compared with the real obmalloc\n", py ? py->unavailable() : "not built");
        }
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
            /* not the reference's: glibc's malloc_trim gives free pages
             * back (MADV_DONTNEED) and later inputs fault them in again
             * one by one, which was a third of this target's time; system
             * is what the others are compared with, not under test */
            for (size_t k = 1; k < d.nheaps; k++)
                if (d.heap[k].b->ops->trim)
                    d.heap[k].b->ops->trim(d.heap[k].h);
            compare_all(&d, "after trim");
            compare_classes(&d, "after trim");
            break;
        }
        d.nops++;
        compare_slot(&d, slot, "after the operation");
        if (d.nops % DF_COMPARE_EVERY == 0) {
            compare_all(&d, "periodic comparison");
            compare_classes(&d, "periodic comparison");
        }
    }
    df_close(&d);
    return 0;
}
