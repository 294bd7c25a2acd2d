"""Encoder–decoder tab (issue 4): watch a seq2seq model translate step by step, with and
without Bahdanau attention; compare them on long inputs; train one live."""

from __future__ import annotations

import html
import random
import time
from typing import Any, Iterator, NamedTuple

import gradio as gr
import numpy as np

from components import inputs, queues
from components import seq2seq_figures as figs
from components.code_panel import code_panel
from components.errors import user_errors
from components.figures import FigureJSON, placeholder
from components.lazy import lazy_module
from components.lesson import lesson, lesson_markdown
from components.links import LabSetup, lab_setup
from components.predict import Outcome, Tally, ask, reveal
from playground.service.model_service import get_service
from playground.seq2seq.data import (
    TASKS, TEST_PAIRS, answer, check_input, for_input, get_task, input_limit, length_warning, make_pairs,
    shorter,
)
from playground.service.validate import clamp

s2s = lazy_module("playground.seq2seq.model")  # torch loads on first use, not at app start
panels = lazy_module("playground.seq2seq.code")  # imports the model, so torch, too

TAB_ID = "seq2seq"
TITLE = "Encoder–decoder"
VARIANTS = {"With attention (Bahdanau)": "attention", "Fixed context (no attention)": "fixed"}
TASK_CHOICES = [(task.title, name) for name, task in TASKS.items()]
GREEDY, BEAM = "Greedy", "Beam search"
MAX_BEAM = 8
RUN_DELAY_S = 0.35  # pause between steps of "Run" so the eye can follow the attention
LIVE_MAX_STEPS = 600
LIVE_MAX_SECONDS = 90.0  # a live run never holds a worker longer than this
LIVE_BATCH = 32
KEEP_RUNS = 3  # earlier runs of the session drawn as dotted curves
CLEAR = "() => ''"  # runs in the browser: empties a status line before its event starts


def model_id(task: str, variant: str) -> str:
    return f"neural-playground/seq2seq-{task}-{variant}"


def variant_key(label: object) -> str:
    if not isinstance(label, str):
        raise ValueError(f"Choose a model: {', '.join(VARIANTS)}.")
    if label in VARIANTS.values():
        return label
    if label not in VARIANTS:
        raise ValueError(f"Choose a model: {', '.join(VARIANTS)}.")
    return VARIANTS[label]


def load_model(task: str, variant: str) -> tuple[s2s.Seq2Seq, dict]:
    """The shipped model (built once per process and shared read-only) and its config."""
    service = get_service()
    mid = model_id(task, variant)
    state, config = service.load_state(mid)
    return service.memo(("seq2seq-module", mid), lambda: s2s.from_state(state, config)), config


def decode(task_name: str, variant_label: str, text: str, method: str, width: float
           ) -> tuple[s2s.Decoding, str]:
    """Validate the inputs and decode (cached per model, input and width); returns notes
    for the student: a clamped value, an input beyond the trained length."""
    task = get_task(task_name)
    variant = variant_key(variant_label)
    text = check_input(task, text)
    if method not in (GREEDY, BEAM):
        raise ValueError(f"Decoding must be '{GREEDY}' or '{BEAM}'.")
    width, note = clamp(width, 1, MAX_BEAM, "Beam width", integer=True) if method == BEAM else (1, "")
    model, _ = load_model(task.name, variant)
    key = ("seq2seq-decode", model_id(task.name, variant), text, int(width))
    decoding = get_service().memo(key, lambda: s2s.beam_search(model, for_input(task, text), text, int(width)))
    return decoding, " ".join(n for n in (length_warning(task, text), note) if n)


