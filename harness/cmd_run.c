/* harness/cmd_run.c — `pymemlab run`: the suite runner, pymemlab's main
 * job. Runs the matrix backends x workloads x reps of a suite
 * (harness/suite.h, docs/suites.md), each run in a forked child with a time
 * and an address-space limit, and writes the results folder:
 *
 *   DIR/results.csv, DIR/results.jsonl   one record per run (results.h),
 *                                        appended and fsync'd as each ends
 *   DIR/provenance.json                  build, machine, config, sessions
 *   DIR/series/W__B__R.csv               memory over time of each run
 *   DIR/logs/W__B__R.stderr              what a run printed on stderr
 *   DIR/traces/                          the suite's generated traces
 *   DIR/summary.md                       the summary table (also on stdout)
 *
 * The parent stays small: backends are checked, and traces generated, in
 * forked helpers, so that no reference allocator is initialised and little
 * of the C heap is used before the runs fork (a global backend in a child
 * starts from the parent's heap; malloc_trim before each fork gives the free
 * pages back).
 *
 * A run (child): one timed run (ns_per_op) in a fresh process of its own
 * (a grandchild, forked before this process uses the backend: cold or warm,
 * --mode), then, in rep 1 only, the sampled run (memory figures, series,
 * latency) in the child itself, which has not used the backend either; the
 * result goes back as one JSON line through a pipe, stderr through another.
 * The parent reads the machine's load (/proc/stat, /proc/loadavg) before and
 * after each run and records it with the run. Whatever ends it —
 * a signal, an exit without a result, the time limit (the parent kills its
 * process group) — is a failed record with its reason, and the suite goes
 * on. `--emit-jobs FILE` writes the matrix as command lines instead.
 *
 * Exit codes: 0 the planned runs were all attempted (failed runs are
 * results, listed in the summary); 1 the runner itself failed (cannot write
 * the results); 2 bad input (suite, names, options, a results folder of
 * another configuration), before any result file is touched.
 */
#include "cli.h"
#include "opts.h"
#include "paths.h"
#include "fileio.h"
#include "fresh.h"
#include "metrics.h"
#include "pm_build_info.h"
#include "pyrun.h"
#include "replay.h"
#include "results.h"
#include "stats.h"
#include "suite.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_S 600.0     /* when neither the suite nor --timeout says */
#define DEFAULT_REPS PM_CI_MIN_N  /* the fewest whose min..max is a 95% interval */
#define STDERR_KEEP 65536           /* bytes of a run's stderr kept */
#define RESULT_MAX (1u << 20)       /* bytes of a run's result line accepted */

/* ---- configuration ---- */

struct backend {
    char spec[PATH_MAX + 64];
    char label[128];            /* what results show: the spec, or a lib:PATH's NAME */
    char file[128];             /* the label made file-name safe */
    char description[256];      /* from the backend (library versions) */
};

struct cfg {
    struct pm_suite suite;
    const char *suite_spec;
    struct backend *backends;
    size_t nbackends;
    bool default_backends;      /* --backends not given */
    bool *wanted;               /* per suite item: in --workloads (all if not given) */
    unsigned reps;
    unsigned jobs;
    enum pm_time_mode mode;     /* --mode: the timed runs' heap state */
    char out[PATH_MAX];
    char traces_dir[PATH_MAX];
    const char *baseline;
    bool resume, force;
    double timeout_s;           /* --timeout; 0: per line / suite */
    uint64_t mem_limit;         /* RLIMIT_AS bytes; 0: none */
    bool mem_limit_given;
    const char *emit_jobs;
    uint64_t series_every;      /* 0: each kind's default */
    uint64_t latency_every;
    const char *only;           /* "W:B:R" or NULL */
    char only_w[64], only_b[128];
    unsigned only_r;
    const char *workloads_arg;
    const char *backends_arg;
    char **argv;
    int argc;
    char notes[4096];           /* "note: ..." lines, printed once the input is checked */
};

/* One cell of the matrix. */
struct run {
    size_t item;                /* index into suite.items */
    size_t backend;
    unsigned rep;               /* 1-based */
};

static volatile sig_atomic_t interrupted;
/* What cold/warm timing's extra process per run cost, and the runs' wall
 * time, over this session (README: timing modes). */
static double fresh_overhead_s, runs_wall_s;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* ---- small helpers ---- */

__attribute__((format(printf, 2, 3)))
static void add_note(struct cfg *c, const char *fmt, ...)
{
    size_t used = strlen(c->notes);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->notes + used, sizeof c->notes - used, fmt, ap);
    va_end(ap);
    used = strlen(c->notes);
    if (used + 1 < sizeof c->notes) {
        c->notes[used] = '\n';
        c->notes[used + 1] = 0;
    }
}

static void print_notes(const struct cfg *c)
{
    for (const char *l = c->notes; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] ? 1 : 0))
        fprintf(stderr, "pymemlab: note: %.*s\n", (int)strcspn(l, "\n"), l);
}

static void file_safe(char *out, size_t len, const char *spec)
{
    size_t i = 0;
    for (; spec[i] && i + 1 < len; i++) {
        char c = spec[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_' || c == '=';
        out[i] = ok ? c : '+';
    }
    out[i] = 0;
}

static void run_id(const struct cfg *c, const struct run *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s__%s__%u", c->suite.items[r->item].name, c->backends[r->backend].file,
             r->rep);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * UINT64_C(1099511628211);
    return h;
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Whether a backend can hold objects: `null` reuses its ring (it keeps no
 * data), so it only replays traces, as the replay loop's own cost. */
static bool holds_data(const char *spec)
{
    return pm_cli_keeps_contents(spec);   /* the descriptor's flag: null, debug:null... */
}

static double item_timeout(const struct cfg *c, const struct pm_suite_item *it)
{
    if (c->timeout_s > 0)
        return c->timeout_s;
    if (it->timeout_s > 0)
        return it->timeout_s;
    if (c->suite.timeout_s > 0)
        return c->suite.timeout_s;
    return DEFAULT_TIMEOUT_S;
}

static const char *kind_name(enum pm_suite_kind k)
{
    return k == PM_SUITE_PY ? "py" : k == PM_SUITE_GEN ? "gen" : "trace";
}

static int write_all(int fd, const char *s, size_t n)
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

/* Reads what is there (non-blocking fd) into a buffer kept to `max` bytes;
 * returns false at EOF or on an error. */
struct cap {
    char *p;
    size_t n, max;
    uint64_t total;             /* bytes seen, kept or not */
};

static bool cap_read(int fd, struct cap *c)
{
    char buf[16384];
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0)
            return errno == EAGAIN || errno == EINTR;
        if (r == 0)
            return false;
        c->total += (uint64_t)r;
        size_t keep = c->n < c->max ? c->max - c->n : 0;
        if ((size_t)r < keep)
            keep = (size_t)r;
        if (keep) {
            char *np = realloc(c->p, c->n + keep + 1);
            if (!np)
                return true;
            c->p = np;
            memcpy(c->p + c->n, buf, keep);
            c->n += keep;
            c->p[c->n] = 0;
        }
    }
}

/* The first non-empty line of a buffer, clipped. */
static void first_line(const char *s, char *out, size_t len)
{
    out[0] = 0;
    if (!s)
        return;
    while (*s == '\n' || *s == '\r' || *s == ' ')
        s++;
    size_t l = strcspn(s, "\r\n");
    snprintf(out, len, "%.*s", (int)(l < len - 1 ? l : len - 1), s);
}

/* A sanitizer's report in a run's stderr: the text after "ERROR: " on its
 * first ERROR line (ASan, LSan) or the UBSan "runtime error" line; NULL if
 * none. *deadly: ASan caught a signal (it reports, then exits 1). */
static const char *sanitizer_report(const char *err, char *out, size_t len, bool *deadly)
{
    *deadly = false;
    if (!err)
        return NULL;
    const char *e = strstr(err, "ERROR: AddressSanitizer: ");
    if (!e)
        e = strstr(err, "ERROR: LeakSanitizer: ");
    if (e)
        e += strlen("ERROR: ");
    else if ((e = strstr(err, "runtime error: ")) != NULL)
        while (e > err && e[-1] != '\n')
            e--;
    if (!e)
        return NULL;
    *deadly = strstr(err, "AddressSanitizer:DEADLYSIGNAL") != NULL;
    first_line(e, out, len);
    return out;
}

/* ---- helpers in a forked child, their output on a pipe ---- */

typedef void (*helper_fn)(const struct cfg *c, FILE *out, void *arg);

