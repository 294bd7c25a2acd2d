"""Pipelines lab (issue 7): Hugging Face pipelines on real models, offline and online.
Issue 18: a lesson link restores the task, model, input and generation settings; a question
asks the student to predict the sentiment model's answer before the run; the code panel
downloads as a notebook."""

from __future__ import annotations

import html
from typing import Any, NamedTuple

import gradio as gr
import numpy as np

from components import images, inputs, queues
from components import pipelines_figures as pf
from components.code_panel import code_panel
from components.errors import user_errors
from components.figures import empty, placeholder
from components.lesson import lesson, lesson_markdown
from components.links import LabSetup, lab_setup
from components.predict import Outcome, Tally, ask, reveal
from playground.hf import pipelines as pl

TAB_ID = "pipelines"
TITLE = "Pipelines"

SOURCES = {"assets": "trained by this repo (assets/models, offline)",
           "package": "pretrained weights from a pip package (offline)",
           "session": "the model you fine-tuned in this session",
           "hub": "the Hugging Face hub (online)"}
MAX_SUMMARY_LINES = 8
# Measured on the shipped model (tests/test_pipelines_tab.py::test_lesson_pipelines_sentiment_*).
SENTIMENT_LIMITS = (
    "**What this sentiment model gets wrong** (measured): it learned words more than logic. "
    "\"not bad at all\" comes out positive, but \"I was not disappointed.\" comes out negative "
    "(0.76): *disappointed* outweighs *not*. Emoji are invisible to it: MiniLM's tokenizer turns "
    "every emoji into the same `[UNK]` token, so 😀 and 🤮 get exactly the same score.")
INPUT_LABELS = {"text": "Input (one text per line)", "prompt": "Prompt", "image": ""}
NO_PICTURE_IN_LINKS = "A lesson link cannot carry a picture: each student draws or uploads their own."


# --- model list --------------------------------------------------------------------------------
def model_choices(task: str, session: str | None = None) -> list[tuple[str, str]]:
    """(label, id) for the dropdown: models usable now (incl. this session's fine-tuned ones),
    then the hub default, marked as online only."""
    spec = pl.task_spec(task)
    ids = pl.model_ids(spec, session)
    choices = [(model_id, model_id) for model_id in ids]
    if spec.hub_default not in ids:
        choices.append((f"{spec.hub_default} (hub, online only)", spec.hub_default))
    return choices


def default_model(task: str, session: str | None = None) -> str:
    spec = pl.task_spec(task)
    ids = [value for _, value in model_choices(task, session)]
    return spec.offline_model if spec.offline_model in ids else ids[0]


def _session(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None) if request is not None else None


def task_markdown(task: str) -> str:
    spec = pl.task_spec(task)
    offline = (f"Offline model: `{spec.offline_model}`." if spec.offline_model else
               f"**No offline model for this task** — it needs the Hugging Face hub "
               f"(default there: `{spec.hub_default}`).")
    how = {"text": "One input per line (up to 32 lines).", "prompt": "One prompt.",
           "image": "Draw a digit or upload an image."}[spec.input_kind]
    note = f"\n\n{SENTIMENT_LIMITS}" if spec.offline_model == pl.SENTIMENT_MODEL else ""
    if spec.input_kind == "image":
        note = f"\n\n{NO_PICTURE_IN_LINKS}"
    return f"**{spec.name}** — {spec.description} {offline} {how}{note}"


@user_errors
def on_models(task: str, current: str, request: gr.Request = None) -> gr.Dropdown:
    """Refresh the model list (e.g. after fine-tuning a model in another tab); keep the choice."""
    session = _session(request)
    current = pl.check_model_id(current)
    return gr.Dropdown(choices=model_choices(task, session), value=current or default_model(task, session))


class TaskView(NamedTuple):
    """What switching task changes (the outputs of ``on_task``, in this order)."""
    model: Any
    about: Any
    text: Any
    labels_group: Any
    sampling_group: Any
    image_group: Any
    sentiment_question: Any  # the prediction box: only the sentiment task asks it


