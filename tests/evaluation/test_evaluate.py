"""semcom-eval's series, merging and findings on hand-made rows (no flowgraph)."""
try:
    from gnuradio.semcom.evaluation import sweep as evaluate
except ImportError:  # without GNU Radio the plain module still imports from the source tree
    from semcom.evaluation import sweep as evaluate


def row(codec, family, snr, psnr, image="a.png", link="qpsk"):
    return {"image": image, "codec": codec, "family": family, "link": link, "channel": "awgn",
            "snr_db": snr, "psnr_db": psnr, "ms_ssim": 0.5, "lost": False, "reason": "",
            "payload_bits": 1, "channel_uses": 1}


ROWS = [row("avif", "conventional", s, p, link="qpsk/ldpc-1/2") for s, p in ((0, 12.0), (3, 25.0), (6, 25.0))] + \
       [row("webp", "conventional", s, p, link="bpsk/ldpc-1/2") for s, p in ((0, 20.0), (3, 21.0), (6, 21.0))] + \
       [row("net", "learned", s, p) for s, p in ((0, 21.0), (3, 22.0), (6, 22.5))]


def test_envelope_is_best_conventional_only():
    summary = evaluate.series(ROWS)
    env = summary[("awgn", evaluate.ENVELOPE)]
    assert [env[s][0] for s in (0, 3, 6)] == [20.0, 25.0, 25.0]  # the learned codec never enters it


def test_findings_gain_and_largest_drop():
    text = evaluate.findings(ROWS, ["net"])
    net = next(line for line in text.splitlines() if line.startswith("| net "))
    assert "| 1 | +1.00 | -3.00 | -2.50 |" in net and "1.00 dB (3 to 0 dB)" in net
    env = next(line for line in text.splitlines() if line.startswith(f"| {evaluate.ENVELOPE} "))
    assert "5.00 dB (3 to 0 dB)" in env


def test_merge_keeps_points_not_rerun():
    old = ROWS
    new = [row("net", "learned", 0, 30.0)]
    merged = evaluate.merge_rows(old, new)
    assert len(merged) == len(ROWS)
    assert [r["psnr_db"] for r in merged if r["codec"] == "net" and r["snr_db"] == 0] == [30.0]


def test_gains_compare_the_same_images():
    """A learned codec that skips an image is compared with the envelope on the images it sent."""
    nan = float("nan")
    rows = ROWS + [row("avif", "conventional", s, 40.0, image="b.png", link="qpsk/ldpc-1/2") for s in (0, 3, 6)] + \
        [row("net", "learned", s, nan, image="b.png") for s in (0, 3, 6)]
    text = evaluate.findings(rows, ["net"])
    net = next(line for line in text.splitlines() if line.startswith("| net "))
    assert "| 1 | +1.00 | -3.00 | -2.50 |" in net  # not against the 2-image envelope (30, 32.5, 32.5)
    table = evaluate.markdown_table(evaluate.series(rows), 1 / 16, 2, evaluate.covered_images(rows))
    assert "| net | 1 |" in table and f"| {evaluate.ENVELOPE} | 2 |" in table


# two learned models over two modulations on two images, with a conventional row above them all
A, B = "a.png", "b.png"
LEARNED_ROWS = [row("m1", "learned", s, p, image=i, link=k) for s, i, k, p in (
    (0, A, "qpsk", 20.0), (0, A, "16qam", 15.0), (0, B, "qpsk", 18.0), (0, B, "16qam", 19.0),
    (10, A, "qpsk", 22.0), (10, A, "16qam", 25.0), (10, B, "qpsk", 21.0), (10, B, "16qam", 24.0))] + \
    [row("m2", "learned", s, p, image=i, link=k) for s, i, k, p in (
        (0, A, "qpsk", 19.0), (0, B, "qpsk", 18.5), (10, A, "qpsk", 26.0), (10, B, "qpsk", 20.0))] + \
    [row("avif", "conventional", s, 40.0, image=i, link="qpsk/ldpc-1/2") for s in (0, 10) for i in (A, B)]