/* Runs fn in a child; *out gets what it wrote. Returns the wait status. */
static int helper_run(const struct cfg *c, helper_fn fn, void *arg, char **out)
{
    int fd[2];
    if (pipe(fd))
        pm_run_error("run: pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        pm_run_error("run: fork: %s", strerror(errno));
    if (pid == 0) {
        /* the runner killed (SIGKILL, SIGTERM...): so is its helper, which
         * would otherwise go on generating a trace nobody waits for */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        close(fd[0]);
        FILE *f = fdopen(fd[1], "w");
        if (f) {
            fn(c, f, arg);
            fflush(f);
        }
        _exit(0);
    }
    close(fd[1]);
    struct cap cp = {.max = 1u << 24};
    while (cap_read(fd[0], &cp))
        ;
    close(fd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *out = cp.p ? cp.p : strdup("");
    return st;
}

/* Lines "ok\tSPEC\tDESCRIPTION", "skip\tSPEC\tWHY" or "err\tMESSAGE". */
static void helper_backends(const struct cfg *c, FILE *out, void *arg)
{
    (void)arg;
    struct pm_config cfg = {.on_misuse = pm_cli_misuse_abort};
    char err[PM_ERR_LEN];
    if (c->default_backends) {
        for (const struct allocator_ops *const *b = pm_backends; *b; b++) {
            if ((*b)->flags & (PM_BACKEND_WRAPPER | PM_BACKEND_TEST_ONLY))
                continue;
            const char *why = (*b)->unavailable ? (*b)->unavailable() : NULL;
            if (why) {
                fprintf(out, "skip\t%s\t%s\n", (*b)->name, why);
                continue;
            }
            const struct allocator_ops *ops;
            pm_heap_t *h = pm_backend_create((*b)->name, &cfg, &ops, err);
            if (!h) {
                fprintf(out, "skip\t%s\t%s\n", (*b)->name, err);
                continue;
            }
            ops->destroy(h);
            fprintf(out, "ok\t%s\t%s\n", (*b)->name, (*b)->description);
        }
        return;
    }
    for (size_t i = 0; i < c->nbackends; i++) {
        const struct allocator_ops *ops;
        pm_heap_t *h = pm_backend_create(c->backends[i].spec, &cfg, &ops, err);
        if (!h) {
            fprintf(out, "err\t%s\n", err);
            return;
        }
        ops->destroy(h);
        char path[PATH_MAX], name[64], real[PATH_MAX];
        if (!strncmp(c->backends[i].spec, "lib:", 4) && !pm_lib_spec_parse(c->backends[i].spec + 4, path, name, err))
            fprintf(out, "ok\t%s\tmalloc library %s\n", c->backends[i].spec,
                    realpath(path, real) ? real : path);
        else
            fprintf(out, "ok\t%s\t%s\n", c->backends[i].spec, ops->description);
    }
}

/* Validates the trace files: "err\tMESSAGE" for the first bad one. */
static void helper_traces(const struct cfg *c, FILE *out, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < c->suite.n; i++) {
        const struct pm_suite_item *it = &c->suite.items[i];
        if (it->kind != PM_SUITE_TRACE || !c->wanted[i])
            continue;
        char err[PM_ERR_LEN];
        struct pm_trace *t;
        if (pm_trace_open(it->path, &t, err)) {
            fprintf(out, "err\t%s:%u: %s\n", c->suite.path, it->line, err);
            return;
        }
        struct pm_replay_scan scan;
        int rc = pm_replay_scan(t, it->domains, &scan, err);
        pm_trace_close(t);
        if (rc) {
            fprintf(out, "err\t%s:%u: %s: %s\n", c->suite.path, it->line, it->path, err);
            return;
        }
        if (scan.ops == 0) {
            fprintf(out, "err\t%s:%u: %s: no ops to replay in domain %s\n", c->suite.path,
                    it->line, it->path, it->domain);
            return;
        }
    }
}

/* Generates the gen items' traces that are missing: "err\tMESSAGE". */
static void helper_generate(const struct cfg *c, FILE *out, void *arg)
{
    const bool *need = arg;
    for (size_t i = 0; i < c->suite.n; i++) {
        const struct pm_suite_item *it = &c->suite.items[i];
        if (it->kind != PM_SUITE_GEN || !need[i])
            continue;
        char err[PM_ERR_LEN];
        struct pm_trace *t;
        if (pm_trace_open(it->path, &t, err) == 0) {
            bool whole = pm_trace_finished(t);
            pm_trace_close(t);
            if (whole)
                continue;               /* made earlier (resume, or another job) */
        }
        /* a private name, renamed into place: jobs sharing the folder may
         * generate the same trace at once */
        char tmp[PATH_MAX + 32];
        snprintf(tmp, sizeof tmp, "%s.%d.pmt", it->path, (int)getpid());
        struct pm_trace_writer *w = pm_trace_writer_open(tmp, err);
        if (!w) {
            fprintf(out, "err\t%s\n", err);
            return;
        }
        if (pm_tracegen(it->pattern, &it->gen, w, err)) {
            pm_trace_writer_abort(w);
            fprintf(out, "err\t%s:%u: %s\n", c->suite.path, it->line, err);   /* err: "gen P: ..." */
            return;
        }
        if (pm_trace_writer_close(w, err) || rename(tmp, it->path)) {
            remove(tmp);
            fprintf(out, "err\tcannot write the trace '%s': %s\n", it->path, err);
            return;
        }
    }
}

/* ---- the run itself (in the child) ---- */

static void child_result(int fd, cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (s && (write_all(fd, s, strlen(s)) == 0))
        write_all(fd, "\n", 1);
    free(s);
}

static _Noreturn void child_fail(int fd, const char *msg)
{
    int sig = pm_fresh_last_signal();
    if (sig) {          /* the timed run's process was killed: so is the run */
        fflush(stderr);
        signal(sig, SIG_DFL);
        raise(sig);
    }
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddStringToObject(o, "error", msg);
    child_result(fd, o);
    cJSON_Delete(o);
    fflush(stderr);
    _exit(1);
}

/* A series that cannot be written fails its run (in the child: one line on
 * stderr, exit 1, which the parent records as failed with that line as the
 * reason). Recording the run ok without its series would lose the series
 * silently, and a run recorded ok is never run again by --resume; a failed
 * one is, so the loss is repaired by the next --resume. */
static _Noreturn void series_fail(const char *path, int err)
{
    fprintf(stderr, "pymemlab: run: cannot write the series file %s: %s\n", path, strerror(err));
    fflush(stderr);
    _exit(1);
}

/* Opens DIR/series/ID.csv.tmp; the caller renames it after a whole run. */
static FILE *series_open(const struct cfg *c, const char *id, char *tmp, size_t len)
{
    snprintf(tmp, len, "%.3800s/series/%s.csv.tmp", c->out, id);
    FILE *f = fopen(tmp, "w");
    if (!f)
        series_fail(tmp, errno);
    return f;
}

/* ok: the run itself succeeded (else its own error is reported and the file
 * goes). A write error of the series itself ends the run (series_fail). */
static void series_commit(FILE *f, const char *tmp, bool ok)
{
    char final[PATH_MAX + 64];
    snprintf(final, sizeof final, "%.*s", (int)(strlen(tmp) - 4), tmp);
    errno = 0;
    bool write_error = fflush(f) != 0 || ferror(f);
    int e = errno ? errno : EIO;
    if (fclose(f) != 0 && !write_error) {
        write_error = true;
        e = errno;
    }
    if (write_error) {
        remove(tmp);
        series_fail(final, e);
    }
    if (!ok) {
        remove(tmp);
        return;
    }
    if (rename(tmp, final)) {
        e = errno;
        remove(tmp);
        series_fail(final, e);
    }
}

static void child_py(const struct cfg *c, const struct pm_suite_item *it, const char *spec,
                     const char *id, unsigned rep, int fd)
{
    struct pm_pyrun_opts opts = {.sample_every = c->series_every, .reps = 1,
                                 .on_misuse = pm_cli_misuse_abort,
                                 .latency_every = c->latency_every, .mode = c->mode};
    char err[PM_ERR_LEN];
    struct pm_pyrun_result res = {0};
    /* timed first, in a fresh process forked before this one uses the backend */
    int rc = pm_pyrun_time(it->workload, spec, it->scale, it->seed, &opts, &res, err);
    if (!rc && rep == 1) {
        rc = pm_pyrun_measure(it->workload, spec, it->scale, it->seed, &opts, &res, err);
        char tmp[PATH_MAX + 64];
        FILE *sf = rc ? NULL : series_open(c, id, tmp, sizeof tmp);
        if (sf)
            series_commit(sf, tmp, pm_pyrun_write_series(sf, &res, err) == 0);
    }
    if (rc)
        child_fail(fd, err);
    cJSON *o = pm_pyrun_json(&res);
    if (!o)
        child_fail(fd, "out of memory");
    if (res.measured)
        cJSON_AddNumberToObject(o, "trimmed_footprint_bytes", (double)res.trimmed_footprint_bytes);
    cJSON_AddNumberToObject(o, "fresh_overhead_ns", (double)pm_fresh_overhead_ns(NULL));
    child_result(fd, o);
    cJSON_Delete(o);
    pm_pyrun_result_free(&res);
}

static void child_replay(const struct cfg *c, const struct pm_suite_item *it, const char *spec,
                         const char *id, unsigned rep, int fd)
{
    char err[PM_ERR_LEN];
    struct pm_trace *t;
    if (pm_trace_open(it->path, &t, err))
        child_fail(fd, err);
    struct pm_replay_scan scan;
    if (pm_replay_scan(t, it->domains, &scan, err))
        child_fail(fd, err);
    struct pm_replay_opts o = {.sample_every = c->series_every, .touch = PM_TOUCH_PAGES,
                               .domains = it->domains, .latency_every = c->latency_every};
    /* timed first, in a fresh process forked before this one uses the backend */
    struct pm_replay_opts timed = o;
    timed.latency_every = 0;
    struct pm_timing tm;
    if (pm_replay_time_fresh(t, spec, &timed, &scan, c->mode, &tm, err))
        child_fail(fd, err);
    struct pm_replay_result r;
    memset(&r, 0, sizeof r);
    r.scan = scan;
    r.no_memory = true;         /* reps after the first: no memory figures */
    r.frag4 = r.frag3 = r.frag_at_peak_live = r.retention = r.retention_trimmed = NAN;
    if (rep == 1) {
        char tmp[PATH_MAX + 64];
        o.series = series_open(c, id, tmp, sizeof tmp);
        int rc = pm_replay_measure(t, spec, &o, &scan, &r, err);
        if (o.series)
            series_commit(o.series, tmp, rc == 0);
        if (rc)
            child_fail(fd, err);
    }
    cJSON *j = pm_replay_json(spec, it->path, it->domain, &r, 1, &tm, c->mode);
    if (!j)
        child_fail(fd, "out of memory");
    cJSON_AddNumberToObject(j, "fresh_overhead_ns", (double)pm_fresh_overhead_ns(NULL));
    child_result(fd, j);
    cJSON_Delete(j);
    pm_trace_close(t);
}

static _Noreturn void child_main(const struct cfg *c, const struct run *r, int fd_res, int fd_err,
                                 pid_t parent)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);     /* the runner killed: so are its runs */
    if (getppid() != parent)
        _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    dup2(fd_err, STDOUT_FILENO);
    dup2(fd_err, STDERR_FILENO);
    if (fd_err > STDERR_FILENO)
        close(fd_err);
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    if (c->mem_limit) {
        struct rlimit as = {c->mem_limit, c->mem_limit};
        setrlimit(RLIMIT_AS, &as);
    }
    const struct pm_suite_item *it = &c->suite.items[r->item];
    char id[256];
    run_id(c, r, id, sizeof id);
    if (it->kind == PM_SUITE_PY)
        child_py(c, it, c->backends[r->backend].spec, id, r->rep, fd_res);
    else
        child_replay(c, it, c->backends[r->backend].spec, id, r->rep, fd_res);
    fflush(stderr);
    _exit(0);
}

