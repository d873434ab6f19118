/* tests/test_addrset.c — allocators/pm_addrset.h, the address set of segfit,
 * buddy, debug and the slot map: against a plain array under random inserts
 * and removes (both hashings, both widths), its tables counted and
 * fault-injected through the OS layer, and pm_addrset_valid seeing damage. */
#include "pm_test.h"
#include "pm_addrset.h"
#include "pm_random.h"

#include <errno.h>
#include <string.h>

enum { N_KEYS = 3000 };

/* keys k_i = base + i * stride, present[i] as the reference */
static void random_ops(unsigned width, unsigned shift, bool spread, uint64_t seed)
{
    struct pm_os os;
    pm_os_init(&os, NULL);
    struct pm_addrset s = {0};
    assert_true(pm_addrset_init(&s, &os, 16, width, shift, spread));
    assert_int_equal(os.mapped, pm_os_page_size());    /* 16 * width words, one page */
    static bool present[N_KEYS];
    memset(present, 0, sizeof present);
    size_t count = 0;
    uintptr_t base = (uintptr_t)1 << 40, stride = (uintptr_t)1 << shift;
    uint64_t rng = seed;
    for (int op = 0; op < 40000; op++) {
        size_t i = (size_t)(pmt_rand(&rng) % N_KEYS);
        uintptr_t k = base + i * stride;
        if (!present[i]) {
            assert_true(pm_addrset_reserve(&s, &os));
            uintptr_t *e = pm_addrset_insert(&s, k);
            assert_non_null(e);
            if (width == 2)
                e[1] = ~k;
            assert_null(pm_addrset_insert(&s, k));        /* already in: unchanged */
            present[i] = true;
            count++;
        } else {
            assert_true(pm_addrset_remove(&s, k));
            assert_false(pm_addrset_remove(&s, k));
            present[i] = false;
            count--;
        }
        assert_int_equal(s.count, count);
        assert_true(2 * s.count <= pm_addrset_cap(&s));
        if (op % 997 == 0) {
            assert_true(pm_addrset_valid(&s));
            for (size_t j = 0; j < N_KEYS; j++) {
                const uintptr_t *e = pm_addrset_find(&s, base + j * stride);
                assert_int_equal(e != NULL, present[j]);
                if (e && width == 2)
                    assert_int_equal(e[1], ~(base + j * stride));
            }
        }
    }
    assert_false(pm_addrset_has(&s, 0));
    assert_int_equal(os.mapped, pm_round_up(pm_addrset_bytes(&s), pm_os_page_size()));
    pm_addrset_fini(&s, &os);
    assert_int_equal(os.mapped, 0);
}

static void test_random_against_array(void **state)
{
    (void)state;
    random_ops(1, 4, true, 1);      /* debug's live set */
    random_ops(1, 20, true, 2);     /* segfit's regions */
    random_ops(2, 20, false, 3);    /* buddy's table: identity hashing, values */
    random_ops(2, 0, true, 4);      /* the slot map */
}

/* Growth maps through the OS layer: an injected failure leaves the set as
 * it was (reserve false, ENOMEM); the next call succeeds. */
static void test_growth_fault_injected(void **state)
{
    (void)state;
    struct pm_os os;
    struct pm_os_faults f = {.fail_nth = 2};    /* call 1: init; call 2: the first growth */
    pm_os_init(&os, &f);
    struct pm_addrset s = {0};
    assert_true(pm_addrset_init(&s, &os, 4, 1, 0, true));
    for (uintptr_t k = 1; k <= 2; k++) {
        assert_true(pm_addrset_reserve(&s, &os));
        assert_non_null(pm_addrset_insert(&s, k * 16));
    }
    uintptr_t *before = s.slot;
    errno = 0;
    assert_false(pm_addrset_reserve(&s, &os));
    assert_int_equal(errno, ENOMEM);
    assert_ptr_equal(s.slot, before);
    assert_int_equal(pm_addrset_cap(&s), 4);
    assert_true(pm_addrset_valid(&s) && pm_addrset_has(&s, 16) && pm_addrset_has(&s, 32));
    assert_true(pm_addrset_reserve(&s, &os));       /* call 3 succeeds */
    assert_int_equal(pm_addrset_cap(&s), 8);
    assert_true(pm_addrset_valid(&s) && pm_addrset_has(&s, 16) && pm_addrset_has(&s, 32));
    pm_addrset_fini(&s, &os);
    assert_int_equal(os.mapped, 0);
}

/* valid() sees a key moved away from its probe run and a wrong count. */
static void test_valid_sees_damage(void **state)
{
    (void)state;
    struct pm_os os;
    pm_os_init(&os, NULL);
    struct pm_addrset s = {0};
    assert_true(pm_addrset_init(&s, &os, 64, 1, 4, true));
    assert_true(pm_addrset_reserve(&s, &os));
    uintptr_t *e = pm_addrset_insert(&s, 0x1000);
    assert_true(pm_addrset_valid(&s));
    size_t home = pm_addrset_home(&s, 0x1000);
    size_t other = (home + 7) & s.mask;                 /* unreachable: empty slots between */
    s.slot[other] = *e;
    *e = 0;
    assert_false(pm_addrset_valid(&s));
    s.slot[home] = 0x1000;
    s.slot[other] = 0;
    assert_true(pm_addrset_valid(&s));
    s.count = 2;
    assert_false(pm_addrset_valid(&s));
    s.count = 1;
    pm_addrset_fini(&s, &os);
}

/* The generators' streams are fixed: first draws pinned (checked against an
 * independent Python implementation of splitmix64 and xoshiro256**, and
 * Marsaglia's xorshift64 by hand). */
static void test_random_streams_pinned(void **state)
{
    (void)state;
    struct pm_rng r;
    pm_rng_seed(&r, 42);
    assert_int_equal(pm_rng_next(&r), UINT64_C(0x15780b2e0c2ec716));
    assert_int_equal(pm_rng_next(&r), UINT64_C(0x6104d9866d113a7e));
    uint64_t x = 42;
    assert_int_equal(pm_splitmix64(&x), UINT64_C(0xbdd732262feb6e95));
    assert_int_equal(x, 42 + UINT64_C(0x9E3779B97F4A7C15));
    uint64_t xs = 1;   /* 1 ^ 1 << 13 = 0x2001; ^ >> 7: 0x2041; ^ << 17: 0x40822041 */
    assert_int_equal(pm_xorshift64(&xs), UINT64_C(0x40822041));
    assert_int_equal(xs, UINT64_C(0x40822041));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_against_array),
        cmocka_unit_test(test_growth_fault_injected),
        cmocka_unit_test(test_valid_sees_damage),
        cmocka_unit_test(test_random_streams_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
