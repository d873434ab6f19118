/* harness/engine/series.h — the one writer of memory series files (series/NAME.csv
 * of a results folder, `replay --series`, `pyrun --series`): both engines
 * write their rows through it.
 *
 *   op,live_bytes,footprint_bytes,mapped_bytes[,mark[,garbage_held_bytes]]
 *
 * op = requests since the start, live = L(op), footprint = F(op), mapped =
 * M(op) (empty where the backend cannot say), mark (PM_SERIES_MARK: empty,
 * "phase:NAME", "peak_live" or "end"), garbage held (PM_SERIES_HELD: empty
 * where not measured). Engine code: writes only to the FILE it is given.
 */
#ifndef PM_SERIES_H
#define PM_SERIES_H

#include "allocator.h"

#include <stdint.h>
#include <stdio.h>
#include "pm_api.h"

PM_API_BEGIN

enum { PM_SERIES_MARK = 1u << 0, PM_SERIES_HELD = 1u << 1 };

struct pm_series_row {
    uint64_t op, live_bytes, footprint_bytes;
    uint64_t mapped_bytes;          /* PM_STAT_NA: unknown */
    const char *mark;               /* NULL or "": none; "phase:" + phase for a phase */
    const char *phase;              /* the phase's name when mark is "phase:" */
    uint64_t garbage_held_bytes;    /* PM_STAT_NA: not measured */
};

void pm_series_header(FILE *f, unsigned cols);
void pm_series_row(FILE *f, unsigned cols, const struct pm_series_row *r);
/* Flushes; 0, or -1 with err "cannot write the series: REASON". */
int pm_series_flush(FILE *f, char err[PM_ERR_LEN]);

PM_API_END
#endif
