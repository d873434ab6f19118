/* harness/cli/cmd_plot.c — `pymemlab plot DIR [--scripts DIR]`: draws a results
 * folder's plots with gnuplot, PNG and SVG, into DIR/plots/:
 *
 *   throughput.*          ns/op per workload relative to the baseline: a
 *                         point per backend with the ratio's 95% interval,
 *                         hollow where it is not distinguishable from the
 *                         baseline (log axis: points, never bars)
 *   geomean.*             per backend the geometric mean of those ratios
 *                         over the workloads, bootstrap 95% interval
 *   footprint.*           peak footprint per workload, min-max of the
 *                         runs (peak live marked)
 *   frag4.*, retention.*  heat maps: workload x backend
 *   latency.*             per-call latency: p50 marker, p99 tick, line to
 *                         p99.9, x at the max; a 0 (below the timer's
 *                         step) drawn on a "< resolution" row
 *   memory-WORKLOAD.*     footprint over time, one line per backend (its
 *                         own dash and markers; a line identical to an
 *                         earlier one within 1% says "(≈other)"), the live bytes,
 *                         and the workload's phase marks as vertical lines
 *
 * Backends without memory figures (PM_BACKEND_NO_MEMORY: null, debug:null)
 * are left out of every memory figure. Every figure carries the stamp of
 * figures.h (commit, date, load) and the sampling rate the runs used.
 *
 * This file writes the figures' data (DIR/plots/data/) from results.jsonl
 * (the summary over reps, results.h) and runs the gnuplot scripts of
 * scripts/plots/ (--scripts, else $PYMEMLAB_PLOT_SCRIPTS, else the source
 * tree's), which do all the drawing. gnuplot missing: exit 2 with one line.
 */
#include "cli.h"
#include "opts.h"
#include "figures.h"
#include "paths.h"
#include "pm_build_info.h"
#include "results.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct plot {
    const char *dir;
    char data[PATH_MAX];        /* DIR/plots/data */
    char plots[PATH_MAX];       /* DIR/plots */
    char scripts[PATH_MAX];
    const char *gnuplot;
    struct pm_summary s;
    char baseline_note[256];    /* which baseline each workload used */
    unsigned reps;
    double range[3][2];         /* throughput, footprint, geomean: least and largest value drawn */
    size_t mem[256], nmem;      /* the backends with memory figures (not null), indices */
    char stamp[256];            /* commit, date, load (figures.h) */
    unsigned lat_every;         /* latency sampling: one call in lat_every */
    unsigned ratios;            /* backends with a geometric mean (0: no baseline ran) */
    double lat_res;             /* the smallest non-zero latency figure (ns) */
};

