#!/usr/bin/env bash
# tests/cli/rel_inputs.sh — issue 19, inputs: the metadata duplicate check is
# linear (200k keys open in seconds, item 2); every input is a regular file
# (a FIFO with no writer or a folder is refused at once, "not a regular
# file", for traces, object scripts, suite files, mtrace logs: item 3); text
# metadata over the 16 MiB cap is refused by the text parser (item 11);
# control bytes of the input are escaped in the messages of the trace,
# mtrace and suite parsers (item 13).
source "$PM_SOURCE_DIR/tests/cli/reliability.bash"

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
expect2 "pymemlab: table: fifo: not a regular file" table fifo
# a FIFO inside a results folder (table, plot, merge, run --resume read them)
mkdir fres
mkfifo fres/results.jsonl
expect2 "pymemlab: table: fres/results.jsonl: not a regular file" table fres
rm fres/results.jsonl
mkfifo fres/provenance.json
expect2 "pymemlab: table: fres/provenance.json: not a regular file" table fres
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

# ---- item 13: control bytes of the input are escaped in messages ----
printf 'pmtrace 1\nal\033[31mloc 0 16\nfree 0\n' >ctl-op.txt
expect2_exact 'pymemlab: ctl-op.txt:2: unknown op '"'"'al\x1b[31mloc'"'"' (known: alloc, calloc, realloc, free, aligned, phase)' \
  trace info ctl-op.txt
printf 'pmtrace 1\n@meta k\001ey=v\nalloc 0 16\nfree 0\n' >ctl-meta.txt
expect2_exact 'pymemlab: ctl-meta.txt:2: metadata key '"'"'k\x01ey'"'"' has a byte 0x01 outside [A-Za-z0-9_.:/-]' \
  trace info ctl-meta.txt
printf 'pmtrace 1\n@meta key=v\nalloc 0 16\nfree 0\n' >meta-ok.txt
"$P" trace convert meta-ok.txt meta-ok.pmt >/dev/null
python3 -c '
import sys
b = bytearray(open("meta-ok.pmt", "rb").read())
i = b.index(b"key=v")
b[i + 1] = 0x0d          # "k\rey=v": a CR inside the binary metadata key
open("ctl-meta.pmt", "wb").write(bytes(b))'
expect2_exact 'pymemlab: ctl-meta.pmt: byte 40: metadata key '"'"'k\ry'"'"' has a byte 0x0d outside [A-Za-z0-9_.:/-]' \
  trace info ctl-meta.pmt
printf '= Start\n@ ./a:[0x1] + 0x5\033[2J 0x10\n' >ctl.log
expect2_exact 'pymemlab: ctl.log:2: bad address '"'"'0x5\x1b[2J'"'"' (expected 0x... or (nil))' \
  trace import --format mtrace ctl.log -o ctl.pmt
[ ! -e ctl.pmt ] || fail "import of a bad log created its output"
printf 'gen ch\033[31murn\n' >ctl.suite
expect2_exact 'pymemlab: ctl.suite:1: gen: unknown pattern '"'"'ch\x1b[31murn'"'"' (known: lifo, fifo, churn, growth, survivors)' \
  run --suite ctl.suite --out ctl-run
[ ! -e ctl-run ] || fail "run of a bad suite created its folder"
expect2_exact 'pymemlab: ctl\nname.pmt: cannot open: No such file or directory' trace info "ctl
name.pmt"

exit $status
