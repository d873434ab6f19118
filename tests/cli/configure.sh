#!/usr/bin/env bash
# tests/cli/configure.sh — a library missing at configure time is one
# message naming the Debian package that provides it:
#  - cJSON hidden (CMAKE_IGNORE_PATH over the system folders): fatal,
#    "libcjson-dev";
#  - cJSON given, cmocka hidden: fatal, "libcmocka-dev" and the way out
#    (-DPM_BUILD_TESTS=OFF); mimalloc's header reported missing (its cache
#    entry preset to 0): a warning naming libmimalloc-dev, the backend
#    unavailable.
set -euo pipefail
SRC=${PM_SOURCE_DIR:?}
# shellcheck source=tests/cli/lib.bash
source "$(dirname "$0")/lib.bash"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hide="/usr/include;/usr/lib/x86_64-linux-gnu;/usr/lib;/lib/x86_64-linux-gnu;/usr/local/include;/usr/local/lib"
# CMake wraps its messages: match on the text with its line breaks flattened
flat() { tr -s ' \n' '  ' <"$1"; }
rc=0
cmake -S "$SRC" -B "$tmp/a" -G Ninja -DCMAKE_IGNORE_PATH="$hide" >"$tmp/a.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "configure succeeded without cJSON"
has 'cJSON (libcjson.so, cjson/cJSON.h) not found: install the Debian package libcjson-dev' <(flat "$tmp/a.log") ||
  fail "no message naming libcjson-dev: $(grep -A3 'CMake Error' "$tmp/a.log" | head -5)"
rc=0
cmake -S "$SRC" -B "$tmp/b" -G Ninja -DCMAKE_IGNORE_PATH="$hide" -DCJSON_LIB=/usr/lib/x86_64-linux-gnu/libcjson.so \
  -DCJSON_INCLUDE=/usr/include -DPM_HAVE_MIMALLOC=0 >"$tmp/b.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "configure succeeded without cmocka"
has 'cmocka (libcmocka.so, cmocka.h) not found: install the Debian package' <(flat "$tmp/b.log") ||
  fail "no message naming libcmocka-dev: $(grep -A3 'CMake Error' "$tmp/b.log" | head -5)"
has 'libcmocka-dev (or run scripts/bootstrap.sh), or configure with -DPM_BUILD_TESTS=OFF' <(flat "$tmp/b.log") ||
  fail "the cmocka message does not name the package and the way out"
has 'mimalloc not found: that backend will be unavailable (install the Debian package libmimalloc-dev' <(flat "$tmp/b.log") ||
  fail "no warning naming libmimalloc-dev"
echo "configure: ok"
