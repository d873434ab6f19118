#!/usr/bin/env bash
# tests/cli/adversarial.sh — the fast subset of the adversarial sweep of
# issue 19 (tests/adversarial/sweep.py --quick: the first case of every
# category and every sixth of the fast ones, about 130 cases, under a
# minute): each must be a clear one-line error (exit 2, nothing written,
# nothing changed) or a correct result. The full sweep on both builds is
# scripts/adversarial.sh (docs/reliability.md). The tmpfs cases need root;
# elsewhere they are left out (said on stdout).
set -euo pipefail
: "${PYMEMLAB:?}" "${PM_SOURCE_DIR:?}"
exec python3 "$PM_SOURCE_DIR/tests/adversarial/sweep.py" --pymemlab "$PYMEMLAB" --quick --label quick
