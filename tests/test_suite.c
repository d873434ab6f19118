/* tests/test_suite.c — suites, result records and the latency sampler of
 * the suite runner (harness/engine/suite.c, results.c, latency.c):
 *
 *  - every built-in suite (workloads/suites/) parses; defaults, canonical
 *    parameters, trace globs (sorted, suffix=, optional);
 *  - a bad line is one message naming the file and the line number;
 *  - the CSV header and the JSON keys are exactly the documented columns
 *    (docs/main-job.md's results-columns table lists the same, in this order);
 *  - CSV quoting and nulls, the JSON round trip, results.jsonl with a line
 *    cut short or a bad line, the latest record of a run;
 *  - the summary: median and min-max over reps, ratio to the baseline;
 *  - the latency histogram's quantiles and the sampler's random gaps.
 * The runner itself (forks, limits, resume, merge) is tested by
 * tests/cli/run.sh.
 */
#include "pm_test.h"
#include "latency.h"
#include "results.h"
#include "resultsdir.h"
#include "stats.h"
#include "suite.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The documented columns, in order (docs/main-job.md, results columns). */
static const char *const documented[] = {
    "workload", "kind", "backend", "rep", "status", "failure", "ops", "ns_per_op",
    "time_mode", "minflt_per_op", "load1_start", "load1_end", "steal_pct", "busy_cpus", "own_cpus",
    "loaded", "peak_live_bytes", "final_live_bytes", "peak_footprint_bytes", "final_footprint_bytes",
    "trimmed_footprint_bytes", "frag4", "frag3", "frag_at_peak_live", "retention",
    "retention_trimmed", "backend_peak_mapped_bytes", "gc_collections", "gc_collected",
    "gc_uncollectable", "gc_time_ns", "lat_samples", "lat_p50_ns", "lat_p99_ns", "lat_p999_ns",
    "lat_max_ns", "lat_floor_ns", "max_rss_bytes", "wall_s", "seed", "scale", "params", "series",
    "reason", "gc", "gc_pauses", "gc_pause_p50_ns", "gc_pause_p99_ns", "gc_pause_max_ns",
    "gc_pause_total_ns", "gc_examined", "gc_examined_max", "gc_peak_garbage_held_bytes",
    "majflt_per_op", NULL,
};

static char tmpdir[256];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pm_test_suite_%d", (int)getpid());
    mkdir(tmpdir, 0777);
    return 0;
}

static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* ---- suites ---- */

static void test_builtin_suites_parse(void **state)
{
    (void)state;
    static const char *names[] = {"quick", "default", "full"};
    for (int i = 0; i < 3; i++) {
        struct pm_suite s;
        char err[PM_ERR_LEN];
        if (pm_suite_load(names[i], &s, err))
            fail_msg("suite %s: %s", names[i], err);
        assert_string_equal(s.name, names[i]);
        assert_true(s.n >= 10);
        assert_true(s.reps >= 1);
        assert_true(s.timeout_s > 0);
        for (size_t a = 0; a < s.n; a++) {
            assert_true(strlen(s.items[a].params) > 0);
            for (size_t b = 0; b < a; b++)
                assert_string_not_equal(s.items[a].name, s.items[b].name);
        }
        pm_suite_free(&s);
    }
    char names_buf[200];
    pm_suite_builtin_names(names_buf, sizeof names_buf);
    assert_string_equal(names_buf, "default, full, quick");
}

