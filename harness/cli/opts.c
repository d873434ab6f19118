/* harness/cli/opts.c — the option tables' parser, help, usage line and bash
 * completion. See opts.h. */
#include "opts.h"
#include "allocator.h"
#include "cli.h"
#include "pm_object.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_OPTS = 48 };

static size_t nopts(const struct pm_cli_opt *o)
{
    size_t n = 0;
    while (o && o[n].name)
        n++;
    return n;
}

/* "trace gen" -> "trace": what error messages and `help` name */
static void first_word(const char *name, char *out, size_t len)
{
    snprintf(out, len, "%.*s", (int)strcspn(name, " "), name);
}

static bool enum_has(const char *values, const char *w, size_t len)
{
    for (const char *p = values; *p; p += strspn(p, " ")) {
        size_t n = strcspn(p, " ");
        if (n == len && !strncmp(p, w, len))
            return true;
        p += n;
    }
    return false;
}

/* "CMD: bad value for --OPT: 'x' (expected a, b or c)" unless the value (or
 * each item of a PM_CLI_COMMAS list) is one of the table's */
static void enum_check(const struct pm_cli_spec *spec, const struct pm_cli_opt *o, const char *val)
{
    const char *p = val;
    bool ok = *p != 0;
    while (ok) {
        size_t n = (o->flags & PM_CLI_COMMAS) ? strcspn(p, ",") : strlen(p);
        ok = n && enum_has(o->values, p, n);
        if (!ok || !p[n])
            break;
        p += n + 1;
    }
    if (ok)
        return;
    char expected[512] = "";
    size_t k = 0, count = 0, i = 0;
    for (const char *q = o->values; *q; q += strspn(q, " "), count++)
        q += strcspn(q, " ");
    for (const char *q = o->values; *q; q += strspn(q, " "), i++) {
        size_t n = strcspn(q, " ");
        k += (size_t)snprintf(expected + k, k < sizeof expected ? sizeof expected - k : 0, "%s%.*s",
                              i == 0 ? "" : i + 1 == count ? " or " : ", ", (int)n, q);
        q += n;
    }
    pm_usage_error("%s: bad value for --%s: '%s' (expected %s)", spec->name, o->name, val, expected);
}

int pm_cli_getopt(const struct pm_cli_spec *spec, int argc, char **argv, struct pm_cli_val *v)
{
    /* the getopt tables, built once per spec (a process parses one command) */
    static const struct pm_cli_spec *built;
    static struct option lo[MAX_OPTS + 1];
    static char shorts[2 * MAX_OPTS + 4];
    size_t n = nopts(spec->opts);
    if (built != spec) {
        if (n > MAX_OPTS)
            pm_run_error("%s: more than %d options in its table", spec->name, MAX_OPTS);
        size_t k = 0;
        shorts[k++] = spec->stop_at_operand ? '+' : ':';
        if (spec->stop_at_operand)
            shorts[k++] = ':';
        for (size_t i = 0; i < n; i++) {
            const struct pm_cli_opt *o = &spec->opts[i];
            lo[i] = (struct option){o->name, o->type == PM_CLI_FLAG ? no_argument : required_argument, NULL, o->id};
            if (o->short_name) {
                shorts[k++] = o->short_name;
                if (o->type != PM_CLI_FLAG)
                    shorts[k++] = ':';
            }
        }
        shorts[k] = 0;
        lo[n] = (struct option){0, 0, 0, 0};
        built = spec;
    }
    opterr = 0;
    int c = getopt_long(argc, argv, shorts, lo, NULL);
    if (c == -1)
        return -1;
    char cmd[32];
    first_word(spec->name, cmd, sizeof cmd);
    const struct pm_cli_opt *o = NULL;
    for (size_t i = 0; i < n && !o; i++)
        if (spec->opts[i].id == c)
            o = &spec->opts[i];
    if (c == '?' || c == ':' || !o)
        pm_bad_option(cmd, c == ':' ? ':' : '?', argv);
    *v = (struct pm_cli_val){.s = optarg};
    char dashed[64];
    snprintf(dashed, sizeof dashed, "--%s", o->name);
    switch (o->type) {
    case PM_CLI_COUNT: v->u = pm_arg_count(dashed, optarg, o->min, o->max); break;
    case PM_CLI_SIZE: v->u = pm_arg_size(dashed, optarg, o->min, o->max); break;
    case PM_CLI_DOUBLE: v->d = pm_arg_double(dashed, optarg, o->dmin, o->dmax); break;
    case PM_CLI_ENUM: enum_check(spec, o, optarg); break;
    default: break;
    }
    return c;
}

