"""What goes in comes out (issue 18): rotation, range, held frames and timing of crafted inputs."""
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import fregan
from conftest import moving_square, probe, run_cli, square_centre_x


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *map(str, args)], check=True)


def _frames(path: Path, pix_fmt: str = "rgb24") -> np.ndarray:
    """Every frame of a video as ffmpeg decodes it (rotation applied), [N, H, W, C]."""
    info = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                      "stream=width,height:stream_side_data=rotation", "-of", "json", str(path)],
                                     check=True, capture_output=True, text=True).stdout)["streams"][0]
    w, h = info["width"], info["height"]
    if any(abs(int(sd.get("rotation", 0))) % 180 == 90 for sd in info.get("side_data_list", [])):
        w, h = h, w
    raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", pix_fmt,
                          "-vsync", "passthrough", "-"], check=True, capture_output=True).stdout
    channels = {"rgb24": 3, "gray": 1}[pix_fmt]
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, channels)


def _stream(path: Path) -> dict:
    return json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                                      "stream=pix_fmt,color_range,width,height", "-of", "json", str(path)],
                                     check=True, capture_output=True, text=True).stdout)["streams"][0]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def asymmetric_clip(ffmpeg, tmp_path_factory) -> Path:
    """A 96x64 clip whose every quarter turn and flip looks different (a bar on the left, a block top right)."""
    out = tmp_path_factory.mktemp("rot") / "src.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=96x64:r=10:d=0.6", "-vf",
            "drawbox=x=0:y=0:w=12:h=64:color=white:t=fill,drawbox=x=70:y=4:w=20:h=14:color=red:t=fill",
            "-c:v", "libx264", "-crf", "8", "-pix_fmt", "yuv420p", out)
    return out


@pytest.mark.parametrize("rotate", [90, 270, 180])
def test_a_rotated_video_comes_out_as_ffmpeg_shows_it(tiny_checkpoint, asymmetric_clip, tmp_path, rotate):
    src = tmp_path / f"rot{rotate}.mp4"
    _ffmpeg("-i", asymmetric_clip, "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", src)
    out = tmp_path / "out.mp4"
    r = fregan.interpolate(src, out, weights=tiny_checkpoint)
    expected = _frames(src)
    assert (r["width"], r["height"]) == (expected.shape[2], expected.shape[1])
    got = _frames(out)
    assert got.shape[1:] == expected.shape[1:]
    assert _psnr(got[0], expected[0]) > 30  # the wrong orientation scores about 10 dB (x264 at CRF 18: 35)
    assert _psnr(got[-2], expected[-1]) > 30


def test_full_range_stays_full_and_limited_stays_limited(tiny_checkpoint, ffmpeg, tmp_path):
    # Black, white and a mid grey patch: full range keeps 0 and 255, limited keeps 16 and 235.
    pattern = ("color=black:s=96x64:r=10:d=0.5,drawbox=x=48:y=0:w=48:h=64:color=white:t=fill,"
               "drawbox=x=20:y=20:w=16:h=16:color=gray:t=fill,format=gray")
    cases = {"pc": ("yuvj420p", (0, 255)), "tv": ("yuv420p", (16, 235))}
    for tag, (pix_fmt, (low, high)) in cases.items():
        src = tmp_path / f"{tag}.mp4"
        _ffmpeg("-f", "lavfi", "-i", pattern, "-vf", f"scale=out_range={'full' if tag == 'pc' else 'limited'}",
                "-pix_fmt", pix_fmt, "-color_range", tag, "-c:v", "libx264", "-crf", "0", src)
        out = tmp_path / f"out_{tag}.mp4"
        fregan.interpolate(src, out, weights=tiny_checkpoint)
        assert _stream(out).get("color_range", "unknown") in ({"pc"} if tag == "pc" else {"tv", "unknown"})
        # The luma plane itself: what a player maps to black and white by the tag.
        luma = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(out), "-frames:v", "1", "-f", "rawvideo",
                               "-vf", "extractplanes=y", "-"], check=True, capture_output=True).stdout
        y = np.frombuffer(luma, np.uint8).reshape(64, 96)
        assert abs(int(y[40, 5]) - low) <= 1 and abs(int(y[40, 90]) - high) <= 1, (tag, y[40, 5], y[40, 90])


