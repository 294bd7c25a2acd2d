"""GANs tab: train a GAN live on 2-D points, then on 8×8 digits.
Issue 18: a lesson link restores every setting (and the sub-tab), a question asks the
student to predict the modes a 2-D run covers and another what the digits classifier
reads, each answered from the run; the code panel downloads as a notebook.

Play is a generator handler that trains the session's run itself: a few steps (as many
as the speed control asks), then a frame, about 12 frames a second at full speed. A
cancelled stream (Pause, Stop, Step, Reset, a closed tab) is closed by Gradio between two
frames, so training ends with it; nothing trains on behind the student's back. A run
lives in the session's ``gr.State`` and carries its seed, so Play after Pause goes on
from where it was. One session streams at most one GAN training at a time.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, NamedTuple

import gradio as gr
import numpy as np

from components import images, queues
from components.code_panel import code_panel
from components.errors import user_errors
from components.gan_figures import (digits_curves_figure, digits_grid_figure, distance_figure,
                                    field_figure, interpolation_figure, loss_figure)
from components.lazy import lazy_module
from components.lesson import lesson, lesson_markdown
from components.links import LabSetup, lab_setup
from components.predict import Outcome, Tally, ask, reveal
from playground.gan.config import (ACTIVATIONS, DIGITS_GRID_COLS, LIMITS, LOSSES, OPTIMIZERS, PRESETS,
                                   TARGETS, GANConfig, make_config)
from playground.service.model_service import get_service

gan = lazy_module("playground.gan.model")  # torch loads on first use, not at app start
gan_data = lazy_module("playground.gan.data")
gan_digits = lazy_module("playground.gan.digits")

TAB_ID = "gan"
TITLE = "GANs"
CHECKPOINT_ID = "neural-playground/gan-digits"
FRAME_S = 0.07  # full speed: train this long, then draw (with drawing, about 12 frames/s)
MAX_FPS = 12  # slower speeds draw at most this many frames a second
CURVES_EVERY = 4  # at full speed, redraw the two curve plots every 4th frame only
MAX_PLAY_S = 120.0  # one Play streams at most this long; press Play again to go on
# Steps per second a student can pick; None = as fast as this server trains.
SPEEDS = {"3 steps/s (slow motion)": 3, "10 steps/s": 10, "30 steps/s": 30,
          "100 steps/s": 100, "300 steps/s": 300, "full speed": None}
FULL_SPEED = "full speed"
SLOW_MOTION = "3 steps/s (slow motion)"
PAUSED = "Paused: Play goes on from here"
STOPPED = "Stopped: Play or Reset starts a new run with the same seed"
# The settings a student sets, in the order the handlers receive them.
SETTINGS = ["target", "loss", "g_layers", "g_width", "d_layers", "d_width", "activation",
            "optimizer", "lr_g", "lr_d", "d_steps", "batch_size", "latent_dim", "gp_weight",
            "max_steps", "seed"]
# how the status line and the modes question count a mode (model.modes_covered's defaults)
MODE_RULE = "a mode counts when at least 2 % of the samples lie within 0.25 of its centre"
SUB_TABS = {"gan-2d": "2-D GAN lab", "gan-digits": "Digits (8×8 images)"}
DEFAULT_POINTS = "\n".join(f"{np.cos(t):.2f}, {np.sin(2 * t) / 2:.2f}"
                           for t in np.linspace(0, 2 * np.pi, 24, endpoint=False))  # a figure 8


# --- a session's runs and their Play streams ------------------------------------------------
@dataclass(eq=False)
class Play:
    """One Play stream; ``stop_reason`` is set (by Pause, Stop, Step, another Play, the tab
    closing) when it must end, and the stream ends at its next step with that reason."""

    stop_reason: str | None = None


@dataclass(eq=False)
class Lab:
    """One student's run (2-D or digits) and the Play streaming it, if any. ``lock`` is
    held while the run trains a few steps or is read, so that a handler reading it between
    two frames sees the weights of one step, never half an update."""

    run: Any  # a PointsRun (2-D) or a DigitsRun
    notes: list[str]
    points_text: str = ""  # the custom target's points, when the target is custom
    stopped: bool = False  # Stop was pressed: the next Play starts a new run
    play: Play | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def halt(self, reason: str) -> None:
        """Ask the Play streaming this run, if any, to end (it does at its next step)."""
        with self.lock:
            if self.play is not None:
                self.play.stop_reason = reason
                self.play = None


_session_plays: dict[str, Play] = {}  # session → its GAN Play streaming now (any lab)
_session_lock = threading.Lock()


def start_play(lab: Lab, request: gr.Request | None) -> Play:
    """Register a new Play of ``lab``: it ends the lab's and the session's earlier Play."""
    play = Play()
    lab.halt("another Play of this run started")
    session = getattr(request, "session_hash", None)
    if session is not None:
        with _session_lock:
            earlier = _session_plays.get(session)
            if earlier is not None:
                earlier.stop_reason = "another GAN training started in this session (one at a time)"
            _session_plays[session] = play
    with lab.lock:
        lab.play = play
    return play


def end_play(play: Play, request: gr.Request | None) -> None:
    """Forget a Play that ended. Dictionary work only: it may run on Gradio's event loop."""
    session = getattr(request, "session_hash", None)
    with _session_lock:
        if session is not None and _session_plays.get(session) is play:
            del _session_plays[session]


