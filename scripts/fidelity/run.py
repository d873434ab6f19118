"""scripts/fidelity/run.py PROGRAM.py: runs a fidelity program, then puts
phase mark 1 ("end") into its pymemlab trace with CPython's own pymalloc
report on stderr at that op (pymemlab_mark.mark(report=True)); the
program's objects are still alive then."""
import sys
if sys.argv[1:2] in (["-h"], ["--help"]):
    print(__doc__)
    sys.exit(0)
import runpy, sys
import pymemlab_mark
g = runpy.run_path(sys.argv[1], run_name="__fidelity__")
pymemlab_mark.mark("end", report=True)