/* ---- the parent: starting, watching and recording runs ---- */

struct slot {
    bool busy;
    pid_t pid;
    int fd_res, fd_err;         /* -1 once at EOF */
    struct run run;
    uint64_t start_ns, deadline_ns;
    struct pm_cpu_snap cpu0;    /* the machine at the start */
    bool timed_out;
    struct cap res, err;
};

struct progress {
    size_t total, done, ok, failed;     /* runs */
    uint64_t t0;                        /* ns, when the first run started */
    bool tty;                           /* stderr is a terminal: the bar */
};

static const char *sig_name(int sig)
{
    const char *n = sigabbrev_np(sig);
    return n ? n : "?";
}

static void slot_start(const struct cfg *c, struct slot *s, const struct run *r, struct slot *all,
                       unsigned nslots)
{
    int pr[2], pe[2];
    if (pipe(pr) || pipe(pe))
        pm_run_error("run: pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    malloc_trim(0);             /* the parent's free heap pages: not the child's */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        pm_run_error("run: fork: %s", strerror(errno));
    if (pid == 0) {
        for (unsigned i = 0; i < nslots; i++)
            if (all[i].busy) {
                if (all[i].fd_res >= 0)
                    close(all[i].fd_res);
                if (all[i].fd_err >= 0)
                    close(all[i].fd_err);
            }
        close(pr[0]);
        close(pe[0]);
        child_main(c, r, pr[1], pe[1], parent);
    }
    setpgid(pid, pid);          /* also here: no race with a kill of the group */
    close(pr[1]);
    close(pe[1]);
    fcntl(pr[0], F_SETFL, O_NONBLOCK);
    fcntl(pe[0], F_SETFL, O_NONBLOCK);
    memset(s, 0, sizeof *s);
    s->busy = true;
    s->pid = pid;
    s->fd_res = pr[0];
    s->fd_err = pe[0];
    s->run = *r;
    pm_cpu_snap_take(&s->cpu0);
    s->start_ns = pm_now_ns();
    s->deadline_ns = s->start_ns + (uint64_t)(item_timeout(c, &c->suite.items[r->item]) * 1e9);
    s->res.max = RESULT_MAX;
    s->err.max = STDERR_KEEP;
}

/* The record of a finished run. */
static void slot_record(const struct cfg *c, const struct slot *s, int status,
                        const struct rusage *ru, struct pm_result *out)
{
    const struct pm_suite_item *it = &c->suite.items[s->run.item];
    const struct backend *b = &c->backends[s->run.backend];
    pm_result_init(out);
    snprintf(out->workload, sizeof out->workload, "%s", it->name);
    snprintf(out->kind, sizeof out->kind, "%s", kind_name(it->kind));
    snprintf(out->backend, sizeof out->backend, "%s", b->label);
    out->rep = s->run.rep;
    snprintf(out->params, sizeof out->params, "%s", it->params);
    if (it->kind == PM_SUITE_PY) {
        out->seed = it->seed;
        out->scale = it->scale;
    } else if (it->kind == PM_SUITE_GEN) {
        out->seed = it->seed;
    }
    out->wall_s = (double)(pm_now_ns() - s->start_ns) / 1e9;
    runs_wall_s += out->wall_s;
    out->max_rss_bytes = (uint64_t)ru->ru_maxrss * 1024u;
    {   /* the machine meanwhile: the other jobs of this suite count as ours */
        struct pm_cpu_snap cpu1;
        struct pm_load l;
        pm_cpu_snap_take(&cpu1);
        pm_load_between(&s->cpu0, &cpu1, &l);
        double cpu = (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
                     (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
        out->load1_start = l.load1_start;
        out->load1_end = l.load1_end;
        out->steal_pct = l.steal_pct;
        out->busy_cpus = l.busy_cpus;
        out->own_cpus = out->wall_s > 0 ? cpu / out->wall_s : NAN;
        out->loaded = pm_load_is_loaded(&l, out->own_cpus, (double)(c->jobs - 1)) ? 1 : 0;
    }
    char errline[400];
    first_line(s->err.p, errline, sizeof errline);
    cJSON *o = NULL;
    if (s->res.p) {
        size_t l = strcspn(s->res.p, "\n");
        o = cJSON_ParseWithLength(s->res.p, l);
    }
    const cJSON *e = o ? cJSON_GetObjectItemCaseSensitive(o, "error") : NULL;
    const char *fail = NULL;
    char reason[PM_RESULT_STR], san[400];
    bool deadly;
    const char *report = sanitizer_report(s->err.p, san, sizeof san, &deadly);
    if (s->timed_out) {
        fail = "timeout";
        snprintf(reason, sizeof reason, "timeout: killed after %.0f s%s%s",
                 item_timeout(c, it), errline[0] ? "; stderr: " : "", errline);
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        fail = "signal";
        snprintf(reason, sizeof reason, "signal %d (SIG%s)%s%s", sig, sig_name(sig),
                 errline[0] ? ": " : "", errline);
    } else if (report) {
        /* under ASan a signal becomes a report and exit 1 */
        fail = deadly ? "signal" : "sanitizer";
        snprintf(reason, sizeof reason, "%s (sanitizer report): %s", deadly ? "signal" : "exit", report);
    } else if (e && cJSON_IsString(e)) {
        fail = "error";
        snprintf(reason, sizeof reason, "%s", e->valuestring);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail = "exit";
        snprintf(reason, sizeof reason, "exit %d%s%s", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                 errline[0] ? ": " : "", errline);
    } else if (!o) {
        fail = "error";
        snprintf(reason, sizeof reason, "the run ended without a result%s%s",
                 errline[0] ? ": " : "", errline);
    }
    if (fail) {
        snprintf(out->status, sizeof out->status, "failed");
        snprintf(out->failure, sizeof out->failure, "%s", fail);
        snprintf(out->reason, sizeof out->reason, "%s", reason);
    } else {
        snprintf(out->status, sizeof out->status, "ok");
        pm_result_set_from_json(out, o, false);
        snprintf(out->time_mode, sizeof out->time_mode, "%s", pm_time_mode_name(c->mode));
        const cJSON *fo = cJSON_GetObjectItemCaseSensitive(o, "fresh_overhead_ns");
        if (cJSON_IsNumber(fo))
            fresh_overhead_s += fo->valuedouble / 1e9;
        if (it->kind == PM_SUITE_PY)    /* the child's json has the pywl scale/seed */
            out->scale = it->scale;
        char id[256], path[PATH_MAX + 600];
        run_id(c, &s->run, id, sizeof id);
        snprintf(path, sizeof path, "%s/series/%s.csv", c->out, id);
        if (access(path, F_OK) == 0)
            snprintf(out->series, sizeof out->series, "series/%s.csv", id);
    }
    cJSON_Delete(o);
}

static void save_log(const struct cfg *c, const struct slot *s)
{
    if (!s->err.n)
        return;
    char id[256], path[PATH_MAX + 600];
    run_id(c, &s->run, id, sizeof id);
    snprintf(path, sizeof path, "%s/logs/%s.stderr", c->out, id);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fwrite(s->err.p, 1, s->err.n, f);
    if (s->err.total > s->err.n)
        fprintf(f, "\n[... %llu more bytes not kept]\n", (unsigned long long)(s->err.total - s->err.n));
    fclose(f);
}

static void fmt_secs(char *buf, size_t len, double s)
{
    if (s < 0 || !isfinite(s))
        snprintf(buf, len, "?");
    else if (s < 90)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 5400)
        snprintf(buf, len, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
    else
        snprintf(buf, len, "%.0fh%02.0fm", floor(s / 3600), fmod(floor(s / 60), 60));
}

static void progress_bar(const struct progress *p, const char *current)
{
    struct winsize ws;
    int width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 40 ? ws.ws_col : 100;
    double el = (double)(pm_now_ns() - p->t0) / 1e9;
    char eta[32], els[32];
    fmt_secs(els, sizeof els, el);
    if (p->done)
        fmt_secs(eta, sizeof eta, el / (double)p->done * (double)(p->total - p->done));
    else
        snprintf(eta, sizeof eta, "?");
    enum { BAR = 24 };
    char bar[BAR + 1];
    size_t fill = p->total ? p->done * BAR / p->total : BAR;
    for (size_t i = 0; i < BAR; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR] = 0;
    char failed[32] = "";
    if (p->failed)
        snprintf(failed, sizeof failed, " (%zu failed)", p->failed);
    char line[512];
    int n = snprintf(line, sizeof line, "[%s] %zu/%zu%s  %s elapsed, ETA %s  %s", bar, p->done,
                     p->total, failed, els, eta, current ? current : "");
    if (n > width - 1)
        n = width - 1;
    fprintf(stderr, "\r%.*s\033[K", n, line);
    fflush(stderr);
}

static void progress_line(struct progress *p, const struct pm_result *r, const char *label)
{
    if (p->tty) {
        fprintf(stderr, "\r\033[K");
        if (strcmp(r->status, "ok"))
            fprintf(stderr, "%s: FAILED: %s\n", label, r->reason);
        return;
    }
    if (!strcmp(r->status, "ok"))
        fprintf(stderr, "[%zu/%zu] %s: ok, %.1f ns/op, peak %.1f MiB (%.1f s)\n", p->done, p->total,
                label, r->ns_per_op,
                r->peak_footprint_bytes == PM_STAT_NA ? 0.0 : (double)r->peak_footprint_bytes / 1048576.0,
                r->wall_s);
    else
        fprintf(stderr, "[%zu/%zu] %s: FAILED (%s) %s\n", p->done, p->total, label, r->failure,
                r->reason);
}

static void run_label(const struct cfg *c, const struct run *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s on %s, rep %u", c->suite.items[r->item].name,
             c->backends[r->backend].label, r->rep);
}

/* Runs the plan; returns how many ran (interrupted: fewer). */
static size_t run_all(const struct cfg *c, const struct run *plan, size_t nplan, int fd_jsonl,
                      int fd_csv, double *load_max)
{
    unsigned nslots = c->jobs;
    struct slot *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        pm_run_error("run: out of memory");
    struct progress p = {.total = nplan, .t0 = pm_now_ns(), .tty = isatty(STDERR_FILENO)};
    size_t next = 0, active = 0;
    char current[300] = "";
    while ((next < nplan || active) && !interrupted) {
        for (unsigned i = 0; i < nslots && next < nplan && !interrupted; i++) {
            if (slots[i].busy)
                continue;
            double l = pm_prov_load1();
            if (l > *load_max)
                *load_max = l;
            slot_start(c, &slots[i], &plan[next], slots, nslots);
            run_label(c, &plan[next], current, sizeof current);
            next++;
            active++;
        }
        if (p.tty)
            progress_bar(&p, current);
        /* wait for output, an end, or the nearest deadline */
        struct pollfd pfd[64];
        int map[64];
        int npfd = 0;
        uint64_t now = pm_now_ns(), wait_ns = p.tty ? 1000000000u : 60000000000u;
        for (unsigned i = 0; i < nslots; i++) {
            if (!slots[i].busy)
                continue;
            if (slots[i].deadline_ns > now && slots[i].deadline_ns - now < wait_ns)
                wait_ns = slots[i].deadline_ns - now;
            if (slots[i].deadline_ns <= now)
                wait_ns = 0;
            if (slots[i].fd_res >= 0) {
                pfd[npfd] = (struct pollfd){.fd = slots[i].fd_res, .events = POLLIN};
                map[npfd++] = (int)i;
            }
            if (slots[i].fd_err >= 0) {
                pfd[npfd] = (struct pollfd){.fd = slots[i].fd_err, .events = POLLIN};
                map[npfd++] = (int)i;
            }
        }
        int pr = poll(pfd, (nfds_t)npfd, (int)(wait_ns / 1000000u) + 1);
        if (pr < 0 && errno != EINTR)
            pm_run_error("run: poll: %s", strerror(errno));
        for (int k = 0; k < npfd && pr > 0; k++) {
            if (!pfd[k].revents)
                continue;
            struct slot *s = &slots[map[k]];
            bool is_res = pfd[k].fd == s->fd_res;
            if (!cap_read(pfd[k].fd, is_res ? &s->res : &s->err)) {
                close(pfd[k].fd);
                if (is_res)
                    s->fd_res = -1;
                else
                    s->fd_err = -1;
            }
        }
        now = pm_now_ns();
        for (unsigned i = 0; i < nslots; i++) {
            struct slot *s = &slots[i];
            if (!s->busy)
                continue;
            if (!s->timed_out && now >= s->deadline_ns) {
                kill(-s->pid, SIGKILL);
                kill(s->pid, SIGKILL);
                s->timed_out = true;
            }
            if (s->fd_res >= 0 || s->fd_err >= 0)
                continue;
            int status;
            struct rusage ru;
            pid_t w;
            while ((w = wait4(s->pid, &status, 0, &ru)) < 0 && errno == EINTR)
                ;
            if (w < 0)
                pm_run_error("run: wait: %s", strerror(errno));
            struct pm_result r;
            slot_record(c, s, status, &ru, &r);
            save_log(c, s);
            {   /* a run killed while writing its series leaves the temporary file */
                char id[256], tmp[PATH_MAX + 300];
                run_id(c, &s->run, id, sizeof id);
                snprintf(tmp, sizeof tmp, "%.3800s/series/%s.csv.tmp", c->out, id);
                remove(tmp);
            }
            if (pm_results_append(fd_jsonl, fd_csv, &r))
                pm_run_error("run: cannot append to %s/results.jsonl: %s", c->out, strerror(errno));
            p.done++;
            if (!strcmp(r.status, "ok"))
                p.ok++;
            else
                p.failed++;
            char label[300];
            run_label(c, &s->run, label, sizeof label);
            progress_line(&p, &r, label);
            free(s->res.p);
            free(s->err.p);
            s->busy = false;
            active--;
        }
    }
    if (interrupted) {
        for (unsigned i = 0; i < nslots; i++)
            if (slots[i].busy) {
                kill(-slots[i].pid, SIGKILL);
                kill(slots[i].pid, SIGKILL);
                waitpid(slots[i].pid, NULL, 0);
            }
    }
    if (p.tty)
        fprintf(stderr, "\r\033[K");
    free(slots);
    return p.done;
}

/* ---- options ---- */

static void parse_only(struct cfg *c)
{
    const char *a = c->only;
    const char *first = strchr(a, ':'), *last = strrchr(a, ':');
    if (!first || first == last)
        pm_usage_error("run: bad value for --only: '%s' (expected WORKLOAD:BACKEND:REP)", a);
    snprintf(c->only_w, sizeof c->only_w, "%.*s", (int)(first - a), a);
    snprintf(c->only_b, sizeof c->only_b, "%.*s", (int)(last - first - 1), first + 1);
    c->only_r = (unsigned)pm_arg_count("--only", last + 1, 1, 1000);
}

/* The label and file name of b->spec (checked: a malformed lib spec is
 * bad input). */
static void backend_named(struct backend *b)
{
    char err[PM_ERR_LEN];
    if (pm_backend_label(b->spec, b->label, sizeof b->label, err))
        pm_usage_error("run: %s", err);
    file_safe(b->file, sizeof b->file, b->label);
}

static void add_backend(struct cfg *c, const char *spec, const char *desc)
{
    struct backend *nb = realloc(c->backends, (c->nbackends + 1) * sizeof *nb);
    if (!nb)
        pm_run_error("run: out of memory");
    c->backends = nb;
    struct backend *b = &nb[c->nbackends++];
    memset(b, 0, sizeof *b);
    if (strlen(spec) >= sizeof b->spec)
        pm_usage_error("run: backend spec too long: '%s'", spec);
    snprintf(b->spec, sizeof b->spec, "%s", spec);
    backend_named(b);
    snprintf(b->description, sizeof b->description, "%s", desc ? desc : "");
}

/* --backends: names known to the registry (checked here, in the parent);
 * availability and options are checked in a helper. */
static void parse_backends(struct cfg *c)
{
    char *list = strdup(c->backends_arg);
    if (!list)
        pm_run_error("run: out of memory");
    for (char *save, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        /* "pymalloc,preset=py38": a spec's options continue after commas;
         * a word with '=' belongs to the backend before it */
        if (strchr(tok, '=') && c->nbackends && !strchr(tok, ':')) {
            struct backend *b = &c->backends[c->nbackends - 1];
            size_t l = strlen(b->spec);
            snprintf(b->spec + l, sizeof b->spec - l, ",%s", tok);
            backend_named(b);
            continue;
        }
        if (!pm_backend_find(tok)) {
            char names[200];
            pm_backend_names(names, sizeof names);
            pm_usage_error("run: unknown backend '%s' in --backends (known: %s)", tok, names);
        }
        add_backend(c, tok, NULL);
    }
    free(list);
    if (!c->nbackends)
        pm_usage_error("run: --backends is empty");
    for (size_t i = 0; i < c->nbackends; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->backends[i].file, c->backends[j].file))
                pm_usage_error("run: backend '%s' given twice in --backends", c->backends[i].label);
}

static void check_backends(struct cfg *c)
{
    char *out;
    int st = helper_run(c, helper_backends, NULL, &out);
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        pm_run_error("run: checking the backends failed (%s %d)",
                     WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    if (c->default_backends) {
        free(c->backends);
        c->backends = NULL;
        c->nbackends = 0;
    }
    size_t seen = 0;
    for (char *save, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f1 = strchr(line, '\t');
        if (!f1)
            continue;
        *f1++ = 0;
        if (!strcmp(line, "err"))
            pm_usage_error("%s", f1);
        char *f2 = strchr(f1, '\t');
        if (f2)
            *f2++ = 0;
        if (!strcmp(line, "skip")) {
            add_note(c, "backend %s left out: %s", f1, f2 ? f2 : "");
        } else if (c->default_backends) {
            add_backend(c, f1, f2);
        } else if (seen < c->nbackends) {
            snprintf(c->backends[seen].description, sizeof c->backends[seen].description, "%s",
                     f2 ? f2 : "");
            seen++;
        }
    }
    free(out);
    if (!c->nbackends)
        pm_usage_error("run: no backend available");
}

static void parse_workloads(struct cfg *c)
{
    c->wanted = calloc(c->suite.n, sizeof *c->wanted);
    if (!c->wanted)
        pm_run_error("run: out of memory");
    if (!c->workloads_arg) {
        for (size_t i = 0; i < c->suite.n; i++)
            c->wanted[i] = true;
        return;
    }
    char *list = strdup(c->workloads_arg);
    for (char *save, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        const struct pm_suite_item *it = pm_suite_find(&c->suite, tok);
        if (!it) {
            char names[400] = "";
            size_t used = 0;
            for (size_t i = 0; i < c->suite.n && used < sizeof names; i++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                         c->suite.items[i].name);
            pm_usage_error("run: unknown workload '%s' in --workloads (suite %s has: %s)", tok,
                           c->suite.name, names);
        }
        c->wanted[it - c->suite.items] = true;
    }
    free(list);
}

/* ---- the results folder ---- */

static cJSON *config_json(const struct cfg *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "suite", c->suite.name);
    cJSON_AddStringToObject(o, "suite_file", c->suite.path);
    cJSON *w = cJSON_AddArrayToObject(o, "workloads");
    cJSON *seeds = cJSON_CreateObject();
    for (size_t i = 0; i < c->suite.n; i++) {
        if (!c->wanted[i])
            continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", c->suite.items[i].name);
        cJSON_AddStringToObject(e, "params", c->suite.items[i].params);
        cJSON_AddItemToArray(w, e);
        if (c->suite.items[i].kind != PM_SUITE_TRACE)
            cJSON_AddNumberToObject(seeds, c->suite.items[i].name, (double)c->suite.items[i].seed);
    }
    cJSON_AddItemToObject(o, "seeds", seeds);
    cJSON *b = cJSON_AddArrayToObject(o, "backends");
    for (size_t i = 0; i < c->nbackends; i++)
        cJSON_AddItemToArray(b, cJSON_CreateString(c->backends[i].spec));
    cJSON_AddNumberToObject(o, "reps", c->reps);
    cJSON_AddStringToObject(o, "time_mode", pm_time_mode_name(c->mode));
    if (c->only)
        cJSON_AddStringToObject(o, "only", c->only);
    else
        cJSON_AddNullToObject(o, "only");
    cJSON_AddNumberToObject(o, "latency_every", (double)c->latency_every);
    cJSON_AddNumberToObject(o, "series_every", (double)c->series_every);
    if (c->timeout_s > 0)
        cJSON_AddNumberToObject(o, "timeout_s", c->timeout_s);
    else
        cJSON_AddNumberToObject(o, "timeout_s", c->suite.timeout_s > 0 ? c->suite.timeout_s : DEFAULT_TIMEOUT_S);
    cJSON_AddNumberToObject(o, "mem_limit_bytes", (double)c->mem_limit);
    cJSON_AddStringToObject(o, "baseline", c->baseline ? c->baseline : "");
    cJSON_AddStringToObject(o, "suite_text", c->suite.text);
    if (c->notes[0])
        cJSON_AddStringToObject(o, "notes", c->notes);
    return o;
}

/* What makes two configurations the same run: workloads with their
 * parameters, backends, reps, --only. NULL if equal, else what differs. */
static const char *config_diff(const cJSON *a, const cJSON *b)
{
    static const char *keys[] = {"workloads", "backends", "reps", "only", "time_mode", NULL};
    for (int i = 0; keys[i]; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, keys[i]);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, keys[i]);
        if (!x || !y || !cJSON_Compare(x, y, true))
            return keys[i];
    }
    return NULL;
}

