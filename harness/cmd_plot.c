/* harness/cmd_plot.c — `pymemlab plot DIR [--scripts DIR]`: draws a results
 * folder's plots with gnuplot, PNG and SVG, into DIR/plots/:
 *
 *   throughput.*          ns/op per workload relative to the baseline, one
 *                         bar per backend, error bars the ratio's 95%
 *                         interval (a bar whose interval holds 1 is not
 *                         distinguishable from the baseline)
 *   footprint.*           peak footprint per workload (peak live marked)
 *   frag4.*, retention.*  heat maps: workload x backend
 *   latency.*             per-call latency: p50..p99 box, p99.9 whisker,
 *                         max point, per workload and backend
 *   memory-WORKLOAD.*     footprint over time, one line per backend (null
 *                         left out: its footprint is its ring), and the
 *                         live bytes (the same on every backend)
 *
 * This file writes the figures' data (DIR/plots/data/) from results.jsonl
 * (the summary over reps, results.h) and runs the gnuplot scripts of
 * scripts/plots/ (--scripts, else $PYMEMLAB_PLOT_SCRIPTS, else the source
 * tree's), which do all the drawing. gnuplot missing: exit 2 with one line.
 */
#include "cli.h"
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
    double range[2][2];         /* throughput, footprint: least and largest value drawn */
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
    char path[PATH_MAX + 64];
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

/* One row per workload: name, then per backend median, min, max of a
 * statistic (scaled). extra(): more columns at the end. */
static void write_bars(struct plot *p, const char *name, int metric, double scale,
                       bool ratio, bool live_col, double range[2])
{
    range[0] = INFINITY;
    range[1] = -INFINITY;
    FILE *f = data_open(p, name);
    fprintf(f, "workload");
    for (size_t b = 0; b < p->s.nbackends; b++)
        fprintf(f, " %s %s_min %s_max", p->s.backends[b], p->s.backends[b], p->s.backends[b]);
    if (live_col)
        fprintf(f, " peak_live");
    fputc('\n', f);
    for (size_t w = 0; w < p->s.nworkloads; w++) {
        fprintf(f, "%s", p->s.workloads[w]);
        double live = NAN;
        for (size_t b = 0; b < p->s.nbackends; b++) {
            const struct pm_agg *a = pm_summary_get(&p->s, p->s.workloads[w], p->s.backends[b]);
            /* the ratio: median and its 95% bootstrap interval (stats.h) */
            struct pm_stat rs = {0, NAN, NAN, NAN};
            if (a && ratio && isfinite(a->ratio_ci.med))
                rs = (struct pm_stat){(unsigned)a->ratio_ci.n, a->ratio_ci.med,
                                      isfinite(a->ratio_ci.lo) ? a->ratio_ci.lo : a->ratio_ci.med,
                                      isfinite(a->ratio_ci.hi) ? a->ratio_ci.hi : a->ratio_ci.med};
            const struct pm_stat *st = !a ? NULL : ratio ? &rs : &a->m[metric];
            if (st && st->n) {
                if (st->min / scale < range[0])
                    range[0] = st->min / scale;
                if (st->max / scale > range[1])
                    range[1] = st->max / scale;
                num(f, st->med, scale);
                num(f, st->min, scale);
                num(f, st->max, scale);
            } else {
                fprintf(f, " ? ? ?");
            }
            if (a && a->m[PM_AG_PEAK_LIVE].n && !isfinite(live))
                live = a->m[PM_AG_PEAK_LIVE].med;
        }
        if (live_col) {
            num(f, live, scale);
            if (live / scale < range[0])
                range[0] = live / scale;
            if (live / scale > range[1])
                range[1] = live / scale;
        }
        fputc('\n', f);
    }
    data_close(f, name);
}

/* Heat map cells "x y value label textcolor" (x backend, y workload from
 * the top); a cell without runs has value "?" and label "n/a". `dark`:
 * the value above which the cell is dark enough for white text. */
static void write_heat(const struct plot *p, const char *name, int metric, double dark)
{
    char file[64];
    snprintf(file, sizeof file, "%s.dat", name);
    FILE *f = data_open(p, file);
    fprintf(f, "# backend_index workload_index %s label textcolor\n", name);
    size_t nw = p->s.nworkloads;
    for (size_t w = 0; w < nw; w++) {
        for (size_t b = 0; b < p->s.nbackends; b++) {
            const struct pm_agg *a = pm_summary_get(&p->s, p->s.workloads[w], p->s.backends[b]);
            double v = a && a->m[metric].n ? a->m[metric].med : NAN;
            fprintf(f, "%zu %zu", b, nw - 1 - w);
            num(f, v, 1);
            if (isfinite(v))
                fprintf(f, " %.2f %d\n", v, v > dark ? 0xffffff : 0);
            else
                fprintf(f, " n/a %d\n", 0x888888);
        }
    }
    data_close(f, file);
}

