/* tests/test_debug_cpython.c — the debug wrapper's misuse reports held
 * against CPython 3.11's own under PYTHONMALLOC=debug (issue 19 item 14).
 *
 * For each misuse, the real interpreter (python3.11, ctypes calling
 * PyMem_Malloc, PyMem_Free, PyObject_Free) and debug:system do the same
 * thing to a 10-byte block; CPython prints _PyObject_DebugDumpAddress and
 * "Fatal Python error: _PyMem_DebugRawFree: PROBLEM" and aborts, the wrapper
 * hands its report (PROBLEM, then the dump) to the misuse handler. The
 * problem line and every line of the dump from "Debug memory block" to
 * "Data at p:" must be the same, addresses aside.
 *
 * Cases: trailing pad overrun, leading pad underrun, wrong API (PyMem_Malloc
 * then PyObject_Free), and a double free (PyMem_Free twice).
 *
 * The double free, as CPython 3.11.7 prints it here (PyMem_Malloc(10) is
 * served by pymalloc under PYTHONMALLOC=debug; its first free fills the
 * whole block, header included, with DEADBYTE, then pymalloc's free writes
 * its free-list link over the first 8 bytes, the size field):
 *
 *   Debug memory block at address p=0x7f2aaf7b0820: API '<0xdd byte>'
 *       4614073810503532544 bytes originally requested
 *       The 7 pad bytes at p-7 are not all FORBIDDENBYTE (0xfd):
 *           at p-7: 0xdd *** OUCH
 *           ... (p-6 .. p-1 the same)
 *       Because memory is corrupted at the start, the count of bytes requested
 *          may be bogus, and checking the trailing pad bytes may segfault.
 *       The 8 pad bytes at tail=0x4008fad9d9fa0820 are
 *   (SIGSEGV, exit 139: "Fatal Python error: Segmentation fault" with
 *   PYTHONFAULTHANDLER=1)
 *
 * The requested count is the free-list link (an address) read big-endian,
 * so CPython reads the tail at p + that and dies before it prints its
 * problem line; when the link is NULL (the block was its pool's only free
 * one) it gets through and says "bad ID: Allocated using API '\xdd',
 * verified using API 'm'". So CPython has no first line naming the problem
 * for a double free, and no last line at all: what can match is the dump
 * up to the tail, and it does: debug:pymalloc (whose free links its blocks
 * at the same place) gives the same lines from the same bytes, the count
 * aside (another address); its problem line comes first, as for every
 * misuse ("block already freed ..."), and it stops before the tail ("The
 * block is not live (freed): its trailing pad and data are not read.")
 * rather than read at a bogus address ("The block is not live (freed): its
 * trailing pad is not read.", then the first 8 data bytes). CPython's raw 0xdd byte in "API
 * '...'" is written '\xdd' by the wrapper (its reports stay ASCII).
 *
 * Skipped (cmocka skip) when python3.11 is not installed.
 */
#include "pm_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OUT_LEN 16384

struct rec {
    int calls;
    char detail[4096];
};

static void record_misuse(void *ctx, const char *backend, enum pm_misuse_kind kind, const void *ptr,
                          const char *detail)
{
    (void)backend;
    (void)kind;
    (void)ptr;
    struct rec *r = ctx;
    r->calls++;
    snprintf(r->detail, sizeof r->detail, "%s", detail);
}

static const char script[] =
    "import ctypes, sys\n"
    "api = ctypes.pythonapi\n"
    "api.PyMem_Malloc.restype = ctypes.c_void_p\n"
    "api.PyMem_Malloc.argtypes = [ctypes.c_size_t]\n"
    "api.PyMem_Free.argtypes = [ctypes.c_void_p]\n"
    "api.PyObject_Free.argtypes = [ctypes.c_void_p]\n"
    "case = sys.argv[1]\n"
    "p = api.PyMem_Malloc(10)\n"
    "if case == 'overrun':\n"
    "    ctypes.memset(p + 10, 0x78, 1)\n"
    "    api.PyMem_Free(p)\n"
    "elif case == 'underrun':\n"
    "    ctypes.memset(p - 1, 0x78, 1)\n"
    "    api.PyMem_Free(p)\n"
    "elif case == 'wrongapi':\n"
    "    api.PyObject_Free(p)\n"
    "elif case == 'doublefree':\n"
    "    api.PyMem_Free(p)\n"
    "    api.PyMem_Free(p)\n";

static bool have_python(void)
{
    return system("python3.11 -c pass >/dev/null 2>&1") == 0;
}

