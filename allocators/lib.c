/* allocators/lib.c — the `lib` backend: any shared library with the C
 * malloc API, named on the command line: "lib:PATH[,name=NAME]".
 *
 * Entry points: pm_lib_ops (found by registry.c's pm_backend_find, not in
 * the pm_backends table: it has no instance without a PATH, so listings and
 * the tests that walk every backend leave it out), pm_lib_spec_parse().
 *
 * PATH is a file (it holds a '/': made absolute with realpath, so a run's
 * children and its provenance name the same file) or a bare soname the
 * dynamic loader searches for (`lib:libmimalloc.so.2,name=mi-global`). No
 * ',' in PATH: the comma starts the options.
 *
 * Loading: dlopen(RTLD_NOW | RTLD_LOCAL), as reflib.c loads the reference
 * libraries, and for the same reason: a library that exports `malloc`,
 * loaded into the global scope, would interpose the harness's own malloc
 * (and the `system` baseline) for every library loaded after it. With
 * RTLD_LOCAL the executable and libc, already bound to glibc's malloc, keep
 * it, and nothing loaded later binds to the library's symbols; we reach
 * them only through dlsym. dlmopen (a separate link-map namespace) is not
 * needed for that, and would cost more than it gives: the library would get
 * its own copy of libc (a second brk heap, a second set of stdio and TLS
 * state in the one process) and glibc allows only 16 namespaces.
 * tests/test_lib.c checks that after loading and using tests/libbump.so the
 * harness's malloc still is glibc's (the library's own counters do not
 * move, and the block is outside its region).
 *
 * dlsym on a handle searches the library and then its dependencies, libc
 * among them: a library without `realloc` would silently get glibc's. Every
 * symbol is therefore checked to be defined by the library itself
 * (dladdr1's link map is the handle's); the required ones are malloc, free
 * and realloc, the optional calloc (else malloc + memset),
 * malloc_usable_size (else usable_size answers 0: unknown) and malloc_trim
 * (trim; else a no-op).
 *
 * Global by nature (PM_BACKEND_GLOBAL): the library has one process-wide
 * heap; destroy frees the instance record only. Requests are rounded as for
 * the reference backends (pm_ref_size: a multiple of 16, at least 16) so
 * that the contract's alignment and unique non-NULL zero-size blocks hold
 * for any library; free(NULL) never reaches the library. Stats: the library
 * has no standard way to tell, so every field is PM_STAT_NA (the harness's
 * footprint is the process's anonymous RSS, which needs nothing from it).
 * No check(), no misuse detection.
 *
 * NAME (letters, digits, '.', '_', '-'; at most 48) is what results, tables
 * and plots show; without name= it is PATH's file name without a leading
 * "lib" and from ".so" on (libbump.so -> bump), prefixed "lib-" when that is
 * a built-in backend's name (libmimalloc.so.2 -> lib-mimalloc). An explicit
 * name= that is a built-in's is refused. Never prints.
 */
#include "allocator.h"
#include "reflib.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if PM_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#define LIB_MAX 8               /* distinct libraries per process (namespaces: glibc has 16) */
#define LIB_NAME_MAX 48

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef size_t (*usable_fn)(void *);
typedef int (*trim_fn)(size_t);

struct lib {
    char path[PATH_MAX];        /* as dlopen'ed: absolute file, or a soname */
    void *handle;
    malloc_fn malloc;
    free_fn free;
    realloc_fn realloc;
    calloc_fn calloc;           /* NULL: malloc + memset */
    usable_fn usable;           /* NULL: unknown */
    trim_fn trim;               /* NULL: nothing to do */
};

static struct lib libs[LIB_MAX];
static size_t nlibs;

struct pm_heap {
    struct lib *lib;
};

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

static bool builtin_name(const char *name)
{
    for (const struct allocator_ops *const *b = pm_backends; *b; b++)
        if (!strcmp((*b)->name, name))
            return true;
    return !strcmp(name, "lib");
}

