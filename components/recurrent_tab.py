"""RNN & LSTM lab (issue 3): step a recurrent cell through a sequence and see every gate,
run it in both directions, watch gradients vanish, and race an RNN against an LSTM.
Issue 18: a lesson link restores every setting (and the sub-tab), two questions ask the
student to predict before the stepper and the race answer, and each code panel downloads
as a notebook.

Handlers are top-level functions that return a frozen dataclass (a view); ``bind`` turns
its fields into the ``{component: value}`` dict Gradio takes, so nothing depends on the
order of an ``outputs=`` list."""

from __future__ import annotations

import functools
import inspect
import time
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Iterator, Mapping

import gradio as gr

from components import queues
from components.code_panel import code_panel
from components.errors import user_errors
from components.figures import FigureJSON
from components.lazy import lazy_module
from components.lesson import lesson, lesson_markdown
from components.links import LabSetup, lab_setup
from components.predict import Outcome, Tally, ask, reveal
from components.recurrent_code import SHIPPED_ID, gradient_code, race_code, step_code
from components.recurrent_equations import LATEX, equations_markdown
from components.recurrent_figures import (
    bidirectional_figure, echo_figure, gates_figure, gradient_figure, race_figures, readout_figure,
    states_figure,
)
from playground.recurrent.cells import (
    CELL_KINDS, CELL_NAMES, ECHO_BANDS, CellWeights, Echo, Encoded, GradientNorms, Trace, bidirectional,
    check_edits, check_hidden_size, check_kind, echo_left, echo_of_first_input, edit_weights, encode_chars,
    encode_numbers, gradient_norms, random_weights, unroll,
)
from playground.service.model_service import get_service
from playground.service.validate import clamp

memory_task = lazy_module("playground.recurrent.memory_task")  # imports torch: only on first use

TAB_ID = "recurrent"
TITLE = "RNN & LSTM"
SOURCES = [("Random weights (seed): untrained", "random"),
           ("Trained on the memory task (shipped)", "shipped"),
           ("Trained in this session (Memory race tab)", "session")]
MODES = [("Characters (one-hot)", "chars"), ("Numbers (one input)", "numbers")]
DEFAULT_TEXT = "C0312013203"  # a memory-task sequence, so trained cells can read it too
# a letter, then N = 40 random digits (memory_task.example_sequence(40, seed=0)): the RNN loses it
LONG_TEXT = "D2211000032322322223132013203230030201111"
IMPULSE_TEXT = "1, 0, 0, 0, 0, 0, 0, 0, 0, 0"
TRAIN_SIGNALS, TRAIN_VOCAB = "ABCD", "ABCD0123"  # the memory task's symbols
SCORE_N = 40  # the shipped cells are measured at the longest N they were trained on
DEFAULT_SEED = 0
RACE_SECONDS = 60.0  # the race's wall-clock limit (the step budget is what the lessons use)
SUB_TABS = {"recurrent-step": "Step a cell", "recurrent-bidir": "Both directions",
            "recurrent-gradients": "Vanishing gradients", "recurrent-race": "Memory race"}
MEMORY_STEPS = 5  # the stepper's question: what is left of the first symbol 5 steps later
RACE_TARGET = 0.9  # the race's question: who reaches 90 % held-out accuracy first
RACE_CHOICES = {"lstm": "The LSTM", "rnn": "The RNN", "tie": "Both at the same snapshot",
                "neither": "Neither, in these steps"}  # memory_task.first_to_target's winner → choice


@dataclass(frozen=True)
class Setup:
    """What the student chose; enough to rebuild the stepper's cell for any kind."""

    kind: str
    mode: str  # "chars" | "numbers"
    text: str
    source: str  # "random" | "shipped" | "session"
    seed: int
    hidden: int
    set_radius: bool  # rescale every W_h block to ``radius``
    radius: float
    set_forget: bool  # set the LSTM's forget-gate bias to ``forget_bias``
    forget_bias: float


DEFAULT_SETUP = Setup("lstm", "chars", DEFAULT_TEXT, "random", DEFAULT_SEED, 4, False, 1.0, False, 0.0)


@dataclass(frozen=True)
class SessionRace:
    """The cells this session's last race trained, and the N they were trained for."""

    cells: Mapping[str, Any]  # kind → memory_task.TrainedCell
    distractors: int


@dataclass(frozen=True)
class Stepper:
    """One session's stepper: the unrolled sequence and how far the student has stepped."""

    setup: Setup
    enc: Encoded
    weights: CellWeights
    readout: Any  # memory_task.Readout, or None for random weights
    trace: Trace
    echo: Echo  # the first input's trace in every later state
    note: str  # what the weights are, shown above the plots
    t: int = 0  # steps taken: 0 = nothing read yet


@dataclass(frozen=True)
class StepperView:
    """Everything the stepper shows at step t."""

    stepper: Stepper
    note: str
    time: dict  # an update of the time slider (its range follows the sequence)
    equations: str
    gates: FigureJSON
    states: FigureJSON
    echo: FigureJSON
    readout: FigureJSON
    code: str