const struct pm_cli_spec *pm_cli_sub(const struct pm_cli_spec *spec, const char *name)
{
    for (const struct pm_cli_spec *const *s = spec->subs; s && *s; s++) {
        const char *sub = strchr((*s)->name, ' ');
        if (sub && !strcmp(sub + 1, name))
            return *s;
    }
    return NULL;
}

/* ---- usage and help ---- */

static void cat(char *buf, size_t len, const char *fmt, const char *a, const char *b)
{
    size_t used = strlen(buf);
    if (used < len)
        snprintf(buf + used, len - used, fmt, a, b);
}

static void opt_word(const struct pm_cli_opt *o, char *buf, size_t len)
{
    if (o->short_name)
        snprintf(buf, len, "-%c %s", o->short_name, o->metavar ? o->metavar : "");
    else if (o->type == PM_CLI_FLAG)
        snprintf(buf, len, "--%s", o->name);
    else
        snprintf(buf, len, "--%s %s", o->name, o->metavar ? o->metavar : "VALUE");
    size_t l = strlen(buf);
    while (l && buf[l - 1] == ' ')
        buf[--l] = 0;
}

void pm_cli_usage(const struct pm_cli_spec *spec, char *buf, size_t len)
{
    buf[0] = 0;
    if (spec->subs) {
        for (const struct pm_cli_spec *const *s = spec->subs; *s; s++) {
            char one[1024];
            pm_cli_usage(*s, one, sizeof one);
            const char *sub = strchr((*s)->name, ' ');
            cat(buf, len, "%s%s", buf[0] ? " | " : "", sub ? sub + 1 : (*s)->name);
            cat(buf, len, "%s%s", one[0] ? " " : "", one);
        }
        return;
    }
    if (spec->args && *spec->args)
        cat(buf, len, "%s%s", "", spec->args);
    for (const struct pm_cli_opt *o = spec->opts; o && o->name; o++) {
        char w[128];
        opt_word(o, w, sizeof w);
        bool req = o->flags & PM_CLI_REQUIRED;
        cat(buf, len, buf[0] ? " %s" : "%s", req ? "" : "[", "");
        cat(buf, len, "%s%s", w, req ? "" : "]");
    }
    if (spec->tail && *spec->tail)
        cat(buf, len, "%s%s", buf[0] ? " " : "", spec->tail);
}

/* "2^40" for large powers of two, else the number */
static void fmt_u64(uint64_t v, char *buf, size_t len)
{
    if (v >= (UINT64_C(1) << 20) && !(v & (v - 1))) {
        int k = 0;
        while ((UINT64_C(1) << k) != v)
            k++;
        snprintf(buf, len, "2^%d", k);
    } else
        snprintf(buf, len, "%llu", (unsigned long long)v);
}

static void opt_range(const struct pm_cli_opt *o, char *buf, size_t len)
{
    char a[32], b[32];
    buf[0] = 0;
    switch (o->type) {
    case PM_CLI_COUNT:
    case PM_CLI_SIZE:
        fmt_u64(o->min, a, sizeof a);
        fmt_u64(o->max, b, sizeof b);
        if (o->max == UINT64_MAX)
            snprintf(buf, len, "%s%s and up", a, o->type == PM_CLI_SIZE ? " bytes" : "");
        else
            snprintf(buf, len, "%s..%s%s", a, b, o->type == PM_CLI_SIZE ? " bytes" : "");
        if (o->type == PM_CLI_SIZE)
            snprintf(buf + strlen(buf), len - strlen(buf), ", K/M/G = 1024s");
        else if (o->max >= 1000000)
            snprintf(buf + strlen(buf), len - strlen(buf), ", K/M/G = 1000s");
        break;
    case PM_CLI_DOUBLE: snprintf(buf, len, "%g..%g", o->dmin, o->dmax); break;
    case PM_CLI_ENUM: {
        size_t k = 0;
        for (const char *p = o->values; *p && k + 3 < len; p++)
            buf[k++] = *p == ' ' ? '|' : *p;
        buf[k] = 0;
        break;
    }
    case PM_CLI_GC: {
        size_t k = 0;
        for (const char *const *g = pm_gc_collector_names(); *g; g++)
            k += (size_t)snprintf(buf + k, k < len ? len - k : 0, "%s%s", k ? "|" : "", *g);
        break;
    }
    default: break;
    }
}

