"""Builds fregan's native code with CMake (setuptools drives it, as torchaudio and pybind's
cmake_example do).  Environment knobs:

  FREGAN_BUILD_DIR    CMake build folder to reuse (default: setuptools' build_temp)
  FREGAN_BUILD_TYPE   Release (default), Debug, RelWithDebInfo
  FREGAN_CMAKE_ARGS   extra CMake arguments, e.g. "-DFREGAN_BUILD_TESTS=ON"
  FREGAN_JOBS         parallel compile jobs (default: all cores)
"""
import os
import re
import shlex
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def runtime_torch_dir():
    """The folder of the torch the user will import fregan beside, or None.

    Inside pip's isolated build environment `import torch` finds the build environment's torch (if
    any), not the user's: look in the interpreter's own site-packages first, without importing.
    """
    folders = set(site.getsitepackages()) | {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    for folder in sorted(folders):
        candidate = os.path.join(folder, "torch")
        if os.path.isfile(os.path.join(candidate, "version.py")):
            return candidate
    try:
        import torch

        return os.path.dirname(torch.__file__)
    except ImportError:
        return None


def torch_cmake_prefix(torch_dir):
    """torch's CMake folder, or None for Debian's python3-torch (CMake then finds libtorch-dev's
    TorchConfig itself)."""
    candidate = os.path.join(torch_dir, "share", "cmake")
    return candidate if os.path.isdir(os.path.join(candidate, "Torch")) else None


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
        return "torch>=2.7"  # a metadata-only call before torch is installed (the build needs it)
    major, minor = (int(x) for x in torch_version(torch_dir).split("+")[0].split(".")[:2])
    return f"torch>={major}.{minor},<{major}.{minor + 1}"


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        out_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(os.environ.get("FREGAN_BUILD_DIR") or self.build_temp).resolve()
        build_dir.mkdir(parents=True, exist_ok=True)
        args = [
            f"-DCMAKE_BUILD_TYPE={os.environ.get('FREGAN_BUILD_TYPE', 'Release')}",
            f"-DPython3_EXECUTABLE={sys.executable}",
            f"-DFREGAN_PYTHON_OUTPUT_DIR={out_dir}",
            "-DFREGAN_BUILD_PYTHON=ON",
        ]
        torch_dir = runtime_torch_dir()
        if torch_dir is None:
            raise RuntimeError("fregan builds against an installed torch and none was found: pip install torch first "
                               "(or let pip's build isolation install it: see pyproject.toml)")
        prefix = torch_cmake_prefix(torch_dir)
        if prefix:
            args.append(f"-DFREGAN_TORCH_CMAKE_PREFIX={prefix}")
        try:
            import pybind11

            args.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
        except ImportError:
            pass
        args += shlex.split(os.environ.get("FREGAN_CMAKE_ARGS", "-DFREGAN_BUILD_TESTS=OFF -DFREGAN_BUILD_BENCHMARKS=OFF"))
        jobs = os.environ.get("FREGAN_JOBS", str(os.cpu_count() or 2))
        subprocess.check_call(["cmake", "-S", str(ROOT), "-B", str(build_dir), *args])
        subprocess.check_call(["cmake", "--build", str(build_dir), "-j", jobs])


setup(
    ext_modules=[CMakeExtension("fregan._core")],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=["numpy", torch_requirement()],
)
