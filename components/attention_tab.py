"""Attention (issue 5): self-attention by hand, word order, and inside a real transformer.
Issue 18: a lesson link restores every setting of both sub-tabs (and which one is open), two
questions ask the student to predict before the run answers (the √d_k and the previous-token
head), and each code panel downloads as a notebook."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr
from gradio.components import Component

from components import attention_figures as figs
from components import queues
from components.bertviz_view import PLACEHOLDER, bertviz_html, bertviz_view
from components.code_panel import code_panel, model_folder_code
from components.errors import user_errors
from components.figures import FigureJSON, placeholder
from components.lazy import lazy_module
from components.lesson import lesson, lesson_markdown
from components.links import LabSetup, lab_setup
from components.predict import Outcome, Tally, ask, reveal
from playground.service.model_service import DEFAULT_ENCODER, get_service
from playground.service.validate import clamp

# torch is imported on the first click, not at app start-up.
att = lazy_module("playground.transformer.attention")
bv = lazy_module("playground.hf.bertviz_offline")

TAB_ID = "attention"
TITLE = "Attention"
EXAMPLE = "The animal didn't cross the street because it was too tired."
EXAMPLE_B = "It fell asleep on the pavement."
SOURCES = [("Pretrained word embeddings (all-MiniLM-L6-v2)", "embeddings"),
           ("Toy random vectors (8 numbers per word)", "toy")]
AVERAGE = -1  # head selector value for "average over heads"
GPT = "neural-playground/reviews-gpt2"
SHIPPED_MODELS = {GPT: "ℹ️ A **tiny GPT-2 trained by this repo** (4 layers × 4 heads, 1.3 M parameters, 34 minutes of "
                       "CPU training on movie reviews; held-out perplexity 311): small, but its attention "
                       "is really trained, and causal."}
# Slider ranges; the core clamps to the same limits (attention.MAX_D_K, MAX_HEADS, MAX_CHARS).
UI_MAX_D_K, UI_MAX_HEADS, UI_MAX_CHARS = 64, 8, 200_000
UI_TEMPERATURE = (0.1, 10.0)  # attention.MIN_TEMPERATURE, MAX_TEMPERATURE
TRY_THIS = [
    "By hand: tick **Causal mask** — why does the first word attend only to itself?",
    "By hand: set d_k to 64 and untick **Scale by √d_k**: the weights collapse onto one token per row "
    "(the notes give the entropy in bits). Tick it again, then raise the **temperature**: flatter still.",
    "Press **Shuffle the words**: is any word's output different? Now look at the red bars, with "
    "positional encodings.",
    "Real model: find a head whose entropy is near 0. What does it look at — [SEP], the previous word, "
    "the next one?",
    "Real model: type “The animal didn't cross the street because it was too tired” and look for a "
    "head where **it** attends to **animal**.",
    "Real model: add a Sentence B and see which heads cross the red line between A and B.",
    f"Real model: choose **{GPT}**: every map is a triangle. A GPT never looks at later tokens.",
]
PAPERS = [
    ("Vaswani et al. 2017: Attention Is All You Need", "https://arxiv.org/abs/1706.03762"),
    ("Devlin et al. 2019: BERT", "https://arxiv.org/abs/1810.04805"),
    ("Vig 2019: bertviz, a multiscale visualization of attention", "https://arxiv.org/abs/1906.05714"),
    ("Clark et al. 2019: What Does BERT Look At?", "https://arxiv.org/abs/1906.04341"),
]


# --- by hand ---------------------------------------------------------------------------

def _vectors(text: str, source: str) -> att.TokenVectors:
    if source == "toy":
        return att.toy_vectors(text, DEFAULT_ENCODER)
    if source == "embeddings":
        return att.model_word_embeddings(text, DEFAULT_ENCODER)
    raise ValueError("Choose where the word vectors come from.")


def _hand_notes(vectors: att.TokenVectors, cfg: att.AttentionConfig, entropy: list[float], head: int,
                notes: list[str]) -> str:
    lines = [f"**{len(vectors.tokens)} tokens**, vectors: {vectors.source}. "
             f"{cfg.n_heads} head(s) × d_k = {cfg.d_k} → concatenation {cfg.n_heads * cfg.d_k} wide; "
             f"W_O maps it back to d_model = {vectors.vectors.shape[1]} (the layer's output)."]
    scaling = "÷ √d_k" if cfg.scaled else "**not** divided by √d_k"
    lines.append(f"Scores {scaling}, temperature {cfg.temperature:g}. Head {head}'s weights have "
                 f"**{entropy[head]:.2f} bits** of entropy per row (0 = each token looks at one token; "
                 f"{math.log2(max(2, len(vectors.tokens))):.2f} = spread evenly). "
                 "All heads: " + ", ".join(f"{e:.2f}" for e in entropy) + " bits.")
    if vectors.truncated:
        lines.append(f"⚠️ The text has {vectors.n_tokens_full} tokens; the first {len(vectors.tokens)} "
                     "are used here (the heat-maps print a number per cell).")
    lines.append(f"W_Q, W_K, W_V, W_O are **random, untrained** matrices (seed {cfg.seed}): the "
                 "pictures show the mechanics, not meaning. The real model below has trained ones.")
    return "\n\n".join(lines + [f"ℹ️ {n}" for n in notes])


def _setup_code(text: str, source: str, cfg: att.AttentionConfig) -> str:
    """The vectors X and the random projections, exactly as the lab makes them."""
    if source == "toy":
        vectors = (
            "import zlib\n"
            "tokens = tok.convert_ids_to_tokens(ids)\n"
            f"# one fixed random {att.TOY_D_MODEL}-number vector per distinct token\n"
            f"x = torch.stack([torch.randn({att.TOY_D_MODEL}, generator=torch.Generator().manual_seed(zlib.crc32(t.encode())))\n"
            "                 for t in tokens])                       # (T, d_model)\n")
    else:
        vectors = (
            "model = AutoModel.from_pretrained(folder)\n"
            "with torch.no_grad():\n"
            "    x = model.get_input_embeddings()(torch.tensor(ids))      # (T, d_model), no positions\n"
            "# raw embedding rows are tiny (~0.05): layer-normalise them, as BERT does before attention\n"
            "x = torch.nn.functional.layer_norm(x, x.shape[-1:])\n")
    return (
        "import importlib.util, math, pathlib, torch\nfrom transformers import AutoModel, AutoTokenizer\n\n"
        f"{model_folder_code(DEFAULT_ENCODER)}"
        "tok = AutoTokenizer.from_pretrained(folder)\n"
        f"ids = tok({text!r}, add_special_tokens=False)['input_ids'][:{att.MAX_HAND_TOKENS}]\n"
        f"{vectors}"
        f"T, d_model = x.shape\nH, d_k = {cfg.n_heads}, {cfg.d_k}\n"
        f"g = torch.Generator().manual_seed({cfg.seed})                # random, untrained projections\n"
        "W_q, W_k, W_v = (torch.randn(d_model, H * d_k, generator=g) / math.sqrt(d_model) for _ in range(3))\n"
        "W_o = torch.randn(H * d_k, d_model, generator=g) / math.sqrt(H * d_k)\n\n"
        "def split(t):                                              # (T, H*d_k) -> (H, T, d_k)\n"
        "    return t.view(T, H, d_k).transpose(0, 1)\n\n"
    )


def hand_code(text: str, source: str, cfg: att.AttentionConfig, head: int) -> str:
    mask = ("mask = torch.ones(T, T, dtype=torch.bool).tril()          # causal: no peeking ahead\n"
            "scores = scores.masked_fill(~mask, float('-inf'))\n") if cfg.causal else ""
    divide = "math.sqrt(d_k)" if cfg.scaled else "1.0"
    return (
        _setup_code(text, source, cfg)
        + "Q, K, V = split(x @ W_q), split(x @ W_k), split(x @ W_v)\n"
        f"scale = {divide} * {cfg.temperature!r}                       # √d_k (if ticked) × temperature\n"
        "scores = Q @ K.transpose(-2, -1) / scale                   # (H, T, T)\n"
        f"{mask}"
        "weights = scores.softmax(dim=-1)                           # every row sums to 1\n"
        "heads = weights @ V                                        # (H, T, d_k)\n"
        "out = heads.transpose(0, 1).reshape(T, H * d_k) @ W_o      # (T, d_model)\n"
        "entropy = -(weights * weights.clamp_min(1e-12).log2()).sum(-1).mean(-1)  # bits, per head\n"
        f"print('weights of head {head}', weights[{head}].numpy().round(4).tolist())\n"
        "print('entropy (bits) per head', entropy.numpy().round(2).tolist())\n"
        "# the same in one call:\n"
        "ref = torch.nn.functional.scaled_dot_product_attention(Q, K, V, scale=1 / scale"
        f"{', is_causal=True' if cfg.causal else ''})\n"
        "print('same as torch:', torch.allclose(heads, ref, atol=1e-5))\n"
    )


class HandView(NamedTuple):
    """Outputs of the by-hand lab, named, in the order of its ``outputs=`` list (a tuple to Gradio)."""

    qkv: FigureJSON
    scores: FigureJSON
    weights: FigureJSON
    heads: FigureJSON
    concat: FigureJSON
    notes: str
    code: str
    scaling: att.ScalingEffect | None  # the √d_k question's numbers, once a run leaves it out


@user_errors
def on_hand(text: str, source: str, d_k: float, n_heads: float, causal: bool, seed: float,
            head: float, scaled: bool = True, temperature: float = 1.0) -> HandView:
    """Self-attention by hand: Q/K/V, scores, weights, all heads, concatenation, notes, code."""
    cfg, notes = att.hand_config(d_k, n_heads, causal, seed, scaled, temperature)
    vectors = _vectors(text, source)
    projections = att.random_projections(vectors.vectors.shape[1], cfg)
    mh = att.multi_head_attention(vectors.vectors, projections, cfg.n_heads, cfg.causal, cfg.scaled,
                                  cfg.temperature)
    h, note = clamp(head, 0, cfg.n_heads - 1, "Head to inspect", integer=True)
    notes += [note] if note else []
    h, tokens = int(h), vectors.tokens
    entropy = att.entropy_bits(mh.weights).tolist()
    return HandView(
        qkv=figs.qkv_figure(mh.q[h].numpy(), mh.k[h].numpy(), mh.v[h].numpy(), tokens, h),
        scores=figs.scores_figure(mh.scores[h].numpy(), tokens, cfg.d_k, cfg.causal, cfg.scaled, cfg.temperature),
        weights=figs.weights_figure(mh.weights[h].numpy(), tokens,
                                    f"Head {h}: softmax of each row → attention weights (rows sum to 1)"),
        heads=figs.heads_figure(mh.weights.numpy(), tokens),
        concat=figs.concat_figure(mh.concat.numpy(), tokens, cfg.n_heads),
        notes=_hand_notes(vectors, cfg, entropy, h, notes), code=hand_code(text, source, cfg, h),
        scaling=None if cfg.scaled else att.scaling_effect(vectors.vectors, projections, cfg, h))


def shuffle_code(text: str, source: str, cfg: att.AttentionConfig, order: tuple[int, ...]) -> str:
    return (
        _setup_code(text, source, cfg)
        + "def attend(x):                                             # no causal mask: order-blind\n"
        "    Q, K, V = split(x @ W_q), split(x @ W_k), split(x @ W_v)\n"
        "    w = (Q @ K.transpose(-2, -1) / math.sqrt(d_k)).softmax(-1)\n"
        "    return (w @ V).transpose(0, 1).reshape(T, H * d_k) @ W_o\n\n"
        "def change(x, pe):                                         # how far each word's output moves\n"
        "    out, shuffled = attend(x + pe), attend(x[perm] + pe)\n"
        "    back = torch.empty_like(shuffled)\n"
        "    back[perm] = shuffled                                  # rows back in the original order\n"
        "    return (back - out).norm(dim=-1) / out.norm(dim=-1)\n\n"
        f"perm = torch.tensor({list(order)})                      # the shuffle\n"
        "# sinusoidal positional encoding: PE[pos, 2i] = sin(pos·ω_i), PE[pos, 2i+1] = cos(pos·ω_i)\n"
        "angle = torch.arange(T, dtype=torch.float64)[:, None] * 10000 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)\n"
        "pe = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1).float()   # (T, d_model)\n"
        "print('largest change without positions', f'{change(x, torch.zeros_like(x)).max().item():.1e}')\n"
        "print('largest change with positions', round(change(x, pe).max().item(), 4))\n"
    )


class ShuffleView(NamedTuple):
    """Outputs of the word-order test, in the order of its ``outputs=`` list."""

    plain: FigureJSON
    with_positions: FigureJSON
    change: FigureJSON
    summary: str
    code: str


@user_errors
def on_shuffle(text: str, source: str, d_k: float, n_heads: float, seed: float) -> ShuffleView:
    """Shuffle the words: attention alone only permutes outputs; positions change them."""
    cfg, notes = att.hand_config(d_k, n_heads, False, seed)
    vectors = _vectors(text, source)
    if len(vectors.tokens) < 2:
        raise ValueError("Type at least two tokens to shuffle.")
    projections = att.random_projections(vectors.vectors.shape[1], cfg)
    order = att.shuffle_order(len(vectors.tokens), cfg.seed)
    plain = att.shuffle_test(vectors.vectors, projections, cfg.n_heads, order)
    with_pe = att.shuffle_test(vectors.vectors, projections, cfg.n_heads, order, positional=True)
    tokens = [figs.labels(vectors.tokens)[i] for i in order]
    summary = (f"**Shuffled sentence:** {' '.join(tokens)}\n\n"
               f"Attention alone: the largest change of any word's output is "
               f"**{plain.change.max():.1e}** (rounding noise) — every word gets exactly the same "
               f"output, just in a new place. With sinusoidal positional encodings added to the "
               f"vectors: **{with_pe.change.max():.2f}** — now word order matters.")
    summary += "".join(f"\n\nℹ️ {n}" for n in notes)
    return ShuffleView(
        plain=figs.shuffle_outputs_figure(plain.output, plain.shuffled_back, vectors.tokens, False),
        with_positions=figs.shuffle_outputs_figure(with_pe.output, with_pe.shuffled_back, vectors.tokens, True),
        change=figs.shuffle_change_figure(vectors.tokens, plain.change, with_pe.change),
        summary=summary, code=shuffle_code(text, source, cfg, order))


# --- a real model ----------------------------------------------------------------------

def model_code(model_id: str, text: str, text_b: str, max_tokens: int, layer: int, head: int) -> str:
    pair = f", {text_b!r}" if text_b.strip() else ""
    pick = ("att.mean(0)                      # average over heads" if head == AVERAGE
            else f"att[{head}]                        # one head")
    return (
        "import importlib.util, pathlib, torch\nfrom transformers import AutoModel, AutoTokenizer\n\n"
        f"{model_folder_code(model_id)}"
        "tok = AutoTokenizer.from_pretrained(folder)\n"
        "model = AutoModel.from_pretrained(folder, attn_implementation='eager')\n"
        f"enc = tok({text!r}{pair}, truncation=True, max_length={max_tokens}, return_tensors='pt')\n"
        "with torch.no_grad():\n"
        "    out = model(**enc, output_attentions=True)\n"
        "tokens = tok.convert_ids_to_tokens(enc['input_ids'][0])\n"
        f"att = out.attentions[{layer}][0]                # (heads, T, T), rows sum to 1\n"
        f"matrix = {pick}\n"
        "entropy = -(att * att.clamp_min(1e-12).log2()).sum(-1).mean(-1)  # bits, per head\n"
        "print(tokens)\n"
        f"print('entropy (bits) of layer {layer}', entropy.numpy().round(2).tolist())\n"
        "print('looks ahead:', bool(att.triu(1).sum() > 1e-6))  # False for a GPT-style decoder\n\n"
        "# In a notebook, bertviz draws the same weights:\n"
        "# from bertviz import head_view; head_view(out.attentions, tokens)\n"
    )


def _selected_map(m: att.ModelAttention, layer: int, head: int | None) -> FigureJSON:
    if head is None:
        weights, what = att.average_heads(m, layer), f"Layer {layer}, average over {m.n_heads} heads"
    else:
        weights, what = m.layer(layer)[head], f"Layer {layer}, head {head}"
    return figs.attention_map(weights, m.tokens, f"{what}: who attends to whom", m.sentence_b_start)


def _pattern_text(s: att.HeadSummary) -> str:
    # Below ~40 % no single simple pattern describes the head: it mixes or reads content.
    if s.pattern_share >= 0.4:
        return f"{s.pattern} ({s.pattern_share:.0%})"
    return f"mixed (best: {s.pattern} {s.pattern_share:.0%})"


def _heads_table(m: att.ModelAttention, layer: int) -> list[list]:
    return [[f"L{s.layer} H{s.head}", round(s.entropy_bits, 2), _pattern_text(s),
             ", ".join(f"{tok} {w:.2f}" for tok, w in s.top)] for s in att.top_attended(m, layer)]


def _model_notes(m: att.ModelAttention) -> str:
    kind = ("a **decoder** (GPT-style): each token attends only to itself and earlier tokens"
            if m.causal else "an **encoder** (BERT-style): every token attends to every token")
    lines = [f"**{m.model_id}** — {m.n_layers} layers × {m.n_heads} heads, {len(m.tokens)} tokens; {kind}."]
    if m.model_id in SHIPPED_MODELS:
        lines.append(SHIPPED_MODELS[m.model_id])
    if m.sentence_b_start is not None:
        lines.append(f"Sentence B starts at token {m.sentence_b_start} (red lines on the heat-map).")
    return "\n\n".join(lines + [f"⚠️ {n}" for n in m.notes])


def _head_choices(n_heads: int) -> list[tuple[str, int]]:
    return [("Average over heads", AVERAGE)] + [(f"Head {h}", h) for h in range(n_heads)]


def _model_choices(model_ids: list[str]) -> list[tuple[str, str]]:
    """Dropdown entries: a shipped model's label says what it is."""
    labels = {GPT: f"{GPT} (a tiny GPT trained by this repo)"}
    return [(labels.get(m, m), m) for m in model_ids]


