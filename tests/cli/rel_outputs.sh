#!/usr/bin/env bash
# tests/cli/rel_outputs.sh — issue 19 item 12: output-path problems are
# checked before the work starts, exit 2, one line "CMD: PATH: problem", the
# same for every command that writes a file (trace gen, trace convert, trace
# import, trace record, objrun --record-trace, pyrun --series, run
# --emit-jobs): a folder where a file is expected (with or without a
# trailing '/'), a missing folder, a file used as a folder, a leftover
# PATH.tmp, a read-only file system (where a tmpfs can be mounted). Nothing
# is created. An existing file is replaced only by a whole new one.
source "$PM_SOURCE_DIR/tests/cli/reliability.bash"
"$P" trace gen churn --ops 2000 --live 10 -o in.pmt >/dev/null
printf '= Start\n@ ./a:[0x1] + 0x10 0x20\n@ ./a:[0x1] - 0x10\n= End\n' >in.log
printf 'a = list\ndel a\n' >ok.txt
printf 'reps 1\ngen churn ops=2K live=10\n' >s.suite
# each command with OUT as its output, whose work would take > 0 s
writers() {   # OUT -> one command per line, OUT substituted
  cat <<EOF
trace gen churn --ops 2000 --live 10 -o $1
trace convert in.pmt $1
trace import --format mtrace in.log -o $1
trace record -o $1 -- true
objrun ok.txt --backend system --record-trace $1
pyrun json --scale 0.001 --backend system --series $1
run --suite s.suite --backends system --emit-jobs $1
EOF
}
# cmd_name "ARGS" -> the message prefix of that command
cmd_name() {
  case $1 in
    "trace gen"*) echo "trace gen" ;; "trace convert"*) echo "trace convert" ;;
    "trace import"*) echo "trace import" ;; "trace record"*) echo "trace record" ;;
    objrun*) echo objrun ;; pyrun*) echo pyrun ;; run*) echo "run: --emit-jobs" ;;
  esac
}
check_all() {   # OUT "problem glob"
  local out=$1 want=$2 line
  while IFS= read -r line; do
    # shellcheck disable=SC2086
    expect2 "pymemlab: $(cmd_name "$line"): $out: $want" $line
    [ ! -s e2.out ] || fail "$line: printed on stdout before refusing: $(head -c 200 e2.out)"
  done < <(writers "$out")
}
mkdir adir
check_all adir "is a folder, not a file"
check_all adir/ "is a folder, not a file"
[ -z "$(ls adir)" ] || fail "something was written into adir: $(ls adir)"
check_all nodir/x.out "folder nodir: No such file or directory"
[ ! -e nodir ] || fail "nodir was created"
check_all in.pmt/x.out "in.pmt is not a folder"
: >left.out.tmp
while IFS= read -r line; do   # (trace record words it its own way, naming --salvage)
  # shellcheck disable=SC2086
  expect2 "pymemlab: $(cmd_name "$line"): *left.out.tmp*exists (*" $line
done < <(writers left.out)
[ ! -e left.out ] || fail "left.out was created"
# a FIFO or a device where the file would go: refused, never replaced by the
# renamed output (as root that replaced /dev/full itself); a private device
# node, never the machine's own
mkfifo ofifo
check_all ofifo "not a regular file (a FIFO): outputs are written whole and renamed into place"
[ -p ofifo ] || fail "the FIFO was replaced"
if mknod odev c 1 7 2>/dev/null; then
  check_all odev "not a regular file (a character device): outputs are written whole and renamed into place"
  [ -c odev ] || fail "the device node was replaced by a file"
fi
# a read-only file system
mkdir rofs
if mount -t tmpfs -o ro,size=64k tmpfs rofs 2>/dev/null; then
  trap 'umount "$tmp/rofs" 2>/dev/null || true; rm -rf "$tmp"' EXIT
  check_all rofs/x.out "folder rofs is not writable: Read-only file system"
  umount rofs
fi
# an existing file is replaced by a whole new one, and kept when the work fails
echo precious >keep.pmt
printf 'a = list\ncollect\nexpect collected 5\n' >fails.txt
rc=0; "$P" objrun fails.txt --backend system --record-trace keep.pmt >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] && [ "$(cat keep.pmt)" = precious ] && [ ! -e keep.pmt.tmp ] ||
  fail "a failed objrun --record-trace touched the existing output (exit $rc)"
echo precious >keep.csv
"$P" pyrun json --scale 0.001 --backend system --series keep.csv >/dev/null || fail "pyrun --series over a file"
head -1 keep.csv | has '^op,live_bytes' || fail "pyrun --series did not replace the existing file"
exit $status
