"""The defaults the Python signatures document are the C++ options structs' own (the structs hold
them once; the signatures only show them): every keyword with a default maps to a struct field of
the same value."""
import inspect

import pytest

import fregan
from fregan import _core, data

# (function, options struct, Python keyword -> struct fields it sets, keywords that are no field)
FACES = [
    (fregan.evaluate, "evaluate", {}, {"weights"}),
    (data.prepare, "prepare",
     {"max_frames": ["max_frames_per_source"], "cut_threshold": ["scene", "cut_threshold"],
      "static_threshold": ["scene", "static_threshold"]}, {"progress"}),
    (data.TripletDataset.__init__, "triplet_dataset",
     {"max_frames": ["max_frames_per_source"], "max_triplets": ["max_triplets_per_source"]}, set()),
    (data.TripletDataset.batch, "triplet_batch", {}, set()),
    (data.FrameDataset.__init__, "frame_dataset", {"max_frames": ["max_frames_per_source"]}, set()),
    (data.FrameDataset.batch, "frame_batch", {}, set()),
    (data.SrDataset.__init__, "sr_dataset", {"max_frames": ["max_frames_per_source"]}, set()),
    (data.SrDataset.batch, "sr_batch", {"flip": ["augment", "hflip"], "rotate": ["augment", "rotate"]}, set()),
    # Its other keywords default to None: the struct's default.
    (fregan.Interpolator.video, "video", {}, {"progress"}),
]


def _field(options, path):
    for key in path:
        options = options[key]
    return options


@pytest.mark.parametrize("function, struct, renamed, python_only", FACES,
                         ids=[f"{f.__qualname__}" for f, *_ in FACES])
def test_signature_defaults_are_the_structs(function, struct, renamed, python_only):
    defaults = _core.default_options(struct)
    checked = 0
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.default is inspect.Parameter.empty or parameter.default is None or name in python_only:
            continue
        assert _field(defaults, renamed.get(name, [name])) == parameter.default, f"{struct}: {name}"
        checked += 1
    assert checked >= 1


def test_sr_batch_flip_is_both_flips():
    # SrDataset.batch(flip=...) sets both of the struct's flips: their defaults agree.
    augment = _core.default_options("sr_batch")["augment"]
    assert augment["hflip"] == augment["vflip"] is True


def test_unknown_struct_is_refused():
    with pytest.raises(fregan.InvalidArgument, match="video"):
        _core.default_options("nothing")
