/* harness/engine/results.c — suite result records, the results folder's files,
 * the summary over repetitions and the machine's provenance. See results.h.
 *
 * Entry points: pm_result_*, pm_results_load, pm_results_append,
 * pm_results_latest, pm_summary_*, pm_prov_machine, pm_prov_load1,
 * pm_read_json_file, pm_write_json_file, pm_mkdir_p.
 */
#include "results.h"
#include "fileio.h"
#include "latency.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

/* err[PM_ERR_LEN] = the message, clipped (a long path shortens it). */
__attribute__((format(printf, 2, 3)))
static void seterr(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, PM_ERR_LEN, fmt, ap);
    va_end(ap);
}

const struct pm_result_column pm_result_columns[] = {
#define PM_FIELD(name, type, unit, agg, json, desc) \
    {#name, PM_RESULT_TYPECHAR_##type, offsetof(struct pm_result, name), unit, PM_AGG_INDEX_##agg, json, desc},
#include "result_fields.def"
#undef PM_FIELD
    {NULL, 0, 0, NULL, -1, 0, NULL},
};

#define COL_STR(r, c) ((char *)(r) + (c)->offset)
#define COL_U64(r, c) ((uint64_t *)(void *)((char *)(r) + (c)->offset))
#define COL_DBL(r, c) ((double *)(void *)((char *)(r) + (c)->offset))

void pm_result_init(struct pm_result *r)
{
    memset(r, 0, sizeof *r);
    for (const struct pm_result_column *c = pm_result_columns; c->name; c++) {
        if (c->type == 'U')
            *COL_U64(r, c) = PM_STAT_NA;
        else if (c->type == 'D')
            *COL_DBL(r, c) = NAN;
    }
}

void pm_result_set_from_json(struct pm_result *r, const cJSON *o, bool strings)
{
    for (const struct pm_result_column *c = pm_result_columns; c->name; c++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, c->name);
        if (!v || cJSON_IsNull(v))
            continue;           /* unknown: r keeps what it has */
        switch (c->type) {
        case 'S':
            if (strings && cJSON_IsString(v))
                snprintf(COL_STR(r, c), PM_RESULT_STR, "%s", v->valuestring);
            break;
        case 'U':
            if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1.8e19)
                *COL_U64(r, c) = (uint64_t)v->valuedouble;
            break;
        default:
            if (cJSON_IsNumber(v))
                *COL_DBL(r, c) = v->valuedouble;
            break;
        }
    }
}

/* Is column c in document doc, given the groups in `have`? */
static bool in_doc(const struct pm_result_column *c, const struct pm_result *r, unsigned doc,
                   unsigned have)
{
    if (!doc)
        return true;
    if (c->json & doc)
        return true;
    if (doc == PM_J_P && (c->json & have & (PM_J_P_TIMED | PM_J_P_MEASURED)))
        return true;
    return (c->json & PM_J_LAT) && r->lat_samples != PM_STAT_NA && r->lat_samples > 0;
}

int pm_result_json_add(cJSON *o, const struct pm_result *r, unsigned doc, unsigned have)
{
    for (const struct pm_result_column *c = pm_result_columns; c->name; c++) {
        if (!in_doc(c, r, doc, have))
            continue;
        cJSON *v;
        switch (c->type) {
        case 'S': {
            const char *s = COL_STR(r, c);
            v = *s ? cJSON_CreateString(s) : cJSON_CreateNull();
            break;
        }
        case 'U': {
            uint64_t u = *COL_U64(r, c);
            v = u == PM_STAT_NA ? cJSON_CreateNull() : cJSON_CreateNumber((double)u);
            break;
        }
        default: {
            double d = *COL_DBL(r, c);
            v = isfinite(d) ? cJSON_CreateNumber(d) : cJSON_CreateNull();
            break;
        }
        }
        if (!v || !cJSON_AddItemToObject(o, c->name, v)) {
            cJSON_Delete(v);
            return -1;
        }
    }
    return 0;
}

