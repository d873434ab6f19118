/* tests/test_buddy.c — the `buddy` backend (allocators/buddy.c): size-to-order
 * mapping, split and coalesce sequences with exact free-list counts per
 * order, empty regions going back to the OS, in-place realloc, stats, check()
 * catching corruption, internal fragmentation against its derived value,
 * misuse (death tests in a forked child with the harness' abort handler, and
 * the counting and recording policies), bad options, out-of-memory injection.
 */
#include "pm_test.h"
#include "buddy.h"
#include "cli.h"
#include "pm_asan.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static pm_heap_t *create_with(const char *spec, const struct pm_config *cfg)
{
    char err[PM_ERR_LEN];
    pm_heap_t *h = pm_backend_create(spec, cfg, NULL, err);
    if (!h)
        fail_msg("create %s: %s", spec, err);
    return h;
}

static struct pm_stats stats_of(pm_heap_t *h)
{
    struct pm_stats st;
    pm_buddy_ops.stats(h, &st);
    return st;
}

/* Free-list lengths of orders lo..hi must equal want[0..hi-lo]. */
static void expect_free_counts(pm_heap_t *h, unsigned lo, unsigned hi, const size_t *want)
{
    for (unsigned o = lo; o <= hi; o++) {
        size_t got = pm_buddy_free_blocks(h, o);
        if (got != want[o - lo])
            fail_msg("free list of order %u (%zu bytes): %zu blocks, expected %zu", o,
                     (size_t)1 << o, got, want[o - lo]);
    }
    pmt_check_clean(&pm_buddy_ops, h);
}

/* ---- order mapping ------------------------------------------------------- */

static void test_order_mapping(void **state)
{
    (void)state;
    pm_heap_t *h = create_with("buddy", NULL);
    unsigned lo, hi;
    pm_buddy_orders(h, &lo, &hi);
    assert_int_equal(lo, 4);
    assert_int_equal(hi, 20);
    size_t page = pm_os_page_size();
    static const struct { size_t n, block; } cases[] = {
        {0, 16}, {1, 16}, {15, 16}, {16, 16}, {17, 32}, {32, 32}, {33, 64},
        {100, 128}, {128, 128}, {129, 256}, {500, 512}, {512, 512}, {513, 1024},
        {4096, 4096}, {4097, 8192}, {65535, 65536}, {300000, 512 * 1024},
        {512 * 1024 + 1, MiB}, {MiB, MiB},
    };
    uint64_t used = 0;
    void *p[sizeof cases / sizeof *cases];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        p[i] = pm_buddy_ops.malloc(h, cases[i].n);
        assert_non_null(p[i]);
        if (pm_buddy_ops.usable_size(h, p[i]) != cases[i].block)
            fail_msg("request %zu: block of %zu bytes, expected %zu", cases[i].n,
                     pm_buddy_ops.usable_size(h, p[i]), cases[i].block);
        assert_int_equal((uintptr_t)p[i] % cases[i].block, 0);   /* naturally aligned */
        used += cases[i].block;
    }
    /* above the region size: mapped directly, page-rounded */
    char *big = pm_buddy_ops.malloc(h, MiB + 1);
    assert_non_null(big);
    assert_int_equal(pm_buddy_ops.usable_size(h, big), MiB + page);
    used += MiB + page;
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.used_bytes, used);
    assert_int_equal(st.large_blocks, 1);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.free(h, big);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        pm_buddy_ops.free(h, p[i]);
    assert_int_equal(stats_of(h).used_bytes, 0);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);

    /* other geometry: 32-byte granule, 64 KiB regions */
    h = create_with("buddy,min=32,max=64K", NULL);
    pm_buddy_orders(h, &lo, &hi);
    assert_int_equal(lo, 5);
    assert_int_equal(hi, 16);
    void *a = pm_buddy_ops.malloc(h, 1), *b = pm_buddy_ops.malloc(h, 65536),
         *c = pm_buddy_ops.malloc(h, 65537);
    assert_int_equal(pm_buddy_ops.usable_size(h, a), 32);
    assert_int_equal(pm_buddy_ops.usable_size(h, b), 65536);
    assert_int_equal(pm_buddy_ops.usable_size(h, c), 65536 + page);
    assert_int_equal(stats_of(h).large_blocks, 1);
    pm_buddy_ops.free(h, a);
    pm_buddy_ops.free(h, b);
    pm_buddy_ops.free(h, c);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

/* ---- split and coalesce -------------------------------------------------- */

