"""Recipe-driven trainer: every stage kind runs to the end on synthetic data, frozen modules stay
frozen, a run resumed from a mid-stage checkpoint ends exactly where an uninterrupted one does,
legacy two-stage configs translate, and the LR schedules, losses and data sampler behave."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from gnuradio.semcom import metrics  # noqa: E402
from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.training import export, losses, prepared, recipe, schedules, trainer  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SMALL = os.path.join(ROOT, "configs", "bitsemcom_qpsk_cpp16_small.json")

EVERY_KIND = [
    {"name": "ef", "steps": 3, "channel": {"kind": "error-free"}},
    {"name": "awgn", "steps": 3, "channel": {"kind": "awgn", "snr_range": [0, 6]}},
    {"name": "ray", "steps": 2, "channel": {"kind": "rayleigh", "snr_range": [0, 6], "block_len": 8}},
    {"name": "mixed", "steps": 2, "channel": {"kind": "mixed", "snr_range": [0, 6]}},
    {"name": "bsc", "steps": 2, "channel": {"kind": "bsc", "flip_range": [0.01, 0.1]}, "loss": "l1"},
    {"name": "dec-only", "steps": 3, "train": ["decoder"], "channel": {"kind": "awgn", "snr_range": [0, 6]},
     "lr": 1e-3, "lr_schedule": {"kind": "cosine"}},
    {"name": "hard", "steps": 2, "channel": {"kind": "hard", "snr_range": [0, 6]}},
    {"name": "mask", "steps": 2, "channel": {"kind": "mask", "erase_range": [0.0, 0.3]},
     "loss": {"kind": "mse+msssim"}},
]


def tiny(**over):
    base = {"name": "tiny", "model": {"preset": "tiny"}, "modulation": "qpsk", "cpp": "1/16",
            "data": {"synthetic": 4, "crop": 32, "batch": 2, "val_crop": 64, "val_images": 1},
            "lr": 3e-3, "recipe": EVERY_KIND, "val": {"every": 1000, "snrs": [3.0]},
            "checkpoint_every": 5, "keep_checkpoints": 5, "log_every": 4, "threads": 1, "precision": "fp32"}
    return trainer.load_config(base, over)


def test_every_stage_kind_runs_to_the_end_and_freezing_holds(tmp_path):
    cfg = tiny()
    t = trainer.Trainer(cfg, str(tmp_path), progress=False)
    assert t.total_steps == 19
    t.fit(max_steps=12)  # up to the start of the decoder-only stage
    assert t.stage() == 6
    enc = {k: v.clone() for k, v in t.model.encoder.state_dict().items()}
    dec = {k: v.clone() for k, v in t.model.decoder.state_dict().items()}
    summary = t.fit(max_steps=3)  # the decoder-only stage
    assert summary["step"] == 15
    assert all(torch.equal(enc[k], v) for k, v in t.model.encoder.state_dict().items())
    assert any(not torch.equal(dec[k], v) for k, v in t.model.decoder.state_dict().items())
    summary = t.fit()
    assert summary["step"] == 19 and os.path.exists(tmp_path / "model.pt")
    assert np.isfinite(summary["last_loss"]) and set(summary["val_psnr"]) == {"error_free", "3"}
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert "stage_name" in rows[0] and any(",mask," in r for r in rows[1:])


def test_resume_mid_stage_matches_an_uninterrupted_run(tmp_path):
    cfg = tiny()
    whole = trainer.Trainer(cfg, str(tmp_path / "a"), progress=False)
    whole.fit()
    part = trainer.Trainer(cfg, str(tmp_path / "b"), progress=False)
    part.fit(max_steps=7)  # stage 3 (Rayleigh), after its first step
    assert part.stage() == 3 and recipe.locate(part.stages, part.step) == (2, 1)
    resumed = trainer.Trainer(cfg, str(tmp_path / "b"), progress=False)
    assert resumed.fit(resume=True)["step"] == 19
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and the interruption mattered: a run from a different seed ends elsewhere
    other = trainer.Trainer(tiny(seed=1), str(tmp_path / "c"), progress=False)
    other.fit()
    assert not all(torch.equal(a[k], other.model.state_dict()[k]) for k in a)


def test_weight_average_is_what_validates_ships_and_resumes(tmp_path):
    """ema: an exponential moving average of the weights, in checkpoints (a resumed run ends with the
    same average), validated (the log adds the raw weights' PSNR) and written to model.pt."""
    cfg = tiny(ema=0.9, recipe=EVERY_KIND[:2], val={"every": 3, "snrs": [3.0]})
    whole = trainer.Trainer(cfg, str(tmp_path / "a"), progress=False)
    whole.fit()
    part = trainer.Trainer(cfg, str(tmp_path / "b"), progress=False)
    part.fit(max_steps=5)
    resumed = trainer.Trainer(cfg, str(tmp_path / "b"), progress=False)
    assert resumed.fit(resume=True)["step"] == 6
    assert all(torch.equal(whole.ema[k], resumed.ema[k]) for k in whole.ema)
    shipped = torch.load(tmp_path / "a" / "model.pt", weights_only=False)["model"]
    raw = whole.model.state_dict()
    assert all(torch.equal(shipped[k], whole.ema[k]) for k in whole.ema)
    assert any(not torch.equal(shipped[k], raw[k]) for k in whole.ema)
    ckpt = sorted((tmp_path / "a").glob("ckpt_*.pt"))[-1]  # a checkpoint exports the average too
    from_ckpt, _ = trainer.load_model(str(ckpt))
    assert all(torch.equal(from_ckpt.state_dict()[k], whole.ema[k]) for k in whole.ema)
    header, *rows = (tmp_path / "a" / "log.csv").read_text().splitlines()
    assert header.endswith("val_psnr_raw_error_free") and all(r.split(",")[-1] for r in rows if ",," not in r)
    # the update: lerp towards the weights by 1 - decay (less decay over the first steps)
    whole.ema = {k: torch.zeros_like(v) for k, v in whole.ema.items()}
    whole.step = 1000
    whole._update_ema()
    assert all(torch.allclose(whole.ema[k], 0.1 * raw[k].float()) for k in whole.ema)
    whole.step = 0
    whole.ema = {k: torch.zeros_like(v) for k, v in whole.ema.items()}
    whole._update_ema()  # decay min(0.9, 1/10): the first step takes 90 % of the weights
    assert all(torch.allclose(whole.ema[k], 0.9 * raw[k].float()) for k in whole.ema)
    with pytest.raises(SemcomError, match="ema"):
        tiny(ema=1.5)


def test_legacy_config_becomes_two_stages_with_the_same_lr_decay():
    cfg = trainer.load_config(SMALL)
    assert [(s["name"], s["steps"], s["channel"]["kind"]) for s in cfg["recipe"]] == [
        ("error-free", 2000, "error-free"), ("channel", 4000, "mixed")]
    assert cfg["recipe"][1]["channel"]["snr_range"] == [-3.0, 8.0]
    assert cfg["val"]["channel"]["kind"] == "awgn"  # mixed trains, AWGN validates (as before)
    t = trainer.Trainer.__new__(trainer.Trainer)
    t.cfg, t.stages, t.total_steps, t.step = cfg, cfg["recipe"], 6000, 0
    # the old in-place decay: lr x0.6 after every 2000 steps, across the stage boundary
    assert [round(t.lr(s), 8) for s in (0, 1999, 2000, 3999, 4000, 5999)] == [
        4e-4, 4e-4, 2.4e-4, 2.4e-4, 1.44e-4, 1.44e-4]
    assert t.stage(1999) == 1 and t.stage(2000) == 2


def test_bad_recipes_are_refused():
    with pytest.raises(SemcomError, match="channel kind"):
        tiny(recipe=[{"steps": 2, "channel": {"kind": "psk"}}])
    with pytest.raises(SemcomError, match="steps"):
        tiny(recipe=[{"steps": 0}])
    with pytest.raises(SemcomError, match="no module 'irsnet'"):
        recipe.set_trainable(torch.nn.Sequential(), ["irsnet"])


def test_hard_channel_blocks_gradients_unless_straight_through():
    bits = torch.randint(0, 2, (2, 64)).float().requires_grad_(True)
    hard = recipe.Channel(recipe.check([{"steps": 1, "channel": {"kind": "hard"}}])[0]["channel"], "qpsk")
    out = hard(bits, 30.0)
    assert torch.equal(out, bits.detach()) and not out.requires_grad  # 30 dB: no errors, no gradient
    ste = recipe.Channel({"kind": "hard", "snr_range": [0, 1], "straight_through": True}, "qpsk")
    ste(bits, -10.0).sum().backward()
    assert torch.equal(bits.grad, torch.ones_like(bits))
    erased = recipe.Channel({"kind": "mask", "erase_range": [0.5, 0.5]}, "qpsk")(torch.ones(1, 4000))
    assert abs(float((erased == 0.5).float().mean()) - 0.5) < 0.05 and set(erased.unique().tolist()) == {0.5, 1.0}


def test_lr_schedules():
    assert schedules.lr_at({"kind": "constant"}, 1.0, 50, 100) == 1.0
    assert schedules.lr_at({"kind": "step", "every": 10, "gamma": 0.5}, 1.0, 25, 100) == 0.25
    cos = [schedules.lr_at({"kind": "cosine", "min_factor": 0.0}, 1.0, s, 100) for s in (0, 50, 100)]
    assert cos == pytest.approx([1.0, 0.5, 0.0])
    warm = {"kind": "warmup-cosine", "warmup": 0.1, "min_factor": 0.0}
    assert schedules.lr_at(warm, 1.0, 0, 100) == pytest.approx(0.1)
    assert schedules.lr_at(warm, 1.0, 9, 100) == pytest.approx(1.0)
    assert schedules.lr_at(warm, 1.0, 55, 100) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        schedules.lr_at({"kind": "linear"}, 1.0, 0, 1)


def test_torch_ms_ssim_matches_numpy_metric():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (96, 80, 3), dtype=np.uint8)
    noisy = np.clip(ref + rng.normal(0, 20, ref.shape), 0, 255).astype(np.uint8)
    for test in (noisy, ref):
        t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255  # noqa: E731
        got = float(losses.ms_ssim(t(ref), t(test)))
        assert got == pytest.approx(metrics.ms_ssim(ref, test), abs=1e-4)
    out = torch.rand(2, 3, 64, 64, requires_grad=True)
    losses.make({"kind": "mse+msssim"})(out, torch.rand(2, 3, 64, 64)).backward()
    assert torch.isfinite(out.grad).all() and out.grad.abs().sum() > 0
    assert float(losses.make("l1")(torch.zeros(1, 3), torch.ones(1, 3))) == 1.0



