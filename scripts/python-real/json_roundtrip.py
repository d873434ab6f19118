"""Dumps a generated document of nested records to JSON text and loads it
back (json, pure data structures: dicts, lists, str, int, float).
Standard library only. PM_SCALE multiplies the document."""
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing
    print("scripts/python-real/json_roundtrip.py: " + __doc__ + "\nRun by scripts/record-python.sh (recorded and timed).")
    sys.exit(0)
import json, os, random

scale = float(os.environ.get("PM_SCALE", "1"))
rng = random.Random(42)
n = int(40000 * scale)
doc = {
    "version": 3,
    "records": [
        {
            "id": i,
            "name": "user%06d" % i,
            "score": rng.random() * 100,
            "tags": [rng.choice(["red", "green", "blue", "cyan", "magenta"]) for _ in range(rng.randrange(6))],
            "address": {"street": "%d Main St" % rng.randrange(9999), "zip": "%05d" % rng.randrange(99999)},
            "active": rng.random() < 0.5,
        }
        for i in range(n)
    ],
}
text = json.dumps(doc, indent=1, sort_keys=True)
back = json.loads(text)
assert back == doc
compact = json.dumps(back, separators=(",", ":"))
assert json.loads(compact)["records"][-1]["id"] == n - 1
