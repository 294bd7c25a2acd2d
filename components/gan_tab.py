"""GANs tab (issue 9): train a GAN live on 2-D points, then on 8×8 digits.

Runs live in per-session ``gr.State``; Play is a generator that draws about 12 frames a
second while the run trains in a worker process (``playground.gan.background``), bounded in
steps and seconds; Pause / Stop cancel it and halt the trainer; the queue lets only a few
trainings run at once (``concurrency_id``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import gradio as gr
import numpy as np

from components import images
from components.code_panel import code_panel
from components.errors import user_errors
from components.gan_figures import (digits_curves_figure, digits_grid_figure, distance_figure,
                                    field_figure, interpolation_figure, loss_figure)
from components.lazy import lazy_module
from components.lesson import lesson
from playground.gan.config import (ACTIVATIONS, DIGITS_GRID_COLS, LIMITS, LOSSES, OPTIMIZERS, PRESETS,
                                   TARGETS, GANConfig, make_config)
from playground.service.model_service import get_service

if TYPE_CHECKING:  # annotations only; the modules themselves load lazily below
    from playground.gan.model import GANRun, GANSnapshot
    from playground.gan.digits import DigitsRun, DigitsSnapshot

background = lazy_module("playground.gan.background")
gan = lazy_module("playground.gan.model")  # torch loads on first use, not at app start
gan_data = lazy_module("playground.gan.data")
gan_digits = lazy_module("playground.gan.digits")

TAB_ID = "gan"
TITLE = "GANs"
CHECKPOINT_ID = "neural-playground/gan-digits"
FRAME_S = 0.08  # one frame every 80 ms: about 12 frames a second
SLOW_FRAME_S = 0.35  # slow motion: one training step per frame, slow enough to follow
CURVES_EVERY = 4  # redraw the loss and distance curves every 4th frame (about 3 a second)
MAX_PLAY_S = 120.0  # one Play streams at most this long; press Play again to go on
TRAINING_QUEUE = "gan-training"  # both GAN trainings share this queue slot
MAX_TRAININGS = 2  # at most this many GAN trainings at once; others wait in the queue
WORKER_PRELOAD = ("playground.gan.digits",)  # what a training worker imports as it starts
# The settings a student sets, in the order the handlers receive them.
SETTINGS = ["target", "loss", "g_layers", "g_width", "d_layers", "d_width", "activation",
            "optimizer", "lr_g", "lr_d", "d_steps", "batch_size", "latent_dim", "gp_weight",
            "max_steps", "seed"]
DEFAULT_POINTS = "\n".join(f"{np.cos(t):.2f}, {np.sin(2 * t) / 2:.2f}"
                           for t in np.linspace(0, 2 * np.pi, 24, endpoint=False))  # a figure 8


@dataclass
class Lab2D:
    """One student's 2-D run (mutable: training advances it in place)."""

    run: GANRun
    notes: list[str]
    stopped: bool = False


# --- 2-D handlers -------------------------------------------------------------------------
def settings_config(settings: tuple) -> tuple[GANConfig, list[str]]:
    if len(settings) != len(SETTINGS):
        raise ValueError(f"Expected {len(SETTINGS)} settings, got {len(settings)}.")
    return make_config(**dict(zip(SETTINGS, settings)))


def new_lab(points_text: str, settings: tuple) -> Lab2D:
    cfg, notes = settings_config(settings)
    points = gan_data.parse_points(points_text) if cfg.target == "custom" else None
    return Lab2D(gan.GANRun(cfg, points), notes)


def status_text(lab: Lab2D, snap: GANSnapshot, state: str, speed: str = "") -> str:
    cfg = lab.run.cfg
    lines = [f"**{state}** · step {snap.step:,} / {cfg.max_steps:,} · seed {cfg.seed} · "
             f"{cfg.loss} loss · target: {cfg.target}" + (f" · {speed}" if speed else "")]
    if len(snap.distance):
        lines.append(f"Distance to the data: **{snap.distance[-1]:.3f}** (two samples of the "
                     f"data itself differ by {snap.noise_floor:.3f}).")
    if snap.diverged_at is not None:
        lines.append(f"⚠️ **Diverged at step {snap.diverged_at:,}**: the losses became NaN or "
                     "infinite, so nothing is drawn. Lower the learning rates and press Reset.")
    lines += [f"ℹ️ {note}" for note in lab.notes]
    return "\n\n".join(lines)


