/* harness/cmd_backends.c — `pymemlab backends`: one line per backend, and
 * one per CPython version under `cpython`. */
#include "cli.h"
#include "cpython.h"

#include <stdio.h>

int cmd_backends(int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        pm_usage_error("backends: takes no arguments ('%s')", argv[1]);
    printf("%-20s %-44s %-12s %s\n", "backend", "status", "scope", "description");
    for (const struct allocator_ops *const *b = pm_backends; *b; b++) {
        const struct allocator_ops *o = *b;
        if (o->flags & PM_BACKEND_TEST_ONLY)
            continue;
        const char *why = o->unavailable ? o->unavailable() : NULL;
        char name[32], status[PM_ERR_LEN + 16];
        snprintf(name, sizeof name, (o->flags & PM_BACKEND_WRAPPER) ? "%s:NAME" : "%s", o->name);
        snprintf(status, sizeof status, why ? "unavailable: %s" : "available", why);
        const char *scope = (o->flags & PM_BACKEND_WRAPPER) ? "as wrapped"
                          : (o->flags & PM_BACKEND_GLOBAL) ? "global" : "per-instance";
        printf("%-20s %-44s %-12s %s\n", name, status, scope, o->description);
        if (o == &pm_cpython_ops) {
            /* one line per version: cpython,version=V */
            for (size_t i = 0; i < pm_cpython_version_count(); i++) {
                const char *v, *desc;
                const char *vwhy = pm_cpython_version_status(i, &v, &desc);
                char vname[48];   /* a spec, so scripts can take column 1 as is */
                snprintf(vname, sizeof vname, "cpython,version=%s", v);
                snprintf(status, sizeof status, vwhy ? "unavailable: %s" : "available", vwhy);
                printf("%-20s %-44s %-12s %s\n", vname, status, scope, desc);
            }
        }
    }
    /* lib:PATH is not in the table: it has no instance without a library */
    const struct allocator_ops *lib = pm_backend_find("lib");
    printf("%-20s %-44s %-12s %s\n", "lib:PATH[,name=N]", "available (given a library)", "global",
           lib->description);
    return PM_EXIT_OK;
}
