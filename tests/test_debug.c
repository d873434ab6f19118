/* tests/test_debug.c — the debug:NAME wrapper (allocators/debug.c): the
 * CPython layout byte by byte, the 0xCD/0xDD fills, misuse reports through a
 * recording handler (the call is then ignored), check() on a damaged live
 * block, stats, fault pass-through, the live set's growth and trim, bad
 * specs, and death tests in a forked child with the harness' handler
 * (pm_cli_misuse_abort): SIGABRT and the exact first line of stderr.
 * The contract suite covers debug:system and debug:<every own backend>.
 */
#include "pm_test.h"
#include "cli.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ---- */

struct record {
    int calls;
    enum pm_misuse_kind kind;
    const void *ptr;
    char backend[64];
    char detail[4096];
};

static void record_misuse(void *ctx, const char *backend, enum pm_misuse_kind kind,
                          const void *ptr, const char *detail)
{
    struct record *r = ctx;
    r->calls++;
    r->kind = kind;
    r->ptr = ptr;
    snprintf(r->backend, sizeof r->backend, "%s", backend);
    snprintf(r->detail, sizeof r->detail, "%s", detail);
}

static pm_heap_t *create_with(const char *spec, const struct pm_config *cfg,
                              const struct allocator_ops **ops)
{
    char err[PM_ERR_LEN];
    pm_heap_t *h = pm_backend_create(spec, cfg, ops, err);
    if (!h)
        fail_msg("create %s: %s", spec, err);
    return h;
}

static pm_heap_t *create_recording(const char *spec, struct record *r,
                                   const struct allocator_ops **ops)
{
    memset(r, 0, sizeof *r);
    struct pm_config cfg = {.on_misuse = record_misuse, .misuse_ctx = r};
    return create_with(spec, &cfg, ops);
}

/* Reads memory that may have been freed without the read being a
 * use-after-free for ASan: the kernel copies it. */
static int peek(const void *addr, void *out, size_t n)
{
    struct iovec local = {out, n}, remote = {(void *)(uintptr_t)addr, n};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n;
}

static void expect_bytes(const unsigned char *p, size_t n, unsigned char c, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != c)
            fail_msg("%s: byte %zu is 0x%02x, expected 0x%02x", what, i, p[i], c);
}

static void expect_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, text);
}

static void expect_first_line(const char *text, const char *line)
{
    size_t n = strcspn(text, "\n");
    if (strlen(line) != n || memcmp(text, line, n) != 0)
        fail_msg("first line\n  got:      %.*s\n  expected: %s", (int)n, text, line);
}

static uint64_t live_blocks(const struct allocator_ops *ops, pm_heap_t *h)
{
    struct pm_stats st;
    ops->stats(h, &st);
    return st.live_blocks;
}

static uint64_t misuse_count(const struct allocator_ops *ops, pm_heap_t *h)
{
    struct pm_stats st;
    ops->stats(h, &st);
    return st.misuse;
}

/* ---- layout ---- */

static void expect_header(const unsigned char *p, size_t n, char api)
{
    unsigned char want[16];
    for (int i = 0; i < 8; i++)
        want[i] = (unsigned char)(n >> (8 * (7 - i)));   /* big-endian */
    want[8] = (unsigned char)api;
    memset(want + 9, 0xFD, 7);
    for (int i = 0; i < 16; i++)
        if (p[i - 16] != want[i])
            fail_msg("header byte p-%d is 0x%02x, expected 0x%02x", 16 - i, p[i - 16], want[i]);
    expect_bytes(p + n, 8, 0xFD, "trailing pad");
}

