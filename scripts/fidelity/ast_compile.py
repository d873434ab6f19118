# ast + compile: parse and compile stdlib sources, keep every third tree
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing (run.py passes the path)
    print("scripts/fidelity/ast_compile.py: ast + compile: parse and compile stdlib sources, keep every third tree. Run by scripts/fidelity.sh through scripts/fidelity/run.py.")
    sys.exit(0)
import ast, os
d = os.path.dirname(os.__file__)
trees = []
for name in sorted(os.listdir(d))[:40]:
    if name.endswith(".py"):
        src = open(os.path.join(d, name), encoding="utf-8", errors="replace").read()
        t = ast.parse(src)
        compile(t, name, "exec")
        if len(trees) % 3 == 0:
            trees.append(t)
        else:
            trees.append(None)
