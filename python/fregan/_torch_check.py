"""Refuses, in one clear line, to load fregan's extension beside a torch it was not built against.

LibTorch has no stable C++ interface across releases: an extension built against torch 2.14 and
imported beside 2.15 fails with an undefined symbol at best and misbehaves at worst.  The build
records the torch it compiled against (_build_info.py, written by CMake); this compares it with the
torch being imported before the extension is loaded.
"""
from types import ModuleType


def release_series(version: str) -> tuple:
    """(major, minor) of a torch version such as "2.15.0+cu132" or "1.13.1"."""
    parts = version.split("+")[0].split(".")
    return int(parts[0]), int(parts[1])


def check_torch(torch: ModuleType) -> None:
    try:
        from ._build_info import TORCH_CUDA, TORCH_VERSION
    except ImportError:  # a build made without setup.py records nothing to compare
        return
    reinstall = ("reinstall fregan against the torch you use: pip install --no-build-isolation --force-reinstall "
                 "--no-deps <fregan source or wheel built for it>")
    if release_series(TORCH_VERSION) != release_series(torch.__version__):
        raise ImportError(f"fregan was built against torch {TORCH_VERSION}, but torch {torch.__version__} "
                          f"({torch.__file__}) is imported beside it; {reinstall}")
    if TORCH_CUDA and getattr(torch.version, "cuda", None) is None:
        raise ImportError(f"fregan was built against a CUDA build of torch {TORCH_VERSION}, but the torch imported "
                          f"beside it ({torch.__version__}, {torch.__file__}) is a CPU-only build; {reinstall}")
