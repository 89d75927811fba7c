"""Every bad input gets one clear error naming the problem, and leaves nothing half-written."""
import os

import numpy as np
import pytest
import torch

import fregan
from conftest import moving_square, run_cli


def test_missing_checkpoint():
    with pytest.raises(fregan.FileError, match="does not exist"):
        fregan.Interpolator("/nonexistent/model.pt")


def test_corrupt_and_foreign_checkpoints(tmp_path, tiny_checkpoint):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(tiny_checkpoint.read_bytes()[:2000])
    with pytest.raises(fregan.CheckpointError, match="corrupt.pt"):
        fregan.Interpolator(corrupt)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(3)}, foreign)
    with pytest.raises(fregan.CheckpointError):
        fregan.Interpolator(foreign)
    text = tmp_path / "text.pt"
    text.write_text("hello")
    with pytest.raises(fregan.CheckpointError):
        fregan.checkpoint_info(text)


def test_mismatched_sizes_and_types(tiny_checkpoint):
    interp = fregan.Interpolator(tiny_checkpoint, device="cpu")
    with pytest.raises(fregan.InvalidArgument, match="differ in size"):
        interp(moving_square(32, 32, 4), moving_square(40, 32, 4))
    with pytest.raises(fregan.InvalidArgument, match="uint8"):
        interp(np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32))
    with pytest.raises(TypeError):  # a fregan.InvalidType: InvalidArgument and TypeError at once
        interp([1, 2], [3, 4])
    with pytest.raises(fregan.InvalidArgument, match="differ in size"):
        interp(torch.rand(3, 8, 8), torch.rand(3, 8, 9))


def test_unknown_model_and_option(clip_folder, tmp_path):
    with pytest.raises(fregan.InvalidArgument, match="unknown model 'nope'"):
        fregan.train(clip_folder, tmp_path / "r", model="nope", steps=1)
    with pytest.raises(fregan.InvalidArgument, match="stepz"):
        fregan.train(clip_folder, tmp_path / "r", stepz=1)


def test_training_data_problems(tmp_path):
    with pytest.raises(fregan.FileError, match="does not exist"):
        fregan.train(tmp_path / "missing", tmp_path / "r", steps=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(fregan.FileError, match="no videos and no frames"):
        fregan.train(tmp_path / "empty", tmp_path / "r", steps=1)
    short = tmp_path / "short"
    short.mkdir()
    for i in range(2):
        fregan.write_image(short / f"{i}.png", moving_square(32, 32, 4 * i))
    fregan.set_log_level(3)
    with pytest.raises(fregan.InvalidArgument, match="no usable triplets"):
        fregan.train(short, tmp_path / "r", steps=1, crop=16)
    fregan.set_log_level(1)


def test_unreadable_and_too_short_videos(tmp_path, tiny_checkpoint):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(fregan.FileError, match="junk.mp4"):
        fregan.interpolate(junk, tmp_path / "out.mp4", weights=tiny_checkpoint)
    with pytest.raises(fregan.FileError, match="does not exist"):
        fregan.interpolate(tmp_path / "missing.mp4", tmp_path / "out.mp4", weights=tiny_checkpoint)
    assert not (tmp_path / "out.mp4").exists()


def test_existing_output_is_refused_and_untouched(tmp_path, tiny_checkpoint, clip_folder, ffmpeg):
    from conftest import make_video

    src = make_video(ffmpeg, clip_folder, tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    out.write_text("precious")
    with pytest.raises(fregan.InvalidArgument, match="already exists"):
        fregan.interpolate(src, out, weights=tiny_checkpoint)
    assert out.read_text() == "precious"
    fregan.interpolate(src, out, weights=tiny_checkpoint, overwrite=True)
    assert out.stat().st_size > 1000
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []


def test_cli_errors_are_one_clear_line_and_nonzero(tmp_path, tiny_checkpoint):
    r = run_cli("interpolate", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "m.png",
                "--weights", tiny_checkpoint)
    assert r.returncode != 0
    assert "a.png' does not exist" in r.stderr
    fregan.write_image(tmp_path / "a.png", moving_square(32, 32, 4))
    fregan.write_image(tmp_path / "b.png", moving_square(48, 32, 4))
    r = run_cli("interpolate", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "m.png",
                "--weights", tiny_checkpoint)
    assert r.returncode != 0 and "same size" in r.stderr
    assert not (tmp_path / "m.png").exists()
    r = run_cli("train", "--model", "nope", "--data", tmp_path, "--out", tmp_path / "run")
    assert r.returncode != 0 and "unknown model 'nope'" in r.stderr
    r = run_cli("interpolate", tmp_path / "a.png", tmp_path / "a.png", "-o", tmp_path / "m.png", "--weights",
                tmp_path / "a.png")
    assert r.returncode != 0 and "not a readable fregan checkpoint" in r.stderr


def test_cli_interpolates_two_images(tmp_path, tiny_checkpoint):
    fregan.write_image(tmp_path / "a.png", moving_square(40, 30, 4))
    fregan.write_image(tmp_path / "b.png", moving_square(40, 30, 12))
    r = run_cli("interpolate", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "m.png",
                "--weights", tiny_checkpoint)
    assert r.returncode == 0, r.stderr
    assert fregan.read_image(tmp_path / "m.png").shape == (30, 40, 3)
    r = run_cli("interpolate", tmp_path / "a.png", tmp_path / "b.png", "-o", tmp_path / "m.png",
                "--weights", tiny_checkpoint)
    assert r.returncode != 0 and "already exists" in r.stderr
