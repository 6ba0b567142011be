"""Training config files: JSON objects that may inherit from another with ``"base": "NAME"``.

A config states only what differs from its base: ``"base": "bitsemcom_qpsk_cpp16_wide"`` names
``bitsemcom_qpsk_cpp16_wide.json`` beside it (``"../../configs/NAME"`` reaches another folder);
nested objects merge key by key, anything else replaces the base's value.
"""
from __future__ import annotations

import copy
import json
import math
import os

from ..errors import SemcomError


def merge(base: dict, over: dict) -> dict:
    """``over`` on a copy of ``base``: nested dicts merge, other values replace."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def _base_path(name: str, folder: str) -> str:
    path = os.path.join(folder, name if name.endswith(".json") else name + ".json")
    if not os.path.isfile(path):
        raise SemcomError(f"config base '{name}' not found ({path})")
    return path


def read(path: str, _seen: tuple = ()) -> dict:
    """The config at ``path`` with its bases applied (SemcomError on a bad file or a base cycle)."""
    real = os.path.realpath(path)
    if real in _seen:
        raise SemcomError(f"config {path}: its bases form a cycle")
    try:
        with open(path) as f:
            user = json.load(f)
    except (OSError, ValueError) as err:
        raise SemcomError(f"cannot read config {path} ({err})") from None
    if not isinstance(user, dict):
        raise SemcomError(f"config {path} must be a JSON object, not {type(user).__name__}")
    name = user.pop("base", None)
    if name is None:
        return user
    if not isinstance(name, str) or not name:
        raise SemcomError(f"config {path}: base must be a config name, got {name!r}")
    return merge(read(_base_path(name, os.path.dirname(os.path.abspath(path))), (*_seen, real)), user)


# (path, kind, low, high): the numbers a config holds, each checked with one line naming it
NUMBERS = [("lr", float, 0, 1), ("threads", int, 1, 1024), ("seed", int, 0, 2**31 - 1),
           ("stage1_steps", int, 0, None), ("stage2_steps", int, 0, None),
           ("lr_decay.every", int, 0, None), ("lr_decay.gamma", float, 0, 1),
           ("checkpoint_every", int, 1, None), ("keep_checkpoints", int, 1, None), ("log_every", int, 1, None),
           ("val.every", int, 1, None), ("data.batch", int, 1, 4096), ("data.crop", int, 16, 4096),
           ("data.val_crop", int, 16, 8192), ("data.val_images", int, 0, None), ("data.workers", int, 0, 256),
           ("data.synthetic", int, 0, 100000), ("data.prepared_scale", float, 0.05, 1), ("ema", float, 0, 0.99999)]


def _number(path: str, kind: type, node):
    """``node`` as ``kind`` (finite; a whole number for int), else SemcomError naming ``path``."""
    try:
        value = None if isinstance(node, bool) else kind(node)
    except (TypeError, ValueError, OverflowError):
        value = None
    if value is None or not math.isfinite(value) or (kind is int and value != node):
        raise SemcomError(f"config {path} must be {'a whole number' if kind is int else 'a number'}, got {node!r}")
    return value


def check_numbers(cfg: dict) -> None:
    """Every number of ``NUMBERS`` present in ``cfg`` within its range, and ``val.snrs`` a list of
    finite numbers; SemcomError (one line naming the first bad one) otherwise."""
    for path, kind, low, high in NUMBERS:
        node = cfg
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            continue
        value = _number(path, kind, node)
        if value < low or (high is not None and value > high):
            raise SemcomError(f"config {path} = {node} is out of range ({low} .. {high if high is not None else 'any'})")
    snrs = (cfg.get("val") or {}).get("snrs") or []
    if not isinstance(snrs, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                             and math.isfinite(v) for v in snrs):
        raise SemcomError(f"config val.snrs must be a list of numbers (dB), got {snrs!r}")
