"""fregan: GAN-based video frame interpolation with a native (LibTorch + OpenCV) core.

Quick use::

    import fregan
    middle = fregan.interpolate(frame_a, frame_b)            # numpy HxWx3 uint8 RGB, or torch tensors
    fregan.interpolate("in.mp4", "out.mp4", factor=2)        # doubles a video's frame rate
    fregan.train(data=["clips/"], out="runs/first", steps=1000, callback=print)
    frames = fregan.generate(16, seed=0)                     # DCGAN: 16 frames from noise (RGB uint8)
    walk = fregan.generate_walk(seed=0, keys=4)              # ... and frames morphing through 4 of them
    report = fregan.upscale("in.mp4", "out.mp4")             # SpectraFrame x4: PSNR/SSIM vs bicubic

Training, inference and data loading run in C++; this package converts arguments and adds
conveniences (a cached default interpolator, a progress iterator for notebooks).
"""
from __future__ import annotations

import os
import queue
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch  # loads libtorch before the extension that links it

from ._torch_check import check_torch as _check_torch

_check_torch(torch)  # before the extension: one clear line instead of a missing symbol

from . import _core, data, metrics  # noqa: E402
from ._core import CheckpointError, Error, FileError, InvalidArgument  # noqa: E402

__version__: str = _core.__version__
__all__ = [
    "Interpolator", "interpolate", "train", "train_iter", "evaluate", "checkpoint_info", "default_weights",
    "generate", "generate_walk", "make_grid", "upscale", "model_names", "models", "load", "export", "Generator", "Upscaler", "flow_warp",
    "read_image", "write_image", "set_log_level", "data",
    "metrics",
    "Error", "FileError", "InvalidArgument", "InvalidType", "CheckpointError",
]

PathLike = Union[str, "os.PathLike[str]"]
Frame = Union[np.ndarray, torch.Tensor]

_IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
# The smallest frame side the models take (smaller ones fail inside the network).
_MIN_SIDE = 8


class InvalidType(InvalidArgument, TypeError):
    """An argument of the wrong type: a fregan.InvalidArgument (one hierarchy for every mistake)
    that is also the TypeError Python code expects."""


def _time(t: Any, name: str = "t") -> float:
    """``t`` as a float in (0, 1), or InvalidArgument naming what was given."""
    if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)):
        raise InvalidType(f"{name} must be a number in (0, 1), got {t!r} ({type(t).__name__})")
    value = float(t)
    if not (0.0 < value < 1.0):
        raise InvalidArgument(f"{name} must be in (0, 1) (a time between the two frames), got {value}")
    return value


def _whole_number(value: Any, name: str, lowest: int) -> int:
    """``value`` as an int >= ``lowest``, or InvalidArgument (2.5, "2", True are not whole numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidType(f"{name} must be a whole number >= {lowest}, got {value!r} ({type(value).__name__})")
    if int(value) < lowest:
        raise InvalidArgument(f"{name} must be >= {lowest}, got {int(value)}")
    return int(value)


def _rate(value: Any, name: str) -> Optional[float]:
    """A frame rate: None, or a finite number in [0.1, 1000]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidType(f"{name} must be a frame rate (a number), got {value!r} ({type(value).__name__})")
    rate = float(value)
    if not (np.isfinite(rate) and 0.1 <= rate <= 1000):
        raise InvalidArgument(f"{name} must be between 0.1 and 1000 frames per second, got {rate}")
    return rate


def _job_options(**options: Any) -> Dict[str, Any]:
    """Keyword arguments as a job's options dict for the native module (fields of the C++ options
    struct, read strictly there); those left at None take the struct's own defaults."""
    return {key: value for key, value in options.items() if value is not None}


