"""research/ampsc_study.py: the UEP table against the paper's mapping."""
import os


def test_the_study_table_reports_each_gain_against_the_papers_mapping():
    import importlib
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    study = importlib.import_module("ampsc_study")
    point = lambda p, m: {"psnr_db": p, "ms_ssim": m}  # noqa: E731
    summary = {"awgn/ampsc-b4-16qam-cpp16-hard": {"0.0": point(14.0, 0.4), "18.0": point(20.0, 0.8)},
               "awgn/ampsc-b4-16qam-cpp16-uep-hard": {"0.0": point(15.5, 0.5), "18.0": point(20.0, 0.8)},
               "awgn/ampsc-b4-16qam-cpp16-uep-ft-hard": {"0.0": point(16.0, 0.55)}}
    text = study.uep_table({"images": 12, "summary": summary}, [4], [0, 18])
    assert "| 0 | 14.00 / 0.400 | 15.50 / 0.500 | +1.50 | 16.00 / 0.550 | +2.00 |" in text
    assert "| 18 | 20.00 / 0.800 | 20.00 / 0.800 | +0.00 |  |  |" in text
    assert "| mean | 17.00 / 0.600 | 17.75 / 0.650 | +0.75 |  |  |" in text  # not over a partial series
    assert "soft receiver" not in text and "12 Kodak-like" in text