def on_unload(request: gr.Request) -> None:
    """The tab closed: end its GAN training, if Gradio has not cancelled it already."""
    with _session_lock:
        play = _session_plays.pop(getattr(request, "session_hash", None), None)
    if play is not None:
        play.stop_reason = "the browser tab was closed"


def speed_plan(speed: str) -> tuple[int | None, float]:
    """(steps per frame, seconds per frame) for a speed choice; None steps = full speed."""
    if speed not in SPEEDS:
        raise ValueError(f"Unknown speed '{speed}'. Choose one of: {', '.join(SPEEDS)}.")
    rate = SPEEDS[speed]
    if rate is None:
        return None, FRAME_S
    steps = max(1, math.ceil(rate / MAX_FPS))
    return steps, steps / rate


def train_frames(lab: Lab, play: Play, speed: str, draw: Callable[[str, bool], Any]) -> Iterator[Any]:
    """Train ``lab.run`` between frames and yield ``draw(state, curves)`` after each chunk,
    until the run is done, the Play is asked to stop, or MAX_PLAY_S is up. Ends with a
    frame whose state says which of these it was."""
    steps_per_frame, frame_s = speed_plan(speed)
    started, frames, reason = time.monotonic(), 0, None
    while reason is None:
        t0 = time.monotonic()
        with lab.lock:
            reason = play.stop_reason or ending(lab.run, started)
            if reason is None:
                if steps_per_frame is None:  # full speed: train for one frame's time
                    while time.monotonic() - t0 < frame_s and lab.run.train(4):
                        pass
                else:
                    lab.run.train(steps_per_frame)
                frames += 1
                view = draw(f"Training ({speed})", steps_per_frame is not None or frames % CURVES_EVERY == 1)
        if reason is None:
            yield view  # never while holding the lock: the stream may wait here for a while
            time.sleep(max(0.0, frame_s - (time.monotonic() - t0)))
    with lab.lock:
        if lab.play is play:
            lab.play = None
        view = draw(reason, True)
    yield view


def ending(run: Any, started: float) -> str | None:
    """Why a Play must end now (finished, diverged, out of time), or None."""
    if run.diverged_at is not None:
        return f"Stopped: diverged at step {run.diverged_at:,}"
    if run.step >= run.cfg.max_steps:
        return f"Finished: reached max steps ({run.cfg.max_steps:,})"
    if time.monotonic() - started > MAX_PLAY_S:
        return f"Paused after {MAX_PLAY_S:.0f} s of streaming (the limit of one Play): press Play to go on"
    return None


# --- 2-D handlers -------------------------------------------------------------------------
class View2D(NamedTuple):
    """What the 2-D handlers return, in the order of their outputs (see build_2d)."""

    lab: Any  # the Lab, or gr.skip() when it has not changed
    field: Any
    losses: Any
    distance: Any
    status: str
    code: Any
    verdict: Any  # the modes question's verdict: cleared when a Play starts, else unchanged


def settings_config(settings: tuple) -> tuple[GANConfig, list[str]]:
    if len(settings) != len(SETTINGS):
        raise ValueError(f"Expected {len(SETTINGS)} settings, got {len(settings)}.")
    return make_config(**dict(zip(SETTINGS, settings)))


def new_lab(points_text: str, settings: tuple) -> Lab:
    cfg, notes = settings_config(settings)
    points = gan_data.parse_points(points_text) if cfg.target == "custom" else None
    return Lab(gan.PointsRun(cfg, points), notes, points_text if cfg.target == "custom" else "")


def status_text(lab: Lab, snap: Any, state: str) -> str:
    cfg = lab.run.cfg
    lines = [f"**{state}** · step {snap.step:,} / {cfg.max_steps:,} · seed {cfg.seed} · "
             f"{cfg.loss} loss · target: {cfg.target}"]
    if len(snap.distance):
        lines.append(f"Distance to the data: **{snap.distance[-1]:.3f}** at step {snap.distance_steps[-1]:,} "
                     f"(two samples of the data itself differ by {snap.noise_floor:.3f}).")
    if snap.modes is not None:
        lines.append(f"G's samples cover **{snap.modes[0]} of the {snap.modes[1]} modes** ({MODE_RULE}).")
    if snap.diverged_at is not None:
        lines.append(f"⚠️ **Diverged at step {snap.diverged_at:,}**: the losses became NaN or "
                     "infinite, so nothing is drawn. Lower the learning rates and press Reset.")
    lines += [f"ℹ️ {note}" for note in lab.notes]
    return "\n\n".join(lines)


def view_2d(lab: Lab, state: str, curves: bool = True, code: Any = None) -> View2D:
    """The run now, drawn. ``curves=False`` leaves the two curve plots as they are
    (gr.skip): the browser redraws fewer plots, the curves still move 3 times a second."""
    snap = gan.snapshot(lab.run)
    status = status_text(lab, snap, state)
    skip = gr.skip()
    return View2D(skip, field_figure(snap),
                  loss_figure(snap.d_loss, snap.g_loss, snap.loss) if curves else skip,
                  distance_figure(snap) if curves else skip, status, skip if code is None else code, skip)


