"""The Python API on arrays, tensors, image files and videos."""
import os
from fractions import Fraction

import numpy as np
import pytest
import torch

import fregan
from conftest import make_video, moving_square, probe


def test_version_and_models():
    assert fregan.__version__
    assert "fregan" in fregan.model_names()


def test_installed_command_runs_the_native_tool_without_importing_torch():
    # pip installs `fregan` next to the interpreter; it must not import the package (and torch).
    import subprocess
    import sys
    from pathlib import Path
    import importlib.util
    command = Path(sys.executable).parent / "fregan"
    if not command.exists() or importlib.util.find_spec("fregan_launcher") is None:
        pytest.skip("fregan is not pip-installed beside this interpreter (a build-tree run)")
    done = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == fregan.__version__
    probe_imports = ("import sys, runpy; sys.argv = ['fregan', '--version']; "
                     "import fregan_launcher, importlib.util; "
                     "assert 'torch' not in sys.modules and 'fregan' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", probe_imports]).returncode == 0


def test_arrays_any_size(tiny_checkpoint):
    interp = fregan.Interpolator(tiny_checkpoint, device="cpu")
    a, b = moving_square(53, 37, 4), moving_square(53, 37, 12)
    mid = interp(a, b)
    assert mid.shape == (37, 53, 3) and mid.dtype == np.uint8
    # Grayscale input is accepted and comes back as RGB.
    gray = interp(a[..., 0].copy(), b[..., 0].copy())
    assert gray.shape == (37, 53, 3)
    # t = 0.25 works by bisection; t = 1/3 is refused for a middle-frame model.
    assert interp(a, b, t=0.25).shape == (37, 53, 3)
    with pytest.raises(fregan.InvalidArgument, match="k/2"):
        interp(a, b, t=1 / 3)


def test_tensors_keep_layout_and_range(tiny_checkpoint):
    interp = fregan.Interpolator(tiny_checkpoint, device="cpu")
    a, b = torch.rand(3, 21, 30), torch.rand(3, 21, 30)
    out = interp(a, b)
    assert out.shape == (3, 21, 30) and out.dtype == torch.float32
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    batch = interp(torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16))
    assert batch.shape == (2, 3, 16, 16)


def test_array_and_tensor_paths_agree(tiny_checkpoint):
    interp = fregan.Interpolator(tiny_checkpoint, device="cpu")
    a, b = moving_square(64, 48, 4), moving_square(64, 48, 12)
    from_array = interp(a, b)
    to_t = lambda x: torch.from_numpy(x).permute(2, 0, 1).float() / 255
    from_tensor = (interp(to_t(a), to_t(b)) * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(from_array, from_tensor)


def test_default_model_ships_and_interpolates():
    path = fregan.default_weights()
    assert os.path.isfile(path)
    info = fregan.checkpoint_info(path)
    # The classical four-frame path, shipped untrained until a trained net beats it (issue 21).
    assert info["model"] == "fregan-flow" and info["step"] == 0
    a, b = moving_square(64, 64, 8), moving_square(64, 64, 16)
    mid = fregan.interpolate(a, b)
    assert mid.shape == a.shape
    # The default takes any t (flow-guided).
    assert fregan.Interpolator().supports_any_time


def test_image_files(tiny_checkpoint, tmp_path):
    fregan.write_image(tmp_path / "a.png", moving_square(40, 32, 4))
    fregan.write_image(tmp_path / "b.png", moving_square(40, 32, 8))
    mid = fregan.interpolate(tmp_path / "a.png", tmp_path / "b.png", weights=tiny_checkpoint)
    assert mid.shape == (32, 40, 3)


def test_video_doubles_frame_rate_keeping_duration(tiny_checkpoint, clip_folder, ffmpeg, tmp_path):
    src = make_video(ffmpeg, clip_folder, tmp_path / "in.mp4", fps=10)
    seen = []
    result = fregan.interpolate(src, tmp_path / "out.mp4", factor=2, weights=tiny_checkpoint,
                                progress=lambda p: seen.append(p["input_frames_done"]))
    assert result["input_frames"] == 8 and result["output_frames"] == 16
    assert seen[-1] == 8
    video = [s for s in probe(tmp_path / "out.mp4")["streams"] if s["codec_type"] == "video"][0]
    assert (video["width"], video["height"]) == (64, 64)
    assert Fraction(video["r_frame_rate"]) == 20
    assert int(video["nb_read_frames"]) == 16
    assert float(video["duration"]) == pytest.approx(0.8, abs=0.01)  # 8 frames at 10 fps


def test_real_clip_keeps_audio(shared_data, ffmpeg, tmp_path):
    # 12 frames (0.5 s) of a real clip with its AAC audio, doubled by the shipped model.
    clip = tmp_path / "juggle.mp4"
    import subprocess

    subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-i", str(shared_data / "videos" / "juggle.mp4"),
                    "-frames:v", "12", "-t", "0.5", "-c:v", "libx264", "-c:a", "aac", str(clip)], check=True)
    result = fregan.interpolate(clip, tmp_path / "x2.mp4")
    assert result["audio_kept"]
    info = probe(tmp_path / "x2.mp4")
    kinds = {s["codec_type"]: s for s in info["streams"]}
    assert "audio" in kinds
    assert int(kinds["video"]["nb_read_frames"]) == 2 * result["input_frames"]
    assert float(kinds["video"]["duration"]) == pytest.approx(result["input_frames"] / result["input_fps"], abs=0.02)
    assert float(kinds["audio"]["duration"]) == pytest.approx(0.5, abs=0.05)


