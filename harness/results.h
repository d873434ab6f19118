/* harness/results.h — the one record format of suite results, the results
 * folder (results.csv, results.jsonl, provenance.json, summary.md) and the
 * summary over repetitions.
 *
 * Entry points
 *   PM_RESULT_COLUMNS     the columns: struct, CSV header, JSON keys and docs
 *                         are all generated from this one list
 *   pm_result_init / pm_result_set_from_json / pm_result_to_json /
 *   pm_result_csv_row / pm_result_csv_header     one record
 *   pm_results_load       reads DIR/results.jsonl back (resume, merge, plot)
 *   pm_results_append     appends one record to both files, fsync'd
 *   pm_results_latest     the last record of each (workload, backend, rep)
 *   pm_summary_build / pm_summary_print / pm_summary_write_md /
 *   pm_summary_free       per workload and
 *                         backend: median and min-max over the ok reps,
 *                         ns/op normalised to the baseline
 *   pm_prov_machine       machine facts for provenance.json
 *   pm_read_json_file     a whole JSON file
 *
 * Null: a figure that is undefined or unknown is NAN (doubles), PM_STAT_NA
 * (counts) or "" (strings); it is an empty CSV cell and a JSON null.
 */
#ifndef PM_RESULTS_H
#define PM_RESULTS_H

#include "allocator.h"
#include "stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "pm_api.h"

PM_API_BEGIN

struct cJSON;

#define PM_RESULT_STR 512

/* X(name, type, description); type S (string), U (count, uint64) or D
 * (double). The order is the CSV column order. README documents each. */
#define PM_RESULT_COLUMNS(X)                                                                  \
    X(workload, S, "workload name from the suite")                                            \
    X(kind, S, "py (object workload run live), gen (generated trace) or trace (trace file)")  \
    X(backend, S, "backend spec (lib:PATH: its NAME)")                                        \
    X(rep, U, "repetition, 1-based")                                                          \
    X(status, S, "ok or failed")                                                              \
    X(failure, S, "failed runs: signal, timeout, sanitizer, exit or error; empty when ok")    \
    X(ops, U, "requests in one run (allocator calls)")                                        \
    X(ns_per_op, D, "wall time of the timed run / ops (no sampling)")                         \
    X(time_mode, S, "the timed run's heap state: cold (fresh process) or warm (second pass)") \
    X(minflt_per_op, D, "minor page faults during the timed run / ops")                       \
    X(load1_start, D, "1-minute load average when the run started")                           \
    X(load1_end, D, "1-minute load average when it ended")                                    \
    X(steal_pct, D, "CPU steal during the run, % of all CPU time")                            \
    X(busy_cpus, D, "CPUs busy on average during the run, the run's own included")            \
    X(own_cpus, D, "CPUs the run's processes used on average (their CPU time / wall time)")   \
    X(loaded, U, "1: other work kept more than 0.5 CPU busy or steal was over 5% (README)")   \
    X(peak_live_bytes, U, "max L: requested bytes live")                                      \
    X(final_live_bytes, U, "L(T) at the end")                                                 \
    X(peak_footprint_bytes, U, "max F: anonymous RSS above the baseline")                     \
    X(final_footprint_bytes, U, "F(T): the footprint at the end")                                                       \
    X(trimmed_footprint_bytes, U, "F after trim() (py: and a full collection)")               \
    X(frag4, D, "max F / max L - 1")                                                          \
    X(frag3, D, "F(tF) / L(tF) - 1 at tF = argmax F")                                         \
    X(frag_at_peak_live, D, "F(tL) / L(tL) - 1 at tL = argmax L")                             \
    X(retention, D, "F(T) / max F")                                                           \
    X(retention_trimmed, D, "F after trim() / max F")                                         \
    X(backend_peak_mapped_bytes, U, "the backend's own peak of mapped bytes")                 \
    X(gc_collections, U, "py: collections, all generations")                                  \
    X(gc_collected, U, "py: objects the collections freed")                                   \
    X(gc_uncollectable, U, "py: objects found uncollectable")                                 \
    X(gc_time_ns, U, "py: time in the collector during the timed run")                        \
    X(lat_samples, U, "allocator calls timed (one in --latency-every)")                       \
    X(lat_p50_ns, D, "median latency of one allocator call")                                  \
    X(lat_p99_ns, D, "99th percentile")                                                       \
    X(lat_p999_ns, D, "99.9th percentile")                                                    \
    X(lat_max_ns, D, "largest sample")                                                        \
    X(lat_floor_ns, D, "the timer's own cost, subtracted from every sample")                  \
    X(max_rss_bytes, U, "peak RSS of the run's process (getrusage), everything included")     \
    X(wall_s, D, "wall time of the run's process, seconds")                                   \
    X(seed, U, "py: workload seed; gen: generator seed")                                      \
    X(scale, D, "py: workload scale")                                                         \
    X(params, S, "the workload's canonical suite line")                                       \
    X(series, S, "the memory series file, relative to the results folder")                    \
    X(reason, S, "failed runs: one line, what happened")                                     \
    /* ---- issue 20: the collector (one block; a later refactor folds it into one record) */ \
    X(gc, S, "py: the cycle collector (gen311, gen313, inc314, pep848)")                       \
    X(gc_pauses, U, "py: collections in the measured run")                                    \
    X(gc_pause_p50_ns, D, "py: median collection pause, measured run")                        \
    X(gc_pause_p99_ns, D, "py: 99th percentile pause")                                        \
    X(gc_pause_max_ns, U, "py: longest pause")                                                \
    X(gc_pause_total_ns, U, "py: sum of the pauses of the measured run")                      \
    X(gc_examined, U, "py: objects the collections examined")                                 \
    X(gc_examined_max, U, "py: most objects examined by one collection")                      \
    X(gc_peak_garbage_held_bytes, U, "py: peak bytes unreachable but not yet freed (--gc-held)")

