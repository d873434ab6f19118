# dicts and sets grown, then most removed: fragmentation of the small classes
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing (run.py passes the path)
    print("scripts/fidelity/dict_set_frag.py: dicts and sets grown, then most removed: fragmentation of the small classes. Run by scripts/fidelity.sh through scripts/fidelity/run.py.")
    sys.exit(0)
import random
random.seed(1)
ds = [{k: str(k) for k in range(random.randint(1, 40))} for _ in range(4000)]
ss = [set(range(random.randint(1, 30))) for _ in range(3000)]
for d in ds[::2]:
    d.clear()
del ss[::3]
keep = [tuple(d.items()) for d in ds[1::5]]
