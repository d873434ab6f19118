/* tests/test_pymalloc.c — the pymalloc backend against hand-computed
 * expectations: size classes, blocks per pool, pool and arena counts, the
 * kept free arena, fullest-arena-first, lazy carving, realloc's 3/4 rule,
 * misuse detection, bad geometry, out-of-memory, the debugstats report and
 * its printer (golden text, one of them real CPython 3.11 output), and under
 * ASan the poisoning of everything in the arenas not handed out.
 *
 * Geometry facts used below (64-bit, 48-byte pool header):
 *   py310: 16 KiB pools: 16-byte blocks (16384-48)/16 = 1021, 512-byte 31.
 *   py38:   4 KiB pools: 16-byte blocks (4096-48)/16 = 253, 512-byte 7;
 *           a 4 KiB pool is one page, so every arena is pool-aligned and
 *           holds 256 KiB / 4 KiB = 64 pools: 64 * 7 = 448 blocks of 512.
 */
#include "pm_test.h"
#include "debugstats.h"
#include "pm_asan.h"
#include "pymalloc.h"
#include "pymalloc_internal.h"    /* test_check_reports_radix_damage: the leaves */

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct allocator_ops *ops = &pm_pymalloc_ops;

struct misuse_log {
    int n;                        /* events */
    enum pm_misuse_kind kind;     /* last event */
    const void *ptr;
    char detail[PM_ERR_LEN];
};

static void record_misuse(void *ctx, const char *backend, enum pm_misuse_kind kind,
                          const void *ptr, const char *detail)
{
    struct misuse_log *log = ctx;
    assert_string_equal(backend, "pymalloc");
    log->n++;
    log->kind = kind;
    log->ptr = ptr;
    snprintf(log->detail, sizeof log->detail, "%s", detail);
}

static pm_heap_t *make(const char *spec)
{
    const struct allocator_ops *o;
    pm_heap_t *h = pmt_create(spec, &o);
    assert_ptr_equal(o, ops);
    return h;
}

static pm_heap_t *make_logged(const char *spec, struct misuse_log *log)
{
    char err[PM_ERR_LEN];
    struct pm_config cfg = {.on_misuse = record_misuse, .misuse_ctx = log};
    pm_heap_t *h = pm_backend_create(spec, &cfg, NULL, err);
    if (!h)
        fail_msg("create %s: %s", spec, err);
    return h;
}

static struct pm_pymalloc_pool_info info_of(pm_heap_t *h, const void *p)
{
    struct pm_pymalloc_pool_info in;
    assert_true(pm_pymalloc_pool_info(ops, h, p, &in));
    return in;
}

static struct pm_stats stats_of(pm_heap_t *h)
{
    struct pm_stats st;
    ops->stats(h, &st);
    return st;
}