cJSON *pm_result_to_json(const struct pm_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o && pm_result_json_add(o, r, 0, 0)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- the derived figures ---- */

static double ratio_or_null(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : NAN;
}

void pm_result_derive(struct pm_result *r, const struct pm_mem_points *p)
{
    r->peak_live_bytes = p->peak_live;
    r->peak_footprint_bytes = p->peak_footprint;
    r->final_footprint_bytes = p->final_footprint;
    r->trimmed_footprint_bytes = p->trimmed_footprint;
    r->frag4 = ratio_or_null(p->peak_footprint, p->peak_live) - 1.0;
    r->frag3 = ratio_or_null(p->peak_footprint, p->live_at_peak_footprint) - 1.0;
    r->frag_at_peak_live = ratio_or_null(p->footprint_at_peak_live, p->live_at_peak_live) - 1.0;
    r->retention = ratio_or_null(p->final_footprint, p->peak_footprint);
    r->retention_trimmed = ratio_or_null(p->trimmed_footprint, p->peak_footprint);
}

void pm_result_no_memory(struct pm_result *r)
{
    r->peak_footprint_bytes = r->final_footprint_bytes = r->trimmed_footprint_bytes = PM_STAT_NA;
    r->backend_peak_mapped_bytes = PM_STAT_NA;
    r->frag4 = r->frag3 = r->frag_at_peak_live = r->retention = r->retention_trimmed = NAN;
}

void pm_result_set_latency(struct pm_result *r, const struct pm_lat_summary *s)
{
    if (!s->samples) {
        r->lat_samples = PM_STAT_NA;
        r->lat_p50_ns = r->lat_p99_ns = r->lat_p999_ns = r->lat_max_ns = r->lat_floor_ns = NAN;
        return;
    }
    r->lat_samples = s->samples;
    r->lat_p50_ns = s->p50_ns;
    r->lat_p99_ns = s->p99_ns;
    r->lat_p999_ns = s->p999_ns;
    r->lat_max_ns = s->max_ns;
    r->lat_floor_ns = s->floor_ns;
}

void pm_result_set_timing(struct pm_result *r, const double *ns_per_op, const double *minflt_per_op,
                          const double *majflt_per_op, size_t reps)
{
    r->ns_per_op = reps ? pm_median(ns_per_op, reps) : NAN;
    r->minflt_per_op = reps ? pm_median(minflt_per_op, reps) : NAN;
    r->majflt_per_op = reps ? pm_median(majflt_per_op, reps) : NAN;
}

/* A growable string. */
struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + len + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static char *sb_done(struct sbuf *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

/* RFC 4180: quoted when it holds a comma, a quote or a line break. */
static void csv_field(struct sbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        sb_str(b, s);
        return;
    }
    sb_str(b, "\"");
    for (const char *c = s; *c; c++) {
        if (*c == '"')
            sb_str(b, "\"");
        sb_add(b, c, 1);
    }
    sb_str(b, "\"");
}

char *pm_result_csv_header(void)
{
    struct sbuf b = {0};
    for (const struct pm_result_column *c = pm_result_columns; c->name; c++) {
        if (c != pm_result_columns)
            sb_str(&b, ",");
        sb_str(&b, c->name);
    }
    sb_str(&b, "\n");
    return sb_done(&b);
}

char *pm_result_csv_row(const struct pm_result *r)
{
    struct sbuf b = {0};
    char num[64];
    for (const struct pm_result_column *c = pm_result_columns; c->name; c++) {
        if (c != pm_result_columns)
            sb_str(&b, ",");
        switch (c->type) {
        case 'S':
            csv_field(&b, COL_STR(r, c));
            break;
        case 'U':
            if (*COL_U64(r, c) != PM_STAT_NA) {
                snprintf(num, sizeof num, "%llu", (unsigned long long)*COL_U64(r, c));
                sb_str(&b, num);
            }
            break;
        default:
            if (isfinite(*COL_DBL(r, c))) {
                snprintf(num, sizeof num, "%.9g", *COL_DBL(r, c));
                sb_str(&b, num);
            }
            break;
        }
    }
    sb_str(&b, "\n");
    return sb_done(&b);
}

/* ---- the files ---- */

int pm_results_append(int fd_jsonl, int fd_csv, const struct pm_result *r)
{
    cJSON *o = pm_result_to_json(r);
    char *js = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    char *csv = pm_result_csv_row(r);
    int rc = -1;
    if (js && csv) {
        size_t jl = strlen(js);
        char *line = malloc(jl + 2);
        if (line) {
            memcpy(line, js, jl);
            line[jl] = '\n';
            line[jl + 1] = 0;
            /* JSON first: it is what --resume reads */
            rc = pm_write_all(fd_jsonl, line, jl + 1) || fdatasync(fd_jsonl) ||
                 pm_write_all(fd_csv, csv, strlen(csv)) || fdatasync(fd_csv) ? -1 : 0;
            free(line);
        }
    }
    free(js);
    free(csv);
    return rc;
}

const char *const pm_result_v2_columns[] = {"time_mode", "minflt_per_op", "load1_start", "load1_end",
                                            "steal_pct", "busy_cpus", "own_cpus", "loaded", NULL};

/* The columns of format 1: every record has them. A column added later
 * (pm_result_v2_columns, issue 20's gc columns, anything appended to
 * result_fields.def since) may be absent from a record written before it:
 * loaded as null. Frozen: never add to this list. */
static const char *const v1_columns[] = {
    "workload", "kind", "backend", "rep", "status", "failure", "ops", "ns_per_op",
    "peak_live_bytes", "final_live_bytes", "peak_footprint_bytes", "final_footprint_bytes",
    "trimmed_footprint_bytes", "frag4", "frag3", "frag_at_peak_live", "retention",
    "retention_trimmed", "backend_peak_mapped_bytes", "gc_collections", "gc_collected",
    "gc_uncollectable", "gc_time_ns", "lat_samples", "lat_p50_ns", "lat_p99_ns", "lat_p999_ns",
    "lat_max_ns", "lat_floor_ns", "max_rss_bytes", "wall_s", "seed", "scale", "params", "series",
    "reason", NULL};

/* A column a results file may lack: any but format 1's. */
static bool is_v2_column(const char *name)
{
    for (const char *const *c = v1_columns; *c; c++)
        if (!strcmp(*c, name))
            return false;
    return true;
}

int pm_results_check_version(const char *dir, int *version, char err[PM_ERR_LEN])
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/provenance.json", dir);
    int v = 1;
    if (access(path, F_OK) == 0) {
        char e[PM_ERR_LEN];
        cJSON *p = pm_read_json_file(path, e);
        if (!p) {
            snprintf(err, PM_ERR_LEN, "%s", e);
            return -1;
        }
        const cJSON *rv = cJSON_GetObjectItemCaseSensitive(p, "results_version");
        if (cJSON_IsNumber(rv))
            v = rv->valueint;
        cJSON_Delete(p);
    }
    if (version)
        *version = v;
    if (v < 1 || v > PM_RESULTS_VERSION) {
        snprintf(err, PM_ERR_LEN, "%s: results format version %d; this pymemlab reads versions 1 to %d",
                 dir, v, PM_RESULTS_VERSION);
        return -1;
    }
    return 0;
}

