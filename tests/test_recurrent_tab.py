"""The RNN & LSTM tab: handlers called directly (good and bad input), every "Try this"
prompt as a claim (test_lesson_recurrent_*), every "Show the code" panel run in a fresh
Python from a temporary folder (test_code_panel_recurrent_*), the API through
gradio_client against the live app, and Chromium stepping three times."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import gradio as gr
import numpy as np
import pytest

from components import recurrent_tab as tab
from components.predict import Tally
from tests.conftest import assert_not_blank, run_lab_notebook

SEQ = tab.DEFAULT_TEXT
SEEDS = range(5)
DEFAULTS = dict(kind="lstm", mode="chars", text=SEQ, source="random", seed=0, hidden=4, set_radius=False,
                radius=1.0, set_forget=False, forget_bias=0.0, unit=1, session=None)


def reset(**changes) -> tab.StepperView:
    return tab.on_reset(**{**DEFAULTS, **changes})


def run_to_end(**changes) -> tab.StepperView:
    return tab.on_run_to_end(reset(**changes).stepper, 1)


def plot_json(plot) -> dict:
    return json.loads(plot.to_json())


def curves(plot) -> dict[str, list[float]]:
    return {trace["name"]: trace["y"] for trace in plot_json(plot)["data"]}


def gradient_curves(**changes) -> dict[str, np.ndarray]:
    """What the Vanishing gradients plot draws for these settings (legend name → norms)."""
    view = reset(**changes)
    return {name: np.array(y) for name, y in curves(tab.on_analysis(view.stepper, None).gradients).items()}


def echo_left(view: tab.StepperView, state: str, t: int) -> float:
    """The share of the first input's echo left at step t (1-based), from the echo plot."""
    name = next(n for n in curves(view.echo) if n.startswith(f"{state}_t"))
    size = curves(view.echo)[name]
    return size[t - 1] / size[0]


def apply_choice(choice: tab.Choice, **changes) -> dict:
    """The settings after a lesson button: its values where it sets one, else the defaults."""
    settings = {**DEFAULTS, **changes}
    for name in ("kind", "mode", "text", "source"):
        value = getattr(choice, name)
        if not isinstance(value, dict):  # gr.update() = leave as it is
            settings[name] = value
    return settings


def race(distractors: int, seed: int, steps: int = 300, curriculum: bool = True, hidden: int = 8
         ) -> tab.RaceFrame:
    return list(tab.on_train(distractors, hidden, steps, seed, curriculum, None))[-1]


def final_accuracy(frame: tab.RaceFrame) -> dict[str, float]:
    return {name: y[-1] for name, y in curves(frame.accuracy).items()}


def run_panel(code: str, tmp_path) -> str:
    """Run a code panel as a student would: a fresh Python, offline, in an empty folder."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "playground" not in code.replace("Neural Playground", "")  # never imports the repo
    return done.stdout


def run_notebook(code: str, view: str, tmp_path) -> str:
    """The panel's "Download notebook" for these settings, run in a kernel; what it printed."""
    return run_lab_notebook(code, tab.NOTEBOOK_TITLES[view], tab.LESSON_MD, tmp_path, must_cite="Hochreiter")


def printed_vector(out: str, name: str) -> np.ndarray:
    return np.array(ast.literal_eval(re.search(rf"^{name} = (\[.*\])$", out, re.M).group(1)))


# --- handlers ---------------------------------------------------------------------------------

def test_build_inside_blocks():
    with gr.Blocks() as demo:
        tab.build(demo)


def test_reset_then_step_fills_one_column_per_step():
    view = reset()
    assert "Random weights" in view.note and "random-weights-badge" in view.note
    assert view.stepper.t == 0 and "Press **Step**" in view.equations
    for expected in (1, 2, 3):
        view = tab.on_step(view.stepper, 1)
        assert view.stepper.t == expected and f"Step {expected} of {len(SEQ)}" in view.equations
    z = plot_json(view.states)["data"][0]["z"]  # h over time: units × time
    assert [col is not None for col in z[0]] == [True] * 3 + [False] * (len(SEQ) - 3)
    assert "f_{3,1}" in view.equations and "c_{3,1}" in view.equations and "range(3)" in view.code
    assert tab.on_step_back(view.stepper, 1).stepper.t == 2
    assert tab.on_run_to_end(view.stepper, 1).stepper.t == len(SEQ)
    assert tab.on_seek(view.stepper, 99, 1).stepper.t == len(SEQ)