static uint64_t baseline;
static int setup(void **state)
{
    (void)state;
    baseline = pm_os_total_mapped();
    return 0;
}
static int teardown(void **state)
{
    (void)state;
    if (pm_os_total_mapped() != baseline) {
        fprintf(stderr, "leak: %llu bytes still mapped\n",
                (unsigned long long)(pm_os_total_mapped() - baseline));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- classes */

static void test_class_mapping_1_to_512(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc");
    /* spot checks written out by hand */
    static const struct { size_t n; unsigned cls, size; } spots[] = {
        {1, 0, 16}, {15, 0, 16}, {16, 0, 16}, {17, 1, 32}, {32, 1, 32}, {33, 2, 48},
        {100, 6, 112}, {256, 15, 256}, {257, 16, 272}, {496, 30, 496}, {497, 31, 512},
        {511, 31, 512}, {512, 31, 512},
    };
    for (size_t i = 0; i < sizeof spots / sizeof *spots; i++) {
        void *p = ops->malloc(h, spots[i].n);
        struct pm_pymalloc_pool_info in = info_of(h, p);
        assert_int_equal(in.szidx, spots[i].cls);
        assert_int_equal(in.block_size, spots[i].size);
        assert_int_equal(ops->usable_size(h, p), spots[i].size);
        ops->free(h, p);
    }
    /* every size: class (n - 1) >> 4, block (class + 1) * 16, 16-aligned */
    for (size_t n = 1; n <= 512; n++) {
        void *p = ops->malloc(h, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        struct pm_pymalloc_pool_info in = info_of(h, p);
        assert_int_equal(in.szidx, (n - 1) / 16);
        assert_int_equal(ops->usable_size(h, p), ((n + 15) / 16) * 16);
        ops->free(h, p);
    }
    /* 0 and 513 bytes are not small blocks */
    void *z = ops->malloc(h, 0), *big = ops->malloc(h, 513);
    struct pm_pymalloc_pool_info in;
    assert_false(pm_pymalloc_pool_info(ops, h, z, &in));
    assert_false(pm_pymalloc_pool_info(ops, h, big, &in));
    assert_int_equal(stats_of(h).large_blocks, 2);
    ops->free(h, z);
    ops->free(h, big);
    pmt_check_clean(ops, h);
    ops->destroy(h);
}

/* Allocates blocks of n bytes until one lands in a second pool; returns how
 * many the first pool held. */
static unsigned fill_one_pool(pm_heap_t *h, size_t n, void **keep, unsigned max)
{
    keep[0] = ops->malloc(h, n);
    uintptr_t pool = info_of(h, keep[0]).pool;
    unsigned k = 1;
    for (; k < max; k++) {
        keep[k] = ops->malloc(h, n);
        if (info_of(h, keep[k]).pool != pool)
            break;
    }
    return k;
}

static void expect_blocks_per_pool(const char *spec, size_t n, unsigned expect)
{
    pm_heap_t *h = make(spec);
    void **keep = calloc(2048, sizeof *keep);
    unsigned got = fill_one_pool(h, n, keep, 2048);
    assert_int_equal(got, expect);
    assert_int_equal(info_of(h, keep[0]).capacity, expect);
    assert_int_equal(info_of(h, keep[0]).count, expect);
    assert_false(info_of(h, keep[0]).in_usedpools);   /* full pools are unlinked */
    assert_int_equal(stats_of(h).pools, 2);
    for (unsigned i = 0; i <= got; i++)
        ops->free(h, keep[i]);
    pmt_check_clean(ops, h);
    free(keep);
    ops->destroy(h);
}

static void test_blocks_per_pool_both_presets(void **state)
{
    (void)state;
    expect_blocks_per_pool("pymalloc,preset=py310", 16, 1021);
    expect_blocks_per_pool("pymalloc,preset=py38", 16, 253);
    expect_blocks_per_pool("pymalloc,preset=py310", 512, 31);
    expect_blocks_per_pool("pymalloc,preset=py38", 512, 7);
    expect_blocks_per_pool("pymalloc,preset=py38", 100, 36);    /* 4048 / 112 */
    expect_blocks_per_pool("pymalloc,arena=64K,pool=1K", 512, 1); /* 976 / 512 */
}

/* ------------------------------------------------------ pools and arenas */

static void test_pool_and_arena_counts(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,preset=py38");
    enum { N = 449 };
    void *p[N];
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.arenas, 0);
    assert_int_equal(st.pools, 0);
    p[0] = ops->malloc(h, 512);
    st = stats_of(h);
    assert_int_equal(st.arenas, 1);
    assert_int_equal(st.pools, 1);
    for (int i = 1; i < 7; i++)
        p[i] = ops->malloc(h, 512);
    assert_int_equal(stats_of(h).pools, 1);          /* 7 blocks: one pool */
    p[7] = ops->malloc(h, 500);                      /* same class 31 */
    assert_int_equal(stats_of(h).pools, 2);
    for (int i = 8; i < 448; i++)
        p[i] = ops->malloc(h, 512);
    st = stats_of(h);
    assert_int_equal(st.pools, 64);                  /* 448 = 64 * 7 */
    assert_int_equal(st.arenas, 1);
    assert_int_equal(info_of(h, p[0]).arena_ntotalpools, 64);
    assert_int_equal(info_of(h, p[0]).arena_nfreepools, 0);
    p[448] = ops->malloc(h, 512);
    st = stats_of(h);
    assert_int_equal(st.arenas, 2);
    assert_int_equal(st.pools, 65);
    assert_int_equal(st.live_blocks, 449);
    assert_int_equal(st.used_bytes, 449 * 512);
    /* one block of each other class: 31 more pools */
    void *q[31];
    for (int c = 0; c < 31; c++)
        q[c] = ops->malloc(h, (size_t)(c * 16 + 1));
    assert_int_equal(stats_of(h).pools, 96);
    pmt_check_clean(ops, h);
    /* freeing the seven blocks of the first pool empties it */
    for (int i = 0; i < 7; i++)
        ops->free(h, p[i]);
    assert_int_equal(stats_of(h).pools, 95);
    struct pm_pymalloc_report r;
    assert_true(pm_pymalloc_report(ops, h, &r));
    assert_int_equal(r.rows[31].pools, 64);         /* 65 - the emptied one */
    assert_int_equal(r.rows[31].blocks_in_use, 442); /* 449 - 7 */
    assert_int_equal(r.rows[31].avail_blocks, 64 * 7 - 442);
    for (int c = 0; c < 31; c++)
        ops->free(h, q[c]);
    for (int i = 7; i < N; i++)
        ops->free(h, p[i]);
    pmt_check_clean(ops, h);
    ops->destroy(h);
}

/* py310 arenas lose a pool when the mapping is not 16 KiB aligned. */
static void test_arena_alignment_loss_py310(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc");
    void *p = ops->malloc(h, 64);
    struct pm_pymalloc_pool_info in = info_of(h, p);
    bool aligned = in.arena_address % 16384 == 0;
    assert_int_equal(in.arena_ntotalpools, aligned ? 64 : 63);
    assert_int_equal(in.arena_first_pool, aligned ? in.arena_address
                                                  : (in.arena_address | 16383) + 1);
    assert_int_equal(in.pool, in.arena_first_pool);  /* pools are carved in order */
    struct pm_pymalloc_report r;
    assert_true(pm_pymalloc_report(ops, h, &r));
    assert_int_equal(r.bytes_lost_arena_alignment, aligned ? 0 : 16384);
    assert_int_equal(r.unused_pools, in.arena_ntotalpools - 1);
    ops->free(h, p);
    ops->destroy(h);
}

static void test_lazy_carving(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc");
    void *p[5];
    p[0] = ops->malloc(h, 16);
    struct pm_pymalloc_pool_info in = info_of(h, p[0]);
    assert_int_equal(in.count, 1);
    assert_int_equal(in.carved, 2);                  /* the block and the next one */
    assert_int_equal(in.arena_ncarved, 1);           /* one pool carved of 63/64 */
    assert_int_equal(in.arena_nfreepools, in.arena_ntotalpools - 1);
    assert_ptr_equal(p[0], (void *)(in.pool + 48));  /* first block after the header */
    for (int i = 1; i < 5; i++) {
        p[i] = ops->malloc(h, 16);
        in = info_of(h, p[i]);
        assert_ptr_equal(p[i], (uint8_t *)p[0] + 16 * i);  /* carved in address order */
        assert_int_equal(in.carved, (unsigned)i + 2);
    }
    /* LIFO reuse: the block freed last comes back first, no carving */
    ops->free(h, p[2]);
    void *again = ops->malloc(h, 10);
    assert_ptr_equal(again, p[2]);
    assert_int_equal(info_of(h, again).carved, 6);
    /* a second class carves a second pool, right after the first */
    void *other = ops->malloc(h, 100);
    in = info_of(h, other);
    assert_int_equal(in.arena_ncarved, 2);
    assert_int_equal(in.pool, info_of(h, p[0]).pool + 16384);
    ops->free(h, other);
    for (int i = 0; i < 5; i++)
        ops->free(h, p[i]);
    pmt_check_clean(ops, h);
    ops->destroy(h);
}

/* Fills n py38 arenas with 512-byte blocks; returns the blocks in order. */
static void **fill_arenas(pm_heap_t *h, int n)
{
    void **b = calloc((size_t)n * 448, sizeof *b);
    for (int i = 0; i < n * 448; i++) {
        b[i] = ops->malloc(h, 512);
        assert_non_null(b[i]);
    }
    assert_int_equal(stats_of(h).arenas, n);
    return b;
}

/* Frees the 7 blocks of pool `pool` (0..63) of arena `arena`. */
static void free_pool(pm_heap_t *h, void **b, int arena, int pool)
{
    for (int k = pool * 7; k < pool * 7 + 7; k++) {
        ops->free(h, b[arena * 448 + k]);
        b[arena * 448 + k] = NULL;
    }
}

static void test_kept_free_arena_and_trim(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,preset=3.9");
    uint64_t mapped_empty = stats_of(h).mapped_bytes;
    void **b = fill_arenas(h, 3);
    for (int i = 0; i < 3 * 448; i++)
        ops->free(h, b[i]);
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.arenas, 1);                  /* one wholly free arena kept */
    assert_int_equal(st.pools, 0);
    assert_int_equal(st.live_blocks, 0);
    struct pm_pymalloc_report r;
    assert_true(pm_pymalloc_report(ops, h, &r));
    assert_int_equal(r.arenas_allocated_total, 3);
    assert_int_equal(r.arenas_reclaimed, 2);
    assert_int_equal(r.arenas_highwater, 3);
    assert_int_equal(r.unused_pools, 64);
    pmt_check_clean(ops, h);
    /* the kept arena serves the next allocation without a new mapping */
    uint64_t maps = ops->os(h)->map_calls;
    void *p = ops->malloc(h, 32);
    assert_int_equal(ops->os(h)->map_calls, maps);
    ops->free(h, p);
    assert_int_equal(stats_of(h).arenas, 1);
    uint64_t mapped_one = stats_of(h).mapped_bytes;
    ops->trim(h);
    st = stats_of(h);
    assert_int_equal(st.arenas, 0);
    /* the arena mapping went: 256 KiB (its bitmap is in the bitmap region) */
    assert_int_equal(mapped_one - st.mapped_bytes, 262144);
    assert_true(st.mapped_bytes > mapped_empty);     /* radix nodes and arena table stay */
    pmt_check_clean(ops, h);
    p = ops->malloc(h, 32);                          /* and it comes back */
    assert_int_equal(stats_of(h).arenas, 1);
    ops->free(h, p);
    free(b);
    ops->destroy(h);
}

/* 3.8 releases every wholly free arena (the keep-one rule came with 3.9;
 * measured on pyenv's 3.8.18 and 3.9.18: docs/cpython-versions.md). */
static void test_no_kept_arena_38(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,preset=3.8");
    void **b = fill_arenas(h, 3);
    for (int i = 0; i < 3 * 448; i++)
        ops->free(h, b[i]);
    struct pm_pymalloc_report r;
    assert_true(pm_pymalloc_report(ops, h, &r));
    assert_int_equal(r.arenas_current, 0);
    assert_int_equal(r.arenas_reclaimed, 3);
    assert_int_equal(r.version, 308);
    assert_false(r.has_arena_map);
    pmt_check_clean(ops, h);
    free(b);
    ops->destroy(h);
}

/* 3.10's arena map has 48-bit keys and 10/10/8-bit levels: nodes of 8 KiB,
 * 8 KiB and 2 KiB (pyenv 3.10.13's own report); 3.11+ 256/256/128 KiB. */
static void test_arena_map_310(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,preset=3.10");
    void *p = ops->malloc(h, 16);
    struct pm_pymalloc_report r;
    assert_true(pm_pymalloc_report(ops, h, &r));
    assert_true(r.has_arena_map);
    assert_int_equal(r.map_root_bytes, 8192);
    assert_int_equal(r.map_mid_nodes, 1);
    assert_int_equal(r.map_mid_bytes, 8192);
    assert_true(r.map_bot_nodes == 1 || r.map_bot_nodes == 2);  /* 2 if it straddles 256 MiB */
    assert_int_equal(r.map_bot_bytes, r.map_bot_nodes * 2048);
    ops->free(h, p);
    ops->destroy(h);
    h = make("pymalloc,preset=3.12");
    p = ops->malloc(h, 16);
    assert_true(pm_pymalloc_report(ops, h, &r));
    assert_int_equal(r.map_root_bytes, 262144);
    assert_int_equal(r.map_mid_bytes, 262144);
    ops->free(h, p);
    ops->destroy(h);
}

/* placement=aligned: every arena holds all its pools; unaligned: every
 * arena loses one; os: the arena mappings are exactly arena-sized. */
static void test_placement(void **state)
{
    (void)state;
    static const struct { const char *spec; size_t lost_per_arena; } cases[] = {
        {"pymalloc,placement=aligned", 0},
        {"pymalloc,placement=unaligned", 16384},
        {"pymalloc,preset=3.8,placement=aligned", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        pm_heap_t *h = make(cases[k].spec);
        void *b[4000];
        for (int i = 0; i < 4000; i++)
            assert_non_null(b[i] = ops->malloc(h, 512));   /* 4 or 16 arenas */
        struct pm_pymalloc_report r;
        assert_true(pm_pymalloc_report(ops, h, &r));
        assert_true(r.arenas_current >= 3);
        assert_int_equal(r.bytes_lost_arena_alignment, r.arenas_current * cases[k].lost_per_arena);
        pmt_check_clean(ops, h);
        for (int i = 0; i < 4000; i++)
            ops->free(h, b[i]);
        ops->destroy(h);
    }
    /* os: an arena is one mapping of exactly the arena size */
    pm_heap_t *h = make("pymalloc");
    void *p = ops->malloc(h, 16);
    uint64_t before = stats_of(h).mapped_bytes, maps = ops->os(h)->map_calls;
    void *q[2200];
    for (int i = 0; i < 2200; i++)
        q[i] = ops->malloc(h, 512);      /* 2200 / 31 > 64 pools: one more arena at least */
    assert_true(ops->os(h)->map_calls > maps);
    assert_int_equal((stats_of(h).mapped_bytes - before) % 1048576, 0);
    for (int i = 0; i < 2200; i++)
        ops->free(h, q[i]);
    ops->free(h, p);
    ops->destroy(h);
}

/* realloc whose new block needs a new arena while the old block's bitmap
 * word is in hand: the bitmap region grows (moves) under it. Found by
 * scripts/fidelity.sh on a 3.8 trace (a segfault). */
static void test_realloc_across_bitmap_growth(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        pm_heap_t *h = make(k ? "pymalloc,preset=3.8" : "pymalloc");
        enum { N = 12000 };
        void **b = calloc(N, sizeof *b);
        for (int i = 0; i < N; i++) {
            b[i] = ops->malloc(h, 16);
            assert_non_null(b[i]);
            b[i] = ops->realloc(h, b[i], 512);   /* the 512-byte pools fill arena after arena */
            assert_non_null(b[i]);
        }
        assert_true(stats_of(h).arenas > 4);      /* the region grows at 2 (1 MiB) or 8 (256 KiB) arenas */
        pmt_check_clean(ops, h);
        for (int i = 0; i < N; i++)
            ops->free(h, b[i]);
        free(b);
        ops->destroy(h);
    }
}

static void test_fullest_arena_first(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,preset=3.9");
    void **b = fill_arenas(h, 3);
    uintptr_t arena[3];
    for (int a = 0; a < 3; a++)
        arena[a] = info_of(h, b[a * 448]).arena_address;
    assert_true(arena[0] != arena[1] && arena[1] != arena[2] && arena[0] != arena[2]);
    uintptr_t pool_c = info_of(h, b[2 * 448]).pool;
    /* Free whole pools until arena 2 has 1 free pool, arena 0 has 2 and
     * arena 1 has 5, in an order that makes the list re-sort three times.
     * usable_arenas (fullest first) after each step: */
    free_pool(h, b, 2, 0);              /* 2(1) */
    free_pool(h, b, 0, 0);              /* 0(1) 2(1) */
    free_pool(h, b, 1, 0);              /* 1(1) 0(1) 2(1) */
    free_pool(h, b, 0, 1);              /* 1(1) 2(1) 0(2): 0 slides past 2 */
    pmt_check_clean(ops, h);
    free_pool(h, b, 1, 1);              /* 2(1) 1(2) 0(2): 1 slides past 2 */
    free_pool(h, b, 1, 2);              /* 2(1) 0(2) 1(3): 1 slides past 0 */
    free_pool(h, b, 1, 3);              /* 2(1) 0(2) 1(4) */
    free_pool(h, b, 1, 4);              /* 2(1) 0(2) 1(5) */
    pmt_check_clean(ops, h);
    assert_int_equal(stats_of(h).arenas, 3);
    /* new pools come from the fullest arena: 2 (1 free), then 0 (2), then 1 */
    static const int expect_arena[] = {2, 0, 0, 1, 1, 1, 1, 1};
    void *fresh[8];
    for (int i = 0; i < 8; i++) {
        fresh[i] = ops->malloc(h, (size_t)(16 * i + 1));   /* a new class each time */
        assert_int_equal(info_of(h, fresh[i]).arena_address, arena[expect_arena[i]]);
    }
    assert_int_equal(info_of(h, fresh[0]).pool, pool_c);  /* the pool just freed */
    pmt_check_clean(ops, h);
    /* all full again: the ninth new class needs a fourth arena */
    void *extra = ops->malloc(h, 16 * 8 + 1);
    assert_int_equal(stats_of(h).arenas, 4);
    ops->free(h, extra);
    for (int i = 0; i < 8; i++)
        ops->free(h, fresh[i]);
    for (int i = 0; i < 3 * 448; i++)
        if (b[i])
            ops->free(h, b[i]);
    pmt_check_clean(ops, h);
    assert_int_equal(stats_of(h).arenas, 1);
    free(b);
    ops->destroy(h);
}

/* More than 16 arenas: the arena table doubles. */
static void test_arena_table_grows(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,preset=3.9");
    void **b = fill_arenas(h, 17);
    pmt_check_clean(ops, h);
    struct pm_pymalloc_report r;
    assert_true(pm_pymalloc_report(ops, h, &r));
    assert_int_equal(r.arenas_current, 17);
    assert_int_equal(r.total, 17 * 256 * 1024);
    for (int i = 0; i < 17 * 448; i++)
        ops->free(h, b[i]);
    assert_int_equal(stats_of(h).arenas, 1);
    pmt_check_clean(ops, h);
    free(b);
    ops->destroy(h);
}

/* ---------------------------------------------------------------- realloc */

static void test_realloc_three_quarters_rule(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc");
    unsigned char *p = ops->malloc(h, 512);
    for (int i = 0; i < 512; i++)
        p[i] = (unsigned char)i;
    unsigned char *q = ops->realloc(h, p, 400);      /* 1600 > 1536: stays */
    assert_ptr_equal(q, p);
    assert_int_equal(ops->usable_size(h, q), 512);
    unsigned char *r = ops->realloc(h, q, 385);      /* 1540 > 1536: stays */
    assert_ptr_equal(r, p);
    unsigned char *s = ops->realloc(h, r, 384);      /* 1536 <= 1536: moves to 384 */
    assert_ptr_not_equal(s, p);
    assert_int_equal(ops->usable_size(h, s), 384);
    unsigned char *t = ops->realloc(h, s, 300);      /* 1200 > 1152: stays in 384 */
    assert_ptr_equal(t, s);
    for (int i = 0; i < 300; i++)
        assert_int_equal(t[i], (unsigned char)i);
    ops->free(h, t);

    p = ops->malloc(h, 512);
    q = ops->realloc(h, p, 300);                     /* 1200 <= 1536: moves */
    assert_ptr_not_equal(q, p);
    assert_int_equal(ops->usable_size(h, q), 304);
    p = ops->realloc(h, q, 310);                     /* growth beyond 304: moves */
    assert_ptr_not_equal(p, q);
    q = ops->realloc(h, p, 2000);                    /* to the large path */
    assert_int_equal(stats_of(h).large_blocks, 1);
    p = ops->realloc(h, q, 100);     /* a block pymalloc does not own stays with the */
    assert_int_equal(stats_of(h).large_blocks, 1);  /* large path (CPython: PyMem_RawRealloc) */
    assert_true(ops->usable_size(h, p) >= 100);
    ops->free(h, p);
    pmt_check_clean(ops, h);
    assert_int_equal(stats_of(h).live_blocks, 0);
    ops->destroy(h);
}

/* ------------------------------------------------------------------ misuse */

static void test_misuse_detected(void **state)
{
    (void)state;
    struct misuse_log log = {0};
    /* the mapping-per-block large path: its own double-free detection */
    pm_heap_t *h = make_logged("pymalloc,large=os", &log);
    char *a = ops->malloc(h, 64), *b = ops->malloc(h, 64);

    /* double free in a pool still in use */
    ops->free(h, a);
    ops->free(h, a);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.kind, PM_MISUSE_DOUBLE_FREE);
    assert_ptr_equal(log.ptr, a);
    /* double free of the last block: its pool went back to freepools */
    ops->free(h, b);
    ops->free(h, b);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.kind, PM_MISUSE_DOUBLE_FREE);
    pmt_check_clean(ops, h);

    /* interior pointers */
    char *c = ops->malloc(h, 64);
    ops->free(h, c + 16);
    assert_int_equal(log.kind, PM_MISUSE_MISALIGNED_POINTER);
    assert_ptr_equal(log.ptr, c + 16);
    ops->free(h, c + 8);
    assert_int_equal(log.kind, PM_MISUSE_MISALIGNED_POINTER);
    uintptr_t pool = info_of(h, c).pool;
    ops->free(h, (void *)(pool + 16));               /* inside the pool header */
    assert_int_equal(log.kind, PM_MISUSE_MISALIGNED_POINTER);
    assert_int_equal(log.n, 5);
    assert_int_equal(ops->usable_size(h, c + 32), 0);
    assert_int_equal(log.kind, PM_MISUSE_MISALIGNED_POINTER);

    /* foreign pointers: the system heap and the stack */
    void *sys = malloc(64);
    ops->free(h, sys);
    assert_int_equal(log.kind, PM_MISUSE_FOREIGN_POINTER);
    assert_ptr_equal(log.ptr, sys);
    int local = 0;
    ops->free(h, &local);
    assert_int_equal(log.kind, PM_MISUSE_FOREIGN_POINTER);
    assert_null(ops->realloc(h, sys, 10));
    assert_int_equal(log.kind, PM_MISUSE_FOREIGN_POINTER);
    assert_int_equal(ops->usable_size(h, &local), 0);
    assert_int_equal(log.n, 10);
    free(sys);

    /* large blocks: double free while the mapping is cached, foreign */
    char *big = ops->malloc(h, 10000);
    ops->free(h, big);
    ops->free(h, big);
    assert_int_equal(log.kind, PM_MISUSE_DOUBLE_FREE);
    assert_ptr_equal(log.ptr, big);
    assert_int_equal(log.n, 11);

    /* the heap is intact and the misuse was counted */
    pmt_check_clean(ops, h);
    assert_int_equal(stats_of(h).misuse, 11);
    assert_int_equal(stats_of(h).live_blocks, 1);
    ops->free(h, c);
    assert_int_equal(log.n, 11);
    pmt_check_clean(ops, h);
    ops->destroy(h);
}