# The parts of the core the lab runs, in the order a script needs them.
CODE_PARTS = (("config", "GANConfig"), ("data", "sample_target"), ("model", "activation"),
              ("model", "mlp"), ("model", "with_label"), ("model", "Generator"),
              ("model", "Discriminator"), ("model", "discriminator_loss"),
              ("model", "minimax_generator_loss"), ("model", "non_saturating_generator_loss"),
              ("model", "wasserstein_generator_loss"), ("model", "gradient_penalty"),
              ("model", "GENERATOR_LOSSES"), ("model", "d_step"), ("model", "g_step"),
              ("model", "make_optimizer"), ("model", "GANRun"), ("model", "PointsRun"),
              ("model", "sliced_wasserstein"), ("data", "mode_centres"), ("model", "modes_covered"))
CODE_CONSTANTS = (("model", "LEAK"), ("model", "POOL"), ("model", "N_SHOW"),
                  ("model", "MEASURE_EVERY"), ("config", "TARGETS"))


def code_for(cfg: GANConfig, points_text: str = "") -> str:
    """The lab's own training code (the core's source, read with ``inspect``) and the few
    lines that run it with the student's settings: plain torch, nothing from this repo."""
    modules = {"model": gan, "data": gan_data, "config": lazy_module("playground.gan.config")}
    constants = "\n".join(f"{name} = {getattr(modules[m], name)!r}" for m, name in CODE_CONSTANTS)
    parts = []
    for module, name in CODE_PARTS:
        value = getattr(modules[module], name)
        if isinstance(value, dict):  # a table of functions: written out by their names
            items = ", ".join(f"{key!r}: {fn.__name__}" for key, fn in value.items())
            parts.append(f"{name} = {{{items}}}")
        else:
            parts.append(inspect.getsource(value).rstrip())
    points = "None"
    if cfg.target == "custom":
        points = f"np.array({gan_data.parse_points(points_text).tolist()}, dtype=np.float32)"
    values = ", ".join(f"{name}={getattr(cfg, name)!r}" for name in cfg.__dataclass_fields__)
    centres = "mode_centres(cfg.target)"
    return f'''"""The GAN lab's own code (playground/gan/model.py, data.py, config.py), run with the
settings on screen. Plain PyTorch: paste it into a notebook and it trains the same run."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

{constants}


''' + "\n\n\n".join(parts) + f'''


torch.set_num_threads(1)  # as the server: same seed, same numbers
cfg = GANConfig({values})
points = {points}  # the custom target's points (centred, rescaled), if any
run = PointsRun(cfg, points)
while not run.done:
    run.train(500)
    print(f"step {{run.step}}: D loss {{run.d_losses[-1]:.4f}}, G loss {{run.g_losses[-1]:.4f}}, "
          f"distance to the data {{run.distances[-1]:.4f}}")
centres = {centres}
if centres is not None:
    with torch.no_grad():
        print(f"modes covered: {{modes_covered(run.G(run.z_show), centres)}} of {{len(centres)}}")
'''


@user_errors
def on_reset(points_text: str, *settings: Any) -> View2D:
    """A fresh run from the current settings and seed, drawn at step 0."""
    lab = new_lab(points_text, settings)
    return view_2d(lab, "Ready: press Play, or Step for one step",
                   code=code_for(lab.run.cfg, lab.points_text))._replace(lab=lab)


def lab_for_play(lab: Lab | None, points_text: str, settings: tuple) -> Lab:
    """The paused run if the settings are unchanged, else a new run (which says so)."""
    cfg, _ = settings_config(settings)
    text = points_text if cfg.target == "custom" else ""
    if lab is not None:
        lab.halt(PAUSED)  # a Play still streaming it (e.g. its cancel is on its way)
        if not (lab.stopped or lab.run.done or lab.run.cfg != cfg or lab.points_text != text):
            return lab
    why = ("the run had finished" if lab is not None and lab.run.done else
           "Stop was pressed" if lab is not None and lab.stopped else "the settings changed")
    lab = new_lab(points_text, settings)
    lab.notes.append(f"Started a new run ({why}); same seed, same run.")
    return lab


@user_errors
def on_play(request: gr.Request | None, lab: Lab | None, speed: str, points_text: str,
            *settings: Any) -> Iterator[View2D]:
    """Train and stream frames at the chosen speed, bounded by max_steps and MAX_PLAY_S."""
    speed_plan(speed)
    lab = lab_for_play(lab, points_text, settings)
    code = code_for(lab.run.cfg, lab.points_text)
    play = start_play(lab, request)
    try:
        with lab.lock:  # the state and the code change only with the run: sent once
            first = view_2d(lab, "Training", code=code)._replace(lab=lab, verdict="")
        yield first
        yield from train_frames(lab, play, speed, lambda state, curves: view_2d(lab, state, curves))
    finally:
        end_play(play, request)


@user_errors
def on_step(lab: Lab | None, points_text: str, *settings: Any) -> View2D:
    """Exactly one training step (d_steps D updates then one G update), then draw."""
    lab = lab_for_play(lab, points_text, settings)
    with lab.lock:
        lab.run.train(1)
        return view_2d(lab, "Stepped: one step", code=code_for(lab.run.cfg, lab.points_text))._replace(lab=lab)


@user_errors
def on_pause(lab: Lab | None) -> str:
    if lab is None:
        return "Nothing to pause: press Play."
    lab.halt(PAUSED)
    with lab.lock:
        return status_text(lab, gan.snapshot(lab.run), PAUSED + ", Step advances one step")


@user_errors
def on_stop(lab: Lab | None) -> tuple[Lab | None, str]:
    if lab is None:
        return None, "Nothing to stop."
    lab.halt(STOPPED)
    lab.stopped = True
    with lab.lock:
        return lab, status_text(lab, gan.snapshot(lab.run), STOPPED)


