#!/usr/bin/env bash
# scripts/test.sh — the tests: bootstrap, build, run every test with ctest.
#   scripts/test.sh            release build, then the asan (ASan+UBSan) build
#   PM_TEST_PRESETS="release" scripts/test.sh    only the presets named
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
presets=${PM_TEST_PRESETS:-"release asan"}
for p in $presets; do
  echo "== build ($p)"
  scripts/build.sh "$p"
  echo "== test ($p)"
  ctest --preset "$p" -j"$(nproc)"
done
