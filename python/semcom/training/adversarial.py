"""Semantic noise and adversarial training (the masked VQ-VAE paper, Section II; any model of the trainer).

* ``transmitter_noise``: sample-dependent semantic noise, iterative FGSM (eq. 7): K steps of
  alpha * sign(grad) on the loss against the clean image, projected on the L-inf ball of radius
  epsilon (and on [0, 1]); alpha = ALPHA_FACTOR * epsilon / K, so that K * alpha > epsilon.
* ``receiver_noise``: sample-independent semantic noise (Algorithm 1): the FGSM noise of N images
  through N channel draws, each aligned with its channel (multiplied by conj(H); for the real-valued
  image domain of the trainer's channels: its sign), averaged, weighted by its loss, and scaled to
  L-inf norm epsilon.
* ``perturbed_step``: one step of Algorithm 2 (problem P3): semantic noise with the weights fixed,
  one ascent step on a weight perturbation nu with ||nu|| <= gamma ||theta|| per tensor (adversarial
  weight perturbation, Wu et al. 2020), then the descent step on theta at theta + nu.

A recipe stage turns it on with ``"adversarial": {"epsilon": 0.016, "steps": 5, "gamma": 0.005}``.
"""
from __future__ import annotations

import contextlib

import torch

ALPHA_FACTOR = 1.25
DEFAULTS = {"epsilon": 0.016, "steps": 5, "gamma": 0.005}


@contextlib.contextmanager
def codebook_paused(model):
    """No codebook upkeep (the masked VQ-VAE's dead-codeword restarts) while noise is searched and weights
    are perturbed: those forward passes are probes, not training steps."""
    before = getattr(model, "maintain_codebook", None)
    if before is not None:
        model.maintain_codebook = False
    try:
        yield
    finally:
        if before is not None:
            model.maintain_codebook = before


def check(stage: str, spec) -> dict:
    """A stage's ``adversarial`` section with defaults; ValueError naming the bad key."""
    if not isinstance(spec, dict):
        raise ValueError(f"recipe stage '{stage}': adversarial must be an object like {DEFAULTS}")
    out = {**DEFAULTS, **spec}
    unknown = set(out) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"recipe stage '{stage}': unknown adversarial option(s) {', '.join(sorted(unknown))}")
    for key, (low, high) in {"epsilon": (0.0, 1.0), "gamma": (0.0, 1.0)}.items():
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
            raise ValueError(f"recipe stage '{stage}': adversarial {key} must be a number in [{low}, {high}]")
    if isinstance(out["steps"], bool) or not isinstance(out["steps"], int) or not 1 <= out["steps"] <= 100:
        raise ValueError(f"recipe stage '{stage}': adversarial steps must be a whole number in [1, 100]")
    return out


def transmitter_noise(forward, loss_fn, x: torch.Tensor, epsilon: float, steps: int = 5, target=None) -> torch.Tensor:
    """x' = x + semantic noise (eq. 7) against ``loss_fn(forward(x'), target)`` (target: the clean
    image unless given, e.g. the labels of a classifier); the parameters get no gradient."""
    if epsilon <= 0:
        return x.detach()
    target = x if target is None else target
    alpha = ALPHA_FACTOR * epsilon / steps
    adv = x.detach().clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = loss_fn(forward(adv).float(), target)
        grad, = torch.autograd.grad(loss, adv)
        adv = adv.detach() + alpha * grad.sign()
        adv = (x + (adv - x).clamp(-epsilon, epsilon)).clamp(0, 1).detach()
    return adv


def receiver_noise(forward, loss_fn, images: torch.Tensor, epsilon: float, steps: int = 5,
                   draws: int = 8, seed: int = 0) -> torch.Tensor:
    """One noise (1, C, H, W) for every image (Algorithm 1): per draw n, the FGSM noise of an image
    under that draw's channel, times the sign of a Rayleigh gain drawn from the channel statistics
    (the conjugate channel's real counterpart), weighted by the loss it causes; the weighted mean,
    scaled to L-inf norm epsilon."""
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros_like(images[:1])
    weights = 0.0
    for n in range(draws):
        x = images[n % len(images)][None]
        gain = torch.randn(1, generator=gen).sign().item()  # real part of a CN(0, 1) draw: its sign aligns
        delta = (transmitter_noise(forward, loss_fn, x, epsilon, steps) - x) * gain
        with torch.no_grad():
            w = float(loss_fn(forward((x + delta).clamp(0, 1)).float(), x))
        total += w * delta
        weights += w
    noise = total / max(weights, 1e-12)
    return noise * (epsilon / noise.abs().max().clamp_min(1e-12))


def perturbed_step(model, params: list, loss_of, gamma: float) -> torch.Tensor:
    """Algorithm 2's steps 3-4 on gradients already zeroed: nu = gamma ||theta|| g / ||g|| per tensor
    from one backward pass of ``loss_of()``, then the loss at theta + nu is backpropagated and nu
    removed; the caller's optimizer then steps theta. Returns that loss."""
    loss = loss_of()
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    saved = []
    with torch.no_grad():
        for p, g in zip(params, grads):
            if g is None or gamma == 0:
                continue
            saved.append((p, p.detach().clone()))
            p.add_(gamma * p.norm() * g / g.norm().clamp_min(1e-12))
    loss = loss_of()
    loss.backward()
    with torch.no_grad():
        for p, theta in saved:  # theta exactly, not theta + nu - nu
            p.copy_(theta)
    return loss
