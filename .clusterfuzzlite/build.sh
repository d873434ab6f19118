#!/bin/bash -eu
# .clusterfuzzlite/build.sh — ClusterFuzzLite's build step: runs
# fuzz/oss-fuzz/build.sh, the OSS-Fuzz build, unchanged (same $CC, $CFLAGS,
# $CXX, $CXXFLAGS, $LIB_FUZZING_ENGINE, $SANITIZER, $OUT). The image copies
# this file to $SRC/build.sh and runs it from $SRC/pymemlab (the Dockerfile's
# WORKDIR); run from a checkout it finds the tree from its own path.
set -eu
if [ -f fuzz/oss-fuzz/build.sh ]; then
  root=$PWD
elif [ -f "$(dirname "${BASH_SOURCE[0]}")/../fuzz/oss-fuzz/build.sh" ]; then
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
else
  root=${SRC:?SRC must be set}/pymemlab
fi
cd "$root"
exec bash fuzz/oss-fuzz/build.sh