static void write_tics(const struct plot *p)
{
    FILE *f = data_open(p, "tics.gp");
    fprintf(f, "# generated by pymemlab plot: tic labels and counts\n");
    fprintf(f, "NB = %zu\nNW = %zu\nREPS = %u\n", p->s.nbackends, p->s.nworkloads, p->reps);
    fprintf(f, "HEAT_XTICS = \"set xtics (");
    for (size_t b = 0; b < p->s.nbackends; b++)
        fprintf(f, "%s\\\"%s\\\" %zu", b ? ", " : "", p->s.backends[b], b);
    fprintf(f, ")\"\nHEAT_YTICS = \"set ytics (");
    for (size_t w = 0; w < p->s.nworkloads; w++)
        fprintf(f, "%s\\\"%s\\\" %zu", w ? ", " : "", p->s.workloads[w], p->s.nworkloads - 1 - w);
    fprintf(f, ")\"\nWL_XTICS = \"set xtics (");
    for (size_t w = 0; w < p->s.nworkloads; w++)
        fprintf(f, "%s\\\"%s\\\" %zu", w ? ", " : "", p->s.workloads[w], w);
    fprintf(f, ")\"\nBACKENDS = \"");
    for (size_t b = 0; b < p->s.nbackends; b++)
        fprintf(f, "%s%s", b ? " " : "", p->s.backends[b]);
    fprintf(f, "\"\nBASELINE_NOTE = \"%s\"\n", p->baseline_note);
    /* log axes: a little room below and above what is drawn */
    for (int i = 0; i < 2; i++) {
        double lo = p->range[i][0], hi = p->range[i][1];
        if (!(lo > 0) || !isfinite(hi) || hi < lo) {
            lo = 0.1;
            hi = 10;
        }
        fprintf(f, "%s_YMIN = %.6g\n%s_YMAX = %.6g\n", i ? "FP" : "THR", lo / 1.4, i ? "FP" : "THR", hi * 1.4);
    }
    data_close(f, "tics.gp");
}

/* Latency: one row per (workload, backend): x position, p50, p99, p99.9,
 * max, backend index (the color). */
static void write_latency(const struct plot *p)
{
    FILE *f = data_open(p, "latency.dat");
    fprintf(f, "# x p50 p99 p999 max backend_index workload backend (ns, medians over reps)\n");
    double width = 0.8 / (double)(p->s.nbackends ? p->s.nbackends : 1);
    for (size_t b = 0; b < p->s.nbackends; b++) {
        for (size_t w = 0; w < p->s.nworkloads; w++) {
            const struct pm_agg *a = pm_summary_get(&p->s, p->s.workloads[w], p->s.backends[b]);
            if (!a || !a->m[PM_AG_LAT_P50].n)
                continue;
            double x = (double)w - 0.4 + width * ((double)b + 0.5);
            fprintf(f, "%.4f", x);
            /* a log axis has no 0: a call faster than the timer's step shows at 1 ns */
            num(f, fmax(a->m[PM_AG_LAT_P50].med, 1), 1);
            num(f, fmax(a->m[PM_AG_LAT_P99].med, 1), 1);
            num(f, fmax(a->m[PM_AG_LAT_P999].med, 1), 1);
            num(f, fmax(a->m[PM_AG_LAT_MAX].med, 1), 1);
            fprintf(f, " %zu %s %s\n", b + 1, p->s.workloads[w], p->s.backends[b]);
        }
        fprintf(f, "\n\n");     /* one data block per backend: index b */
    }
    data_close(f, "latency.dat");
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

/* The series of the first ok rep of each backend on a workload. */
static void plot_memory(struct plot *p, const struct pm_result *rows, size_t n, const char *workload,
                        int *failed, int *made)
{
    char files[8192] = "", titles[4096] = "", colors[512] = "";
    size_t fu = 0, tu = 0, cu = 0;
    int count = 0;
    for (size_t b = 0; b < p->s.nbackends; b++) {
        /* null's footprint is its ring, whatever the workload: left out */
        if (!strcmp(p->s.backends[b], "null"))
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
        char abs[PATH_MAX + 600];
        if (p->dir[0] == '/')
            snprintf(abs, sizeof abs, "%s/%s", p->dir, pick->series);
        else {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof cwd))
                continue;
            snprintf(abs, sizeof abs, "%.2000s/%.1000s/%.500s", cwd, p->dir, pick->series);
        }
        if (strchr(abs, ' '))
            pm_usage_error("plot: series path '%s' has a space (gnuplot's word lists cannot hold it)", abs);
        fu += (size_t)snprintf(files + fu, sizeof files - fu, "%s%s", count ? " " : "", abs);
        tu += (size_t)snprintf(titles + tu, sizeof titles - tu, "%s%s", count ? " " : "", pick->backend);
        cu += (size_t)snprintf(colors + cu, sizeof colors - cu, "%s%zu", count ? " " : "", b + 1);
        count++;
        if (fu >= sizeof files - 1 || tu >= sizeof titles - 1)
            break;
    }
    if (!count)
        return;
    char out[PATH_MAX + 64];
    snprintf(out, sizeof out, "%s/memory-%s", p->plots, workload);
    const char *args[] = {out, workload, files, titles, colors};
    if (run_gnuplot(p, "memory.gp", args, 5))
        (*failed)++;
    else
        (*made)++;
}

