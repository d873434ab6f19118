/* tests/test_large.c — the shared large-block path (allocators/pm_large.h):
 * counters against hand-computed mappings, the cache's reuse rule, the
 * header level's set and check, fault injection and the size bound. */
#include "pm_test.h"
#include "pm_large.h"

#include <errno.h>
#include <string.h>

static size_t page(void) { return pm_os_page_size(); }

/* hdr 0 (buddy) and 16 (segfit, pymalloc): mapping = round_up(hdr + n). */
static void test_map_counts_by_hand(void **state)
{
    (void)state;
    struct pm_os os;
    pm_os_init(&os, NULL);
    struct pm_large l;
    pm_large_init(&l, 0, 0);
    size_t s0, s1;
    uint8_t *a = pm_large_map(&l, &os, 2 * page(), 0, false, &s0);        /* exactly 2 pages */
    uint8_t *b = pm_large_map(&l, &os, 2 * page(), PM_LARGE_HDR, false, &s1); /* 2 pages + 16 */
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(s0, 2 * page());
    assert_int_equal(s1, 3 * page());
    assert_int_equal((uintptr_t)a % page(), 0);
    assert_int_equal((uintptr_t)b % page(), PM_LARGE_HDR);
    assert_int_equal(l.count, 2);
    assert_int_equal(l.mapped, 5 * page());
    assert_int_equal(l.usable, 2 * page() + 3 * page() - PM_LARGE_HDR);
    assert_int_equal(os.mapped, 5 * page());
    a[s0 - 1] = 1;
    b[s1 - PM_LARGE_HDR - 1] = 1;
    pm_large_unmap(&l, &os, a, s0, 0);
    pm_large_unmap(&l, &os, b - PM_LARGE_HDR, s1, PM_LARGE_HDR);
    assert_int_equal(l.count, 0);
    assert_int_equal(l.mapped, 0);
    assert_int_equal(l.usable, 0);
    assert_int_equal(l.nmalloc, 2);
    assert_int_equal(l.nfree, 2);
    assert_int_equal(os.mapped, 0);
}

/* A freed mapping is reused by a request it covers with at most 25% to
 * spare, the smallest such; zeroed only when asked; oldest evicted. */
static void test_cache_reuse_rule(void **state)
{
    (void)state;
    struct pm_os os;
    pm_os_init(&os, NULL);
    struct pm_large l;
    pm_large_init(&l, 2, 64 * page());
    size_t s;
    uint8_t *p16 = pm_large_map(&l, &os, 16 * page(), 0, false, &s);
    uint8_t *p20 = pm_large_map(&l, &os, 20 * page(), 0, false, &s);
    memset(p16, 0xab, 16 * page());
    memset(p20, 0xcd, 20 * page());
    pm_large_unmap(&l, &os, p16, 16 * page(), 0);
    pm_large_unmap(&l, &os, p20, 20 * page(), 0);
    assert_int_equal(l.ncached, 2);
    assert_int_equal(l.cached_bytes, 36 * page());
    assert_int_equal(os.mapped, 36 * page());       /* kept mappings stay mapped */
    uint64_t calls = os.map_calls;
    /* 12 pages: 16 spares 4 > 12/4 = 3: not reused, a fresh mapping */
    uint8_t *q = pm_large_map(&l, &os, 12 * page(), 0, false, &s);
    assert_int_equal(os.map_calls, calls + 1);
    assert_int_equal(s, 12 * page());
    pm_large_unmap(&l, &os, q, s, 0);               /* evicts the oldest (16) */
    assert_int_equal(l.ncached, 2);
    assert_int_equal(l.cached_bytes, 32 * page());
    assert_int_equal(os.mapped, 32 * page());
    calls = os.map_calls;
    /* 17 pages: 20 spares 3 <= 17/4: reused, contents not zeroed */
    q = pm_large_map(&l, &os, 17 * page(), 0, false, &s);
    assert_int_equal(os.map_calls, calls);
    assert_ptr_equal(q, p20);
    assert_int_equal(s, 20 * page());
    assert_int_equal(q[0], 0xcd);
    assert_int_equal(l.usable, 20 * page());
    pm_large_unmap(&l, &os, q, s, 0);
    /* zero=true on reuse: the request's bytes read zero */
    q = pm_large_map(&l, &os, 17 * page(), 0, true, &s);
    assert_ptr_equal(q, p20);
    for (size_t i = 0; i < 17 * page(); i += 97)
        assert_int_equal(q[i], 0);
    pm_large_unmap(&l, &os, q, s, 0);
    /* above cache_max_map: unmapped at once */
    q = pm_large_map(&l, &os, 65 * page(), 0, false, &s);
    pm_large_unmap(&l, &os, q, s, 0);
    assert_int_equal(l.cached_bytes, 32 * page());
    pm_large_cache_flush(&l, &os);
    assert_int_equal(l.ncached, 0);
    assert_int_equal(l.cached_bytes, 0);
    assert_int_equal(os.mapped, 0);
}