/* NULL if every column of record o holds what its type allows (a string
 * of printable bytes or null; a count: an integer in 0..2^64 or null; a
 * figure: a finite number or null; workload, backend and status present,
 * rep >= 1), else the first column that does not, and why in *why. */
static const char *record_bad_column(const cJSON *o, const char **why)
{
    for (const struct pm_result_column *c = pm_result_columns; c->name; c++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, c->name);
        if (!v || cJSON_IsNull(v)) {
            if (!strcmp(c->name, "workload") || !strcmp(c->name, "backend") || !strcmp(c->name, "status") ||
                !strcmp(c->name, "rep")) {
                *why = "is null";
                if (v)
                    return c->name;
            }
            continue;
        }
        switch (c->type) {
        case 'S':
            if (!cJSON_IsString(v)) {
                *why = "is not a string";
                return c->name;
            }
            for (const unsigned char *s = (const unsigned char *)v->valuestring; *s; s++)
                if (*s < 0x20 || *s == 0x7f) {
                    *why = "holds a control byte";
                    return c->name;
                }
            if (strlen(v->valuestring) >= PM_RESULT_STR) {
                *why = "is too long";
                return c->name;
            }
            break;
        case 'U':
            if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 1.8e19) ||
                v->valuedouble != floor(v->valuedouble) || (!strcmp(c->name, "rep") && v->valuedouble < 1)) {
                *why = "is not a count";
                return c->name;
            }
            break;
        default:
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
                *why = "is not a finite number";
                return c->name;
            }
            break;
        }
    }
    return NULL;
}

int pm_results_load(const char *dir, struct pm_result **rows, size_t *n, long *partial_at,
                    char err[PM_ERR_LEN])
{
    char path[4096];
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    *rows = NULL;
    *n = 0;
    *partial_at = 0;
    if (pm_results_check_version(dir, NULL, err))
        return -1;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    uint64_t fsize;
    char ferr[PM_ERR_LEN];
    int fd = pm_file_open_read(path, UINT64_C(1) << 34, &fsize, ferr);  /* regular files only */
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        seterr(err, "%s", ferr);
        return -1;
    }
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    unsigned lineno = 0;
    long off = 0;
    int rc = 0;
    while ((len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        if (line[len - 1] != '\n')          /* cut short: dropped */
            break;
        off += len;
        if (len == 1)
            continue;
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
        const char *missing = NULL, *bad = NULL, *why = "";
        if (o && cJSON_IsObject(o)) {
            for (const struct pm_result_column *c = pm_result_columns; c->name && !missing; c++)
                if (!cJSON_GetObjectItemCaseSensitive(o, c->name) && !is_v2_column(c->name))
                    missing = c->name;
            if (!missing)
                bad = record_bad_column(o, &why);
        }
        if (!o || !cJSON_IsObject(o) || missing || bad) {
            if (missing)
                seterr(err, "%s:%u: not a result record (no key '%s')", path, lineno, missing);
            else if (bad)
                seterr(err, "%s:%u: not a result record ('%s' %s)", path, lineno, bad, why);
            else
                seterr(err, "%s:%u: not a JSON object", path, lineno);
            cJSON_Delete(o);
            rc = -1;
            break;
        }
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct pm_result *nr = realloc(*rows, nc * sizeof *nr);
            if (!nr) {
                cJSON_Delete(o);
                seterr(err, "%s: out of memory", path);
                rc = -1;
                break;
            }
            *rows = nr;
            cap = nc;
        }
        pm_result_init(&(*rows)[*n]);
        pm_result_set_from_json(&(*rows)[*n], o, true);
        (*n)++;
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    *partial_at = off;
    if (rc) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

static bool same_run(const struct pm_result *a, const struct pm_result *b)
{
    return a->rep == b->rep && !strcmp(a->workload, b->workload) && !strcmp(a->backend, b->backend);
}

size_t pm_results_latest(struct pm_result *rows, size_t n)
{
    /* O(n^2) over a few thousand records at most */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool later = false;
        for (size_t j = i + 1; j < n && !later; j++)
            later = same_run(&rows[i], &rows[j]);
        if (!later)
            rows[k++] = rows[i];
    }
    return k;
}

