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

import hashlib
import json
import os
import zlib

import numpy as np

from ..errors import SemcomError
from ..imageio import resize
from ..phy.constellations import MODULATIONS
from ..phy.link import FEC_NONE, LinkConfig, channel_use_budget
from . import rate_match, registry, symbol_layout
from .base import Codec, Decoded, Encoded, Received
from ..phy.framing import CODEC_ID, MODEL, MODEL_HASH, PAYLOAD_BITS

MODEL_PATH_ENV = "SEMCOM_MODEL_PATH"  # extra model folders' parents, os.pathsep-separated
THREADS_ENV = "SEMCOM_ORT_THREADS"  # onnxruntime intra-op threads (default: onnxruntime's choice)
DECODER_ENV = "SEMCOM_DECODER"  # 'float32' (default) or 'int8': which decoder file receivers run
ENCODER_FILE = "encoder.onnx"
CARD_FILE = "card.json"
DECODER_FILES = {"float32": "decoder.onnx", "int8": "decoder.int8.onnx"}  # int8: semcom-quantize writes it
FAMILY = "bitsemcom"
# a model trained for another modulation is picked only if its profile predicts this much more: the
# curves come from 256x256 validation crops, and on the Kodak-like photos the 16-QAM model with half
# its latent punctured scored 0.55 dB below the QPSK model that the crops ranked 0.1 dB below it
OWN_LINK_MARGIN_DB = 0.5
LLR_CLIP = 40.0
MEASURED_KEY = "measured"  # card.json: mean PSNR against SNR per modulation from a semcom-eval --per-link sweep


# ---------------------------------------------------------------- padding (the encoder's stride)

