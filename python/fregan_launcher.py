"""The `fregan` command installed by pip: runs the native command-line tool shipped in the package.

A module of its own, outside the `fregan` package: importing the package loads torch and the
extension (about a second), which the native tool does not need.  `find_spec` locates the
package without running its __init__.
"""
import importlib.util
import os
import sys
from pathlib import Path


def main() -> None:
    spec = importlib.util.find_spec("fregan")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("fregan: the fregan package is not installed beside this launcher; reinstall fregan")
    binary = Path(list(spec.submodule_search_locations)[0]) / "bin" / "fregan"
    if not binary.exists():
        sys.exit(f"fregan: the native binary is missing from the package ({binary}); reinstall fregan")
    os.execv(str(binary), [str(binary), *sys.argv[1:]])


if __name__ == "__main__":
    main()