def _check_array(x: Any, name: str) -> np.ndarray:
    """An image array as the core takes it: HxW, HxWx3 (RGB) or HxWx4 (RGBA), uint8 or uint16."""
    if not isinstance(x, np.ndarray):
        raise InvalidType(f"{name}: expected a numpy array (HxWx3 RGB uint8), got {type(x).__name__}")
    layout = "HxWx3 (RGB), HxWx4 (RGBA) or HxW uint8 or uint16 array"
    if x.ndim == 3 and x.shape[2] not in (3, 4):
        hint = " (this looks channels-first: pass a.transpose(1, 2, 0))" if x.shape[0] in (3, 4) else ""
        raise InvalidArgument(f"{name}: expected an {layout}, got shape {tuple(x.shape)}{hint}")
    if x.ndim not in (2, 3):
        hint = " (a batch: pass one image at a time)" if x.ndim == 4 else ""
        raise InvalidArgument(f"{name}: expected an {layout}, got shape {tuple(x.shape)}{hint}")
    if x.dtype not in (np.uint8, np.uint16):
        raise InvalidArgument(f"{name}: expected a uint8 or uint16 image, got dtype {x.dtype} "
                              "(scale to 0..255 and convert with .astype(np.uint8) first)")
    if x.shape[0] < _MIN_SIDE or x.shape[1] < _MIN_SIDE:
        raise InvalidArgument(f"{name}: the image is {x.shape[1]}x{x.shape[0]} (WxH); fregan needs at least "
                              f"{_MIN_SIDE}x{_MIN_SIDE} pixels")
    return np.ascontiguousarray(x)


def _check_tensors(a: torch.Tensor, b: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, bool]:
    """Two frames as the core takes them ([3, H, W] or [B, 3, H, W] float in [0, 1]) and whether they
    came as uint8 (0..255, as torchvision.io.read_image gives them: the result goes back as uint8)."""
    for name, x in (("a", a), ("b", b)):
        if x.dim() not in (3, 4) or x.shape[-3] != 3:
            raise InvalidArgument(f"{name}: expected a [3, H, W] or [B, 3, H, W] tensor, got shape {list(x.shape)}")
        if x.shape[-1] < _MIN_SIDE or x.shape[-2] < _MIN_SIDE:
            raise InvalidArgument(f"{name}: the frame is {x.shape[-1]}x{x.shape[-2]} (WxH); fregan needs at least "
                                  f"{_MIN_SIDE}x{_MIN_SIDE} pixels")
    if a.shape != b.shape:
        raise InvalidArgument(f"the two frames differ in size: {list(a.shape)} vs {list(b.shape)}")
    if a.dtype != b.dtype:
        raise InvalidArgument(f"the two frames differ in dtype: {a.dtype} vs {b.dtype}")
    if a.dtype == torch.uint8:
        return a.float().div_(255), b.float().div_(255), True
    if not a.is_floating_point():
        raise InvalidArgument(f"expected float tensors in [0, 1] or uint8 tensors in 0..255, got dtype {a.dtype}")
    for name, x in (("a", a), ("b", b)):
        if not bool(torch.isfinite(x).all()):
            raise InvalidArgument(f"{name} holds NaN or infinite values")
        low, high = float(x.min()), float(x.max())
        if low < 0 or high > 1:
            raise InvalidArgument(f"{name}: float frames must be in [0, 1], got values from {low:g} to {high:g} "
                                  "(divide 0..255 data by 255, or pass a uint8 tensor)")
    return a, b, False


def model_names() -> List[str]:
    """Names of the models fregan can build and train."""
    return list(_core.model_names())


def models(task: Optional[str] = None) -> List[Dict[str, Any]]:
    """The shipped checkpoints (the model zoo), from the manifest beside them: name, task
    ("interpolation", "generation", ...), model, bytes, step, the exact training ``command``,
    ``data`` / ``val_data``, ``validation`` figures (PSNR/SSIM of the model and the baselines on the
    held-out triplets) and ``path``.  ``task`` keeps only that task's entries.

    >>> [(m["name"], m["validation"]["model"]["psnr"]) for m in fregan.models("interpolation")]
    """
    entries = list(_core.shipped_models())
    return [e for e in entries if task is None or e["task"] == task]


def load(name: PathLike, device: str = "auto", **options: Any) -> Union["Interpolator", "Generator", "Upscaler"]:
    """A model ready to use, by shipped name (see :func:`models`) or checkpoint path: an
    :class:`Interpolator` for interpolation models, a :class:`Generator` for DCGANs, an
    :class:`Upscaler` for SpectraFrame.  ``options``
    go to the constructor (e.g. ``tile=512`` for an Interpolator).

    >>> interp = fregan.load("sin-gan"); middle = interp(a, b)
    """
    path = _core.resolve_weights(os.fspath(name))
    task = _task_of(checkpoint_info(path)["model"])
    if task == "generate":
        return Generator(path, device)
    if task == "upscale":
        return Upscaler(path, device)
    return Interpolator(path, device, **options)


