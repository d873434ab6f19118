/* tests/test_trace.c — the trace format (workloads/trace/trace.h): binary <-> text
 * round trips of every generated pattern, every malformed input of issue 3 in
 * binary and text form with its exact message (op index and byte offset, or
 * line), the fast decoder against the careful one on corrupted traces, lenient
 * reading of cut and unfinished recordings, the writer's never-clobber rule,
 * metadata, the generators' rules, and the pointer -> slot map.
 *
 * The hand-made binary traces below are spelled out byte by byte in comments
 * so that the expected byte offsets can be checked against
 * docs/trace-format.md: header 40 bytes, no metadata, so the first op is at
 * byte 40.
 */
#include "pm_test.h"
#include "trace.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pm-test-trace-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *path_of(const char *name)
{
    static char buf[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* The file's bytes (malloc'd) and length; NULL if it does not exist. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* ---- building binary traces by hand ---- */

struct tb {
    uint8_t b[4096];
    size_t len;
    struct pm_trace_enc enc;
};

static void tb_header(struct tb *t, uint32_t version, uint32_t flags, uint64_t ops, uint64_t slots)
{
    memset(t, 0, sizeof *t);
    struct pm_trace_header h = {.version = version, .flags = flags, .op_count = ops, .slot_count = slots};
    pm_trace_header_encode(t->b, &h);
    t->len = PM_TRACE_HEADER_SIZE;
}

static void tb_op(struct tb *t, unsigned kind, unsigned dom, uint32_t slot, uint64_t size, uint64_t arg)
{
    struct pm_trace_op op = {.kind = (uint8_t)kind, .domain = (uint8_t)dom, .slot = slot, .size = size, .arg = arg};
    size_t n = pm_trace_encode_op(t->b + t->len, &op, &t->enc);
    assert_true(n > 0);
    t->len += n;
}

static void tb_raw(struct tb *t, const uint8_t *bytes, size_t n)
{
    memcpy(t->b + t->len, bytes, n);
    t->len += n;
}

/* Trace A: 4 ops, 2 slots.
 *   byte 40  alloc 0 128  03 01 80           (len 3, head kind 1, no slot bytes: delta 0, size 1 byte)
 *   byte 43  alloc 1 16   04 21 02 10        (head 0x21: sw 1; slot zigzag(+1) = 2)
 *   byte 47  free 0       03 24 01           (zigzag(-1) = 1)
 *   byte 50  free 1       03 24 02
 *   end      53 */
static void trace_a(struct tb *t, uint64_t ops, uint64_t slots)
{
    tb_header(t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, ops, slots);
    tb_op(t, PM_OP_ALLOC, 0, 0, 128, 0);
    tb_op(t, PM_OP_ALLOC, 0, 1, 16, 0);
    tb_op(t, PM_OP_FREE, 0, 0, 0, 0);
    tb_op(t, PM_OP_FREE, 0, 1, 0, 0);
}

static const char text_a[] = "pmtrace 1\n"
                             "@ops 4\n"
                             "@slots 2\n"
                             "alloc 0 128\n"
                             "alloc 1 16\n"
                             "free 0\n"
                             "free 1\n";

/* Reads a whole trace with a cursor (forced down the slow path if `slow`);
 * returns pm_trace_next's last result, the ops seen, a hash of them. */
struct readout {
    int r;
    uint64_t ops;
    uint64_t hash;
    uint64_t dropped, missing;
    char err[PM_ERR_LEN];
};

static struct readout read_all(struct pm_trace *t, bool lenient, bool slow)
{
    struct readout o = {0};
    struct pm_trace_cursor c;
    int r = lenient ? pm_trace_cursor_init_lenient(&c, t) : pm_trace_cursor_init(&c, t);
    if (slow)
        c.fast_end = c.base;   /* p >= fast_end always: every op takes pm_trace_next_slow */
    struct pm_trace_op op;
    if (r == 0)
        while ((r = pm_trace_next(&c, &op)) == 1) {
            o.ops++;
            o.hash = o.hash * 1000003 ^ (op.kind | (uint64_t)op.domain << 8 | (uint64_t)op.slot << 16);
            o.hash = o.hash * 1000003 ^ op.size;
            o.hash = o.hash * 1000003 ^ op.arg;
        }
    assert_int_equal(c.index, o.ops);
    assert_int_equal(pm_trace_next(&c, &op), r);   /* sticky */
    o.r = r;
    o.dropped = c.dropped_bytes;
    o.missing = c.missing_ops;
    snprintf(o.err, sizeof o.err, "%s", c.err);
    return o;
}

/* Opens bytes as trace "t" and expects the cursor to fail with `msg` (or, if
 * msg is NULL, to read cleanly). Both decoders must agree. */
static void expect_cursor(const uint8_t *b, size_t len, const char *msg)
{
    struct pm_trace *t;
    char err[PM_ERR_LEN];
    if (pm_trace_open_mem(b, len, "t", &t, err))
        fail_msg("open failed: %s", err);
    struct readout fast = read_all(t, false, false), slow = read_all(t, false, true);
    pm_trace_close(t);
    if (msg) {
        assert_int_equal(fast.r, -1);
        assert_string_equal(fast.err, msg);
    } else {
        if (fast.r != 0)
            fail_msg("unexpected error: %s", fast.err);
    }
    assert_int_equal(slow.r, fast.r);
    assert_int_equal(slow.ops, fast.ops);
    assert_int_equal(slow.hash, fast.hash);
    assert_string_equal(slow.err, fast.err);
}

static void expect_open_error(const void *b, size_t len, const char *name, const char *msg)
{
    struct pm_trace *t = NULL;
    char err[PM_ERR_LEN] = "";
    assert_int_equal(pm_trace_open_mem(b, len, name, &t, err), -1);
    assert_null(t);
    assert_string_equal(err, msg);
}

/* Text trace A with line `lineno` (1-based) replaced by `line` (NULL: cut
 * the file after line lineno - 1). */
static void expect_text(int lineno, const char *line, const char *msg)
{
    char buf[512] = "";
    const char *p = text_a;
    for (int i = 1; *p; i++) {
        const char *nl = strchr(p, '\n');
        if (i == lineno) {
            if (!line)
                break;
            strcat(buf, line);
            strcat(buf, "\n");
        } else {
            strncat(buf, p, (size_t)(nl - p + 1));
        }
        p = nl + 1;
    }
    if (msg) {
        expect_open_error(buf, strlen(buf), "t.txt", msg);
    } else {
        struct pm_trace *t;
        char err[PM_ERR_LEN];
        if (pm_trace_open_mem(buf, strlen(buf), "t.txt", &t, err))
            fail_msg("%s", err);
        pm_trace_close(t);
    }
}

/* ---- malformed inputs: binary ---- */

static void test_binary_valid_reference(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 4, 2);
    assert_int_equal(t.len, 53);
    static const uint8_t expect[] = {3, 0x01, 0x80, 4, 0x21, 0x02, 0x10, 3, 0x24, 0x01, 3, 0x24, 0x02};
    assert_memory_equal(t.b + 40, expect, sizeof expect);
    expect_cursor(t.b, t.len, NULL);
}

