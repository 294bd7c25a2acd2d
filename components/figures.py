"""Figures in the house style: readable on a projector, one colour scale for attention
(sequential), one for activations (diverging, centred on 0).

One way to make a figure: ``fast_figure(traces, title, height, **layout)``. A trace is a
plain dict in plotly.js's own terms, its type in lowercase
(``dict(type="heatmap", z=..., colorscale=ATTENTION_COLORS)``, "bar", "scatter",
"scattergl"); numpy arrays may go in as they are. The layout is ``house_layout`` with the
overrides merged into it; ``subplots`` lays out a grid of axes. The result is a
``FigureJSON`` that gr.Plot draws: no plotly objects, so no validation or deep copies
(30-300 ms a figure on a loaded 2-core server, more than the model) and no plotly.py
template. What that template gave and still matters is set here: the axes' automargin and
2 px zero line (``AXIS``), no outline on colour bars (``COLORBAR``), left-aligned hover
labels; colour scales go as explicit lists (``ATTENTION_COLORS``: plotly.js knows no "RdBu_r").

Builders take plain arrays and labels; they know nothing of models or Gradio. The ones
below (heatmap, lines, bars, scatter, empty) cover the common cases; tab-specific figures
compose them or call ``fast_figure`` themselves.
"""

from __future__ import annotations

import functools
from typing import Mapping, Sequence

import numpy as np
import orjson
from plotly.colors import get_colorscale

FONT = dict(family="Inter, 'Segoe UI', Helvetica, Arial, sans-serif", size=15, color="#1f2937")
# Colour scales as explicit lists: plotly.js knows no "RdBu_r", and its "Blues" runs the
# other way from plotly.py's.
ATTENTION_COLORS = get_colorscale("Blues")  # weights in [0, 1]: white = ignored, dark = attended
ACTIVATION_COLORS = get_colorscale("RdBu_r")  # signed values: blue < 0 < red, centred on 0
INK_COLORS = [[0.0, "white"], [1.0, "black"]]  # digit images: ink dark on white paper
# A horizontal legend under the plot, pinned to the figure's bottom edge: placed at a fraction
# of the plot's height instead, it lands on the x-axis title when the plot is short or the
# legend wraps. Use with ``margin=LEGEND_BELOW_MARGIN``, which leaves it room.
LEGEND_BELOW = dict(orientation="h", yref="container", yanchor="bottom", y=0.0, x=0, font=dict(size=14))
LEGEND_BELOW_MARGIN = dict(b=110)
PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"]


# The axis style of every plot. From plotly.py's template, which raw JSON goes without:
# automargin (long tick labels push the plot in instead of being cut) and a 2 px zero line.
AXIS = dict(gridcolor="#e5e7eb", zerolinecolor="#9ca3af", zerolinewidth=2, automargin=True)
# plotly.js draws a 1 px outline round colour bars unless told not to (the template did).
COLORBAR = dict(thickness=14, outlinewidth=0)


def house_layout(title: str = "", height: int = 420, **overrides: object) -> dict:
    """The house layout as a plain dict: big fonts, white background, a title that says
    what is shown. An override that is a dict is merged into the house one (``xaxis=dict(
    title=...)`` keeps the grid colour), anything else replaces it."""
    layout = dict(
        title=dict(text=title, x=0.01, xanchor="left", font=dict(size=18)),
        font=FONT, height=height, margin=dict(l=70, r=30, t=60 if title else 25, b=60),
        paper_bgcolor="white", plot_bgcolor="white", colorway=PALETTE,
        hoverlabel=dict(font=dict(size=15), align="left"),  # align: as the template had it
        legend=dict(font=dict(size=14)),
        xaxis=dict(AXIS), yaxis=dict(AXIS),
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
    GAN lab they cost more than the training) and writes numpy arrays directly. Read it as
    dicts: ``fig.data[0]["z"]``, ``fig.layout["title"]["text"]``."""

    def __init__(self, data: list[dict], layout: dict) -> None:
        self.data, self.layout = data, layout

    def to_json(self) -> str:
        # NaN in an array becomes null: a gap, as plotly.js expects.
        return orjson.dumps({"data": self.data, "layout": self.layout}, default=_unusual_array,
                            option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _unusual_array(value: object) -> object:
    """Arrays orjson does not write itself: views such as a column ``pe[:, d]`` or
    ``np.broadcast_to`` are copied into one block; other dtypes (float16) go as lists."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{type(value).__name__} cannot go into a figure")
    return np.ascontiguousarray(value) if not value.flags.c_contiguous else value.tolist()


