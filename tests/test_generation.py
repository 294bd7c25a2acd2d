"""Step-by-step generation on the shipped tiny GPT-2: seeds, limits, agreement with
``transformers.pipeline``, the decoding filters against transformers' own warpers, the
model's quality against a unigram baseline, and a deterministic training script."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import (LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper,
                          TopPLogitsWarper, pipeline)

from playground.text.generation import (MAX_NEW_TOKENS, SamplingConfig, generate, generate_steps,
                                   load_reviews_gpt2, make_sampling, perplexity, warp)
from playground.service.model_service import ASSET_MODELS, get_service
from playground.train import reviews_gpt2 as train_gpt

PROMPT = "This movie was"


@pytest.fixture(scope="module")
def lm():
    loaded = load_reviews_gpt2()
    return loaded.model, loaded.tokenizer


def card() -> dict:
    return json.loads((ASSET_MODELS / "reviews-gpt2" / "model_info.json").read_text())


def test_same_seed_same_text_other_seed_other_text(lm) -> None:
    model, tok = lm
    cfg = SamplingConfig(max_new_tokens=25, temperature=1.0, top_k=50, seed=7)
    first, again = generate(model, tok, PROMPT, cfg), generate(model, tok, PROMPT, cfg)
    other = generate(model, tok, PROMPT, SamplingConfig(max_new_tokens=25, temperature=1.0, top_k=50, seed=8))
    assert first.new_ids == again.new_ids and first.text == again.text
    assert first.new_ids != other.new_ids
    assert [s.token_id for s in generate_steps(model, tok, PROMPT, cfg)] == list(first.new_ids)


@pytest.mark.parametrize("n", [1, 7, 30])
def test_respects_max_new_tokens(lm, n: int) -> None:
    model, tok = lm
    for cfg in (SamplingConfig(max_new_tokens=n, temperature=0.0),
                SamplingConfig(max_new_tokens=n, temperature=1.5, seed=1)):
        gen = generate(model, tok, PROMPT, cfg)
        assert 1 <= len(gen.steps) <= n
        assert len(gen.steps) == n or gen.stopped_at_eos
        assert [s.step for s in gen.steps] == list(range(1, len(gen.steps) + 1))


def test_greedy_equals_the_real_pipeline(lm) -> None:
    model, tok = lm
    pipe = pipeline("text-generation", model=model, tokenizer=tok)
    for prompt in (PROMPT, "The acting", "I would not recommend"):
        ours = generate(model, tok, prompt, SamplingConfig(max_new_tokens=20, temperature=0.0))
        theirs = pipe(prompt, do_sample=False, max_new_tokens=20, return_tensors=True)
        assert theirs[0]["generated_token_ids"] == list(ours.prompt_ids) + list(ours.new_ids)
        text = pipe(prompt, do_sample=False, max_new_tokens=20)[0]["generated_text"]
        assert text == ours.text


def test_each_step_reports_the_models_distribution(lm) -> None:
    model, tok = lm
    gen = generate(model, tok, PROMPT, SamplingConfig(max_new_tokens=3, temperature=0.0))
    ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        probs = model(input_ids=torch.tensor([ids])).logits[0, -1].softmax(-1)
    first = gen.steps[0]
    expected = torch.topk(probs, len(first.top_ids))
    assert list(first.top_ids) == expected.indices.tolist()
    np.testing.assert_allclose(first.top_model_probs, expected.values.numpy(), rtol=1e-4, atol=1e-6)
    assert first.token_id == first.top_ids[0] and first.prob == 1.0 and first.support == 1
    assert first.entropy_bits == 0.0
    assert list(first.top_model_probs) == sorted(first.top_model_probs, reverse=True)


@pytest.mark.parametrize("temperature,top_k,top_p", [(1.0, 5, 1.0), (0.7, 0, 0.5), (1.3, 40, 0.9),
                                                     (2.0, 0, 1.0), (0.5, 3, 0.2)])
def test_warp_matches_transformers_warpers(temperature: float, top_k: int, top_p: float) -> None:
    logits = torch.randn(4096, generator=torch.Generator().manual_seed(0)) * 3
    cfg = SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p)
    processors = LogitsProcessorList([TemperatureLogitsWarper(temperature)]
                                     + ([TopKLogitsWarper(top_k)] if top_k else [])
                                     + ([TopPLogitsWarper(top_p)] if top_p < 1 else []))
    reference = processors(torch.zeros(1, 1, dtype=torch.long), logits[None].clone())[0].softmax(-1)
    torch.testing.assert_close(warp(logits, cfg), reference, atol=1e-7, rtol=1e-5)


def test_top_k_and_top_p_restrict_the_support(lm) -> None:
    model, tok = lm
    top_k = generate(model, tok, PROMPT, SamplingConfig(max_new_tokens=15, top_k=5, seed=2))
    for step in top_k.steps:
        assert step.support <= 5 and step.token_id in step.top_ids[:5]
        assert sum(step.top_probs[:5]) == pytest.approx(1.0, abs=1e-5)
    top_p = generate(model, tok, PROMPT, SamplingConfig(max_new_tokens=15, top_p=0.3, seed=2))
    free = generate(model, tok, PROMPT, SamplingConfig(max_new_tokens=15, seed=2))
    for step in top_p.steps:
        kept_mass = sum(p for p, q in zip(step.top_model_probs, step.top_probs) if q > 0)
        assert step.support < 4096 and step.prob > 0
        if step.support <= len(step.top_ids):  # the nucleus is among the shown tokens
            assert kept_mass >= 0.3 - 1e-6
            assert kept_mass - step.top_model_probs[step.support - 1] < 0.3
    assert np.mean([s.support for s in top_p.steps]) < np.mean([s.support for s in free.steps])
    assert all(s.support > 4000 for s in free.steps)  # T = 1, no filter: almost every token


def test_bad_settings_are_clamped_or_refused(lm) -> None:
    model, tok = lm
    cfg, notes = make_sampling(10_000, -3, -5, 7, 1)
    assert cfg == SamplingConfig(MAX_NEW_TOKENS, 0.0, 0, 1.0, 1) and len(notes) == 4
    with pytest.raises(ValueError, match="NaN"):
        make_sampling(10, float("nan"))
    with pytest.raises(ValueError, match="number"):
        make_sampling("many")
    with pytest.raises(ValueError, match="limit"):
        generate(model, tok, "x" * 100_000, cfg)
    with pytest.raises(ValueError, match="text"):
        generate(model, tok, 42, cfg)  # type: ignore[arg-type]


def test_long_prompts_are_cut_and_empty_ones_start_a_review(lm) -> None:
    model, tok = lm
    long = generate(model, tok, "great film " * 150, SamplingConfig(max_new_tokens=20, temperature=0.0))
    assert len(long.prompt_ids) + len(long.steps) <= model.config.n_positions and long.notes
    empty = generate(model, tok, "", SamplingConfig(max_new_tokens=5, temperature=0.0))
    assert empty.prompt_ids == (tok.eos_token_id,) and empty.text == empty.completion
    emoji = generate(model, tok, "🎬🍿 loved it", SamplingConfig(max_new_tokens=5, seed=0))
    assert emoji.text.startswith("🎬🍿 loved it")


def test_held_out_perplexity_beats_the_unigram_baseline(lm) -> None:
    model, tok = lm
    seed = card()["seed"]
    train_texts, held_out = train_gpt.split_reviews(seed)
    texts = held_out[:40]
    ppl = perplexity(model, tok, texts)
    # The baseline scores exactly the tokens perplexity() predicts: each text from <|endoftext|>, cut to 128.
    targets = np.concatenate([([tok.eos_token_id] + tok(t, add_special_tokens=False)["input_ids"])[1:128]
                              for t in texts])
    unigram = train_gpt.unigram_perplexity(train_gpt.encode_stream(tok, train_texts[:1000]), targets, len(tok))
    assert ppl < 0.6 * unigram, (ppl, unigram)
    assert ppl == pytest.approx(card()["val_perplexity"], rel=0.35)
    one_by_one = np.exp(np.average([np.log(perplexity(model, tok, [t])) for t in texts[:5]],
                                   weights=[min(128, len(tok(t)["input_ids"]) + 1) - 1 for t in texts[:5]]))
    assert perplexity(model, tok, texts[:5], batch_size=2) == pytest.approx(one_by_one, rel=1e-4)


def test_the_tokenizer_is_listed_for_the_tokenizers_tab() -> None:
    assert "neural-playground/reviews-gpt2" in get_service().available_ids("tokenizer")
    tok = get_service().load_tokenizer("neural-playground/reviews-gpt2")
    ids = tok("Unbelievably good!", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == "Unbelievably good!" and len(tok) == 4096
    assert tok.convert_ids_to_tokens(tok(" movie")["input_ids"]) == ["Ġmovie"]


def test_training_is_deterministic_from_its_seed() -> None:
    tiny = train_gpt.ReviewsGPT2Config(seed=5, held_out_reviews=10, tokenizer_reviews=60, vocab_size=300,
                                       n_positions=32, n_embd=16, n_layer=1, n_head=2, batch_size=2,
                                       steps=3, warmup_steps=1, eval_every=3, eval_blocks=2, train_reviews=60)

    def run() -> tuple[dict, dict, list]:
        tok, train_ids, eval_ids = train_gpt.prepare(tiny)
        model = train_gpt.make_model(tiny, tok)
        snapshots = list(train_gpt.train(tiny, model, train_ids, eval_ids))
        return tok.get_vocab(), model.state_dict(), snapshots

    (vocab1, first, snaps1), (vocab2, second, snaps2) = run(), run()
    assert vocab1 == vocab2 and len(vocab1) == 300
    assert [s.step for s in snaps1] == [3]
    assert [(s.train_loss, s.val_loss) for s in snaps1] == [(s.train_loss, s.val_loss) for s in snaps2]
    assert all(torch.equal(first[k], second[k]) for k in first)