static void test_binary_wrong_magic(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 4, 2);
    t.b[6] = 'X';   /* "PMTRAXE\0" */
    expect_open_error(t.b, t.len, "t", "t: byte 0: bad magic (not a pymemlab trace: expected \"PMTRACE\\0\")");
}

static void test_binary_wrong_version(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 4, 2);
    t.b[8] = 2;
    expect_open_error(t.b, t.len, "t", "t: byte 8: unsupported trace version 2 (this build reads version 1)");
}

static void test_binary_truncated_stream(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 4, 2);
    expect_cursor(t.b, 52, "op 3 at byte 50: stream cut inside a free: 2 of its 3 bytes are in the file");
    expect_cursor(t.b, 51, "op 3 at byte 50: stream cut inside an op: 1 of its 3 bytes is in the file");
    /* cut inside the header */
    expect_open_error(t.b, 30, "t", "t: byte 30: truncated header (the file has 30 bytes, the header 40)");
}

static void test_binary_unknown_opcode(void **state)
{
    (void)state;
    struct tb t;
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 4, 2);
    tb_op(&t, PM_OP_ALLOC, 0, 0, 128, 0);
    static const uint8_t bad[] = {3, 0x07, 0x10};   /* kind 7 */
    tb_raw(&t, bad, sizeof bad);
    expect_cursor(t.b, t.len, "op 1 at byte 43: unknown opcode: head byte 0x07 has kind 7 (known: 1..6)");
    t.b[44] = 0x00;   /* kind 0 */
    expect_cursor(t.b, t.len, "op 1 at byte 43: unknown opcode: head byte 0x00 has kind 0 (known: 1..6)");
}

static void test_binary_free_not_live(void **state)
{
    (void)state;
    struct tb t;
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 4, 2);
    tb_op(&t, PM_OP_ALLOC, 0, 0, 128, 0);
    tb_op(&t, PM_OP_ALLOC, 0, 1, 16, 0);
    tb_op(&t, PM_OP_FREE, 0, 0, 0, 0);
    tb_op(&t, PM_OP_FREE, 0, 0, 0, 0);   /* byte 50: 02 04 (delta 0) */
    expect_cursor(t.b, t.len, "op 3 at byte 50: free of slot 0 which is not live");
}

static void test_binary_realloc_not_live(void **state)
{
    (void)state;
    struct tb t;
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 4, 2);
    tb_op(&t, PM_OP_ALLOC, 0, 0, 128, 0);
    tb_op(&t, PM_OP_ALLOC, 0, 1, 16, 0);
    tb_op(&t, PM_OP_FREE, 0, 0, 0, 0);
    tb_op(&t, PM_OP_REALLOC, 0, 0, 64, 0);
    expect_cursor(t.b, t.len, "op 3 at byte 50: realloc of slot 0 which is not live");
}

static void test_binary_alloc_into_live(void **state)
{
    (void)state;
    struct tb t;
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 4, 2);
    tb_op(&t, PM_OP_ALLOC, 0, 0, 128, 0);
    tb_op(&t, PM_OP_ALLOC, 0, 0, 16, 0);
    expect_cursor(t.b, t.len, "op 1 at byte 43: alloc into slot 0 which is live");
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 2, 1);
    tb_op(&t, PM_OP_ALLOC, 0, 0, 128, 0);
    tb_op(&t, PM_OP_CALLOC, 0, 0, 16, 4);
    expect_cursor(t.b, t.len, "op 1 at byte 43: calloc into slot 0 which is live");
}

static void test_binary_size_over_limit(void **state)
{
    (void)state;
    struct tb t;
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 2, 2);
    tb_op(&t, PM_OP_ALLOC, 0, 0, 128, 0);
    tb_op(&t, PM_OP_ALLOC, 0, 1, UINT64_C(1) << 40, 0);
    expect_cursor(t.b, t.len, "op 1 at byte 43: alloc of 1099511627776 bytes is over the limit (2^40 - 1 bytes)");
    /* the largest allowed size passes */
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 1, 1);
    tb_op(&t, PM_OP_ALLOC, 0, 0, PM_TRACE_MAX_SIZE, 0);
    expect_cursor(t.b, t.len, NULL);
    /* calloc: count * size overflows, or is over the limit */
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 1, 1);
    tb_op(&t, PM_OP_CALLOC, 0, 0, UINT64_C(1) << 33, UINT64_C(1) << 31);
    expect_cursor(t.b, t.len, "op 0 at byte 40: calloc of 2147483648 x 8589934592 bytes overflows 64 bits");
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 1, 1);
    tb_op(&t, PM_OP_CALLOC, 0, 0, UINT64_C(1) << 20, UINT64_C(1) << 20);
    expect_cursor(t.b, t.len, "op 0 at byte 40: calloc of 1048576 x 1048576 bytes is over the limit (2^40 - 1 bytes)");
}

static void test_binary_bad_alignment(void **state)
{
    (void)state;
    struct tb t;
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 1, 1);
    tb_op(&t, PM_OP_ALIGNED, 0, 0, 64, 48);
    expect_cursor(t.b, t.len, "op 0 at byte 40: alignment 48 is not a power of two");
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 1, 1);
    tb_op(&t, PM_OP_ALIGNED, 0, 0, 64, 4);
    expect_cursor(t.b, t.len, "op 0 at byte 40: alignment 4 is outside 8..1 GiB");
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 1, 1);
    tb_op(&t, PM_OP_ALIGNED, 0, 0, 64, 4096);
    expect_cursor(t.b, t.len, NULL);
}

static void test_binary_header_more_ops(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 3, 2);
    expect_cursor(t.b, t.len, "op 3 at byte 50: more ops than the header's op count 3 (3 more bytes follow)");
}

static void test_binary_header_fewer_ops(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 5, 2);
    expect_cursor(t.b, t.len, "op 4 at byte 53: the stream ends after 4 ops but the header says 5");
}

static void test_binary_slot_beyond_count(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 4, 1);
    expect_cursor(t.b, t.len, "op 1 at byte 43: slot 1 is beyond the header's slot count 1");
    trace_a(&t, 4, 3);
    expect_cursor(t.b, t.len, "op 4 at byte 53: the header says 3 slots but no op uses slot 2");
}

