"""Tokenizers: text → subword tokens → ids, and back."""

from __future__ import annotations

import html

import gradio as gr

from components.code_panel import code_panel
from components.errors import user_errors
from components.lesson import lesson
from playground.service.model_service import DEFAULT_ENCODER, get_service
from playground.text.tokenization import TokenView, display_token, tokenize

TAB_ID = "tokenizers"
TITLE = "Tokenizers"
EXAMPLE = "Transformers don't read words: they read subword tokens like un·believ·able!"
# Light, distinct backgrounds so neighbouring chips can be told apart on a projector.
CHIP_COLOURS = ["#dbeafe", "#dcfce7", "#fef3c7", "#fce7f3", "#ede9fe", "#cffafe", "#ffedd5"]


def chips_html(view: TokenView) -> str:
    """Tokens as coloured chips with their ids; special tokens dark, padding faded."""
    chips = []
    for k, (token, token_id, special, mask) in enumerate(
            zip(view.tokens, view.ids, view.special, view.attention_mask)):
        classes = "chip" + (" special" if special else "") + ("" if mask else " masked")
        colour = CHIP_COLOURS[k % len(CHIP_COLOURS)]
        chips.append(f'<span class="{classes}" style="background:{colour}" title="position {k}">'
                     f"{html.escape(display_token(token))}<small>{token_id}</small></span>")
    return f'<div class="chips">{"".join(chips)}</div>'


def summary_markdown(view: TokenView) -> str:
    n_special = sum(view.special)
    lines = [f"**{len(view.ids)} tokens** ({n_special} special, "
             f"{len(view.text)} characters → {len(view.text) / max(1, len(view.ids) - n_special):.1f} "
             "characters per token)."]
    if view.truncated:
        lines.append(f"⚠️ The text needs {view.n_tokens_full} tokens; only the first "
                     f"{view.max_tokens} are kept (the model's limit). The rest is cut off.")
    lines.append(f"**Attention mask:** `{list(view.attention_mask)}`")
    if view.round_trip_exact:
        lines.append("**Round trip** (ids → text): exact.")
    else:
        lines.append("**Round trip** (ids → text): not exact. The tokenizer normalises text first "
                     "(e.g. lower-case, accents removed) and unknown characters become `[UNK]`.")
    return "\n\n".join(lines)


def code_for(model_id: str, text: str) -> str:
    return (
        "from transformers import AutoTokenizer\n\n"
        f"tokenizer = AutoTokenizer.from_pretrained({model_id!r})\n"
        f"enc = tokenizer({text[:200]!r}, truncation=True)\n"
        'print(tokenizer.convert_ids_to_tokens(enc["input_ids"]))\n'
        'print(enc["input_ids"], enc["attention_mask"])\n'
        'print(tokenizer.decode(enc["input_ids"], skip_special_tokens=True))\n'
    )


@user_errors
def on_tokenize(text: str, model_id: str, max_tokens: float) -> tuple[str, str, str, str]:
    """Tokenize and return (chips html, summary, round-trip text, code)."""
    tokenizer = get_service().load_tokenizer(model_id)
    view = tokenize(tokenizer, text, int(max_tokens))
    return chips_html(view), summary_markdown(view), view.decoded, code_for(model_id, text)


def build(demo: gr.Blocks) -> None:
    """Lay out the tab inside ``demo`` (the app being built) and wire its events."""
    models = get_service().available_ids("tokenizer") or [DEFAULT_ENCODER]
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}") as tab:
        lesson(
            "A model never sees letters. A **tokenizer** cuts text into pieces from a fixed "
            "vocabulary and maps each to an integer id. Frequent words are one token; rare "
            "words are split into subwords (`##` marks a piece that continues a word). Dark chips "
            "are **special tokens** the model expects: `[CLS]` starts, `[SEP]` ends a sentence.",
            ["Type a rare or made-up word (\"hyperquantumization\"): how many pieces?",
             "Type the same sentence in capitals: this tokenizer lower-cases, so is the round trip exact?",
             "Paste an emoji or Arabic text: which characters become `[UNK]`?",
             "Lower *max tokens* to 8 and watch the text get cut off."],
            [("Sennrich et al. 2016: subword units (BPE)", "https://arxiv.org/abs/1508.07909"),
             ("Wu et al. 2016: WordPiece", "https://arxiv.org/abs/1609.08144"),
             ("Hugging Face course: tokenizers", "https://huggingface.co/learn/llm-course/chapter2/4")],
        )
        with gr.Row():
            with gr.Column(scale=3):
                text = gr.Textbox(label="Text", value=EXAMPLE, lines=3, max_length=20_000)
            with gr.Column(scale=2):
                model = gr.Dropdown(models, value=models[0], label="Tokenizer (or a hub id when online)",
                                    allow_custom_value=True)
                max_tokens = gr.Slider(2, 512, value=128, step=1, label="Max tokens")
                run = gr.Button("Tokenize", variant="primary", elem_id="tokenize-btn")
        chips = gr.HTML(elem_id="token-chips")
        summary = gr.Markdown()
        decoded = gr.Textbox(label="Round trip: ids → text", interactive=False)
        code = code_panel(code_for(models[0], EXAMPLE))
    inputs = [text, model, max_tokens]
    outputs = [chips, summary, decoded, code]
    run.click(on_tokenize, inputs, outputs, api_name="tokenize")
    text.submit(on_tokenize, inputs, outputs, api_visibility="private")
    # Show the example's tokens as soon as the student opens the tab.
    tab.select(on_tokenize, inputs, outputs, api_visibility="private")
