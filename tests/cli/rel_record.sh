#!/usr/bin/env bash
# tests/cli/rel_record.sh — issue 19 item 8: `trace record` on a full disk.
# The recorder stops when it cannot extend the trace (a 1.5 MiB tmpfs); the
# trace must not be marked FINISHED and `trace record` must exit 1 saying
# so, not 0. Skipped (exit 0 with a note) where no tmpfs can be mounted
# (not root) or there is no python3 to record.
source "$PM_SOURCE_DIR/tests/cli/reliability.bash"
if ! command -v python3 >/dev/null; then echo "skip: no python3"; exit 0; fi
mkdir full
if ! mount -t tmpfs -o size=1536k tmpfs full 2>/dev/null; then echo "skip: cannot mount a tmpfs (not root?)"; exit 0; fi
trap 'umount "$tmp/full" 2>/dev/null || true; rm -rf "$tmp"' EXIT
rc=0
"$P" trace record -o full/x.pmt -- python3 -c 'l = []
for i in range(400000): l.append(str(i))' >rec.out 2>rec.err || rc=$?
[ "$rc" = 1 ] || fail "trace record on a full disk: exit $rc, want 1"
has "the recorder stopped early: cannot extend the trace file (disk full?); full/x.pmt keeps the [0-9]* whole ops recorded until then, unfinished" rec.err ||
  fail "trace record on a full disk: $(tail -1 rec.err)"
[ -s full/x.pmt ] || fail "the ops recorded before the disk filled are lost"
rc=0; "$P" trace info full/x.pmt >info.out 2>info.err || rc=$?
[ "$rc" = 2 ] && has "the recording did not finish" info.err || fail "the trace of a stopped recording reads as finished (exit $rc)"
"$P" trace info --lenient full/x.pmt >/dev/null 2>&1 || fail "the ops recorded are not readable leniently"
exit $status
