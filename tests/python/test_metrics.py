"""The core library's metrics against independent implementations on real frames."""
import numpy as np
import pytest

import fregan


def _real_pair(shared_data):
    folder = shared_data / "triplets" / "vimeo90k" / "triplet_A"
    return fregan.read_image(folder / "im1.png"), fregan.read_image(folder / "im2.png")


def test_ssim_agrees_with_scikit_image_on_real_frames(shared_data):
    metrics = pytest.importorskip("skimage.metrics", reason="scikit-image (Debian's python3-skimage) is not installed")
    a, b = _real_pair(shared_data)
    expected = metrics.structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                             use_sample_covariance=False, data_range=255)
    assert 0.3 < expected < 0.999  # a real, different pair
    assert fregan.metrics.ssim(a, b) == pytest.approx(expected, abs=1e-3)
    # Grayscale too (the channel average must not hide a per-channel error).
    ga, gb = a[..., 1].copy(), b[..., 1].copy()
    expected_g = metrics.structural_similarity(ga, gb, gaussian_weights=True, sigma=1.5,
                                               use_sample_covariance=False, data_range=255)
    assert fregan.metrics.ssim(np.stack([ga] * 3, -1), np.stack([gb] * 3, -1)) == pytest.approx(expected_g, abs=1e-3)


def test_psnr_agrees_with_numpy_on_real_frames(shared_data):
    a, b = _real_pair(shared_data)
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    assert fregan.metrics.psnr(a, b) == pytest.approx(10 * np.log10(255.0 ** 2 / mse), abs=1e-6)


def test_ms_ssim_of_identical_and_noisier_real_frames(shared_data):
    a, _ = _real_pair(shared_data)
    assert fregan.metrics.ms_ssim(a, a) == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(0)
    scores = [fregan.metrics.ms_ssim(a, np.clip(a + rng.normal(0, s, a.shape), 0, 255).astype(np.uint8))
              for s in (2, 8, 32)]
    assert scores[0] > scores[1] > scores[2] > 0


def test_metrics_refuse_mismatched_sizes():
    a = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(fregan.InvalidArgument, match="differ in size"):
        fregan.metrics.ssim(a, np.zeros((32, 31, 3), np.uint8))
    with pytest.raises(fregan.InvalidArgument, match="at least 11x11"):
        fregan.metrics.ms_ssim(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8))
