/* harness/cli/trace_record.c — `pymemlab trace record -o OUT [--python-domains|--all]
 * [--] COMMAND ARGS...`: runs COMMAND with the recorder preloaded
 * (libpmrecord.so, workloads/recorder/recorder.c) and leaves its allocation
 * stream in OUT.
 *
 * The library is found next to this binary (/proc/self/exe), or at
 * $PM_RECORDER_LIB. The recorder writes OUT.tmp (created here exclusively,
 * so an earlier crashed recording is never overwritten); when the command
 * ends, an unfinished recording (killed by a signal) is cut after its last
 * whole op, the file is checked with the trace reader, and renamed to OUT.
 * A summary goes to stderr (the command owns stdout).
 *
 * `trace record --salvage OUT.tmp -o OUT` finishes the file of a recording
 * whose `trace record` died too (cut after the last whole op, renamed).
 *
 * Exit codes: 0 the command exited 0 and the trace is complete; 1 the
 * command failed or was killed (OUT still holds what it did: an unfinished
 * trace if it was killed), or nothing could be recorded; 2 bad input
 * (options, no command, a command that cannot be run, OUT.tmp exists).
 *
 * Entry point: cmd_trace_record.
 */
#include "cli.h"
#include "opts.h"
#include "paths.h"
#include "metrics.h"
#include "recording.h"
#include "trace_cmds.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define RECORDER_LIB "libpmrecord.so"
#define TLS_TUNABLE "glibc.rtld.optional_static_tls=65536"   /* main.c's re-exec adds it */

/* The recorder library: $PM_RECORDER_LIB, else next to this binary. */
static void recorder_lib(char out[PATH_MAX])
{
    const char *env = getenv("PM_RECORDER_LIB");
    if (env && *env) {
        if (snprintf(out, PATH_MAX, "%s", env) >= PATH_MAX)
            pm_usage_error("trace record: PM_RECORDER_LIB is too long");
    } else {
        /* next to this binary, or PREFIX/lib/pymemlab when installed (paths.h) */
        if (!pm_helper_lib(RECORDER_LIB, out, PATH_MAX))
            pm_usage_error("trace record: cannot find this binary (/proc/self/exe) to find %s next to it; set "
                           "PM_RECORDER_LIB", RECORDER_LIB);
    }
    if (out[0] != '/')
        pm_usage_error("trace record: the recorder library '%s' must be an absolute path", out);
    if (access(out, R_OK))
        pm_usage_error("trace record: the recorder library '%s' is missing (%s): build the pmrecord target, or "
                       "set PM_RECORDER_LIB", out, strerror(errno));
}

/* Does the command look like a Python interpreter or script? */
static bool looks_like_python(const char *cmd)
{
    const char *base = strrchr(cmd, '/');
    base = base ? base + 1 : cmd;
    size_t n = strlen(base);
    return !strncmp(base, "python", 6) || (n > 3 && !strcmp(base + n - 3, ".py"));
}

