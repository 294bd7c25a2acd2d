"""Lesson links into the Tokenizers lab: its settings → a link (the live app's
/tokenizers_link endpoint) → a fresh session with the same settings and the same tokens;
bad values ignored with a note; and once in Chromium: a link with hidden controls opens the
lab as set up, and the word question is answered."""

from __future__ import annotations

import urllib.parse

import pytest

from components import tokenizer_tab as tab
from components.links import read_link
from components.predict import Tally
from tests.conftest import assert_link_refuses, assert_not_blank, lab_in_fresh_blocks, link_round_trip

GPT = "neural-playground/reviews-gpt2"
# A teacher's setup: every setting away from its default.
SETTINGS = dict(text="Unbelievable: tokenizers cut rare words.", tokenizer=GPT, max=40, word="tokenizers")


@pytest.fixture(scope="module")
def fresh_lab():
    return lab_in_fresh_blocks(tab)


def lab_result(settings: dict) -> tuple:
    """What the lab shows for these settings: the tokenization and the word question's verdict."""
    run = tab.on_tokenize(settings["text"], settings["tokenizer"], settings["max"])
    verdict, _ = tab.on_reveal_word("Three or more", settings["text"], settings["tokenizer"], settings["max"],
                                    settings["word"], Tally())
    return run, verdict


def test_round_trip_through_the_api_gives_the_same_settings_and_result(client, fresh_lab):
    restored = link_round_trip(client, *fresh_lab, SETTINGS, ["max", "tokenizer"])
    (chips, summary, decoded, code), verdict = lab_result(restored)
    assert ((chips, summary, decoded, code), verdict) == lab_result(SETTINGS)
    assert decoded == SETTINGS["text"] and "max_length=40" in code and GPT in verdict


def test_bad_values_in_a_link_are_ignored_with_a_note(fresh_lab):
    setup, parents = fresh_lab
    params = {"tab": "tokenizers", "tokenizer": "../../etc/passwd", "max": "100000", "text": "x" * 5_000,
              "word": "", "path": "/etc/passwd", "hide": "max,secret"}
    assert_link_refuses(setup, parents, params, {"max": 512},  # clamped into the slider's range (and said)
                        ["Max tokens was set to 512", "ignored tokenizer", "ignored text", "ignored word",
                         "“path”", "cannot hide “secret”"])
    # a hub id is a free value, not one of the list's tokenizers: never taken from a link
    assert "ignored tokenizer" in read_link({"tab": "tokenizers", "tokenizer": "gpt2"}, parents, [setup]).note


def test_browser_opens_a_lesson_link_with_hidden_controls_and_a_prediction(page):
    text = "Unbelievable! An unbelievable tokenizer."
    query = "?" + urllib.parse.urlencode({"tab": "tokenizers", "text": text, "tokenizer": GPT,
                                          "word": "unbelievable", "hide": "tokenizer,max"})
    page.open(query)
    p = page.page
    chips = p.locator("#token-chips")
    chips.get_by_text("belie").first.wait_for(timeout=60_000)  # the restored run: reviews-gpt2's pieces
    assert "[CLS]" not in chips.text_content()  # not MiniLM's
    assert p.locator("#tok-text textarea").input_value() == text
    assert not p.locator("#tok-model").is_visible() and not p.locator("#tok-max").is_visible()
    assert p.locator("#tok-word").is_visible() and p.locator("#link-note").is_hidden()
    p.get_by_label("Three or more").check()  # predicting runs the lab
    p.get_by_text("Your prediction held").wait_for(timeout=30_000)
    assert p.get_by_text("is 4 tokens").is_visible() and p.get_by_text("1 of 1 right").is_visible()
    path = page.screenshot("tokenizers-lesson-link")
    assert_not_blank(path)
    assert not page.console_errors and not page.outside_requests
