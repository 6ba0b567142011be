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
