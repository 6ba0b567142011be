"""Live frame sources: a folder of images, a video file or a camera, each frame fitted to one size.

``open_frames(source, height, width)`` yields ``(name, image)`` per frame: uint8 HxWx3 at that size,
or a ``SemcomError`` in place of the image for a frame that cannot be read (the caller skips it and
goes on). Video files and cameras are read, and ``VideoWriter`` writes video files, through the
ffmpeg that the optional package imageio-ffmpeg carries. Plain Python: no GNU Radio, no torch.
"""
from __future__ import annotations

import logging
import os
import stat
from typing import Iterator

import numpy as np

from .errors import SemcomError
from .imageio import list_images, load_image, resize
from .options import MAX_SIDE

CAMERA_PREFIX = "/dev/video"
VIDEO_PACKAGE = "imageio-ffmpeg"


def parse_size(text) -> tuple[int, int]:
    """'256x256' (width x height) -> (height, width); ValueError otherwise."""
    width, sep, height = str(text).lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ValueError(f"{text!r} is not WIDTHxHEIGHT")
    h, w = int(height), int(width)
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise ValueError(f"{text!r}: 1 to {MAX_SIDE} pixels a side")
    return h, w


def fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` cropped about its centre to the aspect of height x width, then resized to it."""
    h, w = image.shape[:2]
    if h * width > w * height:  # taller than the target: crop rows
        keep = max(1, round(w * height / width))
        top = (h - keep) // 2
        image = image[top:top + keep]
    elif h * width < w * height:  # wider: crop columns
        keep = max(1, round(h * width / height))
        left = (w - keep) // 2
        image = image[:, left:left + keep]
    return resize(np.ascontiguousarray(image), height, width)


def source_kind(source: str) -> str:
    """'folder', 'camera' or 'video'; SemcomError (one line) for a camera or file that is not there."""
    if os.path.isdir(source):
        return "folder"
    if source.startswith(CAMERA_PREFIX):
        try:
            mode = os.stat(source).st_mode
        except OSError:
            raise SemcomError(f"camera {source} is not there (no such device); connect one or give a folder "
                              "or a video file") from None
        if not stat.S_ISCHR(mode):
            raise SemcomError(f"camera {source} is not a video device")
        return "camera"
    if not os.path.isfile(source):
        raise SemcomError(f"frames {source}: no such folder, video file or camera")
    return "video"


def _imageio_ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError:
        raise SemcomError(f"video files and cameras need the Python package {VIDEO_PACKAGE}: "
                          f"pip install {VIDEO_PACKAGE} (in the venv), or use a folder of images") from None
    logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)  # it warns that the size is not the source's
    return imageio_ffmpeg


def ffmpeg_reader():
    """imageio_ffmpeg's frame reader; SemcomError naming the package when it is not installed."""
    return _imageio_ffmpeg().read_frames


class VideoWriter:
    """Frames into a video file (``path``, its format from the extension) at ``fps``; the first
    frame sets the size, later ones of another size are fitted to it."""

    def __init__(self, path: str, fps: float):
        self.module, self.path, self.fps = _imageio_ffmpeg(), path, fps
        self.writer, self.size, self.frames = None, None, 0

    def add(self, image: np.ndarray) -> None:
        if self.writer is None:
            self.size = image.shape[:2]
            self.writer = self.module.write_frames(self.path, (self.size[1], self.size[0]), fps=self.fps,
                                                   macro_block_size=1)
            self.writer.send(None)
        try:
            self.writer.send(np.ascontiguousarray(fit(image, *self.size)).tobytes())
        except (OSError, RuntimeError) as err:
            raise SemcomError(f"cannot write video {self.path} ({err})") from None
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def open_frames(source: str, height: int, width: int, repeat: int = 1) -> Iterator[tuple[str, object]]:
    """The frames of ``source`` at height x width, a folder's ``repeat`` times (see the module)."""
    kind = source_kind(source)
    if kind == "folder":
        return _folder_frames(list_images(source), height, width, repeat)
    return _ffmpeg_frames(source, kind, height, width)


def _folder_frames(paths, height, width, repeat):
    for _ in range(repeat):
        for path in paths:
            try:
                yield path, fit(load_image(path, "frame"), height, width)
            except SemcomError as err:
                yield path, err


def _ffmpeg_frames(source, kind, height, width):
    read_frames = ffmpeg_reader()
    input_params = ["-f", "v4l2"] if kind == "camera" else []
    scale = f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height}"
    try:
        reader = read_frames(source, input_params=input_params, output_params=["-vf", scale])
        reader.send(None)  # the stream's metadata; raises when ffmpeg cannot open the source
    except (OSError, RuntimeError) as err:
        detail = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise SemcomError(f"cannot read {kind} {source} ({detail})") from None
    name = os.path.basename(source)
    size = height * width * 3
    try:
        for n, data in enumerate(reader):
            if len(data) != size:
                yield f"{name}#{n}", SemcomError(f"{name} frame {n} has {len(data)} bytes, not {size}")
                continue
            yield f"{name}#{n}", np.frombuffer(data, np.uint8).reshape(height, width, 3).copy()
    except (OSError, RuntimeError) as err:
        detail = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise SemcomError(f"{kind} {source} stopped ({detail})") from None
    finally:
        reader.close()
