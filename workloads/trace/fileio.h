/* workloads/trace/fileio.h — the one way every input file is opened (traces,
 * object scripts, suite files, mtrace logs) and every output file is
 * written (temporary file, fsync, rename).
 *
 * Inputs: regular files only. The open is O_NONBLOCK, so a FIFO with no
 * writer cannot block it, and fstat() then refuses anything but a regular
 * file ("not a regular file"); a size limit is checked before anything is
 * allocated. Outputs: pm_out_check says up front whether a path can be
 * written (so a command can refuse with exit 2 before its work starts);
 * pm_out_open/commit/abort write PATH.tmp (O_EXCL), fsync it, rename it over
 * PATH and fsync the folder, or remove it.
 *
 * Messages are "PATH: problem". Entry points: pm_file_open_read,
 * pm_file_read_all, pm_out_check, pm_out_open, pm_out_commit, pm_out_abort.
 */
#ifndef PM_FILEIO_H
#define PM_FILEIO_H

#include "allocator.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "pm_api.h"

PM_API_BEGIN

/* Opens path read-only (O_CLOEXEC, blocking mode restored after the check):
 * a regular file of at most max_bytes. Returns the fd and its size in *size,
 * or -1 with err set. */
/* Writes all n bytes of s to fd, retrying short writes and EINTR. 0, or
 * -1 with errno. */
int pm_write_all(int fd, const char *s, size_t n);

int pm_file_open_read(const char *path, uint64_t max_bytes, uint64_t *size, char err[PM_ERR_LEN]);

/* The whole file (pm_file_open_read's rules) in a malloc'ed buffer with a
 * NUL after its *len bytes; NULL with err set. */
char *pm_file_read_all(const char *path, uint64_t max_bytes, size_t *len, char err[PM_ERR_LEN]);

/* Whether path can become an output: false with err set when it exists and
 * !overwrite, names a folder (or ends in '/') or anything else that is not
 * a regular file (a device, a FIFO: the rename would replace it), its
 * folder is missing, not a folder or not writable, or PATH.tmp exists. */
bool pm_out_check(const char *path, bool overwrite, char err[PM_ERR_LEN]);
/* The same without the PATH.tmp rule (for a caller that owns PATH.tmp:
 * trace record --salvage renames it to PATH). */
bool pm_out_check_target(const char *path, bool overwrite, char err[PM_ERR_LEN]);

/* An output in progress: writes go to f (PATH.tmp). */
struct pm_out {
    FILE *f;
    char *path;   /* the final name */
    char *tmp;    /* PATH.tmp */
};

/* Creates PATH.tmp (O_EXCL); 0, or -1 with err set. */
int pm_out_open(struct pm_out *o, const char *path, char err[PM_ERR_LEN]);
/* Flushes, fsyncs and closes the temporary file, renames it to PATH (over an
 * existing PATH only if overwrite; else link+unlink so that an existing one
 * is never replaced) and fsyncs the folder. On any failure the temporary
 * file is removed, PATH is untouched, and -1 is returned with err set. */
int pm_out_commit(struct pm_out *o, bool overwrite, char err[PM_ERR_LEN]);
/* Closes and removes the temporary file. */
void pm_out_abort(struct pm_out *o);

/* fsync of the folder holding path (best effort: 0 or -1 with errno). */
int pm_fsync_dir_of(const char *path);

PM_API_END
#endif
