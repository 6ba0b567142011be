"""AMP-SC: AD/DA conversion (eqs. 2, 5) round-trips every level, the AMP templates are Table II, the
flip ratio comes from the project's closed form and reproduces Table IV, every template trains to
the end with the right modules frozen, and an exported model runs in the ONNX runtime like the torch one."""
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.training import amp, ampsc, recipe, trainer  # noqa: E402


@pytest.mark.parametrize("bits", [2, 4])
def test_ad_then_da_returns_every_level_msb_first(bits):
    enc = ampsc.AmpEncoder(1, bits, (8, 8, 8, 8), 0)
    rx = ampsc.AmpReceiver(1, bits, (8, 8, 8, 8), 0, (8, 8, 8), irsnet=False)
    top = 2 ** (bits - 1)
    q = torch.arange(-(top - 1), top + 1, dtype=torch.float32).reshape(1, 1, 1, -1)
    b = enc.to_bits(q)
    assert b.shape == (1, bits, 1, q.shape[-1])
    level = q + top - 1
    for i in range(bits):  # plane i is bit (bits-1-i) of the level: plain binary, MSB first (eq. 2)
        assert torch.equal(b[0, i, 0], torch.floor(level[0, 0, 0] / 2 ** (bits - 1 - i)) % 2)
    assert torch.equal(rx.dac(b), q)  # eq. 5
    # soft input: the expected level, linear in each posterior
    half = torch.full_like(b, 0.5)
    assert torch.allclose(rx.dac(half), torch.full_like(q, (2 ** bits - 1) / 2 - (top - 1)))


def test_quantizer_range_and_straight_through():
    m = ampsc.AMPSC(64, 4, "tiny")
    x = torch.rand(2, 3, 32, 48, requires_grad=True)
    xt = m.encoder.analog(x)
    q = m.encoder.quantize(xt)
    assert q.min() >= -7 and q.max() <= 8 and torch.equal(q, torch.round(q))
    q.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert m.encoder(x).shape == (2, 64, 2, 3)


def test_amp_sc_template_is_table_ii():
    t = 10
    stages = amp.expand({"template": "amp-sc", "T": t, "p": 0.0125})
    assert [s["steps"] for s in stages] == [4 * t, t, 4 * t, t, t, t, t, t, t]
    assert [s["lr"] for s in stages] == [1e-4, 1e-5, 1e-4, 1e-4, 1e-4, 1e-4, 1.5e-5, 1.5e-5, 1.5e-5]
    assert all(s["loss"] == "l1" and s["lr_schedule"]["kind"] == "cosine" for s in stages)
    step3 = [s for s in stages if "step3" in s["name"]]
    step4 = [s for s in stages if "step4" in s["name"]]
    assert all(s["train"] == ["decoder"] and s["channel"]["kind"] == "bsc" and s["channel"]["hard"]
               and s["channel"]["flip_range"] == [0.0125, 0.0125] and s["channel"]["mask_ratio"] == 0.025
               for s in step3)
    assert all(s["train"] is None and s["channel"] == {"kind": "analog", "noise": 0.5, "mask_ratio": 0.025,
                                                       "restorer": True} for s in step4)
    assert stages[0]["channel"] == {"kind": "analog", "restorer": False}
    assert stages[1]["channel"]["noise"] == 0.5
    assert "mask_ratio" not in stages[-1]["channel"] and stages[-1]["train"] == ["decoder"]
    assert (stages[0]["snapshot"], stages[1]["snapshot"]) == ("conventional", "softq")


def test_baseline_templates():
    t = 10
    soft_amp = amp.expand({"template": "soft-amp", "T": t})
    assert [s["steps"] for s in soft_amp] == [4 * t] + [t] * 8  # Step 3 of round 1 is T without IRSNet
    assert all(s["channel"].get("mask_ratio", 0.0) == 0.0 for s in amp.expand({"template": "soft-amp-wo-matk", "T": t}))
    he22 = amp.expand({"template": "he22", "T": t})
    assert [s["name"] for s in he22] == ["step1-fe", "tta"] and "mask_ratio" in he22[1]["channel"]
    assert he22[1]["channel"]["mask_ratio"] == 0.0
    assert [s["name"] for s in amp.expand({"template": "soft-he22", "T": t, "start_after": "softq"})] == ["tta"]
    assert amp.expand({"template": "soft-he22-matk", "T": t})[-1]["channel"]["mask_ratio"] == 0.025
    assert [s["name"] for s in amp.expand({"template": "amp-sc", "T": t, "start_after": "fe"})][0] == "step2-softq"
    head = amp.expand({"template": "amp-sc", "T": t, "stop_after": "softq"})
    assert [(s["name"], s.get("snapshot")) for s in head] == [("step1-fe", "conventional"), ("step2-softq", "softq")]
    assert [s["name"] for s in amp.expand({"template": "amp-sc", "T": t, "start_after": "fe", "stop_after": "softq"})] \
        == ["step2-softq"]
    assert amp.model_options({"template": "soft-amp"}) == {"method": "ampsc", "irsnet": False}
    for bad in ({"template": "amp-sc", "T": 5, "stop_after": "tta"},
                {"template": "amp-sc", "T": 5, "start_after": "softq", "stop_after": "softq"},
                {"template": "he22", "T": 5, "stop_after": "softq"},
{"template": "nope", "T": 1}, {"template": "amp-sc"}, {"template": "amp-sc", "T": 0},
                {"template": "amp-sc", "T": 5, "p": 0.7}, {"template": "he22", "T": 5, "start_after": "softq"}):
        with pytest.raises(SemcomError):
            amp.expand(bad)


