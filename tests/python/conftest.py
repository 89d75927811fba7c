"""Shared fixtures: synthetic frames with known motion, a tiny trained checkpoint, real data."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fregan

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def moving_square(width: int, height: int, x0: int, size: int = 16, seed: int = 7) -> np.ndarray:
    """RGB uint8: a smooth noisy background with a bright square whose left edge is at x0."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    noise = rng.integers(0, 24, (height, width))
    img = np.stack([80 + noise, 60 + yy * 90 // height + noise, 40 + xx * 90 // width + noise], axis=-1)
    img[height // 2 - size // 2: height // 2 + size // 2, x0: x0 + size] = (30, 230, 250)
    return img.astype(np.uint8)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it sits beside the repository in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def clip_folder(tmp_path_factory) -> Path:
    """8 frames, 64x64, a square moving 4 px per frame."""
    folder = tmp_path_factory.mktemp("clip")
    for i in range(8):
        fregan.write_image(folder / f"{i:03d}.png", moving_square(64, 64, 4 + 4 * i))
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, clip_folder) -> Path:
    """A small FREGAN trained for a few steps by fregan.train (fast to load and run)."""
    out = tmp_path_factory.mktemp("run")
    fregan.set_log_level(2)
    fregan.train(clip_folder, out, steps=3, batch_size=2, crop=32, val_fraction=0, workers=1, device="cpu",
                 generator_options={"base_channels": 8, "max_channels": 32, "levels": 3},
                 discriminator_options={"base_channels": 8, "levels": 3})
    fregan.set_log_level(1)
    return out / "last.pt"


@pytest.fixture(scope="session")
def flow_checkpoint(tmp_path_factory, clip_folder) -> Path:
    """fregan-flow trained for 2 steps: close to plain flow warping, fast to run."""
    out = tmp_path_factory.mktemp("flow")
    fregan.set_log_level(2)
    fregan.train(clip_folder, out, model="fregan-flow", steps=2, batch_size=2, crop=32, val_fraction=0, workers=1,
                 device="cpu", generator_options={"base_channels": 4, "levels": 2})
    fregan.set_log_level(1)
    return out / "last.pt"


def square_centre_x(rgb: np.ndarray) -> float:
    """x of moving_square's square: it paints (30, 230, 250) RGB; the background's blue is at most 40 + 90 + 24."""
    w = np.clip((rgb[..., 2].astype(float) - 154) / (250 - 154), 0, 1)
    w[w <= 0.5] = 0
    xs = np.arange(rgb.shape[1])[None, :]
    return float((w * xs).sum() / w.sum())


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    if not path:
        pytest.skip("ffmpeg is not installed")
    return path


def make_video(ffmpeg: str, frames_dir: Path, out: Path, fps: int = 10) -> Path:
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-framerate", str(fps), "-i", str(frames_dir / "%03d.png"),
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "10", str(out)], check=True)
    return out


def probe(path: Path) -> dict:
    """Streams of a media file as ffprobe reports them (counting frames)."""
    import json

    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                          "stream=codec_type,width,height,r_frame_rate,nb_read_frames,duration:format=duration",
                          "-of", "json", str(path)], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fregan", *map(str, args)], capture_output=True, text=True)
