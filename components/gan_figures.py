"""Figures of the GAN lab: the 2-D field (decision surface, points, gradient arrows),
loss and distance curves, and grids of generated digits. Built from snapshots, many
times a second while training streams, so they stay lean: ``FigureJSON``s of plain trace
dicts with rounded numbers on the house layout (``figures.fast_figure``), no
plotly objects (their validation cost more than the training); arrows are one line trace,
curves are thinned to a few hundred points."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from plotly.colors import get_colorscale

from components.figures import INK_COLORS, LEGEND_BELOW, LEGEND_BELOW_MARGIN, PALETTE, FigureJSON, fast_figure

if TYPE_CHECKING:  # annotations only: importing these would load torch at app start-up
    from playground.gan.model import GANSnapshot
    from playground.gan.digits import DigitsSnapshot

REAL_COLOUR = "#047857"  # green: the data (GAN Lab's convention)
FAKE_COLOUR = "#7c3aed"  # purple: the generator's samples
# Colour scales as explicit lists: without plotly's validation, names like "PRGn" are not
# expanded and plotly.js would fall back to its default.
SURFACE_SCALE = get_colorscale("PRGn")  # purple = "fake" side of D, green = "real" side
N_ARROWS = 128  # arrows on the first N fake points: enough to see the flow, not a blur
N_POINTS = 256  # points drawn per cloud: SVG stays light enough for 12 redraws a second
ARROW_SCALE = 0.3  # data units per unit of gradient: fixed, so a vanishing gradient shows
ARROW_MAX = 0.8  # longest arrow, in data units
MAX_CURVE_POINTS = 400


def _r(values: np.ndarray, digits: int = 3) -> np.ndarray:
    """Round for the wire: 3 decimals are plenty on screen and halve the JSON."""
    return np.round(np.asarray(values, dtype=float), digits)


def _hline(y: float, text: str, colour: str) -> tuple[dict, dict]:
    """A dotted horizontal reference line across the plot, and its label."""
    shape = dict(type="line", xref="paper", x0=0, x1=1, y0=y, y1=y,
                 line=dict(dash="dot", color=colour, width=2))
    note = dict(xref="paper", x=1, y=y, text=text, showarrow=False, xanchor="right",
                yanchor="bottom", font=dict(size=13, color=colour))
    return shape, note


def curves_figure(x: np.ndarray, series: dict[str, np.ndarray], title: str, y_title: str,
                  height: int, reference: tuple[float, str] | None = None,
                  y_range: list[float] | None = None) -> FigureJSON:
    """Named curves over training steps, optionally with a dotted reference line."""
    traces = [dict(type="scatter", x=_r(x, 1), y=_r(y, 4), name=name, mode="lines+markers"
                   if len(x) < 40 else "lines", line=dict(width=3, color=PALETTE[k]))
              for k, (name, y) in enumerate(series.items())]
    shapes, notes = ([], [])
    if reference is not None:
        shape, note = _hline(reference[0], reference[1], "#6b7280")
        shapes, notes = [shape], [note]
    yaxis = {"title": {"text": y_title}, **({"range": y_range} if y_range else {"rangemode": "tozero"})}
    return fast_figure(traces, title, height, xaxis={"title": {"text": "training step"}}, yaxis=yaxis,
                       shapes=shapes, annotations=notes, uirevision=title.split(" ")[0],
                       legend=LEGEND_BELOW, margin=LEGEND_BELOW_MARGIN)


def thin(values: np.ndarray, max_points: int = MAX_CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) averaged over equal bins so a long curve sends few points."""
    n = len(values)
    steps = np.arange(1, n + 1)
    if n <= max_points:
        return steps, values
    edges = np.linspace(0, n, max_points + 1).astype(int)
    return (np.add.reduceat(steps, edges[:-1]) / np.diff(edges),
            np.add.reduceat(values.astype(float), edges[:-1]) / np.diff(edges))