def test_chroma_weighted_loss_weights_only_the_colour_difference():
    grey = torch.full((1, 3, 4, 4), 0.5)
    brighter = grey + 0.1  # a luma difference only: Y 0.1, Cb = Cr = 0
    greener = grey.clone()
    greener[:, 1] += 0.1
    for kind, base in (("l1", abs), ("mse", lambda v: v * v)):
        plain, weighted = losses.make({"kind": kind, "chroma_weight": 1}), losses.make({"kind": kind, "chroma_weight": 4})
        assert float(weighted(brighter, grey)) == pytest.approx(float(plain(brighter, grey))) == \
            pytest.approx(base(0.1) / 3)
        cb, cr = -0.331264 * 0.1, -0.418688 * 0.1
        assert float(weighted(greener, grey)) == pytest.approx((base(0.0587) + base(4 * cb) + base(4 * cr)) / 3)
        assert float(plain(greener, grey)) == pytest.approx((base(0.0587) + base(cb) + base(cr)) / 3)


def test_coarse_chroma_term_counts_the_colour_of_blocks_not_luma_or_detail():
    grey = torch.full((1, 3, 32, 32), 0.5)
    brighter = grey + 0.1  # luma only
    detail = grey.clone()
    detail[:, 1, :, ::2] += 0.1  # a green stripe pattern whose 16x16 block means are those of a flat +0.05
    plain, coarse = losses.make("mse"), losses.make({"kind": "mse", "coarse_chroma_weight": 4})
    assert float(coarse(brighter, grey)) == pytest.approx(float(plain(brighter, grey)))
    cb, cr = -0.331264 * 0.05, -0.418688 * 0.05
    assert float(coarse(detail, grey)) == pytest.approx(float(plain(detail, grey)) + 4 * (cb * cb + cr * cr) / 2)
    assert float(plain(detail, grey)) == pytest.approx(0.1 ** 2 / 6)


