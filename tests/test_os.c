/* tests/test_os.c — the OS layer: accounting and fault injection. */
#include "pm_test.h"

#include <errno.h>
#include <string.h>

static void test_map_unmap_accounting(void **state)
{
    (void)state;
    struct pm_os os;
    pm_os_init(&os, NULL);
    size_t page = pm_os_page_size();
    char *a = pm_os_map(&os, 1);
    assert_non_null(a);
    assert_int_equal(os.mapped, page);
    char *b = pm_os_map_aligned(&os, 3 * page, 1 << 20);
    assert_non_null(b);
    assert_int_equal((uintptr_t)b % (1 << 20), 0);
    assert_int_equal(os.mapped, 4 * page);
    b[3 * page - 1] = 1;   /* the whole aligned range is usable */
    pm_os_unmap(&os, a, 1);
    assert_int_equal(os.mapped, 3 * page);
    assert_int_equal(os.peak_mapped, 4 * page);
    pm_os_unmap(&os, b, 3 * page);
    assert_int_equal(os.mapped, 0);
    assert_int_equal(os.map_calls, 2);
    assert_int_equal(os.unmap_calls, 2);
}

static void test_fail_nth(void **state)
{
    (void)state;
    struct pm_os os;
    struct pm_os_faults f = {.fail_nth = 2};
    pm_os_init(&os, &f);
    void *a = pm_os_map(&os, 100);
    errno = 0;
    void *b = pm_os_map(&os, 100);
    assert_non_null(a);
    assert_null(b);
    assert_int_equal(errno, ENOMEM);
    void *c = pm_os_map(&os, 100);
    assert_non_null(c);   /* only the 2nd call fails */
    assert_int_equal(os.failed_maps, 1);
    pm_os_unmap(&os, a, 100);
    pm_os_unmap(&os, c, 100);
    assert_int_equal(os.mapped, 0);
}

static void test_fail_from_and_lift(void **state)
{
    (void)state;
    struct pm_os os;
    struct pm_os_faults f = {.fail_from = 3};
    pm_os_init(&os, &f);
    void *p[2];
    for (int i = 0; i < 2; i++)
        assert_non_null(p[i] = pm_os_map(&os, 10));
    for (int i = 0; i < 5; i++)
        assert_null(pm_os_map(&os, 10));
    pm_os_set_faults(&os, NULL);
    void *q = pm_os_map(&os, 10);
    assert_non_null(q);
    pm_os_unmap(&os, q, 10);
    for (int i = 0; i < 2; i++)
        pm_os_unmap(&os, p[i], 10);
    assert_int_equal(os.mapped, 0);
}

static void test_decommit_keeps_mapping_zeroes_pages(void **state)
{
    (void)state;
    struct pm_os os;
    pm_os_init(&os, NULL);
    size_t page = pm_os_page_size();
    unsigned char *a = pm_os_map(&os, 4 * page);
    a[page] = 7;
    pm_os_decommit(&os, a, 4 * page);
    assert_int_equal(a[page], 0);
    assert_int_equal(os.mapped, 4 * page);
    assert_int_equal(os.decommitted, 4 * page);
    pm_os_unmap(&os, a, 4 * page);
}

static void test_option_and_size_parsing(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(pm_parse_size("16K", 3, &v));
    assert_int_equal(v, 16384);
    assert_true(pm_parse_size("1MiB", 4, &v));
    assert_int_equal(v, 1 << 20);
    assert_false(pm_parse_size("1X", 2, &v));
    assert_false(pm_parse_size("", 0, &v));
    struct pm_opt_iter it = {"a=1,bb=22"};
    const char *k, *val;
    size_t kl, vl;
    char err[PM_ERR_LEN];
    assert_int_equal(pm_opt_next(&it, &k, &kl, &val, &vl, err), 1);
    assert_true(pm_opt_key_is(k, kl, "a"));
    assert_int_equal(pm_opt_next(&it, &k, &kl, &val, &vl, err), 1);
    assert_true(pm_opt_key_is(k, kl, "bb"));
    assert_int_equal(vl, 2);
    assert_int_equal(pm_opt_next(&it, &k, &kl, &val, &vl, err), 0);
    struct pm_opt_iter bad = {"novalue"};
    assert_int_equal(pm_opt_next(&bad, &k, &kl, &val, &vl, err), -1);
}

