"""Generative adversarial networks on 2-D points (Goodfellow et al. 2014).

A generator G maps noise z to points; a discriminator D scores points as real or fake.
They train in turns: ``d_step`` teaches D to tell the data from G's samples, ``g_step``
moves G's samples where D says "real". Three losses are offered:

- "standard": the minimax game of Goodfellow et al. 2014, G minimises log(1 − D(G(z))),
  whose gradient vanishes when D confidently rejects G's samples;
- "non-saturating": G maximises log D(G(z)) instead (same paper, section 3);
- "wgan-gp": a critic with a gradient penalty (Arjovsky et al. 2017; Gulrajani et al. 2017).

Speed matters because students watch training live: a PyTorch loop over tiny MLPs spends
most of its time in per-op overhead, not arithmetic. So the MLPs here keep all weights
in ONE flat buffer (an Adam step is one fused kernel, whatever the depth), write their
backward pass by hand (no autograd graph; the math is the chain rule, layer by layer),
reuse G's forward pass for the D and G steps as the DCGAN reference loop does, and draw
noise for 32 steps at once. Only WGAN-GP's penalty, a gradient of a gradient, uses autograd.
Training is a ``GANRun`` that advances on demand plus ``train_gan``, a generator of
frozen snapshots (train every step, draw every N steps, like GAN Lab's VIS_INTERVAL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from playground.gan.config import GANConfig
from playground.gan.data import sample_target
from playground.service.threads import one_thread

LEAK = 0.2  # leaky ReLU slope, as in DCGAN's discriminator (Radford et al. 2016)
CHUNK = 32  # noise for this many steps is drawn at once; fixed so runs don't depend on drawing
POOL = 8192  # the "data set": this many samples of the target, drawn once per run
N_SHOW = 512  # fixed noise / real points that are drawn and measured at each snapshot
GRID = 48  # the decision surface is D evaluated on a GRID × GRID lattice



# --- the networks -------------------------------------------------------------------
def _activate(x: torch.Tensor, kind: str | None) -> torch.Tensor:
    # in place: x is addmm's fresh output, and allocations cost time in a small net
    if kind == "relu":
        return x.relu_()
    if kind == "leaky_relu":
        return F.leaky_relu_(x, LEAK)
    if kind == "tanh":
        return x.tanh_()
    return x


# The backward kernels autograd itself uses. Named by overload with float arguments: the
# generic torch.ops call resolves the overload and boxes the scalar on every call (~2× the op).
# ReLU's is leaky ReLU's with slope 0: the same numbers, a third faster than threshold_backward.
_LEAKY_RELU_BACKWARD = torch.ops.aten.leaky_relu_backward.default
_TANH_BACKWARD = torch.ops.aten.tanh_backward.default


def _activation_backward(grad: torch.Tensor, out: torch.Tensor, kind: str | None) -> torch.Tensor:
    """d(activation)/d(input) · grad, written from the activation's OUTPUT (no input kept)."""
    if kind == "relu":
        return _LEAKY_RELU_BACKWARD(grad, out, 0.0, True)
    if kind == "leaky_relu":
        return _LEAKY_RELU_BACKWARD(grad, out, LEAK, True)
    if kind == "tanh":
        return _TANH_BACKWARD(grad, out)  # grad · (1 − out²)
    return grad


