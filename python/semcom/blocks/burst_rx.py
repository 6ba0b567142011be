"""The ``burst_rx`` block of the burst waveform (see ``blocks/__init__.py`` for the whole chain)."""
from __future__ import annotations


import pmt
from gnuradio import blocks, digital, gr

from . import modem
from ..options import check, default as opt
from .pdu_block import IN, OUT
from ..phy import burst
from ..phy.constellations import BURST_MODULATIONS
from .burst_common import DETECTOR_ITEMS, EXPIRE, LLR, STREAM_BUFFER, preamble_period
from .burst_llr import burst_llr
from .burst_reassembler import burst_reassembler
from .burst_sync import burst_sync
from .fec_decoder import fec_decoder
from .sample_limiter import sample_limiter

BURSTS = pmt.intern("bursts")  # message output: every burst's LLR PDU


class burst_rx(gr.hier_block2):
    """Complex stream in; reassembled frames (LLR PDUs) out on message port 'out', and every
    burst's LLR PDU (metadata: snr_db, cfo, ...) on 'bursts'; with ``symbols_output``, every
    burst's equalised symbols on a stream output (for a QT GUI Constellation Sink).

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
        sequence_detector: sc 16-QAM bursts through multipath take ``burst_sync``'s sequence
            detector (its ``llr`` port, wired to ``fec_decoder``) instead of the linear path.
    """

    def __init__(self, waveform=opt("waveform"), threshold=opt("threshold"), frame_timeout=opt("frame_timeout"),
                 ldpc_backend=opt("ldpc_backend"), constellation=None, symbols_output=False,
                 max_frame_bits=opt("max_frame_bits"), max_pending_frames=opt("max_pending_frames"), key=opt("key"),
                 alist=opt("alist"), decoder=None, sequence_detector=opt("sequence_detector")):
        outputs = 1 if symbols_output else 0
        gr.hier_block2.__init__(self, "semcom_burst_rx", gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(outputs, outputs, gr.sizeof_gr_complex))
        self.message_port_register_hier_out("out")
        self.message_port_register_hier_out("bursts")
        wave = burst.wf_mod.waveform(check("waveform", waveform))
        self.detector = digital.corr_est_cc(preamble_period(waveform), float(wave.sps), 0,
                                            check("threshold", threshold), digital.THRESHOLD_DYNAMIC)
        # the dynamic threshold is relative to the mean correlation of each work() call: a short
        # call holding little but a preamble would hide it
        self.detector.set_min_noutput_items(DETECTOR_ITEMS)
        self.detector.set_min_output_buffer(STREAM_BUFFER)  # fewer hand-overs between the threads
        self.sync = burst_sync(waveform, frame_timeout, display=symbols_output, alist=alist)
        self.sync.upstream = self.detector
        self.sync.set_min_output_buffer(STREAM_BUFFER)
        self.fec = fec_decoder(ldpc_backend, alist=alist, decoder=decoder)
        self.reassembler = burst_reassembler(max_frame_bits, max_pending_frames, key)
        self.limiter = sample_limiter()
        self.connect(self, self.limiter, self.detector, self.sync)
        custom = modem.normalised(constellation) if constellation is not None else None
        self.constellations, self.scalers, self.demappers, self.llrs = [], [], [], []
        for port, name in enumerate(BURST_MODULATIONS):
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
            self.msg_connect(self.llrs[-1], OUT, self, BURSTS)
        if symbols_output:
            self.connect((self.sync, len(BURST_MODULATIONS)), self)
        self.reassembler.feeder = self.fec
        if sequence_detector:  # burst_sync sends the detector's LLRs while its llr port is connected
            self.msg_connect(self.sync, pmt.intern(LLR), self.fec, IN)
            self.msg_connect(self.sync, pmt.intern(LLR), self, BURSTS)
        # one burst_llr per modulation, and burst_sync's llr port
        self.fec.upstream_blocks = len(BURST_MODULATIONS) + bool(sequence_detector)
        self.reassembler.upstream_blocks = 2  # fec_decoder and burst_sync's expire port
        self.msg_connect(self.fec, OUT, self.reassembler, IN)
        self.msg_connect(self.sync, EXPIRE, self.reassembler, EXPIRE)
        self.msg_connect(self.reassembler, OUT, self, OUT)

    def hold_while(self, congested):
        """Back-pressure from a stage downstream: no samples are taken while ``congested()`` is True,
        so a faster stream waits (a recording) or overflows at the radio instead of filling memory."""
        self.sync.hold = congested

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
