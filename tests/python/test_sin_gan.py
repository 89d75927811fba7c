"""SIN-GAN through the Python API: trained by fregan.train, used by fregan.interpolate."""
import json

import numpy as np

import fregan
from conftest import moving_square


def test_sin_gan_trains_and_interpolates(clip_folder, tmp_path):
    assert "sin-gan" in fregan.model_names()
    out = tmp_path / "run"
    fregan.set_log_level(2)
    try:
        result = fregan.train(clip_folder, out, model="sin-gan", steps=2, batch_size=2, crop=32, val_data=clip_folder,
                              workers=1, device="cpu", log_every=1,
                              generator_options={"encoder_channels": [4, 8, 8, 8], "decoder_channels": [8, 8, 8, 4],
                                                 "refine": True, "refine_channels": 4},
                              discriminator_options={"channels": [4, 4, 8, 8]})
    finally:
        fregan.set_log_level(1)
    assert result["model"]["psnr"] > 10
    info = fregan.checkpoint_info(out / "last.pt")
    assert info["model"] == "sin-gan" and info["step"] == 2
    assert info["generator_options"]["refine"] is True
    # Every loss term of the model's defaults is logged.
    steps = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    terms = [s["terms"] for s in steps if "terms" in s]
    assert len(terms) == 2
    assert {"l1", "ms_ssim", "clipping", "adversarial", "stage0_l1"} <= set(terms[-1])
    # Any size works (size_multiple 1): an odd one here.
    a, b = moving_square(53, 37, 4), moving_square(53, 37, 12)
    mid = fregan.interpolate(a, b, weights=out / "last.pt", device="cpu")
    assert mid.shape == (37, 53, 3) and mid.dtype == np.uint8
    # Two frames steps from the frame average: the output is still close to it.
    avg = (a.astype(np.float32) + b) / 2
    assert np.abs(mid.astype(np.float32) - avg).mean() < 20
