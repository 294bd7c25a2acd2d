"""Lesson links into the encoder–decoder lab: its settings → a link (the live app's
/seq2seq_link endpoint) → a fresh session with the same settings and the same result;
a link with only some settings; bad values ignored with a note; both predictions, each
with two settings that give different answers; and once in Chromium: a link with hidden
controls opens the lab as set up, and a prediction is answered."""

from __future__ import annotations

import urllib.parse

import gradio as gr
import pytest

from components import seq2seq_tab as tab
from components.links import read_link
from components.predict import Tally
from playground.seq2seq.data import TASKS, make_pairs
from tests.conftest import (assert_link_refuses, assert_not_blank, lab_in_fresh_blocks, link_round_trip,
                            restored_settings)

ATTN, FIXED = list(tab.VARIANTS)
# A teacher's setup: every setting away from its default.
SETTINGS = dict(task="sort", model=FIXED, input="93175", decoding=tab.BEAM, width=5, compare="dates",
                train_task="sort", train_model=FIXED, steps=100, longest=12, seed=4)
YES_EXACT, NO_EXACT = tab.EXACT_CHOICES[True], tab.EXACT_CHOICES[False]
YES_BEAM, NO_BEAM = tab.BEAM_CHOICES[True], tab.BEAM_CHOICES[False]


@pytest.fixture(scope="module")
def fresh_lab():
    return lab_in_fresh_blocks(tab)


def first_view(settings: dict) -> tuple:
    """What the lab shows when a link has set these settings: the model's description, the
    beam width's state, the first decoding step, and the first frame of training with them."""
    info, width = tab.on_restore(settings["task"], settings["model"], settings["decoding"])
    frame = tab.on_step(settings["task"], settings["model"], settings["input"], settings["decoding"],
                        settings["width"], {})
    train = next(tab.on_train(settings["train_task"], settings["train_model"], settings["steps"],
                              settings["longest"], settings["seed"], {}))
    return info, width.interactive, frame.status, frame.beams, frame.code, train.status, train.code


def test_round_trip_through_the_api_gives_the_same_settings_and_result(client, fresh_lab):
    restored = first_view(link_round_trip(client, *fresh_lab, SETTINGS, ["model", "decoding", "width"]))
    assert restored == first_view(SETTINGS)
    info, interactive, status, beams, _, train_status, train_code = restored
    assert "seq2seq-sort-fixed" in info and interactive  # the beam width can be moved
    assert "`93175` → `1`" in status and "beam search, width 5" in status and "Beams after step 1" in beams
    assert "Step 0 of 100" in train_status and "steps, seed = 100, 4" in train_code


def test_a_link_with_some_settings_sets_only_those(fresh_lab):
    setup, parents = fresh_lab  # this lab has no sub-tabs: a link names the lab itself
    link = read_link({"tab": "seq2seq", "task": "dates", "input": "28 November 2026"}, parents, [setup])
    assert (link.lab, link.sub_tab, link.note) == (tab.TAB_ID, None, "")
    assert restored_settings(setup, link.updates) == dict(task="dates", input="28 November 2026")
    # the task did not replace the link's input with its example: the first step decodes it
    status = tab.on_step("dates", ATTN, "28 November 2026", tab.GREEDY, 3, {}).status
    assert "`28 November 2026` → `2`" in status


@pytest.mark.parametrize("name, text, kept, said", [
    ("width", "99", {"width": 8}, "Beam width was set to 8"),  # clamped into the slider's range
    ("task", "translate", {}, "ignored task: not one of the choices"),
    ("model", "../../etc/passwd", {}, "ignored model: not one of the choices"),  # never a path
    ("decoding", "Sampling", {}, "ignored decoding"),
    ("steps", "nan", {}, "ignored steps"),
    ("input", "a" * 5_000, {}, "ignored input"),
    ("path", "/etc/passwd", {}, "“path”: this lab has no such setting"),
])
def test_a_bad_value_in_a_link_is_ignored_with_a_note(fresh_lab, name, text, kept, said):
    setup, parents = fresh_lab
    assert_link_refuses(setup, parents, {"tab": "seq2seq", name: text}, kept, [said])

def test_an_input_the_link_takes_is_checked_when_the_lab_runs(fresh_lab):
    """40 letters fit in a link, but the lab takes 30: its own message when the step runs."""
    setup, parents = fresh_lab
    updates = read_link({"tab": "seq2seq", "input": "a" * 40}, parents, [setup]).updates
    assert restored_settings(setup, updates) == {"input": "a" * 40}
    with pytest.raises(gr.Error, match="Please shorten it"):
        tab.on_step("reverse", ATTN, restored_settings(setup, updates)["input"], tab.GREEDY, 1, {})


# --- predict, then reveal: two settings with different answers, several inputs each -------------
def letters(length: int) -> list[str]:
    return [make_pairs(TASKS["reverse"], 1, seed, length=length)[0][0] for seed in range(5)]


