"""Image links over the burst waveform, as used by tx_image, rx_image and semcom-eval.

* ``AirTransmitter``: image_tx -> burst_tx -> [throttle] -> radio sink (zmq, file, uhd, soapy).
* ``AirReceiver``: radio source -> burst_rx -> image_rx; runs until closed.
* ``AirLink``: both ends in one flowgraph through ``air_channel`` (the ``sim`` radio);
  ``transmit`` has the same interface as ``IdealLink.transmit``.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import numpy as np
from gnuradio import blocks, gr

from . import radios
from ..blocks.air_channel import air_channel
from ..blocks.burst_rx import burst_rx
from ..blocks.burst_tx import burst_tx
from ..errors import SemcomError
from ..options import default as opt
from ..blocks.image import image_rx, image_tx
from ..blocks.pdu_io import split_pdu
from ..codecs.base import placeholder
from ..phy import ldpc, waveform as phy_waveform
from ..phy.burst import FRAME_MODULO
from .ideal import FlowgraphOwner, LinkResult



@dataclass
class AirOptions:
    """Waveform settings both ends agree on, plus receiver tuning."""
    waveform: str = opt("waveform")
    burst_symbols: int = opt("burst_symbols")
    amplitude: float = 1.0  # transmit scale; radios want peaks below 1
    threshold: float = opt("threshold")  # corr_est_cc dynamic threshold
    frame_timeout: float = opt("frame_timeout")  # seconds before a frame's missing bursts count as lost
    max_pixels: int = opt("max_pixels")  # receiver limits (options.py)
    max_frame_bits: int = opt("max_frame_bits")
    max_pending_frames: int = opt("max_pending_frames")
    key: str = opt("key")  # authentication key (options.key_bytes); both ends must agree
    alist: str = opt("alist")  # a user LDPC code (alist file) the receiver decodes; the transmitter's fec alist:FILE
    sequence_detector: bool = opt("sequence_detector")  # sc, 16-QAM through multipath: BCJR instead of linear


@dataclass
class Impairments:
    """The simulated radio (``air_channel``): SNR is Es/N0 per data symbol."""
    snr_db: float = 10.0
    cfo: float = 0.0  # cycles per sample
    delay: float = 0.0  # fractional timing offset, samples
    clock_ppm: float = 0.0
    taps: tuple = (1.0,)
    rayleigh: bool = False
    doppler: float = 1e-5
    seed: int = 0

    def block(self):
        return air_channel(self.snr_db, self.cfo, self.delay, self.clock_ppm, self.taps, self.rayleigh,
                           self.doppler, self.seed)


# The acceptance channel: CFO 1% of the SC symbol rate (2 samples/symbol), a fractional
# timing offset, a 10 ppm clock offset and a 3-tap multipath channel.
ACCEPTANCE = dict(cfo=0.005, delay=0.37, clock_ppm=10.0, taps=(1.0, 0.4j, 0.2))
DECODE_WORKERS = 2  # image_rx's decode threads in a receiver: both cores decode while the stream stages wait
CHANNEL_HELD = 64  # samples a simulated channel (resampler and multipath filter) may hold back at most


def _result(meta: dict, image: np.ndarray) -> LinkResult:
    return LinkResult(image, bool(meta["lost"]), str(meta["reason"]), int(meta["payload_bits"]),
                      int(meta.get("channel_uses", 0)), int(meta.get("bursts_fec_failed", 0)), meta)


class AirTransmitter(FlowgraphOwner):
    """Sends images as bursts to a radio. ``throttle`` paces samples at the radio's rate
    (for zmq, which has no clock of its own); ``impairments`` puts air_channel before the radio."""

    def __init__(self, radio: radios.RadioConfig, codec=opt("codec"), modulation=opt("modulation"),
                 fec_code=opt("fec"), cpp=opt("cpp"), options: AirOptions | None = None, throttle: bool = False,
                 impairments: Impairments | None = None, bursts=None):
        """``bursts``: the burst source to send through instead of a ``burst_tx`` for this link."""
        opts = options or AirOptions()
        self.tb = gr.top_block("semcom_air_tx")
        self.image = image_tx(codec, modulation, fec_code, cpp)
        self.bursts = bursts or burst_tx(modulation, self.image.link.fec, opts.waveform, opts.burst_symbols,
                                         opts.amplitude, key=opts.key)
        self.radio = radio
        self.impairments = impairments
        self.sink = radios.tx_sink(radio)
        chain = [self.bursts]
        self.channel = None
        if impairments is not None:  # a simulated channel in front of zmq or file: test receivers with noise
            self.channel = impairments.block()
            chain.append(self.channel)
        if throttle:
            self.throttle = blocks.throttle(gr.sizeof_gr_complex, radio.rate, True)
            chain.append(self.throttle)
        self.tb.connect(*chain, self.sink)
        if bursts is None:
            self.tb.msg_connect(self.image, "out", self.bursts, "in")

    def send(self, image: np.ndarray, meta: dict | None = None):
        """Encodes and queues one image; returns (frame metadata, payload bits)."""
        m, bits = split_pdu(self.image.encode(image, meta), np.uint8)
        self.bursts.send(bits, m)
        return m, len(bits)

    def radio_behind(self) -> bool:
        """Whether the radio has not yet taken every sample burst_tx sent (a ZeroMQ PUSH or REP
        takes samples only when a receiver connects or asks)."""
        sent = self.bursts.samples_sent
        slack = 0 if self.impairments is None else CHANNEL_HELD + sent * abs(self.impairments.clock_ppm) * 1e-6
        return self.sink.block.nitems_read(0) < sent - slack

    def _progress(self) -> tuple[int, int]:
        return self.bursts.samples_sent, self.sink.block.nitems_read(0)

    def wait_sent(self, timeout: float = 60.0, stall: float = radios.STALL_SECONDS):
        """Blocks until every queued burst has left burst_tx and the radio took its samples;
        SemcomError (one line) after ``timeout`` seconds, or once the radio took no samples for
        ``stall`` seconds (nobody receiving)."""
        now = time.monotonic()
        deadline, moved, last = now + timeout, now, self._progress()
        while not self.bursts.idle or self.radio_behind():
            now = time.monotonic()
            if self._progress() != last:
                moved, last = now, self._progress()
            elif now - moved > stall:
                raise SemcomError(self.radio.stall_hint(stall))
            if now > deadline:
                raise SemcomError(f"transmitter still busy after {timeout:.0f} s")
            time.sleep(0.01)


class AirReceiver(FlowgraphOwner):
    """Receives bursts from a radio and decodes images; ``received`` is image_rx's queue.
    ``keep_up``: image_rx's (live frames: the newest frame is decoded, stale ones dropped).
    ``record``: a SigMF data file that keeps the samples burst_rx sees; ``close`` writes its
    metadata with one annotation per synchronised burst. ``symbols``: burst_rx's stream of equalised
    symbols, for a display to connect before ``start``."""

    def __init__(self, radio: radios.RadioConfig, options: AirOptions | None = None, codec="", output_dir="",
                 record="", symbols=False, keep_up: bool = False):
        opts = options or AirOptions()
        self.tb = gr.top_block("semcom_air_rx")
        self.source = radios.rx_source(radio)
        self.bursts = burst_rx(opts.waveform, opts.threshold, opts.frame_timeout, symbols_output=symbols,
                               max_frame_bits=opts.max_frame_bits, max_pending_frames=opts.max_pending_frames,
                               key=opts.key, alist=opts.alist, sequence_detector=opts.sequence_detector)
        # keep_up (live frames) drops stale frames at the decode queue: no hold on the stream
        self.image = image_rx(output_dir, codec, opts.max_pixels, keep_up, DECODE_WORKERS)
        self.image.upstream_blocks = 1  # burst_rx: the end of a recording ends it at once, not after a grace period
        if not keep_up:
            self.bursts.hold_while(lambda: self.image.congested)
        self.tb.connect(self.source, self.bursts)
        self.tb.msg_connect(self.bursts, "out", self.image, "in")
        self.recorder = None
        if record:
            received = self.source.cfg
            self.recorder = radios.tx_sink(radios.RadioConfig(
                "file", path=record, rate=received.rate, freq=received.freq, hw=radios.recording_hw(received),
                description="gr-semcom receiver recording"))
            self.tb.connect(self.source, self.recorder)
            self.bursts.receiver.synced = []

    @property
    def received(self) -> "queue.Queue[tuple[dict, np.ndarray]]":
        return self.image.received

    def warm_up(self, codec: str) -> None:
        """Builds what the first burst and the first frame (of ``codec``) would otherwise wait for."""
        phy_waveform.warm_up()
        self.image.warm_up(codec)

    def receiver_stages(self):
        return [("radio", self.radio_block), ("burst_rx", self.bursts), ("image_rx", self.image)]

    @property
    def radio_block(self):
        return getattr(self.source, "block", self.source)

    @property
    def transmitters_ended(self) -> int:
        """Transmitters that closed their connection (a ZeroMQ radio; 0 for the others): not a drop."""
        return getattr(self.radio_block, "transmitters_ended", 0)

    def start(self):
        """Starts the flowgraph; ``finished`` is set when it ends by itself (end of a recording)."""
        self.tb.start()
        self.finished = threading.Event()
        self._waiter = threading.Thread(target=self._wait, name="semcom_rx_wait", daemon=True)
        self._waiter.start()
        return self

    def _wait(self):
        self.tb.wait()
        self.bursts.drain()  # end of a recording: nothing still queued between the stages is lost
        self.image.drain()
        self.finished.set()

    def close(self):
        self.tb.stop()
        self._waiter.join(timeout=10)
        if self.recorder is not None:
            self.recorder.block.close()
            cfg = self.recorder.cfg
            started = radios.read_sigmf(cfg.path)["sigmf"]["captures"][0]["core:datetime"]
            radios.write_sigmf(cfg.path, cfg.rate, cfg.freq, cfg.description, cfg.hw,
                               radios.burst_annotations(self.bursts.receiver.synced), started)


class AirLink(FlowgraphOwner):
    """image_tx -> burst_tx -> air_channel -> burst_rx -> image_rx in one running flowgraph."""

    def __init__(self, codec=opt("codec"), modulation=opt("modulation"), fec_code=opt("fec"), cpp=opt("cpp"),
                 impairments: Impairments | None = None, options: AirOptions | None = None, output_dir=""):
        opts = options or AirOptions()
        self.impairments = impairments or Impairments()
        self.tb = gr.top_block("semcom_air_link")
        self.tx = image_tx(codec, modulation, fec_code, cpp)
        self.bursts_tx = burst_tx(modulation, self.tx.link.fec, opts.waveform, opts.burst_symbols, opts.amplitude,
                                  key=opts.key)
        self.channel = self.impairments.block()
        fec = self.tx.link.fec
        self.bursts_rx = burst_rx(opts.waveform, opts.threshold, opts.frame_timeout,
                                  key=opts.key, alist=opts.alist or (fec if ldpc.is_user_code(fec) else ""),
                                  sequence_detector=opts.sequence_detector)
        self.rx = image_rx(output_dir, self.tx.codec)
        self.frame_timeout = opts.frame_timeout
        self.tb.connect(self.bursts_tx, self.channel, self.bursts_rx)
        self.tb.msg_connect(self.tx, "out", self.bursts_tx, "in")
        self.tb.msg_connect(self.bursts_rx, "out", self.rx, "in")
        self.tb.start()

    def transmit(self, image: np.ndarray, timeout: float = 120.0) -> LinkResult:
        """Sends one image and returns what the receiver made of it; a frame none of whose bursts
        was detected comes back lost (the codec's placeholder) after the frame timeout."""
        self.tx.send(image)
        frame = self.tx.frame - 1
        deadline = time.monotonic() + timeout
        while not self.bursts_tx.idle and time.monotonic() < deadline:
            time.sleep(0.005)
        quiet = self.frame_timeout + 5.0  # the receiver may be idle this long before the frame counts as lost
        deadline, seen = time.monotonic() + quiet, self._rx_activity()
        while True:
            try:
                meta, rx_image = self.rx.received.get(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                now = self._rx_activity()
                if now != seen or any(busy for _, busy in now[:-1]):  # bursts moving, or a large image decoding
                    seen, deadline = now, time.monotonic() + quiet
                if time.monotonic() < deadline:
                    continue
                h, w = image.shape[:2]
                return LinkResult(placeholder(h, w), True, "no burst detected", 0, 0, 0, {})
            if int(meta.get("frame", -1)) == frame % FRAME_MODULO:
                return _result(meta, rx_image)

    def receiver_stages(self):
        return [("burst_rx", self.bursts_rx), ("image_rx", self.rx)]

    def _rx_activity(self):
        """Changes while the receiver works: the message stages' counts, and whether one is busy."""
        stages = (self.bursts_rx.fec, self.bursts_rx.reassembler, self.rx)
        return tuple(s.activity for s in stages) + (self.bursts_rx.sync.queued,)

    def set_snr(self, snr_db: float):
        self.channel.set_snr(snr_db)