def test_prepared_folder_roundtrip_and_crop_sampler(tmp_path):
    ims = trainer.synthetic_images(3, size=80, seed=2)
    prepared.write(str(tmp_path), {"train": [(f"t{i}.png", im) for i, im in enumerate(ims)],
                                   "val": [("v.png", ims[0])]}, 0.5, "hash0")
    assert prepared.read_index(str(tmp_path))["source_hash"] == "hash0"
    train, val = prepared.Images.load(str(tmp_path), "train"), prepared.Images.load(str(tmp_path), "val")
    assert train.shapes == [(40, 40, 3)] * 3 and val.shapes == [(80, 80, 3)]  # only train is shrunk
    assert np.array_equal(val.image(0).numpy(), ims[0])
    a = prepared.CropSampler(train, 32, 4, seed=5, jitter=[0.8, 1.0])
    first = next(a)
    assert first.shape == (4, 3, 32, 32) and 0 <= float(first.min()) and float(first.max()) <= 1
    state = a.state_dict()
    b = prepared.CropSampler(train, 32, 4, seed=99, jitter=[0.8, 1.0])
    b.load_state_dict(state)
    assert torch.equal(next(a), next(b))
    with pytest.raises(SemcomError):
        prepared.CropSampler(train, 64, 1)  # no image is 64 px
    with pytest.raises(SemcomError):
        prepared.CropSampler(train, 16, 1, jitter=[0.5, 2.0])  # upscaling is not jitter


