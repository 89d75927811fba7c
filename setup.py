"""Builds fregan's native code with CMake (setuptools drives it, as torchaudio and pybind's
cmake_example do).  Environment knobs:

  FREGAN_BUILD_DIR    CMake build folder to reuse (default: setuptools' build_temp)
  FREGAN_BUILD_TYPE   Release (default), Debug, RelWithDebInfo
  FREGAN_CMAKE_ARGS   extra CMake arguments, e.g. "-DFREGAN_BUILD_TESTS=ON"
  FREGAN_JOBS         parallel compile jobs (default: all cores)
"""
import os
import shlex
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def torch_cmake_prefix():
    """The CMake folder of the torch the user will import fregan beside.

    Inside pip's isolated build environment `import torch` fails although torch is installed in the
    interpreter's own site-packages; look there without importing it.
    """
    try:
        import torch.utils

        prefix = torch.utils.cmake_prefix_path
        if os.path.isdir(os.path.join(prefix, "Torch")):
            return prefix
        return None  # Debian's python3-torch: CMake then finds libtorch-dev's TorchConfig itself
    except ImportError:
        pass
    folders = set(site.getsitepackages()) | {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    for folder in sorted(folders):
        candidate = os.path.join(folder, "torch", "share", "cmake")
        if os.path.isdir(os.path.join(candidate, "Torch")):
            return candidate
    return None


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
        prefix = torch_cmake_prefix()
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


setup(ext_modules=[CMakeExtension("fregan._core")], cmdclass={"build_ext": CMakeBuild})
