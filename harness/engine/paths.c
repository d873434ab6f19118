/* harness/engine/paths.c — see paths.h. */
#include "paths.h"
#include "pm_build_info.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char exe_dir[PATH_MAX];
static char prefix[PATH_MAX];
static int state;               /* 0 not looked, 1 installed, -1 not */

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void look(void)
{
    if (state)
        return;
    state = -1;
    ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    if (n <= 0) {
        exe_dir[0] = 0;
        return;
    }
    exe_dir[n] = 0;
    char *slash = strrchr(exe_dir, '/');
    if (slash)
        *slash = 0;
    char up[PATH_MAX + 8], probe[PATH_MAX + 64];
    snprintf(up, sizeof up, "%s/..", exe_dir);
    if (!realpath(up, prefix))
        return;
    snprintf(probe, sizeof probe, "%s/" PM_INSTALL_DATADIR "/pymemlab/suites", prefix);
    if (is_dir(probe))
        state = 1;
}

const char *pm_install_prefix(void)
{
    look();
    return state > 0 ? prefix : NULL;
}

static const char *pick(const char *env, const char *installed, const char *source, char *buf, size_t len)
{
    const char *e = env ? getenv(env) : NULL;
    if (e && *e)
        return e;
    if (pm_install_prefix())
        snprintf(buf, len, "%s/%s", prefix, installed);
    else
        snprintf(buf, len, "%s/%s", PM_BUILD_SOURCE_DIR, source);
    return buf;
}

const char *pm_suites_dir(void)
{
    static char buf[PATH_MAX + 64];
    return pick("PYMEMLAB_SUITE_DIR", PM_INSTALL_DATADIR "/pymemlab/suites", "workloads/suites", buf, sizeof buf);
}

const char *pm_plot_scripts_dir(void)
{
    static char buf[PATH_MAX + 64];
    return pick("PYMEMLAB_PLOT_SCRIPTS", PM_INSTALL_DATADIR "/pymemlab/plots", "scripts/plots", buf, sizeof buf);
}

const char *pm_docs_dir(void)
{
    static char buf[PATH_MAX + 64];
    return pick(NULL, PM_INSTALL_DOCDIR, "docs", buf, sizeof buf);
}

bool pm_helper_lib(const char *name, char *out, size_t len)
{
    look();
    if (!exe_dir[0])
        return false;
    snprintf(out, len, "%s/%s", exe_dir, name);
    if (access(out, F_OK) == 0 || !pm_install_prefix())
        return true;
    snprintf(out, len, "%s/" PM_INSTALL_LIBDIR "/pymemlab/%s", prefix, name);
    return true;
}

void pm_source_commit(char *out, size_t len)
{
    out[0] = 0;
    FILE *f = NULL;
    if (pm_install_prefix()) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/" PM_INSTALL_DATADIR "/pymemlab/commit", prefix);
        f = fopen(path, "r");
        if (f) {
            if (!fgets(out, (int)len, f))
                out[0] = 0;
            fclose(f);
        }
    } else {
        char cmd[PATH_MAX + 80];
        snprintf(cmd, sizeof cmd, "git -C '%s' describe --always --dirty 2>/dev/null", PM_BUILD_SOURCE_DIR);
        fflush(NULL);           /* (every stream: nothing buffered is written twice) */
        f = popen(cmd, "r");
        if (f) {
            if (!fgets(out, (int)len, f))
                out[0] = 0;
            pclose(f);
        }
    }
    out[strcspn(out, "\n")] = 0;
}
