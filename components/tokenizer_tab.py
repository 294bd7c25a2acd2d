"""Tokenizers: text → subword tokens → ids, and back.
Issue 18: a lesson link restores the text, tokenizer, Max tokens and the question's word;
the student predicts how many tokens a word becomes, and which tokenizer needs the fewest
tokens for the text, before the lab answers from the tokenizers' own output; the code panel
downloads as a notebook."""

from __future__ import annotations

import html

import gradio as gr

from components import queues
from components.code_panel import code_panel, model_folder_code
from components.errors import user_errors
from components.lesson import lesson, lesson_markdown
from components.links import LabSetup, lab_setup
from components.predict import Outcome, Tally, ask, reveal
from playground.service.model_service import DEFAULT_ENCODER, get_service
from playground.text.tokenization import (
    TokenView, WordPieces, display_token, text_token_count, tokenize, word_pieces,
)

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
LESSON_WHAT = (
    "A model never sees letters. A **tokenizer** cuts text into pieces from a fixed "
    "vocabulary and maps each to an integer id. Frequent words are one token; rare "
    "words are split into subwords (`##` marks a piece that continues a word). Dark chips "
    "are **special tokens** the model expects: `[CLS]` starts, `[SEP]` ends a sentence. "
    "Under each chip: its id and the characters of your text it came from.")
PAPERS = [("Sennrich et al. 2016: subword units (BPE)", "https://arxiv.org/abs/1508.07909"),
          ("Wu et al. 2016: WordPiece", "https://arxiv.org/abs/1609.08144"),
          ("Hugging Face course: tokenizers", "https://huggingface.co/learn/llm-course/chapter2/4")]
LESSON_MD = lesson_markdown(LESSON_WHAT, TRY_THIS, PAPERS)  # the notebook's first cell
DEFAULT_WORD = "unbelievable"  # one token in MiniLM, two in SmolLM2 (mid-sentence): not in EXAMPLE
WORD_QUESTION = "tokenizers-word"
WORD_ASK = ("How many tokens will the word in the box on the left become with this tokenizer? "
            "Choose, and the lab tokenizes.")
WORD_CHOICES = ["One token", "Two tokens", "Three or more"]
FEWEST_QUESTION = "tokenizers-fewest"
FEWEST_ASK = ("Which tokenizer cuts this text into the fewest tokens (special tokens not counted)? "
              "Choose, and the lab counts with each.")
TIE = "A tie"


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


# --- predict, then reveal ---------------------------------------------------------------------

def word_outcome(pieces: WordPieces, model_id: str) -> Outcome:
    """The tokenizer's answer: how many tokens the word became, and which."""
    n = len(pieces.tokens)
    shown = " · ".join(f"`{display_token(token)}`" for token in pieces.tokens)
    where = ("in your text" if pieces.in_text else
             "(not in your text, so tokenized on its own after a space, as in the middle of a sentence)")
    return Outcome(WORD_CHOICES[min(n, 3) - 1],
                   f"With {model_id}, “{pieces.word}” {where} is **{n} token{'s' * (n != 1)}**: {shown}.")


@user_errors
def on_reveal_word(choice: str | None, text: str, model_id: str, max_tokens: float, word: str,
                   tally: Tally) -> tuple[str, Tally]:
    """After a tokenization: the verdict on the student's prediction (nothing before one, so
    opening the tab does not give the answer away). Tokenizing again costs microseconds and
    gives exactly the tokens of the chips."""
    if not choice:
        return "", tally
    tokenizer = get_service().load_tokenizer(model_id)
    view = tokenize(tokenizer, text, int(max_tokens))
    pieces = word_pieces(tokenizer, view, word)
    if pieces is None:
        return (f"“{html.escape(word.strip())}” comes after the {view.max_tokens} tokens kept: "
                "raise Max tokens to see it."), tally
    return reveal(WORD_QUESTION, choice, word_outcome(pieces, model_id), tally)


def compared_tokenizers() -> list[str]:
    """The tokenizers the fewest-tokens question compares: the first three of the list (a
    question has at most four choices, the fourth is a tie)."""
    return (get_service().available_ids("tokenizer") or [DEFAULT_ENCODER])[:3]


def short_name(model_id: str) -> str:
    return model_id.rsplit("/", 1)[-1]


