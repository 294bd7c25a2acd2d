"""Positional encoding lab (issue 6): why and how transformers know word order.

Five sections share one tab: sinusoidal encodings, similarity between positions and the
rotation property, MiniLM's learned position table, RoPE and ALiBi. Handlers are small:
clamp the sliders (with a visible note) → call playground.transformer.positional → draw.
Issue 18: a lesson link restores every setting and the open section, the similarity
section asks the student to predict which position is more alike before the answer is read
from the encodings, and each code panel downloads as a notebook.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, NamedTuple

import gradio as gr
import numpy as np

from components import positional_figures as pf
from components import queues
from components.code_panel import code_panel, model_folder_code
from components.errors import user_errors
from components.figures import FigureJSON, empty, placeholder
from components.lazy import lazy_module
from components.lesson import lesson, lesson_markdown
from components.links import LabSetup, lab_setup
from components.predict import Outcome, Question, Tally, ask, reveal
from playground.service.model_service import DEFAULT_ENCODER, get_service
from playground.service.validate import clamp

if TYPE_CHECKING:
    import torch

P = lazy_module("playground.transformer.positional")  # torch loads on first use, not at app start

TAB_ID = "positional"
TITLE = "Positional encoding"

D_MODEL = (2, 1024, 128)  # (min, max, default) of each slider
LENGTH = (1, 2048, 128)
BASE = (2, 100_000, 10_000)
MAX_DIMS = 8  # curves drawn at once; more is unreadable
DEFAULT_DIMS = "0, 20, 40, 60"  # pairs 0, 10, 20, 30: wavelengths 6, 26, 112, 471 at d_model 128
CLOCK_PAIRS = 5
SIN = "pos-sin"  # sub-tab ids; the first is open when the tab opens
API_NAMES = {SIN: "sinusoidal", "pos-sim": "similarity", "pos-learned": "learned", "pos-rope": "rope",
             "pos-alibi": "alibi"}
NOTEBOOK_TITLES = {SIN: f"{TITLE}: sinusoidal", "pos-sim": f"{TITLE}: similarity and shift",
                   "pos-learned": f"{TITLE}: learned positions (MiniLM)", "pos-rope": f"{TITLE}: RoPE",
                   "pos-alibi": f"{TITLE}: ALiBi"}
# Controls update on .input: dragging, or typing a number (.release misses typing), but not a
# value a lesson link sets. always_last: while one update runs, only the newest pending one is
# kept. Never give one slider two always_last listeners: see on_shared_change.
LIVE = dict(trigger_mode="always_last")
PAPERS = [
    ("Vaswani et al. 2017: Attention Is All You Need (§3.5)", "https://arxiv.org/abs/1706.03762"),
    ("Devlin et al. 2019: BERT (learned positions)", "https://arxiv.org/abs/1810.04805"),
    ("Su et al. 2021: RoFormer (RoPE)", "https://arxiv.org/abs/2104.09864"),
    ("Press et al. 2022: ALiBi (Train Short, Test Long)", "https://arxiv.org/abs/2108.12409"),
]


# --- input checks ---------------------------------------------------------------------------
def _settings(d_model: float, length: float, base: float) -> tuple[int, int, float, list[str]]:
    """The three shared sliders, clamped to their ranges; notes say what was changed."""
    d, note_d = clamp(d_model, D_MODEL[0], D_MODEL[1], "d_model", integer=True)
    n, note_n = clamp(length, LENGTH[0], LENGTH[1], "Max length", integer=True)
    b, note_b = clamp(base, BASE[0], BASE[1], "Base")
    return int(d), int(n), float(b), [note for note in (note_d, note_n, note_b) if note]


def parse_dims(text: str, d_model: int) -> tuple[list[int], list[str]]:
    """"0, 1, 10" → [0, 1, 10]; dimensions outside the model are dropped with a note."""
    text = (text or "").strip()
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    if not parts:
        return [0, 1], ["No dimensions given: showing 0 and 1."]
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise ValueError("Dimensions must be whole numbers separated by commas, e.g. 0, 1, 10, 11.") from None
    notes = []
    kept = list(dict.fromkeys(d for d in dims if 0 <= d < d_model))
    if len(kept) < len(dims):
        notes.append(f"Dimensions outside 0…{d_model - 1} were left out.")
    if len(kept) > MAX_DIMS:
        notes.append(f"Only the first {MAX_DIMS} dimensions are drawn.")
        kept = kept[:MAX_DIMS]
    return (kept or [0]), notes


def _note(notes: list[str]) -> str:
    return "\n\n".join(f"⚠️ {n}" if not n.startswith(("✅", "ℹ️")) else n for n in notes if n)


def _even(d: int, notes: list[str]) -> int:
    """Pairs need an even size; an odd one is rounded down, with a note."""
    if d % 2 == 0:
        return d
    notes.append(f"Sin/cos come in pairs: using d_model = {max(2, d - 1)} for this part.")
    return max(2, d - 1)


# --- code shown in the "Show the code" panels -------------------------------------------------
# Plain torch a student can paste into a notebook: no import of this repo. Each panel prints
# the numbers the lab shows, so a test can compare the two.
def code_sinusoidal(d_model: int, length: int, base: float) -> str:
    return (
        "import torch\n\n"
        f"length, d_model, base = {length}, {d_model}, {base:g}\n"
        "pos = torch.arange(length, dtype=torch.float64)[:, None]           # (length, 1)\n"
        "inv_freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # ω_i, (d_model/2,)\n"
        "pe = torch.zeros(length, d_model, dtype=torch.float64)\n"
        "pe[:, 0::2] = torch.sin(pos * inv_freq)                            # even dims: sin\n"
        "pe[:, 1::2] = torch.cos(pos * inv_freq)[:, : d_model // 2]         # odd dims: cos\n"
        "wavelengths = 2 * torch.pi / inv_freq                              # positions per turn\n"
        "print('longest wavelength', round(wavelengths.max().item(), 1))\n"
        "print('max row norm', round(pe.norm(dim=1).max().item(), 3), 'sqrt(d/2) =', round((d_model / 2) ** 0.5, 3))\n"
    )


def code_similarity(d_model: int, length: int, base: float, measure: str, pos: int, k: int) -> str:
    normalise = "pe_sim = torch.nn.functional.normalize(pe, dim=1)    # cosine: unit rows\n" if measure == "cosine" \
        else "pe_sim = pe                                            # dot: what attention sees\n"
    return (
        "import torch\n\n"
        f"length, d_model, base, k, pos = {length}, {d_model}, {base:g}, {k}, {pos}\n"
        "omega = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)\n"
        "angle = torch.arange(length, dtype=torch.float64)[:, None] * omega\n"
        "pe = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)   # (length, d_model): sin, cos, sin, ...\n"
        f"{normalise}"
        "sim = pe_sim @ pe_sim.T                        # (length, length), depends on |i - j| only\n"
        "print('sim(0, 1) =', round(sim[0, 1].item(), 4), ' sim(pos, pos + 1) =', round(sim[pos, pos + 1].item(), 4))\n\n"
        "# One matrix moves EVERY position k steps: a rotation of each (sin, cos) pair.\n"
        "c, s = torch.cos(k * omega), torch.sin(k * omega)\n"
        "M = torch.zeros(d_model, d_model, dtype=torch.float64)\n"
        "i = torch.arange(0, d_model, 2)\n"
        "M[i, i], M[i, i + 1], M[i + 1, i], M[i + 1, i + 1] = c, s, -s, c\n"
        "error = (pe[: length - k] @ M.T - pe[k:]).abs().max()   # every position at once\n"
        "print('largest error', f'{error.item():.1e}')\n"
    )


def code_learned(n_positions: int) -> str:
    return (
        "import importlib.util, pathlib, torch\nfrom transformers import AutoModel\n\n"
        f"{model_folder_code(DEFAULT_ENCODER)}"
        "model = AutoModel.from_pretrained(folder)\n"
        f"table = model.embeddings.position_embeddings.weight[:{n_positions}].detach()  # ({n_positions}, 384)\n"
        "unit = torch.nn.functional.normalize(table, dim=1)\n"
        "cosine = unit @ unit.T                                        # position × position\n"
        "centred = (table - table.mean(dim=0)).double()\n"
        "u, s, vt = torch.linalg.svd(centred, full_matrices=False)\n"
        "xy = u[:, :2] * s[:2]                                          # PCA: 2-D path of positions\n"
        "print('norm of position 0', round(table[0].norm().item(), 2))\n"
        "print('variance explained by 2 axes', round((s[:2] ** 2 / (s ** 2).sum()).sum().item(), 3))\n"
    )


def code_rope(d_head: int, length: int, base: float, seed: int) -> str:
    return (
        "import math, torch\n\n"
        "def rope(x, positions, base):\n"
        "    d = x.shape[-1]\n"
        "    angle = positions[:, None] * base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)   # (T, d/2)\n"
        "    x1, x2 = x[..., 0::2], x[..., 1::2]\n"
        "    return torch.stack([x1 * angle.cos() - x2 * angle.sin(),\n"
        "                        x1 * angle.sin() + x2 * angle.cos()], -1).flatten(-2)\n\n"
        f"g = torch.Generator().manual_seed({seed})\n"
        f"q, k = torch.randn({d_head}, generator=g), torch.randn({d_head}, generator=g)\n"
        f"pos = torch.arange({length}, dtype=torch.float64)\n"
        f"Q = rope(q.double().expand({length}, -1), pos, {base:g})\n"
        f"K = rope(k.double().expand({length}, -1), pos, {base:g})\n"
        f"scores = Q @ K.T / math.sqrt({d_head})          # scores[m, n] depends on n - m only\n"
        "print('scores[0, 1] =', round(scores[0, 1].item(), 4), ' scores[1, 2] =', round(scores[1, 2].item(), 4))\n"
    )


def code_alibi(n_heads: int, length: int, causal: bool) -> str:
    mask = "bias = bias.masked_fill(j > i, float('-inf'))   # causal: no looking ahead\n" if causal else ""
    return (
        "import math, torch\n\n"
        "def slopes(n):\n"
        "    # Press et al.: a geometric sequence from 2^(-8/n); for n not a power of two,\n"
        "    # the slopes of the nearest lower power of two, then every other slope of twice that.\n"
        "    def power_of_two(m):\n"
        "        return [2 ** (-8 * (h + 1) / m) for h in range(m)]\n"
        "    closest = 2 ** math.floor(math.log2(n))\n"
        "    return power_of_two(closest) + power_of_two(2 * closest)[0::2][: n - closest]\n\n"
        f"n_heads, length = {n_heads}, {length}\n"
        "m = torch.tensor(slopes(n_heads))\n"
        "i, j = torch.arange(length)[:, None], torch.arange(length)[None, :]\n"
        "bias = -m[:, None, None] * (i - j).abs()       # (heads, query, key)\n"
        f"{mask}"
        "scores = torch.zeros(length, length)           # equal content scores: the bias alone decides\n"
        "weights = torch.softmax(scores + bias, dim=-1) # in a model: q·k/sqrt(d) + bias\n"
        "print('slopes', [round(x, 4) for x in m.tolist()])\n"
        "print('last query -> first key, per head', [round(w, 4) for w in weights[:, -1, 0].tolist()])\n"
    )


# --- handlers ---------------------------------------------------------------------------------
# Each returns a named tuple: named for people and tests, a tuple in ``outputs=`` order for Gradio.
class SinusoidalView(NamedTuple):
    heat: FigureJSON
    curves: FigureJSON
    wavelengths: FigureJSON
    clocks: FigureJSON
    note: str
    code: str


class SimilarityView(NamedTuple):
    heat: FigureJSON
    profiles: FigureJSON
    shift: FigureJSON
    matrix: FigureJSON
    note: str
    code: str


class LearnedView(NamedTuple):
    learned_heat: FigureJSON
    sinusoidal_heat: FigureJSON
    learned_similarity: FigureJSON
    sinusoidal_similarity: FigureJSON
    learned_pca: FigureJSON
    sinusoidal_pca: FigureJSON
    note: str
    code: str


class RopeView(NamedTuple):
    rope_heat: FigureJSON
    added_heat: FigureJSON
    rope_profiles: FigureJSON
    added_profiles: FigureJSON
    note: str
    code: str


class AlibiView(NamedTuple):
    bias: FigureJSON
    attention: FigureJSON
    reach: FigureJSON
    note: str
    code: str


@user_errors
def on_sinusoidal(d_model: float, length: float, base: float, dims_text: str) -> SinusoidalView:
    """Heat-map, chosen dimensions as curves, wavelength per pair, animated clocks."""
    d, n, b, notes = _settings(d_model, length, base)
    dims, dim_notes = parse_dims(dims_text, d)
    pe = P.sinusoidal(n, d, b).numpy()  # (n, d)
    wl = P.wavelengths(d, b).numpy()
    rows, cols = pf.drawn_indices(n), pf.drawn_indices(d, keep_parity=True)
    notes += dim_notes + [pf.thinning_note(n, d, len(rows), len(cols))]
    if d % 2 == 0:
        norm = float(np.linalg.norm(pe, axis=1).max()) if n else 0.0
        notes.append(f"ℹ️ Every row has the same length: ‖PE(pos)‖ = √(d_model/2) = {math.sqrt(d / 2):.3f} "
                     f"(measured max {norm:.3f}). Position is carried by direction, not size.")
    heat = pf.matrix_heatmap(pe[np.ix_(rows, cols)], rows, cols, bound=1.0, value_name="PE",
                             title=f"Sinusoidal PE: {n} positions × {d} dimensions (base {b:g})",
                             x_title="dimension (even = sin, odd = cos)", y_title="position")
    n_pairs = len(wl)
    pairs = sorted({round(i * (n_pairs - 1) / max(1, CLOCK_PAIRS - 1)) for i in range(CLOCK_PAIRS)}) if d >= 2 else []
    clocks = (pf.clock_animation(pe, pairs, wl) if pairs and d % 2 == 0 and n >= 1
              else empty("Clocks need an even d_model."))
    return SinusoidalView(heat, pf.dimension_curves(pe, dims, wl), pf.wavelength_chart(wl, n), clocks,
            _note(notes), code_sinusoidal(d, n, b))


class SimilaritySettings(NamedTuple):
    d_model: int  # even
    length: int
    base: float
    pos: int
    k: int  # pos + k is still a position
    notes: list[str]


def _similarity_settings(d_model: float, length: float, base: float, measure: str, pos: float, k: float
                         ) -> SimilaritySettings:
    """The similarity section's sliders, clamped (notes say what changed); the measure checked."""
    d, n, b, notes = _settings(d_model, length, base)
    d = _even(d, notes)
    if measure not in ("dot", "cosine"):
        raise ValueError("The similarity must be 'dot' or 'cosine'.")
    if n < 2:
        raise ValueError("Similarity needs at least 2 positions: raise the max length.")
    p, note_p = clamp(pos, 0, n - 2, "Position", integer=True)
    step, note_k = clamp(k, 1, n - 1 - p, "Shift k", integer=True)
    notes += [note for note in (note_p, note_k) if note]
    return SimilaritySettings(d, n, b, int(p), int(step), notes)


