"""Debian's LibTorch 1.13 and pip's torch 2.x side by side on this machine (issue 20: which torch
the README's commands use).  Both builds must exist:

    bash scripts/setup.sh                       # pip torch: .venv, build/release
    FREGAN_TORCH=debian bash scripts/setup.sh   # Debian's:  .venv-debian, build/debian
    python3 benchmarks/python/torch_versions.py --rounds 3 --out benchmarks/results/torch_versions.json

Each round runs every measurement once per torch, alternating, so the machine's drift (±5% from
hour to hour) falls on both alike; the table gives medians.  Measured:
  - training samples/s of fregan-flow, FREGAN and SepConv with the C++ loop (`fregan train`, batch
    4, 128² crops, 2 threads, the first 60 frames of juggle.mp4; the rate after the first steps);
  - fregan-flow inference per 1080p frame (bm_flow's FlowGuidedFrame1080p, 2 threads);
  - the 1080p doubling job (`fregan interpolate --factor 2`, car-turn.mp4 upscaled to 1080p, 2 s);
  - compile time of one translation unit (cpp/src/train/trainer.cpp: torch's headers dominate) from
    the build's compile_commands.json, without ccache or the precompiled header, one process;
  - ConvTranspose2d(64, 32, 4, 2, 1) against Conv2d 3x3 + PixelShuffle(2), forward + backward on
    9x64x128² in each torch's Python (the reason fregan's up-blocks default to "subpixel").
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
BUILDS = {
    "debian": (ROOT / ".venv-debian", ROOT / "build" / "debian"),
    "pip": (ROOT / ".venv", ROOT / "build" / "release"),
}

CONV_MICRO = r"""
import time, torch
torch.set_num_threads(2); torch.manual_seed(0)
x = torch.randn(9, 64, 128, 128)
up_t = torch.nn.ConvTranspose2d(64, 32, 4, 2, 1)
up_s = torch.nn.Sequential(torch.nn.Conv2d(64, 128, 3, 1, 1), torch.nn.PixelShuffle(2))
def best(m):
    times = []
    for _ in range(3):
        t = time.perf_counter(); m(x).square().mean().backward(); times.append(time.perf_counter() - t)
    return min(times)
print(best(up_t), best(up_s))
"""


def torch_version(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def train_rate(venv: Path, model: str, work: Path) -> float:
    out = work / f"train-{model}"
    subprocess.run([str(venv / "bin" / "fregan"), "train", "--model", model, "--data", str(DATA / "videos" / "juggle.mp4"),
                    "--out", str(out), "--steps", "14", "--batch-size", "4", "--crop", "128", "--threads", "2",
                    "--val-every", "0", "--checkpoint-every", "1000", "--log-every", "1", "--overwrite",
                    "--max-frames", "60"], check=True, capture_output=True)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if line.strip()]
    steps = [r for r in records if "samples_per_second" in r]
    # The rate over the last steps: the first ones pay for allocation and oneDNN's kernel choice.
    first, last = steps[3], steps[-1]
    return (last["step"] - first["step"]) * 4 / (last["elapsed"] - first["elapsed"])


def inference_seconds(build: Path) -> float:
    result = subprocess.run([str(build / "benchmarks" / "cpp" / "bm_flow"), "--benchmark_filter=FlowGuidedFrame1080p/2",
                             "--benchmark_format=json"], check=True, capture_output=True, text=True)
    bench = json.loads(result.stdout)["benchmarks"][0]
    return bench["real_time"] / 1000.0  # ms -> s


def job_seconds(venv: Path, clip: Path, work: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(venv / "bin" / "fregan"), "interpolate", str(clip), "-o", str(work / "x2.mp4"), "--factor", "2",
                    "--overwrite"], check=True, capture_output=True)
    return time.perf_counter() - start


def compile_seconds(build: Path) -> float:
    commands = json.loads((build / "compile_commands.json").read_text())
    entry = next(c for c in commands if c["file"].endswith("cpp/src/train/trainer.cpp"))
    args = entry["command"].split()
    args = [a for a in args if not a.endswith("ccache")]
    cleaned, skip = [], False
    for a in args:  # drop the precompiled header and the object output
        if skip:
            skip = False
            continue
        if a in ("-include", "-o", "-Winvalid-pch"):
            skip = a != "-Winvalid-pch"
            continue
        cleaned.append(a)
    start = time.perf_counter()
    subprocess.run(cleaned + ["-o", os.devnull], cwd=entry["directory"], check=True, capture_output=True)
    return time.perf_counter() - start


def conv_micro(venv: Path):
    out = subprocess.run([str(venv / "bin" / "python"), "-c", CONV_MICRO], check=True, capture_output=True, text=True)
    transposed, subpixel = (float(x) for x in out.stdout.split())
    return transposed, subpixel


def main():
    parser = argparse.ArgumentParser(description="Debian's torch 1.13 vs pip's torch 2.x, side by side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    for name, (venv, build) in BUILDS.items():
        if not (venv / "bin" / "fregan").exists() or not build.is_dir():
            sys.exit(f"torch_versions: the {name} build is missing ({venv}, {build}): run its setup first")
    results = {name: {"torch": torch_version(venv)} for name, (venv, _) in BUILDS.items()}
    samples = {name: {} for name in BUILDS}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = work / "car-turn-1080p.mp4"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(DATA / "videos" / "car-turn.mp4"), "-t", "2",
                        "-vf", "scale=1920:1080:flags=lanczos", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p",
                        "-an", str(clip)], check=True)
        for round_index in range(args.rounds):
            order = list(BUILDS) if round_index % 2 == 0 else list(reversed(BUILDS))
            for name in order:
                venv, build = BUILDS[name]
                s = samples[name]
                for model in ("fregan-flow", "fregan", "sepconv"):
                    s.setdefault(f"train_{model}_samples_per_s", []).append(train_rate(venv, model, work))
                s.setdefault("fregan_flow_s_per_1080p_frame", []).append(inference_seconds(build))
                s.setdefault("doubling_1080p_job_s", []).append(job_seconds(venv, clip, work))
                s.setdefault("compile_trainer_cpp_s", []).append(compile_seconds(build))
                transposed, subpixel = conv_micro(venv)
                s.setdefault("conv_transposed_s", []).append(transposed)
                s.setdefault("conv_subpixel_s", []).append(subpixel)
                print(name, {k: round(v[-1], 3) for k, v in s.items()}, flush=True)
    for name in BUILDS:
        results[name].update({k: statistics.median(v) for k, v in samples[name].items()})
        results[name]["rounds"] = samples[name]
    print(json.dumps({n: {k: v for k, v in r.items() if k != "rounds"} for n, r in results.items()}, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