static void git_commit(cJSON *o)
{
    if (pm_install_prefix()) {   /* installed: the commit cmake --install wrote (paths.h) */
        char c[128];
        pm_source_commit(c, sizeof c);
        cJSON_AddStringToObject(o, "commit", c[0] ? c : "unknown");
        cJSON_AddStringToObject(o, "installed", pm_install_prefix());
        return;
    }
    char cmd[PATH_MAX + 128];
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse HEAD 2>/dev/null", PM_BUILD_SOURCE_DIR);
    fflush(stdout);
    FILE *p = popen(cmd, "r");
    char line[128] = "";
    if (p) {
        if (!fgets(line, sizeof line, p))
            line[0] = 0;
        pclose(p);
    }
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) {
        cJSON_AddStringToObject(o, "commit", "unknown");
        return;
    }
    cJSON_AddStringToObject(o, "commit", line);
    snprintf(cmd, sizeof cmd,
             "git -C '%s' status --porcelain --untracked-files=no 2>/dev/null | head -c 1 | wc -c",
             PM_BUILD_SOURCE_DIR);
    p = popen(cmd, "r");
    int dirty = 0;
    if (p) {
        if (fscanf(p, "%d", &dirty) != 1)
            dirty = 0;
        pclose(p);
    }
    cJSON_AddBoolToObject(o, "dirty", dirty > 0);
}

