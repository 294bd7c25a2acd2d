"""Pipelines lab (issue 7): Hugging Face pipelines on real models, offline and online."""

from __future__ import annotations

import html

import gradio as gr
import numpy as np
import plotly.graph_objects as go

from components import pipelines_figures as pf
from components.code_panel import code_panel
from components.errors import user_errors
from components.figures import empty, placeholder
from components.lesson import lesson
from playground.hf import pipelines as pl
from playground.service.model_service import get_service

TAB_ID = "pipelines"
TITLE = "Pipelines"

EXAMPLES = {
    "sentiment-analysis": "An absolute delight from start to finish, with a brilliant cast.\n"
                          "A dull, lifeless mess; I walked out after an hour.\n"
                          "The plot is thin, but the music and the visuals are stunning.\n"
                          "not bad at all",
    "text-classification": "a gripping , beautifully acted thriller .\n"
                           "the jokes fall flat and the story goes nowhere .",
    "feature-extraction": "A man is playing a guitar.\nSomeone is playing an instrument.\n"
                          "The stock market fell sharply today.\nShare prices dropped a lot.\n"
                          "A cat is sleeping on the sofa.",
    "zero-shot-classification": "The team scored in the last minute to win the cup.\n"
                                "Parliament votes on the new budget tomorrow.\n"
                                "This phone's battery easily lasts two days.",
    "text-generation": "this movie is",
    "image-classification": "",
    "fill-mask": "Paris is the <mask> of France.\nThe film was a complete <mask>.",
    "token-classification": "Ada Lovelace worked with Charles Babbage in London.",
    "summarization": "The Transformer replaced recurrence with attention. Every token looks at every "
                     "other token in one step, so training runs in parallel on GPUs, and long-range "
                     "links in the text no longer have to pass through many recurrent steps.",
}
SOURCES = {"assets": "trained by this repo (assets/models, offline)",
           "package": "pretrained weights from a pip package (offline)",
           "session": "the model you fine-tuned in this session",
           "hub": "the Hugging Face hub (online)"}
MAX_SUMMARY_LINES = 8
INPUT_LABELS = {"text": "Input (one text per line)", "prompt": "Prompt", "image": ""}


# --- model list --------------------------------------------------------------------------------
def model_choices(task: str, session: str | None = None) -> list[tuple[str, str]]:
    """(label, id) for the dropdown: models usable now (incl. this session's fine-tuned ones),
    then the hub default, marked as online only."""
    spec = pl.task_spec(task)
    ids = get_service().available_ids(spec.registry_task, session)
    if spec.name == "text-classification":  # sentiment models are text classifiers too
        ids += [m for m in get_service().available_ids("sentiment-analysis", session) if m not in ids]
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
    return f"**{spec.name}** — {spec.description} {offline} {how}"


@user_errors
def on_models(task: str, current: str, request: gr.Request = None) -> gr.Dropdown:
    """Refresh the model list (e.g. after fine-tuning a model in another tab); keep the choice."""
    session = _session(request)
    return gr.Dropdown(choices=model_choices(task, session), value=current or default_model(task, session))


@user_errors
def on_task(task: str, request: gr.Request = None) -> tuple:
    """Switch task: model list, description, example input, which controls show."""
    spec = pl.task_spec(task)
    session = _session(request)
    return (gr.Dropdown(choices=model_choices(task, session), value=default_model(task, session)),
            task_markdown(task), gr.Textbox(value=EXAMPLES[task], visible=spec.input_kind != "image",
                                            label=INPUT_LABELS[spec.input_kind]),
            gr.Group(visible=task == "zero-shot-classification"),
            gr.Group(visible=task == "text-generation"), gr.Group(visible=spec.input_kind == "image"))


@user_errors
def on_card(model_id: str, request: gr.Request = None) -> str:
    return pl.model_card(model_id, _session(request))


