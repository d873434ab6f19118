/* harness/cli/cmd_validate.c — `pymemlab validate [--allocators LIST] [--reps N]
 * [--json] [--out DIR] [--sample-us US] -- COMMAND ARGS...`: does replaying
 * a recorded program on backend B predict what the program really does under
 * allocator B?
 *
 * Steps (docs/validation.md has the method and its justification):
 *  1. Record COMMAND once (`trace record --all`: every CPython API request
 *     with its domain and every plain malloc), with PYTHONMALLOC unset. A
 *     command that cannot run or fails here is bad input: one line, exit 2,
 *     nothing written.
 *  2. Native runs, N reps, round-robin over the configurations (rep-major,
 *     so slow drift of the machine spreads over all of them), one at a time
 *     (2 cores: one for the program, one for the sampler):
 *       cpython, pymalloc  CPython's default (pymalloc + glibc); one native
 *                          configuration shared by both backends
 *       system             PYTHONMALLOC=malloc (glibc for everything)
 *       mimalloc, jemalloc, tcmalloc
 *                          PYTHONMALLOC=malloc + LD_PRELOAD of the library the
 *                          backend dlopens (same soname, path from dlinfo)
 *     For a command that is not a Python interpreter: system (nothing
 *     preloaded) and the preloads. Every run also preloads libpmprobe.so
 *     (harness/probe/pmprobe.c), first (so that the loader initialises it
 *     after the allocator), which reads the anonymous RSS at the
 *     end of the program (its destructor, inside exit()) and classifies
 *     /proc/self/smaps into heap and non-heap anonymous pages.
 *     This process samples /proc/PID/statm (resident - shared = RssAnon,
 *     the same counter the replay's footprint reads; statm, not status,
 *     because it is one short line the kernel formats without walking
 *     anything) every --sample-us (default 250 us) on an absolute clock;
 *     the achieved rate and largest gap are reported. Peak = max sample.
 *     wait4 gives CPU time and minor faults.
 *  3. Replays: `pymemlab replay TRACE --backend B --domain all --touch pages
 *     --json` in a fresh process per backend (same process state for each),
 *     glibc as it is by default (--replay-glibc dynamic); `fixed` makes
 *     its mmap threshold static at the default 128 KiB, which removes the
 *     effect of the replay's own large frees before its baseline (they
 *     raise the dynamic threshold) but also the program's own raises of it;
 *     on the suite `dynamic` is the better predictor (docs/validation.md).
 *  4. predicted = replay footprint + non-heap anonymous bytes of the native
 *     run at exit + the heap it held before main (the allocator's start-up
 *     memory, which the replay takes before its baseline), medians over
 *     reps, for the peak and for the end value.
 *
 * Exit codes: 0 every run and replay succeeded; 1 a native run or a replay
 * failed (reported in the table and JSON, never dropped); 2 bad input.
 *
 * Entry point: cmd_validate.
 */
#include "cli.h"
#include "opts.h"
#include "paths.h"
#include "metrics.h"
#include "trace.h"

#include <cjson/cJSON.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TLS_TUNABLE "glibc.rtld.optional_static_tls=65536"   /* main.c's re-exec adds it */
#define MMAP_TUNABLE "glibc.malloc.mmap_threshold=131072"  /* glibc's default, made static */
#define MIB (1024.0 * 1024.0)

/* One allocator configuration: a native setting and the backend that
 * should predict it. */
struct vconf {
    const char *name;           /* allocator name on the command line */
    const char *backend;        /* replay backend */
    const char *native;         /* native configuration key (shared runs) */
    bool python_only;           /* needs a Python command */
    bool pymalloc_off;          /* PYTHONMALLOC=malloc natively */
    const char *soname;         /* library preloaded natively, NULL: none */
};

static const struct vconf vconfs[] = {
    {"cpython", "cpython", "default", true, false, NULL},
    {"pymalloc", "pymalloc", "default", true, false, NULL},
    {"system", "system", "malloc", false, true, NULL},
    {"mimalloc", "mimalloc", "mimalloc", false, true, "libmimalloc.so.2"},
    {"jemalloc", "jemalloc", "jemalloc", false, true, "libjemalloc.so.2"},
    {"tcmalloc", "tcmalloc", "tcmalloc", false, true, "libtcmalloc_minimal.so.4"},
};
#define NCONF (sizeof vconfs / sizeof *vconfs)

struct native_run {
    bool ok;                    /* exited 0 */
    char status[64];            /* "exit 0", "exit 3", "signal 9 (Killed)" */
    uint64_t peak;              /* max sampled RssAnon, bytes */
    uint64_t end;               /* RssAnon at exit (probe), else the last sample */
    bool end_from_probe;
    uint64_t start_anon;        /* RssAnon in the probe's constructor */
    uint64_t nonheap;           /* non-heap anonymous bytes at exit (probe, smaps) */
    uint64_t stack;             /* of which [stack] */
    uint64_t start_heap;        /* heap-classified RssAnon before main (allocator start-up), probe */
    double wall_s, cpu_s;
    long minflt;
    uint64_t samples;
    double max_gap_us, mean_gap_us;
};

struct replay_res {
    bool ok;
    char err[256];
    uint64_t peak_fp, end_fp, ops, peak_live;
    double ns_per_op, alloc_s, wall_s;
};

struct vsel {
    const struct vconf *c;
    char preload[PATH_MAX];     /* the library's path, "" if none */
    int native_idx;             /* index of the native configuration */
    struct replay_res rp;
};

struct vnative {
    const struct vconf *c;      /* the first configuration that uses it */
    struct native_run *runs;    /* reps */
};

static bool looks_like_python(const char *cmd)
{
    const char *base = strrchr(cmd, '/');
    base = base ? base + 1 : cmd;
    size_t n = strlen(base);
    return !strncmp(base, "python", 6) || (n > 3 && !strcmp(base + n - 3, ".py"));
}

static void self_exe(char out[PATH_MAX])
{
    ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
    if (n <= 0)
        pm_usage_error("validate: cannot find this binary (/proc/self/exe)");
    out[n] = '\0';
}

