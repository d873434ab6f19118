/* harness/cli/cmd_merge.c — `pymemlab merge DIR... --out DIR [--force]`:
 * combines results folders (the parts of `run --emit-jobs`, or runs of
 * different backends) into one: results.jsonl and results.csv (the records
 * in input order, the latest of each run per folder), the series and logs,
 * provenance.json (the first folder's, with every folder's sessions under
 * "merged_from"), summary.md and the summary on stdout.
 *
 * Refused (exit 2, nothing written) unless --force: folders whose
 * provenance makes them incomparable — another commit (or a dirty tree on
 * one side), CPU model, compiler, build type or flags —; the same run
 * (workload, backend, rep) in two folders; the same workload name with other
 * parameters. Always refused: an input that is not a results folder, an
 * --out folder that holds results already, and one that a run or another
 * merge holds (its .lock, taken as `run` takes it: pm_cli_folder_lock).
 */
#include "cli.h"
#include "opts.h"
#include "fileio.h"
#include "results.h"
#include "resultsdir.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct part {
    const char *dir;
    cJSON *prov;
    struct pm_result *rows;
    size_t n;
};

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
    if (cJSON_IsString(x))
        return x->valuestring;
    if (cJSON_IsBool(x))
        return cJSON_IsTrue(x) ? "true" : "false";
    return "?";
}

static int copy_file(const char *from, const char *to)
{
    if (link(from, to) == 0)
        return 0;
    char err[PM_ERR_LEN];
    uint64_t size;
    int fd = pm_file_open_read(from, UINT64_MAX, &size, err);   /* regular files only: never a FIFO's open */
    FILE *in = fd >= 0 ? fdopen(fd, "rb") : NULL, *out = in ? fopen(to, "wb") : NULL;
    if (fd >= 0 && !in)
        close(fd);
    int rc = -1;
    if (in && out) {
        char buf[65536];
        size_t r;
        rc = 0;
        while ((r = fread(buf, 1, sizeof buf, in)) > 0)
            if (fwrite(buf, 1, r, out) != r)
                rc = -1;
        if (ferror(in))
            rc = -1;
    }
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc;
}

/* Copies DIR/sub/ * into OUT/sub/ (files that exist in OUT are kept). */
static void copy_dir(const char *dir, const char *out, const char *sub)
{
    char from[PATH_MAX], to[PATH_MAX];
    snprintf(from, sizeof from, "%s/%s", dir, sub);
    DIR *d = opendir(from);
    if (!d)
        return;
    snprintf(to, sizeof to, "%s/%s", out, sub);
    if (pm_mkdir_p(to))
        pm_run_error("merge: cannot create '%s': %s", to, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char f[PATH_MAX + 256], t[PATH_MAX + 256];
        snprintf(f, sizeof f, "%s/%s", from, e->d_name);
        snprintf(t, sizeof t, "%s/%s", to, e->d_name);
        if (access(t, F_OK) == 0)
            continue;
        if (copy_file(f, t))
            pm_run_error("merge: cannot copy '%s' to '%s'", f, t);
    }
    closedir(d);
}

