"""Generative adversarial networks (Goodfellow et al. 2014), in plain PyTorch.

A generator G maps noise z to samples; a discriminator D scores samples as real or fake.
They train in turns: ``d_step`` teaches D to tell the data from G's samples, ``g_step``
moves G's samples where D says "real". Three losses:

- "standard": the minimax game, G minimises log(1 − D(G(z))). Its gradient vanishes
  where D confidently rejects G's samples;
- "non-saturating": G minimises −log D(G(z)) instead (same paper, section 3);
- "wgan-gp": a critic scores samples, no sigmoid, with a gradient penalty
  (Arjovsky et al. 2017; Gulrajani et al. 2017).

A run (``GANRun``) owns its nets, optimizers, data and one ``torch.Generator`` seeded by
cfg.seed: the same seed gives the same run, whatever else the server does meanwhile.
``PointsRun`` is the 2-D lab's run; ``train_gan`` yields snapshots of one as it trains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from playground.gan.config import GANConfig
from playground.gan.data import mode_centres, sample_target

LEAK = 0.2  # leaky ReLU slope, as in DCGAN's discriminator (Radford et al. 2016)
POOL = 8192  # the data set: this many samples of the 2-D target, drawn once per run
N_SHOW = 512  # fixed noise (and real points) drawn and measured at every frame
MEASURE_EVERY = 50  # steps between two measurements of the distance to the data
GRID = 48  # D's decision surface is drawn on a GRID × GRID lattice


# --- the two networks ----------------------------------------------------------------
def activation(kind: str) -> nn.Module:
    if kind == "relu":
        return nn.ReLU()
    if kind == "leaky_relu":
        return nn.LeakyReLU(LEAK)
    return nn.Tanh()


def mlp(sizes: list[int], hidden: str, gen: torch.Generator, out: str | None = None) -> nn.Sequential:
    """Linear layers sizes[0] → ... → sizes[-1], a ``hidden`` activation between them.
    Initialised as nn.Linear does (uniform ±1/√fan_in), from the run's own generator."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        linear = nn.Linear(fan_in, fan_out)
        with torch.no_grad():
            linear.weight.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=gen)
            linear.bias.uniform_(-1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator=gen)
        layers += [linear, activation(hidden)]
    layers.pop()  # no activation after the last layer ...
    return nn.Sequential(*layers, *([activation(out)] if out else []))  # ... unless asked


def with_label(x: torch.Tensor, labels: torch.Tensor | None, n_classes: int) -> torch.Tensor:
    """x (B, d) with the one-hot label appended (B, d + n_classes): a conditional GAN
    (Mirza & Osindero 2014) tells both nets which class a sample is."""
    return x if labels is None else torch.cat([x, F.one_hot(labels, n_classes).float()], 1)


class Generator(nn.Module):
    """G: noise z (B, latent_dim) [+ a label] → a sample (B, out_dim)."""

    def __init__(self, latent_dim: int, width: int, layers: int, out_dim: int, hidden: str,
                 gen: torch.Generator, n_classes: int = 0, out: str | None = None) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.net = mlp([latent_dim + n_classes] + [width] * layers + [out_dim], hidden, gen, out)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(with_label(z, labels, self.n_classes))


class Discriminator(nn.Module):
    """D: a sample (B, in_dim) [+ a label] → a score (B, 1): a logit, P(real) = sigmoid."""

    def __init__(self, in_dim: int, width: int, layers: int, hidden: str,
                 gen: torch.Generator, n_classes: int = 0) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.net = mlp([in_dim + n_classes] + [width] * layers + [1], hidden, gen)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(with_label(x, labels, self.n_classes))


# --- the losses (softplus(s) = −log(1 − sigmoid(s)): stable for large scores) ---------
def discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """−log D(x) − log(1 − D(G(z))): D says "real" on data, "fake" on G's samples."""
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def minimax_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """log(1 − D(G(z))), to minimise: flat where D is sure a sample is fake."""
    return -F.softplus(fake_scores).mean()