/* A file next to this binary (the probe), or $ENV. */
static void lib_next_to_exe(const char *env, const char *name, char out[PATH_MAX])
{
    const char *e = getenv(env);
    if (e && *e) {
        snprintf(out, PATH_MAX, "%s", e);
    } else if (!pm_helper_lib(name, out, PATH_MAX)) {   /* next to the binary, or installed */
        pm_usage_error("validate: cannot find this binary (/proc/self/exe)");
    }
    if (out[0] != '/' || access(out, R_OK))
        pm_usage_error("validate: the probe library '%s' is missing: build the pmprobe target, or set %s", out, env);
}

/* Where the dynamic loader finds `soname` (as reflib.c's dlopen does). */
static bool soname_path(const char *soname, char out[PATH_MAX])
{
    void *h = dlopen(soname, RTLD_LAZY | RTLD_LOCAL);
    if (!h)
        return false;
    struct link_map *lm = NULL;
    bool ok = dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && lm->l_name[0] == '/';
    if (ok)
        snprintf(out, PATH_MAX, "%s", lm->l_name);
    dlclose(h);
    return ok;
}

#define NLIBCONF 8              /* lib:PATH allocators on one command line */

/* A lib:PATH[,name=NAME] allocator: the library preloaded natively (with
 * PYTHONMALLOC=malloc for Python: every request goes to it) and the lib
 * backend replaying. */
static struct vconf libconfs[NLIBCONF];
static char libconf_str[NLIBCONF][3][PATH_MAX + 64];

static const struct vconf *libconf_add(size_t i, const char *spec)
{
    char path[PATH_MAX], name[64], err[PM_ERR_LEN], full[PATH_MAX];
    if (pm_lib_spec_parse(spec + 4, path, name, err))
        pm_usage_error("validate: %s", err);
    if (strchr(path, '/')) {
        if (!realpath(path, full))
            pm_usage_error("validate: lib: %s: %s", path, strerror(errno));
    } else if (!soname_path(path, full)) {
        pm_usage_error("validate: lib: cannot find %s to preload", path);
    }
    char (*str)[PATH_MAX + 64] = libconf_str[i];
    snprintf(str[0], sizeof str[0], "%s", name);
    snprintf(str[1], sizeof str[1], "lib:%.4000s,name=%.48s", full, name);
    snprintf(str[2], sizeof str[2], "%s", full);
    libconfs[i] = (struct vconf){str[0], str[1], str[1], false, true, str[2]};
    return &libconfs[i];
}

/* In a child: the environment main.c's re-exec changed, put back. */
static void child_restore_tunables(void)
{
    const char *t = getenv("GLIBC_TUNABLES");
    if (!t)
        return;
    size_t tl = strlen(t), ul = strlen(TLS_TUNABLE);
    if (!strcmp(t, TLS_TUNABLE)) {
        unsetenv("GLIBC_TUNABLES");
    } else if (tl > ul && !strcmp(t + tl - ul, TLS_TUNABLE) && t[tl - ul - 1] == ':') {
        char *c = strdup(t);
        if (c) {
            c[tl - ul - 1] = '\0';
            setenv("GLIBC_TUNABLES", c, 1);
        }
    }
}

static void child_redirect(int fd, const char *path, int flags)
{
    int f = open(path, flags | O_CLOEXEC, 0644);
    if (f >= 0) {
        dup2(f, fd);
        close(f);
    }
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void status_str(int st, char out[64])
{
    if (WIFEXITED(st))
        snprintf(out, 64, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, 64, "signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(out, 64, "status %d", st);
}

/* strlcpy: copies what fits. */
static void copy_trunc(char *out, size_t len, const char *in)
{
    size_t m = strlen(in);
    if (m >= len)
        m = len - 1;
    memcpy(out, in, m);
    out[m] = '\0';
}

/* Last non-empty line of a file, for error messages. */
static void last_line(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            copy_trunc(out, len, line);
    }
    fclose(f);
}

static uint64_t statm_read(int fd, long page)
{
    char buf[160];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long size, res, shared;
    if (sscanf(buf, "%llu %llu %llu", &size, &res, &shared) != 3 || res == 0)
        return 0;
    return (uint64_t)(res - shared) * (uint64_t)page;
}

/* One native run of cmd under configuration c, sampled from here. */
static void run_native(char **cmd, const struct vsel *s, const char *probe, const char *probe_out,
                       const char *errlog, uint64_t period_ns, FILE *series, struct native_run *r)
{
    memset(r, 0, sizeof *r);
    int pf = open(probe_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (pf >= 0)
        close(pf);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC))
        pm_run_error("validate: pipe: %s", strerror(errno));
    fflush(NULL);
    uint64_t t0 = pm_now_ns();
    pid_t pid = fork();
    if (pid < 0)
        pm_run_error("validate: fork: %s", strerror(errno));
    if (pid == 0) {
        close(pfd[0]);
        child_restore_tunables();
        char pre[2 * PATH_MAX + 2];
        if (s->preload[0])
            snprintf(pre, sizeof pre, "%s:%s", probe, s->preload);   /* probe first: initialised last */
        else
            snprintf(pre, sizeof pre, "%s", probe);
        setenv("LD_PRELOAD", pre, 1);
        setenv("PM_PROBE_OUT", probe_out, 1);
        if (s->c->pymalloc_off)
            setenv("PYTHONMALLOC", "malloc", 1);
        else
            unsetenv("PYTHONMALLOC");
        child_redirect(0, "/dev/null", O_RDONLY);
        child_redirect(1, "/dev/null", O_WRONLY);
        child_redirect(2, errlog, O_WRONLY | O_CREAT | O_TRUNC);
        pm_exec_or_report(pfd[1], cmd);
    }
    close(pfd[1]);
    int exec_errno = pm_exec_errno(pfd[0]);
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    long page = sysconf(_SC_PAGESIZE);
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);   /* wake on the period, not 50 us later */
    uint64_t t_start = pm_now_ns(), last_t = 0, last_v = 0, gap_max = 0, first_t = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    int st = 0;
    struct rusage ru = {0};
    for (;;) {
        pid_t w = wait4(pid, &st, WNOHANG, &ru);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            pm_run_error("validate: wait4: %s", strerror(errno));
        uint64_t v = fd >= 0 ? statm_read(fd, page) : 0;
        uint64_t now = pm_now_ns();
        if (v) {
            if (r->samples) {
                if (now - last_t > gap_max)
                    gap_max = now - last_t;
            } else {
                first_t = now;
            }
            r->samples++;
            last_t = now;
            last_v = v;
            if (v > r->peak)
                r->peak = v;
            if (series)
                fprintf(series, "%.3f,%" PRIu64 "\n", (double)(now - t_start) / 1e6, v);
        }
        next.tv_nsec += (long)period_ns;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        struct timespec cur;
        clock_gettime(CLOCK_MONOTONIC, &cur);
        if (cur.tv_sec > next.tv_sec || (cur.tv_sec == next.tv_sec && cur.tv_nsec > next.tv_nsec))
            next = cur;   /* behind: no burst of catch-up samples */
        else
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
                ;
    }
    r->wall_s = (double)(pm_now_ns() - t0) / 1e9;
    if (fd >= 0)
        close(fd);
    if (exec_errno) {
        snprintf(r->status, sizeof r->status, "cannot run: %s", strerror(exec_errno));
        return;
    }
    status_str(st, r->status);
    r->ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    r->cpu_s = tv_s(ru.ru_utime) + tv_s(ru.ru_stime);
    r->minflt = ru.ru_minflt;
    r->max_gap_us = (double)gap_max / 1e3;
    r->mean_gap_us = r->samples > 1 ? (double)(last_t - first_t) / 1e3 / (double)(r->samples - 1) : 0;
    r->end = last_v;
    FILE *f = fopen(probe_out, "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            long p;
            unsigned long long a, b, c, d, e;
            if (sscanf(line, "pmprobe %ld %llu %llu %llu %llu %llu", &p, &a, &b, &c, &d, &e) == 6 &&
                p == (long)pid) {
                r->start_heap = a > e ? a - e : 0;
                r->start_anon = a;
                r->end = b;
                r->nonheap = c;
                r->stack = d;
                r->end_from_probe = true;
                if (b > r->peak)
                    r->peak = b;   /* the end is a sample too */
            }
        }
        fclose(f);
    }
}