@user_errors
def on_similarity(d_model: float, length: float, base: float, measure: str, pos: float, k: float
                  ) -> SimilarityView:
    """Position × position similarity, its profile against the offset, and PE(pos+k) = M_k·PE(pos)."""
    d, n, b, p, step, notes = _similarity_settings(d_model, length, base, measure, pos, k)
    pe = P.sinusoidal(n, d, b)
    rows = pf.drawn_indices(n)
    sim = P.similarity(pe[rows], measure).numpy()  # only the drawn rows: 2048² would be slow
    notes.append(pf.thinning_note(n, n, len(rows), len(rows)))
    heat = pf.matrix_heatmap(sim, rows, rows, title=f"{measure.capitalize()} similarity of positions i and j",
                             x_title="position j", y_title="position i", value_name=measure)
    max_offset = min(n - 1, 64)
    references = sorted({round(i * (n - 1 - max_offset) / 3) for i in range(4)})
    profiles = P.similarity_by_offset(pe, references, max_offset, measure).numpy()
    profile_fig = pf.offset_profiles(np.arange(max_offset + 1), profiles,
                                     [f"from position {r}" for r in references],
                                     "Similarity of p with p + k, from 4 starts p",
                                     f"{measure} similarity")
    demo = P.shift_demo(n, d, int(step), int(p), b)
    shift = pf.shift_check(demo.pe_target.numpy(), demo.predicted.numpy(), demo.pos, demo.k, demo.max_error)
    block = np.arange(min(d, 12))
    matrix = pf.matrix_heatmap(demo.matrix[:len(block), :len(block)].numpy(), block, block, bound=1.0,
                               title=f"M_{demo.k}, top-left {len(block)}×{len(block)}: 2×2 rotation blocks",
                               x_title="input dimension", y_title="output dimension", show_values=True)
    notes.append(f"✅ PE({demo.pos + demo.k}) = M_{demo.k}·PE({demo.pos}): the same matrix works for every "
                 f"position (largest error over all {n - demo.k} positions: {demo.max_error:.1e}). "
                 f"Pair 0 turns by {float(demo.angles[0]):.3f} rad, the last pair by {float(demo.angles[-1]):.2e} rad.")
    return SimilarityView(heat, profile_fig, shift, matrix, _note(notes),
                          code_similarity(d, n, b, measure, demo.pos, demo.k))


