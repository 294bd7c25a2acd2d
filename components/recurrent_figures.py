"""Figures of the RNN & LSTM lab: gates at one step, states over time with the current
step outlined, the read-out's belief, both directions, gradient norms, the memory race."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from gradio.components.plot import PlotData
from plotly.subplots import make_subplots

from components.figures import ACTIVATION_SCALE, ATTENTION_SCALE, PALETTE, empty, lines, style
from playground.recurrent import CELL_NAMES, GATES, Step

if TYPE_CHECKING:  # memory_task imports torch; the app must start without it
    from playground.memory_task import RaceSnapshot

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


@functools.lru_cache(maxsize=1)
def _house_layout() -> str:
    """The house style of components.figures.style, as JSON, computed once."""
    layout = style(go.Figure(), "", 400).to_plotly_json()["layout"]
    layout.pop("template", None)  # plotly's default template: large and overridden anyway
    return json.dumps(layout)


def _axis_style() -> dict:
    return json.loads(_house_layout())["xaxis"]


def fast_figure(data: list[dict], layout: dict, title: str, height: int) -> PlotData:
    """Plotly JSON for gr.Plot without building a go.Figure.

    The stepper redraws three figures per click; go.Figure validates every property and
    costs 30-300 ms a figure on a loaded 2-core server, which would miss the 50 ms target.
    """
    base = json.loads(_house_layout())
    base["title"]["text"] = title
    base["height"] = height
    for key, value in layout.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return PlotData(type="plotly", plot=json.dumps({"data": data, "layout": base}, allow_nan=False))


def _cells(values: np.ndarray) -> list:
    """A matrix as JSON lists: NaN (a step not taken yet) becomes an empty cell."""
    return [[None if not np.isfinite(v) else round(float(v), 4) for v in row] for row in values]


def message_figure(message: str, height: int = 300) -> PlotData:
    """A blank figure telling the student what to do (the fast twin of figures.empty)."""
    hidden = {"visible": False}
    return fast_figure([], {"xaxis": hidden, "yaxis": hidden, "annotations": [{
        "text": message, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
        "font": {"size": 18, "color": "#6b7280"}}]}, "", height)


def gates_figure(s: Step | None, kind: str, t: int, label: str) -> PlotData:
    """Every gate's activation per unit at step t, as grouped bars."""
    if s is None:
        return message_figure("Press Step to read the first symbol.", height=360)
    units = unit_labels(len(s.h))
    data = []
    for k, gate in enumerate(GATES[kind]):
        values = [round(float(v), 4) for v in s.gates[gate]]
        data.append({"type": "bar", "x": units, "y": values, "name": GATE_NAMES[gate],
                     "marker": {"color": PALETTE[k]},
                     "text": [f"{v:.2f}" for v in values] if len(units) <= 6 else None,
                     "textposition": "outside", "cliponaxis": False,
                     "hovertemplate": "%{x}: %{y:.3f}<extra>" + GATE_NAMES[gate] + "</extra>"})
    layout = {"barmode": "group", "bargap": 0.2, "margin": {"b": 110},
              "legend": {"orientation": "h", "y": -0.32, "x": 0},
              "xaxis": {"title": {"text": "hidden unit"}, "type": "category"},
              "yaxis": {"title": {"text": "activation"}, "range": [-1.15, 1.15], "zeroline": True}}
    return fast_figure(data, layout, f"{CELL_NAMES[kind]} gates at step {t} (reading '{label}')", 380)


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


def states_figure(h: np.ndarray, c: np.ndarray | None, labels: Sequence[str], t: int) -> PlotData:
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
                     "colorscale": ACTIVATION_SCALE, "zmid": 0, "zmin": -bound, "zmax": bound,
                     "showscale": k == 0, "colorbar": {"thickness": 14},
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
    return fast_figure(data, layout, title, height)