static cJSON *provenance_new(const struct cfg *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "results_version", PM_RESULTS_VERSION);
    cJSON *pm = cJSON_AddObjectToObject(o, "pymemlab");
    git_commit(pm);
    cJSON_AddStringToObject(pm, "compiler", PM_BUILD_COMPILER);
    cJSON_AddStringToObject(pm, "build_type", PM_BUILD_TYPE);
    cJSON_AddStringToObject(pm, "flags", PM_BUILD_FLAGS);
    cJSON_AddStringToObject(pm, "source_dir", PM_BUILD_SOURCE_DIR);
    cJSON *m = cJSON_AddObjectToObject(o, "machine");
    pm_prov_machine(m);
    cJSON *b = cJSON_AddArrayToObject(o, "backends");
    for (size_t i = 0; i < c->nbackends; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "spec", c->backends[i].spec);
        cJSON_AddStringToObject(e, "name", c->backends[i].label);
        cJSON_AddStringToObject(e, "description", c->backends[i].description);
        cJSON_AddItemToArray(b, e);
    }
    cJSON_AddItemToObject(o, "config", config_json(c));
    cJSON_AddArrayToObject(o, "sessions");
    return o;
}

static cJSON *session_new(const struct cfg *c, size_t planned)
{
    cJSON *s = cJSON_CreateObject();
    char buf[64];
    iso_now(buf, sizeof buf);
    cJSON_AddStringToObject(s, "started", buf);
    char cmd[4096] = "pymemlab";
    size_t used = strlen(cmd);
    for (int i = 0; i < c->argc && used < sizeof cmd; i++)
        used += (size_t)snprintf(cmd + used, sizeof cmd - used, " %s", c->argv[i]);
    cJSON_AddStringToObject(s, "command", cmd);
    cJSON_AddNumberToObject(s, "planned_runs", (double)planned);
    cJSON_AddNumberToObject(s, "jobs", c->jobs);
    cJSON_AddNumberToObject(s, "load_start", pm_prov_load1());
    return s;
}

