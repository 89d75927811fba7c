"""`fregan` on PATH after pip install: runs the native command-line tool shipped in the package."""
import os
import sys
from pathlib import Path


def main() -> None:
    binary = Path(__file__).resolve().parent / "bin" / "fregan"
    if not binary.exists():
        sys.exit(f"fregan: the native binary is missing from the package ({binary}); reinstall fregan")
    os.execv(str(binary), [str(binary), *sys.argv[1:]])


if __name__ == "__main__":
    main()
