/* harness/engine/runner.c — the suite runner's engine: forked helpers, the runs'
 * children and their pipes, the parent's supervision (runner.h). Engine
 * code: returns its errors, prints nothing (engine.h); a run's child
 * reports on the pipes the parent reads.
 *
 * The parent stays small: backends are checked, and traces generated, in
 * forked helpers, so that no reference allocator is initialised and little
 * of the C heap is used before the runs fork (a global backend in a child
 * starts from the parent's heap; malloc_trim before each fork gives the free
 * pages back).
 */
#include "fileio.h"
#include "runner.h"
#include "fresh.h"
#include "metrics.h"
#include "pyrun.h"
#include "replay.h"
#include "results.h"
#include "stats.h"
#include "suite.h"
#include "trace.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STDERR_KEEP 65536           /* bytes of a run's stderr kept */
#define RESULT_MAX (1u << 20)       /* bytes of a run's result line accepted */

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

static const char *kind_name(enum pm_suite_kind k)
{
    return k == PM_SUITE_PY ? "py" : k == PM_SUITE_GEN ? "gen" : "trace";
}

void pm_run_id(const struct pm_run_cfg *c, const struct pm_run_cell *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s__%s__%u", c->suite.items[r->item].name, c->backends[r->backend].file,
             r->rep);
}

void pm_run_label(const struct pm_run_cfg *c, const struct pm_run_cell *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s on %s, rep %u", c->suite.items[r->item].name,
             c->backends[r->backend].label, r->rep);
}

double pm_run_item_timeout(const struct pm_run_cfg *c, const struct pm_suite_item *it)
{
    if (c->timeout_s > 0)
        return c->timeout_s;
    if (it->timeout_s > 0)
        return it->timeout_s;
    if (c->suite.timeout_s > 0)
        return c->suite.timeout_s;
    return PM_RUN_DEFAULT_TIMEOUT_S;
}

typedef void (*helper_fn)(const struct pm_run_cfg *c, FILE *out, void *arg);

/* Runs fn in a child; *out gets what it wrote. Returns the wait status,
 * or -1 with err if the child could not start. */
