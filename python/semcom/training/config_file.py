"""Training config files: JSON objects that may inherit from another with ``"base": "NAME"``.

A config states only what differs from its base: ``"base": "bitsemcom_qpsk_cpp16_wide"`` names
``bitsemcom_qpsk_cpp16_wide.json`` beside it (``"../../configs/NAME"`` reaches another folder);
nested objects merge key by key, anything else replaces the base's value.
"""
from __future__ import annotations

import copy
import json
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
