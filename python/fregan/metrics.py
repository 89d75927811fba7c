"""Image quality metrics computed by the C++ core (the ones training and evaluation report).

All take two HxWx3 (RGB) or HxW uint8 arrays of the same size; data range 255.
"""
from __future__ import annotations

import numpy as np

from . import _core


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` for identical images)."""
    return _core.psnr(a, b)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM with an 11x11 Gaussian window (sigma 1.5) over the valid region, channels averaged.

    Equals scikit-image's ``structural_similarity(a, b, channel_axis=2, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=255)``.
    """
    return _core.ssim(a, b)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Multi-scale SSIM: up to 5 scales with the standard weights; fewer for small images."""
    return _core.ms_ssim(a, b)


__all__ = ["psnr", "ssim", "ms_ssim"]
