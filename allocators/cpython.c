/* allocators/cpython.c — the `cpython` reference backend: the real obmalloc
 * (pymalloc) of an installed CPython, dlopen'ed from its libpython
 * (reflib.h says why reference libraries are never linked).
 *
 * Entry points: pm_cpython_ops, pm_cpython_debugmallocstats(),
 * pm_cpython_version_count() / pm_cpython_version_status() (cpython.h).
 * Option: version=3.8|3.9|3.10|3.11|3.12|3.13 (default 3.11).
 *
 * Finding the library, for version V (first hit wins):
 *   1. $PM_LIBPYTHON_3_12 (V with '_' for '.'): that file, and nothing else
 *      if it is set (a bad path makes V unavailable, saying so);
 *   2. the dynamic linker's search path, soname libpython3.12.so.1.0
 *      (Debian's /usr/lib/<multiarch>);
 *   3. pyenv: $PYENV_ROOT (default ~/.pyenv)/versions/3.12.N/lib/, the
 *      highest patch release.
 * Each version is its own RTLD_LOCAL handle, so several can be loaded in
 * one process side by side (each binds its own symbols).
 *
 * Up to 3.11 obmalloc's state is static: PyObject_Malloc & co. work from a
 * single thread without Py_Initialize. From 3.12 the state lives in the
 * interpreter (PyInterpreterState.obmalloc, reached through the current
 * thread state), and PyObject_Malloc without one dereferences NULL. The
 * smallest setup that works with the public API alone, from any 3.12+
 * libpython without its headers, is an initialised main interpreter:
 * Py_SetPythonHome(home) with home = the library path up to its last
 * "/lib/" (its stdlib must be at home/lib/pythonV, checked first, since a
 * failed initialisation is a fatal error in CPython), Py_NoSiteFlag and
 * Py_IgnoreEnvironmentFlag set, Py_InitializeEx(0) (no signal handlers).
 * It runs once per process, at the first create() of that version, and
 * costs (measured, docs/cpython-versions.md) 30-65 ms and the interpreter's
 * own live blocks (about 0.65 MB on 3.12, 1 MB on 3.13, in 2 arenas); the
 * calling thread keeps the GIL. A core-only initialisation (PyConfig with
 * _init_main = 0) would halve that but needs each version's PyConfig
 * layout, i.e. its headers at build time.
 *
 * Global by nature (PM_BACKEND_GLOBAL): one obmalloc per library per
 * process; destroy frees only the instance record. As in CPython, requests
 * of 0 bytes and over 512 bytes go to PyMem_RawMalloc, i.e. to glibc malloc
 * inside libpython. Blocks are 16-aligned (pymalloc's ALIGNMENT on 64-bit,
 * glibc's too), so sizes are passed unchanged.
 *
 * No usable_size (CPython has no public API for it: the ops entry is NULL),
 * no check(), no misuse detection (obmalloc's ownership test sends foreign
 * pointers to free(); that is CPython's behaviour). trim is a no-op: obmalloc
 * frees an arena when its last pool empties and has nothing else to give.
 * Stats: live_blocks = _Py_GetAllocatedBlocks() (obmalloc blocks plus raw
 * blocks it handed out, process-wide) where exported (up to 3.11); the rest
 * NA. The full arena/pool picture is libpython's own report,
 * pm_cpython_debugmallocstats().
 */
#include "allocator.h"
#include "cpython.h"
#include "reflib.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <wchar.h>

#if PM_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#define PY_DEFAULT_VERSION "3.11"

/* One supported version and, once looked up, its library. */
struct pyver {
    const char *name;            /* "3.12" */
    bool needs_interpreter;      /* 3.12+: obmalloc state lives in the interpreter */
    /* resolved at load */
    struct pm_reflib lib;
    struct pm_refsym syms[12];
    char path[PATH_MAX];         /* file given to dlopen (soname when found by the linker) */
    char soname[32];             /* "libpython3.12.so.1.0" */
    char why[PM_ERR_LEN];        /* unavailable: why (set when looked == -1) */
    int looked;                  /* 0 not yet, 1 loaded, -1 unavailable */
    int initialised;             /* 3.12+: 0 not yet, 1 done, -1 failed (why) */
    double init_ms;              /* wall time of the interpreter's initialisation */
    char description[200];
    /* the library's functions */
    const char *(*version)(void);
    void *(*malloc)(size_t);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    void (*free)(void *);
    ptrdiff_t (*allocated_blocks)(void);      /* optional (<= 3.11) */
    int (*debug_malloc_stats)(FILE *);        /* optional */
    void (*set_home)(const wchar_t *);        /* 3.12+ setup */
    void (*initialize_ex)(int);
    int *no_site_flag;                        /* data symbols */
    int *ignore_env_flag;
};