@dataclass(frozen=True)
class PreviousTokens:
    """How much each head of one layer attends to the previous token (mean over queries)."""

    layer: int
    shares: tuple[float, ...]  # one per head, 0..1


class ModelView(NamedTuple):
    """Outputs of "Inside a real model", in the order of its ``outputs=`` list: every one is
    drawn from the same text, so the screen never mixes an old sentence with a new one."""

    main_map: FigureJSON
    grid: FigureJSON
    entropy: FigureJSON
    table: list[list]
    notes: str
    code: str
    layer: dict  # gr.update of the Layer slider
    head: gr.Dropdown
    previous: PreviousTokens  # the previous-token question's numbers for the shown layer


@user_errors
def on_model(model_id: str, text: str, text_b: str, max_tokens: float, layer: float, head: float) -> ModelView:
    """One forward pass (cached per model and text) → heat-map, layers × heads grid, entropy,
    top tokens, notes, code, and the layer/head selectors sized to the model. Changing layer
    or head calls this again: the cache answers, the model does not run again."""
    m = att.model_attention(model_id, text, text_b or "", int(max_tokens or 128))
    head_value = None if head is None or int(head) == AVERAGE else head
    layer_index, head_index = att.check_layer_head(m, layer or 0, head_value)
    head_value = AVERAGE if head_index is None else head_index
    return ModelView(
        main_map=_selected_map(m, layer_index, head_index),
        grid=figs.layer_head_grid(m.attentions, m.tokens),
        entropy=figs.entropy_figure(att.head_entropy(m.attentions), len(m.tokens)),
        table=_heads_table(m, layer_index), notes=_model_notes(m),
        code=model_code(model_id, text, text_b or "", m.max_tokens, layer_index, head_value),
        # Only the range and the choices follow the model; the value is written back only when
        # it was out of range (a value written back on every release would fight the drag).
        layer=gr.update(maximum=m.n_layers - 1, **({} if layer_index == layer else {"value": layer_index})),
        head=gr.Dropdown(choices=_head_choices(m.n_heads), value=head_value),
        previous=PreviousTokens(layer_index, tuple(att.previous_token_shares(m, layer_index).tolist())))


