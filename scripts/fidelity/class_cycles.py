# class instances in reference cycles, half dropped and collected
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