static void test_layout_bytes(void **state)
{
    (void)state;
    const struct allocator_ops *ops;
    pm_heap_t *h = pmt_create("debug:system", &ops);

    unsigned char *p = ops->malloc(h, 20);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    expect_header(p, 20, 'm');
    expect_bytes(p, 20, 0xCD, "new data");
    assert_int_equal(ops->usable_size(h, p), 20);

    /* a size whose bytes differ shows the byte order */
    size_t big = 0x10203;
    unsigned char *q = ops->malloc(h, big);
    expect_header(q, big, 'm');
    assert_int_equal(q[-12], 0x00);
    assert_int_equal(q[-11], 0x01);
    assert_int_equal(q[-10], 0x02);
    assert_int_equal(q[-9], 0x03);
    expect_bytes(q, big, 0xCD, "new big data");
    ops->free(h, q);

    unsigned char *r = ops->malloc_dom(h, 5, PM_DOMAIN_RAW);
    unsigned char *o = ops->malloc_dom(h, 0, PM_DOMAIN_OBJ);
    unsigned char *m = ops->malloc_dom(h, 7, PM_DOMAIN_MEM);
    expect_header(r, 5, 'r');
    expect_header(o, 0, 'o');
    expect_header(m, 7, 'm');
    ops->free_dom(h, r, PM_DOMAIN_RAW);
    ops->free_dom(h, o, PM_DOMAIN_OBJ);
    ops->free_dom(h, m, PM_DOMAIN_MEM);

    unsigned char *c = ops->calloc(h, 3, 11);
    expect_header(c, 33, 'm');
    expect_bytes(c, 33, 0, "calloc data");
    ops->free(h, c);

    /* realloc: contents kept, growth 0xCD, pads at the new end */
    memset(p, 'a', 20);
    unsigned char *g = ops->realloc(h, p, 50);
    assert_non_null(g);
    expect_header(g, 50, 'm');
    expect_bytes(g, 20, 'a', "kept data");
    expect_bytes(g + 20, 30, 0xCD, "growth");
    unsigned char *s = ops->realloc(h, g, 3);
    expect_header(s, 3, 'm');
    expect_bytes(s, 3, 'a', "kept data after shrink");
    assert_int_equal(ops->usable_size(h, s), 3);
    ops->free(h, s);
    pmt_check_clean(ops, h);
    assert_int_equal(live_blocks(ops, h), 0);
    ops->destroy(h);
}

/* A freed block is 0xDD over data and trailing pad before it goes to the
 * inner heap. Read through the kernel right after the free (so no ASan
 * use-after-free); glibc's tcache and ASan's allocator write their links
 * into the first 16 bytes of the inner block, our header, not the data. */
static void test_free_fills_deadbyte(void **state)
{
    (void)state;
    const struct allocator_ops *ops;
    pm_heap_t *h = pmt_create("debug:system", &ops);
    unsigned char *p = ops->malloc(h, 40);
    memset(p, 'a', 40);
    ops->free(h, p);
    unsigned char seen[48];
    assert_true(peek(p, seen, sizeof seen));
    expect_bytes(seen, 48, 0xDD, "freed data and trailing pad");

    /* realloc frees the old block the same way */
    unsigned char *a = ops->malloc(h, 40);
    memset(a, 'b', 40);
    unsigned char *a2 = ops->realloc(h, a, 2000);   /* always a new block */
    assert_ptr_not_equal(a2, a);
    assert_true(peek(a, seen, sizeof seen));
    expect_bytes(seen, 48, 0xDD, "block left by realloc");
    expect_bytes(a2, 40, 'b', "moved data");
    ops->free(h, a2);
    ops->destroy(h);
}

/* ---- misuse with a recording handler: reported, then ignored ---- */

