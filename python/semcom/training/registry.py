"""The torch side of the training methods (``semcom.methods``): ``@register_method("name", ...)`` on a
method's model builder records, in that one place, everything the trainer and the exporter ask of it.

A method is found by the name a config's ``model.method`` (or a model's ``method``) holds; a
built-in method's module registers it on first use (``methods.Method.training``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from .. import methods
from ..errors import SemcomError
from .layers import latent_channels_for

# (file role, weight-name prefix in the file, prefix in the model's state dict)
TWO_NETWORKS = (("encoder", "enc.", "encoder."), ("decoder", "", "decoder."))


@dataclass(frozen=True)
class TrainingMethod:
    """What one method gives the trainer and the exporter.

    build(model_cfg) -> model; latent_bits(model_cfg, cpp, bits_per_symbol) -> bits per latent cell
    (default: the bits that fill cpp, ``layers.latent_channels_for``); card_facts(cfg) -> what its card adds
    (``variant`` included); quantizer_bits(model_cfg) -> b of a quantized latent (None: one bit per
    value); exporter(model, saved, out_dir, model_id, opset, fp16) -> card (None: the two-network
    export of ``export.export``); fold_constants: let the ONNX export fold weights into constants
    (False: each weight stays one initializer, so ``export.load_onnx_weights`` can read it back);
    weight_roles: where each file's weights go in the state dict; identity(model) -> card facts a
    folder must match to continue training from it; widens: a folder with fewer latent channels is
    widened into the model; complete_state(state, card, model_state): fills training-only entries
    the files lack."""

    name: str
    build: Callable
    latent_bits: Callable = lambda model_cfg, cpp, bits_per_symbol: latent_channels_for(cpp, bits_per_symbol)
    card_facts: Callable | None = None
    quantizer_bits: Callable = lambda model_cfg: None
    exporter: Callable | None = None
    fold_constants: bool = True
    weight_roles: tuple = TWO_NETWORKS
    identity: Callable = lambda model: {}
    widens: bool = False
    complete_state: Callable = lambda state, card, model_state: None

    def card(self, cfg: dict) -> dict:
        facts = self.card_facts(cfg) if self.card_facts else {}
        return {"variant": cfg["model"].get("variant", self.name), **facts}


_REGISTRY: dict[str, TrainingMethod] = {}


def register_method(name: str, **facts) -> Callable:
    """Decorator for a method's model builder: ``@register_method("name", exporter=..., ...)``."""
    def register(build: Callable) -> Callable:
        _REGISTRY[name] = TrainingMethod(name, build, **facts)
        return build
    return register


def get(name: str | None) -> TrainingMethod:
    """The registered method ``name`` (None: ``methods.DEFAULT``), importing a built-in one's module
    first; SemcomError naming the known methods when there is none."""
    name = methods.DEFAULT if name is None else name
    if name not in _REGISTRY:
        module = methods.get(name).training
        importlib.import_module(module if "." in module.lstrip(".") and not module.startswith(".")
                                else "." + module.lstrip("."), __package__)
        if name not in _REGISTRY:
            raise SemcomError(f"method '{name}': {module} registers no training side")
    return _REGISTRY[name]


def of_config(model_cfg: dict) -> TrainingMethod:
    """The method a config's ``model`` section names."""
    return get(model_cfg.get("method"))


def of_model(model) -> TrainingMethod:
    """The method a built model comes from (its ``method``)."""
    return get(getattr(model, "method", None))