static void test_binary_header_fields(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 4, 2);
    t.b[12] = 0x03;
    expect_open_error(t.b, t.len, "t", "t: byte 12: unknown header flags 0x3");
    trace_a(&t, 4, 2);
    t.b[32] = 100;   /* metadata longer than the file */
    expect_open_error(t.b, t.len, "t", "t: byte 32: metadata length 100 runs past the end of the file (53 bytes)");
    /* metadata without '=' */
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 0, 0);
    t.b[32] = 4;
    tb_raw(&t, (const uint8_t *)"abc\n", 4);
    expect_open_error(t.b, t.len, "t", "t: byte 40: metadata line has no '=' (key=value)");
}

static void test_binary_malformed_fields(void **state)
{
    (void)state;
    struct tb t;
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 1, 1);
    static const uint8_t wide_slot[] = {9, 0xa1, 0, 0, 0, 0, 0, 0, 0};   /* sw 5 */
    tb_raw(&t, wide_slot, sizeof wide_slot);
    expect_cursor(t.b, t.len, "op 0 at byte 40: malformed alloc: head byte 0xa1 gives a 5-byte slot field (at most 4)");
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 1, 1);
    static const uint8_t free_size[] = {3, 0x04, 0x10};   /* a free with a size byte */
    tb_raw(&t, free_size, sizeof free_size);
    expect_cursor(t.b, t.len, "op 0 at byte 40: malformed free: a 1-byte size field (it takes none)");
    tb_header(&t, PM_TRACE_VERSION, PM_TRACE_FLAG_FINISHED, 1, 1);
    static const uint8_t short_len[] = {1, 0x01};   /* length below the head's minimum */
    tb_raw(&t, short_len, sizeof short_len);
    expect_cursor(t.b, t.len, "op 0 at byte 40: malformed alloc: length byte 1 (this head needs 2..23)");
}

/* ---- malformed inputs: text ---- */

static void test_text_valid_reference(void **state)
{
    (void)state;
    expect_text(0, NULL, NULL);
    struct pm_trace *t;
    char err[PM_ERR_LEN];
    assert_int_equal(pm_trace_open_mem(text_a, strlen(text_a), "t.txt", &t, err), 0);
    assert_int_equal(pm_trace_op_count(t), 4);
    assert_int_equal(pm_trace_slot_count(t), 2);
    assert_int_equal(pm_trace_format_of(t), PM_TRACE_TEXT);
    struct readout o = read_all(t, false, false);
    assert_int_equal(o.r, 0);
    assert_int_equal(o.ops, 4);
    pm_trace_close(t);
}

static void test_text_wrong_magic_and_version(void **state)
{
    (void)state;
    expect_text(1, "pmtrac 1", "t.txt:1: not a pymemlab trace: expected the text header 'pmtrace 1' (or the binary magic)");
    expect_text(1, "pmtrace 2", "t.txt:1: unsupported trace version 2 (this build reads version 1)");
    expect_open_error("", 0, "t.txt",
                      "t.txt:1: not a pymemlab trace: empty file (expected the text header 'pmtrace 1' or the binary magic)");
}

static void test_text_truncated(void **state)
{
    (void)state;
    expect_text(7, "free", "t.txt:7: too few numbers (expected 'free SLOT [raw|mem|obj]')");
    expect_text(5, "alloc 1", "t.txt:5: too few numbers (expected 'alloc SLOT SIZE [raw|mem|obj]')");
    expect_text(7, NULL, "t.txt:2: the header says 4 ops but the trace has 3");   /* file cut after line 6 */
}

static void test_text_unknown_opcode(void **state)
{
    (void)state;
    expect_text(5, "alocc 1 16",
                "t.txt:5: unknown op 'alocc' (known: alloc, calloc, realloc, free, aligned, phase)");
    expect_text(5, "alloc 1 16 heap", "t.txt:5: unknown domain 'heap' (known: raw, mem, obj)");
    expect_text(5, "alloc 1 16 obj extra",
                "t.txt:5: unexpected 'extra' (expected 'alloc SLOT SIZE [raw|mem|obj]')");
    expect_text(5, "alloc 1 0x10", "t.txt:5: size '0x10' is not a decimal number");
    expect_text(5, "alloc 4294967296 16", "t.txt:5: slot 4294967296 is out of range (at most 4294967295)");
}

static void test_text_liveness(void **state)
{
    (void)state;
    expect_text(7, "free 0", "t.txt:7: free of slot 0 which is not live");
    expect_text(7, "realloc 0 64", "t.txt:7: realloc of slot 0 which is not live");
    expect_text(5, "alloc 0 16", "t.txt:5: alloc into slot 0 which is live");
}

static void test_text_size_over_limit(void **state)
{
    (void)state;
    expect_text(5, "alloc 1 1099511627776", "t.txt:5: alloc of 1099511627776 bytes is over the limit (2^40 - 1 bytes)");
    expect_text(5, "calloc 1 1048576 1048576",
                "t.txt:5: calloc of 1048576 x 1048576 bytes is over the limit (2^40 - 1 bytes)");
    expect_text(5, "aligned 1 64 48", "t.txt:5: alignment 48 is not a power of two");
}

static void test_text_header_counts(void **state)
{
    (void)state;
    expect_text(2, "@ops 3", "t.txt:7: more ops than the header's op count 3 (@ops on line 2)");
    expect_text(2, "@ops 5", "t.txt:2: the header says 5 ops but the trace has 4");
    expect_text(3, "@slots 1", "t.txt:5: slot 1 is beyond the header's slot count 1");
    expect_text(3, "@slots 3", "t.txt:3: the header says 3 slots but the highest slot used is 1");
    expect_text(3, "@bogus 3", "t.txt:3: unknown header line '@bogus' (known: @ops, @slots, @meta)");
    /* header lines after the first op */
    char buf[256];
    snprintf(buf, sizeof buf, "%s@meta a=b\n", text_a);
    expect_open_error(buf, strlen(buf), "t.txt", "t.txt:8: '@meta' after the first op (header lines come first)");
}

