"""GNU Radio blocks of the burst waveform: each stage of the chain is a block, and ``burst_tx`` /
``burst_rx`` are hierarchical blocks wiring them (today's one-block convenience).

Transmit (``burst_tx``)::

    bits PDU -> burst_segmenter -> fec.async_encoder (gr-fec LDPC; absent when uncoded)
             -> symbol_mapper (digital.constellation) -> burst_modulator -> samples

Receive (``burst_rx``)::

    samples -> sample_limiter -> digital.corr_est_cc -> burst_sync --(one stream per modulation)--> multiply_const_cc
            -> digital.constellation_soft_decoder_cf -> burst_llr -> fec_decoder -> burst_reassembler
            -> frame LLR PDUs (for image_rx); burst_sync's last output: every burst's equalised
               symbols, for a QT GUI Constellation Sink

``burst_sync`` may stay numpy (GNU Radio 3.10 has no burst-mode synchroniser); the soft decisions
are gr-digital's, from a noise-free max-log table (``modem.install_stream_table``) that
``burst_llr`` scales by each symbol's 1/N0 (exact for BPSK and QPSK, max-log for 16/64-QAM; per
symbol, so OFDM's per-subcarrier CSI is right too). ``air_channel`` is the simulated radio.
"""
from __future__ import annotations

import collections
import threading
from dataclasses import astuple

import numpy as np
import pmt
from gnuradio import blocks, channels, digital, fec, filter as gr_filter, gr

from . import malloc, modem
from ..codecs import registry
from ..errors import SemcomError
from .. import options
try:
    from .. import semcom_python  # the compiled blocks (lib/), installed beside this package
except ImportError:  # this package imported from the source tree (tests): the installed build's
    try:
        from gnuradio.semcom import semcom_python
    except ImportError as err:
        raise ImportError("gr-semcom's compiled blocks (semcom_python) are not installed: build and install "
                          "with `bash scripts/bootstrap.sh` (or cmake, make install)") from err
from ..options import check, default as opt
from .pdu_block import DONE, IN, OUT, SYSTEM, pdu_block
from .pdu_io import make_pdu, meta_to_pmt, split_pdu
from .stream_run import fill_from
from ..phy import burst, framing, ldpc
from ..phy.constellations import MODULATIONS
from ..phy.framing import CODEC_ID, HEIGHT, MODEL_HASH, WIDTH
from ..phy.link import FEC_NONE, LLR_CLIP


HEADER, EXPIRE = "header", "expire"  # burst PDU metadata: the burst header; a frame that expired
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


class burst_segmenter(pdu_block):
    """Frame bits PDU (one bit per byte; metadata codec_id, height, width, frame, model_hash) in,
    one PDU per burst out: its information bits, zero-padded to whole FEC blocks, with the burst
    header in the metadata. A random session id per block keeps transmitters apart.

    Args:
        modulation, fec_code: the payload's link (the header signals both); fec_code may be a user
            code from any alist file, 'alist:FILE' (the header carries its 7-bit hash).
        burst_symbols: payload channel uses per burst at most.
        key: pre-shared authentication key ('' none; '@FILE' a file's bytes): headers carry its tag.
    """

    in_dtype = np.uint8

    def __init__(self, modulation=opt("modulation"), fec_code=opt("phy_fec"), burst_symbols=opt("burst_symbols"),
                 waveform=opt("waveform"), key=opt("key")):
        pdu_block.__init__(self, "semcom_burst_segmenter")
        self.framer = burst.BurstFramer(check("modulation", modulation), check("phy_fec", fec_code),
                                      check("waveform", waveform), check("burst_symbols", burst_symbols),
                                      key=options.key_bytes(key))
        self.frames_in = self.bursts_out = 0

    @property
    def link(self):
        return self.framer.link

    def process(self, meta, bits):
        if bits.size and bits.max() > 1:
            raise ValueError("bits PDU must hold one bit (0 or 1) per byte")
        segments = self.framer.segments(bits, int(meta[CODEC_ID]), int(meta[HEIGHT]), int(meta[WIDTH]),
                                        int(meta.get(framing.FRAME, 0)), fingerprint_of(meta))
        self.frames_in += 1
        self.bursts_out += len(segments)
        return [make_pdu({HEADER: list(astuple(h))}, seg) for h, seg in segments]


