"""Lesson links into the Pipelines lab: its settings → a link (the live app's /pipelines_link
endpoint) → a fresh session with the same settings and the same run; bad values ignored with
a note; the sentiment question answered from the run; and once in Chromium: a link with
hidden controls opens the lab as set up, and a prediction is answered."""

from __future__ import annotations

import urllib.parse

import gradio as gr
import pytest

from components import pipelines_tab as tab
from components.links import read_link
from playground.hf import pipelines as pl
from tests.conftest import (
    assert_link_refuses, browser_prediction_holds, lab_in_fresh_blocks, link_round_trip, restored_settings,
)

# A teacher's setup: every setting away from its default (the tiny GPT, not the default SmolLM2).
SETTINGS = dict(task="text-generation", model=pl.GPT2_MODEL, text="the acting was", labels="happy, sad",
                template="It is {}.", tokens=12, temperature=1.1, top_k=20, top_p=0.9, seed=4)


@pytest.fixture(scope="module")
def fresh_lab():
    return lab_in_fresh_blocks(tab)


def run_with(settings: dict) -> tab.RunView:
    return tab.on_run(settings["task"], settings["model"], settings["text"], settings["labels"],
                      settings["template"], settings["tokens"], settings["temperature"], settings["top_k"],
                      settings["top_p"], settings["seed"], None, None)


def test_round_trip_through_the_api_gives_the_same_settings_and_result(client, fresh_lab):
    setup, parents = fresh_lab
    restored = link_round_trip(client, setup, parents, SETTINGS, ["model", "seed"])
    # the restored lab shows the generation controls and keeps the link's model and prompt
    view = tab.on_link_task(restored["task"], restored["model"])
    assert view.model.value == pl.GPT2_MODEL and pl.GPT2_MODEL in [v for _, v in view.model.choices]
    assert "value" not in view.text and view.sampling_group.visible and not view.sentiment_question.visible
    assert "press **Run the pipeline**" in tab.on_link_summary(restored["task"])
    again, direct = run_with(restored), run_with(SETTINGS)
    assert again.detail_html["value"] == direct.detail_html["value"] and again.code == direct.code
    assert "temperature=1.1" in direct.code and "top_k=20" in direct.code


def test_a_link_names_any_task_and_its_model(fresh_lab):
    setup, parents = fresh_lab
    link = read_link({"tab": tab.TAB_ID, "task": "image-classification", "model": pl.DIGITS_MODEL},
                     parents, [setup])
    assert link.note == "" and restored_settings(setup, link.updates) == dict(
        task="image-classification", model=pl.DIGITS_MODEL)
    view = tab.on_link_task("image-classification", pl.DIGITS_MODEL)
    assert view.image_group.visible and view.text["visible"] is False
    assert "cannot carry a picture" in tab.on_link_summary("image-classification")  # and the lab says so
    assert "cannot carry a picture" in tab.task_markdown("image-classification")
    # a model of another task: the link takes it, the run says what fits
    with pytest.raises(gr.Error, match="cannot do 'sentiment-analysis'"):
        run_with(dict(SETTINGS, task="sentiment-analysis", model=pl.GPT2_MODEL))


def test_bad_values_in_a_link_are_ignored_with_a_note(fresh_lab):
    setup, parents = fresh_lab
    params = {"tab": tab.TAB_ID, "task": "translation", "model": "/etc/passwd", "tokens": "1000",
              "temperature": "hot", "text": "x" * 5_000, "upload": "/etc/passwd", "hide": "sketch"}
    assert_link_refuses(setup, parents, params, {"tokens": 60}, [  # clamped into the slider's range
        "Max new tokens was set to 60", "ignored task", "ignored model", "ignored temperature", "ignored text",
        "“upload”", "cannot hide “sketch”"])
    # a hub id the lab does not list is a free value: refused, like any path
    assert "ignored model" in read_link({"tab": tab.TAB_ID, "model": "someone/any-model"}, parents,
                                        [setup]).note


# --- predict, then reveal: the answer comes from the run ------------------------------------------

@pytest.mark.parametrize("first_line, answer", [("I was not disappointed.", "Negative"),
                                                ("not bad at all", "Positive")])
def test_sentiment_question_is_answered_by_the_run(first_line, answer):
    view = tab.on_run("sentiment-analysis", pl.SENTIMENT_MODEL, f"{first_line}\nAn absolute delight.", "", "",
                      10, 0.8, 40, 0.95, 0, None, None)
    assert view.outcome.correct == answer and first_line in view.outcome.evidence
    other = next(choice for choice in tab.SENTIMENT_CHOICES.values() if choice != answer)
    verdict, tally = tab.on_reveal_sentiment(answer, view.outcome, tab.Tally())
    assert verdict.startswith("✅ Your prediction held") and "1 of 1 right" in verdict
    verdict, tally = tab.on_reveal_sentiment(other, view.outcome, tab.Tally())
    assert f"the answer is **{answer}**" in verdict and "0 of 1 right" in verdict
    # the other tasks do not ask it
    assert run_with(SETTINGS).outcome is None
    assert tab.on_reveal_sentiment(answer, None, tally) == ("", tally)


def test_browser_opens_a_lesson_link_with_hidden_controls_and_a_prediction(page):
    query = "?" + urllib.parse.urlencode({"tab": tab.TAB_ID, "task": "sentiment-analysis",
                                          "text": "I was not disappointed.", "hide": "model"})
    page.open(query)
    p = page.page
    p.locator("#pl-summary").get_by_text("Set up by your teacher's link").wait_for(timeout=60_000)
    assert p.locator("#pl-text textarea").input_value() == "I was not disappointed."
    assert not p.locator("#pl-model").is_visible() and p.locator("#pl-task").is_visible()
    assert p.locator("#link-note").is_hidden()  # nothing in the link was refused
    browser_prediction_holds(page, p.locator("#pl-question").get_by_label("Negative"), p.locator("#pl-run"),
                             "pipelines-lesson-link", timeout_ms=240_000)  # the model loads on a busy machine
    assert "NEGATIVE" in p.locator("#pl-summary").inner_text()
