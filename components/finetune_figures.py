"""Figures of the Datasets & fine-tuning lab: label balance, token lengths, the live
training curves and the before/after accuracy. Pure builders over plain numbers."""

from __future__ import annotations

import numpy as np

from components.figures import PALETTE, FigureJSON, bars, empty, fast_figure, hline, lines, vline
from playground.hf.datasets_view import DatasetSummary
from playground.hf.finetune import Baselines, Comparison, FinetuneSnapshot

BASE_COLOUR, TUNED_COLOUR = "#9ca3af", PALETTE[2]


def label_balance(summary: DatasetSummary) -> FigureJSON:
    """How many rows carry each label: a very unbalanced set makes accuracy misleading."""
    total = max(1, summary.n_rows)
    names = [f"{name} ({count / total:.0%})" for name, count in zip(summary.label_names, summary.label_counts)]
    fig = bars(names, summary.label_counts, title=f"Label balance: {summary.n_rows:,} rows",
               x_title="label", y_title="rows", height=340)
    fig.data[0]["texttemplate"] = "%{y:,}"
    return fig


def token_lengths(summary: DatasetSummary) -> FigureJSON:
    """Histogram of tokens per text, with the max length that training cuts at."""
    lengths = summary.token_lengths
    if lengths.size == 0:
        return empty("No texts to measure.")
    trace = dict(type="histogram", x=lengths, nbinsx=40, marker=dict(color=PALETTE[0]),
                 hovertemplate="%{x} tokens: %{y} texts<extra></extra>")
    cut = dict(text=f"max length {summary.max_length}: {summary.truncated_share:.0%} of texts are cut",
               x=summary.max_length, xref="x", xanchor="left", y=1, yref="y domain", yanchor="top",
               showarrow=False, font=dict(size=14, color=PALETTE[1]))
    median = float(np.median(lengths))
    return fast_figure([trace], f"Token lengths of {lengths.size:,} texts (median {median:.0f})", 340,
                       xaxis=dict(title=dict(text="tokens per text (with [CLS] and [SEP])")),
                       yaxis=dict(title=dict(text="texts")), annotations=[cut],
                       shapes=[vline(summary.max_length, dict(color=PALETTE[1], width=3, dash="dash"))])


NO_LOSS = "Press “Fine-tune” to watch<br>the training loss fall."
NO_ACCURACY = "Held-out accuracy appears<br>here during training."
NO_COMPARISON = "After training: the accuracy beside<br>the baselines it must beat."


def loss_curve(snap: FinetuneSnapshot | None) -> FigureJSON:
    if snap is None or snap.losses.size == 0:
        return empty(NO_LOSS, height=340)
    fig = lines(snap.loss_steps, {"training loss": snap.losses}, markers=snap.losses.size < 20,
                title=f"Training loss (cross-entropy), step {snap.step} of {snap.total_steps}",
                x_title="training step (one batch)", y_title="loss", height=340)
    guess = float(np.log(2))
    fig.layout["shapes"] = [hline(guess, dict(color="#9ca3af", dash="dot"))]
    fig.layout["annotations"] = [_line_note("ln 2 = guessing between 2 labels", guess, "bottom left")]
    fig.layout["xaxis"]["range"] = [0, max(snap.total_steps, 1)]
    return fig


def _line_note(text: str, y: float, position: str) -> dict:
    """A label on a horizontal line at height y: "top left" sits above its left end,
    "bottom right" under its right end."""
    vertical, horizontal = position.split()
    return dict(text=text, x=0 if horizontal == "left" else 1, xref="x domain", xanchor=horizontal,
                y=y, yref="y", yanchor="bottom" if vertical == "top" else "top", showarrow=False)


def _baseline_lines(fig: FigureJSON, baselines: Baselines | None) -> None:
    if baselines is None:
        return
    fig.layout["shapes"] = [hline(baselines.majority, dict(color=BASE_COLOUR, dash="dot")),
                            hline(baselines.frozen_embedding, dict(color=PALETTE[1], dash="dash"))]
    fig.layout["annotations"] = [
        _line_note(f"always “{baselines.majority_label}”: {baselines.majority:.0%}", baselines.majority,
                   "bottom right"),
        _line_note(f"frozen embeddings + logistic regression: {baselines.frozen_embedding:.0%}",
                   baselines.frozen_embedding, "top left")]


def accuracy_curve(snap: FinetuneSnapshot | None, n_labels: int, n_eval: int) -> FigureJSON:
    if snap is None or snap.eval_accuracy.size == 0:
        return empty(NO_ACCURACY, height=340)
    title = f"Accuracy on {n_eval} held-out examples: {snap.eval_accuracy[-1]:.0%}"
    if snap.done and snap.stop_reason == "time limit":
        title += " (stopped by the time limit)"
    fig = lines(snap.eval_steps, {"held-out accuracy": snap.eval_accuracy}, markers=True, title=title,
                x_title="training step (0 = before training)", y_title="accuracy", height=340)
    fig.data[0]["line"]["color"] = TUNED_COLOUR
    _baseline_lines(fig, snap.baselines)
    fig.layout["yaxis"].update(range=[0, 1.02], tickformat=".0%")
    fig.layout["xaxis"]["range"] = [0, max(snap.total_steps, 1)]
    return fig


def before_after(comparison: Comparison | None, n_eval: int) -> FigureJSON:
    """The fine-tuned accuracy beside the untrained head and the two baselines."""
    if comparison is None:
        return empty(NO_COMPARISON, height=320)
    names = ["untrained head", "fine-tuned"]
    values = [comparison.base_accuracy, comparison.tuned_accuracy]
    colours = [BASE_COLOUR, TUNED_COLOUR]
    if comparison.baselines is not None:
        names = [f"always “{comparison.baselines.majority_label}”", "frozen embeddings<br>+ logistic regression",
                 *names]
        values = [comparison.baselines.majority, comparison.baselines.frozen_embedding, *values]
        colours = [BASE_COLOUR, PALETTE[1], *colours]
    fig = bars(names, values, range_=(0, 1), colors=colours, y_title="accuracy", height=320,
               title=f"Accuracy on the same {n_eval} held-out examples")
    fig.data[0]["texttemplate"] = "%{y:.1%}"
    fig.layout["yaxis"]["tickformat"] = ".0%"
    return fig