def frame(lab: Lab2D, state: str, speed: str = "", curves: bool = True,
          snap: GANSnapshot | None = None) -> tuple:
    """(field, losses, distance, status) of ``snap`` (default: the run now). ``curves=False``
    leaves the two curve plots as they are (gr.skip): the browser redraws fewer plots, the
    curves still move 3×/s."""
    snap = snap or lab.run.snapshot()
    status = status_text(lab, snap, state, speed)
    if not curves:
        return field_figure(snap), gr.skip(), gr.skip(), status
    return field_figure(snap), loss_figure(snap.d_loss, snap.g_loss, snap.loss), distance_figure(snap), status


def code_for(cfg: GANConfig) -> str:
    """Plain PyTorch that trains the same GAN (autograd instead of the hand-written backward)."""
    act = {"relu": "nn.ReLU()", "leaky_relu": "nn.LeakyReLU(0.2)", "tanh": "nn.Tanh()"}[cfg.activation]
    g_loss = {"standard": "-F.softplus(D(fake)).mean()  # minimise log(1 - D(G(z)))",
              "non-saturating": "F.softplus(-D(fake)).mean()  # minimise -log D(G(z))",
              "wgan-gp": "-D(fake).mean()"}[cfg.loss]
    d_loss = ("D(fake).mean() - D(real).mean() + gp_weight * gradient_penalty(D, real, fake)"
              if cfg.loss == "wgan-gp" else "F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()")
    opt = (f"torch.optim.Adam({{}}, lr={{}}, betas={(0.5, 0.9) if cfg.loss == 'wgan-gp' else (0.5, 0.999)})"
           if cfg.optimizer == "adam" else "torch.optim.SGD({}, lr={})")
    return f'''import torch, torch.nn as nn, torch.nn.functional as F

torch.manual_seed({cfg.seed})

def mlp(n_in, width, layers, n_out):
    sizes = [n_in] + [width] * layers
    parts = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), {act})]
    return nn.Sequential(*parts, nn.Linear(sizes[-1], n_out))

G = mlp({cfg.latent_dim}, {cfg.g_width}, {cfg.g_layers}, 2)   # noise z -> point
D = mlp(2, {cfg.d_width}, {cfg.d_layers}, 1)   # point -> score (logit)
opt_g = {opt.format("G.parameters()", cfg.lr_g)}
opt_d = {opt.format("D.parameters()", cfg.lr_d)}
gp_weight = {cfg.gp_weight}

def sample_ring(n):  # 8 Gaussians on a circle of radius 2 (target: {cfg.target})
    angle = torch.randint(0, 8, (n,)) * (2 * torch.pi / 8)
    return 2 * torch.stack([angle.cos(), angle.sin()], 1) + 0.05 * torch.randn(n, 2)

def gradient_penalty(D, real, fake):  # Gulrajani et al. 2017
    t = torch.rand(len(real), 1)
    x = (t * real + (1 - t) * fake).requires_grad_()
    g, = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.norm(dim=1) - 1) ** 2).mean()

for step in range({cfg.max_steps}):
    for _ in range({cfg.d_steps}):  # D steps per G step
        real = sample_ring({cfg.batch_size})
        fake = G(torch.randn({cfg.batch_size}, {cfg.latent_dim}))
        d_loss = {d_loss.replace("(fake)", "(fake.detach())")}
        opt_d.zero_grad(); d_loss.backward(); opt_d.step()
    g_loss = {g_loss}
    opt_g.zero_grad(); g_loss.backward(); opt_g.step()
'''


@user_errors
def on_reset(points_text: str, *settings) -> tuple:
    """A fresh run from the current settings and seed, drawn at step 0."""
    lab = new_lab(points_text, settings)
    return (lab, *frame(lab, "Ready: press Play, or Step for one step"), code_for(lab.run.cfg))


