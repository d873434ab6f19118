/* workloads/trace/tee.h — a wrapper backend that tees every request made to an
 * inner backend into a raw trace (pm_trace_writer), naming blocks by dense
 * slots (pm_slotmap: a freed slot is reused first). The object layer's
 * request stream depends only on its workload and seed, so a trace recorded
 * through the tee on one backend replays the same requests on every other.
 *
 * Entry points: pm_tee_open, pm_tee_close, pm_tee_error. The tee's ops and
 * heap are used like any backend's; it never prints. If the writer fails
 * (disk full), recording stops and pm_tee_error says why; the requests still
 * reach the inner backend.
 */
#ifndef PM_TEE_H
#define PM_TEE_H

#include "allocator.h"
#include "trace.h"
#include "pm_api.h"

PM_API_BEGIN

/* Wraps (inner_ops, inner). Every op is written with `domain`. Returns the
 * tee's heap and sets *ops_out, or NULL with err filled. The tee does not
 * own the inner heap or the writer. */
pm_heap_t *pm_tee_open(const struct allocator_ops *inner_ops, pm_heap_t *inner,
                       struct pm_trace_writer *w, enum pm_domain domain,
                       const struct allocator_ops **ops_out, char err[PM_ERR_LEN]);
/* Frees the tee (not the inner heap, not the writer). */
void pm_tee_close(pm_heap_t *tee);
/* NULL, or why recording stopped. */
const char *pm_tee_error(const pm_heap_t *tee);

PM_API_END
#endif
