/* fuzz/test_fuzz_worst_mut.c — the structure-aware mutator of fuzz_frag and
 * fuzz_retention (fuzz_worst_mut.h): K's encoding both ways; chains of
 * mutations from an empty input stay whole op sequences within the size
 * bound and build fills and keeps; inserting a pair adds exactly one fill +
 * keep at an op boundary and changes nothing else; changing a fill's size
 * or a keep's K touches that argument only; a truncated last op is padded;
 * an insert that does not fit leaves the input alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fuzz_worst.h"
#include "fuzz_worst_mut.h"

static struct fw_opref ops_a[FW_MAX_OPS], ops_b[FW_MAX_OPS];

static bool op_is(const uint8_t *d, const struct fw_opref *o, unsigned sub)
{
    return (d[o->off] & 7) == 1 && (d[o->off + 1] & 3) == sub;
}

static void test_k_encoding(void **state)
{
    (void)state;
    for (unsigned a = 0; a < 256; a++)
        assert_int_equal(fw_k_arg(fw_k_of(a)), a);
    for (unsigned k = 2; k <= 1400; k++) {
        unsigned a = fw_k_arg(k);
        assert_true(fw_k_of(a) <= k || a == 0);
        if (a < 255)
            assert_true(fw_k_of(a + 1) > k);   /* the largest such argument */
    }
    assert_int_equal(fw_k_of(0), 2);
    assert_int_equal(fw_k_of(64), 66);
    assert_int_equal(fw_k_of(128), 322);
    assert_int_equal(fw_k_of(255), 1338);
}

/* Chains of mutations from an empty input: every output is at least the
 * backend byte, within max, and splits into whole ops; fills and keeps of
 * the last fill and of all blocks appear. */
static void test_chain_from_empty(void **state)
{
    (void)state;
    for (size_t max = 1; max <= 1024; max = max * 4 + 3) {
        uint8_t buf[1024];
        size_t size = 0, fills = 0, keeps_last = 0, keeps_all = 0;
        for (unsigned seed = 1; seed <= 3000; seed++) {
            size = fw_mutate(buf, size, max, seed);
            assert_true(size >= 1 && size <= max);
            int trunc;
            size_t n = fw_parse(buf, size, ops_a, FW_MAX_OPS, &trunc);
            assert_false(trunc);
            size_t end = 1;
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(ops_a[i].off, end);
                assert_int_equal(ops_a[i].len, 1 + fw_op_args[buf[end] & 7]);
                end += ops_a[i].len;
                fills += op_is(buf, &ops_a[i], 0);
                keeps_last += op_is(buf, &ops_a[i], 1);
                keeps_all += op_is(buf, &ops_a[i], 2);
            }
            assert_int_equal(end, size);
        }
        if (max >= 64) {
            assert_true(fills > 100);
            assert_true(keeps_last > 50);
            assert_true(keeps_all > 10);
        }
    }
}

/* A known input: backend byte, alloc 64 (op 0), fill class 5, keep one in
 * K(60) of the last fill, free slot 7 (op 3). */
static const uint8_t known[] = {0, 0, 2, 1, 0, 5, 1, 1, 60, 3, 7, 0};

static void test_insert_pair(void **state)
{
    (void)state;
    int trunc;
    size_t na = fw_parse(known, sizeof known, ops_a, FW_MAX_OPS, &trunc);
    assert_int_equal(na, 4);
    unsigned at_end = 0, inside = 0, all = 0;
    for (unsigned seed = 0; seed < 500; seed++) {
        uint8_t buf[64];
        memcpy(buf, known, sizeof known);
        size_t size = fw_mutate_kind(buf, sizeof known, sizeof buf, seed, FW_MUT_INSERT_PAIR);
        assert_int_equal(size, sizeof known + 6);
        size_t nb = fw_parse(buf, size, ops_b, FW_MAX_OPS, &trunc);
        assert_int_equal(nb, na + 2);
        size_t at = 0;   /* the first op that differs */
        while (at < na && ops_b[at].len == ops_a[at].len &&
               !memcmp(buf + ops_b[at].off, known + ops_a[at].off, ops_a[at].len))
            at++;
        /* a pair: fill X(a), then keep one in K of the last fill or of all */
        assert_true(op_is(buf, &ops_b[at], 0));
        unsigned sa = buf[ops_b[at].off + 2];
        size_t x = fw_size_x(sa);
        assert_true(x >= FW_MIN_SIZE && x <= FW_MAX_SIZE);
        assert_true(op_is(buf, &ops_b[at + 1], 1) || op_is(buf, &ops_b[at + 1], 2));
        all += op_is(buf, &ops_b[at + 1], 2);
        uint8_t pair[6];
        fw_pair(pair, sa, buf[ops_b[at + 1].off + 2], op_is(buf, &ops_b[at + 1], 2));
        assert_memory_equal(buf + ops_b[at].off, pair, 6);
        /* everything else unchanged, in order */
        for (size_t i = at; i < na; i++)
            assert_memory_equal(buf + ops_b[i + 2].off, known + ops_a[i].off, ops_a[i].len);
        assert_int_equal(buf[0], known[0]);
        if (at == na)
            at_end++;
        else
            inside++;
    }
    assert_true(at_end > inside && inside > 0 && all > 0);   /* mostly appended */
}

