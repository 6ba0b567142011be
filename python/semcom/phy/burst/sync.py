"""The receiver's synchroniser: bursts found in a sample stream, their headers decoded, frames collected.

Mapping, demapping and FEC are not here: the GNU Radio chain (``blocks.modem``, the burst blocks)
does them with gr-digital and gr-fec objects.

* ``BurstSynchroniser.feed`` takes stream samples and the positions where a detector
  (``corr_est_cc``) saw the preamble; it synchronises, decodes each header and returns each
  burst's equalised payload symbols with their noise variance (``SyncedBurst``). It also
  decides when a pending frame will get no more bursts (``Expired``): the stream was idle for
  ``frame_timeout`` seconds, or ``FRAME_GAP_BURSTS`` bursts' worth of samples passed.
* ``FrameCollector`` reassembles bursts into frames (``ReceivedFrame``, lost bursts as LLR 0).
* ``BurstReceiver`` is the numpy reference of the receive chain (exact LLRs, min-sum LDPC).
"""
from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

import numpy as np

from ...errors import SemcomError
from .. import waveform as wf_mod
from ..constellations import constellation
from .header import ForeignCode, Header, MAX_FRAME_BITS, MAX_PENDING_FRAMES, accepted_fecs, check_code, frame_key
from .segments import Frame, Reassembler, Replayed
from .framer import FRAME_GAP_BURSTS, MAX_BURST_DATA, MAX_PILOT_ERROR, MAX_SAMPLE

@dataclass
class BurstInfo:
    """One received burst, for logs and JSON records."""
    header: Header
    position: int  # absolute sample index of the preamble start
    snr_db: float
    cfo: float  # cycles per sample
    fec_ok: bool = True
    samples: int = 0  # from the preamble start to the end of the burst
    clock: float = 0.0  # how much faster our sample clock ran than the sender's (relative), as corrected


@dataclass
class SyncedBurst:
    """One synchronised burst: its header and its payload symbols, equalised."""
    info: BurstInfo
    symbols: np.ndarray  # complex64, the segment's channel uses
    noise_var: np.ndarray  # float32, per symbol (after equalisation)
    llr: np.ndarray | None = None  # the payload's bit LLRs where a sequence detector made them

    @property
    def header(self) -> Header:
        return self.info.header


@dataclass
class Expired:
    """No more bursts will come for this frame: finish it, missing bursts as erasures."""
    key: tuple[int, int, int]  # frame_key


@dataclass
class ReceivedFrame:
    frame: Frame
    bursts: list[BurstInfo] = field(default_factory=list)  # those that arrived

    @property
    def snr_db(self) -> float:
        return float(np.mean([b.snr_db for b in self.bursts])) if self.bursts else float("nan")

    @property
    def fec_ok(self) -> bool:
        return self.frame.complete and all(b.fec_ok for b in self.bursts)


class FrameCollector:
    """Bursts' payload LLRs -> ``ReceivedFrame`` objects (a ``Reassembler`` plus the
    per-burst facts the receiver reports)."""

    def __init__(self, max_frame_bits: int = MAX_FRAME_BITS, max_pending_frames: int = MAX_PENDING_FRAMES):
        self.assembler = Reassembler(max_payload_bits=max_frame_bits, max_pending=max_pending_frames)
        self.infos: dict[tuple[int, int, int], list[BurstInfo]] = {}

    def add(self, info: BurstInfo, llrs: np.ndarray) -> list[ReceivedFrame]:
        frames = self.assembler.add(info.header, llrs)  # ValueError: nothing changed
        self.infos.setdefault(frame_key(info.header), []).append(info)
        return [self._finish(f) for f in frames]

    def expire(self, key) -> list[ReceivedFrame]:
        return [self._finish(f) for f in self.assembler.flush_key(tuple(key))]

    def flush(self) -> list[ReceivedFrame]:
        return [self._finish(f) for f in self.assembler.flush_all()]

    def _finish(self, frame: Frame) -> ReceivedFrame:
        return ReceivedFrame(frame, self.infos.pop(frame_key(frame), []))


