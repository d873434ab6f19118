# json: nested records dumped (sorted, indented) and loaded back
import json
recs = [{"id": i, "name": "user%d" % i, "tags": ["t%d" % (i % 7), "x"], "score": i * 0.5,
         "meta": {"a": i, "b": str(i) * 3}} for i in range(6000)]
s = json.dumps(recs, indent=2, sort_keys=True)
back = json.loads(s)
assert back == recs
keep = [json.dumps(r) for r in back[::3]]
