#!/usr/bin/env bash
# scripts/columns-table.sh — rewrites docs/main-job.md's results-columns
# table from harness/engine/result_fields.def, the one list of measurement fields.
# tests/test_suite.c (test_columns_doc_table_is_the_list) fails when the two
# differ: run this after adding or changing a field.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import os
import re
import sys

root = "."
src = open(os.path.join(root, "harness/engine/result_fields.def")).read()
rows = re.findall(r'PM_FIELD\((\w+), (\w), "([^"]*)", (\w+(?:\(\w+\))?), ([\w|]+),\s*'
                  r'"((?:[^"\\]|\\.)*)"\)', src)
kind = {"S": "string", "U": "count", "D": "number"}
lines = ["| column | type | unit | summary | meaning |", "| --- | --- | --- | --- | --- |"]
for name, typ, unit, agg, _json, desc in rows:
    desc = desc.replace('\\"', '"').replace("\\\\", "\\")
    lines.append("| `%s` | %s | %s | %s | %s |" % (name, kind[typ], unit,
                 "median, min–max" if agg != "none" else "", desc))
path = os.path.join(root, "docs/main-job.md")
doc = open(path).read()
begin, end = "<!-- results-columns:begin -->\n", "<!-- results-columns:end -->"
a = doc.index(begin) + len(begin)
b = doc.index(end)
open(path, "w").write(doc[:a] + "\n".join(lines) + "\n" + doc[b:])
print("docs/main-job.md: %d fields" % len(rows))
PY
