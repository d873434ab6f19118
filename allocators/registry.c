/* allocators/registry.c — the one table of backends, selected by name at run
 * time. Adding a backend: one extern line and one table entry here.
 *
 * Spec syntax: "NAME[,key=value...]", e.g. "pymalloc,preset=py38".
 * Wrappers take the inner spec after a colon: "debug:pymalloc,preset=py38";
 * the wrapper's create() receives the inner spec as cfg->options.
 */
#include "allocator.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

extern const struct allocator_ops pm_pymalloc_ops;
extern const struct allocator_ops pm_null_ops;
extern const struct allocator_ops pm_test_null_ops;
extern const struct allocator_ops pm_system_ops;
extern const struct allocator_ops pm_mimalloc_ops;
extern const struct allocator_ops pm_jemalloc_ops;
extern const struct allocator_ops pm_tcmalloc_ops;
extern const struct allocator_ops pm_cpython_ops;
extern const struct allocator_ops pm_debug_ops;
extern const struct allocator_ops pm_test_badcheck_ops;
extern const struct allocator_ops pm_test_crash_ops;
extern const struct allocator_ops pm_test_hang_ops;
extern const struct allocator_ops pm_test_abort_ops;
extern const struct allocator_ops pm_buddy_ops;
extern const struct allocator_ops pm_segfit_ops;
extern const struct allocator_ops pm_lib_ops;

const struct allocator_ops *const pm_backends[] = {
    &pm_pymalloc_ops,
    &pm_segfit_ops,
    &pm_buddy_ops,
    &pm_null_ops,
    &pm_system_ops,
    &pm_mimalloc_ops,
    &pm_jemalloc_ops,
    &pm_tcmalloc_ops,
    &pm_cpython_ops,
    &pm_debug_ops,
    &pm_test_badcheck_ops,
    &pm_test_crash_ops,
    &pm_test_hang_ops,
    &pm_test_abort_ops,
    &pm_test_null_ops,
    NULL,
};

/* Length of the backend name at the start of spec. */
static size_t spec_name_len(const char *spec)
{
    size_t n = strcspn(spec, ",:");
    return n;
}

const struct allocator_ops *pm_backend_find(const char *spec)
{
    size_t n = spec_name_len(spec);
    for (const struct allocator_ops *const *b = pm_backends; *b; b++)
        if (strlen((*b)->name) == n && memcmp((*b)->name, spec, n) == 0)
            return *b;
    if (n == 3 && !memcmp(spec, "lib", 3))
        return &pm_lib_ops;     /* lib:PATH, outside the table (lib.c says why) */
    return NULL;
}

int pm_backend_label(const char *spec, char *out, size_t len, char err[PM_ERR_LEN])
{
    if (pm_backend_find(spec) == &pm_lib_ops && spec[3] == ':') {
        char path[PATH_MAX], name[64];
        if (pm_lib_spec_parse(spec + 4, path, name, err))
            return -1;
        snprintf(out, len, "%s", name);
        return 0;
    }
    if (pm_backend_find(spec) == &pm_lib_ops) {
        snprintf(err, PM_ERR_LEN, "backend 'lib' needs a library: write lib:PATH[,name=NAME]");
        return -1;
    }
    snprintf(out, len, "%s", spec);
    return 0;
}

unsigned pm_backend_spec_flags(const char *spec)
{
    unsigned flags = 0;
    for (int depth = 0; spec && depth < 8; depth++) {
        const struct allocator_ops *ops = pm_backend_find(spec);
        if (!ops)
            break;
        flags |= ops->flags;
        if (!(ops->flags & PM_BACKEND_WRAPPER))
            break;
        spec = strchr(spec, ':');
        spec = spec ? spec + 1 : NULL;
    }
    return flags;
}

void pm_backend_names(char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = 0;
    for (const struct allocator_ops *const *b = pm_backends; *b; b++) {
        if ((*b)->flags & PM_BACKEND_TEST_ONLY)
            continue;
        const char *fmt = (*b)->flags & PM_BACKEND_WRAPPER ? "%s%s:NAME" : "%s%s";
        int w = snprintf(buf + used, len - used, fmt, used ? ", " : "", (*b)->name);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    if (used && used + 11 < len)
        snprintf(buf + used, len - used, ", lib:PATH");
}

pm_heap_t *pm_backend_create(const char *spec, const struct pm_config *base,
                             const struct allocator_ops **ops_out,
                             char err[PM_ERR_LEN])
{
    const struct allocator_ops *ops = pm_backend_find(spec);
    if (!ops) {
        char names[200];
        pm_backend_names(names, sizeof names);
        snprintf(err, PM_ERR_LEN, "unknown backend '%.*s' (known: %s)",
                 (int)spec_name_len(spec), spec, names);
        return NULL;
    }
    size_t n = spec_name_len(spec);
    const char *rest = spec + n;
    bool wrapper = (ops->flags & PM_BACKEND_WRAPPER) != 0;
    if (ops == &pm_lib_ops && *rest != ':') {
        snprintf(err, PM_ERR_LEN, "backend 'lib' needs a library: write lib:PATH[,name=NAME]");
        return NULL;
    }
    if (wrapper && *rest != ':') {
        snprintf(err, PM_ERR_LEN, "backend '%s' wraps another: write %s:NAME",
                 ops->name, ops->name);
        return NULL;
    }
    if (!wrapper && *rest == ':' && ops != &pm_lib_ops) {
        snprintf(err, PM_ERR_LEN, "backend '%s' takes no inner backend ('%s')",
                 ops->name, spec);
        return NULL;
    }
    const char *why = ops->unavailable ? ops->unavailable() : NULL;
    if (why) {
        snprintf(err, PM_ERR_LEN, "backend '%s' is unavailable: %s", ops->name, why);
        return NULL;
    }
    struct pm_config cfg = {0};
    if (base)
        cfg = *base;
    cfg.options = *rest ? rest + 1 : NULL;
    err[0] = 0;
    pm_heap_t *h = ops->create(&cfg, err);
    if (!h && !err[0])
        snprintf(err, PM_ERR_LEN, "backend '%s': create failed", ops->name);
    if (h && ops_out)
        *ops_out = ops;
    return h;
}
