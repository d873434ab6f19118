/* harness/engine/replay.h — replays a raw trace on a backend and computes the
 * metrics defined in metrics.h (and README).
 *
 * Entry points: pm_replay_measure (one sampled run: L, F, M series and the
 * fragmentation/retention figures, optionally per-op latency), pm_replay_time
 * (one unsampled run: wall time only), pm_replay_scan (a decode-only
 * pre-pass: op count and the op at which live bytes peak, which depends on
 * the trace alone), pm_replay_json (the result as `replay --json` prints it).
 *
 * Memory discipline: nothing of the harness's own may grow after the
 * footprint baseline. The slot table (16 bytes per slot in sampled runs, 8
 * in timed ones) is an anonymous mapping of its own, made with MAP_POPULATE
 * and then written page by page through a volatile pointer (a memset of
 * zeros after calloc is legally removed by the compiler: it was, and the
 * table's pages faulted in during the measured run); the cursor's liveness
 * bitmap, the loop's 24 KiB decode buffer (a local of the loop's own frame:
 * until 2026-12-07 it was not touched, and up to 6 of its pages faulted in
 * with the first chunk, docs/corrections.md item 3) and the stack below the
 * loop's frame are touched the same way; the trace is a file-backed mmap
 * (its pages are not anonymous). The table is sized by
 * the slots the trace uses (the scan's nslots), never by the header's
 * claim: a trace whose slot numbers are sparse (a slot far above the number
 * of allocations before it) is refused, so a 49-byte file cannot make the
 * harness map gigabytes. tests/test_replay.c checks both.
 *
 * Heap state (README, Metrics): pm_replay_time_fresh and
 * pm_replay_measure_fresh run in a forked child of the caller, so every
 * backend, global or per-instance, starts from the same process history.
 * Timing modes: PM_TIME_COLD times the first replay on a new instance in a
 * fresh process (the backend's first touch of its memory included, as in one
 * run of a real program); PM_TIME_WARM replays the trace once untimed on the
 * instance, frees every block, then times a second replay on that same
 * instance. Minor and major page faults of the timed loop are counted
 * (getrusage).
 *
 * Library-style: never prints, never exits (see engine.h).
 */
#ifndef PM_REPLAY_H
#define PM_REPLAY_H

#include "allocator.h"
#include "latency.h"
#include "results.h"
#include "trace.h"

#include <stdio.h>
#include "pm_api.h"

PM_API_BEGIN

enum pm_touch { PM_TOUCH_NONE, PM_TOUCH_PAGES, PM_TOUCH_FULL };

/* How a timed run dispatches ops to the backend (replay.c explains). Both
 * make the same calls in the same order; sampled runs always go per op. */
enum pm_replay_engine {
    PM_ENGINE_WINDOWS,          /* one jump per window of 6 allocs/frees (default) */
    PM_ENGINE_PER_OP,           /* one branch on the op kind per op */
};

struct pm_replay_opts {
    uint64_t sample_every;      /* sample F and M every N ops (0: T/4000, at least 1) */
    uint64_t check_every;       /* run check() every N ops (0: never) */
    enum pm_touch touch;        /* what replay writes into each new block */
    unsigned domains;           /* bit mask of (1 << enum pm_domain) replayed; 0: all */
    FILE *series;               /* CSV rows (op, live, footprint, mapped) or NULL */
    bool lenient;               /* read an unfinished or cut trace up to its last whole op */
    uint64_t latency_every;     /* measured run: time one op in N (latency.h); 0: off */
    enum pm_replay_engine engine; /* timed runs */
    pm_misuse_fn on_misuse;     /* the backend's misuse handler (NULL: count) */
    void *misuse_ctx;
};

struct pm_replay_scan {
    uint64_t ops;               /* ops replayed (after the domain filter) */
    uint64_t peak_live_bytes;   /* max L */
    uint64_t peak_live_op;      /* first op index (1-based count of ops done) at max L */
    uint64_t final_live_bytes;  /* L(T) */
    uint64_t nslots;            /* highest slot used + 1: the slot table's entries */
};

/* A trace whose slot numbers run this far above the number of allocating ops
 * seen so far is sparse: refused (see the memory discipline above). */
#define PM_REPLAY_SLOT_SLACK (UINT64_C(1) << 20)

enum pm_time_mode { PM_TIME_COLD, PM_TIME_WARM };
const char *pm_time_mode_name(enum pm_time_mode m);      /* "cold", "warm" */
bool pm_time_mode_parse(const char *s, enum pm_time_mode *m);

/* One timed run. */
struct pm_timing {
    uint64_t ns;                /* wall time of the timed op loop (decoding excluded) */
    uint64_t ops;               /* ops it executed */
    uint64_t minflt;            /* minor page faults during the timed loop */
    uint64_t majflt;            /* major page faults during it */
    int pid;                    /* the process it ran in */
};

struct pm_replay_result {
    struct pm_replay_scan scan;
    /* The record's fields this run measures (results.h): ops, L, F, the
     * ratios (pm_result_derive), backend_peak_mapped_bytes, lat_*; memory
     * figures null for a backend with no memory figures (null). */
    struct pm_result rec;
    struct pm_mem_points pts;        /* what the ratios were derived from */
    uint64_t peak_footprint_op;
    bool no_memory;                  /* the backend has no memory figures (null) */
    uint64_t samples;
};