def _task_of(model: str) -> str:
    """The task of a checkpoint's model family (the registry's); a model this fregan does not know
    goes to the Interpolator, which refuses it with a CheckpointError naming the file."""
    try:
        return _core.model_task(model)
    except InvalidArgument:
        return "interpolate"


def export(weights: PathLike, output: PathLike, *, size: Optional[Sequence[int]] = None,
           **options: Any) -> Dict[str, Any]:
    """Writes an interpolation generator (shipped name or checkpoint) as a TorchScript module for use
    without fregan: ``torch.jit.load(output)(frame0, frame2)`` on [B, 3, H, W] float frames in [0, 1]
    gives the middle frame.  Traced for [``batch``, 3, H, W] with ``size`` = (H, W) (multiples of 16:
    other shapes may fail), with the weights baked in;
    fregan-flow cannot be exported (its optical flow is OpenCV's).  The written module is loaded back
    and checked against the native model (max difference <= ``check_tolerance``); returns model,
    path and that difference.  ``options`` are the other fields of the C++ ExportOptions (batch,
    check_tolerance, overwrite), with its defaults (256x256, batch 1, tolerance 1e-4)."""
    if size is not None:
        options["height"], options["width"] = (int(s) for s in size)
    return _core.export_torchscript(os.fspath(weights), os.fspath(output), options)


def flow_warp(a: np.ndarray, b: np.ndarray, t: float = 0.5, preset: str = "medium",
              sampling: str = "bilinear", *, before: Optional[np.ndarray] = None,
              after: Optional[np.ndarray] = None) -> np.ndarray:
    """Plain optical-flow interpolation, no network: DIS flow both ways, both frames warped to time
    t and blended (1 - t) : t.  The baseline every learned model is compared with.  ``preset``: DIS
    "ultrafast", "fast", "medium" or fregan's "fine"; ``sampling``: "bilinear" or "bicubic".
    ``before`` / ``after`` (the frames around the pair): the four-frame, acceleration-aware flows."""
    frames = [("a", a), ("b", b)] + [(n, x) for n, x in (("before", before), ("after", after)) if x is not None]
    checked = {name: _check_array(x, name) for name, x in frames}
    for name, x in checked.items():
        if x.dtype != np.uint8 or x.ndim == 3 and x.shape[2] != 3:
            raise InvalidArgument(f"{name}: flow_warp takes HxWx3 (RGB) or HxW uint8 images, got shape "
                                  f"{tuple(x.shape)} {x.dtype} (fregan.interpolate keeps 16 bits and alpha)")
        if x.shape[:2] != checked["a"].shape[:2]:
            raise InvalidArgument(f"the frames differ in size: {name} is {x.shape}, a is {checked['a'].shape}")
    return _core.flow_warp(checked["a"], checked["b"], _time(t), preset, sampling, checked.get("before"),
                           checked.get("after"))


def default_weights() -> str:
    """Path of the shipped default checkpoint (or $FREGAN_WEIGHTS)."""
    return _core.default_weights_path()


def checkpoint_info(path: PathLike) -> Dict[str, Any]:
    """The JSON header of a checkpoint: model, options, training step, validation figures."""
    return _core.read_checkpoint_meta(os.fspath(path))


def set_log_level(level: int) -> None:
    """0 debug, 1 info (default), 2 warnings only, 3 errors only, 4 silent."""
    _core.set_log_level(level)


def read_image(path: PathLike, *, as_stored: bool = False) -> np.ndarray:
    """Reads an image file as an HxWx3 uint8 RGB array (gray replicated, alpha dropped, 16 bits
    scaled to 8).

    ``as_stored=True`` keeps what the file holds: uint16 for 16-bit PNG and TIFF, HxWx4 RGBA where
    it has alpha (gray still becomes RGB).  Interpolating such frames gives the same form back.
    """
    return _core.read_image(os.fspath(path), as_stored)


