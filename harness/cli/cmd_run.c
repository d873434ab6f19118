/* harness/cli/cmd_run.c — `pymemlab run`: the suite runner, pymemlab's main
 * job. Runs the matrix backends x workloads x reps of a suite
 * (harness/engine/suite.h, docs/suites.md), each run in a forked child with a time
 * and an address-space limit, into a results folder. This file is the
 * command: its options, the input checks (bad input: one line, exit 2,
 * before any result file is touched), the plan, and what is shown; the
 * engines under it do the work and print nothing (engine.h):
 *
 *   runner.c      child supervision, the child->parent pipe, the helpers
 *                 that check backends and generate traces (runner.h)
 *   resultsdir.c  the results folder: create or --resume it, provenance and
 *                 sessions, summary.md (resultsdir.h)
 *
 * `--emit-jobs FILE` writes the matrix as command lines instead.
 *
 * Exit codes: 0 the planned runs were all attempted (failed runs are
 * results, listed in the summary); 1 the runner itself failed (cannot write
 * the results); 2 bad input (suite, names, options, a results folder of
 * another configuration), before any result file is touched.
 */
#include "cli.h"
#include "opts.h"
#include "resultsdir.h"
#include "runner.h"
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

#define DEFAULT_REPS PM_CI_MIN_N  /* the fewest whose min..max is a 95% interval */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* ---- small helpers ---- */

__attribute__((format(printf, 2, 3)))
static void add_note(struct pm_run_cfg *c, const char *fmt, ...)
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

static void print_notes(const struct pm_run_cfg *c)
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

static uint64_t fnv1a(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * UINT64_C(1099511628211);
    return h;
}

/* Whether a backend can hold objects: `null` reuses its ring (it keeps no
 * data), so it only replays traces, as the replay loop's own cost. */
static bool holds_data(const char *spec)
{
    return pm_cli_keeps_contents(spec);   /* the descriptor's flag: null, debug:null... */
}

/* ---- options ---- */

static void parse_only(struct pm_run_cfg *c)
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
static void backend_named(struct pm_run_backend *b)
{
    char err[PM_ERR_LEN];
    if (pm_backend_label(b->spec, b->label, sizeof b->label, err))
        pm_usage_error("run: %s", err);
    file_safe(b->file, sizeof b->file, b->label);
}

static void add_backend(struct pm_run_cfg *c, const char *spec, const char *desc)
{
    struct pm_run_backend *nb = realloc(c->backends, (c->nbackends + 1) * sizeof *nb);
    if (!nb)
        pm_run_error("run: out of memory");
    c->backends = nb;
    struct pm_run_backend *b = &nb[c->nbackends++];
    memset(b, 0, sizeof *b);
    if (strlen(spec) >= sizeof b->spec)
        pm_usage_error("run: backend spec too long: '%s'", spec);
    snprintf(b->spec, sizeof b->spec, "%s", spec);
    backend_named(b);
    snprintf(b->description, sizeof b->description, "%s", desc ? desc : "");
}

/* --backends: names known to the registry (checked here, in the parent);
 * availability and options are checked in a helper. */
