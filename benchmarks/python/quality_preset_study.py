#!/usr/bin/env python3
"""What a `--quality high` preset could buy over the classical four-frame path (issue 21, item 5),
measured on training clips (never on the held-out ones): test-time horizontal flip (DIS is not
flip-equivariant, so the two results' errors partly cancel), temporal reversal, and their averages,
beside DIS `medium`.  12 triplets per clip at a frame gap of 2 (pair n, n + 2; truth n + 1;
neighbours n - 2, n + 4), <= 640 px, through fregan.flow_warp (the default model's computation).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/python/quality_preset_study.py
"""
import sys, time
from pathlib import Path

import numpy as np

import fregan

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_clips import decode_clip
clips = ["moviepy_basketball_dunk.mp4", "sam2_01_dog.mp4", "cotracker_teddy.mp4", "mmaction2_armwrestling_kinetics.mp4"]
def psnr(x, y):
    m = np.mean((x.astype(np.float64) - y) ** 2); return 10 * np.log10(255 ** 2 / max(m, 1e-10))
def run(a, b, bf, af):
    return fregan.flow_warp(a, b, 0.5, "fine", "bicubic", before=bf, after=af)
def flip(x): return np.ascontiguousarray(x[:, ::-1])
res = {}
for c in clips:
    fr, _ = decode_clip(Path(__file__).resolve().parents[3] / 'shared' / 'data' / 'clips' / c, 640, 90)
    for n in range(2, len(fr) - 4, 6)[:12]:
        a, t, b, bf, af = fr[n], fr[n+1], fr[n+2], fr[n-2], fr[n+4]
        t0 = time.time(); base = run(a, b, bf, af); t1 = time.time()
        fl = flip(run(flip(a), flip(b), flip(bf), flip(af))); t2 = time.time()
        rev = fregan.flow_warp(b, a, 0.5, "fine", "bicubic", before=af, after=bf); t3 = time.time()
        tta = ((base.astype(np.float32) + fl) / 2).round().astype(np.uint8)
        tta3 = ((base.astype(np.float32) + fl + rev) / 3).round().astype(np.uint8)
        med = fregan.flow_warp(a, b, 0.5, "medium", "bicubic", before=bf, after=af)
        for k, v in (("base", base), ("flip", fl), ("rev", rev), ("base+flip", tta), ("base+flip+rev", tta3), ("medium", med)):
            res.setdefault(c, {}).setdefault(k, []).append(psnr(v, t))
        res[c].setdefault("sec", []).append((t1 - t0, t2 - t1, t3 - t2))
    print(c, {k: round(float(np.mean(v)), 3) for k, v in res[c].items() if k != "sec"}, np.mean(res[c]["sec"], 0).round(3), flush=True)
allm = {k: np.mean([np.mean(res[c][k]) for c in res]) for k in res[clips[0]] if k != "sec"}
print("MEAN", {k: round(float(v), 3) for k, v in allm.items()})
