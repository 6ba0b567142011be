"""--codec auto's rate table and choice (codecs/auto.py), its profile writer and the feedback messages."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from plain import module  # noqa: E402

auto = module("codecs.auto")
errors = module("errors")

PIXELS = 768 * 512  # cpp 1/16: 24576 channel uses
# two conventional links whose cliffs sit at 2 and 12 dB; avif's PSNR rises 3 dB per doubling of bpp
PROFILE = {"codecs": {"avif": {"bpp": [0.05, 0.1, 0.2], "psnr_db": [24.0, 27.0, 30.0]}},
           "links": {"qpsk/ldpc-1/2": {"threshold_db": 2.0}, "64qam/ldpc-1/2": {"threshold_db": 12.0}}}
CURVES = {("m", "qpsk"): {"-6": 19.0, "0": 21.0, "20": 23.0}}


def table(margin=0.5):
    return auto.RateTable(CURVES, auto.ConventionalProfile(PROFILE), 1 / 16, margin)


def test_learned_at_low_snr_conventional_above_the_cliff_plus_margin():
    t = table()
    assert t.choose(-6, PIXELS).candidate == auto.Candidate("m", "qpsk")
    pick = t.choose(20, PIXELS)
    assert (pick.candidate.codec, pick.candidate.link) == ("avif", "64qam/ldpc-1/2")
    # 64-QAM 1/2 carries (24576 * 6 // 1800) * 902 bits, less the 64-bit frame header
    bpp = ((24576 * 6 // 1800) * 902 - 64) / PIXELS
    assert pick.predicted_db == pytest.approx(float(auto.ConventionalProfile(PROFILE).psnr("avif", bpp)))
    assert "64qam/ldpc-1/2" in pick.reason and "next" in pick.reason
    # 12.4 dB: 64-QAM holds at 12 dB but not at 12.4 - 0.5; QPSK 1/2 does
    assert t.choose(12.4, PIXELS).candidate.link == "qpsk/ldpc-1/2"
    assert "64qam/ldpc-1/2 needs 12.5 dB" in t.choose(12.4, PIXELS).reason
    assert t.choose(12.5, PIXELS).candidate.link == "64qam/ldpc-1/2"
    assert table(margin=0).choose(12.0, PIXELS).candidate.link == "64qam/ldpc-1/2"
    # below every cliff only the learned model is left
    assert [c.codec for c, _ in t.ranked(2.4, PIXELS)] == ["m"]


def test_hysteresis_keeps_the_current_pick_until_another_wins_that_much_lower():
    t = table()
    qpsk = t.choose(10, PIXELS).candidate
    assert qpsk.link == "qpsk/ldpc-1/2"
    # 64-QAM is best from 12.5 dB; from QPSK the loop moves up only once it wins 1 dB lower
    assert t.choose(13.0, PIXELS, current=qpsk, hysteresis_db=1.0).candidate == qpsk
    assert "kept" in t.choose(13.0, PIXELS, current=qpsk, hysteresis_db=1.0).reason
    up = t.choose(13.5, PIXELS, current=qpsk, hysteresis_db=1.0)
    assert up.candidate.link == "64qam/ldpc-1/2" and "even 1 dB lower" in up.reason
    # a pick that no longer holds is left at once, whatever the hysteresis
    down = t.choose(12.4, PIXELS, current=up.candidate, hysteresis_db=5.0)
    assert down.candidate == qpsk and "no longer holds" in down.reason
    # the learned model at 1 dB: QPSK 1/2 (2 dB cliff) would need 2.5 dB + 1 dB to take over
    learned = t.choose(1.0, PIXELS).candidate
    assert t.choose(3.0, PIXELS, current=learned, hysteresis_db=1.0).candidate == learned
    assert t.choose(3.5, PIXELS, current=learned, hysteresis_db=1.0).candidate == qpsk


def test_the_kept_pick_is_sent_first_and_a_pick_that_cannot_fit_falls_back():
    auto_tx = module("cli.auto_tx")
    t = table()
    qpsk = t.choose(10, PIXELS).candidate
    kept = t.choose(13.0, PIXELS, current=qpsk, hysteresis_db=1.0)
    assert kept.ranked[0][0] != qpsk  # 64-QAM ranks first at 13 dB, the hysteresis keeps QPSK
    assert auto_tx.encode_first(kept, lambda c: c.link) == (qpsk, "qpsk/ldpc-1/2", "")

    def no_conventional(c):
        if c.family != "learned":
            raise errors.SemcomError("budget too small")
        return "sent"
    candidate, result, note = auto_tx.encode_first(t.choose(20, PIXELS), no_conventional)
    assert (candidate.codec, result) == ("m", "sent") and "avif 64qam/ldpc-1/2 cannot send it" in note
    with pytest.raises(errors.SemcomError, match="no candidate can send this image"):
        auto_tx.encode_first(t.choose(-6, PIXELS), lambda c: no_conventional(auto.Candidate("x", "qpsk", "x")))


def test_small_budgets_and_broken_profiles():
    t = table()
    # 64x64 at cpp 1/16: 256 channel uses carry no whole 1800-bit codeword: conventional is no candidate
    assert [c.family for c, _ in t.ranked(20, 64 * 64)] == ["learned"]
    with pytest.raises(errors.SemcomError, match="--sscc-profile"):
        auto.ConventionalProfile({"codecs": {"avif": {"bpp": [0.1], "psnr_db": [20]}}, "links": {}})
    with pytest.raises(errors.SemcomError, match="nothing to pick"):
        auto.RateTable({}, None, 1 / 16)
    with pytest.raises(errors.SemcomError, match="cannot read the conventional rate profile"):
        auto.ConventionalProfile.load("/nonexistent/sscc_profile.json")


def test_the_shipped_table_picks_learned_at_minus_6_and_conventional_at_20_db():
    t = auto.RateTable.installed(1 / 16)
    low, high = t.choose(-6, PIXELS), t.choose(20, PIXELS)
    assert low.candidate.family == "learned" and low.candidate.codec.startswith("bitsemcom")
    assert high.candidate.family == "conventional" and high.candidate.link.startswith(("16qam", "64qam"))
    assert high.predicted_db > low.predicted_db + 5


def test_auto_series_and_profile_from_rows(tmp_path):
    sweep = module("evaluation.sweep")
    profile_mod = module("evaluation.sscc_profile")
    rows = []
    for snr, (learned, conv, lost) in {-6: (19.0, 11.5, True), 20: (22.0, 30.0, False)}.items():
        rows.append({"image": "a.png", "codec": "m", "family": "learned", "link": "qpsk", "channel": "awgn",
                     "snr_db": snr, "psnr_db": learned, "ms_ssim": 0.5, "lost": False, "reason": "",
                     "payload_bits": 49152, "channel_uses": 24576})
        rows.append({"image": "a.png", "codec": "avif", "family": "conventional", "link": "64qam/ldpc-1/2",
                     "channel": "awgn", "snr_db": snr, "psnr_db": conv, "ms_ssim": 0.9, "lost": lost,
                     "reason": "fec" if lost else "", "payload_bits": 81 * 902, "channel_uses": 24576})
    picked = sweep.codec_auto_rows(rows, 1 / 16, table())
    assert [(r["snr_db"], r["link"], r["psnr_db"]) for r in picked] == [(-6, "m@qpsk", 19.0),
                                                                       (20, "avif@64qam/ldpc-1/2", 30.0)]
    lines = sweep.auto_table(rows + picked, "awgn")
    assert "| -6 | 19.00 | 11.50 | 19.00 | 19.00 | +0.00 | 19.00 (m@qpsk) | +0.00 | m@qpsk x1 |" in lines
    assert ("| 20 | 22.00 | 30.00 | 30.00 | 30.00 | +0.00 | 30.00 (avif@64qam/ldpc-1/2) | +0.00 | "
            "avif@64qam/ldpc-1/2 x1 |") in lines
    choice = sweep.choice_table(rows + picked, "awgn")
    assert "| -6 dB | m qpsk (19.00) | avif 64qam/ldpc-1/2 (11.50) | m qpsk (19.00) |" in choice
    assert "| 20 dB | m qpsk (22.00) | avif 64qam/ldpc-1/2 (30.00) | avif 64qam/ldpc-1/2 (30.00) |" in choice
    assert sweep.choice_table(rows, "awgn") == []  # no auto rows, no table
    points = profile_mod.rate_points(rows, 1 / 16)
    assert points["avif"]["psnr_db"] == [30.0] and points["avif"]["bpp"] == [round((81 * 902 - 64) / PIXELS, 6)]


def test_auto_table_sets_the_envelope_apart_from_the_best_single_link():
    """Two links that each decode one of two images: the envelope takes both decodes (an oracle of
    the noise), the best single link only one."""
    sweep = module("evaluation.sweep")
    rows = []
    for image, decoded in (("a.png", "16qam/ldpc-2/3"), ("b.png", "16qam/ldpc-3/4")):
        for link in ("16qam/ldpc-2/3", "16qam/ldpc-3/4"):
            rows.append({"image": image, "codec": "avif", "family": "conventional", "link": link, "channel": "awgn",
                         "snr_db": 10, "psnr_db": 30.0 if link == decoded else 10.0, "ms_ssim": 0.9,
                         "lost": link != decoded, "reason": "", "payload_bits": 1, "channel_uses": 1})
        rows.append({**rows[-2], "codec": "auto", "family": "picked", "link": "avif@16qam/ldpc-2/3"})
    lines = sweep.auto_table(rows, "awgn")
    assert "| 10 | - | 30.00 | 30.00 | 20.00 | -10.00 | 20.00 (avif@16qam/ldpc-3/4) | +0.00 | " \
           "avif@16qam/ldpc-2/3 x2 |" in lines


def test_link_threshold_is_where_every_codeword_decodes():
    profile_mod = module("evaluation.sscc_profile")
    link = module("phy.link").LinkConfig.parse("bpsk/ldpc-1/2")
    found = profile_mod.link_threshold(link, codewords=40)
    assert -2.0 <= found["threshold_db"] <= 0.5
    assert all(rate == 0 for s, rate in found["cwer"].items() if float(s) >= found["threshold_db"])
    assert any(rate > 0 for rate in found["cwer"].values())


def test_feedback_messages():
    feedback = module("cli.feedback")
    assert feedback.parse_message(json.dumps({"frame": 3, "snr_est_db": -2.5}).encode())["snr_est_db"] == -2.5
    for bad in (b"\xff", b"[1]", json.dumps({"snr_est_db": "NaN"}).encode(), b'{"snr_est_db": true}',
                b'{"frame": 1}', b"x" * 5000):
        with pytest.raises((ValueError, UnicodeDecodeError)):
            feedback.parse_message(bad)
