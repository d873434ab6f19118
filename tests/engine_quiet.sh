#!/usr/bin/env bash
# tests/engine_quiet.sh LIB SRCDIR — the engine library (harness/engine/engine.h)
# never prints and never exits: fails if an object of LIB references exit
# (or _Exit, quick_exit), printf-family output to the terminal (printf,
# vprintf, puts, putchar, perror, their _chk forms), the stdout or stderr
# streams, err/warn, or any function of the command layer (pm_usage_error,
# pm_run_error, pm_bad_option, pm_cli_*), or if an engine source includes
# cli.h. Writing to a FILE the caller passes (fprintf(f, ...)) is allowed;
# so is _exit, which ends the engine's own forked children (fresh.c,
# runner.c). A library must hold at least one object (the check reads the
# right thing).
set -u
fail() { echo "FAIL: $*"; exit 1; }
[ $# -eq 2 ] || fail "usage: engine_quiet.sh LIB SRCDIR"
lib=$1 src=$2
[ -f "$lib" ] || fail "$lib: no such file"
command -v readelf >/dev/null || fail "readelf not found (binutils)"
banned='^(exit|_Exit|quick_exit|printf|vprintf|puts|putchar|perror|__printf_chk|__vprintf_chk|stdout|stderr|err|errx|verr|verrx|warn|warnx|vwarn|vwarnx|pm_usage_error|pm_run_error|pm_bad_option|pm_cli_[A-Za-z0-9_]*)$'
members=$(ar t "$lib") || fail "$lib: not an archive"
[ -n "$members" ] || fail "$lib: no objects"
# "File: LIB(MEMBER)" then that member's symbols: MEMBER NAME per undefined one
und=$(readelf -sW "$lib" | awk '/^File: / {m = $2; sub(/^.*\(/, "", m); sub(/\)$/, "", m); next}
                                 $7 == "UND" && $8 != "" {print m, $8}') || fail "$lib: readelf failed"
grep -q ' pm_' <<<"$und" || fail "$lib: no undefined pm_ name found (is readelf reading it?)"
bad=0
n=0
hits=$(awk -v re="$banned" '$2 ~ re' <<<"$und")
if [ -n "$hits" ]; then
    echo "$hits" | awk '{r[$1] = r[$1] " " $2} END {for (m in r) print m " references:" r[m]}'
    bad=1
fi
for m in $members; do
    n=$((n + 1))
    c=$src/harness/engine/${m%.o}
    if [ -f "$c" ] && grep -q '#include "cli.h"' "$c"; then
        echo "harness/engine/${m%.o} includes cli.h (the command layer)"
        bad=1
    fi
done
[ $bad = 0 ] || fail "$lib: the engine prints or exits (harness/engine/engine.h: return an error instead)"
echo "ok: $lib: $n objects, none prints to the terminal, exits or calls the command layer"
