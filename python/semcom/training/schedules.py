"""Learning-rate schedules as pure functions of the step (so a resumed run gets the same rate).

``lr_at(spec, base_lr, step, total)``, ``spec`` a dict with ``kind``:
  * ``constant``;
  * ``step``: times ``gamma`` every ``every`` steps;
  * ``cosine``: half cosine from ``base_lr`` to ``min_factor * base_lr`` over ``total`` steps;
  * ``warmup-cosine``: linear warm-up over ``warmup`` steps (an int, or a fraction of ``total``
    when below 1), then the cosine over the rest.
"""
from __future__ import annotations

import math

KINDS = ("constant", "step", "cosine", "warmup-cosine")


def lr_at(spec: dict | None, base_lr: float, step: int, total: int) -> float:
    spec = spec or {"kind": "constant"}
    kind = spec.get("kind", "constant")
    if kind == "constant":
        return base_lr
    if kind == "step":
        every = int(spec.get("every", 0))
        return base_lr * float(spec.get("gamma", 1.0)) ** (step // every) if every > 0 else base_lr
    if kind not in KINDS:
        raise ValueError(f"unknown lr schedule '{kind}'; choose one of {', '.join(KINDS)}")
    warm = 0
    if kind == "warmup-cosine":
        w = float(spec.get("warmup", 0.05))
        warm = int(round(w * total)) if w < 1 else int(w)
        if step < warm:
            return base_lr * (step + 1) / warm
    span = max(total - warm, 1)
    t = min(max(step - warm, 0) / span, 1.0)
    low = float(spec.get("min_factor", 0.01))
    return base_lr * (low + (1 - low) * 0.5 * (1 + math.cos(math.pi * t)))