def task_view(task: str, model: Any, text: Any) -> TaskView:
    """The task's description and the controls it shows, with the given model and text updates."""
    spec = pl.task_spec(task)
    return TaskView(model, task_markdown(task), text, gr.Group(visible="labels" in spec.controls),
                    gr.Group(visible="sampling" in spec.controls), gr.Group(visible=spec.input_kind == "image"),
                    gr.Column(visible=task == SENTIMENT_TASK))


@user_errors
def on_task(task: str, request: gr.Request = None) -> TaskView:
    """Switch task: model list, description, example input, which controls show."""
    spec = pl.task_spec(task)
    session = _session(request)
    return task_view(task, gr.Dropdown(choices=model_choices(task, session), value=default_model(task, session)),
                     gr.Textbox(value=spec.example, visible=spec.input_kind != "image",
                                label=INPUT_LABELS[spec.input_kind]))


@user_errors
def on_link_task(task: str, model_id: str, request: gr.Request = None) -> TaskView:
    """A lesson link set the task, model and input: show that task's controls and model list,
    keeping the link's model and text (and leaving controls the link hides hidden)."""
    spec = pl.task_spec(task)
    session = _session(request)
    model_id = pl.check_model_id(model_id) or default_model(task, session)
    text = gr.update(label=INPUT_LABELS[spec.input_kind], **({"visible": False} if spec.input_kind == "image" else {}))
    return task_view(task, gr.Dropdown(choices=model_choices(task, session), value=model_id), text)


def link_models() -> list[str]:
    """Every model a lesson link may name: each task's models here and its hub default (never
    a free id, and never a session's fine-tuned model, which no other session has)."""
    ids = [m for spec in pl.TASKS.values() for m in (*pl.model_ids(spec), spec.hub_default)]
    return list(dict.fromkeys(ids))  # each once, in task order


@user_errors
def on_card(model_id: str, request: gr.Request = None) -> str:
    return pl.model_card(pl.check_model_id(model_id), _session(request))


# --- run -----------------------------------------------------------------------------------------
def run_line(run: pl.RunInfo) -> str:
    lines = [f"**Model** `{run.model_id}` — {SOURCES.get(run.source, run.source)} · "
             f"call **{run.seconds * 1000:.0f} ms**"]
    lines += [f"⚠️ {note}" for note in run.notes]
    return "\n\n".join(lines)


def scores_summary(result: pl.ScoresResult) -> str:
    if result.run.task == "summarization":
        return f"**Summary:** {result.rows[0].text}"
    lines = [f"{k}. *{html.escape(pf.short(r.text, 60))}* → **{r.labels[0]}** "
             f"({result.score_name} {r.scores[0]:.2f})"
             for k, r in enumerate(result.rows[:MAX_SUMMARY_LINES], start=1)]
    if len(result.rows) > MAX_SUMMARY_LINES:
        lines.append(f"… and {len(result.rows) - MAX_SUMMARY_LINES} more lines in the plot.")
    return "\n".join(lines)


def similarity_summary(result: pl.SimilarityResult) -> str:
    n = len(result.texts)
    if n < 2:
        return f"One line → one vector of {result.dim} numbers. Add more lines to compare them."
    off = result.similarity + np.diag(np.full(n, -np.inf))  # ignore each line vs itself
    i, j = np.unravel_index(np.argmax(off), off.shape)
    low = result.similarity + np.diag(np.full(n, np.inf))
    a, b = np.unravel_index(np.argmin(low), low.shape)
    return (f"Each line → one vector of **{result.dim}** numbers (the mean of its "
            f"{min(result.n_tokens)}–{max(result.n_tokens)} token vectors). "
            f"Most similar: lines {i + 1} & {j + 1} ({result.similarity[i, j]:.2f}); "
            f"least: lines {a + 1} & {b + 1} ({result.similarity[a, b]:.2f}).")


class RunView(NamedTuple):
    """What a run shows (the outputs of ``on_run``, in this order)."""
    summary: Any
    main_plot: Any
    detail_html: Any
    detail_plot: Any
    code: Any
    outcome: Outcome | None = None  # the run's answer to the sentiment question (a gr.State)


