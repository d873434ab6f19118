"""scripts/lib/pm_ci.py — the median and its distribution-free interval, as
the harness's pm_ci_median (harness/engine/stats.c), for the scripts that
make tables from runs (gc-table.py, gcbench.py, speed-vs-obmalloc.py): one
definition, so that a table made by a script and one made by `pymemlab
table` give a median the same interval."""
import math


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def ci_median(xs, with_level=False):
    """(median, lo, hi) of the values that are numbers (None and NaN are left
    out), or None if there are none. The interval is [x_(k), x_(n+1-k)] for
    the widest cut k whose coverage 1 - 2 P(Bin(n, 1/2) <= k - 1) is still at
    least 0.95; below 9 values that is [min, max], whose coverage is under
    95% below 6. with_level: (median, lo, hi, coverage)."""
    s = sorted(x for x in xs if x is not None and not math.isnan(x))
    n = len(s)
    if not n:
        return None

    def cover(k):
        return 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2 ** n
    k = 1
    while k + 1 <= n // 2 and cover(k + 1) >= 0.95:
        k += 1
    r = (median(s), s[k - 1], s[n - k])
    return r + (cover(k),) if with_level else r


def verdict(a, b):
    """a against b, each (median, lo, hi, ...) from ci_median, lower being
    better (time): "faster" or "slower" only where the two intervals do not
    overlap, else "not distinguishable" (the harness's rule)."""
    if a[2] < b[1]:
        return "faster"
    if a[1] > b[2]:
        return "slower"
    return "not distinguishable"


if __name__ == "__main__":
    import sys
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__)
        sys.exit(0)
    print("pm_ci.py: a module for the scripts that import it; nothing to run (--help)", file=sys.stderr)
    sys.exit(2)
