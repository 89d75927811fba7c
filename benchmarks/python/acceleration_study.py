#!/usr/bin/env python3
"""How to use four frames (-1, 0, 1, 2) for the flows to time t: a study on real clips that are NOT
the held-out ones (benchmarks/heldout_clips.json), so the choices made here are not tuned on the
benchmark.

For frames i - g, i, i + g, i + 2g of a clip (frame gap g) the frames between i and i + g are the
truth at t = j / g.  Every variant warps frames i and i + g with fregan's own DIS flow (`fine`,
`fregan._core.optical_flow`) and bicubic sampling (border replicated, align_corners, as fregan's
renderer) and blends (1 - t) : t; it differs only in the flows to t:

- linear: Super SloMo's approximation (fregan's two-frame flows).
- quad: the acceleration a0 = F01 + F0->-1, a1 = F10 + F1->2 (Xu et al., quadratic video
  interpolation), the motion of frame 0's pixels to t being t F01 + a0 (t^2 - t) / 2, turned into
  F_t0, F_t1 the SloMo way (the motion fields read at the pixel of time t), scaled by a damping.
- quad+fb: the acceleration weighted per pixel by the forward-backward consistency of the
  neighbour flow, sigma^2 / (sigma^2 + e^2), e = |F0->-1(x) + F-1->0(x + F0->-1(x))|.
- quad+ratio: |a| limited to kappa times the mean motion (|F01| + |F0->-1|) / 2.
- reversal: the quadratic (or linear) motion of each side splatted to time t (QVI's flow reversal,
  bilinear splatting, holes filled with the SloMo-way flow).

    .venv/bin/python benchmarks/python/acceleration_study.py --out benchmarks/results/acceleration_study.json
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import fregan
from fregan import _core

ROOT = Path(__file__).resolve().parents[2]
CLIPS = ROOT.parent / "shared" / "data" / "clips"
# Tuning clips: varied, none of them in benchmarks/heldout_clips.json.
TUNING = ["cotracker_pillow.mp4", "cotracker_teddy.mp4", "cotracker_cat.mp4", "sam2_02_cups.mp4", "sam2_01_dog.mp4",
          "sam2_05_default_juggle.mp4", "intel_asl_book.mkv", "yolodeepsort_osaka_street.mp4",
          "mmaction2_armwrestling_kinetics.mp4", "imageio_cockatoo.mp4", "mdn_hisgirlfriday_bw_film.mp4",
          "yolodeepsort_underwater_fish.mp4", "moviepy_airplane_sky.mp4", "sam2_04_coffee.mp4"]


def decode(path: Path, max_side: int, max_frames: int) -> np.ndarray:
    w, h = (int(v) for v in subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0",
         str(path)], check=True, capture_output=True, text=True).stdout.strip().split(",")[:2])
    s = min(1.0, max_side / max(w, h))
    ow, oh = int(round(w * s / 2)) * 2, int(round(h * s / 2)) * 2
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"scale={ow}:{oh}:flags=area",
                          "-frames:v", str(max_frames), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, oh, ow, 3)


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frame).permute(2, 0, 1).float().div(255).unsqueeze(0)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """fregan's backward_warp: image(p + flow(p)), bicubic, border, align_corners."""
    _, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    gx = (xs + flow[:, 0]) * (2 / (w - 1)) - 1
    gy = (ys + flow[:, 1]) * (2 / (h - 1)) - 1
    return F.grid_sample(image, torch.stack([gx, gy], 3), mode="bicubic", padding_mode="border", align_corners=True)


def norm(v: torch.Tensor) -> torch.Tensor:
    return v.square().sum(1, keepdim=True).sqrt()


def splat(motion: torch.Tensor, values: torch.Tensor):
    """Bilinear forward splatting of `values` from each pixel p to p + motion(p): (sum, weight)."""
    _, c, h, w = values.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    tx, ty = xs + motion[0, 0], ys + motion[0, 1]
    x0, y0 = tx.floor(), ty.floor()
    acc = torch.zeros(c, h * w)
    wsum = torch.zeros(h * w)
    vals = values[0].reshape(c, -1)
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wt = ((1 - (tx - xi).abs()) * (1 - (ty - yi).abs())).reshape(-1)
            ok = ((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)).reshape(-1)
            idx = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).long().reshape(-1)[ok]
            wt = wt[ok]
            acc.index_add_(1, idx, vals[:, ok] * wt)
            wsum.index_add_(0, idx, wt)
    return acc.view(1, c, h, w), wsum.view(1, 1, h, w)


