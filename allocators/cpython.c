/* allocators/cpython.c — the `cpython` reference backend: the real CPython
 * 3.11 obmalloc (pymalloc) from Debian's libpython3.11.so.1.0, dlopen'ed
 * (reflib.h says why reference libraries are never linked).
 *
 * Entry points: pm_cpython_ops, pm_cpython_debugmallocstats() (cpython.h).
 *
 * Calls PyObject_Malloc/PyObject_Calloc/PyObject_Realloc/PyObject_Free with no
 * interpreter initialisation: on 3.11 obmalloc's state is static and these
 * work from a single thread without Py_Initialize (on 3.12+ they need it).
 * Global by nature (PM_BACKEND_GLOBAL): one obmalloc per process; destroy
 * frees only the instance record. As in CPython, requests of 0 bytes and over
 * 512 bytes go to PyMem_RawMalloc, i.e. to glibc malloc inside libpython.
 * Blocks are 16-aligned (pymalloc's ALIGNMENT on 64-bit, glibc's too), so
 * sizes are passed unchanged.
 *
 * No usable_size (CPython has no public API for it: the ops entry is NULL),
 * no check(), no misuse detection (obmalloc's address_in_range sends foreign
 * pointers to free(); that is CPython's behaviour). trim is a no-op: obmalloc
 * frees an arena when its last pool empties and has nothing else to give.
 * Stats: live_blocks = _Py_GetAllocatedBlocks() (obmalloc blocks plus raw
 * blocks it handed out, process-wide) when exported; the rest NA. The full
 * arena/pool picture is libpython's own report, pm_cpython_debugmallocstats().
 */
#if PM_HAVE_PYTHON311
#include <python3.11/Python.h>  /* first, as Python.h requires; signatures only */
#endif

#include "allocator.h"
#include "cpython.h"
#include "reflib.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if PM_HAVE_PYTHON311

static struct {
    __typeof__(&Py_GetVersion) version;
    __typeof__(&PyObject_Malloc) malloc;
    __typeof__(&PyObject_Calloc) calloc;
    __typeof__(&PyObject_Realloc) realloc;
    __typeof__(&PyObject_Free) free;
    /* Internal API (Include/internal/pycore_pymem.h, exported): optional. */
    Py_ssize_t (*allocated_blocks)(void);
    int (*debug_malloc_stats)(FILE *out);
} py;

static const struct pm_refsym py_syms[] = {
    {"Py_GetVersion", &py.version, false},
    {"PyObject_Malloc", &py.malloc, false},
    {"PyObject_Calloc", &py.calloc, false},
    {"PyObject_Realloc", &py.realloc, false},
    {"PyObject_Free", &py.free, false},
    {"_Py_GetAllocatedBlocks", &py.allocated_blocks, true},
    {"_PyObject_DebugMallocStats", &py.debug_malloc_stats, true},
    {NULL, NULL, false},
};

static struct pm_reflib py_lib = {.soname = "libpython3.11.so.1.0", .syms = py_syms};

/* Rewritten with the run-time version once the library is loaded. */
static char py_description[160] =
    "CPython 3.11 obmalloc (Debian libpython3.11.so.1.0), no interpreter; 0 B and > 512 B go to glibc";

struct pm_heap {
    int unused;                 /* the heap is libpython's; nothing per instance */
};

static const char *py_unavailable(void)
{
    static bool described;
    const char *why = pm_reflib_load(&py_lib);
    if (!why && !described) {
        described = true;
        const char *v = py.version();   /* "3.11.2 (main, ...) [GCC ...]" */
        snprintf(py_description, sizeof py_description,
                 "CPython %.*s obmalloc (Debian libpython3.11.so.1.0), no interpreter; "
                 "0 B and > 512 B go to glibc",
                 v ? (int)strcspn(v, " ") : 4, v ? v : "3.11");
    }
    return why;
}

static pm_heap_t *py_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    pm_heap_t *h = pm_reflib_instance("cpython", py_unavailable(), cfg, sizeof *h, err);
    return h;
}

static void py_destroy(pm_heap_t *h) { free(h); }

static void *py_malloc_(pm_heap_t *h, size_t n)
{
    (void)h;
    void *p = py.malloc(n);
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *py_calloc_(pm_heap_t *h, size_t k, size_t n)
{
    (void)h;
    void *p = (n && k > SIZE_MAX / n) ? NULL : py.calloc(k, n);
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *py_realloc_(pm_heap_t *h, void *p, size_t n)
{
    (void)h;
    void *q = py.realloc(p, n);
    if (!q)
        errno = ENOMEM;
    return q;
}

static void py_free_(pm_heap_t *h, void *p)
{
    (void)h;
    py.free(p);
}

static void py_stats(pm_heap_t *h, struct pm_stats *out)
{
    (void)h;
    *out = (struct pm_stats){
        .mapped_bytes = PM_STAT_NA,
        .peak_mapped_bytes = PM_STAT_NA,
        .used_bytes = PM_STAT_NA,
        .meta_bytes = PM_STAT_NA,
        .live_blocks = py.allocated_blocks ? (uint64_t)py.allocated_blocks() : PM_STAT_NA,
        .nmalloc = PM_STAT_NA,
        .nfree = PM_STAT_NA,
        .arenas = PM_STAT_NA,
        .pools = PM_STAT_NA,
        .large_blocks = PM_STAT_NA,
        .misuse = 0,
    };
}

static void py_trim(pm_heap_t *h) { (void)h; }

bool pm_cpython_debugmallocstats(FILE *f)
{
    if (py_unavailable() || !py.debug_malloc_stats)
        return false;
    return py.debug_malloc_stats(f) != 0;
}

#define PY_DESCRIPTION py_description
#define PY_OP(f) f

#else /* !PM_HAVE_PYTHON311 */

static const char *py_unavailable(void) { return "built without python3.11 headers"; }

bool pm_cpython_debugmallocstats(FILE *f)
{
    (void)f;
    return false;
}

#define PY_DESCRIPTION "CPython 3.11 obmalloc (libpython3.11), no interpreter"
#define PY_OP(f) NULL

#endif

const struct allocator_ops pm_cpython_ops = {
    .name = "cpython",
    .description = PY_DESCRIPTION,
    .flags = PM_BACKEND_GLOBAL | PM_BACKEND_REFERENCE,
    .unavailable = py_unavailable,
    .create = PY_OP(py_create),
    .destroy = PY_OP(py_destroy),
    .malloc = PY_OP(py_malloc_),
    .calloc = PY_OP(py_calloc_),
    .realloc = PY_OP(py_realloc_),
    .free = PY_OP(py_free_),
    .usable_size = NULL,
    .stats = PY_OP(py_stats),
    .check = NULL,
    .trim = PY_OP(py_trim),
};
