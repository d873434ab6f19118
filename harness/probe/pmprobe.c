/* harness/probe/pmprobe.c — libpmprobe.so, the probe `pymemlab validate`
 * preloads into every native run (after the allocator under test, so it
 * interposes nothing: it exports no symbol at all).
 *
 * It answers two questions the sampling parent cannot:
 *  - the anonymous RSS at the end of the program's work: read in the
 *    library's destructor, which runs inside exit() after the program's own
 *    teardown (for CPython: after Py_FinalizeEx), at the same point where
 *    the recorder's trace ends; the parent only sees the process until the
 *    kernel starts tearing it down, and at 1 kHz can be up to a period late;
 *  - how much of that anonymous RSS no allocator call explains: every
 *    mapping in /proc/self/smaps is classified by its `Anonymous:` pages as
 *    non-heap (copy-on-write pages of a file mapping: relocated .data, GOT;
 *    a library's .bss, the unnamed mapping that starts where a file mapping
 *    ends; [stack]) or heap (everything else: [heap], unnamed mmaps made by
 *    an allocator).
 *
 * Output: one line appended to $PM_PROBE_OUT,
 *   "pmprobe PID START_ANON END_ANON NONHEAP_ANON STACK_ANON\n" (bytes),
 * START_ANON read in the constructor. Nothing is allocated (no malloc: the
 * allocator under test must see only the program's requests); buffers are
 * small and on the stack, which the destructor reads after END_ANON.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t start_anon;

static uint64_t statm_anon(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long size, res, shared;
    if (sscanf(buf, "%llu %llu %llu", &size, &res, &shared) != 3)
        return 0;
    return (uint64_t)(res - shared) * (uint64_t)sysconf(_SC_PAGESIZE);
}

struct smaps_state {
    uint64_t prev_end;          /* end address of the previous mapping */
    int prev_file;              /* the previous mapping was file-backed */
    int cur_nonheap;            /* the current mapping counts as non-heap */
    int cur_stack;
    uint64_t nonheap, stack;    /* bytes */
};

/* One line of /proc/self/smaps. */
static void smaps_line(struct smaps_state *s, const char *l)
{
    unsigned long long a, b;
    char perms[8];
    int off = 0;
    if (sscanf(l, "%llx-%llx %7s %*s %*s %*s %n", &a, &b, perms, &off) == 3 && off > 0) {
        const char *path = l + off;
        while (*path == ' ')
            path++;
        int named = *path && *path != '\n';
        int file = named && *path == '/';
        int stack = named && !strncmp(path, "[stack]", 7);
        s->cur_stack = stack;
        s->cur_nonheap = file || stack || (!named && s->prev_file && a == s->prev_end);
        s->prev_file = file;
        s->prev_end = b;
        return;
    }
    unsigned long long kb;
    if (sscanf(l, "Anonymous: %llu kB", &kb) == 1 && s->cur_nonheap) {
        s->nonheap += kb * 1024;
        if (s->cur_stack)
            s->stack += kb * 1024;
    }
}

static void smaps_nonheap(uint64_t *nonheap, uint64_t *stack)
{
    struct smaps_state s = {0};
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[4096], line[512];
    size_t ll = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (ll < sizeof line - 1)
                line[ll++] = buf[i];
            if (buf[i] == '\n') {
                line[ll] = '\0';
                smaps_line(&s, line);
                ll = 0;
            }
        }
    }
    close(fd);
    *nonheap = s.nonheap;
    *stack = s.stack;
}

__attribute__((constructor)) static void probe_start(void)
{
    start_anon = statm_anon();
}

__attribute__((destructor)) static void probe_end(void)
{
    uint64_t end = statm_anon();
    const char *out = getenv("PM_PROBE_OUT");
    if (!out || !*out)
        return;
    uint64_t nonheap = 0, stack = 0;
    smaps_nonheap(&nonheap, &stack);
    char line[160];
    int len = snprintf(line, sizeof line, "pmprobe %ld %llu %llu %llu %llu\n", (long)getpid(),
                       (unsigned long long)start_anon, (unsigned long long)end, (unsigned long long)nonheap,
                       (unsigned long long)stack);
    int fd = open(out, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, (size_t)len);
    (void)w;
    close(fd);
}