def fast_figure(traces: list[dict], title: str = "", height: int = 420, **overrides: object) -> FigureJSON:
    """Trace dicts on the house layout: the one way every figure of the app is made."""
    return FigureJSON(traces, house_layout(title, height, **overrides))


def axis_names(n: int) -> dict:
    """The axes of subplot n (1-based) as a trace names them: x, y, then x2, y2, ..."""
    suffix = "" if n == 1 else str(n)
    return dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")


def subplots(rows: int, cols: int, titles: Sequence[str] = (), horizontal_spacing: float = 0.05,
             vertical_spacing: float = 0.05, shared_yaxes: bool = False,
             xaxis: Mapping[str, object] | None = None, yaxis: Mapping[str, object] | None = None) -> dict:
    """Layout entries for a rows × cols grid of plots, numbered row by row from the top left
    (put a trace in plot n with ``**axis_names(n)``): each plot's axes with their domain, the
    house axis style and ``xaxis``/``yaxis`` added, and a title above each plot. The same
    geometry as plotly's make_subplots; the spacings are the gaps between plots as fractions
    of the figure. shared_yaxes: the plots of a row share the first one's y axis and only it
    shows tick labels."""
    h_gap, v_gap = horizontal_spacing, vertical_spacing
    width = (1 - h_gap * (cols - 1)) / cols
    height = (1 - v_gap * (rows - 1)) / rows
    layout: dict = {}
    notes = []
    for row in range(rows):
        top = 1 - row * (height + v_gap)
        for col in range(cols):
            n = row * cols + col + 1
            left = col * (width + h_gap)
            x_name, y_name = axis_names(n)["xaxis"], axis_names(n)["yaxis"]
            y_axis = {**AXIS, "anchor": x_name, "domain": [top - height, top], **(yaxis or {})}
            if shared_yaxes and col > 0:
                y_axis.update(matches=axis_names(row * cols + 1)["yaxis"], showticklabels=False)
            layout[f"xaxis{n if n > 1 else ''}"] = {**AXIS, "anchor": y_name, "domain": [left, left + width],
                                                    **(xaxis or {})}
            layout[f"yaxis{n if n > 1 else ''}"] = y_axis
            if n <= len(titles):
                notes.append(dict(text=titles[n - 1], x=left + width / 2, y=top, xref="paper", yref="paper",
                                  xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=16)))
    if notes:
        layout["annotations"] = notes
    return layout


def vline(x: float, line: Mapping[str, object]) -> dict:
    """A vertical line over the plot's full height at data coordinate x (a layout shape)."""
    return dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain", line=dict(line))


def hline(y: float, line: Mapping[str, object]) -> dict:
    """A horizontal line over the plot's full width at data coordinate y (a layout shape)."""
    return dict(type="line", y0=y, y1=y, yref="y", x0=0, x1=1, xref="x domain", line=dict(line))


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
            zmin: float | None = None, zmax: float | None = None) -> FigureJSON:
    """A labelled heat-map. ``kind`` is "attention" (0..1, sequential) or "activation"
    (signed, diverging around 0). Values are printed in cells when the matrix is small."""
    z = np.asarray(z, dtype=float)
    rows, cols = z.shape
    x = unique_labels(x_labels) if x_labels is not None else list(range(cols))
    y = unique_labels(y_labels) if y_labels is not None else list(range(rows))
    if kind == "attention":
        colours = dict(colorscale=ATTENTION_COLORS, zmin=0.0 if zmin is None else zmin)
        if zmax is not None:
            colours["zmax"] = zmax
    else:
        bound = float(np.nanmax(np.abs(z))) if z.size and np.isfinite(z).any() else 1.0
        colours = dict(colorscale=ACTIVATION_COLORS, zmid=0.0, zmin=-bound if zmin is None else zmin,
                       zmax=bound if zmax is None else zmax)
    show_values = (rows * cols <= 160) if show_values is None else show_values
    trace = dict(type="heatmap", z=z, x=x, y=y, **colours, colorbar=dict(COLORBAR),
                 hovertemplate="%{y} → %{x}<br>%{z:.3f}<extra></extra>", textfont=dict(size=12))
    if show_values:
        trace["texttemplate"] = "%{z:.2f}"
    auto_height = min(900, max(300, 28 * rows + 160))
    return fast_figure(
        [trace], title, height or auto_height,
        xaxis=dict(title=dict(text=x_title), type="category", tickangle=-45 if cols > 8 else 0, showgrid=False),
        yaxis=dict(title=dict(text=y_title), type="category", autorange="reversed", showgrid=False))


