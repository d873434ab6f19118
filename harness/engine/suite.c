/* harness/engine/suite.c — reads and checks suite files. See suite.h and
 * docs/suites.md for the format.
 *
 * Entry points: pm_suite_load, pm_suite_parse, pm_suite_free,
 * pm_suite_find, pm_suite_builtin_dir, pm_suite_builtin_names.
 */
#include "suite.h"
#include "paths.h"
#include "fileio.h"
#include "msgescape.h"
#include "pm_build_info.h"
#include "pm_object.h"
#include "python/pywl.h"
#include "replay.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* err[PM_ERR_LEN] = the message, clipped (a long path shortens it). */
__attribute__((format(printf, 2, 3)))
static void seterr(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, PM_ERR_LEN, fmt, ap);
    va_end(ap);
    pm_msg_escape(err, PM_ERR_LEN);
}

#define MAX_WORDS 32

/* The parser's state: where it is, for messages. */
struct parse {
    struct pm_suite *s;
    const char *path;
    char dir[PATH_MAX];             /* the suite file's folder, for relative paths */
    unsigned line;
    char *err;
    size_t cap;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct parse *p, const char *fmt, ...)
{
    int w = snprintf(p->err, PM_ERR_LEN, "%s:%u: ", p->path, p->line);
    va_list ap;
    va_start(ap, fmt);
    if (w >= 0 && w < PM_ERR_LEN)
        vsnprintf(p->err + w, PM_ERR_LEN - (size_t)w, fmt, ap);
    va_end(ap);
    pm_msg_escape(p->err, PM_ERR_LEN);   /* words of the file, quoted: no control byte */
    return -1;
}

__attribute__((format(printf, 2, 3)))
static void note(struct parse *p, const char *fmt, ...)
{
    char buf[PM_ERR_LEN + 64];
    int w = snprintf(buf, sizeof buf, "%s:%u: ", p->path, p->line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + w, sizeof buf - (size_t)w, fmt, ap);
    va_end(ap);
    size_t old = p->s->notes ? strlen(p->s->notes) : 0;
    char *n = realloc(p->s->notes, old + strlen(buf) + 2);
    if (!n)
        return;                     /* a note lost to OOM is not worth failing for */
    memcpy(n + old, buf, strlen(buf));
    n[old + strlen(buf)] = '\n';
    n[old + strlen(buf) + 1] = 0;
    p->s->notes = n;
}

/* ---- values ---- */

/* A count with optional K/M/G (powers of 1000), as the command line takes. */
static bool parse_count(const char *v, uint64_t max, uint64_t *out)
{
    char *end;
    if (!*v || *v == '-' || *v == '+')
        return false;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v)
        return false;
    uint64_t mul = 1;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mul = 1000; break;
        case 'm': case 'M': mul = 1000000; break;
        case 'g': case 'G': mul = 1000000000; break;
        default: return false;
        }
        if (end[1])
            return false;
    }
    if (x > UINT64_MAX / mul || x * mul > max)
        return false;
    *out = (uint64_t)x * mul;
    return true;
}

static bool parse_double(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi))
        return false;
    *out = x;
    return true;
}

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > PM_SUITE_NAME_MAX)
        return false;
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return false;
    return true;
}

/* ---- items ---- */

static struct pm_suite_item *item_new(struct parse *p)
{
    struct pm_suite *s = p->s;
    if (s->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 16;
        struct pm_suite_item *ni = realloc(s->items, nc * sizeof *ni);
        if (!ni)
            return NULL;
        s->items = ni;
        p->cap = nc;
    }
    struct pm_suite_item *it = &s->items[s->n];
    memset(it, 0, sizeof *it);
    it->line = p->line;
    snprintf(it->domain, sizeof it->domain, "all");
    return it;
}

/* Adds the item made by item_new after checking its name. */
static int item_commit(struct parse *p, struct pm_suite_item *it)
{
    if (!name_ok(it->name))
        return fail(p, "bad workload name '%s' (1..%d of A-Z a-z 0-9 . _ -; set one with name=)",
                    it->name, PM_SUITE_NAME_MAX);
    for (size_t i = 0; i < p->s->n; i++)
        if (!strcmp(p->s->items[i].name, it->name))
            return fail(p, "workload name '%s' already used on line %u (set another with name=)",
                        it->name, p->s->items[i].line);
    p->s->n++;
    return 0;
}

