/* allocators/testonly.c — backends that misbehave on purpose, for testing the
 * harness itself: `--check-every` (a check() that starts failing), and the
 * suite runner's isolation (a backend that crashes, one that hangs).
 * Flagged PM_BACKEND_TEST_ONLY: usable by name, never listed by `backends`,
 * never in a default suite.
 *
 *   test-badcheck,after=N   glibc underneath; check() reports one violation
 *                           once N mallocs have been made
 *   test-crash,after=N      glibc underneath; the (N+1)-th malloc raises SIGSEGV
 *   test-hang,after=N       glibc underneath; the (N+1)-th malloc never returns
 *   test-abort,after=N      glibc underneath; the (N+1)-th malloc reports a
 *                           misuse (the harness' handler prints one line and
 *                           aborts; with no handler it is counted)
 *
 * They are the only code in allocators/ that deliberately ends the process;
 * that is their purpose.
 */
#include "allocator.h"

#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum misbehaviour { BAD_CHECK, CRASH, HANG, ABORT };

struct pm_heap {
    enum misbehaviour kind;
    uint64_t after;             /* mallocs before misbehaving */
    uint64_t nmalloc;
    uint64_t live;
    struct pm_config cfg;       /* the misuse handler (test-abort) */
    uint64_t misuse;
};

static pm_heap_t *t_create(enum misbehaviour kind, const char *name,
                           const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    uint64_t after = 1000;
    struct pm_opt_iter it = {cfg->options};
    const char *k, *v;
    size_t kl, vl;
    int r;
    while ((r = pm_opt_next(&it, &k, &kl, &v, &vl, err)) > 0) {
        if (!pm_opt_key_is(k, kl, "after") || !pm_parse_size(v, vl, &after)) {
            snprintf(err, PM_ERR_LEN, "%s: bad option '%.*s' (known: after=N)", name, (int)kl, k);
            return NULL;
        }
    }
    if (r < 0)
        return NULL;
    pm_heap_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, PM_ERR_LEN, "%s: out of memory", name);
        return NULL;
    }
    h->kind = kind;
    h->after = after;
    h->cfg = *cfg;
    return h;
}

static pm_heap_t *badcheck_create(const struct pm_config *c, char e[PM_ERR_LEN])
{
    return t_create(BAD_CHECK, "test-badcheck", c, e);
}
static pm_heap_t *crash_create(const struct pm_config *c, char e[PM_ERR_LEN])
{
    return t_create(CRASH, "test-crash", c, e);
}
static pm_heap_t *hang_create(const struct pm_config *c, char e[PM_ERR_LEN])
{
    return t_create(HANG, "test-hang", c, e);
}
static pm_heap_t *abort_create(const struct pm_config *c, char e[PM_ERR_LEN])
{
    return t_create(ABORT, "test-abort", c, e);
}

static void t_destroy(pm_heap_t *h) { free(h); }

static void *t_malloc(pm_heap_t *h, size_t n)
{
    if (h->nmalloc++ == h->after) {
        if (h->kind == CRASH)
            raise(SIGSEGV);
        if (h->kind == HANG)
            for (;;)
                pause();
        if (h->kind == ABORT)
            pm_misuse_report(&h->cfg, &h->misuse, "test-abort", PM_MISUSE_FOREIGN_POINTER, NULL,
                             "deliberate misuse report (tests only)");
    }
    h->live++;
    return malloc(n ? n : 1);
}

static void *t_calloc(pm_heap_t *h, size_t k, size_t n)
{
    size_t total;
    if (!pm_calloc_bytes(k, n, &total))
        return NULL;
    void *p = t_malloc(h, total);
    if (p)
        memset(p, 0, total);
    return p;
}

static void *t_realloc(pm_heap_t *h, void *p, size_t n)
{
    if (!p)
        return t_malloc(h, n);
    return realloc(p, n ? n : 1);
}

static void t_free(pm_heap_t *h, void *p)
{
    if (p) {
        h->live--;
        free(p);
    }
}

static size_t t_usable(pm_heap_t *h, void *p)
{
    (void)h;
    return malloc_usable_size(p);
}

static void t_stats(pm_heap_t *h, struct pm_stats *out)
{
    memset(out, 0xff, sizeof *out);     /* PM_STAT_NA everywhere */
    out->live_blocks = h->live;
    out->nmalloc = h->nmalloc;
    out->misuse = h->misuse;
}

static unsigned long t_check(pm_heap_t *h, char msg[PM_ERR_LEN])
{
    msg[0] = 0;
    if (h->kind == BAD_CHECK && h->nmalloc >= h->after) {
        snprintf(msg, PM_ERR_LEN, "test-badcheck: deliberate violation after %llu mallocs",
                 (unsigned long long)h->nmalloc);
        return 1;
    }
    return 0;
}

static void t_trim(pm_heap_t *h) { (void)h; }

#define TEST_OPS(ident, label, desc, create_fn)                                   \
    const struct allocator_ops ident = {                                          \
        .name = label, .description = desc,                                       \
        .flags = PM_BACKEND_TEST_ONLY | PM_BACKEND_GLOBAL,                        \
        .create = create_fn, .destroy = t_destroy, .malloc = t_malloc,            \
        .calloc = t_calloc, .realloc = t_realloc, .free = t_free,                 \
        .usable_size = t_usable, .stats = t_stats, .check = t_check,              \
        .trim = t_trim,                                                           \
    }

TEST_OPS(pm_test_badcheck_ops, "test-badcheck", "check() fails after N mallocs (tests only)", badcheck_create);
TEST_OPS(pm_test_crash_ops, "test-crash", "SIGSEGV at malloc N+1 (tests only)", crash_create);
TEST_OPS(pm_test_hang_ops, "test-hang", "hangs at malloc N+1 (tests only)", hang_create);
TEST_OPS(pm_test_abort_ops, "test-abort", "reports a misuse at malloc N+1 (tests only)", abort_create);
