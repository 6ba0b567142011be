"""User LDPC codes from any alist file, without GNU Radio: loading and hostile files, the numpy
encoder and decoder, gr-fec's gap form, and the burst header's signature of the code."""
import os
import shutil

import numpy as np
import pytest
from plain import module

ldpc = module("phy.ldpc")
link = module("phy.link")
burst = module("phy.burst")
burst = module("phy.burst")
channels = module("phy.channels")
constellations = module("phy.constellations")
options = module("options")
SemcomError = module("errors").SemcomError

GR_ALISTS = "/usr/share/gnuradio/fec/ldpc"
# shipped with GNU Radio, not one of the named codes; in gap form (gap 3 in its name)
SHIPPED = os.path.join(GR_ALISTS, "n_0300_k_0152_gap_03.alist")
OTHER = os.path.join(GR_ALISTS, "n_0300_k_0122_gap_06.alist")


def random_h(n=96, m=48, seed=3) -> np.ndarray:
    """A column-weight-3 parity-check matrix with an invertible parity part, not in gap form."""
    rng = np.random.default_rng(seed)
    while True:
        h = np.zeros((m, n), np.uint8)
        for v in range(n):
            h[rng.choice(m, 3, replace=False), v] = 1
        if h[0, 0] == 0:  # the top-left entry 0: no gap makes gr-fec's T block triangular
            try:
                ldpc._gf2_inverse(h[:, :m])
                return h
            except SemcomError:
                pass


def padded_alist(h: np.ndarray) -> str:
    """MacKay's alist with every list padded with 0 to the largest degree (as some tools write it)."""
    m, n = h.shape
    cols = [list(np.nonzero(h[:, v])[0] + 1) for v in range(n)]
    rows = [list(np.nonzero(h[c])[0] + 1) for c in range(m)]
    dv, dc = max(map(len, cols)), max(map(len, rows))
    lines = [f"{n} {m}", f"{dv} {dc}", " ".join(str(len(c)) for c in cols), " ".join(str(len(r)) for r in rows)]
    lines += [" ".join(map(str, c + [0] * (dv - len(c)))) for c in cols]
    lines += [" ".join(map(str, r + [0] * (dc - len(r)))) for r in rows]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    if not os.path.isfile(SHIPPED):
        pytest.skip("GNU Radio's alist files are not installed")
    d = tmp_path_factory.mktemp("alists")
    shutil.copy(SHIPPED, d / "shipped.alist")
    (d / "random.alist").write_text(padded_alist(random_h()))
    return {"shipped": str(d / "shipped.alist"), "random": str(d / "random.alist"), "dir": d}


def test_named_codes_keep_their_header_indices_and_gaps():
    assert burst.FEC_NAMES == ("none", "ldpc-1/3", "ldpc-2/5", "ldpc-1/2", "ldpc-2/3", "ldpc-3/4", "ldpc-5/6")
    assert [burst.fec_index(n) for n in burst.FEC_NAMES] == [0, 1, 2, 3, 4, 5, 6]
    for name, (_, gap) in ldpc.CODES.items():  # the gap found from H is the one in the file name
        assert ldpc.code(name).encoder_gap() == gap


