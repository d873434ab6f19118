# tests/cli/reliability.bash — what the issue-19 tests (tests/cli/rel_*.sh)
# share (sourced): a temporary folder as the working directory, fail() that
# records and goes on, expect2 (exit 2, one line matching a glob, within
# 20 s: a hang is a failure, not a stuck test).
set -euo pipefail
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"
source "$PM_SOURCE_DIR/tests/cli/lib.bash"
status=0
fail() { echo "FAIL: $*" >&2; status=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
P=$PYMEMLAB

# expect2 "glob" ARGS... : exit 2, one line on stderr matching the glob,
# within 20 s (a hang is a failure, not a stuck test).
expect2() {
  local want=$1; shift
  local rc=0
  timeout 20 "$P" "$@" >e2.out 2>e2.err </dev/null || rc=$?
  local err; err=$(cat e2.err)
  [ "$rc" = 2 ] || { fail "pymemlab $*: exit $rc, want 2 (stderr: $err)"; return 0; }
  [ "$(wc -l <e2.err)" = 1 ] || fail "pymemlab $*: not one line: $err"
  [[ "$err" == $want ]] || fail "pymemlab $*: '$err' does not match '$want'"
}
# expect2_exact "line" ARGS... : the same with an exact comparison (a glob
# would read the backslashes of escaped bytes)
expect2_exact() {
  local want=$1; shift
  local rc=0
  timeout 20 "$P" "$@" >e2.out 2>e2.err </dev/null || rc=$?
  [ "$rc" = 2 ] || { fail "pymemlab $*: exit $rc, want 2 ($(cat -v e2.err))"; return 0; }
  [ "$(wc -l <e2.err)" = 1 ] || fail "pymemlab $*: not one line: $(cat -v e2.err)"
  [ "$(cat e2.err)" = "$want" ] || fail "pymemlab $*: '$(cat -v e2.err)', want '$want'"
}