static bool have_exe(const char *name, char *out, size_t len)
{
    if (strchr(name, '/')) {
        snprintf(out, len, "%s", name);
        return access(name, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t l = strcspn(path, ":");
        snprintf(out, len, "%.*s/%s", (int)l, path, name);
        if (l && access(out, X_OK) == 0)
            return true;
        path += l;
        if (*path == ':')
            path++;
    }
    return false;
}

static FILE *data_open(const struct plot *p, const char *name)
{
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", p->data, name);
    FILE *f = fopen(path, "w");
    if (!f)
        pm_run_error("plot: cannot write '%s': %s", path, strerror(errno));
    return f;
}

static void data_close(FILE *f, const char *name)
{
    if (fclose(f))
        pm_run_error("plot: cannot write '%s'", name);
}

static void num(FILE *f, double v, double scale)
{
    if (isfinite(v))
        fprintf(f, " %.6g", v / scale);
    else
        fprintf(f, " ?");
}

/* Positions within a workload's cluster: backend slot k of m at x = w + off. */
static double slot(size_t w, size_t k, size_t m)
{
    return (double)w - 0.4 + 0.8 * ((double)k + 0.5) / (double)(m ? m : 1);
}

static void widen(double range[2], double lo, double hi)
{
    if (isfinite(lo) && lo > 0 && lo < range[0])
        range[0] = lo;
    if (isfinite(hi) && hi > 0 && hi > range[1])
        range[1] = hi;
}

/* Throughput: one data block per backend (gnuplot `index b`), one row per
 * workload it ran: x, ratio to the baseline (median), its 95% interval,
 * distinct (1: faster or slower; 0: not distinguishable, or the baseline
 * itself), workload. */
static void write_throughput(struct plot *p)
{
    double *range = p->range[0];
    range[0] = INFINITY;
    range[1] = -INFINITY;
    FILE *f = data_open(p, "throughput.dat");
    fprintf(f, "# x ratio lo hi distinct workload (one block per backend, in BACKENDS order)\n");
    for (size_t b = 0; b < p->s.nbackends; b++) {
        fprintf(f, "# %s\n", p->s.backends[b]);
        /* a block without rows would merge with the next: gnuplot's index
         * counts blocks between pairs of blank lines. One row off the x
         * range keeps it. */
        fprintf(f, "-99 1 1 1 0 -\n");
        for (size_t w = 0; w < p->s.nworkloads; w++) {
            const struct pm_agg *a = pm_summary_get(&p->s, p->s.workloads[w], p->s.backends[b]);
            if (!a || !isfinite(a->ratio_ci.med))
                continue;
            double lo = isfinite(a->ratio_ci.lo) ? a->ratio_ci.lo : a->ratio_ci.med;
            double hi = isfinite(a->ratio_ci.hi) ? a->ratio_ci.hi : a->ratio_ci.med;
            bool distinct = !a->is_baseline && !a->indistinct && a->ns_ci.n >= 2;
            fprintf(f, "%.4f %.6g %.6g %.6g %d %s\n", slot(w, b, p->s.nbackends), a->ratio_ci.med, lo, hi,
                    distinct, p->s.workloads[w]);
            widen(range, lo, hi);
        }
        fprintf(f, "\n\n");
    }
    data_close(f, "throughput.dat");
}

/* Footprint: one block per backend with memory figures (MEM_BACKENDS):
 * x, median MiB, min, max, workload; then a last block: the workloads'
 * peak live bytes, x, MiB. */
static void write_footprint(struct plot *p)
{
    double *range = p->range[1];
    range[0] = INFINITY;
    range[1] = -INFINITY;
    FILE *f = data_open(p, "footprint.dat");
    fprintf(f, "# x median_MiB min max workload (one block per backend in MEM_BACKENDS, then peak live)\n");
    const double mib = 1048576.0;
    for (size_t k = 0; k < p->nmem; k++) {
        size_t b = p->mem[k];
        fprintf(f, "# %s\n-99 1 1 1 -\n", p->s.backends[b]);    /* off the x range: see write_throughput */
        for (size_t w = 0; w < p->s.nworkloads; w++) {
            const struct pm_agg *a = pm_summary_get(&p->s, p->s.workloads[w], p->s.backends[b]);
            const struct pm_stat *st = a ? &a->m[PM_AG_PEAK_FP] : NULL;
            if (!st || !st->n || !(st->med > 0))
                continue;
            fprintf(f, "%.4f %.6g %.6g %.6g %s\n", slot(w, k, p->nmem), st->med / mib, st->min / mib,
                    st->max / mib, p->s.workloads[w]);
            widen(range, st->min / mib, st->max / mib);
        }
        fprintf(f, "\n\n");
    }
    fprintf(f, "# peak live bytes\n-99 1\n");
    for (size_t w = 0; w < p->s.nworkloads; w++) {
        double live = NAN;
        for (size_t b = 0; b < p->s.nbackends && !isfinite(live); b++) {
            const struct pm_agg *a = pm_summary_get(&p->s, p->s.workloads[w], p->s.backends[b]);
            if (a && a->m[PM_AG_PEAK_LIVE].n)
                live = a->m[PM_AG_PEAK_LIVE].med;
        }
        if (live > 0) {
            fprintf(f, "%zu %.6g\n", w, live / mib);
            widen(range, live / mib, live / mib);
        }
    }
    fprintf(f, "\n\n");
    data_close(f, "footprint.dat");
}

/* Heat map cells "x y value label textcolor" (x backend among MEM_BACKENDS,
 * y workload from the top); a cell without runs has value "?" and label
 * "n/a". `dark`: the value above which the cell is dark enough for white
 * text. */
static void write_heat(const struct plot *p, const char *name, int metric, double dark)
{
    char file[64];
    snprintf(file, sizeof file, "%s.dat", name);
    FILE *f = data_open(p, file);
    fprintf(f, "# backend_index workload_index %s label textcolor\n", name);
    size_t nw = p->s.nworkloads;
    for (size_t w = 0; w < nw; w++) {
        for (size_t k = 0; k < p->nmem; k++) {
            const struct pm_agg *a = pm_summary_get(&p->s, p->s.workloads[w], p->s.backends[p->mem[k]]);
            double v = a && a->m[metric].n ? a->m[metric].med : NAN;
            fprintf(f, "%zu %zu", k, nw - 1 - w);
            num(f, v, 1);
            if (isfinite(v))
                fprintf(f, " %.2f %d\n", v, v > dark ? 0xffffff : 0);
            else
                fprintf(f, " n/a %d\n", 0x888888);
        }
    }
    data_close(f, file);
}

/* a gnuplot string literal's body: " and \ escaped */
static void gp_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

static void write_tics(const struct plot *p)
{
    FILE *f = data_open(p, "tics.gp");
    fprintf(f, "# generated by pymemlab plot: tic labels, counts, the stamp\n");
    fprintf(f, "NB = %zu\nNW = %zu\nNBM = %zu\nREPS = %u\n", p->s.nbackends, p->s.nworkloads, p->nmem, p->reps);
    fprintf(f, "HEAT_XTICS = \"set xtics (");
    for (size_t k = 0; k < p->nmem; k++)
        fprintf(f, "%s\\\"%s\\\" %zu", k ? ", " : "", p->s.backends[p->mem[k]], k);
    fprintf(f, ")\"\nHEAT_YTICS = \"set ytics (");
    for (size_t w = 0; w < p->s.nworkloads; w++)
        fprintf(f, "%s\\\"%s\\\" %zu", w ? ", " : "", p->s.workloads[w], p->s.nworkloads - 1 - w);
    fprintf(f, ")\"\nWL_XTICS = \"set xtics (");
    for (size_t w = 0; w < p->s.nworkloads; w++)
        fprintf(f, "%s\\\"%s\\\" %zu", w ? ", " : "", p->s.workloads[w], w);
    fprintf(f, ")\"\nBACKENDS = \"");
    for (size_t b = 0; b < p->s.nbackends; b++)
        fprintf(f, "%s%s", b ? " " : "", p->s.backends[b]);
    fprintf(f, "\"\nMEM_BACKENDS = \"");
    for (size_t k = 0; k < p->nmem; k++)
        fprintf(f, "%s%s", k ? " " : "", p->s.backends[p->mem[k]]);
    fprintf(f, "\"\nMEM_LT = \"");
    for (size_t k = 0; k < p->nmem; k++)
        fprintf(f, "%s%zu", k ? " " : "", p->mem[k] + 1);
    fprintf(f, "\"\nNOMEM_NOTE = \"");
    bool any = false;
    for (size_t b = 0; b < p->s.nbackends; b++)
        if (!pm_fig_has_memory(p->s.backends[b])) {
            fprintf(f, "%s%s", any ? ", " : "not shown (no memory figures): ", p->s.backends[b]);
            any = true;
        }
    fprintf(f, "\"\nBASELINE_NOTE = \"");
    gp_str(f, p->baseline_note);
    fprintf(f, "\"\nSTAMP = \"");
    gp_str(f, p->stamp);
    fprintf(f, "\"\nLAT_EVERY = %u\nLAT_RES = %.6g\nRATIOS = %u\n", p->lat_every, p->lat_res, p->ratios);
    /* log axes: a little room below and above what is drawn */
    for (int i = 0; i < 3; i++) {
        double lo = p->range[i][0], hi = p->range[i][1];
        if (!(lo > 0) || !isfinite(hi) || hi < lo) {
            lo = i == 1 ? 0.1 : 0.5;
            hi = i == 1 ? 10 : 2;
        }
        if (i != 1) {   /* ratios: 1 always in view */
            lo = fmin(lo, 1);
            hi = fmax(hi, 1);
        }
        static const char *const nm[] = {"THR", "FP", "GEO"};
        fprintf(f, "%s_YMIN = %.6g\n%s_YMAX = %.6g\n", nm[i], lo / 1.3, nm[i], hi * 1.3);
    }
    data_close(f, "tics.gp");
}

/* A latency value on the log axis: 0 (below the timer's step after its
 * floor is subtracted) goes to the "< resolution" row at LAT_RES / 2. */
static void lat_num(FILE *f, double v, double res)
{
    if (!isfinite(v))
        fprintf(f, " ?");
    else
        fprintf(f, " %.6g", v > 0 ? v : res / 2);
}

/* Latency: one block per backend, one row per workload: x, p50, p99,
 * p99.9, max (ns, medians over reps; 0 drawn at LAT_RES / 2), workload. */
static void write_latency(struct plot *p)
{
    /* the resolution: the smallest non-zero percentile of any run (the
     * timer's step, 10 ns on the reference machine) */
    double res = INFINITY;
    for (size_t i = 0; i < p->s.n; i++)
        for (int m = PM_AG_LAT_P50; m <= PM_AG_LAT_P999; m++) {
            const struct pm_stat *st = &p->s.rows[i].m[m];
            if (st->n && st->min > 0 && st->min < res)
                res = st->min;
        }
    p->lat_res = isfinite(res) ? res : 10;
    FILE *f = data_open(p, "latency.dat");
    fprintf(f, "# x p50 p99 p999 max workload (ns, medians over reps; one block per backend; 0 shown as %.3g)\n",
            p->lat_res / 2);
    for (size_t b = 0; b < p->s.nbackends; b++) {
        fprintf(f, "# %s\n-99 1 1 1 1 -\n", p->s.backends[b]);  /* off the x range: see write_throughput */
        for (size_t w = 0; w < p->s.nworkloads; w++) {
            const struct pm_agg *a = pm_summary_get(&p->s, p->s.workloads[w], p->s.backends[b]);
            if (!a || !a->m[PM_AG_LAT_P50].n)
                continue;
            fprintf(f, "%.4f", slot(w, b, p->s.nbackends));
            lat_num(f, a->m[PM_AG_LAT_P50].med, p->lat_res);
            lat_num(f, a->m[PM_AG_LAT_P99].med, p->lat_res);
            lat_num(f, a->m[PM_AG_LAT_P999].med, p->lat_res);
            lat_num(f, a->m[PM_AG_LAT_MAX].med, p->lat_res);
            fprintf(f, " %s\n", p->s.workloads[w]);
        }
        fprintf(f, "\n\n");
    }
    data_close(f, "latency.dat");
}

/* Geometric means: one row per backend: index, mean, lo, hi, distinct,
 * workloads in the mean, backend. */
static void write_geomean(struct plot *p, const struct pm_result *rows, size_t n)
{
    struct pm_geo *g = calloc(p->s.nbackends ? p->s.nbackends : 1, sizeof *g);
    if (!g || pm_geomeans(rows, n, &p->s, g))
        pm_run_error("plot: out of memory");
    double *range = p->range[2];
    range[0] = INFINITY;
    range[1] = -INFINITY;
    FILE *f = data_open(p, "geomean.dat");
    fprintf(f, "# backend_index geomean lo hi distinct workloads backend\n");
    fprintf(f, "-99 1 1 1 0 0 -\n");   /* off the x range: a file without rows makes gnuplot warn */
    for (size_t b = 0; b < p->s.nbackends; b++) {
        if (!g[b].ci.n || !isfinite(g[b].ci.med))
            continue;
        p->ratios++;
        double lo = isfinite(g[b].ci.lo) ? g[b].ci.lo : g[b].ci.med;
        double hi = isfinite(g[b].ci.hi) ? g[b].ci.hi : g[b].ci.med;
        fprintf(f, "%zu %.6g %.6g %.6g %d %zu %s\n", b, g[b].ci.med, lo, hi, !g[b].indistinct, g[b].ci.n,
                p->s.backends[b]);
        widen(range, lo, hi);
    }
    data_close(f, "geomean.dat");
    free(g);
}

static int run_gnuplot(const struct plot *p, const char *script, const char *const *args, int nargs)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", p->scripts, script);
    if (access(path, R_OK))
        pm_usage_error("plot: no gnuplot script '%s' (--scripts DIR points at scripts/plots)", path);
    const char *argv[16];
    int n = 0;
    argv[n++] = p->gnuplot;
    argv[n++] = "-c";
    argv[n++] = path;
    for (int i = 0; i < nargs && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        pm_run_error("plot: fork: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(p->data))
            _exit(127);
        execv(p->gnuplot, (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "pymemlab: plot: gnuplot failed on %s\n", script);
        return -1;
    }
    return 0;
}

/* A series CSV's footprint column (op,live_bytes,footprint_bytes,...):
 * malloc'd, *n values; NULL if unreadable. */
static double *series_fp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    double *v = NULL;
    size_t cap = 0;
    *n = 0;
    char line[1024];
    if (!fgets(line, sizeof line, f)) {     /* the header */
        fclose(f);
        return NULL;
    }
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ',');
        c = c ? strchr(c + 1, ',') : NULL;
        if (!c)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            double *nv = realloc(v, cap * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
        v[(*n)++] = strtod(c + 1, NULL);
    }
    fclose(f);
    return v;
}

