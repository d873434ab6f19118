/* workloads/trace/mtrace.h — the importer of glibc mtrace logs
 * (workloads/trace/mtrace.c).
 *
 * Entry points
 *  pm_mtrace_import    glibc mtrace log -> trace writer (or a dry run)
 */
#ifndef PM_MTRACE_H
#define PM_MTRACE_H

#include "trace.h"

#include <stdio.h>
#include "pm_api.h"

PM_API_BEGIN

/* ---- glibc mtrace logs ----
 * The format MALLOC_TRACE=FILE writes (glibc 2.34+: with libc_malloc_debug.so
 * preloaded, from the program's mtrace() call):
 *     = Start
 *     @ CALLER + 0xADDR 0xSIZE        malloc, calloc, memalign... (SIZE 0 is "0")
 *     @ CALLER - 0xADDR               free, realloc(p, 0)
 *     @ CALLER < 0xOLD                realloc: the old block, then on the next line
 *     @ CALLER > 0xNEW 0xSIZE         the new one
 *     @ CALLER ! 0xADDR 0xSIZE        a realloc that failed (the block stays)
 *     = End
 * "@ CALLER" is optional (glibc omits it when it knows no caller); ADDR may
 * be "(nil)" (a failed allocation). Blank lines are skipped. */
struct pm_mtrace_report {
    uint64_t lines;             /* lines read */
    uint64_t ops;               /* ops written */
    uint64_t allocs, reallocs, frees;   /* ops written by kind */
    uint64_t unknown_frees;     /* free of a pointer the log never allocated: dropped */
    uint64_t unknown_reallocs;  /* realloc of one: the new block is recorded as an alloc */
    uint64_t missed_frees;      /* an allocation at a live address: the free the log
                                   lacks is inserted before it */
    uint64_t failed;            /* failed requests ((nil) results, '!' lines): no op */
    uint64_t oversize;          /* requests over the format's size limit: dropped */
    uint64_t sections;          /* "= Start" lines */
    uint64_t live_at_end;       /* blocks never freed */
    uint64_t slots;             /* slot count of the trace */
};

/* Reads the log from `in` (from its current position to EOF). With w ==
 * NULL it only checks the log and fills *r (a dry run); with a writer it also
 * writes the ops (metadata first: call it after adding any). Errors: -1 with
 * err "NAME:LINE: problem" for a malformed line, "NAME: ..." for a read
 * error; -2 if the writer failed (err from the writer). */
int pm_mtrace_import(FILE *in, const char *name, struct pm_trace_writer *w, struct pm_mtrace_report *r,
                     char err[PM_ERR_LEN]);

PM_API_END
#endif