@dataclass(frozen=True)
class AnalysisView:
    """Both directions and the gradient norms of every cell, for the stepper's setup."""

    bidirectional: FigureJSON
    gradients: FigureJSON
    gradient_note: str
    gradient_code: str


@dataclass(frozen=True)
class RaceFrame:
    """One frame of the memory race."""

    loss: FigureJSON
    accuracy: FigureJSON
    status: str
    session: SessionRace
    code: str
    finish: Any  # memory_task.FirstToTarget once the race is done, else None
    verdict: str  # the race question's verdict: cleared while the race runs


@dataclass(frozen=True)
class Choice:
    """New values for the lab's choices (a button that sets up a lesson)."""

    kind: Any
    mode: Any
    text: Any
    source: Any
    subtabs: Any
    view: Any  # the sub-tab a lesson link names (kept in step with ``subtabs``)


def bind(handler: Callable, components: Mapping[str, Any]) -> Callable:
    """``handler`` as Gradio calls it: each dataclass it returns (or yields) becomes
    ``{component: value}``, matching fields to ``components`` by name."""
    def as_outputs(result: Any) -> dict:
        return {components[f.name]: getattr(result, f.name) for f in fields(result)}

    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def stream(*args: Any) -> Iterator[dict]:
            for result in handler(*args):
                yield as_outputs(result)
        return stream

    @functools.wraps(handler)
    def call(*args: Any) -> dict:
        return as_outputs(handler(*args))
    return call


# --- resolving weights ----------------------------------------------------------------------

def shipped_cells() -> dict:
    """The shipped trained cells by kind, converted once per process."""
    service = get_service()
    state, _ = service.load_state(SHIPPED_ID)
    return service.memo(("recurrent-cells", SHIPPED_ID), lambda: memory_task.cells_from_state(state))


def shipped_scores() -> dict:
    """Each shipped cell measured on 1,000 fresh sequences (once per process)."""
    cells = shipped_cells()
    return get_service().memo(("recurrent-scores", SHIPPED_ID), lambda: {
        kind: memory_task.score(cell, kind, SCORE_N) for kind, cell in cells.items()})


def trained_source(source: str, session: SessionRace | None) -> dict:
    if source == "shipped":
        return shipped_cells()
    if session is None or not session.cells:
        raise ValueError("No cells were trained in this session yet: open the Memory race tab and "
                         "press Train, or choose the shipped trained weights.")
    return dict(session.cells)


def score_note(score: Any) -> str:
    """Measured facts about a trained cell: accuracy overall and per first letter."""
    letters = ", ".join(f"{letter} {100 * acc:.0f} %" for letter, acc in score.per_letter.items())
    never = [letter for letter, acc in score.per_letter.items() if acc < 0.05]
    verdict = (" It keeps the first letter." if score.accuracy >= 0.95 else
               f" It has not learned to keep the letter: it is (almost) never right when the "
               f"sequence starts with {' or '.join(never)}." if never else
               " It keeps the letter only part of the time.")
    return (f"Measured on {score.sequences:,} fresh sequences with N = {score.distractors} digits: "
            f"right on **{100 * score.accuracy:.0f} %** (chance 25 %); by first letter {letters}.{verdict}")


def resolve_cell(setup: Setup, kind: str, enc: Encoded, session: SessionRace | None,
                 seed_offset: int = 0) -> tuple[CellWeights, Any, str]:
    """(weights, read-out or None, a note saying what the weights are)."""
    if setup.source == "random":
        weights = random_weights(kind, enc.x.shape[1], setup.hidden, setup.seed + seed_offset)
        readout = None
        note = (f'<span class="random-weights-badge">⚠ Random weights (seed {setup.seed}): this '
                f"{CELL_NAMES[kind]} was never trained, so its numbers carry no meaning yet.</span>")
    else:
        cells = trained_source(setup.source, session)
        if kind not in cells:
            raise ValueError(f"This session's race trained {', '.join(cells)} only, not {kind}.")
        weights, readout = cells[kind].weights, cells[kind].readout
        if setup.source == "shipped":
            score, where = shipped_scores()[kind], "shipped with the app"
        else:
            score = memory_task.score(cells[kind], kind, session.distractors, sequences=500)
            where = "trained in this session's race"
        note = (f"Trained weights ({where}): this {CELL_NAMES[kind]} has {weights.hidden_size} units. "
                + score_note(score))
    edits = []
    if setup.set_radius:
        edits.append(f"every W_h block rescaled to spectral radius {setup.radius:g}")
    if setup.set_forget:
        edits.append(f"forget-gate bias set to {setup.forget_bias:g}" if kind == "lstm" else
                     "the forget-gate bias exists only in the LSTM")
    if edits:
        weights = edit_weights(weights, setup.radius if setup.set_radius else None,
                               setup.forget_bias if setup.set_forget else None)
        note += f"<br>✏️ Edited: {'; '.join(edits)}."
    return weights, readout, note


def encode(setup: Setup) -> Encoded:
    if setup.source != "random":
        if setup.mode != "chars":
            raise ValueError("Trained cells read characters (the letters A–D and digits 0–3): "
                             "switch the input to Characters.")
        return encode_chars(setup.text, tuple(TRAIN_VOCAB))
    return encode_chars(setup.text) if setup.mode == "chars" else encode_numbers(setup.text)


