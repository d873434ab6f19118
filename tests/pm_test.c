/* tests/pm_test.c — shared helpers for the cmocka tests. */
#include "pm_test.h"
#include "pm_asan.h"
#include "pm_random.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

pm_heap_t *pmt_create(const char *spec, const struct allocator_ops **ops)
{
    char err[PM_ERR_LEN];
    pm_heap_t *h = pm_backend_create(spec, NULL, ops, err);
    if (!h)
        fail_msg("create %s: %s", spec, err);
    return h;
}

void pmt_check_clean(const struct allocator_ops *ops, pm_heap_t *h)
{
    char msg[PM_ERR_LEN] = "";
    if (!ops->check)
        return;
    unsigned long bad = ops->check(h, msg);
    if (bad)
        fail_msg("%s: check() found %lu violation(s): %s", ops->name, bad, msg);
}

uint64_t pmt_rand(uint64_t *s)
{
    uint64_t x = pm_xorshift64(s);
    return x ? x : (*s = 0x9E3779B97F4A7C15u);
}

int pmt_run_child(void (*body)(void *), void *arg, char *out, size_t n)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], STDERR_FILENO);
        close(fd[1]);
        body(arg);
        _exit(0);
    }
    close(fd[1]);
    size_t got = 0;
    for (;;) {                          /* all of it, so that the child never blocks */
        char chunk[512];
        ssize_t r = read(fd[0], chunk, sizeof chunk);
        if (r <= 0)
            break;
        size_t take = (size_t)r < n - 1 - got ? (size_t)r : n - 1 - got;
        memcpy(out + got, chunk, take);
        got += take;
    }
    out[got] = 0;
    close(fd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

void pmt_expect_abort(void (*body)(void *), void *arg, const char *first_line)
{
    char buf[4096];
    int status = pmt_run_child(body, arg, buf, sizeof buf);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("expected SIGABRT and '%s'; child status %#x, stderr '%.400s'", first_line, status,
                 buf);
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = 0;
    if (strcmp(buf, first_line) != 0)
        fail_msg("first stderr line\n  got:  '%s'\n  want: '%s'", buf, first_line);
}

struct write_job {
    volatile unsigned char *at;
    size_t len;
};

static void write_bytes(void *arg)
{
    struct write_job *j = arg;
    for (size_t i = 0; i < j->len; i++)
        j->at[i] = (unsigned char)i;
}

bool pmt_asan_on(void)
{
    return PM_ASAN_ON;
}

void pmt_asan_write(void *at, size_t len, bool want_report)
{
    volatile unsigned char *w = at;
    if (!PM_ASAN_ON) {
        if (!want_report)
            for (size_t i = 0; i < len; i++)
                w[i] = (unsigned char)i;
        return;
    }
    char buf[8192];
    struct write_job job = {w, len};
    int status = pmt_run_child(write_bytes, &job, buf, sizeof buf);
    size_t got = strlen(buf);
    bool died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (!want_report) {
        if (died || got)
            fail_msg("write of %zu bytes at %p was reported (status %#x): '%.400s'", len, at,
                     status, buf);
        return;
    }
    char what[128], where[128];
    snprintf(what, sizeof what, "AddressSanitizer: use-after-poison on address 0x%012lx",
             (unsigned long)(uintptr_t)at);
    snprintf(where, sizeof where, "WRITE of size 1 at 0x%012lx", (unsigned long)(uintptr_t)at);
    if (!died)
        fail_msg("write at %p went unreported (status %#x): '%.400s'", at, status, buf);
    if (!strstr(buf, what) || !strstr(buf, where))
        fail_msg("no ASan use-after-poison report of a write at %p: '%.600s'", at, buf);
}

void pmt_asan_unmapped_clean(void *addr, size_t len)
{
    void *m = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (m == MAP_FAILED)
        return;
    if (m == addr)
        pmt_asan_write(m, len, false);
    munmap(m, len);
}