static void test_suite_defaults_and_params(void **state)
{
    (void)state;
    struct pm_suite s;
    char err[PM_ERR_LEN];
    int rc = pm_suite_parse("# a comment\n"
                            "reps 4   # trailing comment\n"
                            "timeout 12.5\n"
                            "\n"
                            "py json\n"
                            "py web scale=0.5 seed=9 name=web-half timeout=3\n"
                            "gen churn ops=2M sizes=uniform:16-64\n"
                            "gen survivors live=1000 seed=5 name=s\n",
                            "/nowhere/t.suite", &s, err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(s.reps, 4);
    assert_true(s.timeout_s == 12.5);
    assert_string_equal(s.name, "t");
    assert_int_equal(s.n, 4);
    assert_string_equal(s.items[0].name, "json");
    assert_string_equal(s.items[0].params, "py json scale=1 seed=1");
    assert_int_equal(s.items[0].line, 5);
    assert_string_equal(s.items[1].name, "web-half");
    assert_string_equal(s.items[1].params, "py web scale=0.5 seed=9");
    assert_true(s.items[1].timeout_s == 3);
    assert_int_equal(s.items[2].kind, PM_SUITE_GEN);
    assert_string_equal(s.items[2].name, "gen-churn");
    assert_string_equal(s.items[2].params, "gen churn ops=2M sizes=uniform:16-64 seed=42");
    assert_int_equal(s.items[2].gen.ops, 2000000);
    assert_int_equal(s.items[2].gen.size_min, 16);
    assert_int_equal(s.items[2].gen.size_max, 64);
    assert_int_equal(s.items[2].seed, 42);
    assert_string_equal(s.items[3].name, "s");
    assert_int_equal(s.items[3].gen.live, 1000);
    assert_int_equal(s.items[3].seed, 5);
    assert_non_null(pm_suite_find(&s, "s"));
    assert_null(pm_suite_find(&s, "nosuch"));
    pm_suite_free(&s);
}

/* issue 20: gc= on a py line, and run --gcs expanding py items per collector */
static void test_suite_gc_sweep(void **state)
{
    (void)state;
    struct pm_suite s;
    char err[PM_ERR_LEN];
    int rc = pm_suite_parse("py service scale=0.5\n"
                            "py cycles gc=pep848\n"
                            "gen churn ops=1M\n",
                            "/nowhere/t.suite", &s, err);
    if (rc)
        fail_msg("%s", err);
    assert_string_equal(s.items[0].gc, "");
    assert_string_equal(s.items[0].params, "py service scale=0.5 seed=1");  /* unchanged without gc= */
    assert_string_equal(s.items[1].gc, "pep848");
    assert_string_equal(s.items[1].params, "py cycles scale=1 seed=1 gc=pep848");
    assert_int_equal(pm_suite_expand_gcs(&s, "gen311,inc314", err), 0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.items[0].name, "service-gen311");
    assert_string_equal(s.items[0].gc, "gen311");
    assert_string_equal(s.items[0].params, "py service scale=0.5 seed=1 gc=gen311");
    assert_string_equal(s.items[1].name, "service-inc314");
    assert_string_equal(s.items[1].gc, "inc314");
    assert_string_equal(s.items[2].name, "cycles");              /* its own gc= wins */
    assert_string_equal(s.items[2].gc, "pep848");
    assert_int_equal(s.items[3].kind, PM_SUITE_GEN);
    assert_int_equal(pm_suite_expand_gcs(&s, "gen311,nope", err), -1);
    assert_non_null(strstr(err, "unknown collector 'nope'"));
    assert_int_equal(s.n, 4);                                    /* left as it was */
    assert_int_equal(pm_suite_expand_gcs(&s, "inc314,inc314", err), -1);
    assert_non_null(strstr(err, "given twice"));
    pm_suite_free(&s);
    assert_int_not_equal(pm_suite_parse("py service gc=gen999\n", "/nowhere/t.suite", &s, err), 0);
    assert_non_null(strstr(err, "unknown collector 'gen999' in gc="));
}

static void test_suite_trace_globs(void **state)
{
    (void)state;
    char d[300], p[400], suite[400];
    snprintf(d, sizeof d, "%s/traces", tmpdir);
    mkdir(d, 0777);
    /* content does not matter to the parser: the runner validates traces */
    snprintf(p, sizeof p, "%s/b.pmt", d);
    write_file(p, "x");
    snprintf(p, sizeof p, "%s/a.pmt", d);
    write_file(p, "x");
    snprintf(p, sizeof p, "%s/c.txt", d);
    write_file(p, "x");
    snprintf(suite, sizeof suite, "%s/s.suite", tmpdir);
    struct pm_suite s;
    char err[PM_ERR_LEN];
    int rc = pm_suite_parse("trace traces/*.pmt domain=pymalloc\n"
                            "trace traces/*.pmt suffix=-all\n"
                            "trace traces/c.txt name=see\n"
                            "trace missing/*.pmt optional\n",
                            suite, &s, err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.items[0].name, "a");     /* sorted */
    assert_string_equal(s.items[1].name, "b");
    assert_string_equal(s.items[0].params, "trace traces/a.pmt domain=pymalloc");
    assert_string_equal(s.items[0].domain, "pymalloc");
    assert_int_equal(s.items[0].domains, (1u << PM_DOMAIN_OBJ) | (1u << PM_DOMAIN_MEM));
    assert_string_equal(s.items[2].name, "a-all");
    assert_string_equal(s.items[3].name, "b-all");
    assert_string_equal(s.items[4].name, "see");
    snprintf(p, sizeof p, "%s/c.txt", d);
    assert_string_equal(s.items[4].path, p);
    assert_non_null(s.notes);
    assert_non_null(strstr(s.notes, "s.suite:4: skipped: no trace file matches 'missing/*.pmt'"));
    pm_suite_free(&s);
}

static void test_suite_bad_lines(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"py json\nfrob x\n", "/x/t.suite:2: unknown line kind 'frob' (expected py, gen, trace, reps, timeout or backend)"},
        {"py nosuch\n", "/x/t.suite:1: unknown workload 'nosuch' (known: json, compiler, web, cycles, build, survivors, churn, service, bigheap)"},
        {"py json scale=0\n", "/x/t.suite:1: bad value for scale: '0' (expected a number in 0.0001..10000)"},
        {"py json seed=-1\n", "/x/t.suite:1: bad value for seed: '-1' (expected a whole number)"},
        {"py json frob=1\n", "/x/t.suite:1: py: unknown option 'frob' (known: scale, seed, gc, name, timeout)"},
        {"py json scale\n", "/x/t.suite:1: py: expected key=value, got 'scale'"},
        {"py\n", "/x/t.suite:1: py: a workload name is required (see 'pymemlab pyrun --list')"},
        {"py json\npy json\n", "/x/t.suite:2: workload name 'json' already used on line 1 (set another with name=)"},
        {"py json name=a/b\n", "/x/t.suite:1: bad workload name 'a/b' (1..48 of A-Z a-z 0-9 . _ -; set one with name=)"},
        {"gen spiral\n", "/x/t.suite:1: gen: unknown pattern 'spiral' (known: lifo, fifo, churn, growth, survivors)"},
        {"gen survivors ops=5\n", "/x/t.suite:1: gen survivors: ops does not apply to this pattern (see docs/patterns.md)"},
        {"gen churn ops=many\n", "/x/t.suite:1: gen: bad value for ops: 'many' (see docs/patterns.md)"},
        {"gen churn sizes=lots\n", "/x/t.suite:1: gen: bad value for sizes: 'lots' (see docs/patterns.md)"},
        {"reps 0\npy json\n", "/x/t.suite:1: bad value for reps: '0' (expected 1..1000)"},
        {"timeout soon\n", "/x/t.suite:1: bad value for timeout: 'soon' (expected seconds, 0.001..1000000)"},
        {"reps 1 2\n", "/x/t.suite:1: reps: one value expected"},
        {"trace /nonexistent/x.pmt\n", "/x/t.suite:1: trace '/nonexistent/x.pmt' not found (/nonexistent/x.pmt; record it with scripts/record-python.sh, or mark the line optional)"},
        {"trace /x.pmt domain=heap\n", "/x/t.suite:1: bad value for domain: 'heap' (expected obj, mem, raw, pymalloc or all)"},
        {"# nothing\n", "/x/t.suite: no workloads (lines py, gen or trace)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pm_suite s;
        char err[PM_ERR_LEN] = "";
        if (pm_suite_parse(cases[i].text, "/x/t.suite", &s, err) == 0)
            fail_msg("case %zu parsed: %s", i, cases[i].text);
        if (strcmp(err, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].want);
        assert_null(strchr(err, '\n'));
    }
    struct pm_suite s;
    char err[PM_ERR_LEN];
    assert_int_equal(pm_suite_load("nosuch", &s, err), -1);
    assert_string_equal(err, "unknown suite 'nosuch' (known: default, full, quick; or give a file path)");
    assert_int_equal(pm_suite_load("/nonexistent/x.suite", &s, err), -1);
    assert_string_equal(err, "/nonexistent/x.suite: cannot open: No such file or directory");
}

