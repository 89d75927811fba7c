#!/usr/bin/env bash
# Every test: the GoogleTest suite through CTest, then pytest against the installed package.
# FREGAN_TORCH=pip (default) or debian picks the torch (scripts/setup.sh).  Tests that need
# ../shared/data skip with a reason where it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/torch_choice.sh
bash scripts/setup.sh
status=0
# ctest runs one test per core: each with one intra-op thread (pip's torch starts with one per core,
# and OpenMP threads spinning on a taken core made some tests several times slower).
(cd "$FREGAN_BUILD_DIR" && OMP_NUM_THREADS=1 ctest --output-on-failure -j "$(nproc)" --timeout 900) || status=1
# Run pytest from outside the source tree so `import fregan` is the installed package.
(cd tests && "$FREGAN_VENV/bin/python" -m pytest -c ../pyproject.toml --rootdir .. python) || status=1
exit $status