@user_errors
def on_preset(name: str) -> tuple:
    """Load a lesson preset: every setting, plus what to watch for."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset '{name}'. Choose one of: {', '.join(PRESETS)}.")
    values = [getattr(PRESETS[name].config, setting) for setting in SETTINGS]
    return (*values, preset_note(name) + " Press **Play**.")


def preset_note(name: str) -> str:
    """What a preset is about; a lesson link restores the note with the preset's name."""
    return f"**{name}.** {PRESETS[name].lesson}" if name in PRESETS else ""


@user_errors
def on_sketch(sketch: dict | None) -> tuple[str, str]:
    """Turn the drawing into typed points (so the student sees them) and pick "custom"."""
    image = images.sketch_array(sketch)  # size-checked (before decoding, by images.Sketchpad)
    if image is None:
        raise ValueError("The drawing is empty: draw a shape on the canvas first.")
    points = gan_data.points_from_sketch(image)
    return "\n".join(f"{x:.2f}, {y:.2f}" for x, y in points), "custom"


# --- digits handlers ----------------------------------------------------------------------
class ViewDigits(NamedTuple):
    """What the digits handlers return, in the order of their outputs (see build_digits)."""

    lab: Any
    grid: Any
    losses: Any
    quality: Any
    status: str
    verdict: Any  # the digits question's verdict: cleared when a Play starts, else unchanged


def view_digits(lab: Lab, state: str, curves: bool = True) -> ViewDigits:
    """The digits run now, drawn; ``curves=False`` skips the two curve plots."""
    run = lab.run
    snap, cfg, skip = run.snapshot(), run.cfg, gr.skip()
    lines = [f"**{state}** · {snap.source} · step {snap.step:,} / {snap.max_steps:,} · seed {cfg.seed}"
             f" · {'conditional' if cfg.conditional else 'unconditional'}"]
    if len(snap.nn_distance):
        lines.append(f"At step {snap.quality_steps[-1]:,}: nearest-real distance **{snap.nn_distance[-1]:.3f}** "
                     f"(real digits: {snap.data_nn_distance:.3f})" + (
                         f" · the classifier reads **{snap.agreement[-1]:.0%}** of the samples "
                         "as the digit asked for" if cfg.conditional else ""))
    if snap.diverged_at is not None:
        lines.append(f"⚠️ Diverged at step {snap.diverged_at:,} (NaN losses): press Reset.")
    lines += [f"ℹ️ {note}" for note in lab.notes]
    return ViewDigits(skip, digits_grid_figure(snap),
                      loss_figure(snap.d_loss, snap.g_loss, cfg.loss) if curves else skip,
                      digits_curves_figure(snap) if curves else skip, "\n\n".join(lines), skip)


def checkpoint_lab() -> Lab:
    tensors, config = get_service().load_state(CHECKPOINT_ID)
    run = gan_digits.DigitsRun.from_state(tensors, config, f"trained checkpoint {CHECKPOINT_ID}")
    return Lab(run, [])


@user_errors
def on_digits_checkpoint(lab: Lab | None = None) -> ViewDigits:
    """Show the repo's trained digits GAN (a Play of the previous run ends)."""
    if lab is not None:
        lab.halt(PAUSED)
    lab = checkpoint_lab()
    return view_digits(lab, "Trained checkpoint loaded")._replace(lab=lab)


@user_errors
def on_digits_show(lab: Lab | None) -> ViewDigits:
    """Opening the digits tab: show the trained checkpoint unless a run is already there."""
    if lab is None:
        return on_digits_checkpoint()
    with lab.lock:
        return view_digits(lab, "Your run")._replace(lab=lab)


def digits_settings(conditional: bool, lr: float, batch_size: float, max_steps: float, seed: float):
    return gan_digits.make_digits_config(conditional=conditional, lr_g=lr, lr_d=lr, batch_size=batch_size,
                                         max_steps=max_steps, seed=seed)


def new_digits_lab(settings: tuple, source: str) -> Lab:
    cfg, notes = digits_settings(*settings)
    return Lab(gan_digits.DigitsRun(cfg, source), notes)


@user_errors
def on_digits_reset(lab: Lab | None, *settings: Any) -> ViewDigits:
    if lab is not None:
        lab.halt(PAUSED)
    lab = new_digits_lab(settings, "your run")
    return view_digits(lab, "Ready (random weights, untrained): press Play")._replace(lab=lab)


def digits_lab_for_play(lab: Lab | None, settings: tuple) -> Lab:
    """Go on with the paused run if its settings are the ones on screen, else a new run."""
    cfg, _ = digits_settings(*settings)
    if lab is not None:
        lab.halt(PAUSED)
        if lab.run.source == "your run" and not lab.run.done and lab.run.cfg == cfg:
            return lab
    why = ("the checkpoint is only shown, not trained further" if lab is None or lab.run.source != "your run"
           else "the run had finished" if lab.run.done else "the settings changed")
    lab = new_digits_lab(settings, "your run")
    lab.notes.append(f"Started a new run from random weights ({why}); same seed, same run.")
    return lab