def non_saturating_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """−log D(G(z)): steep exactly where D is sure a sample is fake."""
    return F.softplus(-fake_scores).mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()  # raise the critic's score of G's samples


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor,
                     labels: torch.Tensor | None = None) -> torch.Tensor:
    """E[(‖∇D(x̂)‖ − 1)²] at points x̂ between real and fake samples (Gulrajani et al. 2017)."""
    between = (mix * real + (1 - mix) * fake).requires_grad_()  # (B, d)
    grad, = torch.autograd.grad(D(between, labels).sum(), between, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


GENERATOR_LOSSES = {"standard": minimax_generator_loss,
                    "non-saturating": non_saturating_generator_loss,
                    "wgan-gp": wasserstein_generator_loss}


# --- one step of each player ------------------------------------------------------------
def d_step(D: nn.Module, d_opt: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
           loss: str, gp_weight: float = 0.0, mix: torch.Tensor | None = None,
           labels: torch.Tensor | None = None) -> float:
    """One update of D on real samples and G's samples (``fake``, no gradient to G)."""
    real_scores, fake_scores = D(real, labels), D(fake, labels)
    if loss == "wgan-gp":
        d_loss = fake_scores.mean() - real_scores.mean() + gp_weight * gradient_penalty(D, real, fake, mix, labels)
    else:
        d_loss = discriminator_loss(real_scores, fake_scores)
    d_opt.zero_grad()
    d_loss.backward()
    d_opt.step()
    return d_loss.item()


def g_step(D: nn.Module, g_opt: torch.optim.Optimizer, fake: torch.Tensor, loss: str,
           labels: torch.Tensor | None = None) -> float:
    """One update of G through D's score of its samples ``fake`` = G(z), graph attached
    (the DCGAN loop reuses the batch D just saw). Only G's weights change: D's get
    gradients too, but d_step clears them before it uses them."""
    g_loss = GENERATOR_LOSSES[loss](D(fake, labels))
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    return g_loss.item()


def make_optimizer(net: nn.Module, kind: str, lr: float, loss: str) -> torch.optim.Optimizer:
    # foreach: one call updates all of a net's tensors (on nets this small, the per-tensor
    # loop of the default costs a fifth of a training step)
    if kind == "sgd":
        return torch.optim.SGD(net.parameters(), lr=lr, foreach=True)
    # β1 = 0.5 follows DCGAN; WGAN-GP's paper uses (0.5, 0.9).
    betas = (0.5, 0.9) if loss == "wgan-gp" else (0.5, 0.999)
    return torch.optim.Adam(net.parameters(), lr=lr, betas=betas, foreach=True)


# --- a run -------------------------------------------------------------------------------
class GANRun:
    """One training run: data (N, d) [with labels], G, D, their optimizers, the losses
    at every step. All randomness comes from ``gen``, the run's own generator. ``cfg``
    is a GANConfig or a DigitsConfig: both name the loss, optimizer, lr_g, lr_d, d_steps,
    batch_size, latent_dim, gp_weight and max_steps."""

    def __init__(self, cfg, data: torch.Tensor, G: nn.Module, D: nn.Module, gen: torch.Generator,
                 labels: torch.Tensor | None = None) -> None:
        self.cfg, self.data, self.labels, self.G, self.D, self.gen = cfg, data, labels, G, D, gen
        self.g_opt = make_optimizer(G, cfg.optimizer, cfg.lr_g, cfg.loss)
        self.d_opt = make_optimizer(D, cfg.optimizer, cfg.lr_d, cfg.loss)
        self.step = 0
        self.d_losses: list[float] = []
        self.g_losses: list[float] = []
        self.diverged_at: int | None = None  # the first step whose loss was NaN or infinite

    @property
    def done(self) -> bool:
        return self.diverged_at is not None or self.step >= self.cfg.max_steps

    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        pick = torch.randint(0, len(self.data), (self.cfg.batch_size,), generator=self.gen)
        return self.data[pick], None if self.labels is None else self.labels[pick]

    def train(self, n_steps: int) -> int:
        """Up to ``n_steps`` steps of d_steps D updates then one G update. Returns how
        many steps were done (fewer at max_steps or on divergence)."""
        cfg, start = self.cfg, self.step
        while self.step - start < n_steps and not self.done:
            for _ in range(cfg.d_steps):
                real, labels = self.real_batch()  # G draws samples of the real batch's classes
                z = torch.randn(cfg.batch_size, cfg.latent_dim, generator=self.gen)
                # WGAN-GP's x̂ weights, drawn whatever the loss: runs of one seed that differ
                # only in the loss then see the same data and the same noise
                mix = torch.rand(cfg.batch_size, 1, generator=self.gen)
                fake = self.G(z, labels)  # (B, d), attached to G's graph for g_step
                d_loss = d_step(self.D, self.d_opt, real, fake.detach(), cfg.loss, cfg.gp_weight, mix, labels)
            g_loss = g_step(self.D, self.g_opt, fake, cfg.loss, labels)  # D has changed, G not yet
            self.step += 1
            self.d_losses.append(d_loss)
            self.g_losses.append(g_loss)
            if not math.isfinite(d_loss + g_loss):
                self.diverged_at = self.step
            elif self.step % MEASURE_EVERY == 0 or self.done:
                self.measure()
        return self.step - start

    def measure(self) -> None:
        """Record how good G's samples are now (each lab measures its own way)."""


class PointsRun(GANRun):
    """The 2-D lab's run: G turns cfg.latent_dim numbers into a point, D scores points."""

    def __init__(self, cfg: GANConfig, points: np.ndarray | None = None) -> None:
        gen = torch.Generator().manual_seed(cfg.seed)
        data = sample_target(cfg.target, POOL, gen, points)  # (POOL, 2)
        G = Generator(cfg.latent_dim, cfg.g_width, cfg.g_layers, 2, cfg.activation, gen)
        D = Discriminator(2, cfg.d_width, cfg.d_layers, cfg.activation, gen)
        super().__init__(cfg, data, G, D, gen)
        self.z_show = torch.randn(N_SHOW, cfg.latent_dim, generator=gen)  # the same every frame
        self.real_show = data[:N_SHOW]
        self.noise_floor = sliced_wasserstein(self.real_show, data[N_SHOW:2 * N_SHOW])
        self.distance_steps: list[int] = []
        self.distances: list[float] = []
        self.measure()

    def measure(self) -> None:
        with torch.no_grad():
            self.distances.append(sliced_wasserstein(self.G(self.z_show), self.real_show))
        self.distance_steps.append(self.step)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, n_directions: int = 64) -> float:
    """Distance between two equal-size 2-D samples (n, 2), in data units: project both on
    evenly spaced directions, sort, average how far the sorted projections are apart."""
    angles = torch.arange(n_directions) * (math.pi / n_directions)
    directions = torch.stack([angles.cos(), angles.sin()])  # (2, n_directions)
    pa, pb = torch.sort(a @ directions, dim=0).values, torch.sort(b @ directions, dim=0).values
    return float((pa - pb).abs().mean())