/* Appends " word" to the canonical params. */
static void params_add(struct pm_suite_item *it, const char *word)
{
    size_t used = strlen(it->params);
    snprintf(it->params + used, sizeof it->params - used, "%s%s", used ? " " : "", word);
}

/* key=value split: returns the value or NULL (word has no '='). */
static const char *kv(char *word)
{
    char *eq = strchr(word, '=');
    if (!eq)
        return NULL;
    *eq = 0;
    return eq + 1;
}

/* Options every kind takes: name= and timeout=. 1 if taken, 0 if not one
 * of them, -1 on a bad value. */
static int common_option(struct parse *p, struct pm_suite_item *it, const char *k, const char *v)
{
    if (!strcmp(k, "name")) {
        snprintf(it->name, sizeof it->name, "%.*s", PM_SUITE_NAME_MAX, v);
        if (strlen(v) > PM_SUITE_NAME_MAX)
            return fail(p, "name '%s' longer than %d characters", v, PM_SUITE_NAME_MAX);
        return 1;
    }
    if (!strcmp(k, "timeout")) {
        if (!parse_double(v, 0.001, 1e6, &it->timeout_s))
            return fail(p, "bad value for timeout: '%s' (expected seconds, 0.001..1000000)", v);
        return 1;
    }
    return 0;
}

static bool gc_known(const char *name)
{
    for (const char *const *n = pm_gc_collector_names(); *n; n++)
        if (!strcmp(*n, name))
            return true;
    return false;
}

