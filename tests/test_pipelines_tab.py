"""Pipelines tab: handlers called directly (good and bad input), the API through
gradio_client, and the tab in a real browser."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from components import pipelines_tab as tab
from playground.hf import pipelines as pl
from playground.service.model_service import get_service
from tests.conftest import assert_not_blank

import gradio as gr  # noqa: E402

DEFAULTS = dict(labels="sports, politics, technology", template="This text is about {}.",
                max_new_tokens=10, temperature=0.8, top_k=40, top_p=0.95, seed=0, sketch=None, upload=None)


def run(task: str, model_id: str, text: str, **overrides):
    args = {**DEFAULTS, **overrides}
    return tab.on_run(task, model_id, text, args["labels"], args["template"], args["max_new_tokens"],
                      args["temperature"], args["top_k"], args["top_p"], args["seed"], args["sketch"],
                      args["upload"])


def test_similarity_run_gives_a_heatmap_and_the_code():
    summary, fig, html_update, detail, code = run(
        "feature-extraction", pl.DEFAULT_ENCODER, "A cat sits on the mat.\nA kitten rests on a rug.\nTaxes rose.")
    heat = fig.data[0]
    assert heat.type == "heatmap" and np.asarray(heat.z).shape == (3, 3)
    assert "Most similar: lines 1 & 2" in summary
    assert "pipeline('feature-extraction'" in code
    assert html_update["visible"] is False and detail["visible"] is False


def test_zero_shot_run_plots_texts_by_labels():
    summary, fig, *_ = run("zero-shot-classification", "", "We won the match 3-0.\nThe senate passed the law.")
    assert np.asarray(fig.data[0].z).shape == (2, 3)
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
    model, about, text, zs, gen, img = tab.on_task("text-generation")
    assert model.value == pl.GPT2_MODEL and pl.GPT2_MODEL in about
    assert gen.visible and not zs.visible and not img.visible and text.visible
    model, about, text, zs, gen, img = tab.on_task("fill-mask")
    assert "No offline model" in about and model.value == pl.TASKS["fill-mask"].hub_default
    *_, img = tab.on_task("image-classification")
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
    summary, fig, html_update, _detail, code = run("text-generation", pl.GPT2_MODEL, "this movie is",
                                                   max_new_tokens=8, temperature=0)
    steps = fig.data[0]["y"]
    assert html_update["visible"] and html_update["value"].count("np-gen-token") == len(steps)
    assert 1 <= len(steps) <= 8 and "greedy" in fig.layout["title"]["text"]
    assert np.allclose(np.asarray(fig.data[0]["z"]).max(axis=1), 1.0)  # greedy: all mass on one token
    assert "do_sample=False" in code


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
    summary, fig, _html, detail, code = run("image-classification", pl.DIGITS_MODEL, "",
                                            sketch={"composite": canvas, "layers": [], "background": None})
    assert "Prediction: **7**" in summary
    # the tab's pipeline run agrees with the digits core on the same drawing
    values = digits_vit.preprocess_drawing(canvas).values
    assert digits_vit.classify_digit(values)[0]["label"] == "7"
    assert list(fig.data[0].x) == [str(d) for d in range(10)] and detail["visible"]
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