/* Whether two footprint series are the same within 1% of the larger peak
 * throughout (one line would hide the other). */
static bool series_same(const double *a, size_t na, const double *b, size_t nb)
{
    if (!a || !b || na != nb || !na)
        return false;
    double peak = 0;
    for (size_t i = 0; i < na; i++)
        peak = fmax(peak, fmax(a[i], b[i]));
    for (size_t i = 0; i < na; i++)
        if (fabs(a[i] - b[i]) > 0.01 * peak)
            return false;
    return true;
}

/* The phase marks of a series (column 5, "phase:NAME") as gnuplot
 * commands: a vertical line and a label each, into DIR/plots/data/FILE. */
static void write_marks(const struct plot *p, const char *series, const char *file)
{
    FILE *out = data_open(p, file);
    const char *base = strrchr(series, '/');
    fprintf(out, "# phase marks of %s\n", base ? base + 1 : series);
    FILE *f = fopen(series, "r");
    char line[1024];
    int k = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *c = line;
        for (int i = 0; i < 4 && c; i++) {
            c = strchr(c, ',');
            if (c)
                c++;
        }
        if (!c || strncmp(c, "phase:", 6))
            continue;
        c[strcspn(c, "\r\n")] = 0;
        double op = strtod(line, NULL);
        k++;
        fprintf(out, "set arrow %d from first %.6g, graph 0 to first %.6g, graph 1 nohead dt 3 lw 1 lc rgb \"#777777\" back\n",
                100 + k, op / 1e6, op / 1e6);
        fprintf(out, "set label %d \"", 100 + k);
        gp_str(out, c + 6);
        fprintf(out, "\" at first %.6g, graph %.3f left offset 0.3,0 font \",9\" tc rgb \"#555555\" front\n", op / 1e6,
                0.97 - 0.04 * (k % 3));
    }
    if (f)
        fclose(f);
    fprintf(out, "MARKS = %d\n", k);
    data_close(out, file);
}

