/* harness/engine/fresh.c — see fresh.h. */
#include "fresh.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static int last_signal;
static uint64_t overhead_ns, calls;

int pm_fresh_last_signal(void) { return last_signal; }
uint64_t pm_fresh_overhead_ns(uint64_t *ncalls)
{
    if (ncalls)
        *ncalls = calls;
    return overhead_ns;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int pm_fresh_call(pm_fresh_fn fn, void *arg, void *out, size_t outlen, pid_t *child,
                  char err[PM_ERR_LEN])
{
    int fds[2];
    memset(out, 0, outlen);
    err[0] = '\0';
    last_signal = 0;
    if (pipe(fds)) {
        snprintf(err, PM_ERR_LEN, "cannot make a pipe for a fresh process: %s", strerror(errno));
        return 1;
    }
    fflush(NULL);
    pid_t parent = getpid();
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        snprintf(err, PM_ERR_LEN, "cannot fork a fresh process: %s", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        char cerr[PM_ERR_LEN] = "";
        uint64_t f0 = now_ns();
        int rc = fn(arg, out, cerr);
        uint64_t fn_ns = now_ns() - f0;
        fflush(NULL);
        int ok = write_full(fds[1], &rc, sizeof rc) == 0 && write_full(fds[1], &fn_ns, sizeof fn_ns) == 0 &&
                 write_full(fds[1], cerr, PM_ERR_LEN) == 0 && write_full(fds[1], out, outlen) == 0;
        _exit(ok ? 0 : 126);
    }
    close(fds[1]);
    if (child)
        *child = pid;
    int rc = 1;
    uint64_t fn_ns = 0;
    bool whole = read_full(fds[0], &rc, sizeof rc) == sizeof rc &&
                 read_full(fds[0], &fn_ns, sizeof fn_ns) == sizeof fn_ns &&
                 read_full(fds[0], err, PM_ERR_LEN) == PM_ERR_LEN && read_full(fds[0], out, outlen) == outlen;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    uint64_t total = now_ns() - t0;
    if (whole && total > fn_ns) {   /* fork, the child's start and end, the pipe, the wait */
        overhead_ns += total - fn_ns;
        calls++;
    }
    if (whole && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        err[PM_ERR_LEN - 1] = '\0';
        return rc;
    }
    memset(out, 0, outlen);
    if (WIFSIGNALED(status))
        last_signal = WTERMSIG(status);
    if (WIFSIGNALED(status))
        snprintf(err, PM_ERR_LEN, "the run's process was killed by SIG%s", sigabbrev_np(WTERMSIG(status))
                 ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        snprintf(err, PM_ERR_LEN, "the run's process ended without a result (exit %d)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 1;
}
