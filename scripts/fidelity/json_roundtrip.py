# json: nested records dumped (sorted, indented) and loaded back
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing (run.py passes the path)
    print("scripts/fidelity/json_roundtrip.py: json: nested records dumped (sorted, indented) and loaded back. Run by scripts/fidelity.sh through scripts/fidelity/run.py.")
    sys.exit(0)
import json
recs = [{"id": i, "name": "user%d" % i, "tags": ["t%d" % (i % 7), "x"], "score": i * 0.5,
         "meta": {"a": i, "b": str(i) * 3}} for i in range(6000)]
s = json.dumps(recs, indent=2, sort_keys=True)
back = json.loads(s)
assert back == recs
keep = [json.dumps(r) for r in back[::3]]
