"""RNN & LSTM lab (issue 3): step a recurrent cell through a sequence and see every gate,
run it in both directions, watch gradients vanish, and race an RNN against an LSTM."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, replace
from typing import Any, Iterator

import gradio as gr

from components.code_panel import code_panel
from components.errors import user_errors
from components.lazy import lazy_module
from components.lesson import lesson
from components.recurrent_code import gradient_code, race_code, step_code
from components.recurrent_equations import LATEX, equations_markdown
from components.recurrent_figures import (
    bidirectional_figure, gates_figure, gradient_figure, race_figures, readout_figure, states_figure,
)
from playground.service.model_service import get_service
from playground.recurrent.cells import (
    CELL_KINDS, CELL_NAMES, CellWeights, Encoded, Trace, bidirectional, check_edits, check_hidden_size,
    check_kind, edit_weights, encode_chars, encode_numbers, gradient_norms, random_weights, unroll,
)
from playground.service.validate import clamp

memory_task = lazy_module("playground.recurrent.memory_task")  # imports torch: only on first use

TAB_ID = "recurrent"
TITLE = "RNN & LSTM"
SHIPPED_ID = "neural-playground/memory-rnn-lstm"
SOURCES = [("Random weights (seed): untrained", "random"),
           ("Trained on the memory task (shipped)", "shipped"),
           ("Trained in this session (Memory race tab)", "session")]
MODES = [("Characters (one-hot)", "chars"), ("Numbers (one input)", "numbers")]
DEFAULT_TEXT = "C0312013203"  # a memory-task sequence, so trained cells can read it too
TRAIN_SIGNALS, TRAIN_VOCAB = "ABCD", "ABCD0123"  # the memory task's symbols


@dataclass(frozen=True)
class Setup:
    """What the student chose; enough to rebuild the stepper's cell for any kind."""

    kind: str
    mode: str  # "chars" | "numbers"
    text: str
    source: str  # "random" | "shipped" | "session"
    seed: int
    hidden: int
    edit: bool
    radius: float
    forget_bias: float


@dataclass(frozen=True)
class Stepper:
    """One session's stepper: the unrolled sequence and how far the student has stepped."""

    setup: Setup
    enc: Encoded
    weights: CellWeights
    readout: Any  # memory_task.Readout, or None for random weights
    trace: Trace
    note: str  # what the weights are, shown above the plots
    t: int = 0  # steps taken: 0 = nothing read yet


# --- resolving weights ----------------------------------------------------------------------

def shipped_cells() -> dict:
    """The shipped trained cells by kind, converted once per process."""
    service = get_service()
    state, _ = service.load_state(SHIPPED_ID)
    return service.memo(("recurrent-cells", SHIPPED_ID), lambda: memory_task.cells_from_state(state))


def trained_source(source: str, session_cells: dict | None) -> dict:
    if source == "shipped":
        return shipped_cells()
    if not session_cells:
        raise ValueError("No cells were trained in this session yet: open the Memory race tab and "
                         "press Train, or choose the shipped trained weights.")
    return session_cells


def resolve_cell(setup: Setup, kind: str, enc: Encoded, session_cells: dict | None,
                 seed_offset: int = 0) -> tuple[CellWeights, Any, str]:
    """(weights, read-out or None, a note saying what the weights are)."""
    if setup.source == "random":
        weights = random_weights(kind, enc.x.shape[1], setup.hidden, setup.seed + seed_offset)
        readout = None
        note = (f'<span class="random-weights-badge">⚠ Random weights (seed {setup.seed}): this '
                f"{CELL_NAMES[kind]} was never trained, so its numbers carry no meaning yet.</span>")
    else:
        cells = trained_source(setup.source, session_cells)
        if kind not in cells:
            raise ValueError(f"This session's race trained {', '.join(cells)} only, not {kind}.")
        weights, readout = cells[kind].weights, cells[kind].readout
        where = "shipped with the app" if setup.source == "shipped" else "trained in this session"
        note = (f"✅ Trained weights ({where}): a {CELL_NAMES[kind]} with {weights.hidden_size} units "
                "that learned to remember the first letter across the digits.")
    if setup.edit:
        weights = edit_weights(weights, setup.radius, setup.forget_bias)
        bias = f", forget-gate bias set to {setup.forget_bias:g}" if kind == "lstm" else \
            " (the forget-gate bias exists only in the LSTM)"
        note += f"<br>✏️ Edited: every W_h block rescaled to spectral radius {setup.radius:g}{bias}."
    return weights, readout, note


