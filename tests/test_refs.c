/* tests/test_refs.c — what the reference backends (mimalloc, jemalloc,
 * tcmalloc, cpython) promise beyond the contract suite:
 *  - loading them does not replace the process's malloc (RTLD_LOCAL);
 *  - per-instance references keep instances apart (stats and destroy);
 *  - cpython's live-block count and libpython's own obmalloc report.
 * A reference whose library is unavailable is skipped with its reason.
 */
#include "pm_test.h"
#include "cpython.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads every available reference backend (unavailable() loads the library). */
static int load_all(void)
{
    int loaded = 0;
    for (const struct allocator_ops *const *b = pm_backends; *b; b++)
        if (((*b)->flags & PM_BACKEND_REFERENCE) && (*b)->unavailable &&
            !(*b)->unavailable())
            loaded++;
    return loaded;
}

static void test_process_malloc_not_replaced(void **state)
{
    (void)state;
    if (load_all() == 0)
        skip();
    static const char *const fns[] = {"malloc", "free", "calloc", "realloc"};
    static const char *const libs[] = {"mimalloc", "jemalloc", "tcmalloc", "python"};
    for (size_t i = 0; i < 4; i++) {
        void *f = dlsym(RTLD_DEFAULT, fns[i]);
        assert_non_null(f);
        Dl_info di;
        assert_true(dladdr(f, &di) != 0);
        for (size_t k = 0; k < 4; k++)
            if (di.dli_fname && strstr(di.dli_fname, libs[k]))
                fail_msg("the process's %s now comes from %s", fns[i], di.dli_fname);
    }
}

struct blk { unsigned char *p; size_t n; };

static void fill_blocks(const struct allocator_ops *o, pm_heap_t *h, struct blk *v, size_t count,
                        unsigned char tag)
{
    for (size_t i = 0; i < count; i++) {
        v[i].n = 16 + (i * 37) % 4000;
        v[i].p = o->malloc(h, v[i].n);
        assert_non_null(v[i].p);
        memset(v[i].p, tag, v[i].n);
    }
}

static uint64_t live_blocks(const struct allocator_ops *o, pm_heap_t *h)
{
    struct pm_stats st;
    o->stats(h, &st);
    return st.live_blocks;
}

/* Two instances of a per-instance reference: each counts only its blocks,
 * and destroying one (which frees its blocks wholesale) leaves the other's
 * blocks intact. */
static void test_instances_are_private(void **state)
{
    (void)state;
    int tested = 0;
    for (const struct allocator_ops *const *bk = pm_backends; *bk; bk++) {
        const struct allocator_ops *o = *bk;
        if (!(o->flags & PM_BACKEND_REFERENCE) || (o->flags & PM_BACKEND_GLOBAL) ||
            (o->unavailable && o->unavailable()))
            continue;
        tested++;
        pm_heap_t *a = pmt_create(o->name, NULL), *b = pmt_create(o->name, NULL);
        enum { NA = 500, NB = 700 };
        static struct blk va[NA], vb[NB];
        fill_blocks(o, a, va, NA, 0xA1);
        fill_blocks(o, b, vb, NB, 0xB2);
        uint64_t la = live_blocks(o, a), lb = live_blocks(o, b);
        if (la != PM_STAT_NA) {
            assert_int_equal(la, NA);
            assert_int_equal(lb, NB);
        }
        o->destroy(a);   /* with NA blocks still live */
        for (size_t i = 0; i < NB; i++)
            for (size_t k = 0; k < vb[i].n; k++)
                if (vb[i].p[k] != 0xB2)
                    fail_msg("%s: block %zu of B changed when A was destroyed", o->name, i);
        unsigned char *p = o->malloc(b, 100);   /* B still works */
        assert_non_null(p);
        o->free(b, p);
        for (size_t i = 0; i < NB; i++)
            o->free(b, vb[i].p);
        if (la != PM_STAT_NA)
            assert_int_equal(live_blocks(o, b), 0);
        o->destroy(b);
    }
    if (!tested)
        skip();
}