/* Writes text at column `col` (the cursor is at `at`), wrapped at 79. */
static void wrap(FILE *f, const char *text, int at, int col)
{
    const int width = 79;
    if (at > col) {
        fputc('\n', f);
        at = 0;
    }
    fprintf(f, "%*s", col - at, "");
    at = col;
    const char *p = text;
    bool first = true;
    while (*p) {
        size_t w = strcspn(p, " ");
        if (!first && at + 1 + (int)w > width) {
            fprintf(f, "\n%*s", col, "");
            at = col;
            first = true;
        }
        if (!first) {
            fputc(' ', f);
            at++;
        }
        fprintf(f, "%.*s", (int)w, p);
        at += (int)w;
        first = false;
        p += w;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

static void help_one(const struct pm_cli_spec *spec, FILE *f, bool head)
{
    char usage[2048];
    pm_cli_usage(spec, usage, sizeof usage);
    if (head)
        fprintf(f, "usage: pymemlab %s%s%s\n%s\n", spec->name, usage[0] ? " " : "", usage, spec->summary);
    else
        fprintf(f, "\n%s%s%s\n", spec->name, usage[0] ? " " : "", usage);
    if (!head)
        wrap(f, spec->summary, 0, 2);
    if (head || (spec->opts && spec->opts[0].name))
        fprintf(f, "%soptions:\n", head ? "\n" : "");
    if (spec->opts && spec->opts[0].name) {
        for (const struct pm_cli_opt *o = spec->opts; o->name; o++) {
            char w[128], range[256], text[1024];
            if (o->short_name)
                snprintf(w, sizeof w, "-%c, --%s%s%s", o->short_name, o->name, o->metavar ? " " : "",
                         o->metavar ? o->metavar : "");
            else
                snprintf(w, sizeof w, "    --%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
            opt_range(o, range, sizeof range);
            snprintf(text, sizeof text, "%s", o->help);
            if (range[0])
                snprintf(text + strlen(text), sizeof text - strlen(text), " (%s)", range);
            if (o->flags & PM_CLI_REQUIRED)
                snprintf(text + strlen(text), sizeof text - strlen(text), " [required]");
            else if (o->def)
                snprintf(text + strlen(text), sizeof text - strlen(text), " [default: %s]", o->def);
            int at = fprintf(f, "  %s", w);
            wrap(f, text, at + 2 > 28 ? 80 : at, 28);
        }
    }
}

void pm_cli_help(const struct pm_cli_spec *spec, FILE *f)
{
    if (!spec->subs) {
        help_one(spec, f, true);
        fprintf(f, "  -h, --help                this help\n");
        if (spec->more)
            wrap(f, spec->more, 0, 0);
        return;
    }
    fprintf(f, "usage: pymemlab %s SUBCOMMAND [ARGS]\n%s\n\nsubcommands:\n", spec->name, spec->summary);
    for (const struct pm_cli_spec *const *s = spec->subs; *s; s++)
        help_one(*s, f, false);
    fprintf(f, "\n  -h, --help (after the subcommand: its help alone)\n");
}

/* ---- the man page (scripts/gen-man.sh): the same text in roff ---- */

static void roff(FILE *f, const char *s)
{
    for (bool bol = true; *s; s++) {
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", f);
        if (*s == '\\')
            fputs("\\e", f);
        else if (*s == '-')
            fputs("\\-", f);
        else
            fputc(*s, f);
        bol = *s == '\n';
    }
}

static void roff_one(const struct pm_cli_spec *spec, FILE *f)
{
    char usage[2048];
    pm_cli_usage(spec, usage, sizeof usage);
    fputs(".TP\n.B ", f);
    roff(f, spec->name);
    fputs("\n", f);
    if (usage[0]) {
        fputs(".I ", f);
        roff(f, usage);
        fputs("\n.br\n", f);
    }
    roff(f, spec->summary);
    fputs("\n", f);
    if (!spec->opts || !spec->opts[0].name)
        return;
    fputs(".RS\n", f);
    for (const struct pm_cli_opt *o = spec->opts; o->name; o++) {
        char w[128], range[256];
        if (o->short_name)
            snprintf(w, sizeof w, "-%c, --%s", o->short_name, o->name);
        else
            snprintf(w, sizeof w, "--%s", o->name);
        fputs(".TP\n.B ", f);
        roff(f, w);
        if (o->metavar) {
            fputs(" \\fI", f);
            roff(f, o->metavar);
            fputs("\\fR", f);
        }
        fputs("\n", f);
        roff(f, o->help);
        opt_range(o, range, sizeof range);
        if (range[0]) {
            fputs(" (", f);
            roff(f, range);
            fputs(")", f);
        }
        if (o->flags & PM_CLI_REQUIRED)
            fputs(" [required]", f);
        else if (o->def) {
            fputs(" [default: ", f);
            roff(f, o->def);
            fputs("]", f);
        }
        fputs("\n", f);
    }
    fputs(".RE\n", f);
}

void pm_cli_help_roff(const struct pm_cli_spec *spec, FILE *f)
{
    if (!spec->subs) {
        roff_one(spec, f);
        return;
    }
    fputs(".TP\n.B ", f);
    roff(f, spec->name);
    fputs("\n", f);
    roff(f, spec->summary);
    fputs("\n.RS\n", f);
    for (const struct pm_cli_spec *const *s = spec->subs; *s; s++)
        roff_one(*s, f);
    fputs(".RE\n", f);
}

/* ---- completion ---- */

static const char *type_name(enum pm_cli_type t)
{
    static const char *const names[] = {
        [PM_CLI_FLAG] = "flag",       [PM_CLI_COUNT] = "count",   [PM_CLI_SIZE] = "size",
        [PM_CLI_DOUBLE] = "double",   [PM_CLI_STRING] = "string", [PM_CLI_ENUM] = "enum",
        [PM_CLI_FILE] = "file",       [PM_CLI_DIR] = "dir",       [PM_CLI_BACKEND] = "backend",
        [PM_CLI_BACKENDS] = "backends", [PM_CLI_GC] = "gc",
    };
    return names[t];
}

static void backend_words(FILE *f)
{
    bool first = true;
    for (const struct allocator_ops *const *b = pm_backends; *b; b++) {
        if ((*b)->flags & PM_BACKEND_TEST_ONLY)
            continue;
        fprintf(f, "%s%s%s", first ? "" : " ", (*b)->name, ((*b)->flags & PM_BACKEND_WRAPPER) ? ":" : "");
        first = false;
    }
    fprintf(f, " lib:");
}

static void gc_words(FILE *f)
{
    for (const char *const *g = pm_gc_collector_names(); *g; g++)
        fprintf(f, "%s%s", g == pm_gc_collector_names() ? "" : " ", *g);
}

static void values_of(const struct pm_cli_opt *o, FILE *f)
{
    if (o->values) {
        fputs(o->values, f);
        return;
    }
    switch (o->type) {
    case PM_CLI_BACKEND:
    case PM_CLI_BACKENDS: backend_words(f); break;
    case PM_CLI_GC: gc_words(f); break;
    default: break;
    }
}

static void table_rows(const struct pm_cli_spec *s, FILE *f)
{
    if (s->subs) {
        for (const struct pm_cli_spec *const *sub = s->subs; *sub; sub++)
            table_rows(*sub, f);
        return;
    }
    for (const struct pm_cli_opt *o = s->opts; o && o->name; o++) {
        char mn[32] = "", mx[32] = "";
        if (o->type == PM_CLI_COUNT || o->type == PM_CLI_SIZE) {
            snprintf(mn, sizeof mn, "%llu", (unsigned long long)o->min);
            snprintf(mx, sizeof mx, "%llu", (unsigned long long)o->max);
        } else if (o->type == PM_CLI_DOUBLE) {
            snprintf(mn, sizeof mn, "%.17g", o->dmin);
            snprintf(mx, sizeof mx, "%.17g", o->dmax);
        }
        fprintf(f, "%s\t--%s\t%s%c\t%s\t%s\t%s\t", s->name, o->name, o->short_name ? "-" : "",
                o->short_name ? o->short_name : '\0', type_name(o->type), o->metavar ? o->metavar : "",
                o->def ? o->def : "");
        values_of(o, f);
        fprintf(f, "\t%s\t%s\t%s\n", mn, mx, (o->flags & PM_CLI_REQUIRED) ? "required" : "");
    }
}

/* bash function name part for a command: "trace gen" -> "trace_gen" */
static void ident(const char *name, char *out, size_t len)
{
    size_t k = 0;
    for (; *name && k + 1 < len; name++)
        out[k++] = (*name == ' ' || *name == '-') ? '_' : *name;
    out[k] = 0;
}

static void bash_case(const struct pm_cli_spec *s, FILE *f)
{
    if (s->subs) {
        for (const struct pm_cli_spec *const *sub = s->subs; *sub; sub++)
            bash_case(*sub, f);
        return;
    }
    char id[64];
    ident(s->name, id, sizeof id);
    fprintf(f, "    %s)\n      opts=\"--help", id);
    for (const struct pm_cli_opt *o = s->opts; o && o->name; o++)
        fprintf(f, " --%s%s%c", o->name, o->short_name ? " -" : "", o->short_name ? o->short_name : ' ');
    fprintf(f, "\"\n      case $prev in\n");
    for (const struct pm_cli_opt *o = s->opts; o && o->name; o++) {
        if (o->type == PM_CLI_FLAG)
            continue;
        char alt[8] = "";
        if (o->short_name)
            snprintf(alt, sizeof alt, "|-%c", o->short_name);
        fprintf(f, "        --%s%s) ", o->name, alt);
        switch (o->type) {
        case PM_CLI_FILE: fprintf(f, "_pymemlab_files; return ;;\n"); break;
        case PM_CLI_DIR: fprintf(f, "_pymemlab_dirs; return ;;\n"); break;
        case PM_CLI_STRING:
        case PM_CLI_ENUM:
        case PM_CLI_GC:
        case PM_CLI_BACKEND:
        case PM_CLI_BACKENDS:
            if (o->type == PM_CLI_STRING && !o->values) {
                fprintf(f, "COMPREPLY=(); return ;;\n");
                break;
            }
            /* a comma-separated list completes its last item */
            fprintf(f, "%s \"", o->type == PM_CLI_BACKENDS || (o->flags & PM_CLI_COMMAS) ? "_pymemlab_list"
                                                                                           : "_pymemlab_words");
            values_of(o, f);
            fprintf(f, "\"; return ;;\n");
            break;
        default: fprintf(f, "COMPREPLY=(); return ;;\n"); break;
        }
    }
    fprintf(f, "      esac ;;\n");
}

static void bash_script(const struct pm_command *cmds, FILE *f)
{
    fprintf(f,
            "# bash completion for pymemlab, generated by `pymemlab completion bash` from the\n"
            "# commands' option tables (harness/cli/opts.h). Install as\n"
            "# share/bash-completion/completions/pymemlab, or source it.\n"
            "_pymemlab_words() { local IFS=$' \\t\\n'; COMPREPLY=($(compgen -W \"$1\" -- \"$cur\")); }\n"
            "_pymemlab_files() { local IFS=$'\\n'; compopt -o filenames 2>/dev/null; "
            "COMPREPLY=($(compgen -f -- \"$cur\")); }\n"
            "_pymemlab_dirs() { local IFS=$'\\n'; compopt -o filenames 2>/dev/null; "
            "COMPREPLY=($(compgen -d -- \"$cur\")); }\n"
            "# a comma-separated list: complete the last item\n"
            "_pymemlab_list() {\n"
            "  local head=\"\" last=$cur\n"
            "  case $cur in *,*) head=${cur%%,*}, ; last=${cur##*,} ;; esac\n"
            "  local IFS=$' \\t\\n' w; COMPREPLY=()\n"
            "  for w in $(compgen -W \"$1\" -- \"$last\"); do COMPREPLY+=(\"$head$w\"); done\n"
            "}\n"
            "_pymemlab() {\n"
            "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i\n"
            "  COMPREPLY=()\n"
            "  # --opt=VALUE: bash splits the word at '='\n"
            "  if [[ $cur == = ]]; then cur=\"\"; prev=${COMP_WORDS[COMP_CWORD-1]}\n"
            "  elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then prev=${COMP_WORDS[COMP_CWORD-2]}; fi\n"
            "  if ((COMP_CWORD == 1)); then\n"
            "    _pymemlab_words \"");
    for (const struct pm_command *c = cmds; c->name; c++)
        fprintf(f, "%s ", c->name);
    fprintf(f, "help --help --version\"; return\n"
               "  fi\n"
               "  local cmd=${COMP_WORDS[1]} first=2\n"
               "  case $cmd in\n"
               "    help) ((COMP_CWORD == 2)) && _pymemlab_words \"");
    for (const struct pm_command *c = cmds; c->name; c++)
        fprintf(f, "%s%s", c == cmds ? "" : " ", c->name);
    fprintf(f, "\"; return ;;\n"
               "    completion) ((COMP_CWORD == 2)) && _pymemlab_words \"bash table\"; return ;;\n");
    for (const struct pm_command *c = cmds; c->name; c++) {
        if (!c->spec->subs)
            continue;
        fprintf(f, "    %s)\n      if ((COMP_CWORD == 2)); then _pymemlab_words \"", c->name);
        for (const struct pm_cli_spec *const *s = c->spec->subs; *s; s++)
            fprintf(f, "%s%s", s == c->spec->subs ? "" : " ", strchr((*s)->name, ' ') + 1);
        fprintf(f, "\"; return; fi\n      cmd=%s_${COMP_WORDS[2]}; first=3 ;;\n", c->name);
    }
    fprintf(f, "  esac\n"
               "  # after --, the words belong to the program a command runs\n"
               "  for ((i = first; i < COMP_CWORD; i++)); do\n"
               "    [[ ${COMP_WORDS[i]} == -- ]] && { _pymemlab_files; return; }\n"
               "  done\n"
               "  local opts=\"\"\n"
               "  case ${cmd//-/_} in\n");
    for (const struct pm_command *c = cmds; c->name; c++)
        bash_case(c->spec, f);
    fprintf(f, "    *) return ;;\n"
               "  esac\n"
               "  if [[ $cur == -* ]]; then _pymemlab_words \"$opts\"; else _pymemlab_files; fi\n"
               "}\n"
               "complete -F _pymemlab pymemlab\n");
}

const struct pm_cli_spec pm_spec_completion = {
    .name = "completion", .args = "bash|table",
    .summary = "print a bash completion script generated from every command's option table (or, with "
               "'table', the tables tab-separated)",
    .more = "\nInstalled as share/bash-completion/completions/pymemlab; or: source <(pymemlab completion bash)",
};

int pm_cli_completion(const struct pm_command *cmds, int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "bash")) {
        bash_script(cmds, stdout);
        return PM_EXIT_OK;
    }
    if (argc == 2 && !strcmp(argv[1], "table")) {
        for (const struct pm_command *c = cmds; c->name; c++)
            table_rows(c->spec, stdout);
        return PM_EXIT_OK;
    }
    if (argc < 2)
        pm_usage_error("completion: needs a shell: bash (or 'table': the option tables, tab-separated)");
    pm_usage_error("completion: unknown argument '%s' (known: bash, table)", argv[1]);
}