def encode(setup: Setup) -> Encoded:
    if setup.source != "random":
        if setup.mode != "chars":
            raise ValueError("Trained cells read characters (the letters A–D and digits 0–3): "
                             "switch the input to Characters.")
        return encode_chars(setup.text, tuple(TRAIN_VOCAB))
    return encode_chars(setup.text) if setup.mode == "chars" else encode_numbers(setup.text)


def make_setup(kind: str, mode: str, text: str, source: str, seed: float, hidden: float,
               edit: bool, radius: float, forget_bias: float) -> tuple[Setup, str]:
    """Validated choices and a note about any value that was clamped."""
    if mode not in ("chars", "numbers"):
        raise ValueError("Choose Characters or Numbers as input.")
    if source not in ("random", "shipped", "session"):
        raise ValueError("Choose where the weights come from.")
    seed_value, note_seed = clamp(seed, 0, 2**31 - 1, "The seed", integer=True)
    radius, forget_bias, note_edit = check_edits(radius, forget_bias)
    setup = Setup(check_kind(kind), mode, text, source, int(seed_value), check_hidden_size(hidden),
                  bool(edit), radius, forget_bias)
    return setup, " ".join(n for n in (note_seed, note_edit) if n)


def apply_edits() -> bool:
    """Tick "Apply these edits" when the student moves an edit slider."""
    return True


# --- stepper views ----------------------------------------------------------------------------

def view(stepper: Stepper, unit: float) -> tuple:
    """(state, time slider, equations, gates, states over time, read-out, code) at step t."""
    t, trace, enc = stepper.t, stepper.trace, stepper.enc
    current = trace.steps[t - 1] if t > 0 else None
    label = enc.labels[t - 1] if t > 0 else ""
    unit_value, _ = clamp(unit, 1, stepper.weights.hidden_size, "The unit", integer=True)
    probs = (stepper.readout.probabilities(trace.h) if stepper.readout is not None else None)
    return (
        stepper,
        gr.update(minimum=0, maximum=len(enc.labels), value=t),  # cheaper than building a gr.Slider
        equations_markdown(trace.kind, current, t, len(enc.labels), label, enc.vocab, int(unit_value)),
        gates_figure(current, trace.kind, t, label),
        states_figure(trace.h, trace.c, enc.labels, t),
        readout_figure(probs, enc.labels, TRAIN_SIGNALS, t),
        step_code(stepper.setup, stepper.weights, enc, t),
    )


def _require(stepper: Stepper | None) -> Stepper:
    if stepper is None:
        raise ValueError("Press Reset first to load a sequence into the cell.")
    return stepper


@user_errors
def on_reset(kind: str, mode: str, text: str, source: str, seed: float, hidden: float, edit: bool,
             radius: float, forget_bias: float, unit: float, session_cells: dict | None) -> tuple:
    """Build the cell and unroll the sequence; the view starts before the first step."""
    setup, clamp_note = make_setup(kind, mode, text, source, seed, hidden, edit, radius, forget_bias)
    enc = encode(setup)
    weights, readout, note = resolve_cell(setup, setup.kind, enc, session_cells)
    if clamp_note:
        note += f"<br>ℹ️ {clamp_note}"
    stepper = Stepper(setup, enc, weights, readout, unroll(weights, enc.x, enc.labels), note)
    return (note, *view(stepper, unit))


@user_errors
def on_step(stepper: Stepper | None, unit: float) -> tuple:
    stepper = _require(stepper)
    return view(replace(stepper, t=min(stepper.t + 1, len(stepper.enc.labels))), unit)


@user_errors
def on_step_back(stepper: Stepper | None, unit: float) -> tuple:
    stepper = _require(stepper)
    return view(replace(stepper, t=max(stepper.t - 1, 0)), unit)


@user_errors
def on_run_to_end(stepper: Stepper | None, unit: float) -> tuple:
    stepper = _require(stepper)
    return view(replace(stepper, t=len(stepper.enc.labels)), unit)


@user_errors
def on_seek(stepper: Stepper | None, t: float, unit: float) -> tuple:
    stepper = _require(stepper)
    value, _ = clamp(t, 0, len(stepper.enc.labels), "The time step", integer=True)
    return view(replace(stepper, t=int(value)), unit)


# --- both directions and gradients -------------------------------------------------------------