@dataclass(frozen=True)
class Pair:
    a: int
    b: int


def pairs(x: int) -> Pair:
    return Pair(a=x, b=2 * x)


def stream_pairs(x: int):
    yield Pair(a=x, b=-x)


def test_bind_maps_fields_to_components():
    with gr.Blocks():
        boxes = {"a": gr.Textbox(), "b": gr.Textbox()}
    assert tab.bind(pairs, boxes)(3) == {boxes["a"]: 3, boxes["b"]: 6}
    assert list(tab.bind(stream_pairs, boxes)(3)) == [{boxes["a"]: 3, boxes["b"]: -3}]


def test_equation_numbers_are_the_trace_numbers():
    view = tab.on_step(tab.on_step(reset(kind="gru", unit=2).stepper, 2).stepper, 2)
    h = view.stepper.trace.steps[1].h[1]  # step 2, unit 2
    assert "h_{2,2}" in view.equations and f"\\mathbf{{{h:.3f}}}" in view.equations


def test_the_per_unit_table_never_wraps_a_number():
    view = tab.on_step(reset(hidden=16).stepper, 1)
    table = view.equations[view.equations.index("<table"):]
    cells = re.findall(r"<td style=\"([^\"]*)\">([^<]*)</td>", table)
    assert len(cells) >= 16 * 10 and all("white-space:nowrap" in style for style, _ in cells)
    assert all(re.fullmatch(r"−?\d+\.\d\d", number) for _, number in cells)  # a true minus sign
    assert "overflow-x:auto" in view.equations  # a wide table scrolls instead


def test_trained_note_states_measured_facts():
    scores = tab.shipped_scores()
    for kind in tab.CELL_KINDS:
        note = reset(kind=kind, source="shipped").note
        assert "learned to remember" not in note and "Measured on 1,000 fresh sequences" in note
        assert f"**{100 * scores[kind].accuracy:.0f} %**" in note
    rnn = reset(kind="rnn", source="shipped").note
    assert 0.4 <= scores["rnn"].accuracy <= 0.6 and "B or D" in rnn and "not learned" in rnn
    assert scores["lstm"].accuracy >= 0.98 and "keeps the first letter" in reset(source="shipped").note


def test_one_slider_one_change():
    """Moving the forget-bias slider changes the forget bias only: W_hh stays as it was."""
    plain, forget = reset().stepper.weights, reset(set_forget=True, forget_bias=-3.0).stepper.weights
    np.testing.assert_array_equal(plain.w_hh, forget.w_hh)
    np.testing.assert_array_equal(plain.w_ih, forget.w_ih)
    changed = np.flatnonzero((plain.b_ih != forget.b_ih) | (plain.b_hh != forget.b_hh))
    assert set(changed) <= set(range(4, 8))  # the f block of i, f, g, o with 4 units
    radius = reset(set_radius=True, radius=0.5).stepper.weights
    np.testing.assert_array_equal(plain.b_ih, radius.b_ih)
    assert not np.allclose(plain.w_hh, radius.w_hh)
    assert "spectral radius" not in reset(set_forget=True, forget_bias=-3.0).note


def test_empty_seed_is_the_default_seed_with_a_note():
    for empty in (None, ""):
        view = reset(seed=empty)
        assert view.stepper.setup.seed == tab.DEFAULT_SEED and "seed box was empty" in view.note
        np.testing.assert_array_equal(view.stepper.weights.w_hh, reset(seed=0).stepper.weights.w_hh)


def test_step_without_reset_starts_from_the_default_cell():
    view = tab.on_step(None, 1)
    assert view.stepper.t == 1 and view.stepper.setup == tab.DEFAULT_SETUP and "No Reset yet" in view.note
    assert tab.on_analysis(None, None).gradient_note.startswith("After")


def test_session_cells_need_a_race_first():
    with pytest.raises(gr.Error, match="No cells were trained"):
        reset(source="session")
    with pytest.raises(gr.Error, match="Train first"):
        tab.on_use_session_cell("lstm", None, 40)