/* ---- records ---- */

static void test_columns_are_documented(void **state)
{
    (void)state;
    char want[2048] = "";
    for (int i = 0; documented[i]; i++) {
        strcat(want, i ? "," : "");
        strcat(want, documented[i]);
    }
    strcat(want, "\n");
    char *h = pm_result_csv_header();
    assert_string_equal(h, want);
    free(h);
    struct pm_result r;
    pm_result_init(&r);
    cJSON *o = pm_result_to_json(&r);
    int i = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, o) {
        assert_non_null(documented[i]);
        assert_string_equal(k->string, documented[i]);
        assert_true(cJSON_IsNull(k));       /* a fresh record is all nulls */
        i++;
    }
    assert_null(documented[i]);
    cJSON_Delete(o);
    for (i = 0; pm_result_columns[i].name; i++)
        assert_true(strlen(pm_result_columns[i].description) > 5);
}

static void fill(struct pm_result *r, const char *w, const char *b, unsigned rep, const char *status,
                 double ns)
{
    pm_result_init(r);
    snprintf(r->workload, sizeof r->workload, "%s", w);
    snprintf(r->kind, sizeof r->kind, "gen");
    snprintf(r->backend, sizeof r->backend, "%s", b);
    r->rep = rep;
    snprintf(r->status, sizeof r->status, "%s", status);
    r->ns_per_op = ns;
    r->peak_footprint_bytes = (uint64_t)(ns * 1048576);
    r->frag4 = ns / 100;
    snprintf(r->params, sizeof r->params, "gen churn ops=1K seed=42");
}

