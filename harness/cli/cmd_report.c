/* harness/cli/cmd_report.c — `pymemlab report DIR [--out FILE]`: one
 * self-contained HTML page about a results folder, default DIR/report.html:
 *
 *   - provenance: commit, build, machine, the sessions with their dates and
 *     machine load, the suite (provenance.json);
 *   - the geometric mean per backend of its time per call over the
 *     baseline's, with its 95% bootstrap interval (figures.h, the same
 *     numbers as plots/geomean.*);
 *   - the summary table: per workload and backend ns/op with its 95%
 *     interval, the ratio to the baseline with its interval, "faster",
 *     "slower" or "not distinguishable" (the intervals overlap: not ranked),
 *     footprint, frag4, retention, latency, loaded reps; failed runs;
 *   - every figure of DIR/plots (SVG, else PNG), embedded as a data: URI;
 *   - validation (validation/table.md, env.txt, predicted-vs-native.png)
 *     and fidelity (fidelity/summary.md) results, from DIR/validation and
 *     DIR/fidelity, else the folders of those names beside DIR.
 *
 * Offline by construction: no script, no external URL; a Content Security
 * Policy meta tag (img-src data: only) makes the browser refuse any fetch
 * a future change might add. Bad input (not a results folder, an output
 * that cannot be written): one line, exit 2, nothing written. The page is
 * written to FILE.tmp and renamed (workloads/fileio.h).
 */
#include "cli.h"
#include "opts.h"
#include "figures.h"
#include "fileio.h"
#include "results.h"
#include "stats.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_EMBED (UINT64_C(64) << 20)  /* one figure or markdown file */

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void esc_n(FILE *f, const char *s, size_t n)
{
    char buf[2];
    buf[1] = 0;
    for (size_t i = 0; i < n && s[i]; i++) {
        buf[0] = s[i];
        esc(f, buf);
    }
}

static void b64(FILE *f, const unsigned char *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        fputc(t[v >> 18], f);
        fputc(t[(v >> 12) & 63], f);
        fputc(t[(v >> 6) & 63], f);
        fputc(t[v & 63], f);
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        fputc(t[v >> 18], f);
        fputc(t[(v >> 12) & 63], f);
        fputc(i + 1 < n ? t[(v >> 6) & 63] : '=', f);
        fputc('=', f);
    }
}

static bool readable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

/* <img> with the file as a data: URI; false if it cannot be read. */
static bool embed_image(FILE *f, const char *path, const char *alt)
{
    size_t len;
    char err[PM_ERR_LEN];
    char *data = pm_file_read_all(path, MAX_EMBED, &len, err);
    if (!data)
        return false;
    bool svg = strlen(path) > 4 && !strcmp(path + strlen(path) - 4, ".svg");
    fprintf(f, "<img alt=\"");
    esc(f, alt);
    fprintf(f, "\" src=\"data:image/%s;base64,", svg ? "svg+xml" : "png");
    b64(f, (const unsigned char *)data, len);
    fprintf(f, "\">");
    free(data);
    return true;
}

/* ---- a little Markdown: headings, pipe tables, lists, paragraphs, `code`,
 * **bold**, [text](link) (the text only: the page links nowhere) ---- */

static void md_inline(FILE *f, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] == '`') {
            const char *e = memchr(s + i + 1, '`', n - i - 1);
            if (e) {
                fputs("<code>", f);
                esc_n(f, s + i + 1, (size_t)(e - s - i - 1));
                fputs("</code>", f);
                i = (size_t)(e - s) + 1;
                continue;
            }
        }
        if (s[i] == '*' && i + 1 < n && s[i + 1] == '*') {
            const char *e = NULL;
            for (size_t j = i + 2; j + 1 < n; j++)
                if (s[j] == '*' && s[j + 1] == '*') {
                    e = s + j;
                    break;
                }
            if (e) {
                fputs("<strong>", f);
                md_inline(f, s + i + 2, (size_t)(e - s - i - 2));
                fputs("</strong>", f);
                i = (size_t)(e - s) + 2;
                continue;
            }
        }
        if (s[i] == '[') {
            const char *close = memchr(s + i, ']', n - i);
            if (close && (size_t)(close - s) + 1 < n && close[1] == '(') {
                const char *paren = memchr(close, ')', n - (size_t)(close - s));
                if (paren) {
                    md_inline(f, s + i + 1, (size_t)(close - s - i - 1));
                    i = (size_t)(paren - s) + 1;
                    continue;
                }
            }
        }
        esc_n(f, s + i, 1);
        i++;
    }
}

