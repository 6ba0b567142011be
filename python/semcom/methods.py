"""The training methods a learned codec can come from, and what the runtime needs of each (no torch).

A method's name is what a training config's ``model.method`` and an exported card's ``codec`` hold.
Its torch side (model builder, exporter, card facts) registers in ``training.registry``; the module
named by ``training`` does so when it is imported. ``codec`` is the class (``module:Class``, a module
relative to this package or absolute) that runs an exported model folder: it takes the folder's
model (its ``model_class``), ``hard`` and the codec options.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from .errors import SemcomError

DEFAULT = "bitsemcom"  # the method of a config or card that names none


@dataclass(frozen=True)
class Method:
    name: str
    training: str  # module that registers the torch side (relative to semcom.training, or absolute)
    codec: str = ".codecs.neural:ModelCodec"

    def codec_class(self):
        module, _, cls = self.codec.partition(":")
        return getattr(importlib.import_module(module, __package__), cls)


_METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    _METHODS[method.name] = method
    return method


def get(name: str | None) -> Method:
    """The method called ``name`` (None: ``DEFAULT``); SemcomError naming the known ones otherwise."""
    name = DEFAULT if name is None else name
    if name not in _METHODS:
        raise SemcomError(f"unknown method '{name}'; choose one of {', '.join(sorted(_METHODS))}")
    return _METHODS[name]


def names() -> list[str]:
    return sorted(_METHODS)


register(Method("bitsemcom", training="models"))
register(Method("ampsc", training="ampsc"))
register(Method("mvqvae", training="mvqvae", codec=".codecs.masked_vq:MaskedVQCodec"))
