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
 * then PyObject_Free). Not compared: a double free, where the two differ by
 * design: CPython's freed block is all DEADBYTE, so its second free reads a
 * damaged header ("bad ID: Allocated using API '\xdd'" and a bogus size);
 * the wrapper knows its live blocks and says "block already freed"
 * (allocators/debug.c, DOUBLE FREE).
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
    "    api.PyObject_Free(p)\n";

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
