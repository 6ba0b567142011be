"""A narrower decoder (``decoder_channels``) for a frozen encoder, distilled from an exported model."""
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.training import export, models, trainer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE = os.path.join(ROOT, "configs", "smoke_synthetic.json")
WIDE = {"blocks": 1, "channels": [8, 12, 16, 16]}
NARROW = [4, 8, 16, 16]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """An exported tiny model with one residual block per stage."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("teacher")
    t = trainer.Trainer(trainer.load_config(SMOKE, {"model": WIDE}), str(folder / "run"), progress=False)
    t.fit(max_steps=3)
    export.export_file(t.save_final(), str(folder / "model"), model_id="teacher")
    return str(folder / "model")


def student_config(teacher_folder: str, decoder_channels=NARROW, weight: float = 1.0) -> dict:
    return trainer.load_config(SMOKE, {
        "model": {**WIDE, "decoder_channels": decoder_channels}, "init_from": teacher_folder,
        "distill": {"from": teacher_folder, "weight": weight},
        "recipe": [{"name": "distill", "steps": 4, "train": ["decoder"],
                    "channel": {"kind": "mixed", "snr_range": [-3.0, 8.0]}}]})


def test_decoder_channels_narrow_only_the_decoder():
    model = models.build({"preset": "tiny", "latent_channels": 32, **WIDE, "decoder_channels": NARROW})
    same = models.build({"preset": "tiny", "latent_channels": 32, **WIDE})
    assert model.backbone["decoder_channels"] == NARROW and "decoder_channels" not in same.backbone
    assert models.count_params(model.encoder) == models.count_params(same.encoder)
    assert models.count_params(model.decoder) < models.count_params(same.decoder)
    widths = [m.out_channels for m in model.decoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert widths == [16, 16, 16, 64, 16, 16, 32, 8, 8, 16, 4, 4, 12]
    with torch.no_grad():
        assert model.decoder(torch.rand(1, 32, 2, 3)).shape == (1, 3, 32, 48)
    with pytest.raises(ValueError, match="four|4 positive"):
        models.build({"preset": "tiny", "latent_channels": 32, "decoder_channels": [8, 8]})


def test_a_narrower_decoder_starts_from_the_teacher_sub_network(teacher):
    t = trainer.Trainer(student_config(teacher), "/nonexistent", progress=False)
    ref = models.build({"preset": "tiny", "latent_channels": 32, **WIDE})
    export.load_onnx_weights(ref, teacher)
    fresh = {k: v.clone() for k, v in t.model.state_dict().items()}
    export.load_onnx_weights(t.model, teacher)
    got, want = t.model.state_dict(), ref.state_dict()
    copied = [k for k in got if want[k].shape == got[k].shape]
    assert all(torch.equal(got[k], want[k]) for k in copied)
    assert any(k.startswith("decoder.") for k in copied) and len(copied) < len(got)
    assert not any(k.startswith("encoder.") for k in got if k not in copied)
    for k in set(got) - set(copied):  # the leading slice: the sub-network of each stage's first channels
        assert torch.equal(got[k], want[k][tuple(slice(0, n) for n in got[k].shape)])
        assert not torch.equal(got[k], fresh[k])
    # the first channels of a narrowed stage compute what the teacher's do, given the same input
    stage = [m for m in t.model.decoder.net if isinstance(m, models.ResBlock)][-1]
    wide = [m for m in ref.decoder.net if isinstance(m, models.ResBlock)][-1]
    h = torch.rand(1, NARROW[0], 8, 8)
    with torch.no_grad():
        first = stage.body[0](h)
        assert torch.allclose(first, wide.body[0](torch.cat([h, torch.zeros(1, 4, 8, 8)], 1))[:, :NARROW[0]],
                              atol=1e-6)


def test_the_teacher_decodes_what_the_student_reads(teacher, tmp_path):
    """A student as wide as the teacher, from its weights, adds nothing to the loss; a narrower one
    does; training moves only the decoder."""
    x = torch.rand(2, 3, 64, 64)
    losses = {}
    for name, widths in (("twin", None), ("narrow", NARROW)):
        t = trainer.Trainer(student_config(teacher, widths, weight=5.0), str(tmp_path / name), progress=False)
        t.fit(max_steps=0)
        t._enter_stage(0)
        torch.manual_seed(3)
        with torch.no_grad():
            total = t.loss(x, x, 0)
        torch.manual_seed(3)
        with torch.no_grad():
            image = t.losses[0](t.forward(x, 0).float(), x)
        losses[name] = float(total), float(image)
    assert losses["twin"][0] == pytest.approx(losses["twin"][1], abs=1e-7)
    assert losses["narrow"][0] > losses["narrow"][1] + 1e-4
    encoder = {k: v.clone() for k, v in t.model.encoder.state_dict().items()}
    decoder = {k: v.clone() for k, v in t.model.decoder.state_dict().items()}
    assert t.fit(max_steps=2)["step"] == 2
    assert all(torch.equal(v, t.model.encoder.state_dict()[k]) for k, v in encoder.items())
    assert not all(torch.equal(v, t.model.decoder.state_dict()[k]) for k, v in decoder.items())


def test_a_distilled_model_exports_with_its_decoder_widths_and_lineage(teacher, tmp_path):
    t = trainer.Trainer(student_config(teacher), str(tmp_path / "run"), progress=False)
    t.fit()
    card = export.export_file(os.path.join(tmp_path, "run", "model.pt"), str(tmp_path / "out"), model_id="fast")
    assert card["backbone"]["decoder_channels"] == NARROW and card["backbone"]["channels"] == WIDE["channels"]
    assert card["continued_from"]["model_id"] == "teacher" and card["train_steps"] == 4
    assert card["distilled_from"] == {"model": "model", "weight": 1.0}  # the teacher's folder
    assert card["recipe"][0]["train"] == ["decoder"]
    assert card["parity_max_abs_diff"]["decoder"] <= export.PARITY_TOL
    again = models.build(trainer.load_config(SMOKE, {"model": {**WIDE, "decoder_channels": NARROW}})["model"])
    assert export.load_onnx_weights(again, str(tmp_path / "out"))["model_id"] == "fast"


@pytest.mark.parametrize("spec, message", [("models/x", "distill must be"),
                                           ({"from": "/nonexistent"}, "cannot read")])
def test_a_bad_distill_section_is_one_line(spec, message, tmp_path):
    cfg = trainer.load_config(SMOKE, {"distill": spec})
    with pytest.raises(SemcomError, match=message):
        trainer.Trainer(cfg, str(tmp_path), progress=False)
