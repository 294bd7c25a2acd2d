"""Plotly figure builders in the house style: readable on a projector, one colour scale
for attention (sequential), one for activations (diverging, centred on 0).

Builders take plain arrays and labels and return a ``go.Figure``; they know nothing of
models or Gradio. Tab-specific figures compose these or use ``style``. Figures drawn many
times a second (or forty times at start-up) are ``FigureJSON``: plain dicts, no plotly.
"""

from __future__ import annotations

import functools
from typing import Mapping, Sequence

import numpy as np
import orjson
import plotly.graph_objects as go
from plotly.colors import get_colorscale

FONT = dict(family="Inter, 'Segoe UI', Helvetica, Arial, sans-serif", size=15, color="#1f2937")
ATTENTION_SCALE = "Blues"  # weights in [0, 1]: white = ignored, dark = attended
ACTIVATION_SCALE = "RdBu_r"  # signed values: blue < 0 < red, centred on 0
# The same scales as explicit lists, for raw JSON figures: plotly.js does not know "RdBu_r"
# and its "Blues" runs the other way.
ATTENTION_COLORS = get_colorscale(ATTENTION_SCALE)
ACTIVATION_COLORS = get_colorscale(ACTIVATION_SCALE)
INK_COLORS = [[0.0, "white"], [1.0, "black"]]  # digit images: ink dark on white paper
# A horizontal legend under the plot, pinned to the figure's bottom edge: placed at a fraction
# of the plot's height instead, it lands on the x-axis title when the plot is short or the
# legend wraps. Use with ``margin=LEGEND_BELOW_MARGIN``, which leaves it room.
LEGEND_BELOW = dict(orientation="h", yref="container", yanchor="bottom", y=0.0, x=0, font=dict(size=14))
LEGEND_BELOW_MARGIN = dict(b=110)
PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"]


def house_layout(title: str = "", height: int = 420, **overrides: object) -> dict:
    """The house layout as a plain dict: big fonts, white background, a title that says
    what is shown. Passing a dict to ``go.Figure`` once is ~10x faster than a chain of
    ``update_*`` calls, which matters at 10+ figures a second."""
    # automargin: long tick labels push the plot in instead of being cut (plotly's template
    # sets it too, but raw-JSON figures go without the template)
    axis = dict(gridcolor="#e5e7eb", zerolinecolor="#9ca3af", automargin=True)
    layout = dict(
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=18)),
        font=FONT, height=height, margin=dict(l=70, r=30, t=60 if title else 25, b=60),
        paper_bgcolor="white", plot_bgcolor="white", colorway=PALETTE,
        hoverlabel=dict(font_size=15), legend=dict(font=dict(size=14)),
        xaxis=dict(axis), yaxis=dict(axis),
    )
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


class FigureJSON:
    """A plotly figure kept as plain dicts of traces and layout. gr.Plot takes any object
    with plotly's ``to_json``; this one skips plotly's validation and deep copies (in the
    GAN lab they cost more than the training) and writes numpy arrays directly."""

    def __init__(self, data: list[dict], layout: dict) -> None:
        self.data, self.layout = data, layout

    def to_json(self) -> str:
        # NaN in an array becomes null: a gap, as plotly.js expects.
        return orjson.dumps({"data": self.data, "layout": self.layout},
                            option=orjson.OPT_SERIALIZE_NUMPY).decode()


def fast_figure(traces: list[dict], title: str = "", height: int = 420, **overrides: object) -> FigureJSON:
    """Trace dicts on the house layout, with no plotly objects: for figures drawn many
    times a second or on every click, where plotly's validation costs more than the model
    (30-300 ms a figure on a loaded 2-core server)."""
    return FigureJSON(traces, house_layout(title, height, **overrides))


def style(fig: go.Figure, title: str = "", height: int = 420) -> go.Figure:
    """Apply the house layout to a figure built elsewhere."""
    fig.update_layout(house_layout(title, height))
    return fig


