"""One registry of codecs. A new codec registers here (one line) and is then
usable from tx_image/rx_image, the GRC blocks and semcom-eval."""
from __future__ import annotations

from typing import Callable

from ..errors import SemcomError
from .base import Codec

_FACTORIES: dict[str, Callable[..., Codec]] = {}
_FRAME_META: dict[int, dict] = {}  # codec id on air -> frame metadata naming the codec (and model)
_FOLDER_LOADERS: list[Callable[..., Codec | None]] = []  # model folder -> codec, or None if not theirs


def register(name: str, factory: Callable[..., Codec], codec_id: int | None = None,
             frame_meta: dict | None = None) -> None:
    """Adds a codec. ``codec_id`` is what its frames carry on air (burst headers); a receiver maps
    it back to ``{"codec": name, **frame_meta}`` without building the codec."""
    _FACTORIES[name] = factory
    if codec_id is not None:
        _FRAME_META.setdefault(int(codec_id), {"codec": name, **(frame_meta or {})})


def register_folder_loader(load: Callable[..., Codec | None]) -> None:
    """Adds a way to open a codec from a folder path given as its name (learned models)."""
    _FOLDER_LOADERS.append(load)


def available() -> list[str]:
    return sorted(_FACTORIES)


def get(name: str, **options) -> Codec:
    """A registered codec by name, or a learned model by its folder (holding encoder.onnx)."""
    if name not in _FACTORIES:
        for load in _FOLDER_LOADERS:
            codec = load(name, **options)
            if codec is not None:
                return codec
        raise SemcomError(f"unknown codec '{name}'; available: {', '.join(sorted(_FACTORIES))} "
                          "(or a model folder holding encoder.onnx and decoder.onnx)")
    return _FACTORIES[name](**options)


def resolve(codec) -> Codec:
    """``codec`` itself when it already is a Codec, else ``get(codec)``."""
    return codec if isinstance(codec, Codec) else get(codec)


def frame_meta(codec_id: int) -> dict:
    """Metadata naming the codec of an over-the-air frame; SemcomError when the id is unknown here."""
    if int(codec_id) not in _FRAME_META:
        raise SemcomError(f"frame names codec id {codec_id:#06x}, which this installation does not know "
                          "(install the transmitter's model)")
    return dict(_FRAME_META[int(codec_id)])


def by_id(codec_id: int) -> Codec:
    for name in _FACTORIES:
        codec = _FACTORIES[name]()
        if codec.codec_id == codec_id:
            return codec
    raise SemcomError(f"frame names codec id {codec_id}, which this installation does not know")
