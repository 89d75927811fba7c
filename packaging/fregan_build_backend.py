"""setuptools' build backend, with torch added to the build requirements only when the target
environment has none.

fregan's extension must be compiled against the torch it will be imported beside (LibTorch has no
stable C++ ABI across minor releases).  With pip's build isolation, a torch listed in
[build-system] requires would be a second, freshly downloaded copy (several GB for the CUDA build)
of possibly another version: so when the user already has torch, setup.py builds against that one
(found in the interpreter's site-packages) and nothing is downloaded; only a clean environment gets
torch declared here, and the built package then requires that torch's release series at run time.
"""
import os
import site
import sysconfig

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403  (the other hooks, unchanged)

# The oldest PyPI torch fregan supports: the first whose wheels use the C++11 ABI, as the
# OpenCV fregan links does (README, "Supported torch").
MINIMUM_TORCH = "torch>=2.7"


def _target_has_torch():
    folders = set(site.getsitepackages()) | {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    return any(os.path.isfile(os.path.join(folder, "torch", "version.py")) for folder in folders)


def _torch_unless_present():
    return [] if _target_has_torch() else [MINIMUM_TORCH]


def get_requires_for_build_wheel(config_settings=None):
    return _setuptools.get_requires_for_build_wheel(config_settings) + _torch_unless_present()


def get_requires_for_build_editable(config_settings=None):
    return _setuptools.get_requires_for_build_editable(config_settings) + _torch_unless_present()
