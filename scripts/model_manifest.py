#!/usr/bin/env python3
"""Records a shipped checkpoint in python/fregan/models/manifest.json: its file, size, sha256, what
its header says (model, options, step), the exact command and data that trained it, and the
validation figures measured by `fregan evaluate` (JSON) on the held-out data.

    .venv/bin/python scripts/model_manifest.py --name fregan-flow --checkpoint runs/x/best.pt \
        --command "fregan train ..." --data ... --val-data ... --evaluation eval.json

Super-resolution models (`--task super-resolution`) record `fregan upscale CLIP --max-frames N
--json` (evaluation mode: PSNR/SSIM against the original beside bicubic) on the held-out clip.

Generation models (DCGAN, `--task generation`) have no ground truth to validate against: their
entry records a sample grid (`fregan generate ... --grid`, copied beside the checkpoint) instead.

    .venv/bin/python scripts/model_manifest.py --task generation --name dcgan-default \
        --checkpoint small.pt --command "fregan train --model dcgan ..." --data ... --sample-grid grid.png
"""
import argparse
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import fregan

MODELS = Path(__file__).resolve().parent.parent / "python" / "fregan" / "models"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--task", choices=["interpolation", "super-resolution", "generation"], default="interpolation")
    p.add_argument("--name", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--command", required=True)
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--val-data", nargs="+", help="interpolation: held-out clips")
    p.add_argument("--evaluation", help="interpolation: output of fregan evaluate --json on --val-data")
    p.add_argument("--sample-grid", help="generation: a grid of generated frames (PNG)")
    p.add_argument("--max-frames", type=int, default=0,
                   help="super-resolution: frames of --val-data scored by --evaluation (0 = all)")
    p.add_argument("--samples", type=int, default=8, help="generation: frames in --sample-grid")
    p.add_argument("--seed", type=int, default=0, help="generation: the seed of --sample-grid")
    p.add_argument("--cols", type=int, default=4, help="generation: columns of --sample-grid")
    p.add_argument("--note", default="")
    a = p.parse_args()
    if a.task != "generation" and not (a.val_data and a.evaluation):
        p.error("interpolation and super-resolution models need --val-data and --evaluation")
    if a.task == "generation" and not a.sample_grid:
        p.error("generation models need --sample-grid")

    target = MODELS / f"{a.name}.pt"
    if Path(a.checkpoint).resolve() != target.resolve():
        shutil.copyfile(a.checkpoint, target)
    info = fregan.checkpoint_info(target)
    entry = {
        "name": a.name,
        "file": target.name,
        "task": a.task,
        "model": info["model"],
        "bytes": target.stat().st_size,
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "step": info["step"],
        "generator_options": info["generator_options"],
        "command": a.command,
        "data": a.data,
        "note": a.note,
    }
    if a.task == "interpolation":
        entry["val_data"] = a.val_data
        entry["validation"] = json.loads(Path(a.evaluation).read_text())
        # How the figures were measured (tests/python/test_zoo.py re-measures them this way).
        entry["evaluation"] = {"frame_skip": 1, "max_triplets": 0, "max_frames": 0,
                               "command": f"fregan evaluate --weights {target.name} --data {' '.join(a.val_data)} --json"}
    elif a.task == "super-resolution":
        entry["val_data"] = a.val_data
        entry["validation"] = json.loads(Path(a.evaluation).read_text())
        entry["evaluation"] = {"max_frames": a.max_frames,
                               "command": f"fregan upscale {a.val_data[0]} --weights {target.name} "
                                          f"--max-frames {a.max_frames} --json"}
    else:
        grid = MODELS / f"{a.name}-samples.png"
        if Path(a.sample_grid).resolve() != grid.resolve():
            shutil.copyfile(a.sample_grid, grid)
        entry["sample_grid"] = grid.name
        entry["samples"] = {"n": a.samples, "seed": a.seed, "cols": a.cols,
                            "command": f"fregan generate --weights {target.name} -n {a.samples} --seed {a.seed} "
                                       f"--cols {a.cols} --grid {grid.name}"}
    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"models": []}
    manifest["models"] = [m for m in manifest["models"] if m["name"] != a.name] + [entry]
    fd, tmp = tempfile.mkstemp(dir=MODELS, suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, manifest_path)
    print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()