@user_errors
def on_digits_play(request: gr.Request | None, lab: Lab | None, speed: str, conditional: bool,
                   lr: float, batch_size: float, max_steps: float, seed: float) -> Iterator[ViewDigits]:
    """Train the digits GAN live: the same fixed noise grid turns into digits."""
    speed_plan(speed)
    lab = digits_lab_for_play(lab, (conditional, lr, batch_size, max_steps, seed))
    play = start_play(lab, request)
    try:
        with lab.lock:
            first = view_digits(lab, "Training")._replace(lab=lab, verdict="")
        yield first
        yield from train_frames(lab, play, speed, lambda state, curves: view_digits(lab, state, curves))
    finally:
        end_play(play, request)


@user_errors
def on_digits_pause(lab: Lab | None) -> str:
    if lab is None:
        return "Nothing to pause."
    lab.halt(PAUSED)
    with lab.lock:
        return view_digits(lab, "Paused: Play goes on with these settings "
                                "(change one and Play starts a new run)").status


@user_errors
def on_interpolate(lab: Lab | None, digit_a: str, col_a: float, digit_b: str, col_b: float):
    """Walk the latent space of the generator as it is now (also while Play trains it)."""
    lab = lab or checkpoint_lab()
    if str(digit_a) not in [str(d) for d in range(10)] or str(digit_b) not in [str(d) for d in range(10)]:
        raise ValueError("Pick the digits from the lists (0 to 9).")
    a, b = int(digit_a), int(digit_b)
    with lab.lock:
        images = lab.run.interpolate(int(col_a) - 1, int(col_b) - 1, a, b)
    start = f"digit {a}, z{int(col_a)}" if lab.run.n_classes else f"z{int(col_a)}"
    end = f"digit {b}, z{int(col_b)}" if lab.run.n_classes else f"z{int(col_b)}"
    return interpolation_figure(images, start, end)


# --- predict, then reveal ---------------------------------------------------------------------
MODES_QUESTION = "gan-modes"
MODES_ASK = "Will this GAN cover all 8 modes of the ring by the end of its run? Choose, then press Play."
# (fewest modes covered, choice): the first band the run reaches is the answer
MODE_BANDS = ((7, "Yes, (nearly) all: 7 or 8"), (4, "Only some: 4 to 6"), (0, "No, it collapses: 3 or fewer"))
DIGITS_QUESTION = "gan-digits"
DIGITS_ASK = ("When your run ends, how many of the grid's 80 samples will the classifier read as the "
              "digit asked for? Choose, then press Reset and Play.")
AGREEMENT_BANDS = ((0.5, "Most: half or more"), (0.2, "Some: 20 to 50 %"), (0.0, "About chance: under 20 %"))


def band(value: float, bands: tuple[tuple[float, str], ...]) -> str:
    """The choice of the first band whose lower bound ``value`` reaches."""
    return next(choice for low, choice in bands if value >= low)


def modes_outcome(snap: Any) -> Outcome:
    """The 2-D run's answer, from the modes its samples cover at its last step."""
    covered, total = snap.modes
    return Outcome(band(covered, MODE_BANDS), (
        f"At step {snap.step:,} G's samples cover **{covered} of the {total} modes** ({MODE_RULE}); "
        f"distance to the data {snap.distance[-1]:.3f} (the data's own: {snap.noise_floor:.3f})."))


def not_answered_yet(run: Any, missing: str) -> str | None:
    """Why a run cannot answer its question yet (it diverged, or has steps to go), or None."""
    if run.diverged_at is not None:
        return f"The run diverged at step {run.diverged_at:,}: there are no {missing}."
    if run.step < run.cfg.max_steps:
        return f"Play to the end of the run (step {run.cfg.max_steps:,}) to see the answer."
    return None


def reveal_when_done(question_id: str, choice: str | None, lab: Lab | None, tally: Tally,
                     why_not: Callable[[Any], str | None], outcome: Callable[[Any], Outcome]) -> tuple[str, Tally]:
    """The verdict on ``choice`` from ``outcome(run)`` once the lab's run can answer; until
    then ``why_not(run)`` is the hint shown to a student who has chosen."""
    if lab is None:
        return "", tally
    with lab.lock:
        hint = why_not(lab.run)
        if hint is None:
            return reveal(question_id, choice, outcome(lab.run), tally)
    return (hint if choice else ""), tally


def modes_not_answered(run: Any) -> str | None:
    if run.cfg.target != "ring":
        return "This question is about the ring's 8 modes: choose the target **ring** and press Play."
    return not_answered_yet(run, "samples to count")


@user_errors
def on_reveal_modes(choice: str | None, lab: Lab | None, tally: Tally) -> tuple[str, Tally]:
    """After Play, Step or Reset: the verdict once the run has reached its max steps."""
    return reveal_when_done(MODES_QUESTION, choice, lab, tally, modes_not_answered,
                            lambda run: modes_outcome(gan.snapshot(run)))


def digits_outcome(step: int, agreement: float) -> Outcome:
    """The digits run's answer, from the classifier's reading of the grid at its last step."""
    samples = 10 * DIGITS_GRID_COLS
    return Outcome(band(agreement, AGREEMENT_BANDS), (
        f"At step {step:,} the classifier (trained on the 1,797 real digits) reads **{100 * agreement:.0f} %** "
        f"of the grid's {samples} samples as the digit asked for (chance: 10 %)."))


def digits_not_answered(run: Any) -> str | None:
    if run.source != "your run":
        return "The question is about a run you train: press Reset, then Play."
    if not run.cfg.conditional:
        return "The classifier checks the digit asked for: tick **Class-conditional**, then Reset and Play."
    return not_answered_yet(run, "digits to read")


