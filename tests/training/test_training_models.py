"""BitSemCom training code: model shapes and bits, Gumbel straight-through, two-stage training
with checkpoints and resume, ONNX export with parity and model card, modulation agnosticism."""
import csv
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from gnuradio.semcom.training import export, models, onnx_io, recipe, trainer  # noqa: E402
from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.training.channels import Modem  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SMOKE = os.path.join(ROOT, "configs", "smoke_synthetic.json")


def test_latent_channels_follow_cpp_and_modulation():
    assert models.latent_channels_for(1 / 16, 2) == 32  # QPSK, cpp 1/16
    assert models.latent_channels_for(1 / 8, 2) == 64
    assert models.latent_channels_for(1 / 16, 4) == 64  # 16-QAM
    with pytest.raises(ValueError):
        models.latent_channels_for(1 / 1000, 2)


@pytest.mark.parametrize("variant", models.VARIANTS)
def test_shapes_and_bit_counts(variant):
    torch.manual_seed(0)
    m = models.BitSemCom(32, "small", variant).eval()
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        bits = m.encoder(x)
        out = m.decoder(bits)
    assert bits.shape == (2, 32, 4, 6)
    assert bits[0].numel() == m.bits_per_image(64, 96) == 32 * 4 * 6 == export.bits_per_image(32, 64, 96)
    assert set(torch.unique(bits).tolist()) <= {0.0, 1.0}
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert m.bits_per_image(50, 70) == 32 * 4 * 5


def test_small_preset_size():
    n = models.count_params(models.BitSemCom(32, "small"))
    assert 1_000_000 < n < 3_000_000


@pytest.mark.parametrize("variant", models.VARIANTS)
def test_training_bits_are_binary_and_pass_gradients(variant):
    torch.manual_seed(1)
    m = models.BitSemCom(32, "tiny", variant).train()
    x = torch.rand(2, 3, 32, 48, requires_grad=True)
    bits = m.encoder(x)
    assert set(torch.unique(bits.detach()).tolist()) <= {0.0, 1.0}
    (bits * torch.randn_like(bits)).sum().backward()
    assert x.grad is not None and torch.any(x.grad != 0)
    grads = [p.grad for p in m.encoder.parameters()]
    assert all(g is not None for g in grads) and any(torch.any(g != 0) for g in grads)


def test_gumbel_sampling_is_random_in_training_and_hard_at_inference():
    torch.manual_seed(2)
    enc = models.BitSemCom(32, "tiny").encoder
    x = torch.rand(1, 3, 64, 64)
    enc.train()
    a, b = enc(x), enc(x)
    assert not torch.equal(a, b)  # sampled, not thresholded
    enc.eval()  # BitSemCom samples at inference too (its decoder is trained on samples)
    with torch.no_grad():
        torch.manual_seed(5)
        first = enc(x)
        torch.manual_seed(5)
        assert torch.equal(first, enc(x)) and not torch.equal(first, enc(x))
    ste = models.BitSemCom(32, "tiny", "hard-ste").encoder.eval()
    with torch.no_grad():
        assert torch.equal(ste(x), (ste.logits(x) > 0).float())
    logits = torch.zeros(20000)  # P(b=1) = sigmoid(0) = 1/2
    assert abs(float(enc.sample(logits).mean()) - 0.5) < 0.02
    assert float(enc.sample(torch.full((20000,), 2.0)).mean()) == pytest.approx(1 / (1 + np.exp(-2)), abs=0.02)


def test_modulation_agnostic_decoding_at_high_snr():
    """The same bits through QPSK and 16-QAM at 40 dB give the same posteriors, so the same image."""
    torch.manual_seed(3)
    m = models.BitSemCom(32, "tiny").eval()
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        bits = m.encoder(x)
        flat = bits.reshape(2, -1)
        outs = []
        for mod in ("qpsk", "16qam"):
            ch = recipe.Channel({"kind": "awgn"}, mod)
            assert isinstance(ch.modem, Modem)
            p1 = ch(flat, 40.0)
            assert torch.equal((p1 > 0.5).float(), flat)  # no bit errors
            outs.append(m.decoder(p1.reshape(bits.shape)))
        ref = m.decoder(bits)
    assert torch.allclose(outs[0], outs[1], atol=1e-4)
    assert torch.allclose(outs[0], ref, atol=1e-4)


# ---------------------------------------------------------------- training, resume, export

@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    torch.set_num_threads(1)
    run = str(tmp_path_factory.mktemp("run"))
    cfg = trainer.load_config(SMOKE)
    t = trainer.Trainer(cfg, run, progress=False)
    summary = t.fit()
    return run, cfg, summary