static void test_split_and_coalesce_counts(void **state)
{
    (void)state;
    pm_heap_t *h = create_with("buddy", NULL);
    enum { LO = 4, HI = 20, N = HI - LO + 1 };
    size_t w[N];
    /* first 16-byte block: the region splits into one free block of every
     * order 4..19 (the upper halves), none of order 20 */
    char *a = pm_buddy_ops.malloc(h, 16);
    for (int i = 0; i < N; i++)
        w[i] = i < N - 1;
    expect_free_counts(h, LO, HI, w);
    uintptr_t base = (uintptr_t)a & ~(uintptr_t)(MiB - 1);
    assert_int_equal((uintptr_t)a, base);   /* the lower half is kept each time */

    char *b = pm_buddy_ops.malloc(h, 16);   /* takes the free 16 */
    assert_ptr_equal(b, a + 16);
    w[0] = 0;
    expect_free_counts(h, LO, HI, w);

    char *c = pm_buddy_ops.malloc(h, 10);   /* splits the 32 at +32 */
    assert_ptr_equal(c, a + 32);
    w[0] = 1;
    w[1] = 0;
    expect_free_counts(h, LO, HI, w);

    char *d = pm_buddy_ops.malloc(h, 64);   /* the free 64 at +64 */
    assert_ptr_equal(d, a + 64);
    w[2] = 0;
    expect_free_counts(h, LO, HI, w);

    pm_buddy_ops.free(h, b);                /* buddy a is in use: no merge */
    w[0] = 2;
    expect_free_counts(h, LO, HI, w);

    pm_buddy_ops.free(h, a);                /* a+b -> 32 at +0; its buddy holds c */
    w[0] = 1;
    w[1] = 1;
    expect_free_counts(h, LO, HI, w);

    pm_buddy_ops.free(h, c);                /* c+16 -> 32, +0..32 -> 64; buddy d in use */
    w[0] = 0;
    w[1] = 0;
    w[2] = 1;
    expect_free_counts(h, LO, HI, w);

    pm_buddy_ops.free(h, d);                /* merges up to the whole region, kept empty */
    for (int i = 0; i < N; i++)
        w[i] = i == N - 1;
    expect_free_counts(h, LO, HI, w);
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.arenas, 1);
    assert_int_equal(st.pools, 0);          /* no region with a block in use */
    assert_int_equal(st.used_bytes, 0);

    /* the cached empty region is reused, not a new mapping */
    uint64_t maps = pm_buddy_ops.os(h)->map_calls;
    char *e = pm_buddy_ops.malloc(h, 256);
    assert_ptr_equal(e, a);
    assert_int_equal(pm_buddy_ops.os(h)->map_calls, maps);
    pm_buddy_ops.free(h, e);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

/* ---- regions ------------------------------------------------------------- */

static void test_empty_region_released(void **state)
{
    (void)state;
    uint64_t before = pm_os_total_mapped();
    pm_heap_t *h = create_with("buddy", NULL);
    uint64_t empty_heap = stats_of(h).mapped_bytes;
    char *r1 = pm_buddy_ops.malloc(h, MiB);   /* a whole region each */
    char *r2 = pm_buddy_ops.malloc(h, MiB);
    char *s1 = pm_buddy_ops.malloc(h, 100);   /* a third region */
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.arenas, 3);
    uint64_t per_region = (st.mapped_bytes - empty_heap) / 3;
    assert_true(per_region > MiB && per_region < MiB + 64 * KiB);   /* region + state */
    assert_int_equal(st.meta_bytes + 3 * MiB, st.mapped_bytes);

    pm_buddy_ops.free(h, r1);                 /* empty: kept as the one cached region */
    st = stats_of(h);
    assert_int_equal(st.arenas, 3);
    assert_int_equal(st.pools, 2);
    assert_int_equal(pm_buddy_free_blocks(h, 20), 1);
    pmt_check_clean(&pm_buddy_ops, h);

    pm_buddy_ops.free(h, r2);                 /* a second empty region goes back */
    st = stats_of(h);
    assert_int_equal(st.arenas, 2);
    assert_int_equal(st.mapped_bytes, empty_heap + 2 * per_region);
    assert_int_equal(pm_buddy_free_blocks(h, 20), 1);
    pmt_check_clean(&pm_buddy_ops, h);

    pm_buddy_ops.free(h, s1);                 /* third region empty: also released */
    st = stats_of(h);
    assert_int_equal(st.arenas, 1);
    assert_int_equal(st.mapped_bytes, empty_heap + per_region);
    pm_buddy_ops.trim(h);                     /* trim releases the cached one */
    st = stats_of(h);
    assert_int_equal(st.arenas, 0);
    assert_int_equal(st.mapped_bytes, empty_heap);
    assert_int_equal(st.peak_mapped_bytes, empty_heap + 3 * per_region);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
    assert_int_equal(pm_os_total_mapped(), before);

    /* keep_empty=0: an empty region goes back at once */
    h = create_with("buddy,keep_empty=0", NULL);
    void *p = pm_buddy_ops.malloc(h, 32);
    assert_int_equal(stats_of(h).arenas, 1);
    pm_buddy_ops.free(h, p);
    assert_int_equal(stats_of(h).arenas, 0);
    assert_int_equal(stats_of(h).mapped_bytes, empty_heap);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

static void test_trim_decommits_big_free_blocks(void **state)
{
    (void)state;
    pm_heap_t *h = create_with("buddy", NULL);
    char *p = pm_buddy_ops.malloc(h, 16);   /* free blocks of 16 B .. 512 KiB remain */
    assert_non_null(p);
    pm_buddy_ops.trim(h);
    struct pm_os *os = pm_buddy_ops.os(h);
    size_t page = pm_os_page_size();
    uint64_t want = 0;
    for (unsigned o = 4; o < 20; o++)
        if (((size_t)1 << o) >= 2 * page)
            want += ((size_t)1 << o) - page;   /* all but the page with the links */
    assert_int_equal(os->decommitted, want);
    assert_int_equal(stats_of(h).arenas, 1);   /* a region in use stays mapped */
    pmt_check_clean(&pm_buddy_ops, h);
    char *q = pm_buddy_ops.malloc(h, 300 * KiB);   /* decommitted memory is usable */
    memset(q, 0x77, 300 * KiB);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.free(h, q);
    pm_buddy_ops.free(h, p);
    pm_buddy_ops.destroy(h);
}

