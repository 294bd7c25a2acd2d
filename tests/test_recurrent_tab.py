"""The RNN & LSTM tab: handlers called directly (good and bad input), the API through
gradio_client against the live app, and Chromium stepping three times."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from components import recurrent_tab as tab
from tests.conftest import assert_not_blank

SEQ = "C0312013203"
DEFAULTS = dict(kind="lstm", mode="chars", text=SEQ, source="random", seed=0, hidden=4, edit=False,
                radius=1.0, forget_bias=0.0, unit=1, session_cells=None)


def reset(**changes):
    return tab.on_reset(**{**DEFAULTS, **changes})


def plot_json(plot) -> dict:
    return json.loads(plot.to_json())


def test_build_inside_blocks():
    with gr.Blocks() as demo:
        tab.build(demo)


def test_reset_then_step_fills_one_column_per_step():
    note, stepper, slider, equations, gates, states, readout, code = reset()
    assert "Random weights" in note and "random-weights-badge" in note
    assert stepper.t == 0 and "Press **Step**" in equations
    for expected in (1, 2, 3):
        stepper, slider, equations, gates, states, readout, code = tab.on_step(stepper, 1)
        assert stepper.t == expected and f"Step {expected} of {len(SEQ)}" in equations
    z = plot_json(states)["data"][0]["z"]  # h over time: units × time
    assert [col is not None for col in z[0]] == [True] * 3 + [False] * (len(SEQ) - 3)
    assert "f_{3,1}" in equations and "c_{3,1}" in equations and "for t in range(3)" in code
    stepper = tab.on_step_back(stepper, 1)[0]
    assert stepper.t == 2
    assert tab.on_run_to_end(stepper, 1)[0].t == len(SEQ)
    assert tab.on_seek(stepper, 99, 1)[0].t == len(SEQ)


def test_equation_numbers_are_the_trace_numbers():
    stepper = reset(kind="gru", unit=2)[1]
    stepper, *_ = tab.on_step(stepper, 2)
    _, _, equations, *_ = tab.on_step(stepper, 2)
    h = stepper.trace.steps[1].h[1]  # step 2, unit 2
    assert "h_{2,2}" in equations and f"\\mathbf{{{h:.3f}}}" in equations


def test_trained_weights_show_the_readout_and_are_labelled_trained():
    note, stepper, *_rest = reset(source="shipped", hidden=4)
    assert "Trained weights" in note and "random" not in note.lower()
    assert stepper.weights.hidden_size == 8  # the shipped cells, not the slider
    *_, readout, code = tab.on_run_to_end(stepper, 1)
    z = plot_json(readout)["data"][0]["z"]
    assert max(row[-1] for row in z) == z[2][-1]  # the read-out answers 'C' at the end
    assert "load_file" in code


def test_edits_are_applied_and_announced():
    note, stepper, *_ = reset(edit=True, radius=0.5, forget_bias=-3.0)
    assert "spectral radius 0.5" in note and "forget-gate bias set to -3" in note
    assert stepper.trace.gate("f").max() < 0.2


def test_analysis_gives_three_gradient_curves_and_both_directions():
    stepper = reset()[1]
    bidir, grads, note, code = tab.on_analysis(stepper, None)
    grads, bidir = plot_json(grads), plot_json(bidir)
    assert len(grads["data"]) == 3 and grads["layout"]["yaxis"]["type"] == "log"
    assert all(len(curve["y"]) == len(SEQ) and curve["y"][-1] == pytest.approx(1.0) for curve in grads["data"])
    assert len(bidir["data"]) == 3 and "autograd" in code


def test_session_cells_need_a_race_first():
    with pytest.raises(gr.Error, match="No cells were trained"):
        reset(source="session")


@pytest.mark.parametrize("changes, fragment", [
    (dict(text=""), "empty"),
    (dict(text="A" * 10_000), "at most 100"),
    (dict(hidden=0), "hidden size"),
    (dict(hidden=10**6), "hidden size"),
    (dict(radius=float("nan")), "NaN"),
    (dict(forget_bias=float("nan")), "NaN"),
    (dict(seed=float("nan")), "NaN"),
    (dict(kind="transformer"), "Unknown cell"),
    (dict(source="shipped", text="hello"), "trained on the symbols"),
    (dict(source="shipped", mode="numbers", text="1, 2"), "switch the input"),
    (dict(mode="numbers", text="1, x"), "not a number"),
])
def test_bad_input_gives_a_clear_message(changes, fragment):
    with pytest.raises(gr.Error, match=fragment):
        reset(**changes)


def test_step_without_reset_asks_for_reset():
    with pytest.raises(gr.Error, match="Reset"):
        tab.on_step(None, 1)


def test_race_streams_and_feeds_the_stepper():
    stream = tab.on_train(3, 4, 20, 0, None)
    updates = list(itertools.islice(stream, 50))
    loss, acc, status, cells, code = updates[-1]
    assert "finished" in status and set(cells) == {"rnn", "lstm"} and "train_race" in code
    assert len(plot_json(acc)["data"]) == 2
    note, stepper, *_ = reset(source="session", session_cells=cells)
    assert "trained in this session" in note and stepper.weights.hidden_size == 4


def test_race_refuses_bad_settings():
    with pytest.raises(gr.Error, match="NaN"):
        next(tab.on_train(float("nan"), 8, 100, 0, None))
    with pytest.raises(gr.Error, match="hidden size"):
        next(tab.on_train(40, 0, 100, 0, None))


def test_api_reset_and_step(client):
    out = client.predict("lstm", "chars", SEQ, "random", 0, 4, False, 1.0, 0.0, 1,
                         api_name="/recurrent_reset")
    assert "Random weights" in out[0]
    first = client.predict(1, api_name="/recurrent_step")
    second = client.predict(1, api_name="/recurrent_step")
    # the time slider follows this client's session state
    assert first[0]["value"] == 1 and second[0]["value"] == 2
    assert "Step 2 of" in second[1]
    with pytest.raises(Exception, match="hidden size|less than minimum"):  # gradio checks first
        client.predict("lstm", "chars", SEQ, "random", 0, 0, False, 1.0, 0.0, 1,
                       api_name="/recurrent_reset")


def test_browser_steps_three_times_and_the_plots_change(page):
    page.open(f"?tab={tab.TAB_ID}")  # the page's load event would otherwise switch tabs back
    page.open_tab(tab.TAB_ID)
    p = page.page
    p.locator("#rec-reset").wait_for(state="visible", timeout=60_000)
    p.locator("#rec-reset").click()
    p.locator("#rec-equations").get_by_text("Nothing read yet").wait_for(timeout=30_000)
    seen = []
    for t in (1, 2, 3):
        p.locator("#rec-step").click()
        p.locator("#rec-equations").get_by_text(f"Step {t} of").wait_for(timeout=30_000)
        p.locator("#rec-states .gtitle").get_by_text(f"step {t} of").wait_for(timeout=15_000)
        # the SVG text of each plot: titles, tick labels and the numbers printed in cells
        seen.append((p.locator("#rec-gates .main-svg").first.text_content(),
                     p.locator("#rec-states .main-svg").first.text_content()))
    assert len({gates for gates, _ in seen}) == 3 and len({states for _, states in seen}) == 3, seen
    assert p.locator("#rec-equations .katex").count() > 3  # LaTeX rendered offline
    path = page.screenshot("recurrent")
    assert_not_blank(path)
    assert not page.console_errors
    assert not page.outside_requests


@pytest.mark.parametrize("changes", [
    dict(), dict(kind="gru", edit=True, radius=1.5), dict(kind="rnn", mode="numbers", text="1, 0, -0.5, 2"),
    dict(kind="lstm", source="shipped", edit=True, radius=0.9, forget_bias=-2.0),
])
def test_show_the_code_reproduces_the_step(changes, monkeypatch):
    """Run the code panel's torch lines: they must land on the lab's numbers at step 3."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the code loads assets/... relative
    stepper = reset(**changes)[1]
    for _ in range(3):
        stepper, *_rest, code = tab.on_step(stepper, 1)
    scope: dict = {}
    exec(compile(code, "show-the-code", "exec"), scope)  # noqa: S102 - our own generated code
    np.testing.assert_allclose(scope["h"].detach().numpy()[0], stepper.trace.steps[2].h, atol=1e-6)
    gates = stepper.trace.steps[2].gates
    if stepper.trace.kind == "lstm":
        np.testing.assert_allclose(scope["f"].sigmoid().detach().numpy()[0], gates["f"], atol=1e-6)