static void test_text_syntax(void **state)
{
    (void)state;
    /* comments, blank lines, CRLF, domains, verbatim metadata, counts left out */
    static const char txt[] = "# a hand-written trace\r\n"
                              "\n"
                              "pmtrace 1   # version\r\n"
                              "@meta command=python3 -c \"x # not a comment\"\r\n"
                              "@meta phase.1=warm-up done\n"
                              "  alloc 0 128 obj   # trailing comment\n"
                              "\tcalloc 1 10 16 mem\n"
                              "aligned 2 64 4096 raw\n"
                              "phase 1\n"
                              "realloc 0 256 obj\n"
                              "free 1 mem\n"
                              "free 0 obj\n"
                              "free 2 raw";   /* no final newline */
    struct pm_trace *t;
    char err[PM_ERR_LEN];
    if (pm_trace_open_mem(txt, strlen(txt), "h.txt", &t, err))
        fail_msg("%s", err);
    assert_int_equal(pm_trace_op_count(t), 8);
    assert_int_equal(pm_trace_slot_count(t), 3);
    assert_string_equal(pm_trace_meta_get(t, "command"), "python3 -c \"x # not a comment\"");
    assert_string_equal(pm_trace_phase_label(t, 1), "warm-up done");
    assert_null(pm_trace_meta_get(t, "nope"));
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    assert_int_equal(pm_trace_cursor_init(&c, t), 0);
    static const struct pm_trace_op want[] = {
        {PM_OP_ALLOC, PM_DOMAIN_OBJ, 0, 128, 0},    {PM_OP_CALLOC, PM_DOMAIN_MEM, 1, 16, 10},
        {PM_OP_ALIGNED, PM_DOMAIN_RAW, 2, 64, 4096}, {PM_OP_PHASE, 0, 1, 0, 0},
        {PM_OP_REALLOC, PM_DOMAIN_OBJ, 0, 256, 0},   {PM_OP_FREE, PM_DOMAIN_MEM, 1, 0, 0},
        {PM_OP_FREE, PM_DOMAIN_OBJ, 0, 0, 0},        {PM_OP_FREE, PM_DOMAIN_RAW, 2, 0, 0},
    };
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(pm_trace_next(&c, &op), 1);
        assert_int_equal(op.kind, want[i].kind);
        assert_int_equal(op.domain, want[i].domain);
        assert_int_equal(op.slot, want[i].slot);
        assert_int_equal(op.size, want[i].size);
        assert_int_equal(op.arg, want[i].arg);
    }
    assert_int_equal(pm_trace_next(&c, &op), 0);
    /* the canonical form */
    char *out;
    size_t outlen;
    FILE *f = open_memstream(&out, &outlen);
    assert_int_equal(pm_trace_write_text(t, f, false, err), 0);
    fclose(f);
    assert_string_equal(out, "pmtrace 1\n@ops 8\n@slots 3\n"
                             "@meta command=python3 -c \"x # not a comment\"\n"
                             "@meta phase.1=warm-up done\n"
                             "alloc 0 128 obj\ncalloc 1 10 16 mem\naligned 2 64 4096 raw\nphase 1\n"
                             "realloc 0 256 obj\nfree 1 mem\nfree 0 obj\nfree 2 raw\n");
    free(out);
    pm_trace_close(t);
}

/* The same malformed trace through the file path: pm_trace_open names the
 * file, the cursor names the op. */
static void test_errors_through_files(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 5, 2);
    const char *bin = path_of("short.pmt");
    write_file(bin, t.b, t.len);
    struct pm_trace *tr;
    char err[PM_ERR_LEN];
    assert_int_equal(pm_trace_open(bin, &tr, err), 0);
    struct readout o = read_all(tr, false, false);
    assert_int_equal(o.r, -1);
    assert_string_equal(o.err, "op 4 at byte 53: the stream ends after 4 ops but the header says 5");
    pm_trace_close(tr);
    const char *txt = path_of("bad.txt");
    write_file(txt, "pmtrace 1\nfree 3\n", 17);
    assert_int_equal(pm_trace_open(txt, &tr, err), -1);
    char want[PM_ERR_LEN];
    snprintf(want, sizeof want, "%s:2: free of slot 3 which is not live", txt);
    assert_string_equal(err, want);
    assert_int_equal(pm_trace_open(path_of("missing.pmt"), &tr, err), -1);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path_of("missing.pmt"));
    assert_string_equal(err, want);
}

/* ---- fast decoder vs careful decoder ---- */

static uint8_t *gen_mem(const char *pattern, const struct pm_tracegen_opts *o, size_t *len)
{
    char err[PM_ERR_LEN];
    struct pm_trace_writer *w = pm_trace_writer_open_mem(err);
    assert_non_null(w);
    if (pm_tracegen(pattern, o, w, err))
        fail_msg("%s", err);
    uint8_t *buf;
    assert_int_equal(pm_trace_writer_close_mem(w, &buf, len, err), 0);
    return buf;
}

static void test_fast_matches_slow_on_corruption(void **state)
{
    (void)state;
    struct pm_tracegen_opts o = {.set = PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_REALLOC_FRAC | PM_GEN_SIZES,
                                 .ops = 3000, .live = 40, .realloc_frac = 0.2, .sizes = PM_SIZES_UNIFORM,
                                 .size_min = 0, .size_max = 70000};
    size_t len;
    uint8_t *orig = gen_mem("churn", &o, &len);
    uint8_t *b = malloc(len);
    assert_non_null(b);
    uint64_t rng = 12345;
    int errors = 0;
    for (int round = 0; round < 400; round++) {
        memcpy(b, orig, len);
        size_t cut = len;
        int what = (int)(pmt_rand(&rng) % 4);
        size_t meta_end = PM_TRACE_HEADER_SIZE + (size_t)orig[32] + ((size_t)orig[33] << 8);
        size_t at = meta_end + (size_t)(pmt_rand(&rng) % (len - meta_end));
        if (what == 0)
            b[at] ^= (uint8_t)(1u << (pmt_rand(&rng) % 8));
        else if (what == 1)
            b[at] = (uint8_t)pmt_rand(&rng);
        else if (what == 2)
            cut = at;
        else
            b[16] = (uint8_t)(b[16] + (pmt_rand(&rng) % 5) - 2);   /* op count off by -2..2 */
        struct pm_trace *t;
        char err[PM_ERR_LEN];
        uint8_t *exact = malloc(cut);   /* exactly the trace: ASan sees any read past it */
        assert_non_null(exact);
        memcpy(exact, b, cut);
        if (pm_trace_open_mem(exact, cut, "fuzz", &t, err))
            fail_msg("%s", err);
        for (int lenient = 0; lenient < 2; lenient++) {
            struct readout f = read_all(t, lenient, false), s = read_all(t, lenient, true);
            assert_int_equal(f.r, s.r);
            assert_int_equal(f.ops, s.ops);
            assert_int_equal(f.hash, s.hash);
            assert_string_equal(f.err, s.err);
            assert_int_equal(f.dropped, s.dropped);
            assert_int_equal(f.missing, s.missing);
            errors += f.r < 0;
        }
        pm_trace_close(t);
        free(exact);
    }
    assert_true(errors > 100);   /* the corruptions were mostly caught */
    free(b);
    free(orig);
}

/* ---- lenient reading ---- */

