/* workloads/trace/fileio.c — input opening and output writing for every command
 * (fileio.h). No printing, no exit: callers turn err into their message. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pm_file_open_read(const char *path, uint64_t max_bytes, uint64_t *size, char err[PM_ERR_LEN])
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer for ever. Regular files ignore it; it is cleared anyway. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, PM_ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st)) {
        snprintf(err, PM_ERR_LEN, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, PM_ERR_LEN, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        snprintf(err, PM_ERR_LEN, "%s: %" PRIu64 " bytes, over the %" PRIu64 "-byte limit", path,
                 (uint64_t)st.st_size, max_bytes);
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *size = (uint64_t)st.st_size;
    return fd;
}

char *pm_file_read_all(const char *path, uint64_t max_bytes, size_t *len, char err[PM_ERR_LEN])
{
    uint64_t size;
    int fd = pm_file_open_read(path, max_bytes, &size, err);
    if (fd < 0)
        return NULL;
    /* The size is checked before this allocation; a file that grows while
     * it is read is cut at its size when opened (read once, never more). */
    if (size > SIZE_MAX - 1) {
        snprintf(err, PM_ERR_LEN, "%s: too large", path);
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        snprintf(err, PM_ERR_LEN, "%s: out of memory for %" PRIu64 " bytes", path, size);
        close(fd);
        return NULL;
    }
    size_t n = 0;
    while (n < size) {
        ssize_t r = read(fd, buf + n, (size_t)size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, PM_ERR_LEN, "%s: cannot read: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;   /* shrank while read: what is there */
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The folder part of path ("." for a bare name), malloc'ed. */
static char *dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    char *d = strdup(dirname(copy));
    free(copy);
    return d;
}

bool pm_out_check(const char *path, bool overwrite, char err[PM_ERR_LEN])
{
    if (!pm_out_check_target(path, overwrite, err))
        return false;
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp) {
        snprintf(err, PM_ERR_LEN, "%s: out of memory", path);
        return false;
    }
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    struct stat st;
    bool ok = true;
    if (lstat(tmp, &st) == 0) {
        snprintf(err, PM_ERR_LEN, "%s: exists (another writer's, or a crashed one's: remove it)", tmp);
        ok = false;
    }
    free(tmp);
    return ok;
}

bool pm_out_check_target(const char *path, bool overwrite, char err[PM_ERR_LEN])
{
    size_t n = strlen(path);
    if (n == 0) {
        snprintf(err, PM_ERR_LEN, "empty output path");
        return false;
    }
    struct stat st;
    if (path[n - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode))) {
        snprintf(err, PM_ERR_LEN, "%s: is a folder, not a file", path);
        return false;
    }
    /* a device, FIFO or socket: the output goes to PATH.tmp and is renamed
     * over PATH, which would put a regular file in its place (as root:
     * /dev/full or /dev/null replaced) */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err, PM_ERR_LEN, "%s: not a regular file (%s): outputs are written whole and renamed "
                 "into place", path, S_ISCHR(st.st_mode) ? "a character device" : S_ISBLK(st.st_mode) ?
                 "a block device" : S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket" : "special");
        return false;
    }
    if (lstat(path, &st) == 0 && !overwrite) {
        snprintf(err, PM_ERR_LEN, "%s: exists (not overwritten)", path);
        return false;
    }
    char *d = dir_of(path);
    if (!d) {
        snprintf(err, PM_ERR_LEN, "%s: out of memory", path);
        return false;
    }
    bool ok = true;
    if (stat(d, &st)) {
        snprintf(err, PM_ERR_LEN, "%s: folder %s: %s", path, d, strerror(errno));
        ok = false;
    } else if (!S_ISDIR(st.st_mode)) {
        snprintf(err, PM_ERR_LEN, "%s: %s is not a folder", path, d);
        ok = false;
    } else if (access(d, W_OK | X_OK)) {
        snprintf(err, PM_ERR_LEN, "%s: folder %s is not writable: %s", path, d, strerror(errno));
        ok = false;
    }
    free(d);
    return ok;
}

int pm_out_open(struct pm_out *o, const char *path, char err[PM_ERR_LEN])
{
    *o = (struct pm_out){0};
    size_t n = strlen(path);
    o->path = strdup(path);
    o->tmp = malloc(n + 5);
    if (!o->path || !o->tmp) {
        snprintf(err, PM_ERR_LEN, "%s: out of memory", path);
        goto fail;
    }
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmp", 5);
    int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            snprintf(err, PM_ERR_LEN, "%.180s: exists (another writer's, or a crashed one's: remove it)", o->tmp);
        else
            snprintf(err, PM_ERR_LEN, "%s: cannot create: %s", o->tmp, strerror(errno));
        goto fail;
    }
    o->f = fdopen(fd, "w");
    if (!o->f) {
        snprintf(err, PM_ERR_LEN, "%s: %s", o->tmp, strerror(errno));
        close(fd);
        unlink(o->tmp);
        goto fail;
    }
    return 0;
fail:
    free(o->path);
    free(o->tmp);
    *o = (struct pm_out){0};
    return -1;
}

int pm_fsync_dir_of(const char *path)
{
    char *d = dir_of(path);
    if (!d)
        return -1;
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(d);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

int pm_out_commit(struct pm_out *o, bool overwrite, char err[PM_ERR_LEN])
{
    int rc = 0;
    if (fflush(o->f) || ferror(o->f) || fsync(fileno(o->f))) {
        snprintf(err, PM_ERR_LEN, "%s: cannot write: %s", o->tmp, strerror(errno ? errno : EIO));
        rc = -1;
    }
    if (fclose(o->f) && rc == 0) {
        snprintf(err, PM_ERR_LEN, "%s: cannot write: %s", o->tmp, strerror(errno));
        rc = -1;
    }
    o->f = NULL;
    if (rc == 0) {
        /* Never replace an output that appeared meanwhile unless asked:
         * link() fails with EEXIST where rename() would clobber. */
        if (overwrite ? rename(o->tmp, o->path) : link(o->tmp, o->path)) {
            if (errno == EEXIST)
                snprintf(err, PM_ERR_LEN, "%s: exists (not overwritten)", o->path);
            else
                snprintf(err, PM_ERR_LEN, "%s: cannot create: %s", o->path, strerror(errno));
            rc = -1;
        }
    }
    unlink(o->tmp);   /* after link(), or on failure; gone after rename() */
    if (rc == 0)
        (void)pm_fsync_dir_of(o->path);
    free(o->path);
    free(o->tmp);
    *o = (struct pm_out){0};
    return rc;
}

void pm_out_abort(struct pm_out *o)
{
    if (o->f)
        fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    free(o->path);
    free(o->tmp);
    *o = (struct pm_out){0};
}

int pm_write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}
