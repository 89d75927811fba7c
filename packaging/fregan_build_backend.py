"""setuptools' build backend, with torch added to the build requirements only when the target
environment has none; and the one place that knows where the user's torch is and which torch
fregan supports (setup.py imports this module for both).

fregan's extension must be compiled against the torch it will be imported beside (LibTorch has no
stable C++ ABI across minor releases).  With pip's build isolation, a torch listed in
[build-system] requires would be a second, freshly downloaded copy (several GB for the CUDA build)
of possibly another version: so when the user already has torch, setup.py builds against that one
(found in the interpreter's site-packages) and nothing is downloaded; only a clean environment gets
torch declared here, and the built package then requires that torch's release series at run time.
"""
import os
import re
import site
import sysconfig
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403  (the other hooks, unchanged)

# The oldest PyPI torch fregan supports: the first whose wheels use the C++11 ABI, as the
# OpenCV fregan links does (README, "Supported torch").
MINIMUM_TORCH = "torch>=2.7"


def site_packages_torch_dir():
    """The torch folder in the interpreter's own site-packages, found without importing torch.

    Inside pip's isolated build environment `import torch` finds the build environment's torch (if
    any), not the user's: the interpreter's site-packages (sys.prefix's) are the user's.
    """
    folders = set(site.getsitepackages()) | {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    for folder in sorted(folders):
        candidate = os.path.join(folder, "torch")
        if os.path.isfile(os.path.join(candidate, "version.py")):
            return candidate
    return None


def runtime_torch_dir():
    """The folder of the torch the user will import fregan beside, or None: the site-packages one,
    else whatever `import torch` finds (in a clean environment, the torch pip installed for the
    build from MINIMUM_TORCH)."""
    found = site_packages_torch_dir()
    if found:
        return found
    try:
        import torch

        return os.path.dirname(torch.__file__)
    except ImportError:
        return None


def torch_version(torch_dir):
    """The version of the torch in torch_dir ("2.15.0+cu132"), read without importing it."""
    text = Path(torch_dir, "version.py").read_text()
    match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    if not match:
        raise RuntimeError(f"fregan: cannot read torch's version from {torch_dir}/version.py")
    return match.group(1)


def torch_requirement():
    """The torch the built package needs: the release series it was compiled against.  LibTorch's
    C++ ABI changes between minor releases, so the extension loads only beside the same X.Y."""
    torch_dir = runtime_torch_dir()
    if torch_dir is None:
        return MINIMUM_TORCH  # a metadata-only call before torch is installed (the build needs it)
    major, minor = (int(x) for x in torch_version(torch_dir).split("+")[0].split(".")[:2])
    return f"torch>={major}.{minor},<{major}.{minor + 1}"


def _torch_unless_present():
    return [] if site_packages_torch_dir() else [MINIMUM_TORCH]


def get_requires_for_build_wheel(config_settings=None):
    return _setuptools.get_requires_for_build_wheel(config_settings) + _torch_unless_present()


def get_requires_for_build_editable(config_settings=None):
    return _setuptools.get_requires_for_build_editable(config_settings) + _torch_unless_present()