def test_bf16_step_keeps_the_channel_in_float32(tmp_path):
    cfg = tiny(precision="bf16", channels_last=True,
               recipe=[{"steps": 2, "channel": {"kind": "awgn", "snr_range": [0, 6]}}])
    t = trainer.Trainer(cfg, str(tmp_path), progress=False)
    seen = []
    modem_llr = t.channels[0].modem.llr
    t.channels[0].modem.llr = lambda y, nv: seen.append(y.dtype) or modem_llr(y, nv)
    assert t.precision == "bf16" and np.isfinite(t.train_step(next(t._sampler())))
    assert seen == [torch.float32]


@pytest.mark.parametrize("fp32_s, bf16_s, want", [(1.0, 0.5, "bf16"), (1.0, 0.95, "fp32"), (1.0, 1.4, "fp32")])
def test_auto_precision_takes_bf16_only_where_the_probe_finds_it_faster(monkeypatch, fp32_s, bf16_s, want):
    monkeypatch.setattr(trainer, "time_step", lambda model, device, precision, **kw: {"fp32": fp32_s,
                                                                                      "bf16": bf16_s}[precision])
    monkeypatch.setattr(trainer, "cpu_has_amx", lambda: False)
    cfg = tiny(precision="auto")
    assert trainer.resolve_precision(cfg, None, torch.device("cpu")) == want
    monkeypatch.setattr(trainer, "cpu_has_amx", lambda: True)  # AMX: bf16 whatever a (busy) probe says
    assert trainer.resolve_precision(cfg, None, torch.device("cpu")) == "bf16"
    assert trainer.resolve_precision(tiny(precision="fp32"), None, torch.device("cpu")) == "fp32"
    with pytest.raises(SemcomError):
        trainer.resolve_precision(tiny(precision="fp16"), None, torch.device("cpu"))


