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

from playground.gan.config import DIGITS_GRID_COLS
from playground.gan.data import load_digits_data
from playground.gan.model import Discriminator, GANRun, Generator
from playground.service.validate import validated

N_CLASSES = 10
GRID_COLS = DIGITS_GRID_COLS
PIXELS = 64
QUALITY_EVERY = 100  # steps between two measurements of the samples' quality


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


def classifier_agreement(samples: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples the classifier (default: ``digit_classifier()``) reads as the
    digit they were asked to be."""
    predicted = digit_classifier()(torch.as_tensor(samples, dtype=torch.float32)).argmax(1)
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


class DigitsRun(GANRun):
    """Training (or a loaded checkpoint) of the digits GAN, with its fixed latent grid."""

    def __init__(self, cfg: DigitsConfig, source: str = "your run") -> None:
        gen = torch.Generator().manual_seed(cfg.seed)
        images, labels = (torch.as_tensor(a) for a in load_digits_data())
        self.n_classes = N_CLASSES if cfg.conditional else 0
        G = Generator(cfg.latent_dim, cfg.width, cfg.layers, PIXELS, "leaky_relu", gen,
                      self.n_classes, out="tanh")
        D = Discriminator(PIXELS, cfg.width, cfg.layers, "leaky_relu", gen, self.n_classes)
        super().__init__(cfg, images, G, D, gen, labels if cfg.conditional else None)
        self.source = source
        # One noise vector per column, shared by the rows: a column keeps its "style".
        z = torch.randn(GRID_COLS, cfg.latent_dim, generator=gen)
        self.grid_labels = torch.arange(N_CLASSES).repeat_interleave(GRID_COLS)  # (80,)
        self.grid_z = z.repeat(N_CLASSES, 1) if cfg.conditional else torch.randn(
            N_CLASSES * GRID_COLS, cfg.latent_dim, generator=gen)
        self.quality_steps: list[int] = []
        self.nn_distances: list[float] = []
        self.agreements: list[float] = []
        self.measure()

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(z [, label]) → images (n, 64) in [-1, 1]."""
        with torch.no_grad():
            return self.G(z, labels if self.n_classes else None)

    def measure(self) -> None:
        if self.step % QUALITY_EVERY and not self.done:
            return
        samples = self.generate(self.grid_z, self.grid_labels).numpy()
        self.quality_steps.append(self.step)
        self.nn_distances.append(nearest_real_distance(samples, self.data))
        self.agreements.append(classifier_agreement(samples, self.grid_labels.numpy())
                               if self.n_classes else float("nan"))

    def snapshot(self) -> DigitsSnapshot:
        cfg = self.cfg
        images = np.zeros((0, GRID_COLS, 8, 8), np.float32)
        if self.diverged_at is None:
            samples = self.generate(self.grid_z, self.grid_labels).numpy()
            images = ((samples + 1) / 2).reshape(N_CLASSES, GRID_COLS, 8, 8)
        return DigitsSnapshot(
            step=self.step, max_steps=cfg.max_steps, images=images, conditional=cfg.conditional,
            d_loss=np.asarray(self.d_losses), g_loss=np.asarray(self.g_losses),
            quality_steps=np.asarray(self.quality_steps), nn_distance=np.asarray(self.nn_distances),
            agreement=np.asarray(self.agreements), data_nn_distance=data_nearest_distance(),
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
        if self.n_classes:  # the label moves too: a blend of two one-hot vectors
            one_hot = torch.eye(N_CLASSES)
            z = torch.cat([z, (1 - t) * one_hot[digit_a] + t * one_hot[digit_b]], 1)
        with torch.no_grad():
            images = self.G.net(z)  # G's layers on (noise, soft label) directly
        return ((images.numpy() + 1) / 2).reshape(n, 8, 8)

    # --- checkpoints ----------------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, config) to save: both nets' state dicts, plus the histories."""
        tensors = {**{f"generator.{k}": v for k, v in self.G.state_dict().items()},
                   **{f"discriminator.{k}": v for k, v in self.D.state_dict().items()},
                   "history.d_loss": torch.tensor(self.d_losses),
                   "history.g_loss": torch.tensor(self.g_losses),
                   "history.quality_steps": torch.tensor(self.quality_steps, dtype=torch.float32),
                   "history.nn_distance": torch.tensor(self.nn_distances),
                   "history.agreement": torch.tensor(self.agreements)}
        return tensors, {**asdict(self.cfg), "steps_trained": self.step}

    @classmethod
    def from_state(cls, tensors: dict[str, torch.Tensor], config: dict, source: str) -> "DigitsRun":
        """Rebuild a trained run (weights, step count and histories; Adam restarts)."""
        fields = {k: v for k, v in config.items() if k in DigitsConfig.__dataclass_fields__}
        steps = int(config["steps_trained"])
        cfg = replace(DigitsConfig(**fields), max_steps=max(fields.get("max_steps", 0), steps))
        run = cls(cfg, source)
        for prefix, net in (("generator.", run.G), ("discriminator.", run.D)):
            net.load_state_dict({k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)})
        run.step = steps
        run.d_losses = tensors["history.d_loss"].tolist()
        run.g_losses = tensors["history.g_loss"].tolist()
        run.quality_steps = [int(s) for s in tensors["history.quality_steps"].tolist()]
        run.nn_distances = tensors["history.nn_distance"].tolist()
        run.agreements = tensors["history.agreement"].tolist()
        return run