@user_errors
def on_bertviz(view: str, model_id: str, text: str, text_b: str, max_tokens: float, layer: float,
               head: float) -> tuple[str, str]:
    """Build one bertviz view (head, model or neuron) into a sandboxed iframe."""
    if view not in bv.VIEWS:
        raise ValueError(f"Choose a bertviz view: {', '.join(bv.VIEWS)}.")
    head_index = 0 if head is None or int(head) == AVERAGE else int(head)
    page = bv.build_page(view, model_id, text, text_b or "", int(layer or 0), head_index,
                         int(max_tokens or 64))
    size = len(page.html.encode()) / 2**20
    lines = [f"bertviz **{view} view**: {page.n_tokens} tokens, layers "
             f"{page.layers[0]}–{page.layers[-1]}, {size:.1f} MB, drawn offline "
             "(d3 from mpld3, jQuery from xstatic-jquery)."]
    return bertviz_html(page), "\n\n".join(lines + [f"⚠️ {n}" for n in page.notes])


def clear_bertviz() -> tuple[str, str]:
    return PLACEHOLDER, ""


# --- predict, then reveal ------------------------------------------------------------------

SCALING_QUESTION = "attention-scaling"
SCALING_ASK = ("Untick “Scale by √d_k” at this d_k: will the inspected head's attention get sharper, "
               "flatter, or stay about the same? Choose, then untick it.")
