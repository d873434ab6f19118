/* fuzz/test_fuzz_model.c — the speed bounds of the shadow model of
 * fuzz_alloc and fuzz_oom (fuzz_model.h): the sampled fill of large blocks
 * (fz_filled_range: in bounds, in order, the dense head and the tail
 * always, one window per stretch, the windows moving with the fill byte),
 * a planted corruption in any filled range found by the content check, and
 * the per-input budget of large requests (FZ_LARGE_BUDGET). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fuzz_model.h"

static void test_fill_geometry(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 16, 4095, 4096, 4097, 4096 + 256, 4096 + 257, 8192,
                                   65535, 65536, 65537, 65536 + 4096, 131072, 200000,
                                   (size_t)3 << 20, ((size_t)3 << 20) + 17};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        size_t u = sizes[si];
        for (unsigned salt = 0; salt < 256; salt++) {
            size_t from, len, prev = 0, i, windows = 0, end = 0;
            for (i = 0; fz_filled_range(u, salt, i, &from, &len); i++) {
                assert_true(from + len <= u);
                assert_true(i == 0 || from >= prev);   /* increasing starts */
                if (i == 0) {
                    assert_int_equal(from, 0);
                    assert_int_equal(len, u < FZ_DENSE ? u : FZ_DENSE);
                } else {
                    assert_int_equal(len, FZ_STRIPE);
                }
                if (i > 0 && from + len < u) {   /* a window, not the tail */
                    assert_int_equal(from % 16, 0);
                    assert_true(from >= FZ_DENSE);
                    /* inside stretch k = i - 1 */
                    size_t k = i - 1;
                    assert_true(from >= k * FZ_STRIDE || k == 0);
                    assert_true(from < (k + 1) * FZ_STRIDE);
                    windows++;
                }
                prev = from;
                end = from + len;
            }
            assert_true(i < 100);
            assert_int_equal(end, u);   /* the last range ends the block */
            if (u > FZ_DENSE + FZ_STRIPE) {
                size_t tail = u - FZ_STRIPE;
                assert_int_equal(windows, (tail - 1) / FZ_STRIDE + 1);
            }
        }
    }
    /* the window moves with the fill byte: stretch 0 of a 60 KiB block */
    bool seen[65536 / 16] = {false};
    unsigned distinct = 0;
    for (unsigned salt = 0; salt < 256; salt++) {
        size_t from, len;
        assert_true(fz_filled_range(60000, salt, 1, &from, &len));
        if (!seen[from / 16]) {
            seen[from / 16] = true;
            distinct++;
        }
    }
    assert_true(distinct > 200);
}

static const struct fz_backend *backend(const char *spec)
{
    static struct fz_backend list[FZ_MAX_BACKENDS];
    size_t n = fz_backends(list, FZ_MAX_BACKENDS, FZ_WITH_VARIANTS | FZ_WITH_DEBUG);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i].spec, spec))
            return &list[i];
    fail_msg("no backend %s", spec);
    return NULL;
}

/* Runs fz_heap_verify(m, true) in a child after writing `byte ^ 0xFF` at
 * offset off of slot 0's block; true if the child aborted (the oracle's
 * verdict). */
static bool verify_aborts_after_write(struct fz_heap *m, size_t off)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        m->slot[0].p[off] ^= 0xFF;
        fz_heap_verify(m, true);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void test_planted_corruption(void **state)
{
    (void)state;
    fz_target = "test_fuzz_model";
    static struct fz_heap m;
    assert_true(fz_heap_open(&m, backend("segfit"), NULL));
    fz_heap_malloc(&m, 0, 200000);
    fz_heap_after_op(&m);
    assert_non_null(m.slot[0].p);
    size_t u = m.slot[0].usable, from, len;
    unsigned salt = m.slot[0].fill;
    static bool filled_byte[200000 + 4096];
    assert_true(u <= sizeof filled_byte);
    for (size_t i = 0; fz_filled_range(u, salt, i, &from, &len); i++) {
        /* first, middle and last byte of every filled range: found */
        assert_true(verify_aborts_after_write(&m, from));
        assert_true(verify_aborts_after_write(&m, from + len / 2));
        assert_true(verify_aborts_after_write(&m, from + len - 1));
        for (size_t b = from; b < from + len; b++)
            filled_byte[b] = true;
    }
    /* what the sampling gives up: a byte outside every range is not seen */
    size_t outside = 0;
    while (outside < u && filled_byte[outside])
        outside++;
    assert_true(outside < u);
    assert_false(verify_aborts_after_write(&m, outside));
    fz_heap_close(&m);
}

/* fz_diff_at finds the first differing byte wherever it is (in a 64-byte
 * run, an 8-byte word or the tail; 32 is an edge check's length) and
 * returns n when there is none. */
static void test_diff_at(void **state)
{
    (void)state;
    static unsigned char buf[4200];
    static const size_t lens[] = {0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 72, 79, 127, 128, 200, 4097, 4200};
    for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
        size_t n = lens[l];
        memset(buf, 0x5A, sizeof buf);
        assert_int_equal(fz_diff_at(buf, n, 0x5A), n);
        for (size_t k = 0; k < n; k++) {
            buf[k] = 0x5B;
            if (k + 1 < n)
                buf[n - 1] = 0x00;   /* a later difference too: the first is reported */
            assert_int_equal(fz_diff_at(buf, n, 0x5A), k);
            buf[k] = 0x5A;
            buf[n - 1] = 0x5A;
        }
    }
}

static void test_large_budget(void **state)
{
    (void)state;
    fz_target = "test_fuzz_model";
    static struct fz_heap m;
    assert_true(fz_heap_open(&m, backend("segfit"), NULL));
    const size_t mib = (size_t)1 << 20;
    fz_heap_malloc(&m, 0, 3 * mib);
    assert_non_null(m.slot[0].p);
    fz_heap_malloc(&m, 1, 3 * mib);   /* 6 MiB of large requests: skipped */
    assert_null(m.slot[1].p);
    fz_heap_malloc(&m, 2, mib);       /* 4 MiB: made */
    assert_non_null(m.slot[2].p);
    fz_heap_free(&m, 0);              /* freeing gives no budget back */
    fz_heap_malloc(&m, 3, FZ_LARGE);
    assert_null(m.slot[3].p);
    void *before = m.slot[2].p;
    fz_heap_realloc(&m, 2, 2 * mib);  /* a large realloc counts too: skipped */
    assert_ptr_equal(m.slot[2].p, before);
    assert_int_equal(m.slot[2].n, mib);
    fz_heap_malloc(&m, 4, FZ_LARGE - 1);   /* below FZ_LARGE: not counted */
    assert_non_null(m.slot[4].p);
    fz_heap_malloc(&m, 5, (size_t)1 << 48);   /* impossible: always asked (NULL) */
    assert_null(m.slot[5].p);
    fz_heap_after_op(&m);
    fz_heap_close(&m);
    /* a new input starts with the whole budget */
    assert_true(fz_heap_open(&m, backend("segfit"), NULL));
    fz_heap_malloc(&m, 0, 3 * mib);
    assert_non_null(m.slot[0].p);
    fz_heap_close(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_geometry),
        cmocka_unit_test(test_planted_corruption),
        cmocka_unit_test(test_large_budget),
        cmocka_unit_test(test_diff_at),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