/* ---- the summary ---- */

static const struct {
    size_t offset;
    char type;
} agg_src[PM_AG_COUNT] = {
    [PM_AG_NS] = {offsetof(struct pm_result, ns_per_op), 'D'},
    [PM_AG_PEAK_FP] = {offsetof(struct pm_result, peak_footprint_bytes), 'U'},
    [PM_AG_PEAK_LIVE] = {offsetof(struct pm_result, peak_live_bytes), 'U'},
    [PM_AG_FINAL_FP] = {offsetof(struct pm_result, final_footprint_bytes), 'U'},
    [PM_AG_FRAG4] = {offsetof(struct pm_result, frag4), 'D'},
    [PM_AG_RETENTION] = {offsetof(struct pm_result, retention), 'D'},
    [PM_AG_RETENTION_TRIMMED] = {offsetof(struct pm_result, retention_trimmed), 'D'},
    [PM_AG_GC_NS] = {offsetof(struct pm_result, gc_time_ns), 'U'},
    [PM_AG_LAT_P50] = {offsetof(struct pm_result, lat_p50_ns), 'D'},
    [PM_AG_LAT_P99] = {offsetof(struct pm_result, lat_p99_ns), 'D'},
    [PM_AG_LAT_P999] = {offsetof(struct pm_result, lat_p999_ns), 'D'},
    [PM_AG_LAT_MAX] = {offsetof(struct pm_result, lat_max_ns), 'D'},
    [PM_AG_MAX_RSS] = {offsetof(struct pm_result, max_rss_bytes), 'U'},
};

static double metric_of(const struct pm_result *r, enum pm_agg_metric m)
{
    const char *p = (const char *)r + agg_src[m].offset;
    if (agg_src[m].type == 'U') {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        return v == PM_STAT_NA ? NAN : (double)v;
    }
    double d;
    memcpy(&d, p, sizeof d);
    return d;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static struct pm_stat stat_of(double *v, unsigned n)
{
    struct pm_stat s = {n, NAN, NAN, NAN};
    if (!n)
        return s;
    qsort(v, n, sizeof *v, cmp_double);
    s.min = v[0];
    s.max = v[n - 1];
    s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

/* Index of `name` in the list, appending it if new; -1 on OOM. */
static long intern(char ***list, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], name))
            return (long)i;
    char **nl = realloc(*list, (*n + 1) * sizeof *nl);
    if (!nl)
        return -1;
    *list = nl;
    if (!(nl[*n] = strdup(name)))
        return -1;
    return (long)(*n)++;
}

