# tests/cli/lib.bash — helpers for the command-line tests (sourced).
: "${PYMEMLAB:?PYMEMLAB must point at the pymemlab binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }
# `producer | has PATTERN`: grep that reads all its input. `grep -q` exits at
# the first match, and under `set -o pipefail` the producer's SIGPIPE then
# fails the whole pipeline (seen: `ldd ... | grep -q libasan` false at random).
has() { grep "$@" >/dev/null; }
# asan_build [BINARY]: true if BINARY (default $PYMEMLAB) is linked with ASan
asan_build() { ldd "${1:-$PYMEMLAB}" 2>/dev/null | has libasan; }
# expect_usage_error "message glob" ARGS... : exit code 2, exactly one line on
# stderr matching the glob, nothing on stdout.
expect_usage_error() {
  local want=$1; shift
  local out err rc=0
  out=$("$PYMEMLAB" "$@" 2>/tmp/pm_cli_err.$$) || rc=$?
  err=$(cat /tmp/pm_cli_err.$$); rm -f /tmp/pm_cli_err.$$
  [ "$rc" = 2 ] || fail "pymemlab $*: exit $rc, want 2 (stderr: $err)"
  [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "pymemlab $*: not one line: $err"
  [[ "$err" == $want ]] || fail "pymemlab $*: message '$err' does not match '$want'"
  [ -z "$out" ] || fail "pymemlab $*: printed on stdout: $out"
}
