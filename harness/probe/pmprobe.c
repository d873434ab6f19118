/* harness/probe/pmprobe.c — libpmprobe.so, the probe `pymemlab validate`
 * preloads into every native run (after the allocator under test, so it
 * interposes nothing: it exports no symbol at all).
 *
 * It answers three questions the sampling parent cannot:
 *  - the anonymous RSS at the end of the program's work: read in the
 *    library's destructor, which runs inside exit() after the program's own
 *    teardown (for CPython: after Py_FinalizeEx), at the same point where
 *    the recorder's trace ends; the parent only sees the process until the
 *    kernel starts tearing it down, and at 1 kHz can be up to a period late;
 *  - how much of that anonymous RSS no allocator call explains: every
 *    mapping in /proc/self/smaps is classified by its `Anonymous:` pages as
 *    non-heap (copy-on-write pages of a file mapping: relocated .data, GOT;
 *    a loaded object's .bss, the unnamed mapping the loader makes at
 *    page_up(load address + p_filesz) of a PT_LOAD segment whose p_memsz is
 *    larger, found with dl_iterate_phdr and capped at the segment's size,
 *    since the kernel merges an adjacent anonymous mmap into it; [stack]) or
 *    heap (everything else: [heap], unnamed mmaps made by an allocator);
 *  - the heap the process holds before main (the allocator's start-up
 *    memory: a replay creates its backend before its baseline, so its
 *    footprint leaves this out), the same classification in the
 *    constructor.
 *
 * Output: one line appended to $PM_PROBE_OUT,
 *   "pmprobe PID START_ANON END_ANON NONHEAP_ANON STACK_ANON START_NONHEAP\n"
 * (bytes), START_ANON and START_NONHEAP read in the constructor. Nothing is allocated (no malloc: the
 * allocator under test must see only the program's requests); buffers are
 * small and on the stack, which the destructor reads after END_ANON.
 */
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t start_anon, start_nonheap;

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

#define MAX_BSS 512

struct bss_range {
    uint64_t start, len;        /* page-aligned start, bytes */
};

struct bss_list {
    struct bss_range r[MAX_BSS];
    int n;
};

static int bss_collect(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct bss_list *l = arg;
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum && l->n < MAX_BSS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || ph->p_memsz <= ph->p_filesz)
            continue;
        uint64_t file_end = info->dlpi_addr + ph->p_vaddr + ph->p_filesz;
        uint64_t mem_end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        uint64_t start = (file_end + pg - 1) & ~(pg - 1), end = (mem_end + pg - 1) & ~(pg - 1);
        if (end > start)
            l->r[l->n++] = (struct bss_range){start, end - start};
    }
    return 0;
}

struct smaps_state {
    const struct bss_list *bss;
    uint64_t cur_cap;           /* non-heap bytes the current mapping can hold (UINT64_MAX: all) */
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
        s->cur_stack = named && !strncmp(path, "[stack]", 7);
        s->cur_cap = file || s->cur_stack ? UINT64_MAX : 0;
        if (!named)
            for (int i = 0; i < s->bss->n; i++)
                if (s->bss->r[i].start == a)
                    s->cur_cap = s->bss->r[i].len;
        return;
    }
    unsigned long long kb;
    if (sscanf(l, "Anonymous: %llu kB", &kb) == 1 && s->cur_cap) {
        uint64_t v = kb * 1024 < s->cur_cap ? kb * 1024 : s->cur_cap;
        s->nonheap += v;
        if (s->cur_stack)
            s->stack += v;
    }
}

static void smaps_nonheap(uint64_t *nonheap, uint64_t *stack)
{
    struct bss_list bss;
    bss.n = 0;
    dl_iterate_phdr(bss_collect, &bss);
    struct smaps_state s = {.bss = &bss};
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

/* Runs after the preloaded allocator's constructor (validate puts the probe
 * first in LD_PRELOAD; the loader initialises preloaded objects in reverse
 * order) and before main: what the process holds before the program's
 * first request, heap (the allocator's own start-up memory, which a replay
 * takes before its baseline) and non-heap. */
__attribute__((constructor)) static void probe_start(void)
{
    start_anon = statm_anon();
    uint64_t stack = 0;
    smaps_nonheap(&start_nonheap, &stack);
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
    int len = snprintf(line, sizeof line, "pmprobe %ld %llu %llu %llu %llu %llu\n", (long)getpid(),
                       (unsigned long long)start_anon, (unsigned long long)end, (unsigned long long)nonheap,
                       (unsigned long long)stack, (unsigned long long)start_nonheap);
    int fd = open(out, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, (size_t)len);
    (void)w;
    close(fd);
}
