"""The package refuses, in one clear line, to load beside a torch other than the one it was built
against (LibTorch's C++ interface changes between releases: the alternative is a missing symbol)."""
import subprocess
import sys
import textwrap
from pathlib import Path

import fregan
import torch
from fregan import _build_info
from fregan._torch_check import release_series


def test_the_build_recorded_the_torch_imported_here():
    assert release_series(_build_info.TORCH_VERSION) == release_series(torch.__version__)
    assert _build_info.TORCH_CUDA == (torch.version.cuda is not None)


def test_release_series():
    assert release_series("2.15.0+cu132") == (2, 15)
    assert release_series("1.13.1") == (1, 13)
    assert release_series("2.6.0a0+git1234") == (2, 6)


def _import_beside_fake_torch(tmp_path: Path, version: str, cuda) -> subprocess.CompletedProcess:
    """Imports the installed fregan in a fresh interpreter where `torch` is a stand-in module."""
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text(textwrap.dedent(f"""
        import types
        __version__ = {version!r}
        version = types.SimpleNamespace(cuda={cuda!r})
    """))
    package_parent = str(Path(fregan.__file__).resolve().parent.parent)
    code = f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {package_parent!r}]; import fregan"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_beside_another_torch_release_names_both_versions(tmp_path):
    result = _import_beside_fake_torch(tmp_path, "1.0.0", None)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fregan was built against torch " + _build_info.TORCH_VERSION), last
    assert "torch 1.0.0" in last and "reinstall fregan" in last


def test_import_beside_the_same_release_passes_the_check(tmp_path):
    # The stand-in has no libtorch, so the extension itself then fails to load: but not in the check.
    result = _import_beside_fake_torch(tmp_path, torch.__version__, torch.version.cuda)
    assert "fregan was built against" not in result.stderr
