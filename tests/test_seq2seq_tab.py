"""The encoder–decoder tab: handlers called directly, the API through gradio_client, and
the tab in a real browser (Step, Run, Compare, Train)."""

from __future__ import annotations

import itertools
import re

import gradio as gr
import pytest

from components import seq2seq_tab as tab
from tests.conftest import assert_not_blank

ATTN, FIXED = list(tab.VARIANTS)


def test_build_inside_blocks() -> None:
    with gr.Blocks() as demo:
        tab.build(demo)


def test_step_advances_and_restarts_on_new_input() -> None:
    out = tab.on_step("reverse", ATTN, "abcd", tab.GREEDY, 1, {})
    status, bar, context, align, beams, view, code = out
    assert view["shown"] == 1 and "Step **1 of 5**" in status
    assert list(bar.data[0].x) == ["a", "b", "c", "d"] and abs(sum(bar.data[0].y) - 1) < 1e-5
    assert "abcd" in code and "width=1" in code
    out = tab.on_step("reverse", ATTN, "abcd", tab.GREEDY, 1, view)
    assert out[5]["shown"] == 2 and "`abcd` → `dc`" in out[0]
    assert tab.on_step("reverse", ATTN, "abcde", tab.GREEDY, 1, out[5])[5]["shown"] == 1


def test_run_plays_every_step_and_checks_the_answer(monkeypatch) -> None:
    monkeypatch.setattr(tab, "RUN_DELAY_S", 0)
    frames = list(tab.on_run("reverse", ATTN, "playground", tab.BEAM, 3, {}))
    assert len(frames) == len("playground") + 1  # one per character plus </s>
    status, _, context, align, beams, view, _ = frames[-1]
    assert "Finished: correct" in status and "Beams after" in beams and beams.count("| `") == 3
    assert align.data[0].z.shape == (11, 10)
    assert context.data[0].z.shape[0] == 11


def test_fixed_context_model_says_it_has_no_attention() -> None:
    status, bar, context, align, *_ = tab.on_step("sort", FIXED, "3141", tab.GREEDY, 1, {})
    assert "no attention" in bar.layout.annotations[0].text
    assert "no attention" in align.layout.annotations[0].text


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("Hello!", "not in"), ("😀", "not in"), ("a" * 30, "trained on"), ("x" * 50_000, "limit"),
])
def test_bad_input_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(gr.Error, match=message):
        tab.on_step("reverse", ATTN, text, tab.GREEDY, 1, {})


def test_bad_settings_are_clear_errors_or_clamped() -> None:
    with pytest.raises(gr.Error, match="Unknown task"):
        tab.on_step("nope", ATTN, "abc", tab.GREEDY, 1, {})
    with pytest.raises(gr.Error, match="Choose a model"):
        tab.on_step("reverse", "???", "abc", tab.GREEDY, 1, {})
    with pytest.raises(gr.Error, match="NaN"):
        tab.on_step("reverse", ATTN, "abc", tab.BEAM, float("nan"), {})
    status = tab.on_step("reverse", ATTN, "abc", tab.BEAM, 99, {})[0]
    assert "Beam width was set to 8" in status


def test_compare_shows_fixed_context_falling_behind() -> None:
    fig, summary = tab.on_compare("reverse")
    assert [t.name for t in fig.data] == [ATTN, FIXED]
    attn_long, fixed_long = (sum(t.y[-5:]) / 5 for t in fig.data)
    assert attn_long > fixed_long + 30  # percentage points on the longest inputs
    assert "shortest" in summary and "longest" in summary


def test_live_training_streams_and_keeps_earlier_runs() -> None:
    frames = list(itertools.islice(tab.on_train("reverse", ATTN, 20, 3, 1, {}), 5))
    loss, align, status, runs, code = frames[-1]
    assert "Step 20 of 20" in status and "seed=1" in code
    assert list(runs) == ["reverse, attention, seed 1"] and runs["reverse, attention, seed 1"][0] == [0, 5, 10, 15, 20]
    frames = list(tab.on_train("reverse", FIXED, 5, 3, 2, runs))  # clamped to 20 steps
    loss, align, status, runs, _ = frames[-1]
    assert "Steps was set to 20" in status and len(runs) == 2 and len(loss.data) == 2
    assert "no attention" in align.layout.annotations[0].text


def test_api(client) -> None:
    status, *_ = client.predict("reverse", ATTN, "hello", tab.GREEDY, 1, api_name="/seq2seq_step")
    assert "Step **1 of 6**" in status
    frames = list(client.submit("sort", ATTN, "9513", tab.BEAM, 2, api_name="/seq2seq_run"))
    assert "Finished: correct" in frames[-1][0]
    with pytest.raises(Exception, match="not in"):
        client.predict("reverse", ATTN, "Héllo", tab.GREEDY, 1, api_name="/seq2seq_step")
    assert len(client.predict("dates", api_name="/seq2seq_random")) >= 6


def test_browser(page) -> None:
    page.open(f"?tab={tab.TAB_ID}")  # the app's load event selects the tab: no race with a click
    page.open_tab(tab.TAB_ID)
    p = page.page
    p.locator("#seq2seq-step").click()
    p.locator("#seq2seq-status").get_by_text("Step 1 of").wait_for(timeout=20_000)
    p.locator("#seq2seq-run").click()
    p.locator("#seq2seq-status").get_by_text("Finished").wait_for(timeout=90_000)
    assert p.locator("#seq2seq-alignment .heatmaplayer").count() == 1
    p.locator("#seq2seq-compare").click()
    p.locator("#seq2seq-compare-plot .scatterlayer .trace").nth(1).wait_for(timeout=30_000)
    p.locator("#seq2seq-train").click()
    # Any trained step (the page may skip some of the streamed updates when busy).
    p.locator("#seq2seq-train-status").get_by_text(re.compile(r"Step [1-9]\d* of")).wait_for(timeout=60_000)
    p.locator("#seq2seq-stop").click()
    p.locator("#tab-seq2seq").scroll_into_view_if_needed()
    path = page.screenshot("seq2seq")
    assert_not_blank(path)
    p.locator("#seq2seq-input textarea, #seq2seq-input input").first.fill("Hello!")
    p.locator("#seq2seq-step").click()
    p.get_by_text("not in the 'Reverse a string' vocabulary").first.wait_for(timeout=15_000)
    assert not page.console_errors, page.console_errors
    assert not page.outside_requests, page.outside_requests
