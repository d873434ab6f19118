/* tests/test_lib.c — the `lib:PATH[,name=NAME]` backend (allocators/lib.c)
 * over tests/libbump.so ($PM_LIBBUMP):
 *  - blocks come from the library (its counters move, the block lies in its
 *    chunk, usable size is its header's) and the contract's basics hold;
 *  - the harness's own malloc stays glibc's after the library is loaded and
 *    used (RTLD_LOCAL): its counters do not move, the block is outside its
 *    chunk, dlsym(RTLD_DEFAULT, "malloc") is not in it;
 *  - trim reaches the library's malloc_trim;
 *  - bad specs: a missing file, a library without realloc (glibc's must not
 *    be taken from its dependencies), no path, a bad or built-in name, an
 *    unknown option: each a one-line reason;
 *  - labels: name= given, derived from the file name, "lib-" before a
 *    built-in's name.
 */
#include "pm_test.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *bump_path(void)
{
    const char *p = getenv("PM_LIBBUMP");
    if (!p || !*p)
        fail_msg("PM_LIBBUMP is not set (ctest sets it to tests/libbump.so)");
    return p;
}

typedef void (*counters_fn)(uint64_t out[3], uintptr_t chunk[2]);

static pm_heap_t *cur_heap;

/* The library's own counters, from the copy lib.c loaded. */
static void counters(uint64_t c[3], uintptr_t chunk[2])
{
    void *f = pm_lib_symbol(cur_heap, "libbump_counters");
    assert_non_null(f);
    counters_fn fn;
    memcpy(&fn, &f, sizeof fn);
    fn(c, chunk);
}

static char spec[4200];

