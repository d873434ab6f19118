/* harness/metrics.c — footprint sampling. */
#include "metrics.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

uint64_t pm_rss_anon_bytes(void)
{
    /* The descriptor names the process that opened it (/proc/self is
     * resolved at open): a forked child (the suite runner's) must open its
     * own, or it would read its parent's figures. */
    static int fd = -1;
    static pid_t owner;
    static long page;
    if (fd >= 0 && owner != getpid()) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        page = sysconf(_SC_PAGESIZE);
        if (fd < 0)
            return 0;
        owner = getpid();
    }
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    unsigned long long size, resident, shared;
    if (sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3)
        return 0;
    return (uint64_t)(resident - shared) * (uint64_t)page;
}