@user_errors
def on_analysis(stepper: Stepper | None, session_cells: dict | None) -> tuple:
    """(bidirectional figure, gradient figure, note, gradient code) for the current setup."""
    stepper = _require(stepper)
    setup, enc = stepper.setup, stepper.enc
    # A real bidirectional layer has a second cell: a different seed, or the same trained cell.
    backward, _, _ = resolve_cell(setup, setup.kind, enc, session_cells, seed_offset=1)
    both = bidirectional(stepper.weights, backward, enc)
    norms, skipped = {}, []
    for kind in CELL_KINDS:
        try:
            weights, _, _ = resolve_cell(setup, kind, enc, session_cells)
        except ValueError:
            skipped.append(CELL_NAMES[kind])  # e.g. the session race trained no GRU
            continue
        norms[kind] = gradient_norms(weights, enc.x)
    note = (f"Same sequence ({len(enc.labels)} symbols) and the same weight choice for each cell"
            + (f"; {', '.join(skipped)} not available here." if skipped else "."))
    return (bidirectional_figure(both.forward.h, both.h_backward, enc.labels),
            gradient_figure(norms, enc.labels), note, gradient_code(setup, enc))


# --- the memory race ----------------------------------------------------------------------------

def race_status(snap: Any, note: str) -> str:
    parts = [f"**Step {snap.step}** · {snap.seconds:.1f} s · seed {snap.seed} · N = {snap.distractors}"]
    parts += [f"{CELL_NAMES[k]}: **{100 * v[-1]:.0f} %**" for k, v in snap.accuracy.items()]
    if snap.done:
        parts.append("finished (step limit)" if snap.stopped_by == "steps" else "stopped at the time limit")
    return " · ".join(parts) + (f"\n\nℹ️ {note}" if note else "")


@user_errors
def on_train(distractors: float, hidden: float, steps: float, seed: float,
             session_cells: dict | None) -> Iterator[tuple]:
    """Stream the race: (loss figure, accuracy figure, status, this session's cells, code)."""
    cfg, note = memory_task.check_config(distractors, hidden, steps)
    seed_value, seed_note = clamp(seed, 0, 2**31 - 1, "The seed", integer=True)
    note = " ".join(n for n in (note, seed_note) if n)
    code = race_code(cfg, int(seed_value))
    last_yield = 0.0
    for snap in memory_task.train_race(cfg, int(seed_value)):
        now = time.perf_counter()
        if snap.done or now - last_yield >= 0.15:  # ≤ ~7 figure updates a second
            last_yield = now
            yield (*race_figures(snap), race_status(snap, note), dict(snap.cells), code)


@user_errors
def on_use_session_cell(kind: str, session_cells: dict | None, distractors: float) -> tuple:
    """Put a cell trained in the race into the stepper, with a fresh task sequence."""
    if not session_cells:
        raise ValueError("Train first: press Train and wait for a few snapshots.")
    n, _ = clamp(distractors, 1, 60, "N", integer=True)
    text = memory_task.example_sequence(int(n), seed=int(time.time()) % 1000)
    return (gr.Dropdown(value=kind), gr.Radio(value="chars"), gr.Textbox(value=text),
            gr.Radio(value="session"), gr.Tabs(selected="recurrent-step"))


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
    "Step the LSTM through the sequence, then open *Edit the weights*, set the **forget bias to −3** "
    "and step again: the cell state $c_t$ now forgets within a couple of steps.",
    "Choose **Trained on the memory task** and the LSTM, then **Run to end**: which unit of $c_t$ "
    "keeps the first letter, and does the read-out stay sure through all the digits? Now the RNN.",
    "In **Vanishing gradients**, set the spectral radius of $W_{hh}$ to 0.5 and then 2: the RNN's line "
    "falls off a cliff, then stays high. Set the forget bias to +3 and watch the LSTM's line flatten.",
    "In **Memory race**, train with N = 5 and then N = 40: at which length does the RNN stop learning?",
    "Switch the input to **Numbers**, type `1, 0, 0, 0, 0, 0, 0, 0, 0, 0` and step an RNN: how long "
    "does the impulse echo in $h_t$?",
]
PAPERS = [
    ("Elman 1990: Finding structure in time", "https://doi.org/10.1207/s15516709cog1402_1"),
    ("Hochreiter & Schmidhuber 1997: LSTM", "https://doi.org/10.1162/neco.1997.9.8.1735"),
    ("Cho et al. 2014: the GRU", "https://arxiv.org/abs/1406.1078"),
    ("Bengio, Simard & Frasconi 1994: long-term dependencies are hard",
     "https://doi.org/10.1109/72.279181"),
    ("Pascanu, Mikolov & Bengio 2013: exploding and vanishing gradients",
     "https://arxiv.org/abs/1211.5063"),
    ("Olah 2015: Understanding LSTM networks", "https://colah.github.io/posts/2015-08-Understanding-LSTMs/"),
]


