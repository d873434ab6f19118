/* allocators/reflib.h — loading a reference allocator library at run time.
 *
 * Entry point: pm_reflib_load().
 *
 * Why dlopen: libmimalloc, libjemalloc and libtcmalloc export `malloc` and
 * friends. Linked into the executable they would interpose glibc's malloc for
 * the whole process, and the `system` baseline (and every harness-side
 * allocation) would silently become that allocator. Loaded with
 * dlopen(RTLD_NOW | RTLD_LOCAL) their symbols stay out of the global scope:
 * we reach them only through the function pointers dlsym gives us. Their
 * headers are used at build time for the signatures only (__typeof__).
 *
 * The handle and the function pointers are process-global (so is the
 * library); instances (heaps, arenas) stay per backend instance.
 */
#ifndef PM_REFLIB_H
#define PM_REFLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allocator.h"
#include "pm_api.h"

PM_API_BEGIN

/* One symbol to resolve: `slot` points at a function-pointer variable. */
struct pm_refsym {
    const char *name;
    void *slot;                 /* address of a function pointer */
    bool optional;              /* missing is fine: the slot stays NULL */
};

struct pm_reflib {
    const char *soname;         /* e.g. "libmimalloc.so.2" */
    const struct pm_refsym *syms; /* terminated by a {NULL} entry */
    int state;                  /* 0 not tried, 1 loaded, -1 failed */
    void *handle;               /* dlopen handle while loaded (never closed) */
    char why[PM_ERR_LEN];       /* one line, set when state == -1 */
};

/* Loads the library once (later calls return the first result): NULL when
 * every required symbol resolved, else a one-line reason (dlerror text or the
 * missing symbol). Not thread-safe on the first call: the harness creates
 * backends from one thread. */
const char *pm_reflib_load(struct pm_reflib *lib);

/* The start of every reference backend's create(): fails with "NAME: why"
 * when the library is unavailable (why != NULL, from pm_reflib_load), with
 * "backend 'NAME' takes no options" when cfg has any, else returns a zeroed
 * instance record of `size` bytes (free() it), or NULL + "NAME: out of
 * memory". */
void *pm_reflib_instance(const char *name, const char *why, const struct pm_config *cfg,
                         size_t size, char err[PM_ERR_LEN]);

/* The request size a reference backend passes on: n rounded up to a multiple
 * of PM_ALIGNMENT, at least PM_ALIGNMENT. The contract wants 16-byte aligned
 * blocks and unique non-NULL blocks for n == 0; mimalloc (8, 24, 40, 56 B),
 * jemalloc and tcmalloc (8 B) have size classes that are only 8-aligned.
 * Rounding changes which class serves requests under 64 B and nothing else.
 * Returns 0 when n is too large to round (the caller fails with ENOMEM). */
static inline size_t pm_ref_size(size_t n)
{
    if (n > SIZE_MAX - (PM_ALIGNMENT - 1))
        return 0;
    return n ? (n + PM_ALIGNMENT - 1) & ~(size_t)(PM_ALIGNMENT - 1) : PM_ALIGNMENT;
}

PM_API_END
#endif
