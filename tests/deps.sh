#!/usr/bin/env bash
# tests/deps.sh NAME ARCHIVE LINKS ... — the library graph as a build fact.
#
# The graph (docs/layout.md), each library with everything it may use; the
# list is the architecture, written once here, and what CMake says is checked
# against it, so adding a link in CMakeLists.txt does not make a wrong
# dependency right:
declare -A below=(
  [pm_alloc]=""
  [pm_obj]="pm_alloc"
  [pm_trace]="pm_alloc"
  [pm_recording]="pm_trace pm_alloc"
  [pm_objscript]="pm_obj pm_alloc"
  [pm_pywl]="pm_obj pm_alloc"
  [pm_work]="pm_trace pm_recording pm_objscript pm_pywl pm_obj pm_alloc"
  [pm_engine]="pm_work pm_trace pm_recording pm_objscript pm_pywl pm_obj pm_alloc"
  [pm_harness]="pm_engine pm_work pm_trace pm_recording pm_objscript pm_pywl pm_obj pm_alloc"
)
# System libraries a library may link besides the graph (pm_harness: anything;
# Debian's cJSON, found by path, for the engine's JSON).
system_ok=" m dl "
#
# Arguments, one triple per library CMake builds: its name, its archive ("-"
# for an interface library) and its direct links (CMake's LINK_LIBRARIES or
# INTERFACE_LINK_LIBRARIES, comma-separated). Fails, naming each breach, if
#  - a library is not in the graph, or the graph names one CMake does not build;
#  - a library links (in CMake) one the graph does not put below it;
#  - an object file of a library references a symbol defined by a library of
#    the project that is not below it (nm: undefined there, defined there).
set -u
fail=0
breach() { echo "FAIL: $*"; fail=1; }
[ $# -ge 3 ] && [ $(($# % 3)) -eq 0 ] || { echo "usage: deps.sh NAME ARCHIVE LINKS ..."; exit 2; }
command -v nm >/dev/null || { echo "FAIL: nm not found (binutils)"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
declare -A archive links
names=()
while [ $# -gt 0 ]; do
  names+=("$1"); archive[$1]=$2; links[$1]=$3; shift 3
done
for n in "${names[@]}"; do
  [ -n "${below[$n]+x}" ] || breach "$n: a library CMake builds that the graph in tests/deps.sh does not place"
done
for n in "${!below[@]}"; do
  [ -n "${archive[$n]+x}" ] || breach "$n: in the graph of tests/deps.sh but not built (stale graph)"
done
# Links.
for n in "${names[@]}"; do
  for l in ${links[$n]//,/ }; do
    [ -n "${below[$l]+x}" ] || { [ "$n" = pm_harness ] || [[ "$system_ok" == *" $l "* ]] \
        || [[ "$l" == */libcjson.* ]] \
        || breach "$n links $l: not a library of the graph nor an allowed system one ($system_ok)"; continue; }
    [[ " ${below[$n]} " == *" $l "* ]] || breach "$n links $l, which is not below it (allowed: ${below[$n]:-nothing})"
  done
done
# Symbols: who defines what.
: > "$tmp/defs"
for n in "${names[@]}"; do
  a=${archive[$n]}
  [ "$a" = - ] && continue
  [ -f "$a" ] || { breach "$n: $a: no such file"; continue; }
  nm -g --defined-only "$a" 2>/dev/null | awk -v lib="$n" 'NF == 3 {print $3, lib}' >> "$tmp/defs"
  grep -q " $n\$" "$tmp/defs" || breach "$n: $a defines no symbol (is nm reading the right thing?)"
done
sort -u -k1,1 "$tmp/defs" > "$tmp/owner"
dups=$(sort -u "$tmp/defs" | awk '{print $1}' | uniq -d)
[ -z "$dups" ] || breach "symbols defined by two libraries: $(echo $dups | head -c 300)"
checked=0
for n in "${names[@]}"; do
  a=${archive[$n]}
  [ "$a" = - ] || [ ! -f "$a" ] && continue
  # "ARCHIVE:MEMBER: U SYMBOL" per line
  nm -A -u "$a" 2>/dev/null | awk '{m = $1; sub(/:$/, "", m); n = split(m, p, ":"); print $NF, p[n]}' | sort -k1,1 > "$tmp/undef"
  join "$tmp/undef" "$tmp/owner" > "$tmp/uses"        # SYMBOL MEMBER OWNER
  while read -r sym member owner; do
    checked=$((checked + 1))
    [ "$owner" = "$n" ] && continue
    [[ " ${below[$n]} " == *" $owner "* ]] \
      || breach "$n ($member) uses $sym of $owner, which is not below it (allowed: ${below[$n]:-nothing})"
  done < "$tmp/uses"
done
[ "$checked" -gt 0 ] || breach "no reference between object files found (is nm reading the right thing?)"
[ $fail = 0 ] || exit 1
echo "ok: ${#names[@]} libraries, $checked references between object files, every one downward"
