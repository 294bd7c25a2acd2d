"""Figures and HTML for the Pipelines tab: label scores, similarity, generated tokens,
digit + patch attention. Builders take the core's plain results and know nothing of Gradio."""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np

from components.figures import (ATTENTION_COLORS, INK_COLORS, PALETTE, FigureJSON, axis_names, bars, fast_figure,
                                heatmap, subplots)
from playground.hf.pipelines import EntitiesResult, GenerationResult, ImageResult, ScoresResult

# Sentiment colours a student reads without a legend: red = negative, green = positive.
LABEL_COLOURS = {"NEGATIVE": "#dc2626", "POSITIVE": "#059669", "LABEL_0": "#dc2626", "LABEL_1": "#059669"}
MAX_PLOTTED = 8  # fill-mask rows drawn; the rest are in the table


def short(text: str, limit: int = 38) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _row_labels(texts: Sequence[str]) -> list[str]:
    return [f"{k}. {short(t)}" for k, t in enumerate(texts, start=1)]


def classification_figure(result: ScoresResult) -> FigureJSON:
    """One horizontal stacked bar per line: how the probability splits over the labels."""
    labels = sorted(result.rows[0].labels)
    y = _row_labels([r.text for r in result.rows])
    traces = []
    for k, label in enumerate(labels):
        values = [dict(zip(r.labels, r.scores)).get(label, 0.0) for r in result.rows]
        traces.append(dict(
            type="bar", y=y, x=values, name=label, orientation="h", text=[f"{v:.2f}" for v in values],
            textposition="inside", insidetextanchor="middle",
            marker=dict(color=LABEL_COLOURS.get(label.upper(), PALETTE[k % len(PALETTE)])),
            hovertemplate="%{y}<br>" + html.escape(label) + ": %{x:.3f}<extra></extra>"))
    title = f"{result.run.task}: label probabilities per line ({result.run.model_id})"
    return fast_figure(traces, title, min(900, 140 + 42 * len(y)), barmode="stack",
                       legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"),
                       xaxis=dict(title=dict(text="probability (each bar sums to 1)"), range=[0, 1]),
                       yaxis=dict(autorange="reversed", type="category"))


def zero_shot_figure(result: ScoresResult) -> FigureJSON:
    """Texts × labels: the score of each candidate label (label order as typed)."""
    labels = list(result.rows[0].labels)
    order = sorted(labels)
    z = np.array([[dict(zip(r.labels, r.scores))[label] for label in order] for r in result.rows])
    probabilities = result.score_name == "probability"
    return heatmap(z, order, _row_labels([r.text for r in result.rows]),
                   title=f"Zero-shot: {result.score_name} of each label ({result.run.model_id})",
                   x_title="candidate label", y_title="line",
                   kind="attention" if probabilities else "activation",
                   zmin=0.0 if probabilities else None, zmax=1.0 if probabilities else None)


def fill_mask_figure(result: ScoresResult) -> FigureJSON:
    """For each line, the best guesses for the hidden word."""
    rows = result.rows[:MAX_PLOTTED]
    grid = subplots(len(rows), 1, [short(r.text, 80) for r in rows],
                    vertical_spacing=min(0.12, 0.5 / max(1, len(rows))),
                    xaxis=dict(range=[0, 1]), yaxis=dict(autorange="reversed"))
    grid[f"xaxis{len(rows) if len(rows) > 1 else ''}"]["title"] = dict(text="probability of the word")
    traces = [dict(type="bar", x=list(row.scores), y=[repr(t.strip()) for t in row.labels], orientation="h",
                   marker=dict(color=PALETTE[0]), showlegend=False, text=[f"{s:.2f}" for s in row.scores],
                   textposition="auto", **axis_names(k))
              for k, row in enumerate(rows, start=1)]
    return fast_figure(traces, f"fill-mask: best words for the mask ({result.run.model_id})",
                       120 + 190 * len(rows), **grid)


def scores_figure(result: ScoresResult) -> FigureJSON:
    if result.run.task == "zero-shot-classification":
        return zero_shot_figure(result)
    if result.run.task == "fill-mask":
        return fill_mask_figure(result)
    return classification_figure(result)


def similarity_figure(texts: Sequence[str], sim: np.ndarray, model_id: str) -> FigureJSON:
    # Full sentences on the rows; line numbers on the columns so they never overlap.
    return heatmap(sim, [str(k) for k in range(1, len(texts) + 1)], _row_labels(texts),
                   kind="activation", zmin=-1.0, zmax=1.0,
                   title=f"Cosine similarity of sentence vectors (1 = same meaning; {model_id})",
                   x_title="line", y_title="line")


def _prob_colour(p: float) -> str:
    """Low probability = warm (surprising), high = green (expected)."""
    hue = 120 * float(np.clip(p, 0.0, 1.0))  # 0 red → 120 green
    return f"hsl({hue:.0f}, 75%, 85%)"


CHIP = "padding:2px 1px;border-radius:4px;white-space:pre-wrap"  # inline: the tab needs no CSS file


def generation_html(result: GenerationResult) -> str:
    """The prompt, then each generated token on a background coloured by its probability."""
    chips = []
    for k, (token, p) in enumerate(zip(result.tokens, result.probs), start=1):
        shown = html.escape(token).replace("\n", "↵<br>")
        chips.append(f'<span class="np-gen-token" style="background:{_prob_colour(p)};{CHIP}" '
                     f'title="step {k}: p = {p:.3f}">{shown}</span>')
    legend = "".join(f'<span style="background:{_prob_colour(p)};{CHIP}">&nbsp;{label}&nbsp;</span> '
                     for p, label in ((0.05, "p = 0.05 surprising"), (0.5, "0.5"), (0.95, "0.95 expected")))
    return (f'<div class="np-gen" style="font-size:1.25em;line-height:2">'
            f'<b>{html.escape(result.prompt)}</b>{"".join(chips)}</div>'
            f'<div style="margin-top:6px">Background = the probability the sampler gave each new '
            f'token (hover for the number): {legend}</div>')