def check_seed(seed: object) -> tuple[int, str]:
    """A seed from a number box: empty means the default seed (said in the note)."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return DEFAULT_SEED, f"The seed box was empty: seed {DEFAULT_SEED} was used."
    value, note = clamp(seed, 0, 2**31 - 1, "The seed", integer=True)
    return int(value), note


def check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, not {value!r:.40}.")
    return value


def make_setup(kind: str, mode: str, text: str, source: str, seed: float, hidden: float,
               set_radius: bool, radius: float, set_forget: bool, forget_bias: float) -> tuple[Setup, str]:
    """Validated choices and a note about any value that was clamped or defaulted."""
    if mode not in ("chars", "numbers"):
        raise ValueError("Choose Characters or Numbers as input.")
    if source not in ("random", "shipped", "session"):
        raise ValueError("Choose where the weights come from.")
    seed_value, note_seed = check_seed(seed)
    radius, forget_bias, note_edit = check_edits(radius, forget_bias)
    setup = Setup(check_kind(kind), mode, text, source, seed_value, check_hidden_size(hidden),
                  check_flag(set_radius, "Set the spectral radius"), radius,
                  check_flag(set_forget, "Set the forget bias"), forget_bias)
    return setup, " ".join(n for n in (note_seed, note_edit) if n)


def tick() -> bool:
    """Tick a slider's checkbox when the student moves the slider."""
    return True


def build_stepper(setup: Setup, session: SessionRace | None, extra_note: str = "") -> Stepper:
    enc = encode(setup)
    weights, readout, note = resolve_cell(setup, setup.kind, enc, session)
    if extra_note:
        note += f"<br>ℹ️ {extra_note}"
    return Stepper(setup, enc, weights, readout, unroll(weights, enc.x, enc.labels),
                   echo_of_first_input(weights, enc.x), note)


# --- stepper views ----------------------------------------------------------------------------

def view(stepper: Stepper, unit: float) -> StepperView:
    """What the stepper shows at its step t."""
    t, trace, enc = stepper.t, stepper.trace, stepper.enc
    current = trace.steps[t - 1] if t > 0 else None
    label = enc.labels[t - 1] if t > 0 else ""
    unit_value, _ = clamp(unit, 1, stepper.weights.hidden_size, "The unit", integer=True)
    probs = stepper.readout.probabilities(trace.h) if stepper.readout is not None else None
    return StepperView(
        stepper=stepper, note=stepper.note,
        time=gr.update(minimum=0, maximum=len(enc.labels), value=t),  # cheaper than a gr.Slider
        equations=equations_markdown(trace.kind, current, t, len(enc.labels), label, enc.vocab,
                                     int(unit_value), enc.mode),
        gates=gates_figure(current, trace.kind, t, label),
        states=states_figure(trace.h, trace.c, enc.labels, t),
        echo=echo_figure(stepper.echo, enc.labels, t),
        readout=readout_figure(probs, enc.labels, TRAIN_SIGNALS, t),
        code=step_code(stepper.setup, stepper.weights, enc, t),
    )


def current(stepper: Stepper | None) -> Stepper:
    """This session's stepper; a client that never pressed Reset (an API session) gets the
    lab's default cell and sequence."""
    if stepper is None:
        return build_stepper(DEFAULT_SETUP, None, "No Reset yet: the default cell and sequence.")
    if not isinstance(stepper, Stepper):
        raise ValueError("The stepper's state was not made by this lab: press Reset.")
    return stepper


@user_errors
def on_reset(kind: str, mode: str, text: str, source: str, seed: float, hidden: float, set_radius: bool,
             radius: float, set_forget: bool, forget_bias: float, unit: float,
             session: SessionRace | None) -> StepperView:
    """Build the cell and unroll the sequence; the view starts before the first step."""
    setup, note = make_setup(kind, mode, text, source, seed, hidden, set_radius, radius, set_forget,
                             forget_bias)
    return view(build_stepper(setup, session, note), unit)


@user_errors
def on_step(stepper: Stepper | None, unit: float) -> StepperView:
    stepper = current(stepper)
    return view(replace(stepper, t=min(stepper.t + 1, len(stepper.enc.labels))), unit)


@user_errors
def on_step_back(stepper: Stepper | None, unit: float) -> StepperView:
    stepper = current(stepper)
    return view(replace(stepper, t=max(stepper.t - 1, 0)), unit)


@user_errors
def on_run_to_end(stepper: Stepper | None, unit: float) -> StepperView:
    stepper = current(stepper)
    return view(replace(stepper, t=len(stepper.enc.labels)), unit)


@user_errors
def on_seek(stepper: Stepper | None, t: float, unit: float) -> StepperView:
    stepper = current(stepper)
    value, _ = clamp(t, 0, len(stepper.enc.labels), "The time step", integer=True)
    return view(replace(stepper, t=int(value)), unit)


# --- both directions and gradients -------------------------------------------------------------