class MLP:
    """A fully connected net whose weights are views into one flat buffer.

    ``forward`` returns every layer's output (the cache ``backward`` needs);
    ``backward`` fills the flat gradient buffer and returns the gradient of the input.
    Initialisation matches ``nn.Linear`` (uniform ±1/√fan_in), so it is the same net.

    ``weights[k]`` is layer k's (fan_in, fan_out) matrix. A layer with a thin output
    (e.g. 64 → 2) stores it transposed, as nn.Linear does: on such shapes MKL runs ~3×
    faster in that layout (G's 64 → 2 layer: 30 → 10 µs forward, 26 → 6 µs weight gradient).
    """

    def __init__(self, sizes: list[int], activation: str, out_activation: str | None,
                 gen: torch.Generator) -> None:
        self.sizes = sizes
        self.activation = activation
        self.out_activation = out_activation
        self.shapes = list(zip(sizes[:-1], sizes[1:]))  # (fan_in, fan_out) per layer
        n_params = sum(i * o + o for i, o in self.shapes)
        self.flat = torch.empty(n_params)
        self.grad = torch.zeros(n_params)
        self.activations = [self.layer_activation(k) for k in range(len(self.shapes))]
        self.thin = [fan_out * 4 <= fan_in for fan_in, fan_out in self.shapes]
        self._make_views()
        for w, b in zip(self.weights, self.biases):
            bound = 1 / math.sqrt(w.shape[0])
            # drawn in (fan_in, fan_out) order whatever the storage: the same net either way
            w.copy_(torch.empty(w.shape).uniform_(-bound, bound, generator=gen))
            b.uniform_(-bound, bound, generator=gen)

    def _make_views(self) -> None:
        self.weights, self.biases = self.views(self.flat)
        self.weights_t = [w.T for w in self.weights]  # views too: they follow every update
        self.grad_weights, self.grad_biases = self.views(self.grad)
        self.grad_weights_t = [g.T for g in self.grad_weights]

    # Pickling (a run trains in a worker process) copies each tensor on its own, so views
    # would come back detached from the flat buffers: send the buffers, rebuild the views.
    def __getstate__(self) -> dict:
        views = ("weights", "biases", "weights_t", "grad_weights", "grad_biases", "grad_weights_t")
        return {k: v for k, v in self.__dict__.items() if k not in views}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._make_views()

    def views(self, flat: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Split a flat vector into per-layer weights (fan_in, fan_out) and biases (fan_out,)."""
        weights, biases, offset = [], [], 0
        for (fan_in, fan_out), thin in zip(self.shapes, self.thin):
            block = flat[offset:offset + fan_in * fan_out]
            weights.append(block.view(fan_out, fan_in).T if thin else block.view(fan_in, fan_out))
            offset += fan_in * fan_out
            biases.append(flat[offset:offset + fan_out])
            offset += fan_out
        return weights, biases

    def layer_activation(self, k: int) -> str | None:
        return self.activation if k < len(self.shapes) - 1 else self.out_activation

    def forward(self, x: torch.Tensor, flat: torch.Tensor | None = None) -> list[torch.Tensor]:
        """[x, h1, ..., out]: x (B, sizes[0]) → out (B, sizes[-1]). ``flat`` swaps in other
        weights (autograd uses it for WGAN-GP)."""
        weights, biases = (self.weights, self.biases) if flat is None else self.views(flat)
        outs = [x]
        for w, b, kind, thin in zip(weights, biases, self.activations, self.thin):
            x = F.linear(x, w.T, b) if thin else torch.addmm(b, x, w)  # (B, fan_out)
            outs.append(_activate(x, kind))
        return outs

    def backward(self, outs: list[torch.Tensor], grad: torch.Tensor,
                 param_grads: bool = True, input_grad: bool = True) -> torch.Tensor | None:
        """Chain rule from the output back: fills ``self.grad`` (unless param_grads is
        False, e.g. when D only passes G's gradient through) and returns d/d(input)
        (None if input_grad is False: a matrix product saved when nobody needs it)."""
        for k in range(len(self.shapes) - 1, -1, -1):
            grad = _activation_backward(grad, outs[k + 1], self.activations[k])
            if param_grads:
                if self.thin[k]:  # in the layout of its storage, (fan_out, fan_in)
                    torch.mm(grad.T, outs[k], out=self.grad_weights_t[k])
                else:
                    torch.mm(outs[k].T, grad, out=self.grad_weights[k])  # (fan_in, fan_out)
                torch.sum(grad, 0, out=self.grad_biases[k])
            if k == 0 and not input_grad:
                return None
            if grad.shape[1] == 1:  # an outer product: a broadcast product beats a matrix product
                grad = grad * self.weights_t[k]
            else:
                grad = torch.mm(grad, self.weights_t[k])  # (B, fan_in)
        return grad

    def state_dict(self, prefix: str) -> dict[str, torch.Tensor]:
        state = {}
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            state[f"{prefix}.{k}.weight"] = w.T.contiguous()  # nn.Linear layout (out, in)
            state[f"{prefix}.{k}.bias"] = b.clone()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor], prefix: str) -> None:
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            w.copy_(state[f"{prefix}.{k}.weight"].T)
            b.copy_(state[f"{prefix}.{k}.bias"])


class Adam:
    """Adam (Kingma & Ba 2015) on a net's flat buffer, as one fused kernel: the one that
    ``torch.optim.Adam(fused=True)`` runs, without the optimizer's per-step bookkeeping."""

    def __init__(self, net: MLP, lr: float, betas: tuple[float, float], eps: float = 1e-8) -> None:
        self.net, self.lr, self.betas, self.eps = net, lr, betas, eps
        self.m = torch.zeros_like(net.flat)  # running mean of gradients
        self.v = torch.zeros_like(net.flat)  # running mean of squared gradients
        self.t = torch.zeros(())  # step count; the kernel reads it for the bias corrections

    def step(self) -> None:
        self.t += 1
        torch._fused_adam_([self.net.flat], [self.net.grad], [self.m], [self.v], [], [self.t],
                           lr=self.lr, beta1=self.betas[0], beta2=self.betas[1], weight_decay=0.0,
                           eps=self.eps, amsgrad=False, maximize=False)


class SGD:
    """Plain gradient descent: p -= lr · grad."""

    def __init__(self, net: MLP, lr: float) -> None:
        self.net, self.lr = net, lr

    def step(self) -> None:
        self.net.flat.add_(self.net.grad, alpha=-self.lr)


def make_optimizer(kind: str, net: MLP, lr: float, loss: str) -> Adam | SGD:
    if kind == "sgd":
        return SGD(net, lr)
    # β1 = 0.5 follows DCGAN; WGAN-GP's paper uses (0.5, 0.9).
    return Adam(net, lr, (0.5, 0.9) if loss == "wgan-gp" else (0.5, 0.999))


# --- the two players' updates ---------------------------------------------------------
@lru_cache(maxsize=16)
def _real_fake_signs(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """−1 for the real half, +1 for the fake half of D's input: (2B, 1); and the same / B."""
    signs = torch.cat([-torch.ones(batch, 1), torch.ones(batch, 1)])
    return signs, signs / batch


def _wgan_gp_gradients(D: MLP, real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor,
                       gp_weight: float) -> torch.Tensor:
    """Critic loss E[D(fake)] − E[D(real)] + λ·E[(‖∇D(x̂)‖ − 1)²]; fills D.grad, returns loss."""
    with torch.enable_grad():
        flat = D.flat.detach().requires_grad_()
        between = (mix * real + (1 - mix) * fake).requires_grad_()  # x̂ on lines real↔fake
        score_real = D.forward(real, flat)[-1]
        score_fake = D.forward(fake, flat)[-1]
        score_mix = D.forward(between, flat)[-1]
        grad_x, = torch.autograd.grad(score_mix.sum(), between, create_graph=True)  # (B, 2)
        penalty = ((grad_x.norm(dim=1) - 1) ** 2).mean()
        loss = score_fake.mean() - score_real.mean() + gp_weight * penalty
        D.grad.copy_(torch.autograd.grad(loss, flat)[0])
    return loss.detach()


def d_step(D: MLP, d_opt: Adam | SGD, real: torch.Tensor, fake: torch.Tensor, loss: str,
           gp_weight: float = 0.0, mix: torch.Tensor | None = None) -> torch.Tensor:
    """One discriminator update on real (B, d) and generated (B, d) inputs → D's loss."""
    if loss == "wgan-gp":
        d_loss = _wgan_gp_gradients(D, real, fake, mix, gp_weight)
    else:
        batch = real.shape[0]
        outs = D.forward(torch.cat([real, fake]))  # one pass over (2B, d)
        signs, signs_per_sample = _real_fake_signs(batch)
        signed = outs[-1] * signs  # (2B, 1) logits, negated for real
        # −log D(real) − log(1 − D(fake)) = softplus(−o_real) + softplus(o_fake)
        d_loss = F.softplus(signed).sum() / batch
        D.backward(outs, torch.sigmoid(signed).mul_(signs_per_sample),  # d softplus(s·o)/do, / B
                   input_grad=False)
    d_opt.step()
    return d_loss


def generator_loss_grad(scores: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """G's loss (summed over samples) and its derivative per sample w.r.t. D's output."""
    if loss == "standard":  # minimise log(1 − D(G(z))) = −softplus(o): saturates when D wins
        return -F.softplus(scores).sum(), -torch.sigmoid(scores)
    if loss == "non-saturating":  # minimise −log D(G(z)) = softplus(−o)
        return F.softplus(-scores).sum(), torch.sigmoid(scores) - 1
    return -scores.sum(), torch.full_like(scores, -1.0)  # WGAN: maximise the critic's score


def g_step(G: MLP, g_opt: Adam | SGD, D: MLP, g_outs: list[torch.Tensor],
           d_input: torch.Tensor, loss: str) -> torch.Tensor:
    """One generator update. ``g_outs`` is G's forward cache; ``d_input`` what D sees of
    G's samples (the samples, maybe with a label appended) → G's loss."""
    batch = d_input.shape[0]
    outs = D.forward(d_input)
    g_loss, grad = generator_loss_grad(outs[-1], loss)
    grad_input = D.backward(outs, grad.div_(batch), param_grads=False)  # D is not updated here
    G.backward(g_outs, grad_input[:, :G.sizes[-1]], input_grad=False)
    g_opt.step()
    return g_loss / batch


# --- measuring -------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _directions(n: int = 64) -> torch.Tensor:
    angles = torch.arange(n) * (math.pi / n)  # evenly spaced: exact enough in 2-D
    return torch.stack([angles.cos(), angles.sin()])  # (2, n)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor) -> float:
    """Sliced Wasserstein-1 distance between two equal-size 2-D samples (n, 2): project on
    64 directions, sort, average how far the sorted projections are apart (data units)."""
    pa = torch.sort(a @ _directions(), dim=0).values  # (n, 64)
    pb = torch.sort(b @ _directions(), dim=0).values
    return float((pa - pb).abs().mean())


# --- a run -----------------------------------------------------------------------------
@dataclass(frozen=True)
class GANSnapshot:
    step: int
    max_steps: int
    loss: str
    real: np.ndarray  # (N_SHOW, 2) data points
    fake: np.ndarray  # (N_SHOW, 2) G(z) for a fixed z: the same noise every frame
    arrows: np.ndarray  # (N_SHOW, 2) −∂(G's loss)/∂x at each fake point: where G pushes it
    grid: np.ndarray  # (GRID,) coordinates of the decision-surface lattice, both axes
    surface: np.ndarray  # (GRID, GRID) D's P(real) (or critic score for WGAN-GP), [y, x]
    d_loss: np.ndarray  # (step,) D's loss at every step
    g_loss: np.ndarray  # (step,)
    distance_steps: np.ndarray  # steps where the distance was measured
    distance: np.ndarray  # sliced Wasserstein distance of G's samples to the data
    noise_floor: float  # the same distance between two samples of the data itself
    diverged_at: int | None  # first step whose loss was NaN/inf, else None

    @property
    def done(self) -> bool:
        return self.diverged_at is not None or self.step >= self.max_steps


class AdversarialRun:
    """The training loop shared by the 2-D and the digits GANs, optionally class-conditional
    (a one-hot label appended to G's noise and to D's input; Mirza & Osindero 2014).

    Everything random comes from one generator seeded by ``cfg.seed``, drawn in fixed-size
    chunks, so a run is the same however its steps are split between calls to ``train``.
    ``cfg`` needs: loss, optimizer, lr_g, lr_d, d_steps, batch_size, latent_dim,
    gp_weight, max_steps.
    """

    def __init__(self, cfg, data: torch.Tensor, labels: torch.Tensor | None, n_classes: int,
                 G: MLP, D: MLP, gen: torch.Generator) -> None:
        self.cfg, self.G, self.D, self.gen = cfg, G, D, gen
        self.n_classes = n_classes if labels is not None else 0
        # What D sees of a real example: the example, plus its label when conditional.
        self.d_data = data if not self.n_classes else torch.cat([data, self.one_hot(labels)], 1)
        self.g_opt = make_optimizer(cfg.optimizer, G, cfg.lr_g, cfg.loss)
        self.d_opt = make_optimizer(cfg.optimizer, D, cfg.lr_d, cfg.loss)
        self.step = 0
        self.d_hist = torch.zeros(cfg.max_steps)
        self.g_hist = torch.zeros(cfg.max_steps)
        self.diverged_at: int | None = None
        self._chunk_pos = CHUNK  # position in the current chunk of pre-drawn noise

    def one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        return F.one_hot(labels, self.n_classes).float()  # (..., n_classes)

    @property
    def done(self) -> bool:
        return self.diverged_at is not None or self.step >= self.cfg.max_steps

    def _draw_chunk(self) -> None:
        cfg, gen = self.cfg, self.gen
        shape = (CHUNK, cfg.d_steps, cfg.batch_size)
        z = torch.randn(*shape, cfg.latent_dim, generator=gen)
        self._real = self.d_data[torch.randint(0, len(self.d_data), shape, generator=gen)]
        self._mix = torch.rand(*shape, 1, generator=gen)  # WGAN-GP's interpolation weights
        self._labels = None
        if self.n_classes:  # the digit each fake should be
            self._labels = self.one_hot(torch.randint(0, self.n_classes, shape, generator=gen))
            z = torch.cat([z, self._labels], -1)
        self._g_input = z  # (CHUNK, d_steps, B, latent [+ classes])
        self._chunk_pos = 0

    def train(self, n_steps: int) -> int:
        """Advance up to ``n_steps`` G updates (each after ``d_steps`` D updates); stop at
        max_steps or on divergence. Returns the number of steps done."""
        cfg, start = self.cfg, self.step
        stop = min(start + n_steps, cfg.max_steps)
        # Inference mode also skips autograd's per-op bookkeeping (version counters, view
        # tracking): ~9 % of a step. WGAN-GP's penalty needs autograd, so it keeps no_grad.
        with torch.no_grad(), torch.inference_mode(cfg.loss != "wgan-gp"), one_thread():
            while self.step < stop and self.diverged_at is None:
                if self._chunk_pos == CHUNK:
                    self._draw_chunk()
                first, d_losses, g_losses = self.step, [], []
                while self._chunk_pos < CHUNK and self.step < stop:
                    d_loss, g_loss = self._train_step(self._chunk_pos)
                    d_losses.append(d_loss)
                    g_losses.append(g_loss)
                    self.step += 1
                    self._chunk_pos += 1
                # the losses go to the histories a chunk at a time: one copy, not one a step
                torch.stack(d_losses, out=self.d_hist[first:self.step])
                torch.stack(g_losses, out=self.g_hist[first:self.step])
                self._check_finite(first)
        return self.step - start

    def _train_step(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``d_steps`` D updates then one G update, on the chunk's k-th noise and data."""
        cfg = self.cfg
        for j in range(cfg.d_steps):
            g_outs = self.G.forward(self._g_input[k, j])
            fake = g_outs[-1] if self._labels is None else torch.cat([g_outs[-1], self._labels[k, j]], 1)
            mix = self._mix[k, j] if cfg.loss == "wgan-gp" else None
            d_loss = d_step(self.D, self.d_opt, self._real[k, j], fake, cfg.loss, cfg.gp_weight, mix)
        # G's last samples are still current: only D changed since (DCGAN's loop)
        g_loss = g_step(self.G, self.g_opt, self.D, g_outs, fake, cfg.loss)
        return d_loss, g_loss

    def _check_finite(self, since: int) -> None:
        """Find the first step whose losses went NaN/inf; stop the run there."""
        since = max(0, since)
        losses = torch.stack([self.d_hist[since:self.step], self.g_hist[since:self.step]])
        bad = (~torch.isfinite(losses)).any(0).nonzero()
        if self.diverged_at is None and (len(bad) or not torch.isfinite(self.G.flat).all()):
            self.diverged_at = since + (int(bad[0]) + 1 if len(bad) else self.step - since)
            self.step = self.diverged_at


class GANRun(AdversarialRun):
    """A 2-D GAN run: the nets, their optimizers, the target's data pool, the histories."""

    def __init__(self, cfg: GANConfig, points: np.ndarray | None = None) -> None:
        gen = torch.Generator().manual_seed(cfg.seed)
        self.pool = sample_target(cfg.target, POOL, gen, points)  # (POOL, 2)
        G = MLP([cfg.latent_dim] + [cfg.g_width] * cfg.g_layers + [2], cfg.activation, None, gen)
        D = MLP([2] + [cfg.d_width] * cfg.d_layers + [1], cfg.activation, None, gen)
        super().__init__(cfg, self.pool, None, 0, G, D, gen)
        self.z_show = torch.randn(N_SHOW, cfg.latent_dim, generator=gen)
        self.real_show = self.pool[:N_SHOW]
        self.noise_floor = sliced_wasserstein(self.real_show, self.pool[N_SHOW:2 * N_SHOW])
        extent = max(2.5, 1.2 * float(self.pool.abs().max()))
        self.grid = torch.linspace(-extent, extent, GRID)
        self.distance_steps: list[int] = []
        self.distances: list[float] = []

    def measure(self, fake: torch.Tensor) -> None:
        """Record the distance of G's samples to the data at this step (once per step)."""
        if not self.distance_steps or self.distance_steps[-1] != self.step:
            self.distance_steps.append(self.step)
            self.distances.append(sliced_wasserstein(fake, self.real_show))

    def snapshot(self) -> GANSnapshot:
        """A frozen picture of the run now. A diverged run carries no points to draw."""
        cfg = self.cfg
        empty = np.zeros((0, 2), np.float32)
        fake, arrows, surface = empty, empty, np.zeros((0, 0), np.float32)
        if self.diverged_at is None:
            with torch.no_grad(), one_thread():
                fake_t = self.G.forward(self.z_show)[-1]
                self.measure(fake_t)
                outs = self.D.forward(fake_t)
                _, grad = generator_loss_grad(outs[-1], cfg.loss)
                arrows = (-self.D.backward(outs, grad, param_grads=False)).numpy()
                gx, gy = torch.meshgrid(self.grid, self.grid, indexing="xy")  # (GRID, GRID)
                scores = self.D.forward(torch.stack([gx.flatten(), gy.flatten()], 1))[-1]
                scores = scores.view(GRID, GRID)
                surface = (scores if cfg.loss == "wgan-gp" else torch.sigmoid(scores)).numpy()
                fake = fake_t.numpy().copy()
        return GANSnapshot(
            step=self.step, max_steps=cfg.max_steps, loss=cfg.loss,
            real=self.real_show.numpy().copy(), fake=fake, arrows=arrows,
            grid=self.grid.numpy().copy(), surface=surface,
            d_loss=self.d_hist[:self.step].numpy().copy(),
            g_loss=self.g_hist[:self.step].numpy().copy(),
            distance_steps=np.asarray(self.distance_steps), distance=np.asarray(self.distances),
            noise_floor=self.noise_floor, diverged_at=self.diverged_at,
        )


def train_gan(cfg: GANConfig, points: np.ndarray | None = None,
              snapshot_every: int = 100) -> Iterator[GANSnapshot]:
    """Train from scratch, yielding a snapshot at step 0, every ``snapshot_every`` steps
    and at the end (max_steps or divergence)."""
    run = GANRun(cfg, points)
    yield run.snapshot()
    while not run.done:
        run.train(snapshot_every)
        yield run.snapshot()
