"""Diversity of a DCGAN's frames vs the real frames it learned from: the per-pixel standard
deviation across 64 frames (0..255, averaged over pixels), and the mean absolute difference of each
generated frame to its nearest real frame (far = not a copy; also high when frames are noisy).

    .venv/bin/python benchmarks/python/dcgan_diversity.py python/fregan/models/dcgan-default.pt \
        ../shared/data/videos/vtest.avi
"""
import sys
import numpy as np
import fregan
weights, video = sys.argv[1], sys.argv[2]
gen = np.stack(fregan.generate(64, weights=weights, seed=0, device="cpu")).astype(np.float32)
h, w = gen.shape[1:3]
ds = fregan._core.FrameDataset([video], frame_skip=2)
real_t = ds.batch(0, batch_size=len(ds), height=h, width=w, shuffle=False)  # [N,3,H,W] in [0,1], temporal order
real = (real_t.permute(0, 2, 3, 1).numpy() * 255).astype(np.float32)
sub = real[np.linspace(0, len(real) - 1, 64).astype(int)]
print(f"frames: generated {gen.shape}, real {real.shape}")
print(f"per-pixel std across 64 frames: generated {gen.std(0).mean():.2f}, real (64 evenly spaced) {sub.std(0).mean():.2f}")
print(f"mean |generated - real mean frame|: {np.abs(gen - real.mean(0)).mean():.2f}; real frames: {np.abs(sub - real.mean(0)).mean():.2f}")
d = np.abs(gen[:, None] - real[None]).mean(axis=(2, 3, 4))
print(f"mean abs difference to the nearest real frame: {d.min(1).mean():.2f} (range {d.min(1).min():.2f}..{d.min(1).max():.2f})")
