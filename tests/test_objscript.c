/* tests/test_objscript.c — the object-script parser and interpreter
 * (workloads/objscript/) through its C interface: messages stay one line
 * whatever bytes a quoted word holds (escaped \n \t \r \\ \xNN, long words
 * cut), and pm_objscript_finish tears down scripts whose finalizers
 * resurrect, whatever the order of the names (both found by fuzz_objscript;
 * reproducers in fuzz/corpus/fuzz_objscript, fuzz/README.md). The scripts'
 * behaviours themselves are tested by tests/cli/objscripts.sh.
 *
 * The finish tests run on `system` and every own backend (pmo_specs) and end
 * with the space's consistency check and a destroy that must find no block.
 */
#include "pm_objtest.h"
#include "pm_objscript.h"

/* Parses text that must fail; returns its message (static buffer). */
static const char *parse_error(const char *text, size_t len, const char *file)
{
    static char err[PM_ERR_LEN];
    struct pm_objscript *sc = pm_objscript_parse(text, len, file, err);
    if (sc) {
        pm_objscript_free(sc);
        fail_msg("'%s' parsed", text);
    }
    return err;
}

#define assert_parse_error(lit, want)                                         \
    assert_string_equal(parse_error(lit, sizeof lit - 1, "s.txt"), want)

/* The reproducer fuzz/corpus/fuzz_objscript/parse-error-echoes-newline: a
 * quoted word holding a newline was echoed as is, over two lines. */
static void test_parse_error_escapes_newline(void **state)
{
    (void)state;
    const char *err = parse_error("\"\\n\"", 4, "s.txt");
    assert_string_equal(err, "s.txt:1: unknown statement '\\n'");
    assert_null(strchr(err, '\n'));
}

static void test_parse_error_escapes_control_bytes(void **state)
{
    (void)state;
    assert_parse_error("\"a\\tb\\\\c\"\n", "s.txt:1: unknown statement 'a\\tb\\\\c'");
    assert_parse_error("x\x01y\x1b[2J\x7f z\n", "s.txt:1: unknown statement 'x\\x01y\\x1b[2J\\x7f'");
    assert_parse_error("a\rb\n", "s.txt:1: unknown statement 'a\\rb'");
    assert_parse_error("x = str \"\xc3\xa9\\n\"\n", "s.txt:1: string \"\\xc3\\xa9\\n\" is not ASCII");
    assert_parse_error("l = list\nappend l \"\\n\" 2\n", "s.txt:2: append takes 2 operands, not 3");
    assert_parse_error("x = int \"1\\n2\"\n", "s.txt:1: bad int '1\\n2'");
    assert_parse_error("del \"\\n\"\n", "s.txt:1: del takes names, not '\\n'");
    assert_parse_error("\"\\n\" = list\n", "s.txt:1: cannot bind '\\n' (a name is letters, digits, _; "
                                           "not a kind word)");
    assert_parse_error("gc \"\\n\"\n", "s.txt:1: unknown gc command '\\n'");
    /* an escape the docs do not list is an error (it was read as the bare letter) */
    assert_parse_error("expect \"\\x\"\n", "s.txt:1: unknown escape '\\x' in a string (known: \\\" \\\\ \\n \\t)");
}

/* A long word is cut after a whole escape, with "..." after it (79 bytes
 * at most), so the hint after it stays in the message. */
static void test_parse_error_cuts_long_words(void **state)
{
    (void)state;
    char text[400], want[PM_ERR_LEN];
    memset(text, 'w', 300);
    memcpy(text + 300, " = lst 1\n", 10);
    snprintf(want, sizeof want, "s.txt:1: unknown kind 'lst' (none int float str istr bytes tuple "
                                "list dict class new weakref getattr item deref objects garbage)");
    assert_string_equal(parse_error(text, strlen(text), "s.txt"), want);   /* a long name is fine */
    memcpy(text + 300, "\n", 2);
    snprintf(want, sizeof want, "s.txt:1: unknown statement '%.76s...'", text);
    assert_string_equal(parse_error(text, 301, "s.txt"), want);
    memset(text, 0x01, 100);
    text[100] = '\n';
    /* 19 escapes of 4 bytes, then "..." and the NUL: 80 bytes */
    snprintf(want, sizeof want, "s.txt:1: unknown statement '");
    for (int i = 0; i < 19; i++)
        strcat(want, "\\x01");
    strcat(want, "...'");
    assert_string_equal(parse_error(text, 101, "s.txt"), want);
    /* a word that fits exactly is not cut: 79 letters */
    memset(text, 'v', 79);
    text[79] = '\n';
    snprintf(want, sizeof want, "s.txt:1: unknown statement '%.79s'", text);
    assert_string_equal(parse_error(text, 80, "s.txt"), want);
}

