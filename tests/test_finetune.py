"""Fine-tuning core on tiny configs (64 examples, max length 32, a few steps): the cached
frozen layers equal the full forward pass, learning, baselines, stop keeps what was learned,
cancel never waits, save/load round trip, the saved-model cap, session isolation, cleanup."""

from __future__ import annotations

import os
import threading
import time
import zipfile
from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import wait_until
import torch

from playground.hf import datasets_view as dv
from playground.hf import finetune as ft
from playground.service.model_service import DEFAULT_ENCODER, cache_dir, get_service

torch.set_num_threads(1)  # 2 shared cores
TINY = ft.FinetuneConfig(train_mode="last", last_layers=2, n_train=64, n_eval=16, epochs=3,
                         learning_rate=1e-3, max_length=32, batch_size=16, seed=0, max_seconds=300)


@pytest.fixture(scope="module")
def data() -> dv.LabelledData:
    return dv.load_movie_reviews("rotten_tomatoes")


def cross_entropy(run: ft.FinetuneRun, dataset) -> float:
    probs = ft.predict_proba(run.model, run.tokenizer, list(dataset["text"]), run.cfg.max_length)
    return float(-np.mean(np.log(probs[np.arange(len(probs)), list(dataset["label"])])))


def files_under(folder) -> set[str]:
    return {str(p) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def trained(data):
    """One tiny run shared by the learning and saving tests."""
    run = ft.FinetuneRun(TINY, data, "core-a")
    before = cross_entropy(run, run.train_set)
    snaps = list(run.train())
    return run, snaps, before


def test_check_config_clamps_absurd_numbers_with_notes():
    cfg, notes = ft.check_config(replace(TINY, learning_rate=0, epochs=10**6), n_rows=8530)
    assert cfg.learning_rate == 1e-6 and cfg.epochs == 20
    assert any("Learning rate was set to 1e-06" in n for n in notes)
    cfg, notes = ft.check_config(replace(TINY, learning_rate=1e9, n_train=10**9, batch_size=2), 8530)
    assert cfg.learning_rate == 1e-2 and cfg.n_train == ft.MAX_TRAIN
    assert cfg.total_steps <= ft.MAX_STEPS and any("too many" in n for n in notes)
    cfg, notes = ft.check_config(replace(TINY, n_train=500), n_rows=40)
    assert cfg.n_eval == 8 and cfg.n_train == 32 and any("40 rows" in n for n in notes)
    with pytest.raises(ValueError, match="not NaN"):
        ft.check_config(replace(TINY, learning_rate=float("nan")), 100)
    with pytest.raises(ValueError, match="Unknown training mode"):
        ft.check_config(replace(TINY, train_mode="lora"), 100)


def test_modes_train_nested_sets_of_weights():
    model, _ = ft.build_classifier(DEFAULT_ENCODER, ("neg", "pos"), torch.Generator().manual_seed(0))
    counts = {}
    for mode, n in (("head", 1), ("last", 1), ("last", 2), ("full", 1)):
        counts[(mode, n)], total = ft.choose_trainable(model, mode, n)
    assert counts[("head", 1)] == 384 * 2 + 2  # the linear head alone: no pooler
    assert counts[("head", 1)] < counts[("last", 1)] < counts[("last", 2)] < counts[("full", 1)] == total
    assert ft.trainable_prefixes(model, "last", 1) == ("bert.encoder.layer.5.", "classifier.")
    assert not any("pooler" in name for name, _ in model.named_parameters())


def test_the_head_starts_from_the_runs_generator_only():
    torch.manual_seed(123)  # the global generator must not matter
    first = ft.build_classifier(DEFAULT_ENCODER, ("a", "b"), torch.Generator().manual_seed(7))[0]
    torch.manual_seed(456)
    second = ft.build_classifier(DEFAULT_ENCODER, ("a", "b"), torch.Generator().manual_seed(7))[0]
    assert torch.equal(first.classifier.weight, second.classifier.weight)
    assert float(first.classifier.weight.detach().std()) == pytest.approx(0.02, rel=0.2)


def test_mean_pooling_averages_real_tokens_only():
    hidden = torch.arange(24, dtype=torch.float32).view(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    pooled = ft.mean_pool(hidden, mask)
    torch.testing.assert_close(pooled[0], hidden[0, :2].mean(0))
    torch.testing.assert_close(pooled[1], hidden[1].mean(0))


def test_cached_frozen_layers_give_the_full_models_logits():
    """Running layers 0-3 once and 4-5 + head per step is the same function as the model."""
    model, tokenizer = ft.build_classifier(DEFAULT_ENCODER, ("neg", "pos"), torch.Generator().manual_seed(0))
    texts = ["a wonderful, moving film", "dull", "not good at all, and far too long for what it says"]
    ids = tokenizer(texts, truncation=True, max_length=32)["input_ids"]
    states = ft.frozen_states(model, ids, n_frozen=4)
    assert [s.shape for s in states] == [torch.Size([len(t), 384]) for t in ids]
    hidden, mask = ft.pad(states)
    with torch.inference_mode():
        cached = ft.top_logits(model, hidden, mask, n_frozen=4)
        full_ids, full_mask = ft.pad_ids(ids)
        full = model(input_ids=full_ids, attention_mask=full_mask).logits
    torch.testing.assert_close(cached, full, atol=1e-4, rtol=1e-4)


def test_baselines_are_majority_and_logistic_regression(data):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 5))
    labels = (features[:, 0] > 0.3).astype(int)
    baselines = ft.measure_baselines(features[:40], labels[:40], features[40:], labels[40:], ("no", "yes"))
    majority = int(np.bincount(labels[:40]).argmax())
    assert baselines.majority == pytest.approx(np.mean(labels[40:] == majority))
    expected = LogisticRegression(max_iter=2000).fit(features[:40], labels[:40]).score(features[40:], labels[40:])
    assert baselines.frozen_embedding == pytest.approx(expected) and baselines.frozen_embedding > 0.8
    assert baselines.majority_label == ("no", "yes")[majority]