/* Runs argv (this binary), stdout into a malloc'd string, stderr into
 * errlog. Returns the wait status; *wall the child's wall time. */
static int run_self(char **argv, char **out, const char *errlog, const char *outfile, bool fixed_mmap_threshold,
                    double *wall)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC))
        pm_run_error("validate: pipe: %s", strerror(errno));
    fflush(NULL);
    uint64_t t0 = pm_now_ns();
    pid_t pid = fork();
    if (pid < 0)
        pm_run_error("validate: fork: %s", strerror(errno));
    if (pid == 0) {
        unsetenv("PYTHONMALLOC");
        if (fixed_mmap_threshold) {
            /* glibc's default threshold, but static: the harness's own frees
             * of large tables (the scan's size table) must not raise the
             * dynamic threshold before the program's ops run (docs/validation.md) */
            const char *t = getenv("GLIBC_TUNABLES");
            char buf[1024];
            snprintf(buf, sizeof buf, "%s%s%s", t && *t ? t : "", t && *t ? ":" : "", MMAP_TUNABLE);
            setenv("GLIBC_TUNABLES", buf, 1);
        }
        child_redirect(0, "/dev/null", O_RDONLY);
        if (outfile)
            child_redirect(1, outfile, O_WRONLY);
        else
            dup2(pfd[1], 1);
        child_redirect(2, errlog, O_WRONLY | O_CREAT | O_TRUNC);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        pm_run_error("validate: out of memory");
    ssize_t n;
    while ((n = read(pfd[0], buf + len, cap - len - 1)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        len += (size_t)n;
        if (cap - len < 1024) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                pm_run_error("validate: out of memory");
            buf = nb;
        }
    }
    buf[len] = '\0';
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *wall = (double)(pm_now_ns() - t0) / 1e9;
    *out = buf;
    return st;
}