static void test_overrun_report(void **state)
{
    (void)state;
    const struct allocator_ops *ops;
    struct record rec;
    pm_heap_t *h = create_recording("debug:system", &rec, &ops);
    unsigned char *p = ops->malloc(h, 16);
    p[16] = 'x';
    ops->free(h, p);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.kind, PM_MISUSE_OVERRUN);
    assert_ptr_equal(rec.ptr, p);
    assert_string_equal(rec.backend, "debug:system");
    char line[160];
    expect_first_line(rec.detail, "bad trailing pad byte");
    snprintf(line, sizeof line, "\nDebug memory block at address p=%p: API 'm'\n", (void *)p);
    expect_contains(rec.detail, line);
    expect_contains(rec.detail, "\n    16 bytes originally requested\n");
    expect_contains(rec.detail, "\n    The 7 pad bytes at p-7 are FORBIDDENBYTE, as expected.\n");
    snprintf(line, sizeof line, "\n    The 8 pad bytes at tail=%p are not all FORBIDDENBYTE (0xfd):\n",
             (void *)(p + 16));
    expect_contains(rec.detail, line);
    expect_contains(rec.detail, "\n        at tail+0: 0x78 *** OUCH\n        at tail+1: 0xfd\n");
    expect_contains(rec.detail, "\n        at tail+7: 0xfd\n");
    expect_contains(rec.detail,
                    "\n    Data at p: cd cd cd cd cd cd cd cd cd cd cd cd cd cd cd cd");
    assert_int_equal(rec.detail[strlen(rec.detail) - 1], 'd');   /* no trailing newline */

    /* ignored: the block is still live and intact */
    assert_int_equal(live_blocks(ops, h), 1);
    assert_int_equal(misuse_count(ops, h), 1);
    expect_bytes(p, 16, 0xCD, "data of the ignored free");
    p[16] = 0xFD;
    ops->free(h, p);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(live_blocks(ops, h), 0);

    /* a longer block: first and last 8 data bytes, " ..." between */
    unsigned char *q = ops->malloc(h, 40);
    for (int i = 0; i < 40; i++)
        q[i] = (unsigned char)i;
    q[41] = 'y';
    ops->free(h, q);
    assert_int_equal(rec.calls, 2);
    expect_contains(rec.detail, "\n        at tail+0: 0xfd\n        at tail+1: 0x79 *** OUCH\n");
    expect_contains(rec.detail, "\n    Data at p: 00 01 02 03 04 05 06 07 ... 20 21 22 23 24 25 26 27");
    q[41] = 0xFD;
    ops->free(h, q);
    ops->destroy(h);
}

static void test_underrun_report(void **state)
{
    (void)state;
    const struct allocator_ops *ops;
    struct record rec;
    pm_heap_t *h = create_recording("debug:system", &rec, &ops);
    unsigned char *p = ops->malloc(h, 24);
    p[-1] = 'x';
    ops->free(h, p);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.kind, PM_MISUSE_UNDERRUN);
    expect_first_line(rec.detail, "bad leading pad byte");
    expect_contains(rec.detail, "\n    The 7 pad bytes at p-7 are not all FORBIDDENBYTE (0xfd):\n"
                                "        at p-7: 0xfd\n");
    expect_contains(rec.detail, "\n        at p-1: 0x78 *** OUCH\n");
    expect_contains(rec.detail, "are FORBIDDENBYTE, as expected.\n    Data at p: cd");
    p[-1] = 0xFD;

    /* a damaged size field on its own: found on free as a bad size field */
    p[-16] = 0x01;                       /* size += 2^56 */
    ops->free(h, p);
    assert_int_equal(rec.calls, 2);
    assert_int_equal(rec.kind, PM_MISUSE_UNDERRUN);
    expect_first_line(rec.detail, "bad size field");
    p[-16] = 0;
#ifndef PM_ASAN
    /* A small wrong size: free reads the "tail" past the inner block, as
     * CPython would (ASan rightly calls that a heap-buffer-overflow, hence
     * not under ASan); the report then tells the size field from the tail. */
    p[-9] = 200;
    ops->free(h, p);
    assert_int_equal(rec.calls, 3);
    expect_first_line(rec.detail, "bad size field");
    expect_contains(rec.detail, "the size field is damaged");
    p[-9] = 24;
