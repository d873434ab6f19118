#!/usr/bin/env bash
# scripts/bootstrap.sh [JOB...] — installs the Debian packages that the jobs
# named need, if any is missing. As root it runs apt-get; otherwise it
# prints the exact command and exits 1. Idempotent; one dpkg-query call
# when everything is present.
#   JOB   build   compilers, CMake, the libraries the build links (cmocka,
#                 cJSON, mimalloc, jemalloc, tcmalloc, libpython3.11)
#         run     build + gnuplot + what the recorded real programs import
#                 (scripts/run.sh, scripts/bench.sh, scripts/validate.sh)
#         report  build + gnuplot (pymemlab plot, pymemlab report)
#         fuzz    build + AFL++ and the libFuzzer runtime
#         test    everything the ctest suite uses: run + report + fuzz +
#                 chromium (tests/cli/report.sh) + valgrind
#         paper   build + gnuplot + LaTeX and poppler-utils, for
#                 scripts/paper.sh only (nothing else installs LaTeX)
#         ci      what .ci/run needs: test (scripts/test.sh) and fuzz
#                 (scripts/fuzz-smoke.sh); the default when no JOB is named
#         all     every job above
#   --list  print the packages the jobs named need, install nothing
# An unknown job is one line naming it, exit 2, before anything runs.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail

BUILD=(gcc clang cmake ninja-build make    # toolchains and build
       libcmocka-dev                       # unit tests
       libcjson-dev                        # JSON reading (merge, resume)
       libmimalloc-dev libjemalloc-dev     # reference allocators
       libgoogle-perftools-dev             # tcmalloc
       libpython3.11-dev python3.11)       # the real CPython 3.11 obmalloc, recorder
PLOT=(gnuplot-nox)                         # plots
PROGS=(python3-pygments python3-docutils)  # real programs of the validation suite (scripts/validate.sh)
FUZZ=(afl++ libclang-rt-14-dev)            # fuzzing (AFL++, libFuzzer runtime)
BROWSER=(chromium)                         # tests/cli/report.sh: the HTML report in a real headless browser
CHECK=(valgrind)
LATEX=(texlive-latex-base texlive-latex-recommended texlive-fonts-recommended  # paper/pymemlab.tex
       poppler-utils)                      # pdftoppm, pdfinfo: the pages rendered to PNG to look at

list=0
jobs=()
for a in "$@"; do
  case "$a" in
    --list) list=1 ;;
    build|run|report|fuzz|test|paper|ci|all) jobs+=("$a") ;;
    *) echo "bootstrap.sh: unknown job '$a' (jobs: build run report fuzz test paper ci all; see --help)" >&2; exit 2 ;;
  esac
done
[ ${#jobs[@]} -gt 0 ] || jobs=(ci)

PKGS=()
for j in "${jobs[@]}"; do
  case "$j" in
    build)  PKGS+=("${BUILD[@]}") ;;
    run)    PKGS+=("${BUILD[@]}" "${PLOT[@]}" "${PROGS[@]}") ;;
    report) PKGS+=("${BUILD[@]}" "${PLOT[@]}") ;;
    fuzz)   PKGS+=("${BUILD[@]}" "${FUZZ[@]}") ;;
    test|ci) PKGS+=("${BUILD[@]}" "${PLOT[@]}" "${BROWSER[@]}" "${PROGS[@]}" "${FUZZ[@]}" "${CHECK[@]}") ;;
    paper)  PKGS+=("${BUILD[@]}" "${PLOT[@]}" "${LATEX[@]}") ;;
    all)    PKGS+=("${BUILD[@]}" "${PLOT[@]}" "${BROWSER[@]}" "${PROGS[@]}" "${FUZZ[@]}" "${CHECK[@]}" "${LATEX[@]}") ;;
  esac
done
# each package once, in the order first named
mapfile -t PKGS < <(printf '%s\n' "${PKGS[@]}" | awk '!seen[$0]++')

if [ $list = 1 ]; then
  printf '%s\n' "${PKGS[@]}"
  exit 0
fi

missing=()
status=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PKGS[@]}" 2>/dev/null || true)
for p in "${PKGS[@]}"; do
  if ! grep -qE "^${p//+/\\+}(:[a-z0-9]+)? ii" <<<"$status"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "bootstrap: installing ${missing[*]} (job: ${jobs[*]})" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "bootstrap: missing packages for job ${jobs[*]}; run as root:" >&2
  echo "  sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