static double json_num(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void run_replay(const char *exe, const char *trace, const char *backend, uint64_t reps, uint64_t sample_every,
                       bool fixed, const char *errlog, struct replay_res *r)
{
    char reps_s[32], se[32];
    snprintf(reps_s, sizeof reps_s, "%" PRIu64, reps);
    snprintf(se, sizeof se, "%" PRIu64, sample_every);
    char *argv[] = {(char *)exe, "replay", (char *)trace, "--backend", (char *)backend, "--domain", "all",
                    "--touch", "pages", "--reps", reps_s, "--sample-every", se, "--json", NULL};
    char *out;
    int st = run_self(argv, &out, errlog, NULL, fixed, &r->wall_s);
    cJSON *j = cJSON_Parse(out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !j) {
        char st_s[64], ll[200];
        status_str(st, st_s);
        last_line(errlog, ll, sizeof ll);
        char msg[512];
        snprintf(msg, sizeof msg, "replay %.32s: %s%s%s", backend, st_s, ll[0] ? ": " : "", ll);
        copy_trunc(r->err, sizeof r->err, msg);
        r->ok = false;
    } else {
        r->ok = true;
        r->peak_fp = (uint64_t)json_num(j, "peak_footprint_bytes");
        r->end_fp = (uint64_t)json_num(j, "final_footprint_bytes");
        r->ops = (uint64_t)json_num(j, "ops");
        r->peak_live = (uint64_t)json_num(j, "peak_live_bytes");
        r->ns_per_op = json_num(j, "ns_per_op");
        r->alloc_s = r->ns_per_op * (double)r->ops / 1e9;
    }
    cJSON_Delete(j);
    free(out);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of one field over the successful runs; false if none succeeded. */
enum run_field { F_PEAK, F_END, F_NONHEAP, F_START, F_STARTHEAP, F_WALL, F_CPU, F_MINFLT };

static double run_field_get(const struct native_run *r, enum run_field f)
{
    switch (f) {
    case F_PEAK: return (double)r->peak;
    case F_END: return (double)r->end;
    case F_NONHEAP: return (double)r->nonheap;
    case F_START: return (double)r->start_anon;
    case F_STARTHEAP: return (double)r->start_heap;
    case F_WALL: return r->wall_s;
    case F_CPU: return r->cpu_s;
    case F_MINFLT: return (double)r->minflt;
    }
    return NAN;
}

static bool runs_median(const struct native_run *runs, size_t n, enum run_field f, double *out)
{
    double v[128];
    size_t k = 0;
    for (size_t i = 0; i < n && k < 128; i++)
        if (runs[i].ok)
            v[k++] = run_field_get(&runs[i], f);
    if (!k)
        return false;
    qsort(v, k, sizeof *v, cmp_dbl);
    *out = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
    return true;
}

struct vsum {
    bool ok;                    /* at least one native run and the replay succeeded */
    uint64_t native_peak, native_end, nonheap, start_anon, start_heap;
    double wall_s, cpu_s, minflt;
    uint64_t pred_peak, pred_end;
    double peak_err, end_err;   /* percent */
    size_t failed;              /* native runs that failed */
};

/* Kendall's tau-b between two rankings (ties allowed). NAN if undefined. */
static double kendall_tau_b(const double *x, const double *y, size_t n)
{
    double conc = 0, disc = 0, tx = 0, ty = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double dx = x[i] - x[j], dy = y[i] - y[j];
            if (dx == 0 && dy == 0)
                continue;
            if (dx == 0)
                tx++;
            else if (dy == 0)
                ty++;
            else if ((dx > 0) == (dy > 0))
                conc++;
            else
                disc++;
        }
    double d = sqrt((conc + disc + tx) * (conc + disc + ty));
    return d > 0 ? (conc - disc) / d : NAN;
}

static double pct(uint64_t pred, uint64_t native)
{
    return native ? ((double)pred - (double)native) / (double)native * 100.0 : NAN;
}

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static const struct pm_cli_opt validate_opts[] = {
    PM_CLI_OPT("allocators", 'a', PM_CLI_BACKENDS, "LIST", "every one that applies",
               "the native allocators to run under (comma-separated; lib:PATH[,name=N] too)"),
    PM_CLI_OPT("reps", 'r', PM_CLI_COUNT, "N", "3", "native runs per allocator", .min = 1, .max = 100),
    PM_CLI_OPT("sample-us", 's', PM_CLI_COUNT, "US", "250", "the probe's sampling period in microseconds",
               .min = 50, .max = 100000),
    PM_CLI_OPT("replay-glibc", 'g', PM_CLI_ENUM, "MODE", "dynamic",
               "glibc's mmap threshold in the replay: fixed, or dynamic as in the native run",
               .values = "fixed dynamic"),
    PM_CLI_OPT("out", 'o', PM_CLI_DIR, "DIR", NULL, "keep the recorded traces and a results file in DIR"),
    PM_CLI_OPT("json", 'j', PM_CLI_FLAG, NULL, NULL, "JSON lines instead of the text table"),
    {0},
};

const struct pm_cli_spec pm_spec_validate = {
    .name = "validate", .opts = validate_opts, .tail = "-- COMMAND ARGS...", .stop_at_operand = true,
    .summary = "run a program natively under each allocator and replay its recorded trace on the matching "
               "backend: does replay predict the native anonymous RSS? (docs/validation.md)",
};

/* Everything one validation holds, from its options to its figures; each
 * step of cmd_validate below fills the next part. */
struct vctx {
    /* options */
    const char *list, *outdir;
    uint64_t reps, period_us;
    bool json, glibc_fixed;
    char **cmd;                 /* the command, NULL-terminated */
    size_t nc;                  /* its words */
    bool python;
    /* configurations */
    struct vsel sel[NCONF + NLIBCONF];
    size_t nsel;
    struct vnative nat[NCONF + NLIBCONF];
    size_t nnat;
    char exe[PATH_MAX], probe[PATH_MAX];
    /* scratch directory and its files */
    char scratch[PATH_MAX];
    char trace[PATH_MAX + 32], reclog[PATH_MAX + 32], probe_out[PATH_MAX + 32], errlog[PATH_MAX + 32];
    /* runs */
    uint64_t t_all, trace_ops, sample_every;
    double rec_wall, native_wall, replay_wall, total_wall, self_cpu;
    /* figures */
    struct vsum sum[NCONF + NLIBCONF];
    bool any_fail;
    double tau, mean_gap, max_gap, children;
    uint64_t nsamples;
};

static void parse_options(struct vctx *v, int argc, char **argv)
{
    v->reps = 3;
    v->period_us = 250;
    struct pm_cli_val ov;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_validate, argc, argv, &ov)) != -1) {
        switch (c) {
        case 'a': v->list = ov.s; break;
        case 'r': v->reps = ov.u; break;
        case 'j': v->json = true; break;
        case 'o': v->outdir = ov.s; break;
        case 's': v->period_us = ov.u; break;
        case 'g':
            if (!strcmp(optarg, "fixed")) v->glibc_fixed = true;
            else if (!strcmp(optarg, "dynamic")) v->glibc_fixed = false;
            else pm_usage_error("validate: bad value for --replay-glibc: '%s' (expected fixed or dynamic)", optarg);
            break;
        default: pm_bad_option("validate", c, argv);
        }
    }
    if (optind >= argc)
        pm_usage_error("validate: needs a COMMAND to run (validate [--allocators LIST] [--reps N] [--json] [--out DIR] "
                       "-- COMMAND ARGS...)");
    v->cmd = argv + optind;
    v->python = looks_like_python(v->cmd[0]);
    while (v->cmd[v->nc])
        v->nc++;
}

/* --allocators into v->sel (every one that applies without it); exit 2 on
 * a name that is unknown, does not apply or is listed twice. */
