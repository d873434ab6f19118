/* harness/cli/figures.h — what `plot` and `report` both compute from a results
 * folder, so that a figure and the page around it say the same thing.
 *
 * Entry points
 *   pm_geomeans       per backend: the geometric mean over the workloads of
 *                     its ns/op ratio to each workload's baseline, with a
 *                     bootstrap 95% interval (stats.h)
 *   pm_fig_stamp      "pymemlab COMMIT · DATE UTC · load L on N CPUs": the
 *                     line every figure and the report carry (provenance.json)
 *   pm_fig_lat_every  the latency sampling rate the runs used
 *   pm_fig_has_memory whether a backend has memory figures (not null)
 */
#ifndef PM_FIGURES_H
#define PM_FIGURES_H

#include "results.h"
#include "stats.h"

#include <stdbool.h>
#include <stddef.h>

struct cJSON;

struct pm_geo {
    struct pm_ci ci;            /* ci.n: workloads in the mean */
    bool indistinct;            /* the interval holds 1 (or fewer than 2 reps anywhere) */
};

/* out[b] for s->backends[b]; rows: the latest record of each run. 0 or -1
 * (out of memory). */
int pm_geomeans(const struct pm_result *rows, size_t n, const struct pm_summary *s, struct pm_geo *out);
/* Into buf: commit (7 hex, "+dirty"), the last session's start and end (UTC),
 * the 1-minute load average (start and highest) and the CPUs. "?" for what
 * provenance lacks. */
void pm_fig_stamp(const struct cJSON *prov, char *buf, size_t len);
/* config.latency_every, else the median ops / lat_samples of the ok runs
 * (rounded), else 0 (unknown). */
unsigned pm_fig_lat_every(const struct cJSON *prov, const struct pm_result *rows, size_t n);
bool pm_fig_has_memory(const char *backend);

#endif