#define PM_RESULT_TYPECHAR_S 'S'
#define PM_RESULT_TYPECHAR_U 'U'
#define PM_RESULT_TYPECHAR_D 'D'
#define PM_RESULT_FIELD_S(name) char name[PM_RESULT_STR];
#define PM_RESULT_FIELD_U(name) uint64_t name;
#define PM_RESULT_FIELD_D(name) double name;

struct pm_result {
#define PM_X(name, type, desc) PM_RESULT_FIELD_##type(name)
    PM_RESULT_COLUMNS(PM_X)
#undef PM_X
};

struct pm_result_column {
    const char *name;
    char type;                  /* 'S', 'U' or 'D' */
    size_t offset;
    const char *description;
};
extern const struct pm_result_column pm_result_columns[];  /* NULL-terminated */

void pm_result_init(struct pm_result *r);
/* Copies the numeric columns (U, D) found in `o` (JSON numbers; other keys
 * ignored) into r; with `strings`, the S columns too. */
void pm_result_set_from_json(struct pm_result *r, const struct cJSON *o, bool strings);
struct cJSON *pm_result_to_json(const struct pm_result *r);
/* Malloc'd, with the trailing newline. */
char *pm_result_csv_header(void);
char *pm_result_csv_row(const struct pm_result *r);

/* The results format. Version 2 added the columns PM_RESULT_V2_COLUMNS
 * (timing mode, page faults, machine load); a record of version 1 (a folder
 * written before them, provenance without results_version) still loads,
 * with those columns empty. A folder of a newer version is refused. */
#define PM_RESULTS_VERSION 2
extern const char *const pm_result_v2_columns[];   /* NULL-terminated */

/* Reads DIR/results.jsonl: every complete line must be a record with every
 * column of version 1 (else -1 and err names file and line); a folder of a
 * newer format version is refused (pm_results_check_version). A last line without its
 * newline (a write cut short) is left out and *partial_at set to its
 * offset (else to the file size). A missing file is 0 records. */
int pm_results_load(const char *dir, struct pm_result **rows, size_t *n, long *partial_at,
                    char err[PM_ERR_LEN]);
/* Appends r to DIR/results.jsonl and DIR/results.csv (the file descriptors
 * given, opened O_APPEND), one write() each, then fdatasync. 0 or -1. */
