"""Lesson links into the Attention lab: its settings → a link (the live app's
/attention_link endpoint) → a fresh session with the same settings and the same result; a
link naming a sub-tab; bad values ignored with a note; the two predict-then-reveal questions,
each answered differently by two settings; and once in Chromium: a link with hidden controls
opens the lab as set up, and a prediction is answered."""

from __future__ import annotations

import urllib.parse

import numpy as np
import pytest

# The core first: the tab binds it lazily (see test_attention_tab).
from playground.transformer import attention as att  # isort: skip
from components import attention_tab as tab  # isort: skip
from components.links import read_link
from components.predict import Tally
from playground.service.model_service import DEFAULT_ENCODER
from tests.conftest import assert_not_blank, lab_in_fresh_blocks, restored_settings

# A teacher's setup: every setting away from its default, the real-model sub-tab open.
SETTINGS = dict(text="The cat sat on the warm mat.", vectors="toy", d_k=16, heads=3, head=2, seed=5,
                scaled=False, temperature=2.5, causal=True, model=tab.GPT,
                sentence="A film so slow that I fell asleep twice.", sentence_b="It was late.",
                max_tokens=64, layer=2, model_head=1, bertviz="model", view="attention-model")
HAND = ("text", "vectors", "d_k", "heads", "causal", "seed", "head", "scaled", "temperature")  # on_hand's order
MODEL = ("model", "sentence", "sentence_b", "max_tokens", "layer", "model_head")  # on_model's order


@pytest.fixture(scope="module")
def fresh_lab():
    """The lab built in a new Blocks: its LabSetup and the app's tab ids → lab."""
    return lab_in_fresh_blocks(tab)


def lab_result(settings: dict) -> tuple:
    """What the lab shows for these settings (its first view after a link): both sub-tabs'
    notes and the weights they draw, and the word-order test."""
    hand = tab.on_hand(*(settings[name] for name in HAND))
    model = tab.on_model(*(settings[name] for name in MODEL))
    shuffle = tab.on_shuffle(*(settings[name] for name in ("text", "vectors", "d_k", "heads", "seed")))
    return (hand.notes, np.asarray(hand.weights.data[0]["z"]).tolist(), model.notes, np.asarray(model.main_map.data[0]["z"]).tolist(),
            model.main_map.layout["title"]["text"], shuffle.summary)


def test_round_trip_through_the_api_gives_the_same_settings_and_result(client, fresh_lab):
    setup, parents = fresh_lab
    query = client.predict(*SETTINGS.values(), ["seed", "d_k"], api_name="/attention_link")
    params = dict(urllib.parse.parse_qsl(query.lstrip("?")))
    assert params["tab"] == tab.TAB_ID and params["hide"] == "seed,d_k"
    link = read_link(params, parents, [setup])  # what a fresh session does on page load
    assert link.lab == tab.TAB_ID and link.note == ""
    restored = restored_settings(setup, link.updates)
    assert restored == SETTINGS
    hidden = [name for name, control in setup.controls.items()
              if link.updates[control].get("visible") is False]
    assert hidden == ["d_k", "seed"] and link.updates[setup.restored] == 1
    result = lab_result(restored)
    assert result == lab_result(SETTINGS)
    hand_notes, _, model_notes, _, title, _ = result
    assert "seed 5" in hand_notes and "d_k = 16" in hand_notes and "temperature 2.5" in hand_notes
    assert "decoder" in model_notes and "Layer 2, head 1" in title
    assert tab.open_view(SETTINGS["view"]).selected == "attention-model"  # the restored sub-tab


def test_the_open_sub_tab_is_carried_but_not_offered_to_hide(fresh_lab):
    setup, _ = fresh_lab
    assert [value for _, value in setup.hide.choices] == [name for name in setup.controls if name != "view"]


def test_a_link_may_name_a_sub_tab_of_the_lab(fresh_lab):
    setup, parents = fresh_lab
    link = read_link({"tab": "attention-model", "model": tab.GPT, "layer": "3", "model_head": "-1"},
                     parents, [setup])
    assert (link.lab, link.sub_tab, link.note) == (tab.TAB_ID, "attention-model", "")
    assert restored_settings(setup, link.updates) == dict(model=tab.GPT, layer=3, model_head=tab.AVERAGE)
    assert tab.open_view(None).selected is None  # the link's own sub-tab is left to the page


def test_bad_values_in_a_link_are_ignored_with_a_note(fresh_lab):
    setup, parents = fresh_lab
    params = {"tab": "attention", "model": "/etc/passwd", "view": "../../etc/passwd", "d_k": "1000",
              "temperature": "nan", "scaled": "maybe", "model_head": "99", "text": "word " * 1_000,
              "path": "/etc/passwd"}
    link = read_link(params, parents, [setup])
    assert restored_settings(setup, link.updates) == {"d_k": 64}  # clamped into the slider's range (and said)
    for said in ("d_k (width of a head) was set to 64", "ignored model", "ignored view", "ignored temperature",
                 "ignored scaled", "ignored model_head", "ignored text", "“path”"):
        assert said in link.note
    # a layer the link's model does not have: the lab's own clamp, said when it runs
    layer = restored_settings(setup, read_link({"tab": "attention", "layer": "5"}, parents, [setup]).updates)
    assert tab.on_model(tab.GPT, tab.EXAMPLE, "", 128, layer["layer"], 0).layer["value"] == 3


# --- predict, then reveal: each answer comes from the run -----------------------------------------

