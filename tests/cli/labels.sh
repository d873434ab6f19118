#!/usr/bin/env bash
# tests/cli/labels.sh — every ctest test of the build carries exactly one of
# the labels quick and slow (tests/CMakeLists.txt), the fuzz corpus
# replays and cli_fuzz carry fuzz, and scripts/test.sh --quick asks for
# -L quick (checked on its --help, which runs nothing).
set -euo pipefail
P=${PYMEMLAB:?set PYMEMLAB to the pymemlab binary}
SRC=${PM_SOURCE_DIR:?}
# shellcheck source=tests/cli/lib.bash
source "$(dirname "$0")/lib.bash"
B=$(dirname "$P")
names() { ctest --test-dir "$B" -N "$@" | sed -n 's/^ *Test *#[0-9]*: *//p' | sort; }
all=$(names)
quick=$(names -L '^quick$')
slow=$(names -L '^slow$')
[ -n "$all" ] || fail "ctest lists no test in $B"
[ -n "$quick" ] && [ -n "$slow" ] || fail "no quick or no slow test"
both=$(comm -12 <(printf '%s\n' "$quick") <(printf '%s\n' "$slow"))
[ -z "$both" ] || fail "labelled both quick and slow: $both"
none=$(comm -23 <(printf '%s\n' "$all") <(sort <(printf '%s\n%s\n' "$quick" "$slow")))
[ -z "$none" ] || fail "neither quick nor slow: $none"
fz=$(names -L '^fuzz$')
for t in $(printf '%s\n' "$all" | grep -E '_corpus$|^cli_fuzz$'); do
  printf '%s\n' "$fz" | has "^$t\$" || fail "$t is not labelled fuzz"
done
bash "$SRC/scripts/test.sh" --help | has -- '--quick' || fail "scripts/test.sh --help does not describe --quick"
echo "labels: ok ($(printf '%s\n' "$quick" | wc -l) quick, $(printf '%s\n' "$slow" | wc -l) slow)"