def slomo_flows(f01, f10, a0, a1, t):
    """F_t0, F_t1 the SloMo way from the motions of both sides (zero accelerations: SloMo's formula)."""
    c = 0.5 * (t * t - t)
    m0t = t * f01 + c * a0  # frame 0's pixels: motion 0 -> t
    m1t = (1 - t) * f10 + c * a1  # frame 1's pixels: motion 1 -> t
    ft0 = -(1 - t) * m0t + t * (f10 - m1t)
    ft1 = -t * m1t + (1 - t) * (f01 - m0t)
    return ft0, ft1, m0t, m1t


def reversed_flows(f01, f10, a0, a1, t, fill_weight=0.2):
    ft0_s, ft1_s, m0t, m1t = slomo_flows(f01, f10, a0, a1, t)
    s0, w0 = splat(m0t, -m0t)
    s1, w1 = splat(m1t, -m1t)
    ft0 = (s0 + fill_weight * ft0_s) / (w0 + fill_weight)
    ft1 = (s1 + fill_weight * ft1_s) / (w1 + fill_weight)
    return ft0, ft1


def fb_error(f_ab, f_ba):
    return norm(f_ab + warp(f_ba, f_ab))


def psnr(pred: torch.Tensor, truth: np.ndarray) -> float:
    p = (pred[0].clamp(0, 1) * 255).round().permute(1, 2, 0).numpy().astype(np.float64)
    mse = np.mean((p - truth.astype(np.float64)) ** 2)
    return 10 * math.log10(255 ** 2 / max(mse, 1e-10))