static void gc_names(char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = 0;
    for (const char *const *n = pm_gc_collector_names(); *n && k < len; n++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s", k ? ", " : "", *n);
}

/* The canonical parameters of a py item: gc= only when given, so that a
 * suite without it keeps the parameters (and resumes) it had before. */
static void py_params(struct pm_suite_item *it)
{
    char buf[96];
    snprintf(it->params, sizeof it->params, "py %s", it->workload);
    snprintf(buf, sizeof buf, "scale=%g", it->scale);
    params_add(it, buf);
    snprintf(buf, sizeof buf, "seed=%llu", (unsigned long long)it->seed);
    params_add(it, buf);
    if (it->gc[0]) {
        snprintf(buf, sizeof buf, "gc=%s", it->gc);
        params_add(it, buf);
    }
}

static int parse_py(struct parse *p, char **w, int nw)
{
    if (nw < 2)
        return fail(p, "py: a workload name is required (see 'pymemlab pyrun --list')");
    const struct pywl *wl = pywl_find(w[1]);
    if (!wl) {
        char names[200];
        pywl_names(names, sizeof names);
        return fail(p, "unknown workload '%s' (known: %s)", w[1], names);
    }
    struct pm_suite_item *it = item_new(p);
    if (!it)
        return fail(p, "out of memory");
    it->kind = PM_SUITE_PY;
    snprintf(it->workload, sizeof it->workload, "%s", wl->name);
    snprintf(it->name, sizeof it->name, "%s", wl->name);
    it->scale = wl->default_scale;
    it->seed = 1;
    for (int i = 2; i < nw; i++) {
        const char *v = kv(w[i]);
        if (!v)
            return fail(p, "py: expected key=value, got '%s'", w[i]);
        int c = common_option(p, it, w[i], v);
        if (c < 0)
            return -1;
        if (c)
            continue;
        if (!strcmp(w[i], "scale")) {
            if (!parse_double(v, PYWL_SCALE_MIN, PYWL_SCALE_MAX, &it->scale))
                return fail(p, "bad value for scale: '%s' (expected a number in %g..%g)", v,
                            PYWL_SCALE_MIN, PYWL_SCALE_MAX);
        } else if (!strcmp(w[i], "seed")) {
            if (!parse_count(v, UINT64_MAX, &it->seed))
                return fail(p, "bad value for seed: '%s' (expected a whole number)", v);
        } else if (!strcmp(w[i], "gc")) {
            if (!gc_known(v)) {
                char names[128];
                gc_names(names, sizeof names);
                return fail(p, "unknown collector '%s' in gc= (known: %s)", v, names);
            }
            snprintf(it->gc, sizeof it->gc, "%s", v);
        } else {
            return fail(p, "py: unknown option '%s' (known: scale, seed, gc, name, timeout)", w[i]);
        }
    }
    py_params(it);
    return item_commit(p, it);
}

struct gen_key {
    const char *key;
    unsigned bit;
};
static const struct gen_key gen_keys[] = {
    {"ops", PM_GEN_OPS},           {"live", PM_GEN_LIVE},
    {"seed", PM_GEN_SEED},         {"sizes", PM_GEN_SIZES},
    {"keep-every", PM_GEN_KEEP_EVERY}, {"again", PM_GEN_AGAIN},
    {"realloc-frac", PM_GEN_REALLOC_FRAC}, {"max-len", PM_GEN_MAX_LEN},
    {NULL, 0},
};

static int gen_value(struct parse *p, struct pm_suite_item *it, unsigned bit, const char *k,
                     const char *v)
{
    struct pm_tracegen_opts *o = &it->gen;
    bool ok = true;
    switch (bit) {
    case PM_GEN_OPS: ok = parse_count(v, UINT64_C(1) << 40, &o->ops) && o->ops >= 1; break;
    case PM_GEN_LIVE: ok = parse_count(v, UINT64_C(1) << 31, &o->live) && o->live >= 1; break;
    case PM_GEN_SEED: ok = parse_count(v, UINT64_MAX, &o->seed); break;
    case PM_GEN_SIZES: ok = pm_tracegen_parse_sizes(v, o); break;
    case PM_GEN_KEEP_EVERY: ok = parse_count(v, UINT64_C(1) << 31, &o->keep_every) && o->keep_every >= 1; break;
    case PM_GEN_AGAIN: ok = parse_count(v, UINT64_C(1) << 31, &o->again); break;
    case PM_GEN_REALLOC_FRAC: ok = parse_double(v, 0, 1, &o->realloc_frac); break;
    case PM_GEN_MAX_LEN: ok = parse_count(v, UINT64_C(1) << 32, &o->max_len) && o->max_len >= 1; break;
    default: ok = false;
    }
    if (!ok)
        return fail(p, "gen: bad value for %s: '%s' (see docs/patterns.md)", k, v);
    o->set |= bit;
    return 0;
}

static int parse_gen(struct parse *p, char **w, int nw)
{
    if (nw < 2)
        return fail(p, "gen: a pattern is required (lifo, fifo, churn, growth, survivors)");
    const struct pm_tracegen_pattern *pat = pm_tracegen_patterns;
    while (pat->name && strcmp(pat->name, w[1]))
        pat++;
    if (!pat->name)
        return fail(p, "gen: unknown pattern '%s' (known: lifo, fifo, churn, growth, survivors)", w[1]);
    struct pm_suite_item *it = item_new(p);
    if (!it)
        return fail(p, "out of memory");
    it->kind = PM_SUITE_GEN;
    snprintf(it->pattern, sizeof it->pattern, "%s", pat->name);
    snprintf(it->name, sizeof it->name, "gen-%s", pat->name);
    snprintf(it->params, sizeof it->params, "gen %s", pat->name);
    for (int i = 2; i < nw; i++) {
        char word[256];
        snprintf(word, sizeof word, "%s", w[i]);
        const char *v = kv(w[i]);
        if (!v)
            return fail(p, "gen: expected key=value, got '%s'", w[i]);
        int c = common_option(p, it, w[i], v);
        if (c < 0)
            return -1;
        if (c)
            continue;
        const struct gen_key *g = gen_keys;
        while (g->key && strcmp(g->key, w[i]))
            g++;
        if (!g->key)
            return fail(p, "gen: unknown option '%s' (known: ops, live, seed, sizes, keep-every, "
                           "again, realloc-frac, max-len, name, timeout)", w[i]);
        if (!(pat->takes & g->bit))
            return fail(p, "gen %s: %s does not apply to this pattern (see docs/patterns.md)",
                        pat->name, g->key);
        if (gen_value(p, it, g->bit, g->key, v))
            return -1;
        params_add(it, word);
    }
    /* the generator's own rules (ops too few for live, MIN > MAX...), now:
     * `run` must refuse before it creates its results folder */
    char gerr[PM_ERR_LEN];
    if (pm_tracegen_check(pat->name, &it->gen, gerr))
        return fail(p, "%s", gerr);
    if (!(it->gen.set & PM_GEN_SEED)) {
        it->gen.seed = 42;              /* pm_tracegen's default, written out */
        it->gen.set |= PM_GEN_SEED;
        params_add(it, "seed=42");
    }
    it->seed = it->gen.seed;
    return item_commit(p, it);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The file name without its folder and .pmt/.txt, as a workload name. */
static void trace_name(char *out, size_t len, const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 4 && (!strcmp(b + n - 4, ".pmt") || !strcmp(b + n - 4, ".txt")))
        n -= 4;
    snprintf(out, len, "%.*s", (int)n, b);
}

static int parse_trace(struct parse *p, char **w, int nw)
{
    if (nw < 2)
        return fail(p, "trace: a PATH is required");
    const char *pattern = w[1];
    char domain[16] = "all", name[PM_SUITE_NAME_MAX + 1] = "", suffix[PM_SUITE_NAME_MAX + 1] = "";
    unsigned mask = 0;
    bool optional = false;
    double timeout = 0;
    for (int i = 2; i < nw; i++) {
        if (!strcmp(w[i], "optional")) {
            optional = true;
            continue;
        }
        const char *v = kv(w[i]);
        if (!v)
            return fail(p, "trace: expected key=value or 'optional', got '%s'", w[i]);
        if (!strcmp(w[i], "domain")) {
            if (!pm_replay_parse_domains(v, &mask))
                return fail(p, "bad value for domain: '%s' (expected obj, mem, raw, pymalloc or all)", v);
            snprintf(domain, sizeof domain, "%s", v);
        } else if (!strcmp(w[i], "name")) {
            if (strlen(v) > PM_SUITE_NAME_MAX)
                return fail(p, "name '%s' longer than %d characters", v, PM_SUITE_NAME_MAX);
            snprintf(name, sizeof name, "%.*s", PM_SUITE_NAME_MAX, v);
        } else if (!strcmp(w[i], "suffix")) {
            if (strlen(v) > PM_SUITE_NAME_MAX)
                return fail(p, "suffix '%s' longer than %d characters", v, PM_SUITE_NAME_MAX);
            snprintf(suffix, sizeof suffix, "%.*s", PM_SUITE_NAME_MAX, v);
        } else if (!strcmp(w[i], "timeout")) {
            if (!parse_double(v, 0.001, 1e6, &timeout))
                return fail(p, "bad value for timeout: '%s' (expected seconds, 0.001..1000000)", v);
        } else {
            return fail(p, "trace: unknown option '%s' (known: domain, name, suffix, timeout, optional)", w[i]);
        }
    }
    char full[PATH_MAX];
    if (pattern[0] == '/')
        snprintf(full, sizeof full, "%s", pattern);
    else if (snprintf(full, sizeof full, "%s/%s", p->dir, pattern) >= (int)sizeof full)
        return fail(p, "trace path too long");
    glob_t g;
    int gr = glob(full, GLOB_NOSORT | GLOB_BRACE, NULL, &g);
    if (gr == GLOB_NOMATCH || (gr == 0 && g.gl_pathc == 0)) {
        if (gr == 0)
            globfree(&g);
        if (optional) {
            note(p, "skipped: no trace file matches '%s' (optional; scripts/record-python.sh "
                    "records the python-real set)", pattern);
            return 0;
        }
        return fail(p, "trace '%s' not found (%s; record it with scripts/record-python.sh, or "
                       "mark the line optional)", pattern, full);
    }
    if (gr != 0)
        return fail(p, "trace '%s': cannot list the files (%s)", pattern, strerror(errno));
    /* sorted, so that the order does not depend on the file system */
    qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cmp_str);
    if (name[0] && g.gl_pathc > 1) {
        globfree(&g);
        return fail(p, "trace '%s': name= given but %zu files match", pattern, (size_t)g.gl_pathc);
    }
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        struct pm_suite_item *it = item_new(p);
        if (!it) {
            rc = fail(p, "out of memory");
            break;
        }
        it->kind = PM_SUITE_TRACE;
        it->timeout_s = timeout;
        it->domains = mask;
        snprintf(it->domain, sizeof it->domain, "%s", domain);
        snprintf(it->path, sizeof it->path, "%s", g.gl_pathv[i]);
        char base[PATH_MAX];
        if (name[0])
            snprintf(base, sizeof base, "%s", name);
        else
            trace_name(base, sizeof base, g.gl_pathv[i]);
        if (strlen(base) + strlen(suffix) > PM_SUITE_NAME_MAX) {
            rc = fail(p, "workload name '%.100s%s' longer than %d characters (set one with name=)",
                      base, suffix, PM_SUITE_NAME_MAX);
            break;
        }
        size_t bl = strlen(base), sl = strlen(suffix);   /* bl + sl <= NAME_MAX: checked */
        memcpy(it->name, base, bl);
        memcpy(it->name + bl, suffix, sl + 1);
        /* the path as the suite wrote it (relative to the suite's folder) */
        const char *shown = g.gl_pathv[i];
        size_t dl = strlen(p->dir);
        if (pattern[0] != '/' && !strncmp(shown, p->dir, dl) && shown[dl] == '/')
            shown += dl + 1;
        snprintf(it->params, sizeof it->params, "trace %s domain=%s", shown, domain);
        rc = item_commit(p, it);
    }
    globfree(&g);
    return rc;
}