static void test_lenient_cut_stream(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 4, 2);
    struct pm_trace *tr;
    char err[PM_ERR_LEN];
    assert_int_equal(pm_trace_open_mem(t.b, 52, "t", &tr, err), 0);
    struct readout strict = read_all(tr, false, false), len = read_all(tr, true, false);
    assert_int_equal(strict.r, -1);
    assert_int_equal(strict.ops, 3);
    assert_int_equal(len.r, 0);
    assert_int_equal(len.ops, 3);
    assert_int_equal(len.dropped, 2);
    assert_int_equal(len.missing, 1);
    pm_trace_close(tr);
    /* cut at an op boundary: nothing dropped, one op missing */
    assert_int_equal(pm_trace_open_mem(t.b, 50, "t", &tr, err), 0);
    len = read_all(tr, true, false);
    assert_int_equal(len.r, 0);
    assert_int_equal(len.ops, 3);
    assert_int_equal(len.dropped, 0);
    assert_int_equal(len.missing, 1);
    /* lenient does not forgive anything else */
    pm_trace_close(tr);
    trace_a(&t, 4, 2);
    t.b[51] = 0x07;
    assert_int_equal(pm_trace_open_mem(t.b, t.len, "t", &tr, err), 0);
    len = read_all(tr, true, false);
    assert_int_equal(len.r, -1);
    assert_string_equal(len.err, "op 3 at byte 50: unknown opcode: head byte 0x07 has kind 7 (known: 1..6)");
    pm_trace_close(tr);
}

static void test_lenient_unfinished_recording(void **state)
{
    (void)state;
    /* what a recorder that crashed leaves: the header as first written
     * (not finished, op count unknown, slot count 0) and a partial last op */
    struct tb t;
    tb_header(&t, PM_TRACE_VERSION, 0, PM_TRACE_OPS_UNKNOWN, 0);
    tb_op(&t, PM_OP_ALLOC, 0, 0, 128, 0);
    tb_op(&t, PM_OP_ALLOC, 0, 5, 16, 0);
    tb_op(&t, PM_OP_FREE, 0, 0, 0, 0);
    tb_op(&t, PM_OP_REALLOC, 0, 5, 300, 0);
    size_t cut = t.len - 1;
    struct pm_trace *tr;
    char err[PM_ERR_LEN];
    assert_int_equal(pm_trace_open_mem(t.b, cut, "t", &tr, err), 0);
    assert_false(pm_trace_finished(tr));
    assert_int_equal(pm_trace_op_count(tr), 3);
    assert_int_equal(pm_trace_slot_count(tr), 6);
    struct readout strict = read_all(tr, false, false), len = read_all(tr, true, false);
    assert_int_equal(strict.r, -1);
    assert_int_equal(strict.ops, 0);
    assert_string_equal(strict.err, "op 0 at byte 40: the recording did not finish (the header's op count is "
                                    "unknown; 3 whole ops and a partial one follow): read it leniently to "
                                    "replay them");
    assert_int_equal(len.r, 0);
    assert_int_equal(len.ops, 3);
    assert_int_equal(len.dropped, 4);   /* realloc: 5 bytes (len, head, slot, 2 size bytes), 4 present */
    assert_int_equal(len.missing, 0);
    /* lenient conversion repairs it: a finished trace of the whole ops */
    const char *out = path_of("salvaged.pmt");
    assert_int_equal(pm_trace_convert(tr, out, PM_TRACE_AUTO, true, err), 0);
    assert_int_equal(pm_trace_convert(tr, path_of("strict.pmt"), PM_TRACE_AUTO, false, err), -1);
    assert_false(exists(path_of("strict.pmt")));
    pm_trace_close(tr);
    assert_int_equal(pm_trace_open(out, &tr, err), 0);
    assert_true(pm_trace_finished(tr));
    assert_int_equal(pm_trace_op_count(tr), 3);
    assert_int_equal(pm_trace_slot_count(tr), 6);
    assert_int_equal(read_all(tr, false, false).r, 0);
    pm_trace_close(tr);
}

/* ---- writer ---- */

static void test_writer_never_clobbers(void **state)
{
    (void)state;
    const char *p = path_of("keep.pmt");
    write_file(p, "precious", 8);
    char err[PM_ERR_LEN], want[PM_ERR_LEN];
    struct pm_trace_writer *w = pm_trace_writer_open(p, err);
    assert_non_null(w);
    struct pm_trace_op a = {.kind = PM_OP_ALLOC, .slot = 3, .size = 10}, f = {.kind = PM_OP_FREE, .slot = 4};
    assert_int_equal(pm_trace_writer_op(w, &a), 0);
    assert_int_equal(pm_trace_writer_op(w, &f), -1);
    snprintf(want, sizeof want, "%s: op 1 at byte 44: free of slot 4 which is not live", p);   /* alloc 3 10 is 4 bytes */
    assert_string_equal(pm_trace_writer_error(w), want);
    assert_int_equal(pm_trace_writer_op(w, &a), -1);   /* refuses everything after */
    assert_int_equal(pm_trace_writer_close(w, err), -1);
    assert_string_equal(err, want);
    size_t n;
    uint8_t *b = read_file(p, &n);
    assert_non_null(b);
    assert_int_equal(n, 8);
    assert_memory_equal(b, "precious", 8);
    free(b);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    assert_false(exists(tmp));

    /* abort */
    w = pm_trace_writer_open(p, err);
    assert_int_equal(pm_trace_writer_op(w, &a), 0);
    pm_trace_writer_abort(w);
    assert_false(exists(tmp));
    b = read_file(p, &n);
    assert_memory_equal(b, "precious", 8);
    free(b);

    /* an existing .tmp (a crashed recording) is never overwritten */
    write_file(tmp, "crashed", 7);
    assert_null(pm_trace_writer_open(p, err));
    snprintf(want, sizeof want, "%s: exists (another writer's, or a crashed recording: read it leniently or remove it)",
             tmp);
    assert_string_equal(err, want);
    b = read_file(tmp, &n);
    assert_int_equal(n, 7);
    free(b);
    unlink(tmp);

    /* a successful close replaces the file */
    w = pm_trace_writer_open(p, err);
    assert_int_equal(pm_trace_writer_op(w, &a), 0);
    assert_int_equal(pm_trace_writer_close(w, err), 0);
    struct pm_trace *t;
    assert_int_equal(pm_trace_open(p, &t, err), 0);
    assert_int_equal(pm_trace_op_count(t), 1);
    assert_int_equal(pm_trace_slot_count(t), 4);
    pm_trace_close(t);
}

