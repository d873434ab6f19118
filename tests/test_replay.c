/* tests/test_replay.c — the replay loop and its metrics on hand-written
 * traces whose figures are computed by hand. */
#include "pm_test.h"
#include "replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[256];

static struct pm_trace *open_text(const char *text)
{
    snprintf(path, sizeof path, "/tmp/pm_test_replay_%d.txt", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    struct pm_trace *t;
    char err[PM_ERR_LEN];
    if (pm_trace_open(path, &t, err))
        fail_msg("open: %s", err);
    return t;
}

static void close_text(struct pm_trace *t)
{
    pm_trace_close(t);
    unlink(path);
}

/* L(t): 100, 300, 200, 500, 350, 1350, 1300, 1000 (calloc 10 x 30 = 300;
 * realloc 200 -> 50). Peak 1350 after op 6, final 1000. */
static const char *hand_trace =
    "pmtrace 1\n"
    "alloc 0 100\n"
    "alloc 1 200\n"
    "free 0\n"
    "calloc 2 10 30\n"
    "phase 1\n"
    "realloc 1 50\n"
    "alloc 0 1000\n"
    "free 1\n"
    "free 2\n";

static void test_scan_live_bytes_by_hand(void **state)
{
    (void)state;
    struct pm_trace *t = open_text(hand_trace);
    struct pm_replay_scan s;
    char err[PM_ERR_LEN];
    assert_int_equal(pm_replay_scan(t, 0, &s, err), 0);
    assert_int_equal(s.ops, 8);               /* the phase mark is not an op */
    assert_int_equal(s.peak_live_bytes, 1350);
    assert_int_equal(s.peak_live_op, 6);
    assert_int_equal(s.final_live_bytes, 1000);
    close_text(t);
}

static void test_domain_filter(void **state)
{
    (void)state;
    struct pm_trace *t = open_text("pmtrace 1\n"
                                   "alloc 0 64 obj\n"
                                   "alloc 1 1000 raw\n"
                                   "alloc 2 128 mem\n"
                                   "free 0 obj\n"
                                   "alloc 0 32 obj\n");
    struct pm_replay_scan s;
    char err[PM_ERR_LEN];
    unsigned mask;
    assert_true(pm_replay_parse_domains("obj", &mask));
    assert_int_equal(pm_replay_scan(t, mask, &s, err), 0);
    assert_int_equal(s.ops, 3);
    assert_int_equal(s.peak_live_bytes, 64);
    assert_int_equal(s.final_live_bytes, 32);
    assert_true(pm_replay_parse_domains("pymalloc", &mask));
    assert_int_equal(pm_replay_scan(t, mask, &s, err), 0);
    assert_int_equal(s.ops, 4);
    assert_int_equal(s.peak_live_bytes, 192);
    assert_true(pm_replay_parse_domains("all", &mask));
    assert_int_equal(pm_replay_scan(t, mask, &s, err), 0);
    assert_int_equal(s.ops, 5);
    assert_int_equal(s.peak_live_bytes, 1192);
    assert_false(pm_replay_parse_domains("heap", &mask));
    close_text(t);
}

static void test_measure_samples_at_peak_live(void **state)
{
    (void)state;
    struct pm_trace *t = open_text(hand_trace);
    struct pm_replay_scan s;
    struct pm_replay_result r;
    char err[PM_ERR_LEN];
    struct pm_replay_opts o = {.sample_every = 3, .touch = PM_TOUCH_PAGES};
    assert_int_equal(pm_replay_scan(t, 0, &s, err), 0);
    if (pm_replay_measure(t, "system", &o, &s, &r, err))
        fail_msg("measure: %s", err);
    /* samples: ops 3 and 6 (every 3), 6 is also the peak, the phase mark
     * (after op 4), op 6 again is not double counted, and the end */
    assert_int_equal(r.scan.peak_live_op, 6);
    assert_int_equal(r.samples, 4);
    assert_true(r.retention >= 0.0 && r.retention <= 1.0);
    uint64_t ns = 0;
    assert_int_equal(pm_replay_time(t, "system", &o, &ns, err), 0);
    assert_true(ns > 0);
    close_text(t);
}

/* 32 blocks of 2 MiB, touched page by page, then all freed: buddy serves
 * requests above its 1 MiB maximum order with their own mappings and unmaps
 * them on free, so the footprint peaks at about 64 MiB (frag4 near 0) and the
 * process keeps almost nothing (retention near 0). A replay that did not
 * touch, or sampled the wrong thing, fails this. (Not glibc: under ASan its
 * quarantine keeps freed memory.) */
static void test_footprint_and_retention_of_large_blocks(void **state)
{
    (void)state;
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "pmtrace 1\n");
    for (int i = 0; i < 32; i++)
        len += (size_t)snprintf(text + len, cap - len, "alloc %d 2097152\n", i);
    for (int i = 0; i < 32; i++)
        len += (size_t)snprintf(text + len, cap - len, "free %d\n", i);
    struct pm_trace *t = open_text(text);
    free(text);
    struct pm_replay_scan s;
    struct pm_replay_result r;
    char err[PM_ERR_LEN];
    struct pm_replay_opts o = {.sample_every = 1, .touch = PM_TOUCH_PAGES};
    assert_int_equal(pm_replay_scan(t, 0, &s, err), 0);
    assert_int_equal(s.peak_live_bytes, 64u << 20);
    assert_int_equal(s.peak_live_op, 32);
    if (pm_replay_measure(t, "buddy", &o, &s, &r, err))
        fail_msg("measure: %s", err);
    double peak_mib = (double)r.peak_footprint_bytes / (1 << 20);
    const double slack = 4;
    if (peak_mib < 60 || peak_mib > 64 + slack)
        fail_msg("peak footprint %.1f MiB, expected about 64", peak_mib);
    assert_true(r.frag4 > -0.07 && r.frag4 < (slack + 2) / 64);
    assert_true(r.footprint_at_peak_live >= (60u << 20));
    if (r.retention > 0.1)
        fail_msg("retention %.3f, expected near 0", r.retention);
    close_text(t);
}