/* Without a handler misuse is counted and ignored. */
static void test_misuse_without_handler_is_counted(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc");
    void *p = ops->malloc(h, 48);
    ops->free(h, p);
    ops->free(h, p);
    int x;
    ops->free(h, &x);
    assert_int_equal(stats_of(h).misuse, 2);
    pmt_check_clean(ops, h);
    ops->destroy(h);
}

/* A deliberate write after free into the free-list link of block p (under
 * ASan the free block is poisoned: open the link around the write, as
 * pymalloc itself does). Returns the old link. */
static void *link_poke(void *p, void *v)
{
    PM_UNPOISON(p, sizeof(void *));
    void *old = *(void **)p;
    *(void **)p = v;
    PM_POISON(p, sizeof(void *));
    return old;
}

/* check() notices a free list damaged by a write after free. */
static void test_check_reports_corruption(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc");
    void *p = ops->malloc(h, 32), *q = ops->malloc(h, 32);
    ops->free(h, p);
    void *saved = link_poke(p, (void *)0x1230);
    char msg[PM_ERR_LEN];
    assert_true(ops->check(h, msg) > 0);
    assert_non_null(strstr(msg, "free list entry"));
    link_poke(p, saved);
    pmt_check_clean(ops, h);
    ops->free(h, q);
    ops->destroy(h);
}