def gradient_note(norms: Mapping[str, GradientNorms], steps: int) -> str:
    """The numbers at t = 1, said in words: how much of step 1 still reaches step T."""
    parts = []
    for kind, value in norms.items():
        parts.append(f"{CELL_NAMES[kind]} ‖∂h_T/∂h_1‖ = {value.h_from_h[0]:.2g}")
        if value.c_from_c is not None:
            parts.append(f"LSTM ‖∂c_T/∂c_1‖ = {value.c_from_c[0]:.2g}")
    return f"After {steps} steps: " + " · ".join(parts) + "."


@user_errors
def on_analysis(stepper: Stepper | None, session: SessionRace | None) -> AnalysisView:
    """Both directions and the gradient norms of every cell for the current setup."""
    stepper = current(stepper)
    setup, enc = stepper.setup, stepper.enc
    # A real bidirectional layer has a second cell: a different seed, or the same trained cell.
    backward, _, _ = resolve_cell(setup, setup.kind, enc, session, seed_offset=1)
    both = bidirectional(stepper.weights, backward, enc)
    norms, skipped = {}, []
    for kind in CELL_KINDS:
        try:
            weights, _, _ = resolve_cell(setup, kind, enc, session)
        except ValueError:
            skipped.append(CELL_NAMES[kind])  # e.g. the session race trained no GRU
            continue
        norms[kind] = gradient_norms(weights, enc.x)
    note = (gradient_note(norms, len(enc.labels)) + " Same sequence and the same weight choice for "
            "each cell" + (f"; {', '.join(skipped)} not available here." if skipped else "."))
    return AnalysisView(bidirectional_figure(both.forward.h, both.h_backward, enc.labels),
                        gradient_figure(norms, enc.labels), note,
                        gradient_code(setup, stepper.weights, enc))


def on_long_trained() -> Choice:
    """Set up the gradient lesson: the shipped trained cells on a letter and 40 digits."""
    return Choice(kind=gr.update(), mode="chars", text=LONG_TEXT, source="shipped",
                  subtabs=gr.Tabs(selected="recurrent-gradients"), view="recurrent-gradients")


def on_impulse() -> Choice:
    """Set up the impulse-echo lesson: an untrained RNN reads one 1 and then zeros."""
    return Choice(kind="rnn", mode="numbers", text=IMPULSE_TEXT, source="random",
                  subtabs=gr.Tabs(selected="recurrent-step"), view="recurrent-step")


# --- the memory race ----------------------------------------------------------------------------

def race_status(snap: Any, note: str) -> str:
    parts = [f"**Step {snap.step}** · {snap.seconds:.1f} s · seed {snap.seed} · N = {snap.distractors}"]
    if snap.train_length < snap.distractors:
        parts.append(f"curriculum: training on N = {snap.train_length}")
    parts += [f"{CELL_NAMES[k]}: **{100 * v[-1]:.0f} %**" for k, v in snap.accuracy.items()]
    if snap.done:
        parts.append("finished (step limit)" if snap.stopped_by == "steps" else "stopped at the time limit")
    return " · ".join(parts) + (f"\n\nℹ️ {note}" if note else "")


@user_errors
def on_train(distractors: float, hidden: float, steps: float, seed: float, curriculum: bool,
             session: SessionRace | None) -> Iterator[RaceFrame]:
    """Stream the race: curves, status, this session's cells and the code, a few times a second."""
    # a minute at most: 300 steps at N = 40 take ~25 s on one core shared with a busy class
    cfg, note = memory_task.check_config(distractors, hidden, steps, RACE_SECONDS)
    cfg = replace(cfg, curriculum=cfg.curriculum if check_flag(curriculum, "Curriculum") else 0.0)
    seed_value, seed_note = check_seed(seed)
    note = " ".join(n for n in (note, seed_note) if n)
    code = race_code(cfg, seed_value)
    last_yield = 0.0
    for snap in memory_task.train_race(cfg, seed_value):
        now = time.perf_counter()
        if snap.done or now - last_yield >= 0.15:  # ≤ ~7 figure updates a second
            last_yield = now
            loss, acc = race_figures(snap)
            finish = memory_task.first_to_target(snap, RACE_TARGET) if snap.done else None
            yield RaceFrame(loss, acc, race_status(snap, note), SessionRace(dict(snap.cells), cfg.distractors),
                            code, finish, verdict="")


@user_errors
def on_use_session_cell(kind: str, session: SessionRace | None, distractors: float) -> Choice:
    """Put a cell trained in the race into the stepper, with a fresh task sequence."""
    if session is None or not session.cells:
        raise ValueError("Train first: press Train and wait for a few snapshots.")
    n, _ = clamp(distractors, 1, 60, "N", integer=True)
    text = memory_task.example_sequence(int(n), seed=int(time.time()) % 1000)
    return Choice(kind=kind, mode="chars", text=text, source="session",
                  subtabs=gr.Tabs(selected="recurrent-step"), view="recurrent-step")


# --- predict, then reveal ---------------------------------------------------------------------

MEMORY_QUESTION = "recurrent-memory"
MEMORY_ASK = (f"{MEMORY_STEPS} steps after the first symbol, how much of it is still in the memory "
              "(c_t for the LSTM, h_t for the RNN and GRU)? Choose, then step.")