def write_image(path: PathLike, image: np.ndarray, overwrite: bool = False) -> None:
    """Writes an HxWx3 RGB, HxWx4 RGBA or HxW array, uint8 or uint16 (atomically: temp file +
    rename).  PNG and TIFF keep 16 bits and alpha; other formats get 8 bits, and alpha only where
    they hold it (WebP)."""
    _core.write_image(os.fspath(path), _check_array(image, "image"), overwrite)


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

    def __call__(self, a: Frame, b: Frame, t: float = 0.5, *, before: Optional[Frame] = None,
                 after: Optional[Frame] = None) -> Frame:
        """The frame at time t between a and b.

        numpy: HxWx3 (RGB), HxWx4 (RGBA) or HxW arrays, uint8 or uint16 -> the same kind: uint16 if
        either frame is, RGBA if either has alpha (the colour goes through the model at 16-bit
        precision, the alpha moved with it: fregan-flow warps it by the colour's flows, the seed
        models blend it at t; a frame without alpha counts as opaque).  torch:
        [3, H, W] or [B, 3, H, W] float tensors in [0, 1] (or uint8 in 0..255) on any device -> the
        same layout on the same device.

        ``before`` / ``after``: the frames before a and after b in their video (either may be
        omitted), of the same form.  fregan-flow then reads each pixel's acceleration from them
        (four-frame flows); models that do not use neighbours ignore them.  The model keeps the
        flows of the last few pairs, so a loop over consecutive frames computes each pair's flow once.
        """
        t = _time(t)
        frames = [("a", a), ("b", b)] + [(n, x) for n, x in (("before", before), ("after", after)) if x is not None]
        if all(isinstance(x, torch.Tensor) for _, x in frames):
            fa, fb, was_uint8 = _check_tensors(a, b)
            fbefore = None if before is None else _check_tensors(before, a)[0]
            fafter = None if after is None else _check_tensors(after, a)[0]
            out = self._native.interpolate_tensor(fa, fb, t, fbefore, fafter)
            return out.mul(255).round_().clamp_(0, 255).to(torch.uint8) if was_uint8 else out
        if all(isinstance(x, np.ndarray) for _, x in frames):
            checked = {name: _check_array(x, name) for name, x in frames}
            for name, x in checked.items():
                if x.shape[:2] != checked["a"].shape[:2]:
                    raise InvalidArgument(f"the frames differ in size: {name} is {x.shape[1]}x{x.shape[0]}, "
                                          f"a is {checked['a'].shape[1]}x{checked['a'].shape[0]} (WxH)")
            return self._native.interpolate_array(checked["a"], checked["b"], t, checked.get("before"),
                                                  checked.get("after"))
        raise InvalidType("expected numpy arrays (HxWx3 uint8) or torch tensors ([3, H, W]), all of one kind, got " +
                          ", ".join(f"{name}: {type(x).__name__}" for name, x in frames))

    @property
    def uses_neighbours(self) -> bool:
        """True when the model uses the frames before and after a pair (fregan-flow's four-frame flows)."""
        return self._native.uses_neighbours

    @property
    def supports_any_time(self) -> bool:
        """True for flow-guided models (any t, any --fps); False for middle-frame models (t = k/2^d)."""
        return self._native.supports_any_time

    def video(self, input: PathLike, output: PathLike, factor: Optional[int] = None, *, fps: Optional[float] = None,
              overwrite: bool = False, codec: Optional[str] = None, crf: Optional[int] = None, preset: Optional[str] = None,
              keep_audio: bool = True, detect_cuts: bool = True, input_fps: Optional[float] = None,
              segment_seconds: Optional[float] = None, resume: bool = True, neighbours: bool = True,
              progress: Union[bool, Callable[[Dict[str, Any]], Optional[bool]], None] = None,
              dedup: Optional[str] = None, dedup_threshold: Optional[float] = None) -> Dict[str, Any]:
        """Raises a video's frame rate: ``factor`` times, or to ``fps``; returns what was done.

        ``input`` is a video or a folder of frames (rate ``input_fps``, default 25); ``output`` is a
        video (by its extension) or a folder for numbered PNG frames.  The output keeps the input's
        duration, audio and colour description; no frame is blended across a scene cut.  An
        interrupted job (Ctrl-C, a crash) continues from its finished parts when run again
        (``resume=False`` starts over).  ``codec``/``crf``/``preset`` choose the encoder, its quality
        and (x264/x265) its speed preset ("veryfast" ... "veryslow"; None = medium).  ``progress``: True shows a tqdm bar (if tqdm is installed), or
        a callable gets a dict (input_frames_done, input_frames_total, output_frames,
        frames_per_second, eta_seconds) per input frame and may return False to stop.  ``neighbours``
        (default True): fregan-flow's flows use the frames before and after each pair (acceleration-
        aware) where no cut or held frame lies between; False makes every pair two-frame.  ``dedup``
        ("auto", "on", "off"): held (repeated) frames are removed and the motion interpolated between
        the distinct frames at their true times; "auto" does so when a third of the first 48 frame
        pairs are held.  ``dedup_threshold``: how different a held frame may be (0..255).  A
        variable-frame-rate input gives a constant-rate output, each frame at its own time.  An
        option left at None takes the C++ VideoJobOptions default (factor 2, crf 18, 10-second
        segments, dedup "auto", held threshold 3.0, the codec that fits the container).
        """
        if factor is not None:
            factor = _whole_number(factor, "factor", 2)
        fps, input_fps = _rate(fps, "fps"), _rate(input_fps, "input_fps")
        if crf is not None:
            crf = _whole_number(crf, "crf", 0)
        if codec is not None and not isinstance(codec, str):
            raise InvalidType(f"codec must be an ffmpeg encoder name or None, got {codec!r}")
        scene = None if dedup_threshold is None else {"held_threshold": float(dedup_threshold)}
        # The keywords under VideoJobOptions' field names (fps is target_fps, dedup_threshold is
        # scene.held_threshold).
        options = _job_options(input=os.fspath(input), output=os.fspath(output), factor=factor, target_fps=fps,
                               input_fps=input_fps, overwrite=overwrite, codec=codec, crf=crf, preset=preset,
                               keep_audio=keep_audio, detect_cuts=detect_cuts, segment_seconds=segment_seconds,
                               resume=resume, neighbours=neighbours, dedup=dedup, scene=scene)
        bar = None
        # Always a callback: the native job then checks for Ctrl-C after every frame (and stops
        # within about a second, keeping its finished parts) even when no progress is wanted.
        callback = progress if callable(progress) else (lambda p: True)
        if progress is True:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                bar = tqdm(unit="frame", desc=os.path.basename(os.fspath(output)))

                def callback(p: Dict[str, Any]) -> bool:
                    bar.total = p["input_frames_total"] or None
                    bar.n = p["input_frames_done"]
                    bar.refresh()
                    return True
        try:
            result = self._native.interpolate_video(options, callback)
        finally:
            if bar is not None:
                bar.close()
        return result


