#!/usr/bin/env bash
# tests/cli/install.sh — `cmake --install BUILD --prefix P` and the installed
# binary on its own:
#  - P holds bin/pymemlab, lib/pymemlab/lib{pmrecord,pmprobe}.so, the
#    suites, the plot scripts, README and docs, the man page (generated from
#    the binary's help: every command and option is in it), the bash
#    completion (the binary's own) and the commit;
#  - P/bin/pymemlab --version names P as its data and every data path under
#    P (none under the source tree);
#  - with the source tree out of reach (a private mount namespace with a
#    tmpfs over it, where `unshare -m` is allowed; else the path checks
#    above are what is tested, and the test says so): the quick suite
#    (two of its workloads, two backends, 2 reps) runs by name into a
#    results folder, `plot` draws it with the installed scripts, `trace
#    record` records with the installed recorder, `table` and `compare`
#    read the folder.
set -euo pipefail
P=${PYMEMLAB:?set PYMEMLAB to the pymemlab binary}
SRC=${PM_SOURCE_DIR:?}
# shellcheck source=tests/cli/lib.bash
source "$(dirname "$0")/lib.bash"
BUILD=$(dirname "$P")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pre=$tmp/prefix
cmake --install "$BUILD" --prefix "$pre" >"$tmp/install.log" 2>&1 || fail "cmake --install failed: $(tail -3 "$tmp/install.log")"
for f in bin/pymemlab lib/pymemlab/libpmrecord.so lib/pymemlab/libpmprobe.so share/pymemlab/suites/quick.suite \
  share/pymemlab/suites/default.suite share/pymemlab/plots/throughput.gp share/pymemlab/plots/common.gp \
  share/doc/pymemlab/README.md share/doc/pymemlab/docs/suites.md share/man/man1/pymemlab.1 share/pymemlab/commit \
  share/bash-completion/completions/pymemlab; do
  [ -e "$pre/$f" ] || fail "not installed: $f"
done
# the man page: every command of `pymemlab help`, and it renders
for c in $("$P" help | awk '/^commands:/ {on = 1; next} on && /^  [a-z]/ {print $1}' | grep -v '^help$'); do
  has "^\.B $c\$" "$pre/share/man/man1/pymemlab.1" || fail "the man page lacks the command $c"
done
# the bash completion: what the binary generates, and it completes
cmp -s "$pre/share/bash-completion/completions/pymemlab" <("$P" completion bash) ||
  fail "the installed bash completion is not the binary's"
got=$(bash -c 'source "$1"; COMP_WORDS=(pymemlab rep); COMP_CWORD=1; _pymemlab; echo "${COMPREPLY[*]}"' sh \
  "$pre/share/bash-completion/completions/pymemlab")
[ "$got" = "replay report" ] || fail "the installed completion: pymemlab rep<TAB> gives '$got'"
# the man page describes every option of every command (it is made from their help)
has 'latency\\-every' "$pre/share/man/man1/pymemlab.1" && has -- 'keep\\-every' "$pre/share/man/man1/pymemlab.1" ||
  fail "the man page lacks the options"
if command -v groff >/dev/null; then
  groff -man -Tutf8 -ww "$pre/share/man/man1/pymemlab.1" >"$tmp/man.txt" 2>"$tmp/man.err" || fail "groff failed"
  [ ! -s "$tmp/man.err" ] || fail "groff warns: $(head -3 "$tmp/man.err")"
  has 'compare' "$tmp/man.txt" || fail "the rendered man page lacks compare"
fi

check_installed() {   # runs inside the (maybe) hidden-source environment
  set -euo pipefail
  local I=$pre/bin/pymemlab v
  v=$(env -u PYMEMLAB_SUITE_DIR -u PYMEMLAB_PLOT_SCRIPTS -u PM_RECORDER_LIB -u PM_PROBE_LIB "$I" --version)
  printf '%s\n' "$v" | has "^data from install prefix: $pre\$" || fail "--version does not name the prefix: $v"
  for k in suites plots docs recorder probe; do
    printf '%s\n' "$v" | has "^  $k  *$pre/" || fail "--version: $k is not under $pre: $v"
  done
  if printf '%s\n' "$v" | has "$SRC"; then fail "--version names the source tree: $v"; fi
  cd "$tmp"
  env -u PYMEMLAB_SUITE_DIR -u PYMEMLAB_PLOT_SCRIPTS "$I" run --suite quick --workloads gen-fifo,json \
    --backends system,pymalloc --reps 2 --out res >run.out 2>run.err || fail "run --suite quick (installed) failed: $(cat run.err)"
  [ "$(grep -c '"status":"ok"' res/results.jsonl)" = 8 ] || fail "not 8 ok runs"
  has "\"installed\":.*\"$pre\"" res/provenance.json || fail "provenance does not say the binary was installed"
  has "\"commit\":.*\"$(cat "$pre/share/pymemlab/commit")\"" res/provenance.json || fail "provenance lacks the installed commit"
  if command -v gnuplot >/dev/null; then
    env -u PYMEMLAB_PLOT_SCRIPTS "$I" plot res >plot.out 2>plot.err || fail "plot (installed) failed: $(cat plot.err)"
    [ -s res/plots/throughput.png ] || fail "plot drew no throughput.png"
  fi
  "$I" table res | has '^gen-fifo ' || fail "table (installed) does not read the folder"
  "$I" compare res res | has 'not distinguishable' || fail "compare (installed) failed"
  env -u PM_RECORDER_LIB "$I" trace record -o t.pmt -- python3 -c 'x = [0] * 1000' >rec.out 2>rec.err ||
    fail "trace record (installed) failed: $(cat rec.err)"
  "$I" trace info t.pmt | has '^ops  *[1-9]' || fail "the recorded trace does not read back"
}
export -f check_installed fail has
export pre tmp SRC
if unshare -m --propagation private true 2>/dev/null; then
  unshare -m --propagation private bash -c '
    mount -t tmpfs none "$SRC" || exit 3
    [ -z "$(ls -A "$SRC")" ] || exit 3
    check_installed' || { rc=$?; [ "$rc" = 3 ] && fail "could not hide the source tree"; exit "$rc"; }
  echo "install: ok (source tree hidden)"
else
  check_installed
  echo "install: ok (source tree not hidden: unshare -m is not allowed here; paths checked)"
fi