int pm_results_append(int fd_jsonl, int fd_csv, const struct pm_result *r);
/* Keeps the last record of each (workload, backend, rep) in place order;
 * returns the new count. */
size_t pm_results_latest(struct pm_result *rows, size_t n);

/* ---- the summary ---- */

enum pm_agg_metric {
    PM_AG_NS, PM_AG_PEAK_FP, PM_AG_PEAK_LIVE, PM_AG_FINAL_FP, PM_AG_FRAG4, PM_AG_RETENTION,
    PM_AG_RETENTION_TRIMMED, PM_AG_GC_NS, PM_AG_LAT_P50, PM_AG_LAT_P99, PM_AG_LAT_P999,
    PM_AG_LAT_MAX, PM_AG_MAX_RSS, PM_AG_COUNT
};

struct pm_stat {
    unsigned n;                 /* values (ok runs where the figure is defined) */
    double med, min, max;       /* NAN when n == 0 */
};

struct pm_agg {
    char workload[64], kind[8], backend[128];
    unsigned ok, failed;        /* runs */
    char reason[PM_RESULT_STR]; /* the last failure's reason */
    struct pm_stat m[PM_AG_COUNT];
    struct pm_stat ratio;       /* ns/op over the baseline's median ns/op (same workload) */
    struct pm_ci ns_ci;         /* median ns/op and its interval (stats.h) */
    struct pm_ci ratio_ci;      /* median ns/op / the baseline's, bootstrap interval */
    bool indistinct;            /* its ns/op interval overlaps the baseline's: not ranked */
    unsigned loaded;            /* ok reps taken on a loaded machine (column `loaded`) */
    double minflt_per_op;       /* median over the ok reps */
    char time_mode[8];          /* of its reps: cold, warm, mixed or "" (version 1) */
    bool is_baseline;
};

struct pm_summary {
    struct pm_agg *rows;        /* workload-major, in order of first appearance */
    size_t n;
    char **workloads, **backends;   /* in order of first appearance */
    size_t nworkloads, nbackends;
    char baseline[128];         /* the baseline asked for ("" = cpython, else system) */
};

/* Groups the latest record of each run (rows as given, any order). */
int pm_summary_build(const struct pm_result *rows, size_t n, const char *baseline,
                     struct pm_summary *s);
/* Checks DIR/provenance.json's results_version: 0, or -1 with err naming
 * the version when it is newer than PM_RESULTS_VERSION. A folder without
 * provenance or without the key is version 1. *version (may be NULL) gets
 * it. */
int pm_results_check_version(const char *dir, int *version, char err[PM_ERR_LEN]);
/* The baseline of one workload: s->baseline if it has ok runs there (NULL
 * if it has none), else cpython, else system, else the first backend timed
 * on it; NULL if none was. */
const char *pm_summary_baseline_for(const struct pm_summary *s, const char *workload);
const struct pm_agg *pm_summary_get(const struct pm_summary *s, const char *workload,
                                    const char *backend);
/* Fixed-width text (terminal) or Markdown. */
void pm_summary_print(FILE *f, const struct pm_summary *s, bool markdown);
/* summary.md: a heading and a paragraph from the provenance (suite,
 * commit, compiler, CPU, reps, merged folders), the column definitions, the
 * table. 0 or -1. */
int pm_summary_write_md(const char *path, const struct pm_summary *s, const struct cJSON *prov);
void pm_summary_free(struct pm_summary *s);

/* ---- provenance ---- */

/* Adds the machine's facts to obj: cpu_model, cpus, kernel, glibc, hostname,
 * mem_total_bytes, loadavg (1, 5, 15 min). */
void pm_prov_machine(struct cJSON *obj);
/* "load average now" (1 min), -1 if unknown. */
double pm_prov_load1(void);
/* Parses the whole file; NULL with err if unreadable or not JSON. */
struct cJSON *pm_read_json_file(const char *path, char err[PM_ERR_LEN]);
/* Writes `o` (pretty) to path via a temporary file and rename. 0 or -1. */
int pm_write_json_file(const char *path, const struct cJSON *o);

/* Creates a folder and its parents (mkdir -p). 0 or -1 (errno). */
int pm_mkdir_p(const char *path);

PM_API_END
#endif