static struct pyver versions[] = {
    {.name = "3.8"},  {.name = "3.9"},  {.name = "3.10"},
    {.name = "3.11"}, {.name = "3.12", .needs_interpreter = true},
    {.name = "3.13", .needs_interpreter = true},
};
#define NVERSIONS (sizeof versions / sizeof versions[0])

struct pm_heap {
    struct pyver *v;             /* the library this instance calls */
};

static void why_set(struct pyver *v, const char *fmt, const char *a, const char *b)
{
    snprintf(v->why, sizeof v->why, fmt, a, b);
    v->looked = -1;
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The highest pyenv install of version v with a shared libpython, or "". */
static void pyenv_find(const struct pyver *v, char out[PATH_MAX])
{
    out[0] = 0;
    char root[PATH_MAX];
    const char *env = getenv("PYENV_ROOT"), *home = getenv("HOME");
    if (env && *env)
        snprintf(root, sizeof root, "%s/versions", env);
    else if (home && *home)
        snprintf(root, sizeof root, "%s/.pyenv/versions", home);
    else
        return;
    DIR *d = opendir(root);
    if (!d)
        return;
    size_t vl = strlen(v->name);
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        /* "3.12.1": exactly V, a dot, a patch number (no "3.12.1t", "3.12-dev") */
        if (strncmp(e->d_name, v->name, vl) || e->d_name[vl] != '.')
            continue;
        char *end;
        long patch = strtol(e->d_name + vl + 1, &end, 10);
        if (end == e->d_name + vl + 1 || *end || patch <= best)
            continue;
        char cand[PATH_MAX];
        if (snprintf(cand, sizeof cand, "%s/%s/lib/%s", root, e->d_name, v->soname) >= (int)sizeof cand
            || !file_exists(cand))
            continue;
        best = patch;
        memcpy(out, cand, sizeof cand);
    }
    closedir(d);
}

