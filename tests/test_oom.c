/* tests/test_oom.c — out of memory, for every own backend: every registered
 * backend that is not a reference or a wrapper and has an OS layer (ops->os)
 * is tested by being registered.
 *
 * One scenario per backend: fill with a mix of small (16..512 B) and large
 * (up to 1 MiB) blocks; make every further mapping fail; allocate until NULL
 * comes back and expect ENOMEM, a clean check() and every block's contents
 * intact; a failing realloc keeps its block; free everything, lift the fault,
 * allocate again; destroy gives back every byte (pm_os_total_mapped()).
 *
 * "Until NULL" is bounded exactly: with the mapping frozen, a backend cannot
 * hand out more distinct live bytes than it has mapped, so requests summing
 * past os->mapped without a NULL are a failure. `null` aliases blocks in its
 * ring and never maps for small blocks, so for it only large blocks (its own
 * mappings) are driven to failure.
 *
 * pymalloc is tested twice: `pymalloc,large=segfit` (every block on its OS
 * account, the whole scenario) and plain `pymalloc`, whose default
 * large=system hands large blocks to the C library as CPython does: they
 * are outside the account and cannot be made to fail, so for it only the
 * small blocks are driven to failure.
 */
#include "pm_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OOM_LARGE ((size_t)2 << 20)    /* past null's ring/4 and every small path */

struct blk { unsigned char *p; size_t n; unsigned seed; };

struct blocks {
    struct blk *v;
    size_t len, cap;
    uint64_t bytes;             /* sum of n over v */
};

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31 + i * 7);
}

static void blocks_push(struct blocks *b, unsigned char *p, size_t n)
{
    if (b->len == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 1024;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
        assert_non_null(b->v);
    }
    unsigned seed = (unsigned)b->len;
    fill(p, n, seed);
    b->v[b->len++] = (struct blk){p, n, seed};
    b->bytes += n;
}

static void blocks_verify(const struct blocks *b, const char *name, const char *when)
{
    for (size_t k = 0; k < b->len; k++) {
        const struct blk *x = &b->v[k];
        for (size_t i = 0; i < x->n; i++)
            if (x->p[i] != (unsigned char)(x->seed * 31 + i * 7))
                fail_msg("%s: %s: byte %zu of block %zu (%zu B) changed", name, when, i, k, x->n);
    }
}

/* Allocates blocks of size_of(rng) until malloc returns NULL; expects ENOMEM
 * before the requests sum past `limit` bytes. */
static void alloc_until_null(const struct allocator_ops *o, pm_heap_t *h, struct blocks *b,
                             uint64_t limit, bool small, uint64_t *rng)
{
    uint64_t asked = 0;
    for (;;) {
        size_t n = small ? 16 + (size_t)(pmt_rand(rng) % 497) : OOM_LARGE;
        errno = 0;
        unsigned char *p = o->malloc(h, n);
        if (!p) {
            assert_int_equal(errno, ENOMEM);
            return;
        }
        blocks_push(b, p, n);
        asked += n;
        if (asked > limit)
            fail_msg("%s: %llu B of %s blocks handed out with mapping frozen at %llu B, no NULL",
                     o->name, (unsigned long long)asked, small ? "small" : "large",
                     (unsigned long long)limit);
    }
}

struct oom_case {
    const struct allocator_ops *o;
    const char *spec;            /* backend spec given to create */
    bool large_outside;          /* large blocks are not on the OS account */
};