_cache: Dict[tuple, Interpolator] = {}


def _interpolator(weights: Optional[PathLike], device: str) -> Interpolator:
    key = (os.fspath(weights) if weights else "", device)
    if key not in _cache:
        _cache[key] = Interpolator(weights, device)
    return _cache[key]


def interpolate(a: Union[Frame, PathLike], b: Union[Frame, PathLike], *, t: float = 0.5, factor: int = 2,
                before: Optional[Union[Frame, PathLike]] = None, after: Optional[Union[Frame, PathLike]] = None,
                weights: Optional[PathLike] = None, device: str = "auto", overwrite: bool = False,
                progress: Union[bool, Callable[[Dict[str, Any]], Optional[bool]], None] = None,
                **video_options: Any) -> Any:
    """Interpolates two frames, or a whole video.

    - ``interpolate(a, b)`` with numpy arrays or torch tensors returns the middle frame (or the frame
      at time ``t``) in the same form; ``before=`` / ``after=`` (the frames around the pair) give the
      default model each pixel's acceleration (four-frame flows).
    - ``interpolate("a.png", "b.png")`` reads two image files and returns the middle frame as an array
      (uint16 for 16-bit files, RGBA where they have alpha: ``read_image(..., as_stored=True)``).
    - ``interpolate("in.mp4", "out.mp4", factor=2)`` (or ``fps=60``) writes a video with ``factor``
      times the frame rate and the same duration, keeping the audio; returns a dict of what was done
      (see :meth:`Interpolator.video` for the options: codec, crf, detect_cuts, resume, progress, ...).

    The model is the shipped default unless ``weights`` names a checkpoint; it is loaded once and
    cached.
    """
    if isinstance(a, (str, os.PathLike)):
        a_path, b_path = os.fspath(a), os.fspath(b)  # type: ignore[arg-type]
        if os.path.splitext(a_path)[1].lower() in _IMAGE_EXTS:
            # As stored: 16-bit frames come back as uint16, frames with alpha as RGBA.
            def frame(x: Optional[Union[Frame, PathLike]]) -> Optional[Frame]:
                return read_image(x, as_stored=True) if isinstance(x, (str, os.PathLike)) else x
            return _interpolator(weights, device)(frame(a_path), frame(b_path), t, before=frame(before),
                                                  after=frame(after))
        factor = _whole_number(factor, "factor", 2)
        if not os.path.exists(a_path):
            raise FileError(f"input '{a_path}' does not exist")
        return _interpolator(weights, device).video(a_path, b_path, factor, overwrite=overwrite, progress=progress,
                                                    **video_options)
    return _interpolator(weights, device)(a, b, t, before=before, after=after)  # type: ignore[arg-type]


