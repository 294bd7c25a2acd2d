"""Target distributions for the GAN lab: 2-D point clouds and scikit-learn's 8×8 digits.

The 2-D targets follow the toy problems of GAN papers and GAN Lab (Kahng et al. 2018):
a ring of Gaussians (Metz et al. 2017, unrolled GANs), a grid of Gaussians
(Gulrajani et al. 2017, WGAN-GP), two moons, a spiral, a line, and points the student
draws or types. Every sampler takes a ``torch.Generator`` so a run is reproducible.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
import torch

from playground.gan.config import TARGETS
MAX_CUSTOM_POINTS = 2000
# Typed/drawn points are rescaled to this half-width so every target fills the same view.
CUSTOM_EXTENT = 2.0


def sample_target(name: str, n: int, gen: torch.Generator,
                  points: np.ndarray | None = None) -> torch.Tensor:
    """``n`` samples of a named target, shape (n, 2). ``points`` is needed for "custom"."""
    if name == "ring":  # 8 Gaussians on a circle of radius 2, std 0.05 (Metz et al. 2017)
        angle = torch.randint(0, 8, (n,), generator=gen).float() * (2 * math.pi / 8)
        centres = 2.0 * torch.stack([angle.cos(), angle.sin()], 1)
        return centres + 0.05 * torch.randn(n, 2, generator=gen)
    if name == "grid":  # 5×5 Gaussians at -2..2, std 0.05 (Gulrajani et al. 2017)
        cells = torch.randint(0, 5, (n, 2), generator=gen).float() - 2.0
        return cells + 0.05 * torch.randn(n, 2, generator=gen)
    if name == "two moons":
        t = torch.rand(n, generator=gen) * math.pi
        upper = torch.rand(n, generator=gen) < 0.5
        x = torch.where(upper, t.cos(), 1 - t.cos())
        y = torch.where(upper, t.sin(), 0.5 - t.sin())
        moons = torch.stack([x - 0.5, y - 0.25], 1) * 1.6  # centre, then fill about [-2, 2]
        return moons + 0.06 * torch.randn(n, 2, generator=gen)
    if name == "spiral":
        t = torch.rand(n, generator=gen).sqrt() * 3 * math.pi  # sqrt: even density along it
        spiral = torch.stack([t * t.cos(), t * t.sin()], 1) / (1.5 * math.pi)
        return spiral + 0.05 * torch.randn(n, 2, generator=gen)
    if name == "line":  # a 1-D manifold in 2-D: the diagonal from (-2, -1) to (2, 1)
        t = torch.rand(n, generator=gen) * 4 - 2
        return torch.stack([t, 0.5 * t], 1) + 0.03 * torch.randn(n, 2, generator=gen)
    if name == "custom":
        if points is None or len(points) == 0:
            raise ValueError("The custom target needs points: type them or draw them first.")
        base = torch.as_tensor(np.asarray(points, dtype=np.float32))
        pick = torch.randint(0, len(base), (n,), generator=gen)
        return base[pick] + 0.04 * torch.randn(n, 2, generator=gen)
    raise ValueError(f"Unknown target '{name}'. Choose one of: {', '.join(TARGETS)}.")


def mode_centres(name: str) -> torch.Tensor | None:
    """The centres (M, 2) of a target made of separate Gaussians (ring, grid), else None."""
    if name == "ring":
        angle = torch.arange(8) * (2 * math.pi / 8)
        return 2.0 * torch.stack([angle.cos(), angle.sin()], 1)
    if name == "grid":
        cells = torch.arange(5, dtype=torch.float32) - 2.0
        return torch.cartesian_prod(cells, cells)
    return None


def _fit_to_view(xy: np.ndarray) -> np.ndarray:
    """Centre the points and scale them so the largest coordinate is CUSTOM_EXTENT."""
    xy = xy - xy.mean(0)
    scale = float(np.abs(xy).max())
    return xy * (CUSTOM_EXTENT / scale) if scale > 0 else xy


def parse_points(text: str) -> np.ndarray:
    """Typed points, one "x, y" pair per line (or separated by ";"), → (n, 2) float32.

    The cloud is centred and rescaled to fill the view, so units do not matter.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Type some points, one 'x, y' pair per line (e.g. '0.5, -1').")
    pairs = []
    for k, chunk in enumerate(re.split(r"[;\n]+", text.strip()), start=1):
        if not chunk.strip():
            continue
        parts = [p for p in re.split(r"[,\s]+", chunk.strip()) if p]
        try:
            x, y = (float(p) for p in parts)
        except ValueError:
            raise ValueError(f"Point {k} ('{chunk.strip()[:40]}') is not two numbers 'x, y'.") from None
        if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) > 1e6:
            raise ValueError(f"Point {k} ('{chunk.strip()[:40]}') must be two finite numbers "
                             "below a million.")
        pairs.append((x, y))
        if len(pairs) > MAX_CUSTOM_POINTS:
            raise ValueError(f"At most {MAX_CUSTOM_POINTS} points, please.")
    if len(pairs) < 3:
        raise ValueError("Give at least 3 points.")
    return _fit_to_view(np.asarray(pairs, dtype=np.float32))


def points_from_sketch(image: np.ndarray, max_points: int = 600) -> np.ndarray:
    """Points of a drawing (H, W, 3 or 4 uint8; ink = opaque or dark pixels) → (n, 2).

    Image rows grow downwards, so y is flipped to make "up" in the drawing "up" in the plot.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError("The drawing must be a colour image.")
    if image.shape[2] == 4 and image[..., 3].max() > 0 and image[..., 3].min() < 255:
        ink = image[..., 3] > 128  # transparent canvas: strokes are the opaque pixels
    else:
        ink = image[..., :3].astype(np.float32).mean(2) < 128  # white canvas: dark strokes
    rows, cols = np.nonzero(ink)
    if len(rows) < 3:
        raise ValueError("The drawing is empty: draw a shape on the canvas first.")
    step = max(1, len(rows) // max_points)  # thin evenly so a long stroke stays a stroke
    xy = np.stack([cols[::step], -rows[::step]], 1).astype(np.float32)
    return _fit_to_view(xy)


@lru_cache(maxsize=1)
def load_digits_data() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits: images (1797, 64) scaled to [-1, 1], labels (1797,).

    [-1, 1] matches the generator's tanh output (Radford et al. 2016).
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.data.astype(np.float32) / 16.0) * 2.0 - 1.0  # pixel 0..16 → -1..1
    return images, digits.target.astype(np.int64)
