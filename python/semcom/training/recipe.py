"""Training recipes: an ordered list of stages, each naming what trains, through which channel,
with which loss, for how many steps and at which learning rate.

A stage (dict; everything but ``steps`` optional):
  * ``name``;
  * ``steps``;
  * ``train``: module names of the model that train (``model.get_submodule`` paths, e.g.
    ``encoder``, ``decoder``); every other parameter is frozen. Default: the whole model;
  * ``channel``: ``{"kind": K, ...}`` with K one of
      - ``error-free``: the decoder reads the bits themselves;
      - ``awgn``, ``rayleigh``, ``mixed`` (each batch one of the two): Gray QAM of the config's
        modulation, SNR per image uniform in ``snr_range`` (dB), exact LLRs, P(b=1) = sigmoid(LLR);
        differentiable end to end (``block_len``: Rayleigh coherence in symbols);
      - ``bsc``: each bit flips with a probability uniform in ``flip_range``; the decoder reads
        P(b=1) = sigmoid(+-log((1-p)/p)) (gradients pass the flips as straight-through), or with
        ``hard: true`` the flipped bits themselves (0/1, no gradient: AMP-SC's Steps 3 and 5);
      - ``hard``: the AWGN/Rayleigh chain above, then hard decisions: the decoder reads 0/1 with no
        gradient to the encoder (``straight_through: true`` passes the bits' gradient instead);
      - ``flips``: the hard-decision chain as independent flips: each bit flips with the exact error
        rate of the Gray QAM label position it is sent on (``phy.theory.bit_error_rates``) at an SNR
        per image uniform in ``snr_range``; the decoder reads the flipped 0/1 bits (no gradient).
        ``per_position: false`` flips every bit with the positions' mean (one BSC p per image);
      - ``mask``: each bit is erased (P = 0.5) with a probability uniform in ``erase_range``;
      - ``analog``: no bits at all; the model reads its continuous latent, plus ``noise`` times
        N(0, 1) (AMP-SC's soft quantization). Models without an analog path reject it.
    Bits go on the symbols in NCHW order, or in the config's ``symbol_layout`` (``codecs.symbol_layout``,
    as the runtime sends them at the model's own budget) for the modem kinds and ``flips``.
    AMP-SC also reads ``mask_ratio`` (MATK on the received latent), ``restorer`` (analog stages:
    whether IRSNet runs) and ``restorer_weight`` from a stage's channel (``ampsc.AMPSC.forward``);
  * ``loss``: as ``losses.make`` (default: the config's ``loss``);
  * ``adversarial``: semantic noise and weight perturbation (``adversarial.py``, Algorithm 2 of
    the masked VQ-VAE paper): ``{"epsilon": 0.016, "steps": 5, "gamma": 0.005}``;
  * ``lr`` and ``lr_schedule``: this stage's own rate, the schedule over the stage's steps
    (default: the config's ``lr``/``lr_schedule`` over the whole recipe's steps).

Old configs (``stage1_steps`` error-free, then ``stage2_steps`` through ``channel``) become the
two-stage recipe ``from_legacy`` makes; BitSemCom's recipe is exactly that.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import SemcomError
from ..phy.constellations import constellation
from . import channels as tch

DIFFERENTIABLE = ("awgn", "rayleigh", "mixed")
SYMBOL_KINDS = DIFFERENTIABLE + ("hard", "flips")  # those whose bits sit on symbols
KINDS = ("error-free",) + DIFFERENTIABLE + ("bsc", "hard", "flips", "mask", "analog")


def from_legacy(cfg: dict) -> list[dict]:
    """The two stages of a ``stage1_steps``/``stage2_steps`` config (empty stages dropped)."""
    stages = [{"name": "error-free", "steps": int(cfg["stage1_steps"]), "channel": {"kind": "error-free"}},
              {"name": "channel", "steps": int(cfg["stage2_steps"]), "channel": dict(cfg["channel"])}]
    return [s for s in stages if s["steps"] > 0]


def check(stages: list[dict]) -> list[dict]:
    """Validated copies of the stages with defaults filled in; SemcomError on a bad stage."""
    if not stages:
        raise SemcomError("the recipe has no stage")
    out = []
    for i, stage in enumerate(stages):
        s = dict(stage)
        s.setdefault("name", f"stage{i + 1}")
        steps, lr = s.get("steps", 0), s.get("lr", 1.0)
        if isinstance(steps, bool) or not isinstance(steps, (int, float)) or steps != int(steps) or steps < 1:
            raise SemcomError(f"recipe stage '{s['name']}' needs a whole number of steps >= 1, got {steps!r}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr <= 1:
            raise SemcomError(f"recipe stage '{s['name']}': lr must be a number in (0, 1], got {lr!r}")
        s["steps"] = int(s["steps"])
        ch = {"kind": "error-free", **(s.get("channel") or {})}
        if ch["kind"] not in KINDS:
            raise SemcomError(f"recipe stage '{s['name']}': channel kind must be one of {', '.join(KINDS)}, "
                              f"not {ch['kind']}")
        if ch["kind"] in SYMBOL_KINDS:
            ch.setdefault("snr_range", [-3.0, 6.0])
            ch.setdefault("block_len", 64)
        _check_channel(s["name"], ch)
        s["channel"] = ch
        if "adversarial" in s:
            from . import adversarial
            try:
                s["adversarial"] = adversarial.check(s["name"], s["adversarial"])
            except ValueError as err:
                raise SemcomError(str(err)) from None
        if s.get("train") is not None and not isinstance(s["train"], list):
            raise SemcomError(f"recipe stage '{s['name']}': train must be a list of module names")
        out.append(s)
    return out


RANGES = {"snr_range": (-30.0, 60.0), "flip_range": (0.0, 0.5), "erase_range": (0.0, 1.0)}
SCALARS = {"block_len": (1, 1 << 20), "mask_ratio": (0.0, 0.99), "noise": (0.0, 100.0), "restorer_weight": (0.0, 1e3)}


def _check_channel(stage: str, ch: dict) -> None:
    """Ranges ([lo, hi] within bounds) and scalars of a stage's channel, one line naming the bad one."""
    import math
    for key, (low, high) in RANGES.items():
        if key not in ch:
            continue
        v = ch[key]
        ok = isinstance(v, (list, tuple)) and len(v) == 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
        if not ok or not low <= v[0] <= v[1] <= high:
            raise SemcomError(f"recipe stage '{stage}': {key} must be [low, high] with {low} <= low <= high <= "
                              f"{high}, got {v!r}")
    if not isinstance(ch.get("per_position", True), bool):
        raise SemcomError(f"recipe stage '{stage}': per_position must be true or false, got {ch['per_position']!r}")
    for key, (low, high) in SCALARS.items():
        if key in ch:
            v = ch[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low <= v <= high:
                raise SemcomError(f"recipe stage '{stage}': {key} must be a number in [{low}, {high}], got {v!r}")


def locate(stages: list[dict], step: int) -> tuple[int, int]:
    """(stage index, step within it) of global ``step``; past the end: the last stage."""
    start = 0
    for i, s in enumerate(stages):
        if step < start + s["steps"]:
            return i, step - start
        start += s["steps"]
    return len(stages) - 1, step - start + stages[-1]["steps"]


def total_steps(stages: list[dict]) -> int:
    return sum(s["steps"] for s in stages)


def set_trainable(model: torch.nn.Module, names: list[str] | None) -> None:
    """Only the parameters under ``names`` (None: all) get gradients."""
    if names is None:
        for p in model.parameters():
            p.requires_grad_(True)
        return
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        try:
            sub = model.get_submodule(name)
        except AttributeError:
            raise SemcomError(f"the model has no module '{name}' to train") from None
        for p in sub.parameters():
            p.requires_grad_(True)


def _uniform(batch: int, lo_hi, device) -> torch.Tensor:
    lo, hi = (float(v) for v in lo_hi)
    return torch.empty(batch, device=device).uniform_(lo, hi)


class Channel:
    """bits (B, L) -> P(b=1) (B, L) for a stage's channel spec; ``snr_db`` fixes the SNR (validation).
    ``air_slots(L)``: the air slot of every bit of an L-bit latent (None: NCHW order)."""

    def __init__(self, spec: dict, modulation: str, device="cpu", air_slots=None):
        self.spec, self.kind, self.modulation = spec, spec["kind"], modulation
        self.modem = tch.Modem(modulation).to(device) if self.kind in DIFFERENTIABLE + ("hard",) else None
        self.air_slots, self._slots = air_slots, {}

    def slots(self, n: int) -> np.ndarray | None:
        if self.air_slots is None:
            return None
        if n not in self._slots:
            self._slots[n] = np.asarray(self.air_slots(n), dtype=np.int64)
        return self._slots[n]

    def llr(self, bits: torch.Tensor, snr_db) -> torch.Tensor:
        """Exact LLRs of ``bits`` through modulation, AWGN or Rayleigh block fading at ``snr_db``
        (sent in the symbol layout's order, the LLRs returned in the bits' order)."""
        slots = self.slots(bits.shape[1])
        if slots is not None:
            bits = bits[:, torch.as_tensor(np.argsort(slots), device=bits.device)]
        s = self.modem.modulate(bits)
        snr = torch.as_tensor(snr_db, dtype=torch.float32, device=bits.device).reshape(-1)
        if snr.numel() == 1:
            snr = snr.expand(bits.shape[0])
        kind = self.kind if self.kind != "hard" else self.spec.get("fading", "awgn")
        if kind == "mixed":
            kind = "rayleigh" if torch.rand(()) < 0.5 else "awgn"
        if kind == "rayleigh":
            y, nv = tch.rayleigh_block(s, snr, int(self.spec.get("block_len", 64)))
        else:
            y, nv = tch.awgn(s, snr)
        llrs = self.modem.llr(y, nv)
        return llrs if slots is None else llrs[:, torch.as_tensor(slots, device=llrs.device)]

    def __call__(self, bits: torch.Tensor, snr_db=None) -> torch.Tensor:
        with torch.autocast(bits.device.type, enabled=False):  # exact LLRs need float32
            bits = bits.float()
            b, dev = bits.shape[0], bits.device
            if self.kind == "error-free":
                return bits
            if self.kind in DIFFERENTIABLE:
                snr = _uniform(b, self.spec["snr_range"], dev) if snr_db is None else snr_db
                return torch.sigmoid(self.llr(bits, snr))
            if self.kind == "hard":
                snr = _uniform(b, self.spec["snr_range"], dev) if snr_db is None else snr_db
                with torch.no_grad():
                    hard = (self.llr(bits.detach(), snr) > 0).to(bits.dtype)
                return hard + (bits - bits.detach()) if self.spec.get("straight_through") else hard
            if self.kind == "flips":
                snr = _uniform(b, self.spec["snr_range"], dev) if snr_db is None else snr_db
                n = bits.shape[1]
                slots = self.slots(n)
                positions = (np.arange(n) if slots is None else slots) % constellation(self.modulation).bits_per_symbol
                p = tch.position_flip_probs(self.modulation, torch.as_tensor(snr).reshape(-1).expand(b).cpu().numpy(),
                                            positions, bool(self.spec.get("per_position", True)))
                return tch.flip(bits, p.to(dev)).detach()
            if self.kind == "bsc":
                p = _uniform(b, self.spec.get("flip_range", [0.0, 0.1]), dev).clamp(1e-6, 0.5)
                if self.spec.get("hard"):
                    return tch.flip(bits, p[:, None]).detach()
                return torch.sigmoid(tch.bsc_llr(bits, p))
            if self.kind == "analog":
                raise SemcomError("an 'analog' stage needs a model with an analog path (AMP-SC)")
            erase = torch.rand_like(bits) < _uniform(b, self.spec.get("erase_range", [0.0, 0.3]), dev)[:, None]
            return torch.where(erase, torch.full_like(bits, 0.5), bits)