/* check() counts the marks of every radix node it made, through the
 * node directory: a stray mark outside every arena (in the same bottom
 * node, 64 chunks away) and a node counter off by one are reported; with
 * more nodes than the directory holds, the whole tree is walked (here by
 * a counter set past it: no test heap spans 9 bottom nodes, 72 GiB and
 * more apart). */
static void test_check_reports_radix_damage(void **state)
{
    (void)state;
    static const char *const specs[] = {"pymalloc", "pymalloc,preset=3.8"};
    for (size_t i = 0; i < 2; i++) {
        pm_heap_t *h = make(specs[i]);
        void *p = ops->malloc(h, 32);
        pmt_check_clean(ops, h);
        char msg[PM_ERR_LEN];
        uintptr_t chunk = (uintptr_t)1 << h->geom.chunk_shift;
        uintptr_t far = ((uintptr_t)p & ~(chunk - 1)) ^ (64 * chunk);
        struct pm_leaf *leaf = radix_leaf(h, far);
        assert_non_null(leaf);
        assert_int_equal(leaf->pools, 0);
        leaf->pools = 1;
        assert_int_equal(ops->check(h, msg), 1);
        assert_non_null(strstr(msg, "radix tree marks"));
        leaf->pools = 0;
        pmt_check_clean(ops, h);
        /* a stray mark next to a real one (the same group of eight entries
         * that check() ORs before counting) */
        struct pm_leaf *near = radix_leaf(h, ((uintptr_t)p & ~(chunk - 1)) ^ chunk);
        assert_non_null(near);
        uint64_t was = near->pools;
        near->pools |= UINT64_C(1) << 63;
        if (near->pools != was) {
            assert_int_equal(ops->check(h, msg), 1);
            assert_non_null(strstr(msg, "radix tree marks"));
        }
        near->pools = was;
        pmt_check_clean(ops, h);
        h->bot_count++;
        assert_true(ops->check(h, msg) > 0);
        assert_non_null(strstr(msg, "radix tree has 1 mid and 1 bottom nodes, counters say 1 and 2"));
        h->bot_count = PM_RADIX_DIR + 1;              /* past the directory: the whole walk */
        assert_true(ops->check(h, msg) > 0);
        assert_non_null(strstr(msg, "radix tree has 1 mid and 1 bottom nodes, counters say 1 and 9"));
        h->bot_count = 1;
        pmt_check_clean(ops, h);
        ops->free(h, p);
        ops->destroy(h);
    }
}

