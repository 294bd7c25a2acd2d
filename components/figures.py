"""Plotly figure builders in the house style: readable on a projector, one colour scale
for attention (sequential), one for activations (diverging, centred on 0).

Builders take plain arrays and labels and return a ``go.Figure``; they know nothing of
models or Gradio. Tab-specific figures compose these or use ``style``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

FONT = dict(family="Inter, 'Segoe UI', Helvetica, Arial, sans-serif", size=15, color="#1f2937")
ATTENTION_SCALE = "Blues"  # weights in [0, 1]: white = ignored, dark = attended
ACTIVATION_SCALE = "RdBu_r"  # signed values: blue < 0 < red, centred on 0
PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"]


def style(fig: go.Figure, title: str = "", height: int = 420) -> go.Figure:
    """The house layout: big fonts, white background, a title that says what is shown."""
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=18)),
        font=FONT, height=height, margin=dict(l=70, r=30, t=60 if title else 25, b=60),
        paper_bgcolor="white", plot_bgcolor="white", colorway=PALETTE,
        hoverlabel=dict(font_size=15), legend=dict(font=dict(size=14)),
    )
    fig.update_xaxes(gridcolor="#e5e7eb", zerolinecolor="#9ca3af")
    fig.update_yaxes(gridcolor="#e5e7eb", zerolinecolor="#9ca3af")
    return fig


def _unique(labels: Sequence[str]) -> list[str]:
    """Plotly merges equal category labels; tokens repeat, so make each one unique."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        label = str(label)
        count = seen.get(label, 0)
        seen[label] = count + 1
        out.append(label if count == 0 else f"{label}\u2009({count + 1})")
    return out


def heatmap(z: np.ndarray, x_labels: Sequence[str] | None = None, y_labels: Sequence[str] | None = None,
            title: str = "", x_title: str = "", y_title: str = "", kind: str = "attention",
            show_values: bool | None = None, height: int | None = None,
            zmin: float | None = None, zmax: float | None = None) -> go.Figure:
    """A labelled heat-map. ``kind`` is "attention" (0..1, sequential) or "activation"
    (signed, diverging around 0). Values are printed in cells when the matrix is small."""
    z = np.asarray(z, dtype=float)
    rows, cols = z.shape
    x = _unique(x_labels) if x_labels is not None else list(range(cols))
    y = _unique(y_labels) if y_labels is not None else list(range(rows))
    if kind == "attention":
        scale, zmid = ATTENTION_SCALE, None
        zmin = 0.0 if zmin is None else zmin
    else:
        scale = ACTIVATION_SCALE
        bound = float(np.nanmax(np.abs(z))) if z.size and np.isfinite(z).any() else 1.0
        zmid, zmin, zmax = 0.0, -bound if zmin is None else zmin, bound if zmax is None else zmax
    show_values = (rows * cols <= 160) if show_values is None else show_values
    trace = go.Heatmap(
        z=z, x=x, y=y, colorscale=scale, zmid=zmid, zmin=zmin, zmax=zmax,
        hovertemplate="%{y} → %{x}<br>%{z:.3f}<extra></extra>",
        colorbar=dict(thickness=14),
        texttemplate="%{z:.2f}" if show_values else None, textfont=dict(size=12),
    )
    fig = go.Figure(trace)
    fig.update_xaxes(title=x_title, type="category", tickangle=-45 if cols > 8 else 0,
                     showgrid=False)
    fig.update_yaxes(title=y_title, type="category", autorange="reversed", showgrid=False)
    auto_height = min(900, max(300, 28 * rows + 160))
    return style(fig, title, height or auto_height)


def lines(x: Sequence[float], series: Mapping[str, Sequence[float]], title: str = "",
          x_title: str = "", y_title: str = "", log_y: bool = False, height: int = 380,
          markers: bool = False) -> go.Figure:
    """Several named curves over a shared x axis (losses, accuracies, norms)."""
    fig = go.Figure()
    for name, values in series.items():
        fig.add_trace(go.Scatter(x=list(x), y=list(values), name=name,
                                 mode="lines+markers" if markers else "lines", line=dict(width=3)))
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, type="log" if log_y else "linear")
    return style(fig, title, height)


def bars(labels: Sequence[str], values: Sequence[float], title: str = "", x_title: str = "",
         y_title: str = "", horizontal: bool = False, height: int = 360,
         range_: tuple[float, float] | None = None, colors: Sequence[str] | None = None) -> go.Figure:
    """Bars with the value printed on each (label scores, gate activations)."""
    labels = _unique(labels)
    values = [float(v) for v in values]
    trace = go.Bar(
        x=values if horizontal else labels, y=labels if horizontal else values,
        orientation="h" if horizontal else "v", text=[f"{v:.2f}" for v in values],
        textposition="auto", marker_color=list(colors) if colors else PALETTE[0],
        hovertemplate="%{x}: %{y:.3f}<extra></extra>" if not horizontal else "%{y}: %{x:.3f}<extra></extra>",
    )
    fig = go.Figure(trace)
    value_axis = fig.update_xaxes if horizontal else fig.update_yaxes
    category_axis = fig.update_yaxes if horizontal else fig.update_xaxes
    value_axis(title=y_title if not horizontal else x_title, range=list(range_) if range_ else None)
    category_axis(title=x_title if not horizontal else y_title, type="category")
    if horizontal:
        fig.update_yaxes(autorange="reversed")
    return style(fig, title, height)


def scatter(points: Mapping[str, np.ndarray], title: str = "", x_title: str = "", y_title: str = "",
            height: int = 460, equal_axes: bool = True, text: Mapping[str, Sequence[str]] | None = None
            ) -> go.Figure:
    """Named 2-D point clouds (real vs generated, PCA of positions)."""
    fig = go.Figure()
    for name, xy in points.items():
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        labels = list(text[name]) if text and name in text else None
        fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], name=name, mode="markers",
                                   marker=dict(size=7, opacity=0.75), text=labels))
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title)
    if equal_axes:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return style(fig, title, height)


def empty(message: str, height: int = 300) -> go.Figure:
    """A blank figure that tells the student what to do to fill it."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font=dict(size=18, color="#6b7280"),
                       xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, "", height)