SCALING_CHOICES = {"sharper": "Sharper (lower entropy)", "flatter": "Flatter (higher entropy)",
                   "same": "About the same"}
SAME_BITS = 0.05  # a smaller change of entropy than this is "about the same"
PREVIOUS_QUESTION = "attention-previous"
PREVIOUS_ASK = ("How many heads of the Layer chosen above put more than half of their attention on "
                "the previous token? Choose, then press “Show attention” (or move Layer).")
PREVIOUS_SHARE = 0.5  # a "previous-token head" puts more than this on the token before
PREVIOUS_CHOICES = ("No head", "Exactly one head", "Two or more heads")  # indexed by min(count, 2)


def scaling_outcome(effect: att.ScalingEffect) -> Outcome:
    """The √d_k question's answer: the inspected head's entropy with and without it."""
    change = effect.unscaled_bits - effect.scaled_bits
    answer = "same" if abs(change) < SAME_BITS else ("sharper" if change < 0 else "flatter")
    why = ("√1 = 1, so dividing by it changes nothing." if effect.d_k == 1 else
           f"Without the division every score is √{effect.d_k} = {math.sqrt(effect.d_k):.3g} times "
           "larger, so the softmax leans harder on the largest score.")
    return Outcome(SCALING_CHOICES[answer], (
        f"Head {effect.head} at d_k = {effect.d_k}: **{effect.scaled_bits:.2f} bits** of entropy per row "
        f"with ÷√d_k, **{effect.unscaled_bits:.2f} bits** without ({change:+.2f} bits; a change under "
        f"{SAME_BITS} counts as the same). {why}"))


