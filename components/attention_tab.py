"""Attention (issue 5): self-attention by hand, word order, and inside a real transformer."""

from __future__ import annotations

import math
from typing import NamedTuple

import gradio as gr

from components import attention_figures as figs
from components import queues
from components.bertviz_view import PLACEHOLDER, bertviz_html, bertviz_view
from components.code_panel import code_panel, model_folder_code
from components.errors import user_errors
from components.figures import FigureJSON, placeholder
from components.lazy import lazy_module
from components.lesson import lesson
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
        notes=_hand_notes(vectors, cfg, entropy, h, notes), code=hand_code(text, source, cfg, h))


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
        head=gr.Dropdown(choices=_head_choices(m.n_heads), value=head_value))


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


# --- layout ----------------------------------------------------------------------------

def _build_by_hand() -> None:
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Sentence", value=EXAMPLE, lines=2, max_length=UI_MAX_CHARS)
            source = gr.Radio(SOURCES, value="embeddings", label="Word vectors X")
        with gr.Column(scale=2):
            with gr.Row():
                d_k = gr.Slider(1, UI_MAX_D_K, value=8, step=1, label="d_k (width of a head)")
                n_heads = gr.Slider(1, UI_MAX_HEADS, value=2, step=1, label="Heads")
            with gr.Row():
                head = gr.Slider(0, UI_MAX_HEADS - 1, value=0, step=1, label="Head to inspect")
                seed = gr.Number(value=0, precision=0, label="Seed of the random W's")
            with gr.Row():
                scaled = gr.Checkbox(label="Scale by √d_k", value=True, elem_id="attn-scaled")
                temperature = gr.Slider(*UI_TEMPERATURE, value=1.0,
                                        step=0.1, label="Softmax temperature", elem_id="attn-temperature")
            causal = gr.Checkbox(label="Causal mask (GPT-style: no looking ahead)", value=False)
            run = gr.Button("Compute attention", variant="primary", elem_id="attn-hand-btn")
    notes = gr.Markdown(elem_id="attn-hand-notes")
    press = placeholder("Press “Compute attention”.")
    qkv = gr.Plot(press, label="Q, K, V", elem_id="attn-qkv")
    with gr.Row():
        scores = gr.Plot(press, label="Scores", elem_id="attn-scores")
        weights = gr.Plot(press, label="Weights", elem_id="attn-weights")
    heads = gr.Plot(press, label="All heads", elem_id="attn-heads")
    output = gr.Plot(press, label="Concatenation", elem_id="attn-output")
    code = code_panel("# Press “Compute attention”: the code for exactly what you see appears here.")

    gr.Markdown("### Does attention know word order?\nShuffle the words and compare each word's "
                "output before and after. Then add positional encodings and shuffle again.")
    shuffle = gr.Button("Shuffle the words", elem_id="attn-shuffle-btn")
    shuffle_notes = gr.Markdown(elem_id="attn-shuffle-notes")
    press = placeholder("Press “Shuffle the words”.")
    with gr.Row():
        plain_fig = gr.Plot(press, label="Without positions", elem_id="attn-shuffle-plain")
        pe_fig = gr.Plot(press, label="With positions", elem_id="attn-shuffle-pe")
    change_fig = gr.Plot(press, label="Change per word", elem_id="attn-shuffle-change")
    shuffle_code_box = code_panel("# Press “Shuffle the words”: the code for exactly what you see appears here.")

    inputs = [text, source, d_k, n_heads, causal, seed, head, scaled, temperature]
    outputs = [qkv, scores, weights, heads, output, notes, code]
    run.click(on_hand, inputs, outputs, api_name="attention_by_hand", **queues.CHEAP)
    # One listener per control (see positional_tab.on_shared_change for why never two).
    gr.on([source.change, causal.change, head.change, scaled.change, d_k.release, n_heads.release,
           temperature.release], on_hand, inputs, outputs, api_visibility="private", **queues.CHEAP)
    shuffle.click(on_shuffle, [text, source, d_k, n_heads, seed],
                  [plain_fig, pe_fig, change_fig, shuffle_notes, shuffle_code_box],
                  api_name="attention_shuffle", **queues.CHEAP)


