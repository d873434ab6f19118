#!/usr/bin/env bash
# scripts/build.sh PRESET — configures (once) and builds one CMake preset
# (release, debug, asan, clang). Quiet on success; on failure prints the
# build's output. Used by test.sh and run.sh.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ ! -f "build/$preset/build.ninja" ]; then
  cmake --preset "$preset" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
fi
cmake --build --preset "$preset" -- -j"$(nproc)" >"$log" 2>&1 || { cat "$log" >&2; echo "build.sh: $preset build failed" >&2; exit 1; }