@user_errors
def on_reveal_scaling(choice: str | None, effect: Any, tally: Tally) -> tuple[str, Tally]:
    """After a by-hand run: the verdict once a run has left the √d_k out (``effect``: the
    run's att.ScalingEffect or None; not annotated so, as Gradio reads handlers' hints at
    start-up and that would import torch)."""
    if effect is None:
        return ("Untick “Scale by √d_k” to see the answer." if choice else ""), tally
    return reveal(SCALING_QUESTION, choice, scaling_outcome(effect), tally)


def previous_outcome(previous: PreviousTokens) -> Outcome:
    """The previous-token question's answer: the heads of the layer above the share."""
    heads = [h for h, share in enumerate(previous.shares) if share > PREVIOUS_SHARE]
    best = max(range(len(previous.shares)), key=previous.shares.__getitem__)
    shares = ", ".join(f"**H{h} {share:.0%}**" if h in heads else f"H{h} {share:.0%}"
                       for h, share in enumerate(previous.shares))
    return Outcome(PREVIOUS_CHOICES[min(len(heads), 2)], (
        f"Mean attention on the previous token in layer {previous.layer}: {shares} (more than "
        f"{PREVIOUS_SHARE:.0%} counts). Head {best} attends most to the previous token."))


@user_errors
def on_reveal_previous(choice: str | None, previous: PreviousTokens | None, tally: Tally) -> tuple[str, Tally]:
    """After the real model's run: the verdict for the layer on screen."""
    if previous is None:
        return "", tally
    return reveal(PREVIOUS_QUESTION, choice, previous_outcome(previous), tally)