def _lab_for_play(lab: Lab2D | None, points_text: str, settings: tuple) -> Lab2D:
    """Continue the paused run if the settings are unchanged, else start a new one."""
    cfg, _ = settings_config(settings)
    if lab is not None:
        background.halt(lab.run)  # a Play still training it (its stream was cancelled)
    if lab is None or lab.stopped or lab.run.done or lab.run.cfg != cfg:
        lab = new_lab(points_text, settings)
        lab.notes.append("Started a new run with these settings (same seed → same run).")
    return lab


@user_errors
def on_play(lab: Lab2D | None, slow_motion: bool, points_text: str, *settings):
    """Train and stream frames: the run trains in a worker process while this one draws a
    frame every FRAME_S (slow motion: one step per frame, here). Bounded by max_steps and
    MAX_PLAY_S."""
    lab = _lab_for_play(lab, points_text, settings)
    code = code_for(lab.run.cfg)
    if slow_motion:
        frames = _slow_motion_frames(lab)
    else:
        frames = _live_frames(lab.run, lambda snap, speed, curves: frame(lab, "Training", speed, curves, snap))
    # The state and the code panel change only with the run: send them once, not every frame.
    for i, views in enumerate(frames):
        yield (lab, *views, code) if i == 0 else (gr.skip(), *views, gr.skip())
    state = "Finished" if lab.run.done else f"Paused after {MAX_PLAY_S:.0f} s (press Play to go on)"
    yield (lab, *frame(lab, state), code)


def _slow_motion_frames(lab: Lab2D) -> Iterator[tuple]:
    started = time.monotonic()
    while not lab.run.done and time.monotonic() - started < MAX_PLAY_S:
        t0 = time.monotonic()
        lab.run.train(1)
        yield frame(lab, "Training", "slow motion")
        time.sleep(max(0.0, SLOW_FRAME_S - (time.monotonic() - t0)))


def _live_frames(run: GANRun | DigitsRun, draw: Callable[[Any, str, bool], tuple]) -> Iterator[tuple]:
    """Frames of ``run`` training in the background: ``draw(snapshot, speed, curves)`` every
    FRAME_S until the run is done or MAX_PLAY_S is up. Shared by the 2-D and digits GANs."""
    with background.BackgroundTraining(run, max_s=MAX_PLAY_S, preload=WORKER_PRELOAD) as trainer:
        started, first_step, frames = time.monotonic(), None, 0
        while not trainer.finished:
            t0 = time.monotonic()
            snap = trainer.snapshot()
            first_step = snap.step if first_step is None else first_step
            rate = (snap.step - first_step) / max(1e-6, t0 - started)
            frames += 1
            yield draw(snap, f"{rate:,.0f} steps/s" if frames > 1 else "", frames % CURVES_EVERY == 1)
            time.sleep(max(0.0, FRAME_S - (time.monotonic() - t0)))


@user_errors
def on_step(lab: Lab2D | None, points_text: str, *settings) -> tuple:
    """Exactly one training step (D steps then one G step), then draw."""
    lab = _lab_for_play(lab, points_text, settings)
    lab.run.train(1)
    return (lab, *frame(lab, "Stepped"), code_for(lab.run.cfg))


@user_errors
def on_pause(lab: Lab2D | None) -> str:
    if lab is None:
        return "Nothing to pause: press Play."
    background.halt(lab.run)
    return status_text(lab, lab.run.snapshot(), "Paused: Play continues, Step advances one step")


@user_errors
def on_stop(lab: Lab2D | None) -> tuple:
    if lab is None:
        return None, "Nothing to stop."
    background.halt(lab.run)
    lab.stopped = True
    return lab, status_text(lab, lab.run.snapshot(), "Stopped: Play or Reset starts a new run with the same seed")