class symbol_mapper(pdu_block):
    """Bits PDU in, symbols PDU out, through a ``digital.constellation`` (the PDU form of
    ``constellation_encoder_bc``); metadata passes through. Pads to whole symbols.

    Args:
        constellation: a ``digital.constellation`` with unit average energy, or a modulation name
            (the project's Gray QPSK, 16-QAM, 64-QAM).
    """

    in_dtype = np.uint8

    def __init__(self, constellation=opt("modulation")):
        pdu_block.__init__(self, "semcom_symbol_mapper")
        self.mapper = modem.SymbolMapper(constellation)

    def process(self, meta, bits):
        if bits.size and bits.max() > 1:
            raise ValueError("bits PDU must hold one bit (0 or 1) per byte")
        if HEADER in meta:
            modulation = header_of(meta).modulation_name
            if modulation != self.mapper.const.name:
                raise ValueError(f"burst header says {modulation}, this mapper's constellation is "
                                 f"{self.mapper.const.name}")
        return [make_pdu(meta, self.mapper.map(bits))]


class burst_modulator(gr.sync_block):
    """Symbols PDU (metadata: the burst header) in, burst samples out (preamble, header, payload;
    ``tx_sob``/``tx_eob`` tagged). Between bursts the output is idle (no samples).

    Args:
        waveform: 'sc' (RRC single carrier, 2 samples/symbol) or 'ofdm'.
        amplitude: output scale (keep peaks below 1 for a DAC: about 0.5 for sc, 0.3 for ofdm).
    """

    def __init__(self, waveform=opt("waveform"), amplitude=1.0):
        gr.sync_block.__init__(self, name="semcom_burst_modulator", in_sig=None, out_sig=[np.complex64])
        self.wave = burst.wf_mod.waveform(check("waveform", waveform))
        self.amplitude = check("amplitude", amplitude)
        self.message_port_register_in(IN)
        self.set_msg_handler(IN, self.handle)
        self.set_msg_handler(SYSTEM, self._system)
        self.queue: collections.deque = collections.deque()
        self.ready = threading.Event()
        self.current, self.pos, self.last = None, 0, False
        self.frames_sent = self.bursts_sent = self.samples_sent = self.dropped = self.bursts_in = 0
        self.upstream_done = False

    def _system(self, msg):
        """Upstream finished: send what is queued, then end the stream (not at once, as GNU Radio
        would)."""
        if pmt.is_pair(msg) and pmt.eqv(pmt.car(msg), DONE):
            self.upstream_done = True
            self.ready.set()

    def handle(self, msg):
        try:
            meta, symbols = split_pdu(msg, np.complex64)
            header = header_of(meta)
            if symbols.size != header.link.channel_uses(header.lengths[header.segment]):
                raise ValueError(f"{symbols.size} symbols, the header's segment needs "
                                 f"{header.link.channel_uses(header.lengths[header.segment])}")
            samples = self.wave.modulate(header, symbols) * self.amplitude
        except Exception as err:  # noqa: BLE001 (whatever it is: this burst only)
            self.dropped += 1
            self.logger.warn(f"dropped a burst: {err}")
            return
        self.bursts_in += 1
        last = header.segment == header.segments - 1
        if last:
            samples = np.concatenate([samples, np.zeros(TAIL_ZEROS, np.complex64)])
        self.queue.append((samples.astype(np.complex64), last))
        self.ready.set()

    @property
    def idle(self) -> bool:
        return self.current is None and not self.queue

    def work(self, input_items, output_items):
        out = output_items[0]
        if self.current is None:
            if not self.queue:
                self.ready.wait(0.02)  # idle: return to the scheduler (and its message handling) soon
                self.ready.clear()
                if not self.queue:
                    return -1 if self.upstream_done else 0  # -1: WORK_DONE
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


