"""Tokenizers: text → subword tokens → ids, and back."""

from __future__ import annotations

import html

import gradio as gr

from components import queues
from components.code_panel import code_panel, model_folder_code
from components.errors import user_errors
from components.lesson import lesson
from playground.service.model_service import DEFAULT_ENCODER, get_service
from playground.text.tokenization import TokenView, display_token, tokenize

TAB_ID = "tokenizers"
TITLE = "Tokenizers"
# Ordinary words stay whole; a rarer word and a made-up one are cut into pieces.
EXAMPLE = "Tokenizers split unbelievably rare words like hyperquantumization into pieces."
# Light, distinct backgrounds so neighbouring chips can be told apart on a projector.
CHIP_COLOURS = ["#dbeafe", "#dcfce7", "#fef3c7", "#fce7f3", "#ede9fe", "#cffafe", "#ffedd5"]
BYTE_LEVEL_NOTE = (
    "**Byte-level BPE** (GPT-2 style) cuts the text's UTF-8 **bytes**, not its letters, so it never "
    "needs `[UNK]`. To print a byte it uses a visible stand-in character: `Ġ` is a space (drawn `␣` on "
    "the chips), `Ċ` a newline, and a letter outside ASCII takes two or more symbols (`é` is the bytes "
    "C3 A9, printed `Ã©`; an emoji is 4). The grey line under each chip is the text it came from.")
TRY_THIS = [
    "Type a rare or made-up word (\"hyperquantumization\"): how many pieces? `##` marks a piece that "
    "continues a word.",
    "Type the sentence in CAPITALS: MiniLM lower-cases first, so the tokens and ids do not change at all. "
    "Now choose **neural-playground/reviews-gpt2** (case-sensitive): how many more tokens do capitals take?",
    "Paste an emoji (😀): MiniLM's WordPiece turns it into `[UNK]`; reviews-gpt2's byte-level BPE splits it "
    "into its 4 bytes and never needs `[UNK]`.",
    "Lower *max tokens* to 8 and watch the text get cut off.",
]


def chips_html(view: TokenView) -> str:
    """Tokens as coloured chips with their ids and the text each came from; special tokens
    dark, padding faded."""
    chips = []
    for k, (token, token_id, special, mask, span, (a, b)) in enumerate(
            zip(view.tokens, view.ids, view.special, view.attention_mask, view.spans, view.offsets)):
        classes = "chip" + (" special" if special else "") + ("" if mask else " masked")
        colour = CHIP_COLOURS[k % len(CHIP_COLOURS)]
        source = "" if special else (f'<em style="font-style:normal;font-size:0.7rem;color:#64748b;'
                                     f'margin-top:2px;white-space:pre">“{html.escape(span)}”</em>')
        where = f"characters {a}–{b}" if not special else "special token"
        chips.append(f'<span class="{classes}" style="background:{colour}" title="position {k}, {where}">'
                     f"{html.escape(display_token(token))}<small>{token_id}</small>{source}</span>")
    return f'<div class="chips">{"".join(chips)}</div>'


def summary_markdown(view: TokenView) -> str:
    n_special = sum(view.special)
    lines = [f"**{len(view.ids)} tokens** ({n_special} special); the text they cover has "
             f"**{view.chars_per_token:.1f} characters per token**."]
    if view.truncated:
        lines.append(f"⚠️ The text needs {view.n_tokens_full} tokens; only the first "
                     f"{view.max_tokens} are kept (the Max tokens setting or the model's limit). "
                     "The rest is cut off.")
    lines.append(f"**Attention mask:** `{list(view.attention_mask)}`")
    if view.round_trip_exact:
        lines.append("**Round trip** (ids → text): exact.")
    elif view.truncated:
        lines.append("**Round trip** (ids → text): only the kept tokens come back.")
    else:
        lines.append("**Round trip** (ids → text): not exact. The tokenizer normalises text first "
                     "(e.g. lower-case, accents removed) and unknown characters become `[UNK]`.")
    if view.byte_level:
        lines.append(BYTE_LEVEL_NOTE)
    return "\n\n".join(lines)


def code_for(model_id: str, text: str, max_tokens: int) -> str:
    """Plain transformers, loading a packaged tokenizer from its folder on this machine."""
    return (
        "import importlib.util, pathlib\nfrom transformers import AutoTokenizer\n\n"
        f"{model_folder_code(model_id)}"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        f"enc = tokenizer({text!r}, truncation=True, max_length={max_tokens},\n"
        "                return_offsets_mapping=True)\n"
        'print(tokenizer.convert_ids_to_tokens(enc["input_ids"]))\n'
        'print(enc["input_ids"])\n'
        'print(enc["offset_mapping"])                      # each token\'s characters in the text\n'
        'print(tokenizer.decode(enc["input_ids"], skip_special_tokens=True))\n'
    )


@user_errors
def on_tokenize(text: str, model_id: str, max_tokens: float) -> tuple[str, str, str, str]:
    """Tokenize and return (chips html, summary, round-trip text, code)."""
    tokenizer = get_service().load_tokenizer(model_id)
    view = tokenize(tokenizer, text, int(max_tokens))
    return (chips_html(view), summary_markdown(view), view.decoded,
            code_for(model_id, view.text, view.max_tokens))


def build(demo: gr.Blocks) -> None:
    """Lay out the tab inside ``demo`` (the app being built) and wire its events."""
    models = get_service().available_ids("tokenizer") or [DEFAULT_ENCODER]
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}") as tab:
        lesson(
            "A model never sees letters. A **tokenizer** cuts text into pieces from a fixed "
            "vocabulary and maps each to an integer id. Frequent words are one token; rare "
            "words are split into subwords (`##` marks a piece that continues a word). Dark chips "
            "are **special tokens** the model expects: `[CLS]` starts, `[SEP]` ends a sentence. "
            "Under each chip: its id and the characters of your text it came from.",
            TRY_THIS,
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
        summary = gr.Markdown(elem_id="token-summary")
        decoded = gr.Textbox(label="Round trip: ids → text", interactive=False)
        code = code_panel(code_for(models[0], EXAMPLE, 128))
    inputs = [text, model, max_tokens]
    outputs = [chips, summary, decoded, code]
    run.click(on_tokenize, inputs, outputs, api_name="tokenize", **queues.CHEAP)
    # Enter, a tokenizer picked from the list or a released Max tokens slider tokenize again.
    gr.on([text.submit, model.select, max_tokens.release], on_tokenize, inputs, outputs,
          api_visibility="private", trigger_mode="always_last", **queues.CHEAP)
    # Show the example's tokens as soon as the student opens the tab.
    tab.select(on_tokenize, inputs, outputs, api_visibility="private", **queues.CHEAP)