@user_errors
def on_learned(n_positions: float, base: float, measure: str, three_d: bool) -> LearnedView:
    """MiniLM's trained position table next to sinusoidal PE of the same size."""
    table = P.learned_positions(DEFAULT_ENCODER)  # (512, 384)
    n, note_n = clamp(n_positions, 3, table.shape[0], "Positions", integer=True)
    b, note_b = clamp(base, BASE[0], BASE[1], "Base")
    if measure not in ("dot", "cosine"):
        raise ValueError("The similarity must be 'dot' or 'cosine'.")
    notes = [note for note in (note_n, note_b) if note]
    n, d = int(n), table.shape[1]
    learned = table[:n]
    sines = P.sinusoidal(n, d, b)
    rows, cols = pf.drawn_indices(n), pf.drawn_indices(d, keep_parity=True)
    notes.append(pf.thinning_note(n, d, len(rows), len(cols)))
    # Position 0 and a few dimensions are outliers: saturate at the 99th percentile so the rest shows.
    bound = float(np.percentile(learned.abs().numpy(), 99))
    figures = [
        pf.matrix_heatmap(learned.numpy()[np.ix_(rows, cols)], rows, cols, bound=bound, value_name="value",
                          title="Learned (all-MiniLM-L6-v2): position × dimension", x_title="dimension",
                          y_title="position"),
        pf.matrix_heatmap(sines.numpy()[np.ix_(rows, cols)], rows, cols, bound=1.0, value_name="value",
                          title=f"Sinusoidal (base {b:g}): position × dimension", x_title="dimension",
                          y_title="position"),
    ]
    for name, values in (("Learned", learned), ("Sinusoidal", sines)):
        figures.append(pf.matrix_heatmap(P.similarity(values[rows], measure).numpy(), rows, rows,
                                         title=f"{name}: {measure} similarity between positions",
                                         x_title="position j", y_title="position i", value_name=measure))
    path, k = (pf.pca_path_3d, 3) if three_d else (pf.pca_path, 2)
    projections = []
    for name, values in (("Learned", learned), ("Sinusoidal", sines)):
        key = ("positional-pca", name, n, b, k)  # the learned table never changes: compute once
        proj = get_service().memo(key, lambda values=values: P.pca(values, k))
        projections.append(proj)
        figures.append(path(proj.coords.numpy(), proj.explained.numpy(),
                            f"{name} positions, PCA {k}-D, coloured by index"))
    notes.append(_learned_facts(learned, bound, projections[0]))
    return LearnedView(*figures, _note(notes), code_learned(n))