/* A result without the sampled run (the runner's reps after the first):
 * the scan's figures, every memory figure null. */
void pm_replay_result_unmeasured(struct pm_replay_result *r, const struct pm_replay_scan *scan);

/* Decode-only pass that validates the whole trace (so the header's slot
 * count is confirmed before anything is sized by it). Must precede
 * pm_replay_measure/pm_replay_time. Returns 0, or -1 with err filled
 * (malformed trace; err has no file name). */
int pm_replay_scan(struct pm_trace *t, unsigned domains, struct pm_replay_scan *out,
                   char err[PM_ERR_LEN]);
/* The same for a trace read leniently (then set opts.lenient for the runs). */
int pm_replay_scan_lenient(struct pm_trace *t, unsigned domains, struct pm_replay_scan *out,
                           char err[PM_ERR_LEN]);

/* One sampled run on a fresh instance made from `spec`. Returns 0; 1 if the
 * backend failed (out of memory, check() violation: err names the op);
 * 2 for a malformed trace or a bad spec (err filled). */
int pm_replay_measure(struct pm_trace *t, const char *spec, const struct pm_replay_opts *o,
                      const struct pm_replay_scan *scan, struct pm_replay_result *r,
                      char err[PM_ERR_LEN]);

/* pm_replay_measure in a fresh process (fresh.h); the series, if any, is
 * written by the child into o->series's file (flushed before it ends). */
int pm_replay_measure_fresh(struct pm_trace *t, const char *spec, const struct pm_replay_opts *o,
                            const struct pm_replay_scan *scan, struct pm_replay_result *r,
                            char err[PM_ERR_LEN]);

/* One timed run without sampling in this process, on a new instance, in
 * timing mode `mode`. Same return codes. */
int pm_replay_time(struct pm_trace *t, const char *spec, const struct pm_replay_opts *o,
                   const struct pm_replay_scan *scan, enum pm_time_mode mode,
                   struct pm_timing *tm, char err[PM_ERR_LEN]);

/* The same in a fresh process: what every report uses. */
int pm_replay_time_fresh(struct pm_trace *t, const char *spec, const struct pm_replay_opts *o,
                         const struct pm_replay_scan *scan, enum pm_time_mode mode,
                         struct pm_timing *tm, char err[PM_ERR_LEN]);

/* One timed run on an existing heap (its blocks are freed at the end). */
int pm_replay_time_on(struct pm_trace *t, const struct allocator_ops *ops, pm_heap_t *h,
                      const struct pm_replay_opts *o, const struct pm_replay_scan *scan,
                      struct pm_timing *tm, char err[PM_ERR_LEN]);

/* Checks a backend spec by creating and destroying an instance in a fresh
 * process (so that a global backend is not initialised here). 0, or 2 with
 * err. */
int pm_replay_check_spec(const char *spec, char err[PM_ERR_LEN]);

/* Blocks left live in a heap by pm_replay_into. */
struct pm_replay_held {
    char **base;                /* slot -> block, NULL when free */
    uint64_t nslots;
    uint64_t ops;               /* ops executed */
    bool stopped_at_phase;      /* the stop phase was reached */
};

/* Replays `t` (already scanned) into an existing heap, up to phase mark
 * `stop_phase` (0: to the end), leaving the live blocks in place (for a
 * report of the heap's state). pm_replay_release frees them. Returns 0, 1
 * (backend failure) or 2 (malformed trace), err filled. */
int pm_replay_into(struct pm_trace *t, const struct allocator_ops *ops, pm_heap_t *h,
                   const struct pm_replay_opts *o, const struct pm_replay_scan *scan,
                   uint32_t stop_phase,
                   struct pm_replay_held *held, char err[PM_ERR_LEN]);
void pm_replay_release(struct pm_replay_held *held, const struct allocator_ops *ops, pm_heap_t *h);

struct cJSON;
/* The record of a result and its timed reps tm[0..reps): r->rec with the
 * backend, time_mode, ops, ns_per_op (median; *ci its interval, may be
 * NULL), minflt/majflt_per_op. 0, or -1 if out of memory. */
struct pm_ci;
int pm_replay_record(const struct pm_replay_result *r, const char *backend, uint64_t reps,
                     const struct pm_timing *tm, enum pm_time_mode mode, struct pm_result *out,
                     struct pm_ci *ci);
/* The result as one cJSON object, the keys of `replay --json` (README): the
 * record's fields marked PM_J_R in result_fields.def (pm_replay_record
 * through the one emitter: backend, ops, ns_per_op, time_mode,
 * minflt/majflt_per_op, L, F, the ratios, backend_peak_mapped_bytes, with
 * latency samples the lat_* fields; memory figures null for a backend with
 * no memory figures) and what is not a record field: trace, domain, reps,
 * ns_per_op_reps (every rep, in run order), ns_per_op_ci_lo,
 * ns_per_op_ci_hi, ci_level (stats.h), ns_per_op_min, ns_per_op_max,
 * peak_live_op, peak_footprint_op, samples. NULL if out of memory. */
struct cJSON *pm_replay_json(const char *backend, const char *trace, const char *domain,
                             const struct pm_replay_result *r, uint64_t reps,
                             const struct pm_timing *tm, enum pm_time_mode mode);

/* Parses "obj|mem|raw|pymalloc|all" into a domain mask; false if unknown. */
bool pm_replay_parse_domains(const char *s, unsigned *mask);

PM_API_END
#endif
