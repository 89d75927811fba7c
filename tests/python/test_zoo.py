"""The model zoo (fregan.models / load / `fregan models`) and TorchScript export."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import fregan

REPO = Path(__file__).resolve().parents[2]
SHIPPED = {m["name"]: m for m in fregan.models()}
INTERPOLATION = sorted(n for n, m in SHIPPED.items() if m["task"] == "interpolation")
EXPORTABLE = [n for n in INTERPOLATION if SHIPPED[n]["model"] != "fregan-flow"]
SUPER_RESOLUTION = sorted(n for n, m in SHIPPED.items() if m["task"] == "super-resolution")


def test_every_entry_names_an_intact_file():
    assert {"fregan-flow", "fregan", "sin-gan", "sepconv", "dcgan-default", "spectraframe"} <= set(SHIPPED)
    total = 0
    for name, m in SHIPPED.items():
        path = Path(m["path"])
        assert path.is_file(), name
        data = path.read_bytes()
        assert len(data) == m["bytes"], name
        assert hashlib.sha256(data).hexdigest() == m["sha256"], f"{name}: file differs from the manifest"
        assert fregan.checkpoint_info(path)["model"] == m["model"]
        assert "fregan train" in m["command"], name  # the project's own training command
        total += len(data)
    assert total < 50e6, "shipped weights must stay under ~50 MB"


def test_task_filter():
    assert {m["name"] for m in fregan.models("generation")} == {"dcgan-default"}
    assert all(m["task"] == "interpolation" for m in fregan.models("interpolation"))


def test_load_by_name():
    interp = fregan.load("sin-gan", device="cpu")
    assert isinstance(interp, fregan.Interpolator) and interp.model_name == "sin-gan"
    gen = fregan.load("dcgan-default", device="cpu")
    assert isinstance(gen, fregan.Generator)
    assert isinstance(fregan.load("spectraframe", device="cpu"), fregan.Upscaler)
    frames = gen(2, seed=3)
    assert frames[0].shape == (80, 160, 3) and frames[0].dtype == np.uint8
    # A name works wherever a checkpoint path does.
    a = np.full((32, 32, 3), 40, np.uint8)
    assert fregan.interpolate(a, a, weights="fregan", device="cpu").shape == (32, 32, 3)


def test_unknown_name_lists_the_shipped_models():
    with pytest.raises(fregan.FileError, match="neither a file nor a shipped model.*fregan-flow"):
        fregan.load("no-such-model")
    with pytest.raises(fregan.FileError, match="does not exist"):
        fregan.load("missing/dir/model.pt")


def test_cli_models(tmp_path):
    cli = [sys.executable, "-m", "fregan"]
    out = subprocess.run(cli + ["models"], capture_output=True, text=True, check=True).stdout
    for name in SHIPPED:
        assert name in out
    # fregan-flow's recorded validation PSNR, beside plain DIS warping and the average.
    assert "34.67 dB / SSIM 0.9672 (DIS warping 33.83, average 29.99 dB) on 60 triplets" in out
    assert "(bicubic 23.75 dB) on 4 frames" in out  # SpectraFrame's
    info = subprocess.run(cli + ["info", "sepconv"], capture_output=True, text=True, check=True).stdout
    assert '"model": "sepconv"' in info


@pytest.mark.parametrize("name", INTERPOLATION)
def test_entry_reproduces_its_validation_psnr(name, shared_data):
    """Each shipped interpolation model re-measured as the manifest says: within 0.05 dB."""
    m = SHIPPED[name]
    e = m["evaluation"]
    val = [str(REPO / v) for v in m["val_data"]]
    for v in val:
        if not os.path.exists(v):
            pytest.skip(f"validation data {v} is absent")
    r = fregan.evaluate(val, m["path"], frame_skip=e["frame_skip"], max_triplets=e["max_triplets"],
                        max_frames=e["max_frames"], device="cpu")
    recorded = m["validation"]
    assert r["triplets"] == recorded["triplets"]
    assert r["model"]["psnr"] == pytest.approx(recorded["model"]["psnr"], abs=0.05)
    assert r["average"]["psnr"] == pytest.approx(recorded["average"]["psnr"], abs=0.05)


@pytest.mark.parametrize("name", SUPER_RESOLUTION)
def test_super_resolution_entry_reproduces_its_validation_psnr(name, shared_data):
    m = SHIPPED[name]
    clip = REPO / m["val_data"][0]
    if not clip.exists():
        pytest.skip(f"validation data {clip} is absent")
    r = fregan.upscale(clip, weights=m["path"], max_frames=m["evaluation"]["max_frames"], device="cpu")["scores"]
    recorded = m["validation"]
    assert r["frames"] == recorded["frames"]
    assert r["model"]["psnr"] == pytest.approx(recorded["model"]["psnr"], abs=0.05)
    assert r["bicubic"]["psnr"] == pytest.approx(recorded["bicubic"]["psnr"], abs=0.05)
    assert r["model"]["psnr"] > r["bicubic"]["psnr"], "the shipped SR model must beat bicubic on its validation clip"


def test_generation_entry_reproduces_its_sample_grid():
    m = SHIPPED["dcgan-default"]
    s = m["samples"]
    grid = fregan.make_grid(fregan.load(m["path"], device="cpu")(s["n"], seed=s["seed"]), cols=s["cols"])
    shipped = fregan.read_image(Path(m["path"]).parent / m["sample_grid"])
    assert grid.shape == shipped.shape
    # Identical here; a mean of 1 grey level leaves room for another CPU's float rounding.
    assert np.abs(grid.astype(int) - shipped.astype(int)).mean() < 1.0


@pytest.mark.parametrize("name", EXPORTABLE)
def test_torchscript_export_matches_native(name, tmp_path):
    out = tmp_path / f"{name}.ts"
    result = fregan.export(name, out, size=(64, 96), batch=2)
    assert out.is_file() and result["model"] == SHIPPED[name]["model"]
    assert 0 <= result["max_abs_difference"] <= 1e-4
    module = torch.jit.load(str(out))
    torch.manual_seed(1)
    a, b = torch.rand(2, 3, 64, 96), torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        exported = module(a, b)
    native = fregan.load(name, device="cpu")(a, b)
    assert exported.shape == (2, 3, 64, 96)
    assert (exported - native).abs().max().item() < 1e-4


def test_export_refuses_what_it_cannot_hold(tmp_path):
    with pytest.raises(fregan.InvalidArgument, match="OpenCV"):
        fregan.export("fregan-flow", tmp_path / "x.ts")
    with pytest.raises(fregan.InvalidArgument, match="multiples of 16"):
        fregan.export("fregan", tmp_path / "x.ts", size=(50, 64))
    (tmp_path / "kept.ts").write_text("keep me")
    with pytest.raises(fregan.InvalidArgument):
        fregan.export("fregan", tmp_path / "kept.ts", size=(64, 64))
    assert (tmp_path / "kept.ts").read_text() == "keep me"
    assert not (tmp_path / "x.ts").exists()
