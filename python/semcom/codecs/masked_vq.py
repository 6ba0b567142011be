"""Masked VQ-VAE codec (numpy + onnxruntime): codebook indices on the air under LDPC 1/2.

The model (``training/mvqvae.py``, exported by ``semcom-export``) works on tiles of ``tile`` px with
N positions (patches) each. An image travels in exactly the link's payload bits:

``[side A][indices][repetition][side B]``

* **side** = preamble (16 bits: scale index 4, kept positions per tile - 1: 12), one bit per kept
  position (sent or not: the FIM drops some, the similarity rule others), one bit per kept position
  not sent (1: a copy of the previous kept token, 0: masked), CRC-16 over all. Side A leads the
  payload, side B (the same fields, read from the end: preamble, flags, CRC, copy bits) ends it, in
  other LDPC codewords; the receiver takes the first copy whose CRC passes, else the LLR sum of
  both. Without a valid copy the image is lost (a placeholder, with the reason in one log line).
* **kept positions** are not sent: both ends draw them, per tile, by Gumbel-top-K over the card's
  ``mask_logits`` from a seed of (tile, K) (the masking strategy; zeros: uniform random masking).
* **indices**: log2 J bits each, MSB first, tile by tile, positions ascending; the rest of the
  budget repeats them (the receiver adds the copies' LLRs).

Rate matching: K is the largest count whose worst case (every kept index sent) fits the budget;
a second encoder pass uses what the FIM and the similarity rule saved for more kept positions.
Below ``MIN_KEEP_FRACTION`` of N the image is downscaled by sqrt(2) steps (the scale index says
which). Lost or uncertain indices (best codeword posterior <= 0.5) are decoded as masked patches.
The receiver hides the tile seams: near each seam it cross-fades to the same indices decoded on
the grid shifted by half a tile (``MaskedVQModel.run_decoder``); the bitstream is the same.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SemcomError
from ..imageio import resize
from ..phy.burst import crc16
from ..phy.framing import CODEC_ID, MODEL, MODEL_HASH
from ..phy.link import LinkConfig
from .base import Codec, Decoded, Encoded, Received, placeholder
from .onnx_model import (OnnxModel, check_budget, check_model_frame, codec_id_for, crop_back, pad_to_multiple,
                         posterior, tiles, to_uint8)

CODEC = "mvqvae"  # the training method (``methods``) of the models this codec runs
SCALE_BITS, KEEP_BITS, CRC_BITS = 4, 12, 16
PREAMBLE_BITS = SCALE_BITS + KEEP_BITS
SCALES = tuple(2.0 ** (-i / 2) for i in range(1 << SCALE_BITS))
MIN_KEEP_FRACTION = 0.25  # the decoder trained with up to 75 % of the positions masked
MASK_SALT = 0x5EC0  # seeds of the kept positions: (tile, K, salt)
ENCODER_TILES = 64  # tiles per encoder run (bounded memory for large photos)


@dataclass(frozen=True)
class Layout:
    """Where everything sits in a payload of ``budget`` bits."""

    scale: int  # index into SCALES
    size: tuple[int, int]  # the (downscaled) image that is encoded
    rows: int  # tiles
    cols: int
    keep: int  # kept positions per tile
    budget: int

    @property
    def tiles(self) -> int:
        return self.rows * self.cols

    @property
    def kept(self) -> int:
        return self.tiles * self.keep

    def side_bits(self, sent: int) -> int:
        """Preamble, one sent bit per kept position, one copy bit per kept position not sent, CRC."""
        return PREAMBLE_BITS + 2 * self.kept - sent + CRC_BITS

    def cost(self, sent: int, index_bits: int) -> int:
        """Both side copies and the sent indices."""
        return 2 * self.side_bits(sent) + sent * index_bits


def scaled_size(height: int, width: int, scale: int) -> tuple[int, int]:
    s = SCALES[scale]
    return max(1, int(round(height * s))), max(1, int(round(width * s)))


def keep_positions(mask_logits: np.ndarray, tiles: int, keep: int) -> np.ndarray:
    """(tiles, keep) int64 kept positions, ascending: Gumbel-top-K, the same at both ends."""
    out = np.empty((tiles, keep), np.int64)
    for t in range(tiles):
        u = np.random.default_rng([t, keep, MASK_SALT]).random(len(mask_logits)).clip(1e-12, 1 - 1e-12)
        keys = mask_logits - np.log(-np.log(u))
        out[t] = np.sort(np.argsort(-keys, kind="stable")[:keep])
    return out


def _bits_of(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], np.uint8)


def _value(bits: np.ndarray) -> int:
    return int("".join(str(int(b)) for b in bits), 2) if len(bits) else 0


def _crc_bits(bits: np.ndarray) -> np.ndarray:
    return _bits_of(crc16(np.packbits(bits.astype(np.uint8))), CRC_BITS)


class MaskedVQModel(OnnxModel):
    """An exported masked VQ-VAE folder: card facts and the two networks."""

    def verify(self) -> None:
        if self._verified:
            return
        card = self.card
        if card.get("codec") != CODEC:
            raise SemcomError(f"model {self.name} is a {card.get('codec')} model, not a masked VQ-VAE")
        for key in ("patch", "tile", "codebook", "mask_logits", "positions_per_tile"):
            if key not in card:
                raise SemcomError(f"model {self.name}: the card lacks '{key}'; re-export the model")
        if len(card["mask_logits"]) != self.positions or (self.tile // self.patch) ** 2 != self.positions:
            raise SemcomError(f"model {self.name}: the card's mask_logits do not match its tile and patch")
        t = self.tile
        try:
            index, send, _, _ = self.run_encoder(np.full((t, 2 * t, 3), 128, np.uint8), keep_positions(
                self.mask_logits, 2, 3), fim_threshold=0.0, delta=2.0)
            image = self.run_decoder(np.full((self.index_bits, t // self.patch, 2 * t // self.patch), 0.5, np.float32))
        except Exception as err:  # noqa: BLE001 (onnxruntime raises its own types)
            first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
            raise SemcomError(f"model {self.name}: the networks do not run on the card's shapes ({first}); "
                              "re-export the model") from None
        if index.shape != (2, 3) or image.shape != (t, 2 * t, 3):
            raise SemcomError(f"model {self.name}: the networks' shapes disagree with the card; re-export the model")
        self._verified = True

    @property
    def patch(self) -> int:
        return int(self.card["patch"])

    @property
    def tile(self) -> int:
        return int(self.card["tile"])

    @property
    def positions(self) -> int:
        return int(self.card["positions_per_tile"])

    @property
    def index_bits(self) -> int:
        return int(round(math.log2(int(self.card["codebook"]))))

    @property
    def mask_logits(self) -> np.ndarray:
        return np.asarray(self.card["mask_logits"], np.float64)

    def run_encoder(self, image: np.ndarray, keep: np.ndarray, snr_db: float | None = None,
                    fim_threshold: float | None = None, delta: float = 0.98):
        """uint8 image (H, W, 3), H and W multiples of the tile, kept positions (T, K) -> indices
        (T, K), send flags and copy flags (T, K) bool (a copy: not sent, the receiver takes the
        previous kept token's), FIM weights (T, K)."""
        t = self.tile
        rows, cols = image.shape[0] // t, image.shape[1] // t
        snr = float(self.card.get("snr_db", 10.0) if snr_db is None else snr_db)
        fim = float(self.card.get("fim_threshold", 0.0) if fim_threshold is None else fim_threshold)
        session = self.session("encoder")
        outs = []
        # tiles are independent in the encoder: run them a row band at a time
        band = max(1, ENCODER_TILES // cols)
        for r0 in range(0, rows, band):
            r1 = min(rows, r0 + band)
            x = image[r0 * t:r1 * t].astype(np.float32).transpose(2, 0, 1)[None] / 255.0
            outs.append(session.run(None, {
                "image": np.ascontiguousarray(x), "keep": np.ascontiguousarray(keep[r0 * cols:r1 * cols]),
                "snr": np.array([snr], np.float32), "fim_threshold": np.array([fim], np.float32),
                "delta": np.array([delta], np.float32)}))
        index, send, copy, weight = (np.concatenate([o[i] for o in outs]) for i in range(4))
        return index.astype(np.int64), send > 0.5, copy > 0.5, weight

    def run_decoder(self, p1: np.ndarray, blend: bool = True) -> np.ndarray:
        """(index bits, H/patch, W/patch) P(b=1) -> uint8 (H, W, 3). The tiles are decoded on their
        own grid and (``blend``) on the grids shifted by half a tile down, right and both; within
        ``BLEND_PX`` of a seam the result cross-fades linearly to the shifted grids, whose tiles are
        whole there."""
        g, t = self.tile // self.patch, self.tile
        rows, cols = p1.shape[1] // g, p1.shape[2] // g
        img = self.decode_grid(p1)
        if not blend:
            return to_uint8(img)
        fade_y, fade_x = seam_fade(rows, t)[:, None, None], seam_fade(cols, t)[None, :, None]
        img *= fade_y * fade_x
        for dy, dx in ((1, 0), (0, 1), (1, 1)):
            if (dy and rows < 2) or (dx and cols < 2):
                continue
            y0, x0 = dy * t // 2, dx * t // 2
            shifted = self.decode_grid(p1[:, dy * g // 2:dy * g // 2 + (rows - dy) * g,
                                          dx * g // 2:dx * g // 2 + (cols - dx) * g])
            h, w = shifted.shape[:2]
            weight = ((1 - fade_y) if dy else fade_y)[y0:y0 + h] * ((1 - fade_x) if dx else fade_x)[:, x0:x0 + w]
            img[y0:y0 + h, x0:x0 + w] += weight * shifted
        return to_uint8(img)

    def decode_grid(self, p1: np.ndarray) -> np.ndarray:
        """(index bits, H/patch, W/patch) P(b=1) -> float32 (H, W, 3), the tiles on p1's own grid;
        above DECODER_TILES tiles, in windows of tiles with one tile of context around each kept
        core (the refinement crosses seams)."""
        g, p = self.tile // self.patch, self.patch
        rows, cols = p1.shape[1] // g, p1.shape[2] // g
        session = self.session("decoder")
        img = np.empty((rows * self.tile, cols * self.tile, 3), np.float32)
        for (r0, r1, c0, c1), (rs, cs) in tiles(rows, cols, WINDOW_TILES, 1, DECODER_TILES):
            out, = session.run(["image"], {"p1": np.ascontiguousarray(p1[None, :, r0 * g:r1 * g, c0 * g:c1 * g],
                                                                       np.float32)})
            t = self.tile
            img[(r0 + rs.start) * t:(r0 + rs.stop) * t, (c0 + cs.start) * t:(c0 + cs.stop) * t] = \
                out[0][:, rs.start * g * p:rs.stop * g * p, cs.start * g * p:cs.stop * g * p].transpose(1, 2, 0)
        return img


def seam_fade(tiles: int, tile: int, width: float | None = None) -> np.ndarray:
    """Weight of the unshifted grid along one axis of ``tiles`` tiles: 1 farther than ``width`` px
    (None: BLEND_PX; at most half a tile, where the shifted grids begin) from every inner seam,
    falling linearly to 0 at the seam."""
    width = min(BLEND_PX if width is None else width, tile / 2)
    x = np.arange(tiles * tile) + 0.5
    seams = np.arange(1, tiles) * tile
    if not len(seams):
        return np.ones(len(x), np.float32)
    distance = np.abs(x[:, None] - seams[None]).min(1)
    return np.clip(distance / width, 0, 1).astype(np.float32)


DECODER_TILES = 64  # tiles decoded in one piece at most (1 MP at 128-px tiles)
WINDOW_TILES = 6  # kept core of a decoder window, in tiles per side
BLEND_PX = 8  # px either side of a tile seam over which the shifted grids take over


class MaskedVQCodec(Codec):
    """A masked VQ-VAE model folder as a codec (``MaskedVQModel``); LDPC 1/2 when no FEC is named."""

    default_fec = "ldpc-1/2"
    learned = True
    model_class = MaskedVQModel

    def __init__(self, model: MaskedVQModel, hard: bool = False, delta: float = 0.98,
                 fim_threshold: float | None = None, snr_db: float | None = None, blend: bool = True):
        self.model, self.hard, self.blend = model, hard, bool(blend)  # blend: hide the tile seams (run_decoder)
        self.delta, self.fim_threshold, self.snr_db = float(delta), fim_threshold, snr_db
        model.verify()
        self.name = model.name + ("-hard" if hard else "")
        self.codec_id = codec_id_for(self.name)

    # ------------------------------------------------------------ layout
    def layout(self, height: int, width: int, budget: int, scale: int | None = None, keep: int | None = None) -> Layout:
        """The plan for a budget: the largest K whose worst case fits, downscaling below
        MIN_KEEP_FRACTION (``scale``/``keep`` given: that plan, as a receiver reads it)."""
        m = self.model
        scales = range(len(SCALES)) if scale is None else [scale]
        for s in scales:
            h, w = scaled_size(height, width, s)
            rows, cols = -(-h // m.tile), -(-w // m.tile)
            tiles = rows * cols
            k = keep if keep is not None else min(m.positions, (budget - 2 * (PREAMBLE_BITS + CRC_BITS))
                                                  // (tiles * (2 + m.index_bits)))  # every kept index sent
            plan = Layout(s, (h, w), rows, cols, k, budget)
            if keep is not None:  # a receiver's plan: its smallest side information must fit
                if not 1 <= k <= m.positions or 2 * plan.side_bits(plan.kept) > budget:
                    break
                return plan
            if k >= max(1, round(MIN_KEEP_FRACTION * m.positions)) or s == len(SCALES) - 1:
                if k < 1:
                    break
                return plan
        raise SemcomError(f"{budget} payload bits cannot carry even one index per tile of this "
                          f"{width}x{height} image with {m.name}; give more channel uses (--cpp)")

    # ------------------------------------------------------------ transmit
    def _encode_plan(self, image: np.ndarray, plan: Layout):
        small = resize(image, *plan.size)
        padded, _ = pad_to_multiple(small, self.model.tile)
        keep = keep_positions(self.model.mask_logits, plan.tiles, plan.keep)
        index, send, copy, _ = self.model.run_encoder(padded, keep, self.snr_db, self.fim_threshold, self.delta)
        return index, send, copy

    def encode(self, image: np.ndarray, link: LinkConfig, channel_uses: int) -> Encoded:
        h, w = image.shape[:2]
        budget = check_budget(link, channel_uses, h, w)
        m = self.model
        plan = self.layout(h, w, budget)
        index, send, copy = self._encode_plan(image, plan)
        # what the FIM and the similarity rule saved buys more kept positions (at most two more passes)
        for _ in range(2):
            f = float(send.mean())
            k = min(m.positions, int((budget - 2 * (PREAMBLE_BITS + CRC_BITS))
                                     // (plan.tiles * (4 - 2 * f + m.index_bits * f))))
            if k <= plan.keep:
                break
            bigger = Layout(plan.scale, plan.size, plan.rows, plan.cols, k, budget)
            index2, send2, copy2 = self._encode_plan(image, bigger)
            if bigger.cost(int(send2.sum()), m.index_bits) > budget:
                break
            plan, index, send, copy = bigger, index2, send2, copy2
        return Encoded(self.payload(plan, index, send, copy), {MODEL: m.name, MODEL_HASH: m.fingerprint,
                                                               CODEC_ID: codec_id_for(m.name)})

    def payload(self, plan: Layout, index: np.ndarray, send: np.ndarray, copy: np.ndarray) -> np.ndarray:
        """The budget's bits: side A, the sent indices, their repetition, side B."""
        bits = self.model.index_bits
        preamble = np.concatenate([_bits_of(plan.scale, SCALE_BITS), _bits_of(plan.keep - 1, KEEP_BITS)])
        flags = send.reshape(-1).astype(np.uint8)
        copies = copy.reshape(-1)[~flags.astype(bool)].astype(np.uint8)
        crc = _crc_bits(np.concatenate([preamble, flags, copies]))
        sent = index.reshape(-1)[flags.astype(bool)]
        payload_bits = ((sent[:, None] >> np.arange(bits - 1, -1, -1)) & 1).astype(np.uint8).reshape(-1)
        side_a = np.concatenate([preamble, flags, copies, crc])
        room = plan.budget - 2 * len(side_a)
        if len(payload_bits) > room:
            raise SemcomError("internal: the plan does not fit its budget")
        body = np.resize(payload_bits, room) if len(payload_bits) else np.zeros(room, np.uint8)
        side_b = np.concatenate([copies, crc, flags, preamble])  # read from the end: preamble, flags, CRC, copies
        return np.concatenate([side_a, body, side_b]).astype(np.uint8)

    # ------------------------------------------------------------ receive
    def _side(self, llrs: np.ndarray, height: int, width: int):
        """(plan, sent flags, copy flags, side length) from the first side copy whose CRC passes
        (A, B, then their LLR sum); ValueError when none does."""
        n = len(llrs)
        tried = set()
        for pre in (llrs[:PREAMBLE_BITS], llrs[n - PREAMBLE_BITS:], llrs[:PREAMBLE_BITS] + llrs[n - PREAMBLE_BITS:]):
            bits = (pre > 0).astype(np.uint8)
            scale, keep = _value(bits[:SCALE_BITS]), _value(bits[SCALE_BITS:]) + 1
            if (scale, keep) in tried or keep > self.model.positions:
                continue
            tried.add((scale, keep))
            try:
                plan = self.layout(height, width, n, scale, keep)
            except SemcomError:
                continue
            kept = plan.kept
            a_flags = llrs[PREAMBLE_BITS:PREAMBLE_BITS + kept]
            b_flags = llrs[n - PREAMBLE_BITS - kept:n - PREAMBLE_BITS]
            for flag_llrs in (a_flags, b_flags, a_flags + b_flags):
                flags = flag_llrs > 0
                n_copy = kept - int(flags.sum())
                side = plan.side_bits(kept - n_copy)
                if 2 * side > n:
                    continue
                a = llrs[:side]
                tail = llrs[n - side:]  # copies, crc, flags, preamble
                b = np.concatenate([tail[-PREAMBLE_BITS:], tail[n_copy + CRC_BITS:n_copy + CRC_BITS + kept],
                                    tail[:n_copy], tail[n_copy:n_copy + CRC_BITS]])  # back in side A's order
                for copy_llrs in (a, b, a + b):
                    side_bits = (copy_llrs > 0).astype(np.uint8)
                    body, crc = side_bits[:-CRC_BITS], side_bits[-CRC_BITS:]
                    if not np.array_equal(_crc_bits(body), crc) or \
                            not np.array_equal(side_bits[PREAMBLE_BITS:PREAMBLE_BITS + kept], flags.astype(np.uint8)) or \
                            (_value(body[:SCALE_BITS]), _value(body[SCALE_BITS:PREAMBLE_BITS]) + 1) != (scale, keep):
                        continue
                    if plan.cost(kept - n_copy, self.model.index_bits) > n:
                        continue
                    sent = flags.reshape(plan.tiles, plan.keep)
                    copy = np.zeros(kept, bool)
                    copy[~flags] = body[PREAMBLE_BITS + kept:].astype(bool)
                    return plan, sent, copy.reshape(plan.tiles, plan.keep), side
        raise ValueError(f"corrupt side information (no copy passes its CRC) in a frame for {self.model.name}")

    def check_frame(self, meta: dict, n_llrs: int) -> tuple[int, int]:
        return check_model_frame(self.model, meta, n_llrs, least=2 * (PREAMBLE_BITS + CRC_BITS))

    def decode(self, rx: Received) -> Decoded:
        h, w = self.check_frame(rx.meta, len(rx.llrs))
        llrs = np.nan_to_num(np.asarray(rx.llrs, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        try:
            plan, flags, copy, L = self._side(llrs, h, w)
        except ValueError as err:  # the channel took both copies: the image is lost, the receiver goes on
            return Decoded(placeholder(h, w), lost=True, reason=str(err))
        m = self.model
        bits = m.index_bits
        body = llrs[L:len(llrs) - L]
        n_sent = int(flags.sum()) * bits
        combined = np.zeros(n_sent, np.float32)
        if n_sent:
            reps = -(-len(body) // n_sent)
            padded = np.zeros(reps * n_sent, np.float32)
            padded[:len(body)] = body
            combined = padded.reshape(reps, n_sent).sum(0)
        p_sent = posterior(combined, self.hard).reshape(-1, bits)
        keep = keep_positions(m.mask_logits, plan.tiles, plan.keep)
        per_kept = np.full((plan.tiles, plan.keep, bits), 0.5, np.float32)
        per_kept[flags] = p_sent
        for k in range(1, plan.keep):  # a copy takes the previous kept token's bits (runs resolve in order)
            per_kept[copy[:, k], k] = per_kept[copy[:, k], k - 1]
        per_pos = np.full((plan.tiles, m.positions, bits), 0.5, np.float32)
        per_pos[np.arange(plan.tiles)[:, None], keep] = per_kept
        g = m.tile // m.patch
        planes = per_pos.reshape(plan.rows, plan.cols, g, g, bits).transpose(4, 0, 2, 1, 3)
        planes = planes.reshape(bits, plan.rows * g, plan.cols * g)
        image = crop_back(m.run_decoder(planes, self.blend), plan.size)
        return Decoded(resize(np.ascontiguousarray(image), h, w))