# --- run -----------------------------------------------------------------------------------------
def run_line(run: pl.RunInfo) -> str:
    lines = [f"**Model** `{run.model_id}` — {SOURCES.get(run.source, run.source)} · "
             f"pipeline call **{run.seconds * 1000:.0f} ms**"]
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


def render(result: object) -> tuple[str, go.Figure, dict, dict]:
    """(summary, main figure, html update, detail figure update) for any result."""
    hidden = gr.update(visible=False, value=None)
    if isinstance(result, pl.SimilarityResult):
        fig = pf.similarity_figure(result.texts, result.similarity, result.run.model_id)
        return similarity_summary(result), fig, hidden, hidden
    if isinstance(result, pl.ScoresResult):
        if result.run.task == "summarization":
            return scores_summary(result), empty("The summary is above."), hidden, hidden
        return scores_summary(result), pf.scores_figure(result), hidden, hidden
    if isinstance(result, pl.EntitiesResult):
        count = sum(len(e) for e in result.entities)
        return (f"{count} entities found.", empty("Entities are highlighted below."),
                gr.update(visible=True, value=pf.entities_html(result)), hidden)
    if isinstance(result, pl.GenerationResult):
        mean_p = float(np.mean(result.probs)) if result.probs else 0.0
        summary = (f"Generated **{len(result.tokens)} tokens** (mean probability {mean_p:.2f}). "
                   "Same seed + same settings = same text.")
        return (summary, pf.generation_figure(result),
                gr.update(visible=True, value=pf.generation_html(result)), hidden)
    if isinstance(result, pl.ImageResult):
        best = result.scored
        summary = f"Prediction: **{best.labels[0]}** (probability {best.scores[0]:.2f})."
        detail = (gr.update(visible=True, value=pf.attention_figure(result)) if result.attention is not None
                  else hidden)
        return summary, pf.image_figure(result), hidden, detail
    raise TypeError(f"unknown result {type(result).__name__}")


def run_task(task: str, model_id: str, text: str, labels: str, template: str,
             sampling: dict, image: object, session: str | None) -> object:
    """Validate the input for the task and call the core."""
    spec = pl.task_spec(task)
    if spec.input_kind == "image":
        return pl.classify_image(image, model_id, session)
    if task == "text-generation":
        return pl.generate(text, model_id, session=session, **sampling)
    if task == "summarization":
        return pl.summarize(pl.clean_text(text, pl.MAX_LINE_CHARS * 2, "text"), model_id, session=session)
    texts = pl.parse_batch(text)
    if task == "feature-extraction":
        return pl.similarity(texts, model_id, session)
    if task == "zero-shot-classification":
        return pl.zero_shot(texts, pl.parse_labels(labels), model_id, template, session)
    if task == "fill-mask":
        return pl.fill_mask(texts, model_id, session)
    if task == "token-classification":
        return pl.token_classification(texts, model_id, session)
    return pl.classify(texts, model_id, task, session)


@user_errors
def on_run(task: str, model_id: str, text: str, labels: str, template: str, max_new_tokens: float,
           temperature: float, top_k: float, top_p: float, seed: float,
           sketch: object, upload: object, request: gr.Request = None
           ) -> tuple[str, go.Figure, dict, dict, str]:
    """Run the chosen pipeline: (summary, main plot, html, detail plot, code)."""
    sampling = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                    seed=seed)
    image = upload if upload else sketch
    result = run_task(task, model_id, text, labels, template, sampling, image, _session(request))
    summary, fig, html_update, detail = render(result)
    return f"{summary}\n\n{run_line(result.run)}", fig, html_update, detail, result.run.code


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
    "Sentiment: write a review with a negation (\"not good at all\", \"not bad\"). Does the model get it?",
    "Similarity: add a paraphrase and an unrelated sentence. Which cells of the heat-map light up?",
    "Zero-shot: change the labels to 'happy, sad, angry' — no retraining needed. Why does that work?",
    "Generation: set temperature to 0.1, then 2.0, with the same seed. Watch the colours and the "
    "next-token bars: which setting picks surprising tokens?",
    "Generation: set top-k to 1 (or temperature to 0). The text is now greedy — it no longer depends on the seed.",
    "Digits: draw a 1 and a 7 that look alike. Where does the ViT's [CLS] token look?",
    "Fine-tune a model in the Fine-tuning tab, come back: it is in the model list for text-classification.",
]
PAPERS = [
    ("Wolf et al. 2020: Transformers (Hugging Face)", "https://aclanthology.org/2020.emnlp-demos.6/"),
    ("Reimers & Gurevych 2019: Sentence-BERT", "https://arxiv.org/abs/1908.10084"),
    ("Dosovitskiy et al. 2021: ViT", "https://arxiv.org/abs/2010.11929"),
    ("Radford et al. 2019: GPT-2", "https://cdn.openai.com/better-language-models/"
                                   "language_models_are_unsupervised_multitask_learners.pdf"),
]


