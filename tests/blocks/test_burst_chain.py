"""The burst chain made of GNU Radio blocks: stock soft decisions against exact LLRs, foreign
constellation objects, the model fingerprint and the transmitter session on air."""
import os
import shutil
import time

import numpy as np
import pytest

from gr_helpers import air_flowgraph, receive
from plain import REPO

pytest.importorskip("gnuradio.semcom.blocks.burst_rx")
from gnuradio import blocks, digital, gr, semcom  # noqa: E402

from gnuradio.semcom.blocks import modem  # noqa: E402
from gnuradio.semcom.codecs import neural  # noqa: E402
from gnuradio.semcom.imageio import load_image  # noqa: E402
from gnuradio.semcom.metrics import psnr  # noqa: E402
from gnuradio.semcom.phy import burst, soft_lut  # noqa: E402
from gnuradio.semcom.phy.constellations import constellation  # noqa: E402
from gnuradio.semcom.phy.link import LLR_CLIP  # noqa: E402

SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")


def stock_soft_decisions(obj, y: np.ndarray) -> np.ndarray:
    """What burst_rx's multiply_const_cc -> constellation_soft_decoder_cf give for symbols y."""
    scale = modem.install_stream_table(obj)
    tb = gr.top_block()
    src = blocks.vector_source_c(np.concatenate([y, np.zeros(256, np.complex64)]).tolist())
    sink = blocks.vector_sink_f()
    tb.connect(src, blocks.multiply_const_cc(scale), digital.constellation_soft_decoder_cf(obj), sink)
    tb.run()
    return np.asarray(sink.data(), np.float32)[:len(y) * int(obj.bits_per_symbol())]


def burst_llr_pdus(modulation, values, tags):
    """PDUs (meta, LLRs) that burst_llr makes of soft values with tags [(offset, dict) or
    (offset, 'expire', dict)]."""
    from gnuradio.semcom.blocks.pdu_io import meta_to_pmt, split_pdu
    import pmt
    gr_tags = []
    for offset, *rest in tags:
        key, meta = ("burst", rest[0]) if len(rest) == 1 else rest
        gr_tags.append(gr.tag_utils.python_to_tag((offset, pmt.intern(key), meta_to_pmt(meta), pmt.PMT_NIL)))
    tb = gr.top_block()
    src = blocks.vector_source_f(np.asarray(values, np.float32).tolist(), False, 1, gr_tags)
    block, sink = semcom.burst_llr(modulation), blocks.message_debug()
    tb.connect(src, block)
    tb.msg_connect(block, "out", sink, "store")
    tb.run()
    burst_llr_pdus.block = block
    return [split_pdu(sink.get_message(i), np.float32) for i in range(sink.num_messages())]


@pytest.mark.parametrize("modulation, snr_db", [("qpsk", 3.0), ("qpsk", 12.0), ("16qam", 8.0), ("64qam", 15.0),
                                                 ("8psk", 12.0)])
