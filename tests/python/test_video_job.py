"""The video job end to end: rates, audio, cuts, bad input, and resuming a killed run."""
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import fregan
from conftest import make_video, moving_square, probe, run_cli, square_centre_x


def test_moving_object_lands_within_a_pixel_at_any_t(flow_checkpoint):
    a, b = moving_square(128, 96, 40), moving_square(128, 96, 56)
    interp = fregan.Interpolator(flow_checkpoint)
    assert interp.supports_any_time
    x0 = square_centre_x(a)
    for t in (0.25, 0.5, 0.75):
        assert square_centre_x(interp(a, b, t)) == pytest.approx(x0 + 16 * t, abs=1.0)


def test_target_fps_and_audio_of_the_same_length(flow_checkpoint, clip_folder, ffmpeg, tmp_path):
    video = make_video(ffmpeg, clip_folder, tmp_path / "v.mp4", fps=10)  # 8 frames, 0.8 s
    src = tmp_path / "with_audio.mp4"
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(video), "-f", "lavfi", "-i", "sine=frequency=440:duration=0.8",
                    "-c:v", "copy", "-c:a", "aac", "-shortest", str(src)], check=True)
    seen = []
    r = fregan.interpolate(src, tmp_path / "out.mp4", fps=25, weights=flow_checkpoint, progress=seen.append)
    assert r["completed"] and r["output_frames"] == 20 and r["audio_kept"]
    assert seen[-1]["input_frames_done"] == 8 and seen[-1]["output_frames"] == 20
    streams = {s["codec_type"]: s for s in probe(tmp_path / "out.mp4")["streams"]}
    assert Fraction(streams["video"]["r_frame_rate"]) == 25
    assert int(streams["video"]["nb_read_frames"]) == 20
    assert float(streams["video"]["duration"]) == pytest.approx(0.8, abs=0.01)
    in_audio = float([s for s in probe(src)["streams"] if s["codec_type"] == "audio"][0]["duration"])
    assert float(streams["audio"]["duration"]) == pytest.approx(in_audio, abs=0.03)


def test_a_stop_from_the_callback_keeps_parts_and_the_rerun_finishes(flow_checkpoint, clip_folder, ffmpeg, tmp_path):
    src = make_video(ffmpeg, clip_folder, tmp_path / "v.mp4", fps=10)
    out = tmp_path / "out.mp4"
    r = fregan.interpolate(src, out, weights=flow_checkpoint, segment_seconds=0.2,
                           progress=lambda p: p["input_frames_done"] < 5)
    assert not r["completed"] and not out.exists()
    r = fregan.interpolate(src, out, weights=flow_checkpoint, segment_seconds=0.2)
    assert r["completed"] and r["resumed_segments"] == 2 and r["output_frames"] == 16
    assert not Path(str(out) + ".fregan-job").exists()


