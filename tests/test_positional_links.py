"""Lesson links into the Positional encoding lab: its settings → a link (the live app's
/positional_link endpoint) → a fresh session with the same settings and the same drawing;
a link naming a section; bad values ignored with a note; and once in Chromium: a link with
hidden controls opens the similarity section as set up, and the prediction is answered."""

from __future__ import annotations

import json
import urllib.parse

import gradio as gr
import pytest

from components import positional_tab as T
from components.links import read_link
from components.predict import Tally
from tests.conftest import assert_link_refuses, assert_not_blank, lab_in_fresh_blocks, link_round_trip

# A teacher's setup: every setting away from its default, the similarity section open.
SETTINGS = dict(d_model=64, length=300, base=500, dims="1, 5", measure="cosine", pos=20, k=7, positions=200,
                learned_measure="dot", pca_3d=True, d_head=32, rope_length=40, seed=3, heads=4, alibi_length=20,
                head=2, causal=False, view="pos-sim")


@pytest.fixture(scope="module")
def fresh_lab():
    return lab_in_fresh_blocks(T)


def drawn(settings: dict) -> tuple:
    """What the lab draws for these settings in the section the link opens (similarity), and
    the question's verdict."""
    view = T.on_similarity(settings["d_model"], settings["length"], settings["base"], settings["measure"],
                           settings["pos"], settings["k"])
    verdict, _ = T.on_reveal_neighbour("Both the same", settings["d_model"], settings["length"], settings["base"],
                                       settings["measure"], settings["pos"], settings["k"], Tally())
    return [json.loads(figure.to_json()) for figure in view[:4]], view.note, view.code, verdict


def test_round_trip_through_the_api_gives_the_same_settings_and_result(client, fresh_lab):
    restored = link_round_trip(client, *fresh_lab, SETTINGS, ["d_model", "base"])
    figures, note, code, verdict = drawn(restored)
    assert (figures, note, code, verdict) == drawn(SETTINGS)
    assert "PE(27) = M_7·PE(20)" in note and "length, d_model, base, k, pos = 300, 64, 500, 7, 20" in code
    assert "Cosine similarity: PE(20) with PE(21)" in verdict
    assert T.open_view(SETTINGS["view"]).selected == "pos-sim"  # the restored section


def test_the_hide_list_offers_every_control_but_the_open_section(fresh_lab):
    setup, _ = fresh_lab
    names = [choice[1] if isinstance(choice, tuple) else choice for choice in setup.hide.choices]
    assert names == [name for name in setup.controls if name != "view"] and len(names) == 17


def test_a_link_may_name_a_section_of_the_lab(fresh_lab):
    setup, parents = fresh_lab
    link = read_link({"tab": "pos-rope", "d_head": "16", "seed": "9"}, parents, [setup])
    assert (link.lab, link.sub_tab, link.note) == (T.TAB_ID, "pos-rope", "")
    assert T.open_view(None).selected is None  # the link's own sub-tab is left to the page
    assert T.open_view("pos-alibi").selected == "pos-alibi"


def test_bad_values_in_a_link_are_ignored_with_a_note(fresh_lab):
    setup, parents = fresh_lab
    params = {"tab": "positional", "d_model": "99999", "measure": "manhattan", "view": "../../etc/passwd",
              "base": "nan", "causal": "maybe", "path": "/etc/passwd", "dims": "0, 1" * 2_000}
    assert_link_refuses(setup, parents, params, {"d_model": 1024},  # clamped into the slider's range (and said)
                        ["d_model (dimensions) was set to 1024", "ignored measure", "ignored view",
                         "ignored base", "ignored causal", "ignored dims", "“path”"])
    # a value the link takes but the section refuses: the lab's own message when it draws
    dims = {"tab": "positional", "dims": "zero, one"}
    assert "dims" not in read_link(dims, parents, [setup]).note
    with pytest.raises(gr.Error, match="whole numbers"):
        T.on_sinusoidal(128, 128, 10000, "zero, one")


def test_browser_opens_a_lesson_link_with_hidden_controls_and_a_prediction(page):
    query = "?" + urllib.parse.urlencode({"tab": "positional", "d_model": "2", "k": "44", "pos": "10",
                                          "view": "pos-sim", "hide": "d_model,base"})
    page.open(query)
    p = page.page
    p.get_by_text("PE(54) = M_44·PE(10)").wait_for(timeout=60_000)  # the restored section, drawn
    assert p.locator("#pos-sim-heat").is_visible()
    assert not p.locator("#pos-d-model").is_visible() and not p.locator("#pos-base").is_visible()
    assert p.locator("#pos-length").is_visible() and p.locator("#link-note").is_hidden()
    p.get_by_label("PE(pos + k)").check()  # one clock hand: 44 steps is almost 7 turns
    p.get_by_text("Your prediction held").wait_for(timeout=30_000)
    assert p.get_by_text("1 of 1 right").is_visible()
    path = page.screenshot("positional-lesson-link")
    assert_not_blank(path)
    assert not page.console_errors and not page.outside_requests
