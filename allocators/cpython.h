/* allocators/cpython.h — extras of the `cpython` reference backend
 * (allocators/cpython.c) beyond struct allocator_ops.
 *
 * Entry point: pm_cpython_debugmallocstats().
 */
#ifndef PM_CPYTHON_H
#define PM_CPYTHON_H

#include <stdbool.h>
#include <stdio.h>

/* Writes libpython's own obmalloc report (_PyObject_DebugMallocStats, the
 * pymalloc part of sys._debugmallocstats()) to `f`, for cross-checking our
 * pymalloc's debugstats. It describes the whole process's obmalloc, i.e.
 * every `cpython` instance together. This is the one place a backend writes
 * output: to a stream the caller owns and passes in, never to stdout or
 * stderr of its own accord. Returns false, writing nothing, when libpython
 * cannot be loaded, lacks the symbol, or has pymalloc disabled. */
bool pm_cpython_debugmallocstats(FILE *f);

#endif