static void test_csv_quoting_and_nulls(void **state)
{
    (void)state;
    struct pm_result r;
    fill(&r, "w", "pymalloc,preset=py38", 2, "failed", NAN);
    snprintf(r.failure, sizeof r.failure, "exit");
    snprintf(r.reason, sizeof r.reason, "exit 1: said \"no\"");
    r.peak_footprint_bytes = PM_STAT_NA;
    r.frag4 = NAN;
    char *row = pm_result_csv_row(&r);
    assert_non_null(strstr(row, "w,gen,\"pymalloc,preset=py38\",2,failed,exit,,,"));
    assert_non_null(strstr(row, ",\"exit 1: said \"\"no\"\"\","));   /* issue 20's columns follow */
    /* every row has as many fields as the header (outside quotes) */
    int commas = 0;
    bool q = false;
    for (const char *c = row; *c; c++) {
        if (*c == '"')
            q = !q;
        else if (*c == ',' && !q)
            commas++;
    }
    int want = 0;
    while (documented[want])
        want++;
    assert_int_equal(commas, want - 1);
    free(row);
    cJSON *o = pm_result_to_json(&r);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "peak_footprint_bytes")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "ns_per_op")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "series")));
    assert_string_equal(cJSON_GetObjectItem(o, "backend")->valuestring, "pymalloc,preset=py38");
    cJSON_Delete(o);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    struct pm_result a, b;
    fill(&a, "json", "system", 3, "ok", 12.25);
    a.ops = 123456789;
    a.lat_p999_ns = 1234.5;
    a.seed = 7;
    snprintf(a.series, sizeof a.series, "series/json__system__3.csv");
    cJSON *o = pm_result_to_json(&a);
    char *s = cJSON_PrintUnformatted(o);
    cJSON *p = cJSON_Parse(s);
    pm_result_init(&b);
    pm_result_set_from_json(&b, p, true);
    assert_string_equal(b.workload, "json");
    assert_string_equal(b.series, a.series);
    assert_int_equal(b.rep, 3);
    assert_int_equal(b.ops, 123456789);
    assert_true(b.ns_per_op == 12.25);
    assert_true(b.lat_p999_ns == 1234.5);
    assert_int_equal(b.gc_time_ns, PM_STAT_NA);
    assert_true(isnan(b.retention));
    assert_string_equal(b.reason, "");
    /* without strings: the numbers only */
    struct pm_result c;
    pm_result_init(&c);
    pm_result_set_from_json(&c, p, false);
    assert_string_equal(c.workload, "");
    assert_int_equal(c.ops, 123456789);
    free(s);
    cJSON_Delete(o);
    cJSON_Delete(p);
}

static void write_records(FILE *f, const struct pm_result *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cJSON *o = pm_result_to_json(&r[i]);
        char *s = cJSON_PrintUnformatted(o);
        fprintf(f, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    }
}

