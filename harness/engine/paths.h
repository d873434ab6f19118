/* harness/engine/paths.h — where pymemlab finds its files: built-in suites, plot
 * scripts, the recorder and probe libraries, the docs.
 *
 * An installed binary (`cmake --install build/release --prefix P`: the
 * binary in P/bin) finds them relative to itself, through /proc/self/exe:
 * P/share/pymemlab/{suites,plots}, P/lib/pymemlab/lib{pmrecord,pmprobe}.so,
 * P/share/doc/pymemlab. It counts as installed when
 * EXE_DIR/../share/pymemlab/suites exists. Otherwise (the build tree) the
 * source tree the binary was built from (PM_BUILD_SOURCE_DIR) is the
 * fallback, and the libraries are next to the binary. Environment
 * variables named in each entry point override both.
 */
#ifndef PM_PATHS_H
#define PM_PATHS_H

#include <stdbool.h>
#include <stddef.h>

/* The install prefix this binary runs from, or NULL (build tree). */
const char *pm_install_prefix(void);
/* $PYMEMLAB_SUITE_DIR, else PREFIX/share/pymemlab/suites, else the source tree's workloads/suites. */
const char *pm_suites_dir(void);
/* $PYMEMLAB_PLOT_SCRIPTS, else PREFIX/share/pymemlab/plots, else the source tree's scripts/plots. */
const char *pm_plot_scripts_dir(void);
/* PREFIX/share/doc/pymemlab, else the source tree's docs. */
const char *pm_docs_dir(void);
/* A helper library (libpmrecord.so, libpmprobe.so): next to the binary if
 * there, else PREFIX/lib/pymemlab/NAME if installed, else next to the
 * binary (which the caller then reports missing). false if
 * /proc/self/exe cannot be read. */
bool pm_helper_lib(const char *name, char *out, size_t len);
/* The source commit: PREFIX/share/pymemlab/commit when installed (written
 * by cmake --install), else `git describe --always --dirty` in the source
 * tree; "" if neither answers. */
void pm_source_commit(char *out, size_t len);

#endif