def _learned_facts(learned, bound: float, projection: P.PCA) -> str:
    """What the shown part of the real table says, measured now rather than asserted."""
    norms = learned.norm(dim=1)
    facts = [f"ℹ️ Colours of the learned table saturate at ±{bound:.2f} (its 99th percentile). Lengths differ: "
             f"position 0 (always [CLS]) has norm {norms[0]:.2f}, the median position {norms.median():.2f}"]
    ends = [p for p in (127, 511) if p < len(norms)]
    if ends:
        facts.append(", ".join(f"position {p} {norms[p]:.2f}" for p in ends) + " (BERT-style pretraining "
                     "used 128-token sequences for most steps, then 512: the last position of each stands out)")
    text = "; ".join(facts) + "."
    if len(learned) > 10:
        step = math.degrees(float(P.turn_per_step(projection.coords[1:, :2]).abs().median()))
        text += (f"\n\nℹ️ In the learned PCA plane one step forward turns about {step:.0f}° around the origin"
                 + (": the model learned a fast clock hand by itself, like a sinusoidal pair." if step > 20 else
                    ": here the top components follow slow drift, neighbours sit close together."))
    return text


@user_errors
def on_rope(d_head: float, length: float, base: float, seed: float) -> RopeView:
    """One query/key pair at every position: RoPE scores against additive-PE scores."""
    d, note_d = clamp(d_head, 2, 256, "Head size", integer=True)
    n, note_n = clamp(length, 2, 256, "Length", integer=True)
    b, note_b = clamp(base, BASE[0], BASE[1], "Base")
    s, note_s = clamp(seed, 0, 2**31 - 1, "Seed", integer=True)
    notes = [note for note in (note_d, note_n, note_b, note_s) if note]
    d = _even(int(d), notes)
    demo = P.rope_demo(d, int(n), b, int(s))
    pos = np.arange(int(n))
    bound = float(max(demo.rope.abs().max(), demo.additive.abs().max()))
    rope_heat = pf.matrix_heatmap(demo.rope.numpy(), pos, pos, bound=bound, value_name="score",
                                  title="RoPE: score of q at m with k at n",
                                  x_title="key position n", y_title="query position m")
    add_heat = pf.matrix_heatmap(demo.additive.numpy(), pos, pos, bound=bound, value_name="score",
                                 title="Added sinusoidal PE instead: same q, k",
                                 x_title="key position n", y_title="query position m")
    labels = [f"query at m = {m}" for m in demo.shifts.tolist()]
    offsets = demo.offsets.numpy()
    rope_prof = pf.offset_profiles(offsets, demo.rope_by_shift.numpy(), labels,
                                   "RoPE: score against offset, 4 places", "score")
    add_prof = pf.offset_profiles(offsets, demo.additive_by_shift.numpy(), labels,
                                  "Added PE: score against offset, 4 places", "score")
    spread = float((demo.additive_by_shift - demo.additive_by_shift[0]).abs().max())
    notes.append(f"✅ RoPE: moving the pair from m = {demo.shifts[0]} to m = {demo.shifts[-1]} changes a score "
                 f"by at most {demo.max_shift_deviation:.1e} (rounding). Added PE: by up to {spread:.2f}.")
    return RopeView(rope_heat, add_heat, rope_prof, add_prof, _note(notes), code_rope(d, int(n), b, int(s)))