@user_errors
def on_reveal_digits(choice: str | None, lab: Lab | None, tally: Tally) -> tuple[str, Tally]:
    """After the digits Play, Reset or checkpoint: the verdict once your run has ended."""
    return reveal_when_done(DIGITS_QUESTION, choice, lab, tally, digits_not_answered,
                            lambda run: digits_outcome(run.quality_steps[-1], run.agreements[-1]))


# --- lesson links ------------------------------------------------------------------------------
@user_errors
def on_open_view(view: str | None, digits_lab: Lab | None) -> tuple:
    """A lesson link restored the lab: open the sub-tab it names, drawn as a click on it draws
    it (the digits sub-tab shows the checkpoint unless a run is there). No sub-tab: as it is."""
    if view not in SUB_TABS:
        return (gr.Tabs(), *[gr.skip()] * len(ViewDigits._fields))
    digits = on_digits_show(digits_lab) if view == "gan-digits" else [gr.skip()] * len(ViewDigits._fields)
    return (gr.Tabs(selected=view), *digits)


# --- layout ------------------------------------------------------------------------------
LESSON_WHAT = (
    "A **GAN** is a game between two networks. The **generator G** turns random noise z "
    "into samples; the **discriminator D** learns to tell real data from G's samples, and "
    "G learns to fool it. Below, green dots are the data, purple dots are G's samples, "
    "the background is D's opinion (green = \"real\", purple = \"fake\") and the black "
    "arrows show where D's gradient pushes each purple point. Everything trains live on "
    "this server; each of your runs is your own and repeats exactly from its seed.")
LESSON_TRY = [
    "Load **Healthy training** and press Play: watch the purple cloud spread onto the 8 "
    "green modes (the status line counts them) and the distance fall towards the data's own.",
    "Load **Mode collapse** and Play: G's samples pile onto one or two modes. Then load "
    "**Fix: mode collapse** and Play again: compare the modes counted and the distance curves.",
    "Load **D too strong**: with the minimax loss, G learns little and its samples bunch up "
    "on one or two modes, far from the rest of the data. Then load its fix.",
    "Load **Learning rates too high**: the samples swing around and the distance curve keeps "
    "going up and down. Then load its fix: it flattens out, lower.",
    "Pick the speed **3 steps/s (slow motion)** and press Play: one step per frame; see D's "
    "surface move, then G's points follow.",
    "Pick the *custom* target and draw a shape, or type points, set **Max steps** to 3,000 and "
    "press Play: can the GAN learn your drawing? (The default figure-8 is learnt: its distance "
    "falls several-fold.)",
    "In **Digits**, press Play: the same noise grid turns from static into digits. Then walk the latent space.",
]
LESSON_PAPERS = [
    ("Goodfellow et al. 2014: Generative Adversarial Nets", "https://arxiv.org/abs/1406.2661"),
    ("Radford et al. 2016: DCGAN", "https://arxiv.org/abs/1511.06434"),
    ("Arjovsky et al. 2017: Wasserstein GAN", "https://arxiv.org/abs/1701.07875"),
    ("Gulrajani et al. 2017: WGAN-GP", "https://arxiv.org/abs/1704.00028"),
    ("Kahng et al. 2018: GAN Lab", "https://arxiv.org/abs/1809.01587"),
]
LESSON_MD = lesson_markdown(LESSON_WHAT, LESSON_TRY, LESSON_PAPERS)  # the notebook's first cell
NOTEBOOK_TITLE = f"{TITLE}: the 2-D GAN lab"


def _limit(name: str) -> tuple[float, float]:
    low, high, _ = LIMITS[name]
    return low, high


def build_settings() -> dict[str, gr.components.Component]:
    """One input per SETTINGS entry (name → input, in order), starting at the healthy preset."""
    cfg = PRESETS["Healthy training"].config
    inputs = {
        "target": gr.Dropdown(list(TARGETS), value=cfg.target, label="Target distribution", elem_id="gan-target"),
        "loss": gr.Radio(list(LOSSES), value=cfg.loss, label="Loss", elem_id="gan-loss"),
    }
    with gr.Accordion("Networks", open=False):
        with gr.Row():
            inputs["g_layers"] = gr.Slider(*_limit("g_layers"), value=cfg.g_layers, step=1, label="G hidden layers")
            inputs["g_width"] = gr.Slider(*_limit("g_width"), value=cfg.g_width, step=1, label="G width")
        with gr.Row():
            inputs["d_layers"] = gr.Slider(*_limit("d_layers"), value=cfg.d_layers, step=1, label="D hidden layers")
            inputs["d_width"] = gr.Slider(*_limit("d_width"), value=cfg.d_width, step=1, label="D width")
        inputs["activation"] = gr.Radio(list(ACTIVATIONS), value=cfg.activation, label="Activation")
        inputs["latent_dim"] = gr.Slider(*_limit("latent_dim"), value=cfg.latent_dim, step=1, label="Noise size (z)")
    with gr.Accordion("Training", open=False):
        inputs["optimizer"] = gr.Radio(list(OPTIMIZERS), value=cfg.optimizer, label="Optimizer")
        with gr.Row():
            inputs["lr_g"] = gr.Number(cfg.lr_g, label="G learning rate")
            inputs["lr_d"] = gr.Number(cfg.lr_d, label="D learning rate")
        with gr.Row():
            inputs["d_steps"] = gr.Slider(*_limit("d_steps"), value=cfg.d_steps, step=1, label="D steps per G step")
            inputs["batch_size"] = gr.Slider(*_limit("batch_size"), value=cfg.batch_size, step=8, label="Batch size")
        with gr.Row():
            inputs["gp_weight"] = gr.Number(cfg.gp_weight, label="Gradient penalty λ (WGAN-GP)")
            inputs["max_steps"] = gr.Number(cfg.max_steps, label="Max steps", precision=0)
            inputs["seed"] = gr.Number(cfg.seed, label="Seed", precision=0)
    return {name: inputs[name] for name in SETTINGS}




