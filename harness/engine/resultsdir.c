/* harness/engine/resultsdir.c — the results folder of `pymemlab run`: opening or
 * resuming it, the provenance and its sessions, the summary file, and the
 * one provenance comparison (resultsdir.h). Engine code: prints nothing,
 * exits never (engine.h).
 */
#include "fileio.h"
#include "resultsdir.h"
#include "paths.h"
#include "pm_build_info.h"
#include "results.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

__attribute__((format(printf, 2, 3)))
static void seterr(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, PM_ERR_LEN, fmt, ap);
    va_end(ap);
}

/* ---- provenance ---- */

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
    if (cJSON_IsString(x))
        return x->valuestring;
    if (cJSON_IsBool(x))
        return cJSON_IsTrue(x) ? "true" : "false";
    return "?";
}

const char *pm_prov_differs(const cJSON *a, const cJSON *b, unsigned what, const char **va,
                            const char **vb)
{
    /* the run's identity: what --resume continues */
    static const char *const config_keys[] = {"workloads", "backends", "reps", "only", "time_mode",
                                              NULL};
    /* what makes timings comparable: what merge combines */
    static const char *const build_keys[][2] = {
        {"pymemlab", "commit"},   {"pymemlab", "dirty"},    {"machine", "cpu_model"},
        {"pymemlab", "compiler"}, {"pymemlab", "build_type"}, {"pymemlab", "flags"},
    };
    const char *dummy;
    if (!va)
        va = &dummy;
    if (!vb)
        vb = &dummy;
    if (what & PM_PROV_CONFIG) {
        const cJSON *ca = cJSON_GetObjectItemCaseSensitive(a, "config");
        const cJSON *cb = cJSON_GetObjectItemCaseSensitive(b, "config");
        for (int i = 0; config_keys[i]; i++) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(ca, config_keys[i]);
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(cb, config_keys[i]);
            if (!x || !y || !cJSON_Compare(x, y, true)) {
                *va = *vb = "";
                return config_keys[i];
            }
        }
    }
    if (what & PM_PROV_BUILD) {
        for (size_t i = 0; i < sizeof build_keys / sizeof build_keys[0]; i++) {
            *va = str_at(a, build_keys[i][0], build_keys[i][1]);
            *vb = str_at(b, build_keys[i][0], build_keys[i][1]);
            if (strcmp(*va, *vb))
                return build_keys[i][1];
        }
    }
    return NULL;
}

static void iso_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

cJSON *pm_rdir_config_json(const struct pm_run_cfg *c)
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
        cJSON_AddNumberToObject(o, "timeout_s", c->suite.timeout_s > 0 ? c->suite.timeout_s : PM_RUN_DEFAULT_TIMEOUT_S);
    cJSON_AddNumberToObject(o, "mem_limit_bytes", (double)c->mem_limit);
    cJSON_AddStringToObject(o, "baseline", c->baseline ? c->baseline : "");
    cJSON_AddStringToObject(o, "suite_text", c->suite.text);
    if (c->notes[0])
        cJSON_AddStringToObject(o, "notes", c->notes);
    return o;
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
    fflush(NULL);
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

static cJSON *provenance_new(const struct pm_run_cfg *c)
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
    cJSON_AddItemToObject(o, "config", pm_rdir_config_json(c));
    cJSON_AddArrayToObject(o, "sessions");
    return o;
}

static cJSON *session_new(const struct pm_run_cfg *c, size_t planned)
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

static void session_end(cJSON *s, size_t done, double load_max, bool interrupted_run,
                        const struct pm_run_totals *tot)
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
    cJSON_AddNumberToObject(s, "runs_wall_s", tot->runs_wall_s);
    cJSON_AddNumberToObject(s, "fresh_overhead_s", tot->fresh_overhead_s);
    cJSON_AddStringToObject(s, "fresh_note",
                            "fresh_overhead_s: what the timed runs' own processes cost (fork, start, "
                            "exit, wait), summed over the runs; runs_wall_s: the runs' wall time");
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

/* ---- the folder ---- */

static int open_append(const char *dir, const char *name, int *fd, bool *created,
                       char err[PM_ERR_LEN])
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (*fd < 0) {
        seterr(err, "run: cannot write '%s': %s", path, strerror(errno));
        return 1;
    }
    struct stat st;
    *created = fstat(*fd, &st) == 0 && st.st_size == 0;
    return 0;
}

/* Rewrites results.csv from the records (resume: the CSV may lack the last
 * record or hold a partial line). 0 or 1. */