@pytest.mark.parametrize("which, snr_db", [("shipped", 3.0), ("random", 6.0)])
def test_user_code_round_trip_through_noise(files, which, snr_db):
    """Any alist: encoded codewords satisfy every check, and min-sum corrects the channel's errors
    (the random code is short and weak: 6 dB)."""
    path = files[which]
    cfg = link.LinkConfig("qpsk", path)  # a bare path ending in .alist
    assert cfg.fec == "alist:" + path and cfg == link.LinkConfig.parse("qpsk/alist:" + path)
    code = cfg.code
    h = code.dense_h()
    rng = np.random.default_rng(4)
    info = rng.integers(0, 2, 20 * code.k).astype(np.uint8)
    words = code.encode(info.reshape(-1, code.k))
    assert not (words.astype(np.int64) @ h.T % 2).any()  # H c = 0 for every codeword
    assert np.array_equal(words[:, code.m:].ravel(), info)  # [parity | information]
    symbols = cfg.reference_symbols(info)
    y = channels.awgn(symbols, snr_db, rng)
    llr = constellations.constellation("qpsk").llr(y, 10 ** (-snr_db / 10))
    assert np.mean((llr[:info.size * code.n // code.k] > 0) != words.ravel()) > 0.005  # errors to correct
    payload, failed = cfg.decode(llr, info.size)
    assert failed == 0 and np.array_equal(payload > 0, info.astype(bool))


def test_gap_found_or_the_systematic_form_written(files):
    """gr-fec's encoder needs H in gap form: the shipped file is (gap 3, as its name says); the random
    one is not, and gets an equivalent systematic H (gap 1) that defines the same code."""
    shipped, rand = ldpc.code("alist:" + files["shipped"]), ldpc.code("alist:" + files["random"])
    assert shipped.encoder_gap() == 3 and shipped.encoder_alist()[1] == 3
    assert rand.encoder_gap() is None
    path, gap = rand.encoder_alist()
    n, m, edges = ldpc.parse_alist(path)
    h2 = np.zeros((m, n), np.uint8)
    h2[tuple(np.array(edges).T)] = 1
    assert gap == 1 and np.array_equal(h2[:, :m], np.eye(m, dtype=np.uint8))
    words = rand.encode(np.random.default_rng(5).integers(0, 2, (8, rand.k)))
    assert not (words.astype(np.int64) @ h2.T % 2).any()  # the same code
    # gr-fec's reader takes every number on a column line as a row: the plain copy has no 0 padding
    plain = open(rand.gnuradio_alist()).read().splitlines()
    assert all("0" not in line.split() for line in plain[4:])


def test_header_carries_the_signature(files):
    code = ldpc.code("alist:" + files["shipped"])
    fec = burst.fec_index(code.name)
    assert fec == burst.USER_FEC + code.signature and burst.USER_FEC <= fec <= 255
    h = burst.Header(7, 64, 96, 1, 0, 2, 1, fec, 1000)
    back = burst.Header.unpack(h.pack())
    assert back == h and back.fec_name == code.name and back.link.block == (code.k, code.n)
    # a copy of the file elsewhere is the same code: same signature
    shutil.copy(files["shipped"], files["dir"] / "copy.alist")
    assert ldpc.code(str(files["dir"] / "copy.alist")).signature == code.signature


def test_unknown_user_code_in_a_header_is_a_foreign_code():
    unused = next(s for s in range(128) if ldpc.user_code(s) is None)
    h = burst.Header(7, 64, 96, 1, 0, 2, 1, burst.USER_FEC + unused, 1000)
    with pytest.raises(burst.ForeignCode, match="alist this receiver was not given"):
        burst.Header.unpack(_raw(h))
    assert "user code" in burst.fec_problem(100)  # 4..127: invalid, not foreign
    with pytest.raises(SemcomError):
        burst.Header(7, 64, 96, 1, 0, 2, 1, 100, 1000).check()


def _raw(h) -> np.ndarray:
    """Header bits with a valid CRC, whatever the fields say."""
    from dataclasses import astuple
    body = burst.pack_fields(astuple(h))
    return np.unpackbits(np.frombuffer(body + burst.crc16(body).to_bytes(2, "big"), np.uint8))


def stream(tx_items, rng, snr_db=12.0):
    """Bursts of several (BurstTransmitter, payload, frame) through AWGN with a little CFO."""
    pieces = [np.zeros(400, np.complex64)]
    for tx, payload, frame in tx_items:
        pieces += tx.bursts(payload, 0x0102, 64, 96, frame)
    pieces.append(np.zeros(2000, np.complex64))
    x = np.concatenate(pieces) * np.exp(2j * np.pi * 0.002 * np.arange(sum(map(len, pieces))))
    return channels.awgn(x.astype(np.complex64), snr_db, rng).astype(np.complex64)


def receive(samples, codes=()):
    rx = burst.BurstReceiver("sc", codes=codes)
    out = []
    for i in range(0, len(samples), 5000):
        piece = samples[i:i + 5000]
        out += rx.feed(piece, range(i, i + len(piece), 150))
    return rx, out + rx.flush()


def test_receiver_decodes_its_user_code_and_drops_others(files):
    """A frame of a user code, then one of a named code: a receiver given the alist gets both; one
    given nothing, or another alist, drops the first frame's bursts (counted) and gets the second."""
    rng = np.random.default_rng(6)
    user = burst.BurstTransmitter("qpsk", "alist:" + files["shipped"], "sc", burst_symbols=1024)
    named = burst.BurstTransmitter("qpsk", "ldpc-1/2", "sc", burst_symbols=1024)
    payloads = [rng.integers(0, 2, 3000).astype(np.uint8) for _ in range(2)]
    samples = stream([(user, payloads[0], 0), (named, payloads[1], 0)], rng)
    user_bursts = len(user.segments(payloads[0], 1, 1, 1, 0))
    assert user_bursts >= 3
    other = ldpc.code("alist:" + OTHER)
    for codes, expect in [((user.link.code,), [0, 1]), ((), [1]), ((other,), [1])]:
        rx, frames = receive(samples, codes)
        got = {f.frame.session: f for f in frames}
        sessions = [user.session, named.session]
        assert sorted(sessions.index(s) for s in got) == expect
        for i in expect:
            f = got[sessions[i]]
            assert f.fec_ok and np.array_equal(f.frame.llrs > 0, payloads[i].astype(bool))
        assert rx.sync.foreign_code == (0 if 0 in expect else user_bursts)


HOSTILE = {
    "missing": None,
    "binary": b"\x00\xff\xfe" * 100,
    "words": b"hello world\n1 2\n",
    "huge_n": b"1000000000 500000000\n3 6\n",
    "truncated": b"10 5\n3 6\n3 3 3\n",
    "m_not_below_n": b"4 4\n1 1\n1 1 1 1\n1 1 1 1\n1\n2\n3\n4\n1\n2\n3\n4\n",
    "row_out_of_range": b"4 2\n1 2\n1 1 1 1\n2 2\n1\n2\n3\n1\n1 4\n2 3\n",
    "rows_disagree": b"4 2\n1 2\n1 1 1 1\n2 2\n1\n2\n1\n2\n1 2\n3 4\n",
    "singular": b"4 2\n2 4\n2 2 2 2\n4 4\n1 2\n1 2\n1 2\n1 2\n1 2 3 4\n1 2 3 4\n",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_alist_gives_one_line(tmp_path, kind):
    path = tmp_path / f"{kind}.alist"
    if HOSTILE[kind] is not None:
        path.write_bytes(HOSTILE[kind])
    with pytest.raises(SemcomError) as err:
        link.LinkConfig("qpsk", "alist:" + str(path))
    text = str(err.value)
    assert "\n" not in text and str(path) in text, text


def test_hostile_alist_is_refused_without_reading_past_the_limit(tmp_path):
    path = tmp_path / "big.alist"
    with open(path, "wb") as f:
        f.truncate(ldpc.MAX_ALIST_BYTES + 1)  # sparse: no disk used
    with pytest.raises(SemcomError, match="larger than"):
        ldpc.code("alist:" + str(path))
    with pytest.raises(SemcomError, match="larger than"):
        ldpc.code("alist:/dev/zero")  # endless: read no further than the limit


def test_option_model_takes_user_codes():
    assert options.check("fec", "ldpc-1/2") == "ldpc-1/2"
    assert options.check("phy_fec", "/x/y.alist") == "alist:/x/y.alist"
    assert options.check("fec", "alist:/x/y") == "alist:/x/y"
    with pytest.raises(SemcomError) as err:
        options.check("fec", "ldpc-9/10")
    assert str(err.value).startswith("--fec must be") and "alist:FILE" in str(err.value)


def test_two_codes_with_one_signature_are_refused_in_one_process():
    """GNU Radio ships two such files (7 bits: 1 in 128 per pair): a receiver could not tell them apart."""
    a, b = (os.path.join(GR_ALISTS, f) for f in ("n_0100_k_0027_gap_04.alist", "n_0300_k_0103_gap_24.alist"))
    if not os.path.isfile(a):
        pytest.skip("GNU Radio's alist files are not installed")
    assert ldpc.code("alist:" + a).signature == 30
    with pytest.raises(SemcomError, match="same 7-bit header signature 30"):
        ldpc.code("alist:" + b)