def _train_options(data: Union[PathLike, Sequence[PathLike]], out: PathLike, model: str,
                   options: Dict[str, Any]) -> Dict[str, Any]:
    sources = [os.fspath(data)] if isinstance(data, (str, os.PathLike)) else [os.fspath(d) for d in data]
    opts: Dict[str, Any] = {"model": model, "data": sources, "out_dir": os.fspath(out)}
    for key, value in options.items():
        if key == "val_data" and value is not None:
            value = [os.fspath(value)] if isinstance(value, (str, os.PathLike)) else [os.fspath(v) for v in value]
        opts[key] = value
    return opts


_DCGAN = "dcgan"
# Shorthands of train(model="dcgan") for generator options (as fregan train --height/--width/--latent-dim).
_DCGAN_GENERATOR_SHORTHANDS = ("latent_dim", "height", "width")


def _dcgan_train_options(data: Union[PathLike, Sequence[PathLike]], out: PathLike,
                         options: Dict[str, Any]) -> Dict[str, Any]:
    opts = _train_options(data, out, _DCGAN, options)
    del opts["model"]
    generator = dict(opts.pop("generator_options", {}) or {})
    for key in _DCGAN_GENERATOR_SHORTHANDS:
        if key in opts:
            generator[key] = opts.pop(key)
    if generator:
        opts["generator_options"] = generator
    return opts


def train(data: Union[PathLike, Sequence[PathLike]], out: PathLike, *, model: str = "fregan",
          callback: Optional[Callable[[Dict[str, Any]], Optional[bool]]] = None, **options: Any) -> Dict[str, Any]:
    """Trains a model with the C++ loop (the same as ``fregan train``).

    ``model="dcgan"`` trains the unconditional frame generator instead (see :func:`generate`); its
    options are the fields of the C++ DcganTrainerOptions: steps, batch_size, lr_g, lr_d,
    frame_skip, target_frames, temporal_order, hflip, sample_every, sample_count, divergence
    (dict: d_loss_floor, d_floor_steps, g_loss_ceiling, g_ceiling_steps, lr_factor,
    max_rollbacks), collapse (dict: min_ratio, start_step, lr_factor, d_lr_factor, max_rollbacks,
    enabled), the stabilisers loss ("bce" or "hinge"), r1_gamma, r1_every, diff_augment
    ("color,translation,cutout,flip"), ema_decay, generator_options / discriminator_options
    (spectral_norm, batch_norm), resume, overwrite, seed, device, threads; ``latent_dim``,
    ``height`` and ``width`` are shorthands for generator options.  Its callback dicts have step,
    d_loss, g_loss, d_real, d_fake, lr_scale, rollbacks, and 'event' (a rollback) or
    'sample_grid' (a PNG written, with diversity_std_ratio, diversity_distance_ratio and
    collapsed: the samples' diversity against the real frames'); it returns the final step,
    lr_scale and rollbacks.

    ``model="spectraframe"`` trains the x4 super-resolution model (see :func:`upscale`); its
    options are the fields of the C++ SrTrainerOptions: steps, batch_size, hr_crop, lr_g, lr_d,
    loss (``{"mse", "perceptual", "adversarial", "tv"}`` weights), perceptual_model (a TorchScript
    feature extractor; default: the discriminator's features), val_data, val_fraction, val_frames,
    val_crop, flip, rotate, max_frames_per_source, generator_options / discriminator_options, ... .
    Its callback dicts have step, d_loss, g_loss, terms and 'validation' on validation steps; it
    returns the last validation (model and bicubic PSNR/SSIM).

    ``options`` are the fields of the C++ TrainerOptions: steps, batch_size, crop, lr_g, lr_d,
    loss (generator loss weights over the model's defaults, e.g. ``{"l1": 1, "ms_ssim": 1,
    "adversarial": 0}``), val_data, val_fraction, frame_skip, resume, overwrite, seed, device, ... .
    ``callback(progress)`` gets a dict every step (step, losses, samples_per_second, eta_seconds,
    and 'validation' on validation steps); returning False stops training after a checkpoint.
    Returns the last validation result.  KeyboardInterrupt also stops it cleanly.

    Data-parallel training: start one process per rank, each calling ``train`` with the same
    options plus ``world_size``, ``rank`` (and ``master_addr``, ``master_port``, ``local_rank``,
    ``dist_backend``, ``dist_timeout`` seconds), or with none of them under a launcher that sets
    WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT (torchrun).  ``batch_size`` is the
    global batch; only rank 0 writes the checkpoints and the log.
    """
    task = _core.model_task(model)  # InvalidArgument for an unknown model, naming the known ones
    if task == "generate":
        return _core.train_dcgan(_dcgan_train_options(data, out, options), callback)
    if task == "upscale":
        opts = _train_options(data, out, model, options)
        del opts["model"]
        return _core.train_spectraframe(opts, callback)
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
    return _core.evaluate(_job_options(data=sources, weights=os.fspath(weights) if weights else None,
                                       frame_skip=frame_skip, max_triplets=max_triplets, max_frames=max_frames,
                                       device=device))