/* The command line, shell-quoted where needed, for the metadata. */
static char *command_line(char **argv)
{
    size_t cap = 64, len = 0;
    for (char **a = argv; *a; a++)
        cap += 4 * strlen(*a) + 3;
    char *s = malloc(cap);
    if (!s)
        pm_run_error("trace record: out of memory");
    for (char **a = argv; *a; a++) {
        if (a != argv)
            s[len++] = ' ';
        bool plain = **a != '\0';
        for (const char *c = *a; *c; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%+,-", *c))
                plain = false;
        if (plain) {
            len += (size_t)sprintf(s + len, "%s", *a);
            continue;
        }
        s[len++] = '\'';
        for (const char *c = *a; *c; c++) {
            if (*c == '\'') {
                memcpy(s + len, "'\\''", 4);
                len += 4;
            } else {
                s[len++] = *c;
            }
        }
        s[len++] = '\'';
    }
    s[len] = '\0';
    return s;
}

/* In the child: the environment of the recorded command. */
static void child_env(const char *lib, const char *tmp, const char *mode, const char *cmdline)
{
    char buf[64];
    const char *pre = getenv("LD_PRELOAD");
    size_t n = strlen(lib) + (pre ? strlen(pre) : 0) + 2;
    char *p = malloc(n);
    if (!p)
        _exit(127);
    snprintf(p, n, "%s%s%s", lib, pre && *pre ? ":" : "", pre && *pre ? pre : "");
    setenv("LD_PRELOAD", p, 1);
    setenv("PM_RECORD_OUT", tmp, 1);
    setenv("PM_RECORD_MODE", mode, 1);
    setenv("PM_RECORD_COMMAND", cmdline, 1);
    snprintf(buf, sizeof buf, "%ld", (long)getpid());
    setenv("PM_RECORD_PID", buf, 1);
    unsetenv("PM_RECORD_SET_PYTHONMALLOC");
    /* Undo main.c's static-TLS re-exec setting: the command runs as it would. */
    const char *t = getenv("GLIBC_TUNABLES");
    if (t) {
        size_t tl = strlen(t), ul = strlen(TLS_TUNABLE);
        if (!strcmp(t, TLS_TUNABLE))
            unsetenv("GLIBC_TUNABLES");
        else if (tl > ul && !strcmp(t + tl - ul, TLS_TUNABLE) && t[tl - ul - 1] == ':') {
            char *c = strdup(t);
            if (c) {
                c[tl - ul - 1] = '\0';
                setenv("GLIBC_TUNABLES", c, 1);
            }
        }
    }
}

struct summary {
    uint64_t kinds[8], doms[4], ops;
    uint64_t dropped_bytes;
};

/* Reads the recording through the trace reader (the check that it is
 * valid); 0 or -1 with err. */
static int check_trace(const char *path, struct summary *sm, struct pm_trace **tp, char err[PM_ERR_LEN])
{
    struct pm_trace *t;
    if (pm_trace_open(path, &t, err))
        return -1;
    struct pm_trace_cursor c;
    struct pm_trace_op op;
    int r = pm_trace_cursor_init_lenient(&c, t);
    while (r == 0 && (r = pm_trace_next(&c, &op)) == 1) {
        r = 0;
        sm->kinds[op.kind]++;
        sm->doms[op.domain]++;
    }
    if (r < 0) {
        snprintf(err, PM_ERR_LEN, "%s", c.err);
        pm_trace_close(t);
        return -1;
    }
    sm->ops = c.index;
    sm->dropped_bytes = c.dropped_bytes;
    *tp = t;
    return 0;
}

static const char *meta(struct pm_trace *t, const char *key)
{
    const char *v = pm_trace_meta_get(t, key);
    return v ? v : "";
}

static uint64_t meta_u64(struct pm_trace *t, const char *key)
{
    const char *v = pm_trace_meta_get(t, key);
    return v ? strtoull(v, NULL, 10) : 0;
}

/* `trace record --salvage OUT.tmp -o OUT`: the file of a recording whose
 * recorder and `trace record` both died (killed together): cut after its
 * last whole op, checked, renamed. */
static int salvage_recording(const char *tmp, const char *out)
{
    char err[PM_ERR_LEN];
    uint64_t kept, cut;
    if (pm_recording_trim(tmp, &kept, &cut, err))
        pm_usage_error("trace record: %s", err);
    struct summary sm = {0};
    struct pm_trace *t;
    if (check_trace(tmp, &sm, &t, err))
        pm_usage_error("trace record: %s: %s", tmp, err);
    bool finished = pm_trace_finished(t);
    pm_trace_close(t);
    if (rename(tmp, out))
        pm_run_error("trace record: cannot rename %s to %s: %s", tmp, out, strerror(errno));
    fprintf(stderr, "trace record: %s: %" PRIu64 " ops (%s; %" PRIu64 " bytes of preallocated tail cut%s)%s\n", out,
            sm.ops, finished ? "finished" : "unfinished", cut, sm.dropped_bytes ? ", a partial op dropped" : "",
            finished ? "" : ": read it with --lenient");
    return PM_EXIT_OK;
}

static const struct pm_cli_opt record_opts[] = {
    PM_CLI_OPT("output", 'o', PM_CLI_FILE, "OUT", NULL, "the trace to write (.txt: the text form)",
               .short_name = 'o', .flags = PM_CLI_REQUIRED),
    PM_CLI_OPT("python-domains", 'p', PM_CLI_FLAG, NULL, "for a python COMMAND",
               "record CPython's allocator domains (obj, mem, raw), not malloc"),
    PM_CLI_OPT("all", 'a', PM_CLI_FLAG, NULL, "for any other COMMAND", "record every malloc of the program"),
    PM_CLI_OPT("salvage", 's', PM_CLI_FILE, "OUT.tmp", NULL,
               "instead of running a COMMAND: make a trace of what a killed recording left"),
    {0},
};

const struct pm_cli_spec pm_spec_trace_record = {
    .name = "trace record", .opts = record_opts, .tail = "-- COMMAND ARGS...", .stop_at_operand = true,
    .summary = "record the allocations of a program (its malloc, or CPython's domains) as a trace",
};

/* One recording: its options, then what each step adds. */
struct record_cmd {
    const char *out, *mode, *salvage;
    char **cmd;                 /* the command, from the first operand */
    char lib[PATH_MAX];         /* the recorder library */
    char tmp[PATH_MAX + 8];     /* OUT.tmp, absolute */
    char *cmdline;              /* the command, quoted, for the trace and the summary */
    int status;                 /* its wait status */
    struct rusage ru;
    double secs;
    uint64_t kept, cut;         /* whole ops kept, preallocated tail cut (pm_recording_trim) */
    struct summary sm;
    struct pm_trace *t;         /* the recording, renamed to OUT */
    bool finished;
    uint64_t slots, bytes;
};

static void parse_options(struct record_cmd *rc, int argc, char **argv)
{
    struct pm_cli_val ov;
    int c;
    while ((c = pm_cli_getopt(&pm_spec_trace_record, argc, argv, &ov)) != -1) {
        switch (c) {
        case 'o': rc->out = ov.s; break;
        case 's': rc->salvage = ov.s; break;
        case 'p':
        case 'a':
            if (rc->mode && strcmp(rc->mode, c == 'p' ? "python-domains" : "all"))
                pm_usage_error("trace record: --python-domains and --all exclude each other");
            rc->mode = c == 'p' ? "python-domains" : "all";
            break;
        default: pm_bad_option("trace", c, argv);
        }
    }
    if (!rc->out)
        pm_usage_error("trace record: -o OUT is required (trace record -o OUT [--python-domains|--all] -- COMMAND "
                       "ARGS...)");
}

/* The command, the recorder library, and OUT.tmp: absolute (the recorded
 * program may change directory before an exec), created exclusively here
 * (the recorder truncates it); exit 2 on each problem. */
static void check_input(struct record_cmd *rc, int argc, char **argv)
{
    if (optind >= argc)
        pm_usage_error("trace record: needs a COMMAND to run (trace record -o OUT [--python-domains|--all] -- "
                       "COMMAND ARGS...)");
    rc->cmd = argv + optind;
    if (!rc->mode)
        rc->mode = looks_like_python(rc->cmd[0]) ? "python-domains" : "all";
    recorder_lib(rc->lib);

    const char *out = rc->out;
    char *tmp = rc->tmp;
    char cwd[PATH_MAX] = "";
    if (out[0] != '/' && !getcwd(cwd, sizeof cwd))
        pm_usage_error("trace record: cannot get the current directory: %s", strerror(errno));
    if (snprintf(tmp, sizeof rc->tmp, "%s%s%s.tmp", cwd, cwd[0] ? "/" : "", out) >= (int)sizeof rc->tmp)
        pm_usage_error("trace record: output path too long");
    if (access(tmp, F_OK) != 0)   /* (a leftover OUT.tmp: the message below, with --salvage) */
        pm_cli_out_check("trace record", out);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            pm_usage_error("trace record: %s exists (a recording in progress, or one that crashed: remove it, or "
                           "keep its whole ops with 'trace record --salvage %s -o OUT')", tmp, tmp);
        pm_usage_error("trace record: cannot create %s: %s", tmp, strerror(errno));
    }
    close(fd);
    const char *pm = getenv("PYTHONMALLOC");
    if (!strcmp(rc->mode, "python-domains") && pm && *pm)
        fprintf(stderr, "pymemlab: warning: PYTHONMALLOC=%s is set: CPython replaces the recorder's hooks when it "
                        "starts, so its requests will be missing\n", pm);
}

