/* harness/cli/cli.c — error convention, strict argument parsing, backend creation
 * for subcommands. See cli.h. */
#include "cli.h"
#include "fileio.h"
#include "msgescape.h"
#include "pm_object.h"
#include "results.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* One line, always: the words of the input a message quotes (a command
 * line argument, a path) have their control bytes escaped (msgescape.h). */
static _Noreturn void vfail(int code, const char *fmt, va_list ap)
{
    fflush(stdout);
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "pymemlab: %s\n", pm_msg_escape(msg, sizeof msg));
    exit(code);
}

void pm_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(PM_EXIT_USAGE, fmt, ap);
}

void pm_run_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(PM_EXIT_FAIL, fmt, ap);
}

static bool parse_scaled(const char *s, uint64_t base, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    uint64_t mul = 1;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mul = base; break;
        case 'm': case 'M': mul = base * base; break;
        case 'g': case 'G': mul = base * base * base; break;
        default: return false;
        }
        end++;
        if (base == 1024 && (*end == 'i' || *end == 'I'))
            end++;
        if (base == 1024 && (*end == 'b' || *end == 'B'))
            end++;
        if (*end)
            return false;
    }
    if (v > UINT64_MAX / mul)
        return false;
    *out = (uint64_t)v * mul;
    return true;
}

uint64_t pm_arg_count(const char *opt, const char *val, uint64_t min, uint64_t max)
{
    uint64_t v;
    if (!parse_scaled(val, 1000, &v))
        pm_usage_error("bad value for %s: '%s' (expected a whole number, K/M/G allowed)", opt, val);
    if (v < min || v > max)
        pm_usage_error("bad value for %s: %s (expected %llu..%llu)", opt, val,
                       (unsigned long long)min, (unsigned long long)max);
    return v;
}

uint64_t pm_arg_size(const char *opt, const char *val, uint64_t min, uint64_t max)
{
    uint64_t v;
    if (!parse_scaled(val, 1024, &v))
        pm_usage_error("bad value for %s: '%s' (expected a size in bytes, K/M/G allowed)", opt, val);
    if (v < min || v > max)
        pm_usage_error("bad value for %s: %s (expected %llu..%llu bytes)", opt, val,
                       (unsigned long long)min, (unsigned long long)max);
    return v;
}

double pm_arg_double(const char *opt, const char *val, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || !(v >= min && v <= max))
        pm_usage_error("bad value for %s: '%s' (expected a number in %g..%g)", opt, val, min, max);
    return v;
}

void pm_cli_misuse_abort(void *ctx, const char *backend, enum pm_misuse_kind kind,
                         const void *ptr, const char *detail)
{
    (void)ctx;
    fflush(stdout);
    fprintf(stderr, "pymemlab: %s: %s at %p%s%s\n", backend, pm_misuse_name(kind), ptr,
            detail && *detail ? ": " : "", detail ? detail : "");
    abort();
}

pm_heap_t *pm_cli_backend(const char *spec, const struct allocator_ops **ops)
{
    char err[PM_ERR_LEN];
    struct pm_config cfg = {.on_misuse = pm_cli_misuse_abort};
    pm_heap_t *h = pm_backend_create(spec, &cfg, ops, err);
    if (!h)
        pm_usage_error("%s", err);
    return h;
}

void pm_cli_out_check(const char *cmd, const char *path)
{
    char err[PM_ERR_LEN];
    if (!pm_out_check(path, true, err))
        pm_usage_error("%s: %s", cmd, pm_msg_escape(err, sizeof err));
}

void pm_cli_out_check_target(const char *cmd, const char *path)
{
    char err[PM_ERR_LEN];
    if (!pm_out_check_target(path, true, err))
        pm_usage_error("%s: %s", cmd, pm_msg_escape(err, sizeof err));
}

bool pm_cli_keeps_contents(const char *spec)
{
    for (;;) {
        const struct allocator_ops *ops = pm_backend_find(spec);
        if (!ops)
            return true;
        if (ops->flags & PM_BACKEND_NO_CONTENTS)
            return false;
        const char *inner = strchr(spec, ':');
        if (!(ops->flags & PM_BACKEND_WRAPPER) || !inner)
            return true;
        spec = inner + 1;       /* debug:INNER: what INNER keeps */
    }
}

void pm_cli_need_contents(const char *cmd, const char *spec)
{
    if (!pm_cli_keeps_contents(spec))
        pm_usage_error("%s: backend '%s' does not keep the contents of its blocks: object workloads "
                       "cannot run on it", cmd, spec);
}

void pm_bad_option(const char *cmd, int opt, char **argv)
{
    const char *word = optind > 0 ? argv[optind - 1] : "?";
    if (opt == ':')
        pm_usage_error("%s: option '%s' needs a value (see 'pymemlab help %s')", cmd, word, cmd);
    pm_usage_error("%s: unknown option '%s' (see 'pymemlab help %s')", cmd, word, cmd);
}

void pm_exec_or_report(int fd, char **cmd)
{
    execvp(cmd[0], cmd);
    int e = errno;
    ssize_t w = write(fd, &e, sizeof e);
    (void)w;
    _exit(127);
}

int pm_exec_errno(int fd)
{
    int e = 0;
    ssize_t got;
    while ((got = read(fd, &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(fd);
    return got == (ssize_t)sizeof e ? (e ? e : EIO) : 0;
}

/* ---- the collector options (issue 20) ---- */

const char *pm_cli_gc_name(const char *cmd, const char *arg)
{
    if (!pm_gc_collector_known(arg) || !*arg)
        pm_usage_error("%s: unknown collector for --gc: '%s' (known: gen311, gen313, inc314, "
                       "pep848)", cmd, arg);
    return arg;
}

void pm_cli_gc_thresholds(const char *cmd, const char *arg, int64_t out[3])
{
    const char *p = arg;
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > (1LL << 31) || (i < 2 && *end != ',')
            || (i == 2 && *end))
            pm_usage_error("%s: bad value for --gc-threshold: '%s' (expected T0,T1,T2: three "
                           "integers 0..2147483648)", cmd, arg);
        out[i] = v;
        p = end + 1;
    }
}

void pm_cli_folder_lock(const char *cmd, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        pm_usage_error("%s: --out %s is not a folder", cmd, dir);
    if (pm_mkdir_p(dir))
        pm_usage_error("%s: cannot create the results folder '%s': %s", cmd, dir, strerror(errno));
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0)
        pm_usage_error("%s: cannot lock the results folder: %s: %s", cmd, path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        if (errno == EWOULDBLOCK)
            pm_usage_error("%s: %s is in use by another run or merge (%s is locked); wait for it to "
                           "end or choose another --out", cmd, dir, path);
        pm_usage_error("%s: cannot lock the results folder: %s: %s", cmd, path, strerror(errno));
    }
}