/* Finds and loads version v's libpython once. NULL if loaded, else why not. */
static const char *pyver_load(struct pyver *v)
{
    if (v->looked)
        return v->looked > 0 ? NULL : v->why;
    int saved = errno;
    snprintf(v->soname, sizeof v->soname, "libpython%s.so.1.0", v->name);
    char env[32];
    snprintf(env, sizeof env, "PM_LIBPYTHON_%s", v->name);
    for (char *c = env; *c; c++)
        if (*c == '.')
            *c = '_';
    const char *given = getenv(env);
    if (given && *given) {
        if (!file_exists(given)) {
            why_set(v, "%s=%s: no such file", env, given);
            errno = saved;
            return v->why;
        }
        snprintf(v->path, sizeof v->path, "%s", given);
    } else {
        /* the dynamic linker's path first (Debian), then pyenv */
        void *probe = dlopen(v->soname, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
        if (!probe)
            probe = dlopen(v->soname, RTLD_LAZY | RTLD_LOCAL);
        if (probe) {
            snprintf(v->path, sizeof v->path, "%s", v->soname);
            dlclose(probe);      /* reflib opens it again and keeps it */
        } else {
            pyenv_find(v, v->path);
            if (!v->path[0]) {
                why_set(v, "%s not found (linker path, pyenv; set %s)", v->soname, env);
                errno = saved;
                return v->why;
            }
        }
    }
    struct pm_refsym syms[] = {
        {"Py_GetVersion", &v->version, false},
        {"PyObject_Malloc", &v->malloc, false},
        {"PyObject_Calloc", &v->calloc, false},
        {"PyObject_Realloc", &v->realloc, false},
        {"PyObject_Free", &v->free, false},
        {"_Py_GetAllocatedBlocks", &v->allocated_blocks, true},
        {"_PyObject_DebugMallocStats", &v->debug_malloc_stats, true},
        {"Py_SetPythonHome", &v->set_home, !v->needs_interpreter},
        {"Py_InitializeEx", &v->initialize_ex, !v->needs_interpreter},
        {"Py_NoSiteFlag", &v->no_site_flag, !v->needs_interpreter},
        {"Py_IgnoreEnvironmentFlag", &v->ignore_env_flag, !v->needs_interpreter},
        {NULL, NULL, false},
    };
    _Static_assert(sizeof syms <= sizeof v->syms, "symbol table fits");
    memcpy(v->syms, syms, sizeof syms);
    v->lib.soname = v->path;
    v->lib.syms = v->syms;
    const char *why = pm_reflib_load(&v->lib);
    if (why) {
        why_set(v, "%s", why, "");
        errno = saved;
        return v->why;
    }
    const char *full = v->version();     /* "3.12.1 (main, ...) [GCC ...]" */
    size_t fl = strcspn(full, " ");
    if (strncmp(full, v->name, strlen(v->name)) || (full[strlen(v->name)] != '.' &&
                                                    full[strlen(v->name)] != ' ')) {
        char got[32];
        snprintf(got, sizeof got, "%.*s", (int)(fl < 20 ? fl : 20), full);
        why_set(v, "%.180s is CPython %.20s", v->path, got);
        errno = saved;
        return v->why;
    }
    Dl_info info;                        /* the file the linker found, for the record */
    const char *file = dladdr((void *)v->malloc, &info) && info.dli_fname ? info.dli_fname : v->path;
    snprintf(v->description, sizeof v->description, "CPython %.*s obmalloc (%.120s)%s", (int)fl, full,
             file, v->needs_interpreter ? ", interpreter initialised at first use"
                                           : ", no interpreter");
    v->looked = 1;
    errno = saved;
    return NULL;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* 3.12+: initialises the main interpreter once (see the file comment).
 * NULL when obmalloc is usable, else why not. */
static const char *pyver_ready(struct pyver *v)
{
    if (!v->needs_interpreter || v->initialised > 0)
        return NULL;
    if (v->initialised < 0)
        return v->why;
    char real[PATH_MAX], home[PATH_MAX], probe[PATH_MAX + 64];
    Dl_info info;
    if (!dladdr((void *)v->malloc, &info) || !info.dli_fname || !realpath(info.dli_fname, real))
        snprintf(real, sizeof real, "%s", v->path);
    char *cut = NULL;
    for (char *s = strstr(real, "/lib/"); s; s = strstr(s + 1, "/lib/"))
        cut = s;
    if (!cut) {
        snprintf(v->why, sizeof v->why, "cannot tell the prefix of %.180s (no /lib/ in its path)", real);
        v->initialised = -1;
        return v->why;
    }
    snprintf(home, sizeof home, "%.*s", (int)(cut - real), real);
    snprintf(probe, sizeof probe, "%s/lib/python%s/encodings/__init__.py", home, v->name);
    if (!file_exists(probe)) {
        snprintf(v->why, sizeof v->why, "no standard library at %.150s/lib/python%s (needed to "
                 "initialise the interpreter)", home, v->name);
        v->initialised = -1;
        return v->why;
    }
    static wchar_t whome[PATH_MAX];      /* CPython keeps the pointer */
    if (mbstowcs(whome, home, PATH_MAX) == (size_t)-1) {
        snprintf(v->why, sizeof v->why, "prefix %.180s is not valid in this locale", home);
        v->initialised = -1;
        return v->why;
    }
    int saved = errno;
    double t0 = now_ms();
    v->set_home(whome);
    *v->no_site_flag = 1;
    *v->ignore_env_flag = 1;
#if PM_ASAN
    /* The interpreter's state is process-lifetime, partly reachable only
     * through obmalloc's arenas, which LeakSanitizer does not scan. */
    __lsan_disable();
#endif
    v->initialize_ex(0);
#if PM_ASAN
    __lsan_enable();
#endif
    v->init_ms = now_ms() - t0;
    v->initialised = 1;
    errno = saved;
    return NULL;
}

static struct pyver *pyver_named(const char *name, size_t len)
{
    for (size_t i = 0; i < NVERSIONS; i++)
        if (strlen(versions[i].name) == len && !memcmp(versions[i].name, name, len))
            return &versions[i];
    return NULL;
}

/* Rewritten with the default version's run-time version once loaded. */
static char py_description[240] =
    "CPython's real obmalloc from its libpython; version=3.8|3.9|3.10|3.11|3.12|3.13 "
    "(default 3.11); 0 B and > 512 B go to glibc";

static const char *py_unavailable(void)
{
    struct pyver *v = pyver_named(PY_DEFAULT_VERSION, strlen(PY_DEFAULT_VERSION));
    const char *why = pyver_load(v);
    static bool described;
    if (!why && !described) {
        described = true;
        const char *full = v->version();
        snprintf(py_description, sizeof py_description,
                 "CPython %.*s obmalloc by default; version=3.8 .. 3.13 (listed below); "
                 "0 B and > 512 B go to glibc", (int)strcspn(full, " "), full);
    }
    return why;
}

static pm_heap_t *py_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    struct pyver *v = pyver_named(PY_DEFAULT_VERSION, strlen(PY_DEFAULT_VERSION));
    struct pm_opt_iter it = {cfg->options};
    const char *k, *val;
    size_t kl, vl;
    int r;
    while ((r = pm_opt_next(&it, &k, &kl, &val, &vl, err)) > 0) {
        if (!pm_opt_key_is(k, kl, "version")) {
            snprintf(err, PM_ERR_LEN, "cpython: unknown option '%.*s' (known: version)", (int)kl, k);
            return NULL;
        }
        v = pyver_named(val, vl);
        if (!v) {
            snprintf(err, PM_ERR_LEN,
                     "cpython: unknown version '%.*s' (known: 3.8, 3.9, 3.10, 3.11, 3.12, 3.13)",
                     (int)vl, val);
            return NULL;
        }
    }
    if (r < 0) {
        char inner[PM_ERR_LEN];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, PM_ERR_LEN, "cpython: %.200s", inner);
        return NULL;
    }
    const char *why = pyver_load(v);
    if (!why)
        why = pyver_ready(v);
    if (why) {
        snprintf(err, PM_ERR_LEN, "cpython,version=%s: unavailable: %.200s", v->name, why);
        return NULL;
    }
    pm_heap_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, PM_ERR_LEN, "cpython: out of memory");
        return NULL;
    }
    h->v = v;
    return h;
}

