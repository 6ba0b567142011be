"""``--codec auto``: per image, the codec and link whose measured rate profile predicts the best PSNR
at the channel's SNR, among every installed learned model and every conventional codec x link.

* Learned models: their cards' ``measured`` curves (mean PSNR per link and Es/N0 at one cpp).
* Conventional codecs: ``sscc_profile.json`` (``write_profile``, ``semcom-eval --sscc-profile``):
  per codec the mean PSNR against the bits per pixel it was given, and per link the Es/N0 from
  which its LDPC codewords all decoded. A conventional codec x link is a candidate only where the
  link holds at SNR - ``margin_db`` (its cliff); it then delivers the codec's PSNR at the link's bpp.
* Closed loop: ``choose(..., current=...)`` keeps the current pick unless another one predicts more
  at SNR - ``hysteresis_db`` (or the current one no longer holds), so an estimate that wobbles near
  a switch point does not flip the choice every image.

Plain Python (no GNU Radio, no torch).
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field

import numpy as np

from .. import options
from ..errors import SemcomError
from ..phy.link import LinkConfig, channel_use_budget
from . import neural
from .sscc import HEADER_BYTES

AUTO_CODEC = "auto"  # the --codec value that picks per image
PROFILE_FILE = "sscc_profile.json"
PROFILE_ENV = "SEMCOM_SSCC_PROFILE"  # another conventional rate profile to use instead of the shipped one
MARGIN_DB = options.default("auto_margin")  # a conventional link is picked only where it holds this far below the SNR
HYSTERESIS_DB = options.default("hysteresis")  # closed loop: another pick must win this far lower to replace the current
LEARNED, CONVENTIONAL = "learned", "conventional"


@dataclass(frozen=True, order=True)
class Candidate:
    """One codec over one link (LinkConfig text: 'qpsk' uncoded, 'qpsk/ldpc-1/2')."""
    codec: str
    link: str
    family: str = field(default=LEARNED, compare=False)

    @property
    def label(self) -> str:
        return f"{self.codec} {self.link}"


@dataclass
class Choice:
    """What ``choose`` picked, its predicted PSNR, the SNR it was picked for, why, and every
    deliverable candidate ranked best first (the fallbacks when an encoder cannot fit the budget)."""
    candidate: Candidate
    predicted_db: float
    snr_db: float
    reason: str
    ranked: list = field(default_factory=list)  # [(Candidate, predicted PSNR)]

    def record(self) -> dict:
        return {"codec": self.candidate.codec, "link": self.candidate.link, "family": self.candidate.family,
                "predicted_psnr_db": round(self.predicted_db, 2), "for_snr_db": round(self.snr_db, 2),
                "why": self.reason}


def profile_path() -> str:
    """$SEMCOM_SSCC_PROFILE, else the shipped profile next to the installed models."""
    return os.environ.get(PROFILE_ENV) or os.path.join(neural.packaged_models_dir(), PROFILE_FILE)


def payload_bpp(link: LinkConfig, channel_uses: int, pixels: int) -> float:
    """Bits per pixel a conventional codec's image file gets: the link's payload less the frame header."""
    return max(link.payload_bits(channel_uses) - 8 * HEADER_BYTES, 0) / pixels


class ConventionalProfile:
    """The measured rate profile of the conventional codecs (``sscc_profile.json``)."""

    def __init__(self, data: dict, source: str = ""):
        try:
            self.codecs = {str(c): (np.log2(np.asarray(d["bpp"], float)), np.asarray(d["psnr_db"], float))
                           for c, d in data["codecs"].items()}
            self.thresholds = {str(link): float(d["threshold_db"]) for link, d in data["links"].items()}
            for bpp, psnr in self.codecs.values():
                if len(bpp) < 2 or len(bpp) != len(psnr) or np.any(np.diff(bpp) <= 0):
                    raise ValueError
            for link in self.thresholds:
                LinkConfig.parse(link)
        except (KeyError, TypeError, ValueError, AttributeError, SemcomError):
            raise SemcomError(f"{source or 'the conventional rate profile'} is not a profile "
                              "{codecs: {codec: {bpp, psnr_db}}, links: {link: {threshold_db}}}; write it again "
                              "with semcom-eval --sscc-profile") from None

    @classmethod
    def load(cls, path: str | None = None) -> "ConventionalProfile":
        path = path or profile_path()
        try:
            with open(path) as f:
                return cls(json.load(f), path)
        except (OSError, ValueError) as err:
            raise SemcomError(f"cannot read the conventional rate profile {path} ({err}); write it with "
                              "semcom-eval --sscc-profile, or set $" + PROFILE_ENV) from None

    def psnr(self, codec: str, bpp: float) -> float | None:
        """Mean PSNR of ``codec`` at ``bpp``: linear in log2(bpp) between the measured points, the
        end segments' slope below them, the highest point's value above; None at 0 bpp."""
        if bpp <= 0:
            return None
        x, y = self.codecs[codec]
        v = np.log2(bpp)
        if v < x[0]:
            return float(y[0] + (v - x[0]) * (y[1] - y[0]) / (x[1] - x[0]))
        return float(np.interp(v, x, y))

    def holds(self, link: str, snr_db: float) -> bool:
        return snr_db >= self.thresholds[link]


class RateTable:
    """Expected PSNR per candidate against SNR: learned ``curves`` {(model, link): {snr_db: PSNR}}
    and the conventional ``profile``, all at ``cpp`` channel uses per pixel."""

    def __init__(self, curves: dict, profile: ConventionalProfile | None, cpp: float,
                 margin_db: float = MARGIN_DB):
        self.curves = {Candidate(m, link, LEARNED): c for (m, link), c in curves.items() if c}
        self.profile, self.cpp, self.margin_db = profile, float(cpp), float(margin_db)
        conventional = [Candidate(c, link, CONVENTIONAL) for c in sorted(profile.codecs)
                        for link in sorted(profile.thresholds)] if profile else []
        self.candidates = sorted(self.curves) + conventional
        if not self.candidates:
            raise SemcomError("--codec auto has nothing to pick from: no installed learned model has measured "
                              f"curves at cpp {cpp:g} and there is no conventional rate profile")

    def restricted(self, fits) -> "RateTable":
        """This table with only the candidates whose link ``fits(LinkConfig)``."""
        out = copy.copy(self)
        out.candidates = [c for c in self.candidates if fits(LinkConfig.parse(c.link))]
        if not out.candidates:
            raise SemcomError("--codec auto has nothing to pick from: no candidate's link fits")
        return out

    @classmethod
    def installed(cls, cpp: float, margin_db: float = MARGIN_DB, profile: str | None = None) -> "RateTable":
        """Every installed learned model with curves at ``cpp``, and the shipped conventional profile."""
        curves = {}
        for folder in neural.model_dirs():
            model = neural.OnnxModel(folder)
            try:
                curves.update({(model.name, link): c for link, c in model.measured_curves(cpp).items()})
            except SemcomError:  # a broken card: that model is not a candidate
                continue
        return cls(curves, ConventionalProfile.load(profile), cpp, margin_db)

    def predicted(self, candidate: Candidate, snr_db: float, pixels: int) -> float | None:
        """Expected PSNR of ``candidate`` at ``snr_db`` for an image of ``pixels``; None where a
        conventional link does not hold at SNR - margin (its cliff) or the budget carries nothing."""
        if candidate.family == LEARNED:
            return neural.curve_psnr(self.curves[candidate], snr_db)
        if not self.profile.holds(candidate.link, snr_db - self.margin_db):
            return None
        bpp = payload_bpp(LinkConfig.parse(candidate.link), channel_use_budget(self.cpp, 1, pixels), pixels)
        return self.profile.psnr(candidate.codec, bpp)

    def ranked(self, snr_db: float, pixels: int, among=None) -> list[tuple[Candidate, float]]:
        """Deliverable candidates (of ``among``, default all) by predicted PSNR, best first; a tie
        goes to the learned one, then to the link that holds from the lowest SNR, then by name."""
        scored = [(c, self.predicted(c, snr_db, pixels)) for c in (self.candidates if among is None else among)]
        return sorted(((c, p) for c, p in scored if p is not None),
                      key=lambda cp: (-cp[1], cp[0].family != LEARNED,
                                      self.profile.thresholds[cp[0].link] if cp[0].family != LEARNED else 0.0, cp[0]))

    def choose(self, snr_db: float, pixels: int, current: Candidate | None = None,
               hysteresis_db: float = HYSTERESIS_DB, source: str = "given") -> Choice:
        """The candidate predicted best at ``snr_db``. With ``current`` (the previous image's pick):
        kept while it holds, unless another predicts more at ``snr_db - hysteresis_db``."""
        ranked = self.ranked(snr_db, pixels)
        if not ranked:
            raise SemcomError(f"--codec auto: no candidate can be sent at {snr_db:g} dB")
        best, best_db = ranked[0]
        why = f"SNR {snr_db:.1f} dB ({source}): "
        if current is not None and current != best and current in self.candidates:
            now = self.predicted(current, snr_db, pixels)
            if now is None:
                why += f"{current.label} no longer holds; "
            else:
                lowered = self.ranked(snr_db - hysteresis_db, pixels, [c for c in self.candidates if c != current])
                if not lowered or lowered[0][1] <= now:
                    return Choice(current, now, snr_db, why + f"kept {current.label} ({now:.2f} dB): nothing "
                                  f"predicts more {hysteresis_db:g} dB lower (hysteresis)", ranked)
                best, best_db = lowered[0][0], self.predicted(lowered[0][0], snr_db, pixels)
                why += f"{best.label} predicts more than {current.label} even {hysteresis_db:g} dB lower; "
        runner = next(((c, p) for c, p in ranked if c != best), None)
        why += f"{best.label} predicts {best_db:.2f} dB"
        if runner:
            why += f", next {runner[0].label} {runner[1]:.2f} dB"
        blocked = self._next_cliff(snr_db, pixels, best_db)
        if blocked:
            why += f"; {blocked}"
        return Choice(best, best_db, snr_db, why, ranked)

    def _next_cliff(self, snr_db: float, pixels: int, best_db: float) -> str:
        """'L needs X dB': the conventional link that would predict more than ``best_db`` but does not hold."""
        if not self.profile:
            return ""
        better = []
        for link, threshold in self.profile.thresholds.items():
            if self.profile.holds(link, snr_db - self.margin_db):
                continue
            bpp = payload_bpp(LinkConfig.parse(link), channel_use_budget(self.cpp, 1, pixels), pixels)
            top = max((self.profile.psnr(c, bpp) or -np.inf) for c in self.profile.codecs)
            if top > best_db:
                better.append((threshold, link))
        if not better:
            return ""
        threshold, link = min(better)
        return f"{link} needs {threshold + self.margin_db:.1f} dB"