def test_stream_table_and_burst_llr_give_exact_max_log_llrs(modulation, snr_db):
    """The stock decoder's table times each symbol's 1/N0 (burst_llr, per-symbol noise variances
    as OFDM's) is the max-log LLR (exact LLR for QPSK), to table precision."""
    rng = np.random.default_rng(1)
    const = constellation(modulation)
    k = const.bits_per_symbol
    n0 = 10 ** (-snr_db / 10)
    bits = rng.integers(0, 2, 600 * k).astype(np.uint8)
    y = (const.modulate(bits) + np.sqrt(n0 / 2) * (rng.standard_normal(600) + 1j * rng.standard_normal(600)))
    y = y.astype(np.complex64)
    noise_var = np.full(600, n0, np.float32)
    noise_var[::2] *= 1.5  # what the receiver states per symbol; the LLRs must follow it
    values = stock_soft_decisions(modem.stream_constellation(modulation), y)
    (meta, llr), = burst_llr_pdus(modulation, values, [(0, {"symbols": 600, "coded_bits": 600 * k - 7,
                                                             "noise_var": noise_var, "snr_db": snr_db})])
    assert len(llr) == 600 * k - 7  # cut to the segment's coded bits
    assert meta["noise_var"] == pytest.approx(float(np.mean(noise_var)))
    assert "symbols" not in meta and "coded_bits" not in meta and meta["snr_db"] == snr_db
    n0_bits = np.repeat(noise_var, k)[:len(llr)]
    maxlog = np.clip(soft_lut.maxlog_distances(const, y)[:len(llr)] / n0_bits, -LLR_CLIP, LLR_CLIP)
    cell = 2 * soft_lut.stream_axis_limit(const) / (1 << soft_lut.STREAM_PRECISION)
    slope = 4 * np.abs(const.points).max()  # |d distance^2 / dy| <= 2 * (|y| + |s|)
    assert np.all(np.abs(llr - maxlog) <= slope * cell / n0_bits + 1e-3)
    if modulation == "qpsk":  # linear: max-log is exact
        exact = np.clip(const.llr(y, noise_var).ravel()[:len(llr)], -LLR_CLIP, LLR_CLIP)
        assert np.all(np.abs(llr - exact) <= slope * cell / n0_bits + 1e-3)
    assert np.mean((llr > 0) == (bits[:len(llr)] > 0)) > 0.8


@pytest.mark.parametrize("make", [digital.constellation_qpsk, digital.constellation_8psk])
def test_burst_llr_gives_a_stock_object_the_table_of_its_unit_energy_points(make):
    """A stock object as GRC users make it (QPSK's points at +-1.41) in burst_llr: its soft
    decoder gives the max-log distances of the points scaled to unit energy, by their labels."""
    obj = make()
    const = modem.plain(modem.normalised(obj))
    block = semcom.burst_llr(modem.modulation_of(obj), obj)
    assert block.input_scale == pytest.approx(1 / soft_lut.stream_axis_limit(const))
    y = const.points[np.random.default_rng(3).integers(0, len(const.points), 400)]
    y = (y + 0.3 * np.exp(2j * np.pi * np.random.default_rng(4).random(400))).astype(np.complex64)
    cell = 2 * soft_lut.stream_axis_limit(const) / (1 << soft_lut.STREAM_PRECISION)
    slope = 4 * np.abs(const.points).max()
    np.testing.assert_allclose(stock_soft_decisions(obj, y), soft_lut.maxlog_distances(const, y),
                               atol=slope * cell + 1e-3, rtol=0)


def test_burst_llr_drops_cut_bursts_and_bad_tags_and_passes_expire_markers():
    """A burst cut short by the next tag, a tag without its counts and one announcing more than
    the block may hold are dropped and counted; an expire marker becomes an expire PDU; NaN
    values become erasures (0); one noise variance serves the whole burst (single carrier)."""
    values = np.ones(60, np.float32)
    values[30] = np.nan
    pdus = burst_llr_pdus("qpsk", values, [
        (0, {"symbols": 10, "coded_bits": 20, "noise_var": 0.5}),  # cut short at 10 by the next tag
        (10, {"coded_bits": 4, "noise_var": 0.5}),  # no symbols: dropped
        (12, {"symbols": 1 << 30, "coded_bits": 4, "noise_var": 0.5}),  # would inflate: dropped
        (20, "expire", {"expire": [7, 1, 2]}),
        (22, {"symbols": 10, "coded_bits": 18, "noise_var": 0.25}),
    ])
    assert burst_llr_pdus.block.dropped == 3 and burst_llr_pdus.block.bursts_out == 1
    (expire_meta, expire_llr), (meta, llr) = pdus
    assert list(expire_meta["expire"]) == [7, 1, 2] and len(expire_llr) == 0
    expected = np.full(18, 4.0, np.float32)
    expected[30 - 22] = 0.0
    np.testing.assert_array_equal(llr, expected)
    assert meta["noise_var"] == 0.25


