"""fregan.data from Python: prepared datasets, triplets, frames, SR pairs, and bad data."""
import json
import os
import subprocess

import numpy as np
import pytest
import torch

import fregan
from fregan import data
from conftest import make_video, moving_square


def write_clip(folder, n, x_speed=3, width=64, height=48, cut_at=None):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        frame = moving_square(width, height, 2 + x_speed * i)
        if cut_at is not None and i >= cut_at:
            frame = 255 - frame
        fregan.write_image(folder / f"{i:03d}.png", frame)
    return folder


@pytest.fixture()
def clips(tmp_path):
    for c in range(5):
        write_clip(tmp_path / "clips" / f"clip{c}", 6 + c)
    write_clip(tmp_path / "clips" / "with_cut", 10, cut_at=5)
    return tmp_path / "clips"


def test_prepare_split_and_triplets(clips, tmp_path):
    seen = []
    report = data.prepare(clips, tmp_path / "ds", val_fraction=0.2, test_fraction=0.2, seed=1,
                          progress=lambda done, total, clip: seen.append((done, total)))
    assert report["clips"] == 6 and seen[-1] == (6, 6)
    assert report["train_clips"] + report["val_clips"] + report["test_clips"] == 6
    assert report["dropped_cut"] == 2  # the two triplets spanning the cut of with_cut
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    splits = {}
    for clip in manifest["clips"]:
        splits.setdefault(clip["split"], set()).add(clip["source"])
    assert not (splits["train"] & splits.get("val", set())) and not (splits["train"] & splits.get("test", set()))
    sizes = [len(data.TripletDataset(tmp_path / "ds", split=s)) for s in ("train", "val", "test")]
    assert sum(sizes) == len(data.TripletDataset(tmp_path / "ds", split="all")) == report["samples"]


def test_triplet_middle_frame_and_batches(tmp_path):
    write_clip(tmp_path / "clip", 8)
    ds = data.TripletDataset(tmp_path / "clip", frame_skip=2)
    assert len(ds) == 4
    f0, f1, f2 = ds[1]
    assert np.array_equal(f1, fregan.read_image(tmp_path / "clip" / "003.png"))
    assert np.array_equal(f0, fregan.read_image(tmp_path / "clip" / "001.png"))
    assert np.array_equal(f2, fregan.read_image(tmp_path / "clip" / "005.png"))
    assert ds.source_of(1)[1] == 1
    a, mid, b = ds.batch(0, batch_size=3, crop=32, seed=4)
    assert a.shape == mid.shape == b.shape == (3, 3, 32, 32)
    again = ds.batch(0, batch_size=3, crop=32, seed=4)
    assert torch.equal(mid, again[1])
    with pytest.raises(IndexError):
        ds[4]


def test_frames_and_sr(tmp_path):
    write_clip(tmp_path / "clip", 30, width=96, height=64)
    frames = data.FrameDataset(tmp_path / "clip", target_frames=10)
    assert len(frames) == 10 and frames.frame_skip == 3
    assert frames.batch(0, batch_size=2, height=32, width=48).shape == (2, 3, 32, 48)
    sr = data.SrDataset(tmp_path / "clip")
    hr, lr, nb = sr.batch(0, batch_size=2, hr_crop=64, neighbours=4)
    assert hr.shape == (2, 3, 64, 64) and lr.shape == (2, 3, 16, 16) and nb.shape == (2, 4, 3, 16, 16)


def test_real_vimeo_triplets(shared_data):
    ds = data.TripletDataset(shared_data / "triplets" / "vimeo90k", drop_static=False)
    assert len(ds) == 2
    f0, f1, f2 = ds[0]
    assert f1.shape == (256, 448, 3)
    folder, _ = ds.source_of(0)
    assert np.array_equal(f1, fregan.read_image(os.path.join(folder, "im2.png")))


def test_bad_data(tmp_path, ffmpeg):
    (tmp_path / "empty").mkdir()
    with pytest.raises(fregan.FileError, match="no videos and no frames"):
        data.TripletDataset(tmp_path / "empty")
    mixed = write_clip(tmp_path / "mixed", 3)
    fregan.write_image(mixed / "003.png", moving_square(80, 48, 4))
    with pytest.raises(fregan.FileError, match="mixes frame sizes"):
        data.TripletDataset(mixed)
    # A truncated video keeps the frames that decode.
    clip = write_clip(tmp_path / "long", 40, x_speed=1)
    video = make_video(ffmpeg, clip, tmp_path / "long.mp4").read_bytes()
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "truncated.mp4").write_bytes(video[: len(video) * 2 // 3])
    fregan.set_log_level(3)
    try:
        ds = data.TripletDataset(tmp_path / "cut" / "truncated.mp4", drop_static=False)
        assert 0 < ds.stats["frames"] < 40
    except fregan.FileError as e:  # an mp4 cut before its index cannot be opened at all: say so by name
        assert "truncated.mp4" in str(e)
    fregan.set_log_level(1)


def test_incompatible_and_unfinished_datasets(clips, tmp_path):
    data.prepare(clips, tmp_path / "ds")
    with pytest.raises(fregan.InvalidArgument, match="already holds"):
        data.prepare(clips, tmp_path / "ds")
    manifest = tmp_path / "ds" / "manifest.json"
    m = json.loads(manifest.read_text())
    m["version"] = 0
    manifest.write_text(json.dumps(m))
    with pytest.raises(fregan.InvalidArgument, match="prepare it again"):
        data.TripletDataset(tmp_path / "ds")
    manifest.unlink()
    (tmp_path / "ds" / "clips").rename(tmp_path / "ds-clips")
    (tmp_path / "only").mkdir()
    (tmp_path / "ds-clips").rename(tmp_path / "only" / "clips")
    (tmp_path / "only" / "manifest.json").write_text("{ broken")
    with pytest.raises(fregan.FileError, match="corrupt"):
        data.TripletDataset(tmp_path / "only")


def test_train_reads_a_prepared_dataset(clips, tmp_path):
    data.prepare(clips, tmp_path / "ds", val_fraction=0.2, test_fraction=0.0)
    fregan.set_log_level(2)
    result = fregan.train(tmp_path / "ds", tmp_path / "run", steps=2, batch_size=2, crop=32, workers=1, device="cpu",
                          val_every=2, generator_options={"base_channels": 4, "levels": 2},
                          discriminator_options={"base_channels": 4, "levels": 2})
    fregan.set_log_level(1)
    assert result["triplets"] > 0  # validated on the dataset's own val split