static int parse_directive(struct parse *p, char **w, int nw)
{
    if (nw != 2)
        return fail(p, "%s: one value expected", w[0]);
    if (!strcmp(w[0], "reps")) {
        uint64_t r;
        if (!parse_count(w[1], 1000, &r) || r < 1)
            return fail(p, "bad value for reps: '%s' (expected 1..1000)", w[1]);
        p->s->reps = (unsigned)r;
    } else {
        if (!parse_double(w[1], 0.001, 1e6, &p->s->timeout_s))
            return fail(p, "bad value for timeout: '%s' (expected seconds, 0.001..1000000)", w[1]);
    }
    return 0;
}

/* `backend SPEC`: one backend of the suite's own list (used when `run`
 * is given no --backends). A lib:PATH with a relative PATH holding a '/'
 * is relative to the suite's folder. */
static int parse_backend(struct parse *p, char **w, int nw)
{
    if (nw != 2)
        return fail(p, "backend: one spec expected (backend NAME[,k=v...] or backend lib:PATH[,name=NAME])");
    const char *spec = w[1];
    const struct allocator_ops *ops = pm_backend_find(spec);
    if (!ops) {
        char names[200];
        pm_backend_names(names, sizeof names);
        return fail(p, "unknown backend '%s' (known: %s)", spec, names);
    }
    char full[PATH_MAX + 64];
    char dir[PATH_MAX];
    if (!strncmp(spec, "lib:", 4) && spec[4] != '/' && memchr(spec + 4, '/', strcspn(spec + 4, ",")))
        snprintf(full, sizeof full, "lib:%.3900s/%s", realpath(p->dir, dir) ? dir : p->dir, spec + 4);
    else
        snprintf(full, sizeof full, "%s", spec);
    char label[128], err[PM_ERR_LEN];
    if (pm_backend_label(full, label, sizeof label, err))
        return fail(p, "%s", err);
    size_t used = strlen(p->s->backends), fl = strlen(full);
    if (used + fl + 2 > sizeof p->s->backends)
        return fail(p, "too many backends");
    if (used)
        p->s->backends[used++] = ',';
    memcpy(p->s->backends + used, full, fl + 1);
    return 0;
}

