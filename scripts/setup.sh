#!/usr/bin/env bash
# Sets up everything fregan needs on a fresh Debian 12 / Ubuntu machine, idempotently:
#   1. system packages from apt (LibTorch, OpenCV, pybind11, GoogleTest, Benchmark, FFmpeg, ccache, ...)
#   2. a virtualenv .venv over Debian's /usr/bin/python3 (--system-site-packages: it sees apt's torch/numpy/pytest)
#   3. builds the C++ core, CLI, Python module, tests and benchmarks in build/release (ccache + PCH)
#      and installs the package into .venv with `pip install --no-build-isolation .` (offline).
# Re-running it only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

APT_PACKAGES=(
  build-essential cmake ccache git pkg-config
  libtorch-dev libgloo-dev python3-torch libopencv-dev pybind11-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
  python3 python3-dev python3-venv python3-pip python3-setuptools python3-wheel
  python3-numpy python3-pytest python3-skimage python3-nbclient python3-nbformat python3-ipykernel python3-matplotlib
  ffmpeg
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "fregan setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="$ROOT"           # share cache hits between clones in different folders
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
export FREGAN_BUILD_DIR="$ROOT/build/release"
export FREGAN_CMAKE_ARGS="${FREGAN_CMAKE_ARGS:--DFREGAN_BUILD_TESTS=ON -DFREGAN_BUILD_BENCHMARKS=ON}"
export FREGAN_JOBS="${FREGAN_JOBS:-$(nproc)}"
.venv/bin/python -m pip install --no-build-isolation --no-deps --no-index --quiet --disable-pip-version-check . \
  || { echo "fregan setup: build failed (see above)"; exit 1; }
echo "fregan setup: ready (.venv/bin/fregan, build/release)"