/* CPython's output for a case (stderr and stdout), NUL-terminated. */
static void cpython_output(const char *dir, const char *cas, char *out, size_t cap)
{
    char path[128], cmd[512];
    snprintf(path, sizeof path, "%s/misuse.py", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(script, f);
    assert_int_equal(fclose(f), 0);
    snprintf(cmd, sizeof cmd, "PYTHONMALLOC=debug PYTHONFAULTHANDLER= python3.11 %s %s 2>&1", path, cas);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    pclose(p);   /* it aborts: its status is not ours to check */
}

/* Copies s with every "=0x<hex>" address (p=, tail=) as "=ADDR". */
static void strip_addresses(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    while (*s && o + 8 < cap) {
        if (s[0] == '=' && s[1] == '0' && s[2] == 'x') {
            memcpy(out + o, "=ADDR", 5);
            o += 5;
            s += 3;
            while ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))
                s++;
            continue;
        }
        out[o++] = *s++;
    }
    out[o] = 0;
}

/* The lines of text from the one starting "Debug memory block" to the one
 * starting "    Data at p:", inclusive, into out. */
static void dump_lines(const char *text, char *out, size_t cap)
{
    const char *a = strstr(text, "Debug memory block");
    assert_non_null(a);
    const char *d = strstr(a, "\n    Data at p:");
    assert_non_null(d);
    const char *e = strchr(d + 1, '\n');
    size_t n = e ? (size_t)(e - a) : strlen(a);
    assert_true(n < cap);
    memcpy(out, a, n);
    out[n] = 0;
}

static void compare(const char *cas, void (*misuse)(const struct allocator_ops *, pm_heap_t *))
{
    if (!have_python())
        skip();
    char dir[] = "/tmp/pm-test-cpy-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static char py[OUT_LEN], a[OUT_LEN], b[OUT_LEN], s1[OUT_LEN], s2[OUT_LEN];
    cpython_output(dir, cas, py, sizeof py);
    char path[128];
    snprintf(path, sizeof path, "%s/misuse.py", dir);
    remove(path);
    rmdir(dir);

    struct rec r = {0};
    struct pm_config cfg = {.on_misuse = record_misuse, .misuse_ctx = &r};
    const struct allocator_ops *ops;
    char err[PM_ERR_LEN];
    pm_heap_t *h = pm_backend_create("debug:system", &cfg, &ops, err);
    if (!h)
        fail_msg("debug:system: %s", err);
    misuse(ops, h);
    assert_int_equal(r.calls, 1);

    /* the problem: CPython's fatal error line, our first line */
    const char *fatal = strstr(py, "Fatal Python error: _PyMem_DebugRawFree: ");
    if (!fatal)
        fail_msg("%s: no fatal error line in CPython's output:\n%s", cas, py);
    fatal += strlen("Fatal Python error: _PyMem_DebugRawFree: ");
    size_t flen = strcspn(fatal, "\n"), olen = strcspn(r.detail, "\n");
    if (flen != olen || memcmp(fatal, r.detail, flen))
        fail_msg("%s: problem differs:\n  CPython: %.*s\n  ours:    %.*s", cas, (int)flen, fatal, (int)olen,
                 r.detail);
    /* the dump */
    dump_lines(py, a, sizeof a);
    dump_lines(r.detail, b, sizeof b);
    strip_addresses(a, s1, sizeof s1);
    strip_addresses(b, s2, sizeof s2);
    if (strcmp(s1, s2))
        fail_msg("%s: dump differs\n--- CPython 3.11:\n%s\n--- debug:system:\n%s", cas, s1, s2);
    ops->destroy(h);
}

static void do_overrun(const struct allocator_ops *ops, pm_heap_t *h)
{
    unsigned char *p = ops->malloc(h, 10);
    p[10] = 0x78;
    ops->free(h, p);
    p[10] = 0xfd;
    ops->free(h, p);
}

static void do_underrun(const struct allocator_ops *ops, pm_heap_t *h)
{
    unsigned char *p = ops->malloc(h, 10);
    p[-1] = 0x78;
    ops->free(h, p);
    p[-1] = 0xfd;
    ops->free(h, p);
}

static void do_wrong_api(const struct allocator_ops *ops, pm_heap_t *h)
{
    void *p = ops->malloc_dom(h, 10, PM_DOMAIN_MEM);
    ops->free_dom(h, p, PM_DOMAIN_OBJ);
    ops->free_dom(h, p, PM_DOMAIN_MEM);
}

