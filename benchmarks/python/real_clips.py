#!/usr/bin/env python3
"""Doubling real footage as people use fregan: half-rate versions of held-out real clips, run
through the video job (`fregan interpolate --factor 2`, the real binary), the interpolated frames
scored against the dropped ones.

The clips are the fixed held-out list benchmarks/heldout_clips.json (never trained or tuned on)
and Vid4 calendar + walk.  Each clip is decoded (the first --max-frames frames, area-downscaled to
at most --max-side pixels on the longer side), its even frames written as lossless PNGs (the
half-rate clip, at half the frame rate) and doubled into PNG frames by the job; output frame k is
then source frame k, and the odd ones are scored (PSNR over RGB, SSIM) against the source.

Methods, all through the same job with the same flow settings (DIS `fine`, bicubic sampling):
- "default": the shipped fregan-flow as the job runs it (four-frame flows where neighbours exist);
- "two-frame": the same model with --two-frame (each pair alone);
- "warping": plain two-frame flow warping, i.e. an untrained fregan-flow (zero head) with the
  shipped model's flow settings, from a checkpoint this script writes;
- "four-frame warping": the same untrained model with its four-frame flows;
- "candidate" (--candidate WEIGHTS): a trained fregan-flow as the job would run it if it shipped;
  what it adds over the default is reported per clip and on the means.

    .venv/bin/python benchmarks/python/real_clips.py --out benchmarks/results/real_clips.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import fregan

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def probe(path: Path):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,r_frame_rate", "-of", "csv=p=0", str(path)],
                         check=True, capture_output=True, text=True).stdout.strip().split(",")
    num, den = out[2].split("/")
    return int(out[0]), int(out[1]), float(num) / float(den)


def decode_clip(path: Path, max_side: int, max_frames: int):
    """RGB uint8 frames (downscaled to max_side, even sizes) and the clip's rate."""
    w, h, fps = probe(path)
    s = min(1.0, max_side / max(w, h))
    ow, oh = int(round(w * s / 2)) * 2, int(round(h * s / 2)) * 2
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"scale={ow}:{oh}:flags=area",
                          "-frames:v", str(max_frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, oh, ow, 3), fps


def decode_folder(folder: Path, max_side: int, max_frames: int):
    files = sorted(folder.glob("*.png"), key=lambda p: int("".join(c for c in p.stem if c.isdigit()) or 0))[:max_frames]
    frames = []
    for f in files:
        img = fregan.read_image(f)
        h, w = img.shape[:2]
        if max(h, w) > max_side:  # Vid4 frames are 720 px wide at most: kept as they are by default
            raise SystemExit(f"{folder}: frames larger than --max-side are not supported")
        frames.append(img)
    return np.stack(frames), 25.0


def warping_checkpoint(path: Path) -> None:
    """An untrained fregan-flow (its zero head: plain flow warping) with the shipped model's options:
    one training step at learning rate 1e-30 (the smallest step the trainer allows: the head stays zero
    to float precision) on a few frames of a clip that is not held out."""
    options = fregan.checkpoint_info(fregan.default_weights())["generator_options"]
    subprocess.run([str(fregan_binary()), "train", "--model", "fregan-flow", "--data", str(DATA / "videos" / "tree.avi"),
                    "--out", str(path), "--steps", "1", "--lr-g", "1e-30", "--lr-d", "1e-30", "--batch-size", "1", "--crop", "64",
                    "--max-frames", "8", "--val-triplets", "1", "--generator-options", json.dumps(options), "--overwrite"],
                   check=True, capture_output=True)


def write_half_rate(frames: np.ndarray, half: Path) -> None:
    """The even frames as lossless PNGs 000000.png, ... in `half` (emptied first): the half-rate clip."""
    half.mkdir(exist_ok=True)
    for f in half.glob("*.png"):
        f.unlink()
    for i in range(0, len(frames), 2):
        fregan.write_image(half / f"{i // 2:06d}.png", frames[i])


def fregan_binary() -> Path:
    """The installed `fregan` (or $FREGAN_BINARY, e.g. a build tree's)."""
    return Path(os.environ.get("FREGAN_BINARY") or Path(fregan.__file__).parent / "bin" / "fregan")


def run_job(half: Path, out: Path, fps: float, weights: str, extra) -> float:
    start = time.perf_counter()
    subprocess.run([str(fregan_binary()), "interpolate", str(half), "-o", str(out), "--factor", "2", "--input-fps",
                    str(fps), "--weights", weights, "--overwrite", "-q", *extra], check=True)
    return time.perf_counter() - start