def _write_frames(folder: Path, xs, new_noise: bool = False) -> Path:
    """PNG frames 000.png, ... of moving_square with its left edge at each x (and new noise in each)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, x in enumerate(xs):
        fregan.write_image(folder / f"{i:03d}.png", moving_square(160, 64, int(x), seed=i if new_noise else 7))
    return folder


def test_held_frames_are_removed_and_the_motion_is_smooth(flow_checkpoint, ffmpeg, tmp_path):
    # Drawn "on twos": 10 drawings 6 px apart, each shown for 2 frames, re-encoded at CRF 23 so the
    # repeats are not identical.
    frames = _write_frames(tmp_path / "twos", [8 + 6 * (i // 2) for i in range(20)])
    src = tmp_path / "twos.mp4"
    _ffmpeg("-framerate", "25", "-i", frames / "%03d.png", "-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p", src)
    out = tmp_path / "out.mp4"
    r = fregan.interpolate(src, out, weights=flow_checkpoint)  # dedup="auto": half the pairs are held
    assert r["duplicates_removed"] == 10 and r["output_frames"] == 40
    xs = [square_centre_x(f) for f in _frames(out)]
    assert len(xs) == 40
    # Output frame k shows time k / 50 s: drawing k / 4, its square's centre at 16 + 6 k / 4, up to
    # the last drawing (frame 36), which is then held to the end as the input holds it.
    for k in range(37):
        assert xs[k] == pytest.approx(16 + 1.5 * k, abs=1.0), (k, xs[:k + 1])
    assert min(np.diff(xs[:37])) > 0.5  # no repeated frame left
    kept = fregan.interpolate(src, tmp_path / "kept.mp4", weights=flow_checkpoint, dedup="off")
    assert kept["duplicates_removed"] == 0
    still = np.abs(np.diff([square_centre_x(f) for f in _frames(tmp_path / "kept.mp4")][:36]))
    assert (still < 0.3).sum() >= 8  # without dedup the stutter stays: a still frame pair per drawing


def test_dedup_auto_leaves_a_smoothly_moving_clip_alone_and_bad_values_are_refused(flow_checkpoint, ffmpeg, tmp_path):
    frames = _write_frames(tmp_path / "smooth", [8 + 3 * i for i in range(12)])
    r = fregan.interpolate(frames, tmp_path / "out", weights=flow_checkpoint)
    assert r["duplicates_removed"] == 0 and r["output_frames"] == 24
    with pytest.raises(fregan.InvalidArgument, match="dedup must be"):
        fregan.interpolate(frames, tmp_path / "o2", weights=flow_checkpoint, dedup="yes")


def test_a_variable_frame_rate_input_gives_each_frame_its_true_time(flow_checkpoint, ffmpeg, tmp_path):
    # 2 s of a square moving 1 px per 1/50 s, kept at 25 fps for the first second and 50 fps for
    # the second (timestamps kept as they are), with 2 s of audio.
    frames = _write_frames(tmp_path / "f50", [8 + i for i in range(100)])
    src = tmp_path / "vfr.mp4"
    _ffmpeg("-framerate", "50", "-i", frames / "%03d.png", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
            "-vf", "select='if(lt(n,50),not(mod(n,2)),1)'", "-vsync", "vfr", "-c:v", "libx264", "-crf", "10",
            "-pix_fmt", "yuv420p", "-c:a", "aac", src)
    r = fregan.interpolate(src, tmp_path / "out.mp4", fps=50, weights=flow_checkpoint)
    assert r["input_frames"] == 75 and r["output_frames"] == 100 and r["audio_kept"]
    xs = [square_centre_x(f) for f in _frames(tmp_path / "out.mp4")]
    assert len(xs) == 100
    for k in range(100):  # frame k at k / 50 s: the square's centre at 16 + k
        assert xs[k] == pytest.approx(16 + k, abs=1.0), (k, xs[max(0, k - 3):k + 3])
    streams = {s["codec_type"]: s for s in probe(tmp_path / "out.mp4")["streams"]}
    assert float(streams["video"]["duration"]) == pytest.approx(2.0, abs=0.03)
    assert float(streams["audio"]["duration"]) == pytest.approx(2.0, abs=0.05)


def test_a_constant_rate_b_frame_mp4_longer_than_the_first_packets_is_constant(tiny_checkpoint, ffmpeg, tmp_path):
    # x264's B-frames: the first 120 packets in decode order miss pictures shown between their last
    # ones.  Those gaps made every such clip "variable", and a middle-frame model refused it.
    frames = _write_frames(tmp_path / "f", [8 + (i % 100) for i in range(150)])
    src = tmp_path / "cfr.mp4"
    _ffmpeg("-framerate", "25", "-i", frames / "%03d.png", "-c:v", "libx264", "-bf", "3", "-pix_fmt", "yuv420p", src)
    r = fregan.interpolate(src, tmp_path / "out.mp4", weights=tiny_checkpoint)  # FREGAN: refuses a variable rate
    assert r["input_frames"] == 150 and r["output_frames"] == 300 and r["output_fps"] == 50


def test_a_rate_that_changes_after_the_first_packets_is_found(flow_checkpoint, ffmpeg, tmp_path):
    # 6 s at 25 fps (150 frames, more than the 120 packets read first), then 0.5 s at 50 fps: a
    # square moving 1 px per 1/50 s throughout.  Judged by the first packets alone it is a 25 fps
    # clip of 175 frames (7 s); its header's frame count and duration disagree, so every timestamp
    # is read.
    frames = _write_frames(tmp_path / "f50", [(i * 2 if i < 150 else 300 + (i - 150)) % 140 for i in range(175)])
    src = tmp_path / "late_vfr.mp4"
    stamps = tmp_path / "stamps.txt"
    stamps.write_text("".join(f"file '{frames / f'{i:03d}.png'}'\nduration {0.04 if i < 150 else 0.02}\n"
                              for i in range(175)))
    _ffmpeg("-f", "concat", "-safe", "0", "-i", stamps, "-vsync", "vfr", "-r", "50", "-c:v", "libx264", "-crf", "10",
            "-pix_fmt", "yuv420p", src)
    r = fregan.interpolate(src, tmp_path / "out.mp4", fps=50, weights=flow_checkpoint)
    assert r["input_frames"] == 175
    assert r["output_frames"] == pytest.approx(326, abs=2)  # 6.5 s at 50 fps (read as 25 fps throughout: 350)
    streams = {s["codec_type"]: s for s in probe(tmp_path / "out.mp4")["streams"]}
    assert float(streams["video"]["duration"]) == pytest.approx(6.52, abs=0.05)


def test_a_truncated_mp4_is_not_called_variable_frame_rate(tiny_checkpoint, ffmpeg, tmp_path, capfd):
    frames = _write_frames(tmp_path / "f", [8 + 2 * i for i in range(40)], new_noise=True)  # frames of like size
    whole = tmp_path / "whole.mp4"
    _ffmpeg("-framerate", "25", "-i", frames / "%03d.png", "-c:v", "libx264", "-crf", "8", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", whole)
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    r = fregan.interpolate(cut, tmp_path / "out.mp4", weights=tiny_checkpoint)
    assert 10 <= r["input_frames"] < 40 and r["output_frames"] == 2 * r["input_frames"]
    assert r["input_fps"] == pytest.approx(25)
    assert "cut short" in capfd.readouterr().err


def _levels(path: Path, pix_fmt: str, frame: int = 0) -> np.ndarray:
    """One frame as 16-bit samples (gray10le: the luma plane's 10-bit codes; rgb48le: 16-bit RGB)."""
    raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-vf", f"select=eq(n\\,{frame})",
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"], check=True,
                         capture_output=True).stdout
    return np.frombuffer(raw, "<u2")