def modes_covered(samples: torch.Tensor, centres: torch.Tensor, radius: float = 0.25,
                  min_share: float = 0.02) -> int:
    """How many modes (centres (M, 2)) hold at least ``min_share`` of the samples (n, 2)
    within ``radius``: G may be near the data yet cover only a few modes (mode collapse)."""
    near = torch.cdist(samples, centres) < radius  # (n, M)
    return int((near.float().mean(0) >= min_share).sum())


# --- what the lab draws --------------------------------------------------------------------
@dataclass(frozen=True)
class GANSnapshot:
    step: int
    max_steps: int
    loss: str
    real: np.ndarray  # (N_SHOW, 2) data points
    fake: np.ndarray  # (N_SHOW, 2) G(z) for a fixed z: the same noise every frame
    arrows: np.ndarray  # (N_SHOW, 2) −∂(G's loss)/∂x at each fake point: where G pushes it
    grid: np.ndarray  # (GRID,) coordinates of the decision-surface lattice, both axes
    surface: np.ndarray  # (GRID, GRID) D's P(real) (or the critic's score), indexed [y, x]
    d_loss: np.ndarray  # (step,) D's loss at every step
    g_loss: np.ndarray  # (step,)
    distance_steps: np.ndarray  # steps where the distance was measured
    distance: np.ndarray  # sliced Wasserstein distance of G's samples to the data then
    noise_floor: float  # the same distance between two samples of the data itself
    modes: tuple[int, int] | None  # (modes G covers, modes of the target), for ring and grid
    diverged_at: int | None

    @property
    def done(self) -> bool:
        return self.diverged_at is not None or self.step >= self.max_steps


def snapshot(run: PointsRun) -> GANSnapshot:
    """A frozen picture of the run now; a diverged run carries no points to draw."""
    cfg = run.cfg
    extent = max(2.5, 1.2 * float(run.data.abs().max()))
    grid = torch.linspace(-extent, extent, GRID)
    empty = np.zeros((0, 2), np.float32)
    fake, arrows, surface, modes = empty, empty, np.zeros((0, 0), np.float32), None
    if run.diverged_at is None:
        x = run.G(run.z_show).detach().requires_grad_()
        per_sample_loss = GENERATOR_LOSSES[cfg.loss](run.D(x)) * len(x)
        arrows = -torch.autograd.grad(per_sample_loss, x)[0].numpy()
        with torch.no_grad():
            gx, gy = torch.meshgrid(grid, grid, indexing="xy")  # (GRID, GRID) each
            scores = run.D(torch.stack([gx.flatten(), gy.flatten()], 1)).view(GRID, GRID)
        surface = (scores if cfg.loss == "wgan-gp" else torch.sigmoid(scores)).numpy()
        fake = x.detach().numpy().copy()
        centres = mode_centres(cfg.target)
        if centres is not None:
            modes = (modes_covered(x.detach(), centres), len(centres))
    return GANSnapshot(
        step=run.step, max_steps=cfg.max_steps, loss=cfg.loss, real=run.real_show.numpy().copy(),
        fake=fake, arrows=arrows, grid=grid.numpy(), surface=surface,
        d_loss=np.asarray(run.d_losses), g_loss=np.asarray(run.g_losses),
        distance_steps=np.asarray(run.distance_steps), distance=np.asarray(run.distances),
        noise_floor=run.noise_floor, modes=modes, diverged_at=run.diverged_at)


def train_gan(cfg: GANConfig, points: np.ndarray | None = None,
              snapshot_every: int = 100) -> Iterator[GANSnapshot]:
    """Train from scratch, yielding a snapshot at step 0, every ``snapshot_every`` steps
    and at the end (max_steps or divergence)."""
    run = PointsRun(cfg, points)
    yield snapshot(run)
    while not run.done:
        run.train(snapshot_every)
        yield snapshot(run)