#endif
    uint64_t calls = (uint64_t)rec.calls;
    ops->free(h, p);
    assert_int_equal(rec.calls, calls);
    ops->destroy(h);
}

static void test_wrong_api_report(void **state)
{
    (void)state;
    const struct allocator_ops *ops;
    struct record rec;
    pm_heap_t *h = create_recording("debug:system", &rec, &ops);
    void *o = ops->malloc_dom(h, 32, PM_DOMAIN_OBJ);
    ops->free(h, o);                     /* plain free is PyMem_Free, API 'm' */
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.kind, PM_MISUSE_WRONG_API);
    expect_first_line(rec.detail, "bad ID: Allocated using API 'o', verified using API 'm'");
    assert_null(ops->realloc(h, o, 64)); /* realloc is API 'm' too */
    assert_int_equal(rec.calls, 2);
    ops->free_dom(h, o, PM_DOMAIN_OBJ);
    assert_int_equal(rec.calls, 2);

    /* an id that is no API at all is header damage */
    unsigned char *p = ops->malloc(h, 8);
    p[-8] = 'x';
    ops->free(h, p);
    assert_int_equal(rec.kind, PM_MISUSE_UNDERRUN);
    expect_first_line(rec.detail, "bad ID: Allocated using API 'x', verified using API 'm'");
    p[-8] = 'm';
    ops->free(h, p);
    assert_int_equal(live_blocks(ops, h), 0);
    ops->destroy(h);
}

static void test_double_free_and_foreign_reports(void **state)
{
    (void)state;
    const struct allocator_ops *ops;
    struct record rec;
    pm_heap_t *h = create_recording("debug:system", &rec, &ops);
    void *keep = ops->malloc(h, 100);
    void *p = ops->malloc(h, 40);
    ops->free(h, p);
    ops->free(h, p);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.kind, PM_MISUSE_DOUBLE_FREE);
    assert_ptr_equal(rec.ptr, p);
    expect_first_line(rec.detail, "block already freed (not live; its bytes read as DEADBYTE 0xdd)");
    expect_contains(rec.detail, "\n    Data at p: dd dd dd dd dd dd dd dd");
    /* also for a block smaller than 8 bytes (the trailing pad is 0xDD too) */
    void *small = ops->malloc(h, 1);
    ops->free(h, small);
    ops->free(h, small);
    assert_int_equal(rec.calls, 2);
    assert_int_equal(rec.kind, PM_MISUSE_DOUBLE_FREE);

    /* a large block glibc unmaps on free: no crash, reported as one of the two */
    void *big = ops->malloc(h, 1 << 20);
    ops->free(h, big);
    ops->free(h, big);
    assert_int_equal(rec.calls, 3);
    assert_true(rec.kind == PM_MISUSE_DOUBLE_FREE || rec.kind == PM_MISUSE_FOREIGN_POINTER);

    _Alignas(16) unsigned char stack[64];
    memset(stack, 0, sizeof stack);
    ops->free(h, stack + 16);
    assert_int_equal(rec.calls, 4);
    assert_int_equal(rec.kind, PM_MISUSE_FOREIGN_POINTER);
    expect_first_line(rec.detail, "not a live block of this heap");
    expect_contains(rec.detail, "header bytes at p-16: 00 00 00 00");

    ops->free(h, (char *)keep + 8);
    assert_int_equal(rec.calls, 5);
    assert_int_equal(rec.kind, PM_MISUSE_MISALIGNED_POINTER);
    assert_null(ops->realloc(h, stack + 16, 10));
    assert_int_equal(rec.calls, 6);

    assert_int_equal(live_blocks(ops, h), 1);
    assert_int_equal(misuse_count(ops, h), 6);
    pmt_check_clean(ops, h);
    ops->free(h, keep);
    ops->destroy(h);
}