def _ramp16(path_pattern: Path, width: int, height: int, frames: int, *args: str) -> None:
    """A 16-bit grey ramp, left black to right white, encoded by ffmpeg with `args`."""
    ramp = np.repeat(np.linspace(0, 65535, width).round().astype("<u2")[None, :, None], 3, axis=2)
    raw = np.ascontiguousarray(np.broadcast_to(ramp, (height, width, 3))).tobytes() * frames
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb48le", "-s",
                    f"{width}x{height}", "-r", "10", "-i", "-", *args, str(path_pattern)], input=raw, check=True)


HDR10 = ("hdr10=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:log-level=error:"
         "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400")


def test_ten_bit_hdr10_is_written_at_ten_bits_with_its_metadata(flow_checkpoint, ffmpeg, tmp_path):
    # A smooth 10-bit ramp: 256 px wide, about 3.4 codes per pixel, so 8 bits would leave at most 220.
    src = tmp_path / "hdr.mkv"
    _ramp16(src, 256, 64, 4, "-c:v", "libx265", "-x265-params", f"crf=4:{HDR10}", "-pix_fmt", "yuv420p10le",
            "-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc")
    assert len(np.unique(_levels(src, "gray10le").reshape(64, 256)[32])) > 240
    out = tmp_path / "out.mkv"
    fregan.interpolate(src, out, weights=flow_checkpoint, codec="libx265", crf=4, dedup="off")
    def ffprobe(*what: str) -> dict:
        return json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
                                          *what, "-of", "json", str(out)], check=True, capture_output=True, text=True).stdout)
    stream = ffprobe("-show_entries", "stream=pix_fmt,color_transfer,color_primaries")["streams"][0]
    assert (stream["pix_fmt"], stream["color_transfer"], stream["color_primaries"]) == ("yuv420p10le", "smpte2084", "bt2020")
    side = {sd.get("side_data_type"): sd for sd in ffprobe("-show_frames")["frames"][0].get("side_data_list", [])}
    assert side["Mastering display metadata"]["max_luminance"] == "10000000/10000"
    assert side["Content light level metadata"]["max_content"] == 1000
    for frame in (0, 1):  # an input frame and an interpolated one keep the ramp's levels
        assert len(np.unique(_levels(out, "gray10le", frame).reshape(64, 256)[32])) > 240