def test_flip_probability_is_the_closed_form_and_reproduces_table_iv():
    """Table IV's SNR is Eb/N0: our Gray 16-QAM closed form at Es/N0 = SNR + 6.02 dB gives its p within 0.5 %."""
    for snr, p in amp.PAPER_TABLE_IV.items():
        assert amp.flip_probability(snr, per_bit=True) == pytest.approx(p, rel=5e-3)
    assert amp.flip_probability(10.0) > 10 * amp.flip_probability(10.0, per_bit=True)
    # against a Monte-Carlo run of the training channel's own hard 16-QAM decisions
    ch = recipe.Channel({"kind": "hard", "fading": "awgn", "snr_range": [8, 8], "block_len": 64}, "16qam")
    torch.manual_seed(0)
    bits = (torch.rand(4, 40000) < 0.5).float()
    measured = float((ch(bits, 8.0) != bits).float().mean())
    assert measured == pytest.approx(amp.flip_probability(8.0), rel=0.05)


def smoke_cfg(template="amp-sc", **over):
    base = {"name": f"amp-{template}", "model": {"method": "ampsc", "preset": "tiny", "bits": 4},
            "modulation": "16qam", "cpp": "1/16",
            "data": {"synthetic": 4, "crop": 32, "batch": 2, "val_crop": 64, "val_images": 1},
            "recipe": {"template": template, "T": 2},
            "val": {"every": 1000, "snrs": [12.0], "channel": {"kind": "hard", "fading": "awgn"}},
            "checkpoint_every": 100, "log_every": 4, "threads": 1, "precision": "fp32"}
    return trainer.load_config(base, over)