def arrow_segments(points: np.ndarray, arrows: np.ndarray) -> tuple[list, list]:
    """x and y lists for one line trace: each arrow a segment, separated by None."""
    lengths = np.linalg.norm(arrows, axis=1, keepdims=True) * ARROW_SCALE
    shaft = arrows * ARROW_SCALE * np.minimum(1.0, ARROW_MAX / np.maximum(lengths, 1e-12))
    ends = points + shaft
    nones = np.full(len(points), None)
    xs = np.stack([points[:, 0], ends[:, 0], nones], 1).ravel().tolist()
    ys = np.stack([points[:, 1], ends[:, 1], nones], 1).ravel().tolist()
    return xs, ys


def field_figure(snap: GANSnapshot, height: int = 560) -> FigureJSON:
    """Real (green) vs generated (purple) points over D's decision surface, with arrows
    showing where G's gradient pushes each generated point."""
    lo, hi = float(snap.grid[0]), float(snap.grid[-1])
    traces: list[dict] = []
    wgan = snap.loss == "wgan-gp"
    if snap.surface.size:
        # P(real) is centred on 1/2; a critic score has no fixed centre, so use its median.
        centre = float(np.median(snap.surface)) if wgan else 0.5
        spread = (float(np.abs(snap.surface - centre).max()) or 1.0) if wgan else 0.5
        traces.append(dict(
            type="heatmap", x=_r(snap.grid), y=_r(snap.grid), z=_r(snap.surface),
            colorscale=SURFACE_SCALE, zsmooth="fast", zmin=centre - spread, zmax=centre + spread,
            opacity=0.75, hoverinfo="skip", colorbar=dict(
                title=dict(text="critic score" if wgan else "D: P(real)", side="right"),
                thickness=14, len=0.8)))
    real, fake = snap.real[:N_POINTS], snap.fake[:N_POINTS]
    traces.append(dict(type="scatter", x=_r(real[:, 0]), y=_r(real[:, 1]),
                       mode="markers", name="real data",
                       marker=dict(size=5, color=REAL_COLOUR, opacity=0.6)))
    grad = float("nan")
    if len(snap.fake):
        grad = float(np.linalg.norm(snap.arrows, axis=1).mean())
        xs, ys = arrow_segments(_r(snap.fake[:N_ARROWS]), snap.arrows[:N_ARROWS])
        traces.append(dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip",
                           name="G's gradient (where G moves)", line=dict(color="#111827", width=1.5)))
        traces.append(dict(type="scatter", x=_r(fake[:, 0]), y=_r(fake[:, 1]),
                           mode="markers", name="generated G(z)", marker=dict(
                               size=6, color=FAKE_COLOUR, line=dict(width=0.5, color="white"))))
    if snap.diverged_at is not None:
        title = f"Diverged at step {snap.diverged_at:,}: the losses became NaN (nothing to draw)"
    else:
        title = (f"Step {snap.step:,}: real vs generated points over D's decision surface "
                 f"(mean |G gradient| {grad:.3g})")
    axis = dict(range=[lo, hi], showgrid=False, zeroline=False, constrain="domain")  # square, filled by D
    return fast_figure(traces, title, height, xaxis={**axis, "title": {"text": "x₁"}},
                       yaxis={**axis, "title": {"text": "x₂"}, "scaleanchor": "x", "scaleratio": 1},
                       legend=LEGEND_BELOW, margin=LEGEND_BELOW_MARGIN,
                       uirevision="field")


def loss_figure(d_loss: np.ndarray, g_loss: np.ndarray, loss: str, height: int = 330) -> FigureJSON:
    """D and G losses per step (bin-averaged when long)."""
    steps, d = thin(d_loss)
    _, g = thin(g_loss)
    names = ("critic loss", "G loss") if loss == "wgan-gp" else ("D loss", "G loss")
    # At the equilibrium D outputs 1/2 everywhere: D's loss is 2·ln 2.
    reference = (2 * np.log(2), "D at equilibrium (2 ln 2)") if loss != "wgan-gp" else None
    return curves_figure(steps, {names[0]: d, names[1]: g}, f"Losses ({loss})", "loss",
                         height, reference)