/* Runs the command with the recorder preloaded, ^C and ^\ left to it;
 * a command that cannot be run is bad input (exit 2, OUT.tmp removed). */
static void run_command(struct record_cmd *rc)
{
    const char *tmp = rc->tmp;
    rc->cmdline = command_line(rc->cmd);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC)) {
        remove(tmp);
        pm_run_error("trace record: pipe: %s", strerror(errno));
    }
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &old_int);   /* ^C reaches the command; we stay to save the trace */
    sigaction(SIGQUIT, &ign, &old_quit);
    fflush(NULL);
    uint64_t t0 = pm_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        remove(tmp);
        pm_run_error("trace record: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        close(pfd[0]);
        child_env(rc->lib, tmp, rc->mode, rc->cmdline);
        pm_exec_or_report(pfd[1], rc->cmd);
    }
    close(pfd[1]);
    int exec_errno = pm_exec_errno(pfd[0]);
    while (wait4(pid, &rc->status, 0, &rc->ru) < 0 && errno == EINTR)
        ;
    rc->secs = (double)(pm_now_ns() - t0) / 1e9;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    if (exec_errno) {
        remove(tmp);
        pm_usage_error("trace record: cannot run '%s': %s", rc->cmd[0], strerror(exec_errno));
    }
}

/* OUT.tmp cut after its last whole op, read back through the trace
 * reader, and renamed to OUT. */