@user_errors
def on_alibi(n_heads: float, length: float, head: float, causal: bool) -> AlibiView:
    """ALiBi's bias for one head, the attention it alone produces, and every head's reach."""
    h, note_h = clamp(n_heads, 1, 16, "Heads", integer=True)
    n, note_n = clamp(length, 2, 256, "Length", integer=True)
    chosen, note_c = clamp(head, 1, h, "Head", integer=True)
    notes = [note for note in (note_h, note_n, note_c) if note]
    h, n, chosen = int(h), int(n), int(chosen)
    slopes = P.alibi_slopes(h)
    bias = P.alibi_bias(n, h, causal)[chosen - 1].numpy()
    weights = P.alibi_attention(n, h, causal).numpy()
    pos = np.arange(n)
    shown = np.where(np.isfinite(bias), bias, np.nan)  # −inf (future) is left blank
    bias_fig = pf.matrix_heatmap(shown, pos, pos, value_name="bias", x_title="key position j",
                                 y_title="query position i",
                                 title=f"ALiBi bias of head {chosen}: −{slopes[chosen - 1]:.3g} × distance"
                                       + (" (blank: future, masked)" if causal else ""))
    attention = pf.matrix_heatmap(weights[chosen - 1], pos, pos, weights=True, value_name="weight",
                                  title=f"Head {chosen}: attention from the bias alone",
                                  x_title="key position j", y_title="query position i")
    notes.append(f"ℹ️ Slopes of the {h} heads: " + ", ".join(f"{s:.3g}" for s in slopes.tolist())
                 + ". No position vectors at all: a penalty grows with distance, so the model "
                 "extrapolates to longer inputs than it was trained on.")
    return AlibiView(bias_fig, attention, pf.alibi_curves(weights, slopes.numpy()), _note(notes),
                     code_alibi(h, n, causal))


# --- predict, then reveal ---------------------------------------------------------------------
NEIGHBOUR_QUESTION = "positional-neighbour"
NEIGHBOUR_ASK = ("Which encoding is more like PE(pos), by the similarity chosen above: its neighbour's "
                 "PE(pos + 1), or PE(pos + k)? Choose, and the lab answers from the encodings.")
NEIGHBOUR_CHOICES = {"near": "PE(pos + 1), the neighbour", "far": "PE(pos + k)", "tie": "Both the same"}


def neighbour_outcome(pe: torch.Tensor, pos: int, k: int, measure: str) -> Outcome:
    """The encodings' answer: PE(pos) (a row of ``pe``) compared with PE(pos + 1) and PE(pos + k)."""
    rows = P.similarity(pe[[pos, pos + 1, pos + k]], measure).numpy()
    near, far = float(rows[0, 1]), float(rows[0, 2])
    answer = "tie" if math.isclose(near, far, rel_tol=1e-9, abs_tol=1e-9) else ("near" if near > far else "far")
    evidence = (f"{measure.capitalize()} similarity: PE({pos}) with PE({pos + 1}) is **{near:.3f}**, "
                f"with PE({pos + k}) **{far:.3f}**.")
    if answer == "far":
        hands = pe.shape[1] // 2
        evidence += (f" With d_model = {pe.shape[1]} there {'is' if hands == 1 else 'are'} only {hands} clock "
                     f"hand{'s' * (hands != 1)}, and they come round: after {k} steps they point closer to "
                     "where they started than after 1 step.")
    return Outcome(NEIGHBOUR_CHOICES[answer], evidence)


