"""Runs a small standard-library test module with unittest (test.test_json,
when the interpreter ships the test package; Debian's does not, then this
exits with status 77 = skipped). PM_SCALE repeats the run."""
import sys
if sys.argv[1:] in (["-h"], ["--help"]):   # describe, run nothing
    print("scripts/python-real/unittest_json.py: " + __doc__ + "\nRun by scripts/record-python.sh (recorded and timed).")
    sys.exit(0)
import io, os, sys, unittest

scale = float(os.environ.get("PM_SCALE", "1"))
try:
    import test.test_json  # noqa: F401
except ImportError:
    sys.exit(77)
for _ in range(max(1, round(scale))):
    suite = unittest.defaultTestLoader.loadTestsFromName("test.test_json")
    result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    if not result.wasSuccessful():
        sys.exit("test.test_json failed")
