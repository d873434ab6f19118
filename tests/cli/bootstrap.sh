#!/usr/bin/env bash
# tests/cli/bootstrap.sh — scripts/bootstrap.sh [JOB...] installs only what
# the job asked for needs: LaTeX for the paper job and no other, the default
# (no job: what .ci/run needs) the same as the ci job and without LaTeX; an
# unknown job is one line and exit 2 with nothing run (apt-get and
# dpkg-query are stubs that record a call). Also scripts/paper.sh's bad
# arguments: one line, exit 2, nothing run.
set -uo pipefail
source "$(dirname "$0")/lib.bash"
src=${PM_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
for tool in apt-get dpkg-query gnuplot pdflatex python3 cmake; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/called"\nexit 1\n' "$tool" "$tmp" >"$tmp/bin/$tool"
  chmod +x "$tmp/bin/$tool"
done
B="$src/scripts/bootstrap.sh"
list() { PATH="$tmp/bin:$PATH" bash "$B" --list "$@"; }
latex='^texlive-latex-base$'
list paper | has "$latex" || fail "the paper job does not install LaTeX: $(list paper | tr '\n' ' ')"
list paper | has '^poppler-utils$' || fail "the paper job does not install poppler-utils"
list paper | has '^gnuplot-nox$' || fail "the paper job does not install gnuplot"
for j in "" ci build run report fuzz test; do
  # shellcheck disable=SC2086  # an empty job is no argument
  ! list $j | has "$latex" || fail "job '${j:-default}' installs LaTeX"
done
list all | has "$latex" || fail "the all job lacks LaTeX"
[ "$(list)" = "$(list ci)" ] || fail "the default is not the ci job"
for p in chromium afl++ valgrind libcmocka-dev python3-docutils; do
  list | has -x -- "$p" || fail "the default (CI) lacks $p"
done
! list build | has '^gnuplot-nox$' || fail "the build job installs gnuplot"
list fuzz | has '^afl++$' || fail "the fuzz job lacks afl++"
! list run | has '^chromium$' || fail "the run job installs chromium"
[ -z "$(list build build | sort | uniq -d)" ] || fail "a package listed twice"
[ ! -e "$tmp/called" ] || fail "--list ran: $(cat "$tmp/called")"
check_bad() {  # check_bad MESSAGE-PREFIX SCRIPT ARGS...
  local want=$1; shift
  rm -f "$tmp/called"
  out=$(cd "$tmp" && PATH="$tmp/bin:$PATH" bash "$@" 2>&1)
  rc=$?
  [ $rc = 2 ] || fail "$* : exit $rc, not 2: $out"
  [ "$(wc -l <<<"$out")" = 1 ] || fail "$* : not one line: $out"
  [[ "$out" == "$want"* ]] || fail "$* : '$out' does not start with '$want'"
  [ ! -e "$tmp/called" ] || fail "$* ran: $(cat "$tmp/called")"
}
check_bad "bootstrap.sh: unknown job 'nope'" "$B" nope
check_bad "bootstrap.sh: unknown job '--bogus'" "$B" build --bogus
check_bad "paper.sh: unknown argument '--bogus'" "$src/scripts/paper.sh" --bogus
check_bad "paper.sh: --rerun: unknown part 'nope'" "$src/scripts/paper.sh" --rerun=suite,nope
check_bad "paper.sh: --check and --rerun together" "$src/scripts/paper.sh" --check --rerun
echo "bootstrap: ok (jobs install what they need, LaTeX only for paper and all; bad jobs and paper.sh arguments refused)"
