"""Figures of the RNN & LSTM lab: gates at one step, states over time with the current
step outlined, the echo of the first input, the read-out's belief, both directions,
gradient norms along the hidden and the cell-state paths, the memory race."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from components.figures import (ACTIVATION_COLORS, ATTENTION_COLORS, LEGEND_BELOW, LEGEND_BELOW_MARGIN,
                                PALETTE, FigureJSON, fast_figure, house_layout, placeholder)
from playground.recurrent.cells import CELL_NAMES, GATES, Echo, GradientNorms, Step

if TYPE_CHECKING:  # memory_task imports torch; the app must start without it
    from playground.recurrent.memory_task import RaceSnapshot

GATE_NAMES = {"h": "h (tanh)", "i": "i input gate", "f": "f forget gate", "g": "g candidate",
              "o": "o output gate", "r": "r reset gate", "z": "z update gate", "n": "n candidate"}
CURRENT = "#f59e0b"  # amber outline of the current step


def time_labels(labels: Sequence[str]) -> list[str]:
    """The symbol over its step number (the number keeps repeated symbols distinct);
    one line 't:symbol' when there are too many steps for two-line labels."""
    if len(labels) <= 24:
        return [f"<b>{label}</b><br>{t + 1}" for t, label in enumerate(labels)]
    return [f"{t + 1}:{label}" for t, label in enumerate(labels)]


def unit_labels(size: int) -> list[str]:
    return [f"unit {j + 1}" for j in range(size)]


def _axis_style() -> dict:
    return house_layout()["xaxis"]


def _cells(values: np.ndarray) -> list:
    """A matrix as JSON lists: NaN (a step not taken yet) becomes an empty cell."""
    cells = np.round(np.asarray(values, dtype=float), 4).astype(object)
    cells[~np.isfinite(values)] = None
    return cells.tolist()


def gates_figure(s: Step | None, kind: str, t: int, label: str) -> FigureJSON:
    """Every gate's activation per unit at step t, as grouped bars."""
    if s is None:
        return placeholder("Press Step to read the first symbol.", height=360)
    units = unit_labels(len(s.h))
    data = []
    for k, gate in enumerate(GATES[kind]):
        values = [round(float(v), 4) for v in s.gates[gate]]
        data.append({"type": "bar", "x": units, "y": values, "name": GATE_NAMES[gate],
                     "marker": {"color": PALETTE[k]},
                     "text": [f"{v:.2f}" for v in values] if len(units) <= 6 else None,
                     "textposition": "outside", "cliponaxis": False,
                     "hovertemplate": "%{x}: %{y:.3f}<extra>" + GATE_NAMES[gate] + "</extra>"})
    layout = {"barmode": "group", "bargap": 0.2, "margin": {"t": 95},
              "legend": {"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},  # under the title
              "xaxis": {"title": {"text": "hidden unit"}, "type": "category"},
              "yaxis": {"title": {"text": "activation"}, "range": [-1.15, 1.15], "zeroline": True}}
    return fast_figure(data, f"{CELL_NAMES[kind]} gates at step {t} (reading '{label}')", 380, **layout)


def _outline(column: int, rows: int, axis: str = "") -> dict:
    """An amber box around one time column of a heat-map."""
    return {"type": "rect", "xref": f"x{axis}", "yref": f"y{axis}", "x0": column - 0.5,
            "x1": column + 0.5, "y0": -0.5, "y1": rows - 0.5, "line": {"color": CURRENT, "width": 4}}


def _time_axis(labels: Sequence[str], title: str) -> dict:
    steps = len(labels)
    return {**_axis_style(), "tickmode": "array", "tickvals": list(range(steps)),
            "ticktext": time_labels(labels), "tickangle": -45 if steps > 12 else 0,
            "range": [-0.5, steps - 0.5], "title": {"text": title, "standoff": 8}, "showgrid": False,
            "automargin": True}


def states_figure(h: np.ndarray, c: np.ndarray | None, labels: Sequence[str], t: int) -> FigureJSON:
    """h_t (and c_t for the LSTM) over time: units × time, steps not yet taken left blank."""
    steps, size = len(labels), h.shape[1]
    panels = [("h_t hidden state", h)] + ([("c_t cell state (memory)", c)] if c is not None else [])
    gap = 0.16
    span = (1 - gap * (len(panels) - 1)) / len(panels)
    data, layout, shapes, notes = [], {}, [], []
    for k, (name, values) in enumerate(panels):
        axis = "" if k == 0 else str(k + 1)
        top = 1 - k * (span + gap)
        shown = np.full((size, steps), np.nan)
        shown[:, :t] = values[:t].T  # (H, T): only the steps taken so far
        bound = 1.0 if k == 0 else max(1.0, float(np.max(np.abs(values))))  # tanh keeps |h| ≤ 1
        data.append({"type": "heatmap", "z": _cells(shown), "x": list(range(steps)),
                     "y": unit_labels(size), "xaxis": f"x{axis}", "yaxis": f"y{axis}",
                     "colorscale": ACTIVATION_COLORS, "zmid": 0, "zmin": -bound, "zmax": bound,
                     "showscale": True,  # one colour bar per panel: c_t is not bounded by 1
                     "colorbar": {"thickness": 14, "len": span, "y": top - span / 2, "yanchor": "middle"},
                     "texttemplate": "%{z:.2f}" if size * steps <= 120 else None,
                     "hovertemplate": "%{y}, step %{x}<br>%{z:.3f}<extra>" + name + "</extra>"})
        last = k == len(panels) - 1
        layout[f"xaxis{axis}"] = {**_time_axis(labels, "symbol read, step t" if last else ""),
                                  "anchor": f"y{axis}", "showticklabels": last}
        layout[f"yaxis{axis}"] = {**_axis_style(), "domain": [top - span, top], "autorange": "reversed",
                                  "anchor": f"x{axis}", "title": {"text": "unit"}, "showgrid": False}
        notes.append({"text": f"<b>{name}</b>", "showarrow": False, "xref": "paper", "yref": "paper",
                      "x": 0, "y": top, "yanchor": "bottom", "xanchor": "left", "font": {"size": 15}})
        if t > 0:
            shapes.append(_outline(t - 1, size, axis))
    layout.update(shapes=shapes, annotations=notes, margin={"t": 80})
    height = min(760, 150 + len(panels) * max(150, 26 * size))
    title = f"States over time (step {t} of {steps} outlined)" if t else "States over time (nothing read yet)"
    return fast_figure(data, title, height, **layout)


def readout_figure(probs: np.ndarray | None, labels: Sequence[str], signals: str, t: int) -> FigureJSON:
    """What the trained read-out would answer after each step: P(first letter = …)."""
    if probs is None:
        return placeholder("Random weights have no trained read-out.<br>Choose trained weights to "
                              "see what the network would answer.", height=240)
    steps = len(labels)
    shown = np.full((len(signals), steps), np.nan)
    shown[:, :t] = probs[:t].T
    data = [{"type": "heatmap", "z": _cells(shown), "x": list(range(steps)),
             "y": [f"'{s}'" for s in signals], "colorscale": ATTENTION_COLORS, "zmin": 0, "zmax": 1,
             "colorbar": {"thickness": 14, "title": {"text": "P"}},
             "texttemplate": "%{z:.2f}" if steps <= 30 else None,
             "hovertemplate": "after step %{x}: P(first = %{y}) = %{z:.3f}<extra></extra>"}]
    layout = {"xaxis": _time_axis(labels, "symbol read, step t"),
              "yaxis": {"title": {"text": "first letter was"}, "autorange": "reversed"},
              "shapes": [_outline(t - 1, len(signals))] if t > 0 else []}
    return fast_figure(data, "Read-out of h_t: which letter came first?", 300, **layout)


def _panel_title(text: str, x: float) -> dict:
    return {"text": f"<b>{text}</b>", "showarrow": False, "xref": "paper", "yref": "paper", "x": x,
            "y": 1.0, "yanchor": "bottom", "xanchor": "center", "font": {"size": 15}}


def bidirectional_figure(forward: np.ndarray, backward: np.ndarray, labels: Sequence[str]) -> FigureJSON:
    """Forward states, backward states (re-aligned to the sequence) and their concatenation."""
    size = forward.shape[1]
    panels = [("→ forward h_t (left to right)", forward.T, unit_labels(size), (0.0, 0.25)),
              ("← backward h_t (right to left)", backward.T, unit_labels(size), (0.33, 0.58)),
              ("[forward ; backward]", np.concatenate([forward, backward], axis=1).T,
               [f"→{j + 1}" for j in range(size)] + [f"←{j + 1}" for j in range(size)], (0.66, 1.0))]
    data, layout, notes = [], {}, []
    for k, (name, z, rows, domain) in enumerate(panels):
        axis = "" if k == 0 else str(k + 1)
        data.append({"type": "heatmap", "z": _cells(z), "x": list(range(len(labels))), "y": rows,
                     "xaxis": f"x{axis}", "yaxis": f"y{axis}", "colorscale": ACTIVATION_COLORS,
                     "zmid": 0, "zmin": -1, "zmax": 1, "showscale": k == 2, "colorbar": {"thickness": 14},
                     "hovertemplate": "%{y}, step %{x}<br>%{z:.3f}<extra>" + name + "</extra>"})
        layout[f"xaxis{axis}"] = {**_time_axis(labels, "symbol, step t"), "domain": list(domain),
                                  "anchor": f"y{axis}"}
        layout[f"yaxis{axis}"] = {**_axis_style(), "autorange": "reversed", "anchor": f"x{axis}",
                                  "title": {"text": "unit" if k == 0 else ""}, "showgrid": False}
        notes.append(_panel_title(name, sum(domain) / 2))
    layout.update(annotations=notes, margin={"t": 90})
    return fast_figure(data, "Bidirectional: both reading directions at every position",
                       min(720, 280 + 30 * size), **layout)


def _curves(x: Sequence[float], series: Mapping[str, Sequence[float]]) -> list[dict]:
    return [{"type": "scatter", "x": list(x), "y": [float(v) for v in values], "name": name,
             "mode": "lines", "line": {"width": 3}}
            for name, values in series.items()]


def _reference_line(y: float, text: str, log_axis: bool = False) -> tuple[dict, dict]:
    """A dotted horizontal line across the plot, and its label."""
    # on a log axis plotly places shapes in data units but annotations in log10 units
    label_y = float(np.log10(y)) if log_axis else y
    return ({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": y, "y1": y,
             "line": {"color": "#9ca3af", "dash": "dot", "width": 2}},
            {"text": text, "showarrow": False, "xref": "paper", "x": 1, "xanchor": "right", "yref": "y",
             "y": label_y, "yanchor": "bottom", "font": {"size": 14, "color": "#6b7280"}})


# (kind, field of GradientNorms, legend name, colour, dash): the LSTM's cell-state path is
# the one the lesson is about, so it is drawn solid and its h paths dashed and dotted.
GRADIENT_PATHS = (
    ("rnn", "h_from_h", "RNN ‖∂h_T/∂h_t‖", PALETTE[0], "solid"),
    ("gru", "h_from_h", "GRU ‖∂h_T/∂h_t‖", PALETTE[2], "solid"),
    ("lstm", "c_from_c", "LSTM ‖∂c_T/∂c_t‖ (cell-state path)", PALETTE[1], "solid"),
    ("lstm", "h_from_c", "LSTM ‖∂h_T/∂c_t‖", PALETTE[1], "dash"),
    ("lstm", "h_from_h", "LSTM ‖∂h_T/∂h_t‖", PALETTE[1], "dot"),
)
TINY = 1e-300  # a norm of exactly 0 (underflow) cannot sit on a log axis: "nothing left"


def _log_axis(series: Iterable[np.ndarray], title: str) -> dict:
    """A log y axis labelled at powers of ten (at most ~12 labels) when the values span
    decades, and at 1-2-5 steps otherwise."""
    values = [np.asarray(v, dtype=float) for v in series]
    low = min((float(np.min(v)) for v in values), default=1.0)
    high = max((float(np.max(v)) for v in values), default=1.0)
    decades = np.log10(max(high, TINY)) - np.log10(max(low, TINY))
    return {"type": "log", "exponentformat": "power", "automargin": True, "title": {"text": title},
            "dtick": int(np.ceil(decades / 12)) if decades >= 2 else "D2"}


def gradient_curves(norms: Mapping[str, GradientNorms]) -> dict[str, np.ndarray]:
    """Legend name → norms over t, for every path of the cells present."""
    return {name: getattr(norms[kind], field) for kind, field, name, _, _ in GRADIENT_PATHS
            if kind in norms}


def gradient_figure(norms: Mapping[str, GradientNorms], labels: Sequence[str]) -> FigureJSON:
    """The gradient norms against t on a log scale: hidden paths and the cell-state path."""
    steps = len(labels)
    data = [{"type": "scatter", "x": list(range(steps)), "y": [float(v) for v in np.maximum(
                getattr(norms[kind], field), TINY)], "name": name, "mode": "lines+markers",
             "line": {"width": 3, "color": colour, "dash": dash}}
            for kind, field, name, colour, dash in GRADIENT_PATHS if kind in norms]
    line, note = _reference_line(1.0, "1 = nothing lost", log_axis=True)
    layout = {"xaxis": _time_axis(labels, "symbol read, step t"),
              "yaxis": _log_axis(gradient_curves(norms).values(), "gradient norm (log scale)"),
              "shapes": [line], "annotations": [note], "legend": LEGEND_BELOW,
              "margin": LEGEND_BELOW_MARGIN}
    return fast_figure(data, f"How much step {steps} still depends on step t", 500, **layout)


def echo_figure(echo: Echo, labels: Sequence[str], t: int) -> FigureJSON:
    """‖h_t − h_t(x_1 = 0)‖ (and the same for c_t) for the steps taken so far, log scale."""
    if t == 0:
        return placeholder("Press Step: the echo of the first input appears here.", height=300)
    series = {"h_t: ‖h_t − h_t(x₁ = 0)‖": echo.h}
    if echo.c is not None:
        series["c_t: ‖c_t − c_t(x₁ = 0)‖"] = echo.c
    sizes = {name: np.maximum(np.linalg.norm(values[:t], axis=1), TINY) for name, values in series.items()}
    data = [{"type": "scatter", "x": list(range(t)), "y": [float(v) for v in size], "name": name,
             "mode": "lines+markers", "line": {"width": 3, "color": PALETTE[k]},
             "hovertemplate": "step %{x}: %{y:.3g}<extra>" + name + "</extra>"}
            for k, (name, size) in enumerate(sizes.items())]
    layout = {"xaxis": _time_axis(labels, "symbol read, step t"),
              "yaxis": _log_axis(sizes.values(), "what is left of x₁ (log)"), "showlegend": True,
              "legend": LEGEND_BELOW, "margin": LEGEND_BELOW_MARGIN}
    return fast_figure(data, "Echo of the first input: this run minus the run with x₁ = 0", 380, **layout)


def race_figures(snap: RaceSnapshot | None) -> tuple[FigureJSON, FigureJSON]:
    """Training loss and held-out accuracy curves of the memory race."""
    if snap is None:
        message = "Press Train to race an RNN against an LSTM."
        return placeholder(message), placeholder(message)
    axis = {"title": {"text": "training step"}}
    loss = fast_figure(
        _curves(snap.steps, {CELL_NAMES[k]: v for k, v in snap.loss.items()}),
        f"Training loss (this step's batches: N = {snap.train_length})", 360,
        xaxis=axis, yaxis={"type": "log", "title": {"text": "cross-entropy (log scale)"}})
    line, note = _reference_line(0.25, "chance (25 %)")
    acc = fast_figure(
        _curves(snap.steps, {CELL_NAMES[k]: v for k, v in snap.accuracy.items()}),
        f"Accuracy on 256 held-out sequences, N = {snap.distractors}", 360, xaxis=axis,
        yaxis={"range": [0, 1.05], "tickformat": ".0%", "title": {"text": "accuracy"}},
        shapes=[line], annotations=[note])
    return loss, acc
