"""The encoder–decoder tab: handlers called directly, the API through gradio_client, and
the tab in a real browser (Step, Run, Compare, Train)."""

from __future__ import annotations

import ast
import itertools
import re

import gradio as gr
import numpy as np
import pytest

from components import seq2seq_tab as tab
from playground.seq2seq.data import TASKS, make_pairs
from tests.conftest import assert_not_blank, run_lab_notebook
from tests.test_pipelines_tab import run_panel

ATTN, FIXED = list(tab.VARIANTS)


def test_build_inside_blocks() -> None:
    with gr.Blocks() as demo:
        tab.build(demo)


def test_step_advances_and_restarts_on_new_input() -> None:
    out = tab.on_step("reverse", ATTN, "abcd", tab.GREEDY, 1, {})
    status, bar, context, align, beams, view, code = out
    assert view["shown"] == 1 and "Step **1 of 5**" in status
    assert list(bar.data[0]["x"]) == ["a", "b", "c", "d"] and abs(sum(bar.data[0]["y"]) - 1) < 1e-5
    assert "'abcd', 1" in code and "playground" not in code.replace("neural-playground", "")
    out = tab.on_step("reverse", ATTN, "abcd", tab.GREEDY, 1, view)
    assert out[5]["shown"] == 2 and "`abcd` → `dc`" in out[0]
    assert tab.on_step("reverse", ATTN, "abcde", tab.GREEDY, 1, out[5])[5]["shown"] == 1


def test_run_plays_every_step_and_checks_the_answer(monkeypatch) -> None:
    monkeypatch.setattr(tab, "RUN_DELAY_S", 0)
    frames = list(tab.on_run("reverse", ATTN, "playground", tab.BEAM, 3, {}))
    assert len(frames) == len("playground") + 1  # one per character plus </s>
    status, _, context, align, beams, view, _ = frames[-1]
    assert "Finished: correct" in status and "Beams after" in beams and beams.count("<tr><td") == 3
    assert align.data[0]["z"].shape == (11, 10)
    assert context.data[0]["z"].shape[0] == 11


def test_fixed_context_model_says_it_has_no_attention() -> None:
    status, bar, context, align, *_ = tab.on_step("sort", FIXED, "3141", tab.GREEDY, 1, {})
    assert "no attention" in bar.layout["annotations"][0]["text"]
    assert "no attention" in align.layout["annotations"][0]["text"]


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("Hello!", "not in"), ("😀", "not in"), ("a" * 31, "trained on"), ("x" * 50_000, "limit"),
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
    assert [t["name"] for t in fig.data] == [ATTN, FIXED]
    attn_long, fixed_long = (sum(t["y"][-5:]) / 5 for t in fig.data)
    assert attn_long > fixed_long + 30  # percentage points on the longest inputs
    assert "shortest" in summary and "longest" in summary


def test_live_training_streams_and_keeps_earlier_runs() -> None:
    frames = list(itertools.islice(tab.on_train("reverse", ATTN, 20, 3, 1, {}), 5))
    loss, align, status, runs, code = frames[-1]
    assert "Step 20 of 20" in status and "steps, seed = 20, 1" in code
    assert list(runs) == ["reverse, attention, seed 1"] and runs["reverse, attention, seed 1"][0] == [0, 5, 10, 15, 20]
    frames = list(tab.on_train("reverse", FIXED, 5, 3, 2, runs))  # clamped to 20 steps
    loss, align, status, runs, _ = frames[-1]
    assert "Steps was set to 20" in status and len(runs) == 2 and len(loss.data) == 2
    assert "no attention" in align.layout["annotations"][0]["text"]


def test_api(client) -> None:
    status, *_ = client.predict("reverse", ATTN, "hello", tab.GREEDY, 1, api_name="/seq2seq_step")
    assert "Step **1 of 6**" in status
    frames = list(client.submit("sort", ATTN, "9513", tab.BEAM, 2, api_name="/seq2seq_run"))
    assert "Finished: correct" in frames[-1][0]
    with pytest.raises(Exception, match="not in"):
        client.predict("reverse", ATTN, "Héllo", tab.GREEDY, 1, api_name="/seq2seq_step")
    assert len(client.predict("dates", api_name="/seq2seq_random")) >= 6


