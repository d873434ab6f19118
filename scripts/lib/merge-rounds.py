#!/usr/bin/env python3
"""scripts/lib/merge-rounds.py IN.jsonl [TRACE] — merges the JSON lines of
interleaved rounds (one `replay`/`micro --json` line per backend and round)
into one line per (trace, backend): the rounds' ns_per_op_reps joined as its
reps, the memory figures of its first line that has them, load.loaded true
if any round was taken on a loaded machine. TRACE, if given, replaces the
trace name. `pymemlab table` then gives each backend its interval."""
import json
import sys

if len(sys.argv) not in (2, 3) or sys.argv[1] in ("-h", "--help"):
    print(__doc__)
    sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
rows, order = {}, []
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        d = json.loads(line)
    except ValueError:
        sys.exit(f"merge-rounds.py: {sys.argv[1]}:{n}: not a JSON object")
    key = (d.get("trace", ""), d["backend"])
    if key not in rows:
        rows[key] = dict(d, ns_per_op_reps=[], rounds=0, loaded_rounds=0)
        order.append(key)
    m = rows[key]
    m["ns_per_op_reps"] += d.get("ns_per_op_reps", [])
    m["rounds"] += 1
    m["loaded_rounds"] += 1 if d.get("load", {}).get("loaded") else 0
    if m.get("peak_footprint_bytes") is None and d.get("peak_footprint_bytes") is not None:
        for k in ("peak_footprint_bytes", "final_footprint_bytes", "frag4", "frag3",
                  "frag_at_peak_live", "retention", "retention_trimmed"):
            m[k] = d.get(k)
for key in order:
    m = rows[key]
    m["load"] = {"loaded": m["loaded_rounds"] > 0}
    if len(sys.argv) == 3:
        m["trace"] = sys.argv[2]
    print(json.dumps(m))