static void test_realloc_of_damaged_block_fails_and_keeps_it(void **state)
{
    (void)state;
    const struct allocator_ops *ops;
    struct record rec;
    pm_heap_t *h = create_recording("debug:system", &rec, &ops);
    unsigned char *p = ops->malloc(h, 30);
    memset(p, 'k', 30);
    p[30] = 'x';
    errno = 0;
    assert_null(ops->realloc(h, p, 100));
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.kind, PM_MISUSE_OVERRUN);
    expect_bytes(p, 30, 'k', "data after refused realloc");
    assert_int_equal(p[30], 'x');
    p[30] = 0xFD;
    pmt_check_clean(ops, h);
    ops->free(h, p);
    ops->destroy(h);
}

/* ---- check() ---- */

static void test_check_finds_damaged_live_block(void **state)
{
    (void)state;
    const struct allocator_ops *ops;
    struct record rec;
    pm_heap_t *h = create_recording("debug:system", &rec, &ops);
    void *others[50];
    for (int i = 0; i < 50; i++)
        others[i] = ops->malloc(h, (size_t)i * 3);
    unsigned char *p = ops->malloc(h, 12);
    char msg[PM_ERR_LEN], want[PM_ERR_LEN];
    pmt_check_clean(ops, h);

    p[12 + 2] = 'x';
    assert_int_equal(ops->check(h, msg), 1);
    snprintf(want, sizeof want, "debug:system: live block p=%p (12 bytes, API 'm'): "
             "bad trailing pad byte (at tail+2: 0x78)", (void *)p);
    assert_string_equal(msg, want);
    p[12 + 2] = 0xFD;

    p[-3] = 'x';
    assert_int_equal(ops->check(h, msg), 1);
    expect_contains(msg, "bad leading pad byte (at p-3: 0x78)");
    p[-3] = 0xFD;

    p[-8] = 'q';
    assert_int_equal(ops->check(h, msg), 1);
    expect_contains(msg, "bad ID (not 'r', 'm' or 'o')");
    p[-8] = 'm';

    p[-10] = 0x10;                       /* size 12 + 4096: past the inner block */
    assert_int_equal(ops->check(h, msg), 1);
    expect_contains(msg, "bad size field");
    p[-10] = 0;

    p[12] = 'x';                         /* two damaged blocks: both counted */
    ((unsigned char *)others[7])[-1] = 0;
    assert_int_equal(ops->check(h, msg), 2);
    p[12] = 0xFD;
    ((unsigned char *)others[7])[-1] = 0xFD;

    pmt_check_clean(ops, h);
    assert_int_equal(rec.calls, 0);      /* check() reports, never calls the handler */
    for (int i = 0; i < 50; i++)
        ops->free(h, others[i]);
    ops->free(h, p);
    ops->destroy(h);
}

/* ---- stats, faults, growth, destroy, specs ---- */

static void test_stats_count_overhead(void **state)
{
    (void)state;
    const struct allocator_ops *ops;
    pm_heap_t *h = pmt_create("debug:null", &ops);
    struct pm_stats a, b;
    ops->stats(h, &a);
    void *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = ops->malloc(h, 100);
    ops->stats(h, &b);
    assert_int_equal(b.meta_bytes - a.meta_bytes, 10 * 24);
    assert_int_equal(b.live_blocks - a.live_blocks, 10);
    assert_int_equal(b.nmalloc - a.nmalloc, 10);
    p[0] = ops->realloc(h, p[0], 300);   /* moves: neither a malloc nor a free */
    for (int i = 0; i < 10; i++)
        ops->free(h, p[i]);
    ops->stats(h, &b);
    assert_int_equal(b.meta_bytes, a.meta_bytes);
    assert_int_equal(b.live_blocks, 0);
    assert_int_equal(b.nmalloc, 10);
    assert_int_equal(b.nfree, 10);
    assert_true(b.mapped_bytes >= 4u << 20);   /* null's ring + ours */
    ops->destroy(h);

    /* over a global inner: exact counts, unknown metadata stays unknown */
    h = pmt_create("debug:system", &ops);
    void *q = ops->malloc(h, 10);
    ops->stats(h, &b);
    assert_int_equal(b.live_blocks, 1);
    assert_int_equal(b.nmalloc, 1);
    assert_true(b.meta_bytes == PM_STAT_NA);
    ops->free(h, q);
    ops->destroy(h);
}