int pm_summary_build(const struct pm_result *in, size_t n, const char *baseline,
                     struct pm_summary *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->baseline, sizeof s->baseline, "%s", baseline ? baseline : "");
    struct pm_result *rows = malloc((n ? n : 1) * sizeof *rows);
    double *vals = malloc((n ? 2 * n : 2) * sizeof *vals);
    double *bvals = malloc((n ? n : 1) * sizeof *bvals);
    long *wi = malloc((n ? n : 1) * sizeof *wi), *bi = malloc((n ? n : 1) * sizeof *bi);
    int rc = -1;
    if (!rows || !vals || !bvals || !wi || !bi)
        goto out;
    memcpy(rows, in, n * sizeof *rows);
    n = pm_results_latest(rows, n);
    for (size_t i = 0; i < n; i++) {
        wi[i] = intern(&s->workloads, &s->nworkloads, rows[i].workload);
        bi[i] = intern(&s->backends, &s->nbackends, rows[i].backend);
        if (wi[i] < 0 || bi[i] < 0)
            goto out;
    }
    s->rows = calloc(s->nworkloads * s->nbackends + 1, sizeof *s->rows);
    if (!s->rows)
        goto out;
    for (size_t w = 0; w < s->nworkloads; w++) {
        for (size_t b = 0; b < s->nbackends; b++) {
            struct pm_agg a;
            memset(&a, 0, sizeof a);
            bool any = false;
            for (size_t i = 0; i < n; i++) {
                if ((size_t)wi[i] != w || (size_t)bi[i] != b)
                    continue;
                if (!any) {
                    snprintf(a.workload, sizeof a.workload, "%.63s", rows[i].workload);
                    snprintf(a.kind, sizeof a.kind, "%.7s", rows[i].kind);
                    snprintf(a.backend, sizeof a.backend, "%.127s", rows[i].backend);
                    any = true;
                }
                if (!strcmp(rows[i].status, "ok"))
                    a.ok++;
                else {
                    a.failed++;
                    snprintf(a.reason, sizeof a.reason, "%s", rows[i].reason);
                }
            }
            if (!any)
                continue;
            for (int m = 0; m < PM_AG_COUNT; m++) {
                unsigned k = 0;
                for (size_t i = 0; i < n; i++) {
                    if ((size_t)wi[i] != w || (size_t)bi[i] != b || strcmp(rows[i].status, "ok"))
                        continue;
                    double v = metric_of(&rows[i], (enum pm_agg_metric)m);
                    if (isfinite(v))
                        vals[k++] = v;
                }
                a.m[m] = stat_of(vals, k);
            }
            a.ratio = (struct pm_stat){0, NAN, NAN, NAN};
            a.ratio_ci = (struct pm_ci){0, NAN, NAN, NAN, NAN};
            unsigned k = 0, nflt = 0, ncold = 0, nwarm = 0;
            double *flt = vals + n;     /* second half of vals */
            for (size_t i = 0; i < n; i++) {
                if ((size_t)wi[i] != w || (size_t)bi[i] != b || strcmp(rows[i].status, "ok"))
                    continue;
                if (isfinite(rows[i].ns_per_op))
                    vals[k++] = rows[i].ns_per_op;
                if (isfinite(rows[i].minflt_per_op))
                    flt[nflt++] = rows[i].minflt_per_op;
                if (rows[i].loaded == 1)
                    a.loaded++;
                ncold += !strcmp(rows[i].time_mode, "cold");
                nwarm += !strcmp(rows[i].time_mode, "warm");
            }
            pm_ci_median(vals, k, &a.ns_ci);
            a.minflt_per_op = pm_median(flt, nflt);
            snprintf(a.time_mode, sizeof a.time_mode, "%s",
                     ncold && nwarm ? "mixed" : ncold ? "cold" : nwarm ? "warm" : "");
            s->rows[s->n++] = a;
        }
    }
    /* normalise to the baseline of each workload */
    for (size_t i = 0; i < s->n; i++) {
        struct pm_agg *a = &s->rows[i];
        const char *base = pm_summary_baseline_for(s, a->workload);
        const struct pm_agg *ba = base ? pm_summary_get(s, a->workload, base) : NULL;
        a->is_baseline = ba == a;
        if (!ba || !a->m[PM_AG_NS].n || !(ba->m[PM_AG_NS].med > 0))
            continue;
        double bm = ba->m[PM_AG_NS].med;
        a->ratio = (struct pm_stat){a->m[PM_AG_NS].n, a->m[PM_AG_NS].med / bm,
                                    a->m[PM_AG_NS].min / bm, a->m[PM_AG_NS].max / bm};
        /* the ratio's interval from the reps of both; overlapping ns/op
         * intervals: not distinguishable from the baseline */
        size_t na = 0, nb = 0;
        for (size_t k = 0; k < n; k++) {
            if (strcmp(rows[k].workload, a->workload) || strcmp(rows[k].status, "ok") ||
                !isfinite(rows[k].ns_per_op))
                continue;
            if (!strcmp(rows[k].backend, a->backend))
                vals[na++] = rows[k].ns_per_op;
            if (!strcmp(rows[k].backend, ba->backend))
                bvals[nb++] = rows[k].ns_per_op;
        }
        pm_ci_ratio(vals, na, bvals, nb, 0, &a->ratio_ci);
        a->indistinct = !a->is_baseline && pm_ci_overlap(&a->ns_ci, &ba->ns_ci);
    }
    rc = 0;
out:
    free(rows);
    free(vals);
    free(bvals);
    free(wi);
    free(bi);
    if (rc)
        pm_summary_free(s);
    return rc;
}

const struct pm_agg *pm_summary_get(const struct pm_summary *s, const char *workload,
                                    const char *backend)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->rows[i].workload, workload) && !strcmp(s->rows[i].backend, backend))
            return &s->rows[i];
    return NULL;
}