static void test_cpython_blocks_and_report(void **state)
{
    (void)state;
    const struct allocator_ops *o = pm_backend_find("cpython");
    if (!o || (o->unavailable && o->unavailable())) {
        if (o)
            printf("cpython unavailable: %s\n", o->unavailable());
        skip();
    }
    pm_heap_t *h = pmt_create("cpython", NULL);
    enum { N = 3000 };
    static void *v[N];
    uint64_t before = live_blocks(o, h);
    for (size_t i = 0; i < N; i++) {
        v[i] = o->malloc(h, 1 + i % 512);
        assert_non_null(v[i]);
        assert_int_equal((uintptr_t)v[i] % 16, 0);
    }
    if (before != PM_STAT_NA)
        assert_int_equal(live_blocks(o, h), before + N);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    bool ok = pm_cpython_debugmallocstats(f);
    fclose(f);
    assert_true(ok);
    assert_non_null(strstr(text, "Small block threshold = 512, in 32 size classes."));
    const char *line = strstr(text, "# arenas allocated current");
    assert_non_null(line);
    unsigned long arenas = 0;
    assert_int_equal(sscanf(strchr(line, '=') + 1, "%lu", &arenas), 1);
    assert_true(arenas >= 1);   /* N blocks of 1..512 B need at least one 1 MiB arena */
    free(text);

    for (size_t i = 0; i < N; i++)
        o->free(h, v[i]);
    if (before != PM_STAT_NA)
        assert_int_equal(live_blocks(o, h), before);
    o->destroy(h);
}

/* Every CPython version found: its own obmalloc serves the blocks (the
 * library's report shows them, with that version's arena size and, from
 * 3.10, the arena map section), several versions side by side in one
 * process. Absent versions are skipped, saying so. */
static void test_cpython_versions(void **state)
{
    (void)state;
    int tested = 0;
    for (size_t i = 0; i < pm_cpython_version_count(); i++) {
        const char *v, *desc;
        const char *why = pm_cpython_version_status(i, &v, &desc);
        if (why) {
            printf("cpython,version=%s skipped, unavailable: %s\n", v, why);
            continue;
        }
        char spec[64];
        snprintf(spec, sizeof spec, "cpython,version=%s", v);
        const struct allocator_ops *o;
        pm_heap_t *h = pmt_create(spec, &o);
        enum { N = 20000 };      /* 64 B blocks: 1.3 MB, several arenas of any version */
        static void *b[N];
        for (size_t k = 0; k < N; k++)
            assert_non_null(b[k] = o->malloc(h, 64));
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_non_null(f);
        assert_true(pm_cpython_debugmallocstats_version(v, f));
        fclose(f);
        bool old = !strcmp(v, "3.8") || !strcmp(v, "3.9");
        assert_non_null(strstr(text, old ? " arenas * 262144 bytes/arena" : " arenas * 1048576 bytes/arena"));
        assert_true((strstr(text, "arena map counts") != NULL) == !old);
        const char *row = strstr(text, "\n    3     64 ");   /* class 3 (64 B): >= N in use */
        assert_non_null(row);
        unsigned long pools = 0, used = 0;
        assert_int_equal(sscanf(row + 13, "%lu %lu", &pools, &used), 2);
        assert_true(used >= N);
        free(text);
        for (size_t k = 0; k < N; k++)
            o->free(h, b[k]);
        o->destroy(h);
        tested++;
    }
    if (!tested)
        skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_malloc_not_replaced),
        cmocka_unit_test(test_instances_are_private),
        cmocka_unit_test(test_cpython_blocks_and_report),
        cmocka_unit_test(test_cpython_versions),
    };
    return cmocka_run_group_tests_name("refs", tests, NULL, NULL);
}