def test_train_callback_stop_and_resume(clip_folder, tmp_path):
    fregan.set_log_level(2)
    opts = dict(batch_size=2, crop=32, val_fraction=0, workers=1, device="cpu", log_every=1,
                generator_options={"base_channels": 4, "levels": 2}, discriminator_options={"base_channels": 4, "levels": 2})
    steps = []

    def stop_after_two(p):
        steps.append(p["step"])
        assert p["total_steps"] == 5 and p["g_loss"] > 0 and p["samples_per_second"] > 0
        return p["step"] < 2

    fregan.train(clip_folder, tmp_path / "run", steps=5, callback=stop_after_two, **opts)
    assert steps == [1, 2]
    assert fregan.checkpoint_info(tmp_path / "run" / "last.pt")["step"] == 2
    events = list(fregan.train_iter(clip_folder, tmp_path / "run", steps=5, resume=True, **opts))
    assert [e["step"] for e in events] == [3, 4, 5]
    assert fregan.checkpoint_info(tmp_path / "run" / "last.pt")["step"] == 5
    fregan.set_log_level(1)


def test_evaluate_reports_baselines(tiny_checkpoint, clip_folder):
    r = fregan.evaluate(clip_folder, tiny_checkpoint, device="cpu")
    assert r["triplets"] == 6
    assert set(r) >= {"model", "average", "repeat"}
    # Independent check of the average baseline's PSNR.
    frames = [fregan.read_image(clip_folder / f"{i:03d}.png").astype(np.float64) for i in range(8)]
    psnrs = []
    for i in range(6):
        avg = np.floor((frames[i] + frames[i + 2]) / 2 + 0.5)  # OpenCV's addWeighted rounds to nearest
        mse = np.mean((avg - frames[i + 1]) ** 2)
        psnrs.append(10 * np.log10(255.0 ** 2 / mse))
    assert r["average"]["psnr"] == pytest.approx(np.mean(psnrs), abs=0.01)


