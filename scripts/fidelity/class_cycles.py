# class instances in reference cycles, half dropped and collected
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing (run.py passes the path)
    print("scripts/fidelity/class_cycles.py: class instances in reference cycles, half dropped and collected. Run by scripts/fidelity.sh through scripts/fidelity/run.py.")
    sys.exit(0)
import gc
class Node:
    def __init__(self, i):
        self.i = i
        self.peer = None
        self.data = [i, str(i)]
nodes = []
for i in range(8000):
    a, b = Node(i), Node(-i)
    a.peer, b.peer = b, a
    nodes.append(a)
del nodes[::2]
gc.collect()