def run_and_reveal(handler, choice: str, model: str, text: str, method: str, width: int,
                   tally: Tally | None = None) -> tuple[str, Tally]:
    """Run the decoding to its end as the Run button does, then the question's verdict."""
    view = list(tab.on_run("reverse", model, text, method, width, {}))[-1].view
    return handler(choice, "reverse", model, text, method, width, view, tally or Tally())


@pytest.mark.parametrize("length, correct", [(20, YES_EXACT), (26, NO_EXACT)])
def test_prediction_exact_attention_within_and_beyond_the_trained_length(monkeypatch, length, correct):
    monkeypatch.setattr(tab, "RUN_DELAY_S", 0)
    for text in letters(length):
        verdict, tally = run_and_reveal(tab.on_reveal_exact, YES_EXACT, ATTN, text, tab.GREEDY, 1)
        held = correct == YES_EXACT
        assert verdict.startswith("✅" if held else "❌"), (text, verdict)
        assert f"The input has {length} characters" in verdict and (tally.asked, tally.right) == (1, held)
        if not held:
            assert f"the answer is **{NO_EXACT}**" in verdict and f"`{text[::-1]}`" in verdict


@pytest.mark.parametrize("model, correct", [(FIXED, YES_BEAM), (ATTN, NO_BEAM)])
def test_prediction_beam_helps_fixed_context_not_attention(monkeypatch, model, correct):
    monkeypatch.setattr(tab, "RUN_DELAY_S", 0)
    for text in letters(16):
        verdict, _ = run_and_reveal(tab.on_reveal_beam, NO_BEAM, model, text, tab.BEAM, 5)
        if correct == NO_BEAM:
            assert verdict.startswith("✅ Your prediction held"), (text, verdict)
            assert verdict.count(", correct)") == 2  # greedy and the beam: the same right output
        else:
            assert f"the answer is **{YES_BEAM}**" in verdict, (text, verdict)
            assert verdict.count(", wrong)") == 2  # more likely, and still wrong


def test_a_prediction_waits_for_the_end_and_counts_once(monkeypatch):
    monkeypatch.setattr(tab, "RUN_DELAY_S", 0)
    first = tab.on_step("reverse", ATTN, "attention", tab.GREEDY, 1, {})
    assert tab.on_reveal_exact(YES_EXACT, "reverse", ATTN, "attention", tab.GREEDY, 1, first.view,
                               Tally())[0] == "Step or Run to the end to see the answer."
    assert "Choose **Beam search**" in tab.on_reveal_beam(YES_BEAM, "reverse", ATTN, "attention", tab.GREEDY,
                                                         1, first.view, Tally())[0]
    verdict, tally = run_and_reveal(tab.on_reveal_exact, YES_EXACT, ATTN, "attention", tab.GREEDY, 1)
    again, tally = run_and_reveal(tab.on_reveal_exact, YES_EXACT, ATTN, "attention", tab.GREEDY, 1, tally)
    assert "1 of 1 right" in verdict and "1 of 1 right" in again  # Run again: counted once
    unanswered, _ = run_and_reveal(tab.on_reveal_exact, None, ATTN, "attention", tab.GREEDY, 1)
    assert unanswered.startswith(f"The run says: **{YES_EXACT}**")
    no_date = list(tab.on_run("dates", ATTN, "31 Feb 2026", tab.GREEDY, 1, {}))[-1].view
    assert "no correct answer" in tab.on_reveal_exact(YES_EXACT, "dates", ATTN, "31 Feb 2026", tab.GREEDY, 1,
                                                      no_date, Tally())[0]


def test_browser_opens_a_lesson_link_with_hidden_controls_and_a_prediction(page):
    text = letters(26)[0]
    query = "?" + urllib.parse.urlencode({"tab": "seq2seq", "task": "reverse", "model": ATTN, "input": text,
                                          "hide": "task,model,decoding,width"})
    page.open(query)
    p = page.page
    status = p.locator("#seq2seq-status")
    status.get_by_text("Step 1 of").wait_for(timeout=60_000)  # the restored first step
    assert "beyond the 20 the models were trained on" in status.text_content()
    assert p.locator("#seq2seq-input textarea, #seq2seq-input input").first.input_value() == text
    for hidden in ("task", "model", "decoding", "width"):
        assert not p.locator(f"#seq2seq-{hidden}").is_visible(), hidden
    assert p.locator("#link-note").is_hidden()  # nothing in the link was refused
    p.get_by_label(NO_EXACT).check()  # predict first, then run
    p.locator("#seq2seq-run").click()
    p.get_by_text("Your prediction held").wait_for(timeout=90_000)
    assert p.get_by_text("1 of 1 right").is_visible()
    p.locator("#seq2seq-status").scroll_into_view_if_needed()
    path = page.screenshot("seq2seq-lesson-link")
    assert_not_blank(path)
    assert not page.console_errors and not page.outside_requests
