"""Frames over the air: one image's bits as many bursts, and a receiver for a sample stream.

* ``BurstTransmitter.bursts`` splits a frame's payload into segments of at most
  ``burst_symbols`` channel uses each (after LDPC per segment), and returns the
  waveform's samples of each burst.
* ``BurstReceiver.feed`` takes stream samples and the positions where a
  detector (``corr_est_cc``) saw the preamble; it synchronises, decodes each
  header, demodulates the payload into LLRs, and hands bursts to a
  ``burst.Reassembler``. Finished frames (lost bursts as LLR 0) come back as
  ``ReceivedFrame``. It keeps a bounded buffer; ``expire`` gives up on frames
  whose bursts stopped arriving (transmitter stopped mid-frame).

Plain numpy; ``blocks.burst`` wraps both for GNU Radio.
"""
from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import SemcomError
from . import burst, waveform as wf_mod
from .constellations import MODULATIONS, constellation
from .link import LinkConfig

DEFAULT_BURST_SYMBOLS = 4096
LLR_CLIP = 30.0
FRAME_GAP_BURSTS = 16  # stream samples (in bursts of MAX_BURST_DATA symbols) a frame may wait for its next burst
MAX_BURST_DATA = DEFAULT_BURST_SYMBOLS + wf_mod.HEADER_SYMBOLS
MAX_PILOT_ERROR = 4.0  # pilot error this many times the preamble's noise estimate: burst corrupted
MAX_SAMPLE = 1e4  # radios deliver about +-1; larger or non-finite samples are zeroed and counted


def frame_channel_uses(frame) -> int:
    """Payload channel uses of a whole frame (a Header or Frame): every segment, FEC and padding included."""
    return sum(frame.link.channel_uses(n) for n in frame.lengths)