def test_foreign_constellation_object_is_read_from_the_object():
    """GNU Radio's own 16-QAM (its labels, not ours): mapper and demapper follow the object."""
    obj = digital.constellation_16qam()
    plain = modem.plain(obj)
    assert plain.name == "16qam" and not np.allclose(plain.points, constellation("16qam").points)
    bits = np.random.default_rng(2).integers(0, 2, 400).astype(np.uint8)
    symbols = modem.SymbolMapper(obj).map(bits)
    ours = np.array([obj.map_to_points_v(v)[0] for v in modem.labels(bits, 4)], np.complex64)
    assert np.allclose(symbols, ours)
    llr = stock_soft_decisions(obj, symbols)  # noiseless: every hard decision right
    assert np.array_equal((llr > 0).astype(np.uint8), bits)
    with pytest.raises(Exception, match="unit energy"):
        modem.plain(digital.constellation_qpsk())  # points at +-1.41: Es = 4


def test_foreign_constellation_and_gr_fec_ldpc_carry_an_image():
    """digital.constellation_16qam() at both ends, gr-fec LDPC 1/2: SSCC arrives intact."""
    image = load_image(SAMPLE)[:128, :192]
    obj = digital.constellation_16qam()
    tb, tx, btx, brx, rx = air_flowgraph("sscc", "sscc", "16qam", "ldpc-1/2", obj, snr_db=14.0)
    assert btx.encoder is not None  # the stock fec.async_encoder is in the chain
    meta, got = receive(tb, tx, rx, image)
    assert not meta["lost"] and meta["modulation"] == "16qam" and meta["fec"] == "ldpc-1/2"
    assert psnr(image, got) > 25
    assert brx.fec.blocks_failed == 0


@pytest.mark.parametrize("make", [digital.constellation_8psk, digital.constellation_qpsk])
def test_stock_psk_carries_an_image(make):
    """Stock 8-PSK (and QPSK, its points at +-1.41) as the one modulation argument of both ends:
    the header carries 8psk, the object's own labels map and demap, SSCC arrives intact."""
    image = load_image(SAMPLE)[:128, :192]
    obj = make()
    tb, tx, btx, brx, rx = air_flowgraph("sscc", "sscc", obj, "ldpc-1/2", obj, snr_db=20.0)
    meta, got = receive(tb, tx, rx, image)
    assert not meta["lost"] and meta["modulation"] == {3: "8psk", 2: "qpsk"}[obj.bits_per_symbol()]
    assert psnr(image, got) > 25
    assert brx.fec.blocks_failed == 0


def test_another_model_with_the_same_name_is_refused_over_the_air(tmp_path):
    """The fingerprint travels in the burst header: weights that differ are not decoded as ok."""
    image = load_image(SAMPLE)[:128, :192]
    name = "bitsemcom-qpsk-cpp16"
    original = next(d for d in neural.model_dirs() if os.path.basename(d) == name)
    other = tmp_path / name
    shutil.copytree(original, other)
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper
    model = onnx.load(str(other / "decoder.onnx"))
    weight = model.graph.initializer[0]  # float16 weights
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * 1.01, weight.name))  # other weights
    onnx.save(model, str(other / "decoder.onnx"))
    assert neural.OnnxModel(str(other)).fingerprint != neural.OnnxModel(original).fingerprint
    tb, tx, btx, brx, rx = air_flowgraph(name, str(other))
    tb.start()
    try:
        tx.send(image)
        deadline = time.monotonic() + 30
        while brx.reassembler.frames_out < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        tb.stop()
        tb.wait()
    assert brx.reassembler.frames_out == 1  # the frame arrived ...
    assert rx.received.empty() and rx.dropped == 1  # ... and was refused
    # the same flowgraph with the transmitter's own model decodes it
    tb, tx, btx, brx, rx = air_flowgraph(name, name)
    meta, got = receive(tb, tx, rx, image)
    assert not meta["lost"] and meta["model_hash"] == neural.OnnxModel(original).fingerprint


