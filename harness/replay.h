/* harness/replay.h — replays a raw trace on a backend and computes the
 * metrics defined in metrics.h (and README).
 *
 * Entry points: pm_replay_measure (one sampled run: L, F, M series and the
 * fragmentation/retention figures, optionally per-op latency), pm_replay_time
 * (one unsampled run: wall time only), pm_replay_scan (a decode-only
 * pre-pass: op count and the op at which live bytes peak, which depends on
 * the trace alone), pm_replay_json (the result as `replay --json` prints it).
 *
 * Memory discipline: the slot table (16 bytes per slot) is allocated and
 * touched before the footprint baseline is taken, and the trace is a
 * file-backed mmap, so neither is counted in F(t).
 */
#ifndef PM_REPLAY_H
#define PM_REPLAY_H

#include "allocator.h"
#include "latency.h"
#include "trace.h"

#include <stdio.h>

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
};

struct pm_replay_scan {
    uint64_t ops;               /* ops replayed (after the domain filter) */
    uint64_t peak_live_bytes;   /* max L */
    uint64_t peak_live_op;      /* first op index (1-based count of ops done) at max L */
    uint64_t final_live_bytes;  /* L(T) */
};

struct pm_replay_result {
    struct pm_replay_scan scan;
    uint64_t peak_footprint_bytes;   /* max F over samples */
    uint64_t peak_footprint_op;
    uint64_t live_at_peak_footprint; /* L(tF) */
    uint64_t footprint_at_peak_live; /* F(tL), sampled exactly at tL */
    uint64_t final_footprint_bytes;  /* F(T), before freeing what is still live */
    uint64_t trimmed_footprint_bytes;/* F(T) after trim() */
    uint64_t backend_peak_mapped;    /* PM_STAT_NA when the backend cannot say */
    uint64_t samples;
    double frag4, frag3, frag_at_peak_live, retention, retention_trimmed;
    struct pm_lat_summary latency;   /* samples == 0 unless opts.latency_every */
};

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

/* One timed run without sampling on a fresh instance; *ns = wall ns of the
 * op loop. Same return codes. */
int pm_replay_time(struct pm_trace *t, const char *spec, const struct pm_replay_opts *o,
                   uint64_t *ns, char err[PM_ERR_LEN]);

/* The same on an existing heap (its blocks are freed at the end). */
int pm_replay_time_on(struct pm_trace *t, const struct allocator_ops *ops, pm_heap_t *h,
                      const struct pm_replay_opts *o, uint64_t *ns, char err[PM_ERR_LEN]);

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
                   const struct pm_replay_opts *o, uint32_t stop_phase,
                   struct pm_replay_held *held, char err[PM_ERR_LEN]);
void pm_replay_release(struct pm_replay_held *held, const struct allocator_ops *ops, pm_heap_t *h);

/* The result as one cJSON object, the keys of `replay --json` (README):
 * backend, trace, domain, ops, reps, ns_per_op (median of ns[0..reps), which
 * is sorted; null without reps), ns_per_op_min, ns_per_op_max,
 * peak_live_bytes, peak_live_op, final_live_bytes, peak_footprint_bytes,
 * peak_footprint_op, final_footprint_bytes, trimmed_footprint_bytes, frag4,
 * frag3, frag_at_peak_live, retention, retention_trimmed,
 * backend_peak_mapped_bytes, samples; with latency samples also lat_samples,
 * lat_p50_ns, lat_p99_ns, lat_p999_ns, lat_max_ns, lat_floor_ns. NULL if out
 * of memory. */
struct cJSON;
struct cJSON *pm_replay_json(const char *backend, const char *trace, const char *domain,
                             const struct pm_replay_result *r, uint64_t reps,
                             const uint64_t *ns_sorted);

/* Parses "obj|mem|raw|pymalloc|all" into a domain mask; false if unknown. */
bool pm_replay_parse_domains(const char *s, unsigned *mask);

#endif