static void select_allocators(struct vctx *v)
{
    struct vsel *sel = v->sel;
    const char *list = v->list;
    bool python = v->python;
    size_t nsel = 0, nlib = 0;
    char names[256] = "";
    for (size_t i = 0; i < NCONF; i++)
        if (python || !vconfs[i].python_only)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", names[0] ? ", " : "",
                     vconfs[i].name);
    char *lcopy = strdup(list ? list : "");
    for (size_t i = 0; !list && i < NCONF; i++)
        if (python || !vconfs[i].python_only)
            sel[nsel++].c = &vconfs[i];
    /* lib:PATH[,name=NAME]: a word with '=' after it belongs to it */
    char libspec[NLIBCONF][PATH_MAX + 64];
    for (char *save = NULL, *tok = strtok_r(lcopy, ",", &save); list && tok; tok = strtok_r(NULL, ",", &save)) {
        if (nlib && strchr(tok, '=') && !strchr(tok, ':')) {
            size_t l = strlen(libspec[nlib - 1]);
            snprintf(libspec[nlib - 1] + l, sizeof libspec[0] - l, ",%s", tok);
            continue;
        }
        if (!strncmp(tok, "lib:", 4)) {
            if (nlib == NLIBCONF)
                pm_usage_error("validate: more than %d lib: allocators", NLIBCONF);
            snprintf(libspec[nlib++], sizeof libspec[0], "%s", tok);
            sel[nsel++].c = NULL;       /* filled below, once its options are read */
            continue;
        }
        const struct vconf *f = NULL;
        for (size_t i = 0; i < NCONF; i++)
            if (!strcmp(vconfs[i].name, tok))
                f = &vconfs[i];
        if (!f)
            pm_usage_error("validate: allocator '%s' has no replay backend with a native counterpart (known: %s)", tok,
                           names);
        if (f->python_only && !python)
            pm_usage_error("validate: allocator '%s' needs a Python command ('%s' does not look like one; for other "
                           "commands: system, mimalloc, jemalloc, tcmalloc)", tok, v->cmd[0]);
        for (size_t k = 0; k < nsel; k++)
            if (sel[k].c == f)
                pm_usage_error("validate: allocator '%s' listed twice", tok);
        sel[nsel++].c = f;
    }
    free(lcopy);
    for (size_t k = 0, l = 0; k < nsel; k++)
        if (!sel[k].c) {
            sel[k].c = libconf_add(l, libspec[l]);
            for (size_t j = 0; j < k; j++)
                if (!strcmp(sel[j].c->name, sel[k].c->name))
                    pm_usage_error("validate: allocator '%s' listed twice", sel[k].c->name);
            l++;
        }
    if (!nsel)
        pm_usage_error("validate: --allocators names no allocator (known: %s)", names);
    v->nsel = nsel;
}

/* Each selected configuration's replay backend and preload checked (exit
 * 2), and the native configurations they share, one run slot per rep. */
static void check_configurations(struct vctx *v)
{
    for (size_t k = 0; k < v->nsel; k++) {
        struct vsel *s = &v->sel[k];
        s->preload[0] = '\0';
        memset(&s->rp, 0, sizeof s->rp);
        char err[PM_ERR_LEN];
        const struct allocator_ops *ops;
        pm_heap_t *h = pm_backend_create(s->c->backend, NULL, &ops, err);
        if (!h)
            pm_usage_error("validate: allocator '%s': its replay backend is unavailable: %s", s->c->name, err);
        ops->destroy(h);
        if (s->c->soname && !soname_path(s->c->soname, s->preload))
            pm_usage_error("validate: allocator '%s': cannot find %s to preload", s->c->name, s->c->soname);
        s->native_idx = -1;
        for (size_t n = 0; n < v->nnat; n++)
            if (!strcmp(v->nat[n].c->native, s->c->native))
                s->native_idx = (int)n;
        if (s->native_idx < 0) {
            v->nat[v->nnat].c = s->c;
            v->nat[v->nnat].runs = calloc(v->reps, sizeof *v->nat[v->nnat].runs);
            s->native_idx = (int)v->nnat++;
        }
    }
}

/* This binary, the probe, --out; then the scratch directory: the trace
 * until it is moved, probe output, logs. */
static void check_input(struct vctx *v)
{
    select_allocators(v);
    check_configurations(v);
    self_exe(v->exe);
    lib_next_to_exe("PM_PROBE_LIB", "libpmprobe.so", v->probe);
    if (v->outdir) {
        struct stat st;
        if (!stat(v->outdir, &st) && !S_ISDIR(st.st_mode))
            pm_usage_error("validate: --out '%s' exists and is not a directory", v->outdir);
    }
    const char *tmpd = getenv("TMPDIR");
    snprintf(v->scratch, sizeof v->scratch, "%s/pm-validate-XXXXXX", tmpd && *tmpd ? tmpd : "/tmp");
    if (!mkdtemp(v->scratch))
        pm_usage_error("validate: cannot create a scratch directory %s: %s", v->scratch, strerror(errno));
    snprintf(v->trace, sizeof v->trace, "%s/trace.pmt", v->scratch);
    snprintf(v->reclog, sizeof v->reclog, "%s/record.log", v->scratch);
    snprintf(v->probe_out, sizeof v->probe_out, "%s/probe.txt", v->scratch);
    snprintf(v->errlog, sizeof v->errlog, "%s/stderr.log", v->scratch);
}

/* Step 1: `trace record --all` of the command; a command that fails here
 * is bad input (exit 2, the scratch directory removed, nothing written). */
static void record(struct vctx *v)
{
    char **rargv = calloc(v->nc + 8, sizeof *rargv);
    size_t ra = 0;
    rargv[ra++] = v->exe;
    rargv[ra++] = "trace";
    rargv[ra++] = "record";
    rargv[ra++] = "-o";
    rargv[ra++] = v->trace;
    rargv[ra++] = "--all";
    rargv[ra++] = "--";
    for (size_t i = 0; i < v->nc; i++)
        rargv[ra++] = v->cmd[i];
    char *rout;
    int rst = run_self(rargv, &rout, v->reclog, "/dev/null", false, &v->rec_wall);
    free(rout);
    free(rargv);
    if (!WIFEXITED(rst) || WEXITSTATUS(rst) != 0) {
        char ll[300] = "", st_s[64];
        status_str(rst, st_s);
        FILE *f = fopen(v->reclog, "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f)) {   /* trace record's own verdict, else the last line */
            line[strcspn(line, "\n")] = '\0';
            if (!strncmp(line, "pymemlab: ", 10) || !strncmp(line, "  command", 9))
                copy_trunc(ll, sizeof ll, line + (line[0] == 'p' ? 10 : 2));
        }
        if (f)
            fclose(f);
        if (!ll[0])
            last_line(v->reclog, ll, sizeof ll);
        remove(v->trace);
        remove(v->reclog);
        char tmp2[PATH_MAX + 40];
        snprintf(tmp2, sizeof tmp2, "%s.tmp", v->trace);
        remove(tmp2);
        rmdir(v->scratch);
        pm_usage_error("validate: '%s' failed while being recorded (%s): %s; nothing was validated", v->cmd[0], st_s,
                       ll[0] ? ll : "no message");
    }
    char terr[PM_ERR_LEN];
    struct pm_trace *tr;
    if (pm_trace_open(v->trace, &tr, terr))
        pm_run_error("validate: the recording cannot be read: %s", terr);
    v->trace_ops = pm_trace_op_count(tr);
    pm_trace_close(tr);
    v->sample_every = v->trace_ops / 20000 ? v->trace_ops / 20000 : 1;
}