def fewest_outcome(counts: dict[str, int]) -> Outcome:
    """The tokenizers' answer: which one needs the fewest tokens (a tie if several do)."""
    least = min(counts.values())
    winners = [model_id for model_id, n in counts.items() if n == least]
    listed = " · ".join(f"{short_name(model_id)} **{n}**" for model_id, n in counts.items())
    return Outcome(short_name(winners[0]) if len(winners) == 1 else TIE, f"Tokens for this text: {listed}.")


@user_errors
def on_reveal_fewest(choice: str | None, text: str, tally: Tally) -> tuple[str, Tally]:
    """After a tokenization: the verdict on which tokenizer needs the fewest tokens, counted
    with each (nothing before a prediction)."""
    if not choice:
        return "", tally
    service = get_service()
    counts = {model_id: text_token_count(service.load_tokenizer(model_id), text)
              for model_id in compared_tokenizers()}
    return reveal(FEWEST_QUESTION, choice, fewest_outcome(counts), tally)


# --- layout -----------------------------------------------------------------------------------

def build(demo: gr.Blocks) -> LabSetup:
    """Lay out the tab inside ``demo`` (the app being built), wire its events, and return
    what a lesson link can set in it."""
    models = get_service().available_ids("tokenizer") or [DEFAULT_ENCODER]
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}") as tab:
        lesson(LESSON_WHAT, TRY_THIS, PAPERS)
        with gr.Row():
            with gr.Column(scale=3):
                text = gr.Textbox(label="Text", value=EXAMPLE, lines=3, max_length=20_000, elem_id="tok-text")
            with gr.Column(scale=2):
                model = gr.Dropdown(models, value=models[0], label="Tokenizer (or a hub id when online)",
                                    allow_custom_value=True, elem_id="tok-model")
                max_tokens = gr.Slider(2, 512, value=128, step=1, label="Max tokens", elem_id="tok-max")
                run = gr.Button("Tokenize", variant="primary", elem_id="tokenize-btn")
        with gr.Row(equal_height=True):
            word = gr.Textbox(DEFAULT_WORD, label="A word (press Enter)", max_length=60, scale=1,
                              elem_id="tok-word")
            with gr.Column(scale=3):
                word_q = ask(WORD_QUESTION, WORD_ASK, WORD_CHOICES)
        fewest_q = ask(FEWEST_QUESTION, FEWEST_ASK, [*map(short_name, compared_tokenizers()), TIE])
        chips = gr.HTML(elem_id="token-chips")
        summary = gr.Markdown(elem_id="token-summary")
        decoded = gr.Textbox(label="Round trip: ids → text", interactive=False)
        code = code_panel(code_for(models[0], EXAMPLE, 128), title=TITLE, lesson=LESSON_MD)
        setup = lab_setup(TAB_ID, {"text": text, "tokenizer": model, "max": max_tokens, "word": word})
    inputs = [text, model, max_tokens]
    outputs = [chips, summary, decoded, code]
    reveal_word = dict(fn=on_reveal_word, inputs=[word_q.choice, *inputs, word, word_q.tally],
                       outputs=[word_q.verdict, word_q.tally], api_visibility="private", **queues.CHEAP)
    reveal_fewest = dict(fn=on_reveal_fewest, inputs=[fewest_q.choice, text, fewest_q.tally],
                         outputs=[fewest_q.verdict, fewest_q.tally], api_visibility="private", **queues.CHEAP)
    run.click(on_tokenize, inputs, outputs, api_name="tokenize", **queues.CHEAP
              ).then(**reveal_word).then(**reveal_fewest)
    # Enter, a tokenizer picked from the list, a released Max tokens slider, a prediction or a
    # new word tokenize again (.select/.input: a value a lesson link sets does not fire them).
    gr.on([text.submit, model.select, max_tokens.release, word_q.choice.input, word.submit,
           fewest_q.choice.input], on_tokenize, inputs, outputs, api_visibility="private",
          trigger_mode="always_last", **queues.CHEAP).then(**reveal_word).then(**reveal_fewest)
    # Show the example's tokens as soon as the student opens the tab, or a link set it up.
    for opened in (tab.select, setup.restored.change):
        opened(on_tokenize, inputs, outputs, api_visibility="private", **queues.CHEAP
               ).then(**reveal_word).then(**reveal_fewest)
    return setup