def test_a_model_that_answers_one_label_is_flagged():
    progress = ft.Progress(TINY, ft.Baselines(0.5, 0.6, "neg"), time.monotonic())
    progress.evaluate(3, np.array([1, 1, 1, 1]), np.array([0, 1, 0, 1]), ("neg", "pos"))
    assert progress.snapshot().single_answer == "pos"
    progress.evaluate(4, np.array([1, 0, 1, 1]), np.array([0, 1, 0, 1]), ("neg", "pos"))
    assert progress.snapshot().single_answer == ""


def test_a_few_steps_lower_the_training_loss(trained):
    run, snaps, before = trained
    last = snaps[-1]
    assert last.done and last.stop_reason == "finished" and last.step == TINY.total_steps == 12
    assert all(np.isfinite(s.losses).all() for s in snaps)
    assert [s.step for s in snaps] == sorted(s.step for s in snaps)
    assert last.eval_steps[0] == 0 and last.eval_steps[-1] == last.step
    assert last.baselines is not None and 0 < last.baselines.frozen_embedding <= 1
    after = cross_entropy(run, run.train_set)
    assert after < before - 0.1, (before, after)


@pytest.mark.parametrize("mode", ["head", "last"])
def test_a_small_run_does_not_answer_one_label_for_everything(data, mode):
    """Issue 15: on the untrained pooler, 256 examples left every held-out answer 'negative'."""
    cfg = replace(ft.FinetuneConfig(), train_mode=mode, last_layers=1, n_train=256, n_eval=100,
                  epochs=3 if mode == "head" else 1, learning_rate=3e-3 if mode == "head" else 5e-4,
                  max_length=32, max_seconds=300)
    run = ft.FinetuneRun(cfg, data, f"core-small-{mode}")
    last = list(run.train())[-1]
    assert last.single_answer == ""
    assert last.eval_accuracy[-1] > last.baselines.majority + 0.03, (last.eval_accuracy, last.baselines)
    ft.end_session(run.session)