class burst_tx(gr.hier_block2):
    """Frame bits PDU (one bit per byte; metadata codec_id, height, width, frame) in, burst
    samples out: ``burst_segmenter`` -> gr-fec ``async_encoder`` (LDPC; none when uncoded) ->
    ``symbol_mapper`` -> ``burst_modulator``.

    Args:
        modulation, fec_code: the payload's link, as ``image_tx`` was given.
        waveform: 'sc' or 'ofdm'.
        burst_symbols: payload channel uses per burst at most.
        amplitude: output scale.
        constellation: a ``digital.constellation`` to map with instead of the project's (same
            number of points as ``modulation``; the receiver must be given the same one).
        key: pre-shared authentication key ('' none): every header carries its HMAC tag.
        encoder: a gr-fec LDPC encoder definition to encode with instead of the one built from
            ``fec_code`` (checked: it must encode that code as [parity | information]).

    ``fec_code`` 'alist:FILE' is a user code: the receiver must be given the same file.
    """

    def __init__(self, modulation=opt("modulation"), fec_code=opt("phy_fec"), waveform=opt("waveform"),
                 burst_symbols=opt("burst_symbols"), amplitude=1.0, constellation=None, key=opt("key"),
                 encoder=None):
        gr.hier_block2.__init__(self, "semcom_burst_tx", gr.io_signature(0, 0, 0),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.message_port_register_hier_in("in")
        self.posted = 0
        self.segmenter = burst_segmenter(modulation, fec_code, burst_symbols, waveform, key)
        obj = modem.as_constellation(constellation if constellation is not None else modulation)
        if modem.modulation_of(obj) != self.segmenter.link.modulation:
            raise SemcomError(f"constellation has {1 << obj.bits_per_symbol()} points; {modulation} has "
                              f"{1 << self.segmenter.link.bits_per_symbol}")
        self.mapper = symbol_mapper(obj)
        self.modulator = burst_modulator(waveform, amplitude)
        encoder = modem.encoder_object(self.segmenter.link.fec, encoder)
        chain = [self.segmenter]
        if encoder is not None:
            self.encoder_object = encoder
            self.encoder = fec.async_encoder(encoder, False, False, False, MTU)
            chain.append(self.encoder)
        chain += [self.mapper, self.modulator]
        self.msg_connect(self, "in", self.segmenter, "in")
        for a, b in zip(chain, chain[1:]):
            self.msg_connect(a, "out", b, "in")
        self.connect(self.modulator, self)

    def send(self, bits: np.ndarray, meta: dict):
        """Queues one frame (as if posted to the message input)."""
        self.posted += 1
        self.segmenter.to_basic_block()._post(IN, make_pdu(meta, np.asarray(bits, np.uint8)))

    @property
    def idle(self) -> bool:
        """True when every frame given to ``send`` has left the block (or was dropped on the way)."""
        lost = self.mapper.dropped + self.modulator.dropped
        return self.segmenter.frames_in + self.segmenter.dropped >= self.posted and self.modulator.idle \
            and self.segmenter.bursts_out <= self.modulator.bursts_sent + lost

    @property
    def frames_sent(self) -> int:
        return self.modulator.frames_sent

    @property
    def bursts_sent(self) -> int:
        return self.modulator.bursts_sent

    @property
    def samples_sent(self) -> int:
        return self.modulator.samples_sent

    @property
    def dropped(self) -> int:
        return self.segmenter.dropped + self.mapper.dropped + self.modulator.dropped


def sample_limiter(limit=LIMIT_FACTOR, floor=LIMIT_FLOOR, hold=LIMIT_HOLD):
    """Complex stream in and out: non-finite samples become 0, and magnitudes above ``limit``
    times a reference level are scaled down to it, so that one corrupted sample (a flipped float
    in a recording, up to 1e38) cannot raise ``corr_est_cc``'s dynamic threshold for a whole work
    call and hide real preambles. The reference is the 90th percentile of |x| of each call (every
    8th sample), held with a half-life of ``hold`` samples (so it stays at the signal's level
    between bursts), and at least ``floor``; sparse corruption does not move a 90th percentile.
    ``.limited`` counts the samples changed. The block is C++ (lib/sample_limiter_impl.cc): as a
    Python block on the raw stream its calls cost the receiver 15 % of its throughput."""
    block = semcom_python.sample_limiter(float(limit), float(floor), float(hold))
    block.set_min_output_buffer(STREAM_BUFFER)
    return block


class burst_sync(gr.basic_block):
    """Samples (with ``corr_est_cc``'s ``corr_start`` tags) in; out, one stream per modulation
    (``modulations``, by default bpsk, qpsk, 16qam, 64qam) of each burst's equalised payload
    symbols, the first tagged ``burst`` with the header, SNR, CFO, position, per-symbol noise
    variance, its number of ``symbols`` and the ``coded_bits`` its segment carries (what
    ``burst_llr`` reads), and last an output of every burst's symbols (for a constellation
    display). Bursts of another modulation are dropped and counted in ``other_modulation``. A
    frame that will get no more bursts is announced in its stream by one zero symbol tagged ``expire``, or, when the input
    stops for ``frame_timeout`` seconds, on message port ``expire``.

    Args:
        waveform: as at the transmitter ('sc' or 'ofdm').
        frame_timeout: seconds without samples before a pending frame's missing bursts count as
            lost; while samples flow, 16 bursts' worth of samples without one does.
        modulations: the modulations with an output, in this order.
        display: add the last output, of every burst's symbols.
        alist: a user LDPC code (alist file) this receiver decodes besides the named ones ('' none);
            bursts of another user code are dropped, counted in ``receiver.foreign_code``.
    """

    def __init__(self, waveform=opt("waveform"), frame_timeout=opt("frame_timeout"), modulations=MODULATIONS,
                 display=True, alist=opt("alist")):
        self.modulations = [check("modulation", m) for m in modulations]
        if not self.modulations or len(set(self.modulations)) != len(self.modulations):
            raise SemcomError("burst_sync needs one or more different modulations")
        gr.basic_block.__init__(self, name="semcom_burst_sync", in_sig=[np.complex64],
                                out_sig=[np.complex64] * (len(self.modulations) + bool(display)))
        self.show = bool(display)
        # corr_est_cc's tags stay here: propagated, they would land at output offsets far beyond
        # what this block produces, where no reader ever prunes them (memory grows per detection)
        self.set_tag_propagation_policy(gr.TPP_DONT)
        malloc.limit_arenas()  # flat memory when running for days
        self.sync = burst.BurstSynchroniser(check("waveform", waveform), check("frame_timeout", frame_timeout),
                                          codes=(ldpc.given(alist),))
        self.message_port_register_out(pmt.intern(EXPIRE))
        self.lock = threading.Lock()
        self.pending = [collections.deque() for _ in self.modulations]  # (symbols, tag or None) per port
        self.other_modulation = self.errors = 0
        self.display: collections.deque = collections.deque()
        self.queued = 0
        self.modulation_of: dict[tuple, int] = {}  # frame key -> port, for its expire marker
        self._reported = 0
        self._stop = threading.Event()
        self._timer = None

    @property
    def receiver(self) -> burst.BurstSynchroniser:
        return self.sync

    def start(self):
        self._stop.clear()
        self._timer = threading.Thread(target=self._idle_loop, name="semcom_burst_idle", daemon=True)
        self._timer.start()
        return True

    def stop(self):
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        return True

    def _idle_loop(self):
        """The input stopped (a transmitter went away): frames it left pending expire by message."""
        while not self._stop.wait(0.25):
            with self.lock:
                if self.queued:
                    continue  # still draining: their markers will follow in-stream
                for event in self.sync.expire():
                    self.modulation_of.pop(event.key, None)
                    self.message_port_pub(pmt.intern(EXPIRE), make_pdu({EXPIRE: list(event.key)},
                                                                        np.zeros(0, np.float32)))

    def forecast(self, noutput_items, ninputs):
        # symbols still waiting for output space need no input: without this they would wait
        # for the next samples, which after a frame's last burst may never come
        return [0 if self.queued else 1] * ninputs

    def general_work(self, input_items, output_items):
        samples = input_items[0]
        with self.lock:
            taken = 0
            if self.queued < MAX_QUEUED_SYMBOLS and len(samples):
                tags = self.get_tags_in_window(0, 0, len(samples), CORR_START)
                taken = len(samples)
                try:
                    self._queue(self.sync.feed(samples, sorted(t.offset for t in tags)))
                except Exception as err:  # noqa: BLE001 (these samples only: never a dead receiver)
                    self.errors += 1
                    self.logger.warn(f"dropped {taken} samples: {type(err).__name__}: {err}")
                if self.sync.dropped > self._reported:
                    self._reported = self.sync.dropped
                    if not self.sync.last_error.startswith("burst header"):  # header failures: mostly noise
                        self.logger.info(f"dropped a burst: {self.sync.last_error}")
            self.consume(0, taken)
            for port, queue in enumerate(self.pending):
                self.produce(port, self._emit(queue, output_items[port], port))
            if self.show:
                self.produce(len(self.pending), self._emit_display(output_items[-1]))
        return gr.WORK_CALLED_PRODUCE

    def _queue(self, events):
        for event in events:
            if isinstance(event, burst.Expired):
                port = self.modulation_of.pop(event.key, None)
                if port is not None:
                    self.pending[port].append((np.zeros(1, np.complex64), (EXPIRE_TAG, {EXPIRE: list(event.key)})))
                    self.pending[port].append((np.zeros(FLUSH_SYMBOLS, np.complex64), None))
                    self.queued += 1 + FLUSH_SYMBOLS
                continue
            h, info = event.header, event.info
            if h.modulation_name not in self.modulations:
                self.other_modulation += 1
                continue
            port = self.modulations.index(h.modulation_name)
            self.modulation_of[burst.frame_key(h)] = port
            nv = event.noise_var
            noise = float(nv[0]) if nv.size and np.all(nv == nv[0]) else nv  # sc: one value per burst
            meta = {HEADER: list(astuple(h)), "position": info.position, "snr_db": float(info.snr_db),
                    "cfo": float(info.cfo), framing.NOISE_VAR: noise, "symbols": len(event.symbols),
                    "coded_bits": h.link.coded_bits(h.lengths[h.segment])}
            self.pending[port].append((event.symbols, (BURST_TAG, meta)))
            self.pending[port].append((np.zeros(FLUSH_SYMBOLS, np.complex64), None))
            if self.show:
                self.display.append(event.symbols)
            self.queued += len(event.symbols) + FLUSH_SYMBOLS

    def _emit(self, queue, out, port) -> int:
        n = 0
        while queue and n < len(out):
            symbols, tag = queue[0]
            if tag is not None:
                self.add_item_tag(port, self.nitems_written(port) + n, tag[0], meta_to_pmt(tag[1]))
            k = min(len(symbols), len(out) - n)
            out[n:n + k] = symbols[:k]
            n += k
            self.queued -= k
            if k == len(symbols):
                queue.popleft()
            else:
                queue[0] = (symbols[k:], None)
        return n

    def _emit_display(self, out) -> int:
        n = fill_from(self.display, out)
        if len(self.display) > 64:  # nobody watches: keep memory flat
            self.display.clear()
        return n


def burst_llr(modulation=opt("modulation"), constellation=None):
    """The soft decoder's output (k values per symbol, from the noise-free max-log table) in,
    one LLR PDU per burst out: the values times the burst's 1/N0 per symbol, clipped, cut to the
    segment's coded bits (the burst tag's ``symbols`` and ``coded_bits``, from ``burst_sync``),
    with the burst's metadata. ``expire`` markers become expire PDUs. The block is C++
    (lib/burst_llr_impl.cc): as a Python block its per-burst cost and its contention for the
    interpreter lock took a quarter of the OFDM receiver's time. ``.bursts_out``, ``.dropped``.

    Args:
        modulation: the stream's modulation (bpsk, qpsk, 16qam, 64qam): k bits per symbol.
        constellation: the soft decoder's ``digital.constellation``; given, its noise-free table
            is loaded into it here, and ``.input_scale`` is what its Multiply Const must be.
    """
    k = burst.constellation(check("modulation", modulation)).bits_per_symbol
    block = semcom_python.burst_llr(k, LLR_CLIP)
    block.input_scale = None
    if constellation is not None:
        if modem.modulation_of(constellation) != modulation:
            raise SemcomError(f"constellation does not have the {modulation} number of points")
        block.input_scale = modem.install_stream_table(constellation)
    return block


class fec_decoder(pdu_block):
    """Coded LLR PDU of one burst (metadata: its header) in, the segment's information LLRs out,
    with ``fec_ok`` and ``fec_blocks_failed``. Expire PDUs pass through.

    Args:
        backend: 'minsum' (the project's vectorised min-sum; reports failed codewords) or
            'gnuradio' (gr-fec's ldpc_decoder; failures found by re-encoding).
        max_iterations: LDPC iterations.
        alist: a user LDPC code (alist file) this decoder accepts besides the named ones ('' none);
            bursts of another user code are dropped, counted under ``burst.ForeignCode.reason``.
        decoder: a gr-fec LDPC decoder definition (``fec.ldpc_decoder.make(FILE, ...)``) that the
            'gnuradio' backend uses for the ``alist`` code.
    """

    in_dtype = np.float32

    def __init__(self, backend=opt("ldpc_backend"), max_iterations=50, alist=opt("alist"), decoder=None):
        pdu_block.__init__(self, "semcom_fec_decoder")
        code = ldpc.given(alist)
        self.accepted = burst.accepted_fecs((code,))
        self.decoder = modem.FecDecoder(check("ldpc_backend", backend), max_iterations, code, decoder)
        self.blocks_failed = 0

    def process(self, meta, llr):
        if EXPIRE in meta:
            return [make_pdu(meta, llr)]
        header = burst.check_code(header_of(meta), self.accepted)
        payload, failed = self.decoder.decode(header.link, llr, header.lengths[header.segment])
        meta[framing.FEC_OK], meta[framing.FEC_BLOCKS_FAILED] = failed == 0, failed
        self.blocks_failed += failed
        return [make_pdu(meta, payload)]


class burst_reassembler(pdu_block):
    """Segment LLR PDUs in; a frame's LLR PDU out once all its bursts arrived, or when it expires
    (lost bursts as LLR 0, erasures), with the header fields, SNR estimate and bursts lost in its
    metadata (what ``image_rx`` reads). At the end of the stream (every upstream block
    finished) the frames still pending are published with their missing bursts as erasures."""

    in_dtype = np.float32

    def __init__(self, max_frame_bits=opt("max_frame_bits"), max_pending_frames=opt("max_pending_frames"),
                 key=opt("key")):
        pdu_block.__init__(self, "semcom_burst_reassembler")
        self.key = options.key_bytes(key)
        self.message_port_register_in(pmt.intern(EXPIRE))
        self.set_msg_handler(pmt.intern(EXPIRE), self.handle)
        self.collector = burst.FrameCollector(check("max_frame_bits", max_frame_bits),
                                            check("max_pending_frames", max_pending_frames))
        self.lock = threading.Lock()
        self.feeder = None  # a block whose queued messages come here first (burst_rx: fec_decoder)
        self.frames_out = self.frames_dropped = 0

    def process(self, meta, llr):
        with self.lock:
            if EXPIRE in meta:
                return self._frames(self.collector.expire(tuple(int(v) for v in np.asarray(meta[EXPIRE]).ravel())))
            header = header_of(meta)
            if self.key and not header.authentic(self.key, (llr > 0) if header.fec_name != FEC_NONE else None):
                self.drops[UNAUTHENTIC] = self.drops.get(UNAUTHENTIC, 0) + 1
                if self.drops[UNAUTHENTIC] in (1, 10, 100) or self.drops[UNAUTHENTIC] % 1000 == 0:
                    self.logger.warn(f"dropped a burst without a valid authentication tag ({UNAUTHENTIC}; "
                                     f"{self.drops[UNAUTHENTIC]} so far)")
                return []
            info = burst.BurstInfo(header, int(meta.get("position", -1)), float(meta.get("snr_db", float("nan"))),
                                 float(meta.get("cfo", 0.0)), bool(meta.get(framing.FEC_OK, True)))
            return self._frames(self.collector.add(info, llr))

    @property
    def drain_ports(self):
        return (pmt.intern(EXPIRE), IN)

    def stop(self):
        """What is still queued upstream and here (the end of a recording). Pending frames stay:
        GNU Radio may stop this block before the last bursts left the stream stages, so the
        flowgraph's owner flushes them once it has ended (``burst_rx.drain``)."""
        if self.feeder is not None:
            self.feeder.drain()
        self.drain()
        return True

    def end_of_stream(self):
        self.flush()

    def flush(self):
        """Publishes every pending frame, its missing bursts as erasures."""
        with self.lock:
            for pdu in self._frames(self.collector.flush()):
                self.message_port_pub(OUT, pdu)

    def _frames(self, frames):
        out = []
        for received in frames:
            try:
                meta = frame_meta(received)
            except SemcomError as err:
                self.frames_dropped += 1
                self.logger.warn(f"frame {received.frame.frame} dropped: {err}")
                continue
            self.frames_out += 1
            out.append(make_pdu(meta, received.frame.llrs))
        return out


class burst_rx(gr.hier_block2):
    """Complex stream in; reassembled frames (LLR PDUs) out on message port 'out'; with
    ``symbols_output``, every burst's equalised symbols on a stream output (for a QT GUI
    Constellation Sink).

    The chain: ``sample_limiter`` -> ``digital.corr_est_cc`` -> ``burst_sync`` -> per modulation
    ``multiply_const_cc`` -> ``digital.constellation_soft_decoder_cf`` -> ``burst_llr`` ->
    ``fec_decoder`` -> ``burst_reassembler``.

    Args:
        waveform: as at the transmitter ('sc' or 'ofdm').
        threshold: ``corr_est_cc`` dynamic threshold (1 - false-alarm probability per sample);
            lower finds weaker bursts, spends more time on noise. Header LDPC + CRC-16 reject
            false detections.
        frame_timeout: seconds without samples (transmitter stopped) before a pending frame's missing
            bursts count as lost; while samples flow, 16 bursts' worth of samples without one does.
        ldpc_backend: 'minsum' or 'gnuradio' (``fec_decoder``).
        constellation: a ``digital.constellation`` to demap with, for the modulation with its
            number of points, instead of the project's (as given to ``burst_tx``).
        symbols_output: add the stream output of equalised symbols.
        max_frame_bits, max_pending_frames: reassembly limits (``burst.Reassembler``): a header
            announcing more bits is dropped before any allocation; beyond that many frames in
            progress the oldest is finished (missing bursts as erasures).
        key: pre-shared authentication key ('' none): bursts whose header tag does not match
            (over the header, and the decoded payload when FEC-coded) are dropped.
        alist: a user LDPC code (alist file, the transmitter's fec_code 'alist:FILE') this receiver
            decodes besides the named ones ('' none); bursts of any other user code are dropped and
            counted (``drops``).
        decoder: a gr-fec LDPC decoder definition for the ``alist`` code ('gnuradio' backend).
    """

    def __init__(self, waveform=opt("waveform"), threshold=opt("threshold"), frame_timeout=opt("frame_timeout"),
                 ldpc_backend=opt("ldpc_backend"), constellation=None, symbols_output=False,
                 max_frame_bits=opt("max_frame_bits"), max_pending_frames=opt("max_pending_frames"), key=opt("key"),
                 alist=opt("alist"), decoder=None):
        outputs = 1 if symbols_output else 0
        gr.hier_block2.__init__(self, "semcom_burst_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(outputs, outputs, gr.sizeof_gr_complex))
        self.message_port_register_hier_out("out")
        wave = burst.wf_mod.waveform(check("waveform", waveform))
        self.detector = digital.corr_est_cc(preamble_period(waveform), float(wave.sps), 0,
                                            check("threshold", threshold), digital.THRESHOLD_DYNAMIC)
        # the dynamic threshold is relative to the mean correlation of each work() call: a short
        # call holding little but a preamble would hide it
        self.detector.set_min_noutput_items(DETECTOR_ITEMS)
        self.detector.set_min_output_buffer(STREAM_BUFFER)  # fewer hand-overs between the threads
        self.sync = burst_sync(waveform, frame_timeout, display=symbols_output, alist=alist)
        self.sync.set_min_output_buffer(STREAM_BUFFER)
        self.fec = fec_decoder(ldpc_backend, alist=alist, decoder=decoder)
        self.reassembler = burst_reassembler(max_frame_bits, max_pending_frames, key)
        self.limiter = sample_limiter()
        self.connect(self, self.limiter, self.detector, self.sync)
        custom = modem.as_constellation(constellation) if constellation is not None else None
        self.constellations, self.scalers, self.demappers, self.llrs = [], [], [], []
        for port, name in enumerate(MODULATIONS):
            obj = custom if custom is not None and modem.modulation_of(custom) == name else None
            if obj is None:
                obj = modem.stream_constellation(name)
            scale = modem.install_stream_table(obj)
            self.constellations.append(obj)
            self.scalers.append(blocks.multiply_const_cc(scale))
            self.demappers.append(digital.constellation_soft_decoder_cf(obj))
            self.llrs.append(burst_llr(name, obj))
            self.connect((self.sync, port), self.scalers[-1], self.demappers[-1], self.llrs[-1])
            self.msg_connect(self.llrs[-1], OUT, self.fec, IN)
        if symbols_output:
            self.connect((self.sync, len(MODULATIONS)), self)
        self.reassembler.feeder = self.fec
        self.fec.upstream_blocks = len(MODULATIONS)  # one burst_llr per modulation
        self.reassembler.upstream_blocks = 2  # fec_decoder and burst_sync's expire port
        self.msg_connect(self.fec, OUT, self.reassembler, IN)
        self.msg_connect(self.sync, EXPIRE, self.reassembler, EXPIRE)
        self.msg_connect(self.reassembler, OUT, self, OUT)

    @property
    def receiver(self) -> burst.BurstSynchroniser:
        return self.sync.sync

    def drops(self) -> dict[str, dict[str, int]]:
        """Units dropped so far, by stage and reason (non-zero counts only)."""
        sync = self.sync.sync
        stages = {"burst_sync": {"detections without a decodable burst": sync.dropped - sync.foreign_code,
                                 burst.ForeignCode.reason: sync.foreign_code,
                                 "samples zeroed (non-finite or out of range)": sync.bad_samples,
                                 "samples limited (non-finite or far above the signal)": self.limiter.limited,
                                 "sample blocks lost to an error": self.sync.errors},
                  "burst_llr": {"bursts cut short": sum(b.dropped for b in self.llrs)},
                  "fec_decoder": dict(self.fec.drops), "burst_reassembler": dict(self.reassembler.drops)}
        return {name: {k: int(v) for k, v in counts.items() if v} for name, counts in stages.items()
                if any(counts.values())}

    def drain(self):
        """End of stream: every queued burst through the FEC decoder and the reassembler, then
        the pending frames out (for flowgraph owners, after the flowgraph ended)."""
        self.fec.drain()
        self.reassembler.drain()
        self.reassembler.flush()


def frame_meta(received: burst.ReceivedFrame) -> dict:
    """The LLR PDU metadata ``image_rx`` and the apps read for one received frame."""
    f = received.frame
    bursts = received.bursts
    meta = {**registry.frame_meta(f.codec_id), CODEC_ID: f.codec_id, HEIGHT: f.height, WIDTH: f.width,
            framing.FRAME: f.frame, framing.PAYLOAD_BITS: f.payload_bits, framing.FEC_OK: received.fec_ok,
            "modulation": f.modulation_name, "fec": f.fec_name, "bursts": f.segments,
            "channel_uses": burst.frame_channel_uses(f), "session": f.session,
            "bursts_lost": f.bursts_lost, "bursts_fec_failed": sum(not b.fec_ok for b in bursts),
            "snr_est_db": round(received.snr_db, 2),
            "snr_est_db_min": round(min((b.snr_db for b in bursts), default=float("nan")), 2),
            "snr_est_db_bursts": ",".join(f"{b.header.segment}:{b.snr_db:.1f}" for b in bursts),
            "cfo_est": round(float(np.mean([b.cfo for b in bursts])) if bursts else 0.0, 6),
            "first_sample": min((b.position for b in bursts), default=-1)}
    if f.fingerprint:
        meta[MODEL_HASH] = f"{f.fingerprint:012x}"
    return meta


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