def _build_real_model() -> None:
    models = get_service().available_ids("attention") or [DEFAULT_ENCODER]
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Sentence A", value=EXAMPLE, lines=2, max_length=UI_MAX_CHARS)
            text_b = gr.Textbox(label="Sentence B (optional, for BERT-style sentence pairs)",
                                value="", lines=1, max_length=UI_MAX_CHARS)
        with gr.Column(scale=2):
            model = gr.Dropdown(_model_choices(models), value=models[0], allow_custom_value=True,
                                label="Model (online: any hub encoder or decoder id, e.g. gpt2)",
                                elem_id="attn-model-choice")
            max_tokens = gr.Slider(4, 512, value=128, step=1, label="Max tokens")
            run = gr.Button("Show attention", variant="primary", elem_id="attn-model-btn")
    notes = gr.Markdown(elem_id="attn-model-notes")
    with gr.Row():
        layer = gr.Slider(0, 5, value=0, step=1, label="Layer", elem_id="attn-layer")
        head = gr.Dropdown(_head_choices(12), value=AVERAGE, label="Head")
    main_map = gr.Plot(value=placeholder("Press “Show attention”."), label="Attention", elem_id="attn-map")
    table = gr.Dataframe(headers=["head", "entropy (bits)", "main pattern (share of attention)",
                                  "tokens it attends to most (mean weight)"],
                         label="This layer's heads (Clark et al. 2019: many heads look at [SEP], "
                               "[CLS] or the next/previous token)",
                         interactive=False, elem_id="attn-heads-table")
    grid = gr.Plot(placeholder("Press “Show attention”."), label="Layers × heads", elem_id="attn-grid")
    entropy = gr.Plot(placeholder("Press “Show attention”."), label="Entropy", elem_id="attn-entropy")
    code = code_panel(model_code(models[0], EXAMPLE, "", 128, 0, AVERAGE))

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

    inputs = [model, text, text_b, max_tokens, layer, head]
    outputs = [main_map, grid, entropy, table, notes, code, layer, head]
    run.click(on_model, inputs, outputs, api_name="model_attention", **queues.MODEL)
    # Layer and head redraw everything from the current text: one source of truth.
    # always_last: a release made while the last one is drawing is drawn after it, never dropped.
    gr.on([layer.release, head.input], on_model, inputs, outputs, api_name="model_attention_select",
          trigger_mode="always_last", **queues.MODEL)
    draw.click(on_bertviz, [view, *inputs], [frame, bv_notes], api_name="bertviz", **queues.MODEL)
    # A new text makes the drawn view stale: clear it rather than show the old sentence.
    gr.on([text.change, text_b.change, model.change], clear_bertviz, None, [frame, bv_notes],
          api_visibility="private", **queues.CHEAP)


def build(demo: gr.Blocks) -> None:
    """Lay out the tab inside ``demo`` (the app being built) and wire its events."""
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        lesson(
            "**Attention** lets every token build its new vector as a weighted average of all "
            "tokens' *values*. The weights come from how well its *query* matches each *key*: "
            "softmax(Q·Kᵀ/√d_k). Below, first do it by hand on your sentence (with random "
            "projections), then look inside real transformers: all-MiniLM-L6-v2 (a small pretrained "
            "BERT) and a tiny GPT this repo trained on movie reviews, layer by layer and head by head.",
            TRY_THIS,
            PAPERS,
        )
        with gr.Tabs():
            with gr.Tab("① By hand", id="attention-hand"):
                _build_by_hand()
            with gr.Tab("② Inside a real model", id="attention-model"):
                _build_real_model()