@user_errors
def on_preset(name: str) -> tuple:
    """Load a lesson preset: every setting, plus what to watch for."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset '{name}'. Choose one of: {', '.join(PRESETS)}.")
    preset = PRESETS[name]
    values = [getattr(preset.config, field) for field in SETTINGS]
    return (*values, f"**{name}.** {preset.lesson} Press **Play**.")


@user_errors
def on_sketch(sketch: dict | None) -> tuple[str, str]:
    """Turn the drawing into typed points (so the student sees them) and pick "custom"."""
    image = images.sketch_array(sketch)  # size-checked (before decoding, by images.Sketchpad)
    if image is None:
        raise ValueError("The drawing is empty: draw a shape on the canvas first.")
    points = gan_data.points_from_sketch(image)
    return "\n".join(f"{x:.2f}, {y:.2f}" for x, y in points), "custom"


# --- digits handlers ----------------------------------------------------------------------
def digits_frame(run: DigitsRun, state: str, curves: bool = True, snap: DigitsSnapshot | None = None,
                 speed: str = "") -> tuple:
    """(sample grid, losses, quality, status) of ``snap`` (default: the run now);
    ``curves=False`` skips the two curve plots."""
    snap = snap or run.snapshot()
    cfg = run.cfg
    lines = [f"**{state}** · {snap.source} · step {snap.step:,} / {snap.max_steps:,} · seed {cfg.seed}"
             f" · {'conditional' if cfg.conditional else 'unconditional'}" + (f" · {speed}" if speed else "")]
    if len(snap.nn_distance):
        lines.append(f"Nearest-real distance **{snap.nn_distance[-1]:.3f}** (real digits: "
                     f"{snap.data_nn_distance:.3f})" + (
                         f" · the classifier reads **{snap.agreement[-1]:.0%}** of the samples "
                         "as the digit asked for" if cfg.conditional else ""))
    if snap.diverged_at is not None:
        lines.append(f"⚠️ Diverged at step {snap.diverged_at:,} (NaN losses): press Reset.")
    if not curves:
        return digits_grid_figure(snap), gr.skip(), gr.skip(), "\n\n".join(lines)
    return (digits_grid_figure(snap), loss_figure(snap.d_loss, snap.g_loss, cfg.loss),
            digits_curves_figure(snap), "\n\n".join(lines))


def load_checkpoint() -> DigitsRun:
    tensors, config = get_service().load_state(CHECKPOINT_ID)
    return gan_digits.DigitsRun.from_state(tensors, config, f"trained checkpoint {CHECKPOINT_ID}")


@user_errors
def on_digits_checkpoint() -> tuple:
    """Show the repo's trained digits GAN at once."""
    run = load_checkpoint()
    return (run, *digits_frame(run, "Trained checkpoint loaded"))


@user_errors
def on_digits_show(run: DigitsRun | None) -> tuple:
    """Opening the digits tab: show the trained checkpoint unless a run is already there."""
    if run is not None:
        return (run, *digits_frame(run, "Your run", snap=background.call(run, "snapshot")))
    return on_digits_checkpoint()


def digits_settings(conditional: bool, lr: float, batch_size: float, max_steps: float,
                    seed: float):
    return gan_digits.make_digits_config(conditional=conditional, lr_g=lr, lr_d=lr, batch_size=batch_size,
                              max_steps=max_steps, seed=seed)


@user_errors
def on_digits_reset(conditional: bool, lr: float, batch_size: float, max_steps: float,
                    seed: float) -> tuple:
    cfg, notes = digits_settings(conditional, lr, batch_size, max_steps, seed)
    run = gan_digits.DigitsRun(cfg, "your run (random init: untrained)")
    grid, losses, quality, status = digits_frame(run, "Ready: press Play")
    return (run, grid, losses, quality, "\n\n".join([status] + [f"ℹ️ {n}" for n in notes]))


@user_errors
def on_digits_play(run: DigitsRun | None, conditional: bool, lr: float, batch_size: float,
                   max_steps: float, seed: float):
    """Train the digits GAN live: the same fixed noise grid turns into digits."""
    cfg, notes = digits_settings(conditional, lr, batch_size, max_steps, seed)
    if run is not None:
        background.halt(run)  # a Play still training it (its stream was cancelled)
    if run is None or run.done or run.source.startswith("trained"):
        run = gan_digits.DigitsRun(cfg, "your run")
    run.source = "your run"
    frames = _live_frames(run, lambda snap, speed, curves: digits_frame(run, "Training", curves, snap, speed))
    for i, views in enumerate(frames):
        yield (run if i == 0 else gr.skip(), *views)
    yield (run, *digits_frame(run, "Finished" if run.done else "Paused (time limit): press Play"))