static int rewrite_csv(const char *dir, const struct pm_result *rows, size_t n,
                       char err[PM_ERR_LEN])
{
    char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    snprintf(tmp, sizeof tmp, "%s/results.csv.tmp", dir);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        seterr(err, "run: cannot write '%s': %s", tmp, strerror(errno));
        return 1;
    }
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
    if (!ok || rename(tmp, path)) {
        seterr(err, "run: cannot write '%s'", path);
        return 1;
    }
    return 0;
}

/* The provenance: the folder's (refused unless resumed, and of another
 * configuration unless forced: then the new configuration replaces its
 * own), or NULL when the folder holds none. 0 or 2. */
static int prov_check(const struct pm_run_cfg *c, bool holds, cJSON **prov, char err[PM_ERR_LEN])
{
    *prov = NULL;
    if (!holds)
        return 0;
    if (!c->resume) {
        seterr(err, "run: %s already holds results (--resume continues that run; or choose "
                    "another --out)", c->out);
        return 2;
    }
    char path[PATH_MAX + 32], e[PM_ERR_LEN];
    snprintf(path, sizeof path, "%s/provenance.json", c->out);
    *prov = pm_read_json_file(path, e);
    if (!*prov) {
        seterr(err, "run: %s", e);
        return 2;
    }
    cJSON *now = cJSON_CreateObject();
    cJSON *cfg_now = pm_rdir_config_json(c);
    cJSON_AddItemToObject(now, "config", cfg_now);
    const char *d = pm_prov_differs(*prov, now, PM_PROV_CONFIG, NULL, NULL);
    if (d && !c->force) {
        cJSON_Delete(now);
        cJSON_Delete(*prov);
        *prov = NULL;
        seterr(err, "run: %s holds results of another configuration (%s differ); --force "
                    "continues it anyway", c->out, d);
        return 2;
    }
    if (d)
        cJSON_ReplaceItemInObjectCaseSensitive(*prov, "config", cJSON_Duplicate(cfg_now, true));
    cJSON_Delete(now);
    return 0;
}

static int make_dirs(const struct pm_run_cfg *c, char err[PM_ERR_LEN])
{
    if (pm_mkdir_p(c->out)) {
        seterr(err, "run: cannot create the results folder '%s': %s", c->out, strerror(errno));
        return 2;
    }
    static const char *const subdirs[] = {"series", "logs"};
    for (int i = 0; i < 2; i++) {
        char d[PATH_MAX + 16];
        snprintf(d, sizeof d, "%s/%s", c->out, subdirs[i]);
        if (pm_mkdir_p(d)) {
            seterr(err, "run: cannot create '%s': %s", d, strerror(errno));
            return 1;
        }
    }
    if (pm_mkdir_p(c->traces_dir)) {
        seterr(err, "run: cannot create '%s': %s", c->traces_dir, strerror(errno));
        return 1;
    }
    return 0;
}

/* --resume: leaves out what is done (status ok, same parameters; the
 * latest record of a run decides). */
static size_t leave_out_done(const struct pm_run_cfg *c, struct pm_run_cell *plan, size_t nplan,
                             const struct pm_result *old, size_t nold)
{
    size_t todo = 0;
    for (size_t i = 0; i < nplan; i++) {
        const struct pm_suite_item *it = &c->suite.items[plan[i].item];
        bool done = false;
        for (size_t k = nold; k-- > 0 && !done;) {
            const struct pm_result *r = &old[k];
            if (r->rep == plan[i].rep && !strcmp(r->workload, it->name) &&
                !strcmp(r->backend, c->backends[plan[i].backend].label) &&
                !strcmp(r->params, it->params)) {
                if (!strcmp(r->status, "ok"))
                    done = true;
                break;
            }
        }
        if (!done)
            plan[todo++] = plan[i];
    }
    return todo;
}

/* The files: a record cut short is dropped, the CSV rebuilt from the JSON
 * (the source of truth, whatever the CSV holds: a partial row, rows whose
 * JSON was lost), both opened for appending. 0 or 1. */
static int open_files(const struct pm_run_cfg *c, const struct pm_result *old, size_t nold,
                      long partial, struct pm_rdir *d, char err[PM_ERR_LEN])
{
    char jpath[PATH_MAX + 32], cpath[PATH_MAX + 32];
    snprintf(jpath, sizeof jpath, "%s/results.jsonl", c->out);
    snprintf(cpath, sizeof cpath, "%s/results.csv", c->out);
    struct stat st;
    bool have_csv = stat(cpath, &st) == 0;
    if ((nold || partial) && truncate(jpath, partial)) {
        seterr(err, "run: cannot truncate '%s': %s", jpath, strerror(errno));
        return 1;
    }
    if (nold || partial || have_csv) {
        d->csv_rows = csv_rows(cpath);
        d->csv_rebuilt = true;
        if (rewrite_csv(c->out, old, nold, err))
            return 1;
    }
    bool created;
    if (open_append(c->out, "results.jsonl", &d->fd_jsonl, &created, err) ||
        open_append(c->out, "results.csv", &d->fd_csv, &created, err))
        return 1;
    if (created) {
        char *h = pm_result_csv_header();
        int bad = !h || pm_write_all(d->fd_csv, h, strlen(h)) || fdatasync(d->fd_csv);
        free(h);
        if (bad) {
            seterr(err, "run: cannot write %s/results.csv", c->out);
            return 1;
        }
    }
    return 0;
}