/* The series of the first ok rep of each backend on a workload. */
static void plot_memory(struct plot *p, const struct pm_result *rows, size_t n, const char *workload,
                        int *failed, int *made)
{
    char files[8192] = "", titles[4096] = "", colors[512] = "", every[512] = "";
    size_t fu = 0, tu = 0, cu = 0, eu = 0;
    int count = 0;
    char paths[64][PATH_MAX + 600];
    size_t bidx[64];
    for (size_t b = 0; b < p->s.nbackends && count < 64; b++) {
        /* null's footprint is its ring, whatever the workload: left out */
        if (!pm_fig_has_memory(p->s.backends[b]))
            continue;
        const struct pm_result *pick = NULL;
        for (size_t i = 0; i < n && !pick; i++)
            if (!strcmp(rows[i].workload, workload) && !strcmp(rows[i].backend, p->s.backends[b]) &&
                !strcmp(rows[i].status, "ok") && rows[i].series[0]) {
                char path[PATH_MAX + 600];
                snprintf(path, sizeof path, "%s/%s", p->dir, rows[i].series);
                if (access(path, R_OK) == 0)
                    pick = &rows[i];
            }
        if (!pick)
            continue;
        char *abs = paths[count];
        if (p->dir[0] == '/')
            snprintf(abs, sizeof paths[0], "%s/%s", p->dir, pick->series);
        else {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof cwd))
                continue;
            snprintf(abs, sizeof paths[0], "%.2000s/%.1000s/%.500s", cwd, p->dir, pick->series);
        }
        if (strchr(abs, ' '))
            pm_usage_error("plot: series path '%s' has a space (gnuplot's word lists cannot hold it)", abs);
        bidx[count++] = b;
    }
    if (!count)
        return;
    /* the footprint columns: a line the same as an earlier one says so */
    double *fp[64];
    size_t nfp[64];
    for (int i = 0; i < count; i++)
        fp[i] = series_fp(paths[i], &nfp[i]);
    size_t longest = 1;
    for (int i = 0; i < count; i++)
        longest = nfp[i] > longest ? nfp[i] : longest;
    /* markers: about 12 per line, each backend's shifted so none sits on another's */
    size_t step = longest / 12 ? longest / 12 : 1;
    for (int i = 0; i < count; i++) {
        const char *b = p->s.backends[bidx[i]];
        fu += (size_t)snprintf(files + fu, sizeof files - fu, "%s%s", i ? " " : "", paths[i]);
        int same = -1;
        for (int j = 0; j < i && same < 0; j++)
            if (series_same(fp[i], nfp[i], fp[j], nfp[j]))
                same = j;
        if (same >= 0)
            tu += (size_t)snprintf(titles + tu, sizeof titles - tu, "%s%s(≈%s)", i ? " " : "", b,
                                   p->s.backends[bidx[same]]);
        else
            tu += (size_t)snprintf(titles + tu, sizeof titles - tu, "%s%s", i ? " " : "", b);
        cu += (size_t)snprintf(colors + cu, sizeof colors - cu, "%s%zu", i ? " " : "", bidx[i] + 1);
        eu += (size_t)snprintf(every + eu, sizeof every - eu, "%s%zu:%zu", i ? " " : "", step,
                               1 + step * (size_t)i / (size_t)count);
        if (fu >= sizeof files - 1 || tu >= sizeof titles - 1 || cu >= sizeof colors - 1 || eu >= sizeof every - 1)
            pm_run_error("plot: %s: too many series for one figure", workload);
    }
    for (int i = 0; i < count; i++)
        free(fp[i]);
    char marks[128];
    snprintf(marks, sizeof marks, "marks-%.100s.gp", workload);
    write_marks(p, paths[0], marks);
    char out[PATH_MAX + 64];
    snprintf(out, sizeof out, "%s/memory-%s", p->plots, workload);
    const char *args[] = {out, workload, files, titles, colors, every, marks};
    if (run_gnuplot(p, "memory.gp", args, 7))
        (*failed)++;
    else
        (*made)++;
}