@pytest.mark.parametrize("args, endpoint, message", [
    (("reverse", ATTN, "hello", tab.BEAM, [1, 2]), "/seq2seq_step", "Beam width must be a number"),
    (("reverse", ATTN, "many", 8, 0), "/seq2seq_train", "Steps must be a number"),
    (("reverse", ATTN, 40, 8, {"seed": 1}), "/seq2seq_train", "Seed must be a number"),
    ((3, ATTN, "abc", tab.GREEDY, 1), "/seq2seq_step", "not in the list of choices"),
])
def test_api_wrong_typed_values_get_a_clear_message(client, args, endpoint, message) -> None:
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name=endpoint)


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
    assert "Step" not in p.locator("#seq2seq-status").inner_text()  # the old result's line is gone
    assert not page.console_errors, page.console_errors
    assert not page.outside_requests, page.outside_requests


# --- handlers: named results, wrong types, numbers that never wrap ---------------------------
def test_private_handlers_validate_wrong_types() -> None:
    with pytest.raises(gr.Error, match="Unknown task"):
        tab.on_task_change(["reverse"], ATTN)
    with pytest.raises(gr.Error, match="Choose a model"):
        tab.on_model_change("reverse", ["x"])
    with pytest.raises(gr.Error, match="Decoding must be"):
        tab.on_method(3)
    with pytest.raises(gr.Error, match="Decoding must be"):
        tab.on_step("reverse", ATTN, "abc", "Sampling", 1, {})
    with pytest.raises(gr.Error, match="must be a number"):
        tab.on_step("reverse", ATTN, "abc", tab.BEAM, [1, 2], {})
    with pytest.raises(gr.Error, match="Unknown task"):
        tab.on_random({"task": "reverse"})
    with pytest.raises(gr.Error, match="must be a number"):
        next(tab.on_train("reverse", ATTN, "many", 8, 0, {}))
    assert tab.on_step("reverse", ATTN, "abc", tab.GREEDY, 1, "not a view").view["shown"] == 1


def test_beam_table_numbers_never_wrap() -> None:
    frame = tab.on_step("reverse", FIXED, "abcdefghijklmnop", tab.BEAM, 4, {})
    cells = re.findall(r"<td([^>]*)>(-?[0-9.]+)</td>", frame.beams)
    assert len(cells) == 8  # rank and log p of each of the 4 beams
    assert all("white-space:nowrap" in style for style, _ in cells)


def test_an_error_clears_the_previous_status_line_first() -> None:
    """Step, Run and Train first empty their status line in the browser, then run."""
    import app

    config = app.demo.get_config_file()
    ids = {c["id"]: c for c in config["components"]}
    statuses = {c["id"] for c in config["components"]
                if c.get("props", {}).get("elem_id") in ("seq2seq-status", "seq2seq-train-status")}
    clears = [dep for dep in config["dependencies"] if dep.get("js") == tab.CLEAR]
    assert {dep["outputs"][0] for dep in clears} == statuses and len(clears) == 4
    assert all(ids[dep["outputs"][0]]["type"] == "markdown" for dep in clears)


# --- lessons: each "Try this" prompt, driven through the handlers it names --------------------
def random_inputs(length: int, task: str = "reverse") -> list[str]:
    return [make_pairs(TASKS[task], 1, seed, length=length)[0][0] for seed in range(5)]


def peaks(frame) -> list[int]:
    """The input position each output step attended to most (rows of the alignment)."""
    z = np.asarray(frame.alignment.data[0]["z"], dtype=float)
    return [int(np.nanargmax(row)) for row in z if not np.all(np.isnan(row))]


def test_lesson_seq2seq_attention_walks_backwards_on_reverse() -> None:
    frame = tab.on_step("reverse", ATTN, "attention", tab.GREEDY, 1, {})
    bars = []
    while frame.view["shown"] < 10:
        bars.append(int(np.argmax(frame.attention.data[0]["y"])))
        frame = tab.on_step("reverse", ATTN, "attention", tab.GREEDY, 1, frame.view)
    assert bars == list(range(8, -1, -1))  # step t looks at letter n - t: backwards
    assert peaks(frame)[:9] == list(range(8, -1, -1))  # the anti-diagonal


