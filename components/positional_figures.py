"""Figures of the positional-encoding lab: heat-maps of positions, curves, clocks, PCA paths.

Big matrices are thinned before drawing: a browser cannot draw 2048 × 1024 cells quickly,
so at most MAX_DRAWN rows and columns are sent, every s-th one, with the real indices on
the axes (hover shows exact values at the drawn cells). Arrays go out as float32, which
plotly ships as compact binary.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from components.figures import ACTIVATION_SCALE, PALETTE, lines, style

MAX_DRAWN = 256  # rows or columns sent to the browser per heat-map
POSITION_SCALE = "Viridis"  # colour = position index (PCA paths, clocks)


def drawn_indices(n: int, max_drawn: int = MAX_DRAWN, keep_parity: bool = False) -> np.ndarray:
    """Every s-th index of range(n) so that at most max_drawn remain.

    keep_parity: an even stride would show only sin columns (even dimensions), so an odd
    stride is used and the drawn columns alternate between sin and cos."""
    stride = max(1, math.ceil(n / max_drawn))
    if keep_parity and stride > 1 and stride % 2 == 0:
        stride += 1
    return np.arange(0, n, stride)


def thinning_note(rows: int, cols: int, drawn_rows: int, drawn_cols: int) -> str:
    """Say what was left out so that nobody mistakes a thinned picture for the whole."""
    if (rows, cols) == (drawn_rows, drawn_cols):
        return ""
    return (f"Drawn: {drawn_rows} × {drawn_cols} of {rows} × {cols} cells (every "
            f"{math.ceil(rows / drawn_rows)}th row, every {math.ceil(cols / drawn_cols)}th column) "
            "to keep the browser fast; fast-changing columns may show moiré. Lower the length "
            "or d_model to see every cell.")


def matrix_heatmap(z: np.ndarray, rows: np.ndarray, cols: np.ndarray, title: str, x_title: str,
                   y_title: str, bound: float | None = None, height: int = 460,
                   value_name: str = "value") -> go.Figure:
    """A signed matrix on numeric axes (real row/column indices), diverging colours around 0."""
    z = np.asarray(z, dtype=np.float32)
    finite = z[np.isfinite(z)]
    bound = bound if bound is not None else (float(np.abs(finite).max()) if finite.size else 1.0)
    fig = go.Figure(go.Heatmap(
        z=z, x=np.asarray(cols), y=np.asarray(rows), colorscale=ACTIVATION_SCALE, zmid=0,
        zmin=-bound, zmax=bound, colorbar=dict(thickness=14, title=dict(text=value_name, side="right")),
        hovertemplate=f"{y_title} %{{y}}<br>{x_title} %{{x}}<br>{value_name} %{{z:.3f}}<extra></extra>",
    ))
    fig = style(fig, title, height)
    fig.update_xaxes(title=x_title, showgrid=False, zeroline=False)
    fig.update_yaxes(title=y_title, autorange="reversed", showgrid=False, zeroline=False)
    return fig


def dimension_curves(pe: np.ndarray, dims: Sequence[int], wavelengths: np.ndarray) -> go.Figure:
    """Selected dimensions over position: sin/cos waves, slower and slower with the pair index."""
    positions = np.arange(pe.shape[0])
    series = {}
    for d in dims:
        kind = "sin" if d % 2 == 0 else "cos"
        series[f"dim {d} ({kind}, λ={wavelengths[d // 2]:.3g})"] = pe[:, d].astype(np.float32)
    fig = lines(positions, series, title="Single dimensions over position: each pair is a wave of its own wavelength λ",
                x_title="position", y_title="PE value", height=380,
                markers=pe.shape[0] <= 64)
    fig.update_yaxes(range=[-1.1, 1.1])
    return fig


def wavelength_chart(wavelengths: np.ndarray, length: int) -> go.Figure:
    """λ_i = 2π·base^(2i/d) per pair on a log axis, against the sequence length."""
    pairs = np.arange(len(wavelengths))
    beyond = wavelengths > length
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=pairs[~beyond], y=wavelengths[~beyond], mode="markers", name="turns at least once",
                             marker=dict(color=PALETTE[0], size=7)))
    fig.add_trace(go.Scatter(x=pairs[beyond], y=wavelengths[beyond], mode="markers",
                             name="never completes a turn within the length",
                             marker=dict(color=PALETTE[3], size=7)))
    fig.update_traces(hovertemplate="pair %{x}<br>λ = %{y:.4g} positions<extra></extra>")
    # A trace, not add_hline: shapes and annotations on a log axis need log10 coordinates.
    fig.add_trace(go.Scatter(x=[0, max(1, len(pairs) - 1)], y=[length, length], mode="lines",
                             name=f"max length = {length}", line=dict(color=PALETTE[1], dash="dash"),
                             hoverinfo="skip"))
    fig.update_xaxes(title="pair index i (dimensions 2i, 2i+1)")
    fig.update_yaxes(title="wavelength λ (positions, log)", type="log")
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    return style(fig, "Wavelength λ of each (sin, cos) pair", 420)


def clock_animation(pe: np.ndarray, pairs: Sequence[int], wavelengths: np.ndarray,
                    max_frames: int = 48) -> go.Figure:
    """Each pair (sin, cos) as a clock hand: x = sin, y = cos starts at 12 o'clock and turns
    clockwise by ω_i per position. Press play to walk through positions.

    All hands are one trace (segments split by None) so that each frame is one small
    object: building hundreds of plotly traces would cost seconds."""
    steps = drawn_indices(pe.shape[0], max_frames)
    centres = 3.0 * np.arange(len(pairs))
    colours = [PALETTE[n % len(PALETTE)] for n in range(len(pairs))]
    circle = np.linspace(0, 2 * math.pi, 73)

    def hands(pos: int) -> dict:
        x, y = [], []
        for pair, cx in zip(pairs, centres):
            x += [cx, cx + pe[pos, 2 * pair], None]
            y += [0.0, pe[pos, 2 * pair + 1], None]
        return dict(type="scatter", x=x, y=y)

    dial_x = np.concatenate([np.append(cx + np.sin(circle), np.nan) for cx in centres])
    dial_y = np.tile(np.append(np.cos(circle), np.nan), len(pairs))
    dials = go.Scatter(x=dial_x, y=dial_y, mode="lines", hoverinfo="skip", showlegend=False,
                       line=dict(color="#cbd5e1", width=2))
    first = go.Scatter(**{k: v for k, v in hands(0).items() if k != "type"}, mode="lines+markers",
                       line=dict(width=5, color="#334155"), showlegend=False, hoverinfo="skip",
                       marker=dict(size=[0, 14, 0] * len(pairs), color=np.repeat(colours, 3)))
    fig = go.Figure(data=[dials, first],
                    frames=[dict(data=[hands(int(p))], name=str(int(p)), traces=[1]) for p in steps])
    for pair, cx in zip(pairs, centres):
        fig.add_annotation(x=cx, y=-1.35, text=f"pair {pair}<br>λ={wavelengths[pair]:.3g}",
                           showarrow=False, font=dict(size=14))
    fig.update_xaxes(visible=False, range=[-1.4, centres[-1] + 1.4])
    fig.update_yaxes(visible=False, range=[-1.8, 1.3], scaleanchor="x", scaleratio=1)
    still = dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0))
    fig.update_layout(
        updatemenus=[dict(type="buttons", x=0, y=-0.05, xanchor="left", yanchor="top", buttons=[
            dict(label="▶ Play", method="animate",
                 args=[None, dict(frame=dict(duration=150, redraw=False), fromcurrent=True,
                                  transition=dict(duration=0))]),
            dict(label="❚❚ Pause", method="animate", args=[[None], still]),
        ])],
        sliders=[dict(steps=[dict(method="animate", label=str(int(p)), args=[[str(int(p))], still])
                             for p in steps],
                      x=0.2, len=0.78, y=-0.02, currentvalue=dict(prefix="position "))],
    )
    return style(fig, "Pairs as clock hands (press ▶)", 420)


def offset_profiles(offsets: np.ndarray, profiles: np.ndarray, labels: Sequence[str], title: str,
                    y_title: str) -> go.Figure:
    """One curve per starting position against the offset k: identical curves = depends on k only."""
    fig = go.Figure()
    widths = np.linspace(9, 3, len(labels))  # wide first, thin last: overlapping curves stay visible
    for n, (label, row) in enumerate(zip(labels, profiles)):
        fig.add_trace(go.Scatter(x=offsets, y=np.asarray(row, dtype=np.float32), name=label, mode="lines",
                                 line=dict(width=float(widths[n]), color=PALETTE[n % len(PALETTE)]),
                                 opacity=0.85, connectgaps=False))
    fig.update_xaxes(title="offset k (positions)")
    fig.update_yaxes(title=y_title)
    return style(fig, title, 380)


def shift_check(direct: np.ndarray, rotated: np.ndarray, pos: int, k: int, max_error: float) -> go.Figure:
    """PE(pos+k) computed directly against M_k·PE(pos): the dots sit on the line."""
    dims = np.arange(len(direct))
    fig = go.Figure([
        go.Scatter(x=dims, y=direct.astype(np.float32), name=f"PE({pos + k}) computed directly",
                   mode="markers", marker=dict(size=11, color="rgba(0,0,0,0)",
                                               line=dict(width=2, color=PALETTE[0]))),
        go.Scatter(x=dims, y=rotated.astype(np.float32), name=f"M_{k} · PE({pos}), rotated",
                   mode="markers", marker=dict(size=5, color=PALETTE[1])),
    ])
    fig.update_xaxes(title="dimension")
    fig.update_yaxes(title="value", range=[-1.15, 1.15])
    fig.update_layout(legend=dict(orientation="h", y=-0.25))
    return style(fig, f"M_{k}·PE({pos}) lands on PE({pos + k}) (max error {max_error:.0e})", 420)


def pca_path(coords: np.ndarray, explained: np.ndarray, title: str) -> go.Figure:
    """Positions projected to 2-D, joined in order and coloured by index (a path through space)."""
    index = np.arange(len(coords))
    fig = go.Figure([
        go.Scatter(x=coords[:, 0], y=coords[:, 1], mode="lines", line=dict(color="#cbd5e1", width=1),
                   hoverinfo="skip", showlegend=False),
        go.Scatter(x=coords[:, 0], y=coords[:, 1], mode="markers", showlegend=False,
                   marker=dict(color=index, colorscale=POSITION_SCALE, size=7,
                               colorbar=dict(title=dict(text="position", side="right"), thickness=14)),
                   text=index, hovertemplate="position %{text}<br>(%{x:.2f}, %{y:.2f})<extra></extra>"),
    ])
    fig.update_xaxes(title=f"PC 1 ({explained[0]:.0%} of variance)")
    fig.update_yaxes(title=f"PC 2 ({explained[1]:.0%} of variance)", scaleanchor="x", scaleratio=1)
    return style(fig, title, 440)


def pca_path_3d(coords: np.ndarray, explained: np.ndarray, title: str) -> go.Figure:
    """The same path with a third principal axis, to turn around with the mouse."""
    index = np.arange(len(coords))
    fig = go.Figure(go.Scatter3d(
        x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], mode="lines+markers", text=index,
        marker=dict(size=3, color=index, colorscale=POSITION_SCALE,
                    colorbar=dict(title=dict(text="position", side="right"), thickness=14)),
        line=dict(color="#94a3b8", width=2), hovertemplate="position %{text}<extra></extra>",
    ))
    fig.update_layout(scene=dict(xaxis_title=f"PC 1 ({explained[0]:.0%})", yaxis_title=f"PC 2 ({explained[1]:.0%})",
                                 zaxis_title=f"PC 3 ({explained[2]:.0%})"))
    return style(fig, title, 520)


def alibi_curves(weights: np.ndarray, slopes: np.ndarray) -> go.Figure:
    """Attention of the last query over the keys behind it, one curve per head: its reach."""
    length = weights.shape[-1]
    distance = np.arange(length)[::-1]  # the last query is at distance 0 from the last key
    series = {f"head {h + 1} (m={s:.3g})": weights[h, -1].astype(np.float32) for h, s in enumerate(slopes)}
    fig = lines(distance, series, title="Each head's reach: attention of the last query when all content scores are equal",
                x_title="distance to the query (positions back)", y_title="attention weight", height=400)
    fig.update_xaxes(range=[0, min(length - 1, 40) or 1])
    return fig
