/* harness/engine/suite.h — suites: text files that list the workloads a suite run
 * measures (format: docs/suites.md; the built-in ones in workloads/suites/).
 *
 * Entry points
 *   pm_suite_load     a built-in suite by name, or a file by path; parsed
 *   pm_suite_parse    parses suite text (tests; pm_suite_load calls it)
 *   pm_suite_free
 *   pm_suite_builtin_dir / pm_suite_builtin_names   where the built-in suites are
 *   pm_suite_find     an item by workload name
 *
 * A suite is lines of
 *   py NAME [scale=S] [seed=N] [name=X] [timeout=SEC]
 *   gen PATTERN [ops=N] [live=N] [seed=N] [sizes=D] [keep-every=K] [again=N]
 *       [realloc-frac=F] [max-len=N] [name=X] [timeout=SEC]
 *   trace PATH|GLOB [domain=obj|mem|raw|pymalloc|all] [optional] [name=X] [suffix=S]
 *         [timeout=SEC]
 *   reps N            (the suite's default repetitions)
 *   timeout SEC       (the suite's default time limit per run)
 *   backend SPEC      (one of the suite's backends, used when `run` has no
 *                      --backends; lib:PATH relative to the suite's folder)
 * with '#' comments. Relative trace paths are relative to the suite file's
 * folder. Every item gets a workload name, unique in the suite (py: NAME;
 * gen: gen-PATTERN; trace: the file's name without .pmt/.txt, then suffix=;
 * name= overrides), made of [A-Za-z0-9._-].
 *
 * Errors: one line "FILE:LINE: problem" in err (the caller prints it with
 * exit code 2). An optional trace line whose files are missing is not an
 * error: it is left out and a note is added to `notes`.
 */
#ifndef PM_SUITE_H
#define PM_SUITE_H

#include "allocator.h"
#include "trace.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pm_api.h"

PM_API_BEGIN

#define PM_SUITE_NAME_MAX 48            /* workload names, bytes without the NUL */
#define PM_SUITE_PARAMS_MAX 512

enum pm_suite_kind { PM_SUITE_PY, PM_SUITE_GEN, PM_SUITE_TRACE };

struct pm_suite_item {
    char name[PM_SUITE_NAME_MAX + 1];   /* the workload name in every result */
    enum pm_suite_kind kind;
    unsigned line;                      /* 1-based line in the suite file */
    char params[PM_SUITE_PARAMS_MAX];   /* canonical line: kind, target, options */
    double timeout_s;                   /* timeout= of the line; 0: not given */
    /* py */
    char workload[32];                  /* workloads/python registry name */
    char gc[16];                        /* gc=NAME: the collector; "" = the default (gen311) */
    double scale;
    uint64_t seed;                      /* py and gen (gen: 42 unless given) */
    /* gen */
    char pattern[16];
    struct pm_tracegen_opts gen;
    /* trace (gen: the runner fills path with the generated file) */
    char path[PATH_MAX];
    char domain[16];                    /* "all" unless given */
    unsigned domains;                   /* mask for pm_replay_* */
};

struct pm_suite {
    char name[64];                      /* built-in name, or the file name without .suite */
    char path[PATH_MAX];                /* the file read */
    char *text;                         /* its contents (malloc'd) */
    unsigned reps;                      /* `reps N`; 0: not given */
    double timeout_s;                   /* `timeout SEC`; 0: not given */
    char backends[4096];                /* `backend SPEC` lines, comma-joined; "" if none */
    struct pm_suite_item *items;        /* in file order (malloc'd) */
    size_t n;
    char *notes;                        /* "line 12: skipped ..." lines, or NULL */
};

/* `spec` is a built-in suite name (quick, default, full: a file
 * NAME.suite in pm_suite_builtin_dir()) or a path (it contains a '/' or
 * ends in .suite). 0, or -1 with err: unknown suite (with the known names),
 * unreadable file, or a bad line. */
int pm_suite_load(const char *spec, struct pm_suite *s, char err[PM_ERR_LEN]);
/* Parses `text` (copied) as the file `path` (for messages and for resolving
 * relative trace paths). */
int pm_suite_parse(const char *text, const char *path, struct pm_suite *s, char err[PM_ERR_LEN]);
void pm_suite_free(struct pm_suite *s);
/* `run --gcs A,B,...` (issue 20: collectors swept like backends): each py
 * item without its own gc= becomes one item per collector, named
 * NAME-COLLECTOR, with gc=COLLECTOR in its canonical parameters; other
 * items are left as they are. 0, or -1 with err (an unknown collector, a
 * name made too long or already used, out of memory). */
int pm_suite_expand_gcs(struct pm_suite *s, const char *list, char err[PM_ERR_LEN]);
const struct pm_suite_item *pm_suite_find(const struct pm_suite *s, const char *name);

/* $PYMEMLAB_SUITE_DIR, else the source tree's workloads/suites. */
const char *pm_suite_builtin_dir(void);
/* "default, full, quick" (sorted), for messages. */
void pm_suite_builtin_names(char *buf, size_t len);

PM_API_END
#endif