static void test_header_level_and_check(void **state)
{
    (void)state;
    struct pm_os os;
    pm_os_init(&os, NULL);
    struct pm_large l;
    pm_large_init(&l, 0, 0);
    char why[256];
    void *p[300];
    for (int i = 0; i < 300; i++) {       /* past the first set's 256 keys: it grows */
        p[i] = pm_large_alloc(&l, &os, 5000 + (size_t)i, i & 1, 4);
        assert_non_null(p[i]);
        assert_ptr_equal(pm_large_find(&l, p[i])[0], p[i]);
        assert_true(pm_large_usable(p[i]) >= 5000 + (size_t)i);
    }
    assert_true(pm_large_valid(&l, why, sizeof why));
    assert_int_equal(l.set.count, 300);
    assert_null(pm_large_find(&l, (uint8_t *)p[0] + 16));
    for (int i = 0; i < 300; i += 2)
        pm_large_free_entry(&l, &os, pm_large_find(&l, p[i]));
    assert_true(pm_large_valid(&l, why, sizeof why));
    assert_int_equal(l.count, 150);
    assert_null(pm_large_find(&l, p[0]));
    /* a damaged header and a wrong counter are both reported */
    struct pm_large_hdr *hd = pm_large_hdr(p[1]);
    uint64_t keep = hd->magic;
    hd->magic ^= 1;
    assert_false(pm_large_valid(&l, why, sizeof why));
    assert_non_null(strstr(why, "header damaged"));
    hd->magic = keep;
    l.usable += 16;
    assert_false(pm_large_valid(&l, why, sizeof why));
    assert_non_null(strstr(why, "counters say"));
    l.usable -= 16;
    assert_true(pm_large_valid(&l, why, sizeof why));
    pm_large_fini(&l, &os);
    assert_int_equal(os.mapped, 0);
}

/* An injected map failure leaves nothing counted and the set consistent;
 * a request above the bound fails before any system call. */
static void test_faults_and_bound(void **state)
{
    (void)state;
    struct pm_os os;
    struct pm_os_faults f = {.fail_nth = 2};    /* 1: the set, 2: the block */
    pm_os_init(&os, &f);
    struct pm_large l;
    pm_large_init(&l, 0, 0);
    char why[256];
    errno = 0;
    assert_null(pm_large_alloc(&l, &os, 100000, false, 4));
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(l.count, 0);
    assert_int_equal(l.set.count, 0);
    assert_true(pm_large_valid(&l, why, sizeof why));
    void *p = pm_large_alloc(&l, &os, 100000, false, 4);
    assert_non_null(p);
    uint64_t calls = os.map_calls;
    errno = 0;
    assert_null(pm_large_alloc(&l, &os, PM_LARGE_MAX + 1, false, 4));
    assert_int_equal(errno, ENOMEM);
    size_t s;
    assert_null(pm_large_map(&l, &os, SIZE_MAX - 8, 0, false, &s));
    assert_int_equal(os.map_calls, calls);
    assert_int_equal(l.count, 1);
    pm_large_fini(&l, &os);
    assert_int_equal(os.mapped, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_counts_by_hand),
        cmocka_unit_test(test_cache_reuse_rule),
        cmocka_unit_test(test_header_level_and_check),
        cmocka_unit_test(test_faults_and_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
