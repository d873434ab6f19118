/* harness/engine/pyrun.h — one Python-like workload (workloads/python/pywl.h) run
 * live on a backend, with the metrics of harness/engine/metrics.h and README.
 *
 * Entry points
 *   pm_pyrun_check         validates workload, backend spec and scale (no run)
 *   pm_pyrun_measure       one sampled run: memory figures, GC figures, series
 *   pm_pyrun_time          unsampled timed runs: ns_per_op (median, min, max)
 *   pm_pyrun_json          the result as one cJSON object (replay's keys)
 *   pm_pyrun_write_series  the series as CSV
 *   pm_pyrun_result_free   frees the series
 *
 * Each run: a fresh backend instance, an object space over it (config seed
 * = the workload seed), the workload, the space destroyed (a block left
 * over is a failure: the workload leaked), the backend destroyed.
 *
 * The measured run. The baseline B is the process's anonymous RSS after the
 * backend is created and the series buffer is touched, before the space is
 * created; F(t) = max(0, RSS(t) - B), L(t) = the space's live requested
 * bytes, M(t) = bytes the backend mapped through the OS layer (own backends;
 * PM_STAT_NA otherwise), t = op = requests the space made since its
 * creation. With opts.latency_every = N, one request in N (latency.h) is
 * timed around the backend call, through a thin wrapper between the space
 * and the backend (measured run only; the timed runs call the backend
 * directly). Samples: every `sample_every` ops (checked at each sampling
 * hook call of the workload), at every phase mark, at the hook call where L
 * is the largest seen (read at most every sample_every/8 ops while L keeps
 * growing: t_L is that call), and at the end hook (F(T), L(T)). At the end
 * hook, after F(T): the collector's counts are taken, then a full
 * collection and the backend's trim() run and F is read again
 * (retention_trimmed); then the workload tears its state down.
 * peak_live_bytes is the space's exact peak up to the end hook.
 *
 * Processes: the footprint is the whole process's. Call pm_pyrun_measure in
 * a fresh process (a forked child) before anything else has used the heap
 * of a global backend (system, tcmalloc, cpython): memory freed by an
 * earlier run stays in the process and hides the next run's growth.
 * pm_pyrun_time runs each of its reps in a fresh process of its own (a
 * forked child: fresh.h), cold (the workload's first run on a new instance)
 * or warm (the workload run once untimed on the instance, the space
 * destroyed, then timed again on a new space over the same instance); call
 * it before anything in this process used a global backend.
 *
 * A result starts with pm_pyrun_result_init; measure and time fill their
 * parts of it, in either order; pm_pyrun_result_free releases the series.
 *
 * Library-style: never prints, never exits. Return codes: PM_PYRUN_OK,
 * PM_PYRUN_USAGE (bad input: unknown workload with the known names, unknown
 * or unavailable backend, bad option, scale out of range), PM_PYRUN_FAIL
 * (the run failed: MemoryError, leaked blocks); err[PM_ERR_LEN] gets one line.
 */
#ifndef PM_PYRUN_H
#define PM_PYRUN_H

#include "allocator.h"
#include "latency.h"
#include "results.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "pm_api.h"

PM_API_BEGIN

struct cJSON;

enum { PM_PYRUN_OK = 0, PM_PYRUN_FAIL = 1, PM_PYRUN_USAGE = 2 };

#define PM_PYRUN_SERIES_CAP 4096        /* rows kept with the adaptive interval */
#define PM_PYRUN_SERIES_CAP_FIXED (1u << 18) /* rows kept with a given interval */
#define PM_PYRUN_FIRST_EVERY 64         /* the adaptive interval's start, ops */
#define PM_PYRUN_MAX_PHASES 64

enum pm_pyrun_mark {
    PM_PYRUN_ROW = 0,               /* a regular sample */
    PM_PYRUN_PHASE,                 /* a phase starts here (phase = its index) */
    PM_PYRUN_PEAK_LIVE,             /* t_L: the sample at the largest L seen */
    PM_PYRUN_END,                   /* t = T, the end hook */
};

struct pm_pyrun_sample {
    uint64_t op;                    /* requests since the space was created */
    uint64_t live_bytes;            /* L(op) */
    uint64_t footprint_bytes;       /* F(op) */
    uint64_t mapped_bytes;          /* M(op), PM_STAT_NA if the backend cannot say */
    uint16_t mark;                  /* enum pm_pyrun_mark */
    uint16_t phase;                 /* index into phases[] when mark == PM_PYRUN_PHASE */
    uint64_t garbage_held_bytes;    /* issue 20: pm_gc_garbage_held at this sample,
                                       PM_STAT_NA unless opts.gc_held */
};

struct pm_pyrun_phase {
    uint64_t op;                    /* where it starts */
    const char *name;               /* static, from the workload */
};