def _weights(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_amp_trains_every_stage_with_the_right_modules_frozen(tmp_path):
    cfg = smoke_cfg()
    assert cfg["model"]["irsnet"]
    t = trainer.Trainer(cfg, str(tmp_path / "run"), progress=False)
    t.sampler = t._sampler()
    seen = {}
    for _ in range(t.total_steps):
        index = t.stage() - 1
        before = (_weights(t.model.encoder), _weights(t.model.decoder.restorer), _weights(t.model.decoder.synthesis))
        t.train_step(next(t.sampler))
        t.step += 1
        after = (_weights(t.model.encoder), _weights(t.model.decoder.restorer), _weights(t.model.decoder.synthesis))
        changed = tuple(any(not torch.equal(a[k], b[k]) for k in a) for a, b in zip(before, after))
        seen[t.stages[index]["name"]] = changed
    assert seen["step1-fe"] == (True, False, True)  # FE: encoder and decoder, no IRSNet yet
    assert seen["round1-step3-dec"] == (False, True, True)  # decoder + IRSNet through the digital chain
    assert seen["round1-step4-joint"] == (True, True, True)
    assert seen["step5-tta"] == (False, True, True)
    # the IRSNet term is part of the digital stages' loss
    t.model.train()
    x = next(t.sampler)
    t.model(x, t.channels[-1])
    assert t.model.extra_loss() is not None and float(t.model.extra_loss().detach()) > 0
    t.model(x, t.channels[0])
    assert t.model.extra_loss() is None


def test_snapshots_start_the_baselines(tmp_path):
    run = tmp_path / "amp"
    trainer.Trainer(smoke_cfg(), str(run), progress=False).fit()
    assert (run / "snapshot_conventional.pt").exists() and (run / "snapshot_softq.pt").exists()
    for name in ("conventional", "softq"):  # validated when taken, not the run's last validation
        assert torch.load(run / f"snapshot_{name}.pt", weights_only=False)["val_psnr"]["error_free"] > 0
    cfg = smoke_cfg("soft-he22", recipe={"template": "soft-he22", "T": 2, "start_after": "softq"})
    assert not cfg["model"]["irsnet"] and [s["name"] for s in cfg["recipe"]] == ["tta"]
    t = trainer.Trainer(cfg, str(tmp_path / "softhe22"), progress=False)
    summary = t.fit(init_from=str(run / "snapshot_softq.pt"))
    assert summary["step"] == 2 and t.continued_from["model_id"].endswith("snapshot_softq.pt")
    softq = torch.load(run / "snapshot_softq.pt", weights_only=False)["model"]
    assert torch.equal(t.model.state_dict()["encoder.net.0.body.0.weight"], softq["encoder.net.0.body.0.weight"])
    with pytest.raises(SemcomError, match="no weights"):
        bits = trainer.Trainer(trainer.load_config(
            {"name": "b", "model": {"preset": "tiny"}, "data": {"synthetic": 2, "crop": 32, "batch": 1},
             "recipe": [{"steps": 1}], "threads": 1, "precision": "fp32"}), str(tmp_path / "b"), progress=False)
        bits.fit(init_from=str(run / "snapshot_softq.pt"))


def test_exported_amp_sc_runs_in_onnxruntime_like_torch(tmp_path):
    pytest.importorskip("onnxruntime")
    from gnuradio.semcom.codecs import neural, registry
    from gnuradio.semcom.training import export
    run = tmp_path / "amp"
    t = trainer.Trainer(smoke_cfg(), str(run), progress=False)
    t.fit()
    card = export.export_file(str(run / "model.pt"), str(tmp_path / "ampsc-tiny"))
    assert card["codec"] == "ampsc" and card["variant"] == "amp-sc" and card["quantizer_bits"] == 4
    assert card["latent_channels"] == 64 and card["bit_decision"] == "threshold"
    with open(tmp_path / "ampsc-tiny" / "card.json") as f:
        assert json.load(f)["recipe_template"]["template"] == "amp-sc"
    model, _ = trainer.load_model(str(run / "model.pt"))
    export.round_weights_to_fp16(model)
    rng = np.random.default_rng(1)
    image = (rng.random((40, 56, 3)) * 255).astype(np.uint8)
    onnx_model = neural.OnnxModel(str(tmp_path / "ampsc-tiny"))
    bits = onnx_model.encode(image)
    x = torch.from_numpy(np.pad(image, ((0, 8), (0, 8), (0, 0)), mode="reflect")).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        want = model.encoder(x).reshape(-1).numpy()
        assert np.mean(bits != want) < 1e-3
        out = model.decoder(torch.from_numpy(want.reshape(1, 64, 3, 4)))[0].permute(1, 2, 0).numpy()
    got = onnx_model.decode(want.astype(np.float32), 40, 56)
    assert np.abs(got.astype(int) - (np.clip(out[:40, :56], 0, 1) * 255 + 0.5).astype(int)).max() <= 1
    codec = registry.get(str(tmp_path / "ampsc-tiny"), hard=True)
    assert codec.name == "ampsc-tiny-hard"


def test_amp_sc_codec_rate_matches_and_refuses_bad_frames(tmp_path):
    """Through the shared codec machinery: any budget is sent exactly (punctured or repeated), a
    frame with the wrong bit count or for another model is refused with ValueError (a dropped frame)."""
    pytest.importorskip("onnxruntime")
    from gnuradio.semcom.codecs import registry
    from gnuradio.semcom.codecs.base import Received
    from gnuradio.semcom.phy.link import LinkConfig
    from gnuradio.semcom.training import export
    t = trainer.Trainer(smoke_cfg(), str(tmp_path / "amp"), progress=False)
    t.fit()
    export.export_file(str(tmp_path / "amp" / "model.pt"), str(tmp_path / "ampsc-tiny"))
    codec = registry.get(str(tmp_path / "ampsc-tiny"), hard=True)
    image = (np.random.default_rng(2).random((48, 64, 3)) * 255).astype(np.uint8)
    link = LinkConfig("16qam", "none")
    full = 64 * 3 * 4
    for cpp_uses in (48 * 64 // 32, 48 * 64 // 16, 48 * 64 // 8):
        enc = codec.encode(image, link, cpp_uses)
        assert len(enc.bits) == link.payload_bits(cpp_uses)
        llrs = np.where(enc.bits > 0, 8.0, -8.0).astype(np.float32)
        out = codec.decode(Received(enc.bits, llrs, True, {**enc.meta, "height": 48, "width": 64}))
        assert out.image.shape == image.shape
    assert len(codec.encode(image, link, 48 * 64 // 16).bits) == full
    enc = codec.encode(image, link, 48 * 64 // 16)
    meta = {**enc.meta, "height": 48, "width": 64, "payload_bits": full}
    with pytest.raises(ValueError, match="bits"):
        codec.decode(Received(enc.bits[:-8], np.zeros(full - 8, np.float32), True, meta))
    with pytest.raises(ValueError, match="model"):
        codec.decode(Received(enc.bits, np.zeros(full, np.float32), True, {**meta, "model": "other-model"}))


def test_training_continues_from_an_exported_amp_sc_model(tmp_path):
    """--init-from a shipped AMP-SC folder restores every weight (GDN parameters included)."""
    pytest.importorskip("onnx")
    from gnuradio.semcom.training import export
    t = trainer.Trainer(smoke_cfg(), str(tmp_path / "amp"), progress=False)
    t.fit()
    export.export_file(str(tmp_path / "amp" / "model.pt"), str(tmp_path / "ampsc-tiny"), fp16=False)
    fresh = trainer.Trainer(smoke_cfg(), str(tmp_path / "more"), progress=False)
    card = export.load_onnx_weights(fresh.model, str(tmp_path / "ampsc-tiny"))
    assert card["codec"] == "ampsc"
    for k, v in t.model.state_dict().items():
        assert torch.allclose(fresh.model.state_dict()[k].float(), v.float(), atol=1e-6), k
