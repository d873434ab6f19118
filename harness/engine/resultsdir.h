/* harness/engine/resultsdir.h — the results folder of `pymemlab run` (engine;
 * results.h has the record and the files' formats):
 *
 *   DIR/results.csv, DIR/results.jsonl   one record per run, appended and
 *                                        fsync'd as each ends
 *   DIR/provenance.json                  build, machine, config, sessions
 *   DIR/series/W__B__R.csv               memory over time of each run
 *   DIR/logs/W__B__R.stderr              what a run printed on stderr
 *   DIR/traces/                          the suite's generated traces
 *   DIR/summary.md                       the summary table
 *
 * pm_rdir_open creates or resumes one (refusing a folder of another
 * configuration), pm_rdir_session_* record each session in the provenance,
 * pm_rdir_summary writes summary.md; pm_prov_differs is the one decision
 * whether two folders' provenance may be combined (run --resume, merge).
 * Engine code: errors come back as 1 (the machine: a file not written) or
 * 2 (bad input) with err; nothing is printed.
 */
#ifndef PM_RESULTSDIR_H
#define PM_RESULTSDIR_H

#include "runner.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "pm_api.h"

PM_API_BEGIN

struct cJSON;

/* What must be equal: PM_PROV_CONFIG, the run's configuration (workloads
 * with their parameters, backends, reps, --only, time mode: a folder
 * --resume continues); PM_PROV_BUILD, what makes timings comparable
 * (commit and dirty flag, CPU model, compiler, build type, flags: folders
 * merge combines). NULL if equal, else the first field that differs; *va
 * and *vb (may be NULL) get the two values as text ("" for a config
 * field). */
enum { PM_PROV_CONFIG = 1u << 0, PM_PROV_BUILD = 1u << 1 };
const char *pm_prov_differs(const struct cJSON *a, const struct cJSON *b, unsigned what,
                            const char **va, const char **vb);

/* The "config" object of a run's provenance. */
struct cJSON *pm_rdir_config_json(const struct pm_run_cfg *c);

struct pm_rdir {
    struct cJSON *prov;             /* the provenance (the folder's, or new) */
    char prov_path[PATH_MAX + 32];
    int fd_jsonl, fd_csv;           /* open for appending */
    size_t nold;                    /* records already in the folder */
    size_t nplanned;                /* the plan's cells before done ones were left out */
    size_t csv_rows;                /* rows results.csv had when it was rebuilt */
    bool csv_rebuilt;               /* from results.jsonl */
    struct cJSON *session;          /* this session's entry (in prov) */
};

/* Opens c->out for the plan: refuses (2) a folder that holds results
 * unless c->resume, and one of another configuration unless c->force;
 * creates the folder, series/, logs/ and c->traces_dir; leaves out of the
 * plan the runs already recorded ok (*nplan shrinks); drops a record cut
 * short and rebuilds results.csv from results.jsonl; opens both files for
 * appending. The caller holds the folder's lock. 0, 1 or 2 with err. */
int pm_rdir_open(const struct pm_run_cfg *c, struct pm_run_cell *plan, size_t *nplan,
                 struct pm_rdir *d, char err[PM_ERR_LEN]);
/* Appends this session to the provenance and writes it. 0 or 1 (err). */
int pm_rdir_session_begin(struct pm_rdir *d, const struct pm_run_cfg *c, size_t planned,
                          char err[PM_ERR_LEN]);
/* Ends it (runs done, load, what the fresh processes cost) and writes the
 * provenance. 0 or 1 (err). */
int pm_rdir_session_end(struct pm_rdir *d, size_t done, double load_max, bool interrupted,
                        const struct pm_run_totals *tot, char err[PM_ERR_LEN]);
/* Closes the files, frees the provenance. */
void pm_rdir_close(struct pm_rdir *d);

/* The summary of the folder's records that belong to this configuration,
 * also written as DIR/summary.md. 0 or 1 (err). */
int pm_rdir_summary(const struct pm_run_cfg *c, const struct cJSON *prov, struct pm_summary *s,
                    char err[PM_ERR_LEN]);

/* Removes what interrupted generations left in a traces folder (a
 * NAME.PID.pmt[.tmp] whose PID no longer exists); each removed path is
 * written as a line to `log` (may be NULL). */
void pm_rdir_clean_stale_traces(const char *dir, FILE *log);

PM_API_END
#endif