/* The file name is a user's word too: escaped in parse and run errors. */
static void test_file_name_escaped(void **state)
{
    (void)state;
    assert_string_equal(parse_error("frob\n", 5, "a\nb.txt"), "a\\nb.txt:1: unknown statement 'frob'");
    char err[PM_ERR_LEN];
    struct pm_objscript *sc = pm_objscript_parse("append l l\n", 11, "a\tb.txt", err);
    assert_non_null(sc);
    struct pmo_env e;
    pmo_env_open(&e, "system", NULL);
    struct pm_objscript_run *r = pm_objscript_start(sc, e.sp, NULL);
    assert_non_null(r);
    assert_int_equal(pm_objscript_exec(r, err), PM_OBJSCRIPT_BAD);
    assert_string_equal(err, "a\\tb.txt:1: name 'l' is not bound");
    pm_objscript_end(r);
    pm_objscript_free(sc);
    pmo_env_close(&e);
}

/* ---- pm_objscript_finish ---- */

/* Runs text on spec: exec must return want_exec (err: its message) and, if
 * it succeeded, finish must succeed. Returns the finalizers run by exec. */
static uint64_t run_script(const char *spec, const char *text, int want_exec, char err[PM_ERR_LEN])
{
    struct pm_objscript *sc = pm_objscript_parse(text, strlen(text), "s.txt", err);
    if (!sc)
        fail_msg("%s: %s", spec, err);
    struct pmo_env e;
    pmo_env_open(&e, spec, NULL);
    struct pm_objscript_run *r = pm_objscript_start(sc, e.sp, NULL);
    assert_non_null(r);
    int rc = pm_objscript_exec(r, err);
    if (rc != want_exec)
        fail_msg("%s: exec %d, want %d: %s", spec, rc, want_exec, err);
    uint64_t finalized = pm_objscript_stats(r)->finalized;
    if (rc == PM_OBJSCRIPT_OK && pm_objscript_finish(r, err) != PM_OBJSCRIPT_OK)
        fail_msg("%s: finish: %s", spec, err);
    pm_objscript_end(r);
    pm_objscript_free(sc);
    if (rc == PM_OBJSCRIPT_OK) {
        struct pm_objspace_stats os;
        pm_objspace_stats(e.sp, &os);
        assert_int_equal(os.objects_alive, 0);
    }
    pmo_env_close(&e);   /* no block left */
    return finalized;
}

/* The reproducer fuzz/corpus/fuzz_objscript/finish-resurrect-into-dropped-list.txt:
 * finish dropped `keep` before `a`, whose finalizer then failed ("FILE:0:
 * finalizer: 'keep' is not a list"); then the other orders of the names,
 * a name bound to something else than a list (never consulted once finish
 * has unbound the names), and resurrection, legacy tp_del, a collection
 * inside the finalizer and weakref callbacks all at once. */
static void test_finish_resurrecting_finalizers(void **state)
{
    (void)state;
    static const char *const scripts[] = {
        "keep = list\nF = class F\nfinalizer F resurrect keep\na = new F\n",
        "F = class F\na = new F\nfinalizer F resurrect keep\nkeep = list\n",
        "F = class F\na = new F\nfinalizer F resurrect keep\nkeep = int 3\n",
        "keep = list\nF = class F\nfinalizer F resurrect keep collect legacy\n"
        "a = new F\nb = new F\nsetattr a other b\nsetattr b other a\nappend keep keep\n"
        "w = weakref a\ncb = list\nw2 = weakref b callback cb\nappend keep w2\n",
    };
    const char *specs[16];
    size_t ns = pmo_specs(specs, 16);
    char err[PM_ERR_LEN];
    for (size_t i = 0; i < ns; i++)
        for (size_t k = 0; k < sizeof scripts / sizeof *scripts; k++)
            assert_int_equal(run_script(specs[i], scripts[k], PM_OBJSCRIPT_OK, err), 0);
}

/* During exec nothing changed: a finalizer resurrects into its list, and
 * one whose list name is unbound (or not a list) fails the run. */
static void test_exec_resurrection_unchanged(void **state)
{
    (void)state;
    char err[PM_ERR_LEN];
    assert_int_equal(run_script("system",
                                "keep = list\nF = class F\nfinalizer F resurrect keep\n"
                                "a = new F\ndel a\nexpect len keep 1\nexpect finalized 1\n",
                                PM_OBJSCRIPT_OK, err), 1);
    run_script("system", "F = class F\nfinalizer F resurrect keep\na = new F\ndel a\n",
               PM_OBJSCRIPT_FAILED, err);
    assert_string_equal(err, "s.txt:4: finalizer: 'keep' is not a list");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_error_escapes_newline),
        cmocka_unit_test(test_parse_error_escapes_control_bytes),
        cmocka_unit_test(test_parse_error_cuts_long_words),
        cmocka_unit_test(test_file_name_escaped),
        cmocka_unit_test(test_finish_resurrecting_finalizers),
        cmocka_unit_test(test_exec_resurrection_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
