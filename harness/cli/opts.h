/* harness/cli/opts.h — one option table per command, from which come the
 * parser (getopt_long underneath), `pymemlab CMD --help` / `pymemlab help
 * CMD`, the one-line usage of the command list, the man page (through the
 * help) and the bash completion (`pymemlab completion bash`). They cannot
 * drift: there is no second list (tests/cli/options.sh checks every option of
 * every table against the real parser and --help).
 *
 * A command's table is a static array of struct pm_cli_opt ending with
 * {0}, in the order --help lists it, and a struct pm_cli_spec naming it. The
 * parser checks numbers against the table's range (pm_arg_count/size/double:
 * "bad value for --reps: ...", exit 2) and enum values against the table's
 * list ("CMD: bad value for --mode: 'x' (expected cold or warm)") before the
 * command sees them. */
#ifndef PM_OPTS_H
#define PM_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A default from a macro: PM_CLI_STR(PM_CI_MIN_N) is "6". */
#define PM_CLI_STR_(x) #x
#define PM_CLI_STR(x) PM_CLI_STR_(x)

enum pm_cli_type {
    PM_CLI_FLAG,        /* no value */
    PM_CLI_COUNT,       /* whole number, K/M/G = 1000s, [min, max] */
    PM_CLI_SIZE,        /* bytes, K/M/G = 1024s, [min, max] */
    PM_CLI_DOUBLE,      /* number in [dmin, dmax] */
    PM_CLI_STRING,      /* any word */
    PM_CLI_ENUM,        /* one of `values`, checked by the parser */
    PM_CLI_FILE,        /* a path to a file (completion: files) */
    PM_CLI_DIR,         /* a folder (completion: folders) */
    PM_CLI_BACKEND,     /* a backend spec NAME[,k=v...] (completion: the registry) */
    PM_CLI_BACKENDS,    /* comma-separated backend specs */
    PM_CLI_GC,          /* a collector name (completion: pm_gc_collector_names) */
};

enum {
    PM_CLI_REQUIRED = 1u << 0,  /* the usage line shows it unbracketed */
    PM_CLI_COMMAS = 1u << 1,    /* PM_CLI_ENUM: a comma-separated list of the values */
};

struct pm_cli_opt {
    const char *name;       /* long name, without "--" */
    int id;                 /* what pm_cli_getopt returns for it (the short letter if any) */
    char short_name;        /* 0: none */
    enum pm_cli_type type;
    const char *metavar;    /* "N", "FILE"; NULL for flags */
    const char *def;        /* the default as shown; NULL: none */
    const char *help;       /* one line */
    const char *values;     /* PM_CLI_ENUM: "cold warm" (space-separated); any other
                             * type: the words completion offers */
    uint64_t min, max;      /* PM_CLI_COUNT, PM_CLI_SIZE */
    double dmin, dmax;      /* PM_CLI_DOUBLE */
    unsigned flags;
};

/* One table row: PM_CLI_OPT("reps", 'r', PM_CLI_COUNT, "N", "6", "help",
 * .min = 1, .max = 1000). The id is any distinct int (a letter reads well in
 * the command's switch); .short_name = 'o' gives the short form. */
#define PM_CLI_OPT(NAME, ID, TYPE, META, DEF, HELP, ...)                                           \
    {.name = (NAME), .id = (ID), .type = (TYPE), .metavar = (META), .def = (DEF), .help = (HELP),  \
     __VA_ARGS__}

struct pm_cli_spec {
    const char *name;           /* "replay", "trace gen" */
    const char *args;           /* positional arguments before the options: "TRACE" */
    const char *tail;           /* after them: "-- COMMAND ARGS..." */
    const char *summary;        /* one line */
    const struct pm_cli_opt *opts;  /* NULL or {0}-terminated */
    bool stop_at_operand;       /* options end at the first operand (a command follows) */
    const struct pm_cli_spec *const *subs;  /* subcommands (trace), NULL-terminated */
    const char *more;           /* a paragraph after the options, or NULL */
};

/* The value of the option pm_cli_getopt returned: s is the text (NULL for
 * flags), u the number of a COUNT or SIZE, d of a DOUBLE. */
struct pm_cli_val {
    const char *s;
    uint64_t u;
    double d;
};

/* getopt_long over spec's table: returns the option's id, or -1 at the end
 * of the options (optind is then the first operand). An unknown option or a
 * missing value exits 2 ("CMD: unknown option '--x' (see 'pymemlab help
 * CMD')"); a number out of the table's range exits 2 naming the option. */
int pm_cli_getopt(const struct pm_cli_spec *spec, int argc, char **argv, struct pm_cli_val *v);

/* The one-line synopsis: "TRACE --backend B [--reps N] ...". */
void pm_cli_usage(const struct pm_cli_spec *spec, char *buf, size_t len);
/* The full help: usage, summary, every option with its value, range and
 * default. For a spec with subcommands, each of them. */
void pm_cli_help(const struct pm_cli_spec *spec, FILE *f);
/* The same as roff for the man page (`pymemlab help --roff CMD`,
 * scripts/gen-man.sh): .TP paragraphs, one per option. */
void pm_cli_help_roff(const struct pm_cli_spec *spec, FILE *f);
/* A subcommand of spec by name, or NULL. */
const struct pm_cli_spec *pm_cli_sub(const struct pm_cli_spec *spec, const char *name);

/* `pymemlab completion bash`: the completion script from every table;
 * `pymemlab completion table`: the tables, tab-separated, one option a line
 * (command, --name, -s, type, metavar, default, values, min, max, required). */
struct pm_command;
extern const struct pm_cli_spec pm_spec_completion;
int pm_cli_completion(const struct pm_command *cmds, int argc, char **argv);

#endif