def score(out: Path, frames: np.ndarray):
    files = sorted(out.glob("*.png"))
    psnrs, ssims = [], []
    for k in range(1, len(frames) - 1, 2):  # the dropped (odd) frames between two kept ones
        pred = fregan.read_image(files[k])
        psnrs.append(fregan.metrics.psnr(pred, frames[k]))
        ssims.append(fregan.metrics.ssim(pred, frames[k]))
    return float(np.mean(psnrs)), float(np.mean(ssims)), len(psnrs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--max-frames", type=int, default=161, help="source frames per clip (odd: ends on a kept frame)")
    ap.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of the jobs")
    ap.add_argument("--clips", nargs="*", help="only these held-out clips (default: all)")
    ap.add_argument("--vid4-only", action="store_true", help="only Vid4 calendar + walk")
    ap.add_argument("--methods", nargs="+", default=["warping", "four-frame warping", "default"],
                    help="of: warping, four-frame warping, two-frame, default")
    ap.add_argument("--candidate", help="a checkpoint to score as the method \"candidate\" (a trained fregan-flow "
                                        "before it may ship: it must beat the default, four-frame warping)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    held = json.loads((ROOT / "benchmarks" / "heldout_clips.json").read_text())
    sources = [(c["file"], c["kind"], DATA / "clips" / c["file"]) for c in held["clips"]
               if not args.clips or c["file"] in args.clips]
    if args.vid4_only:
        sources = []
    if not args.clips:
        sources += [(f"vid4/{s}", "Vid4", DATA / "vsr" / "vid4" / s) for s in held["vid4"]["sequences"]]
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        warping = tmp / "warping"
        warping_checkpoint(warping)
        methods = {"default": (fregan.default_weights(), []), "two-frame": (fregan.default_weights(), ["--two-frame"]),
                   "warping": (str(warping / "last.pt"), ["--two-frame"]), "four-frame warping": (str(warping / "last.pt"), [])}
        if args.candidate:
            methods["candidate"] = (args.candidate, [])
            args.methods = [m for m in args.methods if m != "candidate"] + ["candidate"]
        methods = {m: methods[m] for m in args.methods}
        for name, kind, path in sources:
            frames, fps = decode_folder(path, args.max_side, args.max_frames) if path.is_dir() else \
                decode_clip(path, args.max_side, args.max_frames)
            if len(frames) % 2 == 0:
                frames = frames[:-1]  # end on a kept frame: every dropped frame has two kept neighbours
            half = tmp / "half"
            write_half_rate(frames, half)
            row = {"kind": kind, "size": [int(frames.shape[2]), int(frames.shape[1])], "source_frames": int(len(frames))}
            for method, (weights, extra) in methods.items():
                out = tmp / "out"
                seconds = run_job(half, out, fps / 2, weights, extra)
                p, s, n = score(out, frames)
                row[method] = {"psnr": p, "ssim": s, "seconds": seconds}
                row["scored_frames"] = n
            row["gain_db"] = row["default"]["psnr"] - row["warping"]["psnr"]
            if "candidate" in row:
                row["candidate_gain_db"] = row["candidate"]["psnr"] - row["default"]["psnr"]
            results[name] = row
            print(f"{name:36s} {kind:32s} " + "  ".join(f"{m} {row[m]['psnr']:.2f}" for m in methods) +
                  f"  ({row['gain_db']:+.2f} dB, {n} frames)", flush=True)
    clips = [n for n in results if not n.startswith("vid4/")]
    vid4 = [n for n in results if n.startswith("vid4/")]
    summary = {}
    for label, names in (("held-out clips", clips), ("vid4 calendar+walk", vid4)):
        if not names:
            continue
        summary[label] = {m: float(np.mean([results[n][m]["psnr"] for n in names])) for m in args.methods}
        summary[label]["gain_db"] = summary[label]["default"] - summary[label]["warping"]
        summary[label]["worst_clip_gain_db"] = float(min(results[n]["gain_db"] for n in names))
        if "candidate" in methods:
            summary[label]["candidate_gain_db"] = summary[label]["candidate"] - summary[label]["default"]
            summary[label]["worst_clip_candidate_gain_db"] = float(min(results[n]["candidate_gain_db"] for n in names))
        print(f"{label}: " + ", ".join(f"{k} {v:.3f}" for k, v in summary[label].items()))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": summary, "clips": results, "settings": {
            "max_side": args.max_side, "max_frames": args.max_frames, "threads": args.threads,
            "command": "benchmarks/python/real_clips.py"}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