def test_evaluate_on_real_triplets_beats_repeat(shared_data):
    r = fregan.evaluate(shared_data / "triplets" / "vimeo90k")
    assert r["triplets"] == 2
    assert r["model"]["psnr"] > r["repeat"]["psnr"]
    # The default model starts as flow warping with its own flow settings and sampling ("fine",
    # bicubic) and stays at least that good; on these two triplets that is a little below OpenCV's
    # "medium" flow with bilinear sampling (30.87 vs 31.01 dB: fregan-flow's gains are measured on
    # foreman and Vid4, see MODELS.md), and far above averaging.
    folder = shared_data / "triplets" / "vimeo90k"
    own_warping = np.mean([fregan.metrics.psnr(fregan.flow_warp(fregan.read_image(folder / t / "im1.png"),
                                                                fregan.read_image(folder / t / "im3.png"),
                                                                preset="fine", sampling="bicubic"),
                                               fregan.read_image(folder / t / "im2.png"))
                           for t in ("triplet_A", "triplet_B")])
    assert r["model"]["psnr"] >= own_warping - 0.05
    assert r["model"]["psnr"] >= r["flow_warp"]["psnr"] - 0.3
    assert 0.5 < r["model"]["ms_ssim"] <= 1.0 and r["model"]["ms_ssim"] > r["repeat"]["ms_ssim"]
    assert r["model"]["psnr"] > r["average"]["psnr"] + 1.0


def _square_centre_x(rgb: np.ndarray) -> float:
    # moving_square paints (30, 230, 250) RGB; the background's blue is at most 40 + 90 + 24.
    w = np.clip((rgb[..., 2].astype(float) - 154) / (250 - 154), 0, 1)
    w[w <= 0.5] = 0
    return float((w * np.arange(rgb.shape[1])[None, :]).sum() / w.sum())


def test_neighbours_make_the_default_model_follow_acceleration(tiny_checkpoint):
    # The square accelerates: x(s) = 60 + 6 s + 4 s^2 at frames s = -1, 0, 1, 2 (58, 60, 70, 88);
    # at t = 0.5 it is at 64, where linear motion from two frames puts it at 65.  (On frames half
    # this size DIS misses the last 18 px step of the 16 px square.)
    before, a, b, after = (moving_square(256, 128, x) for x in (58, 60, 70, 88))
    truth = _square_centre_x(moving_square(256, 128, 64))
    two = fregan.interpolate(a, b)
    four = fregan.interpolate(a, b, before=before, after=after)
    assert abs(_square_centre_x(two) - truth) > 0.7
    assert abs(_square_centre_x(four) - truth) < 0.4
    # Tensors take the same route; the Interpolator says whether the model uses neighbours.
    interp = fregan.Interpolator()
    assert interp.uses_neighbours
    to_t = lambda x: torch.from_numpy(x).permute(2, 0, 1).float() / 255
    four_t = interp(to_t(a), to_t(b), before=to_t(before), after=to_t(after))
    assert np.array_equal((four_t * 255).round().byte().permute(1, 2, 0).numpy(), four)
    # Models without neighbours (FREGAN) ignore them.
    small = fregan.Interpolator(tiny_checkpoint, device="cpu")
    assert not small.uses_neighbours
    assert np.array_equal(small(a, b, before=before, after=after), small(a, b))
    with pytest.raises(fregan.InvalidArgument, match="differ in size"):
        interp(a, b, before=before[:64])
    with pytest.raises(TypeError):
        interp(a, b, before=to_t(before))


def test_train_cli_flags_go_into_the_interpolation_trainers_options(clip_folder, tmp_path):
    from conftest import run_cli
    # --steps 0 saves the untrained model at once: its header shows what the flags set.
    r = run_cli("train", "--model", "fregan", "--data", clip_folder, "--out", tmp_path / "run", "--steps", "0",
                "--val-fraction", "0", "--device", "cpu", "--threads", "1", "--crop", "48", "--no-hflip",
                "--no-reverse", "--adv-weight", "0.5", "--loss", '{"l1": 2}', "--max-triplets", "5", "--workers", "1",
                "--generator-options", '{"base_channels": 8, "levels": 2}')
    assert r.returncode == 0, r.stderr
    o = fregan.checkpoint_info(tmp_path / "run" / "last.pt")["trainer_options"]
    assert (o["model"], o["crop"], o["hflip"], o["vflip"], o["temporal_reverse"]) == ("fregan", 48, False, True, False)
    assert o["loss"] == {"l1": 2, "adversarial": 0.5}
    assert (o["max_triplets_per_source"], o["workers"], o["steps"], o["batch_size"]) == (5, 1, 0, 9)
    assert o["generator_options"] == {"base_channels": 8, "levels": 2}