def pad_to_multiple(image: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Reflect-pad an HxWxC (or HxW) image at the bottom/right to multiples of ``multiple``;
    returns the padded image and the original (H, W). Sides of 1 px use edge padding."""
    h, w = image.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if ph == 0 and pw == 0:
        return image, (h, w)
    pad = [(0, ph), (0, pw)] + [(0, 0)] * (image.ndim - 2)
    mode = "reflect" if min(h, w) > 1 else "edge"
    return np.pad(image, pad, mode=mode), (h, w)


def crop_back(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Undo ``pad_to_multiple``: the top-left ``size`` = (H, W) of an HxWxC (or HxW) image."""
    return image[: size[0], : size[1]]


def posterior(llrs: np.ndarray, hard: bool = False) -> np.ndarray:
    """P(b=1) from LLRs (positive = 1): sigmoid, or the hard decision; 0 (erasure) gives 0.5."""
    llrs = np.asarray(llrs, dtype=np.float32)
    if hard:
        return np.where(llrs > 0, 1.0, np.where(llrs < 0, 0.0, 0.5)).astype(np.float32)
    return (1.0 / (1.0 + np.exp(-np.clip(llrs, -LLR_CLIP, LLR_CLIP)))).astype(np.float32)


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


class OnnxModel:
    """An encoder/decoder ONNX pair and its card; sessions open on first use."""

    def __init__(self, folder: str, precision: str = ""):
        self.folder = folder
        self.precision = precision  # the decoder's: 'float32' or 'int8'; empty: $SEMCOM_DECODER, else float32
        self.name = os.path.basename(os.path.normpath(folder))
        self.paths = {role: os.path.join(folder, f"{role}.onnx") for role in ("encoder", "decoder")}
        for role, path in self.paths.items():
            if not os.path.isfile(path):
                raise SemcomError(f"model {self.name}: {path} is missing; export it with semcom-export")
        self._sessions: dict = {}
        self._card = None
        self._card_file = None
        self._fingerprint = None
        self._profile = None
        self._indices: dict = {}
        self._verified = False

    def decoder_path(self) -> str:
        """The decoder file of this model's precision."""
        precision = self.precision or os.environ.get(DECODER_ENV, "") or "float32"
        if precision not in DECODER_FILES:
            raise SemcomError(f"{DECODER_ENV}={precision}: choose one of {', '.join(DECODER_FILES)}")
        path = os.path.join(self.folder, DECODER_FILES[precision])
        if not os.path.isfile(path):
            raise SemcomError(f"model {self.name} has no {precision} decoder ({path}); "
                              f"make one with semcom-quantize {self.folder}")
        return path

    def session(self, role: str):
        if role not in self._sessions:
            import onnxruntime as ort
            path = self.decoder_path() if role == "decoder" else self.paths[role]
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            text = os.environ.get(THREADS_ENV, "0") or "0"
            try:
                threads = int(text)
                if threads < 0:
                    raise ValueError
            except ValueError:
                raise SemcomError(f"${THREADS_ENV} must be a whole number of threads (0: onnxruntime's "
                                  f"choice), got '{text}'") from None
            if threads:
                opts.intra_op_num_threads = threads
            try:
                self._sessions[role] = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
            except Exception as err:  # noqa: BLE001 (onnxruntime raises its own exception types)
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise SemcomError(f"model {self.name}: cannot load {path} "
                                  f"(not a valid ONNX model: {first[:160]})") from None
        return self._sessions[role]

    @property
    def card(self) -> dict:
        if self._card is None:
            cards = {}
            for role in self.paths:
                meta = self.session(role).get_modelmeta().custom_metadata_map
                if "semcom.card" not in meta:
                    raise SemcomError(f"model {self.name}: {self.paths[role]} has no gr-semcom model card "
                                      "(semcom.card metadata); export it with semcom-export")
                cards[role] = json.loads(meta["semcom.card"])
            if cards["encoder"] != cards["decoder"]:
                raise SemcomError(f"model {self.name}: encoder.onnx and decoder.onnx carry different cards "
                                  f"({cards['encoder'].get('model_id')} vs {cards['decoder'].get('model_id')})")
            card = cards["encoder"]
            if card.get("bit_decision", "threshold") not in ("threshold", "gumbel-sample"):
                raise SemcomError(f"model {self.name}: unknown bit decision {card['bit_decision']}")
            for key in ("latent_channels", "stride", "bit_order"):
                if key not in card:
                    raise SemcomError(f"model {self.name}: model card lacks '{key}'")
            if card["bit_order"] != "NCHW":
                raise SemcomError(f"model {self.name}: unsupported bit order {card['bit_order']}")
            self._card = card
        return self._card

    def card_file(self) -> dict:
        """The folder's card.json ({} when absent): what may be set after export (``update_card``)."""
        if self._card_file is None:
            card, path = {}, os.path.join(self.folder, CARD_FILE)
            if os.path.isfile(path):
                try:
                    with open(path) as f:
                        card = json.load(f)
                    if not isinstance(card, dict):
                        raise ValueError("not a JSON object")
                except (OSError, ValueError) as err:
                    raise SemcomError(f"model {self.name}: cannot read {path} ({err}); re-export the model") from None
            self._card_file = card
        return self._card_file

    @property
    def layout(self) -> symbol_layout.Layout | None:
        """card.json's ``symbol_layout`` (None: bits on air in rate matching's order)."""
        return symbol_layout.parse(self.card_file().get(symbol_layout.CARD_KEY), self.card)

    def card_section(self, key: str) -> dict:
        """One section of the folder's card.json ({} when the file or the section is absent)."""
        return self.card_file().get(key) or {}

    @property
    def rate_profile(self) -> dict:
        """card.json's ``rate_matching`` section (measured by semcom-rate-profile; {} when absent):
        the channel importance order and the PSNR curves that rate matching plans with."""
        if self._profile is None:
            profile = self.card_file().get(rate_match.CARD_KEY) or {}
            if not isinstance(profile, dict):
                raise SemcomError(f"model {self.name}: card.json's {rate_match.CARD_KEY} is not an object; "
                                  "re-export the model")
            path = os.path.join(self.folder, CARD_FILE)
            order = profile.get("channel_order")
            c = int(self.card["latent_channels"])
            if order is not None and sorted(order) != list(range(c)):
                raise SemcomError(f"model {self.name}: {path} has a channel_order that is not a permutation of "
                                  f"0..{c - 1}; measure it again with semcom-rate-profile {self.folder}")
            self._profile = profile
        return self._profile

    def measured_curves(self, cpp: float) -> dict:
        """card.json's ``measured`` PSNR curves {modulation: {snr_db: mean PSNR}} when they were
        measured at ``cpp`` channel uses per pixel, else {}. Not in the fingerprint: they say how
        well the model did, not where its bits go."""
        section = self.card_section(MEASURED_KEY)
        if not section:
            return {}
        try:
            curves = {str(mod): {float(s): float(p) for s, p in curve.items()}
                      for mod, curve in section["psnr_db"].items()}
            same_cpp = bool(np.isclose(float(section["cpp"]), cpp, rtol=1e-6, atol=0))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise SemcomError(f"model {self.name}: the '{MEASURED_KEY}' section of {self.folder}/{CARD_FILE} is not "
                              "{cpp, psnr_db: {modulation: {snr: PSNR}}}; write it again with "
                              "scripts/model_cards.py --measured") from None
        return curves if same_cpp else {}

    @property
    def fingerprint(self) -> str:
        """First 12 hex digits of SHA-256 over both files, the rate profile and the symbol layout
        (which decide where every bit goes): what frames carry as the model hash."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for role in ("encoder", "decoder"):
                with open(self.paths[role], "rb") as f:
                    h.update(f.read())
            if self.rate_profile:
                h.update(json.dumps({k: self.rate_profile.get(k) for k in rate_match.PLAN_KEYS},
                                    sort_keys=True).encode())
            if self.layout is not None:
                h.update(self.layout.name.encode())
            self._fingerprint = h.hexdigest()[:12]
        return self._fingerprint

    def plan(self, height: int, width: int, sent: int) -> rate_match.Plan:
        """How an image of height x width travels in ``sent`` bits (rate_match.plan)."""
        return rate_match.plan(self.rate_profile, self.latent_shape, height, width, sent)

    def predicted_psnr(self, plan: rate_match.Plan) -> float | None:
        """The profile's error-free PSNR for a plan; None when the model has no measured curves."""
        curve = (self.rate_profile.get("curves") or {}).get(str(plan.scale))
        return rate_match.predicted_psnr(curve, plan.fraction) if curve else None

    def air_slots(self, plan: rate_match.Plan) -> np.ndarray | None:
        """Air slot of every sent bit under the card's symbol layout (None: sent in rate matching's order)."""
        layout = self.layout
        if layout is None:
            return None
        key = ("slots", plan.shape, plan.sent, plan.kept)
        if key not in self._indices:
            self._indices[key] = layout.air_slots(self.sent_indices(plan), plan.shape)
        return self._indices[key]

    def sent_indices(self, plan: rate_match.Plan) -> np.ndarray:
        """Latent index of every bit on air for a plan (importance from the profile, else channel order)."""
        key = (plan.shape, plan.sent, plan.kept)
        if key not in self._indices:
            c = plan.shape[0]
            order = self.rate_profile.get("channel_order") or list(range(c))
            importance = rate_match.bit_importance_order(order, plan.shape)
            if len(self._indices) > 8:
                self._indices.clear()
            self._indices[key] = rate_match.sent_indices(importance, plan.sent, plan.kept)
        return self._indices[key]

    def verify(self) -> None:
        """The card against the networks: encode a small image and decode its bits; SemcomError
        (one line) when a shape disagrees with the card, so a wrong card fails at load, not mid-stream."""
        if self._verified:
            return
        h, w = 2 * self.stride, 3 * self.stride
        want = self.latent_shape(h, w)
        x = np.full((1, 3, h, w), 0.5, np.float32)
        try:
            _, logits = self.session("encoder").run(["bits", "logits"], {"image": x})
            image, = self.session("decoder").run(["image"], {"p1": np.full((1,) + want, 0.5, np.float32)})
        except Exception as err:  # noqa: BLE001 (onnxruntime raises its own types)
            raise SemcomError(f"model {self.name}: the networks do not run on the card's shapes "
                              f"({str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__}); "
                              "re-export the model") from None
        if tuple(logits.shape[1:]) != want or tuple(image.shape[1:]) != (3, h, w):
            raise SemcomError(f"model {self.name}: the card says a {w}x{h} image has a {want} latent, but the "
                              f"encoder gives {tuple(logits.shape[1:])} and the decoder {tuple(image.shape[1:])}; "
                              "re-export the model")
        self.fingerprint  # a bad card.json (rate profile, symbol layout) fails here too, not mid-stream
        self._verified = True

    @property
    def stride(self) -> int:
        return int(self.card["stride"])

    def latent_shape(self, height: int, width: int) -> tuple[int, int, int]:
        s = self.stride
        return int(self.card["latent_channels"]), -(-int(height) // s), -(-int(width) // s)

    def bits_per_image(self, height: int, width: int) -> int:
        return int(np.prod(self.latent_shape(height, width)))

    def encode(self, image: np.ndarray, seed: int = 0) -> np.ndarray:
        """uint8 HxWx3 -> bits uint8 0/1, flattened in the card's bit order. With the card's
        ``bit_decision`` = gumbel-sample the bits are [logit + Logistic(0, 1) > 0], drawn from
        ``seed`` (so an image always gives the same bits); otherwise [logit > 0]. Large images run
        tile by tile (``tiles``), so memory stays bounded."""
        padded, _ = pad_to_multiple(image, self.stride)
        s = self.stride
        c, gh, gw = self.latent_shape(*image.shape[:2])
        logits = np.empty((c, gh, gw), dtype=np.float32)
        session = self.session("encoder")
        for (r0, r1, c0, c1), (rs, cs) in tiles(gh, gw):
            x = padded[r0 * s:r1 * s, c0 * s:c1 * s].astype(np.float32).transpose(2, 0, 1)[None] / 255.0
            _, out = session.run(["bits", "logits"], {"image": np.ascontiguousarray(x)})
            logits[:, r0 + rs.start:r0 + rs.stop, c0 + cs.start:c0 + cs.stop] = out[0][:, rs, cs]
        logits = logits.reshape(-1)
        if self.card.get("bit_decision", "threshold") == "gumbel-sample":
            u = np.random.default_rng(seed).random(logits.size).clip(1e-6, 1 - 1e-6)
            return (logits + np.log(u) - np.log1p(-u) > 0).astype(np.uint8)
        return (logits > 0).astype(np.uint8)

    def decode(self, p1: np.ndarray, height: int, width: int) -> np.ndarray:
        """P(b=1) of every bit (flat) -> uint8 HxWx3, tile by tile for large images."""
        c, gh, gw = self.latent_shape(height, width)
        s = self.stride
        latent = np.asarray(p1, dtype=np.float32).reshape(c, gh, gw)
        img = np.empty((gh * s, gw * s, 3), dtype=np.uint8)
        session = self.session("decoder")
        for (r0, r1, c0, c1), (rs, cs) in tiles(gh, gw):
            out, = session.run(["image"], {"p1": np.ascontiguousarray(latent[None, :, r0:r1, c0:c1])})
            core = out[0][:, rs.start * s:rs.stop * s, cs.start * s:cs.stop * s].transpose(1, 2, 0)
            img[(r0 + rs.start) * s:(r0 + rs.stop) * s, (c0 + cs.start) * s:(c0 + cs.stop) * s] = \
                (np.clip(core, 0, 1) * 255 + 0.5).astype(np.uint8)
        return np.ascontiguousarray(crop_back(img, (int(height), int(width))))


TILE_CELLS = 40  # latent cells per tile side that a tile keeps (640 px at stride 16)
TILE_MARGIN = 4  # latent cells of context around each kept core (64 px at stride 16)
WHOLE_CELLS = 64 * 64  # latents up to this many cells (1 MP at stride 16) run in one piece


def _windows(n: int) -> list[tuple[int, int, slice]]:
    """Along one latent axis of ``n`` cells: (start, stop, kept part within the window) of windows
    of one common size (so onnxruntime reuses its buffers), cores TILE_CELLS long."""
    size = min(n, TILE_CELLS + 2 * TILE_MARGIN)
    out = []
    for a in range(0, n, TILE_CELLS):
        b = min(n, a + TILE_CELLS)
        start = min(max(0, a - TILE_MARGIN), n - size)
        out.append((start, start + size, slice(a - start, b - start)))
    return out


def tiles(gh: int, gw: int):
    """The windows a (gh, gw) latent is processed in: ((r0, r1, c0, c1), (rows kept, cols kept)),
    the kept cores tiling the latent exactly; one window when it has at most WHOLE_CELLS cells."""
    if gh * gw <= WHOLE_CELLS:
        return [((0, gh, 0, gw), (slice(0, gh), slice(0, gw)))]
    return [((r0, r1, c0, c1), (rs, cs)) for r0, r1, rs in _windows(gh) for c0, c1, cs in _windows(gw)]


def codec_id_for(name: str) -> int:
    """Stable 16-bit id for a model folder name (0x100..0xFFFF; below are the built-in codecs)."""
    return 0x100 + zlib.crc32(name.encode()) % 0xFF00


class ModelCodec(Codec):
    """One model folder as a codec: bits straight from the encoder, LLRs (or hard bits) to the decoder."""

    default_fec = FEC_NONE

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


def check_model_frame(model: OnnxModel, meta: dict, n_llrs: int, least: int = 1) -> tuple[int, int]:
    """(H, W) of a frame meant for ``model`` (its name, fingerprint, announced length, at least
    ``least`` LLRs); ValueError (the PDU is dropped) otherwise."""
    sent = str(meta.get(MODEL, model.name))
    if sent != model.name:
        raise ValueError(f"frame was encoded with model {sent}, not {model.name}")
    sent_hash = meta.get(MODEL_HASH)
    if sent_hash is not None and str(sent_hash) != model.fingerprint:
        raise ValueError(f"frame was encoded with model {sent} fingerprint {sent_hash}, but this receiver's "
                         f"{model.folder} has fingerprint {model.fingerprint} (another model, or another codebook); "
                         "install the same model")
    h, w = int(meta["height"]), int(meta["width"])
    if h < 1 or w < 1:
        raise ValueError(f"frame announces a {w}x{h} image")
    if n_llrs < max(1, least):
        raise ValueError(f"frame for a {w}x{h} image carries " + ("no bits" if n_llrs < 1 else
                         f"{n_llrs} bits, fewer than the {least} its side information needs"))
    if PAYLOAD_BITS in meta and int(meta[PAYLOAD_BITS]) != n_llrs:
        raise ValueError(f"frame announces {meta[PAYLOAD_BITS]} bits but carries {n_llrs} LLRs")
    return h, w


def check_budget(link: LinkConfig, channel_uses: int, height: int, width: int) -> int:
    """The payload bits of ``channel_uses``; SemcomError naming the smallest cpp when there are none."""
    budget = link.payload_bits(channel_uses)
    if budget < 1:
        need = link.channel_uses(1)
        raise SemcomError(f"{channel_uses} channel uses carry no payload bit over {link.describe()}; a "
                          f"{width}x{height} image needs at least {need} (--cpp {need / (height * width):.3g} "
                          "or more)")
    return budget


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
            raise ValueError(f"frame names model '{name}', which is not installed here "
                             f"(installed: {self._listing()})")
        return ModelCodec(self._models[name], self.hard).decode(rx)


def card_codec(folder: str) -> str:
    """The ``codec`` a folder's card.json names (bitsemcom when it names none or cannot be read)."""
    try:
        with open(os.path.join(folder, CARD_FILE)) as f:
            return str(json.load(f).get("codec", FAMILY))
    except (OSError, ValueError, AttributeError):
        return FAMILY


def open_model(folder: str, hard: bool = False, **options) -> Codec:
    """The codec of a model folder: a masked VQ-VAE (``masked_vq``) or a bit-plane model (ModelCodec)."""
    if card_codec(folder) == "mvqvae":
        from .masked_vq import MaskedVQCodec, MaskedVQModel
        return MaskedVQCodec(MaskedVQModel(folder), hard, **options)
    return ModelCodec(OnnxModel(folder), hard, **options)


def _register_all() -> None:
    for folder in model_dirs():
        name = os.path.basename(os.path.normpath(folder))
        for hard in (False, True):
            registry.register(name + ("-hard" if hard else ""),
                              lambda folder=folder, hard=hard: open_model(folder, hard),
                              None if hard else codec_id_for(name), {MODEL: name})
    for hard in (False, True):
        registry.register(FAMILY + ("-hard" if hard else ""), lambda hard=hard: AutoBitSemCom(hard))
    registry.register_folder_loader(
        lambda folder, **options: open_model(folder, **options)
        if os.path.isfile(os.path.join(folder, ENCODER_FILE)) else None)


_register_all()
