"""Burst waveforms in numpy: single carrier (RRC) and OFDM, transmit and receive.

A burst on air::

    guard | preamble: ZC-32 x (1, 1, 1, -1) (RRC) | [OFDM: 2 training symbols] | data ... | guard

The data symbols are the header (272 bits, CRC-16, shortened LDPC(1100,442),
BPSK: ``HEADER_SYMBOLS``) followed by the payload symbols. The receiver never
knows the SNR: from the preamble it estimates timing (delay-and-correlate, then
cross-correlation with parabolic refinement), carrier frequency (repetition
phase), the channel and the noise variance; known pilots then track the phase.

* Preamble (both): ZC-32 sent 4 times, the last negated, 2 samples/symbol, RRC roll-off 0.35.
* ``SingleCarrier``: 2 samples/symbol, RRC roll-off 0.35; a sample-spaced channel
  (8 taps) behind the matched filter is fitted to the preamble by least squares,
  whose residual gives the noise variance, and a fractionally spaced MMSE
  equaliser (25 taps, 2 per symbol) undoes multipath and fractional timing; once
  the header is decoded its symbols are known, and the payload's channel and noise
  variance are fitted again over preamble and header; 4 pilots per 60 data
  symbols track phase. For payloads denser than QPSK, a sample-clock offset is
  measured over the whole burst (the timing error of every symbol against its
  posterior mean) and the burst resampled to it. A 16-QAM payload through
  multipath gets its LLRs from a BCJR sequence detector (``trellis``) behind a
  channel-shortening filter too.
* ``Ofdm``: 64-point FFT, cyclic prefix 16, 48 data + 4 pilot subcarriers (the
  802.11a layout); two long training symbols give H per subcarrier and the noise
  variance (two different known symbols, so nothing but the ZC repeats); pilots remove the
  common phase error of every OFDM symbol.

Es/N0 = 1 / (noise variance per sample) for both: SC pulses have unit energy,
the OFDM FFT is unitary. Nothing here imports GNU Radio; the blocks in
The burst blocks (``blocks/burst_*.py``) carry these bursts through ``corr_est_cc`` and the radios.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import SemcomError
from . import ldpc, trellis
from .burst.header import HEADER_BITS, Header
from .constellations import constellation

ZC_LEN, ZC_ROOT, ZC_REPEATS = 32, 5, 4
HEADER_CODE = "n_1100_k_0442_gap_24.alist"  # shortened: 272 header bits + 170 known zeros
HEADER_SYMBOLS = 1100 - (442 - HEADER_BITS)  # 930 BPSK symbols
KNOWN_LLR = 50.0
MIN_PREAMBLE_QUALITY = 0.12  # normalised repetition correlation: 0.2 at Es/N0 -3 dB (sc), ~0.09 on noise
MIN_TEMPLATE_CORRELATION = 0.2  # normalised correlation with the preamble: ~0.45 at -3 dB, ~0.06 on noise
MAX_BURST_SYMBOLS = 1 << 16  # data symbols a header may announce (bounds receive buffers)
OUTLIER_FACTOR = 8.0  # one symbol's squared error counts as at most this many noise variances


def zadoff_chu(length: int = ZC_LEN, root: int = ZC_ROOT) -> np.ndarray:
    n = np.arange(length)
    return np.exp(-1j * np.pi * root * n * n / length).astype(np.complex64)


def rrc_taps(sps: int, rolloff: float, span: int) -> np.ndarray:
    """Root-raised-cosine pulse, ``span`` symbols long, unit energy (sum of squares 1)."""
    t = (np.arange(span * sps + 1) - span * sps / 2) / sps
    taps = np.empty_like(t)
    for i, x in enumerate(t):
        if abs(x) < 1e-9:
            taps[i] = 1 + rolloff * (4 / np.pi - 1)
        elif abs(abs(4 * rolloff * x) - 1) < 1e-9:
            taps[i] = rolloff / np.sqrt(2) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * rolloff))
                                             + (1 - 2 / np.pi) * np.cos(np.pi / (4 * rolloff)))
        else:
            taps[i] = ((np.sin(np.pi * x * (1 - rolloff)) + 4 * rolloff * x * np.cos(np.pi * x * (1 + rolloff)))
                       / (np.pi * x * (1 - (4 * rolloff * x) ** 2)))
    return (taps / np.sqrt(np.sum(taps ** 2))).astype(np.float32)


@lru_cache(maxsize=None)
def _header_code() -> ldpc.LdpcCode:
    return ldpc.LdpcCode.from_alist(ldpc.find_alist(HEADER_CODE), "header")


# header bits are XORed with this fixed pseudo-random sequence before LDPC: zero fields (session,
# fingerprint) would otherwise send long runs of one BPSK symbol, which repeat like the preamble
HEADER_WHITENING = np.random.default_rng(0x5E4C0).integers(0, 2, HEADER_BITS).astype(np.uint8)


@lru_cache(maxsize=None)
def _header_parities() -> np.ndarray:
    """The header code's parity bits of each header bit alone (the others and the shortening
    zeros 0), packed: a header's parity bits are the XOR of its one bits' rows."""
    code = _header_code()
    units = np.eye(HEADER_BITS, code.k, dtype=np.uint8)
    return np.packbits(code.encode(units)[:, :code.m], axis=1)


def warm_up() -> None:
    """Builds the header code and its encoding tables now (a few hundred ms, once per process), so
    that the first burst does not wait for them."""
    _header_parities()


def encode_header(header: Header) -> np.ndarray:
    """Header -> HEADER_SYMBOLS BPSK symbols (whitened; the known shortening zeros are not sent):
    the codeword's parity bits, then the header's."""
    code = _header_code()
    bits = header.pack() ^ HEADER_WHITENING
    parity = np.bitwise_xor.reduce(_header_parities()[bits.astype(bool)], axis=0)
    word = np.concatenate([np.unpackbits(parity)[:code.m], bits])
    return constellation("bpsk").modulate(word[:HEADER_SYMBOLS])


def decode_header(symbols: np.ndarray, noise_var) -> Header:
    """Equalised header symbols -> Header; SemcomError when LDPC or CRC fail."""
    code = _header_code()
    llr = np.full(code.n, -KNOWN_LLR, np.float32)
    llr[:HEADER_SYMBOLS] = constellation("bpsk").llr(symbols, noise_var)
    bits, ok, _ = code.decode(llr[None], max_iter=30)
    if not ok[0]:
        raise SemcomError("burst header failed LDPC decoding")
    return Header.unpack(bits[0, code.m:code.m + HEADER_BITS] ^ HEADER_WHITENING)


@dataclass
class Demodulated:
    """What the receiver made of one burst's data symbols."""
    symbols: np.ndarray  # equalised, phase-corrected, unbiased (complex64)
    noise_var: np.ndarray  # per symbol
    snr_db: float  # estimated from the preamble
    cfo: float  # estimated carrier offset, cycles per sample
    start: float  # burst start in the window (samples, fractional)
    pilot_error: float  # pilots' squared error over the expected noise (``_pilot_error``; about 1 when good)
    channel: tuple = ()  # the estimates from the preamble alone, reusable for a longer window of this burst
    llr: np.ndarray | None = None  # the payload's bit LLRs where a sequence detector made them (``payload_channel``)
    clock: float = 0.0  # SC: how much faster our sample clock runs than the sender's (relative), as corrected; 0: not