static void test_convert_bad_input_leaves_output(void **state)
{
    (void)state;
    struct tb t;
    trace_a(&t, 3, 2);   /* one op too many */
    const char *in = path_of("more.pmt"), *out = path_of("more-out.pmt"), *outt = path_of("more-out.txt");
    write_file(in, t.b, t.len);
    write_file(out, "old", 3);
    struct pm_trace *tr;
    char err[PM_ERR_LEN], want[PM_ERR_LEN];
    assert_int_equal(pm_trace_open(in, &tr, err), 0);
    snprintf(want, sizeof want, "%s: op 3 at byte 50: more ops than the header's op count 3 (3 more bytes follow)", in);
    assert_int_equal(pm_trace_convert(tr, out, PM_TRACE_AUTO, false, err), -1);
    assert_string_equal(err, want);
    assert_int_equal(pm_trace_convert(tr, outt, PM_TRACE_AUTO, false, err), -1);
    assert_string_equal(err, want);
    pm_trace_close(tr);
    size_t n;
    uint8_t *b = read_file(out, &n);
    assert_int_equal(n, 3);
    free(b);
    assert_false(exists(outt));
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    assert_false(exists(tmp));
}

static void test_writer_metadata(void **state)
{
    (void)state;
    char err[PM_ERR_LEN];
    struct pm_trace_writer *w = pm_trace_writer_open_mem(err);
    assert_int_equal(pm_trace_writer_meta(w, "command", "python3 -m test"), 0);
    assert_int_equal(pm_trace_writer_meta(w, "python.version", "3.11.2"), 0);
    assert_int_equal(pm_trace_writer_meta(w, "phase.1", "warm"), 0);
    struct pm_trace_op a = {.kind = PM_OP_ALLOC, .domain = PM_DOMAIN_OBJ, .slot = 0, .size = 24};
    struct pm_trace_op ph = {.kind = PM_OP_PHASE, .slot = 1};
    assert_int_equal(pm_trace_writer_op(w, &a), 0);
    assert_int_equal(pm_trace_writer_op(w, &ph), 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(pm_trace_writer_close_mem(w, &buf, &len, err), 0);
    struct pm_trace *t;
    assert_int_equal(pm_trace_open_mem(buf, len, "m", &t, err), 0);
    assert_int_equal(pm_trace_meta_count(t), 3);
    const char *k, *v;
    assert_true(pm_trace_meta_at(t, 1, &k, &v));
    assert_string_equal(k, "python.version");
    assert_string_equal(v, "3.11.2");
    assert_false(pm_trace_meta_at(t, 3, &k, &v));
    assert_string_equal(pm_trace_meta_get(t, "command"), "python3 -m test");
    assert_string_equal(pm_trace_phase_label(t, 1), "warm");
    assert_null(pm_trace_phase_label(t, 2));
    pm_trace_close(t);
    free(buf);

    /* refused: after the first op, duplicates, bad keys and values */
    const char *bad[][3] = {
        {"k", "v\n", "(memory): metadata value has a LF byte at position 1"},
        {"a b", "v", "(memory): metadata key 'a b' has a byte 0x20 outside [A-Za-z0-9_.:/-]"},
        {"", "v", "(memory): empty metadata key"},
        {"dup", "2", "(memory): duplicate metadata key 'dup'"},
        {"late", "1", "(memory): metadata 'late' after the first op (metadata comes first)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        w = pm_trace_writer_open_mem(err);
        assert_int_equal(pm_trace_writer_meta(w, "dup", "1"), 0);
        if (i == 4)
            assert_int_equal(pm_trace_writer_op(w, &a), 0);
        assert_int_equal(pm_trace_writer_meta(w, bad[i][0], bad[i][1]), -1);
        assert_int_equal(pm_trace_writer_close_mem(w, &buf, &len, err), -1);
        assert_string_equal(err, bad[i][2]);
    }
}

static void test_encode_compact_and_rejects(void **state)
{
    (void)state;
    uint8_t buf[PM_TRACE_OP_MAX];
    struct pm_trace_enc enc = {0};
    struct pm_trace_op op = {.kind = PM_OP_CALLOC, .domain = PM_DOMAIN_MEM, .slot = 0x7fffffffu,
                             .size = UINT64_MAX, .arg = UINT64_MAX};
    assert_int_equal(pm_trace_encode_op(buf, &op, &enc), PM_TRACE_OP_MAX);   /* the longest op */
    struct pm_trace_op bad[] = {
        {.kind = 0},
        {.kind = 7},
        {.kind = PM_OP_ALLOC, .domain = 4},
        {.kind = PM_OP_FREE, .size = 1},
        {.kind = PM_OP_ALLOC, .arg = 1},
        {.kind = PM_OP_PHASE, .domain = PM_DOMAIN_OBJ},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(pm_trace_encode_op(buf, &bad[i], &enc), 0);
}

/* ---- generators and round trips ---- */

static const struct {
    const char *pattern;
    struct pm_tracegen_opts o;
} small[] = {
    {"lifo", {.set = PM_GEN_OPS | PM_GEN_LIVE, .ops = 5001, .live = 50}},
    {"fifo", {.set = PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_SIZES, .ops = 5000, .live = 300, .sizes = PM_SIZES_UNIFORM,
              .size_min = 1, .size_max = 100000}},
    {"churn", {.set = PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_REALLOC_FRAC | PM_GEN_SEED, .ops = 5003, .live = 200,
               .realloc_frac = 0.1, .seed = 7}},
    {"growth", {.set = PM_GEN_OPS | PM_GEN_LIVE | PM_GEN_MAX_LEN, .ops = 5000, .live = 20, .max_len = 3000}},
    {"survivors", {.set = PM_GEN_LIVE | PM_GEN_KEEP_EVERY | PM_GEN_AGAIN, .live = 2000, .keep_every = 10,
                   .again = 500}},
};

static void test_round_trip_every_pattern(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.pmt", small[i].pattern);
        const char *bin = path_of(name);
        char err[PM_ERR_LEN];
        struct pm_trace_writer *w = pm_trace_writer_open(bin, err);
        assert_non_null(w);
        if (pm_tracegen(small[i].pattern, &small[i].o, w, err))
            fail_msg("%s", err);
        assert_int_equal(pm_trace_writer_close(w, err), 0);
        /* binary -> text -> binary -> text */
        char t1[160], b2[160], t2[160];
        snprintf(t1, sizeof t1, "%s.1.txt", bin);
        snprintf(b2, sizeof b2, "%s.2.pmt", bin);
        snprintf(t2, sizeof t2, "%s.2.txt", bin);
        const char *steps[][2] = {{bin, t1}, {t1, b2}, {b2, t2}};
        for (int s = 0; s < 3; s++) {
            struct pm_trace *t;
            if (pm_trace_open(steps[s][0], &t, err))
                fail_msg("%s", err);
            if (pm_trace_convert(t, steps[s][1], PM_TRACE_AUTO, false, err))
                fail_msg("%s", err);
            pm_trace_close(t);
        }
        size_t n1, n2, m1, m2;
        uint8_t *a = read_file(bin, &n1), *b = read_file(b2, &n2), *c = read_file(t1, &m1), *d = read_file(t2, &m2);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
        assert_int_equal(m1, m2);
        assert_memory_equal(c, d, m1);
        free(a);
        free(b);
        free(c);
        free(d);
    }
}

static void test_generators_deterministic(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        size_t n1, n2, n3;
        uint8_t *a = gen_mem(small[i].pattern, &small[i].o, &n1), *b = gen_mem(small[i].pattern, &small[i].o, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
        struct pm_tracegen_opts o = small[i].o;
        o.set |= PM_GEN_SEED;
        o.seed = 99;
        uint8_t *c = gen_mem(small[i].pattern, &o, &n3);
        assert_true(n1 != n3 || memcmp(a, c, n1));   /* another seed, another trace */
        free(a);
        free(b);
        free(c);
    }
}

static void test_generator_op_counts(void **state)
{
    (void)state;
    const uint64_t want[] = {5000, 5000, 5003, 5000, 2000 + 1 + 1800 + 1 + 500 + 1};
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        size_t n;
        uint8_t *b = gen_mem(small[i].pattern, &small[i].o, &n);
        struct pm_trace *t;
        char err[PM_ERR_LEN];
        assert_int_equal(pm_trace_open_mem(b, n, "g", &t, err), 0);
        struct readout o = read_all(t, false, false);
        assert_int_equal(o.r, 0);
        assert_int_equal(o.ops, want[i]);
        pm_trace_close(t);
        free(b);
    }
}

/* Every phase mark is followed by the frees that empty the heap (lifo, fifo,
 * churn, growth end with nothing live); survivors ends with every k-th block
 * and the new ones live. Sizes stay in their distribution. */
static void test_generator_shapes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        size_t n;
        uint8_t *b = gen_mem(small[i].pattern, &small[i].o, &n);
        struct pm_trace *t;
        char err[PM_ERR_LEN];
        assert_int_equal(pm_trace_open_mem(b, n, "g", &t, err), 0);
        struct pm_trace_cursor c;
        struct pm_trace_op op;
        assert_int_equal(pm_trace_cursor_init(&c, t), 0);
        int64_t live = 0;
        uint64_t reallocs = 0;
        while (pm_trace_next(&c, &op) == 1) {
            live += (op.kind == PM_OP_ALLOC || op.kind == PM_OP_CALLOC) - (op.kind == PM_OP_FREE);
            reallocs += op.kind == PM_OP_REALLOC;
            if (op.kind == PM_OP_ALLOC && !strcmp(small[i].pattern, "fifo"))
                assert_true(op.size >= 1 && op.size <= 100000);
            else if (op.kind == PM_OP_ALLOC && strcmp(small[i].pattern, "growth"))
                assert_true(op.size >= 1 && op.size <= 512);   /* python sizes */
        }
        if (!strcmp(small[i].pattern, "survivors"))
            assert_int_equal(live, 200 + 500);
        else
            assert_int_equal(live, 0);
        if (!strcmp(small[i].pattern, "churn"))
            assert_true(reallocs > 300 && reallocs < 600);   /* about 10% of the steady ops */
        pm_trace_close(t);
        free(b);
    }
}