static void session_end(cJSON *s, size_t done, double load_max, bool interrupted_run)
{
    char buf[64];
    iso_now(buf, sizeof buf);
    cJSON_AddStringToObject(s, "finished", buf);
    cJSON_AddNumberToObject(s, "runs_done", (double)done);
    cJSON_AddBoolToObject(s, "interrupted", interrupted_run);
    cJSON_AddNumberToObject(s, "load_max", load_max);
    cJSON_AddNumberToObject(s, "load_end", pm_prov_load1());
    cJSON_AddStringToObject(s, "load_note",
                            "1-minute load average of the machine (all processes): start, "
                            "highest seen at a run's start, end");
    cJSON_AddNumberToObject(s, "runs_wall_s", runs_wall_s);
    cJSON_AddNumberToObject(s, "fresh_overhead_s", fresh_overhead_s);
    cJSON_AddStringToObject(s, "fresh_note",
                            "fresh_overhead_s: what the timed runs' own processes cost (fork, start, "
                            "exit, wait), summed over the runs; runs_wall_s: the runs' wall time");
}

static int open_append(const char *dir, const char *name, bool *created)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        pm_run_error("run: cannot write '%s': %s", path, strerror(errno));
    struct stat st;
    *created = fstat(fd, &st) == 0 && st.st_size == 0;
    return fd;
}

/* Data rows of a CSV file (lines after the header), 0 if unreadable. */
static size_t csv_rows(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t lines = 0;
    int ch;
    while ((ch = getc(f)) != EOF)
        lines += ch == '\n';
    fclose(f);
    return lines ? lines - 1 : 0;
}

/* Rewrites results.csv from the records (resume: the CSV may lack the last
 * record or hold a partial line). */
static void rewrite_csv(const char *dir, const struct pm_result *rows, size_t n)
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    snprintf(tmp, sizeof tmp, "%s/results.csv.tmp", dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        pm_run_error("run: cannot write '%s': %s", tmp, strerror(errno));
    char *h = pm_result_csv_header();
    bool ok = h && fputs(h, f) >= 0;
    free(h);
    for (size_t i = 0; i < n && ok; i++) {
        char *row = pm_result_csv_row(&rows[i]);
        ok = row && fputs(row, f) >= 0;
        free(row);
    }
    ok = fflush(f) == 0 && ok && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path))
        pm_run_error("run: cannot write '%s'", path);
}

/* The summary of the records that belong to this configuration. */
static void summarize(const struct cfg *c, const cJSON *prov)
{
    struct pm_result *rows;
    size_t n;
    long partial;
    char err[PM_ERR_LEN];
    if (pm_results_load(c->out, &rows, &n, &partial, err))
        pm_run_error("run: %s", err);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct pm_suite_item *it = pm_suite_find(&c->suite, rows[i].workload);
        bool mine = it && c->wanted[it - c->suite.items] && !strcmp(it->params, rows[i].params);
        bool be = false;
        for (size_t b = 0; b < c->nbackends && !be; b++)
            be = !strcmp(c->backends[b].label, rows[i].backend);
        if (mine && be)
            rows[k++] = rows[i];
    }
    struct pm_summary s;
    if (pm_summary_build(rows, k, c->baseline, &s))
        pm_run_error("run: out of memory");
    printf("\n");
    pm_summary_print(stdout, &s, false);
    char md[PATH_MAX + 32];
    snprintf(md, sizeof md, "%s/summary.md", c->out);
    if (pm_summary_write_md(md, &s, prov))
        pm_run_error("run: cannot write '%s'", md);
    printf("\nresults: %s (summary.md, results.csv, results.jsonl, series/; plots: pymemlab plot %s)\n",
           c->out, c->out);
    pm_summary_free(&s);
    free(rows);
}

/* ---- --emit-jobs ---- */

static void shell_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

static void abs_path(const char *p, char *out, size_t len)
{
    if (p[0] == '/') {
        snprintf(out, len, "%s", p);
        return;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        snprintf(cwd, sizeof cwd, ".");
    snprintf(out, len, "%.2000s/%.2000s", cwd, p);
}

static void emit_jobs(const struct cfg *c, const struct run *plan, size_t n)
{
    struct pm_out o;
    char err[PM_ERR_LEN];
    if (pm_out_open(&o, c->emit_jobs, err))
        pm_usage_error("run: --emit-jobs %s", err);
    FILE *f = o.f;
    char exe[PATH_MAX] = "pymemlab", suite[PATH_MAX], out[PATH_MAX], traces[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[l > 0 ? l : 0] = 0;
    if (l <= 0)
        snprintf(exe, sizeof exe, "pymemlab");
    abs_path(c->suite.path, suite, sizeof suite);
    abs_path(c->out, out, sizeof out);
    abs_path(c->traces_dir, traces, sizeof traces);
    char backends[4096] = "";
    size_t used = 0;
    for (size_t i = 0; i < c->nbackends && used < sizeof backends; i++)
        used += (size_t)snprintf(backends + used, sizeof backends - used, "%s%s", i ? "," : "",
                                 c->backends[i].spec);
    int width = n >= 10000 ? 6 : 4;
    for (size_t i = 0; i < n; i++) {
        const struct run *r = &plan[i];
        shell_quote(f, exe);
        fputs(" run --suite ", f);
        shell_quote(f, suite);
        fputs(" --backends ", f);
        shell_quote(f, backends);
        fprintf(f, " --reps %u --mode %s", c->reps, pm_time_mode_name(c->mode));
        if (c->workloads_arg) {
            fputs(" --workloads ", f);
            shell_quote(f, c->workloads_arg);
        }
        if (c->timeout_s > 0)
            fprintf(f, " --timeout %g", c->timeout_s);
        if (c->mem_limit_given)
            fprintf(f, " --mem-limit %llu", (unsigned long long)c->mem_limit);
        if (c->series_every)
            fprintf(f, " --series-every %llu", (unsigned long long)c->series_every);
        fprintf(f, " --latency-every %llu", (unsigned long long)c->latency_every);
        if (c->baseline) {
            fputs(" --baseline ", f);
            shell_quote(f, c->baseline);
        }
        fputs(" --traces-dir ", f);
        shell_quote(f, traces);
        char only[300], part[PATH_MAX + 32];
        snprintf(only, sizeof only, "%s:%s:%u", c->suite.items[r->item].name,
                 c->backends[r->backend].label, r->rep);
        fputs(" --only ", f);
        shell_quote(f, only);
        snprintf(part, sizeof part, "%s/part-%0*zu", out, width, i + 1);
        fputs(" --out ", f);
        shell_quote(f, part);
        fputc('\n', f);
    }
    if (pm_out_commit(&o, true, err))
        pm_run_error("run: %s", err);
    printf("%zu job lines in %s (line N runs into %s/part-N); then:\n  pymemlab merge %s/part-* --out %s\n",
           n, c->emit_jobs, out, out, out);
}

/* ---- the results folder: its lock, stale temporary traces ---- */

/* Removes what interrupted generations left in the traces folder: a helper
 * writes NAME.PID.pmt.tmp, then NAME.PID.pmt, then renames it to NAME; such a
 * file whose PID no longer exists on this machine is garbage. A PID in use
 * (perhaps reused) keeps its file: never remove a live writer's. */
static void traces_clean_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        size_t n = strlen(name);
        const char *end = name + n;
        if (n > 8 && !strcmp(end - 8, ".pmt.tmp"))
            end -= 8;
        else if (n > 4 && !strcmp(end - 4, ".pmt"))
            end -= 4;
        else
            continue;
        const char *digits = end;
        while (digits > name && digits[-1] >= '0' && digits[-1] <= '9')
            digits--;
        if (digits == end || end - digits > 9 || digits - name < 6 || strncmp(digits - 5, ".pmt.", 5))
            continue;
        long pid = strtol(digits, NULL, 10);
        if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (unlink(path) == 0)
            fprintf(stderr, "pymemlab: removed %s (an interrupted generation's)\n", path);
    }
    closedir(d);
}

/* ---- the command ---- */

static void cfg_free(struct cfg *c)
{
    free(c->wanted);
    free(c->backends);
    pm_suite_free(&c->suite);
}