static void test_unknown_backend_lists_known(void **state)
{
    (void)state;
    char err[PM_ERR_LEN];
    assert_null(pm_backend_create("nosuch", NULL, NULL, err));
    assert_non_null(strstr(err, "unknown backend 'nosuch'"));
    assert_non_null(strstr(err, "system"));
    assert_null(pm_backend_create("system,x=1", NULL, NULL, err));
    assert_non_null(strstr(err, "takes no options"));
}

/* The mapping cache: a recycled range is the same memory, zeroed, counted
 * as a mapping again; faults still apply first; a flush gives back all. */
static void test_cache_recycles_zeroed(void **state)
{
    (void)state;
    struct pm_os os;
    pm_os_init(&os, NULL);
    size_t page = pm_os_page_size();
    struct pm_os_cache_info ci0, ci;
    pm_os_cache_info(&ci0);
    pm_os_cache_set((uint64_t)64 << 20, 16);
    char *a = pm_os_map_aligned(&os, 8 * page, 1 << 20);
    assert_non_null(a);
    memset(a, 0xAB, 2 * page);          /* two pages dirty */
    a[7 * page] = 1;
    pm_os_unmap(&os, a, 8 * page);
    assert_int_equal(os.mapped, 0);
    pm_os_cache_info(&ci);
    assert_int_equal(ci.cached_bytes, 8 * page);
    assert_int_equal(ci.kernel_mapped, ci0.kernel_mapped + 8 * page);
    char *b = pm_os_map(&os, 8 * page);  /* page alignment: the same range fits */
    assert_ptr_equal(b, a);
    for (size_t i = 0; i < 8 * page; i++)
        if (b[i]) fail_msg("byte %zu of a recycled range is %d", i, b[i]);
    assert_int_equal(os.mapped, 8 * page);
    pm_os_unmap(&os, b, 8 * page);
    struct pm_os_faults f = {.fail_from = 1};
    pm_os_set_faults(&os, &f);
    errno = 0;
    assert_null(pm_os_map(&os, 8 * page));   /* a fault wins over the cache */
    assert_int_equal(errno, ENOMEM);
    pm_os_set_faults(&os, NULL);
    char *c = pm_os_map(&os, 4 * page);      /* a smaller size: cut from the cached range */
    assert_ptr_equal(c, a);
    char *c2 = pm_os_map(&os, 2 * page);     /* and again from what is left */
    assert_ptr_equal(c2, a + 4 * page);
    pm_os_cache_info(&ci);
    assert_int_equal(ci.cached_ranges, 1);
    assert_int_equal(ci.cached_bytes, 2 * page);
    for (size_t i = 0; i < 4 * page; i++)
        if (c[i]) fail_msg("byte %zu of a cut range is %d", i, c[i]);
    c[page] = 7;                            /* (a cached range's first bytes are its bookkeeping) */
    pm_os_unmap(&os, c2, 2 * page);          /* merged with the part above */
    pm_os_unmap(&os, c, 4 * page);           /* and with this one: one range again */
    pm_os_cache_info(&ci);
    assert_int_equal(ci.cached_ranges, 1);
    assert_int_equal(ci.cached_bytes, 8 * page);
    bool zeroed = true;
    char *e = pm_os_map_any(&os, 8 * page, page, &zeroed);   /* as it is */
    assert_ptr_equal(e, a);
    assert_false(zeroed);
    assert_int_equal(e[page], 7);
    char *big = pm_os_map(&os, 16 * page);   /* larger than any cached: a fresh mapping */
    assert_non_null(big);
    pm_os_unmap(&os, big, 16 * page);
    pm_os_unmap(&os, e, 8 * page);
    pm_os_cache_set((uint64_t)64 << 20, 1);  /* one range: the older goes */
    pm_os_cache_info(&ci);
    assert_int_equal(ci.cached_ranges, 1);
    pm_os_cache_flush();
    pm_os_cache_info(&ci);
    assert_int_equal(ci.cached_bytes, 0);
    assert_int_equal(ci.kernel_mapped, ci0.kernel_mapped);
    pm_os_cache_set(0, 0);
    char *d = pm_os_map(&os, page);
    pm_os_unmap(&os, d, page);                /* off: unmapped at once */
    pm_os_cache_info(&ci);
    assert_int_equal(ci.cached_ranges, 0);
    assert_int_equal(pm_os_total_mapped(), 0);
}

