"""Debian's LibTorch 1.13 and pip's torch 2.x side by side on this machine (issue 20: which torch
the README's commands use).  Both builds must exist:

    bash scripts/setup.sh                       # pip torch: .venv, build/release
    FREGAN_TORCH=debian bash scripts/setup.sh   # Debian's:  .venv-debian, build/debian
    python3 benchmarks/python/torch_versions.py --rounds 3 --out benchmarks/results/torch_versions.json

Each round runs every measurement once per torch, the two torches' runs of one measurement back to
back (Debian then pip in even rounds, pip then Debian in odd ones), so the machine's load falls on
both alike; the table gives medians, and the load average before each run is recorded.  Measured:
  - training samples/s of fregan-flow, FREGAN and SepConv with the C++ loop (`fregan train`, batch
    4, 128² crops, 1 thread, the first 60 frames of juggle.mp4; the rate over steps 5-30, after
    allocation and oneDNN's kernel choice);
  - fregan-flow inference per 1080p frame (bm_flow's FlowGuidedFrame1080p, 1 and 2 threads);
  - the 1080p doubling job (`fregan interpolate --factor 2`, car-turn.mp4 upscaled to 1080p, 2 s);
  - compile time of one translation unit (cpp/src/train/trainer.cpp: torch's headers dominate) from
    the build's compile_commands.json, without ccache or the precompiled header, one process;
  - install size: torch with everything it pulls in (pip: the torch distribution and its
    requirements, from their RECORDs; Debian: the Installed-Size of libtorch1.13, libtorch-dev,
    python3-torch) and fregan's own files in the venv;
  - with --conv: ConvTranspose2d(64, 32, 4, 2, 1) against Conv2d 3x3 + PixelShuffle(2), forward +
    backward on 9x64x128² in each torch's Python (the reason fregan's up-blocks default to
    "subpixel"; measured in session 6, slow on Debian's torch, so off by default).
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


PIP_TORCH_SIZE = r"""
import importlib.metadata as md, re
seen, todo, total = set(), ["torch"], 0
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    seen.add(name)
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    total += sum(f.size or 0 for f in dist.files or [])
    for req in dist.requires or []:
        if "extra ==" not in req:
            todo.append(re.match(r"[A-Za-z0-9_.-]+", req).group(0))
print(total)
"""

FREGAN_SIZE = r"""
import importlib.metadata as md
print(sum(f.size or 0 for f in md.distribution("fregan").files or []))
"""


def torch_version(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import torch; print(torch.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def train_rate(venv: Path, model: str, work: Path) -> float:
    out = work / f"train-{model}"
    subprocess.run([str(venv / "bin" / "fregan"), "train", "--model", model, "--data", str(DATA / "videos" / "juggle.mp4"),
                    "--out", str(out), "--steps", "30", "--batch-size", "4", "--crop", "128", "--threads", "1",
                    "--val-every", "0", "--checkpoint-every", "1000", "--log-every", "1", "--overwrite",
                    "--max-frames", "60"], check=True, capture_output=True)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if line.strip()]
    steps = [r for r in records if "samples_per_second" in r]
    # The rate over steps 5-30: the first ones pay for allocation and oneDNN's kernel choice.
    first, last = steps[4], steps[-1]
    return (last["step"] - first["step"]) * 4 / (last["elapsed"] - first["elapsed"])


def inference_seconds(build: Path, threads: int) -> float:
    result = subprocess.run([str(build / "benchmarks" / "cpp" / "bm_flow"),
                             f"--benchmark_filter=FlowGuidedFrame1080p/{threads}/", "--benchmark_format=json"],
                            check=True, capture_output=True, text=True)
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


def install_bytes(name: str, venv: Path) -> dict:
    python = str(venv / "bin" / "python")
    fregan = int(subprocess.run([python, "-c", FREGAN_SIZE], check=True, capture_output=True, text=True).stdout)
    if name == "pip":
        torch = int(subprocess.run([python, "-c", PIP_TORCH_SIZE], check=True, capture_output=True, text=True).stdout)
    else:
        sizes = subprocess.run(["dpkg-query", "-W", "-f=${Installed-Size}\\n", "libtorch1.13", "libtorch-dev", "python3-torch"],
                               check=True, capture_output=True, text=True).stdout.split()
        torch = sum(int(k) for k in sizes) * 1024  # dpkg counts KiB
    return {"torch_install_bytes": torch, "fregan_install_bytes": fregan}


def main():
    parser = argparse.ArgumentParser(description="Debian's torch 1.13 vs pip's torch 2.x, side by side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--conv", action="store_true", help="also the ConvTranspose2d micro-measurement (slow on Debian's torch)")
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
        measurements = [(f"train_{m}_samples_per_s", lambda venv, build, m=m: train_rate(venv, m, work))
                        for m in ("fregan-flow", "fregan", "sepconv")]
        measurements += [
            ("fregan_flow_s_per_1080p_frame_1_thread", lambda venv, build: inference_seconds(build, 1)),
            ("fregan_flow_s_per_1080p_frame_2_threads", lambda venv, build: inference_seconds(build, 2)),
            ("doubling_1080p_job_s", lambda venv, build: job_seconds(venv, clip, work)),
            ("compile_trainer_cpp_s", lambda venv, build: compile_seconds(build)),
        ]
        if args.conv:
            measurements += [("conv_transposed_and_subpixel_s", lambda venv, build: conv_micro(venv))]
        for round_index in range(args.rounds):
            order = list(BUILDS) if round_index % 2 == 0 else list(reversed(BUILDS))
            for key, measure in measurements:
                for name in order:
                    venv, build = BUILDS[name]
                    load = os.getloadavg()[0]
                    value = measure(venv, build)
                    samples[name].setdefault(key, []).append(value)
                    samples[name].setdefault("load_average_1min", []).append(load)
                    print(f"{time.strftime('%H:%M:%S')} round {round_index + 1} {name} {key} = {value} (load {load:.2f})",
                          flush=True)
    for name, (venv, _) in BUILDS.items():
        results[name].update(install_bytes(name, venv))
    for name in BUILDS:
        results[name].update({k: statistics.median(v) for k, v in samples[name].items()
                              if not isinstance(v[0], tuple)})
        results[name]["load_average_range"] = [min(samples[name]["load_average_1min"]),
                                               max(samples[name]["load_average_1min"])]
        results[name]["rounds"] = samples[name]
    print(json.dumps({n: {k: v for k, v in r.items() if k != "rounds"} for n, r in results.items()}, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