def render(result: object) -> RunView:
    """The summary, figures and code of any result: one view per result type."""
    hidden = gr.update(visible=False, value=None)
    code = result.run.code
    if isinstance(result, pl.SimilarityResult):
        fig = pf.similarity_figure(result.texts, result.similarity, result.run.model_id)
        return RunView(similarity_summary(result), fig, hidden, hidden, code)
    if isinstance(result, pl.ScoresResult):
        if result.run.task == "summarization":
            return RunView(scores_summary(result), empty("The summary is above."), hidden, hidden, code)
        return RunView(scores_summary(result), pf.scores_figure(result), hidden, hidden, code)
    if isinstance(result, pl.EntitiesResult):
        count = sum(len(e) for e in result.entities)
        return RunView(f"{count} entities found.", empty("Entities are highlighted below."),
                       gr.update(visible=True, value=pf.entities_html(result)), hidden, code)
    if isinstance(result, pl.GenerationResult):
        mean_p = float(np.mean(result.probs)) if result.probs else 0.0
        summary = (f"Generated **{len(result.tokens)} tokens** (mean probability {mean_p:.2f}). "
                   "Same seed + same settings = same text.")
        return RunView(summary, pf.generation_figure(result),
                       gr.update(visible=True, value=pf.generation_html(result)), hidden, code)
    if isinstance(result, pl.ImageResult):
        best = result.scored
        summary = f"Prediction: **{best.labels[0]}** (probability {best.scores[0]:.2f})."
        detail = (gr.update(visible=True, value=pf.attention_figure(result)) if result.attention is not None
                  else hidden)
        return RunView(summary, pf.image_figure(result), hidden, detail, code)
    raise TypeError(f"unknown result {type(result).__name__}")


def picture(sketch: object, upload: object) -> object:
    """The upload if there is one, else the drawing: decoded, its size checked first."""
    if upload:
        return images.open_upload(upload)
    return images.sketch_array(sketch)


@user_errors
def on_run(task: str, model_id: str, text: str, labels: str, template: str, max_new_tokens: float,
           temperature: float, top_k: float, top_p: float, seed: float,
           sketch: object, upload: object, request: gr.Request = None) -> RunView:
    """Run the chosen pipeline: summary, main plot, html, detail plot, code."""
    spec = pl.task_spec(task)
    given = pl.TaskInput(
        text=text, labels=labels, template=template,
        sampling=dict(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                      seed=seed),
        image=picture(sketch, upload) if spec.input_kind == "image" else None)
    result = pl.run_task(task, given, model_id, _session(request))
    view = render(result)
    outcome = sentiment_outcome(result) if task == SENTIMENT_TASK else None
    return view._replace(summary=f"{view.summary}\n\n{run_line(result.run)}", outcome=outcome)


def on_link_summary(task: str) -> str:
    """What a lesson link's student reads before the first run: the lab waits for their
    prediction (a run first would give the answer away), and an image task for their drawing."""
    if pl.task_spec(task).input_kind == "image":
        return f"Draw a digit, then press **Run the pipeline**. {NO_PICTURE_IN_LINKS}"
    ask_first = "answer the question on the left, then " if task == SENTIMENT_TASK else ""
    return f"Set up by your teacher's link: {ask_first}press **Run the pipeline**."


# --- predict, then reveal ----------------------------------------------------------------------
SENTIMENT_TASK = "sentiment-analysis"
SENTIMENT_QUESTION = "pipelines-sentiment"
SENTIMENT_ASK = ("Will the sentiment model read the first line as positive? (Put “I was not "
                 "disappointed.” first and guess.) Choose, then run.")
SENTIMENT_CHOICES = {"POSITIVE": "Positive", "NEGATIVE": "Negative"}  # the model's label → choice


def sentiment_outcome(result: pl.ScoresResult) -> Outcome | None:
    """The run's answer for its first line: the label the model scores highest (None for a
    model whose labels are not positive / negative, e.g. one fine-tuned on spam)."""
    first = result.rows[0]
    scores = {label.upper(): score for label, score in zip(first.labels, first.scores)}
    if set(scores) != set(SENTIMENT_CHOICES):
        return None
    best = max(scores, key=scores.get)
    return Outcome(SENTIMENT_CHOICES[best], (
        f"For “{html.escape(pf.short(first.text, 80))}” the model gives P(positive) = "
        f"**{scores['POSITIVE']:.2f}** and P(negative) = **{scores['NEGATIVE']:.2f}**."))