int pm_lib_spec_parse(const char *opts, char path[PATH_MAX], char name[64], char err[PM_ERR_LEN])
{
    if (!opts || !*opts || *opts == ',') {
        snprintf(err, PM_ERR_LEN, "backend 'lib' needs a library: write lib:PATH[,name=NAME]");
        return -1;
    }
    size_t plen = strcspn(opts, ",");
    if (plen >= PATH_MAX) {
        snprintf(err, PM_ERR_LEN, "lib: the library path is too long");
        return -1;
    }
    memcpy(path, opts, plen);
    path[plen] = 0;
    name[0] = 0;
    struct pm_opt_iter it = {opts + plen};
    const char *k, *v;
    size_t kl, vl;
    int r;
    while ((r = pm_opt_next(&it, &k, &kl, &v, &vl, err)) > 0) {
        if (!pm_opt_key_is(k, kl, "name")) {
            snprintf(err, PM_ERR_LEN, "lib: unknown option '%.*s' (lib:PATH[,name=NAME])", (int)kl, k);
            return -1;
        }
        bool ok = vl <= LIB_NAME_MAX;
        for (size_t i = 0; i < vl && ok; i++)
            ok = name_char(v[i]);
        if (!ok) {
            snprintf(err, PM_ERR_LEN, "lib: bad name '%.*s' (letters, digits, '.', '_', '-'; at most %d)",
                     (int)vl, v, LIB_NAME_MAX);
            return -1;
        }
        snprintf(name, 64, "%.*s", (int)vl, v);
        if (builtin_name(name)) {
            snprintf(err, PM_ERR_LEN, "lib: name '%s' is a built-in backend's: choose another", name);
            return -1;
        }
    }
    if (r < 0)
        return -1;
    if (!name[0]) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (!strncmp(base, "lib", 3) && base[3] && base[3] != '.')
            base += 3;
        size_t n = strcspn(base, ".");
        size_t w = 0;
        for (size_t i = 0; i < n && w < LIB_NAME_MAX - 4; i++)
            name[w++] = name_char(base[i]) ? base[i] : '_';
        name[w] = 0;
        if (!w)
            snprintf(name, 64, "lib");
        if (builtin_name(name)) {
            char tmp[64];
            snprintf(tmp, sizeof tmp, "%s", name);
            snprintf(name, 64, "lib-%.44s", tmp);
        }
    }
    return 0;
}

/* dlsym(h, sym), only if `sym` is defined by the library of `h` itself. */
static void *own_symbol(void *h, const struct link_map *lm, const char *sym)
{
    void *f = dlsym(h, sym);
    if (!f)
        return NULL;
    Dl_info info;
    struct link_map *at = NULL;
    if (!dladdr1(f, &info, (void **)&at, RTLD_DL_LINKMAP) || at != lm)
        return NULL;
    return f;
}

/* The library `path` names, loaded once. NULL with err. */
static struct lib *lib_load(const char *path, char err[PM_ERR_LEN])
{
    char key[PATH_MAX];
    if (strchr(path, '/')) {
        if (!realpath(path, key)) {
            snprintf(err, PM_ERR_LEN, "lib: %.160s: %s", path, strerror(errno));
            return NULL;
        }
    } else {
        snprintf(key, sizeof key, "%s", path);
    }
    for (size_t i = 0; i < nlibs; i++)
        if (!strcmp(libs[i].path, key))
            return &libs[i];
    if (nlibs == LIB_MAX) {
        snprintf(err, PM_ERR_LEN, "lib: more than %d libraries in one process", LIB_MAX);
        return NULL;
    }
    dlerror();
#if PM_ASAN
    __lsan_disable();           /* a library's load-time state is not our leak (reflib.c) */
#endif
    void *h = dlmopen(LM_ID_NEWLM, key, RTLD_NOW | RTLD_LOCAL);
#if PM_ASAN
    __lsan_enable();
#endif
    if (!h) {
        const char *e = dlerror();
        snprintf(err, PM_ERR_LEN, "lib: cannot load %.100s: %.*s", path, (int)strcspn(e ? e : "?", "\n"),
                 e ? e : "?");
        return NULL;
    }
    struct link_map *lm = NULL;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) || !lm) {
        snprintf(err, PM_ERR_LEN, "lib: %.200s: no link map", path);
        dlclose(h);
        return NULL;
    }
    struct lib *l = &libs[nlibs];
    memset(l, 0, sizeof *l);
    static const char *const required[] = {"malloc", "free", "realloc"};
    void *f[3];
    for (int i = 0; i < 3; i++) {
        f[i] = own_symbol(h, lm, required[i]);
        if (!f[i]) {
            snprintf(err, PM_ERR_LEN, "lib: %.160s does not define %s (needs malloc, free and realloc)",
                     path, required[i]);
            dlclose(h);
            return NULL;
        }
    }
    memcpy(&l->malloc, &f[0], sizeof f[0]);
    memcpy(&l->free, &f[1], sizeof f[1]);
    memcpy(&l->realloc, &f[2], sizeof f[2]);
    void *o = own_symbol(h, lm, "calloc");
    memcpy(&l->calloc, &o, sizeof o);
    o = own_symbol(h, lm, "malloc_usable_size");
    memcpy(&l->usable, &o, sizeof o);
    o = own_symbol(h, lm, "malloc_trim");
    memcpy(&l->trim, &o, sizeof o);
    snprintf(l->path, sizeof l->path, "%s", key);
    l->handle = h;
    nlibs++;
    return l;
}

