"""Datasets for notebooks: look at samples, count what was kept, prepare a memory-mapped dataset.

The loading, cut detection, cropping and augmentation run in C++; these classes return numpy
arrays (single samples, HxWx3 uint8 RGB) and torch tensors (batches, float RGB in [0, 1]).

>>> from fregan import data
>>> report = data.prepare(["clips/"], "datasets/clips", task="triplets")   # decode once, split by clip
>>> ds = data.TripletDataset("datasets/clips", split="val")
>>> f0, f1, f2 = ds[0]                        # numpy arrays; f1 is the true middle frame
>>> a, mid, b = ds.batch(0, batch_size=4, crop=128)   # tensors [4, 3, 128, 128]
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from . import _core

PathLike = Union[str, "os.PathLike[str]"]
Sources = Union[PathLike, Sequence[PathLike]]

__all__ = ["prepare", "TripletDataset", "FrameDataset", "SrDataset"]


def _paths(sources: Sources) -> list:
    if isinstance(sources, (str, os.PathLike)):
        return [os.fspath(sources)]
    return [os.fspath(s) for s in sources]


def prepare(videos: Sources, out: PathLike, *, task: str = "triplets", frame_skip: int = 1, max_frames: int = 0,
            target_frames: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0,
            cut_threshold: float = 30.0, static_threshold: float = 0.5, sr_scale: int = 4, overwrite: bool = False,
            progress: Optional[Callable[[int, int, str], None]] = None) -> Dict[str, Any]:
    """Decodes clips once into `out` (memory-mapped frame files + manifest.json with a train/val/test
    split by clip).  Same as ``fregan prepare``.  Returns the counts (clips per split, frames,
    samples, triplets dropped across cuts and as near-static, warnings)."""
    options = dict(videos=_paths(videos), out=os.fspath(out), task=task, frame_skip=frame_skip,
                   max_frames_per_source=max_frames, target_frames=target_frames, val_fraction=val_fraction,
                   test_fraction=test_fraction, seed=seed, sr_scale=sr_scale, overwrite=overwrite,
                   scene=dict(cut_threshold=cut_threshold, static_threshold=static_threshold))
    return _core.prepare(options, progress)


class TripletDataset:
    """Interpolation triplets (F0, F1, F2) from videos, frame folders or prepared datasets."""

    def __init__(self, sources: Sources, *, split: str = "train", frame_skip: int = 1, max_frames: int = 0,
                 max_triplets: int = 0, drop_cuts: bool = True, drop_static: bool = True) -> None:
        self._native = _core.TripletDataset(dict(sources=_paths(sources), split=split, frame_skip=frame_skip,
                                                 max_frames_per_source=max_frames,
                                                 max_triplets_per_source=max_triplets, drop_cuts=drop_cuts,
                                                 drop_static=drop_static))

    def __len__(self) -> int:
        return len(self._native)

    def __getitem__(self, i: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._native[i]

    def source_of(self, i: int) -> Tuple[str, int]:
        """(clip path, frame number of F0) of triplet i."""
        return self._native.source_of(i)

    @property
    def stats(self) -> Dict[str, int]:
        """clips, frames, triplets kept; dropped_cut, dropped_static, skipped_clips."""
        return self._native.stats

    def batch(self, k: int, *, batch_size: int = 9, crop: int = 256, hflip: bool = True, vflip: bool = True,
              rotate: bool = False, temporal_reverse: bool = True,
              seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training batch k (random crops and augmentation drawn from (seed, k)): F0, F1, F2."""
        return self._native.batch(k, dict(batch_size=batch_size, crop=crop, hflip=hflip, vflip=vflip, rotate=rotate,
                                          temporal_reverse=temporal_reverse, seed=seed))


class FrameDataset:
    """Single frames (for unconditional GANs), every k-th frame or thinned to about `target_frames`."""

    def __init__(self, sources: Sources, *, split: str = "train", frame_skip: int = 1, target_frames: int = 0,
                 max_frames: int = 0) -> None:
        self._native = _core.FrameDataset(dict(sources=_paths(sources), split=split, frame_skip=frame_skip,
                                               target_frames=target_frames, max_frames_per_source=max_frames))

    def __len__(self) -> int:
        return len(self._native)

    def __getitem__(self, i: int) -> np.ndarray:
        return self._native[i]

    @property
    def frame_skip(self) -> int:
        return self._native.frame_skip

    def batch(self, k: int, *, batch_size: int = 64, height: int = 160, width: int = 320, shuffle: bool = True,
              hflip: bool = False, seed: int = 0) -> torch.Tensor:
        """[B, 3, height, width]; shuffle=False keeps temporal order (batch k = frames kB .. kB+B-1)."""
        return self._native.batch(k, dict(batch_size=batch_size, height=height, width=width, shuffle=shuffle,
                                          hflip=hflip, seed=seed))


class SrDataset:
    """Super-resolution samples: HR crops, their bicubic LR, and LR neighbours."""

    def __init__(self, sources: Sources, *, split: str = "train", max_frames: int = 0) -> None:
        self._native = _core.SrDataset(dict(sources=_paths(sources), split=split, max_frames_per_source=max_frames))

    def __len__(self) -> int:
        return len(self._native)

    def batch(self, k: int, *, batch_size: int = 8, scale: int = 4, hr_crop: int = 128, neighbours: int = 6,
              flip: bool = True, rotate: bool = True, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(HR [B,3,c,c], LR [B,3,c/s,c/s], neighbours [B,n,3,c/s,c/s])."""
        return self._native.batch(k, dict(batch_size=batch_size, scale=scale, hr_crop=hr_crop, neighbours=neighbours,
                                          augment=dict(hflip=flip, vflip=flip, rotate=rotate), seed=seed))