/* fw_pair's bytes decode as the extended op's fill and keep. */
static void test_pair_bytes(void **state)
{
    (void)state;
    uint8_t p[6];
    fw_pair(p, 31, fw_k_arg(31), 0);
    static const uint8_t want[] = {1, 0, 31, 1, 1, 29};
    assert_memory_equal(p, want, 6);
    fw_pair(p, 44, 0, 1);
    static const uint8_t want_all[] = {1, 0, 44, 1, 2, 0};
    assert_memory_equal(p, want_all, 6);
    assert_int_equal(fw_size_x(31), 497);   /* pymalloc class 31's smallest request */
    assert_int_equal(fw_size_x(44), 41);    /* segfit's 64-byte block */
    assert_int_equal(fw_size_x(33), 17);    /* buddy's 32-byte block */
}

/* Changing a fill's size or a keep's K touches that argument only. */
static void test_change_one_argument(void **state)
{
    (void)state;
    for (unsigned seed = 0; seed < 300; seed++) {
        for (int kind = FW_MUT_FILL_SIZE; kind <= FW_MUT_KEEP_K; kind++) {
            uint8_t buf[64];
            memcpy(buf, known, sizeof known);
            size_t size = fw_mutate_kind(buf, sizeof known, sizeof buf, seed, (enum fw_mut)kind);
            assert_int_equal(size, sizeof known);
            for (size_t i = 0; i < sizeof known; i++) {
                if (buf[i] == known[i])
                    continue;
                if (kind == FW_MUT_FILL_SIZE)
                    assert_true(i == 5 || i == 8);   /* the size, maybe the K after it */
                else
                    assert_true(i == 7 || i == 8);   /* the keep's kind or its K */
            }
            if (kind == FW_MUT_KEEP_K)
                assert_true(buf[7] == 1 || buf[7] == 2);
        }
    }
}

/* Cleaning keeps the extended ops, in order, and drops others. */
static void test_clean(void **state)
{
    (void)state;
    static const uint8_t want[] = {0, 1, 0, 5, 1, 1, 60};
    unsigned whole = 0;
    for (unsigned seed = 0; seed < 100; seed++) {
        uint8_t buf[64];
        memcpy(buf, known, sizeof known);
        size_t size = fw_mutate_kind(buf, sizeof known, sizeof buf, seed, FW_MUT_CLEAN);
        assert_true(size == sizeof want || size == sizeof known - 2 || size == sizeof known - 3 ||
                    size == sizeof known);
        if (size == sizeof known) {   /* a run from the end: nothing to delete */
            assert_memory_equal(buf, known, size);
        } else if (size == sizeof want) {
            assert_memory_equal(buf, want, sizeof want);
            whole++;
        } else if (size == sizeof known - 2) {   /* the alloc went */
            assert_memory_equal(buf + 1, known + 3, size - 1);
        } else {   /* the free went */
            assert_memory_equal(buf, known, size);
        }
    }
    assert_true(whole > 20);
}

/* Sorting orders the pairs by fill size and drops other ops; a fresh
 * input is the backend byte and whole pairs. */
