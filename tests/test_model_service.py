"""The model service: registry, resolution, one load under concurrency, LRU eviction,
offline messages, and the packaged encoder's sanity."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from playground.service import model_service
from playground.service.model_service import (
    DEFAULT_ENCODER, HubAccess, Loaded, ModelInfo, ModelService, ModelUnavailable, cache_dir,
    get_service,
)


class Offline(HubAccess):
    def online(self) -> bool:
        return False


def test_packaged_encoder_is_registered_with_its_folder():
    info = get_service().resolve(DEFAULT_ENCODER)
    assert info.source == "package"
    assert (info.path / "model.safetensors").is_file()
    assert "attention" in info.tasks and info.size_mb > 50


@pytest.mark.parametrize("bad", ["../../etc/passwd", "https://evil.example/model", "a b", "x" * 300,
                                 "owner/name/extra", "/etc/passwd"])
def test_malicious_ids_are_refused_with_the_available_list(bad):
    service = ModelService(hub=Offline())
    with pytest.raises(ModelUnavailable, match="not a model id") as err:
        service.resolve(bad)
    assert DEFAULT_ENCODER in str(err.value)


def test_offline_hub_id_fails_fast_naming_available_models():
    service = ModelService(hub=Offline())
    with pytest.raises(ModelUnavailable) as err:
        service.resolve("bert-base-uncased")
    assert "offline" in str(err.value) and DEFAULT_ENCODER in str(err.value)


def test_hf_hub_offline_env_means_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert HubAccess().online() is False


def test_empty_id_and_wrong_task_are_explained():
    service = ModelService(hub=Offline())
    with pytest.raises(ModelUnavailable, match="choose a model"):
        service.resolve("  ")
    with pytest.raises(ModelUnavailable, match="cannot do 'summarization'"):
        service.resolve(DEFAULT_ENCODER, task="summarization")


def _fake(name: str, mb: int) -> Loaded:
    info = ModelInfo(id=name, tasks=(), source="package", path=None)
    return Loaded(info, object(), None, torch.device("cpu"), nbytes=mb * 2**20)


def test_concurrent_requests_cause_one_load():
    service = ModelService(hub=Offline())
    calls = []
    barrier = threading.Barrier(30)

    def slow_load() -> Loaded:
        calls.append(1)
        threading.Event().wait(0.2)
        return _fake("m", 1)

    results = []

    def ask() -> None:
        barrier.wait()
        results.append(service._cached(("m", None, "AutoModel", False), slow_load))

    threads = [threading.Thread(target=ask) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and service.loads == 1
    assert all(r is results[0] for r in results)


def test_lru_evicts_least_recently_used_within_the_budget():
    service = ModelService(budget_mb=250, hub=Offline())
    for name in ["a", "b"]:
        service._cached((name, None, "AutoModel", False), lambda n=name: _fake(n, 100))
    service._cached(("a", None, "AutoModel", False), lambda: _fake("a", 100))  # touch a
    service._cached(("c", None, "AutoModel", False), lambda: _fake("c", 100))
    assert service.cached_ids() == ["a", "c"]


def test_memo_caches_and_bounds():
    service = ModelService(hub=Offline())
    calls = []
    for _ in range(3):
        service.memo(("k",), lambda: calls.append(1) or 42)
    assert calls == [1]
    for i in range(10):
        service.memo((i,), lambda: i, max_items=4)
    assert len(service._memo) == 4


def test_session_models_are_private_to_their_session(tmp_path):
    service = ModelService(hub=Offline())
    folder = service.session_dir("sessionA") / "my-model"
    folder.mkdir(exist_ok=True)
    service.register_session_model("sessionA", "my-model", folder, ("text-classification",))
    assert "my-model" in service.available_ids("text-classification", session="sessionA")
    assert "my-model" not in service.available_ids("text-classification", session="sessionB")
    with pytest.raises(ModelUnavailable):
        service.resolve("my-model", session="sessionB")
    with pytest.raises(ValueError):
        service.register_session_model("sessionA", "x", tmp_path, ("text-classification",))
    with pytest.raises(ValueError):
        service.session_dir("../../etc")
    service.forget_session("sessionA")
    assert "my-model" not in service.available_ids(session="sessionA")


def test_cache_dir_is_the_apps_own_folder():
    assert cache_dir().is_dir()
    assert Path(model_service.cache_dir()).resolve() != Path(model_service.REPO_ROOT).resolve()


def _embed(loaded: Loaded, texts: list[str]) -> torch.Tensor:
    batch = loaded.tokenizer(texts, padding=True, return_tensors="pt").to(loaded.device)
    with torch.inference_mode():
        hidden = loaded.model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1)
    pooled = (hidden * mask).sum(1) / mask.sum(1)  # mean pooling, as sentence-transformers
    return torch.nn.functional.normalize(pooled, dim=-1)


def test_packaged_encoder_gives_sane_embeddings():
    loaded = get_service().load(DEFAULT_ENCODER, "AutoModel")
    assert loaded.model.config.hidden_size == 384
    assert loaded.model.config.num_hidden_layers == 6 and loaded.model.config.num_attention_heads == 12
    assert not loaded.model.training
    e = _embed(loaded, ["A man is playing the guitar.", "Someone plays a guitar.",
                        "The stock market fell sharply today."])
    paraphrase, unrelated = float(e[0] @ e[1]), float(e[0] @ e[2])
    assert paraphrase > 0.6 > unrelated + 0.3


def test_loading_twice_returns_the_cached_model():
    service = get_service()
    first = service.load(DEFAULT_ENCODER, "AutoModel")
    loads = service.loads
    assert service.load(DEFAULT_ENCODER, "AutoModel") is first and service.loads == loads


def test_eager_attention_returns_attention_weights():
    loaded = get_service().load(DEFAULT_ENCODER, "AutoModel", eager_attention=True)
    batch = loaded.tokenizer("attention please", return_tensors="pt")
    with torch.inference_mode():
        out = loaded.model(**batch, output_attentions=True)
    assert len(out.attentions) == 6
    assert torch.allclose(out.attentions[0].sum(-1), torch.ones(1, 12, batch["input_ids"].shape[1]),
                          atol=1e-5)


def test_model_config_reads_metadata_without_loading_weights():
    service = ModelService(hub=Offline())
    config = service.model_config(DEFAULT_ENCODER)
    assert config["num_hidden_layers"] == 6 and service.loads == 0
