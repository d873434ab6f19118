/* workloads/trace/trace_write.c — the trace writer (binary, to a file or to memory)
 * and conversion between the forms.
 *
 * A file writer writes PATH.tmp (O_EXCL: never over an existing .tmp, which
 * may be a crashed recording worth salvaging) and renames it to PATH only on a
 * successful close, so PATH is either the complete old file or the complete
 * new one. The header goes out (unfinished, op count unknown) with the first
 * buffer; close patches op count, slot count and the finished flag.
 *
 * Entry points: pm_trace_writer_open, pm_trace_writer_open_mem,
 * pm_trace_writer_meta, pm_trace_writer_op, pm_trace_writer_error,
 * pm_trace_writer_ops, pm_trace_writer_close, pm_trace_writer_close_mem,
 * pm_trace_writer_abort, pm_trace_convert, pm_trace_format_for_path.
 */
#include "trace_internal.h"
#include "msgescape.h"
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#define WRITER_BUF (1u << 20)   /* bytes buffered before a write() */

struct pm_trace_writer {
    char *path;             /* final path; NULL for a memory writer */
    char *tmp;              /* path.tmp */
    int fd;                 /* tmp's descriptor, -1 for memory */
    uint8_t *buf;           /* pending bytes (memory writer: the whole trace) */
    size_t len, cap;        /* bytes in buf, its size */
    uint64_t flushed;       /* bytes already written: file offset of buf[0] */
    struct pm_trace_enc enc;
    uint64_t ops;           /* ops accepted */
    uint64_t slot_hi;       /* max slot + 1 */
    uint64_t *live;         /* liveness of slots, grown on demand */
    size_t live_words;
    char *meta;             /* "key=value\n" lines */
    size_t meta_len, meta_cap;
    struct pm_keyset meta_keys; /* the keys in meta, for the linear duplicate check */
    bool started;           /* header + metadata are in buf or written */
    bool failed;
    char err[PM_ERR_LEN];   /* the first error, "NAME: problem" */
};

static const char *writer_name(const struct pm_trace_writer *w) { return w->path ? w->path : "(memory)"; }