static bool md_separator(const char *l, size_t n)
{
    if (!n || l[0] != '|')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("|-: \t", l[i]))
            return false;
    return true;
}

static void md_row(FILE *f, const char *l, size_t n, const char *cell)
{
    fputs("<tr>", f);
    size_t i = l[0] == '|' ? 1 : 0;
    while (i < n) {
        size_t j = i;
        while (j < n && l[j] != '|')
            j++;
        if (j == n && i == j)
            break;
        size_t a = i, b = j;
        while (a < b && l[a] == ' ')
            a++;
        while (b > a && l[b - 1] == ' ')
            b--;
        fprintf(f, "<%s>", cell);
        md_inline(f, l + a, b - a);
        fprintf(f, "</%s>", cell);
        i = j + 1;
        if (j >= n - 1 && (n == 0 || l[n - 1] == '|') && j + 1 >= n)
            break;
    }
    fputs("</tr>\n", f);
}

static void md_render(FILE *f, const char *text)
{
    enum { NONE, PARA, LIST, TABLE } st = NONE;
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, "\n");
        const char *next = p[n] ? p + n + 1 : p + n;
        size_t m = n;
        while (m && (p[m - 1] == '\r' || p[m - 1] == ' '))
            m--;
        bool blank = m == 0;
        bool table = m && p[0] == '|';
        bool item = m > 1 && (p[0] == '-' || p[0] == '*') && p[1] == ' ';
        bool head = m && p[0] == '#';
        if ((st == PARA && (blank || table || item || head)) || (st == LIST && !item) ||
            (st == TABLE && !table)) {
            fputs(st == PARA ? "</p>\n" : st == LIST ? "</ul>\n" : "</tbody></table>\n", f);
            st = NONE;
        }
        if (blank) {
        } else if (head) {
            int level = 0;
            while (level < (int)m && p[level] == '#')
                level++;
            int h = level + 2 > 6 ? 6 : level + 2;
            size_t s = (size_t)level;
            while (s < m && p[s] == ' ')
                s++;
            fprintf(f, "<h%d>", h);
            md_inline(f, p + s, m - s);
            fprintf(f, "</h%d>\n", h);
        } else if (table) {
            size_t nn = strcspn(next, "\n");
            if (st != TABLE) {
                fputs("<table class=\"md\">", f);
                if (md_separator(next, nn)) {
                    fputs("<thead>", f);
                    md_row(f, p, m, "th");
                    fputs("</thead>", f);
                    next = next[nn] ? next + nn + 1 : next + nn;
                    fputs("<tbody>\n", f);
                    st = TABLE;
                    p = next;
                    continue;
                }
                fputs("<tbody>\n", f);
                st = TABLE;
            }
            if (!md_separator(p, m))
                md_row(f, p, m, "td");
        } else if (item) {
            if (st != LIST) {
                fputs("<ul>\n", f);
                st = LIST;
            }
            fputs("<li>", f);
            md_inline(f, p + 2, m - 2);
            fputs("</li>\n", f);
        } else {
            if (st != PARA) {
                fputs("<p>", f);
                st = PARA;
            } else {
                fputc('\n', f);
            }
            md_inline(f, p, m);
        }
        p = next;
    }
    if (st != NONE)
        fputs(st == PARA ? "</p>\n" : st == LIST ? "</ul>\n" : "</tbody></table>\n", f);
}