@pytest.mark.parametrize("changes, fragment", [
    (dict(text=""), "empty"),
    (dict(text="A" * 10_000), "at most 100"),
    (dict(hidden=0), "hidden size"),
    (dict(hidden=10**6), "hidden size"),
    (dict(hidden=[4]), "hidden size"),
    (dict(radius=float("nan")), "NaN"),
    (dict(forget_bias=float("nan")), "NaN"),
    (dict(seed=float("nan")), "NaN"),
    (dict(seed=[1, 2]), "seed must be a number"),
    (dict(radius=[1]), "must be a number"),
    (dict(set_forget=[True]), "true or false"),
    (dict(kind="transformer"), "Unknown cell"),
    (dict(kind=["lstm"]), "Unknown cell"),
    (dict(text=["C0"]), "must be text"),
    (dict(source="shipped", text="hello"), "trained on the symbols"),
    (dict(source="shipped", mode="numbers", text="1, 2"), "switch the input"),
    (dict(mode="numbers", text="1, x"), "not a number"),
])
def test_bad_input_gives_a_clear_message(changes, fragment):
    with pytest.raises(gr.Error, match=fragment):
        reset(**changes)


def test_race_streams_and_feeds_the_stepper():
    frames = list(tab.on_train(3, 4, 20, 0, True, None))
    last = frames[-1]
    assert "finished" in last.status and set(last.session.cells) == {"rnn", "lstm"}
    assert "torch.optim.Adam" in last.code and len(plot_json(last.accuracy)["data"]) == 2
    view = reset(source="session", session=last.session)
    assert "trained in this session" in view.note and view.stepper.weights.hidden_size == 4
    choice = tab.on_use_session_cell("rnn", last.session, 3)
    assert choice.kind == "rnn" and choice.source == "session"


def test_race_refuses_bad_settings():
    with pytest.raises(gr.Error, match="NaN"):
        next(tab.on_train(float("nan"), 8, 100, 0, True, None))
    with pytest.raises(gr.Error, match="hidden size"):
        next(tab.on_train(40, 0, 100, 0, True, None))
    with pytest.raises(gr.Error, match="must be a number"):
        next(tab.on_train(40, 8, [100], 0, True, None))
    frame = list(tab.on_train(3, 4, 10, "", True, None))[-1]  # an empty seed box: seed 0
    assert "seed 0" in frame.status and "seed box was empty" in frame.status


# --- lessons: every "Try this" prompt -------------------------------------------------------------

def test_every_prompt_has_a_lesson_test():
    """Six prompts, six families of lesson tests below: a new prompt needs a new test."""
    assert len(tab.LESSON_TRY) == 6
    names = [name for name in globals() if name.startswith("test_lesson_recurrent_")]
    assert len(names) >= 6, names


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_recurrent_forget_bias_minus_3_forgets_within_2_steps(seed):
    forget = run_to_end(seed=seed, set_forget=True, forget_bias=-3.0)
    assert echo_left(forget, "c", 3) <= 0.1  # ≥ 90 % of the first symbol lost by step 3
    keep = run_to_end(seed=seed, set_forget=True, forget_bias=3.0)
    assert echo_left(keep, "c", 11) >= 0.3  # more than 30 % left after 10 more steps
    assert echo_left(run_to_end(seed=seed), "c", 11) <= 0.02  # the untouched cell: under 2 %


@pytest.mark.parametrize("letter", "ABCD")
def test_lesson_recurrent_trained_lstm_remembers_and_the_rnn_misses_b_and_d(letter):
    text = letter + SEQ[1:]
    lstm = run_to_end(source="shipped", text=text)
    rnn = run_to_end(source="shipped", kind="rnn", text=text)
    answer = {kind: "ABCD"[int(np.argmax([row[-1] for row in plot_json(view.readout)["data"][0]["z"]]))]
              for kind, view in (("lstm", lstm), ("rnn", rnn))}
    assert answer["lstm"] == letter
    if letter in "BD":
        assert answer["rnn"] != letter
    assert "about half" in tab.LESSON_TRY[1] and "50 %" in rnn.note