/* ---------------------------------------------------------------- geometry */

static void expect_create_error(const char *spec, const char *message)
{
    char err[PM_ERR_LEN];
    pm_heap_t *h = pm_backend_create(spec, NULL, NULL, err);
    if (h)
        fail_msg("%s: created, expected '%s'", spec, message);
    assert_string_equal(err, message);
}

static void test_bad_geometry_messages(void **state)
{
    (void)state;
    expect_create_error("pymalloc,pool=3000", "pymalloc: pool size 3000 is not a power of two");
    expect_create_error("pymalloc,pool=512",
                        "pymalloc: pool size 512 is too small for the 48-byte pool header and "
                        "one 512-byte block (at least 1024)");
    expect_create_error("pymalloc,arena=100000,pool=16K",
                        "pymalloc: arena size 100000 is not a multiple of the pool size 16384");
    expect_create_error("pymalloc,arena=16K,pool=16K",
                        "pymalloc: arena size 16384 holds fewer than 2 pools of 16384 bytes (an "
                        "arena not aligned to the pool size loses one)");
    expect_create_error("pymalloc,arena=2G",
                        "pymalloc: arena size 2147483648 is too large (at most 1073741824)");
    expect_create_error("pymalloc,preset=py39",
                        "pymalloc: unknown preset 'py39' (known: 3.8, 3.9, 3.10, 3.11, 3.12, 3.13; py38 = 3.8, py310 = 3.10)");
    expect_create_error("pymalloc,size=1",
                        "pymalloc: unknown option 'size' (known: preset, arena, pool, large, placement)");
    expect_create_error("pymalloc,arena=lots",
                        "pymalloc: bad arena size 'lots' (expected bytes, K/M/G allowed)");
    expect_create_error("pymalloc,pool",
                        "pymalloc: malformed option 'pool' (expected key=value)");
    /* good free values, and options override the preset */
    pm_heap_t *h = make("pymalloc,preset=py38,pool=8K,arena=64K");
    void *p = ops->malloc(h, 512);
    assert_int_equal(info_of(h, p).capacity, (8192 - 48) / 512);
    assert_int_equal(info_of(h, p).arena_ntotalpools, 8 - (info_of(h, p).arena_address % 8192 != 0));
    ops->free(h, p);
    pmt_check_clean(ops, h);
    ops->destroy(h);
}

/* --------------------------------------------------------------------- OOM */

static void test_out_of_memory(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,large=segfit");   /* large blocks on the account too */
    struct pm_os *os = ops->os(h);
    enum { N = 3000, MAX = 70000 };
    void **p = calloc(MAX, sizeof *p);
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = ops->malloc(h, 64));
    pm_os_set_faults(os, &(struct pm_os_faults){.fail_from = os->map_calls + 1});
    /* the current arena still serves; the next one cannot be mapped */
    int n = N;
    errno = 0;
    while (n < MAX && (p[n] = ops->malloc(h, 64)) != NULL)
        n++;
    assert_true(n < MAX);
    assert_int_equal(errno, ENOMEM);
    assert_true(n - N <= 64 * 255);                 /* at most one arena of 64-byte blocks */
    errno = 0;
    assert_null(ops->malloc(h, 100000));            /* large path too */
    assert_int_equal(errno, ENOMEM);
    assert_null(ops->calloc(h, 1, 5000));
    void *keep = p[0];
    assert_null(ops->realloc(h, keep, 4000));       /* fails, keep stays valid */
    assert_int_equal(info_of(h, keep).block_size, 64);
    pmt_check_clean(ops, h);
    assert_int_equal(stats_of(h).live_blocks, (uint64_t)n);
    /* lift the faults: allocation works again, small and large */
    pm_os_set_faults(os, NULL);
    void *more = ops->malloc(h, 64), *big = ops->malloc(h, 100000);
    assert_non_null(more);
    assert_non_null(big);
    ops->free(h, more);
    ops->free(h, big);
    for (int i = 0; i < n; i++)
        ops->free(h, p[i]);
    pmt_check_clean(ops, h);
    free(p);
    ops->destroy(h);
}

/* The first arena's own mappings fail one at a time: arena table, arena,
 * radix mid node, radix bottom node. */
static void test_out_of_memory_each_first_mapping(void **state)
{
    (void)state;
    for (uint64_t k = 1; k <= 4; k++) {
        pm_heap_t *h = make("pymalloc");
        struct pm_os *os = ops->os(h);
        uint64_t before = os->mapped;
        pm_os_set_faults(os, &(struct pm_os_faults){.fail_nth = os->map_calls + k});
        errno = 0;
        assert_null(ops->malloc(h, 16));
        assert_int_equal(errno, ENOMEM);
        pmt_check_clean(ops, h);
        assert_int_equal(stats_of(h).arenas, 0);
        assert_true(os->mapped >= before);          /* nodes made before the failure stay */
        void *p = ops->malloc(h, 16);               /* fail_nth fails only once */
        assert_non_null(p);
        ops->free(h, p);
        pmt_check_clean(ops, h);
        ops->destroy(h);
    }
}

/* ------------------------------------------------------------ large blocks */

static void test_large_cache_reuse_and_trim(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,large=os");
    char *a = ops->malloc(h, 100000);
    assert_true(ops->usable_size(h, a) >= 100000);
    uint64_t maps = ops->os(h)->map_calls;
    uint64_t mapped = stats_of(h).mapped_bytes;
    ops->free(h, a);
    assert_int_equal(stats_of(h).mapped_bytes, mapped);   /* cached, not unmapped */
    char *b = ops->calloc(h, 1, 99000);                   /* fits within 25%: reused */
    assert_ptr_equal(b, a);
    assert_int_equal(ops->os(h)->map_calls, maps);
    for (int i = 0; i < 99000; i++)
        assert_int_equal(b[i], 0);
    ops->free(h, b);
    ops->trim(h);
    assert_true(stats_of(h).mapped_bytes < mapped);       /* trim empties the cache */
    pmt_check_clean(ops, h);
    ops->destroy(h);
}


/* ------------------------------------------------------------------- stats */

static void test_stats_fields(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,large=os");
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.nmalloc, 0);
    assert_int_equal(st.live_blocks, 0);
    assert_int_equal(st.arenas, 0);
    assert_true(st.mapped_bytes > 0 && st.meta_bytes > 0);
    void *s[10], *l[2];
    for (int i = 0; i < 10; i++)
        s[i] = ops->malloc(h, 100);
    for (int i = 0; i < 2; i++)
        l[i] = ops->malloc(h, 1000);
    st = stats_of(h);
    assert_int_equal(st.nmalloc, 12);
    assert_int_equal(st.nfree, 0);
    assert_int_equal(st.live_blocks, 12);
    assert_int_equal(st.large_blocks, 2);
    assert_int_equal(st.pools, 1);
    assert_int_equal(st.arenas, 1);
    /* 10 blocks of 112 + two one-page mappings less their 16-byte headers */
    assert_int_equal(st.used_bytes, 10 * 112 + 2 * (4096 - 16));
    assert_true(st.peak_mapped_bytes >= st.mapped_bytes);
    assert_int_equal(st.misuse, 0);
    for (int i = 0; i < 3; i++)
        ops->free(h, s[i]);
    ops->free(h, l[0]);
    st = stats_of(h);
    assert_int_equal(st.nfree, 4);
    assert_int_equal(st.live_blocks, 8);
    s[3] = ops->realloc(h, s[3], 300);               /* moves: one malloc, one free */
    st = stats_of(h);
    assert_int_equal(st.nmalloc, 13);
    assert_int_equal(st.nfree, 5);
    assert_int_equal(st.live_blocks, 8);
    for (int i = 3; i < 10; i++)
        ops->free(h, s[i]);
    ops->free(h, l[1]);
    st = stats_of(h);
    assert_int_equal(st.live_blocks, 0);
    assert_int_equal(st.nfree, st.nmalloc);
    assert_int_equal(st.used_bytes, 0);
    pmt_check_clean(ops, h);
    ops->destroy(h);
}