def test_learned_envelope_is_best_learned_row_per_image():
    env = evaluate.series(LEARNED_ROWS)[("awgn", evaluate.LEARNED_ENVELOPE)]
    assert env[0][0] == (20.0 + 19.0) / 2 and env[10][0] == (26.0 + 24.0) / 2  # the 40 dB AVIF rows never enter
    assert evaluate.series(LEARNED_ROWS)[("awgn", evaluate.ENVELOPE)][0][0] == 40.0
    assert evaluate.covered_images(LEARNED_ROWS)[("awgn", evaluate.LEARNED_ENVELOPE)] == {A, B}


def test_switch_points_by_mean_psnr_and_images_won():
    points = evaluate.switch_points(LEARNED_ROWS, "awgn")
    # 0 dB: m1 qpsk 19.0, m1 16qam 17.0, m2 qpsk 18.75; 10 dB: m1 16qam 24.5, m2 qpsk 23.0
    assert [(p["snr_db"], p["codec"], p["link"], p["psnr_db"], p["best_on"], p["images"]) for p in points] == \
        [(0, "m1", "qpsk", 19.0, 1, 2), (10, "m1", "16qam", 24.5, 1, 2)]
    text = evaluate.findings(LEARNED_ROWS, ["m1", "m2"])
    line = next(ln for ln in text.splitlines() if ln.startswith("| 10 |"))
    assert line.startswith("| 10 | 25.00 | 40.00 | -15.00 | m1@16qam | 24.50 | 1/2 | - | - |")


def test_auto_series_follows_the_curves_without_a_new_sweep():
    curves = {("m1", "qpsk"): {"0": 21.0, "10": 22.0}, ("m1", "16qam"): {"0": 15.0, "10": 25.0},
              ("m2", "qpsk"): {"0": 5.0, "10": 5.0}, ("m9", "qpsk"): {"0": 99.0, "10": 99.0}}  # m9: not in rows
    auto = evaluate.auto_rows(LEARNED_ROWS, 1 / 16, curves)
    assert {(r["snr_db"], r["image"], r["link"], r["psnr_db"]) for r in auto} == {
        (0, A, "m1@qpsk", 20.0), (0, B, "m1@qpsk", 18.0), (10, A, "m1@16qam", 25.0), (10, B, "m1@16qam", 24.0)}
    summary = evaluate.series(LEARNED_ROWS + auto)
    assert summary[("awgn", evaluate.AUTO)] == {0: (19.0, 0.5), 10: (24.5, 0.5)}
    assert summary[("awgn", evaluate.LEARNED_ENVELOPE)] == evaluate.series(LEARNED_ROWS)[("awgn", evaluate.LEARNED_ENVELOPE)]
    assert evaluate.auto_rows(LEARNED_ROWS, 1 / 16, {("m9", "qpsk"): {"0": 1.0}}) == []


def test_card_curves_are_mean_psnr_per_model_and_modulation():
    cards = evaluate.card_curves({"cpp": 0.0625, "rows": LEARNED_ROWS})
    assert set(cards) == {"m1", "m2"}  # learned codecs only
    assert cards["m1"]["psnr_db"] == {"qpsk": {"0": 19.0, "10": 21.5}, "16qam": {"0": 17.0, "10": 24.5}}
    assert (cards["m1"]["cpp"], cards["m1"]["images"], cards["m1"]["channel"]) == (0.0625, 2, "awgn")


def test_received_images_keep_the_best_link_per_point():
    import numpy as np
    kept = evaluate.ReceivedImages()
    worse, better = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 9, np.uint8)
    kept(row("avif", "conventional", 3, 20.0, link="qpsk/ldpc-1/2"), worse)
    kept(row("avif", "conventional", 3, 25.0, link="bpsk/ldpc-1/2"), better)
    kept(row("avif", "conventional", 3, 22.0, link="16qam/ldpc-1/2"), worse)
    best_row, image = kept.best[("a.png", "avif", "awgn", 3)]
    assert best_row["link"] == "bpsk/ldpc-1/2" and image is better
    assert len(kept.best) == 1