static int parse_line(struct parse *p, char *line)
{
    char *hash = strchr(line, '#');
    if (hash)
        *hash = 0;
    char *w[MAX_WORDS];
    int nw = 0;
    for (char *tok = strtok(line, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
        if (nw == MAX_WORDS)
            return fail(p, "more than %d words", MAX_WORDS);
        w[nw++] = tok;
    }
    if (nw == 0)
        return 0;
    if (!strcmp(w[0], "py"))
        return parse_py(p, w, nw);
    if (!strcmp(w[0], "gen"))
        return parse_gen(p, w, nw);
    if (!strcmp(w[0], "trace"))
        return parse_trace(p, w, nw);
    if (!strcmp(w[0], "reps") || !strcmp(w[0], "timeout"))
        return parse_directive(p, w, nw);
    if (!strcmp(w[0], "backend"))
        return parse_backend(p, w, nw);
    return fail(p, "unknown line kind '%s' (expected py, gen, trace, reps, timeout or backend)", w[0]);
}

int pm_suite_parse(const char *text, const char *path, struct pm_suite *s, char err[PM_ERR_LEN])
{
    memset(s, 0, sizeof *s);
    struct parse p = {.s = s, .path = path, .err = err};
    snprintf(s->path, sizeof s->path, "%s", path);
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(p.dir, sizeof p.dir, "%.*s", (int)(slash - path), path);
    else
        snprintf(p.dir, sizeof p.dir, ".");
    if (slash && slash == path)
        snprintf(p.dir, sizeof p.dir, "/");
    const char *base = slash ? slash + 1 : path;
    size_t bl = strlen(base);
    if (bl > 6 && !strcmp(base + bl - 6, ".suite"))
        bl -= 6;
    snprintf(s->name, sizeof s->name, "%.*s", (int)bl, base);
    s->text = strdup(text);
    if (!s->text) {
        seterr(err, "%s: out of memory", path);
        return -1;
    }
    const char *c = text;
    int rc = 0;
    while (*c && rc == 0) {
        p.line++;
        size_t len = strcspn(c, "\n");
        char *line = strndup(c, len);
        if (!line) {
            rc = fail(&p, "out of memory");
            break;
        }
        rc = parse_line(&p, line);
        free(line);
        c += len;
        if (*c == '\n')
            c++;
    }
    if (rc == 0 && s->n == 0) {
        seterr(err, "%s: no workloads (lines py, gen or trace)", path);
        rc = -1;
    }
    if (rc)
        pm_suite_free(s);
    return rc;
}

const char *pm_suite_builtin_dir(void)
{
    return pm_suites_dir();   /* $PYMEMLAB_SUITE_DIR, installed, or the source tree's */
}

void pm_suite_builtin_names(char *buf, size_t len)
{
    if (len)
        buf[0] = 0;
    DIR *d = opendir(pm_suite_builtin_dir());
    if (!d)
        return;
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        size_t l = strlen(e->d_name);
        if (l > 6 && !strcmp(e->d_name + l - 6, ".suite"))
            names[n++] = strndup(e->d_name, l - 6);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (names[i] && used < len) {
            int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i]);
            if (w > 0)
                used += (size_t)w;
        }
        free(names[i]);
    }
}

