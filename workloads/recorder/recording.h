/* workloads/recorder/recording.h — what the harness needs to know about the files the
 * recorder (workloads/recorder/recorder.c, libpmrecord.so) writes. The
 * importer of glibc mtrace logs is in the trace library (mtrace.h).
 *
 * Entry points
 *  pm_recording_trim   cut an unfinished recording after its last whole op
 */
#ifndef PM_RECORDING_H
#define PM_RECORDING_H

#include "trace.h"
#include "mtrace.h"     /* pm_mtrace_import, declared here before the split */

#include <stdio.h>
#include "pm_api.h"

PM_API_BEGIN

/* The recorder writes through a preallocated, zero-filled mapping and
 * commits each op by writing its length byte last, so a recording whose
 * process died (FINISHED clear) is: header, metadata, whole ops, then at most
 * one uncommitted op's body and zeros. This cuts the file after the last
 * whole op. A finished trace is left alone (*cut = 0).
 * Returns 0 with *ops (whole ops kept; finished: the header's count) and
 * *cut (bytes removed); -1 with err "PATH: ..." if the file is not such a
 * recording (then it is unchanged). */
int pm_recording_trim(const char *path, uint64_t *ops, uint64_t *cut, char err[PM_ERR_LEN]);

PM_API_END
#endif