RACE_QUESTION = "recurrent-race"
RACE_ASK = f"With these settings, who reaches {100 * RACE_TARGET:.0f} % accuracy first? Choose, then train."


def memory_outcome(stepper: Stepper) -> Outcome | None:
    """The stepped cell's answer: the share of the first input's echo left k steps later."""
    left = echo_left(stepper.echo, MEMORY_STEPS)
    if left is None:
        return None
    state, later = left.state, 1 + left.steps_later
    return Outcome(left.band, (
        f"At $t = {later}$ the echo of the first symbol in ${state}_t$ (this run minus the run with "
        f"$x_1 = 0$) is **{100 * left.share:.3g} %** of its size at $t = 1$ "
        f"($\\|{state}_{{{later}}} - {state}_{{{later}}}(x_1{{=}}0)\\| \\,/\\, "
        f"\\|{state}_1 - {state}_1(x_1{{=}}0)\\|$)."))


@user_errors
def on_reveal_memory(choice: str | None, stepper: Stepper | None, tally: Tally) -> tuple[str, Tally]:
    """After every move of the stepper: the verdict once the student has stepped far enough."""
    stepper = current(stepper)
    if stepper.t <= MEMORY_STEPS:
        if len(stepper.enc.labels) <= MEMORY_STEPS:
            return f"The question needs a sequence of at least {MEMORY_STEPS + 1} symbols.", tally
        hint = f"Step to $t = {MEMORY_STEPS + 1}$ (or Run to end) to see the answer."
        return (hint if choice else ""), tally
    outcome = memory_outcome(stepper)
    if outcome is None:
        return "The first symbol left no trace at all here (its input is zero): nothing to compare.", tally
    return reveal(MEMORY_QUESTION, choice, outcome, tally)


def race_outcome(finish: Any) -> Outcome | None:
    """The race's answer, read from its snapshots (None while it runs or after Stop)."""
    if finish is None:
        return None
    reached = ", ".join(
        f"{CELL_NAMES[kind]} at step {step}" if step is not None else f"{CELL_NAMES[kind]} never"
        for kind, step in finish.reached.items())
    return Outcome(RACE_CHOICES[finish.winner], f"The first snapshot at {100 * finish.target:.0f} % held-out "
                                                f"accuracy or more, in {finish.steps_run} steps: {reached}.")


@user_errors
def on_reveal_race(choice: str | None, finish: Any, tally: Tally) -> tuple[str, Tally]:
    """After the race: the verdict on the student's prediction, from the race's snapshots."""
    return reveal(RACE_QUESTION, choice, race_outcome(finish), tally)


# --- lesson links ----------------------------------------------------------------------------

def open_view(view: str | None) -> Any:
    """The sub-tab a lesson link names (a link without one leaves the sub-tabs alone)."""
    return gr.Tabs(selected=view) if view in SUB_TABS else gr.Tabs()


# --- layout -----------------------------------------------------------------------------------

LESSON_WHAT = (
    "A recurrent cell reads a sequence **one symbol at a time** and carries a hidden state "
    "$h_t$ from step to step, using the same weights at every step. The plain **RNN** (Elman) "
    "squashes its state through tanh at every step, so what it read long ago fades, and so "
    "does the gradient that should teach it (*vanishing gradients*). The **LSTM** adds a cell "
    "state $c_t$ that is updated by *addition*; its forget gate $f_t$ decides how much survives. "
    "With $f_t \\approx 1$ memory and gradient pass through unchanged. The **GRU** does the "
    "same with one update gate $z_t$. Press **Step** and watch every number of the equations."
)
LESSON_TRY = [
    "Step the LSTM to the end and look at the **echo of the first input** (this run minus the run "
    "with $x_1 = 0$). Open *Edit the weights*, set the **forget bias to −3** and run to the end "
    "again: $c_t$ has lost over 90 % of the first symbol within 2 steps. At **+3** more than 30 % "
    "of it is still there 10 steps later (untouched: under 2 %).",
    "Choose **Trained on the memory task** and **Run to end**: the LSTM's read-out names the "
    "first letter after all the digits. Now the RNN: the note says what it really scores (about "
    "half right), and with a **B** or **D** first its read-out names the wrong letter.",
    "In **Vanishing gradients**, press **Trained cells, 40 digits**: the RNN's "
    "$\\|\\partial h_T/\\partial h_1\\|$ falls below $10^{-40}$, while the GRU's "
    "$\\|\\partial h_T/\\partial h_t\\|$ and the LSTM's cell-state path "
    "$\\|\\partial c_T/\\partial c_t\\|$ stay near 1 (above 0.9) all the way back.",
    "With random weights, set the **spectral radius to 0.5**: the RNN's "
    "$\\|\\partial h_T/\\partial h_1\\|$ falls below $10^{-3}$; at **2** it ends at least 10 "
    "times higher. Untouched, the LSTM's cell-state line vanishes too (its forget gates are "
    "about 0.5); set the **forget bias to +3** and it stays above 0.5 all the way back.",
    "In **Memory race**, train with N = 5 and then N = 40 (300 steps): at 5 both learn (the RNN "
    "to 70 % or more); at 40 the LSTM reaches 95–100 % and the RNN stays at or below 50 %, for "
    "any seed. Untick **Curriculum** at N = 40: now the LSTM's success depends on the seed.",
    "Press **Impulse echo**: an RNN reads `1, 0, 0, …`. The echo plot shows the impulse minus "
    "the zero-input run shrinking step after step; set the spectral radius to 0.5 and it is "
    "below 1 % of its start after 10 steps; at 2 it lingers (over 3 % left).",
]
PAPERS = [
    ("Elman 1990: Finding structure in time", "https://doi.org/10.1207/s15516709cog1402_1"),
    ("Hochreiter & Schmidhuber 1997: LSTM", "https://doi.org/10.1162/neco.1997.9.8.1735"),
    ("Cho et al. 2014: the GRU", "https://arxiv.org/abs/1406.1078"),
    ("Bengio, Simard & Frasconi 1994: long-term dependencies are hard",
     "https://doi.org/10.1109/72.279181"),
    ("Pascanu, Mikolov & Bengio 2013: exploding and vanishing gradients",
     "https://arxiv.org/abs/1211.5063"),
    ("Bengio et al. 2009: curriculum learning", "https://doi.org/10.1145/1553374.1553380"),
    ("Olah 2015: Understanding LSTM networks", "https://colah.github.io/posts/2015-08-Understanding-LSTMs/"),
]
LESSON_MD = lesson_markdown(LESSON_WHAT, LESSON_TRY, PAPERS)  # the notebooks' first cell
NOTEBOOK_TITLES = {"step": f"{TITLE}: step a cell", "gradients": f"{TITLE}: vanishing gradients",
                   "race": f"{TITLE}: memory race"}


