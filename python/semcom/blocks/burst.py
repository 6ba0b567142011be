"""GNU Radio adapters for the burst waveform (``phy.air``, ``phy.waveform``).

* ``burst_tx``: frame bits PDUs (from ``image_tx``) in, a stream of burst
  samples out, each burst tagged ``tx_sob``/``tx_eob`` for UHD burst mode.
* ``burst_rx``: a stream in; ``digital.corr_est_cc`` finds the preamble, a sink
  synchronises and demodulates each burst and reassembles frames, which leave
  as LLR PDUs (for ``image_rx``) with the header fields, SNR estimate and
  bursts lost in their metadata.
* ``air_channel``: the simulated radio: ``filter.mmse_resampler_cc``
  (fractional timing offset, clock offset) -> ``channels.channel_model`` (AWGN,
  CFO, multipath taps) -> optional ``channels.fading_model`` (Rayleigh).
"""
from __future__ import annotations

import collections
import threading

import numpy as np
import pmt
from gnuradio import channels, digital, filter as gr_filter, gr

from . import malloc
from ..codecs import registry
from ..errors import SemcomError
from ..options import check, default as opt
from .pdu_block import IN, OUT
from .pdu_io import make_pdu, split_pdu
from ..phy import air, framing, waveform as wf_mod

CODEC_ID, HEIGHT, WIDTH = "codec_id", "height", "width"
SOB, EOB = pmt.intern("tx_sob"), pmt.intern("tx_eob")
CORR_START = pmt.intern("corr_start")
DETECTOR_ITEMS = 2048  # corr_est_cc works on at least this many samples at a time
TAIL_ZEROS = DETECTOR_ITEMS  # after a frame's last burst: pushes it through the detector


class burst_tx(gr.sync_block):
    """Frame bits PDU (one bit per byte; metadata codec_id, height, width, frame) in,
    burst samples (gr_complex) out. Between frames the output is idle (no samples).

    Args:
        modulation, fec_code: the payload's link, as ``image_tx`` was given.
        waveform: 'sc' (RRC single carrier, 2 samples/symbol) or 'ofdm'.
        burst_symbols: payload channel uses per burst at most.
        amplitude: output scale (keep peaks below 1 for a DAC: about 0.5 for sc, 0.3 for ofdm).
    """

    def __init__(self, modulation=opt("modulation"), fec_code=opt("phy_fec"), waveform=opt("waveform"),
                 burst_symbols=opt("burst_symbols"), amplitude=1.0):
        gr.sync_block.__init__(self, name="semcom_burst_tx", in_sig=None, out_sig=[np.complex64])
        self.tx = air.BurstTransmitter(check("modulation", modulation), check("phy_fec", fec_code),
                                       check("waveform", waveform), check("burst_symbols", burst_symbols))
        self.amplitude = check("amplitude", amplitude)
        self.message_port_register_in(IN)
        self.set_msg_handler(IN, self.handle)
        self.queue: collections.deque = collections.deque()
        self.ready = threading.Event()
        self.current, self.pos, self.last = None, 0, False
        self.frames_sent = self.bursts_sent = self.samples_sent = self.dropped = 0
        self.frames_queued = 0

    def handle(self, msg):
        try:
            meta, bits = split_pdu(msg, np.uint8)
            self.send(bits, meta)
        except (ValueError, KeyError, TypeError, SemcomError) as err:
            self.dropped += 1
            self.logger.warn(f"dropped a frame: {err}")

    def send(self, bits: np.ndarray, meta: dict):
        """Queues one frame's bursts (also callable directly, without the message port)."""
        bursts = self.tx.bursts(bits, int(meta[CODEC_ID]), int(meta[HEIGHT]), int(meta[WIDTH]),
                                int(meta.get(framing.FRAME, 0)))
        bursts[-1] = np.concatenate([bursts[-1], np.zeros(TAIL_ZEROS, np.complex64)])
        self.frames_queued += 1
        for i, b in enumerate(bursts):
            self.queue.append((b * self.amplitude, i == len(bursts) - 1))
        self.ready.set()

    @property
    def idle(self) -> bool:
        """True when every queued frame has left the block."""
        return self.current is None and not self.queue

    def work(self, input_items, output_items):
        out = output_items[0]
        if self.current is None:
            if not self.queue:
                self.ready.wait(0.02)  # idle: return to the scheduler (and its message handling) soon
                self.ready.clear()
                if not self.queue:
                    return 0
            self.current, self.last = self.queue.popleft()
            self.pos = 0
            self.add_item_tag(0, self.nitems_written(0), SOB, pmt.PMT_T)
        n = min(len(out), len(self.current) - self.pos)
        out[:n] = self.current[self.pos:self.pos + n]
        self.pos += n
        if self.pos == len(self.current):
            self.add_item_tag(0, self.nitems_written(0) + n - 1, EOB, pmt.PMT_T)
            self.bursts_sent += 1
            self.frames_sent += self.last
            self.current = None
        self.samples_sent += n
        return n