static void keep_recording(struct record_cmd *rc)
{
    const char *tmp = rc->tmp;
    struct stat st;
    if (stat(tmp, &st) || st.st_size == 0) {
        remove(tmp);
        pm_run_error("trace record: nothing was recorded: '%s' did not load %s (a statically linked program? "
                     "set-uid? one that clears LD_PRELOAD?)", rc->cmd[0], rc->lib);
    }
    char err[PM_ERR_LEN];
    if (pm_recording_trim(tmp, &rc->kept, &rc->cut, err))
        pm_run_error("trace record: %s (the recording is left in %s)", err, tmp);
    if (check_trace(tmp, &rc->sm, &rc->t, err))
        pm_run_error("trace record: the recording is malformed (a recorder bug?): %s: %s", tmp, err);
    rc->finished = pm_trace_finished(rc->t);
    rc->slots = pm_trace_slot_count(rc->t);
    rc->bytes = (uint64_t)st.st_size - rc->cut;
    if (rename(tmp, rc->out)) {
        pm_trace_close(rc->t);
        pm_run_error("trace record: cannot rename %s to %s: %s", tmp, rc->out, strerror(errno));
    }
}

/* The summary on stderr: sizes, op kinds, domains, the command's end, and
 * the recorder's notes. */
static void print_summary(const struct record_cmd *rc)
{
    const struct summary *sm = &rc->sm;
    struct pm_trace *t = rc->t;
    int status = rc->status;
    uint64_t stream = pm_trace_stream_bytes(t);
    fprintf(stderr, "trace record: %s: %" PRIu64 " ops, %" PRIu64 " slots, %" PRIu64 " bytes (ops %.2f bytes each)%s\n",
            rc->out, sm->ops, rc->slots, rc->bytes, sm->ops ? (double)stream / (double)sm->ops : 0.0,
            rc->finished ? "" : ", unfinished");
    fprintf(stderr, "  ops      alloc %" PRIu64 ", calloc %" PRIu64 ", realloc %" PRIu64 ", free %" PRIu64
                    ", aligned %" PRIu64 "\n",
            sm->kinds[PM_OP_ALLOC], sm->kinds[PM_OP_CALLOC], sm->kinds[PM_OP_REALLOC], sm->kinds[PM_OP_FREE],
            sm->kinds[PM_OP_ALIGNED]);
    fprintf(stderr, "  domains  obj %" PRIu64 ", mem %" PRIu64 ", raw %" PRIu64 ", none %" PRIu64 "\n",
            sm->doms[PM_DOMAIN_OBJ], sm->doms[PM_DOMAIN_MEM], sm->doms[PM_DOMAIN_RAW], sm->doms[PM_DOMAIN_NONE]);
    fprintf(stderr, "  mode     %s%s%s\n", meta(t, "recorder.mode"),
            *meta(t, "python.version") ? "; Python " : "", meta(t, "python.version"));
    fprintf(stderr, "  command  %s: ", rc->cmdline);
    if (WIFEXITED(status))
        fprintf(stderr, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        fprintf(stderr, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    fprintf(stderr, " after %.2f s (CPU %.2f s user, %.2f s sys)\n", rc->secs,
            (double)rc->ru.ru_utime.tv_sec + (double)rc->ru.ru_utime.tv_usec / 1e6,
            (double)rc->ru.ru_stime.tv_sec + (double)rc->ru.ru_stime.tv_usec / 1e6);
    static const struct {
        const char *key, *what;
    } notes[] = {
        {"recorder.unknown_frees", "frees of pointers allocated before recording began (not recorded)"},
        {"recorder.unknown_reallocs", "reallocs of such pointers (recorded as allocs of the new block)"},
        {"recorder.missed_frees", "allocations at a live address (a free the recorder missed was inserted)"},
        {"recorder.cross_domain", "frees or reallocs through another domain than the allocation's (recorded in "
                                  "the allocation's)"},
        {"recorder.unrepresentable", "requests over the trace format's limits (not recorded)"},
    };
    for (size_t i = 0; i < sizeof notes / sizeof *notes; i++) {
        uint64_t v = meta_u64(t, notes[i].key);
        if (v)
            fprintf(stderr, "pymemlab: note: %" PRIu64 " %s\n", v, notes[i].what);
    }
}

/* A recording the program outlived unfinished: say what the file system
 * shows (a recorder that could not even record its error, the disk full
 * before its first window, leaves no recorder.error). */
static void print_unfinished(const struct record_cmd *rc)
{
    const char *out = rc->out;
    char full[160] = "";
    struct statvfs vfs;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (statvfs(dir, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < (UINT64_C(2) << 20))
        snprintf(full, sizeof full, " (the disk is full: %llu KiB free where the recorder extends the "
                 "trace 1 MiB at a time)", (unsigned long long)vfs.f_bavail * vfs.f_frsize / 1024);
    fprintf(stderr,
            "pymemlab: %s %s before the recording finished%s: %s keeps the %" PRIu64
            " whole ops recorded until then (%" PRIu64 " bytes cut%s); read it with --lenient (trace stats, "
            "trace info, trace convert, replay)\n",
            rc->cmd[0], WIFSIGNALED(rc->status) ? "was killed" : "ended", full, out, rc->kept, rc->cut,
            rc->sm.dropped_bytes ? ", a partial op dropped" : "");
}

/* The verdict: the recorder's error, an unfinished recording, or the
 * command's failure, each exit 1. */
static int verdict(struct record_cmd *rc)
{
    struct pm_trace *t = rc->t;
    int status = rc->status;
    bool stopped = !rc->finished && *meta(t, "recorder.error") && WIFEXITED(status);
    if (*meta(t, "recorder.error") && !stopped)
        fprintf(stderr, "pymemlab: warning: the recorder stopped early: %s\n", meta(t, "recorder.error"));
    if (stopped) {
        /* the recorder gave up (disk full...) while the program went on: the
         * trace lacks every later op, and says so by its header */
        fprintf(stderr,
                "pymemlab: the recorder stopped early: %s; %s keeps the %" PRIu64 " whole ops recorded until "
                "then, unfinished; read it with --lenient (trace stats, trace info, trace convert, replay)\n",
                meta(t, "recorder.error"), rc->out, rc->kept);
        return PM_EXIT_FAIL;
    }
    if (!rc->finished) {
        print_unfinished(rc);
        return PM_EXIT_FAIL;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "pymemlab: %s failed (the trace is complete)\n", rc->cmd[0]);
        return PM_EXIT_FAIL;
    }
    return PM_EXIT_OK;
}

int cmd_trace_record(int argc, char **argv)
{
    struct record_cmd rc = {0};
    parse_options(&rc, argc, argv);
    if (rc.salvage) {
        if (optind < argc || rc.mode)
            pm_usage_error("trace record: --salvage takes no COMMAND and no mode (trace record --salvage "
                           "OUT.tmp -o OUT)");
        pm_cli_out_check_target("trace record", rc.out);
        return salvage_recording(rc.salvage, rc.out);
    }
    check_input(&rc, argc, argv);
    run_command(&rc);
    keep_recording(&rc);
    print_summary(&rc);
    int code = verdict(&rc);
    pm_trace_close(rc.t);
    free(rc.cmdline);
    return code;
}
