"""Byte-compiles a copy of standard-library packages (compileall, forced,
one process): the compiler's allocation pattern (tokens, AST nodes, code
objects, marshal). Standard library only. PM_SCALE multiplies the work."""
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing
    print("scripts/python-real/compileall_pkgs.py: " + __doc__ + "\nRun by scripts/record-python.sh (recorded and timed).")
    sys.exit(0)
import compileall, os, shutil, sys, sysconfig, tempfile

scale = float(os.environ.get("PM_SCALE", "1"))
stdlib = sysconfig.get_paths()["stdlib"]
packages = ["email", "json", "http", "logging", "xml", "asyncio", "importlib", "unittest", "concurrent"]
with tempfile.TemporaryDirectory() as tmp:
    for p in packages:
        shutil.copytree(os.path.join(stdlib, p), os.path.join(tmp, p),
                        ignore=shutil.ignore_patterns("__pycache__", "test", "tests"))
    rounds = max(1, round(scale))
    for _ in range(rounds):
        ok = compileall.compile_dir(tmp, force=True, quiet=1, workers=1)
        if not ok:
            sys.exit("compileall failed")
