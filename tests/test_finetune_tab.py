"""The fine-tuning tab: handlers called directly (bad input included), the API through
gradio_client (upload, train, stop, save), and the tab in a real browser."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
import torch

from components import finetune_tab as T
from playground.hf import finetune as ft
from playground.service.model_service import DEFAULT_ENCODER, get_service
from tests.conftest import assert_not_blank

torch.set_num_threads(1)
CSV = "id,review,sentiment\n" + "".join(
    f'{k},"{"a truly wonderful film" if k % 2 else "a dull, boring mess"} number {k}",{"pos" if k % 2 else "neg"}\n'
    for k in range(40))
# data, model, mode, N, examples, epochs, lr, max length, batch, seed, time limit
TINY = ["head", 1, 16, 1, 1e-3, 16, 8, 0, 120]


def request(session: str) -> SimpleNamespace:
    return SimpleNamespace(session_hash=session)


@pytest.fixture()
def csv_file(tmp_path) -> Path:
    path = tmp_path / "reviews.csv"
    path.write_text(CSV)
    return path


# --- handlers ---------------------------------------------------------------------------------
def test_load_movie_reviews_shows_rows_balance_lengths_and_map():
    data, rows, summary, balance, lengths, code = T.on_load_data(
        "movies", "rotten_tomatoes", None, "text", "label", "imdb", DEFAULT_ENCODER, 64)
    assert len(data) == 8530 and len(rows) == 8 and rows[0][1] in ("negative", "positive")
    assert "**8,530 rows**" in summary and "`input_ids`" in summary and "`attention_mask`" in summary
    assert list(balance.data[0].y) == [4265, 4265]
    assert len(lengths.data[0].x) == 2000 and "max length 64" in lengths.layout.annotations[0].text
    assert 'load_dataset("csv", data_files=' in code and "dataset.map(tokenize, batched=True)" in code


def test_upload_picks_columns_and_loads_them(csv_file):
    table, text_col, label_col, info = T.on_upload(str(csv_file))
    assert (text_col.value, label_col.value) == ("review", "sentiment")
    assert text_col.choices == label_col.choices and "40 rows" in info
    data, rows, summary, balance, _, code = T.on_load_data(
        "upload", "", table, "review", "sentiment", "", DEFAULT_ENCODER, 32)
    assert data.label_names == ("neg", "pos") and rows[0] == ["a dull, boring mess number 0", "neg"]
    assert list(balance.data[0].y) == [20, 20] and "reviews.csv" in code


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
    outputs = list(T.on_train(data, DEFAULT_ENCODER, *settings, request=request("tab-a")))
    run, status, loss, accuracy, compare, rows, code = outputs[-1]
    assert run.last.done and "Finished" in status and "Learning rate was set to 1e-06" in status
    assert len(loss.data[0].y) >= 1 and list(accuracy.data[0].x)[0] == 0
    assert [bar.y for bar in compare.data][0][0] == pytest.approx(run.compare().base_accuracy)
    assert len(rows) == min(ft.SHOWCASE, run.cfg.n_eval) and rows[0][3][0] in "✓✗"
    assert "learning_rate=1e-06" in code and "trainer.train()" in code
    assert "processing_class=tokenizer" in code and "'classifier.'" in code
    saved, message, code = T.on_save(run, "tab-model")
    assert "finetuned/tab-model" in message and "model.save_pretrained('tab-model')" in code
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


# --- the API ----------------------------------------------------------------------------------
def test_api_upload_train_stop_and_save(client, csv_file):
    from gradio_client import handle_file

    table_info = client.predict(handle_file(str(csv_file)), api_name="/finetune_upload")
    assert "40 rows" in table_info[-1]
    summary = client.predict("movies", "rotten_tomatoes", "text", "label", "imdb", DEFAULT_ENCODER, 64,
                             api_name="/finetune_data")[1]
    assert "8,530 rows" in summary
    # Train on the movie reviews (the data just loaded) and stop after the first updates.
    job = client.submit(DEFAULT_ENCODER, "head", 1, 512, 1, 1e-3, 16, 8, 0, 300,
                        api_name="/finetune_train")
    deadline = time.time() + 600
    while len(job.outputs()) < 3 and not job.done() and time.time() < deadline:
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
    assert_not_blank(page.screenshot("finetune"))
    assert not page.console_errors
    assert not page.outside_requests