def test_sixteen_bit_png_frames_stay_sixteen_bit(flow_checkpoint, ffmpeg, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    _ramp16(frames / "%03d.png", 512, 32, 3, "-pix_fmt", "rgb48be")
    out = tmp_path / "out"
    r = fregan.interpolate(frames, out, weights=flow_checkpoint, dedup="off")
    assert r["output_frames"] == 6
    for png in sorted(out.glob("frame_*.png"))[:2]:  # an input frame and an interpolated one
        assert subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=pix_fmt", "-of", "csv=p=0", str(png)],
                              check=True, capture_output=True, text=True).stdout.strip() in ("rgb48be", "rgba64be")
        row = _levels(png, "rgb48le").reshape(32, 512, 3)[16, :, 1]
        assert len(np.unique(row)) > 400  # 8 bits would leave 256


def _write_rgba(path: Path, rgb: np.ndarray, alpha: np.ndarray) -> None:
    rgba = np.concatenate([rgb, alpha[..., None]], axis=2).astype(np.uint8)
    h, w = alpha.shape
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{w}x{h}", "-i", "-",
                    str(path)], input=rgba.tobytes(), check=True)


def _rgba(path: Path) -> np.ndarray:
    info = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=width,height,pix_fmt", "-of", "csv=p=0",
                           str(path)], check=True, capture_output=True, text=True).stdout.strip().split(",")
    assert info[2] in ("rgba", "rgba64be"), info
    raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgba", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(int(info[1]), int(info[0]), 4)


def test_alpha_is_interpolated_and_written_in_frame_folders_and_image_pairs(flow_checkpoint, ffmpeg, tmp_path):
    # A moving square over a background whose opacity goes from 60 to 200 and back; the square opaque.
    frames = tmp_path / "rgba"
    frames.mkdir()
    opacity = [60, 200, 60, 200]
    for i, level in enumerate(opacity):
        rgb = moving_square(96, 64, 8 + 4 * i)
        alpha = np.full((64, 96), level, np.uint8)
        alpha[24:40, 8 + 4 * i: 24 + 4 * i] = 255
        _write_rgba(frames / f"{i:03d}.png", rgb, alpha)
    out = tmp_path / "out"
    r = fregan.interpolate(frames, out, weights=flow_checkpoint, dedup="off")
    assert r["output_frames"] == 8
    written = [_rgba(p) for p in sorted(out.glob("frame_*.png"))]
    assert [int(f[2, 90, 3]) for f in written[:7]] == [60, 130, 200, 130, 60, 130, 200]
    assert written[1][32, 60, 3] == 130 and written[2][32, 20, 3] == 255  # an input frame's own alpha, exactly
    # An image pair on the command line: the same blend.
    mid = tmp_path / "mid.png"
    res = run_cli("interpolate", frames / "000.png", frames / "001.png", "-o", mid, "--weights", flow_checkpoint)
    assert res.returncode == 0, res.stderr
    assert int(_rgba(mid)[2, 90, 3]) == 130
    # Video outputs whose container holds alpha keep it (the codec chosen by the container);
    # one that cannot (.mp4) is written without it.
    for name, pix_fmt in (("out.mkv", "bgra"), ("out.mov", "yuva444p12le"), ("out.mp4", "yuv420p")):
        video = tmp_path / name
        r = fregan.interpolate(frames, video, weights=flow_checkpoint, dedup="off", input_fps=10)
        assert r["output_frames"] == 8
        stream = _stream(video)
        assert stream["pix_fmt"] == pix_fmt, (name, stream)
        if name == "out.mp4":
            continue
        raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "rgba", "-"],
                             check=True, capture_output=True).stdout
        decoded = np.frombuffer(raw, np.uint8).reshape(-1, 64, 96, 4)
        assert len(decoded) == 8
        alphas = np.array([int(f[2, 90, 3]) for f in decoded[:5]])
        tolerance = 0 if name == "out.mkv" else 1  # FFV1 keeps BGRA exactly; ProRes's 10-bit alpha rounds
        assert np.abs(alphas - [60, 130, 200, 130, 60]).max() <= tolerance, (name, alphas)


