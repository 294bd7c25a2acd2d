"""Figures of the LLM lab: next-token bars, causal attention maps grouped by key/value head,
the attention-sink grid, the logit lens, and the block opened (residual stream, RMSNorm,
SwiGLU gate). Builders take plain arrays and labels; all are raw-JSON figures (fast_figure):
the lab redraws on every step."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from components.figures import ATTENTION_COLORS, PALETTE, FigureJSON, fast_figure, unique_labels

MASKED = "#d1d5db"  # the masked future shows as grey: the plot background behind empty cells
GREY, BLUE, RED, GREEN = "#9ca3af", PALETTE[0], PALETTE[1], PALETTE[2]


def next_token_bars(labels: Sequence[str], model_probs: np.ndarray, warped_probs: np.ndarray,
                    kept: int, cut_mass: float, vocab: int) -> FigureJSON:
    """Top candidates: the model's probability (grey) and what sampling draws from (blue)."""
    y = unique_labels(labels)
    traces = [
        dict(type="bar", orientation="h", y=y, x=np.asarray(model_probs, float), name="model (temperature 1)",
             marker=dict(color=GREY), hovertemplate="%{y}: %{x:.3f}<extra>model</extra>"),
        dict(type="bar", orientation="h", y=y, x=np.asarray(warped_probs, float),
             name="after temperature, top-k, top-p (what sampling draws from)", marker=dict(color=BLUE),
             text=[f"{p:.1%}" for p in warped_probs], textposition="outside",
             hovertemplate="%{y}: %{x:.3f}<extra>warped</extra>"),
    ]
    title = (f"Next token: {kept:,} of {vocab:,} tokens still possible · "
             f"{cut_mass:.1%} of the model's probability cut")
    return fast_figure(traces, title, height=120 + 34 * len(y), barmode="group",
                       xaxis=dict(title=dict(text="probability"), range=[0, 1.12]),
                       yaxis=dict(type="category", autorange="reversed", automargin=True,
                                  tickfont=dict(size=17, family="ui-monospace, monospace")),
                       legend=dict(orientation="h", yref="container", y=0.0, yanchor="bottom", x=0),
                       margin=dict(l=130, r=30, t=60, b=90))


def _domains(n: int, gap: float) -> list[list[float]]:
    width = (1 - gap * (n - 1)) / n
    return [[i * (width + gap), i * (width + gap) + width] for i in range(n)]


def attention_maps(weights: np.ndarray, tokens: Sequence[str], layer: int, n_kv_heads: int,
                   n_total: int) -> FigureJSON:
    """(H, t, t) causal weights as H heat-maps, one row per key/value head (its query heads
    side by side). The future (upper triangle) is empty: grey = masked, weight exactly 0."""
    n_heads, t, _ = weights.shape
    group = n_heads // n_kv_heads
    labels = unique_labels(tokens)
    future = np.triu(np.ones((t, t), dtype=bool), 1)
    traces, layout_axes, notes = [], {}, []
    columns, rows = _domains(group, 0.04), _domains(n_kv_heads, 0.07)[::-1]
    for head in range(n_heads):
        row, col = divmod(head, group)
        axis = "" if head == 0 else str(head + 1)
        z = np.where(future, np.nan, weights[head])  # null in JSON: a gap showing the grey background
        traces.append(dict(type="heatmap", z=z, x=labels, y=labels, xaxis=f"x{axis}", yaxis=f"y{axis}",
                           colorscale=ATTENTION_COLORS, zmin=0, zmax=1, showscale=head == 0,
                           colorbar=dict(thickness=12, title=dict(text="weight")),
                           hovertemplate=f"head {head}<br>%{{y}} → %{{x}}<br>%{{z:.3f}}<extra></extra>"))
        ticks = dict(showticklabels=t <= 24, tickfont=dict(size=11), type="category", showgrid=False)
        layout_axes[f"xaxis{axis}"] = dict(domain=columns[col], anchor=f"y{axis}", **ticks)
        layout_axes[f"yaxis{axis}"] = dict(domain=rows[row], anchor=f"x{axis}", autorange="reversed", **ticks)
        notes.append(dict(text=f"query head {head} · KV head {row}", showarrow=False, xref="paper",
                          yref="paper", x=sum(columns[col]) / 2, y=rows[row][1], yanchor="bottom",
                          font=dict(size=13)))
    shown = f"first {t} of {n_total} tokens" if n_total > t else f"{t} tokens"
    title = (f"Layer {layer}: rows = query token, columns = key token ({shown}); "
             "grey = the masked future")
    return fast_figure(traces, title, height=330 * n_kv_heads + 80, annotations=notes,
                       plot_bgcolor=MASKED, margin=dict(l=40, r=30, t=90, b=30), **layout_axes)