static const struct pm_cli_opt plot_opts[] = {
    PM_CLI_OPT("scripts", 's', PM_CLI_DIR, "DIR", "the installed plot scripts",
               "read the gnuplot scripts (*.gp) from DIR"),
    {0},
};

const struct pm_cli_spec pm_spec_plot = {
    .name = "plot", .args = "DIR", .opts = plot_opts,
    .summary = "draw a results folder's plots (gnuplot): DIR/plots/*.png and *.svg",
};

/* p->baseline_note: "cpython", or "cpython (x: system, y: none)" where
 * workloads differ. */
static void baseline_note(struct plot *p)
{
    const char *first = NULL;
    size_t used = 0;
    bool mixed = false;
    for (size_t w = 0; w < p->s.nworkloads; w++) {
        const char *b = pm_summary_baseline_for(&p->s, p->s.workloads[w]);
        if (!b)
            b = p->s.baseline[0] ? p->s.baseline : "none";
        if (!first)
            first = b;
        else if (strcmp(first, b))
            mixed = true;
    }
    used = (size_t)snprintf(p->baseline_note, sizeof p->baseline_note, "%s", first ? first : "none");
    if (mixed) {
        used += (size_t)snprintf(p->baseline_note + used, sizeof p->baseline_note - used, " (");
        bool any = false;
        for (size_t w = 0; w < p->s.nworkloads && used < sizeof p->baseline_note; w++) {
            const char *b = pm_summary_baseline_for(&p->s, p->s.workloads[w]);
            if (b && !strcmp(b, first))
                continue;
            used += (size_t)snprintf(p->baseline_note + used, sizeof p->baseline_note - used,
                                     "%s%s: %s", any ? ", " : "", p->s.workloads[w], b ? b : "none");
            any = true;
        }
        if (used < sizeof p->baseline_note)
            snprintf(p->baseline_note + used, sizeof p->baseline_note - used, ")");
    }
}

