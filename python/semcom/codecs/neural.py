"""Learned codecs run from ONNX files (numpy + onnxruntime; no torch).

A model folder holds ``encoder.onnx`` and ``decoder.onnx`` exported by ``semcom-export``; the model
card (``semcom.*`` ONNX metadata) says everything the runtime needs: latent channels and stride
(so the latent has C * ceil(H/16) * ceil(W/16) bits), bit order and the variant. Nothing about a
model's shapes is hard-coded here. Every image is sent in exactly the link's budget: the latent is
punctured or repeated by the measured importance in card.json (``rate_match``), and very small
budgets encode a downscaled image. Images above 1 MP run through the networks tile by tile.

Registered names, for every model folder found (``model_dirs``):
  * ``<folder>``: soft receiver, the decoder reads P(b=1) = sigmoid(LLR);
  * ``<folder>-hard``: hard-decision receiver, P(b=1) = [LLR > 0];
  * ``bitsemcom``: picks, per image, the BitSemCom model whose measured profile predicts the best
    PSNR in the budget (``AutoBitSemCom.choose``); for a target SNR (``tx_image.py --modulation
    auto``), the model and modulation whose measured curves (the card's ``measured`` section,
    ``scripts/model_cards.py --measured``) predict the best PSNR (``AutoBitSemCom.choose_link``).
The bits go on the air uncoded (``default_fec``), as in the paper. Frames carry the model folder
name and a fingerprint of its files, so a receiver loads the model the transmitter used and
refuses a different one.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .. import methods, options
from ..errors import SemcomError
from ..imageio import resize
from ..phy.constellations import MODULATIONS
from ..phy.framing import CODEC_ID, MODEL, MODEL_HASH
from ..phy.link import FEC_NONE, LinkConfig, channel_use_budget
from . import rate_match, registry
from .base import Codec, Decoded, Encoded, Received
from .onnx_model import (CARD_FILE, AnotherModel, DECODER_ENV, DECODER_FILES, ENCODER_FILE, MEASURED_KEY,  # noqa: F401
                         THREADS_ENV, OnnxModel, check_budget, check_model_frame, codec_id_for, crop_back,
                         pad_to_multiple, posterior)

MODEL_PATH_ENV = "SEMCOM_MODEL_PATH"  # extra model folders' parents, os.pathsep-separated
FAMILY = methods.DEFAULT  # the method of the models the auto codec picks from
# a model trained for another modulation is picked only if its profile predicts this much more: the
# curves come from 256x256 validation crops, and on the Kodak-like photos the 16-QAM model with half
# its latent punctured scored 0.55 dB below the QPSK model that the crops ranked 0.1 dB below it
OWN_LINK_MARGIN_DB = 0.5


# ---------------------------------------------------------------- model folders

def packaged_models_dir() -> str:
    """Where ``make install`` puts the shipped models: gnuradio/semcom/models."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")


def model_dirs() -> list[str]:
    """Model folders (those holding encoder.onnx) in $SEMCOM_MODEL_PATH, then the packaged ones."""
    roots = [p for p in os.environ.get(MODEL_PATH_ENV, "").split(os.pathsep) if p] + [packaged_models_dir()]
    found, names = [], set()
    for root in roots:
        if os.path.isfile(os.path.join(root, ENCODER_FILE)):
            candidates = [root]
        elif os.path.isdir(root):
            candidates = [os.path.join(root, d) for d in sorted(os.listdir(root))]
        else:
            continue
        for d in candidates:
            name = os.path.basename(os.path.normpath(d))
            if name not in names and os.path.isfile(os.path.join(d, ENCODER_FILE)):
                found.append(d)
                names.add(name)
    return found