const char *pm_summary_baseline_for(const struct pm_summary *s, const char *workload)
{
    const char *cands[3] = {s->baseline[0] ? s->baseline : NULL, "cpython", "system"};
    for (int i = 0; i < 3; i++) {
        if (!cands[i])
            continue;
        const struct pm_agg *a = pm_summary_get(s, workload, cands[i]);
        if (a && a->m[PM_AG_NS].n)
            return cands[i];
        if (i == 0)             /* an explicit baseline is not replaced */
            return NULL;
    }
    /* neither: the first backend (in order of appearance) timed on it */
    for (size_t b = 0; b < s->nbackends; b++) {
        const struct pm_agg *a = pm_summary_get(s, workload, s->backends[b]);
        if (a && a->m[PM_AG_NS].n)
            return s->backends[b];
    }
    return NULL;
}

void pm_summary_free(struct pm_summary *s)
{
    for (size_t i = 0; i < s->nworkloads; i++)
        free(s->workloads[i]);
    for (size_t i = 0; i < s->nbackends; i++)
        free(s->backends[i]);
    free(s->workloads);
    free(s->backends);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

/* "med (min-max)" with a format for one value and a scale; "-" if none. */
static void fmt_stat(char *buf, size_t len, const struct pm_stat *st, const char *fmt,
                     double scale, bool markdown)
{
    if (!st->n || !isfinite(st->med)) {
        snprintf(buf, len, "-");
        return;
    }
    char a[32], b[32], c[32];
    snprintf(a, sizeof a, fmt, st->med / scale);
    if (st->n == 1) {
        snprintf(buf, len, "%s", a);
        return;
    }
    snprintf(b, sizeof b, fmt, st->min / scale);
    snprintf(c, sizeof c, fmt, st->max / scale);
    snprintf(buf, len, "%.24s (%.24s%s%.24s)", a, b, markdown ? "–" : "-", c);
}

static void fmt_one(char *buf, size_t len, const struct pm_stat *st, const char *fmt, double scale)
{
    if (!st->n || !isfinite(st->med))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, fmt, st->med / scale);
}

/* "med [lo, hi]" (with the interval's level when under 95%); "-" if none. */
static void fmt_ci(char *buf, size_t len, const struct pm_ci *ci, const char *fmt)
{
    if (!ci->n || !isfinite(ci->med)) {
        snprintf(buf, len, "-");
        return;
    }
    char a[32], b[32], c[32];
    snprintf(a, sizeof a, fmt, ci->med);
    if (ci->n == 1 || !isfinite(ci->lo)) {
        snprintf(buf, len, "%s", a);
        return;
    }
    snprintf(b, sizeof b, fmt, ci->lo);
    snprintf(c, sizeof c, fmt, ci->hi);
    if (isfinite(ci->level) && ci->level < PM_CI_LEVEL - 1e-9)
        snprintf(buf, len, "%.24s [%.24s, %.24s] %.0f%%", a, b, c, 100.0 * ci->level);
    else
        snprintf(buf, len, "%.24s [%.24s, %.24s]", a, b, c);
}

