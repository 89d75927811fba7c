#!/usr/bin/env python3
"""Plain flow warping (no network) with each DIS preset and sampling, and the default model, on a
held-out set: which part of fregan-flow's gain carries over from one set to another.

    PYTHONPATH=... .venv/bin/python benchmarks/python/warping_variants.py                # Vid4 calendar + walk
    PYTHONPATH=... .venv/bin/python benchmarks/python/warping_variants.py --data DIR ...  # any clips / folders
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import fregan

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=[str(DATA / "vsr" / "vid4" / "calendar"), str(DATA / "vsr" / "vid4" / "walk")])
    a = p.parse_args()
    ds = fregan.data.TripletDataset(a.data)
    model = fregan.Interpolator()
    scores: dict = {}
    for i in range(len(ds)):
        f0, f1, f2 = ds[i]
        for preset in ("medium", "fine"):
            for sampling in ("bilinear", "bicubic"):
                out = fregan.flow_warp(f0, f2, preset=preset, sampling=sampling)
                scores.setdefault(f"flow warping, DIS {preset}, {sampling}", []).append(fregan.metrics.psnr(out, f1))
        scores.setdefault(f"{model.model_name} (default)", []).append(fregan.metrics.psnr(model(f0, f2), f1))
    print(json.dumps({"triplets": len(ds), "psnr": {k: round(float(np.mean(v)), 3) for k, v in scores.items()}}, indent=2))


if __name__ == "__main__":
    main()
