/* harness/engine/fresh.h — runs a function in a fresh process (a forked child) and
 * brings its fixed-size result back.
 *
 * Why: a timed or sampled run must start from the same process history on
 * every backend. A global backend (glibc, tcmalloc, the real obmalloc) and
 * mimalloc keep pages a run freed, so a second run in the same process finds
 * its memory already faulted in: cheaper, and invisible in the footprint.
 * Per-instance backends start every instance from nothing. Running each
 * measured or timed run in its own child of a process that has not used the
 * backend puts every backend in the same state (README, Metrics: timing
 * modes).
 *
 * Entry point: pm_fresh_call. The child dies with its parent
 * (PR_SET_PDEATHSIG), never returns into the caller, and writes nothing but
 * its result (what fn prints is fn's business). Never prints, never exits.
 */
#ifndef PM_FRESH_H
#define PM_FRESH_H

#include "allocator.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "pm_api.h"

PM_API_BEGIN

/* fn runs in the child; it fills out (outlen bytes, zeroed before) and
 * returns 0, 1 (the measured thing failed) or 2 (bad input), err filled when
 * not 0. */
typedef int (*pm_fresh_fn)(void *arg, void *out, char err[PM_ERR_LEN]);

/* Forks, runs fn(arg, out, err) in the child, copies out and err back.
 * Returns fn's code, or 1 with err naming what happened when the child died
 * without a result (a signal, an exit) or fork failed. *child (may be NULL)
 * gets the child's pid. stdio buffers are flushed before the fork. */
int pm_fresh_call(pm_fresh_fn fn, void *arg, void *out, size_t outlen, pid_t *child,
                  char err[PM_ERR_LEN]);

/* The signal that killed the last child of pm_fresh_call, 0 if none did: a
 * caller that stands for the run (the suite runner's child) re-raises it so
 * that the run is recorded as killed by that signal. */
int pm_fresh_last_signal(void);

/* What the fresh processes have cost this process so far: wall time of
 * pm_fresh_call minus the time fn ran in the child (fork, the child's start
 * and exit, the pipe, the wait), summed over *ncalls calls. */
uint64_t pm_fresh_overhead_ns(uint64_t *ncalls);

PM_API_END
#endif
