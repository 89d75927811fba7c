"""Where repeated frames and moving frames fall on the held-frame measure (issue 18, --dedup).

For each clip of ../shared/data/clips made into a "held" copy (``fps=12.5,fps=25``: every frame twice)
and a plain copy, both re-encoded by x264 at a CRF, prints the sorted per-pair measure of
``data::held_difference`` (replicated here in numpy: 160-px-wide grey copies by area averaging, a 5x5
Gaussian blur of sigma 1, the largest mean of the 8x8 blocks of their absolute difference).

    python benchmarks/python/held_threshold.py [CRF ...]
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CLIPS = Path(__file__).resolve().parents[3] / "shared" / "data" / "clips"
NAMES = ["sam2_02_cups.mp4", "mdn_hisgirlfriday_bw_film.mp4", "moviepy_chaplin_bw_film.mp4"]


def grey_copies(path: Path, width: int = 160) -> np.ndarray:
    size = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                           "-of", "csv=p=0", str(path)], capture_output=True, text=True, check=True).stdout.split(",")
    height = round(int(size[1]) * width / int(size[0]))
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"scale={width}:{height}:flags=area,format=gray",
                          "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width).astype(np.float32)


def blur(x: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    k = np.exp(-0.5 * (np.arange(-2, 3) / sigma) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        x = np.apply_along_axis(lambda r: np.convolve(np.pad(r, 2, mode="edge"), k, "valid"), axis, x)
    return x


def held_difference(a: np.ndarray, b: np.ndarray) -> float:
    d = np.abs(a - b)
    h, w = (d.shape[0] // 8) * 8, (d.shape[1] // 8) * 8
    return float(d[:h, :w].reshape(h // 8, 8, w // 8, 8).mean(axis=(1, 3)).max())


def main() -> None:
    crfs = [int(c) for c in sys.argv[1:]] or [23, 30]
    with tempfile.TemporaryDirectory() as tmp:
        for name in NAMES:
            for crf in crfs:
                for kind, chain in (("held", "fps=12.5,fps=25"), ("plain", "fps=25")):
                    out = Path(tmp) / f"{kind}.mp4"
                    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(CLIPS / name), "-t", "4", "-vf",
                                    f"scale=640:-2,{chain}", "-an", "-c:v", "libx264", "-crf", str(crf), str(out)], check=True)
                    f = [blur(x) for x in grey_copies(out)]
                    v = np.sort([held_difference(a, b) for a, b in zip(f[:-1], f[1:])])
                    below = (v < 3.0).sum()
                    print(f"{name:32s} CRF {crf} {kind:5s}: {len(v)} pairs, {below} below 3.0; "
                          f"largest below 8: {v[v < 8].max() if (v < 8).any() else '-':.4}, next: {np.round(v[v >= 8][:3], 1)}")


if __name__ == "__main__":
    main()
