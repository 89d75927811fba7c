#!/usr/bin/env python3
"""Side by side, in one run: PSNR/SSIM of every interpolation method on the real held-out triplets,
and the time each takes per interpolated 1080p frame on this machine.

Methods: frame repeat, frame averaging, FFmpeg's motion-compensated `minterpolate` (mci), plain
DIS flow warping (OpenCV's medium preset, and fregan's "fine" settings), and every shipped fregan model (python/fregan/models/manifest.json).

    .venv/bin/python benchmarks/python/compare_methods.py --out benchmarks/results/compare.json

Quality: the triplets of ../shared/data/videos/foreman_h264.mp4 and ../shared/data/triplets/vimeo90k
(held out from every shipped model's training), full frames, outputs quantised to 8 bits.
Speed: a 2-second 1080p clip made by upscaling ../shared/data/videos/car-turn.mp4 (the data has
no native 1080p footage): seconds per interpolated frame for each method, and the wall time of
doubling the clip with `fregan interpolate` versus `ffmpeg -vf minterpolate`, both encoding H.264 at
CRF 18 with the same x264 preset (medium, the default of both, and veryfast).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import fregan

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
# FFmpeg's best motion-compensated mode.  Scene-change detection is off: on a pair with large
# motion it would otherwise repeat a frame instead of interpolating.
MINTERPOLATE = "minterpolate=fps=2:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none"


def triplets(max_triplets: int):
    """(name, f0, f1, f2) RGB uint8, the same triplets `fregan evaluate` scores."""
    ds = fregan.data.TripletDataset([str(DATA / "videos" / "foreman_h264.mp4"), str(DATA / "triplets" / "vimeo90k")])
    n = len(ds)
    count = min(n, max_triplets) if max_triplets > 0 else n
    for j in range(count):
        t = ds[j * n // count]
        yield t[0], t[1], t[2]


def minterpolate_pair(f0: np.ndarray, f2: np.ndarray, work: Path) -> np.ndarray:
    """The middle frame FFmpeg's minterpolate makes from a 1 fps clip f0, f2, f2, f2 (lossless in and
    out; the filter needs frames after the pair to emit it)."""
    for i, f in enumerate((f0, f2, f2, f2)):
        fregan.write_image(work / f"in{i}.png", f, overwrite=True)
    out = work / "mid%d.png"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-framerate", "1", "-i", str(work / "in%d.png"),
                    "-vf", MINTERPOLATE, "-start_number", "0", str(out)], check=True)
    return fregan.read_image(work / "mid1.png")


def score(pred: np.ndarray, truth: np.ndarray):
    return fregan.metrics.psnr(pred, truth), fregan.metrics.ssim(pred, truth)


def quality(methods, max_triplets: int):
    sums = {name: [0.0, 0.0] for name in methods}
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for f0, f1, f2 in triplets(max_triplets):
            for name, fn in methods.items():
                pred = fn(f0, f2, Path(tmp))
                p, s = score(pred, f1)
                sums[name][0] += p
                sums[name][1] += s
            n += 1
    return {name: {"psnr": v[0] / n, "ssim": v[1] / n} for name, v in sums.items()}, n


def make_1080p_clip(path: Path, seconds: float = 2.0) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(DATA / "videos" / "car-turn.mp4"), "-t", str(seconds),
                    "-vf", "scale=1920:1080:flags=lanczos", "-c:v", "libx264", "-crf", "16", "-an", str(path)], check=True)


def speed(methods, clip: Path, pairs: int):
    """Seconds per interpolated 1080p frame, median over `pairs` consecutive pairs of the clip."""
    ds = fregan.data.TripletDataset([str(clip)])
    frames = [ds[i] for i in range(pairs)]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in methods.items():
            fn(frames[0][0], frames[0][2], Path(tmp))  # warm-up (model load, allocations)
            times = []
            for t in frames:
                start = time.perf_counter()
                fn(t[0], t[2], Path(tmp))
                times.append(time.perf_counter() - start)
            out[name] = float(np.median(times))
    return out


def video_job_times(clip: Path, weights: str, presets, repeats: int):
    """Wall seconds of doubling the clip with `fregan interpolate` and with `ffmpeg -vf minterpolate`,
    both encoding H.264 at CRF 18 with the same x264 preset, for each preset (median of `repeats`)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            def run(argv):
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    subprocess.run(argv, check=True)
                    times.append(time.perf_counter() - start)
                return float(np.median(times))
            # The native tool, as the installed `fregan` command runs it (`python -m fregan` would
            # first spend about a second importing torch).
            fregan_seconds = run([str(Path(fregan.__file__).parent / "bin" / "fregan"), "interpolate", str(clip), "-o", str(Path(tmp) / "fregan.mp4"),
                                  "--weights", weights, "--preset", preset, "--overwrite", "-q"])
            minterpolate_seconds = run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(clip), "-vf",
                                        MINTERPOLATE.replace("fps=2", f"fps={2 * fps_of(clip)}"),
                                        "-c:v", "libx264", "-crf", "18", "-preset", preset, str(Path(tmp) / "mi.mp4")])
            out[preset] = {"fregan_seconds": fregan_seconds, "minterpolate_seconds": minterpolate_seconds,
                           "speedup": minterpolate_seconds / fregan_seconds}
    return out