def test_the_shared_encoder_is_copied_not_trained(trained):
    run, _, _ = trained
    shared = get_service().load(DEFAULT_ENCODER, "AutoModel").model
    layer = "encoder.layer.5.output.dense.weight"
    assert not torch.equal(shared.state_dict()[layer], run.model.state_dict()["bert." + layer])


def test_saved_model_loads_back_with_the_same_predictions(trained):
    run, _, _ = trained
    saved, note = ft.save_model(run, "round-trip")
    assert saved.model_id == "finetuned/round-trip" and note == ""
    assert saved.folder == get_service().session_dir("core-a") / "models" / "round-trip"
    texts = ["a wonderful, moving film", "dull and far too long", "ok"]
    expected = ft.predict_proba(run.model, run.tokenizer, texts, 32)
    loaded = get_service().load(saved.model_id, "AutoModelForSequenceClassification",
                                task="text-classification", session="core-a")
    assert loaded.model.config.id2label == {0: "negative", 1: "positive"}
    assert type(loaded.model).__name__ == "MeanPoolingBertClassifier"
    got = ft.predict_proba(loaded.model, loaded.tokenizer, texts, 32)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    archive = ft.zip_model(saved, "core-a")
    assert archive.parent == get_service().session_dir("core-a") / "downloads"
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= set(zipfile.ZipFile(archive).namelist())
    again = ft.zip_model(saved, "core-a")
    assert list(again.parent.iterdir()) == [again]  # a session keeps only its latest zip


def test_a_fourth_saved_model_replaces_the_oldest(trained):
    run, _, _ = trained
    service = get_service()
    for k, name in enumerate(("cap-1", "cap-2", "cap-3")):
        ft.save_model(run, name)
        time.sleep(0.02)  # distinct modification times
    saved, note = ft.save_model(run, "cap-4")
    names = {f.name for f in ft.saved_models("core-a")}
    assert len(names) == ft.MAX_SAVED_MODELS and "cap-4" in names
    assert "was deleted to make room" in note
    gone = ({"round-trip", "cap-1", "cap-2", "cap-3"} - names)
    assert gone and all(f"finetuned/{n}" not in service.available_ids("text-classification", "core-a") for n in gone)


def test_stop_mid_epoch_keeps_what_was_learned(data):
    cfg = replace(TINY, n_train=512, epochs=1, batch_size=8)
    run = ft.FinetuneRun(cfg, data, "core-stop")
    head_before = run.model.classifier.weight.detach().clone()
    for snap in run.train():
        if snap.step >= 2:
            run.stop()  # what the Stop button does
    assert snap.done and snap.stop_reason == "stopped" and 2 <= snap.step < cfg.total_steps
    assert snap.eval_steps[-1] == snap.step  # measured as it is when stopped
    assert not torch.equal(run.model.classifier.weight, head_before)
    comparison = run.compare()
    assert comparison.tuned_accuracy == snap.eval_accuracy[-1]
    assert len(comparison.texts) == len(comparison.tuned_labels) == ft.SHOWCASE


def test_closing_the_stream_returns_at_once_and_the_worker_ends_by_itself(data):
    """Gradio closes a cancelled stream on its event loop: close() must not wait."""
    run = ft.FinetuneRun(replace(TINY, n_train=2000, epochs=5, batch_size=8), data, "core-close")
    stream = run.train()
    next(stream)
    stream.close()
    assert run.abandoned.is_set() and run.stop_event.is_set()
    assert run.running  # close() returned while the worker was still busy: nothing joined it
    assert wait_until(lambda: not any(t.name == "finetune-core-close" for t in threading.enumerate()), 120)
    assert run.model is None  # an abandoned run frees its model copy


