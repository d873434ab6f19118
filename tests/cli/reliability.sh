#!/usr/bin/env bash
# tests/cli/reliability.sh — issue 19, "nothing lost, nothing hung": each
# defect found by adversarial testing, from the command line.
#
#  - metadata duplicate check is linear: 200k keys open in seconds (item 2);
#  - every input is a regular file: a FIFO with no writer is refused at once,
#    "not a regular file", for traces, object scripts, suite files and mtrace
#    logs (item 3);
#  - text metadata over the 16 MiB cap is refused by the text parser (11);
#  and the items below, each in its own section.
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

# ---- item 2: 200k metadata keys open in linear time ----
python3 - <<'EOF'
with open("meta200k.txt", "w") as f:
    f.write("pmtrace 1\n")
    for i in range(200000):
        f.write("@meta k%d=v\n" % i)
    f.write("alloc 0 16\nfree 0\n")
EOF
rc=0; timeout 30 "$P" trace info meta200k.txt >meta.out 2>meta.err || rc=$?
[ "$rc" = 0 ] || fail "200k metadata keys: exit $rc (124 = still reading after 30 s): $(head -c 300 meta.err)"
# a duplicate among them is still found, at its line
python3 -c "
with open('meta200k.txt') as f: s = f.read()
open('metadup.txt', 'w').write(s.replace('alloc 0 16', '@meta k123456=again\nalloc 0 16'))"
expect2 "pymemlab: metadup.txt:200002: duplicate metadata key 'k123456'" trace info metadup.txt

# ---- item 3: FIFOs are refused, never waited on ----
mkfifo fifo
expect2 "pymemlab: fifo: not a regular file" trace info fifo
expect2 "pymemlab: fifo: not a regular file" replay fifo --backend system
expect2 "pymemlab: objrun: fifo: not a regular file" objrun fifo --backend system
expect2 "pymemlab: ./fifo: not a regular file" run --suite ./fifo --out fifo-run
[ ! -e fifo-run ] || fail "run --suite FIFO created its folder"
expect2 "pymemlab: trace import: fifo: not a regular file" trace import --format mtrace fifo -o fifo.pmt
[ ! -e fifo.pmt ] || fail "import of a FIFO created its output"
# folders too
mkdir adir
expect2 "pymemlab: adir: not a regular file" trace info adir
expect2 "pymemlab: objrun: adir: not a regular file" objrun adir --backend system

# ---- item 11: text metadata over the 16 MiB cap ----
python3 - <<'EOF'
with open("bigmeta.txt", "w") as f:
    f.write("pmtrace 1\n")
    v = "x" * (1 << 20)
    for i in range(17):
        f.write("@meta k%d=%s\n" % (i, v))
    f.write("alloc 0 16\nfree 0\n")
EOF
expect2 "pymemlab: bigmeta.txt:17: metadata over the 16 MiB limit" trace info bigmeta.txt
expect2 "pymemlab: bigmeta.txt:17: metadata over the 16 MiB limit" replay bigmeta.txt --backend system
expect2 "pymemlab: bigmeta.txt:17: metadata over the 16 MiB limit" trace convert bigmeta.txt big.pmt
[ ! -e big.pmt ] || fail "convert of over-limit metadata created its output"

exit $status