def generation_figure(result: GenerationResult) -> FigureJSON:
    """Steps × ranks: the candidates at each step with their sampling probability; the
    token actually drawn is marked with ▶."""
    steps = result.generation.steps
    z = np.array([step.top_probs for step in steps])  # (steps, ranks): sampling probability, 0 = cut off
    text = [[("▶ " if cand_id == step.token_id else "") + short(repr(cand)[1:-1], 12)
             for cand, cand_id in zip(step.top_tokens, step.top_ids)] for step in steps]
    y = [f"{k}: {short(repr(tok)[1:-1], 12)}" for k, tok in enumerate(result.tokens, start=1)]
    trace = dict(type="heatmap", z=z, x=[f"#{r}" for r in range(1, z.shape[1] + 1)], y=y, text=text,
                 texttemplate="%{text}", textfont=dict(size=12), colorscale=ATTENTION_COLORS, zmin=0, zmax=1,
                 colorbar=dict(title=dict(text="p"), thickness=14),
                 hovertemplate="step %{y}<br>rank %{x}: %{text}<br>p = %{z:.3f}<extra></extra>")
    s = result.settings
    how = ("greedy" if s.greedy else
           f"temperature {s.temperature:g}, top-k {s.top_k or 'off'}, top-p {s.top_p:g}")
    return fast_figure([trace], f"Next-token candidates at each step, best first (▶ = drawn; {how})",
                       min(1400, 160 + 30 * len(steps)), margin=dict(t=100),  # room above the top axis
                       xaxis=dict(side="top", type="category"),
                       yaxis=dict(title=dict(text="step: token drawn"), autorange="reversed", type="category"))


def image_figure(result: ImageResult) -> FigureJSON:
    """Class probabilities; digits stay in 0–9 order so a student can compare runs."""
    labels, scores = result.scored.labels, result.scored.scores
    best = labels[0]
    if all(label.isdigit() for label in labels):
        labels, scores = zip(*sorted(zip(labels, scores), key=lambda pair: int(pair[0])))
    return bars(labels, scores, title=f"Class probabilities — prediction: {best} ({result.run.model_id})",
                x_title="class", y_title="probability", range_=(0, 1),
                colors=[PALETTE[1] if label == best else PALETTE[0] for label in labels])


def attention_figure(result: ImageResult) -> FigureJSON:
    """What the ViT saw (8×8), where its [CLS] token looks in each layer (heads averaged),
    and the attention rollout over all layers: one small square panel each, side by side."""
    att = result.attention
    maps = list(att.head_mean()) + [att.rollout]  # (grid, grid) per layer, then the rollout
    titles = ["what the model saw"] + [f"layer {k + 1}" for k in range(len(maps) - 1)] + ["rollout"]
    top = max(float(np.max(m)) for m in maps)
    gap = 0.03
    width = (1 - gap * (len(titles) - 1)) / len(titles)
    traces, layout, notes = [], {}, []
    for k, title in enumerate(titles, start=1):
        x0 = (k - 1) * (width + gap)
        if k == 1:
            trace = dict(z=att.values, colorscale=INK_COLORS, zmin=0, zmax=16,
                         showscale=False, hovertemplate="row %{y}, col %{x}: ink %{z:.0f}/16<extra></extra>")
        else:
            trace = dict(z=maps[k - 2], colorscale=ATTENTION_COLORS, zmin=0, zmax=top,
                         showscale=k == len(titles), colorbar=dict(title=dict(text="weight"), thickness=12),
                         hovertemplate="patch row %{y}, col %{x}: %{z:.3f}<extra></extra>")
        n = "" if k == 1 else k  # plotly names the first axes x and y, then x2, y2, ...
        traces.append(dict(type="heatmap", xaxis=f"x{n}", yaxis=f"y{n}", **trace))
        hidden = dict(showticklabels=False, ticks="", showgrid=False, zeroline=False)
        layout[f"xaxis{n}"] = dict(domain=[x0, x0 + width], anchor=f"y{n}", **hidden)
        layout[f"yaxis{n}"] = dict(anchor=f"x{n}", autorange="reversed", scaleanchor=f"x{n}", **hidden)
        notes.append(dict(text=title, x=x0 + width / 2, y=1.0, xref="paper", yref="paper", xanchor="center",
                          yanchor="bottom", showarrow=False, font=dict(size=14)))
    return fast_figure(traces, "Where the [CLS] token looks: attention to each image patch", 300,
                       annotations=notes, **layout)


def entities_html(result: EntitiesResult) -> str:
    """Each line with its entities highlighted and tagged."""
    lines = []
    for text, entities in zip(result.texts, result.entities):
        out, pos = [], 0
        for e in sorted(entities, key=lambda e: e.start):
            out.append(html.escape(text[pos:e.start]))
            colour = PALETTE[sum(map(ord, e.group)) % len(PALETTE)]
            out.append(f'<mark style="border-bottom:3px solid {colour}" title="{e.score:.2f}">'
                       f'{html.escape(text[e.start:e.end])}<sub>{html.escape(e.group)}</sub></mark>')
            pos = e.end
        out.append(html.escape(text[pos:]))
        lines.append(f"<p>{''.join(out)}</p>")
    return f'<div class="np-entities">{"".join(lines)}</div>'