/* growth follows CPython's list_resize: an item array of `allocated` items
 * of 8 bytes in the mem domain, allocated 4, 8, 16, 24, 32, 40, 52, 64, 76,
 * 92, 108, ... as the list grows; list objects are 56-byte obj blocks. */
static uint64_t resize_rule(uint64_t allocated)
{
    uint64_t n = allocated + 1;
    return (n + (n >> 3) + 6) & ~(uint64_t)3;
}

static void test_growth_follows_list_resize(void **state)
{
    (void)state;
    static const uint64_t cpython[] = {0, 4, 8, 16, 24, 32, 40, 52, 64, 76, 92, 108};
    for (size_t i = 1; i < sizeof cpython / sizeof *cpython; i++)
        assert_int_equal(resize_rule(cpython[i - 1]), cpython[i]);
    size_t n;
    uint8_t *b = gen_mem("growth", &small[3].o, &n);
    struct pm_trace *t;
    char err[PM_ERR_LEN];
    assert_int_equal(pm_trace_open_mem(b, n, "g", &t, err), 0);
    uint64_t *items = calloc(pm_trace_slot_count(t), sizeof *items);   /* allocated items per live array */
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    assert_int_equal(pm_trace_cursor_init(&c, t), 0);
    uint64_t longest = 0, objs = 0;
    while (pm_trace_next(&c, &op) == 1) {
        if (op.kind == PM_OP_PHASE || op.kind == PM_OP_FREE)
            continue;
        if (op.domain == PM_DOMAIN_OBJ) {
            assert_int_equal(op.kind, PM_OP_ALLOC);
            assert_int_equal(op.size, 56);
            objs++;
            continue;
        }
        assert_int_equal(op.domain, PM_DOMAIN_MEM);
        uint64_t prev = op.kind == PM_OP_ALLOC ? 0 : items[op.slot];
        assert_int_equal(op.size, resize_rule(prev) * 8);
        items[op.slot] = resize_rule(prev);
        if (items[op.slot] > longest)
            longest = items[op.slot];
    }
    assert_true(longest >= 108);   /* the sequence above was walked through */
    assert_true(objs > 20);        /* finished lists were replaced */
    free(items);
    pm_trace_close(t);
    free(b);
}