int cmd_plot(int argc, char **argv)
{
    struct plot p = {0};
    const char *scripts = NULL;
    struct pm_cli_val v;
    int ch;
    while ((ch = pm_cli_getopt(&pm_spec_plot, argc, argv, &v)) != -1)
        if (ch == 's')
            scripts = v.s;
    if (optind != argc - 1)
        pm_usage_error(optind >= argc ? "plot: a results folder DIR is required"
                                      : "plot: one DIR expected, got '%s'", argv[argc - 1]);
    p.dir = argv[optind];
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/results.jsonl", p.dir);
    if (access(path, R_OK))
        pm_usage_error("plot: %s is not a results folder (no results.jsonl)", p.dir);
    static char gp[PATH_MAX];
    const char *gname = getenv("PYMEMLAB_GNUPLOT");
    if (!have_exe(gname && *gname ? gname : "gnuplot", gp, sizeof gp))
        pm_usage_error("plot: gnuplot not found (install gnuplot-nox, or set PYMEMLAB_GNUPLOT)");
    p.gnuplot = gp;
    if (!scripts)
        scripts = pm_plot_scripts_dir();   /* $PYMEMLAB_PLOT_SCRIPTS, installed, or the source tree's */
    snprintf(p.scripts, sizeof p.scripts, "%s", scripts);
    if (p.scripts[0] != '/') {
        char cwd[PATH_MAX], rel[PATH_MAX];
        snprintf(rel, sizeof rel, "%s", p.scripts);
        if (getcwd(cwd, sizeof cwd))
            snprintf(p.scripts, sizeof p.scripts, "%.2000s/%.2000s", cwd, rel);
    }

    char err[PM_ERR_LEN];
    struct pm_result *rows;
    size_t n;
    long partial;
    if (pm_results_load(p.dir, &rows, &n, &partial, err))
        pm_usage_error("plot: %s", err);
    if (!n)
        pm_usage_error("plot: %s holds no results yet", p.dir);
    n = pm_results_latest(rows, n);
    snprintf(path, sizeof path, "%s/provenance.json", p.dir);
    cJSON *prov = pm_read_json_file(path, err);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(prov, "config");
    const cJSON *bl = cJSON_GetObjectItemCaseSensitive(cfg, "baseline");
    const cJSON *reps = cJSON_GetObjectItemCaseSensitive(cfg, "reps");
    p.reps = cJSON_IsNumber(reps) ? (unsigned)reps->valueint : 0;
    if (pm_summary_build(rows, n, cJSON_IsString(bl) && *bl->valuestring ? bl->valuestring : NULL, &p.s))
        pm_run_error("plot: out of memory");
    baseline_note(&p);
    snprintf(p.plots, sizeof p.plots, "%.4000s/plots", p.dir);
    snprintf(p.data, sizeof p.data, "%.4000s/plots/data", p.dir);
    if (pm_mkdir_p(p.data))
        pm_run_error("plot: cannot create '%s': %s", p.data, strerror(errno));
    char abs_plots[PATH_MAX];
    if (!realpath(p.plots, abs_plots))
        pm_run_error("plot: %s: %s", p.plots, strerror(errno));
    snprintf(p.plots, sizeof p.plots, "%s", abs_plots);

    for (size_t b = 0; b < p.s.nbackends; b++)
        if (pm_fig_has_memory(p.s.backends[b]) && p.nmem < sizeof p.mem / sizeof p.mem[0])
            p.mem[p.nmem++] = b;
    pm_fig_stamp(prov, p.stamp, sizeof p.stamp);
    p.lat_every = pm_fig_lat_every(prov, rows, n);
    write_throughput(&p);
    write_footprint(&p);
    write_latency(&p);
    write_geomean(&p, rows, n);
    write_tics(&p);
    write_heat(&p, "frag4", PM_AG_FRAG4, 0.9);
    write_heat(&p, "retention", PM_AG_RETENTION, 0.6);
    int failed = 0, made = 0;
    static const char *const figs[][2] = {{"throughput.gp", "throughput"},
                                           {"footprint.gp", "footprint"},
                                           {"heatmap.gp", "frag4"},
                                           {"heatmap.gp", "retention"},
                                           {"latency.gp", "latency"},
                                           {"geomean.gp", "geomean"}};
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++) {
        char out[PATH_MAX + 64];
        /* only null ran: no memory figures to draw */
        if (!p.nmem && (!strcmp(figs[i][1], "footprint") || !strcmp(figs[i][0], "heatmap.gp")))
            continue;
        snprintf(out, sizeof out, "%s/%s", p.plots, figs[i][1]);
        const char *args[] = {out, figs[i][1]};
        if (run_gnuplot(&p, figs[i][0], args, 2))
            failed++;
        else
            made++;
    }
    for (size_t w = 0; w < p.s.nworkloads; w++)
        plot_memory(&p, rows, n, p.s.workloads[w], &failed, &made);
    printf("%d plots (PNG and SVG) in %s%s\n", made, p.plots, failed ? "" : "");
    pm_summary_free(&p.s);
    cJSON_Delete(prov);
    free(rows);
    if (failed)
        pm_run_error("plot: %d plot(s) failed (gnuplot's messages above)", failed);
    return PM_EXIT_OK;
}