class BurstSynchroniser:
    """Stream samples + detections in; ``SyncedBurst`` and ``Expired`` events out, in stream order.
    Bad bursts are counted in ``dropped`` with the last reason in ``last_error``; they never stop
    the receiver. ``codes``: the user LDPC codes (``ldpc.LdpcCode``, from alist files) this
    receiver decodes besides the named ones; a burst of any other user code cannot even be
    measured, and is dropped and counted in ``foreign_code`` too."""

    def __init__(self, waveform="sc", frame_timeout=2.0, clock=time.monotonic, codes=()):
        self.wave = wf_mod.waveform(waveform)
        self.accepted = accepted_fecs(codes)
        self.foreign_code = 0
        self.lookback = wf_mod.ZC_REPEATS * self.wave.period + self.wave.guard
        self.acquire_span = 2 * self.lookback + len(self.wave.preamble())
        self.frame_gap = FRAME_GAP_BURSTS * self.wave.burst_samples(MAX_BURST_DATA)
        self.buf = np.zeros(0, np.complex64)
        self.base = 0  # absolute index of buf[0]
        self.detections: list[int] = []
        self.skip_until = 0
        self.head = None  # (window start, sync, header) of the detection being waited on
        self.synced: list[BurstInfo] | None = None  # a list: every synchronised burst is appended to it
        self.last_seen: dict[tuple[int, int, int], int] = {}  # stream position of each pending frame's last burst
        self.frame_timeout, self.clock = float(frame_timeout), clock
        self.last_feed = clock()
        self.bursts = self.dropped = self.detections_seen = self.misses = self.bad_samples = 0
        self.last_error = ""
        self.sequence_detection = False  # a sequence detector may make a burst's LLRs (as the option: off)

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def feed(self, samples: np.ndarray, detections=()) -> list:
        samples = np.asarray(samples, np.complex64)
        with np.errstate(all="ignore"):
            bad = ~(np.abs(samples) <= MAX_SAMPLE)  # NaN, inf, or a file of the wrong format
        if bad.any():
            self.bad_samples += int(np.count_nonzero(bad))
            samples = np.where(bad, np.complex64(0), samples)
        self.buf = np.concatenate([self.buf, samples])
        for d in detections:
            self.detections_seen += 1
            if d >= self.skip_until and (not self.detections or d > self.detections[-1]):
                self.detections.append(int(d))
        events = self._process()
        self._trim()
        if len(samples):  # idle from the end of the work on them: a slow burst is no idle stream
            self.last_feed = self.clock()
        return events + self.expire()

    def waiting(self):
        """Samples are waiting to be fed (held back while a stage downstream is full): the input
        is not idle, so no frame expires for want of samples."""
        self.last_feed = self.clock()

    def expire(self) -> list[Expired]:
        """Pending frames that will get no more bursts: the stream has been idle for
        ``frame_timeout`` seconds (a transmitter stopped), or ``FRAME_GAP_BURSTS`` bursts' worth
        of samples passed since a frame's last burst. Counting samples, not seconds, while
        samples flow keeps a frame whole on a slow or busy machine."""
        if not self.last_seen:
            return []
        idle = self.clock() - self.last_feed > self.frame_timeout
        late = [key for key, pos in self.last_seen.items() if idle or self.end - pos > self.frame_gap]
        for key in late:
            del self.last_seen[key]
        return [Expired(key) for key in late]

    def flush(self) -> list[Expired]:
        """Every pending frame (end of stream)."""
        keys, self.last_seen = list(self.last_seen), {}
        return [Expired(key) for key in keys]

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

    def _process(self) -> list:
        events = []
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
                    header = check_code(wf_mod.decode_header(demod.symbols, demod.noise_var), self.accepted)
                    segment = header.lengths[header.segment]
                    n_data = wf_mod.HEADER_SYMBOLS + header.link.channel_uses(segment)
                    if n_data > wf_mod.MAX_BURST_SYMBOLS:
                        raise SemcomError(f"header announces {n_data} symbols, more than {wf_mod.MAX_BURST_SYMBOLS}")
                except (SemcomError, ValueError) as err:
                    self.foreign_code += isinstance(err, ForeignCode)
                    self._drop(str(err), start + len(wave.preamble()))
                    continue
                channel = wave.payload_channel(x, sync, header, demod, self.sequence_detection)
                self.head = (ws, sync, (header, n_data, channel))
                continue
            header, n_data, channel = header
            stop = start - wave.guard + wave.burst_samples(n_data)  # end of the trailing guard
            if stop - wave.guard // 2 > self.end:  # the last half guard is only margin
                break
            x = self._window(ws, min(stop, self.end))
            self.head = None
            self.detections.pop(0)
            try:
                events.append(self._synced(wave.demodulate(x, n_data, sync, channel), header, start,
                                           stop - wave.guard - start))
            except (SemcomError, ValueError) as err:  # cut short or corrupted: what follows may be a burst
                self.dropped += 1
                self.last_error = f"burst {header.segment} of frame {header.frame}: {err}"
                self._skip(start + len(wave.preamble()))
            else:
                self._skip(stop - wave.guard)
                # bursts often come back to back: look right after this one too, whatever the detector saw
                bisect.insort(self.detections, stop + wave.guard)
        return events

    def _synced(self, demod: wf_mod.Demodulated, header: Header, start: int, samples: int) -> SyncedBurst:
        if demod.pilot_error > MAX_PILOT_ERROR:
            raise SemcomError(f"pilots off by {demod.pilot_error:.1f}x the noise estimate (burst cut short "
                              "or corrupted); segment lost")
        self.bursts += 1
        self.last_seen[frame_key(header)] = self.end
        h = wf_mod.HEADER_SYMBOLS
        info = BurstInfo(header, int(start), demod.snr_db, demod.cfo, samples=int(samples), clock=demod.clock)
        if self.synced is not None:
            self.synced.append(info)
        return SyncedBurst(info, demod.symbols[h:].astype(np.complex64), demod.noise_var[h:].astype(np.float32),
                           demod.llr)

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