# --- lesson links --------------------------------------------------------------------------

SUB_TABS = {"attention-hand": "① By hand", "attention-model": "② Inside a real model"}


def open_view(view: str | None) -> Any:
    """The sub-tab a lesson link names (a link without one leaves the sub-tabs alone)."""
    return gr.Tabs(selected=view) if view in SUB_TABS else gr.Tabs()


class SubTab(NamedTuple):
    """What a sub-tab gives the lab: the settings a link may set, and its runs as a link's
    first view (keyword arguments of private events, run one after the other)."""

    controls: dict[str, Component]
    first_view: tuple[dict[str, Any], ...]


# --- layout ----------------------------------------------------------------------------

def _build_by_hand() -> SubTab:
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Sentence", value=EXAMPLE, lines=2, max_length=UI_MAX_CHARS,
                              elem_id="attn-hand-text")
            source = gr.Radio(SOURCES, value="embeddings", label="Word vectors X", elem_id="attn-source")
        with gr.Column(scale=2):
            with gr.Row():
                d_k = gr.Slider(1, UI_MAX_D_K, value=8, step=1, label="d_k (width of a head)", elem_id="attn-dk")
                n_heads = gr.Slider(1, UI_MAX_HEADS, value=2, step=1, label="Heads", elem_id="attn-n-heads")
            with gr.Row():
                head = gr.Slider(0, UI_MAX_HEADS - 1, value=0, step=1, label="Head to inspect",
                                 elem_id="attn-hand-head")
                seed = gr.Number(value=0, precision=0, label="Seed of the random W's", elem_id="attn-seed")
            with gr.Row():
                scaled = gr.Checkbox(label="Scale by √d_k", value=True, elem_id="attn-scaled")
                temperature = gr.Slider(*UI_TEMPERATURE, value=1.0,
                                        step=0.1, label="Softmax temperature", elem_id="attn-temperature")
            causal = gr.Checkbox(label="Causal mask (GPT-style: no looking ahead)", value=False,
                                 elem_id="attn-causal")
            run = gr.Button("Compute attention", variant="primary", elem_id="attn-hand-btn")
    scaling_q = ask(SCALING_QUESTION, SCALING_ASK, list(SCALING_CHOICES.values()))
    notes = gr.Markdown(elem_id="attn-hand-notes")
    press = placeholder("Press “Compute attention”.")
    qkv = gr.Plot(press, label="Q, K, V", elem_id="attn-qkv")
    with gr.Row():
        scores = gr.Plot(press, label="Scores", elem_id="attn-scores")
        weights = gr.Plot(press, label="Weights", elem_id="attn-weights")
    heads = gr.Plot(press, label="All heads", elem_id="attn-heads")
    output = gr.Plot(press, label="Concatenation", elem_id="attn-output")
    code = code_panel("# Press “Compute attention”: the code for exactly what you see appears here.",
                      title=NOTEBOOK_TITLES["hand"], lesson=LESSON_MD)

    gr.Markdown("### Does attention know word order?\nShuffle the words and compare each word's "
                "output before and after. Then add positional encodings and shuffle again.")
    shuffle = gr.Button("Shuffle the words", elem_id="attn-shuffle-btn")
    shuffle_notes = gr.Markdown(elem_id="attn-shuffle-notes")
    press = placeholder("Press “Shuffle the words”.")
    with gr.Row():
        plain_fig = gr.Plot(press, label="Without positions", elem_id="attn-shuffle-plain")
        pe_fig = gr.Plot(press, label="With positions", elem_id="attn-shuffle-pe")
    change_fig = gr.Plot(press, label="Change per word", elem_id="attn-shuffle-change")
    shuffle_code_box = code_panel("# Press “Shuffle the words”: the code for exactly what you see appears here.",
                                  title=NOTEBOOK_TITLES["shuffle"], lesson=LESSON_MD)

    scaling_run = gr.State(None)  # the last run's ScalingEffect, for the question
    inputs = [text, source, d_k, n_heads, causal, seed, head, scaled, temperature]
    outputs = [qkv, scores, weights, heads, output, notes, code, scaling_run]
    reveal_scaling = dict(fn=on_reveal_scaling, inputs=[scaling_q.choice, scaling_run, scaling_q.tally],
                          outputs=[scaling_q.verdict, scaling_q.tally], api_visibility="private", **queues.CHEAP)
    run.click(on_hand, inputs, outputs, api_name="attention_by_hand", **queues.CHEAP).success(**reveal_scaling)
    # One listener per control (see positional_tab.on_shared_change for why never two).
    # .input and .release, never .change: a value a lesson link sets must not run it again.
    gr.on([source.input, causal.input, scaled.input, head.release, d_k.release, n_heads.release,
           temperature.release], on_hand, inputs, outputs, api_visibility="private", **queues.CHEAP
          ).success(**reveal_scaling)
    shuffle_args = dict(fn=on_shuffle, inputs=[text, source, d_k, n_heads, seed],
                        outputs=[plain_fig, pe_fig, change_fig, shuffle_notes, shuffle_code_box], **queues.CHEAP)
    shuffle.click(**shuffle_args, api_name="attention_shuffle")
    controls = {"text": text, "vectors": source, "d_k": d_k, "heads": n_heads, "head": head, "seed": seed,
                "scaled": scaled, "temperature": temperature, "causal": causal}
    private = dict(api_visibility="private")
    return SubTab(controls, (dict(fn=on_hand, inputs=inputs, outputs=outputs, **private, **queues.CHEAP),
                             dict(shuffle_args, **private)))


