"""User LDPC codes (any alist file) through GNU Radio: gr-fec's encoder against the numpy one,
an image over the burst chain with both ends given the alist, and receivers that were not given
it dropping those bursts with a counted reason."""
import os
import shutil
import time
from dataclasses import astuple

import numpy as np
import pytest

from gr_helpers import air_flowgraph, receive, run_pdus
from plain import REPO

pytest.importorskip("gnuradio.semcom.blocks.burst_rx")
from gnuradio import blocks, fec, gr  # noqa: E402

from gnuradio.semcom.blocks.burst_common import HEADER, MTU  # noqa: E402

from gnuradio.semcom.blocks.burst_rx import burst_rx  # noqa: E402

from gnuradio.semcom.blocks.fec_decoder import fec_decoder  # noqa: E402

from gnuradio.semcom.blocks import modem  # noqa: E402
from gnuradio.semcom.blocks.pdu_io import make_pdu, split_pdu  # noqa: E402
from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.imageio import load_image  # noqa: E402
from gnuradio.semcom.metrics import psnr  # noqa: E402
from gnuradio.semcom.phy import burst, channels, ldpc  # noqa: E402

SAMPLE = os.path.join(REPO, "examples", "images", "kodim23.png")
GR_ALISTS = "/usr/share/gnuradio/fec/ldpc"
SHIPPED = os.path.join(GR_ALISTS, "n_0300_k_0152_gap_03.alist")  # not a named code; gap form
OTHER = os.path.join(GR_ALISTS, "n_0300_k_0122_gap_06.alist")


@pytest.fixture(scope="module")
def alists(tmp_path_factory):
    if not os.path.isfile(SHIPPED):
        pytest.skip("GNU Radio's alist files are not installed")
    d = tmp_path_factory.mktemp("alists")
    shutil.copy(SHIPPED, d / "user.alist")
    # not in gap form: the top-left entry of H is 0 (rows 1 and 2 swapped), the same code
    lines = open(SHIPPED).read().splitlines()
    n, m = map(int, lines[0].split())
    swap = {"1": "2", "2": "1"}
    cols = [" ".join(swap.get(t, t) for t in line.split()) for line in lines[4:4 + n]]
    rows = lines[4 + n:4 + n + m]
    rows[0], rows[1] = rows[1], rows[0]
    (d / "swapped.alist").write_text("\n".join(lines[:2] + [lines[2], " ".join(lines[3].split()[i] for i in
                                                                                  [1, 0] + list(range(2, m)))]
                                               + cols + rows) + "\n")
    return {"user": str(d / "user.alist"), "swapped": str(d / "swapped.alist")}


@pytest.mark.parametrize("which, gap", [("user", 3), ("swapped", None)])
def test_gr_fec_async_encoder_equals_the_numpy_encoder(alists, which, gap):
    """fec.async_encoder with the encoder object made for a user code gives our codewords, whether
    the alist is in gr-fec's gap form or not (then an equivalent systematic H is written for it)."""
    code = ldpc.code("alist:" + alists[which])
    assert code.encoder_gap() == gap
    rng = np.random.default_rng(1)
    info = rng.integers(0, 2, (6, code.k)).astype(np.uint8)
    enc = fec.async_encoder(modem.encoder_object(code.name), False, False, False, MTU)
    (out,) = run_pdus([enc], [make_pdu({}, info.ravel())], 1)
    _, coded = split_pdu(out, np.uint8)
    assert np.array_equal(coded, code.encode(info).ravel())
    assert np.array_equal(coded, ldpc.code("alist:" + alists["user"]).encode(info).ravel())  # the same code


def test_encoder_and_decoder_definitions_are_checked_against_the_code(alists):
    code = ldpc.code("alist:" + alists["user"])
    stock = fec.ldpc_par_mtrx_encoder.make_H(fec.ldpc_H_matrix(alists["user"], 3))  # GRC's definition
    assert modem.encoder_object(code.name, stock) is stock
    assert modem.encoder_object(code.name, [stock]) is stock  # GRC's with dimensions: a list
    other = modem.encoder_object("ldpc-1/2")
    with pytest.raises(SemcomError, match="maps 902 to 1800 bits"):
        modem.encoder_object(code.name, other)
    with pytest.raises(SemcomError, match="needs its alist"):
        modem.FecDecoder("gnuradio", 50, None, fec.ldpc_decoder.make(alists["user"], 0.5, 50))
    with pytest.raises(SemcomError, match="maps 1800 to 902"):
        fec_decoder("gnuradio", 50, alists["user"], fec.ldpc_decoder.make(ldpc.code("ldpc-1/2").alist, 0.5, 50))