class burst_sink(gr.sync_block):
    """Stream sink around ``air.BurstReceiver``; frames leave on message port 'out'."""

    def __init__(self, waveform=opt("waveform"), frame_timeout=opt("frame_timeout")):
        gr.sync_block.__init__(self, name="semcom_burst_sink", in_sig=[np.complex64], out_sig=None)
        malloc.limit_arenas()  # flat memory when running for days
        self.message_port_register_out(OUT)
        self.rx = air.BurstReceiver(waveform, frame_timeout)
        self.lock = threading.Lock()
        self.frames_out = self.frames_dropped = 0
        self._reported = 0
        self._stop = threading.Event()
        self._timer = None

    def start(self):
        self._stop.clear()
        self._timer = threading.Thread(target=self._expire_loop, name="semcom_burst_expire", daemon=True)
        self._timer.start()
        return True

    def stop(self):
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        with self.lock:
            self._publish(self.rx.flush())
        return True

    def _expire_loop(self):
        while not self._stop.wait(0.25):
            with self.lock:
                self._publish(self.rx.expire())

    def work(self, input_items, output_items):
        samples = input_items[0]
        start = self.nitems_read(0)
        tags = self.get_tags_in_window(0, 0, len(samples), CORR_START)
        with self.lock:
            frames = self.rx.feed(samples, sorted(t.offset for t in tags))
            self._publish(frames)
            if self.rx.dropped > self._reported:
                self._reported = self.rx.dropped
                if not self.rx.last_error.startswith("burst header"):  # header failures: mostly noise
                    self.logger.info(f"dropped a burst near sample {start}: {self.rx.last_error}")
        return len(samples)

    def _publish(self, frames):
        for received in frames:
            try:
                meta = frame_meta(received)
            except SemcomError as err:
                self.frames_dropped += 1
                self.logger.warn(f"frame {received.frame.frame} dropped: {err}")
                continue
            self.frames_out += 1
            self.message_port_pub(OUT, make_pdu(meta, received.frame.llrs))


def frame_meta(received: air.ReceivedFrame) -> dict:
    """The LLR PDU metadata ``image_rx`` and the apps read for one received frame."""
    f = received.frame
    bursts = received.bursts
    return {**registry.frame_meta(f.codec_id), CODEC_ID: f.codec_id, HEIGHT: f.height, WIDTH: f.width,
            framing.FRAME: f.frame, framing.PAYLOAD_BITS: f.payload_bits, framing.FEC_OK: received.fec_ok,
            "modulation": f.modulation_name, "fec": f.fec_name, "bursts": f.segments,
            "channel_uses": air.frame_channel_uses(f),
            "bursts_lost": f.bursts_lost, "bursts_fec_failed": sum(not b.fec_ok for b in bursts),
            "snr_est_db": round(received.snr_db, 2),
            "snr_est_db_min": round(min((b.snr_db for b in bursts), default=float("nan")), 2),
            "snr_est_db_bursts": ",".join(f"{b.header.segment}:{b.snr_db:.1f}" for b in bursts),
            "cfo_est": round(float(np.mean([b.cfo for b in bursts])) if bursts else 0.0, 6),
            "first_sample": min((b.position for b in bursts), default=-1)}