@dataclass(frozen=True)
class Lab2D:
    """The 2-D sub-tab's pieces that the lab's link and its restore need."""

    link: dict[str, gr.components.Component]  # what a lesson link sets, by its name in the link
    reset: dict[str, Any]  # the Reset event's arguments (fn, inputs, outputs)
    reveal: dict[str, Any]  # the modes question's verdict, after a run
    preset: gr.Dropdown
    preset_note: gr.Markdown


def build_2d(demo: gr.Blocks) -> Lab2D:
    with gr.Row():
        with gr.Column(scale=1, min_width=330):
            preset = gr.Dropdown(list(PRESETS), value="Healthy training", label="Lesson preset",
                                 elem_id="gan-preset")
            load = gr.Button("Load preset", elem_id="gan-load-preset")
            preset_md = gr.Markdown(preset_note("Healthy training"))
            named = build_settings()
            settings = list(named.values())
            with gr.Accordion("Custom target: type or draw points", open=False):
                points = gr.Textbox(DEFAULT_POINTS, lines=5, max_lines=12, max_length=60_000,
                                    label="Points, one 'x, y' per line (used when the target is custom)")
                sketch = images.Sketchpad(label="Draw a shape", height=260, type="numpy",
                                      canvas_size=(320, 320))
                use_sketch = gr.Button("Use my drawing")
        with gr.Column(scale=2):
            modes_q = ask(MODES_QUESTION, MODES_ASK, [choice for _, choice in MODE_BANDS])
            with gr.Row():
                play = gr.Button("▶ Play", variant="primary", elem_id="gan-play")
                pause = gr.Button("Pause", elem_id="gan-pause")
                step = gr.Button("Step", elem_id="gan-step")
                stop = gr.Button("Stop", variant="stop", elem_id="gan-stop")
                reset = gr.Button("↺ Reset", elem_id="gan-reset")
            speed = gr.Radio(list(SPEEDS), value=FULL_SPEED, label="Speed", elem_id="gan-speed")
            status = gr.Markdown("Opening…", elem_id="gan-status")
            field = gr.Plot(elem_id="gan-field", show_label=False)
            with gr.Row():
                losses = gr.Plot(elem_id="gan-losses", show_label=False)
                distance = gr.Plot(elem_id="gan-distance", show_label=False)
    # filled on page load: reading the core's source imports torch
    code = code_panel(title=NOTEBOOK_TITLE, lesson=LESSON_MD)
    lab = gr.State(None)
    views = dict(lab=lab, field=field, losses=losses, distance=distance, status=status, code=code,
                 verdict=modes_q.verdict)
    outputs = [views[name] for name in View2D._fields]
    reset_args = dict(fn=on_reset, inputs=[points, *settings], outputs=outputs, **queues.CHEAP)
    reveal_modes = dict(fn=on_reveal_modes, inputs=[modes_q.choice, lab, modes_q.tally],
                        outputs=[modes_q.verdict, modes_q.tally], api_visibility="private", **queues.CHEAP)
    # The step-0 picture is drawn on page load, so app start-up never loads torch.
    demo.load(**reset_args, api_visibility="private")
    play_event = play.click(on_play, [lab, speed, points, *settings], outputs, api_name="gan_play",
                            show_progress="minimal", **queues.TRAINING)
    play_event.then(**reveal_modes)  # a Play that reached max steps: the question's answer
    reset.click(**reset_args, api_name="gan_reset", cancels=[play_event]).then(**reveal_modes)
    step.click(on_step, [lab, points, *settings], outputs, api_name="gan_step", cancels=[play_event],
               **queues.CHEAP).then(**reveal_modes)
    pause.click(on_pause, [lab], [status], cancels=[play_event], api_name="gan_pause", **queues.CHEAP)
    stop.click(on_stop, [lab], [lab, status], cancels=[play_event], api_name="gan_stop", **queues.CHEAP)
    load.click(on_preset, [preset], [*settings, preset_md], api_name="gan_preset", **queues.CHEAP)
    use_sketch.click(on_sketch, [sketch], [points, named["target"]], api_visibility="private", **queues.CHEAP)
    return Lab2D({"preset": preset, **named, "speed": speed, "points": points}, reset_args, reveal_modes,
                 preset, preset_md)


@dataclass(frozen=True)
class LabDigits:
    """The digits sub-tab's pieces that the lab's link and its restore need."""

    link: dict[str, gr.components.Component]
    lab: gr.State
    outputs: list  # in the order of ViewDigits


