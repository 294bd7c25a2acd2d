"""The fine-tuning tab: handlers called directly (bad input included), every "Try this"
prompt as a test_lesson_finetune_* test, the "Show the code" panels run in a subprocess,
the API through gradio_client, and the tab in a real browser."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch

from components import finetune_tab as T
from playground.hf import finetune as ft
from playground.service.model_service import DEFAULT_ENCODER, get_service
from tests.conftest import assert_not_blank, run_lab_notebook

torch.set_num_threads(1)
CSV = "id,review,sentiment\n" + "".join(
    f'{k},"{"a truly wonderful film" if k % 2 else "a dull, boring mess"} number {k}",{"pos" if k % 2 else "neg"}\n'
    for k in range(40))
# mode, N, examples, epochs, lr, max length, batch, seed, time limit
TINY = ["head", 1, 16, 1, 1e-3, 16, 8, 0, 120]
SEEDS = range(5)


def request(session: str) -> SimpleNamespace:
    return SimpleNamespace(session_hash=session)


def train(data, *settings, session: str) -> T.TrainView:
    """Run on_train to the end; the last update."""
    return list(T.on_train(data, DEFAULT_ENCODER, *settings, request=request(session)))[-1]


@pytest.fixture()
def csv_file(tmp_path) -> Path:
    path = tmp_path / "reviews.csv"
    path.write_text(CSV)
    return path


@pytest.fixture(scope="module")
def movies():
    return T.on_load_data("movies", "rotten_tomatoes", None, "text", "label", "imdb", DEFAULT_ENCODER, 64)


# --- handlers ---------------------------------------------------------------------------------
def test_load_movie_reviews_shows_rows_balance_lengths_and_map(movies):
    data, rows, summary, balance, lengths, code = movies
    assert len(data) == 8530 and len(rows) == 8 and rows[0][1] in ("negative", "positive")
    assert "**8,530 rows**" in summary and "`input_ids`" in summary and "`attention_mask`" in summary
    assert list(balance.data[0]["y"]) == [4265, 4265]
    assert len(lengths.data[0]["x"]) == 2000 and "max length 64" in lengths.layout["annotations"][0]["text"]
    assert 'load_dataset("csv", data_files=' in code and "dataset.map(tokenize, batched=True)" in code


def test_upload_picks_columns_and_loads_them(csv_file):
    table, text_col, label_col, info = T.on_upload(str(csv_file))
    assert (text_col.value, label_col.value) == ("review", "sentiment")
    assert text_col.choices == label_col.choices and "40 rows" in info
    data, rows, summary, balance, _, code = T.on_load_data(
        "upload", "", table, "review", "sentiment", "", DEFAULT_ENCODER, 32)
    assert data.label_names == ("neg", "pos") and rows[0] == ["a dull, boring mess number 0", "neg"]
    assert list(balance.data[0]["y"]) == [20, 20] and "reviews.csv" in code


@pytest.mark.parametrize("content, message", [
    (b'text,label\n"no closing quote,pos\n', "not a valid CSV"),
    (b"text,label\n\xe9t\xe9 caf\xe9,pos\n", "not UTF-8"),
])
def test_bad_uploads_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(gr.Error, match=message):
        T.on_upload(str(path))


def test_fifty_megabyte_upload_is_refused(tmp_path):
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:
        handle.truncate(50 * 2**20)
    with pytest.raises(gr.Error, match="50.0 MB; the limit is 10 MB"):
        T.on_upload(str(path))


@pytest.mark.parametrize("csv_text, label_col, message", [
    (CSV, "stars", "no column 'stars'"),
    ("review,sentiment\nonly one,pos\n", "sentiment", "at least 10"),
    ("review,sentiment\n" + "x,pos\n" * 12, "sentiment", "at least two different labels"),
])
def test_unusable_data_raises_clear_errors(tmp_path, csv_text, label_col, message):
    path = tmp_path / "data.csv"
    path.write_text(csv_text)
    table = T.on_upload(str(path))[0]
    with pytest.raises(gr.Error, match=message):
        T.on_load_data("upload", "", table, "review", label_col, "", DEFAULT_ENCODER, 32)
    with pytest.raises(gr.Error, match="offline"):
        T.on_load_data("hub", "", None, "text", "label", "imdb", DEFAULT_ENCODER, 32)


def test_train_save_zip_and_push_through_the_handlers(csv_file):
    table = T.on_upload(str(csv_file))[0]
    data = T.on_load_data("upload", "", table, "review", "sentiment", "", DEFAULT_ENCODER, 32)[0]
    settings = list(TINY)
    settings[4] = 0  # learning rate 0 is clamped, with a note
    view = train(data, *settings, session="tab-a")
    run = view.run
    assert run.last.done and "Finished" in view.status and "Learning rate was set to 1e-06" in view.status
    assert "logistic regression on the frozen embeddings" in view.status
    assert list(view.accuracy_plot.data[0]["x"])[0] == 0
    bars = list(view.compare_plot.data[0]["y"])
    baselines = run.last.baselines
    assert bars == pytest.approx([baselines.majority, baselines.frozen_embedding,
                                  run.compare().base_accuracy, run.last.eval_accuracy[-1]])
    assert len(view.compare_rows) == min(ft.SHOWCASE, run.cfg.n_eval) and view.compare_rows[0][3][0] in "✓✗"
    assert "lr=1e-06" in view.code and "LogisticRegression" in view.code
    saved, message, code = T.on_save(run, "tab-model")
    assert "finetuned/tab-model" in message and "encoder.save_pretrained('tab-model')" in code
    assert "finetuned/tab-model" in get_service().available_ids("text-classification", session="tab-a")
    assert "finetuned/tab-model" not in get_service().available_ids("text-classification", session="tab-b")
    archive = Path(T.on_zip(saved, request("tab-a")))
    assert archive.suffix == ".zip" and archive.is_file()
    with pytest.raises(gr.Error, match="offline") as err:
        T.on_push(saved, "me/tab-model", "hf_do_not_echo")
    assert "hf_do_not_echo" not in str(err.value)
    T.end_session_state(run)
    assert not saved.folder.exists()


def test_handlers_without_a_model_say_what_to_do():
    assert T.on_stop(None) == "Nothing is training."
    with pytest.raises(gr.Error, match="Fine-tune a model first"):
        T.on_save(None, "x")
    with pytest.raises(gr.Error, match="Save the model first"):
        T.on_zip(None, request("tab-c"))
    with pytest.raises(gr.Error, match="lower-case letters"):
        T.on_save(SimpleNamespace(last=SimpleNamespace(done=True)), "Bad Name!")
    with pytest.raises(gr.Error, match="no id"):
        next(T.on_train(None, DEFAULT_ENCODER, *TINY, request=request("../x")))
    with pytest.raises(gr.Error, match="not reachable"):  # a hub model, offline
        next(T.on_train(None, "bert-base-uncased", *TINY, request=request("tab-c")))


def test_a_second_train_in_the_same_session_gets_a_clear_message(movies):
    first = T.on_train(movies[0], DEFAULT_ENCODER, "last", 2, 4000, 5, 2e-4, 64, 8, 0, 300,
                       request=request("tab-busy"))
    run = next(first).run  # training runs in its worker
    with pytest.raises(gr.Error, match="already fine-tuning"):
        next(T.on_train(movies[0], DEFAULT_ENCODER, *TINY, request=request("tab-busy")))
    first.close()  # what a cancel does: returns at once
    ft.end_session("tab-busy")
    deadline = time.monotonic() + 120
    while run.running and time.monotonic() < deadline:  # the worker ends by itself, soon
        time.sleep(0.1)
    assert not run.running and run.model is None


def test_mode_sets_a_learning_rate_that_suits_it():
    assert T.on_mode("head").value == 3e-3 and T.on_mode("full").value == 5e-5


def test_events_join_the_named_queues():
    import app

    groups = {fn.api_name: fn.concurrency_id for fn in app.demo.fns.values() if fn.api_name}
    assert groups["finetune_train"] == "training"
    assert groups["finetune_stop"] == "cheap"
    assert groups["finetune_save"] == groups["finetune_zip"] == "model"


# --- the lessons: one test per "Try this" prompt ---------------------------------------------
def test_lesson_finetune_prompts_are_all_tested():
    tested = {name for name in globals() if name.startswith("test_lesson_finetune_")}
    assert len(T.TRY_THIS) == len(tested) - 1  # every prompt has its test (this one aside)


def test_lesson_finetune_default_run_beats_the_frozen_embedding_baseline(movies):
    """Prompt 1, the defaults (seed 0), bounded by steps: ends clearly above both baselines."""
    cfg = replace(T.DEFAULTS, max_seconds=float("inf"))  # steps bound the test, never seconds
    run = ft.FinetuneRun(cfg, movies[0], "lesson-default")
    last = list(run.train())[-1]
    assert last.stop_reason == "finished" and last.step == cfg.total_steps
    assert last.eval_accuracy[-1] >= last.baselines.frozen_embedding + 0.03, (last.eval_accuracy, last.baselines)
    assert last.baselines.frozen_embedding > last.baselines.majority + 0.1
    ft.end_session(run.session)


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_finetune_head_only_is_a_linear_probe(movies, seed):
    """Prompt 2: the head alone scores about what logistic regression on the frozen vectors
    scores, with 770 weights against 3.5 M for the last two layers."""
    view = train(movies[0], "head", 2, 256, 3, ft.MODE_LEARNING_RATES["head"], 32, 16, seed, 300,
                 session=f"lesson-head-{seed}")
    last = view.run.last
    assert view.run.trainable == 770 and "**770 of" in view.status
    assert abs(last.eval_accuracy[-1] - last.baselines.frozen_embedding) <= 0.08, (last.eval_accuracy, last.baselines)
    assert last.eval_accuracy[-1] > last.baselines.majority
    model, _ = ft.build_classifier(DEFAULT_ENCODER, ("neg", "pos"), torch.Generator())
    assert ft.choose_trainable(model, "last", 2)[0] > 3_000_000
    ft.end_session(f"lesson-head-{seed}")


@pytest.mark.parametrize("seed", SEEDS)
def test_lesson_finetune_full_with_a_big_learning_rate_answers_one_label(movies, seed):
    """Prompt 3: all layers at lr 0.001 collapse to one answer (warned); at 0.00005 they do not."""
    wrecked = train(movies[0], "full", 1, 48, 2, 1e-3, 32, 16, seed, 300, session=f"lesson-full-{seed}")
    assert wrecked.run.last.single_answer and "for **every** held-out review" in wrecked.status
    gentle = train(movies[0], "full", 1, 48, 2, 5e-5, 32, 16, seed, 300, session=f"lesson-full-{seed}")
    assert not gentle.run.last.single_answer and "for **every**" not in gentle.status
    ft.end_session(f"lesson-full-{seed}")


def test_lesson_finetune_imdb_reviews_are_cut_at_max_length_64():
    """Prompt 4: at max length 64 nearly every IMDb review is cut; the median is over 200 tokens."""
    _, _, summary, _, lengths, _ = T.on_load_data("movies", "imdb", None, "text", "label", "imdb",
                                                  DEFAULT_ENCODER, 64)
    tokens = np.asarray(lengths.data[0]["x"])
    assert np.mean(tokens > 64) >= 0.9 and np.median(tokens) > 200
    assert re.search(r"(9\d|100)% longer than max length 64", summary)


def test_lesson_finetune_stop_halfway_keeps_what_was_learned(movies):
    """Prompt 5: Stop ends after the current step; the model keeps its updates and is measured."""
    stream = T.on_train(movies[0], DEFAULT_ENCODER, "last", 1, 256, 1, 5e-4, 32, 8, 0, 300,
                        request=request("lesson-stop"))
    first = next(stream)
    head_before = first.run.model.classifier.weight.detach().clone()
    half = first.run.cfg.total_steps // 2
    for view in stream:
        if not isinstance(view.run, ft.FinetuneRun):  # an idle update (gr.skip) while the worker is busy
            continue
        if view.run.last is not None and view.run.last.step >= half and view.run.running:
            assert T.on_stop(view.run).startswith("⏹ Stopping")
    run = view.run
    assert run.last.stop_reason == "stopped" and half <= run.last.step < run.cfg.total_steps
    assert f"Stopped at step {run.last.step} of {run.cfg.total_steps}" in view.status
    assert run.last.eval_steps[-1] == run.last.step  # measured as it was when it stopped
    assert not torch.equal(run.model.classifier.weight, head_before)
    assert run.compare().tuned_accuracy == run.last.eval_accuracy[-1]
    ft.end_session("lesson-stop")


def test_lesson_finetune_saved_model_is_listed_in_pipelines(movies):
    """Prompt 6: after Save, the Pipelines tab lists the model for this session only, and its
    pipeline gives the same probabilities as the fine-tuned model."""
    from components import pipelines_tab
    from playground.hf import pipelines as pl

    view = train(movies[0], *TINY, session="lesson-save")
    saved, _, _ = T.on_save(view.run, "my-movie-sentiment")
    ids = [v for _, v in pipelines_tab.model_choices("text-classification", "lesson-save")]
    assert saved.model_id in ids
    assert saved.model_id not in [v for _, v in pipelines_tab.model_choices("text-classification", "someone")]
    text = "a wonderful, moving film"
    row = pl.classify([text], saved.model_id, task="text-classification", session="lesson-save").rows[0]
    expected = ft.predict_proba(view.run.model, view.run.tokenizer, [text], 128)[0]
    scores = dict(zip(row.labels, row.scores))
    assert scores["positive"] == pytest.approx(float(expected[1]), abs=1e-4)
    ft.end_session("lesson-save")


def test_lesson_finetune_upload_spam_ham_csv(tmp_path):
    """Prompt 7: an uploaded CSV with its own column names trains on its own labels."""
    rows = [("message", "category")] + [
        (f"WIN a free prize now, call {k}" if k % 2 else f"see you at lunch tomorrow, {k}", "spam" if k % 2 else "ham")
        for k in range(40)]
    path = tmp_path / "sms.csv"
    path.write_text("".join(f'"{a}",{b}\n' for a, b in rows))
    table, text_col, label_col, _ = T.on_upload(str(path))
    assert (text_col.value, label_col.value) == ("message", "category")
    data = T.on_load_data("upload", "", table, "message", "category", "", DEFAULT_ENCODER, 32)[0]
    assert data.label_names == ("ham", "spam")
    view = train(data, "head", 1, 32, 3, 3e-3, 32, 8, 0, 300, session="lesson-upload")
    assert view.run.last.done and view.run.last.eval_accuracy[-1] == 1.0  # an easy task
    ft.end_session("lesson-upload")


# --- the "Show the code" panels, run as a student would ----------------------------------------
def run_panel(code: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NP_CACHE_DIR")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "import playground" not in code and "from playground" not in code
    return result.stdout


def printed(output: str, label: str) -> float:
    return float(re.search(rf"^{re.escape(label)}: ([0-9.]+)$", output, re.M).group(1))


@pytest.mark.parametrize("subset, max_length", [("rotten_tomatoes", 64), ("imdb", 32)])
def test_code_panel_finetune_data(tmp_path, subset, max_length):
    data, _, summary, balance, _, code = T.on_load_data("movies", subset, None, "text", "label", "imdb",
                                                        DEFAULT_ENCODER, max_length)
    assert str(get_service().resolve(DEFAULT_ENCODER).path) in code and f"max_length={max_length}" in code
    output = run_panel(code, tmp_path)
    counts = [int(v) for v in balance.data[0]["y"]]
    assert f"rows: {len(data)} per label: {counts}" in output
    assert f"**{len(data):,} rows**" in summary


@pytest.mark.parametrize("settings", [
    ["head", 1, 64, 2, 3e-3, 32, 16, 1, 300],
    ["last", 1, 48, 1, 5e-4, 32, 16, 2, 300],
])
def test_code_panel_finetune_run(movies, tmp_path, settings):
    view = train(movies[0], *settings, session="panel-run")
    last = view.run.last
    output = run_panel(view.code, tmp_path)
    assert printed(output, "majority class") == pytest.approx(last.baselines.majority, abs=1e-4)
    assert printed(output, "frozen embeddings + logistic regression") == pytest.approx(
        last.baselines.frozen_embedding, abs=1e-4)
    assert printed(output, "before training") == pytest.approx(last.eval_accuracy[0], abs=1e-4)
    assert printed(output, f"after {last.step} steps") == pytest.approx(last.eval_accuracy[-1], abs=1e-4)
    ft.end_session("panel-run")


# --- the notebook: the code panel's "Download notebook", run in a kernel from an empty folder ---
@pytest.mark.parametrize("shown", ["data", "run"])
def test_code_panel_finetune_notebook(movies, tmp_path, shown):
    """What the panel holds after Load & inspect, then after a tiny run: the same numbers."""
    def run_notebook(code: str) -> str:
        return run_lab_notebook(code, T.NOTEBOOK_TITLE, T.LESSON_MD, tmp_path, must_cite="Devlin")

    if shown == "data":
        data, _, _, balance, _, code = movies
        counts = [int(v) for v in balance.data[0]["y"]]
        assert f"rows: {len(data)} per label: {counts}" in run_notebook(code)
        return
    view = train(movies[0], "head", 1, 64, 2, 3e-3, 32, 16, 3, 300, session="panel-notebook")
    last = view.run.last
    output = run_notebook(view.code)
    assert printed(output, "frozen embeddings + logistic regression") == pytest.approx(
        last.baselines.frozen_embedding, abs=1e-4)
    assert printed(output, f"after {last.step} steps") == pytest.approx(last.eval_accuracy[-1], abs=1e-4)
    ft.end_session("panel-notebook")


# --- the API ----------------------------------------------------------------------------------
def test_api_upload_train_stop_and_save(client, csv_file):
    from gradio_client import handle_file

    table_info = client.predict(handle_file(str(csv_file)), api_name="/finetune_upload")
    assert "40 rows" in table_info[-1]
    summary = client.predict("movies", "rotten_tomatoes", "text", "label", "imdb", DEFAULT_ENCODER, 64,
                             api_name="/finetune_data")[1]
    assert "8,530 rows" in summary
    # Train on the movie reviews (the data just loaded) and stop after the first updates.
    job = client.submit(DEFAULT_ENCODER, "last", 1, 512, 1, 1e-3, 16, 8, 0, 300, api_name="/finetune_train")
    deadline = time.time() + 600

    def trained_a_step() -> bool:  # idle updates stream too: wait for a status past step 0
        return any(re.search(r"Step \*\*[1-9]", str(out[0])) for out in job.outputs())

    while not trained_a_step() and not job.done() and time.time() < deadline:
        time.sleep(0.5)
    assert "Nothing is training" not in client.predict(api_name="/finetune_stop")
    status = job.result()[0]
    assert "Stopped at step" in status and "keeps what it learned" in status
    message = client.predict("api-model", api_name="/finetune_save")[0]
    assert "finetuned/api-model" in message
    assert "finetuned/api-model" in get_service().available_ids("text-classification", client.session_hash)


# --- the browser ------------------------------------------------------------------------------
def test_browser_load_and_fine_tune(page):
    page.open(f"?tab={T.TAB_ID}")
    page.open_tab(T.TAB_ID)
    p = page.page
    p.locator("#ft-load").click()
    p.locator("#ft-balance .js-plotly-plot .bars path").first.wait_for(timeout=120_000)
    p.get_by_label("head only").check()
    examples = p.locator("#ft-ntrain input[type=number]")
    examples.fill("32")
    examples.press("Enter")
    p.locator("#ft-train").click()
    p.get_by_text("Finished.").wait_for(timeout=300_000)
    p.locator("#ft-compare .js-plotly-plot .bars path").first.wait_for(timeout=30_000)
    assert p.locator("#ft-loss .js-plotly-plot .scatterlayer path.js-line").count() >= 1
    assert p.get_by_text("logistic regression on the frozen embeddings").count() >= 1
    assert_not_blank(page.screenshot("finetune"))
    assert not page.console_errors
    assert not page.outside_requests