def _build_real_model() -> SubTab:
    models = get_service().available_ids("attention") or [DEFAULT_ENCODER]
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Sentence A", value=EXAMPLE, lines=2, max_length=UI_MAX_CHARS,
                              elem_id="attn-model-text")
            text_b = gr.Textbox(label="Sentence B (optional, for BERT-style sentence pairs)",
                                value="", lines=1, max_length=UI_MAX_CHARS, elem_id="attn-model-text-b")
        with gr.Column(scale=2):
            model = gr.Dropdown(_model_choices(models), value=models[0], allow_custom_value=True,
                                label="Model (online: any hub encoder or decoder id, e.g. gpt2)",
                                elem_id="attn-model-choice")
            max_tokens = gr.Slider(4, 512, value=128, step=1, label="Max tokens", elem_id="attn-max-tokens")
            run = gr.Button("Show attention", variant="primary", elem_id="attn-model-btn")
    notes = gr.Markdown(elem_id="attn-model-notes")
    with gr.Row():
        layer = gr.Slider(0, 5, value=0, step=1, label="Layer", elem_id="attn-layer")
        head = gr.Dropdown(_head_choices(12), value=AVERAGE, label="Head", elem_id="attn-model-head")
    previous_q = ask(PREVIOUS_QUESTION, PREVIOUS_ASK, list(PREVIOUS_CHOICES))
    main_map = gr.Plot(value=placeholder("Press “Show attention”."), label="Attention", elem_id="attn-map")
    table = gr.Dataframe(headers=["head", "entropy (bits)", "main pattern (share of attention)",
                                  "tokens it attends to most (mean weight)"],
                         label="This layer's heads (Clark et al. 2019: many heads look at [SEP], "
                               "[CLS] or the next/previous token)",
                         interactive=False, elem_id="attn-heads-table")
    grid = gr.Plot(placeholder("Press “Show attention”."), label="Layers × heads", elem_id="attn-grid")
    entropy = gr.Plot(placeholder("Press “Show attention”."), label="Entropy", elem_id="attn-entropy")
    code = code_panel(model_code(models[0], EXAMPLE, "", 128, 0, AVERAGE),
                      title=NOTEBOOK_TITLES["model"], lesson=LESSON_MD)

    gr.Markdown("### bertviz (Vig 2019)\n**Head view**: lines from each token to what it attends "
                "to, a colour per head (double-click a colour to show one head). **Model view**: "
                "every layer × head; click a thumbnail to enlarge. **Neuron view**: the query and "
                "key numbers behind one head (BERT models only).")
    with gr.Row():
        view = gr.Radio([("Head view", "head"), ("Model view", "model"), ("Neuron view", "neuron")],
                        value="head", label="bertviz view", elem_id="bertviz-choice")
        draw = gr.Button("Draw bertviz view", elem_id="bertviz-btn")
    bv_notes = gr.Markdown(elem_id="bertviz-notes")
    frame = bertviz_view()

    previous_run = gr.State(None)  # the shown layer's PreviousTokens, for the question
    inputs = [model, text, text_b, max_tokens, layer, head]
    outputs = [main_map, grid, entropy, table, notes, code, layer, head, previous_run]
    reveal_previous = dict(fn=on_reveal_previous, inputs=[previous_q.choice, previous_run, previous_q.tally],
                           outputs=[previous_q.verdict, previous_q.tally], api_visibility="private",
                           **queues.CHEAP)
    run.click(on_model, inputs, outputs, api_name="model_attention", **queues.MODEL).success(**reveal_previous)
    # Layer and head redraw everything from the current text: one source of truth.
    # always_last: a release made while the last one is drawing is drawn after it, never dropped.
    gr.on([layer.release, head.input], on_model, inputs, outputs, api_name="model_attention_select",
          trigger_mode="always_last", **queues.MODEL).success(**reveal_previous)
    draw.click(on_bertviz, [view, *inputs], [frame, bv_notes], api_name="bertviz", **queues.MODEL)
    # A new text makes the drawn view stale: clear it rather than show the old sentence.
    gr.on([text.change, text_b.change, model.change], clear_bertviz, None, [frame, bv_notes],
          api_visibility="private", **queues.CHEAP)
    controls = {"model": model, "sentence": text, "sentence_b": text_b, "max_tokens": max_tokens,
                "layer": layer, "model_head": head, "bertviz": view}
    return SubTab(controls, (dict(fn=on_model, inputs=inputs, outputs=outputs, api_visibility="private",
                                  **queues.MODEL),))


