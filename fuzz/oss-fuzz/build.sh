#!/bin/bash -eu
# fuzz/oss-fuzz/build.sh — builds the fuzz targets for OSS-Fuzz / ClusterFuzz
# (fuzz/README.md, "OSS-Fuzz") with the environment's $CC, $CFLAGS, $CXX,
# $CXXFLAGS, $LIB_FUZZING_ENGINE and $SANITIZER, into $OUT: one binary per fuzz/TARGET.c,
# with TARGET_seed_corpus.zip (fuzz/corpus/TARGET) and TARGET.dict
# (fuzz/dict/TARGET.dict) beside it. Runs from the source tree (OSS-Fuzz's
# WORKDIR) or from anywhere inside it. No CMake: the libraries the targets
# need (allocators/, objects/, the workload libraries' folders) are compiled directly. A target is
# a fuzz/*.c that defines LLVMFuzzerTestOneInput; the other fuzz/*.c
# (the shared harness) go into the library.
set -eu
if [ -f fuzz/fuzz_common.c ]; then
  root=$PWD
else
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fi
cd "$root"
: "${OUT:?OUT must be set}" "${CC:=clang}" "${CXX:=clang++}" "${CFLAGS:=}" "${CXXFLAGS:=$CFLAGS}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

flags=(-std=c11 -D_GNU_SOURCE -DPM_ASSERT_LEVEL=2 -DPM_FUZZING=1
       -Iallocators -Iobjects -Iworkloads -Iworkloads/trace -Iworkloads/objscript -Iworkloads/recorder -Ifuzz)
[ "${SANITIZER:-address}" = address ] && flags+=(-DPM_ASAN=1)   # arena poisoning (allocators/pm_asan.h)
# reference allocators are dlopen'ed only if their headers exist; the targets do not use them
for h in mimalloc.h:PM_HAVE_MIMALLOC jemalloc/jemalloc.h:PM_HAVE_JEMALLOC gperftools/tcmalloc.h:PM_HAVE_TCMALLOC; do
  echo "#include <${h%%:*}>" | $CC -E -x c - >/dev/null 2>&1 && flags+=(-D"${h##*:}"=1)
done

targets=() harness=()
for src in fuzz/*.c; do
  case $src in fuzz/replay_main.c) continue ;; esac
  if grep -q '^int LLVMFuzzerTestOneInput' "$src"; then targets+=("$src"); else harness+=("$src"); fi
done
objs=()
# workloads/recorder/recorder.c is the preloaded recorder (it defines malloc): not a library source
for src in allocators/*.c objects/*.c workloads/trace/*.c workloads/objscript/*.c workloads/recorder/recording.c \
           "${harness[@]}"; do
  obj=$work/$(echo "$src" | tr / _).o
  # shellcheck disable=SC2086
  $CC $CFLAGS "${flags[@]}" -c "$src" -o "$obj"
  objs+=("$obj")
done
ar rcs "$work/libpm.a" "${objs[@]}"

for src in "${targets[@]}"; do
  t=$(basename "$src" .c)
  # shellcheck disable=SC2086
  $CC $CFLAGS "${flags[@]}" -c "$src" -o "$work/$t.o"
  # linked with $CXX, as OSS-Fuzz wants (engines such as AFL++'s driver are C++)
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS "$work/$t.o" "$work/libpm.a" $LIB_FUZZING_ENGINE -ldl -lm -o "$OUT/$t"
  if [ -d "fuzz/corpus/$t" ]; then
    (cd "fuzz/corpus/$t" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
  fi
  [ -f "fuzz/dict/$t.dict" ] && cp "fuzz/dict/$t.dict" "$OUT/$t.dict"
done
