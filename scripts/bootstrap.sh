#!/usr/bin/env bash
# scripts/bootstrap.sh — installs the Debian packages pymemlab uses, if any is
# missing. As root it runs apt-get; otherwise it prints the exact command and
# exits 1. Idempotent; one dpkg-query call when everything is present.
case "${1:-}" in -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;; esac
set -euo pipefail

PKGS=(
  gcc clang cmake ninja-build make        # toolchains and build
  libcmocka-dev                           # unit tests
  libcjson-dev                            # JSON reading (merge, resume)
  libmimalloc-dev libjemalloc-dev         # reference allocators
  libgoogle-perftools-dev                 # tcmalloc
  libpython3.11-dev python3.11            # the real CPython 3.11 obmalloc, recorder
  gnuplot-nox                             # plots
  chromium                                # tests/cli/report.sh: the HTML report in a real headless browser
  python3-pygments python3-docutils       # real programs of the validation suite (scripts/validate.sh)
  afl++ libclang-rt-14-dev                # fuzzing (AFL++, libFuzzer runtime)
  valgrind
)

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
  echo "bootstrap: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  echo "bootstrap: missing packages; run as root:" >&2
  echo "  sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
