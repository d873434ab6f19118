#!/usr/bin/env bash
# tests/exports.sh LIB... — fails if a built library or program exports a
# name that does not start with pm_ (allocators/pm_api.h). For a static
# library: its defined GLOBAL/WEAK functions and variables of DEFAULT
# visibility (what a shared object or program linking it would export);
# for an executable: its dynamic symbol table, less the C library's
# variables copied into it (versioned names such as stdout@GLIBC_2.2.5).
# ASan's ODR indicators (__odr_asan.NAME, one per exported variable) count
# as NAME; the sanitizer runtimes' own names (__asan_*, __ubsan_*, ...) are
# theirs. A library must also export
# at least one pm_ name, or define hidden ones only (the check reads the
# right thing).
set -u
fail() { echo "FAIL: $*"; exit 1; }
[ $# -gt 0 ] || fail "usage: exports.sh LIB..."
command -v readelf >/dev/null || fail "readelf not found (binutils)"
for lib in "$@"; do
    [ -f "$lib" ] || fail "$lib: no such file"
    case "$lib" in
    *.a) syms=$(readelf -sW "$lib") || fail "$lib: readelf failed" ;;
    *) syms=$(readelf -sW --dyn-syms "$lib" | awk '/Symbol table .\.dynsym./ {d = 1; next} /Symbol table/ {d = 0} d') \
           || fail "$lib: readelf failed" ;;
    esac
    # Num: Value Size Type Bind Vis Ndx Name
    exported=$(awk '$4 ~ /^(FUNC|OBJECT|TLS|IFUNC)$/ && $5 ~ /^(GLOBAL|WEAK)$/ && $6 == "DEFAULT" && $7 != "UND" {print $8}' <<<"$syms" \
               | grep -v '@' | grep -Ev '^__(asan|ubsan|lsan|sanitizer)_' | sed 's/^__odr_asan[.]//' | sort -u)
    bad=$(grep -v '^pm_' <<<"$exported" | grep -v '^$')
    if [ -n "$bad" ]; then
        echo "$lib exports $(wc -l <<<"$bad") names outside pm_*:"
        echo "$bad" | head -50
        fail "$lib: internal names exported"
    fi
    case "$lib" in
    *.a) if ! grep -q '^pm_' <<<"$exported"; then
             # a library whose names are all internal (workloads/python/:
             # used by the harness only) exports nothing: its hidden
             # globals show the check read the right thing
             hidden=$(awk '$4 ~ /^(FUNC|OBJECT)$/ && $5 == "GLOBAL" && $6 == "HIDDEN" && $7 != "UND"' <<<"$syms" | wc -l)
             [ "$hidden" -gt 0 ] || fail "$lib: exports no pm_ name and defines no hidden one (is it built with PM_API_BEGIN headers?)"
             echo "ok: $lib exports nothing ($hidden hidden names)"
             continue
         fi ;;
    esac
    echo "ok: $lib exports $(grep -c '^pm_' <<<"$exported") pm_ names and nothing else"
done