static void test_results_load_cut_short_and_bad(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/results.jsonl", tmpdir);
    struct pm_result r[2];
    fill(&r[0], "a", "system", 1, "ok", 10);
    fill(&r[1], "b", "system", 1, "ok", 20);
    FILE *f = fopen(path, "w");
    write_records(f, r, 2);
    long whole = ftell(f);
    fputs("{\"workload\":\"c\",\"kin", f);     /* cut short */
    fclose(f);
    struct pm_result *rows;
    size_t n;
    long partial;
    char err[PM_ERR_LEN];
    assert_int_equal(pm_results_load(tmpdir, &rows, &n, &partial, err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(partial, whole);
    assert_string_equal(rows[1].workload, "b");
    free(rows);
    f = fopen(path, "w");
    write_records(f, r, 1);
    fputs("{\"workload\":\"x\"}\n", f);
    write_records(f, r + 1, 1);
    fclose(f);
    assert_int_equal(pm_results_load(tmpdir, &rows, &n, &partial, err), -1);
    char want[600];
    snprintf(want, sizeof want, "%s:2: not a result record (no key 'kind')", path);
    assert_string_equal(err, want);
    unlink(path);
    assert_int_equal(pm_results_load(tmpdir, &rows, &n, &partial, err), 0);
    assert_int_equal(n, 0);
}

static void test_latest_and_summary(void **state)
{
    (void)state;
    struct pm_result r[9];
    fill(&r[0], "w", "cpython", 1, "ok", 10);
    fill(&r[1], "w", "cpython", 2, "ok", 30);
    fill(&r[2], "w", "cpython", 3, "ok", 20);
    fill(&r[3], "w", "pymalloc", 1, "ok", 5);
    fill(&r[4], "w", "pymalloc", 2, "failed", NAN);
    snprintf(r[4].reason, sizeof r[4].reason, "signal 11 (SIGSEGV)");
    fill(&r[5], "w", "pymalloc", 3, "ok", 40);
    fill(&r[6], "w", "pymalloc", 1, "failed", NAN);   /* a later record of run 1 wins */
    snprintf(r[6].reason, sizeof r[6].reason, "timeout: killed after 1 s");
    fill(&r[7], "v", "system", 1, "ok", 8);
    fill(&r[8], "v", "pymalloc", 1, "ok", 4);
    struct pm_summary s;
    assert_int_equal(pm_summary_build(r, 9, NULL, &s), 0);
    assert_int_equal(s.nworkloads, 2);
    assert_string_equal(s.workloads[0], "w");
    assert_string_equal(s.backends[0], "cpython");
    const struct pm_agg *c = pm_summary_get(&s, "w", "cpython");
    assert_non_null(c);
    assert_int_equal(c->ok, 3);
    assert_true(c->m[PM_AG_NS].med == 20 && c->m[PM_AG_NS].min == 10 && c->m[PM_AG_NS].max == 30);
    assert_true(c->is_baseline);
    assert_true(c->ratio.med == 1.0 && c->ratio.min == 0.5 && c->ratio.max == 1.5);
    const struct pm_agg *p = pm_summary_get(&s, "w", "pymalloc");
    assert_int_equal(p->ok, 1);
    assert_int_equal(p->failed, 2);
    assert_true(p->m[PM_AG_NS].med == 40);
    assert_true(p->ratio.med == 2.0);
    assert_string_equal(pm_summary_baseline_for(&s, "w"), "cpython");
    /* no cpython on v: system is the baseline */
    assert_string_equal(pm_summary_baseline_for(&s, "v"), "system");
    assert_true(pm_summary_get(&s, "v", "pymalloc")->ratio.med == 0.5);
    assert_null(pm_summary_get(&s, "v", "cpython"));
    pm_summary_free(&s);
    /* an explicit baseline without runs is not replaced */
    assert_int_equal(pm_summary_build(r, 9, "jemalloc", &s), 0);
    assert_null(pm_summary_baseline_for(&s, "w"));
    assert_true(isnan(pm_summary_get(&s, "w", "cpython")->ratio.med));
    FILE *f = tmpfile();
    pm_summary_print(f, &s, true);
    rewind(f);
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    fclose(f);
    /* 3 reps: the min..max interval covers the median at 75% only, and says so */
    assert_non_null(strstr(buf, "| w | cpython | 3/3 | 20.0 [10.0, 30.0] 75% | - | - |"));
    assert_non_null(strstr(buf, "- w on pymalloc: 2 of 3 failed: timeout: killed after 1 s"));
    pm_summary_free(&s);
}

/* ---- intervals (stats.h) against hand-computed answers ---- */

/* Issue 20: GC pause quantiles (R's type 7), on known answers. */
static void test_quantile_known_answers(void **state)
{
    (void)state;
    double a[4] = {4, 1, 3, 2};
    assert_true(fabs(pm_quantile(a, 4, 0.5) - 2.5) < 1e-12);
    assert_true(fabs(pm_quantile(a, 4, 0.0) - 1) < 1e-12);
    assert_true(fabs(pm_quantile(a, 4, 1.0) - 4) < 1e-12);
    double b[101];
    for (int i = 0; i < 100; i++)
        b[i] = 100 - i;                 /* 1..100, unsorted */
    b[100] = NAN;                       /* skipped */
    assert_true(fabs(pm_quantile(b, 101, 0.99) - 99.01) < 1e-9);
    assert_true(fabs(pm_quantile(b, 101, 0.5) - 50.5) < 1e-9);
    double one = 7;
    assert_true(fabs(pm_quantile(&one, 1, 0.99) - 7) < 1e-12);
    assert_true(isnan(pm_quantile(b + 100, 1, 0.5)));
}

static void test_median_interval_known_answers(void **state)
{
    (void)state;
    struct pm_ci ci;
    /* n = 6: k = 1 covers 1 - 2/64 = 96.875%; k = 2 only 1 - 2 * 7/64 = 78.1% */
    const double six[] = {5, 1, 4, 2, 6, 3};
    pm_ci_median(six, 6, &ci);
    assert_true(ci.n == 6 && ci.med == 3.5 && ci.lo == 1 && ci.hi == 6);
    assert_true(fabs(ci.level - 0.96875) < 1e-12);
    /* n = 5: no interval reaches 95%: min..max at 1 - 2/32 = 93.75% */
    pm_ci_median(six, 5, &ci);
    assert_true(ci.med == 4 && ci.lo == 1 && ci.hi == 6 && fabs(ci.level - 0.9375) < 1e-12);
    /* n = 20: P(Bin(20, 1/2) <= 5) = 0.0207 (k = 6: 95.86%), <= 6 = 0.0577 (k = 7: 88.5%) */
    double twenty[20];
    for (int i = 0; i < 20; i++)
        twenty[i] = 20 - i;     /* 20..1 */
    pm_ci_median(twenty, 20, &ci);
    assert_true(ci.med == 10.5 && ci.lo == 6 && ci.hi == 15);
    assert_true(fabs(ci.level - (1 - 2 * 21700.0 / 1048576.0)) < 1e-9);
    /* NAN skipped; none: all NAN */
    const double some[] = {NAN, 2, NAN};
    pm_ci_median(some, 3, &ci);
    assert_true(ci.n == 1 && ci.med == 2 && ci.level == 0);
    pm_ci_median(some, 1, &ci);
    assert_true(ci.n == 0 && isnan(ci.med) && isnan(ci.lo));
    /* overlap: touching counts, disjoint does not, unknown does not */
    struct pm_ci a = {.lo = 1, .hi = 2}, b = {.lo = 2, .hi = 3}, c = {.lo = 2.5, .hi = 4},
                 u = {.lo = NAN, .hi = NAN};
    assert_true(pm_ci_overlap(&a, &b));
    assert_false(pm_ci_overlap(&a, &c));
    assert_false(pm_ci_overlap(&a, &u));
}

static void test_ratio_interval_known_answers(void **state)
{
    (void)state;
    struct pm_ci ci;
    /* identical constant samples: the ratio is exactly 2 with no spread */
    const double a[] = {20, 20, 20, 20, 20, 20}, b[] = {10, 10, 10, 10, 10, 10};
    pm_ci_ratio(a, 6, b, 6, 0, &ci);
    assert_true(ci.med == 2 && ci.lo == 2 && ci.hi == 2);
    /* the interval holds the point estimate and lies within the extreme ratios
     * min(a)/max(b) .. max(a)/min(b); the same data give the same interval */
    const double x[] = {11, 12, 13, 14, 15, 16}, y[] = {9, 10, 10, 11, 10, 9};
    struct pm_ci again;
    pm_ci_ratio(x, 6, y, 6, 0, &ci);
    pm_ci_ratio(x, 6, y, 6, 0, &again);
    assert_true(fabs(ci.med - 13.5 / 10.0) < 1e-12);
    assert_true(ci.lo <= ci.med && ci.med <= ci.hi);
    assert_true(ci.lo >= 11.0 / 11.0 && ci.hi <= 16.0 / 9.0);
    assert_true(ci.lo > 1.0);           /* x is slower than y in every pairing of medians */
    assert_true(ci.lo == again.lo && ci.hi == again.hi);
    /* a zero baseline: undefined */
    const double z[] = {0, 0};
    pm_ci_ratio(x, 6, z, 2, 0, &ci);
    assert_true(isnan(ci.med));
}

/* A results folder written before format 2 (no time_mode, page-fault or
 * load columns, provenance without results_version) still loads, with those
 * columns empty; a folder of a newer version is refused naming it. */
static void test_results_format_versions(void **state)
{
    (void)state;
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/v1", tmpdir);
    assert_int_equal(pm_mkdir_p(dir), 0);
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* one record exactly as session-2 pymemlab wrote them (results/ of commit 5901130) */
    fputs("{\"workload\":\"json\",\"kind\":\"py\",\"backend\":\"pymalloc\",\"rep\":1,\"status\":\"ok\","
          "\"failure\":null,\"ops\":1000,\"ns_per_op\":79.5,\"peak_live_bytes\":10,\"final_live_bytes\":1,"
          "\"peak_footprint_bytes\":20,\"final_footprint_bytes\":5,\"trimmed_footprint_bytes\":4,"
          "\"frag4\":1,\"frag3\":1,\"frag_at_peak_live\":1,\"retention\":0.25,\"retention_trimmed\":0.2,"
          "\"backend_peak_mapped_bytes\":null,\"gc_collections\":1,\"gc_collected\":2,"
          "\"gc_uncollectable\":0,\"gc_time_ns\":100,\"lat_samples\":null,\"lat_p50_ns\":null,"
          "\"lat_p99_ns\":null,\"lat_p999_ns\":null,\"lat_max_ns\":null,\"lat_floor_ns\":null,"
          "\"max_rss_bytes\":100,\"wall_s\":0.5,\"seed\":1,\"scale\":0.1,\"params\":\"py json\","
          "\"series\":null,\"reason\":null}\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/provenance.json", dir);
    f = fopen(path, "w");
    fputs("{\"pymemlab\": {\"commit\": \"5901130\"}, \"config\": {\"reps\": 3}}\n", f);
    fclose(f);
    char err[PM_ERR_LEN];
    int v = 0;
    assert_int_equal(pm_results_check_version(dir, &v, err), 0);
    assert_int_equal(v, 1);
    struct pm_result *rows = NULL;
    size_t n = 0;
    long partial;
    if (pm_results_load(dir, &rows, &n, &partial, err))
        fail_msg("load: %s", err);
    assert_int_equal(n, 1);
    assert_true(rows[0].ns_per_op == 79.5);
    assert_string_equal(rows[0].time_mode, "");
    assert_true(isnan(rows[0].minflt_per_op) && rows[0].loaded == PM_STAT_NA);
    struct pm_summary s;
    assert_int_equal(pm_summary_build(rows, n, NULL, &s), 0);
    assert_string_equal(s.rows[0].time_mode, "");
    assert_int_equal(s.rows[0].loaded, 0);
    pm_summary_free(&s);
    free(rows);
    /* a newer format: refused with one line naming the version */
    f = fopen(path, "w");
    fputs("{\"results_version\": 9}\n", f);
    fclose(f);
    assert_int_equal(pm_results_check_version(dir, &v, err), -1);
    assert_non_null(strstr(err, "results format version 9; this pymemlab reads versions 1 to 2"));
    assert_null(strchr(err, '\n'));
}

/* ---- latency ---- */

static void test_latency_quantiles(void **state)
{
    (void)state;
    struct pm_lat *l = malloc(sizeof *l);
    pm_lat_init(l, 1);
    uint64_t floor = l->floor;
    for (uint64_t v = 1; v <= 10000; v++)
        pm_lat_add(l, v, v + floor);
    l->ns_per_tick = 1.0;       /* ticks as ns, for the test */
    struct pm_lat_summary s;
    pm_lat_summarize(l, &s);
    assert_int_equal(s.samples, 10000);
    assert_true(fabs(s.p50_ns - 5000) / 5000 < 0.035);
    assert_true(fabs(s.p99_ns - 9900) / 9900 < 0.035);
    assert_true(fabs(s.p999_ns - 9990) / 9990 < 0.035);
    assert_true(s.max_ns == 10000);
    /* small values are exact */
    pm_lat_init(l, 1);
    for (uint64_t v = 0; v < 10; v++)
        pm_lat_add(l, v, 7 + l->floor);
    l->ns_per_tick = 1.0;
    pm_lat_summarize(l, &s);
    assert_true(s.p50_ns == 7 && s.max_ns == 7);
    /* below the floor: 0, not a wrapped-around huge value */
    pm_lat_init(l, 1);
    pm_lat_add(l, 1, 0);
    l->ns_per_tick = 1.0;
    pm_lat_summarize(l, &s);
    assert_true(s.max_ns == 0);
    free(l);
}

static void test_latency_gaps_are_random(void **state)
{
    (void)state;
    struct pm_lat *l = malloc(sizeof *l);
    pm_lat_init(l, 64);
    uint64_t due = 0, odd = 0;
    for (uint64_t k = 1; k <= 640000; k++)
        if (pm_lat_due(l, k)) {
            due++;
            odd += k & 1;
            pm_lat_add(l, k, l->floor + 1);
        }
    /* mean gap 64: about 10000 timed ops, odd and even ones alike */
    assert_true(due > 9000 && due < 11000);
    assert_true(odd > due * 4 / 10 && odd < due * 6 / 10);
    free(l);
}

/* docs/main-job.md's results-columns table is result_fields.def, line by
 * line: name, type, unit, summary, meaning (the doc is generated from the
 * list; a field added, renamed or redescribed in one place only fails). */
static void test_columns_doc_table_is_the_list(void **state)
{
    (void)state;
    const char *src = getenv("PM_SOURCE_DIR");
    assert_non_null(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/main-job.md", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char line[4096], want[4096];
    bool in = false;
    int i = -2, bad = 0;        /* -2, -1: the heading and rule rows */
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strstr(line, "<!-- results-columns:begin -->")) {
            in = true;
            continue;
        }
        if (strstr(line, "<!-- results-columns:end -->"))
            break;
        if (!in)
            continue;
        if (i == -2)
            snprintf(want, sizeof want, "| column | type | unit | summary | meaning |");
        else if (i == -1)
            snprintf(want, sizeof want, "| --- | --- | --- | --- | --- |");
        else if (pm_result_columns[i].name) {
            const struct pm_result_column *c = &pm_result_columns[i];
            snprintf(want, sizeof want, "| `%s` | %s | %s | %s | %s |", c->name,
                     c->type == 'S' ? "string" : c->type == 'U' ? "count" : "number", c->unit,
                     c->agg >= 0 ? "median, min\xe2\x80\x93max" : "", c->description);
        } else {
            snprintf(want, sizeof want, "(no more fields)");
        }
        if (strcmp(line, want)) {
            fprintf(stderr, "docs/main-job.md row %d:\n  has:  %s\n  want: %s\n", i + 3, line, want);
            bad++;
        }
        i++;
    }
    fclose(f);
    assert_true(in);
    assert_null(pm_result_columns[i >= 0 ? i : 0].name);    /* every field has its row */
    assert_int_equal(bad, 0);
}

/* The one derivation of the ratios, on known answers; a zero denominator
 * is undefined (null), never 0. */
static void test_result_derive_known_answers(void **state)
{
    (void)state;
    struct pm_result r;
    pm_result_init(&r);
    struct pm_mem_points p = {.peak_live = 100, .peak_footprint = 150,
                              .live_at_peak_footprint = 120, .footprint_at_peak_live = 130,
                              .live_at_peak_live = 100, .final_footprint = 60,
                              .trimmed_footprint = 30};
    pm_result_derive(&r, &p);
    assert_true(fabs(r.frag4 - 0.5) < 1e-12);
    assert_true(fabs(r.frag3 - 0.25) < 1e-12);
    assert_true(fabs(r.frag_at_peak_live - 0.3) < 1e-12);
    assert_true(fabs(r.retention - 0.4) < 1e-12);
    assert_true(fabs(r.retention_trimmed - 0.2) < 1e-12);
    assert_int_equal(r.peak_live_bytes, 100);
    assert_int_equal(r.peak_footprint_bytes, 150);
    assert_int_equal(r.final_footprint_bytes, 60);
    assert_int_equal(r.trimmed_footprint_bytes, 30);
    struct pm_mem_points z = {0};
    pm_result_derive(&r, &z);
    assert_true(isnan(r.frag4) && isnan(r.frag3) && isnan(r.frag_at_peak_live));
    assert_true(isnan(r.retention) && isnan(r.retention_trimmed));
    pm_result_no_memory(&r);
    assert_true(r.peak_footprint_bytes == PM_STAT_NA && r.backend_peak_mapped_bytes == PM_STAT_NA);
}

/* One emitter: a document's keys are its fields (result_fields.def's json
 * flags), conditional groups only when they apply, lat_* only with
 * samples; the record (doc 0) has every field. */
static void test_result_json_documents(void **state)
{
    (void)state;
    struct pm_result r;
    pm_result_init(&r);
    cJSON *o = cJSON_CreateObject();
    assert_int_equal(pm_result_json_add(o, &r, PM_J_P, 0), 0);
    assert_non_null(cJSON_GetObjectItem(o, "frag4"));
    assert_non_null(cJSON_GetObjectItem(o, "scale"));
    assert_null(cJSON_GetObjectItem(o, "minflt_per_op"));     /* pyrun: only when timed */
    assert_null(cJSON_GetObjectItem(o, "gc_pauses"));         /* only when measured */
    assert_null(cJSON_GetObjectItem(o, "lat_p99_ns"));        /* only with samples */
    assert_null(cJSON_GetObjectItem(o, "rep"));               /* the runner's, not pyrun's */
    cJSON_Delete(o);
    o = cJSON_CreateObject();
    r.lat_samples = 10;
    assert_int_equal(pm_result_json_add(o, &r, PM_J_P, PM_J_P_TIMED | PM_J_P_MEASURED), 0);
    assert_non_null(cJSON_GetObjectItem(o, "minflt_per_op"));
    assert_non_null(cJSON_GetObjectItem(o, "majflt_per_op"));
    assert_non_null(cJSON_GetObjectItem(o, "gc_pauses"));
    assert_non_null(cJSON_GetObjectItem(o, "lat_p99_ns"));
    cJSON_Delete(o);
    o = cJSON_CreateObject();
    assert_int_equal(pm_result_json_add(o, &r, PM_J_R, 0), 0);
    assert_non_null(cJSON_GetObjectItem(o, "minflt_per_op"));  /* replay: always */
    assert_non_null(cJSON_GetObjectItem(o, "trimmed_footprint_bytes"));
    assert_null(cJSON_GetObjectItem(o, "gc_collections"));
    assert_null(cJSON_GetObjectItem(o, "workload"));
    cJSON_Delete(o);
    o = pm_result_to_json(&r);
    int n = 0, cols = 0;
    const cJSON *k;
    cJSON_ArrayForEach(k, o) n++;
    while (pm_result_columns[cols].name)
        cols++;
    assert_int_equal(n, cols);
    cJSON_Delete(o);
}

/* The one provenance comparison: the configuration for run --resume, the
 * build and machine for merge; NULL when equal. */
static void test_prov_differs(void **state)
{
    (void)state;
    const char *a_txt = "{\"pymemlab\":{\"commit\":\"abc\",\"dirty\":false,\"compiler\":\"gcc\","
                        "\"build_type\":\"Release\",\"flags\":\"-O3\"},\"machine\":{\"cpu_model\":\"X\"},"
                        "\"config\":{\"workloads\":[1],\"backends\":[\"system\"],\"reps\":6,"
                        "\"only\":null,\"time_mode\":\"cold\",\"jobs\":1}}";
    cJSON *a = cJSON_Parse(a_txt), *b = cJSON_Parse(a_txt);
    const char *va, *vb;
    assert_null(pm_prov_differs(a, b, PM_PROV_CONFIG | PM_PROV_BUILD, &va, &vb));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(b, "config"), "jobs", cJSON_CreateNumber(2));
    assert_null(pm_prov_differs(a, b, PM_PROV_CONFIG, NULL, NULL));    /* not identity */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(b, "config"), "reps", cJSON_CreateNumber(3));
    assert_string_equal(pm_prov_differs(a, b, PM_PROV_CONFIG, NULL, NULL), "reps");
    assert_null(pm_prov_differs(a, b, PM_PROV_BUILD, &va, &vb));       /* merge: comparable */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(b, "pymemlab"), "dirty", cJSON_CreateTrue());
    assert_string_equal(pm_prov_differs(a, b, PM_PROV_BUILD, &va, &vb), "dirty");
    assert_string_equal(va, "false");
    assert_string_equal(vb, "true");
    cJSON_Delete(a);
    cJSON_Delete(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_suites_parse),
        cmocka_unit_test(test_suite_defaults_and_params),
        cmocka_unit_test(test_suite_trace_globs),
        cmocka_unit_test(test_suite_gc_sweep),
        cmocka_unit_test(test_suite_bad_lines),
        cmocka_unit_test(test_columns_are_documented),
        cmocka_unit_test(test_columns_doc_table_is_the_list),
        cmocka_unit_test(test_result_derive_known_answers),
        cmocka_unit_test(test_result_json_documents),
        cmocka_unit_test(test_prov_differs),
        cmocka_unit_test(test_quantile_known_answers),
        cmocka_unit_test(test_csv_quoting_and_nulls),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_results_load_cut_short_and_bad),
        cmocka_unit_test(test_latest_and_summary),
        cmocka_unit_test(test_median_interval_known_answers),
        cmocka_unit_test(test_ratio_interval_known_answers),
        cmocka_unit_test(test_results_format_versions),
        cmocka_unit_test(test_latency_quantiles),
        cmocka_unit_test(test_latency_gaps_are_random),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