void pm_summary_print(FILE *f, const struct pm_summary *s, bool markdown)
{
    enum { NCOL = 13, CELL = 96 };
    static const char *head_txt[NCOL] = {"workload", "backend", "ok", "ns/op [95% CI]",
                                         "x base [95% CI]", "vs base", "faults/op",
                                         "peak footprint MiB", "frag4", "retention",
                                         "GC ms", "p99 ns", "loaded"};
    static const char *head_md[NCOL] = {"workload", "backend", "ok", "ns/op [95% CI]",
                                        "× baseline [95% CI]", "vs baseline", "faults/op",
                                        "peak footprint MiB", "frag4", "retention",
                                        "GC ms", "p99 ns", "loaded reps"};
    char (*cell)[NCOL][CELL] = calloc(s->n ? s->n : 1, sizeof *cell);
    if (!cell)
        return;
    int width[NCOL];
    for (int c = 0; c < NCOL; c++)
        width[c] = (int)strlen(head_txt[c]);
    const char *last_w = "";
    for (size_t i = 0; i < s->n; i++) {
        const struct pm_agg *a = &s->rows[i];
        char (*row)[CELL] = cell[i];
        /* the terminal shows a workload's name on its first row only */
        snprintf(row[0], CELL, "%.64s", strcmp(a->workload, last_w) || markdown ? a->workload : "");
        last_w = a->workload;
        snprintf(row[1], CELL, "%.80s%s", a->backend, a->is_baseline ? "*" : "");
        snprintf(row[2], CELL, "%u/%u", a->ok, a->ok + a->failed);
        fmt_ci(row[3], CELL, &a->ns_ci, "%.1f");
        fmt_ci(row[4], CELL, &a->ratio_ci, "%.2f");
        if (a->is_baseline)
            snprintf(row[5], CELL, "baseline");
        else if (!isfinite(a->ratio_ci.med) || a->ns_ci.n < 2)
            snprintf(row[5], CELL, "-");
        else if (a->indistinct)
            snprintf(row[5], CELL, "not distinguishable");
        else
            snprintf(row[5], CELL, "%s", a->ratio_ci.med < 1 ? "faster" : "slower");
        if (isfinite(a->minflt_per_op))
            snprintf(row[6], CELL, "%.4f", a->minflt_per_op);
        else
            snprintf(row[6], CELL, "-");
        fmt_stat(row[7], CELL, &a->m[PM_AG_PEAK_FP], "%.1f", 1048576.0, markdown);
        fmt_stat(row[8], CELL, &a->m[PM_AG_FRAG4], "%.3f", 1, markdown);
        fmt_stat(row[9], CELL, &a->m[PM_AG_RETENTION], "%.3f", 1, markdown);
        fmt_stat(row[10], CELL, &a->m[PM_AG_GC_NS], "%.1f", 1e6, markdown);
        fmt_one(row[11], CELL, &a->m[PM_AG_LAT_P99], "%.0f", 1);
        if (a->loaded)
            snprintf(row[12], CELL, "%u of %u", a->loaded, a->ok);
        else
            snprintf(row[12], CELL, "-");
        for (int c = 0; c < NCOL; c++)
            if ((int)strlen(row[c]) > width[c])
                width[c] = (int)strlen(row[c]);
    }
    if (markdown) {
        fputc('|', f);
        for (int c = 0; c < NCOL; c++)
            fprintf(f, " %s |", head_md[c]);
        fprintf(f, "\n|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
    } else {
        for (int c = 0; c < NCOL; c++)
            fprintf(f, "%s%*s", c ? "  " : "", c < 2 || c == 5 ? -width[c] : width[c], head_txt[c]);
        fputc('\n', f);
    }
    for (size_t i = 0; i < s->n; i++) {
        if (markdown) {
            fputc('|', f);
            for (int c = 0; c < NCOL; c++)
                fprintf(f, " %s |", cell[i][c]);
        } else {
            for (int c = 0; c < NCOL; c++)
                fprintf(f, "%s%*s", c ? "  " : "", c < 2 || c == 5 ? -width[c] : width[c], cell[i][c]);
        }
        fputc('\n', f);
    }
    free(cell);
    bool any_failed = false;
    for (size_t i = 0; i < s->n; i++)
        if (s->rows[i].failed) {
            if (!any_failed)
                fprintf(f, markdown ? "\nFailed runs (the last reason of each):\n\n"
                                    : "\nfailed runs (the last reason of each):\n");
            any_failed = true;
            fprintf(f, "%s%s on %s: %u of %u failed: %s\n", markdown ? "- " : "  ",
                    s->rows[i].workload, s->rows[i].backend, s->rows[i].failed,
                    s->rows[i].ok + s->rows[i].failed, s->rows[i].reason);
        }
}

static const char *jstr(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        x = cJSON_GetObjectItemCaseSensitive(x, b);
    return cJSON_IsString(x) ? x->valuestring : "?";
}

int pm_summary_write_md(const char *path, const struct pm_summary *s, const cJSON *prov)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(prov, "config");
    const cJSON *reps = cJSON_GetObjectItemCaseSensitive(cfg, "reps");
    const cJSON *merged = cJSON_GetObjectItemCaseSensitive(prov, "merged_from");
    const cJSON *dirty = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(prov, "pymemlab"), "dirty");
    fprintf(f, "# pymemlab results: suite %s\n\n", jstr(cfg, "suite", NULL));
    fprintf(f, "Commit %s%s, %s (%s), on %s; %d repetitions of each workload on each backend, "
               "each in its own process",
            jstr(prov, "pymemlab", "commit"), cJSON_IsTrue(dirty) ? " (with uncommitted changes)" : "",
            jstr(prov, "pymemlab", "compiler"), jstr(prov, "pymemlab", "build_type"),
            jstr(prov, "machine", "cpu_model"), cJSON_IsNumber(reps) ? reps->valueint : 0);
    if (cJSON_IsArray(merged))
        fprintf(f, "; merged from %d folders", cJSON_GetArraySize(merged));
    fprintf(f, ". Provenance (build flags, machine, load, the suite text): provenance.json.");
    /* the machine's load during the last session: timing figures depend on it */
    const cJSON *sess = cJSON_GetObjectItemCaseSensitive(prov, "sessions");
    const cJSON *last = cJSON_IsArray(sess) ? cJSON_GetArrayItem(sess, cJSON_GetArraySize(sess) - 1) : NULL;
    const cJSON *l0 = cJSON_GetObjectItemCaseSensitive(last, "load_start");
    const cJSON *lm = cJSON_GetObjectItemCaseSensitive(last, "load_max");
    const cJSON *cpus = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(prov, "machine"), "cpus");
    if (cJSON_IsNumber(l0) && cJSON_IsNumber(lm) && cJSON_IsNumber(cpus))
        fprintf(f, " Machine load during the run (1-minute load average, all processes): %.1f at "
                   "the start, up to %.1f, on %d CPUs.", l0->valuedouble, lm->valuedouble,
                cpus->valueint);
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(cfg, "time_mode");
    fprintf(f, "\n\n");
    fprintf(f, "Timing mode: **%s**. %s Repetitions run interleaved: every backend's rep r "
               "before any backend's rep r+1.\n\n",
            cJSON_IsString(mode) ? mode->valuestring : "not recorded (results format 1: taken before "
            "timing modes existed, when per-instance backends were timed cold and global ones warm)",
            cJSON_IsString(mode) && !strcmp(mode->valuestring, "warm")
                ? "Each timed rep ran in a fresh process that first replayed the workload once "
                  "untimed on the same instance, freed everything, then timed a second pass."
                : "Each timed rep ran in a fresh process, forked from a runner that never used "
                  "the backend: the backend's first touch of its memory is in the time, the same "
                  "for global and per-instance backends.");
    fprintf(f, "ns/op: median over the ok repetitions of wall time / allocator calls of a "
               "run without sampling, with its 95%% confidence interval from order statistics "
               "(distribution-free; with fewer than 6 reps no such interval reaches 95%% and "
               "its true level is printed after it). × baseline: median ns/op over the "
               "baseline's (marked *) on the same workload, with a bootstrap interval (2000 "
               "resamples). vs baseline: *not distinguishable* where the two ns/op intervals "
               "overlap; otherwise faster or slower. faults/op: minor page faults of the timed "
               "run per call (median). Memory figures come from one sampled run (rep 1; "
               "med (min–max) where several): peak footprint = max anonymous RSS above the "
               "run's baseline, the harness's own memory excluded; frag4 = max footprint / "
               "max live bytes − 1; retention = footprint at the end / peak footprint; `-` "
               "where not applicable (the null backend keeps no heap of a program's shape). "
               "GC ms: time in the cycle collector (py workloads). p99 ns: 99th percentile "
               "latency of one allocator call (sampled). loaded reps: reps during which other "
               "work kept more than 0.5 CPU busy beyond this suite's own runs, or CPU steal "
               "exceeded 5%% (from /proc/stat): their timings are not comparable with a quiet "
               "machine's. Definitions: docs/metrics.md.\n\n");
    pm_summary_print(f, s, true);
    return fclose(f) ? -1 : 0;
}

