"""The 2-D GAN core: one D step and one G step against gradients computed by hand,
learning and determinism claims on fixed seeds (also with two runs in two threads at
once), divergence detection, input validation, targets and measures."""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn as nn

from playground.gan.config import PRESETS, GANConfig, make_config
from playground.gan.data import TARGETS, mode_centres, parse_points, points_from_sketch, sample_target
from playground.gan.model import (Discriminator, Generator, PointsRun, d_step, g_step, modes_covered,
                                  sliced_wasserstein, snapshot, train_gan)

LR = 0.1


def linear_pair(seed: int = 3) -> tuple[Generator, Discriminator, torch.Generator]:
    """G(z) = A z + c and D(x) = w·x + b (no hidden layer): gradients easy to write by hand."""
    gen = torch.Generator().manual_seed(seed)
    return Generator(2, 8, 0, 2, "relu", gen), Discriminator(2, 8, 0, "relu", gen), gen


def test_nets_are_sequential_linear_layers_drawn_from_the_run_generator():
    gen = torch.Generator().manual_seed(0)
    G = Generator(2, 16, 2, 2, "relu", gen)
    assert [type(m) for m in G.net] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    bound = 1 / math.sqrt(16)
    assert G.net[2].weight.abs().max() <= bound  # nn.Linear's own initialisation range
    again = Generator(2, 16, 2, 2, "relu", torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), again.state_dict().values()))
    torch.manual_seed(123)  # the global generator plays no part
    third = Generator(2, 16, 2, 2, "relu", torch.Generator().manual_seed(0))
    assert torch.equal(third.net[0].weight, G.net[0].weight)


@pytest.mark.parametrize("loss", ["non-saturating", "standard"])
def test_d_step_equals_the_gradient_written_by_hand(loss):
    """D(x) = w·x + b, loss −log σ(D(real)) − log(1 − σ(D(fake))):
    ∂/∂w = mean(−(1 − σ(s_real))·x_real) + mean(σ(s_fake)·x_fake); the same for b with x = 1."""
    G, D, gen = linear_pair()
    real, fake = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)
    w, b = D.net[0].weight.detach().clone()[0], D.net[0].bias.detach().clone()
    s_real, s_fake = real @ w + b, fake @ w + b
    expected_loss = float((-torch.log(torch.sigmoid(s_real)) - torch.log(1 - torch.sigmoid(s_fake))).mean())
    grad_w = (-(1 - torch.sigmoid(s_real))[:, None] * real).mean(0) + (torch.sigmoid(s_fake)[:, None] * fake).mean(0)
    grad_b = (-(1 - torch.sigmoid(s_real))).mean() + torch.sigmoid(s_fake).mean()
    d_loss = d_step(D, torch.optim.SGD(D.parameters(), lr=LR), real, fake, loss)
    assert d_loss == pytest.approx(expected_loss, rel=1e-5)
    assert torch.allclose(D.net[0].weight[0], w - LR * grad_w, atol=1e-6)
    assert torch.allclose(D.net[0].bias, b - LR * grad_b, atol=1e-6)


@pytest.mark.parametrize("loss", ["non-saturating", "standard"])
def test_g_step_equals_the_gradient_written_by_hand(loss):
    """fake = A z + c, s = w·fake + b. Non-saturating −log σ(s): ∂/∂fake = −(1 − σ(s))·w;
    minimax log(1 − σ(s)): ∂/∂fake = −σ(s)·w. Then ∂/∂A = mean(∂/∂fake ⊗ z), ∂/∂c = mean."""
    G, D, gen = linear_pair()
    z = torch.randn(6, 2, generator=gen)
    A, c = G.net[0].weight.detach().clone(), G.net[0].bias.detach().clone()
    w, b = D.net[0].weight.detach().clone()[0], D.net[0].bias.detach().clone()
    s = (z @ A.T + c) @ w + b
    dscore = -(1 - torch.sigmoid(s)) if loss == "non-saturating" else -torch.sigmoid(s)  # ∂loss_i/∂s_i
    dfake = dscore[:, None] * w  # (6, 2)
    g_loss = g_step(D, torch.optim.SGD(G.parameters(), lr=LR), G(z), loss)
    expected = (-torch.log(torch.sigmoid(s)) if loss == "non-saturating" else torch.log(1 - torch.sigmoid(s))).mean()
    assert g_loss == pytest.approx(float(expected), rel=1e-5)
    assert torch.allclose(G.net[0].weight, A - LR * (dfake[:, :, None] * z[:, None, :]).mean(0), atol=1e-6)
    assert torch.allclose(G.net[0].bias, c - LR * dfake.mean(0), atol=1e-6)
    assert torch.equal(D.net[0].weight[0], w)  # G's step leaves D alone