static void test_generator_option_errors(void **state)
{
    (void)state;
    char err[PM_ERR_LEN];
    struct {
        const char *pattern;
        struct pm_tracegen_opts o;
        const char *msg;
    } cases[] = {
        {"heap", {0}, "gen: unknown pattern 'heap' (known: lifo, fifo, churn, growth, survivors, adversary)"},
        {"survivors", {.set = PM_GEN_OPS, .ops = 10}, "gen survivors: --ops does not apply to this pattern (see docs/patterns.md)"},
        {"lifo", {.set = PM_GEN_REALLOC_FRAC}, "gen lifo: --realloc-frac does not apply to this pattern (see docs/patterns.md)"},
        {"churn", {.set = PM_GEN_OPS | PM_GEN_LIVE, .ops = 100, .live = 50},
         "gen churn: --ops 100 is too small for --live 50 (needs at least 102)"},
        {"churn", {.set = PM_GEN_SIZES, .sizes = PM_SIZES_UNIFORM, .size_min = 10, .size_max = 5},
         "gen churn: --sizes uniform:10-5 needs MIN <= MAX < 2^40"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct pm_trace_writer *w = pm_trace_writer_open_mem(err);
        assert_int_equal(pm_tracegen(cases[i].pattern, &cases[i].o, w, err), -1);
        assert_string_equal(err, cases[i].msg);
        pm_trace_writer_abort(w);
    }
    struct pm_tracegen_opts o = {0};
    assert_true(pm_tracegen_parse_sizes("uniform:16-4K", &o));
    assert_int_equal(o.sizes, PM_SIZES_UNIFORM);
    assert_int_equal(o.size_min, 16);
    assert_int_equal(o.size_max, 4096);
    assert_true(pm_tracegen_parse_sizes("python", &o));
    assert_int_equal(o.sizes, PM_SIZES_PYTHON);
    assert_false(pm_tracegen_parse_sizes("uniform:16", &o));
    assert_false(pm_tracegen_parse_sizes("zipf", &o));
}

/* ---- slot map ---- */

static void test_slotmap_reuse_lifo(void **state)
{
    (void)state;
    struct pm_slotmap m;
    assert_int_equal(pm_slotmap_init(&m), 0);
    char obj[8];
    void *p[8];
    for (int i = 0; i < 8; i++)
        p[i] = &obj[i];
    assert_int_equal(pm_slotmap_put(&m, p[0]), 0);
    assert_int_equal(pm_slotmap_put(&m, p[1]), 1);
    assert_int_equal(pm_slotmap_put(&m, p[2]), 2);
    assert_int_equal(pm_slotmap_put(&m, p[1]), -2);   /* already mapped */
    assert_int_equal(pm_slotmap_put(&m, NULL), -2);
    assert_int_equal(pm_slotmap_get(&m, p[2]), 2);
    assert_int_equal(pm_slotmap_take(&m, p[1]), 1);
    assert_int_equal(pm_slotmap_get(&m, p[1]), -1);
    assert_int_equal(pm_slotmap_take(&m, p[1]), -1);  /* not mapped any more */
    assert_int_equal(pm_slotmap_put(&m, p[3]), 1);    /* the freed slot comes back */
    assert_int_equal(pm_slotmap_take(&m, p[0]), 0);
    assert_int_equal(pm_slotmap_take(&m, p[2]), 2);
    assert_int_equal(pm_slotmap_put(&m, p[4]), 2);    /* last freed, first reused */
    assert_int_equal(pm_slotmap_put(&m, p[5]), 0);
    assert_int_equal(pm_slotmap_put(&m, p[6]), 3);    /* then a new one */
    assert_int_equal(pm_slotmap_slot_count(&m), 4);
    assert_int_equal(pm_slotmap_live(&m), 4);
    pm_slotmap_destroy(&m);
}

/* Against a shadow model, through several table and stack growths. */
static void test_slotmap_stress(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct pm_slotmap m;
    assert_int_equal(pm_slotmap_init(&m), 0);
    static int64_t shadow[N];   /* slot of pointer i, or -1 */
    static uint8_t used[N];     /* slot in use */
    for (int i = 0; i < N; i++)
        shadow[i] = -1;
    uint64_t rng = 99;
    size_t live = 0, peak = 0;
    for (int k = 0; k < 300000; k++) {
        uint64_t r = pmt_rand(&rng);
        size_t i = (size_t)(r % N);
        void *ptr = (void *)(uintptr_t)(0x10000 + 16 * i);
        if (shadow[i] < 0) {
            int64_t s = pm_slotmap_put(&m, ptr);
            assert_true(s >= 0 && s < N);
            assert_false(used[s]);
            used[s] = 1;
            shadow[i] = s;
            live++;
        } else if (r >> 63) {
            assert_int_equal(pm_slotmap_get(&m, ptr), shadow[i]);
        } else {
            assert_int_equal(pm_slotmap_take(&m, ptr), shadow[i]);
            used[shadow[i]] = 0;
            shadow[i] = -1;
            live--;
        }
        if (live > peak)
            peak = live;
    }
    assert_int_equal(pm_slotmap_live(&m), live);
    /* LIFO reuse keeps slots dense: never more slots than the peak live count */
    assert_int_equal(pm_slotmap_slot_count(&m), peak);
    for (int i = 0; i < N; i++)
        assert_int_equal(pm_slotmap_get(&m, (void *)(uintptr_t)(0x10000 + 16 * i)), shadow[i]);
    pm_slotmap_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_valid_reference),
        cmocka_unit_test(test_binary_wrong_magic),
        cmocka_unit_test(test_binary_wrong_version),
        cmocka_unit_test(test_binary_truncated_stream),
        cmocka_unit_test(test_binary_unknown_opcode),
        cmocka_unit_test(test_binary_free_not_live),
        cmocka_unit_test(test_binary_realloc_not_live),
        cmocka_unit_test(test_binary_alloc_into_live),
        cmocka_unit_test(test_binary_size_over_limit),
        cmocka_unit_test(test_binary_bad_alignment),
        cmocka_unit_test(test_binary_header_more_ops),
        cmocka_unit_test(test_binary_header_fewer_ops),
        cmocka_unit_test(test_binary_slot_beyond_count),
        cmocka_unit_test(test_binary_header_fields),
        cmocka_unit_test(test_binary_malformed_fields),
        cmocka_unit_test(test_text_valid_reference),
        cmocka_unit_test(test_text_wrong_magic_and_version),
        cmocka_unit_test(test_text_truncated),
        cmocka_unit_test(test_text_unknown_opcode),
        cmocka_unit_test(test_text_liveness),
        cmocka_unit_test(test_text_size_over_limit),
        cmocka_unit_test(test_text_header_counts),
        cmocka_unit_test(test_text_syntax),
        cmocka_unit_test(test_errors_through_files),
        cmocka_unit_test(test_fast_matches_slow_on_corruption),
        cmocka_unit_test(test_lenient_cut_stream),
        cmocka_unit_test(test_lenient_unfinished_recording),
        cmocka_unit_test(test_writer_never_clobbers),
        cmocka_unit_test(test_convert_bad_input_leaves_output),
        cmocka_unit_test(test_writer_metadata),
        cmocka_unit_test(test_encode_compact_and_rejects),
        cmocka_unit_test(test_round_trip_every_pattern),
        cmocka_unit_test(test_generators_deterministic),
        cmocka_unit_test(test_generator_op_counts),
        cmocka_unit_test(test_generator_shapes),
        cmocka_unit_test(test_growth_follows_list_resize),
        cmocka_unit_test(test_generator_option_errors),
        cmocka_unit_test(test_slotmap_reuse_lifo),
        cmocka_unit_test(test_slotmap_stress),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