/* ------------------------------------------------------------------ report */

static void expect_report_adds_up(const char *spec, uint64_t seed)
{
    pm_heap_t *h = make(spec);
    enum { SLOTS = 20000, OPS = 200000 };
    void **slot = calloc(SLOTS, sizeof *slot);
    uint64_t rng = seed;
    for (int k = 0; k < OPS; k++) {
        uint64_t r = pmt_rand(&rng);
        void **s = &slot[r % SLOTS];
        if (*s) {
            ops->free(h, *s);
            *s = NULL;
        } else {
            *s = ops->malloc(h, 1 + (r >> 32) % ((r >> 20) % 3 ? 512 : 2000));
        }
        if (k == OPS / 2)   /* drop most blocks once so arenas get reclaimed */
            for (int i = 0; i < SLOTS; i++)
                if (slot[i] && i % 10) {
                    ops->free(h, slot[i]);
                    slot[i] = NULL;
                }
    }
    struct pm_pymalloc_report r;
    assert_true(pm_pymalloc_report(ops, h, &r));
    size_t alloc = 0, avail = 0, pools = 0;
    for (unsigned c = 0; c < 32; c++) {
        assert_int_equal(r.rows[c].cls, c);
        assert_int_equal(r.rows[c].size, 16 * (c + 1));
        alloc += r.rows[c].blocks_in_use * r.rows[c].size;
        avail += r.rows[c].avail_blocks * r.rows[c].size;
        pools += r.rows[c].pools;
        assert_int_equal(r.rows[c].blocks_in_use + r.rows[c].avail_blocks,
                         r.rows[c].pools * ((r.pool_size - 48) / r.rows[c].size));
    }
    assert_int_equal(alloc, r.bytes_in_allocated_blocks);
    assert_int_equal(avail, r.bytes_in_available_blocks);
    assert_int_equal(pools * 48, r.bytes_lost_pool_headers);
    size_t sum = r.bytes_in_allocated_blocks + r.bytes_in_available_blocks +
                 r.unused_pools * r.pool_size + r.bytes_lost_pool_headers +
                 r.bytes_lost_quantization + r.bytes_lost_arena_alignment;
    assert_int_equal(sum, r.total);
    assert_int_equal(r.total, r.arenas_current * r.arena_size);
    assert_int_equal(r.arenas_reclaimed, r.arenas_allocated_total - r.arenas_current);
    assert_int_equal(r.map_total, r.map_root_bytes + r.map_mid_bytes + r.map_bot_bytes);
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.pools, pools);
    assert_int_equal(st.arenas, r.arenas_current);
    pmt_check_clean(ops, h);
    for (int i = 0; i < SLOTS; i++)
        ops->free(h, slot[i]);
    free(slot);
    ops->destroy(h);
}

static void test_report_totals_add_up(void **state)
{
    (void)state;
    expect_report_adds_up("pymalloc,preset=py310", 7);
    expect_report_adds_up("pymalloc,preset=py38", 11);
    expect_report_adds_up("pymalloc,arena=96K,pool=2K", 13);
    struct pm_pymalloc_report r;
    const struct allocator_ops *sys;
    pm_heap_t *hs = pmt_create("system", &sys);
    assert_false(pm_pymalloc_report(sys, hs, &r));   /* not a pymalloc heap */
    sys->destroy(hs);
}

/* Prints to a string. */
static char *print_report(const struct pm_pymalloc_report *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pm_debugstats_print(f, r);
    fclose(f);
    return buf;
}

/* The figures of a real `python3.11 -c "t = [(i, str(i)) for i in
 * range(100000)]; import sys; sys._debugmallocstats()"` run, and CPython's
 * output for them, byte for byte. */
static void test_printer_matches_cpython_output(void **state)
{
    (void)state;
    static const size_t rows[32][3] = {
        {1, 106, 915},    {198, 100889, 91}, {13, 4228, 192}, {834, 212511, 159},
        {37, 7443, 105},  {9, 1514, 16},     {6, 725, 145},   {10, 1116, 154},
        {3, 258, 81},     {27, 2682, 72},    {3, 189, 87},    {3, 211, 44},
        {7, 497, 49},     {7, 464, 40},      {6, 380, 28},    {5, 267, 48},
        {5, 246, 54},     {4, 191, 33},      {3, 131, 28},    {3, 102, 51},
        {3, 106, 38},     {2, 88, 4},        {3, 90, 42},     {2, 71, 13},
        {6, 236, 4},      {2, 63, 15},       {2, 45, 29},     {2, 42, 30},
        {2, 43, 27},      {2, 37, 31},       {2, 34, 30},     {2, 50, 12},
    };
    struct pm_pymalloc_report r = {
        .small_threshold = 512, .nclasses = 32,
        .arenas_allocated_total = 20, .arenas_reclaimed = 0, .arenas_highwater = 20,
        .arenas_current = 20, .arena_size = 1048576, .pool_size = 16384,
        .bytes_in_allocated_blocks = 19465936, .bytes_in_available_blocks = 333824,
        .unused_pools = 54, .bytes_lost_pool_headers = 58272,
        .bytes_lost_quantization = 32144, .bytes_lost_arena_alignment = 196608,
        .total = 20971520, .version = 311, .has_arena_map = true,
        .map_mid_nodes = 1, .map_bot_nodes = 1, .map_root_bytes = 262144,
        .map_mid_bytes = 262144, .map_bot_bytes = 131072, .map_total = 655360,
    };
    for (unsigned c = 0; c < 32; c++)
        r.rows[c] = (struct pm_pymalloc_class_row){c, 16 * (c + 1), rows[c][0], rows[c][1],
                                                   rows[c][2]};
    r.rows[4].pools = 0;   /* a class without pools is left out */
    r.rows[4].blocks_in_use = r.rows[4].avail_blocks = 0;
    static const char expect[] =
        "Small block threshold = 512, in 32 size classes.\n"
        "\n"
        "class   size   num pools   blocks in use  avail blocks\n"
        "-----   ----   ---------   -------------  ------------\n"
        "    0     16           1             106           915\n"
        "    1     32         198          100889            91\n"
        "    2     48          13            4228           192\n"
        "    3     64         834          212511           159\n"
        "    5     96           9            1514            16\n"
        "    6    112           6             725           145\n"
        "    7    128          10            1116           154\n"
        "    8    144           3             258            81\n"
        "    9    160          27            2682            72\n"
        "   10    176           3             189            87\n"
        "   11    192           3             211            44\n"
        "   12    208           7             497            49\n"
        "   13    224           7             464            40\n"
        "   14    240           6             380            28\n"
        "   15    256           5             267            48\n"
        "   16    272           5             246            54\n"
        "   17    288           4             191            33\n"
        "   18    304           3             131            28\n"
        "   19    320           3             102            51\n"
        "   20    336           3             106            38\n"
        "   21    352           2              88             4\n"
        "   22    368           3              90            42\n"
        "   23    384           2              71            13\n"
        "   24    400           6             236             4\n"
        "   25    416           2              63            15\n"
        "   26    432           2              45            29\n"
        "   27    448           2              42            30\n"
        "   28    464           2              43            27\n"
        "   29    480           2              37            31\n"
        "   30    496           2              34            30\n"
        "   31    512           2              50            12\n"
        "\n"
        "# arenas allocated total           =                   20\n"
        "# arenas reclaimed                 =                    0\n"
        "# arenas highwater mark            =                   20\n"
        "# arenas allocated current         =                   20\n"
        "20 arenas * 1048576 bytes/arena    =           20,971,520\n"
        "\n"
        "# bytes in allocated blocks        =           19,465,936\n"
        "# bytes in available blocks        =              333,824\n"
        "54 unused pools * 16384 bytes      =              884,736\n"
        "# bytes lost to pool headers       =               58,272\n"
        "# bytes lost to quantization       =               32,144\n"
        "# bytes lost to arena alignment    =              196,608\n"
        "Total                              =           20,971,520\n"
        "\n"
        "arena map counts\n"
        "# arena map mid nodes              =                    1\n"
        "# arena map bot nodes              =                    1\n"
        "\n"
        "# bytes lost to arena map root     =              262,144\n"
        "# bytes lost to arena map mid      =              262,144\n"
        "# bytes lost to arena map bot      =              131,072\n"
        "Total                              =              655,360\n";
    char *got = print_report(&r);
    assert_string_equal(got, expect);
    free(got);
}