int cmd_plot(int argc, char **argv)
{
    struct plot p = {0};
    const char *scripts = NULL;
    static const struct option lo[] = {{"scripts", required_argument, 0, 's'}, {0, 0, 0, 0}};
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", lo, NULL)) != -1) {
        if (ch == 's')
            scripts = optarg;
        else
            pm_bad_option("plot", ch, argv);
    }
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
    /* "baseline: cpython" or "baseline: cpython (system for x, y)" */
    {
        const char *first = NULL;
        size_t used = 0;
        bool mixed = false;
        for (size_t w = 0; w < p.s.nworkloads; w++) {
            const char *b = pm_summary_baseline_for(&p.s, p.s.workloads[w]);
            if (!b)
                b = "none";
            if (!first)
                first = b;
            else if (strcmp(first, b))
                mixed = true;
        }
        used = (size_t)snprintf(p.baseline_note, sizeof p.baseline_note, "%s", first ? first : "none");
        if (mixed) {
            used += (size_t)snprintf(p.baseline_note + used, sizeof p.baseline_note - used, " (");
            bool any = false;
            for (size_t w = 0; w < p.s.nworkloads && used < sizeof p.baseline_note; w++) {
                const char *b = pm_summary_baseline_for(&p.s, p.s.workloads[w]);
                if (b && !strcmp(b, first))
                    continue;
                used += (size_t)snprintf(p.baseline_note + used, sizeof p.baseline_note - used,
                                         "%s%s: %s", any ? ", " : "", p.s.workloads[w], b ? b : "none");
                any = true;
            }
            if (used < sizeof p.baseline_note)
                snprintf(p.baseline_note + used, sizeof p.baseline_note - used, ")");
        }
    }
    snprintf(p.plots, sizeof p.plots, "%.4000s/plots", p.dir);
    snprintf(p.data, sizeof p.data, "%.4000s/plots/data", p.dir);
    if (pm_mkdir_p(p.data))
        pm_run_error("plot: cannot create '%s': %s", p.data, strerror(errno));
    char abs_plots[PATH_MAX];
    if (!realpath(p.plots, abs_plots))
        pm_run_error("plot: %s: %s", p.plots, strerror(errno));
    snprintf(p.plots, sizeof p.plots, "%s", abs_plots);

    write_bars(&p, "throughput.dat", PM_AG_NS, 1, true, false, p.range[0]);
    write_bars(&p, "footprint.dat", PM_AG_PEAK_FP, 1048576.0, false, true, p.range[1]);
    write_tics(&p);
    write_heat(&p, "frag4", PM_AG_FRAG4, 0.9);
    write_heat(&p, "retention", PM_AG_RETENTION, 0.6);
    write_latency(&p);

    int failed = 0, made = 0;
    static const char *const figs[][2] = {{"throughput.gp", "throughput"},
                                           {"footprint.gp", "footprint"},
                                           {"heatmap.gp", "frag4"},
                                           {"heatmap.gp", "retention"},
                                           {"latency.gp", "latency"}};
    for (size_t i = 0; i < sizeof figs / sizeof figs[0]; i++) {
        char out[PATH_MAX + 64];
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
