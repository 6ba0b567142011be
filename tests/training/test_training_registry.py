"""A method added in one file (tiny_method.py) trains, exports, continues and runs as a codec through
the same registry paths as the shipped methods."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gnuradio.semcom import methods, metrics  # noqa: E402
from gnuradio.semcom.codecs import registry as codecs  # noqa: E402
from gnuradio.semcom.codecs.base import Received  # noqa: E402
from gnuradio.semcom.codecs.neural import ModelCodec  # noqa: E402
from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.phy.link import LinkConfig  # noqa: E402
from gnuradio.semcom.training import export, models, registry, trainer  # noqa: E402

import tiny_method  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE = os.path.join(ROOT, "configs", "smoke_synthetic.json")
TINY = {"model": {"method": tiny_method.NAME}, "stage1_steps": 2, "stage2_steps": 1, "val": {"every": 3},
        "checkpoint_every": 3}


def test_a_new_method_trains_exports_and_runs_as_a_codec(tmp_path):
    torch.set_num_threads(1)
    cfg = trainer.load_config(SMOKE, TINY)
    assert cfg["model"]["latent_channels"] == 32  # the default rule: qpsk at cpp 1/16
    assert isinstance(models.build(cfg["model"]), tiny_method.Tiny)
    summary = trainer.Trainer(cfg, str(tmp_path / "run"), progress=False).fit()
    assert summary["step"] == 3
    folder = str(tmp_path / "tiny-model")
    card = export.export_file(str(tmp_path / "run" / "model.pt"), folder)
    assert card["codec"] == tiny_method.NAME and card["variant"] == tiny_method.NAME
    assert card["parity_max_abs_diff"]["decoder"] <= export.PARITY_TOL
    codec = codecs.get(folder)  # the runtime class its method names (methods.Method.codec)
    assert isinstance(codec, ModelCodec)
    image = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
    link = LinkConfig("qpsk", codec.default_fec)
    enc = codec.encode(image, link, 64 * 96 // 16)
    assert len(enc.bits) == 32 * 4 * 6
    llrs = np.where(enc.bits > 0, 8.0, -8.0).astype(np.float32)
    out = codec.decode(Received(enc.bits, llrs, True, {**enc.meta, "height": 64, "width": 96})).image
    assert out.shape == image.shape and metrics.psnr(image, out) > 5
    fresh = models.build(cfg["model"])
    assert export.load_onnx_weights(fresh, folder)["codec"] == tiny_method.NAME  # training continues from it


def test_unknown_method_is_one_line():
    with pytest.raises(SemcomError, match="unknown method 'nope'; choose one of .*bitsemcom"):
        registry.get("nope")
    with pytest.raises(SemcomError, match="unknown method"):
        trainer.load_config(SMOKE, {"model": {"method": "nope"}})
    assert {"bitsemcom", "ampsc", "mvqvae", tiny_method.NAME} <= set(methods.names())
