"""Parses standard-library source files with ast, walks every tree and
unparses a few: many small, short-lived nodes. Standard library only.
PM_SCALE multiplies the number of files."""
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing
    print("scripts/python-real/ast_parse.py: " + __doc__ + "\nRun by scripts/record-python.sh (recorded and timed).")
    sys.exit(0)
import ast, os, sysconfig

scale = float(os.environ.get("PM_SCALE", "1"))
stdlib = sysconfig.get_paths()["stdlib"]
files = sorted(os.path.join(stdlib, f) for f in os.listdir(stdlib) if f.endswith(".py"))
files = files[: max(1, int(len(files) * min(scale, 1.0) * 0.6))] * max(1, round(scale))
nodes = 0
for i, path in enumerate(files):
    with open(path, encoding="utf-8") as f:
        src = f.read()
    tree = ast.parse(src, filename=path)
    nodes += sum(1 for _ in ast.walk(tree))
    if i % 10 == 0:
        ast.unparse(tree)
assert nodes > 1000
