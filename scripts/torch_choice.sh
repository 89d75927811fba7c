# Sourced by setup.sh, test.sh and demo.sh: which torch fregan is built against and where that
# build and its venv live.  FREGAN_TORCH=pip (default) or debian; see setup.sh.
FREGAN_TORCH="${FREGAN_TORCH:-pip}"
case "$FREGAN_TORCH" in
  pip)    FREGAN_VENV="${FREGAN_VENV:-$ROOT/.venv}";        FREGAN_BUILD_DIR="${FREGAN_BUILD_DIR:-$ROOT/build/release}" ;;
  debian) FREGAN_VENV="${FREGAN_VENV:-$ROOT/.venv-debian}"; FREGAN_BUILD_DIR="${FREGAN_BUILD_DIR:-$ROOT/build/debian}" ;;
  *) echo "fregan: FREGAN_TORCH must be pip or debian, got '$FREGAN_TORCH'" >&2; exit 2 ;;
esac
export FREGAN_TORCH FREGAN_VENV FREGAN_BUILD_DIR