class Generator:
    """A DCGAN frame generator loaded once (see :func:`generate`).

    >>> gen = fregan.load("dcgan-default"); frames = gen(16, seed=1)
    """

    def __init__(self, weights: Optional[PathLike] = None, device: str = "auto") -> None:
        self._native = _core.FrameGenerator(os.fspath(weights) if weights else "", device)

    def __call__(self, n: int, seed: int = 0, *, first: int = 0) -> List[np.ndarray]:
        """``n`` frames (HxWx3 uint8 RGB) from the noise sequence of ``seed``, starting at ``first``."""
        if n < 1:
            raise InvalidArgument(f"generate: n must be >= 1, got {n}")
        if seed < 0:
            raise InvalidArgument(f"generate: seed must be >= 0, got {seed}")
        return list(self._native.generate_arrays(n, seed, first))

    def walk(self, seed: int = 0, *, keys: int = 8, frames_between: int = 12, loop: bool = False,
             first: int = 0) -> List[np.ndarray]:
        """Frames (HxWx3 uint8 RGB) of a walk through latent space: it passes through frames
        ``first``, ..., ``first + keys - 1`` of ``seed`` (the frames ``self(keys, seed, first=first)``
        gives, exactly) with ``frames_between`` frames between each two, made from spherically
        interpolated latents; ``loop`` adds the way from the last key back to the first.
        ``keys + (keys - 1) * frames_between`` frames (``keys * (frames_between + 1)`` with ``loop``)."""
        if seed < 0:
            raise InvalidArgument(f"walk: seed must be >= 0, got {seed}")
        return list(self._native.walk_arrays(_walk_options(keys, frames_between, loop), seed, first))

    def write_walk(self, path: PathLike, seed: int = 0, *, keys: int = 8, frames_between: int = 12,
                   loop: bool = False, first: int = 0, fps: float = 24.0, overwrite: bool = False) -> int:
        """Writes :meth:`walk`'s frames as a video (.mp4, .gif, .webm, ...) of ``fps`` frames a
        second; an existing file is replaced only with ``overwrite``.  Returns the frame count."""
        if seed < 0:
            raise InvalidArgument(f"walk: seed must be >= 0, got {seed}")
        return self._native.write_walk(os.fspath(path), _walk_options(keys, frames_between, loop), float(fps),
                                       overwrite, seed, first)


def _walk_options(keys: int, frames_between: int, loop: bool) -> Dict[str, Any]:
    return {"keys": keys, "frames_between": frames_between, "loop": loop}


_generators: Dict[tuple, Generator] = {}


def _generator(weights: Optional[PathLike], device: str) -> Generator:
    """The generator of ``weights`` on ``device``, loaded once."""
    key = (os.fspath(weights) if weights else "", device)
    if key not in _generators:
        _generators[key] = Generator(key[0], device)
    return _generators[key]


def generate(n: int, weights: Optional[PathLike] = None, seed: int = 0, *, first: int = 0,
             device: str = "auto") -> List[np.ndarray]:
    """Generates ``n`` frames from noise with a DCGAN; returns HxWx3 uint8 RGB arrays.

    Deterministic: the same ``seed`` gives the same frames, and frame ``i`` of a seed is the same
    whatever ``n`` (``first`` starts further along the seed's sequence).  The model is the shipped
    ``dcgan-default.pt`` (or $FREGAN_DCGAN_WEIGHTS) unless ``weights`` names a DCGAN checkpoint
    (``fregan train --model dcgan``) or a shipped name; it is loaded once and cached.

    >>> frames = fregan.generate(16, seed=1)
    >>> fregan.write_image("grid.png", fregan.make_grid(frames))
    """
    return _generator(weights, device)(n, seed, first=first)