def on_reveal_sentiment(choice: str | None, outcome: Outcome | None, tally: Tally) -> tuple[str, Tally]:
    """After a run: the verdict on the student's prediction, from the run's scores."""
    return reveal(SENTIMENT_QUESTION, choice, outcome, tally)


# --- layout --------------------------------------------------------------------------------------
LESSON_WHAT = (
    "A **pipeline** is one line of code from raw input to an answer: it tokenizes the text "
    "(or resizes the image), runs the model and turns the raw numbers into labels, scores "
    "or text. Pick a task, keep the default model or type another id, and run it. Offline, "
    "four tasks run on real models in this repo: a sentiment classifier fine-tuned from "
    "MiniLM on movie reviews, the MiniLM sentence encoder (similarity and zero-shot), a tiny "
    "GPT-2 trained on reviews and a tiny Vision Transformer trained on handwritten digits. "
    "The others name the hub model they would use online. *Show the code* gives the exact "
    "lines to repeat each run in a notebook.")
TRY_THIS = [
    "Sentiment: negations. \"not bad at all\" is read as positive, but \"I was not disappointed.\" "
    "as negative. Then try a lone 😀 and a lone 🤮: the very same score. Why? (Hint: open the "
    "Tokenizers tab and tokenize 😀 with MiniLM.)",
    "Similarity: add a paraphrase and an unrelated sentence. Which cells of the heat-map light up?",
    "Zero-shot: change the labels to 'happy, sad, angry' and write one line for each feeling "
    "(\"I am so happy today!\", \"I miss her so much and I cry\", \"I am furious at this mess\"). "
    "No retraining needed. Why does that work?",
    "Generation: set temperature to 0.1, then 2.0, with the same seed. Watch the colours and the "
    "next-token bars: which setting picks surprising tokens?",
    "Generation: set top-k to 1 (or temperature to 0). The text is now greedy — it no longer depends on the seed.",
    "Generation: paste a long review and ask for 60 new tokens. The tiny GPT reads at most 128 "
    "tokens: the prompt keeps its last tokens, and a note says how many.",
    "Digits: draw a 7, then a 1. The predictions differ, and so do the maps of where the [CLS] "
    "token looks (the rollout).",
    "Fine-tune a model in the Fine-tuning tab, come back: it is in the model list for text-classification.",
]
PAPERS = [
    ("Wolf et al. 2020: Transformers (Hugging Face)", "https://aclanthology.org/2020.emnlp-demos.6/"),
    ("Reimers & Gurevych 2019: Sentence-BERT", "https://arxiv.org/abs/1908.10084"),
    ("Dosovitskiy et al. 2021: ViT", "https://arxiv.org/abs/2010.11929"),
    ("Radford et al. 2019: GPT-2", "https://cdn.openai.com/better-language-models/"
                                   "language_models_are_unsupervised_multitask_learners.pdf"),
]
LESSON_MD = lesson_markdown(LESSON_WHAT, TRY_THIS, PAPERS)  # the notebook's first cell
NOTEBOOK_TITLE = f"{TITLE}: one pipeline run"