static pm_heap_t *lib_create(const struct pm_config *cfg, char err[PM_ERR_LEN])
{
    char path[PATH_MAX], name[64];
    if (pm_lib_spec_parse(cfg->options, path, name, err))
        return NULL;
    int saved = errno;
    struct lib *l = lib_load(path, err);
    errno = saved;
    if (!l)
        return NULL;
    pm_heap_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, PM_ERR_LEN, "lib: out of memory");
        return NULL;
    }
    h->lib = l;
    return h;
}

static void lib_destroy(pm_heap_t *h) { free(h); }

void *pm_lib_symbol(pm_heap_t *h, const char *sym)
{
    return dlsym(h->lib->handle, sym);
}

static void *lib_malloc(pm_heap_t *h, size_t n)
{
    size_t sz = pm_ref_size(n);
    void *p = sz ? h->lib->malloc(sz) : NULL;
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *lib_calloc(pm_heap_t *h, size_t k, size_t n)
{
    size_t sz = (n && k > SIZE_MAX / n) ? 0 : pm_ref_size(k * n);
    void *p = NULL;
    if (sz && h->lib->calloc) {
        p = h->lib->calloc(1, sz);
    } else if (sz) {
        p = h->lib->malloc(sz);
        if (p)
            memset(p, 0, sz);
    }
    if (!p)
        errno = ENOMEM;
    return p;
}

static void *lib_realloc(pm_heap_t *h, void *p, size_t n)
{
    size_t sz = pm_ref_size(n);
    void *q = sz ? h->lib->realloc(p, sz) : NULL;
    if (!q)
        errno = ENOMEM;
    return q;
}

static void lib_free(pm_heap_t *h, void *p)
{
    if (p)
        h->lib->free(p);
}

static size_t lib_usable(pm_heap_t *h, void *p)
{
    return h->lib->usable && p ? h->lib->usable(p) : 0;
}

static void lib_stats(pm_heap_t *h, struct pm_stats *out)
{
    (void)h;
    *out = (struct pm_stats){
        .mapped_bytes = PM_STAT_NA,
        .peak_mapped_bytes = PM_STAT_NA,
        .used_bytes = PM_STAT_NA,
        .meta_bytes = PM_STAT_NA,
        .live_blocks = PM_STAT_NA,
        .nmalloc = PM_STAT_NA,
        .nfree = PM_STAT_NA,
        .arenas = PM_STAT_NA,
        .pools = PM_STAT_NA,
        .large_blocks = PM_STAT_NA,
        .misuse = 0,
    };
}

static void lib_trim(pm_heap_t *h)
{
    if (h->lib->trim) {
        int saved = errno;
        h->lib->trim(0);
        errno = saved;
    }
}

const struct allocator_ops pm_lib_ops = {
    .name = "lib",
    .description = "any shared library with the malloc API: lib:PATH[,name=NAME] (process-wide heap)",
    .flags = PM_BACKEND_GLOBAL | PM_BACKEND_REFERENCE,
    .create = lib_create,
    .destroy = lib_destroy,
    .malloc = lib_malloc,
    .calloc = lib_calloc,
    .realloc = lib_realloc,
    .free = lib_free,
    .usable_size = lib_usable,
    .stats = lib_stats,
    .check = NULL,
    .trim = lib_trim,
};
