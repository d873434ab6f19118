/* workloads/objscript/pm_objscript.h — object scripts: a small line-based language that
 * drives an object space without writing C (format: docs/objscript.md).
 *
 * Entry points: pm_objscript_parse / pm_objscript_free (a script),
 * pm_objscript_start / pm_objscript_exec / pm_objscript_finish /
 * pm_objscript_end (one run of a script on a space).
 *
 * The parser and the interpreter keep their own tables (statements, names)
 * in the C heap, not in the space's backend: the backend sees only the object
 * layer's requests. Never prints; errors come back as one line "FILE:LINE:
 * problem", the file name and any word of the script in it escaped (\\ \n
 * \t \r, \xNN for other control bytes and bytes from 0x7f up; a quoted word
 * longer than 79 bytes cut, ending in "...").
 */
#ifndef PM_OBJSCRIPT_H
#define PM_OBJSCRIPT_H

#include "pm_object.h"
#include "pm_api.h"

PM_API_BEGIN

struct pm_objscript;
struct pm_objscript_run;

enum pm_objscript_status {
    PM_OBJSCRIPT_OK = 0,
    PM_OBJSCRIPT_FAILED = 1,        /* an expect failed, an invariant broke, MemoryError */
    PM_OBJSCRIPT_BAD = 2,           /* the script is wrong (syntax, unbound name, type) */
};

struct pm_objscript_stats {
    uint64_t statements;            /* statements executed */
    uint64_t collects;              /* `collect` statements run */
    int64_t last_returned;          /* what the last `collect` returned */
    int64_t last_collected;         /* ... of which freed */
    int64_t last_uncollectable;     /* ... of which uncollectable */
    uint64_t finalized;             /* tp_finalize calls */
    uint64_t legacy_dels;           /* legacy tp_del calls */
    uint64_t callbacks;             /* weakref callbacks run */
};

struct pm_objscript_io {
    void *ctx;
    /* after each `collect` statement */
    void (*on_collect)(void *ctx, int line, int generation, int64_t returned,
                       int64_t collected, int64_t uncollectable);
    /* every `sample_every` statements, after each collect and at the end */
    void (*sample)(void *ctx);
    uint64_t sample_every;
};

/* Parses a whole script. NULL on error with "FILE:LINE: problem" in err. */
struct pm_objscript *pm_objscript_parse(const char *text, size_t len, const char *filename,
                                        char err[PM_ERR_LEN]);
void pm_objscript_free(struct pm_objscript *s);
size_t pm_objscript_length(const struct pm_objscript *s);   /* statements */

/* A run binds the script's names to objects of `sp` and installs the space's
 * hooks (finalizers, weakref callbacks) for the script's classes. */
struct pm_objscript_run *pm_objscript_start(const struct pm_objscript *s, pm_objspace_t *sp,
                                            const struct pm_objscript_io *io);
/* Runs every statement; returns a pm_objscript_status, err on failure. */
int pm_objscript_exec(struct pm_objscript_run *r, char err[PM_ERR_LEN]);
const struct pm_objscript_stats *pm_objscript_stats(const struct pm_objscript_run *r);
/* After exec: checks that every tracked object's references from outside the
 * tracked objects equal the number of names bound to it and the space's
 * consistency; then unbinds every name and drops their references (the
 * finalizers and weakref callbacks of objects that die run, but see no name
 * bound: a `resurrect L` finalizer resurrects nothing, as a __del__ whose
 * global is gone at CPython's shutdown), empties gc.garbage, removes the
 * classes' finalizers, collects until nothing is found and checks that no
 * object is left alive. */
int pm_objscript_finish(struct pm_objscript_run *r, char err[PM_ERR_LEN]);
void pm_objscript_end(struct pm_objscript_run *r);

PM_API_END
#endif