@pytest.mark.parametrize("backend", ["minsum", "gnuradio"])
def test_image_arrives_over_a_user_code(alists, backend):
    """Both ends given the alist: SSCC arrives intact at 8 dB (QPSK), with the project's min-sum, or
    with a gr-fec LDPC decoder definition made from the file (the 'gnuradio' backend)."""
    image = load_image(SAMPLE)[:128, :192]
    decoder = fec.ldpc_decoder.make(alists["user"], 0.5, 50) if backend == "gnuradio" else None
    tb, tx, btx, brx, rx = air_flowgraph("sscc", "sscc", "qpsk", "alist:" + alists["user"], snr_db=8.0,
                                         burst_symbols=1024, ldpc_backend=backend, alist=alists["user"],
                                         decoder=decoder)
    assert btx.encoder is not None
    meta, got = receive(tb, tx, rx, image)
    assert not meta["lost"] and meta["fec"] == "alist:" + alists["user"] and meta["bursts"] >= 2, meta
    assert brx.fec.blocks_failed == 0 and psnr(image, got) > 25


def frames_from(samples, alist):
    """Samples -> burst_rx(alist) -> the frame PDUs (metadata, LLRs) it publishes, and the receiver."""
    tb = gr.top_block()
    src = blocks.vector_source_c(samples)
    rx = burst_rx("sc", frame_timeout=0.5, alist=alist)
    sink = blocks.message_debug()
    tb.connect(src, rx)
    tb.msg_connect(rx, "out", sink, "store")
    tb.run()
    rx.drain()
    time.sleep(0.2)
    return [split_pdu(sink.get_message(i), np.float32) for i in range(sink.num_messages())], rx


def test_receivers_not_given_the_alist_drop_its_bursts_and_go_on(alists):
    """A frame of a user code, then one of a named code. Given the alist, the receiver publishes both;
    given none, or another alist, it drops every burst of the first with one counted reason, and the
    second frame arrives intact."""
    rng = np.random.default_rng(2)
    user = burst.BurstTransmitter("qpsk", "alist:" + alists["user"], "sc", burst_symbols=1024)
    named = burst.BurstTransmitter("qpsk", "ldpc-1/2", "sc", burst_symbols=1024)
    payloads = [rng.integers(0, 2, 3000).astype(np.uint8) for _ in range(2)]
    pieces = [np.zeros(2000, np.complex64)]
    pieces += user.bursts(payloads[0], 3, 8, 8, 0) + named.bursts(payloads[1], 3, 8, 8, 0)
    pieces.append(np.zeros(8192, np.complex64))
    samples = channels.awgn(np.concatenate(pieces), 12.0, rng).astype(np.complex64)
    user_bursts = len(user.segments(payloads[0], 3, 8, 8, 0))
    assert user_bursts >= 3
    for alist, expect in [(alists["user"], [0, 1]), ("", [1]), (OTHER, [1])]:
        frames, rx = frames_from(samples, alist)
        sessions = [user.session, named.session]
        assert sorted(sessions.index(int(m["session"])) for m, _ in frames) == expect, alist
        for meta, llrs in frames:
            i = sessions.index(int(meta["session"]))
            assert meta["fec_ok"] and np.array_equal(llrs > 0, payloads[i].astype(bool))
        drops = rx.drops().get("burst_sync", {})
        assert drops.get(burst.ForeignCode.reason, 0) == (0 if 0 in expect else user_bursts), drops


def test_fec_decoder_drops_a_burst_of_another_user_code(alists):
    """Wired by hand (GRC), the decoder given another alist drops the burst with the same reason."""
    user = burst.BurstFramer("qpsk", "alist:" + alists["user"], "sc", 1024)
    header, seg = user.segments(np.ones(152, np.uint8), 3, 8, 8, 0)[0]
    llr = np.where(user.link.code.encode(seg)[0] > 0, 9.0, -9.0).astype(np.float32)
    pdu = make_pdu({HEADER: list(astuple(header))}, llr)
    right = fec_decoder("minsum", 50, alists["user"])
    (out,) = run_pdus([right], [pdu], 1)
    assert np.array_equal(split_pdu(out, np.float32)[1] > 0, seg.astype(bool))
    wrong = fec_decoder("minsum", 50, OTHER)
    assert run_pdus([wrong], [pdu], 1, timeout=1) == []
    assert wrong.drops == {burst.ForeignCode.reason: 1}


@pytest.mark.parametrize("which", ["user", "swapped"])
def test_ideal_link_blocks_take_a_user_code(alists, which):
    """phy_tx (gr-fec encoder) -> AWGN 3 dB -> phy_rx, both given 'alist:FILE', both decoders: no errors."""
    from gnuradio.semcom import phy_rx, phy_tx
    from gnuradio.semcom.phy import framing
    name = "alist:" + alists[which]
    code = ldpc.code(name)
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2, 8 * code.k).astype(np.uint8)
    meta = {}
    y = channels.awgn(phy_tx("bpsk", name).modulate(bits, meta), 3.0, rng)
    assert meta[framing.CODED_BITS] == 8 * code.n
    for backend in ("minsum", "gnuradio"):
        rx_meta = {**meta, framing.NOISE_VAR: channels.noise_var(3.0)}
        llr = phy_rx("bpsk", name, "exact", backend).demodulate(y, rx_meta)
        assert rx_meta[framing.FEC_OK] and np.array_equal(llr > 0, bits.astype(bool)), backend