static char *read_file(const char *path, char err[PM_ERR_LEN])
{
    size_t n;
    char *buf = pm_file_read_all(path, UINT64_C(16) << 20, &n, err);
    if (!buf) {
        pm_msg_escape(err, PM_ERR_LEN);
        return NULL;
    }
    if (memchr(buf, 0, n)) {
        free(buf);
        seterr(err, "%s: not a text file", path);
        return NULL;
    }
    return buf;
}

int pm_suite_load(const char *spec, struct pm_suite *s, char err[PM_ERR_LEN])
{
    char path[PATH_MAX];
    size_t sl = strlen(spec);
    bool is_path = strchr(spec, '/') || (sl > 6 && !strcmp(spec + sl - 6, ".suite"));
    if (is_path) {
        snprintf(path, sizeof path, "%s", spec);
    } else {
        if (!name_ok(spec) ||
            snprintf(path, sizeof path, "%s/%s.suite", pm_suite_builtin_dir(), spec) >= (int)sizeof path) {
            seterr(err, "unknown suite '%.64s'", spec);
            return -1;
        }
        struct stat st;
        if (stat(path, &st)) {
            char names[200];
            pm_suite_builtin_names(names, sizeof names);
            seterr(err, "unknown suite '%.64s' (known: %s; or give a file path)", spec,
                     names[0] ? names : "none found");
            return -1;
        }
    }
    char *text = read_file(path, err);
    if (!text)
        return -1;
    int rc = pm_suite_parse(text, path, s, err);
    free(text);
    if (rc == 0 && !is_path)
        snprintf(s->name, sizeof s->name, "%s", spec);
    return rc;
}