@user_errors
def on_digits_pause(run: DigitsRun | None) -> None:
    if run is not None:
        background.halt(run)


@user_errors
def on_interpolate(run: DigitsRun | None, digit_a: str, col_a: float, digit_b: str,
                   col_b: float):
    if run is None:
        run = load_checkpoint()
    a, b = int(digit_a), int(digit_b)
    # the generator as it is now, also while Play trains it in a worker
    images = background.call(run, "interpolate", int(col_a) - 1, int(col_b) - 1, a, b)
    start = f"digit {a}, z{int(col_a)}" if run.n_classes else f"z{int(col_a)}"
    end = f"digit {b}, z{int(col_b)}" if run.n_classes else f"z{int(col_b)}"
    return interpolation_figure(images, start, end)


# --- layout ------------------------------------------------------------------------------
LESSON_WHAT = (
    "A **GAN** is a game between two networks. The **generator G** turns random noise z "
    "into samples; the **discriminator D** learns to tell real data from G's samples, and "
    "G learns to fool it. Below, green dots are the data, purple dots are G's samples, "
    "the background is D's opinion (green = \"real\", purple = \"fake\") and the black "
    "arrows show where D's gradient pushes each purple point. Everything trains live on "
    "this server; each of your runs is your own and repeats exactly from its seed.")
LESSON_TRY = [
    "Load **Healthy training** and press Play: watch the purple cloud find all 8 modes.",
    "Load **Mode collapse**, Play, then load **Fix: mode collapse** and Play again: compare the distance curves.",
    "Load **D too strong**: the arrows shrink to dots (vanishing gradient). Then load its fix.",
    "Load **Learning rates too high**: the losses jump around. Then load its fix.",
    "Tick **slow motion** and press Play: one step per frame, see D's surface move, then G follow.",
    "Pick the *custom* target and draw a shape, or type points: can the GAN learn your drawing?",
    "In **Digits**, press Play: the same noise grid turns from static into digits. Then walk the latent space.",
]
LESSON_PAPERS = [
    ("Goodfellow et al. 2014: Generative Adversarial Nets", "https://arxiv.org/abs/1406.2661"),
    ("Radford et al. 2016: DCGAN", "https://arxiv.org/abs/1511.06434"),
    ("Arjovsky et al. 2017: Wasserstein GAN", "https://arxiv.org/abs/1701.07875"),
    ("Gulrajani et al. 2017: WGAN-GP", "https://arxiv.org/abs/1704.00028"),
    ("Kahng et al. 2018: GAN Lab", "https://arxiv.org/abs/1809.01587"),
]


def _limit(name: str) -> tuple[float, float]:
    low, high, _ = LIMITS[name]
    return low, high


