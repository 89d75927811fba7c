"""Builds fregan's native code with CMake (setuptools drives it, as torchaudio and pybind's
cmake_example do).  Environment knobs:

  FREGAN_BUILD_DIR    CMake build folder to reuse (default: setuptools' build_temp)
  FREGAN_BUILD_TYPE   Release (default), Debug, RelWithDebInfo
  FREGAN_CMAKE_ARGS   extra CMake arguments, e.g. "-DFREGAN_BUILD_TESTS=ON"
  FREGAN_JOBS         parallel compile jobs (default: all cores)
"""
import os
import shlex
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:
    from setuptools.command.build import build
except ImportError:  # setuptools < 62.4
    from distutils.command.build import build

ROOT = Path(__file__).resolve().parent
# Where the user's torch is and which torch fregan supports: the build backend owns both (it runs
# before this file, to decide whether pip must install a torch for the build).
sys.path.insert(0, str(ROOT / "packaging"))
from fregan_build_backend import runtime_torch_dir, torch_requirement  # noqa: E402


def torch_cmake_prefix(torch_dir):
    """torch's CMake folder, or None for Debian's python3-torch (CMake then finds libtorch-dev's
    TorchConfig itself)."""
    candidate = os.path.join(torch_dir, "share", "cmake")
    return candidate if os.path.isdir(os.path.join(candidate, "Torch")) else None


class Build(build):
    """With FREGAN_BUILD_DIR, setuptools' own folders (the package staged for the wheel, bdist's)
    go inside it too, not in the checkout's shared build/: the Debian and pip builds of one
    checkout (build/debian, build/release) write the extension, the CLI and _build_info.py there,
    and in one shared folder the second build found the first's newer files up to date and
    installed them beside the other torch."""

    def finalize_options(self):
        if self.build_base == "build" and os.environ.get("FREGAN_BUILD_DIR"):
            self.build_base = os.path.join(os.environ["FREGAN_BUILD_DIR"], "setuptools")
        super().finalize_options()


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
    cmdclass={"build": Build, "build_ext": CMakeBuild},
    install_requires=["numpy", torch_requirement()],
)