struct pm_pyrun_opts {
    uint64_t sample_every;          /* ops between samples; 0: adaptive (start at
                                       PM_PYRUN_FIRST_EVERY, doubled whenever the series
                                       reaches PM_PYRUN_SERIES_CAP rows) */
    unsigned reps;                  /* timed runs for pm_pyrun_time; 0 means 1 */
    pm_misuse_fn on_misuse;         /* the backend's misuse handler (NULL: count) */
    void *misuse_ctx;
    unsigned space_flags;           /* PM_OBJ_* switches of the space */
    /* Tests: create the backend with ops->create instead of looking the spec
     * up (backend_spec is then only the name reported). */
    const struct allocator_ops *ops;
    uint64_t latency_every;         /* measured run: time one request in N; 0: off */
    int mode;                       /* timed runs: enum pm_time_mode (replay.h), 0 = cold */
    /* ---- the collector (issue 20) ---- */
    const char *gc;                 /* collector name (NULL: gen311) */
    bool gc_threshold_set;          /* gc_threshold replaces the collector's defaults */
    int64_t gc_threshold[3];
    bool gc_held;                   /* measured run: garbage held at the samples at
                                       least 16 sampling intervals apart (an O(heap)
                                       pass each), and the bytes examined */
};

#define PM_PYRUN_MAX_PAUSES 65536       /* pauses kept; beyond, every other one
                                           (stride doubles): max and total stay exact */

struct pm_pyrun_result {
    /* The record's fields this engine fills (results.h, result_fields.def):
     * workload, backend (the spec as given), scale, seed, time_mode; the
     * timed runs' ops, ns_per_op (median), minflt/majflt_per_op, gc_time_ns
     * (median of the timed runs, else the measured run's); the measured
     * run's L, F, the ratios (pm_result_derive), backend_peak_mapped_bytes,
     * the collector's counts and pauses (issue 20), lat_*. Null where not
     * measured. */
    struct pm_result rec;
    unsigned reps;                  /* timed runs (0: pm_pyrun_time not called) */
    double ns_per_op_min, ns_per_op_max;
    double ns_per_op_rep[64];       /* each timed rep, in run order (the first 64) */
    int mode;                       /* the timed runs' enum pm_time_mode */
    uint64_t measure_wall_ns;       /* wall time of the measured run (sampling included) */
    uint64_t sample_every;          /* the final sampling interval, ops */
    struct pm_pyrun_sample *series; /* nseries rows in op order (malloc'd) */
    size_t nseries;
    struct pm_pyrun_phase phases[PM_PYRUN_MAX_PHASES];
    size_t nphases;
    bool measured;                  /* pm_pyrun_measure filled the memory fields */
    uint64_t gc_examined_bytes;     /* PM_STAT_NA unless opts.gc_held (not a column) */
    uint64_t *gc_pause_ns;          /* the kept pauses, in order (malloc'd) */
    size_t gc_npause;
};

void pm_pyrun_result_init(struct pm_pyrun_result *res);
int pm_pyrun_check(const char *workload, const char *backend_spec, double scale, uint64_t seed,
                   const struct pm_pyrun_opts *opts, char err[PM_ERR_LEN]);
/* One sampled run; fills the identity, memory, GC and series fields. */
int pm_pyrun_measure(const char *workload, const char *backend_spec, double scale,
                     uint64_t seed, const struct pm_pyrun_opts *opts,
                     struct pm_pyrun_result *res, char err[PM_ERR_LEN]);
/* opts->reps unsampled runs; fills ops, reps, ns_per_op*, gc_time_ns (and
 * the identity fields if the result is fresh). */
int pm_pyrun_time(const char *workload, const char *backend_spec, double scale, uint64_t seed,
                  const struct pm_pyrun_opts *opts, struct pm_pyrun_result *res,
                  char err[PM_ERR_LEN]);
/* The record's fields marked PM_J_P (result_fields.def; one emitter) and
 * reps, ns_per_op_min, ns_per_op_max, ns_per_op_ci_*, ci_level,
 * ns_per_op_reps, gc_examined_bytes, seed. Keys: backend, workload, ops, reps, ns_per_op, ns_per_op_min, ns_per_op_max,
 * peak_live_bytes, final_live_bytes, peak_footprint_bytes,
 * final_footprint_bytes, frag4, frag3, frag_at_peak_live, retention,
 * retention_trimmed, backend_peak_mapped_bytes, gc_collections, gc_collected,
 * gc_uncollectable, gc_time_ns, seed, scale; null where a figure is
 * undefined or unknown; with latency samples also the lat_* keys
 * (pm_lat_json). NULL if out of memory. */
struct cJSON *pm_pyrun_json(const struct pm_pyrun_result *res);
/* CSV: op,live_bytes,footprint_bytes,mapped_bytes,mark — mapped_bytes empty
 * where unknown; mark empty, "phase:NAME", "peak_live" or "end"; with
 * opts.gc_held a sixth column garbage_held_bytes. */
int pm_pyrun_write_series(FILE *f, const struct pm_pyrun_result *res, char err[PM_ERR_LEN]);
void pm_pyrun_result_free(struct pm_pyrun_result *res);

PM_API_END
#endif