@user_errors
def on_reveal_neighbour(choice: str | None, d_model: float, length: float, base: float, measure: str,
                        pos: float, k: float, tally: Tally) -> tuple[str, Tally]:
    """After the similarity section draws: the verdict on the student's prediction (nothing
    before one). Only the rows pos … pos + k are needed, the same formula the section draws."""
    if not choice:
        return "", tally
    d, _, b, p, step, _ = _similarity_settings(d_model, length, base, measure, pos, k)
    pe = P.sinusoidal(p + step + 1, d, b)
    return reveal(NEIGHBOUR_QUESTION, choice, neighbour_outcome(pe, p, step, measure), tally)


# --- lesson links -------------------------------------------------------------------------------

def open_view(view: str | None) -> gr.Tabs:
    """The section a lesson link names (a link without one leaves the sections alone)."""
    return gr.Tabs(selected=view) if view in API_NAMES else gr.Tabs()


# --- layout -----------------------------------------------------------------------------------
LESSON = (
    "Attention compares every token with every other, but it has no idea of **order**: shuffle the "
    "words and the scores stay the same. Transformers therefore add position information. "
    "The **sinusoidal** encoding gives each position a vector of sines and cosines at geometrically "
    "spaced wavelengths, like the hands of many clocks. BERT-style models instead **learn** one "
    "vector per position. Newer models **rotate** queries and keys by their position (RoPE) or "
    "**penalise distance** directly in the scores (ALiBi). Each section below draws one of them."
)
TRY_THIS = [
    "**Sinusoidal:** set the max length to 512 and plot dimensions 0, 1, 60, 61. Which pair tells position 3 "
    "from 4? Which tells 300 from 400?",
    "Lower the **base** to 100 and set the max length to 2048: on the wavelength ladder the slowest pair now "
    "repeats within the text (about 590 positions instead of about 54,000).",
    "**Similarity:** the stripes run parallel to the diagonal. The profile plot starts at four different "
    "positions p: do the four curves coincide?",
    "**Similarity:** predict first, then set **d_model to 2** and **k to 44**: with a single clock hand, "
    "PE(pos + 44) is more like PE(pos) than the neighbour PE(pos + 1) is (the hand has gone round 7 times).",
    "**Shift:** change k and position. The rotated vector (dots) always lands on PE(pos + k): one matrix for every position.",
    "**Learned:** MiniLM was never told about sines, yet its PCA is a ring. Hover neighbouring positions: how far round does one step go?",
    "**RoPE:** press through seeds. Are the diagonals still constant? Now look at the added-PE heat-map.",
    "**ALiBi:** compare head 1 with the last head: which one can see far back?",
]
LESSON_MD = lesson_markdown(LESSON, TRY_THIS, PAPERS)  # the notebooks' first cell


def _plots(count: int, elem_id: str) -> list[gr.Plot]:
    """`count` plots two to a row, saying they are on their way; the first gets elem_id so
    tests and CSS can find it."""
    plots = []
    for start in range(0, count, 2):
        with gr.Row():
            for i in range(start, min(count, start + 2)):
                plots.append(gr.Plot(placeholder("Opening…"), show_label=False, elem_id=elem_id if i == 0 else None))
    return plots


def _outputs(count: int, elem_id: str, section: str, note: str = "", code: str = "") -> list:
    """A section's outputs in handler order: its plots, then the note, then the code panel."""
    note_md = gr.Markdown(note, elem_classes=["note"])
    return _plots(count, elem_id) + [note_md, code_panel(code, title=NOTEBOOK_TITLES[section], lesson=LESSON_MD)]


@dataclass(frozen=True)
class Section:
    """One sub-tab: its handler with the components it reads and the ones it draws."""

    handler: Callable
    inputs: list
    outputs: list


@dataclass(frozen=True)
class SharedWiring:
    """What a move of a shared slider needs: every section, and which one is open."""

    sections: dict[str, Section]  # by sub-tab id
    inputs: list  # every component any section reads (the open section first)
    open_section: gr.Radio  # the id of the sub-tab on screen (hidden; a lesson link's "view")


def _redraw(wiring: SharedWiring, name: str, values: tuple) -> dict:
    """Run one section's handler on the current values; a dict keyed by its output components."""
    value_of = dict(zip(wiring.inputs[1:], values))
    section = wiring.sections[name]
    return dict(zip(section.outputs, section.handler(*[value_of[c] for c in section.inputs])))


def on_shared_change(wiring: SharedWiring, moved: gr.Slider, open_section: str, *values) -> dict:
    """A shared slider moved: redraw the section on screen if it reads that slider (the others
    redraw when opened); an empty dict leaves every output as it is.

    One listener per slider on purpose. Gradio re-sends a deferred ``always_last`` event to
    EVERY listener of that event when one of them finishes; with two listeners on one slider,
    each one's finish re-triggered the other, an endless request storm (issue 16)."""
    name = open_section if open_section in wiring.sections else SIN
    return _redraw(wiring, name, values) if moved in wiring.sections[name].inputs else {}


