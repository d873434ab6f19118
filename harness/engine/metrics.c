/* harness/engine/metrics.c — footprint sampling. */
#include "metrics.h"

#include <fcntl.h>
#include <math.h>
#include <string.h>
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

void pm_cpu_snap_take(struct pm_cpu_snap *s)
{
    memset(s, 0, sizeof *s);
    s->load1 = -1;
    FILE *f = fopen("/proc/loadavg", "re");
    if (f) {
        if (fscanf(f, "%lf", &s->load1) != 1)
            s->load1 = -1;
        fclose(f);
    }
    f = fopen("/proc/stat", "re");
    if (!f)
        return;
    unsigned long long v[8] = {0};
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7]) == 8) {
        /* user nice system idle iowait irq softirq steal */
        s->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        s->steal = v[7];
        s->total = s->busy + v[3] + v[4];
        s->ok = true;
    }
    fclose(f);
}

void pm_load_between(const struct pm_cpu_snap *a, const struct pm_cpu_snap *b, struct pm_load *out)
{
    out->load1_start = a->load1 >= 0 ? a->load1 : NAN;
    out->load1_end = b->load1 >= 0 ? b->load1 : NAN;
    out->steal_pct = out->busy_cpus = NAN;
    if (!a->ok || !b->ok || b->total <= a->total)
        return;
    double total = (double)(b->total - a->total);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    out->steal_pct = 100.0 * (double)(b->steal - a->steal) / total;
    out->busy_cpus = (double)(b->busy - a->busy) / total * (double)(ncpu > 0 ? ncpu : 1);
}

bool pm_load_is_loaded(const struct pm_load *l, double own_cpus, double expected)
{
    if (isfinite(l->steal_pct) && l->steal_pct > PM_LOAD_STEAL_MAX)
        return true;
    if (!isfinite(l->busy_cpus))
        return false;
    double other = l->busy_cpus - (isfinite(own_cpus) ? own_cpus : 0.0) - expected;
    return other > PM_LOAD_OTHER_MAX;
}