def test_two_transmitters_with_the_same_frame_number_never_merge():
    r = burst.Reassembler()
    a = burst.Header(7, 8, 8, 5, 0, 2, 1, 0, 20, session=1)
    b = burst.Header(7, 8, 8, 5, 1, 2, 1, 0, 20, session=2)
    assert r.add(a, np.ones(10, np.float32)) == [] and r.add(b, -np.ones(10, np.float32)) == []
    assert len(r) == 2  # two pending frames, not one chimera
    # a burst of a third session with a newer frame number splits neither
    assert r.add(burst.Header(7, 8, 8, 9, 0, 2, 1, 0, 20, session=3), np.ones(10, np.float32)) == []
    assert len(r) == 3
    done = r.add(burst.Header(7, 8, 8, 5, 1, 2, 1, 0, 20, session=1), np.ones(10, np.float32))
    assert len(done) == 1 and done[0].complete and done[0].session == 1


def test_detection_tags_stop_at_the_synchroniser():
    """corr_est_cc's tags (several per detection) end at burst_sync. Propagated to its outputs they
    would land at offsets no reader reaches and never be freed: the receiver's memory grew by
    about 80 kB an image."""
    from gnuradio.semcom.blocks.burst_rx import burst_rx
    from gnuradio.semcom.cli.ota_bench import record_stream
    stream = record_stream([load_image(SAMPLE)] * 2, 15.0, "sc", 4096)
    rx = burst_rx("sc", symbols_output=True)
    sink = blocks.vector_sink_c()
    tb = gr.top_block()
    tb.connect(blocks.vector_source_c(stream), rx, sink)
    tb.run()
    assert len(sink.data()) > 10000  # the bursts' symbols came out
    assert [str(t.key) for t in sink.tags()] == []


def test_sample_limiter_zeroes_non_finite_and_caps_spikes_at_16x_the_90th_percentile():
    """The compiled limiter: NaN and inf become 0; a 1e38 spike and a 50x one come out at 16 times
    the 90th percentile of |x| (every 8th sample); the rest passes bit-exact, every sample out."""
    from gnuradio.semcom import sample_limiter
    rng = np.random.default_rng(1)
    x = (0.3 * (rng.normal(size=30000) + 1j * rng.normal(size=30000))).astype(np.complex64)
    spikes = {100: np.nan, 200: 1e38, 300: complex(np.inf, 1.0), 400: 50.0}
    for i, v in spikes.items():
        x[i] = v
    tb = gr.top_block()
    src, limiter, sink = blocks.vector_source_c(x.tolist()), sample_limiter(), blocks.vector_sink_c()
    tb.connect(src, limiter, sink)
    tb.run()
    y = np.asarray(sink.data(), np.complex64)
    assert len(y) == len(x)
    assert limiter.limited == 4
    assert y[100] == 0 and y[300] == 0
    clean = np.abs(np.delete(x, list(spikes)))
    cap = 16 * np.sort(clean[::8])[int(0.9 * (len(clean[::8]) - 1))]
    for i in (200, 400):
        assert abs(y[i]) == pytest.approx(cap, rel=0.03)  # the percentile of one call's samples
        assert np.angle(y[i]) == pytest.approx(0.0, abs=1e-6)
    keep = np.ones(len(x), bool)
    keep[list(spikes)] = False
    np.testing.assert_array_equal(y[keep], x[keep])


@pytest.mark.parametrize("bad", [dict(limit=0.0), dict(floor=-1.0), dict(hold=float("nan"))])
def test_sample_limiter_refuses_meaningless_settings(bad):
    from gnuradio.semcom import sample_limiter
    with pytest.raises(ValueError, match="sample_limiter"):
        sample_limiter(**bad)
