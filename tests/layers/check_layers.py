#!/usr/bin/env python3
"""Fails when a lower layer of fregan includes a higher one (issue 16: layers without loops).

The floors, top to bottom; a file may include headers of its own component or of any floor
below its own, never of a floor above nor of another component on its own floor:

  faces   cpp/apps (the CLI), cpp/python (the binding)
  train   trainers, distributed training
  infer   Interpolator, video job, upscaler, generator, evaluate, export
  models  networks, the model registry, checkpoints; losses
  lower   flow, data, metrics
  base    io, ops, zoo
  core    fregan/*.h: error, log, device, options_json

Run: check_layers.py [repository root] (default: the folder above tests/).
"""
import re
import sys
from pathlib import Path

FLOORS = [
    ("core", ["core"]),
    ("base", ["io", "ops", "zoo"]),
    ("lower", ["flow", "data", "metrics"]),
    ("models", ["models", "losses"]),
    ("infer", ["infer"]),
    ("train", ["train"]),
    ("faces", ["apps", "python"]),
]
FLOOR_OF = {component: index for index, (_, components) in enumerate(FLOORS) for component in components}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def component(path: Path, root: Path) -> str:
    """The component a file of cpp/ belongs to: apps, python, core, or the folder under fregan/ or src/."""
    parts = path.relative_to(root / "cpp").parts
    if parts[0] in ("apps", "python"):
        return parts[0]
    inner = parts[2:] if parts[0] == "include" else parts[1:]  # include/fregan/x/..., src/x/...
    return inner[0] if len(inner) > 1 else "core"


def resolve(include: str, including: Path, root: Path):
    """The file an #include "..." names, or None for a header outside fregan (torch, pch.h ...)."""
    for base in (root / "cpp" / "include", including.parent):
        candidate = (base / include).resolve()
        if candidate.is_file() and (root / "cpp") in candidate.parents:
            return candidate
    return None


def violations(root: Path):
    root = root.resolve()
    for path in sorted((root / "cpp").rglob("*")):
        if path.suffix not in (".h", ".hpp", ".cpp", ".cc") or not path.is_file():
            continue
        own = component(path, root)
        if own not in FLOOR_OF:
            yield f"{path.relative_to(root)}: component '{own}' has no floor (add it to FLOORS in {Path(__file__).name})"
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = INCLUDE.match(line)
            if not match:
                continue
            target = resolve(match.group(1), path, root)
            if target is None:
                continue
            other = component(target, root)
            if other == own:
                continue
            if other not in FLOOR_OF:
                yield f"{path.relative_to(root)}:{number}: includes '{match.group(1)}' of unknown component '{other}'"
            elif FLOOR_OF[other] > FLOOR_OF[own]:
                yield (f"{path.relative_to(root)}:{number}: {own} ({FLOORS[FLOOR_OF[own]][0]}) includes "
                       f"'{match.group(1)}' from {other} ({FLOORS[FLOOR_OF[other]][0]}), a floor above it")
            elif FLOOR_OF[other] == FLOOR_OF[own]:
                yield (f"{path.relative_to(root)}:{number}: {own} includes '{match.group(1)}' from {other}, "
                       f"another component of the same floor ({FLOORS[FLOOR_OF[own]][0]})")


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]
    found = list(violations(root))
    for line in found:
        print(line)
    if found:
        print(f"check_layers: {len(found)} include(s) against the layer order")
        return 1
    print("check_layers: no include runs against the layer order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
