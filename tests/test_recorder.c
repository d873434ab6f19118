/* tests/test_recorder.c — the library side of real traces: trace statistics
 * (workloads/trace/tracestats.c) against a hand-computed trace and against a
 * brute-force oracle (every lifetime stored and sorted) on generated traces;
 * the mtrace importer (workloads/trace/mtrace.c) on logs with every line kind,
 * its counts and its error messages; the cut of a recording whose recorder
 * died (workloads/recorder/recording.c). The recorder itself runs in
 * tests/cli/record.sh (it must be preloaded into a process).
 */
#include "pm_test.h"
#include "recording.h"
#include "tracestats.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct pm_trace *open_text(const char *text)
{
    struct pm_trace *t;
    char err[PM_ERR_LEN];
    int r = pm_trace_open_mem(text, strlen(text), "t.txt", &t, err);
    if (r)
        fail_msg("%s", err);
    return t;
}

/* ---- statistics ---- */

static void test_stats_hand(void **state)
{
    (void)state;
    static const char text[] = "pmtrace 1\n"
                               "alloc 0 100 obj\n"      /* op 1: live 100 */
                               "alloc 1 600 raw\n"      /* op 2: 700 */
                               "calloc 2 10 3 mem\n"    /* op 3: 730, 3 blocks */
                               "realloc 0 200 obj\n"    /* op 4: 830 (the peak), grows */
                               "free 1 raw\n"           /* op 5: lifetime 3, class > 512 */
                               "realloc 2 16 mem\n"     /* op 6: shrinks */
                               "phase 1\n"              /* not an op */
                               "aligned 1 64 4096\n"    /* op 7 */
                               "free 0 obj\n"           /* op 8: lifetime 7, class 97-112 */
                               "free 2 mem\n"           /* op 9: lifetime 6, class 17-32 */
                               "alloc 0 0 obj\n";       /* op 10: class 0 */
    struct pm_trace *t = open_text(text);
    struct pm_trace_stats s;
    char err[PM_ERR_LEN];
    assert_int_equal(pm_trace_stats(t, false, &s, err), 0);
    assert_int_equal(s.ops, 10);
    assert_int_equal(s.phases, 1);
    assert_int_equal(s.kind_domain[PM_OP_ALLOC][PM_DOMAIN_OBJ], 2);
    assert_int_equal(s.kind_domain[PM_OP_ALLOC][PM_DOMAIN_RAW], 1);
    assert_int_equal(s.kind_domain[PM_OP_CALLOC][PM_DOMAIN_MEM], 1);
    assert_int_equal(s.kind_domain[PM_OP_ALIGNED][PM_DOMAIN_NONE], 1);
    assert_int_equal(s.kind_domain[PM_OP_FREE][PM_DOMAIN_MEM], 1);
    assert_true(s.tagged);
    assert_int_equal(s.peak_live_bytes, 830);
    assert_int_equal(s.peak_live_bytes_op, 4);
    assert_int_equal(s.peak_live_blocks, 3);
    assert_int_equal(s.peak_live_blocks_op, 3);
    assert_int_equal(s.final_live_bytes, 64);
    assert_int_equal(s.final_live_blocks, 2);
    assert_int_equal(s.requests, 7);
    assert_int_equal(s.requested_bytes, 1010);
    assert_int_equal(s.pymalloc_requests, 4);   /* 100 obj, 30 mem, 200 obj, 16 mem */
    assert_int_equal(s.pymalloc_bytes, 346);
    assert_int_equal(s.realloc_grow, 1);
    assert_int_equal(s.realloc_shrink, 1);
    assert_int_equal(s.realloc_same, 0);
    assert_int_equal(s.class_allocs[0], 1);
    assert_int_equal(s.class_allocs[2], 1);    /* 30 bytes */
    assert_int_equal(s.class_allocs[4], 1);    /* 64 */
    assert_int_equal(s.class_allocs[7], 1);    /* 100 */
    assert_int_equal(s.class_allocs[33], 1);   /* 600 */
    assert_int_equal(s.class_bytes[2], 30);
    assert_int_equal(s.class_reallocs[13], 1); /* 200 */
    assert_int_equal(s.class_reallocs[1], 1);  /* 16 */
    assert_int_equal(s.life[0].count, 3);
    assert_int_equal(s.life[0].p50, 6);        /* of 3, 6, 7 */
    assert_int_equal(s.life[0].p90, 7);
    assert_int_equal(s.life[0].p99, 7);
    assert_int_equal(s.life[0].max, 7);
    assert_int_equal(s.life[1 + 33].p50, 3);
    assert_int_equal(s.life[1 + 7].max, 7);
    assert_int_equal(s.life[1 + 2].count, 1);
    assert_int_equal(s.live_at_end[0], 2);
    assert_int_equal(s.live_at_end[1 + 4], 1);
    assert_int_equal(s.live_at_end[1 + 0], 1);
    assert_true(s.finished);
    pm_trace_close(t);

    /* without domains every 1..512-byte request counts */
    t = open_text("pmtrace 1\nalloc 0 100\nalloc 1 600\nfree 0\nalloc 0 512\nrealloc 0 513\n");
    assert_int_equal(pm_trace_stats(t, false, &s, err), 0);
    assert_false(s.tagged);
    assert_int_equal(s.requests, 4);
    assert_int_equal(s.pymalloc_requests, 2);
    pm_trace_close(t);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The oracle: every lifetime kept, sorted, nearest rank. */
static void oracle_check(struct pm_trace *t, const struct pm_trace_stats *s)
{
    uint64_t nslots = pm_trace_slot_count(t) + 1, nops = pm_trace_op_count(t) + 1;
    uint64_t *born = calloc(nslots, sizeof *born);
    unsigned *cls = calloc(nslots, sizeof *cls);
    uint64_t *vals[PM_STATS_GROUPS];
    uint64_t n[PM_STATS_GROUPS] = {0};
    for (unsigned g = 0; g < PM_STATS_GROUPS; g++)
        vals[g] = malloc(nops * sizeof **vals);
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    uint64_t k = 0;
    assert_int_equal(pm_trace_cursor_init(&c, t), 0);
    while (pm_trace_next(&c, &op) == 1) {
        if (op.kind == PM_OP_PHASE)
            continue;
        k++;
        if (op.kind == PM_OP_FREE) {
            uint64_t v = k - born[op.slot];
            vals[0][n[0]++] = v;
            unsigned g = 1 + cls[op.slot];
            vals[g][n[g]++] = v;
        } else if (op.kind != PM_OP_REALLOC) {
            born[op.slot] = k;
            cls[op.slot] = pm_stats_class(op.kind == PM_OP_CALLOC ? op.size * op.arg : op.size);
        }
    }
    assert_int_equal(c.status, 1);
    for (unsigned g = 0; g < PM_STATS_GROUPS; g++) {
        assert_int_equal(s->life[g].count, n[g]);
        if (!n[g])
            continue;
        qsort(vals[g], n[g], sizeof **vals, cmp_u64);
        static const unsigned pct[3] = {50, 90, 99};
        uint64_t got[3] = {s->life[g].p50, s->life[g].p90, s->life[g].p99};
        for (unsigned q = 0; q < 3; q++) {
            uint64_t rank = (n[g] * pct[q] + 99) / 100;
            if (got[q] != vals[g][rank - 1])
                fail_msg("group %u p%u: got %llu, expected %llu", g, pct[q], (unsigned long long)got[q],
                         (unsigned long long)vals[g][rank - 1]);
        }
        assert_int_equal(s->life[g].max, vals[g][n[g] - 1]);
    }
    for (unsigned g = 0; g < PM_STATS_GROUPS; g++)
        free(vals[g]);
    free(born);
    free(cls);
}

static void test_stats_quantiles_exact(void **state)
{
    (void)state;
    static const struct {
        const char *pattern;
        struct pm_tracegen_opts o;
    } cases[] = {
        {"churn", {.set = PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_SEED, .ops = 200000, .live = 3000, .seed = 1}},
        {"churn", {.set = PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_SEED | PM_GEN_REALLOC_FRAC, .ops = 100000,
                   .live = 50, .seed = 2, .realloc_frac = 0.3}},
        {"fifo", {.set = PM_GEN_OPS | PM_GEN_LIVE, .ops = 100000, .live = 20000}},
        {"survivors", {.set = PM_GEN_LIVE | PM_GEN_KEEP_EVERY | PM_GEN_AGAIN, .live = 60000, .keep_every = 7,
                       .again = 1000}},
        {"growth", {.set = PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_MAX_LEN, .ops = 50000, .live = 20, .max_len = 3000}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[PM_ERR_LEN];
        struct pm_trace_writer *w = pm_trace_writer_open_mem(err);
        assert_non_null(w);
        if (pm_tracegen(cases[i].pattern, &cases[i].o, w, err))
            fail_msg("%s", err);
        uint8_t *buf;
        size_t len;
        struct pm_trace *t;
        assert_int_equal(pm_trace_writer_close_mem(w, &buf, &len, err), 0);
        assert_int_equal(pm_trace_open_mem(buf, len, cases[i].pattern, &t, err), 0);
        struct pm_trace_stats s;
        assert_int_equal(pm_trace_stats(t, false, &s, err), 0);
        oracle_check(t, &s);
        pm_trace_close(t);
        free(buf);
    }
}

/* A malformed trace is an error naming the op; a lenient read of an
 * unfinished one works and says what it read. */
static void test_stats_errors_and_lenient(void **state)
{
    (void)state;
    char err[PM_ERR_LEN];
    struct pm_trace_stats s;
    static const uint8_t bad[] = {
        'P', 'M', 'T', 'R', 'A', 'C', 'E', 0, 1, 0, 0, 0, 1, 0, 0, 0,   /* version 1, finished */
        2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,                 /* 2 ops, 1 slot */
        0, 0, 0, 0, 0, 0, 0, 0,                                         /* no metadata */
        3, 0x01, 0x80,                                                  /* alloc 0 128 */
        2, 0x04, 0x04, 0x04,                                            /* free 0, then junk */
    };
    struct pm_trace *t;
    assert_int_equal(pm_trace_open_mem(bad, sizeof bad, "bad.pmt", &t, err), 0);
    assert_int_equal(pm_trace_stats(t, false, &s, err), -1);
    assert_string_equal(err, "op 2 at byte 45: more ops than the header's op count 2 (2 more bytes follow)");
    pm_trace_close(t);

    uint8_t unf[sizeof bad - 1];   /* alloc 0 128, free 0, then one byte of an op */
    memcpy(unf, bad, sizeof unf);
    struct pm_trace_header h = {.version = 1, .flags = 0, .op_count = PM_TRACE_OPS_UNKNOWN};
    pm_trace_header_encode(unf, &h);
    unf[sizeof unf - 1] = 3;   /* a partial alloc: its length byte only */
    assert_int_equal(pm_trace_open_mem(unf, sizeof unf, "unf.pmt", &t, err), 0);
    assert_int_equal(pm_trace_stats(t, false, &s, err), -1);
    assert_non_null(strstr(err, "the recording did not finish"));
    assert_int_equal(pm_trace_stats(t, true, &s, err), 0);
    assert_int_equal(s.ops, 2);
    assert_false(s.finished);
    assert_int_equal(s.dropped_bytes, 1);
    assert_int_equal(s.life[0].count, 1);
    assert_int_equal(s.life[0].max, 1);
    pm_trace_close(t);
}

/* ---- mtrace ---- */

static int import_text(const char *log, char *ops, size_t cap, struct pm_mtrace_report *r, char err[PM_ERR_LEN])
{
    FILE *f = fmemopen((void *)log, strlen(log), "r");
    assert_non_null(f);
    struct pm_trace_writer *w = pm_trace_writer_open_mem(err);
    assert_non_null(w);
    int rc = pm_mtrace_import(f, "m.log", w, r, err);
    fclose(f);
    if (rc) {
        pm_trace_writer_abort(w);
        return rc;
    }
    uint8_t *buf;
    size_t len;
    struct pm_trace *t;
    assert_int_equal(pm_trace_writer_close_mem(w, &buf, &len, err), 0);
    assert_int_equal(pm_trace_open_mem(buf, len, "m.pmt", &t, err), 0);
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    size_t n = 0;
    assert_int_equal(pm_trace_cursor_init(&c, t), 0);
    while (pm_trace_next(&c, &op) == 1) {
        n += pm_trace_op_format(ops + n, &op);
        ops[n++] = ';';
        assert_true(n + 80 < cap);
    }
    ops[n] = '\0';
    assert_int_equal(c.status, 1);
    pm_trace_close(t);
    free(buf);
    return 0;
}

static void test_mtrace_import(void **state)
{
    (void)state;
    static const char log[] = "= Start\n"
                              "@ ./prog:[0x401136] + 0x1000 0x64\n"
                              "@ /lib/libc.so.6:(__libc_start_main+0x80)[0x7f00] + 0x2000 0x10\n"
                              "+ 0x3000 0\n"
                              "@ ./prog:[0x1] - 0x9999\n"                       /* never allocated */
                              "@ ./a b c:[0x2] < 0x1000\n"
                              "@ ./a b c:[0x2] > 0x4000 0x1388\n"               /* moves */
                              "@ ./prog:[0x3] < 0x5000\n"
                              "@ ./prog:[0x3] > 0x5000 0x20\n"                  /* unknown old block */
                              "@ ./prog:[0x4] + (nil) 0x4000000000000000\n"    /* failed */
                              "@ ./prog:[0x5] ! 0x2000 0x4000000000000000\n"   /* failed realloc */
                              "@ ./prog:[0x6] + 0x2000 0x30\n"                  /* 0x2000 still live */
                              "\r\n"
                              "- 0x3000\n"
                              "@ ./prog:[0x8] + 0x6000 20000000000000\n"        /* over 1 TiB */
                              "= End\n";
    char ops[4096], err[PM_ERR_LEN];
    struct pm_mtrace_report r;
    assert_int_equal(import_text(log, ops, sizeof ops, &r, err), 0);
    assert_string_equal(ops, "alloc 0 100;alloc 1 16;alloc 2 0;realloc 0 5000;alloc 3 32;free 1;alloc 1 48;"
                             "free 2;");
    assert_int_equal(r.lines, 16);
    assert_int_equal(r.ops, 8);
    assert_int_equal(r.allocs, 5);
    assert_int_equal(r.reallocs, 1);
    assert_int_equal(r.frees, 2);
    assert_int_equal(r.unknown_frees, 1);
    assert_int_equal(r.unknown_reallocs, 1);
    assert_int_equal(r.missed_frees, 1);
    assert_int_equal(r.failed, 2);
    assert_int_equal(r.oversize, 1);
    assert_int_equal(r.sections, 1);
    assert_int_equal(r.live_at_end, 3);
    assert_int_equal(r.slots, 4);

    /* a dry run counts the same */
    FILE *f = fmemopen((void *)log, strlen(log), "r");
    struct pm_mtrace_report r2;
    assert_int_equal(pm_mtrace_import(f, "m.log", NULL, &r2, err), 0);
    fclose(f);
    assert_memory_equal(&r, &r2, sizeof r);
}

static void test_mtrace_errors(void **state)
{
    (void)state;
    static const struct {
        const char *log, *msg;
    } cases[] = {
        {"= Start\n+ 0x10 0x8\nhello world\n",
         "m.log:3: unrecognised mtrace line 'hello world' (expected '@ CALLER + ADDR SIZE', '- ADDR', '< ADDR', "
         "'> ADDR SIZE', '! ADDR SIZE', '= Start' or '= End')"},
        {"+ 0x10\n", "m.log:1: unrecognised mtrace line '+ 0x10' (expected '@ CALLER + ADDR SIZE', '- ADDR', "
                     "'< ADDR', '> ADDR SIZE', '! ADDR SIZE', '= Start' or '= End')"},
        {"+ 10 0x8\n", "m.log:1: bad address '10' (expected 0x... or (nil))"},
        {"+ 0x10 -8\n", "m.log:1: bad size '-8' (expected 0x... or a decimal number)"},
        {"- 0x10 0x8\n", "m.log:1: unrecognised mtrace line '- 0x10 0x8' (expected '@ CALLER + ADDR SIZE', "
                         "'- ADDR', '< ADDR', '> ADDR SIZE', '! ADDR SIZE', '= Start' or '= End')"},
        {"> 0x10 0x8\n", "m.log:1: a realloc's '>' line without the '<' line before it"},
        {"< 0x10\n+ 0x20 0x8\n", "m.log:1: a realloc's '<' line without its '>' line"},
        {"+ 0x20 0x8\n< 0x20\n", "m.log:2: a realloc's '<' line without its '>' line (the log ends)"},
        {"+ 0x20 0x8\n\x01\x02\n", "m.log:2: unrecognised mtrace line '\\x01\\x02' (expected '@ CALLER + ADDR SIZE', "
                                   "'- ADDR', '< ADDR', '> ADDR SIZE', '! ADDR SIZE', '= Start' or '= End')"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char ops[256], err[PM_ERR_LEN];
        struct pm_mtrace_report r;
        assert_int_equal(import_text(cases[i].log, ops, sizeof ops, &r, err), -1);
        assert_string_equal(err, cases[i].msg);
    }
    /* a NUL in a line */
    static const char nul[] = "+ 0x20 0x8\n+ 0x30\0 0x8\n";
    FILE *f = fmemopen((void *)nul, sizeof nul - 1, "r");
    char err[PM_ERR_LEN];
    struct pm_mtrace_report r;
    assert_int_equal(pm_mtrace_import(f, "m.log", NULL, &r, err), -1);
    fclose(f);
    assert_string_equal(err, "m.log:2: a NUL byte in the line (not an mtrace log?)");
}

/* ---- the cut of a dead recorder's file ---- */

static char dir[64];

static const char *path_of(const char *name)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static void write_file(const char *path, const void *a, size_t alen, const void *b, size_t blen)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(a, 1, alen, f), alen);
    if (blen)
        assert_int_equal(fwrite(b, 1, blen, f), blen);
    assert_int_equal(fclose(f), 0);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void test_recording_trim(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pm-test-recorder-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char err[PM_ERR_LEN];
    /* a finished trace of 1000 ops with metadata */
    struct pm_trace_writer *w = pm_trace_writer_open_mem(err);
    assert_int_equal(pm_trace_writer_meta(w, "command", "x y"), 0);
    struct pm_tracegen_opts o = {.set = PM_GEN_OPS | PM_GEN_LIVE, .ops = 1000, .live = 30};
    assert_int_equal(pm_tracegen("churn", &o, w, err), 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(pm_trace_writer_close_mem(w, &buf, &len, err), 0);
    uint64_t nops = buf[16] | (uint64_t)buf[17] << 8;
    uint64_t ops, cut;
    write_file(path_of("fin.pmt"), buf, len, NULL, 0);
    assert_int_equal(pm_recording_trim(path_of("fin.pmt"), &ops, &cut, err), 0);
    assert_int_equal(ops, nops);
    assert_int_equal(cut, 0);
    assert_int_equal(file_size(path_of("fin.pmt")), len);

    /* as the recorder leaves it when killed: unfinished header, the whole
     * ops, the body of an op whose length byte is not written yet, zeros */
    uint64_t meta = buf[32] | (uint64_t)buf[33] << 8;
    struct pm_trace_header h = {.version = 1, .op_count = PM_TRACE_OPS_UNKNOWN, .meta_len = meta};
    pm_trace_header_encode(buf, &h);
    uint8_t tail[8192] = {0x00, 0x21, 0x05, 0x10};
    write_file(path_of("dead.pmt"), buf, len, tail, sizeof tail);
    assert_int_equal(pm_recording_trim(path_of("dead.pmt"), &ops, &cut, err), 0);
    assert_int_equal(ops, nops);
    assert_int_equal(cut, sizeof tail);
    assert_int_equal(file_size(path_of("dead.pmt")), len);
    struct pm_trace *t;
    assert_int_equal(pm_trace_open(path_of("dead.pmt"), &t, err), 0);
    assert_false(pm_trace_finished(t));
    struct pm_trace_stats s;
    assert_int_equal(pm_trace_stats(t, true, &s, err), 0);
    assert_int_equal(s.ops + s.phases, nops);
    assert_int_equal(s.dropped_bytes, 0);
    pm_trace_close(t);
    /* trimming again changes nothing */
    assert_int_equal(pm_recording_trim(path_of("dead.pmt"), &ops, &cut, err), 0);
    assert_int_equal(cut, 0);

    /* killed before the first op */
    write_file(path_of("empty.pmt"), buf, PM_TRACE_HEADER_SIZE + meta, tail + 4, 4096);
    assert_int_equal(pm_recording_trim(path_of("empty.pmt"), &ops, &cut, err), 0);
    assert_int_equal(ops, 0);
    assert_int_equal(file_size(path_of("empty.pmt")), PM_TRACE_HEADER_SIZE + meta);

    /* not a recorder's tail: refused, file unchanged */
    tail[4000] = 7;
    write_file(path_of("junk.pmt"), buf, len, tail, sizeof tail);
    assert_int_equal(pm_recording_trim(path_of("junk.pmt"), &ops, &cut, err), -1);
    assert_non_null(strstr(err, "nonzero bytes after the last whole op"));
    assert_int_equal(file_size(path_of("junk.pmt")), len + sizeof tail);
    write_file(path_of("magic.pmt"), "PMTRACX", 8, tail, 64);
    assert_int_equal(pm_recording_trim(path_of("magic.pmt"), &ops, &cut, err), -1);
    assert_non_null(strstr(err, "bad magic"));
    assert_int_equal(pm_recording_trim(path_of("none.pmt"), &ops, &cut, err), -1);
    assert_non_null(strstr(err, "cannot open"));
    free(buf);
    const char *names[] = {"fin.pmt", "dead.pmt", "empty.pmt", "junk.pmt", "magic.pmt"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        remove(path_of(names[i]));
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_hand),
        cmocka_unit_test(test_stats_quantiles_exact),
        cmocka_unit_test(test_stats_errors_and_lenient),
        cmocka_unit_test(test_mtrace_import),
        cmocka_unit_test(test_mtrace_errors),
        cmocka_unit_test(test_recording_trim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