def test_lesson_recurrent_trained_gradients_vanish_only_in_the_rnn():
    settings = apply_choice(tab.on_long_trained())
    assert settings["source"] == "shipped" and len(settings["text"]) == 41
    view = tab.on_reset(**settings)
    lines = {name: np.array(y) for name, y in curves(tab.on_analysis(view.stepper, None).gradients).items()}
    assert lines["RNN ‖∂h_T/∂h_t‖"][0] < 1e-40
    assert lines["GRU ‖∂h_T/∂h_t‖"].min() > 0.9
    assert lines["LSTM ‖∂c_T/∂c_t‖ (cell-state path)"].min() > 0.9


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_recurrent_spectral_radius_and_forget_bias_move_the_gradient_lines(seed):
    rnn = "RNN ‖∂h_T/∂h_t‖"
    small = gradient_curves(seed=seed, set_radius=True, radius=0.5)[rnn][0]
    large = gradient_curves(seed=seed, set_radius=True, radius=2.0)[rnn][0]
    assert small < 1e-3 and large >= 10 * small
    cell_path = "LSTM ‖∂c_T/∂c_t‖ (cell-state path)"
    assert gradient_curves(seed=seed, set_forget=True, forget_bias=3.0)[cell_path].min() > 0.5
    assert gradient_curves(seed=seed)[cell_path].min() < 0.05  # the default bias: it vanishes too


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_recurrent_memory_race_lstm_wins_at_40_for_every_seed(seed):
    frame_40 = race(40, seed)
    at_5, at_40 = final_accuracy(race(5, seed)), final_accuracy(frame_40)
    assert at_5["LSTM"] >= 0.95 and at_5["RNN (tanh)"] >= 0.7, at_5
    assert at_40["LSTM"] >= 0.95 and at_40["RNN (tanh)"] <= 0.5, at_40
    # the race's question, "At N = 40, who reaches 90 % first?", read from the same snapshots
    verdict, tally = tab.on_reveal_race("The LSTM", frame_40.finish, Tally())
    assert verdict.startswith("✅") and "RNN (tanh) never" in verdict and tally.right == 1


def test_lesson_recurrent_memory_race_without_curriculum_depends_on_the_seed():
    lstm = [final_accuracy(race(40, seed, curriculum=False))["LSTM"] for seed in SEEDS]
    assert max(lstm) >= 0.95 and min(lstm) <= 0.6, lstm


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_recurrent_impulse_echo_shrinks(seed):
    settings = apply_choice(tab.on_impulse(), seed=seed)
    assert settings["kind"] == "rnn" and settings["mode"] == "numbers"
    view = tab.on_run_to_end(tab.on_reset(**settings).stepper, 1)
    echo = curves(view.echo)["h_t: ‖h_t − h_t(x₁ = 0)‖"]
    assert all(later < earlier for earlier, later in zip(echo, echo[1:]))  # step after step
    assert echo[0] > 0.01  # the raw h_t would show a fixed point; the echo shows the impulse
    small = tab.on_run_to_end(tab.on_reset(**{**settings, "set_radius": True, "radius": 0.5}).stepper, 1)
    assert echo_left(small, "h", 10) < 0.01
    large = tab.on_run_to_end(tab.on_reset(**{**settings, "set_radius": True, "radius": 2.0}).stepper, 1)
    assert echo_left(large, "h", 10) > 0.03


def test_characters_of_only_x_are_one_hot_not_numbers():
    """The text "xxxx" read as characters has the vocabulary ("x",), as numbers have: the
    input's mode, not its vocabulary, decides how the equations and the code read it."""
    chars = tab.on_step(reset(kind="rnn", mode="chars", text="xxxx").stepper, 1)
    assert chars.stepper.enc.mode == "chars"
    assert "one-hot('x'): a 1 in column 1 of [x]" in chars.equations
    assert "vocab = 'x'" in chars.code and "torch.eye(len(vocab)" in chars.code
    numbers = tab.on_step(reset(kind="rnn", mode="numbers", text="2, 0").stepper, 1)
    assert "$x_t = 2" in numbers.equations and "one-hot" not in numbers.equations
    assert "x = torch.tensor([[2], [0]]" in numbers.code


# --- code panels --------------------------------------------------------------------------------

@pytest.mark.parametrize("changes", [
    dict(set_forget=True, forget_bias=-3.0),
    dict(kind="gru", set_radius=True, radius=1.5, seed=3),
    dict(kind="rnn", mode="numbers", text="1, 0, -0.5, 2"),
    dict(kind="rnn", mode="chars", text="xxxx"),  # a one-letter vocabulary "x", not numbers
    dict(kind="lstm", source="shipped", set_radius=True, radius=0.9, set_forget=True, forget_bias=-2.0),
])
def test_code_panel_recurrent_step(changes, tmp_path):
    view = three_steps(**changes)
    check_step_output(view, run_panel(view.code, tmp_path))


def three_steps(**changes) -> tab.StepperView:
    view = reset(**changes)
    for _ in range(3):
        view = tab.on_step(view.stepper, 1)
    return view


