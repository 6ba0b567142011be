"""An exported model folder run by onnxruntime (numpy; no torch): the encoder/decoder pair and its
card (``OnnxModel``), the padding and tiling images go through, bit posteriors from LLRs, and the
checks every learned codec makes of a budget and of a received frame."""
from __future__ import annotations

import hashlib
import json
import os
import zlib

import numpy as np

from .. import options
from ..errors import SemcomError
from ..phy.framing import CODEC, MODEL, MODEL_HASH, PAYLOAD_BITS
from ..phy.link import LLR_CLIP, LinkConfig
from . import rate_match, symbol_layout
from .base import AnotherModel

THREADS_ENV = "SEMCOM_ORT_THREADS"  # onnxruntime intra-op threads (default: onnxruntime's choice)
DECODER_ENV = "SEMCOM_DECODER"  # 'float32' (default) or 'int8': which decoder file receivers run
ENCODER_FILE = "encoder.onnx"
CARD_FILE = "card.json"
DECODER_FILES = {"float32": "decoder.onnx", "int8": "decoder.int8.onnx"}  # int8: semcom-quantize writes it
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


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] (clipped) as uint8, rounded."""
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def session_options():
    """onnxruntime options of every model session: quiet, $SEMCOM_ORT_THREADS intra-op threads, and
    worker threads that sleep between operators instead of spinning, so the cores they share with the
    rest of a flowgraph (and with each other) go to work rather than to waiting."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    threads = options.environment(THREADS_ENV)
    if threads:
        opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


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
        precision = self.precision or options.environment(DECODER_ENV)
        if precision not in DECODER_FILES:
            raise SemcomError(f"decoder precision {precision}: choose one of {', '.join(DECODER_FILES)}")
        path = os.path.join(self.folder, DECODER_FILES[precision])
        if not os.path.isfile(path):
            raise SemcomError(f"model {self.name} has no {precision} decoder ({path}); "
                              f"make one with semcom-quantize {self.folder}")
        return path

    def session(self, role: str):
        if role not in self._sessions:
            import onnxruntime as ort
            path = self.decoder_path() if role == "decoder" else self.paths[role]
            try:
                self._sessions[role] = ort.InferenceSession(path, session_options(), providers=["CPUExecutionProvider"])
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
                cards[role] = options.model_card(meta["semcom.card"], f"model {self.name}: the card of {self.paths[role]}")
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
            if os.path.lexists(path):
                card = options.model_card(options.read_small(path, f"model {self.name}: {path}"),
                                          f"model {self.name}: {path}")
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
                to_uint8(core)
        return np.ascontiguousarray(crop_back(img, (int(height), int(width))))


TILE_CELLS = 40  # latent cells per tile side that a tile keeps (640 px at stride 16)
TILE_MARGIN = 4  # latent cells of context around each kept core (64 px at stride 16)
WHOLE_CELLS = 64 * 64  # latents up to this many cells (1 MP at stride 16) run in one piece


def windows(n: int, core: int, margin: int) -> list[tuple[int, int, slice]]:
    """Along one axis of ``n`` cells: (start, stop, kept part within the window) of windows of one
    common size (so onnxruntime reuses its buffers), with cores ``core`` long and up to ``margin``
    cells of context on each side."""
    size = min(n, core + 2 * margin)
    out = []
    for a in range(0, n, core):
        b = min(n, a + core)
        start = min(max(0, a - margin), n - size)
        out.append((start, start + size, slice(a - start, b - start)))
    return out


def tiles(gh: int, gw: int, core: int | None = None, margin: int | None = None, whole: int | None = None):
    """The windows a (gh, gw) grid is processed in: ((r0, r1, c0, c1), (rows kept, cols kept)),
    the kept cores tiling the grid exactly; one window when it has at most ``whole`` cells
    (None: TILE_CELLS, TILE_MARGIN, WHOLE_CELLS, the latent tiling of ``OnnxModel``)."""
    core = TILE_CELLS if core is None else core
    margin = TILE_MARGIN if margin is None else margin
    if gh * gw <= (WHOLE_CELLS if whole is None else whole):
        return [((0, gh, 0, gw), (slice(0, gh), slice(0, gw)))]
    return [((r0, r1, c0, c1), (rs, cs)) for r0, r1, rs in windows(gh, core, margin)
            for c0, c1, cs in windows(gw, core, margin)]


def codec_id_for(name: str) -> int:
    """Stable 16-bit id for a model folder name (0x100..0xFFFF; below are the built-in codecs)."""
    return 0x100 + zlib.crc32(name.encode()) % 0xFF00


HARD_SUFFIX = "-hard"  # a model's codec name with the hard-decision receiver


def check_model_frame(model: OnnxModel, meta: dict, n_llrs: int, least: int = 1) -> tuple[int, int]:
    """(H, W) of a frame meant for ``model`` (its name, fingerprint, announced length, at least
    ``least`` LLRs); ValueError (the PDU is dropped) otherwise, AnotherModel for another model's frame."""
    codec = str(meta.get(CODEC, model.name)).removesuffix(HARD_SUFFIX)
    if MODEL not in meta and codec != model.name:
        raise AnotherModel(f"frame was encoded with codec {codec}, not model {model.name}")
    sent = str(meta.get(MODEL, model.name))
    if sent != model.name:
        raise AnotherModel(f"frame was encoded with model {sent}, not {model.name}")
    sent_hash = meta.get(MODEL_HASH)
    if sent_hash is not None and str(sent_hash) != model.fingerprint:
        raise AnotherModel(f"frame was encoded with model {sent} fingerprint {sent_hash}, but this receiver's "
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
