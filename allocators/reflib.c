/* allocators/reflib.c — dlopen a reference allocator library with
 * RTLD_LOCAL and resolve its symbols into function pointers. See reflib.h
 * for why the libraries are never linked. Never prints. */
#include "reflib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if PM_ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* dlsym returns an object pointer; we store it into a function pointer. POSIX
 * guarantees the conversion works; the sizes must agree for the memcpy. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function and object pointers differ in size");

/* Copies the first line of `msg` into `out`. */
static void why_set(char out[PM_ERR_LEN], const char *msg)
{
    snprintf(out, PM_ERR_LEN, "%.*s", (int)strcspn(msg, "\n"), msg);
}

const char *pm_reflib_load(struct pm_reflib *lib)
{
    if (lib->state)
        return lib->state > 0 ? NULL : lib->why;
    int saved = errno;
    lib->state = -1;
    dlerror();
#if PM_ASAN
    /* What a library allocates through ASan's malloc while loading is its
     * process-lifetime state (tcmalloc keeps the pointer in its own memory,
     * which LeakSanitizer does not scan): not a leak of ours. */
    __lsan_disable();
#endif
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
#if PM_ASAN
    __lsan_enable();
#endif
    if (!h) {
        const char *e = dlerror();
        why_set(lib->why, e ? e : "dlopen failed");
        errno = saved;
        return lib->why;
    }
    for (const struct pm_refsym *s = lib->syms; s->name; s++) {
        void *f = dlsym(h, s->name);
        if (!f && !s->optional) {
            char msg[PM_ERR_LEN];
            snprintf(msg, sizeof msg, "%s has no symbol %s", lib->soname, s->name);
            why_set(lib->why, msg);
            dlclose(h);
            errno = saved;
            return lib->why;
        }
        memcpy(s->slot, &f, sizeof f);
    }
    lib->handle = h;
    lib->state = 1;
    errno = saved;
    return NULL;
}

void *pm_reflib_instance(const char *name, const char *why, const struct pm_config *cfg,
                         size_t size, char err[PM_ERR_LEN])
{
    if (why) {
        snprintf(err, PM_ERR_LEN, "%s: %s", name, why);
        return NULL;
    }
    if (cfg->options && *cfg->options) {
        snprintf(err, PM_ERR_LEN, "backend '%s' takes no options ('%s')", name, cfg->options);
        return NULL;
    }
    void *h = calloc(1, size);
    if (!h)
        snprintf(err, PM_ERR_LEN, "%s: out of memory", name);
    return h;
}