static void test_sort_fresh(void **state)
{
    (void)state;
    /* backend 7; alloc; fill class 20, keep; free; fill class 3, keep all; fill class 9, keep */
    static const uint8_t in[] = {7, 0, 2, 1, 0, 20, 1, 1, 5, 3, 7, 0, 1, 0, 3, 1, 2, 0, 1, 0, 9, 1, 1, 8};
    static const uint8_t want[] = {7, 1, 0, 3, 1, 2, 0, 1, 0, 9, 1, 1, 8, 1, 0, 20, 1, 1, 5};
    uint8_t buf[64];
    memcpy(buf, in, sizeof in);
    size_t size = fw_mutate_kind(buf, sizeof in, sizeof buf, 1, FW_MUT_SORT);
    assert_int_equal(size, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    for (unsigned seed = 0; seed < 100; seed++) {
        memcpy(buf, in, sizeof in);
        size = fw_mutate_kind(buf, sizeof in, sizeof buf, seed, FW_MUT_FRESH);
        assert_true(size == 7 || size == 13 || size == 19);
        assert_int_equal(buf[0], 7);
        for (size_t off = 1; off < size; off += 6) {
            assert_int_equal(buf[off], 1);
            assert_int_equal(buf[off + 1], 0);
            assert_int_equal(buf[off + 3], 1);
            assert_true(buf[off + 4] == 1 || buf[off + 4] == 2);
        }
    }
}

/* A rung: the new pair's size lies strictly between two growing fills
 * (or above the largest), it keeps one in 2 of all, and so does the keep
 * before it; both places are chosen over the seeds. */
static void test_ladder(void **state)
{
    (void)state;
    /* backend 7; fill 49 B (class 3), keep 1 in K(5) of it; fill 321 B (class 20), keep 1 in K(9) */
    static const uint8_t in[] = {7, 1, 0, 3, 1, 1, 5, 1, 0, 20, 1, 1, 9};
    unsigned middle = 0, above = 0;
    for (unsigned seed = 0; seed < 200; seed++) {
        uint8_t buf[64];
        memcpy(buf, in, sizeof in);
        size_t size = fw_mutate_kind(buf, sizeof in, sizeof buf, seed, FW_MUT_LADDER);
        assert_int_equal(size, sizeof in + 6);
        assert_int_equal(buf[0], 7);
        size_t prev = 0, fresh = 0;
        for (size_t off = 1, k = 0; off < size; off += 6, k++) {
            assert_int_equal(buf[off], 1);
            assert_int_equal(buf[off + 1], 0);
            assert_int_equal(buf[off + 3], 1);
            size_t x = fw_size_x(buf[off + 2]);
            assert_true(x > prev);   /* the fills still grow */
            prev = x;
            if (buf[off + 2] != 3 && buf[off + 2] != 20)
                fresh = k;
        }
        assert_true(fresh == 1 || fresh == 2);
        middle += fresh == 1;
        above += fresh == 2;
        for (size_t k = fresh - 1; k <= fresh; k++) {   /* keeps: one in 2 of all */
            assert_int_equal(buf[1 + 6 * k + 4], 2);
            assert_int_equal(fw_k_of(buf[1 + 6 * k + 5]), 2);
        }
        if (fresh == 1)   /* the other keep untouched */
            assert_memory_equal(buf + 13, in + 7, 6);
        else
            assert_memory_equal(buf + 1, in + 1, 6);
    }
    assert_true(middle > 50 && above > 20);
    uint8_t none[] = {7, 0, 2};   /* no pair: no rung */
    assert_int_equal(fw_mutate_kind(none, sizeof none, sizeof none + 6, 1, FW_MUT_LADDER), 3);
    assert_int_equal(none[2], 2);
}

/* A truncated last op is padded with zeros (the decoder reads zeros past
 * the end: the same input); an insert that does not fit changes nothing. */
static void test_pad_and_bound(void **state)
{
    (void)state;
    uint8_t buf[16] = {3, 2, 9};   /* run of 10 blocks, SIZE missing */
    size_t size = fw_mutate_kind(buf, 2, sizeof buf, 1, FW_MUT_KEEP_K);   /* no keep: no edit */
    assert_int_equal(size, 4);
    static const uint8_t padded[] = {3, 2, 0, 0};
    assert_memory_equal(buf, padded, 4);

    uint8_t full[sizeof known];
    memcpy(full, known, sizeof known);
    size = fw_mutate_kind(full, sizeof known, sizeof known + 5, 7, FW_MUT_INSERT_PAIR);
    assert_int_equal(size, sizeof known);
    assert_memory_equal(full, known, sizeof known);

    assert_int_equal(fw_mutate(buf, 0, 8, 3) >= 1, 1);   /* from nothing: at least the backend byte */
}

/* After a reward, about a third of the mutations start from the rewarded
 * input (the elite), whatever input they are given. Runs last: it sets
 * the elite for the rest of the process. */
static void test_elite(void **state)
{
    (void)state;
    fw_mutate_reward(known, sizeof known);
    unsigned from_elite = 0;
    for (unsigned seed = 0; seed < 400; seed++) {
        uint8_t buf[64] = {0};
        size_t size = fw_mutate_kind(buf, 1, sizeof buf, seed, FW_MUT_INSERT_PAIR);
        assert_true(size == 7);   /* fw_mutate_kind never swaps in the elite */
        size = fw_mutate(buf, 1, sizeof buf, seed);
        /* one mutation of {0} is at most 7 bytes; of the elite (12), at least 6 */
        from_elite += size >= 8;
    }
    assert_true(from_elite > 80 && from_elite < 190);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_k_encoding),
        cmocka_unit_test(test_chain_from_empty),
        cmocka_unit_test(test_insert_pair),
        cmocka_unit_test(test_pair_bytes),
        cmocka_unit_test(test_change_one_argument),
        cmocka_unit_test(test_pad_and_bound),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_sort_fresh),
        cmocka_unit_test(test_ladder),
        cmocka_unit_test(test_elite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
