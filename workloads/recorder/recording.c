/* workloads/recorder/recording.c — finishing the file of a recorder that died: cut an
 * unfinished recording after its last whole op (see recording.h for why
 * that is well defined).
 *
 * Entry point: pm_recording_trim.
 */
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int pm_recording_trim(const char *path, uint64_t *ops, uint64_t *cut, char err[PM_ERR_LEN])
{
    *ops = 0;
    *cut = 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, PM_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) || st.st_size < PM_TRACE_HEADER_SIZE) {
        snprintf(err, PM_ERR_LEN, "%s: not a recording: %lld bytes, shorter than a trace header", path,
                 (long long)st.st_size);
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *f = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (f == MAP_FAILED) {
        snprintf(err, PM_ERR_LEN, "%s: cannot map: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    int rc = -1;
    uint64_t flags = f[12] | (uint64_t)f[13] << 8, meta = le64(f + 32);
    if (memcmp(f, PM_TRACE_MAGIC, PM_TRACE_MAGIC_LEN)) {
        snprintf(err, PM_ERR_LEN, "%s: byte 0: bad magic (not a pymemlab trace)", path);
    } else if (flags & PM_TRACE_FLAG_FINISHED) {
        *ops = le64(f + 16);
        rc = 0;
    } else if (meta > len - PM_TRACE_HEADER_SIZE) {
        snprintf(err, PM_ERR_LEN, "%s: byte 32: metadata length %" PRIu64 " runs past the end of the file", path,
                 meta);
    } else {
        size_t p = PM_TRACE_HEADER_SIZE + (size_t)meta, n = 0;
        while (p < len && f[p] && f[p] <= len - p) {   /* committed whole ops */
            p += f[p];
            n++;
        }
        /* What follows must be the preallocated tail: an uncommitted op's
         * body (length byte still 0) and zeros. */
        size_t q = p + PM_TRACE_OP_MAX < len ? p + PM_TRACE_OP_MAX : len;
        while (q < len && !f[q])
            q++;
        if (p < len && f[p]) {
            snprintf(err, PM_ERR_LEN, "%s: byte %zu: an op runs past the end of the file (not a recorder's file?)",
                     path, p);
        } else if (q < len) {
            snprintf(err, PM_ERR_LEN, "%s: byte %zu: nonzero bytes after the last whole op at byte %zu (not a "
                     "recorder's preallocated tail)", path, q, p);
        } else if (p < len && ftruncate(fd, (off_t)p)) {
            snprintf(err, PM_ERR_LEN, "%s: cannot truncate: %s", path, strerror(errno));
        } else {
            *ops = n;
            *cut = len - p;
            rc = 0;
        }
    }
    munmap(f, len);
    close(fd);
    return rc;
}
