"""Tokenization core and the Tokenizers tab's handler."""

from __future__ import annotations

import gradio as gr
import pytest

from components.tokenizer_tab import chips_html, on_tokenize
from playground.service.model_service import DEFAULT_ENCODER, get_service
from playground.text.tokenization import display_token, tokenize


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
    assert "AutoTokenizer.from_pretrained" in code and DEFAULT_ENCODER in code


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