def build_digits() -> LabDigits:
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            gr.Markdown("An MLP GAN on scikit-learn's 1,797 handwritten 8×8 digits. It opens "
                        "with a checkpoint this repo trained (`python -m playground.train.gan_digits`); "
                        "press **Reset** then **Play** to train your own from random noise.")
            conditional = gr.Checkbox(True, label="Class-conditional (ask for a digit)")
            lr = gr.Number(1e-3, label="Learning rate (G and D)")
            batch = gr.Slider(8, 512, value=64, step=8, label="Batch size")
            max_steps = gr.Number(3000, label="Max steps", precision=0)
            seed = gr.Number(0, label="Seed", precision=0)
            speed = gr.Radio(list(SPEEDS), value=FULL_SPEED, label="Speed", elem_id="gan-digits-speed")
            digits_q = ask(DIGITS_QUESTION, DIGITS_ASK, [choice for _, choice in AGREEMENT_BANDS])
            with gr.Row():
                play = gr.Button("▶ Play", variant="primary", elem_id="gan-digits-play")
                pause = gr.Button("Pause", elem_id="gan-digits-pause")
            with gr.Row():
                reset = gr.Button("↺ Reset", elem_id="gan-digits-reset")
                trained = gr.Button("Show trained checkpoint", elem_id="gan-digits-checkpoint")
        with gr.Column(scale=2):
            status = gr.Markdown(elem_id="gan-digits-status")
            grid = gr.Plot(elem_id="gan-digits-grid", show_label=False)
    with gr.Row():
        losses = gr.Plot(show_label=False)
        quality = gr.Plot(show_label=False)
    gr.Markdown("**Walk the latent space** between two samples of the grid above "
                "(a digit row and a noise column z1-z8 each).")
    with gr.Row():
        digit_a = gr.Dropdown([str(d) for d in range(10)], value="3", label="From digit")
        col_a = gr.Slider(1, DIGITS_GRID_COLS, value=1, step=1, label="From noise column")
        digit_b = gr.Dropdown([str(d) for d in range(10)], value="8", label="To digit")
        col_b = gr.Slider(1, DIGITS_GRID_COLS, value=5, step=1, label="To noise column")
        walk = gr.Button("Interpolate", elem_id="gan-digits-walk")
    strip = gr.Plot(show_label=False, elem_id="gan-digits-strip")
    lab = gr.State(None)
    settings = [conditional, lr, batch, max_steps, seed]
    views = dict(lab=lab, grid=grid, losses=losses, quality=quality, status=status, verdict=digits_q.verdict)
    outputs = [views[name] for name in ViewDigits._fields]
    reveal_digits = dict(fn=on_reveal_digits, inputs=[digits_q.choice, lab, digits_q.tally],
                         outputs=[digits_q.verdict, digits_q.tally], api_visibility="private", **queues.CHEAP)
    trained.click(on_digits_checkpoint, [lab], outputs, api_name="gan_digits_checkpoint", **queues.CHEAP
                  ).then(**reveal_digits)
    play_event = play.click(on_digits_play, [lab, speed, *settings], outputs, api_name="gan_digits_play",
                            show_progress="minimal", **queues.TRAINING)
    play_event.then(**reveal_digits)
    pause.click(on_digits_pause, [lab], [status], cancels=[play_event], api_name="gan_digits_pause",
                **queues.CHEAP)
    reset.click(on_digits_reset, [lab, *settings], outputs, api_name="gan_digits_reset",
                cancels=[play_event], **queues.CHEAP).then(**reveal_digits)
    walk.click(on_interpolate, [lab, digit_a, col_a, digit_b, col_b], [strip],
               api_name="gan_digits_interpolate", **queues.CHEAP)
    link = {"digits_conditional": conditional, "digits_lr": lr, "digits_batch": batch, "digits_steps": max_steps,
            "digits_seed": seed, "digits_speed": speed, "from_digit": digit_a, "from_z": col_a,
            "to_digit": digit_b, "to_z": col_b}
    return LabDigits(link, lab, outputs)


def build(demo: gr.Blocks) -> LabSetup:
    """Lay out the tab inside ``demo`` (the app being built), wire its events, and return
    what a lesson link can set in it."""
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        lesson(LESSON_WHAT, LESSON_TRY, LESSON_PAPERS)
        view = gr.Radio(list(SUB_TABS), value=None, visible=False)  # the sub-tab, for lesson links
        with gr.Tabs() as subtabs:
            with gr.Tab(SUB_TABS["gan-2d"], id="gan-2d") as points_tab:
                points = build_2d(demo)
            with gr.Tab(SUB_TABS["gan-digits"], id="gan-digits") as digits_tab:
                digits = build_digits()
        setup = lab_setup(TAB_ID, {"view": view, **points.link, **digits.link}, internal=("view",))
    digits_tab.select(on_digits_show, [digits.lab], digits.outputs, api_visibility="private", **queues.CHEAP)
    # the sub-tab the teacher is on goes into "Copy link" (in the browser: no request)
    for sub_tab, sub_id in ((points_tab, "gan-2d"), (digits_tab, "gan-digits")):
        sub_tab.select(None, None, view, js=f"() => {sub_id!r}", api_visibility="private", **queues.CHEAP)
    # A lesson link restored the settings: open its sub-tab, then draw step 0 as on the first view
    # (nothing trains until the student presses Play), with the preset's note.
    restore = setup.restored.change(on_open_view, [view, digits.lab], [subtabs, *digits.outputs],
                                    api_visibility="private", **queues.CHEAP)
    restore.then(**points.reset, api_visibility="private").then(**points.reveal)
    restore.then(preset_note, points.preset, points.preset_note, api_visibility="private", **queues.CHEAP)
    demo.unload(on_unload)
    return setup