static uint64_t default_mem_limit(void)
{
#ifdef PM_ASAN
    return 0;                   /* ASan reserves terabytes of address space */
#else
    struct sysinfo si;
    uint64_t half = sysinfo(&si) == 0 ? (uint64_t)si.totalram * si.mem_unit / 2 : 0;
    uint64_t floor_ = UINT64_C(4) << 30;
    return half > floor_ ? half : floor_;
#endif
}

static void default_out(struct cfg *c)
{
    char date[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y%m%d-%H%M%S", &tm);
    snprintf(c->out, sizeof c->out, "out/%s-%s", c->suite.name, date);
}

static const struct pm_cli_opt run_opts[] = {
    PM_CLI_OPT("suite", 's', PM_CLI_FILE, "S|FILE", "default",
               "a built-in suite (quick, default, full...: docs/suites.md) or a suite file"),
    PM_CLI_OPT("backends", 'b', PM_CLI_BACKENDS, "a,b,...", "the suite's, else every available one",
               "the backends to run (specs, comma-separated)"),
    PM_CLI_OPT("workloads", 'w', PM_CLI_STRING, "w,...", "all of the suite's", "run only these workloads of the suite"),
    PM_CLI_OPT("reps", 'r', PM_CLI_COUNT, "N", "the suite's, else " PM_CLI_STR(PM_CI_MIN_N),
               "timed repetitions of each workload on each backend", .min = 1, .max = 1000),
    PM_CLI_OPT("mode", 'M', PM_CLI_ENUM, "MODE", "cold",
               "cold: a fresh process per timed rep; warm: the reps follow each other in one process",
               .values = "cold warm"),
    PM_CLI_OPT("jobs", 'j', PM_CLI_COUNT, "J", "1", "measurements run side by side (their timings then share the CPUs)",
               .min = 1, .max = 32),
    PM_CLI_OPT("out", 'o', PM_CLI_DIR, "DIR", "out/SUITE-DATE", "the results folder"),
    PM_CLI_OPT("baseline", 'B', PM_CLI_BACKEND, "B", "cpython, else system", "the backend the summary compares with"),
    PM_CLI_OPT("resume", 'R', PM_CLI_FLAG, NULL, NULL, "continue the results folder: run only what it lacks"),
    PM_CLI_OPT("force", 'f', PM_CLI_FLAG, NULL, NULL, "with --resume: continue a folder of another configuration"),
    PM_CLI_OPT("timeout", 't', PM_CLI_DOUBLE, "SEC", "the suite's, per line", "kill a measurement after SEC seconds",
               .dmin = 0.001, .dmax = 1e6),
    PM_CLI_OPT("mem-limit", 'm', PM_CLI_STRING, "SIZE|none", "half the RAM, at least 4G",
               "address-space limit of each measurement (at least 16M; K/M/G = 1024s), or none",
               .values = "none"),
    PM_CLI_OPT("series-every", 'S', PM_CLI_COUNT, "N", "each kind's own", "sample the memory series every N ops",
               .min = 1, .max = UINT64_C(1) << 40),
    PM_CLI_OPT("latency-every", 'L', PM_CLI_COUNT, "N", PM_CLI_STR(PM_LAT_DEFAULT_EVERY),
               "time one call in N in the sampled runs (0: off)", .min = 0, .max = UINT64_C(1) << 32),
    PM_CLI_OPT("emit-jobs", 'e', PM_CLI_FILE, "FILE", NULL,
               "write the measurements as command lines (for other machines; merge the parts)"),
    PM_CLI_OPT("only", 'O', PM_CLI_STRING, "W:B:R", NULL, "run one measurement: workload, backend, rep"),
    PM_CLI_OPT("traces-dir", 'T', PM_CLI_DIR, "DIR", "DIR/traces of --out", "where generated traces are kept"),
    {0},
};

const struct pm_cli_spec pm_spec_run = {
    .name = "run", .opts = run_opts,
    .summary = "the main job: run a suite (docs/suites.md) on every backend into a results folder",
};

int cmd_run(int argc, char **argv)
{
    struct cfg c = {.jobs = 1, .latency_every = PM_LAT_DEFAULT_EVERY, .argc = argc, .argv = argv};
    const char *suite = "default", *out = NULL, *traces_dir = NULL;
    unsigned reps = 0;
    struct pm_cli_val v;
    int ch;
    while ((ch = pm_cli_getopt(&pm_spec_run, argc, argv, &v)) != -1) {
        switch (ch) {
        case 's': suite = v.s; break;
        case 'b': c.backends_arg = v.s; break;
        case 'w': c.workloads_arg = v.s; break;
        case 'r': reps = (unsigned)v.u; break;
        case 'j': c.jobs = (unsigned)v.u; break;
        case 'o': out = v.s; break;
        case 'B': c.baseline = v.s; break;
        case 'R': c.resume = true; break;
        case 'f': c.force = true; break;
        case 't': c.timeout_s = v.d; break;
        case 'm':
            c.mem_limit = strcmp(optarg, "none") ? pm_arg_size("--mem-limit", optarg, UINT64_C(1) << 24, UINT64_MAX) : 0;
            c.mem_limit_given = true;
            break;
        case 'e': c.emit_jobs = v.s; break;
        case 'S': c.series_every = v.u; break;
        case 'L': c.latency_every = v.u; break;
        case 'O': c.only = v.s; break;
        case 'T': traces_dir = v.s; break;
        case 'M':
            if (!pm_time_mode_parse(optarg, &c.mode))
                pm_usage_error("run: bad value for --mode: '%s' (expected cold or warm)", optarg);
            break;
        default: pm_bad_option("run", ch, argv);
        }
    }
    if (optind < argc)
        pm_usage_error("run: unexpected argument '%s' (see 'pymemlab help run')", argv[optind]);
    if (c.force && !c.resume)
        pm_usage_error("run: --force only applies with --resume (it continues a folder of another "
                       "configuration)");
    if (c.emit_jobs && (c.only || c.resume))
        pm_usage_error("run: --emit-jobs writes the jobs; it takes no --only or --resume");
    if (c.emit_jobs)
        pm_cli_out_check("run: --emit-jobs", c.emit_jobs);
    if (!c.mem_limit_given)
        c.mem_limit = default_mem_limit();
    c.suite_spec = suite;

    /* 1. the suite, names, options: nothing written yet */
    char err[PM_ERR_LEN];
    if (pm_suite_load(suite, &c.suite, err))
        pm_usage_error("%s", err);
    for (const char *l = c.suite.notes; l && *l; l += strcspn(l, "\n") + 1)
        add_note(&c, "%.*s", (int)strcspn(l, "\n"), l);
    c.reps = reps ? reps : c.suite.reps ? c.suite.reps : DEFAULT_REPS;
    parse_workloads(&c);
    if (!c.backends_arg && c.suite.backends[0])
        c.backends_arg = c.suite.backends;     /* the suite's `backend` lines */
    c.default_backends = c.backends_arg == NULL;
    if (c.backends_arg)
        parse_backends(&c);
    if (c.baseline && !pm_backend_find(c.baseline) && !strchr(c.baseline, ':')) {
        /* a lib:PATH backend's NAME is a baseline too, if a backend has it */
        bool named = false;
        for (size_t i = 0; i < c.nbackends && !named; i++)
            named = !strcmp(c.backends[i].label, c.baseline);
        if (!named)
            pm_usage_error("run: unknown backend '%s' in --baseline", c.baseline);
    }
    if (c.only) {
        parse_only(&c);
        if (!pm_suite_find(&c.suite, c.only_w))
            pm_usage_error("run: --only: unknown workload '%s' in suite %s", c.only_w, c.suite.name);
        if (c.only_r > c.reps)
            pm_usage_error("run: --only: rep %u of %u", c.only_r, c.reps);
    }
    if (out)
        snprintf(c.out, sizeof c.out, "%s", out);
    else
        default_out(&c);
    if (traces_dir)
        snprintf(c.traces_dir, sizeof c.traces_dir, "%s", traces_dir);
    else
        snprintf(c.traces_dir, sizeof c.traces_dir, "%.4000s/traces", c.out);
    check_backends(&c);
    if (c.only) {
        bool found = false;
        for (size_t i = 0; i < c.nbackends && !found; i++)
            found = !strcmp(c.backends[i].spec, c.only_b) || !strcmp(c.backends[i].label, c.only_b);
        if (!found)
            pm_usage_error("run: --only: backend '%s' is not among the suite's backends", c.only_b);
    }
    {
        char *o;
        int st = helper_run(&c, helper_traces, NULL, &o);
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            pm_run_error("run: checking the traces failed");
        if (!strncmp(o, "err\t", 4)) {
            o[strcspn(o, "\n")] = 0;
            pm_usage_error("%s", o + 4);
        }
        free(o);
    }
    /* gen traces live under traces_dir, named by their parameters */
    for (size_t i = 0; i < c.suite.n; i++) {
        struct pm_suite_item *it = &c.suite.items[i];
        if (it->kind == PM_SUITE_GEN)
            snprintf(it->path, sizeof it->path, "%.3900s/%s-%08llx.pmt", c.traces_dir, it->name,
                     (unsigned long long)(fnv1a(it->params) & 0xffffffffu));
    }

    /* 2. the plan: rep-major, so that an interrupted suite has whole reps */
    size_t cap = c.reps * c.suite.n * c.nbackends + 1, nplan = 0;
    struct run *plan = malloc(cap * sizeof *plan);
    if (!plan)
        pm_run_error("run: out of memory");
    bool null_skipped = false;
    for (unsigned rep = 1; rep <= c.reps; rep++)
        for (size_t i = 0; i < c.suite.n; i++) {
            if (!c.wanted[i])
                continue;
            for (size_t b = 0; b < c.nbackends; b++) {
                if (c.suite.items[i].kind == PM_SUITE_PY && !holds_data(c.backends[b].spec)) {
                    null_skipped = true;
                    continue;
                }
                if (c.only && (rep != c.only_r || strcmp(c.suite.items[i].name, c.only_w) ||
                               (strcmp(c.backends[b].spec, c.only_b) &&
                                strcmp(c.backends[b].label, c.only_b))))
                    continue;
                plan[nplan++] = (struct run){i, b, rep};
            }
        }
    if (null_skipped && !c.only)
        add_note(&c, "backends that keep no block contents (null, debug:null) run the trace "
                     "workloads only: no object workload can run on them");
    if (c.emit_jobs) {
        print_notes(&c);
        emit_jobs(&c, plan, nplan);
        free(plan);
        cfg_free(&c);
        return PM_EXIT_OK;
    }
    if (nplan == 0)
        pm_usage_error("run: nothing to run (--only %s names a run the suite does not have)",
                       c.only ? c.only : "");

    /* 3. the results folder: locked first (so that what is read below
     * cannot change under us), then refuse one of another configuration */
    pm_cli_folder_lock("run", c.out);
    char prov_path[PATH_MAX + 32];
    snprintf(prov_path, sizeof prov_path, "%s/provenance.json", c.out);
    struct pm_result *old = NULL;
    size_t nold = 0;
    long partial = 0;
    if (pm_results_load(c.out, &old, &nold, &partial, err))
        pm_usage_error("run: %s", err);
    struct stat st;
    bool have_prov = stat(prov_path, &st) == 0;
    cJSON *prov = NULL;
    cJSON *cfg_now = config_json(&c);
    if (nold || have_prov) {
        if (!c.resume)
            pm_usage_error("run: %s already holds results (--resume continues that run; or "
                           "choose another --out)", c.out);
        prov = pm_read_json_file(prov_path, err);
        if (!prov)
            pm_usage_error("run: %s", err);
        const char *d = config_diff(cJSON_GetObjectItemCaseSensitive(prov, "config"), cfg_now);
        if (d && !c.force)
            pm_usage_error("run: %s holds results of another configuration (%s differ); "
                           "--force continues it anyway", c.out, d);
        if (d) {
            cJSON_ReplaceItemInObjectCaseSensitive(prov, "config", cJSON_Duplicate(cfg_now, true));
        }
    }
    cJSON_Delete(cfg_now);
    if (pm_mkdir_p(c.out))
        pm_usage_error("run: cannot create the results folder '%s': %s", c.out, strerror(errno));
    static const char *const subdirs[] = {"series", "logs"};
    for (int i = 0; i < 2; i++) {
        char d[PATH_MAX + 16];
        snprintf(d, sizeof d, "%s/%s", c.out, subdirs[i]);
        if (pm_mkdir_p(d))
            pm_run_error("run: cannot create '%s': %s", d, strerror(errno));
    }
    if (pm_mkdir_p(c.traces_dir))
        pm_run_error("run: cannot create '%s': %s", c.traces_dir, strerror(errno));
    if (!prov)
        prov = provenance_new(&c);

    /* --resume: skip what is done (status ok, same parameters) */
    size_t todo = 0;
    for (size_t i = 0; i < nplan; i++) {
        const struct pm_suite_item *it = &c.suite.items[plan[i].item];
        bool done = false;
        for (size_t k = nold; k-- > 0 && !done;) {
            const struct pm_result *r = &old[k];
            if (r->rep == plan[i].rep && !strcmp(r->workload, it->name) &&
                !strcmp(r->backend, c.backends[plan[i].backend].label) &&
                !strcmp(r->params, it->params)) {
                if (!strcmp(r->status, "ok"))
                    done = true;
                break;          /* the latest record of the run decides */
            }
        }
        if (!done)
            plan[todo++] = plan[i];
    }
    if (c.resume && nold)
        fprintf(stderr, "pymemlab: resuming %s: %zu of %zu runs done, %zu to go\n", c.out,
                nplan - todo, nplan, todo);

    /* the files: a record cut short is dropped, the CSV rebuilt from the JSON */
    char jpath[PATH_MAX + 32];
    snprintf(jpath, sizeof jpath, "%s/results.jsonl", c.out);
    char cpath[PATH_MAX + 32];
    snprintf(cpath, sizeof cpath, "%s/results.csv", c.out);
    bool have_csv = stat(cpath, &st) == 0;
    if (nold || partial) {
        if (truncate(jpath, partial))
            pm_run_error("run: cannot truncate '%s': %s", jpath, strerror(errno));
    }
    if (nold || partial || have_csv) {
        /* results.jsonl is the source of truth: the CSV is rebuilt from it
         * whatever it holds (a partial row, rows whose JSON was lost) */
        size_t rows = csv_rows(cpath);
        if (rows > nold)
            fprintf(stderr, "pymemlab: note: %s had %zu rows, results.jsonl %zu records: rebuilt from "
                            "results.jsonl\n", cpath, rows, nold);
        rewrite_csv(c.out, old, nold);
    }
    free(old);
    bool created;
    int fd_jsonl = open_append(c.out, "results.jsonl", &created);
    int fd_csv = open_append(c.out, "results.csv", &created);
    if (created) {
        char *h = pm_result_csv_header();
        if (!h || write_all(fd_csv, h, strlen(h)) || fdatasync(fd_csv))
            pm_run_error("run: cannot write %s/results.csv", c.out);
        free(h);
    }

    print_notes(&c);

    /* 4. the gen traces (after removing what interrupted ones left) */
    traces_clean_stale(c.traces_dir);
    bool *need = calloc(c.suite.n, sizeof *need);
    if (!need)
        pm_run_error("run: out of memory");
    bool any_gen = false;
    for (size_t i = 0; i < todo; i++)
        if (c.suite.items[plan[i].item].kind == PM_SUITE_GEN)
            any_gen = need[plan[i].item] = true;
    if (any_gen) {
        fprintf(stderr, "pymemlab: generating traces into %s\n", c.traces_dir);
        char *o;
        int hs = helper_run(&c, helper_generate, need, &o);
        if (!strncmp(o, "err\t", 4)) {
            /* the gen lines were checked before the folder was made (item
             * 7 of issue 19): what fails now is the machine (a full disk,
             * no memory), not the input: exit 1 */
            o[strcspn(o, "\n")] = 0;
            pm_run_error("run: %s (no run started; --resume continues)", o + 4);
        }
        if (!WIFEXITED(hs) || WEXITSTATUS(hs))
            pm_run_error("run: generating the traces failed");
        free(o);
    }
    free(need);

    cJSON *sessions = cJSON_GetObjectItemCaseSensitive(prov, "sessions");
    if (!cJSON_IsArray(sessions)) {
        sessions = cJSON_CreateArray();
        cJSON_AddItemToObject(prov, "sessions", sessions);
    }
    cJSON *sess = session_new(&c, todo);
    cJSON_AddItemToArray(sessions, sess);
    if (pm_write_json_file(prov_path, prov))
        pm_run_error("run: cannot write '%s'", prov_path);

    /* 5. the runs */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "pymemlab: %zu runs (%s suite, %zu backends, %u reps, %u at a time) into %s\n",
            todo, c.suite.name, c.nbackends, c.reps, c.jobs, c.out);
    double load_max = pm_prov_load1();
    size_t done = run_all(&c, plan, todo, fd_jsonl, fd_csv, &load_max);
    close(fd_jsonl);
    close(fd_csv);
    session_end(sess, done, load_max, interrupted != 0);
    if (runs_wall_s > 0)
        fprintf(stderr, "pymemlab: the timed runs' fresh processes took %.2f s of the runs' %.1f s "
                        "(%.2f%%)\n", fresh_overhead_s, runs_wall_s, 100 * fresh_overhead_s / runs_wall_s);
    if (pm_write_json_file(prov_path, prov))
        pm_run_error("run: cannot write '%s'", prov_path);
    if (interrupted) {
        fprintf(stderr, "pymemlab: interrupted after %zu of %zu runs; the results so far are in %s "
                        "(continue with --resume)\n", done, todo, c.out);
        cJSON_Delete(prov);
        free(plan);
        cfg_free(&c);
        return 128 + (int)interrupted;
    }
    summarize(&c, prov);
    cJSON_Delete(prov);
    free(plan);
    cfg_free(&c);
    return PM_EXIT_OK;
}