/* Runs a fixed mixed workload on a heap of `spec` and returns its stats at
 * the end; calloc must give zeros and check() must pass at every step. */
static struct pm_stats run_workload(const char *spec)
{
    char err[PM_ERR_LEN], msg[PM_ERR_LEN];
    const struct allocator_ops *ops;
    pm_heap_t *h = pm_backend_create(spec, NULL, &ops, err);
    if (!h)
        fail_msg("%s: %s", spec, err);
    enum { N = 3000 };
    static unsigned char *p[N];
    static size_t n[N];
    uint64_t x = 88172645463325252u;
    for (unsigned i = 0; i < 4 * N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned s = (unsigned)(x % N);
        size_t size = (x >> 20) % 4 == 0 ? (size_t)(x >> 32) % 70000 : (size_t)(x >> 32) % 600;
        if (p[s]) {
            for (size_t k = 0; k < n[s]; k += 61)
                if (p[s][k] != (unsigned char)s)
                    fail_msg("%s: byte %zu of block %u changed", spec, k, s);
            ops->free(h, p[s]);
            p[s] = NULL;
        } else {
            bool zero = (x >> 40) & 1;
            p[s] = zero ? ops->calloc(h, 1, size) : ops->malloc(h, size);
            assert_non_null(p[s]);
            n[s] = size;
            for (size_t k = 0; zero && k < size; k++)
                if (p[s][k])
                    fail_msg("%s: byte %zu of calloc(1, %zu) is %#x", spec, k, size, p[s][k]);
            memset(p[s], (unsigned char)s, size);
        }
        if (i % 1499 == 0 && ops->trim)
            ops->trim(h);   /* decommits free pages (segfit, buddy) */
        if (i % 997 == 0 && ops->check(h, msg))
            fail_msg("%s: check: %s", spec, msg);
    }
    if (ops->check(h, msg))
        fail_msg("%s: check: %s", spec, msg);
    struct pm_stats st;
    ops->stats(h, &st);
    for (unsigned s = 0; s < N; s++)
        if (p[s]) {
            ops->free(h, p[s]);
            p[s] = NULL;
        }
    ops->destroy(h);
    return st;
}

/* pm_os_map_any hands out recycled ranges as they are: the backends that
 * use it (pymalloc's arenas, buddy's and segfit's regions) must not count
 * on zeros, nor on decommitted pages reading as zero (with the cache on they
 * keep their contents). A heap whose every range was left full of 0xA5 by
 * the one before, and whose decommits fill with 0xA5, must behave as a
 * fresh one: the same stats after the same workload, calloc still zero,
 * check() clean. */
static void test_recycled_dirty_ranges_behave_as_fresh(void **state)
{
    (void)state;
    static const char *const specs[] = {
        "pymalloc,large=segfit,placement=aligned", "pymalloc,large=segfit,placement=unaligned",
        "pymalloc,preset=3.8,large=segfit,placement=aligned", "segfit", "buddy",
        "buddy,max=64K,keep_empty=0",
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        struct pm_stats fresh = run_workload(specs[i]);
        pm_os_cache_set((uint64_t)256 << 20, 4096);
        (void)run_workload(specs[i]);   /* leaves its ranges in the cache */
        struct pm_os_cache_info ci;
        pm_os_cache_info(&ci);
        assert_true(ci.cached_ranges > 0);
        pm_os_cache_scribble(0xA5);
        pm_os_cache_decommit_fill(0xA5);   /* and what it decommits, as not zero */
        uint64_t hits0 = ci.hits;
        struct pm_stats dirty = run_workload(specs[i]);
        pm_os_cache_decommit_fill(-1);
        pm_os_cache_info(&ci);
        if (ci.hits == hits0)
            fail_msg("%s: the second heap took no recycled range", specs[i]);
#define PM_X(name, desc)                                                                      \
        if (fresh.name != dirty.name)                                                         \
            fail_msg("%s: stats." #name ": %llu on a fresh heap, %llu on recycled ranges",    \
                     specs[i], (unsigned long long)fresh.name, (unsigned long long)dirty.name);
        PM_STATS_FIELDS(PM_X)
#undef PM_X
        pm_os_cache_set(0, 0);
        assert_int_equal(pm_os_total_mapped(), 0);
    }
}