/* ---- provenance ---- */

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, len, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

double pm_prov_load1(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

void pm_prov_machine(cJSON *o)
{
    char buf[512];
    cpu_model(buf, sizeof buf);
    cJSON_AddStringToObject(o, "cpu_model", buf);
    cJSON_AddNumberToObject(o, "cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(buf, sizeof buf, "%s %s %s %s", u.sysname, u.release, u.version, u.machine);
        cJSON_AddStringToObject(o, "kernel", buf);
        cJSON_AddStringToObject(o, "hostname", u.nodename);
    }
    cJSON_AddStringToObject(o, "glibc", gnu_get_libc_version());
    struct sysinfo si;
    if (sysinfo(&si) == 0)
        cJSON_AddNumberToObject(o, "mem_total_bytes", (double)si.totalram * si.mem_unit);
    double l[3];
    if (getloadavg(l, 3) == 3) {
        cJSON *a = cJSON_AddArrayToObject(o, "loadavg");
        for (int i = 0; i < 3; i++)
            cJSON_AddItemToArray(a, cJSON_CreateNumber(l[i]));
    }
}

cJSON *pm_read_json_file(const char *path, char err[PM_ERR_LEN])
{
    size_t len;
    char ferr[PM_ERR_LEN];
    char *text = pm_file_read_all(path, UINT64_C(1) << 28, &len, ferr);  /* regular files only */
    if (!text) {
        seterr(err, "%s", ferr);
        return NULL;
    }
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    if (!o)
        seterr(err, "%s: not valid JSON", path);
    return o;
}

int pm_write_json_file(const char *path, const cJSON *o)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    char *s = cJSON_Print(o);
    if (!s)
        return -1;
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (f) {
        bool ok = fputs(s, f) >= 0 && fputc('\n', f) != EOF;
        ok = fflush(f) == 0 && ok && fsync(fileno(f)) == 0;
        ok = fclose(f) == 0 && ok;
        rc = ok && rename(tmp, path) == 0 ? 0 : -1;
        if (rc)
            remove(tmp);
    }
    free(s);
    return rc;
}

int pm_mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *c = buf + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = 0;
        if (mkdir(buf, 0777) && errno != EEXIST)
            return -1;
        *c = '/';
    }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(buf, &st) || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}