def build(demo: gr.Blocks) -> None:
    """Lay out the tab inside ``demo`` (the app being built) and wire its events."""
    first = "sentiment-analysis"
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
                text = gr.Textbox(value=EXAMPLES[first], lines=5, max_lines=14, elem_id="pl-text",
                                  label="Input (one text per line)", max_length=pl.MAX_TOTAL_CHARS * 6)
                with gr.Group(visible=False) as zs_group:
                    with gr.Row():
                        labels = gr.Textbox("sports, politics, technology", label="Candidate labels (comma separated)")
                        template = gr.Textbox("This text is about {}.", label="Label sentence ({} = label)")
                with gr.Group(visible=False) as gen_group:
                    with gr.Row():
                        max_new = gr.Slider(1, 60, value=25, step=1, label="Max new tokens")
                        temperature = gr.Slider(0.0, 3.0, value=0.8, step=0.05, label="Temperature (0 = greedy)")
                    with gr.Row():
                        top_k = gr.Slider(0, 200, value=40, step=1, label="Top-k (0 = off)")
                        top_p = gr.Slider(0.05, 1.0, value=0.95, step=0.05, label="Top-p (1 = off)")
                        seed = gr.Number(0, label="Seed", precision=0, minimum=0)
                with gr.Group(visible=False) as img_group:
                    with gr.Row():
                        sketch = gr.Sketchpad(label="Draw a digit (brush ✏️ first)", type="numpy", image_mode="RGBA",
                                              canvas_size=(280, 280), elem_id="pl-sketch",
                                              brush=gr.Brush(default_size=22, colors=["#111111"],
                                                             color_mode="fixed"))
                        upload = gr.File(label="…or upload an image (PNG/JPEG)", file_types=["image"],
                                         type="filepath", elem_id="pl-upload")
                run = gr.Button("Run the pipeline", variant="primary", elem_id="pl-run")
            with gr.Column(scale=2):
                summary = gr.Markdown("Press **Run the pipeline**.", elem_id="pl-summary")
                with gr.Accordion("Model card", open=False):
                    card = gr.Markdown(pl.model_card(default_model(first)))
        detail_html = gr.HTML(visible=False, elem_id="pl-html")
        main_plot = gr.Plot(placeholder("Run a pipeline to see its results here."), elem_id="pl-plot",
                            show_label=False)
        detail_plot = gr.Plot(visible=False, elem_id="pl-detail", show_label=False)
        code = code_panel("# Run a pipeline: the code that reproduces it appears here.")

    task.change(on_task, [task], [model, about, text, zs_group, gen_group, img_group],
                api_visibility="private")
    model.change(on_card, [model], [card], api_visibility="private")
    tab.select(on_models, [task, model], [model], api_visibility="private", show_progress="hidden")
    inputs = [task, model, text, labels, template, max_new, temperature, top_k, top_p, seed, sketch, upload]
    run.click(on_run, inputs, [summary, main_plot, detail_html, detail_plot, code], api_name="run_pipeline")
