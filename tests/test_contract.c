/* tests/test_contract.c — the allocator contract (allocators/allocator.h),
 * run over every available backend in the registry, wrappers over `system`
 * and over each own backend. A new backend is tested by being registered.
 *
 * `null` reuses its ring and so is exempt from content and overlap checks
 * (its purpose is to measure the replay loop, see allocators/null.c).
 */
#include "pm_test.h"
#include "cpython.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *spec;              /* backend under test */
static const struct allocator_ops *ops;
static pm_heap_t *heap;
static uint64_t mapped_before;

static int keeps_contents(void) { return strcmp(ops->name, "null") != 0; }

static int setup(void **state)
{
    (void)state;
    mapped_before = pm_os_total_mapped();
    heap = pmt_create(spec, &ops);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ops->destroy(heap);
    heap = NULL;
    /* destroy gives back every byte mapped through the OS layer */
    if (pm_os_total_mapped() != mapped_before) {
        fprintf(stderr, "%s: destroy left %llu bytes mapped\n", spec,
                (unsigned long long)(pm_os_total_mapped() - mapped_before));
        return -1;
    }
    return 0;
}

static void test_alignment_and_usable_size(void **state)
{
    (void)state;
    void *ps[600];
    for (size_t n = 1; n <= 600; n++) {
        char *p = ops->malloc(heap, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        if (ops->usable_size)
            assert_true(ops->usable_size(heap, p) >= n);
        memset(p, 0xAB, n);
        ps[n - 1] = p;
    }
    for (size_t n = 1; n <= 600; n++)
        ops->free(heap, ps[n - 1]);
    size_t bigs[] = {4096, 65536, 1 << 20, (3 << 20) + 7};
    for (size_t i = 0; i < sizeof bigs / sizeof *bigs; i++) {
        char *p = ops->malloc(heap, bigs[i]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        if (ops->usable_size)
            assert_true(ops->usable_size(heap, p) >= bigs[i]);
        p[0] = p[bigs[i] - 1] = 1;
        ops->free(heap, p);
    }
    pmt_check_clean(ops, heap);
}

static void test_malloc_zero_and_free_null(void **state)
{
    (void)state;
    void *a = ops->malloc(heap, 0);
    void *b = ops->malloc(heap, 0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    ops->free(heap, NULL);
    ops->free(heap, a);
    ops->free(heap, b);
    pmt_check_clean(ops, heap);
}

static void test_calloc_zeroes_and_overflow(void **state)
{
    (void)state;
    /* dirty some memory first so that a recycled block would show */
    for (int i = 0; i < 64; i++) {
        char *p = ops->malloc(heap, 200);
        memset(p, 0x5A, 200);
        ops->free(heap, p);
    }
    size_t counts[] = {1, 7, 25, 1000};
    for (size_t i = 0; i < 4; i++) {
        unsigned char *p = ops->calloc(heap, counts[i], 8);
        assert_non_null(p);
        for (size_t k = 0; k < counts[i] * 8; k++)
            assert_int_equal(p[k], 0);
        ops->free(heap, p);
    }
    /* a zero-byte calloc is a valid unique block, however large the other
     * factor (found by fuzz_diff: system passed it to glibc as k x 1) */
    void *z1 = ops->calloc(heap, (size_t)1 << 40, 0), *z2 = ops->calloc(heap, 0, (size_t)1 << 40);
    assert_non_null(z1);
    assert_non_null(z2);
    assert_ptr_not_equal(z1, z2);
    ops->free(heap, z1);
    ops->free(heap, z2);
    assert_null(ops->calloc(heap, SIZE_MAX / 2, 3));
    assert_null(ops->calloc(heap, (size_t)1 << 33, (size_t)1 << 33));
    pmt_check_clean(ops, heap);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7);
}

static void expect_fill(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7))
            fail_msg("%s: byte %zu of %zu changed", spec, i, n);
}

static void test_realloc_keeps_contents(void **state)
{
    (void)state;
    if (!keeps_contents())
        skip();
    size_t sizes[] = {8, 16, 17, 100, 384, 512, 513, 2000, 70000, 300, 24, 1, 5000, 40};
    unsigned char *p = ops->realloc(heap, NULL, 8);
    assert_non_null(p);
    fill(p, 8, 3);
    size_t cur = 8;
    for (size_t i = 1; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        unsigned char *q = ops->realloc(heap, p, n);
        assert_non_null(q);
        expect_fill(q, cur < n ? cur : n, 3);
        fill(q, n, 3);
        p = q;
        cur = n;
        pmt_check_clean(ops, heap);
    }
    ops->free(heap, p);
    pmt_check_clean(ops, heap);
}

struct live { unsigned char *p; size_t n; unsigned seed; };

static int by_addr(const void *a, const void *b)
{
    const struct live *x = a, *y = b;
    return (x->p > y->p) - (x->p < y->p);
}

/* Seeded random malloc/calloc/realloc/free with a contents pattern per block;
 * every 2000 ops the live set is sorted by address and checked for overlap. */