def test_lesson_seq2seq_fixed_context_and_twenty_letters(monkeypatch) -> None:
    monkeypatch.setattr(tab, "RUN_DELAY_S", 0)
    fixed = list(tab.on_run("reverse", FIXED, "attention", tab.GREEDY, 1, {}))[-1]
    contexts = np.asarray(fixed.context.data[0]["z"])
    np.testing.assert_allclose(contexts, contexts[:1].repeat(len(contexts), 0))  # identical rows
    for text in random_inputs(20):
        with_attention, _ = tab.decode("reverse", ATTN, text, tab.GREEDY, 1)
        without, _ = tab.decode("reverse", FIXED, text, tab.GREEDY, 1)
        assert with_attention.output == text[::-1] and without.output != text[::-1], text


def test_lesson_seq2seq_compare_reverse_falls_sort_does_not() -> None:
    reverse, _ = tab.on_compare("reverse")
    attn, fixed = (np.asarray(t["y"]) for t in reverse.data)
    assert fixed[:4].mean() > 80 and fixed[-5:].mean() < 20 and attn[-5:].mean() > 85
    sort, _ = tab.on_compare("sort")
    attn, fixed = (np.asarray(t["y"]) for t in sort.data)
    assert fixed[-5:].mean() > 85 and abs(attn[-5:].mean() - fixed[-5:].mean()) < 10


def test_lesson_seq2seq_beyond_the_trained_length(monkeypatch) -> None:
    """26 letters (trained up to 20): a warning, a too-short output, a broken anti-diagonal."""
    monkeypatch.setattr(tab, "RUN_DELAY_S", 0)
    for text in random_inputs(26):
        frame = list(tab.on_run("reverse", ATTN, text, tab.GREEDY, 1, {}))[-1]
        assert "beyond the 20 the models were trained on" in frame.status
        output = re.search(r"→ `([a-z]*)`", frame.status).group(1)
        assert output != text[::-1] and len(output) < 26, text
        looked = peaks(frame)[:-1]  # the steps that wrote a letter
        assert set(range(26)) - set(looked), (text, looked)  # some input letters never looked at
        assert "wrong, the answer is" in frame.status


def test_lesson_seq2seq_dates_month_attention_and_ordinals(monkeypatch) -> None:
    monkeypatch.setattr(tab, "RUN_DELAY_S", 0)
    for text, month in (("Nov 28, 2026", "Nov"), ("28 November 2026", "November")):
        decoding, _ = tab.decode("dates", ATTN, text, tab.GREEDY, 1)
        assert decoding.output == "2026-11-28"
        start = text.index(month)
        for step in decoding.steps[5:7]:  # writing the month "11"
            assert start <= int(np.argmax(step.weights)) < start + len(month), text
    frame = list(tab.on_run("dates", ATTN, "28th November 2026", tab.GREEDY, 1, {}))[-1]
    assert "the answer is `2026-11-28`" in frame.status  # graded right; the model never saw "28th"


def test_lesson_seq2seq_a_wider_beam_does_not_rescue_fixed_context() -> None:
    for text in random_inputs(18):
        greedy, _ = tab.decode("reverse", FIXED, text, tab.GREEDY, 1)
        beam, _ = tab.decode("reverse", FIXED, text, tab.BEAM, 4)
        assert beam.output != text[::-1] and greedy.output != text[::-1], text
        assert beam.beams[-1][0].logprob >= greedy.beams[-1][0].logprob - 1e-6  # more likely, still wrong


def test_lesson_seq2seq_training_sharpens_the_alignment() -> None:
    """Defaults of the lab (250 steps, inputs up to 8 letters), with and without attention."""
    def sharpness(frame) -> float:
        """Mean of each letter-writing step's largest attention weight (1 = one sharp peak)."""
        z = np.asarray(frame.alignment.data[0]["z"], dtype=float)
        rows = z[~np.all(np.isnan(z), axis=1)]
        return float(np.mean(np.nanmax(rows[:-1] if len(rows) > 1 else rows, axis=1)))

    for seed in range(5):
        with_attention = list(tab.on_train("reverse", ATTN, 250, 8, seed, {}))
        without = list(tab.on_train("reverse", FIXED, 250, 8, seed, with_attention[-1].runs))
        losses = {label: curve[1][-1] for label, curve in without[-1].runs.items()}
        assert losses[f"reverse, attention, seed {seed}"] < 0.2 < losses[f"reverse, fixed, seed {seed}"]
        assert len(without[-1].loss.data) == 2  # the earlier run stays on the plot, dotted
        assert sharpness(with_attention[0]) < 0.3 < 0.75 < sharpness(with_attention[-1]), seed


