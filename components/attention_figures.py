"""Figures of the attention lab: Q/K/V, scores and weights, heads, a real model's
layers × heads, entropy, and the word-order test. Builders take plain arrays."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from plotly.colors import get_colorscale

from components.figures import (ACTIVATION_COLORS, ATTENTION_COLORS, COLORBAR, FigureJSON, axis_names, fast_figure,
                                heatmap, subplots, unique_labels, vline)
from playground.text.tokenization import display_token

MAX_SHOWN_TOKENS = 64  # beyond this a token per row is unreadable on a projector
MAX_GRID_TOKENS = 32  # each thumbnail of the layers × heads grid
MAX_SHOWN_DIMS = 64


def token_heatmap(z: np.ndarray, x: Sequence[str], y: Sequence[str], title: str, x_title: str,
                  y_title: str, zmax: float = 1.0, colorscale: list = ATTENTION_COLORS,
                  show_values: bool = False, height: int = 420) -> FigureJSON:
    """A labelled 0..zmax heat-map."""
    trace = dict(type="heatmap", z=z, x=unique_labels(x), y=unique_labels(y), colorscale=colorscale, zmin=0.0,
                 zmax=zmax, colorbar=dict(COLORBAR), textfont=dict(size=12),
                 hovertemplate="%{y} → %{x}<br>%{z:.3f}<extra></extra>")
    if show_values:
        trace["texttemplate"] = "%{z:.2f}"
    # Every token labelled (plotly would skip some), smaller type when there are many.
    ticks = dict(dtick=1, tickfont=dict(size=15 if max(len(x), len(y)) <= 32 else 11))
    return fast_figure([trace], title, height,
                       xaxis=dict(title=dict(text=x_title), type="category", showgrid=False,
                                  tickangle=-45 if len(x) > 8 else 0, **ticks),
                       yaxis=dict(title=dict(text=y_title), type="category", autorange="reversed",
                                  showgrid=False, **ticks))


def labels(tokens: Sequence[str]) -> list[str]:
    return [display_token(t) for t in tokens]


def _finite(z: np.ndarray) -> np.ndarray:
    """-inf (masked scores) cannot travel as JSON: show them as blank cells."""
    z = np.asarray(z, dtype=float).copy()
    z[~np.isfinite(z)] = np.nan
    return z


def qkv_figure(q: np.ndarray, k: np.ndarray, v: np.ndarray, tokens: Sequence[str], head: int
               ) -> FigureJSON:
    """Q, K and V of one head side by side: a row per token, a column per dimension."""
    names = ("Q = X·W_Q (queries)", "K = X·W_K (keys)", "V = X·W_V (values)")
    grid = subplots(1, 3, names, shared_yaxes=True, horizontal_spacing=0.04,
                    xaxis=dict(title=dict(text="dimension of the head (d_k)"), showticklabels=q.shape[1] <= 16))
    grid["yaxis"].update(type="category", autorange="reversed", title=dict(text="token"))
    y = unique_labels(labels(tokens))
    bound = float(max(np.abs(m).max() for m in (q, k, v))) or 1.0
    traces = []
    for col, matrix in enumerate((q, k, v), start=1):
        matrix = matrix[:, :MAX_SHOWN_DIMS]
        traces.append(dict(
            type="heatmap", z=matrix, x=[f"d{j}" for j in range(matrix.shape[1])], y=y, coloraxis="coloraxis",
            hovertemplate=f"{names[col - 1][0]}[%{{y}}, %{{x}}] = %{{z:.3f}}<extra></extra>", **axis_names(col)))
    height = min(760, max(300, 26 * len(y) + 170))
    return fast_figure(traces, f"Head {head}: every token's query, key and value vector", height, **grid,
                       coloraxis=dict(colorscale=ACTIVATION_COLORS, cmin=-bound, cmax=bound,
                                      colorbar=dict(COLORBAR, title=dict(text="value"))))


def scores_figure(scores: np.ndarray, tokens: Sequence[str], d_k: int, causal: bool, scaled: bool = True,
                  temperature: float = 1.0) -> FigureJSON:
    masked = " — blank cells are masked (the future)" if causal else ""
    t = labels(tokens)
    divisor = " · ".join(([f"√{d_k}"] if scaled else []) + ([f"{temperature:g}"] if temperature != 1 else []))
    formula = f"Q·Kᵀ / ({divisor})" if " · " in divisor else (f"Q·Kᵀ / {divisor}" if divisor else "Q·Kᵀ (not scaled)")
    return heatmap(_finite(scores), t, t, f"Scores {formula}: how well each query matches each key{masked}",
                   "key (attended-to token)", "query (token that looks)", kind="activation")


def weights_figure(weights: np.ndarray, tokens: Sequence[str], title: str) -> FigureJSON:
    t = labels(tokens)
    return heatmap(weights, t, t, title, "key (attended-to token)", "query (token that looks)",
                   zmin=0.0, zmax=1.0)


def heads_figure(weights: np.ndarray, tokens: Sequence[str]) -> FigureJSON:
    """Every head's softmax weights, small multiples with a shared 0–1 scale."""
    n_heads = weights.shape[0]
    cols = min(n_heads, 4)
    rows = (n_heads + cols - 1) // cols
    grid = subplots(rows, cols, [f"head {h}" for h in range(n_heads)], horizontal_spacing=0.05,
                    vertical_spacing=0.12, xaxis=dict(type="category", showticklabels=False),
                    yaxis=dict(type="category", autorange="reversed", showticklabels=False))
    t = unique_labels(labels(tokens))
    for row in range(rows):  # token names once per row
        grid[f"yaxis{row * cols + 1 if row else ''}"].update(showticklabels=len(t) <= 24, dtick=1)
    traces = [dict(type="heatmap", z=weights[h], x=t, y=t, coloraxis="coloraxis",
                   hovertemplate=f"head {h}: %{{y}} → %{{x}}<br>%{{z:.3f}}<extra></extra>", **axis_names(h + 1))
              for h in range(n_heads)]
    return fast_figure(traces, f"All {n_heads} heads: each learns its own pattern (rows = queries)",
                       int((360 if rows == 1 else 280) * rows + 90), **grid,
                       coloraxis=dict(colorscale=ATTENTION_COLORS, cmin=0, cmax=1,
                                      colorbar=dict(COLORBAR, title=dict(text="weight"))))


