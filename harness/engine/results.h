/* harness/engine/results.h — the one record format of suite results, the results
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

/* The fields: harness/engine/result_fields.def (name, type, unit, aggregation,
 * JSON documents, description). The order is the CSV column order. */

/* Which --json documents carry a field (its `json` flags). */
enum {
    PM_J_R = 1u << 0,           /* replay --json */
    PM_J_P = 1u << 1,           /* pyrun --json */
    PM_J_P_TIMED = 1u << 2,     /* pyrun --json, when it timed reps */
    PM_J_P_MEASURED = 1u << 3,  /* pyrun --json, after the measured run */
    PM_J_LAT = 1u << 4,         /* both, when latency was sampled */
};

#define PM_RESULT_TYPECHAR_S 'S'
#define PM_RESULT_TYPECHAR_U 'U'
#define PM_RESULT_TYPECHAR_D 'D'
#define PM_RESULT_FIELD_S(name) char name[PM_RESULT_STR];
#define PM_RESULT_FIELD_U(name) uint64_t name;
#define PM_RESULT_FIELD_D(name) double name;

struct pm_result {
#define PM_FIELD(name, type, unit, agg, json, desc) PM_RESULT_FIELD_##type(name)
#include "result_fields.def"
#undef PM_FIELD
};

/* The summary's metrics: the fields marked med(ID), in list order. */
#define PM_AGG_ENUM_med(id) PM_AG_##id,
#define PM_AGG_ENUM_none
enum pm_agg_metric {
#define PM_FIELD(name, type, unit, agg, json, desc) PM_AGG_ENUM_##agg
#include "result_fields.def"
#undef PM_FIELD
    PM_AG_COUNT
};
#define PM_AGG_INDEX_med(id) PM_AG_##id
#define PM_AGG_INDEX_none (-1)

struct pm_result_column {
    const char *name;
    char type;                  /* 'S', 'U' or 'D' */
    size_t offset;
    const char *unit;
    int agg;                    /* enum pm_agg_metric, -1 if none */
    unsigned json;              /* PM_J_* */
    const char *description;
};
extern const struct pm_result_column pm_result_columns[];  /* NULL-terminated */

void pm_result_init(struct pm_result *r);
/* Copies the numeric columns (U, D) found in `o` (JSON numbers; other keys
 * ignored) into r; with `strings`, the S columns too. A key absent or null
 * leaves r's field as it is (a fresh record: null). */
void pm_result_set_from_json(struct pm_result *r, const struct cJSON *o, bool strings);
/* Every field: results.jsonl, the runner's pipe. */
struct cJSON *pm_result_to_json(const struct pm_result *r);
/* The one emitter: the fields of document `doc` (PM_J_R or PM_J_P; 0: all)
 * into o, in list order; `have` says which conditional groups apply
 * (PM_J_P_TIMED, PM_J_P_MEASURED; PM_J_LAT is decided by lat_samples).
 * Null: NAN, PM_STAT_NA, "". -1 if out of memory. */
int pm_result_json_add(struct cJSON *o, const struct pm_result *r, unsigned doc, unsigned have);

/* What the ratios are derived from (one sampled run). */
struct pm_mem_points {
    uint64_t peak_live;             /* max L */
    uint64_t peak_footprint;        /* max F, at t_F */
    uint64_t live_at_peak_footprint;/* L(t_F) */
    uint64_t footprint_at_peak_live;/* F(t_L) */
    uint64_t live_at_peak_live;     /* L(t_L): max L where t_L is sampled exactly */
    uint64_t final_footprint;       /* F(T) */
    uint64_t trimmed_footprint;     /* F after trim() */
};
/* The one derivation of every ratio: frag4 = max F / max L - 1, frag3 =
 * F(t_F) / L(t_F) - 1, frag_at_peak_live = F(t_L) / L(t_L) - 1, retention =
 * F(T) / max F, retention_trimmed = F(trimmed) / max F; NAN (null) where
 * the denominator is 0 (undefined). Also sets the byte fields it reads
 * (peak_live_bytes, peak/final/trimmed_footprint_bytes). */
void pm_result_derive(struct pm_result *r, const struct pm_mem_points *p);
/* The memory fields of a backend with no memory figures (null): null. */
void pm_result_no_memory(struct pm_result *r);
/* The lat_* fields from a latency summary (latency.h); null if no samples. */
struct pm_lat_summary;
void pm_result_set_latency(struct pm_result *r, const struct pm_lat_summary *s);
/* wall ns / ops and faults / ops of timed reps: ns_per_op, minflt_per_op,
 * majflt_per_op are the medians (NAN without reps or ops). */
void pm_result_set_timing(struct pm_result *r, const double *ns_per_op, const double *minflt_per_op,
                          const double *majflt_per_op, size_t reps);
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
