#!/usr/bin/env bash
# Sets up everything fregan needs on a fresh Debian 12 / Ubuntu machine, idempotently:
#   1. system packages from apt (OpenCV, FFmpeg, pybind11, GoogleTest, Benchmark, ccache, ...)
#   2. a virtualenv with the torch fregan builds against (FREGAN_TORCH, below) and the Python
#      packages the tests and notebooks use
#   3. builds the C++ core, CLI, Python module, tests and benchmarks (ccache + PCH) and installs the
#      package into the venv with `pip install --no-build-isolation .`
# Re-running it only rebuilds what changed.
#
# FREGAN_TORCH chooses the torch (benchmarks/README.md, "Which torch", has the numbers):
#   pip     (default) torch from PyPI, the version pinned in scripts/requirements-torch.txt (the
#           CUDA build: it runs on the CPU too).  .venv over /usr/bin/python3, build/release.
#   debian  Debian's LibTorch 1.13 (libtorch-dev, python3-torch; CPU only, no MKL).
#           .venv-debian with --system-site-packages, build/debian.
# The script prints the venv it made; scripts/test.sh and scripts/demo.sh take the same variable.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/torch_choice.sh
source scripts/torch_choice.sh

APT_PACKAGES=(
  build-essential cmake ccache git pkg-config
  libopencv-dev pybind11-dev libgloo-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
  python3 python3-dev python3-venv
  ffmpeg
)
if [ "$FREGAN_TORCH" = debian ]; then
  APT_PACKAGES+=(libtorch-dev python3-torch python3-pip python3-setuptools python3-wheel
                 python3-numpy python3-pytest python3-skimage python3-nbclient python3-nbformat
                 python3-ipykernel python3-matplotlib)
fi

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

if [ "$FREGAN_TORCH" = debian ]; then
  if [ ! -x "$FREGAN_VENV/bin/python" ]; then
    /usr/bin/python3 -m venv --system-site-packages "$FREGAN_VENV"
  fi
  PIP_FLAGS=(--no-index)  # everything comes from apt: works offline
else
  if [ ! -x "$FREGAN_VENV/bin/python" ]; then
    /usr/bin/python3 -m venv "$FREGAN_VENV"
  fi
  # pip keeps the downloaded wheels in ~/.cache/pip: a second machine-local run installs offline.
  "$FREGAN_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r scripts/requirements-torch.txt -r scripts/requirements-dev.txt
  PIP_FLAGS=()
fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_BASEDIR="$ROOT"           # share cache hits between clones in different folders
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
export FREGAN_BUILD_DIR
export FREGAN_CMAKE_ARGS="${FREGAN_CMAKE_ARGS:--DFREGAN_BUILD_TESTS=ON -DFREGAN_BUILD_BENCHMARKS=ON}"
export FREGAN_JOBS="${FREGAN_JOBS:-$(nproc)}"
"$FREGAN_VENV/bin/python" -m pip install --no-build-isolation --no-deps "${PIP_FLAGS[@]}" --quiet --disable-pip-version-check . \
  || { echo "fregan setup: build failed (see above)"; exit 1; }
echo "fregan setup: ready (torch: $FREGAN_TORCH; $FREGAN_VENV/bin/fregan, ${FREGAN_BUILD_DIR#"$ROOT"/})"
