"""fregan: GAN-based video frame interpolation with a native (LibTorch + OpenCV) core.

Quick use::

    import fregan
    middle = fregan.interpolate(frame_a, frame_b)            # numpy HxWx3 uint8 RGB, or torch tensors
    fregan.interpolate("in.mp4", "out.mp4", factor=2)        # doubles a video's frame rate
    fregan.train(data=["clips/"], out="runs/first", steps=1000, callback=print)

Training, inference and data loading run in C++; this package converts arguments and adds
conveniences (a cached default interpolator, a progress iterator for notebooks).
"""
from __future__ import annotations

import os
import queue
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
import torch  # loads libtorch before the extension that links it

from . import _core, data, metrics
from ._core import CheckpointError, Error, FileError, InvalidArgument

__version__: str = _core.__version__
__all__ = [
    "Interpolator", "interpolate", "train", "train_iter", "evaluate", "checkpoint_info", "default_weights",
    "model_names", "read_image", "write_image", "set_log_level", "data", "metrics",
    "Error", "FileError", "InvalidArgument", "CheckpointError",
]

PathLike = Union[str, "os.PathLike[str]"]
Frame = Union[np.ndarray, torch.Tensor]

_IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def model_names() -> List[str]:
    """Names of the models fregan can build and train."""
    return list(_core.model_names())


def default_weights() -> str:
    """Path of the shipped default checkpoint (or $FREGAN_WEIGHTS)."""
    return _core.default_weights_path()


def checkpoint_info(path: PathLike) -> Dict[str, Any]:
    """The JSON header of a checkpoint: model, options, training step, validation figures."""
    return _core.read_checkpoint_meta(os.fspath(path))


def set_log_level(level: int) -> None:
    """0 debug, 1 info (default), 2 warnings only, 3 errors only, 4 silent."""
    _core.set_log_level(level)


def read_image(path: PathLike) -> np.ndarray:
    """Reads an image file as an HxWx3 uint8 RGB array."""
    return _core.read_image(os.fspath(path))


def write_image(path: PathLike, image: np.ndarray, overwrite: bool = False) -> None:
    """Writes an HxWx3 uint8 RGB array (atomically: temp file + rename)."""
    _core.write_image(os.fspath(path), image, overwrite)


class Interpolator:
    """A model loaded once, for many calls.

    >>> interp = fregan.Interpolator()           # the shipped default model, CPU or CUDA
    >>> middle = interp(frame_a, frame_b)

    tile > 0 runs the model on overlapping tile x tile pieces of larger frames (memory bounded by the
    tile, not the frame), blended without seams; tile_overlap pixels are shared by neighbours.
    """

    def __init__(self, weights: Optional[PathLike] = None, device: str = "auto", *, tile: int = 0,
                 tile_overlap: int = 128) -> None:
        self._native = _core.Interpolator(os.fspath(weights) if weights else "", device)
        if tile:
            self._native.set_tiling(tile, tile_overlap)

    @property
    def model_name(self) -> str:
        return self._native.model_name

    @property
    def device(self) -> str:
        return self._native.device

    def __call__(self, a: Frame, b: Frame, t: float = 0.5) -> Frame:
        """The frame at time t between a and b.

        numpy: HxWx3 (RGB) or HxW uint8 arrays -> HxWx3 uint8.  torch: [3, H, W] or [B, 3, H, W] float
        tensors in [0, 1] on any device -> the same layout on the same device.
        """
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            return self._native.interpolate_tensor(a, b, t)
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            for name, x in (("a", a), ("b", b)):
                if x.dtype != np.uint8:
                    raise InvalidArgument(f"{name}: expected a uint8 image, got dtype {x.dtype} (scale to 0..255 first)")
            if a.shape != b.shape:
                raise InvalidArgument(f"the two frames differ in size: {a.shape} vs {b.shape}")
            return self._native.interpolate_array(a, b, t)
        raise TypeError(f"expected two numpy arrays or two torch tensors, got {type(a).__name__} and {type(b).__name__}")

    def video(self, input: PathLike, output: PathLike, factor: int = 2, *, overwrite: bool = False,
              codec: str = "libx264", crf: int = 18, keep_audio: bool = True,
              progress: Optional[Callable[[int, int], None]] = None) -> Dict[str, Any]:
        """Multiplies a video's frame rate by `factor`; returns frame counts, rates and timing."""
        return self._native.interpolate_video(os.fspath(input), os.fspath(output), factor, overwrite, codec, crf,
                                              keep_audio, progress)


_cache: Dict[tuple, Interpolator] = {}


def _interpolator(weights: Optional[PathLike], device: str) -> Interpolator:
    key = (os.fspath(weights) if weights else "", device)
    if key not in _cache:
        _cache[key] = Interpolator(weights, device)
    return _cache[key]


