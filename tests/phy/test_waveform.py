"""Burst waveforms and the burst receiver in numpy, without a flowgraph: synchronisation under
CFO, fractional timing and multipath, BER against closed forms, noise-variance estimates,
lost and truncated bursts, and silence on noise."""
import numpy as np
import pytest
from plain import module

waveform = module("phy.waveform")
burst = module("phy.burst")
burst = module("phy.burst")
theory = module("phy.theory")
constellations = module("phy.constellations")
errors = module("errors")

WAVES = ["sc", "ofdm"]
HEADER = burst.Header(0x1234, 512, 768, 9, 2, 6, 1, 0, 49152)
MULTIPATH = (1.0, 0.4j, 0.2)


def channel(s, snr_db, rng, cfo=0.0, delay=0.0, taps=(1.0,), lead=300, clock_ppm=0.0):
    """Windowed-sinc fractional delay, multipath, CFO (cycles/sample), AWGN (Es/N0 per symbol).
    ``clock_ppm``: the receiver's sample clock is that much slower (sample k is sent sample
    k (1 + ppm 1e-6) - delay, as through ``air_channel``)."""
    n = np.arange(-16, 17)
    lag = delay - clock_ppm * 1e-6 * np.arange(len(s))
    whole = np.floor(lag).astype(int)
    reads = np.arange(len(s))[:, None] - whole[:, None] - n[None, :]
    inside = (reads >= 0) & (reads < len(s))
    kernel = np.sinc(n[None, :] - (lag - whole)[:, None]) * np.hamming(33)
    s = np.sum(np.where(inside, np.asarray(s)[np.clip(reads, 0, len(s) - 1)], 0) * kernel, axis=1)
    taps = np.asarray(taps, complex) / np.linalg.norm(taps)
    s = np.convolve(s, taps)[:len(s)]
    s = np.concatenate([np.zeros(lead), s, np.zeros(lead)])
    s = s * np.exp(2j * np.pi * cfo * np.arange(len(s)))
    nv = 10 ** (-snr_db / 10)
    return (s + np.sqrt(nv / 2) * (rng.standard_normal(len(s)) + 1j * rng.standard_normal(len(s)))).astype(np.complex64)


def send_one(name, snr_db, rng, bits=8192, **impairments):
    wave = waveform.waveform(name)
    q = constellations.constellation("qpsk")
    payload = rng.integers(0, 2, bits).astype(np.uint8)
    s = wave.modulate(HEADER, q.modulate(payload))
    r = channel(s, snr_db, rng, **impairments)
    count = waveform.HEADER_SYMBOLS + bits // 2
    d = wave.demodulate(r, count)
    return wave, payload, d


