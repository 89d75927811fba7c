"""fregan's CUDA paths, checked on a machine with a GPU (this project's own machines have none:
there these paths are compiled, and only their CPU twins run).

    bash scripts/setup.sh && .venv/bin/python scripts/gpu_check.py [--clip VIDEO] [--data FOLDER]

Each check prints one line with its figure and fails loudly:
  1. device selection: "auto" picks cuda; the Interpolator and the training loop run there;
  2. one batch on CUDA against the CPU: the seed model FREGAN, SepConv (its local convolution's
     CUDA formulation) and fregan-flow (DIS on the CPU, the net and renderer on CUDA) interpolate
     the same pair on both devices and must agree (max difference <= 2 grey levels);
  3. a few training steps on CUDA (fregan-flow and SepConv): finite losses, a checkpoint that loads
     back on the CPU;
  4. doubling a clip on CUDA through the video job: 2N frames, same duration as on the CPU;
  5. with two or more GPUs: two ranks trained over NCCL (--dist-backend nccl).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import fregan

ROOT = Path(__file__).resolve().parents[1]


def fail(message: str) -> None:
    sys.exit(f"gpu_check: FAILED: {message}")


def synthetic_pair(height=256, width=320, shift=6):
    rng = np.random.default_rng(0)
    base = (rng.random((height // 8 + 2, width // 8 + 2, 3)) * 255).astype(np.uint8)
    base = np.kron(base, np.ones((8, 8, 1), np.uint8))
    return np.ascontiguousarray(base[:height, :width]), np.ascontiguousarray(base[:height, shift:shift + width])


def check_devices(a, b):
    for name in ("fregan", "sepconv", "fregan-flow"):
        cpu = fregan.Interpolator(name, device="cpu")(a, b)
        gpu = fregan.Interpolator(name, device="cuda")(a, b)
        diff = int(np.abs(cpu.astype(np.int16) - gpu.astype(np.int16)).max())
        print(f"{name}: CUDA vs CPU max difference {diff} grey levels")
        if diff > 2:
            fail(f"{name} differs on CUDA by {diff} grey levels")


def check_training(data: str, work: Path):
    for model in ("fregan-flow", "sepconv"):
        out = work / f"train-{model}"
        result = fregan.train([data], str(out), model=model, steps=20, batch_size=4, crop=128, device="cuda",
                              val_every=0, checkpoint_every=20, max_frames_per_source=40)
        info = fregan.checkpoint_info(out / "last.pt")
        print(f"{model}: 20 CUDA steps, {json.dumps(result)[:120]} ; checkpoint step {info.get('step')}")
        fregan.Interpolator(str(out / "last.pt"), device="cpu")


def check_video(clip: str, work: Path):
    cpu = fregan.interpolate(clip, str(work / "x2-cpu.mp4"), factor=2, device="cpu", overwrite=True)
    gpu = fregan.interpolate(clip, str(work / "x2-cuda.mp4"), factor=2, device="cuda", overwrite=True)
    print(f"video: {gpu['input_frames']} -> {gpu['output_frames']} frames on CUDA in {gpu['seconds']:.1f} s "
          f"(CPU {cpu['seconds']:.1f} s)")
    if gpu["output_frames"] != 2 * gpu["input_frames"] or gpu["output_frames"] != cpu["output_frames"]:
        fail("the CUDA video job wrote a different number of frames")


def check_nccl(data: str, work: Path):
    binary = Path(fregan.__file__).parent / "bin" / "fregan"
    procs = []
    for rank in range(2):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT="29533", WORLD_SIZE="2", RANK=str(rank),
                   LOCAL_RANK=str(rank))
        procs.append(subprocess.Popen([str(binary), "train", "--model", "fregan-flow", "--data", data, "--out",
                                       str(work / "nccl"), "--steps", "10", "--batch-size", "4", "--crop", "128",
                                       "--device", "cuda", "--dist-backend", "nccl", "--overwrite"], env=env))
    if any(p.wait() != 0 for p in procs):
        fail("two-rank NCCL training failed")
    print("nccl: two ranks trained 10 steps")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default=str(ROOT.parent / "shared" / "data" / "videos" / "juggle.mp4"))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "videos"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        fail("no CUDA device here: run this on a machine with a GPU")
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), {torch.cuda.device_count()} GPU(s): "
          f"{torch.cuda.get_device_name(0)}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        check_devices(*synthetic_pair())
        check_training(args.data, work)
        check_video(args.clip, work)
        if torch.cuda.device_count() >= 2:
            check_nccl(args.data, work)
    print("gpu_check: all passed")


if __name__ == "__main__":
    main()
