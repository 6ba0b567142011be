"""Masked VQ-VAE training side: the codebook, the bit planes, the FIM and similarity rules, semantic
noise (eq. 7, Algorithm 1), adversarial weight perturbation (Algorithm 2) and the recipe stage."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from gnuradio.semcom.errors import SemcomError  # noqa: E402
from gnuradio.semcom.training import adversarial, mvqvae, trainer  # noqa: E402


def tiny_model(**over):
    torch.manual_seed(0)
    return mvqvae.MaskedVQVAE(**{"patch": 8, "tile": 32, "codebook": 16, "code_dim": 8, "preset": "tiny", **over})


@pytest.mark.parametrize("patch", [8, 16])
def test_the_stem_passes_patch_content_at_the_positions_order(patch):
    """At initialisation what distinguishes one photo's patches from another's must be of the
    positional embedding's order (torch's default init gave 0.5 % of it at patch 16, and that
    model never left the mean image)."""
    from gnuradio.semcom.training.mvqvae import MaskedVQVAE
    torch.manual_seed(0)
    m = MaskedVQVAE(patch=patch, tile=64, preset="small")
    with torch.no_grad():
        e = m.embed(torch.rand(8, 3, 64, 64)).flatten(2).transpose(1, 2)
    content = (e - e.mean(0, keepdim=True)).pow(2).mean().sqrt()
    assert content > 0.2 * m.pos.pow(2).mean().sqrt()


def test_index_bits_and_codeword_posterior_are_exact():
    m = tiny_model()
    idx = torch.tensor([0, 5, 15])
    bits = mvqvae.index_bits(idx, 4)
    assert bits.tolist() == [[0, 0, 0, 0], [0, 1, 0, 1], [1, 1, 1, 1]]
    p1 = torch.tensor([[0.9, 0.2, 0.5, 0.7]])
    logp = m.codeword_posterior(p1)
    labels = mvqvae.label_matrix(16, 4)
    exact = torch.prod(torch.where(labels.bool(), p1, 1 - p1), -1)  # product over independent bits
    assert torch.allclose(logp.exp()[0], exact, atol=1e-6) and abs(float(logp.exp().sum()) - 1) < 1e-5


def test_error_free_forward_sends_the_nearest_codewords_and_the_planes_round_trip():
    m = tiny_model().eval()
    x = torch.rand(2, 3, 64, 96)
    planes = torch.arange(2 * 4 * 8 * 12, dtype=torch.float32).reshape(2, 4, 8, 12)
    assert torch.equal(m.planes(m.unplanes(planes), 2, 2, 3), planes)
    tiles = m.to_tiles(x)
    assert torch.equal(m.from_tiles(tiles, 2, 2, 3), x)
    keep = m.keep_positions(tiles.shape[0], 8, "cpu")
    z_e, index, code, weight = m.encode(tiles, keep, torch.full((tiles.shape[0],), 10.0))
    book = m.book()
    assert torch.equal(index, torch.cdist(z_e.reshape(-1, 8), book).argmin(-1).reshape(index.shape))
    assert torch.allclose(weight.mean(1), torch.ones(tiles.shape[0]), atol=1e-5)  # FIM weights: mean 1
    out = m(x)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_a_token_like_the_previous_one_is_a_copy_and_weak_ones_are_not_sent():
    m = tiny_model()
    code = torch.tensor([[[1.0, 0], [1.0, 0.01], [0, 1.0], [0, 1.0]]])
    weight = torch.tensor([[1.0, 1.0, 0.1, 1.0]])
    send = m.send_flags(code, weight, 0.25, 0.98)
    # token 1 repeats token 0 (a copy); token 2 is below the FIM threshold, so token 3 (like 2) is sent
    assert m.copy_flags(code, weight, 0.25, 0.98).tolist() == [[False, True, False, False]]
    assert send.tolist() == [[True, False, False, True]]
    assert m.send_flags(code, weight, 0.0, 2.0).all()


def test_vq_losses_train_the_codebook_and_the_encoder_only_where_eq12_says():
    m = tiny_model(ortho_weight=0.0)
    x = torch.rand(2, 3, 32, 32)
    out = m(x)
    m.extra_loss().backward(retain_graph=True)
    assert m.codewords.grad is not None and m.codewords.grad.abs().sum() > 0
    assert m.to_code.weight.grad.abs().sum() > 0  # the commitment term reaches the encoder
    assert m.head[-1].weight.grad is None  # the decoder gets nothing from eq. 12's codebook terms
    m.zero_grad()
    torch.nn.functional.mse_loss(out, x).backward()
    assert m.head[-1].weight.grad.abs().sum() > 0 and m.to_code.weight.grad.abs().sum() > 0  # straight-through


def test_transmitter_noise_is_bounded_and_raises_the_loss():
    loss = torch.nn.functional.mse_loss
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Tanh(), torch.nn.Conv2d(8, 3, 3, padding=1))
    x = torch.rand(2, 3, 32, 32)
    adv = adversarial.transmitter_noise(net, loss, x, 0.016, 5)
    assert float((adv - x).abs().max()) <= 0.016 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    assert float((adv - x).abs().max()) > 0.015  # K * alpha > eps: the noise uses its whole power
    with torch.no_grad():
        assert float(loss(net(adv), x)) > float(loss(net(x), x))
    m = tiny_model(mask_ratio=0.0).eval()  # through the codebook: the loss cannot go down
    x = torch.rand(1, 3, 32, 32)

    def forward(inp):
        torch.manual_seed(2)
        return m(inp)
    adv = adversarial.transmitter_noise(forward, loss, x, 0.016, 5)
    with torch.no_grad():
        assert float(loss(forward(adv), x)) >= float(loss(forward(x), x)) - 1e-7
    noise = adversarial.receiver_noise(m, loss, torch.rand(3, 3, 32, 32), 0.008, 2, draws=3)
    assert noise.shape == (1, 3, 32, 32) and abs(float(noise.abs().max()) - 0.008) < 1e-6


def test_weight_perturbation_ascends_and_is_removed():
    m = tiny_model(mask_ratio=0.0, fim=False)
    x = torch.rand(2, 3, 32, 32)
    params = [p for p in m.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]

    def loss_of():
        torch.manual_seed(0)
        return torch.nn.functional.mse_loss(m(x), x)
    base = float(loss_of().detach())
    perturbed = float(adversarial.perturbed_step(m, params, loss_of, 0.05))
    assert perturbed > base  # nu goes up the loss
    assert all(torch.equal(a, p) for a, p in zip(before, params))  # nu removed again
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)  # the gradient at theta + nu


def test_codebook_upkeep_runs_on_training_steps_only():
    x = torch.rand(2, 3, 32, 32)
    m = tiny_model(mask_ratio=0.0, fim=False).train()
    m(x)
    assert float(m.usage.sum()) > 0  # a training forward counts codeword use (restarts read it)
    m.usage.zero_()
    loss = torch.nn.functional.mse_loss
    with adversarial.codebook_paused(m):  # the noise search and the perturbed weights are probes
        adversarial.transmitter_noise(m, loss, x, 0.016, 2)
        params = [p for p in m.parameters() if p.requires_grad]
        adversarial.perturbed_step(m, params, lambda: loss(m(x), x), 0.01)
    assert float(m.usage.sum()) == 0 and m.maintain_codebook
    frozen = tiny_model(mask_ratio=0.0, fim=False, maintain_codebook=False).train()
    frozen(x)
    assert float(frozen.usage.sum()) == 0


def test_an_adversarial_stage_trains_and_bad_options_are_one_line(tmp_path):
    base = {"name": "vq", "model": {"method": "mvqvae", "preset": "tiny", "patch": 8, "tile": 32, "codebook": 16,
                                    "code_dim": 8},
            "modulation": "16qam", "data": {"synthetic": 4, "crop": 32, "batch": 2, "val_crop": 32, "val_images": 1},
            "recipe": [{"name": "ef", "steps": 2, "channel": {"kind": "error-free"}},
                       {"name": "at", "steps": 2, "channel": {"kind": "mask", "erase_range": [0, 0.1]},
                        "adversarial": {"epsilon": 0.016, "steps": 2, "gamma": 0.01}}],
            "val": {"every": 100, "snrs": [0.0], "channel": {"kind": "mask", "erase_range": [0, 0]}},
            "threads": 1, "precision": "fp32", "checkpoint_every": 100}
    cfg = trainer.load_config(base)
    assert cfg["model"]["latent_channels"] == 4 and cfg["recipe"][1]["adversarial"]["gamma"] == 0.01
    summary = trainer.Trainer(cfg, str(tmp_path / "run"), progress=False).fit()
    assert summary["step"] == 4 and np.isfinite(summary["last_loss"])
    for bad, words in (({"epsilon": -1}, "epsilon"), ({"steps": 0}, "steps"), ({"rate": 1}, "unknown")):
        stages = [dict(base["recipe"][1], adversarial=bad)]
        with pytest.raises(SemcomError, match=words):
            trainer.load_config({**base, "recipe": stages})


def test_the_task_head_reads_what_crossed_the_link(tmp_path):
    """The receiver's vectors: the sent codewords at their positions and zeros elsewhere, error-free;
    the same through 16-QAM + LDPC 1/2 at 12 dB; mostly erased at -6 dB, where LDPC fails. The head
    takes them and trains (loss down) on a labelled folder."""
    from gnuradio.semcom.imageio import save_image
    from gnuradio.semcom.training import mvqvae_task
    rng = np.random.default_rng(0)
    for name, level in (("dark", 40), ("bright", 215)):
        os.makedirs(tmp_path / name)
        for i in range(6):
            save_image(str(tmp_path / name / f"{i}.png"),
                       np.clip(rng.normal(level, 20, (40, 40, 3)), 0, 255).astype(np.uint8))
    images, labels, names = mvqvae_task.folder(str(tmp_path), 32)
    assert images.shape == (12, 32, 32, 3) and names == ["bright", "dark"]
    m = tiny_model(mask_ratio=0.5).eval()
    clean = mvqvae_task.transmit(m, images, None)
    x = torch.from_numpy(images.astype(np.float32).transpose(0, 3, 1, 2) / 255)
    torch.manual_seed(0)
    keep = m.keep_positions(len(x), m.positions // 2, "cpu")
    _, index, code, weight = m.encode(x, keep, torch.full((len(x),), 10.0))
    sent = m.send_flags(code, weight, m.fim_threshold, 2.0)
    want = torch.zeros_like(clean).scatter_(1, keep[..., None].expand(-1, -1, m.code_dim), code * sent[..., None])
    assert torch.allclose(clean, want, atol=1e-5)
    coded = mvqvae_task.transmit(m, images, 12.0)  # LDPC decodes: the same positions, posteriors near 1
    assert torch.equal(coded.abs().sum(-1) > 0, clean.abs().sum(-1) > 0) and torch.allclose(coded, clean, atol=0.05)
    # the paper's channel at high SNR decodes as AWGN does (the FIM reads the SNR, so compare at one SNR)
    mimo = mvqvae_task.transmit(m, images, 30.0, channel="mimo8x4")
    assert torch.allclose(mimo, mvqvae_task.transmit(m, images, 30.0), atol=0.05) and mimo.abs().sum() > 0
    lost = mvqvae_task.transmit(m, images, -6.0)
    assert (lost.abs().sum(-1) > 0).float().mean() < 0.5 * (clean.abs().sum(-1) > 0).float().mean()
    head = mvqvae_task.Head(m.positions, m.code_dim, 2)
    assert head(clean).shape == (12, 2) and 0 <= mvqvae_task.accuracy(head, lost, labels) <= 1


def test_digits_come_from_the_wheel_at_tile_size():
    pytest.importorskip("sklearn")
    from gnuradio.semcom.training import mvqvae_task
    images, labels, names = mvqvae_task.digits(32)
    assert images.shape == (1797, 32, 32, 3) and set(labels) == set(range(10)) and len(names) == 10
    assert images.max() == 255 and np.array_equal(images[0, :4, :4, 0], np.full((4, 4), images[0, 0, 0, 0]))