static void test_oom(void **state)
{
    const struct oom_case *c = *state;
    const struct allocator_ops *o = c->o;
    uint64_t mapped_before = pm_os_total_mapped();
    const struct allocator_ops *got;
    pm_heap_t *h = pmt_create(c->spec, &got);
    assert_ptr_equal(got, o);
    struct pm_os *os = o->os(h);
    struct blocks b = {0};
    uint64_t rng = 0x5eed;
    bool aliases_small = !strcmp(o->name, "null");

    /* 1. a mix of small and large blocks, all served */
    static const size_t large[] = {4096, 20000, 65536, 100000, 262144, (size_t)1 << 20};
    for (size_t i = 0; i < 1200; i++) {
        size_t n = i % 200 == 199 ? large[i / 200] : 16 + (size_t)(pmt_rand(&rng) % 497);
        unsigned char *p = o->malloc(h, n);
        assert_non_null(p);
        blocks_push(&b, p, n);
    }
    pmt_check_clean(o, h);

    /* 2. every further mapping fails */
    pm_os_set_faults(os, &(struct pm_os_faults){.fail_from = os->map_calls + 1});
    uint64_t frozen = os->mapped;
    if (!aliases_small) {
        alloc_until_null(o, h, &b, frozen, true, &rng);
        pmt_check_clean(o, h);
        blocks_verify(&b, o->name, "after small blocks ran out");
    }
    if (!c->large_outside) {
        alloc_until_null(o, h, &b, frozen, false, &rng);
        pmt_check_clean(o, h);

        /* a failing realloc or calloc leaves everything as it was */
        errno = 0;
        assert_null(o->realloc(h, b.v[0].p, OOM_LARGE));
        assert_int_equal(errno, ENOMEM);
        errno = 0;
        assert_null(o->calloc(h, 1, OOM_LARGE));
        assert_int_equal(errno, ENOMEM);
        pmt_check_clean(o, h);
    }
    blocks_verify(&b, o->name, "after the failures");
    assert_true(os->failed_maps > 0);
    assert_int_equal(os->mapped, frozen);

    /* 3. free everything, lift the fault, allocate again */
    for (size_t k = 0; k < b.len; k++)
        o->free(h, b.v[k].p);
    b.len = 0;
    b.bytes = 0;
    pmt_check_clean(o, h);
    pm_os_set_faults(os, NULL);
    for (size_t i = 0; i < 300; i++) {
        size_t n = 16 + (size_t)(pmt_rand(&rng) % 497);
        unsigned char *p = o->malloc(h, n);
        assert_non_null(p);
        blocks_push(&b, p, n);
    }
    unsigned char *big = o->malloc(h, OOM_LARGE);
    assert_non_null(big);
    blocks_push(&b, big, OOM_LARGE);
    pmt_check_clean(o, h);
    blocks_verify(&b, o->name, "after the fault was lifted");
    for (size_t k = 0; k < b.len; k++)
        o->free(h, b.v[k].p);
    pmt_check_clean(o, h);
    free(b.v);

    /* 4. nothing leaks */
    o->destroy(h);
    assert_int_equal(pm_os_total_mapped(), mapped_before);
}

int main(void)
{
    enum { MAX = 64 };
    static struct CMUnitTest tests[MAX];
    static struct oom_case cases[MAX];
    static char names[MAX][64];
    size_t n = 0;
    for (const struct allocator_ops *const *bk = pm_backends; *bk && n < MAX; bk++) {
        const struct allocator_ops *o = *bk;
        unsigned skip = PM_BACKEND_REFERENCE | PM_BACKEND_WRAPPER | PM_BACKEND_TEST_ONLY;
        if ((o->flags & skip) || !o->os)
            continue;
        if (o->unavailable && o->unavailable()) {
            printf("oom[%s]: skipped, unavailable: %s\n", o->name, o->unavailable());
            continue;
        }
        bool pymalloc = !strcmp(o->name, "pymalloc");
        for (int twice = 0; twice <= (int)pymalloc && n < MAX; twice++) {
            cases[n] = (struct oom_case){o, twice ? "pymalloc,large=segfit" : o->name, pymalloc && !twice};
            snprintf(names[n], sizeof names[n], "oom[%s]", cases[n].spec);
            tests[n] = (struct CMUnitTest){
                .name = names[n], .test_func = test_oom, .initial_state = &cases[n]};
            n++;
        }
    }
    if (n == 0) {
        printf("oom: no own backend with an OS layer is registered\n");
        return 1;
    }
    return _cmocka_run_group_tests("oom", tests, n, NULL, NULL);
}
