"""DCGAN from Python and the CLI: training via fregan.train(model="dcgan"), deterministic
generation, grids, and clear errors for bad sizes and the wrong kind of checkpoint."""
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import fregan
from conftest import probe, run_cli

TINY = {"latent_dim": 8, "height": 32, "width": 64}
TINY_G = {"levels": 3, "base_channels": 4, "max_channels": 16}
TINY_D = {"levels": 3, "base_channels": 4, "max_channels": 16}


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory, clip_folder) -> Path:
    """A tiny DCGAN trained for 40 steps by fregan.train(model="dcgan") (enough for BatchNorm's
    running statistics, which generation uses, to settle: an untrained DCGAN in eval mode gives
    nearly constant frames)."""
    out = tmp_path_factory.mktemp("dcgan")
    fregan.set_log_level(2)
    events = []
    result = fregan.train(clip_folder, out, model="dcgan", steps=40, batch_size=4, sample_every=20, sample_count=5,
                          device="cpu", threads=1, generator_options=TINY_G, discriminator_options=TINY_D,
                          callback=events.append, **TINY)
    fregan.set_log_level(1)
    assert result == {"step": 40, "lr_scale": 1.0, "rollbacks": 0}
    assert [e["step"] for e in events] == list(range(1, 41))
    assert [Path(e["sample_grid"]).name for e in events if "sample_grid" in e] == ["step_000020.png",
                                                                                    "step_000040.png"]
    assert all(np.isfinite(e["d_loss"]) and 0 <= e["d_real"] <= 1 for e in events)
    return out


def test_generate_shapes_and_determinism(dcgan_run):
    ckpt = dcgan_run / "last.pt"
    info = fregan.checkpoint_info(ckpt)
    assert info["model"] == "dcgan" and info["step"] == 40
    assert info["generator_options"]["height"] == 32 and info["generator_options"]["width"] == 64
    frames = fregan.generate(5, weights=ckpt, seed=1, device="cpu")
    assert len(frames) == 5
    assert all(f.shape == (32, 64, 3) and f.dtype == np.uint8 for f in frames)
    again = fregan.generate(5, weights=ckpt, seed=1, device="cpu")
    assert all(np.array_equal(a, b) for a, b in zip(frames, again))
    other = fregan.generate(5, weights=ckpt, seed=2, device="cpu")
    assert not any(np.array_equal(a, b) for a, b in zip(frames, other))
    # Frame i of a seed does not depend on n (batching may round one grey level differently).
    prefix = fregan.generate(2, weights=ckpt, seed=1, device="cpu")
    assert all(np.abs(a.astype(int) - b.astype(int)).max() <= 1 for a, b in zip(prefix, frames[:2]))
    tail = fregan.generate(2, weights=ckpt, seed=1, first=3, device="cpu")
    assert all(np.abs(a.astype(int) - b.astype(int)).max() <= 1 for a, b in zip(tail, frames[3:]))


def test_sample_grid_is_the_seed_frames(dcgan_run):
    # The training run's last grid shows samples 0..4 of the run's seed (0) on the final weights.
    grid = fregan.read_image(dcgan_run / "samples" / "step_000040.png")
    assert grid.shape == (2 * 32 + 3 * 2, 3 * 64 + 4 * 2, 3)
    frames = fregan.generate(5, weights=dcgan_run / "last.pt", seed=0, device="cpu")
    assert np.abs(grid[2:34, 2:66].astype(int) - frames[0].astype(int)).max() <= 1
    assert np.abs(grid[36:68, 68:132].astype(int) - frames[4].astype(int)).max() <= 1  # row 1, column 1
    assert (grid[36:68, 134:198] == 0).all()  # the unused sixth cell stays background


def test_make_grid_layout():
    images = [np.full((4, 6, 3), 10 * (i + 1), np.uint8) for i in range(7)]
    grid = fregan.make_grid(images, padding=1)
    assert grid.shape == (3 * 4 + 4, 3 * 6 + 4, 3)  # 7 images: 3 columns, 3 rows
    assert grid[1, 1, 0] == 10 and grid[1 + 5, 1 + 7, 0] == 50 and grid[0, 0, 0] == 0
    assert fregan.make_grid(images, cols=7, padding=0).shape == (4, 42, 3)
    with pytest.raises(fregan.InvalidArgument, match="same size"):
        fregan.make_grid(images + [np.zeros((5, 6, 3), np.uint8)])


