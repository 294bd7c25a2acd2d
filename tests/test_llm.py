"""SmolLM2 in the model service (GGUF converted once, locked) and the LLM lab's core against
references: transformers' warpers and forward pass, attention and residual invariants."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import (LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper,
                          TopPLogitsWarper)

from playground.service import model_service
from playground.service.model_service import (DEFAULT_ENCODER, SMOLLM2, HubAccess, ModelService,
                                              ModelUnavailable, ensure_converted, get_service)
from playground.transformer import llm


class Offline(HubAccess):
    def online(self) -> bool:
        return False


class Online(HubAccess):
    def online(self) -> bool:
        return True


@pytest.fixture(scope="module")
def loaded():
    """The model once per module: the first run ever converts the GGUF (about a minute)."""
    return llm.load_llm()


@pytest.fixture(scope="module")
def capital(loaded):
    return llm.encode_prompt(loaded.tokenizer, "The capital of France is", chat=False)


# --- the model service ---------------------------------------------------------------------

def test_smollm2_is_registered_for_generation_tokenizers_and_the_lab() -> None:
    service = get_service()
    for task in ("text-generation", "tokenizer", "llm"):
        assert SMOLLM2 in service.available_ids(task)
    assert service.available_ids("tokenizer")[0] == DEFAULT_ENCODER  # the Tokenizers lab's default stays
    assert service.available_ids("text-generation")[0] == SMOLLM2  # Pipelines' default generator
    info = service.resolve(SMOLLM2)
    assert info.format == "gguf" and info.gguf.name == model_service.SMOLLM2_GGUF
    assert model_service.cache_dir() in info.path.parents and info.license == "apache-2.0"


def test_offline_unknown_ids_name_the_available_models() -> None:
    service = ModelService(hub=Offline())
    with pytest.raises(ModelUnavailable, match="offline") as err:
        service.resolve("HuggingFaceTB/SmolLM2-360M-Instruct", task="llm")
    assert SMOLLM2 in str(err.value)
    with pytest.raises(ModelUnavailable, match="cannot do 'llm'") as err:
        service.resolve(DEFAULT_ENCODER, task="llm")
    assert SMOLLM2 in str(err.value)


def test_online_the_same_id_comes_from_the_hub_in_full_precision() -> None:
    info = ModelService(hub=Online()).resolve(SMOLLM2, task="llm")
    assert info.source == "hub" and info.path is None and "llm" in info.tasks


def test_conversion_runs_once_under_eight_concurrent_loads(tmp_path, monkeypatch, loaded) -> None:
    """Eight services (as eight app workers would have) ask at once; a fake converter that
    copies the real converted files counts how often the slow part runs."""
    real = loaded.info.path
    calls = {"tokenizer": 0, "weights": 0}

    def fake(kind: str, names: tuple[str, ...]):
        def convert(gguf: Path, folder: Path) -> None:
            calls[kind] += 1
            time.sleep(0.3)  # long enough for every thread to be waiting on the lock
            for name in names:
                (folder / name).symlink_to(real / name)
        return convert

    monkeypatch.setattr(model_service, "convert_gguf_tokenizer",
                        fake("tokenizer", ("tokenizer.json", "chat_template.jinja", "tokenizer_config.json")))
    monkeypatch.setattr(model_service, "convert_gguf_weights",
                        fake("weights", ("config.json", "generation_config.json", "model.safetensors")))
    info = replace(loaded.info, path=tmp_path / "converted" / "smollm2")
    barrier = threading.Barrier(8)
    folders = []

    def ask(weights: bool) -> None:
        barrier.wait()
        folders.append(ensure_converted(info, weights=weights))

    threads = [threading.Thread(target=ask, args=(i % 2 == 0,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == {"tokenizer": 1, "weights": 1}
    assert folders == [info.path] * 8 and (info.path / "model.safetensors").exists()


def test_a_cached_conversion_loads_without_converting(monkeypatch, loaded) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr(model_service, "convert_gguf_tokenizer", refuse)
    monkeypatch.setattr(model_service, "convert_gguf_weights", refuse)
    service = ModelService(hub=Offline())
    tokenizer = service.load_tokenizer(SMOLLM2)
    assert tokenizer("The capital")["input_ids"] == loaded.tokenizer("The capital")["input_ids"]
    assert service.model_config(SMOLLM2)["num_hidden_layers"] == 30
    assert "quantization_config" not in service.model_config(SMOLLM2)  # plain float32 now


def test_a_broken_conversion_is_redone(tmp_path, monkeypatch, loaded) -> None:
    """A conversion killed half-way leaves no model.safetensors: the next load converts."""
    folder = tmp_path / "smollm2"
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "config.json"):
        shutil.copy(loaded.info.path / name, folder / name)
    done = []
    monkeypatch.setattr(model_service, "convert_gguf_weights", lambda gguf, out: done.append(out))
    ensure_converted(replace(loaded.info, path=folder))
    assert done == [folder]


def test_the_lab_model_is_one_copy_counted_in_the_budget(loaded) -> None:
    service = get_service()
    again = service.load(SMOLLM2, "AutoModelForCausalLM")  # no eager asked: the same copy
    assert again is loaded and loaded.model.config._attn_implementation == "eager"
    assert 500 * 2**20 < loaded.nbytes < 560 * 2**20  # 134.5 M float32 parameters, embeddings tied
    cfg = loaded.model.config
    assert (cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.hidden_size) == (30, 9, 3, 576)


# --- sampling against transformers' warpers -------------------------------------------------

@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, 0, 1.0), (0.7, 0, 1.0), (1.3, 40, 1.0),
                                                       (1.0, 0, 0.9), (0.8, 50, 0.95), (2.0, 5, 0.5)])
def test_our_warps_equal_transformers_warpers(loaded, capital, temperature, top_k, top_p) -> None:
    logits = llm.forward_by_hand(loaded, capital.ids).logits
    cfg, _ = llm.sampling(temperature, top_k, top_p)
    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)]
                                  + ([TopKLogitsWarper(top_k)] if top_k else [])
                                  + ([TopPLogitsWarper(top_p)] if top_p < 1 else []))
    theirs = warpers(torch.tensor([capital.ids]), logits[None].clone())[0].softmax(-1)
    ours = llm.warped(logits, cfg)
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert torch.equal(ours > 0, theirs > 0)  # the same tokens are cut


def test_next_token_reports_the_cut_mass(loaded, capital) -> None:
    logits = llm.forward_by_hand(loaded, capital.ids).logits
    full = llm.next_token(logits, llm.sampling(1.0, 0, 1.0)[0])
    assert full.kept == 49152 and full.cut_mass < 1e-6
    top3 = llm.next_token(logits, llm.sampling(1.0, 3, 1.0)[0])
    assert top3.kept == 3 and abs(top3.warped_probs[:3].sum() - 1) < 1e-5
    assert abs(top3.cut_mass - (1 - full.model_probs[:3].sum())) < 1e-5
    greedy = llm.next_token(logits, llm.sampling(0.0, 0, 1.0)[0])
    assert greedy.kept == 1 and greedy.warped_probs[0] == 1 and greedy.entropy_bits == 0


def test_greedy_completion_of_the_capital_of_france_says_paris(loaded, capital) -> None:
    cfg, _ = llm.sampling(0.0, 0, 1.0, max_new_tokens=4)
    text = loaded.tokenizer.decode([s.token_id for s in llm.stream(loaded, capital.ids, cfg)])
    assert "Paris" in text


def test_a_seeded_sample_repeats_and_another_seed_differs(loaded, capital) -> None:
    def sample(seed: int) -> list[int]:
        cfg, _ = llm.sampling(1.2, 0, 1.0, seed=seed, max_new_tokens=12)
        return [s.token_id for s in llm.stream(loaded, capital.ids, cfg)]

    assert sample(3) == sample(3) and sample(3) != sample(4)
    logits = llm.forward_by_hand(loaded, capital.ids).logits
    cfg, _ = llm.sampling(1.5, 0, 1.0)
    draws = {llm.choose(logits, cfg, "sample", llm.step_seed(seed, 5)) for seed in range(8)}
    assert llm.choose(logits, cfg, "sample", 11) == llm.choose(logits, cfg, "sample", 11)
    assert len(draws) > 1


def test_stopping_the_stream_stops_generation(loaded, capital) -> None:
    cfg, _ = llm.sampling(1.0, 0, 1.0, max_new_tokens=256)
    steps = llm.stream(loaded, capital.ids, cfg)
    first = [next(steps) for _ in range(3)]
    steps.close()  # what Gradio's Stop does to the handler's generator
    assert len(first) == 3
    with pytest.raises(StopIteration):
        next(steps)


def test_limits_are_clamped_or_refused(loaded) -> None:
    cfg, notes = llm.sampling(1.0, 0, 1.0, max_new_tokens=10_000)
    assert cfg.max_new_tokens == llm.MAX_NEW_TOKENS and "New tokens" in notes[0]
    long = llm.encode_prompt(loaded.tokenizer, "word " * 2000, chat=False)
    assert len(long.ids) == llm.MAX_PROMPT_TOKENS and long.truncated and long.n_full >= 2000
    for bad in ("", "   ", None, 12):
        with pytest.raises(ValueError):
            llm.encode_prompt(loaded.tokenizer, bad, chat=False)
    with pytest.raises(ValueError):
        llm.sampling(float("nan"), 0, 1.0)
    with pytest.raises(ValueError):
        llm.choose(torch.zeros(4), cfg, "beam", 0)


def test_a_chat_message_is_wrapped_in_the_chat_template(loaded) -> None:
    prompt = llm.encode_prompt(loaded.tokenizer, "Hi!", chat=True)
    text = loaded.tokenizer.decode(list(prompt.ids))
    assert text.startswith("<|im_start|>system") and text.endswith("<|im_start|>assistant\n")


# --- the forward pass by hand against the real one ------------------------------------------

def test_forward_by_hand_equals_the_transformers_forward(loaded, capital) -> None:
    inside = llm.forward_by_hand(loaded, capital.ids, position=2, layer=7, with_attention=True)
    with torch.inference_mode():
        out = loaded.model(torch.tensor([capital.ids]), output_hidden_states=True, output_attentions=True)
    assert torch.allclose(inside.logits, out.logits[0, -1], atol=1e-3)
    assert torch.allclose(torch.from_numpy(inside.attention), out.attentions[7][0], atol=1e-5)
    # transformers' last hidden state is after the final RMSNorm
    final = llm.rms_norm(torch.from_numpy(inside.final_residual), loaded.model.model.norm.weight,
                         loaded.model.config.rms_norm_eps)
    assert torch.allclose(final, out.hidden_states[-1][0, 2], atol=1e-4)
    assert torch.allclose(torch.from_numpy(inside.rms_after),
                          loaded.model.model.layers[7].input_layernorm(out.hidden_states[7][0, 2]), atol=1e-5)


def test_attention_rows_sum_to_one_and_the_future_is_zero(loaded) -> None:
    ids = llm.encode_prompt(loaded.tokenizer, "Every token looks only at itself and at earlier tokens.", False).ids
    for layer in (0, 14, 29):
        weights = torch.from_numpy(llm.forward_by_hand(loaded, ids, layer=layer, with_attention=True).attention)
        assert weights.shape == (9, len(ids), len(ids))
        assert torch.allclose(weights.sum(-1), torch.ones(9, len(ids)), atol=1e-5)
        assert weights.triu(1).abs().max() == 0
    assert llm.forward_by_hand(loaded, ids).attention is None  # not kept unless asked


def test_the_logit_lens_last_layer_is_the_models_own_prediction(loaded, capital) -> None:
    inside = llm.forward_by_hand(loaded, capital.ids)
    probs = inside.logits.softmax(-1)
    top = torch.topk(probs, llm.LENS_TOP)
    assert inside.lens_ids.shape == (31, llm.LENS_TOP)
    assert inside.lens_ids[-1].tolist() == top.indices.tolist()
    assert torch.allclose(torch.from_numpy(inside.lens_probs[-1]), top.values, atol=1e-5)
    assert loaded.tokenizer.decode([int(inside.lens_ids[-1, 0])]) == " Paris"


def test_sublayer_contributions_add_up_to_the_final_residual(loaded, capital) -> None:
    for position in (0, 3, -1):
        inside = llm.forward_by_hand(loaded, capital.ids, position=position)
        assert inside.contributions.shape == (61, 576)
        total = inside.contributions.sum(0)
        assert abs(total - inside.final_residual).max() < 1e-4 * max(1.0, abs(inside.final_residual).max())
        assert abs(inside.residual_norm[-1] - (inside.final_residual ** 2).sum() ** 0.5) < 1e-2


def test_rms_norm_and_swiglu_match_the_modules(loaded) -> None:
    block = loaded.model.model.layers[3]
    x = torch.randn(5, 576, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.allclose(llm.rms_norm(x, block.input_layernorm.weight, loaded.model.config.rms_norm_eps),
                              block.input_layernorm(x), atol=1e-5)
        out, gate, up = llm.swiglu(block.mlp, x)
        assert torch.allclose(out, block.mlp(x), atol=1e-5)
        assert gate.shape == up.shape == (5, 1536)


# --- the other labs pick it up from the registry ---------------------------------------------

def test_the_tokenizers_lab_and_pipelines_use_smollm2(loaded) -> None:
    from components import tokenizer_tab
    from playground.hf import pipelines

    chips, summary, decoded, _ = tokenizer_tab.on_tokenize("The capital of France is", SMOLLM2, 64)
    assert decoded == "The capital of France is" and "Paris" not in chips
    result = pipelines.generate("The capital of France is", SMOLLM2, max_new_tokens=4, temperature=0.0)
    assert "Paris" in str(result)
