"""One registry of codecs. A new codec registers here (one line) and is then
usable from tx_image/rx_image, the GRC blocks and semcom-eval."""
from __future__ import annotations

from typing import Callable

from ..errors import SemcomError
from .base import Codec

_FACTORIES: dict[str, Callable[..., Codec]] = {}


def register(name: str, factory: Callable[..., Codec]) -> None:
    _FACTORIES[name] = factory


def _load_builtin() -> None:
    from . import sscc  # noqa: F401  (registers avif/jpeg2000/webp/jpeg)


def available() -> list[str]:
    _load_builtin()
    return sorted(_FACTORIES)


def get(name: str, **options) -> Codec:
    _load_builtin()
    if name not in _FACTORIES:
        raise SemcomError(f"unknown codec '{name}'; available: {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[name](**options)


def by_id(codec_id: int) -> Codec:
    _load_builtin()
    for name in _FACTORIES:
        codec = _FACTORIES[name]()
        if codec.codec_id == codec_id:
            return codec
    raise SemcomError(f"frame names codec id {codec_id}, which this installation does not know")