def build(demo: gr.Blocks) -> LabSetup:
    """Lay out the tab inside ``demo`` (the app being built), wire its events, and return
    what a lesson link can set in it."""
    first = SENTIMENT_TASK
    with gr.Tab(TITLE, id=TAB_ID, elem_id=f"tab-{TAB_ID}") as tab:
        lesson(LESSON_WHAT, TRY_THIS, PAPERS)
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Row():
                    task = gr.Dropdown(list(pl.TASKS), value=first, label="Task", elem_id="pl-task")
                    model = gr.Dropdown(model_choices(first), value=default_model(first),
                                        allow_custom_value=True, label="Model id (pick or type a hub id)",
                                        elem_id="pl-model")
                about = gr.Markdown(task_markdown(first))
                text = gr.Textbox(value=pl.TASKS[first].example, lines=5, max_lines=14, elem_id="pl-text",
                                  label="Input (one text per line)", max_length=pl.MAX_TOTAL_CHARS * 6)
                with gr.Group(visible=False) as zs_group:
                    with gr.Row():
                        labels = gr.Textbox("sports, politics, technology", label="Candidate labels (comma separated)")
                        template = gr.Textbox("This text is about {}.", label="Label sentence ({} = label)")
                with gr.Group(visible=False) as gen_group:
                    with gr.Row():
                        max_new = inputs.Slider(1, 60, value=25, step=1, label="Max new tokens")
                        temperature = inputs.Slider(0.0, 3.0, value=0.8, step=0.05, label="Temperature (0 = greedy)")
                    with gr.Row():
                        top_k = inputs.Slider(0, 200, value=40, step=1, label="Top-k (0 = off)")
                        top_p = inputs.Slider(0.05, 1.0, value=0.95, step=0.05, label="Top-p (1 = off)")
                        seed = inputs.Number(0, label="Seed", precision=0, minimum=0)
                with gr.Group(visible=False) as img_group:
                    with gr.Row():
                        sketch = images.Sketchpad(label="Draw a digit (brush ✏️ first)", type="numpy",
                                                  image_mode="RGBA", canvas_size=(280, 280), elem_id="pl-sketch",
                                                  brush=gr.Brush(default_size=22, colors=["#111111"],
                                                                 color_mode="fixed"))
                        upload = gr.File(label="…or upload an image (PNG/JPEG)", file_types=["image"],
                                         type="filepath", elem_id="pl-upload")
                with gr.Column(elem_id="pl-question") as question_box:
                    sentiment_q = ask(SENTIMENT_QUESTION, SENTIMENT_ASK, list(SENTIMENT_CHOICES.values()))
                run = gr.Button("Run the pipeline", variant="primary", elem_id="pl-run")
            with gr.Column(scale=2):
                summary = gr.Markdown("Press **Run the pipeline**.", elem_id="pl-summary")
                with gr.Accordion("Model card", open=False):
                    card = gr.Markdown(pl.model_card(default_model(first)))
        detail_html = gr.HTML(visible=False, elem_id="pl-html")
        main_plot = gr.Plot(placeholder("Run a pipeline to see its results here."), elem_id="pl-plot",
                            show_label=False)
        detail_plot = gr.Plot(visible=False, elem_id="pl-detail", show_label=False)
        code = code_panel("# Run a pipeline: the code that reproduces it appears here.", title=NOTEBOOK_TITLE,
                          lesson=LESSON_MD)
        outcome = gr.State(None)  # the last run's answer to the sentiment question
        setup = lab_setup(TAB_ID, {
            "task": task, "model": model, "text": text, "labels": labels, "template": template,
            "tokens": max_new, "temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": seed,
        }, choices={"model": link_models()})

    task_outputs = list(TaskView(model, about, text, zs_group, gen_group, img_group, question_box))
    # .input, not .change: a task set by a lesson link must keep the link's model and text
    task.input(on_task, [task], task_outputs, api_visibility="private", **queues.CHEAP)
    model.change(on_card, [model], [card], api_visibility="private", **queues.CHEAP)
    tab.select(on_models, [task, model], [model], api_visibility="private", show_progress="hidden",
               **queues.CHEAP)
    run_inputs = [task, model, text, labels, template, max_new, temperature, top_k, top_p, seed, sketch, upload]
    run_outputs = list(RunView(summary, main_plot, detail_html, detail_plot, code, outcome))
    reveal_sentiment = dict(fn=on_reveal_sentiment, inputs=[sentiment_q.choice, outcome, sentiment_q.tally],
                            outputs=[sentiment_q.verdict, sentiment_q.tally], api_visibility="private",
                            **queues.CHEAP)
    run.click(on_run, run_inputs, run_outputs, api_name="run_pipeline", **queues.MODEL).success(**reveal_sentiment)
    # A lesson link restored the settings: show its task's controls and wait for the Run, as
    # the lab's first view does (the student predicts before the model answers).
    setup.restored.change(on_link_task, [task, model], task_outputs, api_visibility="private", **queues.CHEAP
                          ).success(on_link_summary, task, summary, api_visibility="private", **queues.CHEAP)
    return setup