void pm_suite_free(struct pm_suite *s)
{
    free(s->text);
    free(s->items);
    free(s->notes);
    memset(s, 0, sizeof *s);
}

const struct pm_suite_item *pm_suite_find(const struct pm_suite *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->items[i].name, name))
            return &s->items[i];
    return NULL;
}

int pm_suite_expand_gcs(struct pm_suite *s, const char *list, char err[PM_ERR_LEN])
{
    char gcs[8][16];
    size_t ng = 0;
    for (const char *c = list; *c;) {
        size_t l = strcspn(c, ",");
        if (l == 0 || l >= sizeof gcs[0] || ng == 8) {
            snprintf(err, PM_ERR_LEN, "run: --gcs: bad list '%s' (collector names, comma-separated)",
                     list);
            return -1;
        }
        memcpy(gcs[ng], c, l);
        gcs[ng][l] = 0;
        if (!gc_known(gcs[ng])) {
            char names[128];
            gc_names(names, sizeof names);
            snprintf(err, PM_ERR_LEN, "run: --gcs: unknown collector '%s' (known: %s)", gcs[ng], names);
            return -1;
        }
        for (size_t j = 0; j < ng; j++)
            if (!strcmp(gcs[j], gcs[ng])) {
                snprintf(err, PM_ERR_LEN, "run: --gcs: collector '%s' given twice", gcs[ng]);
                return -1;
            }
        ng++;
        c += l + (c[l] == ',');
    }
    if (!ng) {
        snprintf(err, PM_ERR_LEN, "run: --gcs: an empty list");
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->items[i].kind == PM_SUITE_PY && !s->items[i].gc[0] ? ng : 1;
    struct pm_suite_item *items = calloc(n ? n : 1, sizeof *items);
    if (!items) {
        snprintf(err, PM_ERR_LEN, "run: out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct pm_suite_item *it = &s->items[i];
        if (it->kind != PM_SUITE_PY || it->gc[0]) {
            items[k++] = *it;
            continue;
        }
        for (size_t g = 0; g < ng; g++) {
            struct pm_suite_item *o = &items[k++];
            *o = *it;
            memcpy(o->gc, gcs[g], sizeof o->gc);
            size_t ln = strlen(it->name), lg = strlen(gcs[g]);
            if (strlen(it->name) + 1 + strlen(gcs[g]) > PM_SUITE_NAME_MAX) {
                snprintf(err, PM_ERR_LEN, "run: --gcs: the workload name '%.48s-%.15s' (line %u) is "
                         "too long (at most %d characters; set a shorter one with name=)", it->name,
                         gcs[g], it->line, PM_SUITE_NAME_MAX);
                free(items);
                return -1;
            }
            memcpy(o->name, it->name, ln);
            o->name[ln] = '-';
            memcpy(o->name + ln + 1, gcs[g], lg + 1);
            py_params(o);
        }
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(items[i].name, items[j].name)) {
                snprintf(err, PM_ERR_LEN, "run: --gcs: workload name '%s' made twice (line %u and "
                         "line %u; set another with name=)", items[i].name, items[j].line, items[i].line);
                free(items);
                return -1;
            }
    free(s->items);
    s->items = items;
    s->n = k;
    return 0;
}