def sink_grid(sink_share: np.ndarray, n_kv_heads: int, opened_layer: int) -> FigureJSON:
    """(L, H): the mean weight queries put on token 0, per layer and head, heads grouped by
    the key/value head they share."""
    n_layers, n_heads = sink_share.shape
    group = n_heads // n_kv_heads
    x = [f"KV{h // group}·q{h}" for h in range(n_heads)]
    trace = dict(type="heatmap", z=np.asarray(sink_share, float), x=x, y=list(range(n_layers)),
                 colorscale=ATTENTION_COLORS, zmin=0, zmax=1, colorbar=dict(thickness=12),
                 texttemplate="%{z:.2f}", textfont=dict(size=10),
                 hovertemplate="layer %{y}, %{x}<br>weight on token 0: %{z:.2f}<extra></extra>")
    lines = [dict(type="line", xref="x", yref="paper", x0=g * group - 0.5, x1=g * group - 0.5, y0=0, y1=1,
                  line=dict(color="white", width=4)) for g in range(1, n_kv_heads)]
    lines.append(dict(type="rect", xref="paper", yref="y", x0=0, x1=1, y0=opened_layer - 0.5,
                      y1=opened_layer + 0.5, line=dict(color=RED, width=2)))
    return fast_figure([trace], "The attention sink: weight on the first token, per layer × head",
                       height=760, shapes=lines,
                       xaxis=dict(title=dict(text="query head (grouped by the key/value head it shares)"),
                                  type="category"),
                       yaxis=dict(title=dict(text="layer"), autorange="reversed", dtick=2))


def lens_grid(tokens: Sequence[Sequence[str]], probs: np.ndarray) -> FigureJSON:
    """The logit lens: each layer's top tokens for the next position, coloured by probability."""
    n_rows, k = probs.shape
    y = ["embeddings"] + [f"after block {i}" for i in range(n_rows - 1)]
    text = [[tok for tok in row] for row in tokens]
    trace = dict(type="heatmap", z=np.asarray(probs, float), x=[f"#{r + 1}" for r in range(k)], y=y,
                 text=text, texttemplate="%{text}<br>%{z:.2f}", textfont=dict(size=13),
                 colorscale=ATTENTION_COLORS, zmin=0, zmax=1, colorbar=dict(thickness=12),
                 hovertemplate="%{y}, rank %{x}: %{text} %{z:.3f}<extra></extra>")
    return fast_figure([trace], "Logit lens: what each layer would predict next (top 5)",
                       height=60 + 36 * n_rows, margin=dict(l=120, r=30, t=60, b=30),
                       xaxis=dict(type="category", side="top"),
                       yaxis=dict(type="category", autorange="reversed"))


def residual_figure(residual_norm: np.ndarray, attention_norm: np.ndarray, mlp_norm: np.ndarray,
                    token: str) -> FigureJSON:
    """The residual stream's norm through the blocks and what each sublayer adds to it."""
    blocks = list(range(len(attention_norm)))
    traces = [
        dict(type="bar", x=blocks, y=np.asarray(attention_norm, float), name="‖attention adds‖",
             marker=dict(color=BLUE)),
        dict(type="bar", x=blocks, y=np.asarray(mlp_norm, float), name="‖MLP adds‖", marker=dict(color=GREEN)),
        dict(type="scatter", mode="lines+markers", x=[-1] + blocks, y=np.asarray(residual_norm, float),
             name="‖residual stream‖ after the block", line=dict(color=RED, width=3)),
    ]
    return fast_figure(traces, f"The residual stream at {token}: x ← x + attention(…) ← x + MLP(…)",
                       height=420, barmode="group",
                       xaxis=dict(title=dict(text="block (−1 = the token embedding)")),
                       yaxis=dict(title=dict(text="L2 norm"), type="log"),
                       legend=dict(orientation="h", yref="container", y=0.0, yanchor="bottom", x=0),
                       margin=dict(b=110))


def rms_figure(before: np.ndarray, after: np.ndarray, layer: int) -> FigureJSON:
    """The 576 numbers of the residual before the block's RMSNorm and after it."""
    dims = np.arange(len(before))
    rms = float(np.sqrt(np.mean(np.square(before))))
    traces = [dict(type="scatter", mode="lines", x=dims, y=np.asarray(v, float), name=name,
                   line=dict(color=color, width=1.5), yaxis=axis)
              for v, name, color, axis in ((before, "before (the residual)", GREY, "y"),
                                           (after, "after (÷ RMS, × learned gain)", BLUE, "y2"))]
    return fast_figure(traces, f"RMSNorm before block {layer}'s attention: RMS = {rms:.2f}", height=380,
                       xaxis=dict(title=dict(text="dimension"), anchor="y2"),
                       yaxis=dict(title=dict(text="before"), domain=[0.55, 1]),
                       yaxis2=dict(title=dict(text="after"), domain=[0, 0.45], anchor="x"),
                       legend=dict(orientation="h", yref="container", y=0.0, yanchor="bottom", x=0),
                       margin=dict(b=100))


def gate_figure(gate: np.ndarray, up: np.ndarray, layer: int, closed: float) -> FigureJSON:
    """SwiGLU: each hidden unit's gate silu(W_gate x) against its value W_up x; their product
    is what goes on to W_down."""
    gate, up = np.asarray(gate, float), np.asarray(up, float)
    share = float(np.mean(np.abs(gate) < closed))
    trace = dict(type="scattergl", mode="markers", x=up, y=gate, name="hidden units",
                 marker=dict(size=6, color=BLUE, opacity=0.5),
                 hovertemplate="up %{x:.2f}<br>gate %{y:.2f}<extra></extra>")
    title = (f"SwiGLU gate of block {layer}: {share:.0%} of the {len(gate):,} units nearly closed "
             f"(|gate| < {closed})")
    return fast_figure([trace], title, height=400, xaxis=dict(title=dict(text="up = W_up·x")),
                       yaxis=dict(title=dict(text="gate = silu(W_gate·x)")))