def test_wgan_gp_critic_step_equals_the_gradient_written_by_hand():
    """A linear critic has ∇D(x̂) = w everywhere, so the penalty is λ(‖w‖ − 1)² and
    ∂/∂w = mean(x_fake) − mean(x_real) + 2λ(‖w‖ − 1)·w/‖w‖."""
    G, D, gen = linear_pair()
    real, fake = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)
    mix = torch.rand(6, 1, generator=gen)
    w, b = D.net[0].weight.detach().clone()[0], D.net[0].bias.detach().clone()
    gp = 10.0
    expected_loss = float((fake @ w).mean() - (real @ w).mean() + gp * (w.norm() - 1) ** 2)
    grad_w = fake.mean(0) - real.mean(0) + 2 * gp * (w.norm() - 1) * w / w.norm()
    d_loss = d_step(D, torch.optim.SGD(D.parameters(), lr=LR), real, fake, "wgan-gp", gp, mix)
    assert d_loss == pytest.approx(expected_loss, rel=1e-5)
    assert torch.allclose(D.net[0].weight[0], w - LR * grad_w, atol=1e-5)
    assert torch.allclose(D.net[0].bias, b, atol=1e-7)  # the bias cancels out of the critic loss


def test_distance_to_ring_falls_fivefold_within_1000_steps():
    """The learning claim (seed 0, healthy preset): the sliced Wasserstein distance to the
    ring falls at least 5× within 1,000 steps (measured 1.25 → 0.13)."""
    run = PointsRun(replace(PRESETS["Healthy training"].config, max_steps=1000))
    run.train(1000)
    assert run.distances[-1] * 5 < run.distances[0], run.distances
    assert run.distances[-1] < 3 * run.noise_floor


def test_same_seed_same_run_however_the_steps_are_split():
    cfg = GANConfig(max_steps=100, batch_size=32, g_width=16, d_width=16)
    one = PointsRun(cfg)
    one.train(70)
    two = PointsRun(cfg)
    for n in (1, 20, 49):
        two.train(n)
    assert one.d_losses == two.d_losses and one.g_losses == two.g_losses
    assert all(torch.equal(a, b) for a, b in zip(one.G.state_dict().values(), two.G.state_dict().values()))
    other = PointsRun(replace(cfg, seed=1))
    other.train(70)
    assert other.g_losses != one.g_losses


