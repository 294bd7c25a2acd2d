"""Pipelines tab: handlers called directly (good and bad input), the API through
gradio_client, and the tab in a real browser."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from components import images
from components import pipelines_tab as tab
from playground.hf import pipelines as pl
from playground.service.model_service import get_service
from tests.conftest import assert_not_blank, run_lab_notebook

import gradio as gr  # noqa: E402

DEFAULTS = dict(labels="sports, politics, technology", template="This text is about {}.",
                max_new_tokens=10, temperature=0.8, top_k=40, top_p=0.95, seed=0, sketch=None, upload=None)


def run(task: str, model_id: str, text: str, **overrides):
    args = {**DEFAULTS, **overrides}
    return tab.on_run(task, model_id, text, args["labels"], args["template"], args["max_new_tokens"],
                      args["temperature"], args["top_k"], args["top_p"], args["seed"], args["sketch"],
                      args["upload"])


def test_similarity_run_gives_a_heatmap_and_the_code():
    summary, fig, html_update, detail, code, _ = run(
        "feature-extraction", pl.DEFAULT_ENCODER, "A cat sits on the mat.\nA kitten rests on a rug.\nTaxes rose.")
    heat = fig.data[0]
    assert heat["type"] == "heatmap" and np.asarray(heat["z"]).shape == (3, 3)
    assert "Most similar: lines 1 & 2" in summary
    assert "pipeline('feature-extraction'" in code
    assert html_update["visible"] is False and detail["visible"] is False


def test_zero_shot_run_plots_texts_by_labels():
    summary, fig, *_ = run("zero-shot-classification", "", "We won the match 3-0.\nThe senate passed the law.")
    assert np.asarray(fig.data[0]["z"]).shape == (2, 3)
    assert "→ **sports**" in summary and "→ **politics**" in summary


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("\n".join(f"review {k}" for k in range(1000)), "1,000 lines"),
    ("z" * 100_000, "100,000 characters"),
])
def test_bad_text_input_raises_a_clear_gr_error(text, message):
    with pytest.raises(gr.Error, match=message):
        run("feature-extraction", pl.DEFAULT_ENCODER, text)


def test_offline_hub_id_and_hub_only_task_explain_themselves():
    with pytest.raises(gr.Error, match="not reachable"):
        run("feature-extraction", "someone/some-encoder", "hello")
    with pytest.raises(gr.Error, match="distilbert/distilroberta-base"):
        run("fill-mask", "", "Paris is the <mask> of France.")


def test_bad_uploads_raise_clear_errors(tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a picture")
    with pytest.raises(gr.Error, match="not an image"):
        run("image-classification", "", "", upload=str(text_file))
    huge = tmp_path / "huge.png"
    Image.new("L", (4000, 4000), 255).save(huge)
    with pytest.raises(gr.Error, match="4,000 × 4,000"):
        run("image-classification", "", "", upload=str(huge))
    with pytest.raises(gr.Error, match="draw a digit"):
        run("image-classification", "", "")


def test_switching_task_shows_the_right_controls_and_default_model():
    model, about, text, zs, gen, img, question = tab.on_task("text-generation")
    assert model.value == pl.SMOLLM2 and pl.GPT2_MODEL in pl.model_ids(pl.TASKS["text-generation"])
    assert "tiny GPT" in about and pl.GPT2_MODEL in about  # the tiny model is labelled as what it is
    assert gen.visible and not zs.visible and not img.visible and text.visible
    assert not question.visible and tab.on_task("sentiment-analysis").sentiment_question.visible
    model, about, text, zs, gen, img, question = tab.on_task("fill-mask")
    assert "No offline model" in about and model.value == pl.TASKS["fill-mask"].hub_default
    img = tab.on_task("image-classification").image_group
    assert img.visible


def test_model_list_includes_this_sessions_fine_tuned_model():
    service = get_service()
    folder = service.session_dir("pipelines-test-session") / "my-sentiment"
    folder.mkdir(parents=True, exist_ok=True)
    service.register_session_model("pipelines-test-session", "my-finetuned-minilm", folder,
                                   ("text-classification", "sentiment-analysis"))
    try:
        ids = [value for _, value in tab.model_choices("text-classification", "pipelines-test-session")]
        assert "my-finetuned-minilm" in ids
        assert "my-finetuned-minilm" not in [v for _, v in tab.model_choices("text-classification", "other")]
    finally:
        service.forget_session("pipelines-test-session")


def test_api_runs_a_pipeline_and_reports_bad_input(client):
    summary, fig, _html, _detail, code = client.predict(
        "feature-extraction", pl.DEFAULT_ENCODER, "I love this film.\nThis movie is great.\nThe bus is late.",
        "a, b", "This text is about {}.", 10, 0.8, 40, 0.95, 0, None, None, api_name="/run_pipeline")
    assert "Most similar: lines 1 & 2" in summary and "feature-extraction" in code
    with pytest.raises(Exception, match="empty"):
        client.predict("feature-extraction", pl.DEFAULT_ENCODER, "  ", "a, b", "{}", 10, 0.8, 40, 0.95, 0,
                       None, None, api_name="/run_pipeline")


def test_api_wrong_typed_numbers_get_a_clear_message(client):
    with pytest.raises(Exception, match="Seed must be a number"):
        client.predict("text-generation", "", "hi", "a, b", "{}", 10, 0.8, 40, 0.95, [0], None, None,
                       api_name="/run_pipeline")
    with pytest.raises(Exception, match="Temperature .* must be a number"):
        client.predict("text-generation", "", "hi", "a, b", "{}", 10, "hot", 40, 0.95, 0, None, None,
                       api_name="/run_pipeline")


def test_browser_similarity_heatmap(page):
    page.open(f"?tab={tab.TAB_ID}")  # the app's load event selects the tab: no race with it
    page.open_tab(tab.TAB_ID)
    panel = page.page.locator(f"#tab-{tab.TAB_ID}")
    panel.locator("#pl-task input").click()
    page.page.get_by_role("option", name="feature-extraction").click()
    # the task's default model arrives from the server: run only once it is there
    expect(panel.locator("#pl-model input")).to_have_value(pl.DEFAULT_ENCODER, timeout=30_000)
    panel.locator("#pl-run").click()
    page.page.locator("#pl-plot .js-plotly-plot .heatmaplayer").wait_for(timeout=60_000)
    assert "Most similar" in panel.locator("#pl-summary").inner_text()
    path = page.screenshot("pipelines")
    assert_not_blank(path)
    assert not page.console_errors
    assert not page.outside_requests


def test_generation_run_colours_each_token_and_plots_each_step():
    summary, fig, html_update, _detail, code, _ = run("text-generation", pl.GPT2_MODEL, "this movie is",
                                                   max_new_tokens=8, temperature=0)
    steps = fig.data[0]["y"]
    assert html_update["visible"] and html_update["value"].count("np-gen-token") == len(steps)
    assert 1 <= len(steps) <= 8 and "greedy" in fig.layout["title"]["text"]
    assert np.allclose(np.asarray(fig.data[0]["z"]).max(axis=1), 1.0)  # greedy: all mass on one token
    assert "greedy=True" in code


def drawn_seven() -> np.ndarray:
    """A "7" as a student draws it on the 280×280 sketchpad: dark strokes, RGBA."""
    from PIL import ImageDraw

    canvas = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
    pen = ImageDraw.Draw(canvas)
    pen.line([(84, 70), (196, 70), (126, 224)], fill=(17, 17, 17, 255), width=22)
    return np.asarray(canvas)


def test_drawn_digit_gets_class_bars_and_patch_attention():
    from playground.hf import vit_digits as digits_vit

    canvas = drawn_seven()
    summary, fig, _html, detail, code, _ = run("image-classification", pl.DIGITS_MODEL, "",
                                            sketch={"composite": canvas, "layers": [], "background": None})
    assert "Prediction: **7**" in summary
    # the tab's pipeline run agrees with the digits core on the same drawing
    values = digits_vit.preprocess_drawing(canvas).values
    assert digits_vit.classify_digit(values)[0]["label"] == "7"
    assert list(fig.data[0]["x"]) == [str(d) for d in range(10)] and detail["visible"]
    panels = detail["value"].data
    assert len(panels) == 2 + len(digits_vit.patch_attention(values).cls_rows)  # image, layers, rollout
    assert np.isclose(np.sum(panels[-1]["z"]), 1.0)  # the rollout is a distribution over patches
    assert "pipeline('image-classification'" in code


def test_browser_draw_a_digit_on_the_sketchpad(page):
    page.open(f"?tab={tab.TAB_ID}")
    page.open_tab(tab.TAB_ID)
    panel = page.page.locator(f"#tab-{tab.TAB_ID}")
    panel.locator("#pl-task input").click()
    page.page.get_by_role("option", name="image-classification").click()
    expect(panel.locator("#pl-model input")).to_have_value(pl.DIGITS_MODEL, timeout=30_000)
    panel.locator("#pl-sketch button[aria-label='Brush']").first.dispatch_event("click")
    panel.locator("#pl-sketch canvas").first.scroll_into_view_if_needed()  # mouse events need it on screen
    box = panel.locator("#pl-sketch canvas").first.bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    mouse = page.page.mouse
    mouse.move(x + 0.3 * w, y + 0.25 * h)  # a "7": the top bar, then the diagonal
    mouse.down()
    for k in range(11):
        mouse.move(x + (0.3 + 0.04 * k) * w, y + 0.25 * h)
    for k in range(11):
        mouse.move(x + (0.7 - 0.025 * k) * w, y + (0.25 + 0.05 * k) * h)
    mouse.up()
    panel.locator("#pl-run").click()
    panel.locator("#pl-detail .js-plotly-plot").wait_for(timeout=60_000)
    assert "Prediction: 7" in panel.locator("#pl-summary").inner_text()
    path = page.screenshot("pipelines-digits")
    assert_not_blank(path)
    assert not page.console_errors and not page.outside_requests


# --- image inputs: sizes checked before decoding ------------------------------------------------
def huge_png(path: Path, side: int = 13_000) -> Path:
    """A grey PNG of side × side pixels written row by row: about 170 KB on disk, 169 MB
    (and four times that as RGBA) once decoded. The test itself never holds the pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    packer, row, body = zlib.compressobj(9), b"\0" * (side + 1), []  # filter byte + one row
    for _ in range(side):
        body.append(packer.compress(row))
    body.append(packer.flush())
    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 8-bit grey
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(body))
                     + chunk(b"IEND", b""))
    return path