/* A small known state of a real heap: py38 (3.8) arenas are always
 * pool-aligned, so one 16-byte block gives exactly these lines, CPython
 * 3.8's whole report. */
static void test_printer_golden_small_heap(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,preset=py38");
    void *p = ops->malloc(h, 16);
    void *q = ops->malloc(h, 500);
    ops->free(h, q);        /* class 31's pool goes back to the arena: unused */
    struct pm_pymalloc_report r;
    assert_true(pm_pymalloc_report(ops, h, &r));
    char *got = print_report(&r);
    static const char expect[] =
        "Small block threshold = 512, in 32 size classes.\n"
        "\n"
        "class   size   num pools   blocks in use  avail blocks\n"
        "-----   ----   ---------   -------------  ------------\n"
        "    0     16           1               1           252\n"
        "\n"
        "# arenas allocated total           =                    1\n"
        "# arenas reclaimed                 =                    0\n"
        "# arenas highwater mark            =                    1\n"
        "# arenas allocated current         =                    1\n"
        "1 arenas * 262144 bytes/arena      =              262,144\n"
        "\n"
        "# bytes in allocated blocks        =                   16\n"
        "# bytes in available blocks        =                4,032\n"
        "63 unused pools * 4096 bytes       =              258,048\n"
        "# bytes lost to pool headers       =                   48\n"
        "# bytes lost to quantization       =                    0\n"
        "# bytes lost to arena alignment    =                    0\n"
        "Total                              =              262,144\n";
    /* CPython 3.8 has no radix tree: its report ends here */
    assert_false(r.has_arena_map);
    assert_string_equal(got, expect);
    free(got);
    ops->free(h, p);
    ops->destroy(h);
}

/* The accounted large path (large=segfit): requests of 0 and > 512 bytes go
 * to an inner segfit instance charged to pymalloc's own OS account. Misuse
 * there is reported as pymalloc's; stats and destroy cover it; a grown
 * block reallocs inside the inner instance. */
static void test_large_path_segfit(void **state)
{
    (void)state;
    struct misuse_log log = {0};
    uint64_t before = pm_os_total_mapped();
    pm_heap_t *h = make_logged("pymalloc,large=segfit", &log);
    struct pm_stats st0 = stats_of(h);
    char *big = ops->malloc(h, 10000);
    assert_non_null(big);
    memset(big, 7, 10000);
    char *z = ops->malloc(h, 0);
    assert_non_null(z);
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.large_blocks, 2);
    assert_int_equal(st.live_blocks, 2);
    assert_true(st.mapped_bytes > st0.mapped_bytes);     /* charged to our account */
    char *grown = ops->realloc(h, big, 20000);
    assert_non_null(grown);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(grown[i], 7);
    assert_int_equal(stats_of(h).large_blocks, 2);
    ops->free(h, grown);
    ops->free(h, grown);                                  /* double free in the large path */
    assert_int_equal(log.n, 1);
    assert_int_equal(log.kind, PM_MISUSE_DOUBLE_FREE);
    assert_non_null(strstr(log.detail, "large block"));
    ops->free(h, z);
    pmt_check_clean(ops, h);
    assert_int_equal(stats_of(h).large_blocks, 0);
    /* faults on pymalloc's account reach the large path */
    struct pm_os_faults f = {.fail_from = ops->os(h)->map_calls + 1};
    pm_os_set_faults(ops->os(h), &f);
    errno = 0;
    assert_null(ops->malloc(h, 4u << 20));               /* needs a new mapping */
    assert_int_equal(errno, ENOMEM);
    pm_os_set_faults(ops->os(h), NULL);
    char *ok = ops->malloc(h, 4u << 20);
    assert_non_null(ok);
    ops->free(h, ok);
    char err[PM_ERR_LEN];
    assert_null(pm_backend_create("pymalloc,large=heap", NULL, NULL, err));
    assert_string_equal(err, "pymalloc: unknown large path 'heap' (known: system, segfit, os)");
    ops->destroy(h);
    assert_int_equal(pm_os_total_mapped(), before);
}

/* The default large path (large=system): requests of 0 and > 512 bytes go
 * to the C library's malloc, as CPython's PyMem_RawMalloc; a realloc of a
 * block pymalloc does not own stays with the C library whatever the new
 * size (CPython's pymalloc_realloc "punts"); ownership is the arena test.
 * The blocks are counted in stats() (live, usable bytes) but not on the OS
 * account; a pointer inside an arena mapping, a foreign pointer and a
 * double free never reach free(); destroy() frees what is left. */