static int writer_fail(struct pm_trace_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int writer_fail(struct pm_trace_writer *w, const char *fmt, ...)
{
    if (w->failed)
        return -1;
    char problem[TRACE_PROBLEM_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    snprintf(w->err, sizeof w->err, "%s: %s", writer_name(w), problem);
    pm_msg_escape(w->err, sizeof w->err);
    w->failed = true;
    return -1;
}

static struct pm_trace_writer *writer_new(char err[PM_ERR_LEN])
{
    struct pm_trace_writer *w = calloc(1, sizeof *w);
    if (w) {
        w->fd = -1;
        w->cap = WRITER_BUF;
        w->buf = malloc(w->cap);
    }
    if (!w || !w->buf) {
        free(w);
        snprintf(err, PM_ERR_LEN, "out of memory for a trace writer");
        return NULL;
    }
    return w;
}

static void writer_free(struct pm_trace_writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    free(w->path);
    free(w->tmp);
    free(w->buf);
    free(w->live);
    free(w->meta);
    pm_keyset_free(&w->meta_keys);
    free(w);
}

struct pm_trace_writer *pm_trace_writer_open(const char *path, char err[PM_ERR_LEN])
{
    struct pm_trace_writer *w = writer_new(err);
    if (!w)
        return NULL;
    size_t n = strlen(path);
    w->path = strdup(path);
    w->tmp = malloc(n + 5);
    if (!w->path || !w->tmp) {
        writer_free(w);
        snprintf(err, PM_ERR_LEN, "%s: out of memory", path);
        return NULL;
    }
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        if (errno == EEXIST)
            snprintf(err, PM_ERR_LEN,
                     "%s: exists (another writer's, or a crashed recording: read it leniently or remove it)",
                     w->tmp);
        else
            snprintf(err, PM_ERR_LEN, "%s: cannot create: %s", w->tmp, strerror(errno));
        writer_free(w);
        return NULL;
    }
    return w;
}

struct pm_trace_writer *pm_trace_writer_open_mem(char err[PM_ERR_LEN]) { return writer_new(err); }

const char *pm_trace_writer_error(const struct pm_trace_writer *w) { return w->failed ? w->err : NULL; }
uint64_t pm_trace_writer_ops(const struct pm_trace_writer *w) { return w->ops; }

int pm_trace_writer_meta(struct pm_trace_writer *w, const char *key, const char *value)
{
    if (w->failed)
        return -1;
    char problem[TRACE_PROBLEM_LEN];
    size_t klen = strlen(key), vlen = strlen(value);
    if (w->started)
        return writer_fail(w, "metadata '%.40s' after the first op (metadata comes first)", key);
    if (!trace_meta_key_ok(key, klen, problem, sizeof problem) ||
        !trace_meta_value_ok(value, vlen, problem, sizeof problem))
        return writer_fail(w, "%s", problem);
    size_t add = klen + 1 + vlen + 1;
    if (w->meta_len + add > PM_TRACE_MAX_META)
        return writer_fail(w, "metadata over the 16 MiB limit");
    int added = pm_keyset_add(&w->meta_keys, key, klen);
    if (added < 0)
        return writer_fail(w, "out of memory");
    if (added == 0)
        return writer_fail(w, "duplicate metadata key '%.40s'", key);
    if (w->meta_len + add > w->meta_cap) {
        size_t n = w->meta_cap ? w->meta_cap : 256;
        while (n < w->meta_len + add)
            n *= 2;
        char *m = realloc(w->meta, n);
        if (!m)
            return writer_fail(w, "out of memory");
        w->meta = m;
        w->meta_cap = n;
    }
    char *p = w->meta + w->meta_len;
    memcpy(p, key, klen);
    p[klen] = '=';
    memcpy(p + klen + 1, value, vlen);
    p[klen + 1 + vlen] = '\n';
    w->meta_len += add;
    return 0;
}

/* Writes the buffered bytes out (file writers). */
static int writer_flush(struct pm_trace_writer *w)
{
    size_t done = 0;
    while (done < w->len) {
        ssize_t r = write(w->fd, w->buf + done, w->len - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return writer_fail(w, "write error: %s", r < 0 ? strerror(errno) : "no progress");
        done += (size_t)r;
    }
    w->flushed += w->len;
    w->len = 0;
    return 0;
}

/* Makes room for n more bytes in buf: a file writer writes buf out, a memory
 * writer (or a file writer asked for more than its buffer) grows it. */
static int writer_room(struct pm_trace_writer *w, size_t n)
{
    if (w->len + n <= w->cap)
        return 0;
    if (w->fd >= 0) {
        if (writer_flush(w))
            return -1;
        if (n <= w->cap)
            return 0;
    }
    size_t c = w->cap;
    while (c < w->len + n)
        c *= 2;
    uint8_t *b = realloc(w->buf, c);
    if (!b)
        return writer_fail(w, "out of memory (%zu bytes of trace)", c);
    w->buf = b;
    w->cap = c;
    return 0;
}

static void header_fill(const struct pm_trace_writer *w, uint8_t hdr[PM_TRACE_HEADER_SIZE], bool finished)
{
    struct pm_trace_header h = {
        .version = PM_TRACE_VERSION,
        .flags = finished ? PM_TRACE_FLAG_FINISHED : 0,
        .op_count = finished ? w->ops : PM_TRACE_OPS_UNKNOWN,
        .slot_count = finished ? w->slot_hi : 0,
        .meta_len = w->meta_len,
    };
    pm_trace_header_encode(hdr, &h);
}

static int writer_start(struct pm_trace_writer *w)
{
    if (writer_room(w, PM_TRACE_HEADER_SIZE + w->meta_len))
        return -1;
    header_fill(w, w->buf + w->len, false);
    w->len += PM_TRACE_HEADER_SIZE;
    if (w->meta_len)
        memcpy(w->buf + w->len, w->meta, w->meta_len);
    w->len += w->meta_len;
    w->started = true;
    return 0;
}

int pm_trace_writer_op(struct pm_trace_writer *w, const struct pm_trace_op *op)
{
    if (w->failed)
        return -1;
    if (!w->started && writer_start(w))
        return -1;
    uint64_t off = w->flushed + w->len;
    bool is_slot = trace_kprops(op->kind) & PM_TRACE_TK_SLOT;
    if (is_slot && trace_live_cover(&w->live, &w->live_words, op->slot))
        return writer_fail(w, "out of memory for the liveness of slot %" PRIu32, op->slot);
    char problem[TRACE_PROBLEM_LEN];
    if (trace_op_check(op, w->live, PM_TRACE_MAX_SLOTS, problem, sizeof problem))
        return writer_fail(w, "op %" PRIu64 " at byte %" PRIu64 ": %s", w->ops, off, problem);
    if (writer_room(w, PM_TRACE_OP_MAX))
        return -1;
    size_t n = pm_trace_encode_op(w->buf + w->len, op, &w->enc);
    if (!n)   /* cannot happen after trace_op_check; kept as a guard */
        return writer_fail(w, "op %" PRIu64 " at byte %" PRIu64 ": not representable", w->ops, off);
    w->len += n;
    trace_op_apply(w->live, op);
    if (is_slot && (uint64_t)op->slot + 1 > w->slot_hi)
        w->slot_hi = (uint64_t)op->slot + 1;
    w->ops++;
    return 0;
}

void pm_trace_writer_abort(struct pm_trace_writer *w)
{
    if (!w)
        return;
    if (w->tmp && w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
        unlink(w->tmp);
    }
    writer_free(w);
}

/* Completes the trace: the finished header goes into the buffer if it is
 * still there, else over the file's first bytes; a file writer's buffer is
 * written out. */
static int writer_finish(struct pm_trace_writer *w, char err[PM_ERR_LEN])
{
    if (!w->failed && !w->started)
        writer_start(w);
    if (w->failed)
        goto fail;
    uint8_t hdr[PM_TRACE_HEADER_SIZE];
    header_fill(w, hdr, true);
    bool in_buf = w->flushed == 0;
    if (in_buf)
        memcpy(w->buf, hdr, sizeof hdr);
    if (w->fd < 0)
        return 0;
    if (writer_flush(w))
        goto fail;
    if (!in_buf && pwrite(w->fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) {
        writer_fail(w, "write error (header): %s", strerror(errno));
        goto fail;
    }
    return 0;
fail:
    snprintf(err, PM_ERR_LEN, "%s", w->err);
    return -1;
}

int pm_trace_writer_close(struct pm_trace_writer *w, char err[PM_ERR_LEN])
{
    if (!w->path) {
        snprintf(err, PM_ERR_LEN, "(memory): use pm_trace_writer_close_mem");
        writer_free(w);
        return -1;
    }
    if (writer_finish(w, err)) {
        pm_trace_writer_abort(w);
        return -1;
    }
    int fd = w->fd;
    w->fd = -1;
    if (fsync(fd) && errno != EINVAL) {   /* durable before it takes the final name */
        snprintf(err, PM_ERR_LEN, "%s: write error: %s", w->tmp, strerror(errno));
        close(fd);
        unlink(w->tmp);
        writer_free(w);
        return -1;
    }
    if (close(fd)) {
        snprintf(err, PM_ERR_LEN, "%s: write error: %s", w->tmp, strerror(errno));
        unlink(w->tmp);
        writer_free(w);
        return -1;
    }
    if (rename(w->tmp, w->path)) {
        snprintf(err, PM_ERR_LEN, "%s: cannot rename to %s: %s", w->tmp, w->path, strerror(errno));
        unlink(w->tmp);
        writer_free(w);
        return -1;
    }
    (void)pm_fsync_dir_of(w->path);
    writer_free(w);
    return 0;
}

int pm_trace_writer_close_mem(struct pm_trace_writer *w, uint8_t **buf, size_t *len, char err[PM_ERR_LEN])
{
    *buf = NULL;
    *len = 0;
    if (w->path) {
        snprintf(err, PM_ERR_LEN, "%s: use pm_trace_writer_close", w->path);
        pm_trace_writer_abort(w);
        return -1;
    }
    if (writer_finish(w, err)) {
        writer_free(w);
        return -1;
    }
    *buf = w->buf;
    *len = w->len;
    w->buf = NULL;
    writer_free(w);
    return 0;
}

/* ---- conversion ---- */

enum pm_trace_format pm_trace_format_for_path(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && !strcmp(path + n - 4, ".txt") ? PM_TRACE_TEXT : PM_TRACE_BINARY;
}

static int convert_binary(struct pm_trace *t, const char *out_path, bool lenient, char err[PM_ERR_LEN])
{
    struct pm_trace_cursor c;
    int r = lenient ? pm_trace_cursor_init_lenient(&c, t) : pm_trace_cursor_init(&c, t);
    if (r) {
        trace_err_prefix(err, pm_trace_name(t), c.err);
        return -1;
    }
    struct pm_trace_writer *w = pm_trace_writer_open(out_path, err);
    if (!w)
        return -2;
    const char *k, *v;
    for (size_t i = 0; pm_trace_meta_at(t, i, &k, &v); i++)
        pm_trace_writer_meta(w, k, v);
    struct pm_trace_op op;
    while ((r = pm_trace_next(&c, &op)) == 1)
        if (pm_trace_writer_op(w, &op))
            break;
    if (r < 0) {
        trace_err_prefix(err, pm_trace_name(t), c.err);
        pm_trace_writer_abort(w);
        return -1;
    }
    /* the writer checks what the cursor checked: only I/O can fail here */
    return pm_trace_writer_close(w, err) ? -2 : 0;
}

static int convert_text(struct pm_trace *t, const char *out_path, bool lenient, char err[PM_ERR_LEN])
{
    size_t n = strlen(out_path);
    char *tmp = malloc(n + 5);
    if (!tmp) {
        snprintf(err, PM_ERR_LEN, "%s: out of memory", out_path);
        return -2;
    }
    memcpy(tmp, out_path, n);
    memcpy(tmp + n, ".tmp", 5);
    int rc = -2;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, PM_ERR_LEN, "%s: %s", tmp,
                 errno == EEXIST ? "exists (another writer's? remove it)" : strerror(errno));
        goto out;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, PM_ERR_LEN, "%s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    char werr[PM_ERR_LEN];
    int r = pm_trace_write_text(t, f, lenient, werr);
    if (r) {
        if (r == -2)
            trace_err_prefix(err, tmp, werr);
        else
            snprintf(err, PM_ERR_LEN, "%s", werr);
        rc = r;
        fclose(f);
        unlink(tmp);
        goto out;
    }
    if (fflush(f) || (fsync(fileno(f)) && errno != EINVAL) || ferror(f)) {
        snprintf(err, PM_ERR_LEN, "%s: write error: %s", tmp, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto out;
    }
    if (fclose(f)) {
        snprintf(err, PM_ERR_LEN, "%s: write error: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, out_path)) {
        snprintf(err, PM_ERR_LEN, "%s: cannot rename to %s: %s", tmp, out_path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    (void)pm_fsync_dir_of(out_path);
    rc = 0;
out:
    free(tmp);
    return rc;
}

int pm_trace_convert(struct pm_trace *t, const char *out_path, enum pm_trace_format to, bool lenient,
                     char err[PM_ERR_LEN])
{
    if (to == PM_TRACE_AUTO)
        to = pm_trace_format_for_path(out_path);
    return to == PM_TRACE_TEXT ? convert_text(t, out_path, lenient, err)
                               : convert_binary(t, out_path, lenient, err);
}