def lines(x: Sequence[float], series: Mapping[str, Sequence[float]], title: str = "",
          x_title: str = "", y_title: str = "", log_y: bool = False, height: int = 380,
          markers: bool = False) -> FigureJSON:
    """Several named curves over a shared x axis (losses, accuracies, norms)."""
    x = list(x)
    traces = [dict(type="scatter", x=x, y=list(values), name=name, line=dict(width=3),
                   mode="lines+markers" if markers else "lines")
              for name, values in series.items()]
    return fast_figure(traces, title, height, xaxis=dict(title=dict(text=x_title)),
                       yaxis=dict(title=dict(text=y_title), type="log" if log_y else "linear"))


def bars(labels: Sequence[str], values: Sequence[float], title: str = "", x_title: str = "",
         y_title: str = "", horizontal: bool = False, height: int = 360,
         range_: tuple[float, float] | None = None, colors: Sequence[str] | None = None) -> FigureJSON:
    """Bars with the value printed on each (label scores, gate activations)."""
    labels = unique_labels(labels)
    values = [float(v) for v in values]
    trace = dict(
        type="bar", x=values if horizontal else labels, y=labels if horizontal else values,
        orientation="h" if horizontal else "v", text=[f"{v:.2f}" for v in values],
        textposition="auto", marker=dict(color=list(colors) if colors else PALETTE[0]),
        hovertemplate="%{x}: %{y:.3f}<extra></extra>" if not horizontal else "%{y}: %{x:.3f}<extra></extra>",
    )
    value_axis = dict(title=dict(text=x_title if horizontal else y_title))
    if range_:
        value_axis["range"] = list(range_)
    category_axis = dict(title=dict(text=y_title if horizontal else x_title), type="category")
    if horizontal:
        category_axis["autorange"] = "reversed"
    return fast_figure([trace], title, height, xaxis=value_axis if horizontal else category_axis,
                       yaxis=category_axis if horizontal else value_axis)


def scatter(points: Mapping[str, np.ndarray], title: str = "", x_title: str = "", y_title: str = "",
            height: int = 460, equal_axes: bool = True, text: Mapping[str, Sequence[str]] | None = None
            ) -> FigureJSON:
    """Named 2-D point clouds (real vs generated, PCA of positions)."""
    traces = []
    for name, xy in points.items():
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        trace = dict(type="scattergl", x=xy[:, 0], y=xy[:, 1], name=name, mode="markers",
                     marker=dict(size=7, opacity=0.75))
        if text and name in text:
            trace["text"] = list(text[name])
        traces.append(trace)
    y_axis = dict(title=dict(text=y_title))
    if equal_axes:
        y_axis.update(scaleanchor="x", scaleratio=1)
    return fast_figure(traces, title, height, xaxis=dict(title=dict(text=x_title)), yaxis=y_axis)


def _empty_layout(message: str, height: int) -> dict:
    note = dict(text=message, showarrow=False, font=dict(size=18, color="#6b7280"),
                xref="paper", yref="paper", x=0.5, y=0.5)
    return house_layout("", height, annotations=[note], xaxis=dict(visible=False), yaxis=dict(visible=False))


def empty(message: str, height: int = 300) -> FigureJSON:
    """A blank figure that tells the student what to do to fill it (a new one each call:
    callers may add to it)."""
    return FigureJSON([], _empty_layout(message, height))


@functools.lru_cache(maxsize=None)
def placeholder(message: str, height: int = 300) -> FigureJSON:
    """``empty`` as a gr.Plot's first value, built once per message: ~40 of them at start-up."""
    return empty(message, height)