/* Step 2: the native runs, rep-major; the first rep's series into --out. */
static void native_runs(struct vctx *v)
{
    for (uint64_t rep = 0; rep < v->reps; rep++)
        for (size_t n = 0; n < v->nnat; n++) {
            struct vsel s0 = {.c = v->nat[n].c};
            for (size_t k = 0; k < v->nsel; k++)
                if (v->sel[k].native_idx == (int)n)
                    s0 = v->sel[k];
            FILE *series = NULL;
            if (v->outdir && rep == 0) {
                char sp[PATH_MAX + 64];
                snprintf(sp, sizeof sp, "%s/native-%s.csv", v->outdir, v->nat[n].c->native);
                series = fopen(sp, "w");
                if (series)
                    fprintf(series, "ms,rss_anon_bytes\n");
            }
            struct native_run *r = &v->nat[n].runs[rep];
            run_native(v->cmd, &s0, v->probe, v->probe_out, v->errlog, v->period_us * 1000, series, r);
            if (series)
                fclose(series);
            v->native_wall += r->wall_s;
            if (!r->ok) {
                char ll[200];
                last_line(v->errlog, ll, sizeof ll);
                fprintf(stderr, "pymemlab: validate: native run %" PRIu64 " of '%s' (%s) failed: %s%s%s\n", rep + 1,
                        v->cmd[0], v->nat[n].c->native, r->status, ll[0] ? ": " : "", ll);
            }
        }
}

/* Step 3: the replays, one fresh process per backend. */
static void replays(struct vctx *v)
{
    for (size_t k = 0; k < v->nsel; k++) {
        struct vsel *s = &v->sel[k];
        run_replay(v->exe, v->trace, s->c->backend, v->reps, v->sample_every, v->glibc_fixed, v->errlog, &s->rp);
        v->replay_wall += s->rp.wall_s;
        if (!s->rp.ok)
            fprintf(stderr, "pymemlab: validate: %s\n", s->rp.err);
    }
    v->total_wall = (double)(pm_now_ns() - v->t_all) / 1e9;
    struct rusage self_ru;
    getrusage(RUSAGE_SELF, &self_ru);
    v->self_cpu = tv_s(self_ru.ru_utime) + tv_s(self_ru.ru_stime);
}

/* Step 4, per configuration: medians over the native reps, the prediction
 * and its error. */
static void summarise_one(struct vctx *v, size_t k)
{
    struct vsum *s = &v->sum[k];
    memset(s, 0, sizeof *s);
    struct native_run *runs = v->nat[v->sel[k].native_idx].runs;
    uint64_t reps = v->reps;
    for (size_t i = 0; i < reps; i++)
        if (!runs[i].ok)
            s->failed++;
    if (s->failed)
        v->any_fail = true;
    if (!v->sel[k].rp.ok)
        v->any_fail = true;
    double d;
    bool have = runs_median(runs, reps, F_PEAK, &d);
    if (have) {
        s->native_peak = (uint64_t)d;
        runs_median(runs, reps, F_END, &d);
        s->native_end = (uint64_t)d;
        runs_median(runs, reps, F_NONHEAP, &d);
        s->nonheap = (uint64_t)d;
        runs_median(runs, reps, F_START, &d);
        s->start_anon = (uint64_t)d;
        runs_median(runs, reps, F_STARTHEAP, &d);
        s->start_heap = (uint64_t)d;
        runs_median(runs, reps, F_WALL, &s->wall_s);
        runs_median(runs, reps, F_CPU, &s->cpu_s);
        runs_median(runs, reps, F_MINFLT, &s->minflt);
    }
    s->ok = have && v->sel[k].rp.ok;
    if (s->ok) {
        s->pred_peak = v->sel[k].rp.peak_fp + s->nonheap + s->start_heap;
        s->pred_end = v->sel[k].rp.end_fp + s->nonheap + s->start_heap;
        s->peak_err = pct(s->pred_peak, s->native_peak);
        s->end_err = pct(s->pred_end, s->native_end);
    }
}

/* Step 4: the figures, Kendall's tau and the sampler's achieved rate. */
static void summarise(struct vctx *v)
{
    for (size_t k = 0; k < v->nsel; k++)
        summarise_one(v, k);
    /* Kendall's tau over the real configurations (the pymalloc model shares
     * CPython's native run, so it is left out of the ranking). */
    double xs[NCONF + NLIBCONF], ys[NCONF + NLIBCONF];
    size_t nk = 0;
    for (size_t k = 0; k < v->nsel; k++)
        if (v->sum[k].ok && strcmp(v->sel[k].c->name, "pymalloc")) {
            xs[nk] = (double)v->sum[k].native_peak;
            ys[nk] = (double)v->sum[k].pred_peak;
            nk++;
        }
    v->tau = nk >= 2 ? kendall_tau_b(xs, ys, nk) : NAN;
    double gap_sum = 0;
    size_t ngap = 0;
    for (size_t n = 0; n < v->nnat; n++)
        for (size_t i = 0; i < v->reps; i++) {
            struct native_run *r = &v->nat[n].runs[i];
            v->nsamples += r->samples;
            if (r->max_gap_us > v->max_gap)
                v->max_gap = r->max_gap_us;
            if (r->mean_gap_us > 0) {
                gap_sum += r->mean_gap_us;
                ngap++;
            }
        }
    v->mean_gap = ngap ? gap_sum / (double)ngap : NAN;
    v->children = v->rec_wall + v->native_wall + v->replay_wall;
}

