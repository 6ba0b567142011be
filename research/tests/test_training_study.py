"""Study tools: the recipe scaled to a step budget, the level-off fit, the results table."""
import json
import sys
import os

import numpy as np
import pytest

pytest.importorskip("torch")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import study  # noqa: E402 (research/study.py)
from semcom.training import trainer  # noqa: E402

SMALL = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "bitsemcom_qpsk_cpp16_small.json")


def test_scaled_recipe_keeps_the_proportions_of_the_small_preset():
    cfg = study.scaled(trainer.load_config(SMALL), 300)
    assert [s["steps"] for s in cfg["recipe"]] == [100, 200]
    assert cfg["lr_decay"]["every"] == 100 and cfg["val"]["every"] == 50 and cfg["val"]["snrs"] == [3.0]
    t = trainer.Trainer.__new__(trainer.Trainer)
    t.cfg, t.stages, t.total_steps, t.step = cfg, cfg["recipe"], 300, 0
    assert t.lr(99) == pytest.approx(4e-4) and t.lr(100) == pytest.approx(2.4e-4)


def test_level_off_fit_finds_the_plateau():
    t = np.linspace(0.05, 1.0, 12)
    fit = study.level_off(t, 24.0 - 6.0 * np.exp(-t / 0.4))
    assert fit["plateau_db"] == pytest.approx(24.0, abs=0.05) and fit["tau"] == pytest.approx(0.4, rel=0.05)
    assert fit["within_0.5db_at"] == pytest.approx(0.4 * np.log(12), rel=0.05)


def test_report_table_and_deltas(tmp_path):
    for name, ef, s3 in (("baseline", 14.0, 13.0), ("gdn", 15.0, 13.5)):
        os.makedirs(tmp_path / name)
        (tmp_path / name / "summary.json").write_text(json.dumps({
            "variant": name, "overrides": study.VARIANTS[name], "steps": 100, "steps_per_s": 1.0, "params": 2e6,
            "val_psnr": {"error_free": ef, "3": s3}}))
        (tmp_path / name / "log.csv").write_text(
            "step,train_s,val_psnr_error_free,val_psnr_snr3\n50,50.0,12.0,11.0\n100,100.0,%s,%s\n" % (ef, s3))
    done = study.report(str(tmp_path), str(tmp_path / "t.md"), str(tmp_path / "t.png"))
    table = (tmp_path / "t.md").read_text()
    assert len(done) == 2 and "| gdn |" in table and "+1.00 / +0.50" in table
    assert (tmp_path / "t.png").stat().st_size > 1000


def test_runs_of_equal_steps_compare_at_the_validations_they_share(tmp_path):
    logs = {"a": "50,50.0,12.0,11.0\n100,100.0,14.0,13.0\n",
            "b": "50,60.0,12.5,11.5\n75,90.0,9.0,9.0\n100,120.0,13.25,12.5\n"}
    for name, rows in logs.items():
        os.makedirs(tmp_path / name)
        (tmp_path / name / "log.csv").write_text("step,train_s,val_psnr_error_free,val_psnr_snr3\n" + rows)
    study.main(["--runs", f"first={tmp_path / 'a'}", str(tmp_path / "b"), "--report", str(tmp_path / "t.md"),
                "--plot", str(tmp_path / "t.png")])
    table = (tmp_path / "t.md").read_text().splitlines()
    assert "| steps | first | b |" in table
    assert "| 100 | 14.00 / 13.00 | 13.25 / 12.50 |" in table and not any(r.startswith("| 75 ") for r in table)
    assert (tmp_path / "t.png").stat().st_size > 1000