static int helper_run(const struct pm_run_cfg *c, helper_fn fn, void *arg, char **out,
                      char err[PM_ERR_LEN])
{
    int fd[2];
    if (pipe(fd)) {
        snprintf(err, PM_ERR_LEN, "run: pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);               /* nothing buffered is written twice */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, PM_ERR_LEN, "run: fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
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
static void helper_backends(const struct pm_run_cfg *c, FILE *out, void *arg)
{
    (void)arg;
    struct pm_config cfg = {.on_misuse = c->on_misuse};
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
static void helper_traces(const struct pm_run_cfg *c, FILE *out, void *arg)
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
static void helper_generate(const struct pm_run_cfg *c, FILE *out, void *arg)
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

static void child_result(int fd, cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (s && (pm_write_all(fd, s, strlen(s)) == 0))
        pm_write_all(fd, "\n", 1);
    free(s);
}

static _Noreturn void child_fail(int fd, const char *msg)
{
    int sig = pm_fresh_last_signal();
    if (sig) {          /* the timed run's process was killed: so is the run */
        fflush(NULL);
        signal(sig, SIG_DFL);
        raise(sig);
    }
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddStringToObject(o, "error", msg);
    child_result(fd, o);
    cJSON_Delete(o);
    fflush(NULL);
    _exit(1);
}

/* A series that cannot be written fails its run (in the child: one line on
 * stderr, exit 1, which the parent records as failed with that line as the
 * reason). Recording the run ok without its series would lose the series
 * silently, and a run recorded ok is never run again by --resume; a failed
 * one is, so the loss is repaired by the next --resume. */
static _Noreturn void series_fail(const char *path, int err)
{
    char line[PATH_MAX + 200];
    int n = snprintf(line, sizeof line, "pymemlab: run: cannot write the series file %s: %s\n",
                     path, strerror(err));
    /* (fd 2 of a run's child is the pipe its parent reads: runner.h) */
    if (n > 0)
        pm_write_all(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    _exit(1);
}

/* Opens DIR/series/ID.csv.tmp; the caller renames it after a whole run. */
static FILE *series_open(const struct pm_run_cfg *c, const char *id, char *tmp, size_t len)
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

/* The run's record to the parent: the fields the engine measured (its
 * identity strings cleared: the parent's are the suite's names and labels),
 * and what the fresh processes cost. */
static void child_send(int fd, struct pm_result *rec)
{
    rec->workload[0] = rec->backend[0] = rec->time_mode[0] = 0;
    cJSON *o = pm_result_to_json(rec);
    if (!o)
        child_fail(fd, "out of memory");
    cJSON_AddNumberToObject(o, "fresh_overhead_ns", (double)pm_fresh_overhead_ns(NULL));
    child_result(fd, o);
    cJSON_Delete(o);
}

static void child_py(const struct pm_run_cfg *c, const struct pm_suite_item *it, const char *spec,
                     const char *id, unsigned rep, int fd)
{
    struct pm_pyrun_opts opts = {.sample_every = c->series_every, .reps = 1,
                                 .on_misuse = c->on_misuse,
                                 .latency_every = c->latency_every, .mode = c->mode,
                                 .gc = it->gc[0] ? it->gc : NULL};
    char err[PM_ERR_LEN];
    struct pm_pyrun_result res;
    pm_pyrun_result_init(&res);
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
    child_send(fd, &res.rec);
    pm_pyrun_result_free(&res);
}

static void child_replay(const struct pm_run_cfg *c, const struct pm_suite_item *it, const char *spec,
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
                               .on_misuse = c->on_misuse,
                               .domains = it->domains, .latency_every = c->latency_every};
    /* timed first, in a fresh process forked before this one uses the backend */
    struct pm_replay_opts timed = o;
    timed.latency_every = 0;
    struct pm_timing tm;
    if (pm_replay_time_fresh(t, spec, &timed, &scan, c->mode, &tm, err))
        child_fail(fd, err);
    static struct pm_replay_result r;   /* (large: not on the stack) */
    pm_replay_result_unmeasured(&r, &scan); /* reps after the first: no memory figures */
    if (rep == 1) {
        char tmp[PATH_MAX + 64];
        o.series = series_open(c, id, tmp, sizeof tmp);
        int rc = pm_replay_measure(t, spec, &o, &scan, &r, err);
        if (o.series)
            series_commit(o.series, tmp, rc == 0);
        if (rc)
            child_fail(fd, err);
    }
    static struct pm_result rec;
    if (pm_replay_record(&r, spec, 1, &tm, c->mode, &rec, NULL))
        child_fail(fd, "out of memory");
    child_send(fd, &rec);
    pm_trace_close(t);
}

static _Noreturn void child_main(const struct pm_run_cfg *c, const struct pm_run_cell *r, int fd_res, int fd_err,
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
    pm_run_id(c, r, id, sizeof id);
    if (it->kind == PM_SUITE_PY)
        child_py(c, it, c->backends[r->backend].spec, id, r->rep, fd_res);
    else
        child_replay(c, it, c->backends[r->backend].spec, id, r->rep, fd_res);
    fflush(NULL);
    _exit(0);
}

struct slot {
    bool busy;
    pid_t pid;
    int fd_res, fd_err;         /* -1 once at EOF */
    struct pm_run_cell run;
    uint64_t start_ns, deadline_ns;
    struct pm_cpu_snap cpu0;    /* the machine at the start */
    bool timed_out;
    struct cap res, err;
};

static const char *sig_name(int sig)
{
    const char *n = sigabbrev_np(sig);
    return n ? n : "?";
}

static int slot_start(const struct pm_run_cfg *c, struct slot *s, const struct pm_run_cell *r,
                      struct slot *all, unsigned nslots, char err[PM_ERR_LEN])
{
    int pr[2], pe[2];
    if (pipe(pr)) {
        snprintf(err, PM_ERR_LEN, "run: pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe(pe)) {
        snprintf(err, PM_ERR_LEN, "run: pipe: %s", strerror(errno));
        close(pr[0]);
        close(pr[1]);
        return -1;
    }
    fflush(NULL);
    malloc_trim(0);             /* the parent's free heap pages: not the child's */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, PM_ERR_LEN, "run: fork: %s", strerror(errno));
        close(pr[0]);
        close(pr[1]);
        close(pe[0]);
        close(pe[1]);
        return -1;
    }
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
    s->deadline_ns = s->start_ns + (uint64_t)(pm_run_item_timeout(c, &c->suite.items[r->item]) * 1e9);
    s->res.max = RESULT_MAX;
    s->err.max = STDERR_KEEP;
    return 0;
}

/* The record of a finished run. */
static void slot_record(const struct pm_run_cfg *c, const struct slot *s, int status,
                        const struct rusage *ru, struct pm_run_totals *tot, struct pm_result *out)
{
    const struct pm_suite_item *it = &c->suite.items[s->run.item];
    const struct pm_run_backend *b = &c->backends[s->run.backend];
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
    tot->runs_wall_s += out->wall_s;
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
                 pm_run_item_timeout(c, it), errline[0] ? "; stderr: " : "", errline);
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
        pm_result_set_from_json(out, o, true);  /* what the run measured (child_send) */
        snprintf(out->time_mode, sizeof out->time_mode, "%s", pm_time_mode_name(c->mode));
        const cJSON *fo = cJSON_GetObjectItemCaseSensitive(o, "fresh_overhead_ns");
        if (cJSON_IsNumber(fo))
            tot->fresh_overhead_s += fo->valuedouble / 1e9;
        if (it->kind == PM_SUITE_PY)    /* the child's json has the pywl scale/seed */
            out->scale = it->scale;
        char id[256], path[PATH_MAX + 600];
        pm_run_id(c, &s->run, id, sizeof id);
        snprintf(path, sizeof path, "%s/series/%s.csv", c->out, id);
        if (access(path, F_OK) == 0)
            snprintf(out->series, sizeof out->series, "series/%s.csv", id);
    }
    cJSON_Delete(o);
}

static void save_log(const struct pm_run_cfg *c, const struct slot *s)
{
    if (!s->err.n)
        return;
    char id[256], path[PATH_MAX + 600];
    pm_run_id(c, &s->run, id, sizeof id);
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

/* Waits for output, an end, or the nearest deadline (at most `max_ns`),
 * and reads what the slots' pipes hold. 0, or -1 with err. */
static int wait_some(struct slot *slots, unsigned nslots, uint64_t max_ns, char err[PM_ERR_LEN])
{
    struct pollfd pfd[64];
    int map[64];
    int npfd = 0;
    uint64_t now = pm_now_ns(), wait_ns = max_ns;
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
    if (pr < 0 && errno != EINTR) {
        snprintf(err, PM_ERR_LEN, "run: poll: %s", strerror(errno));
        return -1;
    }
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
    return 0;
}

/* A slot whose pipes are both at EOF: waits for its process, records the
 * run, frees the slot. 0, or -1 with err. */
static int reap(const struct pm_run_cfg *c, struct slot *s, int fd_jsonl, int fd_csv,
                const struct pm_run_observer *obs, struct pm_run_totals *tot,
                char err[PM_ERR_LEN])
{
    int status;
    struct rusage ru;
    pid_t w;
    while ((w = wait4(s->pid, &status, 0, &ru)) < 0 && errno == EINTR)
        ;
    if (w < 0) {
        snprintf(err, PM_ERR_LEN, "run: wait: %s", strerror(errno));
        return -1;
    }
    static struct pm_result r;     /* (large: not on the stack) */
    slot_record(c, s, status, &ru, tot, &r);
    save_log(c, s);
    {   /* a run killed while writing its series leaves the temporary file */
        char id[256], tmp[PATH_MAX + 300];
        pm_run_id(c, &s->run, id, sizeof id);
        snprintf(tmp, sizeof tmp, "%.3800s/series/%s.csv.tmp", c->out, id);
        remove(tmp);
    }
    if (pm_results_append(fd_jsonl, fd_csv, &r)) {
        snprintf(err, PM_ERR_LEN, "run: cannot append to %.150s/results.jsonl: %s", c->out,
                 strerror(errno));
        return -1;
    }
    if (obs && obs->finished) {
        char label[300];
        pm_run_label(c, &s->run, label, sizeof label);
        obs->finished(obs->ctx, &r, label);
    }
    free(s->res.p);
    free(s->err.p);
    s->busy = false;
    return 0;
}

static void kill_slot(struct slot *s)
{
    kill(-s->pid, SIGKILL);
    kill(s->pid, SIGKILL);
}

int pm_run_all(const struct pm_run_cfg *c, const struct pm_run_cell *plan, size_t nplan,
               int fd_jsonl, int fd_csv, double *load_max, const struct pm_run_observer *obs,
               struct pm_run_totals *tot, size_t *done, char err[PM_ERR_LEN])
{
    unsigned nslots = c->jobs;
    struct slot *slots = calloc(nslots, sizeof *slots);
    if (!slots) {
        snprintf(err, PM_ERR_LEN, "run: out of memory");
        return -1;
    }
    size_t next = 0, active = 0;
    int rc = 0;
    *done = 0;
    bool ticking = obs && obs->waiting;
    while ((next < nplan || active) && !*c->stop && rc == 0) {
        for (unsigned i = 0; i < nslots && next < nplan && !*c->stop && rc == 0; i++) {
            if (slots[i].busy)
                continue;
            double l = pm_prov_load1();
            if (l > *load_max)
                *load_max = l;
            rc = slot_start(c, &slots[i], &plan[next], slots, nslots, err);
            if (rc)
                break;
            if (obs && obs->started) {
                char label[300];
                pm_run_label(c, &plan[next], label, sizeof label);
                obs->started(obs->ctx, label);
            }
            next++;
            active++;
        }
        if (ticking)
            obs->waiting(obs->ctx);
        if (rc || (rc = wait_some(slots, nslots, ticking ? 1000000000u : 60000000000u, err)))
            break;
        uint64_t now = pm_now_ns();
        for (unsigned i = 0; i < nslots && rc == 0; i++) {
            struct slot *s = &slots[i];
            if (!s->busy)
                continue;
            if (!s->timed_out && now >= s->deadline_ns) {
                kill_slot(s);
                s->timed_out = true;
            }
            if (s->fd_res >= 0 || s->fd_err >= 0)
                continue;
            rc = reap(c, s, fd_jsonl, fd_csv, obs, tot, err);
            if (rc == 0) {
                ++*done;
                active--;
            }
        }
    }
    if (*c->stop || rc) {
        for (unsigned i = 0; i < nslots; i++)
            if (slots[i].busy) {
                kill_slot(&slots[i]);
                waitpid(slots[i].pid, NULL, 0);
            }
    }
    free(slots);
    return rc;
}

int pm_run_helper(const struct pm_run_cfg *c, enum pm_run_helper which, const bool *need,
                  char **out, char err[PM_ERR_LEN])
{
    helper_fn fn = which == PM_RUN_CHECK_BACKENDS ? helper_backends
                 : which == PM_RUN_CHECK_TRACES   ? helper_traces
                                                  : helper_generate;
    return helper_run(c, fn, (void *)need, out, err);
}

void pm_run_progress_format(char *buf, size_t len, const struct pm_run_progress *p,
                            const char *current, int width)
{
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
    int n = snprintf(buf, len, "[%s] %zu/%zu%s  %s elapsed, ETA %s  %s", bar, p->done, p->total,
                     failed, els, eta, current ? current : "");
    if (n > width - 1 && width > 0 && (size_t)width - 1 < len)
        buf[width - 1] = 0;
}