static bool md_file(FILE *f, const char *path)
{
    size_t len;
    char err[PM_ERR_LEN];
    char *t = pm_file_read_all(path, MAX_EMBED, &len, err);
    if (!t)
        return false;
    md_render(f, t);
    free(t);
    return true;
}

static bool pre_file(FILE *f, const char *path)
{
    size_t len;
    char err[PM_ERR_LEN];
    char *t = pm_file_read_all(path, MAX_EMBED, &len, err);
    if (!t)
        return false;
    fputs("<pre>", f);
    esc(f, t);
    fputs("</pre>\n", f);
    free(t);
    return true;
}

/* ---- provenance ---- */

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

static void prov_row(FILE *f, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void prov_row(FILE *f, const char *name, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(f, "<tr><th>%s</th><td>", name);
    esc(f, buf);
    fputs("</td></tr>\n", f);
}

static void write_provenance(FILE *f, const cJSON *prov, const struct pm_summary *s, unsigned lat_every)
{
    const cJSON *pm = get(prov, "pymemlab"), *mach = get(prov, "machine"), *cfg = get(prov, "config");
    fputs("<table class=\"prov\" id=\"provenance\">\n", f);
    prov_row(f, "commit", "%s%s", str(pm, "commit"), cJSON_IsTrue(get(pm, "dirty")) ? " (with uncommitted changes)" : "");
    prov_row(f, "build", "%s, %s, %s", str(pm, "compiler"), str(pm, "build_type"), str(pm, "flags"));
    const cJSON *mem = get(mach, "mem_total_bytes"), *cpus = get(mach, "cpus");
    prov_row(f, "machine", "%s, %d CPUs, %.1f GiB; %s; glibc %s; host %s", str(mach, "cpu_model"),
             cJSON_IsNumber(cpus) ? cpus->valueint : 0, cJSON_IsNumber(mem) ? mem->valuedouble / 1073741824.0 : 0.0,
             str(mach, "kernel"), str(mach, "glibc"), str(mach, "hostname"));
    const cJSON *reps = get(cfg, "reps");
    prov_row(f, "suite", "%s (%s), %d reps, time mode %s, one allocator call in %u timed for latency, baseline %s",
             str(cfg, "suite"), str(cfg, "suite_file"), cJSON_IsNumber(reps) ? reps->valueint : 0,
             str(cfg, "time_mode"), lat_every, s->baseline[0] ? s->baseline : "cpython, else system");
    const cJSON *sess = get(prov, "sessions"), *x;
    int k = 0;
    cJSON_ArrayForEach(x, sess) {
        char name[32];
        snprintf(name, sizeof name, "session %d", ++k);
        const cJSON *l0 = get(x, "load_start"), *lm = get(x, "load_max"), *le = get(x, "load_end");
        const cJSON *done = get(x, "runs_done"), *planned = get(x, "planned_runs");
        prov_row(f, name, "%s to %s UTC: %s; %d of %d runs%s; 1-minute load average %.2f at the start, %.2f at most, %.2f at the end",
                 str(x, "started"), str(x, "finished"), str(x, "command"), cJSON_IsNumber(done) ? done->valueint : 0,
                 cJSON_IsNumber(planned) ? planned->valueint : 0, cJSON_IsTrue(get(x, "interrupted")) ? " (interrupted)" : "",
                 cJSON_IsNumber(l0) ? l0->valuedouble : NAN, cJSON_IsNumber(lm) ? lm->valuedouble : NAN,
                 cJSON_IsNumber(le) ? le->valuedouble : NAN);
    }
    const cJSON *merged = get(prov, "merged_from");
    if (cJSON_IsArray(merged))
        prov_row(f, "merged", "from %d folders", cJSON_GetArraySize(merged));
    unsigned loaded = 0, ok = 0;
    for (size_t i = 0; i < s->n; i++) {
        loaded += s->rows[i].loaded;
        ok += s->rows[i].ok;
    }
    prov_row(f, "load", "%u of %u ok runs were taken on a loaded machine (other work kept more than 0.5 CPU busy, "
                        "or steal over 5%%): their timings are marked in the table", loaded, ok);
    fputs("</table>\n", f);
}

/* ---- the tables ---- */

static void cell_ci(FILE *f, const struct pm_ci *c, const char *fmt)
{
    fputs("<td class=\"num\">", f);
    if (c->n && isfinite(c->med)) {
        char a[48], b[48], m[48];
        snprintf(m, sizeof m, fmt, c->med);
        snprintf(a, sizeof a, fmt, isfinite(c->lo) ? c->lo : c->med);
        snprintf(b, sizeof b, fmt, isfinite(c->hi) ? c->hi : c->med);
        fprintf(f, "%s <span class=\"ci\">[%s, %s]</span>", m, a, b);
        if (c->level < PM_CI_LEVEL - 1e-9)
            fprintf(f, "<sup title=\"fewer than 6 runs: min..max, covering %.0f%%\">*</sup>", 100 * c->level);
    } else {
        fputs("–", f);
    }
    fputs("</td>", f);
}

static void cell_stat(FILE *f, const struct pm_stat *st, const char *fmt, double scale, bool na)
{
    fputs("<td class=\"num\">", f);
    if (na)
        fputs("<span class=\"na\" title=\"not applicable: this backend has no memory figures\">n/a</span>", f);
    else if (st->n && isfinite(st->med)) {
        fprintf(f, fmt, st->med / scale);
        if (st->n > 1 && st->max > st->min) {
            fputs(" <span class=\"ci\">(", f);
            fprintf(f, fmt, st->min / scale);
            fputs("–", f);
            fprintf(f, fmt, st->max / scale);
            fputs(")</span>", f);
        }
    } else
        fputs("–", f);
    fputs("</td>", f);
}

static void cell_lat(FILE *f, const struct pm_stat *st, double res)
{
    fputs("<td class=\"num\">", f);
    if (!st->n || !isfinite(st->med))
        fputs("–", f);
    else if (st->med <= 0)
        fprintf(f, "<span title=\"below the timer's step once its own cost is subtracted\">&lt; %.0f</span>", res);
    else
        fprintf(f, "%.0f", st->med);
    fputs("</td>", f);
}

static const char *verdict(const struct pm_agg *a, const char **cls)
{
    *cls = "";
    if (a->is_baseline) {
        *cls = "base";
        return "baseline";
    }
    if (!isfinite(a->ratio_ci.med) || a->ns_ci.n < 2)
        return "–";
    if (a->indistinct) {
        *cls = "nd";
        return "not distinguishable";
    }
    *cls = a->ratio_ci.med < 1 ? "faster" : "slower";
    return *cls;
}

static void write_summary(FILE *f, const struct pm_summary *s)
{
    double res = INFINITY;
    for (size_t i = 0; i < s->n; i++)
        for (int m = PM_AG_LAT_P50; m <= PM_AG_LAT_P999; m++)
            if (s->rows[i].m[m].n && s->rows[i].m[m].min > 0 && s->rows[i].m[m].min < res)
                res = s->rows[i].m[m].min;
    if (!isfinite(res))
        res = 10;
    fputs("<table class=\"data\" id=\"summary\">\n<thead><tr><th>workload</th><th>backend</th><th>ok runs</th>"
          "<th>ns per call [95% interval]</th><th>× baseline [95% interval]</th><th>vs baseline</th>"
          "<th>peak footprint MiB (min–max)</th><th>frag4</th><th>retention</th><th>p50 ns</th><th>p99 ns</th>"
          "<th>loaded runs</th></tr></thead>\n<tbody>\n",
          f);
    const char *last = "";
    for (size_t i = 0; i < s->n; i++) {
        const struct pm_agg *a = &s->rows[i];
        bool na = !pm_fig_has_memory(a->backend);
        const char *cls;
        const char *v = verdict(a, &cls);
        fprintf(f, "<tr%s><td>", strcmp(a->workload, last) ? " class=\"first\"" : "");
        esc(f, a->workload);
        last = a->workload;
        fputs("</td><td>", f);
        esc(f, a->backend);
        fprintf(f, "</td><td class=\"num\">%u/%u</td>", a->ok, a->ok + a->failed);
        cell_ci(f, &a->ns_ci, "%.1f");
        cell_ci(f, &a->ratio_ci, "%.2f");
        fprintf(f, "<td class=\"%s\">%s</td>", cls, v);
        cell_stat(f, &a->m[PM_AG_PEAK_FP], "%.1f", 1048576.0, na);
        cell_stat(f, &a->m[PM_AG_FRAG4], "%.3f", 1, na);
        cell_stat(f, &a->m[PM_AG_RETENTION], "%.3f", 1, na);
        cell_lat(f, &a->m[PM_AG_LAT_P50], res);
        cell_lat(f, &a->m[PM_AG_LAT_P99], res);
        if (a->loaded)
            fprintf(f, "<td class=\"num loaded\">%u of %u</td>", a->loaded, a->ok);
        else
            fputs("<td class=\"num\">–</td>", f);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
    fputs("<p class=\"note\">ns per call: median of the runs with its 95% interval (order statistics; * fewer than "
          "6 runs: min..max, which covers less). × baseline: ratio of the medians, 95% bootstrap interval. "
          "<b>Not distinguishable</b>: the two ns-per-call intervals overlap, and the backends are not ranked. "
          "frag4 = peak footprint / peak live bytes − 1; retention = footprint at the end / peak footprint; "
          "n/a: the backend keeps no memory of its own (null). Latency: medians over the runs of the sampled "
          "per-call percentiles; &lt; N: below the timer's step. Loaded runs: taken while other work kept the "
          "machine busy.</p>\n",
          f);
    bool any = false;
    for (size_t i = 0; i < s->n; i++)
        if (s->rows[i].failed) {
            if (!any)
                fputs("<h3>Failed runs</h3>\n<ul id=\"failed\">\n", f);
            any = true;
            fputs("<li>", f);
            esc(f, s->rows[i].workload);
            fputs(" on ", f);
            esc(f, s->rows[i].backend);
            fprintf(f, ": %u of %u failed: ", s->rows[i].failed, s->rows[i].ok + s->rows[i].failed);
            esc(f, s->rows[i].reason);
            fputs("</li>\n", f);
        }
    if (any)
        fputs("</ul>\n", f);
}

static void write_geomean(FILE *f, const struct pm_summary *s, const struct pm_geo *g)
{
    fputs("<table class=\"data\" id=\"geomean\">\n<thead><tr><th>backend</th><th>workloads</th>"
          "<th>geometric mean of time per call ÷ baseline's [95% interval]</th><th>vs baseline</th></tr></thead>\n<tbody>\n",
          f);
    for (size_t b = 0; b < s->nbackends; b++) {
        fputs("<tr><td>", f);
        esc(f, s->backends[b]);
        fprintf(f, "</td><td class=\"num\">%zu</td>", g[b].ci.n);
        struct pm_ci c = g[b].ci;
        c.level = PM_CI_LEVEL;
        cell_ci(f, &c, "%.3f");
        const char *v = !g[b].ci.n ? "–" : g[b].indistinct ? "not distinguishable" : g[b].ci.med < 1 ? "faster" : "slower";
        fprintf(f, "<td class=\"%s\">%s</td></tr>\n", !strcmp(v, "not distinguishable") ? "nd" : v, v);
    }
    fputs("</tbody></table>\n<p class=\"note\">Over the workloads where both the backend and that workload's "
          "baseline ran; the interval resamples every workload's runs at once (2000 bootstrap resamples, fixed "
          "seed). Not distinguishable: the interval holds 1.</p>\n",
          f);
}

/* ---- figures ---- */

struct fig {
    const char *name, *caption;
};

static const struct fig known[] = {
    {"geomean", "Geometric mean over the workloads of each backend's time per call ÷ the baseline's, 95% bootstrap interval; hollow: not distinguishable."},
    {"throughput", "Time per allocator call ÷ the baseline's, per workload: ratio of medians, 95% interval; hollow: not distinguishable from the baseline."},
    {"footprint", "Peak footprint per workload, median and min–max of the runs; black line: peak live bytes."},
    {"frag4", "frag4 = peak footprint / peak live bytes − 1, median of the runs."},
    {"retention", "retention = footprint at the end / peak footprint, median of the runs."},
    {"latency", "Latency of one allocator call, sampled: p50 marker, p99 tick, bar to p99.9, × max."},
};

/* SVG, else PNG, of DIR/plots/NAME; *mtime: its modification time */
static bool fig_path(const char *dir, const char *name, char *out, size_t len, time_t *mtime)
{
    static const char *const ext[] = {"svg", "png"};
    for (int i = 0; i < 2; i++) {
        snprintf(out, len, "%s/plots/%s.%s", dir, name, ext[i]);
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
            *mtime = st.st_mtime;
            return true;
        }
    }
    return false;
}

static int write_figures(FILE *f, const char *dir, const struct pm_summary *s, time_t results_mtime)
{
    char path[PATH_MAX + 300];
    time_t oldest = 0;
    int count = 0;
    fputs("<div id=\"figures\">\n", f);
    size_t total = sizeof known / sizeof known[0] + s->nworkloads;
    for (size_t i = 0; i < total; i++) {
        char name[160], cap[400];
        if (i < sizeof known / sizeof known[0]) {
            snprintf(name, sizeof name, "%s", known[i].name);
            snprintf(cap, sizeof cap, "%s", known[i].caption);
        } else {
            const char *w = s->workloads[i - sizeof known / sizeof known[0]];
            snprintf(name, sizeof name, "memory-%.100s", w);
            snprintf(cap, sizeof cap, "%.100s: footprint over time, one line per backend; live bytes dashed; phase marks dotted.", w);
        }
        time_t mt;
        if (!fig_path(dir, name, path, sizeof path, &mt))
            continue;
        fprintf(f, "<figure class=\"fig\" id=\"fig-");
        esc(f, name);
        fputs("\">", f);
        if (!embed_image(f, path, name)) {
            fputs("</figure>\n", f);
            continue;
        }
        fputs("<figcaption>", f);
        esc(f, cap);
        fputs("</figcaption></figure>\n", f);
        if (!count || mt < oldest)
            oldest = mt;
        count++;
    }
    fputs("</div>\n", f);
    if (!count) {
        fputs("<p class=\"warn\">No figures: <code>pymemlab plot ", f);
        esc(f, dir);
        fputs("</code> draws them into its plots/ folder; run it, then this report again.</p>\n", f);
    } else if (oldest < results_mtime) {
        fputs("<p class=\"warn\">Some figures are older than the results they draw: <code>pymemlab plot ", f);
        esc(f, dir);
        fputs("</code> redraws them.</p>\n", f);
    }
    return count;
}

/* DIR/NAME, else DIR/../NAME, holding FILE; "" if neither. */
static void find_side(const char *dir, const char *name, const char *file, char *out, size_t len)
{
    char p[PATH_MAX + 600];
    snprintf(out, len, "%s/%s", dir, name);
    snprintf(p, sizeof p, "%s/%s", out, file);
    if (readable(p))
        return;
    snprintf(out, len, "%s/../%s", dir, name);
    snprintf(p, sizeof p, "%s/%s", out, file);
    if (readable(p))
        return;
    out[0] = 0;
}

static const char css[] =
    "body{font-family:sans-serif;margin:1.5em auto;max-width:1500px;padding:0 1em;color:#222;line-height:1.4}"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.88em}"
    "th,td{border:1px solid #d0d0d0;padding:.2em .5em;vertical-align:top}"
    "thead th{background:#f0f0f0;position:sticky;top:0}"
    "table.prov th{text-align:left;background:#f6f6f6;white-space:nowrap}"
    "td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "tr.first td{border-top:2px solid #999}"
    ".ci{color:#666}.na{color:#999}"
    "td.faster{color:#176117;font-weight:bold}td.slower{color:#9b1c1c;font-weight:bold}"
    "td.nd{color:#777;font-style:italic}td.base{color:#333}td.loaded{background:#fff3cd}"
    "td.nd,td.faster,td.slower,td.base{white-space:nowrap}"
    ".note{font-size:.85em;color:#444;max-width:70em}"
    ".warn{background:#fff3cd;border:1px solid #e0c36a;padding:.4em .7em}"
    "figure.fig{margin:1.2em 0}figure.fig img{max-width:100%;height:auto;border:1px solid #eee}"
    "figcaption{font-size:.85em;color:#444}"
    "pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:.85em}"
    "table.md td{text-align:right}table.md td:first-child{text-align:left}"
    "code{background:#f3f3f3;padding:0 .2em}";

static const struct pm_cli_opt report_opts[] = {
    PM_CLI_OPT("out", 'o', PM_CLI_FILE, "FILE", "DIR/report.html", "write the page to FILE"),
    {0},
};

const struct pm_cli_spec pm_spec_report = {
    .name = "report", .args = "DIR", .opts = report_opts,
    .summary = "one self-contained HTML page of a results folder: tables with intervals, every figure, "
               "provenance, validation",
};

/* The sections of the side folders, when the results folder has them:
 * validation (scripts/validate.sh) and fidelity (scripts/fidelity.sh).
 * Returns the figures embedded. */
static int write_side_sections(FILE *f, const char *dir)
{
    int nfig = 0;
    char side[PATH_MAX + 300], p2[PATH_MAX + 700];
    find_side(dir, "validation", "table.md", side, sizeof side);
    if (side[0]) {
        fputs("<h2 id=\"validation\">Validation: does replay predict a real run?</h2>\n<p class=\"note\">From <code>", f);
        esc(f, side);
        fputs("</code> (scripts/validate.sh).</p>\n", f);
        snprintf(p2, sizeof p2, "%s/env.txt", side);
        pre_file(f, p2);
        snprintf(p2, sizeof p2, "%s/table.md", side);
        md_file(f, p2);
        snprintf(p2, sizeof p2, "%s/predicted-vs-native.png", side);
        if (readable(p2)) {
            fputs("<figure class=\"fig\" id=\"fig-validation\">", f);
            if (embed_image(f, p2, "predicted vs native peak"))
                nfig++;
            fputs("<figcaption>Predicted against native peak anonymous RSS, y = x and ±5%.</figcaption></figure>\n", f);
        }
    }
    find_side(dir, "fidelity", "summary.md", side, sizeof side);
    if (side[0]) {
        fputs("<h2 id=\"fidelity\">Fidelity: CPython's allocator against the model</h2>\n<p class=\"note\">From <code>", f);
        esc(f, side);
        fputs("</code> (scripts/fidelity.sh).</p>\n", f);
        snprintf(p2, sizeof p2, "%s/summary.md", side);
        md_file(f, p2);
    }
    return nfig;
}

int cmd_report(int argc, char **argv)
{
    const char *out = NULL;
    struct pm_cli_val v;
    int ch;
    while ((ch = pm_cli_getopt(&pm_spec_report, argc, argv, &v)) != -1)
        if (ch == 'o')
            out = v.s;
    if (optind != argc - 1)
        pm_usage_error(optind >= argc ? "report: a results folder DIR is required"
                                      : "report: one DIR expected, got '%s'", argv[argc - 1]);
    const char *dir = argv[optind];
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    struct stat rst;
    if (stat(path, &rst) || !S_ISREG(rst.st_mode) || access(path, R_OK))
        pm_usage_error("report: %s is not a results folder (no results.jsonl)", dir);
    char err[PM_ERR_LEN];
    if (pm_results_check_version(dir, NULL, err))
        pm_usage_error("report: %s", err);
    struct pm_result *rows;
    size_t n;
    long partial;
    if (pm_results_load(dir, &rows, &n, &partial, err))
        pm_usage_error("report: %s", err);
    if (!n)
        pm_usage_error("report: %s holds no results yet", dir);
    char outbuf[PATH_MAX + 64];
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "%s/report.html", dir);
        out = outbuf;
    }
    pm_cli_out_check("report", out);

    n = pm_results_latest(rows, n);
    snprintf(path, sizeof path, "%s/provenance.json", dir);
    cJSON *prov = readable(path) ? pm_read_json_file(path, err) : NULL;
    const cJSON *bl = get(get(prov, "config"), "baseline");
    struct pm_summary s;
    if (pm_summary_build(rows, n, cJSON_IsString(bl) && *bl->valuestring ? bl->valuestring : NULL, &s))
        pm_run_error("report: out of memory");
    struct pm_geo *g = calloc(s.nbackends ? s.nbackends : 1, sizeof *g);
    if (!g || pm_geomeans(rows, n, &s, g))
        pm_run_error("report: out of memory");
    unsigned lat_every = pm_fig_lat_every(prov, rows, n);
    char stamp[256];
    pm_fig_stamp(prov, stamp, sizeof stamp);

    struct pm_out o;
    if (pm_out_open(&o, out, err))
        pm_usage_error("report: %s", err);
    FILE *f = o.f;
    const cJSON *cfg = get(prov, "config");
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>pymemlab report: ",
          f);
    esc(f, str(cfg, "suite"));
    fprintf(f, "</title>\n<style>%s</style>\n</head><body>\n<h1>pymemlab report: suite ", css);
    esc(f, str(cfg, "suite"));
    fputs("</h1>\n<p class=\"note\">", f);
    esc(f, stamp);
    fputs(". Folder <code>", f);
    esc(f, dir);
    time_t now = time(NULL);
    struct tm tm;
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tm));
    fprintf(f, "</code>; this page written %s. Self-contained: it loads nothing from anywhere.</p>\n", when);
    fputs("<h2>Provenance</h2>\n", f);
    write_provenance(f, prov, &s, lat_every);
    fputs("<h2>Speed over all workloads</h2>\n", f);
    write_geomean(f, &s, g);
    fputs("<h2>Per workload and backend</h2>\n", f);
    write_summary(f, &s);
    fputs("<h2>Figures</h2>\n", f);
    int nfig = write_figures(f, dir, &s, rst.st_mtime);

    nfig += write_side_sections(f, dir);
    fputs("<hr><p class=\"note\">Written by <code>pymemlab report</code>. Every timing carries its 95% interval and "
          "the machine load it was taken under; where intervals overlap the page says \"not distinguishable\" and "
          "ranks nothing.</p>\n</body></html>\n",
          f);
    if (ferror(f)) {
        pm_out_abort(&o);
        pm_run_error("report: cannot write '%s'", out);
    }
    if (pm_out_commit(&o, true, err))
        pm_run_error("report: %s", err);
    printf("report: %s (%zu workloads, %zu backends, %d figures)\n", out, s.nworkloads, s.nbackends, nfig);
    free(g);
    pm_summary_free(&s);
    cJSON_Delete(prov);
    free(rows);
    return PM_EXIT_OK;
}
