"""A small GAN on scikit-learn's 8×8 digits, optionally class-conditional.

Generator and discriminator are MLPs (an image of 64 pixels is small enough that
convolutions add little; DCGAN, Radford et al. 2016, gives the recipe we keep: tanh
output in [-1, 1], leaky-ReLU discriminator, Adam with β1 = 0.5). Conditioning appends a
one-hot digit label to G's noise and to D's input (Mirza & Osindero 2014), so the student
can ask for a "7". The training loop is the 2-D lab's (``playground.gan.model``).

Quality is measured two ways against the 1,797 real images: the distance from each
sample to its nearest real image (is it near the data at all?), and whether a
classifier trained on the real digits reads each sample as the digit that was asked for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import lru_cache

import numpy as np
import torch

from playground.gan.model import MLP, AdversarialRun
from playground.gan.config import DIGITS_GRID_COLS
from playground.service.validate import validated
from playground.gan.data import load_digits_data
from playground.service.threads import one_thread

N_CLASSES = 10
GRID_COLS = DIGITS_GRID_COLS
PIXELS = 64


@dataclass(frozen=True)
class DigitsConfig:
    conditional: bool = True  # append the digit label to G's noise and D's input
    latent_dim: int = 16
    width: int = 128  # units per hidden layer, both nets
    layers: int = 2  # hidden layers, both nets
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    batch_size: int = 64
    max_steps: int = 3000
    seed: int = 0
    # Fixed for this lab (the 2-D lab explores them); the shared loop reads them.
    loss: str = "non-saturating"
    optimizer: str = "adam"
    d_steps: int = 1
    gp_weight: float = 0.0


LIMITS = {"latent_dim": (1, 64, True), "width": (8, 512, True), "layers": (1, 4, True),
          "lr_g": (1e-5, 0.1, False), "lr_d": (1e-5, 0.1, False),
          "batch_size": (8, 512, True), "max_steps": (1, 20_000, True), "seed": (0, 2**31 - 1, True)}


def make_digits_config(**values: object) -> tuple[DigitsConfig, list[str]]:
    """A validated DigitsConfig: NaN refused, out-of-range numbers clamped with a note."""
    return validated(DigitsConfig(), LIMITS, {"conditional": (True, False)}, values)


@lru_cache(maxsize=1)
def digit_classifier() -> torch.nn.Linear:
    """Softmax regression on all 1,797 real digits (about 99 % right on them): the judge
    of generated samples. Full-batch Adam from zeros, so it is the same every time."""
    images, labels = (torch.as_tensor(a) for a in load_digits_data())
    judge = torch.nn.Linear(PIXELS, N_CLASSES)
    torch.nn.init.zeros_(judge.weight)
    torch.nn.init.zeros_(judge.bias)
    opt = torch.optim.Adam(judge.parameters(), lr=0.05)
    with one_thread():
        for _ in range(150):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(judge(images), labels).backward()
            opt.step()
    return judge.requires_grad_(False)


def nearest_real_distance(samples: np.ndarray, data: torch.Tensor | None = None) -> float:
    """Mean over samples (n, 64) in [-1, 1] of the RMS pixel difference to the nearest real
    image (of ``data``, default: all 1,797), on the 0..1 intensity scale (0 = a copy of a
    real digit)."""
    data = torch.as_tensor(load_digits_data()[0]) if data is None else data
    dist = torch.cdist(torch.as_tensor(samples, dtype=torch.float32), data)  # (n, 1797)
    return float(dist.min(1).values.mean()) / (2 * PIXELS ** 0.5)  # L2 → RMS, [-1,1] → [0,1]


@lru_cache(maxsize=1)
def data_nearest_distance() -> float:
    """The same measure for real digits against the others (leave one out): the floor."""
    data = torch.as_tensor(load_digits_data()[0][:400])
    others = torch.as_tensor(load_digits_data()[0][400:])
    return float(torch.cdist(data, others).min(1).values.mean()) / (2 * PIXELS ** 0.5)


def classifier_agreement(samples: np.ndarray, labels: np.ndarray,
                         judge: torch.nn.Linear | None = None) -> float:
    """Fraction of samples the classifier (default: ``digit_classifier()``) reads as the
    digit they were asked to be."""
    judge = digit_classifier() if judge is None else judge
    predicted = judge(torch.as_tensor(samples, dtype=torch.float32)).argmax(1)
    return float((predicted.numpy() == labels).mean())


@dataclass(frozen=True)
class DigitsSnapshot:
    step: int
    max_steps: int
    images: np.ndarray  # (10, GRID_COLS, 8, 8) in [0, 1]: G on the fixed latent batch
    conditional: bool  # rows are the digits 0-9 if True, else just more samples
    d_loss: np.ndarray  # (step,)
    g_loss: np.ndarray
    quality_steps: np.ndarray
    nn_distance: np.ndarray  # nearest_real_distance of the grid at those steps
    agreement: np.ndarray  # classifier_agreement at those steps (conditional only, else NaN)
    data_nn_distance: float  # the floor: real digits measured the same way
    diverged_at: int | None
    source: str  # "random init", "your run" or "checkpoint ..."

    @property
    def done(self) -> bool:
        return self.diverged_at is not None or self.step >= self.max_steps


class DigitsRun(AdversarialRun):
    """Training (or a loaded checkpoint) of the digits GAN, with its fixed latent batch."""

    def __init__(self, cfg: DigitsConfig, source: str = "your run") -> None:
        gen = torch.Generator().manual_seed(cfg.seed)
        images, labels = (torch.as_tensor(a) for a in load_digits_data())
        n_cond = N_CLASSES if cfg.conditional else 0
        G = MLP([cfg.latent_dim + n_cond] + [cfg.width] * cfg.layers + [PIXELS],
                "leaky_relu", "tanh", gen)
        D = MLP([PIXELS + n_cond] + [cfg.width] * cfg.layers + [1], "leaky_relu", None, gen)
        super().__init__(cfg, images, labels if cfg.conditional else None, N_CLASSES, G, D, gen)
        self.source = source
        # The run carries what it is measured against, so that a worker process training
        # it needn't load scikit-learn's data or train the judge again.
        self.real_images, self.judge = images, digit_classifier()
        self.data_nn_distance = data_nearest_distance()
        # One noise vector per column, shared by the rows: a column keeps its "style".
        z = torch.randn(GRID_COLS, cfg.latent_dim, generator=gen)
        self.grid_labels = torch.arange(N_CLASSES).repeat_interleave(GRID_COLS)  # (80,)
        self.grid_z = z.repeat(N_CLASSES, 1) if cfg.conditional else torch.randn(
            N_CLASSES * GRID_COLS, cfg.latent_dim, generator=gen)
        self.quality_steps: list[int] = []
        self.nn_distances: list[float] = []
        self.agreements: list[float] = []

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(z [, label]) → images (n, 64) in [-1, 1]."""
        with torch.no_grad():
            g_input = z if not self.n_classes else torch.cat([z, self.one_hot(labels)], 1)
            return self.G.forward(g_input)[-1]

    def measure(self, samples: np.ndarray) -> None:
        if self.quality_steps and self.quality_steps[-1] == self.step:
            return
        self.quality_steps.append(self.step)
        self.nn_distances.append(nearest_real_distance(samples, self.real_images))
        self.agreements.append(classifier_agreement(samples, self.grid_labels.numpy(), self.judge)
                               if self.n_classes else float("nan"))

    def snapshot(self) -> DigitsSnapshot:
        cfg = self.cfg
        images = np.zeros((0, GRID_COLS, 8, 8), np.float32)
        if self.diverged_at is None:
            with one_thread():
                samples = self.generate(self.grid_z, self.grid_labels).numpy()
                self.measure(samples)
            images = ((samples + 1) / 2).reshape(N_CLASSES, GRID_COLS, 8, 8)
        return DigitsSnapshot(
            step=self.step, max_steps=cfg.max_steps, images=images, conditional=cfg.conditional,
            d_loss=self.d_hist[:self.step].numpy().copy(), g_loss=self.g_hist[:self.step].numpy().copy(),
            quality_steps=np.asarray(self.quality_steps), nn_distance=np.asarray(self.nn_distances),
            agreement=np.asarray(self.agreements), data_nn_distance=self.data_nn_distance,
            diverged_at=self.diverged_at, source=self.source,
        )

    def interpolate(self, col_a: int, col_b: int, digit_a: int, digit_b: int,
                    n: int = 9) -> np.ndarray:
        """Images (n, 8, 8) in [0, 1] along a straight line from the grid's noise column
        ``col_a`` (and digit_a) to column ``col_b`` (and digit_b): z and the one-hot label
        both move linearly (Radford et al. 2016, section 6.1: walking in the latent space)."""
        for name, value, top in (("column", col_a, GRID_COLS), ("column", col_b, GRID_COLS),
                                 ("digit", digit_a, N_CLASSES), ("digit", digit_b, N_CLASSES)):
            if not 0 <= int(value) < top:
                raise ValueError(f"The {name} must be between 0 and {top - 1}.")
        t = torch.linspace(0, 1, n)[:, None]  # (n, 1)
        z_a = self.grid_z[digit_a * GRID_COLS + col_a]
        z_b = self.grid_z[digit_b * GRID_COLS + col_b]
        z = (1 - t) * z_a + t * z_b  # (n, latent)
        with torch.no_grad():
            g_input = z
            if self.n_classes:
                labels = (1 - t) * self.one_hot(torch.tensor(digit_a)) + t * self.one_hot(torch.tensor(digit_b))
                g_input = torch.cat([z, labels], 1)
            images = self.G.forward(g_input)[-1]
        return ((images.numpy() + 1) / 2).reshape(n, 8, 8)

    # --- checkpoints ----------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, config) to save: both nets in nn.Linear layout, plus the histories."""
        tensors = {**self.G.state_dict("generator"), **self.D.state_dict("discriminator"),
                   "history.d_loss": self.d_hist[:self.step].clone(),
                   "history.g_loss": self.g_hist[:self.step].clone(),
                   "history.quality_steps": torch.tensor(self.quality_steps, dtype=torch.float32),
                   "history.nn_distance": torch.tensor(self.nn_distances),
                   "history.agreement": torch.tensor(self.agreements)}
        return tensors, {**asdict(self.cfg), "steps_trained": self.step}

    @classmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], config: dict, source: str) -> "DigitsRun":
        """Rebuild a trained run (weights, step count and histories; Adam restarts)."""
        fields = {k: v for k, v in config.items() if k in DigitsConfig.__dataclass_fields__}
        cfg = DigitsConfig(**fields)
        steps = int(config["steps_trained"])
        cfg = replace(cfg, max_steps=max(cfg.max_steps, steps))
        run = cls(cfg, source)
        run.G.load_state_dict(tensors, "generator")
        run.D.load_state_dict(tensors, "discriminator")
        run.step = steps
        run.d_hist[:steps] = tensors["history.d_loss"]
        run.g_hist[:steps] = tensors["history.g_loss"]
        run.quality_steps = [int(s) for s in tensors["history.quality_steps"].tolist()]
        run.nn_distances = tensors["history.nn_distance"].tolist()
        run.agreements = tensors["history.agreement"].tolist()
        return run