def test_same_seed_same_run_with_two_runs_in_two_threads_at_once():
    """Each run draws from its own generator: two runs of one seed, trained side by side
    in threads (while a third, other seed, trains too), give the losses of a run alone."""
    cfg = GANConfig(max_steps=150, batch_size=64, g_width=32, d_width=32, loss="wgan-gp")
    alone = PointsRun(cfg)
    alone.train(150)
    runs = [PointsRun(cfg), PointsRun(cfg), PointsRun(replace(cfg, seed=7))]
    threads = [threading.Thread(target=run.train, args=(150,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runs[0].g_losses == runs[1].g_losses == alone.g_losses
    assert runs[0].distances == alone.distances and runs[2].g_losses != alone.g_losses


def test_generator_yields_snapshots_of_a_tiny_run():
    cfg = GANConfig(max_steps=30, batch_size=16, g_width=8, d_width=8, loss="wgan-gp", d_steps=2)
    snaps = list(itertools.islice(train_gan(cfg, snapshot_every=10), 10))
    assert [s.step for s in snaps] == [0, 10, 20, 30] and snaps[-1].done
    last = snaps[-1]
    assert last.fake.shape == last.real.shape == last.arrows.shape == (512, 2)
    assert last.surface.shape == (48, 48) and len(last.d_loss) == 30
    assert np.isfinite(last.d_loss).all() and np.isfinite(last.g_loss).all()
    assert list(last.distance_steps) == [0, 30] and last.modes[1] == 8


def test_arrows_are_minus_the_gradient_of_each_samples_loss():
    """The arrow at a sample x is −∂/∂x of G's loss for that sample alone: checked by a
    finite difference on D's score."""
    run = PointsRun(GANConfig(max_steps=10, batch_size=16))
    run.train(10)
    snap = snapshot(run)
    x = torch.as_tensor(snap.fake[:1]).double()
    D = run.D.double()
    eps = 1e-6
    with torch.no_grad():
        loss = lambda p: float(torch.nn.functional.softplus(-D(p)))  # noqa: E731 - non-saturating
        numeric = [-(loss(x + eps * e) - loss(x - eps * e)) / (2 * eps)
                   for e in torch.eye(2, dtype=torch.float64)]
    assert np.allclose(snap.arrows[0], numeric, atol=1e-4)


def test_divergence_is_detected_and_not_drawn():
    run = PointsRun(GANConfig(max_steps=100, batch_size=16))
    run.train(5)
    with torch.no_grad():
        run.D.net[0].weight[0, 0] = float("nan")
    run.train(10)
    snap = snapshot(run)
    assert snap.diverged_at == 6 and snap.done and run.step == 6
    assert snap.fake.size == 0 and snap.surface.size == 0
    assert run.train(10) == 0


def test_bad_hyper_parameters_are_refused_or_clamped():
    cfg, notes = make_config(lr_g=0, lr_d=1e9, g_width=0, max_steps=10**7)
    assert (cfg.lr_g, cfg.lr_d, cfg.g_width, cfg.max_steps) == (1e-5, 1.0, 1, 20_000)
    assert len(notes) == 4 and all("was set to" in n for n in notes)
    for bad in ({"lr_g": float("nan")}, {"lr_d": "fast"}, {"target": "cat"}, {"loss": None},
                {"colour": 1}):
        with pytest.raises(ValueError):
            make_config(**bad)


def test_every_preset_is_a_valid_config():
    for name, preset in PRESETS.items():
        cfg, notes = make_config(**{k: getattr(preset.config, k) for k in preset.config.__dataclass_fields__})
        assert cfg == preset.config and not notes, name
        assert preset.lesson


def test_targets_and_typed_or_drawn_points():
    gen = torch.Generator().manual_seed(0)
    points = parse_points("0, 0\n1, 2; 3 -1\n")
    assert points.shape == (3, 2) and np.abs(points).max() == pytest.approx(2.0)
    for name in TARGETS:
        xy = sample_target(name, 100, gen, points)
        assert xy.shape == (100, 2) and torch.isfinite(xy).all() and xy.abs().max() < 4
    ring = sample_target("ring", 2000, gen)
    assert torch.allclose(ring.norm(dim=1).mean(), torch.tensor(2.0), atol=0.02)
    for bad in ("", "1, 2", "1, 2\nx, y\n3, 4", "nan, 1\n1, 2\n2, 3", "1 2 3\n1 2\n2 2"):
        with pytest.raises(ValueError):
            parse_points(bad)
    canvas = np.full((50, 50, 3), 255, np.uint8)
    canvas[10:40, 24:26] = 0  # a vertical stroke
    drawn = points_from_sketch(canvas)
    assert np.ptp(drawn[:, 1]) > 5 * np.ptp(drawn[:, 0])
    with pytest.raises(ValueError):
        points_from_sketch(np.full((50, 50, 3), 255, np.uint8))


def test_modes_covered_counts_the_modes_with_samples_near_them():
    gen = torch.Generator().manual_seed(0)
    centres = mode_centres("ring")
    assert modes_covered(sample_target("ring", 512, gen), centres) == 8
    assert modes_covered(centres[2] + 0.05 * torch.randn(512, 2, generator=gen), centres) == 1
    assert modes_covered(torch.zeros(512, 2), centres) == 0  # between the modes: none
    assert modes_covered(sample_target("grid", 2000, gen), mode_centres("grid")) == 25
    assert mode_centres("two moons") is None


def test_sliced_wasserstein_is_zero_for_equal_samples_and_sees_a_shift():
    a = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    assert sliced_wasserstein(a, a) == 0
    # Shifting by (1, 0): the mean |projection shift| over directions is 2/π.
    assert sliced_wasserstein(a, a + torch.tensor([1.0, 0.0])) == pytest.approx(2 / math.pi, rel=0.03)
