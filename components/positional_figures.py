"""Figures of the positional-encoding lab: heat-maps of positions, curves, clocks, PCA paths.

Speed (the tab must answer in ~100 ms for 512 × 512): each figure is trace dicts on the
house layout (``fast_figure``), with no plotly objects: their validation would cost more
than all the maths here. Arrays go out as float32.

Big matrices are thinned before drawing: a browser cannot draw 2048 × 1024 cells quickly,
so at most MAX_DRAWN rows and columns are sent, every s-th one, with the real indices on
the axes (hover shows exact values at the drawn cells); the tab says so in its note.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from plotly.colors import get_colorscale

from components.figures import (ACTIVATION_COLORS, ATTENTION_COLORS, COLORBAR, LEGEND_BELOW, LEGEND_BELOW_MARGIN,
                                PALETTE, FigureJSON, fast_figure)

MAX_DRAWN = 256  # rows or columns sent to the browser per heat-map
POSITION_COLORS = get_colorscale("Viridis")  # colour = position index (PCA paths)


def drawn_indices(n: int, max_drawn: int = MAX_DRAWN, keep_parity: bool = False) -> np.ndarray:
    """Every s-th index of range(n) so that at most max_drawn remain.

    keep_parity: an even stride would show only sin columns (even dimensions), so an odd
    stride is used and the drawn columns alternate between sin and cos."""
    stride = max(1, math.ceil(n / max_drawn))
    if keep_parity and stride > 1 and stride % 2 == 0:
        stride += 1
    return np.arange(0, n, stride)


def thinning_note(rows: int, cols: int, drawn_rows: int, drawn_cols: int) -> str:
    """Say what was left out so that nobody mistakes a thinned picture for the whole."""
    if (rows, cols) == (drawn_rows, drawn_cols):
        return ""

    def every(n: int, drawn: int, unit: str) -> str:
        stride = math.ceil(n / drawn)
        return f"every {unit}" if stride == 1 else f"1 {unit} in {stride}"

    return (f"Drawn: {drawn_rows} × {drawn_cols} of {rows} × {cols} cells ({every(rows, drawn_rows, 'row')}, "
            f"{every(cols, drawn_cols, 'column')}) to keep the browser fast; fast-changing columns may show "
            "moiré. Lower the length or d_model to see every cell.")


def matrix_heatmap(z: np.ndarray, rows: np.ndarray, cols: np.ndarray, title: str, x_title: str,
                   y_title: str, bound: float | None = None, height: int = 460, value_name: str = "value",
                   weights: bool = False, show_values: bool = False) -> FigureJSON:
    """A matrix on numeric axes (real row/column indices). Signed values: diverging colours
    around 0 within ±bound; weights=True: attention weights 0..1 on the sequential scale."""
    z = np.asarray(z, dtype=np.float32)
    if weights:
        colours = dict(colorscale=ATTENTION_COLORS, zmin=0.0, zmax=1.0)
    else:
        finite = z[np.isfinite(z)]
        bound = bound if bound is not None else (float(np.abs(finite).max()) if finite.size else 1.0)
        colours = dict(colorscale=ACTIVATION_COLORS, zmid=0.0, zmin=-bound, zmax=bound)
    trace = dict(type="heatmap", z=z, x=np.asarray(cols), y=np.asarray(rows), **colours,
                 colorbar=dict(COLORBAR, title=dict(text=value_name, side="right")),
                 hovertemplate=f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>{value_name} %{{z:.3f}}<extra></extra>")
    if show_values:
        trace.update(texttemplate="%{z:.2f}", textfont=dict(size=12))
    axis = dict(showgrid=False, zeroline=False)
    return fast_figure([trace], title, height, xaxis=dict(title=dict(text=x_title), **axis),
                  yaxis=dict(title=dict(text=y_title), autorange="reversed", **axis))


def _line(x: np.ndarray, y: np.ndarray, name: str, colour: str, width: float = 3, **extra) -> dict:
    trace = dict(type="scatter", x=np.asarray(x), y=np.asarray(y, dtype=np.float32), name=name, mode="lines",
                 line=dict(width=width, color=colour))
    return {**trace, **extra}


def dimension_curves(pe: np.ndarray, dims: Sequence[int], wavelengths: np.ndarray) -> FigureJSON:
    """Selected dimensions over position: sin/cos waves, slower and slower with the pair index."""
    positions = np.arange(pe.shape[0])
    mode = dict(mode="lines+markers") if pe.shape[0] <= 64 else {}
    data = [_line(positions, pe[:, d], f"dim {d} ({'sin' if d % 2 == 0 else 'cos'}, λ={wavelengths[d // 2]:.3g})",
                  PALETTE[n % len(PALETTE)], **mode) for n, d in enumerate(dims)]
    return fast_figure(data, "Single dimensions over position: each pair is a wave of its own wavelength λ", 380,
                  xaxis=dict(title=dict(text="position")), yaxis=dict(title=dict(text="PE value"), range=[-1.1, 1.1]))


def wavelength_chart(wavelengths: np.ndarray, length: int) -> FigureJSON:
    """λ_i = 2π·base^(2i/d) per pair on a log axis, against the sequence length."""
    pairs = np.arange(len(wavelengths))
    beyond = wavelengths > length
    hover = "pair %{x}<br>λ = %{y:.4g} positions<extra></extra>"
    data = [
        dict(type="scatter", x=pairs[~beyond], y=wavelengths[~beyond], mode="markers", name="turns at least once",
             marker=dict(color=PALETTE[0], size=7), hovertemplate=hover),
        dict(type="scatter", x=pairs[beyond], y=wavelengths[beyond], mode="markers",
             name="never completes a turn within the length", marker=dict(color=PALETTE[3], size=7),
             hovertemplate=hover),
        # A trace, not a shape: shapes and annotations on a log axis need log10 coordinates.
        _line(np.array([0, max(1, len(pairs) - 1)]), np.array([length, length]), f"max length = {length}",
              PALETTE[1], 2, hoverinfo="skip"),
    ]
    data[-1]["line"]["dash"] = "dash"
    return fast_figure(data, "Wavelength λ of each (sin, cos) pair", 420,
                  xaxis=dict(title=dict(text="pair index i (dimensions 2i, 2i+1)")),
                  yaxis=dict(title=dict(text="wavelength λ (positions, log)"), type="log"),
                  legend=LEGEND_BELOW, margin=LEGEND_BELOW_MARGIN)


def clock_positions(length: int, consecutive: int = 16, spread: int = 20) -> np.ndarray:
    """Slider stops: 0..15 one by one (watch the fast hands), then geometric steps up to the
    last position (watch the slow hands). Fewer stops also keep the figure cheap to build."""
    far = np.geomspace(consecutive, max(consecutive, length - 1), spread).round().astype(int)
    return np.unique(np.concatenate([np.arange(min(consecutive, length)), far[far < length]]))


def clock_animation(pe: np.ndarray, pairs: Sequence[int], wavelengths: np.ndarray) -> FigureJSON:
    """Each pair (sin, cos) as a clock hand: x = sin, y = cos starts at 12 o'clock and turns
    clockwise by ω_i per position. Dragging the slider under the clocks walks through positions.

    Gradio draws plotly figures with Plotly.react, which drops animation frames, so each
    slider step restyles the hands' trace in the browser instead (no server round trip).
    All hands are one trace, segments split by None."""
    steps = clock_positions(pe.shape[0])
    centres = 3.0 * np.arange(len(pairs))
    circle = np.linspace(0, 2 * math.pi, 73)

    def hands(pos: int) -> tuple[list, list]:
        x, y = [], []
        for pair, cx in zip(pairs, centres):
            x += [float(cx), round(float(cx + pe[pos, 2 * pair]), 4), None]
            y += [0.0, round(float(pe[pos, 2 * pair + 1]), 4), None]
        return x, y

    dials = dict(type="scatter", x=np.concatenate([np.append(cx + np.sin(circle), np.nan) for cx in centres]),
                 y=np.tile(np.append(np.cos(circle), np.nan), len(pairs)), mode="lines", hoverinfo="skip",
                 showlegend=False, line=dict(color="#cbd5e1", width=2))
    tips = [PALETTE[n % len(PALETTE)] for n in range(len(pairs))]
    x0, y0 = hands(0)
    first = dict(type="scatter", x=x0, y=y0, mode="lines+markers", line=dict(width=5, color="#334155"),
                 showlegend=False, hoverinfo="skip",
                 marker=dict(size=[0, 14, 0] * len(pairs), color=list(np.repeat(tips, 3))))
    slider_steps = []
    for p in steps:
        x, y = hands(int(p))
        slider_steps.append(dict(method="restyle", label=str(int(p)), args=[dict(x=[x], y=[y]), [1]]))
    hidden = dict(visible=False, scaleratio=1)
    return fast_figure(
        [dials, first], "Pairs as clock hands: drag the position slider", 420,
        xaxis=dict(hidden, range=[-1.4, float(centres[-1]) + 1.4]),
        yaxis=dict(hidden, range=[-1.8, 1.3], scaleanchor="x"),
        annotations=[dict(x=float(cx), y=-1.35, text=f"pair {pair}<br>λ={wavelengths[pair]:.3g}", showarrow=False,
                          font=dict(size=14)) for pair, cx in zip(pairs, centres)],
        sliders=[dict(steps=slider_steps, x=0.02, len=0.96, y=-0.02, currentvalue=dict(prefix="position "))],
    )


def offset_profiles(offsets: np.ndarray, profiles: np.ndarray, labels: Sequence[str], title: str,
                    y_title: str) -> FigureJSON:
    """One curve per starting position against the offset k: identical curves = depends on k only."""
    widths = np.linspace(9, 3, len(labels))  # wide first, thin last: overlapping curves stay visible
    data = [_line(offsets, row, label, PALETTE[n % len(PALETTE)], float(widths[n]), opacity=0.85)
            for n, (label, row) in enumerate(zip(labels, profiles))]
    return fast_figure(data, title, 380, xaxis=dict(title=dict(text="offset k (positions)")),
                  yaxis=dict(title=dict(text=y_title)))


def shift_check(direct: np.ndarray, rotated: np.ndarray, pos: int, k: int, max_error: float) -> FigureJSON:
    """PE(pos+k) computed directly against M_k·PE(pos): the dots sit in the rings."""
    dims = np.arange(len(direct))
    data = [
        dict(type="scatter", x=dims, y=direct.astype(np.float32), name=f"PE({pos + k}) computed directly",
             mode="markers", marker=dict(size=11, color="rgba(0,0,0,0)", line=dict(width=2, color=PALETTE[0]))),
        dict(type="scatter", x=dims, y=rotated.astype(np.float32), name=f"M_{k} · PE({pos}), rotated",
             mode="markers", marker=dict(size=5, color=PALETTE[1])),
    ]
    return fast_figure(data, f"M_{k}·PE({pos}) lands on PE({pos + k}) (max error {max_error:.0e})", 420,
                  xaxis=dict(title=dict(text="dimension")),
                  yaxis=dict(title=dict(text="value"), range=[-1.15, 1.15]),
                  legend=LEGEND_BELOW, margin=LEGEND_BELOW_MARGIN)


def _position_colours(n: int) -> dict:
    return dict(color=np.arange(n), colorscale=POSITION_COLORS,
                colorbar=dict(COLORBAR, title=dict(text="position", side="right")))


def pca_path(coords: np.ndarray, explained: np.ndarray, title: str) -> FigureJSON:
    """Positions projected to 2-D, joined in order and coloured by index (a path through space)."""
    x, y = coords[:, 0], coords[:, 1]
    data = [
        dict(type="scatter", x=x, y=y, mode="lines", line=dict(color="#cbd5e1", width=1), hoverinfo="skip",
             showlegend=False),
        dict(type="scatter", x=x, y=y, mode="markers", showlegend=False, text=np.arange(len(coords)),
             marker=dict(size=7, **_position_colours(len(coords))),
             hovertemplate="position %{text}<br>(%{x:.2f}, %{y:.2f})<extra></extra>"),
    ]
    return fast_figure(data, title, 440, xaxis=dict(title=dict(text=f"PC 1 ({explained[0]:.0%} of variance)")),
                  yaxis=dict(title=dict(text=f"PC 2 ({explained[1]:.0%} of variance)"), scaleanchor="x",
                             scaleratio=1))


def pca_path_3d(coords: np.ndarray, explained: np.ndarray, title: str) -> FigureJSON:
    """The same path with a third principal axis, to turn around with the mouse."""
    trace = dict(type="scatter3d", x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], mode="lines+markers",
                 text=np.arange(len(coords)), marker=dict(size=3, **_position_colours(len(coords))),
                 line=dict(color="#94a3b8", width=2), hovertemplate="position %{text}<extra></extra>")
    # The grey-blue box with white grid lines that plotly.py's template gave 3-D scenes.
    box = dict(backgroundcolor="#E5ECF6", showbackground=True, gridcolor="white", gridwidth=2,
               zerolinecolor="white", linecolor="white", ticks="")
    scene = {f"{axis}axis": dict(box, title=dict(text=f"PC {n} ({explained[n - 1]:.0%})"))
             for n, axis in enumerate("xyz", start=1)}
    return fast_figure([trace], title, 520, xaxis={}, yaxis={}, scene=scene)


def alibi_curves(weights: np.ndarray, slopes: np.ndarray) -> FigureJSON:
    """Attention of the last query over the keys behind it, one curve per head: its reach."""
    length = weights.shape[-1]
    distance = np.arange(length)[::-1]  # the last query is at distance 0 from the last key
    data = [_line(distance, weights[h, -1], f"head {h + 1} (m={s:.3g})", PALETTE[h % len(PALETTE)])
            for h, s in enumerate(slopes)]
    return fast_figure(data, "Each head's reach: attention of the last query when all content scores are equal", 400,
                  xaxis=dict(title=dict(text="distance to the query (positions back)"),
                             range=[0, min(length - 1, 40) or 1]),
                  yaxis=dict(title=dict(text="attention weight")))