def status_markdown(task_name: str, decoding: s2s.Decoding, shown: int, note: str) -> str:
    step = decoding.steps[shown - 1]
    so_far = "".join(s.token for s in decoding.steps[:shown] if s.token != "</s>")
    method = "greedy" if decoding.width == 1 else f"beam search, width {decoding.width}"
    top = " · ".join(f"`{figs.show_char(tok)}` {p:.0%}" for tok, p in step.top)
    cursor = "▌" if shown < len(decoding.steps) else ""
    lines = [f"### `{decoding.source}` → `{so_far or ' '}`{cursor}",
             f"Step **{shown} of {len(decoding.steps)}** ({method}). The decoder wrote "
             f"`{figs.show_char(step.token)}` with probability {step.prob:.0%}. Most likely at this step: {top}."]
    if shown == len(decoding.steps):
        expected = answer(get_task(task_name), decoding.source)
        verdict = ("correct" if decoding.output == expected else f"wrong, the answer is `{expected}`"
                   ) if expected is not None else "but this input has no correct answer (not a real date?)"
        lines.append(f"**Finished: {verdict}.**")
    if note:
        lines.append(f"⚠️ {note}")
    return "\n\n".join(lines)


NUMBER = 'style="white-space:nowrap;text-align:right;font-variant-numeric:tabular-nums"'
LETTERS = 'style="word-break:break-all"'  # a long hypothesis wraps between letters, inside its cell


def beams_html(decoding: s2s.Decoding, shown: int) -> str:
    """The hypotheses alive after this step, best first (greedy keeps exactly one). Number
    cells are nowrap: a narrow column never breaks "-12.345" in the middle."""
    at = decoding.beams[shown - 1] if shown < len(decoding.steps) else decoding.beams[-1]
    title = "Greedy keeps one hypothesis" if decoding.width == 1 else f"Beams after step {shown}"
    rows = "".join(
        f"<tr><td {NUMBER}>{k + 1}</td><td {LETTERS}><code>{html.escape(b.tokens) or '∅'}</code></td>"
        f"<td {NUMBER}>{b.logprob:.3f}</td><td>{'yes' if b.finished else ''}</td></tr>"
        for k, b in enumerate(at))
    return (f'<div class="np-beams"><b>{title}</b><table style="width:100%"><thead><tr><th>#</th><th>hypothesis</th>'
            f'<th {NUMBER}>log p</th><th>ended</th></tr></thead><tbody>{rows}</tbody></table></div>')


class DecodeFrame(NamedTuple):
    """What a decoding step shows (the outputs of on_step / on_run, in this order)."""
    status: Any
    attention: Any
    context: Any
    alignment: Any
    beams: Any
    view: Any
    code: Any


def render(task_name: str, variant: str, decoding: s2s.Decoding, shown: int, note: str) -> DecodeFrame:
    """Everything the decoder did up to output step `shown` (1-based)."""
    steps = decoding.steps[:shown]
    out_tokens = [figs.show_char(s.token) for s in steps]
    current = steps[-1]
    matrix = decoding.alignment[:shown] if decoding.alignment is not None else None
    key = [task_name, variant, decoding.source, decoding.width]
    return DecodeFrame(status_markdown(task_name, decoding, shown, note),
                       figs.attention_bar(decoding.source, current.weights, shown, current.token),
                       figs.context_vectors(np.stack([s.context for s in steps]), out_tokens),
                       figs.alignment(decoding.source, out_tokens, matrix, len(decoding.steps)),
                       beams_html(decoding, shown), {"key": key, "shown": shown},
                       panels.decode_code(task_name, variant, decoding.source, decoding.width,
                                          for_input(get_task(task_name), decoding.source).max_out))


def _shown_before(view: object, key: list) -> int:
    """How many steps of this same decoding the session's view already shows (0 if another)."""
    return view.get("shown", 0) if isinstance(view, dict) and view.get("key") == key else 0


@user_errors
def on_step(task_name: str, variant_label: str, text: str, method: str, width: float,
            view: dict | None) -> DecodeFrame:
    """One more output step (starting over when the input changed or decoding ended)."""
    decoding, note = decode(task_name, variant_label, text, method, width)
    variant = variant_key(variant_label)
    done = _shown_before(view, [task_name, variant, decoding.source, decoding.width])
    shown = done + 1 if done < len(decoding.steps) else 1
    return render(task_name, variant, decoding, shown, note)


@user_errors
def on_run(task_name: str, variant_label: str, text: str, method: str, width: float,
           view: dict | None) -> Iterator[DecodeFrame]:
    """Play the remaining steps (all of them after the end or a new input), one every
    RUN_DELAY_S seconds."""
    decoding, note = decode(task_name, variant_label, text, method, width)
    variant = variant_key(variant_label)
    done = _shown_before(view, [task_name, variant, decoding.source, decoding.width])
    start = done + 1 if done < len(decoding.steps) else 1
    for shown in range(start, len(decoding.steps) + 1):
        yield render(task_name, variant, decoding, shown, note)
        if shown < len(decoding.steps):
            time.sleep(RUN_DELAY_S)


