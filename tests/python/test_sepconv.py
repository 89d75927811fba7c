"""SepConv / AdaConv through the Python API: train a tiny model two steps, interpolate with and
without tiling."""
import numpy as np
import pytest

import fregan


@pytest.mark.parametrize("model", ["sepconv", "adaconv"])
def test_train_two_steps_and_interpolate(model, clip_folder, tmp_path):
    assert model in fregan._core.model_names()
    fregan.set_log_level(2)
    fregan.train(clip_folder, tmp_path / "run", model=model, steps=2, batch_size=2, crop=32, val_fraction=0,
                 workers=1, device="cpu", generator_options={"kernel_size": 5, "base_channels": 4, "levels": 2})
    fregan.set_log_level(1)
    info = fregan.checkpoint_info(tmp_path / "run" / "last.pt")
    assert info["model"] == model and info["step"] == 2
    assert info["generator_options"]["kernel_size"] == 5

    a = fregan.read_image(clip_folder / "000.png")
    b = fregan.read_image(clip_folder / "002.png")
    whole = fregan.Interpolator(tmp_path / "run" / "last.pt", device="cpu")
    assert whole.model_name == model
    mid = whole(a, b)
    assert mid.shape == a.shape and mid.dtype == np.uint8
    # Kernels are normalised over both frames: the result stays within the frames' range per channel.
    lo = np.minimum(a.min(axis=(0, 1)), b.min(axis=(0, 1)))
    hi = np.maximum(a.max(axis=(0, 1)), b.max(axis=(0, 1)))
    assert (mid.min(axis=(0, 1)) >= lo).all() and (mid.max(axis=(0, 1)) <= hi).all()
    # Tiles of 32 with overlap 16 on a 64x64 frame: four tiles, blended; close to the whole-frame result.
    tiled = fregan.Interpolator(tmp_path / "run" / "last.pt", device="cpu", tile=32, tile_overlap=16)(a, b)
    assert tiled.shape == a.shape
    assert np.abs(tiled.astype(int) - mid.astype(int)).mean() < 2.0
    with pytest.raises(fregan.InvalidArgument, match="overlap"):
        fregan.Interpolator(tmp_path / "run" / "last.pt", device="cpu", tile=32, tile_overlap=32)
