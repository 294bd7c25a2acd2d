"""Lesson links into the LLM lab and its predictions: the lab's settings → a link (the live
app's /llm_link endpoint) → a fresh session with the same settings and the same result; a
link naming a sub-tab; bad values ignored with a note; each question's answer computed from
the run (two settings with different answers each); and once in Chromium: a link with hidden
controls opens the lab as set up, and a prediction is answered."""

from __future__ import annotations

import re
import urllib.parse

import numpy as np
import pytest

# The core first: the tab binds it lazily (components.lazy).
from playground.transformer import llm  # isort: skip
from components import llm_tab as tab  # isort: skip
from components.links import read_link
from components.predict import Tally
from playground.service.model_service import SMOLLM2
from tests.conftest import assert_not_blank, lab_in_fresh_blocks, restored_settings

# A teacher's setup: every setting away from its default, the logit-lens sub-tab open.
SETTINGS = dict(model=SMOLLM2, prompt="Once upon a time, there was a", chat=True, temperature=0.7, topk=40,
                topp=0.9, seed=5, tokens=30, attention=True, layer=12, position=3, view="llm-lens-view")
VIEW_SETTINGS = ("temperature", "topk", "topp", "seed", "position", "layer", "attention")
PLAIN = dict(temperature=1.0, topk=0, topp=1.0, seed=0, position=-1, layer=6, attention=False)


@pytest.fixture(scope="module")
def fresh_lab():
    """The lab built in a new Blocks: its LabSetup and the app's tab ids → lab."""
    return lab_in_fresh_blocks(tab)


def view_args(settings: dict) -> tuple:
    values = {**PLAIN, **settings}
    return tuple(values[name] for name in VIEW_SETTINGS)


def first_view(settings: dict) -> tab.View:
    """What the lab shows for these settings after a link: Next token pressed once."""
    return tab.on_start(settings["model"], settings["prompt"], settings["chat"], *view_args(settings))


def shown(view: tab.View) -> tuple:
    return (view.text, view.notes, view.bars.to_json(), view.lens.to_json(), view.attention.to_json(),
            view.residual.to_json(), view.code_next, view.code_generate)


def open_link(client, setup, parents, hide: list[str]) -> tuple[dict, object]:
    """SETTINGS through the live app's /llm_link, then what a fresh session does on page load."""
    params = dict(urllib.parse.parse_qsl(client.predict(*SETTINGS.values(), hide, api_name="/llm_link")[1:]))
    return params, read_link(params, parents, [setup])


def test_round_trip_through_the_api_gives_the_same_settings_and_result(client, fresh_lab):
    setup, parents = fresh_lab
    params, link = open_link(client, setup, parents, ["topp", "seed"])
    assert (params["tab"], params["hide"], link.lab, link.note) == (tab.TAB_ID, "topp,seed", tab.TAB_ID, "")
    hidden = {name for name, control in setup.controls.items() if not link.updates[control].get("visible", True)}
    assert restored_settings(setup, link.updates) == SETTINGS and link.updates[setup.restored] == 1
    assert hidden == {"topp", "seed"}
    restored = first_view(restored_settings(setup, link.updates))
    assert shown(restored) == shown(first_view(SETTINGS))
    assert "chat template" in restored.notes
    assert "TemperatureLogitsWarper(0.7), TopKLogitsWarper(40), TopPLogitsWarper(0.9)" in restored.code_generate
    assert restored.run.prompt.chat and len(restored.run.ids) > 10
    assert tab.open_view(SETTINGS["view"]).selected == "llm-lens-view"  # the restored sub-tab


def test_the_hidden_sub_tab_setting_is_not_offered_to_hide(fresh_lab):
    setup, _ = fresh_lab
    offered = [value for _, value in setup.hide.choices]
    assert "view" not in offered and {"prompt", "temperature", "layer", "position", "attention"} <= set(offered)


def test_a_link_may_name_a_sub_tab_of_the_lab(fresh_lab):
    setup, parents = fresh_lab
    link = read_link({"tab": "llm-block-view", "layer": "20", "position": "2"}, parents, [setup])
    assert (link.lab, link.sub_tab, link.note) == (tab.TAB_ID, "llm-block-view", "")
    assert restored_settings(setup, link.updates) == dict(layer=20, position=2)
    view = first_view(dict(SETTINGS, view=None, **restored_settings(setup, link.updates)))
    assert "SwiGLU gate of block 20" in view.gate.layout["title"]["text"]
    assert "position 2" in view.residual.layout["title"]["text"]
    assert tab.open_view(None).selected is None  # the link's own sub-tab is left to the page


def test_bad_values_in_a_link_are_ignored_with_a_note(fresh_lab):
    setup, parents = fresh_lab
    params = {"tab": "llm", "model": "../../etc/passwd", "view": "llm-secret", "layer": "99", "topk": "-5",
              "temperature": "nan", "chat": "maybe", "prompt": "x" * 5_000, "path": "/etc/passwd"}
    link = read_link(params, parents, [setup])
    assert restored_settings(setup, link.updates) == {"layer": 29, "topk": 0}  # clamped (and said)
    for said in ("Layer to open (attention, RMSNorm, SwiGLU) was set to 29", "Top-k (0 = off) was set to 0",
                 "ignored model", "ignored view", "ignored temperature", "ignored chat", "ignored prompt",
                 "“path”"):
        assert said in link.note, said
    # a position past a short text: the link keeps it, the forward pass clamps it to the last token
    short = read_link({"tab": "llm", "position": "700"}, parents, [setup])
    view = first_view(dict(SETTINGS, **restored_settings(setup, short.updates)))
    assert view.position.value == len(view.run.ids) - 1