static void test_faults_reach_inner(void **state)
{
    (void)state;
    const struct allocator_ops *ops;
    /* null maps twice at create; its 3rd map is the first large block */
    struct pm_config cfg = {.faults = {.fail_from = 3}};
    pm_heap_t *h = create_with("debug:null", &cfg, &ops);
    errno = 0;
    assert_null(ops->malloc(h, 2u << 20));
    assert_int_equal(errno, ENOMEM);
    pmt_check_clean(ops, h);
    void *p = ops->malloc(h, 100);
    assert_non_null(p);
    assert_non_null(ops->os(h));
    assert_int_equal(ops->os(h)->failed_maps, 1);
    pm_os_set_faults(ops->os(h), NULL);
    void *big = ops->malloc(h, 2u << 20);
    assert_non_null(big);
    ops->free(h, big);
    ops->free(h, p);
    pmt_check_clean(ops, h);
    ops->destroy(h);
}

static void test_live_set_grows_trims_and_destroy_frees(void **state)
{
    (void)state;
    enum { N = 20000 };
    uint64_t base = pm_os_total_mapped();
    const struct allocator_ops *ops;
    pm_heap_t *h = pmt_create("debug:system", &ops);
    uint64_t empty = pm_os_total_mapped() - base;
    void **p = malloc(N * sizeof *p);
    for (int i = 0; i < N; i++)
        p[i] = ops->malloc(h, (size_t)(i % 64));
    uint64_t full = pm_os_total_mapped() - base;
    assert_true(full >= empty + 2 * N * 8);   /* at least 2 slots of 8 bytes a block */
    pmt_check_clean(ops, h);
    for (int i = 0; i < N; i += 2)
        ops->free(h, p[i]);
    pmt_check_clean(ops, h);                  /* backward-shift deletion kept it whole */
    for (int i = 1; i < N; i += 2)
        ops->free(h, p[i]);
    ops->trim(h);
    assert_int_equal(pm_os_total_mapped() - base, empty);
    pmt_check_clean(ops, h);
#ifndef PM_ASAN
    /* destroy frees the blocks left live in the global inner heap (under
     * ASan, LeakSanitizer checks this at exit instead of mallinfo) */
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 100; i++)
        p[i] = ops->malloc(h, 4000);   /* above tcache sizes: freed chunks leave uordblks */
    struct mallinfo2 mid = mallinfo2();
    ops->destroy(h);
    struct mallinfo2 after = mallinfo2();
    assert_true(mid.uordblks - after.uordblks >= 100 * (4000 + 24));
    assert_true(after.uordblks <= before.uordblks);   /* less: system's own struct */
#else
    for (int i = 0; i < 100; i++)
        p[i] = ops->malloc(h, 4000);   /* above tcache sizes: freed chunks leave uordblks */
    ops->destroy(h);
#endif
    assert_int_equal(pm_os_total_mapped(), base);
    free(p);
}

/* Random churn at the smallest live set (512 slots, 255 live: load just
 * under 1/2, so probe runs are long and often wrap around the table's end)
 * with check() after every op: backward-shift deletion must keep every key
 * reachable, or a later free of a live block would be reported as misuse. */
