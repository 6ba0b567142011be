"""One registry of codecs. A new codec registers here (one line) and is then
usable from tx_image/rx_image, the GRC blocks and semcom-eval."""
from __future__ import annotations

from typing import Callable

from ..errors import SemcomError
from .base import Codec

_FACTORIES: dict[str, Callable[..., Codec]] = {}
_FRAME_META: dict[int, dict] = {}  # codec id on air -> frame metadata naming the codec (and model)


def register(name: str, factory: Callable[..., Codec], codec_id: int | None = None,
             frame_meta: dict | None = None) -> None:
    """Adds a codec. ``codec_id`` is what its frames carry on air (burst headers); a receiver maps
    it back to ``{"codec": name, **frame_meta}`` without building the codec."""
    _FACTORIES[name] = factory
    if codec_id is not None:
        _FRAME_META.setdefault(int(codec_id), {"codec": name, **(frame_meta or {})})


def _load_builtin() -> None:
    from . import neural, sscc  # noqa: F401  (register the ONNX models; avif/jpeg2000/webp/jpeg/sscc)


def available() -> list[str]:
    _load_builtin()
    return sorted(_FACTORIES)


def get(name: str, **options) -> Codec:
    """A registered codec by name, or a learned model by its folder (holding encoder.onnx)."""
    _load_builtin()
    if name not in _FACTORIES:
        import os
        if os.path.isfile(os.path.join(name, "encoder.onnx")):
            from . import neural
            return neural.ModelCodec(neural.OnnxModel(name), **options)
        raise SemcomError(f"unknown codec '{name}'; available: {', '.join(sorted(_FACTORIES))} "
                          "(or a model folder holding encoder.onnx and decoder.onnx)")
    return _FACTORIES[name](**options)


def resolve(codec) -> Codec:
    """``codec`` itself when it already is a Codec, else ``get(codec)``."""
    return codec if isinstance(codec, Codec) else get(codec)


def frame_meta(codec_id: int) -> dict:
    """Metadata naming the codec of an over-the-air frame; SemcomError when the id is unknown here."""
    _load_builtin()
    if int(codec_id) not in _FRAME_META:
        raise SemcomError(f"frame names codec id {codec_id:#06x}, which this installation does not know "
                          "(install the transmitter's model)")
    return dict(_FRAME_META[int(codec_id)])


def by_id(codec_id: int) -> Codec:
    _load_builtin()
    for name in _FACTORIES:
        codec = _FACTORIES[name]()
        if codec.codec_id == codec_id:
            return codec
    raise SemcomError(f"frame names codec id {codec_id}, which this installation does not know")
