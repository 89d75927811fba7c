"""Diversity of a DCGAN's frames vs the real frames it learned from: the per-pixel standard
deviation across 64 frames (0..255, averaged over pixels), the mean absolute difference of each
generated frame to its nearest real frame (far = not a copy; also high when frames are noisy), the
diversity the trainer's collapse detector measures (frames area-downscaled to 20x40) and k-NN
precision / recall (Kynkaanniemi et al. 2019, k = 3, in the same 20x40 space) of the 64 generated
frames against all real frames and, for scale, of 64 real frames against the rest.

    .venv/bin/python benchmarks/python/dcgan_diversity.py python/fregan/models/dcgan-default.pt \
        ../shared/data/videos/vtest.avi [--frame-skip 2]
"""
import argparse

import numpy as np
import torch

import fregan

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("weights")
parser.add_argument("video")
parser.add_argument("--frame-skip", type=int, default=2)
parser.add_argument("-n", type=int, default=64)
args = parser.parse_args()

gen = np.stack(fregan.generate(args.n, weights=args.weights, seed=0, device="cpu")).astype(np.float32)
h, w = gen.shape[1:3]
ds = fregan.data.FrameDataset(args.video, frame_skip=args.frame_skip)
real_t = ds.batch(0, batch_size=len(ds), height=h, width=w, shuffle=False)  # [N,3,H,W] in [0,1], temporal order
real = (real_t.permute(0, 2, 3, 1).numpy() * 255).astype(np.float32)
pick = np.linspace(0, len(real) - 1, args.n).astype(int)
sub = real[pick]
print(f"frames: generated {gen.shape}, real {real.shape}")
print(f"per-pixel std across {args.n} frames: generated {gen.std(0).mean():.2f}, "
      f"real ({args.n} evenly spaced) {sub.std(0).mean():.2f}")
print(f"mean |generated - real mean frame|: {np.abs(gen - real.mean(0)).mean():.2f}; real frames: {np.abs(sub - real.mean(0)).mean():.2f}")
d = np.abs(gen[:, None] - real[None]).mean(axis=(2, 3, 4))
print(f"mean abs difference to the nearest real frame: {d.min(1).mean():.2f} (range {d.min(1).min():.2f}..{d.min(1).max():.2f})")

gen_t = torch.from_numpy(gen / 255.0).permute(0, 3, 1, 2).contiguous()


def small(frames):  # the trainer's feature space: area-averaged to 20x40, 0..255
    return torch.nn.functional.adaptive_avg_pool2d(frames.double(), (20, 40)).flatten(1) * 255


def diversity(frames):
    f = small(frames)
    return f.std(0, unbiased=False).mean().item(), torch.cdist(f, f, p=1).sum().item() / (len(f) * (len(f) - 1) * f.shape[1])


gs, gp = diversity(gen_t)
rs, rp = diversity(real_t[pick])
print(f"diversity at 20x40 (the collapse detector's): std {gs:.2f} vs real {rs:.2f} (x{gs / rs:.2f}), "
      f"pairwise {gp:.2f} vs real {rp:.2f} (x{gp / rp:.2f})")
p, r = fregan._core.knn_precision_recall(real_t, gen_t)
print(f"k-NN precision / recall (k=3, 20x40) of {args.n} generated vs {len(real_t)} real frames: {p:.3f} / {r:.3f}")
rest = np.setdiff1d(np.arange(len(real_t)), pick)
p, r = fregan._core.knn_precision_recall(real_t[rest], real_t[pick])
print(f"  for scale, {args.n} real frames vs the other {len(rest)}: {p:.3f} / {r:.3f}")
# Pairs of the first 8 samples (the shipped grid): the closest pair's mean abs difference at full size.
g8 = gen[:8]
pair = np.abs(g8[:, None] - g8[None]).mean(axis=(2, 3, 4)) + np.eye(8) * 1e9
print(f"closest pair among the first 8 samples: mean abs difference {pair.min():.2f} (real neighbours 2 frames apart: "
      f"{np.abs(real[1:] - real[:-1]).mean(axis=(1, 2, 3)).mean():.2f})")