static void test_live_set_churn_keeps_keys_reachable(void **state)
{
    (void)state;
    enum { SLOTS = 255, OPS = 20000 };
    const struct allocator_ops *ops;
    struct record rec;
    pm_heap_t *h = create_recording("debug:system", &rec, &ops);
    void *slot[SLOTS] = {0};
    uint64_t rng = 777;
    char msg[PM_ERR_LEN];
    for (int k = 0; k < OPS; k++) {
        uint64_t r = pmt_rand(&rng);
        void **s = &slot[r % SLOTS];
        ops->free(h, *s);
        *s = ops->malloc(h, (r >> 32) % 64);
        if (ops->check(h, msg))
            fail_msg("op %d: %s", k, msg);
    }
    assert_int_equal(rec.calls, 0);
    for (int i = 0; i < SLOTS; i++)
        ops->free(h, slot[i]);
    assert_int_equal(rec.calls, 0);
    assert_int_equal(live_blocks(ops, h), 0);
    ops->destroy(h);
}

static void test_bad_specs(void **state)
{
    (void)state;
    char err[PM_ERR_LEN];
    assert_null(pm_backend_create("debug:", NULL, NULL, err));
    assert_string_equal(err, "debug: no inner backend (write debug:NAME, e.g. debug:system)");
    assert_null(pm_backend_create("debug", NULL, NULL, err));
    assert_string_equal(err, "backend 'debug' wraps another: write debug:NAME");
    assert_null(pm_backend_create("debug:nosuch", NULL, NULL, err));
    expect_contains(err, "unknown backend 'nosuch' (known: ");
    expect_contains(err, "debug:NAME");
    assert_null(pm_backend_create("debug:system,x=1", NULL, NULL, err));
    expect_contains(err, "takes no options");
    uint64_t before = pm_os_total_mapped();
    assert_null(pm_backend_create("debug:null,ring=1", NULL, NULL, err));
    expect_contains(err, "null: bad ring size");
    assert_int_equal(pm_os_total_mapped(), before);

    /* a wrapper over a wrapper is a backend like any other */
    const struct allocator_ops *ops;
    pm_heap_t *h = pmt_create("debug:debug:system", &ops);
    unsigned char *p = ops->malloc(h, 10);
    expect_header(p, 10, 'm');
    expect_header(p - 16, 10 + 24, 'm');
    ops->free(h, p);
    pmt_check_clean(ops, h);
    ops->destroy(h);
}

/* ---- death tests: the harness handler prints and aborts ---- */

static const struct allocator_ops *d_ops;
static pm_heap_t *d_heap;
static unsigned char *d_ptr;

static void die_overrun(void) { d_ptr[16] = 'x'; d_ops->free(d_heap, d_ptr); }
static void die_underrun(void) { d_ptr[-1] = 'x'; d_ops->free(d_heap, d_ptr); }
static void die_double_free(void) { d_ops->free(d_heap, d_ptr); d_ops->free(d_heap, d_ptr); }
static void die_wrong_api(void) { d_ops->free_dom(d_heap, d_ptr, PM_DOMAIN_RAW); }
static _Alignas(16) unsigned char d_foreign[64];   /* zero: reads as no block */
static void die_foreign(void) { d_ops->free(d_heap, d_foreign + 16); }

static void run_body(void *arg)
{
    void (**body)(void) = arg;
    (*body)();
}

/* Runs body in a forked child with stderr on a pipe; expects SIGABRT, the
 * exact first line and each of `also` somewhere in stderr. */
static void expect_death(void (*body)(void), const char *first, const char *const *also)
{
    static char out[8192];
    int status = pmt_run_child(run_body, &body, out, sizeof out);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("child did not abort (status 0x%x), stderr:\n%s", status, out);
    expect_first_line(out, first);
    for (; also && *also; also++)
        expect_contains(out, *also);
}

static int death_setup(void **state)
{
    (void)state;
    struct pm_config cfg = {.on_misuse = pm_cli_misuse_abort};
    char err[PM_ERR_LEN];
    d_heap = pm_backend_create("debug:system", &cfg, &d_ops, err);
    if (!d_heap)
        return -1;
    d_ptr = d_ops->malloc_dom(d_heap, 16, PM_DOMAIN_MEM);
    return 0;
}