static void test_blocks_come_from_the_library(void **state)
{
    (void)state;
    snprintf(spec, sizeof spec, "lib:%s,name=bump", bump_path());
    const struct allocator_ops *ops;
    pm_heap_t *h = cur_heap = pmt_create(spec, &ops);
    assert_true(ops->flags & PM_BACKEND_GLOBAL);
    uint64_t c0[3], c1[3];
    uintptr_t ch[2];
    counters(c0, ch);
    char *p = ops->malloc(h, 100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    memset(p, 7, 100);
    counters(c1, ch);
    assert_int_equal(c1[0], c0[0] + 1);
    assert_true((uintptr_t)p >= ch[0] && (uintptr_t)p < ch[1]);
    assert_int_equal(ops->usable_size(h, p), 112);      /* 100 rounded to 16 */
    char *z = ops->malloc(h, 0);                        /* unique, non-NULL */
    assert_non_null(z);
    assert_ptr_not_equal(z, p);
    char *q = ops->realloc(h, p, 5000);
    assert_non_null(q);
    for (int i = 0; i < 100; i++)
        assert_int_equal(q[i], 7);
    unsigned char *k = ops->calloc(h, 10, 30);
    assert_non_null(k);
    for (int i = 0; i < 300; i++)
        assert_int_equal(k[i], 0);
    ops->free(h, NULL);                                 /* never reaches the library */
    counters(c1, ch);
    assert_int_equal(c1[1], c0[1] + 1);                 /* realloc's free of p only */
    ops->free(h, q);
    ops->free(h, z);
    ops->free(h, k);
    counters(c1, ch);
    assert_int_equal(c1[2], c0[2]);                     /* nothing left live */
    struct pm_stats st;
    ops->stats(h, &st);
    assert_true(st.mapped_bytes == PM_STAT_NA && st.live_blocks == PM_STAT_NA);
    ops->trim(h);                                       /* libbump: no live block -> unmaps */
    counters(c1, ch);
    assert_int_equal(ch[0], 0);
    ops->destroy(h);
}

static void test_harness_malloc_is_not_the_library(void **state)
{
    (void)state;
    snprintf(spec, sizeof spec, "lib:%s", bump_path());
    const struct allocator_ops *ops;
    pm_heap_t *h = cur_heap = pmt_create(spec, &ops);
    void *keep = ops->malloc(h, 64);                    /* the library has a chunk now */
    assert_non_null(keep);
    uint64_t c0[3], c1[3];
    uintptr_t ch[2];
    counters(c0, ch);
    void *volatile mine = malloc(64);                   /* the harness's own */
    assert_non_null(mine);
    void *volatile big = calloc(1, 1 << 20);
    assert_non_null(big);
    char *s = strdup("inside libc");
    counters(c1, ch);
    assert_int_equal(c1[0], c0[0]);
    assert_false((uintptr_t)mine >= ch[0] && (uintptr_t)mine < ch[1]);
    assert_false((uintptr_t)s >= ch[0] && (uintptr_t)s < ch[1]);
    free(s);
    free(big);
    free(mine);
    counters(c1, ch);
    assert_int_equal(c1[1], c0[1]);                     /* glibc's free, not the library's */
    static const char *const fns[] = {"malloc", "free", "calloc", "realloc"};
    for (size_t i = 0; i < 4; i++) {
        Dl_info di;
        assert_true(dladdr(dlsym(RTLD_DEFAULT, fns[i]), &di) != 0);
        if (di.dli_fname && strstr(di.dli_fname, "libbump"))
            fail_msg("the process's %s now comes from %s", fns[i], di.dli_fname);
    }
    ops->free(h, keep);
    ops->destroy(h);
}

static void expect_error(const char *s, const char *needle)
{
    char err[PM_ERR_LEN] = "";
    pm_heap_t *h = pm_backend_create(s, NULL, NULL, err);
    assert_null(h);
    if (!strstr(err, needle))
        fail_msg("spec '%s': error '%s' does not say '%s'", s, err, needle);
    assert_null(strchr(err, '\n'));
}

static void test_bad_specs(void **state)
{
    (void)state;
    expect_error("lib:/nonexistent/libnope.so", "/nonexistent/libnope.so: No such file");
    expect_error("lib:libnope-pymemlab.so.9", "cannot load libnope-pymemlab.so.9");
    const char *nr = getenv("PM_LIBBUMP_NOREALLOC");
    assert_non_null(nr);
    snprintf(spec, sizeof spec, "lib:%s", nr);
    expect_error(spec, "does not define realloc");
    /* a file that is not a library */
    snprintf(spec, sizeof spec, "lib:%s/CMakeLists.txt", getenv("PM_SOURCE_DIR"));
    expect_error(spec, "cannot load");
    expect_error("lib", "needs a library");
    expect_error("lib:", "needs a library");
    snprintf(spec, sizeof spec, "lib:%s,name=a/b", bump_path());
    expect_error(spec, "bad name 'a/b'");
    snprintf(spec, sizeof spec, "lib:%s,name=system", bump_path());
    expect_error(spec, "built-in");
    snprintf(spec, sizeof spec, "lib:%s,size=3", bump_path());
    expect_error(spec, "unknown option 'size'");
}

static void test_labels(void **state)
{
    (void)state;
    char out[128], err[PM_ERR_LEN];
    assert_int_equal(pm_backend_label("lib:/x/libbump.so,name=mine", out, sizeof out, err), 0);
    assert_string_equal(out, "mine");
    assert_int_equal(pm_backend_label("lib:/x/libbump.so", out, sizeof out, err), 0);
    assert_string_equal(out, "bump");
    assert_int_equal(pm_backend_label("lib:libmimalloc.so.2", out, sizeof out, err), 0);
    assert_string_equal(out, "lib-mimalloc");
    assert_int_equal(pm_backend_label("pymalloc,preset=py38", out, sizeof out, err), 0);
    assert_string_equal(out, "pymalloc,preset=py38");
    assert_int_equal(pm_backend_label("lib", out, sizeof out, err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_come_from_the_library),
        cmocka_unit_test(test_harness_malloc_is_not_the_library),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