def on_open_section(wiring: SharedWiring, name: str, *values) -> dict:
    """A sub-tab was opened: remember it, and draw it with the shared sliders' current values."""
    return {**_redraw(wiring, name, values[1:]), wiring.open_section: name}


def on_restored(wiring: SharedWiring, view: str | None, *values) -> dict:
    """A lesson link set the lab up: draw the section it names (the first one if none)."""
    return on_open_section(wiring, view if view in wiring.sections else SIN, view, *values)


def _sinusoidal_section() -> tuple[gr.Tab, Section, gr.Textbox]:
    with gr.Tab("1 · Sinusoidal", id=SIN) as tab:
        gr.Markdown("Each **row** is the vector added to the token at that position; each **column** one "
                    "dimension. Left columns change fast, right columns slowly: read a row like the digits "
                    "of a number.")
        dims = gr.Textbox(value=DEFAULT_DIMS, label="Dimensions to plot as curves (comma-separated, up to 8; "
                          "press Enter)", elem_id="pos-dims")
        note = gr.Markdown(elem_classes=["note"])
        heat = gr.Plot(placeholder("Opening…"), elem_id="pos-sin-heat", show_label=False)
        curves = gr.Plot(placeholder("Opening…"), elem_id="pos-sin-curves", show_label=False)
        wave, clocks = _plots(2, "pos-wavelengths")
        code = code_panel(title=NOTEBOOK_TITLES[SIN], lesson=LESSON_MD)
    return tab, Section(on_sinusoidal, [dims], [heat, curves, wave, clocks, note, code]), dims


def _similarity_section() -> tuple[gr.Tab, Section, list, Question]:
    with gr.Tab("2 · Similarity & shift", id="pos-sim") as tab:
        gr.Markdown("How alike are two positions? For sinusoidal PE the answer depends only on how far "
                    "apart they are. And one fixed matrix M_k (a rotation of every pair) moves **any** "
                    "position k steps forward: attention can learn \"look k tokens back\" once, for all positions.")
        with gr.Row():
            measure = gr.Radio(["dot", "cosine"], value="dot", label="Similarity")
            pos = gr.Slider(0, LENGTH[1] - 2, value=10, step=1, label="Position pos", elem_id="pos-sim-pos")
            k = gr.Slider(1, 256, value=5, step=1, label="Shift k", elem_id="pos-sim-k")
        neighbour_q = ask(NEIGHBOUR_QUESTION, NEIGHBOUR_ASK, list(NEIGHBOUR_CHOICES.values()))
        outputs = _outputs(4, "pos-sim-heat", "pos-sim")
    return tab, Section(on_similarity, [measure, pos, k], outputs), [measure, pos, k], neighbour_q


def _learned_section() -> tuple[gr.Tab, Section, list]:
    with gr.Tab("3 · Learned (MiniLM)", id="pos-learned") as tab:
        gr.Markdown("BERT-style models such as all-MiniLM-L6-v2 do not use a formula: they **learn** one "
                    "384-number vector for each of 512 positions. Left: the real trained table; right: "
                    "sinusoidal PE of the same size. PCA flattens each table to a path through 2-D (or 3-D).")
        with gr.Row():
            n_positions = gr.Slider(3, 512, value=512, step=1, label="Positions shown", elem_id="pos-learned-n")
            measure = gr.Radio(["cosine", "dot"], value="cosine", label="Similarity")
            three_d = gr.Checkbox(label="PCA in 3-D (drag to turn)", value=False)
        outputs = _outputs(6, "pos-learned-heat", "pos-learned",
                           "Loading all-MiniLM-L6-v2 (a few seconds the first time)…", code_learned(512))
    return tab, Section(on_learned, [n_positions, measure, three_d], outputs), [n_positions, measure, three_d]


def _rope_section() -> tuple[gr.Tab, Section, list]:
    with gr.Tab("4 · RoPE", id="pos-rope") as tab:
        gr.Markdown("RoPE adds nothing to the token: it **rotates** each (q, k) pair of numbers by an angle "
                    "proportional to the position. The score q·k then only sees the *difference* of the "
                    "angles, so it depends on the offset n − m alone. Left: one random query/key pair placed "
                    "at every position; right: the same pair with sinusoidal PE *added* instead.")
        with gr.Row():
            d_head = gr.Slider(2, 256, value=64, step=2, label="Head size d", elem_id="pos-rope-d")
            length = gr.Slider(2, 256, value=64, step=1, label="Length", elem_id="pos-rope-length")
            seed = gr.Number(value=0, precision=0, minimum=0, label="Seed (random q and k; press Enter)",
                             elem_id="pos-rope-seed")
        outputs = _outputs(4, "pos-rope-heat", "pos-rope")
    return tab, Section(on_rope, [d_head, length, seed], outputs), [d_head, length, seed]


def _alibi_section() -> tuple[gr.Tab, Section, list]:
    with gr.Tab("5 · ALiBi", id="pos-alibi") as tab:
        gr.Markdown("ALiBi uses no position vectors at all: it subtracts slope × distance from every attention "
                    "score. Each head has its own slope, so some heads look nearby and others far.")
        with gr.Row():
            heads = gr.Slider(1, 16, value=8, step=1, label="Heads", elem_id="pos-alibi-heads")
            length = gr.Slider(2, 256, value=32, step=1, label="Length", elem_id="pos-alibi-length")
            head = gr.Slider(1, 16, value=1, step=1, label="Head to draw", elem_id="pos-alibi-head")
            causal = gr.Checkbox(value=True, label="Causal (decoder)", elem_id="pos-alibi-causal")
        outputs = _outputs(3, "pos-alibi-heat", "pos-alibi")
    controls = [heads, length, head, causal]
    return tab, Section(on_alibi, controls, outputs), controls


