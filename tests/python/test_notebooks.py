"""Every notebook in notebooks/ runs top to bottom in quick mode without a cell error."""
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="python3-nbformat is not installed (scripts/setup.sh installs it)")
nbclient = pytest.importorskip("nbclient", reason="python3-nbclient is not installed (scripts/setup.sh installs it)")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_notebooks_are_found():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(path, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        f"{path.name} is committed with outputs; clear them"
    # The kernel inherits this environment: quick settings, outputs under tmp_path, and the same
    # fregan package as the tests (the kernel is this Python, so sys.path matches).
    monkeypatch.setenv("FREGAN_NOTEBOOK_MODE", "quick")
    monkeypatch.setenv("FREGAN_NOTEBOOK_OUT", str(tmp_path / "runs"))
    import fregan
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(Path(fregan.__file__).parent.parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError naming the cell and its traceback
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