/* s with CPython's raw non-ASCII bytes as \xNN and the count of "N bytes
 * originally requested" as N. */
static void normalise(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    const char *cnt = strstr(s, " bytes originally requested");
    const char *cnt_start = cnt;
    while (cnt_start && cnt_start > s && cnt_start[-1] >= '0' && cnt_start[-1] <= '9')
        cnt_start--;
    while (*s && o + 8 < cap) {
        if (s == cnt_start && cnt_start != cnt) {
            out[o++] = 'N';
            s = cnt;
            continue;
        }
        unsigned char c = (unsigned char)*s++;
        if (c >= 0x80)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = 0;
}

/* The lines from "Debug memory block" up to (not including) the one that
 * starts "    The 8 pad bytes at tail=" or "    The block is not live". */
static void dump_head(const char *text, char *out, size_t cap)
{
    const char *a = strstr(text, "Debug memory block");
    assert_non_null(a);
    const char *e = strstr(a, "\n    The 8 pad bytes at tail=");
    const char *f = strstr(a, "\n    The block is not live");
    if (!e || (f && f < e))
        e = f;
    assert_non_null(e);
    size_t n = (size_t)(e - a);
    assert_true(n < cap);
    memcpy(out, a, n);
    out[n] = 0;
}

static void test_double_free_as_cpython(void **state)
{
    (void)state;
    if (!have_python())
        skip();
    char dir[] = "/tmp/pm-test-cpy-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static char py[OUT_LEN], a[OUT_LEN], b[OUT_LEN], s1[OUT_LEN], s2[OUT_LEN];
    cpython_output(dir, "doublefree", py, sizeof py);
    char path[128];
    snprintf(path, sizeof path, "%s/misuse.py", dir);
    remove(path);
    rmdir(dir);
    /* what CPython says (see the header): the freed block's dump, its API
     * byte DEADBYTE, its leading pad DEADBYTE */
    if (!strstr(py, "Debug memory block at address p=") || !strstr(py, ": API '\xdd'\n") ||
        !strstr(py, "at p-1: 0xdd *** OUCH"))
        fail_msg("CPython's double-free output is not the one documented:\n%s", py);

    struct rec r = {0};
    struct pm_config cfg = {.on_misuse = record_misuse, .misuse_ctx = &r};
    const struct allocator_ops *ops;
    char err[PM_ERR_LEN];
    pm_heap_t *h = pm_backend_create("debug:pymalloc", &cfg, &ops, err);
    if (!h)
        fail_msg("debug:pymalloc: %s", err);
    void *keep = ops->malloc_dom(h, 10, PM_DOMAIN_MEM);   /* the pool stays in use: a non-NULL link, as in CPython */
    void *p = ops->malloc_dom(h, 10, PM_DOMAIN_MEM);
    void *q = ops->malloc_dom(h, 10, PM_DOMAIN_MEM);
    ops->free_dom(h, q, PM_DOMAIN_MEM);
    ops->free_dom(h, p, PM_DOMAIN_MEM);
    ops->free_dom(h, p, PM_DOMAIN_MEM);
    assert_int_equal(r.calls, 1);
    if (strncmp(r.detail, "block already freed", 19))
        fail_msg("debug:pymalloc's double-free report: %s", r.detail);

    dump_head(py, a, sizeof a);
    dump_head(r.detail, b, sizeof b);
    strip_addresses(a, s1, sizeof s1);
    strip_addresses(b, s2, sizeof s2);
    normalise(s1, a, sizeof a);
    normalise(s2, b, sizeof b);
    if (strcmp(a, b))
        fail_msg("double free: dump differs\n--- CPython 3.11:\n%s\n--- debug:pymalloc:\n%s", a, b);
    if (!strstr(r.detail, "\n    The block is not live (freed): its trailing pad is not read.\n    Data at p:"))
        fail_msg("debug:pymalloc's double-free report reads on past the header:\n%s", r.detail);
    ops->free_dom(h, keep, PM_DOMAIN_MEM);
    ops->destroy(h);
}

static void test_overrun_as_cpython(void **state)
{
    (void)state;
    compare("overrun", do_overrun);
}

static void test_underrun_as_cpython(void **state)
{
    (void)state;
    compare("underrun", do_underrun);
}

static void test_wrong_api_as_cpython(void **state)
{
    (void)state;
    compare("wrongapi", do_wrong_api);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overrun_as_cpython),
        cmocka_unit_test(test_underrun_as_cpython),
        cmocka_unit_test(test_wrong_api_as_cpython),
        cmocka_unit_test(test_double_free_as_cpython),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