# --- code panels: offline, from a temporary folder, printing the handler's numbers ------------
def check_decode_printed(lines: list[str], task, variant, text, method, width) -> None:
    """The decode panel printed what the lab shows: the output, the beams table's best log p
    and where each step attended most."""
    decoding, _ = tab.decode(task, variant, text, method, width)
    assert lines[0] == decoding.output
    assert f"<td style=\"white-space:nowrap;text-align:right;font-variant-numeric:tabular-nums\">{float(lines[1]):.3f}" \
        in tab.beams_html(decoding, len(decoding.steps))  # the beams table's best log p
    if decoding.alignment is not None:
        assert ast.literal_eval(lines[2]) == decoding.alignment.argmax(axis=1).tolist()


def check_train_printed(lines: list[str], frames) -> None:
    """The train panel printed the losses the lab's status lines showed, at the same steps."""
    shown = [(int(m.group(1)), float(m.group(2))) for m in
             (re.search(r"Step (\d+) of 20\*\* · loss ([0-9.]+)", f.status) for f in frames)]
    printed = [(int(step), float(loss)) for step, loss in (line.split() for line in lines)]
    assert [s for s, _ in printed] == [s for s, _ in shown] == [0, 5, 10, 15, 20]
    np.testing.assert_allclose([loss for _, loss in printed], [loss for _, loss in shown], atol=2e-3)


def run_notebook(code: str, panel: str, tmp_path) -> list[str]:
    """The panel's "Download notebook" for these settings, run in a kernel; its printed lines."""
    return run_lab_notebook(code, tab.NOTEBOOK_TITLES[panel], tab.LESSON_MD, tmp_path,
                            must_cite="Bahdanau").strip().splitlines()


@pytest.mark.parametrize("task, variant, text, method, width", [
    ("reverse", ATTN, "attention", tab.BEAM, 3), ("dates", FIXED, "28 Nov 2026", tab.GREEDY, 1),
    ("reverse", ATTN, "abcdefghijklmnopqrstuvwxyz", tab.GREEDY, 1),
])
def test_code_panel_seq2seq_decode(task, variant, text, method, width, tmp_path) -> None:
    frame = tab.on_step(task, variant, text, method, width, {})
    check_decode_printed(run_panel(frame.code, tmp_path), task, variant, text, method, width)


def test_code_panel_seq2seq_decode_notebook(tmp_path) -> None:
    frame = tab.on_step("reverse", FIXED, "notebook", tab.BEAM, 4, {})
    check_decode_printed(run_notebook(frame.code, "decode", tmp_path), "reverse", FIXED, "notebook", tab.BEAM, 4)


@pytest.mark.parametrize("task, variant, seed", [("reverse", ATTN, 1), ("dates", FIXED, 2)])
def test_code_panel_seq2seq_train(task, variant, seed, tmp_path) -> None:
    frames = list(tab.on_train(task, variant, 20, 6, seed, {}))
    check_train_printed(run_panel(frames[-1].code, tmp_path), frames)


def test_code_panel_seq2seq_train_notebook(tmp_path) -> None:
    frames = list(tab.on_train("sort", ATTN, 20, 5, 3, {}))
    check_train_printed(run_notebook(frames[-1].code, "train", tmp_path), frames)


def test_both_panels_download_a_notebook_with_the_lesson() -> None:
    """Each "Show the code" has its own title; the lesson cell cites the papers."""
    assert len(set(tab.NOTEBOOK_TITLES.values())) == 2
    for paper in ("arxiv.org/abs/1409.3215", "arxiv.org/abs/1409.0473", "arxiv.org/abs/1508.04025"):
        assert paper in tab.LESSON_MD
