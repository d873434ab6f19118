"""pymemlab_mark: phase marks from a running Python program into its own
pymemlab trace (docs/recording.md, "Marks from Python").

    import pymemlab_mark
    ...warm-up...
    pymemlab_mark.mark("warm-up done")                # phase 1 in the trace
    pymemlab_mark.mark("after parse", report=True)    # phase 2, and CPython's
                                                      # pymalloc report on stderr

Under `pymemlab trace record` (libpmrecord.so preloaded), mark() writes a
phase op into the trace, numbered 1, 2, ... in call order, with its label in
the trace metadata as phase.N, and returns N. With report=True it also
prints CPython's own pymalloc report (the pymalloc section of
sys._debugmallocstats(), on stderr) taken at exactly that op, so that
`pymemlab debugstats --backend pymalloc,preset=3.X TRACE --at-phase N`
describes the same heap. Without the recorder mark() does nothing and
returns 0 (report=True still prints CPython's report). Importable on any
CPython 3.8+; pure Python, standard library only (ctypes). Put the scripts/
directory on PYTHONPATH, or copy this one file.
"""
import ctypes
import sys

__all__ = ["mark", "recording", "report"]

try:
    # PyDLL keeps the GIL across the call: the recorder puts CPython's obj
    # allocator back for the report, which must not race a Python thread.
    _self = ctypes.PyDLL(None)
    _mark = _self.pm_record_mark
    _mark.argtypes = [ctypes.c_char_p, ctypes.c_int]
    _mark.restype = ctypes.c_int
    _active = _self.pm_record_active
    _active.argtypes = []
    _active.restype = ctypes.c_int
    _report = _self.pm_record_report
    _report.argtypes = []
    _report.restype = ctypes.c_int
except (OSError, AttributeError):       # no recorder in this process
    _mark = _active = _report = None


def recording():
    """True when this process is being recorded by pymemlab."""
    return bool(_active is not None and _active())


def _print_report():
    sys.stderr.flush()
    if recording():
        return _report() != 0
    try:
        stats = ctypes.pythonapi._PyObject_DebugMallocStats
        libc = ctypes.CDLL(None)
        err = ctypes.c_void_p.in_dll(libc, "stderr")
    except (AttributeError, ValueError):
        return False
    stats.argtypes = [ctypes.c_void_p]
    stats.restype = ctypes.c_int
    printed = stats(err) != 0
    libc.fflush(err)
    return printed


def report():
    """Prints CPython's pymalloc report on stderr now (the first section of
    sys._debugmallocstats()), with or without the recorder. Returns False if
    CPython printed none (pymalloc not in use, e.g. PYTHONMALLOC=malloc)."""
    return _print_report()


def mark(label="", report=False):
    """Puts phase mark N into this process's trace and returns N (0 without
    the recorder). label: a short text (metadata phase.N; the first 56 bytes
    of the first 64 marks are kept). report: also print CPython's pymalloc
    report on stderr at exactly this point of the allocation stream."""
    if not recording():
        if report:
            _print_report()
        return 0
    sys.stderr.flush()
    if isinstance(label, str):
        label = label.encode("utf-8", "replace")
    return _mark(label or None, 1 if report else 0)


if __name__ == "__main__":   # run directly (or with --help): describe, do nothing
    print("scripts/pymemlab_mark.py: " + __doc__)