def _frame_hashes(path: Path) -> list:
    out = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                         check=True, capture_output=True, text=True).stdout
    return [line.split(",")[-1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def test_a_killed_cli_job_resumes_to_the_same_output(flow_checkpoint, ffmpeg, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(40):
        fregan.write_image(frames / f"{i:03d}.png", moving_square(96, 64, 4 + (i * 2) % 60))
    src = make_video(ffmpeg, frames, tmp_path / "in.mp4", fps=10)
    whole = tmp_path / "whole.mp4"
    args = ["interpolate", src, "--weights", flow_checkpoint, "--segment-seconds", "0.5", "-q", "--factor", "4"]
    assert run_cli(*args, "-o", whole).returncode == 0

    out = tmp_path / "resumed.mp4"
    work = Path(str(out) + ".fregan-job")
    proc = subprocess.Popen([sys.executable, "-m", "fregan", *map(str, args), "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(work.glob("part_*[0-9].mkv"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    finished = len(list(work.glob("part_*[0-9].mkv")))
    assert finished >= 2
    r = run_cli(*args, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "resumed" in r.stderr
    assert _frame_hashes(out) == _frame_hashes(whole)


def test_bad_video_inputs_are_named(flow_checkpoint, tiny_checkpoint, ffmpeg, tmp_path):
    audio = tmp_path / "audio.m4a"
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", str(audio)], check=True)
    with pytest.raises(fregan.FileError, match="no video stream"):
        fregan.interpolate(audio, tmp_path / "o.mp4", weights=flow_checkpoint)
    # Variable frame rate (frames 0.1 s apart, then 0.3 s apart) with a middle-frame model, which
    # cannot reach each frame's own time (fregan-flow can: test_media.py).
    vfr = tmp_path / "vfr.mkv"
    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "3",
                    "-vf", "setpts='if(lt(N,10),N,10+(N-10)*3)/10/TB'", "-fps_mode", "vfr", str(vfr)], check=True)
    with pytest.raises(fregan.InvalidArgument, match="variable frame rate.*middle frames only.*-r 10 "):
        fregan.interpolate(vfr, tmp_path / "o.mp4", weights=tiny_checkpoint)
    # An output in a folder that does not exist.
    src = tmp_path / "frames"
    src.mkdir()
    for i in range(3):
        fregan.write_image(src / f"{i}.png", moving_square(32, 32, 4 + 4 * i))
    with pytest.raises(fregan.FileError, match="does not exist"):
        fregan.interpolate(src, tmp_path / "missing" / "o.mp4", weights=flow_checkpoint)
    # Encoder presets are x264/x265 names, checked before any work.
    with pytest.raises(fregan.InvalidArgument, match="unknown encoder preset 'turbo'"):
        fregan.interpolate(src, tmp_path / "o.mp4", weights=flow_checkpoint, preset="turbo")
    with pytest.raises(fregan.InvalidArgument, match="libx264 and libx265 only"):
        fregan.interpolate(src, tmp_path / "o.webm", weights=flow_checkpoint, codec="libvpx-vp9", preset="fast")
    assert not any(p.name.endswith(".fregan-job") for p in tmp_path.iterdir())
    assert not (tmp_path / "o.mp4").exists()


def test_a_faster_preset_makes_the_same_frames_count(flow_checkpoint, clip_folder, ffmpeg, tmp_path):
    video = make_video(ffmpeg, clip_folder, tmp_path / "v.mp4", fps=10)
    r = fregan.interpolate(video, tmp_path / "fast.mp4", weights=flow_checkpoint, preset="veryfast")
    assert r["completed"] and r["output_frames"] == 16
    assert int([s for s in probe(tmp_path / "fast.mp4")["streams"] if s["codec_type"] == "video"][0]["nb_read_frames"]) == 16


def test_bicubic_flow_warping_is_sharper_than_bilinear():
    # Frames of fine random texture moved by 3.5 px: at t = 0.5 every pixel is sampled half a pixel
    # off; bilinear sampling averages neighbours, bicubic keeps more of the texture.
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)
    a, b = texture[:, 4:100], texture[:, 11:107]  # b is a moved 7 px left: the middle is 3.5 px
    truth = texture[:, 8:104]  # not exact at t = 0.5 (3.5 px), so compare detail, not values
    bilinear = fregan.flow_warp(a, b, preset="fine")
    bicubic = fregan.flow_warp(a, b, preset="fine", sampling="bicubic")
    inner = (slice(8, -8), slice(8, -8))
    assert bicubic[inner].astype(float).std() > 1.1 * bilinear[inner].astype(float).std()
    assert truth.std() > bicubic[inner].astype(float).std()
    with pytest.raises(fregan.InvalidArgument, match="bilinear' or 'bicubic"):
        fregan.flow_warp(a, b, sampling="lanczos")


def test_frames_folder_to_frames_folder(flow_checkpoint, clip_folder, tmp_path):
    r = fregan.interpolate(clip_folder, tmp_path / "out", factor=3, weights=flow_checkpoint)
    assert r["output_frames"] == 24
    names = sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".png")
    assert names[0] == "frame_000000.png" and len(names) == 24
    assert fregan.read_image(tmp_path / "out" / names[3]).shape == (64, 64, 3)