def _delay_correlate(x: np.ndarray, period: int, span: int):
    """Delay-and-correlate over ``span`` samples: (sum r[k+P] r*[k], normalised |.|) per start."""
    prod = x[period:] * np.conj(x[:-period])
    power = np.abs(x) ** 2
    csum = np.concatenate([[0], np.cumsum(prod)])
    psum = np.concatenate([[0], np.cumsum(power)])
    n = len(prod) - span + 1
    if n <= 0:
        return np.zeros(0, complex), np.zeros(0)
    p = csum[span:span + n] - csum[:n]
    e1 = psum[span:span + n] - psum[:n]
    e2 = psum[period + span:period + span + n] - psum[period:period + n]
    return p, np.abs(p) / np.sqrt(e1 * e2 + 1e-30)


def track_phase(corr: np.ndarray, smooth: int = 5) -> np.ndarray:
    """Phase per pilot group from pilot correlations ``corr`` (complex, one per group, in order).

    The mean rotation between neighbouring groups (residual CFO) is taken out, the
    correlations are averaged over ``smooth`` neighbouring groups, and the rotation put back.
    """
    corr = np.asarray(corr, complex)
    step = np.angle(np.sum(corr[1:] * np.conj(corr[:-1]))) if len(corr) > 1 else 0.0
    ramp = step * np.arange(len(corr))
    flat = corr * np.exp(-1j * ramp)
    kernel = np.ones(min(smooth, len(corr)))
    avg = np.convolve(flat, kernel, mode="same")
    return np.unwrap(np.angle(avg)) + ramp


def _blend(pilot_error: float, n_training: int, n_pilots: int) -> float:
    """Noise-variance correction: the training estimate and the pilots' (``pilot_error`` times
    it) averaged by sample count. Pilots see what training cannot: phase tracking, drift."""
    return (n_training + n_pilots * pilot_error) / (n_training + n_pilots)


def pilot_phase(pilots: np.ndarray, reference: np.ndarray, noise, phase_at, smooth: int = 5):
    """``track_phase`` over groups of received ``pilots`` (one row per group, ``reference`` the
    pilots sent), then again without the pilots an impulse hit: those whose squared error is above
    ``OUTLIER_FACTOR`` times ``noise`` (their expected error; scalar or per column).
    ``phase_at(phase)``: the phase at each pilot, from the phase per group. Returns (phase per
    group, each pilot's squared error over ``noise``)."""
    corr = pilots * np.conj(reference)
    phase = track_phase(np.sum(corr, axis=1), smooth)
    errors = np.abs(pilots * _unit(-phase_at(phase)) - reference) ** 2 / noise
    hit = errors > OUTLIER_FACTOR
    if hit.any():
        phase = track_phase(np.sum(np.where(hit, 0, corr), axis=1), smooth)
        errors = np.abs(pilots * _unit(-phase_at(phase)) - reference) ** 2 / noise
    return phase, errors


def _pilot_error(errors: np.ndarray, reach) -> float:
    """Mean of the pilots' squared ``errors`` over their expected value, each at most
    ``OUTLIER_FACTOR``; a pilot above it but below ``reach`` (a quarter of its power over the
    expected error: an impulse hit it, yet it is there) counts as an average one. Impulses spoil
    a few pilots and add little; a burst cut short or overlapped loses many, each at the cap."""
    lost = np.where(errors < reach, 1.0, OUTLIER_FACTOR)
    return float(np.mean(np.where(errors > OUTLIER_FACTOR, lost, errors)))


def _parabolic(y_m1: float, y0: float, y_p1: float) -> float:
    den = y_m1 - 2 * y0 + y_p1
    return 0.0 if den >= 0 else float(np.clip(0.5 * (y_m1 - y_p1) / den, -0.5, 0.5))


PREAMBLE_SPS, ROLLOFF, RRC_SPAN = 2, 0.35, 11


@lru_cache(maxsize=None)
def _rrc() -> np.ndarray:
    return rrc_taps(PREAMBLE_SPS, ROLLOFF, RRC_SPAN)


def shape(symbols: np.ndarray) -> np.ndarray:
    """Symbols -> RRC pulse train at PREAMBLE_SPS samples per symbol (full convolution)."""
    up = np.zeros(len(symbols) * PREAMBLE_SPS, np.complex64)
    up[::PREAMBLE_SPS] = symbols
    return np.convolve(up, _rrc()).astype(np.complex64)


PREAMBLE_SIGNS = np.array([1, 1, 1, -1])  # the sign flip marks the end: timing is unambiguous


def preamble_symbols() -> np.ndarray:
    return (np.tile(zadoff_chu(), ZC_REPEATS) * np.repeat(PREAMBLE_SIGNS, ZC_LEN)).astype(np.complex64)


@lru_cache(maxsize=None)
def zc_preamble() -> np.ndarray:
    """The synchronisation preamble both waveforms share: ZC-32 x (+1, +1, +1, -1), RRC-shaped,
    2 samples/symbol."""
    return shape(preamble_symbols())[:ZC_REPEATS * ZC_LEN * PREAMBLE_SPS]