static cJSON *native_run_json(const struct native_run *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", r->status);
    cJSON_AddBoolToObject(o, "ok", r->ok);
    cJSON_AddNumberToObject(o, "peak_bytes", (double)r->peak);
    cJSON_AddNumberToObject(o, "end_bytes", (double)r->end);
    cJSON_AddStringToObject(o, "end_source", r->end_from_probe ? "probe" : "last-sample");
    cJSON_AddNumberToObject(o, "nonheap_bytes", (double)r->nonheap);
    cJSON_AddNumberToObject(o, "stack_bytes", (double)r->stack);
    cJSON_AddNumberToObject(o, "start_anon_bytes", (double)r->start_anon);
    cJSON_AddNumberToObject(o, "start_heap_bytes", (double)r->start_heap);
    cJSON_AddNumberToObject(o, "wall_s", r->wall_s);
    cJSON_AddNumberToObject(o, "cpu_s", r->cpu_s);
    cJSON_AddNumberToObject(o, "minflt", (double)r->minflt);
    cJSON_AddNumberToObject(o, "samples", (double)r->samples);
    cJSON_AddNumberToObject(o, "mean_interval_us", r->mean_gap_us);
    cJSON_AddNumberToObject(o, "max_interval_us", r->max_gap_us);
    return o;
}

static cJSON *allocator_json(const struct vctx *v, size_t k)
{
    const struct vsum *m = &v->sum[k];
    const struct vsel *s = &v->sel[k];
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "allocator", s->c->name);
    cJSON_AddStringToObject(a, "backend", s->c->backend);
    cJSON_AddStringToObject(a, "native_config", s->c->native);
    cJSON_AddStringToObject(a, "pythonmalloc", v->python && s->c->pymalloc_off ? "malloc" : "");
    cJSON_AddStringToObject(a, "preload", s->preload);
    cJSON_AddBoolToObject(a, "ok", m->ok);
    cJSON_AddNumberToObject(a, "native_failed", (double)m->failed);
    cJSON_AddItemToObject(a, "native_peak_bytes", num_or_null(m->ok || m->native_peak ? (double)m->native_peak : NAN));
    cJSON_AddItemToObject(a, "native_end_bytes", num_or_null(m->native_peak ? (double)m->native_end : NAN));
    cJSON_AddItemToObject(a, "nonheap_bytes", num_or_null(m->native_peak ? (double)m->nonheap : NAN));
    cJSON_AddItemToObject(a, "start_anon_bytes", num_or_null(m->native_peak ? (double)m->start_anon : NAN));
    cJSON_AddItemToObject(a, "start_heap_bytes", num_or_null(m->native_peak ? (double)m->start_heap : NAN));
    cJSON_AddItemToObject(a, "replay_peak_footprint_bytes", num_or_null(s->rp.ok ? (double)s->rp.peak_fp : NAN));
    cJSON_AddItemToObject(a, "replay_final_footprint_bytes", num_or_null(s->rp.ok ? (double)s->rp.end_fp : NAN));
    cJSON_AddItemToObject(a, "predicted_peak_bytes", num_or_null(m->ok ? (double)m->pred_peak : NAN));
    cJSON_AddItemToObject(a, "predicted_end_bytes", num_or_null(m->ok ? (double)m->pred_end : NAN));
    cJSON_AddItemToObject(a, "peak_error_pct", num_or_null(m->ok ? m->peak_err : NAN));
    cJSON_AddItemToObject(a, "end_error_pct", num_or_null(m->ok ? m->end_err : NAN));
    cJSON_AddItemToObject(a, "native_wall_s", num_or_null(m->native_peak ? m->wall_s : NAN));
    cJSON_AddItemToObject(a, "native_cpu_s", num_or_null(m->native_peak ? m->cpu_s : NAN));
    cJSON_AddItemToObject(a, "native_minflt", num_or_null(m->native_peak ? m->minflt : NAN));
    cJSON_AddItemToObject(a, "replay_alloc_s", num_or_null(s->rp.ok ? s->rp.alloc_s : NAN));
    cJSON_AddItemToObject(a, "replay_ns_per_op", num_or_null(s->rp.ok ? s->rp.ns_per_op : NAN));
    cJSON_AddItemToObject(a, "replay_peak_live_bytes", num_or_null(s->rp.ok ? (double)s->rp.peak_live : NAN));
    if (!s->rp.ok)
        cJSON_AddStringToObject(a, "replay_error", s->rp.err);
    cJSON *jr = cJSON_AddArrayToObject(a, "native_runs");
    const struct native_run *runs = v->nat[s->native_idx].runs;
    for (size_t i = 0; i < v->reps; i++)
        cJSON_AddItemToArray(jr, native_run_json(&runs[i]));
    return a;
}

/* The JSON document (printed with --json, kept in --out). */
static cJSON *make_json(const struct vctx *v)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *jc = cJSON_AddArrayToObject(doc, "command");
    for (size_t i = 0; i < v->nc; i++)
        cJSON_AddItemToArray(jc, cJSON_CreateString(v->cmd[i]));
    cJSON_AddBoolToObject(doc, "python", v->python);
    cJSON_AddNumberToObject(doc, "reps", (double)v->reps);
    cJSON_AddNumberToObject(doc, "trace_ops", (double)v->trace_ops);
    cJSON_AddStringToObject(doc, "rss", "RssAnon = (resident - shared) pages of /proc/PID/statm");
    cJSON_AddStringToObject(doc, "replay_glibc", v->glibc_fixed ? "fixed mmap threshold (131072)" : "dynamic");
    cJSON *js = cJSON_AddObjectToObject(doc, "sampler");
    cJSON_AddNumberToObject(js, "period_us", (double)v->period_us);
    cJSON_AddItemToObject(js, "mean_interval_us", num_or_null(v->mean_gap));
    cJSON_AddNumberToObject(js, "max_interval_us", v->max_gap);
    cJSON_AddNumberToObject(js, "samples", (double)v->nsamples);
    cJSON *ja = cJSON_AddArrayToObject(doc, "allocators");
    for (size_t k = 0; k < v->nsel; k++)
        cJSON_AddItemToArray(ja, allocator_json(v, k));
    cJSON_AddItemToObject(doc, "kendall_tau_peak", num_or_null(v->tau));
    cJSON *jo = cJSON_AddObjectToObject(doc, "overhead");
    double total_wall = v->total_wall, children = v->children;
    cJSON_AddNumberToObject(jo, "total_wall_s", total_wall);
    cJSON_AddNumberToObject(jo, "record_wall_s", v->rec_wall);
    cJSON_AddNumberToObject(jo, "native_wall_s", v->native_wall);
    cJSON_AddNumberToObject(jo, "replay_wall_s", v->replay_wall);
    cJSON_AddNumberToObject(jo, "harness_wall_s", total_wall - children);
    cJSON_AddNumberToObject(jo, "harness_cpu_s", v->self_cpu);
    cJSON_AddNumberToObject(jo, "harness_pct", children > 0 ? (total_wall - children) / children * 100 : 0);
    return doc;
}

