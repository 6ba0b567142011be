"""Training with unequal error protection: the ``flips`` channel flips every bit with the exact rate
of the 16-QAM position it is sent on, in the same symbol layout the runtime uses; a UEP config trains,
exports the layout into its card and runs through the codec with it."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from gnuradio.semcom.codecs import symbol_layout  # noqa: E402
from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.phy import theory  # noqa: E402
from gnuradio.semcom.training import recipe, trainer  # noqa: E402

C, CELLS = 64, 3 * 4  # AMP-SC b = 4 at cpp 1/16 with 16-QAM: 64 bit planes; a 48 x 64 crop


def uep_cfg(**over):
    base = {"name": "uep", "model": {"method": "ampsc", "preset": "tiny", "bits": 4, "irsnet": True},
            "modulation": "16qam", "cpp": "1/16", "symbol_layout": "uep-16qam",
            "data": {"synthetic": 4, "crop": 32, "batch": 2, "val_crop": 64, "val_images": 1},
            "recipe": [{"name": "uep", "steps": 2, "train": ["decoder"],
                        "channel": {"kind": "flips", "snr_range": [6.0, 6.0]}}],
            "val": {"every": 1000, "snrs": [6.0], "channel": {"kind": "hard", "fading": "awgn"}},
            "checkpoint_every": 100, "log_every": 4, "threads": 1, "precision": "fp32"}
    return trainer.load_config({**base, **over})


def flip_rates(channel, snr=6.0, batch=400):
    """Measured flip rate of every latent bit (of C x CELLS) through ``channel``, random bits sent."""
    torch.manual_seed(0)
    bits = (torch.rand(batch, C * CELLS) < 0.5).float()
    return (channel(bits, snr) != bits).float().mean(0).numpy()


@pytest.mark.parametrize("layout", [None, "uep-16qam"])
def test_flips_follow_the_exact_rate_of_each_bits_position(layout):
    slots = trainer.air_slots(uep_cfg(symbol_layout=layout))
    measured = flip_rates(recipe.Channel({"kind": "flips", "snr_range": [6.0, 6.0]}, "16qam", air_slots=slots))
    positions = (np.arange(C * CELLS) if slots is None else slots(C * CELLS)) % 4
    want = theory.bit_error_rates("16qam", 6.0)[positions]
    significance = (np.arange(C * CELLS) // CELLS) % 4
    for i in range(4):  # per bit plane of the values: exact to Monte-Carlo precision
        got, p = measured[significance == i].mean(), want[significance == i].mean()
        assert abs(got - p) <= 5 * np.sqrt(p * (1 - p) / (400 * C * CELLS / 4))
    if layout is None:  # the paper's mapping: every plane sees the mean rate
        assert np.allclose([want[significance == i].mean() for i in range(4)], theory.ber_awgn("16qam", 6.0))
    else:  # MSB planes on the quadrant positions
        assert want[significance < 2].max() == theory.bit_error_rates("16qam", 6.0)[0]


def test_one_p_per_image_when_not_per_position():
    measured = flip_rates(recipe.Channel({"kind": "flips", "snr_range": [6.0, 6.0], "per_position": False},
                                         "16qam", air_slots=trainer.air_slots(uep_cfg())))
    p = theory.ber_awgn("16qam", 6.0)
    for pos_bits in np.split(measured.reshape(-1, 4), 4, axis=1):
        assert abs(pos_bits.mean() - p) <= 5 * np.sqrt(p * (1 - p) / (400 * C * CELLS / 4))


def test_the_modem_channel_sends_in_the_layout_too():
    """Through the exact chain (the ``hard`` kind), MSB planes err about half as often as LSB planes."""
    channel = recipe.Channel({"kind": "hard", "snr_range": [6.0, 6.0]}, "16qam", air_slots=trainer.air_slots(uep_cfg()))
    measured = flip_rates(channel, batch=100)
    significance = (np.arange(C * CELLS) // CELLS) % 4
    rates = theory.bit_error_rates("16qam", 6.0)
    for i, want in enumerate(rates[[0, 0, 1, 1]]):
        assert measured[significance == i].mean() == pytest.approx(want, rel=0.1)


def test_training_slots_are_the_runtimes_at_the_native_budget():
    neural = pytest.importorskip("gnuradio.semcom.codecs.neural")
    layout = symbol_layout.Layout("16qam", 4)
    plan = neural.rate_match.plan({}, lambda h, w: (C, -(-h // 16), -(-w // 16)), 48, 64, C * CELLS)
    importance = neural.rate_match.bit_importance_order(list(range(C)), plan.shape)
    runtime = layout.air_slots(neural.rate_match.sent_indices(importance, plan.sent, plan.kept), plan.shape)
    assert np.array_equal(trainer.air_slots(uep_cfg())(C * CELLS), runtime)


def test_a_bad_layout_in_a_config_is_one_line():
    with pytest.raises(SemcomError, match="symbol_layout 'uep-9qam'"):
        uep_cfg(symbol_layout="uep-9qam")
    with pytest.raises(SemcomError, match="per_position must be true or false"):
        uep_cfg(recipe=[{"steps": 1, "channel": {"kind": "flips", "per_position": "no"}}])
    with pytest.raises(SemcomError, match="quantizer_bits"):
        trainer.load_config({"name": "b", "model": {"preset": "tiny"}, "symbol_layout": "uep-qpsk",
                             "data": {"synthetic": 2, "crop": 32, "batch": 1}})


def test_a_uep_run_exports_its_layout_and_the_codec_uses_it(tmp_path):
    pytest.importorskip("onnxruntime")
    from gnuradio.semcom.codecs import neural
    from gnuradio.semcom.training import export
    t = trainer.Trainer(uep_cfg(), str(tmp_path / "run"), progress=False)
    t.fit()
    card = export.export_file(str(tmp_path / "run" / "model.pt"), str(tmp_path / "ampsc-uep"))
    assert card["symbol_layout"] == "uep-16qam"
    with open(tmp_path / "ampsc-uep" / "card.json") as f:
        assert json.load(f)["symbol_layout"] == "uep-16qam"
    assert neural.OnnxModel(str(tmp_path / "ampsc-uep")).layout == symbol_layout.Layout("16qam", 4)