def build_settings() -> list[gr.components.Component]:
    """One input per SETTINGS entry, in order, starting at the healthy preset."""
    cfg = PRESETS["Healthy training"].config
    inputs = {
        "target": gr.Dropdown(list(TARGETS), value=cfg.target, label="Target distribution"),
        "loss": gr.Radio(list(LOSSES), value=cfg.loss, label="Loss"),
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
    return [inputs[name] for name in SETTINGS]


def build_2d(demo: gr.Blocks) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=330):
            preset = gr.Dropdown(list(PRESETS), value="Healthy training", label="Lesson preset")
            load = gr.Button("Load preset", elem_id="gan-load-preset")
            preset_note = gr.Markdown(f"**Healthy training.** {PRESETS['Healthy training'].lesson}")
            settings = build_settings()
            with gr.Accordion("Custom target: type or draw points", open=False):
                points = gr.Textbox(DEFAULT_POINTS, lines=5, max_lines=12, max_length=60_000,
                                    label="Points, one 'x, y' per line (used when the target is custom)")
                sketch = images.Sketchpad(label="Draw a shape", height=260, type="numpy",
                                      canvas_size=(320, 320))
                use_sketch = gr.Button("Use my drawing")
        with gr.Column(scale=2):
            with gr.Row():
                play = gr.Button("▶ Play", variant="primary", elem_id="gan-play")
                pause = gr.Button("Pause", elem_id="gan-pause")
                step = gr.Button("Step", elem_id="gan-step")
                stop = gr.Button("Stop", variant="stop", elem_id="gan-stop")
                reset = gr.Button("↺ Reset", elem_id="gan-reset")
                slow = gr.Checkbox(False, label="Slow motion (1 step per frame)", elem_id="gan-slow")
            status = gr.Markdown("Opening…", elem_id="gan-status")
            field = gr.Plot(elem_id="gan-field", show_label=False)
            with gr.Row():
                losses = gr.Plot(elem_id="gan-losses", show_label=False)
                distance = gr.Plot(elem_id="gan-distance", show_label=False)
    code = code_panel(code_for(PRESETS["Healthy training"].config))
    lab = gr.State(None)
    views = [field, losses, distance, status]
    # The step-0 picture is drawn on page load, so app start-up never loads torch.
    demo.load(on_reset, [points, *settings], [lab, *views, code], api_visibility="private")
    play_event = play.click(on_play, [lab, slow, points, *settings], [lab, *views, code],
                            api_name="gan_play", concurrency_limit=MAX_TRAININGS,
                            concurrency_id=TRAINING_QUEUE, show_progress="minimal")
    reset.click(on_reset, [points, *settings], [lab, *views, code], api_name="gan_reset",
                cancels=[play_event])
    step.click(on_step, [lab, points, *settings], [lab, *views, code], api_name="gan_step",
               cancels=[play_event])
    pause.click(on_pause, [lab], [status], cancels=[play_event], api_visibility="private")
    stop.click(on_stop, [lab], [lab, status], cancels=[play_event], api_name="gan_stop")
    load.click(on_preset, [preset], [*settings, preset_note], api_name="gan_preset")
    use_sketch.click(on_sketch, [sketch], [points, settings[SETTINGS.index("target")]],
                     api_visibility="private")


def build_digits() -> gr.State:
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
            with gr.Row():
                play = gr.Button("▶ Play", variant="primary", elem_id="gan-digits-play")
                pause = gr.Button("Pause")
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
    run = gr.State(None)
    settings = [conditional, lr, batch, max_steps, seed]
    views = [grid, losses, quality, status]
    trained.click(on_digits_checkpoint, None, [run, *views], api_name="gan_digits_checkpoint")
    play_event = play.click(on_digits_play, [run, *settings], [run, *views],
                            api_name="gan_digits_play", concurrency_limit=MAX_TRAININGS,
                            concurrency_id=TRAINING_QUEUE, show_progress="minimal")
    pause.click(on_digits_pause, [run], None, cancels=[play_event], api_visibility="private")
    reset.click(on_digits_reset, settings, [run, *views], api_name="gan_digits_reset", cancels=[play_event])
    walk.click(on_interpolate, [run, digit_a, col_a, digit_b, col_b], [strip],
               api_name="gan_digits_interpolate")
    return run, views


def on_open() -> None:
    """Start a training worker while the student reads: a Python with torch takes seconds."""
    background.warm_up(WORKER_PRELOAD)


def build(demo: gr.Blocks) -> None:
    """Lay out the tab inside ``demo`` (the app being built) and wire its events."""
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}") as tab:
        lesson(LESSON_WHAT, LESSON_TRY, LESSON_PAPERS)
        with gr.Tabs():
            with gr.Tab("2-D GAN lab", id="gan-2d"):
                build_2d(demo)
            with gr.Tab("Digits (8×8 images)", id="gan-digits") as digits_tab:
                run, views = build_digits()
    digits_tab.select(on_digits_show, [run], [run, *views], api_visibility="private")
    tab.select(on_open, None, None, api_visibility="private", queue=False)