def interpolate(a: Union[Frame, PathLike], b: Union[Frame, PathLike], *, t: float = 0.5, factor: int = 2,
                weights: Optional[PathLike] = None, device: str = "auto", overwrite: bool = False,
                progress: Optional[Callable[[int, int], None]] = None, **video_options: Any) -> Any:
    """Interpolates two frames, or a whole video.

    - ``interpolate(a, b)`` with numpy arrays or torch tensors returns the middle frame (or the frame
      at time ``t``) in the same form.
    - ``interpolate("a.png", "b.png")`` reads two image files and returns the middle frame as an array.
    - ``interpolate("in.mp4", "out.mp4", factor=2)`` writes a video with ``factor`` times the frame
      rate and the same duration, keeping the audio; returns a dict of what was done.

    The model is the shipped default unless ``weights`` names a checkpoint; it is loaded once and
    cached.
    """
    if isinstance(a, (str, os.PathLike)):
        a_path, b_path = os.fspath(a), os.fspath(b)  # type: ignore[arg-type]
        if os.path.splitext(a_path)[1].lower() in _IMAGE_EXTS:
            return _interpolator(weights, device)(read_image(a_path), read_image(b_path), t)
        if not os.path.exists(a_path):
            raise FileError(f"video '{a_path}' does not exist")
        return _interpolator(weights, device).video(a_path, b_path, factor, overwrite=overwrite, progress=progress,
                                                    **video_options)
    return _interpolator(weights, device)(a, b, t)  # type: ignore[arg-type]


def _train_options(data: Union[PathLike, Sequence[PathLike]], out: PathLike, model: str,
                   options: Dict[str, Any]) -> Dict[str, Any]:
    sources = [os.fspath(data)] if isinstance(data, (str, os.PathLike)) else [os.fspath(d) for d in data]
    opts: Dict[str, Any] = {"model": model, "data": sources, "out_dir": os.fspath(out)}
    for key, value in options.items():
        if key == "val_data" and value is not None:
            value = [os.fspath(value)] if isinstance(value, (str, os.PathLike)) else [os.fspath(v) for v in value]
        opts[key] = value
    return opts


def train(data: Union[PathLike, Sequence[PathLike]], out: PathLike, *, model: str = "fregan",
          callback: Optional[Callable[[Dict[str, Any]], Optional[bool]]] = None, **options: Any) -> Dict[str, Any]:
    """Trains a model with the C++ loop (the same as ``fregan train``).

    ``options`` are the fields of the C++ TrainerOptions: steps, batch_size, crop, lr_g, lr_d,
    loss (generator loss weights over the model's defaults, e.g. ``{"l1": 1, "ms_ssim": 1,
    "adversarial": 0}``), val_data, val_fraction, frame_skip, resume, overwrite, seed, device, ... .
    ``callback(progress)`` gets a dict every step (step, losses, samples_per_second, eta_seconds,
    and 'validation' on validation steps); returning False stops training after a checkpoint.
    Returns the last validation result.  KeyboardInterrupt also stops it cleanly.
    """
    return _core.train(_train_options(data, out, model, options), callback)


def train_iter(data: Union[PathLike, Sequence[PathLike]], out: PathLike, *, model: str = "fregan",
               **options: Any) -> Iterator[Dict[str, Any]]:
    """Like :func:`train`, but yields the progress dicts (for a live plot in a notebook).

    Training runs on a background thread; leaving the loop early stops it after a checkpoint.
    """
    events: "queue.Queue[Any]" = queue.Queue(maxsize=64)
    stop = threading.Event()
    done = object()
    result: Dict[str, Any] = {}

    def callback(progress: Dict[str, Any]) -> bool:
        while not stop.is_set():
            try:
                events.put(progress, timeout=0.1)
                break
            except queue.Full:
                continue
        return not stop.is_set()

    def run() -> None:
        try:
            result.update(train(data, out, model=model, callback=callback, **options))
            events.put(done)
        except BaseException as e:  # handed to the consumer
            events.put(e)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        while True:
            item = events.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def evaluate(data: Union[PathLike, Sequence[PathLike]], weights: Optional[PathLike] = None, *, frame_skip: int = 1,
             max_triplets: int = 0, max_frames: int = 0, device: str = "auto") -> Dict[str, Any]:
    """PSNR/SSIM of a model on triplets from clips, beside the repeat-frame and average baselines."""
    sources = [os.fspath(data)] if isinstance(data, (str, os.PathLike)) else [os.fspath(d) for d in data]
    return _core.evaluate(os.fspath(weights) if weights else "", sources, frame_skip, max_triplets, max_frames, device)