class BurstTransmitter:
    """Frame bits -> burst sample arrays for one link (modulation, FEC) and waveform."""

    def __init__(self, modulation="qpsk", fec="none", waveform="sc", burst_symbols=DEFAULT_BURST_SYMBOLS):
        self.link = LinkConfig(modulation, fec)
        self.wave = wf_mod.waveform(waveform)
        self.bits_per_burst = self.link.payload_bits(int(burst_symbols))
        if self.bits_per_burst < 1:
            raise SemcomError(f"{burst_symbols} symbols per burst cannot carry one {self.link.describe()} "
                              f"FEC block; raise the burst size")

    def segment_symbols(self, bits: np.ndarray) -> np.ndarray:
        """One segment's information bits -> its payload symbols (LDPC, padding, mapping)."""
        code = self.link.code
        k = self.link.bits_per_symbol
        if code is not None:
            info = np.zeros(self.link.coded_bits(len(bits)) // code.n * code.k, np.uint8)
            info[:len(bits)] = bits
            bits = code.encode(info.reshape(-1, code.k)).ravel()
        padded = np.zeros(-(-len(bits) // k) * k, np.uint8)
        padded[:len(bits)] = bits
        return constellation(self.link.modulation).modulate(padded)

    def bursts(self, bits: np.ndarray, codec_id: int, height: int, width: int, frame: int) -> list[np.ndarray]:
        bits = np.asarray(bits, np.uint8)
        segments = burst.segment(bits, self.bits_per_burst, self.link.block[0])  # whole LDPC blocks
        out = []
        for i, seg in enumerate(segments):
            header = burst.Header(int(codec_id), int(height), int(width), int(frame) % burst.FRAME_MODULO, i,
                                  len(segments), MODULATIONS.index(self.link.modulation),
                                  burst.FEC_NAMES.index(self.link.fec), len(bits))
            out.append(self.wave.modulate(header, self.segment_symbols(seg)))
        return out


@dataclass
class BurstInfo:
    """One received burst, for logs and JSON records."""
    header: burst.Header
    position: int  # absolute sample index of the preamble start
    snr_db: float
    cfo: float  # cycles per sample
    fec_ok: bool


@dataclass
class ReceivedFrame:
    frame: burst.Frame
    bursts: list[BurstInfo] = field(default_factory=list)  # those that arrived

    @property
    def snr_db(self) -> float:
        return float(np.mean([b.snr_db for b in self.bursts])) if self.bursts else float("nan")

    @property
    def fec_ok(self) -> bool:
        return self.frame.complete and all(b.fec_ok for b in self.bursts)


class BurstReceiver:
    """Stream samples + detections in, ``ReceivedFrame`` objects out. Bad bursts are counted in
    ``dropped`` with the last reason in ``last_error``; they never stop the receiver."""

    def __init__(self, waveform="sc", frame_timeout=2.0, clock=time.monotonic):
        self.wave = wf_mod.waveform(waveform)
        self.lookback = wf_mod.ZC_REPEATS * self.wave.period + self.wave.guard
        self.acquire_span = 2 * self.lookback + len(self.wave.preamble())
        self.frame_gap = FRAME_GAP_BURSTS * self.wave.burst_samples(MAX_BURST_DATA)
        self.buf = np.zeros(0, np.complex64)
        self.base = 0  # absolute index of buf[0]
        self.detections: list[int] = []
        self.skip_until = 0
        self.head = None  # (window start, sync, header) of the detection being waited on
        self.assembler = burst.Reassembler()
        self.infos: dict[tuple[int, int], list[BurstInfo]] = {}
        self.last_seen: dict[tuple[int, int], int] = {}  # sample position of each pending frame's last burst
        self.frame_timeout, self.clock = float(frame_timeout), clock
        self.last_feed = clock()
        self.bursts = self.dropped = self.detections_seen = self.misses = self.bad_samples = 0
        self.last_error = ""

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def feed(self, samples: np.ndarray, detections=()) -> list[ReceivedFrame]:
        samples = np.asarray(samples, np.complex64)
        with np.errstate(all="ignore"):
            bad = ~(np.abs(samples) <= MAX_SAMPLE)  # NaN, inf, or a file of the wrong format
        if bad.any():
            self.bad_samples += int(np.count_nonzero(bad))
            samples = np.where(bad, np.complex64(0), samples)
        self.buf = np.concatenate([self.buf, samples])
        if len(samples):
            self.last_feed = self.clock()
        for d in detections:
            self.detections_seen += 1
            if d >= self.skip_until and (not self.detections or d > self.detections[-1]):
                self.detections.append(int(d))
        frames = self._process()
        self._trim()
        return frames + self.expire()

    def _window(self, start: int, stop: int) -> np.ndarray | None:
        if stop > self.end:
            return None
        return self.buf[max(0, start - self.base):stop - self.base]

    def _drop(self, why: str, skip_to: int | None = None):
        self.dropped += 1
        self.last_error = why
        self.head = None
        self.detections.pop(0)
        if skip_to is not None:
            self._skip(skip_to)

    def _skip(self, position: int):
        self.skip_until = max(self.skip_until, position)
        self.detections = [d for d in self.detections if d >= self.skip_until]

    def _process(self) -> list[ReceivedFrame]:
        frames = []
        wave = self.wave
        while self.detections:
            d = self.detections[0]
            ws = max(d - self.lookback, self.skip_until - wave.guard, self.base)
            if self.head is None:
                x = self._window(ws, ws + self.acquire_span)
                if x is None:
                    break
                sync = wave.acquire(x)
                if sync is None:
                    self.detections.pop(0)  # a detector hit on noise or on a burst's body
                    self.misses += 1
                    continue
                if sync[0] > self.lookback:  # preamble may run past the window: look again from it
                    shifted = ws + int(sync[0]) - wave.guard
                    x = self._window(shifted, shifted + self.acquire_span)
                    if x is None:
                        break
                    ws, sync = shifted, wave.acquire(x)
                    if sync is None:
                        self.detections.pop(0)
                        self.misses += 1
                        continue
                self.head = (ws, sync, None)
            ws, sync, header = self.head
            start = ws + int(sync[0])
            if header is None:
                x = self._window(ws, start + wave.burst_samples(wf_mod.HEADER_SYMBOLS))
                if x is None:
                    break
                try:
                    demod = wave.demodulate(x, wf_mod.HEADER_SYMBOLS, sync)
                    header = wf_mod.decode_header(demod.symbols, demod.noise_var)
                    segment = header.lengths[header.segment]
                    n_data = wf_mod.HEADER_SYMBOLS + header.link.channel_uses(segment)
                    if n_data > wf_mod.MAX_BURST_SYMBOLS:
                        raise SemcomError(f"header announces {n_data} symbols, more than {wf_mod.MAX_BURST_SYMBOLS}")
                except (SemcomError, ValueError) as err:
                    self._drop(str(err), start + len(wave.preamble()))
                    continue
                self.head = (ws, sync, (header, segment, n_data))
                continue
            header, segment, n_data = header
            stop = start - wave.guard + wave.burst_samples(n_data)  # end of the trailing guard
            if stop - wave.guard // 2 > self.end:  # the last half guard is only margin
                break
            x = self._window(ws, min(stop, self.end))
            self.head = None
            self.detections.pop(0)
            try:
                frames += self._payload(wave.demodulate(x, n_data, sync), header, segment, start)
            except (SemcomError, ValueError) as err:  # cut short or corrupted: what follows may be a burst
                self.dropped += 1
                self.last_error = f"burst {header.segment} of frame {header.frame}: {err}"
                self._skip(start + len(wave.preamble()))
            else:
                self._skip(stop - wave.guard)
                # bursts often come back to back: look right after this one too, whatever the detector saw
                bisect.insort(self.detections, stop + wave.guard)
        return frames

    def _payload(self, demod: wf_mod.Demodulated, header: burst.Header, segment: int, start: int):
        if demod.pilot_error > MAX_PILOT_ERROR:
            raise SemcomError(f"pilots off by {demod.pilot_error:.1f}x the noise estimate (burst cut short "
                              "or corrupted); segment lost")
        link = header.link
        sym = demod.symbols[wf_mod.HEADER_SYMBOLS:]
        llr = constellation(link.modulation).llr(sym, demod.noise_var[wf_mod.HEADER_SYMBOLS:])
        llr = np.clip(llr, -LLR_CLIP, LLR_CLIP).astype(np.float32)
        fec_ok = True
        code = link.code
        if code is not None:
            coded = link.coded_bits(segment)
            _, ok, post = code.decode(llr[:coded].reshape(-1, code.n))
            fec_ok = bool(ok.all())
            llr = np.clip(post[:, code.m:].ravel(), -LLR_CLIP, LLR_CLIP).astype(np.float32)
        info = BurstInfo(header, int(start), demod.snr_db, demod.cfo, fec_ok)
        self.bursts += 1
        key = (header.codec_id, header.frame)
        self.infos.setdefault(key, []).append(info)
        self.last_seen[key] = self.end
        return [self._finish(f) for f in self.assembler.add(header, llr[:segment])]

    def _finish(self, frame: burst.Frame) -> ReceivedFrame:
        key = (frame.codec_id, frame.frame)
        self.last_seen.pop(key, None)
        return ReceivedFrame(frame, self.infos.pop(key, []))

    def expire(self) -> list[ReceivedFrame]:
        """Gives up on pending frames (their missing bursts become erasures) when the stream has
        been idle for ``frame_timeout`` seconds (a transmitter stopped), or when
        ``FRAME_GAP_BURSTS`` bursts' worth of samples passed since a frame's last burst. Counting
        samples, not seconds, while samples flow keeps a frame whole on a slow or busy machine."""
        if not self.last_seen:
            return []
        idle = self.clock() - self.last_feed > self.frame_timeout
        if not idle and all(self.end - pos <= self.frame_gap for pos in self.last_seen.values()):
            return []
        return [self._finish(f) for f in self.assembler.flush_all()]

    def flush(self) -> list[ReceivedFrame]:
        return [self._finish(f) for f in self.assembler.flush_all()]

    def _trim(self):
        keep_from = self.end - self.acquire_span
        if self.detections:
            keep_from = min(keep_from, self.detections[0] - self.lookback)
        if self.head is not None:
            keep_from = min(keep_from, self.head[0])
        cut = keep_from - self.base
        if cut > 0:
            self.buf = self.buf[cut:].copy()
            self.base += cut