def check_step_output(view: tab.StepperView, out: str) -> None:
    """The panel printed the numbers the stepper shows at step 3."""
    step = view.stepper.trace.steps[2]
    np.testing.assert_allclose(printed_vector(out, "h_3"), step.h, atol=2e-6)
    for gate in step.gates:
        np.testing.assert_allclose(printed_vector(out, gate), step.gates[gate], atol=2e-6)
    if view.stepper.readout is not None:
        shown = [row[2] for row in plot_json(view.readout)["data"][0]["z"]]  # column of step 3
        np.testing.assert_allclose(printed_vector(out, "P"), shown, atol=1e-4)


@pytest.mark.parametrize("changes", [
    dict(seed=2, hidden=3, set_radius=True, radius=1.3, set_forget=True, forget_bias=2.0),
    dict(source="shipped", text=tab.LONG_TEXT, set_forget=True, forget_bias=1.0),
])
def test_code_panel_recurrent_gradients(changes, tmp_path):
    analysis = tab.on_analysis(reset(**changes).stepper, None)
    check_gradient_output(analysis, run_panel(analysis.gradient_code, tmp_path))


def check_gradient_output(analysis: tab.AnalysisView, out: str) -> None:
    """The panel printed (with autograd) the norms the gradient plot draws."""
    shown = curves(analysis.gradients)
    printed = {f"{kind} {path}": np.array([float(v) for v in ast.literal_eval(values)])
               for kind, path, values in re.findall(r"^(\w+) (d\w_T/d\w_t) (\[.*\])$", out, re.M)}
    names = {"rnn dh_T/dh_t": "RNN ‖∂h_T/∂h_t‖", "gru dh_T/dh_t": "GRU ‖∂h_T/∂h_t‖",
             "lstm dh_T/dh_t": "LSTM ‖∂h_T/∂h_t‖", "lstm dc_T/dc_t": "LSTM ‖∂c_T/∂c_t‖ (cell-state path)",
             "lstm dh_T/dc_t": "LSTM ‖∂h_T/∂c_t‖"}
    assert set(printed) == set(names)
    for key, name in names.items():
        np.testing.assert_allclose(printed[key], np.maximum(shown[name], 1e-300), rtol=1e-5)


@pytest.mark.parametrize("args", [dict(distractors=5, hidden=4, steps=40, seed=1, curriculum=True),
                                  dict(distractors=8, hidden=3, steps=30, seed=2, curriculum=False)])
def test_code_panel_recurrent_race(args, tmp_path):
    frame = finished_race(**args)
    check_race_output(frame, run_panel(frame.code, tmp_path))


def finished_race(distractors: int, hidden: int, steps: int, seed: int, curriculum: bool) -> tab.RaceFrame:
    frame = list(tab.on_train(distractors, hidden, steps, seed, curriculum, None))[-1]
    assert "finished (step limit)" in frame.status
    return frame


def check_race_output(frame: tab.RaceFrame, out: str) -> None:
    """The race's code trained to the same final accuracies the race plot shows."""
    printed = dict(re.findall(r"^(\w+) accuracy ([\d.]+)$", out, re.M))
    shown = final_accuracy(frame)
    assert float(printed["rnn"]) == pytest.approx(shown["RNN (tanh)"], abs=1e-6)
    assert float(printed["lstm"]) == pytest.approx(shown["LSTM"], abs=1e-6)


# --- notebooks: every code panel's "Download notebook", run in a kernel ----------------------------

@pytest.mark.parametrize("changes", [dict(kind="gru", seed=4, set_radius=True, radius=0.8),
                                     dict(source="shipped", set_forget=True, forget_bias=2.0)])
def test_code_panel_recurrent_step_notebook(changes, tmp_path):
    view = three_steps(**changes)
    check_step_output(view, run_notebook(view.code, "step", tmp_path))


@pytest.mark.parametrize("changes", [dict(seed=1, set_forget=True, forget_bias=3.0),
                                     dict(source="shipped", text=tab.LONG_TEXT[:12])])
def test_code_panel_recurrent_gradients_notebook(changes, tmp_path):
    analysis = tab.on_analysis(reset(**changes).stepper, None)
    check_gradient_output(analysis, run_notebook(analysis.gradient_code, "gradients", tmp_path))


def test_code_panel_recurrent_race_notebook(tmp_path):
    frame = finished_race(distractors=6, hidden=3, steps=30, seed=3, curriculum=True)
    check_race_output(frame, run_notebook(frame.code, "race", tmp_path))