int pm_rdir_open(const struct pm_run_cfg *c, struct pm_run_cell *plan, size_t *nplan,
                 struct pm_rdir *d, char err[PM_ERR_LEN])
{
    memset(d, 0, sizeof *d);
    d->fd_jsonl = d->fd_csv = -1;
    snprintf(d->prov_path, sizeof d->prov_path, "%s/provenance.json", c->out);
    struct pm_result *old = NULL;
    size_t nold = 0;
    long partial = 0;
    char e[PM_ERR_LEN];
    if (pm_results_load(c->out, &old, &nold, &partial, e)) {
        seterr(err, "run: %s", e);
        return 2;
    }
    struct stat st;
    int rc = prov_check(c, nold || stat(d->prov_path, &st) == 0, &d->prov, err);
    if (rc == 0)
        rc = make_dirs(c, err);
    if (rc == 0 && !d->prov)
        d->prov = provenance_new(c);
    if (rc == 0) {
        d->nold = nold;
        d->nplanned = *nplan;
        *nplan = leave_out_done(c, plan, *nplan, old, nold);
        rc = open_files(c, old, nold, partial, d, err);
    }
    free(old);
    if (rc)
        pm_rdir_close(d);
    return rc;
}

int pm_rdir_session_begin(struct pm_rdir *d, const struct pm_run_cfg *c, size_t planned,
                          char err[PM_ERR_LEN])
{
    cJSON *sessions = cJSON_GetObjectItemCaseSensitive(d->prov, "sessions");
    if (!cJSON_IsArray(sessions)) {
        sessions = cJSON_CreateArray();
        cJSON_AddItemToObject(d->prov, "sessions", sessions);
    }
    d->session = session_new(c, planned);
    cJSON_AddItemToArray(sessions, d->session);
    if (pm_write_json_file(d->prov_path, d->prov)) {
        seterr(err, "run: cannot write '%s'", d->prov_path);
        return 1;
    }
    return 0;
}

int pm_rdir_session_end(struct pm_rdir *d, size_t done, double load_max, bool interrupted,
                        const struct pm_run_totals *tot, char err[PM_ERR_LEN])
{
    session_end(d->session, done, load_max, interrupted, tot);
    if (pm_write_json_file(d->prov_path, d->prov)) {
        seterr(err, "run: cannot write '%s'", d->prov_path);
        return 1;
    }
    return 0;
}

void pm_rdir_close(struct pm_rdir *d)
{
    if (d->fd_jsonl >= 0)
        close(d->fd_jsonl);
    if (d->fd_csv >= 0)
        close(d->fd_csv);
    d->fd_jsonl = d->fd_csv = -1;
    cJSON_Delete(d->prov);
    d->prov = NULL;
}

int pm_rdir_summary(const struct pm_run_cfg *c, const cJSON *prov, struct pm_summary *s,
                    char err[PM_ERR_LEN])
{
    struct pm_result *rows;
    size_t n;
    long partial;
    char e[PM_ERR_LEN];
    if (pm_results_load(c->out, &rows, &n, &partial, e)) {
        seterr(err, "run: %s", e);
        return 1;
    }
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
    int rc = pm_summary_build(rows, k, c->baseline, s);
    free(rows);
    if (rc) {
        seterr(err, "run: out of memory");
        return 1;
    }
    char md[PATH_MAX + 32];
    snprintf(md, sizeof md, "%s/summary.md", c->out);
    if (pm_summary_write_md(md, s, prov)) {
        pm_summary_free(s);
        seterr(err, "run: cannot write '%s'", md);
        return 1;
    }
    return 0;
}

/* Removes what interrupted generations left in the traces folder: a helper
 * writes NAME.PID.pmt.tmp, then NAME.PID.pmt, then renames it to NAME; such a
 * file whose PID no longer exists on this machine is garbage. A PID in use
 * (perhaps reused) keeps its file: never remove a live writer's. */
void pm_rdir_clean_stale_traces(const char *dir, FILE *log)
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
        if (unlink(path) == 0 && log)
            fprintf(log, "pymemlab: removed %s (an interrupted generation's)\n", path);
    }
    closedir(d);
}