def test_one_session_trains_one_fine_tune_at_a_time(data):
    cfg = replace(TINY, n_train=2000, epochs=5, batch_size=8)
    first = ft.FinetuneRun(cfg, data, "core-busy")
    first.start()
    with pytest.raises(ft.SessionBusy, match="already fine-tuning"):
        ft.FinetuneRun(cfg, data, "core-busy")
    other = ft.FinetuneRun(replace(TINY, train_mode="head"), data, "core-not-busy")  # another session may
    first.abandon()
    assert wait_until(lambda: not first.running, 120)
    second = ft.FinetuneRun(replace(TINY, train_mode="head", epochs=1), data, "core-busy")
    assert list(second.train())[-1].done
    for run in (other, second):
        ft.end_session(run.session)


def test_time_limit_stops_with_a_reason(data):
    run = ft.FinetuneRun(replace(TINY, train_mode="head", max_seconds=0.0), data, "core-time")
    last = list(run.train())[-1]
    assert last.stop_reason == "time limit" and last.step == 0


def test_same_seed_same_model_while_another_run_trains(data):
    """Randomness belongs to the run: two runs in threads with one seed agree exactly."""
    cfg = replace(TINY, train_mode="last", last_layers=1, epochs=1, seed=3)
    runs = [ft.FinetuneRun(cfg, data, s) for s in ("twin-a", "twin-b")]
    results = {}
    threads = [threading.Thread(target=lambda r=r: results.setdefault(r.session, list(r.train())[-1]))
               for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a, b = results["twin-a"], results["twin-b"]
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.eval_accuracy, b.eval_accuracy)
    saved = {r.session: ft.save_model(r, "twin")[0] for r in runs}
    assert saved["twin-a"].folder != saved["twin-b"].folder
    assert "finetuned/twin" not in get_service().available_ids("text-classification", session="someone-else")
    with pytest.raises(ValueError, match="not reachable"):
        get_service().resolve("finetuned/twin", session="someone-else")
    for r in runs:
        ft.end_session(r.session)


def test_nothing_is_written_outside_the_session_folder(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = files_under(cache_dir())
    run = ft.FinetuneRun(replace(TINY, train_mode="head", epochs=1), data, "core-write")
    list(run.train())
    ft.zip_model(ft.save_model(run, "written")[0], "core-write")
    new = files_under(cache_dir()) - before
    session = str(get_service().session_dir("core-write"))
    assert new and all(path.startswith(session + os.sep) for path in new)
    assert list(tmp_path.iterdir()) == []


def test_model_names_and_push_are_checked():
    with pytest.raises(ValueError, match="lower-case letters"):
        ft.check_model_name("../../etc")
    saved = ft.SavedModel("finetuned/x", cache_dir())
    with pytest.raises(ValueError, match="offline") as err:
        ft.push_to_hub(saved, "me/x", "hf_secret_token_123")
    assert "hf_secret_token_123" not in str(err.value)
    with pytest.raises(ValueError, match="your-username/model-name"):
        ft.push_to_hub(saved, "not a repo", "hf_x")


def test_ending_a_session_frees_its_run_and_files(trained):
    run, _, _ = trained
    saved, _ = ft.save_model(run, "to-clean")
    ft.end_session("core-a")
    assert not saved.folder.exists() and run.model is None
    assert "finetuned/to-clean" not in get_service().available_ids("text-classification", "core-a")
    old = get_service().session_dir("stale-session")
    fresh = get_service().session_dir("fresh-session")
    long_ago = time.time() - ft.SESSION_MAX_AGE_S - 60
    os.utime(old, (long_ago, long_ago))
    assert "stale-session" in ft.sweep_old_sessions()
    assert not old.exists() and fresh.exists()
    ft.end_session("../../")  # not a session id: ignored, nothing deleted
    assert cache_dir().exists()
