"""The shipped sentiment model (MiniLM + trained top layer, shipped as a delta): held-out
accuracy through the real pipeline, obvious reviews, what ships, deterministic training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from playground.hf import pipelines as pl
from playground.service.model_service import ASSET_MODELS, DEFAULT_ENCODER, get_service
from playground.train import sentiment as train

FOLDER = ASSET_MODELS / "minilm-sentiment"
HELDOUT_ROWS = 600  # a fixed slice of the 1,000 held-out Rotten Tomatoes snippets: fast, still tight
# The target is 80 %; the shipped model (top 2 layers fine-tuned) reaches 83.2 % on
# this slice (82.4 % on all 1,000 through the pipeline, float16 delta). This guards what
# ships: a worse model, a broken delta or a wrong label order fails.
MIN_ACCURACY = 0.83


@pytest.fixture(scope="module")
def classifier():
    loaded = get_service().load(pl.SENTIMENT_MODEL, "AutoModelForSequenceClassification")
    return pl.get_pipeline("sentiment-analysis", loaded)


def test_heldout_accuracy_of_the_shipped_weights(classifier):
    texts, labels = train.split()["heldout_rt"]
    texts, labels = texts[:HELDOUT_ROWS], labels[:HELDOUT_ROWS]
    predicted = [out["label"] == "POSITIVE" for out in classifier(texts, batch_size=32, truncation=True)]
    accuracy = float(np.mean(np.asarray(predicted) == (labels == 1)))
    assert accuracy >= MIN_ACCURACY, f"held-out accuracy {accuracy:.3f}"


def test_clear_reviews_get_the_obvious_label():
    result = pl.classify(["An absolute delight from start to finish: brilliant, moving and funny.",
                          "A dull, lifeless mess. I want my two hours back."], pl.SENTIMENT_MODEL)
    assert [row.labels[0] for row in result.rows] == ["POSITIVE", "NEGATIVE"]
    assert all(row.scores[0] > 0.8 for row in result.rows)
    assert sorted(result.rows[0].labels) == ["NEGATIVE", "POSITIVE"]


def test_only_the_small_trained_tensors_ship():
    info = json.loads((FOLDER / "model_info.json").read_text())
    assert info["base"] == DEFAULT_ENCODER and info["format"] == "delta"
    assert {"sentiment-analysis", "text-classification"} <= set(info["tasks"])
    assert not (FOLDER / "model.safetensors").exists()
    assert (FOLDER / "delta.safetensors").stat().st_size < 10 * 2**20
    assert "held-out" in (FOLDER / "card.md").read_text()
    delta = load_file(str(FOLDER / "delta.safetensors"))
    assert "classifier.weight" in delta and not any(".layer.0." in name for name in delta)


def test_delta_model_is_base_below_and_trained_on_top():
    """The service's model = base weights for the frozen layers + the delta on top."""
    loaded = get_service().load(pl.SENTIMENT_MODEL, "AutoModelForSequenceClassification")
    base = get_service().load(DEFAULT_ENCODER, "AutoModel").model.state_dict()
    ours = loaded.model.state_dict()
    delta = load_file(str(FOLDER / "delta.safetensors"))
    name = "encoder.layer.0.attention.self.query.weight"
    torch.testing.assert_close(ours["bert." + name], base[name])
    for key, value in delta.items():
        torch.testing.assert_close(ours[key], value.float())
    assert loaded.model.config.id2label == {0: "NEGATIVE", 1: "POSITIVE"}


def test_split_is_fixed_and_heldout_never_trained_on():
    parts, again = train.split(), train.split()
    assert parts["heldout_rt"][0] == again["heldout_rt"][0]
    assert not set(parts["heldout_rt"][0]) & set(parts["train_rt"][0])
    assert not set(parts["heldout_imdb"][0]) & set(parts["train_imdb"][0])
    assert max(len(text) for text in parts["heldout_imdb"][0]) <= train.SentimentConfig().imdb_chars
    assert len(parts["heldout_rt"][0]) == 1000 and 0.4 < parts["heldout_rt"][1].mean() < 0.6


def test_training_is_deterministic_from_its_seed():
    cfg = train.SentimentConfig(rt_train=32, imdb_train=16, heldout_rt=16, heldout_imdb=8, epochs=1, batch_size=16)
    first, _, m1 = train.train(cfg)
    second, _, m2 = train.train(cfg)
    n_frozen = first.config.num_hidden_layers - cfg.top_layers
    names = train.trainable_names(first, n_frozen)
    one, two = first.state_dict(), second.state_dict()
    assert all(torch.equal(one[name], two[name]) for name in names)
    assert m1["heldout_rt_accuracy"] == m2["heldout_rt_accuracy"]