class BurstReceiver:
    """The numpy reference of the receive chain: ``BurstSynchroniser``, exact LLRs, min-sum LDPC,
    ``FrameCollector``. Stream samples + detections in, ``ReceivedFrame`` objects out."""

    def __init__(self, waveform="sc", frame_timeout=2.0, clock=time.monotonic, codes=()):
        self.sync = BurstSynchroniser(waveform, frame_timeout, clock, codes)
        self.collector = FrameCollector()

    def __getattr__(self, name):  # counters and state of the synchroniser (bursts, dropped, buf, ...)
        if name in ("sync", "collector"):
            raise AttributeError(name)
        return getattr(self.sync, name)

    def feed(self, samples: np.ndarray, detections=()) -> list[ReceivedFrame]:
        return self._handle(self.sync.feed(samples, detections))

    def expire(self) -> list[ReceivedFrame]:
        return self._handle(self.sync.expire())

    def flush(self) -> list[ReceivedFrame]:
        return self._handle(self.sync.flush()) + self.collector.flush()

    def _handle(self, events) -> list[ReceivedFrame]:
        frames = []
        for event in events:
            if isinstance(event, Expired):
                frames += self.collector.expire(event.key)
                continue
            h = event.header
            llr = event.llr
            if llr is None:
                llr = constellation(h.link.modulation).llr(event.symbols, event.noise_var)
            payload, failed = h.link.decode(llr, h.lengths[h.segment])
            event.info.fec_ok = failed == 0
            try:
                frames += self.collector.add(event.info, payload)
            except Replayed:  # counted in collector.assembler.replayed
                continue
        return frames