def test_smoke_training_reduces_loss_and_writes_checkpoints(smoke_run):
    run, cfg, summary = smoke_run
    assert summary["step"] == cfg["stage1_steps"] + cfg["stage2_steps"] == 30
    assert summary["mean_loss_last"] < summary["mean_loss_first"]
    assert os.path.exists(os.path.join(run, "ckpt_00000030.pt"))
    assert os.path.exists(os.path.join(run, "model.pt"))
    with open(os.path.join(run, "log.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows][-1] == 30 and {r["stage"] for r in rows} == {"1", "2"}
    assert float(rows[-1]["val_psnr"]) > 5 and float(rows[-1]["val_psnr_snr6"]) > 5
    ck = torch.load(os.path.join(run, "ckpt_00000030.pt"), weights_only=False)
    assert {"model", "optimizer", "step", "rng", "config"} <= set(ck)


def test_resume_continues_from_saved_step(tmp_path):
    cfg = trainer.load_config(SMOKE, {"val": {"every": 1000}})
    first = trainer.Trainer(cfg, str(tmp_path), progress=False)
    assert first.fit(max_steps=20)["step"] == 20
    assert trainer.latest_checkpoint(str(tmp_path)).endswith("ckpt_00000020.pt")
    assert not os.path.exists(tmp_path / "model.pt")
    saved = {k: v.clone() for k, v in first.model.state_dict().items()}
    second = trainer.Trainer(cfg, str(tmp_path), progress=False)
    second.load_checkpoint(trainer.latest_checkpoint(str(tmp_path)))
    assert second.step == 20 and second.stage() == 2
    assert all(torch.equal(saved[k], v) for k, v in second.model.state_dict().items())
    assert second.opt.state_dict()["state"]  # Adam moments restored
    third = trainer.Trainer(cfg, str(tmp_path), progress=False)
    assert third.fit(resume=True)["step"] == 30
    with open(tmp_path / "log.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == sorted(steps) and steps[-1] == 30 and steps.count(20) == 1
    assert os.path.exists(tmp_path / "model.pt")


def test_onnx_export_parity_and_card(smoke_run, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    run, cfg, _ = smoke_run
    card = export.export_file(os.path.join(run, "model.pt"), str(tmp_path), model_id="smoke-test")
    assert card["parity_max_abs_diff"]["encoder_logits"] <= export.PARITY_TOL
    assert card["parity_max_abs_diff"]["decoder"] <= export.PARITY_TOL
    for role in ("encoder", "decoder"):
        meta = onnx_io.read_metadata(str(tmp_path / f"{role}.onnx"))
        assert meta["semcom.codec"] == "bitsemcom" and meta["semcom.role"] == role
        assert meta["semcom.model_id"] == "smoke-test" and meta["semcom.variant"] == "bitsemcom"
        assert meta["semcom.bits_per_image"] == "32*ceil(H/16)*ceil(W/16)"
        assert meta["semcom.modulation"] == "qpsk" and json.loads(meta["semcom.train_snr_range_db"]) == [-3.0, 6.0]
        assert meta["semcom.dataset_hash"] == "synthetic" and meta["semcom.train_steps"] == "30"
        assert meta["semcom.bit_decision"] == "gumbel-sample"
        card_meta = json.loads(meta["semcom.card"])
        assert card_meta["val_psnr_db"] and card_meta["hardware"] and card_meta["version"] == "1"
    saved_card = json.load(open(tmp_path / "card.json"))
    assert saved_card["model_id"] == "smoke-test" and saved_card["weights"].startswith("float16")
    assert saved_card["fp16_rounding_max_abs_diff"]["decoder"] < 1e-2  # rounding the weights barely moves the output
    import onnx
    ops = {n.op_type for n in onnx.load(str(tmp_path / "decoder.onnx")).graph.node}
    assert "DepthToSpace" not in ops and "ConvTranspose" in ops  # the faster, exact upsampling (onnx_rewrite)
    # dynamic H, W: another size than the export's dummy input, and the model's bit count
    enc = ort.InferenceSession(str(tmp_path / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(tmp_path / "decoder.onnx"), providers=["CPUExecutionProvider"])
    img = np.random.default_rng(0).random((1, 3, 48, 112), dtype=np.float32)
    bits, logits = enc.run(None, {"image": img})
    assert bits.shape == (1, 32, 3, 7) and set(np.unique(bits)) <= {0.0, 1.0}
    assert dec.run(None, {"p1": bits})[0].shape == (1, 3, 48, 112)


def test_export_fails_loudly_on_parity_mismatch(smoke_run, tmp_path, monkeypatch):
    run, _, _ = smoke_run
    real = export.parity
    monkeypatch.setattr(export, "parity", lambda *a, **k: {**real(*a, **k), "decoder": 1e-2})
    with pytest.raises(RuntimeError, match="parity"):
        export.export_file(os.path.join(run, "model.pt"), str(tmp_path))
    assert not os.path.exists(tmp_path / "card.json")


def test_config_files_load():
    for name in sorted(os.listdir(os.path.join(ROOT, "configs"))):
        cfg = trainer.load_config(os.path.join(ROOT, "configs", name))
        k = Modem(cfg["modulation"]).bits_per_symbol
        if cfg["model"].get("method") == "mvqvae":  # bits per position: the codebook's index
            assert 2 ** cfg["model"]["latent_channels"] == cfg["model"].get("codebook", 256)
            assert models.build(cfg["model"]).tile == cfg["data"]["crop"]
        else:
            assert cfg["model"]["latent_channels"] == models.latent_channels_for(trainer.parse_cpp(cfg["cpp"]), k)
            assert models.resolve_backbone(cfg["model"]["preset"], **{o: cfg["model"].get(o) for o in models.BACKBONE})
        assert cfg["recipe"] and all(s["steps"] > 0 for s in cfg["recipe"])
    with pytest.raises(Exception, match="latent_channels"):
        trainer.load_config(SMOKE, {"model": {"latent_channels": 48}})


def test_onnx_parity_of_large_logits_is_relative_to_their_scale(smoke_run, tmp_path):
    """A long-trained encoder's logits reach hundreds; float32 rounding grows with them, so their
    tolerance scales with the largest logit while the decoder's stays absolute."""
    pytest.importorskip("onnxruntime")
    run, _, _ = smoke_run
    saved = torch.load(os.path.join(run, "model.pt"), weights_only=False)
    last = [k for k in saved["model"] if k.startswith("encoder.mapper") and k.endswith("weight")][-1]
    saved["model"][last] = saved["model"][last] * 3e4
    torch.save(saved, tmp_path / "loud.pt")
    card = export.export_file(str(tmp_path / "loud.pt"), str(tmp_path / "onnx"), model_id="loud")
    parity = card["parity_max_abs_diff"]
    assert parity["decoder"] <= export.PARITY_TOL and "largest |logit|" in parity["encoder_tolerance"]
    scale = float(parity["encoder_tolerance"].rsplit(" ", 1)[1])
    assert scale > 1e3 and parity["encoder_logits"] <= export.PARITY_TOL * scale


def test_training_continues_from_an_exported_model(smoke_run, tmp_path):
    """--init-from: the ONNX folder's (float16) weights become the torch model's, exactly."""
    run, cfg, _ = smoke_run
    export.export_file(os.path.join(run, "model.pt"), str(tmp_path / "onnx"))
    rounded, _ = trainer.load_model(os.path.join(run, "model.pt"))
    export.round_weights_to_fp16(rounded)
    fresh = trainer.Trainer(cfg, str(tmp_path / "more"), progress=False)
    card = export.load_onnx_weights(fresh.model, str(tmp_path / "onnx"))
    assert card["model_id"] == cfg["name"]
    ref = rounded.state_dict()
    assert all(torch.equal(ref[k], v) for k, v in fresh.model.state_dict().items())
    other = trainer.Trainer(trainer.load_config(SMOKE, {"model": {"variant": "hard-ste"}}), str(tmp_path / "x"),
                            progress=False)
    with pytest.raises(Exception, match="hard-ste"):
        export.load_onnx_weights(other.model, str(tmp_path / "onnx"))
    assert fresh.fit(max_steps=2, init_from=str(tmp_path / "onnx"))["step"] == 2
    parent = json.load(open(tmp_path / "onnx" / "card.json"))
    child = export.export_file(fresh.save_final(), str(tmp_path / "child"))
    assert child["continued_from"]["model_id"] == parent["model_id"] and child["train_steps"] == 2
    assert child["cumulative_steps"] == parent["cumulative_steps"] + 2  # cards keep the cumulative steps
    assert child["continued_from"]["latent_channels"] == parent["latent_channels"]
    assert child["cumulative_train_hours"] >= parent["cumulative_train_hours"]


def test_a_lineage_keeps_every_ancestor():
    grandparent = {"model_id": "a", "cumulative_steps": 10, "train_wall_s": 3600}
    parent = {"model_id": "b", "cumulative_steps": 30, "cumulative_train_hours": 2.5,
              "continued_from": export.lineage(grandparent)}
    line = export.lineage(parent)
    assert (line["model_id"], line["cumulative_steps"], line["cumulative_train_hours"]) == ("b", 30, 2.5)
    assert line["continued_from"]["model_id"] == "a" and line["continued_from"]["cumulative_train_hours"] == 1.0
    assert "continued_from" not in export.lineage(grandparent)


def test_a_qpsk_model_widens_into_a_16qam_model_that_computes_the_same_image():
    """--init-from a model with fewer latent channels: the old channels keep their weights and
    the wider model decodes any bits on them as the old one did, whatever the new bits are."""
    folder = os.path.join(ROOT, "models", "bitsemcom-qpsk-cpp16")
    old = models.build(trainer.load_config(os.path.join(ROOT, "configs", "bitsemcom_qpsk_cpp16_wide.json"))["model"])
    export.load_onnx_weights(old, folder)
    wide = models.build(trainer.load_config(os.path.join(ROOT, "configs", "bitsemcom_16qam_cpp16_wide.json"))["model"])
    assert export.load_onnx_weights(wide, folder)["model_id"] == "bitsemcom-qpsk-cpp16"
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 96)
    p1 = torch.rand(1, 64, 4, 6)
    with torch.no_grad():
        assert torch.allclose(wide.encoder.logits(x)[:, :32], old.encoder.logits(x), atol=1e-5)
        assert torch.allclose(wide.decoder(p1), old.decoder(p1[:, :32]), atol=1e-6)
        assert wide.encoder.logits(x)[:, 32:].std() > 0  # the new channels are not dead
    ablation = models.build({**trainer.load_config(os.path.join(ROOT, "configs", "bitsemcom_16qam_cpp16_wide.json"))["model"],
                             "variant": "hard-ste"})
    with pytest.raises(Exception, match="hard-ste"):
        export.load_onnx_weights(ablation, folder)


def test_shipped_models_load_back_into_their_configs():
    """Every model in models/ can seed further training from the config its card names."""
    folders = [os.path.join(ROOT, "models", d) for d in sorted(os.listdir(os.path.join(ROOT, "models")))
               if os.path.isfile(os.path.join(ROOT, "models", d, "encoder.onnx"))]
    assert len(folders) >= 2
    for folder in folders:
        card = json.load(open(os.path.join(folder, "card.json")))
        model = models.build(trainer.load_config(os.path.join(ROOT, "configs", card["config"] + ".json"))["model"])
        assert export.load_onnx_weights(model, folder)["model_id"] == os.path.basename(folder)


def test_a_model_widens_into_wider_stages_that_compute_the_same_image(tmp_path):
    """--init-from a model with narrower CNN stages (and residual blocks, pixel-shuffle): the wider
    model computes the old one's logits and image until training uses the new features; a narrower
    or deeper target is refused in one line."""
    pytest.importorskip("onnxruntime")
    narrow_cfg = trainer.load_config(SMOKE, {"model": {"blocks": 1, "channels": [8, 12, 16, 16]}})
    t = trainer.Trainer(narrow_cfg, str(tmp_path / "run"), progress=False)
    t.fit(max_steps=2)
    card = export.export_file(t.save_final(), str(tmp_path / "onnx"))
    old = models.build(narrow_cfg["model"])
    export.load_onnx_weights(old, str(tmp_path / "onnx"))
    wide_cfg = trainer.load_config(SMOKE, {"model": {"blocks": 1, "channels": [8, 16, 24, 32]}})
    wide = trainer.Trainer(wide_cfg, str(tmp_path / "wide"), progress=False)
    assert wide.fit(max_steps=0, init_from=str(tmp_path / "onnx"))["step"] == 0
    model = wide.model.eval()
    torch.manual_seed(1)
    x, p1 = torch.rand(1, 3, 64, 96), torch.rand(1, card["latent_channels"], 4, 6)
    with torch.no_grad():
        assert torch.allclose(model.encoder.logits(x), old.encoder.logits(x), atol=1e-5)
        assert torch.allclose(model.decoder(p1), old.decoder(p1), atol=1e-6)
        assert model.decoder.net[2].body[0].weight[16:].std() > 0  # the new features are not dead
    child = export.export_file(wide.save_final(), str(tmp_path / "child"))
    assert child["continued_from"]["backbone_channels"] == [8, 12, 16, 16]
    assert child["backbone"]["channels"] == [8, 16, 24, 32]
    for change in ({"channels": [8, 12, 16, 8]}, {"blocks": 2}):
        other = models.build({**narrow_cfg["model"], **change})
        with pytest.raises(SemcomError, match="does not fit|lacks weights"):
            export.load_onnx_weights(other, str(tmp_path / "onnx"))
