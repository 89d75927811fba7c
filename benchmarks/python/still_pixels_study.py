#!/usr/bin/env python3
"""Still pixels (fregan-flow's still_tolerance / still_margin): burned-in text over moving footage,
doubled by the video job with and without them.

Overlays like a broadcast's (a score line with an outline, a semi-transparent logo) are drawn with
ffmpeg's drawtext on tuning clips that are not held out (benchmarks/heldout_clips.json), at the
working size, and encoded with libx264 at CRF 18 as a user's file would be.  The encoded clip is
decoded, its even frames doubled by the real binary (`fregan interpolate --factor 2`, as
real_clips.py does) and the odd frames scored against the dropped ones:
- PSNR over the whole frame, and over the overlay's own pixels (the same drawtext in white on
  black is the mask);
- flicker on the overlay: the mean absolute change (0-255) of the overlay's pixels from one output
  frame to the next, beside the source's own (codec noise: the floor).
The same clips without an overlay show what the rule costs where there is nothing to keep.

Both checkpoints are the untrained fregan-flow with the shipped model's options (`fregan train
--steps 0`), one with still pixels off (still_tolerance 0).

    .venv/bin/python benchmarks/python/still_pixels_study.py --out benchmarks/results/still_pixels_study.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import fregan
from real_clips import DATA, decode_clip, fregan_binary, probe, run_job, write_half_rate

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
# Tuning clips with camera or object motion under where the overlay goes; none is held out.
CLIPS = ["moviepy_airplane_sky.mp4", "yolodeepsort_osaka_street.mp4", "sam2_02_cups.mp4", "cotracker_teddy.mp4",
         "mmaction2_two_people_1080p.mp4"]
OVERLAY = (f"drawtext=fontfile={FONT}:text='LIVE 12\\:34   SCORE 3-1':fontsize=h/12:fontcolor=white:borderw=2:"
           f"bordercolor=black:x=w/30:y=h-h/7,"
           f"drawtext=fontfile={FONT}:text='fregan':fontsize=h/16:fontcolor=yellow@0.8:x=w-w/5:y=h/20")


def checkpoint(path: Path, still: bool) -> str:
    options = fregan.checkpoint_info(fregan.default_weights())["generator_options"]
    if not still:
        options = {**options, "still_tolerance": 0}
    subprocess.run([str(fregan_binary()), "train", "--model", "fregan-flow", "--data", str(DATA / "videos" / "tree.avi"),
                    "--out", str(path), "--steps", "0", "--crop", "64", "--batch-size", "1", "--max-frames", "8", "--val-triplets", "1",
                    "--generator-options", json.dumps(options), "--overwrite"], check=True, capture_output=True)
    return str(path / "last.pt")


def with_overlay(src: Path, dst: Path, max_side: int, max_frames: int, overlay: bool) -> None:
    w, h, _ = probe(src)
    s = min(1.0, max_side / max(w, h))
    ow, oh = int(round(w * s / 2)) * 2, int(round(h * s / 2)) * 2
    vf = f"scale={ow}:{oh}:flags=area" + ("," + OVERLAY if overlay else "")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), "-vf", vf, "-frames:v", str(max_frames), "-an",
                    "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(dst)], check=True)


def overlay_mask(width: int, height: int) -> np.ndarray:
    """The caption's own pixels: glyphs and outline drawn in white on black, fully covered ones only
    (anti-aliased edge pixels are part picture)."""
    # The semi-transparent logo shows the moving picture through it: not still, left out.
    white = OVERLAY.replace("bordercolor=black", "bordercolor=white").replace("fontcolor=yellow@0.8", "fontcolor=black")
    raw = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"color=black:s={width}x{height}", "-vf", white,
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width) >= 250


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-10))


def score(out: Path, frames: np.ndarray, mask: np.ndarray):
    files = sorted(out.glob("*.png"))
    outputs = np.stack([fregan.read_image(f) for f in files[:len(frames)]])
    odd = range(1, len(frames) - 1, 2)
    whole = float(np.mean([psnr(outputs[k], frames[k]) for k in odd]))
    on_overlay = float(np.mean([psnr(outputs[k][mask], frames[k][mask]) for k in odd]))
    flicker = float(np.mean([np.abs(outputs[k].astype(np.int16) - outputs[k - 1].astype(np.int16))[mask].mean()
                             for k in range(1, len(frames))]))
    return {"psnr": whole, "psnr_overlay": on_overlay, "flicker_overlay": flicker}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-side", type=int, default=1920, help="clips are area-downscaled to fit (1080p stays 1080p)")
    ap.add_argument("--max-frames", type=int, default=61, help="source frames per clip (odd: ends on a kept frame)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights = {"still": checkpoint(tmp / "still", True), "no still": checkpoint(tmp / "nostill", False)}
        for clip in CLIPS:
            for overlay in (True, False):
                encoded = tmp / "clip.mp4"
                with_overlay(DATA / "clips" / clip, encoded, args.max_side, args.max_frames, overlay)
                frames, fps = decode_clip(encoded, args.max_side, args.max_frames)
                if len(frames) % 2 == 0:
                    frames = frames[:-1]
                mask = overlay_mask(frames.shape[2], frames.shape[1])
                half = tmp / "half"
                write_half_rate(frames, half)
                source_flicker = float(np.mean([np.abs(frames[k].astype(np.int16) - frames[k - 1].astype(np.int16))[mask].mean()
                                                for k in range(1, len(frames))]))
                row = {"source_flicker_overlay": source_flicker}
                for name, w in weights.items():
                    out = tmp / "out"
                    seconds = run_job(half, out, fps / 2, w, [])
                    row[name] = {**score(out, frames, mask), "seconds": seconds}
                key = f"{clip} {'with' if overlay else 'without'} overlay"
                results[key] = row
                print(f"{key:48s} " + "  ".join(
                    f"{n}: {row[n]['psnr']:.2f} dB, overlay {row[n]['psnr_overlay']:.2f} dB, flicker {row[n]['flicker_overlay']:.2f}"
                    for n in weights) + f"  (source flicker {source_flicker:.2f})", flush=True)
    summary = {}
    for overlay in ("with", "without"):
        rows = [r for k, r in results.items() if k.endswith(f"{overlay} overlay")]
        summary[f"{overlay} overlay"] = {n: {m: float(np.mean([r[n][m] for r in rows])) for m in rows[0][n]}
                                         for n in weights}
        summary[f"{overlay} overlay"]["source_flicker_overlay"] = float(np.mean([r["source_flicker_overlay"] for r in rows]))
        print(f"mean {overlay} overlay: {json.dumps(summary[f'{overlay} overlay'])}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": summary, "clips": results, "settings": {
            "max_side": args.max_side, "max_frames": args.max_frames, "threads": args.threads, "clips": CLIPS,
            "command": "benchmarks/python/still_pixels_study.py"}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
