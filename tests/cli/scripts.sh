#!/usr/bin/env bash
# tests/cli/scripts.sh — every script in scripts/ (and scripts/lib/,
# fidelity/, validation/, python-real/) answers --help (and -h) with its own
# description, exit 0, without running anything: build tools, package
# managers and pymemlab are replaced by stubs that record a call, and any
# call fails the test; nothing may be written.
set -uo pipefail
source "$(dirname "$0")/lib.bash"
src=${PM_SOURCE_DIR:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
for tool in cmake ctest apt-get dpkg-query ninja gnuplot python3 afl-fuzz clang gcc make; do
  printf '#!/bin/sh\necho "%s $*" >>"%s/called"\nexit 1\n' "$tool" "$tmp" >"$tmp/bin/$tool"
  chmod +x "$tmp/bin/$tool"
done
status=0
# Every script: scripts/*.sh and *.py, scripts/lib/, fidelity/, validation/,
# python-real/ (the measured Python programs: their --help must not run the
# workload; they print their own path only there). Python scripts run under
# the real python3; anything they would start is still a stub. Run from an
# empty folder, which must stay empty, as must the tree's out/ and results/.
py=$(command -v python3)
mkdir -p "$tmp/cwd"
touch "$tmp/marker"
n=0
for s in "$src"/scripts/*.sh "$src"/scripts/*.py "$src"/scripts/lib/* "$src"/scripts/fidelity/*.py \
         "$src"/scripts/validation/*.py "$src"/scripts/python-real/*.py; do
  name=${s#"$src"/scripts/}
  case $s in *.py) run=("$py" "$s") ;; *) run=(bash "$s") ;; esac
  n=$((n + 1))
  for flag in --help -h; do
    rm -f "$tmp/called"
    out=$(cd "$tmp/cwd" && PATH="$tmp/bin:$PATH" PYMEMLAB="$tmp/bin/cmake" timeout 20 "${run[@]}" "$flag" 2>&1)
    rc=$?
    [ $rc = 0 ] || { echo "FAIL: $name $flag: exit $rc: $(head -3 <<<"$out")" >&2; status=1; continue; }
    [ ! -e "$tmp/called" ] || { echo "FAIL: $name $flag ran: $(cat "$tmp/called")" >&2; status=1; }
    grep -q "scripts/$name" <<<"$out" || { echo "FAIL: $name $flag: no description: $out" >&2; status=1; }
    [ -z "$(ls -A "$tmp/cwd")" ] || { echo "FAIL: $name $flag wrote $(ls -A "$tmp/cwd")" >&2; status=1; rm -rf "${tmp:?}"/cwd/*; }
  done
done
[ "$n" -ge 30 ] || { echo "FAIL: only $n scripts found" >&2; status=1; }
new=$(find "$src/out" "$src/results" -newer "$tmp/marker" 2>/dev/null | head -3)
[ -z "$new" ] || { echo "FAIL: --help changed the tree: $new" >&2; status=1; }
# bad settings of run.sh are refused before anything runs
rm -f "$tmp/called"
out=$(cd "$tmp" && PATH="$tmp/bin:$PATH" PM_RECORD=yes timeout 20 bash "$src/scripts/run.sh" 2>&1)
rc=$?
[ $rc = 2 ] && [ ! -e "$tmp/called" ] && grep -q "PM_RECORD must be auto, 0 or 1, not 'yes'" <<<"$out" ||
  { echo "FAIL: run.sh PM_RECORD=yes: exit $rc, called: $(cat "$tmp/called" 2>/dev/null): $out" >&2; status=1; }
# speed-vs-obmalloc.sh: bad arguments give one line naming the problem, exit 2, and run nothing
for args in "--rounds 0" "--reps x" "--sets fidelity,validation" "--modes hot" "--domains obj" \
            "--versions 3.7" "--out /nonexistent-dir/r.md" "--bogus" "--versions"; do
  rm -f "$tmp/called"
  # shellcheck disable=SC2086  # args is a list of arguments
  out=$(cd "$tmp" && PATH="$tmp/bin:$PATH" timeout 20 bash "$src/scripts/speed-vs-obmalloc.sh" $args 2>&1)
  rc=$?
  [ $rc = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "^speed-vs-obmalloc.sh: " <<<"$out" ||
    { echo "FAIL: speed-vs-obmalloc.sh $args: exit $rc: $out" >&2; status=1; }
  [ ! -e "$tmp/called" ] || { echo "FAIL: speed-vs-obmalloc.sh $args ran: $(cat "$tmp/called")" >&2; status=1; }
done
[ $status = 0 ] && echo "ok: every script answers --help without running anything"
exit $status
