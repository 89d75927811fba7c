"""The notebooks' Colab install cell, run as written in a fresh venv that has only what a Colab
image has (torch from PyPI, numpy, matplotlib, Jupyter's kernel), then notebook 01 in quick mode
with the fregan that cell installed.

This is the pip-from-source path every Colab and laptop user takes: `pip install ./fregan` with
build isolation, building against the torch already there.  It needs root (the cell runs apt-get,
as on Colab) and PyPI; it takes a full build without the tests (~10 min on an idle 2-core machine),
so it runs only with FREGAN_COLAB_CHECK=1: its one run so far was killed during the build (see
session 6's note), and it joins CI once it has passed here.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "01_quickstart.ipynb"

pytestmark = [
    pytest.mark.skipif(os.environ.get("FREGAN_COLAB_CHECK") != "1", reason="the Colab install check runs with FREGAN_COLAB_CHECK=1"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the Colab install cell runs apt-get, as root on Colab"),
    pytest.mark.skipif(not (ROOT / ".git").exists(), reason="the cell clones a git repository: needs this checkout's .git"),
]


def install_cell_code() -> str:
    """The setup cell up to where it starts using fregan: what a Colab user runs first."""
    cell = json.loads(NOTEBOOK.read_text())["cells"][1]
    source = "".join(cell["source"])
    assert "FREGAN_REPO" in source and "pip" in source, "notebook 01's second cell is no longer the install cell"
    return source.split("# \"quick\" runs every cell")[0]


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd[:3]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def test_colab_install_cell_then_quickstart_notebook(tmp_path):
    venv = tmp_path / "colab-venv"
    run(["/usr/bin/python3", "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    # What a Colab image comes with (torch from PyPI; pip's cache makes this offline after the first run).
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "-r", str(ROOT / "scripts" / "requirements-torch.txt"), "numpy", "matplotlib", "ipykernel", "nbclient", "nbformat"],
        timeout=1800)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FREGAN_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(FREGAN_COLAB_INSTALL="1", FREGAN_REPO=str(ROOT), PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    workdir = tmp_path / "content"  # Colab's working folder
    workdir.mkdir()
    run([python, "-c", install_cell_code()], cwd=workdir, env=env, timeout=3600)

    # The installed package, not the clone's sources, and the same torch the venv had.
    check = run([python, "-c", "import fregan, torch; print(fregan.__file__); print(torch.__version__)"],
                cwd=tmp_path, env=env)
    path, torch_version = check.stdout.split()
    assert str(venv) in path
    wanted = (ROOT / "scripts" / "requirements-torch.txt").read_text().split("torch==")[1].split()[0]
    assert torch_version.split("+")[0] == wanted

    data = ROOT.parent / "shared" / "data"
    env.update(FREGAN_NOTEBOOK_MODE="quick", FREGAN_NOTEBOOK_OUT=str(tmp_path / "runs"))
    if data.is_dir():
        env["FREGAN_DATA"] = str(data)
    clone_notebooks = workdir / "fregan" / "notebooks"
    runner = (
        "import nbformat, nbclient, sys\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "nbclient.NotebookClient(nb, timeout=900, kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
        "print('cells', len(nb.cells))\n"
    )
    result = run([python, "-c", runner, str(clone_notebooks / NOTEBOOK.name), str(clone_notebooks)],
                 cwd=clone_notebooks, env=env, timeout=1800)
    assert "cells" in result.stdout