static bool same_path(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static const struct pm_cli_opt merge_opts[] = {
    PM_CLI_OPT("out", 'o', PM_CLI_DIR, "DIR", NULL, "the merged results folder", .flags = PM_CLI_REQUIRED),
    PM_CLI_OPT("force", 'f', PM_CLI_FLAG, NULL, NULL, "merge parts whose configurations differ"),
    {0},
};

const struct pm_cli_spec pm_spec_merge = {
    .name = "merge", .args = "DIR...", .opts = merge_opts,
    .summary = "combine results folders (e.g. --emit-jobs parts) into one",
};

/* One merge: its options and folders, then what each step adds. */
struct merge_cmd {
    const char *out;
    bool force;
    struct part *parts;
    int nparts;
    struct pm_result *all;      /* the records of every part, the latest of each run */
    size_t n;
    cJSON *prov;                /* the merged provenance */
};

static void parse_options(struct merge_cmd *m, int argc, char **argv)
{
    struct pm_cli_val v;
    int ch;
    while ((ch = pm_cli_getopt(&pm_spec_merge, argc, argv, &v)) != -1) {
        if (ch == 'o')
            m->out = v.s;
        else if (ch == 'f')
            m->force = true;
    }
    if (!m->out)
        pm_usage_error("merge: --out DIR is required");
    m->nparts = argc - optind;
    if (m->nparts < 1)
        pm_usage_error("merge: give the results folders to merge");
    m->parts = calloc((size_t)m->nparts, sizeof *m->parts);
    if (!m->parts)
        pm_run_error("merge: out of memory");
    for (int i = 0; i < m->nparts; i++)
        m->parts[i].dir = argv[optind + i];
}

/* Without --force: the same run twice in parts 0..i, or a workload name
 * with other parameters, is refused (exit 2). */
static void check_runs(const struct part *parts, int i)
{
    const struct part *p = &parts[i];
    for (int j = 0; j <= i; j++)
        for (size_t a = 0; a < parts[j].n; a++)
            for (size_t b = 0; b < p->n; b++) {
                if (j == i && b <= a)
                    continue;
                const struct pm_result *x = &parts[j].rows[a], *y = &p->rows[b];
                if (strcmp(x->workload, y->workload))
                    continue;
                if (strcmp(x->params, y->params))
                    pm_usage_error("merge: workload %s differs between %s (%s) and %s (%s) "
                                   "(--force merges them anyway)", x->workload, parts[j].dir,
                                   x->params, p->dir, y->params);
                if (j != i && x->rep == y->rep && !strcmp(x->backend, y->backend))
                    pm_usage_error("merge: run %s:%s:%llu is in both %s and %s (--force keeps "
                                   "the later folder's)", x->workload, x->backend,
                                   (unsigned long long)x->rep, parts[j].dir, p->dir);
            }
}

/* Part i read (its provenance and the latest record of each run) and
 * checked against the parts before it; exit 2 on each problem. */
static void load_part(struct merge_cmd *m, int i)
{
    struct part *parts = m->parts, *p = &parts[i];
    char err[PM_ERR_LEN];
    if (same_path(p->dir, m->out))
        pm_usage_error("merge: --out %s is one of the folders to merge", m->out);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/provenance.json", p->dir);
    if (access(path, F_OK))
        pm_usage_error("merge: %s is not a results folder (no provenance.json)", p->dir);
    p->prov = pm_read_json_file(path, err);
    if (!p->prov)
        pm_usage_error("merge: %s", err);
    long partial;
    if (pm_results_load(p->dir, &p->rows, &p->n, &partial, err))
        pm_usage_error("merge: %s", err);
    p->n = pm_results_latest(p->rows, p->n);
    const char *va, *vb;
    const char *what = i ? pm_prov_differs(parts[0].prov, p->prov, PM_PROV_BUILD, &va, &vb) : NULL;
    if (what && !m->force)
        pm_usage_error("merge: %s and %s are not comparable: %s '%s' vs '%s' (--force merges "
                       "them anyway)", parts[0].dir, p->dir, what, va, vb);
    /* the same run twice, or a workload name with other parameters */
    if (!m->force)
        check_runs(parts, i);
}

/* Every part, then --out: refused if it holds results or a run (or
 * another merge) holds its lock; checked again under the lock. */
static void check_input(struct merge_cmd *m)
{
    for (int i = 0; i < m->nparts; i++)
        load_part(m, i);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/results.jsonl", m->out);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0)
        pm_usage_error("merge: %s already holds results; choose another --out", m->out);
    pm_cli_folder_lock("merge", m->out);
    if (stat(path, &st) == 0 && st.st_size > 0)
        pm_usage_error("merge: %s already holds results; choose another --out", m->out);
}

/* results.jsonl and results.csv: the records in input order, the latest
 * of each run; then the series and logs. */
static void write_records(struct merge_cmd *m)
{
    const char *out = m->out;
    size_t total = 0;
    for (int i = 0; i < m->nparts; i++)
        total += m->parts[i].n;
    m->all = malloc((total ? total : 1) * sizeof *m->all);
    if (!m->all)
        pm_run_error("merge: out of memory");
    size_t n = 0;
    for (int i = 0; i < m->nparts; i++) {
        if (m->parts[i].n)   /* (an empty folder's rows are NULL: no memcpy from NULL, even of 0 bytes) */
            memcpy(m->all + n, m->parts[i].rows, m->parts[i].n * sizeof *m->all);
        n += m->parts[i].n;
    }
    m->n = n = pm_results_latest(m->all, n);
    char path[PATH_MAX + 32], csv_path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/results.jsonl", out);
    snprintf(csv_path, sizeof csv_path, "%s/results.csv", out);
    int fj = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int fc = open(csv_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fj < 0 || fc < 0)
        pm_run_error("merge: cannot write into '%s': %s", out, strerror(errno));
    char *h = pm_result_csv_header();
    if (!h || write(fc, h, strlen(h)) != (ssize_t)strlen(h))
        pm_run_error("merge: cannot write '%s'", csv_path);
    free(h);
    for (size_t i = 0; i < n; i++)
        if (pm_results_append(fj, fc, &m->all[i]))
            pm_run_error("merge: cannot write into '%s': %s", out, strerror(errno));
    close(fj);
    close(fc);
    for (int i = 0; i < m->nparts; i++) {
        copy_dir(m->parts[i].dir, out, "series");
        copy_dir(m->parts[i].dir, out, "logs");
    }
}

/* provenance.json: the first folder's, the others' sessions beside it,
 * the union of the backends. */
static void write_provenance(struct merge_cmd *m)
{
    struct part *parts = m->parts;
    cJSON *prov = m->prov = cJSON_Duplicate(parts[0].prov, true);
    cJSON *from = cJSON_AddArrayToObject(prov, "merged_from");
    cJSON *backends = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(prov, "config"), "backends");
    for (int i = 0; i < m->nparts; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "dir", parts[i].dir);
        cJSON_AddStringToObject(e, "hostname", str_at(parts[i].prov, "machine", "hostname"));
        cJSON_AddNumberToObject(e, "records", (double)parts[i].n);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(parts[i].prov, "sessions");
        if (s)
            cJSON_AddItemToObject(e, "sessions", cJSON_Duplicate(s, true));
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(parts[i].prov, "config");
        const cJSON *only = cJSON_GetObjectItemCaseSensitive(c, "only");
        if (cJSON_IsString(only))
            cJSON_AddStringToObject(e, "only", only->valuestring);
        cJSON_AddItemToArray(from, e);
        /* the union of the backends */
        const cJSON *b;
        cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(c, "backends")) {
            bool have = false;
            const cJSON *x;
            cJSON_ArrayForEach(x, backends) have = have || cJSON_Compare(x, b, true);
            if (!have && cJSON_IsArray(backends))
                cJSON_AddItemToArray(backends, cJSON_Duplicate(b, true));
        }
    }
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(prov, "config");
    if (cfg)
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, "only", cJSON_CreateNull());
    cJSON_AddBoolToObject(prov, "merged_with_force", m->force);
    char prov_path[PATH_MAX + 32];
    snprintf(prov_path, sizeof prov_path, "%s/provenance.json", m->out);
    if (pm_write_json_file(prov_path, prov))
        pm_run_error("merge: cannot write '%s'", prov_path);
}