@user_errors
def on_method(method: str) -> gr.Slider:
    """The beam width matters only for beam search."""
    if method not in (GREEDY, BEAM):
        raise ValueError(f"Decoding must be '{GREEDY}' or '{BEAM}'.")
    return gr.Slider(interactive=method == BEAM)


@user_errors
def on_random(task_name: str) -> str:
    """A fresh input from the task's generator (inputs up to the trained length)."""
    task = get_task(task_name)
    return make_pairs(task, 1, random.randrange(2**31))[0][0]


def model_info(task_name: str, variant_label: str) -> str:
    """What the chosen shipped model is (or why it cannot be loaded)."""
    task = get_task(task_name)
    mid = model_id(task.name, variant_key(variant_label))
    try:
        config = get_service().model_config(mid)
    except ValueError as err:
        return f"**Not available:** {err}"
    m = config["metrics"]
    return (f"**{mid}** · trained weights, "
            f"{m['parameters']:,} parameters · **{m['accuracy']:.1%}** exact match on "
            f"{TEST_PAIRS:,} fresh test inputs · trained on inputs of {task.min_len}–{task.max_len} "
            f"characters from `{task.src.chars}` (you may type up to {input_limit(task)}: beyond "
            "the trained length is where it breaks)")


@user_errors
def on_model_change(task_name: str, variant_label: str) -> str:
    return model_info(task_name, variant_label)


class TaskChange(NamedTuple):
    """What picking a task changes (the outputs of on_task_change, in this order)."""
    info: Any
    text: Any
    compare_task: Any
    train_task: Any


@user_errors
def on_task_change(task_name: str, variant_label: str) -> TaskChange:
    """A new task: its model's description, its example input, and the same task below."""
    return TaskChange(model_info(task_name, variant_label), get_task(task_name).example, task_name, task_name)