def test_a_named_prepared_folder_is_used_as_it_is(tmp_path):
    ims = trainer.synthetic_images(3, size=96, seed=4)
    folder = str(tmp_path / "prep")
    prepared.write(folder, {"train": [(f"t{i}", im) for i, im in enumerate(ims[:2])], "val": [("v", ims[2])]},
                   1.0, "made-elsewhere")
    before = os.path.getmtime(os.path.join(folder, "train.npy"))
    cfg = tiny(data={"synthetic": 0, "prepared": folder}, recipe=[{"steps": 2}])
    t = trainer.Trainer(cfg, str(tmp_path / "run"), progress=False)
    t.fit()
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=False)
    assert saved["dataset_hash"] == "made-elsewhere"  # not the photo cache's, even where there is one
    assert os.path.getmtime(os.path.join(folder, "train.npy")) == before
    assert np.array_equal(trainer.load_images(cfg, "val")[0], ims[2])


@pytest.mark.parametrize("bad, words", [
    ({"lr": "abc"}, "lr"), ({"lr": -1}, "lr"), ({"lr": float("nan")}, "lr"), ({"data": {"batch": 0}}, "data.batch"),
    ({"data": {"crop": 7}}, "data.crop"), ({"data": {"crop": 40}}, "multiple of 16"), ({"cpp": "x"}, "cpp"),
    ({"modulation": "8psk"}, "8psk"), ({"model": {"preset": "huge"}}, "preset"), ({"threads": 0}, "threads"),
    ({"seed": "a"}, "seed"), ({"val": {"every": 0}}, "val.every"), ({"checkpoint_every": -5}, "checkpoint_every"),
    ({"val": {"snrs": ["x"]}}, "val.snrs"), ({"data": {"batch": 2.5}}, "data.batch"),
    ({"recipe": [{"steps": 5, "channel": {"kind": "awgn", "snr_range": [0]}}]}, "snr_range"),
    ({"recipe": [{"steps": 5, "channel": {"kind": "bsc", "flip_range": [0.2, 0.9]}}]}, "flip_range"),
    ({"recipe": [{"steps": "many"}]}, "steps"), ({"recipe": [{"steps": 3, "lr": 0}]}, "lr"),
    ({"recipe": [{"steps": 3, "channel": {"kind": "awgn", "block_len": 0}}]}, "block_len"),
    ({"recipe": {"template": "amp-sc", "T": 2}, "model": {"method": "ampsc", "bits": 3}}, "multiple of b"),
    ({"model": {"method": "vqvae"}}, "method"),
])
def test_bad_configs_fail_in_one_line_naming_the_field(bad, words):
    base = {"name": "t", "data": {"synthetic": 2, "crop": 32, "batch": 2}, "recipe": [{"steps": 1}]}
    cfg = {**base, **bad, "data": {**base["data"], **bad.get("data", {})}}
    with pytest.raises(SemcomError, match=words.replace(".", r"\.")) as err:
        trainer.load_config(cfg)
    assert "\n" not in str(err.value)


def test_a_config_that_is_not_an_object_is_one_clear_error(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("[1, 2]")
    with pytest.raises(SemcomError, match="JSON object"):
        trainer.load_config(str(path))


def test_card_recipe_names_each_stages_own_loss():
    coarse = {"kind": "mse", "coarse_chroma_weight": 4}
    cfg = {"recipe": [{"name": "a", "steps": 5, "channel": {"kind": "error-free"}},
                      {"name": "b", "steps": 3, "loss": coarse, "channel": {"kind": "bsc", "hard": True}}]}
    assert [s.get("loss") for s in export._recipe_facts(cfg)["recipe"]] == ["mse", coarse]