static int death_teardown(void **state)
{
    (void)state;
    d_ops->free(d_heap, d_ptr);   /* the parent's copy is untouched */
    d_ops->destroy(d_heap);
    return 0;
}

static void test_death_overrun(void **state)
{
    (void)state;
    char first[200], block[200], tail[200];
    snprintf(first, sizeof first,
             "pymemlab: debug:system: buffer overrun at %p: bad trailing pad byte", (void *)d_ptr);
    snprintf(block, sizeof block, "\nDebug memory block at address p=%p: API 'm'\n", (void *)d_ptr);
    snprintf(tail, sizeof tail, "\n    The 8 pad bytes at tail=%p are not all FORBIDDENBYTE (0xfd):\n",
             (void *)(d_ptr + 16));
    const char *also[] = {block, "\n    16 bytes originally requested\n", tail,
                          "\n        at tail+0: 0x78 *** OUCH\n", NULL};
    expect_death(die_overrun, first, also);
}

static void test_death_underrun(void **state)
{
    (void)state;
    char first[200];
    snprintf(first, sizeof first,
             "pymemlab: debug:system: buffer underrun at %p: bad leading pad byte", (void *)d_ptr);
    const char *also[] = {"\n        at p-1: 0x78 *** OUCH\n", NULL};
    expect_death(die_underrun, first, also);
}

static void test_death_double_free(void **state)
{
    (void)state;
    char first[200];
    snprintf(first, sizeof first,
             "pymemlab: debug:system: double free at %p: block already freed (not live; its "
             "bytes read as DEADBYTE 0xdd)", (void *)d_ptr);
    const char *also[] = {"\n    Data at p: dd dd dd dd dd dd dd dd", NULL};
    expect_death(die_double_free, first, also);
}

static void test_death_wrong_api(void **state)
{
    (void)state;
    char first[200];
    snprintf(first, sizeof first,
             "pymemlab: debug:system: wrong API at %p: bad ID: Allocated using API 'm', "
             "verified using API 'r'", (void *)d_ptr);
    const char *also[] = {"\n    The 8 pad bytes at tail=", NULL};
    expect_death(die_wrong_api, first, also);
}

static void test_death_foreign(void **state)
{
    (void)state;
    char first[200];
    snprintf(first, sizeof first,
             "pymemlab: debug:system: foreign pointer at %p: not a live block of this heap",
             (void *)(d_foreign + 16));
    const char *also[] = {"\n    The 16 header bytes at p-16: 00 00 00 00", NULL};
    expect_death(die_foreign, first, also);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_bytes),
        cmocka_unit_test(test_free_fills_deadbyte),
        cmocka_unit_test(test_overrun_report),
        cmocka_unit_test(test_underrun_report),
        cmocka_unit_test(test_wrong_api_report),
        cmocka_unit_test(test_double_free_and_foreign_reports),
        cmocka_unit_test(test_realloc_of_damaged_block_fails_and_keeps_it),
        cmocka_unit_test(test_check_finds_damaged_live_block),
        cmocka_unit_test(test_stats_count_overhead),
        cmocka_unit_test(test_faults_reach_inner),
        cmocka_unit_test(test_live_set_grows_trims_and_destroy_frees),
        cmocka_unit_test(test_live_set_churn_keeps_keys_reachable),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test_setup_teardown(test_death_overrun, death_setup, death_teardown),
        cmocka_unit_test_setup_teardown(test_death_underrun, death_setup, death_teardown),
        cmocka_unit_test_setup_teardown(test_death_double_free, death_setup, death_teardown),
        cmocka_unit_test_setup_teardown(test_death_wrong_api, death_setup, death_teardown),
        cmocka_unit_test_setup_teardown(test_death_foreign, death_setup, death_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