static void test_random_stress_no_overlap(void **state)
{
    (void)state;
    if (!keeps_contents())
        skip();
    enum { SLOTS = 2000, OPS = 60000 };
    struct live *slot = calloc(SLOTS, sizeof *slot);
    struct live *sorted = calloc(SLOTS, sizeof *sorted);
    uint64_t rng = 12345;
    for (unsigned k = 0; k < OPS; k++) {
        uint64_t r = pmt_rand(&rng);
        struct live *s = &slot[r % SLOTS];
        unsigned op = (unsigned)(r >> 20) % 8;
        size_t n = (r >> 32) % 8 == 0 ? 1 + (r >> 40) % 20000 : 1 + (r >> 40) % 512;
        if (s->p && op < 3) {
            expect_fill(s->p, s->n, s->seed);
            ops->free(heap, s->p);
            s->p = NULL;
        } else if (s->p && op < 5) {
            unsigned char *q = ops->realloc(heap, s->p, n);
            assert_non_null(q);
            expect_fill(q, s->n < n ? s->n : n, s->seed);
            s->p = q;
            s->n = n;
            fill(q, n, s->seed);
        } else if (!s->p) {
            s->p = op == 7 ? ops->calloc(heap, 1, n) : ops->malloc(heap, n);
            assert_non_null(s->p);
            if (op == 7)
                for (size_t i = 0; i < n; i++)
                    assert_int_equal(s->p[i], 0);
            s->n = n;
            s->seed = k;
            fill(s->p, n, k);
        }
        if (k % 2000 == 1999) {
            size_t m = 0;
            for (size_t i = 0; i < SLOTS; i++)
                if (slot[i].p)
                    sorted[m++] = slot[i];
            qsort(sorted, m, sizeof *sorted, by_addr);
            for (size_t i = 1; i < m; i++)
                if (sorted[i - 1].p + sorted[i - 1].n > sorted[i].p)
                    fail_msg("%s: blocks %p+%zu and %p overlap", spec, (void *)sorted[i - 1].p,
                             sorted[i - 1].n, (void *)sorted[i].p);
            pmt_check_clean(ops, heap);
        }
    }
    for (size_t i = 0; i < SLOTS; i++)
        if (slot[i].p) {
            expect_fill(slot[i].p, slot[i].n, slot[i].seed);
            ops->free(heap, slot[i].p);
        }
    pmt_check_clean(ops, heap);
    if (ops->trim)
        ops->trim(heap);
    pmt_check_clean(ops, heap);
    free(slot);
    free(sorted);
}

/* Stats agree with what we did, for backends that count blocks. */
static void test_stats_count_live_blocks(void **state)
{
    (void)state;
    struct pm_stats a, b;
    ops->stats(heap, &a);
    if (a.live_blocks == PM_STAT_NA || (ops->flags & PM_BACKEND_GLOBAL))
        skip();
    void *p[100];
    for (int i = 0; i < 100; i++)
        p[i] = ops->malloc(heap, (size_t)(i * 13 + 1));
    ops->stats(heap, &b);
    assert_int_equal(b.live_blocks, a.live_blocks + 100);
    if (b.mapped_bytes != PM_STAT_NA)
        assert_true(b.peak_mapped_bytes >= b.mapped_bytes);
    for (int i = 0; i < 100; i++)
        ops->free(heap, p[i]);
    ops->stats(heap, &b);
    assert_int_equal(b.live_blocks, a.live_blocks);
}

static int run_one(const char *s)
{
    spec = s;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alignment_and_usable_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malloc_zero_and_free_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_calloc_zeroes_and_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_realloc_keeps_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_stress_no_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_count_live_blocks, setup, teardown),
    };
    char name[128];
    snprintf(name, sizeof name, "contract[%s]", s);
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}

int main(void)
{
    int failed = 0;
    for (const struct allocator_ops *const *b = pm_backends; *b; b++) {
        const struct allocator_ops *o = *b;
        if (o->flags & PM_BACKEND_TEST_ONLY)
            continue;
        if (o->unavailable && o->unavailable()) {
            printf("contract[%s]: skipped, unavailable: %s\n", o->name, o->unavailable());
            continue;
        }
        if (o->flags & PM_BACKEND_WRAPPER) {
            /* the wrapper over system and over every own backend */
            char s[64];
            for (const struct allocator_ops *const *in = pm_backends; *in; in++) {
                unsigned skip_flags = PM_BACKEND_WRAPPER | PM_BACKEND_TEST_ONLY;
                if (((*in)->flags & skip_flags) || !strcmp((*in)->name, "null"))
                    continue;
                if (((*in)->flags & PM_BACKEND_REFERENCE) && strcmp((*in)->name, "system"))
                    continue;
                snprintf(s, sizeof s, "%s:%s", o->name, (*in)->name);
                failed += run_one(s);
            }
            continue;
        }
        failed += run_one(o->name);
        if (o == &pm_cpython_ops) {
            /* and every CPython version found on the machine */
            for (size_t i = 0; i < pm_cpython_version_count(); i++) {
                const char *v, *desc;
                const char *why = pm_cpython_version_status(i, &v, &desc);
                char s[64];
                snprintf(s, sizeof s, "cpython,version=%s", v);
                if (why) {
                    printf("contract[%s]: skipped, unavailable: %s\n", s, why);
                    continue;
                }
                failed += run_one(s);
            }
        }
    }
    return failed ? 1 : 0;
}
