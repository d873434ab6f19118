#!/usr/bin/env bash
# scripts/test.sh — the tests: bootstrap, build, run every test with ctest.
#   scripts/test.sh            release build, then the asan (ASan+UBSan) build
#   scripts/test.sh --quick    release build, then only the tests labelled
#                              quick (ctest -L quick; under 2 minutes here,
#                              tests/CMakeLists.txt has the times)
#   PM_TEST_PRESETS="release" scripts/test.sh    only the presets named
# Labels (ctest -L): quick, slow, fuzz (the corpus replays).
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
label=()
presets=${PM_TEST_PRESETS:-"release asan"}
case "${1:-}" in
  --quick) label=(-L quick); presets=${PM_TEST_PRESETS:-release} ;;
  "") ;;
  *) echo "test.sh: unknown argument '$1' (see scripts/test.sh --help)" >&2; exit 2 ;;
esac
scripts/bootstrap.sh
for p in $presets; do
  echo "== build ($p)"
  scripts/build.sh "$p"
  echo "== test ($p${label[*]:+, ${label[*]}})"
  ctest --preset "$p" -j"$(nproc)" "${label[@]}"
done