LESSON_WHAT = (
    "**Attention** lets every token build its new vector as a weighted average of all "
    "tokens' *values*. The weights come from how well its *query* matches each *key*: "
    "softmax(Q·Kᵀ/√d_k). Below, first do it by hand on your sentence (with random "
    "projections), then look inside real transformers: all-MiniLM-L6-v2 (a small pretrained "
    "BERT) and a tiny GPT this repo trained on movie reviews, layer by layer and head by head."
)
LESSON_MD = lesson_markdown(LESSON_WHAT, TRY_THIS, PAPERS)  # the notebooks' first cell
NOTEBOOK_TITLES = {"hand": f"{TITLE}: by hand", "shuffle": f"{TITLE}: does it know word order?",
                   "model": f"{TITLE}: inside a real model"}


def build(demo: gr.Blocks) -> LabSetup:
    """Lay out the tab inside ``demo`` (the app being built), wire its events, and return
    what a lesson link can set in it."""
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        lesson(LESSON_WHAT, TRY_THIS, PAPERS)
        view = gr.Radio(list(SUB_TABS), value=None, visible=False)  # the open sub-tab, for lesson links
        with gr.Tabs(elem_id="attn-subtabs") as subtabs:
            with gr.Tab(SUB_TABS["attention-hand"], id="attention-hand") as hand_tab:
                by_hand = _build_by_hand()
            with gr.Tab(SUB_TABS["attention-model"], id="attention-model") as model_tab:
                real_model = _build_real_model()
        setup = lab_setup(TAB_ID, {**by_hand.controls, **real_model.controls, "view": view}, internal=("view",))
    # A lesson link restored the settings: open its sub-tab, then draw both sub-tabs as the
    # student would by pressing their buttons (no verdict: the student has not predicted yet).
    event = setup.restored.change(open_view, view, subtabs, api_visibility="private", **queues.CHEAP)
    for run in (*by_hand.first_view, *real_model.first_view):
        event = event.then(**run)
    # the sub-tab the teacher is on goes into "Copy link" (in the browser: no request)
    for sub_tab, sub_id in ((hand_tab, "attention-hand"), (model_tab, "attention-model")):
        sub_tab.select(None, None, view, js=f"() => {sub_id!r}", api_visibility="private", **queues.CHEAP)
    return setup