# --- predict, then reveal: each answer comes from the run ---------------------------------------

def verdict(question: str, choice: str, prompt: str, tally: Tally | None = None, **settings) -> tuple[str, Tally]:
    view = tab.on_start(SMOLLM2, prompt, False, *view_args(settings))
    return tab.on_reveal(question, choice, view.run, *view_args(settings), tally or Tally())


@pytest.mark.parametrize("prompt, answer", [(tab.EXAMPLE, "Yes, more than 50 %"),
                                            ("Once upon a time, there was a", "No, 50 % or less")])
def test_top_question_is_answered_by_the_bars(prompt, answer):
    held, tally = verdict(tab.TOP_QUESTION, answer, prompt)
    assert held.startswith("✅ Your prediction held") and (tally.asked, tally.right) == (1, 1)
    other = next(c for c in tab.TOP_CHOICES.values() if c != answer)
    missed, _ = verdict(tab.TOP_QUESTION, other, prompt)
    assert missed.startswith(f"❌ Not this time: the answer is **{answer}**")
    top = tab.on_start(SMOLLM2, prompt, False, *view_args({})).bars.data[0]["x"][0]
    assert f"**{top:.1%}**" in held  # the evidence is the bar the student sees


@pytest.mark.parametrize("prompt, third", [(tab.EXAMPLE, 2), ("1, 2, 3, 4, 5,", 1), ("x = 1\ny = 2\nz =", 0)])
def test_lens_question_is_answered_by_the_logit_lens(prompt, third):
    answer = tab.LENS_CHOICES[third]
    held, _ = verdict(tab.LENS_QUESTION, answer, prompt)
    assert held.startswith("✅"), held
    block = int(re.search(r"from the row \*\*after block (\d+)\*\* on", held).group(1))
    lens = tab.on_start(SMOLLM2, prompt, False, *view_args({})).lens.data[0]
    tops = dict(zip(lens["y"], (row[0] for row in lens["text"])))  # the grid's rows, by their label
    final = tops["after block 29"]
    assert all(tops[f"after block {b}"] == final for b in range(block, 30))
    assert tops["embeddings" if block == 0 else f"after block {block - 1}"] != final
    assert block * 3 // 30 == third


@pytest.mark.parametrize("prompt, layer, answer", [
    (tab.EXAMPLE, 6, "first"), ("Once upon a time, there was a little girl who loved to", 1, "previous")])
def test_focus_question_is_answered_by_the_attention_maps(prompt, layer, answer):
    held, _ = verdict(tab.FOCUS_QUESTION, tab.FOCUS_CHOICES[answer], prompt, layer=layer, attention=True)
    assert held.startswith("✅"), held
    maps = tab.on_start(SMOLLM2, prompt, False, *view_args(dict(layer=layer, attention=True))).attention.data
    weights = np.stack([np.nan_to_num(np.asarray(trace["z"], float)) for trace in maps])  # (H, T, T)
    rows = np.arange(2, weights.shape[1])
    means = {"first": weights[:, 2:, 0].mean(), "previous": weights[:, rows, rows - 1].mean(),
             "itself": weights[:, rows, rows].mean()}
    assert max(means, key=means.get) == answer
    assert f"**{means[answer]:.1%}**" in held


def test_a_question_counts_once_per_session_and_needs_three_tokens():
    _, tally = verdict(tab.TOP_QUESTION, "Yes, more than 50 %", tab.EXAMPLE)
    again, tally = verdict(tab.TOP_QUESTION, "Yes, more than 50 %", tab.EXAMPLE, tally)
    assert (tally.asked, tally.right) == (1, 1) and "1 of 1 right" in again
    short, _ = verdict(tab.FOCUS_QUESTION, tab.FOCUS_CHOICES["first"], "Hello")
    assert "at least 3 tokens" in short
    unanswered, _ = verdict(tab.TOP_QUESTION, None, tab.EXAMPLE)
    assert unanswered.startswith("The run says: **Yes, more than 50 %**")
    assert tab.on_reveal(tab.TOP_QUESTION, "Yes, more than 50 %", None, *view_args({}), Tally())[0] == ""


# --- once in Chromium -----------------------------------------------------------------------------

def test_browser_opens_a_lesson_link_with_hidden_controls_and_a_prediction(page):
    query = "?" + urllib.parse.urlencode({
        "tab": "llm", "prompt": "The capital of France is", "layer": "6", "attention": "1",
        "temperature": "0.5", "view": "llm-attention-view", "hide": "seed,model"})
    page.open(query)
    p = page.page
    p.locator("#llm-text", has_text="new: 0").wait_for(timeout=120_000)  # the restored run
    assert p.locator("#llm-prompt textarea").input_value() == "The capital of France is"
    p.locator("#llm-attention .gtitle", has_text="masked future").wait_for(timeout=60_000)  # its sub-tab
    assert not p.locator("#llm-seed").is_visible() and not p.locator("#llm-model").is_visible()
    assert p.locator("#llm-temperature input[type=number]").input_value() == "0.5"
    assert p.locator("#link-note").is_hidden()  # nothing in the link was refused
    assert not p.get_by_text("The run says").is_visible()  # no answer before the prediction
    p.get_by_label(tab.FOCUS_CHOICES["first"]).check()  # predict first, then press Next token
    p.locator("#llm-start").click()
    held = p.locator(".block.predict-verdict", has_text="Your prediction held")
    held.wait_for(timeout=60_000)
    assert "first token" in held.inner_text() and "1 of 1 right" in held.inner_text()
    assert_not_blank(page.screenshot("llm-lesson-link"))
    assert (page.console_errors, page.outside_requests) == ([], [])
