"""SpectraFrame (x4 video super-resolution) through the Python API: evaluation mode against an
independent bicubic computation, upscale-only output, training with a TorchScript perceptual
extractor, clear errors, and the shipped checkpoint on held-out real frames."""
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fregan

SMALL_G = {"base_channels": 8, "feature_channels": 4, "neighbours": 2}
SMALL_D = {"base_channels": 4, "max_channels": 8, "levels": 2, "dense_channels": 8}
SHIPPED = Path(fregan.__file__).resolve().parent / "models" / "spectraframe.pt"


def textured_frame(width: int, height: int, shift: int, seed: int = 3) -> np.ndarray:
    """RGB uint8 with detail at all scales (bicubic x4 must lose some of it)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height // 4 + 2, width // 4 + 8, 3)).astype(np.float32)
    big = np.kron(base, np.ones((4, 4, 1)))[:height, shift:shift + width]
    yy, xx = np.mgrid[0:height, 0:width]
    stripes = 60 * np.sin(xx / 2.3 + yy / 3.1)[..., None]
    return np.clip(big * 0.7 + stripes + 40, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def sr_frames(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sr_frames")
    for i in range(4):
        fregan.write_image(folder / f"{i:03d}.png", textured_frame(70, 54, i))  # cut to 68x52
    return folder


@pytest.fixture(scope="module")
def sr_checkpoint(tmp_path_factory, sr_frames) -> Path:
    """A small SpectraFrame trained for 2 steps by fregan.train(model="spectraframe")."""
    out = tmp_path_factory.mktemp("sr_run")
    fregan.set_log_level(2)
    result = fregan.train(sr_frames, out, model="spectraframe", steps=2, batch_size=2, hr_crop=32, val_fraction=0,
                          device="cpu", threads=1, generator_options=SMALL_G, discriminator_options=SMALL_D)
    fregan.set_log_level(1)
    assert result["step"] == 2
    assert result["perceptual"] == "discriminator features"
    return out / "last.pt"


# --- an independent bicubic: numpy downscale, torch upscale, numpy PSNR -------------------------

def keys_weights(t: float, a: float = -0.75) -> np.ndarray:
    """The 4 cubic-convolution weights (Keys, a = -0.75, OpenCV's and torch's) at offset t."""
    d = np.array([1 + t, t, 1 - t, 2 - t])
    w = np.where(d <= 1, (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1, a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a)
    return w


def bicubic_down4(hr: np.ndarray) -> np.ndarray:
    """x1/4 without antialiasing: LR pixel i samples HR at 4i + 1.5, taps 4i .. 4i + 3."""
    w = keys_weights(0.5)
    x = hr.astype(np.float64)
    h4, w4 = x.shape[0] // 4, x.shape[1] // 4
    rows = sum(w[k] * x[k::4][:h4] for k in range(4))
    out = sum(w[k] * rows[:, k::4][:, :w4] for k in range(4))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def bicubic_up4(lr: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(lr.astype(np.float64)).permute(2, 0, 1)[None]
    up = F.interpolate(t, scale_factor=4, mode="bicubic", align_corners=False)[0].permute(1, 2, 0).numpy()
    return np.clip(np.round(up), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse))


def test_evaluation_bicubic_psnr_matches_independent_computation(sr_frames, sr_checkpoint):
    report = fregan.upscale(sr_frames, weights=sr_checkpoint, device="cpu")
    assert report["evaluated"] and report["frames"] == 4
    assert (report["lr_width"], report["lr_height"], report["width"], report["height"]) == (17, 13, 68, 52)
    expected = []
    for path in sorted(sr_frames.iterdir()):
        hr = np.asarray(fregan.read_image(path))[:52, :68]
        expected.append(psnr(bicubic_up4(bicubic_down4(hr)), hr))
    reported = report["scores"]["bicubic"]["psnr"]
    assert 10 < reported < 40
    assert reported == pytest.approx(float(np.mean(expected)), abs=0.1)
    # Two training steps from the bicubic start keep the model close to bicubic.
    assert report["scores"]["model"]["psnr"] == pytest.approx(reported, abs=1.0)
    assert 0 < report["scores"]["model"]["ssim"] <= 1


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffmpeg/ffprobe not installed")
def test_upscale_only_writes_a_x4_video(sr_frames, sr_checkpoint, tmp_path):
    out = tmp_path / "up.mp4"
    report = fregan.upscale(sr_frames, out, upscale_only=True, weights=sr_checkpoint, device="cpu")
    assert not report["evaluated"] and "scores" not in report
    assert (report["width"], report["height"]) == (280, 216)
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                            "stream=width,height,nb_read_frames", "-of", "csv=p=0", str(out)],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert probe == "280,216,4"
    with pytest.raises(fregan.InvalidArgument):
        fregan.upscale(sr_frames, upscale_only=True, weights=sr_checkpoint)


def test_upscale_refuses_bad_weights(sr_frames, tmp_path):
    with pytest.raises(fregan.FileError, match="does not exist"):
        fregan.upscale(sr_frames, weights=tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(fregan.CheckpointError):
        fregan.upscale(sr_frames, weights=junk)


def test_perceptual_loss_uses_a_torchscript_module(sr_frames, tmp_path):
    class Features(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            y = torch.relu(self.conv(x))
            return y, F.avg_pool2d(y, 2)

    path = tmp_path / "features.pt"
    torch.jit.save(torch.jit.script(Features()), str(path))
    fregan.set_log_level(2)
    result = fregan.train(sr_frames, tmp_path / "run", model="spectraframe", steps=1, batch_size=2, hr_crop=32,
                          val_fraction=0, device="cpu", threads=1, perceptual_model=str(path),
                          generator_options=SMALL_G, discriminator_options=SMALL_D)
    assert result["perceptual"] == "torchscript:" + str(path)
    bad = tmp_path / "no-such-vgg.pt"
    with pytest.raises(fregan.FileError, match=str(bad)):
        fregan.train(sr_frames, tmp_path / "run2", model="spectraframe", steps=1, batch_size=2, hr_crop=32,
                     val_fraction=0, device="cpu", perceptual_model=str(bad), generator_options=SMALL_G)
    fregan.set_log_level(1)


def test_shipped_checkpoint_is_small_and_stripped():
    if not SHIPPED.exists():
        pytest.skip(f"{SHIPPED} not shipped yet")
    assert SHIPPED.stat().st_size < 5 * 1024 * 1024
    meta = fregan.checkpoint_info(SHIPPED)
    assert meta["model"] == "spectraframe"
    assert not meta["has_discriminator"] and not meta["has_optimizers"]


def test_shipped_checkpoint_beats_bicubic_on_held_out_frames(shared_data):
    if not SHIPPED.exists():
        pytest.skip(f"{SHIPPED} not shipped yet")
    walk = shared_data / "vsr" / "vid4" / "walk"  # held out of the shipped model's training (MODELS.md)
    report = fregan.upscale(walk, max_frames=3)
    scores = report["scores"]
    assert scores["model"]["psnr"] > scores["bicubic"]["psnr"]


def test_training_calls_back_with_the_shared_progress_record(sr_frames, tmp_path):
    seen = []
    fregan.set_log_level(2)
    result = fregan.train(sr_frames, tmp_path / "run", model="spectraframe", steps=3, batch_size=2, hr_crop=32,
                          val_fraction=0, device="cpu", threads=1, generator_options=SMALL_G,
                          discriminator_options=SMALL_D, callback=lambda p: seen.append(p) or len(seen) < 2)
    fregan.set_log_level(1)
    # The callback's False after step 2 stops the run there, with a checkpoint.
    assert [p["step"] for p in seen] == [1, 2] and result["step"] == 2
    assert all(p["total_steps"] == 3 and p["samples_per_second"] > 0 for p in seen)
    assert set(seen[0]["terms"]) >= {"mse"} and "validation" not in seen[0]
    header = fregan.checkpoint_info(tmp_path / "run" / "last.pt")
    assert header["step"] == 2
    # The header's trainer options stay flat: the shared fields beside SpectraFrame's own.
    assert header["trainer_options"]["steps"] == 3 and header["trainer_options"]["hr_crop"] == 32
    assert "run" not in header["trainer_options"]


def test_cli_flags_go_into_spectraframes_options(sr_frames, tmp_path):
    import json
    from conftest import run_cli
    common = ("train", "--model", "spectraframe", "--data", sr_frames, "--steps", "1", "--batch-size", "2",
              "--val-fraction", "0", "--device", "cpu", "--threads", "1", "--generator-options", json.dumps(SMALL_G),
              "--discriminator-options", json.dumps(SMALL_D))
    r = run_cli(*common, "--out", tmp_path / "a", "--crop", "32", "--no-flip", "--rotate", "--val-frames", "3")
    assert r.returncode == 0, r.stderr
    o = fregan.checkpoint_info(tmp_path / "a" / "last.pt")["trainer_options"]
    assert (o["hr_crop"], o["flip"], o["rotate"], o["val_frames"], o["val_fraction"]) == (32, False, True, 3, 0.0)
    assert (o["steps"], o["batch_size"], o["lr_g"], o["checkpoint_every"]) == (1, 2, 1e-4, 100)  # SpectraFrame's defaults
    r = run_cli(*common, "--out", tmp_path / "b", "--crop", "32")
    assert r.returncode == 0, r.stderr
    o = fregan.checkpoint_info(tmp_path / "b" / "last.pt")["trainer_options"]
    assert (o["flip"], o["rotate"]) == (True, False)  # the command line rotates only when asked
    r = run_cli(*common, "--out", tmp_path / "c", "--frame-skip", "2")
    assert r.returncode != 0 and "--frame-skip does not apply to --model spectraframe" in r.stderr
    r = run_cli("train", "--data", sr_frames, "--out", tmp_path / "d", "--val-frames", "3")
    assert r.returncode != 0 and "--val-frames applies only to --model spectraframe" in r.stderr