def update_card(folder: str, key: str, value) -> None:
    """Set one section of a model folder's card.json (atomically: temp file, then rename)."""
    path = os.path.join(folder, CARD_FILE)
    try:
        with open(path) as f:
            card = json.load(f)
        card[key] = value
        with open(path + ".tmp", "w") as f:
            json.dump(card, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(path + ".tmp", path)
    except (OSError, ValueError) as err:
        raise SemcomError(f"cannot update {path} ({err}); check the model folder") from None


class ModelCodec(Codec):
    """One model folder as a codec: bits straight from the encoder, LLRs (or hard bits) to the decoder."""

    default_fec = FEC_NONE
    model_class = OnnxModel

    def __init__(self, model: OnnxModel, hard: bool = False):
        self.model, self.hard = model, hard
        model.verify()  # loads both files and checks the card now: a bad model fails here, not mid-stream
        self.name = model.name + ("-hard" if hard else "")
        self.codec_id = codec_id_for(self.name)

    def encode(self, image: np.ndarray, link: LinkConfig, channel_uses: int) -> Encoded:
        """Exactly the budget's bits: the latent punctured or repeated (rate_match), of a downscaled
        image where the profile predicts that is better."""
        h, w = image.shape[:2]
        budget = check_budget(link, channel_uses, h, w)
        plan = self.model.plan(h, w, budget)
        bits = self.model.encode(resize(image, *plan.size))[self.model.sent_indices(plan)]
        slots = self.model.air_slots(plan)
        return Encoded(bits if slots is None else self.model.layout.place(bits, slots),
                       {MODEL: self.model.name, MODEL_HASH: self.model.fingerprint,
                        CODEC_ID: codec_id_for(self.model.name)})

    def check_frame(self, meta: dict, n_llrs: int) -> tuple[int, int]:
        """(H, W) of a frame meant for this model; ValueError (the PDU is dropped) otherwise."""
        return check_model_frame(self.model, meta, n_llrs)

    def decode(self, rx: Received) -> Decoded:
        """The latent's LLRs rebuilt from the sent ones (erasures 0, copies summed), decoded, and
        upscaled when the plan downscaled."""
        h, w = self.check_frame(rx.meta, len(rx.llrs))
        plan = self.model.plan(h, w, len(rx.llrs))
        slots = self.model.air_slots(plan)
        sent = rx.llrs if slots is None else self.model.layout.gather(rx.llrs, slots)
        llrs = rate_match.combine(sent, self.model.sent_indices(plan), plan.n)
        return Decoded(resize(self.model.decode(posterior(llrs, self.hard), *plan.size), h, w))


def curve_psnr(curve: dict, snr: float) -> float:
    """A measured curve {snr_db: PSNR} at ``snr``: linear between the measured points, the
    nearest end's value beyond them."""
    points = sorted((float(s), float(p)) for s, p in curve.items())
    return float(np.interp(float(snr), [s for s, _ in points], [p for _, p in points]))


def pick_link(curves: dict, snr: float) -> tuple[tuple[str, str], float] | None:
    """The key of ``curves`` = {(model, modulation): {snr_db: PSNR}} whose curve is highest at
    ``snr`` (``curve_psnr``; a tie goes to the later key), and that PSNR; None without curves."""
    scored = [(curve_psnr(curve, snr), key) for key, curve in sorted(curves.items()) if curve]
    if not scored:
        return None
    psnr, key = max(scored)
    return key, psnr


class AutoBitSemCom(Codec):
    """``bitsemcom``: the BitSemCom model its profile predicts best for the budget; frames name the model used."""

    default_fec = FEC_NONE

    def __init__(self, hard: bool = False):
        self.hard = hard
        self.name = FAMILY + ("-hard" if hard else "")
        self.codec_id = codec_id_for(self.name)
        self._models, self._unusable = {}, {}
        for d in model_dirs():
            m = OnnxModel(d)
            try:
                if m.card.get("codec") == FAMILY and m.card.get("variant") == "bitsemcom":
                    self._models[m.name] = m
            except SemcomError as err:  # a broken folder, or no int8 decoder with SEMCOM_DECODER=int8
                self._unusable[m.name] = str(err)

    @property
    def models(self) -> dict:
        """{name: OnnxModel} of the installed BitSemCom models."""
        return dict(self._models)

    def _listing(self) -> str:
        text = ", ".join(self._models) or "none installed"
        if self._unusable:
            text += "; unusable: " + "; ".join(self._unusable.values())
        return text

    def choose(self, link: LinkConfig, height: int, width: int, channel_uses: int) -> OnnxModel:
        """The model whose profile predicts the best PSNR for the budget (a model trained for the
        link's modulation gets OWN_LINK_MARGIN_DB); without profiles, the largest that needs no
        puncturing, else the least punctured (then the link's modulation)."""
        budget = check_budget(link, channel_uses, height, width)
        if not self._models:
            raise SemcomError(f"no BitSemCom model is installed (models: {self._listing()}); install "
                              "one or point $SEMCOM_MODEL_PATH at a folder of models")

        def rank(m):
            plan = m.plan(height, width, budget)
            predicted = m.predicted_psnr(plan)
            own = m.card.get("modulation") == link.modulation
            if predicted is not None and own:
                predicted += OWN_LINK_MARGIN_DB
            return (-np.inf if predicted is None else predicted, min(plan.fraction, 1.0), own, plan.n)
        return max(self._models.values(), key=rank)

    def curves(self, cpp: float) -> dict:
        """{(model, modulation): {snr_db: PSNR}}: the installed models' measured curves at ``cpp``."""
        return {(name, mod): curve for name, m in self._models.items()
                for mod, curve in m.measured_curves(cpp).items()}

    def choose_link(self, snr: float, cpp: float, height: int, width: int,
                    fallback: LinkConfig) -> tuple[OnnxModel, str, float | None]:
        """(model, modulation, predicted PSNR) for a target SNR: the pair whose measured curve at
        ``cpp`` is highest at ``snr`` (``pick_link``); without curves today's choice over the
        ``fallback`` link (``choose``), its modulation, and no prediction."""
        best = pick_link({k: c for k, c in self.curves(cpp).items() if k[1] in MODULATIONS}, snr)
        if best is None:
            cu = channel_use_budget(cpp, height, width)
            return self.choose(fallback, height, width, cu), fallback.modulation, None
        (name, modulation), psnr = best
        return self._models[name], modulation, psnr

    def encode(self, image: np.ndarray, link: LinkConfig, channel_uses: int) -> Encoded:
        model = self.choose(link, image.shape[0], image.shape[1], channel_uses)
        return ModelCodec(model, self.hard).encode(image, link, channel_uses)

    def decode(self, rx: Received) -> Decoded:
        name = str(rx.meta.get(MODEL, ""))
        if name not in self._models:
            raise AnotherModel(f"frame names model '{name}', which is not installed here as a BitSemCom model "
                               f"(installed: {self._listing()})")
        return ModelCodec(self._models[name], self.hard).decode(rx)


def card_codec(folder: str) -> str:
    """The ``codec`` (training method) a folder's card.json names (``methods.DEFAULT`` when it names
    none or cannot be read)."""
    path = os.path.join(folder, CARD_FILE)
    try:
        return options.model_card(options.read_small(path, path), path).get("codec", methods.DEFAULT)
    except SemcomError:  # the model's own checks say what is wrong
        return methods.DEFAULT


def open_model(folder: str, hard: bool = False, **options) -> Codec:
    """The codec of a model folder: the runtime codec class its method names (``methods``)."""
    codec = methods.get(card_codec(folder)).codec_class()
    return codec(codec.model_class(folder), hard, **options)


def _register_folder(folder: str) -> None:
    """The model folder's codec (and its -hard receiver) under the folder's name, with the id its
    frames carry, so a receiver in this process knows the frames it sends."""
    name = os.path.basename(os.path.normpath(folder))
    for hard in (False, True):
        registry.register(name + ("-hard" if hard else ""), lambda folder=folder, hard=hard: open_model(folder, hard),
                          None if hard else codec_id_for(name), {MODEL: name})


def _open_folder(folder: str, **options) -> Codec | None:
    """A model folder given by path (``--codec PATH``): opened, and registered under its name
    unless an installed model has that name (which it never shadows); None if not a model folder."""
    if not os.path.isfile(os.path.join(folder, ENCODER_FILE)):
        return None
    codec = open_model(folder, **options)
    if os.path.basename(os.path.normpath(folder)) not in registry.available():
        _register_folder(folder)
    return codec


def _register_all() -> None:
    for folder in model_dirs():
        _register_folder(folder)
    for hard in (False, True):
        registry.register(FAMILY + ("-hard" if hard else ""), lambda hard=hard: AutoBitSemCom(hard))
    registry.register_folder_loader(_open_folder)


_register_all()