class PeakMemory:
    """The most this process' resident memory grew while inside the block (sampled every 5 ms)."""

    def __enter__(self) -> "PeakMemory":
        self.start = self.peak = self._rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20

    def _watch(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_huge_sketch_is_refused_before_gradio_decodes_it(tmp_path):
    """Gradio decodes sketch images before any handler: the component checks the header."""
    from gradio.components.image_editor import EditorData
    from gradio.data_classes import FileData

    path = huge_png(tmp_path / "bomb.png")
    assert path.stat().st_size < 400_000
    sketchpad = images.Sketchpad(type="numpy", image_mode="RGBA")
    for payload in (EditorData(composite=FileData(path=str(path))),
                    EditorData(background=FileData(path=str(path)), layers=[FileData(path=str(path))])):
        with PeakMemory() as memory, pytest.raises(gr.Error, match="13,000 × 13,000 pixels"):
            sketchpad.preprocess(payload)
        assert memory.growth_mb < 100, memory.growth_mb
    with pytest.raises(gr.Error, match="13,000 × 13,000"):  # the canvas' own upload route: bytes
        sketchpad.convert_and_format_image(path.read_bytes())
    with pytest.raises(gr.Error, match="not an image"):
        sketchpad.convert_and_format_image(b"no picture")


def test_a_huge_upload_is_refused_before_decoding(tmp_path):
    path = huge_png(tmp_path / "bomb.png")
    with PeakMemory() as memory, pytest.raises(gr.Error, match="13,000 × 13,000 pixels"):
        run("image-classification", pl.DIGITS_MODEL, "", upload=str(path))
    assert memory.growth_mb < 100, memory.growth_mb


def test_every_sketchpad_of_the_app_checks_sizes_first():
    import app

    pads = [block for block in app.demo.blocks.values() if isinstance(block, gr.ImageEditor)]
    assert len(pads) >= 2  # the digit sketch here and the GAN's "draw a shape"
    assert all(isinstance(pad, images.Sketchpad) for pad in pads)
    assert all(pad.get_config()["name"] in ("sketchpad", "imageeditor") for pad in pads)


def test_api_huge_sketch_gets_a_clear_message_and_memory_stays_bounded(client, tmp_path):
    from gradio_client import handle_file

    path = huge_png(tmp_path / "bomb.png")
    sketch = {"background": None, "layers": [], "composite": handle_file(str(path))}
    with PeakMemory() as memory, pytest.raises(Exception, match="13,000 × 13,000 pixels"):
        client.predict("image-classification", pl.DIGITS_MODEL, "", "a, b", "{}", 10, 0.8, 40, 0.95, 0,
                       sketch, None, api_name="/run_pipeline")
    assert memory.growth_mb < 150, memory.growth_mb  # the server runs in this process


@pytest.mark.parametrize("value, message", [
    ("not a dict", "must be a dictionary"), ({"composite": "a/path.png"}, "must be an image"),
])
def test_wrong_typed_sketch_values_get_a_message(value, message):
    with pytest.raises(gr.Error, match=message):
        run("image-classification", pl.DIGITS_MODEL, "", sketch=value)


def test_private_handlers_validate_wrong_types():
    with pytest.raises(gr.Error, match="Unknown task"):
        tab.on_task(["sentiment-analysis"])
    with pytest.raises(gr.Error, match="model id must be text"):
        tab.on_card(["x"])
    with pytest.raises(gr.Error, match="model id must be text"):
        tab.on_models("sentiment-analysis", {"a": 1})
    with pytest.raises(gr.Error, match="must be a number"):
        run("text-generation", pl.GPT2_MODEL, "this movie", max_new_tokens=[1, 2])
    with pytest.raises(gr.Error, match="prompt must be text"):
        run("text-generation", pl.GPT2_MODEL, 42)


def test_every_event_of_the_pipelines_and_seq2seq_tabs_joins_a_queue():
    import app

    groups = {"run_pipeline": "model", "seq2seq_step": "cheap", "seq2seq_run": "cheap",
              "seq2seq_compare": "model", "seq2seq_train": "training"}
    ours = [fn for fn in app.demo.fns.values() if fn.fn is not None and getattr(fn.fn, "__module__", "") in
            ("components.pipelines_tab", "components.seq2seq_tab")]
    assert len(ours) >= 13
    for fn in ours:
        assert fn.concurrency_id in ("cheap", "model", "training"), fn.name
        assert fn.concurrency_id == groups.get(fn.api_name, fn.concurrency_id), fn.api_name


# --- lessons: each "Try this" prompt, driven through the handlers it names ---------------------
def test_lesson_pipelines_sentiment_negation_and_emoji():
    summary, fig, *_ = run("sentiment-analysis", pl.SENTIMENT_MODEL,
                           "not bad at all\nI was not disappointed.\n😀\n🤮")
    rows = {trace["name"]: list(trace["x"]) for trace in fig.data}  # label → probability per line
    positive = rows["POSITIVE"]
    assert positive[0] > 0.5  # "not bad at all": the negation is understood here...
    assert positive[1] < 0.5  # ...but "not disappointed" reads as negative
    assert positive[2] == pytest.approx(positive[3], abs=1e-6)  # 😀 and 🤮: the same score
    tokenizer = get_service().load_tokenizer(pl.SENTIMENT_MODEL)
    assert tokenizer.tokenize("😀") == tokenizer.tokenize("🤮") == [tokenizer.unk_token]
    about = tab.on_task("sentiment-analysis").about  # the lab says so next to the task
    assert "I was not disappointed" in about and "[UNK]" in about
    card = pl.model_card(pl.SENTIMENT_MODEL)
    assert "not disappointed" in card and "[UNK]" in card


def test_lesson_pipelines_similarity_paraphrase_lights_up():
    summary, fig, *_ = run("feature-extraction", pl.DEFAULT_ENCODER,
                           "A man is playing a guitar.\nSomeone is playing an instrument.\nTaxes rose again.")
    sim = np.asarray(fig.data[0]["z"])
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[1, 2] + 0.3
    assert "Most similar: lines 1 & 2" in summary


def test_lesson_pipelines_zero_shot_new_labels_without_retraining():
    summary, fig, *_ = run("zero-shot-classification", "", "I am so happy today!\n"
                           "I miss her so much and I cry\nI am furious at this mess", labels="happy, sad, angry")
    lines = summary.splitlines()[:3]
    assert all(f"→ **{label}**" in line for label, line in zip(["happy", "sad", "angry"], lines)), lines
    assert np.asarray(fig.data[0]["z"]).shape == (3, 3)


def test_lesson_pipelines_generation_temperature_picks_surprising_tokens():
    for seed in range(5):
        means = {}
        for temperature in (0.1, 2.0):
            result = pl.generate("this movie is", temperature=temperature, seed=seed, max_new_tokens=25,
                                 top_k=40, top_p=0.95)
            means[temperature] = np.mean([step.model_prob for step in result.generation.steps])
            summary, fig, html_update, *_ = run("text-generation", pl.GPT2_MODEL, "this movie is", seed=seed,
                                                temperature=temperature, max_new_tokens=25)
            assert html_update["value"].count("np-gen-token") == len(result.tokens)
        assert means[2.0] < 0.7 * means[0.1], (seed, means)  # hot sampling picks less likely tokens


def test_lesson_pipelines_greedy_does_not_depend_on_the_seed():
    for settings in (dict(top_k=1), dict(temperature=0)):
        texts = {run("text-generation", pl.GPT2_MODEL, "this movie is", seed=seed, **settings)[2]["value"]
                 for seed in range(5)}
        assert len(texts) == 1, settings
    sampled = {run("text-generation", pl.GPT2_MODEL, "this movie is", seed=seed)[2]["value"] for seed in range(5)}
    assert len(sampled) > 1


def test_lesson_pipelines_long_prompt_is_cut_with_a_note():
    review = "The first hour drags, the dialogue is stiff and the twist is obvious. " * 12
    summary, fig, html_update, *_ = run("text-generation", pl.GPT2_MODEL, review, max_new_tokens=60)
    assert "only its last 68 fit" in summary
    assert len(fig.data[0]["y"]) >= 1


def drawn_one() -> np.ndarray:
    """A "1" with its little flag, as drawn on the sketchpad."""
    from PIL import ImageDraw

    canvas = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
    ImageDraw.Draw(canvas).line([(110, 80), (150, 50), (150, 230)], fill=(17, 17, 17, 255), width=22)
    return np.asarray(canvas)


def test_lesson_pipelines_digits_seven_and_one():
    seven = run("image-classification", pl.DIGITS_MODEL, "", sketch={"composite": drawn_seven()})
    one = run("image-classification", pl.DIGITS_MODEL, "", sketch={"composite": drawn_one()})
    assert "Prediction: **7**" in seven.summary and "Prediction: **1**" in one.summary
    rollouts = [np.asarray(view.detail_plot["value"].data[-1]["z"]) for view in (seven, one)]
    assert np.abs(rollouts[0] - rollouts[1]).sum() > 0.1  # the [CLS] token reads other patches


def test_lesson_pipelines_finetuned_model_appears_in_the_list():
    service = get_service()
    folder = service.session_dir("lesson-session") / "mine"
    folder.mkdir(parents=True, exist_ok=True)
    service.register_session_model("lesson-session", "my-minilm", folder, ("text-classification",))
    try:
        class Request:
            session_hash = "lesson-session"

        dropdown = tab.on_models("text-classification", "", Request())
        assert "my-minilm" in [value for _, value in dropdown.choices]
    finally:
        service.forget_session("lesson-session")


# --- code panels: run offline, from a temporary folder, printing the handler's numbers -------
def run_panel(code: str, folder: Path) -> list[str]:
    """Execute a "Show the code" panel as a student would: a fresh Python, offline, in an
    empty folder, without this repo on the path. Returns its printed lines."""
    assert "playground" not in code.replace("neural-playground", "")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    (folder / "panel.py").write_text(code)
    done = subprocess.run([sys.executable, "panel.py"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


@pytest.mark.parametrize("texts", ["An absolute delight.\nA dull mess.", "not bad at all\nI was not disappointed."])
def test_code_panel_pipelines_sentiment(texts, tmp_path):
    result = pl.classify(pl.parse_batch(texts), pl.SENTIMENT_MODEL)
    code = run("sentiment-analysis", pl.SENTIMENT_MODEL, texts).code
    printed = ast.literal_eval(run_panel(code, tmp_path)[-1])
    for row, out in zip(result.rows, printed):
        assert [d["label"] for d in out] == list(row.labels)
        np.testing.assert_allclose([d["score"] for d in out], row.scores, atol=1e-4)


@pytest.mark.parametrize("texts", ["A cat sleeps.\nA kitten naps.\nStocks fell.", "I love it.\nI hate it."])
def test_code_panel_pipelines_similarity(texts, tmp_path):
    summary, fig, *_ = view = run("feature-extraction", pl.DEFAULT_ENCODER, texts)
    code = view.code
    lines = run_panel(code, tmp_path)
    np.testing.assert_allclose(ast.literal_eval(lines[-1]), np.asarray(fig.data[0]["z"]), atol=1e-4)


@pytest.mark.parametrize("labels", ["sports, politics, technology", "happy, sad"])
def test_code_panel_pipelines_zero_shot(labels, tmp_path):
    texts = "We won the cup!\nThe vote is tomorrow."
    result = pl.zero_shot(pl.parse_batch(texts), pl.parse_labels(labels), "")
    code = run("zero-shot-classification", "", texts, labels=labels).code
    lines = run_panel(code, tmp_path)
    order = pl.parse_labels(labels)
    for row, printed in zip(result.rows, ast.literal_eval(lines[-1])):
        np.testing.assert_allclose([dict(zip(row.labels, row.scores))[label] for label in order], printed, atol=1e-4)


@pytest.mark.parametrize("settings", [dict(temperature=0, max_new_tokens=12),
                                      dict(temperature=1.1, top_k=20, top_p=0.9, seed=4, max_new_tokens=15)])
def test_code_panel_pipelines_generation(settings, tmp_path):
    result = pl.generate("the acting was", **settings)
    view = run("text-generation", pl.GPT2_MODEL, "the acting was", **settings)
    assert view.code == result.run.code
    text, probs = run_panel(view.code, tmp_path)[-2:]
    assert ast.literal_eval(text) == result.text
    np.testing.assert_allclose(ast.literal_eval(probs), result.probs, atol=1e-3)


@pytest.mark.parametrize("drawing", [drawn_seven, drawn_one])
def test_code_panel_pipelines_digits(drawing, tmp_path):
    view = run("image-classification", pl.DIGITS_MODEL, "", sketch={"composite": drawing()})
    printed = ast.literal_eval(run_panel(view.code, tmp_path)[-1])
    shown = {label: float(p) for label, p in zip(view.main_plot.data[0]["x"], view.main_plot.data[0]["y"])}
    assert printed[0]["label"] == max(shown, key=shown.get)
    for entry in printed:
        assert entry["score"] == pytest.approx(shown[entry["label"]], abs=1e-4)


# --- the notebook: the code panel's "Download notebook", run in a kernel -------------------------
def run_notebook(code: str, folder: Path) -> list[str]:
    """The panel's notebook (lesson, install line, code) run top to bottom; its printed lines."""
    return run_lab_notebook(code, tab.NOTEBOOK_TITLE, tab.LESSON_MD, folder, must_cite="Wolf").strip().splitlines()


@pytest.mark.parametrize("task", ["sentiment-analysis", "text-generation"])
def test_code_panel_pipelines_notebook(task, tmp_path):
    if task == "sentiment-analysis":
        texts = "not bad at all\nI was not disappointed."
        result = pl.classify(pl.parse_batch(texts), pl.SENTIMENT_MODEL)
        printed = ast.literal_eval(run_notebook(run(task, pl.SENTIMENT_MODEL, texts).code, tmp_path)[-1])
        for row, out in zip(result.rows, printed):
            assert [d["label"] for d in out] == list(row.labels)
            np.testing.assert_allclose([d["score"] for d in out], row.scores, atol=1e-4)
    else:
        settings = dict(temperature=1.1, top_k=20, top_p=0.9, seed=4, max_new_tokens=12)
        result = pl.generate("the acting was", **settings)
        text, probs = run_notebook(run(task, pl.GPT2_MODEL, "the acting was", **settings).code, tmp_path)[-2:]
        assert ast.literal_eval(text) == result.text
        np.testing.assert_allclose(ast.literal_eval(probs), result.probs, atol=1e-3)