class burst_rx(gr.hier_block2):
    """Complex stream in; reassembled frames (LLR PDUs) out on message port 'out'.

    Args:
        waveform: as at the transmitter ('sc' or 'ofdm').
        threshold: ``corr_est_cc`` dynamic threshold (1 - false-alarm probability per sample);
            lower finds weaker bursts, spends more time on noise. Header LDPC + CRC-16 reject
            false detections.
        frame_timeout: seconds without samples (transmitter stopped) before a pending frame's missing
            bursts count as lost; while samples flow, 16 bursts' worth of samples without one does.
    """

    def __init__(self, waveform=opt("waveform"), threshold=opt("threshold"), frame_timeout=opt("frame_timeout")):
        gr.hier_block2.__init__(self, "semcom_burst_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(0, 0, 0))
        self.message_port_register_hier_out("out")
        wave = wf_mod.waveform(waveform)
        period = wave.preamble()[:wave.period]
        self.detector = digital.corr_est_cc(period.tolist(), float(wave.sps), 0, check("threshold", threshold),
                                            digital.THRESHOLD_DYNAMIC)
        # the dynamic threshold is relative to the mean correlation of each work() call: a short
        # call holding little but a preamble would hide it
        self.detector.set_min_noutput_items(DETECTOR_ITEMS)
        self.sink = burst_sink(waveform, check("frame_timeout", frame_timeout))
        self.connect(self, self.detector, self.sink)
        self.msg_connect(self.sink, OUT, self, OUT)

    @property
    def receiver(self) -> air.BurstReceiver:
        return self.sink.rx


class air_channel(gr.hier_block2):
    """The simulated radio between ``burst_tx`` and ``burst_rx``.

    Args:
        snr_db: Es/N0 per data symbol (noise variance per sample = 10^(-snr/10)).
        cfo: carrier offset in cycles per sample (sc: 0.005 = 1% of the symbol rate).
        delay: fractional timing offset in samples (0..1).
        clock_ppm: sample-clock offset between the radios, parts per million.
        taps: multipath impulse response (sample spaced); normalised to unit energy.
        rayleigh: add flat Rayleigh fading (``channels.fading_model``), normalised Doppler ``doppler``.
        seed: noise and fading seed.
    """

    def __init__(self, snr_db=10.0, cfo=0.0, delay=0.0, clock_ppm=0.0, taps=(1.0,), rayleigh=False,
                 doppler=1e-5, seed=0):
        gr.hier_block2.__init__(self, "semcom_air_channel", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        taps = np.asarray(taps, complex)
        if not taps.size or not np.any(taps):
            raise SemcomError("multipath taps must hold at least one non-zero value")
        if not 0 <= float(delay) < 1:
            raise SemcomError(f"fractional timing offset must be in [0, 1) samples, got {delay}")
        taps = taps / np.linalg.norm(taps)
        self.resampler = gr_filter.mmse_resampler_cc(float(delay), 1.0 + float(clock_ppm) * 1e-6)
        self.model = channels.channel_model(noise_voltage(snr_db), float(cfo), 1.0, taps.tolist(),
                                            int(seed) or 1, False)
        chain = [self, self.resampler]
        if rayleigh:
            self.fading = channels.fading_model(8, float(doppler), False, 4.0, int(seed) + 1)
            chain.append(self.fading)
        chain += [self.model, self]
        self.connect(*chain)

    def set_snr(self, snr_db: float):
        self.model.set_noise_voltage(noise_voltage(snr_db))


def noise_voltage(snr_db: float) -> float:
    """channel_model's noise_voltage for Es/N0 ``snr_db`` with unit-energy symbols."""
    return float(np.sqrt(10 ** (-float(snr_db) / 10)))