/* ---- realloc ------------------------------------------------------------- */

static void test_realloc_in_place(void **state)
{
    (void)state;
    pm_heap_t *h = create_with("buddy", NULL);
    char *p = pm_buddy_ops.malloc(h, 1000);   /* 1 KiB at the region start */
    memset(p, 0x3C, 1000);
    /* shrink: same address, the upper halves (512, 256, 128, 64) become free */
    char *q = pm_buddy_ops.realloc(h, p, 40);
    assert_ptr_equal(q, p);
    assert_int_equal(pm_buddy_ops.usable_size(h, q), 64);
    for (unsigned o = 6; o <= 9; o++)
        assert_int_equal(pm_buddy_free_blocks(h, o), 1);
    for (int i = 0; i < 40; i++)
        assert_int_equal(q[i], 0x3C);
    pmt_check_clean(&pm_buddy_ops, h);
    /* grow: the buddies above are free, so it stays in place */
    q = pm_buddy_ops.realloc(h, q, 900);
    assert_ptr_equal(q, p);
    assert_int_equal(pm_buddy_ops.usable_size(h, q), 1024);
    assert_int_equal(stats_of(h).used_bytes, 1024);
    pmt_check_clean(&pm_buddy_ops, h);
    /* grow with the buddy in use: moves, keeps the contents */
    char *blocker = pm_buddy_ops.malloc(h, 1024);   /* p's buddy at +1K */
    assert_ptr_equal(blocker, p + 1024);
    memset(q, 0x5D, 1024);
    char *r = pm_buddy_ops.realloc(h, q, 2000);
    assert_ptr_not_equal(r, p);
    for (int i = 0; i < 1024; i++)
        assert_int_equal((unsigned char)r[i], 0x5D);
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.live_blocks, 2);
    assert_int_equal(st.used_bytes, 1024 + 2048);
    pmt_check_clean(&pm_buddy_ops, h);
    /* to and from a large block */
    r = pm_buddy_ops.realloc(h, r, 3 * MiB);
    assert_non_null(r);
    assert_int_equal(stats_of(h).large_blocks, 1);
    for (int i = 0; i < 1024; i++)
        assert_int_equal((unsigned char)r[i], 0x5D);
    r = pm_buddy_ops.realloc(h, r, 100);
    assert_int_equal(stats_of(h).large_blocks, 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal((unsigned char)r[i], 0x5D);
    pm_buddy_ops.free(h, r);
    pm_buddy_ops.free(h, blocker);
    st = stats_of(h);
    assert_int_equal(st.live_blocks, 0);
    assert_int_equal(st.nmalloc, st.nfree);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

/* ---- stats and check ----------------------------------------------------- */

static void test_stats_fields(void **state)
{
    (void)state;
    pm_heap_t *h = create_with("buddy", NULL);   /* no handler: misuse is counted */
    void *p[50];
    uint64_t used = 0;
    for (int i = 0; i < 50; i++) {
        p[i] = pm_buddy_ops.malloc(h, (size_t)(i * 37 + 1));
        used += pm_buddy_ops.usable_size(h, p[i]);
    }
    void *big = pm_buddy_ops.malloc(h, 2 * MiB);
    used += 2 * MiB;
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.used_bytes, used);
    assert_int_equal(st.live_blocks, 51);
    assert_int_equal(st.nmalloc, 51);
    assert_int_equal(st.nfree, 0);
    assert_int_equal(st.arenas, 1);
    assert_int_equal(st.pools, 1);
    assert_int_equal(st.large_blocks, 1);
    assert_int_equal(st.misuse, 0);
    assert_int_equal(st.mapped_bytes, st.meta_bytes + MiB + 2 * MiB);
    assert_true(st.meta_bytes > 0 && st.meta_bytes < 64 * KiB);
    assert_true(st.peak_mapped_bytes >= st.mapped_bytes);
    pm_buddy_ops.free(h, p[3]);
    pm_buddy_ops.free(h, p[3]);                 /* double free: counted, ignored */
    pm_buddy_ops.free(h, (char *)p[4] + 8);     /* misaligned: counted, ignored */
    st = stats_of(h);
    assert_int_equal(st.misuse, 2);
    assert_int_equal(st.nfree, 1);
    assert_int_equal(st.live_blocks, 50);
    pmt_check_clean(&pm_buddy_ops, h);
    for (int i = 0; i < 50; i++)
        if (i != 3)
            pm_buddy_ops.free(h, p[i]);
    pm_buddy_ops.free(h, big);
    st = stats_of(h);
    assert_int_equal(st.used_bytes, 0);
    assert_int_equal(st.live_blocks, 0);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

/* A deliberate write after free into a block's links (under ASan the free
 * block is poisoned: open it around the write, as buddy itself does). */
static void links_poke(void **links, int i, void *v)
{
    PM_UNPOISON(links, 2 * sizeof *links);
    links[i] = v;
    PM_POISON(links, 2 * sizeof *links);
}

static void *links_peek(void **links, int i)
{
    PM_UNPOISON(links, 2 * sizeof *links);
    void *v = links[i];
    PM_POISON(links, 2 * sizeof *links);
    return v;
}

/* check() notices free-list links damaged by a write after free. */
static void test_check_catches_damaged_links(void **state)
{
    (void)state;
    pm_heap_t *h = create_with("buddy", NULL);
    void *keep[4], *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = pm_buddy_ops.malloc(h, 64);
        keep[i] = pm_buddy_ops.malloc(h, 64);   /* buddies stay in use: no merging */
    }
    for (int i = 0; i < 4; i++)
        pm_buddy_ops.free(h, p[i]);             /* list of 64: p3 p2 p1 p0 ... */
    pmt_check_clean(&pm_buddy_ops, h);
    char msg[PM_ERR_LEN];
    void **links = p[1];                        /* next, prev of a block not first */
    void *saved = links_peek(links, 1);
    links_poke(links, 1, p[0]);                 /* prev now wrong */
    assert_true(pm_buddy_ops.check(h, msg) > 0);
    assert_non_null(strstr(msg, "wrong prev link"));
    links_poke(links, 1, saved);
    saved = links_peek(links, 0);
    links_poke(links, 0, (void *)(uintptr_t)0x1000);   /* next leaves every region */
    assert_true(pm_buddy_ops.check(h, msg) > 0);
    assert_non_null(strstr(msg, "outside every region"));
    links_poke(links, 0, saved);
    pmt_check_clean(&pm_buddy_ops, h);
    for (int i = 0; i < 4; i++)
        pm_buddy_ops.free(h, keep[i]);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

/* ---- internal fragmentation ---------------------------------------------
 *
 * No header: a request of n bytes gets the block 2^ceil(log2 n) (n > 16), so
 * the ratio R = sum of block sizes / sum of requested sizes is pure rounding.
 *
 * Sizes n uniform over the integers of whole octaves (2^a, 2^b], a >= 4:
 * octave k (2^k < n <= 2^(k+1)) holds 2^k integers, each getting a block of
 * 2^(k+1), so
 *   E[block] = sum_{k=a}^{b-1} 2^k * 2^(k+1) / (2^b - 2^a)
 *            = 2 (4^b - 4^a) / (3 (2^b - 2^a)) = 2 (2^a + 2^b) / 3,
 *   E[n]     = (2^a + 1 + 2^b) / 2,
 *   R        = E[block] / E[n] = (4/3) * S / (S + 1),   S = 2^a + 2^b.
 * The continuous model gives 4/3; the "+1" is the discrete correction (the
 * integers of (2^k, 2^(k+1)] average 1.5 * 2^k + 0.5, not 1.5 * 2^k). It
 * matters for small octaves: one octave (16, 32] gives 32 / 24.5 = 1.3061,
 * 2.0% below 4/3; for (16, 4096], S = 4112, R = 1.33301.
 * With 200,000 draws the relative standard error of R is about 0.1%, so the
 * 2% tolerance the issue asks for cannot be met by chance by a wrong model
 * off by more than that.
 */
static double measure_rounding(pm_heap_t *h, unsigned a, unsigned b, unsigned draws)
{
    enum { BATCH = 1000 };
    void *p[BATCH];
    uint64_t rng = 0xB0DD1E5ULL + a * 131 + b, requested = 0, blocks = 0;
    size_t lo = (size_t)1 << a, span = ((size_t)1 << b) - lo;
    for (unsigned done = 0; done < draws; done += BATCH) {
        uint64_t req = 0, sum_usable = 0;
        for (int i = 0; i < BATCH; i++) {
            size_t n = lo + 1 + (size_t)(pmt_rand(&rng) % span);
            p[i] = pm_buddy_ops.malloc(h, n);
            assert_non_null(p[i]);
            req += n;
            sum_usable += pm_buddy_ops.usable_size(h, p[i]);
        }
        assert_int_equal(stats_of(h).used_bytes, sum_usable);   /* used = block sizes */
        requested += req;
        blocks += sum_usable;
        for (int i = 0; i < BATCH; i++)
            pm_buddy_ops.free(h, p[i]);
    }
    return (double)blocks / (double)requested;
}

static void expect_rounding(pm_heap_t *h, unsigned a, unsigned b)
{
    double s = (double)((1u << a) + (1u << b));
    double expected = 4.0 / 3.0 * s / (s + 1.0);
    double got = measure_rounding(h, a, b, 200000);
    print_message("buddy internal fragmentation, sizes uniform on (%u, %u]: measured %.5f, "
                  "derived %.5f (4/3 = %.5f)\n", 1u << a, 1u << b, got, expected, 4.0 / 3.0);
    if (got < expected * 0.98 || got > expected * 1.02)
        fail_msg("sizes on (%u, %u]: block/requested = %.5f, derived %.5f (off by more than 2%%)",
                 1u << a, 1u << b, got, expected);
}

static void test_internal_fragmentation(void **state)
{
    (void)state;
    pm_heap_t *h = create_with("buddy", NULL);
    expect_rounding(h, 4, 12);   /* eight octaves, (16, 4096]: 1.33301 */
    expect_rounding(h, 4, 5);    /* one small octave, (16, 32]: 1.30612 */
    expect_rounding(h, 9, 10);   /* (512, 1024]: 1.33247 */
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

/* ---- misuse: death tests ------------------------------------------------- */

/* Runs free (or realloc) of `bad` in a forked child of a heap whose misuse
 * handler is the harness' (print one line, abort). Expects SIGABRT and
 * `want` as the first line of the child's stderr. */
struct bad_call {
    pm_heap_t *h;
    void *bad;
    int use_realloc;
};

static void bad_call_run(void *arg)
{
    struct bad_call *c = arg;
    if (c->use_realloc)
        pm_buddy_ops.realloc(c->h, c->bad, 100);
    else
        pm_buddy_ops.free(c->h, c->bad);
}

static void expect_death(pm_heap_t *h, void *bad, int use_realloc, const char *want)
{
    struct bad_call c = {h, bad, use_realloc};
    pmt_expect_abort(bad_call_run, &c, want);
}

/* Under ASan, free blocks are poisoned (pm_asan.h): a read or write after
 * free, or past a block into its free buddy, is reported by ASan itself
 * (use-after-poison), links and rounding slack included where poisoned.
 * Without ASan the test checks only that the accesses it makes are legal. */
static void expect_asan_report(pm_heap_t *h, volatile unsigned char *at)
{
    pmt_asan_write((void *)at, 1, true);
    pmt_check_clean(&pm_buddy_ops, h);
}

static void test_asan_sees_free_blocks(void **state)
{
    (void)state;
    pm_heap_t *h = create_with("buddy", NULL);
    unsigned char *a = pm_buddy_ops.malloc(h, 64), *b = pm_buddy_ops.malloc(h, 64);
    unsigned char *c = pm_buddy_ops.malloc(h, 4000);
    memset(a, 1, 64);                               /* the whole block is usable */
    memset(c, 1, 4096);                             /* rounding slack too (usable_size) */
    pm_buddy_ops.free(h, b);
    expect_asan_report(h, b);                       /* the links of a free block */
    expect_asan_report(h, b + 40);                  /* past the links */
    expect_asan_report(h, a + 64);                  /* overflow into the free buddy */
    unsigned char *d = pm_buddy_ops.realloc(h, c, 1000);   /* shrink in place */
    assert_ptr_equal(d, c);
    expect_asan_report(h, d + 1024);                /* the upper half went free */
    d = pm_buddy_ops.realloc(h, d, 4000);           /* grows back in place */
    assert_ptr_equal(d, c);
    memset(d, 2, 4096);
    pm_buddy_ops.free(h, a);
    pm_buddy_ops.free(h, d);
    expect_asan_report(h, a);                       /* merged and on a bigger list */
    pm_buddy_ops.trim(h);                           /* the region goes back: unpoisoned */
    pm_buddy_ops.destroy(h);
}

static pm_heap_t *create_aborting(void)
{
    struct pm_config cfg = {.on_misuse = pm_cli_misuse_abort};
    return create_with("buddy", &cfg);
}

static void test_death_double_free(void **state)
{
    (void)state;
    pm_heap_t *h = create_aborting();
    char *p = pm_buddy_ops.malloc(h, 64), *q = pm_buddy_ops.malloc(h, 64);
    char *r = pm_buddy_ops.malloc(h, 128);
    pm_buddy_ops.free(h, p);   /* buddy q in use: p stays a free 64-byte block */
    char want[256];
    snprintf(want, sizeof want, "pymemlab: buddy: double free at %p: already free (free 64-byte block at %p)",
             (void *)p, (void *)p);
    expect_death(h, p, 0, want);
    /* after coalescing: q merges with p into a free 128 starting at p */
    pm_buddy_ops.free(h, q);
    snprintf(want, sizeof want, "pymemlab: buddy: double free at %p: already free (free 128-byte block at %p)",
             (void *)q, (void *)p);
    expect_death(h, q, 0, want);
    snprintf(want, sizeof want,
             "pymemlab: buddy: double free at %p: realloc: already free (free 128-byte block at %p)",
             (void *)p, (void *)p);
    expect_death(h, p, 1, want);
    pm_buddy_ops.free(h, r);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

static void test_death_foreign_pointer(void **state)
{
    (void)state;
    pm_heap_t *h = create_aborting();
    void *mine = pm_buddy_ops.malloc(h, 32);
    _Alignas(16) char stack_buf[64];
    char want[256];
    snprintf(want, sizeof want, "pymemlab: buddy: foreign pointer at %p: not in any buddy region or large block",
             (void *)stack_buf);
    expect_death(h, stack_buf, 0, want);
    void *g = malloc(64);   /* a glibc block */
    snprintf(want, sizeof want, "pymemlab: buddy: foreign pointer at %p: not in any buddy region or large block",
             g);
    expect_death(h, g, 0, want);
    snprintf(want, sizeof want,
             "pymemlab: buddy: foreign pointer at %p: realloc: not in any buddy region or large block", g);
    expect_death(h, g, 1, want);
    free(g);
    /* another buddy heap's block is foreign too */
    pm_heap_t *other = create_with("buddy", NULL);
    void *o = pm_buddy_ops.malloc(other, 32);
    snprintf(want, sizeof want, "pymemlab: buddy: foreign pointer at %p: not in any buddy region or large block",
             o);
    expect_death(h, o, 0, want);
    pm_buddy_ops.free(other, o);
    pm_buddy_ops.destroy(other);
    pm_buddy_ops.free(h, mine);
    pm_buddy_ops.destroy(h);
}

static void test_death_misaligned_pointer(void **state)
{
    (void)state;
    pm_heap_t *h = create_aborting();
    char *p = pm_buddy_ops.malloc(h, 64);
    char want[256];
    snprintf(want, sizeof want, "pymemlab: buddy: misaligned pointer at %p: 16 bytes into the 64-byte block at %p",
             (void *)(p + 16), (void *)p);
    expect_death(h, p + 16, 0, want);
    snprintf(want, sizeof want, "pymemlab: buddy: misaligned pointer at %p: 8 bytes into the 64-byte block at %p",
             (void *)(p + 8), (void *)p);
    expect_death(h, p + 8, 0, want);
    char *big = pm_buddy_ops.malloc(h, 2 * MiB);
    snprintf(want, sizeof want,
             "pymemlab: buddy: misaligned pointer at %p: 4096 bytes into the large 2097152-byte block at %p",
             (void *)(big + 4096), (void *)big);
    expect_death(h, big + 4096, 0, want);
    pm_buddy_ops.free(h, big);
    pm_buddy_ops.free(h, p);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

/* A handler that records and returns: the backend must ignore the call. */
struct seen { int calls; enum pm_misuse_kind kind; const void *ptr; char backend[16]; };

static void record_misuse(void *ctx, const char *backend, enum pm_misuse_kind kind,
                          const void *ptr, const char *detail)
{
    struct seen *s = ctx;
    (void)detail;
    s->calls++;
    s->kind = kind;
    s->ptr = ptr;
    snprintf(s->backend, sizeof s->backend, "%s", backend);
}

static void test_misuse_recorded_and_ignored(void **state)
{
    (void)state;
    struct seen s = {0};
    struct pm_config cfg = {.on_misuse = record_misuse, .misuse_ctx = &s};
    pm_heap_t *h = create_with("buddy", &cfg);
    char *p = pm_buddy_ops.malloc(h, 48), *q = pm_buddy_ops.malloc(h, 48);
    pm_buddy_ops.free(h, p);
    size_t free64 = pm_buddy_free_blocks(h, 6);
    pm_buddy_ops.free(h, p);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.kind, PM_MISUSE_DOUBLE_FREE);
    assert_ptr_equal(s.ptr, p);
    assert_string_equal(s.backend, "buddy");
    assert_int_equal(pm_buddy_free_blocks(h, 6), free64);   /* nothing changed */
    pm_buddy_ops.free(h, q + 32);
    assert_int_equal(s.kind, PM_MISUSE_MISALIGNED_POINTER);
    int local;
    pm_buddy_ops.free(h, &local);
    assert_int_equal(s.kind, PM_MISUSE_FOREIGN_POINTER);
    assert_null(pm_buddy_ops.realloc(h, &local, 10));
    assert_int_equal(s.calls, 4);
    assert_int_equal(pm_buddy_ops.usable_size(h, &local), 0);   /* a query: no report */
    assert_int_equal(s.calls, 4);
    assert_int_equal(stats_of(h).misuse, 4);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.free(h, q);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

/* ---- bad options --------------------------------------------------------- */

static void test_bad_options(void **state)
{
    (void)state;
    static const struct { const char *spec, *msg; } cases[] = {
        {"buddy,min=0", "buddy: min must not be zero"},
        {"buddy,max=0", "buddy: max must not be zero"},
        {"buddy,max=3M", "buddy: max=3M is not a power of two (blocks and regions are 2^k bytes)"},
        {"buddy,min=24", "buddy: min=24 is not a power of two (blocks and regions are 2^k bytes)"},
        {"buddy,min=64K,max=32K",
         "buddy: smallest block 65536 bytes is above the region size 32768 bytes (min > max)"},
        {"buddy,min_order=21,max_order=20",
         "buddy: smallest block 2097152 bytes is above the region size 1048576 bytes (min > max)"},
        {"buddy,min=8", "buddy: smallest block 8 bytes is below 16 (a free block holds two links)"},
        {"buddy,min_order=0", "buddy: smallest block 1 bytes is below 16 (a free block holds two links)"},
        {"buddy,max=2K", "buddy: region of 2048 bytes is below the page size 4096 bytes"},
        {"buddy,max=2G", "buddy: region of 2^31 bytes is above 1 GiB (2^30)"},
        {"buddy,foo=1",
         "buddy: unknown option 'foo' (known: min, max, min_order, max_order, keep_empty)"},
        {"buddy,min=abc", "buddy: bad size for min: 'abc' (expected bytes, K/M/G allowed)"},
        {"buddy,min_order=x", "buddy: bad value for min_order: 'x' (expected a whole number 0..63, log2 of bytes)"},
        {"buddy,max_order=99", "buddy: bad value for max_order: '99' (expected a whole number 0..63, log2 of bytes)"},
        {"buddy,max_order=40", "buddy: region of 2^40 bytes is above 1 GiB (2^30)"},
        {"buddy,min=32,min_order=5",
         "buddy: 'min' and 'min_order' both set the smallest block size; give one"},
        {"buddy,max=1M,max=2M", "buddy: option 'max' given twice"},
        {"buddy,max_order=20,max=1M",
         "buddy: 'max_order' and 'max' both set the largest (region) block size; give one"},
        {"buddy,keep_empty=-1", "buddy: bad value for keep_empty: '-1' (expected 0..1024)"},
        {"buddy,keep_empty=5000", "buddy: bad value for keep_empty: '5000' (expected 0..1024)"},
        {"buddy,novalue", "buddy: malformed option 'novalue' (expected key=value)"},
    };
    if (pm_os_page_size() != 4096)
        skip();
    uint64_t before = pm_os_total_mapped();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[PM_ERR_LEN] = "";
        pm_heap_t *h = pm_backend_create(cases[i].spec, NULL, NULL, err);
        if (h)
            fail_msg("%s: created, expected '%s'", cases[i].spec, cases[i].msg);
        if (strcmp(err, cases[i].msg) != 0)
            fail_msg("%s:\n  got:  '%s'\n  want: '%s'", cases[i].spec, err, cases[i].msg);
    }
    assert_int_equal(pm_os_total_mapped(), before);
    /* valid combinations */
    static const char *const ok[] = {
        "buddy,min=16,max=1M", "buddy,min_order=5,max_order=16", "buddy,max=4K",
        "buddy,min=4K,max=4K", "buddy,max=4M,keep_empty=0", "buddy,min=1K,max_order=12",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        pm_heap_t *h = create_with(ok[i], NULL);
        void *p = pm_buddy_ops.malloc(h, 100), *q = pm_buddy_ops.malloc(h, 5000);
        assert_non_null(p);
        assert_non_null(q);
        pmt_check_clean(&pm_buddy_ops, h);
        pm_buddy_ops.free(h, p);
        pm_buddy_ops.free(h, q);
        pmt_check_clean(&pm_buddy_ops, h);
        pm_buddy_ops.destroy(h);
    }
    assert_int_equal(pm_os_total_mapped(), before);
}

/* ---- out of memory ------------------------------------------------------- */

/* Maps fail from some point on: NULL with ENOMEM, p intact after a failed
 * realloc, check clean; after lifting the fault everything works again. */
static void test_oom_fail_from_and_lift(void **state)
{
    (void)state;
    uint64_t before = pm_os_total_mapped();
    pm_heap_t *h = create_with("buddy", NULL);
    enum { MAX = 4096 };
    void **p = calloc(MAX, sizeof *p);
    size_t n = 0;
    for (; n < 100; n++)
        p[n] = pm_buddy_ops.malloc(h, 500);
    struct pm_os *os = pm_buddy_ops.os(h);
    struct pm_os_faults f = {.fail_from = os->map_calls + 1};
    pm_os_set_faults(os, &f);
    for (;;) {   /* fill the region we have */
        assert_true(n < MAX);
        errno = 0;
        p[n] = pm_buddy_ops.malloc(h, 500);
        if (!p[n])
            break;
        n++;
    }
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(n, MiB / 512);   /* exactly one region's worth */
    pmt_check_clean(&pm_buddy_ops, h);
    assert_null(pm_buddy_ops.malloc(h, 3 * MiB));   /* large path fails too */
    assert_null(pm_buddy_ops.calloc(h, 10, 100));
    memset(p[0], 0x42, 512);
    assert_null(pm_buddy_ops.realloc(h, p[0], 4000));
    for (int i = 0; i < 512; i++)
        assert_int_equal(((unsigned char *)p[0])[i], 0x42);   /* p stays valid */
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.free(h, p[--n]);     /* a freed block is found again */
    p[n] = pm_buddy_ops.malloc(h, 400);
    assert_non_null(p[n++]);
    pm_os_set_faults(os, NULL);        /* lift */
    for (int i = 0; i < 100; i++) {
        assert_true(n < MAX);
        p[n] = pm_buddy_ops.malloc(h, 500);
        assert_non_null(p[n++]);
    }
    void *big = pm_buddy_ops.malloc(h, 3 * MiB);
    assert_non_null(big);
    assert_int_equal(stats_of(h).arenas, 2);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.free(h, big);
    while (n)
        pm_buddy_ops.free(h, p[--n]);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
    free(p);
    assert_int_equal(pm_os_total_mapped(), before);
}

/* One map call fails, at every position of a scripted run that maps regions
 * (4 KiB: one per whole-region block), their state arrays, large blocks and
 * grows the ownership table: exactly one call returns NULL, check stays
 * clean, the same request then succeeds, destroy returns every byte. */
static uint64_t oom_script(pm_heap_t *h, void **p, int blocks)
{
    int nulls = 0;
    for (int i = 0; i < blocks; i++) {
        size_t n = i % 10 == 9 ? 10000 : 4096;   /* every 10th is large */
        p[i] = pm_buddy_ops.malloc(h, n);
        if (!p[i]) {
            nulls++;
            assert_int_equal(errno, ENOMEM);
            pmt_check_clean(&pm_buddy_ops, h);
            p[i] = pm_buddy_ops.malloc(h, n);
            assert_non_null(p[i]);
        }
    }
    return (uint64_t)nulls;
}

static void test_oom_every_map_call(void **state)
{
    (void)state;
    enum { BLOCKS = 200 };
    void *p[BLOCKS];
    uint64_t before = pm_os_total_mapped();
    /* a run without faults counts the map calls (the table grows once) */
    pm_heap_t *h = create_with("buddy,max=4K", NULL);
    assert_int_equal(oom_script(h, p, BLOCKS), 0);
    uint64_t calls = pm_buddy_ops.os(h)->map_calls;
    assert_int_equal(calls, 2 + 2 * (BLOCKS - BLOCKS / 10) + BLOCKS / 10 + 1);
    for (int i = 0; i < BLOCKS; i++)
        pm_buddy_ops.free(h, p[i]);
    pm_buddy_ops.destroy(h);
    for (uint64_t nth = 1; nth <= calls + 2; nth++) {
        struct pm_config cfg = {.faults = {.fail_nth = nth}};
        char err[PM_ERR_LEN];
        h = pm_backend_create("buddy,max=4K", &cfg, NULL, err);
        if (!h) {
            assert_true(nth <= 2);   /* the heap struct and the table */
            assert_string_equal(err, "buddy: out of memory");
            assert_int_equal(pm_os_total_mapped(), before);
            continue;
        }
        assert_int_equal(oom_script(h, p, BLOCKS), nth <= calls ? 1 : 0);
        pmt_check_clean(&pm_buddy_ops, h);
        for (int i = 0; i < BLOCKS; i++)
            pm_buddy_ops.free(h, p[i]);
        pmt_check_clean(&pm_buddy_ops, h);
        pm_buddy_ops.destroy(h);
        assert_int_equal(pm_os_total_mapped(), before);
    }
}

/* ---- seeded stress on a small geometry ----------------------------------- */

/* 4 KiB regions: region release and reuse, large blocks and in-place
 * realloc all happen often; check() after every 500 ops. */
static void test_stress_small_regions(void **state)
{
    (void)state;
    enum { SLOTS = 500, OPS = 40000 };
    pm_heap_t *h = create_with("buddy,min=16,max=4K", NULL);
    struct { unsigned char *p; size_t n; unsigned char fill; } s[SLOTS] = {{0}};
    uint64_t rng = 777;
    for (unsigned k = 0; k < OPS; k++) {
        uint64_t r = pmt_rand(&rng);
        unsigned i = (unsigned)(r % SLOTS);
        size_t n = (r >> 40) % 16 == 0 ? 1 + (r >> 20) % 9000 : 1 + (r >> 20) % 600;
        if (s[i].p) {
            for (size_t b = 0; b < s[i].n; b++)
                if (s[i].p[b] != s[i].fill)
                    fail_msg("op %u: block %p byte %zu changed", k, (void *)s[i].p, b);
            if ((r >> 16) % 3 == 0) {
                unsigned char *q = pm_buddy_ops.realloc(h, s[i].p, n);
                assert_non_null(q);
                size_t keep = n < s[i].n ? n : s[i].n;
                for (size_t b = 0; b < keep; b++)
                    assert_int_equal(q[b], s[i].fill);
                s[i].p = q;
                s[i].n = n;
                memset(q, s[i].fill, n);
                continue;
            }
            pm_buddy_ops.free(h, s[i].p);
            s[i].p = NULL;
        } else {
            s[i].p = pm_buddy_ops.malloc(h, n);
            assert_non_null(s[i].p);
            s[i].n = n;
            s[i].fill = (unsigned char)k;
            memset(s[i].p, s[i].fill, n);
        }
        if (k % 500 == 499)
            pmt_check_clean(&pm_buddy_ops, h);
    }
    for (int i = 0; i < SLOTS; i++)
        pm_buddy_ops.free(h, s[i].p);
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.live_blocks, 0);
    assert_true(st.arenas <= 1);
    pmt_check_clean(&pm_buddy_ops, h);
    pm_buddy_ops.destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_mapping),
        cmocka_unit_test(test_split_and_coalesce_counts),
        cmocka_unit_test(test_empty_region_released),
        cmocka_unit_test(test_trim_decommits_big_free_blocks),
        cmocka_unit_test(test_realloc_in_place),
        cmocka_unit_test(test_stats_fields),
        cmocka_unit_test(test_check_catches_damaged_links),
        cmocka_unit_test(test_asan_sees_free_blocks),
        cmocka_unit_test(test_internal_fragmentation),
        cmocka_unit_test(test_death_double_free),
        cmocka_unit_test(test_death_foreign_pointer),
        cmocka_unit_test(test_death_misaligned_pointer),
        cmocka_unit_test(test_misuse_recorded_and_ignored),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_oom_fail_from_and_lift),
        cmocka_unit_test(test_oom_every_map_call),
        cmocka_unit_test(test_stress_small_regions),
    };
    return cmocka_run_group_tests_name("buddy", tests, NULL, NULL);
}