def distance_figure(snap: GANSnapshot, height: int = 330) -> FigureJSON:
    """How far G's samples are from the data over time, with the data's own noise floor."""
    return curves_figure(snap.distance_steps, {"G's samples ↔ data": snap.distance},
                         "Distance to the data (sliced Wasserstein)", "distance (data units)",
                         height, (snap.noise_floor, "two samples of the data itself"))


def _tile(images: np.ndarray, gap: int = 1) -> np.ndarray:
    """(rows, cols, 8, 8) → one (rows·9−1, cols·9−1) picture; gaps are NaN (blank)."""
    rows, cols, h, w = images.shape
    canvas = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for r in range(rows):
        for c in range(cols):
            canvas[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = images[r, c]
    return canvas


def image_grid_figure(images: np.ndarray, title: str, row_labels: list[str],
                      col_labels: list[str], height: int = 520) -> FigureJSON:
    """A grid of 8×8 images (rows, cols, 8, 8) in [0, 1], ink dark, labelled rows/columns."""
    rows, cols = images.shape[:2]
    trace = dict(type="heatmap", z=_r(_tile(images), 2), colorscale=INK_COLORS, zmin=0, zmax=1,
                 showscale=False, hovertemplate="ink %{z:.2f}<extra></extra>")
    xaxis = dict(tickvals=[c * 9 + 3.5 for c in range(cols)], ticktext=col_labels,
                 showgrid=False, zeroline=False, constrain="domain")
    yaxis = dict(tickvals=[r * 9 + 3.5 for r in range(rows)], ticktext=row_labels,
                 autorange="reversed", showgrid=False, zeroline=False,
                 scaleanchor="x", scaleratio=1)
    return fast_figure([trace], title, height, xaxis=xaxis, yaxis=yaxis)


def digits_grid_figure(snap: DigitsSnapshot, height: int = 560) -> FigureJSON:
    if snap.diverged_at is not None:
        return fast_figure([], f"Diverged at step {snap.diverged_at:,}: NaN losses, nothing to draw", height)
    rows = [f"digit {d}" for d in range(10)] if snap.conditional else [f"row {r + 1}" for r in range(10)]
    cols = [f"z{c + 1}" for c in range(snap.images.shape[1])]
    what = "rows: digit asked for · columns: noise z" if snap.conditional \
        else "80 fixed noise vectors"
    source = "checkpoint" if snap.source.startswith("trained") else snap.source
    return image_grid_figure(snap.images, f"Step {snap.step:,} ({source}): {what}",
                             rows, cols, height)


def interpolation_figure(images: np.ndarray, start: str, end: str, height: int = 250) -> FigureJSON:
    n = len(images)
    ticks = [f"{k / (n - 1):.2f}" for k in range(n)]
    fig = image_grid_figure(images[None], f"Walking the latent space: {start} → {end}",
                            ["G(z)"], ticks, height)
    fig.layout["xaxis"]["title"] = {"text": "t: z = (1 − t)·z_start + t·z_end"}
    return fig


def digits_curves_figure(snap: DigitsSnapshot, height: int = 330) -> FigureJSON:
    """Sample quality over training: nearest-real distance and classifier agreement."""
    series = {"distance to nearest real digit (lower = closer)": snap.nn_distance}
    if snap.conditional:
        series["classifier reads the asked digit (fraction)"] = snap.agreement
    return curves_figure(snap.quality_steps, series, "Sample quality vs the 1,797 real digits",
                         "score (0 to 1)", height,
                         (snap.data_nn_distance, "real digits' own nearest distance"), [0, 1.05])