def test_a_sprite_on_a_transparent_background_moves_with_its_alpha(flow_checkpoint, tmp_path):
    # An opaque square on a transparent background, 12 px per frame: the video job moves its alpha
    # with the colour (one opaque square at t), where a blend at t would leave two half-opaque copies.
    frames = tmp_path / "sprite"
    frames.mkdir()
    for i in range(4):
        alpha = np.zeros((64, 96), np.uint8)
        alpha[24:40, 20 + 12 * i: 36 + 12 * i] = 255
        _write_rgba(frames / f"{i:03d}.png", moving_square(96, 64, 20 + 12 * i), alpha)
    out = tmp_path / "out"
    fregan.interpolate(frames, out, weights=flow_checkpoint, dedup="off")
    mid = _rgba(sorted(out.glob("frame_*.png"))[1])  # t = 0.5 between frames 0 and 1
    assert abs(square_centre_x(mid[..., :3]) - 33.5) < 1  # the colour's square at t (the premise)
    alpha = mid[..., 3].astype(float)
    xs = np.arange(96)[None, :]
    assert abs((alpha * xs).sum() / alpha.sum() - 33.5) < 1  # the alpha's centre is the colour's
    assert abs(alpha.sum() / 255 - 16 * 16) < 32  # one square's opacity, not two halves of two
    assert alpha[26:38, 20:24].mean() < 30 and alpha[26:38, 44:48].mean() < 30  # the blend: 127


def test_the_array_api_keeps_sixteen_bits_and_alpha(tmp_path):
    interp = fregan.Interpolator(device="cpu")  # the shipped default: equal frames give that frame exactly
    # 16 bits: the low byte matters (an 8-bit path would round every value to a multiple of 257).
    rng = np.random.default_rng(0)
    a16 = (moving_square(96, 64, 8).astype(np.uint16) * 257 + rng.integers(0, 200, (64, 96, 3))).astype(np.uint16)
    same = interp(a16, a16)
    assert same.dtype == np.uint16 and same.shape == (64, 96, 3)
    assert np.array_equal(same, a16)  # a pair of equal frames gives that frame, to the last of 16 bits
    b16 = (moving_square(96, 64, 12).astype(np.uint16) * 257).astype(np.uint16)
    mid = interp(a16, b16)
    assert mid.dtype == np.uint16 and np.count_nonzero(mid % 257) > 1000
    # Alpha: through the model with the colour (here still: its blend at t); a frame without alpha is opaque.
    alpha0, alpha1 = np.full((64, 96), 60, np.uint8), np.full((64, 96), 200, np.uint8)
    a4 = np.dstack([moving_square(96, 64, 8), alpha0])
    b4 = np.dstack([moving_square(96, 64, 12), alpha1])
    quarter = interp(a4, b4, 0.25)
    assert quarter.dtype == np.uint8 and quarter.shape == (64, 96, 4)
    assert int(quarter[2, 90, 3]) == 95  # 0.75 * 60 + 0.25 * 200
    assert np.array_equal(quarter[..., :3], interp(a4[..., :3], b4[..., :3], 0.25))
    assert int(interp(a4, b4[..., :3], 0.5)[2, 90, 3]) == 158  # (60 + 255) / 2, rounded
    # 16 bits with alpha through files: written, read back as stored, interpolated from the paths.
    rgba16 = np.dstack([a16, np.full((64, 96), 30000, np.uint16)])
    fregan.write_image(tmp_path / "a.png", rgba16)
    fregan.write_image(tmp_path / "b.png", rgba16)
    back = fregan.read_image(tmp_path / "a.png", as_stored=True)
    assert back.dtype == np.uint16 and np.array_equal(back, rgba16)
    assert fregan.read_image(tmp_path / "a.png").shape == (64, 96, 3)  # the default: 8-bit RGB
    from_files = fregan.interpolate(tmp_path / "a.png", tmp_path / "b.png", device="cpu")
    assert from_files.dtype == np.uint16 and np.array_equal(from_files, rgba16)


