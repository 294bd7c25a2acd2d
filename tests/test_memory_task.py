"""The long-memory task: data, the race generator, the learning claim (LSTM solves a
length where the RNN fails, fixed seed), and the quality of the shipped trained cells."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from playground.recurrent import memory_task as mt
from playground.service.model_service import get_service
from playground.recurrent.cells import encode_chars, unroll

SHIPPED = "neural-playground/memory-rnn-lstm"


def test_batches_put_the_label_first_and_digits_after():
    x, y = mt.make_batch(16, 7, torch.Generator().manual_seed(0))
    assert x.shape == (16, 8, len(mt.VOCAB)) and y.shape == (16,)
    symbols = x.argmax(dim=-1)
    assert torch.equal(symbols[:, 0], y)  # the first symbol is the letter to remember
    assert (symbols[:, 1:] >= len(mt.SIGNALS)).all()  # the rest are digits
    assert torch.allclose(x.sum(dim=-1), torch.ones(16, 8))  # one-hot


def test_example_sequence_reads_like_the_task():
    text = mt.example_sequence(12, seed=1)
    assert len(text) == 13 and text[0] in mt.SIGNALS and set(text[1:]) <= set(mt.DISTRACTORS)


def test_race_generator_yields_bounded_snapshots():
    cfg = mt.MemoryConfig(distractors=3, hidden_size=4, max_steps=20, snapshot_every=5, eval_size=32)
    snaps = list(itertools.islice(mt.train_race(cfg, seed=0), 10))
    assert [s.step for s in snaps] == [5, 10, 15, 20]
    last = snaps[-1]
    assert last.done and last.stopped_by == "steps" and not snaps[0].done
    assert set(last.loss) == {"rnn", "lstm"} and len(last.accuracy["lstm"]) == 4
    assert all(np.isfinite(v).all() for v in last.loss.values())
    assert last.cells["lstm"].weights.hidden_size == 4


def test_race_stops_at_the_time_limit():
    cfg = mt.MemoryConfig(distractors=3, hidden_size=4, max_steps=10_000, max_seconds=0.3,
                          snapshot_every=1000, eval_size=16)
    snaps = list(mt.train_race(cfg, seed=0))
    assert snaps[-1].stopped_by == "time" and snaps[-1].step < 10_000


def test_race_is_repeatable_for_a_seed():
    cfg = mt.MemoryConfig(distractors=4, hidden_size=4, max_steps=10, snapshot_every=10, eval_size=16)
    a, b = list(mt.train_race(cfg, 3))[-1], list(mt.train_race(cfg, 3))[-1]
    assert a.loss == b.loss


def test_lstm_solves_a_length_where_the_rnn_fails():
    """N = 40 distractors, hidden 8, 200 steps, seed 0: the issue's learning claim."""
    cfg = mt.MemoryConfig(distractors=40, hidden_size=8, max_steps=200, snapshot_every=50)
    last = list(mt.train_race(cfg, seed=0))[-1]
    assert last.accuracy["lstm"][-1] >= 0.9, last.accuracy
    assert last.accuracy["rnn"][-1] <= 0.5, last.accuracy


@pytest.mark.parametrize("args, fragment", [
    ((float("nan"), 8, 100), "NaN"), ((40, 0, 100), "hidden size"), ((40, 10**6, 100), "hidden size"),
    ((40, 8, "many"), "must be a number"),
])
def test_bad_race_settings_are_refused(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        mt.check_config(*args)


def test_absurd_race_settings_are_clamped_with_a_note():
    cfg, note = mt.check_config(10**6, 8, 10**9, 10**9)
    assert cfg.distractors == mt.MAX_DISTRACTORS and cfg.max_steps == mt.MAX_TRAIN_STEPS
    assert cfg.max_seconds == mt.MAX_TRAIN_SECONDS and "allowed" in note


def shipped_cells() -> dict:
    state, config = get_service().load_state(SHIPPED)
    assert config["vocab"] == mt.VOCAB and config["hidden_size"] == 8
    return mt.cells_from_state(state)


def test_shipped_cells_have_a_card_and_metadata():
    info = get_service().resolve(SHIPPED)
    assert info.format == "state" and info.size_mb < 1
    card = (info.path / "card.md").read_text()
    assert "python -m playground.train.memory_lstm" in card and "N = 40" in card
    meta = json.loads((info.path / "model_info.json").read_text())
    assert meta["license"] == "mit"


def test_shipped_lstm_and_gru_remember_and_the_rnn_does_not():
    """Measured again here on fresh sequences, not read from the card."""
    cells = shipped_cells()
    x, y = mt.make_batch(500, 40, torch.Generator().manual_seed(12345))
    acc = {kind: mt.accuracy(mt.net_from_cell(kind, cell), x, y) for kind, cell in cells.items()}
    assert acc["lstm"] >= 0.98 and acc["gru"] >= 0.98, acc
    assert acc["rnn"] <= 0.6, acc


def test_stepping_the_shipped_lstm_gives_the_batched_answer():
    """The stepper's numpy equations + read-out agree with the batched torch net."""
    cell = shipped_cells()["lstm"]
    text = "C" + "0312" * 8
    enc = encode_chars(text, tuple(mt.VOCAB))
    probs = cell.readout.probabilities(unroll(cell.weights, enc.x).h)
    assert mt.SIGNALS[int(probs[-1].argmax())] == "C"
    with torch.no_grad():
        logits = mt.net_from_cell("lstm", cell)(torch.from_numpy(enc.x).float()[None])
    np.testing.assert_allclose(probs[-1], torch.softmax(logits[0].double(), -1).numpy(), atol=1e-5)


def test_state_round_trip():
    cfg = mt.MemoryConfig(distractors=2, hidden_size=3, max_steps=5, snapshot_every=5, eval_size=8)
    cells = dict(list(mt.train_race(cfg, 0))[-1].cells)
    back = mt.cells_from_state(mt.cells_to_state(cells))
    np.testing.assert_allclose(back["lstm"].weights.w_hh, cells["lstm"].weights.w_hh, atol=1e-7)