class Waveform:
    """Shared transmit/receive logic; subclasses define the data-symbol mapping."""

    name = ""
    sps = PREAMBLE_SPS  # samples per preamble symbol
    guard = 64  # zero samples before and after each burst

    def __init__(self):
        self.zc = zadoff_chu()
        self.period = ZC_LEN * self.sps  # preamble repetition, samples

    # -- transmit ------------------------------------------------------------
    def preamble(self) -> np.ndarray:
        """Preamble samples as sent (what ``corr_est_cc`` looks for: one period of it)."""
        raise NotImplementedError

    def modulate(self, header: Header, payload: np.ndarray) -> np.ndarray:
        """Header + payload symbols -> burst samples (complex64, with guards)."""
        data = np.concatenate([encode_header(header), np.asarray(payload, np.complex64)])
        body = self._modulate_data(data)
        return np.concatenate([np.zeros(self.guard, np.complex64), self.preamble(), body,
                               np.zeros(self.guard, np.complex64)]).astype(np.complex64)

    def _modulate_data(self, data: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def burst_samples(self, data_symbols: int) -> int:
        """Samples of a burst with ``data_symbols`` data symbols (header included), guards included."""
        raise NotImplementedError

    # -- receive -------------------------------------------------------------
    def acquire(self, x: np.ndarray):
        """Finds the preamble in window ``x``: (start sample (fractional), CFO cycles/sample, quality).

        Returns None when no preamble of sufficient quality is there.
        """
        span = (ZC_REPEATS - 2) * self.period  # the three equal periods
        p, quality = _delay_correlate(x, self.period, span)
        if not len(quality):
            return None
        d0 = int(np.argmax(quality))
        if quality[d0] < MIN_PREAMBLE_QUALITY:
            return None
        # timing: correlation with the whole preamble (sign flip included) after removing the CFO,
        # searched around the repetition peak; then the CFO from the repetitions at that start
        cfo0 = float(np.angle(p[d0]) / (2 * np.pi * self.period))
        template = zc_preamble()
        lo = max(0, d0 - self.period)
        hi = min(len(x) - len(template), d0 + self.period, len(p) - 1)
        if hi <= lo:
            return None
        seg = x[lo:hi + len(template)] * np.exp(-2j * np.pi * cfo0 * np.arange(lo, hi + len(template)))
        metric = np.abs(np.correlate(seg, template, "valid"))
        k = int(np.argmax(metric))
        energy = float(np.sum(np.abs(seg[k:k + len(template)]) ** 2) * np.sum(np.abs(template) ** 2))
        if metric[k] < MIN_TEMPLATE_CORRELATION * np.sqrt(energy + 1e-30):
            return None  # noise: spares the header decoder
        frac = _parabolic(metric[k - 1], metric[k], metric[k + 1]) if 0 < k < len(metric) - 1 else 0.0
        start = lo + k
        return start + frac, self._refine_cfo(x, start, cfo0, template), float(quality[start])

    def _refine_cfo(self, x, start, cfo0, template, pieces=8):
        """Data-aided CFO: phase steps between correlations of preamble pieces with the known
        template (coherent, so much less noisy than the repetition estimate at low SNR)."""
        size = len(template) // pieces
        n = np.arange(start, start + pieces * size)
        seg = (x[start:start + pieces * size] * np.exp(-2j * np.pi * cfo0 * n)).reshape(pieces, size)
        corr = np.sum(seg * np.conj(template[:pieces * size].reshape(pieces, size)), axis=1)
        return cfo0 + float(np.angle(np.sum(corr[1:] * np.conj(corr[:-1]))) / (2 * np.pi * size))

    def demodulate(self, x: np.ndarray, count: int, sync=None, channel=()) -> Demodulated:
        """The first ``count`` data symbols of the burst whose preamble starts near window ``x``'s
        beginning. ``sync`` is a previous ``acquire`` result (else it is computed); ``channel`` the
        ``Demodulated.channel`` of an earlier call on a window of the same burst with the same start
        and ``sync`` (the header's), so the channel is not fitted twice, or ``payload_channel``'s.
        SemcomError when there is no usable preamble or too few samples."""
        sync = sync or self.acquire(x)
        if sync is None:
            raise SemcomError("no preamble found")
        return self._demodulate(x, count, *sync[:2], channel)

    def _demodulate(self, x, count, start, cfo, channel) -> Demodulated:
        raise NotImplementedError

    def payload_channel(self, x: np.ndarray, sync, header: Header, demod: Demodulated,
                        sequence: bool = True) -> tuple:
        """The ``channel`` to demodulate the payload of the burst whose header ``demod`` (of window
        ``x``, ``sync``) decoded to ``header``: the header's own by default. ``sequence``: a
        sequence detector may make the payload's LLRs (``Demodulated.llr``)."""
        return demod.channel


def derotate(x: np.ndarray, cfo: float, first: int = 0, block: int = 128) -> np.ndarray:
    """x * exp(-2j pi cfo n), n counted from ``first``, in complex64: the rotation is the outer
    product of a coarse (every ``block`` samples) and a fine (within a block) one, each computed
    in float64."""
    n = len(x)
    fine = np.exp((-2j * np.pi * cfo) * np.arange(block)).astype(np.complex64)
    coarse = np.exp((-2j * np.pi * cfo) * (first + block * np.arange(-(-n // block)))).astype(np.complex64)
    return np.asarray(x, np.complex64) * (coarse[:, None] * fine).ravel()[:n]


PILOT_GROUP, PILOT_SPACING = 4, 60  # SC: 4 pilots before every 60 data symbols, and at the end
PILOT_SMOOTH = 9  # SC: pilot groups averaged per phase estimate (the residual CFO taken out first)
PHASE_BLOCK = 16  # SC: known symbols per phase estimate when the channel is fitted over the header
NOISE_LOADING = 1e-3  # white noise added to the equaliser's model: the RC-shaped noise has none beyond the band
TRELLIS_MEMORY = 1  # SC: earlier symbols in the target response of the sequence detector
TARGET_SCALE = 0.5  # SC: the detector's target response: the MMSE-DFE's, its later lags times this
SEQUENCE_MODULATIONS = ("16qam",)  # SC: payload modulations a sequence detector may demodulate
MIN_TRELLIS_ISI = 0.01  # SC: ... the target response's energy after lag 0 (lag 0 is 1) that calls for it
MIN_CLOCK_DRIFT = 0.02  # SC: samples the estimated clock offset moves a burst's end by, below which it is not corrected
CLOCK_TRACKED_FROM = 4  # SC: constellations with more points than this have their clock offset tracked
CLOCK_ERRORS = 1.5  # SC: ... nor when it is within this many of its standard errors of 0
MAX_CLOCK_SHRINK = 0.75  # SC: ... the share of a clock offset its measure may miss (the secant's bound)
RESAMPLE_POINTS = 8  # SC: samples the resampling to the sender's clock interpolates from
RESAMPLE_PHASES = 1024  # SC: ... and the steps of a sample its instants are rounded to
DIFFERENTIATOR_REACH = 10  # SC: samples each side of the timing-error detector's differentiator


class SingleCarrier(Waveform):
    """RRC single carrier, 2 samples per symbol, fractionally spaced MMSE equaliser, pilot phase tracking."""

    name = "sc"
    channel_span = (-3, 4)  # sample-spaced channel taps fitted behind the matched filter, first and last lag
    equaliser_taps = 6  # symbols each side; the equaliser reads the matched filter's every sample

    def __init__(self):
        super().__init__()
        self.rrc = _rrc()
        self.pre_symbols = preamble_symbols()
        self.pilots = constellation("qpsk").points[np.arange(PILOT_GROUP) % 4].astype(np.complex64)
        # the matched filter's output pulse (raised cosine) is also its noise correlation
        self.rc = np.convolve(self.rrc, self.rrc).astype(np.float64)
        self.rc_centre = len(self.rrc) - 1
        self.pulse_zero = self.rc_centre - self.channel_span[0]  # where ``_pulse`` has lag 0
        # the preamble's channel fit is one least-squares problem: solved once here
        self.fit_rows, self.fit_matrix = self._fit_problem(self.pre_symbols)
        self.fit_pinv = np.linalg.pinv(self.fit_matrix)

    def preamble(self) -> np.ndarray:
        return zc_preamble()

    @staticmethod
    @lru_cache(maxsize=64)
    def _layout(count: int) -> tuple[np.ndarray, np.ndarray]:
        """(positions of data symbols, positions of pilot symbols) in the symbol stream after the
        preamble (cached: read-only)."""
        groups = -(-count // PILOT_SPACING) + 1
        block = PILOT_GROUP + PILOT_SPACING
        pilot_pos = (np.arange(groups)[:, None] * block + np.arange(PILOT_GROUP)).ravel()
        data_pos = (np.arange(groups - 1)[:, None] * block + PILOT_GROUP + np.arange(PILOT_SPACING)).ravel()[:count]
        data_pos.flags.writeable = pilot_pos.flags.writeable = False
        return data_pos, pilot_pos

    def _stream(self, data: np.ndarray) -> np.ndarray:
        data_pos, pilot_pos = self._layout(len(data))
        stream = np.zeros(pilot_pos[-1] + 1, np.complex64)
        stream[data_pos] = data
        stream[pilot_pos] = np.tile(self.pilots, len(pilot_pos) // PILOT_GROUP)
        return stream

    def _modulate_data(self, data: np.ndarray) -> np.ndarray:
        # the preamble and data are one symbol stream under one pulse train
        shaped = shape(np.concatenate([self.pre_symbols, self._stream(data)]))
        return shaped[len(self.pre_symbols) * self.sps:]

    def burst_samples(self, data_symbols: int) -> int:
        _, pilot_pos = self._layout(data_symbols)
        return 2 * self.guard + (len(self.pre_symbols) + pilot_pos[-1] + 1) * self.sps + len(self.rrc) - 1

    def _demodulate(self, x, count, start, cfo, channel) -> Demodulated:
        data_pos, pilot_pos = self._layout(count)
        n_sym = len(self.pre_symbols) + pilot_pos[-1] + 1
        e = self.equaliser_taps
        first = start + len(self.rrc) - 1  # matched-filter peak of preamble symbol 0
        need = int(np.floor(first)) + 2 + (n_sym + e) * self.sps
        if need > len(x) + len(self.rrc):
            raise SemcomError(f"burst needs {need} samples, window has {len(x)}")
        # every matched-filter sample from e symbols before preamble symbol 0 to e symbols after the last
        matched = lambda rate=0.0, anchor=0.0: self._matched_samples(x, first - e * self.sps, cfo,
                                                                     (n_sym + 2 * e) * self.sps, 1, rate, anchor)
        z = matched()
        if channel:
            c, noise, w, mu, fitted, points, *detector = channel
        else:
            detector, points = (), np.zeros(0, complex)  # the payload's points: not known yet
            c, noise = self._fit_channel(z[e * self.sps:])
            w, mu = self._mmse(c, noise)
            fitted = len(self.pre_symbols)
        taps = np.conj(w).astype(np.complex64) / np.float32(mu)
        nv = (1 - mu) / mu
        stream, phase, errors = self._equalise(z, taps, n_sym, count, nv)
        rate = 0.0
        # the header alone is too short to show a clock offset; BPSK and QPSK payloads are spared the cost
        if count > HEADER_SYMBOLS and len(points) > CLOCK_TRACKED_FROM:
            anchor = (e + fitted / 2) * self.sps  # the sample of z at the middle of the channel's fit
            measure = lambda z, stream, phase: self._clock_rate(z, taps, stream, phase, count, anchor, nv, points)
            seen, uncertainty = measure(z, stream, phase)
            if abs(seen) > max(MIN_CLOCK_DRIFT / (n_sym * self.sps), CLOCK_ERRORS * uncertainty):
                # the measure is consistent but shrunk: a secant step through a second one, after resampling
                z = matched(seen, anchor)
                left = measure(z, *self._equalise(z, taps, n_sym, count, nv)[:2])[0]
                rate = seen / (1 - np.clip(left / seen, 0.0, MAX_CLOCK_SHRINK))
                z = matched(rate, anchor)
                stream, phase, errors = self._equalise(z, taps, n_sym, count, nv)
        centres = pilot_pos.reshape(-1, PILOT_GROUP).mean(axis=1)
        data = stream[data_pos] * _unit(-np.interp(data_pos, centres, phase))
        error = _pilot_error(errors, 1 / (4 * nv))  # unit-power pilots
        blend = _blend(error, len(self.pre_symbols), len(pilot_pos))
        signal = float(np.sum(np.abs(self._pulse(c)[self.pulse_zero % self.sps::self.sps]) ** 2))
        llr = None
        if detector:
            llr = self._detect(z, n_sym, count, lambda pos: np.interp(pos, centres, phase), *detector)
        return Demodulated(data, np.full(count, nv * blend, np.float32), float(10 * np.log10(signal / noise)), cfo,
                           start, error, (c, noise, w, mu, fitted, points, *detector), llr, rate)

    def _equalise(self, z, taps, n_sym, count, nv):
        """The linear equaliser's output after the preamble (per symbol) from the matched-filter
        samples ``z``, the phase its pilots show per pilot group and their squared errors over the
        noise variance ``nv``."""
        _, pilot_pos = self._layout(count)
        stream = _weighted_sum(z, taps, n_sym, self.sps)[len(self.pre_symbols):]
        centres = pilot_pos.reshape(-1, PILOT_GROUP).mean(axis=1)
        phase, errors = pilot_phase(stream[pilot_pos].reshape(-1, PILOT_GROUP), self.pilots, nv,
                                    lambda p: np.interp(pilot_pos, centres, p).reshape(-1, PILOT_GROUP), PILOT_SMOOTH)
        return stream, phase, errors

    def _clock_rate(self, z, taps, stream, phase, count, anchor, nv, points) -> tuple[float, float]:
        """How much faster our sample clock runs than the sender's (relative: 1e-5 is 10 ppm) and the
        standard error of that: the slope of a line fitted in time to the symbols' timing errors,
        each symbol's error from its posterior mean (pilots known, the header BPSK, the payload's
        ``points`` if any; noise variance ``nv``; those off by over ``OUTLIER_FACTOR`` of it left
        out) along the derivative of the equaliser's output, over the information that direction
        carries. ``anchor``: the sample of ``z`` where the channel estimate holds."""
        data_pos, pilot_pos = self._layout(count)
        header = min(count, HEADER_SYMBOLS)
        sent_pilots = np.tile(self.pilots, len(pilot_pos) // PILOT_GROUP)[:, None]  # one known point each
        parts = [(pilot_pos, sent_pilots), (data_pos[:header], constellation("bpsk").points)]
        if len(points):
            parts.append((data_pos[header:], points))
        at = np.concatenate([positions for positions, _ in parts])
        centres = pilot_pos.reshape(-1, PILOT_GROUP).mean(axis=1)
        rotation = _unit(-np.interp(at, centres, phase))
        y = stream[at] * rotation
        symbol = len(self.pre_symbols) + at  # from preamble symbol 0
        # the derivative of each equalised symbol: the equaliser over the differentiated samples
        slope = np.convolve(z, _differentiator(), "same")
        d = _weighted_sum(slope, taps, symbol.max() + 1, self.sps)[symbol] * rotation
        score, weight, first = [], [], 0
        for positions, alphabet in parts:
            part = slice(first, first + len(positions))
            first = part.stop
            mean, (rr, ri, ii) = _posterior(y[part], alphabet, nv)
            error = y[part] - mean
            dr, di = d[part].real, d[part].imag
            kept = error.real ** 2 + error.imag ** 2 <= OUTLIER_FACTOR * nv  # not an impulse
            score.append(np.where(kept, -(dr * error.real + di * error.imag), 0))
            spread = (dr * dr * rr + 2 * dr * di * ri + di * di * ii) / (nv / 2)  # what the posterior follows
            weight.append(np.where(kept, dr * dr + di * di - spread, 0))
        score, weight = np.concatenate(score), np.concatenate(weight)
        t = symbol * self.sps + self.equaliser_taps * self.sps - anchor
        w0, w1, w2 = np.sum(weight), np.sum(weight * t), np.sum(weight * t * t)
        det = w0 * w2 - w1 * w1  # the weighted least-squares line's normal equations, solved in closed form
        if not (np.isfinite(det) and det > 0 and w0 > 0):
            return 0.0, np.inf
        return float((w0 * np.sum(score * t) - w1 * np.sum(score)) / det), float(np.sqrt(nv / 2 * w0 / det))

    def _detect(self, z, n_sym, count, phase_at, ff, response, rest, known, modulation) -> np.ndarray:
        """Bit LLRs of the payload's data symbols (those after the ``len(known)`` known ones) by
        sequence detection behind the shortening filter ``ff``, with the linear equaliser's
        phase; the residual variance corrected by the pilots whose predecessors are pilots too."""
        data_pos, pilot_pos = self._layout(count)
        shortened = _weighted_sum(z, np.conj(ff).astype(np.complex64), n_sym, self.sps)[len(self.pre_symbols):]
        first, memory = data_pos[len(known)], len(response) - 1
        y = shortened[first:] * _unit(-phase_at(np.arange(first, len(shortened))))
        stream = self._stream(np.concatenate([known, np.zeros(count - len(known), np.complex64)]))
        is_pilot = np.zeros(len(stream), bool)
        is_pilot[pilot_pos] = True
        const = constellation(modulation)
        points = np.where(is_pilot[first:, None], stream[first:, None], const.points[None, :])
        whole = is_pilot.copy()  # pilots whose expected value is known
        for lag in range(1, memory + 1):
            whole[lag:] &= is_pilot[:-lag]
        whole[:first] = False
        at = np.flatnonzero(whole)
        expected = sum(response[lag] * stream[at - lag] for lag in range(memory + 1))
        errors = np.abs(y[at - first] - expected) ** 2 / rest
        noise = rest * _blend(_pilot_error(errors, 1 / (4 * rest)), len(self.pre_symbols), len(at))
        llr = trellis.detect(y, response, noise, points, stream[first - memory:first], const.label_bits)
        return llr[~is_pilot[first:]][:count - len(known)].ravel()

    def payload_channel(self, x, sync, header, demod, sequence=True) -> tuple:
        """The channel fitted again over the preamble and the decoded header, whose symbols are
        known now, after removing the phase the header's equalised symbols show; the noise
        variance from the same fit. With ``sequence``, a 16-QAM payload whose channel leaves
        enough interference behind the shortening filter (``MIN_TRELLIS_ISI``) gets the sequence
        detector too."""
        start, cfo = sync[:2]
        data_pos, _ = self._layout(HEADER_SYMBOLS)  # the payload's symbols follow the header's last one
        known = np.concatenate([self.pre_symbols, self._stream(encode_header(header))[:data_pos[-1] + 1]])
        e, sps, n = self.equaliser_taps, self.sps, len(known)
        z = self._matched_samples(x, start + len(self.rrc) - 1 - e * sps, cfo, (n + 2 * e) * sps, 1)
        w, mu = demod.channel[2:4]
        eq = _weighted_sum(z, np.conj(w).astype(np.complex64) / np.float32(mu), n, sps)
        blocks = n // PHASE_BLOCK
        corr = np.sum((eq * np.conj(known))[:blocks * PHASE_BLOCK].reshape(blocks, PHASE_BLOCK), axis=1)
        centres = (np.arange(blocks) + 0.5) * PHASE_BLOCK
        phase = np.interp(np.arange(n * sps) / sps, centres, track_phase(corr))
        z = z[e * sps:(n + e) * sps] * _unit(-phase)
        rows, fit = self._fit_problem(known)
        c, noise = _fit_without_impulses(z[rows], fit, _least_squares(fit, z[rows]))
        linear = (c, noise, *self._mmse(c, noise), n, constellation(header.link.modulation).points)
        if not sequence or header.link.modulation not in SEQUENCE_MODULATIONS:
            return linear
        ff, response, rest = self._shortening(c, noise)
        if np.sum(np.abs(response[1:]) ** 2) < MIN_TRELLIS_ISI:
            return linear
        return (*linear, ff, response, rest, encode_header(header), header.link.modulation)

    def _fit_problem(self, known: np.ndarray):
        """The channel fit over the known symbols ``known`` (from preamble symbol 0 on): the
        matched-filter samples it uses (2 per symbol, 0 at symbol 0; those the unknown symbols
        after ``known`` barely reach) and its matrix: sample k = sum over lags m of c[m] times the
        raised-cosine pulse train of ``known`` at k - m."""
        sps, (lo, hi) = self.sps, self.channel_span
        up = np.zeros(len(known) * sps, complex)
        up[::sps] = known
        train = np.convolve(up, self.rc)
        rows = np.arange(sps * 3, sps * (len(known) - 4))
        # column j (lag lo + j) is the pulse train at k - lo - j: windows of it, reversed (a view, no copy)
        windows = np.lib.stride_tricks.sliding_window_view(train, hi - lo + 1)
        return rows, windows[rows[0] + self.rc_centre - hi:rows[-1] + 1 + self.rc_centre - hi, ::-1]

    def _matched_samples(self, x: np.ndarray, first: float, cfo: float, count: int, step: int,
                         rate: float = 0.0, anchor: float = 0.0) -> np.ndarray:
        """The derotated, matched-filtered ``x`` at ``first``, ``first + step``, ... (``count``
        outputs; cubic Lagrange interpolation for the fractional delay; zeros beyond ``x``). The
        filter and the interpolator are one filter, computed at those instants only. ``rate``: our
        sample clock runs that much faster than the sender's (relative); ``x`` is resampled to the
        sender's clock first, output ``anchor`` (counted in steps from ``first``) staying where it is."""
        i0 = int(np.floor(first))
        taps = np.convolve(_lagrange(first - i0)[::-1], self.rrc).astype(np.float32)
        # output m is sum_u taps[u] x[i0 + 2 + step m - u]: the samples from lo on, zero outside x
        lo = i0 + 2 - (len(taps) - 1)
        span = len(taps) - 1 + step * (count - 1) + 1
        margin = RESAMPLE_POINTS // 2 + int(abs(rate) * (2 * span + abs(anchor) * step))  # the resampling's reach
        seg = np.zeros(span + 2 * margin, np.complex64)
        a, b = max(lo - margin, 0), min(lo + span + margin, len(x))
        if b > a:
            seg[a - lo + margin:b - lo + margin] = derotate(x[a:b], cfo, a)
        if rate:
            seg = _resample(seg, margin + rate * (np.arange(span) + lo - first - anchor * step))
        else:
            seg = seg[margin:margin + span]
        return _weighted_sum(seg, taps[::-1], count, step)

    def _fit_channel(self, z: np.ndarray):
        """Least-squares sample-spaced channel behind the matched filter, over the preamble
        (``z``: matched-filter samples from preamble symbol 0 on): (taps, noise variance)."""
        return _fit_without_impulses(z[self.fit_rows], self.fit_matrix, self.fit_pinv @ z[self.fit_rows])

    def _pulse(self, c: np.ndarray) -> np.ndarray:
        """The matched filter's output for one symbol through channel ``c``, per sample; lag 0 (the
        symbol's instant) at index ``pulse_zero``."""
        return np.convolve(self.rc, c)

    def _mmse(self, c: np.ndarray, noise: float):
        """Fractionally spaced MMSE equaliser taps (for the matched filter's samples from E symbols
        before a symbol's instant to E after) and its bias mu (unbiased noise var (1-mu)/mu)."""
        h, cov, reach = self._equaliser_model(c, noise)
        target = h[:, reach]
        w = _solve(cov, target)
        mu = float(np.real(np.vdot(w, target)))
        return w, min(max(mu, 1e-3), 1 - 1e-6)

    def _equaliser_model(self, c: np.ndarray, noise: float):
        """What the equaliser's samples (E symbols before a symbol's instant to E after) hear:
        (h, their covariance, reach): column ``reach + j`` of h is the response to the symbol j
        after the equalised one. The noise behind the matched filter is correlated like its
        raised-cosine pulse."""
        e, sps = self.equaliser_taps, self.sps
        pulse = self._pulse(c)
        zero = self.pulse_zero
        offsets = np.arange(-e * sps, e * sps + 1)  # the samples read, relative to the symbol's instant
        reach = (max(zero, len(pulse) - 1 - zero) + e * sps) // sps + 1
        symbols = np.arange(-reach, reach + 1)  # the symbols those samples hear
        lag = offsets[:, None] - sps * symbols[None, :] + zero
        h = np.where((lag >= 0) & (lag < len(pulse)), pulse[np.clip(lag, 0, len(pulse) - 1)], 0)
        gap = np.abs(offsets[:, None] - offsets[None, :]) + self.rc_centre
        corr = np.where(gap < len(self.rc), self.rc[np.minimum(gap, len(self.rc) - 1)], 0.0)
        return h, h @ h.conj().T + noise * (corr + NOISE_LOADING * np.eye(len(offsets))), reach

    def _shortening(self, c: np.ndarray, noise: float, memory: int = TRELLIS_MEMORY, scale: float = TARGET_SCALE):
        """The feedforward filter that shapes the channel into a causal response of ``memory + 1``
        symbols: (its taps, that response scaled to 1 at lag 0, the variance of everything else
        at its output, noise and residual interference, on the same scale). The target is the
        MMSE-DFE's (t minimising the error t^H Q t with t[0] = 1, Q the error covariance of the
        symbols' joint MMSE estimate) with its later lags times ``scale``."""
        h, cov, reach = self._equaliser_model(c, noise)
        cols = reach - np.arange(memory + 1)  # the symbol itself, then the earlier ones
        heard = h[:, cols]
        solved = np.stack([_solve(cov, heard[:, j]) for j in range(memory + 1)], axis=1)
        q = np.eye(memory + 1) - heard.conj().T @ solved
        t = np.linalg.solve(q, np.eye(memory + 1)[:, 0])
        w = solved @ np.r_[1.0, scale * t[1:] / t[0]]
        response = heard.T @ w.conj()  # w^H h per lag
        rest = float(np.real(np.vdot(w, cov @ w))) - float(np.sum(np.abs(response) ** 2))
        g0 = response[0]
        return w / np.conj(g0), response / g0, max(rest, 1e-12) / abs(g0) ** 2


def _lagrange(mu, points: int = 4):
    """Lagrange interpolation weights of the samples at 1 - points / 2, ..., points / 2 for the value at
    ``mu`` (a scalar: shape (points,); an array: one row each)."""
    mu = np.asarray(mu, np.float64)[..., None]
    at = np.arange(1 - points // 2, points // 2 + 1)
    weights = []
    for k in at:
        others = at[at != k]
        weights.append(np.prod(mu - others, axis=-1) / np.prod(k - others))
    return np.stack(weights, axis=-1)


def _resample(x: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """x at the instants u + shift[u], u = 0, 1, ... (Lagrange, ``RESAMPLE_POINTS`` samples, the
    fraction rounded to ``RESAMPLE_PHASES`` steps), complex64; ``shift`` keeps them
    ``RESAMPLE_POINTS`` / 2 samples inside x."""
    at = np.arange(len(shift)) + shift
    i = np.floor(at).astype(np.int64)
    rows = np.take(x, i[:, None] + np.arange(1 - RESAMPLE_POINTS // 2, RESAMPLE_POINTS // 2 + 1)[None, :], mode="clip")
    weights = _resample_weights()[np.rint((at - i) * RESAMPLE_PHASES).astype(np.int64)]
    return np.einsum("ij,ij->i", rows, weights).astype(np.complex64)


@lru_cache(maxsize=None)
def _resample_weights() -> np.ndarray:
    """``_resample``'s Lagrange weights at fractions 0, 1 / RESAMPLE_PHASES, ..., 1 (float32, read-only)."""
    table = _lagrange(np.arange(RESAMPLE_PHASES + 1) / RESAMPLE_PHASES, RESAMPLE_POINTS).astype(np.float32)
    table.flags.writeable = False
    return table


@lru_cache(maxsize=None)
def _differentiator() -> np.ndarray:
    """FIR taps of d/dt for band-limited samples (the ideal (-1)^n / n, Blackman-windowed, centre tap 0)."""
    n = np.arange(-DIFFERENTIATOR_REACH, DIFFERENTIATOR_REACH + 1)
    ideal = np.where(n == 0, 0.0, (-1.0) ** n / np.where(n == 0, 1, n))
    return (ideal * np.blackman(len(n) + 2)[1:-1]).astype(np.complex64)


def _posterior(y: np.ndarray, points: np.ndarray, nv: float):
    """Each symbol's posterior mean given ``y`` (equally likely ``points``: one row per symbol, or
    one row for all; complex Gaussian noise of variance ``nv``) and the covariance of its real and
    imaginary parts (rr, ri, ii)."""
    y, points = np.asarray(y, np.complex64), np.asarray(points, np.complex64)
    gap = y[:, None] - points
    metric = (gap.real ** 2 + gap.imag ** 2) * np.float32(-1 / nv)
    p = np.exp(metric - metric.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    moment = lambda v: np.sum(p * v, axis=1)
    mean = moment(points.real) + 1j * moment(points.imag)
    return mean, (moment(points.real ** 2) - mean.real ** 2, moment(points.real * points.imag) - mean.real * mean.imag,
                  moment(points.imag ** 2) - mean.imag ** 2)


def _least_squares(fit: np.ndarray, y: np.ndarray) -> np.ndarray:
    """c minimising |y - fit @ c|, by the normal equations column by column: numpy's matmul hands
    them to OpenBLAS threads (see _solve)."""
    n = fit.shape[1]
    gram = np.empty((n, n), complex)
    for i in range(n):
        for j in range(i, n):
            gram[i, j] = np.vdot(fit[:, i], fit[:, j])
            gram[j, i] = np.conj(gram[i, j])
    return _solve(gram, np.array([np.vdot(fit[:, i], y) for i in range(n)]))


def _apply(fit: np.ndarray, c: np.ndarray) -> np.ndarray:
    """fit @ c, column by column: ``fit`` is often a reversed sliding-window view, whose columns are
    contiguous but which matmul would walk element by element."""
    out = fit[:, 0] * c[0]
    for j in range(1, fit.shape[1]):
        out += fit[:, j] * c[j]
    return out


def _fit_without_impulses(y: np.ndarray, fit: np.ndarray, c: np.ndarray):
    """The least-squares fit ``fit @ c`` of ``y`` made again without the samples an impulse hit
    (residual power above ``OUTLIER_FACTOR`` times the median-based noise level): (c, noise variance)."""
    power = np.abs(y - _apply(fit, c)) ** 2
    kept = power <= OUTLIER_FACTOR * np.median(power) / np.log(2)  # median / ln 2: the mean, for noise
    if not kept.all() and np.count_nonzero(kept) > 2 * len(c):
        y, fit = y[kept], fit[kept]
        c = _least_squares(fit, y)
        power = np.abs(y - _apply(fit, c)) ** 2
    return c, _residual_noise(power, len(c))


def _residual_noise(power: np.ndarray, unknowns: int) -> float:
    """Noise variance left by a least-squares fit of ``unknowns`` values whose residual powers are
    ``power`` (at least 1e-6)."""
    return max(float(np.sum(power) / max(1, len(power) - unknowns)), 1e-6)


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with a x = b for a small Hermitian positive-definite ``a``: Cholesky, then the two
    triangular solves row by row. numpy's general solver hands tiny systems to OpenBLAS threads,
    which costs milliseconds on a busy machine (its Cholesky does not)."""
    low = np.linalg.cholesky(a)
    n = len(b)
    y = np.zeros(n, complex)
    for i in range(n):
        y[i] = (b[i] - low[i, :i] @ y[:i]) / low[i, i]
    up = low.conj().T
    x = np.zeros(n, complex)
    for i in range(n - 1, -1, -1):
        x[i] = (y[i] - up[i, i + 1:] @ x[i + 1:]) / up[i, i]
    return x


def _weighted_sum(x: np.ndarray, coeffs: np.ndarray, count: int, step: int = 1) -> np.ndarray:
    """out[m] = sum_j coeffs[j] x[j + step m], m < count, in complex64: one vector pass per
    coefficient (a short filter, evaluated only where it is needed)."""
    out = np.zeros(count, np.complex64)
    stop = step * (count - 1) + 1
    for j, c in enumerate(coeffs):
        out += c * x[j:j + stop:step]
    return out


def _unit(phase: np.ndarray) -> np.ndarray:
    """exp(1j phase) in complex64."""
    phase = np.asarray(phase, np.float32)
    out = np.empty(phase.shape, np.complex64)
    out.real, out.imag = np.cos(phase), np.sin(phase)
    return out


class Ofdm(Waveform):
    """64-subcarrier OFDM, CP 16, LTF channel estimate, pilot common-phase tracking."""

    name = "ofdm"
    fft, cp = 64, 16
    pilot_carriers = np.array([-21, -7, 7, 21])
    pilot_values = np.array([1, 1, 1, -1], np.complex64)
    backoff = 4  # samples of cyclic prefix the FFT window starts early (timing margin)

    def __init__(self):
        super().__init__()
        used = np.r_[-26:0, 1:27]
        self.data_carriers = np.array([c for c in used if c not in self.pilot_carriers])
        rng = np.random.default_rng(7)
        # two different training symbols: nothing after the ZC repeats with its period
        self.ltf = np.zeros((2, self.fft), np.complex64)
        self.ltf[:, used % self.fft] = rng.choice([-1.0, 1.0], (2, len(used)))
        ltf = self._time(self.ltf)
        with_cp = np.concatenate([ltf[:, -self.cp:], ltf], axis=1).ravel()  # two ordinary OFDM symbols
        self._preamble = np.concatenate([zc_preamble(), with_cp]).astype(np.complex64)
        self.used = np.r_[self.data_carriers, self.pilot_carriers] % self.fft
        # least-squares fit of an impulse response of at most cp - backoff taps, as one projection
        # of the subcarriers' estimates (solved once here: LAPACK per burst costs ms on a busy machine)
        basis = np.exp(-2j * np.pi * np.outer(np.where(self.used >= self.fft // 2, self.used - self.fft, self.used),
                                              np.arange(self.cp - self.backoff)) / self.fft)
        self.impulse_fit = basis @ np.linalg.pinv(basis)

    def _time(self, freq: np.ndarray) -> np.ndarray:
        return (np.fft.ifft(freq, axis=-1) * np.sqrt(self.fft)).astype(np.complex64)

    def _freq(self, time: np.ndarray) -> np.ndarray:
        return np.fft.fft(time, axis=-1) / np.sqrt(self.fft)

    def preamble(self) -> np.ndarray:
        return self._preamble

    def _symbols(self, count: int) -> int:
        return -(-count // len(self.data_carriers))

    def _modulate_data(self, data: np.ndarray) -> np.ndarray:
        n_sym = self._symbols(len(data))
        freq = np.zeros((n_sym, self.fft), np.complex64)
        fill = np.zeros(n_sym * len(self.data_carriers), np.complex64)
        fill[:len(data)] = data
        freq[:, self.data_carriers % self.fft] = fill.reshape(n_sym, -1)
        freq[:, self.pilot_carriers % self.fft] = self.pilot_values
        time = self._time(freq)
        return np.concatenate([time[:, -self.cp:], time], axis=1).ravel()

    def burst_samples(self, data_symbols: int) -> int:
        return 2 * self.guard + len(self.preamble()) + self._symbols(data_symbols) * (self.fft + self.cp)

    def _demodulate(self, x, count, start, cfo, channel) -> Demodulated:
        d = int(round(start)) - self.backoff
        sym = self.fft + self.cp
        ltf_at = d + ZC_REPEATS * self.period
        n_sym = self._symbols(count)
        data_at = ltf_at + 2 * sym
        need = data_at + n_sym * (self.fft + self.cp)
        if d < 0 or need > len(x):
            raise SemcomError(f"burst needs {need} samples, window has {len(x)}")
        used = self.used
        fine, noise, h = channel or self._estimate(derotate(x[ltf_at:data_at], cfo, ltf_at))
        cfo += fine
        blocks = derotate(x[data_at:need], cfo, data_at, sym).reshape(n_sym, sym)[:, self.cp:]
        y = self._freq(blocks)[:, used] / h
        nd = len(self.data_carriers)
        cpe, errors = pilot_phase(y[:, nd:], self.pilot_values, noise / np.abs(h[nd:]) ** 2, lambda p: p[:, None])
        data = (y[:, :nd] * np.exp(-1j * cpe)[:, None]).ravel()[:count]
        # an impulse spreads over all subcarriers of one OFDM symbol: a symbol whose pilots are off by
        # more than OUTLIER_FACTOR noise variances but less than a quarter of their power has the
        # noise its pilots show; one they show lost counts against the burst
        shown = errors.mean(axis=1)
        reach = np.mean(np.abs(h[nd:]) ** 2) / (4 * noise)
        symbol_noise = np.where((shown > OUTLIER_FACTOR) & (shown < reach), shown, 1.0)
        nv = (symbol_noise[:, None] * (noise / np.abs(h[:nd]) ** 2)).ravel()[:count]
        error = _pilot_error(errors / symbol_noise[:, None], reach)
        scale = _blend(error, len(used), n_sym * len(self.pilot_carriers))
        snr = float(10 * np.log10(np.mean(np.abs(h) ** 2) / (noise * scale)))
        return Demodulated(data.astype(np.complex64), (nv * scale).astype(np.float32), snr, cfo, start, error,
                           (fine, noise, h))

    def _estimate(self, ltf: np.ndarray):
        """From the two CFO-corrected training symbols ``ltf`` (with their cyclic prefixes): (fine CFO,
        noise variance, H on ``used``)."""
        sym, used = self.fft + self.cp, self.used
        y = self._freq(ltf.reshape(2, sym)[:, self.cp:])[:, used] / self.ltf[:, used]
        # fine CFO: the channel estimates of the two training symbols rotate by 2 pi cfo fft
        fine = float(np.angle(np.vdot(y[0], y[1])) / (2 * np.pi * sym))
        y[1] *= np.exp(-2j * np.pi * fine * sym)
        noise = max(float(np.mean(np.abs(y[0] - y[1]) ** 2) / 2), 1e-6)
        # least-squares impulse response of at most cp taps: averages the noise over subcarriers
        return fine, noise, self.impulse_fit @ y.mean(axis=0)


WAVEFORMS = {"sc": SingleCarrier, "ofdm": Ofdm}


@lru_cache(maxsize=None)
def waveform(name: str) -> Waveform:
    if name not in WAVEFORMS:
        raise SemcomError(f"unknown waveform '{name}'; choose one of {', '.join(WAVEFORMS)}")
    return WAVEFORMS[name]()