def _combing(frame: np.ndarray) -> float:
    """Mean difference of neighbouring rows: of the two fields, for vertical stripes (0 when progressive)."""
    g = frame.astype(float).mean(axis=2)
    return float(np.abs(g[0:-1:2] - g[1::2]).mean())


def test_an_interlaced_video_is_deinterlaced_first(tiny_checkpoint, ffmpeg, tmp_path):
    # Vertical stripes moving 4 px per field, woven top field first into 25i and tagged so.
    x = np.arange(128)
    fields = [np.repeat(np.repeat((128 + 100 * np.sin(2 * np.pi * (x - 4 * i) / 32)).astype(np.uint8)[None, :, None],
                                  96, axis=0), 3, axis=2) for i in range(16)]
    src = tmp_path / "interlaced.mkv"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "128x96", "-r", "50",
                    "-i", "-", "-vf", "tinterlace=mode=interleave_top,setfield=tff", "-c:v", "libx264", "-crf", "12",
                    "-flags", "+ildct+ilme", "-pix_fmt", "yuv420p", str(src)], input=b"".join(f.tobytes() for f in fields),
                   check=True)
    assert _stream_field_order(src) in ("tt", "tb")  # top field first
    woven = _frames(src)[2]
    assert _combing(woven) > 20  # the fields of one frame disagree
    r = fregan.interpolate(src, tmp_path / "out.mp4", weights=tiny_checkpoint)
    assert r["deinterlaced"] and r["input_frames"] == 8 and r["output_frames"] == 16
    out = _frames(tmp_path / "out.mp4")
    assert _combing(out[4]) < 0.25 * _combing(woven) and _combing(out[5]) < 0.25 * _combing(woven)


def test_untagged_interlacing_is_found_by_its_combing(tiny_checkpoint, ffmpeg, tmp_path):
    # The same woven stripes in MJPEG, which carries no field order (old captures often have none):
    # ffmpeg's idet finds the combing; the progressive clip with the same motion is left alone.
    x = np.arange(128)
    fields = [np.repeat(np.repeat((128 + 100 * np.sin(2 * np.pi * (x - 4 * i) / 32)).astype(np.uint8)[None, :, None],
                                  96, axis=0), 3, axis=2) for i in range(48)]
    raw = b"".join(f.tobytes() for f in fields)
    woven_src, progressive_src = tmp_path / "woven.avi", tmp_path / "progressive.avi"
    for path, vf, rate in ((woven_src, "tinterlace=mode=interleave_top,setfield=prog", "50"), (progressive_src, "null", "25")):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "128x96", "-r",
                        rate, "-i", "-", "-vf", vf, "-c:v", "mjpeg", "-q:v", "2", str(path)], input=raw, check=True)
        assert _stream_field_order(path) in ("", "unknown")
    woven = _frames(woven_src)[2]
    assert _combing(woven) > 20
    r = fregan.interpolate(woven_src, tmp_path / "out.mp4", weights=tiny_checkpoint)
    assert r["deinterlaced"] and r["input_frames"] == 24 and r["output_frames"] == 48
    out = _frames(tmp_path / "out.mp4")
    assert _combing(out[10]) < 0.25 * _combing(woven) and _combing(out[11]) < 0.25 * _combing(woven)
    r = fregan.interpolate(progressive_src, tmp_path / "progressive_out.mp4", weights=tiny_checkpoint)
    assert not r["deinterlaced"] and r["input_frames"] == 48


def _stream_field_order(path: Path) -> str:
    return subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=field_order",
                           "-of", "csv=p=0", str(path)], check=True, capture_output=True, text=True).stdout.strip()