static void test_check_every_stops_at_first_violation(void **state)
{
    (void)state;
    struct pm_trace *t = open_text("pmtrace 1\nalloc 0 16\nalloc 1 16\nalloc 2 16\nalloc 3 16\n"
                                   "alloc 4 16\nalloc 5 16\nfree 0\n");
    struct pm_replay_scan s;
    struct pm_replay_result r;
    char err[PM_ERR_LEN];
    struct pm_replay_opts o = {.check_every = 1};
    assert_int_equal(pm_replay_scan(t, 0, &s, err), 0);
    assert_int_equal(pm_replay_measure(t, "test-badcheck,after=3", &o, &s, &r, err), 1);
    assert_string_equal(err, "check() found 1 violation(s) after op 3: "
                             "test-badcheck: deliberate violation after 3 mallocs");
    o.check_every = 2;   /* checks after ops 2, 4: the first failing one is 4 */
    assert_int_equal(pm_replay_measure(t, "test-badcheck,after=3", &o, &s, &r, err), 1);
    assert_non_null(strstr(err, "after op 4:"));
    o.check_every = 1;   /* a backend without check() cannot be checked */
    assert_int_equal(pm_replay_measure(t, "mimalloc", &o, &s, &r, err), 2);
    assert_non_null(strstr(err, "has no check()"));
    close_text(t);
}

static void test_series_rows(void **state)
{
    (void)state;
    struct pm_trace *t = open_text(hand_trace);
    struct pm_replay_scan s;
    struct pm_replay_result r;
    char err[PM_ERR_LEN], buf[4096] = "";
    FILE *f = tmpfile();
    struct pm_replay_opts o = {.sample_every = 2, .series = f};
    assert_int_equal(pm_replay_scan(t, 0, &s, err), 0);
    assert_int_equal(pm_replay_measure(t, "null", &o, &s, &r, err), 0);
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    /* header, ops 2, 4, the phase (after op 4), 6, 8, the end (op 8) */
    assert_non_null(strstr(buf, "op,live_bytes,footprint_bytes,mapped_bytes\n2,300,"));
    assert_non_null(strstr(buf, "\n6,1350,"));
    assert_non_null(strstr(buf, "\n8,1000,"));
    unsigned lines = 0;
    for (char *p = buf; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 7);
    close_text(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_live_bytes_by_hand),
        cmocka_unit_test(test_domain_filter),
        cmocka_unit_test(test_measure_samples_at_peak_live),
        cmocka_unit_test(test_footprint_and_retention_of_large_blocks),
        cmocka_unit_test(test_check_every_stops_at_first_violation),
        cmocka_unit_test(test_series_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