/* The cache under random map and unmap calls of many sizes and alignments
 * (cuts, merges, evictions): every range handed out is the caller's alone
 * (its fill survives until it is unmapped), zero where zeros were asked,
 * and a flush gives every byte back to the kernel. */
static void test_cache_random_ranges(void **state)
{
    (void)state;
    enum { SLOTS = 64, OPS = 20000 };
    size_t page = pm_os_page_size();
    struct pm_os os;
    pm_os_init(&os, NULL);
    struct pm_os_cache_info ci0, ci;
    pm_os_cache_info(&ci0);
    pm_os_cache_set((uint64_t)24 << 20, 512);   /* small: evictions happen */
    static unsigned char *p[SLOTS];
    static size_t n[SLOTS];
    uint64_t x = 0x2545F4914F6CDD1Du;
    for (unsigned i = 0; i < OPS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned s = (unsigned)(x % SLOTS);
        if (p[s]) {
            if (p[s][0] != (unsigned char)s || p[s][n[s] - 1] != (unsigned char)s ||
                p[s][n[s] / 2] != (unsigned char)s)
                fail_msg("op %u: range %u changed under its owner", i, s);
            pm_os_unmap(&os, p[s], n[s]);
            p[s] = NULL;
            const char *bad = pm_os_cache_invalid();
            if (bad)
                fail_msg("op %u: cache: %s", i, bad);
            continue;
        }
        n[s] = page * (1 + (x >> 8) % ((x >> 40) & 1 ? 300 : 12));
        size_t align = (x >> 20) % 4 == 0 ? (size_t)64 << 10 : page;
        bool zero = (x >> 30) & 1, zeroed = true;
        p[s] = zero ? pm_os_map_aligned(&os, n[s], align) : pm_os_map_any(&os, n[s], align, &zeroed);
        assert_non_null(p[s]);
        assert_int_equal((uintptr_t)p[s] % align, 0);
        if (zero || zeroed)
            for (size_t k = 0; k < n[s]; k += 511)
                if (p[s][k])
                    fail_msg("op %u: byte %zu of a range said zero is %#x", i, k, p[s][k]);
        memset(p[s], (unsigned char)s, n[s]);
        const char *bad = pm_os_cache_invalid();
        if (bad)
            fail_msg("op %u: cache: %s", i, bad);
    }
    for (unsigned s = 0; s < SLOTS; s++)
        if (p[s])
            pm_os_unmap(&os, p[s], n[s]);
    assert_int_equal(os.mapped, 0);
    pm_os_cache_info(&ci);
    assert_true(ci.hits > OPS / 4);    /* the cache served most calls */
    assert_true(ci.cached_bytes <= (uint64_t)24 << 20 && ci.cached_ranges <= 512);
    assert_int_equal(ci.kernel_mapped, ci0.kernel_mapped + ci.cached_bytes);
    pm_os_cache_set(0, 0);
    pm_os_cache_info(&ci);
    assert_int_equal(ci.kernel_mapped, ci0.kernel_mapped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_unmap_accounting),
        cmocka_unit_test(test_fail_nth),
        cmocka_unit_test(test_fail_from_and_lift),
        cmocka_unit_test(test_decommit_keeps_mapping_zeroes_pages),
        cmocka_unit_test(test_option_and_size_parsing),
        cmocka_unit_test(test_unknown_backend_lists_known),
        cmocka_unit_test(test_cache_recycles_zeroed),
        cmocka_unit_test(test_recycled_dirty_ranges_behave_as_fresh),
        cmocka_unit_test(test_cache_random_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