def readout_figure(probs: np.ndarray | None, labels: Sequence[str], signals: str, t: int) -> PlotData:
    """What the trained read-out would answer after each step: P(first letter = …)."""
    if probs is None:
        return message_figure("Random weights have no trained read-out.<br>Choose trained weights to "
                              "see what the network would answer.", height=240)
    steps = len(labels)
    shown = np.full((len(signals), steps), np.nan)
    shown[:, :t] = probs[:t].T
    data = [{"type": "heatmap", "z": _cells(shown), "x": list(range(steps)),
             "y": [f"'{s}'" for s in signals], "colorscale": ATTENTION_SCALE, "zmin": 0, "zmax": 1,
             "colorbar": {"thickness": 14, "title": {"text": "P"}},
             "texttemplate": "%{z:.2f}" if steps <= 30 else None,
             "hovertemplate": "after step %{x}: P(first = %{y}) = %{z:.3f}<extra></extra>"}]
    layout = {"xaxis": _time_axis(labels, "symbol read, step t"),
              "yaxis": {"title": {"text": "first letter was"}, "autorange": "reversed"},
              "shapes": [_outline(t - 1, len(signals))] if t > 0 else []}
    return fast_figure(data, layout, "Read-out of h_t: which letter came first?", 300)


def bidirectional_figure(forward: np.ndarray, backward: np.ndarray, labels: Sequence[str]) -> go.Figure:
    """Forward states, backward states (re-aligned to the sequence) and their concatenation."""
    size = forward.shape[1]
    concat = np.concatenate([forward, backward], axis=1)
    fig = make_subplots(rows=1, cols=3, shared_yaxes=False, horizontal_spacing=0.07,
                        column_widths=[1, 1, 2],
                        subplot_titles=["→ forward h_t (read left to right)",
                                        "← backward h_t (read right to left)",
                                        "[forward ; backward] concatenated"])
    x = time_labels(labels)
    y_concat = [f"→{j + 1}" for j in range(size)] + [f"←{j + 1}" for j in range(size)]
    for col, (values, y) in enumerate(((forward, unit_labels(size)), (backward, unit_labels(size)),
                                       (concat, y_concat)), start=1):
        fig.add_trace(go.Heatmap(z=values.T, x=x, y=y, colorscale=ACTIVATION_SCALE, zmid=0,
                                 zmin=-1, zmax=1, showscale=col == 3, colorbar=dict(thickness=14),
                                 hovertemplate="%{y}, %{x}<br>%{z:.3f}<extra></extra>"), row=1, col=col)
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=col)
        fig.update_xaxes(type="category", tickangle=-45 if len(labels) > 24 else 0, title="symbol, step t",
                         row=1, col=col)
    fig.update_yaxes(title="unit", row=1, col=1)
    return style(fig, "Bidirectional: both reading directions at every position",
                 height=min(720, 260 + 30 * size))


def gradient_figure(norms: Mapping[str, np.ndarray], labels: Sequence[str]) -> go.Figure:
    """‖∂h_T/∂h_t‖ against t on a log scale, one line per cell type."""
    steps = len(labels)
    fig = lines(list(range(1, steps + 1)),
                {CELL_NAMES[k]: np.maximum(v, 1e-300) for k, v in norms.items()},
                title=f"How much h_{steps} still depends on earlier states: ‖∂h_T/∂h_t‖₂",
                x_title="symbol read, step t", y_title="‖∂h_T/∂h_t‖₂ (log scale)",
                log_y=True, markers=True, height=420)
    fig.update_xaxes(tickmode="array", tickvals=list(range(1, steps + 1)), ticktext=time_labels(labels),
                     tickangle=-45 if steps > 12 else 0)
    fig.add_hline(y=1.0, line=dict(color="#9ca3af", dash="dot"),
                  annotation_text="1 = no loss", annotation_position="top left")
    return fig


def race_figures(snap: RaceSnapshot | None) -> tuple[go.Figure, go.Figure]:
    """Training loss and held-out accuracy curves of the memory race."""
    if snap is None:
        message = "Press Train to race an RNN against an LSTM."
        return empty(message), empty(message)
    names = {k: CELL_NAMES[k] for k in snap.loss}
    loss = lines(snap.steps, {names[k]: v for k, v in snap.loss.items()},
                 title=f"Training loss (N = {snap.distractors} distractors)", x_title="training step",
                 y_title="cross-entropy (log scale)", log_y=True, height=360)
    acc = lines(snap.steps, {names[k]: v for k, v in snap.accuracy.items()},
                title="Accuracy on 256 held-out sequences", x_title="training step",
                y_title="accuracy", height=360)
    acc.update_yaxes(range=[0, 1.05], tickformat=".0%")
    acc.add_hline(y=0.25, line=dict(color="#9ca3af", dash="dot"), annotation_text="chance (25 %)",
                  annotation_position="bottom right")
    return loss, acc