def build(demo: gr.Blocks) -> None:
    """Lay out the tab inside ``demo`` (the app being built) and wire its events."""
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        lesson_md = lesson(LESSON_WHAT, LESSON_TRY, PAPERS)
        lesson_md.latex_delimiters = LATEX
        stepper = gr.State(None)
        session_cells = gr.State(None)
        with gr.Row():
            kind = gr.Dropdown([(CELL_NAMES[k], k) for k in CELL_KINDS], value="lstm", label="Cell",
                               elem_id="rec-kind", scale=1)
            mode = gr.Radio(MODES, value="chars", label="Input", scale=2)
            text = gr.Textbox(DEFAULT_TEXT, label="Sequence (at most 100 symbols)", max_length=20_000,
                              elem_id="rec-text", scale=3)
        with gr.Row():
            source = gr.Radio(SOURCES, value="random", label="Weights", scale=3, elem_id="rec-source")
            seed = gr.Number(0, label="Seed (random weights)", precision=0, minimum=0, scale=1)
            hidden = gr.Slider(1, 16, value=4, step=1, label="Hidden size (random weights)", scale=1)
        with gr.Accordion("Edit the weights", open=False):
            with gr.Row():
                edit = gr.Checkbox(False, label="Apply these edits", elem_id="rec-edit")
                radius = gr.Slider(0, 3, value=1.0, step=0.05, label="Spectral radius of every W_h block",
                                   elem_id="rec-radius")
                forget_bias = gr.Slider(-10, 10, value=0.0, step=0.5, label="LSTM forget-gate bias b_f",
                                        elem_id="rec-forget")
        note = gr.Markdown(elem_classes=["note"], elem_id="rec-note")
        with gr.Tabs(elem_id="rec-subtabs") as subtabs:
            with gr.Tab("Step a cell", id="recurrent-step"):
                with gr.Row():
                    reset = gr.Button("⟲ Reset", elem_id="rec-reset")
                    back = gr.Button("◀ Step back", elem_id="rec-back")
                    forward = gr.Button("Step ▶", variant="primary", elem_id="rec-step")
                    to_end = gr.Button("Run to end ⏭", elem_id="rec-end")
                with gr.Row():
                    time_slider = gr.Slider(0, len(DEFAULT_TEXT), value=0, step=1,
                                            label="Time step t (steps taken)", scale=4, elem_id="rec-time")
                    unit = gr.Slider(1, 16, value=1, step=1, label="Unit shown in the equations", scale=1)
                with gr.Row():
                    with gr.Column(scale=1):
                        equations = gr.Markdown(latex_delimiters=LATEX, elem_id="rec-equations")
                    with gr.Column(scale=1):
                        gates = gr.Plot(label="Gates at this step", elem_id="rec-gates")
                states = gr.Plot(label="States over time", elem_id="rec-states")
                readout = gr.Plot(label="Read-out", elem_id="rec-readout")
                code = code_panel()
            with gr.Tab("Both directions", id="recurrent-bidir"):
                gr.Markdown("A **bidirectional** layer runs one cell left to right and a second cell "
                            "right to left over the same sequence, and concatenates their states: "
                            "at each position the model then knows both the past and the future. "
                            "(Random weights: the backward cell uses seed + 1; trained weights: the "
                            "same trained cell reads backwards.)")
                bidir = gr.Plot(label="Both directions", elem_id="rec-bidir")
            with gr.Tab("Vanishing gradients", id="recurrent-gradients"):
                gr.Markdown(
                    "How much does the last state $h_T$ still depend on the state $h_t$ at an earlier "
                    "step? For the RNN the chain rule multiplies one factor per step, "
                    "$\\partial h_T/\\partial h_t = \\prod_{k=t+1}^{T} \\mathrm{diag}(1-h_k^2)\\,W_{hh}$, "
                    "so the norm shrinks or grows geometrically (Bengio et al. 1994; Pascanu et al. "
                    "2013). The LSTM's cell state adds instead of multiplying. Change the weights, the "
                    "spectral radius or the forget bias above: the plot follows.",
                    latex_delimiters=LATEX)
                grad_note = gr.Markdown()
                grads = gr.Plot(label="Gradient norms", elem_id="rec-grads")
                grad_code = code_panel()
            with gr.Tab("Memory race", id="recurrent-race"):
                gr.Markdown("**The task:** a letter (A–D), then N random digits (0–3); at the end, name "
                            "the letter. Only the first step matters, so the learning signal must "
                            "travel back N steps. An RNN and an LSTM train side by side on the same "
                            "batches (the LSTM starts with forget bias 3). Chance is 25 %.")
                with gr.Row():
                    distractors = gr.Slider(1, 100, value=40, step=1, label="N distractors")
                    race_hidden = gr.Slider(1, 16, value=8, step=1, label="Hidden size")
                    race_steps = gr.Slider(10, 3000, value=300, step=10, label="Training steps")
                    race_seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                with gr.Row():
                    train = gr.Button("Train RNN vs LSTM", variant="primary", elem_id="rec-train")
                    stop = gr.Button("Stop", variant="stop", elem_id="rec-stop")
                    use_lstm = gr.Button("Step the trained LSTM", elem_id="rec-use-lstm")
                    use_rnn = gr.Button("Step the trained RNN", elem_id="rec-use-rnn")
                race_status_md = gr.Markdown("Training takes a few seconds (at most 30 s).",
                                             elem_id="rec-race-status")
                with gr.Row():
                    loss_plot = gr.Plot(label="Loss", elem_id="rec-loss")
                    acc_plot = gr.Plot(label="Accuracy", elem_id="rec-acc")
                race_code_box = code_panel()

    settings = [kind, mode, text, source, seed, hidden, edit, radius, forget_bias]
    view_out = [stepper, time_slider, equations, gates, states, readout, code]
    analysis = dict(fn=on_analysis, inputs=[stepper, session_cells],
                    outputs=[bidir, grads, grad_note, grad_code], api_visibility="private")
    reset_args = dict(fn=on_reset, inputs=[*settings, unit, session_cells], outputs=[note, *view_out])
    reset.click(**reset_args, api_name="recurrent_reset").then(
        **dict(analysis, api_visibility="public"), api_name="recurrent_analysis")
    # Fill the plots when the page opens, so that nobody meets an empty lab.
    demo.load(**reset_args, api_visibility="private").then(**analysis)
    for control in (kind, mode, source, edit):
        control.change(**reset_args, api_visibility="private").then(**analysis)
    for control in (seed, text):
        control.submit(**reset_args, api_visibility="private").then(**analysis)
    # .input: dragging or typing a number; always_last drops the intermediate values
    hidden.input(**reset_args, api_visibility="private", trigger_mode="always_last").then(**analysis)
    for control in (radius, forget_bias):  # moving an edit slider means "apply the edits"
        control.input(apply_edits, None, edit, api_visibility="private", trigger_mode="always_last").then(
            **reset_args, api_visibility="private").then(**analysis)
    # Stepping only redraws (about 1 ms of work): skip the queue, which would add its latency.
    fast = dict(outputs=view_out, queue=False)
    forward.click(on_step, [stepper, unit], **fast, api_name="recurrent_step")
    back.click(on_step_back, [stepper, unit], **fast, api_name="recurrent_step_back")
    to_end.click(on_run_to_end, [stepper, unit], **fast, api_name="recurrent_run_to_end")
    time_slider.release(on_seek, [stepper, time_slider, unit], **fast, api_name="recurrent_seek")
    unit.release(on_seek, [stepper, time_slider, unit], **fast, api_visibility="private")

    run = train.click(on_train, [distractors, race_hidden, race_steps, race_seed, session_cells],
                      [loss_plot, acc_plot, race_status_md, session_cells, race_code_box],
                      api_name="recurrent_train", concurrency_limit=2, concurrency_id="recurrent-train")
    stop.click(None, cancels=[run])
    use_outputs = [kind, mode, text, source, subtabs]
    for button, cell in ((use_lstm, "lstm"), (use_rnn, "rnn")):
        button.click(functools.partial(on_use_session_cell, cell), [session_cells, distractors],
                     use_outputs, api_visibility="private").then(**reset_args, api_visibility="private"
                                                                  ).then(**analysis)
