#!/usr/bin/env python3
"""Records a shipped checkpoint in python/fregan/models/manifest.json: its file, size, sha256, what
its header says (model, options, step), the exact command and data that trained it, and the
validation figures measured by `fregan evaluate` (JSON) on the held-out data.

    .venv/bin/python scripts/model_manifest.py --name fregan-default --checkpoint runs/x/best.pt \
        --command "fregan train ..." --data ... --val-data ... --evaluation eval.json
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
    p.add_argument("--name", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--command", required=True)
    p.add_argument("--data", nargs="+", required=True)
    p.add_argument("--val-data", nargs="+", required=True)
    p.add_argument("--evaluation", required=True, help="output of fregan evaluate --json on --val-data")
    p.add_argument("--note", default="")
    a = p.parse_args()

    target = MODELS / f"{a.name}.pt"
    shutil.copyfile(a.checkpoint, target)
    info = fregan.checkpoint_info(target)
    entry = {
        "name": a.name,
        "file": target.name,
        "task": "interpolation",
        "model": info["model"],
        "bytes": target.stat().st_size,
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "step": info["step"],
        "generator_options": info["generator_options"],
        "command": a.command,
        "data": a.data,
        "val_data": a.val_data,
        "validation": json.loads(Path(a.evaluation).read_text()),
        "note": a.note,
    }
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
