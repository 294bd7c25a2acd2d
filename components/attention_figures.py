"""Figures of the attention lab: Q/K/V, scores and weights, heads, a real model's
layers × heads, entropy, and the word-order test. Builders take plain arrays."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from components.figures import ACTIVATION_SCALE, ATTENTION_SCALE, heatmap, house_layout, style, unique_labels
from playground.text.tokenization import display_token

MAX_SHOWN_TOKENS = 64  # beyond this a token per row is unreadable on a projector
MAX_GRID_TOKENS = 32  # each thumbnail of the layers × heads grid
MAX_SHOWN_DIMS = 64


def _figure(traces: list, title: str, height: int, xaxis: dict, yaxis: dict) -> go.Figure:
    """The house layout passed to the constructor in one go: ~10× faster than style()'s
    update_layout calls, which matters for the click-to-figure latency of the real model."""
    return go.Figure(data=traces, layout=house_layout(title, height, xaxis=xaxis, yaxis=yaxis))


def token_heatmap(z: np.ndarray, x: Sequence[str], y: Sequence[str], title: str, x_title: str,
                  y_title: str, zmax: float = 1.0, colorscale: str = ATTENTION_SCALE,
                  show_values: bool = False, height: int = 420) -> go.Figure:
    """A labelled 0..zmax heat-map built on the fast path."""
    trace = go.Heatmap(z=z, x=unique_labels(x), y=unique_labels(y), colorscale=colorscale, zmin=0.0, zmax=zmax,
                       colorbar=dict(thickness=14), textfont=dict(size=12),
                       texttemplate="%{z:.2f}" if show_values else None,
                       hovertemplate="%{y} → %{x}<br>%{z:.3f}<extra></extra>")
    # Every token labelled (plotly would skip some), smaller type when there are many.
    ticks = dict(dtick=1, tickfont=dict(size=15 if max(len(x), len(y)) <= 32 else 11))
    return _figure([trace], title, height,
                       dict(title=dict(text=x_title), type="category", showgrid=False,
                            tickangle=-45 if len(x) > 8 else 0, **ticks),
                       dict(title=dict(text=y_title), type="category", autorange="reversed",
                            showgrid=False, **ticks))


def labels(tokens: Sequence[str]) -> list[str]:
    return [display_token(t) for t in tokens]


def _finite(z: np.ndarray) -> np.ndarray:
    """-inf (masked scores) cannot travel as JSON: show them as blank cells."""
    z = np.asarray(z, dtype=float).copy()
    z[~np.isfinite(z)] = np.nan
    return z


def qkv_figure(q: np.ndarray, k: np.ndarray, v: np.ndarray, tokens: Sequence[str], head: int
               ) -> go.Figure:
    """Q, K and V of one head side by side: a row per token, a column per dimension."""
    names = ("Q = X·W_Q (queries)", "K = X·W_K (keys)", "V = X·W_V (values)")
    fig = make_subplots(rows=1, cols=3, subplot_titles=names, shared_yaxes=True,
                        horizontal_spacing=0.04)
    y = unique_labels(labels(tokens))
    bound = float(max(np.abs(m).max() for m in (q, k, v))) or 1.0
    for col, matrix in enumerate((q, k, v), start=1):
        matrix = matrix[:, :MAX_SHOWN_DIMS]
        fig.add_trace(go.Heatmap(
            z=matrix, x=[f"d{j}" for j in range(matrix.shape[1])], y=y, coloraxis="coloraxis",
            hovertemplate=f"{names[col - 1][0]}[%{{y}}, %{{x}}] = %{{z:.3f}}<extra></extra>"), 1, col)
    fig.update_layout(coloraxis=dict(colorscale=ACTIVATION_SCALE, cmin=-bound, cmax=bound,
                                     colorbar=dict(thickness=14, title="value")))
    fig.update_yaxes(type="category", autorange="reversed", title_text="token", col=1)
    fig.update_xaxes(title_text="dimension of the head (d_k)", showticklabels=q.shape[1] <= 16)
    height = min(760, max(300, 26 * len(y) + 170))
    return style(fig, f"Head {head}: every token's query, key and value vector", height)


def scores_figure(scores: np.ndarray, tokens: Sequence[str], d_k: int, causal: bool, scaled: bool = True,
                  temperature: float = 1.0) -> go.Figure:
    masked = " — blank cells are masked (the future)" if causal else ""
    t = labels(tokens)
    divisor = " · ".join(([f"√{d_k}"] if scaled else []) + ([f"{temperature:g}"] if temperature != 1 else []))
    formula = f"Q·Kᵀ / ({divisor})" if " · " in divisor else (f"Q·Kᵀ / {divisor}" if divisor else "Q·Kᵀ (not scaled)")
    return heatmap(_finite(scores), t, t, f"Scores {formula}: how well each query matches each key{masked}",
                   "key (attended-to token)", "query (token that looks)", kind="activation")


def weights_figure(weights: np.ndarray, tokens: Sequence[str], title: str) -> go.Figure:
    t = labels(tokens)
    return heatmap(weights, t, t, title, "key (attended-to token)", "query (token that looks)",
                   zmin=0.0, zmax=1.0)


def heads_figure(weights: np.ndarray, tokens: Sequence[str]) -> go.Figure:
    """Every head's softmax weights, small multiples with a shared 0–1 scale."""
    n_heads = weights.shape[0]
    cols = min(n_heads, 4)
    rows = (n_heads + cols - 1) // cols
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"head {h}" for h in range(n_heads)],
                        horizontal_spacing=0.05, vertical_spacing=0.12)
    t = unique_labels(labels(tokens))
    for h in range(n_heads):
        fig.add_trace(go.Heatmap(z=weights[h], x=t, y=t, coloraxis="coloraxis",
                                 hovertemplate=f"head {h}: %{{y}} → %{{x}}<br>%{{z:.3f}}<extra></extra>"),
                      h // cols + 1, h % cols + 1)
    fig.update_layout(coloraxis=dict(colorscale=ATTENTION_SCALE, cmin=0, cmax=1,
                                     colorbar=dict(thickness=14, title="weight")))
    fig.update_yaxes(type="category", autorange="reversed", showticklabels=False)
    fig.update_yaxes(showticklabels=len(t) <= 24, dtick=1, col=1)  # token names once per row
    fig.update_xaxes(type="category", showticklabels=False)
    return style(fig, f"All {n_heads} heads: each learns its own pattern (rows = queries)",
                 int((360 if rows == 1 else 280) * rows + 90))


def concat_figure(concat: np.ndarray, tokens: Sequence[str], n_heads: int) -> go.Figure:
    """The heads' outputs side by side (T, H·d_k), every column of every head, a line between
    heads and one label per head; W_O mixes them next."""
    t = unique_labels(labels(tokens))
    width = concat.shape[1]
    d_k = width // n_heads
    bound = float(np.abs(concat).max()) or 1.0
    trace = go.Heatmap(z=concat, x=np.arange(width), y=t, colorscale=ACTIVATION_SCALE, zmid=0.0,
                       zmin=-bound, zmax=bound, colorbar=dict(thickness=14),
                       customdata=np.broadcast_to(np.arange(width) // d_k, concat.shape),
                       hovertemplate="%{y}, head %{customdata}, column %{x}: %{z:.3f}<extra></extra>")
    fig = _figure([trace], f"concat(head 0…{n_heads - 1}): each token's {n_heads} head outputs side by side "
                           f"({n_heads} × d_k {d_k} = {width} columns)",
                  min(700, max(300, 26 * len(t) + 170)),
                  dict(title=dict(text="head (d_k columns each)"), tickvals=[h * d_k + (d_k - 1) / 2 for h in range(n_heads)],
                       ticktext=[f"head {h}" for h in range(n_heads)], showgrid=False, zeroline=False),
                  dict(title=dict(text="token"), type="category", autorange="reversed", showgrid=False))
    for h in range(1, n_heads):
        fig.add_vline(x=h * d_k - 0.5, line=dict(color="#111827", width=2))
    return fig


# --- a real model ----------------------------------------------------------------------

def attention_map(weights: np.ndarray, tokens: Sequence[str], title: str,
                  sentence_b_start: int | None = None) -> go.Figure:
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
        fig.add_shape(type="line", x0=edge, x1=edge, y0=-0.5, y1=shown - 0.5, line=dict(color="#dc2626", width=2))
        fig.add_shape(type="line", y0=edge, y1=edge, x0=-0.5, x1=shown - 0.5, line=dict(color="#dc2626", width=2))
    return fig


def layer_head_grid(attentions: np.ndarray, tokens: Sequence[str]) -> go.Figure:
    """Every layer × head as a thumbnail, tiled into one heat-map (fast to draw and send)."""
    n_layers, n_heads, n, _ = attentions.shape
    t = min(n, MAX_GRID_TOKENS)
    gap = 1 if t < 12 else 2
    tile = t + gap
    grid = np.full((n_layers * tile - gap, n_heads * tile - gap), np.nan)
    for layer in range(n_layers):
        for head in range(n_heads):
            grid[layer * tile:layer * tile + t, head * tile:head * tile + t] = attentions[layer, head, :t, :t]
    trace = go.Heatmap(z=grid, colorscale=ATTENTION_SCALE, zmin=0, zmax=1, hoverinfo="skip",
                       colorbar=dict(thickness=14, title=dict(text="weight")))
    centres = [i * tile + (t - 1) / 2 for i in range(max(n_layers, n_heads))]
    cut = f", first {t} of {n} tokens" if t < n else ""
    fig = _figure(
        [trace], f"Every layer (rows) × head (columns){cut}: pick one with Layer/Head to enlarge it",
        int(min(1100, max(360, 1150 * n_layers / n_heads + 170))),
        dict(tickvals=centres[:n_heads], ticktext=[f"H{h}" for h in range(n_heads)], side="top",
             showgrid=False, zeroline=False),
        dict(tickvals=centres[:n_layers], ticktext=[f"L{layer}" for layer in range(n_layers)],
             title=dict(text="layer"), autorange="reversed", showgrid=False, zeroline=False,
             scaleanchor="x", scaleratio=1))
    fig.layout.margin.t = 100  # room for the head labels on top
    return fig


def entropy_figure(entropy: np.ndarray, n_tokens: int) -> go.Figure:
    """(L, H) entropy in bits; the colour scale ends at log2(T), attention spread evenly."""
    n_layers, n_heads = entropy.shape
    top = float(np.log2(max(n_tokens, 2)))
    fig = token_heatmap(entropy, [f"H{h}" for h in range(n_heads)], [f"L{layer}" for layer in range(n_layers)],
                        f"Entropy per head in bits (0 = looks at one token, {top:.1f} = spread evenly)",
                        "head", "layer", zmax=top, colorscale="Viridis",
                        show_values=n_layers * n_heads <= 160, height=int(min(700, 40 * n_layers + 170)))
    fig.data[0].hovertemplate = "layer %{y}, %{x}: %{z:.2f} bits<extra></extra>"
    fig.data[0].texttemplate = "%{z:.1f}"
    return fig


# --- word order ------------------------------------------------------------------------

def shuffle_outputs_figure(output: np.ndarray, shuffled_back: np.ndarray, tokens: Sequence[str],
                           positional: bool) -> go.Figure:
    """The attention output of the sentence and of its shuffle (rows put back), side by side."""
    dims = min(output.shape[1], 16)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.05,
                        subplot_titles=("sentence in its order", "shuffled sentence, rows put back"))
    y = unique_labels(labels(tokens))
    x = [f"d{j}" for j in range(dims)]
    bound = float(max(np.abs(output[:, :dims]).max(), np.abs(shuffled_back[:, :dims]).max())) or 1.0
    for col, matrix in enumerate((output, shuffled_back), start=1):
        fig.add_trace(go.Heatmap(z=matrix[:, :dims], x=x, y=y, coloraxis="coloraxis",
                                 hovertemplate="%{y}, %{x}: %{z:.4f}<extra></extra>"), 1, col)
    fig.update_layout(coloraxis=dict(colorscale=ACTIVATION_SCALE, cmin=-bound, cmax=bound,
                                     colorbar=dict(thickness=14)))
    fig.update_yaxes(type="category", autorange="reversed", title_text="token", col=1)
    fig.update_xaxes(title_text=f"output dimension (first {dims})")
    with_pe = "with" if positional else "without"
    return style(fig, f"Attention output per token, {with_pe} positional encodings",
                 min(700, max(300, 24 * len(y) + 160)))


def shuffle_change_figure(tokens: Sequence[str], without_pe: np.ndarray, with_pe: np.ndarray | None
                          ) -> go.Figure:
    """How much each token's output changed when the sentence was shuffled."""
    x = unique_labels(labels(tokens))
    fig = go.Figure(go.Bar(x=x, y=without_pe, name="attention alone", marker_color="#2563eb",
                           text=[f"{v:.0e}" if v < 1e-3 else f"{v:.2f}" for v in without_pe],
                           textposition="outside"))
    if with_pe is not None:
        fig.add_trace(go.Bar(x=x, y=with_pe, name="+ positional encodings", marker_color="#dc2626",
                             text=[f"{v:.2f}" for v in with_pe], textposition="outside"))
    fig.update_xaxes(title="token", type="category", tickangle=-45 if len(x) > 8 else 0)
    fig.update_yaxes(title="relative change of its output", rangemode="tozero")
    fig.update_layout(barmode="group")
    return style(fig, "Shuffle the words: does each word's output change?", 400)
