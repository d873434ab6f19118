#!/usr/bin/env bash
# scripts/gen-man.sh PYMEMLAB [OUT] — writes the man page pymemlab.1 (roff)
# from the help the binary itself prints (`pymemlab help` for the commands,
# `pymemlab help --roff CMD` for each one's usage, summary and options: its
# option table, harness/cli/opts.h), so that the page cannot drift from the
# parser's table. Run by the build (CMakeLists.txt, target `man`) and
# installed by `cmake --install`. Prints to OUT, or stdout.
case "${1:-}" in -h|--help|"") awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
P=$1
out=${2:-/dev/stdout}
esc() { sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\\&'/" -e 's/-/\\-/g'; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
version=$("$P" --version | head -1 | sed 's/^pymemlab, //')
{
  echo '.TH PYMEMLAB 1 "" "pymemlab" "User Commands"'
  echo '.SH NAME'
  echo 'pymemlab \- record, replay and compare Python-style memory allocation on many allocators'
  echo '.SH SYNOPSIS'
  echo '.B pymemlab'
  echo '.I COMMAND'
  echo '.RI [ ARGS ]'
  echo '.br'
  echo '.B pymemlab'
  echo '.I COMMAND'
  echo '.B \-\-help'
  echo '.br'
  echo '.B pymemlab \-\-version'
  echo '.SH DESCRIPTION'
  echo 'pymemlab is a research harness for Python-style memory management: allocator backends'
  echo 'under a reference-counting and cycle-collecting object layer, allocation traces recorded'
  echo 'from real programs and replayed on any backend, suites of workloads run into results'
  echo 'folders, plots and comparisons with 95% intervals.'
  echo '.SH COMMANDS'
  # the command list: lines "  NAME  SUMMARY" after "commands:"
  "$P" help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print}' >"$tmp"
  # each command's usage, summary and options: from its option table, as
  # roff (`pymemlab help --roff CMD`, the same text as `pymemlab help CMD`)
  while read -r name _; do
    case "$name" in help|--version) continue ;; esac
    "$P" help --roff "$name"
  done <"$tmp"
  echo '.SH BACKENDS'
  echo 'Every'
  echo '.B \-\-backend'
  echo 'takes NAME[,key=value...];'
  echo '.B pymemlab backends'
  echo 'lists them. Any shared library with the malloc API is a backend too:'
  echo '.BR lib: PATH[,name= NAME]'
  echo '(NAME is what results and plots show).'
  echo '.SH EXIT STATUS'
  echo '0 success; 1 the measured thing failed (a check() violation, out of memory, a failed run);'
  echo '2 bad input (an option, a file, a name), reported on one line before anything is written.'
  echo '.SH ENVIRONMENT'
  echo '.TP'
  echo '.B PYMEMLAB_SUITE_DIR, PYMEMLAB_PLOT_SCRIPTS'
  echo 'where the built-in suites and the gnuplot scripts are (default: the install prefix'"'"'s share/pymemlab, found from the binary'"'"'s own path).'
  echo '.TP'
  echo '.B PM_RECORDER_LIB, PM_PROBE_LIB'
  echo 'the recorder and probe libraries (default: next to the binary, or the prefix'"'"'s lib/pymemlab).'
  echo '.SH FILES'
  echo 'share/pymemlab/suites/*.suite, share/pymemlab/plots/*.gp, share/doc/pymemlab/ (README.md and docs/), under the install prefix.'
  echo '.SH VERSION'
  printf '%s\n' "$version" | esc
  echo '.SH SEE ALSO'
  echo 'README.md and docs/ (installed under share/doc/pymemlab).'
} >"$out"