@user_errors
def on_compare(task_name: str) -> tuple[FigureJSON, str]:
    """Accuracy against input length of both shipped models on freshly generated data."""
    task = get_task(task_name)

    def compute() -> dict[str, tuple[tuple[int, ...], tuple[float, ...]]]:
        results = {}
        for label, variant in VARIANTS.items():
            model, _ = load_model(task.name, variant)
            acc = s2s.accuracy_by_length(model, task, n=1000, seed=777)
            results[label] = (acc.lengths, acc.accuracy)
        return results

    results = get_service().memo(("seq2seq-compare", task.name), compute)
    lines = []
    for label, (lengths, acc) in results.items():
        third = max(1, len(lengths) // 3)
        lines.append(f"- **{label}**: {sum(acc[:third]) / third:.0%} on the shortest inputs "
                     f"({lengths[0]}–{lengths[third - 1]} chars), {sum(acc[-third:]) / third:.0%} on the "
                     f"longest ({lengths[-third]}–{lengths[-1]} chars).")
    summary = ("Exact-match accuracy (greedy decoding) on about 1,000 freshly generated test inputs "
               "the models never saw:\n" + "\n".join(lines))
    return figs.length_accuracy(results, task.title, (task.min_len, task.max_len)), summary


class TrainFrame(NamedTuple):
    """What a live training run shows (the outputs of on_train, in this order)."""
    loss: Any
    alignment: Any
    status: Any
    runs: Any
    code: Any


@user_errors
def on_train(task_name: str, variant_label: str, steps: float, max_len: float, seed: float,
             runs: dict | None) -> Iterator[TrainFrame]:
    """Train a fresh model live, streaming the loss and the probe's alignment. Bounded in
    steps and seconds; earlier runs of this session (gr.State) stay on the loss plot."""
    variant = variant_key(variant_label)
    steps, steps_note = clamp(steps, 20, LIVE_MAX_STEPS, "Steps", integer=True)
    max_len, len_note = clamp(max_len, 3, 20, "Longest input", integer=True)
    seed, seed_note = clamp(seed, 0, 2**31 - 1, "Seed", integer=True)
    task = shorter(get_task(task_name), max_len)
    probe = task.example if task.name == "dates" else make_pairs(task, 1, seed + 1, length=task.max_len)[0][0]
    model = s2s.new_model(task, variant == "attention", seed)
    cfg = s2s.TrainConfig(steps=steps, batch_size=LIVE_BATCH, snapshot_every=5,
                      max_seconds=LIVE_MAX_SECONDS, probe=probe)
    label = f"{task.name}, {variant}, seed {seed}"
    runs = runs if isinstance(runs, dict) else {}
    earlier = dict(list(runs.items())[-(KEEP_RUNS - 1):]) if KEEP_RUNS > 1 else {}
    notes = " ".join(n for n in (steps_note, len_note, seed_note) if n)
    curve: tuple[list[int], list[float]] = ([], [])
    code = panels.train_code(task, variant == "attention", steps, LIVE_BATCH, seed, cfg.snapshot_every)
    for snap in s2s.train(model, task, cfg, seed):
        curve[0].append(snap.step)
        curve[1].append(snap.loss)
        plots = earlier | {label: curve}
        out_tokens = [figs.show_char(tok) for tok in snap.probe_tokens]
        align = figs.alignment(probe, out_tokens, snap.probe_alignment, len(out_tokens),
                               title=f"Alignment for '{probe}' after {snap.step} training steps")
        stopped = " (time limit reached)" if snap.done and snap.step < steps else ""
        status = (f"**Step {snap.step} of {steps}**{stopped} · loss {snap.loss:.3f} · "
                  f"{snap.token_accuracy:.0%} of characters right (teacher forcing) · "
                  f"{snap.seconds:.0f} s · model output for `{probe}`: `{snap.probe_output or ' '}` "
                  f"{'(correct)' if answer(task, probe) == snap.probe_output else ''}")
        if notes:
            status += f"\n\n**Note:** {notes}"
        yield TrainFrame(figs.loss_curves(plots), align, status, plots, code)


# --- predict, then reveal ---------------------------------------------------------------------

EXACT_QUESTION = "seq2seq-exact"
EXACT_ASK = ("Will this model write exactly the right answer for this input? (Reverse with attention: "
             "try 20 letters, then 26.) Choose, then Run.")
EXACT_CHOICES = {True: "Yes, every character right", False: "No, it makes a mistake"}
BEAM_QUESTION = "seq2seq-beam"
BEAM_ASK = ("Will beam search (the width above) find a more likely output, a higher log p, than greedy "
            "decoding? Choose, then Run with Beam search.")
BEAM_CHOICES = {True: "Yes, a higher log p", False: "No, nothing more likely than greedy's"}
LOGPROB_TIE = 1e-6  # summed log-probabilities closer than this are the same hypothesis's


def exact_outcome(task_name: str, decoding: s2s.Decoding) -> Outcome | None:
    """The run's answer to "exactly right?": its output against the task's correct answer
    (None for an input without one, e.g. 31 February)."""
    task = get_task(task_name)
    expected = answer(task, decoding.source)
    if expected is None:
        return None
    wrong = sum(a != b for a, b in zip(decoding.output, expected)) + abs(len(decoding.output) - len(expected))
    length = (f"{len(decoding.source)} characters, beyond the {task.max_len} it was trained on"
              if len(decoding.source) > task.max_len else
              f"{len(decoding.source)} characters, within the {task.min_len}–{task.max_len} it was trained on")
    found = ("every character right" if not wrong else
             f"the right answer is `{expected}` ({len(expected)} characters; {wrong} positions differ)")
    return Outcome(EXACT_CHOICES[not wrong],
                   f"The input has {length}. The model wrote `{decoding.output}` "
                   f"({len(decoding.output)} characters): {found}.")


def beam_outcome(task_name: str, greedy: s2s.Decoding, beam: s2s.Decoding) -> Outcome:
    """The run's answer to "will the beam find a more likely output?": the best finished
    hypothesis of each search and its summed log-probability."""
    expected = answer(get_task(task_name), greedy.source)

    def said(decoding: s2s.Decoding) -> str:
        verdict = "" if expected is None else (", correct" if decoding.output == expected else ", wrong")
        return f"`{decoding.output}` (log p {decoding.beams[-1][0].logprob:.3f}{verdict})"

    better = beam.beams[-1][0].logprob > greedy.beams[-1][0].logprob + LOGPROB_TIE
    return Outcome(BEAM_CHOICES[better], f"Greedy wrote {said(greedy)}; a beam of {beam.width} wrote "
                                         f"{said(beam)}.")


def finished_decoding(task_name: str, variant_label: str, text: str, method: str, width: float,
                      view: object) -> s2s.Decoding | None:
    """The decoding the session shows, if it shows all of its steps (None before the end)."""
    decoding, _ = decode(task_name, variant_label, text, method, width)
    key = [task_name, variant_key(variant_label), decoding.source, decoding.width]
    return decoding if _shown_before(view, key) == len(decoding.steps) else None


@user_errors
def on_reveal_exact(choice: str | None, task_name: str, variant_label: str, text: str, method: str,
                    width: float, view: dict | None, tally: Tally) -> tuple[str, Tally]:
    """After every Step or Run: the verdict once the decoding has reached its end."""
    decoding = finished_decoding(task_name, variant_label, text, method, width, view)
    if decoding is None:
        return ("Step or Run to the end to see the answer." if choice else ""), tally
    outcome = exact_outcome(task_name, decoding)
    if outcome is None:
        return "This input has no correct answer (not a real date?): nothing to compare.", tally
    return reveal(EXACT_QUESTION, choice, outcome, tally)


@user_errors
def on_reveal_beam(choice: str | None, task_name: str, variant_label: str, text: str, method: str,
                   width: float, view: dict | None, tally: Tally) -> tuple[str, Tally]:
    """After a beam search has reached its end: greedy against the beam on the same input."""
    if method != BEAM:
        return ("Choose **Beam search** as the decoding, then Run, to see the answer." if choice else ""), tally
    beam = finished_decoding(task_name, variant_label, text, method, width, view)
    if beam is None:
        return ("Step or Run to the end to see the answer." if choice else ""), tally
    greedy, _ = decode(task_name, variant_label, text, GREEDY, 1)
    return reveal(BEAM_QUESTION, choice, beam_outcome(task_name, greedy, beam), tally)


# --- lesson links ----------------------------------------------------------------------------

@user_errors
def on_restore(task_name: str, variant_label: str, method: str) -> tuple[str, gr.Slider]:
    """A lesson link set the controls (no .input fired): the model's description and the
    beam width's state that picking them by hand would have updated."""
    return model_info(task_name, variant_label), on_method(method)


# --- layout -----------------------------------------------------------------------------------

LESSON_WHAT = (
    "An **encoder** RNN reads the input one character at a time; a **decoder** RNN writes "
    "the output one character at a time. **Without attention** (Sutskever et al. 2014, "
    "Cho et al. 2014) the decoder sees the input only through one fixed-size **context "
    "vector**, the encoder's final state. **With attention** (Bahdanau et al. 2015) the "
    "decoder, at every step, scores every input character, turns the scores into weights "
    "that sum to 1 (the bar chart) and reads their weighted average: a new context vector "
    "c_t each step. Stack the weight rows and you get the **alignment**: which input "
    "character each output character came from. All models here are small GRUs trained "
    "by this repo on generated data."
)
LESSON_TRY = [
    "Reverse `attention` with **Step**: the attention walks backwards and the alignment "
    "becomes an anti-diagonal.",
    "Switch to **Fixed context**: every row of the context heat-map is identical. Now type "
    "20 letters: which model still gets it right?",
    "Press **Compare** on *Reverse*: where does the fixed-context curve fall, and why at "
    "long inputs? Then compare on *Sort digits*: why is one fixed vector enough there? "
    "(Hint: what does a sorted output depend on?)",
    "Type 26 letters into *Reverse* (the models were trained on at most 20; a warning says "
    "so) and press **Run** with attention. The output comes out too short: the alignment's "
    "anti-diagonal skips input letters in the middle. Where does attention break down?",
    "Dates: try `Nov 28, 2026` and `28 November 2026`. Where does the model look while "
    "writing the month `11`? Then `28th November 2026`: it never saw an ordinal.",
    "Beam search, width 4, on a long input to the fixed-context model: watch the beams. "
    "Does a wider beam rescue it?",
    "**Train it yourself** with and without attention (same seed): watch the alignment "
    "sharpen from a blur into a diagonal, and compare the dotted loss curves.",
]
PAPERS = [
    ("Sutskever et al. 2014: Sequence to Sequence Learning", "https://arxiv.org/abs/1409.3215"),
    ("Cho et al. 2014: RNN Encoder–Decoder", "https://arxiv.org/abs/1406.1078"),
    ("Bahdanau et al. 2015: Jointly Learning to Align and Translate", "https://arxiv.org/abs/1409.0473"),
    ("Luong et al. 2015: Effective Approaches to Attention", "https://arxiv.org/abs/1508.04025"),
]
LESSON_MD = lesson_markdown(LESSON_WHAT, LESSON_TRY, PAPERS)  # the notebooks' first cell
NOTEBOOK_TITLES = {"decode": f"{TITLE}: decode step by step", "train": f"{TITLE}: train it yourself"}


def build(demo: gr.Blocks) -> LabSetup:
    """Lay out the tab inside ``demo`` (the app being built), wire its events, and return
    what a lesson link can set in it."""
    first_task, first_variant = TASK_CHOICES[1][1], list(VARIANTS)[0]
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        lesson(LESSON_WHAT, LESSON_TRY, PAPERS)
        with gr.Row():
            task = gr.Dropdown(TASK_CHOICES, value=first_task, label="Task", scale=1, elem_id="seq2seq-task")
            variant = gr.Radio(list(VARIANTS), value=first_variant, label="Model", scale=2, elem_id="seq2seq-model")
        info = gr.Markdown(model_info(first_task, first_variant), elem_id="seq2seq-info")
        with gr.Row():
            text = gr.Textbox(label="Input", value=TASKS[first_task].example, max_lines=1, scale=3,
                              max_length=1000, elem_id="seq2seq-input")
            shuffle = gr.Button("Random input", scale=1)
            method = gr.Radio([GREEDY, BEAM], value=GREEDY, label="Decoding", scale=1, elem_id="seq2seq-decoding")
            width = inputs.Slider(1, MAX_BEAM, value=3, step=1, label="Beam width", scale=1, interactive=False,
                                  elem_id="seq2seq-width")
        with gr.Row():
            exact_q = ask(EXACT_QUESTION, EXACT_ASK, list(EXACT_CHOICES.values()))
            beam_q = ask(BEAM_QUESTION, BEAM_ASK, list(BEAM_CHOICES.values()))
        with gr.Row():
            step = gr.Button("Step ▶", variant="primary", elem_id="seq2seq-step")
            run = gr.Button("Run ▶▶", variant="secondary", elem_id="seq2seq-run")
        status = gr.Markdown("Press **Step** to decode one output character, or **Run** to play them all.",
                             elem_id="seq2seq-status")
        with gr.Row():
            attention_plot = gr.Plot(placeholder("Attention over the input appears here."), show_label=False,
                                     elem_id="seq2seq-attention")
            alignment_plot = gr.Plot(placeholder("The alignment matrix grows here."), show_label=False,
                                     elem_id="seq2seq-alignment")
        with gr.Row():
            context_plot = gr.Plot(placeholder("Context vectors appear here."), show_label=False, scale=3)
            with gr.Column(scale=2, min_width=320):
                beams = gr.HTML(elem_id="seq2seq-beams")
        view = gr.State({})
        code = code_panel("# Press Step or Run: the code that reproduces it appears here.",
                          title=NOTEBOOK_TITLES["decode"], lesson=LESSON_MD)

        gr.Markdown("## Compare: accuracy by input length")
        with gr.Row():
            compare_task = gr.Dropdown(TASK_CHOICES, value=first_task, label="Task", scale=2)
            compare = gr.Button("Compare both models", elem_id="seq2seq-compare", scale=1)
        compare_plot = gr.Plot(placeholder("Press “Compare” to test both models on fresh data."),
                               show_label=False, elem_id="seq2seq-compare-plot")
        compare_text = gr.Markdown()

        gr.Markdown("## Train it yourself\nA fresh model with random weights, trained here for a "
                    f"few hundred steps (at most {LIVE_MAX_SECONDS:.0f} s) on short inputs.")
        with gr.Row():
            train_task = gr.Dropdown(TASK_CHOICES, value=first_task, label="Task")
            train_variant = gr.Radio(list(VARIANTS), value=first_variant, label="Model")
            train_steps = inputs.Slider(20, LIVE_MAX_STEPS, value=250, step=10, label="Steps")
            train_len = inputs.Slider(3, 20, value=8, step=1, label="Longest input (characters)")
            train_seed = inputs.Number(0, label="Seed", precision=0)
        with gr.Row():
            train_btn = gr.Button("Train", variant="primary", elem_id="seq2seq-train")
            stop_btn = gr.Button("Stop", variant="stop", elem_id="seq2seq-stop")
        train_status = gr.Markdown(elem_id="seq2seq-train-status")
        with gr.Row():
            loss_plot = gr.Plot(placeholder(figs.NO_LOSS, 360), show_label=False, elem_id="seq2seq-loss")
            train_align = gr.Plot(placeholder("The alignment of a probe input appears here."),
                                  show_label=False, elem_id="seq2seq-train-align")
        runs = gr.State({})
        train_code = code_panel("# Press Train: the code that reproduces it appears here.",
                                title=NOTEBOOK_TITLES["train"], lesson=LESSON_MD)
        setup = lab_setup(TAB_ID, {
            "task": task, "model": variant, "input": text, "decoding": method, "width": width,
            "compare": compare_task, "train_task": train_task, "train_model": train_variant,
            "steps": train_steps, "longest": train_len, "seed": train_seed})

    decode_inputs = [task, variant, text, method, width, view]
    decode_outputs = list(DecodeFrame(status, attention_plot, context_plot, alignment_plot, beams, view, code))

    def reveal_after(event: Any) -> None:
        """After a decoding moved (and succeeded): both predictions' verdicts."""
        for question, handler in ((exact_q, on_reveal_exact), (beam_q, on_reveal_beam)):
            event.success(handler, [question.choice, *decode_inputs, question.tally],
                          [question.verdict, question.tally], api_visibility="private", **queues.CHEAP)

    # The status line is cleared first, so an error never leaves the previous result's line.
    reveal_after(step.click(None, js=CLEAR, outputs=[status]).then(
        on_step, decode_inputs, decode_outputs, api_name="seq2seq_step", **queues.CHEAP))
    reveal_after(run.click(None, js=CLEAR, outputs=[status]).then(
        on_run, decode_inputs, decode_outputs, api_name="seq2seq_run", **queues.CHEAP))
    reveal_after(text.submit(None, js=CLEAR, outputs=[status]).then(
        on_run, decode_inputs, decode_outputs, api_visibility="private", **queues.CHEAP))
    # A lesson link restored the settings: describe its model, then show the first step.
    reveal_after(setup.restored.change(on_restore, [task, variant, method], [info, width],
                                       api_visibility="private", **queues.CHEAP).success(
        on_step, decode_inputs, decode_outputs, api_visibility="private", **queues.CHEAP))
    shuffle.click(on_random, [task], [text], api_name="seq2seq_random", **queues.CHEAP)
    # .input, not .change: a value a lesson link sets must not fire these (a new task would
    # replace the link's input with the task's example)
    method.input(on_method, [method], [width], api_visibility="private", **queues.CHEAP)
    task.input(on_task_change, [task, variant], list(TaskChange(info, text, compare_task, train_task)),
               api_visibility="private", **queues.CHEAP)
    variant.input(on_model_change, [task, variant], [info], api_visibility="private", **queues.CHEAP)
    compare.click(on_compare, [compare_task], [compare_plot, compare_text], api_name="seq2seq_compare",
                  **queues.MODEL)
    train_inputs = [train_task, train_variant, train_steps, train_len, train_seed, runs]
    train_event = train_btn.click(None, js=CLEAR, outputs=[train_status]).then(
        on_train, train_inputs, list(TrainFrame(loss_plot, train_align, train_status, runs, train_code)),
        api_name="seq2seq_train", **queues.TRAINING)
    stop_btn.click(None, cancels=[train_event])
    return setup