def build(demo: gr.Blocks) -> LabSetup:
    """Lay out the tab inside ``demo`` (the app being built), wire its events, and return
    what a lesson link can set in it."""
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        lesson(LESSON, TRY_THIS, PAPERS)
        with gr.Row():
            d_model = gr.Slider(*D_MODEL[:2], value=D_MODEL[2], step=2, label="d_model (dimensions)",
                                elem_id="pos-d-model")
            length = gr.Slider(*LENGTH[:2], value=LENGTH[2], step=1, label="Max length (positions)",
                               elem_id="pos-length")
            base = gr.Slider(*BASE[:2], value=BASE[2], step=1, label="Base (10000 in the paper)",
                             elem_id="pos-base")
        open_section = gr.Radio(list(API_NAMES), value=SIN, visible=False)  # the sub-tab, for lesson links
        with gr.Tabs(elem_id="pos-sections") as section_tabs:
            sin_tab, sin, dims = _sinusoidal_section()
            sim_tab, sim, sim_controls, neighbour_q = _similarity_section()
            learned_tab, learned, learned_controls = _learned_section()
            rope_tab, rope, rope_controls = _rope_section()
            alibi_tab, alibi, alibi_controls = _alibi_section()
        (measure, pos, k), (n_positions, learned_measure, three_d) = sim_controls, learned_controls
        (d_head, rope_length, seed), (heads, alibi_length, head, causal) = rope_controls, alibi_controls
        linked = {"d_model": d_model, "length": length, "base": base, "dims": dims, "measure": measure,
                  "pos": pos, "k": k, "positions": n_positions, "learned_measure": learned_measure,
                  "pca_3d": three_d, "d_head": d_head, "rope_length": rope_length, "seed": seed,
                  "heads": heads, "alibi_length": alibi_length, "head": head, "causal": causal,
                  "view": open_section}
        # "view" is the open section, not a control a student sees: nothing to hide
        setup = lab_setup(TAB_ID, linked, internal=("view",))
    shared = [d_model, length, base]
    # Each section's handler reads the shared sliders it needs, in its own argument order.
    sections = {
        SIN: replace(sin, inputs=shared + sin.inputs),
        "pos-sim": replace(sim, inputs=shared + sim.inputs),
        "pos-learned": replace(learned, inputs=[n_positions, base, learned_measure, three_d]),
        "pos-rope": replace(rope, inputs=[d_head, rope_length, base, seed]),
        "pos-alibi": alibi,
    }
    wiring = SharedWiring(sections, [open_section, *shared, dims, *sim_controls, *learned_controls,
                                     *rope_controls, *alibi_controls], open_section)
    every_output = [c for section in sections.values() for c in section.outputs]
    # after anything that may redraw the similarity section: the prediction's verdict
    reveal_neighbour = dict(fn=on_reveal_neighbour, inputs=[neighbour_q.choice, *shared, *sim_controls,
                                                            neighbour_q.tally],
                            outputs=[neighbour_q.verdict, neighbour_q.tally], api_visibility="private",
                            **queues.CHEAP)
    for slider in shared:
        slider.input(functools.partial(on_shared_change, wiring, slider), wiring.inputs, every_output,
                     api_visibility="private", **LIVE, **queues.CHEAP).then(**reveal_neighbour)
    for tab, name in ((sin_tab, SIN), (sim_tab, "pos-sim"), (learned_tab, "pos-learned"), (rope_tab, "pos-rope"),
                      (alibi_tab, "pos-alibi")):
        opened = tab.select(functools.partial(on_open_section, wiring, name), wiring.inputs,
                            sections[name].outputs + [open_section], api_visibility="private", **queues.CHEAP)
        if name == "pos-sim":
            opened.then(**reveal_neighbour)
    # A section's own controls redraw that section only: one listener per control.
    for name, triggers in ((SIN, [dims.submit]),
                           ("pos-sim", [c.input for c in sim_controls]),
                           ("pos-learned", [c.input for c in learned_controls]),
                           ("pos-rope", [d_head.input, rope_length.input, seed.submit]),
                           ("pos-alibi", [c.input for c in alibi_controls])):
        section = sections[name]
        event = gr.on(triggers, section.handler, section.inputs, section.outputs,
                      api_name=f"positional_{API_NAMES[name]}", **LIVE, **queues.CHEAP)
        if name == "pos-sim":
            event.then(**reveal_neighbour)
    # A prediction is checked at once against the encodings on screen.
    neighbour_q.choice.input(**reveal_neighbour)
    # A link with ?tab=positional opens this tab without a select event: draw on page load too.
    demo.load(on_sinusoidal, sections[SIN].inputs, sections[SIN].outputs, api_visibility="private",
              **queues.CHEAP)
    # A lesson link restored the settings: open its section, then draw it (and check a prediction).
    setup.restored.change(open_view, open_section, section_tabs, api_visibility="private", **queues.CHEAP
                          ).then(functools.partial(on_restored, wiring), wiring.inputs, every_output + [open_section],
                                 api_visibility="private", **queues.CHEAP).then(**reveal_neighbour)
    return setup
