"""Figures for the encoder–decoder lab: attention over the input at one step, the context
vectors read so far, the growing alignment matrix, accuracy by input length, loss curves."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from components.figures import LEGEND_BELOW, LEGEND_BELOW_MARGIN, PALETTE, FigureJSON, bars, empty, fast_figure, heatmap

NO_ATTENTION = ("This model has no attention:<br>every step reads the same context vector<br>"
                "(the encoder's final state).")


def show_char(ch: str) -> str:
    """Characters as tick labels: a space would be invisible on the axis, and plotly
    would read "</s>" as an HTML tag."""
    return {" ": "␣", "</s>": "⟨end⟩"}.get(ch, ch)


def labels(text: str) -> list[str]:
    return [show_char(ch) for ch in text]


def attention_bar(source: str, weights: np.ndarray | None, step: int, token: str) -> FigureJSON:
    """Step t's attention weights a_tj over the input characters (they sum to 1)."""
    if weights is None:
        return empty(NO_ATTENTION, height=340)
    fig = bars(labels(source), weights, title=f"Step {step}: attention while writing '{show_char(token)}'",
               x_title="input character", y_title="attention weight", range_=(0, 1.05), height=340)
    fig.data[0].update(texttemplate="%{y:.2f}", textangle=0)
    return fig


def context_vectors(contexts: np.ndarray, out_tokens: Sequence[str]) -> FigureJSON:
    """Each row is the context vector c_t the decoder read at one step (diverging colours)."""
    fig = heatmap(contexts, x_labels=[str(k) for k in range(contexts.shape[1])], y_labels=out_tokens,
                  kind="activation", show_values=False,
                  title="Context vector c_t at each step (rows) — identical rows = fixed context",
                  x_title="dimension of c_t (forward half | backward half)", y_title="output step",
                  height=min(600, max(300, 24 * len(out_tokens) + 170)))
    fig.layout["xaxis"].update(tickangle=0, dtick=8)
    return fig


def alignment(source: str, out_tokens: Sequence[str], matrix: np.ndarray | None, total_steps: int,
              title: str = "Alignment so far: output (rows) × input (columns)") -> FigureJSON:
    """The attention rows produced so far; rows not yet decoded stay blank, so it grows."""
    if matrix is None:
        return empty(NO_ATTENTION, height=360)
    full = np.full((total_steps, len(source)), np.nan)
    full[: len(matrix)] = matrix
    rows = list(out_tokens) + ["·"] * (total_steps - len(out_tokens))
    rows = [f"{k + 1}: {tok}" for k, tok in enumerate(rows)]
    return heatmap(full, labels(source), rows, title=title, x_title="input character",
                   y_title="output step", zmin=0.0, zmax=1.0,
                   show_values=total_steps * len(source) <= 120)


def length_accuracy(results: Mapping[str, tuple[Sequence[int], Sequence[float]]], task_title: str,
                    train_range: tuple[int, int]) -> FigureJSON:
    """Exact-match accuracy against input length, one curve per model."""
    traces = [dict(type="scatter", x=list(lengths), y=[100 * a for a in acc], name=name, mode="lines+markers",
                   line=dict(width=3, color=PALETTE[k])) for k, (name, (lengths, acc)) in enumerate(results.items())]
    return fast_figure(traces, f"{task_title}: accuracy by input length on fresh test data", 420,
                       xaxis=dict(title=dict(text="input length (characters)"),
                                  range=[train_range[0] - 0.5, train_range[1] + 0.5]),
                       yaxis=dict(title=dict(text="exact-match accuracy (%)"), range=[-3, 103]),
                       legend=LEGEND_BELOW, margin=LEGEND_BELOW_MARGIN)


NO_LOSS = "Press “Train” to watch the loss fall."


def loss_curves(runs: Mapping[str, tuple[Sequence[int], Sequence[float]]]) -> FigureJSON:
    """Training loss of this run and of earlier runs in the session (log scale)."""
    if not runs:
        return empty(NO_LOSS, height=360)
    last = len(runs) - 1
    traces = [dict(type="scatter", x=list(steps), y=list(loss), name=name, mode="lines",
                   line=dict(width=3, color=PALETTE[k % len(PALETTE)]) if k == last
                   else dict(width=2, color=PALETTE[k % len(PALETTE)], dash="dot"))
              for k, (name, (steps, loss)) in enumerate(runs.items())]
    return fast_figure(traces, "Training loss (dotted: your earlier runs)", 380,
                       xaxis=dict(title=dict(text="training step")),
                       yaxis=dict(title=dict(text="loss (cross-entropy per character)"), type="log"),
                       legend=LEGEND_BELOW, margin=LEGEND_BELOW_MARGIN)

