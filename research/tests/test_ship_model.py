"""research/ship_model.py: a run replaces a shipped model only if it scores better, and then the
model's int8 decoder, rate profile and lineage come with it."""
import json
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("torch")
from gnuradio.semcom.training import export, trainer  # noqa: E402

from plain import REPO  # noqa: E402

SMOKE = os.path.join(REPO, "configs", "smoke_synthetic.json")
PHOTOS = os.path.join(REPO, "examples", "images")


def ship(run, models, history, *extra):
    return subprocess.run([sys.executable, os.path.join(REPO, "research", "ship_model.py"), str(run), "smoke",
                           "--models", str(models), "--history", str(history), "--images", PHOTOS, "--snr", "3", *extra],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})


@pytest.mark.slow
def test_a_run_replaces_a_shipped_model_only_when_better(tmp_path):
    models, history = tmp_path / "models", tmp_path / "history"
    first = trainer.Trainer(trainer.load_config(SMOKE), str(tmp_path / "a"), progress=False)
    first.fit()
    export.export_file(first.save_final(), str(models / "smoke"), model_id="smoke")
    shipped = (models / "smoke" / "card.json").read_text()

    same = ship(tmp_path / "a", models, history)  # equal scores: not better
    assert same.returncode != 0 and "not shipped" in same.stderr
    assert (models / "smoke" / "card.json").read_text() == shipped and not history.exists()

    more = trainer.Trainer(trainer.load_config(SMOKE, {"stage2_steps": 40}), str(tmp_path / "b"), progress=False)
    more.fit(init_from=str(models / "smoke"))
    more.save_final()
    done = ship(tmp_path / "b", models, history)
    assert done.returncode == 0, done.stdout + done.stderr
    card = json.loads((models / "smoke" / "card.json").read_text())
    assert card["cumulative_steps"] == 30 + 60 and card["continued_from"]["cumulative_steps"] == 30
    assert "rate_matching" in card and "int8" in card and (models / "smoke" / "decoder.int8.onnx").is_file()
    assert json.loads((history / "smoke_card_30.json").read_text()) == json.loads(shipped)
    assert (history / "smoke_continue_30-90_log.csv").is_file()
    curve = subprocess.run([sys.executable, os.path.join(REPO, "research", "training_curve.py"), "--lineage", "smoke",
                            "--history", str(history), "--models", str(models),
                            "--out", str(tmp_path / "curve")], capture_output=True, text=True, timeout=120)
    assert curve.returncode == 0, curve.stderr
    text = (tmp_path / "curve.md").read_text()
    assert "| 90 |" in text and (tmp_path / "curve.png").is_file()
    ends = [json.loads(shipped)["val_psnr_db"]["error_free"], card["val_psnr_db"]["error_free"]]
    assert f"The last run added {ends[1] - ends[0]:+.2f} dB" in text

    # a run from the shipped model that buys nothing (no learning) is refused but kept for the curve
    still = trainer.Trainer(trainer.load_config(SMOKE, {"lr": 1e-12}), str(tmp_path / "c"), progress=False)
    still.fit(init_from=str(models / "smoke"))
    still.save_final()
    refused = ship(tmp_path / "c", models, history)
    assert refused.returncode != 0 and "not shipped" in refused.stderr
    assert json.loads((models / "smoke" / "card.json").read_text()) == card
    assert (history / "smoke_tried_90-120_log.csv").is_file()
    assert "compare" in json.loads((history / "smoke_tried_90-120_card.json").read_text())
    curve = subprocess.run([sys.executable, os.path.join(REPO, "research", "training_curve.py"), "--lineage", "smoke",
                            "--history", str(history), "--models", str(models),
                            "--out", str(tmp_path / "curve")], capture_output=True, text=True, timeout=120)
    assert curve.returncode == 0, curve.stderr
    assert "Not shipped" in (tmp_path / "curve.md").read_text() and "The last run (not shipped)" in curve.stdout

    # a refused run from a model since replaced (here the first one, at 30 steps) stays in the record
    for kind in ("log.csv", "card.json"):
        shutil.copy(history / f"smoke_tried_90-120_{kind}", history / f"smoke_tried_30-120_{kind}")
    curve = subprocess.run([sys.executable, os.path.join(REPO, "research", "training_curve.py"), "--lineage", "smoke",
                            "--history", str(history), "--models", str(models),
                            "--out", str(tmp_path / "curve")], capture_output=True, text=True, timeout=120)
    assert curve.returncode == 0, curve.stderr
    text = (tmp_path / "curve.md").read_text()
    assert text.count("Not shipped") == 2 and "from the shipped model of 30 steps (since replaced)" in text
    assert "The last run (not shipped)" in text  # the gain still counts from the current shipped model


class _Offset:
    """A stand-in model whose reconstruction is the photo plus a constant (PSNR set by ``offset``)."""

    def __init__(self, card, offset):
        self.card, self.offset = card, offset

    def encode(self, image):
        self.last = image
        return (image[..., 0] > 127).astype("uint8").ravel()

    def decode(self, bits, h, w):
        import numpy as np
        return np.clip(self.last.astype(np.float32) + self.offset, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("same_data", [True, False])
def test_the_validation_rule_compares_the_same_crops_when_the_cards_come_from_other_data(same_data, monkeypatch,
                                                                                          capsys):
    import importlib
    monkeypatch.syspath_prepend(os.path.join(REPO, "research"))
    compare = importlib.import_module("compare_models")
    # the old card scored 30 dB on its own (other) data set; measured on the same crops the new model is better
    models = {"old": _Offset({"dataset_hash": "a", "val_psnr_db": {"error_free": 30.0}}, 12),
              "new": _Offset({"dataset_hash": "a" if same_data else "b", "val_psnr_db": {"error_free": 25.0}}, 4)}
    monkeypatch.setattr(compare, "OnnxModel", lambda folder: models[folder])
    monkeypatch.setattr("sys.argv", ["compare_models.py", "old", "new", "--images", PHOTOS])
    compare.main()
    report = json.loads(capsys.readouterr().out)
    assert report["new_better"] is (not same_data)  # same data: the cards' 30 > 25 decides
    if not same_data:
        old, new = report["models"]
        assert new["val_same_crops"] > old["val_same_crops"] and "same" in report["val_rule"]
