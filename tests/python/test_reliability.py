"""Issue 17: never lose, mix or silently spoil a user's data; refuse bad input before the work,
in one line, with one exception type per mistake.  Each test failed on d4ff730."""
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import fregan
from conftest import moving_square, run_cli


def _frames(folder: Path, n: int = 6, w: int = 64, h: int = 48) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        fregan.write_image(folder / f"{i:03d}.png", moving_square(w, h, 4 + 3 * i))
    return folder


# --- 1. --overwrite never replaces or removes an input ------------------------------------------

def test_image_pair_output_onto_an_input_is_refused_even_with_overwrite(tiny_checkpoint, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    fregan.write_image(a, moving_square(64, 48, 4))
    fregan.write_image(b, moving_square(64, 48, 12))
    before = a.read_bytes()
    r = run_cli("interpolate", a, b, "-o", a, "--overwrite", "--weights", tiny_checkpoint)
    assert r.returncode == 1
    assert f"the output '{a}' is the input" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert a.read_bytes() == before


def test_folder_output_holding_the_input_is_refused_from_python_and_cli(tiny_checkpoint, tmp_path):
    seq = _frames(tmp_path / "parent" / "seq")
    (tmp_path / "parent" / "notes.txt").write_text("mine")
    with pytest.raises(fregan.InvalidArgument, match="contains the input"):
        fregan.interpolate(seq, tmp_path / "parent", weights=tiny_checkpoint, overwrite=True)
    r = run_cli("interpolate", seq, "-o", tmp_path / "parent", "--overwrite", "--weights", tiny_checkpoint, "-q")
    assert r.returncode == 1 and "contains the input" in r.stderr
    assert len(list(seq.glob("*.png"))) == 6
    assert (tmp_path / "parent" / "notes.txt").read_text() == "mine"


# --- 2. one job per output ---------------------------------------------------------------------

def test_two_cli_jobs_on_one_output_never_mix(tiny_checkpoint, ffmpeg, tmp_path):
    src = _frames(tmp_path / "seq", n=40, w=96, h=64)
    out = tmp_path / "out.mp4"
    args = ["interpolate", src, "-o", out, "--weights", tiny_checkpoint, "--segment-seconds", "0.4", "-q", "--threads", "1"]
    # A running job holds an OS lock on OUT.fregan-job/lock; the test holds it as such a job would
    # (a real first job on 40 tiny frames can finish before a second one starts on an idle machine).
    work = Path(str(out) + ".fregan-job")
    work.mkdir()
    with open(work / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        second = run_cli(*args, "--overwrite", "--factor", "4")
    assert second.returncode == 1
    assert f"another fregan job is writing '{out}'" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert not out.exists()
    first = run_cli(*args)  # the lock is free again: the job runs
    assert first.returncode == 0, first.stderr
    from conftest import probe
    assert int(probe(out)["streams"][0]["nb_read_frames"]) == 80  # factor 2, nothing of the refused job


# --- 3. a full disk --------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs (needs root and mount; skipped elsewhere: the injected failure covers CI)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_a_video_job_on_a_full_disk_says_so_and_leaves_no_output(tiny_checkpoint, ffmpeg, tmp_path, tiny_disk):
    # Noise compresses badly: 60 frames of 160x120 at crf 0 need far more than 1 MB.
    rng = np.random.default_rng(0)
    src = tmp_path / "noise"
    src.mkdir()
    for i in range(30):
        fregan.write_image(src / f"{i:03d}.png", rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    out = tiny_disk / "out.mp4"
    r = run_cli("interpolate", src, "-o", out, "--weights", tiny_checkpoint, "--crf", "0", "-q", "--segment-seconds", "0.4")
    assert r.returncode == 1
    assert f"no space left on the device holding '{tiny_disk}'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert not any(".partial" in p.name for p in tiny_disk.iterdir())


def test_an_injected_write_failure_fails_the_job_and_the_rerun_finishes(tiny_checkpoint, tmp_path):
    src = _frames(tmp_path / "seq", n=6)
    env = dict(os.environ, FREGAN_FAIL_WRITES_AFTER_BYTES="5000")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "fregan", "interpolate", str(src), "-o", str(out), "--weights",
                        str(tiny_checkpoint), "-q"], capture_output=True, text=True, env=env)
    assert r.returncode == 1
    assert "no space left on the device" in r.stderr
    assert not out.exists()
    r = run_cli("interpolate", src, "-o", out, "--weights", tiny_checkpoint, "-q")
    assert r.returncode == 0, r.stderr
    assert len(list(out.glob("frame_*.png"))) == 12


# --- 4. damaged checkpoints --------------------------------------------------------------------

def _damage_a_weight(path: Path, out: Path) -> None:
    """Copies the checkpoint with bytes in the middle of its largest tensor record changed."""
    import zipfile
    with zipfile.ZipFile(path) as z:
        infos = [i for i in z.infolist() if "/data/" in i.filename]
        largest = max(infos, key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:  # torch stores records uncompressed: find it by its bytes
        record = z.read(largest.filename)
    start = bytes(data).find(record[:64])
    assert start > 0
    middle = start + len(record) // 2
    data[middle:middle + 8] = b"\x00\x00\x80\x7f" * 2  # two floats become +inf
    out.write_bytes(bytes(data))


def test_a_damaged_checkpoint_is_refused(tiny_checkpoint, tmp_path):
    damaged = tmp_path / "damaged.pt"
    _damage_a_weight(Path(tiny_checkpoint), damaged)
    with pytest.raises(fregan.CheckpointError, match="is damaged"):
        fregan.Interpolator(damaged, "cpu")
    fregan.Interpolator(tiny_checkpoint, "cpu")  # the good one still loads


# --- 5. checked before the work ------------------------------------------------------------------

def test_codec_container_and_ranges_are_checked_before_any_work(tiny_checkpoint, ffmpeg, tmp_path):
    src = _frames(tmp_path / "seq", n=4)
    cases = [
        (dict(codec="bogus"), "o.mp4", "unknown codec 'bogus'"),
        (dict(codec="libx264"), "o.webm", "cannot write a .webm file"),
        (dict(crf=-5), "o.mp4", "crf"),
        (dict(crf=100), "o.mp4", "outside libx264's range 0..51"),
        (dict(fps=float("inf")), "o.mp4", "between 0.1 and 1000"),
        (dict(fps=1e-9), "o.mp4", "between 0.1 and 1000"),
        (dict(fps=0), "o.mp4", "between 0.1 and 1000"),
    ]
    for options, name, message in cases:
        start = time.time()
        with pytest.raises(fregan.InvalidArgument, match=message):
            fregan.interpolate(src, tmp_path / name, weights=tiny_checkpoint, **options)
        assert time.time() - start < 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seq"]  # nothing left behind
    r = run_cli("interpolate", src, "-o", tmp_path / "o.mp4", "--fps", "0", "--weights", tiny_checkpoint)
    assert r.returncode == 1 and "--fps must be a positive frame rate" in r.stderr


def test_the_codec_is_picked_for_the_container(tiny_checkpoint, ffmpeg, tmp_path):
    from conftest import probe
    src = _frames(tmp_path / "seq", n=3)
    for name, codec in (("o.webm", "vp9"), ("o.gif", "gif"), ("o.mkv", "h264")):
        r = fregan.interpolate(src, tmp_path / name, weights=tiny_checkpoint)
        assert r["output_frames"] == 6
        assert probe(tmp_path / name)["streams"][0].get("codec_name", codec) in (codec,)


def test_a_colon_in_file_names_works(tiny_checkpoint, ffmpeg, tmp_path):
    from conftest import make_video
    src = _frames(tmp_path / "seq", n=4)
    video = make_video(ffmpeg, src, tmp_path / "2024-01-01T12:30.mp4", fps=10)
    out = tmp_path / "out 12:30.mp4"
    r = fregan.interpolate(video, out, weights=tiny_checkpoint)
    assert r["output_frames"] == 8 and out.stat().st_size > 0


# --- 6. the Python API refuses garbage --------------------------------------------------------

def test_uint8_tensors_are_0_to_255_and_bad_floats_are_refused(tiny_checkpoint):
    interp = fregan.Interpolator(tiny_checkpoint, "cpu")
    a = torch.from_numpy(moving_square(64, 48, 4)).permute(2, 0, 1).contiguous()
    b = torch.from_numpy(moving_square(64, 48, 12)).permute(2, 0, 1).contiguous()
    out = interp(a, b)
    assert out.dtype == torch.uint8 and out.shape == (3, 48, 64)
    as_float = interp(a.float() / 255, b.float() / 255)
    assert (out.int() - (as_float * 255).round().int()).abs().max() <= 1
    assert 40 < float(out.float().mean()) < 200  # not an all-white frame
    with pytest.raises(fregan.InvalidArgument, match=r"must be in \[0, 1\], got values from 30 to 250"):
        interp(a.float(), b.float())
    nan = a.float() / 255
    nan[0, 0, 0] = float("nan")
    with pytest.raises(fregan.InvalidArgument, match="NaN"):
        interp(nan, b.float() / 255)


def test_each_mistake_gives_one_exception_type_naming_what_was_given(tiny_checkpoint):
    interp = fregan.Interpolator(tiny_checkpoint, "cpu")
    img = moving_square(64, 48, 4)
    cases = [
        (lambda: interp(img.transpose(2, 0, 1).copy(), img.transpose(2, 0, 1).copy()), r"got shape \(3, 48, 64\).*channels-first"),
        (lambda: interp(np.dstack([img, img[..., :2]]), np.dstack([img, img[..., :2]])), r"got shape \(48, 64, 5\)"),
        (lambda: interp(img.astype(np.float32), img.astype(np.float32)), r"uint8 or uint16 image, got dtype float32"),
        (lambda: fregan.flow_warp(np.dstack([img, img[..., :1]]), img), r"flow_warp takes HxWx3.*\(48, 64, 4\)"),
        (lambda: interp(img[None], img[None]), r"got shape \(1, 48, 64, 3\)"),
        (lambda: interp(torch.zeros(2, 48, 64), torch.zeros(2, 48, 64)), r"\[3, H, W\].*got shape \[2, 48, 64\]"),
        (lambda: interp(img[:4, :4], img[:4, :4]), "at least 8x8"),
        (lambda: interp(img, img, t="0.5"), r"t must be a number in \(0, 1\), got '0.5' \(str\)"),
        (lambda: fregan.flow_warp(img, img, t=5), r"t must be in \(0, 1\)"),
        (lambda: fregan.interpolate("in.mp4", "out.mp4", factor=2.5), "factor must be a whole number"),
        (lambda: fregan.metrics.psnr(img[..., :2], img[..., :2]), r"got shape \(48, 64, 2\)"),
    ]
    for call, message in cases:
        with pytest.raises(fregan.InvalidArgument, match=message):
            call()


# --- 7, 11, 12: Ctrl-C, messages, CLI ---------------------------------------------------------

def _long_clip(tmp_path: Path) -> Path:
    return _frames(tmp_path / "long", n=60, w=96, h=64)


def test_ctrl_c_stops_the_cli_with_130_keeping_finished_parts(tiny_checkpoint, ffmpeg, tmp_path):
    src = _long_clip(tmp_path)
    out = tmp_path / "out.mp4"
    args = [sys.executable, "-m", "fregan", "interpolate", str(src), "-o", str(out), "--weights", str(tiny_checkpoint),
            "--segment-seconds", "0.4", "-q", "--threads", "1", "--factor", "4"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    work = Path(str(out) + ".fregan-job")
    deadline = time.time() + 120
    while time.time() < deadline and not list(work.glob("part_*[0-9].mkv")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: run the same command again" in err
    assert not out.exists() and list(work.glob("part_*[0-9].mkv"))
    r = subprocess.run(args, capture_output=True, text=True)
    assert r.returncode == 0 and "resumed" in r.stderr


def test_ctrl_c_stops_a_python_video_job_without_a_callback_within_a_second(tiny_checkpoint, tmp_path):
    src = _long_clip(tmp_path)
    code = ("import fregan, sys\n"
            "try:\n"
            f"    fregan.interpolate({str(src)!r}, {str(tmp_path / 'out')!r}, weights={str(tiny_checkpoint)!r}, factor=8)\n"
            "except KeyboardInterrupt:\n"
            "    print('stopped', flush=True); sys.exit(3)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    work = tmp_path / "out.fregan-job"
    deadline = time.time() + 120
    while time.time() < deadline and not (work / "job.json").exists():
        time.sleep(0.02)
    time.sleep(0.5)
    start = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "stopped" in out, err
    assert time.time() - start < 3


def test_bad_files_get_one_line_naming_them(tiny_checkpoint, tmp_path):
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "random.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    for name in ("zero.mp4", "random.mp4"):
        r = run_cli("interpolate", tmp_path / name, "-o", tmp_path / "o.mp4", "--weights", tiny_checkpoint, "-q")
        assert r.returncode == 1
        assert r.stderr.strip().splitlines() == [f"fregan: error: cannot decode '{tmp_path / name}' as a video "
                                                 "(unknown format or corrupt file)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["random.mp4", "zero.mp4"]


def test_help_names_the_command_and_interpolate_takes_threads():
    r = run_cli("interpolate", "--help")
    assert r.returncode == 0
    assert "Usage: fregan interpolate" in r.stdout
    assert "--threads" in r.stdout


def _frame_hashes(path: Path) -> list:
    out = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                         check=True, capture_output=True, text=True).stdout
    return [line.split(",")[-1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def test_kills_at_random_points_end_frame_identical_or_not_at_all(tiny_checkpoint, ffmpeg, tmp_path):
    """Fault injection: SIGKILL at a random moment (3 seeds), then the same command again: the output
    is either absent (killed) or frame-identical to a clean run, never a wrong file."""
    import random
    src = _frames(tmp_path / "seq", n=30, w=96, h=64)
    clean = tmp_path / "clean.mp4"
    common = ["interpolate", str(src), "--weights", str(tiny_checkpoint), "--segment-seconds", "0.4", "-q",
              "--threads", "1"]
    started = time.time()
    assert run_cli(*common, "-o", clean).returncode == 0
    clean_seconds = time.time() - started
    expected = _frame_hashes(clean)
    for seed in range(3):
        out = tmp_path / f"out{seed}.mp4"
        proc = subprocess.Popen([sys.executable, "-m", "fregan", *common, "-o", str(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(random.Random(seed).uniform(0.2, 1.0) * clean_seconds)
        proc.kill()
        proc.wait()
        if out.exists():  # it finished before the kill
            assert _frame_hashes(out) == expected
        r = run_cli(*common, "-o", out, "--overwrite")
        assert r.returncode == 0, r.stderr
        assert _frame_hashes(out) == expected, f"seed {seed}"
        assert not Path(str(out) + ".fregan-job").exists()


def test_tiny_and_rgb_videos(tiny_checkpoint, ffmpeg, tmp_path):
    for size, name in (("3x5", "tiny.mkv"), ("64x48", "rgb.mkv")):
        subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=10", "-t", "0.5",
                        "-c:v", "ffv1", "-pix_fmt", "bgr0", str(tmp_path / name)], check=True)
    r = run_cli("interpolate", tmp_path / "tiny.mkv", "-o", tmp_path / "o.mp4", "--weights", tiny_checkpoint, "-q")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"fregan: error: '{tmp_path / 'tiny.mkv'}' is 3x5 (WxH): fregan needs "
                                             "frames of at least 8x8 pixels"]
    # An RGB source (colour matrix "gbr") encodes to YUV.
    r = run_cli("interpolate", tmp_path / "rgb.mkv", "-o", tmp_path / "rgb.mp4", "--weights", tiny_checkpoint, "-q")
    assert r.returncode == 0, r.stderr


def test_a_rerun_with_other_options_says_it_starts_over(tiny_checkpoint, tmp_path, capfd):
    src = _frames(tmp_path / "seq", n=12)
    out = tmp_path / "out"
    seen = []

    def stop_after_a_part(p):
        seen.append(p["input_frames_done"])
        return p["input_frames_done"] < 6

    r = fregan.interpolate(src, out, weights=tiny_checkpoint, input_fps=4, segment_seconds=1, progress=stop_after_a_part)
    assert not r["completed"] and (Path(str(out) + ".fregan-job") / "job.json").exists()
    capfd.readouterr()
    r = fregan.interpolate(src, out, weights=tiny_checkpoint, input_fps=4, segment_seconds=1, factor=4)
    assert r["completed"] and r["resumed_segments"] == 0 and r["output_frames"] == 48
    assert "used other options or another input: starting over" in capfd.readouterr().err