static void test_large_path_system(void **state)
{
    (void)state;
    struct misuse_log log = {0};
    uint64_t before = pm_os_total_mapped();
    pm_heap_t *h = make_logged("pymalloc,placement=aligned", &log);
    pm_heap_t *h2 = make("pymalloc,large=system");     /* the option names the default */
    ops->destroy(h2);
    void *small = ops->malloc(h, 100);                 /* an arena exists */
    struct pm_stats st0 = stats_of(h);
    char *big = ops->malloc(h, 10000);
    assert_non_null(big);
    memset(big, 7, 10000);
    char *z = ops->malloc(h, 0);
    assert_non_null(z);
    char *zc = ops->calloc(h, 100, 50);
    assert_non_null(zc);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(zc[i], 0);
    struct pm_pymalloc_pool_info in;
    assert_false(pm_pymalloc_pool_info(ops, h, big, &in));
    assert_int_equal(ops->usable_size(h, big), malloc_usable_size(big));
    struct pm_stats st = stats_of(h);
    assert_int_equal(st.large_blocks, 3);
    assert_int_equal(st.live_blocks, 4);
    /* not on our account: only the large set's first table (512 slots) is */
    assert_int_equal(st.mapped_bytes - st0.mapped_bytes, 512 * sizeof(void *));
    assert_int_equal(st.used_bytes - st0.used_bytes,
                     malloc_usable_size(big) + malloc_usable_size(z) + malloc_usable_size(zc));
    /* shrunk to a small size, it stays with the C library */
    char *shrunk = ops->realloc(h, big, 100);
    assert_non_null(shrunk);
    assert_false(pm_pymalloc_pool_info(ops, h, shrunk, &in));
    for (int i = 0; i < 100; i++)
        assert_int_equal(shrunk[i], 7);
    assert_int_equal(stats_of(h).large_blocks, 3);
    /* a small block grown past 512 bytes moves to the C library */
    char *grown = ops->realloc(h, small, 600);
    assert_non_null(grown);
    assert_false(pm_pymalloc_pool_info(ops, h, grown, &in));
    assert_int_equal(stats_of(h).large_blocks, 4);
    /* the byte figure follows reallocs that move or resize a large block
     * (`small`, 112 bytes in st0, is gone) */
    assert_int_equal(stats_of(h).used_bytes + 112 - st0.used_bytes,
                     malloc_usable_size(shrunk) + malloc_usable_size(z) + malloc_usable_size(zc) +
                         malloc_usable_size(grown));
    pmt_check_clean(ops, h);
    /* an address inside an arena but in no carved pool: misuse, not free() */
    void *keep[64];
    unsigned nk = 0;
    uintptr_t last = 0, q = 0;
    for (;;) {
        keep[nk] = ops->malloc(h, 512);
        assert_true(pm_pymalloc_pool_info(ops, h, keep[nk], &in));
        nk++;
        if (in.pool == last)
            continue;                                  /* fill the pool first */
        last = in.pool;
        q = last + (uintptr_t)16384 + 64;   /* the next, uncarved pool */
        if ((q >> 20) == (last >> 20) && nk > 1)
            break;                                     /* the same radix chunk as a carved pool */
        assert_true(nk < 60);
    }
    ops->free(h, (void *)q);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.kind, PM_MISUSE_MISALIGNED_POINTER);
    assert_null(ops->realloc(h, (void *)q, 10));
    assert_int_equal(log.n, 2);
    /* a foreign pointer and a large double free are reported, never freed */
    int x;
    ops->free(h, &x);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.kind, PM_MISUSE_FOREIGN_POINTER);
    void *twice = ops->malloc(h, 4000);
    ops->free(h, twice);
    ops->free(h, twice);
    assert_int_equal(log.n, 4);
    /* a large block left live is freed by destroy (LeakSanitizer checks it) */
    pm_heap_t *h3 = make("pymalloc");
    assert_non_null(ops->malloc(h3, 5000));
    ops->destroy(h3);
    for (unsigned i = 0; i < nk; i++)
        ops->free(h, keep[i]);
    ops->free(h, shrunk);
    ops->free(h, grown);
    ops->free(h, z);
    ops->free(h, zc);
    assert_int_equal(stats_of(h).large_blocks, 0);
    assert_int_equal(stats_of(h).used_bytes, 0);
    pmt_check_clean(ops, h);
    char err[PM_ERR_LEN];
    assert_null(pm_backend_create("pymalloc,large=", NULL, NULL, err));
    ops->destroy(h);
    assert_int_equal(pm_os_total_mapped(), before);
}

/* ------------------------------------------------------------------- ASan */

/* Under ASan everything in an arena not handed out is poisoned
 * (allocators/pymalloc.c, "ASan"): ASan reports a write into a freed block,
 * into a carved block never handed out, into a pool's never-carved tail and
 * into a pool not carved yet (use-after-poison, at the very byte), also
 * after check() walked the free list, and into a large block freed to the
 * inner segfit, a cached large=os mapping, a block freed through
 * debug:pymalloc. Writes over the whole usable size (the class size, more
 * than was asked) of a live block are not reported, nor after realloc in
 * place or LIFO reuse, nor into the arena's address range once the arena
 * went back to the OS. Without ASan only the legal writes are made. */
static void test_asan_sees_free_blocks(void **state)
{
    (void)state;
    pm_heap_t *h = make("pymalloc,large=segfit");   /* below: a block freed to the inner segfit */
    unsigned char *a = ops->malloc(h, 32), *b = ops->malloc(h, 32), *c = ops->malloc(h, 20);
    assert_int_equal(ops->usable_size(h, c), 32);
    pmt_asan_write(a, ops->usable_size(h, a), false);
    pmt_asan_write(c, ops->usable_size(h, c), false);   /* the class size, not the 20 asked */
    struct pm_pymalloc_pool_info in = info_of(h, a);
    assert_int_equal(in.carved, 4);                     /* a, b, c and one on the free list */
    unsigned char *pool = (unsigned char *)in.pool, *arena = (unsigned char *)in.arena_address;
    assert_ptr_equal(a, pool + 48);
    pmt_asan_write(pool + 48 + 3 * 32, 1, true);        /* carved, never handed out */
    pmt_asan_write(pool + 48 + 4 * 32, 1, true);        /* at nextoffset: never carved */
    pmt_asan_write(pool + 16384 - 1, 1, true);          /* the pool's last byte */
    pmt_asan_write(pool + 16384, 1, true);              /* the next pool, not carved */
    if (in.arena_first_pool != in.arena_address)
        pmt_asan_write(arena, 1, true);                 /* lost to pool alignment */

    ops->free(h, b);
    pmt_asan_write(b, 1, true);                         /* the link of a free block */
    pmt_asan_write(b + 31, 1, true);                    /* its last byte */
    pmt_check_clean(ops, h);                            /* opens and closes the link */
    pmt_asan_write(b, 1, true);
    assert_ptr_equal(ops->realloc(h, c, 30), c);        /* in place: the class stays */
    pmt_asan_write(c, 32, false);
    unsigned char *m = ops->realloc(h, c, 400);         /* moves: c is freed */
    assert_ptr_not_equal(m, c);
    pmt_asan_write(c, 1, true);
    pmt_asan_write(m, ops->usable_size(h, m), false);
    unsigned char *again = ops->malloc(h, 17);          /* LIFO: c comes back, whole */
    assert_ptr_equal(again, c);
    pmt_asan_write(again, 32, false);
    unsigned char *big = ops->malloc(h, 2000);          /* the inner segfit's block */
    pmt_asan_write(big, ops->usable_size(h, big), false);
    ops->free(h, big);
    pmt_asan_write(big, 1, true);
    ops->free(h, a);
    ops->free(h, again);
    ops->free(h, m);
    pmt_check_clean(ops, h);
    assert_int_equal(stats_of(h).live_blocks, 0);
    ops->trim(h);                                       /* the arena goes back */
    assert_int_equal(stats_of(h).arenas, 0);
    pmt_asan_unmapped_clean(arena, 1u << 20);
    ops->destroy(h);

    /* large=os: a freed mapping kept in the cache is poisoned until reused */
    h = make("pymalloc,large=os");
    unsigned char *l = ops->malloc(h, 10000);
    size_t lu = ops->usable_size(h, l);
    pmt_asan_write(l, lu, false);
    ops->free(h, l);
    pmt_asan_write(l, 1, true);
    pmt_asan_write(l + lu - 1, 1, true);
    assert_ptr_equal(ops->malloc(h, 9000), l);          /* within 25%: the cached mapping */
    pmt_asan_write(l, lu, false);
    ops->free(h, l);
    ops->trim(h);
    pmt_asan_unmapped_clean(l - 16, lu + 16);
    ops->destroy(h);

    /* debug:pymalloc: the wrapper's block goes back to pymalloc, poisoned */
    const struct allocator_ops *dops;
    h = pmt_create("debug:pymalloc", &dops);
    unsigned char *d = dops->malloc(h, 40);
    pmt_asan_write(d, dops->usable_size(h, d), false);
    dops->free(h, d);
    pmt_asan_write(d, 1, true);
    dops->destroy(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_class_mapping_1_to_512, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocks_per_pool_both_presets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_and_arena_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arena_alignment_loss_py310, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_kept_arena_38, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arena_map_310, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_realloc_across_bitmap_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_carving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_free_arena_and_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fullest_arena_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arena_table_grows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_realloc_three_quarters_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misuse_detected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misuse_without_handler_is_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_reports_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_reports_radix_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_geometry_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory_each_first_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_cache_reuse_and_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_path_segfit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_path_system, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_totals_add_up, setup, teardown),
        cmocka_unit_test(test_printer_matches_cpython_output),
        cmocka_unit_test_setup_teardown(test_printer_golden_small_heap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_asan_sees_free_blocks, setup, teardown),
    };
    return cmocka_run_group_tests_name("pymalloc", tests, NULL, NULL);
}
