"""One way to fail (issue 16): the same mistake gives the same Python exception type from every
entry point (the Python API, the native binding under it, and the registry's task lookup)."""
import numpy as np
import pytest
import torch

import fregan
from conftest import moving_square


def _raised(call):
    with pytest.raises(Exception) as info:
        call()
    return info


@pytest.fixture(scope="module")
def interpolators(tiny_checkpoint):
    """The Python Interpolator and the native one it wraps."""
    wrapper = fregan.Interpolator(tiny_checkpoint, device="cpu")
    return wrapper, fregan._core.Interpolator(str(tiny_checkpoint), "cpu")


def test_size_mismatch_is_invalid_argument_everywhere(interpolators):
    wrapper, native = interpolators
    a32, a40 = moving_square(32, 32, 4), moving_square(40, 32, 4)
    t8, t9 = torch.rand(3, 8, 8), torch.rand(3, 8, 9)
    calls = {
        "wrapper, arrays": lambda: wrapper(a32, a40),
        "wrapper, tensors": lambda: wrapper(t8, t9),
        "native, arrays": lambda: native.interpolate_array(a32, a40, 0.5),
        "native, tensors": lambda: native.interpolate_tensor(t8, t9, 0.5),
    }
    for name, call in calls.items():
        info = _raised(call)
        assert info.type is fregan.InvalidArgument, f"{name}: {info.type.__name__}: {info.value}"
        assert isinstance(info.value, ValueError)
        assert "size" in str(info.value), f"{name}: {info.value}"


def test_neighbour_size_mismatch_is_invalid_argument():
    """A model that uses the neighbours (the shipped fregan-flow) checks their size too."""
    native = fregan._core.Interpolator(fregan._core.resolve_weights("fregan-flow"), "cpu")
    assert native.uses_neighbours
    frame = torch.rand(3, 16, 16)
    info = _raised(lambda: native.interpolate_tensor(frame, frame, 0.5, torch.rand(3, 16, 17), None))
    assert info.type is fregan.InvalidArgument, f"{info.type.__name__}: {info.value}"
    assert "neighbour" in str(info.value)


def test_bad_time_is_invalid_argument_everywhere(interpolators):
    wrapper, native = interpolators
    a = moving_square(32, 32, 4)
    t = torch.rand(3, 16, 16)
    calls = {
        "wrapper, arrays": lambda: wrapper(a, a, 1.5),
        "wrapper, tensors": lambda: wrapper(t, t, 0.0),
        "native, arrays": lambda: native.interpolate_array(a, a, 1.5),
        "native, tensors": lambda: native.interpolate_tensor(t, t, 0.0),
    }
    for name, call in calls.items():
        info = _raised(call)
        assert info.type is fregan.InvalidArgument, f"{name}: {info.type.__name__}: {info.value}"
        assert "t must be" in str(info.value), f"{name}: {info.value}"


def test_metric_size_mismatch_is_invalid_argument():
    info = _raised(lambda: fregan.metrics.psnr(moving_square(32, 32, 4), moving_square(40, 32, 4)))
    assert info.type is fregan.InvalidArgument
    assert isinstance(info.value, ValueError)


def test_registry_tasks():
    assert fregan._core.model_task("fregan-flow") == "interpolate"
    assert fregan._core.model_task("dcgan") == "generate"
    assert fregan._core.model_task("spectraframe") == "upscale"
    info = _raised(lambda: fregan._core.model_task("nope"))
    assert info.type is fregan.InvalidArgument
    assert "unknown model 'nope'" in str(info.value) and "spectraframe" in str(info.value)
    # train() chooses its loop by the task: an unknown model is refused before any data is read.
    info = _raised(lambda: fregan.train("/nonexistent", "/nonexistent-out", model="nope"))
    assert info.type is fregan.InvalidArgument


def test_frames_beyond_memory_and_tiles_on_flow_models_are_refused(monkeypatch):
    """Issue 17 item 4: the memory a pair needs is estimated before any work (fregan-flow: 60 bytes
    per pixel); a flow model cannot tile its way out, so both are refused with the fix."""
    a, b = moving_square(256, 256, 40), moving_square(256, 256, 56)
    monkeypatch.setenv("FREGAN_MEMORY_LIMIT_BYTES", "2000000")
    with pytest.raises(fregan.InvalidArgument, match=r"256x256 frames with fregan-flow needs about 4 MB of memory "
                                                     r"and this machine has 2 MB available: downscale the input first"):
        fregan.interpolate(a, b)
    monkeypatch.delenv("FREGAN_MEMORY_LIMIT_BYTES")
    assert fregan.interpolate(a, b).shape == a.shape
    with pytest.raises(fregan.InvalidArgument, match="--tile does not work with fregan-flow"):
        fregan.Interpolator(device="cpu", tile=512)