def fps_of(clip: Path) -> float:
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=r_frame_rate",
                        "-of", "csv=p=0", str(clip)], check=True, capture_output=True, text=True).stdout.strip()
    num, den = r.split("/")
    return float(num) / float(den)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "compare.json")
    p.add_argument("--max-triplets", type=int, default=0, help="0 = all 60")
    p.add_argument("--speed-pairs", type=int, default=5)
    p.add_argument("--models", nargs="*", default=None, help="shipped model names (default: all)")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--presets", nargs="+", default=["medium", "veryfast"], help="x264 presets for the whole-clip job")
    p.add_argument("--job-repeats", type=int, default=3, help="runs of each whole-clip job (median)")
    a = p.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: this benchmark needs the real data")

    manifest = json.loads((ROOT / "python" / "fregan" / "models" / "manifest.json").read_text())
    models = [m for m in manifest["models"] if m.get("task", "interpolation") == "interpolation"
              and (a.models is None or m["name"] in a.models)]
    flow = fregan.Interpolator(next((str(ROOT / "python/fregan/models" / m["file"]) for m in models
                                     if m["model"] == "fregan-flow"), None)) if any(
        m["model"] == "fregan-flow" for m in models) else None
    methods = {
        "repeat": lambda f0, f2, w: f0,
        "average": lambda f0, f2, w: ((f0.astype(np.uint16) + f2 + 1) // 2).astype(np.uint8),
        "minterpolate (mci)": minterpolate_pair,
        "flow warping (DIS)": lambda f0, f2, w: fregan.flow_warp(f0, f2),
        # fregan's tuned DIS settings (flow preset "fine"), still without any network.
        "flow warping (DIS, fine)": lambda f0, f2, w: fregan.flow_warp(f0, f2, preset="fine"),
        # ... and sampled bicubically, as fregan-flow's renderer does: what the net adds beyond both.
        "flow warping (DIS, medium, bicubic)": lambda f0, f2, w: fregan.flow_warp(f0, f2, sampling="bicubic"),
        "flow warping (DIS, fine, bicubic)": lambda f0, f2, w: fregan.flow_warp(f0, f2, preset="fine", sampling="bicubic"),
    }
    for m in models:
        interp = fregan.Interpolator(ROOT / "python" / "fregan" / "models" / m["file"])
        methods[f"{m['name']} ({m['model']})"] = (lambda i: lambda f0, f2, w: i(f0, f2))(interp)

    result = {"triplets": None, "quality": None, "seconds_per_1080p_frame": None, "video_job_1080p": None,
              "machine": f"{os.cpu_count()} CPU cores, torch threads {__import__('torch').get_num_threads()}"}
    result["quality"], result["triplets"] = quality(methods, a.max_triplets)
    if not a.skip_speed:
        with tempfile.TemporaryDirectory() as tmp:
            clip = Path(tmp) / "car-turn-1080p.mp4"
            make_1080p_clip(clip)
            result["seconds_per_1080p_frame"] = speed({k: v for k, v in methods.items() if k not in ("repeat", "average")},
                                                      clip, a.speed_pairs)
            if flow is not None:
                result["video_job_1080p"] = video_job_times(clip, next(
                    str(ROOT / "python/fregan/models" / m["file"]) for m in models if m["model"] == "fregan-flow"),
                    a.presets, a.job_repeats)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'method':32s} {'PSNR':>7s} {'SSIM':>7s} {'s/1080p frame':>14s}")
    for name, q in result["quality"].items():
        s = (result["seconds_per_1080p_frame"] or {}).get(name)
        print(f"{name:32s} {q['psnr']:7.2f} {q['ssim']:7.4f} {('%.3f' % s) if s is not None else '':>14s}")
    for preset, job in (result["video_job_1080p"] or {}).items():
        print(f"doubling a 2 s 1080p clip, x264 {preset}: fregan {job['fregan_seconds']:.1f} s, "
              f"minterpolate {job['minterpolate_seconds']:.1f} s, {job['speedup']:.2f}x")


if __name__ == "__main__":
    main()