/* The summary on stdout and in summary.md. */
static void write_summary(struct merge_cmd *m)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(m->prov, "config");
    const cJSON *bl = cJSON_GetObjectItemCaseSensitive(cfg, "baseline");
    struct pm_summary s;
    if (pm_summary_build(m->all, m->n, cJSON_IsString(bl) ? bl->valuestring : NULL, &s))
        pm_run_error("merge: out of memory");
    pm_summary_print(stdout, &s, false);
    char md[PATH_MAX + 32];
    snprintf(md, sizeof md, "%s/summary.md", m->out);
    if (pm_summary_write_md(md, &s, m->prov))
        pm_run_error("merge: cannot write '%s'", md);
    printf("\nmerged %zu records from %d folders into %s\n", m->n, m->nparts, m->out);
    pm_summary_free(&s);
}

int cmd_merge(int argc, char **argv)
{
    struct merge_cmd m = {0};
    parse_options(&m, argc, argv);
    check_input(&m);            /* exit 2 before anything is written */
    write_records(&m);
    write_provenance(&m);
    write_summary(&m);
    cJSON_Delete(m.prov);
    free(m.all);
    for (int i = 0; i < m.nparts; i++) {
        cJSON_Delete(m.parts[i].prov);
        free(m.parts[i].rows);
    }
    free(m.parts);
    return PM_EXIT_OK;
}
