/* harness/cli/cmd_backends.c — `pymemlab backends`: one line per backend, and
 * one per CPython version under `cpython`. */
#include "cli.h"
#include "opts.h"
#include "cpython.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

/* Each backend's options (NAME,key=value,...) as `backends --verbose` lists
 * them. The backends parse their own options (create() in allocators/NAME.c);
 * tests/cli/options.sh checks both ways that this table says what they
 * accept: every key here with its default value creates an instance, and
 * the keys a backend's "unknown option ... (known: ...)" message lists are
 * exactly the keys here. */
struct backend_opt {
    const char *backend, *key, *value, *def, *help;
};
static const struct backend_opt backend_opts[] = {
    {"pymalloc", "preset", "3.8|3.9|3.10|3.11|3.12|3.13", "3.11",
     "CPython version whose arena and pool sizes to use (py38 = 3.8, py310 = 3.10)"},
    {"pymalloc", "arena", "SIZE", "1M", "arena size (256K in 3.8, 3.9; 1M from 3.10)"},
    {"pymalloc", "pool", "SIZE", "16K", "pool size (4K in 3.8, 3.9; 16K from 3.10)"},
    {"pymalloc", "large", "system|segfit|os", "system",
     "where requests over 512 bytes go: the C library (as CPython), segfit, or one mapping each"},
    {"pymalloc", "placement", "os|aligned|unaligned", "os",
     "arena placement: where the kernel puts it (as CPython), pool-aligned, or deliberately unaligned"},
    {"segfit", "region", "SIZE", "1M", "region size, a power of two 64K..1G"},
    {"segfit", "large", "SIZE", "256K", "requests from this size get their own mapping"},
    {"segfit", "release", "SIZE", "4M", "empty regions kept before unmapping (0: unmap at once)"},
    {"segfit", "sl", "N", "32", "second-level subdivisions per power of two, a power of two 1..64"},
    {"segfit", "quick", "N", "64", "blocks cached per small size (0..4096; 0: no quick lists)"},
    {"buddy", "min", "SIZE", "16", "smallest block, a power of two (or min_order=LOG2)"},
    {"buddy", "max", "SIZE", "1M", "largest block = one region, a power of two (or max_order=LOG2)"},
    {"buddy", "min_order", "N", "4", "log2 of the smallest block (instead of min)"},
    {"buddy", "max_order", "N", "20", "log2 of the region (instead of max)"},
    {"buddy", "keep_empty", "N", "1", "wholly free regions kept mapped"},
    {"null", "ring", "SIZE", "4M", "the ring that blocks are bumped through (64K..16G)"},
    {"cpython", "version", "3.8|3.9|3.10|3.11|3.12|3.13", "3.11", "the libpython whose allocator to load"},
    {"lib", "name", "NAME", "the file's name", "what results, tables and plots call it"},
    {NULL, NULL, NULL, NULL, NULL},
};

static void print_backend_opts(const char *name)
{
    for (const struct backend_opt *o = backend_opts; o->backend; o++) {
        if (strcmp(o->backend, name))
            continue;
        char kv[80];
        snprintf(kv, sizeof kv, "%s=%s", o->key, o->value);
        printf("    %-38s %s [default: %s]\n", kv, o->help, o->def);
    }
}

static const struct pm_cli_opt backends_opts[] = {
    PM_CLI_OPT("verbose", 'v', PM_CLI_FLAG, NULL, NULL, "also each backend's options, with defaults",
               .short_name = 'v'),
    {0},
};

const struct pm_cli_spec pm_spec_backends = {
    .name = "backends", .opts = backends_opts,
    .summary = "list every backend: available or why not, global or per-instance",
};

int cmd_backends(int argc, char **argv)
{
    bool verbose = false;
    struct pm_cli_val val;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_backends, argc, argv, &val)) != -1)
        if (c == 'v')
            verbose = true;
    if (optind < argc)
        pm_usage_error("backends: takes no arguments ('%s')", argv[optind]);
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
        if (verbose && (o->flags & PM_BACKEND_WRAPPER))
            printf("    %-38s %s\n", "NAME[,OPTIONS]", "the wrapped backend and its options");
        if (verbose)
            print_backend_opts(o->name);
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
    if (verbose)
        print_backend_opts("lib");
    if (verbose)
        printf("\nOptions follow the name: --backend NAME,key=value,key=value (sizes take K/M/G).\n");
    return PM_EXIT_OK;
}