def generate_walk(seed: int = 0, *, keys: int = 8, frames_between: int = 12, loop: bool = False, first: int = 0,
                  weights: Optional[PathLike] = None, device: str = "auto") -> List[np.ndarray]:
    """A walk through the latent space of a DCGAN (see :meth:`Generator.walk`): frames that morph
    through ``keys`` frames of ``seed`` -- those ``fregan.generate(keys, weights, seed, first=first)``
    gives -- with ``frames_between`` frames between each two.  The model is chosen and cached as in
    :func:`generate`; ``fregan.load(...).write_walk("walk.mp4", ...)`` writes one as a video.

    >>> frames = fregan.generate_walk(seed=0, keys=4, frames_between=6, loop=True)   # 28 frames
    """
    return _generator(weights, device).walk(seed, keys=keys, frames_between=frames_between, loop=loop, first=first)


def make_grid(images: Sequence[np.ndarray], cols: int = 0, padding: int = 2) -> np.ndarray:
    """Tiles HxWx3 uint8 RGB images of one size into one image: rows of ``cols`` images
    (0 = ceil(sqrt(n))), ``padding`` black pixels around and between them."""
    return _core.make_grid(list(images), cols, padding)


class Upscaler:
    """A SpectraFrame x4 super-resolution model loaded once (see :func:`upscale`).

    >>> up = fregan.load("spectraframe"); hr = up(lr_frame, [previous, next])
    """

    def __init__(self, weights: Optional[PathLike] = None, device: str = "auto") -> None:
        self._native = _core.Upscaler(os.fspath(weights) if weights else "", device)

    @property
    def neighbours(self) -> int:
        """How many neighbouring frames the model fuses."""
        return self._native.neighbours

    def __call__(self, frame: np.ndarray, neighbours: Optional[Sequence[np.ndarray]] = None) -> np.ndarray:
        """x4 of an HxWx3 uint8 RGB frame, helped by exactly :attr:`neighbours` neighbouring frames
        (in the order of the native ``neighbour_indices``); None repeats the frame itself."""
        nb = [frame] * self.neighbours if neighbours is None else list(neighbours)
        return self._native.upscale_array(frame, nb)

    def video(self, input: PathLike, output: Optional[PathLike] = None, **options: Any) -> Dict[str, Any]:
        """See :func:`upscale`."""
        if options.get("upscale_only") and output is None:
            raise InvalidArgument("upscale(upscale_only=True) needs an output video")
        job = {"input": os.fspath(input), "output": os.fspath(output) if output is not None else ""}
        return self._native.upscale_video({**options, **job})


_upscalers: Dict[tuple, Upscaler] = {}


def upscale(input: PathLike, output: Optional[PathLike] = None, *, weights: Optional[PathLike] = None,
            device: str = "auto", **options: Any) -> Dict[str, Any]:
    """x4 video super-resolution with SpectraFrame (the same as ``fregan upscale``).

    ``input`` is a video or a folder of frames.  By default (evaluation) every frame, cut to
    multiples of 4, is downscaled by bicubic x4, upscaled back by the model and scored against the
    original; the returned dict then has ``scores`` = {"model": {"psnr", "ssim"}, "bicubic": {...},
    "frames"}.  ``upscale_only=True`` takes the input as the low-resolution video (``output``
    required).  ``output`` (a video file) receives the upscaled frames, with the input's audio.
    The model is the shipped ``spectraframe.pt`` (or $FREGAN_SR_WEIGHTS) unless ``weights`` names a
    SpectraFrame checkpoint; it is loaded once and cached.  ``options`` are the fields of the C++
    UpscaleVideoOptions (upscale_only, max_frames, overwrite, codec, crf, keep_audio), with its
    defaults (libx264, crf 18, audio kept); an unknown one is InvalidArgument.
    """
    key = (os.fspath(weights) if weights else "", device)
    if key not in _upscalers:
        _upscalers[key] = Upscaler(key[0], device)
    return _upscalers[key].video(input, output, **options)
