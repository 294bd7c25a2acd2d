"""Lesson links: a lab's settings → a query string → the same settings in a fresh session;
whatever a link gets wrong is ignored with a note, and nothing in it can name a file."""

from __future__ import annotations

import urllib.parse

import gradio as gr
import pytest

from components.links import lab_setup, link_value, read_link, setup_query


@pytest.fixture()
def toy_lab():
    with gr.Blocks():
        with gr.Tabs():
            with gr.Tab("Toy", id="toy"):
                controls = {
                    "width": gr.Slider(2, 64, value=8, step=2, label="Width"),
                    "rate": gr.Slider(0.0, 1.0, value=0.5, step=0.01, label="Rate"),
                    "model": gr.Dropdown(["tiny", "small"], value="tiny", label="Model"),
                    "text": gr.Textbox(value="hello", label="Text"),
                    "scaled": gr.Checkbox(value=True, label="Scaled"),
                }
                setup = lab_setup("toy", controls)
    return setup


def _params(query: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(query.lstrip("?")))


def test_round_trip_restores_every_setting(toy_lab):
    values = [32, 0.25, "small", "Héllo wörld 🚀 & more", False]
    query = setup_query("toy", list(toy_lab.controls), *values, [])
    link = read_link(_params(query), {"toy": "toy"}, [toy_lab])
    assert link.lab == "toy" and link.note == ""
    restored = [link.updates[c]["value"] for c in toy_lab.controls.values()]
    assert restored == values
    assert link.updates[toy_lab.restored] == 1  # the lab reruns on this


def test_hide_lists_controls_to_hide(toy_lab):
    query = setup_query("toy", list(toy_lab.controls), 8, 0.5, "tiny", "x", True, ["model", "text"])
    link = read_link(_params(query), {"toy": "toy"}, [toy_lab])
    hidden = [name for name, c in toy_lab.controls.items() if link.updates[c].get("visible") is False]
    assert hidden == ["model", "text"]


def test_bad_values_are_ignored_with_a_note(toy_lab):
    params = {"tab": "toy", "width": "1000", "rate": "nan", "model": "../../etc/passwd",
              "scaled": "maybe", "colour": "red", "hide": "nothing"}
    link = read_link(params, {"toy": "toy"}, [toy_lab])
    width = toy_lab.controls["width"]
    assert link.updates[width]["value"] == 64  # clamped into the slider's range, and said
    for control in ("rate", "model", "scaled"):
        assert toy_lab.controls[control] not in link.updates
    for said in ("Width was set to 64", "ignored rate", "ignored model", "ignored scaled", "“colour”",
                 "cannot hide “nothing”"):
        assert said in link.note


def test_a_dropdown_takes_only_its_choices_never_a_free_value():
    with gr.Blocks():
        free = gr.Dropdown(["a"], value="a", allow_custom_value=True)
    with pytest.raises(ValueError):
        link_value(free, "/etc/passwd")
    assert link_value(free, "a") == ("a", "")


def test_a_link_for_another_lab_sets_nothing_here(toy_lab):
    link = read_link({"tab": "other", "width": "4"}, {"toy": "toy", "other": "other"}, [toy_lab])
    assert link.lab == "other" and link.updates == {}


def test_each_link_opened_in_the_page_sets_restored_anew(toy_lab):
    """A later link (the guided path's Next step) into a lab restored before must still fire
    its ``restored.change``: the value counts the links the page has opened."""
    params = {"tab": "toy", "width": "4"}
    opened = [read_link(params, {"toy": "toy"}, [toy_lab], opened=n).updates[toy_lab.restored] for n in (1, 2, 3)]
    assert opened == [1, 2, 3]
