/* allocators/cpython.h — extras of the `cpython` reference backend
 * (allocators/cpython.c) beyond struct allocator_ops.
 *
 * Entry points: pm_cpython_debugmallocstats(), pm_cpython_debugmallocstats_version(),
 * pm_cpython_version_count(), pm_cpython_version_status(), pm_cpython_init_ms().
 */
#ifndef PM_CPYTHON_H
#define PM_CPYTHON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "allocator.h"
#include "pm_api.h"

PM_API_BEGIN

extern const struct allocator_ops pm_cpython_ops;

/* Writes libpython's own obmalloc report (_PyObject_DebugMallocStats, the
 * pymalloc part of sys._debugmallocstats()) to `f`, for cross-checking our
 * pymalloc's debugstats. It describes the whole process's obmalloc, i.e.
 * every `cpython` instance together. This is the one place a backend writes
 * output: to a stream the caller owns and passes in, never to stdout or
 * stderr of its own accord. Returns false, writing nothing, when libpython
 * cannot be loaded, lacks the symbol, or has pymalloc disabled. */
bool pm_cpython_debugmallocstats(FILE *f);
/* The same for `cpython,version=V` ("3.8" .. "3.13"); initialises that
 * version's interpreter first where it needs one (3.12+). */
bool pm_cpython_debugmallocstats_version(const char *version, FILE *f);

/* The supported versions, i = 0 .. count-1: *name ("3.12") and a one-line
 * *description; returns NULL when that version's libpython is found and
 * loads, else the one-line reason (loading it on the first call). */
size_t pm_cpython_version_count(void);
const char *pm_cpython_version_status(size_t i, const char **name, const char **description);

/* Milliseconds the interpreter's initialisation took for version V (3.12+,
 * once created), else 0. */
double pm_cpython_init_ms(const char *version);

PM_API_END
#endif
