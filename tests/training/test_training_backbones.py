"""Backbone options (GDN/IGDN, squeeze-excitation, transposed-conv upsampling, width/depth): shapes,
what GDN computes, unchanged default layers, and ONNX export with dynamic H and W."""
import os

import pytest

torch = pytest.importorskip("torch")
from gnuradio.semcom.training import export, models, trainer  # noqa: E402

OPTIONS = [{"act": "gdn"}, {"se": True}, {"upsample": "deconv"}, {"channels": [8, 8, 12, 16], "blocks": 2}]


@pytest.mark.parametrize("opts", OPTIONS)
def test_options_build_and_keep_the_shapes(opts):
    torch.manual_seed(0)
    m = models.BitSemCom(32, "tiny", **opts)
    x = torch.rand(1, 3, 48, 80)
    out = m(x)
    assert out.shape == x.shape and m.encoder(x).shape == (1, 32, 3, 5)
    assert m.backbone == models.resolve_backbone("tiny", **opts)
    out.mean().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_gdn_divides_and_igdn_multiplies_by_the_norm():
    g, ig = models.GDN(2), models.GDN(2, inverse=True)
    with torch.no_grad():
        for m in (g, ig):
            m.beta.fill_(1.0)
            m.gamma.copy_(torch.tensor([[1.0, 0.0], [1.0, 1.0]]))  # gamma = squares: [[1,0],[1,1]]
    x = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
    norm = torch.tensor([(1 + 9) ** 0.5, (1 + 9 + 16) ** 0.5]).view(1, 2, 1, 1)
    assert torch.allclose(g(x), x / norm, atol=1e-5) and torch.allclose(ig(x), x * norm, atol=1e-5)


def test_default_layers_are_the_shipped_ones():
    """Options off: the same parameter names and shapes as before the options existed."""
    import hashlib
    m = models.BitSemCom(32, "small")
    layout = ";".join(f"{k}:{tuple(v.shape)}" for k, v in m.state_dict().items())
    assert hashlib.sha256(layout.encode()).hexdigest()[:16] == "d813b5c505a7d605"  # models.py of 24e6ab8
    assert models.count_params(m) == 2046764
    with pytest.raises(ValueError, match="unknown model option"):
        models.BitSemCom(32, "tiny", width=3)
    with pytest.raises(ValueError):
        models.BitSemCom(32, "tiny", act="relu")


def test_onnx_export_of_gdn_se_deconv_with_dynamic_size(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    import numpy as np
    cfg = trainer.load_config({"model": {"preset": "tiny", "act": "gdn", "se": True, "upsample": "deconv"},
                               "data": {"synthetic": 2}, "recipe": [{"steps": 1}]})
    torch.manual_seed(1)
    model = models.build(cfg["model"]).eval()
    card = export.export(model, {"config": cfg, "step": 1}, str(tmp_path), "gdn-test")
    assert card["backbone"] == {"arch": "cnn", "channels": [8, 12, 16, 16], "blocks": 0, "act": "gdn", "se": True,
                                "upsample": "deconv"}
    assert card["parity_max_abs_diff"]["decoder"] <= export.PARITY_TOL
    dec = ort.InferenceSession(os.path.join(tmp_path, "decoder.onnx"), providers=["CPUExecutionProvider"])
    p1 = np.random.default_rng(0).random((1, 32, 5, 7), dtype=np.float32)
    img, = dec.run(["image"], {"p1": p1})
    with torch.no_grad():
        ref = model.decoder(torch.from_numpy(p1)).numpy()
    assert img.shape == (1, 3, 80, 112) and np.abs(img - ref).max() < 1e-4


def test_swin_backbone_trains_and_exports_with_dynamic_size(tmp_path):
    """The paper's Swin backbone on a tiny config: a few training steps lower the loss, and the ONNX
    files match torch at sizes whose feature maps are not multiples of the window."""
    ort = pytest.importorskip("onnxruntime")
    import numpy as np
    paper = models.resolve_backbone("paper")
    assert paper == {"arch": "swin", "dims": [128, 192, 256, 320], "depths": [2, 2, 6, 2], "window": 8}
    cfg = trainer.load_config({"model": {"preset": "swin-tiny"}, "data": {"synthetic": 4, "crop": 64, "batch": 2},
                               "lr": 2e-3, "recipe": [{"steps": 8}], "threads": 1})
    t = trainer.Trainer(cfg, str(tmp_path / "run"), progress=False)
    sampler = t._sampler()
    losses = [t.train_step(next(sampler)) for _ in range(8)]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    model = t.model.eval()
    card = export.export(model, {"config": cfg, "step": 8}, str(tmp_path / "onnx"), "swin-test")
    assert card["backbone"]["arch"] == "swin" and card["parity_max_abs_diff"]["encoder_logits"] <= export.PARITY_TOL
    enc = ort.InferenceSession(str(tmp_path / "onnx" / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(tmp_path / "onnx" / "decoder.onnx"), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for h, w in ((48, 80), (144, 96)):  # 3x5 and 9x6 latents; windows of 4 need padding
        x = rng.random((1, 3, h, w), dtype=np.float32)
        _, logits = enc.run(["bits", "logits"], {"image": x})
        img, = dec.run(["image"], {"p1": 1 / (1 + np.exp(-logits))})
        with torch.no_grad():
            ref_logits = model.encoder.logits(torch.from_numpy(x))
            ref_img = model.decoder(torch.sigmoid(ref_logits))
        assert logits.shape == (1, 32, h // 16, w // 16) and img.shape == (1, 3, h, w)
        assert np.abs(logits - ref_logits.numpy()).max() < 1e-3 and np.abs(img - ref_img.numpy()).max() < 1e-4
