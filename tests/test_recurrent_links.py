"""Lesson links into the RNN & LSTM lab: its settings → a link (the live app's
/recurrent_link endpoint) → a fresh session with the same settings and the same result;
a link naming a sub-tab; bad values ignored with a note; and once in Chromium: a link with
hidden controls opens the lab as set up, and a prediction is answered."""

from __future__ import annotations

import json
import urllib.parse

import gradio as gr
import pytest

from components import recurrent_tab as tab
from components.links import read_link
from tests.conftest import (assert_link_refuses, browser_prediction_holds, lab_in_fresh_blocks, link_round_trip,
                            restored_settings)

# A teacher's setup: every setting away from its default, the gradients sub-tab open.
SETTINGS = dict(cell="gru", input="chars", text="B0123012301", weights="random", seed=3, hidden=6,
                set_radius=True, radius=1.5, set_forget=False, forget_bias=-2.0, unit=2,
                view="recurrent-gradients", n=12, race_hidden=6, steps=100, race_seed=4, curriculum=False)


@pytest.fixture(scope="module")
def fresh_lab():
    return lab_in_fresh_blocks(tab)


def stepper_result(settings: dict) -> tuple[str, dict]:
    """What the lab shows for these settings (its first view after a link): the note and the
    gradient curves of the Vanishing gradients sub-tab."""
    view = tab.on_reset(settings["cell"], settings["input"], settings["text"], settings["weights"],
                        settings["seed"], settings["hidden"], settings["set_radius"], settings["radius"],
                        settings["set_forget"], settings["forget_bias"], settings["unit"], None)
    gradients = json.loads(tab.on_analysis(view.stepper, None).gradients.to_json())
    return view.note, {trace["name"]: trace["y"] for trace in gradients["data"]}


def test_round_trip_through_the_api_gives_the_same_settings_and_result(client, fresh_lab):
    restored = link_round_trip(client, *fresh_lab, SETTINGS, ["hidden", "seed"])
    note, curves = stepper_result(restored)
    assert (note, curves) == stepper_result(SETTINGS)
    assert "seed 3" in note and "spectral radius 1.5" in note
    assert tab.open_view(SETTINGS["view"]).selected == "recurrent-gradients"  # the restored sub-tab


def test_the_hide_list_offers_every_control_but_the_sub_tab(fresh_lab):
    setup, _ = fresh_lab
    offered = [value for _, value in setup.hide.choices]
    assert offered == [name for name in SETTINGS if name != "view"]  # the open sub-tab is no control


def test_a_link_may_name_a_sub_tab_of_the_lab(fresh_lab):
    setup, parents = fresh_lab
    link = read_link({"tab": "recurrent-race", "n": "5", "steps": "50", "curriculum": "0"}, parents, [setup])
    assert (link.lab, link.sub_tab, link.note) == (tab.TAB_ID, "recurrent-race", "")
    assert restored_settings(setup, link.updates) == dict(n=5, steps=50, curriculum=False)
    assert tab.open_view(None).selected is None  # the link's own sub-tab is left to the page


def test_bad_values_in_a_link_are_ignored_with_a_note(fresh_lab):
    setup, parents = fresh_lab
    params = {"tab": "recurrent", "cell": "transformer", "view": "../../etc/passwd", "n": "1000",
              "radius": "nan", "text": "C0" * 5_000, "set_forget": "maybe", "path": "/etc/passwd"}
    assert_link_refuses(setup, parents, params, {"n": 100},  # clamped into the slider's range (and said)
                        ["N distractors was set to 100", "ignored cell", "ignored view", "ignored radius",
                         "ignored text", "ignored set_forget", "“path”"])
    # a text the link takes but the lab refuses: the lab's own message when it runs
    text = restored_settings(setup, read_link({"tab": "recurrent", "text": "C0" * 60}, parents,
                                              [setup]).updates)["text"]
    with pytest.raises(gr.Error, match="at most 100"):
        tab.on_reset("lstm", "chars", text, "random", 0, 4, False, 1.0, False, 0.0, 1, None)


def test_browser_opens_a_lesson_link_with_hidden_controls_and_a_prediction(page):
    query = "?" + urllib.parse.urlencode({
        "tab": "recurrent", "text": "A0123012301", "seed": "3", "set_forget": "1", "forget_bias": "-3",
        "view": "recurrent-step", "hide": "hidden,seed"})
    page.open(query)
    p = page.page
    note = p.locator("#rec-note")
    note.get_by_text("Random weights (seed 3)").wait_for(timeout=60_000)  # the restored run
    assert "forget-gate bias set to -3" in note.text_content()
    assert p.locator("#rec-text textarea").input_value() == "A0123012301"
    assert not p.locator("#rec-seed").is_visible() and not p.locator("#rec-hidden").is_visible()
    assert p.locator("#link-note").is_hidden()  # nothing in the link was refused
    # predict first, then run
    browser_prediction_holds(page, p.get_by_label("Under 10 %"), p.locator("#rec-end"), "recurrent-lesson-link",
                             30_000)