def bits(effect: att.ScalingEffect) -> str:
    return f"**{effect.scaled_bits:.2f} bits** of entropy per row with ÷√d_k, **{effect.unscaled_bits:.2f} bits**"


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("source", ["embeddings", "toy"])
def test_question_attention_scaling_sharper_at_64_the_same_at_1(seed, source):
    """Leaving √d_k out at d_k = 64 sharpens the weights; at d_k = 1 it changes nothing."""
    for d_k, answer in ((64, "Sharper (lower entropy)"), (1, "About the same")):
        scaled = tab.on_hand(tab.EXAMPLE, source, d_k, 2, False, seed, 1, True, 1.0)
        verdict, tally = tab.on_reveal_scaling(answer, scaled.scaling, Tally())
        assert verdict == "Untick “Scale by √d_k” to see the answer." and tally.asked == 0
        view = tab.on_hand(tab.EXAMPLE, source, d_k, 2, False, seed, 1, False, 1.0)
        verdict, tally = tab.on_reveal_scaling(answer, view.scaling, Tally())
        assert verdict.startswith("✅") and (tally.asked, tally.right) == (1, 1), verdict
        # the numbers in the verdict are the entropies the notes print, with and without √d_k
        assert f"{view.scaling.unscaled_bits:.2f} bits" in view.notes
        assert f"**{view.scaling.scaled_bits:.2f} bits**" in scaled.notes and bits(view.scaling) in verdict
        wrong = next(c for c in tab.SCALING_CHOICES.values() if c != answer)
        verdict, tally = tab.on_reveal_scaling(wrong, view.scaling, Tally())
        assert verdict.startswith("❌") and answer in verdict and tally.right == 0


def test_question_attention_scaling_without_a_choice_shows_the_answer_once_unscaled():
    assert tab.on_reveal_scaling(None, None, Tally())[0] == ""
    view = tab.on_hand(tab.EXAMPLE, "toy", 32, 2, False, 0, 0, False, 1.0)
    verdict, tally = tab.on_reveal_scaling(None, view.scaling, Tally())
    assert verdict.startswith("The run says: **Sharper") and tally.asked == 0


@pytest.mark.parametrize("text", [tab.EXAMPLE, "Attention is all you need, said the paper in 2017."])
def test_question_attention_previous_token_head_one_in_layer_0_none_in_layer_3(text):
    """MiniLM has one previous-token head in layer 0 (Clark et al. 2019 saw them early), none in layer 3."""
    m = att.model_attention(DEFAULT_ENCODER, text, "", 128)
    for layer, answer in ((0, "Exactly one head"), (3, "No head")):
        view = tab.on_model(DEFAULT_ENCODER, text, "", 128, layer, tab.AVERAGE)
        verdict, tally = tab.on_reveal_previous(answer, view.previous, Tally())
        assert verdict.startswith("✅") and (tally.asked, tally.right) == (1, 1), verdict
        weights = m.layer(layer)  # (H, T, T): a head's weight on the previous token is its first sub-diagonal
        shares = np.array([np.diagonal(w, offset=-1).sum() / len(m.tokens) for w in weights])
        assert f"Head {int(shares.argmax())} attends most" in verdict
        assert f"H{int(shares.argmax())} {shares.max():.0%}" in verdict
        assert np.allclose(view.previous.shares, shares)
        verdict, _ = tab.on_reveal_previous("Two or more heads", view.previous, Tally())
        assert verdict.startswith("❌") and answer in verdict


def test_question_attention_previous_token_follows_the_layer_slider_past_the_last_layer():
    view = tab.on_model(tab.GPT, tab.EXAMPLE, "", 128, 9, 0)  # clamped to the GPT's last layer
    assert view.previous.layer == 3 and len(view.previous.shares) == 4
    assert "in layer 3:" in tab.on_reveal_previous(None, view.previous, Tally())[0]


# --- the browser ----------------------------------------------------------------------------------

def test_browser_opens_a_lesson_link_with_hidden_controls_and_a_prediction(page):
    query = "?" + urllib.parse.urlencode({
        "tab": "attention", "text": "The cat sat on the warm mat.", "d_k": "64", "seed": "2",
        "view": "attention-hand", "hide": "d_k,seed"})
    page.open(query)
    p = page.page
    notes = p.locator("#attn-hand-notes")
    notes.get_by_text("d_k = 64").wait_for(timeout=60_000)  # the restored run
    assert "seed 2" in notes.text_content()
    p.locator("#attn-shuffle-notes").get_by_text("Shuffled sentence").wait_for(timeout=30_000)
    assert p.locator("#attn-hand-text textarea").input_value() == "The cat sat on the warm mat."
    assert not p.locator("#attn-dk").is_visible() and not p.locator("#attn-seed").is_visible()
    assert p.locator("#link-note").is_hidden()  # nothing in the link was refused
    assert not p.get_by_text("The run says").is_visible()  # the link's run gives nothing away
    p.get_by_label("Sharper (lower entropy)").check()  # predict first, then untick √d_k
    p.locator("#attn-scaled input").uncheck()
    p.get_by_text("Your prediction held").wait_for(timeout=30_000)
    assert p.get_by_text("1 of 1 right").is_visible()
    p.locator("#attn-weights .gtitle", has_text="softmax").wait_for(timeout=30_000)
    path = page.screenshot("attention-lesson-link")
    assert_not_blank(path)
    assert not page.console_errors and not page.outside_requests