def test_rrc_pulse_is_unit_energy_nyquist():
    taps = waveform.rrc_taps(2, 0.35, 11)
    assert np.sum(taps ** 2) == pytest.approx(1.0, rel=1e-5)
    rc = np.convolve(taps, taps)  # raised cosine: 1 at the centre, ~0 at the other symbol instants
    centre = len(rc) // 2
    assert rc[centre] == pytest.approx(1.0, rel=1e-3)
    others = np.delete(rc[centre % 2::2], centre // 2)
    assert np.max(np.abs(others)) < 0.02


def test_header_round_trip_and_rejection():
    rng = np.random.default_rng(0)
    sym = waveform.encode_header(HEADER)
    assert sym.size == waveform.HEADER_SYMBOLS
    assert waveform.decode_header(sym, 0.1) == HEADER
    ok = 0
    for _ in range(40):  # BPSK at Es/N0 -3 dB: the shortened LDPC(1100,442) header still decodes
        noisy = sym + np.sqrt(1.0) * (rng.standard_normal(sym.size) + 1j * rng.standard_normal(sym.size))
        try:
            ok += waveform.decode_header(noisy, 2.0) == HEADER
        except errors.SemcomError:
            pass
    assert ok >= 38
    with pytest.raises(errors.SemcomError):
        waveform.decode_header(rng.standard_normal(sym.size) + 0j, 1.0)


@pytest.mark.parametrize("name", WAVES)
def test_burst_length_is_announced(name):
    wave = waveform.waveform(name)
    for n in (1, 59, 60, 61, 1000):
        assert len(wave.modulate(HEADER, np.ones(n, np.complex64))) == wave.burst_samples(waveform.HEADER_SYMBOLS + n)


@pytest.mark.parametrize("name", WAVES)
@pytest.mark.parametrize("snr_db", [3.0, 8.0])
def test_ber_close_to_theory_on_awgn(name, snr_db):
    """Estimated channel, CFO and noise: uncoded QPSK BER within 1 dB of the closed form."""
    rng = np.random.default_rng(int(snr_db))
    errs = total = 0
    est = []
    for _ in range(4):
        wave, payload, d = send_one(name, snr_db, rng, bits=16384, cfo=0.003, delay=0.3)
        hard = constellations.constellation("qpsk").hard_bits(d.symbols[waveform.HEADER_SYMBOLS:])
        errs += np.count_nonzero(hard != payload)
        total += payload.size
        est.append(d.snr_db)
    ber = errs / total
    assert theory.ber_awgn("qpsk", snr_db) <= ber * 1.25  # cannot beat the bound by more than the noise
    assert ber <= theory.ber_awgn("qpsk", snr_db - 1.0)
    assert np.mean(est) == pytest.approx(snr_db, abs=0.8)


@pytest.mark.parametrize("name", WAVES)
def test_header_channel_fit_serves_the_whole_burst(name):
    """The receiver fits the channel once, on the header's window, and reuses it for the burst:
    the same symbols and noise variances as fitting it again on the whole window."""
    rng = np.random.default_rng(11)
    wave = waveform.waveform(name)
    payload = rng.integers(0, 2, 4096).astype(np.uint8)
    r = channel(wave.modulate(HEADER, constellations.constellation("qpsk").modulate(payload)), 8.0, rng,
                cfo=0.004, delay=0.4, taps=MULTIPATH)
    sync = wave.acquire(r)
    head = wave.demodulate(r[:int(sync[0]) + wave.burst_samples(waveform.HEADER_SYMBOLS)], waveform.HEADER_SYMBOLS, sync)
    count = waveform.HEADER_SYMBOLS + payload.size // 2
    fresh, reused = wave.demodulate(r, count, sync), wave.demodulate(r, count, sync, head.channel)
    np.testing.assert_allclose(reused.symbols, fresh.symbols, atol=1e-5)
    np.testing.assert_allclose(reused.noise_var, fresh.noise_var, rtol=1e-5)
    hard = constellations.constellation("qpsk").hard_bits(reused.symbols[waveform.HEADER_SYMBOLS:])
    assert np.mean(hard != payload) < 0.05  # the burst itself (multipath costs a few dB), not noise


@pytest.mark.parametrize("name", WAVES)
def test_derotation_matches_an_exact_one_in_complex128(name):
    """The receiver derotates only what it reads (OFDM: the training symbols, then the data symbols),
    in complex64: the same burst, channel and symbols as a window derotated first, exactly in
    complex128, and demodulated with no offset left."""
    rng = np.random.default_rng(12)
    wave = waveform.waveform(name)
    payload = rng.integers(0, 2, 8192).astype(np.uint8)
    r = channel(wave.modulate(HEADER, constellations.constellation("qpsk").modulate(payload)), 12.0, rng,
                cfo=0.006, delay=0.3, taps=MULTIPATH)
    start, cfo, quality = wave.acquire(r)
    exact = (r * np.exp(-2j * np.pi * cfo * np.arange(len(r)))).astype(np.complex64)
    count = waveform.HEADER_SYMBOLS + payload.size // 2
    ours, reference = wave.demodulate(r, count, (start, cfo, quality)), wave.demodulate(exact, count, (start, 0.0, quality))
    np.testing.assert_allclose(ours.symbols, reference.symbols, atol=2e-4)
    np.testing.assert_allclose(ours.noise_var, reference.noise_var, rtol=1e-3)
    for a, b in zip(ours.channel, reference.channel):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("name", WAVES)
def test_noise_variance_matches_the_errors(name):
    """The per-symbol noise variance handed to the demapper is what the equalised symbols show."""
    rng = np.random.default_rng(5)
    wave, payload, d = send_one(name, 6.0, rng, bits=16384, cfo=0.004, delay=0.5, taps=MULTIPATH)
    sent = constellations.constellation("qpsk").modulate(payload)
    err = np.abs(d.symbols[waveform.HEADER_SYMBOLS:] - sent) ** 2
    ratio = np.mean(err) / np.mean(d.noise_var[waveform.HEADER_SYMBOLS:])
    assert 0.75 < ratio < 1.33
    assert d.pilot_error < 2.0


@pytest.mark.parametrize("name", WAVES)
def test_acceptance_impairments_at_10_db(name):
    """CFO 1% of the SC symbol rate, fractional timing, 3-tap multipath, 10 dB: header and payload."""
    rng = np.random.default_rng(1)
    wave, payload, d = send_one(name, 10.0, rng, cfo=0.005, delay=0.37, taps=MULTIPATH)
    assert waveform.decode_header(d.symbols[:waveform.HEADER_SYMBOLS], d.noise_var[:waveform.HEADER_SYMBOLS]) == HEADER
    assert d.cfo == pytest.approx(0.005, abs=3e-4)
    llr = constellations.constellation("qpsk").llr(d.symbols[waveform.HEADER_SYMBOLS:], d.noise_var[waveform.HEADER_SYMBOLS:])
    assert np.mean((llr > 0) != payload) < 0.03


def stream_of(name, frames, rng, snr_db=16.0, drop=(), cut=None, modulation="qpsk", fec="none", bits=20000):
    tx = burst.BurstTransmitter(modulation, fec, name, burst_symbols=2048)
    sent, pieces = [], [np.zeros(400, np.complex64)]
    index = 0
    for f in range(frames):
        payload = rng.integers(0, 2, bits).astype(np.uint8)
        sent.append(payload)
        for b in tx.bursts(payload, 0x0102, 64, 96, f):
            if index == cut:
                b = b[:len(b) // 2]
            if index not in drop:
                pieces.append(b)
            index += 1
    pieces.append(np.zeros(2000, np.complex64))
    return sent, channel(np.concatenate(pieces), snr_db, rng, cfo=0.002, delay=0.2, lead=0)


def receive(name, stream, every=150, chunk=5000, **kw):
    """Feeds the stream in chunks with a detection every ``every`` samples (a pessimistic detector)."""
    rx = burst.BurstReceiver(name, **kw)
    out = []
    for i in range(0, len(stream), chunk):
        piece = stream[i:i + chunk]
        out += rx.feed(piece, range(i, i + len(piece), every))
    return rx, out + rx.flush()


@pytest.mark.parametrize("name", WAVES)
def test_lost_burst_becomes_erasures(name):
    rng = np.random.default_rng(2)
    sent, stream = stream_of(name, 2, rng, drop={1})  # frame 0 loses its second burst
    rx, frames = receive(name, stream)
    assert [f.frame.frame for f in frames] == [0, 1]
    f0, f1 = frames[0].frame, frames[1].frame
    assert f0.bursts_lost == 1 and f1.bursts_lost == 0
    lengths = burst.segment_lengths(20000, f0.segments)
    erased = slice(lengths[0], lengths[0] + lengths[1])
    assert not f0.llrs[erased].any()
    keep = np.ones(20000, bool)
    keep[erased] = False
    assert np.array_equal(f0.llrs[keep] > 0, sent[0][keep].astype(bool))
    assert np.array_equal(f1.llrs > 0, sent[1].astype(bool))
    assert frames[1].snr_db == pytest.approx(16.0, abs=1.5)
    assert not frames[0].fec_ok and frames[1].fec_ok


@pytest.mark.parametrize("name", WAVES)
def test_truncated_burst_is_dropped_and_the_receiver_goes_on(name):
    rng = np.random.default_rng(3)
    sent, stream = stream_of(name, 2, rng, cut=2)  # frame 0's third burst stops half way
    rx, frames = receive(name, stream)
    assert [f.frame.frame for f in frames] == [0, 1]
    assert frames[0].frame.bursts_lost == 1
    assert frames[1].frame.bursts_lost == 0
    assert np.array_equal(frames[1].frame.llrs > 0, sent[1].astype(bool))


def test_ldpc_segments_decode_per_burst():
    rng = np.random.default_rng(4)
    sent, stream = stream_of("sc", 1, rng, snr_db=4.0, modulation="qpsk", fec="ldpc-1/2", bits=9000)
    rx, frames = receive("sc", stream)
    assert len(frames) == 1 and frames[0].fec_ok
    assert np.array_equal(frames[0].frame.llrs > 0, sent[0].astype(bool))


@pytest.mark.parametrize("name", WAVES)
def test_no_bursts_from_noise(name):
    rng = np.random.default_rng(6)
    noise = ((rng.standard_normal(600_000) + 1j * rng.standard_normal(600_000)) / np.sqrt(2)).astype(np.complex64)
    rx, frames = receive(name, noise, every=40)
    assert frames == [] and rx.bursts == 0


def test_unfinished_frame_expires():
    rng = np.random.default_rng(7)
    sent, stream = stream_of("sc", 1, rng, drop={4})  # the frame's last burst (of 5) never comes
    now = [0.0]
    rx = burst.BurstReceiver("sc", frame_timeout=2.0, clock=lambda: now[0])
    assert rx.feed(stream, range(0, len(stream), 150)) == []
    now[0] = 1.0
    assert rx.expire() == []
    now[0] = 3.5
    (frame,) = rx.expire()
    assert frame.frame.bursts_lost == 1 and frame.frame.segments == 5


def test_buffer_stays_bounded():
    rng = np.random.default_rng(8)
    noise = ((rng.standard_normal(400_000) + 1j * rng.standard_normal(400_000)) / np.sqrt(2)).astype(np.complex64)
    rx, _ = receive("sc", noise, every=1000, chunk=4000)
    assert len(rx.buf) < 10_000


def test_frame_gives_up_after_a_long_gap_of_samples():
    """While samples flow, a frame waits for its next burst a bounded number of samples, not seconds."""
    rng = np.random.default_rng(9)
    sent, stream = stream_of("sc", 1, rng, drop={4})
    rx = burst.BurstReceiver("sc", clock=lambda: 0.0)
    assert rx.feed(stream, range(0, len(stream), 150)) == []
    noise = ((rng.standard_normal(20_000) + 1j * rng.standard_normal(20_000)) / 8).astype(np.complex64)
    frames = []
    for _ in range(40):  # 800k samples of noise, the clock standing still
        frames += rx.feed(noise)
    assert len(frames) == 1 and frames[0].frame.bursts_lost == 1


def test_garbage_samples_are_zeroed_and_counted():
    rng = np.random.default_rng(10)
    sent, stream = stream_of("sc", 1, rng)
    junk = np.frombuffer(rng.bytes(80_000), np.complex64)  # a file of the wrong format: inf, NaN, 1e38
    rx = burst.BurstReceiver("sc")
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        frames = rx.feed(junk, range(0, len(junk), 500)) + rx.feed(stream, range(len(junk), len(junk) + len(stream), 150))
    assert rx.bad_samples > 0 and len(frames) == 1
    assert np.array_equal(frames[0].frame.llrs > 0, sent[0].astype(bool))


def long_bursts(modulation, count, rng):
    """``count`` sc bursts of 4096 payload symbols, back to back: (each one's payload symbols, the samples)."""
    tx = burst.BurstTransmitter(modulation, "none", "sc", burst_symbols=4096, session=7)
    bits = constellations.constellation(modulation).bits_per_symbol
    segments = tx.segments(rng.integers(0, 2, count * 4096 * bits).astype(np.uint8), 0x0102, 512, 768, 0)
    sent = [tx.link.reference_symbols(bits) for _, bits in segments]
    pieces = [np.zeros(400, np.complex64)]
    for (header, _), symbols in zip(segments, sent):
        pieces += [tx.modulate(header, symbols), np.zeros(300, np.complex64)]
    return sent, np.concatenate(pieces + [np.zeros(3000, np.complex64)])


def synchronised(stream):
    """The bursts the synchroniser finds in ``stream`` (a detection every 150 samples)."""
    events = burst.BurstSynchroniser("sc").feed(stream, range(0, len(stream), 150))
    return [e for e in events if isinstance(e, burst.SyncedBurst)]


def test_16qam_effective_snr_on_the_impaired_burst_link():
    """16-QAM at Es/N0 10 dB through the acceptance impairments (CFO, fractional timing, 3-tap
    multipath): the synchroniser's equalised payload symbols are within 1.2 dB of the channel's SNR
    (the multipath alone costs a linear equaliser 0.86 dB), and the noise variance the LLRs use is
    what the symbols show."""
    rng = np.random.default_rng(13)
    sent, samples = long_bursts("16qam", 4, rng)
    bursts = synchronised(channel(samples, 10.0, rng, cfo=0.005, delay=0.37, taps=MULTIPATH, lead=0))
    assert [b.header.segment for b in bursts] == [0, 1, 2, 3]
    error = np.concatenate([np.abs(b.symbols - s) ** 2 for b, s in zip(bursts, sent)])
    believed = np.concatenate([b.noise_var for b in bursts])
    effective_db = -10 * np.log10(np.mean(error))
    assert effective_db > 8.8
    assert 10 * np.log10(np.mean(believed) / np.mean(error)) == pytest.approx(0.0, abs=0.5)


def _gmi(llr, bits):
    """Information of LLRs (positive = 1) about the sent bits, bits per bit."""
    return 1 - np.mean(np.logaddexp(0, -(2.0 * bits - 1) * llr)) / np.log(2)


def test_16qam_sequence_detector_beats_the_linear_equaliser_through_multipath():
    """Through the acceptance impairments at 10 dB, the BCJR behind the shortening filter gives
    16-QAM payload LLRs with more information and fewer errors than the linear equaliser's
    exact demapper; without multipath, or for QPSK, the linear equaliser stays."""
    rng = np.random.default_rng(14)
    q16 = constellations.constellation("16qam")
    results = {}
    for modulation, taps in (("16qam", MULTIPATH), ("16qam", (1.0,)), ("qpsk", MULTIPATH)):
        tx = burst.BurstTransmitter(modulation, "none", "sc", burst_symbols=4096, session=7)
        k = q16.bits_per_symbol if modulation == "16qam" else 2
        segments = tx.segments(rng.integers(0, 2, 3 * 4096 * k).astype(np.uint8), 0x0102, 512, 768, 0)
        pieces = [np.zeros(400, np.complex64)]
        for header, bits in segments:
            pieces += [tx.modulate(header, tx.link.reference_symbols(bits)), np.zeros(300, np.complex64)]
        stream = channel(np.concatenate(pieces + [np.zeros(3000, np.complex64)]), 10.0, rng, cfo=0.005,
                         delay=0.37, taps=taps, lead=0)
        for sequence in (True, False):
            rx = burst.BurstSynchroniser("sc")
            rx.sequence_detection = sequence
            bursts = [e for e in rx.feed(stream, range(0, len(stream), 150)) if isinstance(e, burst.SyncedBurst)]
            assert [b.header.segment for b in bursts] == [0, 1, 2]
            results[modulation, taps, sequence] = bursts
        if taps == MULTIPATH and modulation == "16qam":
            sent = np.concatenate([bits for _, bits in segments])
    assert all(b.llr is not None for b in results["16qam", MULTIPATH, True])
    assert all(b.llr is None for key, bursts in results.items() if key != ("16qam", MULTIPATH, True) for b in bursts)
    sequence = np.concatenate([b.llr for b in results["16qam", MULTIPATH, True]])
    linear = np.concatenate([q16.llr(b.symbols, b.noise_var) for b in results["16qam", MULTIPATH, False]])
    assert sequence.shape == linear.shape == sent.shape
    assert _gmi(sequence, sent) > _gmi(linear, sent) + 0.003
    assert np.mean((sequence > 0) != sent) < np.mean((linear > 0) != sent)


@pytest.mark.parametrize("ppm", [20.0, -12.0])
def test_clock_offset_is_measured_on_each_burst(ppm):
    """16-QAM bursts at Es/N0 10 dB with CFO, fractional timing and a sample-clock offset: the offset
    each burst measured (our clock against the sender's, so minus the offset) is within 8 ppm of it
    (about 3 standard errors), their mean within 3 ppm."""
    rng = np.random.default_rng(21)
    _, samples = long_bursts("16qam", 4, rng)
    bursts = synchronised(channel(samples, 10.0, rng, cfo=0.005, delay=0.37, clock_ppm=ppm, lead=0))
    assert [b.header.segment for b in bursts] == [0, 1, 2, 3]
    measured = np.array([b.info.clock for b in bursts]) * 1e6
    assert np.all(np.abs(measured + ppm) < 8)
    assert abs(np.mean(measured) + ppm) < 3


def drift_cost(ppm):
    """What a ``ppm`` clock offset costs the EVM of 16-QAM bursts at 10 dB per eighth of a burst, dB.
    The noise is added at the sender's clock, so that the same bursts without the offset, the
    reference, carry the same noise at the same instants: only the drift counts."""
    def eighths(ppm):
        rng = np.random.default_rng(22)
        sent, samples = long_bursts("16qam", 4, rng)
        noise = np.sqrt(0.05) * (rng.standard_normal(len(samples)) + 1j * rng.standard_normal(len(samples)))
        bursts = synchronised(channel(samples + noise, np.inf, rng, cfo=0.005, delay=0.37, clock_ppm=ppm, lead=0))
        assert len(bursts) == 4
        errors = np.array([np.abs(b.symbols - s) ** 2 for b, s in zip(bursts, sent)])
        return np.mean(errors.reshape(len(sent), 8, -1), axis=(0, 2))
    return 10 * np.log10(eighths(ppm) / eighths(0.0))


def test_clock_offset_costs_the_end_of_a_burst_no_more_than_its_start(monkeypatch):
    """20 ppm (0.22 samples over a burst): the last eighth of a burst loses within 0.05 dB of what
    the first loses to it; without the tracking, more than 0.3 dB more."""
    tracked = drift_cost(20.0)
    assert abs(tracked[-1] - tracked[0]) < 0.05
    monkeypatch.setattr(waveform, "CLOCK_ERRORS", np.inf)
    untracked = drift_cost(20.0)
    assert untracked[-1] - untracked[0] > 0.3


def test_qpsk_bursts_are_not_measured_for_a_clock_offset(monkeypatch):
    """QPSK payloads skip the measure (its cost per burst): with 20 ppm their symbols are those of
    the receiver without the tracking."""
    rng = np.random.default_rng(24)
    _, samples = long_bursts("qpsk", 2, rng)
    stream = channel(samples, 10.0, rng, cfo=0.005, delay=0.37, clock_ppm=20.0, lead=0)
    tracked = synchronised(stream)
    monkeypatch.setattr(waveform, "CLOCK_ERRORS", np.inf)
    untracked = synchronised(stream)
    assert len(tracked) == len(untracked) == 2 and all(b.info.clock == 0 for b in tracked)
    for a, b in zip(tracked, untracked):
        np.testing.assert_array_equal(a.symbols, b.symbols)


@pytest.mark.parametrize("modulation", ["16qam"])
def test_bursts_without_clock_offset_are_left_alone(monkeypatch, modulation):
    """Without a clock offset (CFO, fractional timing, multipath at 10 dB), most bursts measure none
    beyond their standard errors and are demodulated exactly as without the tracking; the EVM of
    all of them stays within 0.02 dB of it."""
    rng = np.random.default_rng(23)
    sent, samples = long_bursts(modulation, 6, rng)
    stream = channel(samples, 10.0, rng, cfo=0.005, delay=0.37, taps=MULTIPATH, lead=0)
    tracked = synchronised(stream)
    monkeypatch.setattr(waveform, "CLOCK_ERRORS", np.inf)
    untracked = synchronised(stream)
    assert len(tracked) == len(untracked) == 6
    untouched = [(a, b) for a, b in zip(tracked, untracked) if a.info.clock == 0]
    assert len(untouched) >= 4
    for a, b in untouched:
        np.testing.assert_array_equal(a.symbols, b.symbols)
    evm = lambda bursts: 10 * np.log10(np.mean([np.mean(np.abs(b.symbols - s) ** 2) for b, s in zip(bursts, sent)]))
    assert evm(tracked) == pytest.approx(evm(untracked), abs=0.02)
