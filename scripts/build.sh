#!/usr/bin/env bash
# scripts/build.sh PRESET — configures (once) and builds one CMake preset
# (release, debug, asan, clang). Used by test.sh and run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
if [ ! -f "build/$preset/build.ninja" ]; then
  cmake --preset "$preset" >/dev/null
fi
cmake --build --preset "$preset" -- -j"$(nproc)" >/dev/null
