#!/usr/bin/env bash
# scripts/adversarial.sh [--release-only] [--keep-json DIR] — the full
# adversarial sweep of issue 19 (tests/adversarial/sweep.py: about 700
# cases over malformed traces, mtrace logs, object scripts, suites, options,
# output paths, a full disk, corrupted results folders, signals mid-run, two
# runs into one folder, misuse on every own backend, out-of-memory limits)
# on the release and the ASan+UBSan builds (both built first), then
# rewrites docs/reliability.md with the counts per category and outcome and
# every case that was neither a clear error nor a correct result. Takes
# about 8 minutes for release and 15 for ASan on 2 CPUs. Needs root for
# the tmpfs cases (a full disk, a read-only file system): run as root, or in
# `unshare -rm` where user namespaces are allowed. Exit 0 when every case
# was a clear error or a correct result.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
builds="release asan"
args="$*"
json=$(mktemp -d)
keep=
while [ $# -gt 0 ]; do
  case $1 in
    --release-only) builds=release ;;
    --keep-json) keep=$2; shift ;;
    *) echo "adversarial.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
trap '[ -n "$keep" ] && mkdir -p "$keep" && cp "$json"/*.json "$keep"/; rm -rf "$json"' EXIT
status=0
files=()
for b in $builds; do
  scripts/build.sh "$b"
  extra=()
  [ "$b" = asan ] && extra=(--asan)
  python3 tests/adversarial/sweep.py --pymemlab "build/$b/pymemlab" --label "$b" "${extra[@]}" \
    --json "$json/$b.json" || status=1
  files+=("$json/$b.json")
done
python3 tests/adversarial/report.py docs/reliability.md "scripts/adversarial.sh${args:+ $args}" "${files[@]}"
echo "adversarial.sh: docs/reliability.md written"
exit $status
