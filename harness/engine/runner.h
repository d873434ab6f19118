/* harness/engine/runner.h — the suite runner's engine (`pymemlab run`,
 * harness/cli/cmd_run.c is the command over it): the run's configuration, the
 * matrix cells, child supervision and the child->parent pipe.
 *
 * A run (child): one timed run (ns_per_op) in a fresh process of its own
 * (a grandchild, forked before this process uses the backend: cold or warm),
 * then, in rep 1 only, the sampled run (memory figures, series, latency) in
 * the child itself, which has not used the backend either; the run's record
 * (struct pm_result, the fields the engine measured) goes back as one JSON
 * line through a pipe, stderr through another. The parent reads the
 * machine's load before and after each run and records it with the run.
 * Whatever ends a run — a signal, an exit without a result, the time limit
 * (the parent kills its process group) — is a failed record with its
 * reason, and the suite goes on.
 *
 * Engine code (engine.h): never prints, never exits; errors come back as a
 * return value and err[PM_ERR_LEN]; what is shown while runs go is the
 * caller's (struct pm_run_observer).
 */
#ifndef PM_RUNNER_H
#define PM_RUNNER_H

#include "allocator.h"
#include "replay.h"
#include "results.h"
#include "suite.h"

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "pm_api.h"

PM_API_BEGIN

#define PM_RUN_DEFAULT_TIMEOUT_S 600.0  /* when neither the suite nor --timeout says */

struct pm_run_backend {
    char spec[PATH_MAX + 64];
    char label[128];            /* what results show: the spec, or a lib:PATH's NAME */
    char file[128];             /* the label made file-name safe */
    char description[256];      /* from the backend (library versions) */
};

/* The run's configuration: what the options and the suite said. */
struct pm_run_cfg {
    struct pm_suite suite;
    const char *suite_spec;
    struct pm_run_backend *backends;
    size_t nbackends;
    bool default_backends;      /* --backends not given */
    bool *wanted;               /* per suite item: in --workloads (all if not given) */
    unsigned reps;
    unsigned jobs;
    enum pm_time_mode mode;     /* --mode: the timed runs' heap state */
    char out[PATH_MAX];
    char traces_dir[PATH_MAX];
    const char *baseline;
    bool resume, force;
    double timeout_s;           /* --timeout; 0: per line / suite */
    uint64_t mem_limit;         /* RLIMIT_AS bytes; 0: none */
    bool mem_limit_given;
    const char *emit_jobs;
    uint64_t series_every;      /* 0: each kind's default */
    uint64_t latency_every;
    const char *only;           /* "W:B:R" or NULL */
    char only_w[64], only_b[128];
    unsigned only_r;
    const char *workloads_arg;
    const char *backends_arg;
    char **argv;
    int argc;
    char notes[4096];           /* "note: ..." lines, printed once the input is checked */
    /* the command's policies */
    pm_misuse_fn on_misuse;     /* what a backend's misuse report does in a run */
    const volatile sig_atomic_t *stop;  /* non-zero: start no more runs, kill those going */
};

/* One cell of the matrix. */
struct pm_run_cell {
    size_t item;                /* index into suite.items */
    size_t backend;
    unsigned rep;               /* 1-based */
};

/* What the runs cost, over a session. */
struct pm_run_totals {
    double fresh_overhead_s;    /* the timed runs' own processes (fork, start, exit, wait) */
    double runs_wall_s;         /* the runs' wall time */
};

/* What the caller shows while runs go (each may be NULL). */
struct pm_run_observer {
    void *ctx;
    void (*started)(void *ctx, const char *label);          /* a run started */
    void (*waiting)(void *ctx);                             /* about once a second */
    void (*finished)(void *ctx, const struct pm_result *r, const char *label);
};

/* W__B__R: the run's file names (series, logs). */
void pm_run_id(const struct pm_run_cfg *c, const struct pm_run_cell *r, char *buf, size_t len);
/* "W on B, rep R". */
void pm_run_label(const struct pm_run_cfg *c, const struct pm_run_cell *r, char *buf, size_t len);
double pm_run_item_timeout(const struct pm_run_cfg *c, const struct pm_suite_item *it);

/* The checks and the trace generation, each in a forked helper (so that no
 * reference allocator is initialised in the runner): its output lines are
 * "ok\tSPEC\tDESCRIPTION" / "skip\tSPEC\tWHY" (BACKENDS: each backend, or
 * the default ones, created once), "err\tMESSAGE" for the first bad input
 * (TRACES: the trace files are checked; GENERATE: the gen items with
 * need[i] are written into their paths, missing ones only). Returns the
 * helper's wait status and *out (malloc'd); -1 with err if it could not
 * start. */
enum pm_run_helper { PM_RUN_CHECK_BACKENDS, PM_RUN_CHECK_TRACES, PM_RUN_GENERATE };
int pm_run_helper(const struct pm_run_cfg *c, enum pm_run_helper which, const bool *need,
                  char **out, char err[PM_ERR_LEN]);

/* Runs the plan, c->jobs at a time, appending each record to the open
 * results files as it ends. *done: runs recorded (fewer if *c->stop was
 * set). 0, or -1 with err (the runner itself failed: pipe, fork, a results
 * file not written). */
int pm_run_all(const struct pm_run_cfg *c, const struct pm_run_cell *plan, size_t nplan,
               int fd_jsonl, int fd_csv, double *load_max, const struct pm_run_observer *obs,
               struct pm_run_totals *tot, size_t *done, char err[PM_ERR_LEN]);

/* The progress line: "[####....] D/N (F failed)  ELAPSED elapsed, ETA ETA
 * CURRENT" clipped to `width` columns, into buf. */
struct pm_run_progress {
    size_t total, done, ok, failed;     /* runs */
    uint64_t t0;                        /* ns, when the first run started */
};
void pm_run_progress_format(char *buf, size_t len, const struct pm_run_progress *p,
                            const char *current, int width);

PM_API_END
#endif
