"""Shared by the burst-waveform blocks: burst PDU metadata keys, stream tags, buffer sizes, and the
helpers that read a burst header or a frame's metadata."""
from __future__ import annotations

import numpy as np
import pmt

from ..codecs import registry
from ..options import check
from ..phy import burst, framing
from ..phy.framing import CODEC_ID, HEIGHT, MODEL_HASH, WIDTH


HEADER, EXPIRE = "header", "expire"  # burst PDU metadata: the burst header; a frame that expired


LLR = "llr"  # burst_sync's message port of the bursts it demodulated to LLRs itself


SOB, EOB = pmt.intern("tx_sob"), pmt.intern("tx_eob")


CORR_START = pmt.intern("corr_start")


BURST_TAG, EXPIRE_TAG = pmt.intern("burst"), pmt.intern("expire")


DETECTOR_ITEMS = 2048  # corr_est_cc works on at least this many samples at a time


STREAM_BUFFER = 1 << 16  # items in the detector's output buffer


TAIL_ZEROS = DETECTOR_ITEMS  # after a frame's last burst: pushes it through the detector


MAX_QUEUED_SYMBOLS = 1 << 18  # burst_sync stops reading input while this many symbols wait downstream


MTU = 1 << 20  # largest PDU of gr-fec's async encoder (bits)


# zero symbols after each burst and marker: aligned (VOLK) stream blocks hold back a few trailing
# items until more arrive, which after a frame's last burst may be never
FLUSH_SYMBOLS = 64


LIMIT_FACTOR = 16.0  # sample_limiter: bursts peak at about twice their 90th-percentile magnitude


LIMIT_FLOOR = 0.05  # reference level at least this (unit-scale radios and recordings)


LIMIT_HOLD = 1 << 20  # samples over which the reference level halves


UNAUTHENTIC = "no valid authentication tag (forged, foreign or decoded wrongly)"


def preamble_period(waveform: str) -> list[complex]:
    """One period of the waveform's preamble: what ``corr_est_cc`` correlates with (its sps is 2)."""
    wave = burst.wf_mod.waveform(check("waveform", waveform))
    return wave.preamble()[:wave.period].tolist()


def header_of(meta: dict) -> burst.Header:
    """The burst header a PDU's metadata carries (ValueError when absent or invalid)."""
    if HEADER not in meta:
        raise ValueError("PDU has no burst header in its metadata")
    return burst.Header(*(int(v) for v in np.asarray(meta[HEADER]).ravel())).check(ValueError)


def fingerprint_of(meta: dict) -> int:
    """The model fingerprint a frame names (12 hex digits), as the header's 48-bit field."""
    text = str(meta.get(MODEL_HASH, "") or "")
    try:
        return int(text, 16) if text else 0
    except ValueError:
        raise ValueError(f"model fingerprint '{text}' is not hexadecimal") from None


def frame_meta(received: burst.ReceivedFrame) -> dict:
    """The LLR PDU metadata ``image_rx`` and the apps read for one received frame."""
    f = received.frame
    bursts = received.bursts
    meta = {**registry.frame_meta(f.codec_id), CODEC_ID: f.codec_id, HEIGHT: f.height, WIDTH: f.width,
            framing.FRAME: f.frame, framing.PAYLOAD_BITS: f.payload_bits, framing.FEC_OK: received.fec_ok,
            "modulation": f.modulation_name, "fec": f.fec_name, framing.BURSTS: f.segments,
            "channel_uses": burst.frame_channel_uses(f), "session": f.session,
            framing.BURSTS_LOST: f.bursts_lost, "bursts_fec_failed": sum(not b.fec_ok for b in bursts),
            "snr_est_db": round(received.snr_db, 2),
            "snr_est_db_min": round(min((b.snr_db for b in bursts), default=float("nan")), 2),
            "snr_est_db_bursts": ",".join(f"{b.header.segment}:{b.snr_db:.1f}" for b in bursts),
            "cfo_est": round(float(np.mean([b.cfo for b in bursts])) if bursts else 0.0, 6),
            "first_sample": min((b.position for b in bursts), default=-1)}
    if f.fingerprint:
        meta[MODEL_HASH] = f"{f.fingerprint:012x}"
    return meta


def noise_voltage(snr_db: float) -> float:
    """channel_model's noise_voltage for Es/N0 ``snr_db`` with unit-energy symbols."""
    return float(np.sqrt(10 ** (-float(snr_db) / 10)))