static void parse_backends(struct pm_run_cfg *c)
{
    char *list = strdup(c->backends_arg);
    if (!list)
        pm_run_error("run: out of memory");
    for (char *save, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        /* "pymalloc,preset=py38": a spec's options continue after commas;
         * a word with '=' belongs to the backend before it */
        if (strchr(tok, '=') && c->nbackends && !strchr(tok, ':')) {
            struct pm_run_backend *b = &c->backends[c->nbackends - 1];
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

static void check_backends(struct pm_run_cfg *c)
{
    char *out, err[PM_ERR_LEN];
    int st = pm_run_helper(c, PM_RUN_CHECK_BACKENDS, NULL, &out, err);
    if (st < 0)
        pm_run_error("%s", err);
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

static void parse_workloads(struct pm_run_cfg *c)
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

static void emit_jobs(const struct pm_run_cfg *c, const struct pm_run_cell *plan, size_t n)
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
        const struct pm_run_cell *r = &plan[i];
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

/* ---- the command ---- */

static void cfg_free(struct pm_run_cfg *c)
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

static void default_out(struct pm_run_cfg *c)
{
    char date[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y%m%d-%H%M%S", &tm);
    snprintf(c->out, sizeof c->out, "out/%s-%s", c->suite.name, date);
}

/* ---- the steps of the command ---- */

/* 1. The suite, names, options, backends and trace files: bad input is one
 * line and exit 2 here, before anything is written. */
static void check_input(struct pm_run_cfg *c, const char *suite, const char *out,
                        const char *traces_dir, const char *gcs)
{
    char err[PM_ERR_LEN];
    if (pm_suite_load(suite, &c->suite, err))
        pm_usage_error("%s", err);
    if (gcs && pm_suite_expand_gcs(&c->suite, gcs, err))
        pm_usage_error("%s", err);
    for (const char *l = c->suite.notes; l && *l; l += strcspn(l, "\n") + 1)
        add_note(c, "%.*s", (int)strcspn(l, "\n"), l);
    c->reps = c->reps ? c->reps : c->suite.reps ? c->suite.reps : DEFAULT_REPS;
    parse_workloads(c);
    if (!c->backends_arg && c->suite.backends[0])
        c->backends_arg = c->suite.backends;     /* the suite's `backend` lines */
    c->default_backends = c->backends_arg == NULL;
    if (c->backends_arg)
        parse_backends(c);
    if (c->baseline && !pm_backend_find(c->baseline) && !strchr(c->baseline, ':')) {
        /* a lib:PATH backend's NAME is a baseline too, if a backend has it */
        bool named = false;
        for (size_t i = 0; i < c->nbackends && !named; i++)
            named = !strcmp(c->backends[i].label, c->baseline);
        if (!named)
            pm_usage_error("run: unknown backend '%s' in --baseline", c->baseline);
    }
    if (c->only) {
        parse_only(c);
        if (!pm_suite_find(&c->suite, c->only_w))
            pm_usage_error("run: --only: unknown workload '%s' in suite %s", c->only_w, c->suite.name);
        if (c->only_r > c->reps)
            pm_usage_error("run: --only: rep %u of %u", c->only_r, c->reps);
    }
    if (out)
        snprintf(c->out, sizeof c->out, "%s", out);
    else
        default_out(c);
    if (traces_dir)
        snprintf(c->traces_dir, sizeof c->traces_dir, "%s", traces_dir);
    else
        snprintf(c->traces_dir, sizeof c->traces_dir, "%.4000s/traces", c->out);
    check_backends(c);
    if (c->only) {
        bool found = false;
        for (size_t i = 0; i < c->nbackends && !found; i++)
            found = !strcmp(c->backends[i].spec, c->only_b) || !strcmp(c->backends[i].label, c->only_b);
        if (!found)
            pm_usage_error("run: --only: backend '%s' is not among the suite's backends", c->only_b);
    }
    char *o;
    int st = pm_run_helper(c, PM_RUN_CHECK_TRACES, NULL, &o, err);
    if (st < 0)
        pm_run_error("%s", err);
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        pm_run_error("run: checking the traces failed");
    if (!strncmp(o, "err\t", 4)) {
        o[strcspn(o, "\n")] = 0;
        pm_usage_error("%s", o + 4);
    }
    free(o);
    /* gen traces live under traces_dir, named by their parameters */
    for (size_t i = 0; i < c->suite.n; i++) {
        struct pm_suite_item *it = &c->suite.items[i];
        if (it->kind == PM_SUITE_GEN)
            snprintf(it->path, sizeof it->path, "%.3900s/%s-%08llx.pmt", c->traces_dir, it->name,
                     (unsigned long long)(fnv1a(it->params) & 0xffffffffu));
    }
}

/* 2. The plan: rep-major, so that an interrupted suite has whole reps. */
static struct pm_run_cell *make_plan(struct pm_run_cfg *c, size_t *n)
{
    size_t cap = c->reps * c->suite.n * c->nbackends + 1, nplan = 0;
    struct pm_run_cell *plan = malloc(cap * sizeof *plan);
    if (!plan)
        pm_run_error("run: out of memory");
    bool null_skipped = false;
    for (unsigned rep = 1; rep <= c->reps; rep++)
        for (size_t i = 0; i < c->suite.n; i++) {
            if (!c->wanted[i])
                continue;
            for (size_t b = 0; b < c->nbackends; b++) {
                if (c->suite.items[i].kind == PM_SUITE_PY && !holds_data(c->backends[b].spec)) {
                    null_skipped = true;
                    continue;
                }
                if (c->only && (rep != c->only_r || strcmp(c->suite.items[i].name, c->only_w) ||
                                (strcmp(c->backends[b].spec, c->only_b) &&
                                 strcmp(c->backends[b].label, c->only_b))))
                    continue;
                plan[nplan++] = (struct pm_run_cell){i, b, rep};
            }
        }
    if (null_skipped && !c->only)
        add_note(c, "backends that keep no block contents (null, debug:null) run the trace "
                    "workloads only: no object workload can run on them");
    if (nplan == 0 && !c->emit_jobs)
        pm_usage_error("run: nothing to run (--only %s names a run the suite does not have)",
                       c->only ? c->only : "");
    *n = nplan;
    return plan;
}

/* 4. The gen traces the runs need (after removing what interrupted ones
 * left). What fails now is the machine (a full disk, no memory), not the
 * input (the gen lines were checked before the folder was made: item 7 of
 * issue 19): exit 1. */
static void generate_traces(const struct pm_run_cfg *c, const struct pm_run_cell *plan, size_t todo)
{
    pm_rdir_clean_stale_traces(c->traces_dir, stderr);
    bool *need = calloc(c->suite.n, sizeof *need);
    if (!need)
        pm_run_error("run: out of memory");
    bool any_gen = false;
    for (size_t i = 0; i < todo; i++)
        if (c->suite.items[plan[i].item].kind == PM_SUITE_GEN)
            any_gen = need[plan[i].item] = true;
    if (any_gen) {
        fprintf(stderr, "pymemlab: generating traces into %s\n", c->traces_dir);
        char *o, err[PM_ERR_LEN];
        int hs = pm_run_helper(c, PM_RUN_GENERATE, need, &o, err);
        if (hs < 0)
            pm_run_error("%s", err);
        if (!strncmp(o, "err\t", 4)) {
            o[strcspn(o, "\n")] = 0;
            pm_run_error("run: %s (no run started; --resume continues)", o + 4);
        }
        if (!WIFEXITED(hs) || WEXITSTATUS(hs))
            pm_run_error("run: generating the traces failed");
        free(o);
    }
    free(need);
}

/* What is shown while runs go: a bar on a terminal, a line per run
 * otherwise; failures always. */
struct progress {
    struct pm_run_progress p;
    bool tty;                   /* stderr is a terminal: the bar */
    char current[300];
};

static void progress_started(void *ctx, const char *label)
{
    struct progress *pr = ctx;
    snprintf(pr->current, sizeof pr->current, "%s", label);
}

static void progress_waiting(void *ctx)
{
    struct progress *pr = ctx;
    struct winsize ws;
    int width = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 40 ? ws.ws_col : 100;
    char line[512];
    pm_run_progress_format(line, sizeof line, &pr->p, pr->current, width);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
}

static void progress_finished(void *ctx, const struct pm_result *r, const char *label)
{
    struct progress *pr = ctx;
    struct pm_run_progress *p = &pr->p;
    p->done++;
    if (!strcmp(r->status, "ok"))
        p->ok++;
    else
        p->failed++;
    if (pr->tty) {
        fprintf(stderr, "\r\033[K");
        if (strcmp(r->status, "ok"))
            fprintf(stderr, "%s: FAILED: %s\n", label, r->reason);
        return;
    }
    if (!strcmp(r->status, "ok")) {
        /* memory is sampled in rep 1 only: no "peak" where it was not */
        char peak[48] = "";
        if (r->peak_footprint_bytes != PM_STAT_NA && r->rep == 1)
            snprintf(peak, sizeof peak, ", peak %.1f MiB", (double)r->peak_footprint_bytes / 1048576.0);
        fprintf(stderr, "[%zu/%zu] %s: ok, %.1f ns/op%s (%.1f s)\n", p->done, p->total, label,
                r->ns_per_op, peak, r->wall_s);
    } else
        fprintf(stderr, "[%zu/%zu] %s: FAILED (%s) %s\n", p->done, p->total, label, r->failure,
                r->reason);
}

/* 3-5. The results folder (locked first, so that what is read cannot
 * change under us; one of another configuration refused), the traces, the
 * runs, the summary. Returns the exit code. */
static int run_plan(struct pm_run_cfg *c, struct pm_run_cell *plan, size_t nplan)
{
    char err[PM_ERR_LEN];
    pm_cli_folder_lock("run", c->out);
    struct pm_rdir d;
    size_t todo = nplan;
    int rc = pm_rdir_open(c, plan, &todo, &d, err);
    if (rc == 2)
        pm_usage_error("%s", err);
    if (rc)
        pm_run_error("%s", err);
    if (c->resume && d.nold)
        fprintf(stderr, "pymemlab: resuming %s: %zu of %zu runs done, %zu to go\n", c->out,
                nplan - todo, nplan, todo);
    if (d.csv_rebuilt && d.csv_rows > d.nold)
        fprintf(stderr, "pymemlab: note: %s/results.csv had %zu rows, results.jsonl %zu records: "
                        "rebuilt from results.jsonl\n", c->out, d.csv_rows, d.nold);
    print_notes(c);
    generate_traces(c, plan, todo);
    if (pm_rdir_session_begin(&d, c, todo, err))
        pm_run_error("%s", err);

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "pymemlab: %zu runs (%s suite, %zu backends, %u reps, %u at a time) into %s\n",
            todo, c->suite.name, c->nbackends, c->reps, c->jobs, c->out);
    double load_max = pm_prov_load1();
    struct progress pr = {.p = {.total = todo, .t0 = pm_now_ns()}, .tty = isatty(STDERR_FILENO)};
    struct pm_run_observer obs = {&pr, progress_started, pr.tty ? progress_waiting : NULL,
                                  progress_finished};
    struct pm_run_totals tot = {0};
    size_t done;
    rc = pm_run_all(c, plan, todo, d.fd_jsonl, d.fd_csv, &load_max, &obs, &tot, &done, err);
    if (pr.tty)
        fprintf(stderr, "\r\033[K");
    if (rc)
        pm_run_error("%s", err);
    close(d.fd_jsonl);
    close(d.fd_csv);
    d.fd_jsonl = d.fd_csv = -1;
    if (pm_rdir_session_end(&d, done, load_max, interrupted != 0, &tot, err))
        pm_run_error("%s", err);
    if (tot.runs_wall_s > 0)
        fprintf(stderr, "pymemlab: the timed runs' fresh processes took %.2f s of the runs' %.1f s "
                        "(%.2f%%)\n", tot.fresh_overhead_s, tot.runs_wall_s,
                100 * tot.fresh_overhead_s / tot.runs_wall_s);
    if (interrupted) {
        fprintf(stderr, "pymemlab: interrupted after %zu of %zu runs; the results so far are in %s "
                        "(continue with --resume)\n", done, todo, c->out);
        pm_rdir_close(&d);
        return 128 + (int)interrupted;
    }
    struct pm_summary s;
    if (pm_rdir_summary(c, d.prov, &s, err))
        pm_run_error("%s", err);
    printf("\n");
    pm_summary_print(stdout, &s, false);
    printf("\nresults: %s (summary.md, results.csv, results.jsonl, series/; plots: pymemlab plot %s)\n",
           c->out, c->out);
    pm_summary_free(&s);
    pm_rdir_close(&d);
    return PM_EXIT_OK;
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
    PM_CLI_OPT("gcs", 'G', PM_CLI_STRING, "a,b,...", "each py line's gc=, else gen311",
               "sweep the collectors: each py workload once per collector, named NAME-COLLECTOR "
               "(docs/gc.md)", .values = "gen311 gen313 inc314 pep848"),
    {0},
};

const struct pm_cli_spec pm_spec_run = {
    .name = "run", .opts = run_opts,
    .summary = "the main job: run a suite (docs/suites.md) on every backend into a results folder",
};

int cmd_run(int argc, char **argv)
{
    struct pm_run_cfg c = {.jobs = 1, .latency_every = PM_LAT_DEFAULT_EVERY, .argc = argc, .argv = argv};
    const char *suite = "default", *out = NULL, *traces_dir = NULL, *gcs = NULL;
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
        case 'G': gcs = v.s; break;
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

    c.reps = reps;
    c.on_misuse = pm_cli_misuse_abort;
    c.stop = &interrupted;
    check_input(&c, suite, out, traces_dir, gcs);
    size_t nplan;
    struct pm_run_cell *plan = make_plan(&c, &nplan);
    if (c.emit_jobs) {
        print_notes(&c);
        emit_jobs(&c, plan, nplan);
        free(plan);
        cfg_free(&c);
        return PM_EXIT_OK;
    }
    int rc = run_plan(&c, plan, nplan);
    free(plan);
    cfg_free(&c);
    return rc;
}