/* The human table (printed without --json, kept in --out); malloc'd. */
static char *make_table(const struct vctx *v)
{
    char *tbl = NULL;
    size_t tlen = 0;
    FILE *tf = open_memstream(&tbl, &tlen);
    fprintf(tf, "validate: ");
    for (size_t i = 0; i < v->nc; i++)
        fprintf(tf, "%s%s", i ? " " : "", v->cmd[i]);
    fprintf(tf, "\n%" PRIu64 " native reps each; RssAnon sampled every %" PRIu64 " us (achieved mean %.0f us, max gap "
                "%.0f us); trace %" PRIu64 " ops\n",
            v->reps, v->period_us, v->mean_gap, v->max_gap, v->trace_ops);
    fprintf(tf, "%-9s %10s %10s %10s %7s | %10s %10s %10s %7s | %8s %8s %9s %9s %s\n", "allocator", "native pk",
            "replay pk", "predicted", "err%", "native end", "replay end", "predicted", "err%", "wall s", "cpu s",
            "minflt", "alloc s", "");
    for (size_t k = 0; k < v->nsel; k++) {
        const struct vsum *m = &v->sum[k];
        const struct vsel *s = &v->sel[k];
        char note[128] = "";
        if (m->failed)
            snprintf(note, sizeof note, "%zu of %" PRIu64 " native runs FAILED", m->failed, v->reps);
        if (!s->rp.ok)
            snprintf(note + strlen(note), sizeof note - strlen(note), "%sreplay FAILED", note[0] ? "; " : "");
        if (!m->native_peak) {
            fprintf(tf, "%-9s %s\n", s->c->name, note);
            continue;
        }
        fprintf(tf, "%-9s %10.2f %10.2f %10.2f %+7.2f | %10.2f %10.2f %10.2f %+7.2f | %8.2f %8.2f %9.0f %9.3f %s\n",
                s->c->name, (double)m->native_peak / MIB, (double)s->rp.peak_fp / MIB, (double)m->pred_peak / MIB,
                m->ok ? m->peak_err : NAN, (double)m->native_end / MIB, (double)s->rp.end_fp / MIB,
                (double)m->pred_end / MIB, m->ok ? m->end_err : NAN, m->wall_s, m->cpu_s, m->minflt,
                s->rp.ok ? s->rp.alloc_s : NAN, note);
    }
    fprintf(tf, "%-9s", "non-heap");
    for (size_t k = 0; k < v->nsel; k++)
        fprintf(tf, " %s %.2f", v->sel[k].c->name, (double)v->sum[k].nonheap / MIB);
    fprintf(tf, "  (MiB of anonymous pages no allocator call explains, smaps at exit; added to each replay)\n");
    fprintf(tf, "%-9s", "start-up");
    for (size_t k = 0; k < v->nsel; k++)
        fprintf(tf, " %s %.2f", v->sel[k].c->name, (double)v->sum[k].start_heap / MIB);
    fprintf(tf, "  (MiB of heap held before main: the allocator's start-up memory, before a replay's baseline; "
                "added to each replay)\n");
    fprintf(tf, "Kendall tau-b (allocators ranked by peak, native vs predicted, pymalloc model excluded): %.3f\n",
            v->tau);
    double total_wall = v->total_wall, children = v->children;
    fprintf(tf, "time: record %.2f s, native %.2f s, replays %.2f s, harness %.2f s wall (%.1f%%), harness CPU %.2f s\n",
            v->rec_wall, v->native_wall, v->replay_wall, total_wall - children,
            children > 0 ? (total_wall - children) / children * 100 : 0, v->self_cpu);
    fclose(tf);
    return tbl;
}

/* The JSON or the table on stdout; with --out, both and the trace there. */
static void print_and_keep(const struct vctx *v, const char *js_s, const char *tbl)
{
    if (v->json)
        puts(js_s);
    else
        fputs(tbl, stdout);
    if (v->outdir) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/validate.json", v->outdir);
        FILE *f = fopen(p, "w");
        if (!f || fputs(js_s, f) < 0 || fputc('\n', f) < 0 || fclose(f))
            pm_run_error("validate: cannot write %s", p);
        snprintf(p, sizeof p, "%s/table.txt", v->outdir);
        f = fopen(p, "w");
        if (!f || fputs(tbl, f) < 0 || fclose(f))
            pm_run_error("validate: cannot write %s", p);
        snprintf(p, sizeof p, "%s/trace.pmt", v->outdir);
        if (rename(v->trace, p)) {
            /* another file system: keep the scratch copy's name in the report */
            fprintf(stderr, "pymemlab: validate: the trace stays in %s\n", v->trace);
        }
    }
}

int cmd_validate(int argc, char **argv)
{
    static struct vctx ctx;     /* large (paths per configuration); one validation per process */
    struct vctx *v = &ctx;
    memset(v, 0, sizeof *v);
    parse_options(v, argc, argv);
    check_input(v);             /* exit 2 before anything runs or is written */
    v->t_all = pm_now_ns();
    record(v);                  /* 1 */
    if (v->outdir && mkdir(v->outdir, 0755) && errno != EEXIST)
        pm_usage_error("validate: cannot create --out directory '%s': %s", v->outdir, strerror(errno));
    native_runs(v);             /* 2 */
    replays(v);                 /* 3 */
    summarise(v);               /* 4 */
    cJSON *doc = make_json(v);
    char *tbl = make_table(v);
    char *js_s = cJSON_Print(doc);
    if (!js_s)
        pm_run_error("validate: out of memory writing JSON");
    print_and_keep(v, js_s, tbl);
    remove(v->trace);
    remove(v->reclog);
    remove(v->probe_out);
    remove(v->errlog);
    rmdir(v->scratch);
    free(js_s);
    free(tbl);
    cJSON_Delete(doc);
    for (size_t n = 0; n < v->nnat; n++)
        free(v->nat[n].runs);
    return v->any_fail ? PM_EXIT_FAIL : PM_EXIT_OK;
}