def variants():
    """name -> function(ctx, t) -> (F_t0, F_t1)."""
    out = {"linear": lambda c, t: slomo_flows(c["f01"], c["f10"], 0 * c["f01"], 0 * c["f10"], t)[:2]}
    for damp in (0.5, 0.75, 1.0):
        out[f"quad d{damp}"] = lambda c, t, d=damp: slomo_flows(c["f01"], c["f10"], d * c["a0"], d * c["a1"], t)[:2]
    for sigma in (0.5, 1.0, 2.0, 4.0):
        def fb(c, t, s=sigma):
            w0 = s * s / (s * s + c["e0"].square())
            w1 = s * s / (s * s + c["e1"].square())
            return slomo_flows(c["f01"], c["f10"], w0 * c["a0"], w1 * c["a1"], t)[:2]
        out[f"quad+fb s{sigma}"] = fb
    for sigma in (1.0, 2.0):
        def fb_both(c, t, s=sigma):  # the neighbour pair's and this pair's consistency
            w0 = s * s / (s * s + c["e0"].square() + c["e01"].square())
            w1 = s * s / (s * s + c["e1"].square() + c["e10"].square())
            return slomo_flows(c["f01"], c["f10"], w0 * c["a0"], w1 * c["a1"], t)[:2]
        out[f"quad+fb2 s{sigma}"] = fb_both
    for kappa in (0.5, 1.0):
        def ratio(c, t, k=kappa):
            def limit(a, fa, fb):
                m = 0.5 * (norm(fa) + norm(fb))
                return a * torch.clamp(k * m / norm(a).clamp_min(1e-6), max=1.0)
            return slomo_flows(c["f01"], c["f10"], limit(c["a0"], c["f01"], c["f0m"]), limit(c["a1"], c["f10"], c["f12"]),
                               t)[:2]
        out[f"quad+ratio k{kappa}"] = ratio
    out["reversal linear"] = lambda c, t: reversed_flows(c["f01"], c["f10"], 0 * c["a0"], 0 * c["a1"], t)
    out["reversal quad"] = lambda c, t: reversed_flows(c["f01"], c["f10"], c["a0"], c["a1"], t)
    for sigma in (2.0,):
        def rev_fb(c, t, s=sigma):
            w0 = s * s / (s * s + c["e0"].square())
            w1 = s * s / (s * s + c["e1"].square())
            return reversed_flows(c["f01"], c["f10"], w0 * c["a0"], w1 * c["a1"], t)
        out[f"reversal quad+fb s{sigma}"] = rev_fb
    for sigma in (1.0, 2.0, 4.0):
        def rev_agree(c, t, s=sigma):  # the two sides' accelerations agree (a0 at p, a1 where p lands in frame 1)
            d0 = norm(c["a0"] - warp(c["a1"], c["f01"]))
            d1 = norm(c["a1"] - warp(c["a0"], c["f10"]))
            return reversed_flows(c["f01"], c["f10"], s * s / (s * s + d0.square()) * c["a0"],
                                  s * s / (s * s + d1.square()) * c["a1"], t)
        out[f"reversal quad+agree s{sigma}"] = rev_agree
    for k in (0.25, 0.5):
        def rev_agree_rel(c, t, k=k):  # the same, sigma = 1 px + k times the pixel's motion
            d0 = norm(c["a0"] - warp(c["a1"], c["f01"]))
            d1 = norm(c["a1"] - warp(c["a0"], c["f10"]))
            s0 = 1 + (k * 0.5 * (norm(c["f01"]) + norm(c["f0m"]))).square()
            s1 = 1 + (k * 0.5 * (norm(c["f10"]) + norm(c["f12"]))).square()
            return reversed_flows(c["f01"], c["f10"], s0 / (s0 + d0.square()) * c["a0"], s1 / (s1 + d1.square()) * c["a1"], t)
        out[f"reversal quad+agree-rel k{k}"] = rev_agree_rel
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gaps", type=int, nargs="+", default=[2, 3, 4])
    ap.add_argument("--positions", type=int, default=6, help="quadruples per clip and gap")
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--max-frames", type=int, default=240)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clips", nargs="*", default=TUNING, help="tuning clips (default: all 14)")
    ap.add_argument("--variants", default="", help="only variants whose name contains this (and linear)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    held = {c["file"] for c in json.loads((ROOT / "benchmarks" / "heldout_clips.json").read_text())["clips"]}
    assert not held & set(TUNING) and set(args.clips) <= set(TUNING), "the study must not see held-out clips"
    vs = {name: fn for name, fn in variants().items() if name == "linear" or args.variants in name}
    scores = {g: {name: [] for name in vs} for g in args.gaps}
    per_clip = {}
    for clip in args.clips:
        frames = decode(CLIPS / clip, args.max_side, args.max_frames)
        n = len(frames)
        per_clip[clip] = {}
        for g in args.gaps:
            lo, hi = g, n - 2 * g - 1
            if hi <= lo:
                continue
            clip_scores = {name: [] for name in vs}
            for i in np.linspace(lo, hi, args.positions).round().astype(int):
                fm, f0, f1, f2 = frames[i - g], frames[i], frames[i + g], frames[i + 2 * g]
                # Skip quadruples across a scene cut or on held frames (the video job handles those apart).
                diffs = [np.abs(x.astype(np.int16) - y).mean() for x, y in ((fm, f0), (f0, f1), (f1, f2))]
                if max(diffs) > 40 or min(diffs) < 0.3:
                    continue
                f01, f10 = _core.optical_flow(f0, f1, "fine", 960)
                f0m, fm0 = _core.optical_flow(f0, fm, "fine", 960)
                f12, f21 = _core.optical_flow(f1, f2, "fine", 960)
                c = {k: v.unsqueeze(0) for k, v in dict(f01=f01, f10=f10, f0m=f0m, fm0=fm0, f12=f12, f21=f21).items()}
                c["a0"] = c["f01"] + c["f0m"]
                c["a1"] = c["f10"] + c["f12"]
                c["e0"] = fb_error(c["f0m"], c["fm0"])
                c["e1"] = fb_error(c["f12"], c["f21"])
                c["e01"] = fb_error(c["f01"], c["f10"])
                c["e10"] = fb_error(c["f10"], c["f01"])
                t0, t1 = to_tensor(f0), to_tensor(f1)
                for name, fn in vs.items():
                    vals = []
                    for j in range(1, g):
                        t = j / g
                        ft0, ft1 = fn(c, t)
                        vals.append(psnr((1 - t) * warp(t0, ft0) + t * warp(t1, ft1), frames[i + j]))
                    clip_scores[name].append(float(np.mean(vals)))
            for name in vs:
                scores[g][name] += clip_scores[name]
            if clip_scores["linear"]:
                per_clip[clip][g] = {name: float(np.mean(v)) for name, v in clip_scores.items()}
                best = max(per_clip[clip][g].items(), key=lambda kv: kv[1])
                print(f"{clip} gap {g}: {len(clip_scores['linear'])} quadruples, linear "
                      f"{per_clip[clip][g]['linear']:.2f}; best {best[0]} {best[1] - per_clip[clip][g]['linear']:+.2f}",
                      flush=True)
    summary = {}
    for g in args.gaps:
        # Each clip weighs the same: the mean over clips of the gain over linear.
        clips = [c for c in per_clip if g in per_clip[c]]
        summary[g] = {name: {"mean_gain_db": float(np.mean([per_clip[c][g][name] - per_clip[c][g]["linear"] for c in clips])),
                             "worst_clip_gain_db": float(np.min([per_clip[c][g][name] - per_clip[c][g]["linear"] for c in clips])),
                             "mean_psnr": float(np.mean([per_clip[c][g][name] for c in clips]))}
                      for name in vs}
        print(f"\ngap {g} ({len(clips)} clips): mean gain over linear (worst clip)")
        for name, s in sorted(summary[g].items(), key=lambda kv: -kv[1]["mean_gain_db"]):
            print(f"  {name:22s} {s['mean_gain_db']:+.3f} ({s['worst_clip_gain_db']:+.3f})  {s['mean_psnr']:.2f} dB")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"clips": TUNING, "summary": summary, "per_clip": per_clip,
                                        "settings": vars(args) | {"out": str(args.out)}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