def test_bad_input_is_explained(dcgan_run, clip_folder, tiny_checkpoint, tmp_path):
    with pytest.raises(fregan.InvalidArgument, match="height 100 is not a multiple of 8"):
        fregan.train(clip_folder, tmp_path / "a", model="dcgan", steps=1, height=100, width=64,
                     generator_options=TINY_G, discriminator_options=TINY_D, device="cpu")
    with pytest.raises(fregan.InvalidArgument, match="unknown dcgan training option 'crop'"):
        fregan.train(clip_folder, tmp_path / "b", model="dcgan", steps=1, crop=64)
    with pytest.raises(fregan.CheckpointError, match="not a DCGAN"):
        fregan.generate(2, weights=tiny_checkpoint)
    with pytest.raises(fregan.CheckpointError, match="DCGAN"):
        fregan.Interpolator(dcgan_run / "last.pt")
    with pytest.raises(fregan.InvalidArgument, match="n must be >= 1"):
        fregan.generate(0, weights=dcgan_run / "last.pt")


def test_cli_generate_and_train(dcgan_run, clip_folder, tmp_path):
    grid, frames = tmp_path / "grid.png", tmp_path / "frames"
    r = run_cli("generate", "--weights", dcgan_run / "last.pt", "-n", "3", "--seed", "7", "--grid", grid,
                "--frames", frames, "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in frames.iterdir()) == ["frame_000000.png", "frame_000001.png", "frame_000002.png"]
    expected = fregan.generate(3, weights=dcgan_run / "last.pt", seed=7, device="cpu")
    assert np.array_equal(fregan.read_image(frames / "frame_000002.png"), expected[2])
    assert fregan.read_image(grid).shape == (2 * 32 + 3 * 2, 2 * 64 + 3 * 2, 3)
    r = run_cli("generate", "--weights", dcgan_run / "last.pt", "-n", "2")
    assert r.returncode != 0 and "nothing to write" in r.stderr

    out = tmp_path / "run"
    r = run_cli("train", "--model", "dcgan", "--data", clip_folder, "--out", out, "--steps", "2", "--batch-size", "2",
                "--height", "32", "--width", "64", "--latent-dim", "8", "--sample-every", "0", "--threads", "1",
                "--device", "cpu", "--generator-options", json.dumps(TINY_G),
                "--discriminator-options", json.dumps(TINY_D))
    assert r.returncode == 0, r.stderr
    assert fregan.checkpoint_info(out / "last.pt")["step"] == 2
    assert (out / "samples" / "step_000002.png").exists()
    r = run_cli("train", "--model", "dcgan", "--data", clip_folder, "--out", tmp_path / "x", "--crop", "64")
    assert r.returncode != 0 and "--crop does not apply to --model dcgan" in r.stderr
    r = run_cli("train", "--data", clip_folder, "--out", tmp_path / "y", "--height", "64")
    assert r.returncode != 0 and "--height applies only to --model dcgan" in r.stderr

    stripped = tmp_path / "small.pt"
    r = run_cli("strip", out / "last.pt", "-o", stripped)
    assert r.returncode == 0, r.stderr
    assert fregan.checkpoint_info(stripped)["has_discriminator"] is False
    assert len(fregan.generate(1, weights=stripped)) == 1


def test_walk_passes_through_the_generated_frames(dcgan_run):
    ckpt = dcgan_run / "last.pt"
    walk = fregan.generate_walk(seed=3, keys=3, frames_between=4, first=1, weights=ckpt, device="cpu")
    assert len(walk) == 3 + 2 * 4
    assert all(f.shape == (32, 64, 3) and f.dtype == np.uint8 for f in walk)
    keys = fregan.generate(3, weights=ckpt, seed=3, first=1, device="cpu")
    assert all(np.array_equal(walk[5 * k], keys[k]) for k in range(3))
    assert np.abs(walk[2].astype(int) - walk[0].astype(int)).mean() > 0.5  # frames between are not copies
    looped = fregan.load(ckpt, device="cpu").walk(3, keys=3, frames_between=4, first=1, loop=True)
    assert len(looped) == 3 * 5
    assert all(np.array_equal(a, b) for a, b in zip(looped, walk))
    with pytest.raises(fregan.InvalidArgument, match="keys must be >= 2"):
        fregan.generate_walk(keys=1, weights=ckpt)
    with pytest.raises(fregan.InvalidArgument, match="frames_between must be >= 0"):
        fregan.generate_walk(frames_between=-1, weights=ckpt)


def test_cli_generate_walk_writes_a_video(dcgan_run, ffmpeg, tmp_path):
    ckpt, video = dcgan_run / "last.pt", tmp_path / "walk.mp4"
    r = run_cli("generate", "--weights", ckpt, "--walk", video, "--walk-keys", "3", "--walk-steps", "4", "--walk-loop",
                "--fps", "12", "--seed", "2", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    (stream,) = probe(video)["streams"]
    assert (stream["width"], stream["height"]) == (64, 32)
    assert int(stream["nb_read_frames"]) == 3 + 3 * 4
    assert stream["r_frame_rate"] == "12/1"
    assert not (tmp_path / "frames").exists()  # --walk alone writes only the walk
    kept = video.read_bytes()
    r = run_cli("generate", "--weights", ckpt, "--walk", video, "--walk-keys", "2", "--device", "cpu")
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [f"fregan: error: output '{video}' already exists "
                                             "(pass --overwrite / overwrite=True to replace it)"]
    assert video.read_bytes() == kept
    r = run_cli("generate", "--weights", ckpt, "--walk", video, "--walk-keys", "2", "--walk-steps", "3", "--overwrite",
                "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert int(probe(video)["streams"][0]["nb_read_frames"]) == 2 + 1 * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.mp4"]  # no temporary file left
    # From Python, into a GIF, and never onto the weights.
    gif = tmp_path / "walk.gif"
    assert fregan.load(ckpt, device="cpu").write_walk(gif, keys=2, frames_between=1, fps=10) == 3
    assert int(probe(gif)["streams"][0]["nb_read_frames"]) == 3
    with pytest.raises(fregan.InvalidArgument, match="not a video file name"):
        fregan.load(ckpt, device="cpu").write_walk(ckpt, overwrite=True)


def test_shipped_walk_passes_through_the_sample_grid_frames(ffmpeg):
    """dcgan-default-walk.mp4 is what MODELS.md's command writes: 8 keys (frames 0-7 of seed 0, the
    sample grid's) with 12 frames between each two, looped, at 24 fps."""
    walk = Path(fregan.__file__).parent / "models" / "dcgan-default-walk.mp4"
    if not walk.exists():
        pytest.skip("no shipped dcgan-default-walk.mp4")
    (stream,) = probe(walk)["streams"]
    assert (stream["width"], stream["height"], stream["r_frame_rate"]) == (160, 80, "24/1")
    decoded = np.frombuffer(subprocess.run([ffmpeg, "-v", "error", "-i", str(walk), "-f", "rawvideo", "-pix_fmt",
                                            "rgb24", "-"], check=True, capture_output=True).stdout, np.uint8)
    decoded = decoded.reshape(-1, 80, 160, 3).astype(int)
    assert len(decoded) == 8 + 8 * 12
    keys = [k.astype(int) for k in fregan.generate(8, seed=0, device="cpu")]
    for k in range(8):
        # Frame 13k is key k up to H.264's loss (about 5 grey levels here), nearer to it than to any other key.
        distances = [np.abs(decoded[13 * k] - key).mean() for key in keys]
        assert int(np.argmin(distances)) == k and distances[k] < 6, (k, distances)


def test_shipped_dcgan_if_present():
    try:
        path = fregan._core.default_generator_weights_path()
    except fregan.FileError:
        pytest.skip("no shipped dcgan-default.pt")
    info = fregan.checkpoint_info(path)
    assert info["model"] == "dcgan" and not info["has_discriminator"]
    frames = fregan.generate(2, seed=0, device="cpu")
    g = info["generator_options"]
    assert frames[0].shape == (g["height"], g["width"], 3)
    assert not np.array_equal(frames[0], frames[1])


def test_knn_precision_recall_of_grey_frames():
    # Frames of one grey level each: distances are proportional to the level differences.
    def greys(*levels):
        return torch.tensor(levels, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 3, 8, 16).contiguous()

    # Real 0, .1, .2, .3 (1-NN radii .1); generated .05, .9, .95 (1-NN radii .85, .05, .05).
    # Precision: only .05 lies within .1 of a real frame -> 1/3.  Recall: every real frame lies
    # within .85 of .05 -> 1.
    precision, recall = fregan._core.knn_precision_recall(greys(0, .1, .2, .3), greys(.05, .9, .95), k=1,
                                                          height=4, width=8)
    assert precision == pytest.approx(1 / 3)
    assert recall == pytest.approx(1.0)