static void py_destroy(pm_heap_t *h) { free(h); }

static void *py_malloc_(pm_heap_t *h, size_t n)
{
    void *p = h->v->malloc(n);
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *py_calloc_(pm_heap_t *h, size_t k, size_t n)
{
    size_t total;
    if (!pm_calloc_bytes(k, n, &total))
        return NULL;
    void *p = h->v->calloc(k, n);
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *py_realloc_(pm_heap_t *h, void *p, size_t n)
{
    void *q = h->v->realloc(p, n);
    if (!q)
        errno = ENOMEM;
    return q;
}

static void py_free_(pm_heap_t *h, void *p) { h->v->free(p); }

static void py_stats(pm_heap_t *h, struct pm_stats *out)
{
    *out = (struct pm_stats){
        .mapped_bytes = PM_STAT_NA,
        .peak_mapped_bytes = PM_STAT_NA,
        .used_bytes = PM_STAT_NA,
        .meta_bytes = PM_STAT_NA,
        .live_blocks = h->v->allocated_blocks ? (uint64_t)h->v->allocated_blocks() : PM_STAT_NA,
        .nmalloc = PM_STAT_NA,
        .nfree = PM_STAT_NA,
        .arenas = PM_STAT_NA,
        .pools = PM_STAT_NA,
        .large_blocks = PM_STAT_NA,
        .misuse = 0,
    };
}

static void py_trim(pm_heap_t *h) { (void)h; }

bool pm_cpython_debugmallocstats_version(const char *version, FILE *f)
{
    struct pyver *v = pyver_named(version, strlen(version));
    if (!v || pyver_load(v) || pyver_ready(v) || !v->debug_malloc_stats)
        return false;
    return v->debug_malloc_stats(f) != 0;
}

bool pm_cpython_debugmallocstats(FILE *f)
{
    return pm_cpython_debugmallocstats_version(PY_DEFAULT_VERSION, f);
}

size_t pm_cpython_version_count(void) { return NVERSIONS; }

const char *pm_cpython_version_status(size_t i, const char **name, const char **description)
{
    struct pyver *v = &versions[i];
    const char *why = pyver_load(v);
    *name = v->name;
    *description = why ? "" : v->description;
    return why;
}

double pm_cpython_init_ms(const char *version)
{
    struct pyver *v = pyver_named(version, strlen(version));
    return v && v->initialised > 0 ? v->init_ms : 0.0;
}

const struct allocator_ops pm_cpython_ops = {
    .name = "cpython",
    .description = py_description,
    .flags = PM_BACKEND_GLOBAL | PM_BACKEND_REFERENCE,
    .unavailable = py_unavailable,
    .create = py_create,
    .destroy = py_destroy,
    .malloc = py_malloc_,
    .calloc = py_calloc_,
    .realloc = py_realloc_,
    .free = py_free_,
    .usable_size = NULL,
    .stats = py_stats,
    .check = NULL,
    .trim = py_trim,
};