def unique_labels(labels: Sequence[str]) -> list[str]:
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
    x = unique_labels(x_labels) if x_labels is not None else list(range(cols))
    y = unique_labels(y_labels) if y_labels is not None else list(range(rows))
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
    auto_height = min(900, max(300, 28 * rows + 160))
    layout = house_layout(
        title, height or auto_height,
        xaxis=dict(title=x_title, type="category", tickangle=-45 if cols > 8 else 0, showgrid=False),
        yaxis=dict(title=y_title, type="category", autorange="reversed", showgrid=False))
    return go.Figure(trace, layout)


def lines(x: Sequence[float], series: Mapping[str, Sequence[float]], title: str = "",
          x_title: str = "", y_title: str = "", log_y: bool = False, height: int = 380,
          markers: bool = False) -> go.Figure:
    """Several named curves over a shared x axis (losses, accuracies, norms)."""
    x = list(x)
    traces = [go.Scatter(x=x, y=list(values), name=name, line=dict(width=3),
                         mode="lines+markers" if markers else "lines")
              for name, values in series.items()]
    layout = house_layout(title, height, xaxis=dict(title=x_title),
                          yaxis=dict(title=y_title, type="log" if log_y else "linear"))
    return go.Figure(traces, layout)


def bars(labels: Sequence[str], values: Sequence[float], title: str = "", x_title: str = "",
         y_title: str = "", horizontal: bool = False, height: int = 360,
         range_: tuple[float, float] | None = None, colors: Sequence[str] | None = None) -> go.Figure:
    """Bars with the value printed on each (label scores, gate activations)."""
    labels = unique_labels(labels)
    values = [float(v) for v in values]
    trace = go.Bar(
        x=values if horizontal else labels, y=labels if horizontal else values,
        orientation="h" if horizontal else "v", text=[f"{v:.2f}" for v in values],
        textposition="auto", marker_color=list(colors) if colors else PALETTE[0],
        hovertemplate="%{x}: %{y:.3f}<extra></extra>" if not horizontal else "%{y}: %{x:.3f}<extra></extra>",
    )
    value_axis = dict(title=x_title if horizontal else y_title, range=list(range_) if range_ else None)
    category_axis = dict(title=y_title if horizontal else x_title, type="category")
    if horizontal:
        category_axis["autorange"] = "reversed"
    layout = house_layout(title, height, xaxis=value_axis if horizontal else category_axis,
                          yaxis=category_axis if horizontal else value_axis)
    return go.Figure(trace, layout)


def scatter(points: Mapping[str, np.ndarray], title: str = "", x_title: str = "", y_title: str = "",
            height: int = 460, equal_axes: bool = True, text: Mapping[str, Sequence[str]] | None = None
            ) -> go.Figure:
    """Named 2-D point clouds (real vs generated, PCA of positions)."""
    traces = []
    for name, xy in points.items():
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        labels = list(text[name]) if text and name in text else None
        traces.append(go.Scattergl(x=xy[:, 0], y=xy[:, 1], name=name, mode="markers",
                                   marker=dict(size=7, opacity=0.75), text=labels))
    y_axis = dict(title=y_title, scaleanchor="x", scaleratio=1) if equal_axes else dict(title=y_title)
    return go.Figure(traces, house_layout(title, height, xaxis=dict(title=x_title), yaxis=y_axis))


def _empty_layout(message: str, height: int) -> dict:
    note = dict(text=message, showarrow=False, font=dict(size=18, color="#6b7280"),
                xref="paper", yref="paper", x=0.5, y=0.5)
    return house_layout("", height, annotations=[note], xaxis=dict(visible=False), yaxis=dict(visible=False))


def empty(message: str, height: int = 300) -> go.Figure:
    """A blank figure that tells the student what to do to fill it."""
    return go.Figure(layout=_empty_layout(message, height))


@functools.lru_cache(maxsize=None)
def placeholder(message: str, height: int = 300) -> FigureJSON:
    """``empty`` as a gr.Plot's first value, skipping plotly's validation and its template:
    building ~40 Figures cost 0.2 s of the app's start-up and 10 kB of page each."""
    return FigureJSON([], _empty_layout(message, height))