def build(demo: gr.Blocks) -> LabSetup:
    """Lay out the tab inside ``demo`` (the app being built), wire its events, and return
    what a lesson link can set in it."""
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        lesson_md = lesson(LESSON_WHAT, LESSON_TRY, PAPERS)
        lesson_md.latex_delimiters = LATEX
        stepper = gr.State(None)  # None until Reset: the handlers then use the default cell
        session = gr.State(None)  # a SessionRace after the first race
        with gr.Row():
            kind = gr.Dropdown([(CELL_NAMES[k], k) for k in CELL_KINDS], value="lstm", label="Cell",
                               elem_id="rec-kind", scale=1)
            mode = gr.Radio(MODES, value="chars", label="Input", scale=2, elem_id="rec-mode")
            text = gr.Textbox(DEFAULT_TEXT, label="Sequence (at most 100 symbols)", max_length=20_000,
                              elem_id="rec-text", scale=3)
        with gr.Row():
            source = gr.Radio(SOURCES, value="random", label="Weights", scale=3, elem_id="rec-source")
            seed = gr.Number(DEFAULT_SEED, label="Seed (random weights; empty = 0)", precision=0,
                             minimum=0, scale=1, elem_id="rec-seed")
            hidden = gr.Slider(1, 16, value=4, step=1, label="Hidden size (random weights)", scale=1,
                               elem_id="rec-hidden")
        with gr.Accordion("Edit the weights", open=False):
            gr.Markdown("Each slider makes one change, and ticks its own box when you move it.")
            with gr.Row():
                with gr.Column():
                    set_radius = gr.Checkbox(False, label="Set the spectral radius", elem_id="rec-set-radius")
                    radius = gr.Slider(0, 3, value=1.0, step=0.05, label="Spectral radius of every W_h block",
                                       elem_id="rec-radius")
                with gr.Column():
                    set_forget = gr.Checkbox(False, label="Set the forget bias (LSTM)", elem_id="rec-set-forget")
                    forget_bias = gr.Slider(-10, 10, value=0.0, step=0.5, label="LSTM forget-gate bias b_f",
                                            elem_id="rec-forget")
        note = gr.Markdown(elem_classes=["note"], elem_id="rec-note")
        view = gr.Radio(list(SUB_TABS), value=None, visible=False)  # the sub-tab, for lesson links
        with gr.Tabs(elem_id="rec-subtabs") as subtabs:
            with gr.Tab(SUB_TABS["recurrent-step"], id="recurrent-step") as step_tab:
                memory_q = ask(MEMORY_QUESTION, MEMORY_ASK, list(ECHO_BANDS))
                with gr.Row():
                    reset = gr.Button("⟲ Reset", elem_id="rec-reset")
                    back = gr.Button("◀ Step back", elem_id="rec-back")
                    forward = gr.Button("Step ▶", variant="primary", elem_id="rec-step")
                    to_end = gr.Button("Run to end ⏭", elem_id="rec-end")
                    impulse = gr.Button("Impulse echo (RNN, 1 then zeros)", elem_id="rec-impulse")
                with gr.Row():
                    time_slider = gr.Slider(0, len(DEFAULT_TEXT), value=0, step=1,
                                            label="Time step t (steps taken)", scale=4, elem_id="rec-time")
                    unit = gr.Slider(1, 16, value=1, step=1, label="Unit shown in the equations", scale=1)
                equations = gr.Markdown(latex_delimiters=LATEX, elem_id="rec-equations")
                with gr.Row():
                    gates = gr.Plot(label="Gates at this step", elem_id="rec-gates")
                    echo = gr.Plot(label="Echo of the first input", elem_id="rec-echo")
                states = gr.Plot(label="States over time", elem_id="rec-states")
                readout = gr.Plot(label="Read-out", elem_id="rec-readout")
                code = code_panel(title=NOTEBOOK_TITLES["step"], lesson=LESSON_MD)
            with gr.Tab(SUB_TABS["recurrent-bidir"], id="recurrent-bidir") as bidir_tab:
                gr.Markdown("A **bidirectional** layer runs one cell left to right and a second cell "
                            "right to left over the same sequence, and concatenates their states: "
                            "at each position the model then knows both the past and the future. "
                            "(Random weights: the backward cell uses seed + 1; trained weights: the "
                            "same trained cell reads backwards.)")
                bidir = gr.Plot(label="Both directions", elem_id="rec-bidir")
            with gr.Tab(SUB_TABS["recurrent-gradients"], id="recurrent-gradients") as gradients_tab:
                gr.Markdown(
                    "How much does the last state still depend on an earlier one? For the RNN the "
                    "chain rule multiplies one factor per step, "
                    "$\\partial h_T/\\partial h_t = \\prod_{k=t+1}^{T} \\mathrm{diag}(1-h_k^2)\\,W_{hh}$, "
                    "so the norm shrinks or grows geometrically (Bengio et al. 1994; Pascanu et al. "
                    "2013). The LSTM's cell state is updated by addition, "
                    "$\\partial c_t/\\partial c_{t-1} = \\mathrm{diag}(f_t)$ plus small terms, so along "
                    "the **cell-state path** $\\|\\partial c_T/\\partial c_t\\|$ (solid red) the "
                    "gradient survives while the forget gate stays open. Random weights are a "
                    "starting point, not the lesson: the forget bias decides it; trained cells show it.",
                    latex_delimiters=LATEX)
                long_trained = gr.Button("Trained cells, 40 digits", variant="primary", elem_id="rec-long")
                grad_note = gr.Markdown(elem_id="rec-grad-note")
                grads = gr.Plot(label="Gradient norms", elem_id="rec-grads")
                grad_code = code_panel(title=NOTEBOOK_TITLES["gradients"], lesson=LESSON_MD)
            with gr.Tab(SUB_TABS["recurrent-race"], id="recurrent-race") as race_tab:
                gr.Markdown("**The task:** a letter (A–D), then N random digits (0–3); at the end, name "
                            "the letter. Only the first step matters, so the learning signal must "
                            "travel back N steps. An RNN and an LSTM train side by side on the same "
                            "batches (the LSTM starts with forget bias 3). Chance is 25 %. With the "
                            "**curriculum** the training sequences grow from N = 2 to N over the first "
                            "half of the steps; the accuracy is always measured at the full N.")
                with gr.Row():
                    distractors = gr.Slider(1, 100, value=40, step=1, label="N distractors")
                    race_hidden = gr.Slider(1, 16, value=8, step=1, label="Hidden size")
                    race_steps = gr.Slider(10, 3000, value=300, step=10, label="Training steps")
                    race_seed = gr.Number(DEFAULT_SEED, label="Seed (empty = 0)", precision=0, minimum=0)
                    curriculum = gr.Checkbox(True, label="Curriculum (N grows)", elem_id="rec-curriculum")
                race_q = ask(RACE_QUESTION, RACE_ASK, list(RACE_CHOICES.values()))
                with gr.Row():
                    train = gr.Button("Train RNN vs LSTM", variant="primary", elem_id="rec-train")
                    stop = gr.Button("Stop", variant="stop", elem_id="rec-stop")
                    use_lstm = gr.Button("Step the trained LSTM", elem_id="rec-use-lstm")
                    use_rnn = gr.Button("Step the trained RNN", elem_id="rec-use-rnn")
                race_status_md = gr.Markdown("300 steps take a few seconds (at most a minute).",
                                             elem_id="rec-race-status")
                with gr.Row():
                    loss_plot = gr.Plot(label="Loss", elem_id="rec-loss")
                    acc_plot = gr.Plot(label="Accuracy", elem_id="rec-acc")
                race_code_box = code_panel(title=NOTEBOOK_TITLES["race"], lesson=LESSON_MD)
        finish = gr.State(None)  # the last race's FirstToTarget, for its question
        linked = {
            "cell": kind, "input": mode, "text": text, "weights": source, "seed": seed, "hidden": hidden,
            "set_radius": set_radius, "radius": radius, "set_forget": set_forget, "forget_bias": forget_bias,
            "unit": unit, "view": view, "n": distractors, "race_hidden": race_hidden, "steps": race_steps,
            "race_seed": race_seed, "curriculum": curriculum}
        # "view" is the open sub-tab, not a control a student sees: nothing to hide
        setup = lab_setup(TAB_ID, linked, internal=("view",))
    memory_q.verdict.latex_delimiters = LATEX

    view_out = dict(stepper=stepper, note=note, time=time_slider, equations=equations, gates=gates,
                    states=states, echo=echo, readout=readout, code=code)
    analysis_out = dict(bidirectional=bidir, gradients=grads, gradient_note=grad_note,
                        gradient_code=grad_code)
    choice_out = dict(kind=kind, mode=mode, text=text, source=source, subtabs=subtabs, view=view)
    race_out = dict(loss=loss_plot, accuracy=acc_plot, status=race_status_md, session=session,
                    code=race_code_box, finish=finish, verdict=race_q.verdict)
    settings = [kind, mode, text, source, seed, hidden, set_radius, radius, set_forget, forget_bias]
    # preprocess=False: the handlers check every value themselves, so an API client that sends
    # a wrong type (a list for the seed) reads the lab's own message, not Gradio's.
    raw = dict(preprocess=False)
    reset_args = dict(fn=bind(on_reset, view_out), inputs=[*settings, unit, session],
                      outputs=list(view_out.values()), **raw, **queues.CHEAP)
    analysis = dict(fn=bind(on_analysis, analysis_out), inputs=[stepper, session],
                    outputs=list(analysis_out.values()), api_visibility="private", **raw, **queues.CHEAP)
    private_reset = dict(reset_args, api_visibility="private")
    # after every move of the stepper: the prediction's verdict (once stepped far enough)
    reveal_memory = dict(fn=on_reveal_memory, inputs=[memory_q.choice, stepper, memory_q.tally],
                         outputs=[memory_q.verdict, memory_q.tally], api_visibility="private", **queues.CHEAP)

    def redraw(event: Any, **analysis_args: Any) -> None:
        """After a reset: both directions, the gradients and the prediction's verdict."""
        event.then(**{**analysis, **analysis_args}).then(**reveal_memory)

    redraw(reset.click(**reset_args, api_name="recurrent_reset"), api_visibility="public",
           api_name="recurrent_analysis")
    # Fill the plots when the page opens, so that nobody meets an empty lab.
    redraw(demo.load(**private_reset))
    # A lesson link restored the settings: open its sub-tab, then run as on the first view.
    redraw(setup.restored.change(open_view, view, subtabs, api_visibility="private", **queues.CHEAP
                                 ).then(**private_reset))
    # .input, not .change: a value set by a handler (a lesson button, a link) must not fire again
    for control in (kind, mode, source, set_radius, set_forget):
        redraw(control.input(**private_reset))
    for control in (seed, text):
        redraw(control.submit(**private_reset))
    redraw(hidden.input(**private_reset, trigger_mode="always_last"))
    for control, box in ((radius, set_radius), (forget_bias, set_forget)):  # one slider, one change
        redraw(control.input(tick, None, box, api_visibility="private", trigger_mode="always_last",
                             **queues.CHEAP).then(**private_reset))
    for button, handler in ((long_trained, on_long_trained), (impulse, on_impulse)):
        redraw(button.click(bind(handler, choice_out), None, list(choice_out.values()),
                            api_visibility="private", **queues.CHEAP).then(**private_reset))

    step_args = dict(outputs=list(view_out.values()), **raw, **queues.CHEAP)
    forward.click(bind(on_step, view_out), [stepper, unit], **step_args, api_name="recurrent_step"
                  ).then(**reveal_memory)
    back.click(bind(on_step_back, view_out), [stepper, unit], **step_args, api_name="recurrent_step_back"
               ).then(**reveal_memory)
    to_end.click(bind(on_run_to_end, view_out), [stepper, unit], **step_args,
                 api_name="recurrent_run_to_end").then(**reveal_memory)
    time_slider.release(bind(on_seek, view_out), [stepper, time_slider, unit], **step_args,
                        api_name="recurrent_seek").then(**reveal_memory)
    unit.release(bind(on_seek, view_out), [stepper, time_slider, unit], **step_args, api_visibility="private")
    # the sub-tab the teacher is on goes into "Copy link" (in the browser: no request)
    for sub_tab, sub_id in ((step_tab, "recurrent-step"), (bidir_tab, "recurrent-bidir"),
                            (gradients_tab, "recurrent-gradients"), (race_tab, "recurrent-race")):
        sub_tab.select(None, None, view, js=f"() => {sub_id!r}", api_visibility="private", **queues.CHEAP)

    run = train.click(bind(on_train, race_out), [distractors, race_hidden, race_steps, race_seed, curriculum,
                                                   session],
                      list(race_out.values()), api_name="recurrent_train", **raw, **queues.TRAINING)
    run.then(on_reveal_race, [race_q.choice, finish, race_q.tally], [race_q.verdict, race_q.tally],
             api_visibility="private", **queues.CHEAP)
    stop.click(None, cancels=[run], api_visibility="private", **queues.CHEAP)
    for button, cell in ((use_lstm, "lstm"), (use_rnn, "rnn")):
        redraw(button.click(bind(functools.partial(on_use_session_cell, cell), choice_out),
                            [session, distractors], list(choice_out.values()), api_visibility="private",
                            **queues.CHEAP).then(**private_reset))
    return setup