# --- predict, then reveal: each answer comes from the run -----------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_question_recurrent_memory_answer_follows_the_forget_bias(seed):
    """Forget bias −3: under 10 % of the first symbol is left 5 steps later; +3: more than half."""
    for bias, answer in ((-3.0, "Under 10 %"), (3.0, "More than half of it")):
        view = reset(seed=seed, set_forget=True, forget_bias=bias)
        for t in range(1, 6):  # before t = 6 nothing is revealed
            view = tab.on_step(view.stepper, 1)
            verdict, tally = tab.on_reveal_memory(answer, view.stepper, Tally())
            assert "Step to $t = 6$" in verdict and tally.asked == 0
        view = tab.on_step(view.stepper, 1)
        verdict, tally = tab.on_reveal_memory(answer, view.stepper, Tally())
        assert verdict.startswith("✅") and (tally.asked, tally.right) == (1, 1), verdict
        share = echo_left(view, "c", 6)  # what the echo plot draws
        assert f"**{100 * share:.3g} %**" in verdict
        wrong = next(c for c in tab.ECHO_BANDS if c != answer)
        verdict, tally = tab.on_reveal_memory(wrong, view.stepper, Tally())
        assert verdict.startswith("❌") and answer in verdict and tally.right == 0


def test_question_recurrent_memory_without_a_choice_or_a_long_enough_sequence():
    view = run_to_end()
    verdict, tally = tab.on_reveal_memory(None, view.stepper, Tally())
    assert verdict.startswith("The run says") and tally.asked == 0
    assert tab.on_reveal_memory(None, reset().stepper, Tally())[0] == ""  # t = 0: nothing yet
    short = run_to_end(text="A012")
    assert "at least 6 symbols" in tab.on_reveal_memory("Under 10 %", short.stepper, Tally())[0]


def test_question_recurrent_race_neither_in_too_few_steps():
    frame = list(tab.on_train(40, 8, 20, 0, True, None))[-1]
    verdict, _ = tab.on_reveal_race("Neither, in these steps", frame.finish, Tally())
    assert verdict.startswith("✅") and "LSTM never" in verdict and "RNN (tanh) never" in verdict
    assert all(f.finish is None and f.verdict == "" for f in list(tab.on_train(3, 4, 20, 0, True, None))[:-1])


# --- the live app -------------------------------------------------------------------------------

def test_api_step_before_reset_and_clear_type_errors(client):
    """An API-only client may step first; wrong-typed values get the lab's own message."""
    fresh = type(client)(client.src, verbose=False)  # a new session: no Reset yet
    first = fresh.predict(1, api_name="/recurrent_step")
    assert first[1]["value"] == 1 and "No Reset yet" in first[0]
    settings = ["lstm", "chars", SEQ, "random", 0, 4, False, 1.0, False, 0.0, 1]
    out = client.predict(*settings, api_name="/recurrent_reset")
    assert "Random weights" in out[0]
    first = client.predict(1, api_name="/recurrent_step")
    second = client.predict(1, api_name="/recurrent_step")
    assert first[1]["value"] == 1 and second[1]["value"] == 2 and "Step 2 of" in second[2]
    for position, wrong in ((4, [1, 2]), (7, [1.0])):
        bad = list(settings)
        bad[position] = wrong
        with pytest.raises(Exception, match="must be a number") as err:
            client.predict(*bad, api_name="/recurrent_reset")
        assert "Something went wrong" not in str(err.value)


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
    cell = p.locator("#rec-equations td").first
    assert cell.evaluate("e => getComputedStyle(e).whiteSpace") == "nowrap"  # kept by the sanitizer
    path = page.screenshot("recurrent")
    assert_not_blank(path)
    assert not page.console_errors
    assert not page.outside_requests


def test_browser_presenter_mode_does_not_clip_the_equations(page):
    page.open(f"?tab={tab.TAB_ID}&presenter=1")
    p = page.page
    p.locator("body.presenter").wait_for(state="attached", timeout=30_000)
    p.locator("#rec-step").click()
    p.locator("#rec-equations").get_by_text("Step 1 of").wait_for(timeout=30_000)
    # every displayed equation fits its box: nothing cut off at the right edge
    clipped = p.locator("#rec-equations .katex-display").evaluate_all(
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1 || "
        "e.getBoundingClientRect().right > e.parentElement.getBoundingClientRect().right + 1).length")
    assert p.locator("#rec-equations .katex-display").count() >= 6 and clipped == 0
    assert_not_blank(page.screenshot("recurrent-presenter"))