def concat_figure(concat: np.ndarray, tokens: Sequence[str], n_heads: int) -> FigureJSON:
    """The heads' outputs side by side (T, H·d_k), every column of every head, a line between
    heads and one label per head; W_O mixes them next."""
    t = unique_labels(labels(tokens))
    width = concat.shape[1]
    d_k = width // n_heads
    bound = float(np.abs(concat).max()) or 1.0
    trace = dict(type="heatmap", z=concat, x=np.arange(width), y=t, colorscale=ACTIVATION_COLORS, zmid=0.0,
                 zmin=-bound, zmax=bound, colorbar=dict(COLORBAR),
                 customdata=np.broadcast_to(np.arange(width) // d_k, concat.shape),
                 hovertemplate="%{y}, head %{customdata}, column %{x}: %{z:.3f}<extra></extra>")
    return fast_figure([trace], f"concat(head 0…{n_heads - 1}): each token's {n_heads} head outputs side by side "
                                f"({n_heads} × d_k {d_k} = {width} columns)",
                       min(700, max(300, 26 * len(t) + 170)),
                       xaxis=dict(title=dict(text="head (d_k columns each)"),
                                  tickvals=[h * d_k + (d_k - 1) / 2 for h in range(n_heads)],
                                  ticktext=[f"head {h}" for h in range(n_heads)], showgrid=False, zeroline=False),
                       yaxis=dict(title=dict(text="token"), type="category", autorange="reversed", showgrid=False),
                       shapes=[vline(h * d_k - 0.5, dict(color="#111827", width=2)) for h in range(1, n_heads)])


# --- a real model ----------------------------------------------------------------------

def attention_map(weights: np.ndarray, tokens: Sequence[str], title: str,
                  sentence_b_start: int | None = None) -> FigureJSON:
    """One (T, T) attention matrix, cropped to MAX_SHOWN_TOKENS with the cut said in the title."""
    n = len(tokens)
    shown = min(n, MAX_SHOWN_TOKENS)
    if shown < n:
        title += f" — first {shown} of {n} tokens shown"
    t = labels(tokens[:shown])
    # Long texts spread attention thin: end the colour scale at the largest weight so the
    # structure stays visible (the colour bar shows the scale).
    top = float(max(0.05, min(1.0, weights[:shown, :shown].max())))
    fig = token_heatmap(weights[:shown, :shown], t, t, title, "key (attended-to token)",
                        "query (token that looks)", zmax=top, show_values=shown <= 12,
                        height=min(1150, max(420, 18 * shown + 220)))
    if sentence_b_start is not None and sentence_b_start < shown:
        # A line between sentence A and B, in category coordinates (-0.5 = before the first).
        edge = sentence_b_start - 0.5
        fig.layout["shapes"] = [
            dict(type="line", x0=edge, x1=edge, y0=-0.5, y1=shown - 0.5, line=dict(color="#dc2626", width=2)),
            dict(type="line", y0=edge, y1=edge, x0=-0.5, x1=shown - 0.5, line=dict(color="#dc2626", width=2))]
    return fig


def layer_head_grid(attentions: np.ndarray, tokens: Sequence[str]) -> FigureJSON:
    """Every layer × head as a thumbnail, tiled into one heat-map (fast to draw and send)."""
    n_layers, n_heads, n, _ = attentions.shape
    t = min(n, MAX_GRID_TOKENS)
    gap = 1 if t < 12 else 2
    tile = t + gap
    grid = np.full((n_layers * tile - gap, n_heads * tile - gap), np.nan)
    for layer in range(n_layers):
        for head in range(n_heads):
            grid[layer * tile:layer * tile + t, head * tile:head * tile + t] = attentions[layer, head, :t, :t]
    trace = dict(type="heatmap", z=grid, colorscale=ATTENTION_COLORS, zmin=0, zmax=1, hoverinfo="skip",
                 colorbar=dict(COLORBAR, title=dict(text="weight")))
    centres = [i * tile + (t - 1) / 2 for i in range(max(n_layers, n_heads))]
    cut = f", first {t} of {n} tokens" if t < n else ""
    return fast_figure(
        [trace], f"Every layer (rows) × head (columns){cut}: pick one with Layer/Head to enlarge it",
        int(min(1100, max(360, 1150 * n_layers / n_heads + 170))),
        margin=dict(t=100),  # room for the head labels on top
        xaxis=dict(tickvals=centres[:n_heads], ticktext=[f"H{h}" for h in range(n_heads)], side="top",
                   showgrid=False, zeroline=False),
        yaxis=dict(tickvals=centres[:n_layers], ticktext=[f"L{layer}" for layer in range(n_layers)],
                   title=dict(text="layer"), autorange="reversed", showgrid=False, zeroline=False,
                   scaleanchor="x", scaleratio=1))


def entropy_figure(entropy: np.ndarray, n_tokens: int) -> FigureJSON:
    """(L, H) entropy in bits; the colour scale ends at log2(T), attention spread evenly."""
    n_layers, n_heads = entropy.shape
    top = float(np.log2(max(n_tokens, 2)))
    fig = token_heatmap(entropy, [f"H{h}" for h in range(n_heads)], [f"L{layer}" for layer in range(n_layers)],
                        f"Entropy per head in bits (0 = looks at one token, {top:.1f} = spread evenly)",
                        "head", "layer", zmax=top, colorscale=get_colorscale("Viridis"),
                        show_values=n_layers * n_heads <= 160, height=int(min(700, 40 * n_layers + 170)))
    fig.data[0]["hovertemplate"] = "layer %{y}, %{x}: %{z:.2f} bits<extra></extra>"
    fig.data[0]["texttemplate"] = "%{z:.1f}"
    return fig


# --- word order ------------------------------------------------------------------------

def shuffle_outputs_figure(output: np.ndarray, shuffled_back: np.ndarray, tokens: Sequence[str],
                           positional: bool) -> FigureJSON:
    """The attention output of the sentence and of its shuffle (rows put back), side by side."""
    dims = min(output.shape[1], 16)
    grid = subplots(1, 2, ("sentence in its order", "shuffled sentence, rows put back"), shared_yaxes=True,
                    horizontal_spacing=0.05, xaxis=dict(title=dict(text=f"output dimension (first {dims})")))
    grid["yaxis"].update(type="category", autorange="reversed", title=dict(text="token"))
    y = unique_labels(labels(tokens))
    x = [f"d{j}" for j in range(dims)]
    bound = float(max(np.abs(output[:, :dims]).max(), np.abs(shuffled_back[:, :dims]).max())) or 1.0
    traces = [dict(type="heatmap", z=matrix[:, :dims], x=x, y=y, coloraxis="coloraxis",
                   hovertemplate="%{y}, %{x}: %{z:.4f}<extra></extra>", **axis_names(col))
              for col, matrix in enumerate((output, shuffled_back), start=1)]
    with_pe = "with" if positional else "without"
    return fast_figure(traces, f"Attention output per token, {with_pe} positional encodings",
                       min(700, max(300, 24 * len(y) + 160)), **grid,
                       coloraxis=dict(colorscale=ACTIVATION_COLORS, cmin=-bound, cmax=bound, colorbar=dict(COLORBAR)))


def shuffle_change_figure(tokens: Sequence[str], without_pe: np.ndarray, with_pe: np.ndarray | None
                          ) -> FigureJSON:
    """How much each token's output changed when the sentence was shuffled."""
    x = unique_labels(labels(tokens))
    traces = [dict(type="bar", x=x, y=without_pe, name="attention alone", marker=dict(color="#2563eb"),
                   text=[f"{v:.0e}" if v < 1e-3 else f"{v:.2f}" for v in without_pe], textposition="outside")]
    if with_pe is not None:
        traces.append(dict(type="bar", x=x, y=with_pe, name="+ positional encodings", marker=dict(color="#dc2626"),
                           text=[f"{v:.2f}" for v in with_pe], textposition="outside"))
    return fast_figure(traces, "Shuffle the words: does each word's output change?", 400, barmode="group",
                       xaxis=dict(title=dict(text="token"), type="category", tickangle=-45 if len(x) > 8 else 0),
                       yaxis=dict(title=dict(text="relative change of its output"), rangemode="tozero"))
